# Shared by the loopline-pack test scripts (sourced): counters, run with an expected exit
# code (output in ./out and ./err), and checks on that output.
fails=0
checks=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run RC CMD...: runs CMD, captures out/err, checks the exit code.
run() {
	local want=$1 rc=0
	shift
	checks=$((checks + 1))
	"$@" >out 2>err || rc=$?
	if [ "$rc" != "$want" ]; then
		fail "'$*' exited $rc, expected $want"
		sed 's/^/  stdout: /' out >&2
		sed 's/^/  stderr: /' err >&2
	fi
}
out_has() { checks=$((checks + 1)); grep -qE -- "$1" out || { fail "stdout lacks /$1/"; sed 's/^/  stdout: /' out >&2; }; }
err_has() { checks=$((checks + 1)); grep -qE -- "$1" err || { fail "stderr lacks /$1/"; sed 's/^/  stderr: /' err >&2; }; }

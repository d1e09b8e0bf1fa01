#!/usr/bin/env bash
# loopline-hil's command-line contract without QEMU: help for the tool and for every
# command (with the exit codes), one-line usage errors with exit 2 that come before the
# inventory is read, --json exactly on the read-only commands, the exit codes (20 busy,
# 21 timeout, 23 failure pattern, 24 no such board, 255 for run's own errors), and
# run, console and script against a fake board: a real sh behind a unix socket (socat),
# switched by power commands that do nothing.
# Needs LP_HIL_CLI (the binary).
set -euo pipefail
cli=${LP_HIL_CLI:?}
# Not under LP_HIL_TMP: hil-qemu-cleanup removes LP_HIL_TMP-* when the QEMU tests end,
# which may be while this (QEMU-less) test still runs.
work=$(mktemp -d /tmp/lp-hil-fake.XXXXXX)
socat_pid=""
cleanup() {
  [ -z "$socat_pid" ] || kill "$socat_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/testlib.sh"
# usage_error CMD...: exit 2, nothing on stdout, one line and the hint on stderr
usage_error() {
  expect_rc 2 "$@"
  [ ! -s "$work/out" ] || fail "$*: printed on stdout: $(cat "$work/out")"
  [ "$(wc -l < "$work/err")" = 2 ] || fail "$*: not one line + hint: $(cat "$work/err")"
  grep -q "^Try 'loopline-hil" "$work/err" || fail "$*: no hint: $(cat "$work/err")"
}

# --- help and usage errors: no inventory is needed for any of them -----------------------
unset LOOPLINE_HIL_INVENTORY
expect_rc 0 "$cli" --help
for code in "20 *busy" "21 *timed out" "23 *a failure pattern matched" "24 *not found"; do
  grep -Eq "^  $code" "$work/out" || fail "--help lacks exit code $code"
done
grep -q "255 when loopline-hil itself" "$work/out" || fail "--help does not explain run's 255"
commands=$(sed -n '/^Commands:/,/^$/p' "$work/out" | sed -n 's/^  \([a-z-]*\( on\| off\| cut\| cycle\| status\| save\| restore\)\?\) .*/\1/p')
[ "$(echo "$commands" | wc -l)" = 17 ] || fail "commands in --help: $commands"
while read -r c; do
  # shellcheck disable=SC2086
  expect_rc 0 "$cli" $c --help
  grep -q "^Usage: loopline-hil $c" "$work/out" || fail "$c --help: $(head -n 2 "$work/out")"
done <<< "$commands"
usage_error "$cli" frob
usage_error "$cli" power sideways q
usage_error "$cli" boards --frob
usage_error "$cli" boards extra
usage_error "$cli" expect q
usage_error "$cli" expect q x --timeout soon
usage_error "$cli" lock q --for 3d
usage_error "$cli" lock q --pid -1
usage_error "$cli" --wait 1x boards
usage_error "$cli" run q
usage_error "$cli" run q --
usage_error "$cli" script q
# with an inventory that cannot be read, usage errors still win
export LOOPLINE_HIL_INVENTORY=$work/missing.yaml
usage_error "$cli" boards --frob
expect_rc 2 "$cli" boards
grep -q "missing.yaml: cannot read" "$work/err" || fail "missing inventory: $(cat "$work/err")"
ok "help for the tool and all 15 commands; usage errors: one line + hint, exit 2, before the inventory"

# --json: the read-only commands take it, the others refuse it
for c in "boards" "check-inventory" "locks" "power status q" "expect q x"; do
  # shellcheck disable=SC2086
  expect_rc 0 "$cli" $c --help
  grep -q -- "--json" "$work/out" || fail "$c has no --json"
done
for c in "power on q" "power cut q" "run --json q true" "boot q" "lock q" "unlock q" "script q f" "console q"; do
  # shellcheck disable=SC2086
  usage_error "$cli" $c --json
done
ok "--json on boards, check-inventory, locks, power status, expect; refused elsewhere"

# --- a fake board --------------------------------------------------------------------------
socat UNIX-LISTEN:"$work/board.sock",fork EXEC:"sh -i",stderr 2>"$work/socat.log" &
socat_pid=$!
cat > "$work/rack.yaml" <<YAML
boards:
  fake:
    power: {driver: command, on: 'echo switching-on; echo on > $work/relay', off: 'rm -f $work/relay',
            status: 'test -e $work/relay', timeout: 5s}
    console: {driver: unix, path: $work/board.sock}
    shell: {timeout: 10s}
YAML
export LOOPLINE_HIL_INVENTORY=$work/rack.yaml
for _ in $(seq 1 100); do [ -S "$work/board.sock" ] && break; sleep 0.05; done

expect_rc 0 "$cli" check-inventory --json
[ "$(cat "$work/out")" = "{\"file\":\"$work/rack.yaml\",\"ok\":true,\"boards\":1}" ] || fail "check-inventory --json: $(cat "$work/out")"
printf 'boards:\n  x: {power: {driver: manual}}\n' > "$work/bad.yaml"
expect_rc 2 "$cli" check-inventory "$work/bad.yaml" --json
jq -e '.ok == false and (.error | test("console"))' "$work/out" >/dev/null || fail "bad inventory --json: $(cat "$work/out")"
expect_rc 0 "$cli" boards --json
jq -e '.[0].name == "fake" and .[0].console.driver == "unix"' "$work/out" >/dev/null || fail "boards --json"
expect_rc 0 "$cli" power on fake
[ ! -s "$work/out" ] && grep -q switching-on "$work/err" || fail "a power command's output went to stdout"
expect_rc 0 "$cli" power status fake --json
[ "$(cat "$work/out")" = '{"board":"fake","power":"on"}' ] || fail "status --json: $(cat "$work/out")"
expect_rc 24 "$cli" power status nosuch
grep -q 'no board "nosuch"' "$work/err" || fail "no such board message"
expect_rc 24 "$cli" lock nosuch
ok "check-inventory/boards/power status --json; power output not on stdout; no such board 24"

expect_rc 0 "$cli" run fake -- echo hello world
[ "$(cat "$work/out")" = "hello world" ] || fail "run output: $(cat "$work/out")"
expect_rc 42 "$cli" run fake -- 'exit 42'
expect_rc 0 "$cli" run --timeout 5s fake echo no dashes -l
[ "$(cat "$work/out")" = "no dashes -l" ] || fail "run without --: $(cat "$work/out")"
expect_rc 255 "$cli" run nosuch -- true
expect_rc 255 "$cli" run --timeout 300ms fake -- sleep 5
expect_rc 21 "$cli" expect fake never-printed --timeout 300ms
grep -q "did not appear within 300 ms" "$work/err" || fail "expect timeout message"
# (every connection to the fake board starts a new sh, which says this first)
expect_rc 0 "$cli" expect fake 'job control [a-z]+' --json
[ "$(cat "$work/out")" = '{"board":"fake","matched":"job control turned"}' ] || fail "expect --json: $(cat "$work/out")"
printf 'echo piped-$((2 + 3))\n' | "$cli" console fake > "$work/out" 2>"$work/err" || fail "piped console: $(cat "$work/err")"
grep -aq 'piped-5' "$work/out" || fail "piped console output: $(cat -v "$work/out")"
ok "run (status passes through, 255 for its own errors), expect 21 and --json, piped console"

# locks: alice's reservation makes bob's commands busy (20); run says 255
expect_rc 0 "$cli" --owner alice lock fake --reason flashing --pid 0
expect_rc 20 "$cli" --owner bob power status fake
grep -q "locked by alice" "$work/err" || fail "lock message: $(cat "$work/err")"
expect_rc 20 "$cli" --owner bob lock fake
expect_rc 255 "$cli" --owner bob run fake -- true
expect_rc 1 "$cli" --owner bob unlock fake
expect_rc 0 "$cli" locks --json
jq -e '.[0].board == "fake" and .[0].owner == "alice" and .[0].expiry == null' "$work/out" >/dev/null || fail "locks --json: $(cat "$work/out")"
expect_rc 0 "$cli" --owner alice unlock fake
expect_rc 24 "$cli" --owner alice unlock fake
ok "locks: busy 20, run 255, unlock of someone else's 1, not locked 24, locks --json"

# script: the exit code of the failing step's error class
script() { printf "$2" > "$work/s.hil"; expect_rc "$1" "$cli" script fake "$work/s.hil"; }
script 0 'run echo hi\ncapture X echo 5\nrun test {{X}} = 5\nhost test "$X" = 5\nmark m\n'
grep -q "all 5 steps passed" "$work/err" || fail "script summary: $(cat "$work/err")"
grep -Eq '^loopline-hil: mark m [0-9]+\.[0-9]{3}$' "$work/out" || fail "mark line"
script 21 'run true\nexpect @300ms never-printed\n'
grep -q "s.hil:2: fake: never-printed did not appear within 300 ms" "$work/err" || fail "timeout: $(cat "$work/err")"
script 23 'run echo Kernel panic - fake\n'
script 1 'run echo before-the-end\nrun exit 3\n'
grep -q 's.hil:2: run: "exit 3" exited with status 3 on the board' "$work/err" || fail "run failure"
grep -q '|.*before-the-end' "$work/err" || fail "no console tail after a failure: $(cat "$work/err")"
script 1 'host exit 4\n'
script 21 'host @300ms sleep 5\n'
script 2 'run echo {{LPT_UNSET_VARIABLE}}\n'
script 2 'frobnicate\n'
expect_rc 24 "$cli" script fake "$work/nope.hil"
printf 'boot\nrun true\n' > "$work/ok.hil"
expect_rc 0 "$cli" script nosuch "$work/ok.hil" --check
[ "$(cat "$work/out")" = "$work/ok.hil: 2 steps" ] || fail "--check: $(cat "$work/out")"
ok "script: 0, timeout 21, failure pattern 23, commands 1, unset variable and parse error 2, no file 24"
echo "test-hil-cli-fake: $pass passed"

#!/usr/bin/env bash
# loopline-hil script against a QEMU board: a scenario file that boots, runs board and
# host commands, captures a value into {{VAR}}, waits with until, expects console output
# printed while a host command ran, turns failure patterns off and on, cuts the power and
# boots again; then the error paths: parse errors (exit 2, file:line, before the board is
# touched), a pattern timeout (21), a failure pattern (23), a failing board command and a
# failing host command (1), an unset variable (2).
# Needs LP_HIL_CLI (the binary) and LP_HIL_GUEST (build-guest.sh output).
set -euo pipefail
cli=${LP_HIL_CLI:?}
guest=${LP_HIL_GUEST:?}
[ -f "$guest/vmlinuz" ] || { echo "no guest at $guest" >&2; exit 1; }
work=$(mktemp -d "${LP_HIL_TMP:-/tmp/lp-hil}-script.XXXXXX")
cleanup() {
  "$cli" -i "$work/rack.yaml" --owner cleanup power off q >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/testlib.sh"
# run_script WANT_RC FILE: runs a script, checks its exit status
run_script() {
  local want=$1 rc=0
  "$cli" -i "$work/rack.yaml" script q "$2" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "script $2 exited $rc, wanted $want"; }
}

cat > "$work/rack.yaml" <<YAML
boards:
  q:
    target: qemu-x86_64
    power:
      driver: qemu
      argv: [qemu-system-x86_64, -accel, tcg, -m, "256", -nodefaults,
             -kernel, $guest/vmlinuz, -initrd, $guest/initramfs.cpio,
             -append, "console=ttyS0 quiet panic=-1"]
    console: {driver: qemu}
YAML

# --- parse errors: reported with file:line before anything runs (the board stays off) ---
printf 'boot\nfrobnicate now\n' > "$work/bad1.hil"
run_script 2 "$work/bad1.hil"
grep -q 'bad1.hil:2: unknown step "frobnicate"' "$work/err" || fail "unknown step message: $(cat "$work/err")"
ok "unknown step: exit 2 with file:line"
printf '# c\n\nexpect @soon x\n' > "$work/bad2.hil"
run_script 2 "$work/bad2.hil"
grep -q 'bad2.hil:3: "@soon" is not a timeout' "$work/err" || fail "timeout message: $(cat "$work/err")"
printf 'expect ([a\n' > "$work/bad3.hil"
run_script 2 "$work/bad3.hil"
grep -q 'bad3.hil:1: expect: pattern' "$work/err" || fail "regex message: $(cat "$work/err")"
printf 'power sideways\n' > "$work/bad4.hil"
run_script 2 "$work/bad4.hil"
grep -q 'bad4.hil:1: power: expected on, off, cut or cycle' "$work/err" || fail "power message"
printf 'run echo {{not closed\n' > "$work/bad5.hil"
run_script 2 "$work/bad5.hil"
printf 'host true\nrun \\\n  echo continued\ncapture 9x true\n' > "$work/bad6.hil"
run_script 2 "$work/bad6.hil"
grep -q 'bad6.hil:4: capture: expected NAME COMMAND' "$work/err" || fail "capture message / line count: $(cat "$work/err")"
"$cli" -i "$work/rack.yaml" power status q > "$work/out"
[ "$(cat "$work/out")" = "q: off" ] || fail "a parse error touched the board"
ok "parse errors: bad timeout, bad regex, bad power, unclosed {{, continuation line numbers; board untouched"

# --- a scenario that passes ----------------------------------------------------------------
export LPT_WORD=cheese
cat > "$work/good.hil" <<'EOF2'
# boot, talk to the board and the host
boot @60s lpguest: init started
mark booted
run echo board-says-{{LPT_WORD}}
capture N echo $((6 * 7))
run test "$((40 + 2))" = "{{N}}"
# the board prints while the host waits; expect still finds it afterwards
host (sleep 0.3; true) && echo host-ran
run (sleep 1; echo late-{{N}} > /dev/console) &
host sleep 2
expect @10s late-42
# until: a file that appears after a while
host rm -f "$LPT_DIR/flag"; (sleep 1; touch "$LPT_DIR/flag") >/dev/null 2>&1 &
until @20s test -e "$LPT_DIR/flag"
# a panic is expected here: failure patterns off, then on again
fail-on none
run echo Kernel panic - not really
fail-on default
power cut
boot @60s lpguest: init started
run echo after-cut
mark done
EOF2
export LPT_DIR=$work
run_script 0 "$work/good.hil"
grep -q '^board-says-cheese$' "$work/out" || fail "run with {{VAR}}: $(cat "$work/out")"
grep -q '^host-ran$' "$work/out" || fail "host output"
grep -q 'matched: late-42' "$work/out" || fail "expect after host step: $(cat "$work/out")"
grep -q '^after-cut$' "$work/out" || fail "boot after power cut"
grep -Eq '^loopline-hil: mark done [0-9]+\.[0-9]{3}$' "$work/out" || fail "mark line"
grep -q 'all 18 steps passed' "$work/err" || fail "summary: $(tail -n 3 "$work/err")"
ok "scenario: boot, run, capture, host, expect across a host step, until, fail-on, power cut, boot"

# --- failing steps and their exit codes (the board is on from the scenario above) -----------
printf 'expect @500ms never-printed-anywhere\n' > "$work/f1.hil"
run_script 21 "$work/f1.hil"
grep -q 'f1.hil:1: .*did not appear within 500 ms' "$work/err" || fail "timeout message: $(cat "$work/err")"
printf 'run echo Kernel panic - fake\n' > "$work/f2.hil"
run_script 23 "$work/f2.hil"
grep -q 'f2.hil:1: .*Kernel panic' "$work/err" || fail "failure pattern message: $(cat "$work/err")"
printf 'run true\nrun exit 3\nrun echo not-reached\n' > "$work/f3.hil"
run_script 1 "$work/f3.hil"
grep -q 'f3.hil:2: run: "exit 3" exited with status 3 on the board' "$work/err" || fail "run failure: $(cat "$work/err")"
grep -q 'not-reached' "$work/out" && fail "a step after a failure ran"
printf 'host exit 4\n' > "$work/f4.hil"
run_script 1 "$work/f4.hil"
grep -q 'f4.hil:1: host: "exit 4" exited with status 4' "$work/err" || fail "host failure: $(cat "$work/err")"
printf 'until @1s false\n' > "$work/f5.hil"
run_script 21 "$work/f5.hil"
printf 'host @300ms sleep 5\n' > "$work/f6.hil"
run_script 21 "$work/f6.hil"
printf 'run echo {{LPT_UNSET_VARIABLE}}\n' > "$work/f7.hil"
run_script 2 "$work/f7.hil"
grep -q 'f7.hil:1: run: variable {{LPT_UNSET_VARIABLE}} is not set' "$work/err" || fail "unset variable: $(cat "$work/err")"
ok "failures: timeout 21, failure pattern 23, board command 1, host command 1, until 21, host timeout 21, unset variable 2"
echo "test-hil-script: $pass passed"

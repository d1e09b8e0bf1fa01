#!/usr/bin/env bash
# loopline-hil driven like a person would drive it, against a QEMU board: inventory check,
# boards --json, boot, power status, run with exit codes and binary output, expect with a
# timeout, locks between two owners, the interactive console inside tmux (keys typed with
# send-keys, output read with capture-pane, Ctrl-] q to leave), power cycle, power off.
# Needs LP_HIL_CLI (the binary) and LP_HIL_GUEST (build-guest.sh output).
set -euo pipefail
cli=${LP_HIL_CLI:?}
guest=${LP_HIL_GUEST:?}
[ -f "$guest/vmlinuz" ] || { echo "no guest at $guest" >&2; exit 1; }
work=$(mktemp -d "${LP_HIL_TMP:-/tmp/lp-hil}-cli.XXXXXX")
tmux_sock="$work/tmux.sock"
export TERM=${TERM:-xterm}

cleanup() {
  "$cli" -i "$work/rack.yaml" --owner cleanup power off q >/dev/null 2>&1 || true
  if [ -f "$work/.hil-state/q/qemu.pid" ]; then
    kill -9 "$(cat "$work/.hil-state/q/qemu.pid")" 2>/dev/null || true
  fi
  tmux -S "$tmux_sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/testlib.sh"
# wait_for SECONDS CMD...: polls a condition (tmux has no event to wait on) until it holds
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

cat > "$work/rack.yaml" <<YAML
boards:
  q:
    target: qemu-x86_64
    power:
      driver: qemu
      argv: [qemu-system-x86_64, -accel, tcg, -m, "256", -nographic, -nodefaults,
             -kernel, $guest/vmlinuz, -initrd, $guest/initramfs.cpio,
             -append, "console=ttyS0 quiet"]
    console: {driver: qemu}
YAML
hil() { "$cli" -i "$work/rack.yaml" "$@"; }

expect_rc 0 hil check-inventory
grep -q "ok, 1 board" "$work/out" || fail "check-inventory output"
expect_rc 0 hil boards --json
grep -q '"name":"q","target":"qemu-x86_64","power":{"driver":"qemu"}' "$work/out" || fail "boards --json: $(cat "$work/out")"
expect_rc 2 hil power sideways q
expect_rc 255 hil run nosuchboard -- true
expect_rc 24 hil power status nosuchboard

expect_rc 0 hil boot q --quiet
expect_rc 0 hil power status q
[ "$(cat "$work/out")" = "q: on" ] || fail "status: $(cat "$work/out")"
expect_rc 0 hil power status q --json
[ "$(cat "$work/out")" = '{"board":"q","power":"on"}' ] || fail "status --json"

expect_rc 0 hil run q -- echo hello world
[ "$(cat "$work/out")" = "hello world" ] || fail "run output: $(cat "$work/out")"
expect_rc 1 hil run q -- false
expect_rc 42 hil run q -- 'exit 42'
expect_rc 0 hil run q -- "printf '\\001\\377\\000x\\r\\n'"
[ "$(od -An -tx1 "$work/out" | tr -d ' \n')" = "01ff0078" ] || [ "$(od -An -tx1 "$work/out" | tr -d ' \n')" = "01ff00780d0a" ] ||
  fail "binary output: $(od -An -tx1 "$work/out")"
[ "$(od -An -tx1 "$work/out" | tr -d ' \n')" = "01ff00780d0a" ] || fail "binary output not exact"
expect_rc 21 hil expect q 'never-printed' --timeout 500ms
grep -q "did not appear" "$work/err" || fail "expect timeout message"

# locks: alice reserves the board; bob is refused (fast, naming alice); alice can use it
expect_rc 0 hil --owner alice lock q --reason "flashing" --pid 0
expect_rc 20 hil --owner bob power status q
grep -q "locked by alice" "$work/err" || fail "lock message: $(cat "$work/err")"
expect_rc 255 hil --owner bob run q -- true
expect_rc 0 hil --owner alice run q -- true
expect_rc 0 hil locks --json
grep -q '"board":"q","owner":"alice"' "$work/out" || fail "locks --json: $(cat "$work/out")"
expect_rc 1 hil --owner bob unlock q
expect_rc 0 hil --owner alice unlock q
expect_rc 0 hil locks
[ "$(wc -l < "$work/out")" = 1 ] || fail "locks left: $(cat "$work/out")"

# the interactive console inside tmux
tmux -S "$tmux_sock" new-session -d -s hil -x 160 -y 40 "$cli -i $work/rack.yaml console q; echo console-exited-\$?; sleep 30"
pane() { tmux -S "$tmux_sock" capture-pane -p -t hil; }
wait_for 20 sh -c "tmux -S '$tmux_sock' capture-pane -p -t hil | grep -q 'Escape: Ctrl-\] q'" || fail "console did not connect: $(pane)"
tmux -S "$tmux_sock" send-keys -t hil 'echo tmux-$((6 * 7))' Enter
wait_for 20 sh -c "tmux -S '$tmux_sock' capture-pane -p -t hil | grep -q '^tmux-42'" || fail "no output in the console: $(pane)"
tmux -S "$tmux_sock" send-keys -t hil C-] q
wait_for 20 sh -c "tmux -S '$tmux_sock' capture-pane -p -t hil | grep -q 'console-exited-0'" || fail "console did not quit: $(pane)"
tmux -S "$tmux_sock" kill-server

# the console with piped input (no terminal): keys in, the answer out, then it leaves
printf 'echo piped-$((2 + 3))\n' | hil console q > "$work/out" 2>"$work/err" || fail "piped console: $(cat "$work/err")"
grep -aq '^piped-5' "$work/out" || fail "piped console output: $(cat -v "$work/out")"

# power cycle (QMP system_reset) and boot again to a pattern of our choice
expect_rc 0 hil power cycle q
expect_rc 0 hil boot q --until 'lpguest: init started' --quiet
expect_rc 0 hil run q -- 'echo $((1 + 1))'
[ "$(cat "$work/out")" = "2" ] || fail "run after boot"
pid=$(cat "$work/.hil-state/q/qemu.pid")
expect_rc 0 hil power off q
expect_rc 0 hil power status q
[ "$(cat "$work/out")" = "q: off" ] || fail "status after off"
# gone, or a zombie waiting for init to reap it (QEMU daemonized, so init is its parent)
if [ -r "/proc/$pid/stat" ]; then
  state=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
  [ "$state" = Z ] || fail "QEMU $pid still running after power off (state $state)"
fi
[ ! -e "$work/.hil-state/q/qmp.sock" ] || fail "QMP socket left behind"
grep -q "tmux-42" "$work/.hil-state/logs/q.log" || fail "console log misses the session"
echo "test-hil-cli: all passed"

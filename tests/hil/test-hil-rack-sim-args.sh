#!/usr/bin/env bash
# loopline-rack-sim's command line without QEMU: --help and --version, every bad option
# as one precise usage line with exit 2 before anything is created, and a QEMU that
# cannot be started (exit 1, nothing left behind). Needs LP_RACK_SIM (the binary).
set -euo pipefail
sim=${LP_RACK_SIM:?}
work=$(mktemp -d /tmp/lp-rack-args.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/testlib.sh"
: >"$work/Image"
: >"$work/ctl.cpio"
dir=$work/rack
base=(--dir "$dir" --kernel "$work/Image" --initrd "$work/ctl.cpio")
dut=(--dut-console "$work/dut.sock" --dut-cmd "sleep 60")

# usage_error MESSAGE ARGS...: exit 2, nothing on stdout, "loopline-rack-sim: MESSAGE"
# and the hint on stderr, and the rack directory was not created
usage_error() {
  local msg=$1; shift
  expect_rc 2 "$sim" "$@"
  [ ! -s "$work/out" ] || fail "$*: printed on stdout: $(cat "$work/out")"
  printf 'loopline-rack-sim: %s\nTry '"'"'loopline-rack-sim --help'"'"'.\n' "$msg" >"$work/want"
  cmp -s "$work/err" "$work/want" || fail "$*: stderr is
$(cat "$work/err")
wanted
$(cat "$work/want")"
  [ ! -e "$dir" ] || fail "$*: created $dir"
  ok "usage error: $msg"
}

expect_rc 0 "$sim" --help
grep -q "^Usage: loopline-rack-sim \[OPTIONS\]" "$work/out" || fail "--help: $(cat "$work/out")"
for o in --dir --kernel --initrd --append --memory --qemu --board --line --active-low \
	 --dut-console --dut-cmd "Exit codes:"; do
  grep -q -- "$o" "$work/out" || fail "--help lacks $o"
done
ok "--help"
expect_rc 0 "$sim" --version
grep -q "^loopline-rack-sim " "$work/out" || fail "--version: $(cat "$work/out")"
ok "--version"

long=$(printf 'n%.0s' $(seq 65))
usage_error "missing --dir"
usage_error "missing --kernel" --dir "$dir"
usage_error "--kernel: $work/none: No such file or directory" --dir "$dir" --kernel "$work/none"
usage_error "missing --initrd" --dir "$dir" --kernel "$work/Image"
usage_error "missing --board (at least one)" "${base[@]}"
usage_error "unknown option '--frob'" "${base[@]}" --frob
usage_error "unexpected argument 'extra'" "${base[@]}" extra
usage_error "option '--line' needs an argument (N)" "${base[@]}" --board a --line
usage_error "--dir given twice" "${base[@]}" --dir "$dir"
usage_error "--append is empty" "${base[@]}" --append ""
usage_error "--memory: expected a whole number from 128 to 16384, not '5'" "${base[@]}" --memory 5
usage_error "--line before any --board (a board's options follow its --board NAME)" \
  "${base[@]}" --line 0 --board a
usage_error "--dut-cmd before any --board (a board's options follow its --board NAME)" \
  "${base[@]}" --dut-cmd x
for name in "a b" "" "a/b" "a,b" "$long"; do
  usage_error "--board: '$name' is not a board name (1-64 characters of A-Za-z0-9._-)" \
    "${base[@]}" --board "$name" --line 0 "${dut[@]}"
done
usage_error "--board: 'a' given twice" "${base[@]}" --board a --line 0 "${dut[@]}" \
  --board a --line 1 "${dut[@]}"
usage_error "boards 'a' and 'b' are both on --line 2" "${base[@]}" --board a --line 2 "${dut[@]}" \
  --board b --line 2 "${dut[@]}"
usage_error "board 'a': --line 3 is the controller's power button (gpio-keys); use 0-2 or 4-7" \
  "${base[@]}" --board a --line 3 "${dut[@]}"
for n in 8 -1 x 0x1 ""; do
  usage_error "--line: expected a whole number from 0 to 7, not '$n'" \
    "${base[@]}" --board a --line "$n" "${dut[@]}"
done
usage_error "board 'a': --line given twice" "${base[@]}" --board a --line 0 --line 1 "${dut[@]}"
usage_error "board 'a': missing --line" "${base[@]}" --board a "${dut[@]}"
usage_error "board 'a': missing --dut-console" "${base[@]}" --board a --line 0 --dut-cmd x
usage_error "board 'a': missing --dut-cmd" "${base[@]}" --board a --line 0 --dut-console s \
  --board b --line 1 "${dut[@]}"
usage_error "board 'a': --dut-cmd is empty" "${base[@]}" --board a --line 0 --dut-cmd ""
usage_error "board 'a': --dut-console given twice" "${base[@]}" --board a --line 0 "${dut[@]}" \
  --dut-console s
sock108=/$(printf 's%.0s' $(seq 107))
usage_error "board 'a': --dut-console: a unix socket path has 1-107 bytes, not 108" \
  "${base[@]}" --board a --line 0 --dut-console "$sock108" --dut-cmd x
many=()
for i in 0 1 2 4 5 6 7; do many+=(--board "b$i" --line "$i" "${dut[@]}"); done
usage_error "--board: at most 7 boards (one per GPIO line 0-2, 4-7)" "${base[@]}" "${many[@]}" \
  --board b8
# DIR/usb-NAME.sock must fit sun_path: 107 bytes
name=$(printf 'u%.0s' $(seq 64))
pad=$(printf 'd%.0s' $(seq $((108 - ${#work} - 75)))) # DIR/PAD/usb-NAME.sock: 108 bytes
usage_error "--dir: $work/$pad/usb-$name.sock is longer than the 107 bytes of a unix socket path" \
  --dir "$work/$pad" --kernel "$work/Image" --initrd "$work/ctl.cpio" --board "$name" --line 0 \
  "${dut[@]}"
dir=$work/${pad%d}
[ "${#dir}" = $((107 - 74)) ] || fail "test bug: $dir"
# one byte shorter fits: the next problem is QEMU, which does not exist
expect_rc 1 "$sim" --dir "$dir" --kernel "$work/Image" --initrd "$work/ctl.cpio" \
  --qemu "$work/no-qemu" --board "$name" --line 0 "${dut[@]}"
grep -q "$work/no-qemu: cannot run: No such file or directory" "$work/err" || fail "$(cat "$work/err")"
ok "a path of 107 bytes is accepted"

# a QEMU that cannot start: exit 1, the directory has its logs and no sockets
dir=$work/rack
expect_rc 1 "$sim" "${base[@]}" --qemu "$work/no-qemu" --board a --line 0 "${dut[@]}"
grep -q "^[0-9]*\.[0-9][0-9][0-9] start pid=[0-9]* boards=1$" "$dir/events.log" ||
  fail "events.log: $(cat "$dir/events.log")"
grep -q " exit$" "$dir/events.log" || fail "events.log: $(cat "$dir/events.log")"
[ -z "$(find "$dir" -type s)" ] || fail "sockets left: $(find "$dir" -type s)"
[ ! -e "$dir/ready" ] || fail "ready written"
ok "no QEMU: exit 1, nothing left"
echo "all $pass passed"

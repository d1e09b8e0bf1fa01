#!/usr/bin/env bash
# Boots the reference firmware under QEMU (TCG) and checks the boot selector end to end:
# a disk whose slot B (1.1.0) is an armed update with bootlimit=2 boots B twice
# (bootcount 1, 2), then falls back to slot A (1.0.0) on the third boot; the agent then
# reports running slot A. Reboots are done from the guest shell.
# Env: LP_SOURCE_DIR, LP_BUILD_DIR, LP_AGENT, LP_LIB (set by tests/qemu/CMakeLists.txt).
set -euo pipefail
src=${LP_SOURCE_DIR:?}; bld=${LP_BUILD_DIR:?}
tmp=$(mktemp -d /tmp/lp-qemu-bootsel.XXXXXX)
qpid=""; spid=""
cleanup() {
  set +e
  if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; fi
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; fi
  exec 3>&-
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- console ---"; cat "$tmp/console.log" 2>/dev/null | tr -d '\r' | tail -60; exit 1; }

t0=$(date +%s.%N)
out="$bld/qemu-images"
build() { "$src/qemu-images/build" qemu-x86_64 "$1" --out "$out" --agent "${LP_AGENT:?}" --lib "${LP_LIB:?}"; }
a=$(build 1.0.0) || fail "build 1.0.0"
b=$(build 1.1.0) || fail "build 1.1.0"
"$src/qemu-images/mkdisk" "$a" "$tmp/disk.img" --slot-b "$b" --boot-slot B --bootlimit 2 --armed >/dev/null 2>&1 ||
  fail "mkdisk"
t1=$(date +%s.%N)

"$src/qemu-images/run" qemu-x86_64 --disk "$tmp/disk.img" --dir "$tmp/run" --wait-console 2>"$tmp/qemu.err" &
qpid=$!
for _ in $(seq 100); do [ -S "$tmp/run/console.sock" ] && break; kill -0 "$qpid" || fail "qemu died: $(cat "$tmp/qemu.err")"; sleep 0.05; done
[ -S "$tmp/run/console.sock" ] || fail "no console socket"
mkfifo "$tmp/in"
exec 3<>"$tmp/in"
socat -t 30 - "UNIX-CONNECT:$tmp/run/console.sock" <&3 >"$tmp/console.log" 2>/dev/null &
spid=$!

pos=0   # console bytes already consumed by earlier expects
expect() { # ERE TIMEOUT_S: wait until the console (after pos) matches; advance pos past it
  local re=$1 deadline=$(( $(date +%s) + $2 )) off
  while :; do
    off=$(tail -c +$((pos + 1)) "$tmp/console.log" | grep -a -E -b -o -m1 -- "$re" | head -n1 | cut -d: -f1 || true)
    if [ -n "$off" ]; then
      local m; m=$(tail -c +$((pos + 1)) "$tmp/console.log" | grep -a -E -o -m1 -- "$re" | head -n1)
      pos=$((pos + off + ${#m})); echo "  matched: $m"; return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "timeout waiting for /$re/"
    kill -0 "$qpid" 2>/dev/null || fail "qemu exited while waiting for /$re/"
    sleep 0.1
  done
}
send() { printf '%s\n' "$1" >&3; }

expect 'loopline-boot: slot=B bootcount=1 bootlimit=2 upgrade_available=1 action=trial' 30
t2=$(date +%s.%N)
expect 'lpfw: version=1.1.0 slot=B' 20
expect 'lpfw:/# ' 20
send 'reboot'
expect 'loopline-boot: slot=B bootcount=2 bootlimit=2 upgrade_available=1 action=trial' 40
expect 'lpfw: version=1.1.0 slot=B' 20
expect 'lpfw:/# ' 20
send 'reboot'
expect 'loopline-boot: slot=A bootcount=3 bootlimit=2 upgrade_available=0 action=fallback' 40
expect 'lpfw: version=1.0.0 slot=A' 20
expect 'lpfw:/# ' 20
send 'loopline-agent status; echo status-done-$?'
expect 'running slot: +A' 20
expect 'status-done-0' 20
t3=$(date +%s.%N)
printf 'PASS: build+mkdisk %.1f s, first boot line %.1f s, three boots total %.1f s\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t1" | bc)"

#!/usr/bin/env bash
# Boots the reference firmware under QEMU (TCG) and checks the boot selector end to end.
# Usage: test-qemu-bootsel.sh [TARGET] [--firmware]
#   default scenario: a disk whose slot B (1.1.0) is an armed update with bootlimit=2 boots
#   B twice (bootcount 1, 2), then falls back to slot A (1.0.0) on the third boot; the
#   agent then reports running slot A. Reboots are done from the guest shell.
#   --firmware: the signed firmware set (qemu-images/firmware): every package verifies;
#   slot B = 1.3.0-no-boot armed, bootlimit=2: its init exits, the kernel panics and the
#   machine resets by itself until the selector falls back to slot A (1.0.0); then slot A
#   = 1.2.0-bad-health: its health check fails with its message.
# TARGET: qemu-x86_64 (default) or qemu-aarch64 (the agent is cross-built into
# $LP_BUILD_DIR/cross-aarch64 with cmake/toolchain-aarch64-linux-gnu.cmake).
# Env: LP_SOURCE_DIR, LP_BUILD_DIR, LP_AGENT, LP_LIB, LP_PACK (tests/qemu/CMakeLists.txt).
set -euo pipefail
src=${LP_SOURCE_DIR:?}; bld=${LP_BUILD_DIR:?}
target=qemu-x86_64; scenario=bootsel
for a in "$@"; do
  case "$a" in
    qemu-x86_64|qemu-aarch64) target=$a ;;
    --firmware) scenario=firmware ;;
    *) echo "usage: $0 [qemu-x86_64|qemu-aarch64] [--firmware]" >&2; exit 2 ;;
  esac
done
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
agent=${LP_AGENT:?}; lib=${LP_LIB:?}; hostlib=$lib
if [ "$target" = qemu-aarch64 ]; then
  cross="$bld/cross-aarch64"
  if [ ! -f "$cross/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$cross" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-aarch64-linux-gnu.cmake" \
      -DCMAKE_BUILD_TYPE=Release -DLP_WERROR=ON -DLP_COMPONENTS=agent >/dev/null || fail "cross configure"
  fi
  cmake --build "$cross" -j2 --target loopline-agent -- --no-print-directory -s >/dev/null || fail "cross build"
  agent="$cross/agent/loopline-agent"; lib="$cross/lib/libloopline.a"
fi
# The agent refuses unknown config keys: until it knows device_config, boot a copy of the
# firmware's agent.json without it.
overlay=()
if ! grep -rqs '"device_config"' "$src/agent"; then
  mkdir -p "$tmp/overlay/etc/loopline"
  cp -a "$src/qemu-images/overlay/." "$tmp/overlay/"
  sed "s/qemu-x86_64/$target/g" "$src/qemu-images/rootfs/agent.json" | jq 'del(.device_config)' \
    > "$tmp/overlay/etc/loopline/agent.json"
  overlay=(--overlay "$tmp/overlay")
fi
build() { "$src/qemu-images/build" "$target" "$1" --out "$out" --agent "$agent" --lib "$lib" \
            --host-lib "$hostlib" ${overlay[@]+"${overlay[@]}"}; }

if [ "$scenario" = bootsel ]; then
  a=$(build 1.0.0) || fail "build 1.0.0"
  b=$(build 1.1.0) || fail "build 1.1.0"
  mkdisk_args=("$a" "$tmp/disk.img" --slot-b "$b" --boot-slot B --bootlimit 2 --armed)
else
  pack=${LP_PACK:?}
  pkgs=$("$src/qemu-images/firmware" "$target" --out "$out" --agent "$agent" --lib "$lib" \
           --host-lib "$hostlib" --pack "$pack" --only 1.0.0 --only 1.2.0-bad-health --only 1.3.0-no-boot) ||
    fail "firmware"
  for v in 1.0.0 1.2.0-bad-health 1.3.0-no-boot; do
    "$pack" verify --trusted "$out/keys/lab.pub.pem" --compatible "$target" "$pkgs/$v.lpkg" >/dev/null ||
      fail "$v.lpkg does not verify"
  done
  # the builds behind the packages (the firmware script's overlays hold the lab key)
  a="$out/$target/1.0.0"; b="$out/$target/1.3.0-no-boot"; c="$out/$target/1.2.0-bad-health"
  mkdisk_args=("$a" "$tmp/disk.img" --slot-b "$b" --boot-slot B --bootlimit 2 --armed)
fi
"$src/qemu-images/mkdisk" "${mkdisk_args[@]}" >/dev/null 2>&1 || fail "mkdisk"
t1=$(date +%s.%N)

start_qemu() { # DISK
  "$src/qemu-images/run" "$target" --disk "$1" --dir "$tmp/run" --wait-console 2>"$tmp/qemu.err" &
  qpid=$!
  for _ in $(seq 100); do [ -S "$tmp/run/console.sock" ] && break; kill -0 "$qpid" || fail "qemu died: $(cat "$tmp/qemu.err")"; sleep 0.05; done
  [ -S "$tmp/run/console.sock" ] || fail "no console socket"
  [ -p "$tmp/in" ] || mkfifo "$tmp/in"
  exec 3<>"$tmp/in"
  : > "$tmp/console.log"; pos=0
  socat -t 30 - "UNIX-CONNECT:$tmp/run/console.sock" <&3 >"$tmp/console.log" 2>/dev/null &
  spid=$!
}
stop_qemu() {
  kill "$qpid" "$spid" 2>/dev/null || true; wait "$qpid" "$spid" 2>/dev/null || true; qpid=""; spid=""
  exec 3>&-
}

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

start_qemu "$tmp/disk.img"
if [ "$scenario" = bootsel ]; then
  expect 'loopline-boot: slot=B bootcount=1 bootlimit=2 upgrade_available=1 action=trial' 60
  t2=$(date +%s.%N)
  expect 'lpfw: version=1.1.0 slot=B' 30
  expect 'lpfw:/# ' 30
  t3=$(date +%s.%N)
  send 'reboot'
  expect 'loopline-boot: slot=B bootcount=2 bootlimit=2 upgrade_available=1 action=trial' 60
  expect 'lpfw: version=1.1.0 slot=B' 30
  expect 'lpfw:/# ' 30
  send 'reboot'
  expect 'loopline-boot: slot=A bootcount=3 bootlimit=2 upgrade_available=0 action=fallback' 60
  expect 'lpfw: version=1.0.0 slot=A' 30
  expect 'lpfw:/# ' 30
  send 'loopline-agent status; echo status-done-$?'
  expect 'running slot: +A' 30
  expect 'status-done-0' 30
  t4=$(date +%s.%N)
  printf 'PASS %s: build+mkdisk %.1f s, to the selector line %.1f s, to the shell %.1f s, three boots total %.1f s\n' \
    "$target" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t1" | bc)" "$(echo "$t4 - $t1" | bc)"
else
  # no-boot: nobody touches the console; the panics reset the machine (panic=-1)
  expect 'loopline-boot: slot=B bootcount=1 bootlimit=2 upgrade_available=1 action=trial' 60
  expect 'lpfw: 1.3.0-no-boot: /sbin/init exits on purpose' 30
  expect 'Kernel panic' 30
  expect 'loopline-boot: slot=B bootcount=2 bootlimit=2 upgrade_available=1 action=trial' 60
  expect 'lpfw: 1.3.0-no-boot: /sbin/init exits on purpose' 30
  expect 'loopline-boot: slot=A bootcount=3 bootlimit=2 upgrade_available=0 action=fallback' 60
  expect 'lpfw: version=1.0.0 slot=A' 30
  expect 'lpfw:/# ' 30
  t2=$(date +%s.%N)
  stop_qemu
  # bad health: its check fails in the guest with the message
  "$src/qemu-images/mkdisk" "$c" "$tmp/disk2.img" >/dev/null 2>&1 || fail "mkdisk bad-health"
  start_qemu "$tmp/disk2.img"
  expect 'lpfw: version=1.2.0-bad-health slot=A' 60
  expect 'lpfw:/# ' 30
  send '/usr/lib/loopline/health-check; echo health-done-$?'
  expect 'fails its health check on purpose' 30
  expect 'health-done-1' 30
  # the firmware itself is fine otherwise: the agent daemon runs (init respawns it)
  send 'i=0; while ! pidof loopline-agent >/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; echo agent-processes-$(pidof loopline-agent | wc -w)'
  expect 'agent-processes-[1-9]' 30
  send 'ls /etc/loopline/keys; cat /etc/loopline/firmware-version'
  expect 'lab.pub.pem' 30
  t3=$(date +%s.%N)
  printf 'PASS %s firmware: firmware+mkdisk %.1f s, no-boot fallback %.1f s, bad-health %.1f s\n' \
    "$target" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t2" | bc)"
fi

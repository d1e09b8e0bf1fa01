#!/usr/bin/env bash
# The virtual lab rack end to end (docs/virtual-rack.md): loopline-rack-sim runs the
# aarch64 lab controller VM (qemu-images/controller) with its PL061 GPIO controller and
# two QEMU usb-serial (FTDI) adapters; inside it, loopline-hil built for arm64 uses the
# real `gpiod` power driver (libgpiod, /dev/gpiochip0) and `serial` console driver
# (libserialport, /dev/serial/by-id/… → /dev/ttyUSBn, links kept by mdev). The simulator
# follows the GPIO lines (active low) and starts and stops x86_64 reference-firmware DUTs
# whose consoles it wires to the adapters. dut1 is driven through everything; dut2 (line
# 1) is never switched on, and its adapter is re-plugged to move dut1's to another tty.
# This script drives the controller VM's own shell through loopline-hil on the host (the
# controller's console is a unix socket) and checks what happened on both sides.
# Env: LP_SOURCE_DIR, LP_BUILD_DIR (a build tree with loopline-hil, loopline-rack-sim,
# loopline-agent and loopline-pack: tests/rack/CMakeLists.txt).
set -euo pipefail
src=${LP_SOURCE_DIR:?}; bld=${LP_BUILD_DIR:?}; hil="$bld/hil/loopline-hil"
work=$(mktemp -d /tmp/lp-rack.XXXXXX)
. "$src/tests/hil/testlib.sh"
rack="$work/rack"; simpid=""
cleanup() {
  set +e
  if [ -n "$simpid" ]; then kill -TERM "$simpid" 2>/dev/null; wait "$simpid" 2>/dev/null; fi
  pkill -KILL -f "$work/" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
dump() {
  echo "--- events ---"; cat "$rack/events.log" 2>/dev/null
  echo "--- simulator ---"; tail -20 "$work/sim.log" 2>/dev/null
  echo "--- dut1 console ---"; tr -d '\r' < "$rack/dut1.console.log" 2>/dev/null | tail -30
}
fail() { echo "FAIL: $*" >&2; dump >&2; exit 1; }

# --- the rack: scripts/virtual-rack builds firmware 1.0.0 (with the 1.1.0 package on the
# board's data partition) and the controller image with this test's scenario files, then
# runs loopline-rack-sim with dut1 on line 0 and dut2 on line 1, both active low
t0=$(date +%s)
"$src/scripts/virtual-rack" --dir "$rack" --boards 2 --build "$bld" --overlay "$src/tests/rack/controller" \
  > "$work/sim.log" 2>&1 &
simpid=$!
n=0; until [ -f "$rack/ready" ]; do
  kill -0 "$simpid" 2>/dev/null || fail "the simulator exited"
  n=$((n + 1)); [ $n -lt 6000 ] || fail "simulator not ready after 600 s"; sleep 0.1
done
ok "firmware, controller image, simulator ready ($(( $(date +%s) - t0 )) s)"
# the controller VM as board ctl (its console socket), written by scripts/virtual-rack
H() { "$hil" -i "$rack/host.yaml" "$@"; }
# the adapters' udev-style names (the inventory's console ports)
id1=usb-QEMU_QEMU_USB_SERIAL_LPRACK-dut1-if00-port0; id2=usb-QEMU_QEMU_USB_SERIAL_LPRACK-dut2-if00-port0
# ctlrun TIMEOUT CMD: a shell command in the controller VM; output in $work/out
ctlrun() { local t=$1; shift; H run --timeout "$t" ctl -- "$*" >"$work/out" 2>"$work/err" </dev/null; }
ctl_ok() { ctlrun "$@" || { cat "$work/out" "$work/err" >&2; fail "in the controller: ${*:2}"; }; }
# ctl_rc WANT TIMEOUT CMD: the command's exit status in the controller must be WANT
ctl_rc() {
  local want=$1 rc=0; shift
  ctlrun "$@" || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "in the controller: ${*:2} exited $rc, wanted $want"; }
}
has() { grep -q -- "$1" "$work/out" || { cat "$work/out" "$work/err" >&2; fail "output lacks '$1'"; }; }
count() { grep -c -- "$1" "$rack/events.log" 2>/dev/null || true; }
# wait_event PATTERN N: until events.log has N lines matching PATTERN (60 s)
wait_event() {
  local n=0
  until [ "$(count "$1")" -ge "$2" ]; do
    n=$((n + 1)); [ $n -lt 600 ] || fail "no ${2}th event '$1' within 60 s"; sleep 0.1
  done
}
qmp() {
  printf '{"execute":"qmp_capabilities"}\n%s\n' "$1" |
    socat -t 3 - "UNIX-CONNECT:$rack/qmp.sock" > "$work/qmp" 2>&1 || true
  [ "$(grep -c '"return": {}' "$work/qmp")" -ge 2 ] || { cat "$work/qmp" >&2; fail "QMP $1"; }
}
# plug BOARD: the board's USB serial adapter back into the controller (as the simulator
# first plugged it: the same chardev, id and serial number)
plug() {
  qmp '{"execute":"device_add","arguments":{"driver":"usb-serial","bus":"xhci.0","chardev":"chr-'"$1"'","id":"usb-'"$1"'","serial":"LPRACK-'"$1"'","always-plugged":true}}'
}
# waitdev PATH gone|there: in the controller, at most 30 s
waitdev() {
  local t='-e'; [ "$2" = gone ] || t='! -e'
  ctl_ok 60s "n=0; while [ $t $1 ]; do n=\$((n + 1)); [ \$n -lt 300 ] || exit 1; sleep 0.1; done"
}

H expect ctl 'lpctl:' --timeout 180s >/dev/null 2>"$work/err" || { cat "$work/err"; fail "controller shell"; }
ctl_ok 60s 'uname -m; ls /dev/gpiochip0; ls -l /dev/serial/by-id/'
has aarch64; has /dev/gpiochip0
has "$id1 -> ../../ttyUSB0"; has "$id2 -> ../../ttyUSB1"
ok "controller VM up ($(( $(date +%s) - t0 )) s): aarch64, /dev/gpiochip0 (PL061), two adapters (ftdi_sio) with by-id links"

# --- power on → boot → expect → run → cycle → off -------------------------------------
ctl_ok 30s loopline-hil power status dut1
has 'dut1: off'
[ "$(count 'dut dut1 started')" = 0 ] || fail "the DUT runs before anyone switched its relay"
ok "power status: off, and no DUT running (an undriven line leaves the relay off)"

ctl_ok 30s loopline-hil power on dut1
wait_event 'relay dut1 on' 1; wait_event 'dut dut1 started' 1
grep -q 'relay dut1 on line=0 level=0 active_low=1' "$rack/events.log" || fail "relay on was not line 0 driven low"
ok "power on: GPIO line 0 driven low (active low) → relay on → DUT started"
ctl_ok 30s loopline-hil power status dut1
has 'dut1: on'
ok "power status: on (the line stays an output at its value after the process ended)"

# one expect: what it read past its match is gone with the process (a console stream)
ctl_ok 200s loopline-hil expect dut1 "'login:|# '" --timeout 180s
grep -q 'lpfw: version=1.0.0 slot=A' "$rack/dut1.console.log" || fail "no boot line on the DUT console"
ok "expect through libserialport: the DUT's shell prompt, after its boot line"
ctl_ok 120s loopline-hil run --timeout 90s dut1 -- cat /etc/os-release
has 'VERSION_ID=1.0.0'; has 'Loopline reference firmware'
ctl_ok 120s loopline-hil run --timeout 90s dut1 -- touch /run/before-cycle
ok "run: cat /etc/os-release → VERSION_ID=1.0.0"

ctl_ok 60s loopline-hil power cycle dut1
wait_event 'relay dut1 off' 1; wait_event 'dut dut1 stopped' 1; wait_event 'dut dut1 started' 2
ctl_ok 200s loopline-hil run --timeout 180s dut1 -- 'test ! -e /run/before-cycle && cat /proc/uptime'
ok "power cycle: relay off (DUT killed) and on again; the DUT booted afresh"

# --- the same board by its kernel name ------------------------------------------------
ctl_ok 120s 'loopline-hil -i /etc/rack/errors.yaml run --timeout 90s kernelname -- grep VERSION_ID /etc/os-release'
has 'VERSION_ID=1.0.0'
ok "console port by kernel name (/dev/ttyUSB0) works as well as the by-id link"

# --- unplug both adapters while a script holds dut1's console; plug dut2's back first ---
# dut2's adapter then gets ttyUSB0 and dut1's ttyUSB1: the by-id name follows the adapter
ctl_ok 30s '(loopline-hil script dut1 /etc/rack/scenarios/replug.hil > /tmp/replug.log 2>&1; echo $? > /tmp/replug.rc) >/dev/null 2>&1 &'
n=0; until ctlrun 30s grep -q UNPLUG-NOW /tmp/replug.log; do
  n=$((n + 1)); [ $n -lt 120 ] || { ctlrun 30s cat /tmp/replug.log; cat "$work/out"; fail "replug script did not start"; }
  sleep 0.5
done
qmp '{"execute":"device_del","arguments":{"id":"usb-dut1"}}'
qmp '{"execute":"device_del","arguments":{"id":"usb-dut2"}}'
waitdev /dev/ttyUSB0 gone; waitdev /dev/ttyUSB1 gone; waitdev "/dev/serial/by-id/$id1" gone
plug dut2; waitdev "/dev/serial/by-id/$id2" there
plug dut1; waitdev "/dev/serial/by-id/$id1" there
ctl_ok 30s 'ls -l /dev/serial/by-id/; touch /tmp/replugged'
has "$id1 -> ../../ttyUSB1"; has "$id2 -> ../../ttyUSB0"
n=0; until ctlrun 30s test -e /tmp/replug.rc; do
  n=$((n + 1)); [ $n -lt 240 ] || fail "replug script did not finish"; sleep 0.5
done
ctl_ok 30s 'cat /tmp/replug.log; exit $(cat /tmp/replug.rc)'
has after-replug; has 'VERSION_ID=1.0.0'
ok "QMP device_del of both adapters, device_add dut2's first: dut1's by-id link now leads to ttyUSB1 and the script's open console reconnected through it"

# --- contention: a lock, a busy line, wrong chip and line ---------------------------
ctl_ok 30s 'LOOPLINE_HIL_OWNER=job-a loopline-hil script dut1 /etc/rack/scenarios/hold.hil > /tmp/hold.log 2>&1 &'
n=0; until ctlrun 30s grep -q HOLDING /tmp/hold.log; do
  n=$((n + 1)); [ $n -lt 120 ] || fail "hold script did not start"; sleep 0.5
done
ctl_rc 20 30s LOOPLINE_HIL_OWNER=job-b loopline-hil power off dut1
has 'dut1 is locked by job-a'
ok "a second process for the same board sees the lock: exit 20, '$(grep -o 'dut1 is locked by job-a[^)]*)' "$work/out" "$work/err" | head -n1 | cut -d: -f2-)'"
ctl_rc 20 30s loopline-hil -i /etc/rack/errors.yaml power on twin
has 'Device or resource busy'; has 'another process holds it'
ok "a second board wired to the same line: the kernel refuses the busy line, named"
ctl_ok 30s 'touch /tmp/release; n=0; while pidof loopline-hil >/dev/null; do n=$((n + 1)); [ $n -lt 300 ] || exit 1; sleep 0.1; done; cat /tmp/hold.log'
ctl_rc 1 30s loopline-hil -i /etc/rack/errors.yaml power on nochip
has 'GPIO chip "gpiochip9" not found'
ctl_rc 1 30s loopline-hil -i /etc/rack/errors.yaml power on noline
has 'has no line 40 (it has 8)'
ok "wrong chip and wrong line: clear errors"

# --- an update of the DUT by a scenario file, from inside the controller ---------------
ctl_ok 900s 'FROM=1.0.0 TO=1.1.0 PKG=/data/loopline/1.1.0.lpkg loopline-hil script dut1 /etc/rack/scenarios/update.hil'
has 'mark committed'
wait_event 'dut dut1 stopped' 3
tail -n 2 "$rack/events.log" | grep -q 'dut dut1 stopped' || fail "the DUT still runs after the script's power off"
ok "scenario update.hil in the controller: 1.0.0 → 1.1.0 in slot B, committed, kept over a power cycle, then off"
grep 'loopline-hil: mark' "$work/out" | sed 's/^/  /'

# --- the simulator stops everything -----------------------------------------------
[ "$(count 'relay dut2 on')" = 0 ] && [ "$(count 'dut dut2 started')" = 0 ] ||
  fail "dut2 was switched on, but only dut1's line was driven"
ok "dut2's relay (line 1) stayed off through all of dut1's switching"

kill -TERM "$simpid"; rc=0; wait "$simpid" || rc=$?; simpid=""
[ "$rc" = 0 ] || fail "simulator exited $rc on SIGTERM"
! pgrep -f "$work/" >/dev/null || fail "processes left: $(pgrep -a -f "$work/")"
ok "SIGTERM stops the controller and the DUT; nothing left running ($(( $(date +%s) - t0 )) s in all)"

#!/usr/bin/env bash
# loopline-rack-sim without QEMU: a fake controller (rack-sim-fake.sh) serves the
# usb-serial chardev sockets and prints the PL061 trace lines the test writes, fake DUTs
# serve consoles. Checked: ready and events.log; relays from GPIODIR/GPIODATA with both
# polarities and undriven lines; a DUT started on relay on and its process group killed
# on relay off; bytes both ways and console.log; a malformed trace line reported; the
# usb chardev connection re-made after it drops; a DUT that exits on its own; bytes
# dropped and counted when the controller does not read; the controller's exit (1) and
# SIGTERM (0), each leaving no socket and no process behind.
# Needs LP_RACK_SIM (the binary) and socat.
set -euo pipefail
sim=${LP_RACK_SIM:?}
fake=$(cd "$(dirname "$0")" && pwd)/rack-sim-fake.sh
work=$(mktemp -d /tmp/lp-rack-fake.XXXXXX)
export LP_FAKE_DIR=$work
sim_pid=""
cleanup() {
  [ -z "$sim_pid" ] || kill -TERM "$sim_pid" 2>/dev/null || true
  [ -z "$sim_pid" ] || wait "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/testlib.sh"
dir=$work/rack
D=/machine/unattached/device[6]

# wait_for FILE PATTERN [N]: until FILE has N (default 1) lines matching the ERE, 10 s
wait_for() {
  local n=${3:-1} c
  for _ in $(seq 200); do
    c=$(grep -Ec -- "$2" "$1" 2>/dev/null) || true
    [ "${c:-0}" -ge "$n" ] && return 0
    sleep 0.05
  done
  fail "no '$2' (x$n) in $1: $(cat "$1" 2>/dev/null)"
}
event() { wait_for "$dir/events.log" "^[0-9]+\.[0-9]{3} $1\$" "${2:-1}"; }
trace() { printf '%s\n' "$1" >>"$work/trace"; }
update() { trace "pl061_update $D GPIODIR $1 GPIODATA $2 pullups 0x0 floating 0x0"; }
# no process of this test's directory is left (sockets and commands name it)
no_leftovers() {
  local left
  left=$(ps -eo pid=,args= | grep -F "$work" | grep -v -e grep -e "$0" || true)
  [ -z "$left" ] || fail "processes left: $left"
  [ -z "$(find "$dir" -type s)" ] || fail "sockets left: $(find "$dir" -type s)"
  [ ! -e "$dir/ready" ] || fail "ready left"
}
start_sim() {
  "$sim" --dir "$dir" --kernel "$fake" --initrd "$fake" --qemu "$fake" "$@" \
    >"$work/sim.out" 2>"$work/sim.err" &
  sim_pid=$!
  wait_for "$dir/ready" "^$sim_pid\$"
}

start_sim \
  --board a --line 0 --active-low --dut-console "$work/a.sock" --dut-cmd "exec $fake dut $work/a.sock a" \
  --board b --line 5 --dut-console "$work/b.sock" --dut-cmd "echo b runs; exit 7" \
  --board stall-c --line 7 --dut-console "$work/c.sock" \
  --dut-cmd "head -c 3000000 /dev/zero | exec socat -t 5 - UNIX-LISTEN:$work/c.sock,unlink-early"
event "start pid=$sim_pid boards=3"
event "controller started pid=[0-9]+"
for b in a b stall-c; do event "usb $b connected"; done
event ready
ok "ready after every usb chardev is connected"

# at reset every line is an undriven input: all relays stay off
update 0x0 0x0
event "gpio device /machine/unattached/device\[6\]"
# line 0 driven low (a is active-low: on), line 5 driven high (b: on), 7 still undriven
update 0x21 0x20
event "relay a on line=0 level=0 active_low=1 driven=1"
event "dut a started pid=[0-9]+"
event "dut a console connected"
event "relay b on line=5 level=1 active_low=0 driven=1"
event "dut b started pid=[0-9]+"
event "dut b exited status=7 dropped_to_dut=0 dropped_to_usb=0"
wait_for "$dir/b.dut.log" "^b runs$"
grep -q "relay stall-c" "$dir/events.log" && fail "stall-c switched: $(cat "$dir/events.log")"
ok "relays: active-low and active-high lines, undriven line off, a DUT that exits"

printf 'to-the-dut\n' >>"$work/a.usb-tx"
wait_for "$work/a.dut-rx" "^to-the-dut$"
printf 'from-the-dut\n' >>"$work/a.dut-tx"
wait_for "$work/a.usb-rx" "^from-the-dut$"
wait_for "$dir/a.console.log" "^from-the-dut$"
ok "bytes both ways, console.log"

trace "pl061_update $D GPIODIR 0x100 GPIODATA 0x0 pullups 0x0 floating 0x0"
event "trace malformed: pl061_update: GPIODIR: 0x100 is more than 0xff"
wait_for "$dir/controller-qemu.log" "^fake-qemu: started with [0-9]+ arguments$"
wait_for "$dir/controller-qemu.log" "^pl061_update .* GPIODIR 0x100 "
grep -q "^pl061_update .*GPIODIR 0x21" "$dir/controller-qemu.log" && fail "a trace in the log"
ok "malformed trace reported; other stderr lines in controller-qemu.log"

# the chardev connection drops (the connection's socat ends): it is made again
pkill -P "$(cat "$work/a.usb-pid")" socat
event "usb a disconnected"
event "usb a connected" 2
printf 'after-reconnect\n' >>"$work/a.dut-tx"
wait_for "$work/a.usb-rx" "^after-reconnect$"
ok "usb chardev reconnected"

# a: undriven line (GPIODIR bit 0 clear, the level does not matter): power cut
dut_a=$(sed -n 's/.* dut a started pid=\([0-9]*\)$/\1/p' "$dir/events.log")
update 0x20 0x20
event "relay a off line=0 level=0 active_low=1 driven=0"
event "dut a stopped \(power off\) dropped_to_dut=0 dropped_to_usb=0"
# the group got SIGKILL; its members other than the leader are reaped by init
for _ in $(seq 100); do kill -0 -- "-$dut_a" 2>/dev/null || break; sleep 0.05; done
kill -0 -- "-$dut_a" 2>/dev/null && fail "DUT a's process group still runs"
printf 'while-off\n' >>"$work/a.usb-tx"
update 0x21 0x20
event "relay a on line=0 level=0 active_low=1 driven=1"
event "dut a console connected" 2
printf 'after-on\n' >>"$work/a.usb-tx"
wait_for "$work/a.dut-rx" "^after-on$"
grep -q while-off "$work/a.dut-rx" && fail "an unpowered DUT got bytes"
update 0x21 0x21
event "relay a off line=0 level=1 active_low=1 driven=1"
event "dut a stopped \(power off\) dropped_to_dut=0 dropped_to_usb=0" 2
ok "relay off cuts the DUT's process group; bytes to an unpowered DUT are lost"

# stall-c: the controller never reads; the DUT sends 3 MB: kept up to the bound, the rest
# dropped and counted, every byte in console.log
update 0xa0 0xa0
event "relay stall-c on line=7 level=1 active_low=0 driven=1"
event "dut stall-c exited status=0 dropped_to_dut=0 dropped_to_usb=[1-9][0-9]*"
[ "$(stat -c %s "$dir/stall-c.console.log")" = 3000000 ] || fail "console.log: $(stat -c %s "$dir/stall-c.console.log")"
dropped=$(sed -n 's/.*dut stall-c exited .*dropped_to_usb=\([0-9]*\)$/\1/p' "$dir/events.log")
[ "$dropped" -gt $((3000000 - 2 * 1024 * 1024)) ] || fail "only $dropped dropped"
ok "back-pressure: $dropped bytes dropped and counted"

# the controller exits: exit 1 with its status and last message, nothing left
trace "exit 3"
rc=0
wait "$sim_pid" || rc=$?
sim_pid=""
[ "$rc" = 1 ] || fail "exit $rc after the controller's end: $(cat "$work/sim.err")"
event "controller exited status=3"
event exit
grep -q "the controller QEMU exited with status 3: fake-qemu: exiting with 3" "$work/sim.err" ||
  fail "$(cat "$work/sim.err")"
no_leftovers
ok "controller exit: exit 1, nothing left"

# SIGTERM with a DUT running: exit 0, everything stopped, sockets removed
rm -f "$work"/*.usb-tx "$work"/*.dut-tx "$work/trace"
start_sim --board a --line 2 --dut-console "$work/a.sock" --dut-cmd "exec $fake dut $work/a.sock a"
grep -Eq " (relay|dut) " "$dir/events.log" && fail "events.log not started afresh"
update 0x4 0x4
event "dut a console connected"
kill -TERM "$sim_pid"
rc=0
wait "$sim_pid" || rc=$?
sim_pid=""
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM: $(cat "$work/sim.err")"
event "stopping signal=15"
event "dut a stopped \(shutdown\) dropped_to_dut=0 dropped_to_usb=0"
event "controller stopped status=[0-9]+"
event exit
no_leftovers
ok "SIGTERM: exit 0, nothing left"
echo "all $pass passed"

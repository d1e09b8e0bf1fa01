#!/usr/bin/env bash
# Stand-ins for test-hil-rack-sim-fake.sh (no QEMU needed), in $LP_FAKE_DIR:
#
#   rack-sim-fake.sh QEMU-ARGS...   the controller QEMU (loopline-rack-sim --qemu): serves
#       every usb-serial chardev socket (-chardev socket,id=chr-NAME,path=P,...) as QEMU
#       does, appending what arrives to NAME.usb-rx and sending what the test appends to
#       NAME.usb-tx (listener pid in NAME.usb-pid; a board named stall-* never reads, like
#       a guest that keeps the port closed); prints the lines appended to "trace" on
#       stderr, and exits with N at a line "exit N".
#   rack-sim-fake.sh dut SOCK NAME  a DUT: serves its console on SOCK, appending what
#       arrives to NAME.dut-rx and sending what the test appends to NAME.dut-tx.
set -u
d=${LP_FAKE_DIR:?}
# serve SOCK RX TX: one connection at a time, again after each one ends (becomes socat:
# the listener's pid is the caller's $!, each connection is one of its children)
serve() {
  touch "$3"
  exec socat UNIX-LISTEN:"$1",unlink-early,fork SYSTEM:"tail -c +1 -f '$3' & exec cat >> '$2'"
}
if [ "${1:-}" = dut ]; then
  serve "$2" "$d/$3.dut-rx" "$d/$3.dut-tx"
  exit
fi
for a in "$@"; do
  case $a in
    socket,id=chr-*)
      name=${a#socket,id=chr-}; name=${name%%,*}
      path=${a#*,path=}; path=${path%,server=on,wait=off}
      if [ "${name#stall-}" != "$name" ]; then
        socat UNIX-LISTEN:"$path",unlink-early SYSTEM:"exec sleep 3600" &
      else
        serve "$path" "$d/$name.usb-rx" "$d/$name.usb-tx" &
      fi
      echo $! > "$d/$name.usb-pid"
      ;;
  esac
done
echo "fake-qemu: started with $# arguments" >&2
touch "$d/trace"
while IFS= read -r line; do
  case $line in
    "exit "*) echo "fake-qemu: exiting with ${line#exit }" >&2; exit "${line#exit }" ;;
    *) printf '%s\n' "$line" >&2 ;;
  esac
done < <(tail -n +1 -f "$d/trace")

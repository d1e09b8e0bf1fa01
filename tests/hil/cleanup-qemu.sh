#!/usr/bin/env bash
# CTest fixture cleanup for the QEMU tests: whatever happened to them (a crash skips their
# own teardown), stop every QEMU they left and remove their temporary directories.
# Only directories named PREFIX-* (PREFIX is per build directory) are touched, so test
# runs of other build trees on the same machine are left alone.
# Usage: cleanup-qemu.sh PREFIX
set -uo pipefail
prefix=${1:?usage: cleanup-qemu.sh PREFIX}
killed=0
for pidfile in "$prefix"-*/.hil-state/*/qemu.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null) || continue
  dir=$(dirname "$pidfile")
  # only a process whose command line names this board's state directory
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' '\n' < "/proc/$pid/cmdline" | grep -qF "$dir/"; then
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
  fi
done
rm -rf "$prefix"-*
echo "cleanup-qemu: stopped $killed leftover QEMU process(es)"

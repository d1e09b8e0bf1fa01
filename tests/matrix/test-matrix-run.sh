#!/usr/bin/env bash
# loopline-matrix run end to end on QEMU (TCG): real backends, guests, fault proxies.
#   test-matrix-run.sh SPEC [RUN OPTIONS]   a spec that must pass: exit 0, every case
#       PASS in `show --json`, JUnit with no failures, the reports written, nothing left
#       running.
#   test-matrix-run.sh --regression         an agent from a patched copy of this tree
#       (no post-boot health check) in one `to` firmware: exactly its rollback-health
#       case must FAIL (product) at the expected step, the others pass, the gate exit 30;
#       the same run with --no-snapshots gives the same verdicts and failing steps
#       (the first run restored one snapshot for its 4 cases); then a run interrupted by
#       SIGINT leaves nothing behind and is recorded as interrupted.
set -uo pipefail
: "${MATRIX:?}" "${LP_SOURCE_DIR:?}"
work=$(mktemp -d /tmp/lp-mxrun.XXXXXX)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
leftovers() { # processes a run may have started, still alive
  pgrep -f "qemu-system.*$work|loopline-backend --config $work|fault-proxy --control $work|TCP-LISTEN.*fault-proxy --control $work" || true
}
cleanup() {
  local p; p=$(leftovers)
  if [ -n "$p" ]; then echo "FAIL: left running:"; ps -o pid,args -p $p; kill -9 $p 2>/dev/null; fails=$((fails + 1)); fi
  if [ "$fails" = 0 ] && [ -z "${LP_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
m() { "$MATRIX" --out "$work/out" "$@"; }
# builds and firmware are shared between the suite's matrix tests (and its runs)
if [ -n "${LP_MATRIX_CACHE:-}" ]; then
  mkdir -p "$work/out" "$LP_MATRIX_CACHE"
  ln -s "$LP_MATRIX_CACHE" "$work/out/cache"
fi

# --- a rack board ----------------------------------------------------------------------
# A rack inventory with one board, dut1 — a QEMU machine behind the qemu power driver,
# standing in for a lab board: the matrix provisions it with its provision command (here:
# the case's disk image behind a qcow2 overlay at the path the board's argv names), the
# board reaches the case's backend through the fault proxy listening on `listen`, and the
# run takes dut1's HIL lock for each case. While a person holds the lock nothing starts;
# the board's two cases never overlap.
if [ "${1:-}" = --rack ]; then
  rack=$work/rack; mkdir -p "$rack"
  lport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$rack/rack.yaml" <<RACK
lab: {state_dir: $rack/state}
boards:
  dut1:
    target: qemu-x86_64
    power:
      driver: qemu
      cycle: reset
      argv: [qemu-system-x86_64, -accel, tcg, -machine, pc, -cpu, max, -m, "256", -smp, "1",
             -no-user-config, -nodefaults, -kernel, $rack/boot/vmlinuz,
             -initrd, $rack/boot/initramfs.cpio,
             -append, "console=ttyS0 panic=-1 quiet loglevel=3",
             -drive, "file=$rack/dut1.qcow2,format=qcow2,if=none,id=d0,cache=writeback",
             -device, "virtio-blk-pci,drive=d0",
             -netdev, "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8443-cmd:socat - TCP:127.0.0.1:$lport",
             -device, "virtio-net-pci,netdev=n0"]
    console: {driver: qemu}
    boot: {timeout: 120}
    provision:
      argv: [sh, -c, 'ln -sfn "\$(readlink -f "\$LP_DISK_BOOT")" $rack/boot && rm -f $rack/dut1.qcow2 && qemu-img create -q -f qcow2 -F raw -b "\$LP_DISK" $rack/dut1.qcow2 && echo "provisioned \$LP_BOARD"']
      timeout: 2m
      backend_url: https://10.0.2.100:8443
      listen: 127.0.0.1:$lport
RACK
  cat > "$work/rack.yaml" <<SPEC
name: rack
inventory: $rack/rack.yaml
axes:
  target:  [dut1]
  backend: [current]
  agent:   [current]
  from:    [1.0.0]
  to:      [1.1.0]
components:
  agent:   {current: {path: $LP_SOURCE_DIR}}
  backend: {current: {path: $LP_SOURCE_DIR}}
scenario_dir: $LP_SOURCE_DIR/matrix/scenarios
scenarios: [update, tampered]
SPEC
  hil() { "$(dirname "$MATRIX")/../hil/loopline-hil" -i "$rack/rack.yaml" "$@"; }
  hil --owner alice lock dut1 --reason "debugging by hand" || fail "alice's lock"
  "$MATRIX" --out "$work/out" run "$work/rack.yaml" -j2 > "$work/run.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do grep -q '^run [0-9]*:.*logs in' "$work/run.out" && break; sleep 0.1; done
  sleep 8 # builds are cached: the run waits for the board now
  ! grep -q '\] start' "$work/run.out" || fail "a case started on a board alice holds"
  hil --owner alice unlock dut1 || fail "alice's unlock"
  wait $pid; rc=$?
  cat "$work/run.out"
  [ "$rc" = 0 ] || fail "rack run exited $rc"
  m show --json > "$work/show.json" || fail "show --json"
  python3 - "$work/show.json" <<'PY' || fail "rack verdicts"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) == 2 and all(x["status"] == "pass" for x in r), [(x["scenario"], x["status"], x.get("message")) for x in r]
a, b = sorted(r, key=lambda x: x["started_ms"])
assert a["started_ms"] + a["duration_ms"] <= b["started_ms"] + 1000, "the board's cases overlapped"
print("rack: 2 cases passed on dut1, one after the other")
PY
  run_dir=$(sed -n 's/^run [0-9]*: .*logs in //p' "$work/run.out")
  grep -q "provisioned dut1" "$run_dir"/cases/*-update/attempt-1/provision.log || fail "no provision log"
  grep -q "lpfw: version=1.1.0 slot=B" "$run_dir"/cases/*-update/attempt-1/console.log || fail "the board did not run 1.1.0"
  [ -z "$(hil locks | grep dut1)" ] || fail "the run left dut1 locked"
  [ "$(hil power status dut1)" = "dut1: off" ] || fail "the run left dut1 on"
  [ "$fails" = 0 ] && echo "PASS"
  exit $((fails > 0))
fi

if [ "${1:-}" != --regression ]; then
  spec=${1:?usage: test-matrix-run.sh SPEC [OPTIONS] | --regression}; shift
  m run "$spec" "$@" | tee "$work/run.out"; rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || fail "run exited $rc"
  m show --json > "$work/show.json" || fail "show --json"
  python3 - "$work/show.json" <<'PY' || fail "not every case passed"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [(r["scenario"], r["combo"], r["status"], r.get("message", "")) for r in d["results"] if r["status"] != "pass"]
for b in bad: print("  not passed:", *b)
print(f"{len(d['results'])} cases, {len(bad)} not passed")
sys.exit(1 if bad or not d["results"] else 0)
PY
  run_dir=$(sed -n 's/^run [0-9]*: .*logs in //p' "$work/run.out")
  for f in report.html junit.xml report.json; do [ -s "$run_dir/$f" ] || fail "no $f in $run_dir"; done
  python3 -c 'import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); s=r if r.tag=="testsuite" else r; n=int(s.get("tests")); f=int(s.get("failures",0))+int(s.get("errors",0)); print(f"junit: {n} tests, {f} failures/errors"); sys.exit(0 if n>0 and f==0 else 1)' "$run_dir/junit.xml" || fail "junit"
  m gate > /dev/null; [ $? = 0 ] || fail "gate does not pass"
  [ "$fails" = 0 ] && echo "PASS"
  exit $((fails > 0))
fi

# --- a seeded regression ---------------------------------------------------------------
# An agent built from a patched copy of this tree commits a new slot without running its
# post-boot health checks. It goes into the offered firmware of one `to` value only, so
# exactly the rollback-health case of that value must fail — class product, at the step
# that waits for the agent's rollback reboot — and everything else pass.
patched="$work/patched-src"
mkdir -p "$patched"
git -C "$LP_SOURCE_DIR" archive HEAD | tar -x -C "$patched"
sed -i 's|r = agent_health_check(ctx->cfg, reason, sizeof(reason));|r = 0; /* seeded regression: no health check */|' \
  "$patched/agent/boot.c"
grep -q 'seeded regression' "$patched/agent/boot.c" || { fail "the patch did not apply"; exit 1; }
spec="$work/regression.yaml"
cat > "$spec" <<SPEC
name: regression
axes:
  target:  [qemu-x86_64]
  backend: [current]
  agent:   [current]
  from:    [1.0.0]
  to:      [1.1.0, {version: 1.1.0, agent: patched, name: 1.1.0-patched}]
components:
  agent:   {current: {path: $LP_SOURCE_DIR}, patched: {path: $patched}}
  backend: {current: {path: $LP_SOURCE_DIR}}
scenario_dir: $LP_SOURCE_DIR/matrix/scenarios
scenarios: [update, rollback-health]
SPEC
m run "$spec" | tee "$work/run.out"; rc=${PIPESTATUS[0]}
[ "$rc" = 30 ] || fail "run with a regression exited $rc, not 30 (gate failed)"
m show --json > "$work/show.json" || fail "show --json"
python3 - "$work/show.json" <<'PY' || fail "verdicts"
import json, sys
d = json.load(open(sys.argv[1]))
failed = [r for r in d["results"] if r["status"] != "pass"]
assert len(d["results"]) == 4, len(d["results"])
assert len(failed) == 1, [(r["scenario"], r["combo"], r["status"]) for r in failed]
f = failed[0]
assert f["scenario"] == "rollback-health" and "to=1.1.0-patched" in f["combo"], f["combo"]
assert f["status"] == "fail" and f["class"] == "product", (f["status"], f["class"])
assert f["failed_step"].startswith("rollback-health.hil:") and "rebooting" in f["failed_step"], f["failed_step"]
assert f["console_excerpt"], "no console lines with the failure"
print("regression found:", f["failed_step"], "-", f["message"][:160])
PY
m gate > /dev/null; rc=$?
[ "$rc" = 30 ] || fail "gate exited $rc, not 30"
m history 'target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0-patched' > "$work/hist" ||
  fail "history of the failing combo"
grep -qw fail "$work/hist" || fail "history does not show the failure"

# --- snapshots change nothing but the time: the same run with every case booting cold ---
# The four cases start from one firmware and agent: the run above made one snapshot and
# every case restored it; --no-snapshots boots each. Verdicts, classes and failing steps
# must be the same.
snap_dir=$(sed -n 's/^run [0-9]*: .*logs in //p' "$work/run.out")
grep -q '^snapshot [0-9a-f]*: ready in .* for 4 cases' "$work/run.out" || fail "no snapshot made for the 4 cases"
n=$(cat "$snap_dir"/cases/*/attempt-1/steps.log | grep -c 'restored from a snapshot')
[ "$n" = 4 ] || fail "$n cases restored the snapshot, not 4"
[ -z "$(ls "$snap_dir"/snapshots/*/state.mig 2>/dev/null)" ] || fail "the snapshot's state was not removed after the run"
m show --json > "$work/snap.json"
m run "$spec" --no-snapshots > "$work/cold.out"; rc=$?
[ "$rc" = 30 ] || fail "cold run exited $rc, not 30"
cold_dir=$(sed -n 's/^run [0-9]*: .*logs in //p' "$work/cold.out")
! grep -q '^snapshot' "$work/cold.out" || fail "--no-snapshots made a snapshot"
! grep -qs 'restored from a snapshot' "$cold_dir"/cases/*/attempt-1/steps.log || fail "--no-snapshots restored"
m show --json > "$work/cold.json"
python3 - "$work/snap.json" "$work/cold.json" <<'PY' || fail "snapshot and cold runs differ"
import json, sys
def verdicts(path):
    d = json.load(open(path))
    return sorted((r["scenario"], r["combo"], r["status"], r["class"], r.get("failed_step", ""))
                  for r in d["results"])
a, b = verdicts(sys.argv[1]), verdicts(sys.argv[2])
for x in a: print("  snapshot:", x)
for x in b: print("  cold:    ", x)
assert len(a) == 4 and a == b
print("same verdicts with and without snapshots")
PY

# --- Ctrl-C: every process the run started goes, the run is "interrupted" -------------
touch "$work/int.out.start"
"$MATRIX" --out "$work/out" run "$spec" --only to=1.1.0,scenario=update > "$work/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q 'start update' "$work/int.out" && break; sleep 0.1; done
sleep 4 # the case is inside its scenario: guest, backend and proxies run
kill -INT $pid; wait $pid; rc=$?
[ "$rc" = 130 ] || fail "interrupted run exited $rc, not 130"
sleep 0.5
[ -z "$(leftovers)" ] || fail "processes left after Ctrl-C"
# nor the killed attempt's state directory (/tmp/lpmx-PID: QEMU's sockets and logs)
left=$(find /tmp -maxdepth 1 -name 'lpmx-*' -newer "$work/int.out.start" 2>/dev/null)
[ -z "$left" ] || fail "state directories left after Ctrl-C: $left"
m show --json > "$work/show2.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["run"]["state"]=="interrupted", d["run"]; r=d["results"][0]; assert r["status"] in ("error","skipped") and r["class"] in ("infra","none"), r; print("interrupted:", r["status"], r.get("message",""))' "$work/show2.json" ||
  fail "interrupted run not recorded as such"
[ "$fails" = 0 ] && echo "PASS"
exit $((fails > 0))

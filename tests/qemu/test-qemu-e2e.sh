#!/usr/bin/env bash
# End-to-end A/B update scenarios on a reference-firmware QEMU guest (TCG), driven through
# the HIL controller (loopline-hil script: qemu power driver, console, expect, shell
# runner) and the real backend over TLS.
#
#   test-qemu-e2e.sh TARGET SCENARIO     e.g. qemu-x86_64 update
#
# SCENARIO names a step file tests/qemu/scenarios/SCENARIO.hil. Per run: the firmware
# versions are built (cached) and signed, a CA and a server certificate for the guest's
# backend address 10.0.2.100 are made, loopline-backend serves on a free 127.0.0.1 port
# with one tenant, one device, the signing key and the packages; the disk is slot A =
# 1.0.0 with the device's identity (device.json, ca.pem) on the data partition; QEMU runs
# on a qcow2 overlay so the disk survives a power cut; the guest reaches only the backend,
# through the matrix's fault proxy (guestfwd cmd: `loopline-matrix fault-proxy`, one per
# connection, obeying $tmp/net.state; scenario steps change it with `host {{NET}} cut`
# and the like). Every process is stopped at the end.
#
# Env (set by tests/qemu/CMakeLists.txt): LP_SOURCE_DIR LP_BUILD_DIR LP_AGENT LP_LIB
#   LP_BACKEND LP_HIL LP_MATRIX; optional LP_E2E_NET="throttle 1m" (or any other
#   `loopline-matrix net` mode) is the link's state from the start, LP_E2E_KEEP=1 keeps the work directory,
#   LP_E2E_ECHO=1 copies the console to stderr, LP_E2E_TIMES=FILE appends the marks.
set -euo pipefail
target=${1:?usage: test-qemu-e2e.sh TARGET SCENARIO}
scenario=${2:?usage: test-qemu-e2e.sh TARGET SCENARIO}
src=${LP_SOURCE_DIR:?}; bld=${LP_BUILD_DIR:?}
: "${LP_AGENT:?}" "${LP_LIB:?}" "${LP_BACKEND:?}" "${LP_HIL:?}" "${LP_MATRIX:?}"
CTL_BIN=${LP_CTL:-$(dirname "$LP_BACKEND")/loopline-ctl}
here=$(cd "$(dirname "$0")" && pwd)
script="$here/scenarios/$scenario.hil"
[ -f "$script" ] || { echo "no scenario file $script" >&2; exit 2; }

# short path: unix socket paths (console, QMP) must stay under 107 bytes
tmp=$(mktemp -d /tmp/lp-e2e.XXXXXX)
backend_pid=""
inv="$tmp/rack.yaml"
cleanup() {
  set +e
  if [ -f "$inv" ]; then "$LP_HIL" -i "$inv" power off dut >/dev/null 2>&1; fi
  if [ -n "$backend_pid" ]; then kill -TERM "$backend_pid" 2>/dev/null; wait "$backend_pid" 2>/dev/null; fi
  if [ -z "${LP_E2E_KEEP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  if [ -f "$tmp/state/logs/dut.log" ]; then echo "--- console (last 80 lines)" >&2; tail -n 80 "$tmp/state/logs/dut.log" >&2; fi
  if [ -f "$tmp/backend.log" ]; then echo "--- backend (last 20 lines)" >&2; tail -n 20 "$tmp/backend.log" >&2; fi
  exit 1
}

# --- firmware: the versions the scenario names (PKG_<VERSION> variables) ---------------
versions=$(grep -o '{{PKG_[A-Za-z0-9_]*}}' "$script" | sort -u | sed 's/{{PKG_//; s/}}//') || true
fwout="$bld/qemu-images"
fw_args=(--out "$fwout" --only 1.0.0)
declare -A vname=()
for v in $versions; do
  # PKG_1_2_0_BAD_HEALTH -> 1.2.0-bad-health
  name=$(echo "$v" | tr 'A-Z' 'a-z' | sed -E 's/^([0-9]+)_([0-9]+)_([0-9]+)_?/\1.\2.\3-/; s/-$//; s/_/-/g')
  vname[$v]=$name
  fw_args+=(--only "$name")
done
fw_args+=(--pack "${LP_PACK:-$(dirname "$(dirname "$LP_BACKEND")")/packager/loopline-pack}")
if [ "$target" = qemu-x86_64 ]; then
  fw_args+=(--agent "$LP_AGENT" --lib "$LP_LIB")
else # the agent cross-built into this build tree; the host copy of the selector with our lib
  fw_args+=(--cross-build "$bld/cross-${target#qemu-}" --host-lib "$LP_LIB")
fi
t_build=$(date +%s.%N)
pkgs=$("$src/qemu-images/firmware" "$target" "${fw_args[@]}" 2>"$tmp/firmware.log") ||
  { cat "$tmp/firmware.log" >&2; fail "qemu-images/firmware $target"; }
t_built=$(date +%s.%N)
base_a="$fwout/$target/1.0.0"
[ -f "$base_a/rootfs.ext4" ] || fail "no 1.0.0 build at $base_a"
signpub=$(ls "$fwout"/keys/*.pub.pem 2>/dev/null | head -n1 || true)
[ -n "$signpub" ] || signpub=$(ls "$fwout"/keys/*pub* 2>/dev/null | head -n1 || true)
[ -f "$signpub" ] || fail "no signing public key in $fwout/keys"

# --- PKI: the backend's certificate names the address the guest uses ------------------
pki="$tmp/pki"
"$src/scripts/make-pki" "$pki" --san IP:10.0.2.100,IP:127.0.0.1

# --- backend ---------------------------------------------------------------------------
jq -n --arg d "$tmp/backend" --arg pki "$pki" '{
  data_dir: $d, workers: 2, last_seen_flush_s: 1, shutdown_grace_s: 2,
  listen: {address: "127.0.0.1", port: 0},
  tls: {cert: ($pki + "/server.pem"), key: ($pki + "/server.key")},
  poll: {sleep_s: 1, min_sleep_s: 1, jitter_percent: 0}
}' > "$tmp/backend.json"
admin() { "$LP_BACKEND" --config "$tmp/backend.json" "$@"; }
admin tenant create lab >/dev/null
admin tenant add-key lab "$signpub" >/dev/null
device=dut-$target
token=$(admin device create --tenant lab "$device" | awk -v d="$device" '$1 == d { print $2 }')
[ -n "$token" ] || fail "no device token"
export LOOPLINE_TOKEN; LOOPLINE_TOKEN=$(admin token create --tenant lab --role admin)
# the log exists before the loop below reads it (the background job opens it later)
: > "$tmp/backend.log"
"$LP_BACKEND" --config "$tmp/backend.json" serve 2>>"$tmp/backend.log" &
backend_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*listening on https://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/backend.log" | head -n1)
  [ -n "$port" ] && break
  kill -0 "$backend_pid" 2>/dev/null || fail "backend exited at start"
  sleep 0.05
done
[ -n "$port" ] || fail "backend did not report its port"
export LOOPLINE_URL="https://127.0.0.1:$port" LOOPLINE_CACERT="$pki/ca.pem"
export CTL="$CTL_BIN" DEVICE="$device"
# API PATH: GET a management API resource (JSON on stdout)
export API="curl -sS --fail --max-time 20 --cacert $pki/ca.pem -H 'Authorization: Bearer $LOOPLINE_TOKEN' $LOOPLINE_URL/api/v1"
for v in $versions; do
  f="$pkgs/${vname[$v]}.lpkg"
  [ -f "$f" ] || fail "no package $f"
  id=$("$CTL_BIN" --json upload "$f" | jq -er .id) || fail "upload $f"
  export "PKG_$v=$id"
done

# --- disk: slot A = 1.0.0, identity on the data partition, qcow2 overlay ---------------
mkdir -p "$tmp/data"
cp "$pki/ca.pem" "$tmp/data/ca.pem"
jq -n --arg dev "$device" --arg tok "$token" '{
  device_id: $dev,
  backends: [{name: "lab", urls: ["https://10.0.2.100:8443"], tenant: "lab",
              target_token: $tok, ca_file: "/data/loopline/ca.pem"}],
  poll: {min_s: 1, max_s: 60, default_s: 2, jitter_percent: 0},
  download: {progress_interval_s: 1, backoff_min_ms: 200, backoff_max_ms: 2000}
}' > "$tmp/data/device.json"
"$src/qemu-images/mkdisk" "$base_a" "$tmp/disk.img" --data "$tmp/data" >/dev/null 2>"$tmp/mkdisk.log" ||
  { cat "$tmp/mkdisk.log" >&2; fail "mkdisk"; }
# the guest's link: one fault proxy per connection, all obeying one control file
export NET="$LP_MATRIX net --control $tmp/net.state"
if [ -n "${LP_E2E_NET:-}" ]; then
  # shellcheck disable=SC2086 # a mode and its argument
  $NET $LP_E2E_NET >/dev/null || fail "loopline-matrix net $LP_E2E_NET"
fi
fwd="$LP_MATRIX fault-proxy --control $tmp/net.state --log $tmp/fwd.log 127.0.0.1 $port"
mapfile -t argv < <("$src/qemu-images/run" "$target" --disk "$tmp/disk.img" \
  --overlay "$tmp/overlay.qcow2" --backend-port "$port" --forwarder "$fwd" ${LP_E2E_CPU:+--cpu "$LP_E2E_CPU"} --print-argv) ||
  fail "qemu-images/run --print-argv"
[ "${#argv[@]}" -gt 3 ] || fail "qemu-images/run printed no command line"
{
  echo "lab:"
  echo "  state_dir: $tmp/state"
  echo "boards:"
  echo "  dut:"
  echo "    target: $target"
  echo "    power:"
  echo "      driver: qemu"
  echo "      cycle: reset"
  echo "      argv:"
  for a in "${argv[@]}"; do printf '        - %s\n' "$(jq -Rn --arg a "$a" '$a')"; done
  echo "    console: {driver: qemu}"
  echo "    boot: {timeout: 120}"
} > "$inv"
"$LP_HIL" check-inventory "$inv" >/dev/null || fail "inventory"

# --- the scenario ------------------------------------------------------------------------
echo "firmware ready in $(echo "$t_built - $t_build" | bc) s; backend on port $port; scenario $scenario on $target"
hil_args=()
[ -n "${LP_E2E_ECHO:-}" ] && hil_args+=(--echo)
set +e
"$LP_HIL" -i "$inv" script dut "$script" ${hil_args[@]+"${hil_args[@]}"} | tee "$tmp/script.out"
rc=${PIPESTATUS[0]}
set -e
if [ -n "${LP_E2E_TIMES:-}" ]; then
  sed -n "s/^loopline-hil: mark /$target $scenario /p" "$tmp/script.out" >> "$LP_E2E_TIMES"
fi
[ "$rc" -eq 0 ] || fail "scenario $scenario on $target: loopline-hil script exited $rc"
# what the backend shows for the device: its actions and their last messages
"$CTL_BIN" actions --device "$device" 2>&1 | sed 's/^/backend: /' || true
echo "PASS: $scenario on $target"

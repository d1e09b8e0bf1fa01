#!/usr/bin/env bash
# loopline-devsim against a real backend over TLS: 50 simulated devices registered through
# the management API, a deployment to all of them with 20 % failing installs and 10 %
# rollbacks; the backend's action statuses, installed versions and action histories must
# match the simulator's report exactly. Then: a second run with the same --state reuses
# the devices, and a silent device stops polling.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}" "${CTL:?}" "${DEVSIM:?}"
make_certs
write_config '.poll = {sleep_s: 1, min_sleep_s: 1}'
admin tenant create t1 >/dev/null
"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
admin tenant add-key t1 "$TMP/sign.pub" >/dev/null
ADMIN=$(admin token create --tenant t1 --role admin)
OPER=$(admin token create --tenant t1 --role operator)
start_server
CA=$TMP/pki/ca.pem
API=(-H "Authorization: Bearer $ADMIN")
api() { local p=$1; shift; "${CURL[@]}" "${API[@]}" "$URL/api/v1/$p" "$@"; }
SIM=("$DEVSIM" run --register "$URL" --token "$OPER" --cacert "$CA" --state "$TMP/state.json"
     --count 50 --tags sim,lab --attr hardware_id=qemu-x86 --seed 7 --ramp 500ms --jitter 0.1)

# --- usage ---
check_eq "unknown option: exit 2" 2 "$("$DEVSIM" run --bogus 2>/dev/null; echo $?)"
check_eq "shares above 1: exit 2" 2 \
  "$("$DEVSIM" run --url "$URL" --tenant t1 --fail-share 0.7 --rollback-share 0.5 2>/dev/null; echo $?)"
check_eq "--register without --token: exit 2" 2 "$("$DEVSIM" run --register "$URL" 2>/dev/null; echo $?)"
check_eq "run --help names the exit codes" 1 "$("$DEVSIM" --help | grep -c '^  2 ')"
check_eq "devices without tokens: exit 1" 1 \
  "$("$DEVSIM" run --url "$URL" --tenant t1 --cacert "$CA" --duration 1 2>/dev/null; echo $?)"

# --- 1. registration: 50 devices through POST /api/v1/devices, first contact ---
"${SIM[@]}" --duration 2s --report "$TMP/reg.json" > "$TMP/reg.out" || fail "devsim registration run: $(cat "$TMP/reg.out")"
check_eq "50 devices registered" 50 "$(jq .totals.registered "$TMP/reg.json")"
check_eq "the backend lists them with their tags" 50 "$(api 'devices?tag=lab&limit=1' | jq .total)"
check_eq "configData reached the backend" '{"hardware_id":"qemu-x86","version":"1.0.0"}' \
  "$(api devices/sim-00001/attributes | jq -cS .)"
check_eq "every device polled" 0 "$(jq '[.devices[] | select(.polls < 1)] | length' "$TMP/reg.json")"
check_eq "no errors" '{}' "$(jq -c .totals.errors "$TMP/reg.json")"
grep -q '^devsim: 50 devices' "$TMP/reg.out" || fail "no summary line: $(cat "$TMP/reg.out")"
ok "one-line summary on stdout"

# --- 2. a deployment to every device; the simulator runs until the backend closed all ---
head -c 200000 /dev/urandom > "$TMP/payload"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw.lpkg" 2.0.0 "$TMP/payload"
PKG=$("$CTL" --url "$URL" --token "$ADMIN" --cacert "$CA" upload --json "$TMP/fw.lpkg" | jq -r .id)
check_eq "deploy to tag sim" 50 "$(api deployments -d "{\"package\":$PKG,\"tags\":[\"sim\"]}" | jq '.actions|length')"
"${SIM[@]}" --fail-share 0.2 --rollback-share 0.1 --install-time 300ms --reboot-time 300ms \
  --until "$TMP/stop" --duration 30s --report "$TMP/run.json" --json > "$TMP/run.out" 2>"$TMP/run.err" &
SIM_PID=$!
for _ in $(seq 1 250); do
  [ "$(api 'actions?active=1&limit=1' | jq .total)" == 0 ] && break
  kill -0 $SIM_PID 2>/dev/null || break
  sleep 0.1
done
touch "$TMP/stop"
rc=0
wait $SIM_PID || rc=$?
check_eq "devsim run exits 0" 0 "$rc"
check_eq "--json prints the report" 50 "$(jq .totals.devices "$TMP/run.out")"
check_eq "no new registrations with the same --state" "0 50" "$(jq -r '"\(.totals.registered) \(.totals.reused)"' "$TMP/run.json")"
check_eq "still 50 devices on the backend" 50 "$(api 'devices?limit=1' | jq .total)"
check_eq "no open actions left" 0 "$(api 'actions?active=1&limit=1' | jq .total)"
# fates come from --seed and the controller id, so the shares are only roughly met
N_FAIL=$(jq '[.devices[] | select(.fate == "fail")] | length' "$TMP/run.json")
N_RB=$(jq '[.devices[] | select(.fate == "rollback")] | length' "$TMP/run.json")
[ "$N_FAIL" -ge 4 ] && [ "$N_FAIL" -le 18 ] && [ "$N_RB" -ge 1 ] && [ "$N_RB" -le 11 ] ||
  fail "fates far from the shares: $N_FAIL fail, $N_RB rollback"
ok "fates near the shares ($N_FAIL fail, $N_RB rollback of 50)"
api 'actions?limit=1000' | jq -r '.items[] | "\(.device) \(.status)"' | sort > "$TMP/backend-status"
jq -r '.devices[] | "\(.cid) \(if .fate == "fail" or .fate == "rollback" then "ERROR" else "FINISHED" end)"' \
  "$TMP/run.json" | sort > "$TMP/sim-status"
diff "$TMP/sim-status" "$TMP/backend-status" > "$TMP/status.diff" || fail "statuses differ: $(cat "$TMP/status.diff")"
ok "the backend's FINISHED/ERROR match the simulator's fates for all 50"
check_eq "report counts" "$((50 - N_FAIL - N_RB)) $N_FAIL $N_RB" \
  "$(jq -r '.totals | "\(.updated) \(.failed) \(.rolled_back)"' "$TMP/run.json")"
check_eq "successful devices report 2.0.0" 0 \
  "$(jq '[.devices[] | select(.fate == "ok" and (.version_now != "2.0.0" or .updates_ok != 1))] | length' "$TMP/run.json")"
check_eq "failed devices stay on 1.0.0" 0 \
  "$(jq '[.devices[] | select(.fate != "ok" and .version_now != "1.0.0")] | length' "$TMP/run.json")"
OKDEV=$(jq -r '[.devices[] | select(.fate == "ok")][0].cid' "$TMP/run.json")
FAILDEV=$(jq -r '[.devices[] | select(.fate == "fail")][0].cid' "$TMP/run.json")
RBDEV=$(jq -r '[.devices[] | select(.fate == "rollback")][0].cid' "$TMP/run.json")
check_eq "backend: installed version of $OKDEV" 2.0.0 "$(api "devices/$OKDEV" | jq -r .installed.version)"
check_eq "backend: devices on 2.0.0" "$((50 - N_FAIL - N_RB))" "$(api 'devices?version=2.0.0&limit=1' | jq .total)"
check_eq "the version attribute follows the update" 2.0.0 "$(api "devices/$OKDEV/attributes" | jq -r .version)"
hist() { api "actions/$(api "actions?device=$1&limit=1" | jq -r '.items[0].id')" | jq -r '.history[].messages[]'; }
hist "$FAILDEV" > "$TMP/fail.hist"
grep -qx 'install failed: writing slot B: simulated I/O error' "$TMP/fail.hist" || fail "install failure text: $(cat "$TMP/fail.hist")"
grep -qx 'version: running 1.0.0, offered 2.0.0' "$TMP/fail.hist" || fail "versions detail: $(cat "$TMP/fail.hist")"
ok "the install failure's details reached the backend"
hist "$RBDEV" > "$TMP/rb.hist"
grep -qxE 'rolled back to slot A \(version 1.0.0\): health check failed: simulated|slot B with version 2.0.0 did not come up: the bootloader fell back to slot A' \
  "$TMP/rb.hist" || fail "rollback text: $(cat "$TMP/rb.hist")"
grep -qx 'slot: running A, update target B' "$TMP/rb.hist" || fail "slot detail: $(cat "$TMP/rb.hist")"
ok "the rollback's details reached the backend"
check_eq "every rollback reached the backend with the agent's text" "$N_RB" "$(for d in $(jq -r '.devices[] | select(.fate == "rollback") | .cid' "$TMP/run.json"); do
  hist "$d"; done | grep -cE '^(rolled back to slot A \(version 1.0.0\): health|slot B with version 2.0.0 did not come up)')"
P99=$(jq .totals.poll_p99_ms "$TMP/run.json")
[ "$(jq '.totals.poll_p99_ms > 0 and .totals.poll_p99_ms >= .totals.poll_p50_ms' "$TMP/run.json")" == true ] ||
  fail "p99 not reported: $P99"
ok "poll p99 reported ($P99 ms, $(jq .totals.polls "$TMP/run.json") polls, $(jq .totals.updated_per_s "$TMP/run.json") updated/s)"
check_eq "the state file keeps the new versions" 2.0.0 \
  "$(jq -r --arg d "$OKDEV" '.devices[] | select(.cid == $d) | .version' "$TMP/state.json")"

# --- 3. silent devices stop polling; a late joiner with other indices shares the state ---
"${SIM[@]}" --silent-share 0.3 --silent-after 1s --poll-override 300ms --duration 4s \
  --report "$TMP/silent.json" > /dev/null || fail "devsim silent run"
SILENT=$(jq -r '[.devices[] | select(.fate == "silent")][0].cid' "$TMP/silent.json")
LIVE=$(jq -r '[.devices[] | select(.fate != "silent")][0].cid' "$TMP/silent.json")
check_eq "silent devices are reported" "$(jq '[.devices[] | select(.fate == "silent")] | length' "$TMP/silent.json")" \
  "$(jq .totals.silent "$TMP/silent.json")"
sleep 1.5 # last_seen is flushed every second
S_SEEN=$(api "devices/$SILENT" | jq .last_seen)
L_SEEN=$(api "devices/$LIVE" | jq .last_seen)
[ $((L_SEEN - S_SEEN)) -ge 2 ] || fail "silent device $SILENT last seen $S_SEEN, live $LIVE $L_SEEN"
ok "the silent device's last_seen stopped ($((L_SEEN - S_SEEN)) s behind a live one)"
"$DEVSIM" run --register "$URL" --token "$OPER" --cacert "$CA" --state "$TMP/state.json" \
  --count 5 --start-index 51 --duration 1s --report "$TMP/late.json" > /dev/null || fail "late joiner"
check_eq "the late joiner registered 5 more" 55 "$(jq '.devices|length' "$TMP/state.json")"
check_eq "the first 50 kept their versions in the state" "$((50 - N_FAIL - N_RB))" \
  "$(jq '[.devices[] | select(.version == "2.0.0")] | length' "$TMP/state.json")"

# --- 4. a backend restart: devices keep polling with backoff and come back ---
"${SIM[@]}" --poll-override 200ms --backoff-max 1s --duration 5s --report "$TMP/restart.json" > /dev/null &
SIM_PID=$!
sleep 1
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=
sleep 1
start_server
rc=0
wait $SIM_PID || rc=$?
check_eq "devsim survives a backend restart" 0 "$rc"
[ "$(jq '.totals.errors.connect // 0' "$TMP/restart.json")" -gt 0 ] || fail "no connect errors counted: $(jq -c .totals.errors "$TMP/restart.json")"
ok "connection errors counted ($(jq -c .totals.errors "$TMP/restart.json"))"
LAST=$(api "devices/sim-00002" | jq .last_seen)
[ "$LAST" -ge "$(($(date +%s) - 3))" ] || fail "sim-00002 did not poll after the restart"
ok "devices polled again after the restart"
echo "PASS: $PASS checks"

#!/usr/bin/env bash
# Continuous deployment end to end (docs/rollouts.md, docs/alarms.md): the real
# `loopline-matrix gate --post` decides, an operator approves, a rollout in 4 waves runs
# over 500 devices simulated by loopline-devsim (real DDI over TLS):
#   - a release whose gate failed: the rollout is refused;
#   - a release pending approval: the rollout waits and nothing is assigned until approved;
#   - 20 % of the devices fail: the rollout pauses in the wave where failures first reach
#     the error threshold (computed from the simulator's fates and the rollout's waves),
#     and the rollout_paused alarm reaches the Telegram stand-in, the webhook receiver
#     (signature checked) and the SMTP server (STARTTLS) with the exact title;
#   - a second release runs to done over every device, with a device registering late
#     joining it and the backend SIGKILLed mid-rollout: it continues where it was, each
#     device gets exactly one action, no wave starts twice, and the rollout_done alarm is
#     delivered once.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}" "${CTL:?}" "${DEVSIM:?}" "${MATRIX:?}" "${FAKE:?}"
make_certs
. "$(dirname "$0")/lib-alarms.sh"
SIM_PID=
stop_sim() { [ -z "$SIM_PID" ] || { kill -TERM "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=; }; }
trap 'stop_sim; stop_sinks; cleanup' EXIT
write_config '.poll = {sleep_s: 1, min_sleep_s: 1} | .rollout_tick_ms = 200 | .log_requests = false
  | .alarms = {eval_interval_s: 1, retry_min_s: 1, retry_max_s: 2, send_timeout_s: 3}'
admin tenant create t1 >/dev/null
"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
admin tenant add-key t1 "$TMP/sign.pub" >/dev/null
OPER=$(admin token create --tenant t1 --role operator --label alice)
CI=$(admin token create --tenant t1 --role ci --label nightly)
start_https
start_smtp
start_server
API=$URL/api/v1
ctl() { local t=$1; shift; "$CTL" --url "$URL" --token "$t" --cacert "$TMP/pki/ca.pem" "$@"; }
api() { "${CURL[@]}" -H "Authorization: Bearer $OPER" "$API/$1"; }
gate() { "$MATRIX" --out "$TMP/$1" gate --post "$API/releases/$2/gate" --release "$2" --token "$CI" --cacert "$TMP/pki/ca.pem"; }
SIM=(--register "$URL" --token "$OPER" --cacert "$TMP/pki/ca.pem" --state "$TMP/fleet.json"
     --tags fleet --seed 11 --install-time 300ms --reboot-time 500ms --backoff-max 1s --connections 32)
sim() { "$DEVSIM" run "${SIM[@]}" "$@" >> "$TMP/sim.log" 2>&1 & SIM_PID=$!; }
rollout() { api "rollouts/$1"; }
for v in 1.9.0 2.0.0 2.1.0; do
  head -c 20000 /dev/urandom > "$TMP/payload"
  "$MKPKG" build "$TMP/sign.key" "$TMP/fw-$v.lpkg" "$v" "$TMP/payload"
  ctl "$CI" --json upload "$TMP/fw-$v.lpkg" | jq -r .id > "$TMP/pkg-$v"
  ctl "$CI" release create "$v" --package "$(cat "$TMP/pkg-$v")" >/dev/null
done
for c in "$TG" "$HOOK" "$MAIL"; do
  check_eq "channel $(jq -r .name <<<"$c")" 201 "$(http_code POST "$API/alarm-channels" -H "Authorization: Bearer $OPER" -d "$c")"
done
ctl "$OPER" alarm-rule add paused --kind rollout_paused --channel tg --channel hook --channel mail >/dev/null
ctl "$OPER" alarm-rule add done --kind rollout_done --channel hook >/dev/null

# --- 500 devices register (1.0.0, tag fleet) ---
"$DEVSIM" run "${SIM[@]}" --count 500 --duration 1s > "$TMP/reg.out" 2>&1 || fail "registration: $(cat "$TMP/reg.out")"
check_eq "500 devices registered" 500 "$(api 'devices?tag=fleet&limit=1' | jq .total)"

# --- a failed gate: no rollout ---
"$FAKE" "$TMP/all" all >/dev/null
"$FAKE" "$TMP/pass" pass >/dev/null
gate all 1.9.0 > "$TMP/gate.out" 2>&1 && fail "a failing gate exits 0"
check_eq "rollout of a release whose gate failed: exit 22" 22 "$(ctl "$OPER" rollout create 1.9.0 --tag fleet 2>"$TMP/err"; echo $?)"
check_eq "and says why" "gate_not_passed" "$(grep -o gate_not_passed "$TMP/err" | head -n1)"

# --- pending approval: the rollout waits, nothing is assigned ---
gate pass 2.0.0 > "$TMP/gate.out" 2>&1 || fail "gate pass: $(cat "$TMP/gate.out")"
check_eq "gate passed, pending operator approval" gate-passed "$(api releases/2.0.0 | jq -r .state)"
RO=$(ctl "$OPER" --json rollout create 2.0.0 --tag fleet --waves 1,10,50,100 --soak 1 --success 80 --error 10 --seed 5 | jq -r .id)
check_eq "rollout created waiting for approval" waiting-approval "$(rollout "$RO" | jq -r .state)"
sim --count 500 --fail-share 0.2 --report "$TMP/report-a.json" --until "$TMP/stop-a"
wait_for "every device polled and reported its version" "[ \$(api 'firmware/in-use' | jq '[.items[].devices] | add // 0') -ge 500 ]" 30
sleep 2 # a "nothing happens" check: two more poll intervals of 500 devices
check_eq "pending approval: no action assigned" 0 "$(api 'actions?limit=1' | jq .total)"
ctl "$OPER" release approve 2.0.0 >/dev/null
wait_for "the rollout pauses" "[ \"\$(rollout $RO | jq -r .state)\" = paused ]" 60
R=$(rollout "$RO")
touch "$TMP/stop-a"; wait "$SIM_PID" || true; SIM_PID=
check_eq "wave sizes 1/10/50/100 % of 500" "5 45 200 250" "$(jq -r '[.waves[].devices] | join(" ")' <<<"$R")"
api "rollouts/$RO/devices?limit=1000" | jq -c '[.items[] | {key: .device, value: .wave}] | from_entries' > "$TMP/waves.json"
# The expected wave: the first where the devices doomed to fail reach 10 % of its size.
EXP=$(jq -r --slurpfile w "$TMP/waves.json" '[.devices[] | {wave: $w[0][.cid], fail: (.fate == "fail")}]
  | group_by(.wave) | map({wave: .[0].wave, n: length, f: ([.[] | select(.fail)] | length)})
  | map(select(.f * 100 >= 10 * .n)) | .[0].wave' "$TMP/report-a.json")
check_eq "paused in the wave the fates predict" "$EXP" "$(jq -r .current_wave <<<"$R")"
check_eq "the reason names the wave" "paused in wave $EXP of 4" "$(jq -r .reason <<<"$R" | grep -o "paused in wave $EXP of 4")"
check_eq "nothing handed out beyond that wave" 0 "$(jq "[.waves[$EXP:][].assigned] | add // 0" <<<"$R")"
check_eq "release paused" paused "$(api releases/2.0.0 | jq -r .state)"
TITLE="Rollout $RO (release 2.0.0) paused"
wait_for "the paused alarm at the webhook" "grep -q rollout_paused $TMP/out/webhook.jsonl"
check_eq "webhook: kind and title (signature verified by the receiver)" "rollout_paused $TITLE" \
  "$(jq -r 'select(.kind=="rollout_paused") | "\(.kind) \(.title)"' "$TMP/out/webhook.jsonl")"
wait_for "the paused alarm on telegram" "grep -q paused $TMP/out/telegram.jsonl"
check_eq "telegram: the title first" "$TITLE" "$(jq -r '.text | split("\n")[0]' "$TMP/out/telegram.jsonl")"
wait_for "the paused alarm by mail" "ls $TMP/out/mail-*.eml"
check_eq "mail subject" "Subject: [Loopline warning] $TITLE" "$(grep -m1 '^Subject:' "$TMP"/out/mail-1.eml | tr -d '\r')"
check_eq "mail body: the engine's reason" 1 "$(grep -c "paused in wave $EXP of 4" "$TMP"/out/mail-1.eml)"
check_eq "no signature refused" 0 "$(cat "$TMP/out/refused.log" 2>/dev/null | wc -l)"
ctl "$OPER" rollout cancel "$RO" --reason "20 % fail in the canary waves" >/dev/null
check_eq "cancelled" "cancelled cancelled" "$(rollout "$RO" | jq -r .state) $(api releases/2.0.0 | jq -r .state)"

# --- 2.1.0 to done: a late joiner, and a SIGKILL mid-rollout ---
gate pass 2.1.0 > "$TMP/gate.out" 2>&1 || fail "gate pass 2.1.0"
ctl "$OPER" release approve 2.1.0 >/dev/null
sim --count 500 --report "$TMP/report-b.json" --until "$TMP/stop-b"
RO2=$(ctl "$OPER" --json rollout create 2.1.0 --tag fleet --waves 1,10,50,100 --soak 2 --success 95 --error 10 | jq -r .id)
wait_for "wave 3 runs" "[ \"\$(rollout $RO2 | jq -r .current_wave)\" = 3 ]" 60
"$DEVSIM" run "${SIM[@]}" --start-index 501 --count 1 --report "$TMP/report-late.json" --until "$TMP/stop-b" >> "$TMP/sim-late.log" 2>&1 &
LATE_PID=$!
wait_for "the late device joins" "api 'rollouts/$RO2/devices?limit=1000' | jq -e '.items[] | select(.device==\"sim-00501\")'"
W=$(rollout "$RO2" | jq -r .current_wave)
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
ok "backend SIGKILLed in wave $W of rollout $RO2"
start_server
wait_for "the rollout is done after the restart" "[ \"\$(rollout $RO2 | jq -r .state)\" = done ]" 90
R=$(rollout "$RO2")
check_eq "release done" done "$(api releases/2.1.0 | jq -r .state)"
check_eq "501 members, all on 2.1.0 or running it" 501 "$(jq '[.waves[].devices] | add' <<<"$R")"
check_eq "each member has exactly one action" 0 \
  "$(api 'actions?limit=1000' | jq --argjson first "$(cat "$TMP/pkg-2.1.0")" '[.items[] | select(.package==$first) | .device] | group_by(.) | map(select(length > 1)) | length')"
check_eq "each wave started once" 3 "$(api 'events?type=rollout.wave_started&limit=1000' | jq "[.items[] | select(.message | startswith(\"rollout $RO2 \"))] | length")"
wait_for "the done alarm at the webhook" "grep -q rollout_done $TMP/out/webhook.jsonl"
sleep 2 # "not twice": two more evaluation and delivery rounds
check_eq "the done alarm delivered once" 1 "$(grep -c rollout_done "$TMP/out/webhook.jsonl")"
check_eq "no alarm delivered twice" 0 "$(jq -r .id "$TMP/out/webhook.jsonl" | sort | uniq -d | wc -l)"
touch "$TMP/stop-b"; wait "$SIM_PID" || true; SIM_PID=; wait "$LATE_PID" || true
check_eq "the late joiner updated" 2.1.0 "$(jq -r '.devices[0].version_now' "$TMP/report-late.json")"
check_eq "ctl rollout show draws the waves" 4 "$(ctl "$OPER" rollout show "$RO2" | grep -c '^  wave .*done$')"
stop_server
stop_sinks
echo "PASS: $PASS checks"

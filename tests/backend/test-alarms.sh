#!/usr/bin/env bash
# Alarms (docs/alarms.md, docs/api.md "Alarms"): real DDI feedback from devices raises
# rollback / update_failed / boot_failures alarms, a device that stops polling raises
# device_silent once; deliveries to a Telegram stand-in and a webhook receiver over real
# TLS (the receiver checks the HMAC signature itself) and to an SMTP server that requires
# STARTTLS; dedupe; a channel that is down gets retries and exactly one delivery once it is
# back; a SIGKILLed backend delivers its pending outbox after a restart, none twice;
# secrets never in API answers or the log.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}" "${CTL:?}"
make_certs
. "$(dirname "$0")/lib-alarms.sh"
write_config '.poll = {sleep_s: 1, min_sleep_s: 1} | .alarms = {eval_interval_s: 1, retry_min_s: 1, retry_max_s: 2, send_timeout_s: 3}'
admin tenant create t1 >/dev/null
"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
admin tenant add-key t1 "$TMP/sign.pub" >/dev/null
admin device create --tenant t1 dev1 dev2 > "$TMP/devices"
OPER=$(admin token create --tenant t1 --role operator)
VIEW=$(admin token create --tenant t1 --role viewer)
start_smtp
start_server
API=$URL/api/v1
AUTH=(-H "Authorization: Bearer $OPER")
VAUTH=(-H "Authorization: Bearer $VIEW")
ctl() { "$CTL" --url "$URL" --token "$OPER" --cacert "$TMP/pki/ca.pem" "$@"; }
api() { "${CURL[@]}" "${VAUTH[@]}" "$API/$1"; }

# --- channels and rules ---
check_eq "viewer cannot add a channel: 403" 403 "$(http_code POST "$API/alarm-channels" "${VAUTH[@]}" -d "$TG")"
check_eq "unknown config key: 400" 400 "$(http_code POST "$API/alarm-channels" "${AUTH[@]}" -d "$(jq -c '.config.colour = 1' <<<"$TG")")"
check_eq "the message names the path" "config.colour" "$(jq -r '.error.message | split(":")[0]' "$TMP/body")"
check_eq "webhook without a key: 400" "config.key" "$(http_code POST "$API/alarm-channels" "${AUTH[@]}" -d "$(jq -c 'del(.config.key)' <<<"$HOOK")" >/dev/null; jq -r '.error.message | split(":")[0]' "$TMP/body")"
check_eq "plain http webhook refused: 400" 400 "$(http_code POST "$API/alarm-channels" "${AUTH[@]}" -d "$(jq -c '.config.url = "http://127.0.0.1/x"' <<<"$HOOK")")"
for c in "$TG" "$HOOK" "$MAIL"; do
  check_eq "add channel $(jq -r .name <<<"$c")" 201 "$(http_code POST "$API/alarm-channels" "${AUTH[@]}" -d "$c")"
done
check_eq "same name again: 409" 409 "$(http_code POST "$API/alarm-channels" "${AUTH[@]}" -d "$TG")"
CH=$(api alarm-channels)
check_eq "channels list, secret_set" "tg:true hook:true mail:true" "$(jq -r '[.items[] | "\(.name):\(.config.secret_set)"] | join(" ")' <<<"$CH")"
for s in "$BOT" "$SMTPPW" "$WKEY"; do grep -qF -- "$s" <<<"$CH" && fail "GET alarm-channels shows a secret"; done
ok "GET alarm-channels never contains a secret"
HOOK_ID=$(jq -r '.items[] | select(.name=="hook") | .id' <<<"$CH")
check_eq "PATCH without the secret keeps it" "200 true" "$(http_code PATCH "$API/alarm-channels/$HOOK_ID" "${AUTH[@]}" \
  -d "$(jq -c '{config: (.config | del(.key))}' <<<"$HOOK")") $(jq -r .config.secret_set "$TMP/body")"
rule() { http_code POST "$API/alarm-rules" "${AUTH[@]}" -d "$1"; }
check_eq "rule with an unknown channel: 400" 400 "$(rule '{"name":"r","kind":"rollback","channels":["nope"]}')"
check_eq "rule with bad params: 400" "params.colour" "$(rule '{"name":"r","kind":"boot_failures","channels":["hook"],"params":{"colour":1}}' >/dev/null; jq -r '.error.message | split(":")[0]' "$TMP/body")"
check_eq "rule rollback" 201 "$(rule '{"name":"rollbacks","kind":"rollback","channels":["tg","hook","mail"]}')"
check_eq "rule update_failed" 201 "$(rule '{"name":"failures","kind":"update_failed","channels":["hook"]}')"
check_eq "rule boot_failures" 201 "$(rule '{"name":"boots","kind":"boot_failures","channels":["hook"],"params":{"count":2,"window_s":600}}')"
check_eq "rules list" "rollbacks:rollback:3600 failures:update_failed:3600 boots:boot_failures:3600" \
  "$(api alarm-rules | jq -r '[.items[] | "\(.name):\(.kind):\(.dedupe_s)"] | join(" ")')"

# --- loopline-ctl ---
jq '.config' <<<"$HOOK" > "$TMP/hook2.json"
check_eq "ctl alarm-channel add (config from a file)" "hook2 webhook enabled secret set" \
  "$(ctl alarm-channel add hook2 --kind webhook --config "$TMP/hook2.json" | awk '{print $2, $3, $4, $5, $6}')"
check_eq "ctl alarm-channel list" "tg hook mail hook2" "$(ctl alarm-channel list | awk '$1 ~ /^[0-9]+$/ {print $2}' | paste -sd' ')"
check_eq "ctl alarm-rule add" "spare rollout_paused dedupe 600s -> hook2" \
  "$(ctl alarm-rule add spare --kind rollout_paused --channel hook2 --dedupe 600 | awk '{$1=""; print substr($0, 2)}' | tr -s ' ')"
SPARE=$(ctl --json alarm-rule list | jq '.items[] | select(.name=="spare") | .id')
check_eq "ctl alarm-rule remove" "0 3" "$(ctl alarm-rule remove "$SPARE"; echo "$? $(ctl --json alarm-rule list | jq .total)")"
H2=$(ctl --json alarm-channel list | jq '.items[] | select(.name=="hook2") | .id')
check_eq "ctl alarm-channel remove" "0 3" "$(ctl alarm-channel remove "$H2"; echo "$? $(ctl --json alarm-channel list | jq .total)")"
check_eq "ctl usage error without --kind: exit 2" 2 "$(ctl alarm-rule add x --channel hook 2>/dev/null; echo $?)"

# --- devices report through the real DDI API ---
head -c 50000 /dev/urandom > "$TMP/payload"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw.lpkg" 1.1.0 "$TMP/payload"
ctl upload "$TMP/fw.lpkg" >/dev/null || fail "upload"
PKG=$(api packages | jq '.items[0].id')
report_failure() { # DEVICE DETAIL: deploys to DEVICE, which polls and reports closed/failure
  local dev=$1 tok act
  tok=$(awk -v d="$dev" '$1==d{print $2}' "$TMP/devices")
  act=$("${CURL[@]}" "${AUTH[@]}" "$API/deployments" -d "{\"package\":$PKG,\"devices\":[\"$dev\"]}" | jq -r '.actions[0].id')
  "${CURL[@]}" -H "Authorization: TargetToken $tok" "$URL/t1/controller/v1/$dev" >/dev/null
  [ "$(http_code POST "$URL/t1/controller/v1/$dev/deploymentBase/$act/feedback" -H "Authorization: TargetToken $tok" \
    -d "$(jq -nc --arg m "$2" '{status: {execution: "closed", result: {finished: "failure"}, details: [$m, "journal: more"]}}')")" = 200 ] || fail "feedback of $dev"
}
RB='rolled back to slot A (version 1.0.0): health check app-check failed: exit 3'
report_failure dev1 "$RB"
wait_for "the rollback mail" "[ -f $TMP/out/mail-1.eml ]"
M=$TMP/out/mail-1.eml
check_eq "mail over STARTTLS, envelope" "yes <loopline@example.com> ops@example.com,oncall@example.com" \
  "$(sed -n 's/^X-TLS: //p' "$M" | tr -d '\r') <$(sed -n 's/^X-Envelope-From: //p' "$M" | tr -d '\r')> $(sed -n 's/^X-Envelope-To: //p' "$M" | tr -d '\r')"
check_eq "mail headers" "From: loopline@example.com|To: ops@example.com, oncall@example.com|Subject: [Loopline error] Update rolled back on dev1" \
  "$(grep -E '^(From|To|Subject):' "$M" | tr -d '\r' | paste -sd'|')"
grep -qE '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} ' "$M" && grep -qE '^Message-ID: <alarm-[0-9]+\.[0-9]+\.t1@loopline>' "$M" || fail "Date or Message-ID"
ok "mail has Date and Message-ID"
check_eq "mail body" "Device dev1 rolled back (action 1). Reason: health check app-check failed: exit 3|Agent: $RB||Rule: rollbacks (rollback)|Device: dev1" \
  "$(sed '1,/^\r$/d' "$M" | tr -d '\r' | head -n 5 | paste -sd'|')"
wait_for "a failed attempt recorded" "[ \"\$(api alarms | jq -r '.items[0].deliveries[] | select(.channel==\"tg\") | .attempts')\" -ge 1 ]"
A=$(api alarms)
check_eq "the HTTPS channels are down: pending with the error" "pending Couldn't connect to server" \
  "$(jq -r '.items[0].deliveries[] | select(.channel=="hook") | "\(.state) \(.last_error)"' <<<"$A")"
check_eq "the mail is sent" sent "$(jq -r '.items[0].deliveries[] | select(.channel=="mail") | .state' <<<"$A")"
start_https
wait_for "telegram and webhook delivered" "[ \"\$(api alarms | jq -r '[.items[0].deliveries[].state] | join(\" \")')\" = 'sent sent sent' ]"
check_eq "telegram got it once" "1 -1001" "$(wc -l < "$TMP/out/telegram.jsonl") $(jq -r .chat_id "$TMP/out/telegram.jsonl")"
check_eq "telegram text" "Update rolled back on dev1" "$(jq -r '.text | split("\n")[0]' "$TMP/out/telegram.jsonl")"
check_eq "webhook got it once, signature verified" "1 rollback dev1 rollbacks" \
  "$(wc -l < "$TMP/out/webhook.jsonl") $(jq -r '"\(.kind) \(.device) \(.rule)"' "$TMP/out/webhook.jsonl")"

# --- a failure without a rollback; dedupe; repeated boot failures ---
report_failure dev2 "installation failed: write error on /dev/mmcblk0p3"
wait_for "update_failed at the webhook" "grep -q update_failed $TMP/out/webhook.jsonl"
check_eq "update_failed alarm" "Update failed on dev2" "$(jq -r 'select(.kind=="update_failed") | .title' "$TMP/out/webhook.jsonl")"
BOOT='slot B with version 1.1.0 did not come up: the bootloader fell back to slot A'
report_failure dev1 "$BOOT"
report_failure dev1 "$BOOT"
wait_for "boot_failures at the webhook" "grep -q boot_failures $TMP/out/webhook.jsonl"
A=$(api alarms)
check_eq "second and third rollback of dev1 suppressed (dedupe)" "true true false" \
  "$(jq -r '[.items[] | select(.kind=="rollback") | .suppressed] | join(" ")' <<<"$A")"
check_eq "suppressed alarms have no deliveries" 0 "$(jq '[.items[] | select(.suppressed) | .deliveries[]] | length' <<<"$A")"
check_eq "the boot-failure rollback's reason" "Boot failure: rolled back on dev1" "$(jq -r '[.items[] | select(.kind=="rollback")][0].title' <<<"$A")"
check_eq "one boot_failures alarm" 1 "$(jq '[.items[] | select(.kind=="boot_failures")] | length' <<<"$A")"
check_eq "a failure without rollback raised no rollback alarm" 0 "$(jq '[.items[] | select(.kind=="rollback" and .device=="dev2")] | length' <<<"$A")"

# --- device_silent: once per silence (poll interval 1 s, 3 intervals) ---
check_eq "rule device_silent" 201 "$(rule '{"name":"silent","kind":"device_silent","channels":["hook"],"params":{"intervals":3}}')"
wait_for "silent dev1 and dev2" "[ \"\$(jq -r 'select(.kind==\"device_silent\") | .device' $TMP/out/webhook.jsonl | sort | paste -sd' ')\" = 'dev1 dev2' ]"
sleep 3 # three more evaluations: the silence must not raise again
check_eq "raised once per silence" 2 "$(grep -c device_silent "$TMP/out/webhook.jsonl")"

# --- SIGKILL with pending deliveries ---
stop_https
check_eq "test alarm queued" 202 "$(http_code POST "$API/alarm-channels/$HOOK_ID/test" "${AUTH[@]}")"
TEST_ALARM=$(jq -r .alarm "$TMP/body")
wait_for "an attempt failed" "[ \"\$(api alarms | jq -r '.items[] | select(.id==$TEST_ALARM) | .deliveries[0].attempts')\" -ge 1 ]"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
cp "$TMP/server.log" "$TMP/server.log.1"
start_https
start_server
wait_for "the test alarm after the restart" "grep -q '\"kind\": \"test\"' $TMP/out/webhook.jsonl"
wait_for "marked sent" "[ \"\$(api alarms | jq -r '.items[] | select(.id==$TEST_ALARM) | .deliveries[0].state')\" = sent ]"
check_eq "delivered once after the restart" 1 "$(grep -c '"kind": "test"' "$TMP/out/webhook.jsonl")"
check_eq "no signature was refused" 0 "$(cat "$TMP/out/refused.log" 2>/dev/null | wc -l)"
check_eq "each webhook alarm delivered once" 0 "$(jq -r .id "$TMP/out/webhook.jsonl" | sort | uniq -d | wc -l)"

check_eq "ctl alarms shows the deliveries" "sent" "$(ctl alarms | awk -v id="$TEST_ALARM" '$1==id {getline; print $3}')"
check_eq "ctl alarms --json" "$(api alarms | jq .total)" "$(ctl --json alarms | jq .total)"

# --- secrets never logged; clean shutdown ---
stop_server
for s in "$BOT" "$SMTPPW" "$WKEY"; do
  grep -qF -- "$s" "$TMP/server.log" "$TMP/server.log.1" && fail "the log holds a secret"
done
ok "no secret in the backend's log"
grep -q "delivered to channel hook" "$TMP/server.log.1" || fail "deliveries are logged"
ok "deliveries are logged (without URLs)"
stop_sinks
echo "all $PASS checks passed"

#!/usr/bin/env bash
# Management API and loopline-ctl: roles, paging and filters, resumable uploads (an upload
# interrupted and resumed by the C client), verification of .lpkg uploads (tampered,
# unsigned, oversize), deployments by tag, cancel, events, error bodies.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}" "${CTL:?}"
make_certs
write_config '.limits = {max_upload_bytes: 2000000}'
admin tenant create t1 >/dev/null
admin tenant create t2 >/dev/null
"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
"$MKPKG" keygen "$TMP/rogue.key" "$TMP/rogue.pub"
admin tenant add-key t1 "$TMP/sign.pub" >/dev/null
# --- loopline-backend's command line (lib/cli.h): usage errors before the configuration ---
check_eq "tenant create: an existing tenant exits 14" 14 "$(admin tenant create t1 2>/dev/null; echo $?)"
check_eq "usage errors do not read the configuration" "2 loopline-backend tenant create: unexpected argument 'y'" \
  "$("$BACKEND" --config /nonexistent tenant create x y 2>"$TMP/err"; echo "$? $(head -n1 "$TMP/err")")"
check_eq "a bad role is a usage error" 2 "$(admin token create --tenant t1 --role god 2>/dev/null; echo $?)"
check_eq "token create for a missing tenant exits 24" 24 "$(admin token create --tenant nope --role viewer 2>/dev/null; echo $?)"
check_eq "tenant list --json (sorted)" '["t1","t2"]' "$(admin tenant list --json | jq -c .tenants)"
check_eq "check-config --json" "true 2" "$(admin check-config --json | jq -r '"\(.valid) \(.workers)"')"
check_eq "--config after the command" t1 "$("$BACKEND" tenant list --config "$CFG" | head -n1)"
check_eq "COMMAND --help works without a configuration" 0 "$("$BACKEND" --config /nonexistent device create --help >/dev/null; echo $?)"
ADMIN=$(admin token create --tenant t1 --role admin)
OPER=$(admin token create --tenant t1 --role operator)
CI=$(admin token create --tenant t1 --role ci)
VIEW=$(admin token create --tenant t1 --role viewer)
OTHER=$(admin token create --tenant t2 --role admin)
start_server
API=$URL/api/v1
auth() { echo "Authorization: Bearer $1"; }
ctl() { "$CTL" --url "$URL" --token "$ADMIN" --cacert "$TMP/pki/ca.pem" "$@"; }

# --- auth and roles ---
check_eq "no token: 401" 401 "$(http_code GET "$API/devices")"
check_json "error body" '{"error":{"code":"unauthorized","message":"missing or invalid bearer token"}}' "$(cat "$TMP/body")"
check_eq "bad token: 401" 401 "$(http_code GET "$API/devices" -H "$(auth t1.nope)")"
check_eq "viewer reads" 200 "$(http_code GET "$API/devices" -H "$(auth "$VIEW")")"
check_eq "viewer cannot register devices: 403" 403 "$(http_code POST "$API/devices" -H "$(auth "$VIEW")" -d '{"controller_id":"x"}')"
check_eq "ci cannot deploy: 403" 403 "$(http_code POST "$API/deployments" -H "$(auth "$CI")" -d '{}')"
check_eq "bad JSON: 400" 400 "$(http_code POST "$API/devices" -H "$(auth "$OPER")" -d '{"controller_id":')"
check_eq "bad JSON error code" bad_json "$(jq -r .error.code "$TMP/body")"
check_eq "unknown key: 400" 400 "$(http_code POST "$API/devices" -H "$(auth "$OPER")" -d '{"controller_id":"a","colour":"red"}')"
grep -q colour "$TMP/body" || fail "unknown key not named: $(cat "$TMP/body")"; ok "unknown key is named in the message"

# --- devices: registration, tags, paging, filters ---
for i in 1 2 3 4 5; do
  tag=$([ $((i % 2)) -eq 1 ] && echo odd || echo even)
  check_eq "register dev$i" 201 "$(http_code POST "$API/devices" -H "$(auth "$OPER")" -d "{\"controller_id\":\"dev$i\",\"tags\":[\"$tag\",\"lab\"]}")"
done
check_eq "device token returned once" 32 "$(jq -r '.token|length' "$TMP/body")"
check_eq "duplicate device: 409" 409 "$(http_code POST "$API/devices" -H "$(auth "$OPER")" -d '{"controller_id":"dev1"}')"
check_eq "paging" '3 2 2 ["dev3","dev4"]' "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/devices?offset=2&limit=2" | jq -c '"\(.items|length + 1) \(.offset) \(.limit) \([.items[].controller_id])"' -r)"
check_eq "total" 5 "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/devices?limit=1" | jq .total)"
check_eq "filter by tag" '["dev2","dev4"]' "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/devices?tag=even" | jq -c '[.items[].controller_id]')"
check_eq "filter by text" '["dev3"]' "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/devices?q=v3" | jq -c '[.items[].controller_id]')"
check_eq "bad paging: 400" 400 "$(http_code GET "$API/devices?limit=0" -H "$(auth "$VIEW")")"
check_eq "tags replaced" '["blue"]' "$("${CURL[@]}" -H "$(auth "$OPER")" -X PUT "$API/devices/dev5/tags" -d '{"tags":["blue"]}' | jq -c .tags)"
check_eq "unknown device: 404" 404 "$(http_code GET "$API/devices/nope" -H "$(auth "$VIEW")")"
check_eq "tenants are separate" 0 "$("${CURL[@]}" -H "$(auth "$OTHER")" "$API/devices" | jq .total)"
check_eq "ctl devices --json" '["dev1","dev3"]' "$(ctl devices --tag odd --limit 2 --json | jq -c '[.items[].controller_id]')"
ctl devices | grep -q '^dev4 ' || fail "ctl devices table"; ok "ctl devices table"
check_eq "ctl device show" "device:     dev2" "$(ctl device show dev2 | head -n1)"
check_eq "ctl on a missing device exits 24 (not found)" 24 "$(ctl device show nope 2>/dev/null; echo $?)"
check_eq "ctl usage error exits 2" 2 "$(ctl devices --limit x 2>/dev/null; echo $?)"
check_eq "ctl usage error is one line and a hint" "loopline-ctl devices: unknown option '--colour'|Try 'loopline-ctl devices --help'." \
  "$(ctl devices --colour 2>&1 >/dev/null | paste -sd'|')"
check_eq "ctl usage errors come before the URL is needed" 2 "$(env -u LOOPLINE_URL "$CTL" devices --bogus 2>/dev/null; echo $?)"
check_eq "ctl COMMAND --help" 0 "$("$CTL" firmware --help | grep -c -- '--compatible HW' >/dev/null; echo $?)"
check_eq "ctl --help lists the exit codes" 1 "$("$CTL" --help | grep -c '^  24 ')"
check_eq "ctl two-word command --help" "Usage: loopline-ctl device show ID [OPTIONS]" "$("$CTL" device show --help | head -n1)"

# --- upload interrupted and resumed ---
head -c 1200000 /dev/urandom > "$TMP/payload"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw.lpkg" 2.0.0 "$TMP/payload"
SIZE=$(stat -c %s "$TMP/fw.lpkg")
UP=$("${CURL[@]}" -H "$(auth "$CI")" "$API/uploads" -d "{\"filename\":\"fw.lpkg\",\"size\":$SIZE}" | jq -r .id)
# The "interrupted" client sent the first 300000 bytes and a piece in the middle.
head -c 300000 "$TMP/fw.lpkg" > "$TMP/p1"
dd if="$TMP/fw.lpkg" of="$TMP/p2" bs=1000 skip=600 count=100 status=none
http_code PUT "$API/uploads/$UP" -H "$(auth "$CI")" -H "Content-Range: bytes 0-299999/$SIZE" --data-binary @"$TMP/p1" >/dev/null
http_code PUT "$API/uploads/$UP" -H "$(auth "$CI")" -H "Content-Range: bytes 600000-699999/$SIZE" --data-binary @"$TMP/p2" >/dev/null
check_json "server reports the received ranges" '[[0,299999],[600000,699999]]' \
  "$("${CURL[@]}" -H "$(auth "$CI")" "$API/uploads/$UP" | jq -c .received)"
check_eq "complete before all bytes: 409" 409 "$(http_code POST "$API/uploads/$UP/complete" -H "$(auth "$CI")")"
check_eq "Content-Range disagreeing with the body: 400" 400 "$(http_code PUT "$API/uploads/$UP" -H "$(auth "$CI")" -H "Content-Range: bytes 0-9/$SIZE" -d 'abc')"
check_eq "Content-Range with another size: 416" 416 "$(http_code PUT "$API/uploads/$UP" -H "$(auth "$CI")" -H "Content-Range: bytes 0-2/5" -d 'abc')"
"$CTL" --url "$URL" --token "$CI" --cacert "$TMP/pki/ca.pem" upload --chunk-size 65536 "$TMP/fw.lpkg" > "$TMP/ctl.out" 2>&1 || fail "ctl upload: $(cat "$TMP/ctl.out")"
check_eq "ctl resumed the upload" "resumed: the server already had 400000 bytes" "$(head -n1 "$TMP/ctl.out")"
PUTS=$(grep -c "PUT /api/v1/uploads/$UP 200" "$TMP/server.log")
check_eq "only the missing ranges were sent (2 + ceil(300000/65536) + ceil(500000+tail/65536) PUTs)" \
  $((2 + (300000 + 65535) / 65536 + (SIZE - 700000 + 65535) / 65536)) "$PUTS"
PKG=$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/packages" | jq '.items[0].id')
check_eq "package sha256 matches" "$(sha256sum < "$TMP/fw.lpkg" | cut -d' ' -f1)" \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/packages/$PKG" | jq -r .sha256)"
check_eq "package manifest kept" 2.0.0 "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/packages/$PKG" | jq -r .manifest.version)"
check_eq "stored content-addressed" 0 "$(cmp -s "$TMP/data/tenants/t1/packages/$(sha256sum < "$TMP/fw.lpkg" | cut -d' ' -f1)" "$TMP/fw.lpkg"; echo $?)"
check_eq "upload gone after completion: 404" 404 "$(http_code GET "$API/uploads/$UP" -H "$(auth "$CI")")"

# --- loopline-pack upload goes through the same client code ---
if [ -n "${PACK:-}" ]; then
  "$MKPKG" build "$TMP/sign.key" "$TMP/fw2.lpkg" 2.0.3 "$TMP/payload"
  check_eq "pack upload without a token: usage error 2" 2 \
    "$(env -u LOOPLINE_TOKEN "$PACK" upload --url "$URL" "$TMP/fw2.lpkg" >/dev/null 2>&1; echo $?)"
  LOOPLINE_URL="$URL" LOOPLINE_TOKEN="$CI" LOOPLINE_CACERT="$TMP/pki/ca.pem" \
    "$PACK" upload --json "$TMP/fw2.lpkg" > "$TMP/pack.out" 2>&1 || fail "pack upload: $(cat "$TMP/pack.out")"
  check_eq "pack upload: package version" 2.0.3 "$(jq -r .version "$TMP/pack.out")"
  check_eq "pack upload: sha256" "$(sha256sum < "$TMP/fw2.lpkg" | cut -d' ' -f1)" "$(jq -r .sha256 "$TMP/pack.out")"
  check_eq "pack upload with a viewer token is refused (exit 1)" 1 \
    "$("$PACK" upload --url "$URL" --token "$VIEW" --cacert "$TMP/pki/ca.pem" "$TMP/fw2.lpkg" >/dev/null 2>&1; echo $?)"
fi

# --- uploads that must be rejected ---
upload_expect() { # DESC FILE EXPECTED_CODE [opaque json]
  local size id
  size=$(stat -c %s "$2")
  id=$("${CURL[@]}" -H "$(auth "$CI")" "$API/uploads" -d "{\"filename\":\"x.lpkg\",\"size\":$size${4:-}}" | jq -r .id)
  http_code PUT "$API/uploads/$id" -H "$(auth "$CI")" -H "Content-Range: bytes 0-$((size - 1))/$size" --data-binary @"$2" >/dev/null
  check_eq "$1: 422" 422 "$(http_code POST "$API/uploads/$id/complete" -H "$(auth "$CI")")"
  check_eq "$1: error code" "$3" "$(jq -r .error.code "$TMP/body")"
}
cp "$TMP/fw.lpkg" "$TMP/tampered.lpkg"
printf '\x55' | dd of="$TMP/tampered.lpkg" bs=1 seek=$((SIZE / 2)) conv=notrunc 2>/dev/null
upload_expect "tampered payload" "$TMP/tampered.lpkg" invalid_package
"$MKPKG" build "$TMP/rogue.key" "$TMP/rogue.lpkg" 2.0.1 "$TMP/payload"
upload_expect "signed by an untrusted key" "$TMP/rogue.lpkg" untrusted_signature
head -c 5000 /dev/urandom > "$TMP/garbage"
upload_expect "not a package" "$TMP/garbage" invalid_package
check_eq "oversize upload: 413" 413 "$(http_code POST "$API/uploads" -H "$(auth "$CI")" -d '{"filename":"big.lpkg","size":2000001}')"
check_eq "oversize error code" too_large "$(jq -r .error.code "$TMP/body")"
check_eq "opaque without version: 400" 400 "$(http_code POST "$API/uploads" -H "$(auth "$CI")" -d '{"filename":"a.swu","size":10,"opaque":true}')"
head -c 200000 /dev/urandom > "$TMP/update.swu"
OPQ=$("$CTL" --url "$URL" --token "$CI" --cacert "$TMP/pki/ca.pem" upload --json --opaque --version 3.1 --part os "$TMP/update.swu")
check_eq "opaque artifact for third-party clients" "opaque 3.1 update.swu" "$(jq -r '"\(.kind) \(.version) \(.filename)"' <<<"$OPQ")"

# --- deploy by tag with ctl, actions, cancel, events ---
check_eq "deploy by tag" "action 1 for dev1|action 2 for dev3" "$(ctl deploy --package "$PKG" --tag odd --type soft | paste -sd'|')"
check_eq "ctl actions --json" '[2,1]' "$(ctl actions --active --json | jq -c '[.items[].id]')"
check_eq "ctl cancel" "action 2: CANCELING (the device confirms the cancellation)" "$(ctl cancel 2)"
check_eq "cancel a closed action: 409" 409 "$(
  T=$(admin device create --tenant t1 --rotate dev1 | cut -d' ' -f2)
  "${CURL[@]}" -o /dev/null "$URL/t1/controller/v1/dev1/deploymentBase/1/feedback" -H "Authorization: TargetToken $T" \
    -d '{"status":{"execution":"closed","result":{"finished":"failure"},"details":["disk full"]}}'
  http_code POST "$API/actions/1/cancel" -H "$(auth "$OPER")")"
check_eq "failed action is ERROR with its details" 'ERROR ["disk full"]' \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/actions/1" | jq -c -r '"\(.status) \(.history[-1].messages)"')"
check_eq "device history pages" 1 "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/devices/dev1/actions?limit=1" | jq '.items|length')"
check_eq "unknown package: 404" 404 "$(http_code POST "$API/deployments" -H "$(auth "$OPER")" -d '{"package":999,"devices":["dev1"]}')"
check_eq "unknown device: 404" 404 "$(http_code POST "$API/deployments" -H "$(auth "$OPER")" -d "{\"package\":$PKG,\"devices\":[\"ghost\"]}")"
check_eq "both package and action: 400" 400 "$(http_code POST "$API/deployments" -H "$(auth "$OPER")" -d "{\"package\":$PKG,\"action\":\"reboot\",\"devices\":[\"dev1\"]}")"
check_eq "bad type: 400" 400 "$(http_code POST "$API/deployments" -H "$(auth "$OPER")" -d "{\"package\":$PKG,\"devices\":[\"dev1\"],\"type\":\"now\"}")"
check_eq "events filter" "action.failed" "$(ctl events --type action.failed --json | jq -r '.items[0].type')"
ctl events | grep -q 'package.created' || fail "ctl events table"; ok "ctl events table"
N=$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/events?limit=1" | jq .total)
check_eq "events after ID" 1 "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/events?after=$((N - 1))" | jq '.items|length')"
# --- firmware versions in use (the matrix's firmware axis) ---
dev_token() { admin device create --tenant t1 --rotate "$1" | cut -d' ' -f2; }
ddi() { # DEVICE METHOD PATH [curl args]: a DDI request as the device
  local d=$1 m=$2 p=$3
  shift 3
  http_code "$m" "$URL/t1/controller/v1/$d$p" -H "Authorization: TargetToken $(dev_token "$d")" "$@"
}
check_eq "dev1 reports 1.0.0 (installedBase)" 201 "$(ddi dev1 PUT /installedBase -d '{"name":"fw","version":"1.0.0"}')"
check_eq "dev2 reports 1.0.0" 201 "$(ddi dev2 PUT /installedBase -d '{"name":"fw","version":"1.0.0"}')"
check_eq "dev3 reports 1.1.0" 201 "$(ddi dev3 PUT /installedBase -d '{"name":"fw","version":"1.1.0"}')"
check_eq "dev4 reports 0.9 in configData only" 200 \
  "$(ddi dev4 PUT /configData -d '{"data":{"version":"0.9","hardware_id":"hw-a"}}')"
check_eq "dev3 polls" 200 "$(ddi dev3 GET "")"
for _ in $(seq 1 100); do # last-seen times are batched (last_seen_flush_s 1)
  SEEN3=$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/devices/dev3" | jq .last_seen)
  [ "$SEEN3" -gt 0 ] && break
  sleep 0.1
done
[ "$SEEN3" -gt 0 ] || fail "dev3's last-seen time was not flushed"
check_json "firmware in use: versions, device counts, newest last-seen (viewer)" \
  "{\"items\":[{\"version\":\"1.0.0\",\"devices\":2,\"last_seen\":0},{\"version\":\"0.9\",\"devices\":1,\"last_seen\":0},{\"version\":\"1.1.0\",\"devices\":1,\"last_seen\":$SEEN3}],\"offset\":0,\"limit\":50,\"total\":3}" \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/firmware/in-use")"
check_eq "firmware in use: paging" '3 ["0.9"]' \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/firmware/in-use?limit=1&offset=1" | jq -c -r '"\(.total) \([.items[].version])"')"
check_eq "firmware in use: by tag" '["1.0.0","1.1.0"]' \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/firmware/in-use?tag=odd" | jq -c '[.items[].version]')"
check_eq "firmware in use: by compatible (configData hardware_id)" '[{"version":"0.9","devices":1}]' \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/firmware/in-use?compatible=hw-a" | jq -c '[.items[] | {version, devices}]')"
check_eq "firmware in use: bad paging 400" 400 "$(http_code GET "$API/firmware/in-use?limit=0" -H "$(auth "$VIEW")")"
check_eq "firmware in use: no token 401" 401 "$(http_code GET "$API/firmware/in-use")"
check_eq "ctl firmware --json" '[["1.0.0",2],["0.9",1],["1.1.0",1]]' "$(ctl firmware --json | jq -c '[.items[] | [.version, .devices]]')"
ctl firmware --tag odd | grep -q '^1\.1\.0 ' || fail "ctl firmware table: $(ctl firmware --tag odd)"; ok "ctl firmware table"
stop_server
echo "PASS: $PASS checks"

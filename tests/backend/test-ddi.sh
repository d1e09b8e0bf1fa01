#!/usr/bin/env bash
# The whole DDI v1 flow as a device does it (reference/ddi-v1.md §2.12), with exact JSON,
# every status code of the checklist, ranges, isolation between devices and a restart.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}"
make_certs
write_config
admin tenant create t1 >/dev/null
"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
admin tenant add-key t1 "$TMP/sign.pub" >/dev/null
admin device create --tenant t1 dev1 dev2 > "$TMP/devices"
T1=$(awk '$1=="dev1"{print $2}' "$TMP/devices")
T2=$(awk '$1=="dev2"{print $2}' "$TMP/devices")
GW=$(admin tenant gateway-token t1)
ADMIN=$(admin token create --tenant t1 --role admin)
check_eq "device token has 32 characters" 32 "${#T1}"
# a token made elsewhere (factory provisioning): taken as given, checked for its shape
echo "Prov1sionedTokenOfThirtyTwoChars" > "$TMP/prov.token"
check_eq "device create --token-file prints the given token" \
  "dev3 Prov1sionedTokenOfThirtyTwoChars" \
  "$(admin device create --tenant t1 --token-file "$TMP/prov.token" dev3)"
echo "short" > "$TMP/short.token"
check_eq "a short token file is refused" "rc=11" \
  "$(admin device create --tenant t1 --token-file "$TMP/short.token" dev4 2>/dev/null; echo "rc=$?")"
check_eq "--token-file with two devices is a usage error" "rc=2" \
  "$(admin device create --tenant t1 --token-file "$TMP/prov.token" dev4 dev5 2>/dev/null; echo "rc=$?")"
start_server
D1=$URL/t1/controller/v1/dev1
D2=$URL/t1/controller/v1/dev2
A1=(-H "Authorization: TargetToken $T1")
A2=(-H "Authorization: TargetToken $T2")
API=(-H "Authorization: Bearer $ADMIN")

# --- auth ---
check_eq "no credentials: 401" 401 "$(http_code GET "$D1")"
check_eq "401 has no body" 0 "$(stat -c %s "$TMP/body")"
check_eq "wrong token: 401" 401 "$(http_code GET "$D1" -H "Authorization: TargetToken nope")"
check_eq "other device's token: 401" 401 "$(http_code GET "$D1" "${A2[@]}")"
check_eq "a provisioned token authenticates its device" 200 \
  "$(http_code GET "$URL/t1/controller/v1/dev3" -H "Authorization: TargetToken Prov1sionedTokenOfThirtyTwoChars")"
check_eq "a provisioned token is not another device's" 401 \
  "$(http_code GET "$D1" -H "Authorization: TargetToken Prov1sionedTokenOfThirtyTwoChars")"
check_eq "unknown tenant: 401" 401 "$(http_code GET "$URL/nope/controller/v1/dev1" "${A1[@]}")"
check_eq "gateway token: 200" 200 "$(http_code GET "$D1" -H "Authorization: GatewayToken $GW")"
check_eq "gateway token auto-registers a new device" 200 \
  "$(http_code GET "$URL/t1/controller/v1/newdev" -H "Authorization: GatewayToken $GW")"
check_eq "auto-registered device is listed" newdev \
  "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/devices/newdev" | jq -r .controller_id)"

# --- first poll: configData requested, sleep HH:MM:SS ---
check_json "first poll asks for configData" \
  "{\"config\":{\"polling\":{\"sleep\":\"00:05:00\"}},\"_links\":{\"configData\":{\"href\":\"$D1/configData\"}}}" \
  "$("${CURL[@]}" "${A1[@]}" "$D1")"
check_eq "configData PUT (legacy SWUpdate body)" 200 "$(http_code PUT "$D1/configData" "${A1[@]}" \
  -H 'Content-Type: application/json' \
  -d '{"id":"","time":"20211211T123912","status":{"result":{"finished":"success"},"execution":"closed"},"mode":"replace","data":{"VIN":"JH4TB2H26CC000000","hwRevision":"2"}}')"
check_eq "configData merge" 200 "$(http_code PUT "$D1/configData" "${A1[@]}" -d '{"data":{"extra":"x"}}')"
check_eq "configData remove" 200 "$(http_code PUT "$D1/configData" "${A1[@]}" -d '{"mode":"remove","data":{"extra":""}}')"
check_eq "configData empty data: 400" 400 "$(http_code PUT "$D1/configData" "${A1[@]}" -d '{"data":{}}')"
check_eq "configData bad JSON: 400" 400 "$(http_code PUT "$D1/configData" "${A1[@]}" -d '{"data":')"
check_json "attributes stored" '{"VIN":"JH4TB2H26CC000000","hwRevision":"2"}' \
  "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/devices/dev1/attributes")"
check_json "poll without anything to do has no _links" '{"config":{"polling":{"sleep":"00:05:00"}}}' \
  "$("${CURL[@]}" "${A1[@]}" "$D1")"
check_eq "poll has an ETag" 200 "$(http_code GET "$D1" "${A1[@]}")"
ETAG=$(header ETag)
check_eq "If-None-Match with the same ETag: 304" 304 "$(http_code GET "$D1" "${A1[@]}" -H "If-None-Match: $ETAG")"

# --- a signed package, uploaded in two ranges, deployed forced ---
head -c 300000 /dev/urandom > "$TMP/payload"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw.lpkg" 1.2.0 "$TMP/payload"
SIZE=$(stat -c %s "$TMP/fw.lpkg")
UP=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/uploads" -d "{\"filename\":\"fw-1.2.0.lpkg\",\"size\":$SIZE}" | jq -r .id)
HALF=$((SIZE / 2))
head -c "$HALF" "$TMP/fw.lpkg" > "$TMP/part1"
tail -c +"$((HALF + 1))" "$TMP/fw.lpkg" > "$TMP/part2"
check_eq "upload PUT second half" 200 "$(http_code PUT "$URL/api/v1/uploads/$UP" "${API[@]}" \
  -H "Content-Range: bytes $HALF-$((SIZE - 1))/$SIZE" --data-binary @"$TMP/part2")"
check_eq "upload PUT first half" 200 "$(http_code PUT "$URL/api/v1/uploads/$UP" "${API[@]}" \
  -H "Content-Range: bytes 0-$((HALF - 1))/$SIZE" --data-binary @"$TMP/part1")"
check_eq "upload complete: 201" 201 "$(http_code POST "$URL/api/v1/uploads/$UP/complete" "${API[@]}")"
PKG=$(jq -r .id "$TMP/body")
check_eq "package version from the manifest" "1.2.0 lpkg os" "$(jq -r '"\(.version) \(.kind) \(.part)"' "$TMP/body")"
DEP=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/deployments" -d "{\"package\":$PKG,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
ACT=$(jq -r '.actions[0].id' <<<"$DEP")
POLL=$("${CURL[@]}" "${A1[@]}" "$D1")
HREF=$(jq -r ._links.deploymentBase.href <<<"$POLL")
[[ "$HREF" =~ ^$D1/deploymentBase/$ACT\?c=-?[0-9]+$ ]] || fail "deploymentBase href: $HREF"
ok "poll links deploymentBase/$ACT?c=…"
check_eq "the ETag changes with the answer: 200" 200 "$(http_code GET "$D1" "${A1[@]}" -H "If-None-Match: $ETAG")"
check_eq "poll still asks for nothing else" '["deploymentBase"]' "$(jq -c '._links|keys' <<<"$POLL")"

SHA1=$(sha1sum < "$TMP/fw.lpkg" | cut -d' ' -f1)
MD5=$(md5sum < "$TMP/fw.lpkg" | cut -d' ' -f1)
SHA256=$(sha256sum < "$TMP/fw.lpkg" | cut -d' ' -f1)
ART=softwaremodules/$PKG/artifacts/fw-1.2.0.lpkg
EXPECT=$(jq -n --arg id "$ACT" --arg s1 "$SHA1" --arg m "$MD5" --arg s2 "$SHA256" --argjson size "$SIZE" \
  --arg https "$D1/$ART" --arg http "$HURL/t1/controller/v1/dev1/$ART" '{
  id: $id, deployment: {download: "forced", update: "forced", chunks: [{
    part: "os", version: "1.2.0", name: "loopline-test",
    artifacts: [{filename: "fw-1.2.0.lpkg", hashes: {sha1: $s1, md5: $m, sha256: $s2}, size: $size,
      _links: {download: {href: $https}, "download-http": {href: $http},
               md5sum: {href: ($https + ".MD5SUM")}, "md5sum-http": {href: ($http + ".MD5SUM")}}}]}]}}')
check_json "deploymentBase exact JSON" "$EXPECT" "$("${CURL[@]}" "${A1[@]}" "$HREF")"
check_eq "deploymentBase id is a string" string "$("${CURL[@]}" "${A1[@]}" "$HREF" | jq -r '.id|type')"
check_eq "actionHistory newest first" \
  '{"status":"RETRIEVED","messages":["Target retrieved update action and should start now the download.","Assignment of package 1 (forced)"]}' \
  "$("${CURL[@]}" "${A1[@]}" "$D1/deploymentBase/$ACT?actionHistory=10" | jq -c .actionHistory)"

# --- isolation: dev2 sees nothing of dev1 ---
check_eq "other device's deploymentBase: 404" 404 "$(http_code GET "$D2/deploymentBase/$ACT" "${A2[@]}")"
check_eq "other device's artifact: 404" 404 "$(http_code GET "$D2/$ART" "${A2[@]}")"
check_eq "other device's artifact list: 404" 404 "$(http_code GET "$D2/softwaremodules/$PKG/artifacts" "${A2[@]}")"
check_eq "other device's feedback: 404" 404 "$(http_code POST "$D2/deploymentBase/$ACT/feedback" "${A2[@]}" \
  -d '{"status":{"execution":"closed","result":{"finished":"success"}}}')"
check_eq "dev1 path with dev2 token: 401" 401 "$(http_code GET "$D1/$ART" "${A2[@]}")"

# --- artifact download ---
check_eq "artifact list" "[\"fw-1.2.0.lpkg\",$SIZE,\"$SHA1\"]" \
  "$("${CURL[@]}" "${A1[@]}" "$D1/softwaremodules/$PKG/artifacts" | jq -c '[.[0].filename,.[0].size,.[0].hashes.sha1]')"
check_eq "full download over https: 200" 200 "$(http_code GET "$D1/$ART" "${A1[@]}")"
cmp -s "$TMP/body" "$TMP/fw.lpkg" || fail "downloaded bytes differ"; ok "downloaded bytes equal the package"
check_eq "ETag is the quoted sha1" "\"$SHA1\"" "$(header ETag)"
check_eq "Accept-Ranges" bytes "$(header Accept-Ranges)"
check_eq "Content-Disposition" "attachment;filename=fw-1.2.0.lpkg" "$(header Content-Disposition)"
check_eq "download-http link works" 200 "$(http_code GET "$HURL/t1/controller/v1/dev1/$ART" "${A1[@]}")"
cmp -s "$TMP/body" "$TMP/fw.lpkg" || fail "plain download differs"; ok "plain download equals the package"
check_eq "single range: 206" 206 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=100-199')"
check_eq "single range Content-Range" "bytes 100-199/$SIZE" "$(header Content-Range)"
cmp -s "$TMP/body" <(tail -c +101 "$TMP/fw.lpkg" | head -c 100) || fail "range bytes differ"; ok "range bytes"
check_eq "suffix range" "bytes $((SIZE - 10))-$((SIZE - 1))/$SIZE" \
  "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=-10' >/dev/null; header Content-Range)"
check_eq "open range resumes to the end" $((SIZE - 1000)) \
  "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=1000-' >/dev/null; stat -c %s "$TMP/body")"
check_eq "multipart ranges: 206" 206 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=0-9,50-59')"
CT=$(header Content-Type)
[[ "$CT" =~ ^multipart/byteranges\;\ boundary=(.+)$ ]] || fail "multipart Content-Type: $CT"
B=${BASH_REMATCH[1]}
check_eq "multipart parts" "Content-Range: bytes 0-9/$SIZE|Content-Range: bytes 50-59/$SIZE" \
  "$(tr -d '\r' < "$TMP/body" | grep -a '^Content-Range' | paste -sd'|')"
check_eq "multipart closing boundary" 1 "$(tr -d '\r' < "$TMP/body" | grep -a -c -- "^--$B--\$")"
check_eq "unsatisfiable range: 416" 416 "$(http_code GET "$D1/$ART" "${A1[@]}" -H "Range: bytes=$SIZE-")"
check_eq "416 Content-Range" "bytes */$SIZE" "$(header Content-Range)"
check_eq "overlapping ranges: 416" 416 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=0-10,5-20')"
check_eq "Range with an unknown unit is ignored: 200" 200 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: items=0-5')"
cmp -s "$TMP/body" "$TMP/fw.lpkg" || fail "unknown range unit: not the whole file"; ok "unknown range unit: the whole file"
check_eq "unknown range unit: no Content-Range" "" "$(header Content-Range)"
check_eq "If-Match mismatch: 412" 412 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'If-Match: "0000"')"
check_eq "If-Match match: 200" 200 "$(http_code GET "$D1/$ART" "${A1[@]}" -H "If-Match: \"$SHA1\"")"
check_eq "If-Range match keeps the range" 206 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=0-0' -H "If-Range: \"$SHA1\"")"
check_eq "If-Range mismatch sends everything" 200 "$(http_code GET "$D1/$ART" "${A1[@]}" -H 'Range: bytes=0-0' -H 'If-Range: "old"')"
check_eq ".MD5SUM" "$MD5  fw-1.2.0.lpkg" "$("${CURL[@]}" "${A1[@]}" "$D1/$ART.MD5SUM")"
check_eq "unknown file name: 404" 404 "$(http_code GET "$D1/softwaremodules/$PKG/artifacts/other.bin" "${A1[@]}")"

# --- HEAD, then GET on the same connection (curl reuses it for the transfer after --next):
# a HEAD answer has the Content-Length of the GET and no body, or the next answer is garbage.
head_then_get() { # URL → "HEAD-status connects|GET-status connects"
  "${CURL[@]}" "${A1[@]}" --head -o "$TMP/head" -w '%{http_code} %{num_connects}\n' "$1" \
    --next "${CURL[@]:1}" "${A1[@]}" -o "$TMP/get" -w '%{http_code} %{num_connects}\n' "$1" 2>"$TMP/curl.err" |
    paste -sd'|' || true
}
check_eq "artifact: HEAD then GET on one connection" "200 1|200 0" "$(head_then_get "$D1/$ART")"
check_eq "artifact: HEAD Content-Length is the file's size" "$SIZE" \
  "$(grep -i '^Content-Length:' "$TMP/head" | tr -d '\r' | cut -d' ' -f2)"
cmp -s "$TMP/get" "$TMP/fw.lpkg" || fail "GET after HEAD: bytes differ"; ok "artifact: GET after HEAD has the right bytes"
check_eq "poll: HEAD then GET on one connection" "200 1|200 0" "$(head_then_get "$D1")"
check_eq "poll: HEAD Content-Length is the GET's body size" "$(stat -c %s "$TMP/get")" \
  "$(grep -i '^Content-Length:' "$TMP/head" | tr -d '\r' | cut -d' ' -f2)"
jq -e .config.polling.sleep "$TMP/get" >/dev/null || fail "poll after HEAD is not the poll answer: $(cat "$TMP/get")"
ok "poll: GET after HEAD is the poll answer"

# --- feedback ---
FB=$D1/deploymentBase/$ACT/feedback
check_eq "legacy feedback with id and time" 200 "$(http_code POST "$FB" "${A1[@]}" \
  -d "{\"id\":\"$ACT\",\"time\":\"20211211T123912\",\"status\":{\"execution\":\"proceeding\",\"result\":{\"finished\":\"none\",\"progress\":{\"cnt\":1,\"of\":3}},\"details\":[\"Downloading\"]}}")"
check_eq "current feedback with timestamp" 200 "$(http_code POST "$FB" "${A1[@]}" \
  -d '{"timestamp":1627997501890,"status":{"execution":"downloaded","result":{"finished":"none"},"code":200}}')"
check_eq "feedback bad JSON: 400" 400 "$(http_code POST "$FB" "${A1[@]}" -d '{"status":')"
check_eq "feedback unknown execution: 400" 400 "$(http_code POST "$FB" "${A1[@]}" -d '{"status":{"execution":"done","result":{"finished":"none"}}}')"
check_eq "feedback missing result: 400" 400 "$(http_code POST "$FB" "${A1[@]}" -d '{"status":{"execution":"closed"}}')"
check_eq "action status DOWNLOADED" DOWNLOADED "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/actions/$ACT" | jq -r .status)"
check_eq "rejected keeps the action open" 200 "$(http_code POST "$FB" "${A1[@]}" -d '{"status":{"execution":"rejected","result":{"finished":"none"}}}')"
check_eq "rejected maps to WARNING" "WARNING true" "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/actions/$ACT" | jq -r '"\(.status) \(.active)"')"
check_eq "closed/success" 200 "$(http_code POST "$FB" "${A1[@]}" -d '{"status":{"execution":"closed","result":{"finished":"success"},"details":["Installed"]}}')"
check_eq "feedback after close: 410" 410 "$(http_code POST "$FB" "${A1[@]}" -d '{"status":{"execution":"closed","result":{"finished":"success"}}}')"
check_eq "closed action is FINISHED, device runs 1.2.0" "FINISHED false 1.2.0" \
  "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/actions/$ACT" | jq -r '"\(.status) \(.active)"') $("${CURL[@]}" "${API[@]}" "$URL/api/v1/devices/dev1" | jq -r .installed.version)"
check_json "poll after success: installedBase and configData" \
  "{\"config\":{\"polling\":{\"sleep\":\"00:05:00\"}},\"_links\":{\"installedBase\":{\"href\":\"$D1/installedBase/$ACT\"},\"configData\":{\"href\":\"$D1/configData\"}}}" \
  "$("${CURL[@]}" "${A1[@]}" "$D1")"
check_eq "installedBase has the deployment shape" "$ACT fw-1.2.0.lpkg" \
  "$("${CURL[@]}" "${A1[@]}" "$D1/installedBase/$ACT" | jq -r '"\(.id) \(.deployment.chunks[0].artifacts[0].filename)"')"
check_eq "installedBase of another device: 404" 404 "$(http_code GET "$D2/installedBase/$ACT" "${A2[@]}")"
check_eq "PUT installedBase new version: 201" 201 "$(http_code PUT "$D2/installedBase" "${A2[@]}" -d '{"name":"fw","version":"0.9"}')"
check_eq "PUT installedBase same version: 200" 200 "$(http_code PUT "$D2/installedBase" "${A2[@]}" -d '{"name":"fw","version":"0.9"}')"

# --- cancel ---
ACT2=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/deployments" -d "{\"package\":$PKG,\"devices\":[\"dev1\"],\"type\":\"soft\"}" | jq -r '.actions[0].id')
check_eq "soft action: download/update attempt" "attempt attempt" \
  "$("${CURL[@]}" "${A1[@]}" "$D1/deploymentBase/$ACT2" | jq -r '"\(.deployment.download) \(.deployment.update)"')"
check_eq "cancel feedback on a running action: 405" 405 "$(http_code POST "$D1/cancelAction/$ACT2/feedback" "${A1[@]}" \
  -d '{"status":{"execution":"closed","result":{"finished":"success"}}}')"
check_eq "operator cancels" CANCELING "$("${CURL[@]}" "${API[@]}" -X POST "$URL/api/v1/actions/$ACT2/cancel" | jq -r .status)"
check_eq "poll links cancelAction" "$D1/cancelAction/$ACT2" "$("${CURL[@]}" "${A1[@]}" "$D1" | jq -r ._links.cancelAction.href)"
check_eq "deploymentBase of a canceling action: 404" 404 "$(http_code GET "$D1/deploymentBase/$ACT2" "${A1[@]}")"
# progress feedback that was under way when the operator cancelled: recorded, but the
# action stays CANCELING (else the device would never see the cancelAction)
check_eq "progress feedback while canceling: 200" 200 "$(http_code POST "$D1/deploymentBase/$ACT2/feedback" "${A1[@]}" \
  -d "{\"id\":\"$ACT2\",\"status\":{\"execution\":\"proceeding\",\"result\":{\"finished\":\"none\"},\"details\":[\"downloading: 10 of 100 bytes\"]}}")"
check_eq "still CANCELING after progress" CANCELING "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/actions/$ACT2" | jq -r .status)"
check_eq "poll still links cancelAction" "$D1/cancelAction/$ACT2" "$("${CURL[@]}" "${A1[@]}" "$D1" | jq -r ._links.cancelAction.href)"
check_json "cancelAction exact JSON" "{\"id\":\"$ACT2\",\"cancelAction\":{\"stopId\":\"$ACT2\"}}" \
  "$("${CURL[@]}" "${A1[@]}" "$D1/cancelAction/$ACT2")"
check_eq "cancelAction of another device: 404" 404 "$(http_code GET "$D2/cancelAction/$ACT2" "${A2[@]}")"
check_eq "cancel confirmed" 200 "$(http_code POST "$D1/cancelAction/$ACT2/feedback" "${A1[@]}" \
  -d "{\"id\":\"$ACT2\",\"time\":\"20211211T123912\",\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"success\"}}}")"
check_eq "action CANCELED" "CANCELED false" "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/actions/$ACT2" | jq -r '"\(.status) \(.active)"')"
check_eq "no cancelAction link any more" null "$("${CURL[@]}" "${A1[@]}" "$D1" | jq -r ._links.cancelAction)"

# --- configured action, download-only, maintenance window ---
ACT3=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/deployments" -d '{"action":"reboot","devices":["dev2"]}' | jq -r '.actions[0].id')
check_json "configured action chunk" '{"part":"action","version":"1","name":"reboot","artifacts":[],"metadata":[{"key":"action","value":"reboot"}]}' \
  "$("${CURL[@]}" "${A2[@]}" "$D2/deploymentBase/$ACT3" | jq -c '.deployment.chunks[0]')"
check_eq "configured action done" 200 "$(http_code POST "$D2/deploymentBase/$ACT3/feedback" "${A2[@]}" -d '{"status":{"execution":"closed","result":{"finished":"success"}}}')"
ACT4=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/deployments" -d "{\"package\":$PKG,\"devices\":[\"dev1\"],\"type\":\"download-only\"}" | jq -r '.actions[0].id')
check_eq "download-only: forced/skip" "forced skip" \
  "$("${CURL[@]}" "${A1[@]}" "$D1/deploymentBase/$ACT4" | jq -r '"\(.deployment.download) \(.deployment.update)"')"
NOW=$(date +%s)
ACT5=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/deployments" -d "{\"package\":$PKG,\"devices\":[\"dev1\"],\"maintenance_window\":{\"start\":$((NOW + 300)),\"end\":$((NOW + 7200))}}" | jq -r '.actions[0].id')
check_eq "new deployment asks to cancel the open one first" "$D1/cancelAction/$ACT4" "$("${CURL[@]}" "${A1[@]}" "$D1" | jq -r ._links.cancelAction.href)"
"${CURL[@]}" "${A1[@]}" "$D1/cancelAction/$ACT4/feedback" -d '{"status":{"execution":"closed","result":{"finished":"success"}}}' >/dev/null
check_eq "maintenance window pending: unavailable, update skip" "forced skip unavailable" \
  "$("${CURL[@]}" "${A1[@]}" "$D1/deploymentBase/$ACT5" | jq -r '"\(.deployment.download) \(.deployment.update) \(.deployment.maintenanceWindow)"')"
SLEEP=$("${CURL[@]}" "${A1[@]}" "$D1" | jq -r .config.polling.sleep)
[[ "$SLEEP" =~ ^00:01:(39|40)$ ]] || fail "poll interval before the window: $SLEEP"
ok "poll interval shrinks to a third of the time until the window ($SLEEP)"

ACT6=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/deployments" -d "{\"package\":$PKG,\"devices\":[\"dev2\"],\"maintenance_window\":{\"start\":$((NOW - 7200)),\"end\":$((NOW - 3600))}}" | jq -r '.actions[0].id')
check_eq "lapsed maintenance window: no deploymentBase link" null "$("${CURL[@]}" "${A2[@]}" "$D2" | jq -r ._links.deploymentBase)"
check_eq "lapsed maintenance window: action canceled by the poll" "CANCELED false" \
  "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/actions/$ACT6" | jq -r '"\(.status) \(.active)"')"

# --- restart keeps everything; last-seen was flushed at shutdown ---
stop_server
grep -q "stopped" "$TMP/server.log" || fail "no 'stopped' log line"; ok "graceful stop logged"
start_server
check_eq "after restart: action still there" "$ACT5" \
  "$("${CURL[@]}" "${API[@]}" "$URL/api/v1/devices/dev1" | jq -r .active_action)"
LS=$("${CURL[@]}" "${API[@]}" "$URL/api/v1/devices/dev1" | jq -r .last_seen)
[ "$LS" -ge "$NOW" ] || fail "last_seen $LS not flushed (now $NOW)"; ok "last_seen persisted across restart"
check_eq "after restart: package still downloads" 200 "$(http_code GET "$D1/$ART" "${A1[@]}")"
cmp -s "$TMP/body" "$TMP/fw.lpkg" || fail "bytes differ after restart"; ok "bytes after restart"
check_eq "after restart: old token still valid, installedBase kept" "$D1/installedBase/$ACT" \
  "$("${CURL[@]}" "${A1[@]}" "$D1" | jq -r ._links.installedBase.href)"
stop_server
echo "PASS: $PASS checks"

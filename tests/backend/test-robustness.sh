#!/usr/bin/env bash
# Robustness: a corpus of malformed HTTP requests over raw sockets (plain and TLS) must
# leave the server up; request limits (URL, headers, body, JSON depth), slow clients,
# per-IP rate limiting (429), and a graceful SIGTERM that finishes an in-flight download.
. "$(dirname "$0")/lib.sh"
make_certs
CORPUS=$(dirname "$0")/malformed-http
write_config '.limits = {timeout_s: 2, max_header_bytes: 8192, max_url_bytes: 2048, max_json_bytes: 4096, max_json_depth: 8, max_body_bytes: 1100000}'
admin tenant create t1 >/dev/null
admin device create --tenant t1 dev1 > "$TMP/devices"
T1=$(awk '$1=="dev1"{print $2}' "$TMP/devices")
ADMIN=$(admin token create --tenant t1 --role admin)
start_server
D1=$URL/t1/controller/v1/dev1
A1=(-H "Authorization: TargetToken $T1")

# --- malformed corpus, all at once, plain and TLS ---
n=0
PIDS=()
for f in "$CORPUS"/*; do
  timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HPORT; cat '$f' >&3; cat <&3 >/dev/null" 2>/dev/null &
  PIDS+=($!)
  timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" < "$f" >/dev/null 2>&1 &
  PIDS+=($!)
  n=$((n + 1))
done
for p in "${PIDS[@]}"; do wait "$p" || true; done
check_eq "malformed corpus sent ($n requests, twice)" 22 "$n"
kill -0 "$SERVER_PID" || fail "server died on the malformed corpus"; ok "server is still running"
check_eq "server still answers" 200 "$(http_code GET "$D1" "${A1[@]}")"

# --- limits ---
check_eq "URL too long: 414" 414 "$(http_code GET "$URL/t1/controller/v1/dev1?x=$(head -c 3000 /dev/zero | tr '\0' a)" "${A1[@]}")"
code=$(http_code GET "$D1" "${A1[@]}" -H "X-Big: $(head -c 10000 /dev/zero | tr '\0' a)" || true)
[[ "$code" =~ ^4[0-9][0-9]$ ]] || fail "header too large: got $code"; ok "header too large: $code"
head -c 1200000 /dev/zero > "$TMP/big"
check_eq "body too large: 413" 413 "$(http_code PUT "$D1/configData" "${A1[@]}" --data-binary @"$TMP/big")"
check_eq "413 from the server's body limit is the JSON error" "application/json too_large" \
  "$(header Content-Type) $(jq -r .error.code "$TMP/body" 2>/dev/null || head -c 60 "$TMP/body")"
check_eq "413 on the management API: JSON too" "413 too_large" \
  "$(http_code PUT "$URL/api/v1/uploads/x" -H "Authorization: Bearer $ADMIN" --data-binary @"$TMP/big") $(jq -r .error.code "$TMP/body" 2>/dev/null || head -c 60 "$TMP/body")"
DEEP=$(printf '{"data":{"a":"b"},"x":%s1%s}' "$(printf '[%.0s' $(seq 1 20))" "$(printf ']%.0s' $(seq 1 20))")
check_eq "JSON nested too deep: 400" 400 "$(http_code PUT "$D1/configData" "${A1[@]}" -d "$DEEP")"
check_eq "JSON body over max_json_bytes: 413" 413 "$(http_code PUT "$D1/configData" "${A1[@]}" -d "{\"data\":{\"a\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}}")"

# --- a slow client is dropped after timeout_s ---
t0=$(date +%s%N)
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HPORT; printf 'GET /t1/controller/v1/dev1 HTTP/1.1\r\n' >&3; cat <&3 >/dev/null" || fail "slow client was not dropped within 10 s"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 1500 ] && [ "$ms" -lt 6000 ] || fail "slow client dropped after $ms ms (timeout 2 s)"; ok "slow client dropped after $ms ms"

# --- SIGTERM finishes an in-flight download ---
head -c 3000000 /dev/urandom > "$TMP/big.bin"
"${CURL[@]}" -H "Authorization: Bearer $ADMIN" "$URL/api/v1/uploads" -d '{"filename":"big.bin","size":3000000,"opaque":true,"version":"1","part":"os"}' > "$TMP/up.json"
UP=$(jq -r .id "$TMP/up.json")
http_code PUT "$URL/api/v1/uploads/$UP" -H "Authorization: Bearer $ADMIN" -H "Content-Range: bytes 0-999999/3000000" --data-binary @<(head -c 1000000 "$TMP/big.bin") >/dev/null
http_code PUT "$URL/api/v1/uploads/$UP" -H "Authorization: Bearer $ADMIN" -H "Content-Range: bytes 1000000-1999999/3000000" --data-binary @<(dd if="$TMP/big.bin" bs=1000000 skip=1 count=1 status=none) >/dev/null
http_code PUT "$URL/api/v1/uploads/$UP" -H "Authorization: Bearer $ADMIN" -H "Content-Range: bytes 2000000-2999999/3000000" --data-binary @<(dd if="$TMP/big.bin" bs=1000000 skip=2 count=1 status=none) >/dev/null
check_eq "3 MB opaque package" 201 "$(http_code POST "$URL/api/v1/uploads/$UP/complete" -H "Authorization: Bearer $ADMIN")"
"${CURL[@]}" -H "Authorization: Bearer $ADMIN" "$URL/api/v1/deployments" -d '{"package":1,"devices":["dev1"]}' >/dev/null
"${CURL[@]}" "${A1[@]}" --limit-rate 1000K -o "$TMP/dl.bin" "$D1/softwaremodules/1/artifacts/big.bin" &
DL=$!
for _ in $(seq 1 100); do grep -q "artifacts/big.bin 200" "$TMP/server.log" && break; sleep 0.05; done
grep -q "artifacts/big.bin 200" "$TMP/server.log" || fail "download did not start"
stop_server
wait "$DL" || fail "download was cut by the shutdown"
cmp -s "$TMP/dl.bin" "$TMP/big.bin" || fail "download incomplete after SIGTERM"; ok "in-flight download finished during shutdown"

# --- per-IP rate limit ---
write_config '.rate_limit = {requests_per_s: 2, burst: 5}'
start_server
URLS=()
for _ in $(seq 1 20); do URLS+=(-o /dev/null "$D1"); done
codes=$("${CURL[@]}" "${A1[@]}" -w '%{http_code}\n' "${URLS[@]}")
check_eq "first 5 (burst) pass" "200 200 200 200 200" "$(head -n5 <<<"$codes" | paste -sd' ')"
n429=$(grep -c 429 <<<"$codes" || true)
[ "$n429" -ge 12 ] || fail "only $n429 of 20 requests were limited"; ok "the rest are limited with 429 ($n429 of 20)"
check_eq "429 on the management API too, as JSON" "429 rate_limited" \
  "$(http_code GET "$URL/api/v1/devices" -H "Authorization: Bearer $ADMIN") $(jq -r .error.code "$TMP/body")"
stop_server
echo "PASS: $PASS checks"

#!/usr/bin/env bash
# TLS: 1.2+ only, mutual TLS (CN must equal the controller id; certificates of another CA
# are refused), required client certificates, and the configuration checks around TLS.
. "$(dirname "$0")/lib.sh"
make_certs
PKI=$TMP/pki

# --- configuration checks ---
write_config '.plain_http.address = "0.0.0.0"'
check_eq "plain HTTP off loopback is refused" 2 "$(admin check-config >/dev/null 2>&1; echo $?)"
{ admin check-config 2>&1 || true; } | grep -q "plain_http.address" || fail "message names plain_http.address"; ok "message names the key"
write_config '.colour = "red"'
{ admin check-config 2>&1 || true; } | grep -q "colour" || fail "unknown key not reported"; ok "unknown config key is an error"
write_config 'del(.tls)'
check_eq "HTTPS without tls section is refused" 2 "$(admin check-config >/dev/null 2>&1; echo $?)"
write_config '.tls.client_cert = "required"'
check_eq "client_cert without client_ca is refused" 2 "$(admin check-config >/dev/null 2>&1; echo $?)"

# --- optional client certificates ---
write_config ".tls.client_ca = \"$PKI/ca.pem\" | .tls.client_cert = \"optional\" | .poll = {sleep_s: 100, min_sleep_s: 10, jitter_percent: 50}"
check_eq "check-config OK" "$CFG: OK" "$(admin check-config)"
admin tenant create t1 >/dev/null
admin device create --tenant t1 dev1 dev2 > "$TMP/devices"
T2=$(awk '$1=="dev2"{print $2}' "$TMP/devices")
start_server
D1=$URL/t1/controller/v1/dev1
D2=$URL/t1/controller/v1/dev2
check_eq "TLS 1.1 is refused" fail "$("${CURL[@]}" -o /dev/null --tlsv1.1 --tls-max 1.1 "$D2" -H "Authorization: TargetToken $T2" 2>/dev/null && echo ok || echo fail)"
check_eq "TLS 1.2 works" 200 "$(http_code GET "$D2" --tlsv1.2 --tls-max 1.2 -H "Authorization: TargetToken $T2")"
check_eq "TLS 1.3 works" 200 "$(http_code GET "$D2" --tlsv1.3 -H "Authorization: TargetToken $T2")"
check_eq "mTLS: CN dev1 polls dev1 without a token" 200 "$(http_code GET "$D1" --cert "$PKI/dev1.pem" --key "$PKI/dev1.key")"
check_eq "mTLS: CN dev1 may not poll dev2" 401 "$(http_code GET "$D2" --cert "$PKI/dev1.pem" --key "$PKI/dev1.key")"
check_eq "mTLS: CN dev1 may not use dev2's token either" 401 "$(http_code GET "$D2" --cert "$PKI/dev1.pem" --key "$PKI/dev1.key" -H "Authorization: TargetToken $T2")"
check_eq "mTLS: certificate of another CA is refused" fail "$("${CURL[@]}" -o /dev/null "$D1" --cert "$PKI/rogue.pem" --key "$PKI/rogue.key" 2>/dev/null && echo ok || echo fail)"
check_eq "no certificate: token still works" 200 "$(http_code GET "$D2" -H "Authorization: TargetToken $T2")"
SLEEPS=$(for _ in $(seq 1 8); do "${CURL[@]}" "$D2" -H "Authorization: TargetToken $T2" | jq -r .config.polling.sleep; done | sort -u)
while read -r s; do
  [[ "$s" =~ ^00:0([0-2]):([0-5][0-9])$ ]] || fail "sleep $s is not HH:MM:SS"
  secs=$((10#${BASH_REMATCH[1]} * 60 + 10#${BASH_REMATCH[2]}))
  [ "$secs" -ge 50 ] && [ "$secs" -le 150 ] || fail "sleep $s outside 100 s +- 50 %"
done <<<"$SLEEPS"
ok "jittered sleep stays within 100 s +- 50 % ($(echo $SLEEPS))"
[ "$(wc -l <<<"$SLEEPS")" -ge 2 ] || fail "jitter gave one value in 8 polls"; ok "jitter varies"
check_eq "mTLS: a new CN is registered on its first poll" 200 "$(http_code GET "$URL/t1/controller/v1/dev3" --cert "$PKI/dev3.pem" --key "$PKI/dev3.key")"
check_eq "mTLS: the new device is asked for its attributes" "$URL/t1/controller/v1/dev3/configData" "$(jq -r ._links.configData.href "$TMP/body")"
stop_server

# --- required client certificates ---
write_config ".tls.client_ca = \"$PKI/ca.pem\" | .tls.client_cert = \"required\""
start_server
check_eq "required: no certificate fails the handshake" fail "$("${CURL[@]}" -o /dev/null "$D2" -H "Authorization: TargetToken $T2" 2>/dev/null && echo ok || echo fail)"
check_eq "required: a valid certificate works" 200 "$(http_code GET "$D2" --cert "$PKI/dev2.pem" --key "$PKI/dev2.key")"
stop_server
echo "PASS: $PASS checks"

# Alarm channel stand-ins for backend tests (sourced after lib.sh and make_certs):
# tests/tools/alarm-sinks.py as a Telegram Bot API stand-in and a webhook receiver that
# checks the HMAC signature (HTTPS, one process) and an SMTP server requiring STARTTLS.
# What they accepted lands in $TMP/out (telegram.jsonl, webhook.jsonl, mail-N.eml).
SINKS=$(dirname "${BASH_SOURCE[0]}")/../tools/alarm-sinks.py
PY=/usr/bin/python3 # Debian's python3 with python3-aiosmtpd
HTTPS_PID= SMTP_PID=
SPORT=$(free_port); MPORT=$(free_port)
BOT=123456:SecretBotTokenXyz; SMTPPW=Smtp-Secret-Pw-42; WKEY=Whk-Secret-Key-77
mkdir -p "$TMP/out"
stop_sinks() {
  for p in $HTTPS_PID $SMTP_PID; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  HTTPS_PID= SMTP_PID=
}
trap 'stop_sinks; cleanup' EXIT
wait_for() { # DESC COMMAND [SECONDS]: polls COMMAND (bounded, default 20 s) until it succeeds
  local n=$(( ${3:-20} * 10 ))
  for _ in $(seq 1 "$n"); do if eval "$2" >/dev/null 2>&1; then return 0; fi; sleep 0.1; done
  fail "timed out waiting: $1"
}
start_https() {
  "$PY" "$SINKS" https "$SPORT" "$TMP/pki/server.pem" "$TMP/pki/server.key" "$TMP/out" "$BOT" "$WKEY" > "$TMP/https.out" 2>&1 &
  HTTPS_PID=$!
  wait_for "the HTTPS sink listens" "grep -q ready $TMP/https.out"
}
stop_https() { kill -TERM "$HTTPS_PID"; wait "$HTTPS_PID" 2>/dev/null || true; HTTPS_PID=; }
start_smtp() {
  "$PY" "$SINKS" smtp "$MPORT" "$TMP/pki/server.pem" "$TMP/pki/server.key" "$TMP/out" alarms "$SMTPPW" > "$TMP/smtp.out" 2>&1 &
  SMTP_PID=$!
  wait_for "the SMTP sink listens" "grep -q ready $TMP/smtp.out"
}
# Channel bodies for POST /api/v1/alarm-channels: $TG, $HOOK, $MAIL.
CA=$TMP/pki/ca.pem
TG=$(jq -nc --arg t "$BOT" --arg u "https://127.0.0.1:$SPORT" --arg ca "$CA" \
  '{name: "tg", kind: "telegram", config: {bot_token: $t, chat_id: -1001, base_url: $u, cacert: $ca}}')
HOOK=$(jq -nc --arg k "$WKEY" --arg u "https://127.0.0.1:$SPORT/hook" --arg ca "$CA" \
  '{name: "hook", kind: "webhook", config: {url: $u, key: $k, cacert: $ca}}')
MAIL=$(jq -nc --arg p "$SMTPPW" --arg u "smtp://127.0.0.1:$MPORT" --arg ca "$CA" \
  '{name: "mail", kind: "smtp", config: {url: $u, username: "alarms", password: $p, from: "loopline@example.com", to: ["ops@example.com", "oncall@example.com"], cacert: $ca}}')

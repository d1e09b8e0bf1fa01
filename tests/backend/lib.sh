# Shared helpers of the backend component tests (sourced). Every test gets its own temp
# dir, certificates made with the openssl CLI, and a server that is always killed at exit.
set -euo pipefail
: "${BACKEND:?BACKEND must name the loopline-backend binary}"
TMP=$(mktemp -d /tmp/lp-backend-test.XXXXXX)
SERVER_PID=
PASS=0
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$TMP/server.log" ] && tail -n 20 "$TMP/server.log" >&2; exit 1; }
ok() { PASS=$((PASS + 1)); echo "ok $PASS - $*"; }
check_eq() { # DESC EXPECTED ACTUAL
  [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"
  ok "$1"
}
check_json() { # DESC EXPECTED_JSON ACTUAL_JSON (compared after sorting keys)
  local e a
  e=$(jq -cS . <<<"$2") || fail "$1: expected value is not JSON"
  a=$(jq -cS . <<<"$3" 2>/dev/null) || fail "$1: response is not JSON: $3"
  [ "$e" == "$a" ] || fail "$1: JSON differs
expected: $e
actual:   $a"
  ok "$1"
}

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((RANDOM % 20000 + 10000)) # below the ephemeral port range
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return; fi
  done
  fail "no free port"
}

make_certs() { # CA, server cert for 127.0.0.1, client certs with CN dev1 and dev2
  local d=$TMP/pki
  "$(dirname "$0")/../../scripts/make-pki" "$d" --client dev1 --client dev2 --client dev3
  # A client certificate from another CA must be refused.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$d/rogue.key" -out "$d/rogue.pem" -subj /CN=dev1 2>/dev/null
}

# write_config [JQ_FILTER]: base config with HTTPS on $PORT and plain HTTP on $HPORT.
write_config() {
  PORT=${PORT:-$(free_port)}
  HPORT=${HPORT:-$(free_port)}
  jq -n --arg d "$TMP/data" --arg pki "$TMP/pki" --argjson p "$PORT" --argjson hp "$HPORT" '{
    data_dir: $d, workers: 2, log_requests: true, last_seen_flush_s: 1, shutdown_grace_s: 5,
    listen: {address: "127.0.0.1", port: $p},
    plain_http: {address: "127.0.0.1", port: $hp},
    tls: {cert: ($pki + "/server.pem"), key: ($pki + "/server.key")},
    links: {http: ("http://127.0.0.1:" + ($hp|tostring))}
  }' | jq "${1:-.}" > "$TMP/config.json"
  CFG=$TMP/config.json
  URL=https://127.0.0.1:$PORT
  HURL=http://127.0.0.1:$HPORT
}

admin() { "$BACKEND" --config "$CFG" "$@"; }

start_server() {
  : > "$TMP/server.log"
  "$BACKEND" --config "$CFG" serve 2>>"$TMP/server.log" &
  SERVER_PID=$!
  # Wait (bounded) until both listeners are announced, or the server died.
  for _ in $(seq 1 200); do
    if grep -q "listening on http://" "$TMP/server.log"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { local rc=0; wait "$SERVER_PID" || rc=$?; fail "server exited at start (status $rc)"; }
    sleep 0.05
  done
  fail "server did not start within 10 s"
}

stop_server() { # graceful: SIGTERM, expect exit 0
  local rc=0
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=
  check_eq "server exits 0 after SIGTERM" 0 "$rc"
}

CURL=(curl -sS --cacert "$TMP/pki/ca.pem" --max-time 20)
# http_code METHOD URL [curl args...]: prints the status code; the body goes to $TMP/body.
http_code() {
  local m=$1 u=$2
  shift 2
  "${CURL[@]}" -X "$m" -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$u" "$@"
}
header() { grep -i "^$1:" "$TMP/headers" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

#!/usr/bin/env bash
# Download errors against a fake DDI server (plain HTTP, insecure flag): a 404 ends the
# attempt at once with closed/failure feedback (no retry storm); a 503 is retried with
# backoff up to download.max_attempts, then reported as a failure.
set -euo pipefail
: "${AGENT:?}" "${FAKEDDI:?}" "${BOOTSIM:?}" "${MKPKG:?}"
TMP=$(mktemp -d /tmp/lp-agent-http.XXXXXX)
FAKE_PID=
PASS=0
cleanup() {
  if [ -n "$FAKE_PID" ] && kill -0 "$FAKE_PID" 2>/dev/null; then
    kill -KILL "$FAKE_PID" 2>/dev/null || true
    wait "$FAKE_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$TMP/fake.log" ] && cat "$TMP/fake.log" >&2; exit 1; }
ok() { PASS=$((PASS + 1)); echo "ok $PASS - $*"; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; ok "$1"; }
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((RANDOM % 30000 + 20000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return; fi
  done
  fail "no free port"
}

run_case() { # STATUS
  local port dev=$TMP/dev-$1
  port=$(free_port)
  mkdir -p "$dev/keys"
  "$MKPKG" keygen "$dev/sign.key" "$dev/keys/release.pem"
  : > "$TMP/fake.log"
  "$FAKEDDI" "$port" "$1" >> "$TMP/fake.log" &
  FAKE_PID=$!
  for _ in $(seq 1 200); do grep -q listening "$TMP/fake.log" && break; sleep 0.05; done
  grep -q listening "$TMP/fake.log" || fail "fakeddi did not start"
  printf 'A\n' > "$dev/a.img"
  printf 'B\n' > "$dev/b.img"
  printf '%s 0x0 0x4000\n' "$dev/uboot.env" > "$dev/fw_env.config"
  jq -n --arg dev "$dev" --arg url "http://127.0.0.1:$port" '{
    device_id: "dev1", hardware_id: "test-board", data_dir: ($dev + "/data"),
    backends: [{name: "fake", urls: [$url], tenant: "t", target_token: "x", insecure_plain_http: true}],
    download: {max_attempts: 4, backoff_min_ms: 20, backoff_max_ms: 80},
    slots: {A: ($dev + "/a.img"), B: ($dev + "/b.img")},
    bootenv: {type: "uboot", fw_env_config: ($dev + "/fw_env.config")},
    trusted_keys: [($dev + "/keys")], reboot_command: ["/bin/true"]
  }' > "$dev/agent.json"
  "$BOOTSIM" --config "$dev/agent.json" init 3
  "$AGENT" --config "$dev/agent.json" --slot A check-update 2> "$dev/agent.log" || true
  kill -TERM "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true; FAKE_PID=
  STATE=$(jq -r '"\(.state) \(.result)"' "$dev/data/state.json")
  REASON=$(jq -r .reason "$dev/data/state.json")
  GETS=$(grep -c '^GET /artifact$' "$TMP/fake.log" || true)
  CLOSED=$(grep '^BODY ' "$TMP/fake.log" | grep -c '"execution":"closed","result":{"finished":"failure"}' || true)
  BOOT=$("$AGENT" --config "$dev/agent.json" --slot A status --json | jq -r .state)
}

run_case 404
check_eq "404: download tried exactly once" 1 "$GETS"
check_eq "404: attempt ended as a failure" "idle failure" "$STATE"
[[ "$REASON" == *"HTTP 404"* ]] || fail "404: reason does not name the status: $REASON"; ok "404: reason names the status"
check_eq "404: failure names the offered version" 1 "$(grep '^BODY ' "$TMP/fake.log" | grep -c 'offered 9.9.9' || true)"
check_eq "404: closed/failure delivered" 1 "$CLOSED"

run_case 503
check_eq "503: retried up to max_attempts" 4 "$GETS"
check_eq "503: then a failure" "idle failure" "$STATE"
[[ "$REASON" == *"HTTP 503"*"gave up after 4 attempts"* ]] || fail "503: reason: $REASON"; ok "503: reason says it gave up"
check_eq "503: closed/failure delivered" 1 "$CLOSED"
echo "all $PASS checks passed"

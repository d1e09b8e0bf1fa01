#!/usr/bin/env bash
# loopline-agent against the real loopline-backend on 127.0.0.1 over TLS (certificates made
# here with the openssl CLI), slots and a redundant U-Boot environment as files, bootsim as
# the bootloader: update success reported only after the new slot passed its health check;
# health-check rollback reported as failure; configured actions allowed and refused; the
# outbox kept while the backend is down and delivered when it is back; two backends with an
# action from each (one rejected, then taken up); URL failover; the run daemon and SIGTERM;
# a slow download (rate-limited proxy) during which the other backend is still polled, its
# action rejected and taken up after, with progress feedback no more often than configured;
# an operator's cancellation during a slow download stops it (CANCELED, nothing activated).
set -euo pipefail
: "${BACKEND:?}" "${AGENT:?}" "${BOOTSIM:?}" "${MKPKG:?}" "${CUTPROXY:?}"
TMP=$(mktemp -d /tmp/lp-agent-ddi.XXXXXX)
SERVER_PID=
AGENT_PID=
PROXY_PID=
PASS=0
cleanup() {
  for pid in "$AGENT_PID" "$PROXY_PID" "$SERVER_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$TMP/agent.log" ] && { echo "--- agent log" >&2; tail -n 30 "$TMP/agent.log" >&2; }
  [ -f "$TMP/server.log" ] && { echo "--- server log" >&2; tail -n 15 "$TMP/server.log" >&2; }
  exit 1
}
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

# --- PKI and backend ---
"$(dirname "$0")/../../scripts/make-pki" "$TMP/pki" --client dev1
PORT=$(free_port)
HPORT=$(free_port)
DEAD=$(free_port)
jq -n --arg d "$TMP/backend" --arg pki "$TMP/pki" --argjson p "$PORT" --argjson hp "$HPORT" '{
  data_dir: $d, workers: 2, last_seen_flush_s: 1, shutdown_grace_s: 5,
  listen: {address: "127.0.0.1", port: $p},
  plain_http: {address: "127.0.0.1", port: $hp},
  tls: {cert: ($pki + "/server.pem"), key: ($pki + "/server.key")},
  links: {http: ("http://127.0.0.1:" + ($hp|tostring))}
}' > "$TMP/backend.json"
admin() { "$BACKEND" --config "$TMP/backend.json" "$@"; }
URL=https://127.0.0.1:$PORT
start_server() {
  : > "$TMP/server.log"
  "$BACKEND" --config "$TMP/backend.json" serve 2>>"$TMP/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    grep -q "listening on http://" "$TMP/server.log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited at start"
    sleep 0.05
  done
  fail "server did not start within 10 s"
}
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }

"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
mkdir -p "$TMP/keys"
cp "$TMP/sign.pub" "$TMP/keys/release.pem"
for t in t1 t2; do
  admin tenant create $t >/dev/null
  admin tenant add-key $t "$TMP/sign.pub" >/dev/null
  admin device create --tenant $t dev1 > "$TMP/dev-$t"
done
TOK1=$(awk '$1=="dev1"{print $2}' "$TMP/dev-t1")
TOK2=$(awk '$1=="dev1"{print $2}' "$TMP/dev-t2")
ADMIN1=$(admin token create --tenant t1 --role admin)
ADMIN2=$(admin token create --tenant t2 --role admin)
start_server
CURL=(curl -sS --cacert "$TMP/pki/ca.pem" --max-time 20)
api() { # TENANT METHOD PATH [curl args]
  local tok=$ADMIN1
  [ "$1" == t2 ] && tok=$ADMIN2
  local m=$2 p=$3
  shift 3
  "${CURL[@]}" -X "$m" -H "Authorization: Bearer $tok" "$URL/api/v1$p" "$@"
}
upload() { # TENANT FILE NAME -> package id
  local size id
  size=$(stat -c %s "$2")
  id=$(api "$1" POST /uploads -d "{\"filename\":\"$3\",\"size\":$size}" | jq -r .id)
  api "$1" PUT "/uploads/$id" -H "Content-Range: bytes 0-$((size - 1))/$size" --data-binary @"$2" >/dev/null
  api "$1" POST "/uploads/$id/complete" | jq -r .id
}
deploy() { # TENANT JSON -> action id
  api "$1" POST /deployments -d "$2" | jq -r '.actions[0].id'
}
action_status() { api "$1" GET "/actions/$2" | jq -r .status; }

# --- the device ---
DEV=$TMP/dev
mkdir -p "$DEV"
printf 'slot A: 1.0.0\n' > "$DEV/slot-a.img"
printf 'slot B: empty\n' > "$DEV/slot-b.img"
printf '%s 0x0 0x4000\n%s 0x4000 0x4000\n' "$DEV/uboot.env" "$DEV/uboot.env" > "$DEV/fw_env.config"
write_agent_config() { # BACKENDS_JSON [EXTRA_JSON]
  jq -n --arg dev "$DEV" --arg keys "$TMP/keys" --argjson backends "$1" --argjson extra "${2:-{\}}" '{
    device_id: "dev1", hardware_id: "test-board", data_dir: ($dev + "/data"),
    backends: $backends,
    poll: {min_s: 1, max_s: 3600, default_s: 1, jitter_percent: 0},
    download: {backoff_min_ms: 50, backoff_max_ms: 200, progress_interval_s: 1},
    slots: {A: ($dev + "/slot-a.img"), B: ($dev + "/slot-b.img")},
    bootenv: {type: "uboot", fw_env_config: ($dev + "/fw_env.config"), bootlimit: 3},
    health_checks: [{name: "app", argv: ["/bin/sh", "-c", ("test ! -e " + $dev + "/health-fails")], timeout_s: 10}],
    actions: {"collect-logs": {argv: ["/bin/sh", "-c", ("echo collected > " + $dev + "/collected")]}},
    trusted_keys: [$keys],
    reboot_command: ["/bin/sh", "-c", ("echo reboot >> " + $dev + "/reboots")]
  } + $extra' > "$DEV/agent.json"
}
B1=$(jq -n --arg dead "https://127.0.0.1:$DEAD" --arg url "$URL" --arg tok "$TOK1" --arg ca "$TMP/pki/ca.pem" \
  '{name: "main", urls: [$dead, $url], tenant: "t1", target_token: $tok, ca_file: $ca}')
B2=$(jq -n --arg url "$URL" --arg tok "$TOK2" --arg ca "$TMP/pki/ca.pem" \
  '{name: "second", urls: [$url], tenant: "t2", target_token: $tok, ca_file: $ca}')
write_agent_config "[$B1]"
"$BOOTSIM" --config "$DEV/agent.json" init 3
: > "$TMP/agent.log"
agent() { # SLOT ARGS... (output appended to agent.log)
  local slot=$1
  shift
  "$AGENT" --config "$DEV/agent.json" --slot "$slot" "$@" 2>>"$TMP/agent.log"
}
boot() { "$BOOTSIM" --config "$DEV/agent.json" --agent "$AGENT" boot 2>>"$TMP/agent.log" | head -n1; }
state() { jq -r "$1" "$DEV/data/state.json"; }
env_slot() { "$AGENT" --config "$DEV/agent.json" --slot A status --json | jq -r .running_slot >/dev/null; }

head -c 400000 /dev/urandom > "$TMP/img-1.1.0"
head -c 400000 /dev/urandom > "$TMP/img-1.2.0"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.1.0.lpkg" 1.1.0 1 test-board "$TMP/img-1.1.0"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.2.0.lpkg" 1.2.0 2 test-board "$TMP/img-1.2.0"
P1=$(upload t1 "$TMP/fw-1.1.0.lpkg" fw-1.1.0.lpkg)
P2=$(upload t1 "$TMP/fw-1.2.0.lpkg" fw-1.2.0.lpkg)

# --- 1. update success, reported only after the reboot and health check ---
A1=$(deploy t1 "{\"package\":$P1,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
agent A check-update || fail "check-update failed"
check_eq "update downloaded and installed to B" "installed B" "$(state '"\(.state) \(.to_slot)"')"
cmp -s "$DEV/slot-b.img" "$TMP/img-1.1.0" || fail "slot B differs from the image"; ok "slot B holds the image"
check_eq "reboot requested" 1 "$(wc -l < "$DEV/reboots")"
grep -q "backend main: https://127.0.0.1:$DEAD did not answer" "$TMP/agent.log" || fail "no failover logged"
ok "first URL dead: failed over to the second"
check_eq "action still running (no success before the reboot)" RUNNING "$(action_status t1 "$A1")"
check_eq "reboot into B" "slot B" "$(boot)"
check_eq "committed after the health check" "committed 1.1.0" "$(state '"\(.state) \(.version)"')"
agent B check-update || fail "check-update on B failed"
check_eq "closed/success delivered: action FINISHED" FINISHED "$(action_status t1 "$A1")"
check_eq "backend knows the installed version" 1.1.0 "$(api t1 GET /devices/dev1 | jq -r .installed.version)"
check_eq "outbox empty" 0 "$(agent B status --json | jq -r .outbox)"

# --- 2. configured actions: allowed by name, refused otherwise ---
A2=$(deploy t1 '{"action":"collect-logs","devices":["dev1"]}')
agent B check-update
check_eq "allowed action ran" collected "$(cat "$DEV/collected")"
check_eq "allowed action FINISHED" FINISHED "$(action_status t1 "$A2")"
A3=$(deploy t1 '{"action":"reboot","devices":["dev1"]}')
agent B check-update
check_eq "action not in the config: ERROR" ERROR "$(action_status t1 "$A3")"
check_eq "refused action did not reboot" 1 "$(wc -l < "$DEV/reboots")"

# --- 2b. an action cancelled by the operator before the device took it up ---
AC=$(deploy t1 "{\"package\":$P2,\"devices\":[\"dev1\"],\"type\":\"soft\"}")
check_eq "operator cancels" CANCELING "$(api t1 POST "/actions/$AC/cancel" | jq -r .status)"
agent B check-update
check_eq "cancellation confirmed by the device" CANCELED "$(action_status t1 "$AC")"
check_eq "nothing was installed" committed "$(state .state)"

# --- 3. health check fails: rollback, failure reported after the reboot ---
A4=$(deploy t1 "{\"package\":$P2,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
agent B check-update
check_eq "1.2.0 installed to A" "installed A" "$(state '"\(.state) \(.to_slot)"')"
touch "$DEV/health-fails"
check_eq "reboot into A" "slot A" "$(boot)"
check_eq "health check failed: rolling back" rolling-back "$(state .state)"
check_eq "reboot into B again" "slot B" "$(boot)"
check_eq "rolled back" "rolled-back 1.1.0" "$(state '"\(.state) \(.version)"')"
rm -f "$DEV/health-fails"
agent B check-update
check_eq "failure reported: action ERROR" ERROR "$(action_status t1 "$A4")"
check_eq "device still runs 1.1.0 for the backend" 1.1.0 "$(api t1 GET /devices/dev1 | jq -r .installed.version)"

# --- 4. backend down: the outbox keeps the result, delivered when it is back ---
A5=$(deploy t1 "{\"package\":$P2,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
agent B check-update
check_eq "installed to A again" installed "$(state .state)"
stop_server
check_eq "reboot into A" "slot A" "$(boot)"
check_eq "committed while the backend is down" committed "$(state .state)"
if agent A check-update; then fail "check-update succeeded with the backend down"; fi
ok "check-update fails while the backend is down"
check_eq "success kept in the outbox" 1 "$(agent A status --json | jq -r .outbox)"
start_server
agent A check-update
check_eq "outbox delivered after the backend came back" "FINISHED 0" \
  "$(action_status t1 "$A5") $(agent A status --json | jq -r .outbox)"

# --- 5. two backends, one update at a time ---
write_agent_config "[$B1, $B2]"
head -c 300000 /dev/urandom > "$TMP/img-1.3.0"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.3.0.lpkg" 1.3.0 3 test-board "$TMP/img-1.3.0"
P3=$(upload t1 "$TMP/fw-1.3.0.lpkg" fw-1.3.0.lpkg)
Q3=$(upload t2 "$TMP/fw-1.3.0.lpkg" fw-1.3.0.lpkg)
A6=$(deploy t1 "{\"package\":$P3,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
A7=$(deploy t2 "{\"package\":$Q3,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
agent A check-update
check_eq "first backend's update installed" "installed main $A6" "$(state '"\(.state) \(.backend) \(.action_id)"')"
check_eq "second backend's action rejected meanwhile (WARNING, still open)" WARNING "$(action_status t2 "$A7")"
check_eq "reboot into B" "slot B" "$(boot)"
agent B check-update
check_eq "first action FINISHED" FINISHED "$(action_status t1 "$A6")"
check_eq "second backend's action taken up later" "installed second $A7" "$(state '"\(.state) \(.backend) \(.action_id)"')"
check_eq "reboot into A" "slot A" "$(boot)"
agent A check-update
check_eq "second action FINISHED" FINISHED "$(action_status t2 "$A7")"

# --- 6. the daemon: polls on its own, stops on SIGTERM ---
write_agent_config "[$B1]"
A8=$(deploy t1 '{"action":"collect-logs","devices":["dev1"]}')
rm -f "$DEV/collected"
"$AGENT" --config "$DEV/agent.json" --slot A run 2>>"$TMP/agent.log" &
AGENT_PID=$!
for _ in $(seq 1 200); do
  [ "$(action_status t1 "$A8")" == FINISHED ] && break
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent daemon exited"
  sleep 0.05
done
check_eq "daemon ran the action" "FINISHED collected" "$(action_status t1 "$A8") $(cat "$DEV/collected" 2>/dev/null)"
kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
check_eq "daemon exits 0 on SIGTERM" 0 "$rc"

# --- 6b. backend reachability as a health check: the new slot cannot reach any backend ---
write_agent_config "[$B1]" '{"health_backend_reachable": true}'
head -c 200000 /dev/urandom > "$TMP/img-1.3.5"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.3.5.lpkg" 1.3.5 3 test-board "$TMP/img-1.3.5"
P35=$(upload t1 "$TMP/fw-1.3.5.lpkg" fw-1.3.5.lpkg)
A10=$(deploy t1 "{\"package\":$P35,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
agent A check-update
check_eq "1.3.5 installed to B" "installed B" "$(state '"\(.state) \(.to_slot)"')"
stop_server
check_eq "reboot into B" "slot B" "$(boot)"
check_eq "no backend reachable: rolling back" rolling-back "$(state .state)"
[[ "$(state .reason)" == *"no backend answered"* ]] || fail "reason: $(state .reason)"; ok "reason names the unreachable backend"
start_server
check_eq "reboot into A" "slot A" "$(boot)"
agent A check-update
check_eq "rollback reported: action ERROR" ERROR "$(action_status t1 "$A10")"

# --- 6c. agent killed right after persisting "downloading": the next start reports it ---
write_agent_config "[$B1]"
A11=$(deploy t1 "{\"package\":$P35,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
rc=0
LOOPLINE_AGENT_CRASH_AT=downloading "$AGENT" --config "$DEV/agent.json" --slot A check-update 2>>"$TMP/agent.log" || rc=$?
check_eq "agent killed by SIGKILL while downloading" 137 "$rc"
check_eq "state file says downloading" downloading "$(state .state)"
agent A check-update
check_eq "interrupted download recorded" "idle failure" "$(state '"\(.state) \(.result)"')"
check_eq "interrupted download reported: action ERROR" ERROR "$(action_status t1 "$A11")"
check_eq "boot environment still on A" "slot A" "$(boot)"

# --- 7. download cut twice mid-way: resumes with Range from where it stopped ---
PPORT=$(free_port)
: > "$TMP/proxy.log"
"$CUTPROXY" "$PPORT" "$PORT" 250000 2 >> "$TMP/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 200); do grep -q listening "$TMP/proxy.log" && break; sleep 0.05; done
grep -q listening "$TMP/proxy.log" || fail "proxy did not start"
BP=$(jq -n --arg url "https://127.0.0.1:$PPORT" --arg tok "$TOK1" --arg ca "$TMP/pki/ca.pem" \
  '{name: "main", urls: [$url], tenant: "t1", target_token: $tok, ca_file: $ca}')
write_agent_config "[$BP]"
head -c 1000000 /dev/urandom > "$TMP/img-1.4.0"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.4.0.lpkg" 1.4.0 4 test-board "$TMP/img-1.4.0"
P4=$(upload t1 "$TMP/fw-1.4.0.lpkg" fw-1.4.0.lpkg)
A9=$(deploy t1 "{\"package\":$P4,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
cat "$TMP/agent.log" >> "$TMP/agent-earlier.log"
: > "$TMP/agent.log"
agent A check-update
check_eq "the proxy cut the transfer twice" 2 "$(grep -c '^cut after' "$TMP/proxy.log")"
check_eq "the agent resumed twice" 2 "$(grep -c 'resuming from byte' "$TMP/agent.log")"
grep 'resuming from byte' "$TMP/agent.log" | grep -qv 'from byte 0 ' || fail "resumed from byte 0"
ok "resumed from the offset reached, not from 0"
check_eq "installed after the resumed download" "installed 1.4.0" "$(state '"\(.state) \(.to_version)"')"
cmp -s "$DEV/slot-b.img" "$TMP/img-1.4.0" || fail "slot B differs from the image"; ok "slot B holds the image"
check_eq "reboot into B" "slot B" "$(boot)"
agent B check-update
check_eq "action FINISHED" FINISHED "$(action_status t1 "$A9")"

# --- 8. mutual TLS instead of a token; the daemon keeps its connection alive ---
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
# Client certificates are enabled only now: the backend, when it asks for them, currently
# refuses resumed TLS sessions (no session id context), which would add extra reconnects
# to the resume test above.
stop_server
jq --arg ca "$TMP/pki/ca.pem" '.tls.client_ca = $ca | .tls.client_cert = "optional"' \
  "$TMP/backend.json" > "$TMP/backend-mtls.json"
mv "$TMP/backend-mtls.json" "$TMP/backend.json"
start_server
BM=$(jq -n --arg url "$URL" --arg ca "$TMP/pki/ca.pem" --arg c "$TMP/pki/dev1.pem" --arg k "$TMP/pki/dev1.key" \
  '{name: "main", urls: [$url], tenant: "t1", client_cert: $c, client_key: $k, ca_file: $ca}')
write_agent_config "[$BM]" '{"poll": {"min_s": 1, "max_s": 1, "default_s": 1, "jitter_percent": 0}}'
A12=$(deploy t1 '{"action":"collect-logs","devices":["dev1"]}')
rm -f "$DEV/collected"
cat "$TMP/agent.log" >> "$TMP/agent-earlier.log"
: > "$TMP/agent.log"
"$AGENT" --config "$DEV/agent.json" --slot B -v run 2>>"$TMP/agent.log" &
AGENT_PID=$!
for _ in $(seq 1 300); do
  [ "$(grep -c 'GET https://127.0.0.1:[0-9]*/t1/controller/v1/dev1: HTTP 200' "$TMP/agent.log")" -ge 4 ] && break
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent daemon exited"
  sleep 0.05
done
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || true; AGENT_PID=
check_eq "mTLS: the action ran without a token" "FINISHED collected" "$(action_status t1 "$A12") $(cat "$DEV/collected" 2>/dev/null)"
POLLS=$(grep -c 'GET https://127.0.0.1:[0-9]*/t1/controller/v1/dev1: HTTP 200' "$TMP/agent.log" || true)
[ "$POLLS" -ge 4 ] || fail "only $POLLS polls by the daemon"
ok "daemon polled $POLLS times, once a second as clamped by poll.max_s"
check_eq "all polls and feedback over one kept-alive connection" 1 "$(grep -c '(new connection)' "$TMP/agent.log" || true)"

# --- 9. a slow download does not block the other backend; progress feedback ---
# The first backend is reached through a proxy limited to 125 kB/s, so its 1 MB download
# takes about 8 s; the second one is polled every second meanwhile. Progress every 2 s.
# slow_proxy PORT: a proxy to the backend limited to 125 kB/s on PORT (PROXY_PID)
slow_proxy() {
  : > "$TMP/proxy.log"
  "$CUTPROXY" "$1" "$PORT" 0 0 125000 >> "$TMP/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 1 200); do grep -q listening "$TMP/proxy.log" && break; sleep 0.05; done
  grep -q listening "$TMP/proxy.log" || fail "proxy did not start"
}
PPORT2=$(free_port)
slow_proxy "$PPORT2"
BS=$(jq -n --arg url "https://127.0.0.1:$PPORT2" --arg tok "$TOK1" --arg ca "$TMP/pki/ca.pem" \
  '{name: "main", urls: [$url], tenant: "t1", target_token: $tok, ca_file: $ca}')
write_agent_config "[$BS, $B2]" '{"poll": {"min_s": 1, "max_s": 1, "default_s": 1, "jitter_percent": 0},
  "download": {"backoff_min_ms": 50, "backoff_max_ms": 200, "progress_interval_s": 2}}'
head -c 1000000 /dev/urandom > "$TMP/img-1.5.0"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.5.0.lpkg" 1.5.0 5 test-board "$TMP/img-1.5.0"
P5=$(upload t1 "$TMP/fw-1.5.0.lpkg" fw-1.5.0.lpkg)
Q5=$(upload t2 "$TMP/fw-1.5.0.lpkg" fw-1.5.0.lpkg)
A13=$(deploy t1 "{\"package\":$P5,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
cat "$TMP/agent.log" >> "$TMP/agent-earlier.log"
: > "$TMP/agent.log"
"$AGENT" --config "$DEV/agent.json" --slot B -v run 2>>"$TMP/agent.log" &
AGENT_PID=$!
# downloading, then installing once the signed manifest is verified: the package streams
# from the network into the slot in both
in_progress() { case "$(state .state 2>/dev/null)" in downloading|installing) return 0 ;; esac; return 1; }
for _ in $(seq 1 200); do
  in_progress && break
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent daemon exited"
  sleep 0.05
done
in_progress || fail "the first backend's update is not in progress: $(state .state)"
check_eq "first backend's update is downloading" "main $A13" "$(state '"\(.backend) \(.action_id)"')"
A14=$(deploy t2 "{\"package\":$Q5,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
st14=
for _ in $(seq 1 200); do
  st14=$(action_status t2 "$A14")
  [ "$st14" == WARNING ] && break
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent daemon exited"
  sleep 0.05
done
during=done
in_progress && during=in-progress
check_eq "second backend's action rejected (WARNING) while the first downloads" "WARNING in-progress" "$st14 $during"
api t2 GET "/actions/$A14" | jq -r '.history[].messages[]?' | grep -q "another update is in flight (backend main, action $A13" ||
  fail "the rejected feedback does not give the reason"
ok "rejected feedback names the update in flight"
for _ in $(seq 1 400); do
  [ "$(state .state)" == installed ] && break
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent daemon exited"
  sleep 0.05
done
check_eq "the slow download completed and installed" "installed main $A13" "$(state '"\(.state) \(.backend) \(.action_id)"')"
# wait until the daemon reports the install (queued last, delivered right away)
for _ in $(seq 1 200); do
  api t1 GET "/actions/$A13" | jq -r '.history[].messages[]?' | grep -q "installed 1.5.0" && break
  sleep 0.05
done
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || true; AGENT_PID=
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
DUE=$(grep -c 'backend second is due while main downloads' "$TMP/agent.log" || true)
[ "$DUE" -ge 2 ] || fail "the second backend was polled $DUE times during the download"
ok "the second backend was polled $DUE times during the download"
# Progress: "proceeding" entries with "downloading: N of M bytes", received by the backend
# while the download ran. The backend's times are in seconds: with progress_interval_s 2,
# no two may fall in the same second, and there are at most (download seconds + 1) / 2 + 1
# of them (an agent reporting every second would send about twice that).
api t1 GET "/actions/$A13" > "$TMP/a13.json"
jq -r '.history[] | select(any(.messages[]?; startswith("downloading: "))) | "\(.time) \(.status)"' "$TMP/a13.json" | sort -n > "$TMP/progress.txt"
NPROG=$(wc -l < "$TMP/progress.txt")
[ "$NPROG" -ge 2 ] || { cat "$TMP/a13.json" >&2; fail "only $NPROG progress messages reached the backend"; }
ok "$NPROG progress messages reached the backend during the download"
[ "$(cut -d' ' -f2 "$TMP/progress.txt" | sort -u)" == RUNNING ] || fail "progress entries are not RUNNING (proceeding)"
ok "progress entries are proceeding (RUNNING)"
T0=$(jq -r '[.history[] | select(any(.messages[]?; startswith("downloading fw-1.5.0")))][0].time' "$TMP/a13.json")
T1=$(jq -r '[.history[] | select(any(.messages[]?; startswith("installed 1.5.0")))][0].time' "$TMP/a13.json")
[[ "$T0" =~ ^[0-9]+$ && "$T1" =~ ^[0-9]+$ ]] || fail "no start/end entries in the history"
awk 'NR > 1 && $1 == prev { bad = 1; print "two progress messages at " $1 } { prev = $1 } END { exit bad }' "$TMP/progress.txt" ||
  fail "progress feedback more often than download.progress_interval_s"
[ "$NPROG" -le $(( (T1 - T0 + 1) / 2 + 1 )) ] ||
  fail "$NPROG progress messages in a download of $((T1 - T0)) s with progress_interval_s 2"
ok "progress feedback at most once per progress_interval_s ($NPROG in $((T1 - T0)) s)"
sed 's/^/# progress feedback at /' "$TMP/progress.txt"
write_agent_config "[$B1, $B2]" # the proxy is gone
check_eq "reboot into A" "slot A" "$(boot)"
agent A check-update
check_eq "first action FINISHED" FINISHED "$(action_status t1 "$A13")"
check_eq "second backend's action taken up after" "installed second $A14" "$(state '"\(.state) \(.backend) \(.action_id)"')"
check_eq "reboot into B" "slot B" "$(boot)"
agent B check-update
check_eq "second action FINISHED" FINISHED "$(action_status t2 "$A14")"

# --- 9b. the operator cancels while the device downloads ---
# The agent polls its own backend during the download too; a cancellation of the action
# it is downloading stops the transfer before anything is activated: the action ends
# CANCELED (not ERROR), the state is idle, no reboot.
PPORT3=$(free_port)
slow_proxy "$PPORT3"
BS3=$(jq -n --arg url "https://127.0.0.1:$PPORT3" --arg tok "$TOK1" --arg ca "$TMP/pki/ca.pem" \
  '{name: "main", urls: [$url], tenant: "t1", target_token: $tok, ca_file: $ca}')
write_agent_config "[$BS3]" '{"poll": {"min_s": 1, "max_s": 1, "default_s": 1, "jitter_percent": 0},
  "download": {"backoff_min_ms": 50, "backoff_max_ms": 200, "progress_interval_s": 1}}'
head -c 1000000 /dev/urandom > "$TMP/img-1.6.0"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw-1.6.0.lpkg" 1.6.0 6 test-board "$TMP/img-1.6.0"
P6=$(upload t1 "$TMP/fw-1.6.0.lpkg" fw-1.6.0.lpkg)
REBOOTS=$(wc -l < "$DEV/reboots")
A15=$(deploy t1 "{\"package\":$P6,\"devices\":[\"dev1\"],\"type\":\"forced\"}")
cat "$TMP/agent.log" >> "$TMP/agent-earlier.log"
: > "$TMP/agent.log"
"$AGENT" --config "$DEV/agent.json" --slot B -v run 2>>"$TMP/agent.log" &
AGENT_PID=$!
for _ in $(seq 1 200); do
  in_progress && break
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent daemon exited"
  sleep 0.05
done
in_progress || fail "the update is not in progress: $(state .state)"
check_eq "operator cancels during the download" CANCELING "$(api t1 POST "/actions/$A15/cancel" | jq -r .status)"
st15=
for _ in $(seq 1 200); do
  st15=$(action_status t1 "$A15")
  [ "$st15" == CANCELED ] && break
  sleep 0.05
done
check_eq "the device stopped and confirmed: action CANCELED" CANCELED "$st15"
check_eq "the attempt is over, nothing installed" idle "$(state .state)"
check_eq "no reboot" "$REBOOTS" "$(wc -l < "$DEV/reboots")"
api t1 GET "/actions/$A15" | jq -r '.history[].messages[]?' | grep -q "cancelled by the operator during the download" ||
  fail "the cancellation's feedback does not say what happened"
ok "the feedback says the download was cancelled"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || true; AGENT_PID=
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
write_agent_config "[$B1, $B2]"

# Sanitizer builds: no report from any agent run (some runs are expected to fail).
check_eq "no sanitizer reports from the agent" 0 "$(cat "$TMP/agent-earlier.log" "$TMP/agent.log" | grep -c 'Sanitizer' || true)"

echo "all $PASS checks passed"

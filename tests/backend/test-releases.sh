#!/usr/bin/env bash
# Releases (docs/rollouts.md, docs/api.md "Releases"): create from uploaded packages, the
# matrix gate's result posted by the real `loopline-matrix gate --post` (passing and
# failing histories made by mx-fake-run), approval by an operator (who and when recorded),
# a failed or missing gate refused unless overridden with a reason, tenant approval auto,
# roles, strict bodies, loopline-ctl release commands, and the state surviving a restart.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}" "${CTL:?}" "${MATRIX:?}" "${FAKE:?}"
make_certs
write_config
admin tenant create t1 >/dev/null
admin tenant create t2 >/dev/null
"$MKPKG" keygen "$TMP/sign.key" "$TMP/sign.pub"
admin tenant add-key t1 "$TMP/sign.pub" >/dev/null
admin tenant add-key t2 "$TMP/sign.pub" >/dev/null
check_eq "tenant approval: a bad mode is a usage error" 2 "$(admin tenant approval t2 sometimes 2>/dev/null; echo $?)"
check_eq "tenant approval auto" "t2: release approval auto" "$(admin tenant approval t2 auto)"
OPER=$(admin token create --tenant t1 --role operator --label alice)
CI=$(admin token create --tenant t1 --role ci)
VIEW=$(admin token create --tenant t1 --role viewer)
CI2=$(admin token create --tenant t2 --role ci)
start_server
API=$URL/api/v1
auth() { echo "Authorization: Bearer $1"; }
ctl() { local t=$1; shift; "$CTL" --url "$URL" --token "$t" --cacert "$TMP/pki/ca.pem" "$@"; }
head -c 100000 /dev/urandom > "$TMP/payload"
"$MKPKG" build "$TMP/sign.key" "$TMP/fw.lpkg" 1.1.0 "$TMP/payload"
ctl "$CI" upload "$TMP/fw.lpkg" >/dev/null || fail "upload"
ctl "$CI2" upload "$TMP/fw.lpkg" >/dev/null || fail "upload t2"
PKG=$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/packages" | jq '.items[0].id')

# --- create ---
check_eq "viewer cannot create: 403" 403 "$(http_code POST "$API/releases" -H "$(auth "$VIEW")" -d "{\"version\":\"1.1.0\",\"packages\":[$PKG]}")"
check_eq "no packages: 400" 400 "$(http_code POST "$API/releases" -H "$(auth "$CI")" -d '{"version":"1.1.0","packages":[]}')"
check_eq "the message says why" "packages: a release needs at least one package" "$(jq -r .error.message "$TMP/body")"
check_eq "unknown package: 400" 400 "$(http_code POST "$API/releases" -H "$(auth "$CI")" -d '{"version":"1.1.0","packages":[999]}')"
check_eq "a package twice: 400" 400 "$(http_code POST "$API/releases" -H "$(auth "$CI")" -d "{\"version\":\"1.1.0\",\"packages\":[$PKG,$PKG]}")"
check_eq "bad version: 400" 400 "$(http_code POST "$API/releases" -H "$(auth "$CI")" -d "{\"version\":\"1 1\",\"packages\":[$PKG]}")"
check_eq "unknown key: 400" 400 "$(http_code POST "$API/releases" -H "$(auth "$CI")" -d "{\"version\":\"1.1.0\",\"packages\":[$PKG],\"colour\":1}")"
check_eq "ctl release create" "1.1.0            built        gate: not run" "$(ctl "$CI" release create 1.1.0 --package "$PKG")"
check_eq "again: 409, exit 14" 14 "$(ctl "$CI" release create 1.1.0 --package "$PKG" 2>/dev/null; echo $?)"
ctl "$CI" release create 1.2.0 --package "$PKG" >/dev/null || fail "create 1.2.0"
ctl "$CI" release create 1.3.0 --package "$PKG" >/dev/null || fail "create 1.3.0"
check_eq "list, newest first" '["1.3.0","1.2.0","1.1.0"] 3' "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/releases" | jq -r '"\([.items[].version]|tojson) \(.total)"')"
check_eq "unknown release: 404" 404 "$(http_code GET "$API/releases/9.9.9" -H "$(auth "$VIEW")")"

# --- approval before any gate: refused, then an override with a reason ---
check_eq "ci cannot approve: 403" 403 "$(http_code POST "$API/releases/1.1.0/approve" -H "$(auth "$CI")" -d '{}')"
check_eq "no gate: approve refused, 409" 409 "$(http_code POST "$API/releases/1.1.0/approve" -H "$(auth "$OPER")" -d '{}')"
check_eq "error code" gate_not_passed "$(jq -r .error.code "$TMP/body")"
check_eq "ctl approve without a gate exits 22 (state)" 22 "$(ctl "$OPER" release approve 1.3.0 2>/dev/null; echo $?)"

# --- the real gate posts its decision ---
"$FAKE" "$TMP/pass" pass >/dev/null || fail "mx-fake-run pass"
"$FAKE" "$TMP/all" all >/dev/null || fail "mx-fake-run all"
gate() { "$MATRIX" --out "$TMP/$1" gate --post "$API/releases/$2/gate" --release "$2" --token "$3" --cacert "$TMP/pki/ca.pem"; }
rc=0; gate all 1.2.0 "$CI" > "$TMP/gate.out" 2>&1 || rc=$?
check_eq "gate of a failing run exits 30 and posts" "30 1" "$rc $(grep -c 'posted the decision to .*: HTTP 200' "$TMP/gate.out")"
check_eq "failed gate recorded, still built" "built failed 2" \
  "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/releases/1.2.0" | jq -r '"\(.state) \(.gate.decision) \(.gate.failed)"')"
check_eq "failed gate: approve refused" 409 "$(http_code POST "$API/releases/1.2.0/approve" -H "$(auth "$OPER")" -d '{}')"
gate pass 1.1.0 "$CI" > "$TMP/gate.out" 2>&1 || fail "gate pass: $(cat "$TMP/gate.out")"
R=$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/releases/1.1.0")
check_eq "passed gate: gate-passed, pending an operator" "gate-passed pass null" "$(jq -r '"\(.state) \(.gate.decision) \(.approval)"' <<<"$R")"
check_eq "the gate's spec hash is kept" 64 "$(jq -r '.gate.spec_sha256|length' <<<"$R")"
check_eq "viewer cannot post a gate: 403" 403 "$(http_code POST "$API/releases/1.1.0/gate" -H "$(auth "$VIEW")" -d '{}')"
check_eq "a gate body without a run: 400" 400 "$(http_code POST "$API/releases/1.1.0/gate" -H "$(auth "$CI")" -d '{"decision":"pass"}')"
check_eq "the message names it" "run: required key \"run\" is missing" "$(jq -r .error.message "$TMP/body")"

# --- approve: who and when ---
T0=$(date +%s)
check_eq "ctl release approve" "approved" "$(ctl "$OPER" release approve 1.1.0 | awk '{print $2}')"
R=$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/releases/1.1.0")
check_eq "approved by alice, no override" "approved alice null" "$(jq -r '"\(.state) \(.approval.by) \(.approval.override_reason)"' <<<"$R")"
[ "$(jq .approval.time <<<"$R")" -ge "$T0" ] || fail "approval time"; ok "approval time recorded"
check_eq "approve twice: 409" 409 "$(http_code POST "$API/releases/1.1.0/approve" -H "$(auth "$OPER")" -d '{}')"
check_eq "a gate after approval: 409" 409 "$(http_code POST "$API/releases/1.1.0/gate" -H "$(auth "$CI")" --data-binary @<("$MATRIX" --out "$TMP/pass" gate --json))"
check_eq "override a failed gate with a reason" "approved alice hotfix: CVE-2026-1 signed off by security" \
  "$(ctl "$OPER" --json release approve 1.2.0 --override 'hotfix: CVE-2026-1 signed off by security' | jq -r '"\(.state) \(.approval.by) \(.approval.override_reason)"')"
check_eq "events record the gate and the approvals" 4 "$("${CURL[@]}" -H "$(auth "$VIEW")" "$API/events?limit=1000" | jq '[.items[] | select(.type | startswith("release.gate") or . == "release.approved")] | length')"
grep -q "overriding the gate: hotfix" <("${CURL[@]}" -H "$(auth "$VIEW")" "$API/events?type=release.approved") || fail "override event"; ok "the override's reason is in the event log"

# --- tenant approval auto: a passed gate approves ---
gate pass 1.1.0 "$CI2" > "$TMP/gate.out" 2>&1 && fail "t2 has no release 1.1.0 yet, the post must fail"
ctl "$CI2" release create 1.1.0 --package 1 >/dev/null || fail "t2 create"
gate pass 1.1.0 "$CI2" > "$TMP/gate.out" 2>&1 || fail "t2 gate: $(cat "$TMP/gate.out")"
check_eq "approval auto: approved by auto" "approved auto" "$(ctl "$CI2" --json release show 1.1.0 | jq -r '"\(.state) \(.approval.by)"')"

# --- the state survives a restart ---
stop_server
start_server
check_eq "after a restart" "approved approved built" "$(ctl "$VIEW" --json releases | jq -r '[.items[].state] | reverse | join(" ")')"
check_eq "ctl releases table" 3 "$(ctl "$VIEW" releases | grep -c 'gate: ')"
stop_server
echo "PASS: $PASS checks"

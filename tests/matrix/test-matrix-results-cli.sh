#!/usr/bin/env bash
# loopline-matrix show, history, report and gate on synthetic histories (mx-fake-run):
# output, exit codes, --json parsed back, JUnit XML parsed back by python3's XML parser
# (and xmllint when installed), atomic report files, usage errors, --post's failure path.
set -uo pipefail
: "${MATRIX:?}" "${FAKE:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
passes=0
check() { # check NAME EXPECTED_RC ACTUAL_RC
  if [ "$2" = "$3" ]; then passes=$((passes + 1)); else echo "FAIL: $1: exit $3, expected $2"; fails=$((fails + 1)); fi
}
contains() { # contains NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then passes=$((passes + 1)); else echo "FAIL: $1: no '$3' in:"; sed 's/^/    /' "$2" | head -40; fails=$((fails + 1)); fi
}
m() { "$MATRIX" --out "$work/$1" "${@:2}"; }

# no history yet: not found, and nothing created
m none show >"$work/o" 2>"$work/e"; check "show without history" 24 $?
contains "show without history" "$work/e" "no history at"
[ ! -e "$work/none" ] || { echo "FAIL: show created $work/none"; fails=$((fails + 1)); }

for v in all pass untested; do "$FAKE" "$work/$v" "$v" || exit 1; done

# show: the table, plain ASCII off a terminal; --json parses
m all show >"$work/o" 2>"$work/e"; check "show" 0 $?
contains "show" "$work/o" "rollback-health"
contains "show" "$work/o" "FAIL new"
contains "show" "$work/o" "gate: failed: 2 of 10 required cases failed"
if LC_ALL=C grep -q '[^ -~]' "$work/o"; then echo "FAIL: show is not plain ASCII"; fails=$((fails + 1)); fi
m all show 1 >"$work/o"; check "show 1" 0 $?
contains "show 1" "$work/o" "run 1: demo"
m all show --json >"$work/o"; check "show --json" 0 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["run"]["id"]==2 and len(d["results"])==20 and d["gate"]["decision"]=="failed", d["gate"]' "$work/o"
check "show --json parses" 0 $?
m all show 99 >"$work/o" 2>"$work/e"; check "show 99" 24 $?
m all show abc >"$work/o" 2>"$work/e"; check "show abc" 2 $?

# history: newest first, one scenario
key='target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0,env=uboot'
m all history "$key" --scenario rollback-health >"$work/o"; check "history" 0 $?
[ "$(grep -c '^[12] ' "$work/o")" = 2 ] || { echo "FAIL: history rows"; cat "$work/o"; fails=$((fails + 1)); }
[ "$(grep -m1 -o '^[12] ' "$work/o")" = "2 " ] || { echo "FAIL: history not newest first"; fails=$((fails + 1)); }
m all history "$key" --limit 1 --json >"$work/o"; check "history --json" 0 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==5 and all(r["run"]==2 for r in d), d' "$work/o"
check "history --json parses" 0 $?
m all history 'target=nope' >"$work/o" 2>"$work/e"; check "history unknown combo" 24 $?
m all history "$key" --limit 0 >"$work/o" 2>"$work/e"; check "history --limit 0" 2 $?

# report: defaults into the run directory; named files elsewhere
m all report >"$work/o"; check "report" 0 $?
for f in report.xml report.json report.html; do
  [ -s "$work/all/runs/2/$f" ] || { echo "FAIL: no $f"; fails=$((fails + 1)); }
done
mkdir -p "$work/pub"
m all report 2 --junit "$work/pub/j.xml" --json "$work/pub/r.json" --html "$work/pub/r.html" \
  --rows agent --columns target,scenario >"$work/o"; check "report named" 0 $?
contains "report links into the run dir" "$work/pub/r.html" 'href="../all/runs/2/cases/'
ls "$work/pub" | grep -q tmp && { echo "FAIL: temporary files left"; fails=$((fails + 1)); }
m all report --html "$work/pub/x.html" --rows nosuch >"$work/o" 2>"$work/e"; check "report --rows nosuch" 2 $?
contains "report --rows nosuch" "$work/e" 'unknown key "nosuch"'
[ ! -e "$work/pub/x.html" ] || { echo "FAIL: a refused report was written"; fails=$((fails + 1)); }

# JUnit parsed back by a real XML parser
python3 - "$work/all/runs/2/report.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == 'testsuites', root.tag
suites = root.findall('testsuite')
assert len(suites) == 1
cases = suites[0].findall('testcase')
assert len(cases) == 20, len(cases)
kinds = {}
for c in cases:
    assert c.get('classname', '').startswith('target='), c.attrib
    assert c.get('name'), c.attrib
    float(c.get('time'))
    for k in ('failure', 'error', 'skipped', 'flakyFailure'):
        kinds[k] = kinds.get(k, 0) + len(c.findall(k))
assert kinds == {'failure': 4, 'error': 4, 'skipped': 3, 'flakyFailure': 2}, kinds
f = next(c for c in cases if c.find('failure') is not None).find('failure')
assert f.get('type') == 'product' and 'step: ' in f.text and 'console:' in f.text, f.text
assert suites[0].get('tests') == '20' and suites[0].get('failures') == '4'
print('junit ok:', kinds)
PY
check "junit parses (python3 xml.etree)" 0 $?
if command -v xmllint >/dev/null; then
  xmllint --noout "$work/all/runs/2/report.xml"; check "junit parses (xmllint)" 0 $?
  xmllint --noout "$work/pub/j.xml"; check "junit 1 parses (xmllint)" 0 $?
fi
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/pub/r.json"; check "json file parses" 0 $?

# gate: the decision is the exit code; --json says why
m all gate >"$work/o"; check "gate all" 30 $?
contains "gate all" "$work/o" "failed   target=qemu-x86_64"
m pass gate >"$work/o"; check "gate pass" 0 $?
contains "gate pass lists flaky" "$work/o" "flaky"
m untested gate >"$work/o"; check "gate untested" 31 $?
contains "gate untested" "$work/o" "not tested is not passed"
m untested gate --json >"$work/o"; check "gate --json" 31 $?
python3 - "$work/o" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d['decision'] == 'untested' and d['run'] == 2 and d['spec']['name'] == 'demo', d
assert d['counts']['untested'] == 2 and len(d['reasons']) == 2, d['counts']
assert {r['status'] for r in d['reasons']} == {'error', 'missing'}, d['reasons']
PY
check "gate --json content" 0 $?
m pass gate 1 >"$work/o"; check "gate run 1 (an old failure)" 30 $?
m pass gate --release 1.1.0 >"$work/o" 2>"$work/e"; check "gate --release without --post" 2 $?
# --post: the endpoint arrives with the backend's release gate; nothing listens here,
# so the post fails: a passing decision then exits 1, a blocking one keeps its code
m pass gate --post http://127.0.0.1:9/api/v1/releases/1.1.0/gate --release 1.1.0 >"$work/o" 2>"$work/e"
check "gate --post (nothing listening)" 1 $?
contains "gate --post error" "$work/e" "posting the decision to http://127.0.0.1:9"
m all gate --post http://127.0.0.1:9/x >"$work/o" 2>"$work/e"; check "gate --post keeps 30" 30 $?
m all gate --post ftp://x/y >"$work/o" 2>"$work/e"; check "gate --post bad URL keeps 30" 30 $?

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]

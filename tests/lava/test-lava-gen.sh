#!/bin/bash
# test-lava-gen.sh validate|executor
#   validate: `loopline-matrix lava-jobs` on tests/lava/lava-x86_64.yaml writes a job for
#     update and rollback-health, lists power-cut/resume/cancel/backend-restart as skipped
#     local-only and tampered/go-back as having no recipe (jobs.json); every job passes
#     lava_common.schemas.validate (strict) and `lava-run --validate`.
#   executor: `loopline-matrix run --executor lava-run` on the same spec: update (9 test
#     cases) and rollback-health (6) pass, the other 6 scenarios are SKIPPED with their
#     reasons, steps.log/console.log come from LAVA's log, the images are removed after
#     the run, the JUnit report names the case as a local run of it does; and
#     tests/lava/lava-regression.yaml (bad-health offered) fails as a product failure at the
#     after-reboot test case LAVA reports, and the gate fails.
# Needs lava-dispatcher (apt-get install --no-install-recommends lava-dispatcher).
set -euo pipefail
mode=$1
src=${LP_SOURCE_DIR:?}
matrix=${MATRIX:?}
command -v lava-run >/dev/null || { echo "lava-run missing: apt-get install --no-install-recommends lava-dispatcher"; exit 1; }
work=$(mktemp -d /var/tmp/lava-gen-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$work/jobs
# the build cache is shared with the matrix tests (firmware builds are content-hashed)
mkdir -p "$out" "${LP_MATRIX_CACHE:-$work/cache}"
ln -s "${LP_MATRIX_CACHE:-$work/cache}" "$out/cache"
fail() { echo "FAIL: $*"; exit 1; }

if [ "$mode" = validate ]; then
  "$matrix" --out "$out" lava-jobs "$src/tests/lava/lava-x86_64.yaml"
  for s in update rollback-health; do
    jq -e --arg s "$s" '.[] | select(.scenario == $s) | .job' "$out/jobs.json" >/dev/null || fail "no job for $s"
  done
  for s in power-cut resume cancel backend-restart; do
    jq -e --arg s "$s" '.[] | select(.scenario == $s) | .skipped | startswith("local-only: ")' "$out/jobs.json" >/dev/null ||
      fail "$s is not skipped as local-only"
  done
  for s in tampered go-back; do
    jq -e --arg s "$s" '.[] | select(.scenario == $s) | .skipped | startswith("no LAVA recipe")' "$out/jobs.json" >/dev/null ||
      fail "$s is not skipped for its missing recipe"
  done
  mapfile -t jobs < <(jq -r '.[] | .job // empty' "$out/jobs.json")
  [ ${#jobs[@]} -eq 2 ] || fail "expected 2 jobs, got ${#jobs[@]}"
  /usr/bin/python3 "$src/tests/lava/validate-jobs.py" "${jobs[@]}"
  for j in "${jobs[@]}"; do
    lava-run --validate --device "$src/lava-jobs/devices/qemu-amd64.yaml" --output-dir "$work/v" --job-id 1 "$j" \
      > "$work/validate.out" 2> "$work/validate.log" || { tail -20 "$work/validate.log"; fail "lava-run --validate $j"; }
    grep -q '"case": "validate", "definition": "lava", "result": "pass"' "$work/validate.log" || fail "lava-run --validate $j: no pass"
  done
  echo "PASS: ${#jobs[@]} jobs valid, 6 scenarios skipped with their reasons"
  exit 0
fi

# executor: `loopline-matrix run --executor lava-run`, the generated jobs under lava-run
# (TCG, no server; libguestfs builds the test overlay with the firmware's own kernel)
db=$out/history.sqlite
report() { jq -r --arg s "$2" '.results[] | select(.scenario == $s) | "\(.status) \(.class) \(.failed_step // "") \(.message // "")"' "$1"; }
junit_cases() { grep -o '<testcase classname="[^"]*" name="[^"]*"' "$1" | sort; }
"$matrix" --out "$out" run "$src/tests/lava/lava-x86_64.yaml" --executor lava-run -j2 > "$work/lava.out" 2>&1 || true
cat "$work/lava.out"
run=$(sed -n 's/^run \([0-9]*\): lava-x86_64.*/\1/p' "$work/lava.out" | head -1)
rdir=$out/runs/$run
[ -f "$rdir/report.html" ] && [ -f "$rdir/junit.xml" ] && [ -f "$rdir/report.json" ] || fail "run $run wrote no reports"
for s in update rollback-health; do
  got=$(report "$rdir/report.json" "$s")
  case $got in "pass none"*) ;; *) fail "$s: $got (want pass)";; esac
done
grep -q '9 of 9 LAVA test cases passed' "$work/lava.out" || fail "update: not 9 of 9 LAVA test cases"
grep -q '6 of 6 LAVA test cases passed' "$work/lava.out" || fail "rollback-health: not 6 of 6 LAVA test cases"
for s in power-cut resume cancel backend-restart; do
  report "$rdir/report.json" "$s" | grep -q '^skipped none  local-only: ' || fail "$s: $(report "$rdir/report.json" "$s") (want skipped local-only)"
done
for s in tampered go-back; do
  report "$rdir/report.json" "$s" | grep -q '^skipped none  no LAVA recipe' || fail "$s: not skipped for its missing recipe"
done
att=$rdir/cases/0000-update/attempt-1
grep -qx 'pass  1_after-reboot: committed' "$att/steps.log" || fail "steps.log of update: $(cat "$att/steps.log")"
grep -q 'lpfw: version=1.1.0 slot=B' "$att/console.log" || fail "console.log of update has no boot of 1.1.0 in slot B"
grep -q '<skipped message="local-only: ' "$rdir/junit.xml" || fail "junit.xml: no skipped local-only case"
[ ! -e "$rdir/lava/artifacts" ] || fail "the jobs' images were not removed after the run"
[ -z "$(pgrep -f "lava-run .*$out" || true)" ] || fail "lava-run left running"

# the same case run locally: the reports name the same test cases
"$matrix" --out "$out" run "$src/tests/lava/lava-x86_64.yaml" --only scenario=update -j1 > "$work/local.out" 2>&1 || true
lrun=$(sed -n 's/^run \([0-9]*\): lava-x86_64.*/\1/p' "$work/local.out" | head -1)
case $(report "$out/runs/$lrun/report.json" update) in "pass none"*) ;; *) cat "$work/local.out"; fail "local update did not pass";; esac
[ "$(junit_cases "$out/runs/$lrun/junit.xml" | grep '"update"')" = "$(junit_cases "$rdir/junit.xml" | grep '"update"')" ] ||
  fail "junit.xml: the local run and the lava-run run name the update case differently"
"$matrix" --out "$out" show "$run" > "$work/show.out" || fail "show $run"
grep -q 'update' "$work/show.out" || fail "show $run lists no update case"

# a seeded regression: the LAVA test case that failed is the product failure
"$matrix" --out "$out" run "$src/tests/lava/lava-regression.yaml" --executor lava-run -j1 > "$work/reg.out" 2>&1 || true
cat "$work/reg.out"
run=$(sed -n 's/^run \([0-9]*\): lava-regression.*/\1/p' "$work/reg.out" | head -1)
got=$(report "$out/runs/$run/report.json" update)
case $got in "fail product 1_after-reboot: "*"LAVA test case 1_after-reboot: "*) ;; *) fail "seeded regression: $got (want fail product at an after-reboot test case)";; esac
grep -q 'gate: fail' "$work/reg.out" || fail "the gate did not fail the seeded regression"
echo "PASS: lava-run executor: update 9/9 and rollback-health 6/6 pass, 6 skipped with reasons, same junit names as local; seeded regression: $got"

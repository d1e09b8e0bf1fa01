#!/bin/bash
# test-lava-gen.sh validate|lava-run
#   validate: `loopline-matrix lava-jobs` on tests/lava/lava-x86_64.yaml writes a job for
#     update and rollback-health, lists power-cut/resume/cancel/backend-restart as skipped
#     local-only and tampered/go-back as having no recipe (jobs.json); every job passes
#     lava_common.schemas.validate (strict) and `lava-run --validate`.
#   lava-run: the update job runs under lava-run (TCG, no server; libguestfs builds the
#     test overlay with the firmware's own kernel): the job passes and all 9 test cases
#     of install and after-reboot pass.
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

# lava-run: the update job end to end
"$matrix" --out "$out" lava-jobs "$src/tests/lava/lava-x86_64.yaml" --only scenario=update
job=$(jq -r '.[] | .job // empty' "$out/jobs.json")
kpkg=$(ls -d "$out"/cache/firmware/kernel/linux-image-*-cloud-amd64/root | head -1)
kver=$(ls "$kpkg/lib/modules" | head -1)
cp -a "$kpkg" "$work/kernel"
depmod -b "$work/kernel" "$kver"
mkdir -p "$work/guestfs-cache"
export SUPERMIN_KERNEL=$work/kernel/boot/vmlinuz-$kver SUPERMIN_KERNEL_VERSION=$kver
export SUPERMIN_MODULES=$work/kernel/lib/modules/$kver LIBGUESTFS_BACKEND_SETTINGS=force_tcg
export LIBGUESTFS_CACHEDIR=$work/guestfs-cache
rc=0
lava-run --device "$src/lava-jobs/devices/qemu-amd64.yaml" --output-dir "$work/run" --job-id 1 "$job" \
  > "$work/run.out" 2> "$work/lava.log" || rc=$?
results=$(grep '"lvl": "results"' "$work/lava.log" | grep -v '"definition": "lava"' || true)
echo "$results" | cut -c60-200
grep -q '"case": "job", "definition": "lava", "result": "pass"' "$work/lava.log" || { tail -30 "$work/lava.log"; fail "job did not pass (lava-run exit $rc)"; }
n_pass=$(echo "$results" | grep -c '"result": "pass"' || true)
n_all=$(echo "$results" | grep -c '"result": ' || true)
[ "$n_all" -eq 9 ] && [ "$n_pass" -eq 9 ] || fail "$n_pass of $n_all test cases passed (want 9 of 9)"
echo "PASS: update under lava-run: $n_pass/$n_all test cases"

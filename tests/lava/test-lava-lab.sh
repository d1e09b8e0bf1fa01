#!/usr/bin/env bash
# CTest lava-lab: the local LAVA lab (scripts/lava-lab) end to end.
#   1. installs what is missing (scripts/lava-lab install: quiet when done)
#   2. starts the lab and reads the lines it prints (LAVA_URL, LAVA_TOKEN, ...)
#   3. submits a QEMU job (Debian kernel + busybox initramfs, TCG) over REST API v0.2,
#      polls its state and health with backoff until Finished
#   4. checks health Complete and the test cases through /api/v0.2/jobs/N/tests/ and
#      /junit/
#   4b. loopline-matrix run --executor lava against the lab: a refused token is an infra
#      error; update and rollback-health pass (their jobs Complete in the lab, steps.log and
#      console.log from the lab's log), power-cut skipped as local-only; a seeded
#      regression (tests/lava/lava-regression.yaml) fails as a product failure
#   5. stops the lab and checks that nothing it started is left (daemons, their
#      children, the jobs' lava-run and QEMU, PostgreSQL if the lab started it)
# Needs root (apt-get, PostgreSQL, the lab's daemons); exit 77 (skipped) otherwise.
# A lab already running in the same DIR is used and left running (step 5 is then skipped).
# Env: LP_SOURCE_DIR, LP_BUILD_DIR (work files under LP_BUILD_DIR/lava-lab-test),
#      LP_LAVA_LAB_DIR (the lab's DIR, default /var/tmp/loopline-lava-lab).
set -euo pipefail
top=${LP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LP_BUILD_DIR:-$top/build}
labdir=${LP_LAVA_LAB_DIR:-/var/tmp/loopline-lava-lab}
lab=("$top/scripts/lava-lab" --dir "$labdir")
work=$build/lava-lab-test
t_start=$SECONDS

log() { printf '[%4ds] %s\n' "$((SECONDS - t_start))" "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (apt-get, PostgreSQL, LAVA daemons)"
  exit 77
fi
for c in curl jq cpio gzip; do
  command -v "$c" >/dev/null || fail "$c missing (scripts/setup installs it)"
done
busybox=/bin/busybox
{ ldd "$busybox" 2>&1 || true; } | grep -q "not a dynamic" || fail "$busybox is not busybox-static (scripts/setup)"

rm -rf "$work"; mkdir -p "$work"

# --- 1. install --------------------------------------------------------------------------
t=$SECONDS
"${lab[@]}" install
log "install: $((SECONDS - t)) s"

# --- 2. start ----------------------------------------------------------------------------
started=0
pg_was_up=0
pg_isready -q 2>/dev/null && pg_was_up=1
if "${lab[@]}" status >/dev/null 2>&1; then
  log "a lab already runs in $labdir: using it, leaving it running"
else
  started=1
fi
cleanup() {
  local rc=$?
  if [ $started = 1 ] && [ -f "$labdir/run/url" ]; then
    "${lab[@]}" stop || true
  fi
  exit $rc
}
trap cleanup EXIT

t=$SECONDS
"${lab[@]}" start > "$work/lab.env"
log "start: $((SECONDS - t)) s"
cat "$work/lab.env"
[ "$(wc -l < "$work/lab.env")" = 4 ] || fail "start printed $(wc -l < "$work/lab.env") lines, not 4"
val() { sed -n "s/^$1=//p" "$work/lab.env"; }
url=$(val LAVA_URL); token=$(val LAVA_TOKEN); devtype=$(val LAVA_DEVICE_TYPE); worker=$(val LAVA_WORKER)
[[ $url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "LAVA_URL '$url'"
if [ -z "$token" ] || [ -z "$worker" ] || [ "$devtype" != qemu ]; then fail "lines: $(cat "$work/lab.env")"; fi
# a second start on the running lab only prints the same lines
"${lab[@]}" start > "$work/lab2.env"
cmp -s "$work/lab.env" "$work/lab2.env" || fail "start on a running lab printed other lines"

api=$url/api/v0.2
auth=("-H" "Authorization: Token $token")
get() { curl -sf --max-time 30 "${auth[@]}" "$api/$1"; }
# the token is the admin's: an authenticated call tells who we are
get "jobs/?limit=1" >/dev/null || fail "GET jobs/ with the token"
[ "$(get "workers/$worker/" | jq -r .state)" = Online ] || fail "worker $worker not online"

# --- 3. the job's images: Debian's kernel (the lab's) + a busybox initramfs ------------
kroot=$(readlink -f "$labdir/kernel/current")
kver=$(basename "$(ls -d "$kroot"/lib/modules/*)")
r=$work/rootfs
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/modules/"$kver"}
cp "$busybox" "$r/bin/busybox"
for app in $("$busybox" --list-full); do [ -e "$r/$app" ] || ln -s /bin/busybox "$r/$app"; done
# modules for the disk LAVA attaches with the test overlay (IDE/virtio, ext4)
for m in ata_piix sd_mod virtio_pci virtio_blk ext4 crc32c_generic; do
  modprobe -d "$kroot" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | sort -u | while read -r f; do
  rel=${f#"$kroot"/}; mkdir -p "$r/$(dirname "$rel")"; cp "$f" "$r/$rel"
done
cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$r/lib/modules/$kver/"
depmod -b "$r" "$kver"
printf '%s\n' 'export PATH=/bin:/sbin:/usr/bin:/usr/sbin' 'export HOME=/root' "export PS1='/ # '" \
  'stty columns 4096 rows 100 2>/dev/null' > "$r/etc/profile"
echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
echo 'root:x:0:' > "$r/etc/group"
# LAVA mounts the overlay disk by /dev/disk/by-uuid/UUID: no udev here, so the links are
# made from the ext2/3/4 superblock (magic at 1080, UUID at 1128)
cat > "$r/sbin/disk-links" <<'EOF'
#!/bin/sh
mkdir -p /dev/disk/by-uuid
for d in /sys/class/block/sd? /sys/class/block/vd?; do
  [ -e "$d" ] || continue; n=${d##*/}
  [ "$(dd if=/dev/$n bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 53ef ] || continue
  h=$(dd if=/dev/$n bs=1 skip=1128 count=16 2>/dev/null | od -An -tx1 | tr -d ' \n')
  ln -sf /dev/$n /dev/disk/by-uuid/$(echo "$h" | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\)$/\1-\2-\3-\4-\5/')
done
EOF
# mount waits (30 s at most) for a by-uuid link the disk probe has not made yet
rm -f "$r/bin/mount"
cat > "$r/bin/mount" <<'EOF'
#!/bin/sh
for a in "$@"; do
  case "$a" in /dev/disk/by-uuid/*)
    i=0; while [ ! -e "$a" ] && [ $i -lt 60 ]; do /sbin/disk-links; [ -e "$a" ] || sleep 0.5; i=$((i+1)); done;;
  esac
done
exec /bin/busybox mount "$@"
EOF
cat > "$r/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /tmp
echo 0 > /proc/sys/kernel/printk
for m in ata_piix sd_mod virtio_pci virtio_blk crc32c_generic ext4; do modprobe "$m" 2>/dev/null; done
disk-links
echo "initramfs ready: $(uname -r)"
while true; do setsid cttyhack /bin/sh -l; done
EOF
chmod +x "$r/bin/mount" "$r/sbin/disk-links" "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
cp "$kroot/boot/vmlinuz-$kver" "$work/vmlinuz"

cat > "$work/job.yaml" <<EOF
device_type: $devtype
job_name: loopline lava-lab smoke
visibility: public
priority: medium
timeouts:
  job: {minutes: 15}
  action: {minutes: 5}
  connection: {minutes: 2}
context:
  arch: amd64
actions:
- deploy:
    timeout: {minutes: 5}
    to: tmpfs
    os: oe
    images:
      kernel:
        url: file://$work/vmlinuz
        image_arg: -kernel {kernel} -append "console=ttyS0,115200 rdinit=/init"
      initrd:
        url: file://$work/initramfs.cpio.gz
        image_arg: -initrd {initrd}
- boot:
    timeout: {minutes: 4}
    method: qemu
    media: tmpfs
    prompts: ['/ # ']
- test:
    timeout: {minutes: 5}
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: smoke
          description: busybox smoke test
        run:
          steps:
          - lava-test-case echo-hello --shell echo hello
          - lava-test-case kernel-6x --shell 'uname -r | grep -q "^6\\."'
          - lava-test-case measured --result pass --measurement 42 --units widgets
EOF

# --- 4. submit, poll with backoff -----------------------------------------------------------
t_job=$SECONDS
jq -Rs '{definition: .}' "$work/job.yaml" > "$work/submit.json"
curl -sf --max-time 60 "${auth[@]}" -H 'Content-Type: application/json' \
  --data @"$work/submit.json" "$api/jobs/" > "$work/submit.out" ||
  fail "submit: $(curl -s "${auth[@]}" -H 'Content-Type: application/json' --data @"$work/submit.json" "$api/jobs/")"
id=$(jq -r '.job_ids[0]' "$work/submit.out")
[[ $id =~ ^[0-9]+$ ]] || fail "submit answered $(cat "$work/submit.out")"
log "job $id submitted"
delay=0.5 last="" deadline=$((SECONDS + 20 * 60))
while :; do
  j=$(get "jobs/$id/") || j=""
  state=$(jq -r '.state // empty' <<<"$j" 2>/dev/null || true)
  health=$(jq -r '.health // empty' <<<"$j" 2>/dev/null || true)
  if [ "$state/$health" != "$last" ]; then log "job $id: $state $health"; last="$state/$health"; fi
  [ "$state" = Finished ] && break
  [ $SECONDS -lt $deadline ] || fail "job $id not finished after 20 min (last: $state $health)"
  sleep "$delay"
  delay=$(awk -v d="$delay" 'BEGIN { d *= 1.5; if (d > 5) d = 5; print d }')
done
job_s=$((SECONDS - t_job))
log "job $id: $health in $job_s s (submit to Finished)"
get "jobs/$id/logs/" > "$work/job-$id.log.yaml" || true
get "jobs/$id/junit/" > "$work/job-$id.junit.xml" || true
get "jobs/$id/tests/?limit=1000" > "$work/job-$id.tests.json" || fail "GET jobs/$id/tests/"
get "jobs/$id/suites/?limit=100" > "$work/job-$id.suites.json" || fail "GET jobs/$id/suites/"
if [ "$health" != Complete ]; then
  grep -E '"lvl": "(error|results)"|lvl: (error|results)' "$work/job-$id.log.yaml" | tail -n 20 >&2 || true
  tail -n 40 "$work/job-$id.log.yaml" >&2 || true
  fail "job $id health $health (log: $work/job-$id.log.yaml)"
fi

# --- 5. results ---------------------------------------------------------------------------
# a result names its suite by id; the suites are "lava" and "<index>_<definition name>"
results() {
  jq -r --slurpfile s "$work/job-$id.suites.json" '
    ($s[0].results | map({key: (.id|tostring), value: .name}) | from_entries) as $names
    | .results[] | "\($names[.suite|tostring] // .suite) \(.name) \(.result) \(.measurement // "") \(.unit // "")"' \
    "$work/job-$id.tests.json"
}
results | awk '{ printf "  %s/%s: %s", $1, $2, $3; if ($4 != "") printf " %g %s", $4, $5; print "" }'
# res SUITE NAME: the result of that test case ("0_smoke" matches SUITE smoke)
res() {
  results | awk -v s="$1" -v n="$2" '($1 == s || $1 ~ "^[0-9]+_" s "$") && $2 == n { print $3; f = 1; exit }
                                     END { if (!f) print "missing" }'
}
for c in echo-hello kernel-6x measured; do
  [ "$(res smoke "$c")" = pass ] || fail "test case smoke/$c: $(res smoke "$c")"
done
m=$(results | awk '$2 == "measured" { print $4; exit }')
[ "${m%%.*}" = 42 ] || fail "measured: measurement '$m', not 42"
bad=$(jq -r '[.results[] | select(.result != "pass" and .result != "skip")] | length' "$work/job-$id.tests.json")
[ "$bad" = 0 ] || fail "$bad failed results in job $id"
[ "$(res lava job)" = pass ] || fail "lava/job: $(res lava job)"
grep -q '<testcase[^>]*name="echo-hello"' "$work/job-$id.junit.xml" || fail "junit: no echo-hello testcase"
if grep -q '<failure' "$work/job-$id.junit.xml"; then fail "junit has failures"; fi
log "results: smoke/echo-hello, smoke/kernel-6x, smoke/measured (42 widgets) pass; lava/job pass"

# --- 5b. the matrix's REST executor (run --executor lava) against this lab --------------------
matrix=${MATRIX:-$build/matrix/loopline-matrix}
if [ -x "$matrix" ]; then
  mout=$work/matrix
  mkdir -p "$mout" "${LP_MATRIX_CACHE:-$work/matrix-cache}"
  ln -s "${LP_MATRIX_CACHE:-$work/matrix-cache}" "$mout/cache" # firmware builds are shared
  mrun() { "$matrix" --out "$mout" run "$@" > "$work/m.out" 2>&1 || true; cat "$work/m.out" >&2
           sed -n 's/^run \([0-9]*\): .*cases.*/\1/p' "$work/m.out" | head -1; }
  mres() { jq -r --arg s "$2" '.results[] | select(.scenario == $s) | "\(.status) \(.class) \(.failed_step) \(.message)"' "$mout/runs/$1/report.json"; }
  t=$SECONDS
  # a token the lab refuses: an infrastructure error that says so (no job submitted)
  r=$(LOOPLINE_LAVA_TOKEN=not-a-token mrun "$top/tests/lava/lava-x86_64.yaml" --only scenario=update --executor lava --lava-url "$url")
  got=$(mres "$r" update)
  case $got in "error infra  lava: POST /api/v0.2/jobs/: HTTP 40"[13]*) ;; *) fail "refused token: $got";; esac
  # update and rollback-health pass; the local-only scenarios are skipped with a reason
  r=$(mrun "$top/tests/lava/lava-x86_64.yaml" --filter 'scenario =~ "^(update|rollback-health|power-cut)$"' \
        --executor lava --lava-url "$url" --lava-token "$token" -j2)
  for s in update rollback-health; do
    got=$(mres "$r" "$s")
    case $got in "pass none  "*" LAVA test cases passed") ;; *) fail "REST executor $s: $got";; esac
  done
  mres "$r" power-cut | grep -q '^skipped none  local-only: ' || fail "power-cut: $(mres "$r" power-cut)"
  att=$mout/runs/$r/cases/0000-update/attempt-1
  jid=$(jq -r .job "$att/lava-job.json") || fail "no lava-job.json in $att"
  j=$(get "jobs/$jid/") || fail "GET jobs/$jid/"
  [ "$(jq -r '.health' <<<"$j")" = Complete ] || fail "the lab's job $jid: $(jq -c '{state, health}' <<<"$j")"
  jq -r '.description' <<<"$j" | grep -q '^loopline update ' || fail "job $jid is not the matrix's update job"
  grep -qx 'pass  1_after-reboot: committed' "$att/steps.log" || fail "steps.log: $(cat "$att/steps.log")"
  grep -q 'lpfw: version=1.1.0 slot=B' "$att/console.log" || fail "console.log has no boot of 1.1.0 in slot B"
  grep -q '<testcase classname="[^"]*" name="update"' "$mout/runs/$r/junit.xml" || fail "junit.xml: no update"
  # a seeded regression comes back as the product failure LAVA reported
  r=$(mrun "$top/tests/lava/lava-regression.yaml" --executor lava --lava-url "$url" --lava-token "$token")
  got=$(mres "$r" update)
  case $got in "fail product 1_after-reboot: "*"LAVA test case 1_after-reboot: "*) ;; *) fail "REST seeded regression: $got";; esac
  log "REST executor: refused token → infra error; update, rollback-health pass (job $jid), power-cut skipped; seeded regression: ${got%% (*} ($((SECONDS - t)) s)"
else
  fail "$matrix missing (MATRIX): the REST executor is part of this test"
fi

# --- 6. stop, nothing left ------------------------------------------------------------------
if [ $started = 0 ]; then
  log "lab was running before the test: left running"
  echo "PASS (stop not checked)"
  exit 0
fi
# every process of the lab, before stopping it: the daemons and everything below them
tree() { local c; echo "$1"; for c in $(ps -o pid= --ppid "$1"); do tree "$c"; done; }
pids=()
for f in "$labdir"/run/{worker,scheduler,publisher,gunicorn}.pid; do
  [ -f "$f" ] || fail "$f missing"
  mapfile -t -O ${#pids[@]} pids < <(tree "$(cat "$f")")
done
pg_pid=""
if [ $pg_was_up = 0 ]; then
  pg_pid=$(head -n1 /var/run/postgresql/*.pid 2>/dev/null | head -n1 || true)
  [ -f "$labdir/run/postgres.started" ] || fail "PostgreSQL was down, but the lab did not record starting it"
fi
rss=0
for p in "${pids[@]}" $( [ -n "$pg_pid" ] && tree "$pg_pid"); do
  k=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0); rss=$((rss + ${k:-0}))
done
log "lab processes: ${#pids[@]} (+ PostgreSQL's), RSS total $((rss / 1024)) MiB"
t=$SECONDS
"${lab[@]}" stop
log "stop: $((SECONDS - t)) s"
left=()
# (a zombie is gone: PID 1 reaps the lab's orphans when it gets to it)
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1; [ -n "$st" ] && [ "$st" != Z ]; }
for p in "${pids[@]}" $pg_pid; do alive "$p" && left+=("$p: $(tr '\0' ' ' < "/proc/$p/cmdline")"); done
# and no job of this lab (lava-run, QEMU under it)
for p in $(pgrep -f "output-dir=$labdir/worker/" || true); do alive "$p" && left+=("$p: $(tr '\0' ' ' < "/proc/$p/cmdline")"); done
if [ ${#left[@]} -gt 0 ]; then printf '  left: %s\n' "${left[@]}" >&2; fail "processes left after stop"; fi
if [ $pg_was_up = 0 ] && pg_isready -q 2>/dev/null; then fail "PostgreSQL still answers after stop"; fi
set +e; "${lab[@]}" status > "$work/status.out"; st=$?; set -e
[ $st = 3 ] || { cat "$work/status.out" >&2; fail "status after stop: exit $st, not 3"; }
started=0
log "total: $((SECONDS - t_start)) s"
echo "PASS"

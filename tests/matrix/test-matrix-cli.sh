#!/usr/bin/env bash
# loopline-matrix check/list end to end: their output (stable, exact), --json, exit codes
# (0; 2 with FILE:LINE:COL for a bad spec, a missing file or a bad filter), and that the
# shards of `list` add up to the whole list.
set -euo pipefail
: "${MATRIX:?path of loopline-matrix}"
dir=$(mktemp -d /tmp/mx-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
mkdir -p .git matrix/scenarios
for s in update power-cut agent-handover; do echo "# dummy" >"matrix/scenarios/$s.hil"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect CODE CMD...: runs CMD, keeps stdout/stderr in out/err, checks the exit code
expect() {
  local want=$1 got=0; shift
  "$@" >out 2>err || got=$?
  [ "$got" = "$want" ] || { fail "$* exited $got, want $want"; cat err >&2; }
}

cat >spec.yaml <<'EOF'
axes:
  target:  [qemu-x86_64, qemu-aarch64]
  backend: [current]
  agent:   [current, previous]
  from:    [1.0.0]
  to:      [1.1.0, {version: 1.2.0, agent: previous}]
  payload: [zstd, raw]
components:
  agent: {previous: {git: v0.1.0}}
scenarios: [update, power-cut, agent-handover]
exclude:
  - {agent: previous, target: qemu-aarch64}
  - {agent: current, scenario: agent-handover}
include:
  - {payload: raw, boot_timeout: 120}
required:
  - {target: qemu-x86_64}
EOF

# ---- check ----
expect 0 "$MATRIX" check spec.yaml
cat >want <<EOF
spec: spec (spec.yaml)
axes:
  target  qemu-x86_64, qemu-aarch64
  backend current (path $dir)
  agent   current (path $dir), previous (git v0.1.0)
  from    1.0.0
  to      1.1.0, 1.2.0 (agent previous)
  payload zstd, raw
scenarios: update, power-cut, agent-handover
combos: 12 (8 required), 6 snapshot groups
cases: 28 (20 required)
EOF
diff -u want out || fail "check output"
[ ! -s err ] || fail "check wrote to stderr: $(cat err)"

expect 0 "$MATRIX" check --json spec.yaml
[ "$(jq -c '[.name, .combos, .required_combos, .cases, .required_cases, .snapshot_groups]' out)" = \
  '["spec",12,8,28,20,6]' ] || fail "check --json counts: $(cat out)"
[ "$(jq -c '[.axes[].name]' out)" = '["target","backend","agent","from","to","payload"]' ] ||
  fail "check --json axes"
[ "$(jq -r '.components.agent.previous.git' out)" = v0.1.0 ] || fail "check --json components"

# a bad spec: exit 2, one line with FILE:LINE:COL
sed 's/qemu-aarch64]/qemu-riscv]/' spec.yaml >bad.yaml
expect 2 "$MATRIX" check bad.yaml
grep -q 'bad.yaml:2:26: axes.target\[1\]: unknown target "qemu-riscv"' err ||
  fail "bad spec message: $(cat err)"
[ "$(wc -l <err)" = 1 ] || fail "bad spec: more than one line"
[ ! -s out ] || fail "bad spec printed to stdout"
sed 's/agent: current, scenario/agent: currant, scenario/' spec.yaml >bad2.yaml
expect 2 "$MATRIX" list bad2.yaml
grep -q 'bad2.yaml:13:13: exclude\[1\].agent: unknown value "currant" of axis agent (values: current, previous)' err ||
  fail "bad value message: $(cat err)"
expect 2 "$MATRIX" check missing.yaml
grep -q 'missing.yaml: cannot open' err || fail "missing file: $(cat err)"
expect 2 "$MATRIX" check
expect 2 "$MATRIX" check spec.yaml --bogus
expect 0 "$MATRIX" check --help
# run's executor options: usage errors (exit 2) before anything is built
expect 2 "$MATRIX" --out o run spec.yaml --executor ssh
grep -q -- '--executor: "ssh": one of local, lava-run, lava' err || fail "bad executor: $(cat err)"
expect 2 env -u LOOPLINE_LAVA_TOKEN "$MATRIX" --out o run spec.yaml --executor lava --lava-url https://lava.example
grep -q -- '--executor lava needs --lava-token or $LOOPLINE_LAVA_TOKEN' err || fail "no token: $(cat err)"
expect 2 "$MATRIX" --out o run spec.yaml --executor lava --lava-token t
grep -q -- '--executor lava needs --lava-url' err || fail "no url: $(cat err)"
expect 2 "$MATRIX" --out o run spec.yaml --lava-url https://lava.example
grep -q -- '--lava-url and --lava-token are for --executor lava' err || fail "url for local: $(cat err)"
expect 2 "$MATRIX" --out o run spec.yaml --artifact-url http://x
grep -q -- '--artifact-url and --device-type are for the LAVA executors' err || fail "artifact url for local: $(cat err)"
[ ! -e o ] || fail "a usage error created the output directory"

# ---- list ----
expect 0 "$MATRIX" list spec.yaml
[ "$(wc -l <out)" = 28 ] || fail "list: $(wc -l <out) lines, want 28"
head -3 out >got
cat >want <<'EOF'
target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0,payload=zstd   update          required
target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0,payload=zstd   power-cut       required
target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0,payload=raw    update          required  boot_timeout=120
EOF
diff -u want got || fail "list lines"
[ "$(grep -c ' optional' out)" = 8 ] || fail "list: optional cases"
cp out all

expect 0 "$MATRIX" list spec.yaml --json
[ "$(jq length out)" = 28 ] || fail "list --json length"
[ "$(jq -c '.[2] | [.combo, .scenario, .required, .extra.boot_timeout, .axes.payload, .index]' out)" = \
  '["target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0,payload=raw","update",true,"120","raw",1]' ] ||
  fail "list --json entry: $(jq -c '.[2]' out)"

expect 0 "$MATRIX" list spec.yaml --only target=qemu-aarch64,scenario=update
[ "$(wc -l <out)" = 4 ] || fail "--only: $(wc -l <out) lines"
expect 0 "$MATRIX" list spec.yaml --filter 'agent == previous && to =~ "^1\.2"'
[ "$(wc -l <out)" = 6 ] || fail "--filter: $(wc -l <out) lines"

# the shards of the list are the list
: >shards
for i in 1 2 3; do
  expect 0 "$MATRIX" list spec.yaml --shard "$i/3"
  cat out >>shards
done
sort all >a; sort shards >b
diff -u a b || fail "shards 1..3 of 3 are not the whole list"

expect 2 "$MATRIX" list spec.yaml --filter 'target == qemu-x86_64 && (agent == current'
grep -q -- '--filter: column 43: expected ) to close the ( at column 26' err || fail "filter error: $(cat err)"
grep -q '^ *\^$' err || fail "filter error: no caret"
expect 2 "$MATRIX" list spec.yaml --only colour=red
grep -q -- '--only: column 1: unknown key "colour"' err || fail "only error: $(cat err)"
expect 2 "$MATRIX" list spec.yaml --shard 4/3
grep -q -- '--shard: expected I/N' err || fail "shard error: $(cat err)"

# the default spec is valid and makes the cases it says (scenario files are dummies here)
: "${LP_SOURCE_DIR:?the source tree}"
for s in update rollback-health rollback-boot power-cut tampered downgrade-refused go-back \
         fix-forward resume cancel backend-restart agent-handover; do
  echo "# dummy" >"matrix/scenarios/$s.hil"
done
cp "$LP_SOURCE_DIR/matrix/default.yaml" matrix/
expect 0 "$MATRIX" check matrix/default.yaml
grep -qx 'cases: 58 (37 required)' out || fail "default.yaml: $(cat out err)"
grep -qx '  agent   current (path '"$dir"'), previous (git 04d2131)' out || fail "default.yaml agents"

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"

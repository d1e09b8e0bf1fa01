#!/usr/bin/env bash
# One CLI convention for every tool (lib/cli.c): read each tool's --help, then for every
# command it lists check that `TOOL COMMAND --help` works, that an unknown option of the
# command is a one-line usage error (exit 2, named by the tool, before any configuration
# is read), that read-only commands take --json, and that policy refusals have the same
# exit codes in loopline-agent and loopline-pack.
# Usage: test-cli-convention.sh TOOL_BINARY...
set -uo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

# Read-only commands, which must take --json.
declare -A readonly_cmds=(
  [loopline-agent]="status|check-config"
  [loopline-pack]="inspect|verify|list-keys"
  [loopline-ctl]="devices|device show|actions|events|firmware"
  [loopline-backend]="tenant list|check-config"
  [loopline-hil]="boards|check-inventory|power status|locks"
  [loopline-matrix]="check|list|show|history|gate"
)

# one_line_usage_error NAME EXPECTED_PREFIX STDERR_FILE RC
one_line_usage_error() {
  local name=$1 prefix=$2 err=$3 rc=$4
  [ "$rc" = 2 ] || { fail "$name: exit $rc, expected 2"; return; }
  local first; first=$(head -n1 "$err")
  case $first in
    "$prefix"*) ;;
    *) fail "$name: first line '$first' does not start with '$prefix'"; return ;;
  esac
  # the error itself is one line; a second line may only be the "Try … --help" hint
  local lines; lines=$(wc -l < "$err")
  if [ "$lines" -gt 2 ] || { [ "$lines" = 2 ] && ! sed -n 2p "$err" | grep -q "^Try '.* --help'\.$"; }; then
    fail "$name: more than one line of error:"; sed 's/^/    /' "$err"; return
  fi
  if grep -q '/' "$err"; then fail "$name: a path in the message (getopt's?):"; sed 's/^/    /' "$err"; return; fi
  ok
}

for bin in "$@"; do
  tool=$(basename "$bin")
  "$bin" --help > "$work/help" 2> "$work/err" || { fail "$tool --help: exit $?"; continue; }
  grep -q "^Usage: $tool " "$work/help" || fail "$tool --help: no 'Usage: $tool' line"
  grep -q '^Exit codes:$' "$work/help" || fail "$tool --help: no exit codes"
  sed -n '/^Exit codes:$/,/^$/p' "$work/help" > "$work/exits-$tool"

  # the commands: the leading lower-case words of each line under "Commands:"
  mapfile -t cmds < <(sed -n '/^Commands:$/,/^$/p' "$work/help" | awk '
    /^  [a-z]/ { c = ""; for (i = 1; i <= NF; i++) { if ($i !~ /^[a-z][a-z0-9-]*$/) break; c = c (c ? " " : "") $i }
                 # a description starts after two spaces: keep only the synopsis part
                 split($0, parts, /   +/); n = split(parts[1], w, " "); c = ""
                 for (i = 1; i <= n; i++) { if (w[i] !~ /^[a-z][a-z0-9-]*$/) break; c = c (c ? " " : "") w[i] }
                 print c }')
  [ "${#cmds[@]}" -gt 0 ] || { fail "$tool: no commands in --help"; continue; }

  "$bin" no-such-command > /dev/null 2> "$work/err"
  one_line_usage_error "$tool no-such-command" "$tool: unknown command 'no-such-command'" "$work/err" $?
  "$bin" --no-such-option > /dev/null 2> "$work/err"
  one_line_usage_error "$tool --no-such-option" "$tool: unknown option '--no-such-option'" "$work/err" $?

  for cmd in "${cmds[@]}"; do
    # shellcheck disable=SC2086 # cmd is one or two words
    "$bin" $cmd --help > "$work/help-cmd" 2> "$work/err"; rc=$?
    if [ $rc != 0 ]; then fail "$tool $cmd --help: exit $rc: $(head -n1 "$work/err")"; continue; fi
    grep -q "^Usage: $tool $cmd" "$work/help-cmd" || fail "$tool $cmd --help: no 'Usage: $tool $cmd' line"
    # shellcheck disable=SC2086
    env -u LOOPLINE_URL -u LOOPLINE_TOKEN -u LOOPLINE_HIL_INVENTORY HOME="$work" \
      "$bin" $cmd --no-such-option > /dev/null 2> "$work/err"
    one_line_usage_error "$tool $cmd --no-such-option" "$tool $cmd: unknown option '--no-such-option'" "$work/err" $?
    ok
  done

  IFS='|' read -r -a ro <<< "${readonly_cmds[$tool]:-}"
  [ "${#ro[@]}" -gt 0 ] || fail "$tool: no read-only commands listed in this test"
  for cmd in "${ro[@]}"; do
    # shellcheck disable=SC2086
    "$bin" $cmd --help > "$work/help-cmd" 2>&1
    if grep -q -- '--json' "$work/help-cmd"; then ok; else fail "$tool $cmd: no --json"; fi
  done
done

# The same policy refusal, the same exit code, in the agent and in loopline-pack verify.
if [ -e "$work/exits-loopline-agent" ] && [ -e "$work/exits-loopline-pack" ]; then
  for code in 10 11 12 13 15; do
    a=$(grep "^  $code " "$work/exits-loopline-agent")
    p=$(grep "^  $code " "$work/exits-loopline-pack")
    if [ -n "$a" ] && [ "$a" = "$p" ]; then ok; else fail "exit $code: agent '$a', pack '$p'"; fi
  done
fi

echo "$checks checks, $fails failures"
[ "$fails" = 0 ]

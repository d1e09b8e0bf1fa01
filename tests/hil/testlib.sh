# Shared by the loopline-hil test scripts (sourced after $work is set): fail, ok, expect_rc.
fail() { echo "FAIL: $*" >&2; exit 1; }
pass=0
ok() { pass=$((pass + 1)); echo "ok $pass - $*"; }
# expect_rc WANT CMD...: runs CMD with stdin from /dev/null, its output in $work/out and
# $work/err, and checks its exit status
expect_rc() {
  local want=$1 rc=0; shift
  "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "$* exited $rc, wanted $want"; }
}

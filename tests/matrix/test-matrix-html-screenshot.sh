#!/usr/bin/env bash
# The HTML report as a person sees it: a synthetic run with every status (mx-fake-run) is
# rendered by Debian's headless Chromium; the screenshot must show the status colours
# (decoded with zlib alone: tests/matrix/png-colours.py) and the rendered DOM must hold
# the grid, the NEW marks and log links that resolve to files. The screenshot stays at
# $OUT/matrix-report.png (the build directory) for people to look at.
#
# Chromium (~290 MB installed) is not in scripts/setup: as root this test installs it
# itself the first time; otherwise it is skipped (exit 77) with a hint.
set -euo pipefail
: "${MATRIX:?}" "${FAKE:?}" "${OUT:?}"
here=$(cd "$(dirname "$0")" && pwd)

browser=$(command -v chromium || true)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium for the screenshot test" >&2
  export DEBIAN_FRONTEND=noninteractive
  # another apt-get (outside this suite) may hold dpkg's lock: wait for it, not fail
  inst=(apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=180 chromium)
  "${inst[@]}" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && "${inst[@]}" >/dev/null; }
  browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (apt-get install chromium)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$FAKE" "$work/out" all
# the page outside the run directory: its links must lead into it
"$MATRIX" --out "$work/out" report --html "$work/report.html" >/dev/null

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$work/profile" --window-size=1400,900)
shot="$OUT/matrix-report.png"
rm -f "$shot"
timeout 120 "$browser" "${flags[@]}" --screenshot="$shot" "file://$work/report.html" \
  >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log"; exit 1; }
[ -s "$shot" ] || { echo "FAIL: no screenshot"; cat "$work/chromium.log"; exit 1; }

# pass green, fail red, error purple, flaky amber, running blue, the verdict's red
python3 "$here/png-colours.py" "$shot" 2e9e44 d32f2f 7e6c99 ffb300 90caf9 c62828

timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$work/report.html" \
  >"$work/dom.html" 2>"$work/chromium.log" || { cat "$work/chromium.log"; exit 1; }
python3 - "$work/dom.html" "$work" <<'PY'
import os, re, sys, urllib.parse
dom = open(sys.argv[1], encoding='utf-8').read()
cells = len(re.findall(r'<td class="c ', dom))
news = len(re.findall(r'<span class="new" title', dom))
links = re.findall(r'href="([^"#]+\.log)"', dom)
missing = [l for l in links if not os.path.isfile(os.path.join(sys.argv[2], urllib.parse.unquote(l)))]
print(f'DOM: {cells} cells, {news} NEW marks, {len(links)} log links')
assert 'GATE: FAILED' in dom, 'no verdict'
assert cells == 20, cells
assert news == 6, news
assert len(links) >= 30, len(links)
assert not missing, f'links that lead nowhere: {missing[:3]}'
PY
echo "ok: screenshot at $shot"

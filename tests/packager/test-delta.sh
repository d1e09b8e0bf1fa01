#!/usr/bin/env bash
# Delta round trips on real ext4 images (tests/packager/delta-images.py: mke2fs -d over
# trees of real files) and loopline-pack delta.
# Usage: test-delta.sh PATH/TO/loopline-pack PATH/TO/lp-lpdiff [SIZE_MIB]
set -euo pipefail

pack=$(realpath "$1")
lpdiff=$(realpath "$2")
size=${3:-24}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/lp-delta-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

. "$here/lib.sh"
same() { checks=$((checks + 1)); cmp -s "$1" "$2" || fail "$1 and $2 differ"; }

python3 "$here/delta-images.py" img "$size" small added all

# ---- the engine: patch and apply for each case, applied from a read-only base ----
chmod a-w img/v1.img
for c in small added all; do
	run 0 "$lpdiff" create img/v1.img "img/v2-$c.img" "$c.lpd"
	run 0 "$lpdiff" apply img/v1.img "$c.lpd" "$c.out"
	same "$c.out" "img/v2-$c.img"
	echo "case $c: patch $(stat -c %s "$c.lpd") bytes"
done
# a small change makes a small patch, a package added one near the package's compressed size
check_small=$(stat -c %s small.lpd)
checks=$((checks + 1)); [ "$check_small" -lt 200000 ] || fail "small change: patch of $check_small bytes"
# identical images: a patch of a few bytes
run 0 "$lpdiff" create img/v1.img img/v1.img same.lpd
checks=$((checks + 1)); [ "$(stat -c %s same.lpd)" -lt 2000 ] || fail "identical images: patch too large"
run 0 "$lpdiff" apply img/v1.img same.lpd same.out
same same.out img/v1.img

# ---- bad inputs give clear errors ----
head -c 1000000 img/v1.img >other-base.img
run 1 "$lpdiff" apply other-base.img small.lpd bad.out
err_has "the patch is for a base of [0-9]+ bytes, the base has 1000000"
head -c 200 small.lpd >trunc.lpd
run 1 "$lpdiff" apply img/v1.img trunc.lpd bad.out
err_has "delta: .*(truncated|ends)"
printf 'not a patch at all, not a patch at all' >junk.lpd
run 1 "$lpdiff" apply img/v1.img junk.lpd bad.out
err_has "not an lpdiff1 patch"
cp small.lpd flipped.lpd
printf '\xff\xff\xff\xff' | dd of=flipped.lpd bs=1 seek=60 conv=notrunc status=none
run 1 "$lpdiff" apply img/v1.img flipped.lpd bad.out
err_has "delta: "

# ---- packages ----
"$pack" keygen --out k.pem >/dev/null 2>&1
"$pack" keygen --out other.pem >/dev/null 2>&1
mkpkg() { # VERSION IMAGE OUT
	cat >"d-$1.json" <<JSON
{"product":"ref","version":"$1","security_version":1,"compatible":["qemu-x86_64"],
 "payloads":[{"name":"rootfs.img.zst","type":"image","target":"rootfs","source":"$(realpath "$2")","compression":"zstd"}]}
JSON
	"$pack" build -k k.pem -o "$3" "d-$1.json" >/dev/null 2>&1
}
mkpkg 1.0.0 img/v1.img v1.lpkg
mkpkg 2.0.0 img/v2-added.img v2.lpkg
run 0 "$pack" delta --from v1.lpkg --to v2.lpkg -k k.pem -o d.lpkg
out_has "d.lpkg: ref 2.0.0 from 1.0.0 \(lpdiff1"
run 0 "$pack" inspect d.lpkg
out_has "rootfs.lpdiff1 +delta +rootfs"
out_has "delta +lpdiff1 from 1.0.0"
out_has "base_size +$((size * 1024 * 1024)) "
out_has "base_sha256 +$(sha256sum img/v1.img | cut -c1-64)"
out_has "sha256 +$(sha256sum img/v2-added.img | cut -c1-64)"
run 0 "$pack" inspect --json d.lpkg
out_has '"type":\s+"delta"'
run 0 "$pack" verify --trusted k.pub.pem d.lpkg
# the wrong way round, a delta as input, untrusted inputs, missing options
run 2 "$pack" delta --from v2.lpkg --to v1.lpkg -k k.pem -o back.lpkg
err_has "version 1.0.0 is not newer than 2.0.0"
run 2 "$pack" delta --from d.lpkg --to v2.lpkg -k k.pem -o dd.lpkg
err_has "is a delta package"
run 10 "$pack" delta --from v1.lpkg --to v2.lpkg -k other.pem -o u.lpkg
err_has "no signature by a trusted key"
run 0 "$pack" delta --from v1.lpkg --to v2.lpkg -k other.pem --trust k.pub.pem -o t.lpkg
run 2 "$pack" delta --from v1.lpkg -k k.pem -o x.lpkg
err_has "--to NEW.lpkg is required"
run 2 "$pack" delta --from v1.lpkg --to v2.lpkg --repo r -k k.pem
checks=$((checks + 1)); [ ! -e back.lpkg ] && [ ! -e dd.lpkg ] && [ ! -e u.lpkg ] || fail "a failed delta left an output"

# ---- delta + encryption: NEW read with its key, the patch encrypted ----
"$pack" keygen --aes --out fw.aes >/dev/null 2>&1
"$pack" build -k k.pem --encrypt-key fw.aes -o v2e.lpkg d-2.0.0.json >/dev/null 2>&1
run 1 "$pack" delta --from v1.lpkg --to v2e.lpkg -k k.pem -o de-nokey.lpkg
err_has "no key for key_id"
run 0 "$pack" delta --from v1.lpkg --to v2e.lpkg -k k.pem --decrypt-key fw.aes --encrypt-key fw.aes -o de.lpkg
run 0 "$pack" inspect de.lpkg
out_has "delta +lpdiff1 from 1.0.0"
out_has "encryption +aes-256-gcm-chunked"
out_has "sha256 +$(sha256sum img/v2-added.img | cut -c1-64)"
run 0 "$pack" verify --trusted k.pub.pem de.lpkg
run 0 "$pack" verify --trusted k.pub.pem --decrypt-key fw.aes de.lpkg

# ---- --repo: deltas from the last N releases ----
mkpkg 1.1.0 img/v2-small.img v11.lpkg
"$pack" build -k k.pem --repo repo d-1.0.0.json >/dev/null 2>&1
"$pack" build -k k.pem --repo repo d-1.1.0.json >/dev/null 2>&1
run 0 "$pack" delta --repo repo --to v2.lpkg --last 5 -k k.pem
out_has "deltas/2.0.0/1.1.0.lpkg: ref 2.0.0 from 1.1.0"
out_has "deltas/2.0.0/1.0.0.lpkg: ref 2.0.0 from 1.0.0"
run 0 "$pack" verify --trusted k.pub.pem repo/ref/deltas/2.0.0/1.1.0.lpkg
run 0 "$pack" delta --repo repo --to v2.lpkg --last 1 -k k.pem --force
out_has "from 1.1.0"
checks=$((checks + 1)); ! grep -q "from 1.0.0" out || fail "--last 1 made more than one delta"

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# Component tests for loopline-pack: drives the real binary on real files.
# Usage: test-cli.sh PATH/TO/loopline-pack GROUP
# GROUP: general keygen build adapters repo inspect verify sign list-keys encrypt
set -euo pipefail

pack=$(realpath "$1")
group=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/lp-pack-test.XXXXXX")
bgpid=
main_pid=$BASHPID
cleanup() {
	[ "$BASHPID" = "$main_pid" ] || return 0 # a forked child before its exec
	if [ -n "$bgpid" ]; then kill "$bgpid" 2>/dev/null || true; wait "$bgpid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out_lacks() { checks=$((checks + 1)); if grep -qE -- "$1" out; then fail "stdout has /$1/"; fi; }
check() { checks=$((checks + 1)); if ! eval "$1"; then fail "$2"; fi; }
json() { python3 -c "import json,sys; d=json.load(open('out')); sys.exit(0 if ($1) else 1)" || fail "json: $1"; checks=$((checks + 1)); }
# Hidden temp files (".NAME.XXXXXX") that an interrupted or failed write could leave.
no_leftovers() {
	local left
	left=$(find "$1" -maxdepth 1 -name '.*.??????' | sort)
	checks=$((checks + 1))
	[ -z "$left" ] || fail "temp files left behind: $left"
}

key() { "$pack" keygen --out "$1" >/dev/null 2>&1; }
image() { head -c "$2" /dev/urandom >"$1"; }
# desc FILE PRODUCT VERSION SECVER SOURCE [extra payload json]
desc() {
	cat >"$1" <<EOF
{
  "product": "$2",
  "version": "$3",
  "security_version": $4,
  "compatible": ["qemu-x86_64", "board-b"],
  "min_agent_version": "0.2.0",
  "payloads": [
    {"name": "rootfs.img", "type": "image", "target": "rootfs", "source": "$5"${6:-}}
  ]
}
EOF
}
keyid_of() { "$pack" list-keys "$1" | awk '{print $1}'; }

# A package most groups need.
setup_pkg() {
	key k1.pem
	image rootfs.img $((3 * 1024 * 1024 + 17))
	desc d.json demo 1.0.0 3 rootfs.img
	"$pack" build --key k1.pem --out p.lpkg d.json >/dev/null 2>&1 || { fail "setup build"; exit 1; }
}

case "$group" in
general)
	run 0 "$pack" --help
	out_has '^Usage: loopline-pack'
	out_has 'list-keys'
	out_has '^  14 +already exists'
	out_has '^  24 +not found'
	run 0 "$pack" --version
	out_has '^loopline-pack [0-9]+\.[0-9]+\.[0-9]+'
	run 2 "$pack"
	err_has 'missing command'
	err_has "Try 'loopline-pack --help'"
	run 2 "$pack" frobnicate
	err_has "unknown command 'frobnicate'"
	check "[ \$(wc -l <err) -eq 2 ]" "usage error is one line plus a hint"
	run 2 "$pack" --bogus
	for c in keygen build inspect verify sign list-keys upload; do
		run 0 "$pack" "$c" --help
		out_has "^Usage: loopline-pack $c"
		run 2 "$pack" "$c" --no-such-option
		err_has "loopline-pack $c: unknown option '--no-such-option'"
		err_has "Try 'loopline-pack $c --help'"
		check "[ \$(wc -l <err) -eq 2 ]" "$c: usage error is one line plus a hint"
	done
	run 2 "$pack" build --key
	err_has "option '--key' needs an argument"
	# --json only where the command is read-only (and upload, which prints its result)
	for c in inspect verify list-keys upload; do
		run 0 "$pack" "$c" --help
		out_has '--json'
	done
	for c in keygen build sign; do
		run 0 "$pack" "$c" --help
		out_lacks '--json'
		run 2 "$pack" "$c" --json x
		err_has "loopline-pack $c: unknown option '--json'"
	done
	# -v before or after the command; arguments counted before anything runs
	run 2 "$pack" -v inspect
	err_has 'missing argument \(FILE.lpkg\)'
	run 2 "$pack" inspect -v a.lpkg b.lpkg
	err_has "unexpected argument 'b.lpkg'"
	;;

keygen)
	run 0 "$pack" keygen --out a.pem
	out_has '^[0-9a-f]{16}$'
	id=$(cat out)
	check "[ -f a.pem ] && [ -f a.pub.pem ]" "key files written"
	check "[ \$(stat -c %a a.pem) = 600 ]" "private key mode 0600"
	check "grep -q 'BEGIN PRIVATE KEY' a.pem" "private key PEM"
	check "grep -q 'BEGIN PUBLIC KEY' a.pub.pem" "public key PEM"
	run 0 "$pack" list-keys a.pem a.pub.pem
	check "[ \$(grep -c \"^$id \" out) -eq 2 ]" "list-keys shows the key id for both halves"
	# refuses to overwrite, untouched
	cp a.pem a.copy
	run 14 "$pack" keygen --out a.pem
	err_has 'exists.*--force'
	check "cmp -s a.pem a.copy" "private key untouched without --force"
	rm a.pub.pem
	cp a.pem a.copy
	run 14 "$pack" keygen --out a.pem
	run 0 "$pack" keygen --out a.pem --force
	check "[ \"\$(cat out)\" != \"$id\" ]" "--force makes a new key"
	check "[ -f a.pub.pem ]" "public key rewritten"
	run 0 "$pack" keygen --out plainname
	check "[ -f plainname ] && [ -f plainname.pub.pem ]" "name without .pem gets .pub.pem appended"
	run 2 "$pack" keygen
	err_has '[-]-out'
	run 2 "$pack" keygen --out x.pem extra
	run 24 "$pack" keygen --out /nonexistent-dir/x.pem
	;;

build)
	key k1.pem
	key k2.pem
	image rootfs.img $((5 * 1024 * 1024 + 3))
	desc d.json demo 1.0.0 3 rootfs.img
	run 0 "$pack" build --key k1.pem --key k2.pem --out p.lpkg d.json
	out_has 'p.lpkg: demo 1.0.0 \(security_version 3\), 1 payload'
	out_has "$(keyid_of k1.pem)"
	out_has "$(keyid_of k2.pem)"
	check "tar -tf p.lpkg | head -3 | tr '\n' ' ' | grep -q '^manifest.json manifest.sig rootfs.img $'" "tar members in order"
	check "tar -xOf p.lpkg rootfs.img | cmp -s - rootfs.img" "payload bytes are the image"
	run 0 "$pack" verify --trusted k2.pub.pem p.lpkg
	# zstd payload, file and script types, relative source in another directory
	mkdir -p sub/src
	image sub/src/app.bin 100000
	printf '#!/bin/sh\necho hi\n' >sub/src/post.sh
	cat >sub/z.json <<'EOF'
{"product": "demo", "version": "1.0.1-rc.1+build.5", "security_version": 3,
 "compatible": ["qemu-x86_64"],
 "payloads": [
  {"name": "rootfs.img.zst", "target": "rootfs", "source": "../rootfs.img", "compression": "zstd", "zstd_level": 5},
  {"name": "app.bin", "type": "file", "target": "/usr/bin/app", "source": "src/app.bin"},
  {"name": "post.sh", "type": "script", "target": "post-install", "source": "src/post.sh"}
 ]}
EOF
	run 0 "$pack" build --key k1.pem --out z.lpkg sub/z.json
	out_has '3 payloads'
	run 0 "$pack" inspect --json z.lpkg
	json "[p['compression'] for p in d['manifest']['payloads']] == ['zstd','none','none']"
	json "[p['type'] for p in d['manifest']['payloads']] == ['image','file','script']"
	json "d['manifest']['payloads'][0]['size'] == 5*1024*1024+3"
	run 0 "$pack" verify --trusted k1.pub.pem z.lpkg
	# an existing output is not replaced without --force
	cp p.lpkg p.copy
	run 14 "$pack" build --key k1.pem --out p.lpkg d.json
	err_has 'exists'
	check "cmp -s p.lpkg p.copy" "existing package untouched"
	run 0 "$pack" build --key k1.pem --out p.lpkg --force d.json
	check "! cmp -s p.lpkg p.copy" "--force replaced the package"
	# SOURCE_DATE_EPOCH sets "created"
	SOURCE_DATE_EPOCH=1700000000 run 0 "$pack" build --key k1.pem --out sde.lpkg d.json
	run 0 "$pack" inspect --json sde.lpkg
	json "d['manifest']['created'] == '2023-11-14T22:13:20Z'"
	rm -f sde.lpkg
	# bad descriptions: precise messages, exit 2, nothing written
	desc bad.json demo 1.0.0 3 rootfs.img ', "colour": "blue"'
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad.json
	err_has 'payloads\[0\]\.colour'
	sed 's/"product"/"prodcut"/' d.json >bad2.json
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad2.json
	err_has 'prodcut'
	desc bad3.json demo 1.0.0 3 missing.img
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad3.json
	err_has 'missing\.img'
	desc bad4.json demo 1.0 3 rootfs.img
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad4.json
	err_has 'version'
	desc bad5.json demo 1.0.0 3 rootfs.img ', "compression": "lzma"'
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad5.json
	err_has 'payloads\[0\]\.compression'
	desc bad6.json demo 1.0.0 '"3"' rootfs.img
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad6.json
	err_has 'security_version'
	sed 's/"board-b"/"qemu-x86_64"/' d.json >bad9.json
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad9.json
	err_has 'compatible\[1\]: duplicate entry "qemu-x86_64"'
	desc bad10.json demo 1.0.0 3 rootfs.img '}, {"name": "rootfs.img", "target": "b", "source": "rootfs.img"'
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad10.json
	err_has "payloads\[1\]\.name: duplicate payload name 'rootfs.img'"
	printf '{"product": "demo",\n  "version": }\n' >bad7.json
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad7.json
	err_has 'bad7.json:2'
	desc bad8.json ../evil 1.0.0 3 rootfs.img
	run 2 "$pack" build --key k1.pem --out bad.lpkg bad8.json
	err_has 'product'
	run 2 "$pack" build --key k1.pub.pem --out bad.lpkg d.json
	run 2 "$pack" build --out bad.lpkg d.json
	err_has '[-]-key'
	run 2 "$pack" build --key k1.pem d.json
	err_has '[-]-out'
	check "[ ! -e bad.lpkg ]" "no package after failed builds"
	no_leftovers "$work"
	# Ctrl-C in the middle: whenever the signal lands, there is either a complete
	# package or nothing at all.
	image big.img $((48 * 1024 * 1024))
	desc big.json demo 1.0.0 3 big.img ', "compression": "zstd", "zstd_level": 19'
	"$pack" build --key k1.pem --out big.lpkg big.json >/dev/null 2>&1 &
	bgpid=$!
	# wait (bounded) until the build has its source open, i.e. it is really working
	deadline=$((SECONDS + 20))
	while [ $SECONDS -lt $deadline ] && kill -0 "$bgpid" 2>/dev/null; do
		if ls -l /proc/$bgpid/fd 2>/dev/null | grep -q 'big\.img'; then break; fi
	done
	kill -INT "$bgpid" 2>/dev/null || true
	rc=0
	wait "$bgpid" || rc=$?
	bgpid=
	if [ "$rc" = 0 ]; then
		run 0 "$pack" verify --trusted k1.pub.pem big.lpkg
		rm -f big.lpkg
	fi
	check "[ ! -e big.lpkg ]" "no partial package after Ctrl-C"
	no_leftovers "$work"
	;;

adapters)
	key k1.pem
	# A Yocto deploy dir as bitbake leaves it: versioned files plus unversioned links.
	m=deploy/images/qemux86-64
	mkdir -p $m
	image $m/core-image-minimal-qemux86-64.rootfs-20261124101010.ext4 200000
	image $m/core-image-minimal-qemux86-64.rootfs-20261125101010.ext4 300000
	ln -s core-image-minimal-qemux86-64.rootfs-20261125101010.ext4 $m/core-image-minimal-qemux86-64.rootfs.ext4
	image $m/core-image-minimal-qemux86-64.rootfs-20261125101010.tar.bz2 1000
	ln -s core-image-minimal-qemux86-64.rootfs-20261125101010.tar.bz2 $m/core-image-minimal-qemux86-64.rootfs.tar.bz2
	image $m/core-image-minimal-qemux86-64.rootfs-20261125101010.wic 5000
	ln -s core-image-minimal-qemux86-64.rootfs-20261125101010.wic $m/core-image-minimal-qemux86-64.rootfs.wic
	touch $m/core-image-minimal-qemux86-64.rootfs.manifest $m/core-image-minimal-qemux86-64.rootfs.wic.bmap \
		$m/core-image-minimal-qemux86-64.rootfs.testdata.json $m/bzImage-qemux86-64.bin
	image $m/core-image-full-cmdline-qemux86-64.rootfs-20261125101010.ext4 70000
	ln -s core-image-full-cmdline-qemux86-64.rootfs-20261125101010.ext4 $m/core-image-full-cmdline-qemux86-64.rootfs.ext4
	desc y.json demo 1.0.0 1 $m
	run 2 "$pack" build --key k1.pem --out y.lpkg y.json
	err_has 'several images.*--image-name.*core-image-full-cmdline, core-image-minimal'
	run 2 "$pack" build --key k1.pem --out y.lpkg --image-name core-image-minimal y.json
	err_has 'several fstypes.*--fstype.*ext4, tar.bz2, wic'
	run 2 "$pack" build --key k1.pem --out y.lpkg --image-name core-image-minimal --fstype btrfs y.json
	err_has 'no image named core-image-minimal of fstype btrfs; available.*core-image-minimal/ext4'
	run 0 "$pack" build --key k1.pem --out y.lpkg --image-name core-image-minimal --fstype ext4 y.json
	err_has 'yocto deploy dir.*chose core-image-minimal-qemux86-64.rootfs.ext4 -> .*rootfs-20261125101010.ext4'
	check "tar -xOf y.lpkg rootfs.img | cmp -s - $m/core-image-minimal-qemux86-64.rootfs-20261125101010.ext4" "yocto: the linked image was packed"
	# selection from the description instead of the command line
	desc y2.json demo 1.0.0 1 $m ', "image_name": "core-image-full-cmdline", "fstype": "ext4"'
	run 0 "$pack" build --key k1.pem --out y2.lpkg y2.json
	check "tar -xOf y2.lpkg rootfs.img | cmp -s - $m/core-image-full-cmdline-qemux86-64.rootfs-20261125101010.ext4" "yocto: description selects"
	# without the link, two versioned files are ambiguous; one is fine
	rm $m/core-image-minimal-qemux86-64.rootfs.ext4
	run 2 "$pack" build --key k1.pem --out y3.lpkg --image-name core-image-minimal --fstype ext4 y.json
	err_has 'several versioned.*20261124101010.*20261125101010'
	rm $m/core-image-minimal-qemux86-64.rootfs-20261124101010.ext4
	run 0 "$pack" build --key k1.pem --out y3.lpkg --image-name core-image-minimal --fstype ext4 y.json
	# older Yocto names: <image>-<machine>-<stamp>.rootfs.<fs> with link <image>-<machine>.<fs>
	o=old/tmp/deploy/images/raspberrypi4
	mkdir -p $o
	image $o/rpi-image-raspberrypi4-20220101000000.rootfs.ext3 40000
	ln -s rpi-image-raspberrypi4-20220101000000.rootfs.ext3 $o/rpi-image-raspberrypi4.ext3
	desc y4.json demo 1.0.0 1 $o
	run 0 "$pack" build --key k1.pem --out y4.lpkg y4.json
	err_has 'chose rpi-image-raspberrypi4.ext3'
	check "tar -xOf y4.lpkg rootfs.img | cmp -s - $o/rpi-image-raspberrypi4-20220101000000.rootfs.ext3" "old yocto names"
	# dangling link: clear error
	ln -s gone.ext4 $o/rpi-image-raspberrypi4.ext4
	run 2 "$pack" build --key k1.pem --out y5.lpkg --fstype ext4 y4.json
	err_has 'dangling'

	# Buildroot output: rootfs.ext4 -> rootfs.ext2, plus squashfs and tar
	b=buildroot/output
	mkdir -p $b/images $b/build $b/target
	image $b/images/rootfs.ext2 120000
	ln -s rootfs.ext2 $b/images/rootfs.ext4
	image $b/images/rootfs.squashfs 60000
	image $b/images/rootfs.tar 10240
	image $b/images/bzImage 5000
	desc br.json demo 1.0.0 1 $b/images
	run 2 "$pack" build --key k1.pem --out br.lpkg br.json
	err_has 'several images, choose one with --fstype: rootfs.ext4 \(--fstype ext4\), rootfs.squashfs \(--fstype squashfs\), rootfs.tar \(--fstype tar\)'
	run 0 "$pack" build --key k1.pem --out br.lpkg --fstype ext4 br.json
	err_has 'buildroot output.*chose rootfs.ext4 -> .*rootfs.ext2'
	check "tar -xOf br.lpkg rootfs.img | cmp -s - $b/images/rootfs.ext2" "buildroot ext4"
	desc br2.json demo 1.0.0 1 $b ', "fstype": "squashfs"'
	run 0 "$pack" build --key k1.pem --out br2.lpkg br2.json
	check "tar -xOf br2.lpkg rootfs.img | cmp -s - $b/images/rootfs.squashfs" "buildroot output/ dir with fstype from the description"
	run 2 "$pack" build --key k1.pem --out br3.lpkg --fstype btrfs br.json
	err_has 'no btrfs image'
	# a directory of neither shape
	mkdir -p random/dir
	desc r.json demo 1.0.0 1 random/dir
	run 2 "$pack" build --key k1.pem --out r.lpkg r.json
	err_has 'neither a Yocto deploy dir.*nor a Buildroot'
	# plain files: the kind is reported
	mkdir -p fsroot && echo hello >fsroot/hello
	if command -v mke2fs >/dev/null; then
		mke2fs -q -t ext4 -d fsroot fs.ext4 4M >/dev/null 2>&1
		desc f.json demo 1.0.0 1 fs.ext4
		run 0 "$pack" build --key k1.pem --out f.lpkg f.json
		err_has 'fs.ext4: ext2/3/4 image'
	fi
	tar -cf fs.tar fsroot
	desc t.json demo 1.0.0 1 fs.tar
	run 0 "$pack" build --key k1.pem --out t.lpkg t.json
	err_has 'fs.tar: tarball'
	;;

repo)
	key k1.pem
	image rootfs.img 100000
	desc v1.json demo 1.0.0 2 rootfs.img
	run 0 "$pack" build --key k1.pem --repo r v1.json
	check "[ -f r/demo/1.0.0.lpkg ]" "package stored in the repository"
	check "python3 -c \"import json; d=json.load(open('r/demo/index.json')); assert [p['version'] for p in d['packages']]==['1.0.0'] and d['packages'][0]['security_version']==2\"" "index lists 1.0.0"
	run 0 "$pack" verify --trusted k1.pub.pem r/demo/1.0.0.lpkg
	# same version again: refused (14), untouched
	cp r/demo/1.0.0.lpkg v1.copy
	run 14 "$pack" build --key k1.pem --repo r v1.json
	err_has 'demo 1.0.0 is already in the repository.*--force'
	check "cmp -s r/demo/1.0.0.lpkg v1.copy" "existing version untouched"
	run 0 "$pack" build --key k1.pem --repo r --force v1.json
	# lower security_version than the repository's highest: refused (13)
	desc v2.json demo 1.1.0 1 rootfs.img
	run 13 "$pack" build --key k1.pem --repo r v2.json
	err_has 'security_version 1 is lower than 2'
	check "[ ! -e r/demo/1.1.0.lpkg ]" "refused version not stored"
	run 0 "$pack" build --key k1.pem --repo r --force v2.json
	desc v3.json demo 1.2.0 2 rootfs.img
	run 0 "$pack" build --key k1.pem --repo r --out v3.lpkg v3.json
	check "cmp -s v3.lpkg r/demo/1.2.0.lpkg" "--out and --repo: same package in both places"
	check "python3 -c \"import json; d=json.load(open('r/demo/index.json')); assert sorted(p['version'] for p in d['packages'])==['1.0.0','1.1.0','1.2.0']\"" "index lists three versions"
	# a repository whose parent directories do not exist yet
	run 0 "$pack" build --key k1.pem --repo deep/er/r v1.json
	check "[ -f deep/er/r/demo/1.0.0.lpkg ] && [ -f deep/er/r/demo/index.json ]" "nested repository created"
	# another product has its own history
	desc o.json other 0.1.0 0 rootfs.img
	run 0 "$pack" build --key k1.pem --repo r o.json
	check "[ -f r/other/0.1.0.lpkg ]" "second product"
	# a broken index is an error, not silently replaced
	echo '{"product": "demo", "packages": [], "extra": 1}' >r/demo/index.json
	run 1 "$pack" build --key k1.pem --repo r v3.json
	err_has 'index.json.*extra'
	no_leftovers r/demo
	;;

inspect)
	setup_pkg
	id=$(keyid_of k1.pem)
	run 0 "$pack" inspect p.lpkg
	out_has '^product: +demo'
	out_has '^version: +1\.0\.0'
	out_has '^security_version: +3'
	out_has '^compatible: +qemu-x86_64, board-b'
	out_has '^min_agent_version: +0\.2\.0'
	out_has 'rootfs\.img +image +rootfs'
	out_has "sha256 +$(sha256sum rootfs.img | cut -c1-64)"
	out_has 'NOT verified'
	out_has "^  $id ed25519"
	run 0 "$pack" inspect --json p.lpkg
	json "d['verified'] is False and d['manifest']['product'] == 'demo'"
	json "d['signatures'] == [{'keyid': '$id', 'alg': 'ed25519'}]"
	json "d['manifest']['payloads'][0]['sha256'] == '$(sha256sum rootfs.img | cut -c1-64)'"
	json "d['file_size'] == $(stat -c %s p.lpkg)"
	# garbage and truncation
	image junk.lpkg 4096
	run 11 "$pack" inspect junk.lpkg
	head -c 700 p.lpkg >trunc.lpkg
	run 11 "$pack" inspect trunc.lpkg
	err_has 'trunc'
	run 24 "$pack" inspect missing.lpkg
	run 2 "$pack" inspect
	run 2 "$pack" inspect a.lpkg b.lpkg
	;;

verify)
	setup_pkg
	key k2.pem
	id=$(keyid_of k1.pem)
	run 0 "$pack" verify --trusted k1.pub.pem --compatible qemu-x86_64 p.lpkg
	out_has 'p.lpkg: OK'
	out_has "signature $id: valid, trusted"
	out_has '1 payload verified'
	# a directory of trusted keys; a private key file works as trusted too
	mkdir -p trust && cp k1.pub.pem k2.pub.pem trust/
	run 0 "$pack" verify --trusted trust p.lpkg
	run 0 "$pack" verify --trusted k1.pem p.lpkg
	run 0 "$pack" verify --json --trusted k1.pub.pem p.lpkg
	json "d['ok'] is True and d['exit_code'] == 0 and d['payloads_verified'] == 1"
	json "d['signatures'][0] == {'keyid': '$id', 'trusted': True, 'valid': True}"
	# untrusted key: 10
	run 10 "$pack" verify --trusted k2.pub.pem p.lpkg
	err_has 'signature'
	run 10 "$pack" verify --json --trusted k2.pub.pem p.lpkg
	json "d['ok'] is False and d['exit_code'] == 10 and d['error']['kind'] == 'signature'"
	# wrong hardware: 12
	run 12 "$pack" verify --trusted k1.pub.pem --compatible rpi4 p.lpkg
	# anti-rollback: 13 (3 is fine, 4 is not)
	run 0 "$pack" verify --trusted k1.pub.pem --min-security-version 3 p.lpkg
	run 13 "$pack" verify --trusted k1.pub.pem --min-security-version 4 p.lpkg
	# agent too old: 15
	run 0 "$pack" verify --trusted k1.pub.pem --agent-version 0.2.0 p.lpkg
	run 15 "$pack" verify --trusted k1.pub.pem --agent-version 0.1.9 p.lpkg
	# tampering: a payload byte (11), a manifest byte (10 or 11), truncation (11)
	size=$(stat -c %s p.lpkg)
	cp p.lpkg t1.lpkg
	off=$((size / 2))
	orig=$(od -An -tu1 -j $off -N1 t1.lpkg | tr -d ' ')
	printf "\\x$(printf %02x $(((orig + 1) % 256)))" | dd of=t1.lpkg bs=1 seek=$off conv=notrunc status=none
	run 11 "$pack" verify --trusted k1.pub.pem t1.lpkg
	err_has 'corrupt'
	cp p.lpkg t2.lpkg
	off=$(grep -abo demo t2.lpkg | head -1 | cut -d: -f1)
	check "[ -n \"$off\" ]" "found the manifest's product in the archive"
	printf 'x' | dd of=t2.lpkg bs=1 seek="$off" conv=notrunc status=none
	rc=0
	"$pack" verify --trusted k1.pub.pem t2.lpkg >out 2>err || rc=$?
	check "[ $rc = 10 ] || [ $rc = 11 ]" "tampered manifest refused with 10 or 11 (got $rc)"
	head -c $((size - 2048)) p.lpkg >t3.lpkg
	run 11 "$pack" verify --trusted k1.pub.pem t3.lpkg
	# a package that is not there: 24 (not found)
	run 24 "$pack" verify --trusted k1.pub.pem missing.lpkg
	# usage errors
	run 2 "$pack" verify p.lpkg
	run 2 "$pack" verify --trusted k1.pub.pem --min-security-version abc p.lpkg
	run 2 "$pack" verify --trusted k1.pub.pem --agent-version v1 p.lpkg
	run 2 "$pack" verify --trusted no-such-key.pem p.lpkg
	mkdir -p emptydir
	run 2 "$pack" verify --trusted emptydir p.lpkg
	;;

sign)
	setup_pkg
	key k2.pem
	id1=$(keyid_of k1.pem)
	id2=$(keyid_of k2.pem)
	# add a signature in place
	run 0 "$pack" sign --key k2.pem p.lpkg
	out_has "added signature $id2"
	run 0 "$pack" list-keys p.lpkg
	check "[ \$(grep -c signature out) -eq 2 ]" "two signatures"
	run 0 "$pack" verify --trusted k2.pub.pem p.lpkg
	run 0 "$pack" verify --trusted k1.pub.pem p.lpkg
	check "tar -xOf p.lpkg rootfs.img | cmp -s - rootfs.img" "payload unchanged by signing"
	# remove the first into a new file; the original keeps both
	run 0 "$pack" sign --remove "$id1" --out q.lpkg p.lpkg
	out_has "removed signature $id1"
	run 10 "$pack" verify --trusted k1.pub.pem q.lpkg
	run 0 "$pack" verify --trusted k2.pub.pem q.lpkg
	run 0 "$pack" verify --trusted k1.pub.pem p.lpkg
	run 14 "$pack" sign --remove "$id1" --out q.lpkg p.lpkg
	# the last signature stays
	run 1 "$pack" sign --remove "$id2" q.lpkg
	err_has 'last signature'
	run 0 "$pack" verify --trusted k2.pub.pem q.lpkg
	run 24 "$pack" sign --remove 0123456789abcdef q.lpkg
	err_has 'no signature by key 0123456789abcdef'
	# rotate: add k1 and remove k2 in one go
	run 0 "$pack" sign --key k1.pem --remove "$id2" q.lpkg
	run 0 "$pack" verify --trusted k1.pub.pem q.lpkg
	run 10 "$pack" verify --trusted k2.pub.pem q.lpkg
	run 2 "$pack" sign --remove NOTHEX q.lpkg
	run 2 "$pack" sign q.lpkg
	err_has 'nothing to do'
	run 2 "$pack" sign --key k1.pub.pem q.lpkg
	image junk.lpkg 2048
	run 11 "$pack" sign --key k1.pem junk.lpkg
	no_leftovers "$work"
	;;

list-keys)
	mkdir keys
	key keys/a.pem
	key keys/b.pem
	cp keys/b.pub.pem only-public.pem
	rm keys/b.pem
	echo "not a key" >keys/junk.txt
	ida=$(keyid_of keys/a.pem)
	idb=$(keyid_of only-public.pem)
	run 0 "$pack" list-keys keys
	out_has "^$ida +private +keys/a.pem$"
	out_has "^$ida +public +keys/a.pub.pem$"
	out_has "^$idb +public +keys/b.pub.pem$"
	out_lacks 'junk'
	run 0 "$pack" list-keys --json keys only-public.pem
	json "len(d) == 4 and d[3] == {'path': 'only-public.pem', 'keyid': '$idb', 'kind': 'public'}"
	image rootfs.img 1000
	desc d.json demo 1.0.0 0 rootfs.img
	"$pack" build --key keys/a.pem --out p.lpkg d.json >/dev/null 2>&1
	run 0 "$pack" list-keys p.lpkg
	out_has "^$ida +signature +p.lpkg$"
	cp p.lpkg package.bin
	run 0 "$pack" list-keys package.bin
	out_has "^$ida +signature +package.bin$"
	echo "-----BEGIN PUBLIC KEY-----" >bad.pem
	run 1 "$pack" list-keys bad.pem keys
	err_has 'bad.pem'
	out_has "^$ida +private"
	run 1 "$pack" list-keys missing.pem
	run 2 "$pack" list-keys
	;;

encrypt)
	# keygen --aes: a 0600 key file of 64 hex digits; the key id is printed
	run 0 "$pack" keygen --aes --out fw.aes
	aesid=$(cat out)
	check '[[ "$aesid" =~ ^[0-9a-f]{16}$ ]]' "keygen --aes printed '$aesid', not a key id"
	check '[ "$(stat -c %a fw.aes)" = 600 ]' "fw.aes is not mode 0600"
	check 'grep -qE "^[0-9a-f]{64}$" fw.aes' "fw.aes is not 64 hex digits"
	check '! grep -q "$aesid" fw.aes' "the key file holds its key id"
	run 14 "$pack" keygen --aes --out fw.aes
	run 0 "$pack" keygen --aes --out other.aes
	# build --encrypt-key: every payload encrypted (plain and zstd)
	key k1.pem
	image rootfs.img $((200 * 1024 + 3))
	head -c 300000 /dev/zero >app.bin
	desc d.json demo 1.0.0 3 rootfs.img \
		'}, {"name": "app.bin.zst", "type": "file", "target": "/opt/app", "source": "app.bin", "compression": "zstd"'
	run 0 "$pack" build --key k1.pem --encrypt-key fw.aes --out e.lpkg d.json
	out_has "encrypted for key $aesid"
	check '! cmp -s <(head -c 4096 rootfs.img) <(tar -xOf e.lpkg rootfs.img | head -c 4096)' \
		"the stored payload is the plaintext"
	# inspect shows the encryption without any key
	run 0 "$pack" inspect e.lpkg
	out_has "encryption +aes-256-gcm-chunked, key_id $aesid, chunks of 65536 bytes"
	run 0 "$pack" inspect --json e.lpkg
	json "d['manifest']['payloads'][0]['encryption']['key_id'] == '$aesid' and d['manifest']['payloads'][1]['encryption']['alg'] == 'aes-256-gcm-chunked'"
	# verify without the key: signature, stored sizes and hashes
	run 0 "$pack" verify --trusted k1.pub.pem e.lpkg
	out_has "2 encrypted payloads checked as stored bytes only"
	# with the key: decrypted, every hash checked
	run 0 "$pack" verify --trusted k1.pub.pem --decrypt-key fw.aes e.lpkg
	out_lacks "stored bytes only"
	# another key does not open it (and verify says nothing is decrypted)
	run 0 "$pack" verify --trusted k1.pub.pem --decrypt-key other.aes e.lpkg
	out_has "2 encrypted payloads checked as stored bytes only"
	# a flipped byte inside the encrypted payload: exit 11 with the chunk named
	off=$(python3 -c "
import tarfile; t = tarfile.open('e.lpkg'); m = t.getmember('rootfs.img'); print(m.offset_data + 70000)")
	cp e.lpkg bad.lpkg
	printf '\x5a' | dd of=bad.lpkg bs=1 seek="$off" conv=notrunc status=none
	run 11 "$pack" verify --trusted k1.pub.pem --decrypt-key fw.aes bad.lpkg
	err_has "payload rootfs.img: chunk 1: authentication failed"
	run 11 "$pack" verify --trusted k1.pub.pem bad.lpkg
	err_has "stored_sha256 mismatch"
	# bad keys: clear usage errors (exit 2)
	run 2 "$pack" build --key k1.pem --encrypt-key k1.pem --out x.lpkg d.json
	err_has "k1.pem.*PEM file"
	echo 1234 >short.aes
	run 2 "$pack" build --key k1.pem --encrypt-key short.aes --out x.lpkg d.json
	err_has "short.aes.*64 hex digits"
	run 2 "$pack" build --key k1.pem --encrypt-key missing.aes --out x.lpkg d.json
	err_has "missing.aes"
	run 2 "$pack" verify --trusted k1.pub.pem --decrypt-key short.aes e.lpkg
	check '[ ! -e x.lpkg ]' "a package was written with a bad key"
	;;

*)
	echo "unknown group $group" >&2
	exit 2
	;;
esac

echo "$group: $checks checks, $fails failed"
[ "$fails" = 0 ]

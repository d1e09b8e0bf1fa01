#!/usr/bin/env bash
# Builds the minimal QEMU test guest for the HIL tests:
#   - Debian's cloud kernel (linux-image-cloud-amd64 → its current versioned package),
#     fetched with `apt-get download` and unpacked with dpkg-deb (never installed);
#   - an uncompressed cpio initramfs with static busybox whose /init gives a shell on
#     ttyS0 (with "lp.login=1" on the kernel command line it first asks for a login:
#     user root, password "loopline").
# Output is cached by input hash: OUTDIR/<hash>/{vmlinuz,initramfs.cpio}, and
# OUTDIR/current points at the latest build. Prints the directory.
# Usage: build-guest.sh OUTDIR
set -euo pipefail
out=${1:?usage: build-guest.sh OUTDIR}
busybox=${LP_BUSYBOX:-/bin/busybox}
mkdir -p "$out"
out=$(cd "$out" && pwd)

resolve_kernel_pkg() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(resolve_kernel_pkg || true)
if [ -z "$pkg" ]; then
  echo "build-guest: refreshing the package lists" >&2
  apt-get update -qq >&2 || true
  pkg=$(resolve_kernel_pkg || true)
fi
[ -n "$pkg" ] || { echo "build-guest: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
[ -x "$busybox" ] || { echo "build-guest: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
file "$busybox" 2>/dev/null | grep -q 'statically linked' ||
  ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
  { echo "build-guest: $busybox is not static" >&2; exit 1; }

hash=$( { cat "$0"; echo "$pkg"; sha256sum "$busybox"; } | sha256sum | cut -c1-16)
dest="$out/$hash"
if [ -f "$dest/vmlinuz" ] && [ -f "$dest/initramfs.cpio" ]; then
  ln -sfn "$hash" "$out/current"
  echo "$dest"
  exit 0
fi

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
if ! (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
  # stale package lists name a version the archive no longer has: refresh, resolve again
  echo "build-guest: download failed; refreshing the package lists" >&2
  apt-get update -qq >&2 || true
  pkg=$(resolve_kernel_pkg || true)
  [ -n "$pkg" ] || { echo "build-guest: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
fi
deb=$(ls "$work"/*.deb)
dpkg-deb -x "$deb" "$work/kernel"
kernel=$(ls "$work"/kernel/boot/vmlinuz-* | head -n1)

root="$work/initramfs"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root,etc}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
hostname lpguest
echo "lpguest: init started"
if grep -q 'lp.login=1' /proc/cmdline; then
  while :; do
    printf 'lpguest login: '
    read -r user
    printf 'Password: '
    stty -echo 2>/dev/null; read -r pass; stty echo 2>/dev/null; echo
    [ "$user" = root ] && [ "$pass" = loopline ] && break
    echo "Login incorrect"
  done
fi
export HOME=/root PATH=/bin:/sbin
cd /root
while :; do
  setsid cttyhack /bin/sh -l
done
INIT
chmod 755 "$root/init"
echo 'export PS1="lpguest:\w# "' > "$root/etc/profile"

mkdir -p "$work/out"
cp "$kernel" "$work/out/vmlinuz"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet > "$work/out/initramfs.cpio")
echo "$pkg" > "$work/out/kernel-package"
rm -rf "$dest"
mv "$work/out" "$dest"
ln -sfn "$hash" "$out/current"
echo "$dest"

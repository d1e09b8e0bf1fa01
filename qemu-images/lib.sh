# qemu-images/lib.sh: what the image builders share (sourced by qemu-images/build and
# qemu-images/controller). The caller defines die() and sets out (the cache directory).

# _unpack_once DIR PKG[:ARCH]: unless DIR/.done exists, apt-get download PKG (refreshing
# the package lists once if that fails) and dpkg-deb -x it into DIR/root
_unpack_once() {
  local d=$1 pkg=$2
  [ ! -f "$d/.done" ] || return 0
  rm -rf "$d"; mkdir -p "$d"
  (cd "$d" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) || {
    apt-get update -qq >&2 || true
    (cd "$d" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
  } || die "cannot download $pkg"
  dpkg-deb -x "$d"/*.deb "$d/root"
  rm -f "$d"/*.deb
  touch "$d/.done"
}

# fetch_deb PKG[:ARCH]: apt-get download + dpkg-deb -x once into $out/debs/<pkg>; prints the dir
fetch_deb() {
  local d="$out/debs/${1/:/_}"
  _unpack_once "$d" "$1"
  echo "$d"
}

# fetch_kernel META DEBARCH: resolves the kernel metapackage (linux-image-cloud-amd64 …)
# to its versioned package with apt-cache (never hard-coded; the answer is kept in
# $out/kernel/resolved-META until the package lists change: apt-cache costs ~1 s),
# downloads and unpacks it once into $out/kernel/<pkg>/. Sets kpkg, kdir, vmlinuz,
# kver and kmods (the kernel/ directory of its modules).
fetch_kernel() {
  local meta=$1 debarch=$2 stamp resolved pkg=""
  mkdir -p "$out/kernel"
  stamp=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null | sha256sum | cut -c1-16)
  resolved="$out/kernel/resolved-${meta/:/_}"
  if [ -f "$resolved" ] && [ "$(sed -n 1p "$resolved")" = "$stamp" ]; then
    pkg=$(sed -n 2p "$resolved")
  fi
  [ -n "$pkg" ] || pkg=$(_resolve_kernel "$meta")
  if [ -z "$pkg" ]; then
    apt-get update -qq >&2 || true
    pkg=$(_resolve_kernel "$meta")
  fi
  [ -n "$pkg" ] || die "cannot resolve $meta (for arm64: dpkg --add-architecture arm64; apt-get update)"
  pkg=${pkg%%:*}
  stamp=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null | sha256sum | cut -c1-16)
  printf '%s\n%s\n' "$stamp" "$pkg" > "$resolved.tmp" && mv "$resolved.tmp" "$resolved"
  kdir="$out/kernel/$pkg"
  _unpack_once "$kdir" "$pkg:$debarch"
  kpkg=$pkg
  vmlinuz=$(ls "$kdir"/root/boot/vmlinuz-* | head -n1)
  kver=${vmlinuz##*/vmlinuz-}
  kmods="$kdir/root/lib/modules/$kver/kernel"
}
_resolve_kernel() {
  apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }' || true
}

# copy_needed ROOT TRIPLET CROSS BINARY LIBDIR…: BINARY (already under ROOT) is dynamically
# linked: its DT_NEEDED libraries, recursively (readelf, no ldd: works for cross targets),
# are copied from the first LIBDIR that has them to ROOT/lib/TRIPLET (stripped with
# CROSS-strip), and the loader to its PT_INTERP path. Libraries already there are kept.
copy_needed() {
  local root=$1 triplet=$2 cross=$3 bin=$4; shift 4
  local libdirs=("$@") queue=("$bin") f n src d interp
  local -A seen=()
  mkdir -p "$root/lib/$triplet"
  while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}; queue=("${queue[@]:1}")
    for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -z "${seen[$n]:-}" ] || continue
      seen[$n]=1
      if [ ! -e "$root/lib/$triplet/$n" ]; then
        src=""
        for d in "${libdirs[@]}"; do [ -e "$d/$n" ] && { src="$d/$n"; break; }; done
        [ -n "$src" ] || die "library $n (needed by ${f#"$root"}) not found in ${libdirs[*]}"
        cp -L "$src" "$root/lib/$triplet/$n"
        "${cross}strip" --strip-unneeded "$root/lib/$triplet/$n" 2>/dev/null || true
      fi
      queue+=("$root/lib/$triplet/$n")
    done
  done
  interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
  [ -n "$interp" ] || die "no program interpreter in $bin"
  if [ ! -e "$root$interp" ]; then
    mkdir -p "$root$(dirname "$interp")"
    if [ -e "$root/lib/$triplet/${interp##*/}" ]; then
      ln -s "/lib/$triplet/${interp##*/}" "$root$interp"
    else
      for d in "${libdirs[@]}"; do [ -e "$d/${interp##*/}" ] && { cp -L "$d/${interp##*/}" "$root$interp"; break; }; done
    fi
  fi
  [ -e "$root$interp" ] || die "loader $interp not found"
}

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes ext4 slot images of real files for the delta tests and bench/delta.

Usage: delta-images.py OUTDIR SIZE_MIB [CASE...]

v1.img is a tree of real files from /usr/bin and /usr/lib (what a busybox-style rootfs
with its libraries holds) filling about half of a SIZE_MIB ext4 image made by
`mke2fs -t ext4 -d DIR`, as qemu-images/build makes slot images. The v2 images (cases):
  small  a few files rebuilt (bytes inserted and a few addresses changed), one config file
  added  v1 plus a package: a directory of new files (about 4 % of the image)
  large  a quarter of the files rebuilt, a few removed, a package added
  all    everything changed: other files, as many bytes
Everything is deterministic for one machine (fixed seeds, UUIDs, hash seed and times).
"""
import os
import random
import shutil
import subprocess
import sys

SOURCES = ["/usr/bin", "/usr/lib/x86_64-linux-gnu"]
EPOCH_V1 = 1700000000
EPOCH_V2 = 1710000000


def candidates():
    files = []
    for d in SOURCES:
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p) and not os.path.islink(p):
                size = os.path.getsize(p)
                if 0 < size < 8 * 1024 * 1024 and os.access(p, os.R_OK):
                    files.append((p, size))
    return files


def pick(files, budget):
    out, total = [], 0
    for p, size in files:
        if total + size > budget:
            continue
        out.append(p)
        total += size
    return out


def place(tree, src, epoch, prefix=""):
    dst = os.path.join(tree, prefix + src.lstrip("/"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o755)
    os.utime(dst, (epoch, epoch))
    return dst


def rebuild(path, rng):
    """A rebuilt binary: some bytes inserted, a few addresses changed."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = rng.randrange(len(data))
    data[at:at] = rng.randbytes(rng.randrange(16, 400))
    for _ in range(rng.randrange(5, 40)):
        off = rng.randrange(len(data))
        data[off:off + 4] = rng.randbytes(4)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (EPOCH_V2, EPOCH_V2))


def tree_v1(work, files):
    tree = os.path.join(work, "v1")
    for p in files:
        place(tree, p, EPOCH_V1)
    etc = os.path.join(tree, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "os-release"), "w") as f:
        f.write('NAME="Loopline reference"\nVERSION_ID=1.0.0\n')
    return tree


def tree_case(work, case, v1_tree, v1_files, pool, budget):
    rng = random.Random("loopline-" + case)
    tree = os.path.join(work, case)
    if case == "all":
        os.makedirs(tree)
        for p in pick(pool, budget):
            place(tree, p, EPOCH_V2)
        return tree
    shutil.copytree(v1_tree, tree, symlinks=True)
    with open(os.path.join(tree, "etc/os-release"), "w") as f:
        f.write('NAME="Loopline reference"\nVERSION_ID=2.0.0\n')
    if case == "small":
        for p in v1_files[7::max(1, len(v1_files) // 5)][:5]:
            rebuild(os.path.join(tree, p.lstrip("/")), rng)
    if case == "large":
        for p in v1_files[1::4]:
            rebuild(os.path.join(tree, p.lstrip("/")), rng)
        for p in v1_files[3::50]:
            os.unlink(os.path.join(tree, p.lstrip("/")))
    if case in ("added", "large"):
        for p in pick(pool, budget // 12):
            place(tree, p, EPOCH_V2, prefix="opt/package/")
    return tree


def mkfs(tree, img, size_mib, n):
    if os.path.exists(img):
        os.unlink(img)
    env = dict(os.environ, E2FSPROGS_FAKE_TIME=str(EPOCH_V1))
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096",
                    "-U", "6c0c5b2a-0000-4000-8000-00000000000%d" % n,
                    "-E", "hash_seed=6c0c5b2a-0000-4000-8000-0000000000aa,root_owner=0:0",
                    "-d", tree, img, "%dM" % size_mib], check=True, env=env, stdout=subprocess.DEVNULL)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, size_mib = sys.argv[1], int(sys.argv[2])
    cases = sys.argv[3:] or ["small", "added", "large", "all"]
    work = os.path.join(out, "trees")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    files = candidates()
    budget = size_mib * 1024 * 1024 * 45 // 100
    v1_files = pick(files[0::2], budget)
    pool = files[1::2]
    v1_tree = tree_v1(work, v1_files)
    mkfs(v1_tree, os.path.join(out, "v1.img"), size_mib, 1)
    for i, case in enumerate(cases):
        tree = tree_case(work, case, v1_tree, v1_files, pool, budget)
        mkfs(tree, os.path.join(out, "v2-%s.img" % case), size_mib, 1)
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())

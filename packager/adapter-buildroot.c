/* SPDX-License-Identifier: MIT */
/*
 * Input adapter: a Buildroot output/images/ directory (or output/ itself). The root file
 * system image is chosen by fstype: rootfs.ext4, rootfs.ext2, rootfs.squashfs, rootfs.tar,
 * sdcard.img (genimage) …; --image-name names any other file in the directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loopline/fs.h"
#include "loopline/log.h"
#include "pack.h"

static const struct {
	const char *fstype;
	const char *file;
} images[] = {
	{ "ext4", "rootfs.ext4" },
	{ "ext3", "rootfs.ext3" },
	{ "ext2", "rootfs.ext2" },
	{ "squashfs", "rootfs.squashfs" },
	{ "erofs", "rootfs.erofs" },
	{ "btrfs", "rootfs.btrfs" },
	{ "ubi", "rootfs.ubi" },
	{ "ubifs", "rootfs.ubifs" },
	{ "tar", "rootfs.tar" },
	{ "wic", "sdcard.img" },
	{ "sdcard", "sdcard.img" },
	{ "img", "sdcard.img" },
};

static bool exists_in(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	if (lp_fs_path_join(p, sizeof(p), dir, name) < 0)
		return false;
	return lstat(p, &st) == 0;
}

static bool is_images_dir(const char *dir)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(images); i++)
		if (exists_in(dir, images[i].file))
			return true;
	return false;
}

/* output/ (with images/, build/ and target/) is accepted as well as output/images/. */
static int images_dir(const char *dir, char *buf, size_t len)
{
	if (is_images_dir(dir))
		return snprintf(buf, len, "%s", dir) < (int)len ? 0 : -ENAMETOOLONG;
	if (exists_in(dir, "images") && (exists_in(dir, "build") || exists_in(dir, "target")) &&
	    snprintf(buf, len, "%s/images", dir) < (int)len && is_images_dir(buf))
		return 0;
	return -ENOENT;
}

static bool buildroot_detect(const char *dir)
{
	char buf[PATH_MAX];

	return images_dir(dir, buf, sizeof(buf)) == 0;
}

static int buildroot_resolve(const char *dir, const struct pack_select *sel, char **ret_path,
			     struct lp_diag *diag)
{
	char idir[PATH_MAX], found[512] = "";
	char *paths[LP_ARRAY_SIZE(images)] = { 0 };
	size_t n_found = 0, pick = 0;
	int r;

	if (images_dir(dir, idir, sizeof(idir)) < 0)
		return lp_diag_fail(diag, -ENOENT, "%s: no Buildroot images", dir);
	if (sel->image_name) {
		r = pack_resolve_entry(idir, sel->image_name, ret_path, diag);
		if (r == 0)
			log_info("buildroot output %s: chose %s -> %s", idir, sel->image_name,
				 *ret_path);
		return r;
	}

	for (size_t i = 0; i < LP_ARRAY_SIZE(images); i++) {
		bool dup = false;
		char *real = NULL;

		if (sel->fstype && strcmp(sel->fstype, images[i].fstype) != 0)
			continue;
		if (!exists_in(idir, images[i].file))
			continue;
		r = pack_resolve_entry(idir, images[i].file, &real, diag);
		if (r < 0)
			goto out;
		/* rootfs.ext4 is usually a symlink to rootfs.ext2: one image, two names. */
		for (size_t j = 0; j < LP_ARRAY_SIZE(images); j++)
			if (paths[j] && strcmp(paths[j], real) == 0)
				dup = true;
		if (dup) {
			free(real);
			continue;
		}
		paths[i] = real;
		if (n_found++ == 0)
			pick = i;
		size_t l = strlen(found);
		snprintf(found + l, sizeof(found) - l, "%s%s (--fstype %s)", l ? ", " : "",
			 images[i].file, images[i].fstype);
	}
	if (n_found == 0) {
		r = lp_diag_fail(diag, -ENOENT, "buildroot output %s: no %s image (looked for %s)",
				 idir, sel->fstype ? sel->fstype : "root file system",
				 sel->fstype ? "rootfs.<fstype>/sdcard.img"
					     : "rootfs.ext4/ext2/squashfs/tar, sdcard.img …");
		goto out;
	}
	if (n_found > 1) {
		r = lp_diag_fail(diag, -ENOTUNIQ,
				 "buildroot output %s: several images, choose one with --fstype: %s",
				 idir, found);
		goto out;
	}
	log_info("buildroot output %s: chose %s -> %s", idir, images[pick].file, paths[pick]);
	*ret_path = paths[pick];
	paths[pick] = NULL;
	r = 0;
out:
	for (size_t i = 0; i < LP_ARRAY_SIZE(images); i++)
		free(paths[i]);
	return r;
}

const struct pack_adapter pack_adapter_buildroot = {
	.name = "buildroot",
	.detect = buildroot_detect,
	.resolve = buildroot_resolve,
};

/* SPDX-License-Identifier: MIT */
/*
 * Input adapter: a Yocto deploy directory, tmp/deploy/images/<machine>/. The machine is
 * the directory's name. Image files are named (by Yocto release):
 *   <image>-<machine>.rootfs.<fstype>                 link, since 4.3 (preferred)
 *   <image>-<machine>.rootfs-<timestamp>.<fstype>     versioned, since 4.3
 *   <image>-<machine>.<fstype>                        link, up to 4.2
 *   <image>-<machine>-<timestamp>.rootfs.<fstype>     versioned, up to 4.2
 * An unversioned link is preferred (and resolved); a single versioned file is used when
 * there is no link. Several image names or fstypes without a selection are an error
 * that lists the candidates.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/log.h"
#include "pack.h"

static const char *const fstypes[] = {
	"ext2", "ext3", "ext4", "btrfs", "f2fs", "erofs", "erofs-lz4", "erofs-lz4hc",
	"squashfs", "squashfs-xz", "squashfs-lzo", "squashfs-lz4", "squashfs-zst",
	"wic", "tar", "cpio", "jffs2", "ubi", "ubifs", "hddimg", "iso", "vfat",
	"qcow2", "vmdk", "vdi",
};
static const char *const compressors[] = { "", ".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma" };

struct candidate {
	const char *file;       /* directory entry */
	char image[256];
	char fstype[32];
	int rank;               /* 0 new link, 1 old link, 2 versioned */
};

static bool known_fstype(const char *s)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(fstypes); i++) {
		size_t n = strlen(fstypes[i]);

		if (strncmp(s, fstypes[i], n) != 0)
			continue;
		for (size_t j = 0; j < LP_ARRAY_SIZE(compressors); j++)
			if (strcmp(s + n, compressors[j]) == 0)
				return true;
	}
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	if (n < 8)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Splits an entry name into image name, fstype and rank; false if it is no image. */
static bool parse_entry(const char *name, const char *machine, struct candidate *c)
{
	size_t ml = strlen(machine);
	const char *p = name;

	while ((p = strstr(p, machine))) {
		const char *rest = p + ml, *fst = NULL;
		int rank = -1;

		if (p - name < 2 || p[-1] != '-' || (rest[0] != '.' && rest[0] != '-')) {
			p++;
			continue;
		}
		if (strncmp(rest, ".rootfs.", 8) == 0) {
			fst = rest + 8;
			rank = 0;
		} else if (strncmp(rest, ".rootfs-", 8) == 0) {
			const char *dot = strchr(rest + 8, '.');

			if (dot && all_digits(rest + 8, (size_t)(dot - rest - 8))) {
				fst = dot + 1;
				rank = 2;
			}
		} else if (rest[0] == '-') {
			const char *dot = strstr(rest + 1, ".rootfs.");

			if (dot && all_digits(rest + 1, (size_t)(dot - rest - 1))) {
				fst = dot + 8;
				rank = 2;
			}
		} else {
			fst = rest + 1;
			rank = 1;
		}
		if (fst && known_fstype(fst) && strlen(fst) < sizeof(c->fstype) &&
		    (size_t)(p - 1 - name) < sizeof(c->image)) {
			c->file = name;
			snprintf(c->image, sizeof(c->image), "%.*s", (int)(p - 1 - name), name);
			snprintf(c->fstype, sizeof(c->fstype), "%s", fst);
			c->rank = rank;
			return true;
		}
		p++;
	}
	return false;
}

static const char *machine_of(const char *dir, char *buf, size_t len)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	const char *start = dir + n;
	while (start > dir && start[-1] != '/')
		start--;
	snprintf(buf, len, "%.*s", (int)(dir + n - start), start);
	return buf;
}

static bool yocto_detect(const char *dir)
{
	char machine[256];
	char **names = NULL;
	size_t n = 0;
	bool found = false;
	struct candidate c;

	machine_of(dir, machine, sizeof(machine));
	if (!machine[0] || pack_dir_list(dir, &names, &n, NULL) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = parse_entry(names[i], machine, &c);
	pack_dir_list_free(names, n);
	return found;
}

/* Appends "a, b, c" style text, de-duplicated. */
static void list_add(char *buf, size_t len, const char *item)
{
	size_t l = strlen(buf), il = strlen(item);

	for (const char *p = buf; (p = strstr(p, item)); p++)
		if ((p == buf || p[-1] == ' ') && (p[il] == ',' || p[il] == '\0'))
			return;
	snprintf(buf + l, len - l, "%s%s", l ? ", " : "", item);
}

static int yocto_resolve(const char *dir, const struct pack_select *sel, char **ret_path,
			 struct lp_diag *diag)
{
	char machine[256], images[1024] = "", types[512] = "", files[2048] = "", all[2048] = "";
	char **names = NULL;
	struct candidate *cands = NULL;
	size_t n = 0, nc = 0, n_images = 0, n_types = 0;
	const struct candidate *best = NULL;
	int r, best_rank = 3, n_best = 0;

	machine_of(dir, machine, sizeof(machine));
	r = pack_dir_list(dir, &names, &n, diag);
	if (r < 0)
		return r;
	cands = calloc(n ? n : 1, sizeof(*cands));
	if (!cands) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct candidate c;

		if (!parse_entry(names[i], machine, &c))
			continue;
		char both[320];
		snprintf(both, sizeof(both), "%s/%s", c.image, c.fstype);
		list_add(all, sizeof(all), both);
		if (sel->image_name && strcmp(sel->image_name, c.image) != 0)
			continue;
		if (sel->fstype && strcmp(sel->fstype, c.fstype) != 0)
			continue;
		cands[nc++] = c;
	}
	for (size_t i = 0; i < nc; i++) {
		size_t before = strlen(images);

		list_add(images, sizeof(images), cands[i].image);
		n_images += strlen(images) != before;
		before = strlen(types);
		list_add(types, sizeof(types), cands[i].fstype);
		n_types += strlen(types) != before;
	}
	if (nc == 0) {
		r = lp_diag_fail(diag, -ENOENT,
				 "yocto deploy dir %s (machine %s): no image%s%s%s%s; available "
				 "(image/fstype): %s", dir, machine,
				 sel->image_name ? " named " : "", sel->image_name ? sel->image_name : "",
				 sel->fstype ? " of fstype " : "", sel->fstype ? sel->fstype : "",
				 all[0] ? all : "none");
		goto out;
	}
	if (n_images > 1) {
		r = lp_diag_fail(diag, -ENOTUNIQ,
				 "yocto deploy dir %s: several images, choose one with --image-name: %s",
				 dir, images);
		goto out;
	}
	if (n_types > 1) {
		r = lp_diag_fail(diag, -ENOTUNIQ,
				 "yocto deploy dir %s: image %s exists as several fstypes, choose one "
				 "with --fstype: %s", dir, cands[0].image, types);
		goto out;
	}
	for (size_t i = 0; i < nc; i++) {
		if (cands[i].rank < best_rank) {
			best_rank = cands[i].rank;
			best = &cands[i];
			n_best = 1;
		} else if (cands[i].rank == best_rank) {
			n_best++;
		}
		list_add(files, sizeof(files), cands[i].file);
	}
	if (n_best > 1) {
		r = lp_diag_fail(diag, -ENOTUNIQ,
				 "yocto deploy dir %s: several versioned %s images and no "
				 "%s-%s.rootfs.%s link: %s", dir, best->image, best->image, machine,
				 best->fstype, files);
		goto out;
	}
	r = pack_resolve_entry(dir, best->file, ret_path, diag);
	if (r < 0)
		goto out;
	log_info("yocto deploy dir %s (machine %s): chose %s -> %s", dir, machine, best->file,
		 *ret_path);
out:
	free(cands);
	pack_dir_list_free(names, n);
	return r;
}

const struct pack_adapter pack_adapter_yocto = {
	.name = "yocto",
	.detect = yocto_detect,
	.resolve = yocto_resolve,
};

/* SPDX-License-Identifier: MIT */
/* Turning a description's "source" into the file to read, through the input adapters. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loopline/fs.h"
#include "loopline/log.h"
#include "pack.h"

#define DIR_LIST_MAX 4096

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pack_dir_list(const char *dir, char ***ret_names, size_t *ret_n, struct lp_diag *diag)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (!d)
		return lp_diag_fail(diag, -errno, "%s: %s", dir, strerror(errno));
	names = calloc(DIR_LIST_MAX, sizeof(*names));
	if (!names) {
		closedir(d);
		return -ENOMEM;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n >= DIR_LIST_MAX) {
			r = lp_diag_fail(diag, -E2BIG, "%s: more than %d entries", dir, DIR_LIST_MAX);
			break;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r < 0) {
		pack_dir_list_free(names, n);
		return r;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

void pack_dir_list_free(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int pack_resolve_entry(const char *dir, const char *name, char **ret_path, struct lp_diag *diag)
{
	char joined[PATH_MAX];
	char *real;
	struct stat st;

	if (lp_fs_path_join(joined, sizeof(joined), dir, name) < 0)
		return lp_diag_fail(diag, -ENAMETOOLONG, "%s/%s: path too long", dir, name);
	real = realpath(joined, NULL);
	if (!real)
		return lp_diag_fail(diag, -ENOENT, "%s: %s", joined,
				    errno == ENOENT ? "dangling symlink or missing file"
						    : strerror(errno));
	if (stat(real, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		free(real);
		return lp_diag_fail(diag, -EINVAL, "%s: not a regular file", joined);
	}
	*ret_path = real;
	return 0;
}

int pack_source_resolve(const char *source, const struct pack_select *sel, char **ret_path,
			const char **ret_kind, struct lp_diag *diag)
{
	static const struct pack_adapter *const dir_adapters[] = {
		&pack_adapter_yocto,
		&pack_adapter_buildroot,
	};
	struct stat st;

	if (stat(source, &st) < 0)
		return lp_diag_fail(diag, -errno, "source %s: %s", source, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		*ret_kind = pack_adapter_file.name;
		return pack_adapter_file.resolve(source, sel, ret_path, diag);
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(dir_adapters); i++) {
		if (dir_adapters[i]->detect(source)) {
			log_debug("%s: looks like a %s", source, dir_adapters[i]->name);
			*ret_kind = dir_adapters[i]->name;
			return dir_adapters[i]->resolve(source, sel, ret_path, diag);
		}
	}
	return lp_diag_fail(diag, -EINVAL,
			    "source %s is a directory but neither a Yocto deploy dir "
			    "(tmp/deploy/images/<machine>/ with <image>-<machine>.rootfs.* files) "
			    "nor a Buildroot output/images/ (rootfs.ext4, rootfs.squashfs, "
			    "rootfs.tar, sdcard.img …)", source);
}

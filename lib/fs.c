/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/io.h"

int lp_fs_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap;
	struct stat st;
	char *buf;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	/* A regular file says its size (procfs and pipes say 0 and grow the buffer). */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= max
		      ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			/* max + 1 bytes read means the file is larger than max */
			if (cap > max) {
				r = -EFBIG;
				goto fail;
			}
			cap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = lp_io_read(fd, buf + len, cap - len);
		if (n < 0) {
			r = (int)n;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;
		goto fail;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
fail:
	free(buf);
	return r;
}

int lp_fs_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = lp_fs_read_fd(fd, max, ret_buf, ret_len);
	close(fd);
	return r;
}

int lp_fs_read_file_diag(const char *path, size_t max, char **ret_buf, size_t *ret_len,
			 struct lp_diag *diag)
{
	int fd, r;

	lp_diag_set_file(diag, path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		return lp_diag_fail(diag, r, "cannot open: %s", strerror(-r));
	}
	r = lp_fs_read_fd(fd, max, ret_buf, ret_len);
	close(fd);
	if (r == -EFBIG)
		return lp_diag_fail(diag, r, "larger than %zu bytes", max);
	if (r == -EISDIR)
		return lp_diag_fail(diag, r, "is a directory");
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot read: %s", strerror(-r));
	return 0;
}

int lp_fs_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int lp_fs_dirname(char *buf, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (!slash)
		n = snprintf(buf, len, ".");
	else if (slash == path)
		n = snprintf(buf, len, "/");
	else
		n = snprintf(buf, len, "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int lp_fs_fsync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int lp_fs_fsync_parent(const char *path)
{
	char dir[4096];
	int r = lp_fs_dirname(dir, sizeof(dir), path);

	return r < 0 ? r : lp_fs_fsync_dir(dir);
}

static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a file system without RENAME_NOREPLACE: link() refuses to replace too */
	if (link(from, to) < 0)
		return -errno;
	unlink(from);
	return 0;
}

int lp_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       unsigned flags)
{
	char tmp[4096];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((flags & LP_FS_NOREPLACE) && access(path, F_OK) == 0)
		return -EEXIST;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = lp_io_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0) {
		if (flags & LP_FS_NOREPLACE)
			r = rename_noreplace(tmp, path);
		else if (rename(tmp, path) < 0)
			r = -errno;
	}
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return lp_fs_fsync_parent(path);
}

int lp_fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);
	struct stat st;

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/') /* "a//b" */
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0) {
			if (errno != EEXIST)
				return -errno;
			if (stat(buf, &st) < 0)
				return -errno;
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
		}
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

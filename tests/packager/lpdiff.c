/* SPDX-License-Identifier: MIT */
/*
 * lp-lpdiff: the delta engine (loopline/delta.h) on plain files, for bench/delta and the
 * delta tests. Not installed.
 *   lp-lpdiff create OLD NEW PATCH [LEVEL]   prints "records copy add extra patch" bytes
 *   lp-lpdiff apply OLD PATCH OUT            streams PATCH in 64 KiB pieces
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/delta.h"
#include "loopline/io.h"

static int map_file(const char *path, const uint8_t **ret, uint64_t *ret_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	*ret_len = (uint64_t)st.st_size;
	*ret = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (*ret == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int out_fd(void *ctx, const void *data, size_t len)
{
	return lp_io_write_all(*(int *)ctx, data, len);
}

static int cmd_create(char **argv, int argc)
{
	struct lp_delta_create_opts opts = { 0 };
	struct lp_delta_stats st;
	struct lp_diag diag;
	const uint8_t *old, *nw;
	uint64_t old_len, new_len;
	int fd, rc;

	if (argc > 5) { /* the zstd level: 1 … 22 */
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(argv[5], &end, 10);
		if (errno || end == argv[5] || *end || v < 1 || v > 22) {
			fprintf(stderr, "lp-lpdiff: level '%s': expected 1 … 22\n", argv[5]);
			return 2;
		}
		opts.level = (int)v;
	}
	if (map_file(argv[2], &old, &old_len) < 0 || map_file(argv[3], &nw, &new_len) < 0)
		return 1;
	fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	lp_diag_clear(&diag);
	rc = lp_delta_create(old, old_len, nw, new_len, &opts, out_fd, &fd, &st, &diag);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "lp-lpdiff: %s\n", diag.msg);
		return 1;
	}
	printf("records=%llu copy=%llu add=%llu extra=%llu patch=%llu\n",
	       (unsigned long long)st.records, (unsigned long long)st.copy_bytes,
	       (unsigned long long)st.add_bytes, (unsigned long long)st.extra_bytes,
	       (unsigned long long)st.patch_bytes);
	return 0;
}

static int cmd_apply(char **argv)
{
	struct lp_delta_apply *a = NULL;
	struct lp_delta_base base = { .pread = lp_delta_fd_pread };
	struct lp_diag diag;
	static uint8_t buf[64 * 1024];
	struct stat st;
	int old_fd, patch_fd, out, rc;

	old_fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	patch_fd = open(argv[3], O_RDONLY | O_CLOEXEC);
	out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (old_fd < 0 || patch_fd < 0 || out < 0 || fstat(old_fd, &st) < 0) {
		fprintf(stderr, "lp-lpdiff: %s\n", strerror(errno));
		return 1;
	}
	base.ctx = &old_fd;
	base.size = (uint64_t)st.st_size;
	lp_diag_clear(&diag);
	rc = lp_delta_apply_new(&base, out_fd, &out, &a);
	while (rc == 0) {
		ssize_t n = lp_io_read(patch_fd, buf, sizeof(buf));

		if (n <= 0) {
			rc = n < 0 ? (int)n : lp_delta_apply_finish(a, &diag);
			break;
		}
		rc = lp_delta_apply_write(a, buf, (size_t)n, &diag);
	}
	lp_delta_apply_free(a);
	if (rc == 0 && fsync(out) < 0)
		rc = -errno;
	close(out);
	if (rc < 0) {
		fprintf(stderr, "lp-lpdiff: %s\n", diag.msg[0] ? diag.msg : strerror(-rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "create") == 0)
		return cmd_create(argv, argc);
	if (argc == 5 && strcmp(argv[1], "apply") == 0)
		return cmd_apply(argv);
	fprintf(stderr, "usage: lp-lpdiff create OLD NEW PATCH [LEVEL] | apply OLD PATCH OUT\n");
	return 2;
}

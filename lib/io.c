/* SPDX-License-Identifier: MIT */
/* File descriptor I/O loops (loopline/io.h). Needs nothing but libc. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "loopline/io.h"

ssize_t lp_io_read(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

ssize_t lp_io_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = lp_io_read(fd, p + got, len - got);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* write(2) when off < 0, else pwrite(2) at off; both until len bytes went out. */
static int write_loop(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int lp_io_write_all(int fd, const void *buf, size_t len)
{
	return write_loop(fd, buf, len, -1);
}

int lp_io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	if (off < 0)
		return -EINVAL;
	return write_loop(fd, buf, len, off);
}

ssize_t lp_io_fd_read(void *ctx, void *buf, size_t len)
{
	return lp_io_read(*(const int *)ctx, buf, len);
}

int lp_io_fd_write(void *ctx, const void *buf, size_t len)
{
	return lp_io_write_all(*(const int *)ctx, buf, len);
}

int lp_io_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return -EOVERFLOW;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		done += (size_t)n;
	}
	return 0;
}

int lp_io_unix_connect(const char *path, bool nonblock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, r;

	_Static_assert(sizeof(sa.sun_path) == LP_IO_UNIX_PATH_MAX + 1, "sun_path size");
	if (len > LP_IO_UNIX_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* SPDX-License-Identifier: MIT */
/*
 * File descriptor I/O loops written once: a read that retries EINTR, a read that fills
 * its buffer unless the input ends first, a write that loops over short writes, and the
 * two callbacks that the tar and package streams take (ctx points at an int fd).
 *
 * Errors are negative errno values; nothing here logs. The boot environment keeps its own
 * positional loops (lib/bootenv.c): they carry the power-cut fault hook of its tests.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "loopline/common.h"

/* One read(2), retried on EINTR: bytes read (0 at end of input) or -errno. */
LP_EXPORT ssize_t lp_io_read(int fd, void *buf, size_t len);
/* Reads until len bytes or the end of input: bytes read (less than len only at the end)
 * or -errno. Bytes read before an error are lost to the caller. */
LP_EXPORT ssize_t lp_io_read_full(int fd, void *buf, size_t len);
/* Writes all len bytes, looping over short writes and EINTR: 0 or -errno (-EIO if
 * write(2) makes no progress). */
LP_EXPORT int lp_io_write_all(int fd, const void *buf, size_t len);

/* Writes all len bytes at offset off with pwrite(2), like lp_io_write_all (-EINVAL for
 * a negative offset); the file offset does not move. */
LP_EXPORT int lp_io_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Reads exactly len bytes at offset off with pread(2), retrying EINTR and short reads:
 * 0, -ENODATA if the file ends first, -EOVERFLOW for an offset past INT64_MAX, or -errno.
 * The file offset does not move. */
LP_EXPORT int lp_io_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* Connects a new stream socket (SOCK_CLOEXEC, and SOCK_NONBLOCK if nonblock) to the unix
 * socket at path: the descriptor, -ENAMETOOLONG if path does not fit in sun_path
 * (LP_IO_UNIX_PATH_MAX bytes), or -errno of connect(2) (-ENOENT, -ECONNREFUSED: nobody
 * listens yet; -EAGAIN: the listener's backlog is full). */
#define LP_IO_UNIX_PATH_MAX 107
LP_EXPORT int lp_io_unix_connect(const char *path, bool nonblock);

/* lp_tar_read_fn / lp_pkg_read_fn over *(int *)ctx: lp_io_read. */
LP_EXPORT ssize_t lp_io_fd_read(void *ctx, void *buf, size_t len);
/* lp_tar_write_fn over *(int *)ctx: lp_io_write_all. */
LP_EXPORT int lp_io_fd_write(void *ctx, const void *buf, size_t len);

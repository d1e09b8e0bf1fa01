/* SPDX-License-Identifier: MIT */
/*
 * Tar for .lpkg packages, restricted to what the format allows (docs/package-format.md,
 * "Tar rules"): the streaming writer (lib/tar.c) and the definitions it shares with the
 * native reader of loopline/tar-read.h (lib/tar-read.c). Both are plain C on libc:
 * libloopline links no archive library. The writer writes, and the reader accepts,
 * exactly:
 *   - formats: POSIX ustar, and pax extended headers only where ustar cannot express a
 *     member (names that fit neither the name field nor a prefix/name split, sizes
 *     above 8 GiB - 1, mtimes outside 1970…2242); no GNU/v7 tar, no compression;
 *   - members: regular files only (no directories, hard or symbolic links, devices,
 *     fifos, sockets, sparse files), relative names without empty, "." or ".."
 *     components, at most LP_TAR_NAME_MAX bytes, no control characters, no duplicates;
 *   - the end: two zero blocks, then nothing but NUL padding (at most
 *     LP_TAR_TRAILER_MAX bytes); the archive length is a multiple of 512.
 *
 * Bytes go to a caller callback, so archives stream to files, pipes and sockets.
 *
 * Errors are negative errno values with a message in the diag that names the member:
 *   -EINVAL   a writer used wrongly (bad or repeated name, wrong byte count)
 *   -EFBIG    a member too large for its header
 *   other     errors returned by the caller's write callback
 * A writer stays failed after an output error or a wrong byte count: later calls return
 * the same error.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_TAR_BLOCK 512
#define LP_TAR_NAME_MAX 255                      /* bytes in a member name */
#define LP_TAR_MAX_ENTRIES 1024                  /* members in one archive */
#define LP_TAR_USTAR_SIZE_MAX 077777777777ULL    /* 8 GiB - 1; larger needs pax */
#define LP_TAR_TRAILER_MAX (64 * 1024)           /* NUL padding after the end marker */

/* Returns bytes read (>0), 0 at end of stream, or a negative errno (the reader's source). */
typedef ssize_t (*lp_tar_read_fn)(void *ctx, void *buf, size_t len);
/* Writes all len bytes; returns 0 or a negative errno. */
typedef int (*lp_tar_write_fn)(void *ctx, const void *buf, size_t len);

struct lp_tar_entry {
	char name[LP_TAR_NAME_MAX + 1];
	uint64_t size;        /* bytes of data */
	int64_t mtime;        /* seconds since the epoch */
	uint64_t data_offset; /* offset of the first data byte in the stream */
};

/* Checks a member name against the rules above: 0, or -EINVAL with a message (a caller
 * passed a bad name). The reader of loopline/tar-read.h applies the same rule and reports
 * a bad name found in an archive as -EBADMSG (a corrupt archive). */
LP_EXPORT int lp_tar_name_check(const char *name, struct lp_diag *diag);

/* ---- writing ---- */

struct lp_tar_writer;

/* Output is not blocked: every header, data write and padding goes straight to write,
 * and the archive ends right after its two zero blocks. */
LP_EXPORT int lp_tar_writer_new(lp_tar_write_fn write, void *ctx, struct lp_tar_writer **ret_writer);
/* Starts a member of exactly size bytes (a pax header is added when needed). */
LP_EXPORT int lp_tar_writer_add(struct lp_tar_writer *w, const char *name, uint64_t size,
				int64_t mtime, struct lp_diag *diag);
/* Member data; the total must match the size given (more is refused at once, less when
 * the member is closed by the next add, end_deferred or finish). */
LP_EXPORT int lp_tar_writer_write(struct lp_tar_writer *w, const void *data, size_t len,
				  struct lp_diag *diag);
/*
 * Members whose size is known only at their end, for seekable outputs: begin writes a
 * placeholder block, data follows as usual, and end returns the real 512-byte ustar
 * header and the stream offset where the caller must put it (e.g. with pwrite). The
 * size must stay at most LP_TAR_USTAR_SIZE_MAX and the name at most 100 bytes (-EFBIG /
 * -EINVAL otherwise), so the header is a single block.
 */
LP_EXPORT int lp_tar_writer_begin_deferred(struct lp_tar_writer *w, const char *name,
					   int64_t mtime, struct lp_diag *diag);
LP_EXPORT int lp_tar_writer_end_deferred(struct lp_tar_writer *w, uint8_t ret_header[LP_TAR_BLOCK],
					 uint64_t *ret_offset, struct lp_diag *diag);
/* Writes the end-of-archive marker. The writer must still be freed. */
LP_EXPORT int lp_tar_writer_finish(struct lp_tar_writer *w, struct lp_diag *diag);
/* Bytes written to the output so far (the offset of the next byte). */
LP_EXPORT uint64_t lp_tar_writer_offset(const struct lp_tar_writer *w);
/* Frees; an unfinished archive is abandoned (nothing more is written). */
LP_EXPORT void lp_tar_writer_free(struct lp_tar_writer *w);

/* SPDX-License-Identifier: MIT */
/*
 * Streaming tar writing through libarchive (lib/tar.c), restricted to what the .lpkg
 * format allows (docs/package-format.md, "Tar rules"), and the shared definitions of
 * both tar readers.
 *
 * Reading: every program reads packages with the native reader of loopline/tar-read.h
 * (lib/tar-read.c, libc only) -- the package reader, lp_pkg_peek and lp_pkg_resign.
 * The libarchive-based lp_tar_reader_* below is kept only as a reference: the tests run
 * the same cases through both readers (tests/unit/tar-cases.h) and cross-check them
 * (tests/unit/test-tar-read.c, tests/fuzz/fuzz-tar-read.c). The writer writes, and both
 * readers accept, exactly:
 *   - formats: POSIX ustar, and pax extended headers only where ustar cannot express a
 *     member (names longer than 100 bytes, sizes above 8 GiB - 1); no GNU/v7 tar, no
 *     compression filters;
 *   - members: regular files only (no directories, hard or symbolic links, devices,
 *     fifos, sockets, sparse files), relative names without empty, "." or ".."
 *     components, at most LP_TAR_NAME_MAX bytes, no control characters, no duplicates;
 *   - the end: two zero blocks, then nothing but NUL padding (at most
 *     LP_TAR_TRAILER_MAX bytes); the archive length is a multiple of 512.
 *
 * Bytes come from and go to caller callbacks, so archives stream over files, pipes,
 * sockets and HTTP bodies. The libarchive-based reader calls its callback until it has
 * 64 KiB or the callback returns 0, so short reads are fine. Entry data is handed out
 * in bounded blocks (at most LP_TAR_READ_BUFFER bytes), never as a whole.
 *
 * Errors are negative errno values with a message in the diag that names the member:
 *   -EBADMSG  malformed or forbidden archive content (also truncation)
 *   -E2BIG    more than LP_TAR_MAX_ENTRIES members
 *   -EINVAL   a writer used wrongly (bad name, wrong byte count)
 *   other     errors returned by the caller's read or write callback
 * Both objects stay failed after an error: later calls return the same error.
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
#define LP_TAR_READ_BUFFER (256 * 1024)          /* reader's input buffer */

/* Returns bytes read (>0), 0 at end of stream, or a negative errno. */
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
 * passed a bad name). Both readers apply the same rule and report a bad name found in an
 * archive as -EBADMSG (a corrupt archive). */
LP_EXPORT int lp_tar_name_check(const char *name, struct lp_diag *diag);

/* ---- reading ---- */

struct lp_tar_reader;

LP_EXPORT int lp_tar_reader_new(lp_tar_read_fn read, void *ctx, struct lp_tar_reader **ret_reader);
/*
 * Moves to the next member (skipping what is left of the current one's data). Returns 1
 * with *ret_entry filled, 0 at a clean end of archive (the end marker and padding were
 * checked up to the end of the stream), or a negative errno.
 */
LP_EXPORT int lp_tar_reader_next(struct lp_tar_reader *r, struct lp_tar_entry *ret_entry,
				 struct lp_diag *diag);
/*
 * Hands out the next block of the current member's data without copying: returns 1 with
 * *ret_data and *ret_len set (valid until the next call on the reader), 0 at the end of the
 * member, or a negative errno ("tar: truncated in member NAME at offset N").
 */
LP_EXPORT int lp_tar_reader_data(struct lp_tar_reader *r, const void **ret_data, size_t *ret_len,
				 struct lp_diag *diag);
/* Copies up to len bytes of the current member's data; returns bytes (0 at its end). */
LP_EXPORT ssize_t lp_tar_reader_read(struct lp_tar_reader *r, void *buf, size_t len,
				     struct lp_diag *diag);
/* Bytes of the stream consumed so far. */
LP_EXPORT uint64_t lp_tar_reader_offset(const struct lp_tar_reader *r);
LP_EXPORT void lp_tar_reader_free(struct lp_tar_reader *r);

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

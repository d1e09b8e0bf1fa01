/* SPDX-License-Identifier: MIT */
/*
 * Binary deltas between two slot images, engine "lpdiff1" (docs/packager.md, "Deltas").
 *
 * Creating: bsdiff-class matching over a suffix array of the OLD image (libdivsufsort),
 * written as one zstd frame of records (copy, add, extra, seek) plus the add and extra
 * bytes. The creator holds both images (callers mmap them) and the suffix array: 4 bytes
 * per OLD byte below 2 GiB, 8 above, plus a 512 KiB bucket table.
 *
 * Applying: streaming and push style. Patch bytes are fed in any pieces; the base (the
 * running slot) is read with pread at the positions the records name; the result leaves
 * through a callback in order. Anonymous memory is bounded whatever the patch says: the
 * zstd window (at most 2^LP_DELTA_WINDOW_LOG_MAX bytes), two LP_DELTA_APPLY_BUF buffers
 * and the zstd contexts' fixed parts, about 17 MiB in all.
 *
 * Errors are negative errno values with a message in the diag: -EBADMSG for a malformed
 * or truncated patch or one that reads outside the base or writes past its declared
 * size, -EINVAL for a patch made for a base of another size, the callbacks' own errors
 * passed up.
 */
#pragma once

#include <stdint.h>
#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_DELTA_ALGORITHM "lpdiff1"
#define LP_DELTA_HEADER_SIZE 32
#define LP_DELTA_WINDOW_LOG_MAX 24        /* 16 MiB: the largest window an applier accepts */
#define LP_DELTA_APPLY_BUF (128 * 1024)
#define LP_DELTA_SIZE_MAX ((UINT64_C(1) << 53) - 1) /* images up to 8 PiB (manifest limit) */

/* Receives output bytes (the patch when creating, the new image when applying): 0 or a
 * negative errno, which aborts. */
typedef int (*lp_delta_out_fn)(void *ctx, const void *data, size_t len);

/* Reads exactly len bytes at off: 0 or a negative errno (-EIO for a short read). */
typedef int (*lp_delta_pread_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* The image a patch applies to: the running slot on a device. */
struct lp_delta_base {
	lp_delta_pread_fn pread;
	void *ctx;
	uint64_t size;
};

struct lp_delta_create_opts {
	int level;            /* zstd level of the record stream; 0 = 19 */
	unsigned window_log;  /* 0 = LP_DELTA_WINDOW_LOG_MAX; 10 … LP_DELTA_WINDOW_LOG_MAX */
};

struct lp_delta_stats {
	uint64_t records;
	uint64_t copy_bytes;   /* taken from the base unchanged */
	uint64_t add_bytes;    /* base bytes plus a difference */
	uint64_t extra_bytes;  /* new bytes */
	uint64_t patch_bytes;  /* written to out, header included */
};

/*
 * Writes a patch that turns old[0, old_len) into new_image[0, new_len) through out.
 * opts may be NULL; ret_stats may be NULL. -ENOMEM when the suffix array does not fit,
 * -EINVAL for bad options, out's errors passed up.
 */
LP_EXPORT int lp_delta_create(const uint8_t *old, uint64_t old_len, const uint8_t *new_image,
			      uint64_t new_len, const struct lp_delta_create_opts *opts,
			      lp_delta_out_fn out, void *ctx, struct lp_delta_stats *ret_stats,
			      struct lp_diag *diag);

struct lp_delta_apply;

/* base is copied; its pread and ctx must stay valid until lp_delta_apply_free. */
LP_EXPORT int lp_delta_apply_new(const struct lp_delta_base *base, lp_delta_out_fn out, void *ctx,
				 struct lp_delta_apply **ret_apply);
/* Feeds patch bytes; output leaves through out as it is produced. Errors are sticky. */
LP_EXPORT int lp_delta_apply_write(struct lp_delta_apply *a, const void *patch, size_t len,
				   struct lp_diag *diag);
/* The patch ended: -EBADMSG unless it was complete (every declared byte produced, the
 * zstd frame and its checksum ended, nothing after it). */
LP_EXPORT int lp_delta_apply_finish(struct lp_delta_apply *a, struct lp_diag *diag);
/* The new image's size as the patch header declares it (0 before the header was read). */
LP_EXPORT uint64_t lp_delta_apply_new_size(const struct lp_delta_apply *a);
LP_EXPORT void lp_delta_apply_free(struct lp_delta_apply *a);

/* SHA-256 of base[0, base->size), read in LP_DELTA_APPLY_BUF pieces. */
LP_EXPORT int lp_delta_base_sha256(const struct lp_delta_base *base, uint8_t out[32]);

/* An lp_delta_pread_fn over a file descriptor (ctx points at the int fd). */
LP_EXPORT int lp_delta_fd_pread(void *ctx, void *buf, size_t len, uint64_t off);

/* SPDX-License-Identifier: MIT */
/*
 * zstd streaming compression and decompression, push style: the caller feeds input with
 * lp_zstd_write() and output is delivered to a callback as it is produced, so payloads
 * flow through without being held in memory.
 *
 * Memory is bounded: the compressor uses a window of at most 2^LP_ZSTD_WINDOW_LOG bytes
 * and the decompressor refuses frames that need a larger window (-EBADMSG), so a device
 * never allocates more than a few MiB whatever the package says.
 */
#pragma once

#include "loopline/common.h"

#define LP_ZSTD_WINDOW_LOG 22 /* 4 MiB: the largest window a package may use */
#define LP_ZSTD_DEFAULT_LEVEL 3

enum lp_zstd_mode {
	LP_ZSTD_COMPRESS = 0,
	LP_ZSTD_DECOMPRESS,
};

/* Receives output bytes; returns 0 or a negative errno that aborts the stream. */
typedef int (*lp_zstd_out_fn)(void *ctx, const void *data, size_t len);

struct lp_zstd;

/* level is ignored for decompression (0 = default level). */
LP_EXPORT int lp_zstd_new(enum lp_zstd_mode mode, int level, lp_zstd_out_fn out, void *ctx,
			  struct lp_zstd **ret_stream);
/* Feeds input. Decompression errors are -EBADMSG; output callback errors are passed up. */
LP_EXPORT int lp_zstd_write(struct lp_zstd *z, const void *data, size_t len);
/* Compression: ends the frame and flushes. Decompression: -EBADMSG if the input stopped
 * inside a frame (truncation). A stream may hold several concatenated frames. */
LP_EXPORT int lp_zstd_finish(struct lp_zstd *z);
LP_EXPORT void lp_zstd_free(struct lp_zstd *z);

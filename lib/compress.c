/* SPDX-License-Identifier: MIT */
/* zstd streaming compression and decompression with a bounded window (libzstd). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <zstd.h>

#include "loopline/compress.h"

struct lp_zstd {
	enum lp_zstd_mode mode;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	lp_zstd_out_fn out;
	void *ctx;
	uint8_t *buf; /* fixed output buffer handed to the callback */
	size_t buf_size;
	size_t pending; /* decompression: last hint; non-zero while inside a frame */
	bool saw_input;
	int error; /* sticky: once a stream failed, every later call fails the same way */
};

int lp_zstd_new(enum lp_zstd_mode mode, int level, lp_zstd_out_fn out, void *ctx,
		struct lp_zstd **ret_stream)
{
	struct lp_zstd *z;
	size_t r;

	if (!out || (mode != LP_ZSTD_COMPRESS && mode != LP_ZSTD_DECOMPRESS))
		return -EINVAL;
	if (mode == LP_ZSTD_COMPRESS) {
		if (level == 0)
			level = LP_ZSTD_DEFAULT_LEVEL;
		if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
			return -EINVAL;
	}
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->mode = mode;
	z->out = out;
	z->ctx = ctx;
	if (mode == LP_ZSTD_COMPRESS) {
		z->buf_size = ZSTD_CStreamOutSize();
		z->cctx = ZSTD_createCCtx();
		if (!z->cctx)
			goto nomem;
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_windowLog, LP_ZSTD_WINDOW_LOG);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
		if (ZSTD_isError(r)) {
			lp_zstd_free(z);
			return -EINVAL;
		}
	} else {
		z->buf_size = ZSTD_DStreamOutSize();
		z->dctx = ZSTD_createDCtx();
		if (!z->dctx)
			goto nomem;
		r = ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, LP_ZSTD_WINDOW_LOG);
		if (ZSTD_isError(r)) {
			lp_zstd_free(z);
			return -EINVAL;
		}
	}
	z->buf = malloc(z->buf_size);
	if (!z->buf)
		goto nomem;
	*ret_stream = z;
	return 0;
nomem:
	lp_zstd_free(z);
	return -ENOMEM;
}

static int zstd_emit(struct lp_zstd *z, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = z->out(z->ctx, z->buf, n);
	if (r < 0)
		z->error = r;
	return r;
}

static int zstd_compress(struct lp_zstd *z, ZSTD_inBuffer *in, ZSTD_EndDirective end)
{
	for (;;) {
		ZSTD_outBuffer o = { z->buf, z->buf_size, 0 };
		size_t left = ZSTD_compressStream2(z->cctx, &o, in, end);
		int r;

		if (ZSTD_isError(left)) {
			z->error = -EIO;
			return z->error;
		}
		r = zstd_emit(z, o.pos);
		if (r < 0)
			return r;
		if (end == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

static int zstd_decompress(struct lp_zstd *z, ZSTD_inBuffer *in)
{
	for (;;) {
		ZSTD_outBuffer o = { z->buf, z->buf_size, 0 };
		size_t hint = ZSTD_decompressStream(z->dctx, &o, in);
		int r;

		if (ZSTD_isError(hint)) {
			z->error = -EBADMSG;
			return z->error;
		}
		z->pending = hint;
		r = zstd_emit(z, o.pos);
		if (r < 0)
			return r;
		/* Done when all input is consumed and nothing is left to flush: the output
		 * buffer was not filled, or a frame just ended (calling again would start
		 * the next frame and report its header as pending). */
		if (in->pos == in->size && (o.pos < o.size || hint == 0))
			return 0;
	}
}

int lp_zstd_write(struct lp_zstd *z, const void *data, size_t len)
{
	ZSTD_inBuffer in = { data, len, 0 };

	if (z->error)
		return z->error;
	if (len == 0)
		return 0;
	z->saw_input = true;
	if (z->mode == LP_ZSTD_COMPRESS)
		return zstd_compress(z, &in, ZSTD_e_continue);
	return zstd_decompress(z, &in);
}

int lp_zstd_finish(struct lp_zstd *z)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	if (z->error)
		return z->error;
	if (z->mode == LP_ZSTD_COMPRESS)
		return zstd_compress(z, &in, ZSTD_e_end);
	if (!z->saw_input || z->pending != 0) {
		/* No frame at all, or the input stopped inside one. */
		z->error = -EBADMSG;
		return z->error;
	}
	return 0;
}

void lp_zstd_free(struct lp_zstd *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z->buf);
	free(z);
}

/* SPDX-License-Identifier: MIT */
/*
 * Applying an lpdiff1 patch as a stream (format: delta-internal.h). Patch bytes are
 * pushed in; the header is checked against the base; the zstd frame is decompressed into
 * one fixed buffer and parsed record by record: copies and adds read the base with pread
 * into a second fixed buffer, extras pass through. Every length is checked against the
 * declared new size and the base's bounds before a byte of the record is used, so a
 * malformed patch fails with a message and never reads or allocates beyond the bounds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "delta-internal.h"
#include "loopline/delta.h"
#include "loopline/hash.h"
#include "loopline/io.h"

enum apply_state {
	APPLY_HEADER = 0, /* collecting the 32-byte header */
	APPLY_HEAD,       /* collecting a record's four varints */
	APPLY_ADD,        /* add bytes of the current record */
	APPLY_EXTRA,      /* extra bytes of the current record */
	APPLY_END,        /* the zstd frame ended */
};

struct lp_delta_apply {
	struct lp_delta_base base;
	lp_delta_out_fn out;
	void *ctx;
	ZSTD_DCtx *dctx;
	uint8_t *zbuf;          /* decompressed record stream, LP_DELTA_APPLY_BUF */
	uint8_t *obuf;          /* base bytes, LP_DELTA_APPLY_BUF */
	uint8_t hdr[LP_DELTA_HEADER_SIZE];
	size_t hdr_len;
	uint64_t new_size;
	uint64_t produced;
	uint64_t oldpos;
	uint64_t vals[4];       /* copy, add, extra, seek (zig-zag) */
	unsigned n_vals;
	unsigned shift;         /* of the varint being read */
	uint64_t add_left, extra_left;
	int64_t seek;
	enum apply_state state;
	int err;                /* sticky */
};

int lp_delta_fd_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	int rc = lp_io_pread_all(*(int *)ctx, buf, len, off);

	return rc == -ENODATA ? -EIO : rc;
}

int lp_delta_base_sha256(const struct lp_delta_base *base, uint8_t out[32])
{
	struct lp_hash *h = NULL;
	uint8_t *buf = malloc(LP_DELTA_APPLY_BUF);
	uint64_t off = 0;
	int rc;

	rc = buf ? lp_hash_new(LP_HASH_SHA256, &h) : -ENOMEM;
	while (rc == 0 && off < base->size) {
		size_t n = base->size - off < LP_DELTA_APPLY_BUF ? (size_t)(base->size - off)
								 : LP_DELTA_APPLY_BUF;

		rc = base->pread(base->ctx, buf, n, off);
		if (rc == 0)
			rc = lp_hash_update(h, buf, n);
		off += n;
	}
	if (rc == 0)
		rc = lp_hash_final(h, out);
	lp_hash_free(h);
	free(buf);
	return rc;
}

int lp_delta_apply_new(const struct lp_delta_base *base, lp_delta_out_fn out, void *ctx,
		       struct lp_delta_apply **ret_apply)
{
	struct lp_delta_apply *a;

	if (!base || !base->pread || !out)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->base = *base;
	a->out = out;
	a->ctx = ctx;
	a->dctx = ZSTD_createDCtx();
	a->zbuf = malloc(LP_DELTA_APPLY_BUF);
	a->obuf = malloc(LP_DELTA_APPLY_BUF);
	if (!a->dctx || !a->zbuf || !a->obuf) {
		lp_delta_apply_free(a);
		return -ENOMEM;
	}
	*ret_apply = a;
	return 0;
}

void lp_delta_apply_free(struct lp_delta_apply *a)
{
	if (!a)
		return;
	ZSTD_freeDCtx(a->dctx);
	free(a->zbuf);
	free(a->obuf);
	free(a);
}

uint64_t lp_delta_apply_new_size(const struct lp_delta_apply *a)
{
	return a->state == APPLY_HEADER ? 0 : a->new_size;
}

static int apply_fail(struct lp_delta_apply *a, struct lp_diag *diag, int err, const char *what)
{
	a->err = lp_diag_fail(diag, err, "delta: %s (at output byte %llu)", what,
			      (unsigned long long)a->produced);
	return a->err;
}

static int header_check(struct lp_delta_apply *a, struct lp_diag *diag)
{
	const uint8_t *h = a->hdr;
	uint64_t old_size = lpdiff_get_u64(h + 8);
	unsigned wlog = h[24];
	size_t r;

	if (memcmp(h, LPDIFF_MAGIC, 8) != 0)
		return apply_fail(a, diag, -EBADMSG, "not an " LP_DELTA_ALGORITHM " patch (bad magic)");
	for (int i = 25; i < LP_DELTA_HEADER_SIZE; i++)
		if (h[i] != 0)
			return apply_fail(a, diag, -EBADMSG, "reserved header bytes are not zero");
	if (wlog < LPDIFF_WINDOW_LOG_MIN || wlog > LP_DELTA_WINDOW_LOG_MAX)
		return apply_fail(a, diag, -EBADMSG, "zstd window outside 2^10 … 2^24 bytes");
	a->new_size = lpdiff_get_u64(h + 16);
	if (a->new_size > LP_DELTA_SIZE_MAX)
		return apply_fail(a, diag, -EBADMSG, "declared new size is too large");
	if (old_size != a->base.size) {
		a->err = lp_diag_fail(diag, -EINVAL,
				      "delta: the patch is for a base of %llu bytes, the base has %llu",
				      (unsigned long long)old_size, (unsigned long long)a->base.size);
		return a->err;
	}
	r = ZSTD_DCtx_setParameter(a->dctx, ZSTD_d_windowLogMax, (int)wlog);
	if (ZSTD_isError(r))
		return apply_fail(a, diag, -EINVAL, "cannot limit the zstd window");
	a->state = APPLY_HEAD;
	return 0;
}

static int emit(struct lp_delta_apply *a, struct lp_diag *diag, const void *data, size_t len)
{
	int rc = a->out(a->ctx, data, len);

	if (rc < 0) {
		a->err = rc;
		return lp_diag_fail(diag, rc, "delta: writing the result failed: %s", strerror(-rc));
	}
	a->produced += len;
	return 0;
}

static int base_read(struct lp_delta_apply *a, struct lp_diag *diag, size_t len)
{
	int rc = a->base.pread(a->base.ctx, a->obuf, len, a->oldpos);

	if (rc < 0) {
		a->err = rc;
		return lp_diag_fail(diag, rc, "delta: reading the base at %llu failed: %s",
				    (unsigned long long)a->oldpos, strerror(-rc));
	}
	return 0;
}

/* A record head is complete: check it against the bounds, then do its copy. */
static int record_start(struct lp_delta_apply *a, struct lp_diag *diag)
{
	uint64_t copy = a->vals[0], add = a->vals[1], extra = a->vals[2];
	uint64_t left = a->new_size - a->produced, base_left = a->base.size - a->oldpos, end;
	int64_t seek = lpdiff_unzigzag(a->vals[3]);

	if (copy > left || add > left - copy || extra > left - copy - add)
		return apply_fail(a, diag, -EBADMSG, "a record writes past the declared new size");
	if (copy > base_left || add > base_left - copy)
		return apply_fail(a, diag, -EBADMSG, "a record reads past the end of the base");
	end = a->oldpos + copy + add;
	if ((seek < 0 && (uint64_t)-(seek + 1) >= end) ||
	    (seek > 0 && (uint64_t)seek > a->base.size - end))
		return apply_fail(a, diag, -EBADMSG, "a record seeks outside the base");
	while (copy > 0) {
		size_t n = copy < LP_DELTA_APPLY_BUF ? (size_t)copy : LP_DELTA_APPLY_BUF;
		int rc = base_read(a, diag, n);

		if (rc == 0)
			rc = emit(a, diag, a->obuf, n);
		if (rc < 0)
			return rc;
		a->oldpos += n;
		copy -= n;
	}
	a->add_left = add;
	a->extra_left = extra;
	a->seek = seek;
	a->n_vals = 0;
	a->state = APPLY_ADD;
	return 0;
}

static void record_end(struct lp_delta_apply *a)
{
	a->oldpos = (uint64_t)((int64_t)a->oldpos + a->seek);
	a->state = APPLY_HEAD;
}

/* One byte of a record head. */
static int head_byte(struct lp_delta_apply *a, struct lp_diag *diag, uint8_t b)
{
	uint64_t part = b & 0x7f;

	if (a->shift == 0)
		a->vals[a->n_vals] = 0;
	if (a->shift > 63 || (a->shift == 63 && part > 1))
		return apply_fail(a, diag, -EBADMSG, "a record length does not fit 64 bits");
	a->vals[a->n_vals] |= part << a->shift;
	if (b & 0x80) {
		a->shift += 7;
		return 0;
	}
	a->shift = 0;
	if (++a->n_vals < 4)
		return 0;
	return record_start(a, diag);
}

/* Parses decompressed record-stream bytes. */
static int consume(struct lp_delta_apply *a, struct lp_diag *diag, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n;
		int rc;

		switch (a->state) {
		case APPLY_HEAD:
			rc = head_byte(a, diag, *p);
			n = 1;
			break;
		case APPLY_ADD:
			n = len < a->add_left ? len : (size_t)a->add_left;
			rc = base_read(a, diag, n);
			for (size_t i = 0; rc == 0 && i < n; i++)
				a->obuf[i] = (uint8_t)(a->obuf[i] + p[i]);
			if (rc == 0)
				rc = emit(a, diag, a->obuf, n);
			a->oldpos += n;
			a->add_left -= n;
			break;
		case APPLY_EXTRA:
			n = len < a->extra_left ? len : (size_t)a->extra_left;
			rc = emit(a, diag, p, n);
			a->extra_left -= n;
			break;
		default:
			return apply_fail(a, diag, -EBADMSG, "record bytes after the end");
		}
		if (rc < 0)
			return rc;
		p += n;
		len -= n;
		/* Empty parts are skipped at once, so a record ends as soon as its bytes do. */
		if (a->state == APPLY_ADD && a->add_left == 0)
			a->state = APPLY_EXTRA;
		if (a->state == APPLY_EXTRA && a->extra_left == 0)
			record_end(a);
	}
	return 0;
}

/* One ZSTD_decompressStream call into zbuf, its output parsed; the frame's end must fall
 * between records. */
static int decompress_step(struct lp_delta_apply *a, ZSTD_inBuffer *in, size_t *ret_produced,
			   struct lp_diag *diag)
{
	ZSTD_outBuffer o = { a->zbuf, LP_DELTA_APPLY_BUF, 0 };
	size_t r = ZSTD_decompressStream(a->dctx, &o, in);
	int rc;

	if (ZSTD_isError(r))
		return apply_fail(a, diag, -EBADMSG, ZSTD_getErrorName(r));
	*ret_produced = o.pos;
	rc = consume(a, diag, a->zbuf, o.pos);
	if (rc < 0)
		return rc;
	if (r == 0) {
		if (a->state != APPLY_HEAD || a->n_vals != 0 || a->shift != 0)
			return apply_fail(a, diag, -EBADMSG, "the patch ends inside a record");
		a->state = APPLY_END;
	}
	return 0;
}

int lp_delta_apply_write(struct lp_delta_apply *a, const void *patch, size_t len,
			 struct lp_diag *diag)
{
	const uint8_t *p = patch;
	ZSTD_inBuffer in;
	size_t produced;
	int rc;

	if (a->err)
		return lp_diag_fail(diag, a->err, "delta: the patch already failed");
	if (a->state == APPLY_HEADER) {
		size_t n = LP_DELTA_HEADER_SIZE - a->hdr_len;

		n = n < len ? n : len;
		memcpy(a->hdr + a->hdr_len, p, n);
		a->hdr_len += n;
		p += n;
		len -= n;
		if (a->hdr_len < LP_DELTA_HEADER_SIZE)
			return 0;
		rc = header_check(a, diag);
		if (rc < 0)
			return rc;
	}
	in = (ZSTD_inBuffer){ p, len, 0 };
	while (in.pos < in.size) {
		if (a->state == APPLY_END)
			return apply_fail(a, diag, -EBADMSG, "data after the end of the patch");
		rc = decompress_step(a, &in, &produced, diag);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int lp_delta_apply_finish(struct lp_delta_apply *a, struct lp_diag *diag)
{
	if (a->err)
		return lp_diag_fail(diag, a->err, "delta: the patch already failed");
	/* A full output buffer may still hold data: drain without input. */
	while (a->state != APPLY_END && a->state != APPLY_HEADER) {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		size_t produced;
		int rc = decompress_step(a, &in, &produced, diag);

		if (rc < 0)
			return rc;
		if (a->state != APPLY_END && produced == 0)
			break;
	}
	if (a->state != APPLY_END)
		return apply_fail(a, diag, -EBADMSG, "the patch is truncated");
	if (a->produced != a->new_size)
		return apply_fail(a, diag, -EBADMSG, "the patch produced fewer bytes than it declares");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Creating an lpdiff1 patch (format: delta-internal.h).
 *
 * Matching is bsdiff's (Colin Percival, "Naive differences of executable code"): a
 * suffix array of the old image (libdivsufsort), a scan over the new image that looks
 * for the longest match at each position and keeps an approximate alignment while the
 * current one still explains the bytes, then extends each alignment forwards and
 * backwards. Two changes make it fit slot images: a bucket table over the first two
 * bytes narrows every suffix-array search to a small range, and each aligned region is
 * split into exact copies (runs of equal bytes, which never reach the compressor) and
 * adds, so the zstd stage only sees the bytes that differ and the new ones.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <divsufsort.h>
#include <divsufsort64.h>
#include <zstd.h>

#include "delta-internal.h"
#include "loopline/delta.h"

#define STAGE_SIZE (1024 * 1024)
#define COPY_RUN_MIN 32        /* equal bytes that end an add and start a copy */
#define SEARCH_CMP_MAX 256     /* bytes compared per suffix-array probe */
#define SKIP_MIN 64            /* a match this long that loses is skipped but for its tail */
#define N_BUCKETS 65536
#define BLOOM_K 12             /* bytes of the k-grams in the filter: shorter matches are not sought */

struct matcher {
	const uint8_t *old;
	int64_t oldsize;
	const uint8_t *nw;
	int64_t newsize;
	int32_t *sa32;          /* below 2 GiB */
	int64_t *sa64;
	int64_t *bucket;        /* N_BUCKETS + 1: first SA index of each 2-byte prefix */
	uint64_t *bloom;        /* blocked Bloom filter of old's BLOOM_K-grams, one line a probe */
	unsigned bloom_shift;   /* 64 - log2(lines) */
};

struct emitter {
	ZSTD_CCtx *cctx;
	uint8_t *stage;
	size_t staged;
	uint8_t *zout;
	size_t zout_size;
	lp_delta_out_fn out;
	void *ctx;
	struct lp_delta_stats st;
	int err;
};

/* ---- the record stream: staged, then zstd, then out ---- */

static int emit_out(struct emitter *e, const void *data, size_t len)
{
	int rc;

	if (len == 0)
		return 0;
	rc = e->out(e->ctx, data, len);
	if (rc < 0)
		e->err = rc;
	e->st.patch_bytes += len;
	return rc;
}

static int stage_flush(struct emitter *e, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = { e->stage, e->staged, 0 };

	for (;;) {
		ZSTD_outBuffer o = { e->zout, e->zout_size, 0 };
		size_t left = ZSTD_compressStream2(e->cctx, &o, &in, end);
		int rc;

		if (ZSTD_isError(left))
			return e->err = -EIO;
		rc = emit_out(e, e->zout, o.pos);
		if (rc < 0)
			return rc;
		if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
			break;
	}
	e->staged = 0;
	return 0;
}

/* Room in the stage for up to want bytes (flushing a full stage first): 0 and *ret_n. */
static int stage_room(struct emitter *e, size_t want, size_t *ret_n)
{
	size_t n = STAGE_SIZE - e->staged;

	if (n == 0) {
		int rc = stage_flush(e, ZSTD_e_continue);

		if (rc < 0)
			return rc;
		n = STAGE_SIZE;
	}
	*ret_n = n < want ? n : want;
	return 0;
}

static int stage_put(struct emitter *e, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n;
		int rc = stage_room(e, len, &n);

		if (rc < 0)
			return rc;
		memcpy(e->stage + e->staged, p, n);
		e->staged += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* The differences new - old of len bytes. */
static int stage_diff(struct emitter *e, const uint8_t *old, const uint8_t *nw, size_t len)
{
	while (len > 0) {
		size_t n;
		int rc = stage_room(e, len, &n);

		if (rc < 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			e->stage[e->staged + i] = (uint8_t)(nw[i] - old[i]);
		e->staged += n;
		old += n;
		nw += n;
		len -= n;
	}
	return 0;
}

static int record_head(struct emitter *e, uint64_t copy, uint64_t add, uint64_t extra, int64_t seek)
{
	uint8_t h[LPDIFF_RECORD_HEAD_MAX];
	size_t n = 0;

	n += lpdiff_put_varint(h + n, copy);
	n += lpdiff_put_varint(h + n, add);
	n += lpdiff_put_varint(h + n, extra);
	n += lpdiff_put_varint(h + n, lpdiff_zigzag(seek));
	e->st.records++;
	e->st.copy_bytes += copy;
	e->st.add_bytes += add;
	e->st.extra_bytes += extra;
	return stage_put(e, h, n);
}

/* Length of the run of equal bytes at a/b, at most len. */
static int64_t equal_run(const uint8_t *a, const uint8_t *b, int64_t len)
{
	int64_t i = 0;

	while (i + 8 <= len) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + __builtin_ctzll(x ^ y) / 8;
		i += 8;
	}
	while (i < len && a[i] == b[i])
		i++;
	return i;
}

/*
 * One bsdiff tuple: len aligned bytes (old at op, new at np), then extra new bytes, then
 * seek. The aligned part becomes records of (copy, add); the last one carries the extra
 * bytes and the seek.
 */
static int emit_tuple(struct emitter *e, const uint8_t *op, const uint8_t *np, int64_t len,
		      const uint8_t *extra, int64_t extra_len, int64_t seek)
{
	int64_t i = 0;
	int rc;

	for (;;) {
		int64_t copy = equal_run(op + i, np + i, len - i), add_start = i + copy, j = add_start;

		/* the add part runs until COPY_RUN_MIN equal bytes (or the end) */
		while (j < len) {
			int64_t run;

			if (op[j] != np[j]) {
				j++;
				continue;
			}
			run = equal_run(op + j, np + j, len - j);
			if (run >= COPY_RUN_MIN || j + run == len)
				break;
			j += run;
		}
		if (j == len || (len - j) == 0) {
			rc = record_head(e, (uint64_t)copy, (uint64_t)(j - add_start),
					 (uint64_t)extra_len, seek);
			if (rc == 0)
				rc = stage_diff(e, op + add_start, np + add_start, (size_t)(j - add_start));
			if (rc == 0)
				rc = stage_put(e, extra, (size_t)extra_len);
			return rc;
		}
		rc = record_head(e, (uint64_t)copy, (uint64_t)(j - add_start), 0, 0);
		if (rc == 0)
			rc = stage_diff(e, op + add_start, np + add_start, (size_t)(j - add_start));
		if (rc < 0)
			return rc;
		i = j;
	}
}

/* ---- matching ---- */

static inline int64_t sa_at(const struct matcher *m, int64_t i)
{
	return m->sa32 ? m->sa32[i] : m->sa64[i];
}

static inline unsigned key_at(const uint8_t *p, int64_t len)
{
	return ((unsigned)p[0] << 8) | (len > 1 ? p[1] : 0);
}

static inline uint64_t kgram_hash(const uint8_t *p)
{
	uint64_t a, h;
	uint32_t b;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 4);
	h = (a ^ ((uint64_t)b << 21) ^ ((uint64_t)b >> 11)) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	return h * 0xbf58476d1ce4e5b9ULL;
}

/* A 512-bit line per hash, two bits in it. */
static inline uint64_t *bloom_line(const struct matcher *m, uint64_t h)
{
	return m->bloom + (h >> m->bloom_shift) * 8;
}

static inline bool bloom_maybe(const struct matcher *m, const uint8_t *p)
{
	uint64_t h = kgram_hash(p);
	const uint64_t *line = bloom_line(m, h);
	unsigned b1 = h & 511, b2 = (h >> 9) & 511;

	return (line[b1 >> 6] >> (b1 & 63) & 1) && (line[b2 >> 6] >> (b2 & 63) & 1);
}

/* About one byte of filter per old byte (8 bits per k-gram, two probes: a few percent
 * false positives), so novel stretches of the new image skip the suffix-array search. */
static int bloom_init(struct matcher *m)
{
	uint64_t lines = 2, prev = 0;
	unsigned log2 = 1;

	while (lines * 64 < (uint64_t)m->oldsize) {
		lines <<= 1;
		log2++;
	}
	m->bloom_shift = 64 - log2;
	m->bloom = calloc(lines * 8, sizeof(*m->bloom));
	if (!m->bloom)
		return -ENOMEM;
	for (int64_t i = 0; i + BLOOM_K <= m->oldsize; i++) {
		uint64_t h = kgram_hash(m->old + i), *line;
		unsigned b1 = h & 511, b2 = (h >> 9) & 511;

		if (h == prev && i > 0)
			continue; /* runs of one value (zeros) */
		prev = h;
		line = bloom_line(m, h);
		line[b1 >> 6] |= UINT64_C(1) << (b1 & 63);
		line[b2 >> 6] |= UINT64_C(1) << (b2 & 63);
	}
	return 0;
}

static int matcher_init(struct matcher *m)
{
	int64_t n = m->oldsize;

	m->bucket = calloc(N_BUCKETS + 1, sizeof(*m->bucket));
	if (!m->bucket)
		return -ENOMEM;
	if (n == 0)
		return 0;
	if (n < INT32_MAX) {
		m->sa32 = malloc((size_t)n * sizeof(*m->sa32));
		if (!m->sa32)
			return -ENOMEM;
		if (divsufsort(m->old, m->sa32, (saidx_t)n) != 0)
			return -ENOMEM;
	} else {
		m->sa64 = malloc((size_t)n * sizeof(*m->sa64));
		if (!m->sa64)
			return -ENOMEM;
		if (divsufsort64(m->old, m->sa64, (saidx64_t)n) != 0)
			return -ENOMEM;
	}
	/* Two-byte prefixes are non-decreasing along the suffix array (a one-byte suffix
	 * "b" sorts first among "b\0…"), so counting them gives each prefix's range. */
	for (int64_t i = 0; i < n; i++)
		m->bucket[key_at(m->old + i, n - i) + 1]++;
	for (unsigned k = 1; k <= N_BUCKETS; k++)
		m->bucket[k] += m->bucket[k - 1];
	return bloom_init(m);
}

static int64_t match_len(const struct matcher *m, int64_t pos, const uint8_t *nw, int64_t nlen)
{
	int64_t olen = m->oldsize - pos;

	return equal_run(m->old + pos, nw, olen < nlen ? olen : nlen);
}

/* The longest match of nw[0, nlen) in old: its length, and its position in *ret_pos. */
static int64_t search(const struct matcher *m, const uint8_t *nw, int64_t nlen, int64_t *ret_pos)
{
	unsigned k;
	int64_t st, en, x, y;

	*ret_pos = 0;
	if (m->oldsize == 0 || nlen == 0)
		return 0;
	if (nlen >= BLOOM_K && m->bloom && !bloom_maybe(m, nw))
		return 0; /* no match of BLOOM_K bytes or more anywhere in old */
	k = key_at(nw, nlen);
	st = m->bucket[k];
	en = m->bucket[k + 1] - 1;
	if (st > en || nlen < 2) {
		k &= 0xff00;
		st = m->bucket[k];
		en = m->bucket[k + 256] - 1;
		if (st > en)
			return 0;
	}
	while (en - st >= 2) {
		int64_t mid = st + (en - st) / 2, p = sa_at(m, mid), olen = m->oldsize - p;
		size_t cmp = (size_t)(olen < nlen ? olen : nlen);

		if (cmp > SEARCH_CMP_MAX)
			cmp = SEARCH_CMP_MAX;
		if (memcmp(m->old + p, nw, cmp) < 0)
			st = mid;
		else
			en = mid;
	}
	x = match_len(m, sa_at(m, st), nw, nlen);
	y = match_len(m, sa_at(m, en), nw, nlen);
	*ret_pos = x > y ? sa_at(m, st) : sa_at(m, en);
	return x > y ? x : y;
}

struct scan {
	int64_t scan, len, pos, lastscan, lastpos, lastoffset;
};

/* bsdiff's forward/backward extension and overlap resolution for the alignment that
 * ends at s->scan; emits the tuple. */
static int scan_emit(const struct matcher *m, struct emitter *e, struct scan *s)
{
	const uint8_t *old = m->old, *nw = m->nw;
	int64_t i, sc = 0, sf = 0, lenf = 0, lenb = 0;

	for (i = 0; s->lastscan + i < s->scan && s->lastpos + i < m->oldsize;) {
		if (old[s->lastpos + i] == nw[s->lastscan + i])
			sc++;
		i++;
		if (sc * 2 - i > sf * 2 - lenf) {
			sf = sc;
			lenf = i;
		}
	}
	if (s->scan < m->newsize) {
		int64_t sb = 0;

		sc = 0;
		for (i = 1; s->scan >= s->lastscan + i && s->pos >= i; i++) {
			if (old[s->pos - i] == nw[s->scan - i])
				sc++;
			if (sc * 2 - i > sb * 2 - lenb) {
				sb = sc;
				lenb = i;
			}
		}
	}
	if (s->lastscan + lenf > s->scan - lenb) {
		int64_t overlap = (s->lastscan + lenf) - (s->scan - lenb), ss = 0, lens = 0;

		sc = 0;
		for (i = 0; i < overlap; i++) {
			if (nw[s->lastscan + lenf - overlap + i] == old[s->lastpos + lenf - overlap + i])
				sc++;
			if (nw[s->scan - lenb + i] == old[s->pos - lenb + i])
				sc--;
			if (sc > ss) {
				ss = sc;
				lens = i + 1;
			}
		}
		lenf += lens - overlap;
		lenb -= lens;
	}
	{
		int64_t extra = (s->scan - lenb) - (s->lastscan + lenf);
		int64_t seek = (s->pos - lenb) - (s->lastpos + lenf);
		int rc = emit_tuple(e, old + s->lastpos, nw + s->lastscan, lenf,
				    nw + s->lastscan + lenf, extra, seek);

		if (rc < 0)
			return rc;
	}
	s->lastscan = s->scan - lenb;
	s->lastpos = s->pos - lenb;
	s->lastoffset = s->pos - s->scan;
	return 0;
}

static int scan_all(const struct matcher *m, struct emitter *e)
{
	const uint8_t *old = m->old, *nw = m->nw;
	struct scan s = { 0 };
	int rc;

	while (s.scan < m->newsize) {
		int64_t oldscore = 0, scsc, skip_to;

		for (scsc = s.scan += s.len; s.scan < m->newsize; s.scan++) {
			s.len = search(m, nw + s.scan, m->newsize - s.scan, &s.pos);
			for (; scsc < s.scan + s.len; scsc++)
				if (scsc + s.lastoffset >= 0 && scsc + s.lastoffset < m->oldsize &&
				    old[scsc + s.lastoffset] == nw[scsc])
					oldscore++;
			if ((s.len == oldscore && s.len != 0) || s.len > oldscore + 8)
				break;
			/* A long match that does not beat the current alignment: the searches at
			 * the next positions would find its tails and not beat it either, each
			 * comparing it all again (bsdiff's quadratic case). Skip most of it. */
			skip_to = s.len > SKIP_MIN ? s.scan + s.len - SKIP_MIN : s.scan + 1;
			for (; s.scan < skip_to; s.scan++)
				if (s.scan + s.lastoffset >= 0 && s.scan + s.lastoffset < m->oldsize &&
				    old[s.scan + s.lastoffset] == nw[s.scan])
					oldscore--;
			s.scan--; /* the for loop's increment */
		}
		if (s.len != oldscore || s.scan == m->newsize) {
			rc = scan_emit(m, e, &s);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the patch ---- */

static int emitter_init(struct emitter *e, const struct lp_delta_create_opts *opts)
{
	int level = opts && opts->level ? opts->level : 19;
	unsigned wlog = opts && opts->window_log ? opts->window_log : LP_DELTA_WINDOW_LOG_MAX;
	size_t r;

	if (wlog < LPDIFF_WINDOW_LOG_MIN || wlog > LP_DELTA_WINDOW_LOG_MAX ||
	    level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	e->cctx = ZSTD_createCCtx();
	e->stage = malloc(STAGE_SIZE);
	e->zout_size = ZSTD_CStreamOutSize();
	e->zout = malloc(e->zout_size);
	if (!e->cctx || !e->stage || !e->zout)
		return -ENOMEM;
	r = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_windowLog, (int)wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1);
	return ZSTD_isError(r) ? -EINVAL : (int)wlog;
}

int lp_delta_create(const uint8_t *old, uint64_t old_len, const uint8_t *new_image,
		    uint64_t new_len, const struct lp_delta_create_opts *opts, lp_delta_out_fn out,
		    void *ctx, struct lp_delta_stats *ret_stats, struct lp_diag *diag)
{
	struct matcher m = { .old = old, .oldsize = (int64_t)old_len, .nw = new_image,
			     .newsize = (int64_t)new_len };
	struct emitter e = { .out = out, .ctx = ctx };
	uint8_t hdr[LP_DELTA_HEADER_SIZE] = LPDIFF_MAGIC;
	int rc, wlog;

	if (!out || old_len > LP_DELTA_SIZE_MAX || new_len > LP_DELTA_SIZE_MAX ||
	    (old_len && !old) || (new_len && !new_image))
		return lp_diag_fail(diag, -EINVAL, "delta: bad arguments");
	wlog = emitter_init(&e, opts);
	if (wlog < 0) {
		rc = lp_diag_fail(diag, wlog, "delta: cannot set up zstd (level or window)");
		goto out;
	}
	rc = matcher_init(&m);
	if (rc < 0) {
		lp_diag_fail(diag, rc, "delta: no memory for the suffix array of %llu bytes",
			     (unsigned long long)old_len);
		goto out;
	}
	lpdiff_put_u64(hdr + 8, old_len);
	lpdiff_put_u64(hdr + 16, new_len);
	hdr[24] = (uint8_t)wlog;
	rc = emit_out(&e, hdr, sizeof(hdr));
	if (rc == 0)
		rc = scan_all(&m, &e);
	if (rc == 0)
		rc = stage_flush(&e, ZSTD_e_end);
	if (rc < 0) {
		if (rc == -EIO && !e.err)
			lp_diag_fail(diag, rc, "delta: zstd compression failed");
		else
			lp_diag_fail(diag, rc, "delta: writing the patch failed: %s", strerror(-rc));
		goto out;
	}
	if (ret_stats)
		*ret_stats = e.st;
out:
	ZSTD_freeCCtx(e.cctx);
	free(e.stage);
	free(e.zout);
	free(m.sa32);
	free(m.sa64);
	free(m.bucket);
	free(m.bloom);
	return rc;
}

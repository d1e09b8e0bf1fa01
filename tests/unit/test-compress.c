/* SPDX-License-Identifier: MIT */
/* zstd streaming: round trips in odd chunks, several frames, truncation, garbage, window. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader, to look at the window size */
#include <zstd.h>

#include "loopline/compress.h"

struct sink {
	uint8_t *p;
	size_t n, cap;
	size_t calls, max_chunk;
	size_t fail_after; /* 0: never */
};

static int sink_put(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail_after && s->calls >= s->fail_after)
		return -ENOSPC;
	if (len > s->max_chunk)
		s->max_chunk = len;
	if (s->n + len > s->cap) {
		size_t cap = (s->n + len) * 2;
		uint8_t *p = realloc(s->p, cap);

		assert_non_null(p);
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->n, data, len);
	s->n += len;
	return 0;
}

static void sink_reset(struct sink *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t next_byte(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)rng;
}

/* Feeds data in a rotating set of odd chunk sizes; returns the first error. */
static int feed(struct lp_zstd *z, const uint8_t *data, size_t len)
{
	static const size_t sizes[] = { 1, 7, 4093, 131073, 17, 65537, 3, 999999 };
	size_t off = 0, k = 0;
	int r;

	while (off < len) {
		size_t n = sizes[k++ % LP_ARRAY_SIZE(sizes)];

		if (n > len - off)
			n = len - off;
		r = lp_zstd_write(z, data + off, n);
		if (r < 0)
			return r;
		off += n;
	}
	return 0;
}

static void compress_buf(const uint8_t *data, size_t len, int level, struct sink *out)
{
	struct lp_zstd *z = NULL;

	assert_int_equal(lp_zstd_new(LP_ZSTD_COMPRESS, level, sink_put, out, &z), 0);
	assert_int_equal(feed(z, data, len), 0);
	assert_int_equal(lp_zstd_finish(z), 0);
	lp_zstd_free(z);
}

/* Returns lp_zstd_write's or lp_zstd_finish's first error, 0 on success. */
static int decompress_buf(const uint8_t *data, size_t len, struct sink *out)
{
	struct lp_zstd *z = NULL;
	int r;

	assert_int_equal(lp_zstd_new(LP_ZSTD_DECOMPRESS, 0, sink_put, out, &z), 0);
	r = feed(z, data, len);
	if (r == 0)
		r = lp_zstd_finish(z);
	else
		assert_int_equal(lp_zstd_finish(z), r); /* sticky */
	lp_zstd_free(z);
	return r;
}

static uint8_t *make_data(size_t len, bool compressible)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = compressible ? (uint8_t)("loopline firmware "[i % 18] ^ ((i >> 16) & 3))
				    : next_byte();
	return p;
}

static void test_roundtrip(void **state)
{
	static const struct {
		size_t len;
		bool compressible;
		int level;
	} cases[] = {
		{ 0, true, 0 },           { 1, false, 1 },       { 1000, false, 3 },
		{ 3000000, false, 0 },    { 9000000, true, 0 }, { 9000000, true, 19 },
		{ 200000, true, -5 },
	};

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		uint8_t *data = make_data(cases[i].len, cases[i].compressible);
		struct sink c = { 0 }, d = { 0 };

		compress_buf(data, cases[i].len, cases[i].level, &c);
		assert_true(c.n > 0);
		assert_true(c.max_chunk <= ZSTD_CStreamOutSize());
		if (cases[i].compressible && cases[i].len > 100000)
			assert_true(c.n < cases[i].len / 20);
		assert_int_equal(decompress_buf(c.p, c.n, &d), 0);
		assert_int_equal(d.n, cases[i].len);
		assert_true(d.max_chunk <= ZSTD_DStreamOutSize());
		if (cases[i].len)
			assert_memory_equal(d.p, data, cases[i].len);
		/* the frame says its window is within the limit */
		{
			ZSTD_frameHeader fh;

			assert_int_equal(ZSTD_getFrameHeader(&fh, c.p, c.n), 0);
			assert_true(fh.windowSize <= (1ull << LP_ZSTD_WINDOW_LOG));
		}
		sink_reset(&c);
		sink_reset(&d);
		free(data);
	}
}

static void test_bad_params(void **state)
{
	struct lp_zstd *z = NULL;
	struct sink s = { 0 };

	(void)state;
	assert_int_equal(lp_zstd_new(LP_ZSTD_COMPRESS, 1000, sink_put, &s, &z), -EINVAL);
	assert_int_equal(lp_zstd_new(LP_ZSTD_COMPRESS, 0, NULL, &s, &z), -EINVAL);
	assert_int_equal(lp_zstd_new((enum lp_zstd_mode)7, 0, sink_put, &s, &z), -EINVAL);
	assert_null(z);
	/* level is ignored when decompressing */
	assert_int_equal(lp_zstd_new(LP_ZSTD_DECOMPRESS, 1000, sink_put, &s, &z), 0);
	lp_zstd_free(z);
	lp_zstd_free(NULL);
}

static void test_multiple_frames(void **state)
{
	uint8_t *a = make_data(500000, true), *b = make_data(300001, false);
	struct sink c = { 0 }, d = { 0 };
	struct lp_zstd *z = NULL;

	(void)state;
	/* two frames from one compressor (finish, then more input), then an independent one */
	assert_int_equal(lp_zstd_new(LP_ZSTD_COMPRESS, 0, sink_put, &c, &z), 0);
	assert_int_equal(feed(z, a, 500000), 0);
	assert_int_equal(lp_zstd_finish(z), 0);
	assert_int_equal(feed(z, b, 300001), 0);
	assert_int_equal(lp_zstd_finish(z), 0);
	lp_zstd_free(z);
	compress_buf(a, 1000, 5, &c);

	assert_int_equal(decompress_buf(c.p, c.n, &d), 0);
	assert_int_equal(d.n, 500000 + 300001 + 1000);
	assert_memory_equal(d.p, a, 500000);
	assert_memory_equal(d.p + 500000, b, 300001);
	assert_memory_equal(d.p + 800001, a, 1000);
	sink_reset(&c);
	sink_reset(&d);
	free(a);
	free(b);
}

static void test_truncated(void **state)
{
	uint8_t *data = make_data(2000000, false);
	struct sink c = { 0 }, d = { 0 };
	size_t cuts[8];

	(void)state;
	compress_buf(data, 2000000, 0, &c);
	cuts[0] = 1;
	cuts[1] = 4;
	cuts[2] = 10;               /* inside the header */
	cuts[3] = c.n / 2;          /* inside a block */
	cuts[4] = c.n - 5;          /* inside the checksum */
	cuts[5] = c.n - 1;
	cuts[6] = 0;                /* no frame at all */
	cuts[7] = c.n;              /* complete */
	for (size_t i = 0; i < LP_ARRAY_SIZE(cuts); i++) {
		int r = decompress_buf(c.p, cuts[i], &d);

		if (cuts[i] == c.n)
			assert_int_equal(r, 0);
		else if (r != -EBADMSG)
			fail_msg("cut at %zu of %zu: %d, expected -EBADMSG", cuts[i], c.n, r);
		sink_reset(&d);
	}
	sink_reset(&c);
	free(data);
}

static void test_garbage(void **state)
{
	uint8_t *data = make_data(100000, true);
	struct sink c = { 0 }, d = { 0 };
	uint8_t junk[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = next_byte();
	assert_int_equal(decompress_buf(junk, sizeof(junk), &d), -EBADMSG);
	sink_reset(&d);

	compress_buf(data, 100000, 0, &c);
	/* a valid frame followed by garbage */
	{
		uint8_t *both = malloc(c.n + sizeof(junk));

		assert_non_null(both);
		memcpy(both, c.p, c.n);
		memcpy(both + c.n, junk, sizeof(junk));
		assert_int_equal(decompress_buf(both, c.n + sizeof(junk), &d), -EBADMSG);
		free(both);
		sink_reset(&d);
	}
	/* flipped bytes in the body are caught (block errors or the content checksum) */
	for (size_t pos = 20; pos < c.n; pos += c.n / 7 + 1) {
		c.p[pos] ^= 0x5a;
		assert_int_equal(decompress_buf(c.p, c.n, &d), -EBADMSG);
		c.p[pos] ^= 0x5a;
		sink_reset(&d);
	}
	sink_reset(&c);
	free(data);
}

static void test_window_too_large(void **state)
{
	size_t len = 6u << 20;
	uint8_t *data = make_data(len, false);
	size_t cap = ZSTD_compressBound(len);
	uint8_t *frame = malloc(cap);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_inBuffer in = { data, len, 0 };
	ZSTD_outBuffer out = { frame, cap, 0 };
	ZSTD_frameHeader fh;
	struct sink d = { 0 };
	size_t left;

	(void)state;
	assert_non_null(frame);
	assert_non_null(cctx);
	/* A frame made with a 128 MiB window, as `zstd --long=27` would. The input is fed
	 * without a known size so the window is not shrunk to fit it. */
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 27)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)));
	left = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue);
	assert_false(ZSTD_isError(left));
	do {
		left = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
		assert_false(ZSTD_isError(left));
	} while (left);
	ZSTD_freeCCtx(cctx);
	assert_int_equal(ZSTD_getFrameHeader(&fh, frame, out.pos), 0);
	assert_true(fh.windowSize > (1ull << LP_ZSTD_WINDOW_LOG));

	assert_int_equal(decompress_buf(frame, out.pos, &d), -EBADMSG);
	assert_int_equal(d.n, 0);
	sink_reset(&d);
	free(frame);
	free(data);
}

static void test_callback_error(void **state)
{
	uint8_t *data = make_data(3000000, false);
	struct sink c = { 0 }, d = { 0 };
	struct lp_zstd *z = NULL;

	(void)state;
	c.fail_after = 2;
	assert_int_equal(lp_zstd_new(LP_ZSTD_COMPRESS, 0, sink_put, &c, &z), 0);
	assert_int_equal(feed(z, data, 3000000), -ENOSPC);
	assert_int_equal(lp_zstd_write(z, data, 10), -ENOSPC);
	assert_int_equal(lp_zstd_finish(z), -ENOSPC);
	lp_zstd_free(z);
	sink_reset(&c);

	compress_buf(data, 3000000, 0, &c);
	d.fail_after = 3;
	assert_int_equal(decompress_buf(c.p, c.n, &d), -ENOSPC);
	sink_reset(&c);
	sink_reset(&d);
	free(data);
}

/* Our frames are ordinary zstd: the zstd CLI reads them. */
static void test_cli_reads_ours(void **state)
{
	char in[] = "/tmp/lp-test-zstd-XXXXXX";
	char outp[64];
	uint8_t *data = make_data(1500000, true);
	struct sink c = { 0 };
	uint8_t *back;
	int fd, status;
	pid_t pid;
	ssize_t n;

	(void)state;
	compress_buf(data, 1500000, 0, &c);
	fd = mkostemp(in, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, c.p, c.n), (ssize_t)c.n);
	close(fd);
	snprintf(outp, sizeof(outp), "%s.out", in);

	pid = fork();
	if (pid == 0) {
		execlp("zstd", "zstd", "-q", "-d", "-f", in, "-o", outp, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	back = malloc(1500001);
	assert_non_null(back);
	fd = open(outp, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, back, 1500001);
	close(fd);
	assert_int_equal(n, 1500000);
	assert_memory_equal(back, data, 1500000);
	unlink(in);
	unlink(outp);
	free(back);
	sink_reset(&c);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_multiple_frames), cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),        cmocka_unit_test(test_window_too_large),
		cmocka_unit_test(test_callback_error), cmocka_unit_test(test_cli_reads_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

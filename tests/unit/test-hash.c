/* SPDX-License-Identifier: MIT */
/* Streaming digests: FIPS 180 / RFC 1321 vectors, chunked updates, files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopline/codec.h"
#include "loopline/hash.h"

struct vector {
	enum lp_hash_alg alg;
	const char *msg; /* NULL = one million 'a' */
	const char *hex;
};

static const struct vector vectors[] = {
	{ LP_HASH_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ LP_HASH_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ LP_HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ LP_HASH_SHA256, NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ LP_HASH_SHA1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ LP_HASH_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ LP_HASH_SHA1, NULL, "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
	{ LP_HASH_MD5, "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ LP_HASH_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ LP_HASH_MD5, NULL, "7707d6ae4e027c70eea2a935c2296f21" },
};

#define MILLION 1000000u

static void hex_of(const uint8_t *d, size_t n, char *out)
{
	lp_hex_encode(d, n, out);
}

static void test_lengths_names(void **state)
{
	(void)state;
	assert_int_equal(lp_hash_len(LP_HASH_SHA256), 32);
	assert_int_equal(lp_hash_len(LP_HASH_SHA1), 20);
	assert_int_equal(lp_hash_len(LP_HASH_MD5), 16);
	assert_int_equal(lp_hash_len((enum lp_hash_alg)99), 0);
	assert_string_equal(lp_hash_name(LP_HASH_SHA256), "sha256");
	assert_string_equal(lp_hash_name(LP_HASH_SHA1), "sha1");
	assert_string_equal(lp_hash_name(LP_HASH_MD5), "md5");
}

static void test_vectors_oneshot(void **state)
{
	char *million = malloc(MILLION);

	(void)state;
	assert_non_null(million);
	memset(million, 'a', MILLION);
	for (size_t i = 0; i < LP_ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		uint8_t d[LP_HASH_MAX_LEN];
		char hex[2 * LP_HASH_MAX_LEN + 1];

		assert_int_equal(lp_hash_buffer(v->alg, v->msg ? v->msg : million,
						v->msg ? strlen(v->msg) : MILLION, d),
				 0);
		hex_of(d, lp_hash_len(v->alg), hex);
		assert_string_equal(hex, v->hex);
	}
	free(million);
}

/* The million 'a' fed in odd-sized pieces through one object reused across algorithms. */
static void test_vectors_streamed(void **state)
{
	static const size_t pieces[] = { 1, 3, 7, 63, 64, 65, 1000, 4093, 65537 };
	char *million = malloc(MILLION);

	(void)state;
	assert_non_null(million);
	memset(million, 'a', MILLION);
	for (size_t i = 0; i < LP_ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		const char *msg = v->msg ? v->msg : million;
		size_t len = v->msg ? strlen(v->msg) : MILLION, off = 0, k = 0;
		struct lp_hash *h = NULL;
		uint8_t d[LP_HASH_MAX_LEN];
		char hex[2 * LP_HASH_MAX_LEN + 1];

		assert_int_equal(lp_hash_new(v->alg, &h), 0);
		/* garbage first, then reset: the reset must discard it */
		assert_int_equal(lp_hash_update(h, "garbage", 7), 0);
		assert_int_equal(lp_hash_reset(h), 0);
		while (off < len) {
			size_t n = pieces[k++ % LP_ARRAY_SIZE(pieces)];

			if (n > len - off)
				n = len - off;
			assert_int_equal(lp_hash_update(h, msg + off, n), 0);
			off += n;
		}
		assert_int_equal(lp_hash_update(h, NULL, 0), 0);
		assert_int_equal(lp_hash_final(h, d), 0);
		hex_of(d, lp_hash_len(v->alg), hex);
		assert_string_equal(hex, v->hex);

		/* reusable after final + reset */
		assert_int_equal(lp_hash_reset(h), 0);
		assert_int_equal(lp_hash_update(h, msg, len), 0);
		assert_int_equal(lp_hash_final(h, d), 0);
		hex_of(d, lp_hash_len(v->alg), hex);
		assert_string_equal(hex, v->hex);
		lp_hash_free(h);
	}
	free(million);
	lp_hash_free(NULL);
}

static void test_bad_alg(void **state)
{
	struct lp_hash *h = (struct lp_hash *)0x1;
	uint8_t d[LP_HASH_MAX_LEN];

	(void)state;
	assert_int_equal(lp_hash_new((enum lp_hash_alg)42, &h), -EINVAL);
	assert_ptr_equal(h, (struct lp_hash *)0x1);
	assert_int_equal(lp_hash_buffer((enum lp_hash_alg)42, "", 0, d), -EINVAL);
}

static void test_hash_file(void **state)
{
	char path[] = "/tmp/lp-test-hash-XXXXXX";
	uint8_t d[LP_HASH_MAX_LEN], e[LP_HASH_MAX_LEN];
	size_t len = 3 * 1024 * 1024 + 12345; /* several read blocks plus a tail */
	uint8_t *data = malloc(len);
	int fd;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);

	for (int alg = LP_HASH_SHA256; alg <= LP_HASH_MD5; alg++) {
		assert_int_equal(lp_hash_file((enum lp_hash_alg)alg, path, d), 0);
		assert_int_equal(lp_hash_buffer((enum lp_hash_alg)alg, data, len, e), 0);
		assert_memory_equal(d, e, lp_hash_len((enum lp_hash_alg)alg));
	}
	unlink(path);
	free(data);
	assert_int_equal(lp_hash_file(LP_HASH_SHA256, path, d), -ENOENT);
	assert_int_equal(lp_hash_file(LP_HASH_SHA256, "/", d), -EISDIR);
}

static void test_equal(void **state)
{
	const uint8_t a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 2, 3, 5 };

	(void)state;
	assert_true(lp_hash_equal(a, a, 4));
	assert_false(lp_hash_equal(a, b, 4));
	assert_true(lp_hash_equal(a, b, 3));
	assert_true(lp_hash_equal(a, b, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths_names), cmocka_unit_test(test_vectors_oneshot),
		cmocka_unit_test(test_vectors_streamed), cmocka_unit_test(test_bad_alg),
		cmocka_unit_test(test_hash_file), cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

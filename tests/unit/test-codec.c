/* SPDX-License-Identifier: MIT */
/* Hex and base64: RFC 4648 section 10 vectors, strictness, buffer limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loopline/codec.h"

static void test_hex_roundtrip(void **state)
{
	const uint8_t data[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char hex[2 * sizeof(data) + 1];
	uint8_t back[sizeof(data)];

	(void)state;
	assert_string_equal(lp_hex_encode(data, sizeof(data), hex), "00017f80abff");
	assert_int_equal(lp_hex_decode(hex, strlen(hex), back, sizeof(back)), 0);
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(lp_hex_decode("00017F80ABFF", 12, back, sizeof(back)), 0);
	assert_memory_equal(back, data, sizeof(data));
	assert_string_equal(lp_hex_encode(data, 0, hex), "");
}

static void test_hex_bad(void **state)
{
	uint8_t out[4] = { 0x55, 0x55, 0x55, 0x55 };

	(void)state;
	assert_int_equal(lp_hex_decode("abc", 3, out, 2), -EINVAL);      /* odd length */
	assert_int_equal(lp_hex_decode("abcd", 4, out, 3), -EINVAL);     /* wrong length */
	assert_int_equal(lp_hex_decode("abcdef", 6, out, 2), -EINVAL);   /* too long */
	assert_int_equal(lp_hex_decode("0g", 2, out, 1), -EINVAL);
	assert_int_equal(lp_hex_decode(" 0", 2, out, 1), -EINVAL);
	assert_int_equal(lp_hex_decode("00\0" "0", 4, out, 2), -EINVAL); /* embedded NUL */
	/* out is untouched on failure */
	assert_int_equal(lp_hex_decode("01zz", 4, out, 2), -EINVAL);
	assert_int_equal(out[0], 0x55);
}

static const struct {
	const char *plain, *b64;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_base64_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(rfc4648); i++) {
		size_t n = strlen(rfc4648[i].plain);
		char enc[16];
		uint8_t dec[16];

		assert_int_equal(lp_base64_encoded_size(n), strlen(rfc4648[i].b64) + 1);
		assert_int_equal(lp_base64_encode(rfc4648[i].plain, n, enc, sizeof(enc)),
				 (long)strlen(rfc4648[i].b64));
		assert_string_equal(enc, rfc4648[i].b64);
		assert_int_equal(lp_base64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), dec,
						  sizeof(dec)),
				 (long)n);
		assert_memory_equal(dec, rfc4648[i].plain, n);
	}
}

static void test_base64_all_bytes(void **state)
{
	uint8_t data[256], back[256];
	char enc[400];
	long n;

	(void)state;
	for (int i = 0; i < 256; i++)
		data[i] = (uint8_t)(255 - i);
	for (size_t len = 0; len <= sizeof(data); len += 37) {
		n = lp_base64_encode(data, len, enc, sizeof(enc));
		assert_true(n >= 0);
		assert_int_equal(lp_base64_decode(enc, (size_t)n, back, sizeof(back)), (long)len);
		assert_memory_equal(back, data, len);
	}
	n = lp_base64_encode(data, 3, enc, sizeof(enc));
	assert_string_equal(enc, "//79");
}

static void test_base64_bad(void **state)
{
	static const char *const bad[] = {
		"Zg",        /* missing padding */
		"Zg=",       /* short padding */
		"Zg===",     /* length not a multiple of 4 */
		"Z===",      /* too much padding */
		"====",      /* only padding */
		"Zg==Zg==",  /* padding in the middle */
		"Zm9v!A==",  /* bad character */
		"Zm9v YQ==", /* whitespace */
		"Zm9-",      /* URL-safe alphabet is not accepted */
		"Zm9_",
		"Zm=v",      /* '=' followed by data */
		"Zh==",      /* non-canonical: trailing bits set (canonical is Zg==) */
		"Zm9=",      /* non-canonical: canonical is Zm8= */
		"Zg\n=",
	};
	uint8_t out[16];

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		long r = lp_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out));

		if (r != -EINVAL)
			fail_msg("\"%s\" decoded to %ld, expected -EINVAL", bad[i], r);
	}
	/* An embedded NUL is a bad character, not the end. */
	assert_int_equal(lp_base64_decode("Zm9v\0Zm9", 8, out, sizeof(out)), -EINVAL);
}

static void test_base64_enobufs(void **state)
{
	char enc[9];
	uint8_t dec[6];

	(void)state;
	/* "foobar" needs 9 bytes including the NUL. */
	assert_int_equal(lp_base64_encode("foobar", 6, enc, 8), -ENOBUFS);
	assert_int_equal(lp_base64_encode("foobar", 6, enc, 9), 8);
	assert_int_equal(lp_base64_encode("f", 1, enc, 0), -ENOBUFS);
	assert_int_equal(lp_base64_decode("Zm9vYmFy", 8, dec, 5), -ENOBUFS);
	assert_int_equal(lp_base64_decode("Zm9vYmE=", 8, dec, 5), 5);
	assert_int_equal(lp_base64_decode("Zm9vYg==", 8, dec, 3), -ENOBUFS);
	assert_int_equal(lp_base64_decode("Zm9vYg==", 8, dec, 4), 4);
	/* Bad input is reported as bad even when the buffer is also too small. */
	assert_int_equal(lp_base64_decode("Zm9v!mFy", 8, dec, 1), -EINVAL);
	assert_int_equal(lp_base64_encoded_size(SIZE_MAX), SIZE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_roundtrip),   cmocka_unit_test(test_hex_bad),
		cmocka_unit_test(test_base64_vectors),  cmocka_unit_test(test_base64_all_bytes),
		cmocka_unit_test(test_base64_bad),      cmocka_unit_test(test_base64_enobufs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The bounds-checked cursor: every reader at its boundary, poisoning, untouched outputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loopline/cursor.h"

static const uint8_t bytes[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };

static void test_values(void **state)
{
	struct lp_cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_u8(&c, &u8), 0);
	assert_int_equal(u8, 0x01);
	assert_int_equal(lp_cursor_le16(&c, &u16), 0);
	assert_int_equal(u16, 0x0302);
	assert_int_equal(lp_cursor_be16(&c, &u16), 0);
	assert_int_equal(u16, 0x0405);
	assert_int_equal(lp_cursor_remaining(&c), 4);
	assert_int_equal(lp_cursor_le32(&c, &u32), 0);
	assert_int_equal(u32, 0x09080706);
	assert_int_equal(lp_cursor_remaining(&c), 0);
	assert_false(lp_cursor_failed(&c));

	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_be32(&c, &u32), 0);
	assert_int_equal(u32, 0x01020304);
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_le64(&c, &u64), 0);
	assert_true(u64 == 0x0807060504030201ull);
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_be64(&c, &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(lp_cursor_remaining(&c), 1);
}

/* Each fixed-size reader with exactly enough bytes succeeds, with one byte less fails,
 * leaves its output alone, and poisons the cursor. */
static void test_each_reader_at_boundary(void **state)
{
	static const size_t widths[] = { 1, 2, 4, 8, 2, 4, 8 };

	(void)state;
	for (size_t w = 0; w < LP_ARRAY_SIZE(widths); w++) {
		for (int enough = 0; enough <= 1; enough++) {
			size_t len = widths[w] - (enough ? 0 : 1);
			struct lp_cursor c;
			uint64_t out = 0xdeadbeefdeadbeefull;
			uint8_t o8 = 0xaa;
			uint16_t o16 = 0xaaaa;
			uint32_t o32 = 0xaaaaaaaa;
			int r = 0;

			lp_cursor_init(&c, bytes, len);
			switch (w) {
			case 0: r = lp_cursor_u8(&c, &o8); break;
			case 1: r = lp_cursor_le16(&c, &o16); break;
			case 2: r = lp_cursor_le32(&c, &o32); break;
			case 3: r = lp_cursor_le64(&c, &out); break;
			case 4: r = lp_cursor_be16(&c, &o16); break;
			case 5: r = lp_cursor_be32(&c, &o32); break;
			case 6: r = lp_cursor_be64(&c, &out); break;
			}
			if (enough) {
				assert_int_equal(r, 0);
				assert_false(lp_cursor_failed(&c));
				assert_int_equal(lp_cursor_remaining(&c), 0);
			} else {
				assert_int_equal(r, -EBADMSG);
				assert_true(lp_cursor_failed(&c));
				assert_int_equal(lp_cursor_remaining(&c), 0);
				assert_int_equal(o8, 0xaa);
				assert_int_equal(o16, 0xaaaa);
				assert_int_equal(o32, 0xaaaaaaaa);
				assert_true(out == 0xdeadbeefdeadbeefull);
			}
		}
	}
}

static void test_copy_bytes_skip(void **state)
{
	struct lp_cursor c;
	uint8_t out[9];
	const uint8_t *p = NULL;

	(void)state;
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_skip(&c, 0), 0);
	assert_int_equal(lp_cursor_copy(&c, out, 0), 0);
	assert_int_equal(lp_cursor_copy(&c, out, 3), 0);
	assert_memory_equal(out, bytes, 3);
	assert_int_equal(lp_cursor_bytes(&c, 2, &p), 0);
	assert_ptr_equal(p, bytes + 3);
	assert_int_equal(lp_cursor_skip(&c, 4), 0);
	assert_int_equal(lp_cursor_remaining(&c), 0);
	assert_int_equal(lp_cursor_bytes(&c, 0, &p), 0);
	assert_ptr_equal(p, bytes + 9);

	/* one too many, for each */
	lp_cursor_init(&c, bytes, sizeof(bytes));
	memset(out, 0x55, sizeof(out));
	assert_int_equal(lp_cursor_copy(&c, out, 10), -EBADMSG);
	assert_int_equal(out[0], 0x55);
	assert_true(lp_cursor_failed(&c));

	lp_cursor_init(&c, bytes, sizeof(bytes));
	p = NULL;
	assert_int_equal(lp_cursor_bytes(&c, 10, &p), -EBADMSG);
	assert_null(p);

	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_skip(&c, 10), -EBADMSG);

	/* a huge length must not wrap around the bounds check */
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_skip(&c, 1), 0);
	assert_int_equal(lp_cursor_skip(&c, SIZE_MAX), -EBADMSG);
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_bytes(&c, SIZE_MAX - 3, &p), -EBADMSG);
}

static void test_poisoned(void **state)
{
	struct lp_cursor c;
	uint8_t u8 = 0;
	uint32_t u32 = 0;
	const char *s;
	size_t n;

	(void)state;
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_int_equal(lp_cursor_le64(&c, &(uint64_t){ 0 }), 0);
	assert_int_equal(lp_cursor_le16(&c, &(uint16_t){ 0 }), -EBADMSG); /* only 1 left */
	/* the byte that is there can no longer be read: every later read fails */
	assert_int_equal(lp_cursor_u8(&c, &u8), -EBADMSG);
	assert_int_equal(u8, 0);
	assert_int_equal(lp_cursor_skip(&c, 0), -EBADMSG);
	assert_int_equal(lp_cursor_be32(&c, &u32), -EBADMSG);
	assert_int_equal(lp_cursor_cstr(&c, &s, &n), -EBADMSG);
	assert_int_equal(lp_cursor_remaining(&c), 0);
	assert_true(lp_cursor_failed(&c));
	/* init clears the poison */
	lp_cursor_init(&c, bytes, sizeof(bytes));
	assert_false(lp_cursor_failed(&c));
	assert_int_equal(lp_cursor_u8(&c, &u8), 0);
}

static void test_cstr(void **state)
{
	static const uint8_t data[] = { 'a', 'b', 0, 0, 'x', 'y', 'z' };
	struct lp_cursor c;
	const char *s = NULL;
	size_t n = 99;

	(void)state;
	lp_cursor_init(&c, data, sizeof(data));
	assert_int_equal(lp_cursor_cstr(&c, &s, &n), 0);
	assert_string_equal(s, "ab");
	assert_int_equal(n, 2);
	assert_int_equal(lp_cursor_cstr(&c, &s, &n), 0); /* the empty string */
	assert_string_equal(s, "");
	assert_int_equal(n, 0);
	assert_int_equal(lp_cursor_remaining(&c), 3);
	/* "xyz" has no terminator: refused, outputs untouched */
	s = NULL;
	n = 99;
	assert_int_equal(lp_cursor_cstr(&c, &s, &n), -EBADMSG);
	assert_null(s);
	assert_int_equal(n, 99);
	assert_true(lp_cursor_failed(&c));

	/* at the very end */
	lp_cursor_init(&c, data, 3);
	assert_int_equal(lp_cursor_cstr(&c, &s, &n), 0);
	assert_int_equal(lp_cursor_cstr(&c, &s, &n), -EBADMSG);
}

static void test_empty(void **state)
{
	struct lp_cursor c;
	uint8_t u8;

	(void)state;
	lp_cursor_init(&c, NULL, 0);
	assert_int_equal(lp_cursor_remaining(&c), 0);
	assert_int_equal(lp_cursor_skip(&c, 0), 0);
	assert_int_equal(lp_cursor_u8(&c, &u8), -EBADMSG);
	/* NULL data with a length is treated as empty, never dereferenced */
	lp_cursor_init(&c, NULL, 100);
	assert_int_equal(lp_cursor_remaining(&c), 0);
	assert_int_equal(lp_cursor_u8(&c, &u8), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),    cmocka_unit_test(test_each_reader_at_boundary),
		cmocka_unit_test(test_copy_bytes_skip), cmocka_unit_test(test_poisoned),
		cmocka_unit_test(test_cstr),      cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests of backend/range.c: Range (RFC 9110 14.2), Content-Range of upload PUTs, and
 * the merged list of byte ranges an unfinished upload has received. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend.h"

static void test_range(void **state)
{
	struct be_range r[BE_RANGE_MAX];

	assert_int_equal(be_range_parse("bytes=0-99", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(r[0].last, 99);
	assert_int_equal(be_range_parse("bytes=-100", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].first, 900);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(be_range_parse("bytes=-5000", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(be_range_parse("bytes=990-", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(be_range_parse("bytes=500-5000", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(be_range_parse("bytes= 0-1 , 5-6", 1000, r, BE_RANGE_MAX), 2);
	assert_int_equal(r[1].first, 5);
	assert_int_equal(be_range_parse("BYTES=0-0", 1, r, BE_RANGE_MAX), 1);
	/* errors */
	assert_int_equal(be_range_parse("bytes=1000-", 1000, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=-0", 1000, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=0-0", 0, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=0-10,5-20", 1000, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=5-1", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=-", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=a-b", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes 0-1", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("=0-1", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=0-1x", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=99999999999999999999-", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=0-0,1-1,2-2", 1000, r, 2), -E2BIG);
}

static void test_content_range(void **state)
{
	uint64_t a, b, t;

	assert_int_equal(be_content_range_parse("bytes 0-99/1000", &a, &b, &t), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 99);
	assert_int_equal(t, 1000);
	assert_int_equal(be_content_range_parse("bytes 0-1000/1000", &a, &b, &t), -EINVAL);
	assert_int_equal(be_content_range_parse("bytes 5-4/1000", &a, &b, &t), -EINVAL);
	assert_int_equal(be_content_range_parse("bytes */1000", &a, &b, &t), -EINVAL);
	assert_int_equal(be_content_range_parse("bytes 0-1/2 x", &a, &b, &t), -EINVAL);
}

/* A range unit other than bytes makes the server ignore the header (RFC 9110 14.2): the
 * parser says so with its own code, distinct from a malformed bytes range. */
static void test_range_unknown_unit(void **state)
{
	struct be_range r[BE_RANGE_MAX];

	assert_int_equal(be_range_parse("items=0-5", 1000, r, BE_RANGE_MAX), -EOPNOTSUPP);
	assert_int_equal(be_range_parse("bytesx=0-5", 1000, r, BE_RANGE_MAX), -EOPNOTSUPP);
	assert_int_equal(be_range_parse("none=", 1000, r, BE_RANGE_MAX), -EOPNOTSUPP);
	assert_int_equal(be_range_parse("Bytes=0-5", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(be_range_parse("bytes =0-5", 1000, r, BE_RANGE_MAX), 1);
}

static void expect(const struct be_range *l, size_t n, const uint64_t *pairs, size_t n_pairs)
{
	assert_int_equal(n, n_pairs);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l[i].first, pairs[2 * i]);
		assert_int_equal(l[i].last, pairs[2 * i + 1]);
	}
}

static void test_ranges_add(void **state)
{
	struct be_range l[4];
	size_t n = 0;

	assert_int_equal(be_ranges_add(l, &n, 4, 600, 699), 0);
	assert_int_equal(be_ranges_add(l, &n, 4, 0, 299), 0);
	expect(l, n, (const uint64_t[]){ 0, 299, 600, 699 }, 2);
	/* adjacent on both sides: one range */
	assert_int_equal(be_ranges_add(l, &n, 4, 300, 599), 0);
	expect(l, n, (const uint64_t[]){ 0, 699 }, 1);
	assert_int_equal(be_ranges_add(l, &n, 4, 1000, 1099), 0);
	assert_int_equal(be_ranges_add(l, &n, 4, 2000, 2099), 0);
	assert_int_equal(be_ranges_add(l, &n, 4, 3000, 3099), 0);
	/* full: a fifth separate range is refused and the list is unchanged */
	assert_int_equal(be_ranges_add(l, &n, 4, 5000, 5001), -E2BIG);
	expect(l, n, (const uint64_t[]){ 0, 699, 1000, 1099, 2000, 2099, 3000, 3099 }, 4);
	/* but one that merges fits: it swallows two ranges and overlaps a third */
	assert_int_equal(be_ranges_add(l, &n, 4, 650, 2050), 0);
	expect(l, n, (const uint64_t[]){ 0, 2099, 3000, 3099 }, 2);
	/* a range inside another changes nothing */
	assert_int_equal(be_ranges_add(l, &n, 4, 10, 20), 0);
	expect(l, n, (const uint64_t[]){ 0, 2099, 3000, 3099 }, 2);
	assert_int_equal(be_ranges_bytes(l, n), 2100 + 100);
	/* the largest values do not wrap */
	n = 0;
	assert_int_equal(be_ranges_add(l, &n, 4, UINT64_MAX - 1, UINT64_MAX), 0);
	assert_int_equal(be_ranges_add(l, &n, 4, 0, 0), 0);
	expect(l, n, (const uint64_t[]){ 0, 0, UINT64_MAX - 1, UINT64_MAX }, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_range_unknown_unit),
		cmocka_unit_test(test_content_range),
		cmocka_unit_test(test_ranges_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

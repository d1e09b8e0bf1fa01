/* SPDX-License-Identifier: MIT */
/* Unit tests of backend/ratelimit.c: per-address token buckets (burst, refill, isolation). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "backend.h"

static void test_burst_and_refill(void **state)
{
	struct be_ratelimit *rl = NULL;
	uint64_t t = 1000000;

	assert_int_equal(be_ratelimit_new(0, 5, &rl), -EINVAL);
	assert_int_equal(be_ratelimit_new(2, 5, &rl), 0);
	for (int i = 0; i < 5; i++)
		assert_true(be_ratelimit_allow(rl, "10.0.0.1", t));
	assert_false(be_ratelimit_allow(rl, "10.0.0.1", t));
	/* another address has its own bucket */
	assert_true(be_ratelimit_allow(rl, "10.0.0.2", t));
	/* 2 per second: after 0.4 s nothing, after 0.5 s one more, then none */
	assert_false(be_ratelimit_allow(rl, "10.0.0.1", t + 400000));
	assert_true(be_ratelimit_allow(rl, "10.0.0.1", t + 500000));
	assert_false(be_ratelimit_allow(rl, "10.0.0.1", t + 500000));
	/* a long pause refills the bucket to the burst, not beyond */
	t += 60000000;
	for (int i = 0; i < 5; i++)
		assert_true(be_ratelimit_allow(rl, "10.0.0.1", t));
	assert_false(be_ratelimit_allow(rl, "10.0.0.1", t));
	be_ratelimit_free(rl);
	be_ratelimit_free(NULL);
}

/* Many addresses: the table forgets the least recently used, never refuses a newcomer. */
static void test_many_addresses(void **state)
{
	struct be_ratelimit *rl = NULL;
	char ip[32];

	assert_int_equal(be_ratelimit_new(1, 1, &rl), 0);
	for (int i = 0; i < 50000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_true(be_ratelimit_allow(rl, ip, (uint64_t)i));
	}
	be_ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_and_refill),
		cmocka_unit_test(test_many_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

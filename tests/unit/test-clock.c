/* SPDX-License-Identifier: MIT */
/* lib/clock: monotonic readings, deadlines (saturating), time left, sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loopline/clock.h"

static void test_clock(void **state)
{
	uint64_t a = lp_clock_mono_ms(), us = lp_clock_mono_us(), d;

	assert_true(us / 1000 >= a);
	lp_clock_sleep_ms(30);
	assert_true(lp_clock_mono_ms() - a >= 30);
	assert_true(lp_clock_wall_ms() > 1700000000000LL); /* after 2023 */
	d = lp_clock_deadline_ms(1000);
	assert_true(lp_clock_ms_left(d) > 0 && lp_clock_ms_left(d) <= 1000);
	assert_int_equal(lp_clock_ms_left(a), 0);             /* passed */
	assert_int_equal(lp_clock_deadline_ms(UINT64_MAX), UINT64_MAX);
	assert_int_equal(lp_clock_ms_left(UINT64_MAX), INT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_clock) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <time.h>

#include "loopline/clock.h"

static uint64_t ts_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t lp_clock_mono_us(void)
{
	return ts_us(CLOCK_MONOTONIC);
}

uint64_t lp_clock_mono_ms(void)
{
	return ts_us(CLOCK_MONOTONIC) / 1000u;
}

int64_t lp_clock_wall_ms(void)
{
	return (int64_t)(ts_us(CLOCK_REALTIME) / 1000u);
}

uint64_t lp_clock_deadline_ms(uint64_t timeout_ms)
{
	uint64_t now = lp_clock_mono_ms();

	return timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms;
}

int lp_clock_ms_left(uint64_t deadline_ms)
{
	uint64_t now = lp_clock_mono_ms();

	if (now >= deadline_ms)
		return 0;
	if (deadline_ms - now > INT32_MAX)
		return INT32_MAX;
	return (int)(deadline_ms - now);
}

void lp_clock_sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SPDX-License-Identifier: MIT */
/*
 * Clocks written once. Timeouts and durations use the monotonic clock (never the wall
 * clock, which jumps); deadlines are absolute monotonic milliseconds.
 */
#pragma once

#include <stdint.h>
#include "loopline/common.h"

/* Milliseconds / microseconds of CLOCK_MONOTONIC. */
LP_EXPORT uint64_t lp_clock_mono_ms(void);
LP_EXPORT uint64_t lp_clock_mono_us(void);
/* Wall clock, milliseconds since the epoch (for timestamps shown to people). */
LP_EXPORT int64_t lp_clock_wall_ms(void);
/* A deadline timeout_ms from now (saturating). */
LP_EXPORT uint64_t lp_clock_deadline_ms(uint64_t timeout_ms);
/* Milliseconds until deadline_ms, 0 when it has passed, capped at INT32_MAX so the
 * value fits poll(2)'s timeout. */
LP_EXPORT int lp_clock_ms_left(uint64_t deadline_ms);
/* Sleeps ms milliseconds, resuming after signals until the time is over. */
LP_EXPORT void lp_clock_sleep_ms(unsigned ms);

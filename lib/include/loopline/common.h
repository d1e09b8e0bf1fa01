/* SPDX-License-Identifier: MIT */
/* Small shared definitions for libloopline's public headers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define LP_EXPORT __attribute__((visibility("default")))
#define LP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#define LP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes shared by every Loopline program (docs/exit-codes in each tool's doc). */
enum lp_exit {
	LP_EXIT_OK = 0,
	LP_EXIT_FAILURE = 1,
	LP_EXIT_USAGE = 2, /* bad arguments or configuration */
	/* 10 and up: domain codes, defined per program */
};

LP_EXPORT const char *lp_version_string(void);

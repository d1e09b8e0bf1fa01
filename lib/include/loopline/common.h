/* SPDX-License-Identifier: MIT */
/* Small shared definitions for libloopline's public headers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define LP_EXPORT __attribute__((visibility("default")))
#define LP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#define LP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes shared by every Loopline program: one meaning per number across tools,
 * mapped from errno values in one place (lp_exit_from_errno in loopline/cli.h). Codes
 * only grow: a number is never reused for another meaning. */
enum lp_exit {
	LP_EXIT_OK = 0,
	LP_EXIT_FAILURE = 1,
	LP_EXIT_USAGE = 2,            /* bad arguments or configuration */
	/* package policy: the same refusal gives the same code in every tool */
	LP_EXIT_SIGNATURE = 10,       /* no signature by a trusted key verifies */
	LP_EXIT_CORRUPT = 11,         /* malformed, hash or size mismatch, truncated, limits */
	LP_EXIT_INCOMPATIBLE = 12,    /* not for this hardware (compatible) */
	LP_EXIT_DOWNGRADE = 13,       /* security_version lower than allowed (anti-rollback) */
	LP_EXIT_EXISTS = 14,          /* already exists (a version, an output file, a name) */
	LP_EXIT_AGENT_TOO_OLD = 15,   /* min_agent_version higher than the agent */
	LP_EXIT_UNSUPPORTED = 16,     /* a feature this side does not support or allow */
	/* operations */
	LP_EXIT_BUSY = 20,            /* locked by someone else / another update in flight */
	LP_EXIT_TIMEOUT = 21,         /* something did not happen in time */
	LP_EXIT_STATE = 22,           /* not possible in the current state */
	LP_EXIT_FAILURE_PATTERN = 23, /* a failure pattern matched (e.g. a kernel panic) */
	LP_EXIT_NOT_FOUND = 24,       /* no such board, device, file, run … */
	/* release gate (loopline-matrix gate) */
	LP_EXIT_GATE_FAILED = 30,     /* a required combo failed: the release may not roll out */
	LP_EXIT_GATE_UNTESTED = 31,   /* a required combo was not tested (infrastructure) */
};

LP_EXPORT const char *lp_version_string(void);

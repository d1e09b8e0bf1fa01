/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics for errors in outside input. Functions that parse return a negative errno
 * and, when given a struct lp_diag, fill it with where the problem is and what it is, so
 * a user reads e.g. "agent.json: backends[1].url: expected a string".
 *
 * A NULL diag is allowed everywhere: the message is then dropped.
 */
#pragma once

#include "loopline/common.h"

#define LP_DIAG_MSG_MAX 512
#define LP_DIAG_PATH_MAX 256
#define LP_DIAG_FILE_MAX 256

struct lp_diag {
	char file[LP_DIAG_FILE_MAX]; /* input name ("" if none) */
	unsigned line;               /* 1-based line, 0 if unknown */
	unsigned column;             /* 1-based column, 0 if unknown */
	char path[LP_DIAG_PATH_MAX]; /* element path such as "backends[1].url" ("" if none) */
	char msg[LP_DIAG_MSG_MAX];   /* what is wrong */
};

LP_EXPORT void lp_diag_clear(struct lp_diag *d);
LP_EXPORT void lp_diag_set_file(struct lp_diag *d, const char *file);
LP_EXPORT void lp_diag_set_pos(struct lp_diag *d, unsigned line, unsigned column);
LP_EXPORT void lp_diag_set_path(struct lp_diag *d, const char *path);

/* Sets the message (overwriting an earlier one) and returns err, so parsers can write
 * `return lp_diag_fail(d, -EINVAL, "expected %s", what);`. */
LP_EXPORT int lp_diag_fail(struct lp_diag *d, int err, const char *fmt, ...) LP_PRINTF(3, 4);
/* Same, also setting the element path. */
LP_EXPORT int lp_diag_fail_at(struct lp_diag *d, int err, const char *path, const char *fmt, ...)
	LP_PRINTF(4, 5);

/* "file:line:col: path: msg", leaving out the parts that are unset. Returns buf. */
LP_EXPORT const char *lp_diag_format(const struct lp_diag *d, char *buf, size_t len);

/* SPDX-License-Identifier: MIT */
/* Semantic versions (semver.org 2.0.0): parse, compare with its precedence rules. */
#pragma once

#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_SEMVER_MAX 128 /* longest accepted version string */

struct lp_semver {
	uint64_t major, minor, patch;
	char pre[LP_SEMVER_MAX];   /* pre-release without '-', "" if none */
	char build[LP_SEMVER_MAX]; /* build metadata without '+', "" if none */
};

/* Strict: no leading 'v', no leading zeros in numeric parts, identifiers [0-9A-Za-z-]
 * and non-empty. Returns 0 or -EINVAL with diag. */
LP_EXPORT int lp_semver_parse(const char *s, struct lp_semver *ret, struct lp_diag *diag);
/* <0, 0, >0 by precedence (build metadata ignored; pre-release lower than release;
 * identifiers compared numerically or lexically, numeric < alphanumeric, shorter set lower). */
LP_EXPORT int lp_semver_compare(const struct lp_semver *a, const struct lp_semver *b);
/* Parses both and compares; -EINVAL if either is not a version. */
LP_EXPORT int lp_semver_compare_str(const char *a, const char *b, int *ret_cmp);
/* Canonical text into buf; returns buf. */
LP_EXPORT const char *lp_semver_format(const struct lp_semver *v, char *buf, size_t len);

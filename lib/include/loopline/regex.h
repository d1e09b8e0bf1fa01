/* SPDX-License-Identifier: MIT */
/*
 * POSIX regular expressions from outside input (patterns in scenario files, filter
 * expressions) compiled with bounds: glibc compiles "x+" as "xx*" and "x{n,m}" as m
 * copies of x, so stacked repetitions grow the automaton multiplicatively ("p+++…" needs
 * 2^n nodes) — a few bytes of pattern can take gigabytes. Patterns are refused when they
 * are longer than LP_REGEX_MAX_LEN or when their repetitions, taken as if all nested,
 * could multiply past LP_REGEX_MAX_COST.
 */
#pragma once

#include <regex.h>
#include "loopline/common.h"

#define LP_REGEX_MAX_LEN 1024
#define LP_REGEX_MAX_COST 4096

/* Compiles pattern with regcomp(cflags) into *ret (regfree it) after the checks above.
 * Returns 0, or -EINVAL with the reason in err ("longer than 1024 bytes", "too many
 * nested repetitions (+ or {n,m})", or regerror's text); *ret is then not to be freed. */
LP_EXPORT int lp_regex_compile(regex_t *ret, const char *pattern, int cflags, char *err,
			       size_t errlen);

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "loopline/regex.h"

/* Skips a bracket expression starting at re[i] == '['; returns the index of its ']' (or
 * of the end). Nothing inside a bracket expression repeats. */
static size_t skip_bracket(const char *re, size_t i)
{
	i++;
	if (re[i] == '^')
		i++;
	if (re[i] == ']')
		i++;
	while (re[i] && re[i] != ']') {
		if (re[i] == '[' && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
			char close = re[i + 1];

			i += 2;
			while (re[i] && !(re[i] == close && re[i + 1] == ']'))
				i++;
			if (re[i])
				i++;
		}
		if (re[i])
			i++;
	}
	return i;
}

/* The factor a {n}, {n,} or {n,m} at re[*i] == '{' multiplies by; *i ends on its '}'. */
static unsigned long long interval_factor(const char *re, size_t *i)
{
	unsigned long long n = 0;

	for ((*i)++; re[*i] >= '0' && re[*i] <= '9'; (*i)++)
		n = n < 100000 ? n * 10 + (unsigned)(re[*i] - '0') : n;
	if (re[*i] == ',') {
		unsigned long long m = 0;
		bool any = false;

		for ((*i)++; re[*i] >= '0' && re[*i] <= '9'; (*i)++, any = true)
			m = m < 100000 ? m * 10 + (unsigned)(re[*i] - '0') : m;
		n = any ? m : n + 1;
	}
	return n + 1;
}

/* The worst case, as if every repetition were nested. */
static bool cost_ok(const char *re)
{
	unsigned long long cost = 1;

	for (size_t i = 0; re[i]; i++) {
		unsigned long long factor = 1;

		if (re[i] == '\\' && re[i + 1]) {
			i++;
			continue;
		}
		if (re[i] == '[') {
			i = skip_bracket(re, i);
			if (!re[i])
				break;
			continue;
		}
		if (re[i] == '+')
			factor = 2;
		else if (re[i] == '{')
			factor = interval_factor(re, &i);
		cost *= factor;
		if (cost > LP_REGEX_MAX_COST)
			return false;
		if (!re[i])
			break;
	}
	return true;
}

int lp_regex_compile(regex_t *ret, const char *pattern, int cflags, char *err, size_t errlen)
{
	int r;

	if (strlen(pattern) > LP_REGEX_MAX_LEN) {
		snprintf(err, errlen, "longer than %d bytes", LP_REGEX_MAX_LEN);
		return -EINVAL;
	}
	if (!cost_ok(pattern)) {
		snprintf(err, errlen, "too many nested repetitions (+ or {n,m})");
		return -EINVAL;
	}
	r = regcomp(ret, pattern, cflags);
	if (r != 0) {
		regerror(r, ret, err, errlen);
		return -EINVAL;
	}
	return 0;
}

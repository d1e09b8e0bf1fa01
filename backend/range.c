/* SPDX-License-Identifier: MIT */
/*
 * RFC 7233 byte ranges: the Range header of artifact downloads and the Content-Range
 * header of upload PUTs. Both parsers are strict and bounded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"

static void skip_ows(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Reads 1..19 decimal digits. */
static int read_u64(const char **p, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9') {
		if (++n > 19)
			return -EINVAL;
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	if (n == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct be_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

int be_range_parse(const char *header, uint64_t len, struct be_range *out, size_t max)
{
	struct be_range sorted[BE_RANGE_MAX];
	const char *p = header;
	size_t n = 0;
	bool unsatisfiable = false;

	if (!header || strncasecmp(p, "bytes", 5) != 0)
		return -EINVAL;
	p += 5;
	skip_ows(&p);
	if (*p++ != '=')
		return -EINVAL;
	if (max > BE_RANGE_MAX)
		max = BE_RANGE_MAX;
	for (;;) {
		uint64_t a = 0, b = 0;
		bool has_first = false, has_last = false;

		skip_ows(&p);
		if (*p == ',') { /* empty list elements are allowed by the ABNF */
			p++;
			continue;
		}
		if (*p >= '0' && *p <= '9') {
			if (read_u64(&p, &a) < 0)
				return -EINVAL;
			has_first = true;
		}
		if (*p++ != '-')
			return -EINVAL;
		if (*p >= '0' && *p <= '9') {
			if (read_u64(&p, &b) < 0)
				return -EINVAL;
			has_last = true;
		}
		if (!has_first && !has_last)
			return -EINVAL;
		if (has_first && has_last && b < a)
			return -EINVAL;
		if (n >= max)
			return -E2BIG;
		if (!has_first) { /* suffix: the last b bytes */
			if (b == 0 || len == 0) {
				unsatisfiable = true;
			} else {
				out[n].first = b >= len ? 0 : len - b;
				out[n].last = len - 1;
			}
		} else if (a >= len) {
			unsatisfiable = true;
		} else {
			out[n].first = a;
			out[n].last = (!has_last || b >= len) ? len - 1 : b;
		}
		n++;
		skip_ows(&p);
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
		skip_ows(&p);
		if (*p == '\0')
			break;
	}
	if (n == 0)
		return -EINVAL;
	if (unsatisfiable)
		return -ERANGE;
	/* Overlapping ranges are refused (as hawkBit does) rather than coalesced. */
	memcpy(sorted, out, n * sizeof(*out));
	qsort(sorted, n, sizeof(*sorted), cmp_range);
	for (size_t i = 1; i < n; i++)
		if (sorted[i].first <= sorted[i - 1].last)
			return -ERANGE;
	return (int)n;
}

int be_content_range_parse(const char *header, uint64_t *ret_first, uint64_t *ret_last,
			   uint64_t *ret_total)
{
	const char *p = header;
	uint64_t a, b, t;

	if (!header || strncasecmp(p, "bytes ", 6) != 0)
		return -EINVAL;
	p += 6;
	skip_ows(&p);
	if (read_u64(&p, &a) < 0 || *p++ != '-' || read_u64(&p, &b) < 0 || *p++ != '/' ||
	    read_u64(&p, &t) < 0)
		return -EINVAL;
	skip_ows(&p);
	if (*p != '\0' || b < a || b >= t)
		return -EINVAL;
	*ret_first = a;
	*ret_last = b;
	*ret_total = t;
	return 0;
}

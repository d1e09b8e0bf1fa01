/* SPDX-License-Identifier: MIT */
/*
 * RFC 9110 byte ranges: the Range header of artifact downloads, the Content-Range header
 * of upload PUTs (both parsers strict and bounded), and the merged list of byte ranges an
 * unfinished upload has received.
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

	if (!header)
		return -EINVAL;
	/* range-unit = token; a unit we do not know means the header is ignored */
	while (*p && *p != '=' && *p != ' ' && *p != '\t')
		p++;
	if (p == header)
		return -EINVAL;
	if ((size_t)(p - header) != 5 || strncasecmp(header, "bytes", 5) != 0)
		return *p ? -EOPNOTSUPP : -EINVAL;
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

int be_ranges_add(struct be_range *list, size_t *n, size_t max, uint64_t first, uint64_t last)
{
	size_t lo = 0, hi, k = *n;

	/* ranges entirely before the new one, and not adjacent to it, stay */
	while (lo < k && list[lo].last < first && first - list[lo].last > 1)
		lo++;
	/* the ranges lo .. hi - 1 overlap or touch it: they are merged into it */
	hi = lo;
	while (hi < k && (list[hi].first <= last || list[hi].first - last == 1)) {
		if (list[hi].first < first)
			first = list[hi].first;
		if (list[hi].last > last)
			last = list[hi].last;
		hi++;
	}
	if (hi == lo && k >= max)
		return -E2BIG;
	if (hi == lo)
		memmove(&list[lo + 1], &list[lo], (k - lo) * sizeof(*list));
	else if (hi > lo + 1)
		memmove(&list[lo + 1], &list[hi], (k - hi) * sizeof(*list));
	list[lo].first = first;
	list[lo].last = last;
	*n = k + 1 - (hi - lo);
	return 0;
}

uint64_t be_ranges_bytes(const struct be_range *list, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += list[i].last - list[i].first + 1;
	return total;
}

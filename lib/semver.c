/* SPDX-License-Identifier: MIT */
/* Semantic Versioning 2.0.0 (semver.org): strict parsing and precedence. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "loopline/semver.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A printable, bounded copy of the input for messages. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* Parses a numeric core part at *p up to the next stop character. */
static int parse_core(const char *s, const char **p, const char *what, uint64_t *ret,
		      struct lp_diag *diag)
{
	char q[LP_SEMVER_MAX];
	const char *start = *p;
	uint64_t v = 0;

	if (!is_digit(*start))
		return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: %s number expected at "
				    "\"%.16s\"", shown(s, q, sizeof(q)), what, start);
	if (start[0] == '0' && is_digit(start[1]))
		return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: leading zero in the %s "
				    "number", shown(s, q, sizeof(q)), what);
	for (; is_digit(**p); (*p)++) {
		unsigned d = (unsigned)(**p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: the %s number is "
					    "too large", shown(s, q, sizeof(q)), what);
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* Checks a dot-separated identifier list [start, end). Numeric pre-release identifiers
 * must not have leading zeros; build identifiers may. */
static int check_idents(const char *s, const char *start, const char *end, bool pre,
			struct lp_diag *diag)
{
	const char *what = pre ? "pre-release" : "build metadata";
	char q[LP_SEMVER_MAX];
	const char *id = start;

	for (;;) {
		const char *e = id;
		bool numeric = true;

		while (e < end && *e != '.') {
			if (!is_ident_char(*e))
				return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: invalid "
						    "character '%c' in the %s",
						    shown(s, q, sizeof(q)),
						    (*e >= 0x20 && *e < 0x7f) ? *e : '?', what);
			if (!is_digit(*e))
				numeric = false;
			e++;
		}
		if (e == id)
			return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: empty %s "
					    "identifier", shown(s, q, sizeof(q)), what);
		if (pre && numeric && id[0] == '0' && e - id > 1)
			return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: leading zero in "
					    "the numeric pre-release identifier \"%.*s\"",
					    shown(s, q, sizeof(q)), (int)(e - id), id);
		if (e == end)
			return 0;
		id = e + 1;
	}
}

int lp_semver_parse(const char *s, struct lp_semver *ret, struct lp_diag *diag)
{
	struct lp_semver v = { 0 };
	char q[LP_SEMVER_MAX];
	const char *p, *pre = NULL, *build = NULL, *end;
	size_t len;
	int r;

	if (!s)
		return lp_diag_fail(diag, -EINVAL, "no version given");
	len = strnlen(s, LP_SEMVER_MAX);
	if (len == 0)
		return lp_diag_fail(diag, -EINVAL, "empty version");
	if (len >= LP_SEMVER_MAX)
		return lp_diag_fail(diag, -EINVAL, "\"%.32s...\" is not a version: longer than %d "
				    "characters", shown(s, q, sizeof(q)), LP_SEMVER_MAX - 1);
	end = s + len;
	p = s;
	if (*p == 'v' || *p == 'V')
		return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: no leading '%c' "
				    "allowed", shown(s, q, sizeof(q)), *p);
	r = parse_core(s, &p, "major", &v.major, diag);
	if (r < 0)
		return r;
	if (*p != '.')
		return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: expected "
				    "MAJOR.MINOR.PATCH", shown(s, q, sizeof(q)));
	p++;
	r = parse_core(s, &p, "minor", &v.minor, diag);
	if (r < 0)
		return r;
	if (*p != '.')
		return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: expected "
				    "MAJOR.MINOR.PATCH", shown(s, q, sizeof(q)));
	p++;
	r = parse_core(s, &p, "patch", &v.patch, diag);
	if (r < 0)
		return r;

	if (*p == '-') {
		pre = ++p;
		while (p < end && *p != '+')
			p++;
		r = check_idents(s, pre, p, true, diag);
		if (r < 0)
			return r;
		memcpy(v.pre, pre, (size_t)(p - pre));
		v.pre[p - pre] = '\0';
	}
	if (*p == '+') {
		build = ++p;
		r = check_idents(s, build, end, false, diag);
		if (r < 0)
			return r;
		memcpy(v.build, build, (size_t)(end - build));
		v.build[end - build] = '\0';
		p = end;
	}
	if (p != end)
		return lp_diag_fail(diag, -EINVAL, "\"%s\" is not a version: unexpected '%c' after "
				    "the patch number", shown(s, q, sizeof(q)),
				    (*p >= 0x20 && *p < 0x7f) ? *p : '?');
	*ret = v;
	return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Compares one pre-release identifier each (lengths given). */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
	bool a_num = true, b_num = true;
	int c;

	for (size_t i = 0; i < an; i++)
		a_num = a_num && is_digit(a[i]);
	for (size_t i = 0; i < bn; i++)
		b_num = b_num && is_digit(b[i]);
	if (a_num && b_num) {
		/* No leading zeros: a longer number is larger, equal lengths compare as text. */
		if (an != bn)
			return an < bn ? -1 : 1;
		c = memcmp(a, b, an);
		return c < 0 ? -1 : c > 0;
	}
	if (a_num != b_num)
		return a_num ? -1 : 1; /* numeric identifiers have lower precedence */
	c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

int lp_semver_compare(const struct lp_semver *a, const struct lp_semver *b)
{
	const char *pa = a->pre, *pb = b->pre;
	int c;

	c = cmp_u64(a->major, b->major);
	if (!c)
		c = cmp_u64(a->minor, b->minor);
	if (!c)
		c = cmp_u64(a->patch, b->patch);
	if (c)
		return c;
	if (!pa[0] || !pb[0])
		return pa[0] ? -1 : pb[0] ? 1 : 0; /* a release outranks its pre-releases */
	for (;;) {
		size_t an = strcspn(pa, "."), bn = strcspn(pb, ".");

		c = cmp_ident(pa, an, pb, bn);
		if (c)
			return c;
		pa += an;
		pb += bn;
		if (!*pa || !*pb)
			return *pa ? 1 : *pb ? -1 : 0; /* the longer set is larger */
		pa++;
		pb++;
	}
}

int lp_semver_compare_str(const char *a, const char *b, int *ret_cmp)
{
	struct lp_semver va, vb;

	if (lp_semver_parse(a, &va, NULL) < 0 || lp_semver_parse(b, &vb, NULL) < 0)
		return -EINVAL;
	*ret_cmp = lp_semver_compare(&va, &vb);
	return 0;
}

const char *lp_semver_format(const struct lp_semver *v, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	snprintf(buf, len, "%ju.%ju.%ju%s%s%s%s", (uintmax_t)v->major, (uintmax_t)v->minor,
		 (uintmax_t)v->patch, v->pre[0] ? "-" : "", v->pre, v->build[0] ? "+" : "",
		 v->build);
	return buf;
}

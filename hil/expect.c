/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline-hil/expect.h"
#include "internal.h"
#include "loopline/clock.h"

struct lp_hil_patterns {
	size_t n;
	regex_t *rx;
	char **src;
};

/* Bytes not yet looked at; a wait admits them into the window in steps of at most half
 * a window, trying the patterns after each step, so no byte slides out unmatched. */
#define EXPECT_PENDING_MAX (4u * 1024u * 1024u)

struct lp_hil_expect {
	uint8_t *win;
	size_t cap, len;
	uint8_t *pend;
	size_t pend_len, pend_alloc;
	bool bol;          /* the byte before win[0] was a newline (or there was none) */
	/* capture */
	bool capturing;
	uint8_t *cap_buf;
	size_t cap_len, cap_alloc, cap_max;
	bool cap_truncated;
};

int lp_hil_patterns_new(const char *const *res, size_t n, struct lp_hil_patterns **ret,
			struct lp_diag *diag)
{
	struct lp_hil_patterns *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->rx = calloc(n ? n : 1, sizeof(*p->rx));
	p->src = calloc(n + 1, sizeof(*p->src));
	if (!p->rx || !p->src) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char why[160];
		int e;

		if (lp_hil_regex_check(res[i], why, sizeof(why)) < 0) {
			r = lp_diag_fail(diag, -EINVAL, "pattern \"%s\": %s", res[i], why);
			goto fail;
		}
		e = regcomp(&p->rx[i], res[i], REG_EXTENDED | REG_NEWLINE);
		if (e != 0) {
			char msg[160];

			regerror(e, &p->rx[i], msg, sizeof(msg));
			r = lp_diag_fail(diag, -EINVAL, "pattern \"%s\": %s", res[i], msg);
			goto fail;
		}
		p->n = i + 1;
		p->src[i] = strdup(res[i]);
		if (!p->src[i]) {
			r = -ENOMEM;
			goto fail;
		}
	}
	*ret = p;
	return 0;
fail:
	lp_hil_patterns_free(p);
	return r;
}

void lp_hil_patterns_free(struct lp_hil_patterns *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		regfree(&p->rx[i]);
	free(p->rx);
	lp_hil_strv_free(p->src);
	free(p);
}

size_t lp_hil_patterns_count(const struct lp_hil_patterns *p)
{
	return p ? p->n : 0;
}

const char *lp_hil_patterns_source(const struct lp_hil_patterns *p, size_t i)
{
	return p && i < p->n ? p->src[i] : NULL;
}

int lp_hil_expect_new(size_t window, struct lp_hil_expect **ret)
{
	struct lp_hil_expect *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->cap = window ? window : LP_HIL_EXPECT_WINDOW;
	if (e->cap < 64)
		e->cap = 64;
	e->win = malloc(e->cap + 1); /* + a NUL: sanitizers' regexec reads to one */
	if (!e->win) {
		free(e);
		return -ENOMEM;
	}
	e->bol = true;
	*ret = e;
	return 0;
}

void lp_hil_expect_free(struct lp_hil_expect *e)
{
	if (!e)
		return;
	free(e->win);
	free(e->pend);
	free(e->cap_buf);
	free(e);
}

static void capture_append(struct lp_hil_expect *e, const uint8_t *buf, size_t len)
{
	if (!e->capturing || len == 0)
		return;
	if (e->cap_len + len > e->cap_max) {
		e->cap_truncated = true;
		len = e->cap_max - e->cap_len;
		if (len == 0)
			return;
	}
	if (e->cap_len + len + 1 > e->cap_alloc) {
		size_t n = e->cap_alloc ? e->cap_alloc : 4096;
		uint8_t *nb;

		while (n < e->cap_len + len + 1)
			n *= 2;
		nb = realloc(e->cap_buf, n);
		if (!nb) {
			e->cap_truncated = true;
			return;
		}
		e->cap_buf = nb;
		e->cap_alloc = n;
	}
	memcpy(e->cap_buf + e->cap_len, buf, len);
	e->cap_len += len;
}

/* Drops the first n bytes of the window (to the capture when capturing). */
static void consume(struct lp_hil_expect *e, size_t n)
{
	if (n == 0)
		return;
	capture_append(e, e->win, n);
	e->bol = e->win[n - 1] == '\n';
	memmove(e->win, e->win + n, e->len - n);
	e->len -= n;
}

/* Moves pending bytes into the window (sliding it when full). Returns true when any
 * byte moved. */
static bool admit(struct lp_hil_expect *e)
{
	size_t room, take;

	if (e->pend_len == 0)
		return false;
	if (e->len == e->cap)
		consume(e, e->len - e->cap / 2); /* keep the newest half for matches */
	room = e->cap - e->len;
	take = e->pend_len < room ? e->pend_len : room;
	memcpy(e->win + e->len, e->pend, take);
	e->len += take;
	memmove(e->pend, e->pend + take, e->pend_len - take);
	e->pend_len -= take;
	return true;
}

void lp_hil_expect_feed(void *userdata, const uint8_t *buf, size_t len)
{
	struct lp_hil_expect *e = userdata;

	/* nobody is waiting and too much piled up: push old bytes through unmatched */
	while (e->pend_len > 0 && e->pend_len + len > EXPECT_PENDING_MAX)
		admit(e);
	while (len > EXPECT_PENDING_MAX) {
		size_t take = e->cap / 2;

		if (e->len + take > e->cap)
			consume(e, e->len + take - e->cap);
		memcpy(e->win + e->len, buf, take);
		e->len += take;
		buf += take;
		len -= take;
	}
	if (e->pend_len + len > e->pend_alloc) {
		size_t n = e->pend_alloc ? e->pend_alloc : 16384;
		uint8_t *nb;

		while (n < e->pend_len + len)
			n *= 2;
		nb = realloc(e->pend, n);
		if (!nb) {
			/* out of memory: the window still takes the bytes, unmatched */
			while (len > 0) {
				size_t take = len < e->cap / 2 ? len : e->cap / 2;

				if (e->len + take > e->cap)
					consume(e, e->len + take - e->cap);
				memcpy(e->win + e->len, buf, take);
				e->len += take;
				buf += take;
				len -= take;
			}
			return;
		}
		e->pend = nb;
		e->pend_alloc = n;
	}
	memcpy(e->pend + e->pend_len, buf, len);
	e->pend_len += len;
}

void lp_hil_expect_flush(struct lp_hil_expect *e)
{
	if (!e)
		return;
	consume(e, e->len);
	while (admit(e))
		consume(e, e->len);
}

/* Leftmost match of any pattern in the set; returns true with start, end and index. */
static bool search(struct lp_hil_expect *e, const struct lp_hil_patterns *p, size_t *ret_so,
		   size_t *ret_eo, size_t *ret_idx)
{
	bool found = false;

	e->win[e->len] = '\0'; /* REG_STARTEND bounds the match; the NUL is for interceptors */
	for (size_t i = 0; p && i < p->n; i++) {
		regmatch_t m[1];

		m[0].rm_so = 0;
		m[0].rm_eo = (regoff_t)e->len;
		if (regexec(&p->rx[i], (const char *)e->win, 1, m,
			    REG_STARTEND | (e->bol ? 0 : REG_NOTBOL)) != 0)
			continue;
		if (!found || (size_t)m[0].rm_so < *ret_so) {
			*ret_so = (size_t)m[0].rm_so;
			*ret_eo = (size_t)m[0].rm_eo;
			*ret_idx = i;
			found = true;
		}
	}
	return found;
}

static int try_match(struct lp_hil_expect *e, const struct lp_hil_patterns *want,
		     const struct lp_hil_patterns *fail, struct lp_hil_match *ret_match)
{
	size_t wso = 0, weo = 0, wi = 0, fso = 0, feo = 0, fi = 0, so, eo, n;
	bool w = search(e, want, &wso, &weo, &wi);
	bool f = search(e, fail, &fso, &feo, &fi);
	bool failure;

	if (!w && !f)
		return -EAGAIN;
	failure = f && (!w || fso < wso);
	so = failure ? fso : wso;
	eo = failure ? feo : weo;
	if (eo == so && eo < e->len)
		eo++; /* an empty match still makes progress */
	if (ret_match) {
		ret_match->failure = failure;
		ret_match->index = failure ? fi : wi;
		ret_match->len = eo - so;
		n = eo - so < LP_HIL_MATCH_TEXT_MAX - 1 ? eo - so : LP_HIL_MATCH_TEXT_MAX - 1;
		memcpy(ret_match->text, e->win + so, n);
		ret_match->text[n] = '\0';
	}
	consume(e, so);
	/* the match itself is not part of the captured output */
	{
		bool was = e->capturing;

		e->capturing = false;
		consume(e, eo - so);
		e->capturing = was;
	}
	return failure ? -ECANCELED : 0;
}

int lp_hil_expect_wait(struct lp_hil_expect *e, struct lp_hil_console *c,
		       const struct lp_hil_patterns *want, const struct lp_hil_patterns *fail,
		       unsigned timeout_ms, struct lp_hil_match *ret_match)
{
	uint64_t deadline = lp_clock_deadline_ms(timeout_ms);

	for (;;) {
		int r = try_match(e, want, fail, ret_match);
		int left;

		if (r != -EAGAIN)
			return r;
		if (admit(e))
			continue;
		left = lp_clock_ms_left(deadline);
		if (left == 0 || !c)
			return -ETIMEDOUT;
		r = lp_hil_console_pump(c, left);
		if (r < 0)
			return r;
	}
}

int lp_hil_expect_capture_start(struct lp_hil_expect *e, size_t max)
{
	free(e->cap_buf);
	e->cap_buf = NULL;
	e->cap_len = e->cap_alloc = 0;
	e->cap_max = max;
	e->cap_truncated = false;
	e->capturing = true;
	return 0;
}

void lp_hil_expect_capture_take(struct lp_hil_expect *e, uint8_t **ret_buf, size_t *ret_len,
				bool *ret_truncated)
{
	if (!e->cap_buf) {
		e->cap_buf = malloc(1);
		e->cap_alloc = e->cap_buf ? 1 : 0;
	}
	if (e->cap_buf)
		e->cap_buf[e->cap_len] = '\0';
	*ret_buf = e->cap_buf;
	*ret_len = e->cap_buf ? e->cap_len : 0;
	if (ret_truncated)
		*ret_truncated = e->cap_truncated || !e->cap_buf;
	e->cap_buf = NULL;
	e->cap_len = e->cap_alloc = 0;
	e->capturing = false;
}

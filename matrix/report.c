/* SPDX-License-Identifier: MIT */
/*
 * A run loaded for the reports and the gate (results, the expected cases without one,
 * the previous run's results, attempts, components), what the formats share (counts,
 * "new" marks, durations and times as people read them) and the bounded output buffer
 * reports are built in before they are written atomically.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopline/fs.h"
#include "matrix.h"

/* ---- the output buffer ---- */

static bool buf_reserve(struct mx_buf *b, size_t more)
{
	size_t need, cap;
	char *nd;

	if (b->err)
		return false;
	if (more > MX_REPORT_MAX || b->len + more + 1 > MX_REPORT_MAX) {
		b->err = -EFBIG;
		return false;
	}
	need = b->len + more + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > MX_REPORT_MAX)
		cap = MX_REPORT_MAX;
	nd = realloc(b->data, cap);
	if (!nd) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = nd;
	b->cap = cap;
	return true;
}

void mx_buf_add(struct mx_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void mx_buf_puts(struct mx_buf *b, const char *s)
{
	mx_buf_add(b, s, strlen(s));
}

void mx_buf_printf(struct mx_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (!b->err)
			b->err = -EINVAL;
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void mx_buf_free(struct mx_buf *b)
{
	if (!b)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int mx_buf_write(const struct mx_buf *b, const char *path)
{
	if (b->err)
		return b->err;
	return lp_fs_write_atomic(path, b->data ? b->data : "", b->len, 0644, 0);
}

/* ---- formatting ---- */

const char *mx_format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, len, "%lld ms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm %02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
	else
		snprintf(buf, len, "%lldh %02lldm", (long long)(ms / 3600000),
			 (long long)(ms / 60000 % 60));
	return buf;
}

const char *mx_format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* ---- loading ---- */

void mx_report_free(struct mx_report *rep)
{
	if (!rep)
		return;
	mx_results_free(rep->results, rep->n_results);
	mx_results_free(rep->previous, rep->n_previous);
	free(rep->attempts);
	free(rep->components);
	free(rep);
}

static int append_missing(struct mx_report *rep, struct mx_result *missing, size_t n)
{
	struct mx_result *v;

	if (n == 0)
		return 0;
	v = realloc(rep->results, (rep->n_results + n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v + rep->n_results, missing, n * sizeof(*v));
	rep->results = v;
	rep->n_results += n;
	return 0;
}

static int resolve_run_dir(struct mx_db *db, struct mx_report *rep)
{
	if (!rep->run.dir[0] || rep->run.dir[0] == '/') {
		snprintf(rep->run_dir, sizeof(rep->run_dir), "%s", rep->run.dir);
		return 0;
	}
	return lp_fs_path_join(rep->run_dir, sizeof(rep->run_dir), mx_db_dir(db), rep->run.dir);
}

int mx_report_load(struct mx_db *db, int64_t run_id, struct mx_report **ret, struct lp_diag *diag)
{
	struct mx_report *rep = calloc(1, sizeof(*rep));
	struct mx_result *missing = NULL;
	size_t n_missing = 0;
	int r;

	if (!rep)
		return -ENOMEM;
	r = mx_db_run_get(db, run_id, &rep->run);
	if (r >= 0)
		r = mx_db_results(db, rep->run.id, &rep->results, &rep->n_results);
	if (r >= 0)
		r = mx_db_missing(db, rep->run.id, &missing, &n_missing);
	if (r >= 0) {
		r = append_missing(rep, missing, n_missing);
		if (r >= 0)
			free(missing); /* the entries moved into rep->results */
		else
			mx_results_free(missing, n_missing);
	}
	if (r >= 0 && rep->run.previous_id > 0)
		r = mx_db_results(db, rep->run.previous_id, &rep->previous, &rep->n_previous);
	if (r >= 0)
		r = mx_db_attempts(db, rep->run.id, NULL, NULL, &rep->attempts, &rep->n_attempts);
	if (r >= 0)
		r = mx_db_components(db, rep->run.id, &rep->components, &rep->n_components);
	if (r >= 0 && resolve_run_dir(db, rep) < 0)
		r = lp_diag_fail(diag, -ENAMETOOLONG, "run directory path too long");
	else if (r < 0 && r != -ENOMEM)
		lp_diag_fail(diag, r, "%s", mx_db_diag(db)->msg);
	if (r < 0) {
		mx_report_free(rep);
		return r;
	}
	*ret = rep;
	return 0;
}

/* ---- questions the formats ask ---- */

const struct mx_result *mx_report_previous(const struct mx_report *rep, const struct mx_result *r)
{
	for (size_t i = 0; i < rep->n_previous; i++)
		if (strcmp(rep->previous[i].scenario, r->scenario) == 0 &&
		    strcmp(rep->previous[i].combo_key, r->combo_key) == 0)
			return &rep->previous[i];
	return NULL;
}

bool mx_report_is_new(const struct mx_report *rep, const struct mx_result *r)
{
	const struct mx_result *p;

	if (r->missing || (r->status != MX_STATUS_FAIL && r->status != MX_STATUS_ERROR &&
			   r->status != MX_STATUS_FLAKY))
		return false;
	p = mx_report_previous(rep, r);
	if (!p)
		return false;
	switch (r->status) {
	case MX_STATUS_FAIL:
		return p->status != MX_STATUS_FAIL;
	case MX_STATUS_ERROR:
		return p->status == MX_STATUS_PASS || p->status == MX_STATUS_FLAKY;
	default: /* flaky */
		return p->status == MX_STATUS_PASS;
	}
}

const struct mx_attempt *mx_report_attempts(const struct mx_report *rep, const struct mx_result *r,
					    size_t *ret_n)
{
	const struct mx_attempt *first = NULL;
	size_t n = 0;

	for (size_t i = 0; i < rep->n_attempts; i++) {
		const struct mx_attempt *a = &rep->attempts[i];

		if (strcmp(a->combo_key, r->combo_key) == 0 && strcmp(a->scenario, r->scenario) == 0) {
			if (!first)
				first = a;
			n++;
		} else if (first) {
			break; /* attempts are ordered by case */
		}
	}
	*ret_n = n;
	return first;
}

void mx_report_count(const struct mx_report *rep, struct mx_counts *ret)
{
	struct mx_counts c;
	int64_t end = rep->run.finished_ms;

	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < rep->n_results; i++) {
		const struct mx_result *r = &rep->results[i];
		unsigned s = (unsigned)r->status < MX_STATUS_COUNT ? (unsigned)r->status : MX_STATUS_ERROR;

		c.total++;
		c.status[s]++;
		if ((unsigned)r->class < MX_CLASS_COUNT)
			c.class[r->class]++;
		if (r->missing)
			c.missing++;
		if (r->required) {
			c.required++;
			c.required_status[s]++;
		}
		if (!rep->run.finished_ms && r->started_ms + r->duration_ms > end)
			end = r->started_ms + r->duration_ms;
	}
	c.duration_ms = end > rep->run.started_ms ? end - rep->run.started_ms : 0;
	*ret = c;
}

/* ---- markup escaping (XML 1.0 and HTML) ---- */

/* The next code point of s (UTF-8), or -1 for an invalid sequence (then *len = 1). */
static long utf8_next(const unsigned char *s, size_t *len)
{
	long cp;
	size_t n, i;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		*len = 1;
		return -1;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*len = 1;
			return -1;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*len = n;
	/* overlong forms, surrogates and values past Unicode are invalid */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
		*len = 1;
		return -1;
	}
	return cp;
}

/* XML 1.0's Char production. */
static bool xml_char(long cp)
{
	return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
	       (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

void mx_buf_escape(struct mx_buf *b, const char *text, bool attr)
{
	const unsigned char *s = (const unsigned char *)text;

	while (*s) {
		size_t n;
		long cp = utf8_next(s, &n);

		if (cp < 0)
			mx_buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
		else if (!xml_char(cp))
			; /* forbidden in XML 1.0 (NUL, ESC, other controls, U+FFFE/FFFF): dropped */
		else if (cp == '&')
			mx_buf_puts(b, "&amp;");
		else if (cp == '<')
			mx_buf_puts(b, "&lt;");
		else if (cp == '>')
			mx_buf_puts(b, "&gt;");
		else if (cp == '"')
			mx_buf_puts(b, "&quot;");
		else if (cp == '\'')
			mx_buf_puts(b, "&#39;");
		else if (attr && (cp == '\n' || cp == '\r' || cp == '\t'))
			mx_buf_printf(b, "&#%ld;", cp); /* kept through attribute normalisation */
		else
			mx_buf_add(b, (const char *)s, n);
		s += n;
	}
}

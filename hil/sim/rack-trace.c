/* SPDX-License-Identifier: MIT */
/* PL061 trace lines, the stderr line splitter and the relay decision (rack-trace.h). */
#include <errno.h>
#include <string.h>

#include "rack-trace.h"

#define HEX_DIGITS_MAX 8 /* QEMU prints the registers as 32-bit "0x%x" */
#define DEC_DIGITS_MAX 3
#define EXCERPT_MAX 24

struct scan {
	const char *p;
	size_t left;
	const char *what; /* "pl061_update" or "pl061_set_output", for messages */
	struct lp_diag *diag;
};

/* What is left of the line, shortened and printable, for a message. */
static const char *excerpt(const struct scan *s, char *buf, size_t len)
{
	size_t n = s->left < EXCERPT_MAX ? s->left : EXCERPT_MAX;
	size_t i;

	if (s->left == 0)
		return "end of line";
	buf[0] = '\'';
	for (i = 0; i < n && i + 6 < len; i++)
		buf[i + 1] = s->p[i] >= 0x20 && s->p[i] < 0x7f ? s->p[i] : '?';
	memcpy(buf + i + 1, s->left > i ? "...'" : "'", s->left > i ? 5 : 2);
	return buf;
}

static bool take(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->left < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	s->left -= n;
	return true;
}

/* " NAME " before a field's value. */
static int field(struct scan *s, const char *name)
{
	char ex[EXCERPT_MAX + 8];
	struct scan t = *s;

	size_t n = strlen(name);

	if (take(&t, " ") && take(&t, name) && take(&t, " ")) {
		*s = t;
		return 0;
	}
	/* the line ends inside " NAME " */
	if (s->left == 0 || (s->left < n + 2 && s->p[0] == ' ' &&
			     memcmp(s->p + 1, name, s->left - 1 < n ? s->left - 1 : n) == 0))
		return lp_diag_fail(s->diag, -EBADMSG, "%s: the line ends %s '%s'", s->what,
				    s->left > n ? "after" : "before", name);
	return lp_diag_fail(s->diag, -EBADMSG, "%s: expected ' %s ' at %s", s->what, name,
			    excerpt(s, ex, sizeof(ex)));
}

static int digit_value(char c, bool hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (hex && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A number that ends the line or is followed by a space; at most max. */
static int number(struct scan *s, const char *name, bool hex, unsigned max, unsigned *ret)
{
	unsigned limit = hex ? HEX_DIGITS_MAX : DEC_DIGITS_MAX;
	char ex[EXCERPT_MAX + 8];
	unsigned long v = 0;
	size_t n = 0;
	int d;

	if (hex && !take(s, "0x"))
		return lp_diag_fail(s->diag, -EBADMSG, "%s: %s: expected 0x and hex digits at %s",
				    s->what, name, excerpt(s, ex, sizeof(ex)));
	while (n < s->left && (d = digit_value(s->p[n], hex)) >= 0) {
		if (++n > limit)
			return lp_diag_fail(s->diag, -EBADMSG, "%s: %s: more than %u digits", s->what,
					    name, limit);
		v = v * (hex ? 16 : 10) + (unsigned)d;
	}
	if (n == 0)
		return lp_diag_fail(s->diag, -EBADMSG, "%s: %s: expected %s at %s", s->what, name,
				    hex ? "hex digits after 0x" : "a decimal number",
				    excerpt(s, ex, sizeof(ex)));
	s->p += n;
	s->left -= n;
	if (s->left > 0 && s->p[0] != ' ')
		return lp_diag_fail(s->diag, -EBADMSG, "%s: %s: unexpected %s after the value",
				    s->what, name, excerpt(s, ex, sizeof(ex)));
	if (v > max)
		return lp_diag_fail(s->diag, -EBADMSG, hex ? "%s: %s: 0x%lx is more than 0x%x"
							   : "%s: %s: %lu is more than %u",
				    s->what, name, v, max);
	*ret = (unsigned)v;
	return 0;
}

/* The device id: 1-255 printable bytes up to the next space. */
static int device(struct scan *s, char *out)
{
	size_t n = 0;

	while (n < s->left && s->p[n] > 0x20 && s->p[n] < 0x7f)
		n++;
	if (n == 0)
		return lp_diag_fail(s->diag, -EBADMSG, "%s: missing device id", s->what);
	if (n >= RACK_TRACE_DEVICE_MAX)
		return lp_diag_fail(s->diag, -EBADMSG, "%s: device id longer than %d bytes",
				    s->what, RACK_TRACE_DEVICE_MAX - 1);
	memcpy(out, s->p, n);
	out[n] = '\0';
	s->p += n;
	s->left -= n;
	return 0;
}

static int parse_update(struct scan *s, struct rack_trace *t)
{
	static const char *const names[] = { "GPIODIR", "GPIODATA", "pullups", "floating" };
	uint8_t *const fields[] = { &t->dir, &t->data, &t->pullups, &t->floating };
	unsigned v;
	int r;

	t->kind = RACK_TRACE_UPDATE;
	if ((r = device(s, t->device)) < 0)
		return r;
	for (size_t i = 0; i < LP_ARRAY_SIZE(names); i++) {
		if ((r = field(s, names[i])) < 0 || (r = number(s, names[i], true, 0xff, &v)) < 0)
			return r;
		*fields[i] = (uint8_t)v;
	}
	return 0;
}

static int parse_set_output(struct scan *s, struct rack_trace *t)
{
	unsigned line, level;
	int r;

	t->kind = RACK_TRACE_SET_OUTPUT;
	if ((r = device(s, t->device)) < 0 || (r = field(s, "setting")) < 0)
		return r;
	if (!take(s, "output ")) {
		char ex[EXCERPT_MAX + 8];

		return lp_diag_fail(s->diag, -EBADMSG, "%s: expected 'output ' at %s", s->what,
				    excerpt(s, ex, sizeof(ex)));
	}
	if ((r = number(s, "line", false, RACK_GPIO_LINES - 1, &line)) < 0 ||
	    (r = field(s, "to")) < 0 || (r = number(s, "level", false, 1, &level)) < 0)
		return r;
	t->line = (uint8_t)line;
	t->level = (uint8_t)level;
	return 0;
}

int rack_trace_parse(const char *text, size_t len, struct rack_trace *ret, struct lp_diag *diag)
{
	struct scan s = { .p = text, .left = len, .diag = diag };
	struct rack_trace t;
	char ex[EXCERPT_MAX + 8];
	int r;

	memset(&t, 0, sizeof(t));
	if (take(&s, "pl061_update ")) {
		s.what = "pl061_update";
		r = parse_update(&s, &t);
	} else if (take(&s, "pl061_set_output ")) {
		s.what = "pl061_set_output";
		r = parse_set_output(&s, &t);
	} else {
		return 0;
	}
	if (r < 0)
		return r;
	if (s.left > 0)
		return lp_diag_fail(diag, -EBADMSG, "%s: trailing bytes: %s", s.what,
				    excerpt(&s, ex, sizeof(ex)));
	*ret = t;
	return 1;
}

bool rack_relay_on(uint8_t dir, uint8_t data, unsigned line, bool active_low)
{
	if (line >= RACK_GPIO_LINES || !(dir & (1u << line)))
		return false;
	return !!(data & (1u << line)) != active_low;
}

void rack_line_feed(struct rack_line_reader *r, const char *data, size_t n, rack_line_fn *fn,
		    void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			if (!r->overlong)
				fn(ctx, r->buf, r->len, false);
			r->len = 0;
			r->overlong = false;
		} else if (r->overlong) {
			continue;
		} else if (r->len == sizeof(r->buf)) {
			fn(ctx, r->buf, r->len, true);
			r->len = 0;
			r->overlong = true;
		} else {
			r->buf[r->len++] = data[i];
		}
	}
}

void rack_line_flush(struct rack_line_reader *r, rack_line_fn *fn, void *ctx)
{
	if (r->len > 0 && !r->overlong)
		fn(ctx, r->buf, r->len, false);
	r->len = 0;
	r->overlong = false;
}

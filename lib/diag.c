/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "loopline/diag.h"

void lp_diag_clear(struct lp_diag *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
}

void lp_diag_set_file(struct lp_diag *d, const char *file)
{
	if (d)
		snprintf(d->file, sizeof(d->file), "%s", file ? file : "");
}

void lp_diag_set_pos(struct lp_diag *d, unsigned line, unsigned column)
{
	if (d) {
		d->line = line;
		d->column = column;
	}
}

void lp_diag_set_path(struct lp_diag *d, const char *path)
{
	if (d)
		snprintf(d->path, sizeof(d->path), "%s", path ? path : "");
}

int lp_diag_fail(struct lp_diag *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

int lp_diag_fail_at(struct lp_diag *d, int err, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		lp_diag_set_path(d, path);
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

const char *lp_diag_format(const struct lp_diag *d, char *buf, size_t len)
{
	size_t n = 0;

#define APPEND(...)                                                        \
	do {                                                               \
		if (n < len) {                                             \
			int w = snprintf(buf + n, len - n, __VA_ARGS__);   \
			if (w > 0)                                         \
				n += (size_t)w;                            \
		}                                                          \
	} while (0)

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (!d)
		return buf;
	if (d->file[0]) {
		APPEND("%s", d->file);
		if (d->line)
			APPEND(":%u", d->line);
		if (d->line && d->column)
			APPEND(":%u", d->column);
		APPEND(": ");
	} else if (d->line) {
		APPEND("line %u", d->line);
		if (d->column)
			APPEND(", column %u", d->column);
		APPEND(": ");
	}
	if (d->path[0])
		APPEND("%s: ", d->path);
	APPEND("%s", d->msg[0] ? d->msg : "unknown error");
#undef APPEND
	return buf;
}

/* SPDX-License-Identifier: MIT */
/* DIR/events.log: one line per event, for tests to wait on (rack.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "loopline/clock.h"
#include "loopline/io.h"
#include "loopline/log.h"
#include "rack.h"

#define EVENT_MAX 1024

void rack_event(struct rack *r, const char *fmt, ...)
{
	uint64_t ms = lp_clock_mono_ms() - r->start_ms;
	char line[EVENT_MAX];
	va_list ap;
	int n, m;

	n = snprintf(line, sizeof(line), "%llu.%03llu ", (unsigned long long)(ms / 1000),
		     (unsigned long long)(ms % 1000));
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* cut, still one line */
	log_info("%.*s", n, line);
	line[n++] = '\n';
	rack_log_append(r->events_fd, "events.log", line, (size_t)n);
}

void rack_log_append(int fd, const char *name, const void *data, size_t len)
{
	static bool warned; /* the first failure only: a full disk would repeat it per read */
	int r;

	if (fd < 0)
		return;
	r = lp_io_write_all(fd, data, len);
	if (r < 0 && !warned) {
		log_warn("%s: cannot write: %s (further write errors are not reported)", name,
			 strerror(-r));
		warned = true;
	}
}

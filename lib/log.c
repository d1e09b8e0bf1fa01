/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loopline/log.h"

static const char *log_ident = "loopline";
static enum lp_log_level log_level = LP_LOG_INFO;
static int log_timestamps;
static int log_journal = -1; /* -1: not yet checked */

void lp_log_set_ident(const char *ident)
{
	log_ident = ident ? ident : "loopline";
}

void lp_log_set_level(enum lp_log_level level)
{
	log_level = level;
}

enum lp_log_level lp_log_get_level(void)
{
	return log_level;
}

void lp_log_set_timestamps(int on)
{
	log_timestamps = on;
}

int lp_log_level_parse(const char *s, enum lp_log_level *ret_level)
{
	static const char *const names[] = { "debug", "info", "warn", "error", "quiet" };

	for (size_t i = 0; i < LP_ARRAY_SIZE(names); i++) {
		if (s && strcmp(s, names[i]) == 0) {
			*ret_level = (enum lp_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected to stderr; it
 * stays in the environment of children whose stderr goes elsewhere, so compare. */
static int log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!e || fstat(STDERR_FILENO, &st) < 0)
		return 0;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno || end == e || *end != ':')
		return 0;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (errno || end == e || *end != '\0')
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void lp_log_writev(enum lp_log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { 7, 6, 4, 3 };
	static const char *const tags[] = { "debug: ", "", "warning: ", "error: " };
	char msg[2048];
	char ts[40] = "";
	int saved = errno;

	if (level < log_level || level >= LP_LOG_QUIET)
		return;
	if (log_journal < 0)
		log_journal = log_stderr_is_journal();

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_timestamps) {
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ ", now.tv_nsec / 1000000);
	}
	if (log_journal)
		fprintf(stderr, "<%d>%s%s\n", prio[level], ts, msg);
	else
		fprintf(stderr, "%s%s: %s%s\n", ts, log_ident, tags[level], msg);
	errno = saved;
}

void lp_log_write(enum lp_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lp_log_writev(level, fmt, ap);
	va_end(ap);
}

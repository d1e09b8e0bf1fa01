/* SPDX-License-Identifier: MIT */
/*
 * One logging module for every program. Messages go to stderr: plain on a terminal,
 * with a syslog priority prefix ("<3>…") when stderr is the journal (JOURNAL_STREAM
 * set), so systemd files them at the right level. The library itself logs only at
 * debug level; programs log where they handle an error.
 */
#pragma once

#include <stdarg.h>
#include "loopline/common.h"

enum lp_log_level {
	LP_LOG_DEBUG = 0,
	LP_LOG_INFO,
	LP_LOG_WARN,
	LP_LOG_ERROR,
	LP_LOG_QUIET, /* nothing is printed */
};

/* Program name shown before each message; the string must outlive the program. */
LP_EXPORT void lp_log_set_ident(const char *ident);
LP_EXPORT void lp_log_set_level(enum lp_log_level level);
LP_EXPORT enum lp_log_level lp_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "quiet"; returns -EINVAL otherwise. */
LP_EXPORT int lp_log_level_parse(const char *s, enum lp_log_level *ret_level);
/* Prefix each line with an ISO-8601 UTC timestamp (off by default). */
LP_EXPORT void lp_log_set_timestamps(int on);

LP_EXPORT void lp_log_write(enum lp_log_level level, const char *fmt, ...) LP_PRINTF(2, 3);
LP_EXPORT void lp_log_writev(enum lp_log_level level, const char *fmt, va_list ap) LP_PRINTF(2, 0);

#define log_debug(...) lp_log_write(LP_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  lp_log_write(LP_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  lp_log_write(LP_LOG_WARN, __VA_ARGS__)
#define log_error(...) lp_log_write(LP_LOG_ERROR, __VA_ARGS__)

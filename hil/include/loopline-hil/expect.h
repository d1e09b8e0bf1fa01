/* SPDX-License-Identifier: MIT */
/*
 * Expect engine: POSIX extended regular expressions (compiled with REG_NEWLINE, so ^ and
 * $ work per line) matched against a bounded sliding window of console output.
 *
 * Bytes enter the window through lp_hil_expect_feed (a console sink). A wait matches a
 * set of wanted patterns and a set of failure patterns at once; the match that starts
 * earliest in the stream wins (ties: wanted before failure, then list order), and
 * everything up to the end of the match is consumed. When the window is full the oldest
 * bytes slide out, so a match can be at most LP_HIL_EXPECT_WINDOW/2 bytes long.
 *
 * A capture records every byte consumed before a match (including bytes that slid out
 * of the window), up to a maximum: the shell runner recovers exact command output this
 * way without keeping megabytes in the matching window.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loopline/diag.h"
#include "loopline-hil/console.h"

#define LP_HIL_EXPECT_WINDOW (64u * 1024u)
#define LP_HIL_MATCH_TEXT_MAX 1024

struct lp_hil_expect;
struct lp_hil_patterns;

/* Compiles n EREs. -EINVAL with the pattern and regerror text in diag. */
int lp_hil_patterns_new(const char *const *res, size_t n, struct lp_hil_patterns **ret,
			struct lp_diag *diag);
void lp_hil_patterns_free(struct lp_hil_patterns *p);
size_t lp_hil_patterns_count(const struct lp_hil_patterns *p);
const char *lp_hil_patterns_source(const struct lp_hil_patterns *p, size_t i);

/* window = 0 means LP_HIL_EXPECT_WINDOW. */
int lp_hil_expect_new(size_t window, struct lp_hil_expect **ret);
void lp_hil_expect_free(struct lp_hil_expect *e);
/* Console sink: appends to the window (and the capture). userdata is the engine. */
void lp_hil_expect_feed(void *userdata, const uint8_t *buf, size_t len);
/* Forgets everything in the window. */
void lp_hil_expect_flush(struct lp_hil_expect *e);

struct lp_hil_match {
	bool failure;                       /* a failure pattern matched */
	size_t index;                       /* which pattern of its set */
	char text[LP_HIL_MATCH_TEXT_MAX];   /* the matched bytes (truncated, NUL-ended) */
	size_t len;                         /* full length of the match */
};

/*
 * Pumps console c (may be NULL when bytes are fed by other means) until a pattern of
 * want or fail (either may be NULL) matches, or timeout_ms passes.
 * Returns 0 (match of want), -ECANCELED (a failure pattern matched; see ret_match),
 * -ETIMEDOUT, or a console error. ret_match may be NULL.
 */
int lp_hil_expect_wait(struct lp_hil_expect *e, struct lp_hil_console *c,
		       const struct lp_hil_patterns *want, const struct lp_hil_patterns *fail,
		       unsigned timeout_ms, struct lp_hil_match *ret_match);

/* Starts recording consumed bytes (at most max; more sets the truncated flag). */
int lp_hil_expect_capture_start(struct lp_hil_expect *e, size_t max);
/* Stops recording and hands the buffer over (NUL-terminated, caller frees). */
void lp_hil_expect_capture_take(struct lp_hil_expect *e, uint8_t **ret_buf, size_t *ret_len,
				bool *ret_truncated);

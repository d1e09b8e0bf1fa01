/* SPDX-License-Identifier: MIT */
/*
 * What loopline-rack-sim reads from the controller QEMU's stderr: the PL061 GPIO trace
 * lines (-trace pl061_update -trace pl061_set_output), a bounded line splitter, and the
 * relay decision. The controller guest is outside input: lines are parsed strictly and
 * nothing here can crash on them. Nothing here logs or allocates.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loopline/diag.h"

#define RACK_TRACE_LINE_MAX 4096   /* longer stderr lines are cut here (not a trace) */
#define RACK_TRACE_DEVICE_MAX 256  /* device id ("/machine/unattached/device[7]") + NUL */
#define RACK_GPIO_LINES 8          /* the PL061's lines 0..7 */
#define RACK_GPIO_POWER_KEY 3      /* virt's gpio-keys power button: no board there */

enum rack_trace_kind {
	RACK_TRACE_OTHER = 0,
	RACK_TRACE_UPDATE,     /* pl061_update: the registers after a change */
	RACK_TRACE_SET_OUTPUT, /* pl061_set_output: one output pin's new level */
};

struct rack_trace {
	enum rack_trace_kind kind;
	char device[RACK_TRACE_DEVICE_MAX]; /* QOM path of the PL061 */
	/* RACK_TRACE_UPDATE: GPIODIR (bit set: the guest drives the line), GPIODATA */
	uint8_t dir, data, pullups, floating;
	/* RACK_TRACE_SET_OUTPUT */
	uint8_t line, level;
};

/*
 * Parses one stderr line (text, len bytes, without its newline; need not be
 * NUL-terminated, may hold any bytes):
 *   pl061_update DEVICE GPIODIR 0xH GPIODATA 0xH pullups 0xH floating 0xH
 *   pl061_set_output DEVICE setting output N to L
 * Returns 1 with *ret filled for one of these, 0 for any other line (*ret untouched),
 * or -EBADMSG with a message in diag for a line that starts with "pl061_update " or
 * "pl061_set_output " but does not follow the format (a missing or misspelt field, bad
 * hex, a value over 0xff, a line over 7, a level not 0 or 1, trailing bytes).
 */
int rack_trace_parse(const char *text, size_t len, struct rack_trace *ret, struct lp_diag *diag);

/*
 * The relay of a board on GPIO line `line`: its input is driven iff the line's GPIODIR
 * bit is set, and then is at the GPIODATA bit's level. An undriven input leaves the relay
 * off (the relay board's own pull resistor), whatever the polarity; driven, the relay is
 * on iff level != active_low (active-low modules switch on at a low level).
 */
bool rack_relay_on(uint8_t dir, uint8_t data, unsigned line, bool active_low);

/* Splits a byte stream into lines of at most RACK_TRACE_LINE_MAX bytes. */
struct rack_line_reader {
	char buf[RACK_TRACE_LINE_MAX];
	size_t len;
	bool overlong; /* the current line was cut: drop the rest up to its newline */
};

/* Called per line without its newline; truncated when the line was longer than
 * RACK_TRACE_LINE_MAX (only its first bytes are passed, once). */
typedef void rack_line_fn(void *ctx, const char *line, size_t len, bool truncated);

void rack_line_feed(struct rack_line_reader *r, const char *data, size_t n, rack_line_fn *fn,
		    void *ctx);
/* At the end of the stream: passes a last line that had no newline. */
void rack_line_flush(struct rack_line_reader *r, rack_line_fn *fn, void *ctx);

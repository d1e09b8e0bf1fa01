/* SPDX-License-Identifier: MIT */
/*
 * loopline-rack-sim's reading of the controller QEMU's stderr (hil/sim/rack-trace.c).
 * Input: stderr bytes. They go through the line splitter in two pieces (split where the
 * first byte says) and each line through the trace parser, from an exact-size copy so
 * ASan sees any read past the line. Checks: lines are at most RACK_TRACE_LINE_MAX; a
 * parsed trace formats to QEMU's text and parses back the same; a refused line starts
 * with a trace name and says why; other lines are left alone; the relay decision is
 * off for undriven lines and flips with the polarity for driven ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rack-trace.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static bool starts(const char *s, size_t n, const char *prefix)
{
	return n >= strlen(prefix) && memcmp(s, prefix, strlen(prefix)) == 0;
}

static void check_relay(uint8_t dir, uint8_t data)
{
	for (unsigned line = 0; line < RACK_GPIO_LINES + 2; line++) {
		bool hi = rack_relay_on(dir, data, line, false);
		bool lo = rack_relay_on(dir, data, line, true);

		if (line >= RACK_GPIO_LINES || !(dir & (1u << line))) {
			if (hi || lo)
				abort();
		} else if (hi == lo || hi != !!(data & (1u << line))) {
			abort();
		}
	}
}

/* The parsed trace printed as QEMU prints it parses back to the same. */
static void check_roundtrip(const struct rack_trace *t)
{
	char text[RACK_TRACE_DEVICE_MAX + 128];
	struct rack_trace u;

	if (t->kind == RACK_TRACE_UPDATE)
		snprintf(text, sizeof(text), "pl061_update %s GPIODIR 0x%x GPIODATA 0x%x pullups 0x%x "
			 "floating 0x%x", t->device, t->dir, t->data, t->pullups, t->floating);
	else if (t->kind == RACK_TRACE_SET_OUTPUT)
		snprintf(text, sizeof(text), "pl061_set_output %s setting output %u to %u",
			 t->device, t->line, t->level);
	else
		abort();
	if (rack_trace_parse(text, strlen(text), &u, NULL) != 1 || u.kind != t->kind ||
	    strcmp(u.device, t->device) != 0 || u.dir != t->dir || u.data != t->data ||
	    u.pullups != t->pullups || u.floating != t->floating || u.line != t->line ||
	    u.level != t->level)
		abort();
	if (t->kind == RACK_TRACE_UPDATE)
		check_relay(t->dir, t->data);
	else if (t->line >= RACK_GPIO_LINES || t->level > 1)
		abort();
}

static void on_line(void *ctx, const char *line, size_t len, bool truncated)
{
	char *copy = malloc(len ? len : 1);
	struct rack_trace t;
	struct lp_diag d;
	bool trace_name;
	int r;

	(void)ctx;
	if (!copy)
		return;
	if (len > RACK_TRACE_LINE_MAX || memchr(line, '\n', len))
		abort();
	memcpy(copy, line, len);
	lp_diag_clear(&d);
	memset(&t, 0xa5, sizeof(t));
	r = rack_trace_parse(copy, len, &t, &d);
	trace_name = starts(copy, len, "pl061_update ") || starts(copy, len, "pl061_set_output ");
	if (r == 1)
		check_roundtrip(&t);
	else if (r < 0 && (!trace_name || !d.msg[0]))
		abort();
	else if (r == 0 && trace_name)
		abort();
	(void)truncated;
	free(copy);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct rack_line_reader reader;
	struct rack_trace t;
	size_t split = size ? data[0] % (size + 1) : 0;

	memset(&reader, 0, sizeof(reader));
	rack_line_feed(&reader, (const char *)data, split, on_line, NULL);
	rack_line_feed(&reader, (const char *)data + split, size - split, on_line, NULL);
	rack_line_flush(&reader, on_line, NULL);
	/* the whole input as one line of any length, parsed in place */
	if (rack_trace_parse((const char *)data, size, &t, NULL) == 1)
		check_roundtrip(&t);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * loopline-rack-sim's trace reading (hil/sim/rack-trace.c): QEMU's PL061 trace lines as
 * QEMU 7.2 prints them, lines that are not traces (left alone), each malformed case with
 * its message, the relay decision (driven/undriven x active-low x level), and the
 * bounded line splitter (pieces, a line cut at 4 KiB, a last line without newline).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rack-trace.h"

#define DEV "/machine/unattached/device[7]"
#define UPDATE(dir, data) "pl061_update " DEV " GPIODIR " dir " GPIODATA " data \
			  " pullups 0x0 floating 0x0"

static int parse(const char *line, struct rack_trace *t, struct lp_diag *d)
{
	lp_diag_clear(d);
	memset(t, 0x5a, sizeof(*t));
	return rack_trace_parse(line, strlen(line), t, d);
}

static void test_valid(void **state)
{
	struct rack_trace t;
	struct lp_diag d;

	assert_int_equal(parse("pl061_update " DEV " GPIODIR 0x0 GPIODATA 0x0 pullups 0x0 "
			       "floating 0x0", &t, &d), 1);
	assert_int_equal(t.kind, RACK_TRACE_UPDATE);
	assert_string_equal(t.device, DEV);
	assert_int_equal(t.dir, 0);
	assert_int_equal(t.data, 0);
	assert_int_equal(parse("pl061_update " DEV " GPIODIR 0xf7 GPIODATA 0xA5 pullups 0xff "
			       "floating 0x08", &t, &d), 1);
	assert_int_equal(t.dir, 0xf7);
	assert_int_equal(t.data, 0xa5);
	assert_int_equal(t.pullups, 0xff);
	assert_int_equal(t.floating, 0x08);
	assert_int_equal(parse("pl061_set_output " DEV " setting output 0 to 0", &t, &d), 1);
	assert_int_equal(t.kind, RACK_TRACE_SET_OUTPUT);
	assert_string_equal(t.device, DEV);
	assert_int_equal(t.line, 0);
	assert_int_equal(t.level, 0);
	assert_int_equal(parse("pl061_set_output " DEV " setting output 7 to 1", &t, &d), 1);
	assert_int_equal(t.line, 7);
	assert_int_equal(t.level, 1);
	/* the length is the line's end, not a NUL */
	assert_int_equal(rack_trace_parse(UPDATE("0x1", "0x1") "garbage",
					  strlen(UPDATE("0x1", "0x1")), &t, NULL), 1);
	assert_int_equal(t.dir, 1);
}

static void test_not_trace(void **state)
{
	static const char *const lines[] = {
		"", "READY", "qemu-system-aarch64: terminating on signal 15 from pid 1",
		"pl061_update", "pl061_set_output", "pl061_read " DEV " offset 0x0 value 0x0",
		"pl061_input_change " DEV " GPIO 1 level 1", " pl061_update " DEV,
		"xpl061_update " DEV, "PL061_UPDATE " DEV, "pl061_updat " DEV,
	};
	struct rack_trace t, before;
	struct lp_diag d;

	for (size_t i = 0; i < LP_ARRAY_SIZE(lines); i++) {
		assert_int_equal(parse(lines[i], &t, &d), 0);
		memset(&before, 0x5a, sizeof(before));
		assert_memory_equal(&t, &before, sizeof(t)); /* untouched */
		assert_string_equal(d.msg, "");
	}
}

struct bad {
	const char *line;
	const char *msg;
};

static void test_malformed(void **state)
{
	static const struct bad cases[] = {
		{ UPDATE("0x100", "0x0"), "pl061_update: GPIODIR: 0x100 is more than 0xff" },
		{ UPDATE("0x0", "0xfff"), "pl061_update: GPIODATA: 0xfff is more than 0xff" },
		{ UPDATE("0x000000001", "0x0"), "pl061_update: GPIODIR: more than 8 digits" },
		{ UPDATE("1", "0x0"),
		  "pl061_update: GPIODIR: expected 0x and hex digits at '1 GPIODATA 0x0 pullups 0...'" },
		{ UPDATE("0x", "0x0"),
		  "pl061_update: GPIODIR: expected hex digits after 0x at ' GPIODATA 0x0 pullups 0x...'" },
		{ UPDATE("0xzz", "0x0"),
		  "pl061_update: GPIODIR: expected hex digits after 0x at 'zz GPIODATA 0x0 pullups ...'" },
		{ UPDATE("0x1g", "0x0"),
		  "pl061_update: GPIODIR: unexpected 'g GPIODATA 0x0 pullups 0...' after the value" },
		{ UPDATE("-0x1", "0x0"),
		  "pl061_update: GPIODIR: expected 0x and hex digits at '-0x1 GPIODATA 0x0 pullup...'" },
		{ "pl061_update " DEV " GPIODIR 0x1 GPIODATA 0x0",
		  "pl061_update: the line ends before 'pullups'" },
		{ "pl061_update " DEV, "pl061_update: the line ends before 'GPIODIR'" },
		{ "pl061_update " DEV " ", "pl061_update: the line ends before 'GPIODIR'" },
		{ "pl061_update " DEV " GPIODIR",
		  "pl061_update: the line ends after 'GPIODIR'" },
		{ "pl061_update " DEV " GPIODIR 0x1 GPIODAT 0x0 pullups 0x0 floating 0x0",
		  "pl061_update: expected ' GPIODATA ' at ' GPIODAT 0x0 pullups 0x0...'" },
		{ "pl061_update " DEV " GPIODIR  0x1 GPIODATA 0x0 pullups 0x0 floating 0x0",
		  "pl061_update: GPIODIR: expected 0x and hex digits at ' 0x1 GPIODATA 0x0 pullup...'" },
		{ UPDATE("0x1", "0x0") " extra", "pl061_update: trailing bytes: ' extra'" },
		{ UPDATE("0x1", "0x0") " ", "pl061_update: trailing bytes: ' '" },
		{ UPDATE("0x1", "0x0") "\r", "pl061_update: floating: unexpected '?' after the value" },
		{ "pl061_update  GPIODIR 0x0 GPIODATA 0x0 pullups 0x0 floating 0x0",
		  "pl061_update: missing device id" },
		{ "pl061_update ", "pl061_update: missing device id" },
		{ "pl061_set_output " DEV " setting output 8 to 1",
		  "pl061_set_output: line: 8 is more than 7" },
		{ "pl061_set_output " DEV " setting output 0010 to 1",
		  "pl061_set_output: line: more than 3 digits" },
		{ "pl061_set_output " DEV " setting output 2 to 2",
		  "pl061_set_output: level: 2 is more than 1" },
		{ "pl061_set_output " DEV " setting output 2 to -1",
		  "pl061_set_output: level: expected a decimal number at '-1'" },
		{ "pl061_set_output " DEV " setting output 0x1 to 1",
		  "pl061_set_output: line: unexpected 'x1 to 1' after the value" },
		{ "pl061_set_output " DEV " settings output 0 to 1",
		  "pl061_set_output: expected ' setting ' at ' settings output 0 to 1'" },
		{ "pl061_set_output " DEV " setting outpt 0 to 1",
		  "pl061_set_output: expected 'output ' at 'outpt 0 to 1'" },
		{ "pl061_set_output " DEV " setting output 0 to",
		  "pl061_set_output: the line ends after 'to'" },
		{ "pl061_set_output " DEV " setting output 0 t",
		  "pl061_set_output: the line ends before 'to'" },
		{ "pl061_set_output " DEV " setting output 0 to 1 2",
		  "pl061_set_output: trailing bytes: ' 2'" },
	};
	struct rack_trace t, before;
	struct lp_diag d;

	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		int r = parse(cases[i].line, &t, &d);

		if (r >= 0 || strcmp(d.msg, cases[i].msg) != 0)
			fail_msg("'%s': %d '%s', expected '%s'", cases[i].line, r, d.msg,
				 cases[i].msg);
		memset(&before, 0x5a, sizeof(before));
		assert_memory_equal(&t, &before, sizeof(t)); /* untouched on failure */
	}
}

static void test_malformed_bytes(void **state)
{
	static const char nul[] = "pl061_update " DEV "\0GPIODIR 0x0";
	char dev[400], line[600];
	struct rack_trace t;
	struct lp_diag d;

	lp_diag_clear(&d);
	assert_int_equal(rack_trace_parse(nul, sizeof(nul) - 1, &t, &d), -EBADMSG);
	assert_string_equal(d.msg, "pl061_update: expected ' GPIODIR ' at '?GPIODIR 0x0'");
	/* 255 bytes of device id are fine, 256 are not */
	memset(dev, 'd', 255);
	dev[255] = '\0';
	snprintf(line, sizeof(line), "pl061_set_output %s setting output 1 to 1", dev);
	assert_int_equal(parse(line, &t, &d), 1);
	assert_int_equal(strlen(t.device), 255);
	snprintf(line, sizeof(line), "pl061_set_output %sd setting output 1 to 1", dev);
	assert_int_equal(parse(line, &t, &d), -EBADMSG);
	assert_string_equal(d.msg, "pl061_set_output: device id longer than 255 bytes");
	/* a NULL diag is allowed */
	assert_int_equal(rack_trace_parse("pl061_update x", 14, &t, NULL), -EBADMSG);
}

static void test_relay(void **state)
{
	/* line 2: undriven (GPIODIR bit clear) is off whatever the level and polarity */
	for (int al = 0; al <= 1; al++) {
		assert_false(rack_relay_on(0x00, 0x00, 2, al));
		assert_false(rack_relay_on(0x00, 0x04, 2, al));
		assert_false(rack_relay_on(0xfb, 0xff, 2, al)); /* other lines driven */
	}
	/* driven: active-high on at 1, active-low on at 0 */
	assert_false(rack_relay_on(0x04, 0x00, 2, false));
	assert_true(rack_relay_on(0x04, 0x04, 2, false));
	assert_true(rack_relay_on(0x04, 0x00, 2, true));
	assert_false(rack_relay_on(0x04, 0x04, 2, true));
	/* other lines' bits do not matter */
	assert_true(rack_relay_on(0xff, 0xfb, 2, true));
	assert_false(rack_relay_on(0xff, 0xfb, 2, false));
	/* line 0 and 7, and lines that do not exist */
	assert_true(rack_relay_on(0x01, 0x01, 0, false));
	assert_true(rack_relay_on(0x80, 0x00, 7, true));
	assert_false(rack_relay_on(0xff, 0xff, 8, false));
	assert_false(rack_relay_on(0xff, 0x00, 8, true));
}

struct collected {
	char text[8192];
	size_t len;
	int lines, truncated;
	size_t longest;
};

static void collect(void *ctx, const char *line, size_t len, bool truncated)
{
	struct collected *c = ctx;

	c->lines++;
	c->truncated += truncated;
	if (len > c->longest)
		c->longest = len;
	if (len > 16)
		len = 16; /* enough to recognise it */
	memcpy(c->text + c->len, line, len);
	c->len += len;
	c->text[c->len++] = '|';
	c->text[c->len] = '\0';
}

static void test_lines(void **state)
{
	static struct rack_line_reader r;
	static char big[3 * RACK_TRACE_LINE_MAX];
	struct collected c = { .len = 0 };

	rack_line_feed(&r, "one\ntw", 6, collect, &c);
	rack_line_feed(&r, "o\n\nthr", 6, collect, &c);
	assert_string_equal(c.text, "one|two||");
	rack_line_flush(&r, collect, &c); /* the end of the stream: "thr" had no newline */
	assert_string_equal(c.text, "one|two||thr|");
	rack_line_flush(&r, collect, &c);
	assert_int_equal(c.lines, 4);

	/* exactly RACK_TRACE_LINE_MAX bytes: whole; one more: cut once, the rest dropped */
	memset(&c, 0, sizeof(c));
	memset(big, 'a', RACK_TRACE_LINE_MAX);
	big[RACK_TRACE_LINE_MAX] = '\n';
	rack_line_feed(&r, big, RACK_TRACE_LINE_MAX + 1, collect, &c);
	assert_int_equal(c.lines, 1);
	assert_int_equal(c.truncated, 0);
	assert_int_equal(c.longest, RACK_TRACE_LINE_MAX);
	memset(&c, 0, sizeof(c));
	memset(big, 'b', sizeof(big));
	rack_line_feed(&r, big, RACK_TRACE_LINE_MAX + 1, collect, &c);
	rack_line_feed(&r, big, sizeof(big), collect, &c);
	assert_int_equal(c.lines, 1);
	assert_int_equal(c.truncated, 1);
	rack_line_feed(&r, "tail of it\nnext\n", 16, collect, &c);
	assert_int_equal(c.lines, 2);
	assert_int_equal(c.longest, RACK_TRACE_LINE_MAX);
	assert_non_null(strstr(c.text, "|next|"));
	assert_null(strstr(c.text, "tail"));
	/* a cut line's rest is not passed at the end of the stream either */
	memset(&c, 0, sizeof(c));
	rack_line_feed(&r, big, RACK_TRACE_LINE_MAX + 5, collect, &c);
	rack_line_flush(&r, collect, &c);
	assert_int_equal(c.lines, 1);
	assert_int_equal(c.truncated, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),     cmocka_unit_test(test_not_trace),
		cmocka_unit_test(test_malformed), cmocka_unit_test(test_malformed_bytes),
		cmocka_unit_test(test_relay),     cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * matrix/netfault.c in-process: the control file parser (every mode; each kind of error
 * with its line), format and parse agree, mx_net_set/mx_net_get with growing generations
 * (also over a garbage file), the watch (missing file = PASS, a change seen once, garbage
 * reported once and the last good state kept, a deleted file = PASS), the combo-wide
 * drop-after budget shared by two watchers (exact grants, exhaustion, reset by a new
 * state, a stale watcher told so), and the connection log (append, message lines,
 * totals, bad lines).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/fs.h"
#include "matrix.h"

static char dir[64], control[128], logp[128];

static int group_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lp-mx-netstate-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(control, sizeof(control), "%s/net.state", dir);
	snprintf(logp, sizeof(logp), "%s/net.log", dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	assert_int_equal(lp_fs_write_atomic(path, text, strlen(text), 0644, 0), 0);
}

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		enum mx_net_mode mode;
		uint64_t rate, drop, gen;
	} good[] = {
		{ "version=1\ngeneration=0\nmode=pass\n", MX_NET_PASS, 0, 0, 0 },
		{ "# c\n\nversion=1\nmode=cut\ngeneration=3\n", MX_NET_CUT, 0, 0, 3 },
		{ "version=1\ngeneration=4\nmode=stall\n", MX_NET_STALL, 0, 0, 4 },
		{ "version=1\ngeneration=5\nmode=throttle\nrate=204800\n", MX_NET_THROTTLE, 204800, 0, 5 },
		{ "version=1\ngeneration=18446744073709551615\nmode=drop-after\ndrop_after=0\n",
		  MX_NET_DROP_AFTER, 0, 0, UINT64_MAX },
		{ "version=1\ngeneration=6\nmode=throttle\nrate=1073741824\n", MX_NET_THROTTLE,
		  1073741824, 0, 6 },
	};
	static const struct {
		const char *text;
		unsigned line;
		const char *msg;
	} bad[] = {
		{ "", 0, "version: missing" },
		{ "version=1\nmode=pass\n", 0, "generation: missing" },
		{ "version=1\ngeneration=1\n", 0, "mode: missing" },
		{ "version=2\n", 1, "only 1 is known" },
		{ "version=1\ngeneration=1\nmode=pass\nfoo=1\n", 4, "unknown key 'foo'" },
		{ "version=1\nversion=1\n", 2, "given twice" },
		{ "version=1\ngeneration=1\nmode=fast\n", 3, "'fast' is not one of" },
		{ "version=1\ngeneration=01\nmode=pass\n", 2, "not a decimal number" },
		{ "version=1\ngeneration=-1\nmode=pass\n", 2, "not a decimal number" },
		{ "version=1\ngeneration=18446744073709551616\nmode=pass\n", 2, "out of range" },
		{ "version=1\ngeneration=1\nmode=throttle\nrate=0\n", 4, "out of range" },
		{ "version=1\ngeneration=1\nmode=throttle\nrate=1073741825\n", 4, "out of range" },
		{ "version=1\ngeneration=1\nmode=throttle\n", 0, "rate: missing" },
		{ "version=1\ngeneration=1\nmode=pass\nrate=5\n", 0, "only with mode=throttle" },
		{ "version=1\ngeneration=1\nmode=drop-after\n", 0, "drop_after: missing" },
		{ "version=1\ngeneration=1\nmode=cut\ndrop_after=5\n", 0, "only with mode=drop-after" },
		{ "version=1\ngeneration=1\nmode=pass", 0, "no newline" },
		{ "version = 1\n", 1, "expected KEY=VALUE" },
		{ "version=\n", 1, "expected KEY=VALUE" },
		{ "=1\n", 1, "expected KEY=VALUE" },
		{ "Version=1\n", 1, "expected KEY=VALUE" },
		{ "version=1\r\n", 1, "expected KEY=VALUE" },
	};
	struct mx_net_state st;
	struct lp_diag diag;
	char msg[1024];

	for (size_t i = 0; i < LP_ARRAY_SIZE(good); i++) {
		if (mx_net_parse(good[i].text, strlen(good[i].text), "t", &st, &diag) < 0)
			fail_msg("good[%zu]: %s", i, lp_diag_format(&diag, msg, sizeof(msg)));
		assert_int_equal(st.mode, good[i].mode);
		assert_int_equal(st.rate_bps, good[i].rate);
		assert_int_equal(st.drop_after, good[i].drop);
		assert_int_equal(st.generation, good[i].gen);
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		st.mode = MX_NET_STALL;
		if (mx_net_parse(bad[i].text, strlen(bad[i].text), "t.state", &st, &diag) != -EINVAL)
			fail_msg("bad[%zu] accepted", i);
		assert_int_equal(st.mode, MX_NET_STALL); /* untouched */
		lp_diag_format(&diag, msg, sizeof(msg));
		if (diag.line != bad[i].line || !strstr(msg, bad[i].msg) || !strstr(msg, "t.state"))
			fail_msg("bad[%zu]: '%s' (expected line %u, '%s')", i, msg, bad[i].line,
				 bad[i].msg);
	}
	/* a NUL byte, an overlong line and an oversized file */
	assert_int_equal(mx_net_parse("version=1\0\n", 11, "t", &st, &diag), -EINVAL);
	assert_non_null(strstr(diag.msg, "NUL"));
	{
		char big[MX_NET_STATE_MAX + 2];

		memset(big, '#', sizeof(big));
		big[300] = '\n';
		assert_int_equal(mx_net_parse(big, 301, "t", &st, &diag), -EINVAL);
		assert_non_null(strstr(diag.msg, "line longer"));
		big[sizeof(big) - 1] = '\n';
		assert_int_equal(mx_net_parse(big, sizeof(big), "t", &st, &diag), -EINVAL);
		assert_non_null(strstr(diag.msg, "larger than"));
	}
}

static void test_format_round_trip(void **state)
{
	const struct mx_net_state in[] = {
		{ MX_NET_PASS, 0, 0, 1 },        { MX_NET_CUT, 0, 0, 2 },
		{ MX_NET_STALL, 0, 0, 3 },       { MX_NET_THROTTLE, 4096, 0, 4 },
		{ MX_NET_DROP_AFTER, 0, 1234567, UINT64_MAX },
	};
	const struct mx_net_state invalid[] = {
		{ MX_NET_THROTTLE, 0, 0, 1 }, { MX_NET_THROTTLE, MX_NET_RATE_MAX + 1, 0, 1 },
		{ MX_NET_DROP_AFTER, 0, MX_NET_DROP_MAX + 1, 1 }, { MX_NET_MODES, 0, 0, 1 },
	};
	char text[MX_NET_STATE_MAX];
	struct mx_net_state out;

	for (size_t i = 0; i < LP_ARRAY_SIZE(in); i++) {
		assert_int_equal(mx_net_format(&in[i], text, sizeof(text)), 0);
		assert_int_equal(mx_net_parse(text, strlen(text), "t", &out, NULL), 0);
		assert_int_equal(out.mode, in[i].mode);
		assert_int_equal(out.rate_bps, in[i].rate_bps);
		assert_int_equal(out.drop_after, in[i].drop_after);
		assert_int_equal(out.generation, in[i].generation);
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(invalid); i++)
		assert_int_equal(mx_net_format(&invalid[i], text, sizeof(text)), -EINVAL);
	assert_int_equal(mx_net_format(&in[0], text, 20), -ENOSPC);
}

static void test_set_get(void **state)
{
	struct mx_net_state st = { .mode = MX_NET_THROTTLE, .rate_bps = 1000 }, got;
	struct lp_diag diag;

	unlink(control);
	assert_int_equal(mx_net_get(control, &got, &diag), -ENOENT);
	assert_int_equal(mx_net_set(control, &st, &diag), 0);
	assert_int_equal(st.generation, 1);
	assert_int_equal(mx_net_get(control, &got, &diag), 0);
	assert_int_equal(got.mode, MX_NET_THROTTLE);
	assert_int_equal(got.rate_bps, 1000);
	assert_int_equal(got.generation, 1);
	st = (struct mx_net_state){ .mode = MX_NET_CUT };
	assert_int_equal(mx_net_set(control, &st, &diag), 0);
	assert_int_equal(st.generation, 2);
	/* garbage is replaced, and the generation still grows (the budget file remembers) */
	write_file(control, "nonsense\n");
	assert_int_equal(mx_net_get(control, &got, &diag), -EINVAL);
	assert_int_equal(diag.line, 1);
	st = (struct mx_net_state){ .mode = MX_NET_PASS };
	assert_int_equal(mx_net_set(control, &st, &diag), 0);
	assert_int_equal(st.generation, 3);
	/* an invalid state is refused and the file stays */
	st = (struct mx_net_state){ .mode = MX_NET_THROTTLE, .rate_bps = 0 };
	assert_int_equal(mx_net_set(control, &st, &diag), -EINVAL);
	assert_int_equal(mx_net_get(control, &got, &diag), 0);
	assert_int_equal(got.mode, MX_NET_PASS);
	assert_int_equal(got.generation, 3);
}

static void test_watch(void **state)
{
	struct mx_net_state st = { 0 }, got;
	struct mx_net_watch *w;
	struct lp_diag diag;

	unlink(control);
	assert_int_equal(mx_net_watch_open(control, &w), 0);
	/* missing: PASS (the first poll says nothing changed: PASS is where a watch starts) */
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 0);
	assert_int_equal(got.mode, MX_NET_PASS);
	st.mode = MX_NET_STALL;
	assert_int_equal(mx_net_set(control, &st, &diag), 0);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 1);
	assert_int_equal(got.mode, MX_NET_STALL);
	assert_int_equal(got.generation, st.generation);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 0);
	/* the same mode again is a new generation: a change */
	assert_int_equal(mx_net_set(control, &st, &diag), 0);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 1);
	/* garbage: reported once, the last good state kept */
	write_file(control, "version=1\nmode=pass\nbogus=1\n");
	lp_diag_clear(&diag);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), -EINVAL);
	assert_int_equal(got.mode, MX_NET_STALL);
	assert_int_equal(diag.line, 3);
	assert_non_null(strstr(diag.msg, "unknown key 'bogus'"));
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 0);
	assert_int_equal(got.mode, MX_NET_STALL);
	/* gone: PASS */
	assert_int_equal(unlink(control), 0);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 1);
	assert_int_equal(got.mode, MX_NET_PASS);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 0);
	/* a directory in its place: reported once, the state kept */
	assert_int_equal(mkdir(control, 0755), 0);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), -EINVAL);
	assert_int_equal(got.mode, MX_NET_PASS);
	assert_int_equal(mx_net_watch_poll(w, &got, &diag), 0);
	assert_int_equal(rmdir(control), 0);
	mx_net_watch_free(w);
	mx_net_watch_free(NULL);
}

static void test_budget(void **state)
{
	struct mx_net_state st = { .mode = MX_NET_DROP_AFTER, .drop_after = 1000 }, got;
	struct mx_net_watch *a, *b;
	uint64_t grant, used;
	bool done;

	unlink(control);
	assert_int_equal(mx_net_set(control, &st, NULL), 0);
	assert_int_equal(mx_net_watch_open(control, &a), 0);
	assert_int_equal(mx_net_watch_open(control, &b), 0);
	assert_int_equal(mx_net_watch_poll(a, &got, NULL), 1);
	assert_int_equal(mx_net_watch_poll(b, &got, NULL), 1);
	assert_int_equal(mx_net_watch_claim(a, 600, &grant, &done), 0);
	assert_int_equal(grant, 600);
	assert_false(done);
	assert_int_equal(mx_net_watch_claim(b, 600, &grant, &done), 0);
	assert_int_equal(grant, 400);
	assert_true(done);
	assert_int_equal(mx_net_watch_claim(a, 0, &grant, &done), 0);
	assert_int_equal(grant, 0);
	assert_true(done);
	assert_int_equal(mx_net_budget_used(control, st.generation, &used), 0);
	assert_int_equal(used, 1000);
	/* a new state: a fresh budget; a watcher that has not seen it is told it is stale */
	st.drop_after = 10;
	assert_int_equal(mx_net_set(control, &st, NULL), 0);
	assert_int_equal(mx_net_budget_used(control, st.generation, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(mx_net_watch_claim(a, 5, &grant, &done), -ESTALE);
	assert_int_equal(mx_net_watch_poll(a, &got, NULL), 1);
	assert_int_equal(mx_net_watch_claim(a, 50, &grant, &done), 0);
	assert_int_equal(grant, 10);
	assert_true(done);
	/* a file written by hand (no budget for its generation): the budget starts with it */
	write_file(control, "version=1\ngeneration=100\nmode=drop-after\ndrop_after=7\n");
	assert_int_equal(mx_net_watch_poll(b, &got, NULL), 1);
	assert_int_equal(mx_net_watch_claim(b, 5, &grant, &done), 0);
	assert_int_equal(grant, 5);
	assert_false(done);
	assert_int_equal(mx_net_budget_used(control, 100, &used), 0);
	assert_int_equal(used, 5);
	/* not in drop-after mode: no claims */
	st = (struct mx_net_state){ .mode = MX_NET_PASS };
	assert_int_equal(mx_net_set(control, &st, NULL), 0);
	assert_int_equal(mx_net_watch_poll(b, &got, NULL), 1);
	assert_int_equal(mx_net_watch_claim(b, 5, &grant, &done), -EINVAL);
	mx_net_watch_free(a);
	mx_net_watch_free(b);
}

static void test_log(void **state)
{
	struct mx_net_conn c = { .start_ms = 1746100800123, .pid = 42, .ms = 5123, .up = 517,
				 .down = 1048576, .end = MX_NET_END_DROPPED,
				 .mode = MX_NET_DROP_AFTER, .generation = 7 }, p;
	static const char *const bad[] = {
		"start=2025-05-01T12:00:00.123Z pid=1 ms=1 up=1 down=1 end=cut mode=cut",
		"start=2025-05-01T12:00:00.123Z pid=1 ms=1 up=1 down=1 end=cut mode=cut generation=1 x=1",
		"start=2025-05-01T12:00:00.123 pid=1 ms=1 up=1 down=1 end=cut mode=cut generation=1",
		"start=2025-13-01T12:00:00.123Z pid=1 ms=1 up=1 down=1 end=cut mode=cut generation=1",
		"start=2025-05-01T12:00:00.123Z pid=1 ms=1 up=1 down=1 end=late mode=cut generation=1",
		"start=2025-05-01T12:00:00.123Z pid=1  ms=1 up=1 down=1 end=cut mode=cut generation=1",
		"start=2025-05-01T12:00:00.123Z pid=1 ms=1 up=1 down=1 end=cut mode=cut generation=1 ",
		"start=2025-05-01T12:00:00.123Z pid=1 pid=1 ms=1 up=1 down=1 end=cut mode=cut generation=1",
	};
	struct mx_net_totals t;
	struct lp_diag diag;
	char line[MX_NET_LINE_MAX + 2];

	assert_int_equal(mx_net_log_format(&c, line, sizeof(line)), 0);
	assert_string_equal(line, "start=2025-05-01T12:00:00.123Z pid=42 ms=5123 up=517 "
				  "down=1048576 end=dropped mode=drop-after generation=7\n");
	assert_int_equal(mx_net_log_parse_line(line, strlen(line) - 1, &p, &diag), 0);
	assert_int_equal(p.start_ms, c.start_ms);
	assert_int_equal(p.down, c.down);
	assert_int_equal(p.end, c.end);
	assert_int_equal(p.mode, c.mode);
	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		lp_diag_clear(&diag);
		if (mx_net_log_parse_line(bad[i], strlen(bad[i]), &p, &diag) != -EINVAL)
			fail_msg("bad[%zu] accepted", i);
		assert_true(diag.msg[0]);
	}

	unlink(logp);
	assert_int_equal(mx_net_log_read(logp, &t, &diag), -ENOENT);
	assert_int_equal(mx_net_log_append(logp, &c), 0);
	c.end = MX_NET_END_SERVER_CLOSED;
	c.down = 10;
	assert_int_equal(mx_net_log_note(logp, 42, "warning: a message\nin two lines"), 0);
	assert_int_equal(mx_net_log_append(logp, &c), 0);
	assert_int_equal(mx_net_log_read(logp, &t, &diag), 0);
	assert_int_equal(t.connections, 2);
	assert_int_equal(t.up, 2 * 517);
	assert_int_equal(t.down, 1048576 + 10);
	assert_int_equal(t.ends[MX_NET_END_DROPPED], 1);
	assert_int_equal(t.ends[MX_NET_END_SERVER_CLOSED], 1);
	/* a damaged line is an error with its line number */
	{
		FILE *f = fopen(logp, "a");

		assert_non_null(f);
		fputs("garbage\n", f);
		fclose(f);
	}
	assert_int_equal(mx_net_log_read(logp, &t, &diag), -EINVAL);
	assert_int_equal(diag.line, 4);
	{
		char *text;

		assert_int_equal(lp_fs_read_file(logp, 4096, &text, NULL), 0);
		assert_non_null(strstr(text, "\n# pid=42 warning: a message in two lines\n"));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),   cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_set_get), cmocka_unit_test(test_watch),
		cmocka_unit_test(test_budget),  cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: MIT */
/* Diagnostics formatting and the logging module (stderr captured through a pipe). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopline/diag.h"
#include "loopline/log.h"

static void test_format(void **state)
{
	struct lp_diag d;
	char buf[1024];

	(void)state;
	lp_diag_clear(&d);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)), "unknown error");
	assert_string_equal(lp_diag_format(NULL, buf, sizeof(buf)), "");

	assert_int_equal(lp_diag_fail(&d, -EINVAL, "expected %s", "a string"), -EINVAL);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)), "expected a string");

	lp_diag_set_path(&d, "backends[1].url");
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)),
			    "backends[1].url: expected a string");

	lp_diag_set_file(&d, "agent.json");
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)),
			    "agent.json: backends[1].url: expected a string");

	lp_diag_set_pos(&d, 12, 7);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)),
			    "agent.json:12:7: backends[1].url: expected a string");

	lp_diag_set_pos(&d, 12, 0);
	lp_diag_set_path(&d, NULL);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)), "agent.json:12: expected a string");

	/* no file: the line (and column) still show */
	lp_diag_set_file(&d, NULL);
	lp_diag_set_pos(&d, 3, 9);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)),
			    "line 3, column 9: expected a string");
	lp_diag_set_pos(&d, 3, 0);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)), "line 3: expected a string");

	assert_int_equal(lp_diag_fail_at(&d, -E2BIG, "payloads[0]", "too many %d", 5), -E2BIG);
	assert_string_equal(d.path, "payloads[0]");
	assert_string_equal(d.msg, "too many 5");

	lp_diag_clear(&d);
	assert_int_equal(d.line, 0);
	assert_string_equal(d.file, "");
	assert_string_equal(d.msg, "");

	/* NULL diag everywhere */
	lp_diag_clear(NULL);
	lp_diag_set_file(NULL, "x");
	lp_diag_set_pos(NULL, 1, 1);
	lp_diag_set_path(NULL, "p");
	assert_int_equal(lp_diag_fail(NULL, -ENOENT, "x"), -ENOENT);
	assert_int_equal(lp_diag_fail_at(NULL, -EIO, "p", "x"), -EIO);
}

static void test_format_bounds(void **state)
{
	struct lp_diag d;
	char small[10], big[LP_DIAG_MSG_MAX * 2];
	char longmsg[LP_DIAG_MSG_MAX * 2];

	(void)state;
	lp_diag_clear(&d);
	lp_diag_set_file(&d, "a-rather-long-file-name.json");
	lp_diag_set_pos(&d, 1, 2);
	lp_diag_fail(&d, -EINVAL, "message");
	memset(small, 'X', sizeof(small));
	lp_diag_format(&d, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "a-rather-", 9);
	assert_string_equal(lp_diag_format(&d, small, 0), small); /* len 0: untouched */

	/* messages, paths and file names longer than their fields are cut, not overrun */
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	lp_diag_fail(&d, -EINVAL, "%s", longmsg);
	assert_int_equal(strlen(d.msg), LP_DIAG_MSG_MAX - 1);
	lp_diag_set_path(&d, longmsg);
	assert_int_equal(strlen(d.path), LP_DIAG_PATH_MAX - 1);
	lp_diag_set_file(&d, longmsg);
	assert_int_equal(strlen(d.file), LP_DIAG_FILE_MAX - 1);
	lp_diag_format(&d, big, sizeof(big));
	assert_int_equal(strlen(big), sizeof(big) - 1);
}

/* Captures what the logging module writes to stderr while fn runs. */
struct capture {
	int pipe_rd, saved_err;
};

static void capture_begin(struct capture *c)
{
	int p[2];

	fflush(stderr);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	c->pipe_rd = p[0];
	c->saved_err = dup(STDERR_FILENO);
	assert_true(c->saved_err >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
}

static void capture_end(struct capture *c, char *out, size_t len)
{
	size_t got = 0;

	fflush(stderr);
	assert_true(dup2(c->saved_err, STDERR_FILENO) >= 0);
	close(c->saved_err);
	/* the write end is closed now: read to EOF */
	for (;;) {
		ssize_t n = read(c->pipe_rd, out + got, len - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(c->pipe_rd);
}

static void test_log_levels(void **state)
{
	struct capture c;
	char out[4096];
	enum lp_log_level lvl;

	(void)state;
	assert_int_equal(lp_log_level_parse("debug", &lvl), 0);
	assert_int_equal(lvl, LP_LOG_DEBUG);
	assert_int_equal(lp_log_level_parse("warn", &lvl), 0);
	assert_int_equal(lvl, LP_LOG_WARN);
	assert_int_equal(lp_log_level_parse("quiet", &lvl), 0);
	assert_int_equal(lvl, LP_LOG_QUIET);
	assert_int_equal(lp_log_level_parse("WARN", &lvl), -EINVAL);
	assert_int_equal(lp_log_level_parse("", &lvl), -EINVAL);
	assert_int_equal(lp_log_level_parse(NULL, &lvl), -EINVAL);
	assert_int_equal(lvl, LP_LOG_QUIET);

	lp_log_set_ident("test-diag");
	lp_log_set_timestamps(0);

	lp_log_set_level(LP_LOG_WARN);
	assert_int_equal(lp_log_get_level(), LP_LOG_WARN);
	capture_begin(&c);
	log_debug("d %d", 1);
	log_info("i %d", 2);
	log_warn("w %d", 3);
	log_error("e %s", "four");
	capture_end(&c, out, sizeof(out));
	assert_string_equal(out, "test-diag: warning: w 3\ntest-diag: error: e four\n");

	lp_log_set_level(LP_LOG_DEBUG);
	capture_begin(&c);
	log_debug("d");
	log_info("i");
	capture_end(&c, out, sizeof(out));
	assert_string_equal(out, "test-diag: debug: d\ntest-diag: i\n");

	lp_log_set_level(LP_LOG_QUIET);
	capture_begin(&c);
	log_error("not shown");
	lp_log_write(LP_LOG_QUIET, "never shown either");
	capture_end(&c, out, sizeof(out));
	assert_string_equal(out, "");

	/* errno survives logging */
	lp_log_set_level(LP_LOG_INFO);
	capture_begin(&c);
	errno = EAGAIN;
	log_info("x");
	assert_int_equal(errno, EAGAIN);
	capture_end(&c, out, sizeof(out));

	/* timestamps: "YYYY-MM-DDTHH:MM:SS.mmmZ ident: msg" */
	lp_log_set_timestamps(1);
	capture_begin(&c);
	log_info("stamped");
	capture_end(&c, out, sizeof(out));
	lp_log_set_timestamps(0);
	assert_int_equal(strlen(out), 25 + strlen("test-diag: stamped\n"));
	assert_true(out[4] == '-' && out[7] == '-' && out[10] == 'T' && out[13] == ':' &&
		    out[19] == '.' && out[23] == 'Z' && out[24] == ' ');
	assert_string_equal(out + 25, "test-diag: stamped\n");

	/* very long messages are cut, still one line */
	{
		char big[5000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		capture_begin(&c);
		log_info("%s", big);
		capture_end(&c, out, sizeof(out));
		assert_non_null(strchr(out, '\n'));
		assert_null(strchr(strchr(out, '\n') + 1, '\n'));
		assert_true(strlen(out) < 2100);
	}
	lp_log_set_ident(NULL);
}

/* Under systemd (JOURNAL_STREAM naming stderr's device:inode) lines carry "<prio>". The
 * choice is made once per process, so this runs in a fresh copy of this program. */
static int journal_child(void)
{
	lp_log_set_level(LP_LOG_DEBUG);
	log_debug("dbg");
	log_info("inf");
	log_warn("wrn");
	log_error("err");
	fflush(stderr);
	return 0;
}

static void run_journal_child(bool match, char *out, size_t len)
{
	size_t got = 0;
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stat st;
		char env[64];

		dup2(p[1], STDERR_FILENO);
		if (fstat(STDERR_FILENO, &st) < 0)
			_exit(3);
		/* not matching: what a child of a service with stderr elsewhere inherits */
		snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino + (match ? 0 : 1));
		setenv("JOURNAL_STREAM", env, 1);
		execl("/proc/self/exe", "test-diag", "--journal-child", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, 10000), 1);
		n = read(p[0], out + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_log_journal(void **state)
{
	char out[1024];

	(void)state;
	run_journal_child(true, out, sizeof(out));
	assert_string_equal(out, "<7>dbg\n<6>inf\n<4>wrn\n<3>err\n");
	run_journal_child(false, out, sizeof(out));
	assert_string_equal(out, "loopline: debug: dbg\nloopline: inf\nloopline: warning: wrn\n"
				 "loopline: error: err\n");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),     cmocka_unit_test(test_format_bounds),
		cmocka_unit_test(test_log_levels), cmocka_unit_test(test_log_journal),
	};

	if (argc == 2 && strcmp(argv[1], "--journal-child") == 0)
		return journal_child();

	return cmocka_run_group_tests(tests, NULL, NULL);
}

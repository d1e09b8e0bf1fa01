/* SPDX-License-Identifier: MIT */
/*
 * Console, expect engine and shell runner against fake boards on socketpairs:
 * patterns split across reads, several patterns, huge lines beyond the window, NUL bytes,
 * timeouts, failure patterns; and the shell runner against a scripted board that asks
 * for a login, echoes what it receives and translates LF to CR LF like a tty, then hands
 * the stream to a real /bin/sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"

#include "loopline-hil/console.h"
#include "loopline-hil/expect.h"
#include "loopline-hil/shell.h"

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(99);
		p += n;
		len -= (size_t)n;
	}
}

struct fixture {
	int peer;                 /* the fake board's end */
	struct lp_hil_console *con;
	struct lp_hil_expect *exp;
	pid_t child;
	char log[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	static int seq;

	snprintf(f->log, sizeof(f->log), "/tmp/lp-hil-expect-%ld-%d.log", (long)getpid(), seq++);
	unlink(f->log);
	assert_int_equal(lp_hil_console_from_fd(sv[0], f->log, &f->con), 0);
	assert_int_equal(lp_hil_expect_new(4096, &f->exp), 0);
	assert_true(lp_hil_console_add_sink(f->con, lp_hil_expect_feed, f->exp) >= 0);
	f->peer = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->child > 0) {
		kill(-f->child, SIGKILL); /* the fake board's shell too */
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	close(f->peer);
	lp_hil_console_close(f->con);
	lp_hil_expect_free(f->exp);
	if (!getenv("LP_HIL_KEEP_LOGS")) /* debugging aid */
		unlink(f->log);
	free(f);
	return 0;
}

static struct lp_hil_patterns *pats(size_t n, ...)
{
	const char *res[8];
	struct lp_hil_patterns *p = NULL;
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		res[i] = va_arg(ap, const char *);
	va_end(ap);
	assert_int_equal(lp_hil_patterns_new(res, n, &p, NULL), 0);
	return p;
}

static void test_split_across_reads(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "login: $");
	struct lp_hil_match m;

	write_all(f->peer, "Welcome\nlog", 11);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 200, &m), -ETIMEDOUT);
	write_all(f->peer, "in: ", 4);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, &m), 0);
	assert_string_equal(m.text, "login: ");
	assert_int_equal(m.index, 0);
	lp_hil_patterns_free(want);
}

static void test_first_match_wins(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(3, "ba[rz]", "fo+", "never");
	struct lp_hil_match m;

	write_all(f->peer, "aaa fooo bbb bar baz", 20);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, &m), 0);
	assert_int_equal(m.index, 1); /* "fooo" comes first in the stream */
	assert_string_equal(m.text, "fooo");
	/* what followed the match is still there for the next wait */
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, &m), 0);
	assert_int_equal(m.index, 0);
	assert_string_equal(m.text, "bar");
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, &m), 0);
	assert_string_equal(m.text, "baz");
	lp_hil_patterns_free(want);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "never");
	uint64_t t0 = lp_clock_mono_ms(), dt;

	write_all(f->peer, "something else\n", 15);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 300, NULL), -ETIMEDOUT);
	dt = lp_clock_mono_ms() - t0;
	assert_true(dt >= 290);
	assert_true(dt < 1500);
	lp_hil_patterns_free(want);
}

static void test_failure_pattern_aborts(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "login: $");
	struct lp_hil_patterns *fail = pats(2, "Oops", "Kernel panic[^\n]*");
	struct lp_hil_match m;
	uint64_t t0 = lp_clock_mono_ms();
	const char *boot = "[    1.0] booting\n[    1.2] Kernel panic - not syncing: VFS\n";

	write_all(f->peer, boot, strlen(boot));
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, fail, 10000, &m), -ECANCELED);
	assert_true(lp_clock_mono_ms() - t0 < 5000);
	assert_true(m.failure);
	assert_int_equal(m.index, 1);
	assert_string_equal(m.text, "Kernel panic - not syncing: VFS");
	/* a wanted match earlier in the stream than a failure wins */
	write_all(f->peer, "login: \nOops", 12);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, fail, 2000, &m), 0);
	assert_false(m.failure);
	lp_hil_patterns_free(want);
	lp_hil_patterns_free(fail);
}

/* A writer child: 1 MiB on one line (far beyond the 4 KiB window), then the marker. */
static void test_huge_line(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "END-([0-9]+)$");
	struct lp_hil_match m;
	uint8_t *cap;
	size_t cap_len;
	bool trunc;

	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0) {
		char chunk[8192];

		memset(chunk, 'x', sizeof(chunk));
		for (int i = 0; i < 128; i++)
			write_all(f->peer, chunk, sizeof(chunk));
		write_all(f->peer, "END-42\n", 7);
		_exit(0);
	}
	lp_hil_expect_capture_start(f->exp, 4u << 20);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 20000, &m), 0);
	assert_string_equal(m.text, "END-42");
	lp_hil_expect_capture_take(f->exp, &cap, &cap_len, &trunc);
	assert_false(trunc);
	assert_int_equal(cap_len, 128 * 8192);
	for (size_t i = 0; i < cap_len; i++)
		if (cap[i] != 'x')
			fail_msg("byte %zu of the capture is 0x%02x", i, cap[i]);
	free(cap);
	lp_hil_patterns_free(want);
}

static void test_nul_and_binary_bytes(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "MARK");
	static const uint8_t data[] = {'a', 0, 0xff, 0x01, '\r', '\n', 'M', 'A', 'R', 'K'};
	struct lp_hil_match m;
	uint8_t *cap;
	size_t cap_len;

	write_all(f->peer, data, sizeof(data));
	lp_hil_expect_capture_start(f->exp, 1024);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, &m), 0);
	lp_hil_expect_capture_take(f->exp, &cap, &cap_len, NULL);
	assert_int_equal(cap_len, 6);
	assert_memory_equal(cap, data, 6);
	free(cap);
	lp_hil_patterns_free(want);
}

/* One large read must not push an early match out of the (4 KiB) window unseen. */
static void test_match_early_in_big_read(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "^START$");
	static uint8_t big[20000];
	struct lp_hil_match m;

	memset(big, 'y', sizeof(big));
	memcpy(big, "START\n", 6);
	lp_hil_expect_feed(f->exp, big, sizeof(big));
	assert_int_equal(lp_hil_expect_wait(f->exp, NULL, want, NULL, 0, &m), 0);
	assert_string_equal(m.text, "START");
	lp_hil_patterns_free(want);
}

static void test_log_has_timestamps(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "three");
	char buf[512] = "";
	FILE *fp;

	write_all(f->peer, "one\ntwo\nthree\n", 14);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, NULL), 0);
	fp = fopen(f->log, "r");
	assert_non_null(fp);
	for (int i = 0; i < 3; i++) {
		static const char *const words[] = {"one", "two", "three"};

		assert_non_null(fgets(buf, sizeof(buf), fp));
		/* 2026-11-25T22:31:18.342Z one */
		assert_int_equal(strlen(buf), 25 + strlen(words[i]) + 1);
		assert_int_equal(buf[4], '-');
		assert_int_equal(buf[10], 'T');
		assert_int_equal(buf[23], 'Z');
		assert_memory_equal(buf + 25, words[i], strlen(words[i]));
	}
	fclose(fp);
	lp_hil_patterns_free(want);
}

static void test_peer_gone(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_patterns *want = pats(1, "never");

	close(f->peer);
	f->peer = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(lp_hil_expect_wait(f->exp, f->con, want, NULL, 2000, NULL), -EPIPE);
	lp_hil_patterns_free(want);
}

/* ---- the scripted board with a real shell behind it ---- */

static ssize_t read_line(int fd, char *buf, size_t cap, bool echo, bool crlf)
{
	size_t n = 0;

	while (n + 1 < cap) {
		char ch;
		ssize_t k = read(fd, &ch, 1);

		if (k <= 0)
			return -1;
		if (echo) {
			if (ch == '\n' && crlf)
				write_all(fd, "\r\n", 2);
			else
				write_all(fd, &ch, 1);
		}
		if (ch == '\n')
			break;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Like a tty with ECHO and ONLCR: input is echoed, LF goes out as CR LF. */
static void relay(int fd, int to_sh, int from_sh, bool crlf)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = from_sh, .events = POLLIN}};
		char buf[4096], out[8192];
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				_exit(0);
			write_all(to_sh, buf, (size_t)n);
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n' && crlf)
					write_all(fd, "\r\n", 2);
				else
					write_all(fd, buf + i, 1);
			}
		}
		if (p[1].revents) {
			size_t o = 0;

			n = read(from_sh, buf, sizeof(buf));
			if (n <= 0)
				_exit(0);
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n' && crlf)
					out[o++] = '\r';
				out[o++] = buf[i];
			}
			write_all(fd, out, o);
		}
	}
}

static void fake_board(int fd, bool crlf)
{
	int in[2], out[2];
	char user[64], pass[64];
	pid_t sh;

	write_all(fd, "U-Boot 2023.01\nStarting kernel ...\n", 35);
	for (;;) {
		write_all(fd, "fakeboard login: ", 17);
		if (read_line(fd, user, sizeof(user), true, crlf) < 0)
			_exit(1);
		write_all(fd, "Password: ", 10);
		if (read_line(fd, pass, sizeof(pass), false, crlf) < 0)
			_exit(1);
		if (strcmp(user, "root") == 0 && strcmp(pass, "secret") == 0)
			break;
		write_all(fd, "\nLogin incorrect\n", 17);
	}
	if (pipe(in) < 0 || pipe(out) < 0)
		_exit(1);
	sh = fork();
	if (sh == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		execl("/bin/sh", "sh", "-i", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	relay(fd, in[1], out[0], crlf);
}

static void start_board(struct fixture *f, bool crlf)
{
	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0) {
		setpgid(0, 0);
		fake_board(f->peer, crlf);
		_exit(0);
	}
}

static const struct lp_hil_shell_config shell_cfg = {
	.prompt = "[#$] $",
	.login_prompt = "login: $",
	.password_prompt = "Password: $",
	.username = "root",
	.password = "secret",
	.timeout_ms = 10000,
};

static void run_ok(struct lp_hil_shell *sh, const char *cmd, int want_status, const void *want,
		   size_t want_len)
{
	struct lp_diag diag = {0};
	uint8_t *out = NULL;
	size_t len = 0;
	int status = -1;
	int r = lp_hil_shell_run(sh, cmd, 10000, &status, &out, &len, &diag);

	if (r < 0)
		fail_msg("run \"%s\": %d %s", cmd, r, diag.msg);
	assert_int_equal(status, want_status);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	free(out);
}

static void shell_session(struct fixture *f, bool crlf)
{
	const char *failure[] = {"Kernel panic"};
	struct lp_hil_shell *sh = NULL;
	struct lp_diag diag = {0};
	uint8_t *out = NULL;
	size_t len;
	int status, r;
	uint64_t t0;

	start_board(f, crlf);
	assert_int_equal(lp_hil_shell_new(f->con, f->exp, &shell_cfg, failure, 1, &sh, &diag), 0);
	r = lp_hil_shell_prepare(sh, 10000, &diag);
	if (r < 0)
		fail_msg("prepare: %s", diag.msg);
	run_ok(sh, "echo hello", 0, "hello\n", 6);
	run_ok(sh, "false", 1, "", 0);
	run_ok(sh, "exit 42", 42, "", 0);
	run_ok(sh, "printf 'no newline'", 0, "no newline", 10);
	run_ok(sh, "printf '\\001\\377\\000x\\r\\ny'", 0, "\001\377\000x\r\ny", 7);
	/* the markers' pieces in the command itself do not confuse the runner */
	run_ok(sh, "echo __LPS __LPE; echo '__ 7'", 0, "__LPS __LPE\n__ 7\n", 17);
	/* long output, several times the 4 KiB matching window */
	{
		size_t cap = 1 << 20, n = 0;
		char *want = malloc(cap);

		assert_non_null(want);
		for (int i = 1; i <= 30000; i++)
			n += (size_t)snprintf(want + n, cap - n, "%d\n", i);
		run_ok(sh, "i=1; while [ $i -le 30000 ]; do echo $i; i=$((i+1)); done", 0, want, n);
		free(want);
	}
	/* timeout: the command outlives it */
	t0 = lp_clock_mono_ms();
	r = lp_hil_shell_run(sh, "sleep 5", 400, &status, &out, &len, &diag);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(lp_clock_mono_ms() - t0 < 3000);
	assert_non_null(strstr(diag.msg, "timed out"));
	/* a failure pattern in the output aborts the command */
	lp_hil_expect_flush(f->exp);
	r = lp_hil_shell_run(sh, "sleep 1; echo 'Kernel panic - not syncing'; sleep 20", 15000,
			     &status, &out, &len, &diag);
	assert_int_equal(r, -ECANCELED);
	assert_true(lp_clock_mono_ms() - t0 < 10000);
	assert_non_null(strstr(diag.msg, "Kernel panic"));
	lp_hil_shell_free(sh);
}

static void test_shell_plain(void **state)
{
	shell_session(*state, false);
}

static void test_shell_crlf_echo(void **state)
{
	shell_session(*state, true);
}

static void test_login_fails(void **state)
{
	struct fixture *f = *state;
	struct lp_hil_shell_config cfg = shell_cfg;
	struct lp_hil_shell *sh = NULL;
	struct lp_diag diag = {0};

	cfg.password = "wrong";
	start_board(f, false);
	assert_int_equal(lp_hil_shell_new(f->con, f->exp, &cfg, NULL, 0, &sh, &diag), 0);
	assert_int_equal(lp_hil_shell_prepare(sh, 10000, &diag), -EACCES);
	assert_non_null(strstr(diag.msg, "login failed"));
	lp_hil_shell_free(sh);
}

static void test_bad_pattern(void **state)
{
	struct lp_hil_patterns *p = NULL;
	const char *res[] = {"ok", "a(b"};
	struct lp_diag diag = {0};

	assert_int_equal(lp_hil_patterns_new(res, 2, &p, &diag), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(diag.msg, "a(b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_across_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_match_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_pattern_aborts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_and_binary_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_early_in_big_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_has_timestamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shell_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shell_crlf_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_fails, setup, teardown),
		cmocka_unit_test(test_bad_pattern),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * The scenario script runner (lp_hil_script_run) without QEMU: a fake board behind a
 * unix-socket console whose power is a command writing to a FIFO; "on" prints a banner
 * and starts a real /bin/sh on the console connection, "off" kills it. A passing script
 * (boot, run, capture into {{VAR}}, the caller's variables, host commands that see the
 * captured values in their environment, expect across a host step, until, fail-on,
 * events and per-step timings), then one failing script per error class with the
 * failing step's line and text, the message, the exit status and the console's tail.
 */
#include <errno.h>
#include <limits.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline-hil/board.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/script.h"

static char dir[64];
static pid_t board_pid;
static struct lp_hil_inventory *inv;

/* ---- the fake board ---- */

static void kill_shell(pid_t *sh)
{
	if (*sh > 0) {
		kill(-*sh, SIGKILL);
		waitpid(*sh, NULL, 0);
	}
	*sh = 0;
}

static void start_shell(int conn, pid_t *sh)
{
	char banner[256] = "fake board booting\n", path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/banner", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, banner, sizeof(banner) - 1);
		banner[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	if (write(conn, banner, strlen(banner)) < 0)
		return;
	*sh = fork();
	if (*sh == 0) {
		setsid();
		dup2(conn, 0);
		dup2(conn, 1);
		dup2(conn, 2);
		execl("/bin/sh", "sh", "-i", (char *)NULL);
		_exit(127);
	}
}

/* Serves the console socket; the FIFO says "on" (banner, shell) and "off". */
static void board_loop(int ls, int fifo)
{
	int conn = -1;
	pid_t sh = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = ls, .events = POLLIN }, { .fd = fifo, .events = POLLIN } };
		char cmd[64];
		ssize_t n;

		if (poll(p, 2, 100) < 0)
			continue;
		if (sh > 0 && waitpid(sh, NULL, WNOHANG) == sh)
			sh = 0; /* the console closed: the shell read its end */
		if (p[0].revents) { /* the newest console connection wins */
			kill_shell(&sh);
			if (conn >= 0)
				close(conn);
			conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		}
		if (!p[1].revents)
			continue;
		n = read(fifo, cmd, sizeof(cmd) - 1);
		if (n <= 0)
			_exit(0);
		cmd[n] = '\0';
		/* one read may hold several commands ("off\non\n" under load) */
		for (char *line = cmd, *next; *line; line = next) {
			next = line + strcspn(line, "\n");
			if (*next)
				*next++ = '\0';
			if (strcmp(line, "off") == 0)
				kill_shell(&sh);
			else if (strcmp(line, "on") == 0 && conn >= 0 && sh == 0)
				start_shell(conn, &sh);
		}
	}
}

static int group_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char fifo[128], text[2048], name[128];
	struct lp_diag diag;
	int ls;

	snprintf(dir, sizeof(dir), "/tmp/lp-hil-run-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/board.sock", dir);
	snprintf(fifo, sizeof(fifo), "%s/power.fifo", dir);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	board_pid = fork();
	assert_true(board_pid >= 0);
	if (board_pid == 0) {
		int f = open(fifo, O_RDWR | O_CLOEXEC);

		if (f < 0)
			_exit(1);
		setpgid(0, 0);
		board_loop(ls, f);
	}
	close(ls);
	snprintf(text, sizeof(text),
		 "boards:\n"
		 "  fake:\n"
		 "    power: {driver: command, on: echo on > %s, off: echo off > %s,\n"
		 "            cycle_delay: 10ms, timeout: 5s}\n"
		 "    console: {driver: unix, path: %s}\n"
		 "    shell: {timeout: 10s}\n"
		 "    boot: {timeout: 10s}\n"
		 "  broken:\n"
		 "    power: {driver: command, on: 'true', off: exit 3, timeout: 5s}\n"
		 "    console: {driver: unix, path: %s}\n",
		 fifo, fifo, sa.sun_path, sa.sun_path);
	snprintf(name, sizeof(name), "%s/rack.yaml", dir);
	if (lp_hil_inventory_parse(text, strlen(text), name, &inv, &diag) < 0)
		fail_msg("inventory: %s", diag.msg);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	lp_hil_inventory_free(inv);
	if (board_pid > 0) {
		kill(-board_pid, SIGKILL);
		waitpid(board_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- running scripts ---- */

struct seen {
	char output[4096];
	char matched[256];
	char marks[256];
	size_t steps, done;
};

static void on_event(void *userdata, const struct lp_hil_script_event *ev)
{
	struct seen *s = userdata;

	switch (ev->kind) {
	case LP_HIL_SCRIPT_EV_STEP:
		s->steps++;
		break;
	case LP_HIL_SCRIPT_EV_DONE:
		assert_true(ev->result->ok);
		s->done++;
		break;
	case LP_HIL_SCRIPT_EV_OUTPUT:
		strncat(s->output, (const char *)ev->data,
			ev->len < sizeof(s->output) - strlen(s->output) - 1
				? ev->len : sizeof(s->output) - strlen(s->output) - 1);
		break;
	case LP_HIL_SCRIPT_EV_MATCH:
		snprintf(s->matched, sizeof(s->matched), "%s", ev->text);
		break;
	case LP_HIL_SCRIPT_EV_MARK: {
		size_t used = strlen(s->marks);

		snprintf(s->marks + used, sizeof(s->marks) - used, "%s ", ev->text);
		break;
	}
	default:
		break;
	}
}

static struct lp_hil_script_result *run_on(const char *board, const char *text,
					   const char *const *vars, size_t n_vars,
					   struct seen *seen)
{
	struct lp_hil_script_opts opts = {
		.event = on_event, .userdata = seen, .vars = vars, .n_vars = n_vars,
		.host_out = LP_PROC_OUT_NULL,
	};
	struct lp_hil_script_result *res = NULL;
	struct lp_hil_script *sc = NULL;
	struct lp_hil_board *b = NULL;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (lp_hil_script_parse(text, strlen(text), "t.hil", &sc, &diag) < 0)
		fail_msg("parse: %s", diag.msg);
	assert_int_equal(lp_hil_board_open(inv, board, &b, &diag), 0);
	assert_int_equal(lp_hil_script_run(b, sc, &opts, &res), 0);
	lp_hil_board_close(b);
	lp_hil_script_free(sc);
	return res;
}

static void test_passing_script(void **state)
{
	static const char *const vars[] = { "LPT_WORD=cheese" };
	char text[2048];
	struct seen seen = { 0 };
	struct lp_hil_script_result *res;

	unsetenv("N");
	snprintf(text, sizeof(text),
		 "boot @10s\n"
		 "mark booted\n"
		 "run echo board-says-{{LPT_WORD}}\n"
		 "capture N echo $((6 * 7))\n"
		 "run test \"$((40 + 2))\" = \"{{N}}\"\n"
		 "# captured and given values are in the environment of host commands\n"
		 "host test \"$N\" = 42 && test \"$LPT_WORD\" = cheese\n"
		 "run (sleep 0.3; echo late-{{N}}) &\n"
		 "host sleep 1\n"
		 "expect @5s late-42\n"
		 "host rm -f %s/flag; (sleep 0.5; touch %s/flag) >/dev/null 2>&1 &\n"
		 "until @10s test -e %s/flag\n"
		 "fail-on none\n"
		 "run echo Kernel panic - not really\n"
		 "fail-on default\n"
		 "capture N echo 43\n"
		 "run echo n-is-{{N}}\n"
		 "mark done\n",
		 dir, dir, dir);
	res = run_on("fake", text, vars, 1, &seen);
	if (!res->ok)
		fail_msg("%s:%u: %s (%s)", res->file, res->line, res->message, res->step);
	assert_int_equal(res->error, LP_HIL_SCRIPT_OK);
	assert_int_equal(res->err, 0);
	assert_int_equal(res->n_steps, 17);
	assert_int_equal(seen.steps, 17);
	assert_int_equal(seen.done, 17);
	assert_string_equal(res->console_tail, "");
	assert_non_null(strstr(seen.output, "board-says-cheese\n"));
	assert_non_null(strstr(seen.output, "Kernel panic - not really\n"));
	assert_non_null(strstr(seen.output, "n-is-43\n"));
	assert_string_equal(seen.matched, "late-42");
	assert_string_equal(seen.marks, "booted done ");
	/* per-step timings: in order, within the whole; the until tried more than once */
	for (size_t i = 0; i < res->n_steps; i++) {
		assert_true(res->steps[i].ok);
		if (i)
			assert_true(res->steps[i].start_ms >= res->steps[i - 1].start_ms +
								   res->steps[i - 1].duration_ms);
		assert_true(res->steps[i].start_ms + res->steps[i].duration_ms <= res->duration_ms);
	}
	assert_int_equal(res->steps[0].line, 1);
	assert_int_equal(res->steps[0].kind, LP_HIL_STEP_BOOT);
	assert_int_equal(res->steps[10].kind, LP_HIL_STEP_UNTIL);
	assert_true(res->steps[10].tries >= 2);
	assert_true(res->steps[7].duration_ms >= 900); /* host sleep 1 */
	/* captured values stay in the run */
	assert_null(getenv("N"));
	lp_hil_script_result_free(res);
}

struct failing {
	const char *script;
	enum lp_hil_script_error error;
	int err;
	unsigned line;
	const char *step;    /* the failing step's text */
	const char *message; /* a part of the message */
	int exit_status;
};

static void test_failures(void **state)
{
	static const char *const vars[] = { "BADPAT=([" };
	static const struct failing cases[] = {
		{ "boot\nrun echo tail-marker\nrun true\nrun exit 3\nrun echo not-reached\n",
		  LP_HIL_SCRIPT_ERR_COMMAND, -EIO, 4, "run exit 3",
		  "run: \"exit 3\" exited with status 3 on the board", 3 },
		{ "boot\nexpect @300ms never-printed\n", LP_HIL_SCRIPT_ERR_TIMEOUT, -ETIMEDOUT, 2,
		  "expect never-printed", "did not appear within 300 ms", 0 },
		{ "boot\nrun echo Kernel panic - fake\n", LP_HIL_SCRIPT_ERR_FAILURE_PATTERN,
		  -ECANCELED, 2, "run echo Kernel panic - fake", "Kernel panic", 0 },
		{ "boot\nhost exit 4\n", LP_HIL_SCRIPT_ERR_COMMAND, -EIO, 2, "host exit 4",
		  "host: \"exit 4\" exited with status 4", 4 },
		{ "boot\nhost @300ms sleep 5\n", LP_HIL_SCRIPT_ERR_TIMEOUT, -ETIMEDOUT, 2,
		  "host sleep 5", "did not finish within 0.3 s", 0 },
		{ "boot\nuntil @700ms echo try-output; false\n", LP_HIL_SCRIPT_ERR_TIMEOUT,
		  -ETIMEDOUT, 2, "until echo try-output; false", "last output: try-output", 0 },
		{ "boot\ncapture X printf 'a\\000b'\n", LP_HIL_SCRIPT_ERR_COMMAND, -EIO, 2,
		  "capture X printf 'a\\000b'", "printed a NUL byte", -1 },
		{ "boot\nrun echo {{LPT_UNSET_VARIABLE}}\n", LP_HIL_SCRIPT_ERR_SCRIPT, -EINVAL, 2,
		  "run echo {{LPT_UNSET_VARIABLE}}", "variable {{LPT_UNSET_VARIABLE}} is not set", 0 },
		{ "boot\nexpect x{{BADPAT}}\n", LP_HIL_SCRIPT_ERR_SCRIPT, -EINVAL, 2, "expect x([",
		  "expect: pattern", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct failing *c = &cases[i];
		struct seen seen = { 0 };
		struct lp_hil_script_result *res = run_on("fake", c->script, vars, 1, &seen);
		uint64_t t0 = lp_clock_mono_ms();

		if (res->ok)
			fail_msg("case %zu passed", i);
		if (res->error != c->error)
			fail_msg("case %zu: %s, not %s: %s:%u: %s", i,
				 lp_hil_script_error_name(res->error),
				 lp_hil_script_error_name(c->error), res->file, res->line, res->message);
		assert_int_equal(res->err, c->err);
		assert_string_equal(res->file, "t.hil");
		assert_int_equal(res->line, c->line);
		assert_string_equal(res->step, c->step);
		if (!strstr(res->message, c->message))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, res->message, c->message);
		assert_int_equal(res->exit_status, c->exit_status);
		/* the failing step is the last one that ran, and it is marked failed */
		assert_int_equal(res->steps[res->n_steps - 1].line, c->line);
		assert_false(res->steps[res->n_steps - 1].ok);
		assert_int_equal(seen.done, res->n_steps - 1);
		assert_null(strchr(res->console_tail, '\r'));
		assert_true(lp_clock_mono_ms() - t0 < 5000);
		if (i == 0) { /* what the board printed before the failure */
			size_t lines = 0;

			assert_non_null(strstr(res->console_tail, "tail-marker\n"));
			assert_null(strstr(seen.output, "not-reached"));
			for (const char *p = res->console_tail; *p; p++)
				lines += *p == '\n';
			assert_true(lines <= LP_HIL_SCRIPT_TAIL_LINES);
		}
		lp_hil_script_result_free(res);
	}
}

/* A boot that meets a failure pattern, and a power driver that fails. */
/* The matrix's harness steps: net, backend and action run through {{NET}}, {{BACKEND}}
 * and {{API}}; here fakes that record their arguments and serve action states. */
static void test_harness_steps(void **state)
{
	char net[PATH_MAX + 64], backend[PATH_MAX + 64], api[PATH_MAX + 64], path[PATH_MAX + 64];
	const char *vars[3] = { net, backend, api };
	char text[512];
	struct seen seen = { 0 };
	struct lp_hil_script_result *res;
	struct lp_hil_script *sc = NULL;
	struct lp_diag diag;
	char *calls = NULL;
	size_t len;
	static const char *const bad[] = {
		"net explode\n", "net throttle\n", "net cut now\n", "backend reboot\n",
		"action 7\n", "action 7 FINISHED; rm -rf x\n", "net cut;reboot\n",
	};

	snprintf(net, sizeof(net), "NET=echo >> %s/calls net", dir);
	snprintf(backend, sizeof(backend), "BACKEND=echo >> %s/calls backend", dir);
	snprintf(api, sizeof(api), "API=cat %s/api", dir);
	snprintf(path, sizeof(path), "%s/api/actions", dir);
	assert_int_equal(lp_fs_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/api/actions/7", dir);
	assert_int_equal(lp_fs_write_atomic(path, "{\"status\":\"FINISHED\"}", 21, 0644, 0), 0);
	snprintf(path, sizeof(path), "%s/api/actions/8", dir);
	assert_int_equal(lp_fs_write_atomic(path, "{\"status\":\"ERROR\"}", 18, 0644, 0), 0);
	snprintf(path, sizeof(path), "%s/calls", dir);
	unlink(path);

	snprintf(text, sizeof(text), "boot\nnet throttle 1m\nnet cut\nbackend restart\naction @5s 7 FINISHED\n");
	res = run_on("fake", text, vars, 3, &seen);
	if (!res->ok)
		fail_msg("%s:%u: %s (%s)", res->file, res->line, res->message, res->step);
	assert_int_equal(res->steps[1].kind, LP_HIL_STEP_NET);
	assert_int_equal(res->steps[3].kind, LP_HIL_STEP_BACKEND);
	assert_int_equal(res->steps[4].kind, LP_HIL_STEP_ACTION);
	lp_hil_script_result_free(res);
	if (lp_fs_read_file(path, 4096, &calls, &len) < 0)
		fail_msg("no %s", path);
	assert_string_equal(calls, "net throttle 1m\nnet cut\nbackend restart\n");
	free(calls);

	/* another final state fails at once, named in the step and the message */
	res = run_on("fake", "boot\naction @60s 8 FINISHED\n", vars, 3, &seen);
	assert_false(res->ok);
	assert_int_equal(res->error, LP_HIL_SCRIPT_ERR_COMMAND);
	assert_int_equal(res->line, 2);
	assert_string_equal(res->step, "action 8 FINISHED");
	assert_non_null(strstr(res->message, "action 8 is ERROR, not FINISHED"));
	assert_int_equal(res->steps[1].tries, 1);
	lp_hil_script_result_free(res);

	/* bad arguments are parse errors with the line */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lp_diag_clear(&diag);
		assert_int_equal(lp_hil_script_parse(bad[i], strlen(bad[i]), "t.hil", &sc, &diag), -EINVAL);
		assert_int_equal(diag.line, 1);
	}
	(void)state;
}

static void test_board_failures(void **state)
{
	char path[128];
	struct seen seen = { 0 };
	struct lp_hil_script_result *res;
	FILE *f;

	snprintf(path, sizeof(path), "%s/banner", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Booting\nKernel panic - not syncing: VFS\n", f);
	fclose(f);
	res = run_on("fake", "echo hello\nboot\n", NULL, 0, &seen);
	unlink(path);
	assert_false(res->ok);
	assert_int_equal(res->error, LP_HIL_SCRIPT_ERR_FAILURE_PATTERN);
	assert_int_equal(res->line, 2);
	assert_string_equal(res->step, "boot");
	assert_non_null(strstr(res->message, "failure pattern \"Kernel panic\" matched"));
	assert_non_null(strstr(res->console_tail, "Booting\nKernel panic - not syncing: VFS\n"));
	lp_hil_script_result_free(res);

	res = run_on("broken", "power off\n", NULL, 0, &seen);
	assert_false(res->ok);
	assert_int_equal(res->error, LP_HIL_SCRIPT_ERR_BOARD);
	assert_int_equal(res->err, -EIO);
	assert_non_null(strstr(res->message, "power off command failed with exit status 3"));
	lp_hil_script_result_free(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passing_script),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_board_failures),
		cmocka_unit_test(test_harness_steps),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: MIT */
/*
 * lib/proc: exit codes and signals, bounded capture (head and tail), stderr merged or
 * not, timeouts that kill the whole process group, leftovers killed on request, a
 * program that does not exist, environment and directory, the caller's descriptor
 * served while waiting, stopping a child that ignores SIGTERM, and stdin from a
 * descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"
#include "loopline/proc.h"

static int run_sh(const char *cmd, unsigned flags, unsigned timeout_ms, char *out, size_t out_size,
		  struct lp_proc_result *res)
{
	struct lp_proc_opts o = { .shell = cmd, .flags = flags };

	if (out) {
		o.out = LP_PROC_OUT_CAPTURE;
		o.err = LP_PROC_ERR_NULL;
	}
	return lp_proc_run(&o, timeout_ms, NULL, out, out_size, res);
}

static void test_exit_codes(void **state)
{
	struct lp_proc_result res;
	char out[64];

	assert_int_equal(run_sh("exit 0", 0, 5000, NULL, 0, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_false(res.timed_out);
	assert_int_equal(run_sh("exit 42", 0, 5000, NULL, 0, &res), 0);
	assert_int_equal(res.exit_code, 42);
	assert_int_equal(run_sh("kill -9 $$", 0, 5000, NULL, 0, &res), 0);
	assert_int_equal(res.exit_code, 128 + SIGKILL);
	/* a program that does not exist cannot be started */
	{
		const char *argv[] = { "lp-no-such-program-xyz", NULL };
		struct lp_proc_opts o = { .argv = argv };

		assert_int_equal(lp_proc_run(&o, 1000, NULL, NULL, 0, &res), -ENOENT);
	}
	/* exactly one of argv and shell */
	{
		const char *argv[] = { "true", NULL };
		struct lp_proc_opts o = { .argv = argv, .shell = "true" };

		assert_int_equal(lp_proc_run(&o, 1000, NULL, NULL, 0, &res), -EINVAL);
	}
	/* argv: no shell word splitting */
	{
		const char *argv[] = { "printf", "%s|", "a b", "c", NULL };
		struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_CAPTURE };

		assert_int_equal(lp_proc_run(&o, 5000, NULL, out, sizeof(out), &res), 0);
		assert_string_equal(out, "a b|c|");
	}
}

static void test_capture(void **state)
{
	struct lp_proc_result res;
	char out[11];

	/* 100 000 bytes through a 10-byte capture: the head ... */
	assert_int_equal(run_sh("seq 1 20000", 0, 5000, out, sizeof(out), &res), 0);
	assert_string_equal(out, "1\n2\n3\n4\n5\n");
	/* ... or the tail */
	assert_int_equal(run_sh("seq 1 20000", LP_PROC_KEEP_TAIL, 5000, out, sizeof(out), &res), 0);
	assert_string_equal(out, "999\n20000\n");
	/* stderr is dropped unless merged */
	assert_int_equal(run_sh("echo out; echo err >&2", 0, 5000, out, sizeof(out), &res), 0);
	assert_string_equal(out, "out\n");
	{
		struct lp_proc_opts o = { .shell = "echo out; echo err >&2",
					  .out = LP_PROC_OUT_CAPTURE,
					  .err = LP_PROC_ERR_STDOUT };

		assert_int_equal(lp_proc_run(&o, 5000, NULL, out, sizeof(out), &res), 0);
		assert_string_equal(out, "out\nerr\n");
	}
	/* stdin is /dev/null: cat ends at once */
	assert_int_equal(run_sh("cat; echo done", 0, 5000, out, sizeof(out), &res), 0);
	assert_string_equal(out, "done\n");
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0;
}

static void wait_gone(pid_t pid)
{
	for (int i = 0; i < 200 && alive(pid); i++)
		lp_clock_sleep_ms(10);
	assert_false(alive(pid));
}

static void test_timeout_kills_group(void **state)
{
	struct lp_proc_result res;
	uint64_t t0 = lp_clock_mono_ms();
	char out[64];
	pid_t bg;

	/* a background grandchild, then the shell waits: both die at the timeout */
	assert_int_equal(run_sh("sleep 30 & echo $!; wait", 0, 300, out, sizeof(out), &res),
			 -ETIMEDOUT);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, 128 + SIGKILL);
	assert_true(lp_clock_mono_ms() - t0 < 10000);
	bg = (pid_t)atoi(out);
	assert_true(bg > 0);
	wait_gone(bg);
}

static void test_leftovers(void **state)
{
	struct lp_proc_result res;
	char out[64];
	pid_t bg;

	/* without the flag a background child survives the shell (and does not block the
	 * call although it holds the output pipe) */
	assert_int_equal(run_sh("sleep 30 & echo $!", 0, 5000, out, sizeof(out), &res), 0);
	bg = (pid_t)atoi(out);
	assert_true(bg > 0 && alive(bg));
	kill(bg, SIGKILL);
	/* with it, nothing the command started outlives it */
	assert_int_equal(run_sh("sleep 30 & echo $!", LP_PROC_KILL_LEFTOVERS, 5000, out, sizeof(out),
				&res), 0);
	bg = (pid_t)atoi(out);
	assert_true(bg > 0);
	wait_gone(bg);
}

static void test_env_cwd(void **state)
{
	const char *envp[] = { "LP_X=hello", "PATH=/usr/bin:/bin", NULL };
	struct lp_proc_opts o = { .shell = "echo $LP_X; pwd", .envp = envp, .cwd = "/tmp",
				  .out = LP_PROC_OUT_CAPTURE };
	struct lp_proc_result res;
	char out[64];

	assert_int_equal(lp_proc_run(&o, 5000, NULL, out, sizeof(out), &res), 0);
	assert_string_equal(out, "hello\n/tmp\n");
	o.cwd = "/nonexistent-lp-dir";
	assert_int_equal(lp_proc_run(&o, 5000, NULL, out, sizeof(out), &res), -ENOENT);
}

struct watch_ctx {
	int fd;
	int calls;
	char got[64];
	size_t len;
};

static int watch_fd(void *ctx)
{
	return ((struct watch_ctx *)ctx)->fd;
}

static void watch_ready(void *ctx, short revents)
{
	struct watch_ctx *w = ctx;
	ssize_t n = read(w->fd, w->got + w->len, sizeof(w->got) - 1 - w->len);

	w->calls++;
	if (n <= 0) {
		close(w->fd);
		w->fd = -1;
		return;
	}
	w->len += (size_t)n;
	w->got[w->len] = '\0';
}

static void test_watch(void **state)
{
	struct watch_ctx w = { 0 };
	struct lp_proc_watch watch = { watch_fd, watch_ready, &w };
	struct lp_proc_opts o = { .shell = "sleep 0.3" };
	struct lp_proc_result res;
	int p[2];

	/* the other end is written by a second child while the first one runs */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	w.fd = p[0];
	if (fork() == 0) {
		lp_clock_sleep_ms(50);
		(void)!write(p[1], "console", 7);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(lp_proc_run(&o, 5000, &watch, NULL, 0, &res), 0);
	assert_string_equal(w.got, "console");
	assert_true(w.calls >= 1);
	if (w.fd >= 0)
		close(w.fd);
}

static void test_spawn_stop(void **state)
{
	struct lp_proc_opts o = { .shell = "trap '' TERM; echo ready; sleep 30",
				  .out = LP_PROC_OUT_CAPTURE };
	struct lp_proc *p = NULL;
	uint64_t t0;

	assert_int_equal(lp_proc_spawn(&o, &p), 0);
	assert_true(lp_proc_fd(p) >= 0);
	assert_int_equal(lp_proc_wait(p, 200, NULL, NULL), -ETIMEDOUT);
	assert_string_equal(lp_proc_output(p, NULL), "ready\n");
	assert_false(lp_proc_exited(p));
	t0 = lp_clock_mono_ms();
	/* SIGTERM is ignored: the grace passes, then SIGKILL */
	assert_int_equal(lp_proc_stop(p, 200), 0);
	assert_true(lp_clock_mono_ms() - t0 >= 190);
	assert_true(lp_proc_exited(p));
	assert_int_equal(lp_proc_exit_code(p), 128 + SIGKILL);
	assert_int_equal(lp_proc_kill(p, SIGTERM), -ESRCH);
	lp_proc_free(p);
	/* interrupted wait */
	{
		volatile sig_atomic_t stop = 1;

		o.shell = "sleep 30";
		o.out = LP_PROC_OUT_NULL;
		assert_int_equal(lp_proc_spawn(&o, &p), 0);
		assert_int_equal(lp_proc_wait(p, 5000, NULL, &stop), -EINTR);
		lp_proc_free(p); /* kills and reaps */
	}
	lp_proc_free(NULL);
}

static void test_output_fd(void **state)
{
	char path[] = "/tmp/lp-test-proc-XXXXXX", buf[64] = { 0 };
	struct lp_proc_opts o = { .shell = "echo to-file; echo err >&2", .out = LP_PROC_OUT_FD,
				  .err = LP_PROC_ERR_STDOUT };
	struct lp_proc_result res;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	o.out_fd = fd;
	assert_int_equal(lp_proc_run(&o, 5000, NULL, NULL, 0, &res), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), 12);
	assert_string_equal(buf, "to-file\nerr\n");
	close(fd);
	unlink(path);
	o.out_fd = -1;
	assert_int_equal(lp_proc_run(&o, 5000, NULL, NULL, 0, &res), -EBADF);
}

/* stdin from a descriptor: one end of a socketpair, as QEMU's guestfwd gives a command */
static void test_stdin_fd(void **state)
{
	struct lp_proc_opts o = { .shell = "tr a-z A-Z", .flags = LP_PROC_STDIN_FD,
				  .out = LP_PROC_OUT_FD };
	struct lp_proc_result res;
	char buf[16] = { 0 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	o.in_fd = o.out_fd = sv[1];
	assert_int_equal(write(sv[0], "hello", 5), 5);
	assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
	assert_int_equal(lp_proc_run(&o, 5000, NULL, NULL, 0, &res), 0);
	assert_int_equal(res.exit_code, 0);
	close(sv[1]);
	assert_int_equal(read(sv[0], buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "HELLO");
	close(sv[0]);
	o.in_fd = -1;
	assert_int_equal(lp_proc_run(&o, 5000, NULL, NULL, 0, &res), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),  cmocka_unit_test(test_capture),
		cmocka_unit_test(test_timeout_kills_group), cmocka_unit_test(test_leftovers),
		cmocka_unit_test(test_env_cwd),     cmocka_unit_test(test_watch),
		cmocka_unit_test(test_spawn_stop),  cmocka_unit_test(test_output_fd),
		cmocka_unit_test(test_stdin_fd),
	};

	signal(SIGCHLD, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

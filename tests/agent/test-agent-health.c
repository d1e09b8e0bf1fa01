/* SPDX-License-Identifier: MIT */
/* Commands with timeouts: exit statuses, signals, timeouts that kill the process group. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>
#include <cmocka.h>

#include "agent.h"

static struct agent_command make(char **argv, unsigned timeout)
{
	struct agent_command c = { .name = "t", .argv = argv, .timeout_s = timeout };

	while (argv[c.argc])
		c.argc++;
	return c;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_statuses(void **state)
{
	char *ok[] = { "/bin/true", NULL };
	char *bad[] = { "/bin/sh", "-c", "exit 3", NULL };
	char *sig[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	char *missing[] = { "/nonexistent/check", NULL };
	struct agent_command c;
	char why[256];
	int status = -1, r;

	(void)state;
	c = make(ok, 5);
	assert_int_equal(agent_command_run(&c, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(agent_command_describe(&c, "check", 0, status, NULL, why, sizeof(why)), 0);

	c = make(bad, 5);
	assert_int_equal(agent_command_run(&c, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(agent_command_describe(&c, "check", 0, status, NULL, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "exit status 3"));

	c = make(sig, 5);
	assert_int_equal(agent_command_run(&c, &status), 0);
	assert_int_equal(agent_command_describe(&c, "check", 0, status, NULL, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "signal 9"));

	c = make(missing, 5);
	r = agent_command_run(&c, &status);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(agent_command_describe(&c, "check", r, status, NULL, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "could not start"));
}

static void test_timeout_kills_group(void **state)
{
	/* The shell starts a grandchild holding stdout open; the timeout must kill both,
	 * and return promptly instead of waiting 30 s. */
	char *slow[] = { "/bin/sh", "-c", "sleep 30 & sleep 30; true", NULL };
	struct agent_command c = make(slow, 1);
	char why[256];
	double t0 = now_s();
	int status = 0, r;

	(void)state;
	r = agent_command_run(&c, &status);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(agent_command_describe(&c, "health check", r, status, NULL, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "timed out after 1 s"));
}

static void test_health_check_list(void **state)
{
	char *ok[] = { "/bin/true", NULL };
	char *bad[] = { "/bin/false", NULL };
	struct agent_command checks[2];
	struct agent_config cfg = { 0 };
	char why[256] = "";

	(void)state;
	checks[0] = make(ok, 5);
	checks[0].name = "first";
	checks[1] = make(bad, 5);
	checks[1].name = "second";
	cfg.health = checks;
	cfg.n_health = 1;
	assert_int_equal(agent_health_check(&cfg, why, sizeof(why)), 0);
	cfg.n_health = 2;
	assert_int_equal(agent_health_check(&cfg, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "\"second\""));
	cfg.n_health = 0;
	assert_int_equal(agent_health_check(&cfg, why, sizeof(why)), 0);
}

static void test_output_in_reason(void **state)
{
	/* what a failing check printed last (stdout and stderr) ends up in the reason */
	char *bad[] = { "/bin/sh", "-c",
			"echo starting; echo 'data partition:\tnot mounted' >&2; exit 1", NULL };
	/* 100 000 bytes of output: only the end is kept, and the pipe never blocks it */
	char *loud[] = { "/bin/sh", "-c",
			 "i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
			 "i=$((i+1)); done; echo last words; exit 2", NULL };
	/* exits but leaves a child holding the pipe: the agent must not wait for it */
	char pidfile[] = "/tmp/lp-health-orphan.XXXXXX";
	int pfd = mkstemp(pidfile);
	char script[128];
	char *orphan[] = { "/bin/sh", "-c", script, NULL };
	char *quiet_ok[] = { "/bin/sh", "-c", "echo all good", NULL };
	struct agent_command checks[1];
	struct agent_config cfg = { 0 };
	char why[AGENT_REASON_MAX] = "", out[AGENT_OUTPUT_TAIL];
	double t0;
	int status = 0;

	(void)state;
	assert_true(pfd >= 0);
	close(pfd);
	snprintf(script, sizeof(script), "echo bye; sleep 20 & echo $! > %s; exit 4", pidfile);
	cfg.health = checks;
	cfg.n_health = 1;
	checks[0] = make(bad, 5);
	checks[0].name = "data";
	assert_int_equal(agent_health_check(&cfg, why, sizeof(why)), -EIO);
	assert_string_equal(why, "health check \"data\" failed with exit status 1: "
				 "starting data partition: not mounted");

	checks[0] = make(loud, 10);
	assert_int_equal(agent_health_check(&cfg, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "exit status 2: "));
	assert_non_null(strstr(why, "last words"));
	assert_null(strstr(why, "line-0-"));
	assert_true(strlen(why) < 300);

	checks[0] = make(orphan, 30);
	t0 = now_s();
	assert_int_equal(agent_health_check(&cfg, why, sizeof(why)), -EIO);
	assert_true(now_s() - t0 < 10.0);
	assert_non_null(strstr(why, "exit status 4: bye"));
	{
		FILE *f = fopen(pidfile, "r");
		long pid = 0;

		assert_non_null(f);
		assert_int_equal(fscanf(f, "%ld", &pid), 1);
		fclose(f);
		unlink(pidfile);
		assert_true(pid > 1);
		kill((pid_t)pid, SIGKILL); /* the leftover the check started */
	}

	checks[0] = make(quiet_ok, 5);
	assert_int_equal(agent_command_run_output(&checks[0], &status, out, sizeof(out)), 0);
	assert_string_equal(out, "all good\n");
	assert_int_equal(agent_command_describe(&checks[0], "action", 0, status, out, why,
						sizeof(why)), 0);
	assert_string_equal(why, "action \"t\" succeeded: all good");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_health_check_list),
		cmocka_unit_test(test_output_in_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

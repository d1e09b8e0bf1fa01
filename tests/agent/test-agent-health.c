/* SPDX-License-Identifier: MIT */
/* Commands with timeouts: exit statuses, signals, timeouts that kill the process group. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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
	assert_int_equal(agent_command_describe(&c, "check", 0, status, why, sizeof(why)), 0);

	c = make(bad, 5);
	assert_int_equal(agent_command_run(&c, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(agent_command_describe(&c, "check", 0, status, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "exit status 3"));

	c = make(sig, 5);
	assert_int_equal(agent_command_run(&c, &status), 0);
	assert_int_equal(agent_command_describe(&c, "check", 0, status, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "signal 9"));

	c = make(missing, 5);
	r = agent_command_run(&c, &status);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(agent_command_describe(&c, "check", r, status, why, sizeof(why)), -EIO);
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
	assert_int_equal(r, -ETIME);
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(agent_command_describe(&c, "health check", r, status, why, sizeof(why)), -EIO);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_health_check_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

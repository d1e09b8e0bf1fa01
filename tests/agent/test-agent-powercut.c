/* SPDX-License-Identifier: MIT */
/*
 * The agent killed with SIGKILL right after every persisted step (LOOPLINE_AGENT_CRASH_AT)
 * of a successful update and of a health-check rollback, then either restarted in the same
 * boot or rebooted by bootsim. Whatever the point, the device must end consistent: state,
 * boot environment, slot contents and outbox agree, and a retried update succeeds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent-test.h"

#define IMAGE_LEN (64u * 1024u + 7u)
#define KILLED (128 + 9)

static uint8_t image[IMAGE_LEN];

static const char *const success_points[] = {
	"installing", "slot-written", "bootenv-activated", "installed", "booting-new",
	"verifying", "bootenv-committed", "committed",
};
static const char *const rollback_points[] = {
	"installing", "bootenv-activated", "installed", "booting-new", "verifying",
	"rolling-back", "bootenv-reverted", "rolled-back",
};

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* One scenario: crash at `point`; `reboot` chooses between restarting the agent in the same
 * boot and going straight to the next boot (a power cut). */
static void scenario(const char *point, bool health_fails, bool reboot)
{
	struct at_dev *d = calloc(1, sizeof(*d));
	struct lp_bootenv_boot b;
	struct agent_state st;
	char pkg[AT_PATH + 32], boot_id[32];
	bool crashed = false;
	long n;
	char *ob;

	assert_non_null(d);
	at_setup(d);
	snprintf(pkg, sizeof(pkg), "%s/u.lpkg", d->dir);
	at_make_package(d, pkg, "1.1.0", 3, "test-board", d->key, image, sizeof(image));
	if (health_fails) {
		FILE *f = fopen(d->health_flag, "w");

		assert_non_null(f);
		fclose(f);
	}

	for (int step = 0; step < 6; step++) {
		const char *crash = crashed ? NULL : point;
		int rc;

		snprintf(boot_id, sizeof(boot_id), "boot-%d", step);
		if (step == 0)
			rc = at_agent(d, "A", boot_id, crash, "install", pkg, "--action", "main:1", NULL);
		else
			rc = at_boot(d, NULL, boot_id, crash);
		if (rc == KILLED) {
			const char *slot = step == 0 ? "A" : at_booted_slot(d);

			assert_false(crashed);
			crashed = true;
			assert_non_null(slot);
			if (!reboot) {
				rc = at_agent(d, slot, boot_id, NULL, "boot", NULL);
				if (rc != 0)
					fail_msg("restart after a crash at %s: exit %d\n%s", point, rc, d->out);
			}
			continue;
		}
		if (rc != 0)
			fail_msg("step %d (crash at %s, %s): exit %d\n%s", step, point,
				 reboot ? "reboot" : "restart", rc, d->out);
	}
	if (!crashed)
		fail_msg("the crash point %s was never reached", point);

	at_state(d, &st);
	at_bootenv(d, &b);
	ob = at_outbox(d, &n);
	assert_false(b.upgrade_available);
	if (st.state == AGENT_STATE_COMMITTED) {
		assert_false(health_fails);
		assert_string_equal(b.boot_slot, "B");
		assert_string_equal(st.version, "1.1.0");
		assert_int_equal(st.security_version, 3);
		assert_true(at_slot_equals(d, AGENT_SLOT_B, image, sizeof(image)));
		assert_true(count(ob, "\"finished\":\"success\"") >= 1);
		assert_int_equal(count(ob, "\"finished\":\"failure\""), 0);
	} else if (st.state == AGENT_STATE_ROLLED_BACK) {
		assert_true(health_fails);
		assert_string_equal(b.boot_slot, "A");
		assert_int_equal(st.security_version, 0);
		assert_true(count(ob, "\"finished\":\"failure\"") >= 1);
		assert_int_equal(count(ob, "\"finished\":\"success\""), 0);
		assert_non_null(strstr(ob, "health check"));
	} else {
		/* interrupted before activation took effect */
		if (st.state != AGENT_STATE_IDLE || st.result != AGENT_RESULT_FAILURE)
			fail_msg("crash at %s (%s): inconsistent end state %s/%s", point,
				 reboot ? "reboot" : "restart", agent_state_name(st.state),
				 agent_result_name(st.result));
		assert_string_equal(b.boot_slot, "A");
		assert_non_null(strstr(st.reason, "interrupted"));
		assert_int_equal(count(ob, "\"finished\":\"failure\""), 1);
		/* and the update can simply be retried */
		unlink(d->health_flag);
		if (at_agent(d, "A", "boot-retry", NULL, "install", pkg, "--action", "main:2", NULL) != 0 ||
		    at_boot(d, NULL, NULL, NULL) != 0)
			fail_msg("retry after a crash at %s failed:\n%s", point, d->out);
		at_state(d, &st);
		assert_int_equal(st.state, AGENT_STATE_COMMITTED);
	}
	free(ob);
	at_teardown(d);
	free(d);
}

static void test_success_flow(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(success_points) / sizeof(success_points[0]); i++) {
		scenario(success_points[i], false, false);
		scenario(success_points[i], false, true);
	}
}

static void test_rollback_flow(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rollback_points) / sizeof(rollback_points[0]); i++) {
		scenario(rollback_points[i], true, false);
		scenario(rollback_points[i], true, true);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_flow),
		cmocka_unit_test(test_rollback_flow),
	};

	at_fill(image, sizeof(image), 3);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

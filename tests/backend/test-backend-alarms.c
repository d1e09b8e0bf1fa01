/* SPDX-License-Identifier: MIT */
/* Unit tests of backend/alarm-match.c (the rule kinds over events, including
 * rollout.paused, which only the rollout engine writes), the webhook signature
 * (alarm-send.c) and the alarm bodies (alarm-body.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"

static struct be_event ev(const char *type, const char *device, const char *message)
{
	return (struct be_event){ .id = 7, .time = 1700000000, .type = type, .device = device,
				  .action = 3, .message = message };
}

static void test_rollback_words(void **state)
{
	char reason[256];

	(void)state;
	assert_int_equal(be_alarm_rollback("rolled back to slot A (version 1.0.0): health check "
					   "failed: exit 3", reason, sizeof(reason)), BE_ROLLBACK_HEALTH);
	assert_string_equal(reason, "health check failed: exit 3");
	assert_int_equal(be_alarm_rollback("slot B with version 1.1.0 did not come up: the "
					   "bootloader fell back to slot A", reason, sizeof(reason)),
			 BE_ROLLBACK_BOOT);
	assert_string_equal(reason, "boot failure: the bootloader fell back to slot A");
	assert_int_equal(be_alarm_rollback("installation failed: no space", NULL, 0), BE_ROLLBACK_NONE);
	assert_int_equal(be_alarm_rollback("rolled back to slot A", NULL, 0), BE_ROLLBACK_NONE);
	assert_int_equal(be_alarm_rollback("slot B did not come up: the bootloader fell back to slot ",
					   NULL, 0), BE_ROLLBACK_NONE);
}

static void test_action_kinds(void **state)
{
	struct be_event rb = ev("action.failed", "dev1", "rolled back to slot A (version 1.0.0): x");
	struct be_event boot = ev("action.failed", "dev1", "slot B with version 1.1.0 did not come "
				  "up: the bootloader fell back to slot A");
	struct be_event fail = ev("action.failed", "dev2", "write error");
	struct be_event done = ev("action.finished", "dev2", "ok");
	struct be_alarm_hit h;

	(void)state;
	assert_true(be_alarm_match(BE_ALARM_ROLLBACK, 4, &rb, &h));
	assert_string_equal(h.device, "dev1");
	assert_string_equal(h.key, "4:dev1");
	assert_string_equal(h.title, "Update rolled back on dev1");
	assert_non_null(strstr(h.text, "Reason: x"));
	assert_int_equal(h.event, 7);
	assert_false(be_alarm_match(BE_ALARM_UPDATE_FAILED, 4, &rb, &h));
	assert_true(be_alarm_match(BE_ALARM_UPDATE_FAILED, 5, &fail, &h));
	assert_string_equal(h.title, "Update failed on dev2");
	assert_false(be_alarm_match(BE_ALARM_ROLLBACK, 4, &fail, &h));
	assert_false(be_alarm_match(BE_ALARM_UPDATE_FAILED, 4, &done, &h));
	assert_true(be_alarm_match(BE_ALARM_BOOT_FAILURES, 6, &boot, &h));
	assert_false(be_alarm_match(BE_ALARM_BOOT_FAILURES, 6, &rb, &h));
	assert_true(be_alarm_match(BE_ALARM_ROLLBACK, 4, &boot, &h));
	assert_string_equal(h.title, "Boot failure: rolled back on dev1");
	assert_false(be_alarm_match(BE_ALARM_DEVICE_SILENT, 8, &fail, &h));
}

static void test_rollout_kinds(void **state)
{
	struct be_event p = ev("rollout.paused", NULL, "rollout 3 (release 1.1.0) paused in wave 2: "
			       "12 of 50 failed, error threshold 10%");
	struct be_event d = ev("rollout.done", NULL, "rollout 3 (release 1.1.0) done: 50 of 50");
	struct be_event odd = ev("rollout.paused", NULL, "paused by an operator");
	struct be_alarm_hit h;

	(void)state;
	assert_true(be_alarm_match(BE_ALARM_ROLLOUT_PAUSED, 9, &p, &h));
	assert_string_equal(h.rollout, "rollout 3 (release 1.1.0)");
	assert_string_equal(h.title, "Rollout 3 (release 1.1.0) paused");
	assert_string_equal(h.text, p.message);
	assert_string_equal(h.level, "warning");
	assert_string_equal(h.key, "9:rollout 3 (release 1.1.0)");
	assert_false(be_alarm_match(BE_ALARM_ROLLOUT_DONE, 9, &p, &h));
	assert_true(be_alarm_match(BE_ALARM_ROLLOUT_DONE, 10, &d, &h));
	assert_string_equal(h.title, "Rollout 3 (release 1.1.0) done");
	assert_string_equal(h.level, "info");
	assert_true(be_alarm_match(BE_ALARM_ROLLOUT_PAUSED, 9, &odd, &h));
	assert_string_equal(h.rollout, "");
	assert_string_equal(h.title, "Rollout paused");
	assert_false(be_alarm_match(BE_ALARM_ROLLOUT_PAUSED, 9, &d, &h));
}

static void test_signature(void **state)
{
	char sig[80];
	const char body[] = "{\"id\":1}";

	(void)state;
	/* python3: hmac.new(b"key", b"1700000000." + body, hashlib.sha256).hexdigest() */
	assert_int_equal(be_alarm_signature("key", "1700000000", body, strlen(body), sig, sizeof(sig)), 0);
	assert_string_equal(sig, "sha256=1d542af0cd7355fefa5c19021ad89d3e2afd77ebff5448db280f180e013d2651");
	assert_int_equal(be_alarm_signature("key", "1", body, strlen(body), sig, 10), -EIO);
}

static void test_bodies(void **state)
{
	static const char ok[] = "{\"name\":\"r1\",\"kind\":\"boot_failures\",\"channels\":[\"a\",\"b\"],"
				 "\"params\":{\"count\":2}}";
	static const char dup[] = "{\"name\":\"r1\",\"kind\":\"rollback\",\"channels\":[\"a\",\"a\"]}";
	static const char smtp[] = "{\"name\":\"m\",\"kind\":\"smtp\",\"config\":{\"url\":\"smtp://h:25\","
				   "\"from\":\"a@b\",\"to\":[\"c@d\",\"x\"]}}";
	struct be_rule_req q;
	struct be_channel_req c;
	struct lp_diag d;

	(void)state;
	lp_diag_clear(&d);
	assert_int_equal(be_rule_req_parse(ok, strlen(ok), 4096, 8, &q, &d), 0);
	assert_int_equal(q.rule.count, 2);
	assert_int_equal(q.rule.window_s, 3600);
	assert_int_equal(q.rule.n_channels, 2);
	assert_int_equal(q.rule.dedupe_s, BE_ALARM_DEDUPE_DEFAULT);
	assert_int_equal(be_rule_req_parse(dup, strlen(dup), 4096, 8, &q, &d), -EINVAL);
	assert_string_equal(d.path, "channels[1]");
	assert_int_equal(be_channel_req_parse(smtp, strlen(smtp), 4096, 8, &c, &d), -EINVAL);
	assert_string_equal(d.path, "config.to[1]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollback_words),
		cmocka_unit_test(test_action_kinds),
		cmocka_unit_test(test_rollout_kinds),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

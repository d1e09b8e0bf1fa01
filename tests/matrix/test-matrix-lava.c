/* SPDX-License-Identifier: MIT */
/*
 * matrix/lava-results.c and lava-exec.c in-process: LAVA's logs in both spellings
 * (lava-run's "{…}" lines, the lab's "- {…}" YAML list, YAML-only forms such as the
 * non-specific tag `! "665"` and `\e`), the verdict (a failed test case is FAIL and named,
 * a passed job PASS, an incomplete job ERROR with LAVA's error type and message, a log
 * without a job result ERROR), garbage refused with the line, the console collected from
 * "target" lines, the REST test list with suites named by id, and result.json (with
 * console.log and steps.log) written for each verdict.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "loopline/fs.h"
#include "lava.h"

#define L(lvl, msg) "{\"dt\": \"2026-12-05T23:58:08.063959\", \"lvl\": \"" lvl "\", \"msg\": " msg "}\n"
#define RES(def, cs, res) L("results", "{\"case\": \"" cs "\", \"definition\": \"" def \
			    "\", \"endtc\": ! \"665\", \"result\": \"" res "\", \"starttc\": ! \"663\"}")

static const char log_pass[] =
	L("info", "\"lava-dispatcher, installed at version: 2023.01\"")
	L("results", "{\"case\": \"validate\", \"definition\": \"lava\", \"result\": \"pass\"}")
	L("target", "\"lpfw: version=1.0.0 slot=A\"")
	RES("0_install", "from-version", "pass")
	RES("0_install", "install", "pass")
	L("target", "\"\\e[0mloopline-boot: slot B (trial)\"")
	RES("1_after-reboot", "committed", "pass")
	L("results", "{\"case\": \"job\", \"definition\": \"lava\", \"result\": \"pass\"}");

static void test_log_pass(void **state)
{
	struct mx_lava_outcome o;
	struct mx_lava_texts console = { 0 };
	struct lp_diag d;

	lp_diag_clear(&d);
	assert_int_equal(mx_lava_log_parse(log_pass, strlen(log_pass), &o, &console, &d), 0);
	assert_int_equal(o.verdict, MX_LAVA_PASS);
	assert_int_equal(o.n_cases, 3);
	assert_int_equal(o.n_pass, 3);
	assert_int_equal(o.n_entries, 8);
	assert_string_equal(o.message, "3 of 3 LAVA test cases passed");
	assert_non_null(console.console.data);
	assert_non_null(strstr(console.console.data, "lpfw: version=1.0.0 slot=A\n"));
	assert_non_null(strstr(console.console.data, "\033[0mloopline-boot: slot B (trial)\n"));
	mx_lava_texts_free(&console);
}

static void test_log_lab_spelling(void **state)
{
	/* the lab's logs: the same entries as a YAML list */
	struct mx_buf b = { 0 };
	struct mx_lava_outcome o;
	struct lp_diag d;

	for (const char *s = log_pass; *s;) {
		const char *nl = strchr(s, '\n');

		mx_buf_puts(&b, "- ");
		mx_buf_add(&b, s, (size_t)(nl - s) + 1);
		s = nl + 1;
	}
	lp_diag_clear(&d);
	assert_int_equal(mx_lava_log_parse(b.data, b.len, &o, NULL, &d), 0);
	assert_int_equal(o.verdict, MX_LAVA_PASS);
	assert_int_equal(o.n_pass, 3);
	mx_buf_free(&b);
}

static void test_log_fail(void **state)
{
	static const char text[] =
		RES("0_install", "install", "pass")
		RES("1_after-reboot", "on-trial", "fail")
		RES("1_after-reboot", "committed", "fail")
		L("results", "{\"case\": \"job\", \"definition\": \"lava\", \"result\": \"pass\"}");
	struct mx_lava_outcome o;
	struct lp_diag d;

	lp_diag_clear(&d);
	assert_int_equal(mx_lava_log_parse(text, strlen(text), &o, NULL, &d), 0);
	assert_int_equal(o.verdict, MX_LAVA_FAIL);
	assert_string_equal(o.failed, "1_after-reboot: on-trial");
	assert_string_equal(o.message, "LAVA test case 1_after-reboot: on-trial failed (1 of 3 passed)");
}

static void test_log_incomplete(void **state)
{
	static const char text[] =
		RES("0_install", "install", "pass")
		L("error", "\"auto-login-action timed out after 120 seconds\"")
		L("results", "{\"case\": \"job\", \"definition\": \"lava\", \"error_msg\": "
		  "\"auto-login-action timed out after 120 seconds\", \"error_type\": \"Job\", "
		  "\"result\": \"fail\"}");
	static const char no_job[] = RES("0_install", "install", "pass")
		L("error", "\"Unable to start qemu\"");
	struct mx_lava_outcome o;
	struct lp_diag d;

	lp_diag_clear(&d);
	assert_int_equal(mx_lava_log_parse(text, strlen(text), &o, NULL, &d), 0);
	assert_int_equal(o.verdict, MX_LAVA_ERROR);
	assert_string_equal(o.message, "LAVA: Job: auto-login-action timed out after 120 seconds");
	assert_int_equal(mx_lava_log_parse(no_job, strlen(no_job), &o, NULL, &d), 0);
	assert_int_equal(o.verdict, MX_LAVA_ERROR);
	assert_string_equal(o.message, "LAVA: Unable to start qemu");
}

static void bad(const char *text, const char *want)
{
	struct mx_lava_outcome o;
	struct lp_diag d;

	lp_diag_clear(&d);
	assert_int_equal(mx_lava_log_parse(text, strlen(text), &o, NULL, &d), -EBADMSG);
	if (!strstr(d.msg, want))
		fail_msg("\"%s\": got \"%s\", want \"%s\"", text, d.msg, want);
}

static void test_log_garbage(void **state)
{
	bad("", "an empty LAVA log");
	bad("\n\n", "an empty LAVA log");
	bad(L("info", "\"x\"") "<html>502 Bad Gateway</html>\n", "line 2: not a LAVA log entry");
	bad("{\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"unterminated}\n", "line 1: a LAVA log entry that is not a JSON object");
	bad("[1, 2]\n", "line 1: not a LAVA log entry");
	bad("{\"dt\": \"x\", \"msg\": \"no level\"}\n", "line 1: a LAVA log entry without \"lvl\"");
	bad(L("results", "{\"case\": \"x\", \"result\": \"pass\"}"),
	    "line 1: a result without definition, case or result");
	bad("- {\"lvl\": \"info\", \"msg\": [unclosed\n", "line 1: a LAVA log entry that is not a JSON object");
}

static void test_tests_list(void **state)
{
	static const char suites[] = "{\"count\": 3, \"results\": [{\"id\": 7, \"name\": \"lava\"}, "
				     "{\"id\": 8, \"name\": \"0_install\"}, {\"id\": 9, \"name\": \"1_after-reboot\"}]}";
	static const char tests[] = "{\"count\": 4, \"next\": null, \"results\": ["
		"{\"suite\": 7, \"name\": \"validate\", \"result\": \"pass\"}, "
		"{\"suite\": 8, \"name\": \"install\", \"result\": \"pass\"}, "
		"{\"suite\": 9, \"name\": \"committed\", \"result\": \"fail\"}, "
		"{\"suite\": 7, \"name\": \"job\", \"result\": \"pass\"}]}";
	struct mx_lava_outcome o = { 0 };
	struct lp_diag d;

	lp_diag_clear(&d);
	assert_int_equal(mx_lava_tests_parse(tests, strlen(tests), suites, strlen(suites), &o, &d), 0);
	mx_lava_outcome_decide(&o);
	assert_int_equal(o.verdict, MX_LAVA_FAIL);
	assert_string_equal(o.failed, "1_after-reboot: committed");
	assert_int_equal(o.n_cases, 2);
	assert_true(o.job_seen && o.job_passed);
	/* without the suites: named by id, still not LAVA's own */
	memset(&o, 0, sizeof(o));
	assert_int_equal(mx_lava_tests_parse(tests, strlen(tests), NULL, 0, &o, &d), 0);
	assert_string_equal(o.failed, "suite-9: committed");
	assert_int_equal(mx_lava_tests_parse("[]", 2, NULL, 0, &o, &d), -EBADMSG);
	assert_string_equal(d.msg, "the test list is not a JSON object");
	assert_int_equal(mx_lava_tests_parse("{\"results\": [{\"suite\": 1}]}", 27, NULL, 0, &o, &d),
			 -EBADMSG);
	assert_string_equal(d.msg, "results[0]: no suite, name or result");
	assert_int_equal(mx_lava_tests_parse(tests, strlen(tests), "{}", 2, &o, &d), -EBADMSG);
	assert_string_equal(d.msg, "the suite list has no \"results\" array");
}

static cJSON *read_result(const char *dir)
{
	char path[256], *text = NULL;
	size_t len;
	cJSON *o;

	snprintf(path, sizeof(path), "%s/result.json", dir);
	assert_int_equal(lp_fs_read_file(path, 1 << 20, &text, &len), 0);
	o = cJSON_Parse(text);
	free(text);
	assert_non_null(o);
	return o;
}

static void test_record(void **state)
{
	static const char fail_log[] = L("target", "\"the console\"") RES("0_install", "install", "fail")
		L("results", "{\"case\": \"job\", \"definition\": \"lava\", \"result\": \"pass\"}");
	char dir[] = "/tmp/lp-mx-lava-XXXXXX", cmd[64], path[128], *text = NULL;
	size_t len;
	cJSON *o;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(mx_lava_record(dir, log_pass, strlen(log_pass)), 0);
	o = read_result(dir);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict")), "pass");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "message")),
			    "3 of 3 LAVA test cases passed");
	cJSON_Delete(o);
	snprintf(path, sizeof(path), "%s/console.log", dir);
	assert_int_equal(lp_fs_read_file(path, 1 << 20, &text, &len), 0);
	assert_non_null(strstr(text, "lpfw: version=1.0.0 slot=A"));
	free(text);
	snprintf(path, sizeof(path), "%s/steps.log", dir);
	assert_int_equal(lp_fs_read_file(path, 1 << 20, &text, &len), 0);
	assert_string_equal(text, "pass  0_install: from-version\npass  0_install: install\n"
			    "pass  1_after-reboot: committed\n");
	free(text);

	assert_int_equal(mx_lava_record(dir, fail_log, strlen(fail_log)), 0);
	o = read_result(dir);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict")), "fail");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "failed_step")), "0_install: install");
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "console")), "the console"));
	cJSON_Delete(o);

	assert_int_equal(mx_lava_record(dir, "garbage\n", 8), 0);
	o = read_result(dir);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict")), "error");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "message")),
			    "LAVA's log: line 1: not a LAVA log entry (\"{…}\" or \"- {…}\")");
	cJSON_Delete(o);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_pass),
		cmocka_unit_test(test_log_lab_spelling),
		cmocka_unit_test(test_log_fail),
		cmocka_unit_test(test_log_incomplete),
		cmocka_unit_test(test_log_garbage),
		cmocka_unit_test(test_tests_list),
		cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

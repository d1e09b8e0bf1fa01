/* SPDX-License-Identifier: MIT */
/*
 * matrix/report*.c: the JSON report parsed back strictly with cJSON (every result, counts
 * by status and class, the gate), XML/HTML escaping (entities, characters XML 1.0
 * forbids, bytes that are not UTF-8), the JUnit elements per status, the HTML grid
 * (default and chosen axes, NEW marks, required marks, relative log links, unknown keys
 * refused) and the text table (ASCII without colour, letters when narrow).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopline/json.h"
#include "mx-fake.h"

struct fx {
	char dir[32];
	struct mx_db *db;
	struct mx_report *rep;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[64];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mx-report-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(mxf_make_history(f->dir, MXF_ALL), 0);
	snprintf(path, sizeof(path), "%s/history.sqlite", f->dir);
	assert_int_equal(mx_db_open(path, &f->db, NULL), 0);
	assert_int_equal(mx_report_load(f->db, 0, &f->rep, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[64];

	mx_report_free(f->rep);
	mx_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_load(void **state)
{
	struct fx *f = *state;
	struct mx_counts c;

	assert_int_equal(f->rep->run.id, 2);
	assert_int_equal(f->rep->run.previous_id, 1);
	assert_int_equal(f->rep->n_results, 20);          /* 19 results + 1 missing */
	assert_true(f->rep->results[19].missing);
	assert_int_equal(f->rep->n_previous, 20);
	assert_int_equal(f->rep->n_components, 3);
	assert_non_null(strstr(f->rep->run_dir, "/runs/2"));
	mx_report_count(f->rep, &c);
	assert_int_equal(c.total, 20);
	assert_int_equal(c.required, 10);
	assert_int_equal(c.missing, 1);
	assert_int_equal(c.status[MX_STATUS_FAIL], 4);
	assert_int_equal(c.status[MX_STATUS_ERROR], 2);
	assert_int_equal(c.status[MX_STATUS_FLAKY], 2);
	assert_int_equal(c.status[MX_STATUS_SKIPPED], 3);  /* 2 skipped + 1 missing */
	assert_int_equal(c.status[MX_STATUS_RUNNING], 2);
	assert_int_equal(c.status[MX_STATUS_PASS], 7);
	/* NEW: the fail and error that passed in run 1, the flaky one; not the old failure */
	for (size_t i = 0; i < f->rep->n_results; i++) {
		const struct mx_result *r = &f->rep->results[i];
		bool want = !r->missing && (r->status == MX_STATUS_FLAKY || r->status == MX_STATUS_ERROR ||
					    (r->status == MX_STATUS_FAIL && strstr(r->combo_key, "agent=current")));

		if (mx_report_is_new(f->rep, r) != want)
			fail_msg("%s / %s (%s): new is %d", r->combo_key, r->scenario,
				 mx_status_name(r->status), !want);
	}
}

static void test_json(void **state)
{
	struct fx *f = *state;
	struct mx_buf b = { 0 };
	struct lp_diag d;
	cJSON *root = NULL;
	const cJSON *results, *summary, *it;
	int news = 0;

	assert_int_equal(mx_report_json_text(f->rep, &b), 0);
	lp_diag_clear(&d);
	if (lp_json_parse(b.data, b.len, MX_REPORT_MAX, 0, &root, &d) < 0)
		fail_msg("the JSON report does not parse: %u:%u %s", d.line, d.column, d.msg);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "format")->valuestring,
			    "loopline-matrix-report");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "run"), "id")->valueint, 2);
	summary = cJSON_GetObjectItemCaseSensitive(root, "summary");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(summary, "total")->valueint, 20);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(summary, "by_status"), "fail")->valueint, 4);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(summary, "by_class"), "infra")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "gate"), "decision")->valuestring, "failed");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "components")), 3);
	results = cJSON_GetObjectItemCaseSensitive(root, "results");
	assert_int_equal(cJSON_GetArraySize(results), 20);
	cJSON_ArrayForEach(it, results) {
		const cJSON *axes = cJSON_GetObjectItemCaseSensitive(it, "axes");

		assert_true(cJSON_IsObject(axes));
		assert_non_null(cJSON_GetObjectItemCaseSensitive(axes, "target"));
		assert_non_null(cJSON_GetObjectItemCaseSensitive(it, "console_excerpt"));
		assert_non_null(cJSON_GetObjectItemCaseSensitive(it, "attempt_list"));
		news += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "new"));
		if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "status")->valuestring, "flaky") == 0)
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "attempt_list")), 2);
	}
	assert_int_equal(news, 6);
	cJSON_Delete(root);
	mx_buf_free(&b);
}

static void test_escape(void **state)
{
	struct mx_buf b = { 0 };

	(void)state;
	mx_buf_escape(&b, "a<b>&\"c'\x1b[31m\x01\x7f\xc3\xa9\xff\xef\xbf\xbe\xed\xa0\x80z\n\t", false);
	assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&#39;[31m\x7f\xc3\xa9\xef\xbf\xbd"
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\n\t");
	mx_buf_free(&b);
	mx_buf_escape(&b, "line1\nline2\t.", true);
	assert_string_equal(b.data, "line1&#10;line2&#9;.");
	mx_buf_free(&b);
}

static void test_junit(void **state)
{
	struct fx *f = *state;
	struct mx_buf b = { 0 };

	assert_int_equal(mx_report_junit(f->rep, &b), 0);
	assert_int_equal(count(b.data, "<testcase "), 20);
	assert_int_equal(count(b.data, "<failure "), 4);
	assert_int_equal(count(b.data, "<error "), 4);   /* 2 infra errors, 2 running */
	assert_int_equal(count(b.data, "<skipped "), 3);
	assert_int_equal(count(b.data, "<flakyFailure "), 2);
	assert_non_null(strstr(b.data, "tests=\"20\" failures=\"4\" errors=\"4\" skipped=\"3\""));
	assert_non_null(strstr(b.data, "classname=\"target=qemu-x86_64,backend=current,agent=current,"
					"from=1.0.0,to=1.1.0,env=uboot\" name=\"rollback-health\""));
	assert_non_null(strstr(b.data, "step: rollback-health.hil:12: expect lpfw: version=1.0.0 &lt;rolled back&gt;"));
	assert_non_null(strstr(b.data, "loopline-agent: update committed &lt;slot B&gt;"));
	assert_null(strchr(b.data, '\x1b'));
	assert_null(strchr(b.data, '\x01'));
	mx_buf_free(&b);
}

static void test_html(void **state)
{
	struct fx *f = *state;
	struct mx_buf b = { 0 };
	struct lp_diag d;

	assert_int_equal(mx_report_html(f->rep, NULL, NULL, "", &b, NULL), 0);
	assert_non_null(strstr(b.data, "<!DOCTYPE html>"));
	assert_null(strstr(b.data, "http://"));  /* self-contained: nothing fetched */
	assert_null(strstr(b.data, "https://"));
	assert_null(strstr(b.data, "<script"));
	assert_non_null(strstr(b.data, "GATE: FAILED"));
	/* default rows: the axes that vary (target, agent); columns: the scenarios */
	assert_non_null(strstr(b.data, "<th class=\"axis\">target</th><th class=\"axis\">agent</th>"
					"<th>update</th><th>rollback-health</th>"));
	assert_int_equal(count(b.data, "<td class=\"c "), 20);
	assert_int_equal(count(b.data, "class=\"new\" title"), 6);
	assert_non_null(strstr(b.data, "href=\"cases/qemu-x86_64-current-rollback-health/steps.log\""));
	assert_non_null(strstr(b.data, "href=\"cases/qemu-x86_64-current-rollback-health/console.log\""));
	assert_non_null(strstr(b.data, "NOT RUN"));
	assert_int_equal(count(b.data, " req\" id="), 10); /* required cells framed */
	mx_buf_free(&b);
	/* chosen axes, a prefix to reach the run directory */
	assert_int_equal(mx_report_html(f->rep, "agent", "target,scenario", "../runs/2/", &b, NULL), 0);
	assert_non_null(strstr(b.data, "<th>qemu-x86_64 \xc2\xb7 update</th>"));
	assert_non_null(strstr(b.data, "href=\"../runs/2/cases/"));
	mx_buf_free(&b);
	lp_diag_clear(&d);
	assert_int_equal(mx_report_html(f->rep, "nosuchaxis", NULL, "", &b, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "nosuchaxis"));
	mx_buf_free(&b);
}

static void test_text(void **state)
{
	struct fx *f = *state;
	struct mx_buf b = { 0 };

	assert_int_equal(mx_report_text(f->rep, false, 200, &b), 0);
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] >= 0x80 || b.data[i] == '\x1b')
			fail_msg("not plain ASCII at %zu: %.40s", i, b.data + i);
	assert_non_null(strstr(b.data, "rollback-health"));
	assert_non_null(strstr(b.data, "FAIL new"));
	assert_non_null(strstr(b.data, "total: 20 cases (10 required): 7 pass, 4 FAIL, 2 ERROR, 2 flaky, 2 skipped, 2 running, 1 missing"));
	assert_non_null(strstr(b.data, "gate: failed: 2 of 10 required cases failed"));
	mx_buf_free(&b);
	/* narrow: letters and a legend */
	assert_int_equal(mx_report_text(f->rep, true, 60, &b), 0);
	assert_non_null(strstr(b.data, "1=update"));
	assert_non_null(strstr(b.data, "F+"));
	assert_non_null(strstr(b.data, "\033[1;31m"));
	mx_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test_setup_teardown(test_junit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

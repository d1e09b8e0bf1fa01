/* SPDX-License-Identifier: MIT */
/*
 * matrix/gate.c: the decision table (pass, fail, flaky, error, skipped, running, missing
 * × class × required or not), the run-level decision and exit codes, and the --json
 * shape ({decision, run, spec, counts, reasons, flaky}) parsed back strictly.
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

#include "loopline/cli.h"
#include "loopline/json.h"
#include "mx-fake.h"

struct row {
	enum mx_status status;
	enum mx_class class;
	bool missing;
	enum mx_verdict verdict;
};

static const struct row table[] = {
	{ MX_STATUS_PASS, MX_CLASS_NONE, false, MX_VERDICT_PASSED },
	{ MX_STATUS_FLAKY, MX_CLASS_NONE, false, MX_VERDICT_FLAKY },
	{ MX_STATUS_FLAKY, MX_CLASS_PRODUCT, false, MX_VERDICT_FLAKY },
	{ MX_STATUS_FAIL, MX_CLASS_PRODUCT, false, MX_VERDICT_FAILED },
	{ MX_STATUS_FAIL, MX_CLASS_NONE, false, MX_VERDICT_FAILED },
	{ MX_STATUS_FAIL, MX_CLASS_INFRA, false, MX_VERDICT_UNTESTED },
	{ MX_STATUS_ERROR, MX_CLASS_INFRA, false, MX_VERDICT_UNTESTED },
	{ MX_STATUS_ERROR, MX_CLASS_NONE, false, MX_VERDICT_UNTESTED },
	{ MX_STATUS_ERROR, MX_CLASS_PRODUCT, false, MX_VERDICT_FAILED },
	{ MX_STATUS_SKIPPED, MX_CLASS_NONE, false, MX_VERDICT_UNTESTED },
	{ MX_STATUS_RUNNING, MX_CLASS_NONE, false, MX_VERDICT_UNTESTED },
	{ MX_STATUS_SKIPPED, MX_CLASS_NONE, true, MX_VERDICT_UNTESTED },
	{ MX_STATUS_PASS, MX_CLASS_NONE, true, MX_VERDICT_UNTESTED }, /* missing wins */
};

static void test_verdicts(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(table); i++) {
		struct mx_result r;

		memset(&r, 0, sizeof(r));
		r.status = table[i].status;
		r.class = table[i].class;
		r.missing = table[i].missing;
		if (mx_gate_verdict(&r) != table[i].verdict)
			fail_msg("row %zu (%s/%s%s): %s, expected %s", i, mx_status_name(r.status),
				 mx_class_name(r.class), r.missing ? "/missing" : "",
				 mx_verdict_name(mx_gate_verdict(&r)), mx_verdict_name(table[i].verdict));
	}
}

/* A report of one required case with the given row and one optional case that fails
 * (which must never matter). */
static void decide(const struct row *req_row, bool with_required, enum mx_gate_decision want)
{
	struct mx_report rep;
	struct mx_result res[2];
	struct mx_gate *g = NULL;

	memset(&rep, 0, sizeof(rep));
	memset(res, 0, sizeof(res));
	rep.run.id = 5;
	snprintf(rep.run.spec_name, sizeof(rep.run.spec_name), "demo");
	snprintf(res[0].combo_key, sizeof(res[0].combo_key), "target=a");
	snprintf(res[0].scenario, sizeof(res[0].scenario), "update");
	res[0].status = req_row->status;
	res[0].class = req_row->class;
	res[0].missing = req_row->missing;
	res[0].required = with_required;
	res[0].attempts = 2;
	snprintf(res[0].message, sizeof(res[0].message), "why it ended so");
	snprintf(res[1].combo_key, sizeof(res[1].combo_key), "target=b");
	snprintf(res[1].scenario, sizeof(res[1].scenario), "update");
	res[1].status = MX_STATUS_FAIL;
	res[1].class = MX_CLASS_PRODUCT;
	rep.results = res;
	rep.n_results = 2;
	assert_int_equal(mx_gate_decide(&rep, &g), 0);
	if (g->decision != want)
		fail_msg("%s/%s%s required=%d: %s, expected %s", mx_status_name(req_row->status),
			 mx_class_name(req_row->class), req_row->missing ? "/missing" : "",
			 with_required, mx_gate_decision_name(g->decision), mx_gate_decision_name(want));
	if (with_required) {
		assert_int_equal(g->n_required, 1);
		assert_int_equal(g->n_reasons, want == MX_GATE_PASS ? 0 : 1);
		assert_int_equal(g->n_flaky, req_row->verdict == MX_VERDICT_FLAKY);
		if (g->n_reasons)
			assert_true(strlen(g->reasons[0].why) > 0);
	} else {
		assert_int_equal(g->n_required, 0);
	}
	mx_gate_free(g);
}

static void test_decisions(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(table); i++) {
		enum mx_gate_decision want = table[i].verdict == MX_VERDICT_FAILED     ? MX_GATE_FAILED
					     : table[i].verdict == MX_VERDICT_UNTESTED ? MX_GATE_UNTESTED
										       : MX_GATE_PASS;

		decide(&table[i], true, want);
		/* not required: never decides; with nothing required the run is untested */
		decide(&table[i], false, MX_GATE_UNTESTED);
	}
	assert_int_equal(mx_gate_exit_code(MX_GATE_PASS), 0);
	assert_int_equal(mx_gate_exit_code(MX_GATE_FAILED), LP_EXIT_GATE_FAILED);
	assert_int_equal(mx_gate_exit_code(MX_GATE_UNTESTED), LP_EXIT_GATE_UNTESTED);
	assert_int_equal(LP_EXIT_GATE_FAILED, 30);
	assert_int_equal(LP_EXIT_GATE_UNTESTED, 31);
}

/* failed beats untested; the reasons list the failed first */
static void test_failed_before_untested(void **state)
{
	struct mx_report rep;
	struct mx_result res[3];
	struct mx_gate *g = NULL;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 3; i++) {
		snprintf(res[i].combo_key, sizeof(res[i].combo_key), "k=%d", i);
		snprintf(res[i].scenario, sizeof(res[i].scenario), "update");
		res[i].required = true;
	}
	res[0].status = MX_STATUS_ERROR;
	res[0].class = MX_CLASS_INFRA;
	res[1].status = MX_STATUS_FAIL;
	res[1].class = MX_CLASS_PRODUCT;
	res[2].status = MX_STATUS_PASS;
	rep.results = res;
	rep.n_results = 3;
	assert_int_equal(mx_gate_decide(&rep, &g), 0);
	assert_int_equal(g->decision, MX_GATE_FAILED);
	assert_int_equal(g->n_reasons, 2);
	assert_string_equal(g->reasons[0].result->combo_key, "k=1");
	assert_int_equal(g->reasons[0].verdict, MX_VERDICT_FAILED);
	assert_int_equal(g->reasons[1].verdict, MX_VERDICT_UNTESTED);
	assert_int_equal(g->n_failed, 1);
	assert_int_equal(g->n_untested, 1);
	assert_int_equal(g->n_passed, 1);
	mx_gate_free(g);
}

/* The synthetic histories end as their names say, and --json parses back. */
static void gate_of(enum mxf_variant v, enum mx_gate_decision want, size_t want_reasons)
{
	char dir[] = "/tmp/mx-gate-XXXXXX", path[64], cmd[64];
	struct mx_db *db = NULL;
	struct mx_report *rep = NULL;
	struct mx_gate *g = NULL;
	cJSON *j, *back = NULL;
	char *text;
	const cJSON *reasons, *flaky, *counts;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(mxf_make_history(dir, v), 0);
	snprintf(path, sizeof(path), "%s/history.sqlite", dir);
	assert_int_equal(mx_db_open(path, &db, NULL), 0);
	assert_int_equal(mx_report_load(db, 0, &rep, NULL), 0);
	assert_int_equal(rep->run.id, 2);
	assert_int_equal(mx_gate_decide(rep, &g), 0);
	assert_int_equal(g->decision, want);
	assert_int_equal(g->n_reasons, want_reasons);
	j = mx_gate_json(g, rep);
	assert_non_null(j);
	text = lp_json_print(j);
	assert_int_equal(lp_json_parse(text, strlen(text), 1 << 20, 0, &back, NULL), 0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(back, "decision")->valuestring,
			    mx_gate_decision_name(want));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(back, "run")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(back, "spec"), "name")->valuestring, "demo");
	counts = cJSON_GetObjectItemCaseSensitive(back, "counts");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(counts, "required")->valueint, 10);
	reasons = cJSON_GetObjectItemCaseSensitive(back, "reasons");
	assert_int_equal(cJSON_GetArraySize(reasons), (int)want_reasons);
	flaky = cJSON_GetObjectItemCaseSensitive(back, "flaky");
	assert_true(cJSON_IsArray(flaky));
	assert_int_equal(cJSON_GetArraySize(flaky), (int)g->n_flaky);
	if (g->n_flaky) /* a flaky case says what failed first */
		assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(flaky, 0),
								 "first_failure"));
	free(text);
	cJSON_Delete(j);
	cJSON_Delete(back);
	mx_gate_free(g);
	mx_report_free(rep);
	mx_db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_histories(void **state)
{
	(void)state;
	/* all: required fail (×2), error, flaky → failed; reasons: 2 failed + error,
	 * skipped, running */
	gate_of(MXF_ALL, MX_GATE_FAILED, 5);
	gate_of(MXF_PASS, MX_GATE_PASS, 0);
	/* untested: an infra error and a missing required case */
	gate_of(MXF_UNTESTED, MX_GATE_UNTESTED, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_failed_before_untested),
		cmocka_unit_test(test_histories),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

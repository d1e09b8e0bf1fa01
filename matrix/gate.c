/* SPDX-License-Identifier: MIT */
/*
 * The release gate: a run's required cases decide. "Not tested" is not "passed".
 *
 * Decision table, per required case (mx_gate_verdict):
 *
 *   status    class            verdict    blocks with
 *   pass      -                passed     -
 *   flaky     -                flaky      -   (passed on a retry: counts as passed, listed)
 *   fail      product / none   failed     LP_EXIT_GATE_FAILED (30)
 *   fail      infra            untested   LP_EXIT_GATE_UNTESTED (31)
 *   error     product          failed     30
 *   error     infra / none     untested   31 (the harness or the lab failed: not tested)
 *   skipped   -                untested   31
 *   running   -                untested   31 (no verdict: still running, or the runner died)
 *   missing   -                untested   31 (expected by the run's plan, no result at all)
 *
 * Not-required cases never change the decision (they are counted). The run's decision:
 * any failed → failed (30); else any untested → untested (31); else no required case at
 * all → untested (31, "nothing required was tested"); else pass (0).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "matrix.h"

const char *mx_gate_decision_name(enum mx_gate_decision d)
{
	switch (d) {
	case MX_GATE_PASS:
		return "pass";
	case MX_GATE_FAILED:
		return "failed";
	default:
		return "untested";
	}
}

int mx_gate_exit_code(enum mx_gate_decision d)
{
	switch (d) {
	case MX_GATE_PASS:
		return 0;
	case MX_GATE_FAILED:
		return LP_EXIT_GATE_FAILED;
	default:
		return LP_EXIT_GATE_UNTESTED;
	}
}

const char *mx_verdict_name(enum mx_verdict v)
{
	static const char *const names[] = { "passed", "flaky", "failed", "untested" };

	return (unsigned)v < LP_ARRAY_SIZE(names) ? names[v] : "invalid";
}

enum mx_verdict mx_gate_verdict(const struct mx_result *r)
{
	if (r->missing)
		return MX_VERDICT_UNTESTED;
	switch (r->status) {
	case MX_STATUS_PASS:
		return MX_VERDICT_PASSED;
	case MX_STATUS_FLAKY:
		return MX_VERDICT_FLAKY;
	case MX_STATUS_FAIL:
		return r->class == MX_CLASS_INFRA ? MX_VERDICT_UNTESTED : MX_VERDICT_FAILED;
	case MX_STATUS_ERROR:
		return r->class == MX_CLASS_PRODUCT ? MX_VERDICT_FAILED : MX_VERDICT_UNTESTED;
	default: /* skipped, running, anything unknown */
		return MX_VERDICT_UNTESTED;
	}
}

/* The first line of s, at most max bytes of it. */
static int first_line_len(const char *s, int max)
{
	int n = (int)strcspn(s, "\n");

	return n < max ? n : max;
}

static void explain(const struct mx_result *r, enum mx_verdict v, char *buf, size_t len)
{
	const char *msg = r->message[0] ? r->message : "no message";
	int m = first_line_len(msg, 400);

	if (r->missing) {
		snprintf(buf, len, "not tested: the run has no result for this case");
		return;
	}
	switch (v) {
	case MX_VERDICT_FAILED:
		snprintf(buf, len, "failed (%s)%s%s: %.*s", mx_class_name(r->class),
			 r->failed_step[0] ? " at " : "", r->failed_step, m, msg);
		break;
	case MX_VERDICT_FLAKY:
		snprintf(buf, len, "flaky: passed only on attempt %u", r->attempts);
		break;
	case MX_VERDICT_UNTESTED:
		if (r->status == MX_STATUS_SKIPPED)
			snprintf(buf, len, "not tested: skipped: %.*s", m, msg);
		else if (r->status == MX_STATUS_RUNNING)
			snprintf(buf, len, "not tested: no verdict (still running, or the runner stopped)");
		else
			snprintf(buf, len, "not tested (%s %s, after %u attempt%s)%s%s: %.*s",
				 mx_status_name(r->status), mx_class_name(r->class), r->attempts,
				 r->attempts == 1 ? "" : "s", r->failed_step[0] ? " at " : "",
				 r->failed_step, m, msg);
		break;
	default:
		snprintf(buf, len, "passed");
	}
}

void mx_gate_free(struct mx_gate *g)
{
	if (!g)
		return;
	free(g->reasons);
	free(g->flaky);
	free(g);
}

static void add_item(struct mx_gate_item *v, size_t *n, const struct mx_result *r,
		     enum mx_verdict verdict)
{
	struct mx_gate_item *it = &v[(*n)++];

	it->result = r;
	it->verdict = verdict;
	explain(r, verdict, it->why, sizeof(it->why));
}

int mx_gate_decide(const struct mx_report *rep, struct mx_gate **ret)
{
	struct mx_gate *g = calloc(1, sizeof(*g));
	size_t n = rep->n_results ? rep->n_results : 1, n_flaky = 0;

	if (!g)
		return -ENOMEM;
	g->reasons = calloc(n, sizeof(*g->reasons));
	g->flaky = calloc(n, sizeof(*g->flaky));
	if (!g->reasons || !g->flaky) {
		mx_gate_free(g);
		return -ENOMEM;
	}
	/* failed cases first, then untested ones: the reason that decides leads */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < rep->n_results; i++) {
			const struct mx_result *r = &rep->results[i];
			enum mx_verdict v = mx_gate_verdict(r);

			if (!r->required)
				continue;
			if (pass == 0 && v == MX_VERDICT_FAILED)
				add_item(g->reasons, &g->n_reasons, r, v);
			else if (pass == 1 && v == MX_VERDICT_UNTESTED)
				add_item(g->reasons, &g->n_reasons, r, v);
			else if (pass == 1 && v == MX_VERDICT_FLAKY)
				add_item(g->flaky, &n_flaky, r, v);
			if (pass == 1) {
				g->n_required++;
				g->n_passed += v == MX_VERDICT_PASSED;
				g->n_flaky += v == MX_VERDICT_FLAKY;
				g->n_failed += v == MX_VERDICT_FAILED;
				g->n_untested += v == MX_VERDICT_UNTESTED;
			}
		}
	if (g->n_failed) {
		g->decision = MX_GATE_FAILED;
		snprintf(g->summary, sizeof(g->summary),
			 "failed: %zu of %zu required cases failed%s", g->n_failed, g->n_required,
			 g->n_untested ? " (and some were not tested)" : "");
	} else if (g->n_untested) {
		g->decision = MX_GATE_UNTESTED;
		snprintf(g->summary, sizeof(g->summary),
			 "not tested: %zu of %zu required cases have no verdict (infra errors, "
			 "skipped or missing); not tested is not passed",
			 g->n_untested, g->n_required);
	} else if (g->n_required == 0) {
		g->decision = MX_GATE_UNTESTED;
		snprintf(g->summary, sizeof(g->summary),
			 "not tested: the run holds no required case");
	} else {
		g->decision = MX_GATE_PASS;
		snprintf(g->summary, sizeof(g->summary), "pass: all %zu required cases passed%s",
			 g->n_required, g->n_flaky ? " (some only on a retry: flaky)" : "");
	}
	*ret = g;
	return 0;
}

static cJSON *item_json(const struct mx_gate_item *it, const struct mx_report *rep)
{
	const struct mx_result *r = it->result;
	cJSON *o = cJSON_CreateObject();
	size_t n_att = 0;
	const struct mx_attempt *att = mx_report_attempts(rep, r, &n_att);

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "combo", r->combo_key) ||
	    !cJSON_AddStringToObject(o, "scenario", r->scenario) ||
	    !cJSON_AddStringToObject(o, "verdict", mx_verdict_name(it->verdict)) ||
	    !cJSON_AddStringToObject(o, "status", r->missing ? "missing" : mx_status_name(r->status)) ||
	    !cJSON_AddStringToObject(o, "class", mx_class_name(r->class)) ||
	    !cJSON_AddNumberToObject(o, "attempts", r->attempts) ||
	    !cJSON_AddStringToObject(o, "step", r->failed_step) ||
	    !cJSON_AddStringToObject(o, "message", r->message) ||
	    !cJSON_AddStringToObject(o, "why", it->why) ||
	    !cJSON_AddStringToObject(o, "log_dir", r->log_dir))
		goto fail;
	/* a flaky case: what failed first */
	for (size_t i = 0; i < n_att; i++)
		if (att[i].status != MX_STATUS_PASS) {
			cJSON *f = cJSON_AddObjectToObject(o, "first_failure");

			if (!f || !cJSON_AddNumberToObject(f, "attempt", att[i].number) ||
			    !cJSON_AddStringToObject(f, "status", mx_status_name(att[i].status)) ||
			    !cJSON_AddStringToObject(f, "class", mx_class_name(att[i].class)) ||
			    !cJSON_AddStringToObject(f, "step", att[i].failed_step) ||
			    !cJSON_AddStringToObject(f, "message", att[i].message))
				goto fail;
			break;
		}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static bool add_items(cJSON *o, const char *key, const struct mx_gate_item *v, size_t n,
		      const struct mx_report *rep)
{
	cJSON *a = cJSON_AddArrayToObject(o, key);

	if (!a)
		return false;
	for (size_t i = 0; i < n; i++) {
		cJSON *it = item_json(&v[i], rep);

		if (!it || !cJSON_AddItemToArray(a, it)) {
			cJSON_Delete(it);
			return false;
		}
	}
	return true;
}

cJSON *mx_gate_json(const struct mx_gate *g, const struct mx_report *rep)
{
	cJSON *o = cJSON_CreateObject(), *spec, *counts;

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "decision", mx_gate_decision_name(g->decision)) ||
	    !cJSON_AddNumberToObject(o, "exit_code", mx_gate_exit_code(g->decision)) ||
	    !cJSON_AddStringToObject(o, "summary", g->summary) ||
	    !cJSON_AddNumberToObject(o, "run", (double)rep->run.id) ||
	    !cJSON_AddStringToObject(o, "run_state", rep->run.state))
		goto fail;
	spec = cJSON_AddObjectToObject(o, "spec");
	if (!spec || !cJSON_AddStringToObject(spec, "name", rep->run.spec_name) ||
	    !cJSON_AddStringToObject(spec, "path", rep->run.spec_path) ||
	    !cJSON_AddStringToObject(spec, "sha256", rep->run.spec_sha256))
		goto fail;
	counts = cJSON_AddObjectToObject(o, "counts");
	if (!counts || !cJSON_AddNumberToObject(counts, "required", (double)g->n_required) ||
	    !cJSON_AddNumberToObject(counts, "passed", (double)g->n_passed) ||
	    !cJSON_AddNumberToObject(counts, "flaky", (double)g->n_flaky) ||
	    !cJSON_AddNumberToObject(counts, "failed", (double)g->n_failed) ||
	    !cJSON_AddNumberToObject(counts, "untested", (double)g->n_untested) ||
	    !cJSON_AddNumberToObject(counts, "not_required", (double)(rep->n_results - g->n_required)))
		goto fail;
	if (!add_items(o, "reasons", g->reasons, g->n_reasons, rep) ||
	    !add_items(o, "flaky", g->flaky, g->n_flaky, rep))
		goto fail;
	if (g->n_required == 0) {
		cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "reasons");
		cJSON *it = cJSON_CreateObject();

		if (!it || !cJSON_AddStringToObject(it, "why", g->summary) ||
		    !cJSON_AddItemToArray(a, it)) {
			cJSON_Delete(it);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

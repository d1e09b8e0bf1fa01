/* SPDX-License-Identifier: MIT */
/*
 * LAVA's verdicts into the matrix's (lava.h, "lava-results.c"): the log lava-run writes
 * (and the lab serves at /api/v0.2/jobs/N/logs/) — a YAML list with one flow mapping per
 * line, {"dt", "lvl", "msg"}, whose "results" entries are the test cases and, last, the
 * job's own ("definition": "lava", "case": "job") — and the test list of the REST API
 * (/api/v0.2/jobs/N/tests/: {"results": [{"suite", "name", "result"}, …]}).
 *
 * Mapping: a test case of the scenario that failed is the product's failure (the first
 * one is named); otherwise the job passed is a pass; a job that did not complete (LAVA's
 * Incomplete: a deploy, boot or infrastructure error) is an infrastructure error with
 * LAVA's error type and message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "loopline/yaml.h"
#include "lava.h"

#define LOG_LINE_MAX (1u << 20)

static const char *str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* One test case's result: "pass", "fail", "skip", "unknown". */
static void add_case(struct mx_lava_outcome *out, const char *suite, const char *name,
		     const char *result, struct mx_buf *steps)
{
	if (strcmp(suite, "lava") == 0)
		return; /* LAVA's own: the job, validate, its actions */
	out->n_cases++;
	if (steps) {
		char line[512];

		snprintf(line, sizeof(line), "%-5s %s: %s\n", result, suite, name);
		mx_buf_puts(steps, line);
	}
	if (strcmp(result, "pass") == 0) {
		out->n_pass++;
	} else if (strcmp(result, "fail") == 0 && !out->failed[0]) {
		snprintf(out->failed, sizeof(out->failed), "%s: %s", suite, name);
	}
}

/* The job's own result entry ("lava"/"job") of a log. */
static void job_result(struct mx_lava_outcome *out, const cJSON *msg)
{
	const char *res = str(msg, "result"), *type = str(msg, "error_type"),
		   *why = str(msg, "error_msg");

	out->job_seen = true;
	out->job_passed = res && strcmp(res, "pass") == 0;
	if (!out->job_passed)
		snprintf(out->job_error, sizeof(out->job_error), "%s%s%s",
			 type ? type : "the job did not complete", why ? ": " : "", why ? why : "");
}

/* A log line as an object: JSON as most lines are, else YAML's flow form (lava-run and
 * the lab write YAML: a tag such as "size": ! "123", or an escape such as "\e", is not
 * JSON). */
static cJSON *parse_entry(const char *line, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(line, len);
	struct lp_yaml *y = NULL;

	if (o)
		return o;
	if (lp_yaml_load(line, len, LOG_LINE_MAX, "log", &y, NULL) == 0 && lp_yaml_root(y))
		lp_yaml_to_json(y, lp_yaml_root(y), "", &o);
	lp_yaml_free(y);
	return o;
}

/* One line of the log: "{…}" (lava-run) or "- {…}" (the lab's logs). Target (console)
 * lines go to console. */
static int log_line(const char *line, size_t len, unsigned lineno, struct mx_lava_outcome *out,
		    struct mx_lava_texts *texts, struct lp_diag *diag)
{
	cJSON *o, *msg;
	const char *lvl;

	if (len >= 2 && line[0] == '-' && line[1] == ' ')
		line += 2, len -= 2;
	if (len < 1 || line[0] != '{')
		return lp_diag_fail(diag, -EBADMSG, "line %u: not a LAVA log entry (\"{…}\" or "
				    "\"- {…}\")", lineno);
	if (!(o = parse_entry(line, len)) || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return lp_diag_fail(diag, -EBADMSG, "line %u: a LAVA log entry that is not a "
				    "JSON object", lineno);
	}
	lvl = str(o, "lvl");
	msg = cJSON_GetObjectItemCaseSensitive(o, "msg");
	if (!lvl) {
		cJSON_Delete(o);
		return lp_diag_fail(diag, -EBADMSG, "line %u: a LAVA log entry without \"lvl\"",
				    lineno);
	}
	out->n_entries++;
	if (strcmp(lvl, "results") == 0 && cJSON_IsObject(msg)) {
		const char *def = str(msg, "definition"), *cs = str(msg, "case"),
			   *res = str(msg, "result");

		if (!def || !cs || !res) {
			cJSON_Delete(o);
			return lp_diag_fail(diag, -EBADMSG, "line %u: a result without definition, "
					    "case or result", lineno);
		}
		if (strcmp(def, "lava") == 0 && strcmp(cs, "job") == 0)
			job_result(out, msg);
		else
			add_case(out, def, cs, res, texts ? &texts->steps : NULL);
	} else if (strcmp(lvl, "target") == 0 && texts && cJSON_IsString(msg)) {
		mx_buf_puts(&texts->console, msg->valuestring);
		mx_buf_puts(&texts->console, "\n");
	} else if (strcmp(lvl, "error") == 0 && cJSON_IsString(msg) && !out->first_error[0]) {
		snprintf(out->first_error, sizeof(out->first_error), "%s", msg->valuestring);
	}
	cJSON_Delete(o);
	return 0;
}

void mx_lava_outcome_decide(struct mx_lava_outcome *out)
{
	if (out->failed[0]) {
		out->verdict = MX_LAVA_FAIL;
		snprintf(out->message, sizeof(out->message), "LAVA test case %s failed (%u of %u "
			 "passed)", out->failed, out->n_pass, out->n_cases);
	} else if (out->job_seen && out->job_passed) {
		out->verdict = MX_LAVA_PASS;
		snprintf(out->message, sizeof(out->message), "%u of %u LAVA test cases passed",
			 out->n_pass, out->n_cases);
	} else {
		out->verdict = MX_LAVA_ERROR;
		snprintf(out->message, sizeof(out->message), "LAVA: %s",
			 out->job_error[0] ? out->job_error :
			 out->first_error[0] ? out->first_error : "the job ended without a result");
	}
}

int mx_lava_log_parse(const char *text, size_t len, struct mx_lava_outcome *out,
		      struct mx_lava_texts *texts, struct lp_diag *diag)
{
	unsigned lineno = 0;
	size_t pos = 0;
	int r;

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n > LOG_LINE_MAX)
			return lp_diag_fail(diag, -EFBIG, "line %u: over %u bytes", lineno, LOG_LINE_MAX);
		if (n > 0 && (r = log_line(text + pos, n, lineno, out, texts, diag)) < 0)
			return r;
		pos += n + 1;
	}
	if (out->n_entries == 0)
		return lp_diag_fail(diag, -EBADMSG, "an empty LAVA log");
	mx_lava_outcome_decide(out);
	return 0;
}

/* The suite a test case names: by id in the REST API (its name from the suites list),
 * or already by name. */
static const char *suite_name(const cJSON *suite, const cJSON *suites, char *buf, size_t len)
{
	if (cJSON_IsString(suite))
		return suite->valuestring;
	if (!cJSON_IsNumber(suite))
		return NULL;
	for (const cJSON *e = suites ? suites->child : NULL; e; e = e->next) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");

		if (cJSON_IsNumber(id) && id->valuedouble == suite->valuedouble && str(e, "name"))
			return str(e, "name");
	}
	snprintf(buf, len, "suite-%.0f", suite->valuedouble);
	return buf;
}

static cJSON *results_of(const char *text, size_t len, cJSON **root, const char *what,
			 struct lp_diag *diag)
{
	cJSON *list;

	*root = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(*root)) {
		lp_diag_fail(diag, -EBADMSG, "the %s list is not a JSON object", what);
		return NULL;
	}
	list = cJSON_GetObjectItemCaseSensitive(*root, "results");
	if (!cJSON_IsArray(list))
		lp_diag_fail(diag, -EBADMSG, "the %s list has no \"results\" array", what);
	return cJSON_IsArray(list) ? list : NULL;
}

int mx_lava_tests_parse(const char *tests, size_t tests_len, const char *suites,
			size_t suites_len, struct mx_lava_outcome *out, struct lp_diag *diag)
{
	cJSON *troot = NULL, *sroot = NULL, *list, *slist = NULL;
	int i = 0, r = 0;

	if (!(list = results_of(tests, tests_len, &troot, "test", diag)) ||
	    (suites && !(slist = results_of(suites, suites_len, &sroot, "suite", diag)))) {
		r = -EBADMSG;
		goto out;
	}
	for (cJSON *t = list->child; t; t = t->next, i++) {
		char buf[48];
		const char *suite = suite_name(cJSON_GetObjectItemCaseSensitive(t, "suite"), slist, buf,
					       sizeof(buf));
		const char *name = str(t, "name"), *res = str(t, "result");

		if (!suite || !name || !res) {
			r = lp_diag_fail(diag, -EBADMSG, "results[%d]: no suite, name or result", i);
			goto out;
		}
		if (strcmp(suite, "lava") == 0 && strcmp(name, "job") == 0) {
			out->job_seen = true;
			out->job_passed = strcmp(res, "pass") == 0;
		} else {
			add_case(out, suite, name, res, NULL);
		}
	}
out:
	cJSON_Delete(troot);
	cJSON_Delete(sroot);
	return r;
}

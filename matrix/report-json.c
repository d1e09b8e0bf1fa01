/* SPDX-License-Identifier: MIT */
/*
 * The JSON report: {format, version, run, summary, gate, components, results}. Every
 * result carries every stored field, its attempts, whether it is new since the previous
 * run and the relative paths of its logs. Times are milliseconds since the epoch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/json.h"
#include "matrix.h"

#define ADD_STR(o, k, v) (cJSON_AddStringToObject((o), (k), (v)) != NULL)
#define ADD_NUM(o, k, v) (cJSON_AddNumberToObject((o), (k), (double)(v)) != NULL)
#define ADD_BOOL(o, k, v) (cJSON_AddBoolToObject((o), (k), (v)) != NULL)

static bool add_copy(cJSON *o, const char *key, const cJSON *v)
{
	cJSON *c = v ? cJSON_Duplicate(v, true) : cJSON_CreateObject();

	if (!c || !cJSON_AddItemToObject(o, key, c)) {
		cJSON_Delete(c);
		return false;
	}
	return true;
}

static bool add_log(cJSON *o, const char *key, const char *log_dir, const char *file)
{
	char p[PATH_MAX + 32];

	if (!log_dir[0])
		return cJSON_AddNullToObject(o, key) != NULL;
	snprintf(p, sizeof(p), "%s/%s", log_dir, file);
	return ADD_STR(o, key, p);
}

static cJSON *run_json(const struct mx_report *rep, const struct mx_counts *c)
{
	const struct mx_run_info *ri = &rep->run;
	cJSON *o = cJSON_CreateObject();

	if (!o || !ADD_NUM(o, "id", ri->id) || !ADD_STR(o, "spec", ri->spec_name) ||
	    !ADD_STR(o, "spec_path", ri->spec_path) || !ADD_STR(o, "spec_sha256", ri->spec_sha256) ||
	    !ADD_STR(o, "state", ri->state) || !ADD_NUM(o, "started_ms", ri->started_ms) ||
	    !ADD_NUM(o, "finished_ms", ri->finished_ms) || !ADD_NUM(o, "duration_ms", c->duration_ms) ||
	    !ADD_STR(o, "host", ri->host) || !ADD_NUM(o, "pid", ri->pid) ||
	    !ADD_STR(o, "options", ri->options) || !ADD_STR(o, "dir", ri->dir) ||
	    !ADD_NUM(o, "previous_id", ri->previous_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *counts_json(const size_t *status, const size_t *class)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	for (unsigned s = 0; status && s < MX_STATUS_COUNT; s++)
		if (!ADD_NUM(o, mx_status_name((enum mx_status)s), status[s]))
			goto fail;
	for (unsigned k = 0; class && k < MX_CLASS_COUNT; k++)
		if (!ADD_NUM(o, mx_class_name((enum mx_class)k), class[k]))
			goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *summary_json(const struct mx_counts *c)
{
	cJSON *o = cJSON_CreateObject(), *x;

	if (!o || !ADD_NUM(o, "total", c->total) || !ADD_NUM(o, "required", c->required) ||
	    !ADD_NUM(o, "missing", c->missing))
		goto fail;
	if (!(x = counts_json(c->status, NULL)) || !cJSON_AddItemToObject(o, "by_status", x))
		goto fail_x;
	if (!(x = counts_json(NULL, c->class)) || !cJSON_AddItemToObject(o, "by_class", x))
		goto fail_x;
	if (!(x = counts_json(c->required_status, NULL)) ||
	    !cJSON_AddItemToObject(o, "required_by_status", x))
		goto fail_x;
	return o;
fail_x:
	cJSON_Delete(x);
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *attempt_json(const struct mx_attempt *a)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !ADD_NUM(o, "number", a->number) || !ADD_STR(o, "status", mx_status_name(a->status)) ||
	    !ADD_STR(o, "class", mx_class_name(a->class)) || !ADD_NUM(o, "started_ms", a->started_ms) ||
	    !ADD_NUM(o, "duration_ms", a->duration_ms) || !ADD_STR(o, "failed_step", a->failed_step) ||
	    !ADD_STR(o, "message", a->message) || !ADD_STR(o, "log_dir", a->log_dir)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *mx_result_json(const struct mx_result *r)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !ADD_NUM(o, "id", r->id) || !ADD_NUM(o, "run", r->run_id) ||
	    !ADD_STR(o, "combo", r->combo_key) || !add_copy(o, "axes", r->axes) ||
	    !add_copy(o, "components", r->components) || !ADD_STR(o, "scenario", r->scenario) ||
	    !ADD_BOOL(o, "required", r->required) || !ADD_STR(o, "status", mx_status_name(r->status)) ||
	    !ADD_STR(o, "class", mx_class_name(r->class)) || !ADD_BOOL(o, "missing", r->missing) ||
	    !ADD_STR(o, "verdict", mx_verdict_name(mx_gate_verdict(r))) ||
	    !ADD_NUM(o, "attempts", r->attempts) || !ADD_NUM(o, "started_ms", r->started_ms) ||
	    !ADD_NUM(o, "duration_ms", r->duration_ms) || !ADD_NUM(o, "subject_ms", r->subject_ms) ||
	    !ADD_STR(o, "failed_step", r->failed_step) || !ADD_STR(o, "message", r->message) ||
	    !ADD_STR(o, "console_excerpt", r->console_excerpt) || !ADD_STR(o, "log_dir", r->log_dir) ||
	    !add_log(o, "step_log", r->log_dir, MX_STEP_LOG) ||
	    !add_log(o, "console_log", r->log_dir, MX_CONSOLE_LOG)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *result_json(const struct mx_report *rep, const struct mx_result *r)
{
	const struct mx_result *prev = mx_report_previous(rep, r);
	size_t n_att = 0;
	const struct mx_attempt *att = mx_report_attempts(rep, r, &n_att);
	cJSON *o = mx_result_json(r), *arr;

	if (!o || !ADD_BOOL(o, "new", mx_report_is_new(rep, r)))
		goto fail;
	if (!(prev ? ADD_STR(o, "previous_status", mx_status_name(prev->status))
		   : cJSON_AddNullToObject(o, "previous_status") != NULL))
		goto fail;
	arr = cJSON_AddArrayToObject(o, "attempt_list");
	if (!arr)
		goto fail;
	for (size_t i = 0; i < n_att; i++) {
		cJSON *a = attempt_json(&att[i]);

		if (!a || !cJSON_AddItemToArray(arr, a)) {
			cJSON_Delete(a);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *components_json(const struct mx_report *rep)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < rep->n_components; i++) {
		const struct mx_run_component *c = &rep->components[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !ADD_STR(o, "kind", c->kind) || !ADD_STR(o, "value", c->value) ||
		    !ADD_STR(o, "source", c->source) || !ADD_STR(o, "hash", c->hash) ||
		    !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static bool add_item(cJSON *o, const char *key, cJSON *item)
{
	if (!item || !cJSON_AddItemToObject(o, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

cJSON *mx_report_json(const struct mx_report *rep)
{
	struct mx_counts c;
	struct mx_gate *g = NULL;
	cJSON *o = cJSON_CreateObject(), *arr;

	mx_report_count(rep, &c);
	if (!o || mx_gate_decide(rep, &g) < 0)
		goto fail;
	if (!ADD_STR(o, "format", "loopline-matrix-report") || !ADD_NUM(o, "version", 1) ||
	    !add_item(o, "run", run_json(rep, &c)) || !add_item(o, "summary", summary_json(&c)) ||
	    !add_item(o, "gate", mx_gate_json(g, rep)) ||
	    !add_item(o, "components", components_json(rep)))
		goto fail;
	arr = cJSON_AddArrayToObject(o, "results");
	if (!arr)
		goto fail;
	for (size_t i = 0; i < rep->n_results; i++) {
		cJSON *r = result_json(rep, &rep->results[i]);

		if (!r || !cJSON_AddItemToArray(arr, r)) {
			cJSON_Delete(r);
			goto fail;
		}
	}
	mx_gate_free(g);
	return o;
fail:
	mx_gate_free(g);
	cJSON_Delete(o);
	return NULL;
}

int mx_report_json_text(const struct mx_report *rep, struct mx_buf *out)
{
	cJSON *o = mx_report_json(rep);
	char *text;

	if (!o)
		return -ENOMEM;
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	mx_buf_puts(out, text);
	mx_buf_puts(out, "\n");
	free(text);
	return out->err;
}

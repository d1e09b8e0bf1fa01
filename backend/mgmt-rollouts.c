/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/rollouts (docs/api.md, "Rollouts"; docs/rollouts.md):
 *   POST /rollouts                    a release, a target, waves, thresholds     operator
 *   GET  /rollouts[?state=S], /rollouts/ID (with every wave's progress)
 *   GET  /rollouts/ID/devices[?wave=N] the members: wave, action, status
 *   POST /rollouts/ID/pause|resume|cancel  {"reason"?}                           operator
 * A rollout of a release whose gate did not pass (and that no operator approved with an
 * override) is refused; one of a release pending approval waits, assigning nothing,
 * until the release is approved.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <event2/http.h>

#include "mgmt.h"

static cJSON *target_json(const struct be_rollout_target *t)
{
	cJSON *o = cJSON_CreateObject(), *a;

	if (!o)
		return NULL;
	cJSON_AddBoolToObject(o, "all", t->all);
	a = cJSON_AddArrayToObject(o, "tags");
	for (size_t i = 0; a && i < t->n_tags; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(t->tags[i]));
	a = cJSON_AddObjectToObject(o, "attributes");
	for (size_t i = 0; a && i < t->n_attrs; i++)
		cJSON_AddStringToObject(a, t->attrs[i].key, t->attrs[i].pattern);
	return o;
}

static const char *wave_state(const struct be_rollout *ro, size_t k)
{
	if (ro->wave < 0 || (int)k > ro->wave)
		return "pending";
	if ((int)k < ro->wave || strcmp(ro->state, "done") == 0)
		return "done";
	return ro->state; /* the current wave: running, paused or cancelled */
}

static void add_waves(cJSON *o, const struct be_rollout *ro, const struct be_wave_counts *c)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "waves");

	for (size_t k = 0; arr && k < ro->spec.n_waves; k++) {
		cJSON *w = cJSON_CreateObject();

		if (!w)
			return;
		cJSON_AddNumberToObject(w, "wave", (double)(k + 1));
		cJSON_AddNumberToObject(w, "percent", ro->spec.waves[k]);
		cJSON_AddStringToObject(w, "state", wave_state(ro, k));
		cJSON_AddNumberToObject(w, "devices", (double)c[k].size);
		cJSON_AddNumberToObject(w, "assigned", (double)c[k].assigned);
		cJSON_AddNumberToObject(w, "running", (double)c[k].running);
		cJSON_AddNumberToObject(w, "succeeded", (double)c[k].success);
		cJSON_AddNumberToObject(w, "failed", (double)c[k].failed);
		cJSON_AddNumberToObject(w, "canceled", (double)c[k].canceled);
		cJSON_AddNumberToObject(w, "skipped", (double)c[k].skipped);
		cJSON_AddItemToArray(arr, w);
	}
}

static void add_spec(cJSON *o, const struct be_rollout_spec *sp)
{
	cJSON *w;

	cJSON_AddItemToObject(o, "target", target_json(&sp->target));
	cJSON_AddNumberToObject(o, "soak_s", (double)sp->soak_s);
	cJSON_AddNumberToObject(o, "success_threshold", sp->success_pct);
	cJSON_AddNumberToObject(o, "error_threshold", sp->error_pct);
	cJSON_AddNumberToObject(o, "seed", (double)sp->seed);
	cJSON_AddStringToObject(o, "type", be_deploy_type_name(sp->type));
	if (sp->has_window && (w = cJSON_AddObjectToObject(o, "maintenance_window"))) {
		char hhmm[8];

		snprintf(hhmm, sizeof(hhmm), "%02u:%02u", sp->window_start_min / 60 % 24,
			 sp->window_start_min % 60);
		cJSON_AddStringToObject(w, "start", hhmm);
		cJSON_AddNumberToObject(w, "duration_min", sp->window_minutes);
	} else {
		cJSON_AddNullToObject(o, "maintenance_window");
	}
}

static cJSON *rollout_json(struct be_mgmt *m, const struct be_rollout *ro)
{
	struct be_wave_counts c[BE_WAVES_MAX];
	cJSON *o;

	if (be_store_rollout_counts(m->s, ro, c) < 0 || !(o = cJSON_CreateObject()))
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)ro->id);
	cJSON_AddStringToObject(o, "name", ro->spec.name);
	cJSON_AddStringToObject(o, "release", ro->spec.release);
	cJSON_AddStringToObject(o, "state", ro->state);
	if (ro->wave >= 0)
		cJSON_AddNumberToObject(o, "current_wave", ro->wave + 1);
	else
		cJSON_AddNullToObject(o, "current_wave");
	cJSON_AddNumberToObject(o, "wave_started", (double)ro->wave_started);
	cJSON_AddStringToObject(o, "reason", ro->reason);
	cJSON_AddStringToObject(o, "created_by", ro->created_by);
	cJSON_AddNumberToObject(o, "created", (double)ro->created);
	cJSON_AddNumberToObject(o, "updated", (double)ro->updated);
	add_spec(o, &ro->spec);
	add_waves(o, ro, c);
	return o;
}

static void reply_rollout(struct be_mgmt *m, int status, const struct be_rollout *ro)
{
	cJSON *o = rollout_json(m, ro);

	if (!o)
		mgmt_store_error(m, -ENOMEM, "rollout");
	else
		be_reply_json(m->r, status, o);
}

static int list_cb(void *ctx, const struct be_rollout *ro)
{
	struct mgmt_list *l = ctx;

	return mgmt_list_add(l, rollout_json(l->m, ro));
}

static void rollouts_list(struct be_mgmt *m)
{
	struct mgmt_list l = { .m = m };
	struct be_page p;
	char state[24] = "";
	int64_t total = 0;
	int has, rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	if ((has = be_query(m->r, "state", state, sizeof(state))) < 0) {
		be_reply_error(m->r, 400, "bad_query", "state: at most 23 bytes");
		return;
	}
	l.items = cJSON_CreateArray();
	rc = be_store_rollouts_list(m->s, has ? state : NULL, &p, list_cb, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "rollouts");
}

static void rollout_create(struct be_mgmt *m)
{
	struct be_rollout_spec sp;
	struct be_rollout ro;
	char who[BE_TEXT_MAX] = "";
	int rc;

	if (mgmt_body(m, (mgmt_parser)be_rollout_req_parse, &sp) < 0)
		return;
	if ((rc = be_store_token_who(m->s, m->token_hash, who, sizeof(who))) == 0)
		rc = be_store_rollout_create(m->s, &sp, who, &ro);
	if (rc == -ENOENT)
		be_reply_error(m->r, 404, "not_found", "no release %s", sp.release);
	else if (rc == -EPERM)
		be_reply_error(m->r, 409, "gate_not_passed", "release %s: its gate did not pass "
			       "(or never ran) and no operator approved it with an override; it "
			       "cannot roll out", sp.release);
	else if (rc == -EBUSY)
		be_reply_error(m->r, 409, "conflict", "release %s has an unfinished rollout",
			       sp.release);
	else if (rc < 0)
		mgmt_store_error(m, rc, "rollout");
	else
		reply_rollout(m, 201, &ro);
}

static void rollout_control(struct be_mgmt *m, int64_t id, const char *op_name)
{
	static const char *const ops[] = { "pause", "resume", "cancel" };
	struct be_rollout_control_req q;
	struct be_rollout ro;
	char who[BE_TEXT_MAX] = "";
	int op = -1, rc;

	for (size_t i = 0; i < LP_ARRAY_SIZE(ops); i++)
		if (strcmp(op_name, ops[i]) == 0)
			op = (int)i;
	if (op < 0) {
		be_reply_error(m->r, 404, "not_found", "no such resource");
		return;
	}
	if (mgmt_body(m, (mgmt_parser)be_rollout_control_parse, &q) < 0)
		return;
	if ((rc = be_store_token_who(m->s, m->token_hash, who, sizeof(who))) == 0)
		rc = be_store_rollout_control(m->s, id, (enum be_rollout_op)op, who, q.reason, &ro);
	if (rc == -EALREADY)
		be_reply_error(m->r, 409, "conflict", "rollout %lld cannot %s in its state",
			       (long long)id, op_name);
	else if (rc < 0)
		mgmt_store_error(m, rc, "rollout");
	else
		reply_rollout(m, 200, &ro);
}

static int member_cb(void *ctx, const struct be_rollout_member *mb)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "device", mb->cid);
		cJSON_AddNumberToObject(o, "wave", mb->wave + 1);
		if (mb->action)
			cJSON_AddNumberToObject(o, "action", (double)mb->action);
		else
			cJSON_AddNullToObject(o, "action");
		cJSON_AddStringToObject(o, "status", mb->status);
		cJSON_AddNumberToObject(o, "joined", (double)mb->joined);
	}
	return mgmt_list_add(ctx, o);
}

static void rollout_devices(struct be_mgmt *m, int64_t id)
{
	struct mgmt_list l = { .m = m };
	struct be_rollout ro;
	struct be_page p;
	int64_t total = 0, wave = 0;
	int rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	if (be_query_int(m->r, "wave", 0, 0, BE_WAVES_MAX, &wave) < 0) {
		be_reply_error(m->r, 400, "bad_query", "wave: 1-%d", BE_WAVES_MAX);
		return;
	}
	if ((rc = be_store_rollout_get(m->s, id, &ro)) < 0) {
		mgmt_store_error(m, rc, "rollout");
		return;
	}
	l.items = cJSON_CreateArray();
	rc = be_store_rollout_devices(m->s, id, (int)wave - 1, &p, member_cb, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "rollout devices");
}

void mgmt_rollouts(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	bool post = r->method == EVHTTP_REQ_POST;
	int64_t id = r->n_seg >= 4 ? mgmt_id(r->seg[3]) : 0;
	struct be_rollout ro;
	int rc;

	if (r->n_seg >= 4 && id == 0) {
		be_reply_error(r, 404, "not_found", "no such rollout");
	} else if (r->n_seg == 3 && get) {
		rollouts_list(m);
	} else if (r->n_seg == 3 && post) {
		rollout_create(m);
	} else if (r->n_seg == 4 && get) {
		if ((rc = be_store_rollout_get(m->s, id, &ro)) < 0)
			mgmt_store_error(m, rc, "rollout");
		else
			reply_rollout(m, 200, &ro);
	} else if (r->n_seg == 5 && get && strcmp(r->seg[4], "devices") == 0) {
		rollout_devices(m, id);
	} else if (r->n_seg == 5 && post) {
		rollout_control(m, id, r->seg[4]);
	} else {
		be_reply_error(r, 404, "not_found", "no such resource");
	}
}

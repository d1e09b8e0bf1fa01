/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/deployments (assign a package or a configured action to devices and tags) and
 * /api/v1/actions (list, show with history, cancel).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "mgmt.h"

#define MAX_TARGETS 100000

static int add_history_entry(void *ctx, const struct be_status_entry *e)
{
	cJSON *o = cJSON_CreateObject(), *msgs;

	cJSON_AddNumberToObject(o, "time", (double)e->time);
	cJSON_AddStringToObject(o, "status", e->status);
	if (e->has_code)
		cJSON_AddNumberToObject(o, "code", (double)e->code);
	msgs = cJSON_AddArrayToObject(o, "messages");
	for (size_t i = 0; i < e->n_messages; i++)
		cJSON_AddItemToArray(msgs, cJSON_CreateString(e->messages[i]));
	return cJSON_AddItemToArray(ctx, o) ? 0 : -ENOMEM;
}

cJSON *mgmt_action_json(struct be_mgmt *m, const struct be_action *a, bool with_history)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)a->id);
	cJSON_AddStringToObject(o, "device", a->device_cid);
	if (a->package)
		cJSON_AddNumberToObject(o, "package", (double)a->package);
	else
		cJSON_AddNullToObject(o, "package");
	/* what the device was given when it fetched the deployment: the package or a delta */
	if (a->offered)
		cJSON_AddNumberToObject(o, "offered_package", (double)a->offered);
	else
		cJSON_AddNullToObject(o, "offered_package");
	if (!a->package && a->command[0])
		cJSON_AddStringToObject(o, "command", a->command);
	else
		cJSON_AddNullToObject(o, "command");
	cJSON_AddStringToObject(o, "type", a->type);
	cJSON_AddStringToObject(o, "status", a->status);
	cJSON_AddBoolToObject(o, "active", a->active);
	cJSON_AddNumberToObject(o, "created", (double)a->created);
	cJSON_AddNumberToObject(o, "updated", (double)a->updated);
	if (a->maint) {
		cJSON *mw = cJSON_AddObjectToObject(o, "maintenance_window");

		cJSON_AddNumberToObject(mw, "start", (double)a->maint_start);
		cJSON_AddNumberToObject(mw, "end", (double)a->maint_end);
	}
	if (with_history && be_store_action_history(m->s, a->id, false, -1, add_history_entry,
						    cJSON_AddArrayToObject(o, "history")) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int parse_deploy(const char *text, size_t len, size_t max_len, unsigned depth, void *ret,
			struct lp_diag *d)
{
	return be_deploy_req_parse(text, len, max_len, depth, ret, d);
}

/* The strings of a validated array (NULL: none), malloc'd; -ENOMEM. */
static int string_list(const cJSON *arr, const char ***ret, size_t *ret_n)
{
	const cJSON *it;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!cJSON_GetArraySize(arr))
		return 0;
	*ret = calloc((size_t)cJSON_GetArraySize(arr), sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	cJSON_ArrayForEach(it, arr)
		(*ret)[n++] = it->valuestring;
	*ret_n = n;
	return 0;
}

static int add_deployed(void *ctx, int64_t action, const char *cid)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddNumberToObject(a, "id", (double)action);
	cJSON_AddStringToObject(a, "device", cid);
	return cJSON_AddItemToArray(ctx, a) ? 0 : -ENOMEM;
}

static void reply_deploy_error(struct be_mgmt *m, int rc, const char *missing)
{
	if (rc == -ENOENT)
		be_reply_error(m->r, 404, "not_found", "no device %s", missing);
	else if (rc == -E2BIG)
		be_reply_error(m->r, 500, "internal", "too many targets (at most %d)", MAX_TARGETS);
	else
		mgmt_store_error(m, rc, "deployment");
}

static void deploy(struct be_mgmt *m, const struct be_deploy_req *q)
{
	struct be_deployment d = {
		.package = q->package, .command = q->command, .type = be_deploy_type_name(q->type),
		.has_window = q->has_window, .window_start = q->start, .window_end = q->end,
		.max_targets = MAX_TARGETS,
	};
	const char **devices = NULL, **tags = NULL;
	char missing[BE_ID_MAX] = "";
	struct be_package pkg;
	cJSON *out = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(out, "actions");
	int rc = list ? 0 : -ENOMEM;

	if (rc == 0 && q->package) {
		rc = be_store_package_get(m->s, q->package, false, &pkg);
		if (rc == -ENOENT) {
			be_reply_error(m->r, 404, "not_found", "no package %lld", (long long)q->package);
			goto out;
		}
	}
	if (rc == 0 && (rc = string_list(q->devices, &devices, &d.n_devices)) == 0 &&
	    (rc = string_list(q->tags, &tags, &d.n_tags)) == 0) {
		d.devices = devices;
		d.tags = tags;
		rc = be_store_deploy(m->s, &d, add_deployed, list, missing);
	}
	if (rc < 0) {
		reply_deploy_error(m, rc, missing);
		goto out;
	}
	be_reply_json(m->r, 201, out);
	out = NULL;
out:
	free(devices);
	free(tags);
	cJSON_Delete(out);
}

void mgmt_deployments(struct be_mgmt *m)
{
	struct be_deploy_req q;

	if (m->r->n_seg != 3 || m->r->method != EVHTTP_REQ_POST) {
		be_reply_error(m->r, 404, "not_found", "use POST /api/v1/deployments");
		return;
	}
	if (mgmt_body(m, parse_deploy, &q) < 0)
		return;
	deploy(m, &q);
	be_deploy_req_done(&q);
}

static int list_action(void *ctx, const struct be_action *a)
{
	struct mgmt_list *l = ctx;

	return mgmt_list_add(l, mgmt_action_json(l->m, a, false));
}

static void actions_list(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct be_action_filter f = { .active = -1 };
	struct mgmt_list l = { .m = m };
	char dev[BE_ID_MAX];
	struct be_page p;
	int64_t total = 0, active = -1;
	int has_dev, rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	has_dev = be_query(r, "device", dev, sizeof(dev));
	if (has_dev < 0 || be_query_int(r, "active", -1, 0, 1, &active) < 0) {
		be_reply_error(r, 400, "bad_query", "device must be a controller id, active 0 or 1");
		return;
	}
	f.device = has_dev ? dev : NULL;
	f.active = (int)active;
	l.items = cJSON_CreateArray();
	rc = be_store_actions_list(m->s, &f, &p, list_action, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "actions");
}

static void reply_action(struct be_mgmt *m, const struct be_action *a)
{
	cJSON *o = mgmt_action_json(m, a, true);

	if (o)
		be_reply_json(m->r, 200, o);
	else
		be_reply_error(m->r, 500, "internal", "database error");
}

static void action_cancel(struct be_mgmt *m, struct be_action *a)
{
	int rc;

	if (!a->active) {
		be_reply_error(m->r, 409, "not_active", "action %lld is closed already",
			       (long long)a->id);
		return;
	}
	rc = be_store_action_cancel(m->s, a->device, a->id, "Cancel requested by an operator");
	if (rc == 0)
		rc = be_store_action_get(m->s, 0, a->id, a);
	if (rc < 0)
		mgmt_store_error(m, rc, "action");
	else
		reply_action(m, a);
}

void mgmt_actions(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	struct be_action a;
	int64_t id;
	int rc;

	if (r->n_seg == 3 && get) {
		actions_list(m);
		return;
	}
	id = r->n_seg >= 4 ? mgmt_id(r->seg[3]) : 0;
	rc = id ? be_store_action_get(m->s, 0, id, &a) : -ENOENT;
	if (rc < 0) {
		mgmt_store_error(m, rc, "action");
		return;
	}
	if (r->n_seg == 4 && get)
		reply_action(m, &a);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "cancel") == 0 && r->method == EVHTTP_REQ_POST)
		action_cancel(m, &a);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
}

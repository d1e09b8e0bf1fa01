/* SPDX-License-Identifier: MIT */
/*
 * Management API /api/v1/: Bearer tokens "<tenant>.<secret>" with a role, routing,
 * shared helpers (strict JSON bodies, paging, errors) and the event list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "mgmt.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000

int mgmt_body(struct be_mgmt *m, mgmt_parser parse, void *ret)
{
	struct be_req *r = m->r;
	struct lp_diag d;
	char *body = NULL, err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 16];
	size_t len;
	int rc;

	lp_diag_clear(&d);
	rc = be_body(r, r->cfg->max_json_bytes, &body, &len);
	if (rc < 0) {
		be_reply_error(r, 413, "too_large", "the JSON body is larger than %zu bytes",
			       r->cfg->max_json_bytes);
		return rc;
	}
	rc = parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth, ret, &d);
	free(body);
	if (rc < 0)
		be_reply_error(r, 400, rc == -EINVAL && d.line ? "bad_json" : "bad_request", "%s",
			       lp_diag_format(&d, err, sizeof(err)));
	return rc;
}

int mgmt_paging(struct be_mgmt *m, struct be_page *ret)
{
	if (be_query_int(m->r, "offset", 0, 0, INT32_MAX, &ret->offset) < 0 ||
	    be_query_int(m->r, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &ret->limit) < 0) {
		be_reply_error(m->r, 400, "bad_paging",
			       "offset must be >= 0 and limit between 1 and %d", PAGE_MAX);
		return -EINVAL;
	}
	return 0;
}

void mgmt_reply_list(struct mgmt_list *l, int rc, const struct be_page *p, int64_t total,
		     const char *what)
{
	cJSON *o = NULL;

	if (rc == 0 && l->items && (o = cJSON_CreateObject()) &&
	    cJSON_AddItemToObject(o, "items", l->items)) {
		l->items = NULL;
		cJSON_AddNumberToObject(o, "offset", (double)p->offset);
		cJSON_AddNumberToObject(o, "limit", (double)p->limit);
		cJSON_AddNumberToObject(o, "total", (double)total);
		be_reply_json(l->m->r, 200, o);
		return;
	}
	cJSON_Delete(o);
	cJSON_Delete(l->items);
	l->items = NULL;
	mgmt_store_error(l->m, rc < 0 ? rc : -ENOMEM, what);
}

void mgmt_store_error(struct be_mgmt *m, int rc, const char *what)
{
	if (rc == -ENOENT)
		be_reply_error(m->r, 404, "not_found", "no such %s", what);
	else if (rc == -ENOMEM)
		be_reply_error(m->r, 500, "internal", "out of memory");
	else
		be_reply_error(m->r, 500, "internal", "database error");
}

int mgmt_list_add(struct mgmt_list *l, cJSON *item)
{
	if (!item || !cJSON_AddItemToArray(l->items, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

int64_t mgmt_id(const char *seg)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(seg, &end, 10);
	return errno || *end || end == seg || id <= 0 ? 0 : id;
}

static int mgmt_auth(struct be_req *r, struct be_mgmt *m)
{
	const char *auth = be_header(r, "Authorization");
	char tenant[BE_NAME_MAX], hash[BE_HASH_HEX];
	const char *dot, *secret;

	if (!auth || strncmp(auth, "Bearer ", 7) != 0)
		return -EACCES;
	secret = auth + 7;
	dot = strchr(secret, '.');
	if (!dot || (size_t)(dot - secret) >= sizeof(tenant))
		return -EACCES;
	memcpy(tenant, secret, (size_t)(dot - secret));
	tenant[dot - secret] = '\0';
	if (!be_name_valid(tenant))
		return -EACCES;
	m->s = be_worker_store(r->w, tenant);
	if (!m->s || be_token_hash(dot + 1, strlen(dot + 1), hash) < 0)
		return -EACCES;
	snprintf(m->token_hash, sizeof(m->token_hash), "%s", hash);
	return be_store_token_role(m->s, hash, &m->role);
}

static int event_json(void *ctx, const struct be_event *e)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)e->id);
	cJSON_AddNumberToObject(o, "time", (double)e->time);
	cJSON_AddStringToObject(o, "type", e->type);
	if (e->device)
		cJSON_AddStringToObject(o, "device", e->device);
	else
		cJSON_AddNullToObject(o, "device");
	if (e->action)
		cJSON_AddNumberToObject(o, "action", (double)e->action);
	else
		cJSON_AddNullToObject(o, "action");
	cJSON_AddStringToObject(o, "message", e->message);
	return mgmt_list_add(ctx, o);
}

static void mgmt_events(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t after = 0, total = 0;
	char type[64] = "";
	int has_type, rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	has_type = be_query(r, "type", type, sizeof(type));
	if (be_query_int(r, "after", 0, 0, INT64_MAX, &after) < 0 || has_type < 0) {
		be_reply_error(r, 400, "bad_query", "after must be an event id; type at most 63 bytes");
		return;
	}
	l.items = cJSON_CreateArray();
	rc = be_store_events_list(m->s, after, has_type ? type : NULL, &p, event_json, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "events");
}

/* Minimum role per (resource, write?). */
static bool allowed(const struct be_mgmt *m, const char *res, bool write)
{
	if (!write)
		return true; /* every role may read */
	if (strcmp(res, "uploads") == 0 || strcmp(res, "packages") == 0 ||
	    strcmp(res, "releases") == 0) /* ci: create releases, post gate results */
		return m->role == BE_ROLE_CI || m->role >= BE_ROLE_OPERATOR;
	return m->role >= BE_ROLE_OPERATOR;
}

void be_mgmt_handle(struct be_req *r)
{
	static const struct {
		const char *name;
		void (*fn)(struct be_mgmt *m);
	} resources[] = {
		{ "devices", mgmt_devices }, { "uploads", mgmt_uploads },
		{ "packages", mgmt_packages }, { "deployments", mgmt_deployments },
		{ "actions", mgmt_actions }, { "firmware", mgmt_firmware },
		{ "releases", mgmt_releases }, { "rollouts", mgmt_rollouts },
		{ "alarm-channels", mgmt_alarms }, { "alarm-rules", mgmt_alarms },
		{ "alarms", mgmt_alarms },
	};
	struct be_mgmt m = { .r = r };
	const char *res;
	bool write = r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD;
	int rc = mgmt_auth(r, &m);

	if (rc < 0 && rc != -ENOENT && rc != -EACCES) {
		mgmt_store_error(&m, rc, "token");
		return;
	}
	if (rc < 0) {
		be_add_header(r, "WWW-Authenticate", "Bearer");
		be_reply_error(r, 401, "unauthorized", "missing or invalid bearer token");
		return;
	}
	if (r->n_seg < 3) {
		be_reply_error(r, 404, "not_found", "no such resource");
		return;
	}
	res = r->seg[2];
	if (!allowed(&m, res, write)) {
		be_reply_error(r, 403, "forbidden", "role %s may not change %s", be_role_name(m.role), res);
		return;
	}
	if (strcmp(res, "events") == 0 && r->n_seg == 3 && !write) {
		mgmt_events(&m);
		return;
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(resources); i++)
		if (strcmp(res, resources[i].name) == 0) {
			resources[i].fn(&m);
			return;
		}
	be_reply_error(r, 404, "not_found", "no such resource");
}

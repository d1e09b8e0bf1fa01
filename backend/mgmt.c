/* SPDX-License-Identifier: MIT */
/*
 * Management API /api/v1/: Bearer tokens "<tenant>.<secret>" with a role, routing,
 * shared helpers (strict JSON bodies, paging) and the event list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "backend.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000

int be_mgmt_body_with(struct be_mgmt *m, int (*parse)(const char *, size_t, size_t, unsigned,
						      void *, struct lp_diag *), void *ret)
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

int be_mgmt_paging(struct be_mgmt *m, int64_t *ret_offset, int64_t *ret_limit)
{
	if (be_query_int(m->r, "offset", 0, 0, INT32_MAX, ret_offset) < 0 ||
	    be_query_int(m->r, "limit", PAGE_DEFAULT, 1, PAGE_MAX, ret_limit) < 0) {
		be_reply_error(m->r, 400, "bad_paging",
			       "offset must be >= 0 and limit between 1 and %d", PAGE_MAX);
		return -EINVAL;
	}
	return 0;
}

cJSON *be_mgmt_page(cJSON *items, int64_t offset, int64_t limit, int64_t total)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "items", items);
	cJSON_AddNumberToObject(o, "offset", (double)offset);
	cJSON_AddNumberToObject(o, "limit", (double)limit);
	cJSON_AddNumberToObject(o, "total", (double)total);
	return o;
}

static int mgmt_auth(struct be_req *r, struct be_mgmt *m)
{
	const char *auth = be_header(r, "Authorization");
	char tenant[BE_NAME_MAX], hash[BE_HASH_HEX];
	const char *dot, *secret;
	sqlite3_stmt *st = NULL;
	int rc = -EACCES;

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
	if (be_store_prepare(m->s, "SELECT role FROM tokens WHERE hash = ?", &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    be_role_parse((const char *)sqlite3_column_text(st, 0), &m->role) == 0)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static void mgmt_events(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	sqlite3_stmt *st = NULL;
	int64_t offset, limit, after = 0, total = 0;
	char type[64] = "";
	cJSON *items;
	int has_type;

	if (be_mgmt_paging(m, &offset, &limit) < 0)
		return;
	has_type = be_query(r, "type", type, sizeof(type));
	if (be_query_int(r, "after", 0, 0, INT64_MAX, &after) < 0 || has_type < 0) {
		be_reply_error(r, 400, "bad_query", "after must be an event id; type at most 63 bytes");
		return;
	}
	if (be_store_prepare(m->s, "SELECT count(*) FROM events WHERE id > ?1 AND (?2 IS NULL OR type = ?2)",
			     &st) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, after);
	if (has_type)
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (be_store_prepare(m->s, "SELECT id, time, type, device, action_id, message FROM events"
			     " WHERE id > ?1 AND (?2 IS NULL OR type = ?2) ORDER BY id LIMIT ?3 OFFSET ?4",
			     &st) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, after);
	if (has_type)
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, offset);
	items = cJSON_CreateArray();
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddNumberToObject(e, "time", (double)sqlite3_column_int64(st, 1));
		cJSON_AddStringToObject(e, "type", (const char *)sqlite3_column_text(st, 2));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			cJSON_AddStringToObject(e, "device", (const char *)sqlite3_column_text(st, 3));
		else
			cJSON_AddNullToObject(e, "device");
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			cJSON_AddNumberToObject(e, "action", (double)sqlite3_column_int64(st, 4));
		else
			cJSON_AddNullToObject(e, "action");
		cJSON_AddStringToObject(e, "message", (const char *)sqlite3_column_text(st, 5));
		cJSON_AddItemToArray(items, e);
	}
	sqlite3_finalize(st);
	be_reply_json(r, 200, be_mgmt_page(items, offset, limit, total));
	return;
fail:
	be_reply_error(r, 500, "internal", "database error");
}

/* Minimum role per (resource, write?). */
static bool allowed(const struct be_mgmt *m, const char *res, bool write)
{
	if (!write)
		return true; /* every role may read */
	if (strcmp(res, "uploads") == 0 || strcmp(res, "packages") == 0)
		return m->role == BE_ROLE_CI || m->role >= BE_ROLE_OPERATOR;
	return m->role >= BE_ROLE_OPERATOR;
}

void be_mgmt_handle(struct be_req *r)
{
	struct be_mgmt m = { .r = r };
	const char *res;
	bool write = r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD;

	if (mgmt_auth(r, &m) < 0) {
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
	if (strcmp(res, "devices") == 0)
		be_mgmt_devices(&m);
	else if (strcmp(res, "uploads") == 0)
		be_mgmt_uploads(&m);
	else if (strcmp(res, "packages") == 0)
		be_mgmt_packages(&m);
	else if (strcmp(res, "deployments") == 0)
		be_mgmt_deployments(&m);
	else if (strcmp(res, "actions") == 0)
		be_mgmt_actions(&m);
	else if (strcmp(res, "events") == 0 && r->n_seg == 3 && !write)
		mgmt_events(&m);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
}

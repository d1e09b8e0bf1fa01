/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/deployments (assign a package or a configured action to devices and tags) and
 * /api/v1/actions (list, show with history, cancel). As in hawkBit without
 * multi-assignment, a new deployment asks the device to cancel its open action first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "backend.h"

#define ACTION_COLS "a.id, d.controller_id, a.package_id, a.command, a.type, a.status," \
	" a.active, a.created, a.updated, a.maint_start, a.maint_end"
#define MAX_TARGETS 100000

cJSON *be_action_json(struct be_store *s, sqlite3_stmt *row, bool with_history)
{
	cJSON *o = cJSON_CreateObject();
	int64_t id = sqlite3_column_int64(row, 0);

	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddStringToObject(o, "device", (const char *)sqlite3_column_text(row, 1));
	if (sqlite3_column_type(row, 2) != SQLITE_NULL)
		cJSON_AddNumberToObject(o, "package", (double)sqlite3_column_int64(row, 2));
	else
		cJSON_AddNullToObject(o, "package");
	if (sqlite3_column_type(row, 3) != SQLITE_NULL)
		cJSON_AddStringToObject(o, "command", (const char *)sqlite3_column_text(row, 3));
	else
		cJSON_AddNullToObject(o, "command");
	cJSON_AddStringToObject(o, "type", (const char *)sqlite3_column_text(row, 4));
	cJSON_AddStringToObject(o, "status", (const char *)sqlite3_column_text(row, 5));
	cJSON_AddBoolToObject(o, "active", sqlite3_column_int(row, 6) != 0);
	cJSON_AddNumberToObject(o, "created", (double)sqlite3_column_int64(row, 7));
	cJSON_AddNumberToObject(o, "updated", (double)sqlite3_column_int64(row, 8));
	if (sqlite3_column_type(row, 9) != SQLITE_NULL) {
		cJSON *mw = cJSON_AddObjectToObject(o, "maintenance_window");

		cJSON_AddNumberToObject(mw, "start", (double)sqlite3_column_int64(row, 9));
		cJSON_AddNumberToObject(mw, "end", (double)sqlite3_column_int64(row, 10));
	}
	if (with_history) {
		sqlite3_stmt *st = NULL;
		cJSON *h = cJSON_AddArrayToObject(o, "history");

		if (be_store_prepare(s, "SELECT time, status, code, messages FROM action_status"
				     " WHERE action_id = ? ORDER BY id", &st) == 0) {
			sqlite3_bind_int64(st, 1, id);
			while (sqlite3_step(st) == SQLITE_ROW) {
				cJSON *e = cJSON_CreateObject();
				const char *msgs = (const char *)sqlite3_column_text(st, 3);
				cJSON *arr = msgs ? cJSON_Parse(msgs) : NULL;

				cJSON_AddNumberToObject(e, "time", (double)sqlite3_column_int64(st, 0));
				cJSON_AddStringToObject(e, "status", (const char *)sqlite3_column_text(st, 1));
				if (sqlite3_column_type(st, 2) != SQLITE_NULL)
					cJSON_AddNumberToObject(e, "code", (double)sqlite3_column_int64(st, 2));
				cJSON_AddItemToObject(e, "messages", arr ? arr : cJSON_CreateArray());
				cJSON_AddItemToArray(h, e);
			}
		}
		sqlite3_finalize(st);
	}
	return o;
}

static int exec_bind2(struct be_store *s, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = NULL;
	int r = be_store_prepare(s, sql, &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

static int status_msg(struct be_store *s, int64_t action, const char *status, const char *msg)
{
	sqlite3_stmt *st = NULL;
	cJSON *m = cJSON_CreateArray();
	char *text;
	int r;

	cJSON_AddItemToArray(m, cJSON_CreateString(msg));
	text = lp_json_print(m);
	cJSON_Delete(m);
	if (!text)
		return -ENOMEM;
	r = be_store_prepare(s, "INSERT INTO action_status(action_id, time, status, messages)"
			     " VALUES(?, ?, ?, ?)", &st);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, action);
		sqlite3_bind_int64(st, 2, be_now());
		sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	free(text);
	return r;
}

/* Asks the device to cancel every open action (they become CANCELING). */
static int cancel_open(struct be_store *s, int64_t device, int64_t only_action, const char *why)
{
	sqlite3_stmt *st = NULL;
	int64_t ids[64];
	size_t n = 0;
	int r;

	r = be_store_prepare(s, "SELECT id FROM actions WHERE device_id = ?1 AND active = 1 AND"
			     " status != 'CANCELING' AND (?2 = 0 OR id = ?2) LIMIT 64", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, device);
	sqlite3_bind_int64(st, 2, only_action);
	while (sqlite3_step(st) == SQLITE_ROW && n < LP_ARRAY_SIZE(ids))
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++) {
		if ((r = exec_bind2(s, "UPDATE actions SET status = 'CANCELING', updated = ?1"
				    " WHERE id = ?2", be_now(), ids[i])) < 0 ||
		    (r = status_msg(s, ids[i], "CANCELING", why)) < 0 ||
		    (r = be_store_event(s, "action.canceling", NULL, ids[i], why)) < 0)
			return r;
	}
	return 0;
}

static int create_action(struct be_store *s, int64_t device, const char *cid, int64_t package,
			 const char *command, const char *type, const cJSON *mw, int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	char msg[256];
	int r;

	r = cancel_open(s, device, 0, "Canceled by a new deployment");
	if (r < 0)
		return r;
	r = be_store_prepare(s, "INSERT INTO actions(device_id, package_id, command, type, status,"
			     " active, maint_start, maint_end, created, updated)"
			     " VALUES(?, ?, ?, ?, 'RUNNING', 1, ?, ?, ?, ?)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, device);
	if (package)
		sqlite3_bind_int64(st, 2, package);
	if (command)
		sqlite3_bind_text(st, 3, command, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	if (mw) {
		sqlite3_bind_int64(st, 5, (int64_t)cJSON_GetObjectItemCaseSensitive(mw, "start")->valuedouble);
		sqlite3_bind_int64(st, 6, (int64_t)cJSON_GetObjectItemCaseSensitive(mw, "end")->valuedouble);
	}
	sqlite3_bind_int64(st, 7, be_now());
	sqlite3_bind_int64(st, 8, be_now());
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(s->db);
	if (package)
		snprintf(msg, sizeof(msg), "Assignment of package %lld (%s)", (long long)package, type);
	else
		snprintf(msg, sizeof(msg), "Assignment of action %s (%s)", command, type);
	if ((r = status_msg(s, *ret_id, "RUNNING", msg)) < 0)
		return r;
	return be_store_event(s, "action.created", cid, *ret_id, msg);
}

static int parse_deploy(const char *text, size_t len, size_t max_len, unsigned depth, void *ret,
			struct lp_diag *d)
{
	return be_deploy_req_parse(text, len, max_len, depth, ret, d);
}

static void deploy(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct be_deploy_req q;
	cJSON *out = NULL, *list, *mw = NULL;
	const cJSON *devices, *tags;
	const char *command;
	int64_t package;
	int n_targets = 0;
	sqlite3_stmt *st = NULL;
	const cJSON *it;

	if (be_mgmt_body_with(m, parse_deploy, &q) < 0)
		return;
	package = q.package;
	command = q.command;
	devices = q.devices;
	tags = q.tags;
	if (q.has_window) {
		mw = cJSON_CreateObject();
		cJSON_AddNumberToObject(mw, "start", (double)q.start);
		cJSON_AddNumberToObject(mw, "end", (double)q.end);
	}
	if (package) {
		if (be_store_prepare(m->s, "SELECT 1 FROM packages WHERE id = ?", &st) < 0)
			goto fail;
		sqlite3_bind_int64(st, 1, package);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			be_reply_error(r, 404, "not_found", "no package %lld", (long long)package);
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (be_store_begin(m->s) < 0)
		goto fail;
	/* Targets: listed devices (must exist) plus every device with one of the tags. */
	if (be_store_exec(m->s, "CREATE TEMP TABLE IF NOT EXISTS deploy_targets(id INTEGER PRIMARY KEY,"
			  " cid TEXT); DELETE FROM deploy_targets") < 0)
		goto rollback;
	cJSON_ArrayForEach(it, devices) {
		if (be_store_prepare(m->s, "INSERT OR IGNORE INTO deploy_targets SELECT id, controller_id"
				     " FROM devices WHERE controller_id = ?", &st) < 0)
			goto rollback;
		sqlite3_bind_text(st, 1, it->valuestring, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
		st = NULL;
		if (be_store_prepare(m->s, "SELECT 1 FROM devices WHERE controller_id = ?", &st) < 0)
			goto rollback;
		sqlite3_bind_text(st, 1, it->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			be_store_rollback(m->s);
			be_reply_error(r, 404, "not_found", "no device %s", it->valuestring);
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	cJSON_ArrayForEach(it, tags) {
		if (be_store_prepare(m->s, "INSERT OR IGNORE INTO deploy_targets SELECT d.id, d.controller_id"
				     " FROM devices d JOIN device_tags t ON t.device_id = d.id WHERE t.tag = ?",
				     &st) < 0)
			goto rollback;
		sqlite3_bind_text(st, 1, it->valuestring, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
		st = NULL;
	}
	if (be_store_prepare(m->s, "SELECT id, cid FROM deploy_targets ORDER BY cid", &st) < 0)
		goto rollback;
	out = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(out, "actions");
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t action = 0;
		const char *cid = (const char *)sqlite3_column_text(st, 1);
		cJSON *a;

		if (++n_targets > MAX_TARGETS ||
		    create_action(m->s, sqlite3_column_int64(st, 0), cid, package, command,
				  be_deploy_type_name(q.type), mw, &action) < 0) {
			sqlite3_finalize(st);
			st = NULL;
			goto rollback;
		}
		a = cJSON_CreateObject();
		cJSON_AddNumberToObject(a, "id", (double)action);
		cJSON_AddStringToObject(a, "device", cid);
		cJSON_AddItemToArray(list, a);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (be_store_commit(m->s) < 0)
		goto rollback;
	be_reply_json(r, 201, out);
	out = NULL;
	goto out;
rollback:
	be_store_rollback(m->s);
fail:
	be_reply_error(r, 500, "internal", n_targets > MAX_TARGETS ? "too many targets" : "database error");
out:
	cJSON_Delete(out);
	cJSON_Delete(mw);
	be_deploy_req_done(&q);
}

void be_mgmt_deployments(struct be_mgmt *m)
{
	if (m->r->n_seg == 3 && m->r->method == EVHTTP_REQ_POST)
		deploy(m);
	else
		be_reply_error(m->r, 404, "not_found", "use POST /api/v1/deployments");
}

static void actions_list(struct be_mgmt *m)
{
	static const char where[] = " FROM actions a JOIN devices d ON d.id = a.device_id WHERE"
		" (?1 IS NULL OR d.controller_id = ?1) AND (?2 IS NULL OR a.active = ?2)";
	struct be_req *r = m->r;
	char dev[BE_ID_MAX], sql[512];
	int64_t offset, limit, total = 0, active = -1;
	int has_dev;
	sqlite3_stmt *st = NULL;
	cJSON *items;

	if (be_mgmt_paging(m, &offset, &limit) < 0)
		return;
	has_dev = be_query(r, "device", dev, sizeof(dev));
	if (has_dev < 0 || be_query_int(r, "active", -1, 0, 1, &active) < 0) {
		be_reply_error(r, 400, "bad_query", "device must be a controller id, active 0 or 1");
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		snprintf(sql, sizeof(sql), pass ? "SELECT " ACTION_COLS "%s ORDER BY a.id DESC"
			 " LIMIT ?3 OFFSET ?4" : "SELECT count(*)%s", where);
		if (be_store_prepare(m->s, sql, &st) < 0) {
			be_reply_error(r, 500, "internal", "database error");
			return;
		}
		if (has_dev)
			sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
		if (active >= 0)
			sqlite3_bind_int64(st, 2, active);
		if (!pass) {
			if (sqlite3_step(st) == SQLITE_ROW)
				total = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			continue;
		}
		sqlite3_bind_int64(st, 3, limit);
		sqlite3_bind_int64(st, 4, offset);
		items = cJSON_CreateArray();
		while (sqlite3_step(st) == SQLITE_ROW)
			cJSON_AddItemToArray(items, be_action_json(m->s, st, false));
		sqlite3_finalize(st);
		be_reply_json(r, 200, be_mgmt_page(items, offset, limit, total));
	}
}

static int load_action_row(struct be_mgmt *m, int64_t id, sqlite3_stmt **ret)
{
	if (be_store_prepare(m->s, "SELECT " ACTION_COLS " FROM actions a JOIN devices d"
			     " ON d.id = a.device_id WHERE a.id = ?", ret) < 0)
		return -EIO;
	sqlite3_bind_int64(*ret, 1, id);
	if (sqlite3_step(*ret) != SQLITE_ROW) {
		sqlite3_finalize(*ret);
		*ret = NULL;
		return -ENOENT;
	}
	return 0;
}

void be_mgmt_actions(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	sqlite3_stmt *st = NULL;
	char *end;
	long long id;

	if (r->n_seg == 3 && r->method == EVHTTP_REQ_GET) {
		actions_list(m);
		return;
	}
	if (r->n_seg < 4) {
		be_reply_error(r, 404, "not_found", "no such resource");
		return;
	}
	errno = 0;
	id = strtoll(r->seg[3], &end, 10);
	if (errno || *end || id <= 0 || load_action_row(m, id, &st) < 0) {
		be_reply_error(r, 404, "not_found", "no such action");
		return;
	}
	if (r->n_seg == 4 && r->method == EVHTTP_REQ_GET) {
		be_reply_json(r, 200, be_action_json(m->s, st, true));
		sqlite3_finalize(st);
		return;
	}
	if (r->n_seg == 5 && strcmp(r->seg[4], "cancel") == 0 && r->method == EVHTTP_REQ_POST) {
		bool active = sqlite3_column_int(st, 6) != 0;
		int64_t device = 0;
		sqlite3_stmt *q = NULL;

		sqlite3_finalize(st);
		st = NULL;
		if (!active) {
			be_reply_error(r, 409, "not_active", "action %lld is closed already", id);
			return;
		}
		if (be_store_prepare(m->s, "SELECT device_id FROM actions WHERE id = ?", &q) == 0) {
			sqlite3_bind_int64(q, 1, id);
			if (sqlite3_step(q) == SQLITE_ROW)
				device = sqlite3_column_int64(q, 0);
		}
		sqlite3_finalize(q);
		if (be_store_begin(m->s) < 0 ||
		    cancel_open(m->s, device, id, "Cancel requested by an operator") < 0 ||
		    be_store_commit(m->s) < 0) {
			be_store_rollback(m->s);
			be_reply_error(r, 500, "internal", "database error");
			return;
		}
		if (load_action_row(m, id, &st) < 0) {
			be_reply_error(r, 500, "internal", "database error");
			return;
		}
		be_reply_json(r, 200, be_action_json(m->s, st, true));
		sqlite3_finalize(st);
		return;
	}
	sqlite3_finalize(st);
	be_reply_error(r, 404, "not_found", "no such resource");
}

/* SPDX-License-Identifier: MIT */
/* /api/v1/devices: inventory with paging and filters, registration, tags, attributes,
 * history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "backend.h"

#define DEVICE_COLS "d.id, d.controller_id, d.created, d.last_seen, d.last_ip," \
	" d.installed_name, d.installed_version, d.request_attributes"

static cJSON *device_json(struct be_store *s, sqlite3_stmt *row, bool full)
{
	int64_t id = sqlite3_column_int64(row, 0);
	cJSON *o = cJSON_CreateObject(), *inst, *tags;
	sqlite3_stmt *st = NULL;

	cJSON_AddStringToObject(o, "controller_id", (const char *)sqlite3_column_text(row, 1));
	cJSON_AddNumberToObject(o, "created", (double)sqlite3_column_int64(row, 2));
	cJSON_AddNumberToObject(o, "last_seen", (double)sqlite3_column_int64(row, 3));
	cJSON_AddStringToObject(o, "last_ip", (const char *)sqlite3_column_text(row, 4));
	inst = cJSON_AddObjectToObject(o, "installed");
	cJSON_AddStringToObject(inst, "name", (const char *)sqlite3_column_text(row, 5));
	cJSON_AddStringToObject(inst, "version", (const char *)sqlite3_column_text(row, 6));
	cJSON_AddBoolToObject(o, "request_attributes", sqlite3_column_int(row, 7) != 0);
	tags = cJSON_AddArrayToObject(o, "tags");
	if (be_store_prepare(s, "SELECT tag FROM device_tags WHERE device_id = ? ORDER BY tag", &st) == 0) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW)
			cJSON_AddItemToArray(tags, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!full)
		return o;
	{
		cJSON *attrs = cJSON_AddObjectToObject(o, "attributes");

		if (be_store_prepare(s, "SELECT key, value FROM device_attributes WHERE device_id = ?"
				     " ORDER BY key", &st) == 0) {
			sqlite3_bind_int64(st, 1, id);
			while (sqlite3_step(st) == SQLITE_ROW)
				cJSON_AddStringToObject(attrs, (const char *)sqlite3_column_text(st, 0),
							(const char *)sqlite3_column_text(st, 1));
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (be_store_prepare(s, "SELECT id FROM actions WHERE device_id = ? AND active = 1"
			     " ORDER BY id LIMIT 1", &st) == 0) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			cJSON_AddNumberToObject(o, "active_action", (double)sqlite3_column_int64(st, 0));
		else
			cJSON_AddNullToObject(o, "active_action");
	}
	sqlite3_finalize(st);
	return o;
}

static void devices_list(struct be_mgmt *m)
{
	static const char where[] =
		" FROM devices d WHERE (?1 IS NULL OR EXISTS(SELECT 1 FROM device_tags t"
		" WHERE t.device_id = d.id AND t.tag = ?1)) AND (?2 IS NULL OR"
		" instr(d.controller_id, ?2) > 0) AND (?3 IS NULL OR d.installed_version = ?3)";
	struct be_req *r = m->r;
	char tag[BE_TAG_MAX], q[BE_ID_MAX], version[129], sql[512];
	int has_tag, has_q, has_v;
	sqlite3_stmt *st = NULL;
	int64_t offset, limit, total = 0;
	cJSON *items;

	if (be_mgmt_paging(m, &offset, &limit) < 0)
		return;
	has_tag = be_query(r, "tag", tag, sizeof(tag));
	has_q = be_query(r, "q", q, sizeof(q));
	has_v = be_query(r, "version", version, sizeof(version));
	if (has_tag < 0 || has_q < 0 || has_v < 0) {
		be_reply_error(r, 400, "bad_query", "filter values are too long");
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		snprintf(sql, sizeof(sql), pass ? "SELECT " DEVICE_COLS "%s ORDER BY d.controller_id"
			 " LIMIT ?4 OFFSET ?5" : "SELECT count(*)%s", where);
		if (be_store_prepare(m->s, sql, &st) < 0) {
			be_reply_error(r, 500, "internal", "database error");
			return;
		}
		if (has_tag)
			sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
		if (has_q)
			sqlite3_bind_text(st, 2, q, -1, SQLITE_STATIC);
		if (has_v)
			sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
		if (!pass) {
			if (sqlite3_step(st) == SQLITE_ROW)
				total = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			continue;
		}
		sqlite3_bind_int64(st, 4, limit);
		sqlite3_bind_int64(st, 5, offset);
		items = cJSON_CreateArray();
		while (sqlite3_step(st) == SQLITE_ROW)
			cJSON_AddItemToArray(items, device_json(m->s, st, false));
		sqlite3_finalize(st);
		be_reply_json(r, 200, be_mgmt_page(items, offset, limit, total));
	}
}

static int parse_device(const char *text, size_t len, size_t max_len, unsigned depth, void *ret,
			struct lp_diag *d)
{
	return be_device_req_parse(text, len, max_len, depth, ret, d);
}

static int parse_tags(const char *text, size_t len, size_t max_len, unsigned depth, void *ret,
		      struct lp_diag *d)
{
	return be_tags_req_parse(text, len, max_len, depth, ret, d);
}

static int set_tags(struct be_store *s, int64_t device, const cJSON *arr)
{
	sqlite3_stmt *st = NULL;
	const cJSON *it;
	int r;

	r = be_store_prepare(s, "DELETE FROM device_tags WHERE device_id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, device);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (r < 0 || (r = be_store_prepare(s, "INSERT OR IGNORE INTO device_tags(device_id, tag)"
					  " VALUES(?, ?)", &st)) < 0)
		return r;
	cJSON_ArrayForEach(it, arr) {
		sqlite3_bind_int64(st, 1, device);
		sqlite3_bind_text(st, 2, it->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = -EIO;
			break;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return r;
}

static int64_t device_rowid(struct be_store *s, const char *cid)
{
	sqlite3_stmt *st = s->st_device;
	int64_t id = 0;

	sqlite3_bind_text(st, 1, cid, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

static void device_show(struct be_mgmt *m, const char *cid, int status)
{
	sqlite3_stmt *st = NULL;

	if (be_store_prepare(m->s, "SELECT " DEVICE_COLS " FROM devices d WHERE d.controller_id = ?",
			     &st) < 0) {
		be_reply_error(m->r, 500, "internal", "database error");
		return;
	}
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		be_reply_json(m->r, status, device_json(m->s, st, true));
	else
		be_reply_error(m->r, 404, "not_found", "no device %s", cid);
	sqlite3_finalize(st);
}

static void device_create(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct be_device_req q;
	char token[BE_TOKEN_LEN + 1];
	cJSON *out;
	int rc;

	if (be_mgmt_body_with(m, parse_device, &q) < 0)
		return;
	if (be_store_begin(m->s) < 0)
		goto fail;
	rc = be_device_create(m->s, q.controller_id, false, token);
	if (rc == 0 && q.tags)
		rc = set_tags(m->s, device_rowid(m->s, q.controller_id), q.tags);
	if (rc < 0) {
		be_store_rollback(m->s);
		if (rc == -EEXIST)
			be_reply_error(r, 409, "exists", "device %s exists already", q.controller_id);
		else
			be_reply_error(r, 500, "internal", "database error");
		goto out;
	}
	if (be_store_commit(m->s) < 0) {
		be_store_rollback(m->s);
		goto fail;
	}
	out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "controller_id", q.controller_id);
	cJSON_AddStringToObject(out, "token", token);
	be_reply_json(r, 201, out);
	goto out;
fail:
	be_reply_error(r, 500, "internal", "database error");
out:
	be_device_req_done(&q);
}

static void device_tags(struct be_mgmt *m, const char *cid, int64_t id)
{
	struct be_device_req q;

	if (be_mgmt_body_with(m, parse_tags, &q) < 0)
		return;
	if (be_store_begin(m->s) < 0 || set_tags(m->s, id, q.tags) < 0 ||
	    be_store_event(m->s, "device.tags", cid, 0, "tags replaced") < 0 ||
	    be_store_commit(m->s) < 0) {
		be_store_rollback(m->s);
		be_reply_error(m->r, 500, "internal", "database error");
	} else {
		device_show(m, cid, 200);
	}
	be_device_req_done(&q);
}

static void device_attributes(struct be_mgmt *m, int64_t id)
{
	sqlite3_stmt *st = NULL;
	cJSON *o = cJSON_CreateObject();

	if (be_store_prepare(m->s, "SELECT key, value FROM device_attributes WHERE device_id = ?"
			     " ORDER BY key", &st) == 0) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW)
			cJSON_AddStringToObject(o, (const char *)sqlite3_column_text(st, 0),
						(const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	be_reply_json(m->r, 200, o);
}

static void device_request_attributes(struct be_mgmt *m, const char *cid, int64_t id)
{
	sqlite3_stmt *st = NULL;

	if (be_store_prepare(m->s, "UPDATE devices SET request_attributes = 1 WHERE id = ?", &st) == 0) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	device_show(m, cid, 200);
}

static void device_history(struct be_mgmt *m, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int64_t offset, limit, total = 0;
	cJSON *items;

	if (be_mgmt_paging(m, &offset, &limit) < 0)
		return;
	if (be_store_prepare(m->s, "SELECT count(*) FROM actions WHERE device_id = ?", &st) == 0) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (be_store_prepare(m->s, "SELECT a.id, d.controller_id, a.package_id, a.command, a.type,"
			     " a.status, a.active, a.created, a.updated, a.maint_start, a.maint_end"
			     " FROM actions a JOIN devices d ON d.id = a.device_id WHERE a.device_id = ?"
			     " ORDER BY a.id DESC LIMIT ? OFFSET ?", &st) < 0) {
		be_reply_error(m->r, 500, "internal", "database error");
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	items = cJSON_CreateArray();
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(items, be_action_json(m->s, st, true));
	sqlite3_finalize(st);
	be_reply_json(m->r, 200, be_mgmt_page(items, offset, limit, total));
}

void be_mgmt_devices(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	const char *cid;
	int64_t id;

	if (r->n_seg == 3) {
		if (r->method == EVHTTP_REQ_GET)
			devices_list(m);
		else if (r->method == EVHTTP_REQ_POST)
			device_create(m);
		else
			be_reply_error(r, 405, "method_not_allowed", "use GET or POST");
		return;
	}
	cid = r->seg[3];
	id = be_controller_id_valid(cid) ? device_rowid(m->s, cid) : 0;
	if (!id) {
		be_reply_error(r, 404, "not_found", "no such device");
		return;
	}
	if (r->n_seg == 4 && r->method == EVHTTP_REQ_GET)
		device_show(m, cid, 200);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "tags") == 0 && r->method == EVHTTP_REQ_PUT)
		device_tags(m, cid, id);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "attributes") == 0 && r->method == EVHTTP_REQ_GET)
		device_attributes(m, id);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "request-attributes") == 0 &&
		 r->method == EVHTTP_REQ_POST)
		device_request_attributes(m, cid, id);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "actions") == 0 && r->method == EVHTTP_REQ_GET)
		device_history(m, id);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
}

/* SPDX-License-Identifier: MIT */
/* /api/v1/devices: inventory with paging and filters, registration, tags, attributes,
 * history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "mgmt.h"

static int add_tag(void *ctx, const char *tag)
{
	return cJSON_AddItemToArray(ctx, cJSON_CreateString(tag)) ? 0 : -ENOMEM;
}

static int add_attribute(void *ctx, const char *key, const char *value)
{
	return cJSON_AddStringToObject(ctx, key, value) ? 0 : -ENOMEM;
}

/* full: with attributes and the open action (GET /devices/{id}). NULL on failure. */
static cJSON *device_json(struct be_mgmt *m, const struct be_device *d, bool full)
{
	cJSON *o = cJSON_CreateObject(), *inst;
	struct be_action a;
	int rc;

	cJSON_AddStringToObject(o, "controller_id", d->controller_id);
	cJSON_AddNumberToObject(o, "created", (double)d->created);
	cJSON_AddNumberToObject(o, "last_seen", (double)d->last_seen);
	cJSON_AddStringToObject(o, "last_ip", d->last_ip);
	inst = cJSON_AddObjectToObject(o, "installed");
	cJSON_AddStringToObject(inst, "name", d->installed_name);
	cJSON_AddStringToObject(inst, "version", d->installed_version);
	cJSON_AddBoolToObject(o, "request_attributes", d->request_attributes);
	rc = be_store_device_tags(m->s, d->id, add_tag, cJSON_AddArrayToObject(o, "tags"));
	if (rc == 0 && full)
		rc = be_store_device_attributes(m->s, d->id, add_attribute,
						cJSON_AddObjectToObject(o, "attributes"));
	if (rc == 0 && full) {
		rc = be_store_action_open(m->s, d->id, &a);
		if (rc == 0)
			cJSON_AddNumberToObject(o, "active_action", (double)a.id);
		else if (rc == -ENOENT)
			rc = !cJSON_AddNullToObject(o, "active_action") ? -ENOMEM : 0;
	}
	if (rc < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int list_device(void *ctx, const struct be_device *d)
{
	struct mgmt_list *l = ctx;

	return mgmt_list_add(l, device_json(l->m, d, false));
}

static void devices_list(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	char tag[BE_TAG_MAX], q[BE_ID_MAX], version[BE_TEXT_MAX];
	struct be_device_filter f = { 0 };
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	int has_tag, has_q, has_v, rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	has_tag = be_query(r, "tag", tag, sizeof(tag));
	has_q = be_query(r, "q", q, sizeof(q));
	has_v = be_query(r, "version", version, sizeof(version));
	if (has_tag < 0 || has_q < 0 || has_v < 0) {
		be_reply_error(r, 400, "bad_query", "filter values are too long");
		return;
	}
	f.tag = has_tag ? tag : NULL;
	f.text = has_q ? q : NULL;
	f.version = has_v ? version : NULL;
	l.items = cJSON_CreateArray();
	rc = be_store_devices_list(m->s, &f, &p, list_device, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "devices");
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

/* The validated tag names of a request (at most BE_MAX_TAGS, checked by the parser). */
static size_t tag_list(const cJSON *arr, const char *out[BE_MAX_TAGS])
{
	const cJSON *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, arr)
		if (n < BE_MAX_TAGS)
			out[n++] = it->valuestring;
	return n;
}

static void device_show(struct be_mgmt *m, const char *cid, int status)
{
	struct be_device d;
	cJSON *o;
	int rc = be_store_device_get(m->s, cid, &d);

	if (rc < 0) {
		mgmt_store_error(m, rc, "device");
		return;
	}
	o = device_json(m, &d, true);
	if (!o)
		be_reply_error(m->r, 500, "internal", "database error");
	else
		be_reply_json(m->r, status, o);
}

static void device_create(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	const char *tags[BE_MAX_TAGS];
	struct be_device_req q;
	char token[BE_TOKEN_LEN + 1];
	cJSON *out;
	int rc;

	if (mgmt_body(m, parse_device, &q) < 0)
		return;
	rc = be_device_create(m->s, q.controller_id, false, tags, tag_list(q.tags, tags), token);
	if (rc == -EEXIST) {
		be_reply_error(r, 409, "exists", "device %s exists already", q.controller_id);
	} else if (rc < 0) {
		mgmt_store_error(m, rc, "device");
	} else {
		out = cJSON_CreateObject();
		cJSON_AddStringToObject(out, "controller_id", q.controller_id);
		cJSON_AddStringToObject(out, "token", token);
		be_reply_json(r, 201, out);
	}
	be_device_req_done(&q);
}

static void device_tags(struct be_mgmt *m, const char *cid, int64_t id)
{
	const char *tags[BE_MAX_TAGS];
	struct be_device_req q;
	int rc;

	if (mgmt_body(m, parse_tags, &q) < 0)
		return;
	rc = be_store_device_retag(m->s, id, cid, tags, tag_list(q.tags, tags));
	be_device_req_done(&q);
	if (rc < 0)
		mgmt_store_error(m, rc, "device");
	else
		device_show(m, cid, 200);
}

static void device_attributes(struct be_mgmt *m, int64_t id)
{
	cJSON *o = cJSON_CreateObject();
	int rc = be_store_device_attributes(m->s, id, add_attribute, o);

	if (rc < 0) {
		cJSON_Delete(o);
		mgmt_store_error(m, rc, "device");
		return;
	}
	be_reply_json(m->r, 200, o);
}

static void device_request_attributes(struct be_mgmt *m, const char *cid, int64_t id)
{
	int rc = be_store_device_request_attributes(m->s, id);

	if (rc < 0)
		mgmt_store_error(m, rc, "device");
	else
		device_show(m, cid, 200);
}

static int list_action_with_history(void *ctx, const struct be_action *a)
{
	struct mgmt_list *l = ctx;

	return mgmt_list_add(l, mgmt_action_json(l->m, a, true));
}

static void device_history(struct be_mgmt *m, int64_t id)
{
	struct be_action_filter f = { .device_id = id, .active = -1 };
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	int rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	l.items = cJSON_CreateArray();
	rc = be_store_actions_list(m->s, &f, &p, list_action_with_history, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "actions");
}

void mgmt_devices(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	const char *cid, *sub;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	int64_t id = 0;
	int rc;

	if (r->n_seg == 3) {
		if (get)
			devices_list(m);
		else if (r->method == EVHTTP_REQ_POST)
			device_create(m);
		else
			be_reply_error(r, 405, "method_not_allowed", "use GET or POST");
		return;
	}
	cid = r->seg[3];
	rc = be_controller_id_valid(cid) ? be_store_device_id(m->s, cid, &id) : -ENOENT;
	if (rc < 0) {
		mgmt_store_error(m, rc, "device");
		return;
	}
	sub = r->n_seg == 5 ? r->seg[4] : "";
	if (r->n_seg == 4 && get)
		device_show(m, cid, 200);
	else if (strcmp(sub, "tags") == 0 && r->method == EVHTTP_REQ_PUT)
		device_tags(m, cid, id);
	else if (strcmp(sub, "attributes") == 0 && get)
		device_attributes(m, id);
	else if (strcmp(sub, "request-attributes") == 0 && r->method == EVHTTP_REQ_POST)
		device_request_attributes(m, cid, id);
	else if (strcmp(sub, "actions") == 0 && get)
		device_history(m, id);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
}

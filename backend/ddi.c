/* SPDX-License-Identifier: MIT */
/*
 * hawkBit DDI v1 device API under /{tenant}/controller/v1/{controllerId}
 * (reference/ddi-v1.md). The root poll reads only prepared statements and never writes:
 * the device's last-seen time goes into the worker's in-memory batch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/hash.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "backend.h"
#include "tls.h"

#define MAX_STATUS_PER_ACTION 1000

struct ddi {
	struct be_req *r;
	struct be_store *s;
	const char *tenant;
	const char *cid;
	int64_t device;       /* rowid, 0 if the device does not exist (gateway/cert auth) */
	bool request_attributes;
	int64_t lapsed;       /* open action whose maintenance window has passed */
	char base[600];       /* scheme://host for links of the request's own scheme */
};

static void ddi_error(struct be_req *r, int status, const char *code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "exceptionClass", "org.loopline.backend.DdiException");
	cJSON_AddStringToObject(o, "errorCode", code);
	cJSON_AddStringToObject(o, "message", msg);
	be_reply_json(r, status, o);
}

static bool hex_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && lp_hash_equal((const uint8_t *)a, (const uint8_t *)b, n);
}

/* Returns 0 if authenticated, -EACCES otherwise. */
static int ddi_auth(struct ddi *d)
{
	struct be_req *r = d->r;
	sqlite3_stmt *st = d->s->st_device;
	const char *auth = be_header(r, "Authorization");
	char cn[BE_ID_MAX + 1], hash[BE_HASH_HEX], stored[BE_HASH_HEX] = "";
	int c, rc = -EACCES;

	sqlite3_bind_text(st, 1, d->cid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 1);

		d->device = sqlite3_column_int64(st, 0);
		d->request_attributes = sqlite3_column_int(st, 2) != 0;
		snprintf(stored, sizeof(stored), "%s", h ? (const char *)h : "");
	}
	sqlite3_reset(st);

	if (r->tls) {
		c = be_tls_peer_cn(r->req, cn, sizeof(cn));
		if (c < 0)
			return -EACCES;
		if (c > 0)
			return strcmp(cn, d->cid) == 0 ? 0 : -EACCES;
	}
	if (!auth)
		return -EACCES;
	if (strncmp(auth, "TargetToken ", 12) == 0) {
		if (!d->device || !stored[0] || be_token_hash(auth + 12, strlen(auth + 12), hash) < 0)
			return -EACCES;
		return hex_equal(hash, stored) ? 0 : -EACCES;
	}
	if (strncmp(auth, "GatewayToken ", 13) == 0) {
		st = d->s->st_gateway;
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
		    be_token_hash(auth + 13, strlen(auth + 13), hash) == 0 &&
		    hex_equal(hash, (const char *)sqlite3_column_text(st, 0)))
			rc = 0;
		sqlite3_reset(st);
	}
	return rc;
}

static int ddi_register(struct ddi *d)
{
	sqlite3_stmt *st = NULL;
	int r = be_store_prepare(d->s, "INSERT INTO devices(controller_id, created) VALUES(?, ?)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, d->cid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, be_now());
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	d->device = sqlite3_last_insert_rowid(d->s->db);
	d->request_attributes = true;
	return be_store_event(d->s, "device.registered", d->cid, 0, "auto-registered on first poll");
}

static int32_t action_etag(int64_t id, const char *type, bool window_open)
{
	int64_t salt = window_open ? 1249 : strcmp(type, "forced") == 0 ? 1231 : 1237;

	return (int32_t)(uint32_t)((uint64_t)id * 2654435761u + (uint64_t)salt * 31u);
}

static void fmt_sleep(unsigned s, char out[16])
{
	snprintf(out, 16, "%02u:%02u:%02u", s / 3600 % 24, s / 60 % 60, s % 60);
}

static void add_link(cJSON *links, const char *rel, const char *href)
{
	cJSON *o = cJSON_AddObjectToObject(links, rel);

	cJSON_AddStringToObject(o, "href", href);
}

/* The poll answer is built directly into a bounded buffer: it is the hot path. */
struct sbuf {
	char buf[4096];
	size_t len;
	bool overflow;
};

static void sb_raw(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n >= sizeof(b->buf)) {
		b->overflow = true;
		return;
	}
	memcpy(b->buf + b->len, s, n + 1);
	b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
	char esc[8];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else {
			esc[0] = (char)c;
			esc[1] = '\0';
		}
		sb_raw(b, esc);
	}
}

/* ,"rel":{"href":"<base>/<tenant>/controller/v1/<cid>/<tail>"} */
static void sb_link(struct sbuf *b, struct ddi *d, bool *first, const char *rel, const char *tail)
{
	sb_raw(b, *first ? "\"" : ",\"");
	*first = false;
	sb_raw(b, rel);
	sb_raw(b, "\":{\"href\":\"");
	sb_str(b, d->base);
	sb_raw(b, "/");
	sb_str(b, d->tenant);
	sb_raw(b, "/controller/v1/");
	sb_str(b, d->cid);
	sb_raw(b, "/");
	sb_raw(b, tail);
	sb_raw(b, "\"}");
}

static void ddi_poll(struct ddi *d)
{
	struct be_req *r = d->r;
	const struct be_config *cfg = r->cfg;
	const char *accept = be_header(r, "Accept");
	sqlite3_stmt *st;
	struct sbuf *b;
	char tail[96], sleep_s[16];
	unsigned sleep = cfg->poll_sleep_s;
	int64_t now = be_now();
	bool first = true;

	b = malloc(sizeof(*b));
	if (!b) {
		be_reply_empty(r, 500);
		return;
	}
	b->len = 0;
	b->overflow = false;
	b->buf[0] = '\0';
	sb_raw(b, "{\"config\":{\"polling\":{\"sleep\":\"00:00:00\"}}");
	st = d->s->st_active;
	sqlite3_bind_int64(st, 1, d->device);
	if (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *status = (const char *)sqlite3_column_text(st, 1);
		const char *type = (const char *)sqlite3_column_text(st, 2);
		bool maint = sqlite3_column_type(st, 3) != SQLITE_NULL;
		int64_t ms = sqlite3_column_int64(st, 3), me = sqlite3_column_int64(st, 4);

		sb_raw(b, ",\"_links\":{");
		if (strcmp(status, "CANCELING") == 0) {
			snprintf(tail, sizeof(tail), "cancelAction/%lld", (long long)id);
			sb_link(b, d, &first, "cancelAction", tail);
		} else if (maint && now >= me) {
			/* The window has passed: the action is canceled after this poll. */
			d->lapsed = id;
			first = true;
			b->len -= strlen(",\"_links\":{");
			b->buf[b->len] = '\0';
		} else {
			bool open = maint && now >= ms && now < me;

			snprintf(tail, sizeof(tail), "deploymentBase/%lld?c=%d", (long long)id,
				 action_etag(id, type, open));
			sb_link(b, d, &first, "deploymentBase", tail);
			/* A pending maintenance window shortens the interval (as hawkBit does). */
			if (maint && now < ms) {
				int64_t until = (ms - now) / 3;

				if (until < (int64_t)sleep)
					sleep = until < (int64_t)cfg->poll_min_sleep_s ?
						cfg->poll_min_sleep_s : (unsigned)until;
			}
		}
	}
	sqlite3_reset(st);
	st = d->s->st_installed;
	sqlite3_bind_int64(st, 1, d->device);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (first)
			sb_raw(b, ",\"_links\":{");
		snprintf(tail, sizeof(tail), "installedBase/%lld", (long long)sqlite3_column_int64(st, 0));
		sb_link(b, d, &first, "installedBase", tail);
	}
	sqlite3_reset(st);
	if (d->request_attributes) {
		if (first)
			sb_raw(b, ",\"_links\":{");
		sb_link(b, d, &first, "configData", "configData");
	}
	if (!first)
		sb_raw(b, "}");
	sb_raw(b, "}");
	if (cfg->poll_jitter_percent) {
		int64_t span = (int64_t)sleep * cfg->poll_jitter_percent / 100;
		int64_t v = (int64_t)sleep - span + (int64_t)(be_worker_random(r->w) % (uint32_t)(2 * span + 1));

		if (v < (int64_t)cfg->poll_min_sleep_s)
			v = cfg->poll_min_sleep_s;
		sleep = (unsigned)v;
	}
	if (sleep > 86399)
		sleep = 86399;
	fmt_sleep(sleep, sleep_s);
	/* "{"config":{"polling":{"sleep":"" is 31 bytes; the placeholder has 8 characters. */
	memcpy(b->buf + 31, sleep_s, 8);
	be_worker_note_seen(r->w, d->s, d->device, r->ip);
	if (!b->overflow) {
		/* ETag of the answer: a client sending it back in If-None-Match gets 304. */
		const char *inm = be_header(r, "If-None-Match");
		uint64_t h = 14695981039346656037ull;
		char etag[24];

		for (size_t i = 0; i < b->len; i++)
			h = (h ^ (uint8_t)b->buf[i]) * 1099511628211ull;
		snprintf(etag, sizeof(etag), "\"%016llx\"", (unsigned long long)h);
		be_add_header(r, "ETag", etag);
		if (inm && strcmp(inm, etag) == 0) {
			be_reply_empty(r, 304);
			free(b);
			return;
		}
	}
	if (b->overflow)
		be_reply_empty(r, 500);
	else
		be_reply_buffer(r, 200, accept && strstr(accept, "application/json") &&
				!strstr(accept, "hal+json") ? "application/json" : "application/hal+json",
				b->buf, b->len);
	free(b);
}

/* ---- actions ---- */

struct action {
	int64_t id;
	int64_t package;     /* 0 = none (configured action) */
	char command[129];
	char type[16];
	char status[32];
	bool active;
	bool maint;
	int64_t maint_start, maint_end;
};

/* Loads an action of this device; -ENOENT if it does not exist or is another device's. */
static int load_action(struct ddi *d, const char *id_str, struct action *a)
{
	sqlite3_stmt *st = NULL;
	char *end;
	long long id;
	int r;

	errno = 0;
	id = strtoll(id_str, &end, 10);
	if (errno || *end || id <= 0)
		return -ENOENT;
	r = be_store_prepare(d->s, "SELECT id, package_id, command, type, status, active,"
			     " maint_start, maint_end FROM actions WHERE id = ? AND device_id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, d->device);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->package = sqlite3_column_int64(st, 1);
	snprintf(a->command, sizeof(a->command), "%s",
		 sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
	snprintf(a->type, sizeof(a->type), "%s", (const char *)sqlite3_column_text(st, 3));
	snprintf(a->status, sizeof(a->status), "%s", (const char *)sqlite3_column_text(st, 4));
	a->active = sqlite3_column_int(st, 5) != 0;
	a->maint = sqlite3_column_type(st, 6) != SQLITE_NULL;
	a->maint_start = sqlite3_column_int64(st, 6);
	a->maint_end = sqlite3_column_int64(st, 7);
	sqlite3_finalize(st);
	return 0;
}

static int add_status(struct be_store *s, int64_t action, int64_t time, const char *status,
		      const int64_t *code, const cJSON *messages)
{
	sqlite3_stmt *st = NULL;
	char *text = lp_json_print(messages);
	int r;

	if (!text)
		return -ENOMEM;
	r = be_store_prepare(s, "INSERT INTO action_status(action_id, time, status, code, messages)"
			     " VALUES(?, ?, ?, ?, ?)", &st);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, action);
		sqlite3_bind_int64(st, 2, time);
		sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
		if (code)
			sqlite3_bind_int64(st, 4, *code);
		sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	free(text);
	return r;
}

/* Adds the artifact object of package id (shape of DdiArtifact) to arr; 0 or -ENOENT. */
static int add_artifact(struct ddi *d, int64_t pkg, cJSON *arr, char *ret_part, char *ret_version,
			char *ret_name, size_t len)
{
	sqlite3_stmt *st = NULL;
	cJSON *a, *h, *links;
	char base[600], href[1200];
	const char *fn, *sha256;
	int r;

	r = be_store_prepare(d->s, "SELECT filename, size, sha256, sha1, md5, part, version, name"
			     " FROM packages WHERE id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, pkg);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	fn = (const char *)sqlite3_column_text(st, 0);
	sha256 = (const char *)sqlite3_column_text(st, 2);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "filename", fn);
	h = cJSON_AddObjectToObject(a, "hashes");
	cJSON_AddStringToObject(h, "sha1", (const char *)sqlite3_column_text(st, 3));
	cJSON_AddStringToObject(h, "md5", (const char *)sqlite3_column_text(st, 4));
	cJSON_AddStringToObject(h, "sha256", sha256);
	cJSON_AddNumberToObject(a, "size", (double)sqlite3_column_int64(st, 1));
	links = cJSON_AddObjectToObject(a, "_links");
	if (d->r->cfg->artifact_base_url[0]) {
		const char *cdn = d->r->cfg->artifact_base_url;

		snprintf(href, sizeof(href), "%s/%s/%s", cdn, d->tenant, sha256);
		add_link(links, strncmp(cdn, "https:", 6) == 0 ? "download" : "download-http", href);
	} else {
		for (int https = 1; https >= 0; https--) {
			be_base_url(d->r, https, base, sizeof(base));
			if (!base[0])
				continue;
			snprintf(href, sizeof(href),
				 "%s/%s/controller/v1/%s/softwaremodules/%lld/artifacts/%s", base,
				 d->tenant, d->cid, (long long)pkg, fn);
			add_link(links, https ? "download" : "download-http", href);
			snprintf(href + strlen(href), sizeof(href) - strlen(href), ".MD5SUM");
			add_link(links, https ? "md5sum" : "md5sum-http", href);
		}
	}
	if (ret_part) {
		snprintf(ret_part, len, "%s", (const char *)sqlite3_column_text(st, 5));
		snprintf(ret_version, len, "%s", (const char *)sqlite3_column_text(st, 6));
		snprintf(ret_name, len, "%s", (const char *)sqlite3_column_text(st, 7));
	}
	sqlite3_finalize(st);
	cJSON_AddItemToArray(arr, a);
	return 0;
}

static cJSON *action_history(struct ddi *d, const struct action *a, int64_t n)
{
	sqlite3_stmt *st = NULL;
	cJSON *h = cJSON_CreateObject(), *msgs;

	cJSON_AddStringToObject(h, "status", a->status);
	msgs = cJSON_AddArrayToObject(h, "messages");
	if (be_store_prepare(d->s, "SELECT messages FROM action_status WHERE action_id = ?"
			     " ORDER BY id DESC LIMIT ?", &st) < 0)
		return h;
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_int64(st, 2, n);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		cJSON *arr = text ? cJSON_Parse(text) : NULL;
		int k = cJSON_GetArraySize(arr);

		/* newest first, also within one status entry */
		for (int i = k - 1; i >= 0; i--) {
			cJSON *m = cJSON_GetArrayItem(arr, i);

			if (cJSON_IsString(m))
				cJSON_AddItemToArray(msgs, cJSON_CreateString(m->valuestring));
		}
		cJSON_Delete(arr);
	}
	sqlite3_finalize(st);
	return h;
}

static void reply_deployment(struct ddi *d, const struct action *a)
{
	struct be_req *r = d->r;
	cJSON *root, *dep, *chunks, *chunk, *arts;
	char idbuf[24], part[128], version[128], name[256];
	int64_t hist = 0, now = be_now();
	const char *download, *update;
	bool open = a->maint && now >= a->maint_start && now < a->maint_end;

	if (be_query_int(r, "actionHistory", 0, INT32_MIN, INT32_MAX, &hist) < 0) {
		ddi_error(r, 400, "hawkbit.server.error.rest.param.invalid", "bad actionHistory");
		return;
	}
	download = strcmp(a->type, "soft") == 0 ? "attempt" : "forced";
	if (strcmp(a->type, "download-only") == 0)
		update = "skip";
	else if (a->maint)
		update = open ? download : "skip";
	else
		update = download;

	root = cJSON_CreateObject();
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)a->id);
	cJSON_AddStringToObject(root, "id", idbuf);
	dep = cJSON_AddObjectToObject(root, "deployment");
	cJSON_AddStringToObject(dep, "download", download);
	cJSON_AddStringToObject(dep, "update", update);
	if (a->maint)
		cJSON_AddStringToObject(dep, "maintenanceWindow", open ? "available" : "unavailable");
	chunks = cJSON_AddArrayToObject(dep, "chunks");
	chunk = cJSON_CreateObject();
	cJSON_AddItemToArray(chunks, chunk);
	if (a->package) {
		arts = cJSON_CreateArray();
		if (add_artifact(d, a->package, arts, part, version, name, sizeof(part)) < 0) {
			cJSON_Delete(arts);
			cJSON_Delete(root);
			ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "package is gone");
			return;
		}
		cJSON_AddStringToObject(chunk, "part", part);
		cJSON_AddStringToObject(chunk, "version", version);
		cJSON_AddStringToObject(chunk, "name", name);
		cJSON_AddItemToObject(chunk, "artifacts", arts);
	} else {
		cJSON *meta, *m;

		cJSON_AddStringToObject(chunk, "part", "action");
		cJSON_AddStringToObject(chunk, "version", "1");
		cJSON_AddStringToObject(chunk, "name", a->command);
		cJSON_AddArrayToObject(chunk, "artifacts");
		meta = cJSON_AddArrayToObject(chunk, "metadata");
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "key", "action");
		cJSON_AddStringToObject(m, "value", a->command);
		cJSON_AddItemToArray(meta, m);
	}
	if (hist != 0)
		cJSON_AddItemToObject(root, "actionHistory",
				      action_history(d, a, hist < 0 || hist > 1000 ? 1000 : hist));
	be_reply_json(r, 200, root);
}

static void ddi_deployment_base(struct ddi *d, const char *id)
{
	struct action a;

	if (load_action(d, id, &a) < 0 || strcmp(a.status, "CANCELING") == 0 ||
	    strcmp(a.status, "CANCELED") == 0) {
		ddi_error(d->r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no such action");
		return;
	}
	if (a.active && strcmp(a.status, "RUNNING") == 0) {
		/* First retrieval: recorded once, like hawkBit's RETRIEVED status. */
		cJSON *m = cJSON_CreateArray();
		sqlite3_stmt *st = NULL;

		cJSON_AddItemToArray(m, cJSON_CreateString(
			"Target retrieved update action and should start now the download."));
		if (be_store_begin(d->s) == 0) {
			if (add_status(d->s, a.id, be_now(), "RETRIEVED", NULL, m) == 0 &&
			    be_store_prepare(d->s, "UPDATE actions SET status = 'RETRIEVED', updated = ?"
					     " WHERE id = ?", &st) == 0) {
				sqlite3_bind_int64(st, 1, be_now());
				sqlite3_bind_int64(st, 2, a.id);
				sqlite3_step(st);
			}
			sqlite3_finalize(st);
			if (be_store_commit(d->s) < 0)
				be_store_rollback(d->s);
			else
				snprintf(a.status, sizeof(a.status), "RETRIEVED");
		}
		cJSON_Delete(m);
	}
	reply_deployment(d, &a);
}

static void ddi_feedback(struct ddi *d, const char *id, bool cancel)
{
	struct be_req *r = d->r;
	struct be_feedback fb;
	struct lp_diag diag;
	struct action a;
	sqlite3_stmt *st = NULL;
	cJSON *msgs = NULL;
	char *body = NULL, err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 8];
	const char *status;
	size_t len;
	bool closes;
	int64_t count = 0;
	int rc;

	if (load_action(d, id, &a) < 0) {
		ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no such action");
		return;
	}
	rc = be_body(r, r->cfg->max_json_bytes, &body, &len);
	if (rc < 0) {
		ddi_error(r, 413, "hawkbit.server.error.rest.body.tooLarge", "request body too large");
		return;
	}
	lp_diag_clear(&diag);
	rc = be_feedback_parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth, &fb, &diag);
	free(body);
	if (rc < 0) {
		lp_diag_format(&diag, err, sizeof(err));
		ddi_error(r, rc == -E2BIG ? 429 : 400, rc == -E2BIG ?
			  "hawkbit.server.error.quota.tooManyEntries" :
			  "hawkbit.server.error.rest.body.notReadable", err);
		return;
	}
	if (!a.active) {
		be_feedback_done(&fb);
		ddi_error(r, 410, "hawkbit.server.error.action.notActive", "Action is not active anymore.");
		return;
	}
	if (cancel && strcmp(a.status, "CANCELING") != 0) {
		be_feedback_done(&fb);
		ddi_error(r, 405, "hawkbit.server.error.action.notCancelable",
			  "The action is not cancelable / force quitable");
		return;
	}
	status = be_feedback_status(&fb, cancel, &closes);
	if (be_store_prepare(d->s, "SELECT count(*) FROM action_status WHERE action_id = ?", &st) == 0) {
		sqlite3_bind_int64(st, 1, a.id);
		if (sqlite3_step(st) == SQLITE_ROW)
			count = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (count >= MAX_STATUS_PER_ACTION) {
		be_feedback_done(&fb);
		ddi_error(r, 429, "hawkbit.server.error.quota.tooManyEntries",
			  "too many status entries for this action");
		return;
	}
	msgs = fb.details ? cJSON_Duplicate(fb.details, 1) : cJSON_CreateArray();
	if (fb.has_code) {
		char m[64];

		snprintf(m, sizeof(m), "Device reported status code: %lld", (long long)fb.code);
		cJSON_AddItemToArray(msgs, cJSON_CreateString(m));
	}
	if (cancel && strcmp(status, "CANCEL_REJECTED") == 0)
		cJSON_AddItemToArray(msgs, cJSON_CreateString("Cancellation rejected by the device"));
	rc = be_store_begin(d->s);
	if (rc < 0)
		goto fail;
	rc = add_status(d->s, a.id, fb.timestamp_ms ? fb.timestamp_ms / 1000 : be_now(), status,
			fb.has_code ? &fb.code : NULL, msgs);
	if (rc < 0)
		goto rollback;
	rc = be_store_prepare(d->s, "UPDATE actions SET status = ?, active = ?, updated = ? WHERE id = ?",
			      &st);
	if (rc < 0)
		goto rollback;
	/* A rejected cancellation lets the deployment continue. */
	sqlite3_bind_text(st, 1, strcmp(status, "CANCEL_REJECTED") == 0 ? "RUNNING" : status, -1,
			  SQLITE_STATIC);
	sqlite3_bind_int(st, 2, closes ? 0 : 1);
	sqlite3_bind_int64(st, 3, be_now());
	sqlite3_bind_int64(st, 4, a.id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	st = NULL;
	if (rc < 0)
		goto rollback;
	if (closes && strcmp(status, "FINISHED") == 0 && a.package) {
		rc = be_store_prepare(d->s, "UPDATE devices SET request_attributes = 1,"
				      " installed_name = (SELECT name FROM packages WHERE id = ?1),"
				      " installed_version = (SELECT version FROM packages WHERE id = ?1)"
				      " WHERE id = ?2", &st);
		if (rc < 0)
			goto rollback;
		sqlite3_bind_int64(st, 1, a.package);
		sqlite3_bind_int64(st, 2, d->device);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
		st = NULL;
		if (rc < 0)
			goto rollback;
	}
	if (closes || strcmp(status, "WARNING") == 0 || strcmp(status, "CANCEL_REJECTED") == 0) {
		char ev[64];

		if (strcmp(status, "ERROR") == 0) {
			snprintf(ev, sizeof(ev), "action.failed");
		} else {
			snprintf(ev, sizeof(ev), "action.%s", status);
			for (char *p = ev; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		}
		rc = be_store_event(d->s, ev, d->cid, a.id, fb.details && cJSON_GetArraySize(fb.details) ?
				    cJSON_GetArrayItem(fb.details, 0)->valuestring : status);
		if (rc < 0)
			goto rollback;
	}
	rc = be_store_commit(d->s);
	if (rc < 0)
		goto rollback;
	cJSON_Delete(msgs);
	be_feedback_done(&fb);
	be_reply_empty(r, 200);
	return;
rollback:
	be_store_rollback(d->s);
fail:
	cJSON_Delete(msgs);
	be_feedback_done(&fb);
	ddi_error(r, 500, "hawkbit.server.error.internal", "cannot store feedback");
}

static void ddi_cancel_action(struct ddi *d, const char *id)
{
	struct action a;
	cJSON *root;
	char idbuf[24];

	if (load_action(d, id, &a) < 0 ||
	    (strcmp(a.status, "CANCELING") != 0 && strcmp(a.status, "CANCELED") != 0)) {
		ddi_error(d->r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no such cancel action");
		return;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)a.id);
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", idbuf);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "cancelAction"), "stopId", idbuf);
	be_reply_json(d->r, 200, root);
}

static void ddi_installed_base(struct ddi *d, const char *id)
{
	struct action a;

	if (load_action(d, id, &a) < 0 || a.active || strcmp(a.status, "FINISHED") != 0) {
		ddi_error(d->r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no such installed action");
		return;
	}
	reply_deployment(d, &a);
}

static void ddi_put_installed(struct ddi *d)
{
	struct be_req *r = d->r;
	struct be_installed_req q;
	struct lp_diag diag;
	sqlite3_stmt *st = NULL;
	char *body = NULL, err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 8];
	size_t len;
	int rc, changed;

	lp_diag_clear(&diag);
	if (be_body(r, r->cfg->max_json_bytes, &body, &len) < 0) {
		ddi_error(r, 413, "hawkbit.server.error.rest.body.tooLarge", "request body too large");
		return;
	}
	rc = be_installed_req_parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth, &q,
				    &diag);
	free(body);
	if (rc < 0) {
		lp_diag_format(&diag, err, sizeof(err));
		ddi_error(r, 400, "hawkbit.server.error.rest.body.notReadable", err);
		return;
	}
	rc = be_store_prepare(d->s, "UPDATE devices SET installed_name = ?1, installed_version = ?2"
			      " WHERE id = ?3 AND (installed_name != ?1 OR installed_version != ?2)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, q.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, q.version, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, d->device);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	changed = sqlite3_changes(d->s->db);
	sqlite3_finalize(st);
	be_installed_req_done(&q);
	if (rc < 0) {
		ddi_error(r, 500, "hawkbit.server.error.internal", "cannot store");
		return;
	}
	be_reply_empty(r, changed ? 201 : 200);
}

static void ddi_config_data(struct ddi *d)
{
	struct be_req *r = d->r;
	struct be_configdata cd;
	struct lp_diag diag;
	sqlite3_stmt *st = NULL;
	const cJSON *it;
	char *body = NULL, err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 8];
	size_t len;
	int64_t total = 0;
	int rc;

	lp_diag_clear(&diag);
	if (be_body(r, r->cfg->max_json_bytes, &body, &len) < 0) {
		ddi_error(r, 413, "hawkbit.server.error.rest.body.tooLarge", "request body too large");
		return;
	}
	rc = be_configdata_parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth,
				 r->cfg->max_attributes, &cd, &diag);
	free(body);
	if (rc < 0) {
		lp_diag_format(&diag, err, sizeof(err));
		ddi_error(r, rc == -E2BIG ? 429 : 400, rc == -E2BIG ?
			  "hawkbit.server.error.quota.tooManyEntries" :
			  "hawkbit.server.error.rest.body.notReadable", err);
		return;
	}
	if ((rc = be_store_begin(d->s)) < 0)
		goto fail;
	if (cd.mode == BE_CFG_REPLACE) {
		rc = be_store_prepare(d->s, "DELETE FROM device_attributes WHERE device_id = ?", &st);
		if (rc < 0)
			goto rollback;
		sqlite3_bind_int64(st, 1, d->device);
		sqlite3_step(st);
		sqlite3_finalize(st);
		st = NULL;
	}
	rc = be_store_prepare(d->s, cd.mode == BE_CFG_REMOVE ?
			      "DELETE FROM device_attributes WHERE device_id = ?1 AND key = ?2" :
			      "INSERT OR REPLACE INTO device_attributes(device_id, key, value)"
			      " VALUES(?1, ?2, ?3)", &st);
	if (rc < 0)
		goto rollback;
	cJSON_ArrayForEach(it, cd.data) {
		sqlite3_bind_int64(st, 1, d->device);
		sqlite3_bind_text(st, 2, it->string, -1, SQLITE_STATIC);
		if (cd.mode != BE_CFG_REMOVE)
			sqlite3_bind_text(st, 3, it->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = -EIO;
			goto rollback;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = be_store_prepare(d->s, "SELECT count(*) FROM device_attributes WHERE device_id = ?", &st);
	if (rc < 0)
		goto rollback;
	sqlite3_bind_int64(st, 1, d->device);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (total > (int64_t)r->cfg->max_attributes) {
		be_store_rollback(d->s);
		be_configdata_done(&cd);
		ddi_error(r, 429, "hawkbit.server.error.quota.tooManyEntries",
			  "a device has at most the configured number of attributes");
		return;
	}
	rc = be_store_prepare(d->s, "UPDATE devices SET request_attributes = 0 WHERE id = ?", &st);
	if (rc < 0)
		goto rollback;
	sqlite3_bind_int64(st, 1, d->device);
	sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = be_store_commit(d->s)) < 0)
		goto rollback;
	be_configdata_done(&cd);
	be_reply_empty(r, 200);
	return;
rollback:
	sqlite3_finalize(st);
	be_store_rollback(d->s);
fail:
	be_configdata_done(&cd);
	ddi_error(r, 500, "hawkbit.server.error.internal", "cannot store attributes");
}

/* hawkBit cancels an action whose maintenance schedule lapsed while polling; so do we. */
static void cancel_lapsed(struct ddi *d)
{
	sqlite3_stmt *st = NULL;
	cJSON *m = cJSON_CreateArray();
	int rc;

	cJSON_AddItemToArray(m, cJSON_CreateString("Canceled: the maintenance window has passed"));
	if (be_store_begin(d->s) < 0) {
		cJSON_Delete(m);
		return;
	}
	rc = be_store_prepare(d->s, "UPDATE actions SET status = 'CANCELED', active = 0, updated = ?"
			      " WHERE id = ? AND active = 1", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, be_now());
		sqlite3_bind_int64(st, 2, d->lapsed);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	if (rc == 0)
		rc = add_status(d->s, d->lapsed, be_now(), "CANCELED", NULL, m);
	if (rc == 0)
		rc = be_store_event(d->s, "action.canceled", d->cid, d->lapsed,
				    "maintenance window passed");
	if (rc < 0 || be_store_commit(d->s) < 0)
		be_store_rollback(d->s);
	cJSON_Delete(m);
}

/* The device may read a software module only if one of its actions uses it. */
static bool module_visible(struct ddi *d, int64_t module)
{
	sqlite3_stmt *st = NULL;
	bool ok = false;

	if (be_store_prepare(d->s, "SELECT 1 FROM actions WHERE device_id = ? AND package_id = ?"
			     " LIMIT 1", &st) < 0)
		return false;
	sqlite3_bind_int64(st, 1, d->device);
	sqlite3_bind_int64(st, 2, module);
	ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return ok;
}

static void ddi_modules(struct ddi *d, char **seg, size_t n)
{
	struct be_req *r = d->r;
	char *end;
	long long id;

	errno = 0;
	id = strtoll(seg[0], &end, 10);
	if (errno || *end || id <= 0 || strcmp(seg[1], "artifacts") != 0 || n > 3 ||
	    !module_visible(d, id)) {
		ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no such software module");
		return;
	}
	if (n == 2) {
		cJSON *arr = cJSON_CreateArray();

		if (add_artifact(d, id, arr, NULL, NULL, NULL, 0) < 0) {
			cJSON_Delete(arr);
			ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no artifact");
			return;
		}
		be_reply_json(r, 200, arr);
		return;
	}
	be_ddi_artifact(r, d->s, d->device, id, seg[2]);
}

void be_ddi_handle(struct be_req *r)
{
	struct ddi d = { .r = r };
	char **seg = r->seg + 4;
	size_t n = r->n_seg - 4;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;

	d.tenant = r->seg[0];
	d.cid = r->seg[3];
	if (!be_name_valid(d.tenant) || !be_controller_id_valid(d.cid)) {
		be_reply_empty(r, 404);
		return;
	}
	d.s = be_worker_store(r->w, d.tenant);
	if (!d.s) {
		be_reply_empty(r, 401); /* unknown tenants look like bad credentials */
		return;
	}
	if (n == 0 && get) {
		/* The poll's reads share one read transaction (one WAL lock, not four). */
		bool txn = sqlite3_step(d.s->st_begin_read) == SQLITE_DONE;

		sqlite3_reset(d.s->st_begin_read);
		if (ddi_auth(&d) < 0) {
			be_reply_empty(r, 401);
		} else if (d.device) {
			be_base_url(r, r->tls, d.base, sizeof(d.base));
			ddi_poll(&d);
		}
		if (txn) {
			sqlite3_step(d.s->st_end_read);
			sqlite3_reset(d.s->st_end_read);
		}
		if (d.lapsed)
			cancel_lapsed(&d);
		if (r->status)
			return;
		be_base_url(r, r->tls, d.base, sizeof(d.base));
		if (ddi_register(&d) < 0) {
			ddi_error(r, 500, "hawkbit.server.error.internal", "cannot register device");
			return;
		}
		ddi_poll(&d);
		return;
	}
	if (ddi_auth(&d) < 0) {
		be_reply_empty(r, 401);
		return;
	}
	be_base_url(r, r->tls, d.base, sizeof(d.base));
	if (!d.device) {
		ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "unknown device");
		return;
	}
	if (n == 2 && get && strcmp(seg[0], "deploymentBase") == 0)
		ddi_deployment_base(&d, seg[1]);
	else if (n == 3 && r->method == EVHTTP_REQ_POST && strcmp(seg[0], "deploymentBase") == 0 &&
		 strcmp(seg[2], "feedback") == 0)
		ddi_feedback(&d, seg[1], false);
	else if (n == 1 && r->method == EVHTTP_REQ_PUT && strcmp(seg[0], "configData") == 0)
		ddi_config_data(&d);
	else if (n == 2 && get && strcmp(seg[0], "cancelAction") == 0)
		ddi_cancel_action(&d, seg[1]);
	else if (n == 3 && r->method == EVHTTP_REQ_POST && strcmp(seg[0], "cancelAction") == 0 &&
		 strcmp(seg[2], "feedback") == 0)
		ddi_feedback(&d, seg[1], true);
	else if (n == 2 && get && strcmp(seg[0], "installedBase") == 0)
		ddi_installed_base(&d, seg[1]);
	else if (n == 1 && r->method == EVHTTP_REQ_PUT && strcmp(seg[0], "installedBase") == 0)
		ddi_put_installed(&d);
	else if (n >= 3 && get && strcmp(seg[0], "softwaremodules") == 0)
		ddi_modules(&d, seg + 1, n - 1);
	else
		ddi_error(r, 404, "hawkbit.server.error.rest.notFound", "no such resource");
}

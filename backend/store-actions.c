/* SPDX-License-Identifier: MIT */
/*
 * Actions (a package or a configured action assigned to a device) and their status
 * history: the poll's lookups, feedback, cancellation, deployments to devices and tags,
 * downloads. As in hawkBit without multi-assignment, a new deployment asks the device to
 * cancel its open action first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/json.h"
#include "store-internal.h"

#define CANCEL_BATCH 64 /* open actions of one device canceled at once (there is one, normally) */

#define ACTION_COLS "a.id, a.device_id, d.controller_id, a.package_id, a.command, a.type," \
	" a.status, a.active, a.maint_start, a.maint_end, a.created, a.updated, a.offered_package"
#define ACTION_WHERE " FROM actions a JOIN devices d ON d.id = a.device_id WHERE" \
	" (?1 IS NULL OR d.controller_id = ?1) AND (?2 = 0 OR a.device_id = ?2) AND" \
	" (?3 < 0 OR a.active = ?3)"

/* The poll's lookups use the actions_device index and no join. */
static const char SQL_OPEN[] =
	"SELECT id, device_id, '', package_id, command, type, status, active, maint_start,"
	" maint_end, created, updated, offered_package FROM actions WHERE device_id = ? AND active = 1"
	" ORDER BY id LIMIT 1";
static const char SQL_INSTALLED[] =
	"SELECT id FROM actions WHERE device_id = ? AND active = 0 AND status = 'FINISHED'"
	" AND package_id IS NOT NULL ORDER BY id DESC LIMIT 1";
static const char SQL_GET[] =
	"SELECT " ACTION_COLS " FROM actions a JOIN devices d ON d.id = a.device_id"
	" WHERE a.id = ?1 AND (?2 = 0 OR a.device_id = ?2)";
static const char SQL_COUNT[] = "SELECT count(*)" ACTION_WHERE;
static const char SQL_LIST[] =
	"SELECT " ACTION_COLS ACTION_WHERE " ORDER BY a.id DESC LIMIT ?4 OFFSET ?5";
static const char SQL_HISTORY_NEWEST[] =
	"SELECT time, status, code, messages FROM action_status WHERE action_id = ?"
	" ORDER BY id DESC LIMIT ?";
static const char SQL_HISTORY_OLDEST[] =
	"SELECT time, status, code, messages FROM action_status WHERE action_id = ?"
	" ORDER BY id LIMIT ?";
static const char SQL_HISTORY_COUNT[] = "SELECT count(*) FROM action_status WHERE action_id = ?";
static const char SQL_STATUS_ADD[] =
	"INSERT INTO action_status(action_id, time, status, code, messages) VALUES(?, ?, ?, ?, ?)";
static const char SQL_SET_STATUS[] =
	"UPDATE actions SET status = ?1, active = ?2, updated = ?3 WHERE id = ?4 AND active = 1";
static const char SQL_INSTALLS[] =
	"UPDATE devices SET request_attributes = 1,"
	" installed_name = (SELECT name FROM packages WHERE id = ?1),"
	" installed_version = (SELECT version FROM packages WHERE id = ?1) WHERE id = ?2";
static const char SQL_TO_CANCEL[] =
	"SELECT id FROM actions WHERE device_id = ?1 AND active = 1 AND status != 'CANCELING'"
	" AND (?2 = 0 OR id = ?2) LIMIT 64";
static const char SQL_CANCELING[] =
	"UPDATE actions SET status = 'CANCELING', updated = ?1 WHERE id = ?2";
static const char SQL_ACTION_ADD[] =
	"INSERT INTO actions(device_id, package_id, command, type, status, active, maint_start,"
	" maint_end, created, updated) VALUES(?, ?, ?, ?, 'RUNNING', 1, ?, ?, ?, ?)";
static const char SQL_TARGETS_CREATE[] =
	"CREATE TEMP TABLE IF NOT EXISTS deploy_targets(id INTEGER PRIMARY KEY, cid TEXT)";
static const char SQL_TARGETS_CLEAR[] = "DELETE FROM temp.deploy_targets";
static const char SQL_TARGET_DEVICE[] =
	"INSERT OR IGNORE INTO temp.deploy_targets SELECT id, controller_id FROM devices"
	" WHERE controller_id = ?";
static const char SQL_TARGET_TAG[] =
	"INSERT OR IGNORE INTO temp.deploy_targets SELECT d.id, d.controller_id FROM devices d"
	" JOIN device_tags t ON t.device_id = d.id WHERE t.tag = ?";
static const char SQL_TARGETS[] = "SELECT id, cid FROM temp.deploy_targets ORDER BY cid";
static const char SQL_DOWNLOAD[] =
	"INSERT INTO action_status(action_id, time, status, messages) SELECT id, ?1, 'DOWNLOAD', ?2"
	" FROM actions WHERE device_id = ?3 AND (package_id = ?4 OR offered_package = ?4)"
	" AND active = 1";
static const char SQL_VISIBLE[] =
	"SELECT 1 FROM actions WHERE device_id = ?1 AND (package_id = ?2 OR offered_package = ?2)"
	" LIMIT 1";
/* A delta of the action's package, from the same release, for the running version. */
static const char SQL_DELTA_FOR[] =
	"SELECT p.id FROM release_packages x JOIN release_packages y ON y.release_id = x.release_id"
	" JOIN packages p ON p.id = y.package_id"
	" WHERE x.package_id = ?1 AND p.delta_base = ?2"
	" AND p.version = (SELECT version FROM packages WHERE id = ?1)"
	" AND NOT EXISTS (SELECT 1 FROM delta_failures f WHERE f.device_id = ?3 AND f.package_id = p.id)"
	" ORDER BY p.id LIMIT 1";
static const char SQL_RUNNING[] =
	"SELECT coalesce((SELECT value FROM device_attributes WHERE device_id = d.id"
	"  AND key = 'version'), d.installed_version) FROM devices d WHERE d.id = ?";
static const char SQL_SET_OFFERED[] = "UPDATE actions SET offered_package = ?2 WHERE id = ?1";
static const char SQL_DELTA_FAILED[] =
	"INSERT OR IGNORE INTO delta_failures(device_id, package_id, time) VALUES(?, ?, ?)";

static void action_row(struct sq *q, struct be_action *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sq_int(q, 0);
	a->device = sq_int(q, 1);
	sq_copy(q, 2, a->device_cid, sizeof(a->device_cid));
	a->package = sq_null(q, 3) ? 0 : sq_int(q, 3);
	sq_copy(q, 4, a->command, sizeof(a->command));
	sq_copy(q, 5, a->type, sizeof(a->type));
	sq_copy(q, 6, a->status, sizeof(a->status));
	a->active = sq_int(q, 7) != 0;
	a->maint = !sq_null(q, 8);
	a->maint_start = sq_int(q, 8);
	a->maint_end = sq_int(q, 9);
	a->created = sq_int(q, 10);
	a->updated = sq_int(q, 11);
	a->offered = sq_null(q, 12) ? 0 : sq_int(q, 12);
}

int be_store_action_open(struct be_store *s, int64_t device, struct be_action *ret)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_OPEN);
	sq_bind_int(&q, 1, device);
	r = sq_step(&q);
	if (r > 0)
		action_row(&q, ret);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

int be_store_action_installed(struct be_store *s, int64_t device, int64_t *ret_id)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_INSTALLED);
	sq_bind_int(&q, 1, device);
	r = sq_step(&q);
	if (r > 0)
		*ret_id = sq_int(&q, 0);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

int be_store_action_get(struct be_store *s, int64_t device, int64_t id, struct be_action *ret)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_GET);
	sq_bind_int(&q, 1, id);
	sq_bind_int(&q, 2, device);
	r = sq_step(&q);
	if (r > 0)
		action_row(&q, ret);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

static void bind_filter(struct sq *q, const void *filter)
{
	const struct be_action_filter *f = filter;

	sq_bind_text(q, 1, f->device);
	sq_bind_int(q, 2, f->device_id);
	sq_bind_int(q, 3, f->active);
}

struct action_cb {
	int (*cb)(void *ctx, const struct be_action *a);
	void *ctx;
};

static int list_row(struct sq *q, void *ctx)
{
	struct action_cb *c = ctx;
	struct be_action a;

	action_row(q, &a);
	return c->cb(c->ctx, &a);
}

int be_store_actions_list(struct be_store *s, const struct be_action_filter *f,
			  const struct be_page *p, int (*cb)(void *ctx, const struct be_action *a),
			  void *ctx, int64_t *ret_total)
{
	struct action_cb c = { cb, ctx };

	return store_list(s, SQL_COUNT, SQL_LIST, bind_filter, f, 3, p, list_row, &c, ret_total);
}

/* One history row; messages are stored as a JSON array of strings. */
static int history_row(struct sq *q, int (*cb)(void *ctx, const struct be_status_entry *e),
		       void *ctx)
{
	const char *msgs[BE_MESSAGES_MAX];
	cJSON *arr = cJSON_Parse(sq_text(q, 3));
	const cJSON *it;
	struct be_status_entry e = {
		.time = sq_int(q, 0),
		.status = sq_text(q, 1),
		.has_code = !sq_null(q, 2),
		.code = sq_int(q, 2),
		.messages = msgs,
	};
	int r;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && e.n_messages < BE_MESSAGES_MAX)
			msgs[e.n_messages++] = it->valuestring;
	r = cb(ctx, &e);
	cJSON_Delete(arr);
	return r;
}

int be_store_action_history(struct be_store *s, int64_t action, bool newest_first, int64_t limit,
			    int (*cb)(void *ctx, const struct be_status_entry *e), void *ctx)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, newest_first ? SQL_HISTORY_NEWEST : SQL_HISTORY_OLDEST);
	sq_bind_int(&q, 1, action);
	sq_bind_int(&q, 2, limit < 0 ? -1 : limit);
	while ((r = sq_step(&q)) > 0)
		if ((r = history_row(&q, cb, ctx)) < 0)
			break;
	sq_finish(&q);
	return r < 0 ? r : 0;
}

/* The stored form of a history entry's messages: a JSON array of strings (malloc'd). */
static char *messages_text(const char *const *messages, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; arr && i < n; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(messages[i]))) {
			cJSON_Delete(arr);
			arr = NULL;
		}
	text = arr ? lp_json_print(arr) : NULL;
	cJSON_Delete(arr);
	return text;
}

static int store_action_status(struct be_store *s, int64_t action, int64_t time,
			       const char *status, const int64_t *code,
			       const char *const *messages, size_t n_messages)
{
	char *text = messages_text(messages, n_messages);
	struct sq q;
	int r;

	if (!text)
		return -ENOMEM;
	sq_prepare(&q, s, SQL_STATUS_ADD);
	sq_bind_int(&q, 1, action);
	sq_bind_int(&q, 2, time);
	sq_bind_text(&q, 3, status);
	if (code)
		sq_bind_int(&q, 4, *code);
	sq_bind_text(&q, 5, text);
	r = sq_exec(&q);
	free(text);
	return r;
}

static int history_full(struct be_store *s, int64_t action, unsigned max)
{
	struct sq q;
	int64_t n = 0;

	sq_prepare(&q, s, SQL_HISTORY_COUNT);
	sq_bind_int(&q, 1, action);
	if (sq_step(&q) > 0)
		n = sq_int(&q, 0);
	if (sq_finish(&q) < 0)
		return q.rc;
	return n >= (int64_t)max ? -EDQUOT : 0;
}

static int apply_change(struct be_store *s, const struct be_action *a,
			const struct be_action_change *c)
{
	const struct be_status_entry *e = &c->entry;
	struct sq q;
	int r;

	if (c->max_history && (r = history_full(s, a->id, c->max_history)) < 0)
		return r;
	sq_prepare(&q, s, SQL_SET_STATUS);
	sq_bind_text(&q, 1, c->new_status ? c->new_status : e->status);
	sq_bind_int(&q, 2, c->closes ? 0 : 1);
	sq_bind_int(&q, 3, be_now());
	sq_bind_int(&q, 4, a->id);
	if ((r = sq_exec(&q)) < 0)
		return r;
	if (store_changes(s) == 0)
		return -ESTALE; /* closed meanwhile (another feedback, a lapsed window) */
	r = store_action_status(s, a->id, e->time, e->status, e->has_code ? &e->code : NULL,
				e->messages, e->n_messages);
	/* A delta that failed is not offered to this device again: its next attempt gets
	 * the full package (the base may differ from what the device reports). */
	if (r == 0 && c->closes && strcmp(e->status, "ERROR") == 0 && a->offered &&
	    a->offered != a->package) {
		sq_prepare(&q, s, SQL_DELTA_FAILED);
		sq_bind_int(&q, 1, a->device);
		sq_bind_int(&q, 2, a->offered);
		sq_bind_int(&q, 3, be_now());
		r = sq_exec(&q);
	}
	if (r == 0 && c->installs && a->package) {
		sq_prepare(&q, s, SQL_INSTALLS);
		sq_bind_int(&q, 1, a->package);
		sq_bind_int(&q, 2, a->device);
		r = sq_exec(&q);
	}
	if (r == 0 && c->event)
		r = be_store_event(s, c->event, a->device_cid[0] ? a->device_cid : NULL, a->id,
				   c->event_message);
	return r;
}

int be_store_action_change(struct be_store *s, const struct be_action *a,
			   const struct be_action_change *c)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	return store_end(s, apply_change(s, a, c));
}

int store_action_cancel_open(struct be_store *s, int64_t device, int64_t only_action,
			     const char *why)
{
	int64_t ids[CANCEL_BATCH];
	size_t n = 0;
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_TO_CANCEL);
	sq_bind_int(&q, 1, device);
	sq_bind_int(&q, 2, only_action);
	while ((r = sq_step(&q)) > 0 && n < LP_ARRAY_SIZE(ids))
		ids[n++] = sq_int(&q, 0);
	if ((r = sq_finish(&q)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		sq_prepare(&q, s, SQL_CANCELING);
		sq_bind_int(&q, 1, be_now());
		sq_bind_int(&q, 2, ids[i]);
		r = sq_exec(&q);
		if (r == 0)
			r = store_action_status(s, ids[i], be_now(), "CANCELING", NULL, &why, 1);
		if (r == 0)
			r = be_store_event(s, "action.canceling", NULL, ids[i], why);
	}
	return r;
}

int be_store_action_cancel(struct be_store *s, int64_t device, int64_t only_action, const char *why)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	return store_end(s, store_action_cancel_open(s, device, only_action, why));
}

int store_action_create(struct be_store *s, const struct be_deployment *d, int64_t device,
			const char *cid, int64_t *ret_id)
{
	const char *msgp;
	char msg[256];
	struct sq q;
	int r;

	r = store_action_cancel_open(s, device, 0, "Canceled by a new deployment");
	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_ACTION_ADD);
	sq_bind_int(&q, 1, device);
	if (d->package)
		sq_bind_int(&q, 2, d->package);
	sq_bind_text(&q, 3, d->command);
	sq_bind_text(&q, 4, d->type);
	if (d->has_window) {
		sq_bind_int(&q, 5, d->window_start);
		sq_bind_int(&q, 6, d->window_end);
	}
	sq_bind_int(&q, 7, be_now());
	sq_bind_int(&q, 8, be_now());
	if ((r = sq_exec(&q)) < 0)
		return r;
	*ret_id = store_last_rowid(s);
	if (d->package)
		snprintf(msg, sizeof(msg), "Assignment of package %lld (%s)", (long long)d->package,
			 d->type);
	else
		snprintf(msg, sizeof(msg), "Assignment of action %s (%s)", d->command, d->type);
	msgp = msg;
	r = store_action_status(s, *ret_id, be_now(), "RUNNING", NULL, &msgp, 1);
	if (r == 0)
		r = be_store_event(s, "action.created", cid, *ret_id, msg);
	return r;
}

/* Fills temp.deploy_targets: the listed devices (all must exist) and the tagged ones. */
static int collect_targets(struct be_store *s, const struct be_deployment *d,
			   char ret_missing[BE_ID_MAX])
{
	struct sq q;
	int64_t id;
	int r;

	sq_prepare(&q, s, SQL_TARGETS_CREATE);
	if ((r = sq_exec(&q)) < 0)
		return r;
	sq_prepare(&q, s, SQL_TARGETS_CLEAR);
	if ((r = sq_exec(&q)) < 0)
		return r;
	for (size_t i = 0; i < d->n_devices; i++) {
		r = be_store_device_id(s, d->devices[i], &id);
		if (r == -ENOENT)
			snprintf(ret_missing, BE_ID_MAX, "%s", d->devices[i]);
		if (r < 0)
			return r;
		sq_prepare(&q, s, SQL_TARGET_DEVICE);
		sq_bind_text(&q, 1, d->devices[i]);
		if ((r = sq_exec(&q)) < 0)
			return r;
	}
	for (size_t i = 0; i < d->n_tags; i++) {
		sq_prepare(&q, s, SQL_TARGET_TAG);
		sq_bind_text(&q, 1, d->tags[i]);
		if ((r = sq_exec(&q)) < 0)
			return r;
	}
	return 0;
}

static int deploy(struct be_store *s, const struct be_deployment *d,
		  int (*cb)(void *ctx, int64_t action, const char *cid), void *ctx,
		  char ret_missing[BE_ID_MAX])
{
	size_t n = 0;
	struct sq q;
	int r = collect_targets(s, d, ret_missing);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_TARGETS);
	while ((r = sq_step(&q)) > 0) {
		int64_t action = 0;

		if (++n > d->max_targets) {
			r = -E2BIG;
			break;
		}
		r = store_action_create(s, d, sq_int(&q, 0), sq_text(&q, 1), &action);
		if (r == 0)
			r = cb(ctx, action, sq_text(&q, 1));
		if (r < 0)
			break;
	}
	sq_finish(&q);
	return r < 0 ? r : 0;
}

int be_store_deploy(struct be_store *s, const struct be_deployment *d,
		    int (*cb)(void *ctx, int64_t action, const char *cid), void *ctx,
		    char ret_missing[BE_ID_MAX])
{
	int r = be_store_begin(s);

	ret_missing[0] = '\0';
	if (r < 0)
		return r;
	return store_end(s, deploy(s, d, cb, ctx, ret_missing));
}

int be_store_action_download(struct be_store *s, int64_t device, int64_t package, const char *what)
{
	char *text = messages_text(&what, 1);
	struct sq q;
	int r;

	if (!text)
		return -ENOMEM;
	sq_prepare(&q, s, SQL_DOWNLOAD);
	sq_bind_int(&q, 1, be_now());
	sq_bind_text(&q, 2, text);
	sq_bind_int(&q, 3, device);
	sq_bind_int(&q, 4, package);
	r = sq_exec(&q);
	free(text);
	return r;
}

static int running_version(struct be_store *s, int64_t device, char *buf, size_t len)
{
	struct sq q;

	buf[0] = '\0';
	sq_prepare(&q, s, SQL_RUNNING);
	sq_bind_int(&q, 1, device);
	if (sq_step(&q) > 0)
		sq_copy(&q, 0, buf, len);
	return sq_finish(&q);
}

static int offer(struct be_store *s, struct be_action *a, int64_t *ret_package)
{
	char running[BE_TEXT_MAX];
	int64_t pkg = a->package;
	struct sq q;
	int r = running_version(s, a->device, running, sizeof(running));

	if (r < 0)
		return r;
	if (running[0]) {
		sq_prepare(&q, s, SQL_DELTA_FOR);
		sq_bind_int(&q, 1, a->package);
		sq_bind_text(&q, 2, running);
		sq_bind_int(&q, 3, a->device);
		if (sq_step(&q) > 0)
			pkg = sq_int(&q, 0);
		if ((r = sq_finish(&q)) < 0)
			return r;
	}
	if (pkg != a->offered) {
		sq_prepare(&q, s, SQL_SET_OFFERED);
		sq_bind_int(&q, 1, a->id);
		sq_bind_int(&q, 2, pkg);
		if ((r = sq_exec(&q)) < 0)
			return r;
		a->offered = pkg;
	}
	*ret_package = pkg;
	return 0;
}

int be_store_action_offer(struct be_store *s, struct be_action *a, int64_t *ret_package)
{
	int r;

	*ret_package = a->offered ? a->offered : a->package;
	if (!a->package || !a->active)
		return 0; /* a configured action, or history: what it was */
	if ((r = be_store_begin(s)) < 0)
		return r;
	return store_end(s, offer(s, a, ret_package));
}

int be_store_package_visible(struct be_store *s, int64_t device, int64_t package)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_VISIBLE);
	sq_bind_int(&q, 1, device);
	sq_bind_int(&q, 2, package);
	r = sq_step(&q);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0;
}

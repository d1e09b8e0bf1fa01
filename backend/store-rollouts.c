/* SPDX-License-Identifier: MIT */
/*
 * Rollouts (docs/rollouts.md): a release rolled out in waves to the devices a target
 * selects. A rollout's row holds its spec and where it is (state, current wave, when that
 * wave started); rollout_devices holds its members with their wave and action. Every step
 * the engine (rollout.c) takes is one transaction here, so a backend killed at any point
 * continues from the last committed step: a wave is cut once, an action is created once
 * per member, and an event is written with the change it reports.
 *
 * Release states follow the rollout: running → rolling-out, paused → paused, done →
 * done, cancelled → cancelled.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/common.h"
#include "store-internal.h"

static const char SQL_RO_ADD[] =
	"INSERT INTO rollouts(release_id, name, state, target, waves, soak_s, success_pct,"
	" error_pct, seed, type, window_start, window_minutes, created_by, created, updated)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)";
static const char SQL_RO_GET[] =
	"SELECT r.id, r.release_id, l.version, r.name, r.state, r.target, r.waves, r.soak_s,"
	" r.success_pct, r.error_pct, r.seed, r.type, r.window_start, r.window_minutes, r.wave,"
	" r.wave_started, r.errors_acked, r.reason, r.created_by, r.created, r.updated"
	" FROM rollouts r JOIN releases l ON l.id = r.release_id WHERE r.id = ?";
static const char SQL_RO_BUSY[] =
	"SELECT id FROM rollouts WHERE release_id = ? AND state IN"
	" ('waiting-approval', 'running', 'paused') LIMIT 1";
static const char SQL_RO_COUNT[] = "SELECT count(*) FROM rollouts WHERE ?1 IS NULL OR state = ?1";
static const char SQL_RO_LIST[] =
	"SELECT id FROM rollouts WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ? OFFSET ?";
static const char SQL_RO_ACTIVE[] =
	"SELECT id FROM rollouts WHERE state IN ('waiting-approval', 'running', 'paused')"
	" ORDER BY id";
static const char SQL_RO_STATE[] =
	"UPDATE rollouts SET state = ?2, reason = ?3, updated = ?4 WHERE id = ?1";
static const char SQL_RO_ACK[] =
	"UPDATE rollouts SET errors_acked = ?2 WHERE id = ?1";
static const char SQL_RO_WAVE[] =
	"UPDATE rollouts SET wave = ?2, wave_started = ?3, errors_acked = 0, updated = ?3"
	" WHERE id = ?1";
static const char SQL_REL_STATE[] = "UPDATE releases SET state = ?2, updated = ?3 WHERE id = ?1";
static const char SQL_RO_COUNTS[] =
	"SELECT rd.wave, count(*), sum(rd.skipped), sum(rd.action_id IS NOT NULL),"
	" sum(a.status = 'FINISHED'), sum(a.status = 'ERROR'), sum(a.status = 'CANCELED'),"
	" sum(a.active = 1)"
	" FROM rollout_devices rd LEFT JOIN actions a ON a.id = rd.action_id"
	" WHERE rd.rollout_id = ? GROUP BY rd.wave";
static const char SQL_RO_CANDIDATES[] =
	"SELECT d.id, d.controller_id, d.installed_version,"
	" (SELECT value FROM device_attributes WHERE device_id = d.id AND key = 'version')"
	" FROM devices d WHERE NOT EXISTS (SELECT 1 FROM rollout_devices rd"
	"  WHERE rd.rollout_id = ?1 AND rd.device_id = d.id)"
	" AND (?2 IS NULL OR EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id"
	"  AND t.tag IN (SELECT value FROM json_each(?2))))"
	" ORDER BY d.id";
static const char SQL_RO_MEMBER_ADD[] =
	"INSERT OR IGNORE INTO rollout_devices(rollout_id, device_id, wave, rank, skipped, joined)"
	" VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_RO_TO_ASSIGN[] =
	"SELECT rd.device_id, d.controller_id FROM rollout_devices rd"
	" JOIN devices d ON d.id = rd.device_id"
	" LEFT JOIN actions a ON a.id = rd.action_id"
	" WHERE rd.rollout_id = ?1 AND rd.wave <= ?2 AND rd.skipped = 0"
	" AND (rd.action_id IS NULL OR (?3 AND a.status = 'CANCELED'))"
	" ORDER BY rd.wave, rd.rank LIMIT ?4";
static const char SQL_RO_SET_ACTION[] =
	"UPDATE rollout_devices SET action_id = ?3 WHERE rollout_id = ?1 AND device_id = ?2";
static const char SQL_RO_OPEN[] =
	"SELECT rd.device_id, rd.action_id FROM rollout_devices rd JOIN actions a"
	" ON a.id = rd.action_id WHERE rd.rollout_id = ? AND a.active = 1";
/* What a member is assigned: the release's full package (deltas are chosen per device
 * when it fetches the deployment, store-actions.c). */
static const char SQL_RO_FULL_PKG[] =
	"SELECT rp.package_id FROM release_packages rp JOIN packages p ON p.id = rp.package_id"
	" WHERE rp.release_id = ? AND p.delta_base IS NULL ORDER BY rp.package_id LIMIT 1";
static const char SQL_RO_DEV_COUNT[] =
	"SELECT count(*) FROM rollout_devices WHERE rollout_id = ?1 AND (?2 < 0 OR wave = ?2)";
static const char SQL_RO_DEV_LIST[] =
	"SELECT d.controller_id, rd.wave, rd.action_id, rd.skipped, a.status, rd.joined"
	" FROM rollout_devices rd JOIN devices d ON d.id = rd.device_id"
	" LEFT JOIN actions a ON a.id = rd.action_id"
	" WHERE rd.rollout_id = ?1 AND (?2 < 0 OR rd.wave = ?2)"
	" ORDER BY rd.wave, rd.rank LIMIT ? OFFSET ?";

/* ---- the spec as stored: target as JSON, waves as "1,10,50,100" ---- */

static char *target_text(const struct be_rollout_target *t)
{
	cJSON *o = cJSON_CreateObject(), *tags, *attrs;
	char *text = NULL;

	if (!o)
		return NULL;
	if (t->all)
		cJSON_AddTrueToObject(o, "all");
	tags = cJSON_AddArrayToObject(o, "tags");
	for (size_t i = 0; tags && i < t->n_tags; i++)
		cJSON_AddItemToArray(tags, cJSON_CreateString(t->tags[i]));
	attrs = cJSON_AddObjectToObject(o, "attributes");
	for (size_t i = 0; attrs && i < t->n_attrs; i++)
		cJSON_AddStringToObject(attrs, t->attrs[i].key, t->attrs[i].pattern);
	if (tags && attrs)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static void target_read(const char *text, struct be_rollout_target *t)
{
	cJSON *o = cJSON_Parse(text), *it;

	memset(t, 0, sizeof(*t));
	if (!o)
		return; /* written by target_text: cannot happen unless the file was edited */
	t->all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "all"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "tags"))
		if (cJSON_IsString(it) && t->n_tags < BE_TARGET_TAGS_MAX)
			snprintf(t->tags[t->n_tags++], BE_TAG_MAX, "%s", it->valuestring);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "attributes"))
		if (cJSON_IsString(it) && it->string && t->n_attrs < BE_TARGET_ATTRS_MAX) {
			snprintf(t->attrs[t->n_attrs].key, BE_TEXT_MAX, "%s", it->string);
			snprintf(t->attrs[t->n_attrs++].pattern, BE_TEXT_MAX, "%s", it->valuestring);
		}
	cJSON_Delete(o);
}

static void waves_text(const struct be_rollout_spec *sp, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sp->n_waves && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", sp->waves[i]);
}

static void waves_read(const char *text, struct be_rollout_spec *sp)
{
	char *end;

	sp->n_waves = 0;
	while (*text && sp->n_waves < BE_WAVES_MAX) {
		unsigned long v = strtoul(text, &end, 10);

		if (end == text)
			break;
		sp->waves[sp->n_waves++] = (unsigned)v;
		text = *end == ',' ? end + 1 : end;
	}
}

/* The tags as a JSON array for json_each(), NULL when the target has none. */
static char *tags_json(const struct be_rollout_target *t)
{
	cJSON *a;
	char *text;

	if (t->n_tags == 0)
		return NULL;
	if (!(a = cJSON_CreateArray()))
		return NULL;
	for (size_t i = 0; i < t->n_tags; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(t->tags[i]));
	text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return text;
}

/* ---- reading ---- */

static void row_read(struct sq *q, struct be_rollout *ro)
{
	struct be_rollout_spec *sp = &ro->spec;
	static const char *const types[] = { "forced", "soft", "download-only" };

	memset(ro, 0, sizeof(*ro));
	ro->id = sq_int(q, 0);
	ro->release_id = sq_int(q, 1);
	sq_copy(q, 2, sp->release, sizeof(sp->release));
	sq_copy(q, 3, sp->name, sizeof(sp->name));
	sq_copy(q, 4, ro->state, sizeof(ro->state));
	target_read(sq_text(q, 5), &sp->target);
	waves_read(sq_text(q, 6), sp);
	sp->soak_s = sq_int(q, 7);
	sp->success_pct = (unsigned)sq_int(q, 8);
	sp->error_pct = (unsigned)sq_int(q, 9);
	sp->seed = sq_int(q, 10);
	for (size_t i = 0; i < LP_ARRAY_SIZE(types); i++)
		if (strcmp(sq_text(q, 11), types[i]) == 0)
			sp->type = (int)i;
	sp->has_window = !sq_null(q, 12);
	sp->window_start_min = (unsigned)sq_int(q, 12);
	sp->window_minutes = (unsigned)sq_int(q, 13);
	ro->wave = (int)sq_int(q, 14);
	ro->wave_started = sq_int(q, 15);
	ro->errors_acked = sq_int(q, 16);
	sq_copy(q, 17, ro->reason, sizeof(ro->reason));
	sq_copy(q, 18, ro->created_by, sizeof(ro->created_by));
	ro->created = sq_int(q, 19);
	ro->updated = sq_int(q, 20);
}

int be_store_rollout_get(struct be_store *s, int64_t id, struct be_rollout *ret)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_RO_GET);
	sq_bind_int(&q, 1, id);
	if ((r = sq_step(&q)) > 0)
		row_read(&q, ret);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

struct ro_cb {
	int (*cb)(void *ctx, const struct be_rollout *ro);
	void *ctx;
	struct be_store *s;
};

static int list_row(struct sq *q, void *ctx)
{
	struct ro_cb *c = ctx;
	struct be_rollout ro;
	int r = be_store_rollout_get(c->s, sq_int(q, 0), &ro);

	return r < 0 ? r : c->cb(c->ctx, &ro);
}

static void bind_state(struct sq *q, const void *filter)
{
	sq_bind_text(q, 1, filter);
}

int be_store_rollouts_list(struct be_store *s, const char *state, const struct be_page *p,
			   int (*cb)(void *ctx, const struct be_rollout *ro), void *ctx,
			   int64_t *ret_total)
{
	struct ro_cb c = { cb, ctx, s };

	return store_list(s, SQL_RO_COUNT, SQL_RO_LIST, bind_state, state, 1, p, list_row, &c,
			  ret_total);
}

int be_store_rollouts_active(struct be_store *s, int64_t *ids, size_t max, size_t *ret_n)
{
	struct sq q;

	*ret_n = 0;
	sq_prepare(&q, s, SQL_RO_ACTIVE);
	while (sq_step(&q) > 0 && *ret_n < max)
		ids[(*ret_n)++] = sq_int(&q, 0);
	return sq_finish(&q);
}

int be_store_rollout_counts(struct be_store *s, const struct be_rollout *ro,
			    struct be_wave_counts *out)
{
	struct sq q;

	memset(out, 0, sizeof(*out) * BE_WAVES_MAX);
	sq_prepare(&q, s, SQL_RO_COUNTS);
	sq_bind_int(&q, 1, ro->id);
	while (sq_step(&q) > 0) {
		int64_t w = sq_int(&q, 0);
		struct be_wave_counts *c;

		if (w < 0 || w >= (int64_t)ro->spec.n_waves)
			continue;
		c = &out[w];
		c->size = sq_int(&q, 1);
		c->skipped = sq_int(&q, 2);
		c->assigned = sq_int(&q, 3);
		c->success = sq_int(&q, 4) + c->skipped;
		c->failed = sq_int(&q, 5);
		c->canceled = sq_int(&q, 6);
		c->running = sq_int(&q, 7);
	}
	return sq_finish(&q);
}

struct member_ctx {
	int (*cb)(void *ctx, const struct be_rollout_member *mb);
	void *ctx;
};

static int member_row(struct sq *q, void *ctx)
{
	struct member_ctx *c = ctx;
	struct be_rollout_member mb = {
		.cid = sq_text(q, 0),
		.wave = (int)sq_int(q, 1),
		.action = sq_null(q, 2) ? 0 : sq_int(q, 2),
		.joined = sq_int(q, 5),
	};

	mb.status = sq_int(q, 3) ? "SKIPPED" : mb.action ? sq_text(q, 4) : "PENDING";
	return c->cb(c->ctx, &mb);
}

struct member_filter {
	int64_t id;
	int wave;
};

static void bind_member_filter(struct sq *q, const void *filter)
{
	const struct member_filter *f = filter;

	sq_bind_int(q, 1, f->id);
	sq_bind_int(q, 2, f->wave);
}

int be_store_rollout_devices(struct be_store *s, int64_t id, int wave, const struct be_page *p,
			     int (*cb)(void *ctx, const struct be_rollout_member *mb), void *ctx,
			     int64_t *ret_total)
{
	struct member_filter f = { id, wave < 0 ? -1 : wave };
	struct member_ctx c = { cb, ctx };

	return store_list(s, SQL_RO_DEV_COUNT, SQL_RO_DEV_LIST, bind_member_filter, &f, 2, p,
			  member_row, &c, ret_total);
}

/* ---- state changes ---- */

static const char *release_state_for(const char *rollout_state)
{
	if (strcmp(rollout_state, "running") == 0)
		return "rolling-out";
	if (strcmp(rollout_state, "waiting-approval") == 0)
		return NULL; /* the release stays gate-passed */
	return rollout_state; /* paused, done, cancelled */
}

static int set_state(struct be_store *s, const struct be_rollout *ro, const char *state,
		     const char *event, const char *reason)
{
	const char *rel = release_state_for(state);
	struct sq q;
	int64_t now = be_now();
	int r;

	sq_prepare(&q, s, SQL_RO_STATE);
	sq_bind_int(&q, 1, ro->id);
	sq_bind_text(&q, 2, state);
	/* A rollout keeps why it stopped; running again clears it. */
	sq_bind_text(&q, 3, reason && strcmp(state, "running") != 0 ? reason : "");
	sq_bind_int(&q, 4, now);
	r = sq_exec(&q);
	if (r == 0 && rel) {
		sq_prepare(&q, s, SQL_REL_STATE);
		sq_bind_int(&q, 1, ro->release_id);
		sq_bind_text(&q, 2, rel);
		sq_bind_int(&q, 3, now);
		r = sq_exec(&q);
	}
	if (r == 0 && event)
		r = be_store_event(s, event, NULL, 0, reason ? reason : state);
	return r;
}

int be_store_rollout_set_state(struct be_store *s, int64_t id, const char *state,
			       const char *event, const char *reason)
{
	struct be_rollout ro;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_rollout_get(s, id, &ro)) < 0)
		return store_end(s, r);
	return store_end(s, set_state(s, &ro, state, event, reason));
}

int be_store_rollout_create(struct be_store *s, const struct be_rollout_spec *sp,
			    const char *who, struct be_rollout *ret)
{
	static const char *const types[] = { "forced", "soft", "download-only" };
	struct be_release rel;
	char waves[BE_WAVES_MAX * 5], msg[BE_TEXT_MAX * 2 + 96], *target = NULL;
	const char *state;
	struct sq q;
	int64_t id;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_release_get(s, sp->release, &rel)) < 0)
		return store_end(s, r);
	if (strcmp(rel.state, "built") == 0)
		return store_end(s, -EPERM);
	state = strcmp(rel.state, "gate-passed") == 0 ? "waiting-approval" : "running";
	sq_prepare(&q, s, SQL_RO_BUSY);
	sq_bind_int(&q, 1, rel.id);
	r = sq_step(&q);
	if (sq_finish(&q) < 0)
		return store_end(s, q.rc);
	if (r > 0)
		return store_end(s, -EBUSY);
	if (!(target = target_text(&sp->target)))
		return store_end(s, -ENOMEM);
	waves_text(sp, waves, sizeof(waves));
	sq_prepare(&q, s, SQL_RO_ADD);
	sq_bind_int(&q, 1, rel.id);
	sq_bind_text(&q, 2, sp->name);
	sq_bind_text(&q, 3, state);
	sq_bind_text(&q, 4, target);
	sq_bind_text(&q, 5, waves);
	sq_bind_int(&q, 6, sp->soak_s);
	sq_bind_int(&q, 7, sp->success_pct);
	sq_bind_int(&q, 8, sp->error_pct);
	sq_bind_int(&q, 9, sp->seed);
	sq_bind_text(&q, 10, types[sp->type >= 0 && sp->type < 3 ? sp->type : 0]);
	if (sp->has_window) {
		sq_bind_int(&q, 11, sp->window_start_min);
		sq_bind_int(&q, 12, sp->window_minutes);
	}
	sq_bind_text(&q, 13, who);
	sq_bind_int(&q, 14, be_now());
	r = sq_exec(&q);
	free(target);
	if (r < 0)
		return store_end(s, r);
	id = store_last_rowid(s);
	snprintf(msg, sizeof(msg), "rollout %lld (release %s) created by %s: waves %s%s",
		 (long long)id, sp->release, who, waves,
		 strcmp(state, "waiting-approval") == 0 ? ", pending operator approval" : "");
	r = be_store_event(s, "rollout.created", NULL, 0, msg);
	if (r == 0)
		r = be_store_rollout_get(s, id, ret);
	return store_end(s, r);
}

/* Asks every member with an open action of this rollout to cancel it. */
static int cancel_members(struct be_store *s, int64_t id, const char *why)
{
	struct { int64_t device, action; } *open = NULL, *grown;
	size_t n = 0, cap = 0;
	struct sq q;
	int r = 0;

	sq_prepare(&q, s, SQL_RO_OPEN);
	sq_bind_int(&q, 1, id);
	while (sq_step(&q) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if (!(grown = realloc(open, cap * sizeof(*open)))) {
				r = -ENOMEM;
				break;
			}
			open = grown;
		}
		open[n].device = sq_int(&q, 0);
		open[n++].action = sq_int(&q, 1);
	}
	if (sq_finish(&q) < 0 && r == 0)
		r = q.rc;
	for (size_t i = 0; i < n && r == 0; i++)
		r = store_action_cancel_open(s, open[i].device, open[i].action, why);
	free(open);
	return r;
}

static int count_current(struct be_store *s, const struct be_rollout *ro, int64_t *ret_failed)
{
	struct be_wave_counts c[BE_WAVES_MAX];
	int r = be_store_rollout_counts(s, ro, c);

	*ret_failed = r == 0 && ro->wave >= 0 ? c[ro->wave].failed : 0;
	return r;
}

static int control(struct be_store *s, const struct be_rollout *ro, enum be_rollout_op op,
		   const char *who, const char *reason)
{
	bool active = strcmp(ro->state, "running") == 0 || strcmp(ro->state, "paused") == 0 ||
		      strcmp(ro->state, "waiting-approval") == 0;
	char msg[BE_REASON_MAX + BE_TEXT_MAX * 2 + 64];
	int64_t failed = 0;
	struct sq q;
	int r;

	snprintf(msg, sizeof(msg), "rollout %lld (release %s) %s by %s%s%s", (long long)ro->id,
		 ro->spec.release, op == BE_ROLLOUT_PAUSE ? "paused" :
		 op == BE_ROLLOUT_RESUME ? "resumed" : "cancelled", who,
		 reason && reason[0] ? ": " : "", reason ? reason : "");
	switch (op) {
	case BE_ROLLOUT_PAUSE:
		if (strcmp(ro->state, "running") != 0)
			return -EALREADY;
		return set_state(s, ro, "paused", "rollout.paused_by_operator", msg);
	case BE_ROLLOUT_RESUME:
		if (strcmp(ro->state, "paused") != 0)
			return -EALREADY;
		/* The failures seen so far are accepted: only new ones count against the
		 * error threshold, and they leave the success threshold's base. */
		if ((r = count_current(s, ro, &failed)) < 0)
			return r;
		sq_prepare(&q, s, SQL_RO_ACK);
		sq_bind_int(&q, 1, ro->id);
		sq_bind_int(&q, 2, failed);
		if ((r = sq_exec(&q)) < 0)
			return r;
		return set_state(s, ro, ro->wave < 0 ? "waiting-approval" : "running",
				 "rollout.resumed", msg);
	case BE_ROLLOUT_CANCEL:
		if (!active)
			return -EALREADY;
		if ((r = cancel_members(s, ro->id, msg)) < 0)
			return r;
		return set_state(s, ro, "cancelled", "rollout.cancelled", msg);
	}
	return -EINVAL;
}

int be_store_rollout_control(struct be_store *s, int64_t id, enum be_rollout_op op,
			     const char *who, const char *reason, struct be_rollout *ret)
{
	struct be_rollout ro;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_rollout_get(s, id, &ro)) == 0)
		r = control(s, &ro, op, who, reason);
	if (r == 0)
		r = be_store_rollout_get(s, id, ret);
	return store_end(s, r);
}

int be_store_rollout_advance(struct be_store *s, int64_t id, int to_wave, int64_t now,
			     const char *msg)
{
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_RO_WAVE);
	sq_bind_int(&q, 1, id);
	sq_bind_int(&q, 2, to_wave);
	sq_bind_int(&q, 3, now);
	r = sq_exec(&q);
	if (r == 0)
		r = be_store_event(s, "rollout.wave_started", NULL, 0, msg);
	return store_end(s, r);
}

/* ---- members: who is in, in which wave ---- */

struct candidate {
	int64_t id;
	uint64_t rank;
	bool skip;          /* runs the release's version already */
	char cid[BE_ID_MAX];
};

struct candidates {
	struct candidate *v;
	size_t n, cap;
};

struct attr_match {
	const struct be_rollout_target *t;
	bool ok[BE_TARGET_ATTRS_MAX];
};

static int attr_cb(void *ctx, const char *key, const char *value)
{
	struct attr_match *m = ctx;

	for (size_t i = 0; i < m->t->n_attrs; i++)
		if (strcmp(key, m->t->attrs[i].key) == 0 &&
		    fnmatch(m->t->attrs[i].pattern, value, 0) == 0)
			m->ok[i] = true;
	return 0;
}

/* Tags were filtered in SQL; the attributes are checked here. */
static int attrs_match(struct be_store *s, const struct be_rollout_target *t, int64_t device,
		       bool *ret)
{
	struct attr_match m = { .t = t };
	int r;

	*ret = true;
	if (t->n_attrs == 0)
		return 0;
	if ((r = be_store_device_attributes(s, device, attr_cb, &m)) < 0)
		return r;
	for (size_t i = 0; i < t->n_attrs; i++)
		*ret = *ret && m.ok[i];
	return 0;
}

static int candidates_add(struct candidates *c, const struct be_rollout *ro, struct sq *q)
{
	const char *installed = sq_text(q, 2), *reported = sq_text(q, 3);
	const char *running = installed[0] ? installed : reported;
	struct candidate *grown, *cd;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		if (!(grown = realloc(c->v, c->cap * sizeof(*c->v))))
			return -ENOMEM;
		c->v = grown;
	}
	cd = &c->v[c->n++];
	cd->id = sq_int(q, 0);
	sq_copy(q, 1, cd->cid, sizeof(cd->cid));
	cd->rank = be_rollout_rank(ro->spec.seed, cd->cid);
	cd->skip = strcmp(running, ro->spec.release) == 0;
	return 0;
}

/* Devices that match the target and are not members yet. */
static int candidates_find(struct be_store *s, const struct be_rollout *ro, struct candidates *c)
{
	const struct be_rollout_target *t = &ro->spec.target;
	char *tags = tags_json(t);
	size_t kept = 0;
	struct sq q;
	int r = 0;

	if (t->n_tags && !tags)
		return -ENOMEM;
	sq_prepare(&q, s, SQL_RO_CANDIDATES);
	sq_bind_int(&q, 1, ro->id);
	sq_bind_text(&q, 2, tags);
	while (r == 0 && sq_step(&q) > 0)
		r = candidates_add(c, ro, &q);
	if (sq_finish(&q) < 0 && r == 0)
		r = q.rc;
	free(tags);
	for (size_t i = 0; i < c->n && r == 0; i++) {
		bool ok;

		if ((r = attrs_match(s, t, c->v[i].id, &ok)) == 0 && ok)
			c->v[kept++] = c->v[i];
	}
	c->n = r == 0 ? kept : c->n;
	return r;
}

static int member_add(struct be_store *s, int64_t rollout, const struct candidate *cd, int wave,
		      int64_t now)
{
	struct sq q;

	sq_prepare(&q, s, SQL_RO_MEMBER_ADD);
	sq_bind_int(&q, 1, rollout);
	sq_bind_int(&q, 2, cd->id);
	sq_bind_int(&q, 3, wave);
	sq_bind_int(&q, 4, (int64_t)(cd->rank >> 1)); /* SQLite integers are signed */
	sq_bind_int(&q, 5, cd->skip);
	sq_bind_int(&q, 6, now);
	return sq_exec(&q);
}

static int by_rank(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* The first cut: members sorted by rank, wave k gets up to ceil(waves[k]% of n). */
static int cut_waves(struct be_store *s, const struct be_rollout *ro, struct candidates *c,
		     int64_t now)
{
	size_t k = 0;
	int r = 0;

	qsort(c->v, c->n, sizeof(*c->v), by_rank);
	for (size_t i = 0; i < c->n && r == 0; i++) {
		while (k + 1 < ro->spec.n_waves &&
		       i >= (c->n * ro->spec.waves[k] + 99) / 100)
			k++;
		r = member_add(s, ro->id, &c->v[i], (int)k, now);
	}
	return r;
}

int be_store_rollout_start(struct be_store *s, int64_t id, int64_t now)
{
	struct candidates c = { 0 };
	struct be_rollout ro;
	char msg[BE_TEXT_MAX + 160];
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_rollout_get(s, id, &ro)) < 0 || ro.wave >= 0)
		return store_end(s, r < 0 ? r : -EALREADY);
	r = candidates_find(s, &ro, &c);
	if (r == 0)
		r = cut_waves(s, &ro, &c, now);
	if (r == 0) {
		sq_prepare(&q, s, SQL_RO_WAVE);
		sq_bind_int(&q, 1, id);
		sq_bind_int(&q, 2, 0);
		sq_bind_int(&q, 3, now);
		r = sq_exec(&q);
	}
	snprintf(msg, sizeof(msg), "rollout %lld (release %s) started: %zu device(s), wave 1 of %zu",
		 (long long)id, ro.spec.release, c.n, ro.spec.n_waves);
	free(c.v);
	if (r == 0)
		r = set_state(s, &ro, "running", "rollout.started", msg);
	return store_end(s, r);
}

/* A late joiner's wave: where its rank falls, but never one that has passed. */
static int join_wave(const struct be_rollout *ro, uint64_t rank)
{
	long double pos = (long double)rank / 18446744073709551616.0L * 100.0L;
	int k = 0;

	while (k + 1 < (int)ro->spec.n_waves && pos >= ro->spec.waves[k])
		k++;
	return k > ro->wave ? k : ro->wave;
}

int be_store_rollout_join(struct be_store *s, int64_t id, int64_t now, size_t *ret_n)
{
	struct candidates c = { 0 };
	struct be_rollout ro;
	int r = be_store_begin(s);

	*ret_n = 0;
	if (r < 0)
		return r;
	if ((r = be_store_rollout_get(s, id, &ro)) < 0 || ro.wave < 0)
		return store_end(s, r);
	r = candidates_find(s, &ro, &c);
	for (size_t i = 0; i < c.n && r == 0; i++) {
		char msg[BE_ID_MAX + BE_TEXT_MAX + 64];
		int wave = join_wave(&ro, c.v[i].rank);

		r = member_add(s, id, &c.v[i], wave, now);
		snprintf(msg, sizeof(msg), "joined rollout %lld (release %s) in wave %d",
			 (long long)id, ro.spec.release, wave + 1);
		if (r == 0)
			r = be_store_event(s, "rollout.joined", c.v[i].cid, 0, msg);
	}
	*ret_n = r == 0 ? c.n : 0;
	free(c.v);
	return store_end(s, r);
}

static int assign_one(struct be_store *s, const struct be_rollout *ro,
		      const struct be_deployment *d, int64_t device, const char *cid)
{
	int64_t action = 0;
	struct sq q;
	int r = store_action_create(s, d, device, cid, &action);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_RO_SET_ACTION);
	sq_bind_int(&q, 1, ro->id);
	sq_bind_int(&q, 2, device);
	sq_bind_int(&q, 3, action);
	return sq_exec(&q);
}

int be_store_rollout_assign(struct be_store *s, int64_t id, int64_t now, size_t max,
			    size_t *ret_n)
{
	struct be_deployment d = { 0 };
	struct be_rollout ro;
	struct { int64_t device; char cid[BE_ID_MAX]; } *todo = NULL;
	int64_t edge = 0;
	size_t n = 0;
	struct sq q;
	int r = be_store_begin(s);

	*ret_n = 0;
	if (r < 0)
		return r;
	if ((r = be_store_rollout_get(s, id, &ro)) < 0 || strcmp(ro.state, "running") != 0 ||
	    ro.wave < 0)
		return store_end(s, r);
	sq_prepare(&q, s, SQL_RO_FULL_PKG);
	sq_bind_int(&q, 1, ro.release_id);
	if (sq_step(&q) > 0)
		d.package = sq_int(&q, 0);
	if ((r = sq_finish(&q)) < 0)
		return store_end(s, r);
	/* With a maintenance window, actions are handed out inside it and carry its end;
	 * one the window closed on is handed out again in the next window. */
	if (!be_rollout_window(&ro.spec, now, &edge) || d.package == 0)
		return store_end(s, 0);
	d.type = be_deploy_type_name(ro.spec.type);
	d.has_window = ro.spec.has_window;
	d.window_start = now;
	d.window_end = edge;
	if (!(todo = calloc(max ? max : 1024, sizeof(*todo))))
		return store_end(s, -ENOMEM);
	sq_prepare(&q, s, SQL_RO_TO_ASSIGN);
	sq_bind_int(&q, 1, id);
	sq_bind_int(&q, 2, ro.wave);
	sq_bind_int(&q, 3, ro.spec.has_window);
	sq_bind_int(&q, 4, max ? (int64_t)max : 1024);
	while (sq_step(&q) > 0) {
		todo[n].device = sq_int(&q, 0);
		sq_copy(&q, 1, todo[n++].cid, BE_ID_MAX);
	}
	if ((r = sq_finish(&q)) == 0)
		for (size_t i = 0; i < n && r == 0; i++)
			r = assign_one(s, &ro, &d, todo[i].device, todo[i].cid);
	*ret_n = r == 0 ? n : 0;
	free(todo);
	return store_end(s, r);
}

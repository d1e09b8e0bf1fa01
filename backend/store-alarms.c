/* SPDX-License-Identifier: MIT */
/*
 * Alarms (docs/alarms.md): channels, rules, raised alarms and the delivery outbox. An
 * alarm and its outbox rows are written in the caller's transaction together with the
 * evaluator's cursor, so an alarm is raised exactly once per event; an outbox row is
 * claimed before a send and marked after it (at-least-once delivery).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/json.h"
#include "loopline/log.h"
#include "store-internal.h"

static const char SQL_CH_ADD[] =
	"INSERT INTO alarm_channels(name, kind, config, created, enabled) VALUES(?, ?, ?, ?, ?)";
static const char SQL_CH_GET[] =
	"SELECT id, name, kind, config, created, enabled FROM alarm_channels WHERE id = ?";
static const char SQL_CH_COUNT[] = "SELECT count(*) FROM alarm_channels";
static const char SQL_CH_LIST[] =
	"SELECT id, name, kind, config, created, enabled FROM alarm_channels ORDER BY id"
	" LIMIT ? OFFSET ?";
static const char SQL_CH_UPDATE[] =
	"UPDATE alarm_channels SET name = coalesce(?2, name), enabled = coalesce(?3, enabled),"
	" config = coalesce(?4, config) WHERE id = ?1";
static const char SQL_CH_UNLINK[] = "DELETE FROM alarm_rule_channels WHERE channel_id = ?";
static const char SQL_CH_FAIL_OUTBOX[] =
	"UPDATE outbox SET state = 'failed', last_error = 'channel removed'"
	" WHERE channel_id = ? AND state = 'pending'";
static const char SQL_CH_DELETE[] = "DELETE FROM alarm_channels WHERE id = ?";
static const char SQL_CH_BY_NAME[] = "SELECT id FROM alarm_channels WHERE name = ?";
static const char SQL_RULE_ADD[] =
	"INSERT INTO alarm_rules(name, kind, params, dedupe_s, enabled, created)"
	" VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_RULE_LINK[] =
	"INSERT INTO alarm_rule_channels(rule_id, channel_id) VALUES(?, ?)";
static const char SQL_RULE_GET[] =
	"SELECT id, name, kind, params, dedupe_s, enabled, created FROM alarm_rules WHERE id = ?";
static const char SQL_RULE_CHANNELS[] =
	"SELECT c.id, c.name FROM alarm_rule_channels l JOIN alarm_channels c ON c.id = l.channel_id"
	" WHERE l.rule_id = ? ORDER BY c.id";
static const char SQL_RULE_COUNT[] =
	"SELECT count(*) FROM alarm_rules WHERE ?1 = 0 OR enabled = 1";
static const char SQL_RULE_LIST[] =
	"SELECT id FROM alarm_rules WHERE ?1 = 0 OR enabled = 1 ORDER BY id LIMIT ?2 OFFSET ?3";
static const char SQL_RULE_UNLINK[] = "DELETE FROM alarm_rule_channels WHERE rule_id = ?";
static const char SQL_RULE_DELETE[] = "DELETE FROM alarm_rules WHERE id = ?";
static const char SQL_CURSOR[] = "SELECT value FROM settings WHERE key = 'alarm_cursor'";
static const char SQL_SET_CURSOR[] =
	"INSERT OR REPLACE INTO settings(key, value) VALUES('alarm_cursor', ?)";
static const char SQL_DEDUPE[] =
	"SELECT 1 FROM alarms WHERE dedupe_key = ? AND suppressed = 0 AND time > ? LIMIT 1";
static const char SQL_KEY_EXISTS[] = "SELECT 1 FROM alarms WHERE dedupe_key = ? LIMIT 1";
static const char SQL_ALARM_ADD[] =
	"INSERT INTO alarms(time, rule_id, rule, kind, level, device, rollout, title, text,"
	" dedupe_key, event_id, suppressed) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_OUTBOX_ADD[] =
	"INSERT INTO outbox(alarm_id, channel_id, channel, state, next_attempt)"
	" SELECT ?1, id, name, 'pending', ?2 FROM alarm_channels WHERE id = ?3 AND enabled = 1";
static const char SQL_SILENT[] =
	"SELECT controller_id, last_seen FROM devices WHERE last_seen > 0 AND last_seen < ?"
	" ORDER BY id";
static const char SQL_DEVICE_EVENTS[] =
	"SELECT id, time, type, device, action_id, message FROM events WHERE device = ?1"
	" AND type = ?2 AND time >= ?3 AND id <= ?4 ORDER BY id DESC LIMIT 1000";
static const char SQL_ALARMS_COUNT[] = "SELECT count(*) FROM alarms";
static const char SQL_ALARMS_LIST[] =
	"SELECT id, time, rule_id, rule, kind, level, device, rollout, title, text, event_id,"
	" suppressed FROM alarms ORDER BY id DESC LIMIT ? OFFSET ?";
static const char SQL_DELIVERIES[] =
	"SELECT channel_id, channel, state, attempts, next_attempt, sent_time, last_error"
	" FROM outbox WHERE alarm_id = ? ORDER BY id";
static const char SQL_OUTBOX_DUE[] =
	"SELECT o.id, o.attempts, a.id, a.time, a.rule, a.kind, a.level, a.device, a.rollout,"
	" a.title, a.text, o.channel_id FROM outbox o JOIN alarms a ON a.id = o.alarm_id"
	" JOIN alarm_channels c ON c.id = o.channel_id"
	" WHERE o.state = 'pending' AND o.next_attempt <= ? AND c.enabled = 1"
	" ORDER BY o.next_attempt, o.id LIMIT ?";
static const char SQL_OUTBOX_CLAIM[] =
	"UPDATE outbox SET next_attempt = ?3 WHERE id = ?1 AND state = 'pending'"
	" AND next_attempt <= ?2";
static const char SQL_OUTBOX_DONE[] =
	"UPDATE outbox SET state = ?2, attempts = attempts + 1, next_attempt = ?3,"
	" last_error = ?4, sent_time = ?5 WHERE id = ?1 AND state = 'pending'";

/* ---- channels ---- */

static int channel_config_text(const struct be_alarm_channel *ch, char **ret)
{
	cJSON *o = be_channel_config_json(ch->kind, &ch->config, true);

	*ret = o ? lp_json_print(o) : NULL;
	cJSON_Delete(o);
	return *ret ? 0 : -ENOMEM;
}

static int channel_row(struct sq *q, struct be_alarm_channel *ch)
{
	cJSON *o = NULL;
	int kind = 0, r;

	memset(ch, 0, sizeof(*ch));
	ch->id = sq_int(q, 0);
	sq_copy(q, 1, ch->name, sizeof(ch->name));
	for (kind = 0; be_channel_kinds[kind] && strcmp(be_channel_kinds[kind], sq_text(q, 2)); kind++)
		;
	ch->created = sq_int(q, 4);
	ch->enabled = sq_int(q, 5) != 0;
	if (!be_channel_kinds[kind])
		return -EIO;
	ch->kind = (enum be_channel_kind)kind;
	r = lp_json_parse(sq_text(q, 3), strlen(sq_text(q, 3)), 1024 * 1024, 0, &o, NULL);
	if (r == 0)
		r = be_channel_config_parse(ch->kind, o, "config", false, &ch->config, NULL, NULL);
	cJSON_Delete(o);
	if (r < 0)
		log_error("%s: alarm channel %lld: its stored configuration does not parse",
			  q->s->tenant, (long long)ch->id);
	return r < 0 ? -EIO : 0;
}

int be_store_alarm_channel_add(struct be_store *s, const char *name, enum be_channel_kind kind,
			       bool enabled, const struct be_channel_config *c, int64_t *ret_id)
{
	struct be_alarm_channel ch = { .kind = kind, .config = *c };
	char *text;
	struct sq q;
	int r = channel_config_text(&ch, &text);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_CH_ADD);
	sq_bind_text(&q, 1, name);
	sq_bind_text(&q, 2, be_channel_kinds[kind]);
	sq_bind_text(&q, 3, text);
	sq_bind_int(&q, 4, be_now());
	sq_bind_int(&q, 5, enabled);
	r = sq_exec(&q);
	free(text);
	if (r == 0)
		*ret_id = store_last_rowid(s);
	return r;
}

int be_store_alarm_channel_get(struct be_store *s, int64_t id, struct be_alarm_channel *ret)
{
	struct sq q;
	int r, rr = -ENOENT;

	sq_prepare(&q, s, SQL_CH_GET);
	sq_bind_int(&q, 1, id);
	if ((r = sq_step(&q)) > 0)
		rr = channel_row(&q, ret);
	r = sq_finish(&q);
	return r < 0 ? r : rr;
}

struct ch_cb {
	int (*cb)(void *ctx, const struct be_alarm_channel *ch);
	void *ctx;
};

static int channel_list_row(struct sq *q, void *ctx)
{
	struct ch_cb *c = ctx;
	struct be_alarm_channel ch;
	int r = channel_row(q, &ch);

	return r < 0 ? r : c->cb(c->ctx, &ch);
}

int be_store_alarm_channels_list(struct be_store *s, const struct be_page *p,
				 int (*cb)(void *ctx, const struct be_alarm_channel *ch), void *ctx,
				 int64_t *ret_total)
{
	struct ch_cb c = { cb, ctx };

	return store_list(s, SQL_CH_COUNT, SQL_CH_LIST, NULL, NULL, 0, p, channel_list_row, &c,
			  ret_total);
}

int be_store_alarm_channel_update(struct be_store *s, int64_t id, const char *name, int enabled,
				  const struct be_channel_config *c)
{
	struct be_alarm_channel cur;
	char *text = NULL;
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_alarm_channel_get(s, id, &cur)) < 0)
		return store_end(s, r);
	if (c) {
		cur.config = *c;
		if ((r = channel_config_text(&cur, &text)) < 0)
			return store_end(s, r);
	}
	sq_prepare(&q, s, SQL_CH_UPDATE);
	sq_bind_int(&q, 1, id);
	sq_bind_text(&q, 2, name);
	if (enabled >= 0)
		sq_bind_int(&q, 3, enabled);
	sq_bind_text(&q, 4, text);
	r = sq_exec(&q);
	free(text);
	return store_end(s, r);
}

static int exec_id(struct be_store *s, const char *sql, int64_t id)
{
	struct sq q;

	sq_prepare(&q, s, sql);
	sq_bind_int(&q, 1, id);
	return sq_exec(&q);
}

int be_store_alarm_channel_delete(struct be_store *s, int64_t id)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = exec_id(s, SQL_CH_UNLINK, id)) == 0 && (r = exec_id(s, SQL_CH_FAIL_OUTBOX, id)) == 0 &&
	    (r = exec_id(s, SQL_CH_DELETE, id)) == 0 && store_changes(s) == 0)
		r = -ENOENT;
	return store_end(s, r);
}

int be_store_alarm_channel_test(struct be_store *s, int64_t id, int64_t *ret_alarm)
{
	struct be_alarm_channel ch;
	struct be_alarm_hit h = { .level = "info" };
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_alarm_channel_get(s, id, &ch)) < 0)
		return store_end(s, r);
	snprintf(h.title, sizeof(h.title), "Test alarm to %s", ch.name);
	snprintf(h.text, sizeof(h.text), "A test of the alarm channel %s (%s) of tenant %s.",
		 ch.name, be_channel_kinds[ch.kind], s->tenant);
	snprintf(h.key, sizeof(h.key), "test:%lld", (long long)id);
	return store_end(s, be_store_alarm_raise(s, NULL, id, &h, ret_alarm, NULL));
}

/* ---- rules ---- */

static int rule_params_text(const struct be_alarm_rule *rule, char *buf, size_t len)
{
	if (rule->kind == BE_ALARM_DEVICE_SILENT)
		snprintf(buf, len, "{\"intervals\":%lld}", (long long)rule->intervals);
	else if (rule->kind == BE_ALARM_BOOT_FAILURES)
		snprintf(buf, len, "{\"count\":%lld,\"window_s\":%lld}", (long long)rule->count,
			 (long long)rule->window_s);
	else
		snprintf(buf, len, "{}");
	return 0;
}

int be_store_alarm_rule_add(struct be_store *s, const struct be_alarm_rule *rule, int64_t *ret_id,
			    char ret_missing[BE_TEXT_MAX])
{
	int64_t ids[BE_ALARM_RULE_CHANNELS_MAX], id;
	char params[128];
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	for (size_t i = 0; i < rule->n_channels && r == 0; i++) {
		sq_prepare(&q, s, SQL_CH_BY_NAME);
		sq_bind_text(&q, 1, rule->channel_names[i]);
		if ((r = sq_step(&q)) > 0)
			ids[i] = sq_int(&q, 0);
		if (sq_finish(&q) < 0)
			return store_end(s, q.rc);
		if (r == 0) {
			snprintf(ret_missing, BE_TEXT_MAX, "%s", rule->channel_names[i]);
			return store_end(s, -ENOENT);
		}
		r = 0;
	}
	rule_params_text(rule, params, sizeof(params));
	sq_prepare(&q, s, SQL_RULE_ADD);
	sq_bind_text(&q, 1, rule->name);
	sq_bind_text(&q, 2, be_alarm_kinds[rule->kind]);
	sq_bind_text(&q, 3, params);
	sq_bind_int(&q, 4, rule->dedupe_s);
	sq_bind_int(&q, 5, rule->enabled);
	sq_bind_int(&q, 6, be_now());
	if ((r = sq_exec(&q)) < 0)
		return store_end(s, r);
	id = store_last_rowid(s);
	for (size_t i = 0; i < rule->n_channels && r == 0; i++) {
		sq_prepare(&q, s, SQL_RULE_LINK);
		sq_bind_int(&q, 1, id);
		sq_bind_int(&q, 2, ids[i]);
		r = sq_exec(&q);
	}
	if (r == 0)
		*ret_id = id;
	return store_end(s, r);
}

static int rule_channels(struct be_store *s, struct be_alarm_rule *rule)
{
	struct sq q;

	rule->n_channels = 0;
	sq_prepare(&q, s, SQL_RULE_CHANNELS);
	sq_bind_int(&q, 1, rule->id);
	while (sq_step(&q) > 0 && rule->n_channels < BE_ALARM_RULE_CHANNELS_MAX) {
		rule->channels[rule->n_channels] = sq_int(&q, 0);
		sq_copy(&q, 1, rule->channel_names[rule->n_channels++], BE_TEXT_MAX);
	}
	return sq_finish(&q);
}

static void rule_params(struct be_alarm_rule *rule, const char *text)
{
	cJSON *o = NULL;

	rule->intervals = 3;
	rule->count = 3;
	rule->window_s = 3600;
	if (lp_json_parse(text, strlen(text), 4096, 4, &o, NULL) < 0)
		return;
	lp_json_get_int(o, "intervals", false, 1, 1000, "", &rule->intervals, NULL);
	lp_json_get_int(o, "count", false, 1, 100, "", &rule->count, NULL);
	lp_json_get_int(o, "window_s", false, 1, 30 * 86400, "", &rule->window_s, NULL);
	cJSON_Delete(o);
}

int be_store_alarm_rule_get(struct be_store *s, int64_t id, struct be_alarm_rule *ret)
{
	struct sq q;
	int kind, r;

	memset(ret, 0, sizeof(*ret));
	sq_prepare(&q, s, SQL_RULE_GET);
	sq_bind_int(&q, 1, id);
	if ((r = sq_step(&q)) > 0) {
		ret->id = sq_int(&q, 0);
		sq_copy(&q, 1, ret->name, sizeof(ret->name));
		for (kind = 0; be_alarm_kinds[kind] && strcmp(be_alarm_kinds[kind], sq_text(&q, 2)); kind++)
			;
		ret->kind = be_alarm_kinds[kind] ? (enum be_alarm_kind)kind : BE_ALARM_UPDATE_FAILED;
		rule_params(ret, sq_text(&q, 3));
		ret->dedupe_s = sq_int(&q, 4);
		ret->enabled = sq_int(&q, 5) != 0;
		ret->created = sq_int(&q, 6);
	}
	if (sq_finish(&q) < 0)
		return q.rc;
	return r <= 0 ? -ENOENT : rule_channels(s, ret);
}

struct rule_cb {
	int (*cb)(void *ctx, const struct be_alarm_rule *rule);
	void *ctx;
	struct be_store *s;
};

static int rule_list_row(struct sq *q, void *ctx)
{
	struct rule_cb *c = ctx;
	struct be_alarm_rule rule;
	int r = be_store_alarm_rule_get(c->s, sq_int(q, 0), &rule);

	return r < 0 ? r : c->cb(c->ctx, &rule);
}

static void bind_enabled(struct sq *q, const void *filter)
{
	sq_bind_int(q, 1, *(const bool *)filter);
}

int be_store_alarm_rules_list(struct be_store *s, const struct be_page *p, bool only_enabled,
			      int (*cb)(void *ctx, const struct be_alarm_rule *rule), void *ctx,
			      int64_t *ret_total)
{
	struct rule_cb c = { cb, ctx, s };

	return store_list(s, SQL_RULE_COUNT, SQL_RULE_LIST, bind_enabled, &only_enabled, 1, p,
			  rule_list_row, &c, ret_total);
}

int be_store_alarm_rule_delete(struct be_store *s, int64_t id)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	/* Its alarms stay (they name the rule); rule_id then points at nothing. */
	if ((r = exec_id(s, SQL_RULE_UNLINK, id)) == 0 && (r = exec_id(s, SQL_RULE_DELETE, id)) == 0 &&
	    store_changes(s) == 0)
		r = -ENOENT;
	return store_end(s, r);
}

/* ---- evaluation ---- */

int be_store_alarm_cursor(struct be_store *s, int64_t *ret)
{
	struct sq q;
	int r;

	*ret = 0;
	sq_prepare(&q, s, SQL_CURSOR);
	if ((r = sq_step(&q)) > 0)
		*ret = strtoll(sq_text(&q, 0), NULL, 10);
	return sq_finish(&q);
}

int be_store_alarm_set_cursor(struct be_store *s, int64_t id)
{
	char v[24];
	struct sq q;

	snprintf(v, sizeof(v), "%lld", (long long)id);
	sq_prepare(&q, s, SQL_SET_CURSOR);
	sq_bind_text(&q, 1, v);
	return sq_exec(&q);
}

static int key_query(struct be_store *s, const char *sql, const char *key, int64_t after)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, sql);
	sq_bind_text(&q, 1, key);
	if (sql == SQL_DEDUPE)
		sq_bind_int(&q, 2, after);
	r = sq_step(&q);
	return sq_finish(&q) < 0 ? q.rc : r > 0;
}

int be_store_alarm_key_exists(struct be_store *s, const char *key)
{
	return key_query(s, SQL_KEY_EXISTS, key, 0);
}

static int alarm_insert(struct be_store *s, const struct be_alarm_rule *rule,
			const struct be_alarm_hit *h, int64_t now, bool suppressed)
{
	struct sq q;

	sq_prepare(&q, s, SQL_ALARM_ADD);
	sq_bind_int(&q, 1, now);
	if (rule)
		sq_bind_int(&q, 2, rule->id);
	sq_bind_text(&q, 3, rule ? rule->name : "test");
	sq_bind_text(&q, 4, rule ? be_alarm_kinds[rule->kind] : "test");
	sq_bind_text(&q, 5, h->level ? h->level : "error");
	sq_bind_text(&q, 6, h->device[0] ? h->device : NULL);
	sq_bind_text(&q, 7, h->rollout[0] ? h->rollout : NULL);
	sq_bind_text(&q, 8, h->title);
	sq_bind_text(&q, 9, h->text);
	sq_bind_text(&q, 10, h->key);
	if (h->event)
		sq_bind_int(&q, 11, h->event);
	sq_bind_int(&q, 12, suppressed);
	return sq_exec(&q);
}

static int outbox_add(struct be_store *s, int64_t alarm, int64_t channel, int64_t now)
{
	struct sq q;

	sq_prepare(&q, s, SQL_OUTBOX_ADD);
	sq_bind_int(&q, 1, alarm);
	sq_bind_int(&q, 2, now);
	sq_bind_int(&q, 3, channel);
	return sq_exec(&q);
}

int be_store_alarm_raise(struct be_store *s, const struct be_alarm_rule *rule,
			 int64_t only_channel, const struct be_alarm_hit *h, int64_t *ret_id,
			 bool *ret_suppressed)
{
	int64_t now = be_now(), id;
	int dup = 0, r = be_store_begin(s);

	if (r < 0)
		return r;
	if (rule && rule->dedupe_s > 0 &&
	    (dup = key_query(s, SQL_DEDUPE, h->key, now - rule->dedupe_s)) < 0)
		return store_end(s, dup);
	if ((r = alarm_insert(s, rule, h, now, dup)) < 0)
		return store_end(s, r);
	id = store_last_rowid(s);
	if (!rule)
		r = outbox_add(s, id, only_channel, now);
	for (size_t i = 0; rule && !dup && i < rule->n_channels && r == 0; i++)
		r = outbox_add(s, id, rule->channels[i], now);
	if (r == 0) {
		if (ret_id)
			*ret_id = id;
		if (ret_suppressed)
			*ret_suppressed = dup;
	}
	return store_end(s, r);
}

int be_store_alarm_silent_devices(struct be_store *s, int64_t before,
				  int (*cb)(void *ctx, const char *cid, int64_t last_seen), void *ctx)
{
	struct sq q;
	int r, rr = 0;

	sq_prepare(&q, s, SQL_SILENT);
	sq_bind_int(&q, 1, before);
	while (rr == 0 && (r = sq_step(&q)) > 0)
		rr = cb(ctx, sq_text(&q, 0), sq_int(&q, 1));
	r = sq_finish(&q);
	return r < 0 ? r : rr;
}

int be_store_device_events(struct be_store *s, const char *device, const char *type,
			   int64_t since, int64_t upto, int (*cb)(void *ctx, const struct be_event *e),
			   void *ctx)
{
	struct sq q;
	int r, rr = 0;

	sq_prepare(&q, s, SQL_DEVICE_EVENTS);
	sq_bind_text(&q, 1, device);
	sq_bind_text(&q, 2, type);
	sq_bind_int(&q, 3, since);
	sq_bind_int(&q, 4, upto);
	while (rr == 0 && (r = sq_step(&q)) > 0) {
		struct be_event e = {
			.id = sq_int(&q, 0), .time = sq_int(&q, 1), .type = sq_text(&q, 2),
			.device = sq_text(&q, 3), .action = sq_null(&q, 4) ? 0 : sq_int(&q, 4),
			.message = sq_text(&q, 5),
		};

		rr = cb(ctx, &e);
	}
	r = sq_finish(&q);
	return r < 0 ? r : rr;
}

/* ---- the list and the outbox ---- */

struct alarm_cb {
	int (*cb)(void *ctx, const struct be_alarm *a);
	void *ctx;
};

static const char *text_or_null(struct sq *q, int col)
{
	return sq_null(q, col) ? NULL : sq_text(q, col);
}

static int alarm_list_row(struct sq *q, void *ctx)
{
	struct alarm_cb *c = ctx;
	struct be_alarm a = {
		.id = sq_int(q, 0), .time = sq_int(q, 1), .rule_id = sq_null(q, 2) ? 0 : sq_int(q, 2),
		.rule = sq_text(q, 3), .kind = sq_text(q, 4), .level = sq_text(q, 5),
		.device = text_or_null(q, 6), .rollout = text_or_null(q, 7), .title = sq_text(q, 8),
		.text = sq_text(q, 9), .event = sq_null(q, 10) ? 0 : sq_int(q, 10),
		.suppressed = sq_int(q, 11) != 0,
	};

	return c->cb(c->ctx, &a);
}

int be_store_alarms_list(struct be_store *s, const struct be_page *p,
			 int (*cb)(void *ctx, const struct be_alarm *a), void *ctx,
			 int64_t *ret_total)
{
	struct alarm_cb c = { cb, ctx };

	return store_list(s, SQL_ALARMS_COUNT, SQL_ALARMS_LIST, NULL, NULL, 0, p, alarm_list_row, &c,
			  ret_total);
}

int be_store_alarm_deliveries(struct be_store *s, int64_t alarm,
			      int (*cb)(void *ctx, const struct be_alarm_delivery *d), void *ctx)
{
	struct sq q;
	int r, rr = 0;

	sq_prepare(&q, s, SQL_DELIVERIES);
	sq_bind_int(&q, 1, alarm);
	while (rr == 0 && (r = sq_step(&q)) > 0) {
		struct be_alarm_delivery d = {
			.channel_id = sq_int(&q, 0), .channel = sq_text(&q, 1), .state = sq_text(&q, 2),
			.attempts = sq_int(&q, 3), .next_attempt = sq_int(&q, 4),
			.sent_time = sq_null(&q, 5) ? 0 : sq_int(&q, 5), .last_error = sq_text(&q, 6),
		};

		rr = cb(ctx, &d);
	}
	r = sq_finish(&q);
	return r < 0 ? r : rr;
}

int be_store_outbox_due(struct be_store *s, int64_t now, struct be_outbox_item *items, size_t max,
			size_t *ret_n)
{
	struct sq q;
	size_t n = 0;
	int r;

	sq_prepare(&q, s, SQL_OUTBOX_DUE);
	sq_bind_int(&q, 1, now);
	sq_bind_int(&q, 2, (int64_t)max);
	while (n < max && (r = sq_step(&q)) > 0) {
		struct be_outbox_item *it = &items[n++];

		memset(it, 0, sizeof(*it));
		it->id = sq_int(&q, 0);
		it->attempts = sq_int(&q, 1);
		it->alarm_id = sq_int(&q, 2);
		it->alarm_time = sq_int(&q, 3);
		sq_copy(&q, 4, it->rule, sizeof(it->rule));
		sq_copy(&q, 5, it->kind, sizeof(it->kind));
		sq_copy(&q, 6, it->level, sizeof(it->level));
		sq_copy(&q, 7, it->device, sizeof(it->device));
		sq_copy(&q, 8, it->rollout, sizeof(it->rollout));
		sq_copy(&q, 9, it->title, sizeof(it->title));
		sq_copy(&q, 10, it->text, sizeof(it->text));
		it->channel.id = sq_int(&q, 11);
	}
	if ((r = sq_finish(&q)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = be_store_alarm_channel_get(s, items[i].channel.id, &items[i].channel)) < 0)
			return r;
	*ret_n = n;
	return 0;
}

int be_store_outbox_claim(struct be_store *s, int64_t id, int64_t now, int64_t until)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_OUTBOX_CLAIM);
	sq_bind_int(&q, 1, id);
	sq_bind_int(&q, 2, now);
	sq_bind_int(&q, 3, until);
	r = sq_exec(&q);
	return r < 0 ? r : store_changes(s) == 1;
}

int be_store_outbox_done(struct be_store *s, const struct be_outbox_item *it,
			 enum be_outbox_result res, const char *error, int64_t next_attempt)
{
	static const char *const states[] = { "sent", "pending", "failed" };
	char msg[BE_ALARM_TITLE_MAX + 2 * BE_TEXT_MAX + 64];
	int64_t now = be_now();
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_OUTBOX_DONE);
	sq_bind_int(&q, 1, it->id);
	sq_bind_text(&q, 2, states[res]);
	sq_bind_int(&q, 3, res == BE_OUTBOX_RETRY ? next_attempt : now);
	sq_bind_text(&q, 4, error ? error : "");
	if (res == BE_OUTBOX_SENT)
		sq_bind_int(&q, 5, now);
	r = sq_exec(&q);
	if (r == 0 && res == BE_OUTBOX_GIVE_UP) {
		snprintf(msg, sizeof(msg), "alarm %lld (%s) not delivered to channel %s after %lld "
			 "attempts: %s", (long long)it->alarm_id, it->title, it->channel.name,
			 (long long)it->attempts + 1, error ? error : "");
		r = be_store_event(s, "alarm.delivery_failed", it->device[0] ? it->device : NULL, 0, msg);
	}
	return store_end(s, r);
}

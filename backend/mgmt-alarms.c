/* SPDX-License-Identifier: MIT */
/*
 * Alarms (docs/api.md, "Alarms"; docs/alarms.md):
 *   GET/POST /alarm-channels, GET/PATCH/DELETE /alarm-channels/ID
 *   POST /alarm-channels/ID/test      queues a test alarm to the channel
 *   GET/POST /alarm-rules, GET/DELETE /alarm-rules/ID
 *   GET /alarms                       newest first, each with its deliveries
 * Writes need the operator role (mgmt.c's allowed()). A channel's secret (bot token,
 * SMTP password, webhook key) is never returned: "secret_set" says whether there is one.
 */
#include <errno.h>
#include <string.h>
#include <event2/http.h>

#include "mgmt.h"

static cJSON *channel_json(const struct be_alarm_channel *ch)
{
	cJSON *o = cJSON_CreateObject(), *cfg;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)ch->id);
	cJSON_AddStringToObject(o, "name", ch->name);
	cJSON_AddStringToObject(o, "kind", be_channel_kinds[ch->kind]);
	cJSON_AddBoolToObject(o, "enabled", ch->enabled);
	cJSON_AddNumberToObject(o, "created", (double)ch->created);
	cfg = be_channel_config_json(ch->kind, &ch->config, false);
	if (!cfg || !cJSON_AddItemToObject(o, "config", cfg)) {
		cJSON_Delete(cfg);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void reply_channel(struct be_mgmt *m, int status, int64_t id)
{
	struct be_alarm_channel ch;
	int rc = be_store_alarm_channel_get(m->s, id, &ch);
	cJSON *o = rc == 0 ? channel_json(&ch) : NULL;

	explicit_bzero(&ch, sizeof(ch));
	if (!o)
		mgmt_store_error(m, rc < 0 ? rc : -ENOMEM, "alarm channel");
	else
		be_reply_json(m->r, status, o);
}

static int channel_cb(void *ctx, const struct be_alarm_channel *ch)
{
	return mgmt_list_add(ctx, channel_json(ch));
}

static void channel_create(struct be_mgmt *m)
{
	struct be_channel_req q;
	int64_t id = 0;
	int rc;

	if (mgmt_body(m, (mgmt_parser)be_channel_req_parse, &q) < 0)
		return;
	if (!q.name[0] || q.kind < 0 || !q.has_config)
		be_reply_error(m->r, 400, "bad_request", "%s: required key \"%s\" is missing",
			       !q.name[0] ? "name" : q.kind < 0 ? "kind" : "config",
			       !q.name[0] ? "name" : q.kind < 0 ? "kind" : "config");
	else if ((rc = be_store_alarm_channel_add(m->s, q.name, (enum be_channel_kind)q.kind,
						  q.enabled != 0, &q.config, &id)) == -EEXIST)
		be_reply_error(m->r, 409, "exists", "alarm channel %s exists", q.name);
	else if (rc < 0)
		mgmt_store_error(m, rc, "alarm channel");
	else
		reply_channel(m, 201, id);
	be_channel_req_done(&q);
	explicit_bzero(&q, sizeof(q));
}

static void channel_patch(struct be_mgmt *m, int64_t id)
{
	struct be_alarm_channel cur;
	struct be_channel_req q;
	struct lp_diag d;
	char err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 16];
	int rc;

	if (mgmt_body(m, (mgmt_parser)be_channel_req_parse, &q) < 0)
		return;
	lp_diag_clear(&d);
	if ((rc = be_store_alarm_channel_get(m->s, id, &cur)) < 0) {
		mgmt_store_error(m, rc, "alarm channel");
	} else if (q.kind >= 0 && q.kind != (int)cur.kind) {
		be_reply_error(m->r, 400, "bad_request", "kind: a channel's kind cannot change");
	} else if (q.has_config && q.kind < 0 &&
		   be_channel_config_parse(cur.kind, q.config_json, "config", false, &q.config,
					   &q.has_secret, &d) < 0) {
		be_reply_error(m->r, 400, "bad_request", "%s", lp_diag_format(&d, err, sizeof(err)));
	} else {
		if (q.has_config && !q.has_secret) /* an omitted secret is kept */
			memcpy(q.config.secret, cur.config.secret, sizeof(q.config.secret));
		rc = be_store_alarm_channel_update(m->s, id, q.name[0] ? q.name : NULL, q.enabled,
						   q.has_config ? &q.config : NULL);
		if (rc == -EEXIST)
			be_reply_error(m->r, 409, "exists", "alarm channel %s exists", q.name);
		else if (rc < 0)
			mgmt_store_error(m, rc, "alarm channel");
		else
			reply_channel(m, 200, id);
	}
	be_channel_req_done(&q);
	explicit_bzero(&q, sizeof(q));
	explicit_bzero(&cur, sizeof(cur));
}

static void channel_test(struct be_mgmt *m, int64_t id)
{
	int64_t alarm = 0;
	int rc = be_store_alarm_channel_test(m->s, id, &alarm);
	cJSON *o;

	if (rc < 0) {
		mgmt_store_error(m, rc, "alarm channel");
		return;
	}
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddNumberToObject(o, "alarm", (double)alarm);
	if (!o)
		mgmt_store_error(m, -ENOMEM, "alarm");
	else
		be_reply_json(m->r, 202, o);
}

static void alarm_channels(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	int64_t id = r->n_seg >= 4 ? mgmt_id(r->seg[3]) : 0;
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	int rc;

	if (r->n_seg >= 4 && !id) {
		be_reply_error(r, 404, "not_found", "no such alarm channel");
	} else if (r->n_seg == 3 && get) {
		if (mgmt_paging(m, &p) < 0)
			return;
		l.items = cJSON_CreateArray();
		rc = be_store_alarm_channels_list(m->s, &p, channel_cb, &l, &total);
		mgmt_reply_list(&l, rc, &p, total, "alarm channels");
	} else if (r->n_seg == 3 && r->method == EVHTTP_REQ_POST) {
		channel_create(m);
	} else if (r->n_seg == 4 && get) {
		reply_channel(m, 200, id);
	} else if (r->n_seg == 4 && r->method == EVHTTP_REQ_PATCH) {
		channel_patch(m, id);
	} else if (r->n_seg == 4 && r->method == EVHTTP_REQ_DELETE) {
		if ((rc = be_store_alarm_channel_delete(m->s, id)) < 0)
			mgmt_store_error(m, rc, "alarm channel");
		else
			be_reply_empty(r, 204);
	} else if (r->n_seg == 5 && r->method == EVHTTP_REQ_POST && strcmp(r->seg[4], "test") == 0) {
		channel_test(m, id);
	} else {
		be_reply_error(r, 404, "not_found", "no such resource");
	}
}

/* ---- rules ---- */

static cJSON *rule_json(const struct be_alarm_rule *rule)
{
	cJSON *o = cJSON_CreateObject(), *ch, *params;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)rule->id);
	cJSON_AddStringToObject(o, "name", rule->name);
	cJSON_AddStringToObject(o, "kind", be_alarm_kinds[rule->kind]);
	cJSON_AddBoolToObject(o, "enabled", rule->enabled);
	cJSON_AddNumberToObject(o, "dedupe_s", (double)rule->dedupe_s);
	cJSON_AddNumberToObject(o, "created", (double)rule->created);
	params = cJSON_AddObjectToObject(o, "params");
	if (params && rule->kind == BE_ALARM_DEVICE_SILENT) {
		cJSON_AddNumberToObject(params, "intervals", (double)rule->intervals);
	} else if (params && rule->kind == BE_ALARM_BOOT_FAILURES) {
		cJSON_AddNumberToObject(params, "count", (double)rule->count);
		cJSON_AddNumberToObject(params, "window_s", (double)rule->window_s);
	}
	ch = cJSON_AddArrayToObject(o, "channels");
	for (size_t i = 0; ch && i < rule->n_channels; i++)
		cJSON_AddItemToArray(ch, cJSON_CreateString(rule->channel_names[i]));
	return o;
}

static void reply_rule(struct be_mgmt *m, int status, int64_t id)
{
	struct be_alarm_rule rule;
	int rc = be_store_alarm_rule_get(m->s, id, &rule);
	cJSON *o = rc == 0 ? rule_json(&rule) : NULL;

	if (!o)
		mgmt_store_error(m, rc < 0 ? rc : -ENOMEM, "alarm rule");
	else
		be_reply_json(m->r, status, o);
}

static int rule_cb(void *ctx, const struct be_alarm_rule *rule)
{
	return mgmt_list_add(ctx, rule_json(rule));
}

static void rule_create(struct be_mgmt *m)
{
	struct be_rule_req q;
	char missing[BE_TEXT_MAX] = "";
	int64_t id = 0;
	int rc;

	if (mgmt_body(m, (mgmt_parser)be_rule_req_parse, &q) < 0)
		return;
	rc = be_store_alarm_rule_add(m->s, &q.rule, &id, missing);
	if (rc == -EEXIST)
		be_reply_error(m->r, 409, "exists", "alarm rule %s exists", q.rule.name);
	else if (rc == -ENOENT)
		be_reply_error(m->r, 400, "bad_request", "channels: no alarm channel %s", missing);
	else if (rc < 0)
		mgmt_store_error(m, rc, "alarm rule");
	else
		reply_rule(m, 201, id);
}

static void alarm_rules(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	int64_t id = r->n_seg >= 4 ? mgmt_id(r->seg[3]) : 0;
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	int rc;

	if (r->n_seg >= 4 && !id) {
		be_reply_error(r, 404, "not_found", "no such alarm rule");
	} else if (r->n_seg == 3 && get) {
		if (mgmt_paging(m, &p) < 0)
			return;
		l.items = cJSON_CreateArray();
		rc = be_store_alarm_rules_list(m->s, &p, false, rule_cb, &l, &total);
		mgmt_reply_list(&l, rc, &p, total, "alarm rules");
	} else if (r->n_seg == 3 && r->method == EVHTTP_REQ_POST) {
		rule_create(m);
	} else if (r->n_seg == 4 && get) {
		reply_rule(m, 200, id);
	} else if (r->n_seg == 4 && r->method == EVHTTP_REQ_DELETE) {
		if ((rc = be_store_alarm_rule_delete(m->s, id)) < 0)
			mgmt_store_error(m, rc, "alarm rule");
		else
			be_reply_empty(r, 204);
	} else {
		be_reply_error(r, 404, "not_found", "no such resource");
	}
}

/* ---- alarms ---- */

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static int delivery_cb(void *ctx, const struct be_alarm_delivery *d)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(ctx, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	cJSON_AddNumberToObject(o, "channel_id", (double)d->channel_id);
	cJSON_AddStringToObject(o, "channel", d->channel);
	cJSON_AddStringToObject(o, "state", d->state);
	cJSON_AddNumberToObject(o, "attempts", (double)d->attempts);
	add_str_or_null(o, "last_error", d->last_error[0] ? d->last_error : NULL);
	if (d->sent_time)
		cJSON_AddNumberToObject(o, "sent_time", (double)d->sent_time);
	else
		cJSON_AddNullToObject(o, "sent_time");
	if (strcmp(d->state, "pending") == 0)
		cJSON_AddNumberToObject(o, "next_attempt", (double)d->next_attempt);
	return 0;
}

static int alarm_cb(void *ctx, const struct be_alarm *a)
{
	struct mgmt_list *l = ctx;
	cJSON *o = cJSON_CreateObject(), *dl;

	if (!o)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "id", (double)a->id);
	cJSON_AddNumberToObject(o, "time", (double)a->time);
	cJSON_AddStringToObject(o, "rule", a->rule);
	if (a->rule_id)
		cJSON_AddNumberToObject(o, "rule_id", (double)a->rule_id);
	else
		cJSON_AddNullToObject(o, "rule_id");
	cJSON_AddStringToObject(o, "kind", a->kind);
	cJSON_AddStringToObject(o, "level", a->level);
	add_str_or_null(o, "device", a->device);
	add_str_or_null(o, "rollout", a->rollout);
	cJSON_AddStringToObject(o, "title", a->title);
	cJSON_AddStringToObject(o, "text", a->text);
	cJSON_AddBoolToObject(o, "suppressed", a->suppressed);
	dl = cJSON_AddArrayToObject(o, "deliveries");
	if (!dl || mgmt_list_add(l, o) < 0)
		return -ENOMEM;
	return be_store_alarm_deliveries(l->m->s, a->id, delivery_cb, dl);
}

static void alarms_list(struct be_mgmt *m)
{
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	int rc;

	if (m->r->n_seg != 3 || (m->r->method != EVHTTP_REQ_GET && m->r->method != EVHTTP_REQ_HEAD)) {
		be_reply_error(m->r, 404, "not_found", "no such resource");
		return;
	}
	if (mgmt_paging(m, &p) < 0)
		return;
	l.items = cJSON_CreateArray();
	if ((rc = be_store_read_begin(m->s)) == 0) {
		rc = be_store_alarms_list(m->s, &p, alarm_cb, &l, &total);
		be_store_read_end(m->s);
	}
	mgmt_reply_list(&l, rc, &p, total, "alarms");
}

void mgmt_alarms(struct be_mgmt *m)
{
	const char *res = m->r->seg[2];

	if (strcmp(res, "alarm-channels") == 0)
		alarm_channels(m);
	else if (strcmp(res, "alarm-rules") == 0)
		alarm_rules(m);
	else
		alarms_list(m);
}

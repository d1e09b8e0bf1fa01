/* SPDX-License-Identifier: MIT */
/*
 * The alarm engine of a server (docs/alarms.md): two tickers (ticker.c), each a thread
 * going over every tenant with its own store connections.
 *
 * Evaluator (every alarms.eval_interval_s): in ONE transaction per tenant it reads the
 * cursor (the last event id evaluated), matches the newer events against the enabled
 * rules, checks silent devices, records the alarms with their outbox rows and moves the
 * cursor. A crash before the commit leaves nothing (the events are evaluated again); after
 * it, nothing is evaluated twice: no alarm is lost or duplicated.
 *
 * Delivery (every second): per tenant the due outbox rows are claimed (their next attempt
 * moved past the send timeout, so a crash mid-send retries later), sent, and marked sent,
 * retried with exponential backoff (retry_min_s doubled per attempt, at most
 * retry_max_s) or given up (max_attempts or max_age_s; an alarm.delivery_failed event).
 * A kill between a send and its mark sends that one alarm once more: at-least-once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "loopline/log.h"
#include "backend.h"

#define EVENTS_PER_ROUND 500
#define DUE_PER_ROUND 16

/* ---- evaluation ---- */

struct eval {
	struct be_store *s;
	const struct be_config *cfg;
	struct be_alarm_rule *rules;
	size_t n_rules;
	int64_t last;         /* the last event seen */
	unsigned raised, suppressed;
};

static int raise_hit(struct eval *ev, const struct be_alarm_rule *rule, const struct be_alarm_hit *h)
{
	bool sup = false;
	int r = be_store_alarm_raise(ev->s, rule, 0, h, NULL, &sup);

	if (r == 0 && sup)
		ev->suppressed++;
	else if (r == 0)
		ev->raised++;
	return r;
}

static int count_boot(void *ctx, const struct be_event *e)
{
	if (be_alarm_rollback(e->message, NULL, 0) == BE_ROLLBACK_BOOT)
		(*(int64_t *)ctx)++;
	return 0;
}

static int eval_event(void *ctx, const struct be_event *e)
{
	struct eval *ev = ctx;
	struct be_alarm_hit h;
	int r = 0;

	ev->last = e->id;
	for (size_t i = 0; i < ev->n_rules && r == 0; i++) {
		const struct be_alarm_rule *rule = &ev->rules[i];
		int64_t n = 0;

		if (!be_alarm_match(rule->kind, rule->id, e, &h))
			continue;
		if (rule->kind == BE_ALARM_BOOT_FAILURES) {
			r = be_store_device_events(ev->s, e->device, "action.failed",
						   e->time - rule->window_s, e->id, count_boot, &n);
			if (r < 0 || n < rule->count)
				continue;
			snprintf(h.text + strlen(h.text), sizeof(h.text) - strlen(h.text),
				 "\n%lld boot failures within %lld s (threshold %lld).", (long long)n,
				 (long long)rule->window_s, (long long)rule->count);
		}
		r = raise_hit(ev, rule, &h);
	}
	return r;
}

struct silent_ctx {
	struct eval *ev;
	const struct be_alarm_rule *rule;
	int64_t now;
};

/* Once per silence: the key holds the last-seen time the silence started from. */
static int eval_silent(void *ctx, const char *cid, int64_t last_seen)
{
	struct silent_ctx *c = ctx;
	struct be_alarm_hit h = { .level = "warning" };
	int r;

	snprintf(h.key, sizeof(h.key), "%lld:%s:%lld", (long long)c->rule->id, cid,
		 (long long)last_seen);
	if ((r = be_store_alarm_key_exists(c->ev->s, h.key)) != 0)
		return r < 0 ? r : 0;
	snprintf(h.device, sizeof(h.device), "%s", cid);
	snprintf(h.title, sizeof(h.title), "Device %s is silent", cid);
	snprintf(h.text, sizeof(h.text), "Device %s has not polled for %lld s (last seen %lld s ago; "
		 "the poll interval is %u s, the rule allows %lld intervals).", cid,
		 (long long)(c->now - last_seen), (long long)(c->now - last_seen),
		 c->ev->cfg->poll_sleep_s, (long long)c->rule->intervals);
	return raise_hit(c->ev, c->rule, &h);
}

static int collect_rule(void *ctx, const struct be_alarm_rule *rule)
{
	struct eval *ev = ctx;

	if (ev->n_rules >= BE_ALARM_RULES_MAX)
		return 0;
	ev->rules[ev->n_rules++] = *rule;
	return 0;
}

static int eval_locked(struct eval *ev)
{
	struct be_page p = { 0, EVENTS_PER_ROUND };
	int64_t cursor = 0, total, now = be_now();
	int r;

	if ((r = be_store_alarm_cursor(ev->s, &cursor)) < 0 ||
	    (r = be_store_alarm_rules_list(ev->s, &(struct be_page){ 0, BE_ALARM_RULES_MAX }, true,
					   collect_rule, ev, &total)) < 0)
		return r;
	ev->last = cursor;
	if ((r = be_store_events_list(ev->s, cursor, NULL, &p, eval_event, ev, &total)) < 0)
		return r;
	for (size_t i = 0; i < ev->n_rules && r == 0; i++) {
		struct silent_ctx c = { ev, &ev->rules[i], now };

		if (ev->rules[i].kind == BE_ALARM_DEVICE_SILENT)
			r = be_store_alarm_silent_devices(ev->s, now - ev->rules[i].intervals *
							  (int64_t)ev->cfg->poll_sleep_s,
							  eval_silent, &c);
	}
	if (r == 0 && ev->last != cursor)
		r = be_store_alarm_set_cursor(ev->s, ev->last);
	return r;
}

int be_alarms_evaluate(struct be_store *s, const struct be_config *cfg)
{
	struct eval ev = { .s = s, .cfg = cfg };
	int r;

	ev.rules = calloc(BE_ALARM_RULES_MAX, sizeof(*ev.rules));
	if (!ev.rules)
		return -ENOMEM;
	if ((r = be_store_begin(s)) == 0) {
		r = eval_locked(&ev);
		if (r == 0)
			r = be_store_commit(s);
		if (r < 0)
			be_store_rollback(s);
	}
	if (r == 0 && (ev.raised || ev.suppressed))
		log_info("%s: %u alarm(s) raised, %u suppressed as duplicates", be_store_tenant(s),
			 ev.raised, ev.suppressed);
	free(ev.rules);
	return r;
}

/* ---- delivery ---- */

static int64_t backoff(const struct be_config *cfg, int64_t attempts)
{
	int64_t d = cfg->alarms.retry_min_s;

	for (int64_t i = 1; i < attempts && d < cfg->alarms.retry_max_s; i++)
		d *= 2;
	return d < cfg->alarms.retry_max_s ? d : cfg->alarms.retry_max_s;
}

static int deliver_one(struct be_store *s, const struct be_config *cfg, struct be_outbox_item *it)
{
	const char *tenant = be_store_tenant(s);
	int64_t now = be_now();
	char err[256];
	enum be_outbox_result res = BE_OUTBOX_SENT;
	int r = be_store_outbox_claim(s, it->id, now, now + cfg->alarms.send_timeout_s + 5);

	if (r <= 0)
		return r;
	if (be_alarm_send(it, tenant, cfg->alarms.send_timeout_s, err, sizeof(err)) < 0) {
		bool old = now - it->alarm_time >= (int64_t)cfg->alarms.max_age_s;

		res = it->attempts + 1 >= cfg->alarms.max_attempts || old ? BE_OUTBOX_GIVE_UP :
		      BE_OUTBOX_RETRY;
		log_warn("%s: alarm %lld to channel %s: attempt %lld failed: %s%s", tenant,
			 (long long)it->alarm_id, it->channel.name, (long long)it->attempts + 1, err,
			 res == BE_OUTBOX_GIVE_UP ? " (giving up)" : "");
	} else {
		err[0] = '\0';
		log_info("%s: alarm %lld delivered to channel %s", tenant, (long long)it->alarm_id,
			 it->channel.name);
	}
	return be_store_outbox_done(s, it, res, err, be_now() + backoff(cfg, it->attempts + 1));
}

int be_alarms_deliver(struct be_store *s, const struct be_config *cfg)
{
	struct be_outbox_item *items = calloc(DUE_PER_ROUND, sizeof(*items));
	size_t n = 0;
	int r;

	if (!items)
		return -ENOMEM;
	r = be_store_outbox_due(s, be_now(), items, DUE_PER_ROUND, &n);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = deliver_one(s, cfg, &items[i]);
	explicit_bzero(items, DUE_PER_ROUND * sizeof(*items)); /* the channels' secrets */
	free(items);
	return r < 0 ? r : 0;
}

/* ---- the threads: evaluation and delivery, each a ticker over every tenant ---- */

struct be_alarms {
	struct be_ticker *eval, *deliver;
};

static int eval_tick(struct be_store *s, int64_t now, void *ctx)
{
	(void)now;
	return be_alarms_evaluate(s, ctx);
}

static int deliver_tick(struct be_store *s, int64_t now, void *ctx)
{
	(void)now;
	return be_alarms_deliver(s, ctx);
}

int be_alarms_start(const struct be_config *cfg, struct be_alarms **ret)
{
	struct be_alarms *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(a);
		return -EIO;
	}
	/* The configuration outlives the threads (be_server_run stops them first). */
	if ((r = be_ticker_start(cfg->data_dir, "alarm evaluation", cfg->alarms.eval_interval_s * 1000,
				 eval_tick, (void *)cfg, &a->eval)) < 0 ||
	    (r = be_ticker_start(cfg->data_dir, "alarm delivery", 1000, deliver_tick, (void *)cfg,
				 &a->deliver)) < 0) {
		be_alarms_stop(a);
		return r;
	}
	*ret = a;
	return 0;
}

void be_alarms_stop(struct be_alarms *a)
{
	if (!a)
		return;
	be_ticker_stop(a->eval);
	be_ticker_stop(a->deliver);
	curl_global_cleanup();
	free(a);
}

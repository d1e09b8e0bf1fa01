/* SPDX-License-Identifier: MIT */
/*
 * The rollout engine (docs/rollouts.md). Every tick, for each unfinished rollout of a
 * tenant: start it once its release is approved (cut the matching devices into waves by
 * a seeded rank), let late joiners in, hand out the current wave's actions (inside the
 * maintenance window, if there is one), then decide from the current wave's counts:
 *
 *   failures of the wave (beyond those an operator resumed past) reach error%  → pause
 *   the wave ran soak_s and successes reach success% of its live members      → next wave
 *   … and it was the last wave                                                → done
 *
 * Each step is a store transaction; the decision and its effect are one transaction, so
 * two backends sharing a store, or one restarted after a kill, never take a step twice.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loopline/hash.h"
#include "loopline/log.h"
#include "backend.h"

#define ASSIGN_BATCH 500
#define ROLLOUTS_PER_TICK 64

uint64_t be_rollout_rank(int64_t seed, const char *cid)
{
	uint8_t buf[8 + BE_ID_MAX], md[LP_HASH_MAX_LEN];
	size_t n = strlen(cid);
	uint64_t v = 0;

	if (n >= BE_ID_MAX)
		n = BE_ID_MAX - 1;
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)seed >> (8 * i));
	memcpy(buf + 8, cid, n);
	if (lp_hash_buffer(LP_HASH_SHA256, buf, 8 + n, md) < 0)
		return 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | md[i];
	return v;
}

bool be_rollout_window(const struct be_rollout_spec *sp, int64_t now, int64_t *ret_edge)
{
	int64_t day = now - now % 86400, start, end;

	if (!sp->has_window) {
		*ret_edge = 0;
		return true;
	}
	/* The window that began today or yesterday (it may run over midnight). */
	for (int back = 1; back >= 0; back--) {
		start = day - back * 86400 + (int64_t)sp->window_start_min * 60;
		end = start + (int64_t)sp->window_minutes * 60;
		if (now >= start && now < end) {
			*ret_edge = end;
			return true;
		}
	}
	start = day + (int64_t)sp->window_start_min * 60;
	*ret_edge = start > now ? start : start + 86400;
	return false;
}

enum be_rollout_decision be_rollout_decide(const struct be_rollout *ro,
					   const struct be_wave_counts *cur, int64_t now,
					   char *why, size_t why_len)
{
	const struct be_rollout_spec *sp = &ro->spec;
	int64_t live = cur->size - cur->canceled;     /* members that can still count */
	int64_t base = live - ro->errors_acked;       /* … less the accepted failures */
	bool last = ro->wave + 1 >= (int)sp->n_waves;
	char dummy[8];

	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	why[0] = '\0';
	if (strcmp(ro->state, "running") != 0 || ro->wave < 0)
		return BE_RO_STAY;
	if (cur->failed > ro->errors_acked && live > 0 &&
	    cur->failed * 100 >= (int64_t)sp->error_pct * live) {
		snprintf(why, why_len, "%lld of %lld failed, error threshold %u%%",
			 (long long)cur->failed, (long long)live, sp->error_pct);
		return BE_RO_PAUSE;
	}
	if (cur->size > 0) {
		if (now - ro->wave_started < sp->soak_s)
			return BE_RO_STAY;
		if (base > 0 && cur->success * 100 < (int64_t)sp->success_pct * base)
			return BE_RO_STAY;
	}
	snprintf(why, why_len, "%lld of %lld succeeded (success threshold %u%%)",
		 (long long)cur->success, (long long)cur->size, sp->success_pct);
	return last ? BE_RO_DONE : BE_RO_ADVANCE;
}

/* The decision and its effect, in one transaction. */
static int decide(struct be_store *s, int64_t id, int64_t now, bool *ret_advanced)
{
	struct be_wave_counts c[BE_WAVES_MAX];
	struct be_rollout ro;
	char why[160], msg[BE_TEXT_MAX + 320];
	enum be_rollout_decision d;
	int r = be_store_begin(s);

	*ret_advanced = false;
	if (r < 0)
		return r;
	if ((r = be_store_rollout_get(s, id, &ro)) < 0 ||
	    (r = be_store_rollout_counts(s, &ro, c)) < 0)
		goto out;
	d = be_rollout_decide(&ro, &c[ro.wave < 0 ? 0 : ro.wave], now, why, sizeof(why));
	switch (d) {
	case BE_RO_STAY:
		break;
	case BE_RO_PAUSE:
		snprintf(msg, sizeof(msg), "rollout %lld (release %s) paused in wave %d of %zu: %s",
			 (long long)id, ro.spec.release, ro.wave + 1, ro.spec.n_waves, why);
		log_warn("tenant %s: %s", be_store_tenant(s), msg);
		r = be_store_rollout_set_state(s, id, "paused", "rollout.paused", msg);
		break;
	case BE_RO_ADVANCE:
		snprintf(msg, sizeof(msg), "rollout %lld (release %s): wave %d of %zu started"
			 " (%u%%); wave %d: %s", (long long)id, ro.spec.release, ro.wave + 2,
			 ro.spec.n_waves, ro.spec.waves[ro.wave + 1], ro.wave + 1, why);
		log_info("tenant %s: %s", be_store_tenant(s), msg);
		r = be_store_rollout_advance(s, id, ro.wave + 1, now, msg);
		*ret_advanced = r == 0;
		break;
	case BE_RO_DONE:
		snprintf(msg, sizeof(msg), "rollout %lld (release %s) done: wave %d of %zu: %s",
			 (long long)id, ro.spec.release, ro.wave + 1, ro.spec.n_waves, why);
		log_info("tenant %s: %s", be_store_tenant(s), msg);
		r = be_store_rollout_set_state(s, id, "done", "rollout.done", msg);
		break;
	}
out:
	if (r < 0) {
		be_store_rollback(s);
		return r;
	}
	return be_store_commit(s);
}

static int assign_all(struct be_store *s, int64_t id, int64_t now)
{
	size_t n;
	int r;

	do {
		r = be_store_rollout_assign(s, id, now, ASSIGN_BATCH, &n);
	} while (r == 0 && n == ASSIGN_BATCH);
	return r;
}

static int tick_one(struct be_store *s, int64_t id, int64_t now)
{
	struct be_rollout ro;
	struct be_release rel;
	bool advanced;
	size_t joined;
	int r = be_store_rollout_get(s, id, &ro);

	if (r < 0)
		return r;
	if (strcmp(ro.state, "waiting-approval") == 0) {
		if ((r = be_store_release_get(s, ro.spec.release, &rel)) < 0)
			return r;
		if (strcmp(rel.state, "approved") != 0)
			return 0; /* "pending operator approval": nothing is assigned */
	}
	if (ro.wave < 0 && strcmp(ro.state, "paused") != 0) {
		if ((r = be_store_rollout_start(s, id, now)) < 0)
			return r;
	} else if ((r = be_store_rollout_join(s, id, now, &joined)) < 0) {
		return r;
	} else if (strcmp(ro.state, "running") != 0) {
		return 0;
	}
	do {
		if ((r = assign_all(s, id, now)) < 0 || (r = decide(s, id, now, &advanced)) < 0)
			return r;
	} while (advanced); /* a wave with nobody in it passes at once */
	return 0;
}

int be_rollout_tick(struct be_store *s, int64_t now)
{
	int64_t ids[ROLLOUTS_PER_TICK];
	size_t n = 0;
	int r = be_store_rollouts_active(s, ids, ROLLOUTS_PER_TICK, &n), first = 0;

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = tick_one(s, ids[i], now)) < 0 && first == 0)
			first = r; /* the others still get their tick */
	return first;
}

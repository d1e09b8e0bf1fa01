/* SPDX-License-Identifier: MIT */
/*
 * Per-client-address rate limit: a token bucket per address in a fixed table shared by
 * all workers. An address hashes to a window of RL_PROBE slots; a new address takes the
 * window's least recently used slot. Windows never span two lock stripes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define RL_SLOTS 8192
#define RL_STRIPES 64
#define RL_PROBE 8

struct rl_entry {
	char ip[BE_IP_MAX];
	double tokens;
	uint64_t last_us;
};

struct be_ratelimit {
	pthread_mutex_t lock[RL_STRIPES];
	struct rl_entry slot[RL_SLOTS];
	double rate, burst;
};

int be_ratelimit_new(unsigned per_s, unsigned burst, struct be_ratelimit **ret)
{
	struct be_ratelimit *rl;

	if (!per_s)
		return -EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	for (size_t i = 0; i < RL_STRIPES; i++)
		pthread_mutex_init(&rl->lock[i], NULL);
	rl->rate = per_s;
	rl->burst = burst ? burst : per_s;
	*ret = rl;
	return 0;
}

void be_ratelimit_free(struct be_ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < RL_STRIPES; i++)
		pthread_mutex_destroy(&rl->lock[i]);
	free(rl);
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

bool be_ratelimit_allow(struct be_ratelimit *rl, const char *ip, uint64_t now_us)
{
	size_t base = (fnv1a(ip) % (RL_SLOTS / RL_PROBE)) * RL_PROBE;
	pthread_mutex_t *lock = &rl->lock[(base / RL_PROBE) % RL_STRIPES];
	struct rl_entry *e = NULL, *oldest = NULL;
	bool ok;

	pthread_mutex_lock(lock);
	for (size_t i = 0; i < RL_PROBE; i++) {
		struct rl_entry *c = &rl->slot[base + i];

		if (strcmp(c->ip, ip) == 0) {
			e = c;
			break;
		}
		if (!oldest || c->last_us < oldest->last_us)
			oldest = c;
	}
	if (!e) {
		e = oldest;
		snprintf(e->ip, sizeof(e->ip), "%s", ip);
		e->tokens = rl->burst;
		e->last_us = now_us;
	}
	if (now_us > e->last_us)
		e->tokens += (double)(now_us - e->last_us) * rl->rate / 1e6;
	if (e->tokens > rl->burst)
		e->tokens = rl->burst;
	e->last_us = now_us;
	ok = e->tokens >= 1.0;
	if (ok)
		e->tokens -= 1.0;
	pthread_mutex_unlock(lock);
	return ok;
}

/* SPDX-License-Identifier: MIT */
/*
 * A background thread that runs one kind of work (the rollout engine, the alarm rules)
 * over every tenant at a fixed interval. It keeps its own store connection per tenant, so
 * a slow tick never holds up a request; a write it makes is one transaction of the store,
 * so it is as safe against a kill as any request's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopline/log.h"
#include "backend.h"

#define TICKER_TENANTS 256

struct ticker_tenant {
	char name[BE_NAME_MAX];
	struct be_store *s;
	bool failing;       /* the last tick failed (logged once) */
};

struct be_ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	char data_dir[BE_PATH_MAX];
	char name[32];
	unsigned interval_ms;
	be_tick_fn fn;
	void *ctx;
	struct ticker_tenant tenants[TICKER_TENANTS];
	size_t n_tenants;
	char names[TICKER_TENANTS][BE_NAME_MAX]; /* this tick's tenant list */
};

static struct ticker_tenant *tenant_get(struct be_ticker *t, const char *name)
{
	struct ticker_tenant *tt;

	for (size_t i = 0; i < t->n_tenants; i++)
		if (strcmp(t->tenants[i].name, name) == 0)
			return &t->tenants[i];
	if (t->n_tenants == TICKER_TENANTS)
		return NULL;
	tt = &t->tenants[t->n_tenants];
	if (be_store_open(t->data_dir, name, false, &tt->s) < 0)
		return NULL;
	snprintf(tt->name, sizeof(tt->name), "%s", name);
	t->n_tenants++;
	return tt;
}

static void tick_all(struct be_ticker *t)
{
	size_t n = 0;

	if (be_tenant_list(t->data_dir, t->names, TICKER_TENANTS, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct ticker_tenant *tt = tenant_get(t, t->names[i]);
		int r;

		if (!tt)
			continue;
		r = t->fn(tt->s, be_now(), t->ctx);
		if (r < 0 && !tt->failing)
			log_warn("%s: tenant %s: %s (retrying every tick)", t->name, tt->name,
				 strerror(-r));
		else if (r >= 0 && tt->failing)
			log_info("%s: tenant %s: working again", t->name, tt->name);
		tt->failing = r < 0;
	}
}

static void *ticker_main(void *arg)
{
	struct be_ticker *t = arg;
	struct timespec until;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		pthread_mutex_unlock(&t->lock);
		tick_all(t);
		pthread_mutex_lock(&t->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += t->interval_ms / 1000;
		until.tv_nsec += (long)(t->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int be_ticker_start(const char *data_dir, const char *name, unsigned interval_ms, be_tick_fn fn,
		    void *ctx, struct be_ticker **ret)
{
	struct be_ticker *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int r;

	if (!t)
		return -ENOMEM;
	snprintf(t->data_dir, sizeof(t->data_dir), "%s", data_dir);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->interval_ms = interval_ms ? interval_ms : 1000;
	t->fn = fn;
	t->ctx = ctx;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = pthread_create(&t->thread, NULL, ticker_main, t)) != 0) {
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -r;
	}
	*ret = t;
	return 0;
}

void be_ticker_stop(struct be_ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	for (size_t i = 0; i < t->n_tenants; i++)
		be_store_close(t->tenants[i].s);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

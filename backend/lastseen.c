/* SPDX-License-Identifier: MIT */
/*
 * Batched last-seen times. A poll only notes (device, time, address) in its worker's map
 * for the tenant (open addressing, keyed by the device's row id). Every last_seen_flush_s
 * seconds, and at shutdown, a worker hands its maps to the writer thread (a pointer swap,
 * no copy), which owns its own store connections and writes each map in one transaction.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/log.h"
#include "backend.h"

#define WRITER_TENANTS 256

static size_t slot_of(int64_t device, size_t cap)
{
	return (size_t)((uint64_t)device * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static int seen_grow(struct be_seen_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct be_seen *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slot[i].device)
			continue;
		j = slot_of(m->slot[i].device, cap);
		while (slot[j].device)
			j = (j + 1) & (cap - 1);
		slot[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

int be_seen_note(struct be_seen_map *m, int64_t device, int64_t time, const char *ip)
{
	size_t j;
	int r;

	if (device <= 0)
		return -EINVAL;
	if ((m->n + 1) * 4 > m->cap * 3 && (r = seen_grow(m)) < 0)
		return r;
	j = slot_of(device, m->cap);
	while (m->slot[j].device && m->slot[j].device != device)
		j = (j + 1) & (m->cap - 1);
	if (!m->slot[j].device)
		m->n++;
	m->slot[j].device = device;
	m->slot[j].time = time;
	snprintf(m->slot[j].ip, sizeof(m->slot[j].ip), "%.45s", ip);
	return 0;
}

void be_seen_map_clear(struct be_seen_map *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

int be_seen_write(struct be_store *s, const struct be_seen_map *m)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	for (size_t j = 0; j < m->cap && r == 0; j++)
		if (m->slot[j].device)
			r = be_store_device_seen(s, m->slot[j].device, m->slot[j].time, m->slot[j].ip);
	if (r < 0) {
		be_store_rollback(s);
		return r;
	}
	r = be_store_commit(s);
	if (r < 0)
		be_store_rollback(s);
	return r;
}

/* ---- the writer thread ---- */

struct seen_batch {
	char tenant[BE_NAME_MAX];
	struct be_seen_map map;
	struct seen_batch *next;
};

struct be_seen_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct seen_batch *queue; /* newest first */
	bool stop;
	char data_dir[BE_PATH_MAX];
	struct be_store *stores[WRITER_TENANTS];
	size_t n_stores;
};

static struct be_store *writer_store(struct be_seen_writer *wr, const char *tenant)
{
	struct be_store *s = NULL;

	for (size_t i = 0; i < wr->n_stores; i++)
		if (strcmp(be_store_tenant(wr->stores[i]), tenant) == 0)
			return wr->stores[i];
	if (wr->n_stores >= WRITER_TENANTS ||
	    be_store_open(wr->data_dir, tenant, false, &s) < 0)
		return NULL;
	wr->stores[wr->n_stores++] = s;
	return s;
}

static void write_batch(struct be_seen_writer *wr, struct seen_batch *b)
{
	struct be_store *s = writer_store(wr, b->tenant);

	if (!s || be_seen_write(s, &b->map) < 0) {
		log_warn("%s: %zu last-seen times lost", b->tenant, b->map.n);
		return;
	}
	log_debug("flushed %zu last-seen times of %s", b->map.n, b->tenant);
}

/* The queue is newest first: write oldest first (the UPDATE keeps the newest time
 * whatever the order; this only keeps the address of the last poll). */
static struct seen_batch *reverse(struct seen_batch *b)
{
	struct seen_batch *rev = NULL;

	while (b) {
		struct seen_batch *next = b->next;

		b->next = rev;
		rev = b;
		b = next;
	}
	return rev;
}

static void *writer_main(void *arg)
{
	struct be_seen_writer *wr = arg;

	pthread_mutex_lock(&wr->lock);
	for (;;) {
		struct seen_batch *b = wr->queue;

		if (!b) {
			if (wr->stop)
				break;
			pthread_cond_wait(&wr->cond, &wr->lock);
			continue;
		}
		wr->queue = NULL;
		pthread_mutex_unlock(&wr->lock);
		for (b = reverse(b); b;) {
			struct seen_batch *next = b->next;

			write_batch(wr, b);
			be_seen_map_clear(&b->map);
			free(b);
			b = next;
		}
		pthread_mutex_lock(&wr->lock);
	}
	pthread_mutex_unlock(&wr->lock);
	return NULL;
}

int be_seen_writer_start(const char *data_dir, struct be_seen_writer **ret)
{
	struct be_seen_writer *wr = calloc(1, sizeof(*wr));

	if (!wr)
		return -ENOMEM;
	snprintf(wr->data_dir, sizeof(wr->data_dir), "%s", data_dir);
	pthread_mutex_init(&wr->lock, NULL);
	pthread_cond_init(&wr->cond, NULL);
	if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
		pthread_mutex_destroy(&wr->lock);
		pthread_cond_destroy(&wr->cond);
		free(wr);
		return -EAGAIN;
	}
	*ret = wr;
	return 0;
}

void be_seen_hand_over(struct be_seen_writer *wr, const char *tenant, struct be_seen_map *m)
{
	struct seen_batch *b;

	if (!m->n)
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return; /* the entries stay in the map for the next round */
	snprintf(b->tenant, sizeof(b->tenant), "%s", tenant);
	b->map = *m;
	memset(m, 0, sizeof(*m));
	pthread_mutex_lock(&wr->lock);
	b->next = wr->queue;
	wr->queue = b;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
}

void be_seen_writer_stop(struct be_seen_writer *wr)
{
	if (!wr)
		return;
	pthread_mutex_lock(&wr->lock);
	wr->stop = true;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
	pthread_join(wr->thread, NULL);
	for (size_t i = 0; i < wr->n_stores; i++)
		be_store_close(wr->stores[i]);
	pthread_mutex_destroy(&wr->lock);
	pthread_cond_destroy(&wr->cond);
	free(wr);
}

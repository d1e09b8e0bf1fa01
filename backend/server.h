/* SPDX-License-Identifier: MIT */
/* Private to server.c and dispatch.c: the server, its workers and their listeners. */
#pragma once

#include <openssl/ssl.h>
#include <pthread.h>

#include "backend.h"

#define MAX_TENANTS_PER_WORKER 256

struct wstore {
	struct be_store *s;
	struct be_seen_map pending;  /* last-seen times not yet handed to the writer */
};

struct wlisten {
	struct be_worker *w;
	bool tls;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
};

struct be_server {
	const struct be_config *cfg;
	struct be_seen_writer *writer;
	struct be_ticker *rollouts;  /* the rollout engine (rollout.c) */
	SSL_CTX *ssl;
	struct be_ratelimit *rl;     /* NULL: no rate limit */
	struct be_worker *workers;
	unsigned n_workers;
	unsigned tls_port, plain_port;
};

struct be_worker {
	struct be_server *srv;
	unsigned id;
	pthread_t thread;
	struct event_base *base;
	struct wlisten l_tls, l_plain;
	struct wstore stores[MAX_TENANTS_PER_WORKER];
	size_t n_stores;
	struct event *flush_ev, *stop_ev;
	uint64_t rng;
	long in_flight;
	bool stopping;
	uint64_t stop_deadline_ms;
};

/* dispatch.c: the evhttp callback of every listener (arg: its struct wlisten). */
void be_dispatch(struct evhttp_request *req, void *arg);

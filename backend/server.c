/* SPDX-License-Identifier: MIT */
/*
 * The server: N worker threads, each with its own event base, its own listening sockets
 * (SO_REUSEPORT on the same port, so the kernel spreads connections), its own evhttp
 * instances (HTTPS and, if enabled, plain HTTP on loopback) and its own SQLite
 * connections. The main thread only waits for SIGTERM/SIGINT and then asks every worker to
 * stop accepting, finish in-flight responses, flush batched last-seen times and exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "loopline/log.h"
#include "backend.h"
#include "tls.h"

#define MAX_TENANTS_PER_WORKER 256
#define RL_SLOTS 8192
#define RL_STRIPES 64
#define RL_PROBE 8

/* ---- per-IP rate limit (token bucket), shared by all workers ---- */

struct rl_entry {
	char ip[64];
	double tokens;
	int64_t last_us;
};

struct ratelimit {
	pthread_mutex_t lock[RL_STRIPES];
	struct rl_entry slot[RL_SLOTS];
	double rate, burst;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* true if the request may proceed */
static bool rl_allow(struct ratelimit *rl, const char *ip)
{
	uint32_t h = fnv1a(ip);
	size_t base = (h % (RL_SLOTS / RL_PROBE)) * RL_PROBE; /* a probe window never spans stripes */
	pthread_mutex_t *lock = &rl->lock[(base / RL_PROBE) % RL_STRIPES];
	struct rl_entry *e = NULL, *oldest = NULL;
	int64_t now = mono_us();
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
		e->last_us = now;
	}
	e->tokens += (double)(now - e->last_us) * rl->rate / 1e6;
	if (e->tokens > rl->burst)
		e->tokens = rl->burst;
	e->last_us = now;
	ok = e->tokens >= 1.0;
	if (ok)
		e->tokens -= 1.0;
	pthread_mutex_unlock(lock);
	return ok;
}

/* ---- batched last-seen times ---- */

struct seen {
	int64_t device; /* 0 = empty */
	int64_t time;
	char ip[46];
};

struct seen_map {
	struct seen *slot;
	size_t cap, n;
};

struct wstore {
	struct be_store *s;
	struct seen_map pending;
};

struct wlisten {
	struct be_worker *w;
	bool tls;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
};

struct writer;

struct be_server {
	const struct be_config *cfg;
	struct writer *writer;
	SSL_CTX *ssl;
	struct ratelimit *rl;
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
	int64_t stop_deadline_us;
};

uint32_t be_worker_random(struct be_worker *w)
{
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return (uint32_t)(x >> 32);
}

struct be_store *be_worker_store(struct be_worker *w, const char *tenant)
{
	struct be_store *s = NULL;

	for (size_t i = 0; i < w->n_stores; i++)
		if (strcmp(w->stores[i].s->tenant, tenant) == 0)
			return w->stores[i].s;
	if (w->n_stores >= MAX_TENANTS_PER_WORKER || !be_store_exists(w->srv->cfg->data_dir, tenant))
		return NULL;
	if (be_store_open(w->srv->cfg->data_dir, tenant, false, &s) < 0)
		return NULL;
	memset(&w->stores[w->n_stores], 0, sizeof(w->stores[0]));
	w->stores[w->n_stores++].s = s;
	return s;
}

static int seen_grow(struct seen_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct seen *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slot[i].device)
			continue;
		size_t j = (size_t)m->slot[i].device * 0x9E3779B97F4A7C15ull & (cap - 1);

		while (slot[j].device)
			j = (j + 1) & (cap - 1);
		slot[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

void be_worker_note_seen(struct be_worker *w, struct be_store *s, int64_t device, const char *ip)
{
	struct seen_map *m = NULL;
	size_t j;

	for (size_t i = 0; i < w->n_stores; i++)
		if (w->stores[i].s == s)
			m = &w->stores[i].pending;
	if (!m || device <= 0)
		return;
	if ((m->n + 1) * 4 > m->cap * 3 && seen_grow(m) < 0)
		return; /* last-seen is best effort */
	j = (size_t)device * 0x9E3779B97F4A7C15ull & (m->cap - 1);
	while (m->slot[j].device && m->slot[j].device != device)
		j = (j + 1) & (m->cap - 1);
	if (!m->slot[j].device)
		m->n++;
	m->slot[j].device = device;
	m->slot[j].time = be_now();
	snprintf(m->slot[j].ip, sizeof(m->slot[j].ip), "%.45s", ip);
}

/*
 * The writer thread owns its own SQLite connections and writes the batches that workers
 * hand over, so an event loop never waits for a database write of last-seen times.
 */
struct seen_batch {
	char tenant[BE_NAME_MAX];
	struct seen_map map;
	struct seen_batch *next;
};

struct writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct seen_batch *queue;
	bool stop;
	const struct be_config *cfg;
	struct be_store *stores[MAX_TENANTS_PER_WORKER];
	size_t n_stores;
};

static struct be_store *writer_store(struct writer *wr, const char *tenant)
{
	struct be_store *s = NULL;

	for (size_t i = 0; i < wr->n_stores; i++)
		if (strcmp(wr->stores[i]->tenant, tenant) == 0)
			return wr->stores[i];
	if (wr->n_stores >= MAX_TENANTS_PER_WORKER ||
	    be_store_open(wr->cfg->data_dir, tenant, false, &s) < 0)
		return NULL;
	wr->stores[wr->n_stores++] = s;
	return s;
}

static void write_batch(struct writer *wr, struct seen_batch *b)
{
	struct be_store *s = writer_store(wr, b->tenant);
	sqlite3_stmt *st;

	if (!s || be_store_begin(s) < 0) {
		log_warn("%s: %zu last-seen times lost", b->tenant, b->map.n);
		return;
	}
	st = s->st_lastseen;
	for (size_t j = 0; j < b->map.cap; j++) {
		struct seen *e = &b->map.slot[j];

		if (!e->device)
			continue;
		sqlite3_bind_int64(st, 1, e->time);
		sqlite3_bind_text(st, 2, e->ip, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, e->device);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (be_store_commit(s) < 0) {
		be_store_rollback(s);
		log_warn("%s: %zu last-seen times lost", b->tenant, b->map.n);
		return;
	}
	log_debug("flushed %zu last-seen times of %s", b->map.n, b->tenant);
}

static void *writer_main(void *arg)
{
	struct writer *wr = arg;

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
		{
			/* the queue is newest first: write oldest first (the UPDATE also keeps
			 * the newest time whatever the order) */
			struct seen_batch *rev = NULL;

			while (b) {
				struct seen_batch *next = b->next;

				b->next = rev;
				rev = b;
				b = next;
			}
			b = rev;
		}
		while (b) {
			struct seen_batch *next = b->next;

			write_batch(wr, b);
			free(b->map.slot);
			free(b);
			b = next;
		}
		pthread_mutex_lock(&wr->lock);
	}
	pthread_mutex_unlock(&wr->lock);
	for (size_t i = 0; i < wr->n_stores; i++)
		be_store_close(wr->stores[i]);
	wr->n_stores = 0;
	return NULL;
}

/* Hands every pending map of the worker to the writer (a pointer swap, no copy). */
static void flush_seen(struct be_worker *w)
{
	struct writer *wr = w->srv->writer;

	for (size_t i = 0; i < w->n_stores; i++) {
		struct wstore *ws = &w->stores[i];
		struct seen_batch *b;

		if (!ws->pending.n)
			continue;
		b = calloc(1, sizeof(*b));
		if (!b)
			continue; /* keep the entries for the next round */
		snprintf(b->tenant, sizeof(b->tenant), "%s", ws->s->tenant);
		b->map = ws->pending;
		memset(&ws->pending, 0, sizeof(ws->pending));
		pthread_mutex_lock(&wr->lock);
		b->next = wr->queue;
		wr->queue = b;
		pthread_cond_signal(&wr->cond);
		pthread_mutex_unlock(&wr->lock);
	}
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	flush_seen(arg);
}

/* ---- requests ---- */

static void request_done(struct evhttp_request *req, void *arg)
{
	struct be_worker *w = arg;

	w->in_flight--;
}

static int split_path(struct be_req *r)
{
	char *p = r->segbuf;

	if (r->path[0] != '/')
		return -EINVAL;
	snprintf(r->segbuf, sizeof(r->segbuf), "%s", r->path + 1);
	r->n_seg = 0;
	if (!*p)
		return 0;
	for (;;) {
		char *slash = strchr(p, '/');

		if (r->n_seg >= LP_ARRAY_SIZE(r->seg))
			return -E2BIG;
		r->seg[r->n_seg++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
		if (!*p)
			break; /* trailing slash */
	}
	for (size_t i = 0; i < r->n_seg; i++)
		if (!r->seg[i][0] || strchr(r->seg[i], '%'))
			return -EINVAL;
	return 0;
}

static const char *method_name(int m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_HEAD: return "HEAD";
	default: return "OTHER";
	}
}

static void handle_request(struct evhttp_request *req, void *arg)
{
	struct wlisten *l = arg;
	struct be_worker *w = l->w;
	const struct be_config *cfg = w->srv->cfg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *uri_str = evhttp_request_get_uri(req);
	struct be_req *r = calloc(1, sizeof(*r));
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	w->in_flight++;
	evhttp_request_set_on_complete_cb(req, request_done, w);
	if (!r) {
		evhttp_send_reply(req, 503, NULL, NULL);
		return;
	}
	r->req = req;
	r->w = w;
	r->cfg = cfg;
	r->tls = l->tls;
	r->start_us = mono_us();
	r->method = evhttp_request_get_command(req);
	r->method_name = method_name(r->method);
	if (conn)
		evhttp_connection_get_peer(conn, &addr, &port);
	snprintf(r->ip, sizeof(r->ip), "%s", addr ? addr : "?");
	snprintf(r->path, sizeof(r->path), "%s", path ? path : "?");
	if (w->stopping)
		be_add_header(r, "Connection", "close");

	if (!uri_str || strlen(uri_str) > cfg->max_url_bytes) {
		be_reply_empty(r, 414);
		goto out;
	}
	if (!path || split_path(r) < 0) {
		be_reply_empty(r, 404);
		goto out;
	}
	r->query = evhttp_uri_get_query(uri);
	if (w->srv->rl && !rl_allow(w->srv->rl, r->ip)) {
		be_add_header(r, "Retry-After", "1");
		if (r->n_seg > 0 && strcmp(r->seg[0], "api") == 0)
			be_reply_error(r, 429, "rate_limited", "too many requests from %s", r->ip);
		else
			be_reply_empty(r, 429);
		goto out;
	}
	if (r->n_seg >= 2 && strcmp(r->seg[0], "api") == 0 && strcmp(r->seg[1], "v1") == 0)
		be_mgmt_handle(r);
	else if (r->n_seg >= 4 && strcmp(r->seg[1], "controller") == 0 && strcmp(r->seg[2], "v1") == 0)
		be_ddi_handle(r);
	else
		be_reply_empty(r, 404);
	if (!r->status) {
		log_error("no reply for %s %s", r->method_name, r->path);
		be_reply_empty(r, 500);
	}
out:
	be_log_request(r);
	free(r);
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	struct wlisten *l = arg;
	SSL *ssl = SSL_new(l->w->srv->ssl);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

static int make_listener(const struct be_listen *l, unsigned port, unsigned *ret_port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int fd, one = 1;

	if (inet_pton(AF_INET, l->address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, l->address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
		int e = -errno;

		log_error("cannot listen on %s port %u: %s", l->address, port, strerror(-e));
		close(fd);
		return e;
	}
	if (ret_port) {
		sl = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &sl);
		*ret_port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	}
	return fd;
}

static int setup_http(struct be_worker *w, struct wlisten *l, bool tls, int fd)
{
	const struct be_config *cfg = w->srv->cfg;

	l->w = w;
	l->tls = tls;
	l->http = evhttp_new(w->base);
	if (!l->http) {
		close(fd);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(l->http, (ev_ssize_t)cfg->max_header_bytes);
	evhttp_set_max_body_size(l->http, (ev_ssize_t)cfg->max_body_bytes);
	evhttp_set_timeout(l->http, (int)cfg->timeout_s);
	evhttp_set_default_content_type(l->http, NULL); /* empty replies carry none */
	evhttp_set_gencb(l->http, handle_request, l);
	if (tls)
		evhttp_set_bevcb(l->http, tls_bevcb, l);
	l->bound = evhttp_accept_socket_with_handle(l->http, fd);
	if (!l->bound) {
		close(fd);
		return -EIO;
	}
	return 0;
}

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct be_worker *w = arg;
	struct timeval tv = { 0, 20000 };

	if (w->in_flight <= 0 || mono_us() > w->stop_deadline_us) {
		if (w->in_flight > 0)
			log_warn("worker %u: %ld responses still in flight at shutdown", w->id,
				 w->in_flight);
		event_base_loopexit(w->base, NULL);
		return;
	}
	evtimer_add(w->stop_ev, &tv);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct be_worker *w = arg;

	w->stopping = true;
	w->stop_deadline_us = mono_us() + (int64_t)w->srv->cfg->shutdown_grace_s * 1000000;
	if (w->l_tls.bound)
		evhttp_del_accept_socket(w->l_tls.http, w->l_tls.bound);
	if (w->l_plain.bound)
		evhttp_del_accept_socket(w->l_plain.http, w->l_plain.bound);
	w->l_tls.bound = w->l_plain.bound = NULL;
	stop_check(-1, 0, w);
}

static void *worker_main(void *arg)
{
	struct be_worker *w = arg;
	struct timeval tv = { (time_t)w->srv->cfg->last_seen_flush_s, 0 };

	w->flush_ev = event_new(w->base, -1, EV_PERSIST, flush_cb, w);
	if (w->flush_ev)
		event_add(w->flush_ev, &tv);
	event_base_dispatch(w->base);
	/* Connections are closed by evhttp_free; then the batched writes are flushed. */
	if (w->l_tls.http)
		evhttp_free(w->l_tls.http);
	if (w->l_plain.http)
		evhttp_free(w->l_plain.http);
	w->l_tls.http = w->l_plain.http = NULL;
	flush_seen(w);
	return NULL;
}

static void worker_cleanup(struct be_worker *w)
{
	if (w->l_tls.http)
		evhttp_free(w->l_tls.http);
	if (w->l_plain.http)
		evhttp_free(w->l_plain.http);
	if (w->flush_ev)
		event_free(w->flush_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	for (size_t i = 0; i < w->n_stores; i++) {
		free(w->stores[i].pending.slot);
		be_store_close(w->stores[i].s);
	}
	if (w->base)
		event_base_free(w->base);
}

static int open_all_tenants(const struct be_config *cfg)
{
	static char names[1024][BE_NAME_MAX];
	size_t n = 0;
	int r = be_tenant_list(cfg->data_dir, names, LP_ARRAY_SIZE(names), &n);

	if (r < 0) {
		log_error("%s: %s", cfg->data_dir, strerror(-r));
		return r;
	}
	/* Run migrations once, before the workers open their own connections. */
	for (size_t i = 0; i < n; i++) {
		struct be_store *s = NULL;

		r = be_store_open(cfg->data_dir, names[i], false, &s);
		if (r < 0) {
			log_error("tenant %s: cannot open its store: %s", names[i], strerror(-r));
			return r;
		}
		be_store_close(s);
	}
	log_info("%zu tenant(s) in %s", n, cfg->data_dir);
	return 0;
}

int be_server_run(const struct be_config *cfg)
{
	struct be_server srv = { .cfg = cfg };
	sigset_t set;
	unsigned started = 0;
	bool writer_started = false;
	int r = 0, sig = 0;

	if (evthread_use_pthreads() < 0)
		return -ENOSYS;
	/* No global allocation statistics: they take a process-wide mutex on every malloc. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if ((r = open_all_tenants(cfg)) < 0)
		return r;
	if (cfg->listen.enabled && (r = be_tls_ctx_new(cfg, &srv.ssl)) < 0)
		return r;
	if (cfg->rate_limit_per_s) {
		srv.rl = calloc(1, sizeof(*srv.rl));
		if (!srv.rl) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < RL_STRIPES; i++)
			pthread_mutex_init(&srv.rl->lock[i], NULL);
		srv.rl->rate = cfg->rate_limit_per_s;
		srv.rl->burst = cfg->rate_limit_burst ? cfg->rate_limit_burst : cfg->rate_limit_per_s;
	}
	srv.writer = calloc(1, sizeof(*srv.writer));
	if (!srv.writer) {
		r = -ENOMEM;
		goto out;
	}
	srv.writer->cfg = cfg;
	pthread_mutex_init(&srv.writer->lock, NULL);
	pthread_cond_init(&srv.writer->cond, NULL);
	srv.n_workers = cfg->workers;
	srv.workers = calloc(srv.n_workers, sizeof(*srv.workers));
	if (!srv.workers) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < srv.n_workers; i++) {
		struct be_worker *w = &srv.workers[i];
		int fd;

		w->srv = &srv;
		w->id = i;
		if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || !w->rng)
			w->rng = 0x853c49e6748fea9bull + i;
		w->base = event_base_new();
		w->stop_ev = w->base ? evtimer_new(w->base, stop_check, w) : NULL;
		if (!w->stop_ev) {
			r = -ENOMEM;
			goto out;
		}
		if (cfg->listen.enabled) {
			fd = make_listener(&cfg->listen, i ? srv.tls_port : cfg->listen.port,
					   i ? NULL : &srv.tls_port);
			if (fd < 0 || (r = setup_http(w, &w->l_tls, true, fd)) < 0) {
				r = fd < 0 ? fd : r;
				goto out;
			}
		}
		if (cfg->plain_http.enabled) {
			fd = make_listener(&cfg->plain_http, i ? srv.plain_port : cfg->plain_http.port,
					   i ? NULL : &srv.plain_port);
			if (fd < 0 || (r = setup_http(w, &w->l_plain, false, fd)) < 0) {
				r = fd < 0 ? fd : r;
				goto out;
			}
		}
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&srv.writer->thread, NULL, writer_main, srv.writer) != 0) {
		r = -EAGAIN;
		goto out;
	}
	writer_started = true;
	for (; started < srv.n_workers; started++) {
		if (pthread_create(&srv.workers[started].thread, NULL, worker_main,
				   &srv.workers[started]) != 0) {
			r = -EAGAIN;
			break;
		}
	}
	if (r == 0) {
		if (cfg->listen.enabled)
			log_info("listening on https://%s:%u (%u workers)", cfg->listen.address,
				 srv.tls_port, srv.n_workers);
		if (cfg->plain_http.enabled)
			log_info("listening on http://%s:%u (%u workers)", cfg->plain_http.address,
				 srv.plain_port, srv.n_workers);
		sigwait(&set, &sig);
		log_info("signal %d: stopping (grace %us)", sig, cfg->shutdown_grace_s);
	}
	for (unsigned i = 0; i < started; i++)
		event_base_once(srv.workers[i].base, -1, EV_TIMEOUT, stop_cb, &srv.workers[i], NULL);
	for (unsigned i = 0; i < started; i++)
		pthread_join(srv.workers[i].thread, NULL);
out:
	if (writer_started) {
		/* The workers handed over their last batches; the writer drains them and ends. */
		pthread_mutex_lock(&srv.writer->lock);
		srv.writer->stop = true;
		pthread_cond_signal(&srv.writer->cond);
		pthread_mutex_unlock(&srv.writer->lock);
		pthread_join(srv.writer->thread, NULL);
	}
	if (r == 0)
		log_info("stopped");
	for (unsigned i = 0; srv.workers && i < srv.n_workers; i++)
		worker_cleanup(&srv.workers[i]);
	free(srv.workers);
	if (srv.rl) {
		for (size_t i = 0; i < RL_STRIPES; i++)
			pthread_mutex_destroy(&srv.rl->lock[i]);
		free(srv.rl);
	}
	if (srv.writer) {
		pthread_mutex_destroy(&srv.writer->lock);
		pthread_cond_destroy(&srv.writer->cond);
		free(srv.writer);
	}
	SSL_CTX_free(srv.ssl);
	return r;
}

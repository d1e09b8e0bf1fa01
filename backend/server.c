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

#include "loopline/clock.h"
#include "loopline/log.h"
#include "server.h"
#include "tls.h"

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
		if (strcmp(be_store_tenant(w->stores[i].s), tenant) == 0)
			return w->stores[i].s;
	if (w->n_stores >= MAX_TENANTS_PER_WORKER || !be_store_exists(w->srv->cfg->data_dir, tenant))
		return NULL;
	if (be_store_open(w->srv->cfg->data_dir, tenant, false, &s) < 0)
		return NULL;
	memset(&w->stores[w->n_stores], 0, sizeof(w->stores[0]));
	w->stores[w->n_stores++].s = s;
	return s;
}

void be_worker_note_seen(struct be_worker *w, struct be_store *s, int64_t device, const char *ip)
{
	for (size_t i = 0; i < w->n_stores; i++)
		if (w->stores[i].s == s) {
			/* best effort: a time that cannot be noted is written by the next poll */
			be_seen_note(&w->stores[i].pending, device, be_now(), ip);
			return;
		}
}

/* Hands every pending map of the worker to the writer. */
static void flush_seen(struct be_worker *w)
{
	for (size_t i = 0; i < w->n_stores; i++)
		be_seen_hand_over(w->srv->writer, be_store_tenant(w->stores[i].s),
				  &w->stores[i].pending);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	flush_seen(arg);
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
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(l->http, (ev_ssize_t)cfg->max_header_bytes);
	evhttp_set_max_body_size(l->http, (ev_ssize_t)cfg->max_body_bytes);
	evhttp_set_timeout(l->http, (int)cfg->timeout_s);
	evhttp_set_default_content_type(l->http, NULL); /* empty replies carry none */
	evhttp_set_gencb(l->http, be_dispatch, l);
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

	if (w->in_flight <= 0 || lp_clock_ms_left(w->stop_deadline_ms) == 0) {
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
	w->stop_deadline_ms = lp_clock_deadline_ms((uint64_t)w->srv->cfg->shutdown_grace_s * 1000);
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
		be_seen_map_clear(&w->stores[i].pending);
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

/* Listener i > 0 binds the port listener 0 got (SO_REUSEPORT), so port 0 works too. */
static int worker_listen(struct be_worker *w, struct wlisten *l, const struct be_listen *conf,
			 bool tls, unsigned *port)
{
	int fd = make_listener(conf, w->id ? *port : conf->port, w->id ? NULL : port);

	if (fd < 0)
		return fd;
	return setup_http(w, l, tls, fd);
}

static int worker_init(struct be_server *srv, unsigned i)
{
	struct be_worker *w = &srv->workers[i];
	const struct be_config *cfg = srv->cfg;
	int r;

	w->srv = srv;
	w->id = i;
	if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || !w->rng)
		w->rng = 0x853c49e6748fea9bull + i;
	w->base = event_base_new();
	w->stop_ev = w->base ? evtimer_new(w->base, stop_check, w) : NULL;
	if (!w->stop_ev)
		return -ENOMEM;
	if (cfg->listen.enabled &&
	    (r = worker_listen(w, &w->l_tls, &cfg->listen, true, &srv->tls_port)) < 0)
		return r;
	if (cfg->plain_http.enabled &&
	    (r = worker_listen(w, &w->l_plain, &cfg->plain_http, false, &srv->plain_port)) < 0)
		return r;
	return 0;
}

static int server_init(struct be_server *srv)
{
	const struct be_config *cfg = srv->cfg;
	int r;

	if ((r = open_all_tenants(cfg)) < 0)
		return r;
	if (cfg->listen.enabled && (r = be_tls_ctx_new(cfg, &srv->ssl)) < 0)
		return r;
	if (cfg->rate_limit_per_s &&
	    (r = be_ratelimit_new(cfg->rate_limit_per_s, cfg->rate_limit_burst, &srv->rl)) < 0)
		return r;
	srv->n_workers = cfg->workers;
	srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
	if (!srv->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < srv->n_workers; i++)
		if ((r = worker_init(srv, i)) < 0)
			return r;
	return 0;
}

static void server_free(struct be_server *srv)
{
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
		worker_cleanup(&srv->workers[i]);
	free(srv->workers);
	be_ratelimit_free(srv->rl);
	SSL_CTX_free(srv->ssl);
}

/* Starts the workers, waits for SIGTERM/SIGINT (blocked in every thread), stops them. */
static int serve(struct be_server *srv, sigset_t *set)
{
	const struct be_config *cfg = srv->cfg;
	unsigned started = 0;
	int r = 0, sig = 0;

	for (; started < srv->n_workers; started++) {
		if (pthread_create(&srv->workers[started].thread, NULL, worker_main,
				   &srv->workers[started]) != 0) {
			r = -EAGAIN;
			break;
		}
	}
	if (r == 0) {
		if (cfg->listen.enabled)
			log_info("listening on https://%s:%u (%u workers)", cfg->listen.address,
				 srv->tls_port, srv->n_workers);
		if (cfg->plain_http.enabled)
			log_info("listening on http://%s:%u (%u workers)", cfg->plain_http.address,
				 srv->plain_port, srv->n_workers);
		sigwait(set, &sig);
		log_info("signal %d: stopping (grace %us)", sig, cfg->shutdown_grace_s);
	}
	for (unsigned i = 0; i < started; i++)
		event_base_once(srv->workers[i].base, -1, EV_TIMEOUT, stop_cb, &srv->workers[i], NULL);
	for (unsigned i = 0; i < started; i++)
		pthread_join(srv->workers[i].thread, NULL);
	return r;
}

static int rollout_tick(struct be_store *s, int64_t now, void *ctx)
{
	(void)ctx;
	return be_rollout_tick(s, now);
}

int be_server_run(const struct be_config *cfg)
{
	struct be_server srv = { .cfg = cfg };
	struct be_alarms *alarms = NULL;
	sigset_t set;
	int r;

	if (evthread_use_pthreads() < 0)
		return -ENOSYS;
	be_store_tune_global();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = server_init(&srv);
	if (r == 0)
		r = be_seen_writer_start(cfg->data_dir, &srv.writer);
	if (r == 0)
		r = be_ticker_start(cfg->data_dir, "rollouts", cfg->rollout_tick_ms, rollout_tick,
				    NULL, &srv.rollouts);
	if (r == 0)
		r = be_alarms_start(cfg, &alarms);
	if (r == 0)
		r = serve(&srv, &set);
	be_ticker_stop(srv.rollouts);
	/* The workers handed over their last batches; the writer drains them and ends. An
	 * alarm delivery in flight finishes (bounded by alarms.send_timeout_s). */
	be_alarms_stop(alarms);
	be_seen_writer_stop(srv.writer);
	if (r == 0)
		log_info("stopped");
	server_free(&srv);
	return r;
}

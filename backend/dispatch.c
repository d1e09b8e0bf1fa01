/* SPDX-License-Identifier: MIT */
/*
 * Request dispatch: every request of every listener comes here. It checks the URL, splits
 * the path, applies the rate limit and hands the request to the DDI or management API;
 * whatever happens, exactly one answer is sent and one log line written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/clock.h"
#include "loopline/log.h"
#include "server.h"

static void request_done(struct evhttp_request *req, void *arg)
{
	struct be_worker *w = arg;

	w->in_flight--;
}

int be_split_path(struct be_req *r)
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
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

static void init_req(struct be_req *r, struct evhttp_request *req, struct wlisten *l)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	r->req = req;
	r->w = l->w;
	r->cfg = l->w->srv->cfg;
	r->tls = l->tls;
	r->start_us = lp_clock_mono_us();
	r->method = evhttp_request_get_command(req);
	r->method_name = method_name(r->method);
	if (conn)
		evhttp_connection_get_peer(conn, &addr, &port);
	snprintf(r->ip, sizeof(r->ip), "%s", addr ? addr : "?");
	snprintf(r->path, sizeof(r->path), "%s", path ? path : "?");
	r->query = uri ? evhttp_uri_get_query(uri) : NULL;
}

static void route(struct be_req *r)
{
	const char *uri = evhttp_request_get_uri(r->req);
	struct be_server *srv = r->w->srv;

	if (!uri || strlen(uri) > r->cfg->max_url_bytes) {
		be_reply_empty(r, 414);
		return;
	}
	if (!evhttp_request_get_evhttp_uri(r->req) || be_split_path(r) < 0) {
		be_reply_empty(r, 404);
		return;
	}
	if (srv->rl && !be_ratelimit_allow(srv->rl, r->ip, r->start_us)) {
		be_add_header(r, "Retry-After", "1");
		if (r->n_seg > 0 && strcmp(r->seg[0], "api") == 0)
			be_reply_error(r, 429, "rate_limited", "too many requests from %s", r->ip);
		else
			be_reply_empty(r, 429);
		return;
	}
	if (r->n_seg >= 2 && strcmp(r->seg[0], "api") == 0 && strcmp(r->seg[1], "v1") == 0)
		be_mgmt_handle(r);
	else if (r->n_seg >= 4 && strcmp(r->seg[1], "controller") == 0 && strcmp(r->seg[2], "v1") == 0)
		be_ddi_handle(r);
	else
		be_reply_empty(r, 404);
}

void be_dispatch(struct evhttp_request *req, void *arg)
{
	struct wlisten *l = arg;
	struct be_worker *w = l->w;
	struct be_req *r = calloc(1, sizeof(*r));

	w->in_flight++;
	evhttp_request_set_on_complete_cb(req, request_done, w);
	if (!r) {
		evhttp_send_reply(req, 503, NULL, NULL);
		return;
	}
	init_req(r, req, l);
	if (w->stopping)
		be_add_header(r, "Connection", "close");
	route(r);
	if (!r->status) {
		log_error("no reply for %s %s", r->method_name, r->path);
		be_reply_empty(r, 500);
	}
	be_log_request(r);
	free(r);
}

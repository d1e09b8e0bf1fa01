/* SPDX-License-Identifier: MIT */
/* Reply and request helpers shared by the DDI and management handlers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "loopline/clock.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "backend.h"

void be_log_request(struct be_req *r)
{
	uint64_t us = lp_clock_mono_us() - r->start_us;

	if (!r->cfg->log_requests)
		return;
	log_info("%s %s %s %d %llu %lld.%03lldms", r->ip, r->method_name, r->path, r->status,
		 (unsigned long long)r->bytes, (long long)(us / 1000), (long long)(us % 1000));
}

const char *be_header(struct be_req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

void be_add_header(struct be_req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

/* Statuses whose answers never have a body (RFC 9110 6.4.1). */
static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

void be_reply(struct be_req *r, int status, struct evbuffer *body)
{
	size_t len = body ? evbuffer_get_length(body) : 0;

	r->status = status;
	r->bytes = len;
	if (r->method == EVHTTP_REQ_HEAD) {
		/* libevent 2.1 would send the body after the headers of a HEAD answer, and
		 * without a Content-Length: a client that reuses the connection would read the
		 * body as the next answer. Headers only, with the length a GET would get. */
		if (status_has_body(status)) {
			char n[24];

			snprintf(n, sizeof(n), "%zu", len);
			be_add_header(r, "Content-Length", n);
		}
		r->bytes = 0;
		body = NULL;
	}
	evhttp_send_reply(r->req, status, NULL, body);
}

void be_reply_empty(struct be_req *r, int status)
{
	be_reply(r, status, NULL);
}

void be_reply_buffer(struct be_req *r, int status, const char *ctype, const void *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		be_reply_empty(r, 500);
		return;
	}
	if (ctype)
		be_add_header(r, "Content-Type", ctype);
	if (len && evbuffer_add(b, data, len) < 0) {
		evbuffer_free(b);
		be_reply_empty(r, 500);
		return;
	}
	be_reply(r, status, b);
	evbuffer_free(b);
}

void be_reply_json(struct be_req *r, int status, cJSON *body)
{
	char *text = body ? lp_json_print(body) : NULL;
	const char *accept = be_header(r, "Accept");
	bool mgmt = r->n_seg > 0 && strcmp(r->seg[0], "api") == 0;
	const char *ctype = "application/json";

	cJSON_Delete(body);
	if (!text) {
		be_reply_empty(r, 500);
		return;
	}
	/* DDI answers in HAL unless the client asked for plain JSON only. */
	if (!mgmt && !(accept && strstr(accept, "application/json") && !strstr(accept, "hal+json")))
		ctype = "application/hal+json";
	be_reply_buffer(r, status, ctype, text, strlen(text));
	free(text);
}

void be_reply_error(struct be_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64];
	cJSON *root, *err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	if (!err || !cJSON_AddStringToObject(err, "code", code) ||
	    !cJSON_AddStringToObject(err, "message", msg)) {
		cJSON_Delete(root);
		be_reply_empty(r, status);
		return;
	}
	be_reply_json(r, status, root);
}

/*
 * libevent answers some requests itself, before any callback of ours runs: a body larger
 * than limits.max_body_bytes (413), a malformed request (400), a method the server does
 * not serve (501), an Expect it does not know (417). It does so by calling
 * evhttp_send_error(), which sends an HTML page. libevent 2.1 (Debian 12) has no hook for
 * these pages (2.2 adds evhttp_set_errorcb), so the backend defines evhttp_send_error
 * itself: the dynamic linker binds libevent's own calls to this definition. The answer is
 * the management API's JSON error ({"error":{"code","message"}}); the URI is gone by then,
 * so DDI clients get the same shape. As libevent does, the connection is closed after it.
 * tests/backend/test-robustness.sh checks the 413 body.
 */
void evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();
	const char *code, *msg;
	char body[256];
	int n;

	switch (error) {
	case 413:
		code = "too_large";
		msg = "the request body is larger than the server accepts (limits.max_body_bytes)";
		break;
	case 417:
		code = "bad_request";
		msg = "unsupported Expect header";
		break;
	case 501:
	case 405:
		code = "method_not_allowed";
		msg = "the server does not serve this method";
		break;
	case 503:
		code = "unavailable";
		msg = "the server is shutting down or overloaded";
		break;
	default:
		code = "bad_request";
		msg = "malformed HTTP request";
		break;
	}
	if (!b) {
		evhttp_connection_free(evhttp_request_get_connection(req));
		return;
	}
	log_debug("libevent refused a request: %d", error);
	/* a request that failed before its first line was read has no version yet */
	if (req->major != 1) {
		req->major = 1;
		req->minor = 1;
	}
	n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
		     code, msg);
	evhttp_clear_headers(out);
	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Connection", "close");
	if (evbuffer_add(b, body, (size_t)n) < 0) {
		evbuffer_free(b);
		evhttp_connection_free(evhttp_request_get_connection(req));
		return;
	}
	evhttp_send_reply(req, error, reason, b);
	evbuffer_free(b);
}

int be_body(struct be_req *r, size_t max, char **ret, size_t *ret_len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	char *copy;

	if (len > max)
		return -E2BIG;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	if (len && evbuffer_copyout(in, copy, len) != (ev_ssize_t)len) {
		free(copy);
		return -EIO;
	}
	copy[len] = '\0';
	*ret = copy;
	*ret_len = len;
	return 0;
}

int be_query(struct be_req *r, const char *key, char *buf, size_t len)
{
	struct evkeyvalq q = { 0 };
	const char *v;
	int found = 0;

	if (!r->query)
		return 0;
	if (evhttp_parse_query_str(r->query, &q) < 0)
		return -EINVAL;
	v = evhttp_find_header(&q, key);
	if (v) {
		if (strlen(v) >= len) {
			evhttp_clear_headers(&q);
			return -E2BIG;
		}
		snprintf(buf, len, "%s", v);
		found = 1;
	}
	evhttp_clear_headers(&q);
	return found;
}

int be_query_int(struct be_req *r, const char *key, int64_t def, int64_t min, int64_t max,
		 int64_t *ret)
{
	char buf[32], *end;
	long long v;
	int f = be_query(r, key, buf, sizeof(buf));

	if (f < 0)
		return f;
	if (f == 0) {
		*ret = def;
		return 0;
	}
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static bool host_valid(const char *h)
{
	size_t n = 0;

	if (!h || !*h)
		return false;
	for (; h[n]; n++) {
		char c = h[n];

		if (n > 255)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

void be_base_url(struct be_req *r, bool https, char *buf, size_t len)
{
	const char *conf = https ? r->cfg->https_base_url : r->cfg->http_base_url;
	const char *host = be_header(r, "Host");

	buf[0] = '\0';
	if (conf[0])
		snprintf(buf, len, "%s", conf);
	else if (r->tls == https && host_valid(host))
		snprintf(buf, len, "%s://%s", https ? "https" : "http", host);
}

/* SPDX-License-Identifier: MIT */
/* Reply and request helpers shared by the DDI and management handlers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "loopline/json.h"
#include "loopline/log.h"
#include "backend.h"

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void be_log_request(struct be_req *r)
{
	int64_t us = mono_us() - r->start_us;

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

static void send_buffer(struct be_req *r, int status, struct evbuffer *buf)
{
	r->status = status;
	r->bytes = buf ? evbuffer_get_length(buf) : 0;
	evhttp_send_reply(r->req, status, NULL, buf);
}

void be_reply_empty(struct be_req *r, int status)
{
	send_buffer(r, status, NULL);
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
	send_buffer(r, status, b);
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

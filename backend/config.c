/* SPDX-License-Identifier: MIT */
/* Strict JSON configuration of loopline-backend (docs/backend.md lists every key). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loopline/json.h"
#include "loopline/log.h"
#include "backend.h"

#define CONFIG_MAX_BYTES (256 * 1024)

void be_config_defaults(struct be_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/loopline-backend");
	c->workers = 2;
	c->client_cert = BE_CLIENT_CERT_OFF;
	c->poll_sleep_s = 300;
	c->poll_min_sleep_s = 30;
	c->poll_jitter_percent = 0;
	c->max_header_bytes = 16 * 1024;
	c->max_body_bytes = BE_UPLOAD_CHUNK_MAX + 64 * 1024;
	c->max_url_bytes = 2048;
	c->max_json_bytes = 64 * 1024;
	c->max_json_depth = 16;
	c->timeout_s = 30;
	c->max_upload_bytes = 2ull * 1024 * 1024 * 1024;
	c->max_attributes = 100;
	c->rate_limit_per_s = 0;
	c->rate_limit_burst = 0;
	c->last_seen_flush_s = 5;
	c->rollout_tick_ms = 1000;
	c->shutdown_grace_s = 10;
	c->log_requests = false;
	c->alarms.eval_interval_s = 5;
	c->alarms.retry_min_s = 2;
	c->alarms.retry_max_s = 300;
	c->alarms.max_attempts = 30;
	c->alarms.max_age_s = 86400;
	c->alarms.send_timeout_s = 10;
	snprintf(c->log_level, sizeof(c->log_level), "info");
}

static int get_str(const cJSON *o, const char *key, const char *path, char *out, size_t len,
		   struct lp_diag *d)
{
	const char *v = NULL;
	char p[LP_JSON_PATH_MAX];
	int r = lp_json_get_string(o, key, false, path, &v, d);

	if (r < 0 || !v)
		return r;
	if (strlen(v) >= len)
		return lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, key),
				       "longer than %zu characters", len - 1);
	snprintf(out, len, "%s", v);
	return 0;
}

static int get_uint(const cJSON *o, const char *key, const char *path, int64_t min, int64_t max,
		    unsigned *out, struct lp_diag *d)
{
	int64_t v = *out;
	int r = lp_json_get_int(o, key, false, min, max, path, &v, d);

	if (r == 0)
		*out = (unsigned)v;
	return r;
}

static int get_size(const cJSON *o, const char *key, const char *path, int64_t min, int64_t max,
		    size_t *out, struct lp_diag *d)
{
	int64_t v = (int64_t)*out;
	int r = lp_json_get_int(o, key, false, min, max, path, &v, d);

	if (r == 0)
		*out = (size_t)v;
	return r;
}

static bool is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static int parse_listen(const cJSON *root, const char *key, struct be_listen *l, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "address", LP_JSON_STRING, true },
		{ "port", LP_JSON_INT, true },
	};
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);
	char p[LP_JSON_PATH_MAX];
	struct in_addr a4;
	struct in6_addr a6;
	int r;

	if (!o)
		return 0;
	lp_json_path_key(p, sizeof(p), "", key);
	r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), p, d);
	if (r < 0)
		return r;
	r = get_str(o, "address", p, l->address, sizeof(l->address), d);
	if (r < 0)
		return r;
	if (inet_pton(AF_INET, l->address, &a4) != 1 && inet_pton(AF_INET6, l->address, &a6) != 1)
		return lp_diag_fail_at(d, -EINVAL, p, "address \"%s\" is not an IPv4 or IPv6 address",
				       l->address);
	r = get_uint(o, "port", p, 0, 65535, &l->port, d);
	if (r < 0)
		return r;
	l->enabled = true;
	return 0;
}

static int check_url(const char *url, const char *scheme, const char *what, struct lp_diag *d)
{
	size_t n = strlen(scheme);

	if (!url[0])
		return 0;
	if (strncmp(url, scheme, n) != 0 || strncmp(url + n, "://", 3) != 0 || !url[n + 3])
		return lp_diag_fail_at(d, -EINVAL, what, "must start with %s://", scheme);
	if (url[strlen(url) - 1] == '/')
		return lp_diag_fail_at(d, -EINVAL, what, "must not end with '/'");
	return 0;
}

static int parse_tls(const cJSON *root, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "cert", LP_JSON_STRING, true },
		{ "key", LP_JSON_STRING, true },
		{ "client_ca", LP_JSON_STRING, false },
		{ "client_cert", LP_JSON_STRING, false },
	};
	static const char *const cc_modes[] = { "off", "optional", "required", NULL };
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "tls");
	int r, mode;

	if (!o)
		return c->listen.enabled ?
			lp_diag_fail_at(d, -EINVAL, "tls", "\"listen\" (HTTPS) needs a \"tls\" section") : 0;
	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "tls", d)) < 0)
		return r;
	if ((r = get_str(o, "cert", "tls", c->tls_cert, sizeof(c->tls_cert), d)) < 0 ||
	    (r = get_str(o, "key", "tls", c->tls_key, sizeof(c->tls_key), d)) < 0 ||
	    (r = get_str(o, "client_ca", "tls", c->tls_client_ca, sizeof(c->tls_client_ca), d)) < 0)
		return r;
	mode = c->tls_client_ca[0] ? BE_CLIENT_CERT_OPTIONAL : BE_CLIENT_CERT_OFF;
	if ((r = lp_json_get_enum(o, "client_cert", false, cc_modes, "tls", &mode, d)) < 0)
		return r;
	c->client_cert = (enum be_client_cert)mode;
	if (c->client_cert != BE_CLIENT_CERT_OFF && !c->tls_client_ca[0])
		return lp_diag_fail_at(d, -EINVAL, "tls.client_cert",
				       "client certificates need tls.client_ca");
	return 0;
}

static int parse_links(const cJSON *o, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "https", LP_JSON_STRING, false },
		{ "http", LP_JSON_STRING, false },
		{ "artifacts", LP_JSON_STRING, false },
	};
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "links", d)) < 0)
		return r;
	if ((r = get_str(o, "https", "links", c->https_base_url, sizeof(c->https_base_url), d)) < 0 ||
	    (r = get_str(o, "http", "links", c->http_base_url, sizeof(c->http_base_url), d)) < 0 ||
	    (r = get_str(o, "artifacts", "links", c->artifact_base_url,
			 sizeof(c->artifact_base_url), d)) < 0)
		return r;
	if ((r = check_url(c->https_base_url, "https", "links.https", d)) < 0 ||
	    (r = check_url(c->http_base_url, "http", "links.http", d)) < 0)
		return r;
	if (c->artifact_base_url[0] && check_url(c->artifact_base_url, "https", "x", NULL) < 0 &&
	    check_url(c->artifact_base_url, "http", "x", NULL) < 0)
		return lp_diag_fail_at(d, -EINVAL, "links.artifacts",
				       "must be an http:// or https:// URL without a trailing '/'");
	return 0;
}

static int parse_poll(const cJSON *o, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "sleep_s", LP_JSON_INT, false },
		{ "min_sleep_s", LP_JSON_INT, false },
		{ "jitter_percent", LP_JSON_INT, false },
	};
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "poll", d)) < 0)
		return r;
	if ((r = get_uint(o, "sleep_s", "poll", 1, 86399, &c->poll_sleep_s, d)) < 0 ||
	    (r = get_uint(o, "min_sleep_s", "poll", 1, 86399, &c->poll_min_sleep_s, d)) < 0 ||
	    (r = get_uint(o, "jitter_percent", "poll", 0, 50, &c->poll_jitter_percent, d)) < 0)
		return r;
	if (c->poll_min_sleep_s > c->poll_sleep_s)
		return lp_diag_fail_at(d, -EINVAL, "poll.min_sleep_s", "larger than poll.sleep_s");
	return 0;
}

static int parse_alarms(const cJSON *o, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "eval_interval_s", LP_JSON_INT, false },
		{ "retry_min_s", LP_JSON_INT, false },
		{ "retry_max_s", LP_JSON_INT, false },
		{ "max_attempts", LP_JSON_INT, false },
		{ "max_age_s", LP_JSON_INT, false },
		{ "send_timeout_s", LP_JSON_INT, false },
	};
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "alarms", d)) < 0)
		return r;
	if ((r = get_uint(o, "eval_interval_s", "alarms", 1, 3600, &c->alarms.eval_interval_s, d)) < 0 ||
	    (r = get_uint(o, "retry_min_s", "alarms", 1, 3600, &c->alarms.retry_min_s, d)) < 0 ||
	    (r = get_uint(o, "retry_max_s", "alarms", 1, 86400, &c->alarms.retry_max_s, d)) < 0 ||
	    (r = get_uint(o, "max_attempts", "alarms", 1, 1000, &c->alarms.max_attempts, d)) < 0 ||
	    (r = get_uint(o, "max_age_s", "alarms", 60, 30 * 86400, &c->alarms.max_age_s, d)) < 0 ||
	    (r = get_uint(o, "send_timeout_s", "alarms", 1, 120, &c->alarms.send_timeout_s, d)) < 0)
		return r;
	if (c->alarms.retry_min_s > c->alarms.retry_max_s)
		return lp_diag_fail_at(d, -EINVAL, "alarms.retry_min_s", "larger than alarms.retry_max_s");
	return 0;
}

static int parse_limits(const cJSON *o, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "max_header_bytes", LP_JSON_INT, false },
		{ "max_body_bytes", LP_JSON_INT, false },
		{ "max_url_bytes", LP_JSON_INT, false },
		{ "max_json_bytes", LP_JSON_INT, false },
		{ "max_json_depth", LP_JSON_INT, false },
		{ "timeout_s", LP_JSON_INT, false },
		{ "max_upload_bytes", LP_JSON_INT, false },
		{ "max_attributes", LP_JSON_INT, false },
	};
	unsigned depth = c->max_json_depth;
	int64_t up = (int64_t)c->max_upload_bytes;
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "limits", d)) < 0)
		return r;
	if ((r = get_size(o, "max_header_bytes", "limits", 1024, 1 << 20, &c->max_header_bytes, d)) < 0 ||
	    (r = get_size(o, "max_body_bytes", "limits", 1024, 64 << 20, &c->max_body_bytes, d)) < 0 ||
	    (r = get_size(o, "max_url_bytes", "limits", 256, 65536, &c->max_url_bytes, d)) < 0 ||
	    (r = get_size(o, "max_json_bytes", "limits", 1024, 16 << 20, &c->max_json_bytes, d)) < 0 ||
	    (r = get_uint(o, "max_json_depth", "limits", 2, LP_JSON_MAX_DEPTH, &depth, d)) < 0 ||
	    (r = get_uint(o, "timeout_s", "limits", 1, 3600, &c->timeout_s, d)) < 0 ||
	    (r = lp_json_get_int(o, "max_upload_bytes", false, 1, INT64_MAX, "limits", &up, d)) < 0 ||
	    (r = get_uint(o, "max_attributes", "limits", 1, 10000, &c->max_attributes, d)) < 0)
		return r;
	c->max_json_depth = depth;
	c->max_upload_bytes = (uint64_t)up;
	if (c->max_url_bytes > sizeof(((struct be_req *)0)->path) - 1)
		c->max_url_bytes = sizeof(((struct be_req *)0)->path) - 1;
	return 0;
}

static int parse_rate_limit(const cJSON *o, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "requests_per_s", LP_JSON_INT, true },
		{ "burst", LP_JSON_INT, false },
	};
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "rate_limit", d)) < 0)
		return r;
	if ((r = get_uint(o, "requests_per_s", "rate_limit", 0, 1000000, &c->rate_limit_per_s, d)) < 0)
		return r;
	c->rate_limit_burst = c->rate_limit_per_s;
	return get_uint(o, "burst", "rate_limit", 1, 10000000, &c->rate_limit_burst, d);
}

/* An optional object section parsed by fn. */
static int section(const cJSON *root, const char *key, struct be_config *c, struct lp_diag *d,
		   int (*fn)(const cJSON *o, struct be_config *c, struct lp_diag *d))
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);

	return o ? fn(o, c, d) : 0;
}

static int parse_listeners(const cJSON *root, struct be_config *c, struct lp_diag *d)
{
	int r;

	if ((r = parse_listen(root, "listen", &c->listen, d)) < 0 ||
	    (r = parse_listen(root, "plain_http", &c->plain_http, d)) < 0)
		return r;
	if (c->plain_http.enabled && !is_loopback(c->plain_http.address))
		return lp_diag_fail_at(d, -EINVAL, "plain_http.address",
				       "plain HTTP may only listen on a loopback address (127.0.0.0/8 or ::1)");
	if (!c->listen.enabled && !c->plain_http.enabled)
		return lp_diag_fail(d, -EINVAL, "neither \"listen\" (HTTPS) nor \"plain_http\" is set");
	return 0;
}

static int parse_root(const cJSON *root, struct be_config *c, struct lp_diag *d)
{
	static const struct lp_json_field top[] = {
		{ "data_dir", LP_JSON_STRING, true },
		{ "listen", LP_JSON_OBJECT, false },
		{ "plain_http", LP_JSON_OBJECT, false },
		{ "tls", LP_JSON_OBJECT, false },
		{ "workers", LP_JSON_INT, false },
		{ "links", LP_JSON_OBJECT, false },
		{ "poll", LP_JSON_OBJECT, false },
		{ "limits", LP_JSON_OBJECT, false },
		{ "rate_limit", LP_JSON_OBJECT, false },
		{ "last_seen_flush_s", LP_JSON_INT, false },
		{ "rollout_tick_ms", LP_JSON_INT, false },
		{ "shutdown_grace_s", LP_JSON_INT, false },
		{ "log_requests", LP_JSON_BOOL, false },
		{ "log_level", LP_JSON_STRING, false },
		{ "alarms", LP_JSON_OBJECT, false },
	};
	enum lp_log_level level;
	bool b;
	int r;

	if ((r = lp_json_check(root, top, LP_ARRAY_SIZE(top), "", d)) < 0 ||
	    (r = get_str(root, "data_dir", "", c->data_dir, sizeof(c->data_dir), d)) < 0)
		return r;
	if (c->data_dir[0] != '/')
		return lp_diag_fail_at(d, -EINVAL, "data_dir", "must be an absolute path");
	if ((r = parse_listeners(root, c, d)) < 0 || (r = parse_tls(root, c, d)) < 0 ||
	    (r = get_uint(root, "workers", "", 1, 64, &c->workers, d)) < 0 ||
	    (r = section(root, "links", c, d, parse_links)) < 0 ||
	    (r = section(root, "poll", c, d, parse_poll)) < 0 ||
	    (r = section(root, "limits", c, d, parse_limits)) < 0 ||
	    (r = section(root, "rate_limit", c, d, parse_rate_limit)) < 0 ||
	    (r = section(root, "alarms", c, d, parse_alarms)) < 0 ||
	    (r = get_uint(root, "last_seen_flush_s", "", 1, 3600, &c->last_seen_flush_s, d)) < 0 ||
	    (r = get_uint(root, "rollout_tick_ms", "", 50, 60000, &c->rollout_tick_ms, d)) < 0 ||
	    (r = get_uint(root, "shutdown_grace_s", "", 0, 600, &c->shutdown_grace_s, d)) < 0)
		return r;
	b = c->log_requests;
	if ((r = lp_json_get_bool(root, "log_requests", false, "", &b, d)) < 0 ||
	    (r = get_str(root, "log_level", "", c->log_level, sizeof(c->log_level), d)) < 0)
		return r;
	c->log_requests = b;
	if (lp_log_level_parse(c->log_level, &level) < 0)
		return lp_diag_fail_at(d, -EINVAL, "log_level",
				       "expected debug, info, warn, error or quiet");
	return 0;
}

int be_config_parse(const char *text, size_t len, struct be_config *c, struct lp_diag *d)
{
	cJSON *root = NULL;
	int r;

	be_config_defaults(c);
	r = lp_json_parse(text, len, CONFIG_MAX_BYTES, 0, &root, d);
	if (r < 0)
		return r;
	r = parse_root(root, c, d);
	cJSON_Delete(root);
	return r;
}

int be_config_load(const char *path, struct be_config *c, struct lp_diag *d)
{
	cJSON *root = NULL;
	int r;

	be_config_defaults(c);
	r = lp_json_parse_file(path, CONFIG_MAX_BYTES, 0, &root, d);
	if (r < 0)
		return r;
	lp_diag_set_file(d, path);
	r = parse_root(root, c, d);
	cJSON_Delete(root);
	return r;
}

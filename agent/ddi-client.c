/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of one backend (hawkBit DDI v1). Each backend keeps long-lived curl
 * handles that share one connection and TLS-session cache, so polls reuse the connection
 * (keep-alive) and reconnects resume the TLS session instead of a full handshake.
 * HTTPS only, unless the backend has insecure_plain_http (tests). The backend's URLs are
 * tried in order; the one that answered is used first next time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent.h"
#include "ddi.h"
#include "loopline/log.h"

#define JSON_RESPONSE_MAX (1024 * 1024)

struct agent_ddi {
	const struct agent_config *cfg;
	const struct agent_backend *b;
	CURLSH *share;
	CURL *control;   /* polls and feedback */
	CURL *download;  /* artifact transfers */
	size_t url_index; /* the URL that answered last */
	char auth_header[AGENT_STR_MAX + 32];
};

static int curl_global(void)
{
	static bool done;

	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		done = true;
	}
	return 0;
}

int agent_ddi_new(const struct agent_config *cfg, const struct agent_backend *b,
		  struct agent_ddi **ret_ddi)
{
	struct agent_ddi *d;
	int r;

	r = curl_global();
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->b = b;
	d->share = curl_share_init();
	d->control = curl_easy_init();
	d->download = curl_easy_init();
	if (!d->share || !d->control || !d->download) {
		agent_ddi_free(d);
		return -ENOMEM;
	}
	/* One process, no threads: no lock callbacks are needed. */
	curl_share_setopt(d->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(d->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(d->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	if (b->auth == AGENT_AUTH_TARGET_TOKEN)
		snprintf(d->auth_header, sizeof(d->auth_header), "Authorization: TargetToken %s", b->token);
	else if (b->auth == AGENT_AUTH_GATEWAY_TOKEN)
		snprintf(d->auth_header, sizeof(d->auth_header), "Authorization: GatewayToken %s", b->token);
	*ret_ddi = d;
	return 0;
}

void agent_ddi_free(struct agent_ddi *d)
{
	if (!d)
		return;
	if (d->control)
		curl_easy_cleanup(d->control);
	if (d->download)
		curl_easy_cleanup(d->download);
	if (d->share)
		curl_share_cleanup(d->share);
	free(d);
}

const struct agent_backend *agent_ddi_backend(const struct agent_ddi *d)
{
	return d->b;
}

CURL *agent_ddi_download_handle(struct agent_ddi *d)
{
	return d->download;
}

/* Options every request of this backend gets. The handle is reset first; curl keeps its
 * connections and sessions across resets. */
int agent_ddi_setup(struct agent_ddi *d, CURL *h, const char *url, struct curl_slist **headers)
{
	const struct agent_backend *b = d->b;
	const char *protocols = b->insecure_plain_http ? "http,https" : "https";

	curl_easy_reset(h);
	if (!b->insecure_plain_http && strncmp(url, "https://", 8) != 0)
		return -EPROTONOSUPPORT;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, d->share);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "loopline-agent");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (b->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, b->ca_file);
	if (b->client_cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, b->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, b->client_key);
	}
	/* Without a configured proxy libcurl reads http_proxy/https_proxy/no_proxy itself. */
	if (b->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, b->proxy);
	if (d->auth_header[0]) {
		struct curl_slist *n = curl_slist_append(*headers, d->auth_header);

		if (!n)
			return -ENOMEM;
		*headers = n;
	}
	return 0;
}

struct membuf {
	char *data;
	size_t len, max;
	bool overflow;
};

static size_t write_mem(char *p, size_t size, size_t n, void *ctx)
{
	struct membuf *m = ctx;
	size_t add = size * n;
	char *grown;

	if (m->len + add > m->max) {
		m->overflow = true;
		return 0;
	}
	grown = realloc(m->data, m->len + add + 1);
	if (!grown)
		return 0;
	m->data = grown;
	memcpy(m->data + m->len, p, add);
	m->len += add;
	m->data[m->len] = '\0';
	return add;
}

/* One request to an absolute URL. Returns 0 with the HTTP status, -ENETUNREACH-class
 * errors (-EIO) when no HTTP answer came. */
static int request(struct agent_ddi *d, const char *method, const char *url, const char *body,
		   long *ret_status, char **ret_body, struct lp_diag *diag)
{
	struct curl_slist *headers = NULL, *n;
	struct membuf m = { .max = JSON_RESPONSE_MAX };
	CURL *h = d->control;
	CURLcode cc;
	long status = 0;
	int r;

	r = agent_ddi_setup(d, h, url, &headers);
	if (r < 0) {
		curl_slist_free_all(headers);
		return lp_diag_fail(diag, r, "%s: only https:// is allowed for backend %s", url,
				    d->b->name);
	}
	n = curl_slist_append(headers, "Accept: application/json");
	if (n)
		headers = n;
	if (body) {
		n = curl_slist_append(headers, "Content-Type: application/json");
		if (n)
			headers = n;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_mem);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
	cc = curl_easy_perform(h);
	curl_slist_free_all(headers);
	if (cc != CURLE_OK) {
		free(m.data);
		if (m.overflow)
			return lp_diag_fail(diag, -E2BIG, "%s: response larger than %d bytes", url,
					    JSON_RESPONSE_MAX);
		return lp_diag_fail(diag, -EIO, "%s: %s", url, curl_easy_strerror(cc));
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	{
		long fresh = 0;

		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &fresh);
		log_debug("backend %s: %s %s: HTTP %ld (%s connection)", d->b->name, method, url,
			  status, fresh > 0 ? "new" : "reused");
	}
	*ret_status = status;
	if (ret_body) {
		*ret_body = m.data ? m.data : strdup("");
		if (!*ret_body)
			return -ENOMEM;
	} else {
		free(m.data);
	}
	return 0;
}

/* base URL (without a trailing '/') + /tenant/controller/v1/device */
static int controller_url(const struct agent_ddi *d, size_t i, const char *path, char *buf, size_t len)
{
	const char *u = d->b->urls[i];
	size_t ul = strlen(u);
	int n;

	while (ul > 0 && u[ul - 1] == '/')
		ul--;
	n = snprintf(buf, len, "%.*s/%s/controller/v1/%s%s", (int)ul, u, d->b->tenant,
		     d->cfg->device_id, path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int agent_ddi_call(struct agent_ddi *d, const char *method, const char *path, const char *body,
		   long *ret_status, char **ret_body, struct lp_diag *diag)
{
	char url[AGENT_STR_MAX + 512];
	int r = -EIO;

	for (size_t k = 0; k < d->b->n_urls; k++) {
		size_t i = (d->url_index + k) % d->b->n_urls;

		r = controller_url(d, i, path, url, sizeof(url));
		if (r < 0)
			return lp_diag_fail(diag, r, "URL too long");
		r = request(d, method, url, body, ret_status, ret_body, diag);
		if (r == 0)
			d->url_index = i; /* start with the URL that answered next time */
		if (r != -EIO)
			break;
		if (k + 1 < d->b->n_urls)
			log_info("backend %s: %s did not answer (%s), trying the next URL", d->b->name,
				 d->b->urls[i], diag ? diag->msg : "");
	}
	return r;
}

int agent_ddi_resolve_link(const struct agent_ddi *d, const char *href, char *ret_path, size_t len)
{
	/* A link into our own controller resource becomes a path, so it also fails over
	 * between URLs; anything else (a CDN) stays absolute. */
	for (size_t i = 0; i < d->b->n_urls; i++) {
		char base[AGENT_STR_MAX + 512];
		size_t bl;

		if (controller_url(d, i, "", base, sizeof(base)) < 0)
			continue;
		bl = strlen(base);
		if (strncmp(href, base, bl) == 0 && (href[bl] == '/' || href[bl] == '\0')) {
			if (snprintf(ret_path, len, "%s", href + bl) >= (int)len)
				return -ENAMETOOLONG;
			return 1;
		}
	}
	if (snprintf(ret_path, len, "%s", href) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int agent_ddi_follow(struct agent_ddi *d, const char *method, const char *href, const char *body,
		     long *ret_status, char **ret_body, struct lp_diag *diag)
{
	char path[AGENT_STR_MAX + 512];
	int r = agent_ddi_resolve_link(d, href, path, sizeof(path));

	if (r < 0)
		return lp_diag_fail(diag, r, "link too long");
	if (r == 1)
		return agent_ddi_call(d, method, path, body, ret_status, ret_body, diag);
	return request(d, method, href, body, ret_status, ret_body, diag);
}

int agent_ddi_feedback(struct agent_ddi *d, const char *action_id, const char *feedback_json,
		       long *ret_status, struct lp_diag *diag)
{
	char path[AGENT_ID_MAX + 64];

	snprintf(path, sizeof(path), "/deploymentBase/%s/feedback", action_id);
	return agent_ddi_call(d, "POST", path, feedback_json, ret_status, NULL, diag);
}

int agent_backend_reachable(const struct agent_config *cfg)
{
	for (size_t i = 0; i < cfg->n_backends; i++) {
		struct agent_ddi *d = NULL;
		long status = 0;
		int r;

		if (agent_ddi_new(cfg, &cfg->backends[i], &d) < 0)
			continue;
		r = agent_ddi_call(d, "GET", "", NULL, &status, NULL, NULL);
		agent_ddi_free(d);
		if (r == 0 && status == 200)
			return 0;
	}
	return -EHOSTUNREACH;
}

/* SPDX-License-Identifier: MIT */
/*
 * A small client for the backend's management API (libcurl): JSON requests with a Bearer
 * token, and the resumable package upload shared by loopline-ctl and loopline-pack.
 * One client keeps its connection alive between requests; it is not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_HTTP_BODY_MAX (16u * 1024 * 1024) /* largest response body accepted */
#define LP_HTTP_CHUNK_MAX (8u * 1024 * 1024) /* largest upload PUT the backend takes */

struct lp_http_client_opts {
	const char *base_url;    /* "https://host:port", no trailing '/' */
	const char *token;       /* Bearer token, NULL for none */
	const char *cacert;      /* CA bundle file, NULL = system store */
	const char *client_cert; /* PEM client certificate (mutual TLS), NULL = none */
	const char *client_key;
	long timeout_s;          /* per request; 0 = 120 */
};

struct lp_http_client;

LP_EXPORT int lp_http_client_new(const struct lp_http_client_opts *opts,
				 struct lp_http_client **ret_client);
LP_EXPORT void lp_http_client_free(struct lp_http_client *c);

/* URL-encodes s (malloc'd, caller frees), NULL on ENOMEM. */
LP_EXPORT char *lp_http_escape(const char *s);

/*
 * METHOD base_url+path with an optional body. Returns 0 when an HTTP answer arrived (any
 * status, in *ret_status) and *ret_body and *ret_len hold the body (malloc'd, NUL-terminated,
 * caller frees); negative errno on transport errors with a message in diag.
 * headers: NULL-terminated list of extra "Name: value" lines, or NULL.
 */
LP_EXPORT int lp_http_request(struct lp_http_client *c, const char *method, const char *path,
			      const char *const *headers, const void *body, size_t len,
			      long *ret_status, char **ret_body, size_t *ret_len,
			      struct lp_diag *diag);

/*
 * JSON request (body may be NULL). On 2xx returns 0 and the parsed answer (or NULL for an
 * empty one). On other statuses returns -EPROTO with the API's "code: message" in diag
 * and the status in *ret_status.
 */
LP_EXPORT int lp_http_json(struct lp_http_client *c, const char *method, const char *path,
			   const cJSON *body, long *ret_status, cJSON **ret_json,
			   struct lp_diag *diag);

typedef void (*lp_http_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct lp_http_upload_opts {
	const char *filename;   /* name on the server; NULL = basename of the path */
	bool opaque;            /* not an .lpkg: needs version and part */
	const char *version;
	const char *part;
	const char *name;
	size_t chunk_size;      /* 0 = 4 MiB; at most LP_HTTP_CHUNK_MAX */
	lp_http_progress_fn progress;
	void *progress_ctx;
};

/*
 * Resumable upload: finds an unfinished upload of the same name and size on the server
 * (or creates one), sends only the byte ranges the server does not have, then completes
 * it. *ret_package receives the created package (caller frees); *ret_resumed_bytes (may
 * be NULL) how many bytes the server already had.
 */
LP_EXPORT int lp_http_upload(struct lp_http_client *c, const char *path,
			     const struct lp_http_upload_opts *opts, cJSON **ret_package,
			     uint64_t *ret_resumed_bytes, struct lp_diag *diag);

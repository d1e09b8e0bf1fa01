/* SPDX-License-Identifier: MIT */
/* The agent's network side: DDI client, response parsers, download, poll cycle. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "agent.h"

#define DDI_HREF_MAX 2048

/* ---- ddi-client.c ---- */

struct agent_ddi;

int agent_ddi_new(const struct agent_config *cfg, const struct agent_backend *b,
		  struct agent_ddi **ret_ddi);
void agent_ddi_free(struct agent_ddi *d);
const struct agent_backend *agent_ddi_backend(const struct agent_ddi *d);
/* A request to the device's controller resource (path relative to
 * /{tenant}/controller/v1/{device}, "" for the root), trying the URLs in order.
 * Returns 0 with the HTTP status (and body if ret_body), or -EIO if no URL answered. */
int agent_ddi_call(struct agent_ddi *d, const char *method, const char *path, const char *body,
		   long *ret_status, char **ret_body, struct lp_diag *diag);
/* Follows a link from a response: links into the controller resource fail over too. */
int agent_ddi_follow(struct agent_ddi *d, const char *method, const char *href, const char *body,
		     long *ret_status, char **ret_body, struct lp_diag *diag);
/* 1 and the path if href points into our controller resource, 0 and href otherwise. */
int agent_ddi_resolve_link(const struct agent_ddi *d, const char *href, char *ret_path, size_t len);
int agent_ddi_feedback(struct agent_ddi *d, const char *action_id, const char *feedback_json,
		       long *ret_status, struct lp_diag *diag);
/* The handle used for downloads, and the common options (TLS, auth, proxy, protocols). */
CURL *agent_ddi_download_handle(struct agent_ddi *d);
int agent_ddi_setup(struct agent_ddi *d, CURL *h, const char *url, struct curl_slist **headers);

/* ---- ddi-parse.c: DDI responses (unknown fields ignored, as DDI requires; the fields we
 * use are checked strictly) ---- */

struct ddi_poll {
	bool has_sleep;
	unsigned sleep_s;
	char deployment[DDI_HREF_MAX]; /* "" if absent */
	char cancel[DDI_HREF_MAX];
	char config_data[DDI_HREF_MAX];
};

enum ddi_handling {
	DDI_SKIP = 0,
	DDI_ATTEMPT,
	DDI_FORCED,
};

struct ddi_deployment {
	char id[AGENT_ID_MAX];
	enum ddi_handling download, update;
	bool maintenance_window_unavailable;
	bool is_action;                  /* chunk part "action" */
	char action[AGENT_ID_MAX];       /* metadata key "action" */
	char version[AGENT_ID_MAX];
	char filename[256];
	uint64_t size;
	char url[DDI_HREF_MAX];          /* download link */
};

/* "HH:MM:SS" (hours may exceed 23); -EINVAL otherwise. */
int agent_ddi_parse_sleep(const char *s, unsigned *ret_s);
int agent_ddi_parse_poll(const char *text, size_t len, struct ddi_poll *ret, struct lp_diag *diag);
/* allow_http: accept a download-http link (insecure backends only). */
int agent_ddi_parse_deployment(const char *text, size_t len, bool allow_http,
			       struct ddi_deployment *ret, struct lp_diag *diag);
int agent_ddi_parse_cancel(const char *text, size_t len, char *ret_stop_id, size_t id_len,
			   struct lp_diag *diag);

/* ---- download.c ---- */

/* Streams the artifact at url (size bytes, 0 = unknown) into the install path: resumes
 * with Range after interruptions, retries network errors and 5xx with exponential backoff
 * plus jitter, ends on 4xx. progress() is called at most every few seconds. */
typedef void (*agent_progress_fn)(void *ctx, uint64_t done, uint64_t total);
/* Called about every DL_TICK_MS while the download runs (between curl calls, never from
 * inside a curl callback): the poller polls the backends that are due — the others, and
 * this one for a cancellation. Returns true when the operator cancelled this update: the
 * download stops and the install fails with -ECANCELED before anything is activated. */
typedef bool (*agent_tick_fn)(void *ctx);
int agent_download_install(const struct agent_ctx *ctx, struct agent_ddi *ddi, const char *url,
			   uint64_t size, const char *action_id, agent_progress_fn progress,
			   void *progress_ctx, agent_tick_fn tick, void *tick_ctx,
			   struct lp_diag *diag);

/* ---- poll.c ---- */

struct agent_poller;

int agent_poller_new(const struct agent_ctx *ctx, struct agent_poller **ret);
void agent_poller_free(struct agent_poller *p);
size_t agent_poller_count(const struct agent_poller *p);
/* One poll cycle of backend i: deliver its outbox, poll, act. *ret_next_s gets the
 * seconds until its next poll (server sleep clamped to the bounds, plus jitter). Returns
 * 0, or a negative errno if the backend could not be polled. */
int agent_poller_cycle(struct agent_poller *p, size_t i, unsigned *ret_next_s);
/* The schedule: every backend is due at once after agent_poller_new; a cycle sets its
 * next time. Returns the backend due first and, in *ret_wait_ms, the milliseconds until
 * then (0: due now). Needs at least one backend. */
size_t agent_poller_next(const struct agent_poller *p, int *ret_wait_ms);
/* Moves backend i's next poll to s seconds from now (when a cycle could not run). */
void agent_poller_postpone(struct agent_poller *p, size_t i, unsigned s);

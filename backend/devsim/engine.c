/* SPDX-License-Identifier: MIT */
/*
 * The simulator's event loop: one libcurl multi handle with a fixed pool of transfers
 * (--connections; HTTP/1.1 keep-alive connections are shared by every device), and a
 * binary min-heap of the devices' next steps. A device is either in the heap (waiting
 * for its step's time) or in a transfer, never both; while every transfer is busy, due
 * devices wait in the heap.
 *
 * A device's flow is the real agent's (agent/poll.c): poll → configData when asked →
 * cancelAction (closed/success) or deploymentBase → proceeding "downloading…" → download
 * (size and sha256 checked) → install time → failure (fate "fail") or proceeding
 * "installed…; rebooting" → reboot time → closed/success, or closed/failure for a
 * rollback → poll at once. Each step is started by step_start() and finished by
 * step_done(); what a finished step leads to is decided only there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "devsim.h"
#include "loopline/clock.h"
#include "loopline/json.h"
#include "loopline/log.h"

volatile int sim_stop_signal;

enum step {
	ST_POLL = 0,
	ST_CONFIG,
	ST_DEPLOY,
	ST_FB_DOWNLOADING,
	ST_DOWNLOAD,
	ST_INSTALLED,   /* install time over: failure, or proceeding "rebooting" */
	ST_BOOTED,      /* reboot over: closed/success or the rollback's closed/failure */
	ST_CANCEL,
	ST_CANCEL_FB,
};

#define RETRIES_MAX 5
#define STOP_GRACE_MS 3000
#define PROGRESS_MS 2000
#define DEFAULT_SLEEP_S 300

struct sim_work {
	struct sim_poll poll;
	struct sim_deployment dep;
	char cancel_id[SIM_ID_MAX];
	char reason[192];  /* set when the update fails before the install ends */
	bool config_done;
	unsigned retries;
};

struct xfer {
	CURL *h;
	struct sim_device *dev;
	enum step step;
	struct curl_slist *hdrs;
	char *body;
	size_t len, cap;
	bool too_large;
	struct lp_hash *sha;   /* downloads only */
	uint64_t dl_bytes, dl_max;
	uint64_t t_us;
};

struct engine {
	const struct sim_opts *o;
	struct sim_fleet *f;
	struct sim_stats *s;
	CURLM *m;
	CURLSH *sh;
	struct xfer *x;
	unsigned nx;
	unsigned *free_x;
	unsigned n_free;
	struct sim_device **heap;
	size_t heap_n;
	uint64_t rng;
	bool stopping;
};

/* ---- timer heap ---- */

static void heap_set(struct engine *e, size_t i, struct sim_device *d)
{
	e->heap[i] = d;
	d->heap_pos = (uint32_t)i;
}

static void heap_push(struct engine *e, struct sim_device *d)
{
	size_t i = e->heap_n++;

	while (i > 0 && e->heap[(i - 1) / 2]->due_ms > d->due_ms) {
		heap_set(e, i, e->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(e, i, d);
}

static struct sim_device *heap_pop(struct engine *e)
{
	struct sim_device *top = e->heap[0], *last = e->heap[--e->heap_n];
	size_t i = 0, n = e->heap_n;

	while (n > 0) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && e->heap[c + 1]->due_ms < e->heap[c]->due_ms)
			c++;
		if (e->heap[c]->due_ms >= last->due_ms)
			break;
		heap_set(e, i, e->heap[c]);
		i = c;
	}
	if (n > 0)
		heap_set(e, i, last);
	top->heap_pos = UINT32_MAX;
	return top;
}

/* ---- scheduling ---- */

static double uniform(struct engine *e) /* [0, 1) */
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return (double)(e->rng >> 11) * 0x1.0p-53;
}

static void schedule(struct engine *e, struct sim_device *d, enum step step, uint64_t delay_ms)
{
	d->step = (uint8_t)step;
	d->due_ms = lp_clock_mono_ms() + delay_ms;
	heap_push(e, d);
}

static uint64_t poll_interval_ms(struct engine *e, const struct sim_device *d)
{
	double base = e->o->poll_override_ms >= 0 ? (double)e->o->poll_override_ms
			: 1000.0 * (d->poll_s ? d->poll_s : DEFAULT_SLEEP_S);

	return (uint64_t)(base * (1.0 + e->o->jitter * (2.0 * uniform(e) - 1.0)));
}

static void schedule_poll(struct engine *e, struct sim_device *d)
{
	d->errors_in_row = 0;
	schedule(e, d, ST_POLL, poll_interval_ms(e, d));
}

/* After an error: never sooner than the poll interval, doubling up to --backoff-max. */
static uint64_t backoff_ms(struct engine *e, struct sim_device *d)
{
	uint64_t iv = poll_interval_ms(e, d), cap = e->o->backoff_max_ms, b;
	unsigned n = d->errors_in_row < 16 ? d->errors_in_row : 16;

	b = 1000ull << (n ? n - 1 : 0);
	if (b > cap)
		b = cap;
	if (b < iv)
		b = iv;
	return (uint64_t)((double)b * (1.0 + 0.2 * uniform(e)));
}

static void end_work(struct sim_device *d)
{
	free(d->work);
	d->work = NULL;
}

/* A step failed (transport error or a status worth retrying): retried with backoff;
 * an update step that failed RETRIES_MAX times is given up and the device polls. */
static void step_failed(struct engine *e, struct sim_device *d, enum step step)
{
	if (d->errors_in_row < UINT16_MAX)
		d->errors_in_row++;
	if (step != ST_POLL && step != ST_CONFIG && d->work && ++d->work->retries <= RETRIES_MAX) {
		schedule(e, d, step, backoff_ms(e, d));
		return;
	}
	if (d->work && step != ST_POLL && step != ST_CONFIG)
		d->last_result = SIM_RESULT_ABANDONED;
	end_work(d);
	schedule(e, d, ST_POLL, backoff_ms(e, d));
}

/* ---- request bodies ---- */

static const char *slot_running(const struct sim_device *d)
{
	return d->updates_ok % 2 ? "B" : "A";
}

static const char *slot_target(const struct sim_device *d)
{
	return d->updates_ok % 2 ? "A" : "B";
}

static char *feedback_json(const char *execution, const char *finished, const char *const *details,
			   size_t n)
{
	cJSON *fb = cJSON_CreateObject(), *st, *res, *arr;
	char *out = NULL;

	if (!fb || !cJSON_AddNumberToObject(fb, "timestamp", (double)lp_clock_wall_ms()) ||
	    !(st = cJSON_AddObjectToObject(fb, "status")) ||
	    !cJSON_AddStringToObject(st, "execution", execution) ||
	    !(res = cJSON_AddObjectToObject(st, "result")) ||
	    !cJSON_AddStringToObject(res, "finished", finished) ||
	    !(arr = cJSON_AddArrayToObject(st, "details")))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(details[i])))
			goto out;
	out = lp_json_print(fb);
out:
	cJSON_Delete(fb);
	return out;
}

/* closed/failure with the agent's three details: reason, slots, versions. */
static char *failure_json(const struct sim_device *d, const char *reason)
{
	char slots[64], versions[2 * SIM_VERSION_MAX + 32];
	const char *details[3] = { reason, slots, versions };

	snprintf(slots, sizeof(slots), "slot: running %s, update target %s", slot_running(d),
		 slot_target(d));
	snprintf(versions, sizeof(versions), "version: running %s, offered %s", d->version_now,
		 d->work->dep.version);
	return feedback_json("closed", "failure", details, 3);
}

static char *config_json(const struct sim_opts *o, const struct sim_device *d)
{
	cJSON *c = cJSON_CreateObject(), *data;
	char *out = NULL;

	if (!c || !cJSON_AddStringToObject(c, "mode", "merge") ||
	    !(data = cJSON_AddObjectToObject(c, "data")) ||
	    !cJSON_AddStringToObject(data, "version", d->version_now))
		goto out;
	for (size_t i = 0; i < o->n_attrs; i++)
		if (!cJSON_AddStringToObject(data, o->attrs[i].key, o->attrs[i].value))
			goto out;
	out = lp_json_print(c);
out:
	cJSON_Delete(c);
	return out;
}

/* The body of an update step's feedback (ST_FB_DOWNLOADING, ST_INSTALLED, ST_BOOTED). */
static char *update_feedback(const struct sim_opts *o, struct sim_device *d, enum step step)
{
	const struct sim_deployment *dep = &d->work->dep;
	char text[SIM_VERSION_MAX * 2 + 320];
	const char *details[1] = { text };

	if (step == ST_FB_DOWNLOADING) {
		snprintf(text, sizeof(text), "downloading %s (%llu bytes) for slot %s", dep->filename,
			 (unsigned long long)dep->size, slot_target(d));
		return feedback_json("proceeding", "none", details, 1);
	}
	if (step == ST_INSTALLED) {
		if (d->work->reason[0])
			return failure_json(d, d->work->reason);
		if (d->fate == SIM_FATE_FAIL && !dep->is_action) {
			snprintf(text, sizeof(text), "install failed: writing slot %s: simulated I/O error",
				 slot_target(d));
			return failure_json(d, text);
		}
		snprintf(text, sizeof(text), "installed %s to slot %s; rebooting", dep->version,
			 slot_target(d));
		return feedback_json("proceeding", "none", details, 1);
	}
	if (d->fate == SIM_FATE_ROLLBACK && !dep->is_action) {
		if (d->rollback_bootloader)
			snprintf(text, sizeof(text), "slot %s with version %s did not come up: the "
				 "bootloader fell back to slot %s", slot_target(d), dep->version,
				 slot_running(d));
		else
			snprintf(text, sizeof(text), "rolled back to slot %s (version %s): health check "
				 "failed: simulated", slot_running(d), d->version_now);
		return failure_json(d, text);
	}
	(void)o;
	if (dep->is_action)
		snprintf(text, sizeof(text), "action done (simulated)");
	else
		snprintf(text, sizeof(text), "version %s runs on slot %s (simulated)", dep->version,
			 slot_target(d));
	return feedback_json("closed", "success", details, 1);
}

/* ---- transfers ---- */

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n;

	if (x->sha) {
		x->dl_bytes += len;
		if (x->dl_bytes > x->dl_max || lp_hash_update(x->sha, p, len) < 0)
			return 0; /* more than announced: CURLE_WRITE_ERROR */
		return len;
	}
	if (x->len + len > SIM_BODY_MAX) {
		x->too_large = true;
		return 0;
	}
	if (x->len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < x->len + len + 1)
			cap *= 2;
		b = realloc(x->body, cap);
		if (!b)
			return 0;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, p, len);
	x->len += len;
	x->body[x->len] = '\0';
	return len;
}

static int xfer_headers(struct engine *e, struct xfer *x, bool json_body)
{
	const struct sim_device *d = x->dev;
	char auth[SIM_TOKEN_MAX + 64];
	struct curl_slist *l = NULL, *t;

	if (d->token[0])
		snprintf(auth, sizeof(auth), "Authorization: TargetToken %s", d->token);
	else
		snprintf(auth, sizeof(auth), "Authorization: GatewayToken %s", e->o->gateway_token);
	if (!(t = curl_slist_append(l, auth)))
		return -ENOMEM;
	l = t;
	if (!(t = curl_slist_append(l, json_body ? "Content-Type: application/json"
					       : "Accept: application/hal+json, application/json"))) {
		curl_slist_free_all(l);
		return -ENOMEM;
	}
	l = t;
	if (!(t = curl_slist_append(l, "Expect:"))) {
		curl_slist_free_all(l);
		return -ENOMEM;
	}
	x->hdrs = t;
	return 0;
}

/* The URL, method and body of a step; *ret_body is malloc'd (NULL for a GET). */
static int step_request(struct engine *e, struct sim_device *d, enum step step, char *url,
			size_t url_len, const char **ret_method, char **ret_body)
{
	const struct sim_opts *o = e->o;
	struct sim_work *w = d->work;
	int n = 0;

	*ret_method = "POST";
	*ret_body = NULL;
	switch (step) {
	case ST_POLL:
		*ret_method = "GET";
		n = snprintf(url, url_len, "%s/%s/controller/v1/%s", o->url, o->tenant, d->cid);
		break;
	case ST_CONFIG:
		*ret_method = "PUT";
		n = snprintf(url, url_len, "%s", w->poll.config_data);
		*ret_body = config_json(o, d);
		break;
	case ST_DEPLOY:
		*ret_method = "GET";
		n = snprintf(url, url_len, "%s", w->poll.deployment);
		break;
	case ST_DOWNLOAD:
		*ret_method = "GET";
		n = snprintf(url, url_len, "%s", w->dep.url);
		break;
	case ST_CANCEL:
		*ret_method = "GET";
		n = snprintf(url, url_len, "%s", w->poll.cancel);
		break;
	case ST_CANCEL_FB: {
		const char *details[1] = { "cancelled" };

		n = snprintf(url, url_len, "%s/%s/controller/v1/%s/cancelAction/%s/feedback", o->url,
			     o->tenant, d->cid, w->cancel_id);
		*ret_body = feedback_json("closed", "success", details, 1);
		break;
	}
	default:
		n = snprintf(url, url_len, "%s/%s/controller/v1/%s/deploymentBase/%s/feedback", o->url,
			     o->tenant, d->cid, w->dep.id);
		*ret_body = update_feedback(o, d, step);
		break;
	}
	if (n < 0 || (size_t)n >= url_len)
		return -ENAMETOOLONG;
	if (strcmp(*ret_method, "GET") != 0 && !*ret_body)
		return -ENOMEM;
	return 0;
}

static int step_start(struct engine *e, struct sim_device *d)
{
	struct xfer *x = &e->x[e->free_x[--e->n_free]];
	char url[SIM_HREF_MAX + 256];
	const char *method;
	char *body = NULL;
	int r;

	x->dev = d;
	x->step = (enum step)d->step;
	x->len = 0;
	x->too_large = false;
	r = step_request(e, d, x->step, url, sizeof(url), &method, &body);
	if (r == 0)
		r = xfer_headers(e, x, body != NULL);
	if (r == 0 && x->step == ST_DOWNLOAD) {
		r = lp_hash_new(LP_HASH_SHA256, &x->sha);
		x->dl_bytes = 0;
		x->dl_max = d->work->dep.size;
	}
	if (r < 0) {
		free(body);
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
		e->free_x[e->n_free++] = (unsigned)(x - e->x);
		return r;
	}
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
	if (body) {
		curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(x->h, CURLOPT_COPYPOSTFIELDS, body);
		curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, strcmp(method, "PUT") == 0 ? "PUT" : NULL);
		free(body);
	} else {
		curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(x->h, CURLOPT_HTTPGET, 1L);
	}
	x->t_us = lp_clock_mono_us();
	if (curl_multi_add_handle(e->m, x->h) != CURLM_OK) {
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
		lp_hash_free(x->sha);
		x->sha = NULL;
		x->dev = NULL;
		e->free_x[e->n_free++] = (unsigned)(x - e->x);
		return -ENOMEM;
	}
	return 0;
}

static void count_curl_error(struct engine *e, const struct xfer *x, CURLcode cc)
{
	enum sim_err k;

	if (x->too_large)
		k = SIM_ERR_TOO_LARGE;
	else if (x->sha && cc == CURLE_WRITE_ERROR)
		k = SIM_ERR_DOWNLOAD;
	else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
		 cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR)
		k = SIM_ERR_CONNECT;
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		k = SIM_ERR_TIMEOUT;
	else if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
		 cc == CURLE_SSL_CACERT_BADFILE)
		k = SIM_ERR_TLS;
	else
		k = SIM_ERR_TRANSPORT;
	e->s->errors[k]++;
}

static uint64_t since_t0(const struct engine *e)
{
	return lp_clock_mono_ms() - e->s->t0_ms;
}

/* What the device does after a poll (and after its configData): the link's step, or
 * its next poll. */
static void after_poll(struct engine *e, struct sim_device *d)
{
	struct sim_work *w = d->work;

	if (w->poll.config_data[0] && !w->config_done)
		schedule(e, d, ST_CONFIG, 0);
	else if (w->poll.cancel[0])
		schedule(e, d, ST_CANCEL, 0);
	else if (w->poll.deployment[0])
		schedule(e, d, ST_DEPLOY, 0);
	else {
		end_work(d);
		schedule_poll(e, d);
	}
}

static void poll_done(struct engine *e, struct sim_device *d, const struct xfer *x)
{
	struct sim_work *w = calloc(1, sizeof(*w));
	struct lp_diag diag;

	d->polls++;
	if (!w) {
		schedule(e, d, ST_POLL, backoff_ms(e, d));
		return;
	}
	lp_diag_clear(&diag);
	if (sim_parse_poll(x->body ? x->body : "", x->len, &w->poll, &diag) < 0) {
		e->s->errors[SIM_ERR_MALFORMED]++;
		log_debug("%s: poll answer: %s", d->cid, diag.msg);
		free(w);
		step_failed(e, d, ST_POLL);
		return;
	}
	d->poll_s = w->poll.has_sleep ? w->poll.sleep_s : DEFAULT_SLEEP_S;
	d->errors_in_row = 0;
	d->work = w;
	after_poll(e, d);
}

static void deploy_done(struct engine *e, struct sim_device *d, const struct xfer *x)
{
	struct sim_work *w = d->work;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (sim_parse_deployment(x->body ? x->body : "", x->len, &w->dep, &diag) < 0) {
		e->s->errors[SIM_ERR_MALFORMED]++;
		log_debug("%s: deploymentBase: %s", d->cid, diag.msg);
		step_failed(e, d, ST_DEPLOY);
		return;
	}
	if (e->s->first_deployment_ms < 0)
		e->s->first_deployment_ms = (int64_t)since_t0(e);
	snprintf(d->last_action, sizeof(d->last_action), "%s", w->dep.id);
	w->retries = 0;
	if (w->dep.is_action) {
		schedule(e, d, ST_BOOTED, 0);
		return;
	}
	d->last_result = SIM_RESULT_DOWNLOADING;
	schedule(e, d, ST_FB_DOWNLOADING, 0);
}

static void download_done(struct engine *e, struct sim_device *d, struct xfer *x)
{
	struct sim_work *w = d->work;
	uint8_t sum[LP_HASH_MAX_LEN];

	e->s->download_bytes += x->dl_bytes;
	if (x->dl_bytes != w->dep.size)
		snprintf(w->reason, sizeof(w->reason), "download failed: %llu of %llu bytes",
			 (unsigned long long)x->dl_bytes, (unsigned long long)w->dep.size);
	else if (w->dep.has_sha256 && (lp_hash_final(x->sha, sum) < 0 ||
				       !lp_hash_equal(sum, w->dep.sha256, LP_SHA256_LEN)))
		snprintf(w->reason, sizeof(w->reason), "download failed: sha256 mismatch");
	if (w->reason[0])
		e->s->errors[SIM_ERR_DOWNLOAD]++;
	d->last_result = SIM_RESULT_INSTALLING;
	schedule(e, d, ST_INSTALLED, w->reason[0] ? 0 : e->o->install_ms);
}

/* The update's last feedback was taken: count it, then poll at once (after the reboot
 * the agent polls straight away). */
static void update_closed(struct engine *e, struct sim_device *d)
{
	struct sim_work *w = d->work;
	int64_t t = (int64_t)since_t0(e);

	if (w->dep.is_action) {
		d->last_result = SIM_RESULT_SUCCESS;
	} else if (w->reason[0] || (d->step == ST_INSTALLED && d->fate == SIM_FATE_FAIL)) {
		d->last_result = SIM_RESULT_FAILURE;
		d->updates_failed++;
		e->s->failed++;
	} else if (d->fate == SIM_FATE_ROLLBACK) {
		d->last_result = SIM_RESULT_ROLLBACK;
		d->rollbacks++;
		e->s->rolled_back++;
	} else {
		d->last_result = SIM_RESULT_SUCCESS;
		snprintf(d->version_now, sizeof(d->version_now), "%s", w->dep.version);
		d->updates_ok++;
		e->s->updated++;
		if (e->s->first_update_ms < 0)
			e->s->first_update_ms = t;
		e->s->last_update_ms = t;
	}
	end_work(d);
	d->errors_in_row = 0;
	schedule(e, d, ST_POLL, 0);
}

/* An update step's feedback answered 2xx. */
static void feedback_done(struct engine *e, struct sim_device *d, enum step step)
{
	struct sim_work *w = d->work;

	w->retries = 0;
	if (step == ST_FB_DOWNLOADING) {
		if (e->o->download_full) {
			schedule(e, d, ST_DOWNLOAD, 0);
		} else {
			d->last_result = SIM_RESULT_INSTALLING;
			schedule(e, d, ST_INSTALLED, e->o->install_ms);
		}
	} else if (step == ST_INSTALLED && !w->reason[0] && d->fate != SIM_FATE_FAIL) {
		d->last_result = SIM_RESULT_REBOOTING;
		schedule(e, d, ST_BOOTED, e->o->reboot_ms);
	} else {
		d->step = (uint8_t)step;
		update_closed(e, d);
	}
}

/* A 2xx answer to step. */
static void step_ok(struct engine *e, struct sim_device *d, struct xfer *x)
{
	switch (x->step) {
	case ST_POLL:
		poll_done(e, d, x);
		break;
	case ST_CONFIG:
		d->work->config_done = true;
		after_poll(e, d);
		break;
	case ST_DEPLOY:
		deploy_done(e, d, x);
		break;
	case ST_DOWNLOAD:
		download_done(e, d, x);
		break;
	case ST_CANCEL: {
		struct lp_diag diag;

		lp_diag_clear(&diag);
		if (sim_parse_cancel(x->body ? x->body : "", x->len, d->work->cancel_id, &diag) < 0) {
			e->s->errors[SIM_ERR_MALFORMED]++;
			step_failed(e, d, ST_CANCEL);
		} else {
			schedule(e, d, ST_CANCEL_FB, 0);
		}
		break;
	}
	case ST_CANCEL_FB:
		snprintf(d->last_action, sizeof(d->last_action), "%s", d->work->cancel_id);
		d->last_result = SIM_RESULT_CANCELED;
		e->s->canceled++;
		end_work(d);
		schedule(e, d, ST_POLL, 0);
		break;
	default:
		feedback_done(e, d, x->step);
		break;
	}
}

/* A non-2xx answer: 404/409/410 on an update step mean the backend closed or withdrew
 * the action (given up, poll again); the rest is retried. */
static void step_refused(struct engine *e, struct sim_device *d, enum step step, long status)
{
	if (status > 0 && status < 600)
		e->s->http_errors[status]++;
	if (step == ST_CONFIG) {
		d->work->config_done = true; /* the backend asks again if it still wants it */
		after_poll(e, d);
		return;
	}
	if (step != ST_POLL && (status == 404 || status == 409 || status == 410)) {
		d->last_result = SIM_RESULT_ABANDONED;
		end_work(d);
		schedule_poll(e, d);
		return;
	}
	step_failed(e, d, step);
}

static void step_done(struct engine *e, struct xfer *x, CURLcode cc)
{
	struct sim_device *d = x->dev;
	long status = 0;

	curl_multi_remove_handle(e->m, x->h);
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	e->s->requests++;
	if (d->fate == SIM_FATE_SILENT && since_t0(e) >= e->o->silent_after_ms) {
		d->silent_now = true;
		end_work(d);
	} else if (cc != CURLE_OK) {
		count_curl_error(e, x, cc);
		step_failed(e, d, x->step);
	} else {
		if (x->step == ST_POLL)
			sim_stats_poll_latency(e->s, lp_clock_mono_us() - x->t_us);
		if (status >= 200 && status < 300)
			step_ok(e, d, x);
		else
			step_refused(e, d, x->step, status);
	}
	lp_hash_free(x->sha);
	x->sha = NULL;
	x->dev = NULL;
	if (x->cap > 64 * 1024) { /* a large answer's buffer is not kept */
		free(x->body);
		x->body = NULL;
		x->cap = 0;
	}
	e->free_x[e->n_free++] = (unsigned)(x - e->x);
}

/* ---- setup and the loop ---- */

static int easy_setup(struct engine *e, struct xfer *x)
{
	const struct sim_opts *o = e->o;
	CURL *h = curl_easy_init();

	if (!h)
		return -ENOMEM;
	x->h = h;
	if (curl_easy_setopt(h, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SHARE, e->sh) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "loopline-devsim") != CURLE_OK ||
	    (o->cacert && curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert) != CURLE_OK))
		return -EINVAL;
	return 0;
}

static int engine_init(struct engine *e, struct lp_diag *diag)
{
	unsigned n = e->o->connections;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return lp_diag_fail(diag, -ENOMEM, "libcurl could not start");
	e->m = curl_multi_init();
	e->sh = curl_share_init();
	e->x = calloc(n, sizeof(*e->x));
	e->free_x = calloc(n, sizeof(*e->free_x));
	e->heap = calloc(e->f->n ? e->f->n : 1, sizeof(*e->heap));
	if (!e->m || !e->sh || !e->x || !e->free_x || !e->heap)
		return lp_diag_fail(diag, -ENOMEM, "out of memory");
	curl_share_setopt(e->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(e->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(e->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
	curl_multi_setopt(e->m, CURLMOPT_MAXCONNECTS, (long)n);
	curl_multi_setopt(e->m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	e->nx = n;
	for (unsigned i = 0; i < n; i++) {
		if (easy_setup(e, &e->x[i]) < 0)
			return lp_diag_fail(diag, -EINVAL, "libcurl refused an option (is %s readable?)",
					    e->o->cacert ? e->o->cacert : "the CA store");
		e->free_x[e->n_free++] = n - 1 - i;
	}
	e->rng = e->o->seed * 0x9e3779b97f4a7c15ull + 1;
	/* first polls spread over --ramp */
	for (size_t i = 0; i < e->f->n; i++) {
		struct sim_device *d = &e->f->devs[i];

		d->due_ms = 0;
		schedule(e, d, ST_POLL, (uint64_t)(uniform(e) * (double)e->o->ramp_ms));
	}
	return 0;
}

static void engine_free(struct engine *e)
{
	for (unsigned i = 0; e->x && i < e->nx; i++) {
		struct xfer *x = &e->x[i];

		if (x->dev)
			curl_multi_remove_handle(e->m, x->h);
		curl_easy_cleanup(x->h);
		curl_slist_free_all(x->hdrs);
		lp_hash_free(x->sha);
		free(x->body);
	}
	for (size_t i = 0; i < e->f->n; i++)
		end_work(&e->f->devs[i]);
	curl_multi_cleanup(e->m);
	curl_share_cleanup(e->sh);
	free(e->x);
	free(e->free_x);
	free(e->heap);
	curl_global_cleanup();
}

/* Starts the steps that are due while transfers are free; silent devices drop out. */
static void start_due(struct engine *e, uint64_t now)
{
	while (e->n_free && e->heap_n && e->heap[0]->due_ms <= now) {
		struct sim_device *d = heap_pop(e);

		if (d->fate == SIM_FATE_SILENT && now - e->s->t0_ms >= e->o->silent_after_ms) {
			d->silent_now = true;
			end_work(d);
			continue;
		}
		if (step_start(e, d) < 0) {
			log_warn("%s: cannot start a request (out of memory?)", d->cid);
			step_failed(e, d, (enum step)d->step);
		}
	}
}

static void collect(struct engine *e)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(e->m, &left))) {
		struct xfer *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x)
			step_done(e, x, msg->data.result);
	}
}

static bool should_stop(const struct engine *e, uint64_t now)
{
	if (sim_stop_signal)
		return true;
	if (e->o->duration_ms && now - e->s->t0_ms >= e->o->duration_ms)
		return true;
	return e->o->until_path && access(e->o->until_path, F_OK) == 0;
}

int sim_engine_run(const struct sim_opts *o, struct sim_fleet *f, struct sim_stats *s,
		   struct lp_diag *diag)
{
	struct engine e = { .o = o, .f = f, .s = s };
	uint64_t next_progress, stop_at = 0;
	int r, running = 0;

	s->t0_ms = lp_clock_mono_ms();
	s->wall0_ms = lp_clock_wall_ms();
	next_progress = s->t0_ms + PROGRESS_MS;
	r = engine_init(&e, diag);
	while (r == 0) {
		uint64_t now = lp_clock_mono_ms();
		int wait_ms = 200;

		if (!e.stopping && should_stop(&e, now)) {
			e.stopping = true;
			stop_at = now + STOP_GRACE_MS;
		}
		if (e.stopping && (e.n_free == e.nx || now >= stop_at))
			break;
		if (!e.stopping)
			start_due(&e, now);
		if (!e.stopping && e.n_free && e.heap_n) {
			uint64_t due = e.heap[0]->due_ms;

			wait_ms = due <= now ? 0 : due - now < 200 ? (int)(due - now) : 200;
		}
		curl_multi_poll(e.m, NULL, 0, wait_ms, NULL);
		curl_multi_perform(e.m, &running);
		collect(&e);
		if (o->progress && now >= next_progress) {
			sim_print_progress(f, s, now, e.nx - e.n_free);
			next_progress = now + PROGRESS_MS;
		}
	}
	engine_free(&e);
	return r;
}

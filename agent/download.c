/* SPDX-License-Identifier: MIT */
/*
 * Download straight into the install path. The package reader pulls bytes; each pull
 * drives a curl multi transfer that fills a fixed buffer (and is paused while the buffer
 * is full), so memory stays bounded whatever the package size and nothing is spooled to
 * disk. After a dropped connection the transfer resumes with Range from the next byte the
 * reader has not seen; network errors and 5xx back off exponentially with jitter, a 4xx
 * ends the attempt.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ddi.h"
#include "loopline/clock.h"
#include "loopline/log.h"

#define DL_BUFFER (64 * 1024)
#define DL_TICK_MS 250 /* how often the other backends get a chance while downloading */

struct dl {
	const struct agent_config *cfg;
	struct agent_ddi *ddi;
	CURLM *multi;
	CURL *h;
	struct curl_slist *headers;
	const char *url;
	uint64_t size;       /* expected (0 = unknown) */
	uint64_t received;   /* offset of the next byte we need */
	uint64_t skip;       /* bytes of the current response to drop */
	uint8_t *buf;
	size_t start, len;
	bool added, paused, finished, checked;
	bool cancelled;      /* the tick said the operator cancelled the update */
	CURLcode result;
	long status;
	int64_t range_start; /* from Content-Range, -1 if none */
	unsigned attempt;
	agent_progress_fn progress;
	void *progress_ctx;
	uint64_t last_progress_ms;
	agent_tick_fn tick;
	void *tick_ctx;
	uint64_t last_tick_ms;
	char why[512];
};

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct dl *d = ctx;
	size_t len = size * n;
	char line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		d->range_start = -1; /* a new response (redirects have several) */
	} else if (strncasecmp(line, "Content-Range:", 14) == 0) {
		unsigned long long start;

		if (sscanf(line + 14, " bytes %llu-", &start) == 1)
			d->range_start = (int64_t)start;
	}
	return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct dl *d = ctx;
	size_t len = size * n, drop;

	if (!d->checked) {
		long code = 0;

		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &code);
		if (code == 206) {
			if (d->range_start != (int64_t)d->received) {
				snprintf(d->why, sizeof(d->why),
					 "%s: the server resumed at byte %" PRId64 ", not %" PRIu64, d->url,
					 d->range_start, d->received);
				return 0;
			}
		} else if (d->received > 0) {
			/* The Range was ignored: the body starts at byte 0 again. */
			d->skip = d->received;
		}
		d->checked = true;
	}
	drop = d->skip < len ? (size_t)d->skip : len;
	if (len - drop > DL_BUFFER - d->len) {
		d->paused = true;
		return CURL_WRITEFUNC_PAUSE; /* curl hands the same bytes again later */
	}
	if (d->start + d->len + (len - drop) > DL_BUFFER) {
		memmove(d->buf, d->buf + d->start, d->len);
		d->start = 0;
	}
	memcpy(d->buf + d->start + d->len, p + drop, len - drop);
	d->len += len - drop;
	d->skip -= drop;
	d->received += len - drop;
	return len;
}

static int start(struct dl *d)
{
	int r;

	if (d->added) {
		curl_multi_remove_handle(d->multi, d->h);
		d->added = false;
	}
	curl_slist_free_all(d->headers);
	d->headers = NULL;
	r = agent_ddi_setup(d->ddi, d->h, d->url, &d->headers);
	if (r < 0) {
		snprintf(d->why, sizeof(d->why), "%s: only https:// downloads are allowed", d->url);
		return r;
	}
	curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->headers);
	curl_easy_setopt(d->h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(d->h, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(d->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(d->h, CURLOPT_HEADERDATA, d);
	curl_easy_setopt(d->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(d->h, CURLOPT_LOW_SPEED_TIME, (long)d->cfg->dl_stall_timeout_s);
	if (d->received > 0)
		curl_easy_setopt(d->h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->received);
	d->finished = d->checked = d->paused = false;
	d->range_start = -1;
	d->skip = 0;
	d->status = 0;
	d->result = CURLE_OK;
	if (curl_multi_add_handle(d->multi, d->h) != CURLM_OK)
		return -ENOMEM;
	d->added = true;
	return 0;
}

/* Waits up to ms, waking early for a stop request. */
static int backoff_wait(unsigned ms)
{
	uint64_t deadline = lp_clock_deadline_ms(ms);

	while (!agent_stop_requested) {
		int left = lp_clock_ms_left(deadline);

		if (left == 0)
			return 0;
		poll(NULL, 0, left > 200 ? 200 : left);
	}
	return -EINTR;
}

static unsigned backoff_ms(const struct agent_config *cfg, unsigned attempt)
{
	uint64_t ms = cfg->dl_backoff_min_ms;

	for (unsigned i = 1; i < attempt && ms < cfg->dl_backoff_max_ms; i++)
		ms *= 2;
	if (ms > cfg->dl_backoff_max_ms)
		ms = cfg->dl_backoff_max_ms;
	/* ±25 % jitter so a fleet does not retry in lockstep */
	return (unsigned)(ms * 3 / 4 + (uint64_t)random() % (ms / 2 + 1));
}

/* The transfer ended: decide between end of data, retry and failure. */
static int settle(struct dl *d)
{
	bool retry;

	if (d->result == CURLE_OK) {
		if (d->size == 0 || d->received >= d->size)
			return 0;
		snprintf(d->why, sizeof(d->why), "%s: connection closed at byte %" PRIu64 " of %" PRIu64,
			 d->url, d->received, d->size);
		retry = true;
	} else if (d->result == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(d->why, sizeof(d->why), "%s: HTTP %ld", d->url, d->status);
		retry = d->status >= 500 || d->status == 408 || d->status == 429;
	} else if (d->result == CURLE_WRITE_ERROR && d->why[0]) {
		retry = false; /* our own refusal, already explained */
	} else if (d->result == CURLE_UNSUPPORTED_PROTOCOL || d->result == CURLE_URL_MALFORMAT ||
		   d->result == CURLE_OUT_OF_MEMORY) {
		snprintf(d->why, sizeof(d->why), "%s: %s", d->url, curl_easy_strerror(d->result));
		retry = false;
	} else {
		snprintf(d->why, sizeof(d->why), "%s: %s at byte %" PRIu64, d->url,
			 curl_easy_strerror(d->result), d->received);
		retry = true;
	}
	if (!retry)
		return -EPROTO;
	if (++d->attempt >= d->cfg->dl_max_attempts) {
		size_t l = strlen(d->why);

		snprintf(d->why + l, sizeof(d->why) - l, " (gave up after %u attempts)", d->attempt);
		return -EIO;
	}
	{
		unsigned ms = backoff_ms(d->cfg, d->attempt);

		log_warn("download interrupted (%s); resuming from byte %" PRIu64 " in %u ms", d->why,
			 d->received, ms);
		if (backoff_wait(ms) < 0) {
			snprintf(d->why, sizeof(d->why), "stopped during the download");
			return -EINTR;
		}
	}
	d->why[0] = '\0';
	return start(d) < 0 ? -EIO : 1;
}

/* Lets the poller serve the other backends; the transfer waits meanwhile (curl keeps the
 * connection, the server's send buffer fills up). */
static void dl_tick(struct dl *d)
{
	if (!d->tick || d->cancelled || lp_clock_mono_ms() - d->last_tick_ms < DL_TICK_MS)
		return;
	if (d->tick(d->tick_ctx)) {
		d->cancelled = true;
		snprintf(d->why, sizeof(d->why), "cancelled by the operator during the download");
	}
	d->last_tick_ms = lp_clock_mono_ms();
}

static ssize_t dl_read(void *ctx, void *out, size_t len)
{
	struct dl *d = ctx;
	size_t n;

	while (d->len == 0) {
		CURLMsg *msg;
		int running = 0, left;

		if (agent_stop_requested) {
			snprintf(d->why, sizeof(d->why), "stopped during the download");
			return -EINTR;
		}
		if (d->cancelled)
			return -ECANCELED;
		if (d->finished) {
			int r = settle(d);

			if (r <= 0)
				return r;
			continue;
		}
		if (d->paused) {
			d->paused = false;
			curl_easy_pause(d->h, CURLPAUSE_CONT);
		}
		curl_multi_perform(d->multi, &running);
		while ((msg = curl_multi_info_read(d->multi, &left))) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == d->h) {
				d->finished = true;
				d->result = msg->data.result;
				curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
			}
		}
		if (!d->finished && d->len == 0 && !d->paused)
			curl_multi_poll(d->multi, NULL, 0, d->tick ? DL_TICK_MS : 1000, NULL);
		dl_tick(d);
	}
	n = d->len < len ? d->len : len;
	memcpy(out, d->buf + d->start, n);
	d->start += n;
	d->len -= n;
	if (d->len == 0)
		d->start = 0;
	dl_tick(d);
	if (d->progress &&
	    lp_clock_mono_ms() - d->last_progress_ms >= (uint64_t)d->cfg->dl_progress_interval_s * 1000) {
		d->last_progress_ms = lp_clock_mono_ms();
		d->progress(d->progress_ctx, d->received - d->len, d->size);
	}
	return (ssize_t)n;
}

static const char *dl_why(void *ctx)
{
	struct dl *d = ctx;

	return d->why[0] ? d->why : NULL;
}

int agent_download_install(const struct agent_ctx *ctx, struct agent_ddi *ddi, const char *url,
			   uint64_t size, const char *action_id, agent_progress_fn progress,
			   void *progress_ctx, agent_tick_fn tick, void *tick_ctx,
			   struct lp_diag *diag)
{
	struct dl d = {
		.cfg = ctx->cfg, .ddi = ddi, .url = url, .size = size, .progress = progress,
		.progress_ctx = progress_ctx, .last_progress_ms = lp_clock_mono_ms(), .tick = tick,
		.tick_ctx = tick_ctx, .last_tick_ms = lp_clock_mono_ms(),
	};
	struct agent_source src = { .read = dl_read, .ctx = &d, .why = dl_why };
	int r;

	d.buf = malloc(DL_BUFFER);
	d.multi = curl_multi_init();
	d.h = agent_ddi_download_handle(ddi);
	if (!d.buf || !d.multi) {
		r = -ENOMEM;
		goto out;
	}
	r = start(&d);
	if (r < 0) {
		lp_diag_fail(diag, r, "%s", d.why[0] ? d.why : "cannot start the download");
		goto out;
	}
	r = agent_install_stream(ctx, &src, agent_ddi_backend(ddi)->name, action_id, diag);
out:
	if (d.added)
		curl_multi_remove_handle(d.multi, d.h);
	curl_slist_free_all(d.headers);
	if (d.multi)
		curl_multi_cleanup(d.multi);
	free(d.buf);
	return r;
}

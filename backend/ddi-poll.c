/* SPDX-License-Identifier: MIT */
/*
 * The DDI root resource, the hot path: what a device should do next and when to ask
 * again. Only cached statements inside the poll's read transaction; the last-seen time
 * goes into the worker's batch. The answer is planned first (links and sleep), then
 * written front to back into a bounded buffer; nothing is patched afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ddi.h"

#define POLL_BODY_MAX 4096
#define POLL_LINKS_MAX 3

struct poll_plan {
	unsigned sleep;
	size_t n_links;
	const char *rel[POLL_LINKS_MAX];
	char tail[POLL_LINKS_MAX][96];  /* after <base>/<tenant>/controller/v1/<cid>/ */
};

/* A bounded JSON writer: the caller writes the structure, jb_str escapes strings. */
struct jbuf {
	char buf[POLL_BODY_MAX];
	size_t len;
	bool overflow;
};

static void jb_mem(struct jbuf *b, const char *s, size_t n)
{
	if (b->overflow || b->len + n >= sizeof(b->buf)) {
		b->overflow = true;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void jb_raw(struct jbuf *b, const char *s)
{
	jb_mem(b, s, strlen(s));
}

/* A JSON string's contents: runs of plain characters are copied at once. */
static void jb_str(struct jbuf *b, const char *s)
{
	static const char special[] = "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
		"\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";
	char esc[8];

	for (;;) {
		size_t n = strcspn(s, special);

		jb_mem(b, s, n);
		if (!s[n])
			return;
		if (s[n] == '"' || s[n] == '\\')
			snprintf(esc, sizeof(esc), "\\%c", s[n]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)s[n]);
		jb_raw(b, esc);
		s += n + 1;
	}
}

static int32_t action_etag(int64_t id, const char *type, bool window_open)
{
	int64_t salt = window_open ? 1249 : strcmp(type, "forced") == 0 ? 1231 : 1237;

	return (int32_t)(uint32_t)((uint64_t)id * 2654435761u + (uint64_t)salt * 31u);
}

/* A new link of the plan; the caller writes its tail. */
static char *add_link(struct poll_plan *p, const char *rel)
{
	p->rel[p->n_links] = rel;
	return p->tail[p->n_links++];
}

/* The open action's link, or none when its maintenance window has passed (the action is
 * canceled after this poll, as hawkBit does). A pending window shortens the interval. */
static void plan_action(struct ddi *d, const struct be_action *a, int64_t now, struct poll_plan *p)
{
	const struct be_config *cfg = d->r->cfg;
	bool open = a->maint && now >= a->maint_start && now < a->maint_end;

	if (strcmp(a->status, "CANCELING") == 0) {
		snprintf(add_link(p, "cancelAction"), sizeof(p->tail[0]), "cancelAction/%lld",
			 (long long)a->id);
		return;
	}
	if (a->maint && now >= a->maint_end) {
		d->lapsed = *a;
		return;
	}
	snprintf(add_link(p, "deploymentBase"), sizeof(p->tail[0]), "deploymentBase/%lld?c=%d",
		 (long long)a->id, action_etag(a->id, a->type, open));
	if (a->maint && now < a->maint_start) {
		int64_t until = (a->maint_start - now) / 3;

		if (until < (int64_t)p->sleep)
			p->sleep = until < (int64_t)cfg->poll_min_sleep_s ?
				cfg->poll_min_sleep_s : (unsigned)until;
	}
}

static int plan(struct ddi *d, struct poll_plan *p)
{
	const struct be_config *cfg = d->r->cfg;
	struct be_action a;
	int64_t installed;
	int r;

	memset(p, 0, sizeof(*p));
	p->sleep = cfg->poll_sleep_s;
	r = be_store_action_open(d->s, d->dev.id, &a);
	if (r == 0)
		plan_action(d, &a, be_now(), p);
	else if (r != -ENOENT)
		return r;
	r = be_store_action_installed(d->s, d->dev.id, &installed);
	if (r == 0)
		snprintf(add_link(p, "installedBase"), sizeof(p->tail[0]), "installedBase/%lld",
			 (long long)installed);
	else if (r != -ENOENT)
		return r;
	if (d->dev.request_attributes)
		snprintf(add_link(p, "configData"), sizeof(p->tail[0]), "configData");
	if (cfg->poll_jitter_percent) {
		int64_t span = (int64_t)p->sleep * cfg->poll_jitter_percent / 100;
		int64_t v = (int64_t)p->sleep - span +
			    (int64_t)(be_worker_random(d->r->w) % (uint32_t)(2 * span + 1));

		p->sleep = v < (int64_t)cfg->poll_min_sleep_s ? cfg->poll_min_sleep_s : (unsigned)v;
	}
	if (p->sleep > 86399)
		p->sleep = 86399;
	return 0;
}

/* {"config":{"polling":{"sleep":"HH:MM:SS"}},"_links":{"rel":{"href":"…"},…}} */
static void write_body(const struct ddi *d, const struct poll_plan *p, struct jbuf *b)
{
	char sleep[16];

	snprintf(sleep, sizeof(sleep), "%02u:%02u:%02u", p->sleep / 3600, p->sleep / 60 % 60,
		 p->sleep % 60);
	jb_raw(b, "{\"config\":{\"polling\":{\"sleep\":\"");
	jb_raw(b, sleep);
	jb_raw(b, "\"}}");
	for (size_t i = 0; i < p->n_links; i++) {
		jb_raw(b, i ? ",\"" : ",\"_links\":{\"");
		jb_raw(b, p->rel[i]);
		jb_raw(b, "\":{\"href\":\"");
		jb_str(b, d->base);
		jb_raw(b, "/");
		jb_str(b, d->tenant);
		jb_raw(b, "/controller/v1/");
		jb_str(b, d->cid);
		jb_raw(b, "/");
		jb_str(b, p->tail[i]);
		jb_raw(b, "\"}");
	}
	if (p->n_links)
		jb_raw(b, "}");
	jb_raw(b, "}");
}

void ddi_poll(struct ddi *d)
{
	struct be_req *r = d->r;
	const char *accept = be_header(r, "Accept"), *inm = be_header(r, "If-None-Match");
	uint64_t h = 14695981039346656037ull;
	struct poll_plan p;
	struct jbuf b;
	char etag[24];

	if (plan(d, &p) < 0) {
		ddi_internal(r, "cannot read the device's actions");
		return;
	}
	b.len = 0;
	b.overflow = false;
	write_body(d, &p, &b);
	be_worker_note_seen(r->w, d->s, d->dev.id, r->ip);
	if (b.overflow) {
		ddi_internal(r, "poll answer too long");
		return;
	}
	/* ETag of the answer: a client sending it back in If-None-Match gets 304. */
	for (size_t i = 0; i < b.len; i++)
		h = (h ^ (uint8_t)b.buf[i]) * 1099511628211ull;
	snprintf(etag, sizeof(etag), "\"%016llx\"", (unsigned long long)h);
	be_add_header(r, "ETag", etag);
	if (inm && strcmp(inm, etag) == 0) {
		be_reply_empty(r, 304);
		return;
	}
	be_reply_buffer(r, 200, accept && strstr(accept, "application/json") &&
			!strstr(accept, "hal+json") ? "application/json" : "application/hal+json",
			b.buf, b.len);
}

/* hawkBit cancels an action whose maintenance schedule lapsed while polling; so do we. */
void ddi_cancel_lapsed(struct ddi *d)
{
	const char *msg = "Canceled: the maintenance window has passed";
	struct be_action_change c = {
		.entry = { .time = be_now(), .status = "CANCELED", .messages = &msg, .n_messages = 1 },
		.closes = true,
		.event = "action.canceled",
		.event_message = "maintenance window passed",
	};

	snprintf(d->lapsed.device_cid, sizeof(d->lapsed.device_cid), "%s", d->cid);
	/* -ESTALE: closed meanwhile by a feedback; other errors are logged by the store and
	 * the next poll tries again. */
	be_store_action_change(d->s, &d->lapsed, &c);
}

/* SPDX-License-Identifier: MIT */
/* The tenant's event log: what happened to devices, actions, packages and tokens. */
#include <errno.h>

#include "store-internal.h"

static const char SQL_EVENT_ADD[] =
	"INSERT INTO events(time, type, device, action_id, message) VALUES(?, ?, ?, ?, ?)";
static const char SQL_EVENTS_COUNT[] =
	"SELECT count(*) FROM events WHERE id > ?1 AND (?2 IS NULL OR type = ?2)";
static const char SQL_EVENTS_LIST[] =
	"SELECT id, time, type, device, action_id, message FROM events"
	" WHERE id > ?1 AND (?2 IS NULL OR type = ?2) ORDER BY id LIMIT ?3 OFFSET ?4";

int be_store_event(struct be_store *s, const char *type, const char *device, int64_t action,
		   const char *message)
{
	struct sq q;

	sq_prepare(&q, s, SQL_EVENT_ADD);
	sq_bind_int(&q, 1, be_now());
	sq_bind_text(&q, 2, type);
	sq_bind_text(&q, 3, device);
	if (action > 0)
		sq_bind_int(&q, 4, action);
	sq_bind_text(&q, 5, message ? message : "");
	return sq_exec(&q);
}

struct event_filter {
	int64_t after;
	const char *type;
};

static void bind_filter(struct sq *q, const void *filter)
{
	const struct event_filter *f = filter;

	sq_bind_int(q, 1, f->after);
	sq_bind_text(q, 2, f->type);
}

struct event_cb {
	int (*cb)(void *ctx, const struct be_event *e);
	void *ctx;
};

static int list_row(struct sq *q, void *ctx)
{
	struct event_cb *c = ctx;
	struct be_event e = {
		.id = sq_int(q, 0),
		.time = sq_int(q, 1),
		.type = sq_text(q, 2),
		.device = sq_null(q, 3) ? NULL : sq_text(q, 3),
		.action = sq_null(q, 4) ? 0 : sq_int(q, 4),
		.message = sq_text(q, 5),
	};

	return c->cb(c->ctx, &e);
}

int be_store_events_list(struct be_store *s, int64_t after, const char *type,
			 const struct be_page *p, int (*cb)(void *ctx, const struct be_event *e),
			 void *ctx, int64_t *ret_total)
{
	struct event_filter f = { after, type };
	struct event_cb c = { cb, ctx };

	return store_list(s, SQL_EVENTS_COUNT, SQL_EVENTS_LIST, bind_filter, &f, 2, p, list_row,
			  &c, ret_total);
}

/* SPDX-License-Identifier: MIT */
/*
 * Private to the store modules (store*.c): the store object and a small query helper.
 * Nothing outside store*.c includes this file or sqlite3.h.
 *
 * A query (struct sq) takes a statement from the connection's cache (prepared once, keyed
 * by the address of its SQL text, so every SQL string is a static array), binds, steps and
 * is finished. Errors are sticky: after the first failure every later call is a no-op and
 * sq_finish() returns that error, so a function can bind, step and finish and check once.
 * A failing SQLite call is logged here, once, with the database's message.
 */
#pragma once

#include <sqlite3.h>

#include "backend.h"

#define STORE_CACHE_SLOTS 128 /* distinct statements per connection (about 70 today) */

struct store_slot {
	const char *sql;   /* key: the address of a static SQL string */
	sqlite3_stmt *st;
	bool busy;         /* in use by an unfinished query */
};

struct be_store {
	sqlite3 *db;
	char tenant[BE_NAME_MAX];
	char dir[BE_PATH_MAX];   /* data_dir/tenants/NAME */
	unsigned txn_depth;      /* be_store_begin nesting (outermost = BEGIN IMMEDIATE) */
	bool reading;            /* inside be_store_read_begin/end */
	bool cache_full_logged;
	struct store_slot cache[STORE_CACHE_SLOTS];
};

struct sq {
	struct be_store *s;
	sqlite3_stmt *st;
	struct store_slot *slot; /* NULL: an uncached statement, finalized by sq_finish */
	const char *sql;
	int rc;                  /* first error, 0 if none */
};

/* Takes the cached statement for sql (a static string) or prepares it. */
void sq_prepare(struct sq *q, struct be_store *s, const char *sql);
void sq_bind_int(struct sq *q, int i, int64_t v);
/* NULL binds SQL NULL. The text must stay valid until sq_finish. */
void sq_bind_text(struct sq *q, int i, const char *v);
/* 1: a row, 0: done, <0: error (-EEXIST for a UNIQUE/PRIMARY KEY conflict, unlogged). */
int sq_step(struct sq *q);
/* Resets the statement for its next use; returns the query's first error or 0. */
int sq_finish(struct sq *q);
/* One step that must complete (an INSERT/UPDATE/DELETE), then sq_finish. */
int sq_exec(struct sq *q);

int64_t sq_int(struct sq *q, int col);
/* "" for NULL. Valid until the next step or sq_finish. */
const char *sq_text(struct sq *q, int col);
bool sq_null(struct sq *q, int col);
/* Copies a text column into buf (truncating at len - 1). */
void sq_copy(struct sq *q, int col, char *buf, size_t len);

/* Rows changed by the last completed INSERT/UPDATE/DELETE of this connection. */
int64_t store_changes(struct be_store *s);
int64_t store_last_rowid(struct be_store *s);
/* Ends a function's own transaction: commits if r >= 0, else (or if the commit fails)
 * rolls back. Returns r, or the commit's error. */
int store_end(struct be_store *s, int r);

/* store-actions.c, for store-rollouts.c: a new action of one device (its open actions are
 * canceled first), and asking a device to cancel its open actions. */
int store_action_create(struct be_store *s, const struct be_deployment *d, int64_t device,
			const char *cid, int64_t *ret_id);
int store_action_cancel_open(struct be_store *s, int64_t device, int64_t only_action,
			     const char *why);

/* store-uploads.c, for store-packages.c: the upload's file, and forgetting its row. */
int store_upload_file(struct be_store *s, const struct be_upload *u, char *buf, size_t len);
int store_upload_forget(struct be_store *s, const struct be_upload *u);

/* A paged list: count_sql gives the total, list_sql the rows. Both take the filter's
 * n_filter parameters first (bound by bind); list_sql then takes LIMIT and OFFSET. row is
 * called for each row; a negative return stops the list and is returned. */
int store_list(struct be_store *s, const char *count_sql, const char *list_sql,
	       void (*bind)(struct sq *q, const void *filter), const void *filter, int n_filter,
	       const struct be_page *p, int (*row)(struct sq *q, void *ctx), void *ctx,
	       int64_t *ret_total);

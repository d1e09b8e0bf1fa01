/* SPDX-License-Identifier: MIT */
/*
 * The store's core: opening and migrating a tenant's database, the per-connection cache
 * of prepared statements, the query helper (store-internal.h) and transactions. What the
 * store holds is in store-devices.c, store-actions.c, store-packages.c, store-uploads.c,
 * store-events.c, store-tokens.c, store-releases.c and store-alarms.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/log.h"
#include "store-internal.h"

static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE tokens(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
	"  label TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
	"CREATE TABLE devices(id INTEGER PRIMARY KEY, controller_id TEXT NOT NULL UNIQUE,"
	"  token_hash TEXT, created INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0,"
	"  last_ip TEXT NOT NULL DEFAULT '', request_attributes INTEGER NOT NULL DEFAULT 1,"
	"  installed_name TEXT NOT NULL DEFAULT '', installed_version TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE device_attributes(device_id INTEGER NOT NULL REFERENCES devices(id),"
	"  key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(device_id, key));"
	"CREATE TABLE device_tags(device_id INTEGER NOT NULL REFERENCES devices(id),"
	"  tag TEXT NOT NULL, PRIMARY KEY(device_id, tag));"
	"CREATE INDEX device_tags_tag ON device_tags(tag);"
	"CREATE TABLE packages(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
	"  version TEXT NOT NULL, part TEXT NOT NULL, filename TEXT NOT NULL, size INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL, sha1 TEXT NOT NULL, md5 TEXT NOT NULL, created INTEGER NOT NULL,"
	"  manifest TEXT);"
	"CREATE TABLE uploads(id TEXT PRIMARY KEY, filename TEXT NOT NULL, size INTEGER NOT NULL,"
	"  opaque INTEGER NOT NULL, version TEXT NOT NULL DEFAULT '', part TEXT NOT NULL DEFAULT '',"
	"  name TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, ranges TEXT NOT NULL DEFAULT '[]');"
	"CREATE TABLE actions(id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES devices(id),"
	"  package_id INTEGER REFERENCES packages(id), command TEXT, type TEXT NOT NULL,"
	"  status TEXT NOT NULL, active INTEGER NOT NULL, maint_start INTEGER, maint_end INTEGER,"
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE INDEX actions_device ON actions(device_id, active, id);"
	"CREATE TABLE action_status(id INTEGER PRIMARY KEY, action_id INTEGER NOT NULL REFERENCES actions(id),"
	"  time INTEGER NOT NULL, status TEXT NOT NULL, code INTEGER, messages TEXT NOT NULL);"
	"CREATE INDEX action_status_action ON action_status(action_id, id);"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, type TEXT NOT NULL,"
	"  device TEXT, action_id INTEGER, message TEXT NOT NULL DEFAULT '');",
	/* 2: releases and their gate results and approvals (docs/rollouts.md) */
	"CREATE TABLE releases(id INTEGER PRIMARY KEY, version TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  gate_decision TEXT, gate_run INTEGER, gate_summary TEXT, gate_spec_sha256 TEXT,"
	"  gate_report TEXT, gate_passed INTEGER, gate_failed INTEGER, gate_time INTEGER,"
	"  approved_by TEXT, approved_time INTEGER, override_reason TEXT);"
	"CREATE TABLE release_packages(release_id INTEGER NOT NULL REFERENCES releases(id),"
	"  package_id INTEGER NOT NULL REFERENCES packages(id), PRIMARY KEY(release_id, package_id));",
	/* 3: rollouts in waves and their members (docs/rollouts.md) */
	"CREATE TABLE rollouts(id INTEGER PRIMARY KEY, release_id INTEGER NOT NULL REFERENCES releases(id),"
	"  name TEXT NOT NULL, state TEXT NOT NULL, target TEXT NOT NULL, waves TEXT NOT NULL,"
	"  soak_s INTEGER NOT NULL, success_pct INTEGER NOT NULL, error_pct INTEGER NOT NULL,"
	"  seed INTEGER NOT NULL, type TEXT NOT NULL, window_start INTEGER, window_minutes INTEGER,"
	"  wave INTEGER NOT NULL DEFAULT -1, wave_started INTEGER NOT NULL DEFAULT 0,"
	"  errors_acked INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
	"  created_by TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE INDEX rollouts_state ON rollouts(state);"
	"CREATE TABLE rollout_devices(rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
	"  device_id INTEGER NOT NULL REFERENCES devices(id), wave INTEGER NOT NULL,"
	"  rank INTEGER NOT NULL, action_id INTEGER REFERENCES actions(id),"
	"  skipped INTEGER NOT NULL DEFAULT 0, joined INTEGER NOT NULL,"
	"  PRIMARY KEY(rollout_id, device_id));"
	"CREATE INDEX rollout_devices_wave ON rollout_devices(rollout_id, wave, action_id);",
	/* 4: alarms: channels, rules, raised alarms, the delivery outbox and the evaluator's
	 * cursor over the event log (docs/alarms.md); history before this migration raises
	 * nothing */
	"CREATE TABLE alarm_channels(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL, config TEXT NOT NULL, created INTEGER NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE alarm_rules(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}', dedupe_s INTEGER NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL);"
	"CREATE TABLE alarm_rule_channels(rule_id INTEGER NOT NULL REFERENCES alarm_rules(id),"
	"  channel_id INTEGER NOT NULL REFERENCES alarm_channels(id), PRIMARY KEY(rule_id, channel_id));"
	"CREATE TABLE alarms(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, rule_id INTEGER,"
	"  rule TEXT NOT NULL, kind TEXT NOT NULL, level TEXT NOT NULL, device TEXT,"
	"  rollout TEXT, title TEXT NOT NULL, text TEXT NOT NULL, dedupe_key TEXT NOT NULL,"
	"  event_id INTEGER, suppressed INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX alarms_dedupe ON alarms(dedupe_key, suppressed, time);"
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY, alarm_id INTEGER NOT NULL REFERENCES alarms(id),"
	"  channel_id INTEGER NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,"
	"  last_error TEXT NOT NULL DEFAULT '', sent_time INTEGER);"
	"CREATE INDEX outbox_due ON outbox(state, next_attempt);"
	"CREATE INDEX outbox_alarm ON outbox(alarm_id);"
	"INSERT INTO settings(key, value) SELECT 'alarm_cursor', coalesce(max(id), 0) FROM events;",
	/* 5: delta packages and which package a device was offered (docs/backend.md, "Deltas") */
	"ALTER TABLE packages ADD COLUMN delta_base TEXT;"
	"ALTER TABLE packages ADD COLUMN delta_base_sha256 TEXT;"
	"ALTER TABLE actions ADD COLUMN offered_package INTEGER;"
	"CREATE TABLE delta_failures(device_id INTEGER NOT NULL REFERENCES devices(id),"
	"  package_id INTEGER NOT NULL REFERENCES packages(id), time INTEGER NOT NULL,"
	"  PRIMARY KEY(device_id, package_id));",
};

_Static_assert(LP_ARRAY_SIZE(migrations) == BE_SCHEMA_VERSION,
	       "BE_SCHEMA_VERSION must be the number of migrations");

static const char SQL_BEGIN_WRITE[] = "BEGIN IMMEDIATE";
static const char SQL_BEGIN_READ[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT nested";
static const char SQL_RELEASE[] = "RELEASE nested";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO nested";
static const char SQL_VERSION[] = "SELECT max(version) FROM schema_version";
static const char SQL_SET_VERSION[] = "INSERT INTO schema_version VALUES(?)";

int64_t be_now(void)
{
	struct timespec ts;

	/* Not time(): on Linux it reads the coarse clock, which can lag a few
	 * milliseconds behind gettimeofday() and so behind other programs' seconds. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void be_store_tune_global(void)
{
	/* Before the first connection. No global allocation statistics: they take a
	 * process-wide mutex on every malloc. */
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		log_debug("sqlite: cannot turn off memory statistics (already initialised)");
}

/* ---- queries ---- */

static int sqlite_errno(int code)
{
	switch (code & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

static void sq_fail(struct sq *q, int code, const char *what)
{
	if (q->rc)
		return;
	q->rc = sqlite_errno(code);
	log_error("%s: sqlite %s: %s (%.60s)", q->s->tenant, what, sqlite3_errmsg(q->s->db), q->sql);
}

static struct store_slot *cache_slot(struct be_store *s, const char *sql)
{
	size_t h = (size_t)(((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull >> 40);

	for (size_t i = 0; i < STORE_CACHE_SLOTS; i++) {
		struct store_slot *slot = &s->cache[(h + i) % STORE_CACHE_SLOTS];

		if (slot->sql == sql || !slot->sql)
			return slot;
	}
	return NULL;
}

void sq_prepare(struct sq *q, struct be_store *s, const char *sql)
{
	struct store_slot *slot = cache_slot(s, sql);
	int rc;

	memset(q, 0, sizeof(*q));
	q->s = s;
	q->sql = sql;
	if (slot && slot->sql == sql && !slot->busy) {
		q->st = slot->st;
		q->slot = slot;
		slot->busy = true;
		return;
	}
	if (!slot && !s->cache_full_logged) {
		log_warn("%s: statement cache full; preparing statements each time", s->tenant);
		s->cache_full_logged = true;
	}
	/* A busy slot (the same statement used inside its own loop) gets a private copy. */
	rc = sqlite3_prepare_v3(s->db, sql, -1, slot && !slot->sql ? SQLITE_PREPARE_PERSISTENT : 0,
				&q->st, NULL);
	if (rc != SQLITE_OK) {
		q->st = NULL;
		sq_fail(q, rc, "prepare");
		return;
	}
	if (slot && !slot->sql) {
		slot->sql = sql;
		slot->st = q->st;
		slot->busy = true;
		q->slot = slot;
	}
}

void sq_bind_int(struct sq *q, int i, int64_t v)
{
	int rc;

	if (q->rc)
		return;
	rc = sqlite3_bind_int64(q->st, i, v);
	if (rc != SQLITE_OK)
		sq_fail(q, rc, "bind");
}

void sq_bind_text(struct sq *q, int i, const char *v)
{
	int rc;

	if (q->rc)
		return;
	rc = v ? sqlite3_bind_text(q->st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(q->st, i);
	if (rc != SQLITE_OK)
		sq_fail(q, rc, "bind");
}

int sq_step(struct sq *q)
{
	int rc;

	if (q->rc)
		return q->rc;
	rc = sqlite3_step(q->st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT) {
		int ext = sqlite3_extended_errcode(q->s->db);

		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
			q->rc = -EEXIST; /* the caller's answer, not a failure of the store */
			return q->rc;
		}
	}
	sq_fail(q, rc, "step");
	return q->rc;
}

int sq_finish(struct sq *q)
{
	if (q->st) {
		if (q->slot) {
			sqlite3_reset(q->st); /* its result repeats the step's, handled there */
			sqlite3_clear_bindings(q->st);
			q->slot->busy = false;
		} else {
			sqlite3_finalize(q->st);
		}
	}
	q->st = NULL;
	q->slot = NULL;
	return q->rc;
}

int sq_exec(struct sq *q)
{
	int r = sq_step(q);

	if (r > 0 && !q->rc) {
		q->rc = -EIO;
		log_error("%s: sqlite: a write returned rows (%.60s)", q->s->tenant, q->sql);
	}
	return sq_finish(q);
}

int64_t sq_int(struct sq *q, int col)
{
	return sqlite3_column_int64(q->st, col);
}

const char *sq_text(struct sq *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q->st, col);

	return t ? (const char *)t : "";
}

bool sq_null(struct sq *q, int col)
{
	return sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

void sq_copy(struct sq *q, int col, char *buf, size_t len)
{
	snprintf(buf, len, "%s", sq_text(q, col));
}

int64_t store_changes(struct be_store *s)
{
	return sqlite3_changes64(s->db);
}

int64_t store_last_rowid(struct be_store *s)
{
	return sqlite3_last_insert_rowid(s->db);
}

int store_list(struct be_store *s, const char *count_sql, const char *list_sql,
	       void (*bind)(struct sq *q, const void *filter), const void *filter, int n_filter,
	       const struct be_page *p, int (*row)(struct sq *q, void *ctx), void *ctx,
	       int64_t *ret_total)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, count_sql);
	if (bind)
		bind(&q, filter);
	if (sq_step(&q) > 0)
		*ret_total = sq_int(&q, 0);
	if ((r = sq_finish(&q)) < 0)
		return r;
	sq_prepare(&q, s, list_sql);
	if (bind)
		bind(&q, filter);
	sq_bind_int(&q, n_filter + 1, p->limit);
	sq_bind_int(&q, n_filter + 2, p->offset);
	while ((r = sq_step(&q)) > 0)
		if ((r = row(&q, ctx)) < 0)
			break;
	sq_finish(&q);
	return r < 0 ? r : 0;
}

static int run(struct be_store *s, const char *sql)
{
	struct sq q;

	sq_prepare(&q, s, sql);
	return sq_exec(&q);
}

/* ---- transactions ---- */

int be_store_begin(struct be_store *s)
{
	int r = run(s, s->txn_depth ? SQL_SAVEPOINT : SQL_BEGIN_WRITE);

	if (r == 0)
		s->txn_depth++;
	return r;
}

int be_store_commit(struct be_store *s)
{
	int r;

	if (!s->txn_depth) {
		log_error("%s: commit without a transaction", s->tenant);
		return -EINVAL;
	}
	r = run(s, s->txn_depth > 1 ? SQL_RELEASE : SQL_COMMIT);
	if (r == 0)
		s->txn_depth--;
	return r;
}

void be_store_rollback(struct be_store *s)
{
	if (!s->txn_depth)
		return;
	if (s->txn_depth > 1) {
		/* undo the nested part and end the savepoint; the outer transaction goes on */
		if (run(s, SQL_ROLLBACK_TO) < 0 || run(s, SQL_RELEASE) < 0)
			log_error("%s: cannot roll back a nested transaction", s->tenant);
	} else if (sqlite3_get_autocommit(s->db) == 0 && run(s, SQL_ROLLBACK) < 0) {
		log_error("%s: cannot roll back", s->tenant);
	}
	s->txn_depth--;
}

int store_end(struct be_store *s, int r)
{
	if (r >= 0) {
		int c = be_store_commit(s);

		if (c == 0)
			return r;
		r = c;
	}
	be_store_rollback(s);
	return r;
}

int be_store_read_begin(struct be_store *s)
{
	int r;

	if (s->txn_depth || s->reading)
		return 0;
	r = run(s, SQL_BEGIN_READ);
	s->reading = r == 0;
	return r;
}

void be_store_read_end(struct be_store *s)
{
	if (!s->reading)
		return;
	s->reading = false;
	run(s, SQL_COMMIT); /* a read transaction has nothing to lose; a failure is logged */
}

/* ---- opening ---- */

static int tenant_dir(const char *data_dir, const char *tenant, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/tenants/%s", data_dir, tenant);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

const char *be_store_tenant(const struct be_store *s)
{
	return s->tenant;
}

int be_store_path(const struct be_store *s, const char *sub, char *buf, size_t len)
{
	return lp_fs_path_join(buf, len, s->dir, sub);
}

bool be_store_exists(const char *data_dir, const char *tenant)
{
	char p[BE_PATH_MAX];
	struct stat st;
	int n;

	if (!be_name_valid(tenant))
		return false;
	n = snprintf(p, sizeof(p), "%s/tenants/%s/store.db", data_dir, tenant);
	if (n < 0 || (size_t)n >= sizeof(p))
		return false;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int exec_script(struct be_store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("%s: sqlite: %s", s->tenant, err ? err : sqlite3_errmsg(s->db));
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

static int store_version(struct be_store *s, int *ret)
{
	struct sq q;
	int r = exec_script(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_VERSION);
	r = sq_step(&q);
	*ret = r > 0 ? (int)sq_int(&q, 0) : 0;
	return sq_finish(&q);
}

static int store_migrate(struct be_store *s)
{
	int version, r;

	r = be_store_begin(s);
	if (r < 0)
		return r;
	r = store_version(s, &version);
	if (r < 0)
		return store_end(s, r);
	if (version > (int)LP_ARRAY_SIZE(migrations)) {
		log_error("%s: database schema %d is newer than this backend (%zu)", s->tenant,
			  version, LP_ARRAY_SIZE(migrations));
		return store_end(s, -EPROTONOSUPPORT);
	}
	for (int v = version; v < (int)LP_ARRAY_SIZE(migrations) && r == 0; v++) {
		struct sq q;

		r = exec_script(s, migrations[v]);
		if (r < 0)
			break;
		sq_prepare(&q, s, SQL_SET_VERSION);
		sq_bind_int(&q, 1, v + 1);
		r = sq_exec(&q);
		if (r == 0)
			log_debug("%s: migrated store to schema %d", s->tenant, v + 1);
	}
	return store_end(s, r);
}

/* data_dir/tenants/NAME and its packages/, uploads/ and keys/ */
static int create_dirs(const struct be_store *s)
{
	static const char *const subdirs[] = { "packages", "uploads", "keys" };
	char p[BE_PATH_MAX];
	int r;

	if ((r = lp_fs_mkdir_p(s->dir, 0750)) < 0)
		return r;
	for (size_t i = 0; i < LP_ARRAY_SIZE(subdirs); i++)
		if ((r = be_store_path(s, subdirs[i], p, sizeof(p))) < 0 ||
		    (r = lp_fs_mkdir_p(p, 0750)) < 0)
			return r;
	return 0;
}

int be_store_open(const char *data_dir, const char *tenant, bool create, struct be_store **ret)
{
	struct be_store *s;
	char p[BE_PATH_MAX + 16];
	int r, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if (!be_name_valid(tenant))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
	r = tenant_dir(data_dir, tenant, s->dir, sizeof(s->dir) - 80);
	if (r < 0)
		goto fail;
	if (create) {
		if ((r = create_dirs(s)) < 0) {
			log_error("%s: %s", s->dir, strerror(-r));
			goto fail;
		}
		flags |= SQLITE_OPEN_CREATE;
	}
	snprintf(p, sizeof(p), "%s/store.db", s->dir);
	if (sqlite3_open_v2(p, &s->db, flags, NULL) != SQLITE_OK) {
		log_error("%s: %s", p, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		r = create ? -EIO : -ENOENT;
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = exec_script(s, "PRAGMA journal_mode=WAL")) < 0 ||
	    (r = exec_script(s, "PRAGMA synchronous=NORMAL")) < 0 ||
	    (r = exec_script(s, "PRAGMA foreign_keys=ON")) < 0 ||
	    (r = store_migrate(s)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	be_store_close(s);
	return r;
}

void be_store_close(struct be_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < STORE_CACHE_SLOTS; i++)
		sqlite3_finalize(s->cache[i].st);
	if (s->db)
		sqlite3_close_v2(s->db);
	free(s);
}

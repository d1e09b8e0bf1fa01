/* SPDX-License-Identifier: MIT */
/*
 * The per-tenant store: data_dir/tenants/NAME/store.db (SQLite, WAL) plus the
 * content-addressed package directory data_dir/tenants/NAME/packages/<sha256>.
 * The schema is versioned; migrations run in order inside one transaction each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loopline/log.h"
#include "backend.h"

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
};

int64_t be_now(void)
{
	struct timespec ts;

	/* Not time(): on Linux it reads the coarse clock, which can lag a few
	 * milliseconds behind gettimeofday() and so behind other programs' seconds. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static int tenant_dir(const char *data_dir, const char *tenant, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/tenants/%s", data_dir, tenant);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int be_store_path(const struct be_store *s, const char *sub, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", s->dir, sub);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
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

int be_store_exec(struct be_store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("%s: sqlite: %s", s->tenant, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

int be_store_prepare(struct be_store *s, const char *sql, sqlite3_stmt **ret)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK) {
		log_error("%s: sqlite prepare: %s", s->tenant, sqlite3_errmsg(s->db));
		*ret = NULL;
		return -EIO;
	}
	return 0;
}

int be_store_begin(struct be_store *s)
{
	return be_store_exec(s, "BEGIN IMMEDIATE");
}

int be_store_commit(struct be_store *s)
{
	return be_store_exec(s, "COMMIT");
}

void be_store_rollback(struct be_store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int store_version(struct be_store *s, int *ret)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = be_store_exec(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
	if (r < 0)
		return r;
	r = be_store_prepare(s, "SELECT max(version) FROM schema_version", &st);
	if (r < 0)
		return r;
	*ret = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

static int store_migrate(struct be_store *s)
{
	int version, r;
	char sql[64];

	r = be_store_begin(s);
	if (r < 0)
		return r;
	r = store_version(s, &version);
	if (r < 0)
		goto fail;
	if (version > (int)LP_ARRAY_SIZE(migrations)) {
		log_error("%s: database schema %d is newer than this backend (%zu)", s->tenant,
			  version, LP_ARRAY_SIZE(migrations));
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	for (int v = version; v < (int)LP_ARRAY_SIZE(migrations); v++) {
		r = be_store_exec(s, migrations[v]);
		if (r < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES(%d)", v + 1);
		r = be_store_exec(s, sql);
		if (r < 0)
			goto fail;
		log_debug("%s: migrated store to schema %d", s->tenant, v + 1);
	}
	return be_store_commit(s);
fail:
	be_store_rollback(s);
	return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int be_store_open(const char *data_dir, const char *tenant, bool create, struct be_store **ret)
{
	struct be_store *s;
	char p[BE_PATH_MAX + 64];
	int r, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if (!be_name_valid(tenant))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
	r = tenant_dir(data_dir, tenant, s->dir, sizeof(s->dir) - 64);
	if (r < 0)
		goto fail;
	if (create) {
		char t[BE_PATH_MAX + 16];

		snprintf(t, sizeof(t), "%s/tenants", data_dir);
		if ((r = mkdir_p(data_dir, 0750)) < 0 || (r = mkdir_p(t, 0750)) < 0 ||
		    (r = mkdir_p(s->dir, 0750)) < 0)
			goto fail;
		flags |= SQLITE_OPEN_CREATE;
	}
	snprintf(p, sizeof(p), "%s/packages", s->dir);
	if (create && (r = mkdir_p(p, 0750)) < 0)
		goto fail;
	snprintf(p, sizeof(p), "%s/uploads", s->dir);
	if (create && (r = mkdir_p(p, 0750)) < 0)
		goto fail;
	snprintf(p, sizeof(p), "%s/keys", s->dir);
	if (create && (r = mkdir_p(p, 0750)) < 0)
		goto fail;
	snprintf(p, sizeof(p), "%s/store.db", s->dir);
	if (sqlite3_open_v2(p, &s->db, flags, NULL) != SQLITE_OK) {
		log_error("%s: %s", p, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		r = create ? -EIO : -ENOENT;
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = be_store_exec(s, "PRAGMA journal_mode=WAL")) < 0 ||
	    (r = be_store_exec(s, "PRAGMA synchronous=NORMAL")) < 0 ||
	    (r = be_store_exec(s, "PRAGMA foreign_keys=ON")) < 0 ||
	    (r = store_migrate(s)) < 0)
		goto fail;
	if ((r = be_store_prepare(s, "SELECT id, token_hash, request_attributes FROM devices"
				  " WHERE controller_id = ?", &s->st_device)) < 0 ||
	    (r = be_store_prepare(s, "SELECT id, status, type, maint_start, maint_end FROM actions"
				  " WHERE device_id = ? AND active = 1 ORDER BY id LIMIT 1",
				  &s->st_active)) < 0 ||
	    (r = be_store_prepare(s, "SELECT id FROM actions WHERE device_id = ? AND active = 0"
				  " AND status = 'FINISHED' AND package_id IS NOT NULL"
				  " ORDER BY id DESC LIMIT 1", &s->st_installed)) < 0 ||
	    /* batches of several workers (and a worker's queued ones) reach the writer in any
	     * order: an older time must never overwrite a newer one */
	    (r = be_store_prepare(s, "UPDATE devices SET last_seen = ?1, last_ip = ?2"
				  " WHERE id = ?3 AND last_seen <= ?1", &s->st_lastseen)) < 0 ||
	    (r = be_store_prepare(s, "SELECT value FROM settings WHERE key = 'gateway_token_hash'",
				  &s->st_gateway)) < 0 ||
	    (r = be_store_prepare(s, "BEGIN", &s->st_begin_read)) < 0 ||
	    (r = be_store_prepare(s, "COMMIT", &s->st_end_read)) < 0)
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
	sqlite3_finalize(s->st_device);
	sqlite3_finalize(s->st_active);
	sqlite3_finalize(s->st_installed);
	sqlite3_finalize(s->st_lastseen);
	sqlite3_finalize(s->st_gateway);
	sqlite3_finalize(s->st_begin_read);
	sqlite3_finalize(s->st_end_read);
	if (s->db)
		sqlite3_close_v2(s->db);
	free(s);
}

int be_store_event(struct be_store *s, const char *type, const char *device, int64_t action,
		   const char *message)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = be_store_prepare(s, "INSERT INTO events(time, type, device, action_id, message)"
			     " VALUES(?, ?, ?, ?, ?)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, be_now());
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	if (device)
		sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
	if (action > 0)
		sqlite3_bind_int64(st, 4, action);
	sqlite3_bind_text(st, 5, message ? message : "", -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

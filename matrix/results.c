/* SPDX-License-Identifier: MIT */
/*
 * The matrix history: one SQLite database (WAL, synchronous=FULL) in the out directory.
 * All of loopline-matrix's SQL lives in this file.
 *
 * Crash-point doctrine (agent/state.c): every write is one explicit transaction
 * (BEGIN IMMEDIATE … COMMIT) and a function that stores something returns only after its
 * COMMIT returned, so what it acknowledged survives a SIGKILL of the runner or a power cut
 * (WAL + synchronous=FULL fsyncs the log at each commit). A runner killed in between
 * leaves its run "running" with some results "running"; the next mx_db_open marks such a
 * run "interrupted" (if its process is gone) and its unfinished cases ERROR/infra
 * ("runner stopped"), so no reader ever takes a half-written run for a finished one.
 * mx_db_test_point() after each durable step lets tests kill the process right there.
 *
 * Schema (PRAGMA user_version; migrations run in order, each in one transaction):
 *   runs(id, spec_path, spec_name, spec_sha256, started_ms, finished_ms, state, host, pid,
 *        proc_start, options, dir, previous_id)
 *   results(id, run_id, combo_key, scenario, axes JSON, components JSON, required, status,
 *           class, attempts, started_ms, duration_ms, subject_ms, failed_step, message,
 *           console_excerpt, log_dir)                 UNIQUE(run_id, combo_key, scenario)
 *   attempts(run_id, combo_key, scenario, number, status, class, started_ms, duration_ms,
 *            failed_step, message, log_dir)           PK(run_id, combo_key, scenario, number)
 *   components(run_id, kind, value, source, hash)     PK(run_id, kind, value)
 *   expected(run_id, combo_key, scenario, required, axes)  PK(run_id, combo_key, scenario)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "matrix.h"

#define DB_JSON_MAX (256u * 1024)     /* an axes or components column */
#define DB_ROWS_MAX ((size_t)MX_COMBOS_MAX * MX_SCENARIOS_MAX)
#define DB_BUSY_MS 10000

static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE runs(id INTEGER PRIMARY KEY,"
	"  spec_path TEXT NOT NULL, spec_name TEXT NOT NULL, spec_sha256 TEXT NOT NULL,"
	"  started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL CHECK(state IN ('running','finished','interrupted')),"
	"  host TEXT NOT NULL, pid INTEGER NOT NULL, proc_start TEXT NOT NULL DEFAULT '',"
	"  options TEXT NOT NULL DEFAULT '', dir TEXT NOT NULL DEFAULT '',"
	"  previous_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX runs_spec ON runs(spec_name, id);"
	"CREATE INDEX runs_state ON runs(state);"
	"CREATE TABLE results(id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  combo_key TEXT NOT NULL, scenario TEXT NOT NULL,"
	"  axes TEXT NOT NULL DEFAULT '{}', components TEXT NOT NULL DEFAULT '{}',"
	"  required INTEGER NOT NULL CHECK(required IN (0,1)),"
	"  status TEXT NOT NULL CHECK(status IN ('pass','fail','error','flaky','skipped','running')),"
	"  class TEXT NOT NULL CHECK(class IN ('none','product','infra')),"
	"  attempts INTEGER NOT NULL, started_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
	"  subject_ms INTEGER NOT NULL, failed_step TEXT NOT NULL, message TEXT NOT NULL,"
	"  console_excerpt TEXT NOT NULL, log_dir TEXT NOT NULL,"
	"  UNIQUE(run_id, combo_key, scenario));"
	"CREATE INDEX results_case ON results(combo_key, scenario, run_id);"
	"CREATE TABLE attempts(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  combo_key TEXT NOT NULL, scenario TEXT NOT NULL, number INTEGER NOT NULL CHECK(number >= 1),"
	"  status TEXT NOT NULL CHECK(status IN ('pass','fail','error','flaky','skipped','running')),"
	"  class TEXT NOT NULL CHECK(class IN ('none','product','infra')),"
	"  started_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
	"  failed_step TEXT NOT NULL, message TEXT NOT NULL, log_dir TEXT NOT NULL,"
	"  PRIMARY KEY(run_id, combo_key, scenario, number));"
	"CREATE TABLE components(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL, hash TEXT NOT NULL,"
	"  PRIMARY KEY(run_id, kind, value));"
	"CREATE TABLE expected(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  combo_key TEXT NOT NULL, scenario TEXT NOT NULL,"
	"  required INTEGER NOT NULL CHECK(required IN (0,1)), axes TEXT NOT NULL DEFAULT '{}',"
	"  PRIMARY KEY(run_id, combo_key, scenario));",
};

struct mx_db {
	sqlite3 *db;
	char path[PATH_MAX];
	char dir[PATH_MAX];
	struct lp_diag diag;
};

/* ---- names ---- */

static const char *const status_names[MX_STATUS_COUNT] = {
	[MX_STATUS_PASS] = "pass",     [MX_STATUS_FAIL] = "fail",
	[MX_STATUS_ERROR] = "error",   [MX_STATUS_FLAKY] = "flaky",
	[MX_STATUS_SKIPPED] = "skipped", [MX_STATUS_RUNNING] = "running",
};
static const char *const class_names[MX_CLASS_COUNT] = {
	[MX_CLASS_NONE] = "none", [MX_CLASS_PRODUCT] = "product", [MX_CLASS_INFRA] = "infra",
};

const char *mx_status_name(enum mx_status s)
{
	return (unsigned)s < MX_STATUS_COUNT ? status_names[s] : "invalid";
}

int mx_status_parse(const char *s, enum mx_status *ret)
{
	for (unsigned i = 0; i < MX_STATUS_COUNT; i++)
		if (strcmp(s, status_names[i]) == 0) {
			*ret = (enum mx_status)i;
			return 0;
		}
	return -EINVAL;
}

const char *mx_class_name(enum mx_class c)
{
	return (unsigned)c < MX_CLASS_COUNT ? class_names[c] : "invalid";
}

static int class_parse(const char *s, enum mx_class *ret)
{
	for (unsigned i = 0; i < MX_CLASS_COUNT; i++)
		if (strcmp(s, class_names[i]) == 0) {
			*ret = (enum mx_class)i;
			return 0;
		}
	return -EINVAL;
}

void mx_result_clear(struct mx_result *r)
{
	if (!r)
		return;
	cJSON_Delete(r->axes);
	cJSON_Delete(r->components);
	memset(r, 0, sizeof(*r));
}

void mx_results_free(struct mx_result *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++)
		mx_result_clear(&r[i]);
	free(r);
}

/* ---- the crash-point hook ---- */

void mx_db_test_point(const char *point)
{
	static unsigned seen[16];
	static const char *names[16];
	const char *want = getenv("LOOPLINE_MATRIX_CRASH_AT");
	size_t n = strlen(point);
	unsigned long nth = 1;
	size_t slot;

	if (!want || strncmp(want, point, n) != 0 || (want[n] != '\0' && want[n] != ':'))
		return;
	if (want[n] == ':') {
		char *end;

		nth = strtoul(want + n + 1, &end, 10);
		if (*end || nth == 0)
			return;
	}
	for (slot = 0; slot < LP_ARRAY_SIZE(names) && names[slot] && names[slot] != point; slot++)
		;
	if (slot == LP_ARRAY_SIZE(names))
		return;
	names[slot] = point;
	if (++seen[slot] == nth)
		raise(SIGKILL); /* stand-in for a power cut: nothing after this point runs */
}

/* ---- errors ---- */

static int errno_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CONSTRAINT:
		return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : -EINVAL;
	default:
		return -EIO;
	}
}

/* Sets the diag from SQLite's state and returns the errno for rc. */
static int db_fail(struct mx_db *db, int rc, const char *what)
{
	lp_diag_clear(&db->diag);
	lp_diag_set_file(&db->diag, db->path);
	lp_diag_fail(&db->diag, 0, "%s: %s", what,
		     db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
	return errno_from_sqlite(rc);
}

static int db_fail_errno(struct mx_db *db, int err, const char *fmt, ...) LP_PRINTF(3, 4);
static int db_fail_errno(struct mx_db *db, int err, const char *fmt, ...)
{
	va_list ap;
	char msg[LP_DIAG_MSG_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_diag_clear(&db->diag);
	lp_diag_set_file(&db->diag, db->path);
	return lp_diag_fail(&db->diag, err, "%s", msg);
}

const struct lp_diag *mx_db_diag(const struct mx_db *db)
{
	return &db->diag;
}

const char *mx_db_dir(const struct mx_db *db)
{
	return db->dir;
}

/* ---- statements ---- */

static int db_exec(struct mx_db *db, const char *what, const char *sql)
{
	int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(db, rc, what);
}

static int db_prepare(struct mx_db *db, const char *what, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(db->db, sql, -1, ret, NULL);

	if (rc != SQLITE_OK) {
		*ret = NULL;
		return db_fail(db, rc, what);
	}
	return 0;
}

/* Binds parameters 1.. from types: 's' const char *, 'I' int64_t, 'i' int. */
static int db_bind(struct mx_db *db, sqlite3_stmt *st, const char *what, const char *types, ...)
{
	va_list ap;
	int rc = SQLITE_OK;

	va_start(ap, types);
	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 's':
			rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
			break;
		case 'I':
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		default:
			rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int));
			break;
		}
	}
	va_end(ap);
	return rc == SQLITE_OK ? 0 : db_fail(db, rc, what);
}

/* One step: 1 for a row, 0 when done, or -errno. */
static int db_step(struct mx_db *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(db, rc, what);
}

/* Steps a statement that returns no rows. */
static int db_step_done(struct mx_db *db, sqlite3_stmt *st, const char *what)
{
	int r = db_step(db, st, what);

	return r > 0 ? db_fail_errno(db, -EIO, "%s: unexpected row", what) : r;
}

/* Copies a text column (NOT NULL in the schema); a longer value is cut at len - 1. */
static int db_col_text(struct mx_db *db, sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	if (!s) {
		if (sqlite3_errcode(db->db) == SQLITE_NOMEM)
			return db_fail(db, SQLITE_NOMEM, "read column");
		s = (const unsigned char *)"";
	}
	snprintf(buf, len, "%s", (const char *)s);
	return 0;
}

static int db_col_json(struct mx_db *db, sqlite3_stmt *st, int col, const char *what,
		       cJSON **ret)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	int len = sqlite3_column_bytes(st, col);
	struct lp_diag d;
	int r;

	if (!s)
		return sqlite3_errcode(db->db) == SQLITE_NOMEM ? db_fail(db, SQLITE_NOMEM, what) : 0;
	lp_diag_clear(&d);
	r = lp_json_parse((const char *)s, (size_t)len, DB_JSON_MAX, 0, ret, &d);
	if (r < 0)
		return db_fail_errno(db, -EBADMSG, "%s: stored JSON is not valid: %s", what, d.msg);
	return 0;
}

static int db_begin(struct mx_db *db)
{
	return db_exec(db, "begin a transaction", "BEGIN IMMEDIATE");
}

static int db_commit(struct mx_db *db)
{
	return db_exec(db, "commit", "COMMIT");
}

static void db_rollback(struct mx_db *db)
{
	int rc;

	/* SQLite may have rolled back already (e.g. after SQLITE_FULL) */
	if (sqlite3_get_autocommit(db->db))
		return;
	rc = sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		log_debug("%s: rollback: %s", db->path, sqlite3_errstr(rc));
}

/* Ends a write: COMMIT on success (the step is durable once it returns), ROLLBACK
 * otherwise. Returns r or the commit's error. */
static int db_end(struct mx_db *db, int r)
{
	if (r >= 0)
		r = db_commit(db);
	if (r < 0)
		db_rollback(db);
	return r;
}

static int db_query_int64(struct mx_db *db, const char *what, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, what, sql, &st);

	if (r >= 0 && (r = db_step(db, st, what)) == 1)
		*ret = sqlite3_column_int64(st, 0);
	else if (r == 0)
		*ret = 0;
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

/* ---- the runner's process: alive on this host? ---- */

/* "<boot_id>:<starttime>" of pid; -errno if /proc cannot tell. ret_zombie (may be NULL):
 * the process has exited and waits to be reaped. */
static int proc_start_of(pid_t pid, char *buf, size_t len, bool *ret_zombie)
{
	char path[64], *stat = NULL, *boot = NULL, *p;
	unsigned long long start = 0;
	int r, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = lp_fs_read_file(path, 4096, &stat, NULL);
	if (r < 0)
		return r;
	r = lp_fs_read_file("/proc/sys/kernel/random/boot_id", 128, &boot, NULL);
	if (r < 0)
		goto out;
	boot[strcspn(boot, "\n")] = '\0';
	/* pid (comm) state ppid …: the command may hold spaces and ')' — start after the
	 * last ')'; field 3 is the state, field 22 the start time */
	p = strrchr(stat, ')');
	r = -EBADMSG;
	if (!p || p[1] != ' ')
		goto out;
	p += 2;
	if (ret_zombie)
		*ret_zombie = *p == 'Z' || *p == 'X';
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &start) != 1)
		goto out;
	r = snprintf(buf, len, "%s:%llu", boot, start) >= (int)len ? -ENAMETOOLONG : 0;
out:
	free(stat);
	free(boot);
	return r;
}

static bool runner_alive(int pid, const char *proc_start)
{
	char now[64];
	bool zombie = false;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	if (proc_start_of(pid, now, sizeof(now), &zombie) < 0)
		return true; /* it exists and /proc cannot say more: assume it is the runner */
	if (zombie)
		return false;
	return !proc_start[0] || strcmp(now, proc_start) == 0;
}

/* ---- open, migrate, recover ---- */

static int db_migrate(struct mx_db *db)
{
	int64_t version = 0;
	char sql[64];
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	/* read inside the transaction: another process may have migrated meanwhile */
	r = db_query_int64(db, "read the schema version", "PRAGMA user_version", &version);
	if (r < 0)
		goto out;
	if (version > (int64_t)LP_ARRAY_SIZE(migrations)) {
		r = db_fail_errno(db, -EPROTONOSUPPORT,
				  "database schema %lld is newer than this " MX_PROG " (%zu)",
				  (long long)version, LP_ARRAY_SIZE(migrations));
		goto out;
	}
	for (size_t v = (size_t)version; v < LP_ARRAY_SIZE(migrations); v++) {
		r = db_exec(db, "migrate the schema", migrations[v]);
		if (r < 0)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", v + 1);
		r = db_exec(db, "set the schema version", sql);
		if (r < 0)
			goto out;
	}
out:
	return db_end(db, r);
}

static int db_host(char *buf, size_t len)
{
	if (gethostname(buf, len) < 0)
		return -errno;
	buf[len - 1] = '\0';
	return 0;
}

static int interrupt_run(struct mx_db *db, int64_t id, int pid, const char *host)
{
	static const char sql_results[] =
		"UPDATE results SET status='error', class='infra', message=?2 "
		"WHERE run_id=?1 AND status='running'";
	static const char sql_attempts[] =
		"UPDATE attempts SET status='error', class='infra', message=?2 "
		"WHERE run_id=?1 AND status='running'";
	static const char sql_run[] =
		"UPDATE runs SET state='interrupted', finished_ms=?2 WHERE id=?1 AND state='running'";
	const char *const sqls[] = { sql_results, sql_attempts };
	char msg[512];
	sqlite3_stmt *st = NULL;
	int r = 0;

	snprintf(msg, sizeof(msg),
		 "runner stopped: the run's process (pid %d on %s) ended before this case finished",
		 pid, host);
	for (size_t i = 0; i < LP_ARRAY_SIZE(sqls) && r >= 0; i++) {
		r = db_prepare(db, "recover an interrupted run", sqls[i], &st);
		if (r >= 0)
			r = db_bind(db, st, "recover an interrupted run", "Is", id, msg);
		if (r >= 0)
			r = db_step_done(db, st, "recover an interrupted run");
		sqlite3_finalize(st);
		st = NULL;
	}
	if (r < 0)
		return r;
	r = db_prepare(db, "mark a run interrupted", sql_run, &st);
	if (r >= 0)
		r = db_bind(db, st, "mark a run interrupted", "II", id, lp_clock_wall_ms());
	if (r >= 0)
		r = db_step_done(db, st, "mark a run interrupted");
	sqlite3_finalize(st);
	return r;
}

/* Runs left "running" by a process of this host that no longer exists become
 * "interrupted". Runs of other hosts are left alone (their process cannot be asked). */
#define DB_RECOVER_MAX 64 /* unfinished runs looked at per open (the oldest first) */

struct unfinished {
	int64_t id;
	int pid;
	char host[256];
	char proc_start[64];
};

static int find_unfinished(struct mx_db *db, struct unfinished *v, size_t *ret_n)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db, "find unfinished runs",
		       "SELECT id, host, pid, proc_start FROM runs WHERE state='running'"
		       " ORDER BY id LIMIT 64", &st);
	while (r >= 0 && n < DB_RECOVER_MAX && (r = db_step(db, st, "find unfinished runs")) == 1) {
		v[n].id = sqlite3_column_int64(st, 0);
		v[n].pid = sqlite3_column_int(st, 2);
		if ((r = db_col_text(db, st, 1, v[n].host, sizeof(v[n].host))) < 0 ||
		    (r = db_col_text(db, st, 3, v[n].proc_start, sizeof(v[n].proc_start))) < 0)
			break;
		n++;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return r < 0 ? r : 0;
}

static int db_recover(struct mx_db *db)
{
	struct unfinished *v;
	char host[256];
	bool changed = false;
	size_t n = 0;
	int r;

	r = db_host(host, sizeof(host));
	if (r < 0)
		return db_fail_errno(db, r, "gethostname: %s", strerror(-r));
	v = calloc(DB_RECOVER_MAX, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = db_begin(db);
	if (r < 0)
		goto out;
	r = find_unfinished(db, v, &n);
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (strcmp(v[i].host, host) != 0 || runner_alive(v[i].pid, v[i].proc_start))
			continue;
		r = interrupt_run(db, v[i].id, v[i].pid, v[i].host);
		changed = true;
	}
	r = db_end(db, r);
	if (r >= 0 && changed)
		mx_db_test_point("recovered");
out:
	free(v);
	return r;
}

static int db_configure(struct mx_db *db)
{
	char mode[16] = "";
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_busy_timeout(db->db, DB_BUSY_MS);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "set the busy timeout");
	rc = sqlite3_extended_result_codes(db->db, 1);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "enable extended result codes");
	r = db_prepare(db, "switch to WAL", "PRAGMA journal_mode=WAL", &st);
	if (r >= 0 && (r = db_step(db, st, "switch to WAL")) == 1)
		r = db_col_text(db, st, 0, mode, sizeof(mode));
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	if (strcmp(mode, "wal") != 0)
		return db_fail_errno(db, -EIO, "journal mode is \"%s\", not WAL", mode);
	/* FULL: in WAL mode each COMMIT fsyncs the log, so a commit that returned survives a
	 * power cut too, not only a killed process */
	r = db_exec(db, "set synchronous=FULL", "PRAGMA synchronous=FULL");
	if (r >= 0)
		r = db_exec(db, "enable foreign keys", "PRAGMA foreign_keys=ON");
	return r;
}

int mx_db_open(const char *path, struct mx_db **ret_db, struct lp_diag *diag)
{
	struct mx_db *db = calloc(1, sizeof(*db));
	int rc, r;

	if (!db)
		return -ENOMEM;
	lp_diag_set_file(diag, path);
	if (snprintf(db->path, sizeof(db->path), "%s", path) >= (int)sizeof(db->path)) {
		r = lp_diag_fail(diag, -ENAMETOOLONG, "path too long");
		goto fail_free;
	}
	lp_diag_clear(&db->diag);
	r = lp_fs_dirname(db->dir, sizeof(db->dir), path);
	if (r >= 0)
		r = lp_fs_mkdir_p(db->dir, 0755);
	if (r < 0) {
		r = lp_diag_fail(diag, r, "cannot create the directory %s: %s", db->dir, strerror(-r));
		goto fail_free;
	}
	rc = sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		r = db_fail(db, rc, "open");
		goto fail;
	}
	r = db_configure(db);
	if (r >= 0)
		r = db_migrate(db);
	if (r >= 0)
		r = db_recover(db);
	if (r < 0)
		goto fail;
	*ret_db = db;
	return 0;
fail:
	lp_diag_fail(diag, r, "%s", db->diag.msg);
	sqlite3_close(db->db);
fail_free:
	free(db);
	return r;
}

void mx_db_close(struct mx_db *db)
{
	if (!db)
		return;
	/* fails only with unfinalized statements, which every function here finalizes */
	if (sqlite3_close(db->db) != SQLITE_OK)
		sqlite3_close_v2(db->db);
	free(db);
}

/* ---- runs ---- */

static const char run_cols[] =
	"id, spec_path, spec_name, spec_sha256, started_ms, finished_ms, state, host, pid, "
	"proc_start, options, dir, previous_id";

static int read_run(struct mx_db *db, sqlite3_stmt *st, struct mx_run_info *ri)
{
	int r;

	memset(ri, 0, sizeof(*ri));
	ri->id = sqlite3_column_int64(st, 0);
	ri->started_ms = sqlite3_column_int64(st, 4);
	ri->finished_ms = sqlite3_column_int64(st, 5);
	ri->pid = sqlite3_column_int(st, 8);
	ri->previous_id = sqlite3_column_int64(st, 12);
	if ((r = db_col_text(db, st, 1, ri->spec_path, sizeof(ri->spec_path))) < 0 ||
	    (r = db_col_text(db, st, 2, ri->spec_name, sizeof(ri->spec_name))) < 0 ||
	    (r = db_col_text(db, st, 3, ri->spec_sha256, sizeof(ri->spec_sha256))) < 0 ||
	    (r = db_col_text(db, st, 6, ri->state, sizeof(ri->state))) < 0 ||
	    (r = db_col_text(db, st, 7, ri->host, sizeof(ri->host))) < 0 ||
	    (r = db_col_text(db, st, 9, ri->proc_start, sizeof(ri->proc_start))) < 0 ||
	    (r = db_col_text(db, st, 10, ri->options, sizeof(ri->options))) < 0 ||
	    (r = db_col_text(db, st, 11, ri->dir, sizeof(ri->dir))) < 0)
		return r;
	return 0;
}

int mx_db_run_begin(struct mx_db *db, struct mx_run_info *info)
{
	static const char sql_prev[] =
		"SELECT coalesce(max(id), 0) FROM runs WHERE spec_name=?";
	static const char sql_insert[] =
		"INSERT INTO runs(spec_path, spec_name, spec_sha256, started_ms, finished_ms, state,"
		"  host, pid, proc_start, options, dir, previous_id)"
		" VALUES(?, ?, ?, ?, 0, 'running', ?, ?, ?, ?, ?, ?)";
	struct mx_run_info ri = *info;
	sqlite3_stmt *st = NULL;
	int r;

	if (!ri.spec_name[0])
		return db_fail_errno(db, -EINVAL, "run begin: no spec name");
	if (!ri.pid)
		ri.pid = (int)getpid();
	if (!ri.host[0] && (r = db_host(ri.host, sizeof(ri.host))) < 0)
		return db_fail_errno(db, r, "gethostname: %s", strerror(-r));
	if (!ri.proc_start[0] && proc_start_of(ri.pid, ri.proc_start, sizeof(ri.proc_start), NULL) < 0)
		ri.proc_start[0] = '\0';
	if (!ri.started_ms)
		ri.started_ms = lp_clock_wall_ms();
	snprintf(ri.state, sizeof(ri.state), "running");
	ri.finished_ms = 0;
	r = db_begin(db);
	if (r < 0)
		return r;
	r = db_prepare(db, "find the previous run", sql_prev, &st);
	if (r >= 0)
		r = db_bind(db, st, "find the previous run", "s", ri.spec_name);
	if (r >= 0 && (r = db_step(db, st, "find the previous run")) == 1)
		ri.previous_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (r >= 0)
		r = db_prepare(db, "insert a run", sql_insert, &st);
	if (r >= 0)
		r = db_bind(db, st, "insert a run", "sssIsisssI", ri.spec_path, ri.spec_name,
			    ri.spec_sha256, ri.started_ms, ri.host, ri.pid, ri.proc_start,
			    ri.options, ri.dir, ri.previous_id);
	if (r >= 0)
		r = db_step_done(db, st, "insert a run");
	sqlite3_finalize(st);
	st = NULL;
	if (r >= 0)
		ri.id = sqlite3_last_insert_rowid(db->db);
	if (r >= 0 && !ri.dir[0]) {
		snprintf(ri.dir, sizeof(ri.dir), "runs/%lld", (long long)ri.id);
		r = db_prepare(db, "set the run directory", "UPDATE runs SET dir=?2 WHERE id=?1", &st);
		if (r >= 0)
			r = db_bind(db, st, "set the run directory", "Is", ri.id, ri.dir);
		if (r >= 0)
			r = db_step_done(db, st, "set the run directory");
		sqlite3_finalize(st);
	}
	r = db_end(db, r);
	if (r < 0)
		return r;
	*info = ri;
	mx_db_test_point("run-begin");
	return 0;
}

int mx_db_run_end(struct mx_db *db, int64_t run_id, const char *state)
{
	static const char sql[] = "UPDATE runs SET state=?2, finished_ms=?3 WHERE id=?1";
	sqlite3_stmt *st = NULL;
	int r;

	if (strcmp(state, "finished") != 0 && strcmp(state, "interrupted") != 0)
		return db_fail_errno(db, -EINVAL, "run end: state \"%s\" is not finished or interrupted",
				     state);
	r = db_begin(db);
	if (r < 0)
		return r;
	r = db_prepare(db, "end a run", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "end a run", "IsI", run_id, state, lp_clock_wall_ms());
	if (r >= 0)
		r = db_step_done(db, st, "end a run");
	sqlite3_finalize(st);
	if (r >= 0 && sqlite3_changes(db->db) != 1)
		r = db_fail_errno(db, -ENOENT, "run %lld does not exist", (long long)run_id);
	r = db_end(db, r);
	if (r >= 0)
		mx_db_test_point("run-end");
	return r;
}

/* Steps st and collects its rows (read_row fills one; free_rows, if set, frees what
 * rows hold on failure); finalizes st. */
typedef int read_row_fn(struct mx_db *db, sqlite3_stmt *st, void *row);
typedef void free_rows_fn(void *rows, size_t n);

static int collect_rows(struct mx_db *db, sqlite3_stmt *st, const char *what, size_t size,
			read_row_fn *read_row, free_rows_fn *free_rows, void **ret, size_t *ret_n)
{
	char *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	while ((r = db_step(db, st, what)) == 1) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char *nv;

			if (ncap > DB_ROWS_MAX) {
				r = db_fail_errno(db, -E2BIG, "%s: more than %zu rows", what, DB_ROWS_MAX);
				break;
			}
			nv = realloc(v, ncap * size);
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		r = read_row(db, st, v + n * size);
		if (r < 0)
			break;
		n++;
	}
	sqlite3_finalize(st);
	if (r < 0) {
		if (free_rows)
			free_rows(v, n);
		else
			free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int read_run_row(struct mx_db *db, sqlite3_stmt *st, void *row)
{
	return read_run(db, st, row);
}

static int run_select(struct mx_db *db, const char *where, int64_t arg, size_t limit,
		      struct mx_run_info **ret, size_t *ret_n)
{
	char sql[512];
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int r;

	snprintf(sql, sizeof(sql), "SELECT %s FROM runs %s ORDER BY id DESC LIMIT ?", run_cols, where);
	r = db_prepare(db, "read runs", sql, &st);
	if (r >= 0)
		r = where[0] ? db_bind(db, st, "read runs", "II", arg, (int64_t)limit)
			     : db_bind(db, st, "read runs", "I", (int64_t)limit);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	r = collect_rows(db, st, "read runs", sizeof(struct mx_run_info), read_run_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	return r;
}

int mx_db_run_get(struct mx_db *db, int64_t run_id, struct mx_run_info *ret_info)
{
	struct mx_run_info *v = NULL;
	size_t n = 0;
	int r;

	if (run_id == 0) {
		r = mx_db_run_latest(db, &run_id);
		if (r < 0)
			return r;
	}
	r = run_select(db, "WHERE id=?", run_id, 1, &v, &n);
	if (r < 0)
		return r;
	if (n == 0) {
		free(v);
		return db_fail_errno(db, -ENOENT, "no run %lld in this history", (long long)run_id);
	}
	*ret_info = v[0];
	free(v);
	return 0;
}

int mx_db_run_latest(struct mx_db *db, int64_t *ret_run_id)
{
	int64_t id = 0;
	int r = db_query_int64(db, "find the latest run", "SELECT coalesce(max(id), 0) FROM runs", &id);

	if (r < 0)
		return r;
	if (id == 0)
		return db_fail_errno(db, -ENOENT, "no runs in this history yet");
	*ret_run_id = id;
	return 0;
}

int mx_db_runs(struct mx_db *db, size_t limit, struct mx_run_info **ret, size_t *ret_n)
{
	return run_select(db, "", 0, limit ? limit : 1, ret, ret_n);
}

/* ---- results ---- */

static char *json_text(const cJSON *j)
{
	return j ? lp_json_print(j) : strdup("{}");
}

static int check_case(struct mx_db *db, int64_t run_id, const char *combo_key,
		      const char *scenario, const char *what)
{
	if (run_id <= 0 || !combo_key[0] || !scenario[0])
		return db_fail_errno(db, -EINVAL, "%s: run, combo key and scenario are required", what);
	return 0;
}

static int result_upsert(struct mx_db *db, const struct mx_result *r, const char *axes,
			 const char *components)
{
	static const char sql[] =
		"INSERT INTO results(run_id, combo_key, scenario, axes, components, required, status,"
		"  class, attempts, started_ms, duration_ms, subject_ms, failed_step, message,"
		"  console_excerpt, log_dir) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
		" ON CONFLICT(run_id, combo_key, scenario) DO UPDATE SET axes=excluded.axes,"
		"  components=excluded.components, required=excluded.required,"
		"  status=excluded.status, class=excluded.class, attempts=excluded.attempts,"
		"  started_ms=excluded.started_ms, duration_ms=excluded.duration_ms,"
		"  subject_ms=excluded.subject_ms, failed_step=excluded.failed_step,"
		"  message=excluded.message, console_excerpt=excluded.console_excerpt,"
		"  log_dir=excluded.log_dir";
	sqlite3_stmt *st = NULL;
	int ret;

	ret = db_prepare(db, "store a result", sql, &st);
	if (ret >= 0)
		ret = db_bind(db, st, "store a result", "Issssissi" "IIIssss", r->run_id, r->combo_key,
			      r->scenario, axes, components, (int)r->required,
			      mx_status_name(r->status), mx_class_name(r->class), (int)r->attempts,
			      r->started_ms, r->duration_ms, r->subject_ms, r->failed_step,
			      r->message, r->console_excerpt, r->log_dir);
	if (ret >= 0)
		ret = db_step_done(db, st, "store a result");
	sqlite3_finalize(st);
	return ret;
}

static int case_id(struct mx_db *db, const struct mx_result *r, int64_t *ret)
{
	static const char sql[] =
		"SELECT id FROM results WHERE run_id=? AND combo_key=? AND scenario=?";
	sqlite3_stmt *st = NULL;
	int x = db_prepare(db, "read a result id", sql, &st);

	if (x >= 0)
		x = db_bind(db, st, "read a result id", "Iss", r->run_id, r->combo_key, r->scenario);
	if (x >= 0 && (x = db_step(db, st, "read a result id")) == 0)
		x = db_fail_errno(db, -EIO, "read a result id: the stored row is not there");
	if (x > 0)
		*ret = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return x < 0 ? x : 0;
}

int mx_db_result_put(struct mx_db *db, struct mx_result *r)
{
	char *axes = NULL, *components = NULL;
	int64_t id = 0;
	int x;

	x = check_case(db, r->run_id, r->combo_key, r->scenario, "store a result");
	if (x < 0)
		return x;
	if ((unsigned)r->status >= MX_STATUS_COUNT || (unsigned)r->class >= MX_CLASS_COUNT)
		return db_fail_errno(db, -EINVAL, "store a result: invalid status or class");
	axes = json_text(r->axes);
	components = json_text(r->components);
	if (!axes || !components) {
		x = -ENOMEM;
		goto out;
	}
	x = db_begin(db);
	if (x < 0)
		goto out;
	x = result_upsert(db, r, axes, components);
	if (x >= 0)
		x = case_id(db, r, &id);
	x = db_end(db, x);
	if (x >= 0) {
		r->id = id;
		mx_db_test_point("result-put");
	}
out:
	free(axes);
	free(components);
	return x;
}

static const char result_cols[] =
	"r.id, r.run_id, r.combo_key, r.scenario, r.axes, r.components, r.required, r.status,"
	" r.class, r.attempts, r.started_ms, r.duration_ms, r.subject_ms, r.failed_step,"
	" r.message, r.console_excerpt, r.log_dir";

static int read_result(struct mx_db *db, sqlite3_stmt *st, struct mx_result *res)
{
	char status[16], class[16];
	int r;

	memset(res, 0, sizeof(*res));
	res->id = sqlite3_column_int64(st, 0);
	res->run_id = sqlite3_column_int64(st, 1);
	res->required = sqlite3_column_int(st, 6) != 0;
	res->attempts = (unsigned)sqlite3_column_int(st, 9);
	res->started_ms = sqlite3_column_int64(st, 10);
	res->duration_ms = sqlite3_column_int64(st, 11);
	res->subject_ms = sqlite3_column_int64(st, 12);
	if ((r = db_col_text(db, st, 2, res->combo_key, sizeof(res->combo_key))) < 0 ||
	    (r = db_col_text(db, st, 3, res->scenario, sizeof(res->scenario))) < 0 ||
	    (r = db_col_json(db, st, 4, "results.axes", &res->axes)) < 0 ||
	    (r = db_col_json(db, st, 5, "results.components", &res->components)) < 0 ||
	    (r = db_col_text(db, st, 7, status, sizeof(status))) < 0 ||
	    (r = db_col_text(db, st, 8, class, sizeof(class))) < 0 ||
	    (r = db_col_text(db, st, 13, res->failed_step, sizeof(res->failed_step))) < 0 ||
	    (r = db_col_text(db, st, 14, res->message, sizeof(res->message))) < 0 ||
	    (r = db_col_text(db, st, 15, res->console_excerpt, sizeof(res->console_excerpt))) < 0 ||
	    (r = db_col_text(db, st, 16, res->log_dir, sizeof(res->log_dir))) < 0)
		goto fail;
	if (mx_status_parse(status, &res->status) < 0 || class_parse(class, &res->class) < 0) {
		r = db_fail_errno(db, -EBADMSG, "result %lld: unknown status or class",
				  (long long)res->id);
		goto fail;
	}
	return 0;
fail:
	mx_result_clear(res);
	return r;
}

static int read_result_row(struct mx_db *db, sqlite3_stmt *st, void *row)
{
	return read_result(db, st, row);
}

static void free_result_rows(void *rows, size_t n)
{
	mx_results_free(rows, n);
}

static int collect_results(struct mx_db *db, sqlite3_stmt *st, const char *what,
			   struct mx_result **ret, size_t *ret_n)
{
	void *v = NULL;
	int r = collect_rows(db, st, what, sizeof(struct mx_result), read_result_row,
			     free_result_rows, &v, ret_n);

	if (r >= 0)
		*ret = v;
	return r;
}

int mx_db_results(struct mx_db *db, int64_t run_id, struct mx_result **ret, size_t *ret_n)
{
	/* plan order when the runner recorded its expectations, key order otherwise */
	char sql[1024];
	sqlite3_stmt *st = NULL;
	int r;

	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM results r LEFT JOIN expected e ON e.run_id=r.run_id"
		 " AND e.combo_key=r.combo_key AND e.scenario=r.scenario WHERE r.run_id=?"
		 " ORDER BY e.rowid IS NULL, e.rowid, r.combo_key, r.scenario", result_cols);
	r = db_prepare(db, "read results", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "read results", "I", run_id);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	return collect_results(db, st, "read results", ret, ret_n);
}

int mx_db_history(struct mx_db *db, const char *combo_key, const char *scenario, size_t limit,
		  struct mx_result **ret, size_t *ret_n)
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	const char *sc = scenario ? " AND scenario=?3" : "";
	int r;

	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM results r WHERE r.combo_key=?1%s AND r.run_id IN"
		 " (SELECT DISTINCT run_id FROM results WHERE combo_key=?1%s"
		 "  ORDER BY run_id DESC LIMIT ?2)"
		 " ORDER BY r.run_id DESC, r.scenario", result_cols,
		 scenario ? " AND r.scenario=?3" : "", sc);
	r = db_prepare(db, "read history", sql, &st);
	if (r >= 0)
		r = scenario ? db_bind(db, st, "read history", "sIs", combo_key,
				       (int64_t)(limit ? limit : 1), scenario)
			     : db_bind(db, st, "read history", "sI", combo_key,
				       (int64_t)(limit ? limit : 1));
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	return collect_results(db, st, "read history", ret, ret_n);
}

/* ---- attempts ---- */

int mx_db_attempt_put(struct mx_db *db, const struct mx_attempt *a)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO attempts(run_id, combo_key, scenario, number, status, class,"
		"  started_ms, duration_ms, failed_step, message, log_dir)"
		" VALUES(?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int r;

	r = check_case(db, a->run_id, a->combo_key, a->scenario, "store an attempt");
	if (r < 0)
		return r;
	if (a->number < 1 || (unsigned)a->status >= MX_STATUS_COUNT ||
	    (unsigned)a->class >= MX_CLASS_COUNT)
		return db_fail_errno(db, -EINVAL, "store an attempt: invalid number, status or class");
	r = db_begin(db);
	if (r < 0)
		return r;
	r = db_prepare(db, "store an attempt", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "store an attempt", "Ississ" "IIsss", a->run_id, a->combo_key,
			    a->scenario, (int)a->number, mx_status_name(a->status),
			    mx_class_name(a->class), a->started_ms, a->duration_ms, a->failed_step,
			    a->message, a->log_dir);
	if (r >= 0)
		r = db_step_done(db, st, "store an attempt");
	sqlite3_finalize(st);
	r = db_end(db, r);
	if (r >= 0)
		mx_db_test_point("attempt-put");
	return r;
}

static int read_attempt(struct mx_db *db, sqlite3_stmt *st, struct mx_attempt *a)
{
	char status[16], class[16];
	int r;

	memset(a, 0, sizeof(*a));
	a->run_id = sqlite3_column_int64(st, 0);
	a->number = (unsigned)sqlite3_column_int(st, 3);
	a->started_ms = sqlite3_column_int64(st, 6);
	a->duration_ms = sqlite3_column_int64(st, 7);
	if ((r = db_col_text(db, st, 1, a->combo_key, sizeof(a->combo_key))) < 0 ||
	    (r = db_col_text(db, st, 2, a->scenario, sizeof(a->scenario))) < 0 ||
	    (r = db_col_text(db, st, 4, status, sizeof(status))) < 0 ||
	    (r = db_col_text(db, st, 5, class, sizeof(class))) < 0 ||
	    (r = db_col_text(db, st, 8, a->failed_step, sizeof(a->failed_step))) < 0 ||
	    (r = db_col_text(db, st, 9, a->message, sizeof(a->message))) < 0 ||
	    (r = db_col_text(db, st, 10, a->log_dir, sizeof(a->log_dir))) < 0)
		return r;
	if (mx_status_parse(status, &a->status) < 0 || class_parse(class, &a->class) < 0)
		return db_fail_errno(db, -EBADMSG, "attempt: unknown status or class");
	return 0;
}

static int read_attempt_row(struct mx_db *db, sqlite3_stmt *st, void *row)
{
	return read_attempt(db, st, row);
}

int mx_db_attempts(struct mx_db *db, int64_t run_id, const char *combo_key, const char *scenario,
		   struct mx_attempt **ret, size_t *ret_n)
{
	static const char sql[] =
		"SELECT run_id, combo_key, scenario, number, status, class, started_ms, duration_ms,"
		" failed_step, message, log_dir FROM attempts WHERE run_id=?1"
		" AND (?2 IS NULL OR combo_key=?2) AND (?3 IS NULL OR scenario=?3)"
		" ORDER BY combo_key, scenario, number";
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int r;

	r = db_prepare(db, "read attempts", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "read attempts", "Iss", run_id, combo_key, scenario);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	r = collect_rows(db, st, "read attempts", sizeof(struct mx_attempt), read_attempt_row, NULL,
			 &v, ret_n);
	if (r >= 0)
		*ret = v;
	return r;
}

/* ---- components ---- */

int mx_db_component_put(struct mx_db *db, const struct mx_run_component *c)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO components(run_id, kind, value, source, hash)"
		" VALUES(?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int r;

	if (c->run_id <= 0 || !c->kind[0] || !c->value[0])
		return db_fail_errno(db, -EINVAL, "store a component: run, kind and value are required");
	r = db_begin(db);
	if (r < 0)
		return r;
	r = db_prepare(db, "store a component", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "store a component", "Issss", c->run_id, c->kind, c->value,
			    c->source, c->hash);
	if (r >= 0)
		r = db_step_done(db, st, "store a component");
	sqlite3_finalize(st);
	r = db_end(db, r);
	if (r >= 0)
		mx_db_test_point("component-put");
	return r;
}

static int read_component_row(struct mx_db *db, sqlite3_stmt *st, void *row)
{
	struct mx_run_component *c = row;
	int r;

	memset(c, 0, sizeof(*c));
	c->run_id = sqlite3_column_int64(st, 0);
	if ((r = db_col_text(db, st, 1, c->kind, sizeof(c->kind))) < 0 ||
	    (r = db_col_text(db, st, 2, c->value, sizeof(c->value))) < 0 ||
	    (r = db_col_text(db, st, 3, c->source, sizeof(c->source))) < 0 ||
	    (r = db_col_text(db, st, 4, c->hash, sizeof(c->hash))) < 0)
		return r;
	return 0;
}

int mx_db_components(struct mx_db *db, int64_t run_id, struct mx_run_component **ret, size_t *ret_n)
{
	static const char sql[] =
		"SELECT run_id, kind, value, source, hash FROM components WHERE run_id=?"
		" ORDER BY kind, value";
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int r;

	r = db_prepare(db, "read components", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "read components", "I", run_id);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	r = collect_rows(db, st, "read components", sizeof(struct mx_run_component),
			 read_component_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	return r;
}

/* ---- expected cases ---- */

static int expect_one(struct mx_db *db, sqlite3_stmt *st, int64_t run_id,
		      const struct mx_expected *c)
{
	char *axes;
	int r;

	r = check_case(db, run_id, c->combo_key ? c->combo_key : "", c->scenario ? c->scenario : "",
		       "store the expected cases");
	if (r < 0)
		return r;
	axes = json_text(c->axes);
	if (!axes)
		return -ENOMEM;
	r = db_bind(db, st, "store the expected cases", "Issis", run_id, c->combo_key, c->scenario,
		    (int)c->required, axes);
	if (r >= 0)
		r = db_step_done(db, st, "store the expected cases");
	if (r >= 0 && sqlite3_reset(st) != SQLITE_OK)
		r = db_fail(db, sqlite3_errcode(db->db), "store the expected cases");
	free(axes);
	return r;
}

int mx_db_expect(struct mx_db *db, int64_t run_id, const struct mx_expected *cases, size_t n)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO expected(run_id, combo_key, scenario, required, axes)"
		" VALUES(?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int r;

	if (n > DB_ROWS_MAX)
		return db_fail_errno(db, -E2BIG, "more than %zu expected cases", DB_ROWS_MAX);
	r = db_begin(db);
	if (r < 0)
		return r;
	r = db_prepare(db, "store the expected cases", sql, &st);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = expect_one(db, st, run_id, &cases[i]);
	sqlite3_finalize(st);
	r = db_end(db, r);
	if (r >= 0)
		mx_db_test_point("expect");
	return r;
}

int mx_db_missing(struct mx_db *db, int64_t run_id, struct mx_result **ret, size_t *ret_n)
{
	/* the columns of result_cols, made up for cases that have no row */
	static const char sql[] =
		"SELECT 0, e.run_id, e.combo_key, e.scenario, e.axes, '{}', e.required, 'skipped',"
		" 'none', 0, 0, 0, 0, '', 'not run: no result was recorded for this case', '', ''"
		" FROM expected e LEFT JOIN results r ON r.run_id=e.run_id"
		" AND r.combo_key=e.combo_key AND r.scenario=e.scenario"
		" WHERE e.run_id=? AND r.id IS NULL ORDER BY e.rowid";
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare(db, "read missing cases", sql, &st);
	if (r >= 0)
		r = db_bind(db, st, "read missing cases", "I", run_id);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	r = collect_results(db, st, "read missing cases", ret, ret_n);
	if (r >= 0)
		for (size_t i = 0; i < *ret_n; i++)
			(*ret)[i].missing = true;
	return r;
}

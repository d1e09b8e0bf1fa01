/* SPDX-License-Identifier: MIT */
/*
 * Board locks in SQLite. Every change happens in a BEGIN IMMEDIATE transaction (one
 * writer at a time, others wait up to the busy timeout), so check-then-take is atomic
 * across processes. WAL mode keeps readers ("locks") from blocking takers.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loopline-hil/lock.h"
#include "internal.h"
#include "loopline/fs.h"
#include "loopline/clock.h"

#define LOCK_BUSY_TIMEOUT_MS 10000

struct lp_hil_locks {
	sqlite3 *db;
	char host[LP_HIL_LOCK_TEXT_MAX];
};

static int db_fail(struct lp_hil_locks *l, struct lp_diag *diag, const char *what)
{
	int code = sqlite3_errcode(l->db);

	return lp_diag_fail(diag, code == SQLITE_BUSY ? -EBUSY : -EIO, "lock database: %s: %s",
			    what, sqlite3_errmsg(l->db));
}

static int exec(struct lp_hil_locks *l, const char *sql, struct lp_diag *diag)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(l, diag, sql);
	return 0;
}

int lp_hil_locks_open(const char *db_path, struct lp_hil_locks **ret, struct lp_diag *diag)
{
	struct lp_hil_locks *l = calloc(1, sizeof(*l));
	char dir[PATH_MAX];
	int r;

	if (!l)
		return -ENOMEM;
	r = lp_fs_dirname(dir, sizeof(dir), db_path);
	if (r == 0)
		r = lp_fs_mkdir_p(dir, 0755);
	if (r < 0) {
		free(l);
		return lp_diag_fail(diag, r, "lock database %s: cannot create its directory: %s",
				    db_path, strerror(-r));
	}
	if (gethostname(l->host, sizeof(l->host) - 1) < 0)
		snprintf(l->host, sizeof(l->host), "localhost");
	if (sqlite3_open_v2(db_path, &l->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		r = lp_diag_fail(diag, -EIO, "lock database %s: %s", db_path,
				 l->db ? sqlite3_errmsg(l->db) : "out of memory");
		lp_hil_locks_close(l);
		return r;
	}
	sqlite3_busy_timeout(l->db, LOCK_BUSY_TIMEOUT_MS);
	if ((r = exec(l, "PRAGMA journal_mode=WAL", diag)) < 0 ||
	    (r = exec(l,
		      "CREATE TABLE IF NOT EXISTS locks ("
		      " board TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL,"
		      " host TEXT NOT NULL, reason TEXT NOT NULL, since INTEGER NOT NULL,"
		      " expiry INTEGER NOT NULL)",
		      diag)) < 0) {
		lp_hil_locks_close(l);
		return r;
	}
	*ret = l;
	return 0;
}

void lp_hil_locks_close(struct lp_hil_locks *l)
{
	if (!l)
		return;
	sqlite3_close(l->db);
	free(l);
}

static void copy_col(sqlite3_stmt *st, int col, char *dst)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(dst, LP_HIL_LOCK_TEXT_MAX, "%s", s ? (const char *)s : "");
}

static void row_to_info(sqlite3_stmt *st, struct lp_hil_lock_info *i)
{
	memset(i, 0, sizeof(*i));
	copy_col(st, 0, i->board);
	copy_col(st, 1, i->owner);
	i->pid = (long)sqlite3_column_int64(st, 2);
	copy_col(st, 3, i->host);
	copy_col(st, 4, i->reason);
	i->since = sqlite3_column_int64(st, 5);
	i->expiry = sqlite3_column_int64(st, 6);
}

/* Stale: expired, or taken here by a process that is gone. */
static bool is_stale(struct lp_hil_locks *l, const struct lp_hil_lock_info *i)
{
	if (i->expiry && i->expiry <= (int64_t)time(NULL))
		return true;
	if (i->pid > 0 && strcmp(i->host, l->host) == 0 && !lp_hil_pid_alive((pid_t)i->pid))
		return true;
	return false;
}

/* Reads the row for board inside the current transaction: 1 found, 0 none. */
static int read_row(struct lp_hil_locks *l, const char *board, struct lp_hil_lock_info *ret,
		    struct lp_diag *diag)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(l->db,
			       "SELECT board, owner, pid, host, reason, since, expiry FROM locks "
			       "WHERE board = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(l, diag, "select");
	sqlite3_bind_text(st, 1, board, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		row_to_info(st, ret);
		r = 1;
	} else if (r == SQLITE_DONE) {
		r = 0;
	} else {
		r = db_fail(l, diag, "select");
	}
	sqlite3_finalize(st);
	return r;
}

static int delete_row(struct lp_hil_locks *l, const char *board, struct lp_diag *diag)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(l->db, "DELETE FROM locks WHERE board = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(l, diag, "delete");
	sqlite3_bind_text(st, 1, board, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(l, diag, "delete");
	sqlite3_finalize(st);
	return r;
}

/* One attempt: 0 taken, -EBUSY held by another (ret_holder filled), other errors. */
static int try_acquire(struct lp_hil_locks *l, const char *board, const char *owner, pid_t pid,
		       const char *reason, uint64_t duration_ms,
		       struct lp_hil_lock_info *ret_holder, struct lp_diag *diag)
{
	struct lp_hil_lock_info cur;
	sqlite3_stmt *st = NULL;
	int64_t now = (int64_t)time(NULL);
	int r;

	if ((r = exec(l, "BEGIN IMMEDIATE", diag)) < 0)
		return r;
	r = read_row(l, board, &cur, diag);
	if (r < 0)
		goto rollback;
	if (r == 1 && strcmp(cur.owner, owner) != 0 && !is_stale(l, &cur)) {
		if (ret_holder)
			*ret_holder = cur;
		r = -EBUSY;
		goto rollback;
	}
	if (sqlite3_prepare_v2(l->db,
			       "INSERT OR REPLACE INTO locks (board, owner, pid, host, reason, since,"
			       " expiry) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = db_fail(l, diag, "insert");
		goto rollback;
	}
	sqlite3_bind_text(st, 1, board, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, pid);
	sqlite3_bind_text(st, 4, l->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_STATIC);
	/* a refresh by the same owner keeps the original "since" */
	sqlite3_bind_int64(st, 6, r == 1 && strcmp(cur.owner, owner) == 0 && !is_stale(l, &cur) ?
					  cur.since : now);
	sqlite3_bind_int64(st, 7, duration_ms ? now + (int64_t)((duration_ms + 999) / 1000) : 0);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(l, diag, "insert");
		sqlite3_finalize(st);
		goto rollback;
	}
	sqlite3_finalize(st);
	return exec(l, "COMMIT", diag);
rollback:
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int lp_hil_lock_acquire(struct lp_hil_locks *l, const char *board, const char *owner,
			pid_t pid, const char *reason, uint64_t duration_ms, uint64_t wait_ms,
			struct lp_hil_lock_info *ret_holder, struct lp_diag *diag)
{
	uint64_t deadline = lp_clock_deadline_ms(wait_ms);
	unsigned backoff = 50;
	struct lp_hil_lock_info holder;
	int r;

	for (;;) {
		r = try_acquire(l, board, owner, pid, reason, duration_ms, &holder, diag);
		if (r != -EBUSY)
			return r;
		if (lp_clock_ms_left(deadline) == 0)
			break;
		/* SQLite has no change notification across processes: poll, backing off */
		{
			int left = lp_clock_ms_left(deadline);

			lp_clock_sleep_ms(backoff < (unsigned)left ? backoff : (unsigned)left);
		}
		backoff = backoff < 1000 ? backoff * 2 : 1000;
	}
	if (ret_holder)
		*ret_holder = holder;
	return lp_diag_fail(diag, -EBUSY, "board %s is locked by %s (pid %ld on %s%s%s%s)", board,
			    holder.owner, holder.pid, holder.host, holder.reason[0] ? ", reason: " : "",
			    holder.reason, wait_ms ? ", gave up waiting" : "");
}

int lp_hil_lock_release(struct lp_hil_locks *l, const char *board, const char *owner,
			bool force, struct lp_diag *diag)
{
	struct lp_hil_lock_info cur;
	int r;

	if ((r = exec(l, "BEGIN IMMEDIATE", diag)) < 0)
		return r;
	r = read_row(l, board, &cur, diag);
	if (r < 0)
		goto rollback;
	if (r == 0) {
		r = lp_diag_fail(diag, -ENOENT, "board %s is not locked", board);
		goto rollback;
	}
	if (strcmp(cur.owner, owner) != 0 && !force && !is_stale(l, &cur)) {
		r = lp_diag_fail(diag, -EPERM, "board %s is locked by %s, not by %s (use --force)",
				 board, cur.owner, owner);
		goto rollback;
	}
	if ((r = delete_row(l, board, diag)) < 0)
		goto rollback;
	return exec(l, "COMMIT", diag);
rollback:
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int lp_hil_lock_get(struct lp_hil_locks *l, const char *board, struct lp_hil_lock_info *ret,
		    struct lp_diag *diag)
{
	struct lp_hil_lock_info cur;
	int r = read_row(l, board, &cur, diag);

	if (r < 0)
		return r;
	if (r == 0 || is_stale(l, &cur))
		return -ENOENT;
	*ret = cur;
	return 0;
}

int lp_hil_lock_list(struct lp_hil_locks *l, struct lp_hil_lock_info **ret, size_t *ret_n,
		     struct lp_diag *diag)
{
	struct lp_hil_lock_info *list = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int r;

	if (sqlite3_prepare_v2(l->db,
			       "SELECT board, owner, pid, host, reason, since, expiry FROM locks "
			       "ORDER BY board",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(l, diag, "select");
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct lp_hil_lock_info i;

		row_to_info(st, &i);
		if (is_stale(l, &i))
			continue;
		if (n == cap) {
			struct lp_hil_lock_info *nl;

			cap = cap ? cap * 2 : 8;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl) {
				free(list);
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			list = nl;
		}
		list[n++] = i;
	}
	if (r != SQLITE_DONE) {
		free(list);
		r = db_fail(l, diag, "select");
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret = list;
	*ret_n = n;
	return 0;
}

int lp_hil_lock_default_owner(char *buf, size_t len)
{
	const char *env = getenv("LOOPLINE_HIL_OWNER");
	struct passwd *pw;
	char host[128] = "localhost";

	if (env && env[0]) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	gethostname(host, sizeof(host) - 1);
	pw = getpwuid(getuid());
	snprintf(buf, len, "%s@%s", pw ? pw->pw_name : "unknown", host);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Board locks: reservations in one SQLite file that every process on the lab host
 * shares (the inventory's lock_db). A lock records owner, pid, host, reason, since and
 * expiry. A lock is stale, and is reclaimed by the next taker, when its expiry has
 * passed or when it was taken on this host by a pid that no longer exists (pid 0 means
 * "not tied to a process": only expiry or unlock ends it).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "loopline/diag.h"

#define LP_HIL_LOCK_TEXT_MAX 256

struct lp_hil_lock_info {
	char board[LP_HIL_LOCK_TEXT_MAX];
	char owner[LP_HIL_LOCK_TEXT_MAX];
	char host[LP_HIL_LOCK_TEXT_MAX];
	char reason[LP_HIL_LOCK_TEXT_MAX];
	long pid;
	int64_t since;   /* unix seconds */
	int64_t expiry;  /* unix seconds, 0 = none */
};

struct lp_hil_locks;

/* Opens (creating) the database; its directory is created too. */
int lp_hil_locks_open(const char *db_path, struct lp_hil_locks **ret, struct lp_diag *diag);
void lp_hil_locks_close(struct lp_hil_locks *l);

/*
 * Takes the lock on board for owner. duration_ms 0 = no expiry. When another owner holds
 * it: wait_ms 0 fails at once with -EBUSY, otherwise polls (with back-off) up to wait_ms.
 * On -EBUSY ret_holder (may be NULL) describes the holder. Taking a lock one already holds
 * (same owner) refreshes it.
 */
int lp_hil_lock_acquire(struct lp_hil_locks *l, const char *board, const char *owner,
			pid_t pid, const char *reason, uint64_t duration_ms, uint64_t wait_ms,
			struct lp_hil_lock_info *ret_holder, struct lp_diag *diag);
/* Releases a lock held by owner (-EPERM if someone else holds it, unless force;
 * -ENOENT if the board is not locked). */
int lp_hil_lock_release(struct lp_hil_locks *l, const char *board, const char *owner,
			bool force, struct lp_diag *diag);
/* Current holder of board: 0, or -ENOENT when unlocked (stale locks count as unlocked). */
int lp_hil_lock_get(struct lp_hil_locks *l, const char *board, struct lp_hil_lock_info *ret,
		    struct lp_diag *diag);
/* All live locks (caller frees *ret). */
int lp_hil_lock_list(struct lp_hil_locks *l, struct lp_hil_lock_info **ret, size_t *ret_n,
		     struct lp_diag *diag);
/* The default owner name: $LOOPLINE_HIL_OWNER, else "user@host". */
int lp_hil_lock_default_owner(char *buf, size_t len);

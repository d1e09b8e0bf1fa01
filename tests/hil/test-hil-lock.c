/* SPDX-License-Identifier: MIT */
/* Board locks in SQLite: contention between two processes, waiting, stale-lock reclaim
 * (dead pid, expiry), ownership rules. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"

#include "loopline-hil/lock.h"

static char dir[64], db[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lp-hil-lock-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* a directory that does not exist yet: lp_hil_locks_open creates it */
	snprintf(db, sizeof(db), "%s/state/locks.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct lp_hil_locks *open_db(void)
{
	struct lp_hil_locks *l = NULL;
	struct lp_diag diag = {0};

	if (lp_hil_locks_open(db, &l, &diag) < 0)
		fail_msg("open: %s", diag.msg);
	return l;
}

static void test_basic(void **state)
{
	struct lp_hil_locks *l = open_db();
	struct lp_hil_lock_info info, *list = NULL;
	struct lp_diag diag = {0};
	size_t n = 0;

	assert_int_equal(lp_hil_lock_get(l, "rpi4-01", &info, &diag), -ENOENT);
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-01", "alice", getpid(), "flashing", 0, 0,
					     NULL, &diag), 0);
	assert_int_equal(lp_hil_lock_get(l, "rpi4-01", &info, &diag), 0);
	assert_string_equal(info.owner, "alice");
	assert_string_equal(info.reason, "flashing");
	assert_int_equal(info.pid, getpid());
	assert_int_equal(info.expiry, 0);
	assert_true(info.since > 0);
	/* the same owner may take it again (refresh, with an expiry now) */
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-01", "alice", getpid(), "again", 60000, 0,
					     NULL, &diag), 0);
	assert_int_equal(lp_hil_lock_get(l, "rpi4-01", &info, &diag), 0);
	assert_true(info.expiry >= info.since + 60);
	/* someone else may not, nor release it */
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-01", "bob", getpid(), "", 0, 0, &info,
					     &diag), -EBUSY);
	assert_string_equal(info.owner, "alice");
	assert_non_null(strstr(diag.msg, "locked by alice"));
	assert_int_equal(lp_hil_lock_release(l, "rpi4-01", "bob", false, &diag), -EPERM);
	assert_int_equal(lp_hil_lock_acquire(l, "qemu-01", "bob", getpid(), "", 0, 0, NULL, &diag),
			 0);
	assert_int_equal(lp_hil_lock_list(l, &list, &n, &diag), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].board, "qemu-01");
	assert_string_equal(list[1].board, "rpi4-01");
	free(list);
	assert_int_equal(lp_hil_lock_release(l, "rpi4-01", "bob", true, &diag), 0);
	assert_int_equal(lp_hil_lock_release(l, "rpi4-01", "alice", false, &diag), -ENOENT);
	assert_int_equal(lp_hil_lock_release(l, "qemu-01", "bob", false, &diag), 0);
	lp_hil_locks_close(l);
}

static void test_two_processes(void **state)
{
	int to_child[2], to_parent[2];
	struct lp_hil_lock_info holder;
	struct lp_diag diag = {0};
	struct lp_hil_locks *l;
	uint64_t t0;
	char ch;
	pid_t pid;
	int status;

	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(to_parent), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lp_hil_locks *cl = NULL;

		if (lp_hil_locks_open(db, &cl, NULL) < 0 ||
		    lp_hil_lock_acquire(cl, "rpi4-01", "job-A", getpid(), "matrix run 17", 0, 0, NULL,
					NULL) < 0)
			_exit(1);
		if (write(to_parent[1], "h", 1) != 1 || read(to_child[0], &ch, 1) != 1)
			_exit(2);
		/* let the parent start waiting, then hand the board over */
		usleep(300000);
		if (lp_hil_lock_release(cl, "rpi4-01", "job-A", false, NULL) < 0)
			_exit(3);
		lp_hil_locks_close(cl);
		_exit(0);
	}
	assert_int_equal(read(to_parent[0], &ch, 1), 1);
	l = open_db();
	/* fail fast, naming the holder */
	t0 = lp_clock_mono_ms();
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-01", "job-B", getpid(), "", 0, 0, &holder,
					     &diag), -EBUSY);
	assert_true(lp_clock_mono_ms() - t0 < 1000);
	assert_string_equal(holder.owner, "job-A");
	assert_int_equal(holder.pid, pid);
	assert_string_equal(holder.reason, "matrix run 17");
	assert_non_null(strstr(diag.msg, "locked by job-A"));
	assert_non_null(strstr(diag.msg, "matrix run 17"));
	/* wait: gets it once the other process lets go */
	assert_int_equal(write(to_child[1], "r", 1), 1);
	t0 = lp_clock_mono_ms();
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-01", "job-B", getpid(), "", 0, 10000, NULL,
					     &diag), 0);
	assert_true(lp_clock_mono_ms() - t0 >= 100);
	assert_true(lp_clock_mono_ms() - t0 < 10000);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* a bounded wait gives up */
	t0 = lp_clock_mono_ms();
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-01", "job-C", getpid(), "", 0, 400, NULL,
					     &diag), -EBUSY);
	assert_true(lp_clock_mono_ms() - t0 >= 390);
	assert_non_null(strstr(diag.msg, "gave up waiting"));
	assert_int_equal(lp_hil_lock_release(l, "rpi4-01", "job-B", false, &diag), 0);
	lp_hil_locks_close(l);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

static void test_stale_dead_pid(void **state)
{
	struct lp_hil_lock_info info;
	struct lp_diag diag = {0};
	struct lp_hil_locks *l;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct lp_hil_locks *cl = NULL;

		if (lp_hil_locks_open(db, &cl, NULL) < 0 ||
		    lp_hil_lock_acquire(cl, "rpi4-02", "crashed-job", getpid(), "", 0, 0, NULL,
					NULL) < 0)
			_exit(1);
		_exit(0); /* dies holding the lock */
	}
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	l = open_db();
	assert_int_equal(lp_hil_lock_get(l, "rpi4-02", &info, &diag), -ENOENT);
	assert_int_equal(lp_hil_lock_acquire(l, "rpi4-02", "next-job", getpid(), "", 0, 0, NULL,
					     &diag), 0);
	assert_int_equal(lp_hil_lock_get(l, "rpi4-02", &info, &diag), 0);
	assert_string_equal(info.owner, "next-job");
	lp_hil_locks_close(l);
}

static void test_stale_expiry_and_other_hosts(void **state)
{
	struct lp_hil_locks *l = open_db();
	struct lp_hil_lock_info info;
	struct lp_diag diag = {0};
	sqlite3 *raw;
	char sql[512];
	long now = (long)time(NULL);

	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO locks VALUES ('expired', 'old', 0, 'elsewhere', '', %ld, %ld);"
		 "INSERT INTO locks VALUES ('remote', 'far', 999999, 'elsewhere', 'ci', %ld, 0);",
		 now - 100, now - 1, now);
	assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	/* past its expiry: free */
	assert_int_equal(lp_hil_lock_acquire(l, "expired", "me", getpid(), "", 0, 0, NULL, &diag),
			 0);
	/* a pid on another host cannot be checked from here: the lock stands */
	assert_int_equal(lp_hil_lock_acquire(l, "remote", "me", getpid(), "", 0, 0, &info, &diag),
			 -EBUSY);
	assert_string_equal(info.host, "elsewhere");
	lp_hil_locks_close(l);
}

static void test_bad_db(void **state)
{
	struct lp_hil_locks *l = NULL;
	struct lp_diag diag = {0};

	assert_true(lp_hil_locks_open("/proc/version/locks.db", &l, &diag) < 0);
	assert_null(l);
	assert_non_null(strstr(diag.msg, "lock database"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_stale_dead_pid),
		cmocka_unit_test(test_stale_expiry_and_other_hosts),
		cmocka_unit_test(test_bad_db),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/*
 * lib/fs: bounded reads (exact limit, one byte over, procfs, pipes, directories),
 * atomic replacement (the old inode keeps the old bytes, no temporary file is left,
 * NOREPLACE, concurrent writers), mkdir -p, path joining.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/fs.h"

static char dir[] = "/tmp/lp-test-fs-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void put(const char *name, const char *data, size_t len)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_read_limits(void **state)
{
	char p[256], *buf = (char *)0x1;
	size_t len = 99;

	put("ten", "0123456789", 10);
	snprintf(p, sizeof(p), "%s/ten", dir);
	assert_int_equal(lp_fs_read_file(p, 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(buf, "0123456789");
	free(buf);
	/* one byte over the limit: refused, outputs untouched */
	buf = (char *)0x1;
	len = 99;
	assert_int_equal(lp_fs_read_file(p, 9, &buf, &len), -EFBIG);
	assert_ptr_equal(buf, (char *)0x1);
	assert_int_equal(len, 99);
	/* empty file, NULL length */
	put("empty", "", 0);
	snprintf(p, sizeof(p), "%s/empty", dir);
	assert_int_equal(lp_fs_read_file(p, 0, &buf, NULL), 0);
	assert_string_equal(buf, "");
	free(buf);
	assert_int_equal(lp_fs_read_file(dir, 100, &buf, NULL), -EISDIR);
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(lp_fs_read_file(p, 100, &buf, NULL), -ENOENT);
}

static void test_read_stream(void **state)
{
	char *buf;
	size_t len;
	int p[2];

	/* procfs says size 0: the buffer grows */
	assert_int_equal(lp_fs_read_file("/proc/self/status", 1 << 20, &buf, &len), 0);
	assert_true(len > 100);
	assert_non_null(strstr(buf, "Name:"));
	free(buf);
	assert_int_equal(lp_fs_read_file("/proc/self/status", 50, &buf, &len), -EFBIG);
	/* a pipe of 10000 bytes, limits below, at and above */
	for (size_t max = 9999; max <= 10001; max++) {
		char *data = malloc(10000);
		pid_t pid;
		int st, r;

		memset(data, 'x', 10000);
		assert_int_equal(pipe(p), 0);
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			_exit(write(p[1], data, 10000) == 10000 ? 0 : 1);
		}
		close(p[1]);
		r = lp_fs_read_fd(p[0], max, &buf, &len);
		close(p[0]);
		waitpid(pid, &st, 0);
		if (max < 10000) {
			assert_int_equal(r, -EFBIG);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(len, 10000);
			assert_memory_equal(buf, data, 10000);
			free(buf);
		}
		free(data);
	}
}

static bool tmp_left(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	assert_non_null(d);
	while ((de = readdir(d)))
		found |= strstr(de->d_name, ".tmp") != NULL;
	closedir(d);
	return found;
}

static void test_write_atomic(void **state)
{
	char p[256], old[256], *buf;
	struct stat st1, st2;
	size_t len;

	snprintf(p, sizeof(p), "%s/state.json", dir);
	snprintf(old, sizeof(old), "%s/state.old", dir);
	assert_int_equal(lp_fs_write_atomic(p, "first", 5, 0640, 0), 0);
	assert_int_equal(stat(p, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0640);
	/* keep the first inode reachable: a replacement must not write into it */
	assert_int_equal(link(p, old), 0);
	assert_int_equal(lp_fs_write_atomic(p, "second, longer", 14, 0600, 0), 0);
	assert_int_equal(stat(p, &st2), 0);
	assert_int_not_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(lp_fs_read_file(old, 100, &buf, &len), 0);
	assert_string_equal(buf, "first");
	free(buf);
	assert_int_equal(lp_fs_read_file(p, 100, &buf, &len), 0);
	assert_string_equal(buf, "second, longer");
	free(buf);
	assert_false(tmp_left());
	/* NOREPLACE */
	assert_int_equal(lp_fs_write_atomic(p, "third", 5, 0600, LP_FS_NOREPLACE), -EEXIST);
	assert_int_equal(lp_fs_read_file(p, 100, &buf, &len), 0);
	assert_string_equal(buf, "second, longer");
	free(buf);
	unlink(old);
	assert_int_equal(lp_fs_write_atomic(old, "new", 3, 0600, LP_FS_NOREPLACE), 0);
	assert_false(tmp_left());
	/* a directory that does not exist: error, nothing created */
	snprintf(p, sizeof(p), "%s/no/such", dir);
	assert_int_equal(lp_fs_write_atomic(p, "x", 1, 0600, 0), -ENOENT);
}

static void test_write_concurrent(void **state)
{
	char p[256], *buf;
	pid_t pids[4];
	size_t len;

	/* four writers replace one file 200 times each: every read sees one whole version */
	snprintf(p, sizeof(p), "%s/shared", dir);
	assert_int_equal(lp_fs_write_atomic(p, "AAAAAAAAAAAAAAAAAAAA", 20, 0644, 0), 0);
	for (int w = 0; w < 4; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			char data[20];

			memset(data, 'A' + w, sizeof(data));
			for (int i = 0; i < 200; i++)
				if (lp_fs_write_atomic(p, data, sizeof(data), 0644, 0) < 0)
					_exit(1);
			_exit(0);
		}
	}
	for (int i = 0; i < 400; i++) {
		assert_int_equal(lp_fs_read_file(p, 100, &buf, &len), 0);
		assert_int_equal(len, 20);
		for (size_t k = 1; k < len; k++)
			assert_int_equal(buf[k], buf[0]);
		free(buf);
	}
	for (int w = 0; w < 4; w++) {
		int st;

		assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_false(tmp_left());
}

static void test_mkdir_p(void **state)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/a/b//c/", dir);
	assert_int_equal(lp_fs_mkdir_p(p, 0750), 0);
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(lp_fs_mkdir_p(p, 0750), 0); /* exists: fine */
	put("file", "x", 1);
	snprintf(p, sizeof(p), "%s/file/sub", dir);
	assert_int_equal(lp_fs_mkdir_p(p, 0750), -ENOTDIR);
	snprintf(p, sizeof(p), "%s/file", dir);
	assert_int_equal(lp_fs_mkdir_p(p, 0750), -ENOTDIR);
	assert_int_equal(lp_fs_mkdir_p("", 0750), -EINVAL);
}

static void test_paths(void **state)
{
	char buf[8];

	assert_int_equal(lp_fs_path_join(buf, sizeof(buf), "ab", "cd"), 0);
	assert_string_equal(buf, "ab/cd");
	assert_int_equal(lp_fs_path_join(buf, sizeof(buf), "abc", "defg"), -ENAMETOOLONG);
	assert_int_equal(lp_fs_dirname(buf, sizeof(buf), "x"), 0);
	assert_string_equal(buf, ".");
	assert_int_equal(lp_fs_dirname(buf, sizeof(buf), "/x"), 0);
	assert_string_equal(buf, "/");
	assert_int_equal(lp_fs_dirname(buf, sizeof(buf), "a/b/c"), 0);
	assert_string_equal(buf, "a/b");
	assert_int_equal(lp_fs_dirname(buf, sizeof(buf), "abcdefgh/c"), -ENAMETOOLONG);
	assert_int_equal(lp_fs_fsync_dir(dir), 0);
	assert_int_equal(lp_fs_fsync_dir("/nonexistent-lp"), -ENOENT);
}

static void test_read_diag(void **state)
{
	struct lp_diag d;
	char p[256], *buf;

	lp_diag_clear(&d);
	put("big", "0123456789", 10);
	snprintf(p, sizeof(p), "%s/big", dir);
	assert_int_equal(lp_fs_read_file_diag(p, 4, &buf, NULL, &d), -EFBIG);
	assert_string_equal(d.file, p);
	assert_string_equal(d.msg, "larger than 4 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_limits),  cmocka_unit_test(test_read_stream),
		cmocka_unit_test(test_write_atomic), cmocka_unit_test(test_write_concurrent),
		cmocka_unit_test(test_mkdir_p),      cmocka_unit_test(test_paths),
		cmocka_unit_test(test_read_diag),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

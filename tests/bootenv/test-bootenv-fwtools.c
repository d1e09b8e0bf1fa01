/* SPDX-License-Identifier: MIT */
/*
 * Cross-check with Debian's tools: environments we write are read by fw_printenv
 * (libubootenv-tool), and we read what fw_setenv (libubootenv-tool) and mkenvimage
 * (u-boot-tools) write — single and redundant copies, including the flag wrap-around.
 */
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

#include "loopline/bootenv.h"
#include "../../lib/bootenv-internal.h"

static char tmpdir[64];

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Runs argv (no shell), captures stdout into out; returns the exit status or -1. */
static int run(char *const argv[], char *out, size_t len)
{
	int pipefd[2], status;
	size_t got = 0;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char sink[256];
		ssize_t n;

		if (out && got + 1 < len)
			n = read(pipefd[0], out + got, len - 1 - got);
		else
			n = read(pipefd[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && got + 1 < len)
			got += (size_t)n;
	}
	close(pipefd[0]);
	if (out)
		out[got] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void fw_printenv(const char *cfg, char *out, size_t len)
{
	char *argv[] = { "fw_printenv", "-c", (char *)cfg, NULL };

	assert_int_equal(run(argv, out, len), 0);
}

static void fw_setenv(const char *cfg, const char *name, const char *value)
{
	char empty[128];
	char *argv[] = { "fw_setenv", "-c", (char *)cfg, "-f", empty, (char *)name,
			 (char *)value, NULL };

	/* -f: an empty default environment, used when no copy is valid yet. */
	path_in(empty, sizeof(empty), "empty-defaults.txt");
	write_file(empty, "", 0);
	assert_int_equal(run(argv, NULL, 0), 0);
}

static struct lp_bootenv *open_cfg(const char *cfg, unsigned flags)
{
	struct lp_bootenv *env = NULL;
	struct lp_diag d;
	char buf[700];
	int r;

	lp_diag_clear(&d);
	r = lp_bootenv_open(LP_BOOTENV_UBOOT, cfg, flags, &env, &d);
	if (r < 0)
		print_message("open: %s\n", lp_diag_format(&d, buf, sizeof(buf)));
	assert_int_equal(r, 0);
	return env;
}

static void commit(struct lp_bootenv *env)
{
	struct lp_diag d;
	char buf[700];
	int r;

	lp_diag_clear(&d);
	r = lp_bootenv_commit(env, &d);
	if (r < 0)
		print_message("commit: %s\n", lp_diag_format(&d, buf, sizeof(buf)));
	assert_int_equal(r, 0);
}

/* fw_printenv prints variables sorted by name, one "name=value" per line. */
static void expect_printenv(const char *cfg, const char *expected)
{
	char out[8192];

	fw_printenv(cfg, out, sizeof(out));
	if (strcmp(out, expected) != 0)
		print_message("fw_printenv printed:\n%s--- expected:\n%s", out, expected);
	assert_string_equal(out, expected);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lp-bootenv-fw-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };

	(void)state;
	return run(argv, NULL, 0) == 0 ? 0 : -1;
}

static void ours_then_tools(const char *cfg)
{
	struct lp_bootenv *env;

	/* Written by us, read by fw_printenv. */
	env = open_cfg(cfg, LP_BOOTENV_OPEN_DEFAULTS);
	assert_int_equal(lp_bootenv_set(env, "upgrade_available", "1"), 0);
	assert_int_equal(lp_bootenv_set(env, "boot_slot", "B"), 0);
	assert_int_equal(lp_bootenv_set(env, "bootcount", "0"), 0);
	assert_int_equal(lp_bootenv_set(env, "bootlimit", "3"), 0);
	assert_int_equal(lp_bootenv_set(env, "bootargs", "console=ttyAMA0 root=/dev/vda3 a=b"), 0);
	assert_int_equal(lp_bootenv_set(env, "empty", ""), 0);
	commit(env);
	lp_bootenv_free(env);
	expect_printenv(cfg, "boot_slot=B\n"
			     "bootargs=console=ttyAMA0 root=/dev/vda3 a=b\n"
			     "bootcount=0\n"
			     "bootlimit=3\n"
			     "empty=\n"
			     "upgrade_available=1\n");

	/* Written by fw_setenv, read by us; then ours again, then the tools again: the
	 * copies and flags alternate between the two writers. */
	for (int round = 0; round < 3; round++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", round + 1);
		fw_setenv(cfg, "bootcount", v);
		env = open_cfg(cfg, 0);
		assert_string_equal(lp_bootenv_get(env, "bootcount"), v);
		assert_string_equal(lp_bootenv_get(env, "bootargs"),
				    "console=ttyAMA0 root=/dev/vda3 a=b");
		assert_string_equal(lp_bootenv_get(env, "empty"), "");
		assert_int_equal(lp_bootenv_count(env), 6);
		snprintf(v, sizeof(v), "r%d", round);
		assert_int_equal(lp_bootenv_set(env, "boot_slot", v), 0);
		assert_int_equal(lp_bootenv_unset(env, "empty"), 0);
		commit(env);
		lp_bootenv_free(env);
		{
			char expected[512];

			snprintf(expected, sizeof(expected),
				 "boot_slot=r%d\n"
				 "bootargs=console=ttyAMA0 root=/dev/vda3 a=b\n"
				 "bootcount=%d\n"
				 "bootlimit=3\n"
				 "upgrade_available=1\n", round, round + 1);
			expect_printenv(cfg, expected);
		}
		fw_setenv(cfg, "empty", "");
	}
}

static void test_single(void **state)
{
	char cfg[128], envp[128], text[300];

	(void)state;
	path_in(envp, sizeof(envp), "single.env");
	path_in(cfg, sizeof(cfg), "single.cfg");
	snprintf(text, sizeof(text), "%s 0 0x4000\n", envp);
	write_file(cfg, text, strlen(text));
	ours_then_tools(cfg);
}

static void test_redundant_one_file(void **state)
{
	char cfg[128], envp[128], text[300];

	(void)state;
	path_in(envp, sizeof(envp), "redund.env");
	path_in(cfg, sizeof(cfg), "redund.cfg");
	snprintf(text, sizeof(text), "%s 0 0x4000\n%s 0x4000 0x4000\n", envp, envp);
	write_file(cfg, text, strlen(text));
	ours_then_tools(cfg);
}

static void test_redundant_two_files(void **state)
{
	char cfg[128], a[128], b[128], text[400];
	static uint8_t zero[0x2000];

	(void)state;
	path_in(a, sizeof(a), "a.env");
	path_in(b, sizeof(b), "b.env");
	path_in(cfg, sizeof(cfg), "two.cfg");
	/* fw_printenv needs both files to exist at full size. */
	write_file(a, zero, sizeof(zero));
	write_file(b, zero, sizeof(zero));
	snprintf(text, sizeof(text), "%s 0 0x2000\n%s 0 0x2000\n", a, b);
	write_file(cfg, text, strlen(text));
	ours_then_tools(cfg);
}

static void test_tools_first(void **state)
{
	char cfg[128], envp[128], text[300];
	static uint8_t zero[0x800];
	struct lp_bootenv *env;

	(void)state;
	/* fw_setenv on a blank (all-invalid) redundant environment, then us. */
	path_in(envp, sizeof(envp), "blank.env");
	path_in(cfg, sizeof(cfg), "blank.cfg");
	write_file(envp, zero, sizeof(zero));
	snprintf(text, sizeof(text), "%s 0 0x400\n%s 0x400 0x400\n", envp, envp);
	write_file(cfg, text, strlen(text));
	fw_setenv(cfg, "first", "from fw_setenv");
	fw_setenv(cfg, "second", "2");
	env = open_cfg(cfg, 0);
	assert_false(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_count(env), 2);
	assert_string_equal(lp_bootenv_get(env, "first"), "from fw_setenv");
	assert_string_equal(lp_bootenv_get(env, "second"), "2");
	lp_bootenv_free(env);
}

static void test_flag_wraparound(void **state)
{
	char cfg[128], envp[128], text[300], expected[64];
	struct lp_bootenv *env;

	(void)state;
	path_in(envp, sizeof(envp), "wrap.env");
	path_in(cfg, sizeof(cfg), "wrap.cfg");
	snprintf(text, sizeof(text), "%s 0 0x400\n%s 0x400 0x400\n", envp, envp);
	write_file(cfg, text, strlen(text));
	/* 260 commits take the flag byte past 0xFF and back to 0; fw_printenv must agree
	 * with us on which copy is current around the wrap. */
	env = open_cfg(cfg, LP_BOOTENV_OPEN_DEFAULTS);
	for (uint32_t i = 1; i <= 260; i++) {
		assert_int_equal(lp_bootenv_set_uint(env, "n", i), 0);
		commit(env);
		if (i >= 253 && i <= 258) {
			snprintf(expected, sizeof(expected), "n=%u\n", (unsigned)i);
			expect_printenv(cfg, expected);
			fw_setenv(cfg, "tool", "1");
			fw_setenv(cfg, "tool", NULL);
			lp_bootenv_free(env);
			env = open_cfg(cfg, 0);
			assert_int_equal(lp_bootenv_count(env), 1);
		}
	}
	lp_bootenv_free(env);
	expect_printenv(cfg, "n=260\n");
}

static void test_mkenvimage(void **state)
{
	char txt[128], img[128], cfg[128], text[300];
	static const char vars[] = "bootcmd=run distro_bootcmd\nbootdelay=2\nboot_slot=A\n";
	struct lp_bootenv *env;

	(void)state;
	path_in(txt, sizeof(txt), "vars.txt");
	write_file(txt, vars, sizeof(vars) - 1);
	for (int redundant = 0; redundant <= 1; redundant++) {
		char *argv_single[] = { "mkenvimage", "-s", "0x2000", "-o", img, txt, NULL };
		char *argv_redund[] = { "mkenvimage", "-r", "-s", "0x2000", "-o", img, txt, NULL };

		path_in(img, sizeof(img), redundant ? "mk-r.img" : "mk.img");
		assert_int_equal(run(redundant ? argv_redund : argv_single, NULL, 0), 0);
		path_in(cfg, sizeof(cfg), "mk.cfg");
		/* A redundant image is one copy; the second line points at a copy of it. */
		if (redundant) {
			char img2[128];
			char *cp[] = { "cp", img, img2, NULL };

			path_in(img2, sizeof(img2), "mk-r2.img");
			assert_int_equal(run(cp, NULL, 0), 0);
			snprintf(text, sizeof(text), "%s 0 0x2000\n%s 0 0x2000\n", img, img2);
		} else {
			snprintf(text, sizeof(text), "%s 0 0x2000\n", img);
		}
		write_file(cfg, text, strlen(text));
		env = open_cfg(cfg, 0);
		assert_int_equal(lp_bootenv_count(env), 3);
		assert_string_equal(lp_bootenv_get(env, "bootcmd"), "run distro_bootcmd");
		assert_string_equal(lp_bootenv_get(env, "bootdelay"), "2");
		assert_string_equal(lp_bootenv_get(env, "boot_slot"), "A");
		lp_bootenv_free(env);
	}
}

/* A power cut at any byte of a redundant commit: fw_printenv sees the same complete
 * environment we do (old or new), never an error or a mix. */
static void test_power_cut_seen_by_fw_printenv(void **state)
{
	char cfg[128], envp[128], text[300], out[512];
	unsigned olds = 0, news = 0;

	(void)state;
	path_in(envp, sizeof(envp), "cut.env");
	path_in(cfg, sizeof(cfg), "cut.cfg");
	snprintf(text, sizeof(text), "%s 0 0x400\n%s 0x400 0x400\n", envp, envp);
	write_file(cfg, text, strlen(text));
	/* every byte near the start and the end of the commit, every 29th in between */
	for (uint64_t budget = 0; budget <= 0x401;
	     budget = (budget < 16 || budget >= 0x3f0) ? budget + 1
						       : (budget + 29 < 0x3f0 ? budget + 29 : 0x3f0)) {
		struct lp_bootenv *env;
		struct lp_diag d;
		const char *v;

		unlink(envp);
		for (int i = 0; i < 2; i++) {
			env = open_cfg(cfg, LP_BOOTENV_OPEN_DEFAULTS);
			assert_int_equal(lp_bootenv_set(env, "v", "old"), 0);
			commit(env);
			lp_bootenv_free(env);
		}
		env = open_cfg(cfg, 0);
		assert_int_equal(lp_bootenv_set(env, "v", "new"), 0);
		assert_int_equal(lp_bootenv_set(env, "w", "added"), 0);
		bootenv_test_set_fault(env, budget);
		lp_diag_clear(&d);
		(void)lp_bootenv_commit(env, &d);
		lp_bootenv_free(env);

		env = open_cfg(cfg, 0);
		v = lp_bootenv_get(env, "v");
		fw_printenv(cfg, out, sizeof(out));
		if (strcmp(v, "old") == 0) {
			assert_null(lp_bootenv_get(env, "w"));
			assert_string_equal(out, "v=old\n");
			olds++;
		} else {
			assert_string_equal(v, "new");
			assert_string_equal(out, "v=new\nw=added\n");
			news++;
		}
		lp_bootenv_free(env);
	}
	print_message("fw_printenv after power cuts: %u old, %u new\n", olds, news);
	assert_true(olds > 0);
	assert_true(news > 0);
}

static void test_lock(void **state)
{
	char cfg[128], envp[128], text[300];
	char *probe[] = { "flock", "-n", LP_BOOTENV_UBOOT_LOCK_PATH, "true", NULL };
	struct lp_bootenv *env;

	(void)state;
	if (run((char *[]){ "sh", "-c", "command -v flock", NULL }, NULL, 0) != 0) {
		print_message("flock(1) missing: lock test skipped\n");
		skip();
	}
	path_in(envp, sizeof(envp), "lock.env");
	path_in(cfg, sizeof(cfg), "lock.cfg");
	snprintf(text, sizeof(text), "%s 0 0x400\n", envp);
	write_file(cfg, text, strlen(text));
	/* Held from open to free: fw_setenv (which takes the same lock) would wait. */
	env = open_cfg(cfg, LP_BOOTENV_OPEN_DEFAULTS | LP_BOOTENV_OPEN_LOCK);
	assert_int_equal(run(probe, NULL, 0), 1);
	assert_int_equal(lp_bootenv_set(env, "k", "v"), 0);
	commit(env);
	assert_int_equal(run(probe, NULL, 0), 1);
	lp_bootenv_free(env);
	assert_int_equal(run(probe, NULL, 0), 0);
	/* Without the flag nothing is locked. */
	env = open_cfg(cfg, 0);
	assert_int_equal(run(probe, NULL, 0), 0);
	lp_bootenv_free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_redundant_one_file),
		cmocka_unit_test(test_redundant_two_files),
		cmocka_unit_test(test_tools_first),
		cmocka_unit_test(test_flag_wraparound),
		cmocka_unit_test(test_mkenvimage),
		cmocka_unit_test(test_power_cut_seen_by_fw_printenv),
		cmocka_unit_test(test_lock),
	};
	char *which[] = { "sh", "-c", "command -v fw_printenv && command -v fw_setenv && "
				      "command -v mkenvimage", NULL };

	/* These tools come with scripts/setup (libubootenv-tool, u-boot-tools): missing
	 * ones are a setup error, not a skip. */
	if (run(which, NULL, 0) != 0) {
		fprintf(stderr, "fw_printenv, fw_setenv or mkenvimage missing: run scripts/setup\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

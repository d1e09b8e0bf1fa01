/* SPDX-License-Identifier: MIT */
/*
 * Cross-check of grubenv with GRUB's own grub-editenv: each reads what the other writes
 * and both produce the same 1024 bytes for the same variables. Exits 77 (a CTest SKIP)
 * when grub-editenv is not installed; GRUB is deliberately not a dependency.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopline/bootenv.h"

static char tmpdir[64];

/* Runs argv (no shell), captures stdout into out; returns the exit status or -1. */
static int run(char *const argv[], char *out, size_t len)
{
	int pipefd[2], status;
	size_t got = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
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
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static ssize_t read_file(const char *path, void *buf, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, max);
	close(fd);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lp-bootenv-grub-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };

	(void)state;
	return run(argv, NULL, 0) == 0 ? 0 : -1;
}

static struct lp_bootenv *open_grub(const char *path, unsigned flags)
{
	struct lp_bootenv *env = NULL;
	struct lp_diag d;
	char buf[700];
	int r;

	lp_diag_clear(&d);
	r = lp_bootenv_open_grub(path, flags, &env, &d);
	if (r < 0)
		print_message("open: %s\n", lp_diag_format(&d, buf, sizeof(buf)));
	assert_int_equal(r, 0);
	return env;
}

static void test_both_ways(void **state)
{
	char theirs[128], ours[128], out[2048];
	uint8_t a[1100], b[1100];
	struct lp_bootenv *env;
	struct lp_diag d;

	(void)state;
	snprintf(theirs, sizeof(theirs), "%s/theirs", tmpdir);
	snprintf(ours, sizeof(ours), "%s/ours", tmpdir);
	{
		char *create[] = { "grub-editenv", theirs, "create", NULL };
		char *set[] = { "grub-editenv", theirs, "set", "boot_slot=A", "msg=two words",
				"path=back\\slash", "upgrade_available=1", NULL };

		assert_int_equal(run(create, NULL, 0), 0);
		assert_int_equal(run(set, NULL, 0), 0);
	}
	/* We read theirs. */
	env = open_grub(theirs, 0);
	assert_int_equal(lp_bootenv_count(env), 4);
	assert_string_equal(lp_bootenv_get(env, "boot_slot"), "A");
	assert_string_equal(lp_bootenv_get(env, "msg"), "two words");
	assert_string_equal(lp_bootenv_get(env, "path"), "back\\slash");
	assert_string_equal(lp_bootenv_get(env, "upgrade_available"), "1");
	lp_bootenv_free(env);

	/* The same variables written by us give the same block, byte for byte. */
	env = open_grub(ours, LP_BOOTENV_OPEN_DEFAULTS);
	assert_int_equal(lp_bootenv_set(env, "boot_slot", "A"), 0);
	assert_int_equal(lp_bootenv_set(env, "msg", "two words"), 0);
	assert_int_equal(lp_bootenv_set(env, "path", "back\\slash"), 0);
	assert_int_equal(lp_bootenv_set(env, "upgrade_available", "1"), 0);
	lp_diag_clear(&d);
	assert_int_equal(lp_bootenv_commit(env, &d), 0);
	lp_bootenv_free(env);
	/* Both are 1024-byte blocks, and grub-editenv lists the same variables for both.
	 * (Not byte for byte: Debian's grub-editenv adds a "# WARNING" comment line after
	 * the signature, which readers skip.) */
	assert_int_equal(read_file(theirs, a, sizeof(a)), 1024);
	assert_int_equal(read_file(ours, b, sizeof(b)), 1024);
	assert_memory_equal(a, b, 25); /* "# GRUB Environment Block\n" */
	{
		char *list_theirs[] = { "grub-editenv", theirs, "list", NULL };
		char *list_ours[] = { "grub-editenv", ours, "list", NULL };
		char out_theirs[2048];

		assert_int_equal(run(list_theirs, out_theirs, sizeof(out_theirs)), 0);
		assert_int_equal(run(list_ours, out, sizeof(out)), 0);
		assert_string_equal(out, out_theirs);
		assert_string_equal(out, "boot_slot=A\nmsg=two words\npath=back\\slash\n"
					 "upgrade_available=1\n");
	}

	/* grub-editenv reads ours after a change. */
	env = open_grub(ours, 0);
	assert_int_equal(lp_bootenv_unset(env, "msg"), 0);
	assert_int_equal(lp_bootenv_set(env, "upgrade_available", "0"), 0);
	assert_int_equal(lp_bootenv_set(env, "bootcount", "2"), 0);
	assert_int_equal(lp_bootenv_commit(env, &d), 0);
	lp_bootenv_free(env);
	{
		char *list[] = { "grub-editenv", ours, "list", NULL };

		assert_int_equal(run(list, out, sizeof(out)), 0);
		assert_string_equal(out, "boot_slot=A\npath=back\\slash\nupgrade_available=0\n"
					 "bootcount=2\n");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways),
	};
	char *which[] = { "sh", "-c", "command -v grub-editenv >/dev/null", NULL };

	if (run(which, NULL, 0) != 0) {
		printf("SKIP: grub-editenv is not installed (GRUB is not a dependency)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

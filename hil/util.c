/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the hil library that lib/ does not have: string vectors, paths resolved
 * against the inventory's directory, the pattern check (lib/regex.c underneath), a write with a timeout for
 * non-blocking descriptors, liveness of processes that are not our children, and the
 * environment of host commands. Files, clocks and child processes come from lib/
 * (loopline/fs.h, clock.h, proc.h).
 */
#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/regex.h"

extern char **environ;

void lp_hil_strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

char *lp_hil_path_join(const char *dir, const char *name)
{
	size_t n;
	char *s;

	if (!dir || !dir[0] || strcmp(dir, ".") == 0 || name[0] == '/')
		return strdup(name);
	n = strlen(dir) + strlen(name) + 2;
	s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
	return s;
}

int lp_hil_regex_check(const char *re, char *err, size_t errlen)
{
	regex_t rx;
	int r = lp_regex_compile(&rx, re, REG_EXTENDED | REG_NEWLINE, err, errlen);

	if (r == 0)
		regfree(&rx);
	return r;
}

int lp_hil_write_all(int fd, const void *buf, size_t len, unsigned timeout_ms)
{
	const uint8_t *p = buf;
	uint64_t deadline = lp_clock_deadline_ms(timeout_ms);

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int left = lp_clock_ms_left(deadline);

			if (left == 0)
				return -ETIMEDOUT;
			if (poll(&pfd, 1, left) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

bool lp_hil_pid_alive(pid_t pid)
{
	char path[64], *buf = NULL, *paren;
	bool zombie = false;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return false;
	/* an exited process its parent has not reaped yet is not alive */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (lp_fs_read_file(path, 4096, &buf, NULL) == 0) {
		paren = strrchr(buf, ')');
		zombie = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
		free(buf);
	}
	return !zombie;
}

int lp_hil_pid_wait_gone(pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = lp_clock_deadline_ms(timeout_ms);
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pfd < 0)
		return errno == ESRCH ? 0 : -errno;
	for (;;) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int left = lp_clock_ms_left(deadline);
		int n = poll(&p, 1, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			/* exited (a child of ours stays a zombie for its parent to reap) */
			close(pfd);
			return 0;
		}
		if (left == 0 || n == 0) {
			close(pfd);
			return -ETIMEDOUT;
		}
	}
}

/* The length of the name part of "NAME=value" (the whole string without '='). */
static size_t env_name_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t)(eq - s) : strlen(s);
}

char **lp_hil_env_with(const char *const *vars, size_t n)
{
	size_t n_env = 0, k = 0;
	char **env;

	while (environ && environ[n_env])
		n_env++;
	env = calloc(n_env + n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n_env; i++) {
		size_t len = env_name_len(environ[i]);
		bool replaced = false;

		for (size_t j = 0; j < n && !replaced; j++)
			replaced = env_name_len(vars[j]) == len &&
				   strncmp(vars[j], environ[i], len) == 0;
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < n; j++)
		env[k++] = (char *)vars[j];
	env[k] = NULL;
	return env;
}

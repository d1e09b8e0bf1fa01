/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "loopline/io.h"

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

char *lp_hil_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int lp_hil_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				r = -E2BIG;
				goto fail;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = lp_io_read(fd, buf + len, cap - len);
		if (n < 0) {
			r = (int)n;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -E2BIG;
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return r;
}

int lp_hil_write_file(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (lp_hil_write_all(fd, buf, len, 10000) < 0 || fsync(fd) < 0)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int lp_hil_mkdir_p(const char *path, bool private_last)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char saved = buf[i];

			buf[i] = '\0';
			if (mkdir(buf, (saved == '\0' && private_last) ? 0700 : 0755) < 0 &&
			    errno != EEXIST)
				return -errno;
			buf[i] = saved;
		}
	}
	return 0;
}

/* glibc compiles "x+" as "xx*" and "x{n,m}" as m copies of x, so stacked repetitions
 * grow the compiled automaton multiplicatively ("p++++++…" needs 2^n nodes). Estimate the
 * worst case as if every repetition were nested and refuse what could explode. */
static bool regex_cost_ok(const char *re)
{
	unsigned long long cost = 1;

	for (size_t i = 0; re[i]; i++) {
		unsigned long long factor = 1;

		if (re[i] == '\\' && re[i + 1]) {
			i++;
			continue;
		}
		if (re[i] == '[') { /* bracket expression: nothing inside repeats */
			i++;
			if (re[i] == '^')
				i++;
			if (re[i] == ']')
				i++;
			while (re[i] && re[i] != ']') {
				if (re[i] == '[' && (re[i + 1] == ':' || re[i + 1] == '.' ||
						     re[i + 1] == '=')) {
					char close = re[i + 1];

					i += 2;
					while (re[i] && !(re[i] == close && re[i + 1] == ']'))
						i++;
					if (re[i])
						i++;
				}
				if (re[i])
					i++;
			}
			if (!re[i])
				break;
			continue;
		}
		if (re[i] == '+') {
			factor = 2;
		} else if (re[i] == '{') {
			unsigned long long n = 0;

			for (i++; re[i] >= '0' && re[i] <= '9'; i++)
				n = n < 100000 ? n * 10 + (unsigned)(re[i] - '0') : n;
			if (re[i] == ',') {
				unsigned long long m = 0;
				bool any = false;

				for (i++; re[i] >= '0' && re[i] <= '9'; i++, any = true)
					m = m < 100000 ? m * 10 + (unsigned)(re[i] - '0') : m;
				n = any ? m : n + 1;
			}
			factor = n + 1;
			if (!re[i])
				break;
		}
		cost *= factor;
		if (cost > LP_HIL_REGEX_MAX_COST)
			return false;
	}
	return true;
}

int lp_hil_regex_check(const char *re, char *err, size_t errlen)
{
	regex_t rx;
	int r;

	if (strlen(re) > LP_HIL_REGEX_MAX_LEN) {
		snprintf(err, errlen, "longer than %d bytes", LP_HIL_REGEX_MAX_LEN);
		return -EINVAL;
	}
	if (!regex_cost_ok(re)) {
		snprintf(err, errlen, "too many nested repetitions (+ or {n,m})");
		return -EINVAL;
	}
	r = regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE);
	if (r != 0) {
		regerror(r, &rx, err, errlen);
		return -EINVAL;
	}
	regfree(&rx);
	return 0;
}

uint64_t lp_hil_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int lp_hil_ms_left(uint64_t deadline)
{
	uint64_t now = lp_hil_now_ms();

	if (now >= deadline)
		return 0;
	if (deadline - now > INT_MAX)
		return INT_MAX;
	return (int)(deadline - now);
}

void lp_hil_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int lp_hil_write_all(int fd, const void *buf, size_t len, unsigned timeout_ms)
{
	const uint8_t *p = buf;
	uint64_t deadline = lp_hil_now_ms() + timeout_ms;

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
			int left = lp_hil_ms_left(deadline);

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
	size_t len;
	bool zombie = false;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return false;
	/* an exited process its parent has not reaped yet is not alive */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (lp_hil_read_file(path, 4096, &buf, &len) == 0) {
		paren = strrchr(buf, ')');
		zombie = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
		free(buf);
	}
	return !zombie;
}

int lp_hil_pid_wait_gone(pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = lp_hil_now_ms() + timeout_ms;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pfd < 0)
		return errno == ESRCH ? 0 : -errno;
	for (;;) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int left = lp_hil_ms_left(deadline);
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

int lp_hil_run_shell(const char *cmd, unsigned timeout_ms, int *ret_status, char *capture,
		     size_t cap)
{
	int pipefd[2] = {-1, -1};
	size_t got = 0;
	pid_t pid;
	int status, r = 0, pfd;
	uint64_t deadline = lp_hil_now_ms() + timeout_ms;

	if (capture && pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		setpgid(0, 0);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (capture)
			dup2(pipefd[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	if (capture) {
		close(pipefd[1]);
		pipefd[1] = -1;
	}
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		r = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	for (;;) {
		struct pollfd fds[2] = {{.fd = pfd, .events = POLLIN},
					{.fd = pipefd[0], .events = POLLIN}};
		int left = lp_hil_ms_left(deadline);
		int n = poll(fds, capture && pipefd[0] >= 0 ? 2 : 1, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && capture && pipefd[0] >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
			char tmp[512];
			ssize_t k = read(pipefd[0], tmp, sizeof(tmp));

			if (k <= 0) {
				close(pipefd[0]);
				pipefd[0] = -1;
			} else if (got + 1 < cap) {
				size_t take = (size_t)k < cap - 1 - got ? (size_t)k : cap - 1 - got;

				memcpy(capture + got, tmp, take);
				got += take;
			}
			continue;
		}
		if (n > 0 && (fds[0].revents & POLLIN))
			break;
		if (n == 0 || left == 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pfd);
			r = -ETIMEDOUT;
			goto out;
		}
	}
	close(pfd);
	/* the shell exited: kill leftovers in its group so nothing outlives the call */
	if (waitpid(pid, &status, 0) < 0) {
		r = -errno;
		goto out;
	}
	kill(-pid, SIGKILL);
	if (capture && pipefd[0] >= 0) {
		/* drain what is left without blocking on a grandchild holding the pipe */
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			char tmp[512];
			ssize_t k = read(pipefd[0], tmp, sizeof(tmp));

			if (k <= 0)
				break;
			if (got + 1 < cap) {
				size_t take = (size_t)k < cap - 1 - got ? (size_t)k : cap - 1 - got;

				memcpy(capture + got, tmp, take);
				got += take;
			}
		}
	}
	if (WIFEXITED(status))
		*ret_status = WEXITSTATUS(status);
	else
		*ret_status = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	if (capture && cap)
		capture[got < cap ? got : cap - 1] = '\0';
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return r;
}

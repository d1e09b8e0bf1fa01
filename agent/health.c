/* SPDX-License-Identifier: MIT */
/*
 * Commands with timeouts: health checks, configured actions and the reboot command.
 * argv comes from the agent's own config and runs without a shell; each command gets its
 * own process group so a timeout kills everything it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/log.h"

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spawn(const struct agent_command *cmd, int out_fd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int r;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGCHLD);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
	}
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	r = posix_spawn(ret_pid, cmd->argv[0], &fa, &attr, cmd->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -r;
}

/* Keeps the last bytes a command printed: out holds at most cap - 1 bytes, the newest. */
static void keep_tail(char *out, size_t cap, size_t *len, const char *buf, size_t n)
{
	if (n >= cap - 1) {
		buf += n - (cap - 1);
		n = cap - 1;
	}
	if (*len + n > cap - 1) {
		size_t drop = *len + n - (cap - 1);

		memmove(out, out + drop, *len - drop);
		*len -= drop;
	}
	memcpy(out + *len, buf, n);
	*len += n;
	out[*len] = '\0';
}

/* Reads what is there from fd into the tail; false at end of file. */
static bool read_tail(int fd, char *out, size_t cap, size_t *len)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	keep_tail(out, cap, len, buf, (size_t)n);
	return true;
}

int agent_command_run(const struct agent_command *cmd, int *ret_status)
{
	return agent_command_run_output(cmd, ret_status, NULL, 0);
}

int agent_command_run_output(const struct agent_command *cmd, int *ret_status, char *out,
			     size_t out_len)
{
	int64_t deadline = now_ms() + (int64_t)cmd->timeout_s * 1000;
	int status = 0, pidfd, pipefd[2] = {-1, -1};
	size_t got = 0;
	pid_t pid;
	int r;

	if (out && out_len) {
		out[0] = '\0';
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return -errno;
	}
	r = spawn(cmd, pipefd[1], &pid);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (r < 0) {
		if (pipefd[0] >= 0)
			close(pipefd[0]);
		return r;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		int64_t left = deadline - now_ms();
		pid_t w;

		if (left <= 0)
			break;
		if (pidfd >= 0 || pipefd[0] >= 0) {
			struct pollfd pfd[2] = {{.fd = pidfd, .events = POLLIN},
						{.fd = pipefd[0], .events = POLLIN}};
			int wait = left > 60000 ? 60000 : (int)left;

			if (pidfd < 0 && wait > 50)
				wait = 50; /* no pidfd (kernel < 5.3): look at the child often */
			r = poll(pfd, 2, wait);
			if (r < 0 && errno != EINTR)
				break;
			if (pipefd[0] >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !read_tail(pipefd[0], out, out_len, &got)) {
				close(pipefd[0]);
				pipefd[0] = -1;
			}
		} else {
			/* No pidfd (kernel < 5.3): look again every 50 ms. */
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			/* what the command printed last is still in the pipe (unless a child it
			 * left behind keeps the pipe open: then take what is there) */
			if (pipefd[0] >= 0) {
				fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
				while (read_tail(pipefd[0], out, out_len, &got) && errno != EAGAIN)
					;
				close(pipefd[0]);
			}
			if (pidfd >= 0)
				close(pidfd);
			*ret_status = status;
			return 0;
		}
		if (w < 0 && errno != EINTR) {
			r = -errno;
			if (pidfd >= 0)
				close(pidfd);
			if (pipefd[0] >= 0)
				close(pipefd[0]);
			return r;
		}
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pidfd >= 0)
		close(pidfd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	return -ETIME;
}

/* Appends ": <the last line(s) of output>" (whitespace squeezed, bounded) to buf. */
static void append_output(char *buf, size_t len, const char *out)
{
	char line[200];
	size_t n = 0, used = strlen(buf);
	const char *p;

	if (!out)
		return;
	/* the end of the output says most: take up to sizeof(line) - 1 bytes of it */
	p = out + strlen(out);
	while (p > out && (p[-1] == '\n' || p[-1] == '\r' || p[-1] == ' ' || p[-1] == '\t'))
		p--;
	{
		size_t avail = (size_t)(p - out);
		const char *start = avail > sizeof(line) - 1 ? p - (sizeof(line) - 1) : out;
		bool space = false;

		for (const char *q = start; q < p && n < sizeof(line) - 1; q++) {
			unsigned char c = (unsigned char)*q;

			if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
				space = n > 0;
				continue;
			}
			if (space && n < sizeof(line) - 2)
				line[n++] = ' ';
			space = false;
			line[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	line[n] = '\0';
	if (n && used + 3 < len)
		snprintf(buf + used, len - used, ": %s", line);
}

/* Describes how a command ended; returns true for success. */
static bool describe(const struct agent_command *cmd, const char *what, int r, int status,
		     char *buf, size_t len)
{
	if (r == -ETIME)
		snprintf(buf, len, "%s \"%s\" timed out after %u s", what, cmd->name, cmd->timeout_s);
	else if (r < 0)
		snprintf(buf, len, "%s \"%s\" could not start %s: %s", what, cmd->name, cmd->argv[0],
			 strerror(-r));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	else if (WIFEXITED(status))
		snprintf(buf, len, "%s \"%s\" failed with exit status %d", what, cmd->name,
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "%s \"%s\" was killed by signal %d", what, cmd->name,
			 WTERMSIG(status));
	else
		snprintf(buf, len, "%s \"%s\" ended abnormally", what, cmd->name);
	return false;
}

int agent_health_check(const struct agent_config *cfg, char *ret_reason, size_t reason_len)
{
	for (size_t i = 0; i < cfg->n_health; i++) {
		const struct agent_command *cmd = &cfg->health[i];
		char out[AGENT_OUTPUT_TAIL];
		int status = 0;
		int r = agent_command_run_output(cmd, &status, out, sizeof(out));

		if (!describe(cmd, "health check", r, status, ret_reason, reason_len)) {
			append_output(ret_reason, reason_len, out);
			log_warn("%s", ret_reason);
			return -EIO;
		}
		log_info("health check \"%s\" passed", cmd->name);
	}
	if (cfg->health_backend_reachable && cfg->n_backends > 0) {
		int r = agent_backend_reachable(cfg);

		if (r < 0) {
			snprintf(ret_reason, reason_len, "health check: no backend answered a poll (%s)",
				 strerror(-r));
			log_warn("%s", ret_reason);
			return -EIO;
		}
		log_info("health check: a backend answered");
	}
	return 0;
}

int agent_command_describe(const struct agent_command *cmd, const char *what, int r, int status,
			   const char *output, char *buf, size_t len)
{
	bool ok = describe(cmd, what, r, status, buf, len);

	if (ok)
		snprintf(buf, len, "%s \"%s\" succeeded", what, cmd->name);
	append_output(buf, len, output);
	return ok ? 0 : -EIO;
}

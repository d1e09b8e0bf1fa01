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

static int spawn(const struct agent_command *cmd, pid_t *ret_pid)
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

int agent_command_run(const struct agent_command *cmd, int *ret_status)
{
	int64_t deadline = now_ms() + (int64_t)cmd->timeout_s * 1000;
	int status = 0, pidfd;
	pid_t pid;
	int r;

	r = spawn(cmd, &pid);
	if (r < 0)
		return r;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		int64_t left = deadline - now_ms();
		pid_t w;

		if (left <= 0)
			break;
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
			if (r < 0 && errno != EINTR)
				break;
		} else {
			/* No pidfd (kernel < 5.3): look again every 50 ms. */
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			if (pidfd >= 0)
				close(pidfd);
			*ret_status = status;
			return 0;
		}
		if (w < 0 && errno != EINTR) {
			r = -errno;
			if (pidfd >= 0)
				close(pidfd);
			return r;
		}
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pidfd >= 0)
		close(pidfd);
	return -ETIME;
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
		int status = 0;
		int r = agent_command_run(cmd, &status);

		if (!describe(cmd, "health check", r, status, ret_reason, reason_len)) {
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
			   char *buf, size_t len)
{
	return describe(cmd, what, r, status, buf, len) ? 0 : -EIO;
}

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loopline/clock.h"
#include "loopline/proc.h"

#define CAPTURE_DEFAULT (64u * 1024u)
#define NO_PIDFD_POLL_MS 20 /* without a pidfd (kernel < 5.3) the child is looked at often */

extern char **environ;

struct lp_proc {
	pid_t pid;       /* also the process group id */
	int pidfd;       /* -1 if the kernel has none */
	int out;         /* capture pipe, -1 when closed or not capturing */
	bool reaped;
	int status;
	unsigned flags;
	char *buf;       /* capture buffer, cap + 1 bytes */
	size_t cap, len;
	bool truncated;
};

static int spawn_actions(const struct lp_proc_opts *o, int pipe_w, posix_spawn_file_actions_t *fa)
{
	int r = 0;

	if (o->flags & LP_PROC_STDIN_FD)
		r = posix_spawn_file_actions_adddup2(fa, o->in_fd, STDIN_FILENO);
	else if (!(o->flags & LP_PROC_STDIN_INHERIT))
		r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0 && o->out == LP_PROC_OUT_NULL)
		r = posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	else if (r == 0 && o->out == LP_PROC_OUT_CAPTURE)
		r = posix_spawn_file_actions_adddup2(fa, pipe_w, STDOUT_FILENO);
	else if (r == 0 && o->out == LP_PROC_OUT_FD)
		r = posix_spawn_file_actions_adddup2(fa, o->out_fd, STDOUT_FILENO);
	if (r == 0 && o->err == LP_PROC_ERR_NULL)
		r = posix_spawn_file_actions_addopen(fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	else if (r == 0 && o->err == LP_PROC_ERR_STDOUT)
		r = posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO, STDERR_FILENO);
	else if (r == 0 && o->err == LP_PROC_ERR_FD)
		r = posix_spawn_file_actions_adddup2(fa, o->err_fd, STDERR_FILENO);
	if (r == 0 && o->cwd)
		r = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
	return -r;
}

static int spawn_attrs(posix_spawnattr_t *attr)
{
	sigset_t none, defaults;
	int r;

	sigemptyset(&none);
	sigfillset(&defaults); /* every handler back to its default in the child */
	r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					   POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setpgroup(attr, 0);
	if (r == 0)
		r = posix_spawnattr_setsigmask(attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(attr, &defaults);
	return -r;
}

int lp_proc_spawn(const struct lp_proc_opts *o, struct lp_proc **ret_proc)
{
	const char *sh_argv[] = { "sh", "-c", o->shell, NULL };
	char *const *argv = (char *const *)(o->shell ? sh_argv : o->argv);
	char *const *envp = o->envp ? (char *const *)o->envp : environ;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int pipefd[2] = { -1, -1 };
	struct lp_proc *p;
	int r;

	if (!o->shell == !o->argv || (o->argv && !o->argv[0]))
		return -EINVAL;
	if ((o->out == LP_PROC_OUT_FD && o->out_fd < 0) || (o->err == LP_PROC_ERR_FD && o->err_fd < 0) ||
	    ((o->flags & LP_PROC_STDIN_FD) && o->in_fd < 0))
		return -EBADF;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pidfd = p->out = -1;
	p->flags = o->flags;
	if (o->out == LP_PROC_OUT_CAPTURE) {
		p->cap = o->capture_max ? o->capture_max : CAPTURE_DEFAULT;
		p->buf = malloc(p->cap + 1);
		if (!p->buf || pipe2(pipefd, O_CLOEXEC) < 0) {
			r = p->buf ? -errno : -ENOMEM;
			goto fail;
		}
		p->buf[0] = '\0';
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	r = spawn_actions(o, pipefd[1], &fa);
	if (r == 0)
		r = spawn_attrs(&attr);
	if (r == 0) {
		if (o->shell)
			r = -posix_spawn(&p->pid, "/bin/sh", &fa, &attr, argv, envp);
		else
			r = -posix_spawnp(&p->pid, argv[0], &fa, &attr, argv, envp);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (r < 0)
		goto fail;
	p->out = pipefd[0];
	if (p->out >= 0)
		fcntl(p->out, F_SETFL, O_NONBLOCK);
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	*ret_proc = p;
	return 0;
fail:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	free(p->buf);
	free(p);
	return r;
}

pid_t lp_proc_pid(const struct lp_proc *p)
{
	return p->pid;
}

int lp_proc_fd(const struct lp_proc *p)
{
	return p->reaped ? -1 : p->pidfd;
}

int lp_proc_output_fd(const struct lp_proc *p)
{
	return p->out;
}

static void keep(struct lp_proc *p, const char *data, size_t n)
{
	if (!(p->flags & LP_PROC_KEEP_TAIL)) {
		size_t room = p->cap - p->len;

		if (n > room) {
			p->truncated = true;
			n = room;
		}
	} else if (n >= p->cap) {
		data += n - p->cap;
		n = p->cap;
		p->len = 0;
		p->truncated = true;
	} else if (p->len + n > p->cap) {
		size_t drop = p->len + n - p->cap;

		memmove(p->buf, p->buf + drop, p->len - drop);
		p->len -= drop;
		p->truncated = true;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

void lp_proc_pump(struct lp_proc *p)
{
	char tmp[4096];

	while (p->out >= 0) {
		ssize_t n = read(p->out, tmp, sizeof(tmp));

		if (n > 0) {
			keep(p, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(p->out); /* end of output (or an error: nothing more will come) */
		p->out = -1;
	}
}

static void reaped(struct lp_proc *p, int status)
{
	p->reaped = true;
	p->status = status;
	if (p->flags & LP_PROC_KILL_LEFTOVERS)
		kill(-p->pid, SIGKILL);
	/* what the child printed last is in the pipe; a grandchild that keeps the pipe open
	 * must not block us, so only what is there now is read */
	lp_proc_pump(p);
	if (p->out >= 0 && !(p->flags & LP_PROC_KILL_LEFTOVERS))
		return;
	if (p->out >= 0) {
		close(p->out);
		p->out = -1;
	}
	if (p->pidfd >= 0) {
		close(p->pidfd);
		p->pidfd = -1;
	}
}

static bool try_reap(struct lp_proc *p)
{
	int status;
	pid_t w;

	if (p->reaped)
		return true;
	do
		w = waitpid(p->pid, &status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == p->pid) {
		reaped(p, status);
		return true;
	}
	if (w < 0) { /* ECHILD: someone else reaped it; nothing more to learn */
		reaped(p, 0);
		return true;
	}
	return false;
}

bool lp_proc_exited(struct lp_proc *p)
{
	return try_reap(p);
}

int lp_proc_wait(struct lp_proc *p, int timeout_ms, const struct lp_proc_watch *watch,
		 const volatile sig_atomic_t *interrupted)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : lp_clock_deadline_ms((uint64_t)timeout_ms);

	for (;;) {
		struct pollfd fds[3];
		nfds_t n = 0;
		int wfd = watch && watch->fd ? watch->fd(watch->ctx) : -1;
		int left, wi = -1;

		if (try_reap(p))
			return 0;
		if (interrupted && *interrupted)
			return -EINTR;
		left = lp_clock_ms_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		if (p->pidfd >= 0)
			fds[n++] = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
		else if (left > NO_PIDFD_POLL_MS)
			left = NO_PIDFD_POLL_MS;
		if (p->out >= 0)
			fds[n++] = (struct pollfd){ .fd = p->out, .events = POLLIN };
		if (wfd >= 0) {
			wi = (int)n;
			fds[n++] = (struct pollfd){ .fd = wfd, .events = POLLIN };
		}
		if (poll(fds, n, left) < 0) {
			if (errno != EINTR)
				return -errno;
			continue;
		}
		if (p->out >= 0)
			lp_proc_pump(p);
		if (wi >= 0 && fds[wi].revents)
			watch->ready(watch->ctx, fds[wi].revents);
	}
}

int lp_proc_kill(struct lp_proc *p, int sig)
{
	if (p->reaped)
		return -ESRCH;
	if (kill(-p->pid, sig) < 0 && kill(p->pid, sig) < 0)
		return -errno;
	return 0;
}

int lp_proc_stop(struct lp_proc *p, unsigned grace_ms)
{
	int r;

	if (try_reap(p))
		return 0;
	(void)lp_proc_kill(p, SIGTERM);
	r = lp_proc_wait(p, (int)grace_ms, NULL, NULL);
	if (r == 0)
		return 0;
	(void)lp_proc_kill(p, SIGKILL);
	return lp_proc_wait(p, -1, NULL, NULL);
}

int lp_proc_status(const struct lp_proc *p)
{
	return p->status;
}

int lp_proc_exit_code(const struct lp_proc *p)
{
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return 255;
}

const char *lp_proc_output(const struct lp_proc *p, size_t *ret_len)
{
	if (ret_len)
		*ret_len = p->buf ? p->len : 0;
	return p->buf ? p->buf : "";
}

bool lp_proc_output_truncated(const struct lp_proc *p)
{
	return p->truncated;
}

void lp_proc_free(struct lp_proc *p)
{
	if (!p)
		return;
	if (!p->reaped) {
		int status;

		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (p->out >= 0)
		close(p->out);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p->buf);
	free(p);
}

int lp_proc_run(const struct lp_proc_opts *opts, unsigned timeout_ms,
		const struct lp_proc_watch *watch, char *out, size_t out_size,
		struct lp_proc_result *ret)
{
	struct lp_proc_opts o = *opts;
	struct lp_proc *p;
	int r;

	if (o.out == LP_PROC_OUT_CAPTURE) {
		if (!out || out_size == 0)
			return -EINVAL;
		o.capture_max = out_size - 1;
		out[0] = '\0';
	}
	r = lp_proc_spawn(&o, &p);
	if (r < 0)
		return r;
	r = lp_proc_wait(p, timeout_ms ? (int)(timeout_ms > INT32_MAX ? INT32_MAX : timeout_ms) : -1,
			 watch, NULL);
	if (r == -ETIMEDOUT) {
		(void)lp_proc_kill(p, SIGKILL);
		(void)lp_proc_wait(p, -1, NULL, NULL);
	} else if (r < 0) {
		lp_proc_free(p);
		return r;
	}
	if (o.out == LP_PROC_OUT_CAPTURE) {
		size_t len;
		const char *text = lp_proc_output(p, &len);

		memcpy(out, text, len + 1);
	}
	ret->status = lp_proc_status(p);
	ret->exit_code = lp_proc_exit_code(p);
	ret->timed_out = r == -ETIMEDOUT;
	lp_proc_free(p);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * Child processes written once: start a program (or a /bin/sh -c command) in its own
 * process group with stdin from /dev/null, optionally capture what it prints (bounded,
 * keeping the first or the last bytes), wait for it with a timeout while the caller's
 * own descriptor (a console, say) keeps being served, and stop it and everything it
 * started.
 *
 * Two levels: lp_proc_run() for a command that runs to its end within a timeout, and
 * lp_proc_spawn()/lp_proc_wait()/lp_proc_stop()/lp_proc_free() for long-running children
 * (servers, QEMU) whose descriptor (lp_proc_fd) can sit in the caller's poll loop.
 *
 * Errors are negative errno values; nothing here logs.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "loopline/common.h"

enum lp_proc_out {
	LP_PROC_OUT_INHERIT = 0, /* the caller's stdout */
	LP_PROC_OUT_NULL,        /* /dev/null */
	LP_PROC_OUT_CAPTURE,     /* a pipe read into a bounded buffer (see capture_max) */
	LP_PROC_OUT_FD,          /* out_fd (e.g. a log file; the caller keeps it open) */
};

enum lp_proc_err {
	LP_PROC_ERR_INHERIT = 0, /* the caller's stderr */
	LP_PROC_ERR_NULL,        /* /dev/null */
	LP_PROC_ERR_STDOUT,      /* wherever stdout goes (captured with it) */
	LP_PROC_ERR_FD,          /* err_fd */
};

enum lp_proc_flags {
	LP_PROC_KEEP_TAIL = 1 << 0,      /* capture keeps the last bytes, not the first */
	LP_PROC_KILL_LEFTOVERS = 1 << 1, /* when the child exits, SIGKILL what is left of its
					  * process group (nothing it started outlives it) */
	LP_PROC_STDIN_INHERIT = 1 << 2,  /* stdin from the caller instead of /dev/null */
	LP_PROC_STDIN_FD = 1 << 3,       /* stdin from in_fd instead of /dev/null (e.g. one
					  * end of a socketpair; the caller keeps it open) */
};

struct lp_proc_opts {
	const char *const *argv; /* program and arguments; PATH is searched without a '/' */
	const char *shell;       /* or: a command run by /bin/sh -c (exactly one of the two) */
	const char *const *envp; /* NULL: the caller's environment */
	const char *cwd;         /* NULL: the caller's directory */
	int in_fd;               /* LP_PROC_STDIN_FD: the child's stdin */
	enum lp_proc_out out;
	int out_fd;
	enum lp_proc_err err;
	int err_fd;
	size_t capture_max;      /* LP_PROC_OUT_CAPTURE: bytes kept (default 64 KiB) */
	unsigned flags;          /* enum lp_proc_flags */
};

/* While lp_proc_wait/lp_proc_run wait, fd() (if it returns >= 0) is polled too and
 * ready() called when it is readable or hung up. */
struct lp_proc_watch {
	int (*fd)(void *ctx);
	void (*ready)(void *ctx, short revents);
	void *ctx;
};

struct lp_proc;

/* Starts the child. -ENOENT/-EACCES if the program cannot be executed. Free with
 * lp_proc_free. */
LP_EXPORT int lp_proc_spawn(const struct lp_proc_opts *opts, struct lp_proc **ret_proc);

LP_EXPORT pid_t lp_proc_pid(const struct lp_proc *p);
/* A descriptor that becomes readable when the child exits (pidfd), for poll loops. */
LP_EXPORT int lp_proc_fd(const struct lp_proc *p);
/* The capture pipe (readable when output is waiting), -1 if none or closed; call
 * lp_proc_pump when it is readable. */
LP_EXPORT int lp_proc_output_fd(const struct lp_proc *p);
/* Reads what the capture pipe holds without blocking. */
LP_EXPORT void lp_proc_pump(struct lp_proc *p);

/*
 * Waits up to timeout_ms (negative: no limit) for the child to exit, reading its captured
 * output meanwhile. 0 once it has exited (also if it had before), -ETIMEDOUT if it still
 * runs, -EINTR if a signal arrived and *interrupted (optional) is true afterwards
 * — pass the caller's stop flag to end a wait on Ctrl-C.
 */
LP_EXPORT int lp_proc_wait(struct lp_proc *p, int timeout_ms, const struct lp_proc_watch *watch,
			   const volatile sig_atomic_t *interrupted);
/* True once the child has exited and been reaped. */
LP_EXPORT bool lp_proc_exited(struct lp_proc *p);
/* Sends sig to the child's process group. -ESRCH once it has been reaped. */
LP_EXPORT int lp_proc_kill(struct lp_proc *p, int sig);
/* SIGTERM to the group, up to grace_ms for it to exit, then SIGKILL; reaps the child. */
LP_EXPORT int lp_proc_stop(struct lp_proc *p, unsigned grace_ms);

/* Raw wait status, and the shell-style exit code: 0–255, or 128 + the signal. Only
 * meaningful once lp_proc_exited. */
LP_EXPORT int lp_proc_status(const struct lp_proc *p);
LP_EXPORT int lp_proc_exit_code(const struct lp_proc *p);
/* The captured output, NUL-terminated ("" if none); valid until lp_proc_free. */
LP_EXPORT const char *lp_proc_output(const struct lp_proc *p, size_t *ret_len);
/* True if output was dropped because it exceeded capture_max. */
LP_EXPORT bool lp_proc_output_truncated(const struct lp_proc *p);

/* Kills the group (SIGKILL) if the child still runs, reaps it, frees. Accepts NULL. */
LP_EXPORT void lp_proc_free(struct lp_proc *p);

struct lp_proc_result {
	int status;     /* raw wait status */
	int exit_code;  /* 0–255, or 128 + signal */
	bool timed_out; /* killed at the timeout */
};

/*
 * Runs a command to its end: spawn, wait up to timeout_ms (0: no limit), kill the group
 * at the timeout. With opts->out == LP_PROC_OUT_CAPTURE the output (NUL-terminated,
 * bounded by out_size - 1, first or last bytes as the flags say) goes to out.
 * Returns 0 when the command ran and exited (whatever its exit code: see ret),
 * -ETIMEDOUT when it was killed at the timeout (ret and out are filled), or -errno when
 * it could not be started.
 */
LP_EXPORT int lp_proc_run(const struct lp_proc_opts *opts, unsigned timeout_ms,
			  const struct lp_proc_watch *watch, char *out, size_t out_size,
			  struct lp_proc_result *ret);

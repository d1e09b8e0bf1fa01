/* SPDX-License-Identifier: MIT */
/*
 * script BOARD FILE|-: runs a scenario file step by step on one board, keeping the console
 * open the whole time, so nothing the board prints between steps (a reboot, a boot
 * selector's decision, a panic) is lost. Host commands run while the console is pumped.
 * The step language is documented in docs/hil.md ("Scenario scripts").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"
#include "loopline/clock.h"
#include "loopline/log.h"
#include "loopline-hil/script.h"

#define CAPTURE_MAX (64u * 1024u)

struct script {
	struct cli *cli;
	struct lp_hil_board *board;
	const char *file;
	unsigned line;
	bool console_open;  /* the console is open and should be pumped during host steps */
	bool echo;          /* echo console bytes to stderr */
	uint64_t t0;
};

static int step_fail(struct script *s, int code, const char *fmt, ...) LP_PRINTF(3, 4);
static int step_fail(struct script *s, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%u: %s", s->file, s->line, msg);
	return code;
}

/* A library error of a step: "FILE:LINE: message" and the CLI's exit code for it. */
static int diag_fail(struct script *s, int err, struct lp_diag *diag)
{
	if (!diag->msg[0])
		lp_diag_fail(diag, err, "%s", strerror(-err));
	lp_diag_set_file(diag, s->file);
	lp_diag_set_pos(diag, s->line, 0);
	return cli_fail(err, diag);
}

static void echo_sink(void *userdata, const uint8_t *buf, size_t len)
{
	(void)userdata;
	(void)!fwrite(buf, 1, len, stderr);
}

/* Reads up to what is available from fd into buf (bounded); false at end of file. */
static bool drain(int fd, char *buf, size_t cap, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR);
	if (*len + (size_t)n > cap - 1) {
		/* keep the tail: the end of a failing command's output says most */
		size_t keep = cap - 1 > (size_t)n ? cap - 1 - (size_t)n : 0;

		if (*len > keep) {
			memmove(buf, buf + (*len - keep), keep);
			*len = keep;
		}
		if ((size_t)n > cap - 1)
			n = (ssize_t)(cap - 1);
	}
	memcpy(buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/*
 * Runs "/bin/sh -c cmd" with stdin /dev/null; its stdout (and stderr when out_err) goes
 * to out when out is set, else to ours. The console is pumped meanwhile. Past timeout the
 * process group is killed and -ETIMEDOUT returned; otherwise the exit status (0–255, or
 * 128+signal).
 */
static int host_cmd(struct script *s, const char *cmd, uint64_t deadline, char *out,
		    size_t out_cap, size_t *out_len, bool out_err)
{
	int pfd[2] = {-1, -1}, pidfd = -1, status = 0, r;
	bool pipe_open = false;
	pid_t pid;

	if (out && pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (null >= 0)
			dup2(null, 0);
		if (out) {
			dup2(pfd[1], 1);
			if (out_err)
				dup2(pfd[1], 2);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	if (out) {
		close(pfd[1]);
		pfd[1] = -1;
		fcntl(pfd[0], F_SETFL, O_NONBLOCK);
		pipe_open = true;
		*out_len = 0;
		out[0] = '\0';
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd p[3];
		nfds_t n = 0;
		int con_i = -1, pipe_i = -1, wait_ms;
		uint64_t now;
		struct lp_hil_console *con = NULL;
		struct lp_diag diag;

		if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid)
			pid = 0; /* reaped; what is left in the pipe is still read */
		if (pid == 0 && !pipe_open)
			break;
		now = lp_clock_mono_ms();
		if (now >= deadline) {
			if (pid > 0) {
				kill(-pid, SIGKILL);
				waitpid(pid, &status, 0);
			}
			r = -ETIMEDOUT;
			goto out;
		}
		wait_ms = (int)(deadline - now > 200 ? 200 : deadline - now);
		if (pid > 0 && pidfd < 0 && wait_ms > 20)
			wait_ms = 20; /* no pidfd: look at the child often */
		if (pid > 0 && pidfd >= 0)
			p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (pipe_open) {
			pipe_i = (int)n;
			p[n++] = (struct pollfd){.fd = pfd[0], .events = POLLIN};
		}
		lp_diag_clear(&diag);
		if (s->console_open && lp_hil_board_console(s->board, &con, &diag) == 0 &&
		    lp_hil_console_fd(con) >= 0) {
			con_i = (int)n;
			p[n++] = (struct pollfd){.fd = lp_hil_console_fd(con), .events = POLLIN};
		}
		if (poll(p, n, wait_ms) < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
		if (con_i >= 0 && (p[con_i].revents & (POLLIN | POLLHUP | POLLERR)))
			(void)lp_hil_console_pump(con, 0);
		if (pipe_i >= 0 && (p[pipe_i].revents & (POLLIN | POLLHUP | POLLERR)))
			pipe_open = drain(pfd[0], out, out_cap, out_len);
	}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	if (pidfd >= 0)
		close(pidfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return r;
}

/* Keeps the console flowing for ms (between "until" attempts). */
static void pump_for(struct script *s, unsigned ms)
{
	uint64_t end = lp_clock_mono_ms() + ms;
	struct lp_hil_console *con;
	struct lp_diag diag;

	for (uint64_t now; (now = lp_clock_mono_ms()) < end;) {
		lp_diag_clear(&diag);
		if (!s->console_open || lp_hil_board_console(s->board, &con, &diag) < 0) {
			lp_clock_sleep_ms((unsigned)(end - now));
			return;
		}
		if (lp_hil_console_pump(con, (int)(end - now)) < 0)
			lp_clock_sleep_ms(10);
	}
}

static double elapsed(const struct script *s)
{
	return (double)(lp_clock_mono_ms() - s->t0) / 1000.0;
}

static int step_power(struct script *s, const char *arg)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	if (strcmp(arg, "on") == 0) {
		r = lp_hil_power_on(lp_hil_board_power(s->board), 0, &diag);
	} else if (strcmp(arg, "off") == 0) {
		r = lp_hil_board_power_off(s->board, &diag);
		s->console_open = false;
	} else if (strcmp(arg, "cut") == 0) {
		r = lp_hil_board_power_cut(s->board, &diag);
		s->console_open = false;
	} else if (strcmp(arg, "cycle") == 0) {
		r = lp_hil_board_power_cycle(s->board, &diag);
	} else {
		return step_fail(s, LP_EXIT_USAGE, "power: expected on, off, cut or cycle, not \"%s\"",
				 arg);
	}
	return r < 0 ? diag_fail(s, r, &diag) : 0;
}

static int step_fail_on(struct script *s, const char *arg)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	if (strcmp(arg, "default") == 0)
		r = lp_hil_board_set_failure(s->board, NULL, 0, &diag);
	else if (strcmp(arg, "none") == 0)
		r = lp_hil_board_set_failure(s->board, (const char *const[]){""}, 0, &diag);
	else
		r = lp_hil_board_set_failure(s->board, &arg, 1, &diag);
	return r < 0 ? step_fail(s, LP_EXIT_USAGE, "fail-on: %s", diag.msg) : 0;
}

static int step_run(struct script *s, const char *cmd, uint64_t timeout_ms)
{
	struct lp_diag diag;
	uint8_t *out = NULL;
	size_t len = 0;
	int status = 0, r;

	lp_diag_clear(&diag);
	r = lp_hil_board_run(s->board, cmd, (unsigned)timeout_ms, &status, &out, &len, &diag);
	s->console_open = true;
	if (r < 0) {
		free(out);
		return diag_fail(s, r, &diag);
	}
	(void)!fwrite(out, 1, len, stdout);
	fflush(stdout);
	free(out);
	if (status != 0)
		return step_fail(s, LP_EXIT_FAILURE, "run: \"%s\" exited with status %d on the board",
				 cmd, status);
	return 0;
}

static int step_host(struct script *s, enum lp_hil_step_kind kind, const char *cmd,
		     uint64_t timeout_ms, const char *var)
{
	uint64_t deadline = lp_clock_mono_ms() + timeout_ms;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (kind == LP_HIL_STEP_HOST) {
		r = host_cmd(s, cmd, deadline, NULL, 0, NULL, false);
		if (r == -ETIMEDOUT)
			return step_fail(s, HIL_EXIT_TIMEOUT, "host: \"%s\" did not finish within %.1f s",
					 cmd, (double)timeout_ms / 1000.0);
		if (r != 0)
			return step_fail(s, LP_EXIT_FAILURE, "host: \"%s\" exited with status %d", cmd, r);
		return 0;
	}
	if (!(buf = malloc(CAPTURE_MAX)))
		return LP_EXIT_FAILURE;
	if (kind == LP_HIL_STEP_CAPTURE) {
		r = host_cmd(s, cmd, deadline, buf, CAPTURE_MAX, &len, false);
		if (r == 0) {
			while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
				buf[--len] = '\0';
			if (memchr(buf, '\0', len)) {
				r = step_fail(s, LP_EXIT_FAILURE, "capture: \"%s\" printed a NUL byte", cmd);
			} else {
				setenv(var, buf, 1);
				log_debug("%s:%u: %s=%s", s->file, s->line, var, buf);
			}
		} else if (r == -ETIMEDOUT) {
			r = step_fail(s, HIL_EXIT_TIMEOUT, "capture: \"%s\" did not finish within %.1f s",
				      cmd, (double)timeout_ms / 1000.0);
		} else {
			r = step_fail(s, LP_EXIT_FAILURE, "capture: \"%s\" exited with status %d", cmd, r);
		}
		free(buf);
		return r;
	}
	/* until: retry with growing pauses (0.1 s … 0.5 s) until it exits 0 */
	{
		unsigned pause = 100, tries = 0;

		for (;;) {
			tries++;
			r = host_cmd(s, cmd, deadline, buf, CAPTURE_MAX, &len, true);
			if (r == 0)
				break;
			if (r == -ETIMEDOUT || lp_clock_mono_ms() + pause >= deadline) {
				r = step_fail(s, HIL_EXIT_TIMEOUT,
					      "until: \"%s\" did not succeed within %.1f s (%u tries); last output: %.*s",
					      cmd, (double)timeout_ms / 1000.0, tries, (int)(len > 600 ? 600 : len),
					      len > 600 ? buf + len - 600 : buf);
				free(buf);
				return r;
			}
			pump_for(s, pause);
			pause = pause * 2 > 500 ? 500 : pause * 2;
		}
		if (len)
			(void)!fwrite(buf, 1, len, stdout);
		fflush(stdout);
		log_debug("%s:%u: until: succeeded after %u tries", s->file, s->line, tries);
	}
	free(buf);
	return 0;
}

static int do_step(struct script *s, const struct lp_hil_step *st, const char *arg)
{
	struct lp_diag diag;
	struct lp_hil_match m;
	int r;

	lp_diag_clear(&diag);
	switch (st->kind) {
	case LP_HIL_STEP_BOOT:
		r = lp_hil_board_boot(s->board, arg[0] ? arg : NULL,
				      st->has_timeout ? st->timeout_ms : 0, &diag);
		s->console_open = r == 0;
		return r < 0 ? diag_fail(s, r, &diag) : 0;
	case LP_HIL_STEP_EXPECT:
		r = lp_hil_board_expect_pattern(s->board, arg, st->timeout_ms, &m, &diag);
		s->console_open = true;
		if (r < 0)
			return diag_fail(s, r, &diag);
		/* what the board prints by itself usually means it rebooted or changed state:
		 * the next run prepares its shell afresh */
		lp_hil_board_reset_shell(s->board);
		printf("loopline-hil: %.3f matched: %s\n", elapsed(s), m.text);
		fflush(stdout);
		return 0;
	case LP_HIL_STEP_RUN:
		return step_run(s, arg, st->timeout_ms);
	case LP_HIL_STEP_HOST:
	case LP_HIL_STEP_UNTIL:
	case LP_HIL_STEP_CAPTURE:
		return step_host(s, st->kind, arg, st->timeout_ms, st->var);
	case LP_HIL_STEP_POWER:
		return step_power(s, arg);
	case LP_HIL_STEP_FAIL_ON:
		return step_fail_on(s, arg);
	case LP_HIL_STEP_MARK:
		printf("loopline-hil: mark %s %.3f\n", arg, elapsed(s));
		fflush(stdout);
		return 0;
	case LP_HIL_STEP_ECHO:
		printf("%s\n", arg);
		fflush(stdout);
		return 0;
	}
	return step_fail(s, LP_EXIT_USAGE, "unknown step");
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	size_t cap = 4096, len = 0, n;
	char *buf;

	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len > LP_HIL_SCRIPT_MAX_BYTES) {
			free(buf);
			buf = NULL;
			errno = EFBIG;
		} else if (len == cap) {
			char *t = realloc(buf, cap * 2);

			if (!t)
				free(buf);
			buf = t;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!buf)
		return errno ? -errno : -ENOMEM;
	*ret = buf;
	*ret_len = len;
	return 0;
}

int cmd_script(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"echo", no_argument, NULL, 'e'},
					     {"check", no_argument, NULL, 'c'},
					     {0}};
	struct script s = {.cli = cli};
	struct lp_hil_script *sc = NULL;
	struct lp_diag diag;
	bool check_only = false;
	char *text = NULL;
	size_t len = 0;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "ec", opts, NULL)) != -1) {
		if (c == 'e')
			s.echo = true;
		else if (c == 'c')
			check_only = true;
		else
			return cli_usage_error("script: unknown option");
	}
	if (argc - optind != 2)
		return cli_usage_error("script: expected BOARD FILE (- for stdin)");
	s.file = argv[optind + 1];
	if ((r = read_file(s.file, &text, &len)) < 0) {
		log_error("%s: %s", s.file, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return LP_EXIT_USAGE;
	}
	lp_diag_clear(&diag);
	r = lp_hil_script_parse(text, len, s.file, &sc, &diag);
	free(text);
	if (r < 0) {
		char buf[1024];

		log_error("%s", lp_diag_format(&diag, buf, sizeof(buf)));
		return r == -ENOMEM ? LP_EXIT_FAILURE : LP_EXIT_USAGE;
	}
	if (check_only) {
		printf("%s: %zu steps\n", s.file, sc->n_steps);
		lp_hil_script_free(sc);
		return 0;
	}
	if ((r = cli_board_open(cli, argv[optind], "loopline-hil script", &s.board)) != 0) {
		lp_hil_script_free(sc);
		return r;
	}
	if (s.echo)
		lp_hil_board_set_sink(s.board, echo_sink, NULL);
	s.t0 = lp_clock_mono_ms();
	for (size_t i = 0; i < sc->n_steps && r == 0; i++) {
		const struct lp_hil_step *st = &sc->steps[i];
		char *arg = NULL;

		s.line = st->line;
		lp_diag_clear(&diag);
		if ((r = lp_hil_script_expand(st->arg, &arg, &diag)) < 0) {
			r = r == -ENOMEM ? LP_EXIT_FAILURE
					 : step_fail(&s, LP_EXIT_USAGE, "%s: %s", lp_hil_step_name(st->kind),
						     diag.msg);
			break;
		}
		log_info("%s:%u: [%.3f s] %s%s%s %s", s.file, s.line, elapsed(&s),
			 lp_hil_step_name(st->kind), st->var ? " " : "", st->var ? st->var : "", arg);
		r = do_step(&s, st, arg);
		free(arg);
	}
	if (r == 0)
		log_info("%s: all %zu steps passed in %.3f s", s.file, sc->n_steps, elapsed(&s));
	cli_board_close(cli, s.board);
	lp_hil_script_free(sc);
	return r;
}

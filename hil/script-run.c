/* SPDX-License-Identifier: MIT */
/*
 * The scenario script runner (see loopline-hil/script.h): runs a parsed script step by
 * step on one board, keeping its console open and read the whole time, so nothing the
 * board prints between steps (a reboot, a boot selector's decision, a panic) is lost —
 * host commands run through lp_proc with the console as the watched descriptor.
 *
 * One owner for the verdict: every failing step ends in fail(), which fills the result
 * (class, errno, FILE:LINE, the step's text, the message, the console's last lines).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "loopline/clock.h"
#include "loopline/proc.h"
#include "loopline-hil/board.h"
#include "loopline-hil/script.h"

#define HOST_CAPTURE_MAX (64u * 1024u) /* output kept of a capture or until command */
#define UNTIL_SHOWN_MAX 600            /* bytes of a failed until's output in the message */
#define TAIL_RING (16u * 1024u)         /* console bytes kept for the tail of a failure */
#define MAX_CAPTURED 256               /* distinct capture variables in one run */

struct run {
	struct lp_hil_board *board;
	const struct lp_hil_script *sc;
	struct lp_hil_script_opts opts;
	struct lp_hil_script_result *res;
	const struct lp_hil_step *step; /* the step running */
	const char *arg;                /* its argument, expanded (NULL until it is) */
	bool console_open;              /* pump the console during host commands */
	uint64_t t0;
	char **captured;                /* "NAME=value", one per name */
	size_t n_captured;
	char ring[TAIL_RING];           /* the console's last bytes */
	size_t ring_len;
	bool ring_cut;                  /* bytes slid out: the first line is partial */
};

static const char *const error_names[] = {
	[LP_HIL_SCRIPT_OK] = "ok",
	[LP_HIL_SCRIPT_ERR_TIMEOUT] = "timeout",
	[LP_HIL_SCRIPT_ERR_FAILURE_PATTERN] = "failure-pattern",
	[LP_HIL_SCRIPT_ERR_COMMAND] = "command",
	[LP_HIL_SCRIPT_ERR_BOARD] = "board",
	[LP_HIL_SCRIPT_ERR_SCRIPT] = "script",
};

const char *lp_hil_script_error_name(enum lp_hil_script_error e)
{
	return (unsigned)e < LP_ARRAY_SIZE(error_names) ? error_names[e] : "?";
}

void lp_hil_script_result_free(struct lp_hil_script_result *r)
{
	if (!r)
		return;
	free(r->steps);
	free(r);
}

/* ---- the console's tail ---- */

static void ring_feed(void *userdata, const uint8_t *buf, size_t len)
{
	struct run *s = userdata;

	if (len >= TAIL_RING) {
		buf += len - TAIL_RING;
		len = TAIL_RING;
		s->ring_len = 0;
		s->ring_cut = true;
	} else if (s->ring_len + len > TAIL_RING) {
		size_t drop = s->ring_len + len - TAIL_RING;

		memmove(s->ring, s->ring + drop, s->ring_len - drop);
		s->ring_len -= drop;
		s->ring_cut = true;
	}
	memcpy(s->ring + s->ring_len, buf, len);
	s->ring_len += len;
}

/* The last LP_HIL_SCRIPT_TAIL_LINES lines of the ring into out, without CR and NUL. */
static void ring_tail(const struct run *s, char *out, size_t cap)
{
	const char *p = s->ring, *end = s->ring + s->ring_len, *q = end;
	unsigned lines = 0;
	size_t n = 0;

	if (s->ring_cut) { /* the first line lost its beginning */
		const char *nl = memchr(p, '\n', s->ring_len);

		p = nl ? nl + 1 : end;
	}
	/* back from the end to the start of the LINES-th line (a last line without '\n'
	 * counts), taking no more bytes than out holds */
	for (; q > p && n + 1 < cap; q--) {
		if (q[-1] == '\n' && q != end && ++lines == LP_HIL_SCRIPT_TAIL_LINES)
			break;
		n += q[-1] != '\r' && q[-1] != '\0';
	}
	for (n = 0; q < end; q++)
		if (*q != '\r' && *q != '\0')
			out[n++] = *q;
	out[n] = '\0';
}

/* ---- the verdict ---- */

static const char *lookup(void *ctx, const char *name);

static void step_text(const struct run *s, char *buf, size_t len)
{
	const struct lp_hil_step *st = s->step;
	const char *arg = s->arg ? s->arg : st->arg;
	char *text = NULL;
	struct lp_diag d;

	/* net, backend, action: the line as written, with its {{VAR}}s filled in */
	if (st->text) {
		lp_diag_clear(&d);
		arg = lp_hil_script_expand_with(st->text, lookup, (void *)s, &text, &d) == 0 ? text
											      : st->text;
	}
	snprintf(buf, len, "%s%s%s%s%s", lp_hil_step_name(st->kind), st->var ? " " : "",
		 st->var ? st->var : "", arg[0] ? " " : "", arg);
	free(text);
}

/* Records the failure of the running step; returns err. */
static int fail(struct run *s, enum lp_hil_script_error e, int err, const char *fmt, ...)
	LP_PRINTF(4, 5);
static int fail(struct run *s, enum lp_hil_script_error e, int err, const char *fmt, ...)
{
	struct lp_hil_script_result *r = s->res;
	va_list ap;

	r->ok = false;
	r->error = e;
	r->err = err;
	r->line = s->step->line;
	r->kind = s->step->kind;
	step_text(s, r->step, sizeof(r->step));
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	ring_tail(s, r->console_tail, sizeof(r->console_tail));
	return err;
}

/* A library error (power, console, expect, shell): its class comes from its errno. */
static int fail_diag(struct run *s, int err, const struct lp_diag *diag)
{
	enum lp_hil_script_error e = err == -ETIMEDOUT	 ? LP_HIL_SCRIPT_ERR_TIMEOUT
				     : err == -ECANCELED ? LP_HIL_SCRIPT_ERR_FAILURE_PATTERN
							 : LP_HIL_SCRIPT_ERR_BOARD;

	return fail(s, e, err, "%s", diag && diag->msg[0] ? diag->msg : strerror(-err));
}

static void emit(struct run *s, enum lp_hil_script_event_kind kind, const char *text,
		 const void *data, size_t len, const struct lp_hil_step_result *result)
{
	struct lp_hil_script_event ev = {
		.kind = kind, .script = s->sc, .step = s->step, .text = text, .data = data,
		.len = len, .elapsed_ms = lp_clock_mono_ms() - s->t0, .result = result,
	};

	if (s->opts.event)
		s->opts.event(s->opts.userdata, &ev);
}

/* ---- variables ---- */

static const char *find_var(char *const *vars, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (strncmp(vars[i], name, len) == 0 && vars[i][len] == '=')
			return vars[i] + len + 1;
	return NULL;
}

/* {{NAME}}: captured in this run, else given by the caller, else the environment. */
static const char *lookup(void *ctx, const char *name)
{
	struct run *s = ctx;
	const char *v = find_var(s->captured, s->n_captured, name);

	if (!v)
		v = find_var((char *const *)s->opts.vars, s->opts.n_vars, name);
	return v ? v : getenv(name);
}

/* Sets a captured variable; *ret_kv is its "NAME=value". */
static int set_var(struct run *s, const char *name, const char *value, const char **ret_kv)
{
	size_t len = strlen(name) + strlen(value) + 2, i;
	char *kv = malloc(len), **t;

	if (!kv)
		return -ENOMEM;
	snprintf(kv, len, "%s=%s", name, value);
	*ret_kv = kv;
	for (i = 0; i < s->n_captured; i++)
		if (strncmp(s->captured[i], name, strlen(name)) == 0 &&
		    s->captured[i][strlen(name)] == '=')
			break;
	if (i < s->n_captured) {
		free(s->captured[i]);
		s->captured[i] = kv;
		return 0;
	}
	if (s->n_captured >= MAX_CAPTURED) {
		free(kv);
		return -E2BIG;
	}
	t = realloc(s->captured, (s->n_captured + 1) * sizeof(*t));
	if (!t) {
		free(kv);
		return -ENOMEM;
	}
	s->captured = t;
	s->captured[s->n_captured++] = kv;
	return 0;
}

/* The environment of a host command: ours, the caller's variables, the captured ones
 * (later ones win). Free the vector with free(). */
static char **host_env(const struct run *s)
{
	size_t n = 0, cap = s->opts.n_vars + s->n_captured;
	const char **vars = calloc(cap ? cap : 1, sizeof(*vars));
	char **env;

	if (!vars)
		return NULL;
	for (size_t i = 0; i < s->opts.n_vars; i++) {
		const char *eq = strchr(s->opts.vars[i], '=');
		char name[LP_HIL_SCRIPT_VAR_MAX + 1];

		if (!eq || (size_t)(eq - s->opts.vars[i]) > LP_HIL_SCRIPT_VAR_MAX)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - s->opts.vars[i]), s->opts.vars[i]);
		if (!find_var(s->captured, s->n_captured, name))
			vars[n++] = s->opts.vars[i];
	}
	for (size_t i = 0; i < s->n_captured; i++)
		vars[n++] = s->captured[i];
	env = lp_hil_env_with(vars, n);
	free(vars);
	return env;
}

/* ---- host commands ---- */

static int watch_fd(void *ctx)
{
	struct run *s = ctx;
	struct lp_hil_console *con;

	if (!s->console_open || lp_hil_board_console(s->board, &con, NULL) < 0)
		return -1;
	return lp_hil_console_fd(con);
}

static void watch_ready(void *ctx, short revents)
{
	struct run *s = ctx;
	struct lp_hil_console *con;

	(void)revents;
	if (lp_hil_board_console(s->board, &con, NULL) == 0)
		(void)lp_hil_console_pump(con, 0);
}

enum host_capture {
	HOST_PASS,        /* output where the caller said (opts.host_out / host_err) */
	HOST_STDOUT,      /* stdout read (capture); stderr where the caller said */
	HOST_BOTH,        /* stdout and stderr read (until) */
};

struct host_out {
	int status;       /* exit code: 0–255, or 128 + signal */
	char *out;        /* the output read (the last HOST_CAPTURE_MAX bytes), malloc'd */
	size_t len;
};

/*
 * Runs "/bin/sh -c cmd" until deadline while the console is pumped. 0 when it ran and
 * exited (whatever its status: ret->status), -ETIMEDOUT when its process group was
 * killed at the deadline, -errno when it could not start. ret->out is set (free it) for
 * HOST_STDOUT/HOST_BOTH whenever 0 or -ETIMEDOUT is returned.
 */
static int host_run(struct run *s, const char *cmd, uint64_t deadline, enum host_capture how,
		    struct host_out *ret)
{
	struct lp_proc_watch watch = { .fd = watch_fd, .ready = watch_ready, .ctx = s };
	struct lp_proc_opts o = {
		.shell = cmd, .out = s->opts.host_out, .out_fd = s->opts.host_out_fd,
		.err = s->opts.host_err, .err_fd = s->opts.host_err_fd,
	};
	struct lp_proc *p = NULL;
	int left = lp_clock_ms_left(deadline), r;
	char **env;

	*ret = (struct host_out){ 0 };
	if (left == 0)
		return -ETIMEDOUT;
	if (how != HOST_PASS) {
		o.out = LP_PROC_OUT_CAPTURE;
		o.capture_max = HOST_CAPTURE_MAX;
		o.flags = LP_PROC_KEEP_TAIL; /* the end of a failing command's output says most */
		if (how == HOST_BOTH)
			o.err = LP_PROC_ERR_STDOUT;
	}
	if (!(env = host_env(s)))
		return -ENOMEM;
	o.envp = (const char *const *)env;
	fflush(NULL); /* what the caller printed comes before what the command prints */
	r = lp_proc_spawn(&o, &p);
	free(env);
	if (r < 0)
		return r;
	r = lp_proc_wait(p, left, &watch, NULL);
	if (r == -ETIMEDOUT) {
		(void)lp_proc_kill(p, SIGKILL);
		(void)lp_proc_wait(p, -1, NULL, NULL);
	}
	if (r == 0 || r == -ETIMEDOUT) {
		const char *out = lp_proc_output(p, &ret->len);

		ret->status = lp_proc_exit_code(p);
		if (how != HOST_PASS && !(ret->out = malloc(ret->len + 1)))
			r = -ENOMEM;
		else if (how != HOST_PASS)
			memcpy(ret->out, out, ret->len + 1);
	}
	lp_proc_free(p);
	return r;
}

/* Keeps the console flowing for ms (between "until" attempts). */
static void pump_for(struct run *s, unsigned ms)
{
	uint64_t end = lp_clock_deadline_ms(ms);
	struct lp_hil_console *con;

	for (int left; (left = lp_clock_ms_left(end)) > 0;) {
		if (!s->console_open || lp_hil_board_console(s->board, &con, NULL) < 0) {
			lp_clock_sleep_ms((unsigned)left);
			return;
		}
		if (lp_hil_console_pump(con, left) < 0)
			lp_clock_sleep_ms(10);
	}
}

static double seconds(uint64_t ms)
{
	return (double)ms / 1000.0;
}

static int step_host(struct run *s, const char *cmd)
{
	const char *name = lp_hil_step_name(s->step->kind);
	const char *what = s->step->text ? s->step->text : cmd; /* as written, for messages */
	struct host_out h;
	int r = host_run(s, cmd, lp_clock_deadline_ms(s->step->timeout_ms), HOST_PASS, &h);

	if (r == -ETIMEDOUT)
		return fail(s, LP_HIL_SCRIPT_ERR_TIMEOUT, r, "%s: \"%s\" did not finish within %.1f s",
			    name, what, seconds(s->step->timeout_ms));
	if (r < 0)
		return fail(s, LP_HIL_SCRIPT_ERR_BOARD, r, "%s: \"%s\" could not run: %s", name, what,
			    strerror(-r));
	if (h.status != 0) {
		s->res->exit_status = h.status;
		return fail(s, LP_HIL_SCRIPT_ERR_COMMAND, -EIO, "%s: \"%s\" exited with status %d",
			    name, what, h.status);
	}
	return 0;
}

static int step_capture(struct run *s, const char *cmd)
{
	struct host_out h;
	const char *kv;
	int r = host_run(s, cmd, lp_clock_deadline_ms(s->step->timeout_ms), HOST_STDOUT, &h);

	if (r == 0 && h.status != 0) {
		s->res->exit_status = h.status;
		r = fail(s, LP_HIL_SCRIPT_ERR_COMMAND, -EIO, "capture: \"%s\" exited with status %d",
			 cmd, h.status);
	} else if (r == 0) {
		while (h.len && (h.out[h.len - 1] == '\n' || h.out[h.len - 1] == '\r'))
			h.out[--h.len] = '\0';
		if (memchr(h.out, '\0', h.len)) {
			s->res->exit_status = -1;
			r = fail(s, LP_HIL_SCRIPT_ERR_COMMAND, -EIO,
				 "capture: \"%s\" printed a NUL byte", cmd);
		} else if ((r = set_var(s, s->step->var, h.out, &kv)) < 0) {
			r = fail(s, LP_HIL_SCRIPT_ERR_BOARD, r, "capture: %s: %s", s->step->var,
				 strerror(-r));
		} else {
			emit(s, LP_HIL_SCRIPT_EV_CAPTURE, kv, NULL, 0, NULL);
		}
	} else if (r == -ETIMEDOUT) {
		r = fail(s, LP_HIL_SCRIPT_ERR_TIMEOUT, r,
			 "capture: \"%s\" did not finish within %.1f s", cmd,
			 seconds(s->step->timeout_ms));
	} else {
		r = fail(s, LP_HIL_SCRIPT_ERR_BOARD, r, "capture: \"%s\" could not run: %s", cmd,
			 strerror(-r));
	}
	free(h.out);
	return r;
}

/* until: the command again and again, with growing pauses (0.1 s … 0.5 s), until it
 * exits 0; *ret_tries counts the attempts. */
static int step_until(struct run *s, const char *cmd, unsigned *ret_tries)
{
	uint64_t deadline = lp_clock_deadline_ms(s->step->timeout_ms);
	unsigned pause = 100;
	const char *name = lp_hil_step_name(s->step->kind);
	const char *what = s->step->text ? s->step->text : cmd; /* as written, for messages */
	struct host_out h;
	int r;

	for (*ret_tries = 1;; (*ret_tries)++) {
		r = host_run(s, cmd, deadline, HOST_BOTH, &h);
		if (r == 0 && h.status == 0)
			break;
		if (r == 0 && h.status == 3 && s->step->kind == LP_HIL_STEP_ACTION) {
			/* the action reached another final state: waiting longer cannot help */
			size_t shown = h.len > UNTIL_SHOWN_MAX ? UNTIL_SHOWN_MAX : h.len;

			s->res->exit_status = 3;
			r = fail(s, LP_HIL_SCRIPT_ERR_COMMAND, -EIO, "action: %.*s", (int)shown,
				 h.out ? h.out + h.len - shown : "");
			free(h.out);
			return r;
		}
		if (r < 0 && r != -ETIMEDOUT) {
			free(h.out);
			return fail(s, LP_HIL_SCRIPT_ERR_BOARD, r, "%s: \"%s\" could not run: %s",
				    name, what, strerror(-r));
		}
		if (r == -ETIMEDOUT || lp_clock_ms_left(deadline) <= (int)pause) {
			size_t shown = h.len > UNTIL_SHOWN_MAX ? UNTIL_SHOWN_MAX : h.len;

			r = fail(s, LP_HIL_SCRIPT_ERR_TIMEOUT, -ETIMEDOUT,
				 "%s: \"%s\" did not succeed within %.1f s (%u tries); "
				 "last output: %.*s",
				 name, what, seconds(s->step->timeout_ms), *ret_tries, (int)shown,
				 h.out ? h.out + h.len - shown : "");
			free(h.out);
			return r;
		}
		free(h.out);
		pump_for(s, pause);
		pause = pause * 2 > 500 ? 500 : pause * 2;
	}
	if (h.len)
		emit(s, LP_HIL_SCRIPT_EV_OUTPUT, NULL, h.out, h.len, NULL);
	free(h.out);
	return 0;
}

/* ---- board steps ---- */

static int step_power(struct run *s, const char *arg)
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
		return fail(s, LP_HIL_SCRIPT_ERR_SCRIPT, -EINVAL,
			    "power: expected on, off, cut or cycle, not \"%s\"", arg);
	}
	return r < 0 ? fail_diag(s, r, &diag) : 0;
}

static int step_fail_on(struct run *s, const char *arg)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	if (strcmp(arg, "default") == 0)
		r = lp_hil_board_set_failure(s->board, NULL, 0, &diag);
	else if (strcmp(arg, "none") == 0)
		r = lp_hil_board_set_failure(s->board, (const char *const[]){ "" }, 0, &diag);
	else
		r = lp_hil_board_set_failure(s->board, &arg, 1, &diag);
	if (r == -EINVAL) /* only a pattern made of {{VAR}}s can be bad by now */
		return fail(s, LP_HIL_SCRIPT_ERR_SCRIPT, r, "fail-on: %s", diag.msg);
	return r < 0 ? fail_diag(s, r, &diag) : 0;
}

static int step_run(struct run *s, const char *cmd)
{
	struct lp_diag diag;
	uint8_t *out = NULL;
	size_t len = 0;
	int status = 0, r;

	lp_diag_clear(&diag);
	r = lp_hil_board_run(s->board, cmd, s->step->timeout_ms, &status, &out, &len, &diag);
	s->console_open = true;
	if (r < 0) {
		free(out);
		return fail_diag(s, r, &diag);
	}
	emit(s, LP_HIL_SCRIPT_EV_OUTPUT, NULL, out, len, NULL);
	free(out);
	if (status != 0) {
		s->res->exit_status = status;
		return fail(s, LP_HIL_SCRIPT_ERR_COMMAND, -EIO,
			    "run: \"%s\" exited with status %d on the board", cmd, status);
	}
	return 0;
}

static int step_wait(struct run *s, const char *arg)
{
	const struct lp_hil_step *st = s->step;
	struct lp_hil_match m;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	if (st->kind == LP_HIL_STEP_BOOT && st == s->sc->steps && s->opts.restore_state) {
		/* the snapshot was saved right after this step passed */
		r = lp_hil_board_restore(s->board, s->opts.restore_state, &diag);
		s->console_open = r == 0;
		if (r == 0)
			emit(s, LP_HIL_SCRIPT_EV_ECHO, "restored from a snapshot saved after this step",
			     NULL, 0, NULL);
	} else if (st->kind == LP_HIL_STEP_BOOT) {
		r = lp_hil_board_boot(s->board, arg[0] ? arg : NULL,
				      st->has_timeout ? st->timeout_ms : 0, &diag);
		s->console_open = r == 0;
	} else {
		r = lp_hil_board_expect_pattern(s->board, arg, st->timeout_ms, &m, &diag);
		s->console_open = true;
	}
	/* patterns without {{VAR}}s were compiled when the script was parsed */
	if (r == -EINVAL && strstr(st->arg, "{{"))
		return fail(s, LP_HIL_SCRIPT_ERR_SCRIPT, r, "%s: %s", lp_hil_step_name(st->kind),
			    diag.msg);
	if (r < 0)
		return fail_diag(s, r, &diag);
	if (st->kind == LP_HIL_STEP_BOOT)
		return 0;
	/* what the board prints by itself usually means it rebooted or changed state:
	 * the next run prepares its shell afresh */
	lp_hil_board_reset_shell(s->board);
	emit(s, LP_HIL_SCRIPT_EV_MATCH, m.text, NULL, 0, NULL);
	return 0;
}

static int do_step(struct run *s, const char *arg, unsigned *ret_tries)
{
	*ret_tries = 1;
	switch (s->step->kind) {
	case LP_HIL_STEP_BOOT:
	case LP_HIL_STEP_EXPECT:
		return step_wait(s, arg);
	case LP_HIL_STEP_RUN:
		return step_run(s, arg);
	case LP_HIL_STEP_HOST:
	case LP_HIL_STEP_NET:
	case LP_HIL_STEP_BACKEND:
		return step_host(s, arg);
	case LP_HIL_STEP_UNTIL:
	case LP_HIL_STEP_ACTION:
		return step_until(s, arg, ret_tries);
	case LP_HIL_STEP_CAPTURE:
		return step_capture(s, arg);
	case LP_HIL_STEP_POWER:
		return step_power(s, arg);
	case LP_HIL_STEP_FAIL_ON:
		return step_fail_on(s, arg);
	case LP_HIL_STEP_MARK:
		emit(s, LP_HIL_SCRIPT_EV_MARK, arg, NULL, 0, NULL);
		return 0;
	case LP_HIL_STEP_ECHO:
		emit(s, LP_HIL_SCRIPT_EV_ECHO, arg, NULL, 0, NULL);
		return 0;
	}
	return fail(s, LP_HIL_SCRIPT_ERR_SCRIPT, -EINVAL, "unknown step");
}

/* Expands and runs the step s->step; fills its entry of the result. */
static int run_step(struct run *s, struct lp_hil_step_result *sr)
{
	struct lp_diag diag;
	char *arg = NULL;
	int r;

	sr->line = s->step->line;
	sr->kind = s->step->kind;
	sr->start_ms = lp_clock_mono_ms() - s->t0;
	sr->tries = 1;
	lp_diag_clear(&diag);
	r = lp_hil_script_expand_with(s->step->arg, lookup, s, &arg, &diag);
	if (r == -ENOMEM)
		return fail(s, LP_HIL_SCRIPT_ERR_BOARD, r, "%s", strerror(-r));
	if (r < 0)
		return fail(s, LP_HIL_SCRIPT_ERR_SCRIPT, r, "%s: %s",
			    lp_hil_step_name(s->step->kind), diag.msg);
	s->arg = arg;
	emit(s, LP_HIL_SCRIPT_EV_STEP, arg, NULL, 0, NULL);
	r = do_step(s, arg, &sr->tries);
	sr->duration_ms = lp_clock_mono_ms() - s->t0 - sr->start_ms;
	sr->ok = r == 0;
	if (r == 0)
		emit(s, LP_HIL_SCRIPT_EV_DONE, arg, NULL, 0, sr);
	s->arg = NULL;
	free(arg);
	return r;
}

/* The save that ends a run with opts.save_state. */
static void save_after_first(struct run *s)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = lp_hil_board_save(s->board, s->opts.save_state, &diag);
	if (r < 0)
		fail_diag(s, r, &diag);
	else
		emit(s, LP_HIL_SCRIPT_EV_ECHO, "saved a snapshot after this step", NULL, 0, NULL);
}

int lp_hil_script_run(struct lp_hil_board *b, const struct lp_hil_script *sc,
		      const struct lp_hil_script_opts *opts,
		      struct lp_hil_script_result **ret_result)
{
	struct lp_hil_script_result *res = calloc(1, sizeof(*res));
	struct run *s = calloc(1, sizeof(*s));
	size_t n_run = sc->n_steps;
	int sink = -1;

	if (!res || !s || !(res->steps = calloc(sc->n_steps ? sc->n_steps : 1,
						 sizeof(*res->steps)))) {
		lp_hil_script_result_free(res);
		free(s);
		return -ENOMEM;
	}
	*s = (struct run){ .board = b, .sc = sc, .res = res };
	if (opts)
		s->opts = *opts;
	res->ok = true;
	snprintf(res->file, sizeof(res->file), "%s", sc->name);
	sink = lp_hil_board_add_sink(b, ring_feed, s); /* without it: no console tail */
	s->t0 = lp_clock_mono_ms();
	if ((s->opts.save_state || s->opts.restore_state) &&
	    (sc->n_steps == 0 || sc->steps[0].kind != LP_HIL_STEP_BOOT)) {
		res->ok = false;
		res->error = LP_HIL_SCRIPT_ERR_SCRIPT;
		res->err = -EINVAL;
		snprintf(res->message, sizeof(res->message),
			 "a snapshot needs a script whose first step is a boot");
		n_run = 0; /* run nothing */
	}
	for (size_t i = 0; i < n_run; i++) {
		s->step = &sc->steps[i];
		res->n_steps = i + 1;
		if (run_step(s, &res->steps[i]) < 0)
			break;
		if (i == 0 && s->opts.save_state) {
			save_after_first(s);
			break;
		}
	}
	res->duration_ms = lp_clock_mono_ms() - s->t0;
	lp_hil_board_remove_sink(b, sink);
	for (size_t i = 0; i < s->n_captured; i++)
		free(s->captured[i]);
	free(s->captured);
	free(s);
	*ret_result = res;
	return 0;
}

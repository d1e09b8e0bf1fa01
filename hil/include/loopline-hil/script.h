/* SPDX-License-Identifier: MIT */
/*
 * Scenario scripts: a line-oriented list of steps run against one board with its console
 * kept open (docs/hil.md, "Scenario scripts"). Parsing is separate from running, so a
 * script is checked completely before its first step touches a board.
 *
 *   # comment                       STEP [@TIMEOUT] ARGUMENT
 *   boot @90s lpfw: version=1\.0    (a trailing backslash continues a line)
 *
 * {{NAME}} in an argument is replaced when the step runs: by a value an earlier capture
 * step set, else one the caller gave (lp_hil_script_opts.vars), else the environment
 * variable NAME.
 *
 * lp_hil_script_run() runs a parsed script on an open board and returns a result with
 * the verdict, the failing step and the per-step timings (loopline-hil script and the
 * matrix both use it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loopline/diag.h"
#include "loopline/proc.h"

#define LP_HIL_SCRIPT_MAX_BYTES (1u << 20)
#define LP_HIL_SCRIPT_MAX_STEPS 4096u
#define LP_HIL_SCRIPT_VAR_MAX 64u
#define LP_HIL_SCRIPT_CMD_MAX 1024u  /* the command a net, backend or action step stands for */
#define LP_HIL_SCRIPT_DEFAULT_TIMEOUT_MS 60000u

enum lp_hil_step_kind {
	LP_HIL_STEP_BOOT,    /* [ERE]: power off, on, wait for ERE (default: the prompt) */
	LP_HIL_STEP_EXPECT,  /* ERE: wait for it on the console */
	LP_HIL_STEP_RUN,     /* CMD: run on the board's shell; must exit 0 */
	LP_HIL_STEP_HOST,    /* CMD: run with /bin/sh on the host; must exit 0 */
	LP_HIL_STEP_UNTIL,   /* CMD: host command retried with growing pauses until it exits 0 */
	LP_HIL_STEP_CAPTURE, /* NAME CMD: host command; its output becomes variable NAME */
	LP_HIL_STEP_POWER,   /* on | off | cut | cycle */
	LP_HIL_STEP_FAIL_ON, /* default | none | ERE: the failure patterns from here on */
	LP_HIL_STEP_MARK,    /* NAME: print "mark NAME <seconds since start>" */
	LP_HIL_STEP_ECHO,    /* TEXT: print it */
	/* Steps of the matrix's harness, run as host commands through variables the caller
	 * (loopline-matrix, or the environment) provides: */
	LP_HIL_STEP_NET,     /* MODE [ARG]: the guest's link: `{{NET}} MODE [ARG]` (pass,
			      * cut, resume, stall, throttle RATE, drop-after BYTES) */
	LP_HIL_STEP_BACKEND, /* stop | start | restart | kill: the case's backend process:
			      * `{{BACKEND}} ARG` */
	LP_HIL_STEP_ACTION,  /* ID STATE: wait (like until) for the backend's action ID to
			      * reach STATE (FINISHED, ERROR, CANCELED, RUNNING, …) through
			      * `{{API}}/actions/ID`; another final state fails at once */
};

struct lp_hil_step {
	unsigned line;
	enum lp_hil_step_kind kind;
	bool has_timeout;
	uint32_t timeout_ms;  /* LP_HIL_SCRIPT_DEFAULT_TIMEOUT_MS unless @TIMEOUT */
	char *var;            /* capture: the variable name */
	char *arg;            /* the rest of the line (unexpanded); for net, backend and
			       * action the host command they stand for */
	char *text;           /* net, backend, action: the line as written (for messages);
			       * NULL for the others */
};

struct lp_hil_script {
	char *name;
	struct lp_hil_step *steps;
	size_t n_steps;
};

/* Parses text (not NUL-terminated; len bytes). Errors: -EINVAL with "name:line: …". */
int lp_hil_script_parse(const char *text, size_t len, const char *name,
			struct lp_hil_script **ret, struct lp_diag *diag);
/* Reads path ("-": standard input), at most LP_HIL_SCRIPT_MAX_BYTES, and parses it with
 * path as its name. Read errors are those of lp_fs_read_file (-ENOENT, -EFBIG, …). */
int lp_hil_script_load(const char *path, struct lp_hil_script **ret, struct lp_diag *diag);
void lp_hil_script_free(struct lp_hil_script *s);
const char *lp_hil_step_name(enum lp_hil_step_kind k);

/* The value of {{name}}, or NULL when it has none. */
typedef const char *lp_hil_script_lookup_fn(void *ctx, const char *name);
/* Replaces each {{NAME}} by lookup(ctx, NAME) into a malloc'd string. -EINVAL (unset or
 * malformed, said in diag), -ENOMEM. */
int lp_hil_script_expand_with(const char *in, lp_hil_script_lookup_fn *lookup, void *ctx,
			      char **ret, struct lp_diag *diag);
/* lp_hil_script_expand_with over the environment (getenv). */
int lp_hil_script_expand(const char *in, char **ret, struct lp_diag *diag);

/* ---- running a script ---- */

struct lp_hil_board;

/* Why a script failed. The matrix tells product failures (timeout, failure pattern,
 * command) from infrastructure ones (board, script) with it. */
enum lp_hil_script_error {
	LP_HIL_SCRIPT_OK = 0,
	LP_HIL_SCRIPT_ERR_TIMEOUT,         /* a wait, board command or host command ran out
					    * of time (err -ETIMEDOUT) */
	LP_HIL_SCRIPT_ERR_FAILURE_PATTERN, /* a failure pattern matched on the console
					    * (err -ECANCELED) */
	LP_HIL_SCRIPT_ERR_COMMAND,         /* a run, host, capture command exited non-zero,
					    * or a capture printed a NUL byte (err -EIO) */
	LP_HIL_SCRIPT_ERR_BOARD,           /* the board or the lab host failed: power,
					    * console, shell runner, a host command that could
					    * not start, out of memory (err: theirs) */
	LP_HIL_SCRIPT_ERR_SCRIPT,          /* the script is wrong in a way only running it
					    * shows: an unset {{VAR}}, a bad pattern after
					    * expansion (err -EINVAL) */
};

struct lp_hil_step_result {
	unsigned line;
	enum lp_hil_step_kind kind;
	bool ok;
	uint64_t start_ms;    /* since the script started */
	uint64_t duration_ms;
	unsigned tries;       /* until: the attempts; 1 for other steps */
};

#define LP_HIL_SCRIPT_TEXT_MAX 1024
#define LP_HIL_SCRIPT_TAIL_LINES 20
#define LP_HIL_SCRIPT_TAIL_MAX 4096

struct lp_hil_script_result {
	bool ok;                         /* every step passed */
	enum lp_hil_script_error error;  /* LP_HIL_SCRIPT_OK when ok */
	int err;                         /* negative errno of the failure, 0 when ok */
	int exit_status;                 /* ERR_COMMAND: the command's exit status (-1 for a
					  * capture that printed a NUL byte); else 0 */
	/* where and what: "FILE:LINE: message" is the one-line report */
	char file[LP_DIAG_FILE_MAX];     /* the script's name */
	unsigned line;                   /* the failing step's line (0 when ok) */
	enum lp_hil_step_kind kind;      /* the failing step's kind */
	char step[LP_HIL_SCRIPT_TEXT_MAX]; /* its text, {{VAR}}s expanded when they could be
					    * ("run exit 3"; truncated) */
	char message[LP_HIL_SCRIPT_TEXT_MAX]; /* what went wrong */
	/* the last LP_HIL_SCRIPT_TAIL_LINES console lines before the failure (at most
	 * LP_HIL_SCRIPT_TAIL_MAX bytes; CR and NUL bytes removed); "" when ok */
	char console_tail[LP_HIL_SCRIPT_TAIL_MAX];
	struct lp_hil_step_result *steps; /* the steps that ran, in order; the failing one
					   * is the last */
	size_t n_steps;
	uint64_t duration_ms;            /* the whole run */
};

void lp_hil_script_result_free(struct lp_hil_script_result *r);

/* What the runner shows while it runs: the caller prints (the CLI) or logs (the matrix)
 * it; the library itself prints nothing. */
enum lp_hil_script_event_kind {
	LP_HIL_SCRIPT_EV_STEP,    /* a step starts; text: its argument, expanded */
	LP_HIL_SCRIPT_EV_OUTPUT,  /* data/len: a run step's output, or an until command's
				   * when it succeeded */
	LP_HIL_SCRIPT_EV_MATCH,   /* expect matched; text: the matched text */
	LP_HIL_SCRIPT_EV_CAPTURE, /* capture set a variable; text: "NAME=value" */
	LP_HIL_SCRIPT_EV_MARK,    /* mark; text: the name */
	LP_HIL_SCRIPT_EV_ECHO,    /* echo; text: the text */
	LP_HIL_SCRIPT_EV_DONE,    /* a step passed; result: its timing */
};

struct lp_hil_script_event {
	enum lp_hil_script_event_kind kind;
	const struct lp_hil_script *script;
	const struct lp_hil_step *step;
	const char *text;
	const uint8_t *data;
	size_t len;
	uint64_t elapsed_ms;      /* since the script started */
	const struct lp_hil_step_result *result;
};

typedef void lp_hil_script_event_fn(void *userdata, const struct lp_hil_script_event *ev);

struct lp_hil_script_opts {
	lp_hil_script_event_fn *event; /* optional */
	void *userdata;
	/* {{NAME}} values the caller fills in: "NAME=value" strings; host commands also
	 * get them (and captured values) as environment variables */
	const char *const *vars;
	size_t n_vars;
	/* where host, until and capture commands print (capture's stdout and until's
	 * output are read by the runner): lp_proc's INHERIT (the default), NULL or FD */
	enum lp_proc_out host_out;
	int host_out_fd;
	enum lp_proc_err host_err;
	int host_err_fd;
	/* Snapshots (QEMU boards). The first step must be a boot for either:
	 * save_state: once the first step passed, the board is saved to this file
	 *   (lp_hil_board_save) and the run ends there, passed (the other steps are not run);
	 * restore_state: the first step is done by restoring the board from this file
	 *   (lp_hil_board_restore), which was saved right after the same step passed. */
	const char *save_state;
	const char *restore_state;
};

/*
 * Runs every step of sc on board b (opened by the caller, who also holds its lock),
 * stopping at the first failure. The console is kept open and read all the time, also
 * while host commands run. opts may be NULL (defaults).
 * Returns 0 and *ret_result (free with lp_hil_script_result_free) when the script ran to
 * a verdict — passed or failed, see (*ret_result)->ok — or -ENOMEM before any step ran.
 * Captured values live in the run (the process environment is not changed).
 */
int lp_hil_script_run(struct lp_hil_board *b, const struct lp_hil_script *sc,
		      const struct lp_hil_script_opts *opts,
		      struct lp_hil_script_result **ret_result);
/* "timeout", "failure-pattern", "command", "board", "script"; "ok" */
const char *lp_hil_script_error_name(enum lp_hil_script_error e);

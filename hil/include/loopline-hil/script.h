/* SPDX-License-Identifier: MIT */
/*
 * Scenario scripts: a line-oriented list of steps run against one board with its console
 * kept open (docs/hil.md, "Scenario scripts"). Parsing is separate from running, so a
 * script is checked completely before its first step touches a board.
 *
 *   # comment                       STEP [@TIMEOUT] ARGUMENT
 *   boot @90s lpfw: version=1\.0    (a trailing backslash continues a line)
 *
 * {{NAME}} in an argument is replaced by the environment variable NAME when the step
 * runs (so a value captured by an earlier step can be used).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loopline/diag.h"

#define LP_HIL_SCRIPT_MAX_BYTES (1u << 20)
#define LP_HIL_SCRIPT_MAX_STEPS 4096u
#define LP_HIL_SCRIPT_VAR_MAX 64u
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
};

struct lp_hil_step {
	unsigned line;
	enum lp_hil_step_kind kind;
	bool has_timeout;
	uint32_t timeout_ms;  /* LP_HIL_SCRIPT_DEFAULT_TIMEOUT_MS unless @TIMEOUT */
	char *var;            /* capture: the variable name */
	char *arg;            /* the rest of the line (unexpanded) */
};

struct lp_hil_script {
	char *name;
	struct lp_hil_step *steps;
	size_t n_steps;
};

/* Parses text (not NUL-terminated; len bytes). Errors: -EINVAL with "name:line: …". */
int lp_hil_script_parse(const char *text, size_t len, const char *name,
			struct lp_hil_script **ret, struct lp_diag *diag);
void lp_hil_script_free(struct lp_hil_script *s);
const char *lp_hil_step_name(enum lp_hil_step_kind k);

/* Replaces {{NAME}} by getenv(NAME). -EINVAL (unset or malformed, said in diag). */
int lp_hil_script_expand(const char *in, char **ret, struct lp_diag *diag);

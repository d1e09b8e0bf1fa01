/* SPDX-License-Identifier: MIT */
/*
 * Power through external commands (PDU CLIs, USB relay tools, snmpset …). Each command
 * runs with /bin/sh -c in its own process group (lp_proc_run), stdin from /dev/null,
 * stdout to our stderr, the board name in $LOOPLINE_HIL_BOARD, and is killed (the whole
 * group) when it exceeds the timeout.
 * The status command exits 0 for on and 1 for off; anything else is an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "power-driver.h"
#include "internal.h"
#include "loopline/clock.h"
#include "loopline/proc.h"

static int run(struct lp_hil_power *p, const char *what, const char *cmd, int *ret_status,
	       struct lp_diag *diag)
{
	char board_var[LP_HIL_NAME_MAX + 32];
	const char *vars[] = { board_var };
	struct lp_proc_result res;
	char **env;
	int r;

	snprintf(board_var, sizeof(board_var), "LOOPLINE_HIL_BOARD=%s", p->board->name);
	env = lp_hil_env_with(vars, 1);
	if (!env)
		return -ENOMEM;
	/* what the command prints goes to stderr, never into a tool's (JSON) output */
	r = lp_proc_run(&(struct lp_proc_opts){ .shell = cmd, .envp = (const char *const *)env,
						.out = LP_PROC_OUT_FD, .out_fd = STDERR_FILENO },
			p->cfg->timeout_ms, NULL, NULL, 0, &res);
	free(env);
	if (r == -ETIMEDOUT)
		return lp_diag_fail(diag, r, "%s: power %s command timed out after %u ms: %s",
				    p->board->name, what, p->cfg->timeout_ms, cmd);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: power %s command could not run: %s",
				    p->board->name, what, strerror(-r));
	if (ret_status) {
		*ret_status = res.exit_code;
		return 0;
	}
	if (res.exit_code != 0)
		return lp_diag_fail(diag, -EIO, "%s: power %s command failed with exit status %d: %s",
				    p->board->name, what, res.exit_code, cmd);
	return 0;
}

static int command_on(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag)
{
	return run(p, "on", p->cfg->on_cmd, NULL, diag);
}

static int command_off(struct lp_hil_power *p, struct lp_diag *diag)
{
	return run(p, "off", p->cfg->off_cmd, NULL, diag);
}

static int command_cycle(struct lp_hil_power *p, struct lp_diag *diag)
{
	int r;

	if (p->cfg->cycle_cmd)
		return run(p, "cycle", p->cfg->cycle_cmd, NULL, diag);
	r = command_off(p, diag);
	if (r < 0)
		return r;
	lp_clock_sleep_ms(p->cfg->cycle_delay_ms);
	return command_on(p, 0, diag);
}

static int command_status(struct lp_hil_power *p, enum lp_hil_power_state *ret,
			  struct lp_diag *diag)
{
	int status, r;

	if (!p->cfg->status_cmd) {
		*ret = LP_HIL_POWER_STATE_UNKNOWN;
		return 0;
	}
	r = run(p, "status", p->cfg->status_cmd, &status, diag);
	if (r < 0)
		return r;
	if (status == 0)
		*ret = LP_HIL_POWER_STATE_ON;
	else if (status == 1)
		*ret = LP_HIL_POWER_STATE_OFF;
	else
		return lp_diag_fail(diag, -EIO,
				    "%s: power status command exited %d (expected 0 = on, 1 = off)",
				    p->board->name, status);
	return 0;
}

const struct lp_hil_power_ops lp_hil_power_command_ops = {
	.name = "command",
	.on = command_on,
	.off = command_off,
	.cycle = command_cycle,
	.status = command_status,
};

/* SPDX-License-Identifier: MIT */
/* Power by hand: asks the person at the terminal and waits for Enter. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "power-driver.h"
#include "internal.h"

static int ask(struct lp_hil_power *p, const char *action, struct lp_diag *diag)
{
	char line[64];

	if (!isatty(STDIN_FILENO))
		return lp_diag_fail(diag, -ENOTTY,
				    "%s: the manual power driver needs a person at a terminal, "
				    "but stdin is not a terminal",
				    p->board->name);
	fprintf(stderr, "\n>>> Switch board %s %s%s%s, then press Enter: ", p->board->name, action,
		p->cfg->message ? " — " : "", p->cfg->message ? p->cfg->message : "");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return lp_diag_fail(diag, -EIO, "%s: no answer on the terminal",
				    p->board->name);
	return 0;
}

static int manual_on(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag)
{
	return ask(p, "ON", diag);
}

static int manual_off(struct lp_hil_power *p, struct lp_diag *diag)
{
	return ask(p, "OFF", diag);
}

static int manual_status(struct lp_hil_power *p, enum lp_hil_power_state *ret,
			 struct lp_diag *diag)
{
	*ret = LP_HIL_POWER_STATE_UNKNOWN;
	return 0;
}

const struct lp_hil_power_ops lp_hil_power_manual_ops = {
	.name = "manual",
	.on = manual_on,
	.off = manual_off,
	.status = manual_status,
};

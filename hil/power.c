/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "power-driver.h"
#include "internal.h"
#include "loopline/clock.h"

int lp_hil_power_open(const struct lp_hil_inventory *inv, const struct lp_hil_board_config *board,
		      struct lp_hil_power **ret, struct lp_diag *diag)
{
	struct lp_hil_power *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->inv = inv;
	p->board = board;
	p->cfg = &board->power;
	switch (board->power.kind) {
	case LP_HIL_POWER_GPIOD:
		p->ops = &lp_hil_power_gpiod_ops;
		break;
	case LP_HIL_POWER_COMMAND:
		p->ops = &lp_hil_power_command_ops;
		break;
	case LP_HIL_POWER_QEMU:
		p->ops = &lp_hil_power_qemu_ops;
		break;
	case LP_HIL_POWER_MANUAL:
		p->ops = &lp_hil_power_manual_ops;
		break;
	default:
		free(p);
		return -EINVAL;
	}
	p->dir = lp_hil_path_join(inv->state_dir, board->name);
	if (!p->dir) {
		free(p);
		return -ENOMEM;
	}
	r = p->ops->open ? p->ops->open(p, diag) : 0;
	if (r < 0) {
		free(p->dir);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void lp_hil_power_close(struct lp_hil_power *p)
{
	if (!p)
		return;
	if (p->ops->close)
		p->ops->close(p);
	free(p->console_path);
	free(p->dir);
	free(p);
}

int lp_hil_power_on(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag)
{
	return p->ops->on(p, flags, diag);
}

int lp_hil_power_off(struct lp_hil_power *p, struct lp_diag *diag)
{
	return p->ops->off(p, diag);
}

int lp_hil_power_cut(struct lp_hil_power *p, struct lp_diag *diag)
{
	return p->ops->cut ? p->ops->cut(p, diag) : p->ops->off(p, diag);
}

int lp_hil_power_cycle(struct lp_hil_power *p, struct lp_diag *diag)
{
	int r;

	if (p->ops->cycle)
		return p->ops->cycle(p, diag);
	r = p->ops->off(p, diag);
	if (r < 0)
		return r;
	lp_clock_sleep_ms(p->cfg->cycle_delay_ms);
	return p->ops->on(p, 0, diag);
}

int lp_hil_power_status(struct lp_hil_power *p, enum lp_hil_power_state *ret_state,
			struct lp_diag *diag)
{
	return p->ops->status(p, ret_state, diag);
}

int lp_hil_power_save(struct lp_hil_power *p, const char *file, struct lp_diag *diag)
{
	if (!p->ops->save)
		return lp_diag_fail(diag, -EOPNOTSUPP, "%s: the %s power driver cannot save a "
				    "running board", p->board->name, p->ops->name);
	return p->ops->save(p, file, diag);
}

int lp_hil_power_on_restored(struct lp_hil_power *p, const char *file, unsigned flags,
			     struct lp_diag *diag)
{
	if (!p->ops->restore)
		return lp_diag_fail(diag, -EOPNOTSUPP, "%s: the %s power driver cannot restore "
				    "a saved board", p->board->name, p->ops->name);
	return p->ops->restore(p, file, flags, diag);
}

int lp_hil_power_resume(struct lp_hil_power *p, struct lp_diag *diag)
{
	return p->ops->resume ? p->ops->resume(p, diag) : 0;
}

const char *lp_hil_power_console_path(const struct lp_hil_power *p)
{
	return p->console_path;
}

const char *lp_hil_power_state_name(enum lp_hil_power_state s)
{
	switch (s) {
	case LP_HIL_POWER_STATE_OFF:
		return "off";
	case LP_HIL_POWER_STATE_ON:
		return "on";
	default:
		return "unknown";
	}
}

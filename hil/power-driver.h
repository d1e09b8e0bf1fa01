/* SPDX-License-Identifier: MIT */
/* The interface between power.c and one power driver file. */
#pragma once

#include "loopline-hil/power.h"

struct lp_hil_power_ops {
	const char *name;
	int (*open)(struct lp_hil_power *p, struct lp_diag *diag);
	void (*close)(struct lp_hil_power *p);
	int (*on)(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag);
	int (*off)(struct lp_hil_power *p, struct lp_diag *diag);
	/* NULL: off, cycle_delay, on */
	int (*cycle)(struct lp_hil_power *p, struct lp_diag *diag);
	int (*status)(struct lp_hil_power *p, enum lp_hil_power_state *ret,
		      struct lp_diag *diag);
	int (*resume)(struct lp_hil_power *p, struct lp_diag *diag); /* may be NULL */
	/* NULL: off (a relay or PDU switching off is already a cut) */
	int (*cut)(struct lp_hil_power *p, struct lp_diag *diag);
	/* NULL: -EOPNOTSUPP (only an emulator can save and restore a running machine) */
	int (*save)(struct lp_hil_power *p, const char *file, struct lp_diag *diag);
	int (*restore)(struct lp_hil_power *p, const char *file, unsigned flags,
		       struct lp_diag *diag);
};

struct lp_hil_power {
	const struct lp_hil_power_ops *ops;
	const struct lp_hil_inventory *inv;
	const struct lp_hil_board_config *board;
	const struct lp_hil_power_config *cfg;
	char *dir;          /* <state_dir>/<board> */
	char *console_path; /* qemu only */
	void *drv;
};

extern const struct lp_hil_power_ops lp_hil_power_gpiod_ops;
extern const struct lp_hil_power_ops lp_hil_power_command_ops;
extern const struct lp_hil_power_ops lp_hil_power_qemu_ops;
extern const struct lp_hil_power_ops lp_hil_power_manual_ops;

/* SPDX-License-Identifier: MIT */
/*
 * Power drivers behind one interface: gpiod (relay on a GPIO line, libgpiod v1), command
 * (external on/off/cycle/status commands), qemu (a QEMU process started from the
 * inventory's argv, controlled over QMP) and manual (asks a person at the terminal).
 *
 * The qemu driver keeps QEMU running between CLI invocations: QEMU daemonizes, and its
 * pid, console socket and QMP socket live in <state_dir>/<board>/ (see docs/hil.md).
 */
#pragma once

#include <stdbool.h>
#include "loopline/diag.h"
#include "loopline-hil/inventory.h"

enum lp_hil_power_state {
	LP_HIL_POWER_STATE_OFF = 0,
	LP_HIL_POWER_STATE_ON,
	LP_HIL_POWER_STATE_UNKNOWN,
};

/* lp_hil_power_on flags */
#define LP_HIL_POWER_HOLD 0x1u /* qemu: start with the CPUs stopped until _resume, so a
				* console can connect before the first byte is printed */

struct lp_hil_power;

/* Borrows inv and board: they must outlive the power handle. */
int lp_hil_power_open(const struct lp_hil_inventory *inv, const struct lp_hil_board_config *board,
		      struct lp_hil_power **ret, struct lp_diag *diag);
/* Releases driver resources (a held GPIO line is released; QEMU keeps running). */
void lp_hil_power_close(struct lp_hil_power *p);

int lp_hil_power_on(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag);
int lp_hil_power_off(struct lp_hil_power *p, struct lp_diag *diag);
int lp_hil_power_cycle(struct lp_hil_power *p, struct lp_diag *diag);
/* Cuts power without any grace: qemu SIGKILLs the process (what the guest wrote but QEMU
 * had not yet passed on is lost, as with a real power loss); other drivers switch off. */
int lp_hil_power_cut(struct lp_hil_power *p, struct lp_diag *diag);
int lp_hil_power_status(struct lp_hil_power *p, enum lp_hil_power_state *ret_state,
			struct lp_diag *diag);
/* Lets a held board run (qemu: QMP "cont"); a no-op for other drivers. */
int lp_hil_power_resume(struct lp_hil_power *p, struct lp_diag *diag);
/* Snapshots (qemu only; -EOPNOTSUPP for other drivers). _save stops the machine's CPUs
 * and writes its state (RAM, CPU and device state — not the disks) to file; the board
 * stays on, paused, until it is powered off. _on_restored powers an off board on from
 * such a file instead of booting it: the inventory's argv and the disk contents must be
 * those the state was saved with (the caller keeps a copy of the disk as it was). Flags
 * as for _on. Only the next power on restores: a later power on or cycle boots. */
int lp_hil_power_save(struct lp_hil_power *p, const char *file, struct lp_diag *diag);
int lp_hil_power_on_restored(struct lp_hil_power *p, const char *file, unsigned flags,
			     struct lp_diag *diag);
/* qemu: the console socket path; NULL for other drivers. */
const char *lp_hil_power_console_path(const struct lp_hil_power *p);
const char *lp_hil_power_state_name(enum lp_hil_power_state s);

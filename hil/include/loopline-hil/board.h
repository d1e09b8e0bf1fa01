/* SPDX-License-Identifier: MIT */
/*
 * A board at run time: its power driver, its console (opened on demand, logged to
 * <log_dir>/<board>.log), an expect engine on that console and a shell runner. This is
 * what the CLI and the matrix use; each piece is also usable on its own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "loopline/diag.h"
#include "loopline-hil/console.h"
#include "loopline-hil/expect.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/power.h"
#include "loopline-hil/shell.h"

struct lp_hil_board;

int lp_hil_board_open(const struct lp_hil_inventory *inv, const char *name,
		      struct lp_hil_board **ret, struct lp_diag *diag);
void lp_hil_board_close(struct lp_hil_board *b);

const struct lp_hil_board_config *lp_hil_board_config(const struct lp_hil_board *b);
struct lp_hil_power *lp_hil_board_power(struct lp_hil_board *b);
/* Opens the console if needed (with the expect engine attached). */
int lp_hil_board_console(struct lp_hil_board *b, struct lp_hil_console **ret,
			 struct lp_diag *diag);
struct lp_hil_expect *lp_hil_board_expect(struct lp_hil_board *b);

#define LP_HIL_BOARD_MAX_SINKS 4
/* An extra console sink (echo to a terminal, a script runner's console tail): attached
 * at once when the console is open, and again whenever the board opens it anew (after
 * a power off or a boot). Returns an id for lp_hil_board_remove_sink, or -ENOSPC. */
int lp_hil_board_add_sink(struct lp_hil_board *b, lp_hil_console_feed_fn *feed,
			  void *userdata);
/* Detaches a sink (an id < 0 is ignored). */
void lp_hil_board_remove_sink(struct lp_hil_board *b, int id);

/* Power cycle / off through the board, so the shell runner starts afresh afterwards
 * (the console stays open and reconnects by itself when QEMU restarts). */
int lp_hil_board_power_cycle(struct lp_hil_board *b, struct lp_diag *diag);
int lp_hil_board_power_off(struct lp_hil_board *b, struct lp_diag *diag);
int lp_hil_board_power_cut(struct lp_hil_board *b, struct lp_diag *diag);
/* Forgets the prepared shell: the next run prepares it again (after the board rebooted
 * by itself, its new shell knows nothing of the runner's prompt). */
void lp_hil_board_reset_shell(struct lp_hil_board *b);
/* The failure patterns of waits and runs: the inventory's boot.failure by default.
 * n = 0 turns them off (e.g. a scenario that expects a kernel panic). */
int lp_hil_board_set_failure(struct lp_hil_board *b, const char *const *res, size_t n,
			     struct lp_diag *diag);

/* Boot strategy: power off, on (held), console, resume, then wait for until (NULL: the
 * inventory's boot.until, else its shell or login prompt) with the boot failure patterns.
 * timeout_ms 0 = the inventory's boot timeout. */
int lp_hil_board_boot(struct lp_hil_board *b, const char *until, unsigned timeout_ms,
		      struct lp_diag *diag);
/* Snapshots (QEMU boards): _save pauses the board and writes its machine state to
 * state_file (lp_hil_power_save); _restore is a boot that resumes from such a file
 * instead of starting the firmware: power off, on restored, console, run — nothing is
 * waited for, the board continues where it was saved. The disk must be as it was then. */
int lp_hil_board_save(struct lp_hil_board *b, const char *state_file, struct lp_diag *diag);
int lp_hil_board_restore(struct lp_hil_board *b, const char *state_file, struct lp_diag *diag);
/* Waits for one ERE (with the board's failure patterns). */
int lp_hil_board_expect_pattern(struct lp_hil_board *b, const char *pattern,
				unsigned timeout_ms, struct lp_hil_match *ret_match,
				struct lp_diag *diag);
/* Prepares the shell once, then runs cmd (see shell.h). timeout_ms 0 = shell.timeout. */
int lp_hil_board_run(struct lp_hil_board *b, const char *cmd, unsigned timeout_ms,
		     int *ret_status, uint8_t **ret_output, size_t *ret_len,
		     struct lp_diag *diag);

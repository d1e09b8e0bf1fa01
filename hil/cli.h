/* SPDX-License-Identifier: MIT */
/* Shared by the loopline-hil subcommand files. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "loopline-hil/board.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/lock.h"

/* Exit codes of loopline-hil (besides 0, 1 failure, 2 usage). */
enum {
	HIL_EXIT_LOCKED = 10,   /* the board is locked by another owner */
	HIL_EXIT_TIMEOUT = 11,  /* a pattern did not show up in time */
	HIL_EXIT_FAILURE_PATTERN = 12, /* a failure pattern (e.g. Kernel panic) matched */
	HIL_EXIT_RUN_ERROR = 255, /* run: the command could not be run (ssh-style) */
};

struct cli {
	const char *inventory_path;
	char owner[256];
	uint64_t wait_ms;            /* --wait for board locks */
	struct lp_hil_inventory *inv;
	/* transient lock taken by cli_board_open, released by cli_board_close */
	struct lp_hil_locks *locks;
	char locked_board[LP_HIL_NAME_MAX + 1];
};

typedef int cli_cmd_fn(struct cli *cli, int argc, char **argv);

struct cli_command {
	const char *name;
	cli_cmd_fn *fn;
	const char *args;
	const char *help;
};

int cli_load_inventory(struct cli *cli);
/* Loads the inventory, takes the board's lock for this process (unless this owner
 * already holds it) and opens the board. Returns an exit code (0 = ok). */
int cli_board_open(struct cli *cli, const char *name, const char *why, struct lp_hil_board **ret);
void cli_board_close(struct cli *cli, struct lp_hil_board *b);
int cli_usage_error(const char *fmt, ...) LP_PRINTF(1, 2);
/* Maps a library error to an exit code after printing the diag. */
int cli_fail(int err, const struct lp_diag *diag);
int cli_fail_code(int err);
int cli_parse_duration(const char *opt, const char *s, uint64_t *ret_ms);

int cmd_boards(struct cli *cli, int argc, char **argv);
int cmd_check_inventory(struct cli *cli, int argc, char **argv);
int cmd_power(struct cli *cli, int argc, char **argv);
int cmd_console(struct cli *cli, int argc, char **argv);
int cmd_expect(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_boot(struct cli *cli, int argc, char **argv);
int cmd_lock(struct cli *cli, int argc, char **argv);
int cmd_unlock(struct cli *cli, int argc, char **argv);
int cmd_locks(struct cli *cli, int argc, char **argv);
int cmd_script(struct cli *cli, int argc, char **argv);

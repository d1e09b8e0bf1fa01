/* SPDX-License-Identifier: MIT */
/*
 * Shared by the loopline-hil command files. The tool is a lib/cli.h command table
 * (main.c); every command is an lp_cli_run_fn with a struct hil as its context. The
 * inventory is loaded by the commands that need it, after lp_cli_main checked the
 * command line, so a usage error never depends on the inventory.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "loopline/cli.h"
#include "loopline-hil/board.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/lock.h"

/* run: the board command's exit status passes through; loopline-hil's own errors after
 * the command line was checked exit with this (like ssh). */
#define HIL_EXIT_RUN_ERROR 255

struct hil {
	const struct lp_cli_tool *tool;
	const char *inventory_path;  /* -i, else $LOOPLINE_HIL_INVENTORY */
	char owner[256];             /* --owner, else $LOOPLINE_HIL_OWNER, else user@host */
	uint64_t wait_ms;            /* --wait for board locks */
	struct lp_hil_inventory *inv;
	struct lp_hil_locks *locks;
	/* the transient lock taken by hil_board_open, released by hil_board_close */
	char locked_board[LP_HIL_NAME_MAX + 1];
};

/* The exit codes loopline-hil returns besides 0, 1 and 2 (0-terminated, for --help). */
extern const int hil_exits[];

/* lp_exit_from_errno limited to the codes above: an errno that means a package refusal
 * in other tools (-EPERM: someone else's lock; -E2BIG: output too long) is a plain
 * failure (1) here. */
int hil_exit(int err);
/* Logs the error once (the diag if it says something, else strerror) and returns
 * hil_exit(err). */
int hil_fail(int err, const struct lp_diag *diag);

/* Loads the inventory once. Returns an exit code (2 when there is none or it is bad). */
int hil_inventory(struct lp_cli *cli, struct hil *h);
/* Opens the lock database of the inventory once. Returns an exit code. */
int hil_locks(struct lp_cli *cli, struct hil *h);
/* The board's configuration, or NULL after logging "no board …" (exit 24). */
const struct lp_hil_board_config *hil_find_board(struct hil *h, const char *name);
/* Loads the inventory, takes the board's lock for this process (unless this owner
 * already holds it) and opens the board. Returns an exit code (0 = ok). */
int hil_board_open(struct lp_cli *cli, struct hil *h, const char *name, const char *why,
		   struct lp_hil_board **ret);
void hil_board_close(struct hil *h, struct lp_hil_board *b);

/* A --timeout/--for/--wait value: lp_cli_parse_duration, at most UINT32_MAX ms. */
int hil_parse_duration(const struct lp_cli *cli, const char *opt, const char *text,
		       uint64_t *ret_ms);
/* Prints item as one line of JSON and frees it; an exit code. */
int hil_print_json(cJSON *item);

/* the commands and their options (main.c holds the table) */
extern const struct lp_cli_opt hil_expect_opts[], hil_run_opts[], hil_boot_opts[],
	hil_script_opts[], hil_lock_opts[], hil_unlock_opts[];
lp_cli_run_fn cmd_boards, cmd_check_inventory, cmd_power, cmd_console, cmd_expect, cmd_run,
	cmd_boot, cmd_script, cmd_lock, cmd_unlock, cmd_locks;

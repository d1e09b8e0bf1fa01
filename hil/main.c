/* SPDX-License-Identifier: MIT */
/* loopline-hil: drive lab boards (and QEMU boards) from the command line. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "loopline/log.h"

enum { OPT_INVENTORY = 'i', OPT_OWNER = LP_CLI_KEY_LONG, OPT_WAIT };

static const struct lp_cli_opt global_opts[] = {
	{ OPT_INVENTORY, "inventory", 'i', "FILE", "rack inventory (default $LOOPLINE_HIL_INVENTORY)" },
	{ OPT_OWNER, "owner", 0, "NAME", "lock owner (default $LOOPLINE_HIL_OWNER or user@host)" },
	{ OPT_WAIT, "wait", 0, "D", "wait up to D (e.g. 10m) for a board locked by someone else" },
	{ 0 },
};

#define BOARD_CMD(word, what, fn) \
	{ "power " word, "BOARD", what, NULL, NULL, 1, 1, 0, fn }

static const struct lp_cli_cmd commands[] = {
	{ "boards", "", "list the boards of the inventory", NULL, NULL, 0, 0, LP_CLI_JSON,
	  cmd_boards },
	{ "check-inventory", "[FILE]", "validate an inventory (default: -i) and exit",
	  "Exits 0 when the inventory is valid (regular expressions included), else 2 with\n"
	  "FILE:LINE:COLUMN: path: message. --json prints {\"file\",\"ok\",\"boards\"|\"error\"}.",
	  NULL, 0, 1, LP_CLI_JSON, cmd_check_inventory },
	BOARD_CMD("on", "switch the board on", cmd_power),
	BOARD_CMD("off", "switch the board off (qemu: QMP quit, then SIGKILL)", cmd_power),
	BOARD_CMD("cut", "cut power without any grace (qemu: SIGKILL)", cmd_power),
	BOARD_CMD("cycle", "power cycle (qemu: system_reset or restart)", cmd_power),
	{ "power status", "BOARD", "print BOARD: on|off|unknown", NULL, NULL, 1, 1, LP_CLI_JSON,
	  cmd_power },
	{ "power save", "BOARD FILE", "pause a QEMU board and save its machine state to FILE",
	  "The CPUs stop and RAM, CPU and device state go to FILE (not the disks: keep a\n"
	  "copy of the disk as it is now). The board stays on, paused, until power off.\n"
	  "Only the qemu power driver can do this.", NULL, 2, 2, 0, cmd_power },
	{ "power restore", "BOARD FILE", "power a QEMU board on from a saved state",
	  "Instead of booting, the board continues where `power save` left it; its argv and\n"
	  "its disk must be those of that moment. Only this power on restores: the next one\n"
	  "boots.", NULL, 2, 2, 0, cmd_power },
	{ "console", "BOARD", "interactive console (Ctrl-] q quits)",
	  "The terminal goes raw, so Ctrl-C reaches the board; Ctrl-] then q (or .) quits,\n"
	  "Ctrl-] Ctrl-] sends one Ctrl-]. With stdin not a terminal, the end of input ends\n"
	  "the session once the board has been quiet for 0.5 s.",
	  NULL, 1, 1, 0, cmd_console },
	{ "expect", "BOARD PATTERN", "wait for an ERE on the console, print the match", NULL,
	  hil_expect_opts, 2, 2, LP_CLI_JSON, cmd_expect },
	{ "run", "BOARD [--] CMD...", "run a shell command on the board, exit with its status",
	  "The words of CMD are joined with spaces and run by the board's shell; its exact\n"
	  "output goes to stdout. The exit status is the command's; 255 when loopline-hil\n"
	  "itself fails after the command line was checked (no such board, locked, timeout,\n"
	  "console) — like ssh. Options go before BOARD.",
	  hil_run_opts, 2, -1, LP_CLI_ARGS_RAW, cmd_run },
	{ "boot", "BOARD", "power off, on and wait for the prompt (or --until)", NULL,
	  hil_boot_opts, 1, 1, 0, cmd_boot },
	{ "script", "BOARD FILE|-", "run a scenario file with the console kept open",
	  "The whole file is parsed before the board is touched (exit 2 with FILE:LINE on a\n"
	  "mistake). A failing step ends the script with FILE:LINE: message and the exit\n"
	  "code of its error; the steps are documented in docs/hil.md.",
	  hil_script_opts, 2, 2, 0, cmd_script },
	{ "lock", "BOARD", "reserve a board", NULL, hil_lock_opts, 1, 1, 0, cmd_lock },
	{ "unlock", "BOARD", "release a reservation", NULL, hil_unlock_opts, 1, 1, 0, cmd_unlock },
	{ "locks", "", "list the reservations", NULL, NULL, 0, 0, LP_CLI_JSON, cmd_locks },
};

static int global(void *ctx, int key, const char *arg)
{
	struct hil *h = ctx;

	switch (key) {
	case OPT_INVENTORY:
		h->inventory_path = arg;
		return 0;
	case OPT_OWNER:
		snprintf(h->owner, sizeof(h->owner), "%s", arg);
		return 0;
	case OPT_WAIT:
		return hil_parse_duration(&(struct lp_cli){ .tool = h->tool }, "--wait", arg,
					  &h->wait_ms);
	}
	return 0;
}

static const struct lp_cli_tool tool = {
	.name = "loopline-hil",
	.summary = "Drive lab boards and QEMU boards: power, console, expect, run, scenarios, locks.",
	.cmds = commands,
	.n_cmds = LP_ARRAY_SIZE(commands),
	.global_opts = global_opts,
	.global = global,
	.exits = hil_exits,
	.footer = "\n'run' exits with the board command's status, or 255 when loopline-hil itself\n"
		  "fails (like ssh). Durations: 30 (seconds), 30s, 500ms, 5m, 2h.\n"
		  "Documentation: docs/hil.md.\n",
};

int main(int argc, char **argv)
{
	struct hil h = { .tool = &tool, .inventory_path = getenv("LOOPLINE_HIL_INVENTORY") };
	int r;

	lp_hil_lock_default_owner(h.owner, sizeof(h.owner));
	r = lp_cli_main(&tool, argc, argv, &h);
	lp_hil_locks_close(h.locks);
	lp_hil_inventory_free(h.inv);
	return r;
}

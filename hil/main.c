/* SPDX-License-Identifier: MIT */
/* loopline-hil: drive lab boards (and QEMU boards) from the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/log.h"

static const struct cli_command commands[] = {
	{"boards", cmd_boards, "[--json]", "list the boards of the inventory"},
	{"check-inventory", cmd_check_inventory, "[FILE]", "validate an inventory and exit"},
	{"power", cmd_power, "on|off|cut|cycle|status BOARD [--json]", "switch or query power"},
	{"console", cmd_console, "BOARD", "interactive console (Ctrl-] q quits)"},
	{"expect", cmd_expect, "BOARD PATTERN [--timeout D]", "wait for an ERE on the console"},
	{"run", cmd_run, "BOARD [--timeout D] -- CMD...", "run a shell command, exit with its status"},
	{"boot", cmd_boot, "BOARD [--until PATTERN] [--timeout D] [--quiet]",
	 "power off/on and wait for the prompt"},
	{"script", cmd_script, "BOARD FILE|- [--echo]",
	 "run a scenario file of steps with the console kept open"},
	{"lock", cmd_lock, "BOARD [--for D] [--reason TEXT] [--pid PID]", "reserve a board"},
	{"unlock", cmd_unlock, "BOARD [--force]", "release a board"},
	{"locks", cmd_locks, "[--json]", "list the reservations"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: loopline-hil [-i INVENTORY] [--owner NAME] [--wait D] COMMAND ...\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < LP_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-16s %-44s %s\n", commands[i].name, commands[i].args,
			commands[i].help);
	fprintf(f, "\nOptions:\n"
		   "  -i, --inventory FILE  rack inventory (default $LOOPLINE_HIL_INVENTORY)\n"
		   "      --owner NAME      lock owner (default $LOOPLINE_HIL_OWNER or user@host)\n"
		   "      --wait D          wait up to D (e.g. 10m) for a locked board\n"
		   "  -v, --verbose         debug logging\n"
		   "  -h, --help            this help\n"
		   "      --version         print the version\n"
		   "Durations: 30 (seconds), 30s, 500ms, 5m, 2h. See docs/hil.md.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"inventory", required_argument, NULL, 'i'},
		{"owner", required_argument, NULL, 'o'},
		{"wait", required_argument, NULL, 'w'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct cli cli = {0};
	int c, r;

	lp_log_set_ident("loopline-hil");
	cli.inventory_path = getenv("LOOPLINE_HIL_INVENTORY");
	lp_hil_lock_default_owner(cli.owner, sizeof(cli.owner));
	/* "+": stop at the first non-option so each command parses its own options */
	while ((c = getopt_long(argc, argv, "+i:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			cli.inventory_path = optarg;
			break;
		case 'o':
			snprintf(cli.owner, sizeof(cli.owner), "%s", optarg);
			break;
		case 'w':
			if ((r = cli_parse_duration("--wait", optarg, &cli.wait_ms)) != 0)
				return r;
			break;
		case 'v':
			lp_log_set_level(LP_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("loopline-hil %s\n", lp_version_string());
			return 0;
		default:
			fprintf(stderr, "Try 'loopline-hil --help'.\n");
			return LP_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("missing command");
	for (size_t i = 0; i < LP_ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0; /* full getopt reset for the command's own options */
			r = commands[i].fn(&cli, sub_argc, sub_argv);
			lp_hil_locks_close(cli.locks);
			lp_hil_inventory_free(cli.inv);
			return r;
		}
	}
	return cli_usage_error("unknown command \"%s\"", argv[optind]);
}

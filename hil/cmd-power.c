/* SPDX-License-Identifier: MIT */
/* power on|off|cycle|status BOARD */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_power(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	struct lp_hil_board *b = NULL;
	enum lp_hil_power_state st;
	struct lp_diag diag;
	const char *action, *name;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_error("power: unknown option");
		json = true;
	}
	if (argc - optind != 2)
		return cli_usage_error("power: expected on|off|cut|cycle|status BOARD");
	action = argv[optind];
	name = argv[optind + 1];
	if (strcmp(action, "on") && strcmp(action, "off") && strcmp(action, "cycle") && strcmp(action, "cut") &&
	    strcmp(action, "status"))
		return cli_usage_error("power: unknown action \"%s\" (on, off, cut, cycle, status)",
				       action);
	if ((r = cli_board_open(cli, name, "loopline-hil power", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	if (strcmp(action, "on") == 0)
		r = lp_hil_power_on(lp_hil_board_power(b), 0, &diag);
	else if (strcmp(action, "off") == 0)
		r = lp_hil_power_off(lp_hil_board_power(b), &diag);
	else if (strcmp(action, "cut") == 0)
		r = lp_hil_power_cut(lp_hil_board_power(b), &diag);
	else if (strcmp(action, "cycle") == 0)
		r = lp_hil_power_cycle(lp_hil_board_power(b), &diag);
	else {
		r = lp_hil_power_status(lp_hil_board_power(b), &st, &diag);
		if (r == 0) {
			if (json)
				printf("{\"board\":\"%s\",\"power\":\"%s\"}\n", name,
				       lp_hil_power_state_name(st));
			else
				printf("%s: %s\n", name, lp_hil_power_state_name(st));
		}
	}
	if (r < 0)
		r = cli_fail(r, &diag);
	cli_board_close(cli, b);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* boards, check-inventory */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loopline/log.h"

static void power_desc(const struct lp_hil_power_config *p, char *buf, size_t len)
{
	switch (p->kind) {
	case LP_HIL_POWER_GPIOD:
		if (p->line_name)
			snprintf(buf, len, "gpiod %s line %s%s", p->chip, p->line_name,
				 p->active_low ? " (active low)" : "");
		else
			snprintf(buf, len, "gpiod %s line %d%s", p->chip, p->line,
				 p->active_low ? " (active low)" : "");
		break;
	case LP_HIL_POWER_QEMU:
		snprintf(buf, len, "qemu %s", p->argv[0]);
		break;
	default:
		snprintf(buf, len, "%s", lp_hil_power_kind_name(p->kind));
	}
}

static void console_desc(const struct lp_hil_console_config *c, char *buf, size_t len)
{
	switch (c->kind) {
	case LP_HIL_CONSOLE_SERIAL:
		snprintf(buf, len, "serial %s %u", c->port, c->baud);
		break;
	case LP_HIL_CONSOLE_TCP:
		snprintf(buf, len, "tcp %s:%u", c->host, c->tcp_port);
		break;
	case LP_HIL_CONSOLE_UNIX:
		snprintf(buf, len, "unix %s", c->path);
		break;
	default:
		snprintf(buf, len, "qemu");
	}
}

int cmd_boards(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_error("boards: unknown option");
		json = true;
	}
	if (optind != argc)
		return cli_usage_error("boards: unexpected argument \"%s\"", argv[optind]);
	if ((r = cli_load_inventory(cli)) != 0)
		return r;
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *s;

		for (size_t i = 0; arr && i < cli->inv->n_boards; i++) {
			const struct lp_hil_board_config *b = &cli->inv->boards[i];
			cJSON *o = cJSON_CreateObject(), *p, *co;

			if (!o)
				break;
			cJSON_AddItemToArray(arr, o);
			cJSON_AddStringToObject(o, "name", b->name);
			if (b->target)
				cJSON_AddStringToObject(o, "target", b->target);
			else
				cJSON_AddNullToObject(o, "target");
			p = cJSON_AddObjectToObject(o, "power");
			co = cJSON_AddObjectToObject(o, "console");
			if (!p || !co)
				break;
			cJSON_AddStringToObject(p, "driver", lp_hil_power_kind_name(b->power.kind));
			if (b->power.kind == LP_HIL_POWER_GPIOD) {
				cJSON_AddStringToObject(p, "chip", b->power.chip);
				if (b->power.line_name)
					cJSON_AddStringToObject(p, "line", b->power.line_name);
				else
					cJSON_AddNumberToObject(p, "line", b->power.line);
				cJSON_AddBoolToObject(p, "active_low", b->power.active_low);
			}
			cJSON_AddStringToObject(co, "driver",
						lp_hil_console_kind_name(b->console.kind));
			if (b->console.port)
				cJSON_AddStringToObject(co, "port", b->console.port);
			if (b->console.kind == LP_HIL_CONSOLE_SERIAL)
				cJSON_AddNumberToObject(co, "baud", b->console.baud);
			if (b->console.host) {
				cJSON_AddStringToObject(co, "host", b->console.host);
				cJSON_AddNumberToObject(co, "port", b->console.tcp_port);
			}
			if (b->console.path)
				cJSON_AddStringToObject(co, "path", b->console.path);
		}
		s = arr ? cJSON_PrintUnformatted(arr) : NULL;
		cJSON_Delete(arr);
		if (!s) {
			log_error("out of memory");
			return LP_EXIT_FAILURE;
		}
		printf("%s\n", s);
		free(s);
		return 0;
	}
	printf("%-20s %-14s %-36s %s\n", "BOARD", "TARGET", "POWER", "CONSOLE");
	for (size_t i = 0; i < cli->inv->n_boards; i++) {
		const struct lp_hil_board_config *b = &cli->inv->boards[i];
		char pd[128], cd[300];

		power_desc(&b->power, pd, sizeof(pd));
		console_desc(&b->console, cd, sizeof(cd));
		printf("%-20s %-14s %-36s %s\n", b->name, b->target ? b->target : "-", pd, cd);
	}
	return 0;
}

int cmd_check_inventory(struct cli *cli, int argc, char **argv)
{
	int r;

	if (argc > 2)
		return cli_usage_error("check-inventory: expected at most one FILE");
	if (argc == 2)
		cli->inventory_path = argv[1];
	if ((r = cli_load_inventory(cli)) != 0)
		return r;
	printf("%s: ok, %zu board%s\n", cli->inventory_path, cli->inv->n_boards,
	       cli->inv->n_boards == 1 ? "" : "s");
	return 0;
}

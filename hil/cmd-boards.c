/* SPDX-License-Identifier: MIT */
/* boards, check-inventory */
#include <cjson/cJSON.h>
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

static cJSON *board_json(const struct lp_hil_board_config *b)
{
	cJSON *o = cJSON_CreateObject(), *p, *co;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", b->name);
	if (b->target)
		cJSON_AddStringToObject(o, "target", b->target);
	else
		cJSON_AddNullToObject(o, "target");
	p = cJSON_AddObjectToObject(o, "power");
	co = cJSON_AddObjectToObject(o, "console");
	if (!p || !co) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(p, "driver", lp_hil_power_kind_name(b->power.kind));
	if (b->power.kind == LP_HIL_POWER_GPIOD) {
		cJSON_AddStringToObject(p, "chip", b->power.chip);
		if (b->power.line_name)
			cJSON_AddStringToObject(p, "line", b->power.line_name);
		else
			cJSON_AddNumberToObject(p, "line", b->power.line);
		cJSON_AddBoolToObject(p, "active_low", b->power.active_low);
	}
	cJSON_AddStringToObject(co, "driver", lp_hil_console_kind_name(b->console.kind));
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
	return o;
}

int cmd_boards(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	int r;

	if ((r = hil_inventory(cli, h)) != 0)
		return r;
	if (cli->json) {
		cJSON *arr = cJSON_CreateArray();

		for (size_t i = 0; arr && i < h->inv->n_boards; i++) {
			cJSON *o = board_json(&h->inv->boards[i]);

			if (!o) {
				cJSON_Delete(arr);
				arr = NULL;
			} else {
				cJSON_AddItemToArray(arr, o);
			}
		}
		return hil_print_json(arr);
	}
	printf("%-20s %-14s %-36s %s\n", "BOARD", "TARGET", "POWER", "CONSOLE");
	for (size_t i = 0; i < h->inv->n_boards; i++) {
		const struct lp_hil_board_config *b = &h->inv->boards[i];
		char pd[128], cd[300];

		power_desc(&b->power, pd, sizeof(pd));
		console_desc(&b->console, cd, sizeof(cd));
		printf("%-20s %-14s %-36s %s\n", b->name, b->target ? b->target : "-", pd, cd);
	}
	return 0;
}

/* check-inventory [FILE]: with --json the verdict is printed either way. */
int cmd_check_inventory(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_diag diag;
	cJSON *o;
	char buf[1024];
	int r;

	if (cli->n_args == 1)
		h->inventory_path = cli->args[0];
	if (!h->inventory_path || !h->inventory_path[0])
		return hil_inventory(cli, h); /* says how to name one */
	r = lp_hil_inventory_load(h->inventory_path, &h->inv, &diag);
	if (r < 0)
		log_error("%s", lp_diag_format(&diag, buf, sizeof(buf)));
	if (!cli->json) {
		if (r == 0)
			printf("%s: ok, %zu board%s\n", h->inventory_path, h->inv->n_boards,
			       h->inv->n_boards == 1 ? "" : "s");
		return r < 0 ? LP_EXIT_USAGE : 0;
	}
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "file", h->inventory_path);
		cJSON_AddBoolToObject(o, "ok", r == 0);
		if (r == 0)
			cJSON_AddNumberToObject(o, "boards", (double)h->inv->n_boards);
		else
			cJSON_AddStringToObject(o, "error", buf);
	}
	if (hil_print_json(o) != 0)
		return LP_EXIT_FAILURE;
	return r < 0 ? LP_EXIT_USAGE : 0;
}

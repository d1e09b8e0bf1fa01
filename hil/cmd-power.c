/* SPDX-License-Identifier: MIT */
/* power on|off|cut|cycle|status BOARD, power save|restore BOARD FILE (one table entry
 * each, one function) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int power_status(struct lp_cli *cli, struct lp_hil_board *b, const char *name,
			struct lp_diag *diag)
{
	enum lp_hil_power_state st;
	cJSON *o;
	int r = lp_hil_power_status(lp_hil_board_power(b), &st, diag);

	if (r < 0)
		return r;
	if (!cli->json) {
		printf("%s: %s\n", name, lp_hil_power_state_name(st));
		return 0;
	}
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "board", name);
		cJSON_AddStringToObject(o, "power", lp_hil_power_state_name(st));
	}
	return hil_print_json(o) == 0 ? 0 : -ENOMEM;
}

/* power save|restore BOARD FILE: the file's path made absolute (QEMU runs elsewhere). */
static int power_state_file(struct lp_hil_power *power, const char *action, const char *file,
			    struct lp_diag *diag)
{
	char abs[PATH_MAX], cwd[PATH_MAX];

	if (file[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", file);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return lp_diag_fail(diag, -errno, "getcwd: %s", strerror(errno));
		if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, file) >= sizeof(abs))
			return lp_diag_fail(diag, -ENAMETOOLONG, "%s: path too long", file);
	}
	if (strcmp(action, "save") == 0)
		return lp_hil_power_save(power, abs, diag);
	return lp_hil_power_on_restored(power, abs, 0, diag);
}

int cmd_power(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	const char *action = cli->cmd->name + strlen("power "), *name = cli->args[0];
	struct lp_hil_power *power;
	struct lp_hil_board *b = NULL;
	struct lp_diag diag;
	int r;

	if ((r = hil_board_open(cli, h, name, "loopline-hil power", &b)) != 0)
		return r;
	power = lp_hil_board_power(b);
	lp_diag_clear(&diag);
	if (strcmp(action, "on") == 0)
		r = lp_hil_power_on(power, 0, &diag);
	else if (strcmp(action, "off") == 0)
		r = lp_hil_power_off(power, &diag);
	else if (strcmp(action, "cut") == 0)
		r = lp_hil_power_cut(power, &diag);
	else if (strcmp(action, "cycle") == 0)
		r = lp_hil_power_cycle(power, &diag);
	else if (strcmp(action, "save") == 0 || strcmp(action, "restore") == 0)
		r = power_state_file(power, action, cli->args[1], &diag);
	else
		r = power_status(cli, b, name, &diag);
	if (r < 0)
		r = hil_fail(r, &diag);
	hil_board_close(h, b);
	return r;
}

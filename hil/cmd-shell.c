/* SPDX-License-Identifier: MIT */
/* expect, run, boot: the commands that read the console through the expect engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/log.h"

const struct lp_cli_opt hil_expect_opts[] = {
	{ 't', "timeout", 't', "D", "how long to wait (default 60s)" },
	{ 0 },
};

const struct lp_cli_opt hil_run_opts[] = {
	{ 't', "timeout", 't', "D", "how long the command may take (default: shell.timeout)" },
	{ 0 },
};

const struct lp_cli_opt hil_boot_opts[] = {
	{ 'u', "until", 'u', "PATTERN", "ERE that means booted (default: boot.until, else the prompt)" },
	{ 't', "timeout", 't', "D", "how long the boot may take (default: boot.timeout)" },
	{ 'q', "quiet", 'q', NULL, "do not stream the console to stdout" },
	{ 0 },
};

static void stdout_sink(void *userdata, const uint8_t *buf, size_t len)
{
	(void)!fwrite(buf, 1, len, stdout);
	fflush(stdout);
}

/* --timeout D, the only option of expect and run. */
static int timeout_opt(struct lp_cli *cli, uint64_t *ret_ms)
{
	const char *arg;
	int r;

	while (lp_cli_next(cli, &arg) > 0)
		if ((r = hil_parse_duration(cli, "--timeout", arg, ret_ms)) != 0)
			return r;
	return 0;
}

static int print_match(struct lp_cli *cli, const char *board, const struct lp_hil_match *m)
{
	cJSON *o;

	if (!cli->json) {
		printf("%s\n", m->text);
		return 0;
	}
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "board", board);
		cJSON_AddStringToObject(o, "matched", m->text);
	}
	return hil_print_json(o);
}

int cmd_expect(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_hil_board *b = NULL;
	struct lp_hil_match m;
	struct lp_diag diag;
	uint64_t timeout = 60000;
	int r;

	if ((r = timeout_opt(cli, &timeout)) != 0 ||
	    (r = hil_board_open(cli, h, cli->args[0], "loopline-hil expect", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_hil_board_expect_pattern(b, cli->args[1], (unsigned)timeout, &m, &diag);
	r = r < 0 ? hil_fail(r, &diag) : print_match(cli, cli->args[0], &m);
	hil_board_close(h, b);
	return r;
}

/* The words of the command joined with spaces (malloc'd), NULL on ENOMEM. */
static char *join_words(char *const *words, int n)
{
	size_t len = 1, at = 0;
	char *cmd;

	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	if (!(cmd = malloc(len)))
		return NULL;
	for (int i = 0; i < n; i++) {
		size_t k = strlen(words[i]);

		memcpy(cmd + at, words[i], k);
		at += k;
		if (i + 1 < n)
			cmd[at++] = ' ';
	}
	cmd[at] = '\0';
	return cmd;
}

/* run: the board command's exit status, or 255 for loopline-hil's own errors (ssh). */
int cmd_run(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_hil_board *b = NULL;
	char **words = cli->args + 1;
	int n = cli->n_args - 1, status = 0, r;
	uint64_t timeout = 0;
	struct lp_diag diag;
	uint8_t *out = NULL;
	size_t len = 0;
	char *cmd;

	if ((r = timeout_opt(cli, &timeout)) != 0)
		return r;
	if (n > 0 && strcmp(words[0], "--") == 0) {
		words++;
		n--;
	}
	if (n == 0)
		return lp_cli_usage_error(cli, "no command after the board name");
	if (!(cmd = join_words(words, n)))
		return HIL_EXIT_RUN_ERROR;
	if (hil_board_open(cli, h, cli->args[0], "loopline-hil run", &b) != 0) {
		free(cmd);
		return HIL_EXIT_RUN_ERROR;
	}
	lp_diag_clear(&diag);
	r = lp_hil_board_run(b, cmd, (unsigned)timeout, &status, &out, &len, &diag);
	if (r < 0) {
		hil_fail(r, &diag);
		status = HIL_EXIT_RUN_ERROR;
	} else {
		(void)!fwrite(out, 1, len, stdout);
		fflush(stdout);
	}
	free(out);
	free(cmd);
	hil_board_close(h, b);
	return status;
}

int cmd_boot(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_hil_board *b = NULL;
	const char *until = NULL, *arg;
	uint64_t timeout = 0;
	struct lp_diag diag;
	bool quiet = false;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0) {
		if (key == 'u')
			until = arg;
		else if (key == 'q')
			quiet = true;
		else if ((r = hil_parse_duration(cli, "--timeout", arg, &timeout)) != 0)
			return r;
	}
	if ((r = hil_board_open(cli, h, cli->args[0], "loopline-hil boot", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	if (!quiet)
		lp_hil_board_add_sink(b, stdout_sink, NULL);
	r = lp_hil_board_boot(b, until, (unsigned)timeout, &diag);
	if (r < 0)
		r = hil_fail(r, &diag);
	else if (!quiet)
		fprintf(stderr, "\nloopline-hil: %s booted\n", cli->args[0]);
	hil_board_close(h, b);
	return r;
}

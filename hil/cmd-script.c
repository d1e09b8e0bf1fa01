/* SPDX-License-Identifier: MIT */
/*
 * script BOARD FILE|-: runs a scenario file on one board with lp_hil_script_run (the
 * runner lives in the library: hil/script-run.c) and shows what it reports — output on
 * stdout, the steps and the verdict on stderr. The step language is documented in
 * docs/hil.md ("Scenario scripts").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/log.h"
#include "loopline-hil/script.h"

const struct lp_cli_opt hil_script_opts[] = {
	{ 'e', "echo", 0, NULL, "copy the console to stderr" },
	{ 'c', "check", 0, NULL, "only parse the file (the board is not touched)" },
	{ 0 },
};

static void echo_sink(void *userdata, const uint8_t *buf, size_t len)
{
	(void)userdata;
	(void)!fwrite(buf, 1, len, stderr);
}

static double secs(uint64_t ms)
{
	return (double)ms / 1000.0;
}

/* What the runner reports, shown as loopline-hil always showed it: board and until output,
 * matches, marks and echoes on stdout (benchmarks and tests read these lines), the steps
 * on stderr. */
static void show_event(void *userdata, const struct lp_hil_script_event *ev)
{
	const struct lp_hil_step *st = ev->step;

	(void)userdata;
	switch (ev->kind) {
	case LP_HIL_SCRIPT_EV_STEP:
		log_info("%s:%u: [%.3f s] %s%s%s %s", ev->script->name, st->line,
			 secs(ev->elapsed_ms), lp_hil_step_name(st->kind), st->var ? " " : "",
			 st->var ? st->var : "", ev->text);
		return;
	case LP_HIL_SCRIPT_EV_OUTPUT:
		(void)!fwrite(ev->data, 1, ev->len, stdout);
		break;
	case LP_HIL_SCRIPT_EV_MATCH:
		printf("loopline-hil: %.3f matched: %s\n", secs(ev->elapsed_ms), ev->text);
		break;
	case LP_HIL_SCRIPT_EV_MARK:
		printf("loopline-hil: mark %s %.3f\n", ev->text, secs(ev->elapsed_ms));
		break;
	case LP_HIL_SCRIPT_EV_ECHO:
		printf("%s\n", ev->text);
		break;
	case LP_HIL_SCRIPT_EV_CAPTURE:
		log_debug("%s:%u: %s", ev->script->name, st->line, ev->text);
		return;
	case LP_HIL_SCRIPT_EV_DONE:
		if (st->kind == LP_HIL_STEP_UNTIL)
			log_debug("%s:%u: until: succeeded after %u tries", ev->script->name,
				  st->line, ev->result->tries);
		return;
	}
	fflush(stdout);
}

/* The verdict: "FILE:LINE: message" (and the console's last lines unless they were
 * echoed already); returns the exit code. */
static int show_result(const struct lp_hil_script_result *res, bool echoed)
{
	if (res->ok) {
		log_info("%s: all %zu steps passed in %.3f s", res->file, res->n_steps,
			 secs(res->duration_ms));
		return 0;
	}
	log_error("%s:%u: %s", res->file, res->line, res->message);
	if (!echoed && res->console_tail[0]) {
		const char *p = res->console_tail;

		log_info("%s:%u: the console before the failure:", res->file, res->line);
		while (*p) {
			size_t n = strcspn(p, "\n");

			log_info("  | %.*s", (int)n, p);
			p += n + (p[n] == '\n');
		}
	}
	return hil_exit(res->err);
}

int cmd_script(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_hil_script_opts ro = { .event = show_event };
	struct lp_hil_script_result *res = NULL;
	struct lp_hil_script *sc = NULL;
	struct lp_hil_board *board = NULL;
	bool check_only = false, echo = false;
	struct lp_diag diag;
	int key, r;

	while ((key = lp_cli_next(cli, NULL)) > 0) {
		echo |= key == 'e';
		check_only |= key == 'c';
	}
	/* the whole file is checked before the board is touched */
	lp_diag_clear(&diag);
	r = lp_hil_script_load(cli->args[1], &sc, &diag);
	if (r < 0) {
		(void)hil_fail(r, &diag);
		return r == -ENOMEM ? LP_EXIT_FAILURE : r == -ENOENT ? LP_EXIT_NOT_FOUND
								     : LP_EXIT_USAGE;
	}
	if (check_only) {
		printf("%s: %zu steps\n", sc->name, sc->n_steps);
		lp_hil_script_free(sc);
		return 0;
	}
	if ((r = hil_board_open(cli, h, cli->args[0], "loopline-hil script", &board)) != 0) {
		lp_hil_script_free(sc);
		return r;
	}
	if (echo)
		lp_hil_board_add_sink(board, echo_sink, NULL);
	r = lp_hil_script_run(board, sc, &ro, &res);
	r = r < 0 ? hil_fail(r, NULL) : show_result(res, echo);
	lp_hil_script_result_free(res);
	hil_board_close(h, board);
	lp_hil_script_free(sc);
	return r;
}

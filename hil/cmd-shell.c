/* SPDX-License-Identifier: MIT */
/* expect, run, boot: the commands that read the console through the expect engine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/log.h"

static void stdout_sink(void *userdata, const uint8_t *buf, size_t len)
{
	(void)!fwrite(buf, 1, len, stdout);
	fflush(stdout);
}

int cmd_expect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"timeout", required_argument, NULL, 't'}, {0}};
	struct lp_hil_board *b = NULL;
	struct lp_hil_match m;
	struct lp_diag diag;
	uint64_t timeout = 60000;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (c != 't')
			return cli_usage_error("expect: unknown option");
		if ((r = cli_parse_duration("--timeout", optarg, &timeout)) != 0)
			return r;
	}
	if (argc - optind != 2)
		return cli_usage_error("expect: expected BOARD PATTERN");
	if ((r = cli_board_open(cli, argv[optind], "loopline-hil expect", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_hil_board_expect_pattern(b, argv[optind + 1], (unsigned)timeout, &m, &diag);
	if (r < 0)
		r = cli_fail(r, &diag);
	else
		printf("%s\n", m.text);
	cli_board_close(cli, b);
	return r;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"timeout", required_argument, NULL, 't'}, {0}};
	struct lp_hil_board *b = NULL;
	struct lp_diag diag;
	uint64_t timeout = 0;
	uint8_t *out = NULL;
	size_t len = 0, cmdlen = 0;
	char *cmd;
	int c, r, status = 0;

	while ((c = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
		if (c != 't')
			return cli_usage_error("run: unknown option");
		if ((r = cli_parse_duration("--timeout", optarg, &timeout)) != 0)
			return r;
	}
	if (optind >= argc)
		return cli_usage_error("run: expected BOARD -- CMD");
	{
		const char *name = argv[optind++];

		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind >= argc)
			return cli_usage_error("run: no command after --");
		/* the words are joined with spaces and run by the board's shell */
		for (int i = optind; i < argc; i++)
			cmdlen += strlen(argv[i]) + 1;
		cmd = calloc(1, cmdlen + 1);
		if (!cmd)
			return LP_EXIT_FAILURE;
		{
			size_t at = 0;

			for (int i = optind; i < argc; i++) {
				size_t n = strlen(argv[i]);

				memcpy(cmd + at, argv[i], n);
				at += n;
				if (i + 1 < argc)
					cmd[at++] = ' ';
			}
			cmd[at] = '\0';
		}
		r = cli_board_open(cli, name, "loopline-hil run", &b);
		if (r != 0) {
			free(cmd);
			return r == LP_EXIT_USAGE ? r : HIL_EXIT_RUN_ERROR;
		}
	}
	lp_diag_clear(&diag);
	r = lp_hil_board_run(b, cmd, (unsigned)timeout, &status, &out, &len, &diag);
	if (r < 0) {
		cli_fail(r, &diag);
		r = HIL_EXIT_RUN_ERROR;
	} else {
		(void)!fwrite(out, 1, len, stdout);
		fflush(stdout);
		r = status;
	}
	free(out);
	free(cmd);
	cli_board_close(cli, b);
	return r;
}

int cmd_boot(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"until", required_argument, NULL, 'u'},
					     {"timeout", required_argument, NULL, 't'},
					     {"quiet", no_argument, NULL, 'q'},
					     {0}};
	struct lp_hil_board *b = NULL;
	struct lp_diag diag;
	const char *until = NULL;
	uint64_t timeout = 0;
	bool quiet = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "u:t:q", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			until = optarg;
			break;
		case 't':
			if ((r = cli_parse_duration("--timeout", optarg, &timeout)) != 0)
				return r;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return cli_usage_error("boot: unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("boot: expected BOARD");
	if ((r = cli_board_open(cli, argv[optind], "loopline-hil boot", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	if (!quiet)
		lp_hil_board_add_sink(b, stdout_sink, NULL);
	r = lp_hil_board_boot(b, until, (unsigned)timeout, &diag);
	if (r < 0)
		r = cli_fail(r, &diag);
	else if (!quiet)
		fprintf(stderr, "\nloopline-hil: %s booted\n", argv[optind]);
	cli_board_close(cli, b);
	return r;
}

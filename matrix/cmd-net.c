/* SPDX-License-Identifier: MIT */
/* Placeholder until this part lands (matrix issue #11). */
#include "loopline/cli.h"
#include "matrix.h"

int mx_cmd_net(struct lp_cli *cli, void *ctx)
{
	return lp_cli_usage_error(cli, "not implemented yet");
}

int mx_cmd_fault_proxy(struct lp_cli *cli, void *ctx)
{
	return lp_cli_usage_error(cli, "not implemented yet");
}

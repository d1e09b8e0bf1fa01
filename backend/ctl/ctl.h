/* SPDX-License-Identifier: MIT */
/* loopline-ctl: one function per command (commands.c), the command table in main.c. */
#pragma once

#include <stdbool.h>
#include "loopline/cli.h"
#include "loopline/http-client.h"

struct ctl {
	struct lp_http_client_opts opts;
	struct lp_http_client *client;
	bool json; /* --json before the command */
};

/* Option keys of the commands (main.c's tables, commands.c's parsers). */
enum {
	CTL_TAG = 't', CTL_TEXT = 'q', CTL_VERSION = 'V', CTL_LIMIT = 'l', CTL_OFFSET = 'o',
	CTL_DEVICE = 'd', CTL_ACTIVE = 'a', CTL_AFTER = 'A', CTL_TYPE = 'T', CTL_PACKAGE = 'p',
	CTL_ACTION = 'n', CTL_OPAQUE = 'O', CTL_PART = 'P', CTL_NAME = 'N', CTL_FILENAME = 'f',
	CTL_CHUNK = 'c', CTL_COMPATIBLE = 'C', CTL_OVERRIDE = 'R',
};

/* Logs a failed request once and returns its exit code (the API's error code mapped
 * through lp_exit_from_errno: not_found 24, exists 14, untrusted_signature 10, …). */
int ctl_fail(int err, const struct lp_diag *d);

int ctl_devices(struct lp_cli *cli, void *ctx);
int ctl_device_show(struct lp_cli *cli, void *ctx);
int ctl_upload(struct lp_cli *cli, void *ctx);
int ctl_deploy(struct lp_cli *cli, void *ctx);
int ctl_cancel(struct lp_cli *cli, void *ctx);
int ctl_actions(struct lp_cli *cli, void *ctx);
int ctl_events(struct lp_cli *cli, void *ctx);
int ctl_firmware(struct lp_cli *cli, void *ctx);
int ctl_releases(struct lp_cli *cli, void *ctx);
int ctl_release_show(struct lp_cli *cli, void *ctx);
int ctl_release_create(struct lp_cli *cli, void *ctx);
int ctl_release_approve(struct lp_cli *cli, void *ctx);

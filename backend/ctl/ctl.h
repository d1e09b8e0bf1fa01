/* SPDX-License-Identifier: MIT */
/* loopline-ctl: one function per command (commands.c), shared state from main.c. */
#pragma once

#include <stdbool.h>
#include "loopline/http-client.h"

struct ctl {
	struct lp_http_client *client;
	bool json;
};

int ctl_usage_error(const char *msg);
/* Prints the error of a failed request; returns the exit code (1). */
int ctl_fail(const struct lp_diag *d);

int ctl_devices(struct ctl *c, int argc, char **argv);
int ctl_device(struct ctl *c, int argc, char **argv);
int ctl_upload(struct ctl *c, int argc, char **argv);
int ctl_deploy(struct ctl *c, int argc, char **argv);
int ctl_cancel(struct ctl *c, int argc, char **argv);
int ctl_actions(struct ctl *c, int argc, char **argv);
int ctl_events(struct ctl *c, int argc, char **argv);
int ctl_firmware(struct ctl *c, int argc, char **argv);

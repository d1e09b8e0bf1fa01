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
	CTL_CHUNK = 'c', CTL_COMPATIBLE = 'C', CTL_OVERRIDE = 'R', CTL_STATE = 's', CTL_ATTR = 'K',
	CTL_ALL = 'L', CTL_WAVES = 'W', CTL_SOAK = 'S', CTL_SUCCESS = 'U', CTL_ERROR = 'E',
	CTL_SEED = 'D', CTL_WINDOW = 'w', CTL_REASON = 'r', CTL_WAVE = 'v', CTL_KIND = 'k',
	CTL_CONFIG = 'F', CTL_CHANNEL = 'H', CTL_DEDUPE = 'e', CTL_INTERVALS = 'I', CTL_COUNT = 'j',
	CTL_BOOT_WINDOW = 'b',
};

/* Logs a failed request once and returns its exit code (the API's error code mapped
 * through lp_exit_from_errno: not_found 24, exists 14, untrusted_signature 10, …). */
int ctl_fail(int err, const struct lp_diag *d);

/* Shared by the command files (commands.c). */
void ctl_print_json(const cJSON *j);
const char *ctl_str(const cJSON *o, const char *key);   /* "-" when absent */
long long ctl_num(const cJSON *o, const char *key);     /* 0 when absent */
void ctl_fmt_time(long long t, char *buf, size_t len);  /* ISO 8601 UTC or "never" */
bool ctl_want_json(const struct lp_cli *cli, const struct ctl *c);
/* METHOD path with body (may be NULL); prints the answer's JSON (--json) or table(answer)
 * (nothing for an empty answer or a NULL table). Returns the exit code. */
int ctl_request(struct lp_cli *cli, struct ctl *c, const char *method, const char *path,
		const cJSON *body, void (*table)(const cJSON *));
/* GETs path and prints the JSON (--json) or table(answer). */
int ctl_get_and_print(struct lp_cli *cli, struct ctl *c, const char *path,
		      void (*table)(const cJSON *));
/* Options shared by the list commands: filters become query parameters (keys says which
 * option key is which parameter), --limit and --offset are checked numbers. */
struct ctl_query_key {
	int key;
	const char *param;
	const char *value; /* for flags: the parameter's value (NULL: the option's) */
};

int ctl_list_query(struct lp_cli *cli, char *path, size_t len, const struct ctl_query_key *keys,
		   size_t n_keys);
void ctl_page_footer(const cJSON *page); /* "(n of total shown …)" when paged */

int ctl_rollouts(struct lp_cli *cli, void *ctx);
int ctl_rollout_show(struct lp_cli *cli, void *ctx);
int ctl_rollout_devices(struct lp_cli *cli, void *ctx);
int ctl_rollout_create(struct lp_cli *cli, void *ctx);
int ctl_rollout_control(struct lp_cli *cli, void *ctx);

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

/* alarms.c */
int ctl_alarms(struct lp_cli *cli, void *ctx);
int ctl_alarm_channel_add(struct lp_cli *cli, void *ctx);
int ctl_alarm_channel_list(struct lp_cli *cli, void *ctx);
int ctl_alarm_channel_test(struct lp_cli *cli, void *ctx);
int ctl_alarm_channel_remove(struct lp_cli *cli, void *ctx);
int ctl_alarm_rule_add(struct lp_cli *cli, void *ctx);
int ctl_alarm_rule_list(struct lp_cli *cli, void *ctx);
int ctl_alarm_rule_remove(struct lp_cli *cli, void *ctx);

/* SPDX-License-Identifier: MIT */
/* loopline-ctl: operator CLI for the backend's management API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/common.h"
#include "loopline/log.h"
#include "ctl.h"

#define PROG "loopline-ctl"

enum { OPT_URL = LP_CLI_KEY_LONG, OPT_TOKEN, OPT_CACERT, OPT_JSON };

static const struct lp_cli_opt global_opts[] = {
	{ OPT_URL, "url", 0, "URL", "backend base URL (env LOOPLINE_URL)" },
	{ OPT_TOKEN, "token", 0, "TOKEN", "API token \"<tenant>.<secret>\" (env LOOPLINE_TOKEN)" },
	{ OPT_CACERT, "cacert", 0, "FILE", "CA certificate to trust (env LOOPLINE_CACERT)" },
	{ OPT_JSON, "json", 0, NULL, "print the API's JSON answer (also after the command)" },
	{ 0 },
};

static const struct lp_cli_opt devices_opts[] = {
	{ CTL_TAG, "tag", 0, "T", "only devices with this tag" },
	{ CTL_TEXT, "q", 0, "TEXT", "only controller ids containing TEXT" },
	{ CTL_VERSION, "version", 0, "V", "only devices with this installed version" },
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt upload_opts[] = {
	{ CTL_OPAQUE, "opaque", 0, NULL, "not an .lpkg (e.g. a .swu): needs --version and --part" },
	{ CTL_VERSION, "version", 0, "V", "version of an opaque artifact" },
	{ CTL_PART, "part", 0, "P", "part of an opaque artifact (os, …)" },
	{ CTL_NAME, "name", 0, "N", "name of an opaque artifact (default: the file name)" },
	{ CTL_FILENAME, "filename", 0, "NAME", "file name on the server (default: FILE's)" },
	{ CTL_CHUNK, "chunk-size", 0, "BYTES", "bytes per PUT (1024-8388608, default 4 MiB)" },
	{ 0 },
};

static const struct lp_cli_opt deploy_opts[] = {
	{ CTL_PACKAGE, "package", 0, "ID", "the package to install" },
	{ CTL_ACTION, "action", 0, "NAME", "a configured action instead of a package" },
	{ CTL_DEVICE, "device", 0, "ID", "a target device (repeatable)" },
	{ CTL_TAG, "tag", 0, "T", "every device with this tag (repeatable)" },
	{ CTL_TYPE, "type", 0, "TYPE", "forced (default), soft or download-only" },
	{ 0 },
};

static const struct lp_cli_opt actions_opts[] = {
	{ CTL_DEVICE, "device", 0, "ID", "only this device's actions" },
	{ CTL_ACTIVE, "active", 0, NULL, "only open actions" },
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt events_opts[] = {
	{ CTL_AFTER, "after", 0, "ID", "only events after this id" },
	{ CTL_TYPE, "type", 0, "TYPE", "only events of this type (action.failed, …)" },
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt firmware_opts[] = {
	{ CTL_COMPATIBLE, "compatible", 0, "HW", "only devices reporting this hardware_id" },
	{ CTL_TAG, "tag", 0, "T", "only devices with this tag" },
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt page_opts[] = {
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt release_create_opts[] = {
	{ CTL_PACKAGE, "package", 'p', "ID", "a package of the release (repeat for each)" },
	{ 0 },
};

static const struct lp_cli_opt release_approve_opts[] = {
	{ CTL_OVERRIDE, "override", 0, "REASON", "approve although the gate did not pass (recorded)" },
	{ 0 },
};

static const struct lp_cli_opt rollouts_opts[] = {
	{ CTL_STATE, "state", 0, "S", "only rollouts in this state (running, paused, …)" },
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt rollout_devices_opts[] = {
	{ CTL_WAVE, "wave", 0, "N", "only the members of wave N (1 = the first)" },
	{ CTL_LIMIT, "limit", 0, "N", "at most N (1-1000, default 50)" },
	{ CTL_OFFSET, "offset", 0, "N", "skip the first N" },
	{ 0 },
};

static const struct lp_cli_opt rollout_create_opts[] = {
	{ CTL_TAG, "tag", 't', "T", "devices with this tag (repeatable: any of them)" },
	{ CTL_ATTR, "attr", 'a', "NAME=GLOB", "devices whose attribute matches (repeatable: all)" },
	{ CTL_ALL, "all", 0, NULL, "every device of the tenant" },
	{ CTL_WAVES, "waves", 0, "P,P,…", "cumulative wave sizes in percent (default 1,10,50,100)" },
	{ CTL_SOAK, "soak", 0, "SECONDS", "minimum time each wave runs (default 600)" },
	{ CTL_SUCCESS, "success", 0, "PERCENT", "successes a wave needs to advance (default 95)" },
	{ CTL_ERROR, "error", 0, "PERCENT", "failures in a wave that pause the rollout (default 10)" },
	{ CTL_SEED, "seed", 0, "N", "seed of the wave membership (default: from the version)" },
	{ CTL_TYPE, "type", 0, "TYPE", "forced (default), soft or download-only" },
	{ CTL_WINDOW, "window", 0, "HH:MM+MIN", "daily maintenance window, UTC" },
	{ CTL_NAME, "name", 0, "NAME", "a name (default: the release's version)" },
	{ 0 },
};

static const struct lp_cli_opt reason_opts[] = {
	{ CTL_REASON, "reason", 0, "TEXT", "why (recorded in the event log)" },
	{ 0 },
};

static const struct lp_cli_opt channel_add_opts[] = {
	{ CTL_KIND, "kind", 0, "KIND", "telegram, smtp or webhook" },
	{ CTL_CONFIG, "config", 0, "FILE", "the channel's configuration (JSON, with its secret)" },
	{ 0 },
};

static const struct lp_cli_opt rule_add_opts[] = {
	{ CTL_KIND, "kind", 0, "KIND", "update_failed, rollback, rollout_paused, rollout_done, "
	  "device_silent or boot_failures" },
	{ CTL_CHANNEL, "channel", 0, "NAME", "a channel to notify (repeatable)" },
	{ CTL_DEDUPE, "dedupe", 0, "S", "suppress repeats (same rule and device) for S seconds (3600)" },
	{ CTL_INTERVALS, "intervals", 0, "N", "device_silent: poll intervals without a poll (3)" },
	{ CTL_COUNT, "count", 0, "K", "boot_failures: boot fallbacks of a device (3) ..." },
	{ CTL_BOOT_WINDOW, "window", 0, "S", "... within S seconds (3600)" },
	{ 0 },
};

static const struct lp_cli_cmd cmds[] = {
	{ "devices", "", "list devices (inventory)", NULL, devices_opts, 0, 0, LP_CLI_JSON,
	  ctl_devices },
	{ "device show", "ID", "one device with its attributes and open action", NULL, NULL, 1, 1,
	  LP_CLI_JSON, ctl_device_show },
	{ "upload", "FILE", "upload a package (resumes an unfinished upload of the same file)",
	  "Looks for an unfinished upload of the same file name and size, asks which ranges the\n"
	  "server has and sends only the rest; .lpkg files are verified by the server against\n"
	  "the tenant's trusted keys. --json prints the created package.",
	  upload_opts, 1, 1, LP_CLI_JSON, ctl_upload },
	{ "deploy", "", "assign a package or configured action to devices and tags",
	  "Needs --package or --action, and at least one --device or --tag. --json prints the\n"
	  "created actions.", deploy_opts, 0, 0, LP_CLI_JSON, ctl_deploy },
	{ "cancel", "ACTION_ID", "ask the device to cancel an action",
	  "--json prints the action.", NULL, 1, 1, LP_CLI_JSON, ctl_cancel },
	{ "actions", "", "list actions, newest first", NULL, actions_opts, 0, 0, LP_CLI_JSON,
	  ctl_actions },
	{ "events", "", "the tenant's event log, oldest first", NULL, events_opts, 0, 0,
	  LP_CLI_JSON, ctl_events },
	{ "firmware", "", "firmware versions in use, with device counts", NULL, firmware_opts, 0, 0,
	  LP_CLI_JSON, ctl_firmware },
	{ "releases", "", "list releases, newest first", NULL, page_opts, 0, 0, LP_CLI_JSON,
	  ctl_releases },
	{ "release show", "VERSION", "one release: state, gate result, approval", NULL, NULL, 1, 1,
	  LP_CLI_JSON, ctl_release_show },
	{ "release create", "VERSION", "create a release from uploaded packages",
	  "Its state is built until loopline-matrix gate --post …/releases/VERSION/gate\n"
	  "records a passing gate.", release_create_opts, 1, 1, LP_CLI_JSON, ctl_release_create },
	{ "release approve", "VERSION", "approve a release whose gate passed (operator role)",
	  "A release whose gate failed or never ran needs --override REASON; the reason, who\n"
	  "approved and when are recorded.", release_approve_opts, 1, 1, LP_CLI_JSON,
	  ctl_release_approve },
	{ "rollouts", "", "list rollouts, newest first", NULL, rollouts_opts, 0, 0, LP_CLI_JSON,
	  ctl_rollouts },
	{ "rollout show", "ID", "a rollout with every wave's progress", NULL, NULL, 1, 1,
	  LP_CLI_JSON, ctl_rollout_show },
	{ "rollout devices", "ID", "a rollout's devices: wave, action, status", NULL,
	  rollout_devices_opts, 1, 1, LP_CLI_JSON, ctl_rollout_devices },
	{ "rollout create", "VERSION", "roll a release out in waves (operator role)",
	  "Refused while the release's gate has not passed (unless an operator approved it with\n"
	  "--override); waits, assigning nothing, while it is pending operator approval.",
	  rollout_create_opts, 1, 1, LP_CLI_JSON, ctl_rollout_create },
	{ "rollout pause", "ID", "stop handing out the update", NULL, reason_opts, 1, 1,
	  LP_CLI_JSON, ctl_rollout_control },
	{ "rollout resume", "ID", "continue a paused rollout",
	  "The failures seen so far are accepted: only new ones count against the error\n"
	  "threshold.", reason_opts, 1, 1, LP_CLI_JSON, ctl_rollout_control },
	{ "rollout cancel", "ID", "end a rollout; devices are asked to cancel open actions", NULL,
	  reason_opts, 1, 1, LP_CLI_JSON, ctl_rollout_control },
	{ "alarms", "", "raised alarms, newest first, with their deliveries", NULL, page_opts, 0, 0,
	  LP_CLI_JSON, ctl_alarms },
	{ "alarm-channel add", "NAME", "add an alarm channel (operator role)",
	  "FILE holds the channel's configuration, e.g. for telegram {\"bot_token\": …,\n"
	  "\"chat_id\": …}; docs/alarms.md lists the keys of each kind.", channel_add_opts, 1, 1,
	  LP_CLI_JSON, ctl_alarm_channel_add },
	{ "alarm-channel list", "", "alarm channels (secrets are never shown)", NULL, page_opts, 0, 0,
	  LP_CLI_JSON, ctl_alarm_channel_list },
	{ "alarm-channel test", "ID", "queue a test alarm to a channel", NULL, NULL, 1, 1,
	  LP_CLI_JSON, ctl_alarm_channel_test },
	{ "alarm-channel remove", "ID", "remove a channel (its undelivered alarms fail)", NULL, NULL,
	  1, 1, 0, ctl_alarm_channel_remove },
	{ "alarm-rule add", "NAME", "add an alarm rule (operator role)", NULL, rule_add_opts, 1, 1,
	  LP_CLI_JSON, ctl_alarm_rule_add },
	{ "alarm-rule list", "", "alarm rules", NULL, page_opts, 0, 0, LP_CLI_JSON,
	  ctl_alarm_rule_list },
	{ "alarm-rule remove", "ID", "remove a rule (its alarms stay)", NULL, NULL, 1, 1, 0,
	  ctl_alarm_rule_remove },
};

static const int exits[] = { LP_EXIT_SIGNATURE, LP_EXIT_CORRUPT, LP_EXIT_EXISTS, LP_EXIT_BUSY,
			     LP_EXIT_STATE, LP_EXIT_NOT_FOUND, 0 };

static int global(void *ctx, int key, const char *arg)
{
	struct ctl *c = ctx;

	if (key == OPT_URL)
		c->opts.base_url = arg;
	else if (key == OPT_TOKEN)
		c->opts.token = arg;
	else if (key == OPT_CACERT)
		c->opts.cacert = arg;
	else if (key == OPT_JSON)
		c->json = true;
	return 0;
}

static int prepare(void *ctx, const struct lp_cli_cmd *cmd)
{
	struct ctl *c = ctx;

	if (!c->opts.base_url || !c->opts.token) {
		fprintf(stderr, PROG " %s: set --url and --token (or LOOPLINE_URL and LOOPLINE_TOKEN)\n"
			"Try '" PROG " --help'.\n", cmd->name);
		return LP_EXIT_USAGE;
	}
	if (lp_http_client_new(&c->opts, &c->client) < 0) {
		log_error("cannot set up the HTTP client");
		return LP_EXIT_FAILURE;
	}
	return 0;
}

static const struct lp_cli_tool tool = {
	.name = PROG,
	.summary = "Operator CLI for the Loopline backend's management API.",
	.cmds = cmds,
	.n_cmds = LP_ARRAY_SIZE(cmds),
	.global_opts = global_opts,
	.global = global,
	.prepare = prepare,
	.exits = exits,
	.footer = "\nThe client code is lib/http-client.c; see docs/backend.md and docs/api.md.\n",
};

int main(int argc, char **argv)
{
	struct ctl c = {
		.opts = {
			.base_url = getenv("LOOPLINE_URL"),
			.token = getenv("LOOPLINE_TOKEN"),
			.cacert = getenv("LOOPLINE_CACERT"),
		},
	};
	int r = lp_cli_main(&tool, argc, argv, &c);

	lp_http_client_free(c.client);
	return r;
}

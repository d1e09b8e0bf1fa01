/* SPDX-License-Identifier: MIT */
/* loopline-agent: the command table (lib/cli.h) — arguments in, one module call out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/cli.h"
#include "loopline/log.h"

#define DEFAULT_CONFIG "/etc/loopline/agent.json"

enum { OPT_SLOT = LP_CLI_KEY_LONG, OPT_ACTION, OPT_REBOOT };

struct agent_main {
	const char *config_path;
	const char *slot;
	struct agent_config *cfg;
	struct agent_ctx ctx;
	int lock;
};

/* The module call's result as an exit code; the error is logged once, here. */
static int done(int r, const struct lp_diag *diag)
{
	return r < 0 ? lp_cli_fail(r, diag, NULL) : LP_EXIT_OK;
}

/* Commands without options or arguments of their own: one module call each. */
static const struct {
	const char *name;
	int (*fn)(const struct agent_ctx *ctx, struct lp_diag *diag);
} plain[] = {
	{ "run", agent_daemon_run },
	{ "check-update", agent_check_update },
	{ "boot", agent_boot_reconcile },
	{ "mark-good", agent_mark_good },
	{ "mark-bad", agent_mark_bad },
};

static int cmd_plain(struct lp_cli *cli, void *v)
{
	struct agent_main *m = v;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	for (size_t i = 0; i < LP_ARRAY_SIZE(plain); i++)
		if (strcmp(cli->cmd->name, plain[i].name) == 0)
			return done(plain[i].fn(&m->ctx, &diag), &diag);
	return lp_cli_fail(-ENOSYS, NULL, cli->cmd->name); /* a table mismatch: a bug */
}

static int cmd_check_config(struct lp_cli *cli, void *v)
{
	struct agent_main *m = v;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	return done(agent_config_print(m->cfg, cli->json, &diag), &diag);
}

static int cmd_status(struct lp_cli *cli, void *v)
{
	struct agent_main *m = v;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	return done(agent_status_print(&m->ctx, cli->json, &diag), &diag);
}

static int cmd_install(struct lp_cli *cli, void *v)
{
	struct agent_main *m = v;
	char backend[AGENT_ID_MAX] = "";
	const char *arg, *action = NULL, *action_id = NULL;
	struct lp_diag diag;
	bool reboot = false;
	int key;

	while ((key = lp_cli_next(cli, &arg)) > 0) {
		if (key == OPT_ACTION)
			action = arg;
		else if (key == OPT_REBOOT)
			reboot = true;
	}
	if (action) {
		const char *colon = strchr(action, ':');

		if (!colon || colon == action || !colon[1] || (size_t)(colon - action) >= sizeof(backend))
			return lp_cli_usage_error(cli, "--action wants BACKEND:ACTION_ID, not '%s'", action);
		memcpy(backend, action, (size_t)(colon - action));
		backend[colon - action] = '\0';
		action_id = colon + 1;
		if (!agent_config_find_backend(m->cfg, backend))
			return lp_cli_usage_error(cli, "--action: no backend named '%s' in the config",
						  backend);
	}
	lp_diag_clear(&diag);
	return done(agent_install_file(&m->ctx, cli->args[0], action ? backend : NULL, action_id,
				       reboot, &diag), &diag);
}

static const struct lp_cli_opt install_opts[] = {
	{ OPT_ACTION, "action", 0, "BACKEND:ID", "report the result to this backend's action" },
	{ OPT_REBOOT, "reboot", 0, NULL, "run the reboot command after a successful install" },
	{ 0 },
};

static const struct lp_cli_cmd commands[] = {
	{ "run", "", "daemon: poll the backends, install, report",
	  "The after-boot step, then a poll loop over all backends until SIGTERM/SIGINT.",
	  NULL, 0, 0, 0, cmd_plain },
	{ "check-update", "", "one poll cycle of every backend, then exit",
	  "The after-boot step, then one poll cycle of every backend; fails if none answered.",
	  NULL, 0, 0, 0, cmd_plain },
	{ "check-config", "", "validate the config file (and the device config) and exit", NULL,
	  NULL, 0, 0, LP_CLI_JSON, cmd_check_config },
	{ "install", "FILE|-", "install a local package into the inactive slot",
	  "Installs FILE (or standard input) through the same path as a download.",
	  install_opts, 1, 1, 0, cmd_install },
	{ "boot", "", "after-boot step: health-check and commit, or roll back", NULL, NULL, 0, 0, 0,
	  cmd_plain },
	{ "status", "", "print the update state", NULL, NULL, 0, 0, LP_CLI_JSON, cmd_status },
	{ "mark-good", "", "commit the running new slot without health checks", NULL, NULL, 0, 0, 0,
	  cmd_plain },
	{ "mark-bad", "", "reject the new slot: switch back (and reboot)",
	  "Before the reboot this cancels the activation; on the new slot it switches back and "
	  "runs the reboot command.", NULL, 0, 0, 0, cmd_plain },
};

static const struct lp_cli_opt global_opts[] = {
	{ 'c', "config", 'c', "FILE", "config file (default " DEFAULT_CONFIG ")" },
	{ OPT_SLOT, "slot", 0, "A|B", "the running slot (overrides loopline.slot= on the kernel command line)" },
	{ 0 },
};

static const int exits[] = {
	LP_EXIT_SIGNATURE, LP_EXIT_CORRUPT, LP_EXIT_INCOMPATIBLE, LP_EXIT_DOWNGRADE,
	LP_EXIT_AGENT_TOO_OLD, LP_EXIT_UNSUPPORTED, LP_EXIT_BUSY, LP_EXIT_STATE, LP_EXIT_NOT_FOUND, 0,
};

static int global(void *v, int key, const char *arg);
static int prepare(void *v, const struct lp_cli_cmd *cmd);

static const struct lp_cli_tool tool = {
	.name = "loopline-agent",
	.summary = "The device side of Loopline's update system.",
	.cmds = commands,
	.n_cmds = LP_ARRAY_SIZE(commands),
	.global_opts = global_opts,
	.global = global,
	.prepare = prepare,
	.exits = exits,
	.footer = "\nDocumentation: docs/agent.md\n",
};

static int global(void *v, int key, const char *arg)
{
	struct agent_main *m = v;
	enum agent_slot s;

	if (key == 'c') {
		m->config_path = arg;
	} else if (key == OPT_SLOT) {
		if (agent_slot_parse(arg, &s) < 0) {
			struct lp_cli cli = { .tool = &tool };

			return lp_cli_usage_error(&cli, "--slot: expected A or B, not '%s'", arg);
		}
		m->slot = arg;
	}
	return 0;
}

/* Before a command runs (its command line was checked): the config, and for a command
 * that changes the state (every one that is not read-only, except the daemon, which
 * waits for the lock between polls) the data directory lock. */
static int prepare(void *v, const struct lp_cli_cmd *cmd)
{
	struct agent_main *m = v;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = agent_config_load(m->config_path, &m->cfg, &diag);
	if (r < 0) {
		(void)lp_cli_fail(r, &diag, NULL); /* logged; the exit code is 2 below */
		return LP_EXIT_USAGE; /* every config problem is a configuration error */
	}
	m->ctx = (struct agent_ctx){ .cfg = m->cfg, .slot_override = m->slot };
	if ((cmd->flags & LP_CLI_JSON) || strcmp(cmd->name, "run") == 0)
		return 0;
	r = agent_lock(m->cfg->data_dir, false, &m->lock, &diag);
	return r < 0 ? lp_cli_fail(r, &diag, NULL) : 0;
}

int main(int argc, char **argv)
{
	struct agent_main m = { .config_path = DEFAULT_CONFIG, .lock = -1 };
	int code;

	srandom((unsigned)time(NULL) ^ (unsigned)getpid()); /* jitter only, not secrets */
	code = lp_cli_main(&tool, argc, argv, &m);
	agent_unlock(m.lock);
	agent_config_free(m.cfg);
	return code;
}

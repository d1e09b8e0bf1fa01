/* SPDX-License-Identifier: MIT */
/* loopline-devsim: simulated DDI devices against a real backend (docs/devsim.md). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devsim.h"
#include "loopline/cli.h"
#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/log.h"

#define PROG "loopline-devsim"

enum {
	O_URL = LP_CLI_KEY_LONG, O_TENANT, O_CACERT, O_GATEWAY, O_REGISTER, O_TOKEN, O_STATE,
	O_COUNT, O_PREFIX, O_START, O_VERSION, O_TAGS, O_ATTR, O_SEED, O_FAIL, O_ROLLBACK,
	O_SILENT, O_SILENT_AFTER, O_INSTALL, O_REBOOT, O_DOWNLOAD, O_POLL, O_JITTER, O_RAMP,
	O_BACKOFF, O_TIMEOUT, O_CONNECTIONS, O_DURATION, O_UNTIL, O_REPORT, O_PROGRESS,
};

static const struct lp_cli_opt run_opts[] = {
	{ O_URL, "url", 0, "URL", "DDI base URL https://host:port (default: --register's)" },
	{ O_TENANT, "tenant", 0, "T", "tenant (default: the --token's \"<tenant>.\" prefix)" },
	{ O_CACERT, "cacert", 0, "FILE", "CA certificate of the backend" },
	{ O_REGISTER, "register", 0, "URL", "create unknown devices via the management API at URL" },
	{ O_TOKEN, "token", 0, "TOKEN", "management API token for --register (operator role)" },
	{ O_GATEWAY, "gateway-token", 0, "T", "unknown devices use the tenant's gateway token" },
	{ O_STATE, "state", 0, "FILE", "JSON file keeping tokens and versions between runs" },
	{ O_COUNT, "count", 'n', "N", "number of devices (default 10)" },
	{ O_PREFIX, "prefix", 0, "P", "controller id prefix (default sim-: sim-00001, …)" },
	{ O_START, "start-index", 0, "I", "index of the first device (default 1)" },
	{ O_VERSION, "version", 0, "V", "installed version of new devices (default 1.0.0)" },
	{ O_TAGS, "tags", 0, "A,B", "tags of registered devices" },
	{ O_ATTR, "attr", 0, "K=V", "configData attribute besides version (repeatable)" },
	{ O_SEED, "seed", 0, "N", "seed of the fates and jitter (default 1)" },
	{ O_FAIL, "fail-share", 0, "F", "share of devices whose install fails (0-1)" },
	{ O_ROLLBACK, "rollback-share", 0, "F", "share of devices that roll back after the reboot" },
	{ O_SILENT, "silent-share", 0, "F", "share of devices that stop polling" },
	{ O_SILENT_AFTER, "silent-after", 0, "DUR", "when silent devices stop (default 60s)" },
	{ O_INSTALL, "install-time", 0, "DUR", "simulated install time (default 2s)" },
	{ O_REBOOT, "reboot-time", 0, "DUR", "simulated reboot time (default 2s)" },
	{ O_DOWNLOAD, "download", 0, "MODE", "full (GET and verify the artifact, default) or none" },
	{ O_POLL, "poll-override", 0, "DUR", "poll at this interval whatever the server says" },
	{ O_JITTER, "jitter", 0, "F", "poll jitter, share of the interval (0-0.5, default 0.1)" },
	{ O_RAMP, "ramp", 0, "DUR", "spread the first polls over this time (default 1s)" },
	{ O_BACKOFF, "backoff-max", 0, "DUR", "longest wait after errors (default 30s)" },
	{ O_TIMEOUT, "timeout", 0, "DUR", "per request (default 60s)" },
	{ O_CONNECTIONS, "connections", 'c', "N", "concurrent requests and connections (default 64)" },
	{ O_DURATION, "duration", 'd', "DUR", "stop after this time (default: at a signal)" },
	{ O_UNTIL, "until", 0, "FILE", "stop when FILE exists" },
	{ O_REPORT, "report", 0, "FILE", "write the JSON report to FILE" },
	{ O_PROGRESS, "progress", 0, NULL, "a progress line on stderr every 2 s" },
	{ 0 },
};

struct main_ctx {
	struct sim_opts o;
	char *tags_buf;
	char *attr_keys[SIM_ATTR_MAX];
};

static int parse_share(const struct lp_cli *cli, const char *opt, const char *text, double max,
		       double *ret)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v) || v < 0 || v > max)
		return lp_cli_usage_error(cli, "--%s: expected a number from 0 to %g, not '%s'", opt,
					  max, text);
	*ret = v;
	return 0;
}

static int parse_tags(const struct lp_cli *cli, struct main_ctx *c, const char *text)
{
	char *p;

	free(c->tags_buf);
	c->tags_buf = strdup(text);
	if (!c->tags_buf)
		return LP_EXIT_FAILURE;
	c->o.n_tags = 0;
	for (p = c->tags_buf; p;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (!*p || c->o.n_tags == SIM_TAG_MAX)
			return lp_cli_usage_error(cli, "--tags: empty tag or more than %d", SIM_TAG_MAX);
		c->o.tags[c->o.n_tags++] = p;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int parse_attr(const struct lp_cli *cli, struct main_ctx *c, const char *text)
{
	const char *eq = strchr(text, '=');
	size_t i = c->o.n_attrs;

	if (!eq || eq == text)
		return lp_cli_usage_error(cli, "--attr: expected KEY=VALUE, not '%s'", text);
	if (i == SIM_ATTR_MAX)
		return lp_cli_usage_error(cli, "--attr: at most %d", SIM_ATTR_MAX);
	c->attr_keys[i] = strndup(text, (size_t)(eq - text));
	if (!c->attr_keys[i])
		return LP_EXIT_FAILURE;
	if (strcmp(c->attr_keys[i], "version") == 0)
		return lp_cli_usage_error(cli, "--attr: version is the simulated installed version");
	c->o.attrs[i] = (struct sim_attr){ c->attr_keys[i], eq + 1 };
	c->o.n_attrs++;
	return 0;
}

static int parse_option(struct lp_cli *cli, struct main_ctx *c, int key, const char *arg)
{
	struct sim_opts *o = &c->o;
	uint64_t v;
	int r = 0;

	switch (key) {
	case O_URL: o->url = arg; break;
	case O_TENANT: o->tenant = arg; break;
	case O_CACERT: o->cacert = arg; break;
	case O_REGISTER: o->register_url = arg; break;
	case O_TOKEN: o->mgmt_token = arg; break;
	case O_GATEWAY: o->gateway_token = arg; break;
	case O_STATE: o->state_path = arg; break;
	case O_COUNT: r = lp_cli_parse_uint(cli, "count", arg, 1, SIM_DEVICES_MAX, &o->count); break;
	case O_PREFIX: o->prefix = arg; break;
	case O_START: r = lp_cli_parse_uint(cli, "start-index", arg, 0, 99999999, &o->start_index); break;
	case O_VERSION: o->version = arg; break;
	case O_TAGS: r = parse_tags(cli, c, arg); break;
	case O_ATTR: r = parse_attr(cli, c, arg); break;
	case O_SEED: r = lp_cli_parse_uint(cli, "seed", arg, 0, UINT64_MAX, &o->seed); break;
	case O_FAIL: r = parse_share(cli, "fail-share", arg, 1, &o->fail_share); break;
	case O_ROLLBACK: r = parse_share(cli, "rollback-share", arg, 1, &o->rollback_share); break;
	case O_SILENT: r = parse_share(cli, "silent-share", arg, 1, &o->silent_share); break;
	case O_JITTER: r = parse_share(cli, "jitter", arg, 0.5, &o->jitter); break;
	case O_SILENT_AFTER: r = lp_cli_parse_duration(cli, "silent-after", arg, &o->silent_after_ms); break;
	case O_INSTALL: r = lp_cli_parse_duration(cli, "install-time", arg, &o->install_ms); break;
	case O_REBOOT: r = lp_cli_parse_duration(cli, "reboot-time", arg, &o->reboot_ms); break;
	case O_RAMP: r = lp_cli_parse_duration(cli, "ramp", arg, &o->ramp_ms); break;
	case O_BACKOFF: r = lp_cli_parse_duration(cli, "backoff-max", arg, &o->backoff_max_ms); break;
	case O_TIMEOUT: r = lp_cli_parse_duration(cli, "timeout", arg, &o->timeout_ms); break;
	case O_DURATION: r = lp_cli_parse_duration(cli, "duration", arg, &o->duration_ms); break;
	case O_POLL:
		r = lp_cli_parse_duration(cli, "poll-override", arg, &v);
		o->poll_override_ms = (int64_t)v;
		break;
	case O_DOWNLOAD:
		if (strcmp(arg, "full") != 0 && strcmp(arg, "none") != 0)
			return lp_cli_usage_error(cli, "--download: expected full or none, not '%s'", arg);
		o->download_full = strcmp(arg, "full") == 0;
		break;
	case O_CONNECTIONS: {
		r = lp_cli_parse_uint(cli, "connections", arg, 1, 4096, &v);
		o->connections = (unsigned)v;
		break;
	}
	case O_UNTIL: o->until_path = arg; break;
	case O_REPORT: o->report_path = arg; break;
	case O_PROGRESS: o->progress = true; break;
	}
	return r;
}

/* Checks the options together and fills in the defaults that depend on others. */
static int check_options(struct lp_cli *cli, struct main_ctx *c, char *tenant_buf, size_t len)
{
	struct sim_opts *o = &c->o;

	if (o->fail_share + o->rollback_share + o->silent_share > 1.0 + 1e-9)
		return lp_cli_usage_error(cli, "the fail, rollback and silent shares add up to more than 1");
	if (o->register_url && !o->mgmt_token)
		return lp_cli_usage_error(cli, "--register needs --token");
	if (!o->url)
		o->url = o->register_url;
	if (!o->url)
		return lp_cli_usage_error(cli, "give --url (or --register)");
	if (strlen(o->url) > 512 || o->url[0] == '\0' || o->url[strlen(o->url) - 1] == '/')
		return lp_cli_usage_error(cli, "--url: expected https://host:port without a trailing '/'");
	if (!o->tenant && o->mgmt_token && strchr(o->mgmt_token, '.')) {
		size_t n = (size_t)(strchr(o->mgmt_token, '.') - o->mgmt_token);

		if (n < len) {
			memcpy(tenant_buf, o->mgmt_token, n);
			tenant_buf[n] = '\0';
			o->tenant = tenant_buf;
		}
	}
	if (!o->tenant)
		return lp_cli_usage_error(cli, "give --tenant (or a --token \"<tenant>.<secret>\")");
	if (strlen(o->prefix) + 12 > SIM_CID_MAX || strlen(o->version) >= SIM_VERSION_MAX)
		return lp_cli_usage_error(cli, "--prefix or --version too long");
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	sim_stop_signal = 1;
}

static int write_report(const struct sim_opts *o, const struct sim_fleet *f,
			const struct sim_stats *s)
{
	cJSON *rep = sim_report_json(o, f, s, lp_clock_mono_ms());
	char *text = rep ? cJSON_Print(rep) : NULL;
	int r = text ? 0 : -ENOMEM;

	if (r == 0 && o->report_path) {
		r = lp_fs_write_atomic(o->report_path, text, strlen(text), 0644, 0);
		if (r < 0)
			log_error("%s: %s", o->report_path, strerror(-r));
	}
	if (text && o->json)
		printf("%s\n", text);
	else
		sim_print_summary(f, s, lp_clock_mono_ms());
	free(text);
	cJSON_Delete(rep);
	return r;
}

static int run_fleet(struct sim_opts *o)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct sim_fleet f = { 0 };
	struct sim_stats *s = malloc(sizeof(*s));
	struct lp_diag diag;
	int r;

	if (!s)
		return LP_EXIT_FAILURE;
	sim_stats_init(s);
	lp_diag_clear(&diag);
	r = sim_fleet_load(o, &f, &diag);
	if (r == 0)
		r = sim_fleet_save(o, &f, &diag); /* keep new tokens even if the run is killed */
	if (r == 0) {
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		r = sim_engine_run(o, &f, s, &diag);
	}
	if (r == 0)
		r = sim_fleet_save(o, &f, &diag);
	if (r < 0) {
		log_error("%s", diag.msg[0] ? diag.msg : strerror(-r));
		r = LP_EXIT_FAILURE;
	} else {
		r = write_report(o, &f, s) < 0 ? LP_EXIT_FAILURE : 0;
	}
	sim_fleet_free(&f);
	free(s);
	return r;
}

static int cmd_run(struct lp_cli *cli, void *ctx)
{
	struct main_ctx *c = ctx;
	char tenant[128];
	const char *arg;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		if ((r = parse_option(cli, c, key, arg)) != 0)
			return r;
	r = check_options(cli, c, tenant, sizeof(tenant));
	if (r != 0)
		return r;
	c->o.json = cli->json;
	return run_fleet(&c->o);
}

static const struct lp_cli_cmd cmds[] = {
	{ "run", "", "simulate devices against a backend until stopped",
	  "N devices (--count) poll the DDI API of the backend at --url as the real agent does:\n"
	  "configData, deploymentBase, feedback, download, install, reboot, cancelAction. Each\n"
	  "device's fate (ok, fail, rollback, silent) follows from --seed and its controller id.\n"
	  "Stops after --duration, when the --until file exists, or at SIGTERM/SIGINT, then\n"
	  "writes the --state file and the report: a one-line summary on stdout, or the whole\n"
	  "JSON report with --json. See docs/devsim.md.",
	  run_opts, 0, 0, LP_CLI_JSON, cmd_run },
};

static const int exits[] = { 0 };

static const struct lp_cli_tool tool = {
	.name = PROG,
	.summary = "Simulated DDI devices (hawkBit DDI v1) against a Loopline backend.",
	.cmds = cmds,
	.n_cmds = LP_ARRAY_SIZE(cmds),
	.exits = exits,
	.footer = "\nTransport and HTTP errors during a run are counted in the report, not exit\n"
		  "codes. Documentation: docs/devsim.md.\n",
};

int main(int argc, char **argv)
{
	struct main_ctx c = {
		.o = {
			.prefix = "sim-", .count = 10, .start_index = 1, .version = "1.0.0",
			.seed = 1, .silent_after_ms = 60000, .install_ms = 2000, .reboot_ms = 2000,
			.download_full = true, .poll_override_ms = -1, .jitter = 0.1,
			.ramp_ms = 1000, .backoff_max_ms = 30000, .timeout_ms = 60000,
			.connections = 64,
		},
	};
	int r;

	lp_log_set_ident(PROG);
	r = lp_cli_main(&tool, argc, argv, &c);
	free(c.tags_buf);
	for (size_t i = 0; i < SIM_ATTR_MAX; i++)
		free(c.attr_keys[i]);
	return r;
}

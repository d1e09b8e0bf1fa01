/* SPDX-License-Identifier: MIT */
/* loopline-ctl: operator CLI for the backend's management API. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/common.h"
#include "loopline/log.h"
#include "ctl.h"

static const char usage_text[] =
	"Usage: loopline-ctl [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  devices [--tag T] [--q TEXT] [--version V] [--limit N] [--offset N]\n"
	"  device show ID\n"
	"  upload FILE [--opaque --version V --part P [--name N]] [--chunk-size BYTES]\n"
	"  deploy (--package ID | --action NAME) [--device ID]... [--tag T]...\n"
	"         [--type forced|soft|download-only]\n"
	"  cancel ACTION_ID\n"
	"  actions [--device ID] [--active] [--limit N] [--offset N]\n"
	"  events [--after ID] [--type TYPE] [--limit N] [--offset N]\n"
	"  firmware [--compatible HW] [--tag T] [--limit N] [--offset N]\n"
	"\n"
	"Options (before the command):\n"
	"  --url URL        backend base URL (env LOOPLINE_URL)\n"
	"  --token TOKEN    API token \"<tenant>.<secret>\" (env LOOPLINE_TOKEN)\n"
	"  --cacert FILE    CA certificate to trust (env LOOPLINE_CACERT)\n"
	"  --json           print the API's JSON instead of a table (every command)\n"
	"  --help, --version\n"
	"Exit codes: 0 ok, 1 the request failed, 2 usage error.\n";

int ctl_usage_error(const char *msg)
{
	fprintf(stderr, "loopline-ctl: %s\nTry 'loopline-ctl --help'.\n", msg);
	return LP_EXIT_USAGE;
}

int ctl_fail(const struct lp_diag *d)
{
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64];

	log_error("%s", lp_diag_format(d, buf, sizeof(buf)));
	return LP_EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static const struct {
		const char *name;
		int (*fn)(struct ctl *c, int argc, char **argv);
	} cmds[] = {
		{ "devices", ctl_devices }, { "device", ctl_device }, { "upload", ctl_upload },
		{ "deploy", ctl_deploy },   { "cancel", ctl_cancel }, { "actions", ctl_actions },
		{ "events", ctl_events },   { "firmware", ctl_firmware },
	};
	struct lp_http_client_opts o = {
		.base_url = getenv("LOOPLINE_URL"),
		.token = getenv("LOOPLINE_TOKEN"),
		.cacert = getenv("LOOPLINE_CACERT"),
	};
	struct ctl c = { 0 };
	int ch, r;

	lp_log_set_ident("loopline-ctl");
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': o.base_url = optarg; break;
		case 't': o.token = optarg; break;
		case 'C': o.cacert = optarg; break;
		case 'j': c.json = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("loopline-ctl %s\n", lp_version_string()); return 0;
		default: return ctl_usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("missing command");
	if (!o.base_url || !o.token)
		return ctl_usage_error("set --url and --token (or LOOPLINE_URL and LOOPLINE_TOKEN)");
	/* "--json" is also accepted after the command. */
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[optind], cmds[i].name) != 0)
			continue;
		if (lp_http_client_new(&o, &c.client) < 0) {
			log_error("cannot set up the HTTP client");
			return LP_EXIT_FAILURE;
		}
		r = cmds[i].fn(&c, argc - optind, argv + optind);
		lp_http_client_free(c.client);
		return r;
	}
	return ctl_usage_error("unknown command");
}

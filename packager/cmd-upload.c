/* SPDX-License-Identifier: MIT */
/* loopline-pack upload: sends a package to a backend through the resumable upload API
 * (the same client code as loopline-ctl upload). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "loopline/http-client.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "pack.h"

static const char help[] =
	"Usage: " PACK_PROG " upload [--url URL] [--token TOKEN] [--cacert FILE] [--json] FILE.lpkg\n"
	"\n"
	"Uploads a package to a backend's management API. The upload resumes: if an earlier\n"
	"upload of the same file was interrupted, only the missing byte ranges are sent. The\n"
	"backend verifies the package against the tenant's trusted keys before accepting it.\n"
	"\n"
	"  --url URL        backend base URL, e.g. https://backend:8443 (env LOOPLINE_URL)\n"
	"  --token TOKEN    API token with role ci, operator or admin (env LOOPLINE_TOKEN)\n"
	"  --cacert FILE    CA certificate that signed the backend's (env LOOPLINE_CACERT)\n"
	"  --json           print the created package as JSON\n"
	"  -v, --verbose    more messages\n"
	"  -h, --help       this help\n";

static void upload_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	if (total == 0)
		return;
	fprintf(stderr, "\rupload: %3llu%% (%llu of %llu KiB)",
		(unsigned long long)(done * 100 / total), (unsigned long long)(done / 1024),
		(unsigned long long)(total / 1024));
	if (done == total)
		fputc('\n', stderr);
}

static const char *field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "?";
}

int pack_cmd_upload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lp_http_client_opts co = {
		.base_url = getenv("LOOPLINE_URL"),
		.token = getenv("LOOPLINE_TOKEN"),
		.cacert = getenv("LOOPLINE_CACERT"),
	};
	struct lp_http_upload_opts uo = { 0 };
	struct lp_http_client *client = NULL;
	struct lp_diag diag;
	cJSON *pkg = NULL;
	uint64_t resumed = 0;
	bool json = false;
	int c, ret = PACK_EXIT_FAILURE;

	opterr = 0;
	argv[0] = (char *)PACK_PROG " upload";
	while ((c = getopt_long(argc, argv, ":u:t:C:jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'u': co.base_url = optarg; break;
		case 't': co.token = optarg; break;
		case 'C': co.cacert = optarg; break;
		case 'j': json = true; break;
		case 'v': pack_verbose(); break;
		case 'h': return pack_help(help);
		default: return pack_option_error("upload", c, argv);
		}
	}
	if (optind != argc - 1)
		return pack_usage_error("upload", "expected exactly one FILE.lpkg");
	if (!co.base_url || !co.base_url[0] || !co.token || !co.token[0])
		return pack_usage_error("upload", "set --url and --token (or LOOPLINE_URL and LOOPLINE_TOKEN)");
	if (access(argv[optind], R_OK) < 0) {
		log_error("%s: cannot read it", argv[optind]);
		return PACK_EXIT_USAGE;
	}
	if (isatty(STDERR_FILENO) && !json)
		uo.progress = upload_progress;

	lp_diag_clear(&diag);
	if (lp_http_client_new(&co, &client) < 0) {
		log_error("cannot set up the HTTP client");
		goto out;
	}
	if (lp_http_upload(client, argv[optind], &uo, &pkg, &resumed, &diag) < 0) {
		char msg[1024];

		log_error("%s: %s", argv[optind], lp_diag_format(&diag, msg, sizeof(msg)));
		goto out;
	}
	if (json) {
		char *text = lp_json_print(pkg);

		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		if (resumed)
			printf("resumed: the backend already had %llu bytes\n",
			       (unsigned long long)resumed);
		printf("uploaded %s %s (sha256 %s)\n", field(pkg, "name"), field(pkg, "version"),
		       field(pkg, "sha256"));
	}
	ret = PACK_EXIT_OK;
out:
	cJSON_Delete(pkg);
	lp_http_client_free(client);
	return ret;
}

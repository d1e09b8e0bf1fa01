/* SPDX-License-Identifier: MIT */
/* loopline-pack upload: sends a package to a backend through the resumable upload API
 * (the same client code as loopline-ctl upload). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "loopline/http-client.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "pack.h"

const struct lp_cli_opt pack_upload_opts[] = {
	{ 'u', "url", 'u', "URL", "backend base URL, e.g. https://backend:8443 (env LOOPLINE_URL)" },
	{ 't', "token", 't', "TOKEN", "API token with role ci, operator or admin (env LOOPLINE_TOKEN)" },
	{ 'C', "cacert", 'C', "FILE", "CA certificate that signed the backend's (env LOOPLINE_CACERT)" },
	{ 0 },
};

const char pack_upload_about[] =
	"Uploads a package to a backend's management API. The upload resumes: if an earlier\n"
	"upload of the same file was interrupted, only the missing byte ranges are sent. The\n"
	"backend verifies the package against the tenant's trusted keys before accepting it.\n"
	"--json prints the created package.";

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

int pack_cmd_upload(struct lp_cli *cli, void *ctx)
{
	struct lp_http_client_opts co = {
		.base_url = getenv("LOOPLINE_URL"),
		.token = getenv("LOOPLINE_TOKEN"),
		.cacert = getenv("LOOPLINE_CACERT"),
	};
	const char *path = cli->args[0], *arg;
	struct lp_http_upload_opts uo = { 0 };
	struct lp_http_client *client = NULL;
	struct lp_diag diag;
	cJSON *pkg = NULL;
	uint64_t resumed = 0;
	int opt, ret = LP_EXIT_FAILURE;

	while ((opt = lp_cli_next(cli, &arg)) > 0) {
		switch (opt) {
		case 'u': co.base_url = arg; break;
		case 't': co.token = arg; break;
		case 'C': co.cacert = arg; break;
		}
	}
	if (!co.base_url || !co.base_url[0] || !co.token || !co.token[0])
		return lp_cli_usage_error(cli, "set --url and --token (or LOOPLINE_URL and LOOPLINE_TOKEN)");
	if (access(path, R_OK) < 0) {
		log_error("%s: cannot read it", path);
		return LP_EXIT_USAGE;
	}
	if (isatty(STDERR_FILENO) && !cli->json)
		uo.progress = upload_progress;

	lp_diag_clear(&diag);
	if (lp_http_client_new(&co, &client) < 0) {
		log_error("cannot set up the HTTP client");
		goto out;
	}
	if (lp_http_upload(client, path, &uo, &pkg, &resumed, &diag) < 0) {
		char msg[1024];

		log_error("%s: %s", path, lp_diag_format(&diag, msg, sizeof(msg)));
		goto out;
	}
	if (cli->json) {
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
	ret = LP_EXIT_OK;
out:
	cJSON_Delete(pkg);
	lp_http_client_free(client);
	return ret;
}

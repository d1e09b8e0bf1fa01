/* SPDX-License-Identifier: MIT */
/* loopline-backend: serve, check-config, and the offline administration commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "loopline/common.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "backend.h"

#define PROG "loopline-backend"
#define DEFAULT_CONFIG "/etc/loopline/backend.json"
#define MAX_TENANTS_LISTED 4096

enum {
	OPT_CONFIG = 'c',
	OPT_TENANT = 't',
	OPT_ROLE = 'r',
	OPT_LABEL = 'l',
	OPT_ROTATE = 'R',
	OPT_TOKEN_FILE = 'K',
	OPT_LOG_LEVEL = LP_CLI_KEY_LONG,
};

struct be_main {
	const char *config_path;
	const char *log_level;          /* --log-level, NULL: the configuration's */
	enum lp_log_level initial_level; /* before -v/-q */
	struct be_config cfg;
};

/* Every command also takes these after its name ("COMMAND --config FILE"). */
#define CONFIG_OPTS \
	{ OPT_CONFIG, "config", 'c', "FILE", "configuration file (default " DEFAULT_CONFIG ")" }, \
	{ OPT_LOG_LEVEL, "log-level", 0, "LEVEL", "debug, info, warn, error or quiet" }

static const struct lp_cli_opt config_opts[] = { CONFIG_OPTS, { 0 } };
static const struct lp_cli_opt token_opts[] = {
	CONFIG_OPTS,
	{ OPT_TENANT, "tenant", 't', "T", "the tenant (required)" },
	{ OPT_ROLE, "role", 'r', "ROLE", "admin, operator, ci or viewer (required)" },
	{ OPT_LABEL, "label", 'l', "L", "a note shown with the token" },
	{ 0 },
};
static const struct lp_cli_opt device_opts[] = {
	CONFIG_OPTS,
	{ OPT_TENANT, "tenant", 't', "T", "the tenant (required)" },
	{ OPT_ROTATE, "rotate", 0, NULL, "give existing devices a new token instead of failing" },
	{ OPT_TOKEN_FILE, "token-file", 0, "FILE",
	  "one device: its token is FILE's first line (32 of A-Z a-z 0-9), not a new one" },
	{ 0 },
};

static int load_config(struct be_main *m, struct lp_diag *d)
{
	enum lp_log_level level;
	int r;

	lp_diag_clear(d);
	r = be_config_load(m->config_path, &m->cfg, d);
	if (r < 0)
		return r;
	/* --log-level wins, then -v/-q, then the configuration */
	if (m->log_level && lp_log_level_parse(m->log_level, &level) == 0)
		lp_log_set_level(level);
	else if (lp_log_get_level() == m->initial_level &&
		 lp_log_level_parse(m->cfg.log_level, &level) == 0)
		lp_log_set_level(level);
	return 0;
}

/* Reads a command's options: --config and --log-level here, its own keys in fn, which
 * checks their values (usage errors come before the configuration is read). Returns 0 or
 * an exit code. */
static int options(struct lp_cli *cli, struct be_main *m,
		   int (*fn)(struct lp_cli *cli, void *arg, int key, const char *val), void *arg)
{
	enum lp_log_level level;
	const char *val;
	int key, r;

	while ((key = lp_cli_next(cli, &val)) > 0) {
		if (key == OPT_CONFIG)
			m->config_path = val;
		else if (key == OPT_LOG_LEVEL)
			m->log_level = val;
		else if (fn && (r = fn(cli, arg, key, val)) != 0)
			return r;
	}
	if (m->log_level && lp_log_level_parse(m->log_level, &level) < 0)
		return lp_cli_usage_error(cli, "--log-level: expected debug, info, warn, error or quiet");
	return 0;
}

/* Loads the configuration; a bad one is reported (file: path: message) as exit 2. */
static int configure(struct lp_cli *cli, struct be_main *m)
{
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 32];
	struct lp_diag d;

	if (load_config(m, &d) < 0) {
		log_error("%s", lp_diag_format(&d, buf, sizeof(buf)));
		return LP_EXIT_USAGE;
	}
	return 0;
}

/* The start of a command without options of its own. */
static int start(struct lp_cli *cli, struct be_main *m)
{
	int r = options(cli, m, NULL, NULL);

	return r ? r : configure(cli, m);
}

/* Logs "what: message" once and returns the exit code of err. */
static int fail(int err, const char *what, const char *message)
{
	log_error("%s: %s", what, message ? message : strerror(-err));
	return lp_exit_from_errno(err);
}

static int cmd_serve(struct lp_cli *cli, void *ctx)
{
	struct be_main *m = ctx;
	int r = start(cli, m);

	if (r)
		return r;
	lp_log_set_timestamps(1);
	r = be_server_run(&m->cfg);
	return r < 0 ? lp_exit_from_errno(r) : 0;
}

static void print_check(const struct be_main *m, const char *error)
{
	const struct be_config *c = &m->cfg;
	cJSON *o = cJSON_CreateObject();
	char addr[96], *text;

	cJSON_AddStringToObject(o, "file", m->config_path);
	cJSON_AddBoolToObject(o, "valid", !error);
	if (error) {
		cJSON_AddStringToObject(o, "error", error);
	} else {
		cJSON_AddStringToObject(o, "data_dir", c->data_dir);
		snprintf(addr, sizeof(addr), "%s:%u", c->listen.address, c->listen.port);
		if (c->listen.enabled)
			cJSON_AddStringToObject(o, "https", addr);
		snprintf(addr, sizeof(addr), "%s:%u", c->plain_http.address, c->plain_http.port);
		if (c->plain_http.enabled)
			cJSON_AddStringToObject(o, "http", addr);
		cJSON_AddNumberToObject(o, "workers", c->workers);
	}
	text = cJSON_Print(o);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
}

static int cmd_check_config(struct lp_cli *cli, void *ctx)
{
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 32];
	struct be_main *m = ctx;
	struct lp_diag d;
	int r = options(cli, m, NULL, NULL);

	if (r)
		return r;
	r = load_config(m, &d);
	lp_diag_format(&d, buf, sizeof(buf));
	if (cli->json)
		print_check(m, r < 0 ? buf : NULL);
	else if (r < 0)
		log_error("%s", buf);
	else
		printf("%s: OK\n", m->config_path);
	return r < 0 ? LP_EXIT_USAGE : 0;
}

static int cmd_tenant_create(struct lp_cli *cli, void *ctx)
{
	struct be_main *m = ctx;
	const char *name = cli->args[0];
	int r;

	if (!be_name_valid(name))
		return lp_cli_usage_error(cli, "tenant names are 1-64 characters of A-Z a-z 0-9 _ -");
	if ((r = start(cli, m)) != 0)
		return r;
	r = be_tenant_create(m->cfg.data_dir, name);
	if (r < 0)
		return fail(r, name, r == -EEXIST ? "the tenant exists already" : NULL);
	printf("created tenant %s\n", name);
	return 0;
}

static int cmd_tenant_list(struct lp_cli *cli, void *ctx)
{
	static char names[MAX_TENANTS_LISTED][BE_NAME_MAX];
	struct be_main *m = ctx;
	size_t n = 0;
	int r;

	if ((r = start(cli, m)) != 0)
		return r;
	r = be_tenant_list(m->cfg.data_dir, names, LP_ARRAY_SIZE(names), &n);
	if (r < 0)
		return fail(r, m->cfg.data_dir, NULL);
	if (cli->json) {
		cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "tenants");
		char *text;

		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
		text = cJSON_Print(o);
		cJSON_Delete(o);
		if (!text)
			return fail(-ENOMEM, "tenant list", NULL);
		printf("%s\n", text);
		free(text);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", names[i]);
	return 0;
}

static int cmd_tenant_add_key(struct lp_cli *cli, void *ctx)
{
	char keyid[17], buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 32];
	struct be_main *m = ctx;
	struct lp_diag d;
	int r;

	if ((r = start(cli, m)) != 0)
		return r;
	lp_diag_clear(&d);
	r = be_tenant_add_key(m->cfg.data_dir, cli->args[0], cli->args[1], keyid, &d);
	if (r < 0)
		return fail(r, cli->args[0], d.msg[0] ? lp_diag_format(&d, buf, sizeof(buf)) :
				r == -ENOENT ? "no such tenant" : NULL);
	printf("trusted key %s for tenant %s\n", keyid, cli->args[0]);
	return 0;
}

static int cmd_tenant_gateway_token(struct lp_cli *cli, void *ctx)
{
	struct be_main *m = ctx;
	char token[BE_TOKEN_LEN + 1];
	int r;

	if ((r = start(cli, m)) != 0)
		return r;
	r = be_tenant_gateway_token(m->cfg.data_dir, cli->args[0], token);
	if (r < 0)
		return fail(r, cli->args[0], r == -ENOENT ? "no such tenant" : NULL);
	printf("%s\n", token);
	return 0;
}

/* tenant approval NAME auto|operator: how a release whose gate passed gets approved */
static int cmd_tenant_approval(struct lp_cli *cli, void *ctx)
{
	struct be_main *m = ctx;
	const char *mode = cli->args[1];
	struct be_store *s = NULL;
	int r;

	if (strcmp(mode, "auto") != 0 && strcmp(mode, "operator") != 0)
		return lp_cli_usage_error(cli, "approval: expected auto or operator, not \"%s\"", mode);
	if ((r = start(cli, m)) != 0)
		return r;
	if ((r = be_store_open(m->cfg.data_dir, cli->args[0], false, &s)) < 0)
		return fail(r, cli->args[0], r == -ENOENT ? "no such tenant" : NULL);
	r = be_store_approval_set(s, strcmp(mode, "operator") == 0);
	be_store_close(s);
	if (r < 0)
		return fail(r, cli->args[0], NULL);
	printf("%s: release approval %s\n", cli->args[0], mode);
	return 0;
}

struct token_args {
	const char *tenant, *label;
	enum be_role role;
	bool has_role;
};

static int token_opt(struct lp_cli *cli, void *arg, int key, const char *val)
{
	struct token_args *a = arg;

	if (key == OPT_TENANT)
		a->tenant = val;
	else if (key == OPT_LABEL)
		a->label = val;
	else if (key == OPT_ROLE && be_role_parse(val, &a->role) < 0)
		return lp_cli_usage_error(cli, "--role: expected admin, operator, ci or viewer");
	else if (key == OPT_ROLE)
		a->has_role = true;
	return 0;
}

static int cmd_token_create(struct lp_cli *cli, void *ctx)
{
	struct token_args a = { .label = "" };
	struct be_main *m = ctx;
	char token[BE_NAME_MAX + BE_TOKEN_LEN + 2];
	int r = options(cli, m, token_opt, &a);

	if (r)
		return r;
	if (!a.tenant || !a.has_role)
		return lp_cli_usage_error(cli, "needs --tenant T and --role admin|operator|ci|viewer");
	if ((r = configure(cli, m)) != 0)
		return r;
	r = be_token_create(m->cfg.data_dir, a.tenant, a.role, a.label, token, sizeof(token));
	if (r < 0)
		return fail(r, a.tenant, r == -ENOENT ? "no such tenant" : NULL);
	printf("%s\n", token);
	return 0;
}

struct device_args {
	const char *tenant;
	bool rotate;
	const char *token_file;
};

static int device_opt(struct lp_cli *cli, void *arg, int key, const char *val)
{
	struct device_args *a = arg;

	if (key == OPT_TENANT)
		a->tenant = val;
	else if (key == OPT_ROTATE)
		a->rotate = true;
	else if (key == OPT_TOKEN_FILE)
		a->token_file = val;
	return 0;
}

/* The token of --token-file: the file's first line. */
static int read_token_file(const char *path, char token[BE_TOKEN_LEN + 1])
{
	char *text = NULL;
	size_t len;
	int r = lp_fs_read_file(path, 4096, &text, &len);

	if (r < 0) {
		log_error("%s: %s", path, strerror(-r));
		return r;
	}
	len = strcspn(text, "\r\n");
	if (len != BE_TOKEN_LEN) {
		log_error("%s: a device token is %d characters of A-Z a-z 0-9 on the first line"
			  " (found %zu)", path, BE_TOKEN_LEN, len);
		free(text);
		return -EBADMSG;
	}
	memcpy(token, text, BE_TOKEN_LEN);
	token[BE_TOKEN_LEN] = '\0';
	free(text);
	return 0;
}

/* One transaction for the whole list: registering 100 000 devices takes seconds. */
static int create_devices(struct lp_cli *cli, struct be_store *s, bool rotate,
			  const char *given)
{
	int r = be_store_begin(s);

	for (int i = 0; i < cli->n_args && r == 0; i++) {
		char token[BE_TOKEN_LEN + 1];

		if (given) {
			r = be_device_create_with_token(s, cli->args[i], rotate, given);
			snprintf(token, sizeof(token), "%s", given);
		} else {
			r = be_device_create(s, cli->args[i], rotate, NULL, 0, token);
		}
		if (r == -EBADMSG) {
			log_error("%s: the token must be %d characters of A-Z a-z 0-9",
				  cli->args[i], BE_TOKEN_LEN);
			return r;
		}
		if (r < 0) {
			log_error("%s: %s", cli->args[i], r == -EEXIST ?
				  "exists already (use --rotate for a new token)" : strerror(-r));
			return r;
		}
		printf("%s %s\n", cli->args[i], token);
	}
	return r < 0 ? r : be_store_commit(s);
}

static int cmd_device_create(struct lp_cli *cli, void *ctx)
{
	char given[BE_TOKEN_LEN + 1];
	struct device_args a = { 0 };
	struct be_main *m = ctx;
	struct be_store *s = NULL;
	int r = options(cli, m, device_opt, &a);

	if (r)
		return r;
	if (!a.tenant)
		return lp_cli_usage_error(cli, "needs --tenant T");
	for (int i = 0; i < cli->n_args; i++)
		if (!be_controller_id_valid(cli->args[i]))
			return lp_cli_usage_error(cli, "'%s': device ids are 1-128 characters of"
						  " A-Z a-z 0-9 . _ : -", cli->args[i]);
	if (a.token_file && cli->n_args != 1)
		return lp_cli_usage_error(cli, "--token-file registers exactly one device");
	if ((r = configure(cli, m)) != 0)
		return r;
	if (a.token_file && (r = read_token_file(a.token_file, given)) < 0)
		return lp_exit_from_errno(r);
	r = be_store_open(m->cfg.data_dir, a.tenant, false, &s);
	if (r < 0)
		return fail(r, a.tenant, r == -ENOENT ? "no such tenant" : NULL);
	r = create_devices(cli, s, a.rotate, a.token_file ? given : NULL);
	if (r < 0)
		be_store_rollback(s);
	be_store_close(s);
	return lp_exit_from_errno(r); /* the failing device was named */
}

static const struct lp_cli_cmd cmds[] = {
	{ "serve", "", "run the server until SIGTERM or SIGINT",
	  "Serves the DDI device API and the management API on the configured listeners;\n"
	  "SIGTERM or SIGINT stop it gracefully (in-flight answers finish, last-seen times\n"
	  "are written).", config_opts, 0, 0, 0, cmd_serve },
	{ "check-config", "", "validate the configuration and exit",
	  NULL, config_opts, 0, 0, LP_CLI_JSON, cmd_check_config },
	{ "tenant create", "NAME", "create a tenant (database and package store)",
	  NULL, config_opts, 1, 1, 0, cmd_tenant_create },
	{ "tenant list", "", "list the tenants",
	  NULL, config_opts, 0, 0, LP_CLI_JSON, cmd_tenant_list },
	{ "tenant add-key", "NAME PUBKEY.pem", "trust a package signing public key for NAME",
	  NULL, config_opts, 2, 2, 0, cmd_tenant_add_key },
	{ "tenant gateway-token", "NAME", "create or rotate the tenant's DDI gateway token",
	  NULL, config_opts, 1, 1, 0, cmd_tenant_gateway_token },
	{ "tenant approval", "NAME auto|operator", "how releases whose gate passed are approved",
	  "operator (the default): an operator approves each release (loopline-ctl release\n"
	  "approve); auto: a passed gate approves it (unattended continuous deployment).",
	  config_opts, 2, 2, 0, cmd_tenant_approval },
	{ "token create", "", "create a management API token (printed once)",
	  NULL, token_opts, 0, 0, 0, cmd_token_create },
	{ "device create", "ID...", "pre-register devices; prints \"ID TOKEN\" per line",
	  "All devices are registered in one transaction: if one fails, none is.",
	  device_opts, 1, -1, 0, cmd_device_create },
};

static const int exits[] = { LP_EXIT_CORRUPT, LP_EXIT_EXISTS, LP_EXIT_BUSY, LP_EXIT_NOT_FOUND, 0 };

static int global(void *ctx, int key, const char *arg)
{
	struct be_main *m = ctx;

	if (key == OPT_CONFIG)
		m->config_path = arg;
	else if (key == OPT_LOG_LEVEL)
		m->log_level = arg;
	return 0;
}

static const struct lp_cli_tool tool = {
	.name = PROG,
	.summary = "The Loopline update server (hawkBit DDI device API, management API) and its"
		   " offline administration.",
	.cmds = cmds,
	.n_cmds = LP_ARRAY_SIZE(cmds),
	.global_opts = config_opts,
	.global = global,
	.exits = exits,
	.footer = "\nSee docs/backend.md (configuration, first start) and docs/api.md.\n",
};

int main(int argc, char **argv)
{
	struct be_main *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return LP_EXIT_FAILURE;
	m->config_path = DEFAULT_CONFIG;
	m->initial_level = lp_log_get_level();
	r = lp_cli_main(&tool, argc, argv, m);
	free(m);
	return r;
}

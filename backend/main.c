/* SPDX-License-Identifier: MIT */
/* loopline-backend: serve, check-config, and the offline administration commands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/common.h"
#include "loopline/log.h"
#include "backend.h"

static const char usage_text[] =
	"Usage: loopline-backend COMMAND [OPTIONS]\n"
	"\n"
	"Commands (all take --config FILE, default /etc/loopline/backend.json):\n"
	"  serve                          run the HTTPS server until SIGTERM\n"
	"  check-config                   validate the configuration and exit\n"
	"  tenant create NAME             create a tenant (database and package store)\n"
	"  tenant list                    list tenants\n"
	"  tenant add-key NAME PEM        trust a package signing public key for NAME\n"
	"  tenant gateway-token NAME      create or rotate the tenant's DDI gateway token\n"
	"  token create --tenant T --role admin|operator|ci|viewer [--label L]\n"
	"                                 create a management API token (printed once)\n"
	"  device create --tenant T [--rotate] ID...\n"
	"                                 pre-register devices; prints \"ID TOKEN\" per line\n"
	"\n"
	"Options: --config FILE, --log-level LEVEL, --help, --version\n";

static int usage_error(const char *msg)
{
	fprintf(stderr, "loopline-backend: %s\nTry 'loopline-backend --help'.\n", msg);
	return LP_EXIT_USAGE;
}

static int load_config(const char *path, struct be_config *cfg)
{
	struct lp_diag d;
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 32];

	lp_diag_clear(&d);
	if (be_config_load(path, cfg, &d) < 0) {
		log_error("%s", lp_diag_format(&d, buf, sizeof(buf)));
		return -EINVAL;
	}
	return 0;
}

static int cmd_tenant(const struct be_config *cfg, int argc, char **argv)
{
	int r;

	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		static char names[4096][BE_NAME_MAX];
		size_t n = 0;

		r = be_tenant_list(cfg->data_dir, names, LP_ARRAY_SIZE(names), &n);
		if (r < 0) {
			log_error("%s: %s", cfg->data_dir, strerror(-r));
			return LP_EXIT_FAILURE;
		}
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "create") == 0) {
		if (!be_name_valid(argv[1]))
			return usage_error("tenant names are 1-64 characters of A-Z a-z 0-9 _ -");
		r = be_tenant_create(cfg->data_dir, argv[1]);
		if (r < 0) {
			log_error("tenant %s: %s", argv[1], r == -EEXIST ? "exists already" : strerror(-r));
			return LP_EXIT_FAILURE;
		}
		printf("created tenant %s\n", argv[1]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "add-key") == 0) {
		struct lp_diag d;
		char keyid[17], buf[1024];

		lp_diag_clear(&d);
		r = be_tenant_add_key(cfg->data_dir, argv[1], argv[2], keyid, &d);
		if (r < 0) {
			log_error("%s", d.msg[0] ? lp_diag_format(&d, buf, sizeof(buf)) : strerror(-r));
			return LP_EXIT_FAILURE;
		}
		printf("trusted key %s for tenant %s\n", keyid, argv[1]);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "gateway-token") == 0) {
		char token[BE_TOKEN_LEN + 1];

		r = be_tenant_gateway_token(cfg->data_dir, argv[1], token);
		if (r < 0) {
			log_error("tenant %s: %s", argv[1], strerror(-r));
			return LP_EXIT_FAILURE;
		}
		printf("%s\n", token);
		return 0;
	}
	return usage_error("tenant: expected create NAME, list, add-key NAME PEM or gateway-token NAME");
}

static int cmd_token(const struct be_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "role", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ 0 },
	};
	const char *tenant = NULL, *role_s = NULL, *label = "";
	char token[BE_NAME_MAX + BE_TOKEN_LEN + 2];
	enum be_role role;
	int c, r;

	if (argc < 1 || strcmp(argv[0], "create") != 0)
		return usage_error("token: expected create --tenant T --role ROLE");
	optind = 0; /* argv[0] is "create", skipped by getopt like a program name */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			tenant = optarg;
		else if (c == 'r')
			role_s = optarg;
		else if (c == 'l')
			label = optarg;
		else
			return usage_error("token create: unknown option");
	}
	if (!tenant || !role_s || be_role_parse(role_s, &role) < 0 || optind != argc)
		return usage_error("token create needs --tenant T and --role admin|operator|ci|viewer");
	r = be_token_create(cfg->data_dir, tenant, role, label, token, sizeof(token));
	if (r < 0) {
		log_error("tenant %s: %s", tenant, r == -ENOENT ? "no such tenant" : strerror(-r));
		return LP_EXIT_FAILURE;
	}
	printf("%s\n", token);
	return 0;
}

static int cmd_device(const struct be_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "rotate", no_argument, NULL, 'R' },
		{ 0 },
	};
	const char *tenant = NULL;
	struct be_store *s = NULL;
	bool rotate = false;
	int c, r, rc = 0;

	if (argc < 1 || strcmp(argv[0], "create") != 0)
		return usage_error("device: expected create --tenant T ID...");
	optind = 0; /* argv[0] is "create", skipped by getopt like a program name */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			tenant = optarg;
		else if (c == 'R')
			rotate = true;
		else
			return usage_error("device create: unknown option");
	}
	if (!tenant || optind >= argc)
		return usage_error("device create needs --tenant T and at least one device id");
	for (int i = optind; i < argc; i++)
		if (!be_controller_id_valid(argv[i]))
			return usage_error("device ids are 1-128 characters of A-Z a-z 0-9 . _ : -");
	r = be_store_open(cfg->data_dir, tenant, false, &s);
	if (r < 0) {
		log_error("tenant %s: %s", tenant, strerror(-r));
		return LP_EXIT_FAILURE;
	}
	/* One transaction for the whole list: registering 100 000 devices takes seconds. */
	if (be_store_begin(s) < 0) {
		be_store_close(s);
		return LP_EXIT_FAILURE;
	}
	for (int i = optind; i < argc; i++) {
		char token[BE_TOKEN_LEN + 1];

		r = be_device_create(s, argv[i], rotate, NULL, 0, token);
		if (r < 0) {
			log_error("device %s: %s", argv[i],
				  r == -EEXIST ? "exists already (use --rotate for a new token)" : strerror(-r));
			rc = LP_EXIT_FAILURE;
			break;
		}
		printf("%s %s\n", argv[i], token);
	}
	if (rc == 0 && be_store_commit(s) < 0)
		rc = LP_EXIT_FAILURE;
	if (rc != 0)
		be_store_rollback(s);
	be_store_close(s);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *config = "/etc/loopline/backend.json", *level = NULL;
	struct be_config *cfg;
	enum lp_log_level lvl;
	int c, r;

	lp_log_set_ident("loopline-backend");
	/* Global options come before the command; the command parses its own. */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'L': level = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("loopline-backend %s\n", lp_version_string()); return 0;
		default: return usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("missing command");
	/* Also accept "COMMAND --config FILE" (the common spelling in scripts). */
	for (int i = optind + 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			config = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(*argv));
			argc -= 2;
			break;
		}
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return LP_EXIT_FAILURE;
	if (load_config(config, cfg) < 0) {
		free(cfg);
		return LP_EXIT_USAGE;
	}
	if (lp_log_level_parse(level ? level : cfg->log_level, &lvl) < 0) {
		free(cfg);
		return usage_error("bad --log-level");
	}
	lp_log_set_level(lvl);
	argv += optind;
	argc -= optind;
	if (strcmp(argv[0], "check-config") == 0) {
		printf("%s: OK\n", config);
		r = 0;
	} else if (strcmp(argv[0], "serve") == 0) {
		lp_log_set_timestamps(1);
		r = be_server_run(cfg) < 0 ? LP_EXIT_FAILURE : 0;
	} else if (strcmp(argv[0], "tenant") == 0) {
		r = cmd_tenant(cfg, argc - 1, argv + 1);
	} else if (strcmp(argv[0], "token") == 0) {
		r = cmd_token(cfg, argc - 1, argv + 1);
	} else if (strcmp(argv[0], "device") == 0) {
		r = cmd_device(cfg, argc - 1, argv + 1);
	} else {
		r = usage_error("unknown command");
	}
	free(cfg);
	return r;
}

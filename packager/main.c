/* SPDX-License-Identifier: MIT */
/* loopline-pack: builds, signs, inspects and verifies .lpkg firmware packages. */
#include <stdio.h>
#include <string.h>

#include "loopline/log.h"
#include "pack.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "keygen",    pack_cmd_keygen,    "generate an Ed25519 signing key pair" },
	{ "build",     pack_cmd_build,     "build and sign a package from a description" },
	{ "inspect",   pack_cmd_inspect,   "show a package's manifest and signatures (unverified)" },
	{ "verify",    pack_cmd_verify,    "verify a package against trusted keys and a policy" },
	{ "sign",      pack_cmd_sign,      "add or remove a signature" },
	{ "list-keys", pack_cmd_list_keys, "show key ids of key files and packages" },
	{ "upload",    pack_cmd_upload,    "upload a package to a backend (resumable)" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-v] <command> [options]\n\nCommands:\n", PACK_PROG);
	for (size_t i = 0; i < LP_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  -v, --verbose  more messages (debug level)\n"
		   "  -h, --help     this help; '%s <command> --help' for a command\n"
		   "      --version  print the version\n"
		   "\nExit codes: 0 ok, 1 failure, 2 usage, 10 signature, 11 corrupt,\n"
		   "12 incompatible, 13 security version, 14 version exists, 15 agent too old,\n"
		   "16 output exists (see docs/packager.md).\n", PACK_PROG);
}

int main(int argc, char **argv)
{
	int i = 1;

	lp_log_set_ident(PACK_PROG);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return PACK_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", PACK_PROG, lp_version_string());
			return PACK_EXIT_OK;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			pack_verbose();
		} else {
			return pack_usage_error(NULL, "unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc)
		return pack_usage_error(NULL, "missing command");
	for (size_t c = 0; c < LP_ARRAY_SIZE(commands); c++) {
		if (strcmp(argv[i], commands[c].name) == 0) {
			pack_signals_init();
			return commands[c].run(argc - i, argv + i);
		}
	}
	return pack_usage_error(NULL, "unknown command '%s'", argv[i]);
}

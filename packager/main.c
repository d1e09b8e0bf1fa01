/* SPDX-License-Identifier: MIT */
/* loopline-pack: builds, signs, inspects and verifies .lpkg firmware packages. */
#include "pack.h"

static const struct lp_cli_cmd commands[] = {
	{ "keygen", "", "generate an Ed25519 signing key pair", pack_keygen_about,
	  pack_keygen_opts, 0, 0, 0, pack_cmd_keygen },
	{ "build", "DESCRIPTION.json", "build and sign a package from a description",
	  pack_build_about, pack_build_opts, 1, 1, 0, pack_cmd_build },
	{ "delta", "", "build a signed delta package between two releases", pack_delta_about,
	  pack_delta_opts, 0, 0, 0, pack_cmd_delta },
	{ "inspect", "FILE.lpkg", "show a package's manifest and signatures (unverified)",
	  pack_inspect_about, pack_inspect_opts, 1, 1, LP_CLI_JSON, pack_cmd_inspect },
	{ "verify", "FILE.lpkg", "verify a package against trusted keys and a policy",
	  pack_verify_about, pack_verify_opts, 1, 1, LP_CLI_JSON, pack_cmd_verify },
	{ "sign", "FILE.lpkg", "add or remove a signature", pack_sign_about, pack_sign_opts, 1, 1,
	  0, pack_cmd_sign },
	{ "list-keys", "PATH...", "show key ids of key files and packages", pack_list_keys_about,
	  pack_list_keys_opts, 1, -1, LP_CLI_JSON, pack_cmd_list_keys },
	{ "upload", "FILE.lpkg", "upload a package to a backend (resumable)", pack_upload_about,
	  pack_upload_opts, 1, 1, LP_CLI_JSON, pack_cmd_upload },
};

static const int exits[] = {
	LP_EXIT_SIGNATURE, LP_EXIT_CORRUPT, LP_EXIT_INCOMPATIBLE, LP_EXIT_DOWNGRADE,
	LP_EXIT_EXISTS, LP_EXIT_AGENT_TOO_OLD, LP_EXIT_UNSUPPORTED, LP_EXIT_NOT_FOUND, 0,
};

static const struct lp_cli_tool tool = {
	.name = PACK_PROG,
	.summary = "Builds, signs, inspects and verifies .lpkg firmware packages.",
	.cmds = commands,
	.n_cmds = LP_ARRAY_SIZE(commands),
	.exits = exits,
	.footer = "\nDocumentation: docs/packager.md (commands, description format, exit codes).\n",
};

int main(int argc, char **argv)
{
	pack_signals_init();
	return lp_cli_main(&tool, argc, argv, NULL);
}

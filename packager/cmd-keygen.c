/* SPDX-License-Identifier: MIT */
/* loopline-pack keygen: a new Ed25519 key pair as PEM files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopline/log.h"
#include "loopline/sign.h"
#include "pack.h"

static const char help[] =
	"Usage: " PACK_PROG " keygen --out KEY.pem [--force]\n"
	"\n"
	"Generates an Ed25519 signing key. The private key is written to KEY.pem (mode 0600),\n"
	"the public key to KEY.pub.pem; the key id is printed.\n"
	"\n"
	"  -o, --out FILE   private key file (required)\n"
	"  -f, --force      overwrite existing files\n"
	"  -v, --verbose    more messages\n"
	"  -h, --help       this help\n";

int pack_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL;
	bool force = false;
	char pub[4096], keyid[LP_KEYID_LEN + 1];
	struct lp_key *key = NULL;
	int c, r, ret = PACK_EXIT_FAILURE;

	opterr = 0;
	argv[0] = (char *)PACK_PROG " keygen";
	while ((c = getopt_long(argc, argv, ":o:fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'f': force = true; break;
		case 'v': pack_verbose(); break;
		case 'h': return pack_help(help);
		default: return pack_option_error("keygen", c, argv);
		}
	}
	if (optind < argc)
		return pack_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
	if (!out || !out[0])
		return pack_usage_error("keygen", "--out KEY.pem is required");
	if (pack_public_key_path(out, pub, sizeof(pub)) < 0)
		return pack_usage_error("keygen", "file name too long");
	if (!force && (access(out, F_OK) == 0 || access(pub, F_OK) == 0)) {
		log_error("%s exists (use --force to overwrite)",
			  access(out, F_OK) == 0 ? out : pub);
		return PACK_EXIT_OUTPUT_EXISTS;
	}

	r = lp_key_generate(&key);
	if (r < 0) {
		ret = pack_fail("generating key", r, NULL);
		goto out;
	}
	r = lp_key_save_private(key, out, force);
	if (r < 0) {
		ret = r == -EEXIST ? PACK_EXIT_OUTPUT_EXISTS : pack_fail(out, r, NULL);
		if (r == -EEXIST)
			log_error("%s exists (use --force to overwrite)", out);
		goto out;
	}
	r = lp_key_save_public(key, pub, force);
	if (r < 0) {
		unlink(out); /* no half key pair */
		ret = r == -EEXIST ? PACK_EXIT_OUTPUT_EXISTS : pack_fail(pub, r, NULL);
		if (r == -EEXIST)
			log_error("%s exists (use --force to overwrite)", pub);
		goto out;
	}
	lp_key_id(key, keyid);
	printf("%s\n", keyid);
	log_info("private key %s, public key %s", out, pub);
	ret = PACK_EXIT_OK;
out:
	lp_key_free(key);
	return ret;
}

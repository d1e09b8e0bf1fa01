/* SPDX-License-Identifier: MIT */
/* loopline-pack keygen: a new Ed25519 key pair as PEM files, or (--aes) an AES-256
 * payload encryption key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopline/log.h"
#include "loopline/package-crypt.h"
#include "loopline/sign.h"
#include "pack.h"

const struct lp_cli_opt pack_keygen_opts[] = {
	{ 'o', "out", 'o', "KEY.pem", "private key file (required); the public key goes to KEY.pub.pem" },
	{ 'f', "force", 'f', NULL, "overwrite existing files" },
	{ 'a', "aes", 'a', NULL, "an AES-256 payload encryption key (KEY.aes) instead" },
	{ 0 },
};

const char pack_keygen_about[] =
	"Generates an Ed25519 signing key. The private key is written to KEY.pem (mode 0600),\n"
	"the public key to KEY.pub.pem (a name without .pem gets .pub.pem appended); the key\n"
	"id is printed. Existing files are kept unless --force is given (exit 14).\n"
	"With --aes it writes an AES-256 key for encrypted payloads instead (64 hex digits,\n"
	"mode 0600; build --encrypt-key, the agent's decryption_keys) and prints its key id.";

static int exists(const char *path)
{
	log_error("%s exists (use --force to overwrite)", path);
	return LP_EXIT_EXISTS;
}

/* --aes: one random key file. */
static int keygen_aes(const char *out, bool force)
{
	struct lp_aes_key *key = NULL;
	int r;

	r = lp_aes_key_generate(&key);
	if (r < 0)
		return lp_cli_fail(r, NULL, "generating key");
	r = lp_aes_key_save(key, out, force);
	if (r == 0)
		printf("%s\n", lp_aes_key_id(key));
	lp_aes_key_free(key);
	if (r == -EEXIST)
		return exists(out);
	return r < 0 ? lp_cli_fail(r, NULL, out) : LP_EXIT_OK;
}

int pack_cmd_keygen(struct lp_cli *cli, void *ctx)
{
	const char *out = NULL, *arg;
	bool force = false, aes = false;
	char pub[4096], keyid[LP_KEYID_LEN + 1];
	struct lp_key *key = NULL;
	int opt, r, ret;

	while ((opt = lp_cli_next(cli, &arg)) > 0) {
		if (opt == 'o')
			out = arg;
		else if (opt == 'f')
			force = true;
		else if (opt == 'a')
			aes = true;
	}
	if (!out || !out[0])
		return lp_cli_usage_error(cli, "--out KEY.pem is required");
	if (aes)
		return keygen_aes(out, force);
	if (pack_public_key_path(out, pub, sizeof(pub)) < 0)
		return lp_cli_usage_error(cli, "--out: file name too long");
	if (!force && access(out, F_OK) == 0)
		return exists(out);
	if (!force && access(pub, F_OK) == 0)
		return exists(pub);

	r = lp_key_generate(&key);
	if (r < 0)
		return lp_cli_fail(r, NULL, "generating key");
	r = lp_key_save_private(key, out, force);
	if (r < 0) {
		ret = r == -EEXIST ? exists(out) : lp_cli_fail(r, NULL, out);
		goto out;
	}
	r = lp_key_save_public(key, pub, force);
	if (r < 0) {
		unlink(out); /* no half key pair */
		ret = r == -EEXIST ? exists(pub) : lp_cli_fail(r, NULL, pub);
		goto out;
	}
	lp_key_id(key, keyid);
	printf("%s\n", keyid);
	log_info("private key %s, public key %s", out, pub);
	ret = LP_EXIT_OK;
out:
	lp_key_free(key);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/* loopline-pack sign: add or remove signatures (key rotation) without touching payloads. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "loopline/log.h"
#include "loopline/sign.h"
#include "pack.h"

const struct lp_cli_opt pack_sign_opts[] = {
	{ 'k', "key", 'k', "FILE", "private key to sign with (repeatable)" },
	{ 'r', "remove", 'r', "KEYID", "signature to remove (16 hex digits, repeatable)" },
	{ 'o', "out", 'o', "FILE", "write the result here instead of replacing FILE.lpkg" },
	{ 'f', "force", 'f', NULL, "overwrite an existing --out file" },
	{ 0 },
};

const char pack_sign_about[] =
	"Adds a signature by each --key (replacing one by the same key) and drops those with\n"
	"the --remove key ids; both together rotate keys in one step. The manifest is\n"
	"unchanged, so other signatures stay valid. The last signature cannot be removed.\n"
	"Without --out the file is replaced atomically.";

#define MAX_OPS LP_PKG_MAX_SIGNATURES

struct sign_opts {
	const char *keyfiles[MAX_OPS], *remove[MAX_OPS], *out;
	size_t n_keys, n_remove;
	bool force;
};

static int parse_options(struct lp_cli *cli, struct sign_opts *o)
{
	const char *arg;
	int opt;

	while ((opt = lp_cli_next(cli, &arg)) > 0) {
		switch (opt) {
		case 'k':
			if (o->n_keys >= MAX_OPS)
				return lp_cli_usage_error(cli, "at most %d --key options", MAX_OPS);
			o->keyfiles[o->n_keys++] = arg;
			break;
		case 'r':
			if (o->n_remove >= MAX_OPS)
				return lp_cli_usage_error(cli, "at most %d --remove options", MAX_OPS);
			if (!lp_pkg_keyid_valid(arg))
				return lp_cli_usage_error(cli, "--remove: '%s' is not a key id "
							  "(16 lower-case hex digits)", arg);
			o->remove[o->n_remove++] = arg;
			break;
		case 'o': o->out = arg; break;
		case 'f': o->force = true; break;
		}
	}
	if (o->n_keys == 0 && o->n_remove == 0)
		return lp_cli_usage_error(cli, "nothing to do: give --key KEY.pem or --remove KEYID");
	return 0;
}

/* Clear messages for the common mistakes before the library copies anything. */
static int precheck(const char *path, const char *const *remove, size_t n_remove,
		    size_t n_keys)
{
	struct pack_peek peek;
	struct lp_diag diag;
	size_t left = 0;
	int r;

	lp_diag_clear(&diag);
	r = pack_peek_file(path, &peek, &diag);
	if (r < 0)
		return lp_cli_fail(r, &diag, path);
	for (size_t i = 0; i < n_remove; i++) {
		bool found = false;

		for (size_t j = 0; j < peek.n_sigs; j++)
			found |= strcmp(peek.keyids[j], remove[i]) == 0;
		if (!found) {
			log_error("%s has no signature by key %s", path, remove[i]);
			pack_peek_clear(&peek);
			return lp_exit_from_errno(-ENOENT);
		}
	}
	for (size_t j = 0; j < peek.n_sigs; j++) {
		bool removed = false;

		for (size_t i = 0; i < n_remove; i++)
			removed |= strcmp(peek.keyids[j], remove[i]) == 0;
		left += !removed;
	}
	pack_peek_clear(&peek);
	if (left == 0 && n_keys == 0) {
		log_error("refusing to remove the last signature of %s (add one with --key first)",
			  path);
		return LP_EXIT_FAILURE;
	}
	return LP_EXIT_OK;
}

/* Writes the re-signed package to dest (atomically; dest may be the input). */
static int resign_into(int in, const char *in_path, const char *dest, bool overwrite,
		       const struct lp_key *const *keys, const struct sign_opts *o)
{
	struct pack_outfile of = { .fd = -1 };
	struct lp_diag diag;
	int r, ret;

	if ((r = pack_outfile_start(&of, dest, overwrite)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_pkg_resign(in, of.fd, keys, o->n_keys, o->remove, o->n_remove, &diag);
	if (r < 0) {
		ret = lp_cli_fail(r, &diag, in_path);
		goto out;
	}
	r = pack_outfile_commit(&of, overwrite);
	ret = r < 0 ? lp_cli_fail(r, NULL, dest) : LP_EXIT_OK;
out:
	pack_outfile_abort(&of);
	return ret;
}

int pack_cmd_sign(struct lp_cli *cli, void *ctx)
{
	const char *in_path = cli->args[0];
	struct lp_key *keys[MAX_OPS] = { 0 };
	struct sign_opts o = { 0 };
	int in = -1, ret;

	ret = parse_options(cli, &o);
	if (ret != 0)
		return ret;
	for (size_t i = 0; i < o.n_keys; i++)
		if ((ret = pack_signing_key_load(o.keyfiles[i], &keys[i])) != 0)
			goto out;
	ret = precheck(in_path, o.remove, o.n_remove, o.n_keys);
	if (ret != LP_EXIT_OK)
		goto out;
	in = open(in_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = lp_cli_fail(-errno, NULL, in_path);
		goto out;
	}
	ret = resign_into(in, in_path, o.out ? o.out : in_path, o.out ? o.force : true,
			  (const struct lp_key *const *)keys, &o);
	if (ret != LP_EXIT_OK)
		goto out;
	for (size_t i = 0; i < o.n_keys; i++) {
		char keyid[LP_KEYID_LEN + 1];

		lp_key_id(keys[i], keyid);
		printf("added signature %s\n", keyid);
	}
	for (size_t i = 0; i < o.n_remove; i++)
		printf("removed signature %s\n", o.remove[i]);
out:
	if (in >= 0)
		close(in);
	for (size_t i = 0; i < o.n_keys; i++)
		lp_key_free(keys[i]);
	return ret;
}

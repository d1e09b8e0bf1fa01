/* SPDX-License-Identifier: MIT */
/* loopline-pack delta: signed delta packages between two releases, or from the last N
 * releases in a repository to a new one. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loopline/log.h"
#include "loopline/package-crypt.h"
#include "loopline/sign.h"
#include "pack.h"

#define MAX_KEYS LP_PKG_MAX_SIGNATURES
#define MAX_BASES 32
#define DEFAULT_BASES 3

enum { OPT_FROM = LP_CLI_KEY_LONG, OPT_TO, OPT_LAST, OPT_TRUST, OPT_LEVEL, OPT_DECRYPT,
       OPT_ENCRYPT };

const struct lp_cli_opt pack_delta_opts[] = {
	{ OPT_FROM, "from", 0, "OLD.lpkg", "the release the devices run (the delta's base)" },
	{ OPT_TO, "to", 0, "NEW.lpkg", "the release to install (required)" },
	{ 'k', "key", 'k', "FILE", "private signing key (repeatable, at least one)" },
	{ 'o', "out", 'o', "FILE", "delta package to write (with --from)" },
	{ 'r', "repo", 'r', "DIR", "instead of --from: deltas from the last --last releases in "
	  "DIR/<product>/ to NEW, as DIR/<product>/deltas/<new>/<old>.lpkg" },
	{ OPT_LAST, "last", 0, "N", "with --repo: how many earlier releases (default 3, at most 32)" },
	{ OPT_TRUST, "trust", 0, "FILE", "public key (file or directory) OLD and NEW must be "
	  "signed with (repeatable; default: the public halves of --key)" },
	{ OPT_LEVEL, "level", 0, "N", "zstd level of the patch, 1 … 22 (default 19)" },
	{ OPT_DECRYPT, "decrypt-key", 0, "FILE", "AES key of encrypted OLD or NEW payloads (repeatable)" },
	{ OPT_ENCRYPT, "encrypt-key", 0, "FILE", "encrypt the delta's payload with this AES key" },
	{ 'f', "force", 'f', NULL, "overwrite existing outputs" },
	{ 0 },
};

const char pack_delta_about[] =
	"Makes a delta package: the difference between the rootfs images of OLD and NEW\n"
	"(engine " LP_DELTA_ALGORITHM "), which a device running OLD installs by patching its running\n"
	"slot into the inactive one. Both packages are verified first (signed by a trusted\n"
	"key, every hash). The delta package carries NEW's product, version, security_version,\n"
	"compatible list and creation time, and is signed with every --key. See docs/packager.md,\n"
	"\"Deltas\".";

struct delta_ctx {
	const char *keyfiles[MAX_KEYS], *trustfiles[MAX_KEYS], *decryptfiles[MAX_KEYS];
	size_t n_keyfiles, n_trustfiles, n_decryptfiles;
	const char *encryptfile;
	struct lp_aes_keyring *decrypt;
	struct lp_aes_key *encrypt;
	const char *from, *to, *out, *repo_dir;
	uint64_t last, level;
	bool force;
	struct lp_key *keys[MAX_KEYS];
	struct lp_keyring *trusted;
};

static int parse_options(struct lp_cli *cli, struct delta_ctx *c)
{
	const char *arg;
	int opt, r;

	c->last = DEFAULT_BASES;
	while ((opt = lp_cli_next(cli, &arg)) > 0) {
		switch (opt) {
		case 'k':
		case OPT_TRUST:
			if ((opt == 'k' ? c->n_keyfiles : c->n_trustfiles) >= MAX_KEYS)
				return lp_cli_usage_error(cli, "at most %d --key and --trust options each",
							  MAX_KEYS);
			if (opt == 'k')
				c->keyfiles[c->n_keyfiles++] = arg;
			else
				c->trustfiles[c->n_trustfiles++] = arg;
			break;
		case OPT_DECRYPT:
			if (c->n_decryptfiles >= MAX_KEYS)
				return lp_cli_usage_error(cli, "at most %d --decrypt-key options", MAX_KEYS);
			c->decryptfiles[c->n_decryptfiles++] = arg;
			break;
		case OPT_ENCRYPT: c->encryptfile = arg; break;
		case OPT_FROM: c->from = arg; break;
		case OPT_TO: c->to = arg; break;
		case 'o': c->out = arg; break;
		case 'r': c->repo_dir = arg; break;
		case 'f': c->force = true; break;
		case OPT_LAST:
			if ((r = lp_cli_parse_uint(cli, "--last", arg, 1, MAX_BASES, &c->last)) != 0)
				return r;
			break;
		case OPT_LEVEL:
			if ((r = lp_cli_parse_uint(cli, "--level", arg, 1, 22, &c->level)) != 0)
				return r;
			break;
		}
	}
	if (opt < 0)
		return opt;
	if (!c->to)
		return lp_cli_usage_error(cli, "--to NEW.lpkg is required");
	if (c->n_keyfiles == 0)
		return lp_cli_usage_error(cli, "at least one --key KEY.pem is required");
	if (!c->from == !c->repo_dir)
		return lp_cli_usage_error(cli, "give --from OLD.lpkg or --repo DIR (one of them)");
	if (c->from && !c->out)
		return lp_cli_usage_error(cli, "--from needs --out FILE.lpkg");
	if (c->repo_dir && c->out)
		return lp_cli_usage_error(cli, "--out goes with --from; --repo names its outputs");
	return 0;
}

/* AES keys: to read encrypted OLD/NEW payloads, and to encrypt the patch. */
static int load_aes_keys(struct delta_ctx *c)
{
	struct lp_diag diag;
	int r = lp_aes_keyring_new(&c->decrypt);

	for (size_t i = 0; r == 0 && i < c->n_decryptfiles; i++) {
		lp_diag_clear(&diag);
		if ((r = lp_aes_keyring_load(c->decrypt, c->decryptfiles[i], &diag)) < 0) {
			lp_cli_fail(r, &diag, "decryption key");
			return LP_EXIT_USAGE;
		}
	}
	if (r == 0 && c->encryptfile) {
		lp_diag_clear(&diag);
		if ((r = lp_aes_key_load(c->encryptfile, &c->encrypt, &diag)) < 0) {
			lp_cli_fail(r, &diag, "encryption key");
			return LP_EXIT_USAGE;
		}
	}
	return r < 0 ? lp_cli_fail(r, NULL, NULL) : 0;
}

/* Signing keys, and the keyring OLD and NEW must verify against. Usage errors (2). */
static int load_keys(struct delta_ctx *c)
{
	struct lp_diag diag;
	int r = lp_keyring_new(&c->trusted);

	if (r < 0)
		return lp_cli_fail(r, NULL, NULL);
	for (size_t i = 0; i < c->n_keyfiles; i++) {
		uint8_t raw[LP_ED25519_PUB_LEN];
		struct lp_key *pub = NULL;

		if ((r = pack_signing_key_load(c->keyfiles[i], &c->keys[i])) != 0)
			return r;
		if (c->n_trustfiles)
			continue;
		r = lp_key_raw_public(c->keys[i], raw);
		if (r == 0)
			r = lp_key_from_raw_public(raw, &pub);
		if (r == 0)
			r = lp_keyring_add(c->trusted, pub);
		if (r < 0 && r != -EEXIST)
			return lp_cli_fail(r, NULL, c->keyfiles[i]);
	}
	for (size_t i = 0; i < c->n_trustfiles; i++) {
		lp_diag_clear(&diag);
		r = lp_keyring_load(c->trusted, c->trustfiles[i], &diag);
		if (r < 0) {
			lp_diag_set_file(&diag, c->trustfiles[i]);
			lp_cli_fail(r, &diag, "trusted key");
			return LP_EXIT_USAGE;
		}
	}
	return load_aes_keys(c);
}

/* One delta from `from` to c->to, written atomically to dest. */
static int make_one(struct delta_ctx *c, const char *from, const char *dest)
{
	struct pack_delta_in in = {
		.from = from, .to = c->to, .trusted = c->trusted,
		.keys = (const struct lp_key *const *)c->keys, .n_keys = c->n_keyfiles,
		.level = (int)c->level, .decrypt = c->decrypt, .encrypt = c->encrypt,
	};
	struct pack_outfile of = { .fd = -1 };
	struct lp_manifest *m = NULL;
	struct lp_delta_stats st = { 0 };
	struct lp_diag diag;
	char size_s[32];
	struct stat sb;
	int r;

	if ((r = pack_outfile_start(&of, dest, c->force)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = pack_delta_build(&in, of.fd, &m, &st, &diag);
	if (r < 0) {
		pack_outfile_abort(&of);
		return lp_cli_fail(r, &diag, "delta failed");
	}
	pack_size_text(fstat(of.fd, &sb) == 0 ? (uint64_t)sb.st_size : 0, size_s, sizeof(size_s));
	r = pack_outfile_commit(&of, c->force);
	pack_outfile_abort(&of);
	if (r < 0) {
		lp_manifest_free(m);
		return lp_cli_fail(r, NULL, dest);
	}
	printf("%s: %s %s from %s (%s, %s), %s\n", dest, m->product, m->version,
	       m->payloads[0].delta.base_version, LP_DELTA_ALGORITHM,
	       pack_size_text(m->payloads[0].size, (char[32]){ 0 }, 32), size_s);
	lp_manifest_free(m);
	return 0;
}

/* --repo: deltas from the last N releases below NEW's version. */
static int make_from_repo(struct delta_ctx *c)
{
	char bases[MAX_BASES][LP_SEMVER_MAX], from[PATH_MAX + 64], dest[PATH_MAX + 64];
	struct pack_repo *repo = NULL;
	struct pack_peek peek;
	struct lp_diag diag;
	size_t n = 0;
	int r;

	lp_diag_clear(&diag);
	r = pack_peek_file(c->to, &peek, &diag);
	if (r < 0) {
		lp_diag_set_file(&diag, c->to);
		return lp_cli_fail(r, &diag, "NEW package");
	}
	r = pack_repo_open(c->repo_dir, peek.manifest->product, &repo, &diag);
	if (r < 0) {
		pack_peek_clear(&peek);
		lp_cli_fail(r, &diag, "repository");
		return LP_EXIT_FAILURE;
	}
	pack_repo_bases(repo, peek.manifest->version, (size_t)c->last, bases, &n);
	if (n == 0)
		log_warn("%s: no release below %s: no delta to make", c->repo_dir,
			 peek.manifest->version);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (pack_repo_package_path(repo, bases[i], from, sizeof(from)) < 0 ||
		    pack_repo_delta_path(repo, bases[i], peek.manifest->version, dest, sizeof(dest)) < 0) {
			r = lp_cli_fail(-ENAMETOOLONG, NULL, "repository path");
			break;
		}
		r = make_one(c, from, dest);
	}
	pack_repo_close(repo);
	pack_peek_clear(&peek);
	return r;
}

int pack_cmd_delta(struct lp_cli *cli, void *ctx)
{
	struct delta_ctx c = { 0 };
	int ret;

	(void)ctx;
	ret = parse_options(cli, &c);
	if (ret == 0)
		ret = load_keys(&c);
	if (ret == 0)
		ret = c.repo_dir ? make_from_repo(&c) : make_one(&c, c.from, c.out);
	for (size_t i = 0; i < MAX_KEYS; i++)
		lp_key_free(c.keys[i]);
	lp_keyring_free(c.trusted);
	lp_aes_keyring_free(c.decrypt);
	lp_aes_key_free(c.encrypt);
	return ret;
}

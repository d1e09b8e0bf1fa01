/* SPDX-License-Identifier: MIT */
/* loopline-pack sign: add or remove signatures (key rotation) without touching payloads. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "loopline/log.h"
#include "loopline/sign.h"
#include "pack.h"

static const char help[] =
	"Usage: " PACK_PROG " sign --key KEY.pem [--key …] [--out OUT.lpkg] [--force] FILE.lpkg\n"
	"       " PACK_PROG " sign --remove KEYID [--remove …] [--out OUT.lpkg] FILE.lpkg\n"
	"\n"
	"Adds a signature by each --key (replacing one by the same key) and drops those with\n"
	"the --remove key ids. The manifest is unchanged, so other signatures stay valid. The\n"
	"last signature cannot be removed. Without --out the file is replaced atomically.\n"
	"\n"
	"  -k, --key FILE      private key to sign with (repeatable)\n"
	"  -r, --remove KEYID  signature to remove (16 hex digits, repeatable)\n"
	"  -o, --out FILE      write the result here instead of replacing FILE.lpkg\n"
	"  -f, --force         overwrite an existing --out file\n"
	"  -v, --verbose       more messages\n"
	"  -h, --help          this help\n";

#define MAX_OPS LP_PKG_MAX_SIGNATURES

static bool valid_keyid(const char *s)
{
	if (strlen(s) != LP_KEYID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
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
		return pack_fail(path, r, &diag);
	for (size_t i = 0; i < n_remove; i++) {
		bool found = false;

		for (size_t j = 0; j < peek.n_sigs; j++)
			found |= strcmp(peek.keyids[j], remove[i]) == 0;
		if (!found) {
			log_error("%s has no signature by key %s", path, remove[i]);
			pack_peek_clear(&peek);
			return PACK_EXIT_FAILURE;
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
		return PACK_EXIT_FAILURE;
	}
	return PACK_EXIT_OK;
}

int pack_cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "remove", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *keyfiles[MAX_OPS], *remove[MAX_OPS], *out = NULL, *in_path;
	struct lp_key *keys[MAX_OPS] = { 0 };
	size_t n_keys = 0, n_remove = 0;
	struct pack_outfile of = { .fd = -1 };
	struct lp_diag diag;
	bool force = false;
	int c, r, in = -1, ret = PACK_EXIT_FAILURE;

	opterr = 0;
	argv[0] = (char *)PACK_PROG " sign";
	while ((c = getopt_long(argc, argv, ":k:r:o:fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (n_keys >= MAX_OPS)
				return pack_usage_error("sign", "at most %d --key options", MAX_OPS);
			keyfiles[n_keys++] = optarg;
			break;
		case 'r':
			if (n_remove >= MAX_OPS)
				return pack_usage_error("sign", "at most %d --remove options", MAX_OPS);
			if (!valid_keyid(optarg))
				return pack_usage_error("sign", "--remove: '%s' is not a key id "
							"(16 lower-case hex digits)", optarg);
			remove[n_remove++] = optarg;
			break;
		case 'o': out = optarg; break;
		case 'f': force = true; break;
		case 'v': pack_verbose(); break;
		case 'h': return pack_help(help);
		default: return pack_option_error("sign", c, argv);
		}
	}
	if (optind >= argc)
		return pack_usage_error("sign", "missing FILE.lpkg");
	if (optind + 1 < argc)
		return pack_usage_error("sign", "unexpected argument '%s'", argv[optind + 1]);
	if (n_keys == 0 && n_remove == 0)
		return pack_usage_error("sign", "nothing to do: give --key KEY.pem or --remove KEYID");
	in_path = argv[optind];

	for (size_t i = 0; i < n_keys; i++) {
		lp_diag_clear(&diag);
		r = lp_key_load_private(keyfiles[i], &keys[i], &diag);
		if (r < 0) {
			lp_diag_set_file(&diag, keyfiles[i]);
			pack_fail("signing key", r, &diag);
			ret = PACK_EXIT_USAGE;
			goto out;
		}
	}
	ret = precheck(in_path, remove, n_remove, n_keys);
	if (ret != PACK_EXIT_OK)
		goto out;
	ret = PACK_EXIT_FAILURE;

	in = open(in_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		log_error("%s: %s", in_path, strerror(errno));
		goto out;
	}
	r = pack_outfile_open(&of, out ? out : in_path, out ? force : true, 0644);
	if (r < 0) {
		log_error("%s: %s", out ? out : in_path,
			  r == -EEXIST ? "exists (use --force to overwrite)" : strerror(-r));
		ret = r == -EEXIST ? PACK_EXIT_OUTPUT_EXISTS : PACK_EXIT_FAILURE;
		goto out;
	}
	lp_diag_clear(&diag);
	r = lp_pkg_resign(in, of.fd, (const struct lp_key *const *)keys, n_keys, remove, n_remove,
			  &diag);
	if (r < 0) {
		ret = pack_fail(in_path, r, &diag);
		goto out;
	}
	r = pack_outfile_commit(&of, out ? force : true);
	if (r < 0) {
		log_error("%s: %s", out ? out : in_path, strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < n_keys; i++) {
		char keyid[LP_KEYID_LEN + 1];

		lp_key_id(keys[i], keyid);
		printf("added signature %s\n", keyid);
	}
	for (size_t i = 0; i < n_remove; i++)
		printf("removed signature %s\n", remove[i]);
	ret = PACK_EXIT_OK;
out:
	pack_outfile_abort(&of);
	if (in >= 0)
		close(in);
	for (size_t i = 0; i < n_keys; i++)
		lp_key_free(keys[i]);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/* loopline-pack build: a signed package from a description, streamed from its sources. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/io.h"
#include "loopline/log.h"
#include "loopline/package-crypt.h"
#include "loopline/sign.h"
#include "pack.h"

#define MAX_KEYS LP_PKG_MAX_SIGNATURES

enum { OPT_IMAGE_NAME = LP_CLI_KEY_LONG, OPT_FSTYPE, OPT_ENCRYPT_KEY };

const struct lp_cli_opt pack_build_opts[] = {
	{ 'k', "key", 'k', "FILE", "private signing key (repeatable, at least one)" },
	{ 'o', "out", 'o', "FILE", "package to write" },
	{ 'r', "repo", 'r', "DIR", "keep the package as DIR/<product>/<version>.lpkg; refuses an "
	  "existing version or a lower security_version (exit 14/13)" },
	{ 'f', "force", 'f', NULL, "overwrite an existing output, ignore the repository checks" },
	{ OPT_IMAGE_NAME, "image-name", 0, "NAME", "image to take from a Yocto/Buildroot directory" },
	{ OPT_FSTYPE, "fstype", 0, "TYPE", "image type to take from it (ext4, squashfs, tar.bz2, wic …)" },
	{ OPT_ENCRYPT_KEY, "encrypt-key", 0, "FILE", "encrypt every payload with this AES key "
	  "(keygen --aes); the package still verifies without it" },
	{ 0 },
};

const char pack_build_about[] =
	"Builds a package from a description (docs/packager.md) and signs it with every --key;\n"
	"--out FILE.lpkg or --repo DIR says where it goes. Sources are read once and streamed;\n"
	"the package appears only when it is complete. A source may be a file, a Yocto deploy\n"
	"dir (tmp/deploy/images/<machine>/) or a Buildroot output/images/ directory.\n"
	"SOURCE_DATE_EPOCH, when set, is the manifest's creation time (reproducible builds).";

struct build_ctx {
	/* the command line */
	const char *keyfiles[MAX_KEYS];
	size_t n_keyfiles;
	const char *out, *repo_dir, *image_name, *fstype, *desc_path, *encrypt_keyfile;
	bool force;
	/* what the build holds */
	struct pack_description *desc;
	struct lp_key *keys[MAX_KEYS];
	struct lp_aes_key *encrypt_key; /* NULL = payloads not encrypted */
	char created[32];             /* "" = now */
	struct lp_pkg_source *sources;
	const char **compat;
	char **paths;
	int *fds;
	uint64_t total;               /* bytes of all sources, for the progress line */
	struct pack_repo *repo;
	char dest[PATH_MAX + 64];
	struct pack_outfile of;
	struct lp_manifest *manifest;
	uint64_t size;                /* of the package written */
};

static int parse_options(struct lp_cli *cli, struct build_ctx *c)
{
	const char *arg;
	int opt;

	while ((opt = lp_cli_next(cli, &arg)) > 0) {
		switch (opt) {
		case 'k':
			if (c->n_keyfiles >= MAX_KEYS)
				return lp_cli_usage_error(cli, "at most %d --key options", MAX_KEYS);
			c->keyfiles[c->n_keyfiles++] = arg;
			break;
		case 'o': c->out = arg; break;
		case 'r': c->repo_dir = arg; break;
		case 'f': c->force = true; break;
		case OPT_IMAGE_NAME: c->image_name = arg; break;
		case OPT_FSTYPE: c->fstype = arg; break;
		case OPT_ENCRYPT_KEY: c->encrypt_keyfile = arg; break;
		}
	}
	c->desc_path = cli->args[0];
	if (c->n_keyfiles == 0)
		return lp_cli_usage_error(cli, "at least one --key KEY.pem is required");
	if (!c->out && !c->repo_dir)
		return lp_cli_usage_error(cli, "--out FILE.lpkg or --repo DIR is required");
	return 0;
}

/* The description, the signing keys and SOURCE_DATE_EPOCH: errors in any are usage
 * errors (exit 2), as documented. */
static int load_inputs(struct lp_cli *cli, struct build_ctx *c)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	struct lp_diag diag;
	uint64_t t;
	int r;

	lp_diag_clear(&diag);
	r = pack_description_load(c->desc_path, &c->desc, &diag);
	if (r < 0) {
		lp_cli_fail(r, &diag, "invalid description");
		return r == -ENOMEM ? LP_EXIT_FAILURE : LP_EXIT_USAGE;
	}
	for (size_t i = 0; i < c->n_keyfiles; i++)
		if ((r = pack_signing_key_load(c->keyfiles[i], &c->keys[i])) != 0)
			return r;
	if (c->encrypt_keyfile) {
		lp_diag_clear(&diag);
		r = lp_aes_key_load(c->encrypt_keyfile, &c->encrypt_key, &diag);
		if (r < 0) {
			lp_cli_fail(r, &diag, "encryption key");
			return LP_EXIT_USAGE;
		}
	}
	if (sde && sde[0]) {
		r = lp_cli_parse_uint(cli, "SOURCE_DATE_EPOCH", sde, 0, LP_PKG_CREATED_MAX, &t);
		if (r != 0)
			return r;
		if (lp_pkg_created_format((int64_t)t, c->created, sizeof(c->created)) < 0)
			return lp_cli_usage_error(cli, "SOURCE_DATE_EPOCH: not a time");
	}
	return 0;
}

/* Resolves every payload's source through the adapters and opens it. */
static int open_sources(struct build_ctx *c)
{
	const struct pack_description *d = c->desc;
	struct lp_diag diag;
	struct stat st;
	int r;

	c->sources = calloc(d->n_payloads, sizeof(*c->sources));
	c->paths = calloc(d->n_payloads, sizeof(*c->paths));
	c->fds = calloc(d->n_payloads, sizeof(*c->fds));
	c->compat = calloc(d->n_compatible, sizeof(*c->compat));
	if (!c->sources || !c->paths || !c->fds || !c->compat)
		return lp_cli_fail(-ENOMEM, NULL, NULL);
	for (size_t i = 0; i < d->n_payloads; i++)
		c->fds[i] = -1;
	for (size_t i = 0; i < d->n_compatible; i++)
		c->compat[i] = d->compatible[i];
	for (size_t i = 0; i < d->n_payloads; i++) {
		const struct pack_payload_desc *pd = &d->payloads[i];
		struct pack_select sel = {
			.image_name = c->image_name ? c->image_name
						    : (pd->image_name[0] ? pd->image_name : NULL),
			.fstype = c->fstype ? c->fstype : (pd->fstype[0] ? pd->fstype : NULL),
		};
		const char *kind = "";
		char what[LP_PKG_NAME_MAX + 64];

		lp_diag_clear(&diag);
		r = pack_source_resolve(pd->source, &sel, &c->paths[i], &kind, &diag);
		if (r < 0) {
			snprintf(what, sizeof(what), "payloads[%zu] (%s)", i, pd->name);
			lp_cli_fail(r, &diag, what);
			return r == -ENOMEM ? LP_EXIT_FAILURE : LP_EXIT_USAGE;
		}
		c->fds[i] = open(c->paths[i], O_RDONLY | O_CLOEXEC);
		if (c->fds[i] < 0 || fstat(c->fds[i], &st) < 0)
			return lp_cli_fail(-errno, NULL, c->paths[i]);
		c->total += (uint64_t)st.st_size;
		c->sources[i] = (struct lp_pkg_source){
			.name = pd->name,
			.type = pd->type,
			.target = pd->target,
			.fd = c->fds[i],
			.compression = pd->compression,
			.zstd_level = pd->zstd_level,
			.encrypt_key = c->encrypt_key,
		};
		log_debug("payload %s <- %s (%s)", pd->name, c->paths[i], kind);
	}
	return 0;
}

/* With --repo: opens the repository, refuses an existing version (14) or a lower
 * security_version (13) unless --force. Sets the destination. */
static int check_repo(struct build_ctx *c)
{
	struct lp_diag diag;
	int r;

	if (c->repo_dir) {
		lp_diag_clear(&diag);
		r = pack_repo_open(c->repo_dir, c->desc->product, &c->repo, &diag);
		if (r < 0) {
			lp_cli_fail(r, &diag, "repository");
			return LP_EXIT_FAILURE; /* documented: repository and index errors are 1 */
		}
		r = pack_repo_check(c->repo, c->desc->version, c->desc->security_version, c->force,
				    &diag);
		if (r < 0)
			return lp_cli_fail(r, &diag, "refused");
	}
	if (c->out)
		snprintf(c->dest, sizeof(c->dest), "%s", c->out);
	else if ((r = pack_repo_package_path(c->repo, c->desc->version, c->dest, sizeof(c->dest))) < 0)
		return lp_cli_fail(r, NULL, "repository path");
	return 0;
}

/* Builds into an atomic output file and gives it its name. */
static int write_package(struct build_ctx *c)
{
	const struct pack_description *d = c->desc;
	struct pack_progress *progress = NULL;
	struct lp_diag diag;
	struct stat st;
	int r;

	if ((r = pack_outfile_start(&c->of, c->dest, c->force)) != 0)
		return r;
	struct lp_pkg_build b = {
		.product = d->product,
		.version = d->version,
		.security_version = d->security_version,
		.compatible = c->compat,
		.n_compatible = d->n_compatible,
		.min_agent_version = d->min_agent_version[0] ? d->min_agent_version : NULL,
		.created = c->created[0] ? c->created : NULL,
		.sources = c->sources,
		.n_sources = d->n_payloads,
		.keys = (const struct lp_key *const *)c->keys,
		.n_keys = c->n_keyfiles,
	};
	pack_progress_start("build", c->fds, d->n_payloads, c->total, &progress);
	lp_diag_clear(&diag);
	r = lp_pkg_build(&b, c->of.fd, &c->manifest, &diag);
	pack_progress_stop(progress);
	if (r < 0) {
		lp_cli_fail(r, &diag, "build failed");
		/* a limit of the format exceeded: the description asks too much */
		return r == -E2BIG ? LP_EXIT_USAGE : lp_exit_from_errno(r);
	}
	c->size = fstat(c->of.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	r = pack_outfile_commit(&c->of, c->force);
	if (r == -EEXIST) {
		log_error("%s appeared meanwhile, not replaced", c->dest);
		return lp_exit_from_errno(r);
	}
	if (r < 0)
		return lp_cli_fail(r, NULL, c->dest);
	return 0;
}

static int copy_fd(int in, int out)
{
	char buf[64 * 1024];

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	for (;;) {
		ssize_t n = lp_io_read(in, buf, sizeof(buf));
		int r;

		if (n <= 0)
			return (int)n;
		r = lp_io_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

/* Puts a copy of the finished package at dest, atomically. */
static int place_copy(const char *src, const char *dest, bool force)
{
	struct pack_outfile of;
	int in, r;

	r = pack_outfile_open(&of, dest, force, 0644);
	if (r < 0)
		return r;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		r = -errno;
		goto out;
	}
	r = copy_fd(in, of.fd);
	close(in);
	if (r == 0)
		r = pack_outfile_commit(&of, force);
out:
	pack_outfile_abort(&of);
	return r;
}

/* With --repo: the package in the repository (a copy when --out wrote it elsewhere) and
 * in its index. */
static int record_in_repo(struct build_ctx *c)
{
	char in_repo[PATH_MAX + 64];
	struct lp_diag diag;
	int r;

	if (!c->repo)
		return 0;
	if (c->out) {
		pack_repo_package_path(c->repo, c->desc->version, in_repo, sizeof(in_repo));
		r = place_copy(c->dest, in_repo, c->force);
		if (r < 0)
			return lp_cli_fail(r, NULL, in_repo);
	}
	lp_diag_clear(&diag);
	r = pack_repo_add(c->repo, c->manifest, c->size, &diag);
	return r < 0 ? lp_cli_fail(r, &diag, "repository index") : 0;
}

static void print_result(const struct build_ctx *c)
{
	const struct lp_manifest *m = c->manifest;
	char size_s[32], keyid[LP_KEYID_LEN + 1];

	printf("%s: %s %s (security_version %llu), %zu payload%s, %s, signed by", c->dest,
	       m->product, m->version, (unsigned long long)m->security_version, m->n_payloads,
	       m->n_payloads == 1 ? "" : "s", pack_size_text(c->size, size_s, sizeof(size_s)));
	for (size_t i = 0; i < c->n_keyfiles; i++) {
		lp_key_id(c->keys[i], keyid);
		printf(" %s", keyid);
	}
	if (c->encrypt_key)
		printf(", encrypted for key %s", lp_aes_key_id(c->encrypt_key));
	printf("\n");
}

static void build_clear(struct build_ctx *c)
{
	pack_outfile_abort(&c->of);
	lp_manifest_free(c->manifest);
	pack_repo_close(c->repo);
	for (size_t i = 0; c->desc && c->fds && i < c->desc->n_payloads; i++) {
		if (c->fds[i] >= 0)
			close(c->fds[i]);
		free(c->paths ? c->paths[i] : NULL);
	}
	free(c->fds);
	free(c->paths);
	free(c->sources);
	free(c->compat);
	for (size_t i = 0; i < MAX_KEYS; i++)
		lp_key_free(c->keys[i]);
	lp_aes_key_free(c->encrypt_key);
	pack_description_free(c->desc);
}

int pack_cmd_build(struct lp_cli *cli, void *ctx)
{
	struct build_ctx c = { .of.fd = -1 };
	int ret;

	ret = parse_options(cli, &c);
	if (ret == 0)
		ret = load_inputs(cli, &c);
	if (ret == 0)
		ret = open_sources(&c);
	if (ret == 0)
		ret = check_repo(&c);
	if (ret == 0)
		ret = write_package(&c);
	if (ret == 0)
		ret = record_in_repo(&c);
	if (ret == 0)
		print_result(&c);
	build_clear(&c);
	return ret;
}

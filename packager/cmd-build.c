/* SPDX-License-Identifier: MIT */
/* loopline-pack build: a signed package from a description, streamed from its sources. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loopline/io.h"
#include "loopline/log.h"
#include "loopline/sign.h"
#include "pack.h"

#define MAX_KEYS LP_PKG_MAX_SIGNATURES

static const char help[] =
	"Usage: " PACK_PROG " build --key KEY.pem [--key KEY2.pem …] (--out FILE.lpkg | --repo DIR)\n"
	"                          [--force] [--image-name NAME] [--fstype TYPE] DESCRIPTION.json\n"
	"\n"
	"Builds a package from a description (docs/packager.md) and signs it with every --key.\n"
	"Sources are read once and streamed; the package appears only when it is complete.\n"
	"A source may be a file, a Yocto deploy dir (tmp/deploy/images/<machine>/) or a\n"
	"Buildroot output/images/ directory.\n"
	"\n"
	"  -k, --key FILE         private signing key (repeatable, at least one)\n"
	"  -o, --out FILE         package to write\n"
	"  -r, --repo DIR         keep the package as DIR/<product>/<version>.lpkg; refuses an\n"
	"                         existing version or a lower security_version (exit 14/13)\n"
	"  -f, --force            overwrite an existing output, ignore the repository checks\n"
	"      --image-name NAME  image to take from a Yocto/Buildroot directory\n"
	"      --fstype TYPE      image type to take from it (ext4, squashfs, tar.bz2, wic …)\n"
	"  -v, --verbose          more messages\n"
	"  -h, --help             this help\n";

enum { OPT_IMAGE_NAME = 0x100, OPT_FSTYPE };

struct build_ctx {
	const char *keyfiles[MAX_KEYS];
	size_t n_keyfiles;
	const char *out;
	const char *repo_dir;
	bool force;
	const char *image_name;
	const char *fstype;
	const char *desc_path;
};

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

/* Puts a copy of the finished package at dest (hard link when possible). */
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

static int created_now(char *buf, size_t len)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = time(NULL);
	struct tm tm;

	if (sde && sde[0]) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(sde, &end, 10);
		if (errno || *end || v > (unsigned long long)INT32_MAX * 4)
			return -EINVAL;
		t = (time_t)v;
	}
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -EINVAL;
	return 0;
}

static int run_build(const struct build_ctx *c)
{
	struct pack_description *desc = NULL;
	struct lp_key *keys[MAX_KEYS] = { 0 };
	struct lp_pkg_source *sources = NULL;
	const char **compat = NULL;
	char **paths = NULL;
	int *fds = NULL;
	struct pack_repo *repo = NULL;
	struct pack_outfile of = { .fd = -1 };
	struct pack_progress *progress = NULL;
	struct lp_manifest *manifest = NULL;
	struct lp_diag diag;
	char dest[PATH_MAX + 64], created[64], size_s[32], keyid[LP_KEYID_LEN + 1];
	uint64_t total = 0;
	struct stat st;
	int r, ret = PACK_EXIT_FAILURE;

	lp_diag_clear(&diag);
	r = pack_description_load(c->desc_path, &desc, &diag);
	if (r < 0) {
		pack_fail("invalid description", r, &diag);
		return r == -ENOMEM ? PACK_EXIT_FAILURE : PACK_EXIT_USAGE;
	}
	for (size_t i = 0; i < c->n_keyfiles; i++) {
		lp_diag_clear(&diag);
		r = lp_key_load_private(c->keyfiles[i], &keys[i], &diag);
		if (r < 0) {
			lp_diag_set_file(&diag, c->keyfiles[i]);
			pack_fail("signing key", r, &diag);
			ret = PACK_EXIT_USAGE;
			goto out;
		}
	}
	if (created_now(created, sizeof(created)) < 0) {
		log_error("SOURCE_DATE_EPOCH is not a number of seconds");
		ret = PACK_EXIT_USAGE;
		goto out;
	}

	sources = calloc(desc->n_payloads, sizeof(*sources));
	paths = calloc(desc->n_payloads, sizeof(*paths));
	fds = calloc(desc->n_payloads, sizeof(*fds));
	compat = calloc(desc->n_compatible, sizeof(*compat));
	if (!sources || !paths || !fds || !compat)
		goto out;
	for (size_t i = 0; i < desc->n_payloads; i++)
		fds[i] = -1;
	for (size_t i = 0; i < desc->n_compatible; i++)
		compat[i] = desc->compatible[i];

	for (size_t i = 0; i < desc->n_payloads; i++) {
		const struct pack_payload_desc *pd = &desc->payloads[i];
		struct pack_select sel = {
			.image_name = c->image_name ? c->image_name
						    : (pd->image_name[0] ? pd->image_name : NULL),
			.fstype = c->fstype ? c->fstype : (pd->fstype[0] ? pd->fstype : NULL),
		};
		const char *kind = "";
		char what[LP_PKG_NAME_MAX + 64];

		lp_diag_clear(&diag);
		r = pack_source_resolve(pd->source, &sel, &paths[i], &kind, &diag);
		if (r < 0) {
			snprintf(what, sizeof(what), "payloads[%zu] (%s)", i, pd->name);
			pack_fail(what, r, &diag);
			ret = r == -ENOMEM ? PACK_EXIT_FAILURE : PACK_EXIT_USAGE;
			goto out;
		}
		fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 || fstat(fds[i], &st) < 0) {
			log_error("%s: %s", paths[i], strerror(errno));
			goto out;
		}
		total += (uint64_t)st.st_size;
		sources[i] = (struct lp_pkg_source){
			.name = pd->name,
			.type = pd->type,
			.target = pd->target,
			.fd = fds[i],
			.compression = pd->compression,
			.zstd_level = pd->zstd_level,
		};
		log_debug("payload %s <- %s (%s)", pd->name, paths[i], kind);
	}

	if (c->repo_dir) {
		lp_diag_clear(&diag);
		r = pack_repo_open(c->repo_dir, desc->product, &repo, &diag);
		if (r < 0) {
			ret = pack_fail("repository", r, &diag);
			goto out;
		}
		r = pack_repo_check(repo, desc->version, desc->security_version, c->force, &diag);
		if (r < 0) {
			pack_fail("refused", r, &diag);
			ret = r == -EEXIST ? PACK_EXIT_EXISTS : PACK_EXIT_ROLLBACK;
			goto out;
		}
	}
	if (c->out)
		snprintf(dest, sizeof(dest), "%s", c->out);
	else if (pack_repo_package_path(repo, desc->version, dest, sizeof(dest)) < 0)
		goto out;

	r = pack_outfile_open(&of, dest, c->force, 0644);
	if (r == -EEXIST) {
		log_error("%s exists (use --force to overwrite)", dest);
		ret = PACK_EXIT_OUTPUT_EXISTS;
		goto out;
	} else if (r < 0) {
		log_error("%s: %s", dest, strerror(-r));
		goto out;
	}

	struct lp_pkg_build b = {
		.product = desc->product,
		.version = desc->version,
		.security_version = desc->security_version,
		.compatible = compat,
		.n_compatible = desc->n_compatible,
		.min_agent_version = desc->min_agent_version[0] ? desc->min_agent_version : NULL,
		.created = created,
		.sources = sources,
		.n_sources = desc->n_payloads,
		.keys = (const struct lp_key *const *)keys,
		.n_keys = c->n_keyfiles,
	};
	pack_progress_start("build", fds, desc->n_payloads, total, &progress);
	lp_diag_clear(&diag);
	r = lp_pkg_build(&b, of.fd, &manifest, &diag);
	pack_progress_stop(progress);
	if (r < 0) {
		pack_fail("build failed", r, &diag);
		ret = (r == -EINVAL || r == -E2BIG) ? PACK_EXIT_USAGE : PACK_EXIT_FAILURE;
		goto out;
	}
	if (fstat(of.fd, &st) < 0)
		st.st_size = 0;
	r = pack_outfile_commit(&of, c->force);
	if (r < 0) {
		log_error("%s: %s", dest, r == -EEXIST ? "appeared meanwhile, not replaced"
							 : strerror(-r));
		ret = r == -EEXIST ? PACK_EXIT_OUTPUT_EXISTS : PACK_EXIT_FAILURE;
		goto out;
	}
	if (repo) {
		char in_repo[PATH_MAX + 64];

		if (c->out) {
			pack_repo_package_path(repo, desc->version, in_repo, sizeof(in_repo));
			r = place_copy(dest, in_repo, c->force);
			if (r < 0) {
				log_error("copying into the repository: %s: %s", in_repo, strerror(-r));
				goto out;
			}
		}
		lp_diag_clear(&diag);
		r = pack_repo_add(repo, manifest, (uint64_t)st.st_size, &diag);
		if (r < 0) {
			ret = pack_fail("repository index", r, &diag);
			goto out;
		}
	}

	printf("%s: %s %s (security_version %llu), %zu payload%s, %s, signed by", dest,
	       manifest->product, manifest->version,
	       (unsigned long long)manifest->security_version, manifest->n_payloads,
	       manifest->n_payloads == 1 ? "" : "s",
	       pack_size_text((uint64_t)st.st_size, size_s, sizeof(size_s)));
	for (size_t i = 0; i < c->n_keyfiles; i++) {
		lp_key_id(keys[i], keyid);
		printf(" %s", keyid);
	}
	printf("\n");
	ret = PACK_EXIT_OK;
out:
	pack_outfile_abort(&of);
	lp_manifest_free(manifest);
	pack_repo_close(repo);
	if (desc) {
		for (size_t i = 0; fds && i < desc->n_payloads; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			free(paths ? paths[i] : NULL);
		}
	}
	free(fds);
	free(paths);
	free(sources);
	free(compat);
	for (size_t i = 0; i < MAX_KEYS; i++)
		lp_key_free(keys[i]);
	pack_description_free(desc);
	return ret;
}

int pack_cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "repo", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "image-name", required_argument, NULL, OPT_IMAGE_NAME },
		{ "fstype", required_argument, NULL, OPT_FSTYPE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct build_ctx c = { 0 };
	int opt;

	opterr = 0;
	argv[0] = (char *)PACK_PROG " build";
	while ((opt = getopt_long(argc, argv, ":k:o:r:fvh", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (c.n_keyfiles >= MAX_KEYS)
				return pack_usage_error("build", "at most %d --key options", MAX_KEYS);
			c.keyfiles[c.n_keyfiles++] = optarg;
			break;
		case 'o': c.out = optarg; break;
		case 'r': c.repo_dir = optarg; break;
		case 'f': c.force = true; break;
		case OPT_IMAGE_NAME: c.image_name = optarg; break;
		case OPT_FSTYPE: c.fstype = optarg; break;
		case 'v': pack_verbose(); break;
		case 'h': return pack_help(help);
		default: return pack_option_error("build", opt, argv);
		}
	}
	if (optind >= argc)
		return pack_usage_error("build", "missing DESCRIPTION.json");
	if (optind + 1 < argc)
		return pack_usage_error("build", "unexpected argument '%s'", argv[optind + 1]);
	c.desc_path = argv[optind];
	if (c.n_keyfiles == 0)
		return pack_usage_error("build", "at least one --key KEY.pem is required");
	if (!c.out && !c.repo_dir)
		return pack_usage_error("build", "--out FILE.lpkg or --repo DIR is required");
	return run_build(&c);
}

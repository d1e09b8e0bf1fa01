/* SPDX-License-Identifier: MIT */
/* loopline-pack verify: the agent's checks, run on a package file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/log.h"
#include "loopline/semver.h"
#include "loopline/sign.h"
#include "pack.h"

static const char help[] =
	"Usage: " PACK_PROG " verify --trusted KEY.pub.pem|DIR [--trusted …] [--compatible HW]\n"
	"                           [--min-security-version N] [--agent-version V] [--json]\n"
	"                           FILE.lpkg\n"
	"\n"
	"Verifies a package as a device would: a signature by a trusted key, the policy, then\n"
	"every payload's sizes and hashes while streaming it. The exit code names the problem:\n"
	"10 signature, 11 corrupt, 12 incompatible, 13 security version, 15 agent too old.\n"
	"\n"
	"  -t, --trusted PATH              trusted public key, or a directory of *.pem (repeatable)\n"
	"  -c, --compatible HW             refuse unless the package lists this hardware id\n"
	"  -s, --min-security-version N    refuse a lower security_version (anti-rollback)\n"
	"  -a, --agent-version V           refuse if min_agent_version is higher than V\n"
	"  -j, --json                      machine-readable output\n"
	"  -v, --verbose                   more messages\n"
	"  -h, --help                      this help\n";

#define MAX_TRUSTED 32

struct verify_result {
	int err;
	char message[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 64];
	const struct lp_manifest *manifest;
	const struct lp_signature_info *sigs;
	size_t n_sigs;
	size_t n_verified;
	uint64_t bytes;
};

static void verify_stream(int fd, uint64_t total, struct lp_pkg_reader *reader,
			  struct verify_result *res)
{
	struct pack_progress *progress = NULL;
	const struct lp_payload_info *info;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = lp_pkg_reader_open(reader, &res->manifest, &diag);
	res->n_sigs = lp_pkg_reader_signatures(reader, &res->sigs);
	if (r < 0)
		goto out;
	pack_progress_start("verify", &fd, 1, total, &progress);
	while ((r = lp_pkg_reader_next(reader, &info, &diag)) == 1) {
		r = lp_pkg_reader_stream(reader, NULL, NULL, &diag);
		if (r < 0)
			break; /* the library's message names the payload */
		res->n_verified++;
		res->bytes += info->size;
	}
	pack_progress_stop(progress);
out:
	res->err = r < 0 ? r : 0;
	if (r < 0)
		pack_error_text(r, &diag, res->message, sizeof(res->message));
}

static int print_json(const char *path, const struct verify_result *res, int code)
{
	cJSON *root = cJSON_CreateObject(), *sigs = cJSON_CreateArray(), *m = NULL;
	char *text = NULL;
	int r = -ENOMEM;

	if (!root || !sigs)
		goto out;
	cJSON_AddStringToObject(root, "file", path);
	cJSON_AddBoolToObject(root, "ok", code == PACK_EXIT_OK);
	cJSON_AddNumberToObject(root, "exit_code", code);
	if (res->err) {
		cJSON *e = cJSON_AddObjectToObject(root, "error");

		if (!e)
			goto out;
		cJSON_AddStringToObject(e, "kind", pack_exit_name(code));
		cJSON_AddStringToObject(e, "message", res->message);
	}
	for (size_t i = 0; i < res->n_sigs; i++) {
		cJSON *s = cJSON_CreateObject();

		if (!s)
			goto out;
		cJSON_AddItemToArray(sigs, s);
		cJSON_AddStringToObject(s, "keyid", res->sigs[i].keyid);
		cJSON_AddBoolToObject(s, "trusted", res->sigs[i].trusted);
		cJSON_AddBoolToObject(s, "valid", res->sigs[i].valid);
	}
	cJSON_AddItemToObject(root, "signatures", sigs);
	sigs = NULL;
	if (res->manifest && res->err == 0) {
		text = lp_manifest_serialize(res->manifest);
		m = text ? cJSON_Parse(text) : NULL;
		if (!m)
			goto out;
		cJSON_AddItemToObject(root, "manifest", m);
		m = NULL;
	}
	cJSON_AddNumberToObject(root, "payloads_verified", (double)res->n_verified);
	r = pack_print_json(root);
out:
	free(text);
	cJSON_Delete(m);
	cJSON_Delete(sigs);
	cJSON_Delete(root);
	return r;
}

static void print_text(const char *path, const struct verify_result *res)
{
	const struct lp_manifest *m = res->manifest;
	char size_s[32];

	printf("%s: OK\n", path);
	printf("  %s %s (security_version %llu), compatible:", m->product, m->version,
	       (unsigned long long)m->security_version);
	for (size_t i = 0; i < m->n_compatible; i++)
		printf(" %s", m->compatible[i]);
	printf("\n");
	for (size_t i = 0; i < res->n_sigs; i++)
		printf("  signature %s: %s\n", res->sigs[i].keyid,
		       res->sigs[i].valid ? "valid, trusted"
					  : res->sigs[i].trusted ? "INVALID (trusted key)"
								 : "key not trusted (ignored)");
	printf("  %zu payload%s verified (%s)\n", res->n_verified, res->n_verified == 1 ? "" : "s",
	       pack_size_text(res->bytes, size_s, sizeof(size_s)));
}

int pack_cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trusted", required_argument, NULL, 't' },
		{ "compatible", required_argument, NULL, 'c' },
		{ "min-security-version", required_argument, NULL, 's' },
		{ "agent-version", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *trusted[MAX_TRUSTED];
	size_t n_trusted = 0;
	struct lp_pkg_policy policy = { 0 };
	struct lp_keyring *ring = NULL;
	struct lp_pkg_reader *reader = NULL;
	struct verify_result res = { 0 };
	struct lp_diag diag;
	struct lp_semver sv;
	struct stat st;
	bool json = false;
	char *end;
	int c, r, fd = -1, ret = PACK_EXIT_FAILURE;

	opterr = 0;
	argv[0] = (char *)PACK_PROG " verify";
	while ((c = getopt_long(argc, argv, ":t:c:s:a:jvh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (n_trusted >= MAX_TRUSTED)
				return pack_usage_error("verify", "at most %d --trusted options",
							MAX_TRUSTED);
			trusted[n_trusted++] = optarg;
			break;
		case 'c': policy.compatible = optarg; break;
		case 's':
			errno = 0;
			policy.min_security_version = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				return pack_usage_error("verify", "--min-security-version: '%s' is "
							"not a non-negative integer", optarg);
			policy.check_security_version = true;
			break;
		case 'a':
			if (lp_semver_parse(optarg, &sv, NULL) < 0)
				return pack_usage_error("verify", "--agent-version: '%s' is not a "
							"semantic version", optarg);
			policy.agent_version = optarg;
			break;
		case 'j': json = true; break;
		case 'v': pack_verbose(); break;
		case 'h': return pack_help(help);
		default: return pack_option_error("verify", c, argv);
		}
	}
	if (optind >= argc)
		return pack_usage_error("verify", "missing FILE.lpkg");
	if (optind + 1 < argc)
		return pack_usage_error("verify", "unexpected argument '%s'", argv[optind + 1]);
	if (n_trusted == 0)
		return pack_usage_error("verify", "at least one --trusted KEY.pub.pem is required");

	r = lp_keyring_new(&ring);
	if (r < 0)
		return pack_fail("keyring", r, NULL);
	for (size_t i = 0; i < n_trusted; i++) {
		lp_diag_clear(&diag);
		r = lp_keyring_load(ring, trusted[i], &diag);
		if (r < 0) {
			if (!diag.file[0])
				lp_diag_set_file(&diag, trusted[i]);
			pack_fail("trusted key", r, &diag);
			ret = PACK_EXIT_USAGE;
			goto out;
		}
	}
	if (lp_keyring_count(ring) == 0) {
		log_error("no trusted keys found in %s%s", trusted[0], n_trusted > 1 ? " …" : "");
		ret = PACK_EXIT_USAGE;
		goto out;
	}
	policy.trusted = ring;

	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("%s: %s", argv[optind], strerror(errno));
		goto out;
	}
	r = lp_pkg_reader_new_fd(fd, &policy, &reader);
	if (r < 0) {
		ret = pack_fail(argv[optind], r, NULL);
		goto out;
	}
	verify_stream(fd, (uint64_t)st.st_size, reader, &res);
	ret = pack_exit_code(res.err);
	if (res.err)
		log_error("%s: %s: %s", argv[optind], pack_exit_name(ret), res.message);
	if (json)
		r = print_json(argv[optind], &res, ret);
	else if (!res.err)
		print_text(argv[optind], &res);
	if (json && r < 0)
		ret = pack_fail("output", r, NULL);
out:
	lp_pkg_reader_free(reader);
	if (fd >= 0)
		close(fd);
	lp_keyring_free(ring);
	return ret;
}

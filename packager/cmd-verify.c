/* SPDX-License-Identifier: MIT */
/* loopline-pack verify: the agent's checks, run on a package file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/log.h"
#include "loopline/package-crypt.h"
#include "loopline/semver.h"
#include "loopline/sign.h"
#include "pack.h"

const struct lp_cli_opt pack_verify_opts[] = {
	{ 't', "trusted", 't', "PATH", "trusted public key, or a directory of *.pem (repeatable)" },
	{ 'c', "compatible", 'c', "HW", "refuse unless the package lists this hardware id (exit 12)" },
	{ 's', "min-security-version", 's', "N", "refuse a lower security_version (anti-rollback, exit 13)" },
	{ 'a', "agent-version", 'a', "V", "refuse if min_agent_version is higher than V (exit 15)" },
	{ 'd', "decrypt-key", 'd', "FILE", "AES key to decrypt encrypted payloads with (repeatable); "
	  "without one they are checked as stored bytes" },
	{ 0 },
};

const char pack_verify_about[] =
	"Verifies a package as a device would: a signature by a trusted key (exit 10), the\n"
	"policy, then every payload's sizes and hashes while streaming it (exit 11 for any\n"
	"damage). A private key file works as --trusted too (its public half is used).\n"
	"Encrypted payloads are checked against stored_size and stored_sha256, which the\n"
	"signed manifest covers; with their --decrypt-key also decrypted, every chunk's tag,\n"
	"size and sha256 checked.";

#define MAX_TRUSTED 32

struct verify_result {
	int err;
	char message[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 64];
	const struct lp_manifest *manifest;
	const struct lp_signature_info *sigs;
	size_t n_sigs;
	size_t n_verified;
	size_t n_stored_only; /* encrypted payloads checked without their key */
	uint64_t bytes;
	const struct lp_aes_keyring *decryption_keys;
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
		if (info->encryption.present &&
		    !lp_aes_keyring_find(res->decryption_keys, info->encryption.key_id))
			res->n_stored_only++;
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
	cJSON_AddBoolToObject(root, "ok", code == LP_EXIT_OK);
	cJSON_AddNumberToObject(root, "exit_code", code);
	if (res->err) {
		cJSON *e = cJSON_AddObjectToObject(root, "error");

		if (!e)
			goto out;
		cJSON_AddStringToObject(e, "kind", lp_exit_name(code));
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
	if (res->n_stored_only)
		printf("  %zu encrypted payload%s checked as stored bytes only (no --decrypt-key for it)\n",
		       res->n_stored_only, res->n_stored_only == 1 ? "" : "s");
}

struct verify_opts {
	const char *trusted[MAX_TRUSTED];
	size_t n_trusted;
	const char *decrypt[MAX_TRUSTED];
	size_t n_decrypt;
	struct lp_pkg_policy policy;
};

static int parse_options(struct lp_cli *cli, struct verify_opts *o)
{
	const char *arg;
	struct lp_semver sv;
	int opt, r;

	while ((opt = lp_cli_next(cli, &arg)) > 0) {
		switch (opt) {
		case 't':
			if (o->n_trusted >= MAX_TRUSTED)
				return lp_cli_usage_error(cli, "at most %d --trusted options", MAX_TRUSTED);
			o->trusted[o->n_trusted++] = arg;
			break;
		case 'c':
			o->policy.compatible = arg;
			break;
		case 's':
			r = lp_cli_parse_uint(cli, "--min-security-version", arg, 0, UINT64_MAX,
					      &o->policy.min_security_version);
			if (r != 0)
				return r;
			o->policy.check_security_version = true;
			break;
		case 'a':
			if (lp_semver_parse(arg, &sv, NULL) < 0)
				return lp_cli_usage_error(cli, "--agent-version: '%s' is not a semantic version",
							  arg);
			o->policy.agent_version = arg;
			break;
		case 'd':
			if (o->n_decrypt >= MAX_TRUSTED)
				return lp_cli_usage_error(cli, "at most %d --decrypt-key options", MAX_TRUSTED);
			o->decrypt[o->n_decrypt++] = arg;
			break;
		}
	}
	if (o->n_trusted == 0)
		return lp_cli_usage_error(cli, "at least one --trusted KEY.pub.pem is required");
	return 0;
}

/* The trusted keys; an unreadable key file is a usage error (exit 2), as documented. */
static int load_trusted(const struct verify_opts *o, struct lp_keyring **ret_ring)
{
	struct lp_keyring *ring = NULL;
	struct lp_diag diag;
	int r;

	r = lp_keyring_new(&ring);
	if (r < 0)
		return lp_cli_fail(r, NULL, "keyring");
	for (size_t i = 0; i < o->n_trusted; i++) {
		lp_diag_clear(&diag);
		r = lp_keyring_load(ring, o->trusted[i], &diag);
		if (r < 0) {
			if (!diag.file[0])
				lp_diag_set_file(&diag, o->trusted[i]);
			lp_cli_fail(r, &diag, "trusted key");
			lp_keyring_free(ring);
			return LP_EXIT_USAGE;
		}
	}
	if (lp_keyring_count(ring) == 0) {
		log_error("no trusted keys found in %s%s", o->trusted[0], o->n_trusted > 1 ? " …" : "");
		lp_keyring_free(ring);
		return LP_EXIT_USAGE;
	}
	*ret_ring = ring;
	return 0;
}

/* The --decrypt-key files; a bad one is a usage error (exit 2) like a bad trusted key. */
static int load_decrypt(const struct verify_opts *o, struct lp_aes_keyring **ret_ring)
{
	struct lp_diag diag;
	int r;

	r = lp_aes_keyring_new(ret_ring);
	if (r < 0)
		return lp_cli_fail(r, NULL, "keyring");
	for (size_t i = 0; i < o->n_decrypt; i++) {
		lp_diag_clear(&diag);
		r = lp_aes_keyring_load(*ret_ring, o->decrypt[i], &diag);
		if (r < 0) {
			lp_cli_fail(r, &diag, "decryption key");
			return LP_EXIT_USAGE;
		}
	}
	return 0;
}

int pack_cmd_verify(struct lp_cli *cli, void *ctx)
{
	const char *path = cli->args[0];
	struct verify_opts o = { 0 };
	struct lp_keyring *ring = NULL;
	struct lp_aes_keyring *aes = NULL;
	struct lp_pkg_reader *reader = NULL;
	struct verify_result res = { 0 };
	struct stat st;
	int r, fd = -1, ret;

	ret = parse_options(cli, &o);
	if (ret == 0)
		ret = load_trusted(&o, &ring);
	if (ret == 0)
		ret = load_decrypt(&o, &aes);
	if (ret != 0)
		goto out;
	o.policy.trusted = ring;
	o.policy.decryption_keys = aes;
	res.decryption_keys = aes;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = lp_cli_fail(-errno, NULL, path);
		goto out;
	}
	r = lp_pkg_reader_new_fd(fd, &o.policy, &reader);
	if (r < 0) {
		ret = lp_cli_fail(r, NULL, path);
		goto out;
	}
	verify_stream(fd, (uint64_t)st.st_size, reader, &res);
	ret = lp_exit_from_errno(res.err);
	if (res.err)
		log_error("%s: %s: %s", path, lp_exit_name(ret), res.message);
	if (cli->json)
		r = print_json(path, &res, ret);
	else if (!res.err)
		print_text(path, &res);
	if (cli->json && r < 0)
		ret = lp_cli_fail(r, NULL, "output");
out:
	lp_pkg_reader_free(reader);
	if (fd >= 0)
		close(fd);
	lp_keyring_free(ring);
	lp_aes_keyring_free(aes);
	return ret;
}

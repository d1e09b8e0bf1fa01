/* SPDX-License-Identifier: MIT */
/* loopline-pack inspect: what a package says about itself, without verifying it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/codec.h"
#include "loopline/log.h"
#include "pack.h"

const struct lp_cli_opt pack_inspect_opts[] = {
	{ 0 },
};

const char pack_inspect_about[] =
	"Shows the manifest, the payload table and the key ids of the signatures. No trusted\n"
	"key is needed and NOTHING is verified: use 'verify' before trusting a package.\n"
	"The manifest is still read with the strict parser: a malformed package is an error\n"
	"(exit 11).";

static int print_json(const char *path, const struct pack_peek *p)
{
	cJSON *root = cJSON_CreateObject(), *sigs = NULL, *m = NULL;
	char *text = lp_manifest_serialize(p->manifest);
	int r = -ENOMEM;

	if (!root || !text)
		goto out;
	m = cJSON_Parse(text);
	sigs = cJSON_CreateArray();
	if (!m || !sigs)
		goto out;
	cJSON_AddStringToObject(root, "file", path);
	cJSON_AddNumberToObject(root, "file_size", (double)p->file_size);
	cJSON_AddBoolToObject(root, "verified", 0);
	cJSON_AddItemToObject(root, "manifest", m);
	m = NULL;
	for (size_t i = 0; i < p->n_sigs; i++) {
		cJSON *s = cJSON_CreateObject();

		if (!s)
			goto out;
		cJSON_AddItemToArray(sigs, s);
		cJSON_AddStringToObject(s, "keyid", p->keyids[i]);
		cJSON_AddStringToObject(s, "alg", p->algs[i]);
	}
	cJSON_AddItemToObject(root, "signatures", sigs);
	sigs = NULL;
	r = pack_print_json(root);
out:
	cJSON_Delete(m);
	cJSON_Delete(sigs);
	cJSON_Delete(root);
	free(text);
	return r;
}

static void print_text(const char *path, const struct pack_peek *p)
{
	const struct lp_manifest *m = p->manifest;
	char a[32], b[32], hex[65];

	printf("package:           %s (%s)\n", path, pack_size_text(p->file_size, a, sizeof(a)));
	printf("format:            %d\n", m->format);
	printf("product:           %s\n", m->product);
	printf("version:           %s\n", m->version);
	printf("security_version:  %llu\n", (unsigned long long)m->security_version);
	printf("compatible:        ");
	for (size_t i = 0; i < m->n_compatible; i++)
		printf("%s%s", i ? ", " : "", m->compatible[i]);
	printf("\ncreated:           %s\n", m->created);
	printf("min_agent_version: %s\n", m->min_agent_version[0] ? m->min_agent_version : "-");
	printf("payloads:          %zu\n", m->n_payloads);
	printf("  %-24s %-6s %-16s %12s %12s %-5s\n", "NAME", "TYPE", "TARGET", "SIZE", "STORED",
	       "COMPR");
	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct lp_payload_info *pl = &m->payloads[i];

		printf("  %-24s %-6s %-16s %12s %12s %-5s%s%s\n", pl->name,
		       lp_payload_type_name(pl->type), pl->target,
		       pack_size_text(pl->size, a, sizeof(a)),
		       pack_size_text(pl->stored_size, b, sizeof(b)),
		       lp_compression_name(pl->compression),
		       pl->encryption.present ? " encrypted" : "",
		       pl->delta.present ? " delta" : "");
		printf("    sha256        %s\n", lp_hex_encode(pl->sha256, 32, hex));
		printf("    stored_sha256 %s\n", lp_hex_encode(pl->stored_sha256, 32, hex));
		if (pl->encryption.present)
			printf("    encryption    %s, key_id %s, chunks of %u bytes\n",
			       pl->encryption.alg, pl->encryption.key_id, pl->encryption.chunk_size);
		if (pl->delta.present) {
			printf("    delta         %s from %s\n", pl->delta.algorithm,
			       pl->delta.base_version);
			printf("    base_size     %llu (%s)\n", (unsigned long long)pl->delta.base_size,
			       pack_size_text(pl->delta.base_size, a, sizeof(a)));
			printf("    base_sha256   %s\n", lp_hex_encode(pl->delta.base_sha256, 32, hex));
		}
	}
	printf("signatures:        %zu (NOT verified; use '%s verify --trusted KEY')\n",
	       p->n_sigs, PACK_PROG);
	for (size_t i = 0; i < p->n_sigs; i++)
		printf("  %s %s\n", p->keyids[i], p->algs[i]);
}

int pack_cmd_inspect(struct lp_cli *cli, void *ctx)
{
	const char *path = cli->args[0];
	struct pack_peek peek;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = pack_peek_file(path, &peek, &diag);
	if (r < 0)
		return lp_cli_fail(r, &diag, path);
	if (cli->json)
		r = print_json(path, &peek);
	else
		print_text(path, &peek);
	pack_peek_clear(&peek);
	if (r < 0)
		return lp_cli_fail(r, NULL, "output");
	return fflush(stdout) == 0 ? LP_EXIT_OK : LP_EXIT_FAILURE;
}

/* SPDX-License-Identifier: MIT */
/* loopline-pack inspect: what a package says about itself, without verifying it. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/log.h"
#include "pack.h"

static const char help[] =
	"Usage: " PACK_PROG " inspect [--json] FILE.lpkg\n"
	"\n"
	"Shows the manifest, the payload table and the key ids of the signatures. No trusted\n"
	"key is needed and NOTHING is verified: use 'verify' before trusting a package.\n"
	"\n"
	"  -j, --json     machine-readable output\n"
	"  -v, --verbose  more messages\n"
	"  -h, --help     this help\n";

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
		printf("    sha256        %s\n", pack_sha256_hex(pl->sha256, hex));
		printf("    stored_sha256 %s\n", pack_sha256_hex(pl->stored_sha256, hex));
		if (pl->delta.present)
			printf("    delta         %s from %s\n", pl->delta.algorithm,
			       pl->delta.base_version);
	}
	printf("signatures:        %zu (NOT verified; use '%s verify --trusted KEY')\n",
	       p->n_sigs, PACK_PROG);
	for (size_t i = 0; i < p->n_sigs; i++)
		printf("  %s %s\n", p->keyids[i], p->algs[i]);
}

int pack_cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pack_peek peek;
	struct lp_diag diag;
	bool json = false;
	int c, r;

	opterr = 0;
	argv[0] = (char *)PACK_PROG " inspect";
	while ((c = getopt_long(argc, argv, ":jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'v': pack_verbose(); break;
		case 'h': return pack_help(help);
		default: return pack_option_error("inspect", c, argv);
		}
	}
	if (optind >= argc)
		return pack_usage_error("inspect", "missing FILE.lpkg");
	if (optind + 1 < argc)
		return pack_usage_error("inspect", "unexpected argument '%s'", argv[optind + 1]);

	lp_diag_clear(&diag);
	r = pack_peek_file(argv[optind], &peek, &diag);
	if (r < 0)
		return pack_fail(argv[optind], r, &diag);
	if (json)
		r = print_json(argv[optind], &peek);
	else
		print_text(argv[optind], &peek);
	pack_peek_clear(&peek);
	if (r < 0)
		return pack_fail("output", r, NULL);
	return fflush(stdout) == 0 ? PACK_EXIT_OK : PACK_EXIT_FAILURE;
}

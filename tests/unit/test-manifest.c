/* SPDX-License-Identifier: MIT */
/*
 * manifest.json (format 1) and manifest.sig: the strict parsers, table-driven over
 * broken documents (each with the element path and error it must report), and the
 * canonical serialisers (serialize(parse(x)) is stable, parse(serialize(m)) == m).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopline/package.h"
#include "../../lib/package-internal.h"

#define H1 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define H2 "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

/* A valid manifest with the three kinds of payload objects; tests replace parts of it. */
static const char *valid =
	"{\"format\":1,\"product\":\"loopline-reference\",\"version\":\"1.2.0\","
	"\"security_version\":3,\"compatible\":[\"qemu-x86_64\",\"qemu-aarch64\"],"
	"\"created\":\"2026-11-25T19:00:00Z\",\"min_agent_version\":\"0.1.0\",\"payloads\":["
	"{\"name\":\"rootfs.img.zst\",\"type\":\"image\",\"target\":\"rootfs\",\"size\":67108864,"
	"\"sha256\":\"" H1 "\",\"stored_size\":9123456,\"stored_sha256\":\"" H2 "\","
	"\"compression\":\"zstd\",\"encryption\":null,\"delta\":null},"
	"{\"name\":\"rootfs.delta\",\"type\":\"delta\",\"target\":\"rootfs\",\"size\":67108864,"
	"\"sha256\":\"" H1 "\",\"stored_size\":1000,\"stored_sha256\":\"" H2 "\","
	"\"compression\":\"none\",\"encryption\":{\"alg\":\"aes-256-gcm-chunked\",\"key_id\":\"fleet-2026\","
	"\"chunk_size\":65536,\"nonce\":\"AAECAwQFBgcICQoL\"},"
	"\"delta\":{\"algorithm\":\"bsdiff-sa\",\"base_version\":\"1.1.0\",\"base_sha256\":\"" H2 "\","
	"\"base_size\":67108864}},"
	"{\"name\":\"hook.sh\",\"type\":\"script\",\"target\":\"post-install\",\"size\":5,"
	"\"sha256\":\"" H1 "\",\"stored_size\":5,\"stored_sha256\":\"" H1 "\","
	"\"compression\":\"none\",\"encryption\":null,\"delta\":null}]}";

static void test_valid(void **state)
{
	struct lp_manifest *m = NULL, *m2 = NULL;
	struct lp_diag d = { 0 };
	char *text, *text2;

	if (lp_manifest_parse(valid, strlen(valid), &m, &d) != 0)
		fail_msg("%s: %s", d.path, d.msg);
	assert_int_equal(m->format, 1);
	assert_string_equal(m->product, "loopline-reference");
	assert_string_equal(m->version, "1.2.0");
	assert_int_equal(m->security_version, 3);
	assert_int_equal(m->n_compatible, 2);
	assert_string_equal(m->compatible[1], "qemu-aarch64");
	assert_string_equal(m->min_agent_version, "0.1.0");
	assert_int_equal(m->n_payloads, 3);
	assert_int_equal(m->payloads[0].size, 67108864);
	assert_int_equal(m->payloads[0].stored_size, 9123456);
	assert_int_equal(m->payloads[0].compression, LP_COMPRESSION_ZSTD);
	assert_int_equal(m->payloads[0].sha256[0], 0x2c);
	assert_int_equal(m->payloads[0].stored_sha256[31], 0xa7);
	assert_false(m->payloads[0].encryption.present);
	assert_int_equal(m->payloads[1].type, LP_PAYLOAD_DELTA);
	assert_true(m->payloads[1].encryption.present);
	assert_int_equal(m->payloads[1].encryption.chunk_size, 65536);
	assert_int_equal(m->payloads[1].encryption.nonce[11], 11);
	assert_string_equal(m->payloads[1].delta.algorithm, "bsdiff-sa");
	assert_string_equal(m->payloads[1].delta.base_version, "1.1.0");
	assert_int_equal(m->payloads[1].delta.base_size, 67108864);
	assert_int_equal(m->payloads[2].type, LP_PAYLOAD_SCRIPT);

	/* Canonical output: the input above is already canonical. */
	text = lp_manifest_serialize(m);
	assert_non_null(text);
	assert_string_equal(text, valid);
	assert_int_equal(lp_manifest_parse(text, strlen(text), &m2, &d), 0);
	text2 = lp_manifest_serialize(m2);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	lp_manifest_free(m2);
	lp_manifest_free(m);

	/* Whitespace anywhere, including trailing padding, is fine. */
	{
		char buf[4096];

		snprintf(buf, sizeof(buf), " \n%s      \n", valid);
		assert_int_equal(lp_manifest_parse(buf, strlen(buf), &m, &d), 0);
		lp_manifest_free(m);
	}
	assert_string_equal(lp_payload_type_name(LP_PAYLOAD_FILE), "file");
	assert_string_equal(lp_compression_name(LP_COMPRESSION_NONE), "none");
	lp_manifest_free(NULL);
}

/* Replaces the first occurrence of from in valid with to. */
static char *edit(const char *from, const char *to)
{
	const char *at = strstr(valid, from);
	size_t n = strlen(valid) - strlen(from) + strlen(to) + 1;
	char *out;

	if (!at)
		fail_msg("edit: \"%s\" not in the manifest", from);
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - valid), valid, to, at + strlen(from));
	return out;
}

struct bad_case {
	const char *from, *to;
	int err;
	const char *path; /* expected diag path */
	const char *msg;  /* expected substring of the message */
};

static const char long101[] =
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static void test_invalid(void **state)
{
	char name_long[160], prod_long[200];
	const struct bad_case cases[] = {
		{ "\"format\":1", "\"format\":2", -EBADMSG, "format", "unsupported package format 2" },
		{ "\"format\":1", "\"format\":\"1\"", -EBADMSG, "format", "" },
		{ "\"product\":\"loopline-reference\",", "", -EBADMSG, "product", "" },
		{ "\"security_version\":3", "\"security_version\":3,\"colour\":1", -EBADMSG, "colour", "unknown key" },
		{ "\"delta\":null}", "\"delta\":null,\"extra\":true}", -EBADMSG, "payloads[0].extra", "unknown key" },
		{ "\"base_size\":67108864}", "\"base_size\":67108864,\"x\":1}", -EBADMSG, "payloads[1].delta.x", "unknown key" },
		{ "\"version\":\"1.2.0\"", "\"version\":\"v1.2.0\"", -EBADMSG, "version", "not a semantic version" },
		{ "\"version\":\"1.2.0\"", "\"version\":\"1.02.0\"", -EBADMSG, "version", "" },
		{ "\"min_agent_version\":\"0.1.0\"", "\"min_agent_version\":\"0.1\"", -EBADMSG, "min_agent_version", "" },
		{ "\"security_version\":3", "\"security_version\":-1", -EBADMSG, "security_version", "" },
		{ "\"security_version\":3", "\"security_version\":3.5", -EBADMSG, "security_version", "" },
		{ "\"security_version\":3", "\"security_version\":9007199254740992", -EBADMSG, "security_version", "" },
		{ "[\"qemu-x86_64\",\"qemu-aarch64\"]", "[]", -EBADMSG, "compatible", "at least one" },
		{ "[\"qemu-x86_64\",\"qemu-aarch64\"]", "[\"a\",\"a\"]", -EBADMSG, "compatible[1]", "duplicate" },
		{ "[\"qemu-x86_64\",\"qemu-aarch64\"]", "[\"a\",1]", -EBADMSG, "compatible[1]", "expected a string" },
		{ "[\"qemu-x86_64\",\"qemu-aarch64\"]", "[\"a b\"]", -EBADMSG, "compatible[0]", "" },
		{ "2026-11-25T19:00:00Z", "2026-11-25 19:00:00", -EBADMSG, "created", "YYYY-MM-DDTHH:MM:SSZ" },
		{ "2026-11-25T19:00:00Z", "2026-02-30T19:00:00Z", -EBADMSG, "created", "" },
		{ "2026-11-25T19:00:00Z", "2026-11-25T19:00:00+01:00", -EBADMSG, "created", "" },
		{ "\"name\":\"rootfs.img.zst\"", "\"name\":\".hidden\"", -EBADMSG, "payloads[0].name", "starts with '.'" },
		{ "\"name\":\"rootfs.img.zst\"", "\"name\":\"a/b\"", -EBADMSG, "payloads[0].name", "not in [A-Za-z0-9._-]" },
		{ "\"name\":\"rootfs.img.zst\"", "\"name\":\"\"", -EBADMSG, "payloads[0].name", "empty" },
		{ "\"name\":\"rootfs.img.zst\"", "\"name\":\"manifest.sig\"", -EBADMSG, "payloads[0].name", "reserved" },
		{ "\"name\":\"rootfs.img.zst\"", name_long, -E2BIG, "payloads[0].name", "longer than 100" },
		{ "\"name\":\"hook.sh\"", "\"name\":\"rootfs.img.zst\"", -EBADMSG, "payloads[2].name", "duplicate payload name" },
		{ "\"product\":\"loopline-reference\"", prod_long, -E2BIG, "product", "longer than 127" },
		{ "\"type\":\"image\"", "\"type\":\"firmware\"", -EBADMSG, "payloads[0].type", "" },
		{ "\"compression\":\"zstd\"", "\"compression\":\"gzip\"", -EBADMSG, "payloads[0].compression", "" },
		{ "\"sha256\":\"" H1 "\"", "\"sha256\":\"" "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824" "\"",
		  -EBADMSG, "payloads[0].sha256", "lower-case hex" },
		{ "\"sha256\":\"" H1 "\"", "\"sha256\":\"2cf2\"", -EBADMSG, "payloads[0].sha256", "64 hex digits" },
		{ "\"size\":67108864", "\"size\":\"67108864\"", -EBADMSG, "payloads[0].size", "" },
		{ "\"encryption\":null,\"delta\":null},{\"name\":\"rootfs.delta\"", "\"delta\":null},{\"name\":\"rootfs.delta\"",
		  -EBADMSG, "payloads[0].encryption", "" },
		{ "\"type\":\"delta\"", "\"type\":\"image\"", -EBADMSG, "payloads[1].delta", "only payloads of type delta" },
		{ "\"type\":\"script\"", "\"type\":\"delta\"", -EBADMSG, "payloads[2].delta", "needs a delta object" },
		{ "\"nonce\":\"AAECAwQFBgcICQoL\"", "\"nonce\":\"AAECAwQFBgcICQ==\"", -EBADMSG, "payloads[1].encryption.nonce", "12 bytes" },
		{ "\"alg\":\"aes-256-gcm-chunked\"", "\"alg\":\"aes-128-cbc\"", -EBADMSG, "payloads[1].encryption.alg", "unsupported" },
		{ "\"chunk_size\":65536", "\"chunk_size\":1", -EBADMSG, "payloads[1].encryption.chunk_size", "" },
		{ "\"algorithm\":\"bsdiff-sa\"", "\"algorithm\":\"BSDIFF\"", -EBADMSG, "payloads[1].delta.algorithm", "" },
		{ "\"stored_size\":5,", "\"stored_size\":6,", -EBADMSG, "payloads[2].stored_size", "must equal size" },
		{ "\"stored_sha256\":\"" H1 "\"", "\"stored_sha256\":\"" H2 "\"", -EBADMSG, "payloads[2].stored_sha256", "must equal sha256" },
		{ "{\"format\":1,", "{\"format\":1,\"format\":1,", -EBADMSG, "format", "duplicate key" },
		{ "]}", "]", -EBADMSG, "", "" },
	};

	snprintf(name_long, sizeof(name_long), "\"name\":\"%s\"", long101);
	{
		char p[129];

		memset(p, 'p', 128);
		p[128] = '\0';
		snprintf(prod_long, sizeof(prod_long), "\"product\":\"%s\"", p);
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		char *text = edit(cases[i].from, cases[i].to);
		struct lp_manifest *m = NULL;
		struct lp_diag d = { 0 };
		int rc = lp_manifest_parse(text, strlen(text), &m, &d);

		if (rc != cases[i].err || strcmp(d.path, cases[i].path) != 0 ||
		    !strstr(d.msg, cases[i].msg))
			fail_msg("case %zu (%s): got %d \"%s: %s\", expected %d \"%s: …%s…\"", i, cases[i].to,
				 rc, d.path, d.msg, cases[i].err, cases[i].path, cases[i].msg);
		assert_null(m);
		free(text);
	}
}

static void test_limits(void **state)
{
	struct lp_manifest *m = NULL;
	struct lp_diag d = { 0 };
	char *big = malloc(LP_PKG_MANIFEST_MAX + 1);
	size_t off;

	memset(big, ' ', LP_PKG_MANIFEST_MAX + 1);
	assert_int_equal(lp_manifest_parse(big, LP_PKG_MANIFEST_MAX + 1, &m, &d), -E2BIG);

	off = (size_t)snprintf(big, LP_PKG_MANIFEST_MAX,
			       "{\"format\":1,\"product\":\"p\",\"version\":\"1.0.0\",\"security_version\":1,"
			       "\"created\":\"2026-11-25T19:00:00Z\",\"payloads\":[],\"compatible\":[");
	for (int i = 0; i <= LP_PKG_MAX_COMPATIBLE; i++)
		off += (size_t)snprintf(big + off, LP_PKG_MANIFEST_MAX - off, "%s\"hw%d\"", i ? "," : "", i);
	snprintf(big + off, LP_PKG_MANIFEST_MAX - off, "]}");
	assert_int_equal(lp_manifest_parse(big, strlen(big), &m, &d), -E2BIG);
	assert_string_equal(d.path, "compatible");
	free(big);
}

static void test_roundtrip_struct(void **state)
{
	struct lp_manifest m = { 0 }, *back = NULL;
	char compat[1][LP_PKG_FIELD_MAX] = { "board" };
	struct lp_payload_info pl = { 0 };
	struct lp_diag d = { 0 };
	char *text;

	m.format = 1;
	snprintf(m.product, sizeof(m.product), "prod \"quoted\" \\ back");
	snprintf(m.version, sizeof(m.version), "2.0.0-rc.1+build.5");
	snprintf(m.created, sizeof(m.created), "2030-01-02T03:04:05Z");
	m.security_version = 9007199254740991ULL;
	m.compatible = compat;
	m.n_compatible = 1;
	snprintf(pl.name, sizeof(pl.name), "x");
	snprintf(pl.target, sizeof(pl.target), "/data/x");
	pl.type = LP_PAYLOAD_FILE;
	pl.size = pl.stored_size = 0;
	m.payloads = &pl;
	m.n_payloads = 1;
	text = lp_manifest_serialize(&m);
	assert_non_null(text);
	assert_null(strstr(text, "min_agent_version"));
	if (lp_manifest_parse(text, strlen(text), &back, &d) != 0)
		fail_msg("%s: %s", d.path, d.msg);
	assert_string_equal(back->product, m.product);
	assert_string_equal(back->version, m.version);
	assert_int_equal(back->security_version, m.security_version);
	assert_string_equal(back->payloads[0].target, "/data/x");
	assert_string_equal(back->min_agent_version, "");
	lp_manifest_free(back);
	free(text);
}

static void test_sig(void **state)
{
	const char *sig64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
	struct lp_pkg_sigset set;
	struct lp_diag d = { 0 };
	char buf[1024], *out;
	const struct {
		const char *doc;
		int err;
		const char *path;
	} bad[] = {
		{ "{\"signatures\":[]}", -EBADMSG, "signatures" },
		{ "{\"signatures\":[{\"keyid\":\"0123456789abcdef\",\"alg\":\"rsa\",\"sig\":\"%s\"}]}", -EBADMSG, "signatures[0].alg" },
		{ "{\"signatures\":[{\"keyid\":\"0123456789ABCDEF\",\"alg\":\"ed25519\",\"sig\":\"%s\"}]}", -EBADMSG, "signatures[0].keyid" },
		{ "{\"signatures\":[{\"keyid\":\"0123\",\"alg\":\"ed25519\",\"sig\":\"%s\"}]}", -EBADMSG, "signatures[0].keyid" },
		{ "{\"signatures\":[{\"keyid\":\"0123456789abcdef\",\"alg\":\"ed25519\",\"sig\":\"AAEC\"}]}", -EBADMSG, "signatures[0].sig" },
		{ "{\"signatures\":[{\"keyid\":\"0123456789abcdef\",\"alg\":\"ed25519\",\"sig\":\"%s\",\"x\":1}]}", -EBADMSG, "signatures[0].x" },
		{ "{\"signatures\":[{\"keyid\":\"0123456789abcdef\",\"alg\":\"ed25519\",\"sig\":\"%s\"},"
		  "{\"keyid\":\"0123456789abcdef\",\"alg\":\"ed25519\",\"sig\":\"%s\"}]}", -EBADMSG, "signatures[1].keyid" },
		{ "{\"sigs\":[]}", -EBADMSG, "sigs" },
	};

	snprintf(buf, sizeof(buf), "{\"signatures\":[{\"keyid\":\"0123456789abcdef\",\"alg\":\"ed25519\",\"sig\":\"%s\"}]}",
		 sig64);
	if (lp_pkg_sig_parse(buf, strlen(buf), &set, &d) != 0)
		fail_msg("%s: %s", d.path, d.msg);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.sigs[0].keyid, "0123456789abcdef");
	assert_int_equal(set.sigs[0].sig[63], 63);
	out = lp_pkg_sig_serialize(&set);
	assert_string_equal(out, buf);
	free(out);

	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		struct lp_diag e = { 0 };
		int rc;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
		snprintf(buf, sizeof(buf), bad[i].doc, sig64, sig64);
#pragma GCC diagnostic pop
		rc = lp_pkg_sig_parse(buf, strlen(buf), &set, &e);
		if (rc != bad[i].err || strcmp(e.path, bad[i].path) != 0)
			fail_msg("sig case %zu: %d %s: %s", i, rc, e.path, e.msg);
	}
	/* 17 signatures: over the limit. */
	{
		size_t off = (size_t)snprintf(buf, sizeof(buf), "{\"signatures\":[");
		char *big = malloc(8192);

		memcpy(big, buf, off);
		for (int i = 0; i <= LP_PKG_MAX_SIGNATURES; i++)
			off += (size_t)snprintf(big + off, 8192 - off,
						"%s{\"keyid\":\"%016x\",\"alg\":\"ed25519\",\"sig\":\"%s\"}",
						i ? "," : "", i, sig64);
		snprintf(big + off, 8192 - off, "]}");
		assert_int_equal(lp_pkg_sig_parse(big, strlen(big), &set, &d), -E2BIG);
		free(big);
	}
}

static void test_created(void **state)
{
	int64_t t;

	assert_int_equal(lp_pkg_created_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(lp_pkg_created_parse("2026-11-25T19:00:00Z", &t), 0);
	assert_int_equal(t, 1795633200);
	assert_int_equal(lp_pkg_created_parse("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(lp_pkg_created_parse("2025-02-29T00:00:00Z", &t), -EINVAL);
	assert_int_equal(lp_pkg_created_parse("2025-13-01T00:00:00Z", &t), -EINVAL);
	assert_int_equal(lp_pkg_created_parse("2025-12-01T24:00:00Z", &t), -EINVAL);
	assert_int_equal(lp_pkg_created_parse("2025-12-01T00:00:00z", &t), -EINVAL);
	assert_int_equal(lp_pkg_created_parse("1969-12-31T23:59:59Z", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_roundtrip_struct),
		cmocka_unit_test(test_sig),
		cmocka_unit_test(test_created),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

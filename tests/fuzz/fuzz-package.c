/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the whole package reader with one trusted key (a fixed test key; its
 * private half is in tests/unit/test-package.c, which also writes the seed packages).
 * The sink aborts if it is ever called before lp_pkg_reader_open succeeded, and a
 * payload is only "accepted" if streaming it returned 0.
 *
 * The same input also goes through lp_pkg_peek (no verification): it must refuse with a
 * message or return a manifest, and whatever the verifying reader opens, peek reads
 * the same way (same payload count, same key ids).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/package.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const uint8_t fuzz_pub[LP_ED25519_PUB_LEN] = {
	0xa6, 0x1c, 0xf9, 0x00, 0xc0, 0x20, 0x70, 0xc3, 0xf5, 0xb4, 0x7e, 0x67,
	0xcd, 0x25, 0xac, 0x2e, 0x21, 0x48, 0xe2, 0x01, 0x34, 0xee, 0xa5, 0x68,
	0x5c, 0x8e, 0x22, 0xbe, 0xf0, 0x1b, 0x43, 0x9d,
};

struct src {
	const unsigned char *data;
	size_t len, off;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->off;

	if (n > len)
		n = len;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static bool opened;

static int sink(void *ctx, const void *data, size_t len)
{
	if (!opened)
		abort(); /* a payload byte before the signature check */
	*(uint64_t *)ctx += len;
	return 0;
}

static void peek(const unsigned char *data, size_t size, struct lp_pkg_reader *opened_reader,
		 const struct lp_manifest *opened_manifest)
{
	struct src s = { .data = data, .len = size };
	struct lp_signature_info sigs[LP_PKG_MAX_SIGNATURES];
	struct lp_manifest *m = NULL;
	struct lp_diag d = { 0 };
	size_t n = 0;
	int rc = lp_pkg_peek(src_read, &s, &m, sigs, &n, &d);

	if (rc < 0) {
		if (m || (rc != -ENOMEM && !d.msg[0]) || opened_reader)
			abort(); /* refused without a message, or refused what the reader opened */
		return;
	}
	if (!m || n == 0 || n > LP_PKG_MAX_SIGNATURES)
		abort();
	for (size_t i = 0; i < n; i++)
		if (sigs[i].trusted || sigs[i].valid)
			abort(); /* peek verifies nothing and must not say otherwise */
	if (opened_reader) {
		const struct lp_signature_info *rs;
		size_t rn = lp_pkg_reader_signatures(opened_reader, &rs);

		if (rn != n || opened_manifest->n_payloads != m->n_payloads ||
		    strcmp(opened_manifest->version, m->version) != 0)
			abort();
		for (size_t i = 0; i < n; i++)
			if (strcmp(rs[i].keyid, sigs[i].keyid) != 0)
				abort();
	}
	lp_manifest_free(m);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct lp_keyring *ring;
	struct src s = { .data = data, .len = size };
	struct lp_pkg_policy pol = { .compatible = "qemu-x86_64", .agent_version = "1.0.0" };
	struct lp_pkg_reader *r;
	const struct lp_manifest *m;
	const struct lp_payload_info *info;
	struct lp_diag d = { 0 };
	int rc, rc_open;

	if (!ring) {
		struct lp_key *key;

		if (lp_keyring_new(&ring) < 0 || lp_key_from_raw_public(fuzz_pub, &key) < 0 ||
		    lp_keyring_add(ring, key) < 0)
			abort();
	}
	pol.trusted = ring;
	opened = false;
	if (lp_pkg_reader_new(src_read, &s, &pol, &r) < 0)
		return 0;
	rc = rc_open = lp_pkg_reader_open(r, &m, &d);
	if (rc == 0) {
		opened = true;
		while ((rc = lp_pkg_reader_next(r, &info, &d)) == 1) {
			uint64_t got = 0;

			rc = lp_pkg_reader_stream(r, info->type == LP_PAYLOAD_DELTA ? NULL : sink, &got, &d);
			if (rc < 0)
				break;
			if (info->type != LP_PAYLOAD_DELTA && !info->encryption.present && got != info->size)
				abort(); /* accepted with the wrong size */
		}
	}
	peek(data, size, rc_open == 0 ? r : NULL, rc_open == 0 ? m : NULL);
	lp_pkg_reader_free(r);
	return 0;
}

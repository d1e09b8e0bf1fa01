/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the "aes-256-gcm-chunked" decryption stream (loopline/package-crypt.h)
 * with a fixed key, nonce and the smallest chunk size. The first input byte chooses how
 * the rest is fed (whole, or in pieces of 1 … 255 bytes); the rest is the ciphertext.
 *
 * Must hold: a refusal comes with a message; nothing is handed on after a failure; and
 * whatever is accepted is exactly what encrypting its plaintext gives (so no altered,
 * cut, reordered or extended stream is ever accepted). The seeds in
 * tests/fuzz/corpus/package-decrypt/ are real ciphertexts of this key and nonce.
 */
#include <stdlib.h>
#include <string.h>

#include "loopline/package-crypt.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define FUZZ_CHUNK 4096u
#define FUZZ_MAX (64u * 1024)

struct buf {
	unsigned char data[FUZZ_MAX + 16];
	size_t len;
	bool failed;
};

static int collect(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;

	if (b->failed || len > sizeof(b->data) - b->len)
		abort(); /* output after a failure, or more output than input */
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static struct lp_aes_key *fuzz_key(void)
{
	static struct lp_aes_key *key;
	uint8_t raw[LP_AES_KEY_LEN];

	if (!key) {
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (uint8_t)(i + 1);
		if (lp_aes_key_from_raw(raw, &key) < 0)
			abort();
	}
	return key;
}

static int run(enum lp_pkg_crypt_mode mode, const struct lp_payload_encryption *enc,
	       const unsigned char *in, size_t len, size_t piece, struct buf *out, struct lp_diag *d)
{
	struct lp_pkg_crypt *c = NULL;
	int rc = lp_pkg_crypt_new(mode, fuzz_key(), enc, "payload fuzz", collect, out, d, &c);

	if (rc < 0)
		abort();
	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = lp_pkg_crypt_write(c, in + off, len - off < piece ? len - off : piece);
	if (rc == 0)
		rc = lp_pkg_crypt_finish(c);
	if (rc < 0 && (!lp_pkg_crypt_failed(c) || !d->msg[0]))
		abort(); /* a refusal without its own message */
	out->failed = rc < 0;
	lp_pkg_crypt_free(c);
	return rc;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct buf plain, again;
	struct lp_payload_encryption enc = { .present = true, .chunk_size = FUZZ_CHUNK };
	struct lp_diag d = { 0 };
	size_t piece;

	if (size < 1 || size - 1 > FUZZ_MAX)
		return 0;
	memcpy(enc.nonce, "lpfuzz!!", 8);
	piece = data[0] ? data[0] : size;
	plain.len = 0;
	plain.failed = false;
	if (run(LP_PKG_DECRYPT, &enc, data + 1, size - 1, piece, &plain, &d) < 0)
		return 0;
	/* Accepted: it must be the canonical ciphertext of what came out. */
	again.len = 0;
	again.failed = false;
	if (run(LP_PKG_ENCRYPT, &enc, plain.data, plain.len, 4096, &again, &d) < 0)
		abort();
	if (again.len != size - 1 || memcmp(again.data, data + 1, again.len) != 0)
		abort();
	return 0;
}

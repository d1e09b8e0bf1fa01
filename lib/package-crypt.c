/* SPDX-License-Identifier: MIT */
/*
 * "aes-256-gcm-chunked" payload encryption (loopline/package-crypt.h): AES key files, a
 * keyring of decryption keys by key id, and the chunked AES-256-GCM stream that the
 * package writer puts after compression and the reader puts before decompression.
 *
 * The stream buffers one chunk of input; a full chunk is sealed (or opened) only when
 * the next byte arrives, since only then is it known not to be the last. Decryption
 * writes into a second buffer and hands it on only after the tag verified.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "loopline/codec.h"
#include "loopline/fs.h"
#include "loopline/hash.h"
#include "loopline/package-crypt.h"
#include "package-internal.h"

#define KEYID_DOMAIN "loopline-aes-key-id"
#define AES_KEYRING_MAX 64u
#define NONCE_PREFIX_LEN 8
#define MAX_CHUNKS (UINT64_C(1) << 32)

struct lp_aes_key {
	uint8_t raw[LP_AES_KEY_LEN];
	char id[LP_AES_KEYID_LEN + 1];
};

struct lp_aes_keyring {
	struct lp_aes_key *keys[AES_KEYRING_MAX];
	size_t n;
};

/* ---- keys ---- */

int lp_aes_key_from_raw(const uint8_t raw[LP_AES_KEY_LEN], struct lp_aes_key **ret_key)
{
	uint8_t digest[LP_HASH_MAX_LEN];
	struct lp_hash *h = NULL;
	struct lp_aes_key *key;
	int r;

	key = calloc(1, sizeof(*key));
	if (!key)
		return -ENOMEM;
	memcpy(key->raw, raw, LP_AES_KEY_LEN);
	r = lp_hash_new(LP_HASH_SHA256, &h);
	if (r == 0)
		r = lp_hash_update(h, KEYID_DOMAIN, strlen(KEYID_DOMAIN));
	if (r == 0)
		r = lp_hash_update(h, raw, LP_AES_KEY_LEN);
	if (r == 0)
		r = lp_hash_final(h, digest);
	lp_hash_free(h);
	if (r < 0) {
		lp_aes_key_free(key);
		return r;
	}
	lp_hex_encode(digest, LP_AES_KEYID_LEN / 2, key->id);
	*ret_key = key;
	return 0;
}

int lp_aes_key_generate(struct lp_aes_key **ret_key)
{
	uint8_t raw[LP_AES_KEY_LEN];
	int r;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	r = lp_aes_key_from_raw(raw, ret_key);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

int lp_aes_key_parse(const char *text, size_t len, struct lp_aes_key **ret_key,
		     struct lp_diag *diag)
{
	uint8_t raw[LP_AES_KEY_LEN], any = 0;
	size_t n = len;
	int r;

	if (memmem(text, len, "-----BEGIN", 10))
		return lp_diag_fail(diag, -EINVAL,
				    "this is a PEM file (a signing key?); an AES key file holds 64 hex digits");
	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n != 2 * LP_AES_KEY_LEN)
		return lp_diag_fail(diag, -EINVAL,
				    "expected 64 hex digits (a 256-bit AES key) and a newline, found %zu bytes",
				    len);
	if (lp_hex_decode(text, n, raw, sizeof(raw)) < 0)
		return lp_diag_fail(diag, -EINVAL, "not a key: expected 64 hex digits");
	for (size_t i = 0; i < sizeof(raw); i++)
		any |= raw[i];
	if (!any)
		return lp_diag_fail(diag, -EINVAL, "an all-zero key is refused");
	r = lp_aes_key_from_raw(raw, ret_key);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

int lp_aes_key_load(const char *path, struct lp_aes_key **ret_key, struct lp_diag *diag)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = lp_fs_read_file_diag(path, LP_AES_KEY_FILE_MAX, &text, &len, diag);
	if (r < 0)
		return r;
	r = lp_aes_key_parse(text, len, ret_key, diag);
	OPENSSL_cleanse(text, len);
	free(text);
	return r;
}

int lp_aes_key_save(const struct lp_aes_key *key, const char *path, bool overwrite)
{
	char text[2 * LP_AES_KEY_LEN + 2];
	int r;

	lp_hex_encode(key->raw, LP_AES_KEY_LEN, text);
	text[2 * LP_AES_KEY_LEN] = '\n';
	r = lp_fs_write_atomic(path, text, 2 * LP_AES_KEY_LEN + 1, 0600,
			       overwrite ? 0 : LP_FS_NOREPLACE);
	OPENSSL_cleanse(text, sizeof(text));
	return r;
}

const char *lp_aes_key_id(const struct lp_aes_key *key)
{
	return key->id;
}

void lp_aes_key_free(struct lp_aes_key *key)
{
	if (!key)
		return;
	OPENSSL_cleanse(key, sizeof(*key));
	free(key);
}

int lp_aes_keyring_new(struct lp_aes_keyring **ret_ring)
{
	struct lp_aes_keyring *ring = calloc(1, sizeof(*ring));

	if (!ring)
		return -ENOMEM;
	*ret_ring = ring;
	return 0;
}

int lp_aes_keyring_add(struct lp_aes_keyring *ring, struct lp_aes_key *key)
{
	int r = 0;

	if (!ring || !key)
		r = -EINVAL;
	else if (lp_aes_keyring_find(ring, key->id))
		r = -EEXIST;
	else if (ring->n == AES_KEYRING_MAX)
		r = -E2BIG;
	if (r < 0) {
		lp_aes_key_free(key);
		return r;
	}
	ring->keys[ring->n++] = key;
	return 0;
}

int lp_aes_keyring_load(struct lp_aes_keyring *ring, const char *path, struct lp_diag *diag)
{
	struct lp_aes_key *key = NULL;
	char id[LP_AES_KEYID_LEN + 1];
	int r;

	r = lp_aes_key_load(path, &key, diag);
	if (r < 0)
		return r;
	memcpy(id, key->id, sizeof(id));
	r = lp_aes_keyring_add(ring, key);
	if (r == -EEXIST)
		return lp_diag_fail(diag, r, "key %s is already in the keyring", id);
	if (r == -E2BIG)
		return lp_diag_fail(diag, r, "more than %u decryption keys", AES_KEYRING_MAX);
	return r;
}

const struct lp_aes_key *lp_aes_keyring_find(const struct lp_aes_keyring *ring, const char *key_id)
{
	if (!ring || !key_id)
		return NULL;
	for (size_t i = 0; i < ring->n; i++)
		if (strcmp(ring->keys[i]->id, key_id) == 0)
			return ring->keys[i];
	return NULL;
}

size_t lp_aes_keyring_count(const struct lp_aes_keyring *ring)
{
	return ring ? ring->n : 0;
}

void lp_aes_keyring_free(struct lp_aes_keyring *ring)
{
	if (!ring)
		return;
	for (size_t i = 0; i < ring->n; i++)
		lp_aes_key_free(ring->keys[i]);
	free(ring);
}

/* ---- the manifest side ---- */

int lp_pkg_crypt_describe(const struct lp_aes_key *key, uint32_t chunk_size,
			  struct lp_payload_encryption *ret_enc)
{
	struct lp_payload_encryption enc = { .present = true };

	if (chunk_size == 0)
		chunk_size = LP_PKG_CRYPT_CHUNK_DEFAULT;
	if (!key || chunk_size < LP_PKG_CHUNK_MIN || chunk_size > LP_PKG_CHUNK_MAX)
		return -EINVAL;
	if (RAND_bytes(enc.nonce, NONCE_PREFIX_LEN) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	snprintf(enc.alg, sizeof(enc.alg), "%s", LP_PKG_CRYPT_ALG);
	snprintf(enc.key_id, sizeof(enc.key_id), "%s", key->id);
	enc.chunk_size = chunk_size;
	*ret_enc = enc;
	return 0;
}

uint64_t lp_pkg_crypt_stored_size(uint64_t plain_size, uint32_t chunk_size)
{
	uint64_t n = plain_size == 0 ? 1 : (plain_size + chunk_size - 1) / chunk_size;

	return plain_size + n * LP_PKG_CRYPT_TAG_LEN;
}

/* ---- the stream ---- */

struct lp_pkg_crypt {
	enum lp_pkg_crypt_mode mode;
	EVP_CIPHER_CTX *ctx;
	uint8_t prefix[NONCE_PREFIX_LEN];
	uint32_t chunk;     /* plaintext bytes of a full chunk */
	size_t in_max;      /* input bytes of a full chunk: chunk (+ tag when decrypting) */
	uint8_t *in;
	size_t in_len;
	uint8_t *out;       /* chunk + tag bytes */
	uint64_t index;     /* of the chunk in the input buffer */
	lp_pkg_crypt_out_fn out_fn;
	void *out_ctx;
	struct lp_diag *diag;
	char name[LP_PKG_NAME_MAX + 32];
	int error;          /* sticky */
	bool own_error;     /* error is the stream's, with a message */
};

static int crypt_fail(struct lp_pkg_crypt *c, int err, const char *what)
{
	c->error = err;
	c->own_error = true;
	return lp_diag_fail(c->diag, err, "%s: %s", c->name, what);
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/*
 * Seals (len plaintext bytes -> len + tag into c->out) or opens (len bytes of ciphertext
 * ‖ tag -> len - tag verified plaintext bytes into c->out) chunk c->index. Opening
 * returns -EBADMSG when the tag does not verify.
 */
static int chunk_crypt(struct lp_pkg_crypt *c, size_t len, bool last, size_t *ret_len)
{
	bool enc = c->mode == LP_PKG_ENCRYPT;
	size_t data_len = enc ? len : len - LP_PKG_CRYPT_TAG_LEN;
	uint8_t iv[12], aad[9];
	int n = 0, n2 = 0, ok;

	memcpy(iv, c->prefix, NONCE_PREFIX_LEN);
	put_be(iv + NONCE_PREFIX_LEN, c->index, 4);
	put_be(aad, c->index, 8);
	aad[8] = last ? 1 : 0;
	ok = EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, iv, enc) == 1 &&
	     EVP_CipherUpdate(c->ctx, NULL, &n, aad, sizeof(aad)) == 1;
	if (ok && data_len)
		ok = EVP_CipherUpdate(c->ctx, c->out, &n, c->in, (int)data_len) == 1;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_TAG, LP_PKG_CRYPT_TAG_LEN,
					 c->in + data_len) == 1;
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	if (EVP_CipherFinal_ex(c->ctx, c->out + n, &n2) != 1) {
		ERR_clear_error();
		return enc ? -EIO : -EBADMSG;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, LP_PKG_CRYPT_TAG_LEN,
				       c->out + data_len) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	*ret_len = enc ? len + LP_PKG_CRYPT_TAG_LEN : data_len;
	return 0;
}

/* Opens the buffered chunk, which is the last one or not; names what went wrong. */
static int chunk_open(struct lp_pkg_crypt *c, bool last, size_t *ret_len)
{
	char what[128];
	int r;

	if (c->in_len < LP_PKG_CRYPT_TAG_LEN) {
		if (c->index == 0 && c->in_len == 0)
			return crypt_fail(c, -EBADMSG, "no ciphertext (even an empty payload has one chunk)");
		snprintf(what, sizeof(what), "truncated inside chunk %llu", (unsigned long long)c->index);
		return crypt_fail(c, -EBADMSG, what);
	}
	r = chunk_crypt(c, c->in_len, last, ret_len);
	if (r != -EBADMSG)
		return r < 0 ? crypt_fail(c, r, "AES-GCM failed") : 0;
	/* Say why: the same chunk with the other flag tells a cut or extended stream from
	 * tampering. Its plaintext is dropped either way. */
	if (chunk_crypt(c, c->in_len, !last, ret_len) == 0)
		return crypt_fail(c, -EBADMSG, last ? "truncated: the last chunk is missing"
						     : "data after the last chunk");
	snprintf(what, sizeof(what), "chunk %llu: authentication failed (tampered or wrong key)",
		 (unsigned long long)c->index);
	return crypt_fail(c, -EBADMSG, what);
}

/* Seals or opens the buffered chunk and hands its output on. */
static int chunk_flush(struct lp_pkg_crypt *c, bool last)
{
	size_t out_len = 0;
	int r;

	if (c->index >= MAX_CHUNKS)
		return crypt_fail(c, -E2BIG, "more than 2^32 chunks");
	if (c->mode == LP_PKG_DECRYPT)
		r = chunk_open(c, last, &out_len);
	else if ((r = chunk_crypt(c, c->in_len, last, &out_len)) < 0)
		r = crypt_fail(c, r, "AES-GCM failed");
	if (r < 0)
		return r;
	c->in_len = 0;
	c->index++;
	if (out_len) {
		r = c->out_fn(c->out_ctx, c->out, out_len);
		if (r < 0)
			c->error = r;
	}
	return r;
}

int lp_pkg_crypt_new(enum lp_pkg_crypt_mode mode, const struct lp_aes_key *key,
		     const struct lp_payload_encryption *enc, const char *name,
		     lp_pkg_crypt_out_fn out, void *ctx, struct lp_diag *diag,
		     struct lp_pkg_crypt **ret_crypt)
{
	struct lp_pkg_crypt *c;
	bool encrypt = mode == LP_PKG_ENCRYPT;

	if (!key || !enc || !out || (mode != LP_PKG_ENCRYPT && mode != LP_PKG_DECRYPT) ||
	    enc->chunk_size < LP_PKG_CHUNK_MIN || enc->chunk_size > LP_PKG_CHUNK_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mode = mode;
	memcpy(c->prefix, enc->nonce, NONCE_PREFIX_LEN);
	c->chunk = enc->chunk_size;
	c->in_max = c->chunk + (encrypt ? 0 : LP_PKG_CRYPT_TAG_LEN);
	c->in = malloc(c->in_max);
	c->out = malloc((size_t)c->chunk + LP_PKG_CRYPT_TAG_LEN);
	c->ctx = EVP_CIPHER_CTX_new();
	c->out_fn = out;
	c->out_ctx = ctx;
	c->diag = diag;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "payload");
	if (!c->in || !c->out || !c->ctx) {
		lp_pkg_crypt_free(c);
		return -ENOMEM;
	}
	if (EVP_CipherInit_ex(c->ctx, EVP_aes_256_gcm(), NULL, key->raw, NULL, encrypt) != 1) {
		ERR_clear_error();
		lp_pkg_crypt_free(c);
		return -EIO;
	}
	*ret_crypt = c;
	return 0;
}

int lp_pkg_crypt_write(struct lp_pkg_crypt *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (c->error)
		return c->error;
	while (len > 0) {
		size_t n;

		if (c->in_len == c->in_max) {
			int r = chunk_flush(c, false);

			if (r < 0)
				return r;
		}
		n = c->in_max - c->in_len;
		if (n > len)
			n = len;
		memcpy(c->in + c->in_len, p, n);
		c->in_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

int lp_pkg_crypt_push(void *ctx, const void *data, size_t len)
{
	return lp_pkg_crypt_write(ctx, data, len);
}

int lp_pkg_crypt_finish(struct lp_pkg_crypt *c)
{
	if (c->error)
		return c->error;
	return chunk_flush(c, true);
}

bool lp_pkg_crypt_failed(const struct lp_pkg_crypt *c)
{
	return c && c->own_error;
}

void lp_pkg_crypt_free(struct lp_pkg_crypt *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->ctx);
	if (c->in)
		OPENSSL_cleanse(c->in, c->in_max);
	free(c->in);
	free(c->out);
	free(c);
}

/* ---- the reader's decryption stage ---- */

/* Whether stored_size bytes can be a chunk layout of chunk_size; its plaintext size. */
static bool stored_layout(uint64_t stored, uint32_t chunk_size, uint64_t *ret_plain)
{
	uint64_t full = (uint64_t)chunk_size + LP_PKG_CRYPT_TAG_LEN;
	uint64_t n = stored / full, rest = stored % full;

	if (rest != 0 && rest < LP_PKG_CRYPT_TAG_LEN)
		return false;
	n += rest != 0;
	if (n == 0 || n > MAX_CHUNKS)
		return false;
	*ret_plain = stored - n * LP_PKG_CRYPT_TAG_LEN;
	return true;
}

int lp_pkg_crypt_for_payload(const struct lp_aes_keyring *keys, const struct lp_payload_info *pl,
			     lp_pkg_crypt_out_fn out, void *ctx, struct lp_diag *diag,
			     struct lp_pkg_crypt **ret_crypt)
{
	const struct lp_payload_encryption *enc = &pl->encryption;
	const struct lp_aes_key *key;
	char name[LP_PKG_NAME_MAX + 16];
	uint64_t plain;

	*ret_crypt = NULL;
	if (!enc->present)
		return 0;
	key = lp_aes_keyring_find(keys, enc->key_id);
	if (!key)
		return lp_diag_fail(diag, -ENOKEY, "payload %s: no key for key_id %s", pl->name,
				    enc->key_id);
	for (size_t i = NONCE_PREFIX_LEN; i < sizeof(enc->nonce); i++)
		if (enc->nonce[i])
			return lp_diag_fail(diag, -EBADMSG,
					    "payload %s: encryption.nonce: its last 4 bytes hold the chunk counter and must be 0",
					    pl->name);
	if (!stored_layout(pl->stored_size, enc->chunk_size, &plain))
		return lp_diag_fail(diag, -EBADMSG,
				    "payload %s: stored_size %llu is not a sequence of %u-byte chunks with tags",
				    pl->name, (unsigned long long)pl->stored_size, enc->chunk_size);
	if (pl->compression == LP_COMPRESSION_NONE && pl->type != LP_PAYLOAD_DELTA && plain != pl->size)
		return lp_diag_fail(diag, -EBADMSG,
				    "payload %s: stored_size %llu holds %llu bytes, size says %llu",
				    pl->name, (unsigned long long)pl->stored_size,
				    (unsigned long long)plain, (unsigned long long)pl->size);
	snprintf(name, sizeof(name), "payload %s", pl->name);
	return lp_pkg_crypt_new(LP_PKG_DECRYPT, key, enc, name, out, ctx, diag, ret_crypt);
}

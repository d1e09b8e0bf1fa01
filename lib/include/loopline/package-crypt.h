/* SPDX-License-Identifier: MIT */
/*
 * Payload encryption "aes-256-gcm-chunked" (docs/packager.md, "Encryption") and the AES
 * keys it uses.
 *
 * A payload's stored bytes (after compression) are cut into chunks of chunk_size
 * plaintext bytes; chunk i is sealed with AES-256-GCM and stored as ciphertext ‖ 16-byte
 * tag. The last chunk holds 0 … chunk_size bytes (a payload always has at least one
 * chunk, so an empty payload is one empty, last chunk).
 *   nonce(i) = manifest nonce[0..7] (random prefix) ‖ i as 32-bit big-endian
 *              (the manifest nonce's last 4 bytes are the counter's place and are 0)
 *   AAD(i)   = i as 64-bit big-endian ‖ 0x01 for the last chunk, 0x00 otherwise
 * so a reordered, dropped, appended or cut chunk fails its tag. Nothing of a chunk is
 * handed on before its tag verified; memory is two chunks whatever the payload size.
 *
 * An AES key file holds the 32-byte key as 64 hex digits and an optional final newline,
 * nothing else. Its key id (the manifest's encryption.key_id) is the first 8 bytes of
 * SHA-256("loopline-aes-key-id" ‖ key) as 16 lower-case hex digits: it names the key
 * without revealing it.
 */
#pragma once

#include <stdbool.h>
#include "loopline/common.h"
#include "loopline/diag.h"
#include "loopline/package.h"

#define LP_AES_KEY_LEN 32
#define LP_AES_KEYID_LEN 16   /* hex digits, without NUL */
#define LP_AES_KEY_FILE_MAX 4096
#define LP_PKG_CRYPT_TAG_LEN 16
#define LP_PKG_CRYPT_CHUNK_DEFAULT 65536u
#define LP_PKG_CRYPT_ALG "aes-256-gcm-chunked"

struct lp_aes_key;     /* a 256-bit key and its key id */
struct lp_aes_keyring; /* decryption keys by key id */

/* A new random key. */
LP_EXPORT int lp_aes_key_generate(struct lp_aes_key **ret_key);
LP_EXPORT int lp_aes_key_from_raw(const uint8_t raw[LP_AES_KEY_LEN], struct lp_aes_key **ret_key);
/* Strict parser of a key file's text: -EINVAL with a message for anything else than 64
 * hex digits and an optional "\n" (a PEM signing key, a short key, a zero key, …). */
LP_EXPORT int lp_aes_key_parse(const char *text, size_t len, struct lp_aes_key **ret_key,
			       struct lp_diag *diag);
/* Reads and parses a key file (the diag names the file). */
LP_EXPORT int lp_aes_key_load(const char *path, struct lp_aes_key **ret_key, struct lp_diag *diag);
/* Writes a key file atomically with mode 0600; -EEXIST if path exists and !overwrite. */
LP_EXPORT int lp_aes_key_save(const struct lp_aes_key *key, const char *path, bool overwrite);
/* The 16-hex-digit key id (borrowed, lives as long as the key). */
LP_EXPORT const char *lp_aes_key_id(const struct lp_aes_key *key);
LP_EXPORT void lp_aes_key_free(struct lp_aes_key *key);

LP_EXPORT int lp_aes_keyring_new(struct lp_aes_keyring **ret_ring);
/* Takes ownership of key (also on failure). -EEXIST for a key id already there, -E2BIG
 * past 64 keys. */
LP_EXPORT int lp_aes_keyring_add(struct lp_aes_keyring *ring, struct lp_aes_key *key);
/* Loads one key file into the keyring (errors name the file). */
LP_EXPORT int lp_aes_keyring_load(struct lp_aes_keyring *ring, const char *path,
				  struct lp_diag *diag);
/* Borrowed pointer or NULL (ring may be NULL). */
LP_EXPORT const struct lp_aes_key *lp_aes_keyring_find(const struct lp_aes_keyring *ring,
							const char *key_id);
LP_EXPORT size_t lp_aes_keyring_count(const struct lp_aes_keyring *ring);
LP_EXPORT void lp_aes_keyring_free(struct lp_aes_keyring *ring);

/* ---- the chunked stream ---- */

enum lp_pkg_crypt_mode {
	LP_PKG_ENCRYPT = 0,
	LP_PKG_DECRYPT,
};

/* Receives the stream's output; 0 or a negative errno, which aborts the stream. */
typedef int (*lp_pkg_crypt_out_fn)(void *ctx, const void *data, size_t len);

struct lp_pkg_crypt;

/*
 * Fills in a payload's manifest encryption object for key: alg, key id, chunk_size
 * (0 = LP_PKG_CRYPT_CHUNK_DEFAULT) and a fresh random nonce prefix. -EINVAL for a chunk
 * size outside the manifest's limits.
 */
LP_EXPORT int lp_pkg_crypt_describe(const struct lp_aes_key *key, uint32_t chunk_size,
				    struct lp_payload_encryption *ret_enc);
/* Bytes stored for plain_size bytes of plaintext (every chunk gains a tag). */
LP_EXPORT uint64_t lp_pkg_crypt_stored_size(uint64_t plain_size, uint32_t chunk_size);

/*
 * A stream that seals (or opens) one payload described by enc with key; out receives
 * ciphertext (or verified plaintext). name ("payload rootfs.img") starts the messages
 * put into diag, which must outlive the stream. enc is copied.
 * Decryption errors (-EBADMSG unless said otherwise):
 *   "<name>: chunk 17: authentication failed (tampered or wrong key)"
 *   "<name>: truncated: the last chunk is missing"
 *   "<name>: truncated inside chunk 3"
 *   "<name>: data after the last chunk"
 *   "<name>: more than 2^32 chunks" (-E2BIG)
 * Errors of out are passed up without a message of their own.
 */
LP_EXPORT int lp_pkg_crypt_new(enum lp_pkg_crypt_mode mode, const struct lp_aes_key *key,
			       const struct lp_payload_encryption *enc, const char *name,
			       lp_pkg_crypt_out_fn out, void *ctx, struct lp_diag *diag,
			       struct lp_pkg_crypt **ret_crypt);
/* Feeds bytes. Errors are sticky. */
LP_EXPORT int lp_pkg_crypt_write(struct lp_pkg_crypt *c, const void *data, size_t len);
/* lp_pkg_crypt_write with the shape of lp_zstd_out_fn / lp_pkg_sink_fn (ctx = stream). */
LP_EXPORT int lp_pkg_crypt_push(void *ctx, const void *data, size_t len);
/* Seals (or opens) the last chunk. */
LP_EXPORT int lp_pkg_crypt_finish(struct lp_pkg_crypt *c);
/* Whether the stream failed on its own account (a message is in its diag), as opposed to
 * an error of out. */
LP_EXPORT bool lp_pkg_crypt_failed(const struct lp_pkg_crypt *c);
LP_EXPORT void lp_pkg_crypt_free(struct lp_pkg_crypt *c);

/*
 * The decryption stage for payload pl, if it has one: *ret_crypt = NULL for a payload
 * that is not encrypted; -ENOKEY "payload X: no key for key_id K" when keys (may be NULL)
 * has no key for it; -EBADMSG when its encryption object cannot describe stored_size
 * bytes (a nonce whose counter bytes are not 0, a stored_size that is no chunk layout).
 */
LP_EXPORT int lp_pkg_crypt_for_payload(const struct lp_aes_keyring *keys,
				       const struct lp_payload_info *pl, lp_pkg_crypt_out_fn out,
				       void *ctx, struct lp_diag *diag,
				       struct lp_pkg_crypt **ret_crypt);

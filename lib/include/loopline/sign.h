/* SPDX-License-Identifier: MIT */
/*
 * Ed25519 keys and signatures (OpenSSL EVP), PEM key files, and a keyring of trusted
 * public keys. A key id is the first 8 bytes of SHA-256 of the raw 32-byte public key,
 * as 16 lower-case hex digits.
 */
#pragma once

#include <stdbool.h>
#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_ED25519_PUB_LEN 32
#define LP_ED25519_SIG_LEN 64
#define LP_KEYID_LEN 16 /* hex digits, without NUL */

struct lp_key;     /* a public key, or a private key (which also has its public half) */
struct lp_keyring; /* a set of trusted public keys */

LP_EXPORT int lp_key_generate(struct lp_key **ret_key);
/* PEM files: PKCS#8 "PRIVATE KEY" and SPKI "PUBLIC KEY". Loading a private key file as
 * public is allowed (the public half is taken). Non-Ed25519 keys are refused. */
LP_EXPORT int lp_key_load_private(const char *path, struct lp_key **ret_key, struct lp_diag *diag);
LP_EXPORT int lp_key_load_public(const char *path, struct lp_key **ret_key, struct lp_diag *diag);
LP_EXPORT int lp_key_from_pem(const char *pem, size_t len, struct lp_key **ret_key,
			      struct lp_diag *diag);
LP_EXPORT int lp_key_from_raw_public(const uint8_t raw[LP_ED25519_PUB_LEN], struct lp_key **ret_key);
/* Writes atomically (temp + rename); private keys get mode 0600. -EEXIST if the file
 * exists and overwrite is false. */
LP_EXPORT int lp_key_save_private(const struct lp_key *key, const char *path, bool overwrite);
LP_EXPORT int lp_key_save_public(const struct lp_key *key, const char *path, bool overwrite);
LP_EXPORT bool lp_key_is_private(const struct lp_key *key);
LP_EXPORT int lp_key_raw_public(const struct lp_key *key, uint8_t out[LP_ED25519_PUB_LEN]);
/* The 16-hex-digit key id, NUL-terminated in out. */
LP_EXPORT void lp_key_id(const struct lp_key *key, char out[LP_KEYID_LEN + 1]);
LP_EXPORT void lp_key_free(struct lp_key *key);

/* Signs with a private key (-EINVAL for a public one). */
LP_EXPORT int lp_sign(const struct lp_key *key, const void *msg, size_t len,
		      uint8_t sig[LP_ED25519_SIG_LEN]);
/* 0 if the signature is valid, -EBADMSG if not. */
LP_EXPORT int lp_verify(const struct lp_key *key, const void *msg, size_t len,
			const uint8_t sig[LP_ED25519_SIG_LEN]);

LP_EXPORT int lp_keyring_new(struct lp_keyring **ret_ring);
/* Takes ownership of key (also on failure). -EEXIST for a duplicate key id. */
LP_EXPORT int lp_keyring_add(struct lp_keyring *ring, struct lp_key *key);
/* Adds one PEM file, or every *.pem file in a directory. */
LP_EXPORT int lp_keyring_load(struct lp_keyring *ring, const char *path, struct lp_diag *diag);
/* Borrowed pointer or NULL. */
LP_EXPORT const struct lp_key *lp_keyring_find(const struct lp_keyring *ring, const char *keyid);
LP_EXPORT size_t lp_keyring_count(const struct lp_keyring *ring);
LP_EXPORT const struct lp_key *lp_keyring_get(const struct lp_keyring *ring, size_t i);
LP_EXPORT void lp_keyring_free(struct lp_keyring *ring);

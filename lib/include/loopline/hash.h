/* SPDX-License-Identifier: MIT */
/* Streaming message digests (OpenSSL EVP): SHA-256, SHA-1, MD5. */
#pragma once

#include <stdbool.h>
#include "loopline/common.h"

enum lp_hash_alg {
	LP_HASH_SHA256 = 0,
	LP_HASH_SHA1,
	LP_HASH_MD5,
};

#define LP_HASH_MAX_LEN 32
#define LP_SHA256_LEN 32
#define LP_SHA1_LEN 20
#define LP_MD5_LEN 16
#define LP_SHA256_HEX_LEN 64

struct lp_hash; /* opaque */

/* Digest length in bytes, or 0 for an unknown alg. */
LP_EXPORT size_t lp_hash_len(enum lp_hash_alg alg);
LP_EXPORT const char *lp_hash_name(enum lp_hash_alg alg);

/* Returns 0 or -ENOMEM/-EINVAL. Free with lp_hash_free(). */
LP_EXPORT int lp_hash_new(enum lp_hash_alg alg, struct lp_hash **ret_hash);
LP_EXPORT int lp_hash_update(struct lp_hash *h, const void *data, size_t len);
/* Writes lp_hash_len() bytes to out; the object can then be reset and reused. */
LP_EXPORT int lp_hash_final(struct lp_hash *h, uint8_t out[LP_HASH_MAX_LEN]);
LP_EXPORT int lp_hash_reset(struct lp_hash *h);
LP_EXPORT void lp_hash_free(struct lp_hash *h);

/* One-shot helpers. lp_hash_file streams the file in fixed-size blocks. */
LP_EXPORT int lp_hash_buffer(enum lp_hash_alg alg, const void *data, size_t len,
			     uint8_t out[LP_HASH_MAX_LEN]);
LP_EXPORT int lp_hash_file(enum lp_hash_alg alg, const char *path, uint8_t out[LP_HASH_MAX_LEN]);

/* Constant-time comparison of two digests. */
LP_EXPORT bool lp_hash_equal(const uint8_t *a, const uint8_t *b, size_t len);

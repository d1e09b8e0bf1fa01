/* SPDX-License-Identifier: MIT */
/* Streaming message digests through OpenSSL's EVP interface. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "loopline/io.h"
#include "loopline/hash.h"

#define HASH_FILE_BLOCK (128u * 1024) /* read size for lp_hash_file */

struct lp_hash {
	enum lp_hash_alg alg;
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static const EVP_MD *hash_md(enum lp_hash_alg alg)
{
	switch (alg) {
	case LP_HASH_SHA256:
		return EVP_sha256();
	case LP_HASH_SHA1:
		return EVP_sha1();
	case LP_HASH_MD5:
		return EVP_md5();
	}
	return NULL;
}

size_t lp_hash_len(enum lp_hash_alg alg)
{
	switch (alg) {
	case LP_HASH_SHA256:
		return LP_SHA256_LEN;
	case LP_HASH_SHA1:
		return LP_SHA1_LEN;
	case LP_HASH_MD5:
		return LP_MD5_LEN;
	}
	return 0;
}

const char *lp_hash_name(enum lp_hash_alg alg)
{
	switch (alg) {
	case LP_HASH_SHA256:
		return "sha256";
	case LP_HASH_SHA1:
		return "sha1";
	case LP_HASH_MD5:
		return "md5";
	}
	return "unknown";
}

int lp_hash_new(enum lp_hash_alg alg, struct lp_hash **ret_hash)
{
	struct lp_hash *h;
	const EVP_MD *md = hash_md(alg);

	if (!md)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->alg = alg;
	h->md = md;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		free(h);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		lp_hash_free(h);
		return -EIO;
	}
	*ret_hash = h;
	return 0;
}

int lp_hash_update(struct lp_hash *h, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : -EIO;
}

int lp_hash_final(struct lp_hash *h, uint8_t out[LP_HASH_MAX_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != lp_hash_len(h->alg))
		return -EIO;
	/* Re-arm at once so the object is usable again even without lp_hash_reset(). */
	return lp_hash_reset(h);
}

int lp_hash_reset(struct lp_hash *h)
{
	return EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? 0 : -EIO;
}

void lp_hash_free(struct lp_hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int lp_hash_buffer(enum lp_hash_alg alg, const void *data, size_t len,
		   uint8_t out[LP_HASH_MAX_LEN])
{
	struct lp_hash *h = NULL;
	int r;

	r = lp_hash_new(alg, &h);
	if (r < 0)
		return r;
	r = lp_hash_update(h, data, len);
	if (r == 0)
		r = lp_hash_final(h, out);
	lp_hash_free(h);
	return r;
}

int lp_hash_file(enum lp_hash_alg alg, const char *path, uint8_t out[LP_HASH_MAX_LEN])
{
	struct lp_hash *h = NULL;
	uint8_t digest[LP_HASH_MAX_LEN];
	uint8_t *buf = NULL;
	int fd = -1, r;

	r = lp_hash_new(alg, &h);
	if (r < 0)
		return r;
	buf = malloc(HASH_FILE_BLOCK);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = lp_io_read(fd, buf, HASH_FILE_BLOCK);

		if (n < 0) {
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		r = lp_hash_update(h, buf, (size_t)n);
		if (r < 0)
			goto out;
	}
	r = lp_hash_final(h, digest);
	if (r == 0)
		for (size_t i = 0; i < lp_hash_len(alg); i++)
			out[i] = digest[i];
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	lp_hash_free(h);
	return r;
}

bool lp_hash_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* SPDX-License-Identifier: MIT */
/* Ed25519 keys, signatures and PEM key files (OpenSSL EVP), and a keyring. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "loopline/codec.h"
#include "loopline/fs.h"
#include "loopline/hash.h"
#include "loopline/io.h"
#include "loopline/sign.h"

#define KEY_FILE_MAX (64u * 1024) /* a PEM key file is a few hundred bytes */
#define KEYRING_MAX 256u          /* trusted keys in one keyring */

struct lp_key {
	EVP_PKEY *pkey;
	bool priv;
	uint8_t pub[LP_ED25519_PUB_LEN];
	char id[LP_KEYID_LEN + 1];
};

struct lp_keyring {
	struct lp_key **keys;
	size_t n, cap;
};

/* Takes ownership of pkey (freed on failure). Refuses anything but Ed25519. */
static int key_wrap(EVP_PKEY *pkey, bool priv, struct lp_key **ret_key, struct lp_diag *diag)
{
	struct lp_key *key;
	uint8_t digest[LP_HASH_MAX_LEN];
	size_t len = LP_ED25519_PUB_LEN;
	int r;

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		const char *name = EVP_PKEY_get0_type_name(pkey);

		r = lp_diag_fail(diag, -EINVAL, "%s key refused: only Ed25519 keys are supported",
				 name ? name : "unknown");
		EVP_PKEY_free(pkey);
		return r;
	}
	key = calloc(1, sizeof(*key));
	if (!key) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	key->pkey = pkey;
	key->priv = priv;
	if (EVP_PKEY_get_raw_public_key(pkey, key->pub, &len) != 1 || len != LP_ED25519_PUB_LEN) {
		lp_key_free(key);
		return lp_diag_fail(diag, -EINVAL, "cannot read the Ed25519 public key");
	}
	r = lp_hash_buffer(LP_HASH_SHA256, key->pub, sizeof(key->pub), digest);
	if (r < 0) {
		lp_key_free(key);
		return r;
	}
	lp_hex_encode(digest, LP_KEYID_LEN / 2, key->id);
	*ret_key = key;
	return 0;
}

int lp_key_generate(struct lp_key **ret_key)
{
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *pkey = NULL;
	int ok;

	pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (!pctx)
		return -ENOMEM;
	ok = EVP_PKEY_keygen_init(pctx) == 1 && EVP_PKEY_keygen(pctx, &pkey) == 1;
	EVP_PKEY_CTX_free(pctx);
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	return key_wrap(pkey, true, ret_key, NULL);
}

/* Passphrase callback that refuses: encrypted keys are an error, never a prompt. */
static int pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static bool pem_has(const char *pem, size_t len, const char *label)
{
	return memmem(pem, len, label, strlen(label)) != NULL;
}

/* want_private: 1 = must be private, 0 = take the public half, -1 = keep what it is. */
static int key_from_pem(const char *pem, size_t len, int want_private, struct lp_key **ret_key,
			struct lp_diag *diag)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	bool priv;

	if (len > INT_MAX)
		return lp_diag_fail(diag, -E2BIG, "PEM text too large");
	if (pem_has(pem, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
		return lp_diag_fail(diag, -EINVAL, "encrypted private keys are not supported");
	priv = pem_has(pem, len, "PRIVATE KEY-----");
	if (!priv && !pem_has(pem, len, "-----BEGIN PUBLIC KEY-----"))
		return lp_diag_fail(diag, -EINVAL,
				    "no PEM \"PRIVATE KEY\" or \"PUBLIC KEY\" block found");
	if (!priv && want_private == 1)
		return lp_diag_fail(diag, -EINVAL, "this is a public key; a private key is needed");

	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	if (priv)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_no_passphrase, NULL);
	else
		pkey = PEM_read_bio_PUBKEY(bio, NULL, pem_no_passphrase, NULL);
	BIO_free(bio);
	if (!pkey) {
		unsigned long e = ERR_peek_last_error();
		char reason[160] = "unknown reason";

		if (e)
			ERR_error_string_n(e, reason, sizeof(reason));
		ERR_clear_error();
		return lp_diag_fail(diag, -EINVAL, "cannot decode the PEM %s key: %s",
				    priv ? "private" : "public", reason);
	}

	if (priv && want_private == 0) {
		/* Keep only the public half. */
		uint8_t raw[LP_ED25519_PUB_LEN];
		size_t rlen = sizeof(raw);
		EVP_PKEY *pub;

		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519)
			return key_wrap(pkey, true, ret_key, diag); /* refuses with a message */
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rlen) != 1) {
			EVP_PKEY_free(pkey);
			ERR_clear_error();
			return lp_diag_fail(diag, -EINVAL, "cannot read the Ed25519 public key");
		}
		EVP_PKEY_free(pkey);
		pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rlen);
		if (!pub)
			return -ENOMEM;
		return key_wrap(pub, false, ret_key, diag);
	}
	return key_wrap(pkey, priv, ret_key, diag);
}

int lp_key_from_pem(const char *pem, size_t len, struct lp_key **ret_key, struct lp_diag *diag)
{
	return key_from_pem(pem, len, -1, ret_key, diag);
}

static int key_load(const char *path, int want_private, struct lp_key **ret_key,
		    struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	lp_diag_set_file(diag, path);
	r = lp_fs_read_file_diag(path, KEY_FILE_MAX, &buf, &len, diag);
	if (r < 0)
		return r;
	r = key_from_pem(buf, len, want_private, ret_key, diag);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return r;
}

int lp_key_load_private(const char *path, struct lp_key **ret_key, struct lp_diag *diag)
{
	return key_load(path, 1, ret_key, diag);
}

int lp_key_load_public(const char *path, struct lp_key **ret_key, struct lp_diag *diag)
{
	return key_load(path, 0, ret_key, diag);
}

int lp_key_from_raw_public(const uint8_t raw[LP_ED25519_PUB_LEN], struct lp_key **ret_key)
{
	EVP_PKEY *pkey;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, LP_ED25519_PUB_LEN);
	if (!pkey) {
		ERR_clear_error();
		return -EINVAL;
	}
	return key_wrap(pkey, false, ret_key, NULL);
}

static int key_save(const struct lp_key *key, const char *path, bool overwrite, bool priv)
{
	BIO *bio;
	char *data = NULL;
	long len;
	int ok, r;

	if (!key || (priv && !key->priv))
		return -EINVAL;
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return -ENOMEM;
	if (priv)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, key->pkey);
	if (ok != 1) {
		ERR_clear_error();
		BIO_free(bio);
		return -EIO;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		BIO_free(bio);
		return -EIO;
	}
	r = lp_fs_write_atomic(path, data, (size_t)len, priv ? 0600 : 0644,
			       overwrite ? 0 : LP_FS_NOREPLACE);
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(bio);
	return r;
}

int lp_key_save_private(const struct lp_key *key, const char *path, bool overwrite)
{
	return key_save(key, path, overwrite, true);
}

int lp_key_save_public(const struct lp_key *key, const char *path, bool overwrite)
{
	return key_save(key, path, overwrite, false);
}

bool lp_key_is_private(const struct lp_key *key)
{
	return key && key->priv;
}

int lp_key_raw_public(const struct lp_key *key, uint8_t out[LP_ED25519_PUB_LEN])
{
	if (!key)
		return -EINVAL;
	memcpy(out, key->pub, LP_ED25519_PUB_LEN);
	return 0;
}

void lp_key_id(const struct lp_key *key, char out[LP_KEYID_LEN + 1])
{
	memcpy(out, key->id, LP_KEYID_LEN + 1);
}

void lp_key_free(struct lp_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

int lp_sign(const struct lp_key *key, const void *msg, size_t len, uint8_t sig[LP_ED25519_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t siglen = LP_ED25519_SIG_LEN;
	int ok;

	if (!key || !key->priv)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, len ? msg : (const void *)"", len) == 1 &&
	     siglen == LP_ED25519_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int lp_verify(const struct lp_key *key, const void *msg, size_t len,
	      const uint8_t sig[LP_ED25519_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	int r;

	if (!key)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) != 1) {
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		return -EIO;
	}
	r = EVP_DigestVerify(ctx, sig, LP_ED25519_SIG_LEN, len ? msg : (const void *)"", len);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r == 1 ? 0 : -EBADMSG;
}

int lp_keyring_new(struct lp_keyring **ret_ring)
{
	struct lp_keyring *ring = calloc(1, sizeof(*ring));

	if (!ring)
		return -ENOMEM;
	*ret_ring = ring;
	return 0;
}

int lp_keyring_add(struct lp_keyring *ring, struct lp_key *key)
{
	if (!ring || !key) {
		lp_key_free(key);
		return -EINVAL;
	}
	if (lp_keyring_find(ring, key->id)) {
		lp_key_free(key);
		return -EEXIST;
	}
	if (ring->n >= KEYRING_MAX) {
		lp_key_free(key);
		return -E2BIG;
	}
	if (ring->n == ring->cap) {
		size_t cap = ring->cap ? ring->cap * 2 : 4;
		struct lp_key **keys = realloc(ring->keys, cap * sizeof(*keys));

		if (!keys) {
			lp_key_free(key);
			return -ENOMEM;
		}
		ring->keys = keys;
		ring->cap = cap;
	}
	ring->keys[ring->n++] = key;
	return 0;
}

static int keyring_load_file(struct lp_keyring *ring, const char *path, struct lp_diag *diag)
{
	struct lp_key *key = NULL;
	char id[LP_KEYID_LEN + 1];
	int r;

	r = lp_key_load_public(path, &key, diag);
	if (r < 0)
		return r;
	lp_key_id(key, id);
	r = lp_keyring_add(ring, key);
	if (r == -EEXIST)
		return lp_diag_fail(diag, r, "key %s is already in the keyring", id);
	if (r == -E2BIG)
		return lp_diag_fail(diag, r, "more than %u trusted keys", KEYRING_MAX);
	return r;
}

static int pem_name_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 4 && strcmp(de->d_name + n - 4, ".pem") == 0;
}

int lp_keyring_load(struct lp_keyring *ring, const char *path, struct lp_diag *diag)
{
	struct dirent **list = NULL;
	struct stat st;
	int n, r = 0;

	if (stat(path, &st) < 0) {
		r = -errno;
		lp_diag_set_file(diag, path);
		return lp_diag_fail(diag, r, "%s", strerror(-r));
	}
	if (!S_ISDIR(st.st_mode))
		return keyring_load_file(ring, path, diag);

	n = scandir(path, &list, pem_name_filter, alphasort);
	if (n < 0) {
		r = -errno;
		lp_diag_set_file(diag, path);
		return lp_diag_fail(diag, r, "cannot list the directory: %s", strerror(-r));
	}
	if (n == 0) {
		lp_diag_set_file(diag, path);
		r = lp_diag_fail(diag, -ENOENT, "no *.pem key files in this directory");
	}
	for (int i = 0; i < n; i++) {
		char file[PATH_MAX];

		if (r == 0) {
			if (snprintf(file, sizeof(file), "%s/%s", path, list[i]->d_name) >=
			    (int)sizeof(file)) {
				lp_diag_set_file(diag, path);
				r = lp_diag_fail(diag, -ENAMETOOLONG, "file name too long");
			} else {
				r = keyring_load_file(ring, file, diag);
			}
		}
		free(list[i]);
	}
	free(list);
	return r;
}

const struct lp_key *lp_keyring_find(const struct lp_keyring *ring, const char *keyid)
{
	if (!ring || !keyid)
		return NULL;
	for (size_t i = 0; i < ring->n; i++)
		if (strcmp(ring->keys[i]->id, keyid) == 0)
			return ring->keys[i];
	return NULL;
}

size_t lp_keyring_count(const struct lp_keyring *ring)
{
	return ring ? ring->n : 0;
}

const struct lp_key *lp_keyring_get(const struct lp_keyring *ring, size_t i)
{
	return ring && i < ring->n ? ring->keys[i] : NULL;
}

void lp_keyring_free(struct lp_keyring *ring)
{
	if (!ring)
		return;
	for (size_t i = 0; i < ring->n; i++)
		lp_key_free(ring->keys[i]);
	free(ring->keys);
	free(ring);
}

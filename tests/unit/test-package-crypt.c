/* SPDX-License-Identifier: MIT */
/*
 * Encrypted payloads ("aes-256-gcm-chunked", loopline/package-crypt.h): key files and key
 * ids, the chunked stream on its own (cut, reordered, extended and tampered streams) and
 * whole packages (round trips at the chunk boundaries, with and without zstd, seekable
 * and streaming output; wrong key; flipped bits; verification without the key).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/package-crypt.h"
#include "loopline/package.h"
#include "mem-stream.h"

#define CHUNK 4096u /* the smallest chunk size: many chunks from little data */

static struct lp_key *signer;
static struct lp_keyring *trusted;
static struct lp_aes_key *aes;       /* the package key */
static struct lp_aes_key *aes_other; /* a key the packages do not use */

static int setup(void **state)
{
	uint8_t raw[LP_ED25519_PUB_LEN];
	struct lp_key *pub;

	(void)state;
	assert_int_equal(lp_key_generate(&signer), 0);
	assert_int_equal(lp_keyring_new(&trusted), 0);
	assert_int_equal(lp_key_raw_public(signer, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_int_equal(lp_keyring_add(trusted, pub), 0);
	assert_int_equal(lp_aes_key_generate(&aes), 0);
	assert_int_equal(lp_aes_key_generate(&aes_other), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lp_key_free(signer);
	lp_keyring_free(trusted);
	lp_aes_key_free(aes);
	lp_aes_key_free(aes_other);
	return 0;
}

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 7;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (i / 64) % 2 ? (uint8_t)(x >> 16) : (uint8_t)('a' + i % 26);
	}
	return p;
}

/* ---- key files ---- */

static void test_key_files(void **state)
{
	char dir[] = "/tmp/lp-aes-XXXXXX", path[64], pem[96];
	struct lp_aes_key *k = NULL;
	struct lp_aes_keyring *ring = NULL;
	struct lp_diag d = { 0 };
	struct stat st;
	uint8_t raw[LP_AES_KEY_LEN];
	const char *id;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fw.aes", dir);
	snprintf(pem, sizeof(pem), "%s/sign.pem", dir);
	assert_int_equal(lp_aes_key_save(aes, path, false), 0);
	assert_int_equal(lp_aes_key_save(aes, path, false), -EEXIST);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(lp_aes_key_load(path, &k, &d), 0);
	assert_string_equal(lp_aes_key_id(k), lp_aes_key_id(aes));
	lp_aes_key_free(k);

	/* The key id: 16 hex digits, not the key's own first bytes, fixed for a fixed key. */
	memset(raw, 0x11, sizeof(raw));
	assert_int_equal(lp_aes_key_from_raw(raw, &k), 0);
	id = lp_aes_key_id(k);
	assert_int_equal(strlen(id), LP_AES_KEYID_LEN);
	assert_string_not_equal(id, "1111111111111111");
	assert_true(lp_pkg_keyid_valid(id));
	lp_aes_key_free(k);

	/* Strict parser, clear messages. */
	assert_int_equal(lp_aes_key_parse("abcd\n", 5, &k, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "64 hex digits"));
	assert_int_equal(lp_aes_key_parse("-----BEGIN PRIVATE KEY-----\nxx\n", 31, &k, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "PEM"));
	char text[80];
	memset(text, '0', 64);
	text[64] = '\n';
	assert_int_equal(lp_aes_key_parse(text, 65, &k, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "all-zero"));
	text[3] = 'g';
	assert_int_equal(lp_aes_key_parse(text, 65, &k, &d), -EINVAL);
	text[3] = 'A';
	assert_int_equal(lp_aes_key_parse(text, 64, &k, &d), 0); /* no newline, upper case */
	lp_aes_key_free(k);
	text[65] = '\n';
	assert_int_equal(lp_aes_key_parse(text, 66, &k, &d), -EINVAL); /* two newlines */

	/* A signing key given as a decryption key: refused with the file's name. */
	assert_int_equal(lp_key_save_private(signer, pem, false), 0);
	assert_int_equal(lp_aes_keyring_new(&ring), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(lp_aes_keyring_load(ring, pem, &d), -EINVAL);
	assert_string_equal(d.file, pem);
	assert_int_equal(lp_aes_keyring_load(ring, path, &d), 0);
	assert_int_equal(lp_aes_keyring_load(ring, path, &d), -EEXIST);
	assert_int_equal(lp_aes_keyring_count(ring), 1);
	assert_non_null(lp_aes_keyring_find(ring, lp_aes_key_id(aes)));
	assert_null(lp_aes_keyring_find(ring, lp_aes_key_id(aes_other)));
	lp_aes_keyring_free(ring);
	unlink(path);
	unlink(pem);
	rmdir(dir);
}

/* ---- the stream on its own ---- */

static struct lp_payload_encryption enc_for(const struct lp_aes_key *key)
{
	struct lp_payload_encryption enc;

	assert_int_equal(lp_pkg_crypt_describe(key, CHUNK, &enc), 0);
	return enc;
}

static struct mem seal(const struct lp_aes_key *key, const struct lp_payload_encryption *enc,
		       const uint8_t *data, size_t len)
{
	struct lp_pkg_crypt *c = NULL;
	struct mem out = { 0 };

	assert_int_equal(lp_pkg_crypt_new(LP_PKG_ENCRYPT, key, enc, "t", mem_write, &out, NULL, &c), 0);
	/* odd pieces: chunk boundaries never line up with writes */
	for (size_t off = 0; off < len; off += 1000)
		assert_int_equal(lp_pkg_crypt_write(c, data + off, len - off < 1000 ? len - off : 1000), 0);
	assert_int_equal(lp_pkg_crypt_finish(c), 0);
	lp_pkg_crypt_free(c);
	if (!out.data)
		out.data = calloc(1, 1);
	return out;
}

/* Opens ct; returns the result, the plaintext in *plain and the message in d. */
static int open_ct(const struct lp_aes_key *key, const struct lp_payload_encryption *enc,
		   const uint8_t *ct, size_t len, struct mem *plain, struct lp_diag *d)
{
	struct lp_pkg_crypt *c = NULL;
	int rc;

	memset(d, 0, sizeof(*d));
	assert_int_equal(lp_pkg_crypt_new(LP_PKG_DECRYPT, key, enc, "payload x", mem_write, plain, d,
					  &c), 0);
	rc = lp_pkg_crypt_write(c, ct, len);
	if (rc == 0)
		rc = lp_pkg_crypt_finish(c);
	assert_int_equal(rc < 0, lp_pkg_crypt_failed(c));
	lp_pkg_crypt_free(c);
	return rc;
}

static void test_stream_sizes(void **state)
{
	const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17 };
	struct lp_payload_encryption enc = enc_for(aes);
	uint8_t *data = pattern(5 * CHUNK + 17, 1);

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(sizes); i++) {
		struct mem ct = seal(aes, &enc, data, sizes[i]), plain = { 0 };
		struct lp_diag d;

		assert_int_equal(ct.len, lp_pkg_crypt_stored_size(sizes[i], CHUNK));
		if (sizes[i] >= 64)
			assert_null(memmem(ct.data, ct.len, data, 64)); /* not the plaintext */
		assert_int_equal(open_ct(aes, &enc, ct.data, ct.len, &plain, &d), 0);
		assert_int_equal(plain.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(plain.data, data, sizes[i]);
		free(plain.data);
		free(ct.data);
	}
	assert_int_equal(lp_pkg_crypt_stored_size(0, CHUNK), 16);
	assert_int_equal(lp_pkg_crypt_stored_size(CHUNK, CHUNK), CHUNK + 16);
	assert_int_equal(lp_pkg_crypt_stored_size(CHUNK + 1, CHUNK), CHUNK + 33);
	free(data);
}

static void test_stream_attacks(void **state)
{
	struct lp_payload_encryption enc = enc_for(aes), enc2;
	const size_t full = CHUNK + 16, len = 3 * CHUNK + 100;
	uint8_t *data = pattern(len, 2);
	struct mem ct = seal(aes, &enc, data, len), plain = { 0 }, two;
	uint8_t *buf = malloc(ct.len);
	struct lp_diag d;

	(void)state;
	assert_int_equal(ct.len, 3 * full + 116);
	/* wrong key (with the right key id the package would name, the tag still fails) */
	assert_int_equal(open_ct(aes_other, &enc, ct.data, ct.len, &plain, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload x: chunk 0: authentication failed (tampered or wrong key)");
	assert_int_equal(plain.len, 0);
	/* a flipped bit in chunk 2's ciphertext: chunks 0 and 1 came out, nothing of 2 */
	memcpy(buf, ct.data, ct.len);
	buf[2 * full + 5] ^= 0x10;
	assert_int_equal(open_ct(aes, &enc, buf, ct.len, &plain, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload x: chunk 2: authentication failed (tampered or wrong key)");
	assert_int_equal(plain.len, 2 * CHUNK);
	plain.len = 0;
	/* a flipped bit in the last chunk's tag */
	memcpy(buf, ct.data, ct.len);
	buf[ct.len - 1] ^= 1;
	assert_int_equal(open_ct(aes, &enc, buf, ct.len, &plain, &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "chunk 3: authentication failed"));
	assert_int_equal(plain.len, 3 * CHUNK);
	plain.len = 0;
	/* two chunks swapped */
	memcpy(buf, ct.data + full, full);
	memcpy(buf + full, ct.data, full);
	memcpy(buf + 2 * full, ct.data + 2 * full, ct.len - 2 * full);
	assert_int_equal(open_ct(aes, &enc, buf, ct.len, &plain, &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "chunk 0: authentication failed"));
	assert_int_equal(plain.len, 0);
	/* the last chunk removed (cut at a chunk boundary) */
	assert_int_equal(open_ct(aes, &enc, ct.data, 3 * full, &plain, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload x: truncated: the last chunk is missing");
	assert_int_equal(plain.len, 2 * CHUNK);
	plain.len = 0;
	/* cut inside a tag, and nothing at all */
	assert_int_equal(open_ct(aes, &enc, ct.data, 3 * full + 10, &plain, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload x: truncated inside chunk 3");
	plain.len = 0;
	assert_int_equal(open_ct(aes, &enc, ct.data, 0, &plain, &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "no ciphertext"));
	/* a forged last flag: chunk 1 sealed as the last one (of a two-chunk stream with the
	 * same nonce, which only the key holder can make), then the real chunk 2 after it */
	two = seal(aes, &enc, data, 2 * CHUNK);
	memcpy(buf, two.data, 2 * full);
	memcpy(buf + 2 * full, ct.data + 2 * full, ct.len - 2 * full);
	assert_int_equal(open_ct(aes, &enc, buf, ct.len, &plain, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload x: data after the last chunk");
	assert_int_equal(plain.len, CHUNK); /* chunk 0 only: chunk 1 was not handed on */
	plain.len = 0;
	/* the same key with another payload's nonce */
	enc2 = enc_for(aes);
	assert_memory_not_equal(enc2.nonce, enc.nonce, 8);
	assert_int_equal(open_ct(aes, &enc2, ct.data, ct.len, &plain, &d), -EBADMSG);
	assert_int_equal(plain.len, 0);
	free(two.data);
	free(plain.data);
	free(buf);
	free(ct.data);
	free(data);
}

/* ---- whole packages ---- */

/* Builds one payload of len bytes into a memfd (O_APPEND: the streaming path). */
static int build_pkg(const uint8_t *data, size_t len, enum lp_compression comp,
		     const struct lp_aes_key *key, bool streaming, struct lp_diag *d)
{
	const char *compat[] = { "qemu-x86_64" };
	int src = memfd_create("src", MFD_CLOEXEC), out = memfd_create("pkg", MFD_CLOEXEC);
	struct lp_pkg_source s = {
		.name = "rootfs.img", .type = LP_PAYLOAD_IMAGE, .target = "rootfs", .fd = src,
		.compression = comp, .encrypt_key = key, .chunk_size = CHUNK,
	};
	struct lp_pkg_build b = {
		.product = "p", .version = "1.0.0", .compatible = compat, .n_compatible = 1,
		.created = "2026-11-25T19:00:00Z", .sources = &s, .n_sources = 1,
		.keys = (const struct lp_key *const *)&signer, .n_keys = 1,
	};
	int rc;

	assert_true(src >= 0 && out >= 0);
	assert_int_equal(write(src, data, len), (ssize_t)len);
	assert_int_equal(lseek(src, 0, SEEK_SET), 0);
	if (streaming)
		assert_int_equal(fcntl(out, F_SETFL, O_APPEND), 0);
	rc = lp_pkg_build(&b, out, NULL, d);
	close(src);
	if (rc < 0) {
		close(out);
		return rc;
	}
	assert_int_equal(lseek(out, 0, SEEK_SET), 0);
	return out;
}

/* Reads the package in fd with keys (may be NULL) into *got (NULL: no sink), handed to
 * the reader in odd pieces. */
static int read_pkg(int fd, const struct lp_aes_keyring *keys, struct mem *got,
		    struct lp_diag *d)
{
	struct lp_pkg_policy pol = { .trusted = trusted, .decryption_keys = keys };
	struct mem_reader in = { .chunk = 777 };
	const struct lp_payload_info *info;
	struct lp_pkg_reader *r = NULL;
	const struct lp_manifest *m;
	struct stat st;
	uint8_t *all;
	int rc;

	memset(d, 0, sizeof(*d));
	assert_int_equal(fstat(fd, &st), 0);
	all = malloc((size_t)st.st_size);
	assert_non_null(all);
	assert_int_equal(pread(fd, all, (size_t)st.st_size, 0), st.st_size);
	in.data = all;
	in.len = (size_t)st.st_size;
	assert_int_equal(lp_pkg_reader_new(mem_read, &in, &pol, &r), 0);
	rc = lp_pkg_reader_open(r, &m, d);
	if (rc == 0 && !m->payloads[0].encryption.present)
		fail_msg("payload not encrypted");
	while (rc == 0 && (rc = lp_pkg_reader_next(r, &info, d)) == 1)
		rc = lp_pkg_reader_stream(r, got ? mem_write : NULL, got, d);
	lp_pkg_reader_free(r);
	free(all);
	return rc;
}

/* A keyring with a copy of aes, loaded from a key file as the agent does. */
static struct lp_aes_keyring *ring_with_aes(void)
{
	char dir[] = "/tmp/lp-aes-XXXXXX", path[64];
	struct lp_aes_keyring *keys = NULL;
	struct lp_diag d = { 0 };

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.aes", dir);
	assert_int_equal(lp_aes_key_save(aes, path, false), 0);
	assert_int_equal(lp_aes_keyring_new(&keys), 0);
	assert_int_equal(lp_aes_keyring_load(keys, path, &d), 0);
	unlink(path);
	rmdir(dir);
	return keys;
}

static void test_package_roundtrip(void **state)
{
	const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * 1024 * 1024 + 5 };
	uint8_t *data = pattern(3 * 1024 * 1024 + 5, 3);
	struct lp_aes_keyring *keys = NULL;

	(void)state;
	keys = ring_with_aes();
	for (size_t i = 0; i < LP_ARRAY_SIZE(sizes); i++) {
		for (int v = 0; v < 4; v++) {
			enum lp_compression comp = v & 1 ? LP_COMPRESSION_ZSTD : LP_COMPRESSION_NONE;
			struct lp_diag d = { 0 };
			struct mem got = { 0 };
			int fd = build_pkg(data, sizes[i], comp, aes, v & 2, &d);

			if (fd < 0)
				fail_msg("size %zu variant %d: %s", sizes[i], v, d.msg);
			if (read_pkg(fd, keys, &got, &d) != 0)
				fail_msg("size %zu variant %d: %s", sizes[i], v, d.msg);
			assert_int_equal(got.len, sizes[i]);
			if (sizes[i])
				assert_memory_equal(got.data, data, sizes[i]);
			/* verifiable without the key: signature, stored size and hash */
			assert_int_equal(read_pkg(fd, NULL, NULL, &d), 0);
			free(got.data);
			close(fd);
		}
	}
	lp_aes_keyring_free(keys);
	free(data);
}

static void test_package_refusals(void **state)
{
	const size_t len = 5 * CHUNK + 300, full = CHUNK + 16;
	uint8_t *data = pattern(len, 4);
	struct lp_aes_keyring *keys = NULL, *wrong = NULL;
	struct lp_manifest *m = NULL;
	struct lp_diag d = { 0 };
	struct mem got = { 0 };
	struct stat st;
	uint8_t a[CHUNK + 16], b[CHUNK + 16];
	off_t off;
	int fd;

	(void)state;
	fd = build_pkg(data, len, LP_COMPRESSION_NONE, aes, false, &d);
	assert_true(fd >= 0);
	/* no key for the payload (a keyring with another key, or none): refused before a
	 * byte reaches the sink, with the key id */
	assert_int_equal(lp_aes_keyring_new(&wrong), 0);
	{
		uint8_t raw[LP_AES_KEY_LEN];
		struct lp_aes_key *k;

		memset(raw, 0x42, sizeof(raw));
		assert_int_equal(lp_aes_key_from_raw(raw, &k), 0);
		assert_int_equal(lp_aes_keyring_add(wrong, k), 0);
	}
	assert_int_equal(read_pkg(fd, wrong, &got, &d), -ENOKEY);
	assert_non_null(strstr(d.msg, "payload rootfs.img: no key for key_id "));
	assert_non_null(strstr(d.msg, lp_aes_key_id(aes)));
	assert_int_equal(got.len, 0);
	assert_int_equal(read_pkg(fd, NULL, &got, &d), -ENOKEY);
	assert_int_equal(got.len, 0);

	/* the payload member follows the header block named rootfs.img */
	assert_int_equal(read_pkg(fd, NULL, NULL, &d), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	{
		struct lp_signature_info sigs[LP_PKG_MAX_SIGNATURES];
		size_t n_sigs;

		assert_int_equal(lp_pkg_peek_fd(fd, &m, sigs, &n_sigs, &d), 0);
		assert_string_equal(m->payloads[0].encryption.alg, "aes-256-gcm-chunked");
		assert_string_equal(m->payloads[0].encryption.key_id, lp_aes_key_id(aes));
		assert_int_equal(m->payloads[0].encryption.chunk_size, CHUNK);
		assert_int_equal(m->payloads[0].size, len);
		assert_int_equal(m->payloads[0].stored_size, lp_pkg_crypt_stored_size(len, CHUNK));
		lp_manifest_free(m);
	}
	assert_int_equal(fstat(fd, &st), 0);
	{
		uint8_t *all = malloc((size_t)st.st_size);

		assert_int_equal(pread(fd, all, (size_t)st.st_size, 0), st.st_size);
		off = -1;
		for (off_t o = 0; o + 512 <= st.st_size; o += 512)
			if (memcmp(all + o, "rootfs.img", 11) == 0)
				off = o + 512;
		free(all);
	}
	assert_true(off > 0);
	keys = ring_with_aes();
	/* a flipped ciphertext bit in chunk 3: chunks 0-2 reach the sink, then the tag fails */
	assert_int_equal(pread(fd, a, 1, off + 3 * (off_t)full + 7), 1);
	a[1] = a[0] ^ 0x80;
	assert_int_equal(pwrite(fd, &a[1], 1, off + 3 * (off_t)full + 7), 1);
	assert_int_equal(read_pkg(fd, keys, &got, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload rootfs.img: chunk 3: authentication failed (tampered or wrong key)");
	assert_int_equal(got.len, 3 * CHUNK);
	assert_memory_equal(got.data, data, 3 * CHUNK);
	got.len = 0;
	/* without the key the same tampering is found by stored_sha256 */
	assert_int_equal(read_pkg(fd, NULL, NULL, &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "stored_sha256 mismatch"));
	assert_int_equal(pwrite(fd, &a[0], 1, off + 3 * (off_t)full + 7), 1);
	assert_int_equal(read_pkg(fd, keys, &got, &d), 0);
	got.len = 0;
	/* chunks 1 and 2 swapped */
	assert_int_equal(pread(fd, a, full, off + (off_t)full), (ssize_t)full);
	assert_int_equal(pread(fd, b, full, off + 2 * (off_t)full), (ssize_t)full);
	assert_int_equal(pwrite(fd, b, full, off + (off_t)full), (ssize_t)full);
	assert_int_equal(pwrite(fd, a, full, off + 2 * (off_t)full), (ssize_t)full);
	assert_int_equal(read_pkg(fd, keys, &got, &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "chunk 1: authentication failed"));
	assert_int_equal(got.len, CHUNK);
	lp_aes_keyring_free(keys);
	lp_aes_keyring_free(wrong);
	free(got.data);
	close(fd);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_stream_sizes),
		cmocka_unit_test(test_stream_attacks),
		cmocka_unit_test(test_package_roundtrip),
		cmocka_unit_test(test_package_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

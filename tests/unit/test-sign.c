/* SPDX-License-Identifier: MIT */
/* Ed25519 keys, signatures, PEM files and keyrings; interoperability with the openssl CLI. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "loopline/codec.h"
#include "loopline/sign.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lp-test-sign-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[512];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(tmpdir);
	return 0;
}

static const char *tmp(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

/* Runs a command (argv), quietly; returns its exit status. */
static int run(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_sign_verify(void **state)
{
	static const char msg[] = "manifest bytes";
	struct lp_key *key = NULL, *pub = NULL;
	uint8_t sig[LP_ED25519_SIG_LEN], raw[LP_ED25519_PUB_LEN], bad[sizeof(msg)];

	(void)state;
	assert_int_equal(lp_key_generate(&key), 0);
	assert_true(lp_key_is_private(key));
	assert_int_equal(lp_sign(key, msg, sizeof(msg), sig), 0);
	assert_int_equal(lp_verify(key, msg, sizeof(msg), sig), 0);

	/* the public half alone verifies, and cannot sign */
	assert_int_equal(lp_key_raw_public(key, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_false(lp_key_is_private(pub));
	assert_int_equal(lp_verify(pub, msg, sizeof(msg), sig), 0);
	assert_int_equal(lp_sign(pub, msg, sizeof(msg), sig), -EINVAL);

	/* every single flipped bit in the message or the signature fails */
	for (size_t i = 0; i < sizeof(msg) * 8; i++) {
		memcpy(bad, msg, sizeof(msg));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(lp_verify(pub, bad, sizeof(bad), sig), -EBADMSG);
	}
	for (size_t i = 0; i < sizeof(sig) * 8; i++) {
		uint8_t s2[LP_ED25519_SIG_LEN];

		memcpy(s2, sig, sizeof(s2));
		s2[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(lp_verify(pub, msg, sizeof(msg), s2), -EBADMSG);
	}
	/* another key does not verify it; a shorter message does not either */
	{
		struct lp_key *other = NULL;

		assert_int_equal(lp_key_generate(&other), 0);
		assert_int_equal(lp_verify(other, msg, sizeof(msg), sig), -EBADMSG);
		lp_key_free(other);
	}
	assert_int_equal(lp_verify(pub, msg, sizeof(msg) - 1, sig), -EBADMSG);

	/* empty messages sign and verify */
	assert_int_equal(lp_sign(key, NULL, 0, sig), 0);
	assert_int_equal(lp_verify(pub, "", 0, sig), 0);
	lp_key_free(key);
	lp_key_free(pub);
	lp_key_free(NULL);
}

static void test_key_id(void **state)
{
	struct lp_key *key = NULL, *pub = NULL;
	uint8_t raw[LP_ED25519_PUB_LEN], digest[SHA256_DIGEST_LENGTH];
	char id[LP_KEYID_LEN + 1], id2[LP_KEYID_LEN + 1], manual[LP_KEYID_LEN + 1];
	EVP_PKEY *pkey;
	size_t rlen = sizeof(raw);
	FILE *f;

	(void)state;
	assert_int_equal(lp_key_generate(&key), 0);
	lp_key_id(key, id);
	assert_int_equal(strlen(id), LP_KEYID_LEN);
	assert_int_equal(lp_key_save_public(key, tmp("id.pub.pem"), false), 0);

	/* Computed independently: OpenSSL reads the SPKI file; SHA-256 of the raw key. */
	f = fopen(tmp("id.pub.pem"), "re");
	assert_non_null(f);
	pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pkey);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &rlen), 1);
	assert_int_equal(rlen, LP_ED25519_PUB_LEN);
	EVP_PKEY_free(pkey);
	SHA256(raw, sizeof(raw), digest);
	for (int i = 0; i < 8; i++)
		snprintf(manual + 2 * i, 3, "%02x", digest[i]);
	assert_string_equal(id, manual);

	/* stable: same id from the raw public key and from the file */
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	lp_key_id(pub, id2);
	assert_string_equal(id, id2);
	lp_key_free(pub);
	assert_int_equal(lp_key_load_public(tmp("id.pub.pem"), &pub, NULL), 0);
	lp_key_id(pub, id2);
	assert_string_equal(id, id2);
	lp_key_free(pub);
	lp_key_free(key);
}

static void test_save_load(void **state)
{
	struct lp_key *key = NULL, *priv = NULL, *pub = NULL, *frompriv = NULL, *other = NULL;
	struct lp_key *pub_as_priv = NULL;
	char id[LP_KEYID_LEN + 1], id2[LP_KEYID_LEN + 1];
	uint8_t sig[LP_ED25519_SIG_LEN];
	struct lp_diag diag = { 0 };
	struct stat st;
	DIR *d;
	struct dirent *de;
	int files = 0;

	(void)state;
	assert_int_equal(lp_key_generate(&key), 0);
	lp_key_id(key, id);
	assert_int_equal(lp_key_save_private(key, tmp("k.pem"), false), 0);
	assert_int_equal(lp_key_save_public(key, tmp("k.pub.pem"), false), 0);
	assert_int_equal(stat(tmp("k.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(tmp("k.pub.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	/* no overwrite unless asked */
	assert_int_equal(lp_key_generate(&other), 0);
	assert_int_equal(lp_key_save_private(other, tmp("k.pem"), false), -EEXIST);
	assert_int_equal(lp_key_save_public(other, tmp("k.pub.pem"), false), -EEXIST);
	/* a public key cannot be saved as private */
	assert_int_equal(lp_key_load_public(tmp("k.pub.pem"), &pub, &diag), 0);
	assert_int_equal(lp_key_save_private(pub, tmp("x.pem"), true), -EINVAL);
	assert_int_equal(access(tmp("x.pem"), F_OK), -1);

	assert_int_equal(lp_key_load_private(tmp("k.pem"), &priv, &diag), 0);
	assert_true(lp_key_is_private(priv));
	lp_key_id(priv, id2);
	assert_string_equal(id, id2);
	lp_key_id(pub, id2);
	assert_string_equal(id, id2);
	assert_false(lp_key_is_private(pub));
	/* a private key file loaded as public gives only the public half */
	assert_int_equal(lp_key_load_public(tmp("k.pem"), &frompriv, &diag), 0);
	assert_false(lp_key_is_private(frompriv));
	assert_int_equal(lp_sign(frompriv, "m", 1, sig), -EINVAL);
	/* the loaded private key signs what the loaded public key verifies */
	assert_int_equal(lp_sign(priv, "m", 1, sig), 0);
	assert_int_equal(lp_verify(pub, "m", 1, sig), 0);
	assert_int_equal(lp_verify(frompriv, "m", 1, sig), 0);

	/* a public key file is not a private key */
	lp_diag_clear(&diag);
	assert_int_equal(lp_key_load_private(tmp("k.pub.pem"), &pub_as_priv, &diag), -EINVAL);
	assert_null(pub_as_priv);
	assert_string_equal(diag.file, tmp("k.pub.pem"));
	assert_non_null(strstr(diag.msg, "private key is needed"));

	/* overwrite replaces atomically */
	assert_int_equal(lp_key_save_private(other, tmp("k.pem"), true), 0);
	lp_key_free(priv);
	priv = NULL;
	assert_int_equal(lp_key_load_private(tmp("k.pem"), &priv, NULL), 0);
	lp_key_id(priv, id2);
	lp_key_id(other, id);
	assert_string_equal(id, id2);
	assert_int_equal(stat(tmp("k.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* no temporary files left behind */
	d = opendir(tmpdir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp"))
			fail_msg("left-over temporary file %s", de->d_name);
		else if (de->d_name[0] != '.')
			files++;
	closedir(d);
	assert_true(files >= 2);

	lp_key_free(key);
	lp_key_free(priv);
	lp_key_free(pub);
	lp_key_free(frompriv);
	lp_key_free(other);
}

static void test_openssl_interop(void **state)
{
	const char *gen[] = { "openssl", "genpkey", "-algorithm", "ed25519", "-out",
			      tmp("cli.pem"), NULL };
	const char *pubout[] = { "openssl", "pkey", "-in", tmp("cli.pem"), "-pubout", "-out",
				 tmp("cli.pub.pem"), NULL };
	struct lp_key *key = NULL, *pub = NULL;
	uint8_t sig[LP_ED25519_SIG_LEN];
	static const char msg[] = "signed by loopline, checked by openssl";
	char id[LP_KEYID_LEN + 1], id2[LP_KEYID_LEN + 1];
	struct lp_diag diag = { 0 };

	(void)state;
	assert_int_equal(run(gen), 0);
	assert_int_equal(run(pubout), 0);
	assert_int_equal(lp_key_load_private(tmp("cli.pem"), &key, &diag), 0);
	assert_int_equal(lp_key_load_public(tmp("cli.pub.pem"), &pub, &diag), 0);
	lp_key_id(key, id);
	lp_key_id(pub, id2);
	assert_string_equal(id, id2);

	/* our signature verifies with the openssl CLI, and fails there when tampered */
	assert_int_equal(lp_sign(key, msg, strlen(msg), sig), 0);
	write_file(tmp("msg"), msg, strlen(msg));
	write_file(tmp("sig"), sig, sizeof(sig));
	{
		const char *verify[] = { "openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
					 tmp("cli.pub.pem"), "-rawin", "-in", tmp("msg"),
					 "-sigfile", tmp("sig"), NULL };

		assert_int_equal(run(verify), 0);
		sig[10] ^= 0x04;
		write_file(tmp("sig"), sig, sizeof(sig));
		assert_int_not_equal(run(verify), 0);
	}
	/* a file we saved is read by openssl */
	{
		const char *check[] = { "openssl", "pkey", "-in", tmp("ours.pem"), "-noout", NULL };

		assert_int_equal(lp_key_save_private(key, tmp("ours.pem"), false), 0);
		assert_int_equal(run(check), 0);
	}
	lp_key_free(key);
	lp_key_free(pub);
}

static void test_refuse_other_keys(void **state)
{
	static const struct {
		const char *name;
		const char *const argv[12];
		const char *expect;
	} cases[] = {
		{ "rsa.pem",
		  { "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
		    NULL },
		  "RSA key refused: only Ed25519" },
		{ "ec.pem",
		  { "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
		    NULL },
		  "EC key refused: only Ed25519" },
		{ "x25519.pem", { "openssl", "genpkey", "-algorithm", "X25519", NULL },
		  "X25519 key refused: only Ed25519" },
		{ "enc.pem",
		  { "openssl", "genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass",
		    "pass:secret", NULL },
		  "encrypted private keys are not supported" },
	};

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		const char *argv[16];
		size_t n = 0;
		struct lp_key *key = NULL;
		struct lp_diag diag = { 0 };

		while (cases[i].argv[n]) {
			argv[n] = cases[i].argv[n];
			n++;
		}
		argv[n++] = "-out";
		argv[n++] = tmp(cases[i].name);
		argv[n] = NULL;
		assert_int_equal(run(argv), 0);

		assert_int_equal(lp_key_load_private(tmp(cases[i].name), &key, &diag), -EINVAL);
		assert_null(key);
		if (!strstr(diag.msg, cases[i].expect))
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].name, diag.msg, cases[i].expect);
		lp_diag_clear(&diag);
		assert_int_equal(lp_key_load_public(tmp(cases[i].name), &key, &diag), -EINVAL);
		assert_null(key);
		if (!strstr(diag.msg, cases[i].expect))
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].name, diag.msg, cases[i].expect);
	}
	/* and the public half of an RSA key */
	{
		const char *pubout[] = { "openssl", "pkey", "-in", tmp("rsa.pem"), "-pubout", "-out",
					 tmp("rsa.pub.pem"), NULL };
		struct lp_key *key = NULL;
		struct lp_diag diag = { 0 };

		assert_int_equal(run(pubout), 0);
		assert_int_equal(lp_key_load_public(tmp("rsa.pub.pem"), &key, &diag), -EINVAL);
		assert_non_null(strstr(diag.msg, "RSA key refused"));
	}
}

static void test_bad_pem(void **state)
{
	static const char *const bad[] = {
		"",
		"not a key at all",
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
		"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
	};
	struct lp_key *key = NULL;
	struct lp_diag diag = { 0 };

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		lp_diag_clear(&diag);
		assert_int_equal(lp_key_from_pem(bad[i], strlen(bad[i]), &key, &diag), -EINVAL);
		assert_null(key);
		assert_true(diag.msg[0] != '\0');
	}
	assert_int_equal(lp_key_load_private(tmp("missing.pem"), &key, &diag), -ENOENT);
	assert_string_equal(diag.file, tmp("missing.pem"));
	assert_non_null(strstr(diag.msg, "cannot open"));
}

static void test_from_pem_roundtrip(void **state)
{
	struct lp_key *key = NULL, *back = NULL;
	char id[LP_KEYID_LEN + 1], id2[LP_KEYID_LEN + 1];
	char pem[1024];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(lp_key_generate(&key), 0);
	assert_int_equal(lp_key_save_private(key, tmp("rt.pem"), false), 0);
	fd = open(tmp("rt.pem"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, pem, sizeof(pem));
	close(fd);
	assert_true(n > 0);
	assert_int_equal(lp_key_from_pem(pem, (size_t)n, &back, NULL), 0);
	assert_true(lp_key_is_private(back));
	lp_key_id(key, id);
	lp_key_id(back, id2);
	assert_string_equal(id, id2);
	lp_key_free(key);
	lp_key_free(back);
}

static void test_keyring(void **state)
{
	struct lp_keyring *ring = NULL;
	struct lp_key *a = NULL, *b = NULL, *dup = NULL;
	uint8_t raw[LP_ED25519_PUB_LEN];
	char ida[LP_KEYID_LEN + 1], idb[LP_KEYID_LEN + 1];
	struct lp_diag diag = { 0 };

	(void)state;
	assert_int_equal(mkdir(tmp("ring"), 0700), 0);
	assert_int_equal(mkdir(tmp("empty"), 0700), 0);
	assert_int_equal(lp_key_generate(&a), 0);
	assert_int_equal(lp_key_generate(&b), 0);
	lp_key_id(a, ida);
	lp_key_id(b, idb);
	assert_int_equal(lp_key_save_public(a, tmp("ring/a.pem"), false), 0);
	assert_int_equal(lp_key_save_private(b, tmp("ring/b.pem"), false), 0);
	write_file(tmp("ring/notes.txt"), "not a key", 9);
	write_file(tmp("ring/.hidden.pem"), "junk", 4);

	/* add, duplicate, find */
	assert_int_equal(lp_keyring_new(&ring), 0);
	assert_int_equal(lp_keyring_add(ring, a), 0);
	assert_int_equal(lp_key_raw_public(a, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &dup), 0);
	assert_int_equal(lp_keyring_add(ring, dup), -EEXIST); /* dup freed by the keyring */
	assert_int_equal(lp_keyring_count(ring), 1);
	assert_ptr_equal(lp_keyring_find(ring, ida), a);
	assert_null(lp_keyring_find(ring, idb));
	assert_null(lp_keyring_find(ring, "0000000000000000"));
	assert_ptr_equal(lp_keyring_get(ring, 0), a);
	assert_null(lp_keyring_get(ring, 1));
	lp_keyring_free(ring);
	ring = NULL;

	/* a directory: every *.pem (private ones contribute their public half) */
	assert_int_equal(lp_keyring_new(&ring), 0);
	assert_int_equal(lp_keyring_load(ring, tmp("ring"), &diag), 0);
	assert_int_equal(lp_keyring_count(ring), 2);
	assert_non_null(lp_keyring_find(ring, ida));
	assert_non_null(lp_keyring_find(ring, idb));
	assert_false(lp_key_is_private(lp_keyring_find(ring, idb)));
	/* loading the same key again is a duplicate, named in the message */
	assert_int_equal(lp_keyring_load(ring, tmp("ring/a.pem"), &diag), -EEXIST);
	assert_non_null(strstr(diag.msg, ida));
	lp_keyring_free(ring);

	/* a bad file in the directory fails the load, naming the file */
	assert_int_equal(lp_keyring_new(&ring), 0);
	write_file(tmp("ring/c.pem"), "garbage", 7);
	lp_diag_clear(&diag);
	assert_int_equal(lp_keyring_load(ring, tmp("ring"), &diag), -EINVAL);
	assert_string_equal(diag.file, tmp("ring/c.pem"));
	lp_keyring_free(ring);

	/* empty directory, missing path */
	assert_int_equal(lp_keyring_new(&ring), 0);
	assert_int_equal(lp_keyring_load(ring, tmp("empty"), &diag), -ENOENT);
	assert_int_equal(lp_keyring_load(ring, tmp("nope"), &diag), -ENOENT);
	assert_int_equal(lp_keyring_count(ring), 0);
	lp_keyring_free(ring);
	lp_keyring_free(NULL);
	lp_key_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),     cmocka_unit_test(test_key_id),
		cmocka_unit_test(test_save_load),       cmocka_unit_test(test_openssl_interop),
		cmocka_unit_test(test_refuse_other_keys), cmocka_unit_test(test_bad_pem),
		cmocka_unit_test(test_from_pem_roundtrip), cmocka_unit_test(test_keyring),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

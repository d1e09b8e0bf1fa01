/* SPDX-License-Identifier: MIT */
/*
 * The .lpkg package: build/read round trips (seekable output and pipe), tampering (every
 * single-byte flip, every truncation), signatures (untrusted, invalid, resign) and policy
 * (compatible, anti-rollback, agent version, limits).
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/hash.h"
#include "loopline/package.h"
#include "loopline/tar.h"

struct mem {
	uint8_t *data;
	size_t len;
};

struct mem_reader {
	const uint8_t *data;
	size_t len, off;
	size_t chunk; /* at most this many bytes per read (0 = no limit) */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_reader *m = ctx;
	size_t n = m->len - m->off;

	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* Reads everything from fd (from offset 0). */
static struct mem fd_slurp(int fd)
{
	struct mem m = { 0 };
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	m.len = (size_t)st.st_size;
	m.data = malloc(m.len ? m.len : 1);
	assert_non_null(m.data);
	assert_int_equal(pread(fd, m.data, m.len, 0), (ssize_t)m.len);
	return m;
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("src", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Deterministic test data: a mix of compressible text and noise. */
static uint8_t *make_data(size_t len, unsigned seed, bool compressible)
{
	uint8_t *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = compressible ? (uint8_t)("loopline "[i % 9] + ((x >> 28) == 0)) : (uint8_t)(x >> 16);
	}
	return p;
}

struct fixture {
	struct lp_key *key;   /* trusted signer */
	struct lp_key *key2;  /* a second signer, trusted too */
	struct lp_key *other; /* not trusted */
	struct lp_keyring *ring;
};

static struct fixture fx;

static int setup(void **state)
{
	struct lp_key *pub;
	uint8_t raw[LP_ED25519_PUB_LEN];

	assert_int_equal(lp_key_generate(&fx.key), 0);
	assert_int_equal(lp_key_generate(&fx.key2), 0);
	assert_int_equal(lp_key_generate(&fx.other), 0);
	assert_int_equal(lp_keyring_new(&fx.ring), 0);
	assert_int_equal(lp_key_raw_public(fx.key, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_int_equal(lp_keyring_add(fx.ring, pub), 0);
	assert_int_equal(lp_key_raw_public(fx.key2, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_int_equal(lp_keyring_add(fx.ring, pub), 0);
	return 0;
}

static int teardown(void **state)
{
	lp_key_free(fx.key);
	lp_key_free(fx.key2);
	lp_key_free(fx.other);
	lp_keyring_free(fx.ring);
	return 0;
}

/* A package description with n payloads over the given data. */
struct spec {
	const char *names[4];
	const uint8_t *data[4];
	size_t len[4];
	enum lp_compression comp[4];
	size_t n;
	const struct lp_key *keys[4];
	size_t n_keys;
	uint64_t security_version;
	const char *min_agent_version;
	const char *compatible[2];
	size_t n_compatible;
};

static void spec_default(struct spec *s, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	memset(s, 0, sizeof(*s));
	s->names[0] = "rootfs.img";
	s->data[0] = a;
	s->len[0] = alen;
	s->comp[0] = LP_COMPRESSION_NONE;
	s->names[1] = "app.tar.zst";
	s->data[1] = b;
	s->len[1] = blen;
	s->comp[1] = LP_COMPRESSION_ZSTD;
	s->n = 2;
	s->keys[0] = fx.key;
	s->n_keys = 1;
	s->security_version = 3;
	s->min_agent_version = "0.1.0";
	s->compatible[0] = "qemu-x86_64";
	s->compatible[1] = "qemu-aarch64";
	s->n_compatible = 2;
}

/* Builds into out_fd; sources are memfds (regular files) or pipes. Returns the result. */
static int build_to(const struct spec *s, int out_fd, bool pipe_sources, struct lp_manifest **ret_m,
		    struct lp_diag *d)
{
	struct lp_pkg_source src[4];
	struct lp_pkg_build b = { 0 };
	int fds[4];
	pid_t feeders[4];
	int rc;

	memset(src, 0, sizeof(src));
	for (size_t i = 0; i < s->n; i++) {
		feeders[i] = -1;
		if (pipe_sources) {
			int p[2];

			assert_int_equal(pipe2(p, O_CLOEXEC), 0);
			feeders[i] = fork();
			assert_true(feeders[i] >= 0);
			if (feeders[i] == 0) {
				close(p[0]);
				ssize_t n = write(p[1], s->data[i], s->len[i]);
				_exit(n == (ssize_t)s->len[i] ? 0 : 1);
			}
			close(p[1]);
			fds[i] = p[0];
		} else {
			fds[i] = memfd_with(s->data[i], s->len[i]);
		}
		src[i].name = s->names[i];
		src[i].type = LP_PAYLOAD_IMAGE;
		src[i].target = i == 0 ? "rootfs" : "/opt/app";
		if (i > 0)
			src[i].type = LP_PAYLOAD_FILE;
		src[i].fd = fds[i];
		src[i].compression = s->comp[i];
	}
	b.product = "loopline-reference";
	b.version = "1.2.0";
	b.security_version = s->security_version;
	b.compatible = s->compatible;
	b.n_compatible = s->n_compatible;
	b.min_agent_version = s->min_agent_version;
	b.created = "2026-11-25T19:00:00Z";
	b.sources = src;
	b.n_sources = s->n;
	b.keys = s->keys;
	b.n_keys = s->n_keys;
	rc = lp_pkg_build(&b, out_fd, ret_m, d);
	for (size_t i = 0; i < s->n; i++) {
		close(fds[i]);
		if (feeders[i] > 0) {
			int status;

			assert_int_equal(waitpid(feeders[i], &status, 0), feeders[i]);
		}
	}
	return rc;
}

/* Builds a package into memory through a seekable memfd. */
static struct mem build_mem(const struct spec *s)
{
	struct lp_diag d = { 0 };
	struct mem m;
	int fd = memfd_create("pkg", MFD_CLOEXEC);
	int rc;

	assert_true(fd >= 0);
	rc = build_to(s, fd, false, NULL, &d);
	if (rc < 0)
		fail_msg("build: %s (%d)", d.msg, rc);
	m = fd_slurp(fd);
	close(fd);
	return m;
}

/* Builds through a pipe (non-seekable output): a child builds, the parent collects. */
static struct mem build_pipe(const struct spec *s, bool pipe_sources)
{
	struct mem m = { 0 };
	size_t cap = 0;
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lp_diag d = { 0 };
		int rc;

		close(p[0]);
		rc = build_to(s, p[1], pipe_sources, NULL, &d);
		if (rc < 0)
			fprintf(stderr, "build: %s\n", d.msg);
		_exit(rc < 0 ? 1 : 0);
	}
	close(p[1]);
	for (;;) {
		ssize_t n;

		if (m.len == cap) {
			cap = cap ? cap * 2 : 65536;
			m.data = realloc(m.data, cap);
			assert_non_null(m.data);
		}
		n = read(p[0], m.data + m.len, cap - m.len);
		assert_true(n >= 0);
		if (n == 0)
			break;
		m.len += (size_t)n;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return m;
}

/* ---- reading with a recording sink ---- */

struct sink_rec {
	bool opened;        /* lp_pkg_reader_open succeeded */
	bool early;         /* the sink was called before that */
	size_t calls;
	struct mem out[4];
	size_t cur;
};

static int sink_rec_fn(void *ctx, const void *data, size_t len)
{
	struct sink_rec *s = ctx;
	struct mem *o = &s->out[s->cur];

	if (!s->opened)
		s->early = true;
	s->calls++;
	o->data = realloc(o->data, o->len + len + 1);
	assert_non_null(o->data);
	memcpy(o->data + o->len, data, len);
	o->len += len;
	return 0;
}

static void sink_rec_free(struct sink_rec *s)
{
	for (size_t i = 0; i < 4; i++)
		free(s->out[i].data);
}

struct read_result {
	int rc;
	struct lp_diag diag;
	size_t n_payloads;
};

static struct read_result read_pkg(const uint8_t *data, size_t len, const struct lp_pkg_policy *pol,
				   struct sink_rec *rec, size_t chunk)
{
	struct mem_reader mr = { .data = data, .len = len, .chunk = chunk };
	struct read_result res = { 0 };
	struct lp_pkg_reader *r;
	const struct lp_manifest *m;
	const struct lp_payload_info *info;
	int rc;

	assert_int_equal(lp_pkg_reader_new(mem_read, &mr, pol, &r), 0);
	rc = lp_pkg_reader_open(r, &m, &res.diag);
	if (rc == 0) {
		rec->opened = true;
		while ((rc = lp_pkg_reader_next(r, &info, &res.diag)) == 1) {
			assert_true(res.n_payloads < 4);
			rec->cur = res.n_payloads++;
			rc = lp_pkg_reader_stream(r, sink_rec_fn, rec, &res.diag);
			if (rc < 0)
				break;
		}
	}
	res.rc = rc;
	lp_pkg_reader_free(r);
	return res;
}

static struct lp_pkg_policy default_policy(void)
{
	struct lp_pkg_policy p = {
		.trusted = fx.ring,
		.compatible = "qemu-x86_64",
		.check_security_version = true,
		.min_security_version = 3,
		.agent_version = "0.1.0",
	};
	return p;
}

/* ---- tests ---- */

static void check_roundtrip(const struct mem *pkg, const struct spec *s, size_t chunk)
{
	struct lp_pkg_policy pol = default_policy();
	struct sink_rec rec = { 0 };
	struct read_result res = read_pkg(pkg->data, pkg->len, &pol, &rec, chunk);

	if (res.rc != 0)
		fail_msg("read: %s (%d)", res.diag.msg, res.rc);
	assert_int_equal(res.n_payloads, s->n);
	assert_false(rec.early);
	for (size_t i = 0; i < s->n; i++) {
		assert_int_equal(rec.out[i].len, s->len[i]);
		if (s->len[i])
			assert_memory_equal(rec.out[i].data, s->data[i], s->len[i]);
	}
	sink_rec_free(&rec);
}

static void test_roundtrip(void **state)
{
	uint8_t *a = make_data(300000, 1, false), *b = make_data(500000, 2, true);
	struct spec s;
	struct mem seek, piped, piped_src;
	struct lp_manifest *m = NULL;
	struct lp_diag d = { 0 };
	int fd;

	spec_default(&s, a, 300000, b, 500000);
	s.names[2] = "empty.bin";
	s.data[2] = a;
	s.len[2] = 0;
	s.comp[2] = LP_COMPRESSION_ZSTD;
	s.n = 3;

	seek = build_mem(&s);
	assert_int_equal(seek.len % 512, 0);
	check_roundtrip(&seek, &s, 0);
	check_roundtrip(&seek, &s, 1000); /* a source that returns small reads */

	piped = build_pipe(&s, false);
	check_roundtrip(&piped, &s, 0);
	piped_src = build_pipe(&s, true);
	check_roundtrip(&piped_src, &s, 0);

	/* The manifest as returned and as read back. */
	fd = memfd_with(seek.data, seek.len);
	{
		struct lp_pkg_policy pol = default_policy();

		assert_int_equal(lp_pkg_verify_fd(fd, &pol, &m, &d), 0);
	}
	close(fd);
	assert_string_equal(m->product, "loopline-reference");
	assert_string_equal(m->version, "1.2.0");
	assert_int_equal(m->n_payloads, 3);
	assert_int_equal(m->payloads[0].size, 300000);
	assert_int_equal(m->payloads[0].stored_size, 300000);
	assert_int_equal(m->payloads[1].size, 500000);
	assert_true(m->payloads[1].stored_size < 500000);
	assert_int_equal(m->payloads[1].compression, LP_COMPRESSION_ZSTD);
	assert_int_equal(m->payloads[2].size, 0);
	{
		uint8_t h[LP_HASH_MAX_LEN];

		assert_int_equal(lp_hash_buffer(LP_HASH_SHA256, b, 500000, h), 0);
		assert_memory_equal(h, m->payloads[1].sha256, 32);
	}
	lp_manifest_free(m);

	/* The package is a plain tar: member order and names. */
	{
		struct mem_reader mr = { .data = seek.data, .len = seek.len };
		struct lp_tar_reader *tr;
		struct lp_tar_entry e;
		const char *want[] = { "manifest.json", "manifest.sig", "rootfs.img", "app.tar.zst", "empty.bin" };

		assert_int_equal(lp_tar_reader_new(mem_read, &mr, &tr), 0);
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(lp_tar_reader_next(tr, &e, &d), 1);
			assert_string_equal(e.name, want[i]);
		}
		assert_int_equal(lp_tar_reader_next(tr, &e, &d), 0);
		lp_tar_reader_free(tr);
	}
	free(seek.data);
	free(piped.data);
	free(piped_src.data);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

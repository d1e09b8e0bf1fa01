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
#include <zstd.h>

#include "loopline/codec.h"
#include "loopline/hash.h"
#include "loopline/package.h"
#include "loopline/tar.h"
#include "mem-stream.h"
#include "tar-ref.h"

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

	/* Seekable output, pipe sources: those payloads are spooled first. */
	{
		struct lp_diag bd = { 0 };
		struct mem spooled;
		int out = memfd_create("pkg", MFD_CLOEXEC);

		assert_int_equal(build_to(&s, out, true, NULL, &bd), 0);
		spooled = fd_slurp(out);
		close(out);
		check_roundtrip(&spooled, &s, 0);
		free(spooled.data);
	}
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
		struct tar_ref *tr;
		struct lp_tar_entry e;
		const char *want[] = { "manifest.json", "manifest.sig", "rootfs.img", "app.tar.zst", "empty.bin" };

		assert_int_equal(tar_ref_new(mem_read, &mr, &tr), 0);
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(tar_ref_next(tr, &e, &d), 1);
			assert_string_equal(e.name, want[i]);
		}
		assert_int_equal(tar_ref_next(tr, &e, &d), 0);
		tar_ref_free(tr);
	}
	free(seek.data);
	free(piped.data);
	free(piped_src.data);
	free(a);
	free(b);
}


/* Offsets of the members of an intact package. */
struct layout {
	size_t n;
	char name[8][LP_TAR_NAME_MAX + 1];
	uint64_t data_off[8], size[8];
};

static struct layout layout_of(const struct mem *pkg)
{
	struct mem_reader mr = { .data = pkg->data, .len = pkg->len };
	struct tar_ref *tr;
	struct lp_tar_entry e;
	struct layout l = { 0 };
	int rc;

	assert_int_equal(tar_ref_new(mem_read, &mr, &tr), 0);
	while ((rc = tar_ref_next(tr, &e, NULL)) == 1) {
		assert_true(l.n < 8);
		snprintf(l.name[l.n], sizeof(l.name[0]), "%s", e.name);
		l.data_off[l.n] = e.data_offset;
		l.size[l.n] = e.size;
		l.n++;
	}
	assert_int_equal(rc, 0);
	tar_ref_free(tr);
	return l;
}

/* Index of the member whose data holds off, or -1 (headers, padding, end marker). */
static int member_at(const struct layout *l, size_t off)
{
	for (size_t i = 0; i < l->n; i++)
		if (off >= l->data_off[i] && off < l->data_off[i] + l->size[i])
			return (int)i;
	return -1;
}

static struct mem small_package(void)
{
	static uint8_t *a, *b;
	struct spec s;

	if (!a) {
		a = make_data(1000, 3, false);
		b = make_data(1500, 4, true);
	}
	spec_default(&s, a, 1000, b, 1500);
	return build_mem(&s);
}

static void test_byte_flips(void **state)
{
	struct mem pkg = small_package();
	struct layout l = layout_of(&pkg);
	struct lp_pkg_policy pol = default_policy();
	const uint8_t masks[] = { 0x01, 0xff };
	size_t counts[4] = { 0 }; /* EBADMSG, EKEYREJECTED, in payload data, other */

	assert_int_equal(l.n, 4);
	assert_true(pkg.len < 8192);
	for (size_t off = 0; off < pkg.len; off++) {
		for (size_t k = 0; k < LP_ARRAY_SIZE(masks); k++) {
			struct sink_rec rec = { 0 };
			struct read_result res;
			int m = member_at(&l, off);

			pkg.data[off] ^= masks[k];
			res = read_pkg(pkg.data, pkg.len, &pol, &rec, 0);
			pkg.data[off] ^= masks[k];
			if (res.rc >= 0)
				fail_msg("flip 0x%02x at offset %zu accepted", masks[k], off);
			if (rec.early)
				fail_msg("flip at %zu: sink called before the signature check", off);
			if (res.diag.msg[0] == '\0')
				fail_msg("flip at %zu: no message", off);
			if (m == 0) {
				/* manifest.json bytes: the signature no longer matches. */
				assert_int_equal(res.rc, -EKEYREJECTED);
				assert_false(rec.opened);
			} else if (m == 1) {
				assert_true(res.rc == -EKEYREJECTED || res.rc == -EBADMSG);
				assert_false(rec.opened);
			} else if (m >= 2) {
				/* Payload bytes: signature fine, hashes must catch it. */
				assert_true(rec.opened);
				assert_int_equal(res.rc, -EBADMSG);
				counts[2]++;
			} else {
				assert_int_equal(res.rc, -EBADMSG);
			}
			if (getenv("LP_TEST_VERBOSE"))
				print_message("flip %zu^%02x: %d %s%s%s\n", off, masks[k], res.rc,
					      res.diag.path, res.diag.path[0] ? ": " : "", res.diag.msg);
			if (res.rc == -EBADMSG)
				counts[0]++;
			else if (res.rc == -EKEYREJECTED)
				counts[1]++;
			else
				counts[3]++;
			sink_rec_free(&rec);
		}
	}
	print_message("flips: %zu bytes x 2: %zu EBADMSG, %zu EKEYREJECTED (%zu in payload data)\n",
		      pkg.len, counts[0], counts[1], counts[2]);
	assert_int_equal(counts[3], 0);
	free(pkg.data);
}

static void test_truncation(void **state)
{
	struct mem pkg = small_package();
	struct lp_pkg_policy pol = default_policy();
	struct sink_rec rec0 = { 0 };
	struct read_result res;

	for (size_t len = 0; len < pkg.len; len++) {
		struct sink_rec rec = { 0 };

		res = read_pkg(pkg.data, len, &pol, &rec, 0);
		if (res.rc >= 0)
			fail_msg("truncation to %zu bytes accepted", len);
		assert_int_equal(res.rc, -EBADMSG);
		assert_false(rec.early);
		assert_true(res.diag.msg[0] != '\0');
		sink_rec_free(&rec);
	}
	/* Right length: fine; NUL padding after the end: fine; anything else: not. */
	res = read_pkg(pkg.data, pkg.len, &pol, &rec0, 0);
	assert_int_equal(res.rc, 0);
	sink_rec_free(&rec0);
	{
		uint8_t *longer = calloc(1, pkg.len + 1024);
		struct sink_rec rec = { 0 };

		memcpy(longer, pkg.data, pkg.len);
		res = read_pkg(longer, pkg.len + 1024, &pol, &rec, 0);
		assert_int_equal(res.rc, 0);
		sink_rec_free(&rec);
		memset(&rec, 0, sizeof(rec));
		longer[pkg.len + 700] = 'x';
		res = read_pkg(longer, pkg.len + 1024, &pol, &rec, 0);
		assert_int_equal(res.rc, -EBADMSG);
		assert_non_null(strstr(res.diag.msg, "after the end-of-archive marker"));
		sink_rec_free(&rec);
		memset(&rec, 0, sizeof(rec));
		res = read_pkg(longer, pkg.len + 100, &pol, &rec, 0);
		assert_int_equal(res.rc, -EBADMSG);
		sink_rec_free(&rec);
		free(longer);
	}
	free(pkg.data);
}

/* ---- hand-made packages ---- */

struct member {
	const char *name;
	const void *data;
	size_t len;
};

static struct mem tar_of(const struct member *mb, size_t n)
{
	struct mem out = { 0 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(lp_tar_writer_add(w, mb[i].name, mb[i].len, 0, &d), 0);
		assert_int_equal(lp_tar_writer_write(w, mb[i].data, mb[i].len, &d), 0);
	}
	assert_int_equal(lp_tar_writer_finish(w, &d), 0);
	lp_tar_writer_free(w);
	return out;
}

static char *sig_json(const struct lp_key *const *keys, size_t n, const char *json, size_t len,
		      bool corrupt)
{
	char *out = malloc(4096);
	size_t off;

	assert_non_null(out);
	off = (size_t)snprintf(out, 4096, "{\"signatures\":[");
	for (size_t i = 0; i < n; i++) {
		uint8_t sig[LP_ED25519_SIG_LEN];
		char b64[128], id[LP_KEYID_LEN + 1];

		assert_int_equal(lp_sign(keys[i], json, len, sig), 0);
		if (corrupt)
			sig[10] ^= 0x40;
		assert_true(lp_base64_encode(sig, sizeof(sig), b64, sizeof(b64)) > 0);
		lp_key_id(keys[i], id);
		off += (size_t)snprintf(out + off, 4096 - off,
					"%s{\"keyid\":\"%s\",\"alg\":\"ed25519\",\"sig\":\"%s\"}", i ? "," : "",
					id, b64);
	}
	snprintf(out + off, 4096 - off, "]}");
	return out;
}

/* A package with the given manifest text, signed by keys, with one payload "p.bin"
 * holding "hello" (stored as is). */
static struct mem crafted(const char *json, const struct lp_key *const *keys, size_t n, bool corrupt)
{
	char *sig = sig_json(keys, n, json, strlen(json), corrupt);
	struct member mb[] = {
		{ "manifest.json", json, strlen(json) },
		{ "manifest.sig", sig, strlen(sig) },
		{ "p.bin", "hello", 5 },
	};
	struct mem out = tar_of(mb, 3);

	free(sig);
	return out;
}

#define HELLO_SHA "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define MANIFEST_FMT                                                                             \
	"{\"format\":1,\"product\":\"p\",\"version\":\"1.0.0\",\"security_version\":1,"          \
	"\"compatible\":[\"qemu-x86_64\"],\"created\":\"2026-11-25T19:00:00Z\"%s,\"payloads\":[" \
	"{\"name\":\"p.bin\",\"type\":\"image\",\"target\":\"rootfs\",\"size\":5,"                \
	"\"sha256\":\"" HELLO_SHA "\",\"stored_size\":5,\"stored_sha256\":\"" HELLO_SHA "\","     \
	"\"compression\":\"none\",\"encryption\":null,\"delta\":null}]}"

static struct read_result read_crafted(const char *extra, const struct lp_key *const *keys, size_t n,
				       bool corrupt, const struct lp_pkg_policy *pol)
{
	char json[2048];
	struct sink_rec rec = { 0 };
	struct read_result res;
	struct mem pkg;

	snprintf(json, sizeof(json), MANIFEST_FMT, extra);
	pkg = crafted(json, keys, n, corrupt);
	res = read_pkg(pkg.data, pkg.len, pol, &rec, 0);
	if (res.rc == 0) {
		assert_int_equal(rec.out[0].len, 5);
		assert_memory_equal(rec.out[0].data, "hello", 5);
	} else {
		assert_int_equal(rec.calls, 0);
	}
	sink_rec_free(&rec);
	free(pkg.data);
	return res;
}

static void test_signatures(void **state)
{
	struct lp_pkg_policy pol = { .trusted = fx.ring };
	const struct lp_key *trusted[] = { fx.key };
	const struct lp_key *untrusted[] = { fx.other };
	const struct lp_key *both[] = { fx.other, fx.key2 };
	struct read_result res;

	res = read_crafted("", trusted, 1, false, &pol);
	assert_int_equal(res.rc, 0);
	res = read_crafted("", both, 2, false, &pol);
	assert_int_equal(res.rc, 0);

	res = read_crafted("", untrusted, 1, false, &pol);
	assert_int_equal(res.rc, -EKEYREJECTED);
	assert_non_null(strstr(res.diag.msg, "no signature by a trusted key (signed by "));

	res = read_crafted("", trusted, 1, true, &pol);
	assert_int_equal(res.rc, -EKEYREJECTED);
	assert_non_null(strstr(res.diag.msg, "is invalid"));
}

static void test_manifest_strict(void **state)
{
	struct lp_pkg_policy pol = { .trusted = fx.ring };
	const struct lp_key *keys[] = { fx.key };
	struct read_result res;

	res = read_crafted(",\"colour\":\"blue\"", keys, 1, false, &pol);
	assert_int_equal(res.rc, -EBADMSG);
	assert_non_null(strstr(res.diag.msg, "colour"));

	res = read_crafted(",\"min_agent_version\":\"1.0\"", keys, 1, false, &pol);
	assert_int_equal(res.rc, -EBADMSG);
	assert_string_equal(res.diag.path, "min_agent_version");
}

static void test_policy(void **state)
{
	const struct lp_key *keys[] = { fx.key };
	struct lp_pkg_policy pol = { .trusted = fx.ring, .compatible = "qemu-aarch64" };
	struct read_result res;

	res = read_crafted("", keys, 1, false, &pol);
	assert_int_equal(res.rc, -ENOEXEC);
	assert_non_null(strstr(res.diag.msg, "qemu-aarch64"));

	pol.compatible = "qemu-x86_64";
	pol.check_security_version = true;
	pol.min_security_version = 2;
	res = read_crafted("", keys, 1, false, &pol);
	assert_int_equal(res.rc, -EPERM);
	pol.min_security_version = 1;
	res = read_crafted("", keys, 1, false, &pol);
	assert_int_equal(res.rc, 0);

	pol.agent_version = "0.9.0";
	res = read_crafted(",\"min_agent_version\":\"1.0.0\"", keys, 1, false, &pol);
	assert_int_equal(res.rc, -EPROTONOSUPPORT);
	res = read_crafted(",\"min_agent_version\":\"0.9.0-rc.1\"", keys, 1, false, &pol);
	assert_int_equal(res.rc, 0);
}

static void test_limits(void **state)
{
	const struct lp_key *keys[] = { fx.key };
	struct lp_pkg_policy pol = { .trusted = fx.ring };
	struct sink_rec rec = { 0 };
	struct read_result res;
	struct mem pkg;
	char *big;
	size_t off;

	/* manifest.json larger than LP_PKG_MANIFEST_MAX: refused from its header. */
	big = malloc(LP_PKG_MANIFEST_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', LP_PKG_MANIFEST_MAX + 1);
	big[LP_PKG_MANIFEST_MAX + 1] = '\0';
	pkg = crafted(big, keys, 1, false);
	res = read_pkg(pkg.data, pkg.len, &pol, &rec, 0);
	assert_int_equal(res.rc, -E2BIG);
	free(pkg.data);

	/* 65 payloads, properly signed. */
	off = (size_t)snprintf(big, LP_PKG_MANIFEST_MAX,
			       "{\"format\":1,\"product\":\"p\",\"version\":\"1.0.0\",\"security_version\":1,"
			       "\"compatible\":[\"x\"],\"created\":\"2026-11-25T19:00:00Z\",\"payloads\":[");
	for (int i = 0; i <= LP_PKG_MAX_PAYLOADS; i++)
		off += (size_t)snprintf(big + off, LP_PKG_MANIFEST_MAX - off,
					"%s{\"name\":\"p%d\",\"type\":\"image\",\"target\":\"t\",\"size\":5,"
					"\"sha256\":\"" HELLO_SHA "\",\"stored_size\":5,\"stored_sha256\":\""
					HELLO_SHA "\",\"compression\":\"none\",\"encryption\":null,\"delta\":null}",
					i ? "," : "", i);
	snprintf(big + off, LP_PKG_MANIFEST_MAX - off, "]}");
	pkg = crafted(big, keys, 1, false);
	res = read_pkg(pkg.data, pkg.len, &pol, &rec, 0);
	assert_int_equal(res.rc, -E2BIG);
	assert_string_equal(res.diag.path, "payloads");
	free(pkg.data);
	free(big);
	sink_rec_free(&rec);
}

static void test_structure(void **state)
{
	const struct lp_key *keys[] = { fx.key };
	struct lp_pkg_policy pol = { .trusted = fx.ring };
	char json[2048];
	char *sig;
	struct read_result res;

	snprintf(json, sizeof(json), MANIFEST_FMT, "");
	sig = sig_json(keys, 1, json, strlen(json), false);
	{
		/* sig first, extra member, missing payload, wrong payload content */
		struct member order[] = { { "manifest.sig", sig, strlen(sig) }, { "manifest.json", json, strlen(json) },
					  { "p.bin", "hello", 5 } };
		struct member extra[] = { { "manifest.json", json, strlen(json) }, { "manifest.sig", sig, strlen(sig) },
					  { "p.bin", "hello", 5 }, { "q.bin", "x", 1 } };
		struct member missing[] = { { "manifest.json", json, strlen(json) }, { "manifest.sig", sig, strlen(sig) } };
		struct member wrong[] = { { "manifest.json", json, strlen(json) }, { "manifest.sig", sig, strlen(sig) },
					  { "p.bin", "hellO", 5 } };
		struct { struct member *m; size_t n; const char *msg; } cases[] = {
			{ order, 3, "member manifest.sig where manifest.json was expected" },
			{ extra, 4, "extra member q.bin" },
			{ missing, 2, "archive ends before payload p.bin" },
			{ wrong, 3, "payload p.bin: stored_sha256 mismatch" },
		};

		for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
			struct mem pkg = tar_of(cases[i].m, cases[i].n);
			struct sink_rec rec = { 0 };

			res = read_pkg(pkg.data, pkg.len, &pol, &rec, 0);
			assert_int_equal(res.rc, -EBADMSG);
			if (!strstr(res.diag.msg, cases[i].msg))
				fail_msg("case %zu: %s", i, res.diag.msg);
			sink_rec_free(&rec);
			free(pkg.data);
		}
	}
	free(sig);
}

static void test_resign(void **state)
{
	struct mem pkg = small_package(), out1 = { 0 }, out2 = { 0 };
	const struct lp_key *add[] = { fx.key2 };
	const char *remove_ids[1];
	char id1[LP_KEYID_LEN + 1], id2[LP_KEYID_LEN + 1];
	struct lp_keyring *only2, *only1;
	struct lp_key *pub;
	uint8_t raw[LP_ED25519_PUB_LEN];
	struct lp_diag d = { 0 };
	int in, o;

	lp_key_id(fx.key, id1);
	lp_key_id(fx.key2, id2);
	assert_int_equal(lp_keyring_new(&only2), 0);
	assert_int_equal(lp_key_raw_public(fx.key2, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_int_equal(lp_keyring_add(only2, pub), 0);
	assert_int_equal(lp_keyring_new(&only1), 0);
	assert_int_equal(lp_key_raw_public(fx.key, raw), 0);
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_int_equal(lp_keyring_add(only1, pub), 0);

	/* Add key2. */
	in = memfd_with(pkg.data, pkg.len);
	o = memfd_create("out", MFD_CLOEXEC);
	assert_int_equal(lp_pkg_resign(in, o, add, 1, NULL, 0, &d), 0);
	out1 = fd_slurp(o);
	close(in);
	close(o);
	{
		struct lp_pkg_policy pol = { .trusted = only2 };
		struct sink_rec rec = { 0 };
		struct read_result res = read_pkg(out1.data, out1.len, &pol, &rec, 0);
		struct layout a = layout_of(&pkg), b = layout_of(&out1);

		assert_int_equal(res.rc, 0);
		sink_rec_free(&rec);
		/* manifest.json untouched. */
		assert_int_equal(a.size[0], b.size[0]);
		assert_memory_equal(pkg.data + a.data_off[0], out1.data + b.data_off[0], a.size[0]);
	}

	/* Remove key1: only key2 remains. */
	remove_ids[0] = id1;
	in = memfd_with(out1.data, out1.len);
	o = memfd_create("out", MFD_CLOEXEC);
	assert_int_equal(lp_pkg_resign(in, o, NULL, 0, remove_ids, 1, &d), 0);
	out2 = fd_slurp(o);
	close(in);
	close(o);
	{
		struct lp_pkg_policy pol = { .trusted = only1 };
		struct sink_rec rec = { 0 };
		struct read_result res = read_pkg(out2.data, out2.len, &pol, &rec, 0);

		assert_int_equal(res.rc, -EKEYREJECTED);
		assert_non_null(strstr(res.diag.msg, id2));
		sink_rec_free(&rec);
		memset(&rec, 0, sizeof(rec));
		pol.trusted = only2;
		res = read_pkg(out2.data, out2.len, &pol, &rec, 0);
		assert_int_equal(res.rc, 0);
		sink_rec_free(&rec);
	}

	/* Removing the last signature, or one that is not there, is refused. */
	remove_ids[0] = id2;
	in = memfd_with(out2.data, out2.len);
	o = memfd_create("out", MFD_CLOEXEC);
	assert_int_equal(lp_pkg_resign(in, o, NULL, 0, remove_ids, 1, &d), -EINVAL);
	close(in);
	close(o);
	remove_ids[0] = id1;
	in = memfd_with(out2.data, out2.len);
	o = memfd_create("out", MFD_CLOEXEC);
	assert_int_equal(lp_pkg_resign(in, o, NULL, 0, remove_ids, 1, &d), -ENOENT);
	close(in);
	close(o);

	lp_keyring_free(only1);
	lp_keyring_free(only2);
	free(pkg.data);
	free(out1.data);
	free(out2.data);
}

static void test_build_errors(void **state)
{
	uint8_t *a = make_data(100, 5, false);
	struct lp_diag d = { 0 };
	struct spec s;
	int fd = memfd_create("pkg", MFD_CLOEXEC);

	spec_default(&s, a, 100, a, 100);
	s.names[1] = "../evil";
	assert_int_equal(build_to(&s, fd, false, NULL, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "../evil"));
	spec_default(&s, a, 100, a, 100);
	s.names[1] = "a123456789b123456789c123456789d123456789e123456789f123456789g123456789h123456789i123456789j1234567890";
	assert_int_equal(build_to(&s, fd, false, NULL, &d), -E2BIG);
	assert_string_equal(d.path, "payloads[1].name");
	spec_default(&s, a, 100, a, 100);
	s.names[1] = s.names[0];
	assert_int_equal(build_to(&s, fd, false, NULL, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "duplicate"));
	spec_default(&s, a, 100, a, 100);
	s.keys[0] = fx.key;
	s.keys[1] = fx.key;
	s.n_keys = 2;
	assert_int_equal(build_to(&s, fd, false, NULL, &d), -EINVAL);
	close(fd);
	free(a);
}

static int failing_sink(void *ctx, const void *data, size_t len)
{
	return -ENOSPC;
}

static void test_reader_api(void **state)
{
	struct mem pkg = small_package();
	struct layout l = layout_of(&pkg);
	struct lp_pkg_policy pol = default_policy();
	struct mem_reader mr = { .data = pkg.data, .len = pkg.len };
	const struct lp_payload_info *info;
	const struct lp_signature_info *sigs;
	const struct lp_manifest *m;
	struct lp_pkg_reader *r;
	struct lp_diag d = { 0 };

	/* Payloads cannot be reached before open. */
	assert_int_equal(lp_pkg_reader_new(mem_read, &mr, &pol, &r), 0);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), -EINVAL);
	assert_int_equal(lp_pkg_reader_stream(r, NULL, NULL, &d), -EINVAL);
	assert_int_equal(lp_pkg_reader_open(r, &m, &d), 0);
	assert_int_equal(lp_pkg_reader_signatures(r, &sigs), 1);
	assert_true(sigs[0].trusted && sigs[0].valid);
	/* Skipping payloads without streaming them still verifies them. */
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 1);
	assert_string_equal(info->name, "rootfs.img");
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 1);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 0);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 0);
	lp_pkg_reader_free(r);

	/* ...and a bad skipped payload fails the next step. */
	pkg.data[l.data_off[2] + 10] ^= 1;
	mr.off = 0;
	assert_int_equal(lp_pkg_reader_new(mem_read, &mr, &pol, &r), 0);
	assert_int_equal(lp_pkg_reader_open(r, &m, &d), 0);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 1);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), -EBADMSG);
	assert_string_equal(d.msg, "payload rootfs.img: stored_sha256 mismatch");
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), -EBADMSG); /* stays failed */
	lp_pkg_reader_free(r);
	pkg.data[l.data_off[2] + 10] ^= 1;

	/* A failing sink ends the read with its error. */
	mr.off = 0;
	assert_int_equal(lp_pkg_reader_new(mem_read, &mr, &pol, &r), 0);
	assert_int_equal(lp_pkg_reader_open(r, &m, &d), 0);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 1);
	assert_int_equal(lp_pkg_reader_stream(r, failing_sink, NULL, &d), -ENOSPC);
	assert_non_null(strstr(d.msg, "payload rootfs.img: sink failed"));
	lp_pkg_reader_free(r);

	/* Verifying from a file descriptor. */
	{
		int fd = memfd_with(pkg.data, pkg.len);
		struct lp_manifest *vm = NULL;

		assert_int_equal(lp_pkg_verify_fd(fd, &pol, &vm, &d), 0);
		assert_int_equal(vm->n_payloads, 2);
		lp_manifest_free(vm);
		close(fd);
	}
	free(pkg.data);
}

/* lp_pkg_peek: what a package claims, read strictly but with nothing verified. */
static struct read_result peek_mem(const struct mem *pkg, size_t chunk, struct lp_manifest **ret_m,
				   struct lp_signature_info *sigs, size_t *n_sigs)
{
	struct mem_reader mr = { .data = pkg->data, .len = pkg->len, .chunk = chunk };
	struct read_result res = { 0 };

	res.rc = lp_pkg_peek(mem_read, &mr, ret_m, sigs, n_sigs, &res.diag);
	return res;
}

static void expect_peek_refused(const struct mem *pkg, int rc, const char *file, const char *msg)
{
	struct lp_signature_info sigs[LP_PKG_MAX_SIGNATURES];
	struct lp_manifest *m = NULL;
	size_t n = 99;
	struct read_result res = peek_mem(pkg, 0, &m, sigs, &n);

	if (res.rc != rc || strcmp(res.diag.file, file) != 0 || !strstr(res.diag.msg, msg))
		fail_msg("expected %d %s \"%s\", got %d %s \"%s\"", rc, file, msg, res.rc,
			 res.diag.file, res.diag.msg);
	assert_null(m);   /* untouched on failure */
	assert_int_equal(n, 99);
}

static void test_peek(void **state)
{
	const struct lp_key *untrusted_corrupt[] = { fx.other, fx.key };
	struct lp_signature_info sigs[LP_PKG_MAX_SIGNATURES];
	struct mem pkg = small_package(), bad;
	struct layout l = layout_of(&pkg);
	struct lp_manifest *m = NULL;
	char id[LP_KEYID_LEN + 1], json[2048];
	size_t n = 0;
	struct read_result res;

	/* A good package, read one byte at a time and from a file descriptor. */
	lp_key_id(fx.key, id);
	res = peek_mem(&pkg, 1, &m, sigs, &n);
	if (res.rc != 0)
		fail_msg("%s", res.diag.msg);
	assert_string_equal(m->product, "loopline-reference");
	assert_int_equal(m->n_payloads, 2);
	assert_int_equal(n, 1);
	assert_string_equal(sigs[0].keyid, id);
	assert_false(sigs[0].trusted);
	assert_false(sigs[0].valid);
	lp_manifest_free(m);
	m = NULL;
	{
		int fd = memfd_with(pkg.data, pkg.len);

		assert_int_equal(lp_pkg_peek_fd(fd, &m, sigs, &n, &res.diag), 0);
		assert_int_equal(m->n_payloads, 2);
		lp_manifest_free(m);
		m = NULL;
		close(fd);
	}

	/* Nothing is verified: an untrusted key and a corrupt signature are reported as
	 * they stand (the reader refuses both, test_signatures), and a damaged payload
	 * after the first two members is never read. */
	snprintf(json, sizeof(json), MANIFEST_FMT, "");
	bad = crafted(json, untrusted_corrupt, 2, true);
	assert_memory_equal(bad.data + bad.len - 1024 - 512, "hello", 5); /* p.bin's data */
	bad.data[bad.len - 1024 - 512 + 1] ^= 1;
	res = peek_mem(&bad, 0, &m, sigs, &n);
	assert_int_equal(res.rc, 0);
	assert_int_equal(n, 2);
	lp_key_id(fx.other, id);
	assert_string_equal(sigs[0].keyid, id);
	assert_string_equal(m->payloads[0].name, "p.bin");
	lp_manifest_free(m);
	m = NULL;
	free(bad.data);

	/* Garbage, truncation and wrong members are refused, with a message. */
	bad.len = 4096;
	bad.data = malloc(bad.len);
	for (size_t i = 0; i < bad.len; i++)
		bad.data[i] = (uint8_t)(i * 131 + 7);
	expect_peek_refused(&bad, -EBADMSG, "", "tar: ");
	bad.len = 0;
	expect_peek_refused(&bad, -EBADMSG, "", "");
	free(bad.data);
	bad = pkg;
	bad.len = (size_t)l.data_off[1] + 10; /* inside manifest.sig */
	expect_peek_refused(&bad, -EBADMSG, "", "truncated");
	{
		struct member mb[] = { { "p.bin", "hello", 5 }, { "manifest.json", json, strlen(json) } };

		bad = tar_of(mb, 2);
		expect_peek_refused(&bad, -EBADMSG, "", "package: member p.bin where manifest.json was expected");
		free(bad.data);
	}
	{
		struct member mb[] = { { "manifest.json", json, strlen(json) } };

		bad = tar_of(mb, 1);
		expect_peek_refused(&bad, -EBADMSG, "", "package: archive ends before manifest.sig");
		free(bad.data);
	}
	{
		char *big = malloc(LP_PKG_MANIFEST_MAX + 1);
		struct member mb[] = { { "manifest.json", big, LP_PKG_MANIFEST_MAX + 1 } };

		memset(big, ' ', LP_PKG_MANIFEST_MAX + 1);
		bad = tar_of(mb, 1);
		expect_peek_refused(&bad, -E2BIG, "", "more than the limit of 262144");
		free(bad.data);
		free(big);
	}
	{
		static const char *const sigtexts[] = {
			"not json",
			"{\"signatures\":[]}",
			"{\"signatures\":[{\"keyid\":\"0123456789abcdef\",\"alg\":\"rsa\",\"sig\":\"AA==\"}]}",
			"{\"signatures\":[],\"extra\":1}",
		};

		for (size_t i = 0; i < LP_ARRAY_SIZE(sigtexts); i++) {
			struct member mb[] = { { "manifest.json", json, strlen(json) },
					       { "manifest.sig", sigtexts[i], strlen(sigtexts[i]) } };

			bad = tar_of(mb, 2);
			expect_peek_refused(&bad, -EBADMSG, "manifest.sig", "");
			free(bad.data);
		}
	}
	{
		const struct lp_key *k[] = { fx.key };
		char *sig = sig_json(k, 1, "{}", 2, false);
		struct member mb[] = { { "manifest.json", "{}", 2 }, { "manifest.sig", sig, strlen(sig) } };

		bad = tar_of(mb, 2);
		expect_peek_refused(&bad, -EBADMSG, "manifest.json", "");
		free(bad.data);
		free(sig);
	}
	free(pkg.data);
}

/* A delta payload: its stored bytes are checked, its content needs a delta engine. */
static void test_delta_payload(void **state)
{
	const struct lp_key *keys[] = { fx.key };
	struct lp_pkg_policy pol = { .trusted = fx.ring };
	const char *json =
		"{\"format\":1,\"product\":\"p\",\"version\":\"1.0.0\",\"security_version\":1,"
		"\"compatible\":[\"qemu-x86_64\"],\"created\":\"2026-11-25T19:00:00Z\",\"payloads\":["
		"{\"name\":\"p.bin\",\"type\":\"delta\",\"target\":\"rootfs\",\"size\":1000,"
		"\"sha256\":\"" HELLO_SHA "\",\"stored_size\":5,\"stored_sha256\":\"" HELLO_SHA "\","
		"\"compression\":\"none\",\"encryption\":null,\"delta\":{\"algorithm\":\"bsdiff\","
		"\"base_version\":\"0.9.0\",\"base_sha256\":\"" HELLO_SHA "\",\"base_size\":1000}}]}";
	struct mem pkg = crafted(json, keys, 1, false);
	struct mem_reader mr = { .data = pkg.data, .len = pkg.len };
	struct lp_pkg_reader *r;
	const struct lp_manifest *m;
	const struct lp_payload_info *info;
	struct sink_rec rec = { 0 };
	struct lp_diag d = { 0 };
	int fd;

	assert_int_equal(lp_pkg_reader_new(mem_read, &mr, &pol, &r), 0);
	assert_int_equal(lp_pkg_reader_open(r, &m, &d), 0);
	assert_int_equal(lp_pkg_reader_next(r, &info, &d), 1);
	assert_int_equal(info->type, LP_PAYLOAD_DELTA);
	assert_int_equal(lp_pkg_reader_stream(r, sink_rec_fn, &rec, &d), -EOPNOTSUPP);
	assert_int_equal(rec.calls, 0);
	lp_pkg_reader_free(r);
	fd = memfd_with(pkg.data, pkg.len);
	assert_int_equal(lp_pkg_verify_fd(fd, &pol, NULL, &d), 0);
	close(fd);
	free(pkg.data);
}

/* A zstd payload whose frame asks for a 16 MiB window: refused although everything
 * else (signature, hashes, sizes) is right. */
static void test_zstd_window_limit(void **state)
{
	const struct lp_key *keys[] = { fx.key };
	struct lp_pkg_policy pol = { .trusted = fx.ring };
	uint8_t plain[1000], frame[2048];
	uint8_t h_plain[LP_HASH_MAX_LEN], h_frame[LP_HASH_MAX_LEN];
	char hp[65], hf[65], json[2048], *sig;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_inBuffer in = { plain, sizeof(plain), 0 };
	ZSTD_outBuffer out = { frame, sizeof(frame), 0 };
	struct sink_rec rec = { 0 };
	struct read_result res;
	struct mem pkg;

	memset(plain, 'z', sizeof(plain));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 24)));
	/* Fed in two steps, so zstd does not know the size and keeps the large window. */
	assert_false(ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue)));
	assert_int_equal(in.pos, in.size);
	in.size = in.pos = 0;
	assert_int_equal(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(cctx);
	assert_int_equal(lp_hash_buffer(LP_HASH_SHA256, plain, sizeof(plain), h_plain), 0);
	assert_int_equal(lp_hash_buffer(LP_HASH_SHA256, frame, out.pos, h_frame), 0);
	lp_hex_encode(h_plain, 32, hp);
	lp_hex_encode(h_frame, 32, hf);
	snprintf(json, sizeof(json),
		 "{\"format\":1,\"product\":\"p\",\"version\":\"1.0.0\",\"security_version\":1,"
		 "\"compatible\":[\"x\"],\"created\":\"2026-11-25T19:00:00Z\",\"payloads\":["
		 "{\"name\":\"p.bin\",\"type\":\"image\",\"target\":\"rootfs\",\"size\":1000,"
		 "\"sha256\":\"%s\",\"stored_size\":%zu,\"stored_sha256\":\"%s\","
		 "\"compression\":\"zstd\",\"encryption\":null,\"delta\":null}]}",
		 hp, out.pos, hf);
	sig = sig_json(keys, 1, json, strlen(json), false);
	{
		struct member mb[] = { { "manifest.json", json, strlen(json) },
				       { "manifest.sig", sig, strlen(sig) },
				       { "p.bin", frame, out.pos } };

		pkg = tar_of(mb, 3);
	}
	res = read_pkg(pkg.data, pkg.len, &pol, &rec, 0);
	assert_int_equal(res.rc, -EBADMSG);
	assert_true(rec.opened);
	assert_int_equal(rec.calls, 0);
	assert_non_null(strstr(res.diag.msg, "payload p.bin: zstd"));
	sink_rec_free(&rec);
	free(pkg.data);
	free(sig);
}

/*
 * The fuzz-package target trusts one fixed test key; this is its private half. With
 * LP_WRITE_FUZZ_SEEDS=DIR the test writes the seed packages to DIR (they are committed
 * in tests/fuzz/corpus/package/); otherwise it checks that the committed seeds are
 * valid packages under that key, so the fuzzer starts from inputs that get past the
 * signature check.
 */
static const char fuzz_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEILn+TJn49BqYYnHYuS/1bfG5Gk7Sdh7vBaiGsRqFz6bH\n"
	"-----END PRIVATE KEY-----\n";

static void test_fuzz_seeds(void **state)
{
	const char *out_dir = getenv("LP_WRITE_FUZZ_SEEDS"), *src = getenv("LP_SOURCE_DIR");
	uint8_t *a = make_data(700, 7, false), *b = make_data(2000, 8, true);
	struct lp_keyring *ring;
	struct lp_key *key, *pub;
	uint8_t raw[LP_ED25519_PUB_LEN];
	struct spec specs[3];
	struct lp_diag d = { 0 };

	assert_int_equal(lp_key_from_pem(fuzz_key_pem, strlen(fuzz_key_pem), &key, &d), 0);
	assert_int_equal(lp_keyring_new(&ring), 0);
	assert_int_equal(lp_key_raw_public(key, raw), 0);
	assert_int_equal(raw[0], 0xa6); /* the key embedded in tests/fuzz/fuzz-package.c */
	assert_int_equal(lp_key_from_raw_public(raw, &pub), 0);
	assert_int_equal(lp_keyring_add(ring, pub), 0);

	spec_default(&specs[0], a, 700, b, 2000);
	spec_default(&specs[1], b, 2000, a, 300);
	specs[1].comp[0] = LP_COMPRESSION_ZSTD;
	specs[1].comp[1] = LP_COMPRESSION_NONE;
	spec_default(&specs[2], a, 100, b, 100);
	specs[2].n = 1;
	specs[2].keys[1] = fx.other;
	specs[2].n_keys = 2;
	for (size_t i = 0; i < LP_ARRAY_SIZE(specs); i++) {
		struct lp_pkg_policy pol = { .trusted = ring };
		struct sink_rec rec = { 0 };
		struct read_result res;
		struct mem pkg;

		specs[i].keys[0] = key;
		pkg = build_mem(&specs[i]);
		res = read_pkg(pkg.data, pkg.len, &pol, &rec, 0);
		assert_int_equal(res.rc, 0);
		sink_rec_free(&rec);
		if (out_dir) {
			char path[4096];
			FILE *f;

			snprintf(path, sizeof(path), "%s/seed-%zu.lpkg", out_dir, i);
			f = fopen(path, "we");
			assert_non_null(f);
			assert_int_equal(fwrite(pkg.data, 1, pkg.len, f), pkg.len);
			assert_int_equal(fclose(f), 0);
		}
		free(pkg.data);
	}
	if (!out_dir && src) {
		for (size_t i = 0; i < LP_ARRAY_SIZE(specs); i++) {
			char path[4096];
			int fd;
			struct lp_pkg_policy pol = { .trusted = ring };

			snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/package/seed-%zu.lpkg", src, i);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				fail_msg("%s: %s", path, strerror(errno));
			if (lp_pkg_verify_fd(fd, &pol, NULL, &d) != 0)
				fail_msg("%s: %s", path, d.msg);
			close(fd);
		}
	}
	lp_keyring_free(ring);
	lp_key_free(key);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_byte_flips),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_manifest_strict),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_resign),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_reader_api),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_delta_payload),
		cmocka_unit_test(test_zstd_window_limit),
		cmocka_unit_test(test_fuzz_seeds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

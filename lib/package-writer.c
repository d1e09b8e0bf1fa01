/* SPDX-License-Identifier: MIT */
/*
 * Building and re-signing .lpkg packages.
 *
 * lp_pkg_build reads each source once: read -> SHA-256 of the raw bytes -> zstd
 * (optional) -> AES-256-GCM in chunks (optional, package-crypt.c) -> SHA-256 of the
 * stored bytes -> tar. On a seekable output the archive is
 * written in one pass: manifest.json and manifest.sig get reserved space up front (an
 * upper bound computed with maximum-width numbers; the final JSON is padded with spaces
 * and a newline to exactly that size) and are filled in with pwrite at the end; payloads
 * whose stored size is not known in advance get a deferred one-block tar header. On a
 * pipe the payloads are spooled to unlinked temporary files first, since the manifest
 * must come first in the stream.
 *
 * Two paths, one per kind of output: build_seekable (reserve the head, stream the
 * payloads, fill the head in) and build_streaming (spool, then write in order); both use
 * the same head (head_measure, head_final) and payload (process_source) pieces.
 *
 * lp_pkg_resign reads the package with the native tar reader (loopline/tar-read.h, the
 * one every package reader uses) and writes the copy with the tar writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "loopline/clock.h"
#include "loopline/compress.h"
#include "loopline/hash.h"
#include "loopline/io.h"
#include "loopline/package-crypt.h"
#include "package-internal.h"

#define PKG_IO_BUF (1024 * 1024)

/* ---- one source: read, hash, compress, hash, emit ---- */

typedef int (*emit_fn)(void *ctx, const void *data, size_t len, struct lp_diag *diag);

struct stored_state {
	struct lp_hash *hash; /* of the stored bytes (NULL: same as the raw hash) */
	uint64_t size;
	emit_fn emit;
	void *emit_ctx;
	struct lp_diag *diag;
	int emit_err;
};

static int stored_out(void *ctx, const void *data, size_t len)
{
	struct stored_state *st = ctx;
	int rc;

	if (st->hash) {
		rc = lp_hash_update(st->hash, data, len);
		if (rc < 0)
			return rc;
	}
	st->size += len;
	rc = st->emit(st->emit_ctx, data, len, st->diag);
	if (rc < 0)
		st->emit_err = rc;
	return rc;
}

static int process_source(const struct lp_pkg_source *src, uint8_t *buf, emit_fn emit,
			  void *emit_ctx, struct lp_payload_info *info, struct lp_diag *diag)
{
	struct stored_state st = { .emit = emit, .emit_ctx = emit_ctx, .diag = diag };
	struct lp_hash *raw = NULL;
	struct lp_zstd *z = NULL;
	struct lp_pkg_crypt *crypt = NULL;
	uint8_t digest[LP_HASH_MAX_LEN];
	uint64_t size = 0;
	int rc;

	rc = lp_hash_new(LP_HASH_SHA256, &raw);
	if (rc == 0 && (src->compression == LP_COMPRESSION_ZSTD || src->encrypt_key))
		rc = lp_hash_new(LP_HASH_SHA256, &st.hash);
	if (rc == 0 && src->encrypt_key)
		rc = lp_pkg_crypt_new(LP_PKG_ENCRYPT, src->encrypt_key, &info->encryption, src->name,
				      stored_out, &st, diag, &crypt);
	if (rc < 0)
		goto out;
	if (src->compression == LP_COMPRESSION_ZSTD) {
		rc = lp_zstd_new(LP_ZSTD_COMPRESS, src->zstd_level, crypt ? lp_pkg_crypt_push : stored_out,
				 crypt ? (void *)crypt : &st, &z);
		if (rc < 0) {
			lp_diag_fail(diag, rc, "payload %s: cannot set up zstd level %d", src->name,
				     src->zstd_level);
			goto out;
		}
	}
	for (;;) {
		ssize_t n = lp_io_read(src->fd, buf, PKG_IO_BUF);

		if (n < 0) {
			rc = lp_diag_fail(diag, (int)n, "payload %s: read error: %s", src->name,
					  strerror((int)-n));
			goto out;
		}
		if (n == 0)
			break;
		size += (uint64_t)n;
		if (size > LP_PKG_INT_MAX) {
			rc = lp_diag_fail(diag, -E2BIG, "payload %s: larger than %llu bytes", src->name,
					  (unsigned long long)LP_PKG_INT_MAX);
			goto out;
		}
		rc = lp_hash_update(raw, buf, (size_t)n);
		if (rc < 0)
			goto out;
		rc = z ? lp_zstd_write(z, buf, (size_t)n)
		       : crypt ? lp_pkg_crypt_write(crypt, buf, (size_t)n) : stored_out(&st, buf, (size_t)n);
		if (rc < 0)
			goto fail_stream;
	}
	rc = z ? lp_zstd_finish(z) : 0;
	if (rc == 0 && crypt)
		rc = lp_pkg_crypt_finish(crypt);
	if (rc < 0)
		goto fail_stream;
	rc = lp_hash_final(raw, digest);
	if (rc < 0)
		goto out;
	memcpy(info->sha256, digest, 32);
	info->size = size;
	if (st.hash) {
		rc = lp_hash_final(st.hash, digest);
		if (rc < 0)
			goto out;
	}
	memcpy(info->stored_sha256, digest, 32);
	info->stored_size = st.size;
	lp_pkg_delta_fill(src, info); /* a delta's size and sha256 are its result's */
	rc = 0;
	goto out;
fail_stream:
	if (!st.emit_err && !lp_pkg_crypt_failed(crypt))
		lp_diag_fail(diag, rc, "payload %s: %s failed: %s", src->name,
			     z ? "compression" : "hashing", strerror(-rc));
out:
	lp_pkg_crypt_free(crypt);
	lp_zstd_free(z);
	lp_hash_free(st.hash);
	lp_hash_free(raw);
	return rc;
}

struct tar_emit {
	struct lp_tar_writer *w;
	const char *name;
	uint64_t limit; /* stored bytes expected (UINT64_MAX: unknown) */
	uint64_t done;
};

static int emit_tar(void *ctx, const void *data, size_t len, struct lp_diag *diag)
{
	struct tar_emit *t = ctx;

	if (len > t->limit - t->done)
		return lp_diag_fail(diag, -EIO, "payload %s: source grew while it was read", t->name);
	t->done += len;
	return lp_tar_writer_write(t->w, data, len, diag);
}

static int emit_fd(void *ctx, const void *data, size_t len, struct lp_diag *diag)
{
	int rc = lp_io_fd_write(ctx, data, len);

	if (rc < 0)
		return lp_diag_fail(diag, rc, "spool file: write error: %s", strerror(-rc));
	return 0;
}

static int spool_open(struct lp_diag *diag)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !dir[0])
		dir = "/var/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (snprintf(path, sizeof(path), "%s/loopline-spool-XXXXXX", dir) >= (int)sizeof(path))
		return lp_diag_fail(diag, -ENAMETOOLONG, "spool directory name too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "cannot create a spool file in %s: %s", dir,
				    strerror(errno));
	unlink(path);
	return fd;
}

/* Copies a spool file (stored bytes) into the current tar member. */
static int spool_copy(int fd, struct lp_tar_writer *w, uint8_t *buf, uint64_t size, const char *name,
		      struct lp_diag *diag)
{
	uint64_t done = 0;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return lp_diag_fail(diag, -errno, "spool file: %s", strerror(errno));
	while (done < size) {
		ssize_t n = lp_io_read(fd, buf, PKG_IO_BUF);
		int rc;

		if (n < 0)
			return lp_diag_fail(diag, (int)n, "spool file: read error: %s", strerror((int)-n));
		if (n == 0 || (uint64_t)n > size - done)
			return lp_diag_fail(diag, -EIO, "payload %s: spool file changed size", name);
		rc = lp_tar_writer_write(w, buf, (size_t)n, diag);
		if (rc < 0)
			return rc;
		done += (uint64_t)n;
	}
	return 0;
}

/* ---- the manifest ---- */

static int check_len(const char *s, size_t size, const char *path, struct lp_diag *diag)
{
	if (s && strlen(s) >= size)
		return lp_diag_fail_at(diag, -E2BIG, path, "longer than %zu bytes", size - 1);
	return 0;
}

/* Every string must fit its manifest field, or the copy below would shorten it. */
static int build_check_lengths(const struct lp_pkg_build *b, struct lp_diag *diag)
{
	char path[64];
	int rc;

	rc = check_len(b->product, LP_PKG_FIELD_MAX, "product", diag);
	if (rc == 0)
		rc = check_len(b->version, LP_SEMVER_MAX, "version", diag);
	if (rc == 0)
		rc = check_len(b->min_agent_version, LP_SEMVER_MAX, "min_agent_version", diag);
	for (size_t i = 0; rc == 0 && i < b->n_compatible; i++) {
		snprintf(path, sizeof(path), "compatible[%zu]", i);
		rc = check_len(b->compatible[i], LP_PKG_FIELD_MAX, path, diag);
	}
	for (size_t i = 0; rc == 0 && i < b->n_sources; i++) {
		snprintf(path, sizeof(path), "payloads[%zu].name", i);
		rc = lp_pkg_name_check(b->sources[i].name, path, diag);
		if (rc == -EBADMSG)
			rc = -EINVAL;
		snprintf(path, sizeof(path), "payloads[%zu].target", i);
		if (rc == 0)
			rc = check_len(b->sources[i].target, LP_PKG_FIELD_MAX, path, diag);
	}
	return rc;
}

static int manifest_from_build(const struct lp_pkg_build *b, const char *created,
			       struct lp_manifest **ret_m, struct lp_diag *diag)
{
	struct lp_manifest *m;

	if (b->n_compatible > LP_PKG_MAX_COMPATIBLE)
		return lp_diag_fail_at(diag, -E2BIG, "compatible", "more than %d entries",
				       LP_PKG_MAX_COMPATIBLE);
	if (b->n_sources > LP_PKG_MAX_PAYLOADS)
		return lp_diag_fail_at(diag, -E2BIG, "payloads", "more than %d payloads",
				       LP_PKG_MAX_PAYLOADS);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->compatible = calloc(b->n_compatible ? b->n_compatible : 1, sizeof(*m->compatible));
	m->payloads = calloc(b->n_sources ? b->n_sources : 1, sizeof(*m->payloads));
	if (!m->compatible || !m->payloads) {
		lp_manifest_free(m);
		return -ENOMEM;
	}
	m->format = LP_PKG_FORMAT;
	/* Lengths were checked by build_check_lengths(): these copies do not truncate. */
#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")
	COPY(m->product, b->product);
	COPY(m->version, b->version);
	COPY(m->created, created);
	COPY(m->min_agent_version, b->min_agent_version);
	m->security_version = b->security_version;
	for (size_t i = 0; i < b->n_compatible; i++)
		COPY(m->compatible[i], b->compatible[i]);
	m->n_compatible = b->n_compatible;
	for (size_t i = 0; i < b->n_sources; i++) {
		struct lp_payload_info *pl = &m->payloads[i];

		COPY(pl->name, b->sources[i].name);
		COPY(pl->target, b->sources[i].target);
		pl->type = b->sources[i].type;
		pl->compression = b->sources[i].compression;
		if (b->sources[i].encrypt_key &&
		    lp_pkg_crypt_describe(b->sources[i].encrypt_key, b->sources[i].chunk_size,
					  &pl->encryption) < 0) {
			lp_manifest_free(m);
			return lp_diag_fail(diag, -EIO, "payload %s: no random nonce", pl->name);
		}
		/* Placeholders of maximum width: the reserved size is an upper bound. */
		pl->size = LP_PKG_INT_MAX;
		pl->stored_size = LP_PKG_INT_MAX;
		lp_pkg_delta_fill(&b->sources[i], pl);
	}
#undef COPY
	m->n_payloads = b->n_sources;
	*ret_m = m;
	return 0;
}

/* The canonical text of m (malloc'd), run through the strict parser: one set of rules
 * for both sides. */
static int manifest_text(const struct lp_manifest *m, char **ret_text, struct lp_diag *diag)
{
	struct lp_manifest *back = NULL;
	char *text = lp_manifest_serialize(m);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = lp_manifest_parse(text, strlen(text), &back, diag);
	lp_manifest_free(back);
	if (rc < 0) {
		free(text);
		return rc;
	}
	*ret_text = text;
	return 0;
}

static int sign_all(const struct lp_key *const *keys, size_t n_keys, const void *msg, size_t len,
		    struct lp_pkg_sigset *set, struct lp_diag *diag)
{
	set->n = 0;
	for (size_t i = 0; i < n_keys; i++) {
		struct lp_pkg_signature *s = &set->sigs[i];
		int rc;

		lp_key_id(keys[i], s->keyid);
		rc = lp_sign(keys[i], msg, len, s->sig);
		if (rc < 0)
			return lp_diag_fail(diag, rc, "signing with key %s failed", s->keyid);
		set->n++;
	}
	return 0;
}

static int check_keys(const struct lp_key *const *keys, size_t n, struct lp_diag *diag)
{
	char a[LP_KEYID_LEN + 1], c[LP_KEYID_LEN + 1];

	if (n == 0)
		return lp_diag_fail(diag, -EINVAL, "a package needs at least one signing key");
	if (n > LP_PKG_MAX_SIGNATURES)
		return lp_diag_fail(diag, -E2BIG, "more than %d signing keys", LP_PKG_MAX_SIGNATURES);
	for (size_t i = 0; i < n; i++) {
		lp_key_id(keys[i], a);
		if (!lp_key_is_private(keys[i]))
			return lp_diag_fail(diag, -EINVAL, "key %s is a public key; signing needs the private key", a);
		for (size_t j = 0; j < i; j++) {
			lp_key_id(keys[j], c);
			if (strcmp(a, c) == 0)
				return lp_diag_fail(diag, -EINVAL, "key %s given twice", a);
		}
	}
	return 0;
}

static bool fd_seekable(int fd, off_t *ret_base)
{
	struct stat st;
	int fl;
	off_t pos;

	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return false;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_APPEND))
		return false;
	pos = lseek(fd, 0, SEEK_CUR);
	if (pos < 0)
		return false;
	*ret_base = pos;
	return true;
}

struct build_state {
	const struct lp_pkg_build *b;
	int out_fd;
	off_t base;       /* offset of the archive's start in out_fd (seekable output) */
	int64_t mtime;
	struct lp_manifest *m;
	uint8_t *buf;     /* PKG_IO_BUF bytes */
	int *spool;       /* per source, -1 if not spooled */
	struct lp_tar_writer *w;
	size_t json_max;  /* manifest.json with every number at its widest, plus '\n' */
	size_t sig_len;   /* manifest.sig: its length depends only on the keys */
};

/* ---- pieces both paths share ---- */

/*
 * Checks the manifest before any payload is read (with placeholder sizes and hashes:
 * a bad description fails before gigabytes are streamed) and measures the room
 * manifest.json can need and the length manifest.sig will have.
 */
static int head_measure(struct build_state *s, struct lp_diag *diag)
{
	struct lp_pkg_sigset set = { .n = s->b->n_keys };
	char *text = NULL, *sig = NULL;
	int rc = manifest_text(s->m, &text, diag);

	if (rc < 0)
		return rc;
	s->json_max = strlen(text) + 1;
	for (size_t i = 0; i < set.n; i++)
		lp_key_id(s->b->keys[i], set.sigs[i].keyid);
	sig = lp_pkg_sig_serialize(&set);
	if (!sig) {
		rc = -ENOMEM;
		goto out;
	}
	s->sig_len = strlen(sig);
out:
	free(text);
	free(sig);
	return rc;
}

/*
 * The real manifest.json (the manifest now holds every payload's sizes and hashes),
 * checked by the strict parser, ended by '\n' and padded with spaces to pad_to bytes
 * (0: no padding), and manifest.sig signing exactly those bytes. Both malloc'd.
 */
static int head_final(struct build_state *s, size_t pad_to, char **ret_json, size_t *ret_json_len,
		      char **ret_sig, struct lp_diag *diag)
{
	struct lp_pkg_sigset set = { 0 };
	char *text = NULL, *json = NULL;
	size_t len, json_len;
	int rc = manifest_text(s->m, &text, diag);

	if (rc < 0)
		return rc;
	len = strlen(text);
	json_len = pad_to ? pad_to : len + 1;
	if (len + 1 > json_len) {
		rc = lp_diag_fail(diag, -EOVERFLOW, "manifest.json outgrew its reserved space");
		goto out;
	}
	json = malloc(json_len);
	if (!json) {
		rc = -ENOMEM;
		goto out;
	}
	memset(json, ' ', json_len);
	memcpy(json, text, len);
	json[json_len - 1] = '\n';
	rc = sign_all(s->b->keys, s->b->n_keys, json, json_len, &set, diag);
	if (rc < 0)
		goto out;
	*ret_sig = lp_pkg_sig_serialize(&set);
	if (!*ret_sig) {
		rc = -ENOMEM;
		goto out;
	}
	*ret_json = json;
	*ret_json_len = json_len;
	json = NULL;
out:
	free(text);
	free(json);
	return rc;
}

/* One whole member from memory. */
static int write_member(struct lp_tar_writer *w, const char *name, const void *data, size_t len,
			int64_t mtime, struct lp_diag *diag)
{
	int rc = lp_tar_writer_add(w, name, len, mtime, diag);

	return rc < 0 ? rc : lp_tar_writer_write(w, data, len, diag);
}

/* Reads source i into an unlinked spool file (stored bytes), filling in its sizes and
 * hashes. */
static int spool_payload(struct build_state *s, size_t i, struct lp_diag *diag)
{
	s->spool[i] = spool_open(diag);
	if (s->spool[i] < 0)
		return s->spool[i];
	return process_source(&s->b->sources[i], s->buf, emit_fd, &s->spool[i], &s->m->payloads[i],
			      diag);
}

/* The member of spooled payload i. */
static int write_spooled(struct build_state *s, size_t i, struct lp_diag *diag)
{
	const struct lp_payload_info *pl = &s->m->payloads[i];
	int rc = lp_tar_writer_add(s->w, pl->name, pl->stored_size, s->mtime, diag);

	return rc < 0 ? rc : spool_copy(s->spool[i], s->w, s->buf, pl->stored_size, pl->name, diag);
}

/* ---- seekable output: reserve the head, stream the payloads, fill the head in ---- */

/* The stored bytes of plain_size bytes before encryption (the same without it). */
static uint64_t stored_size(const struct lp_payload_info *pl, uint64_t plain_size)
{
	if (!pl->encryption.present)
		return plain_size;
	return lp_pkg_crypt_stored_size(plain_size, pl->encryption.chunk_size);
}

/* Writes one payload member straight into the archive: an ordinary member when the
 * stored size is known up front, a deferred header when only the end tells it; a source
 * that is not a regular file (or too large for a one-block header) is spooled. */
static int seekable_payload(struct build_state *s, size_t i, struct lp_diag *diag)
{
	const struct lp_pkg_source *src = &s->b->sources[i];
	struct lp_payload_info *pl = &s->m->payloads[i];
	struct tar_emit t = { .w = s->w, .name = src->name, .limit = UINT64_MAX };
	struct stat st;
	off_t pos = -1;
	uint8_t hdr[LP_TAR_BLOCK];
	uint64_t remaining = 0, hdr_off;
	int rc;

	if (fstat(src->fd, &st) == 0 && S_ISREG(st.st_mode))
		pos = lseek(src->fd, 0, SEEK_CUR);
	if (pos < 0 || pos > st.st_size) {
		/* A pipe: spool it. */
		rc = spool_payload(s, i, diag);
		return rc < 0 ? rc : write_spooled(s, i, diag);
	}
	remaining = (uint64_t)(st.st_size - pos);
	if (src->compression == LP_COMPRESSION_NONE) {
		/* Size known up front: an ordinary member (pax header above 8 GiB). */
		uint64_t stored = stored_size(pl, remaining);

		rc = lp_tar_writer_add(s->w, src->name, stored, s->mtime, diag);
		if (rc < 0)
			return rc;
		t.limit = stored;
		rc = process_source(src, s->buf, emit_tar, &t, pl, diag);
		if (rc == 0 && t.done != stored)
			rc = lp_diag_fail(diag, -EIO, "payload %s: read %llu bytes, the file had %llu",
					  src->name, (unsigned long long)pl->size,
					  (unsigned long long)remaining);
		return rc;
	}
	if (stored_size(pl, ZSTD_compressBound((size_t)remaining)) > LP_TAR_USTAR_SIZE_MAX ||
	    strlen(src->name) > 100) {
		/* Too large for a one-block header: spool it. */
		rc = spool_payload(s, i, diag);
		return rc < 0 ? rc : write_spooled(s, i, diag);
	}
	/* Compressed size unknown until the end: deferred header. */
	rc = lp_tar_writer_begin_deferred(s->w, src->name, s->mtime, diag);
	if (rc == 0)
		rc = process_source(src, s->buf, emit_tar, &t, pl, diag);
	if (rc == 0)
		rc = lp_tar_writer_end_deferred(s->w, hdr, &hdr_off, diag);
	if (rc < 0)
		return rc;
	rc = lp_io_pwrite_all(s->out_fd, hdr, sizeof(hdr), s->base + (off_t)hdr_off);
	if (rc < 0)
		return lp_diag_fail(diag, rc, "output: write error: %s", strerror(-rc));
	return 0;
}

/* One pass: manifest.json and manifest.sig get room (spaces) before the payloads and
 * their real bytes by pwrite at the end. */
static int build_seekable(struct build_state *s, struct lp_diag *diag)
{
	char *json = NULL, *sig = NULL;
	size_t json_len;
	uint64_t json_off, sig_off;
	int rc;

	memset(s->buf, ' ', s->json_max > s->sig_len ? s->json_max : s->sig_len);
	rc = lp_tar_writer_add(s->w, LP_PKG_MANIFEST_NAME, s->json_max, s->mtime, diag);
	json_off = lp_tar_writer_offset(s->w);
	if (rc == 0)
		rc = lp_tar_writer_write(s->w, s->buf, s->json_max, diag);
	if (rc == 0)
		rc = lp_tar_writer_add(s->w, LP_PKG_SIG_NAME, s->sig_len, s->mtime, diag);
	sig_off = lp_tar_writer_offset(s->w);
	if (rc == 0)
		rc = lp_tar_writer_write(s->w, s->buf, s->sig_len, diag);
	for (size_t i = 0; rc == 0 && i < s->b->n_sources; i++)
		rc = seekable_payload(s, i, diag);
	if (rc == 0)
		rc = head_final(s, s->json_max, &json, &json_len, &sig, diag);
	if (rc == 0 && strlen(sig) != s->sig_len)
		rc = lp_diag_fail(diag, -EOVERFLOW, "manifest.sig changed length");
	if (rc == 0)
		rc = lp_tar_writer_finish(s->w, diag);
	if (rc < 0)
		goto out;
	rc = lp_io_pwrite_all(s->out_fd, json, json_len, s->base + (off_t)json_off);
	if (rc == 0)
		rc = lp_io_pwrite_all(s->out_fd, sig, s->sig_len, s->base + (off_t)sig_off);
	if (rc < 0) {
		lp_diag_fail(diag, rc, "output: write error: %s", strerror(-rc));
		goto out;
	}
	/* Leave the file offset at the end of the archive, as a stream writer would. */
	if (lseek(s->out_fd, s->base + (off_t)lp_tar_writer_offset(s->w), SEEK_SET) < 0)
		rc = lp_diag_fail(diag, -errno, "output: %s", strerror(errno));
out:
	free(json);
	free(sig);
	return rc;
}

/* ---- streaming output (a pipe): spool the payloads, then write in order ---- */

static int build_streaming(struct build_state *s, struct lp_diag *diag)
{
	char *json = NULL, *sig = NULL;
	size_t json_len;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < s->b->n_sources; i++)
		rc = spool_payload(s, i, diag);
	if (rc == 0)
		rc = head_final(s, 0, &json, &json_len, &sig, diag);
	if (rc == 0)
		rc = write_member(s->w, LP_PKG_MANIFEST_NAME, json, json_len, s->mtime, diag);
	if (rc == 0)
		rc = write_member(s->w, LP_PKG_SIG_NAME, sig, strlen(sig), s->mtime, diag);
	for (size_t i = 0; rc == 0 && i < s->b->n_sources; i++)
		rc = write_spooled(s, i, diag);
	if (rc == 0)
		rc = lp_tar_writer_finish(s->w, diag);
	free(json);
	free(sig);
	return rc;
}

/* ---- the build ---- */

/* Checks what the caller gave and fills in the created time and its mtime. */
static int build_check(const struct lp_pkg_build *b, char created[32], int64_t *ret_mtime,
		       struct lp_diag *diag)
{
	int rc = check_keys(b->keys, b->n_keys, diag);

	if (rc < 0)
		return rc;
	if (b->created) {
		if (lp_pkg_created_parse(b->created, ret_mtime) < 0)
			return lp_diag_fail_at(diag, -EINVAL, "created",
					       "expected a UTC time YYYY-MM-DDTHH:MM:SSZ");
		snprintf(created, 32, "%s", b->created);
	} else {
		*ret_mtime = lp_clock_wall_ms() / 1000;
		if (lp_pkg_created_format(*ret_mtime, created, 32) < 0)
			return lp_diag_fail(diag, -EINVAL, "the clock is not set");
	}
	for (size_t i = 0; i < b->n_sources; i++) {
		if (b->sources[i].compression != LP_COMPRESSION_NONE &&
		    b->sources[i].compression != LP_COMPRESSION_ZSTD)
			return lp_diag_fail(diag, -EINVAL, "payload %s: unknown compression",
					    b->sources[i].name ? b->sources[i].name : "?");
		if (!b->sources[i].name || !b->sources[i].target)
			return lp_diag_fail(diag, -EINVAL, "payload %zu: name and target are required", i);
		if (b->sources[i].encrypt_key && b->sources[i].chunk_size &&
		    (b->sources[i].chunk_size < LP_PKG_CHUNK_MIN || b->sources[i].chunk_size > LP_PKG_CHUNK_MAX))
			return lp_diag_fail(diag, -EINVAL, "payload %s: encryption chunk size %u is not in %u … %u",
					    b->sources[i].name, b->sources[i].chunk_size, LP_PKG_CHUNK_MIN,
					    LP_PKG_CHUNK_MAX);
		rc = lp_pkg_delta_source_check(&b->sources[i], diag);
		if (rc < 0)
			return rc;
	}
	return build_check_lengths(b, diag);
}

int lp_pkg_build(const struct lp_pkg_build *b, int out_fd, struct lp_manifest **ret_manifest,
		 struct lp_diag *diag)
{
	struct build_state s = { .b = b, .out_fd = out_fd };
	char created[32];
	int rc;

	rc = build_check(b, created, &s.mtime, diag);
	if (rc < 0)
		return rc;
	rc = manifest_from_build(b, created, &s.m, diag);
	if (rc < 0)
		return rc;
	s.buf = malloc(PKG_IO_BUF);
	s.spool = malloc((b->n_sources ? b->n_sources : 1) * sizeof(*s.spool));
	if (!s.buf || !s.spool) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_sources; i++)
		s.spool[i] = -1;
	rc = head_measure(&s, diag);
	if (rc == 0)
		rc = lp_tar_writer_new(lp_io_fd_write, &s.out_fd, &s.w);
	if (rc == 0)
		rc = fd_seekable(out_fd, &s.base) ? build_seekable(&s, diag) : build_streaming(&s, diag);
	/* Errors found by the manifest check are about the caller's description. */
	if (rc == -EBADMSG)
		rc = -EINVAL;
	if (rc < 0)
		goto out;
	if (ret_manifest) {
		*ret_manifest = s.m;
		s.m = NULL;
	}
out:
	if (s.spool)
		for (size_t i = 0; i < b->n_sources; i++)
			if (s.spool[i] >= 0)
				close(s.spool[i]);
	lp_tar_writer_free(s.w);
	lp_manifest_free(s.m);
	free(s.spool);
	free(s.buf);
	return rc;
}

/* ---- re-signing ---- */

/* Drops the signatures with key ids in remove, then adds (or replaces) one by each key
 * over the manifest bytes json. */
static int resign_set(struct lp_pkg_sigset *set, const char *json, size_t json_len,
		      const struct lp_key *const *add_keys, size_t n_add,
		      const char *const *remove_keyids, size_t n_remove, struct lp_diag *diag)
{
	for (size_t i = 0; i < n_remove; i++) {
		size_t j;

		for (j = 0; j < set->n; j++)
			if (strcmp(set->sigs[j].keyid, remove_keyids[i]) == 0)
				break;
		if (j == set->n)
			return lp_diag_fail(diag, -ENOENT, "manifest.sig: no signature by key %s to remove",
					    remove_keyids[i]);
		memmove(&set->sigs[j], &set->sigs[j + 1], (set->n - j - 1) * sizeof(set->sigs[0]));
		set->n--;
	}
	for (size_t i = 0; i < n_add; i++) {
		struct lp_pkg_signature sig;
		size_t j;
		int rc;

		lp_key_id(add_keys[i], sig.keyid);
		rc = lp_sign(add_keys[i], json, json_len, sig.sig);
		if (rc < 0)
			return lp_diag_fail(diag, rc, "signing with key %s failed", sig.keyid);
		for (j = 0; j < set->n; j++)
			if (strcmp(set->sigs[j].keyid, sig.keyid) == 0)
				break;
		if (j == set->n) {
			if (set->n == LP_PKG_MAX_SIGNATURES)
				return lp_diag_fail(diag, -E2BIG, "more than %d signatures",
						    LP_PKG_MAX_SIGNATURES);
			set->n++;
		}
		set->sigs[j] = sig;
	}
	if (set->n == 0)
		return lp_diag_fail(diag, -EINVAL, "refusing to leave the package without a signature");
	return 0;
}

/* Copies the payload member the manifest expects next (payload i) block by block,
 * checking its name, size and stored_sha256 on the way. */
static int resign_copy_payload(struct lp_tar_in *r, struct lp_tar_writer *w,
			       const struct lp_payload_info *pl, struct lp_hash *h,
			       struct lp_diag *diag)
{
	uint8_t digest[LP_HASH_MAX_LEN];
	struct lp_tar_entry e;
	const void *data;
	size_t len;
	int rc;

	rc = lp_tar_in_next(r, &e, diag);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return lp_diag_fail(diag, -EBADMSG, "package: archive ends before payload %s", pl->name);
	if (strcmp(e.name, pl->name) != 0 || e.size != pl->stored_size)
		return lp_diag_fail(diag, -EBADMSG,
				    "package: member %s (%llu bytes) where payload %s (%llu bytes) was expected",
				    e.name, (unsigned long long)e.size, pl->name,
				    (unsigned long long)pl->stored_size);
	rc = lp_tar_writer_add(w, e.name, e.size, e.mtime, diag);
	if (rc < 0)
		return rc;
	rc = lp_hash_reset(h);
	if (rc < 0)
		return rc;
	while ((rc = lp_tar_in_data(r, &data, &len, diag)) == 1) {
		rc = lp_hash_update(h, data, len);
		if (rc == 0)
			rc = lp_tar_writer_write(w, data, len, diag);
		if (rc < 0)
			return rc;
	}
	if (rc == 0)
		rc = lp_hash_final(h, digest);
	if (rc == 0 && !lp_hash_equal(digest, pl->stored_sha256, 32))
		rc = lp_diag_fail(diag, -EBADMSG, "payload %s: stored_sha256 mismatch", e.name);
	return rc;
}

int lp_pkg_resign(int in_fd, int out_fd, const struct lp_key *const *add_keys, size_t n_add,
		  const char *const *remove_keyids, size_t n_remove, struct lp_diag *diag)
{
	struct lp_tar_in *r = NULL;
	struct lp_tar_writer *w = NULL;
	struct lp_manifest *m = NULL;
	struct lp_pkg_head head = { 0 };
	struct lp_hash *h = NULL;
	struct lp_tar_entry e;
	char *newsig = NULL;
	int rc;

	for (size_t i = 0; i < n_add; i++) {
		char id[LP_KEYID_LEN + 1];

		lp_key_id(add_keys[i], id);
		if (!lp_key_is_private(add_keys[i]))
			return lp_diag_fail(diag, -EINVAL, "key %s is a public key; signing needs the private key", id);
	}
	rc = lp_tar_in_new(lp_io_fd_read, &in_fd, &r);
	if (rc < 0)
		return rc;
	rc = lp_pkg_head_read(r, &head, diag);
	if (rc == 0)
		rc = lp_manifest_parse(head.json, head.json_len, &m, diag);
	if (rc == 0)
		rc = resign_set(&head.sigs, head.json, head.json_len, add_keys, n_add, remove_keyids,
				n_remove, diag);
	if (rc < 0)
		goto out;
	newsig = lp_pkg_sig_serialize(&head.sigs);
	rc = newsig ? lp_tar_writer_new(lp_io_fd_write, &out_fd, &w) : -ENOMEM;
	if (rc == 0)
		rc = write_member(w, LP_PKG_MANIFEST_NAME, head.json, head.json_len, head.json_mtime, diag);
	if (rc == 0)
		rc = write_member(w, LP_PKG_SIG_NAME, newsig, strlen(newsig), head.sig_mtime, diag);
	if (rc == 0)
		rc = lp_hash_new(LP_HASH_SHA256, &h);
	for (size_t i = 0; rc == 0 && i < m->n_payloads; i++)
		rc = resign_copy_payload(r, w, &m->payloads[i], h, diag);
	if (rc == 0)
		rc = lp_tar_in_next(r, &e, diag);
	if (rc == 1)
		rc = lp_diag_fail(diag, -EBADMSG, "package: extra member %s after the last payload",
				  e.name);
	if (rc == 0)
		rc = lp_tar_writer_finish(w, diag);
out:
	lp_hash_free(h);
	lp_tar_writer_free(w);
	lp_tar_in_free(r);
	lp_manifest_free(m);
	lp_pkg_head_clear(&head);
	free(newsig);
	return rc;
}

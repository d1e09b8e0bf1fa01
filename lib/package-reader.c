/* SPDX-License-Identifier: MIT */
/*
 * Reading .lpkg packages as a stream. lp_pkg_reader_open reads manifest.json and
 * manifest.sig, verifies the signatures over the exact manifest bytes and only then
 * parses the manifest and applies the policy; payloads can be reached only after that
 * succeeded. Each payload then flows: stored bytes -> stored SHA-256 -> decryption
 * (package-crypt.c) -> zstd -> size limit -> SHA-256 -> sink, and is accepted only if
 * every check matches at its end.
 *
 * The tar layer is the native reader of loopline/tar-read.h, and this file uses nothing
 * from package-writer.c: a program that only reads packages (the agent) pulls no writer
 * code from libloopline.a (docs/design.md, "Tar").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopline/compress.h"
#include "loopline/delta.h"
#include "loopline/hash.h"
#include "loopline/io.h"
#include "loopline/package-crypt.h"
#include "loopline/semver.h"
#include "loopline/tar-read.h"
#include "package-internal.h"

enum reader_state {
	READER_NEW = 0,
	READER_OPEN,     /* signature and policy passed, before the first payload */
	READER_PAYLOAD,  /* positioned on payload cur, not streamed yet */
	READER_STREAMED, /* payload cur streamed and verified */
	READER_END,      /* clean end of archive */
	READER_FAILED,
};

struct lp_pkg_reader {
	struct lp_tar_in *tar;
	int fd;
	const struct lp_keyring *trusted;
	const struct lp_aes_keyring *decryption_keys;
	char *compatible;
	bool check_security_version;
	uint64_t min_security_version;
	char *agent_version;
	struct lp_manifest *m;
	struct lp_signature_info sigs[LP_PKG_MAX_SIGNATURES];
	size_t n_sigs;
	size_t next;         /* index of the next payload member */
	size_t cur;
	struct lp_delta_base base; /* checked for payload cur when has_base */
	bool has_base;
	enum reader_state state;
	int err;
};

/* Reads the next member, which must be called want and hold at most max bytes, into a
 * malloc'd NUL-terminated buffer. -EBADMSG / -E2BIG with a message. */
static int read_member(struct lp_tar_in *r, const char *want, size_t max, char **ret_buf,
		       size_t *ret_len, int64_t *ret_mtime, struct lp_diag *diag)
{
	struct lp_tar_entry e;
	char *buf;
	size_t got = 0;
	int rc;

	rc = lp_tar_in_next(r, &e, diag);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return lp_diag_fail(diag, -EBADMSG, "package: archive ends before %s", want);
	if (strcmp(e.name, want) != 0)
		return lp_diag_fail(diag, -EBADMSG, "package: member %s where %s was expected", e.name,
				    want);
	if (e.size > max)
		return lp_diag_fail(diag, -E2BIG, "%s: %llu bytes, more than the limit of %zu", want,
				    (unsigned long long)e.size, max);
	buf = malloc((size_t)e.size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < e.size) {
		ssize_t n = lp_tar_in_read(r, buf + got, (size_t)e.size - got, diag);

		if (n <= 0) {
			free(buf);
			return n < 0 ? (int)n : lp_diag_fail(diag, -EBADMSG, "%s: truncated", want);
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret_buf = buf;
	*ret_len = got;
	*ret_mtime = e.mtime;
	return 0;
}

int lp_pkg_head_read(struct lp_tar_in *r, struct lp_pkg_head *ret_head, struct lp_diag *diag)
{
	struct lp_pkg_head h = { 0 };
	char *sig = NULL;
	size_t sig_len;
	int rc;

	rc = read_member(r, LP_PKG_MANIFEST_NAME, LP_PKG_MANIFEST_MAX, &h.json, &h.json_len,
			 &h.json_mtime, diag);
	if (rc < 0)
		goto out;
	rc = read_member(r, LP_PKG_SIG_NAME, LP_PKG_SIG_MAX, &sig, &sig_len, &h.sig_mtime, diag);
	if (rc < 0)
		goto out;
	rc = lp_pkg_sig_parse(sig, sig_len, &h.sigs, diag);
	if (rc < 0) {
		lp_diag_set_file(diag, LP_PKG_SIG_NAME);
		goto out;
	}
	*ret_head = h;
	h.json = NULL;
out:
	free(h.json);
	free(sig);
	return rc;
}

void lp_pkg_head_clear(struct lp_pkg_head *h)
{
	if (!h)
		return;
	free(h->json);
	h->json = NULL;
}

static int reader_create(lp_pkg_read_fn read, void *ctx, const struct lp_pkg_policy *policy,
			 struct lp_pkg_reader *r)
{
	int rc;

	if (!policy || !policy->trusted)
		return -EINVAL;
	r->trusted = policy->trusted;
	r->decryption_keys = policy->decryption_keys;
	r->check_security_version = policy->check_security_version;
	r->min_security_version = policy->min_security_version;
	if (policy->compatible) {
		r->compatible = strdup(policy->compatible);
		if (!r->compatible)
			return -ENOMEM;
	}
	if (policy->agent_version) {
		r->agent_version = strdup(policy->agent_version);
		if (!r->agent_version)
			return -ENOMEM;
	}
	rc = lp_tar_in_new(read, ctx, &r->tar);
	return rc;
}

int lp_pkg_reader_new(lp_pkg_read_fn read, void *ctx, const struct lp_pkg_policy *policy,
		      struct lp_pkg_reader **ret_reader)
{
	struct lp_pkg_reader *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	rc = reader_create(read, ctx, policy, r);
	if (rc < 0) {
		lp_pkg_reader_free(r);
		return rc;
	}
	*ret_reader = r;
	return 0;
}

int lp_pkg_reader_new_fd(int fd, const struct lp_pkg_policy *policy, struct lp_pkg_reader **ret_reader)
{
	struct lp_pkg_reader *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	rc = reader_create(lp_io_fd_read, &r->fd, policy, r);
	if (rc < 0) {
		lp_pkg_reader_free(r);
		return rc;
	}
	*ret_reader = r;
	return 0;
}

void lp_pkg_reader_free(struct lp_pkg_reader *r)
{
	if (!r)
		return;
	lp_tar_in_free(r->tar);
	lp_manifest_free(r->m);
	free(r->compatible);
	free(r->agent_version);
	free(r);
}

static int reader_fail(struct lp_pkg_reader *r, int err)
{
	r->state = READER_FAILED;
	r->err = err;
	return err;
}

static int verify_signatures(struct lp_pkg_reader *r, const char *json, size_t len,
			     const struct lp_pkg_sigset *set, struct lp_diag *diag)
{
	char seen[LP_PKG_MAX_SIGNATURES * (LP_KEYID_LEN + 2) + 1] = "";
	size_t valid = 0, seen_len = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct lp_signature_info *info = &r->sigs[i];
		const struct lp_key *key = lp_keyring_find(r->trusted, set->sigs[i].keyid);

		memcpy(info->keyid, set->sigs[i].keyid, sizeof(info->keyid));
		info->trusted = key != NULL;
		info->valid = false;
		r->n_sigs = i + 1;
		seen_len += (size_t)snprintf(seen + seen_len, sizeof(seen) - seen_len, "%s%s",
					     i ? ", " : "", set->sigs[i].keyid);
		if (!key)
			continue;
		if (lp_verify(key, json, len, set->sigs[i].sig) < 0)
			return lp_diag_fail(diag, -EKEYREJECTED,
					    "manifest.sig: the signature by trusted key %s is invalid",
					    set->sigs[i].keyid);
		info->valid = true;
		valid++;
	}
	if (valid == 0)
		return lp_diag_fail(diag, -EKEYREJECTED,
				    "manifest.sig: no signature by a trusted key (signed by %s)", seen);
	return 0;
}

static int apply_policy(struct lp_pkg_reader *r, struct lp_diag *diag)
{
	const struct lp_manifest *m = r->m;

	if (r->compatible) {
		char list[512] = "";
		size_t len = 0;
		bool ok = false;

		for (size_t i = 0; i < m->n_compatible; i++) {
			if (strcmp(m->compatible[i], r->compatible) == 0)
				ok = true;
			if (len < sizeof(list))
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
							i ? ", " : "", m->compatible[i]);
		}
		if (!ok)
			return lp_diag_fail(diag, -ENOEXEC, "package is for %s, not for %s", list,
					    r->compatible);
	}
	if (r->check_security_version && m->security_version < r->min_security_version)
		return lp_diag_fail(diag, -EPERM,
				    "security_version %llu is lower than the installed %llu (anti-rollback)",
				    (unsigned long long)m->security_version,
				    (unsigned long long)r->min_security_version);
	if (r->agent_version && m->min_agent_version[0]) {
		int cmp;

		if (lp_semver_compare_str(r->agent_version, m->min_agent_version, &cmp) < 0)
			return lp_diag_fail(diag, -EINVAL, "agent version %s is not a semantic version",
					    r->agent_version);
		if (cmp < 0)
			return lp_diag_fail(diag, -EPROTONOSUPPORT,
					    "package needs agent %s or newer, this agent is %s",
					    m->min_agent_version, r->agent_version);
	}
	return 0;
}

int lp_pkg_reader_open(struct lp_pkg_reader *r, const struct lp_manifest **ret_manifest,
		       struct lp_diag *diag)
{
	struct lp_pkg_head head = { 0 };
	int rc;

	if (r->state == READER_FAILED)
		return lp_diag_fail(diag, r->err, "package: reader already failed");
	if (r->state != READER_NEW)
		return lp_diag_fail(diag, -EINVAL, "package: already opened");
	rc = lp_pkg_head_read(r->tar, &head, diag);
	if (rc < 0)
		goto out;
	/* The signature covers the exact bytes: check it before parsing anything in them. */
	rc = verify_signatures(r, head.json, head.json_len, &head.sigs, diag);
	if (rc < 0)
		goto out;
	rc = lp_manifest_parse(head.json, head.json_len, &r->m, diag);
	if (rc < 0) {
		lp_diag_set_file(diag, LP_PKG_MANIFEST_NAME);
		goto out;
	}
	rc = apply_policy(r, diag);
	if (rc < 0)
		goto out;
	r->state = READER_OPEN;
	if (ret_manifest)
		*ret_manifest = r->m;
out:
	lp_pkg_head_clear(&head);
	return rc < 0 ? reader_fail(r, rc) : 0;
}

size_t lp_pkg_reader_signatures(const struct lp_pkg_reader *r, const struct lp_signature_info **ret_sigs)
{
	*ret_sigs = r->sigs;
	return r->n_sigs;
}

int lp_pkg_reader_next(struct lp_pkg_reader *r, const struct lp_payload_info **ret_info,
		       struct lp_diag *diag)
{
	const struct lp_payload_info *pl;
	struct lp_tar_entry e;
	int rc;

	switch (r->state) {
	case READER_NEW:
		return lp_diag_fail(diag, -EINVAL, "package: open the reader before reading payloads");
	case READER_FAILED:
		return lp_diag_fail(diag, r->err, "package: reader already failed");
	case READER_END:
		return 0;
	case READER_PAYLOAD:
		/* Skipped by the caller: still read and verified. */
		rc = lp_pkg_reader_stream(r, NULL, NULL, diag);
		if (rc < 0)
			return rc;
		break;
	case READER_OPEN:
	case READER_STREAMED:
		break;
	}
	rc = lp_tar_in_next(r->tar, &e, diag);
	if (rc < 0)
		return reader_fail(r, rc);
	if (r->next == r->m->n_payloads) {
		if (rc == 1)
			return reader_fail(r, lp_diag_fail(diag, -EBADMSG,
							   "package: extra member %s after the last payload",
							   e.name));
		r->state = READER_END;
		return 0;
	}
	pl = &r->m->payloads[r->next];
	if (rc == 0)
		return reader_fail(r, lp_diag_fail(diag, -EBADMSG,
						   "package: archive ends before payload %s", pl->name));
	if (strcmp(e.name, pl->name) != 0)
		return reader_fail(r, lp_diag_fail(diag, -EBADMSG,
						   "package: member %s where payload %s was expected",
						   e.name, pl->name));
	if (e.size != pl->stored_size)
		return reader_fail(r, lp_diag_fail(diag, -EBADMSG,
						   "payload %s: archive member has %llu bytes, stored_size says %llu",
						   pl->name, (unsigned long long)e.size,
						   (unsigned long long)pl->stored_size));
	r->cur = r->next++;
	r->has_base = false;
	r->state = READER_PAYLOAD;
	*ret_info = pl;
	return 1;
}

int lp_pkg_reader_set_base(struct lp_pkg_reader *r, const struct lp_delta_base *base,
			   struct lp_diag *diag)
{
	int rc;

	if (r->state != READER_PAYLOAD)
		return lp_diag_fail(diag, -EINVAL, "package: no payload to set a base for");
	rc = lp_pkg_delta_base_check(&r->m->payloads[r->cur], base, &r->base, diag);
	r->has_base = rc == 0;
	return rc;
}

struct stream_state {
	const struct lp_payload_info *pl;
	struct lp_hash *hash;   /* of the target bytes */
	uint64_t produced;
	lp_pkg_sink_fn sink;
	void *sink_ctx;
	struct lp_diag *diag;
	int out_err;            /* an error with its message already set */
	struct lp_pkg_crypt *crypt; /* stored bytes -> plaintext (NULL: not encrypted) */
	struct lp_zstd *z;          /* plaintext -> unpacked (NULL: not compressed) */
	struct lp_delta_apply *d;   /* unpacked patch -> target bytes (NULL: not a delta) */
};

static int target_out(void *ctx, const void *data, size_t len)
{
	struct stream_state *st = ctx;
	int rc;

	if (len > st->pl->size - st->produced) {
		st->out_err = lp_diag_fail(st->diag, -EBADMSG,
					   "payload %s: more than its size of %llu bytes", st->pl->name,
					   (unsigned long long)st->pl->size);
		return st->out_err;
	}
	st->produced += len;
	rc = lp_hash_update(st->hash, data, len);
	if (rc < 0)
		return rc;
	if (st->sink) {
		rc = st->sink(st->sink_ctx, data, len);
		if (rc < 0) {
			st->out_err = lp_diag_fail(st->diag, rc, "payload %s: sink failed: %s",
						   st->pl->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Unpacked bytes: a patch into the delta engine (which writes the target), else the
 * target itself. */
static int unpacked_out(void *ctx, const void *data, size_t len)
{
	struct stream_state *st = ctx;
	int rc;

	if (!st->d)
		return target_out(st, data, len);
	rc = lp_delta_apply_write(st->d, data, len, st->diag);
	if (rc < 0 && !st->out_err)
		st->out_err = rc; /* the engine said why */
	return rc;
}

/* The plaintext of the stored bytes (after decryption, if any) into zstd or on. */
static int plain_out(void *ctx, const void *data, size_t len)
{
	struct stream_state *st = ctx;
	int rc = st->z ? lp_zstd_write(st->z, data, len) : unpacked_out(st, data, len);

	if (rc < 0 && !st->out_err)
		st->out_err = lp_diag_fail(st->diag, rc, "payload %s: zstd: corrupt data", st->pl->name);
	return rc;
}

/* The decryption stage of an encrypted payload when its plaintext is wanted (a sink) or
 * can be checked (a key for it). Without both, only its stored bytes are checked, so a
 * package verifies without the key. */
static int stream_decryptor(const struct lp_pkg_reader *r, struct stream_state *st, bool sink,
			    struct lp_diag *diag)
{
	const struct lp_payload_info *pl = st->pl;

	/* a delta without its base cannot be applied, so its plaintext cannot be checked */
	if (!pl->encryption.present || (pl->type == LP_PAYLOAD_DELTA && !sink))
		return 0;
	if (!sink && !lp_aes_keyring_find(r->decryption_keys, pl->encryption.key_id))
		return 0;
	return lp_pkg_crypt_for_payload(r->decryption_keys, pl, plain_out, st, diag, &st->crypt);
}

int lp_pkg_reader_stream(struct lp_pkg_reader *r, lp_pkg_sink_fn sink, void *sink_ctx,
			 struct lp_diag *diag)
{
	const struct lp_payload_info *pl;
	struct stream_state st = { .sink = sink, .sink_ctx = sink_ctx, .diag = diag };
	struct lp_hash *stored = NULL;
	uint8_t digest[LP_HASH_MAX_LEN];
	bool stored_only, separate, delta;
	const void *data;
	size_t len;
	int rc;

	if (r->state == READER_FAILED)
		return lp_diag_fail(diag, r->err, "package: reader already failed");
	if (r->state != READER_PAYLOAD)
		return lp_diag_fail(diag, -EINVAL, "package: no payload to stream");
	pl = &r->m->payloads[r->cur];
	st.pl = pl;
	rc = stream_decryptor(r, &st, sink != NULL, diag);
	if (rc < 0)
		return reader_fail(r, rc);
	/* Without a sink, a delta's result cannot be made (no base) and an encrypted
	 * payload without its key cannot be read: their stored bytes are still checked. */
	delta = pl->type == LP_PAYLOAD_DELTA && sink;
	stored_only = (pl->type == LP_PAYLOAD_DELTA && !sink) || (pl->encryption.present && !st.crypt);
	if (delta && strcmp(pl->delta.algorithm, LP_DELTA_ALGORITHM) != 0) {
		lp_pkg_crypt_free(st.crypt);
		return reader_fail(r, lp_diag_fail(diag, -EOPNOTSUPP,
						   "payload %s: delta algorithm %s is not supported by this "
						   "reader (it knows " LP_DELTA_ALGORITHM ")", pl->name,
						   pl->delta.algorithm));
	}
	if (delta && !r->has_base) {
		lp_pkg_crypt_free(st.crypt);
		return lp_diag_fail(diag, -EINVAL,
				    "payload %s: a delta needs its base (lp_pkg_reader_set_base) first",
				    pl->name);
	}
	separate = stored_only || delta || pl->encryption.present ||
		   pl->compression != LP_COMPRESSION_NONE;

	rc = lp_hash_new(LP_HASH_SHA256, &st.hash);
	if (rc == 0 && separate)
		rc = lp_hash_new(LP_HASH_SHA256, &stored);
	if (rc < 0)
		goto out;
	if (delta && (rc = lp_delta_apply_new(&r->base, target_out, &st, &st.d)) < 0)
		goto out;
	if (!stored_only && pl->compression == LP_COMPRESSION_ZSTD) {
		rc = lp_zstd_new(LP_ZSTD_DECOMPRESS, 0, unpacked_out, &st, &st.z);
		if (rc < 0)
			goto out;
	}
	while ((rc = lp_tar_in_data(r->tar, &data, &len, diag)) == 1) {
		if (separate) {
			rc = lp_hash_update(stored, data, len);
			if (rc < 0)
				goto out;
		}
		if (stored_only)
			continue;
		rc = st.crypt ? lp_pkg_crypt_write(st.crypt, data, len) : plain_out(&st, data, len);
		if (rc < 0)
			goto out;
	}
	if (rc == 0 && st.crypt)
		rc = lp_pkg_crypt_finish(st.crypt);
	if (rc < 0)
		goto out;
	if (st.z) {
		rc = lp_zstd_finish(st.z);
		if (rc < 0) {
			if (!st.out_err)
				lp_diag_fail(diag, rc, "payload %s: zstd: truncated frame", pl->name);
			goto out;
		}
	}
	if (st.d && (rc = lp_delta_apply_finish(st.d, diag)) < 0)
		goto out;
	rc = lp_hash_final(separate ? stored : st.hash, digest);
	if (rc < 0)
		goto out;
	rc = -EBADMSG;
	if (!lp_hash_equal(digest, pl->stored_sha256, 32)) {
		lp_diag_fail(diag, rc, "payload %s: stored_sha256 mismatch", pl->name);
		goto out;
	}
	if (!stored_only) {
		if (st.produced != pl->size) {
			lp_diag_fail(diag, rc, "payload %s: %llu bytes, size says %llu", pl->name,
				     (unsigned long long)st.produced, (unsigned long long)pl->size);
			goto out;
		}
		if (separate) {
			rc = lp_hash_final(st.hash, digest);
			if (rc < 0)
				goto out;
			rc = -EBADMSG;
		}
		if (!lp_hash_equal(digest, pl->sha256, 32)) {
			lp_diag_fail(diag, rc, "payload %s: sha256 mismatch", pl->name);
			goto out;
		}
	}
	rc = 0;
	r->state = READER_STREAMED;
out:
	lp_pkg_crypt_free(st.crypt);
	lp_zstd_free(st.z);
	lp_delta_apply_free(st.d);
	lp_hash_free(stored);
	lp_hash_free(st.hash);
	return rc < 0 ? reader_fail(r, rc) : 0;
}

int lp_pkg_verify_fd(int fd, const struct lp_pkg_policy *policy, struct lp_manifest **ret_manifest,
		     struct lp_diag *diag)
{
	struct lp_pkg_reader *r = NULL;
	const struct lp_payload_info *info;
	int rc;

	rc = lp_pkg_reader_new_fd(fd, policy, &r);
	if (rc < 0)
		return rc;
	rc = lp_pkg_reader_open(r, NULL, diag);
	while (rc == 0 && (rc = lp_pkg_reader_next(r, &info, diag)) == 1)
		rc = lp_pkg_reader_stream(r, NULL, NULL, diag);
	if (rc == 0 && ret_manifest) {
		*ret_manifest = r->m;
		r->m = NULL;
	}
	lp_pkg_reader_free(r);
	return rc;
}

int lp_pkg_peek(lp_pkg_read_fn read, void *ctx, struct lp_manifest **ret_manifest,
		struct lp_signature_info *ret_sigs, size_t *ret_n_sigs, struct lp_diag *diag)
{
	struct lp_pkg_head head = { 0 };
	struct lp_tar_in *tar = NULL;
	struct lp_manifest *m = NULL;
	int rc;

	rc = lp_tar_in_new(read, ctx, &tar);
	if (rc < 0)
		return rc;
	rc = lp_pkg_head_read(tar, &head, diag);
	if (rc < 0)
		goto out;
	rc = lp_manifest_parse(head.json, head.json_len, &m, diag);
	if (rc < 0) {
		lp_diag_set_file(diag, LP_PKG_MANIFEST_NAME);
		goto out;
	}
	for (size_t i = 0; i < head.sigs.n; i++) {
		memcpy(ret_sigs[i].keyid, head.sigs.sigs[i].keyid, sizeof(ret_sigs[i].keyid));
		ret_sigs[i].trusted = false;
		ret_sigs[i].valid = false;
	}
	*ret_n_sigs = head.sigs.n;
	*ret_manifest = m;
out:
	lp_pkg_head_clear(&head);
	lp_tar_in_free(tar);
	return rc;
}

int lp_pkg_peek_fd(int fd, struct lp_manifest **ret_manifest, struct lp_signature_info *ret_sigs,
		   size_t *ret_n_sigs, struct lp_diag *diag)
{
	return lp_pkg_peek(lp_io_fd_read, &fd, ret_manifest, ret_sigs, ret_n_sigs, diag);
}

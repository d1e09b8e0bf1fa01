/* SPDX-License-Identifier: MIT */
/*
 * The .lpkg firmware package (docs/package-format.md): a ustar/pax tar stream with
 * manifest.json, manifest.sig, then the payloads in manifest order.
 *
 * Writing is streaming: each payload is read once from a file descriptor (a file, a pipe)
 * and never held in memory. Reading is streaming too: the reader verifies manifest.sig
 * against trusted keys and checks the policy before it hands out a single payload byte,
 * then streams each payload through decompression into a caller's sink while checking
 * stored_sha256 and sha256. A sink must treat its bytes as untrusted until
 * lp_pkg_reader_stream_payload() returned 0 (the hashes are known only at the end).
 *
 * Error returns (negative errno), with a message in the diag:
 *   -EBADMSG       malformed archive or manifest, hash or size mismatch, truncation
 *   -EKEYREJECTED  no signature by a trusted key verifies (or a trusted one is invalid)
 *   -ENOEXEC       package not compatible with this hardware
 *   -EPERM         security_version lower than the installed one (anti-rollback)
 *   -EPROTONOSUPPORT  min_agent_version higher than the running agent
 *   -E2BIG         a hard limit was exceeded (manifest size, payload count, name length)
 *   -ENOKEY        an encrypted payload to stream whose key is not in the policy
 *   -ESTALE        a delta's base (the running slot) is not the image the delta was made for
 *   other          I/O errors from the stream or the sink
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "loopline/common.h"
#include "loopline/delta.h"
#include "loopline/diag.h"
#include "loopline/semver.h"
#include "loopline/sign.h"

struct lp_aes_key;     /* loopline/package-crypt.h */
struct lp_aes_keyring;

/* Hard limits. */
#define LP_PKG_MANIFEST_MAX (256 * 1024) /* bytes of manifest.json */
#define LP_PKG_SIG_MAX (16 * 1024)       /* bytes of manifest.sig */
#define LP_PKG_MAX_SIGNATURES 16
#define LP_PKG_MAX_PAYLOADS 64
#define LP_PKG_MAX_COMPATIBLE 64
#define LP_PKG_NAME_MAX 100    /* payload member names: [A-Za-z0-9._-], no leading '.' */
#define LP_PKG_FIELD_MAX 128   /* product, target, compatible entries, key ids, … */
#define LP_PKG_FORMAT 1

enum lp_payload_type {
	LP_PAYLOAD_IMAGE = 0, /* a whole slot image */
	LP_PAYLOAD_DELTA,     /* a patch against the running slot */
	LP_PAYLOAD_FILE,      /* a file installed into the new slot or the data partition */
	LP_PAYLOAD_SCRIPT,    /* a pre/post-install hook */
};

enum lp_compression {
	LP_COMPRESSION_NONE = 0,
	LP_COMPRESSION_ZSTD,
};

struct lp_payload_encryption {
	bool present;
	char alg[LP_PKG_FIELD_MAX];    /* "aes-256-gcm-chunked" */
	char key_id[LP_PKG_FIELD_MAX];
	uint32_t chunk_size;
	uint8_t nonce[12];             /* 96-bit prefix */
};

struct lp_payload_delta {
	bool present;
	char algorithm[LP_PKG_FIELD_MAX];
	char base_version[LP_SEMVER_MAX];
	uint8_t base_sha256[32];
	uint64_t base_size;
};

struct lp_payload_info {
	char name[LP_PKG_NAME_MAX + 1];
	enum lp_payload_type type;
	char target[LP_PKG_FIELD_MAX]; /* "rootfs", or a path for type file */
	uint64_t size;                 /* bytes written to the target */
	uint8_t sha256[32];            /* of those bytes */
	uint64_t stored_size;          /* bytes in the archive */
	uint8_t stored_sha256[32];     /* of those bytes */
	enum lp_compression compression;
	struct lp_payload_encryption encryption;
	struct lp_payload_delta delta;
};

struct lp_manifest {
	int format;
	char product[LP_PKG_FIELD_MAX];
	char version[LP_SEMVER_MAX];
	uint64_t security_version;
	char (*compatible)[LP_PKG_FIELD_MAX];
	size_t n_compatible;
	char created[LP_PKG_FIELD_MAX];          /* RFC 3339 UTC, e.g. 2026-11-25T19:00:00Z */
	char min_agent_version[LP_SEMVER_MAX];   /* "" if absent */
	struct lp_payload_info *payloads;
	size_t n_payloads;
};

LP_EXPORT const char *lp_payload_type_name(enum lp_payload_type type);
/* True for a key id as manifest.sig spells it: LP_KEYID_LEN lower-case hex digits. */
LP_EXPORT bool lp_pkg_keyid_valid(const char *s);
LP_EXPORT const char *lp_compression_name(enum lp_compression c);

/* Strict format-1 parser: unknown keys, wrong types, bad versions/hashes/names, duplicate
 * payload names and exceeded limits are errors with a path ("payloads[0].sha256"). */
LP_EXPORT int lp_manifest_parse(const char *json, size_t len, struct lp_manifest **ret_manifest,
				struct lp_diag *diag);
/* Canonical JSON (malloc'd, caller frees), NULL on ENOMEM. Parse(serialize(m)) == m. */
LP_EXPORT char *lp_manifest_serialize(const struct lp_manifest *m);
LP_EXPORT void lp_manifest_free(struct lp_manifest *m);

/* ---- building ---- */

#define LP_PKG_CREATED_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

/* The manifest's "created" spelling of t seconds since the epoch ("YYYY-MM-DDTHH:MM:SSZ",
 * UTC) into buf of at least 21 bytes; -EINVAL for t outside 0 … LP_PKG_CREATED_MAX. */
LP_EXPORT int lp_pkg_created_format(int64_t t, char *buf, size_t len);

/* A delta payload's manifest facts: its base, and the image the patch produces. */
struct lp_pkg_delta {
	struct lp_payload_delta base; /* algorithm, base_version, base_sha256, base_size */
	uint64_t size;                /* of the image the patch produces */
	uint8_t sha256[32];           /* of that image */
};

struct lp_pkg_source {
	const char *name;         /* member name in the archive */
	enum lp_payload_type type;
	const char *target;
	int fd;                   /* read until EOF; not closed by the builder */
	enum lp_compression compression;
	int zstd_level;           /* 0 = default (3) */
	const struct lp_aes_key *encrypt_key; /* NULL = not encrypted (loopline/package-crypt.h) */
	uint32_t chunk_size;      /* of the encryption; 0 = default (65536) */
	/* type LP_PAYLOAD_DELTA only (else NULL): fd holds the patch, stored as it is
	 * (compression none: the patch is compressed already) */
	const struct lp_pkg_delta *delta;
};

struct lp_pkg_build {
	const char *product;
	const char *version;
	uint64_t security_version;
	const char *const *compatible;
	size_t n_compatible;
	const char *min_agent_version; /* NULL = none */
	const char *created;           /* NULL = now (lp_pkg_created_format) */
	const struct lp_pkg_source *sources;
	size_t n_sources;
	const struct lp_key *const *keys; /* private signing keys, at least one */
	size_t n_keys;
};

/*
 * Builds a package into out_fd. Each source is read exactly once. When out_fd is seekable
 * the archive is written in one pass (space for the manifest and signatures is reserved
 * and filled in at the end); otherwise payloads are spooled to temporary files first.
 * On success *ret_manifest (if not NULL) receives the written manifest.
 */
LP_EXPORT int lp_pkg_build(const struct lp_pkg_build *b, int out_fd,
			   struct lp_manifest **ret_manifest, struct lp_diag *diag);

/*
 * Copies a package from in_fd to out_fd with its signature set changed: signatures by
 * add_keys are added (replacing one with the same key id), those with key ids in
 * remove_keyids are dropped. Refuses to leave a package with no signature. The manifest
 * bytes are not changed, so existing signatures stay valid.
 */
LP_EXPORT int lp_pkg_resign(int in_fd, int out_fd, const struct lp_key *const *add_keys,
			    size_t n_add, const char *const *remove_keyids, size_t n_remove,
			    struct lp_diag *diag);

/* ---- reading ---- */

/* A source of archive bytes: returns bytes read (>0), 0 at end, or a negative errno. */
typedef ssize_t (*lp_pkg_read_fn)(void *ctx, void *buf, size_t len);

/* A payload sink: called with the payload's target bytes (after decompression). Returns
 * 0 or a negative errno, which aborts reading. */
typedef int (*lp_pkg_sink_fn)(void *ctx, const void *data, size_t len);

struct lp_pkg_policy {
	const struct lp_keyring *trusted; /* required */
	const char *compatible;           /* NULL = do not check */
	bool check_security_version;
	uint64_t min_security_version;    /* refuse anything lower */
	const char *agent_version;        /* NULL = do not check min_agent_version */
	/* Keys for encrypted payloads (NULL = none). Streaming an encrypted payload into a
	 * sink needs its key (-ENOKEY otherwise); without a sink and without its key only
	 * its stored bytes are checked (stored_size, stored_sha256). */
	const struct lp_aes_keyring *decryption_keys;
};

struct lp_signature_info {
	char keyid[LP_KEYID_LEN + 1];
	bool trusted;  /* the key is in the keyring */
	bool valid;    /* verified (only checked for trusted keys) */
};

struct lp_pkg_reader;

LP_EXPORT int lp_pkg_reader_new(lp_pkg_read_fn read, void *ctx, const struct lp_pkg_policy *policy,
				struct lp_pkg_reader **ret_reader);
/* Reads from a file descriptor (not closed by the reader). */
LP_EXPORT int lp_pkg_reader_new_fd(int fd, const struct lp_pkg_policy *policy,
				   struct lp_pkg_reader **ret_reader);
/*
 * Reads manifest.json and manifest.sig, verifies the signatures and applies the policy.
 * Must succeed before any payload can be read. The manifest stays owned by the reader.
 */
LP_EXPORT int lp_pkg_reader_open(struct lp_pkg_reader *r, const struct lp_manifest **ret_manifest,
				 struct lp_diag *diag);
/* Signatures seen by lp_pkg_reader_open (for inspect/verify output). */
LP_EXPORT size_t lp_pkg_reader_signatures(const struct lp_pkg_reader *r,
					  const struct lp_signature_info **ret_sigs);
/*
 * Moves to the next payload: returns 1 and its info, or 0 when all payloads were read and
 * the archive ended cleanly (no extra members, proper end-of-archive).
 */
LP_EXPORT int lp_pkg_reader_next(struct lp_pkg_reader *r, const struct lp_payload_info **ret_info,
				 struct lp_diag *diag);
/*
 * A delta payload applies to a base, the running slot: lp_pkg_reader_set_base checks that
 * the current payload's algorithm is known, that base holds at least base_size bytes and
 * that the SHA-256 of its first base_size bytes is base_sha256 (-ESTALE "base mismatch: …"
 * otherwise), before the caller opens anything for writing. base is copied; its pread and
 * ctx must stay valid until the payload was streamed. -EINVAL if the current payload is
 * not a delta; -EOPNOTSUPP for an unknown algorithm.
 */
LP_EXPORT int lp_pkg_reader_set_base(struct lp_pkg_reader *r, const struct lp_delta_base *base,
				     struct lp_diag *diag);
/* Streams the current payload into sink (NULL sink = discard, still verified). Returns 0
 * only if stored_size, stored_sha256, size and sha256 all match. A delta payload streams
 * into a sink only after lp_pkg_reader_set_base; it is applied on the way (anonymous
 * memory bounded as loopline/delta.h says) and size and sha256 are those of the result.
 * Without a sink only its stored bytes are checked. */
LP_EXPORT int lp_pkg_reader_stream(struct lp_pkg_reader *r, lp_pkg_sink_fn sink, void *sink_ctx,
				   struct lp_diag *diag);
LP_EXPORT void lp_pkg_reader_free(struct lp_pkg_reader *r);

/* ---- reading WITHOUT verifying (inspect, list-keys) ---- */

/*
 * NOTHING IS VERIFIED HERE. lp_pkg_peek reads only the first two members, manifest.json
 * and manifest.sig, with the reader's size limits (LP_PKG_MANIFEST_MAX, LP_PKG_SIG_MAX)
 * and its strict parsers, and returns what they claim: no signature is checked (none
 * can be: no keys are given), no policy is applied, no payload byte is read or hashed.
 * Use it to show what a package says about itself, never to decide to install it or to
 * trust a single field; for that open an lp_pkg_reader with a keyring.
 *
 * On success *ret_manifest is the caller's (lp_manifest_free) and ret_sigs[0 ..
 * *ret_n_sigs) name the key ids found in manifest.sig, in its order, all with trusted
 * and valid false. ret_sigs has room for LP_PKG_MAX_SIGNATURES. On failure (-EBADMSG,
 * -E2BIG, -ENOMEM, a read error) nothing is returned and diag says why.
 */
LP_EXPORT int lp_pkg_peek(lp_pkg_read_fn read, void *ctx, struct lp_manifest **ret_manifest,
			  struct lp_signature_info *ret_sigs, size_t *ret_n_sigs,
			  struct lp_diag *diag);
/* lp_pkg_peek over a file descriptor (read from its current offset, not closed). */
LP_EXPORT int lp_pkg_peek_fd(int fd, struct lp_manifest **ret_manifest,
			     struct lp_signature_info *ret_sigs, size_t *ret_n_sigs,
			     struct lp_diag *diag);

/* Verifies a whole package file: open, then every payload streamed to nowhere. */
LP_EXPORT int lp_pkg_verify_fd(int fd, const struct lp_pkg_policy *policy,
			       struct lp_manifest **ret_manifest, struct lp_diag *diag);

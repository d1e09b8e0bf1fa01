/* SPDX-License-Identifier: MIT */
/* Shared between manifest.c, package-writer.c and package-reader.c (not exported). */
#pragma once

#include <stdbool.h>
#include "loopline/package.h"
#include "loopline/sign.h"
#include "loopline/tar-read.h"
#include "loopline/tar.h"

/* Sizes and counters in the manifest stay below 2^53 so every JSON reader holds them
 * exactly (they are doubles in many JSON libraries, cJSON included). */
#define LP_PKG_INT_MAX ((UINT64_C(1) << 53) - 1)
#define LP_PKG_CHUNK_MIN 4096u
#define LP_PKG_CHUNK_MAX (16u * 1024 * 1024)

#define LP_PKG_MANIFEST_NAME "manifest.json"
#define LP_PKG_SIG_NAME "manifest.sig"

struct lp_pkg_signature {
	char keyid[LP_KEYID_LEN + 1];
	uint8_t sig[LP_ED25519_SIG_LEN];
};

struct lp_pkg_sigset {
	struct lp_pkg_signature sigs[LP_PKG_MAX_SIGNATURES];
	size_t n;
};

/* Strict manifest.sig parser: 1..LP_PKG_MAX_SIGNATURES entries, alg "ed25519", keyid of
 * 16 lower-case hex digits, sig the base64 of 64 bytes, no duplicate key ids.
 * -EBADMSG / -E2BIG / -ENOMEM with a path in diag. */
int lp_pkg_sig_parse(const char *json, size_t len, struct lp_pkg_sigset *ret_set,
		     struct lp_diag *diag);
/* Canonical manifest.sig text (malloc'd), NULL on ENOMEM. */
char *lp_pkg_sig_serialize(const struct lp_pkg_sigset *set);

/* Payload member name rule ([A-Za-z0-9._-]{1,100}, no leading '.', not one of the
 * manifest member names): 0, -EBADMSG or -E2BIG. path may be NULL. */
int lp_pkg_name_check(const char *name, const char *path, struct lp_diag *diag);
/* "YYYY-MM-DDTHH:MM:SSZ" to seconds since the epoch; -EINVAL if not exactly that. */
int lp_pkg_created_parse(const char *s, int64_t *ret_time);

/* The first two members of a package as read by the native tar reader: manifest.json
 * as stored (NUL-terminated, not parsed) and manifest.sig parsed strictly, NOT verified. */
struct lp_pkg_head {
	char *json;
	size_t json_len;
	int64_t json_mtime;
	int64_t sig_mtime;
	struct lp_pkg_sigset sigs;
};

/* Reads manifest.json and manifest.sig (at most LP_PKG_MANIFEST_MAX / LP_PKG_SIG_MAX
 * bytes) and parses manifest.sig: 0, or -EBADMSG / -E2BIG / -ENOMEM / a read error with
 * a message; *ret_head is set only on success (package-reader.c; the reader, lp_pkg_peek
 * and lp_pkg_resign use it). */
int lp_pkg_head_read(struct lp_tar_in *r, struct lp_pkg_head *ret_head, struct lp_diag *diag);
/* Frees what a head holds (accepts NULL). */
void lp_pkg_head_clear(struct lp_pkg_head *h);

/* ---- delta payloads (package-delta.c) ---- */

/* Checks base against payload pl (algorithm, size, SHA-256 of its first base_size bytes):
 * 0 and *ret_base (base cut to base_size), or -EOPNOTSUPP / -EINVAL / -ESTALE / a read
 * error with a message. */
int lp_pkg_delta_base_check(const struct lp_payload_info *pl, const struct lp_delta_base *base,
			    struct lp_delta_base *ret_base, struct lp_diag *diag);
/* The writer's part: a delta source's manifest facts into info (after its stored bytes
 * were counted), and the checks of a source's delta fields. */
void lp_pkg_delta_fill(const struct lp_pkg_source *src, struct lp_payload_info *info);
int lp_pkg_delta_source_check(const struct lp_pkg_source *src, struct lp_diag *diag);

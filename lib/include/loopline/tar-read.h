/* SPDX-License-Identifier: MIT */
/*
 * A native, strict, streaming tar reader (lib/tar-read.c). It accepts exactly the
 * archives loopline/tar.h describes (POSIX ustar, pax extended headers for long names
 * and large sizes; regular files only, no traversal, no duplicates, clean end) and
 * needs nothing but libc: a program that only reads packages (the device agent) does
 * not load libarchive, and with it libxml2, ICU and libstdc++ (docs/design.md, "Tar").
 *
 * struct lp_tar_entry, the name rule and the LP_TAR_* limits are those of loopline/tar.h.
 * Errors are sticky: after one, every call returns it again. -EBADMSG for malformed or
 * forbidden content (also truncation), -E2BIG past LP_TAR_MAX_ENTRIES members, else the
 * source's error. The input buffer is LP_TAR_IN_BUFFER bytes, and data blocks handed out
 * are at most that large.
 *
 * Accepted pax keys: path, size, mtime (used); atime, ctime, uid, gid, uname, gname,
 * comment, charset, hdrcharset (checked for form, ignored). linkpath and GNU.sparse.*
 * are refused as the link / sparse file they describe, any other key as unsupported.
 * Refused with a message naming the flavour: GNU tar's own format (magic "ustar  "),
 * v7 tar, GNU long-name members, pax global headers, base-256 negative numbers.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "loopline/common.h"
#include "loopline/diag.h"
#include "loopline/tar.h"

#define LP_TAR_IN_BUFFER (64 * 1024) /* the reader's input buffer */
#define LP_TAR_IN_PAX_MAX 4096       /* bytes of one pax extended header's records */
#define LP_TAR_IN_HEADERS_MAX 6144   /* all header blocks of one member */

struct lp_tar_in;

LP_EXPORT int lp_tar_in_new(lp_tar_read_fn read, void *ctx, struct lp_tar_in **ret_reader);
/* Next member: 1 with *ret_entry, 0 at the clean end of the archive, or -errno. The rest
 * of the current member's data is read (and dropped) first, its padding checked. */
LP_EXPORT int lp_tar_in_next(struct lp_tar_in *r, struct lp_tar_entry *ret_entry,
			     struct lp_diag *diag);
/* The next block of the current member's data, without copying: 1 with *ret_data and
 * *ret_len (valid until the next call on the reader), 0 at its end, or -errno. */
LP_EXPORT int lp_tar_in_data(struct lp_tar_in *r, const void **ret_data, size_t *ret_len,
			     struct lp_diag *diag);
/* Copies up to len bytes of the current member's data; returns bytes (0 at its end). */
LP_EXPORT ssize_t lp_tar_in_read(struct lp_tar_in *r, void *buf, size_t len, struct lp_diag *diag);
/* Bytes of the stream consumed so far. */
LP_EXPORT uint64_t lp_tar_in_offset(const struct lp_tar_in *r);
LP_EXPORT void lp_tar_in_free(struct lp_tar_in *r);

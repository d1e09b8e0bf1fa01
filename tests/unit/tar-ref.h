/* SPDX-License-Identifier: MIT */
/*
 * The tests' reference tar reader, built on libarchive (tests/unit/tar-ref.c). Programs
 * read with the native reader of loopline/tar-read.h; this second, independent reader is
 * linked only into tests and fuzz targets, which cross-check the native reader and the
 * native writer against it (test-tar.c, test-tar-read.c, test-package.c, fuzz-tar-read.c).
 *
 * It accepts exactly what loopline/tar.h describes, with the return values and sticky
 * errors of lp_tar_in_*: next() gives 1 with an entry, 0 at a clean end (marker and
 * padding checked to the end of the stream) or -errno; data() hands out blocks of at
 * most TAR_REF_BUFFER bytes without copying; read() copies.
 */
#pragma once

#include <sys/types.h>
#include "loopline/tar.h"

#define TAR_REF_BUFFER (256 * 1024) /* the reader's input buffer */

struct tar_ref;

int tar_ref_new(lp_tar_read_fn read, void *ctx, struct tar_ref **ret_reader);
int tar_ref_next(struct tar_ref *r, struct lp_tar_entry *ret_entry, struct lp_diag *diag);
int tar_ref_data(struct tar_ref *r, const void **ret_data, size_t *ret_len, struct lp_diag *diag);
ssize_t tar_ref_read(struct tar_ref *r, void *buf, size_t len, struct lp_diag *diag);
uint64_t tar_ref_offset(const struct tar_ref *r);
void tar_ref_free(struct tar_ref *r);

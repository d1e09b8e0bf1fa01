/* SPDX-License-Identifier: MIT */
/*
 * A bounds-checked reader for binary data. Every read checks the remaining length; after
 * the first failed read the cursor is poisoned (all later reads fail too), so a parser can
 * read a whole header and check lp_cursor_failed() once.
 */
#pragma once

#include <stdbool.h>
#include "loopline/common.h"

struct lp_cursor {
	const uint8_t *data;
	size_t len;
	size_t off;
	bool failed;
};

LP_EXPORT void lp_cursor_init(struct lp_cursor *c, const void *data, size_t len);
LP_EXPORT size_t lp_cursor_remaining(const struct lp_cursor *c);
LP_EXPORT bool lp_cursor_failed(const struct lp_cursor *c);

/* Each returns 0, or -EBADMSG (and poisons the cursor) if fewer bytes remain. */
LP_EXPORT int lp_cursor_u8(struct lp_cursor *c, uint8_t *ret);
LP_EXPORT int lp_cursor_le16(struct lp_cursor *c, uint16_t *ret);
LP_EXPORT int lp_cursor_le32(struct lp_cursor *c, uint32_t *ret);
LP_EXPORT int lp_cursor_le64(struct lp_cursor *c, uint64_t *ret);
LP_EXPORT int lp_cursor_be16(struct lp_cursor *c, uint16_t *ret);
LP_EXPORT int lp_cursor_be32(struct lp_cursor *c, uint32_t *ret);
LP_EXPORT int lp_cursor_be64(struct lp_cursor *c, uint64_t *ret);
/* Copies n bytes out. */
LP_EXPORT int lp_cursor_copy(struct lp_cursor *c, void *out, size_t n);
/* Points *ret at the next n bytes without copying. */
LP_EXPORT int lp_cursor_bytes(struct lp_cursor *c, size_t n, const uint8_t **ret);
LP_EXPORT int lp_cursor_skip(struct lp_cursor *c, size_t n);
/* Reads up to and including the next NUL byte; *ret points at a NUL-terminated string
 * inside the buffer, *ret_len is its length without the NUL. -EBADMSG if no NUL. */
LP_EXPORT int lp_cursor_cstr(struct lp_cursor *c, const char **ret, size_t *ret_len);

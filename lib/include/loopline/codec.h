/* SPDX-License-Identifier: MIT */
/* Hex and base64 (RFC 4648, standard alphabet with padding). */
#pragma once

#include "loopline/common.h"

/* Lower-case hex of len bytes into out, which needs 2*len+1 bytes. Returns out. */
LP_EXPORT char *lp_hex_encode(const void *data, size_t len, char *out);
/* The value of one hex digit (either case), or -1. */
LP_EXPORT int lp_hex_digit(char c);
/* Decodes exactly 2*out_len hex digits (either case) from s (length s_len).
 * Returns 0, or -EINVAL on a wrong length or a non-hex character. */
LP_EXPORT int lp_hex_decode(const char *s, size_t s_len, uint8_t *out, size_t out_len);

/* Bytes needed for the base64 of len bytes, including the terminating NUL. */
LP_EXPORT size_t lp_base64_encoded_size(size_t len);
/* Encodes into out (size out_size >= lp_base64_encoded_size(len)); returns the length
 * written (without the NUL), or -ENOBUFS. */
LP_EXPORT long lp_base64_encode(const void *data, size_t len, char *out, size_t out_size);
/* Strict decode: padding required, no whitespace, canonical trailing bits. Returns the
 * number of bytes written, -EINVAL on bad input, -ENOBUFS if out is too small. */
LP_EXPORT long lp_base64_decode(const char *s, size_t s_len, uint8_t *out, size_t out_size);

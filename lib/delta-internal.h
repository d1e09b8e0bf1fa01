/* SPDX-License-Identifier: MIT */
/*
 * The lpdiff1 patch format, shared by delta-create.c and delta-apply.c (not exported).
 *
 *   offset  size  field
 *   0       8     magic "LPDIFF1\0"
 *   8       8     old_size, little-endian: the base the patch was made for
 *   16      8     new_size, little-endian: the bytes the patch produces
 *   24      1     window_log of the zstd frame (10 … LP_DELTA_WINDOW_LOG_MAX)
 *   25      7     zero
 *   32      …     one zstd frame (content checksum on), then nothing
 *
 * The frame holds records, each four LEB128 varints and then bytes:
 *   copy   bytes taken unchanged from the base at the base position
 *   add    bytes of base plus the add bytes that follow (mod 256), then
 *   extra  bytes that follow, taken as they are
 *   seek   zig-zag signed: moves the base position after the record
 * followed by `add` difference bytes and `extra` new bytes. The base position starts at
 * 0 and advances by copy + add; it must stay inside the base for every byte read.
 */
#pragma once

#include <stdint.h>
#include <string.h>

#define LPDIFF_MAGIC "LPDIFF1"  /* 8 bytes with its NUL */
#define LPDIFF_VARINT_MAX 10    /* bytes of one LEB128 u64 */
#define LPDIFF_RECORD_HEAD_MAX (4 * LPDIFF_VARINT_MAX)
#define LPDIFF_WINDOW_LOG_MIN 10

static inline void lpdiff_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t lpdiff_get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Appends v as LEB128 to p, returns the bytes written (at most LPDIFF_VARINT_MAX). */
static inline size_t lpdiff_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline uint64_t lpdiff_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t lpdiff_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* SPDX-License-Identifier: MIT */
/* What the tar writer (tar.c) and the native reader (tar-read.c) share (not exported). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "loopline/tar.h"

/* The POSIX.1-1988 ustar header block: its fields in order, with their sizes. Both sides
 * walk the block field by field (the reader through a bounds-checked cursor), never by
 * offsets written out a second time. */
#define USTAR_NAME 100
#define USTAR_MODE 8
#define USTAR_UID 8
#define USTAR_GID 8
#define USTAR_SIZE 12
#define USTAR_MTIME 12
#define USTAR_CHKSUM 8
#define USTAR_TYPEFLAG 1
#define USTAR_LINKNAME 100
#define USTAR_MAGIC 8 /* "ustar\0" and the version "00" */
#define USTAR_UNAME 32
#define USTAR_GNAME 32
#define USTAR_DEVMAJOR 8
#define USTAR_DEVMINOR 8
#define USTAR_PREFIX 155
#define USTAR_PAD 12
/* Where the checksum field sits: the sum counts it as spaces. */
#define USTAR_CHKSUM_OFFSET (USTAR_NAME + USTAR_MODE + USTAR_UID + USTAR_GID + USTAR_SIZE + USTAR_MTIME)
#define USTAR_MTIME_MAX 077777777777LL /* 11 octal digits: up to the year 2242 */

static inline uint64_t tar_round_block(uint64_t n)
{
	return (n + LP_TAR_BLOCK - 1) / LP_TAR_BLOCK * LP_TAR_BLOCK;
}

/* The member names seen so far in one archive, for duplicate detection (tar-name.c). */
struct tar_names {
	char **names;
	size_t n;
};

/* Adds name: 0, -EEXIST if it was there already, -E2BIG past LP_TAR_MAX_ENTRIES names,
 * -ENOMEM. */
int tar_names_add(struct tar_names *s, const char *name);
void tar_names_clear(struct tar_names *s);

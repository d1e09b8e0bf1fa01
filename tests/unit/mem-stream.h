/* SPDX-License-Identifier: MIT */
/*
 * In-memory byte streams for the unit tests (test-package.c and, through tar-cases.h,
 * test-tar.c and test-tar-read.c): a growing output buffer with the shape of
 * lp_tar_write_fn, and a source with the shape of lp_tar_read_fn / lp_pkg_read_fn that
 * can hand out its bytes in small pieces. Include after <cmocka.h>.
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct mem {
	uint8_t *data;
	size_t len;
	size_t cap; /* capture limit for mem_write (0 = unlimited) */
};

/* Appends to a struct mem (NUL-terminated one byte past len). */
static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->cap && m->len + len > m->cap)
		len = m->cap > m->len ? m->cap - m->len : 0; /* keep only the start */
	m->data = realloc(m->data, m->len + len + 1);
	assert_non_null(m->data);
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

struct mem_reader {
	const uint8_t *data;
	size_t len, off;
	size_t chunk; /* at most this many bytes per read (0 = no limit) */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_reader *m = ctx;
	size_t n = m->len - m->off;

	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

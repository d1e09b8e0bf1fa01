/* SPDX-License-Identifier: MIT */
/* Bounds-checked reading of binary data; the first failed read poisons the cursor. */
#include <errno.h>
#include <string.h>

#include "loopline/cursor.h"

void lp_cursor_init(struct lp_cursor *c, const void *data, size_t len)
{
	c->data = data;
	c->len = data ? len : 0;
	c->off = 0;
	c->failed = false;
}

size_t lp_cursor_remaining(const struct lp_cursor *c)
{
	return c->failed ? 0 : c->len - c->off;
}

bool lp_cursor_failed(const struct lp_cursor *c)
{
	return c->failed;
}

/* Claims n bytes: points *ret at their start, or fails (poisoning the cursor) if fewer
 * remain. With no data at all, *ret is an empty static buffer, never NULL + 0. */
static bool cursor_take(struct lp_cursor *c, size_t n, const uint8_t **ret)
{
	static const uint8_t none[1];

	if (c->failed || n > c->len - c->off) {
		c->failed = true;
		return false;
	}
	*ret = c->data ? c->data + c->off : none;
	c->off += n;
	return true;
}

int lp_cursor_u8(struct lp_cursor *c, uint8_t *ret)
{
	const uint8_t *p;

	if (!cursor_take(c, 1, &p))
		return -EBADMSG;
	*ret = p[0];
	return 0;
}

int lp_cursor_le16(struct lp_cursor *c, uint16_t *ret)
{
	const uint8_t *p;

	if (!cursor_take(c, 2, &p))
		return -EBADMSG;
	*ret = (uint16_t)(p[0] | p[1] << 8);
	return 0;
}

int lp_cursor_le32(struct lp_cursor *c, uint32_t *ret)
{
	const uint8_t *p;

	if (!cursor_take(c, 4, &p))
		return -EBADMSG;
	*ret = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return 0;
}

int lp_cursor_le64(struct lp_cursor *c, uint64_t *ret)
{
	const uint8_t *p;
	uint64_t v = 0;

	if (!cursor_take(c, 8, &p))
		return -EBADMSG;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	*ret = v;
	return 0;
}

int lp_cursor_be16(struct lp_cursor *c, uint16_t *ret)
{
	const uint8_t *p;

	if (!cursor_take(c, 2, &p))
		return -EBADMSG;
	*ret = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

int lp_cursor_be32(struct lp_cursor *c, uint32_t *ret)
{
	const uint8_t *p;

	if (!cursor_take(c, 4, &p))
		return -EBADMSG;
	*ret = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return 0;
}

int lp_cursor_be64(struct lp_cursor *c, uint64_t *ret)
{
	const uint8_t *p;
	uint64_t v = 0;

	if (!cursor_take(c, 8, &p))
		return -EBADMSG;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	*ret = v;
	return 0;
}

int lp_cursor_copy(struct lp_cursor *c, void *out, size_t n)
{
	const uint8_t *p;

	if (!cursor_take(c, n, &p))
		return -EBADMSG;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int lp_cursor_bytes(struct lp_cursor *c, size_t n, const uint8_t **ret)
{
	const uint8_t *p;

	if (!cursor_take(c, n, &p))
		return -EBADMSG;
	*ret = p;
	return 0;
}

int lp_cursor_skip(struct lp_cursor *c, size_t n)
{
	const uint8_t *p;

	return cursor_take(c, n, &p) ? 0 : -EBADMSG;
}

int lp_cursor_cstr(struct lp_cursor *c, const char **ret, size_t *ret_len)
{
	const uint8_t *start, *nul;
	size_t n;

	if (c->failed || c->off >= c->len) {
		c->failed = true;
		return -EBADMSG;
	}
	start = c->data + c->off;
	nul = memchr(start, 0, c->len - c->off);
	if (!nul) {
		c->failed = true;
		return -EBADMSG;
	}
	n = (size_t)(nul - start);
	c->off += n + 1;
	*ret = (const char *)start;
	*ret_len = n;
	return 0;
}

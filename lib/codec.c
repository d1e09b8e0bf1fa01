/* SPDX-License-Identifier: MIT */
/* Hex and base64 (RFC 4648 section 4: standard alphabet, padding required). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "loopline/codec.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *lp_hex_encode(const void *data, size_t len, char *out)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[p[i] >> 4];
		out[2 * i + 1] = hex_digits[p[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return out;
}

int lp_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int lp_hex_decode(const char *s, size_t s_len, uint8_t *out, size_t out_len)
{
	if (out_len > SIZE_MAX / 2 || s_len != 2 * out_len)
		return -EINVAL;
	/* Validate everything first so out is untouched on failure. */
	for (size_t i = 0; i < s_len; i++)
		if (lp_hex_digit(s[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < out_len; i++)
		out[i] = (uint8_t)((lp_hex_digit(s[2 * i]) << 4) | lp_hex_digit(s[2 * i + 1]));
	return 0;
}

size_t lp_base64_encoded_size(size_t len)
{
	size_t groups = len / 3 + (len % 3 ? 1 : 0);

	if (groups > (SIZE_MAX - 1) / 4)
		return SIZE_MAX;
	return groups * 4 + 1;
}

long lp_base64_encode(const void *data, size_t len, char *out, size_t out_size)
{
	const uint8_t *p = data;
	size_t need = lp_base64_encoded_size(len);
	size_t o = 0, i = 0;

	if (need == SIZE_MAX || need - 1 > (size_t)LONG_MAX || out_size < need)
		return -ENOBUFS;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long lp_base64_decode(const char *s, size_t s_len, uint8_t *out, size_t out_size)
{
	size_t pad = 0, need, o = 0;

	if (s_len % 4 != 0)
		return -EINVAL;
	if (s_len == 0)
		return 0;
	if (s[s_len - 1] == '=')
		pad = s[s_len - 2] == '=' ? 2 : 1;
	need = s_len / 4 * 3 - pad;
	if (need > (size_t)LONG_MAX)
		return -EINVAL;

	/* Validate the whole input first: bad input is -EINVAL whatever out's size. */
	for (size_t i = 0; i < s_len - pad; i++)
		if (b64_value(s[i]) < 0)
			return -EINVAL;
	/* Canonical form: the bits dropped by the padding must be zero. */
	if (pad == 1 && (b64_value(s[s_len - 2]) & 0x03))
		return -EINVAL;
	if (pad == 2 && (b64_value(s[s_len - 3]) & 0x0f))
		return -EINVAL;
	if (out_size < need)
		return -ENOBUFS;

	for (size_t i = 0; i < s_len; i += 4) {
		uint32_t v = 0;
		size_t chars = (i + 4 == s_len) ? 4 - pad : 4;

		for (size_t k = 0; k < 4; k++)
			v = v << 6 | (k < chars ? (uint32_t)b64_value(s[i + k]) : 0);
		out[o++] = (uint8_t)(v >> 16);
		if (chars > 2)
			out[o++] = (uint8_t)(v >> 8);
		if (chars > 3)
			out[o++] = (uint8_t)v;
	}
	return (long)o;
}

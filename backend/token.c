/* SPDX-License-Identifier: MIT */
/* Secrets (device, gateway and API tokens), their hashes, and name validation. */
#include <errno.h>
#include <string.h>
#include <openssl/rand.h>

#include "loopline/codec.h"
#include "loopline/hash.h"
#include "backend.h"

int be_token_random(char out[BE_TOKEN_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char raw[BE_TOKEN_LEN * 2];
	size_t n = 0;

	/* Rejection sampling keeps the characters uniform (62 does not divide 256). */
	while (n < BE_TOKEN_LEN) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return -EIO;
		for (size_t i = 0; i < sizeof(raw) && n < BE_TOKEN_LEN; i++)
			if (raw[i] < 248)
				out[n++] = alphabet[raw[i] % 62];
	}
	out[n] = '\0';
	return 0;
}

int be_token_hash(const char *secret, size_t len, char out[BE_HASH_HEX])
{
	uint8_t d[LP_HASH_MAX_LEN];
	int r = lp_hash_buffer(LP_HASH_SHA256, secret, len, d);

	if (r < 0)
		return r;
	lp_hex_encode(d, LP_SHA256_LEN, out);
	return 0;
}

static bool charset_ok(const char *s, size_t max, const char *extra)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= max)
			return false;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr(extra, c))
			return false;
	}
	return true;
}

bool be_name_valid(const char *s)
{
	return charset_ok(s, BE_NAME_MAX - 1, "_-");
}

bool be_controller_id_valid(const char *s)
{
	return charset_ok(s, BE_ID_MAX - 1, "._:-") && s[0] != '.';
}

bool be_filename_valid(const char *s)
{
	return charset_ok(s, 200, "._+-") && s[0] != '.';
}

static const char *const role_names[] = { "viewer", "ci", "operator", "admin" };

int be_role_parse(const char *s, enum be_role *ret)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(role_names); i++) {
		if (s && strcmp(s, role_names[i]) == 0) {
			*ret = (enum be_role)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *be_role_name(enum be_role r)
{
	return (unsigned)r < LP_ARRAY_SIZE(role_names) ? role_names[r] : "?";
}

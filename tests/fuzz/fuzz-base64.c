/* SPDX-License-Identifier: MIT */
/*
 * Strict base64 (and hex). Anything the decoder accepts must re-encode to exactly the
 * same text (it accepts only canonical input); any bytes must encode and decode back.
 */
#include <stdlib.h>
#include <string.h>

#include "loopline/codec.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define MAX_IN 4096

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static uint8_t dec[MAX_IN];
	static char enc[MAX_IN * 2 + 8];
	long n, m;

	if (size > MAX_IN)
		size = MAX_IN;

	/* decode as text, then re-encode */
	n = lp_base64_decode((const char *)data, size, dec, sizeof(dec));
	if (n >= 0) {
		m = lp_base64_encode(dec, (size_t)n, enc, sizeof(enc));
		if (m != (long)size || memcmp(enc, data, size) != 0)
			abort();
		/* a buffer one byte short is refused */
		if (n > 0 && lp_base64_decode((const char *)data, size, dec, (size_t)n - 1) >= 0)
			abort();
	}

	/* encode as bytes, then decode */
	m = lp_base64_encode(data, size, enc, sizeof(enc));
	if (m < 0 || (size_t)m + 1 != lp_base64_encoded_size(size))
		abort();
	n = lp_base64_decode(enc, (size_t)m, dec, sizeof(dec));
	if (n != (long)size || memcmp(dec, data, size) != 0)
		abort();

	/* hex both ways */
	if (size <= MAX_IN / 2) {
		lp_hex_encode(data, size, enc);
		if (lp_hex_decode(enc, 2 * size, dec, size) != 0 || memcmp(dec, data, size) != 0)
			abort();
		if ((size & 1) == 0 && lp_hex_decode((const char *)data, size, dec, size / 2) == 0) {
			lp_hex_encode(dec, size / 2, enc);
			for (size_t i = 0; i < size; i++) {
				char c = (char)data[i];

				if (c >= 'A' && c <= 'F')
					c = (char)(c - 'A' + 'a');
				if (enc[i] != c)
					abort();
			}
		}
	}
	return 0;
}

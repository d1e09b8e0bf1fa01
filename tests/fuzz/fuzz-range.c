/* SPDX-License-Identifier: MIT */
/*
 * Range and Content-Range headers (backend/range.c). The first 8 bytes choose the
 * resource length; the rest is the header. Every returned range must lie inside it.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_range r[BE_RANGE_MAX];
	uint64_t len = 0, a, b, t;
	char *hdr;
	int n;

	if (size < 8)
		return 0;
	memcpy(&len, data, 8);
	len %= 1ull << 40;
	hdr = malloc(size - 8 + 1);
	if (!hdr)
		return 0;
	memcpy(hdr, data + 8, size - 8);
	hdr[size - 8] = '\0';
	n = be_range_parse(hdr, len, r, BE_RANGE_MAX);
	for (int i = 0; i < n; i++)
		if (r[i].first > r[i].last || r[i].last >= len)
			abort();
	if (be_content_range_parse(hdr, &a, &b, &t) == 0 && (a > b || b >= t))
		abort();
	free(hdr);
	return 0;
}

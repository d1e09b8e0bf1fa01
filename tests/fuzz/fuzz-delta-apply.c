/* SPDX-License-Identifier: MIT */
/*
 * The lpdiff1 apply path (loopline/delta.h): input is a patch, applied to a fixed 64 KiB
 * base in pieces whose sizes come from the input's first byte. The header's old_size is
 * set to the base's size so the fuzzer reaches the records. Malformed patches must fail
 * with a message; nothing may read outside the base, and output beyond what the patch
 * declares must never reach the sink (which also caps the total at 16 MiB, as a slot
 * would be capped by the manifest's size).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/delta.h"

#define BASE_SIZE 65536
#define OUT_CAP (16u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static uint8_t base[BASE_SIZE];

struct sink {
	uint64_t n;
	uint64_t declared;
};

static int base_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	(void)ctx;
	if (off > BASE_SIZE || len > BASE_SIZE - off)
		abort(); /* the applier read outside the base it was given */
	memcpy(buf, base + off, len);
	return 0;
}

static int sink_out(void *ctx, const void *d, size_t len)
{
	struct sink *s = ctx;

	(void)d;
	s->n += len;
	if (s->n > OUT_CAP)
		return -EFBIG;
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct lp_delta_base b = { .pread = base_pread, .size = BASE_SIZE };
	struct lp_delta_apply *a = NULL;
	struct sink s = { 0 };
	struct lp_diag diag;
	uint8_t *patch;
	size_t piece, off = 0;
	int rc = 0;

	if (size < 1)
		return 0;
	for (size_t i = 0; i < BASE_SIZE / 2; i++)
		base[i] = (uint8_t)((i * 2654435761u) >> 13);
	piece = (size_t)data[0] * 97 + 1;
	data++;
	size--;
	patch = malloc(size ? size : 1);
	if (!patch)
		return 0;
	memcpy(patch, data, size);
	if (size >= LP_DELTA_HEADER_SIZE)
		for (int i = 0; i < 8; i++)
			patch[8 + i] = (uint8_t)((uint64_t)BASE_SIZE >> (8 * i));
	lp_diag_clear(&diag);
	if (lp_delta_apply_new(&b, sink_out, &s, &a) < 0)
		abort();
	while (rc == 0 && off < size) {
		size_t n = size - off < piece ? size - off : piece;

		rc = lp_delta_apply_write(a, patch + off, n, &diag);
		off += n;
	}
	if (rc == 0)
		rc = lp_delta_apply_finish(a, &diag);
	if (rc < 0 && !diag.msg[0] && rc != -EFBIG)
		abort(); /* every failure says why */
	if (rc == 0 && s.n != lp_delta_apply_new_size(a))
		abort(); /* success means exactly the declared bytes */
	if (s.n > lp_delta_apply_new_size(a) && rc != -EFBIG)
		abort();
	lp_delta_apply_free(a);
	free(patch);
	return 0;
}

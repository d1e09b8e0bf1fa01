/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the tar reader over arbitrary bytes, reading every member's data
 * both block-wise and by copying. */
#include <stdlib.h>
#include <string.h>

#include "loopline/tar.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct src {
	const unsigned char *data;
	size_t len, off;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->off;

	/* Odd-sized reads exercise the buffer refill paths. */
	if (n > len)
		n = len;
	if (n > 7777)
		n = 7777;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct src s = { .data = data, .len = size };
	struct lp_tar_reader *r;
	struct lp_tar_entry e;
	struct lp_diag d = { 0 };
	unsigned members = 0;
	int rc;

	if (lp_tar_reader_new(src_read, &s, &r) < 0)
		return 0;
	while ((rc = lp_tar_reader_next(r, &e, &d)) == 1) {
		const void *block;
		size_t len;
		uint64_t total = 0;

		if (strlen(e.name) == 0 || e.name[0] == '/')
			abort(); /* the layer promised to reject these */
		if (members++ % 2) {
			while ((rc = lp_tar_reader_data(r, &block, &len, &d)) == 1)
				total += len;
		} else {
			unsigned char buf[1000];
			ssize_t n;

			while ((n = lp_tar_reader_read(r, buf, sizeof(buf), &d)) > 0)
				total += (uint64_t)n;
			rc = (int)n;
		}
		if (rc == 0 && total != e.size)
			abort();
		if (rc < 0)
			break;
	}
	lp_tar_reader_free(r);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the native tar reader (loopline/tar-read.h) over arbitrary bytes,
 * reading member data both block-wise and by copying, with odd-sized short reads. When
 * the native reader accepts an archive that the tests' libarchive-based reference reader
 * (tests/unit/tar-ref.h) also accepts, both must agree on every member's name, size and
 * data. */
#include <stdlib.h>
#include <string.h>

#include "loopline/tar-read.h"
#include "loopline/tar.h"
#include "tar-ref.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct src {
	const unsigned char *data;
	size_t len, off, chunk;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->off;

	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

#define MAX_SEEN 64

struct seen {
	char name[LP_TAR_NAME_MAX + 1];
	uint64_t size;
	uint32_t sum;
};

static uint32_t sum_update(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct seen native[MAX_SEEN];
	struct src s = { .data = data, .len = size, .chunk = 7777 };
	struct lp_tar_in *r;
	struct tar_ref *la;
	struct lp_tar_entry e;
	struct lp_diag d = { 0 };
	size_t members = 0, n_la = 0;
	int rc;

	if (lp_tar_in_new(src_read, &s, &r) < 0)
		return 0;
	while ((rc = lp_tar_in_next(r, &e, &d)) == 1) {
		const void *block;
		size_t len;
		uint64_t total = 0;
		uint32_t h = 2166136261u;

		if (lp_tar_name_check(e.name, NULL) != 0)
			abort(); /* the reader promised to refuse these */
		if (e.data_offset % LP_TAR_BLOCK || e.data_offset != lp_tar_in_offset(r))
			abort();
		if (members % 2) {
			while ((rc = lp_tar_in_data(r, &block, &len, &d)) == 1) {
				if (len == 0 || len > LP_TAR_IN_BUFFER)
					abort();
				h = sum_update(h, block, len);
				total += len;
			}
		} else {
			unsigned char buf[1000];
			ssize_t n;

			while ((n = lp_tar_in_read(r, buf, sizeof(buf), &d)) > 0) {
				h = sum_update(h, buf, (size_t)n);
				total += (uint64_t)n;
			}
			rc = (int)n;
		}
		if (rc == 0 && total != e.size)
			abort();
		if (rc < 0)
			break;
		if (members < MAX_SEEN) {
			memcpy(native[members].name, e.name, sizeof(e.name));
			native[members].size = e.size;
			native[members].sum = h;
		}
		members++;
	}
	if (rc == 0 && lp_tar_in_offset(r) != size)
		abort(); /* a clean end consumed the whole stream */
	if (rc < 0 && d.msg[0] == '\0')
		abort(); /* every refusal says why */
	lp_tar_in_free(r);
	if (rc != 0 || members > MAX_SEEN)
		return 0;

	/* Differential: the reference reader, where it accepts too. */
	s.off = 0;
	s.chunk = 4096;
	if (tar_ref_new(src_read, &s, &la) < 0)
		return 0;
	while ((rc = tar_ref_next(la, &e, &d)) == 1) {
		const void *block;
		size_t len;
		uint32_t h = 2166136261u;

		while ((rc = tar_ref_data(la, &block, &len, &d)) == 1)
			h = sum_update(h, block, len);
		if (rc < 0)
			break;
		if (n_la >= members || strcmp(native[n_la].name, e.name) != 0 ||
		    native[n_la].size != e.size || native[n_la].sum != h)
			abort();
		n_la++;
	}
	if (rc == 0 && n_la != members)
		abort();
	tar_ref_free(la);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the tar layer round trip. The native reader (loopline/tar-read.h)
 * reads arbitrary bytes, member data both block-wise and by copying; whatever it accepts,
 * the writer (loopline/tar.h) must write again -- every member ordinarily or, where the
 * name allows, through a deferred header -- and the reader must read back the same names,
 * sizes, mtimes and bytes. So the writer is exercised with every name, size and mtime
 * shape the reader lets through (pax paths, prefix splits, negative and huge mtimes).
 */
#include <stdlib.h>
#include <string.h>

#include "loopline/tar-read.h"
#include "loopline/tar.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define MAX_MEMBERS 64

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

struct out {
	unsigned char *data;
	size_t len;
};

static int out_write(void *ctx, const void *buf, size_t len)
{
	struct out *o = ctx;
	unsigned char *p = realloc(o->data, o->len + len + 1);

	if (!p)
		abort();
	memcpy(p + o->len, buf, len);
	o->data = p;
	o->len += len;
	return 0;
}

/* Reads an archive; fills entries (up to MAX_MEMBERS) and returns the last rc. */
static int read_archive(const unsigned char *data, size_t size, struct lp_tar_entry *entries,
			size_t *ret_n)
{
	struct src s = { .data = data, .len = size };
	struct lp_tar_in *r;
	struct lp_tar_entry e;
	struct lp_diag d = { 0 };
	size_t n = 0;
	int rc;

	if (lp_tar_in_new(src_read, &s, &r) < 0)
		return -1;
	while ((rc = lp_tar_in_next(r, &e, &d)) == 1) {
		uint64_t total = 0;

		if (lp_tar_name_check(e.name, NULL) != 0)
			abort(); /* the reader promised to refuse these */
		if (n % 2) {
			const void *block;
			size_t len;

			while ((rc = lp_tar_in_data(r, &block, &len, &d)) == 1)
				total += len;
		} else {
			unsigned char buf[1000];
			ssize_t got;

			while ((got = lp_tar_in_read(r, buf, sizeof(buf), &d)) > 0)
				total += (uint64_t)got;
			rc = (int)got;
		}
		if (rc < 0)
			break;
		if (total != e.size)
			abort();
		if (n < MAX_MEMBERS)
			entries[n] = e;
		n++;
	}
	if (rc < 0 && d.msg[0] == '\0')
		abort(); /* every refusal says why */
	lp_tar_in_free(r);
	*ret_n = n;
	return rc;
}

/* Writes the members again (data taken from where the reader found it). */
static void rewrite(const unsigned char *data, const struct lp_tar_entry *entries, size_t n,
		    struct out *o)
{
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };

	if (lp_tar_writer_new(out_write, o, &w) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct lp_tar_entry *e = &entries[i];
		const unsigned char *p = data + e->data_offset;
		bool deferred = strlen(e->name) <= 100 && e->mtime >= 0 &&
				e->mtime <= 077777777777LL && (e->size + i) % 3 == 0;

		if (deferred) {
			unsigned char hdr[LP_TAR_BLOCK];
			uint64_t off;

			if (lp_tar_writer_begin_deferred(w, e->name, e->mtime, &d) < 0 ||
			    lp_tar_writer_write(w, p, e->size, &d) < 0 ||
			    lp_tar_writer_end_deferred(w, hdr, &off, &d) < 0)
				abort();
			memcpy(o->data + off, hdr, sizeof(hdr));
		} else if (lp_tar_writer_add(w, e->name, e->size, e->mtime, &d) < 0 ||
			   lp_tar_writer_write(w, p, e->size / 2, &d) < 0 ||
			   lp_tar_writer_write(w, p + e->size / 2, e->size - e->size / 2, &d) < 0) {
			abort();
		}
	}
	if (lp_tar_writer_finish(w, &d) < 0 || lp_tar_writer_offset(w) != o->len)
		abort();
	lp_tar_writer_free(w);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct lp_tar_entry first[MAX_MEMBERS], again[MAX_MEMBERS];
	struct out o = { 0 };
	size_t n, n2;

	if (read_archive(data, size, first, &n) != 0 || n > MAX_MEMBERS)
		return 0;
	rewrite(data, first, n, &o);
	if (read_archive(o.data, o.len, again, &n2) != 0 || n2 != n)
		abort(); /* the reader refuses what the writer wrote */
	for (size_t i = 0; i < n; i++)
		if (strcmp(first[i].name, again[i].name) != 0 || first[i].size != again[i].size ||
		    first[i].mtime != again[i].mtime ||
		    memcmp(data + first[i].data_offset, o.data + again[i].data_offset,
			   first[i].size) != 0)
			abort();
	free(o.data);
	return 0;
}

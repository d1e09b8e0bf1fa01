/* SPDX-License-Identifier: MIT */
/*
 * The tar writer (loopline/tar.h): ustar headers encoded here, with a pax extended
 * header only where ustar cannot describe a member (a name that fits neither the name
 * field nor a prefix/name split, a size above 8 GiB - 1, an mtime outside 1970…2242),
 * and every byte sent straight to the caller's callback (no blocking, no buffering).
 *
 * The ustar fields are spelled as GNU tar and libarchive spell them (mode "000644 \0",
 * size "%011o ", checksum "%06o\0 ", …), so a package of ordinary members is byte for
 * byte what the libarchive-based writer this replaces produced (test-tar.c compares).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tar-internal.h"

#define PAX_RECORDS_MAX 1024 /* path (<= 255 bytes), size and mtime records */

struct lp_tar_writer {
	lp_tar_write_fn write;
	void *ctx;
	uint64_t offset;
	int err;       /* sticky */
	bool finished;
	bool in_entry;
	bool deferred;
	char name[LP_TAR_NAME_MAX + 1];
	uint64_t size;
	uint64_t written;
	int64_t mtime;
	uint64_t header_offset;
	struct tar_names names;
};

/* ---- encoding a header block ---- */

/* Fills a header block field by field, in the order of the format. */
struct block_put {
	uint8_t *b;
	size_t off;
};

static void put_bytes(struct block_put *p, size_t field, const void *data, size_t len)
{
	memcpy(p->b + p->off, data, len < field ? len : field);
	p->off += field;
}

/* digits octal digits, then term (e.g. " \0" or " ") filling the rest of the field. */
static void put_octal(struct block_put *p, size_t field, uint64_t v, const char *term,
		      size_t term_len)
{
	size_t digits = field - term_len;

	for (size_t i = digits; i-- > 0; v >>= 3)
		p->b[p->off + i] = (uint8_t)('0' + (v & 7));
	memcpy(p->b + p->off + digits, term, term_len);
	p->off += field;
}

/* A size: 11 octal digits and a space, or base-256 (0x80, then big-endian) beyond. */
static void put_size(struct block_put *p, uint64_t v)
{
	if (v <= LP_TAR_USTAR_SIZE_MAX) {
		put_octal(p, USTAR_SIZE, v, " ", 1);
		return;
	}
	p->b[p->off] = 0x80;
	for (size_t i = USTAR_SIZE; i-- > 1; v >>= 8)
		p->b[p->off + i] = (uint8_t)(v & 0xff);
	p->off += USTAR_SIZE;
}

struct ustar_fields {
	const char *name, *prefix;
	size_t name_len, prefix_len;
	uint64_t size;
	int64_t mtime; /* clamped into the field's range */
	char type;
};

static void ustar_encode(const struct ustar_fields *f, uint8_t h[LP_TAR_BLOCK])
{
	struct block_put p = { .b = h };
	int64_t mtime = f->mtime < 0 ? 0 : f->mtime > USTAR_MTIME_MAX ? USTAR_MTIME_MAX : f->mtime;
	uint32_t sum = 0;

	memset(h, 0, LP_TAR_BLOCK);
	put_bytes(&p, USTAR_NAME, f->name, f->name_len);
	put_octal(&p, USTAR_MODE, 0644, " ", 2);
	put_octal(&p, USTAR_UID, 0, " ", 2);
	put_octal(&p, USTAR_GID, 0, " ", 2);
	put_size(&p, f->size);
	put_octal(&p, USTAR_MTIME, (uint64_t)mtime, " ", 1);
	put_bytes(&p, USTAR_CHKSUM, "        ", USTAR_CHKSUM); /* counted as spaces */
	put_bytes(&p, USTAR_TYPEFLAG, &f->type, 1);
	put_bytes(&p, USTAR_LINKNAME, "", 0);
	put_bytes(&p, USTAR_MAGIC, "ustar\0" "00", 8);
	put_bytes(&p, USTAR_UNAME, "", 0);
	put_bytes(&p, USTAR_GNAME, "", 0);
	put_octal(&p, USTAR_DEVMAJOR, 0, " ", 2);
	put_octal(&p, USTAR_DEVMINOR, 0, " ", 2);
	put_bytes(&p, USTAR_PREFIX, f->prefix, f->prefix_len);
	put_bytes(&p, USTAR_PAD, "", 0);
	for (size_t i = 0; i < LP_TAR_BLOCK; i++)
		sum += h[i];
	p.off = USTAR_CHKSUM_OFFSET;
	put_octal(&p, USTAR_CHKSUM, sum, "\0 ", 2);
}

/* Where ustar can hold name: in the name field, or split at a '/' into a prefix of at
 * most 155 bytes and a name of at most 100 (the split GNU tar and libarchive choose). */
static bool ustar_name_split(const char *name, struct ustar_fields *f)
{
	size_t len = strlen(name);
	const char *slash;

	if (len <= USTAR_NAME) {
		f->name = name;
		f->name_len = len;
		f->prefix = "";
		f->prefix_len = 0;
		return true;
	}
	slash = strchr(name + len - USTAR_NAME - 1, '/');
	if (slash == name)
		slash = strchr(slash + 1, '/');
	if (!slash || slash[1] == '\0' || (size_t)(slash - name) > USTAR_PREFIX)
		return false;
	f->prefix = name;
	f->prefix_len = (size_t)(slash - name);
	f->name = slash + 1;
	f->name_len = len - f->prefix_len - 1;
	return true;
}

/* Appends one pax record "<len> <key>=<value>\n", len counting the whole record. */
static int pax_add(char *buf, size_t cap, size_t *len, const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=' and '\n' */
	size_t total = body + 1;
	int w;

	/* the length counts its own digits */
	while (body + (size_t)snprintf(NULL, 0, "%zu", total) != total)
		total = body + (size_t)snprintf(NULL, 0, "%zu", total);
	if (total >= cap - *len)
		return -E2BIG;
	w = snprintf(buf + *len, cap - *len, "%zu %s=%s\n", total, key, value);
	if (w < 0 || (size_t)w != total)
		return -E2BIG;
	*len += total;
	return 0;
}

/* The header blocks of one member (a pax extended header and its records where ustar
 * cannot describe the member, then the ustar header) into out; *ret_len bytes. */
static int encode_headers(const char *name, uint64_t size, int64_t mtime,
			  uint8_t out[3 * LP_TAR_BLOCK + PAX_RECORDS_MAX], size_t *ret_len)
{
	struct ustar_fields f = { .size = size, .mtime = mtime, .type = '0' };
	struct ustar_fields x = { .mtime = mtime, .type = 'x', .prefix = "" };
	char pax[PAX_RECORDS_MAX], num[32], paxname[USTAR_NAME + 1];
	const char *base = strrchr(name, '/');
	size_t pax_len = 0;
	int rc = 0;

	if (!ustar_name_split(name, &f)) {
		rc = pax_add(pax, sizeof(pax), &pax_len, "path", name);
		f.name = name; /* what a reader without pax sees: the start of the name */
		f.name_len = USTAR_NAME;
		f.prefix = "";
		f.prefix_len = 0;
	}
	if (rc == 0 && size > LP_TAR_USTAR_SIZE_MAX) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		rc = pax_add(pax, sizeof(pax), &pax_len, "size", num);
	}
	if (rc == 0 && (mtime < 0 || mtime > USTAR_MTIME_MAX)) {
		snprintf(num, sizeof(num), "%lld", (long long)mtime);
		rc = pax_add(pax, sizeof(pax), &pax_len, "mtime", num);
	}
	if (rc < 0)
		return rc;
	*ret_len = 0;
	if (pax_len > 0) {
		snprintf(paxname, sizeof(paxname), "PaxHeader/%.90s", base ? base + 1 : name);
		x.name = paxname;
		x.name_len = strlen(paxname);
		x.size = pax_len;
		ustar_encode(&x, out);
		memset(out + LP_TAR_BLOCK, 0, tar_round_block(pax_len));
		memcpy(out + LP_TAR_BLOCK, pax, pax_len);
		*ret_len = LP_TAR_BLOCK + tar_round_block(pax_len);
	}
	ustar_encode(&f, out + *ret_len);
	*ret_len += LP_TAR_BLOCK;
	return 0;
}

/* ---- output ---- */

static int writer_out(struct lp_tar_writer *w, const void *buf, size_t len)
{
	int rc = w->write(w->ctx, buf, len);

	if (rc < 0)
		return rc;
	w->offset += len;
	return 0;
}

static int writer_zeros(struct lp_tar_writer *w, size_t n)
{
	static const uint8_t zero[LP_TAR_BLOCK];
	int rc = 0;

	while (n > 0 && rc == 0) {
		size_t k = n < sizeof(zero) ? n : sizeof(zero);

		rc = writer_out(w, zero, k);
		n -= k;
	}
	return rc;
}

/* An output error: sticky, with a message saying where. */
static int writer_io_fail(struct lp_tar_writer *w, int rc, struct lp_diag *diag, const char *what,
			  const char *name)
{
	w->err = rc;
	return lp_diag_fail(diag, rc, "tar: write error %s%s: %s", what, name, strerror(-rc));
}

/* The current member must be complete; its padding is written. */
static int writer_close_member(struct lp_tar_writer *w, struct lp_diag *diag)
{
	int rc;

	if (!w->in_entry)
		return 0;
	if (w->written != w->size) {
		w->err = -EINVAL;
		return lp_diag_fail(diag, w->err, "tar: member %s: %llu bytes written, header says %llu",
				    w->name, (unsigned long long)w->written, (unsigned long long)w->size);
	}
	rc = writer_zeros(w, (size_t)(tar_round_block(w->size) - w->size));
	if (rc < 0)
		return writer_io_fail(w, rc, diag, "in the padding after member ", w->name);
	w->in_entry = false;
	return 0;
}

int lp_tar_writer_new(lp_tar_write_fn write, void *ctx, struct lp_tar_writer **ret_writer)
{
	struct lp_tar_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->write = write;
	w->ctx = ctx;
	*ret_writer = w;
	return 0;
}

/* Closes the previous member and checks that name may be added. */
static int writer_start(struct lp_tar_writer *w, const char *name, struct lp_diag *diag)
{
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (w->finished || w->deferred)
		return lp_diag_fail(diag, -EINVAL, "tar: cannot add member %s now", name);
	rc = writer_close_member(w, diag);
	if (rc < 0)
		return rc;
	rc = lp_tar_name_check(name, diag);
	if (rc < 0)
		return rc;
	rc = tar_names_add(&w->names, name);
	if (rc == -EEXIST)
		return lp_diag_fail(diag, -EINVAL, "tar: duplicate member %s", name);
	if (rc < 0)
		return lp_diag_fail(diag, rc, "tar: cannot add member %s: %s", name, strerror(-rc));
	snprintf(w->name, sizeof(w->name), "%s", name);
	return 0;
}

int lp_tar_writer_add(struct lp_tar_writer *w, const char *name, uint64_t size, int64_t mtime,
		      struct lp_diag *diag)
{
	uint8_t headers[3 * LP_TAR_BLOCK + PAX_RECORDS_MAX];
	size_t len;
	int rc;

	rc = writer_start(w, name, diag);
	if (rc < 0)
		return rc;
	if (size > INT64_MAX)
		return lp_diag_fail(diag, -EFBIG, "tar: member %s is too large", name);
	rc = encode_headers(name, size, mtime, headers, &len);
	if (rc < 0)
		return lp_diag_fail(diag, rc, "tar: member %s: headers too large", name);
	rc = writer_out(w, headers, len);
	if (rc < 0)
		return writer_io_fail(w, rc, diag, "in header of ", name);
	w->size = size;
	w->written = 0;
	w->in_entry = true;
	return 0;
}

int lp_tar_writer_write(struct lp_tar_writer *w, const void *data, size_t len, struct lp_diag *diag)
{
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (!w->in_entry)
		return lp_diag_fail(diag, -EINVAL, "tar: data outside of a member");
	if (w->deferred && len > LP_TAR_USTAR_SIZE_MAX - w->written) {
		w->err = -EFBIG;
		return lp_diag_fail(diag, w->err, "tar: member %s: more than %llu bytes", w->name,
				    (unsigned long long)LP_TAR_USTAR_SIZE_MAX);
	}
	if (!w->deferred && len > w->size - w->written) {
		w->err = -EINVAL;
		return lp_diag_fail(diag, w->err, "tar: member %s: more than the %llu bytes in its header",
				    w->name, (unsigned long long)w->size);
	}
	rc = writer_out(w, data, len);
	if (rc < 0)
		return writer_io_fail(w, rc, diag, "in member ", w->name);
	w->written += len;
	return 0;
}

int lp_tar_writer_begin_deferred(struct lp_tar_writer *w, const char *name, int64_t mtime,
				 struct lp_diag *diag)
{
	int rc;

	if (strlen(name) > USTAR_NAME)
		return lp_diag_fail(diag, -EINVAL, "tar: member %s: name too long for a deferred header",
				    name);
	rc = writer_start(w, name, diag);
	if (rc < 0)
		return rc;
	w->header_offset = w->offset;
	rc = writer_zeros(w, LP_TAR_BLOCK);
	if (rc < 0)
		return writer_io_fail(w, rc, diag, "in header of ", name);
	w->size = 0;
	w->written = 0;
	w->mtime = mtime;
	w->in_entry = true;
	w->deferred = true;
	return 0;
}

int lp_tar_writer_end_deferred(struct lp_tar_writer *w, uint8_t ret_header[LP_TAR_BLOCK],
			       uint64_t *ret_offset, struct lp_diag *diag)
{
	uint8_t headers[3 * LP_TAR_BLOCK + PAX_RECORDS_MAX];
	size_t len;
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (!w->deferred)
		return lp_diag_fail(diag, -EINVAL, "tar: no deferred member is open");
	rc = encode_headers(w->name, w->written, w->mtime, headers, &len);
	if (rc == 0 && len != LP_TAR_BLOCK)
		rc = -EFBIG;
	if (rc < 0) {
		w->err = rc;
		return lp_diag_fail(diag, rc, "tar: member %s: cannot encode a one-block header", w->name);
	}
	w->size = w->written;
	w->deferred = false;
	rc = writer_close_member(w, diag);
	if (rc < 0)
		return rc;
	memcpy(ret_header, headers, LP_TAR_BLOCK);
	*ret_offset = w->header_offset;
	return 0;
}

int lp_tar_writer_finish(struct lp_tar_writer *w, struct lp_diag *diag)
{
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (w->finished)
		return 0;
	if (w->deferred)
		return lp_diag_fail(diag, -EINVAL, "tar: deferred member %s still open", w->name);
	rc = writer_close_member(w, diag);
	if (rc < 0)
		return rc;
	rc = writer_zeros(w, 2 * LP_TAR_BLOCK);
	if (rc < 0)
		return writer_io_fail(w, rc, diag, "at the end of the archive", "");
	w->finished = true;
	return 0;
}

uint64_t lp_tar_writer_offset(const struct lp_tar_writer *w)
{
	return w->offset;
}

void lp_tar_writer_free(struct lp_tar_writer *w)
{
	if (!w)
		return;
	tar_names_clear(&w->names);
	free(w);
}

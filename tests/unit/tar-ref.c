/* SPDX-License-Identifier: MIT */
/*
 * The tests' reference tar reader (tar-ref.h): libarchive decodes, the rules of
 * loopline/tar.h are checked on top (member kinds, names, duplicates, the header checksum
 * form, member padding, the end of the archive). It was libloopline's lp_tar_reader
 * until the native reader replaced it; it lives on, linked only into tests and fuzz
 * targets, as the independent second reader the native one is cross-checked against.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tar-ref.h"

#define REF_MIN_FILL (64 * 1024) /* the reader's callback fills at least this much */
#define REF_TAIL 8192            /* stream bytes kept from before the current buffer */
#define REF_HEADERS_MAX 6144     /* ustar header plus pax extended header of one member */

static uint64_t ref_round_block(uint64_t n)
{
	return (n + LP_TAR_BLOCK - 1) / LP_TAR_BLOCK * LP_TAR_BLOCK;
}

/* A list of member names, for duplicate detection. Written here again on purpose, like
 * every rule in this file: a reference that shared the code under test would agree
 * with its bugs. */
struct ref_names {
	char **names;
	size_t n;
};

static bool ref_names_has(const struct ref_names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static int ref_names_add(struct ref_names *s, const char *name)
{
	char **names;

	if (s->n >= LP_TAR_MAX_ENTRIES)
		return -E2BIG;
	if (s->n % 16 == 0) {
		names = realloc(s->names, (s->n + 16) * sizeof(*names));
		if (!names)
			return -ENOMEM;
		s->names = names;
	}
	s->names[s->n] = strdup(name);
	if (!s->names[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

static void ref_names_clear(struct ref_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}

struct tar_ref {
	struct archive *a;
	lp_tar_read_fn read;
	void *ctx;
	uint8_t *buf;        /* TAR_REF_BUFFER bytes, last handed to libarchive */
	size_t buf_len;
	uint8_t tail[REF_TAIL]; /* the stream bytes just before buf */
	size_t tail_len;
	uint64_t delivered;  /* bytes handed to libarchive */
	int io_err;          /* error from the read callback */
	int err;             /* sticky error */
	char open_msg[256];  /* why opening failed */
	bool ended;
	bool in_entry;
	struct lp_tar_entry cur;
	uint64_t cur_done;   /* data bytes of cur handed out */
	uint64_t data_end;   /* end of the last member's data */
	uint64_t end;        /* the same, padded to a block */
	struct ref_names names;
};

static la_ssize_t reader_cb(struct archive *a, void *p, const void **ret_buf)
{
	struct tar_ref *r = p;
	size_t fill = 0;

	/* Keep the last REF_TAIL bytes before the new buffer for the end-of-archive check. */
	if (r->buf_len >= REF_TAIL) {
		memcpy(r->tail, r->buf + r->buf_len - REF_TAIL, REF_TAIL);
		r->tail_len = REF_TAIL;
	} else if (r->buf_len > 0) {
		size_t keep = r->tail_len < REF_TAIL - r->buf_len ? r->tail_len : REF_TAIL - r->buf_len;

		memmove(r->tail, r->tail + r->tail_len - keep, keep);
		memcpy(r->tail + keep, r->buf, r->buf_len);
		r->tail_len = keep + r->buf_len;
	}
	r->buf_len = 0;
	while (fill < REF_MIN_FILL) {
		ssize_t n = r->read(r->ctx, r->buf + fill, TAR_REF_BUFFER - fill);

		if (n < 0) {
			r->io_err = (int)n;
			archive_set_error(a, (int)-n, "read error");
			return -1;
		}
		if (n == 0)
			break;
		if ((size_t)n > TAR_REF_BUFFER - fill) {
			r->io_err = -EIO;
			archive_set_error(a, EIO, "read callback overran its buffer");
			return -1;
		}
		fill += (size_t)n;
	}
	r->buf_len = fill;
	r->delivered += fill;
	*ret_buf = r->buf;
	return (la_ssize_t)fill;
}

int tar_ref_new(lp_tar_read_fn read, void *ctx, struct tar_ref **ret_reader)
{
	struct tar_ref *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->read = read;
	r->ctx = ctx;
	r->buf = malloc(TAR_REF_BUFFER);
	r->a = archive_read_new();
	if (!r->buf || !r->a)
		goto fail;
	if (archive_read_support_format_tar(r->a) != ARCHIVE_OK)
		goto fail;
	if (archive_read_open(r->a, r, NULL, reader_cb, NULL) != ARCHIVE_OK) {
		/* Opening reads the first block: report errors from next(). */
		r->err = r->io_err ? r->io_err : -EBADMSG;
		if (r->io_err)
			snprintf(r->open_msg, sizeof(r->open_msg), "tar: read error: %s",
				 strerror(-r->io_err));
		else
			snprintf(r->open_msg, sizeof(r->open_msg), "tar: not a ustar/pax archive (%s)",
				 archive_error_string(r->a) ? archive_error_string(r->a) : "unrecognized");
	}
	*ret_reader = r;
	return 0;
fail:
	tar_ref_free(r);
	return -ENOMEM;
}

static int reader_fail(struct tar_ref *r, struct lp_diag *diag, const char *what)
{
	if (r->io_err) {
		r->err = r->io_err;
		return lp_diag_fail(diag, r->err, "tar: read error %s: %s", what, strerror(-r->err));
	}
	r->err = -EBADMSG;
	return lp_diag_fail(diag, r->err, "tar: %s %s (header at offset %llu)",
			    archive_error_string(r->a) ? archive_error_string(r->a) : "damaged archive",
			    what, (unsigned long long)(r->in_entry ? r->end : 0));
}

/* A byte of the stream that is still in the buffers (the current one and the tail kept
 * from before it); -1 if it is no longer there. */
static int window_byte(const struct tar_ref *r, uint64_t off)
{
	uint64_t start = r->delivered - r->buf_len - r->tail_len, i;

	if (off < start || off >= r->delivered)
		return -1;
	i = off - start;
	return i < r->tail_len ? r->tail[i] : r->buf[i - r->tail_len];
}

/* libarchive skips the padding after member data without looking at it: it must be NUL,
 * or a changed byte there would go unnoticed. */
static int reader_check_padding(struct tar_ref *r, struct lp_diag *diag)
{
	for (uint64_t off = r->data_end; off < r->end; off++) {
		int c = window_byte(r, off);

		if (c != 0) {
			r->err = -EBADMSG;
			return lp_diag_fail(diag, r->err, c < 0 ?
					    "tar: cannot check the padding after member %s" :
					    "tar: non-zero padding after member %s at offset %llu",
					    r->cur.name, (unsigned long long)off);
		}
	}
	return 0;
}

/* libarchive reads the checksum field as an octal number up to its first other
 * character, and the field is not part of the sum: require the canonical form (six
 * octal digits, NUL, space) so no byte of a header can change unnoticed. */
static int reader_check_checksum_field(struct tar_ref *r, const char *name,
				       struct lp_diag *diag)
{
	uint64_t field = r->cur.data_offset - LP_TAR_BLOCK + 148;

	for (unsigned i = 0; i < 8; i++) {
		int c = window_byte(r, field + i);
		bool ok = i < 6 ? (c >= '0' && c <= '7') : i == 6 ? c == 0 : c == ' ';

		if (!ok) {
			r->err = -EBADMSG;
			return lp_diag_fail(diag, r->err, c < 0 ?
					    "tar: cannot check the header of member %s" :
					    "tar: member %s: header checksum field is not six octal digits, NUL, space",
					    name);
		}
	}
	return 0;
}

/* libarchive said end-of-archive: check the marker and everything after it ourselves. */
static int reader_check_end(struct tar_ref *r, struct lp_diag *diag)
{
	uint64_t total = r->delivered, off;

	if (reader_check_padding(r, diag) < 0)
		return r->err;
	for (off = r->end; off < r->delivered; off++) {
		int c = window_byte(r, off);

		if (c < 0) {
			r->err = -EBADMSG;
			return lp_diag_fail(diag, r->err, "tar: cannot check the end-of-archive marker at offset %llu",
					    (unsigned long long)off);
		}
		if (c)
			goto garbage;
	}
	for (;;) {
		ssize_t n = r->read(r->ctx, r->buf, TAR_REF_BUFFER);

		if (n < 0) {
			r->err = (int)n;
			return lp_diag_fail(diag, r->err, "tar: read error after the end of archive: %s",
					    strerror((int)-n));
		}
		if (n == 0)
			break;
		if ((size_t)n > TAR_REF_BUFFER)
			n = TAR_REF_BUFFER;
		for (ssize_t i = 0; i < n; i++) {
			if (r->buf[i]) {
				off = total + (uint64_t)i;
				goto garbage;
			}
		}
		total += (uint64_t)n;
		if (total - r->end > 2 * LP_TAR_BLOCK + LP_TAR_TRAILER_MAX) {
			r->err = -EBADMSG;
			return lp_diag_fail(diag, r->err,
					    "tar: more than %d bytes of padding after the end-of-archive marker",
					    LP_TAR_TRAILER_MAX);
		}
	}
	if (total - r->end < 2 * LP_TAR_BLOCK) {
		r->err = -EBADMSG;
		return lp_diag_fail(diag, r->err,
				    "tar: truncated: end-of-archive marker (two zero blocks) missing at offset %llu",
				    (unsigned long long)r->end);
	}
	if (total % LP_TAR_BLOCK) {
		r->err = -EBADMSG;
		return lp_diag_fail(diag, r->err, "tar: archive length %llu is not a multiple of 512",
				    (unsigned long long)total);
	}
	r->ended = true;
	return 0;
garbage:
	r->err = -EBADMSG;
	if (off < r->end + 2 * LP_TAR_BLOCK)
		return lp_diag_fail(diag, r->err, "tar: damaged end-of-archive marker at offset %llu",
				    (unsigned long long)off);
	return lp_diag_fail(diag, r->err, "tar: data after the end-of-archive marker at offset %llu",
			    (unsigned long long)off);
}

static const char *filetype_name(mode_t type)
{
	switch (type) {
	case AE_IFDIR: return "a directory";
	case AE_IFLNK: return "a symbolic link";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a fifo";
	case AE_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

int tar_ref_next(struct tar_ref *r, struct lp_tar_entry *ret_entry, struct lp_diag *diag)
{
	struct archive_entry *e;
	const char *name;
	char what[LP_TAR_NAME_MAX + 64];
	int64_t size;
	int fmt, rc;

	if (r->err)
		return lp_diag_fail(diag, r->err, "%s", r->open_msg[0] ? r->open_msg :
				    "tar: reader already failed");
	if (r->ended)
		return 0;
	if (r->in_entry)
		snprintf(what, sizeof(what), "after member %s", r->cur.name);
	else
		snprintf(what, sizeof(what), "at the first member");
	rc = archive_read_next_header(r->a, &e);
	if (rc == ARCHIVE_EOF) {
		r->in_entry = false;
		return reader_check_end(r, diag) < 0 ? r->err : 0;
	}
	if (rc != ARCHIVE_OK)
		return reader_fail(r, diag, what);
	if (r->in_entry && reader_check_padding(r, diag) < 0)
		return r->err;
	r->in_entry = false;

	fmt = archive_format(r->a);
	name = archive_entry_pathname(e);
	r->err = -EBADMSG;
	if (fmt != ARCHIVE_FORMAT_TAR_USTAR && fmt != ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE &&
	    fmt != ARCHIVE_FORMAT_TAR_PAX_RESTRICTED)
		return lp_diag_fail(diag, r->err, "tar: %s uses %s, only ustar and pax are accepted",
				    what, archive_format_name(r->a) ? archive_format_name(r->a) : "an unknown format");
	if (!name)
		return lp_diag_fail(diag, r->err, "tar: member %s has no readable name", what);
	if (archive_entry_hardlink(e))
		return lp_diag_fail(diag, r->err,
				    "tar: member %s is a hard link (to %s); only regular files are allowed",
				    name, archive_entry_hardlink(e));
	if (archive_entry_filetype(e) != AE_IFREG)
		return lp_diag_fail(diag, r->err, "tar: member %s is %s; only regular files are allowed",
				    name, filetype_name(archive_entry_filetype(e)));
	if (archive_entry_sparse_count(e) > 0)
		return lp_diag_fail(diag, r->err, "tar: member %s is a sparse file; not allowed", name);
	rc = lp_tar_name_check(name, diag);
	if (rc < 0)
		return r->err;
	size = archive_entry_size(e);
	if (!archive_entry_size_is_set(e) || size < 0)
		return lp_diag_fail(diag, r->err, "tar: member %s has no valid size", name);
	if (ref_names_has(&r->names, name))
		return lp_diag_fail(diag, r->err, "tar: duplicate member %s", name);
	rc = ref_names_add(&r->names, name);
	if (rc == -E2BIG) {
		r->err = rc;
		return lp_diag_fail(diag, rc, "tar: more than %d members", LP_TAR_MAX_ENTRIES);
	}
	if (rc < 0) {
		r->err = rc;
		return lp_diag_fail(diag, rc, "tar: out of memory");
	}

	memset(&r->cur, 0, sizeof(r->cur));
	snprintf(r->cur.name, sizeof(r->cur.name), "%s", name);
	r->cur.size = (uint64_t)size;
	r->cur.mtime = archive_entry_mtime(e);
	r->cur.data_offset = (uint64_t)archive_filter_bytes(r->a, 0);
	if (r->cur.data_offset % LP_TAR_BLOCK)
		return lp_diag_fail(diag, r->err, "tar: member %s: data at unaligned offset %llu", name,
				    (unsigned long long)r->cur.data_offset);
	/* Bounding the headers of one member keeps the previous member's padding and this
	 * member's header within the bytes still buffered (REF_TAIL covers them). */
	if (r->cur.data_offset < r->end + LP_TAR_BLOCK ||
	    r->cur.data_offset - r->end > REF_HEADERS_MAX)
		return lp_diag_fail(diag, r->err, "tar: member %s: %llu bytes of headers (limit %d)",
				    name, (unsigned long long)(r->cur.data_offset - r->end),
				    REF_HEADERS_MAX);
	if (reader_check_checksum_field(r, name, diag) < 0)
		return r->err;
	r->data_end = r->cur.data_offset + r->cur.size;
	r->end = r->cur.data_offset + ref_round_block(r->cur.size);
	r->cur_done = 0;
	r->in_entry = true;
	r->err = 0;
	*ret_entry = r->cur;
	return 1;
}

int tar_ref_data(struct tar_ref *r, const void **ret_data, size_t *ret_len,
		       struct lp_diag *diag)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int rc;

	if (r->err)
		return lp_diag_fail(diag, r->err, "tar: reader already failed");
	if (!r->in_entry || r->cur_done == r->cur.size)
		return 0;
	do {
		rc = archive_read_data_block(r->a, &buf, &len, &off);
		if (rc == ARCHIVE_EOF) {
			r->err = -EBADMSG;
			return lp_diag_fail(diag, r->err, "tar: truncated in member %s at offset %llu",
					    r->cur.name, (unsigned long long)r->cur_done);
		}
		if (rc != ARCHIVE_OK) {
			if (r->io_err) {
				r->err = r->io_err;
				return lp_diag_fail(diag, r->err, "tar: read error in member %s at offset %llu: %s",
						    r->cur.name, (unsigned long long)r->cur_done,
						    strerror(-r->err));
			}
			r->err = -EBADMSG;
			return lp_diag_fail(diag, r->err, "tar: truncated in member %s at offset %llu",
					    r->cur.name, (unsigned long long)r->cur_done);
		}
	} while (len == 0);
	if (off < 0 || (uint64_t)off != r->cur_done || len > r->cur.size - r->cur_done) {
		r->err = -EBADMSG;
		return lp_diag_fail(diag, r->err, "tar: member %s: data block at offset %lld out of order",
				    r->cur.name, (long long)off);
	}
	r->cur_done += len;
	*ret_data = buf;
	*ret_len = len;
	return 1;
}

ssize_t tar_ref_read(struct tar_ref *r, void *buf, size_t len, struct lp_diag *diag)
{
	la_ssize_t n;

	if (r->err)
		return lp_diag_fail(diag, r->err, "tar: reader already failed");
	if (!r->in_entry || r->cur_done == r->cur.size || len == 0)
		return 0;
	if (len > r->cur.size - r->cur_done)
		len = (size_t)(r->cur.size - r->cur_done);
	n = archive_read_data(r->a, buf, len);
	if (n <= 0) {
		if (r->io_err) {
			r->err = r->io_err;
			return lp_diag_fail(diag, r->err, "tar: read error in member %s at offset %llu: %s",
					    r->cur.name, (unsigned long long)r->cur_done, strerror(-r->err));
		}
		r->err = -EBADMSG;
		return lp_diag_fail(diag, r->err, "tar: truncated in member %s at offset %llu",
				    r->cur.name, (unsigned long long)r->cur_done);
	}
	r->cur_done += (uint64_t)n;
	return n;
}

uint64_t tar_ref_offset(const struct tar_ref *r)
{
	return (uint64_t)archive_filter_bytes(r->a, 0);
}

void tar_ref_free(struct tar_ref *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	ref_names_clear(&r->names);
	free(r->buf);
	free(r);
}

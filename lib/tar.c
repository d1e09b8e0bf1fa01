/* SPDX-License-Identifier: MIT */
/*
 * The tar layer: libarchive does the ustar/pax encoding and decoding, this file enforces
 * the rules of loopline/tar.h on top (member kinds, names, duplicates, the end of the
 * archive) and moves bytes through caller callbacks.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/tar.h"

#define TAR_MIN_FILL (64 * 1024) /* the reader's callback fills at least this much */
#define TAR_TAIL 8192            /* stream bytes kept from before the current buffer */
#define TAR_HEADER_CAPTURE 4096  /* room for a header encoded on its own */
#define TAR_HEADERS_MAX 6144     /* ustar header plus pax extended header of one member */

static uint64_t round_block(uint64_t n)
{
	return (n + LP_TAR_BLOCK - 1) / LP_TAR_BLOCK * LP_TAR_BLOCK;
}

/* A list of member names, for duplicate detection. */
struct name_set {
	char **names;
	size_t n;
};

static bool name_set_has(const struct name_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static int name_set_add(struct name_set *s, const char *name)
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

static void name_set_clear(struct name_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}

/* ---- reading ---- */

struct lp_tar_reader {
	struct archive *a;
	lp_tar_read_fn read;
	void *ctx;
	uint8_t *buf;        /* LP_TAR_READ_BUFFER bytes, last handed to libarchive */
	size_t buf_len;
	uint8_t tail[TAR_TAIL]; /* the stream bytes just before buf */
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
	struct name_set names;
};

static la_ssize_t reader_cb(struct archive *a, void *p, const void **ret_buf)
{
	struct lp_tar_reader *r = p;
	size_t fill = 0;

	/* Keep the last TAR_TAIL bytes before the new buffer for the end-of-archive check. */
	if (r->buf_len >= TAR_TAIL) {
		memcpy(r->tail, r->buf + r->buf_len - TAR_TAIL, TAR_TAIL);
		r->tail_len = TAR_TAIL;
	} else if (r->buf_len > 0) {
		size_t keep = r->tail_len < TAR_TAIL - r->buf_len ? r->tail_len : TAR_TAIL - r->buf_len;

		memmove(r->tail, r->tail + r->tail_len - keep, keep);
		memcpy(r->tail + keep, r->buf, r->buf_len);
		r->tail_len = keep + r->buf_len;
	}
	r->buf_len = 0;
	while (fill < TAR_MIN_FILL) {
		ssize_t n = r->read(r->ctx, r->buf + fill, LP_TAR_READ_BUFFER - fill);

		if (n < 0) {
			r->io_err = (int)n;
			archive_set_error(a, (int)-n, "read error");
			return -1;
		}
		if (n == 0)
			break;
		if ((size_t)n > LP_TAR_READ_BUFFER - fill) {
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

int lp_tar_reader_new(lp_tar_read_fn read, void *ctx, struct lp_tar_reader **ret_reader)
{
	struct lp_tar_reader *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->read = read;
	r->ctx = ctx;
	r->buf = malloc(LP_TAR_READ_BUFFER);
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
	lp_tar_reader_free(r);
	return -ENOMEM;
}

static int reader_fail(struct lp_tar_reader *r, struct lp_diag *diag, const char *what)
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
static int window_byte(const struct lp_tar_reader *r, uint64_t off)
{
	uint64_t start = r->delivered - r->buf_len - r->tail_len, i;

	if (off < start || off >= r->delivered)
		return -1;
	i = off - start;
	return i < r->tail_len ? r->tail[i] : r->buf[i - r->tail_len];
}

/* libarchive skips the padding after member data without looking at it: it must be NUL,
 * or a changed byte there would go unnoticed. */
static int reader_check_padding(struct lp_tar_reader *r, struct lp_diag *diag)
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
static int reader_check_checksum_field(struct lp_tar_reader *r, const char *name,
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
static int reader_check_end(struct lp_tar_reader *r, struct lp_diag *diag)
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
		ssize_t n = r->read(r->ctx, r->buf, LP_TAR_READ_BUFFER);

		if (n < 0) {
			r->err = (int)n;
			return lp_diag_fail(diag, r->err, "tar: read error after the end of archive: %s",
					    strerror((int)-n));
		}
		if (n == 0)
			break;
		if ((size_t)n > LP_TAR_READ_BUFFER)
			n = LP_TAR_READ_BUFFER;
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

int lp_tar_reader_next(struct lp_tar_reader *r, struct lp_tar_entry *ret_entry, struct lp_diag *diag)
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
	if (name_set_has(&r->names, name))
		return lp_diag_fail(diag, r->err, "tar: duplicate member %s", name);
	rc = name_set_add(&r->names, name);
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
	 * member's header within the bytes still buffered (TAR_TAIL covers them). */
	if (r->cur.data_offset < r->end + LP_TAR_BLOCK ||
	    r->cur.data_offset - r->end > TAR_HEADERS_MAX)
		return lp_diag_fail(diag, r->err, "tar: member %s: %llu bytes of headers (limit %d)",
				    name, (unsigned long long)(r->cur.data_offset - r->end),
				    TAR_HEADERS_MAX);
	if (reader_check_checksum_field(r, name, diag) < 0)
		return r->err;
	r->data_end = r->cur.data_offset + r->cur.size;
	r->end = r->cur.data_offset + round_block(r->cur.size);
	r->cur_done = 0;
	r->in_entry = true;
	r->err = 0;
	*ret_entry = r->cur;
	return 1;
}

int lp_tar_reader_data(struct lp_tar_reader *r, const void **ret_data, size_t *ret_len,
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

ssize_t lp_tar_reader_read(struct lp_tar_reader *r, void *buf, size_t len, struct lp_diag *diag)
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

uint64_t lp_tar_reader_offset(const struct lp_tar_reader *r)
{
	return (uint64_t)archive_filter_bytes(r->a, 0);
}

void lp_tar_reader_free(struct lp_tar_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	name_set_clear(&r->names);
	free(r->buf);
	free(r);
}

/* ---- writing ---- */

struct lp_tar_writer {
	struct archive *a;
	struct archive_entry *e;
	lp_tar_write_fn write;
	void *ctx;
	uint64_t offset;
	int io_err;
	int err;       /* sticky */
	bool abandon;  /* refuse all output (freeing an unfinished archive) */
	bool finished;
	bool in_entry;
	bool deferred;
	char name[LP_TAR_NAME_MAX + 1];
	uint64_t size;
	uint64_t written;
	int64_t mtime;
	uint64_t header_offset;
	struct name_set names;
};

static la_ssize_t writer_cb(struct archive *a, void *p, const void *buf, size_t len)
{
	struct lp_tar_writer *w = p;
	int rc;

	if (w->abandon) {
		archive_set_error(a, ECANCELED, "archive abandoned");
		return -1;
	}
	rc = w->write(w->ctx, buf, len);
	if (rc < 0) {
		w->io_err = rc;
		archive_set_error(a, -rc, "write error");
		return -1;
	}
	w->offset += len;
	return (la_ssize_t)len;
}

/* Writes around libarchive (deferred members, their padding). */
static int writer_raw(struct lp_tar_writer *w, const void *buf, size_t len)
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

		rc = writer_raw(w, zero, k);
		n -= k;
	}
	return rc;
}

int lp_tar_writer_new(lp_tar_write_fn write, void *ctx, struct lp_tar_writer **ret_writer)
{
	struct lp_tar_writer *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->write = write;
	w->ctx = ctx;
	w->a = archive_write_new();
	w->e = archive_entry_new();
	if (!w->a || !w->e)
		goto fail;
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, writer_cb, NULL, NULL) != ARCHIVE_OK)
		goto fail;
	*ret_writer = w;
	return 0;
fail:
	lp_tar_writer_free(w);
	return -ENOMEM;
}

static int writer_fail(struct lp_tar_writer *w, struct lp_diag *diag, const char *what)
{
	if (w->io_err) {
		w->err = w->io_err;
		return lp_diag_fail(diag, w->err, "tar: write error %s: %s", what, strerror(-w->err));
	}
	w->err = -EIO;
	return lp_diag_fail(diag, w->err, "tar: %s %s", archive_error_string(w->a) ?
			    archive_error_string(w->a) : "libarchive failed", what);
}

static void entry_setup(struct archive_entry *e, const char *name, uint64_t size, int64_t mtime)
{
	archive_entry_clear(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, mtime, 0);
}

/* Checks that the previous member is complete and the new name is acceptable. */
static int writer_start(struct lp_tar_writer *w, const char *name, struct lp_diag *diag)
{
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (w->finished || w->deferred)
		return lp_diag_fail(diag, -EINVAL, "tar: cannot add member %s now", name);
	if (w->in_entry && w->written != w->size) {
		w->err = -EINVAL;
		return lp_diag_fail(diag, w->err, "tar: member %s: %llu bytes written, header says %llu",
				    w->name, (unsigned long long)w->written, (unsigned long long)w->size);
	}
	if (w->in_entry && archive_write_finish_entry(w->a) != ARCHIVE_OK)
		return writer_fail(w, diag, "in the padding of the previous member");
	w->in_entry = false;
	rc = lp_tar_name_check(name, diag);
	if (rc < 0)
		return rc;
	if (name_set_has(&w->names, name))
		return lp_diag_fail(diag, -EINVAL, "tar: duplicate member %s", name);
	rc = name_set_add(&w->names, name);
	if (rc < 0)
		return lp_diag_fail(diag, rc, "tar: cannot add member %s: %s", name, strerror(-rc));
	return 0;
}

int lp_tar_writer_add(struct lp_tar_writer *w, const char *name, uint64_t size, int64_t mtime,
		      struct lp_diag *diag)
{
	char what[LP_TAR_NAME_MAX + 32];
	int rc;

	rc = writer_start(w, name, diag);
	if (rc < 0)
		return rc;
	if (size > INT64_MAX)
		return lp_diag_fail(diag, -EFBIG, "tar: member %s is too large", name);
	entry_setup(w->e, name, size, mtime);
	snprintf(what, sizeof(what), "in header of %s", name);
	if (archive_write_header(w->a, w->e) != ARCHIVE_OK)
		return writer_fail(w, diag, what);
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->size = size;
	w->written = 0;
	w->in_entry = true;
	return 0;
}

int lp_tar_writer_write(struct lp_tar_writer *w, const void *data, size_t len, struct lp_diag *diag)
{
	const uint8_t *p = data;
	char what[LP_TAR_NAME_MAX + 32];
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (!w->in_entry)
		return lp_diag_fail(diag, -EINVAL, "tar: data outside of a member");
	if (!w->deferred && len > w->size - w->written) {
		w->err = -EINVAL;
		return lp_diag_fail(diag, w->err, "tar: member %s: more than the %llu bytes in its header",
				    w->name, (unsigned long long)w->size);
	}
	if (w->deferred) {
		if (len > LP_TAR_USTAR_SIZE_MAX - w->written) {
			w->err = -EFBIG;
			return lp_diag_fail(diag, w->err, "tar: member %s: more than %llu bytes",
					    w->name, (unsigned long long)LP_TAR_USTAR_SIZE_MAX);
		}
		rc = writer_raw(w, data, len);
		if (rc < 0) {
			w->err = rc;
			return lp_diag_fail(diag, rc, "tar: write error in member %s: %s", w->name,
					    strerror(-rc));
		}
		w->written += len;
		return 0;
	}
	while (len > 0) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0) {
			snprintf(what, sizeof(what), "in member %s", w->name);
			return writer_fail(w, diag, what);
		}
		p += n;
		len -= (size_t)n;
		w->written += (uint64_t)n;
	}
	return 0;
}

/* Encodes one member header on its own (for deferred members). */
struct capture {
	uint8_t buf[TAR_HEADER_CAPTURE];
	size_t len;
	bool closed;
};

static la_ssize_t capture_cb(struct archive *a, void *p, const void *buf, size_t len)
{
	struct capture *c = p;

	if (c->closed || len > sizeof(c->buf) - c->len) {
		archive_set_error(a, ECANCELED, "header capture closed");
		return -1;
	}
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	return (la_ssize_t)len;
}

static int encode_header(const char *name, uint64_t size, int64_t mtime, uint8_t out[LP_TAR_BLOCK])
{
	struct capture *c;
	struct archive *a;
	struct archive_entry *e;
	int rc = -ENOMEM;

	c = calloc(1, sizeof(*c));
	a = archive_write_new();
	e = archive_entry_new();
	if (!c || !a || !e)
		goto out;
	rc = -EIO;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, c, NULL, capture_cb, NULL, NULL) != ARCHIVE_OK)
		goto out;
	entry_setup(e, name, size, mtime);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		goto out;
	if (c->len != LP_TAR_BLOCK) {
		rc = -EFBIG;
		goto out;
	}
	memcpy(out, c->buf, LP_TAR_BLOCK);
	rc = 0;
out:
	if (c)
		c->closed = true; /* freeing would pad the member: refuse those writes */
	if (a)
		archive_write_free(a);
	archive_entry_free(e);
	free(c);
	return rc;
}

int lp_tar_writer_begin_deferred(struct lp_tar_writer *w, const char *name, int64_t mtime,
				 struct lp_diag *diag)
{
	int rc;

	if (strlen(name) > 100)
		return lp_diag_fail(diag, -EINVAL, "tar: member %s: name too long for a deferred header",
				    name);
	rc = writer_start(w, name, diag);
	if (rc < 0)
		return rc;
	w->header_offset = w->offset;
	rc = writer_zeros(w, LP_TAR_BLOCK);
	if (rc < 0) {
		w->err = rc;
		return lp_diag_fail(diag, rc, "tar: write error in header of %s: %s", name, strerror(-rc));
	}
	snprintf(w->name, sizeof(w->name), "%s", name);
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
	int rc;

	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (!w->deferred)
		return lp_diag_fail(diag, -EINVAL, "tar: no deferred member is open");
	rc = encode_header(w->name, w->written, w->mtime, ret_header);
	if (rc < 0) {
		w->err = rc;
		return lp_diag_fail(diag, rc, "tar: member %s: cannot encode a one-block header", w->name);
	}
	rc = writer_zeros(w, (size_t)(round_block(w->written) - w->written));
	if (rc < 0) {
		w->err = rc;
		return lp_diag_fail(diag, rc, "tar: write error after member %s: %s", w->name,
				    strerror(-rc));
	}
	w->size = w->written;
	w->deferred = false;
	w->in_entry = false;
	*ret_offset = w->header_offset;
	return 0;
}

int lp_tar_writer_finish(struct lp_tar_writer *w, struct lp_diag *diag)
{
	if (w->err)
		return lp_diag_fail(diag, w->err, "tar: writer already failed");
	if (w->finished)
		return 0;
	if (w->deferred)
		return lp_diag_fail(diag, -EINVAL, "tar: deferred member %s still open", w->name);
	if (w->in_entry && w->written != w->size) {
		w->err = -EINVAL;
		return lp_diag_fail(diag, w->err, "tar: member %s: %llu bytes written, header says %llu",
				    w->name, (unsigned long long)w->written, (unsigned long long)w->size);
	}
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return writer_fail(w, diag, "at the end of the archive");
	w->finished = true;
	w->in_entry = false;
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
	if (!w->finished)
		w->abandon = true;
	if (w->a)
		archive_write_free(w->a);
	archive_entry_free(w->e);
	name_set_clear(&w->names);
	free(w);
}

/* SPDX-License-Identifier: MIT */
/*
 * The native tar reader (loopline/tar-read.h): ustar headers and pax extended headers
 * decoded here, with the rules of loopline/tar.h checked on every byte of the stream:
 * header checksums (in their canonical form), magic and version, member kinds, names,
 * duplicates, zero padding after each member, and the end of the archive. Header blocks
 * are taken apart field by field through the bounds-checked cursor (loopline/cursor.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cursor.h"
#include "loopline/tar-read.h"
#include "tar-internal.h"

struct pax {
	bool present;
	bool has_path, has_size, has_mtime;
	char path[LP_TAR_NAME_MAX + 1];
	uint64_t size;
	int64_t mtime;
};

struct lp_tar_in {
	lp_tar_read_fn read;
	void *ctx;
	uint8_t *buf;       /* LP_TAR_IN_BUFFER bytes; unread ones are buf[pos..len) */
	size_t pos, len;
	uint64_t offset;    /* stream offset of buf[pos] */
	bool eof;
	int err;            /* sticky */
	bool ended;
	bool in_entry;
	struct lp_tar_entry cur;
	uint64_t cur_done;  /* data bytes of cur handed out */
	struct tar_names names;
	char what[LP_TAR_NAME_MAX + 32]; /* "after member X" for messages */
};

static int fail(struct lp_tar_in *r, struct lp_diag *diag, int err, const char *fmt, ...)
	LP_PRINTF(4, 5);

static int fail(struct lp_tar_in *r, struct lp_diag *diag, int err, const char *fmt, ...)
{
	char msg[LP_TAR_NAME_MAX * 2 + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->err = err;
	return lp_diag_fail(diag, err, "%s", msg);
}

/* Makes at least need bytes (<= LP_TAR_IN_BUFFER) readable at buf[pos], unless the stream
 * ends first. Returns the bytes readable, or a negative errno from the callback. */
static ssize_t fill(struct lp_tar_in *r, size_t need)
{
	while (r->len - r->pos < need && !r->eof) {
		ssize_t n;

		if (r->pos > 0 && LP_TAR_IN_BUFFER - r->pos < need) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		n = r->read(r->ctx, r->buf + r->len, LP_TAR_IN_BUFFER - r->len);
		if (n < 0)
			return n;
		if ((size_t)n > LP_TAR_IN_BUFFER - r->len)
			return -EIO;
		if (n == 0)
			r->eof = true;
		r->len += (size_t)n;
	}
	return (ssize_t)(r->len - r->pos);
}

static void consume(struct lp_tar_in *r, size_t n)
{
	r->pos += n;
	r->offset += n;
	if (r->pos == r->len)
		r->pos = r->len = 0;
}

static int io_fail(struct lp_tar_in *r, struct lp_diag *diag, ssize_t n, const char *where)
{
	return fail(r, diag, (int)n, "tar: read error %s: %s", where, strerror((int)-n));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One ustar header block, its fields taken in order through the bounds-checked cursor
 * (loopline/cursor.h) rather than by offsets into the block. */
struct ustar {
	const uint8_t *block;
	const uint8_t *name, *mode, *uid, *gid, *size, *mtime, *chksum, *typeflag, *linkname;
	const uint8_t *magic, *uname, *gname, *devmajor, *devminor, *prefix;
};

_Static_assert(USTAR_NAME + USTAR_MODE + USTAR_UID + USTAR_GID + USTAR_SIZE + USTAR_MTIME +
		       USTAR_CHKSUM + USTAR_TYPEFLAG + USTAR_LINKNAME + USTAR_MAGIC + USTAR_UNAME +
		       USTAR_GNAME + USTAR_DEVMAJOR + USTAR_DEVMINOR + USTAR_PREFIX + USTAR_PAD ==
		       LP_TAR_BLOCK, "the ustar fields fill one block");

static void ustar_decode(const uint8_t block[LP_TAR_BLOCK], struct ustar *u)
{
	struct lp_cursor c;

	lp_cursor_init(&c, block, LP_TAR_BLOCK);
	u->block = block;
	/* cannot fail: the fields add up to the block (asserted above) */
	lp_cursor_bytes(&c, USTAR_NAME, &u->name);
	lp_cursor_bytes(&c, USTAR_MODE, &u->mode);
	lp_cursor_bytes(&c, USTAR_UID, &u->uid);
	lp_cursor_bytes(&c, USTAR_GID, &u->gid);
	lp_cursor_bytes(&c, USTAR_SIZE, &u->size);
	lp_cursor_bytes(&c, USTAR_MTIME, &u->mtime);
	lp_cursor_bytes(&c, USTAR_CHKSUM, &u->chksum);
	lp_cursor_bytes(&c, USTAR_TYPEFLAG, &u->typeflag);
	lp_cursor_bytes(&c, USTAR_LINKNAME, &u->linkname);
	lp_cursor_bytes(&c, USTAR_MAGIC, &u->magic);
	lp_cursor_bytes(&c, USTAR_UNAME, &u->uname);
	lp_cursor_bytes(&c, USTAR_GNAME, &u->gname);
	lp_cursor_bytes(&c, USTAR_DEVMAJOR, &u->devmajor);
	lp_cursor_bytes(&c, USTAR_DEVMINOR, &u->devminor);
	lp_cursor_bytes(&c, USTAR_PREFIX, &u->prefix);
	lp_cursor_skip(&c, USTAR_PAD);
}

/*
 * A numeric header field: octal digits, optionally after spaces, ended by NUL or space
 * with only NULs and spaces after; or base-256 (first byte 0x80, big-endian value in the
 * rest) as libarchive and GNU tar write for values the octal form cannot hold.
 */
static bool parse_number(const uint8_t *p, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i = 0;

	if (p[0] == 0x80) {
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return false;
			v = v << 8 | p[i];
		}
		*ret = v;
		return true;
	}
	while (i < len && p[i] == ' ')
		i++;
	if (i == len || p[i] < '0' || p[i] > '7')
		return false;
	for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v << 3 | (uint64_t)(p[i] - '0');
	}
	for (; i < len; i++)
		if (p[i] != '\0' && p[i] != ' ')
			return false;
	*ret = v;
	return true;
}

/* The checksum field must be six octal digits, NUL, space (what GNU tar and libarchive
 * write), so that no byte of a header can change unnoticed; the sum is over unsigned
 * bytes with the field counted as spaces. */
static bool checksum_ok(const struct ustar *u, bool *ret_canonical)
{
	uint32_t sum = 0, want = 0;

	*ret_canonical = false;
	for (unsigned i = 0; i < 6; i++) {
		if (u->chksum[i] < '0' || u->chksum[i] > '7')
			return false;
		want = want << 3 | (uint32_t)(u->chksum[i] - '0');
	}
	if (u->chksum[6] != '\0' || u->chksum[7] != ' ')
		return false;
	*ret_canonical = true;
	for (unsigned i = 0; i < LP_TAR_BLOCK; i++)
		sum += u->block[i];
	for (unsigned i = 0; i < USTAR_CHKSUM; i++)
		sum += (uint32_t)' ' - u->chksum[i];
	return sum == want;
}

/* A NUL-terminated (or full-length) string field. */
static size_t field_len(const uint8_t *p, size_t len)
{
	const uint8_t *nul = memchr(p, 0, len);

	return nul ? (size_t)(nul - p) : len;
}

static bool parse_decimal(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* A pax time: [-]digits[.digits]; the fraction is dropped. */
static bool parse_pax_time(const char *s, size_t len, int64_t *ret)
{
	bool neg = len > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0, int_end;
	uint64_t v = 0;

	for (int_end = i; int_end < len && s[int_end] != '.'; int_end++)
		;
	if (int_end == i || int_end - i > 18)
		return false;
	for (size_t k = i; k < int_end; k++) {
		if (s[k] < '0' || s[k] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[k] - '0');
	}
	if (int_end < len) {
		if (int_end + 1 == len)
			return false;
		for (size_t k = int_end + 1; k < len; k++)
			if (s[k] < '0' || s[k] > '9')
				return false;
	}
	*ret = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

static const char *const pax_ignored[] = {
	"atime", "ctime", "uid", "gid", "uname", "gname", "comment", "charset", "hdrcharset",
};

/* The records of a pax extended header: "<len> <key>=<value>\n", len counting the
 * whole record in decimal. */
static int parse_pax(struct lp_tar_in *r, const char *p, size_t n, struct pax *pax,
		     struct lp_diag *diag)
{
	char seen[16][16];
	size_t n_seen = 0, off = 0;

	while (off < n) {
		const char *rec = p + off, *sp, *eq, *key, *val;
		size_t rec_len, key_len, val_len;
		uint64_t len;

		sp = memchr(rec, ' ', n - off < 24 ? n - off : 24);
		if (!sp || !parse_decimal(rec, (size_t)(sp - rec), &len) || len > n - off ||
		    len < (uint64_t)(sp - rec) + 4 || rec[len - 1] != '\n')
			return fail(r, diag, -EBADMSG,
				    "tar: malformed pax extended header record at offset %zu (%s)",
				    off, r->what);
		rec_len = (size_t)len;
		key = sp + 1;
		eq = memchr(key, '=', (size_t)(rec + rec_len - 1 - key));
		if (!eq || eq == key || memchr(rec, '\0', rec_len))
			return fail(r, diag, -EBADMSG,
				    "tar: malformed pax extended header record at offset %zu (%s)",
				    off, r->what);
		key_len = (size_t)(eq - key);
		val = eq + 1;
		val_len = (size_t)(rec + rec_len - 1 - val);
		off += rec_len;

#define KEY_IS(k) (key_len == sizeof(k) - 1 && memcmp(key, k, key_len) == 0)
		if (KEY_IS("path")) {
			if (val_len == 0 || val_len > LP_TAR_NAME_MAX)
				return fail(r, diag, -EBADMSG,
					    "tar: pax path of %zu bytes (limit %d) (%s)", val_len,
					    LP_TAR_NAME_MAX, r->what);
			memcpy(pax->path, val, val_len);
			pax->path[val_len] = '\0';
			pax->has_path = true;
		} else if (KEY_IS("size")) {
			if (!parse_decimal(val, val_len, &pax->size) || pax->size > INT64_MAX)
				return fail(r, diag, -EBADMSG, "tar: bad pax size %.*s (%s)",
					    (int)(val_len > 32 ? 32 : val_len), val, r->what);
			pax->has_size = true;
		} else if (KEY_IS("mtime")) {
			if (!parse_pax_time(val, val_len, &pax->mtime))
				return fail(r, diag, -EBADMSG, "tar: bad pax mtime %.*s (%s)",
					    (int)(val_len > 32 ? 32 : val_len), val, r->what);
			pax->has_mtime = true;
		} else if (KEY_IS("linkpath")) {
			return fail(r, diag, -EBADMSG,
				    "tar: pax header with linkpath (%s); only regular files are allowed",
				    r->what);
		} else if (key_len >= 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
			return fail(r, diag, -EBADMSG, "tar: member %s is a sparse file; not allowed",
				    r->what);
		} else {
			bool known = false;

			for (size_t i = 0; i < sizeof(pax_ignored) / sizeof(pax_ignored[0]); i++)
				if (strlen(pax_ignored[i]) == key_len &&
				    memcmp(pax_ignored[i], key, key_len) == 0)
					known = true;
			if (!known)
				return fail(r, diag, -EBADMSG, "tar: unsupported pax key %.*s (%s)",
					    (int)key_len, key, r->what);
		}
#undef KEY_IS
		/* Only the known keys above get here, so seen cannot overflow. */
		for (size_t i = 0; i < n_seen; i++)
			if (strlen(seen[i]) == key_len && memcmp(seen[i], key, key_len) == 0)
				return fail(r, diag, -EBADMSG, "tar: pax key %s given twice (%s)",
					    seen[i], r->what);
		if (key_len >= sizeof(seen[0]) || n_seen == sizeof(seen) / sizeof(seen[0]))
			return fail(r, diag, -EBADMSG, "tar: too many pax records (%s)", r->what);
		memcpy(seen[n_seen], key, key_len);
		seen[n_seen++][key_len] = '\0';
	}
	pax->present = true;
	return 0;
}

static const char *type_name(uint8_t t)
{
	switch (t) {
	case '1': return "a hard link";
	case '2': return "a symbolic link";
	case '3': return "a character device";
	case '4': return "a block device";
	case '5': return "a directory";
	case '6': return "a fifo";
	case '7': return "a contiguous file";
	case 'g': return "a pax global header";
	case 'L': case 'K': return "a GNU long name extension (GNU tar format)";
	case 'S': return "a GNU sparse file";
	case 'D': case 'M': case 'N': case 'V': return "a GNU tar extension";
	default: return "of an unknown type";
	}
}

/* Checks the padding after the data of the current member (all its data was read). */
static int check_padding(struct lp_tar_in *r, struct lp_diag *diag)
{
	size_t pad = (size_t)(tar_round_block(r->cur.size) - r->cur.size);
	ssize_t n;

	if (pad == 0)
		return 0;
	n = fill(r, pad);
	if (n < 0)
		return io_fail(r, diag, n, r->what);
	if ((size_t)n < pad)
		return fail(r, diag, -EBADMSG, "tar: truncated in the padding after member %s",
			    r->cur.name);
	for (size_t i = 0; i < pad; i++)
		if (r->buf[r->pos + i])
			return fail(r, diag, -EBADMSG,
				    "tar: non-zero padding after member %s at offset %llu",
				    r->cur.name, (unsigned long long)(r->offset + i));
	consume(r, pad);
	return 0;
}

/* The first zero block is at buf[pos]: check the second one and everything after. */
static int check_end(struct lp_tar_in *r, struct lp_diag *diag)
{
	uint64_t marker = r->offset, trailer = 0;
	ssize_t n;

	consume(r, LP_TAR_BLOCK);
	n = fill(r, LP_TAR_BLOCK);
	if (n < 0)
		return io_fail(r, diag, n, "in the end-of-archive marker");
	for (size_t i = 0; i < (size_t)n && i < LP_TAR_BLOCK; i++)
		if (r->buf[r->pos + i])
			return fail(r, diag, -EBADMSG, "tar: damaged end-of-archive marker at offset %llu",
				    (unsigned long long)(r->offset + i));
	if (n < LP_TAR_BLOCK)
		return fail(r, diag, -EBADMSG,
			    "tar: truncated: end-of-archive marker (two zero blocks) missing at offset %llu",
			    (unsigned long long)marker);
	consume(r, LP_TAR_BLOCK);
	for (;;) {
		n = fill(r, 1);
		if (n < 0)
			return io_fail(r, diag, n, "after the end of archive");
		if (n == 0)
			break;
		for (size_t i = 0; i < (size_t)n; i++)
			if (r->buf[r->pos + i])
				return fail(r, diag, -EBADMSG,
					    "tar: data after the end-of-archive marker at offset %llu",
					    (unsigned long long)(r->offset + i));
		trailer += (uint64_t)n;
		consume(r, (size_t)n);
		if (trailer > LP_TAR_TRAILER_MAX)
			return fail(r, diag, -EBADMSG,
				    "tar: more than %d bytes of padding after the end-of-archive marker",
				    LP_TAR_TRAILER_MAX);
	}
	if (r->offset % LP_TAR_BLOCK)
		return fail(r, diag, -EBADMSG, "tar: archive length %llu is not a multiple of 512",
			    (unsigned long long)r->offset);
	r->ended = true;
	return 0;
}

static int add_name(struct lp_tar_in *r, const char *name, struct lp_diag *diag)
{
	int rc = tar_names_add(&r->names, name);

	if (rc == -EEXIST)
		return fail(r, diag, -EBADMSG, "tar: duplicate member %s", name);
	if (rc == -E2BIG)
		return fail(r, diag, rc, "tar: more than %d members", LP_TAR_MAX_ENTRIES);
	if (rc < 0)
		return fail(r, diag, rc, "tar: out of memory");
	return 0;
}

int lp_tar_in_new(lp_tar_read_fn read, void *ctx, struct lp_tar_in **ret_reader)
{
	struct lp_tar_in *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->buf = malloc(LP_TAR_IN_BUFFER);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	r->read = read;
	r->ctx = ctx;
	snprintf(r->what, sizeof(r->what), "at the first member");
	*ret_reader = r;
	return 0;
}

/*
 * The next header block, at buf[pos] and not consumed yet: decoded, with its checksum,
 * magic and size field checked. 1 with *u and *ret_size; 0 at the end-of-archive marker
 * (which check_end then checked up to the end of the stream); or -errno.
 */
static int next_block(struct lp_tar_in *r, bool after_pax, struct ustar *u, uint64_t *ret_size,
		      struct lp_diag *diag)
{
	ssize_t n = fill(r, LP_TAR_BLOCK);
	bool canonical;

	if (n < 0)
		return io_fail(r, diag, n, r->what);
	if (n == 0 && !after_pax)
		return fail(r, diag, -EBADMSG,
			    "tar: truncated: end-of-archive marker (two zero blocks) missing at offset %llu",
			    (unsigned long long)r->offset);
	if (n < LP_TAR_BLOCK)
		return fail(r, diag, -EBADMSG, "tar: truncated header at offset %llu (%s)",
			    (unsigned long long)r->offset, r->what);
	if (all_zero(r->buf + r->pos, LP_TAR_BLOCK)) {
		if (after_pax)
			return fail(r, diag, -EBADMSG, "tar: end of archive right after a pax header (%s)",
				    r->what);
		return check_end(r, diag) < 0 ? r->err : 0;
	}
	ustar_decode(r->buf + r->pos, u);
	if (!checksum_ok(u, &canonical))
		return fail(r, diag, -EBADMSG, canonical ?
			    "tar: header checksum mismatch at offset %llu (%s)" :
			    "tar: header at offset %llu: checksum field is not six octal digits, NUL, space (%s)",
			    (unsigned long long)r->offset, r->what);
	if (memcmp(u->magic, "ustar  \0", USTAR_MAGIC) == 0)
		return fail(r, diag, -EBADMSG,
			    "tar: header at offset %llu is in GNU tar format; only ustar and pax are accepted",
			    (unsigned long long)r->offset);
	if (memcmp(u->magic, "ustar\0" "00", USTAR_MAGIC) != 0)
		return fail(r, diag, -EBADMSG,
			    "tar: header at offset %llu has no ustar magic (v7 tar or not a tar archive); only ustar and pax are accepted",
			    (unsigned long long)r->offset);
	if (!parse_number(u->size, USTAR_SIZE, ret_size))
		return fail(r, diag, -EBADMSG, "tar: header at offset %llu: bad size field (%s)",
			    (unsigned long long)r->offset, r->what);
	return 1;
}

/* The records of a pax extended header of size bytes whose header block is at buf[pos]:
 * the block, the records and their padding are consumed. */
static int read_pax(struct lp_tar_in *r, uint64_t size, struct pax *pax, struct lp_diag *diag)
{
	size_t padded = (size_t)tar_round_block(size);
	ssize_t n;
	int rc;

	if (size > LP_TAR_IN_PAX_MAX)
		return fail(r, diag, -EBADMSG, "tar: pax extended header of %llu bytes (limit %d) (%s)",
			    (unsigned long long)size, LP_TAR_IN_PAX_MAX, r->what);
	consume(r, LP_TAR_BLOCK);
	n = fill(r, padded);
	if (n < 0)
		return io_fail(r, diag, n, r->what);
	if ((size_t)n < padded)
		return fail(r, diag, -EBADMSG, "tar: truncated in a pax extended header (%s)", r->what);
	if (!all_zero(r->buf + r->pos + size, padded - (size_t)size))
		return fail(r, diag, -EBADMSG, "tar: non-zero padding after a pax extended header (%s)",
			    r->what);
	rc = parse_pax(r, (const char *)r->buf + r->pos, (size_t)size, pax, diag);
	if (rc < 0)
		return rc;
	consume(r, padded);
	return 0;
}

/* Anything but a regular file is refused, with a message naming the member. */
static int refuse_kind(struct lp_tar_in *r, const struct ustar *u, const struct pax *pax,
		       struct lp_diag *diag)
{
	uint8_t type = u->typeflag[0];
	char to[128] = "";

	if (type == '0' || type == '\0')
		return 0;
	if (type == '1' || type == '2')
		snprintf(to, sizeof(to), " (to %.*s)", (int)field_len(u->linkname, USTAR_LINKNAME),
			 (const char *)u->linkname);
	if (pax->has_path)
		return fail(r, diag, -EBADMSG, "tar: member %s is %s%s; only regular files are allowed",
			    pax->path, type_name(type), to);
	return fail(r, diag, -EBADMSG, "tar: member %.*s is %s%s; only regular files are allowed",
		    (int)field_len(u->name, USTAR_NAME), (const char *)u->name, type_name(type), to);
}

/* The member's name: the pax path, or ustar's prefix and name. */
static void member_name(const struct ustar *u, const struct pax *pax,
			char name[LP_TAR_NAME_MAX + 1])
{
	size_t pl = field_len(u->prefix, USTAR_PREFIX), nl = field_len(u->name, USTAR_NAME);

	if (pax->has_path)
		memcpy(name, pax->path, LP_TAR_NAME_MAX + 1);
	else if (pl)
		snprintf(name, LP_TAR_NAME_MAX + 1, "%.*s/%.*s", (int)pl, (const char *)u->prefix,
			 (int)nl, (const char *)u->name);
	else
		snprintf(name, LP_TAR_NAME_MAX + 1, "%.*s", (int)nl, (const char *)u->name);
}

/* Makes the member of ustar header u (at buf[pos]) and pax the current one: name rule,
 * size, mtime, the headers' length since start, duplicates. The header is consumed. */
static int start_member(struct lp_tar_in *r, const struct ustar *u, const struct pax *pax,
			uint64_t ustar_size, uint64_t start, struct lp_diag *diag)
{
	char name[LP_TAR_NAME_MAX + 1];
	uint64_t mtime;
	int rc;

	member_name(u, pax, name);
	/* The writer's rule; a bad name in an archive means the archive is corrupt. */
	if (lp_tar_name_check(name, diag) < 0) {
		r->err = -EBADMSG;
		return r->err;
	}
	memset(&r->cur, 0, sizeof(r->cur));
	snprintf(r->cur.name, sizeof(r->cur.name), "%s", name);
	r->cur.size = pax->has_size ? pax->size : ustar_size;
	if (r->cur.size > INT64_MAX)
		return fail(r, diag, -EBADMSG, "tar: member %s has no valid size", name);
	if (pax->has_mtime) {
		r->cur.mtime = pax->mtime;
	} else {
		if (!parse_number(u->mtime, USTAR_MTIME, &mtime) || mtime > INT64_MAX)
			return fail(r, diag, -EBADMSG, "tar: member %s: bad mtime field", name);
		r->cur.mtime = (int64_t)mtime;
	}
	r->cur.data_offset = r->offset + LP_TAR_BLOCK;
	if (r->cur.data_offset - start > LP_TAR_IN_HEADERS_MAX)
		return fail(r, diag, -EBADMSG, "tar: member %s: %llu bytes of headers (limit %d)",
			    name, (unsigned long long)(r->cur.data_offset - start),
			    LP_TAR_IN_HEADERS_MAX);
	rc = add_name(r, name, diag);
	if (rc < 0)
		return rc;
	consume(r, LP_TAR_BLOCK);
	r->cur_done = 0;
	r->in_entry = true;
	snprintf(r->what, sizeof(r->what), "after member %s", name);
	return 1;
}

/* Reads the header blocks of the next member (pax extended header, ustar header):
 * 1 with r->cur set, 0 at the clean end of the archive, or -errno. */
static int read_header(struct lp_tar_in *r, struct lp_diag *diag)
{
	struct pax pax = { 0 };
	uint64_t start = r->offset, ustar_size;
	struct ustar u;
	int rc;

	for (;;) {
		rc = next_block(r, pax.present, &u, &ustar_size, diag);
		if (rc <= 0)
			return rc;
		if (u.typeflag[0] != 'x')
			break;
		if (pax.present)
			return fail(r, diag, -EBADMSG, "tar: two pax extended headers in a row (%s)",
				    r->what);
		rc = read_pax(r, ustar_size, &pax, diag);
		if (rc < 0)
			return rc;
	}
	rc = refuse_kind(r, &u, &pax, diag);
	if (rc < 0)
		return rc;
	return start_member(r, &u, &pax, ustar_size, start, diag);
}

int lp_tar_in_next(struct lp_tar_in *r, struct lp_tar_entry *ret_entry, struct lp_diag *diag)
{
	int rc;

	if (r->err)
		return lp_diag_fail(diag, r->err, "tar: reader already failed");
	if (r->ended)
		return 0;
	if (r->in_entry) {
		const void *data;
		size_t len;

		while ((rc = lp_tar_in_data(r, &data, &len, diag)) == 1)
			;
		if (rc < 0)
			return rc;
		if (check_padding(r, diag) < 0)
			return r->err;
		r->in_entry = false;
	}
	rc = read_header(r, diag);
	if (rc == 1)
		*ret_entry = r->cur;
	return rc;
}

int lp_tar_in_data(struct lp_tar_in *r, const void **ret_data, size_t *ret_len,
		   struct lp_diag *diag)
{
	uint64_t left;
	size_t n;

	if (r->err)
		return lp_diag_fail(diag, r->err, "tar: reader already failed");
	if (!r->in_entry || r->cur_done == r->cur.size)
		return 0;
	left = r->cur.size - r->cur_done;
	if (r->len == r->pos) {
		ssize_t got = fill(r, left < LP_TAR_IN_BUFFER ? (size_t)left : LP_TAR_IN_BUFFER);

		if (got < 0)
			return fail(r, diag, (int)got, "tar: read error in member %s at offset %llu: %s",
				    r->cur.name, (unsigned long long)r->cur_done, strerror((int)-got));
		if (got == 0)
			return fail(r, diag, -EBADMSG, "tar: truncated in member %s at offset %llu",
				    r->cur.name, (unsigned long long)r->cur_done);
	}
	n = r->len - r->pos;
	if (n > left)
		n = (size_t)left;
	*ret_data = r->buf + r->pos;
	*ret_len = n;
	consume(r, n);
	r->cur_done += n;
	return 1;
}

ssize_t lp_tar_in_read(struct lp_tar_in *r, void *buf, size_t len, struct lp_diag *diag)
{
	size_t done = 0;

	while (done < len) {
		uint64_t left;
		size_t n;
		ssize_t got;

		if (r->err)
			return lp_diag_fail(diag, r->err, "tar: reader already failed");
		if (!r->in_entry || r->cur_done == r->cur.size)
			break;
		left = r->cur.size - r->cur_done;
		if (r->len == r->pos) {
			if (done > 0)
				break;
			got = fill(r, 1);
			if (got < 0)
				return fail(r, diag, (int)got,
					    "tar: read error in member %s at offset %llu: %s",
					    r->cur.name, (unsigned long long)r->cur_done,
					    strerror((int)-got));
			if (got == 0)
				return fail(r, diag, -EBADMSG,
					    "tar: truncated in member %s at offset %llu",
					    r->cur.name, (unsigned long long)r->cur_done);
		}
		n = r->len - r->pos;
		if (n > left)
			n = (size_t)left;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, r->buf + r->pos, n);
		consume(r, n);
		r->cur_done += n;
		done += n;
	}
	return (ssize_t)done;
}

uint64_t lp_tar_in_offset(const struct lp_tar_in *r)
{
	return r->offset;
}

void lp_tar_in_free(struct lp_tar_in *r)
{
	if (!r)
		return;
	tar_names_clear(&r->names);
	free(r->buf);
	free(r);
}

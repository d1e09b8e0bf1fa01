/* SPDX-License-Identifier: MIT */
/*
 * The tar cases both readers must pass, included by test-tar.c (the tests'
 * libarchive-based reference reader of tar-ref.h) and test-tar-read.c (the native
 * lp_tar_in of loopline/tar-read.h): round trips through the writer (pax for long names and sizes
 * above 8 GiB, deferred headers, and GNU tar reading our output), forbidden members
 * built by libarchive (links, devices, directories, traversal, duplicates, other tar
 * flavours, oversized headers) and hand-made damaged archives.
 *
 * The including file defines the reader under test first:
 *   TC_READER            the reader's struct type
 *   TC_NEW, TC_NEXT, TC_DATA, TC_READ, TC_FREE
 *                        its _new/_next/_data/_read/_free functions (same signatures)
 *   TC_DATA_MAX          the largest data block it may hand out
 *   TC_BIG_HEADER_MSG    the start of its message for an 8 KiB pax header
 * and includes <archive.h>, <archive_entry.h>, <cmocka.h> (with its prerequisites),
 * <errno.h>, <stdio.h>, <stdlib.h>, <string.h>, <unistd.h> and loopline/tar.h.
 */
#pragma once

#if !defined(TC_READER) || !defined(TC_NEW) || !defined(TC_NEXT) || !defined(TC_DATA) || \
	!defined(TC_READ) || !defined(TC_FREE) || !defined(TC_DATA_MAX) || !defined(TC_BIG_HEADER_MSG)
#error "define the reader under test before including tar-cases.h"
#endif

#include "mem-stream.h"

static ssize_t failing_read(void *ctx, void *buf, size_t len)
{
	return -EIO;
}

/* Reads every member; returns the result of the last next() and fills names/data. */
struct listing {
	size_t n;
	char names[8][LP_TAR_NAME_MAX + 1];
	uint64_t sizes[8];
	struct lp_diag diag;
	int rc;
};

static struct listing list_tar(const uint8_t *data, size_t len, size_t chunk)
{
	struct mem_reader mr = { .data = data, .len = len, .chunk = chunk };
	TC_READER *r;
	struct lp_tar_entry e;
	struct listing l = { 0 };
	int rc;

	assert_int_equal(TC_NEW(mem_read, &mr, &r), 0);
	while ((rc = TC_NEXT(r, &e, &l.diag)) == 1) {
		const void *block;
		size_t blen;
		uint64_t got = 0;

		assert_true(l.n < 8);
		snprintf(l.names[l.n], sizeof(l.names[0]), "%s", e.name);
		l.sizes[l.n] = e.size;
		l.n++;
		while ((rc = TC_DATA(r, &block, &blen, &l.diag)) == 1) {
			assert_true(blen <= TC_DATA_MAX);
			got += blen;
		}
		if (rc < 0)
			break;
		assert_int_equal(got, e.size);
	}
	l.rc = rc;
	TC_FREE(r);
	return l;
}

static char long_name[201];

static void test_roundtrip(void **state)
{
	struct mem out = { 0 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };
	const size_t sizes[] = { 0, 1, 511, 512, 513, 300000 };
	char name[32];
	uint8_t *data = malloc(300000);

	for (size_t i = 0; i < 300000; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	memset(long_name, 'n', 200);
	memcpy(long_name, "dir/sub/", 8);
	long_name[200] = '\0';

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	for (size_t i = 0; i < LP_ARRAY_SIZE(sizes); i++) {
		snprintf(name, sizeof(name), "m%zu.bin", i);
		assert_int_equal(lp_tar_writer_add(w, name, sizes[i], 1764097200, &d), 0);
		/* in two pieces */
		assert_int_equal(lp_tar_writer_write(w, data, sizes[i] / 2, &d), 0);
		assert_int_equal(lp_tar_writer_write(w, data + sizes[i] / 2, sizes[i] - sizes[i] / 2, &d), 0);
		assert_int_equal(lp_tar_writer_offset(w) % 512 == 0, sizes[i] % 512 == 0);
	}
	assert_int_equal(lp_tar_writer_add(w, long_name, 5, 0, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "hello", 5, &d), 0);
	assert_int_equal(lp_tar_writer_finish(w, &d), 0);
	assert_int_equal(lp_tar_writer_offset(w), out.len);
	lp_tar_writer_free(w);
	assert_int_equal(out.len % 512, 0);
	/* The long name went into a pax header. */
	assert_non_null(memmem(out.data, out.len, " path=dir/sub/nnn", 17));

	for (size_t chunk = 0; chunk <= 1; chunk++) {
		struct listing l = list_tar(out.data, out.len, chunk ? 1 : 0);

		if (l.rc != 0)
			fail_msg("%s", l.diag.msg);
		assert_int_equal(l.n, 7);
		assert_string_equal(l.names[6], long_name);
		for (size_t i = 0; i < LP_ARRAY_SIZE(sizes); i++)
			assert_int_equal(l.sizes[i], sizes[i]);
	}
	/* Data comes back byte for byte (copying reader). */
	{
		struct mem_reader mr = { .data = out.data, .len = out.len };
		TC_READER *r;
		struct lp_tar_entry e;
		uint8_t *back = malloc(300000);
		size_t got = 0;

		assert_int_equal(TC_NEW(mem_read, &mr, &r), 0);
		for (int i = 0; i < 6; i++)
			assert_int_equal(TC_NEXT(r, &e, &d), 1);
		assert_int_equal(e.size, 300000);
		assert_int_equal(e.mtime, 1764097200);
		while (got < 300000) {
			ssize_t n = TC_READ(r, back + got, 4000, &d);

			assert_true(n > 0);
			got += (size_t)n;
		}
		assert_int_equal(TC_READ(r, back, 10, &d), 0);
		assert_memory_equal(back, data, 300000);
		free(back);
		TC_FREE(r);
	}

	/* GNU tar reads it too. */
	{
		char path[] = "/tmp/test-tar-XXXXXX";
		char cmd[256], line[512];
		int fd = mkstemp(path);
		FILE *p;
		size_t n = 0;

		assert_true(fd >= 0);
		assert_int_equal(write(fd, out.data, out.len), (ssize_t)out.len);
		close(fd);
		snprintf(cmd, sizeof(cmd), "tar -tf %s 2>&1", path);
		p = popen(cmd, "r");
		assert_non_null(p);
		while (fgets(line, sizeof(line), p)) {
			line[strcspn(line, "\n")] = '\0';
			if (n < 6) {
				snprintf(name, sizeof(name), "m%zu.bin", n);
				assert_string_equal(line, name);
			} else {
				assert_string_equal(line, long_name);
			}
			n++;
		}
		assert_int_equal(pclose(p), 0);
		assert_int_equal(n, 7);
		unlink(path);
	}
	free(out.data);
	free(data);
}

/* A 9 GiB member: the header must say so (via pax). Only the start is kept. */
static void test_huge_size(void **state)
{
	const uint64_t size = 9ULL << 30;
	struct mem out = { .cap = 64 * 1024 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };
	TC_READER *r;
	struct lp_tar_entry e;
	uint8_t block[8192] = { 1, 2, 3 };
	const void *data;
	size_t len, total = 0;
	int rc;

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_add(w, "big.img", size, 0, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, block, sizeof(block), &d), 0);
	lp_tar_writer_free(w); /* abandoned: nothing more is written */
	assert_true(out.len < 64 * 1024);
	assert_non_null(memmem(out.data, out.len, " size=9663676416\n", 17));

	{
		struct mem_reader mr = { .data = out.data, .len = out.len };

		assert_int_equal(TC_NEW(mem_read, &mr, &r), 0);
		assert_int_equal(TC_NEXT(r, &e, &d), 1);
		assert_string_equal(e.name, "big.img");
		assert_int_equal(e.size, size);
		while ((rc = TC_DATA(r, &data, &len, &d)) == 1)
			total += len;
		assert_int_equal(rc, -EBADMSG);
		assert_int_equal(total, sizeof(block));
		assert_string_equal(d.msg, "tar: truncated in member big.img at offset 8192");
		TC_FREE(r);
	}
	free(out.data);

	/* Just below the ustar limit: no pax header. */
	memset(&out, 0, sizeof(out));
	out.cap = 4096;
	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_add(w, "edge.img", LP_TAR_USTAR_SIZE_MAX, 0, &d), 0);
	assert_int_equal(lp_tar_writer_offset(w), 512);
	lp_tar_writer_free(w);
	free(out.data);
}

static void test_deferred(void **state)
{
	struct mem out = { 0 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };
	uint8_t hdr[LP_TAR_BLOCK];
	uint64_t off;
	struct listing l;

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_add(w, "first", 3, 0, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "abc", 3, &d), 0);
	assert_int_equal(lp_tar_writer_begin_deferred(w, "second", 0, &d), 0);
	/* no other member can start while a deferred one is open */
	assert_int_equal(lp_tar_writer_add(w, "x", 1, 0, &d), -EINVAL);
	assert_int_equal(lp_tar_writer_write(w, "0123456789", 10, &d), 0);
	assert_int_equal(lp_tar_writer_end_deferred(w, hdr, &off, &d), 0);
	assert_int_equal(off, 1024);
	assert_int_equal(lp_tar_writer_add(w, "third", 2, 0, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "zz", 2, &d), 0);
	assert_int_equal(lp_tar_writer_finish(w, &d), 0);
	lp_tar_writer_free(w);

	/* Without the header in place the archive is damaged; with it, it reads. */
	l = list_tar(out.data, out.len, 0);
	assert_true(l.rc < 0);
	memcpy(out.data + off, hdr, sizeof(hdr));
	l = list_tar(out.data, out.len, 0);
	if (l.rc != 0)
		fail_msg("%s", l.diag.msg);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[1], "second");
	assert_int_equal(l.sizes[1], 10);
	free(out.data);
}

/* ---- archives with forbidden members, built by libarchive ---- */

static la_ssize_t la_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	mem_write(ctx, buf, len);
	return (la_ssize_t)len;
}

enum la_kind { K_FILE, K_DIR, K_SYMLINK, K_HARDLINK, K_CHR, K_BLK, K_FIFO };

static struct mem la_archive(int format, const char *name, enum la_kind kind, const char *name2)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct mem out = { 0 };

	if (format == ARCHIVE_FORMAT_TAR)
		assert_int_equal(archive_write_set_format_v7tar(a), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format(a, format), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open2(a, &out, NULL, la_write_cb, NULL, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(e, "ok.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 3);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "abc", 3), 3);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_perm(e, 0644);
	switch (kind) {
	case K_FILE: archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_size(e, 1); break;
	case K_DIR: archive_entry_set_filetype(e, AE_IFDIR); break;
	case K_SYMLINK: archive_entry_set_filetype(e, AE_IFLNK); archive_entry_set_symlink(e, name2); break;
	case K_HARDLINK: archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_hardlink(e, name2); break;
	case K_CHR: archive_entry_set_filetype(e, AE_IFCHR); archive_entry_set_rdev(e, 0x0501); break;
	case K_BLK: archive_entry_set_filetype(e, AE_IFBLK); archive_entry_set_rdev(e, 0x0801); break;
	case K_FIFO: archive_entry_set_filetype(e, AE_IFIFO); break;
	}
	assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
	if (kind == K_FILE)
		assert_int_equal(archive_write_data(a, "x", 1), 1);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	return out;
}

static void expect_reject(struct mem m, const char *msg)
{
	struct listing l = list_tar(m.data, m.len, 0);

	if (l.rc != -EBADMSG || !strstr(l.diag.msg, msg))
		fail_msg("expected \"%s\", got %d \"%s\"", msg, l.rc, l.diag.msg);
	free(m.data);
}

static void test_reject_members(void **state)
{
	const int pax = ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ustar = ARCHIVE_FORMAT_TAR_USTAR;
	struct mem ok = la_archive(ustar, "fine.bin", K_FILE, NULL);
	struct listing l = list_tar(ok.data, ok.len, 0);

	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 2);
	free(ok.data);

	expect_reject(la_archive(pax, "d", K_DIR, NULL), "tar: member d/ is a directory");
	expect_reject(la_archive(pax, "l", K_SYMLINK, "/etc/shadow"), "tar: member l is a symbolic link");
	expect_reject(la_archive(pax, "h", K_HARDLINK, "ok.bin"), "tar: member h is a hard link (to ok.bin)");
	expect_reject(la_archive(pax, "c", K_CHR, NULL), "tar: member c is a character device");
	expect_reject(la_archive(pax, "b", K_BLK, NULL), "tar: member b is a block device");
	expect_reject(la_archive(pax, "f", K_FIFO, NULL), "tar: member f is a fifo");
	expect_reject(la_archive(pax, "/etc/passwd", K_FILE, NULL), "tar: member /etc/passwd: absolute name");
	expect_reject(la_archive(pax, "a/../../b", K_FILE, NULL), "tar: member a/../../b: '..' component");
	expect_reject(la_archive(pax, "..", K_FILE, NULL), "'..' component");
	expect_reject(la_archive(pax, "ok.bin", K_FILE, NULL), "tar: duplicate member ok.bin");
	expect_reject(la_archive(ARCHIVE_FORMAT_TAR_GNUTAR, "g.bin", K_FILE, NULL),
		      "only ustar and pax are accepted");
	expect_reject(la_archive(ARCHIVE_FORMAT_TAR, "v7.bin", K_FILE, NULL),
		      "only ustar and pax are accepted");
}

/* A member whose pax extended header carries 8 KiB of attributes: over the header limit. */
static void test_reject_big_headers(void **state)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct mem out = { 0 };
	char *value = malloc(8192);

	memset(value, 'v', 8192);
	assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open2(a, &out, NULL, la_write_cb, NULL, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(e, "fat.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 1);
	archive_entry_xattr_add_entry(e, "user.big", value, 8192);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "x", 1), 1);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	free(value);
	expect_reject(out, TC_BIG_HEADER_MSG);
}

/* A hand-made ustar header. */
static void ustar_header(uint8_t h[512], const char *name, uint64_t size, char type)
{
	unsigned sum = 0;

	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)(size & 077777777777ULL));
	memcpy(h + 136, "00000000000", 12);
	h[156] = (uint8_t)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

static void test_reject_raw(void **state)
{
	uint8_t buf[512 * 8];
	struct mem m;
	struct listing l;

	/* Reference: one member, end marker. */
	memset(buf, 0, sizeof(buf));
	ustar_header(buf, "a", 3, '0');
	memcpy(buf + 512, "abc", 3);
	l = list_tar(buf, 512 * 4, 0);
	if (l.rc != 0)
		fail_msg("%s", l.diag.msg);

	/* Empty name. */
	memset(buf, 0, sizeof(buf));
	ustar_header(buf, "", 3, '0');
	m.data = malloc(512 * 4);
	memcpy(m.data, buf, 512 * 4);
	m.len = 512 * 4;
	expect_reject(m, "tar: member with an empty name");

	/* Non-zero data padding, damaged end marker, missing end marker, garbage after. */
	memset(buf, 0, sizeof(buf));
	ustar_header(buf, "a", 3, '0');
	memcpy(buf + 512, "abc", 3);
	buf[512 + 100] = 'x';
	l = list_tar(buf, 512 * 4, 0);
	assert_int_equal(l.rc, -EBADMSG);
	assert_string_equal(l.diag.msg, "tar: non-zero padding after member a at offset 612");
	buf[512 + 100] = 0;
	buf[512 * 3 + 7] = 1;
	l = list_tar(buf, 512 * 4, 0);
	assert_int_equal(l.rc, -EBADMSG);
	assert_string_equal(l.diag.msg, "tar: damaged end-of-archive marker at offset 1543");
	buf[512 * 3 + 7] = 0;
	l = list_tar(buf, 512 * 2, 0);
	assert_int_equal(l.rc, -EBADMSG);
	assert_non_null(strstr(l.diag.msg, "end-of-archive marker (two zero blocks) missing"));
	l = list_tar(buf, 512 * 3, 0);
	assert_int_equal(l.rc, -EBADMSG);
	l = list_tar(buf, 512 * 4 + 100, 0);
	assert_int_equal(l.rc, -EBADMSG);
	assert_non_null(strstr(l.diag.msg, "not a multiple of 512"));
	buf[512 * 5] = 'G';
	l = list_tar(buf, 512 * 6, 0);
	assert_int_equal(l.rc, -EBADMSG);
	assert_string_equal(l.diag.msg, "tar: data after the end-of-archive marker at offset 2560");
	buf[512 * 5] = 0;
	l = list_tar(buf, 512 * 6, 0);
	assert_int_equal(l.rc, 0);

	/* A checksum field in a non-canonical form (libarchive would accept it). */
	ustar_header(buf, "a", 3, '0');
	buf[154] = ' ';
	buf[155] = 0;
	l = list_tar(buf, 512 * 4, 0);
	assert_int_equal(l.rc, -EBADMSG);
	assert_non_null(strstr(l.diag.msg, "checksum field"));

	/* A damaged header; not a tar at all; empty input; a failing source. */
	ustar_header(buf, "a", 3, '0');
	buf[10] = 'z';
	l = list_tar(buf, 512 * 4, 0);
	assert_int_equal(l.rc, -EBADMSG);
	l = list_tar((const uint8_t *)"hello world", 11, 0);
	assert_int_equal(l.rc, -EBADMSG);
	l = list_tar(buf, 0, 0);
	assert_int_equal(l.rc, -EBADMSG);
	{
		TC_READER *r;
		struct lp_tar_entry e;
		struct lp_diag d = { 0 };

		assert_int_equal(TC_NEW(failing_read, NULL, &r), 0);
		assert_int_equal(TC_NEXT(r, &e, &d), -EIO);
		assert_non_null(strstr(d.msg, "read error"));
		TC_FREE(r);
	}
	/* An empty archive (just the end marker) is fine. */
	memset(buf, 0, sizeof(buf));
	l = list_tar(buf, 1024, 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 0);
}

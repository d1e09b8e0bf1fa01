/* SPDX-License-Identifier: MIT */
/*
 * The tar writer (loopline/tar.h): the cases of tar-cases.h (round trips, GNU tar reading
 * our output, forbidden members and damaged ends, shared with test-tar-read.c) read back
 * through the tests' libarchive-based reference reader (tar-ref.h), plus writer misuse,
 * the name rules, and the writer's bytes next to libarchive's for the same members.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/tar.h"
#include "tar-ref.h"

#define TC_READER struct tar_ref
#define TC_NEW tar_ref_new
#define TC_NEXT tar_ref_next
#define TC_DATA tar_ref_data
#define TC_READ tar_ref_read
#define TC_FREE tar_ref_free
#define TC_DATA_MAX TAR_REF_BUFFER
#define TC_BIG_HEADER_MSG "tar: member fat.bin: "
#include "tar-cases.h"

static void test_writer_misuse(void **state)
{
	struct mem out = { 0 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };
	const char *bad[] = { "", "/etc/passwd", "../up", "a/../b", "a//b", "a/", "./a", "a\nb" };

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++)
		assert_int_equal(lp_tar_writer_add(w, bad[i], 0, 0, &d), -EINVAL);
	assert_int_equal(lp_tar_writer_add(w, "a", 2, 0, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "abc", 3, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "more than the 2 bytes"));
	lp_tar_writer_free(w);

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_add(w, "a", 2, 0, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "a", 1, &d), 0);
	assert_int_equal(lp_tar_writer_finish(w, &d), -EINVAL);
	assert_string_equal(d.msg, "tar: member a: 1 bytes written, header says 2");
	lp_tar_writer_free(w);

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_add(w, "a", 0, 0, &d), 0);
	assert_int_equal(lp_tar_writer_add(w, "a", 0, 0, &d), -EINVAL);
	assert_string_equal(d.msg, "tar: duplicate member a");
	lp_tar_writer_free(w);
	free(out.data);
}

static void test_name_check(void **state)
{
	assert_int_equal(lp_tar_name_check("a/b.c", NULL), 0);
	assert_int_equal(lp_tar_name_check("a..b", NULL), 0);
	assert_int_equal(lp_tar_name_check("...", NULL), 0);
	assert_int_equal(lp_tar_name_check("a/./b", NULL), -EINVAL);
	assert_int_equal(lp_tar_name_check("a/..", NULL), -EINVAL);
	assert_int_equal(lp_tar_name_check("a\x7f", NULL), -EINVAL);
	{
		char n[LP_TAR_NAME_MAX + 2];

		memset(n, 'x', sizeof(n) - 1);
		n[sizeof(n) - 1] = '\0';
		assert_int_equal(lp_tar_name_check(n, NULL), -EINVAL);
		n[sizeof(n) - 2] = '\0';
		assert_int_equal(lp_tar_name_check(n, NULL), 0);
	}
}

/* ---- the same bytes as libarchive ---- */

/* One member as libarchive's pax-restricted writer encodes it (the writer this one
 * replaced): header blocks, data, padding. */
static void la_member(struct mem *out, const char *name, uint64_t size, int64_t mtime,
		      const uint8_t *data)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	uint8_t zero[LP_TAR_BLOCK] = { 0 };
	size_t before;

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open2(a, out, NULL, la_write_cb, NULL, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, mtime, 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (size)
		assert_int_equal(archive_write_data(a, data, size), (la_ssize_t)size);
	assert_int_equal(archive_write_finish_entry(a), ARCHIVE_OK);
	/* libarchive writes the end marker on close: cut it off again */
	before = out->len;
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	assert_int_equal(out->len - before, 2 * LP_TAR_BLOCK);
	assert_memory_equal(out->data + before, zero, LP_TAR_BLOCK);
	out->len = before;
	archive_write_free(a);
	archive_entry_free(e);
}

/* Ordinary members (names that fit ustar, with or without a prefix split; sizes in the
 * octal range, mtimes before 2038) come out byte for byte as libarchive wrote them, so
 * packages did not change when the native writer replaced it. (From 2038 on libarchive
 * added a pax mtime record; this writer uses the octal field up to its limit in 2242,
 * so a deferred header keeps working after 2038.) */
static void test_same_bytes_as_libarchive(void **state)
{
	static uint8_t data[70000];
	char name100[101], split[160];
	const struct {
		const char *name;
		uint64_t size;
		int64_t mtime;
	} cases[] = {
		{ "manifest.json", 845, 1764097200 },
		{ "manifest.sig", 158, 1764097200 },
		{ "rootfs.img", 70000, 0 },
		{ "empty.bin", 0, 1 },
		{ "a/b/c.bin", 512, 2147483646 },
		{ name100, 511, 1700000000 },
		{ split, 513, 1700000000 },
	};
	struct mem ours = { 0 }, theirs = { 0 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 7);
	memset(name100, 'x', 100);
	name100[100] = '\0';
	memset(split, 'p', 150); /* 60 bytes of prefix, 89 of name */
	split[60] = '/';
	split[150] = '\0';
	assert_int_equal(lp_tar_writer_new(mem_write, &ours, &w), 0);
	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		assert_int_equal(lp_tar_writer_add(w, cases[i].name, cases[i].size, cases[i].mtime, &d), 0);
		assert_int_equal(lp_tar_writer_write(w, data, cases[i].size, &d), 0);
		la_member(&theirs, cases[i].name, cases[i].size, cases[i].mtime, data);
	}
	assert_int_equal(lp_tar_writer_finish(w, &d), 0);
	lp_tar_writer_free(w);
	assert_int_equal(ours.len, theirs.len + 2 * LP_TAR_BLOCK);
	assert_memory_equal(ours.data, theirs.data, theirs.len);
	assert_null(memmem(ours.data, ours.len, "PaxHeader", 9)); /* no pax was needed */

	/* A deferred header is the header libarchive writes for the final size. */
	free(ours.data);
	free(theirs.data);
	memset(&ours, 0, sizeof(ours));
	memset(&theirs, 0, sizeof(theirs));
	{
		uint8_t hdr[LP_TAR_BLOCK];
		uint64_t off;

		assert_int_equal(lp_tar_writer_new(mem_write, &ours, &w), 0);
		assert_int_equal(lp_tar_writer_begin_deferred(w, "rootfs.img.zst", 1764097200, &d), 0);
		assert_int_equal(lp_tar_writer_write(w, data, 12345, &d), 0);
		assert_int_equal(lp_tar_writer_end_deferred(w, hdr, &off, &d), 0);
		assert_int_equal(off, 0);
		lp_tar_writer_free(w);
		la_member(&theirs, "rootfs.img.zst", 12345, 1764097200, data);
		assert_memory_equal(hdr, theirs.data, LP_TAR_BLOCK);
	}
	free(ours.data);
	free(theirs.data);
}

/* Out-of-range mtimes and huge sizes go into pax records; a deferred header cannot hold
 * them. */
static void test_pax_records_written(void **state)
{
	struct mem out = { 0 };
	struct lp_tar_writer *w;
	struct lp_diag d = { 0 };
	uint8_t hdr[LP_TAR_BLOCK];
	uint64_t off;

	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_add(w, "old", 1, -5, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "o", 1, &d), 0);
	assert_int_equal(lp_tar_writer_add(w, "future", 1, 077777777777LL + 1, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "f", 1, &d), 0);
	assert_int_equal(lp_tar_writer_add(w, "2242", 1, 077777777777LL, &d), 0);
	assert_int_equal(lp_tar_writer_write(w, "y", 1, &d), 0);
	assert_int_equal(lp_tar_writer_finish(w, &d), 0);
	lp_tar_writer_free(w);
	assert_non_null(memmem(out.data, out.len, "12 mtime=-5\n", 12));
	assert_non_null(memmem(out.data, out.len, "20 mtime=8589934592\n", 20));
	assert_null(memmem(out.data, out.len, "PaxHeader/2242", 14)); /* the octal field holds it */
	{
		struct listing l = list_tar(out.data, out.len, 0);

		if (l.rc != 0)
			fail_msg("%s", l.diag.msg);
		assert_int_equal(l.n, 3);
	}
	free(out.data);

	memset(&out, 0, sizeof(out));
	assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
	assert_int_equal(lp_tar_writer_begin_deferred(w, "neg", -1, &d), 0);
	assert_int_equal(lp_tar_writer_end_deferred(w, hdr, &off, &d), -EFBIG);
	assert_non_null(strstr(d.msg, "one-block header"));
	lp_tar_writer_free(w);
	free(out.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_huge_size),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_writer_misuse),
		cmocka_unit_test(test_reject_members),
		cmocka_unit_test(test_reject_big_headers),
		cmocka_unit_test(test_reject_raw),
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_same_bytes_as_libarchive),
		cmocka_unit_test(test_pax_records_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

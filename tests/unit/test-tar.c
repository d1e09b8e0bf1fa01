/* SPDX-License-Identifier: MIT */
/*
 * The libarchive-based tar layer (loopline/tar.h): the cases of tar-cases.h (round
 * trips, GNU tar reading our output, forbidden members and damaged ends, shared with
 * test-tar-read.c) through lp_tar_reader, plus writer misuse and the name rules.
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

#define TC_READER struct lp_tar_reader
#define TC_NEW lp_tar_reader_new
#define TC_NEXT lp_tar_reader_next
#define TC_DATA lp_tar_reader_data
#define TC_READ lp_tar_reader_read
#define TC_FREE lp_tar_reader_free
#define TC_DATA_MAX LP_TAR_READ_BUFFER
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

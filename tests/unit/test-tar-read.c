/* SPDX-License-Identifier: MIT */
/*
 * The native tar reader (loopline/tar-read.h): the cases of tar-cases.h (round trips
 * through the writer, pax for long names and sizes above 8 GiB,
 * deferred headers, forbidden members and damaged ends; test-tar.c runs them through
 * the tests' libarchive-based reference reader), plus: a cross-check that archives of
 * the writer read identically through the native reader and the reference (tar-ref.h),
 * archives written by GNU tar (pax and ustar read; gnu and v7 refused with a message),
 * and hand-made pax headers the reader must refuse.
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

#include "loopline/tar-read.h"
#include "loopline/tar.h"
#include "tar-ref.h"

#define TC_READER struct lp_tar_in
#define TC_NEW lp_tar_in_new
#define TC_NEXT lp_tar_in_next
#define TC_DATA lp_tar_in_data
#define TC_READ lp_tar_in_read
#define TC_FREE lp_tar_in_free
#define TC_DATA_MAX LP_TAR_IN_BUFFER
#define TC_BIG_HEADER_MSG "tar: pax extended header of 19176 bytes (limit 4096)"
#include "tar-cases.h"

/* ---- cross-check with the libarchive-based reference reader ---- */

struct member_rec {
	char name[LP_TAR_NAME_MAX + 1];
	uint64_t size, data_offset;
	int64_t mtime;
	uint8_t digest[32]; /* a cheap running hash of the data */
};

static void mix(uint8_t d[32], const uint8_t *p, size_t n, uint64_t *pos)
{
	for (size_t i = 0; i < n; i++, (*pos)++)
		d[*pos % 32] = (uint8_t)(d[*pos % 32] * 31 + p[i] + (*pos >> 5));
}

/* Reads an archive with one of the readers; returns the last rc and the members. */
static int read_all(bool native, const uint8_t *data, size_t len, size_t chunk,
		    struct member_rec *recs, size_t max, size_t *ret_n, struct lp_diag *d)
{
	struct mem_reader mr = { .data = data, .len = len, .chunk = chunk };
	struct lp_tar_in *in = NULL;
	struct tar_ref *la = NULL;
	struct lp_tar_entry e;
	size_t n = 0;
	int rc;

	if (native)
		assert_int_equal(lp_tar_in_new(mem_read, &mr, &in), 0);
	else
		assert_int_equal(tar_ref_new(mem_read, &mr, &la), 0);
	for (;;) {
		const void *block;
		size_t blen;
		uint64_t pos = 0;

		rc = native ? lp_tar_in_next(in, &e, d) : tar_ref_next(la, &e, d);
		if (rc != 1)
			break;
		assert_true(n < max);
		memset(&recs[n], 0, sizeof(recs[n]));
		snprintf(recs[n].name, sizeof(recs[n].name), "%s", e.name);
		recs[n].size = e.size;
		recs[n].mtime = e.mtime;
		recs[n].data_offset = e.data_offset;
		while ((rc = native ? lp_tar_in_data(in, &block, &blen, d) :
			     tar_ref_data(la, &block, &blen, d)) == 1)
			mix(recs[n].digest, block, blen, &pos);
		if (rc < 0)
			break;
		assert_int_equal(pos, e.size);
		n++;
	}
	if (rc == 0)
		assert_int_equal(native ? lp_tar_in_offset(in) : tar_ref_offset(la), len);
	lp_tar_in_free(in);
	tar_ref_free(la);
	*ret_n = n;
	return rc;
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245 + 12345;
	return rnd_state >> 8;
}

static void test_cross_check(void **state)
{
	static uint8_t payload[200000];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)rnd();
	for (int round = 0; round < 60; round++) {
		struct member_rec want[12], got_native[12], got_la[12];
		struct mem out = { 0 };
		struct lp_tar_writer *w;
		struct lp_diag d = { 0 };
		size_t members = rnd() % 10, n_native, n_la;
		int rc;

		assert_int_equal(lp_tar_writer_new(mem_write, &out, &w), 0);
		for (size_t i = 0; i < members; i++) {
			static const size_t edges[] = { 0, 1, 511, 512, 513, 1024, 65536, 65537 };
			size_t len = rnd() % 4 ? edges[rnd() % 8] : rnd() % sizeof(payload);
			size_t name_len = rnd() % 3 ? 1 + rnd() % 40 : 90 + rnd() % 160;
			size_t off = rnd() % (sizeof(payload) - len + 1);
			int64_t mtime = rnd() % 3 ? (int64_t)rnd() : 0;
			uint64_t pos = 0;
			bool deferred = name_len <= 100 && rnd() % 4 == 0;
			char *name = want[i].name;

			memset(&want[i], 0, sizeof(want[i]));
			for (size_t k = 0; k < name_len; k++)
				name[k] = "abcdefghijklmnopqrstuvwxyz0123456789._-"[rnd() % 39];
			name[0] = 'm';
			name[1 % name_len] = (char)('a' + i);
			if (name_len > 20)
				name[10] = '/'; /* a directory part, for ustar's prefix field */
			name[name_len] = '\0';
			want[i].size = len;
			want[i].mtime = mtime;
			mix(want[i].digest, payload + off, len, &pos);
			if (deferred) {
				uint8_t hdr[LP_TAR_BLOCK];
				uint64_t hoff;

				assert_int_equal(lp_tar_writer_begin_deferred(w, name, mtime, &d), 0);
				assert_int_equal(lp_tar_writer_write(w, payload + off, len, &d), 0);
				assert_int_equal(lp_tar_writer_end_deferred(w, hdr, &hoff, &d), 0);
				memcpy(out.data + hoff, hdr, sizeof(hdr));
			} else {
				assert_int_equal(lp_tar_writer_add(w, name, len, mtime, &d), 0);
				assert_int_equal(lp_tar_writer_write(w, payload + off, len / 3, &d), 0);
				assert_int_equal(lp_tar_writer_write(w, payload + off + len / 3, len - len / 3, &d), 0);
			}
		}
		assert_int_equal(lp_tar_writer_finish(w, &d), 0);
		lp_tar_writer_free(w);

		rc = read_all(false, out.data, out.len, 0, got_la, 12, &n_la, &d);
		if (rc != 0)
			fail_msg("round %d: libarchive reader: %s", round, d.msg);
		assert_int_equal(n_la, members);
		for (size_t chunk = 0; chunk < 3; chunk++) {
			static const size_t chunks[] = { 0, 1, 7777 };

			/* chunk 1 is slow for big archives: only for small ones */
			if (chunks[chunk] == 1 && out.len > 300000)
				continue;
			rc = read_all(true, out.data, out.len, chunks[chunk], got_native, 12, &n_native, &d);
			if (rc != 0)
				fail_msg("round %d chunk %zu: native reader: %s", round, chunks[chunk], d.msg);
			assert_int_equal(n_native, members);
			for (size_t i = 0; i < members; i++) {
				assert_string_equal(got_native[i].name, want[i].name);
				assert_int_equal(got_native[i].size, want[i].size);
				assert_int_equal(got_native[i].mtime, want[i].mtime);
				assert_memory_equal(got_native[i].digest, want[i].digest, 32);
				assert_memory_equal(&got_native[i], &got_la[i], sizeof(got_la[i]));
			}
		}
		free(out.data);
	}
}

/* ---- archives written by GNU tar ---- */

static char tmpdir[64];

static void sh(const char *fmt, ...) LP_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static struct mem slurp(const char *path)
{
	struct mem m = { 0 };
	FILE *f = fopen(path, "rb");
	uint8_t buf[65536];
	size_t n;

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		mem_write(&m, buf, n);
	fclose(f);
	return m;
}

static struct mem gnu_tar(const char *format, const char *files)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/out.tar", tmpdir);
	sh("cd %s/src && tar --format=%s -cf %s %s", tmpdir, format, path, files);
	return slurp(path);
}

static char long_file[160];

static void test_gnu_tar(void **state)
{
	struct mem m;
	struct listing l;
	const char *const files = "a.bin empty sub/";

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-tar-read-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	/* 150 bytes: ustar splits it into prefix and name, pax uses a path record */
	memset(long_file, 'q', 150);
	memcpy(long_file + 50, "/", 1);
	long_file[150] = '\0';
	sh("mkdir -p %s/src/sub/%.50s && head -c 70000 /dev/urandom > %s/src/a.bin && : > %s/src/empty"
	   " && echo hello > %s/src/sub/%s", tmpdir, long_file, tmpdir, tmpdir, tmpdir, long_file);

	/* pax and ustar: read, names and sizes as GNU tar lists them. */
	for (int f = 0; f < 2; f++) {
		char want_long[200];

		m = gnu_tar(f ? "ustar" : "pax", "a.bin empty sub/qq*/qq*");
		l = list_tar(m.data, m.len, 0);
		if (l.rc != 0)
			fail_msg("%s: %s", f ? "ustar" : "pax", l.diag.msg);
		assert_int_equal(l.n, 3);
		assert_string_equal(l.names[0], "a.bin");
		assert_int_equal(l.sizes[0], 70000);
		assert_string_equal(l.names[1], "empty");
		assert_int_equal(l.sizes[1], 0);
		snprintf(want_long, sizeof(want_long), "sub/%s", long_file);
		assert_string_equal(l.names[2], want_long);
		assert_int_equal(l.sizes[2], 6);
		free(m.data);
	}
	/* A directory member; GNU's own format; v7. */
	m = gnu_tar("pax", files);
	expect_reject(m, "tar: member sub/ is a directory");
	m = gnu_tar("gnu", "a.bin");
	expect_reject(m, "is in GNU tar format; only ustar and pax are accepted");
	m = gnu_tar("v7", "a.bin");
	expect_reject(m, "no ustar magic");
	/* A name too long for ustar in GNU format: the GNU long-name member. */
	m = gnu_tar("gnu", "sub/qq*/qq*");
	expect_reject(m, "GNU tar format");
	sh("rm -rf %s", tmpdir);
}

/* ---- hand-made pax headers ---- */

/* A pax header with records, then a regular member "f" of 1 byte, then the end. */
static struct mem pax_archive(const char *records, char xtype, char mtype)
{
	struct mem m = { 0 };
	uint8_t h[512], z[1024] = { 0 };
	size_t len = strlen(records);

	ustar_header(h, "PaxHeaders/f", len, xtype);
	mem_write(&m, h, 512);
	mem_write(&m, records, len);
	mem_write(&m, z, (512 - len % 512) % 512);
	ustar_header(h, "f", 1, mtype);
	mem_write(&m, h, 512);
	mem_write(&m, "x", 1);
	mem_write(&m, z, 511);
	mem_write(&m, z, 1024);
	return m;
}

static void test_pax_records(void **state)
{
	struct mem m;
	struct listing l;

	m = pax_archive("16 path=renamed\n9 size=1\n27 mtime=1764097200.123456\n"
			"20 atime=1700000000\n", 'x', '0');
	l = list_tar(m.data, m.len, 0);
	if (l.rc != 0)
		fail_msg("%s", l.diag.msg);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "renamed");
	free(m.data);

	expect_reject(pax_archive("19 linkpath=target\n", 'x', '0'), "linkpath");
	expect_reject(pax_archive("22 GNU.sparse.major=1\n", 'x', '0'), "sparse");
	expect_reject(pax_archive("20 SCHILY.xattr.a=b\n", 'x', '0'), "unsupported pax key SCHILY.xattr.a");
	expect_reject(pax_archive("9 path=a\n9 path=b\n", 'x', '0'), "pax key path given twice");
	expect_reject(pax_archive("11 path=a\n", 'x', '0'), "malformed pax extended header record");
	expect_reject(pax_archive("8 path=a\n", 'x', '0'), "malformed pax extended header record");
	expect_reject(pax_archive("09 path=a\n", 'x', '0'), "malformed pax extended header record");
	expect_reject(pax_archive("8 patha\n", 'x', '0'), "malformed pax extended header record");
	expect_reject(pax_archive("11 size=-1\n", 'x', '0'), "bad pax size");
	expect_reject(pax_archive("13 path=../x\n", 'x', '0'), "'..' component");
	expect_reject(pax_archive("9 path=a\n", 'g', '0'), "is a pax global header");
	expect_reject(pax_archive("9 path=a\n", 'L', '0'), "GNU long name");
	expect_reject(pax_archive("9 path=a\n", 'x', 'x'), "two pax extended headers in a row");
	expect_reject(pax_archive("9 path=a\n", 'x', '2'), "tar: member a is a symbolic link");
	/* A pax size that disagrees with the data: the next header is not where it says. */
	expect_reject(pax_archive("13 size=1000\n", 'x', '0'), "truncated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_huge_size),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_reject_members),
		cmocka_unit_test(test_reject_big_headers),
		cmocka_unit_test(test_reject_raw),
		cmocka_unit_test(test_cross_check),
		cmocka_unit_test(test_gnu_tar),
		cmocka_unit_test(test_pax_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * bootenv: U-Boot single and redundant environments, grubenv, flag handling, CRC fallback,
 * limits, typed helpers, and simulated power cuts at every byte of a commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopline/bootenv.h"
#include "../../lib/bootenv-internal.h"

static char tmpdir[64];

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Reads a whole file (at most max bytes); returns its size or -1. */
static ssize_t read_file(const char *path, void *buf, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, max);
	close(fd);
	return n;
}

static void write_config(const char *name, const char *text, char *ret_path, size_t len)
{
	path_in(ret_path, len, name);
	write_file(ret_path, text, strlen(text));
}

static struct lp_bootenv *open_uboot(const char *cfg, unsigned flags, int expect)
{
	struct lp_bootenv *env = NULL;
	struct lp_diag d;
	char buf[700];
	int r;

	lp_diag_clear(&d);
	r = lp_bootenv_open(LP_BOOTENV_UBOOT, cfg, flags, &env, &d);
	if (r != expect)
		print_message("open: %d %s\n", r, lp_diag_format(&d, buf, sizeof(buf)));
	assert_int_equal(r, expect);
	return env;
}

static void commit_ok(struct lp_bootenv *env)
{
	struct lp_diag d;
	char buf[700];
	int r;

	lp_diag_clear(&d);
	r = lp_bootenv_commit(env, &d);
	if (r != 0)
		print_message("commit: %d %s\n", r, lp_diag_format(&d, buf, sizeof(buf)));
	assert_int_equal(r, 0);
	assert_false(lp_bootenv_dirty(env));
}

/* Builds a U-Boot copy image from "a=1\0b=2\0" style data (terminated by "\0\0"). */
static void make_image(uint8_t *img, size_t size, bool redundant, uint8_t flag, const char *data,
		       size_t data_len)
{
	size_t hdr = redundant ? 5 : 4;
	uint32_t crc;

	memset(img, 0xff, size);
	memcpy(img + hdr, data, data_len);
	crc = bootenv_crc32(0, img + hdr, size - hdr);
	img[0] = (uint8_t)crc;
	img[1] = (uint8_t)(crc >> 8);
	img[2] = (uint8_t)(crc >> 16);
	img[3] = (uint8_t)(crc >> 24);
	if (redundant)
		img[4] = flag;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lp-bootenv-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_crc32(void **state)
{
	(void)state;
	/* The standard check value of CRC-32/ISO-HDLC (zlib's crc32). */
	assert_int_equal(bootenv_crc32(0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(bootenv_crc32(0, "", 0), 0);
	/* Incremental use gives the same result. */
	assert_int_equal(bootenv_crc32(bootenv_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_uboot_single_roundtrip(void **state)
{
	char cfg[128], envp[128], text[300];
	struct lp_bootenv *env;
	uint8_t img[0x1000];
	const char *name, *value;

	(void)state;
	path_in(envp, sizeof(envp), "single.env");
	snprintf(text, sizeof(text), "%s 0 0x1000\n", envp);
	write_config("single.cfg", text, cfg, sizeof(cfg));

	/* Missing file: an error, or an empty environment with the defaults flag. */
	assert_null(open_uboot(cfg, 0, -ENOENT));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_true(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_count(env), 0);
	assert_int_equal(lp_bootenv_set(env, "boot_slot", "A"), 0);
	assert_int_equal(lp_bootenv_set(env, "bootargs", "console=ttyS0 root=/dev/vda2 quiet"), 0);
	assert_int_equal(lp_bootenv_set_uint(env, "bootlimit", 3), 0);
	assert_true(lp_bootenv_dirty(env));
	commit_ok(env);
	assert_false(lp_bootenv_from_defaults(env));
	lp_bootenv_free(env);

	/* The file is exactly one copy: CRC over the data area, entries, end, 0xFF. */
	assert_int_equal(read_file(envp, img, sizeof(img)), sizeof(img));
	{
		struct stat st;

		assert_int_equal(stat(envp, &st), 0);
		assert_int_equal(st.st_size, sizeof(img));
	}
	assert_memory_equal(img + 4, "boot_slot=A\0bootargs=console=ttyS0 root=/dev/vda2 quiet\0"
			    "bootlimit=3\0\0", 12 + 44 + 12 + 1);
	assert_int_equal(img[4 + 12 + 44 + 12 + 1], 0xff);
	assert_int_equal(img[sizeof(img) - 1], 0xff);
	{
		uint32_t crc = bootenv_crc32(0, img + 4, sizeof(img) - 4);

		assert_int_equal(img[0] | img[1] << 8 | img[2] << 16 | (uint32_t)img[3] << 24, crc);
	}

	env = open_uboot(cfg, 0, 0);
	assert_false(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_count(env), 3);
	assert_int_equal(lp_bootenv_entry(env, 1, &name, &value), 0);
	assert_string_equal(name, "bootargs");
	assert_string_equal(value, "console=ttyS0 root=/dev/vda2 quiet");
	assert_int_equal(lp_bootenv_entry(env, 3, &name, &value), -ENOENT);
	assert_string_equal(lp_bootenv_get(env, "boot_slot"), "A");
	assert_null(lp_bootenv_get(env, "nope"));
	assert_int_equal(lp_bootenv_unset(env, "bootargs"), 0);
	assert_int_equal(lp_bootenv_unset(env, "bootargs"), 0);
	assert_int_equal(lp_bootenv_set(env, "boot_slot", "B"), 0);
	commit_ok(env);
	lp_bootenv_free(env);

	env = open_uboot(cfg, 0, 0);
	assert_int_equal(lp_bootenv_count(env), 2);
	assert_null(lp_bootenv_get(env, "bootargs"));
	assert_string_equal(lp_bootenv_get(env, "boot_slot"), "B");
	lp_bootenv_free(env);

	/* No temporary file is left behind. */
	{
		char tmp[160];
		struct stat st;

		snprintf(tmp, sizeof(tmp), "%s.lp-new", envp);
		assert_int_equal(stat(tmp, &st), -1);
	}
}

static void test_uboot_single_in_larger_file(void **state)
{
	char cfg[128], envp[128], text[300];
	struct lp_bootenv *env;
	uint8_t disk[0x3000];

	(void)state;
	/* The environment at an offset inside a disk image: written in place, the bytes
	 * around it stay as they were. */
	memset(disk, 0x5a, sizeof(disk));
	path_in(envp, sizeof(envp), "disk.img");
	write_file(envp, disk, sizeof(disk));
	snprintf(text, sizeof(text), "%s 0x1000 0x1000\n", envp);
	write_config("disk.cfg", text, cfg, sizeof(cfg));
	assert_null(open_uboot(cfg, 0, -EBADMSG));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_true(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_set(env, "x", "1"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	assert_int_equal(read_file(envp, disk, sizeof(disk)), sizeof(disk));
	assert_int_equal(disk[0xfff], 0x5a);
	assert_int_equal(disk[0x2000], 0x5a);
	assert_memory_equal(disk + 0x1004, "x=1\0\0", 5);
	env = open_uboot(cfg, 0, 0);
	assert_string_equal(lp_bootenv_get(env, "x"), "1");
	lp_bootenv_free(env);
}

static void read_flags(const char *path, uint8_t *f0, uint8_t *f1)
{
	uint8_t buf[0x2000];

	assert_int_equal(read_file(path, buf, sizeof(buf)), sizeof(buf));
	*f0 = buf[4];
	*f1 = buf[0x1000 + 4];
}

static void test_uboot_redundant_roundtrip_and_flags(void **state)
{
	char cfg[128], envp[128], text[300];
	struct lp_bootenv *env;
	uint8_t f0, f1;

	(void)state;
	path_in(envp, sizeof(envp), "redund.env");
	snprintf(text, sizeof(text), "%s 0 0x1000\n%s 0x1000 0x1000\n", envp, envp);
	write_config("redund.cfg", text, cfg, sizeof(cfg));

	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_true(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_set(env, "n", "0"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	/* First write: both copies, copy 0 current with flag 1, copy 1 older with flag 0. */
	read_flags(envp, &f0, &f1);
	assert_int_equal(f0, 1);
	assert_int_equal(f1, 0);

	/* Each commit writes the other copy with the next flag value. */
	for (unsigned i = 1; i <= 6; i++) {
		char v[8];

		env = open_uboot(cfg, 0, 0);
		snprintf(v, sizeof(v), "%u", i - 1);
		assert_string_equal(lp_bootenv_get(env, "n"), v);
		snprintf(v, sizeof(v), "%u", i);
		assert_int_equal(lp_bootenv_set(env, "n", v), 0);
		commit_ok(env);
		lp_bootenv_free(env);
		read_flags(envp, &f0, &f1);
		if (i % 2) {
			assert_int_equal(f1, i + 1);
			assert_int_equal(f0, i);
		} else {
			assert_int_equal(f0, i + 1);
			assert_int_equal(f1, i);
		}
	}
	/* Two commits on the same open environment alternate copies too. */
	env = open_uboot(cfg, 0, 0);
	assert_int_equal(lp_bootenv_set(env, "n", "a"), 0);
	commit_ok(env);
	assert_int_equal(lp_bootenv_set(env, "n", "b"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	read_flags(envp, &f0, &f1);
	assert_int_equal(f0, 9);
	assert_int_equal(f1, 8);
	env = open_uboot(cfg, 0, 0);
	assert_string_equal(lp_bootenv_get(env, "n"), "b");
	lp_bootenv_free(env);
}

/* Writes two copies with given flags and values into one file. */
static void write_pair(const char *path, uint8_t flag0, const char *v0, uint8_t flag1,
		       const char *v1)
{
	static uint8_t buf[0x2000];
	char data[64];
	int n;

	n = snprintf(data, sizeof(data), "v=%s%c", v0, 0);
	make_image(buf, 0x1000, true, flag0, data, (size_t)n + 1);
	n = snprintf(data, sizeof(data), "v=%s%c", v1, 0);
	make_image(buf + 0x1000, 0x1000, true, flag1, data, (size_t)n + 1);
	write_file(path, buf, sizeof(buf));
}

static void expect_v(const char *cfg, const char *v)
{
	struct lp_bootenv *env = open_uboot(cfg, 0, 0);

	assert_string_equal(lp_bootenv_get(env, "v"), v);
	lp_bootenv_free(env);
}

static void test_uboot_flag_selection(void **state)
{
	char cfg[128], envp[128], text[300];

	(void)state;
	path_in(envp, sizeof(envp), "flags.env");
	snprintf(text, sizeof(text), "%s 0 0x1000\n%s 0x1000 0x1000\n", envp, envp);
	write_config("flags.cfg", text, cfg, sizeof(cfg));

	write_pair(envp, 3, "zero", 4, "one");
	expect_v(cfg, "one");
	write_pair(envp, 9, "zero", 4, "one");
	expect_v(cfg, "zero");
	/* 0 follows 0xFF. */
	write_pair(envp, 0xff, "zero", 0, "one");
	expect_v(cfg, "one");
	write_pair(envp, 0, "zero", 0xff, "one");
	expect_v(cfg, "zero");
	/* Equal flags: the first copy. */
	write_pair(envp, 5, "zero", 5, "one");
	expect_v(cfg, "zero");

	/* After 0xFF the next commit writes flag 0 into the other copy. */
	write_pair(envp, 0xfe, "zero", 0xff, "one");
	{
		struct lp_bootenv *env = open_uboot(cfg, 0, 0);
		uint8_t f0, f1;

		assert_string_equal(lp_bootenv_get(env, "v"), "one");
		assert_int_equal(lp_bootenv_set(env, "v", "two"), 0);
		commit_ok(env);
		lp_bootenv_free(env);
		read_flags(envp, &f0, &f1);
		assert_int_equal(f0, 0);
		assert_int_equal(f1, 0xff);
		expect_v(cfg, "two");
	}
}

static void corrupt_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_uboot_crc_fallback(void **state)
{
	char cfg[128], envp[128], text[300];
	struct lp_bootenv *env;
	struct lp_diag d;
	char msg[700];

	(void)state;
	path_in(envp, sizeof(envp), "crc.env");
	snprintf(text, sizeof(text), "%s 0 0x1000\n%s 0x1000 0x1000\n", envp, envp);
	write_config("crc.cfg", text, cfg, sizeof(cfg));

	/* The newer copy is damaged (a byte in its padding): the older one is used. */
	write_pair(envp, 1, "old", 2, "new");
	corrupt_byte(envp, 0x1000 + 0x800);
	expect_v(cfg, "old");
	/* A damaged CRC field counts the same. */
	write_pair(envp, 1, "old", 2, "new");
	corrupt_byte(envp, 0x1000 + 1);
	expect_v(cfg, "old");
	/* The older copy damaged: no effect. */
	write_pair(envp, 1, "old", 2, "new");
	corrupt_byte(envp, 0x10);
	expect_v(cfg, "new");

	/* A commit after a fallback overwrites the damaged copy and leaves the good one. */
	write_pair(envp, 1, "old", 2, "new");
	corrupt_byte(envp, 0x1000 + 0x20);
	env = open_uboot(cfg, 0, 0);
	assert_int_equal(lp_bootenv_set(env, "v", "newer"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	expect_v(cfg, "newer");
	corrupt_byte(envp, 0x1000 + 0x20);
	expect_v(cfg, "old");

	/* Both damaged: a clear error naming both copies, or defaults when asked. */
	write_pair(envp, 1, "old", 2, "new");
	corrupt_byte(envp, 0x10);
	corrupt_byte(envp, 0x1010);
	lp_diag_clear(&d);
	env = NULL;
	assert_int_equal(lp_bootenv_open(LP_BOOTENV_UBOOT, cfg, 0, &env, &d), -EBADMSG);
	assert_null(env);
	lp_diag_format(&d, msg, sizeof(msg));
	print_message("%s\n", msg);
	assert_non_null(strstr(msg, "copy 0 at offset 0x0): CRC mismatch"));
	assert_non_null(strstr(msg, "copy 1 at offset 0x1000): CRC mismatch"));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_true(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_count(env), 0);
	lp_bootenv_free(env);
}

static void test_uboot_two_files(void **state)
{
	char cfg[128], a[128], b[128], text[300];
	struct lp_bootenv *env;
	uint8_t buf[0x800];

	(void)state;
	path_in(a, sizeof(a), "copy-a.env");
	path_in(b, sizeof(b), "copy-b.env");
	snprintf(text, sizeof(text), "%s 0 0x800\n%s 0 0x800\n", a, b);
	write_config("twofiles.cfg", text, cfg, sizeof(cfg));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_int_equal(lp_bootenv_set(env, "k", "1"), 0);
	commit_ok(env);
	assert_int_equal(lp_bootenv_set(env, "k", "2"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	assert_int_equal(read_file(a, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(buf[4], 1);
	assert_memory_equal(buf + 5, "k=1\0\0", 5);
	assert_int_equal(read_file(b, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(buf[4], 2);
	assert_memory_equal(buf + 5, "k=2\0\0", 5);
	unlink(b);
	/* Without the defaults flag a missing file is an error even when the other copy
	 * is good. */
	assert_null(open_uboot(cfg, 0, -ENOENT));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_false(lp_bootenv_from_defaults(env));
	assert_string_equal(lp_bootenv_get(env, "k"), "1");
	lp_bootenv_free(env);
}

static struct lp_bootenv *decode(const char *data, size_t data_len, int expect, const char *msg)
{
	static uint8_t img[64];
	const uint8_t *copies[2] = { img, NULL };
	struct lp_bootenv *env = NULL;
	struct lp_diag d;
	int r;

	make_image(img, sizeof(img), false, 0, data, data_len);
	lp_diag_clear(&d);
	r = bootenv_uboot_decode(copies, sizeof(img), false, 0, &env, &d);
	if (r != expect || (msg && !strstr(d.msg, msg)))
		print_message("decode: %d %s\n", r, d.msg);
	assert_int_equal(r, expect);
	if (msg)
		assert_non_null(strstr(d.msg, msg));
	return env;
}

static void test_uboot_garbage(void **state)
{
	struct lp_bootenv *env;
	static uint8_t img[64];
	const uint8_t *copies[2] = { img, img };

	(void)state;
	env = decode("a=1\0b=\0\0", 8, 0, NULL);
	assert_string_equal(lp_bootenv_get(env, "b"), "");
	assert_string_equal(lp_bootenv_get(env, "a"), "1");
	lp_bootenv_free(env);
	/* An empty environment is valid. */
	env = decode("\0", 1, 0, NULL);
	assert_int_equal(lp_bootenv_count(env), 0);
	lp_bootenv_free(env);
	decode("a=1\0noequals\0\0", 15, -EBADMSG, "offset 4 has no '='");
	decode("=1\0\0", 4, -EBADMSG, "empty name");
	decode("a=1\0a=2\0\0", 9, -EBADMSG, "appears twice");
	/* No end marker: 60 bytes of "x=yyyy…" without NULs. */
	memset(img, 'y', sizeof(img));
	img[4] = 'x';
	img[5] = '=';
	{
		uint32_t crc = bootenv_crc32(0, img + 4, sizeof(img) - 4);
		struct lp_diag d;

		img[0] = (uint8_t)crc;
		img[1] = (uint8_t)(crc >> 8);
		img[2] = (uint8_t)(crc >> 16);
		img[3] = (uint8_t)(crc >> 24);
		lp_diag_clear(&d);
		assert_int_equal(bootenv_uboot_decode(copies, sizeof(img), false, 0, &env, &d),
				 -EBADMSG);
		assert_non_null(strstr(d.msg, "not NUL-terminated"));
		/* Commit of something decoded from memory is refused, not attempted. */
		env = decode("\0", 1, 0, NULL);
		assert_int_equal(lp_bootenv_commit(env, &d), -EBADF);
		lp_bootenv_free(env);
	}
}

static void test_limits(void **state)
{
	char cfg[128], envp[128], text[300];
	struct lp_bootenv *env;
	char *big;
	int r = 0;
	unsigned i;

	(void)state;
	path_in(envp, sizeof(envp), "limits.env");
	snprintf(text, sizeof(text), "%s 0 0x400\n", envp);
	write_config("limits.cfg", text, cfg, sizeof(cfg));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);

	assert_int_equal(lp_bootenv_set(env, "", "x"), -EINVAL);
	assert_int_equal(lp_bootenv_set(env, "a=b", "x"), -EINVAL);
	assert_int_equal(lp_bootenv_set(env, "a b", "x"), -EINVAL);
	assert_int_equal(lp_bootenv_set(env, "a\nb", "x"), -EINVAL);
	assert_int_equal(lp_bootenv_set(env, "a\x7f", "x"), -EINVAL);
	assert_int_equal(lp_bootenv_set(env, NULL, "x"), -EINVAL);
	assert_int_equal(lp_bootenv_set(env, "a", NULL), -EINVAL);
	big = malloc(LP_BOOTENV_VALUE_MAX + 2);
	assert_non_null(big);
	memset(big, 'n', LP_BOOTENV_NAME_MAX + 1);
	big[LP_BOOTENV_NAME_MAX + 1] = '\0';
	assert_int_equal(lp_bootenv_set(env, big, "x"), -EINVAL);
	big[LP_BOOTENV_NAME_MAX] = '\0';
	/* A name of the maximum length is fine. */
	assert_int_equal(lp_bootenv_set(env, big, "x"), 0);
	assert_int_equal(lp_bootenv_unset(env, big), 0);
	memset(big, 'v', LP_BOOTENV_VALUE_MAX + 1);
	big[LP_BOOTENV_VALUE_MAX + 1] = '\0';
	assert_int_equal(lp_bootenv_set(env, "a", big), -EINVAL);
	/* Fits the value limit but not a 1 KiB environment. */
	big[LP_BOOTENV_VALUE_MAX] = '\0';
	assert_int_equal(lp_bootenv_set(env, "a", big), -ENOSPC);
	assert_int_equal(lp_bootenv_count(env), 0);

	/* Fill exactly: data area is 0x400 - 4 bytes; entries plus the end marker. */
	big[0x400 - 4 - 1 - 3] = '\0'; /* "a=" + value + NUL == capacity */
	assert_int_equal(lp_bootenv_set(env, "a", big), 0);
	assert_int_equal(lp_bootenv_set(env, "b", ""), -ENOSPC);
	assert_string_equal(lp_bootenv_get(env, "a"), big);
	commit_ok(env);
	lp_bootenv_free(env);
	env = open_uboot(cfg, 0, 0);
	assert_string_equal(lp_bootenv_get(env, "a"), big);
	assert_int_equal(lp_bootenv_unset(env, "a"), 0);
	/* Variable count limit. */
	for (i = 0; i <= LP_BOOTENV_VARS_MAX && r == 0; i++) {
		char n[16];

		snprintf(n, sizeof(n), "%u", i);
		r = lp_bootenv_set(env, n, "");
	}
	/* 1 KiB fills up before 1024 variables. */
	assert_int_equal(r, -ENOSPC);
	lp_bootenv_free(env);
	free(big);
}

static void test_typed_helpers(void **state)
{
	char cfg[128], envp[128], text[300];
	struct lp_bootenv *env;
	struct lp_bootenv_boot b;
	struct lp_diag d;
	uint32_t u;
	bool f;

	(void)state;
	path_in(envp, sizeof(envp), "typed.env");
	snprintf(text, sizeof(text), "%s 0 0x1000\n%s 0x1000 0x1000\n", envp, envp);
	write_config("typed.cfg", text, cfg, sizeof(cfg));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);

	lp_diag_clear(&d);
	assert_int_equal(lp_bootenv_get_boot(env, &b, &d), 0);
	assert_string_equal(b.boot_slot, "");
	assert_false(b.upgrade_available);
	assert_int_equal(b.bootcount, 0);
	assert_false(b.has_bootlimit);

	assert_int_equal(lp_bootenv_set_uint(env, LP_BOOTENV_VAR_BOOTLIMIT, 3), 0);
	assert_int_equal(lp_bootenv_set(env, LP_BOOTENV_VAR_BOOTCOUNT, "7"), 0);
	assert_int_equal(lp_bootenv_arm_update(env, "B"), 0);
	commit_ok(env);
	lp_bootenv_free(env);

	env = open_uboot(cfg, 0, 0);
	assert_int_equal(lp_bootenv_get_boot(env, &b, &d), 0);
	assert_string_equal(b.boot_slot, "B");
	assert_true(b.upgrade_available);
	assert_int_equal(b.bootcount, 0);
	assert_true(b.has_bootlimit);
	assert_int_equal(b.bootlimit, 3);
	assert_int_equal(lp_bootenv_mark_good(env), 0);
	assert_int_equal(lp_bootenv_get_flag(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, true, &f), 0);
	assert_false(f);
	assert_int_equal(lp_bootenv_get_flag(env, "unset", true, &f), 0);
	assert_true(f);
	assert_int_equal(lp_bootenv_get_uint(env, "unset", &u), -ENOENT);

	/* Strict values. */
	static const char *const bad_uints[] = { "", "-1", "+1", "01", " 1", "1 ", "0x10",
						 "4294967296", "1a" };
	for (size_t i = 0; i < LP_ARRAY_SIZE(bad_uints); i++) {
		assert_int_equal(lp_bootenv_set(env, "n", bad_uints[i]), 0);
		assert_int_equal(lp_bootenv_get_uint(env, "n", &u), -EBADMSG);
	}
	assert_int_equal(lp_bootenv_set(env, "n", "4294967295"), 0);
	assert_int_equal(lp_bootenv_get_uint(env, "n", &u), 0);
	assert_int_equal(u, 4294967295u);
	assert_int_equal(lp_bootenv_set(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, "yes"), 0);
	lp_diag_clear(&d);
	assert_int_equal(lp_bootenv_get_boot(env, &b, &d), -EBADMSG);
	assert_string_equal(d.path, "upgrade_available");
	assert_non_null(strstr(d.msg, "\"yes\""));
	assert_int_equal(lp_bootenv_set_flag(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, true), 0);
	assert_int_equal(lp_bootenv_set(env, LP_BOOTENV_VAR_BOOTCOUNT, "x"), 0);
	assert_int_equal(lp_bootenv_get_boot(env, &b, &d), -EBADMSG);
	assert_string_equal(d.path, "bootcount");

	/* arm_update is all-or-nothing: a slot name that is too long for the environment
	 * leaves every variable as it was. */
	{
		char *slot = malloc(3000);

		assert_non_null(slot);
		memset(slot, 's', 2999);
		slot[2999] = '\0';
		assert_int_equal(lp_bootenv_set(env, LP_BOOTENV_VAR_BOOTCOUNT, "2"), 0);
		assert_int_equal(lp_bootenv_arm_update(env, "A"), 0);
		assert_int_equal(lp_bootenv_set(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, "0"), 0);
		assert_int_equal(lp_bootenv_set(env, LP_BOOTENV_VAR_BOOTCOUNT, "2"), 0);
		/* fill most of the 4 KiB */
		slot[2999 - 1200] = '\0';
		assert_int_equal(lp_bootenv_set(env, "filler", slot), 0);
		slot[2999 - 1200] = 's';
		assert_int_equal(lp_bootenv_arm_update(env, slot), -ENOSPC);
		assert_string_equal(lp_bootenv_get(env, LP_BOOTENV_VAR_BOOT_SLOT), "A");
		assert_string_equal(lp_bootenv_get(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE), "0");
		assert_string_equal(lp_bootenv_get(env, LP_BOOTENV_VAR_BOOTCOUNT), "2");
		free(slot);
	}
	lp_bootenv_free(env);

	{
		enum lp_bootenv_kind k;

		assert_int_equal(lp_bootenv_kind_parse("grub", &k), 0);
		assert_int_equal(k, LP_BOOTENV_GRUB);
		assert_int_equal(lp_bootenv_kind_parse("uboot", &k), 0);
		assert_int_equal(k, LP_BOOTENV_UBOOT);
		assert_int_equal(lp_bootenv_kind_parse("UBOOT", &k), -EINVAL);
		assert_string_equal(lp_bootenv_kind_name(LP_BOOTENV_GRUB), "grub");
	}
}

/* --- grubenv ------------------------------------------------------------------------ */

static struct lp_bootenv *open_grub(const char *path, unsigned flags, int expect,
				    struct lp_diag *d)
{
	struct lp_bootenv *env = NULL;
	char buf[700];
	int r;

	lp_diag_clear(d);
	r = lp_bootenv_open(LP_BOOTENV_GRUB, path, flags, &env, d);
	if (r != expect)
		print_message("open grub: %d %s\n", r, lp_diag_format(d, buf, sizeof(buf)));
	assert_int_equal(r, expect);
	return env;
}

static void test_grub_roundtrip(void **state)
{
	char path[128];
	struct lp_bootenv *env;
	struct lp_diag d;
	char block[1100];
	static const char expect[] = "# GRUB Environment Block\n"
				     "boot_slot=A\n"
				     "multi=line1\\\nline2 back\\\\slash\n";

	(void)state;
	path_in(path, sizeof(path), "grubenv");
	assert_null(open_grub(path, 0, -ENOENT, &d));
	env = open_grub(path, LP_BOOTENV_OPEN_DEFAULTS, 0, &d);
	assert_true(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_kind(env), LP_BOOTENV_GRUB);
	assert_int_equal(lp_bootenv_set(env, "boot_slot", "A"), 0);
	assert_int_equal(lp_bootenv_set(env, "multi", "line1\nline2 back\\slash"), 0);
	assert_int_equal(lp_bootenv_set(env, "#comment", "x"), -EINVAL);
	commit_ok(env);
	lp_bootenv_free(env);

	assert_int_equal(read_file(path, block, sizeof(block)), 1024);
	assert_memory_equal(block, expect, sizeof(expect) - 1);
	for (size_t i = sizeof(expect) - 1; i < 1024; i++)
		assert_int_equal(block[i], '#');

	env = open_grub(path, 0, 0, &d);
	assert_string_equal(lp_bootenv_get(env, "multi"), "line1\nline2 back\\slash");
	assert_string_equal(lp_bootenv_get(env, "boot_slot"), "A");
	assert_int_equal(lp_bootenv_unset(env, "multi"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	env = open_grub(path, 0, 0, &d);
	assert_int_equal(lp_bootenv_count(env), 1);
	/* 1024 - 25 header bytes: entries of 999 bytes fit, one more does not. */
	{
		char v[1000];

		memset(v, 'v', sizeof(v));
		v[999 - 3 - 12] = '\0'; /* "boot_slot=A\n" is 12, "x=" + v + "\n" the rest */
		assert_int_equal(lp_bootenv_set(env, "x", v), 0);
		assert_int_equal(lp_bootenv_set(env, "y", ""), -ENOSPC);
		/* an escaped character takes two bytes */
		v[0] = '\n';
		assert_int_equal(lp_bootenv_set(env, "x", v), -ENOSPC);
		v[0] = 'v';
		commit_ok(env);
		lp_bootenv_free(env);
		env = open_grub(path, 0, 0, &d);
		assert_string_equal(lp_bootenv_get(env, "x"), v);
		assert_int_equal(read_file(path, block, sizeof(block)), 1024);
		assert_int_equal(block[1023], '\n');
	}
	lp_bootenv_free(env);
}

static void test_grub_garbage(void **state)
{
	static const struct {
		const char *body;
		const char *msg;
	} cases[] = {
		{ "novalue\n", "has no '='" },
		{ "=x\n", "empty name" },
		{ "a=1\na=2\n", "appears twice" },
		{ "a=1\n##x#", "padding" },
	};
	char path[128], block[1024];
	struct lp_bootenv *env;
	struct lp_diag d;

	(void)state;
	path_in(path, sizeof(path), "grubenv-bad");
	/* Comment lines are skipped, as GRUB does. */
	memset(block, '#', sizeof(block));
	memcpy(block, "# GRUB Environment Block\n# note\nk=v\n", 36);
	write_file(path, block, sizeof(block));
	env = open_grub(path, 0, 0, &d);
	assert_int_equal(lp_bootenv_count(env), 1);
	assert_string_equal(lp_bootenv_get(env, "k"), "v");
	lp_bootenv_free(env);

	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		size_t n = strlen(cases[i].body);

		memset(block, '#', sizeof(block));
		memcpy(block, "# GRUB Environment Block\n", 25);
		memcpy(block + 25, cases[i].body, n);
		write_file(path, block, sizeof(block));
		open_grub(path, 0, -EBADMSG, &d);
		print_message("%s\n", d.msg);
		assert_non_null(strstr(d.msg, cases[i].msg));
		/* garbage inside a real block is not replaced by defaults */
		open_grub(path, LP_BOOTENV_OPEN_DEFAULTS, -EBADMSG, &d);
	}
	/* A line running into the end of the block. */
	memset(block, 'x', sizeof(block));
	memcpy(block, "# GRUB Environment Block\na=", 27);
	write_file(path, block, sizeof(block));
	open_grub(path, 0, -EBADMSG, &d);
	assert_non_null(strstr(d.msg, "does not end with a newline"));
	block[1023] = '\\';
	write_file(path, block, sizeof(block));
	open_grub(path, 0, -EBADMSG, &d);
	assert_non_null(strstr(d.msg, "backslash"));
	/* Wrong size or header: an error, or defaults when asked. */
	write_file(path, block, 1000);
	open_grub(path, 0, -EBADMSG, &d);
	assert_non_null(strstr(d.msg, "exactly 1024 bytes, found 1000"));
	memset(block, '#', sizeof(block));
	write_file(path, block, sizeof(block));
	open_grub(path, 0, -EBADMSG, &d);
	assert_non_null(strstr(d.msg, "header"));
	env = open_grub(path, LP_BOOTENV_OPEN_DEFAULTS, 0, &d);
	assert_true(lp_bootenv_from_defaults(env));
	lp_bootenv_free(env);
}

/* --- Power cuts --------------------------------------------------------------------- */

/* Opens with `open_fn`, sets new values, commits with a power cut after `budget` bytes,
 * then reopens and returns 0 if the old values are there, 1 if the new ones are. */
typedef struct lp_bootenv *(*opener)(const char *path);

static struct lp_bootenv *open_uboot_quiet(const char *cfg)
{
	return open_uboot(cfg, 0, 0);
}

static struct lp_bootenv *open_grub_quiet(const char *path)
{
	struct lp_diag d;

	return open_grub(path, 0, 0, &d);
}

static int cut_once(opener open_fn, const char *path, uint64_t budget, bool *ret_hit)
{
	struct lp_bootenv *env = open_fn(path);
	struct lp_diag d;
	const char *a, *b;
	int r, outcome;

	assert_int_equal(lp_bootenv_set(env, "a", "new-a"), 0);
	assert_int_equal(lp_bootenv_set(env, "b", "new-b-longer-value"), 0);
	assert_int_equal(lp_bootenv_unset(env, "c"), 0);
	bootenv_test_set_fault(env, budget);
	lp_diag_clear(&d);
	r = lp_bootenv_commit(env, &d);
	*ret_hit = bootenv_test_fault_hit(env);
	assert_int_equal(r == 0, !*ret_hit);
	lp_bootenv_free(env);

	env = open_fn(path);
	a = lp_bootenv_get(env, "a");
	b = lp_bootenv_get(env, "b");
	assert_non_null(a);
	assert_non_null(b);
	if (strcmp(a, "old-a") == 0) {
		assert_string_equal(b, "old-b");
		assert_string_equal(lp_bootenv_get(env, "c"), "old-c");
		outcome = 0;
	} else {
		assert_string_equal(a, "new-a");
		assert_string_equal(b, "new-b-longer-value");
		assert_null(lp_bootenv_get(env, "c"));
		outcome = 1;
	}
	lp_bootenv_free(env);
	return outcome;
}

/* Runs cut_once for every budget until a commit goes through; `reset` restores the old
 * state before each run. Checks that both outcomes occur and that the commit's result
 * is the new state once no cut happens. */
static void cut_everywhere(opener open_fn, const char *path, void (*reset)(void), uint64_t max)
{
	unsigned olds = 0, news = 0;
	uint64_t budget;
	bool hit = true;

	for (budget = 0; budget <= max && hit; budget++) {
		int o;

		reset();
		o = cut_once(open_fn, path, budget, &hit);
		if (o)
			news++;
		else
			olds++;
		if (!hit)
			assert_int_equal(o, 1);
	}
	print_message("power cut after 0..%llu bytes: %u old, %u new\n",
		      (unsigned long long)(budget - 1), olds, news);
	assert_false(hit);
	assert_true(olds > 0);
	assert_true(news > 0);
}

static char pc_cfg[128], pc_env[128], pc_env2[128];

static void write_old_env(const char *cfg)
{
	struct lp_bootenv *env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);

	assert_int_equal(lp_bootenv_set(env, "a", "old-a"), 0);
	assert_int_equal(lp_bootenv_set(env, "b", "old-b"), 0);
	assert_int_equal(lp_bootenv_set(env, "c", "old-c"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
}

static void reset_redundant(void)
{
	unlink(pc_env);
	/* Two commits so that both copies are valid and the flags are in play. */
	write_old_env(pc_cfg);
	write_old_env(pc_cfg);
}

static void reset_two_files(void)
{
	unlink(pc_env);
	unlink(pc_env2);
	write_old_env(pc_cfg);
	write_old_env(pc_cfg);
	write_old_env(pc_cfg);
}

static void reset_single(void)
{
	unlink(pc_env);
	write_old_env(pc_cfg);
}

static void test_power_cut_uboot(void **state)
{
	char text[300];

	(void)state;
	path_in(pc_env, sizeof(pc_env), "pc.env");
	snprintf(text, sizeof(text), "%s 0 0x400\n%s 0x400 0x400\n", pc_env, pc_env);
	write_config("pc.cfg", text, pc_cfg, sizeof(pc_cfg));
	/* 0x400 bytes of copy, one flag byte, nothing more. */
	cut_everywhere(open_uboot_quiet, pc_cfg, reset_redundant, 0x400 + 1);

	path_in(pc_env2, sizeof(pc_env2), "pc2.env");
	snprintf(text, sizeof(text), "%s 0 0x400\n%s 0 0x400\n", pc_env, pc_env2);
	write_config("pc2.cfg", text, pc_cfg, sizeof(pc_cfg));
	cut_everywhere(open_uboot_quiet, pc_cfg, reset_two_files, 0x400 + 1);

	/* A single copy that is a whole file: temp + rename (rename costs one unit). */
	snprintf(text, sizeof(text), "%s 0 0x400\n", pc_env);
	write_config("pc1.cfg", text, pc_cfg, sizeof(pc_cfg));
	cut_everywhere(open_uboot_quiet, pc_cfg, reset_single, 0x400 + 1);
}

static void test_power_cut_single_in_place(void **state)
{
	char text[300];
	struct lp_bootenv *env;
	struct lp_diag d;
	uint8_t pad[0x800];

	(void)state;
	/* A single copy inside a larger file is written in place: a cut in the middle
	 * leaves an environment that fails its CRC — detected, never half-read. */
	path_in(pc_env, sizeof(pc_env), "pc-inplace.img");
	memset(pad, 0, sizeof(pad));
	write_file(pc_env, pad, sizeof(pad));
	snprintf(text, sizeof(text), "%s 0x400 0x400\n", pc_env);
	write_config("pc-inplace.cfg", text, pc_cfg, sizeof(pc_cfg));
	write_old_env(pc_cfg);
	env = open_uboot(pc_cfg, 0, 0);
	assert_int_equal(lp_bootenv_set(env, "a", "new-a"), 0);
	bootenv_test_set_fault(env, 6); /* new CRC, old data */
	lp_diag_clear(&d);
	assert_int_equal(lp_bootenv_commit(env, &d), -EIO);
	lp_bootenv_free(env);
	assert_null(open_uboot(pc_cfg, 0, -EBADMSG));
}

static char pc_grub[128];

static void reset_grub(void)
{
	struct lp_diag d;
	struct lp_bootenv *env;

	unlink(pc_grub);
	env = open_grub(pc_grub, LP_BOOTENV_OPEN_DEFAULTS, 0, &d);
	assert_int_equal(lp_bootenv_set(env, "a", "old-a"), 0);
	assert_int_equal(lp_bootenv_set(env, "b", "old-b"), 0);
	assert_int_equal(lp_bootenv_set(env, "c", "old-c"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
}

static void test_power_cut_grub(void **state)
{
	(void)state;
	path_in(pc_grub, sizeof(pc_grub), "pc-grubenv");
	cut_everywhere(open_grub_quiet, pc_grub, reset_grub, 1024 + 1);
}

/* --- Block device (loop device, when this machine allows one) ------------------------ */

static int run(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	if (!p)
		return -1;
	if (out) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
		while (n && (out[n - 1] == '\n'))
			out[--n] = '\0';
	}
	return pclose(p);
}

static void test_block_device(void **state)
{
	char img[128], loopdev[64], cmd[300], text[300], cfg[128];
	struct lp_bootenv *env;
	uint8_t zero[0x4000];

	(void)state;
	if (geteuid() != 0 || run("command -v losetup >/dev/null 2>&1", NULL, 0) != 0) {
		print_message("no losetup or not root: block device test skipped\n");
		skip();
	}
	path_in(img, sizeof(img), "block.img");
	memset(zero, 0, sizeof(zero));
	write_file(img, zero, sizeof(zero));
	snprintf(cmd, sizeof(cmd), "losetup -f --show '%s' 2>/dev/null", img);
	if (run(cmd, loopdev, sizeof(loopdev)) != 0 || strncmp(loopdev, "/dev/loop", 9) != 0) {
		print_message("cannot attach a loop device here: block device test skipped\n");
		skip();
	}
	snprintf(text, sizeof(text), "%s 0x1000 0x1000\n%s 0x2000 0x1000\n", loopdev, loopdev);
	write_config("block.cfg", text, cfg, sizeof(cfg));
	env = open_uboot(cfg, LP_BOOTENV_OPEN_DEFAULTS, 0);
	assert_true(lp_bootenv_from_defaults(env));
	assert_int_equal(lp_bootenv_set(env, "on", "block"), 0);
	commit_ok(env);
	assert_int_equal(lp_bootenv_set(env, "on", "block2"), 0);
	commit_ok(env);
	lp_bootenv_free(env);
	env = open_uboot(cfg, 0, 0);
	assert_string_equal(lp_bootenv_get(env, "on"), "block2");
	lp_bootenv_free(env);
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", loopdev);
	assert_int_equal(run(cmd, NULL, 0), 0);
	/* What went through the device is in the backing file. */
	{
		uint8_t buf[0x4000];

		assert_int_equal(read_file(img, buf, sizeof(buf)), sizeof(buf));
		assert_int_equal(buf[0x1004], 1);
		assert_int_equal(buf[0x2004], 2);
		assert_memory_equal(buf + 0x2005, "on=block2\0\0", 11);
	}
}

static void test_not_mtd(void **state)
{
	char text[300], cfg[128];

	(void)state;
	/* A character device that is not MTD is refused with a clear error. */
	snprintf(text, sizeof(text), "/dev/null 0 0x1000\n");
	write_config("null.cfg", text, cfg, sizeof(cfg));
	{
		struct lp_bootenv *env = NULL;
		struct lp_diag d;

		lp_diag_clear(&d);
		assert_int_equal(lp_bootenv_open(LP_BOOTENV_UBOOT, cfg, 0, &env, &d), -EINVAL);
		assert_non_null(strstr(d.msg, "not an MTD device"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_uboot_single_roundtrip),
		cmocka_unit_test(test_uboot_single_in_larger_file),
		cmocka_unit_test(test_uboot_redundant_roundtrip_and_flags),
		cmocka_unit_test(test_uboot_flag_selection),
		cmocka_unit_test(test_uboot_crc_fallback),
		cmocka_unit_test(test_uboot_two_files),
		cmocka_unit_test(test_uboot_garbage),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_typed_helpers),
		cmocka_unit_test(test_grub_roundtrip),
		cmocka_unit_test(test_grub_garbage),
		cmocka_unit_test(test_power_cut_uboot),
		cmocka_unit_test(test_power_cut_single_in_place),
		cmocka_unit_test(test_power_cut_grub),
		cmocka_unit_test(test_block_device),
		cmocka_unit_test(test_not_mtd),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

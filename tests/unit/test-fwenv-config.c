/* SPDX-License-Identifier: MIT */
/* fw_env.config parser: accepted syntax and precise, line-numbered errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopline/bootenv.h"

static int parse(const char *text, struct lp_fwenv_config *c, struct lp_diag *d)
{
	lp_diag_clear(d);
	return lp_fwenv_config_parse(text, strlen(text), "fw_env.config", c, d);
}

static void test_single(void **state)
{
	struct lp_fwenv_config c;
	struct lp_diag d;

	(void)state;
	assert_int_equal(parse("# comment\n\n/dev/mmcblk0 0x400000 0x4000\n", &c, &d), 0);
	assert_int_equal(c.count, 1);
	assert_string_equal(c.dev[0].path, "/dev/mmcblk0");
	assert_int_equal(c.dev[0].offset, 0x400000);
	assert_int_equal(c.dev[0].env_size, 0x4000);
	assert_int_equal(c.dev[0].sector_size, 0);
	assert_int_equal(c.dev[0].sectors, 0);
	assert_int_equal(c.dev[0].line, 3);
}

static void test_redundant_and_numbers(void **state)
{
	struct lp_fwenv_config c;
	struct lp_diag d;

	(void)state;
	/* Sizes are hexadecimal even without 0x (as fw_printenv reads them); the offset is
	 * decimal unless 0x; tabs, trailing comments and CRLF are fine. */
	assert_int_equal(parse("/dev/mtd1\t0x0 4000 0x10000 1 # first\r\n"
			       "  /dev/mtd2 16384 0x4000 10000 0x2\n", &c, &d), 0);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.dev[0].env_size, 0x4000);
	assert_int_equal(c.dev[0].sector_size, 0x10000);
	assert_int_equal(c.dev[0].sectors, 1);
	assert_int_equal(c.dev[1].offset, 16384);
	assert_int_equal(c.dev[1].sector_size, 0x10000);
	assert_int_equal(c.dev[1].sectors, 2);
	assert_int_equal(c.dev[1].line, 2);
	/* Two copies in one file at different offsets. */
	assert_int_equal(parse("/boot/env.img 0 0x2000\n/boot/env.img 0x2000 0x2000\n", &c, &d), 0);
	assert_int_equal(c.count, 2);
}

struct bad_case {
	const char *text;
	unsigned line, column;
	const char *msg_part;
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "", 0, 0, "no device line" },
		{ "# only a comment\n", 0, 0, "no device line" },
		{ "dev/mtd0 0 0x4000\n", 1, 1, "not absolute" },
		{ "\n/dev/mtd0 0\n", 2, 11, "found 2 fields" },
		{ "/dev/mtd0 zero 0x4000\n", 1, 11, "not a decimal" },
		{ "/dev/mtd0 0400 0x4000\n", 1, 11, "not a decimal" },
		{ "/dev/mtd0 -0x4000 0x4000\n", 1, 11, "from the end" },
		{ "/dev/mtd0 0 0x4g00\n", 1, 13, "not a hexadecimal" },
		{ "/dev/mtd0 0 0x\n", 1, 13, "not a hexadecimal" },
		{ "/dev/mtd0 0 0x8\n", 1, 13, "out of range" },
		{ "/dev/mtd0 0 0x200000\n", 1, 13, "out of range" },
		{ "/dev/mtd0 0 0x4000 0x1000 0x2\n", 1, 27, "do not hold" },
		{ "/dev/mtd0 0 0x4000 0x4000 1 0\n", 1, 29, "more than 5 fields" },
		{ "/dev/mtd0 0 0x4000 0x4000 0x10000\n", 1, 27, "number of sectors" },
		{ "/dev/mtd0 0 0x4000\n/dev/mtd1 0 0x2000\n", 2, 13, "differs" },
		{ "/dev/mtd0 0 0x4000\n/dev/mtd0 0x2000 0x4000\n", 2, 11, "overlaps" },
		{ "/a 0 0x4000\n/b 0 0x4000\n/c 0 0x4000\n", 3, 1, "third device line" },
		{ "/dev/ubi0:env 0 0x4000\n", 1, 1, "UBI" },
		{ "/dev/mtd0 0 0x4000\x01\n", 1, 19, "control character" },
		{ "/dev/mtd0 99999999999999999999 0x4000\n", 1, 11, "too large" },
		{ "/dev/mtd0 0x7fffffffffffffff 0x4000\n", 1, 11, "too large" },
	};
	char buf[600];

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		struct lp_fwenv_config c;
		struct lp_diag d;
		int r = parse(cases[i].text, &c, &d);

		lp_diag_format(&d, buf, sizeof(buf));
		print_message("case %zu: %s\n", i, buf);
		assert_int_equal(r, -EINVAL);
		assert_int_equal(d.line, cases[i].line);
		assert_int_equal(d.column, cases[i].column);
		assert_non_null(strstr(d.msg, cases[i].msg_part));
		assert_string_equal(d.file, "fw_env.config");
	}
}

static void test_nul_and_long_line(void **state)
{
	struct lp_fwenv_config c;
	struct lp_diag d;
	char *big;
	static const char with_nul[] = "/dev/mtd0 0 0x4000\n\0\n";

	(void)state;
	lp_diag_clear(&d);
	assert_int_equal(lp_fwenv_config_parse(with_nul, sizeof(with_nul) - 1, "x", &c, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "NUL"));
	assert_int_equal(d.line, 2);
	assert_int_equal(d.column, 1);

	big = malloc(3000);
	assert_non_null(big);
	memset(big, ' ', 2999);
	big[2999] = '\0';
	assert_int_equal(parse(big, &c, &d), -EINVAL);
	assert_int_equal(d.line, 1);
	assert_non_null(strstr(d.msg, "longer than"));
	free(big);
}

static void test_load(void **state)
{
	char path[] = "/tmp/lp-fwenv-XXXXXX";
	struct lp_fwenv_config c;
	struct lp_diag d;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "/x 0 0x400\n/x 0x400 0x400\n", 26), 26);
	close(fd);
	lp_diag_clear(&d);
	assert_int_equal(lp_fwenv_config_load(path, &c, &d), 0);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.dev[1].offset, 0x400);
	unlink(path);
	lp_diag_clear(&d);
	assert_int_equal(lp_fwenv_config_load(path, &c, &d), -ENOENT);
	assert_string_equal(d.file, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_redundant_and_numbers),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_long_line),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

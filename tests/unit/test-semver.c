/* SPDX-License-Identifier: MIT */
/* Semantic versions: the semver.org precedence example, parsing strictness, formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loopline/semver.h"

/* Strictly increasing, semver.org section 11 plus core and long-identifier cases. */
static const char *const ordered[] = {
	"0.0.0",
	"0.0.1",
	"0.1.0",
	"0.9.9",
	"1.0.0-0",
	"1.0.0-9",
	"1.0.0-10",
	"1.0.0-99999999999999999999999", /* numeric, longer than 64 bits: still numeric */
	"1.0.0-A",
	"1.0.0-alpha",
	"1.0.0-alpha.1",
	"1.0.0-alpha.beta",
	"1.0.0-beta",
	"1.0.0-beta.2",
	"1.0.0-beta.11",
	"1.0.0-rc.1",
	"1.0.0-rc.1.0",
	"1.0.0-rc1",
	"1.0.0",
	"1.0.1",
	"1.2.0",
	"1.10.0",
	"2.0.0",
	"10.0.0",
	"18446744073709551615.0.0",
};

static void test_precedence_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(ordered); i++) {
		for (size_t j = 0; j < LP_ARRAY_SIZE(ordered); j++) {
			int c = 99;

			assert_int_equal(lp_semver_compare_str(ordered[i], ordered[j], &c), 0);
			if ((i < j && c >= 0) || (i == j && c != 0) || (i > j && c <= 0))
				fail_msg("%s vs %s: %d", ordered[i], ordered[j], c);
		}
	}
}

static void test_build_ignored(void **state)
{
	static const char *const same[][2] = {
		{ "1.0.0+build.1", "1.0.0+build.2" },
		{ "1.0.0-alpha+001", "1.0.0-alpha" },
		{ "1.0.0+20130313144700", "1.0.0" },
		{ "1.0.0-beta+exp.sha.5114f85", "1.0.0-beta+other" },
	};

	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(same); i++) {
		int c = 99;

		assert_int_equal(lp_semver_compare_str(same[i][0], same[i][1], &c), 0);
		assert_int_equal(c, 0);
	}
}

static void test_parse_fields(void **state)
{
	struct lp_semver v;
	char buf[LP_SEMVER_MAX];

	(void)state;
	assert_int_equal(lp_semver_parse("1.2.3-rc.1+build.05", &v, NULL), 0);
	assert_true(v.major == 1 && v.minor == 2 && v.patch == 3);
	assert_string_equal(v.pre, "rc.1");
	assert_string_equal(v.build, "build.05"); /* leading zeros are fine in build metadata */
	assert_string_equal(lp_semver_format(&v, buf, sizeof(buf)), "1.2.3-rc.1+build.05");

	assert_int_equal(lp_semver_parse("18446744073709551615.0.7", &v, NULL), 0);
	assert_true(v.major == UINT64_MAX && v.patch == 7);
	assert_string_equal(v.pre, "");
	assert_string_equal(v.build, "");
	assert_string_equal(lp_semver_format(&v, buf, sizeof(buf)), "18446744073709551615.0.7");

	assert_int_equal(lp_semver_parse("1.0.0-x-y--z.0a.-", &v, NULL), 0);
	assert_string_equal(v.pre, "x-y--z.0a.-");
	assert_int_equal(lp_semver_parse("1.0.0+-", &v, NULL), 0);
	assert_string_equal(v.build, "-");

	/* formatting into a small buffer truncates safely */
	assert_int_equal(lp_semver_parse("1.2.3", &v, NULL), 0);
	assert_string_equal(lp_semver_format(&v, buf, 4), "1.2");
}

static void test_longest(void **state)
{
	char s[LP_SEMVER_MAX + 1];
	struct lp_semver v;
	struct lp_diag diag = { 0 };

	(void)state;
	memset(s, 'a', sizeof(s));
	memcpy(s, "1.0.0-", 6);
	s[LP_SEMVER_MAX - 1] = '\0'; /* 127 characters: accepted */
	assert_int_equal(lp_semver_parse(s, &v, &diag), 0);
	assert_int_equal(strlen(v.pre), LP_SEMVER_MAX - 1 - 6);
	s[LP_SEMVER_MAX - 1] = 'a';
	s[LP_SEMVER_MAX] = '\0'; /* 128: refused */
	assert_int_equal(lp_semver_parse(s, &v, &diag), -EINVAL);
	assert_non_null(strstr(diag.msg, "longer than 127 characters"));
}

static const struct {
	const char *s, *msg;
} invalid[] = {
	{ "", "empty version" },
	{ "1", "expected MAJOR.MINOR.PATCH" },
	{ "1.0", "expected MAJOR.MINOR.PATCH" },
	{ "1.0.0.0", "unexpected '.' after the patch number" },
	{ "v1.0.0", "no leading 'v' allowed" },
	{ "V1.0.0", "no leading 'V' allowed" },
	{ " 1.0.0", "major number expected" },
	{ "1.0.0 ", "unexpected ' ' after the patch number" },
	{ "01.0.0", "leading zero in the major number" },
	{ "1.00.0", "leading zero in the minor number" },
	{ "1.0.01", "leading zero in the patch number" },
	{ "1..0", "minor number expected" },
	{ "1.0.", "patch number expected" },
	{ "-1.0.0", "major number expected" },
	{ "1.0.0-", "empty pre-release identifier" },
	{ "1.0.0-alpha..1", "empty pre-release identifier" },
	{ "1.0.0-alpha.", "empty pre-release identifier" },
	{ "1.0.0-01", "leading zero in the numeric pre-release identifier \"01\"" },
	{ "1.0.0-alpha.00", "leading zero in the numeric pre-release identifier \"00\"" },
	{ "1.0.0-alpha_1", "invalid character '_' in the pre-release" },
	{ "1.0.0-\xc3\xa9", "invalid character '?' in the pre-release" },
	{ "1.0.0+", "empty build metadata identifier" },
	{ "1.0.0+a..b", "empty build metadata identifier" },
	{ "1.0.0+a+b", "invalid character '+' in the build metadata" },
	{ "1.0.0+a b", "invalid character ' ' in the build metadata" },
	{ "18446744073709551616.0.0", "the major number is too large" },
	{ "0.99999999999999999999.0", "the minor number is too large" },
	{ "0.0.18446744073709551616", "the patch number is too large" },
	{ "1.0.0x", "unexpected 'x' after the patch number" },
	{ "a.b.c", "major number expected" },
	{ "1.2.3-beta\n", "invalid character '?' in the pre-release" },
};

static void test_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(invalid); i++) {
		struct lp_semver v;
		struct lp_diag diag;
		int c;

		lp_diag_clear(&diag);
		memset(&v, 0x5a, sizeof(v));
		if (lp_semver_parse(invalid[i].s, &v, &diag) != -EINVAL)
			fail_msg("\"%s\" was accepted", invalid[i].s);
		if (!strstr(diag.msg, invalid[i].msg))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", invalid[i].s, diag.msg,
				 invalid[i].msg);
		assert_true(v.major == 0x5a5a5a5a5a5a5a5aull); /* untouched on failure */
		assert_int_equal(lp_semver_compare_str(invalid[i].s, "1.0.0", &c), -EINVAL);
		assert_int_equal(lp_semver_compare_str("1.0.0", invalid[i].s, &c), -EINVAL);
	}
	assert_int_equal(lp_semver_parse(NULL, &(struct lp_semver){ 0 }, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precedence_table), cmocka_unit_test(test_build_ignored),
		cmocka_unit_test(test_parse_fields),     cmocka_unit_test(test_longest),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* lib/regex: patterns compile and match; long ones and ones whose stacked repetitions
 * could blow up glibc's automaton are refused before regcomp sees them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "loopline/regex.h"

static void test_compile(void **state)
{
	static const struct {
		const char *re;
		const char *text;  /* must match (NULL: must not compile) */
		const char *err;
	} t[] = {
		{ "^1\\.(1|2)\\.0$", "1.2.0", NULL },
		{ "a+b+c+", "xaabcc", NULL },
		{ "[+{]+x{2}", "{+xx", NULL },         /* + and { inside brackets do not repeat */
		{ "[[:digit:]]{1,64}", "42", NULL },
		{ "\\++", "++", NULL },
		{ "a+++++++++++++", NULL, "too many nested repetitions" },
		{ "(a{1,100}){1,100}", NULL, "too many nested repetitions" },
		{ "x{99999999999}", NULL, "too many nested repetitions" },
		{ "(", NULL, "Unmatched ( or \\(" },
		{ "a{1", NULL, "" },
	};

	for (size_t i = 0; i < LP_ARRAY_SIZE(t); i++) {
		regex_t re;
		char err[128] = "";
		int r = lp_regex_compile(&re, t[i].re, REG_EXTENDED | REG_NOSUB, err, sizeof(err));

		if (t[i].text) {
			if (r != 0)
				fail_msg("%s: %s", t[i].re, err);
			assert_int_equal(regexec(&re, t[i].text, 0, NULL, 0), 0);
			regfree(&re);
		} else {
			if (r != -EINVAL)
				fail_msg("%s: compiled", t[i].re);
			assert_non_null(strstr(err, t[i].err));
		}
	}
}

static void test_long(void **state)
{
	char re[LP_REGEX_MAX_LEN + 2];
	char err[128];
	regex_t rx;

	memset(re, 'a', sizeof(re) - 1);
	re[sizeof(re) - 1] = '\0';
	assert_int_equal(lp_regex_compile(&rx, re, REG_EXTENDED, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "longer than 1024 bytes");
	re[LP_REGEX_MAX_LEN] = '\0';
	assert_int_equal(lp_regex_compile(&rx, re, REG_EXTENDED, err, sizeof(err)), 0);
	regfree(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

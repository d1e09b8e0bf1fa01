/* SPDX-License-Identifier: MIT */
/*
 * Semantic version parsing and precedence. Input: one or two versions separated by a
 * newline. Accepted versions must format back to the same text; comparison must be
 * antisymmetric and consistent with a version's own formatted copy.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/semver.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char buf[2 * LP_SEMVER_MAX + 2], out[LP_SEMVER_MAX + 4];
	struct lp_semver a, b, fa;
	struct lp_diag diag;
	char *second;
	bool ok_a, ok_b;

	if (size >= sizeof(buf))
		size = sizeof(buf) - 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	second = memchr(buf, '\n', size);
	if (second)
		*second++ = '\0';

	lp_diag_clear(&diag);
	ok_a = lp_semver_parse(buf, &a, &diag) == 0;
	if (!ok_a && !diag.msg[0])
		abort();
	if (ok_a) {
		/* canonical: the text formats back exactly, and parses to an equal version */
		lp_semver_format(&a, out, sizeof(out));
		if (strcmp(out, buf) != 0 || lp_semver_parse(out, &fa, NULL) != 0 ||
		    lp_semver_compare(&a, &fa) != 0)
			abort();
	}
	if (!second)
		return 0;
	ok_b = lp_semver_parse(second, &b, NULL) == 0;
	if (ok_a && ok_b) {
		int ab = lp_semver_compare(&a, &b), ba = lp_semver_compare(&b, &a), c = 0;

		if ((ab > 0) != (ba < 0) || (ab == 0) != (ba == 0))
			abort();
		if (lp_semver_compare_str(buf, second, &c) != 0 || c != ab)
			abort();
	} else {
		int c;

		if (lp_semver_compare_str(buf, second, &c) == 0)
			abort();
	}
	return 0;
}

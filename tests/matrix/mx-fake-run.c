/* SPDX-License-Identifier: MIT */
/* mx-fake-run OUT_DIR [all|pass|untested]: a synthetic history for the command and
 * screenshot tests (tests/matrix/mx-fake.h). */
#include <stdio.h>
#include <string.h>

#include "mx-fake.h"

int main(int argc, char **argv)
{
	enum mxf_variant v = MXF_ALL;
	int r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: mx-fake-run OUT_DIR [all|pass|untested]\n");
		return 2;
	}
	if (argc == 3 && strcmp(argv[2], "pass") == 0)
		v = MXF_PASS;
	else if (argc == 3 && strcmp(argv[2], "untested") == 0)
		v = MXF_UNTESTED;
	else if (argc == 3 && strcmp(argv[2], "all") != 0) {
		fprintf(stderr, "mx-fake-run: unknown variant %s\n", argv[2]);
		return 2;
	}
	r = mxf_make_history(argv[1], v);
	if (r < 0) {
		fprintf(stderr, "mx-fake-run: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * What LAVA sends back (matrix/lava-results.c): the same bytes as a job log (with and
 * without a console buffer) and as the REST API's test and suite lists. A refusal always
 * says why; an accepted log has a decided verdict with a message, and its counts agree.
 */
#include <stdlib.h>
#include <string.h>

#include "lava.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* an exact-size copy so reads past the end are caught */
	char *text = malloc(size ? size : 1);
	struct mx_lava_outcome o, t;
	struct mx_lava_texts console = { 0 };
	struct lp_diag d;

	if (!text)
		return 0;
	memcpy(text, data, size);
	lp_diag_clear(&d);
	if (mx_lava_log_parse(text, size, &o, &console, &d) < 0) {
		if (!d.msg[0])
			abort();
	} else if (!o.message[0] || o.n_pass > o.n_cases ||
		   (o.verdict == MX_LAVA_FAIL) != (o.failed[0] != '\0')) {
		abort();
	}
	mx_lava_texts_free(&console);
	memset(&t, 0, sizeof(t));
	lp_diag_clear(&d);
	if (mx_lava_tests_parse(text, size, NULL, 0, &t, &d) < 0 && !d.msg[0])
		abort();
	lp_diag_clear(&d);
	if (mx_lava_tests_parse(text, size, text, size, &t, &d) < 0 && !d.msg[0])
		abort();
	free(text);
	return 0;
}

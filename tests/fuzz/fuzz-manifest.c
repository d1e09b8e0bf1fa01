/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the strict manifest.json and manifest.sig parsers. Whatever parses
 * must serialise canonically and parse back to the same canonical text. */
#include <stdlib.h>
#include <string.h>

#include "loopline/package.h"
#include "../../lib/package-internal.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct lp_manifest *m = NULL, *back = NULL;
	struct lp_pkg_sigset set;
	struct lp_diag d = { 0 };

	if (lp_manifest_parse((const char *)data, size, &m, &d) == 0) {
		char *text = lp_manifest_serialize(m), *again;

		if (!text)
			abort();
		if (lp_manifest_parse(text, strlen(text), &back, &d) != 0)
			abort();
		again = lp_manifest_serialize(back);
		if (!again || strcmp(text, again) != 0)
			abort();
		free(again);
		free(text);
		lp_manifest_free(back);
		lp_manifest_free(m);
	}
	if (lp_pkg_sig_parse((const char *)data, size, &set, &d) == 0) {
		char *text = lp_pkg_sig_serialize(&set);
		struct lp_pkg_sigset set2;

		if (!text || lp_pkg_sig_parse(text, strlen(text), &set2, &d) != 0 || set2.n != set.n ||
		    memcmp(set.sigs, set2.sigs, set.n * sizeof(set.sigs[0])) != 0)
			abort();
		free(text);
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Release request bodies (backend/mgmt-body.c): the same bytes as a release, a gate
 * result and an approval. A refusal always says why; an accepted body holds only what the
 * parser promises (a valid version, distinct positive package ids, a lowercase decision,
 * a 64-hex spec hash).
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size ? size : 1); /* exact size: reads past the end are caught */
	struct be_release_req rq;
	struct be_gate_result g;
	struct be_approve_req a;
	struct lp_diag d;

	if (!text)
		return 0;
	memcpy(text, data, size);
	lp_diag_clear(&d);
	if (be_release_req_parse(text, size, 64 * 1024, 16, &rq, &d) < 0) {
		if (!d.msg[0])
			abort();
	} else {
		if (!be_release_version_valid(rq.version) || rq.n_packages == 0 ||
		    rq.n_packages > BE_RELEASE_PACKAGES_MAX)
			abort();
		for (size_t i = 0; i < rq.n_packages; i++)
			for (size_t k = 0; k < i; k++)
				if (rq.packages[i] <= 0 || rq.packages[i] == rq.packages[k])
					abort();
	}
	lp_diag_clear(&d);
	if (be_gate_result_parse(text, size, 64 * 1024, 16, &g, &d) < 0) {
		if (!d.msg[0])
			abort();
	} else if (strlen(g.spec_sha256) != 64 || !g.decision[0] || g.run < 1) {
		abort();
	}
	lp_diag_clear(&d);
	if (be_approve_req_parse(text, size, 64 * 1024, 16, &a, &d) < 0 && !d.msg[0])
		abort();
	free(text);
	return 0;
}

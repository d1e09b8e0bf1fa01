/* SPDX-License-Identifier: MIT */
/* DDI PUT installedBase bodies (backend/mgmt-body.c). */
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_installed_req q;
	struct lp_diag d;

	if (be_installed_req_parse((const char *)data, size, 64 * 1024, 16, &q, &d) == 0)
		be_installed_req_done(&q);
	return 0;
}

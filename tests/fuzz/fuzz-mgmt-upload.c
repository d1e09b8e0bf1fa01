/* SPDX-License-Identifier: MIT */
/* Management API upload request bodies (backend/mgmt-body.c). */
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_upload_req q;
	struct lp_diag d;

	if (be_upload_req_parse((const char *)data, size, 64 * 1024, 16, &q, &d) == 0)
		be_upload_req_done(&q);
	return 0;
}

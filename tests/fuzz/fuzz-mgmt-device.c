/* SPDX-License-Identifier: MIT */
/* Management API device bodies: POST /devices and PUT /devices/ID/tags (backend/mgmt-body.c). */
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_device_req q;
	struct lp_diag d;

	if (be_device_req_parse((const char *)data, size, 64 * 1024, 16, &q, &d) == 0)
		be_device_req_done(&q);
	if (be_tags_req_parse((const char *)data, size, 64 * 1024, 16, &q, &d) == 0)
		be_device_req_done(&q);
	return 0;
}

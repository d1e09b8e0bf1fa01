/* SPDX-License-Identifier: MIT */
/* DDI configData bodies (backend/ddi-body.c). */
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_configdata cd;
	struct lp_diag d;

	if (be_configdata_parse((const char *)data, size, 64 * 1024, 16, 100, &cd, &d) == 0)
		be_configdata_done(&cd);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* DDI action feedback bodies (backend/ddi-body.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_feedback fb;
	struct lp_diag d;
	bool closes;

	if (be_feedback_parse((const char *)data, size, 64 * 1024, 16, &fb, &d) == 0) {
		be_feedback_status(&fb, false, &closes);
		be_feedback_status(&fb, true, &closes);
		be_feedback_done(&fb);
	}
	return 0;
}

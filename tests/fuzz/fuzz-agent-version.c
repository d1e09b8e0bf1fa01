/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the agent's version file parser (os-release or one line). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_diag diag;
	char v[64];

	lp_diag_clear(&diag);
	if (agent_version_file_parse((const char *)data, size, v, sizeof(v), &diag) == 0) {
		size_t n = strnlen(v, sizeof(v));

		if (n == 0 || n == sizeof(v))
			abort();
	} else if (!diag.msg[0]) {
		abort();
	}
	return 0;
}

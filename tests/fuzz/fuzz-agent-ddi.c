/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the agent's parsers of DDI responses (root poll, deploymentBase,
 * cancelAction). The first byte picks the parser; the rest is the response body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ddi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_diag diag;
	const char *text;
	size_t len;

	if (size < 1)
		return 0;
	text = (const char *)data + 1;
	len = size - 1;
	lp_diag_clear(&diag);
	switch (data[0] % 4) {
	case 0: {
		struct ddi_poll p;

		if (agent_ddi_parse_poll(text, len, &p, &diag) == 0) {
			if (strnlen(p.deployment, sizeof(p.deployment)) == sizeof(p.deployment))
				abort();
		} else if (!diag.msg[0]) {
			abort();
		}
		break;
	}
	case 1:
	case 2: {
		struct ddi_deployment d;

		if (agent_ddi_parse_deployment(text, len, data[0] % 4 == 2, &d, &diag) == 0) {
			if (!d.id[0] || (!d.is_action && !d.url[0]) || (d.is_action && !d.action[0]))
				abort();
		} else if (!diag.msg[0]) {
			abort();
		}
		break;
	}
	default: {
		char id[AGENT_ID_MAX];

		if (agent_ddi_parse_cancel(text, len, id, sizeof(id), &diag) < 0 && !diag.msg[0])
			abort();
		break;
	}
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* libFuzzer target: loopline-devsim's parsers of the backend's DDI answers (root poll,
 * deploymentBase, cancelAction, the HH:MM:SS sleep). The first byte picks the parser; the
 * rest is the answer's body. A refusal must say why; an accepted answer must hold what
 * the simulator then relies on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void deployment(const char *text, size_t len)
{
	struct sim_deployment d;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (sim_parse_deployment(text, len, &d, &diag) < 0) {
		if (!diag.msg[0])
			abort();
		return;
	}
	if (!d.id[0] || strnlen(d.version, sizeof(d.version)) == sizeof(d.version) ||
	    (!d.is_action && strncmp(d.url, "http", 4) != 0))
		abort();
}

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
		struct sim_poll p;

		if (sim_parse_poll(text, len, &p, &diag) == 0) {
			if (strnlen(p.deployment, sizeof(p.deployment)) == sizeof(p.deployment) ||
			    (p.has_sleep && p.sleep_s > 9999u * 3600 + 59 * 60 + 59))
				abort();
		} else if (!diag.msg[0]) {
			abort();
		}
		break;
	}
	case 1:
		deployment(text, len);
		break;
	case 2: {
		char id[SIM_ID_MAX];

		if (sim_parse_cancel(text, len, id, &diag) < 0 && !diag.msg[0])
			abort();
		break;
	}
	default: {
		char buf[64];
		unsigned s;

		if (len >= sizeof(buf))
			return 0;
		memcpy(buf, text, len);
		buf[len] = '\0';
		if (sim_parse_sleep(buf, &s) == 0 && s > 9999u * 3600 + 59 * 60 + 59)
			abort();
		break;
	}
	}
	return 0;
}

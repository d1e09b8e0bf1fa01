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

#define SLEEP_MAX (9999u * 3600 + 59 * 60 + 59)

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

static void poll(const char *text, size_t len)
{
	struct sim_poll p;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (sim_parse_poll(text, len, &p, &diag) < 0) {
		if (!diag.msg[0])
			abort();
		return;
	}
	if (strnlen(p.deployment, sizeof(p.deployment)) == sizeof(p.deployment) ||
	    (p.has_sleep && p.sleep_s > SLEEP_MAX))
		abort();
}

static void cancel(const char *text, size_t len)
{
	char id[SIM_ID_MAX];
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (sim_parse_cancel(text, len, id, &diag) < 0 ? !diag.msg[0] : !id[0])
		abort();
}

static void sleep_value(const char *text, size_t len)
{
	char buf[64];
	unsigned s;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (sim_parse_sleep(buf, &s) == 0 && s > SLEEP_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const parsers[4])(const char *, size_t) = { poll, deployment, cancel,
								   sleep_value };

	if (size >= 1)
		parsers[data[0] % 4]((const char *)data + 1, size - 1);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* libFuzzer target: loopline-pack's package description parser must reject garbage with a
 * message and never crash, leak or read out of bounds; what it accepts is consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/log.h"
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pack_description *d = NULL;
	struct lp_diag diag;
	char msg[1024];

	lp_log_set_level(LP_LOG_QUIET);
	lp_diag_clear(&diag);
	if (pack_description_parse((const char *)data, size, "/base", &d, &diag) == 0) {
		if (!pack_safe_name(d->product) || !d->version[0] || d->n_compatible == 0 ||
		    d->n_compatible > LP_PKG_MAX_COMPATIBLE || d->n_payloads == 0 ||
		    d->n_payloads > LP_PKG_MAX_PAYLOADS)
			abort();
		for (size_t i = 0; i < d->n_payloads; i++) {
			const struct pack_payload_desc *p = &d->payloads[i];

			if (!pack_safe_name(p->name) || !p->target[0] || !p->source[0])
				abort();
			if (p->source[0] != '/')
				abort(); /* relative sources are resolved against the base */
			for (size_t j = 0; j < i; j++)
				if (strcmp(p->name, d->payloads[j].name) == 0)
					abort();
		}
		pack_description_free(d);
	} else {
		lp_diag_format(&diag, msg, sizeof(msg));
		if (!diag.msg[0])
			abort(); /* every rejection says why */
	}
	return 0;
}

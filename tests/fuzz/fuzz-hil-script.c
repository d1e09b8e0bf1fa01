/* SPDX-License-Identifier: MIT */
/* Fuzz target: the HIL scenario script parser and {{NAME}} expansion. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "loopline-hil/script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_hil_script *sc = NULL;
	struct lp_diag diag;
	char buf[1024];

	lp_diag_clear(&diag);
	if (lp_hil_script_parse((const char *)data, size, "fuzz.hil", &sc, &diag) == 0) {
		for (size_t i = 0; i < sc->n_steps; i++) {
			char *out = NULL;

			(void)lp_hil_step_name(sc->steps[i].kind);
			if (lp_hil_script_expand(sc->steps[i].arg, &out, &diag) == 0)
				free(out);
		}
		lp_hil_script_free(sc);
	} else {
		lp_diag_format(&diag, buf, sizeof(buf));
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Fuzz target: the rack inventory parser (strict YAML via libyaml). */
#include <stddef.h>
#include <stdint.h>

#include "loopline-hil/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_hil_inventory *inv = NULL;
	struct lp_diag diag;
	char buf[1024];

	if (lp_hil_inventory_parse((const char *)data, size, "fuzz/rack.yaml", &inv, &diag) == 0) {
		for (size_t i = 0; i < inv->n_boards; i++)
			(void)lp_hil_inventory_find(inv, inv->boards[i].name);
		lp_hil_inventory_free(inv);
	} else {
		lp_diag_format(&diag, buf, sizeof(buf));
	}
	return 0;
}

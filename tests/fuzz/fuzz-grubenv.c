/* SPDX-License-Identifier: MIT */
/* Fuzz target: the grubenv reader (the whole input is the block). */
#include <stdint.h>
#include <stdlib.h>

#include "loopline/bootenv.h"
#include "../../lib/bootenv-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_bootenv *env = NULL;
	struct lp_diag diag;

	if (size > 4096)
		return 0;
	lp_diag_clear(&diag);
	if (bootenv_grub_decode(data, size, 0, &env, &diag) == 0) {
		struct lp_bootenv_boot boot;
		const char *name, *value;

		for (size_t i = 0; lp_bootenv_entry(env, i, &name, &value) == 0; i++)
			(void)lp_bootenv_get(env, name);
		(void)lp_bootenv_get_boot(env, &boot, &diag);
		(void)lp_bootenv_set(env, "x", "a\nb\\c");
		lp_bootenv_free(env);
	}
	return 0;
}

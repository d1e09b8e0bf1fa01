/* SPDX-License-Identifier: MIT */
/* Fuzz target: the fw_env.config parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/bootenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_fwenv_config config;
	struct lp_diag diag;
	char msg[1024];

	lp_diag_clear(&diag);
	if (lp_fwenv_config_parse((const char *)data, size, "fuzz", &config, &diag) < 0) {
		lp_diag_format(&diag, msg, sizeof(msg));
		return 0;
	}
	/* What the parser accepted is within the documented bounds. */
	if (config.count < 1 || config.count > 2 || config.dev[0].path[0] != '/' ||
	    config.dev[0].env_size < 16 || config.dev[0].env_size > LP_BOOTENV_UBOOT_SIZE_MAX ||
	    strnlen(config.dev[0].path, LP_FWENV_PATH_MAX) >= LP_FWENV_PATH_MAX)
		abort();
	return 0;
}

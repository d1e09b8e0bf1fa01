/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the agent's config parser must reject garbage with a message and
 * never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent.h"
#include "loopline/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;
	char msg[1024];

	lp_log_set_level(LP_LOG_QUIET);
	lp_diag_clear(&diag);
	if (agent_config_parse((const char *)data, size, "fuzz.json", &cfg, &diag) == 0) {
		/* A config that parses has what the agent relies on. */
		if (!cfg->device_id || !cfg->data_dir || !cfg->slot_path[0] || !cfg->slot_path[1] ||
		    !cfg->reboot.argv || !cfg->reboot.argv[0] || cfg->n_trusted_keys == 0)
			abort();
		agent_config_free(cfg);
	} else {
		lp_diag_format(&diag, msg, sizeof(msg));
		if (!diag.msg[0])
			abort(); /* every rejection says why */
	}
	return 0;
}

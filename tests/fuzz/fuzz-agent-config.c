/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the agent's config parser must reject garbage with a message and
 * never crash, leak or read out of bounds. The input is the main file; after a NUL byte
 * comes the text of the device config it may name ("device_config"); without a NUL the
 * device config does not exist. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "loopline/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct dev {
	const uint8_t *data; /* NULL: no device config */
	size_t len;
};

static int dev_read(void *ctx, const char *path, char **ret_text, size_t *ret_len)
{
	const struct dev *d = ctx;

	(void)path;
	if (!d->data)
		return -ENOENT;
	*ret_text = malloc(d->len + 1);
	if (!*ret_text)
		return -ENOMEM;
	memcpy(*ret_text, d->data, d->len);
	(*ret_text)[d->len] = '\0';
	*ret_len = d->len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	struct dev dev = { 0 };
	size_t main_len = size;
	struct agent_config *cfg = NULL;
	struct lp_diag diag;
	char msg[1024];

	lp_log_set_level(LP_LOG_QUIET);
	lp_diag_clear(&diag);
	if (nul) {
		main_len = (size_t)(nul - data);
		dev.data = nul + 1;
		dev.len = size - main_len - 1;
	}
	if (agent_config_parse_with((const char *)data, main_len, "fuzz.json", dev_read, &dev, &cfg,
				    &diag) == 0) {
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

/* SPDX-License-Identifier: MIT */
/*
 * Alarm request bodies and channel configurations (backend/alarm-body.c): the same bytes
 * as a channel (POST/PATCH), a rule, and as a stored configuration of each channel kind.
 * A refusal always says why; an accepted body holds only what the parser promises.
 */
#include <stdlib.h>
#include <string.h>

#include "loopline/json.h"
#include "backend.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size ? size : 1); /* exact size: reads past the end are caught */
	struct be_channel_req c;
	struct be_channel_config cfg;
	struct be_rule_req q;
	struct lp_diag d;
	cJSON *root = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	lp_diag_clear(&d);
	if (be_channel_req_parse(text, size, 64 * 1024, 16, &c, &d) < 0) {
		if (!d.msg[0])
			abort();
	} else {
		if ((c.name[0] && !be_alarm_name_valid(c.name)) || (c.has_config && !c.config_json))
			abort();
		be_channel_req_done(&c);
	}
	lp_diag_clear(&d);
	if (be_rule_req_parse(text, size, 64 * 1024, 16, &q, &d) < 0) {
		if (!d.msg[0])
			abort();
	} else if (!be_alarm_name_valid(q.rule.name) || q.rule.n_channels == 0 ||
		   q.rule.n_channels > BE_ALARM_RULE_CHANNELS_MAX) {
		abort();
	}
	if (lp_json_parse(text, size, 64 * 1024, 16, &root, NULL) == 0) {
		for (int k = BE_CHANNEL_TELEGRAM; k <= BE_CHANNEL_WEBHOOK; k++) {
			lp_diag_clear(&d);
			if (be_channel_config_parse((enum be_channel_kind)k, root, "config", true, &cfg,
						    NULL, &d) < 0 && !d.msg[0])
				abort();
		}
		cJSON_Delete(root);
	}
	free(text);
	return 0;
}

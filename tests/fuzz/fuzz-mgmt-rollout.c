/* SPDX-License-Identifier: MIT */
/*
 * Rollout request bodies (backend/mgmt-rollout-body.c): the same bytes as a rollout and
 * as a pause/resume/cancel body. A refusal always says why; an accepted rollout holds
 * only what the engine relies on: a valid release version, a target that selects
 * something (all, or tags and attributes, never both), strictly rising waves ending at
 * 100, thresholds in range, a sane maintenance window.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_spec(const struct be_rollout_spec *sp)
{
	const struct be_rollout_target *t = &sp->target;

	if (!be_release_version_valid(sp->release) || sp->n_waves == 0 ||
	    sp->n_waves > BE_WAVES_MAX || sp->waves[sp->n_waves - 1] != 100)
		abort();
	for (size_t i = 1; i < sp->n_waves; i++)
		if (sp->waves[i] <= sp->waves[i - 1] || sp->waves[0] < 1)
			abort();
	if (t->all == (t->n_tags + t->n_attrs > 0) || t->n_tags > BE_TARGET_TAGS_MAX ||
	    t->n_attrs > BE_TARGET_ATTRS_MAX)
		abort();
	for (size_t i = 0; i < t->n_tags; i++)
		if (!be_controller_id_valid(t->tags[i]))
			abort();
	if (sp->success_pct < 1 || sp->success_pct > 100 || sp->error_pct > 100 ||
	    sp->soak_s < 0 || sp->type < 0 || sp->type > 2)
		abort();
	if (sp->has_window && (sp->window_start_min >= 1440 || sp->window_minutes < 1 ||
			       sp->window_minutes > 1440))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size ? size : 1); /* exact size: reads past the end are caught */
	struct be_rollout_control_req c;
	struct be_rollout_spec sp;
	struct lp_diag d;

	if (!text)
		return 0;
	memcpy(text, data, size);
	lp_diag_clear(&d);
	if (be_rollout_req_parse(text, size, 64 * 1024, 16, &sp, &d) < 0) {
		if (!d.msg[0])
			abort();
	} else {
		check_spec(&sp);
	}
	lp_diag_clear(&d);
	if (be_rollout_control_parse(text, size, 64 * 1024, 16, &c, &d) < 0 && !d.msg[0])
		abort();
	free(text);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Synthetic matrix runs for the results, report and gate tests: a history with a
 * previous run and a run holding every status (pass, fail/product, error/infra, flaky
 * with its attempts, skipped, running, missing), required and optional combos, log
 * directories with a step log and a console log, and component rows.
 */
#pragma once

#include "matrix.h"

enum mxf_variant {
	MXF_ALL = 0,   /* every status; required cases fail → gate failed (30) */
	MXF_PASS,      /* required cases pass or are flaky → gate pass (0) */
	MXF_UNTESTED,  /* required cases pass except infra errors and a missing one → 31 */
};

/* Creates out_dir/history.sqlite with run 1 (the previous run of spec "demo") and run 2
 * of the variant; writes log files under out_dir/runs/<id>/. Returns 0 or -errno. */
int mxf_make_history(const char *out_dir, enum mxf_variant v);

/* Fills r for a case (axes from the combo's values); the caller sets the status. */
void mxf_result(struct mx_result *r, int64_t run_id, const char *target, const char *agent,
		const char *scenario);

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the matrix spec (strict YAML via lib/yaml) and what follows it — an in-use
 * answer applied, the expansion (include/exclude/required, snapshot groups), every case's
 * values read back, and a filter with a shard. Specs resolve against a throwaway
 * repository (tests/matrix/mx-fixture.h) made on the first input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "matrix.h"
#include "../matrix/mx-fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char repo[256];

static void remove_repo(void)
{
	mx_fixture_remove(repo);
}

static void use_plan(struct mx_plan *p)
{
	const struct mx_spec *s = p->spec;
	struct mx_filter *f = NULL;
	struct lp_diag diag;

	for (size_t i = 0; i < p->n_cases; i++) {
		(void)mx_case_get(p, &p->cases[i], "scenario");
		for (size_t a = 0; a < s->n_axes; a++)
			(void)mx_case_get(p, &p->cases[i], s->axes[a].name);
	}
	if (mx_filter_parse(NULL, "scenario != update || target =~ 'x86'", "1/2", &f, &diag) == 0)
		(void)mx_plan_filter(p, f, &diag);
	mx_filter_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_spec *s = NULL;
	struct mx_plan *p = NULL;
	struct lp_diag diag;
	char buf[1024];

	if (!repo[0]) {
		if (mx_fixture_make(repo, sizeof(repo)) < 0)
			abort();
		atexit(remove_repo);
	}
	if (mx_spec_parse((const char *)data, size, "fuzz/spec.yaml", repo, &s, &diag) < 0) {
		lp_diag_format(&diag, buf, sizeof(buf));
		return 0;
	}
	if (s->in_use.enabled) {
		cJSON *answer = cJSON_Parse("{\"items\":[{\"version\":\"0.9.0\"},"
					    "{\"version\":\"1.0.0\"}],\"total\":2}");

		(void)mx_spec_in_use_apply(s, answer, &diag);
		cJSON_Delete(answer);
	}
	if (mx_plan_expand(s, &p, &diag) == 0)
		use_plan(p);
	else
		lp_diag_format(&diag, buf, sizeof(buf));
	mx_plan_free(p);
	mx_spec_free(s);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the case filters. Input lines: 1 = --only, 2 = --shard, the rest =
 * --filter (an empty part is not given). Each parsed filter is applied to a fresh plan
 * of a small fixed spec (configuration axes, an include-made combo, extra keys).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matrix.h"
#include "../matrix/mx-fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char spec_text[] =
	"components: {backend: {previous: {git: v1}}}\n"
	"axes:\n"
	"  target: [qemu-x86_64, qemu-aarch64]\n"
	"  backend: [current, previous]\n"
	"  agent: [current]\n"
	"  from: [1.0.0]\n"
	"  to: [1.1.0, 1.2.0]\n"
	"  payload: [zstd, raw]\n"
	"scenarios: [update, power-cut, resume]\n"
	"exclude: [{payload: raw, target: qemu-aarch64}]\n"
	"include:\n"
	"  - {payload: raw, note: 'a b'}\n"
	"  - {scenario: resume, cut: '4'}\n"
	"  - {target: qemu-aarch64, backend: current, agent: current, from: 1.0.0, to: 1.1.0}\n";

static char repo[256];
static struct mx_spec *spec;

static void cleanup(void)
{
	mx_spec_free(spec);
	mx_fixture_remove(repo);
}

/* The next line of [*pos, end) as a malloc'd string, NULL if empty. */
static char *take_line(const uint8_t *data, size_t size, size_t *pos, bool rest)
{
	size_t start = *pos, end = start;

	while (end < size && (rest || data[end] != '\n'))
		end++;
	*pos = end < size ? end + 1 : end;
	if (end == start)
		return NULL;
	return strndup((const char *)data + start, end - start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_filter *f = NULL;
	struct mx_plan *p = NULL;
	struct lp_diag diag;
	char *only, *shard, *expr, buf[1024];
	size_t pos = 0;

	if (!spec) {
		if (mx_fixture_make(repo, sizeof(repo)) < 0 ||
		    !(spec = mx_fixture_spec(repo, spec_text)))
			abort();
		atexit(cleanup);
	}
	if (memchr(data, '\0', size))
		return 0; /* command-line arguments hold no NUL */
	only = take_line(data, size, &pos, false);
	shard = take_line(data, size, &pos, false);
	expr = take_line(data, size, &pos, true);
	if (mx_filter_parse(only, expr, shard, &f, &diag) == 0 &&
	    mx_plan_expand(spec, &p, &diag) == 0) {
		if (mx_plan_filter(p, f, &diag) == 0)
			for (size_t i = 0; i < p->n_cases; i++)
				if (p->cases[i].combo >= p->n_combos)
					abort();
	}
	lp_diag_format(&diag, buf, sizeof(buf));
	mx_plan_free(p);
	mx_filter_free(f);
	free(only);
	free(shard);
	free(expr);
	return 0;
}

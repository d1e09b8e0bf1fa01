/* SPDX-License-Identifier: MIT */
/*
 * matrix/expand.c and filter.c: GitHub Actions' matrix semantics (the documented examples
 * with their known results, include/exclude edge cases, new combos, per-scenario entries,
 * required), snapshot groups, limits; --filter operators, precedence and errors with
 * columns; --only; --shard covering every combo exactly once for N = 1..7.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "matrix.h"
#include "mx-fixture.h"

static char repo[256];

static int setup(void **state)
{
	return mx_fixture_make(repo, sizeof(repo));
}

static int teardown(void **state)
{
	mx_fixture_remove(repo);
	return 0;
}

/* One-valued core axes, so that configuration axes play GitHub's own examples. */
#define CORE1                                \
	"axes:\n"                            \
	"  target: [qemu-x86_64]\n"          \
	"  backend: [current]\n"             \
	"  agent: [current]\n"               \
	"  from: [1.0.0]\n"                  \
	"  to: [1.1.0]\n"
#define ALLCORE "target: qemu-x86_64, backend: current, agent: current, from: 1.0.0, to: 1.1.0"
#define K "target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0"

struct fixture {
	struct mx_spec *s;
	struct mx_plan *p;
};

static struct fixture expand_ok(const char *text)
{
	struct fixture f = { mx_fixture_spec(repo, text), NULL };
	struct lp_diag d;
	char buf[1024];

	assert_non_null(f.s);
	if (mx_plan_expand(f.s, &f.p, &d) < 0)
		fail_msg("expand: %s", lp_diag_format(&d, buf, sizeof(buf)));
	return f;
}

static void fixture_free(struct fixture *f)
{
	mx_plan_free(f->p);
	mx_spec_free(f->s);
}

/* "KEY EXTRA\n" per combo, EXTRA the combo's common extra keys as JSON ("-" if none). */
static char *combos_text(const struct mx_plan *p)
{
	size_t cap = 1 << 16, used = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	out[0] = '\0';
	for (size_t i = 0; i < p->n_combos; i++) {
		char *e = p->combos[i].extra ? cJSON_PrintUnformatted(p->combos[i].extra) : NULL;

		used += (size_t)snprintf(out + used, cap - used, "%s %s\n", p->combos[i].key,
					 e ? e : "-");
		free(e);
	}
	return out;
}

/* "KEY|SCENARIO|EXTRA|R\n" per case (R: required, o: optional). */
static char *cases_text(const struct mx_plan *p)
{
	size_t cap = 1 << 18, used = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	out[0] = '\0';
	for (size_t i = 0; i < p->n_cases; i++) {
		const struct mx_case *c = &p->cases[i];
		char *e = c->extra ? cJSON_PrintUnformatted(c->extra) : NULL;

		used += (size_t)snprintf(out + used, cap - used, "%s|%s|%s|%c\n",
					 p->combos[c->combo].key, p->spec->scenarios[c->scenario].name,
					 e ? e : "-", c->required ? 'R' : 'o');
		free(e);
	}
	return out;
}

static void assert_combos(const struct mx_plan *p, const char *want)
{
	char *got = combos_text(p);

	if (strcmp(got, want) != 0)
		fail_msg("combos:\n%s\nwant:\n%s", got, want);
	free(got);
}

static void assert_cases(const struct mx_plan *p, const char *want)
{
	char *got = cases_text(p);

	if (strcmp(got, want) != 0)
		fail_msg("cases:\n%s\nwant:\n%s", got, want);
	free(got);
}

/* ---- GitHub's documented examples ---- */

/*
 * docs.github.com "Expanding or adding matrix configurations", the fruit example; its
 * documented result is these six combinations. (Differences that our spec needs: banana
 * must be a value of the axis — excluded so that no original combination has it — and
 * an include entry that makes a combination names every core axis.)
 */
static void test_github_fruit(void **state)
{
	struct fixture f = expand_ok(CORE1 "  fruit: [apple, pear, banana]\n  animal: [cat, dog]\n"
				     "scenarios: [update]\n"
				     "exclude:\n  - {fruit: banana}\n"
				     "include:\n"
				     "  - {color: green}\n"
				     "  - {color: pink, animal: cat}\n"
				     "  - {fruit: apple, shape: circle}\n"
				     "  - {fruit: banana, " ALLCORE "}\n"
				     "  - {fruit: banana, animal: cat, " ALLCORE "}\n");

	assert_combos(f.p, K ",fruit=apple,animal=cat {\"color\":\"pink\",\"shape\":\"circle\"}\n"
			   K ",fruit=apple,animal=dog {\"color\":\"green\",\"shape\":\"circle\"}\n"
			   K ",fruit=pear,animal=cat {\"color\":\"pink\"}\n"
			   K ",fruit=pear,animal=dog {\"color\":\"green\"}\n"
			   K ",fruit=banana -\n"
			   K ",fruit=banana,animal=cat -\n");
	/* the include-made combos leave animal out: no value, nothing matches it */
	assert_int_equal(f.p->combos[4].value[6], MX_VALUE_NONE);
	assert_null(mx_case_get(f.p, &f.p->cases[4], "animal"));
	assert_string_equal(mx_case_get(f.p, &f.p->cases[4], "fruit"), "banana");
	assert_string_equal(mx_case_get(f.p, &f.p->cases[0], "shape"), "circle");
	assert_string_equal(mx_case_get(f.p, &f.p->cases[0], "scenario"), "update");
	assert_null(mx_case_get(f.p, &f.p->cases[3], "shape"));
	fixture_free(&f);
}

/* "Example: Expanding configurations": npm 6 only where os and node both match. */
static void test_github_expanding(void **state)
{
	struct fixture f = expand_ok(CORE1 "  os: [windows-latest, ubuntu-latest]\n  node: [14, 16]\n"
				     "scenarios: [update]\n"
				     "include:\n  - {os: windows-latest, node: 16, npm: 6}\n");

	assert_combos(f.p, K ",os=windows-latest,node=14 -\n"
			   K ",os=windows-latest,node=16 {\"npm\":\"6\"}\n"
			   K ",os=ubuntu-latest,node=14 -\n"
			   K ",os=ubuntu-latest,node=16 -\n");
	fixture_free(&f);
}

/* "Excluding matrix configurations": 12 - 1 - 2 = 9 combinations (partial matches). */
static void test_github_exclude(void **state)
{
	struct fixture f = expand_ok(CORE1 "  os: [macos-latest, windows-latest]\n"
				     "  version: [12, 14, 16]\n  environment: [staging, production]\n"
				     "scenarios: [update]\n"
				     "exclude:\n"
				     "  - {os: macos-latest, version: 12, environment: production}\n"
				     "  - {os: windows-latest, version: 16}\n");

	assert_combos(f.p, K ",os=macos-latest,version=12,environment=staging -\n"
			   K ",os=macos-latest,version=14,environment=staging -\n"
			   K ",os=macos-latest,version=14,environment=production -\n"
			   K ",os=macos-latest,version=16,environment=staging -\n"
			   K ",os=macos-latest,version=16,environment=production -\n"
			   K ",os=windows-latest,version=12,environment=staging -\n"
			   K ",os=windows-latest,version=12,environment=production -\n"
			   K ",os=windows-latest,version=14,environment=staging -\n"
			   K ",os=windows-latest,version=14,environment=production -\n");
	fixture_free(&f);
}

/* "include is processed after exclude: it can add back an excluded combination" — as a
 * new combination at the end, which later include entries do not extend. */
static void test_github_add_back(void **state)
{
	struct fixture f = expand_ok(CORE1 "  os: [macos, windows]\n  version: [12, 14]\n"
				     "scenarios: [update]\n"
				     "exclude:\n  - {os: windows}\n"
				     "include:\n"
				     "  - {os: windows, version: 14, " ALLCORE ", why: back}\n"
				     "  - {color: green}\n");

	assert_combos(f.p, K ",os=macos,version=12 {\"color\":\"green\"}\n"
			   K ",os=macos,version=14 {\"color\":\"green\"}\n"
			   K ",os=windows,version=14 {\"why\":\"back\"}\n");
	assert_int_equal(f.p->combos[2].index, 2);
	fixture_free(&f);
}

/* ---- order, entries, scenarios ---- */

static void test_product_order(void **state)
{
	struct fixture f = expand_ok("components: {backend: {previous: {git: v1}}}\n"
				     "axes:\n  payload: [zstd, raw]\n"
				     "  target: [qemu-x86_64, qemu-aarch64]\n  backend: [current, previous]\n"
				     "  agent: [current]\n  from: [1.0.0]\n  to: [1.1.0]\n"
				     "scenarios: [update, power-cut]\n");

	/* the first axis varies slowest; configuration axes after the core ones */
	assert_int_equal(f.p->n_combos, 8);
	assert_string_equal(f.p->combos[0].key, "target=qemu-x86_64,backend=current,agent=current,"
						"from=1.0.0,to=1.1.0,payload=zstd");
	assert_string_equal(f.p->combos[1].key, "target=qemu-x86_64,backend=current,agent=current,"
						"from=1.0.0,to=1.1.0,payload=raw");
	assert_string_equal(f.p->combos[2].key, "target=qemu-x86_64,backend=previous,agent=current,"
						"from=1.0.0,to=1.1.0,payload=zstd");
	assert_string_equal(f.p->combos[7].key, "target=qemu-aarch64,backend=previous,"
						"agent=current,from=1.0.0,to=1.1.0,payload=raw");
	/* cases: by combo, then scenario; all required without required: */
	assert_int_equal(f.p->n_cases, 16);
	for (size_t i = 0; i < f.p->n_cases; i++) {
		assert_int_equal(f.p->cases[i].combo, i / 2);
		assert_int_equal(f.p->cases[i].scenario, i % 2);
		assert_true(f.p->cases[i].required);
		assert_null(f.p->cases[i].extra);
	}
	for (size_t i = 0; i < f.p->n_combos; i++) {
		assert_int_equal(f.p->combos[i].index, i);
		assert_true(f.p->combos[i].required);
	}
	fixture_free(&f);
}

#define SCN                                                              \
	"components: {agent: {previous: {git: v1}}}\n"                   \
	"axes:\n  target: [qemu-x86_64]\n  backend: [current]\n"         \
	"  agent: [current, previous]\n  from: [1.0.0]\n  to: [1.1.0]\n" \
	"scenarios: [update, power-cut, agent-handover]\n"
#define KC "target=qemu-x86_64,backend=current,agent=current,from=1.0.0,to=1.1.0"
#define KP "target=qemu-x86_64,backend=current,agent=previous,from=1.0.0,to=1.1.0"

static void test_scenario_entries(void **state)
{
	struct fixture f = expand_ok(SCN "exclude:\n  - {agent: current, scenario: agent-handover}\n"
					 "include:\n"
					 "  - {scenario: power-cut, cut_points: 4}\n"
					 "  - {note: x}\n");

	/* exclude with a scenario drops a case, not the combo; include with a scenario
	 * reaches only that scenario's cases; the combo's extra is what all share */
	assert_cases(f.p, KC "|update|{\"note\":\"x\"}|R\n"
			  KC "|power-cut|{\"cut_points\":\"4\",\"note\":\"x\"}|R\n"
			  KP "|update|{\"note\":\"x\"}|R\n"
			  KP "|power-cut|{\"cut_points\":\"4\",\"note\":\"x\"}|R\n"
			  KP "|agent-handover|{\"note\":\"x\"}|R\n");
	assert_combos(f.p, KC " {\"note\":\"x\"}\n" KP " {\"note\":\"x\"}\n");
	assert_string_equal(mx_case_get(f.p, &f.p->cases[1], "cut_points"), "4");
	assert_null(mx_case_get(f.p, &f.p->cases[0], "cut_points"));
	fixture_free(&f);

	/* every scenario of a combo excluded: the combo is gone */
	f = expand_ok(SCN "exclude:\n  - {agent: previous, scenario: update}\n"
		      "  - {agent: previous, scenario: power-cut}\n"
		      "  - {agent: previous, scenario: agent-handover}\n");
	assert_combos(f.p, KC " -\n");
	fixture_free(&f);

	/* an excluded case added back by an include naming it: the same combo again */
	f = expand_ok(SCN "exclude:\n  - {agent: current, scenario: agent-handover}\n"
		      "include:\n  - {" ALLCORE ", scenario: agent-handover, back: yes}\n");
	assert_cases(f.p, KC "|update|-|R\n" KC "|power-cut|-|R\n"
			  KC "|agent-handover|{\"back\":\"yes\"}|R\n"
			  KP "|update|-|R\n" KP "|power-cut|-|R\n" KP "|agent-handover|-|R\n");
	fixture_free(&f);
}

static void test_overwrite_order(void **state)
{
	/* added values can be overwritten by later entries; the last one wins per case */
	struct fixture f = expand_ok(SCN "include:\n  - {scenario: update, x: 1}\n  - {x: 2}\n");

	assert_combos(f.p, KC " {\"x\":\"2\"}\n" KP " {\"x\":\"2\"}\n");
	fixture_free(&f);
	f = expand_ok(SCN "include:\n  - {x: 2}\n  - {scenario: update, x: 1}\n");
	assert_cases(f.p, KC "|update|{\"x\":\"1\"}|R\n" KC "|power-cut|{\"x\":\"2\"}|R\n"
			  KC "|agent-handover|{\"x\":\"2\"}|R\n"
			  KP "|update|{\"x\":\"1\"}|R\n" KP "|power-cut|{\"x\":\"2\"}|R\n"
			  KP "|agent-handover|{\"x\":\"2\"}|R\n");
	assert_combos(f.p, KC " -\n" KP " -\n");
	fixture_free(&f);

	/* extra keys are case-sensitive: Color and color are two keys */
	f = expand_ok(SCN "include:\n  - {Color: green}\n  - {color: pink}\n  - {color: red}\n");
	assert_combos(f.p, KC " {\"Color\":\"green\",\"color\":\"red\"}\n"
			   KP " {\"Color\":\"green\",\"color\":\"red\"}\n");
	fixture_free(&f);

	/* an entry that names an axis value only reaches those combos: original values are
	 * never overwritten (agent: current does not turn previous combos into current) */
	f = expand_ok(SCN "include:\n  - {agent: current, y: 1}\n");
	assert_combos(f.p, KC " {\"y\":\"1\"}\n" KP " -\n");
	fixture_free(&f);
}

static void test_new_combos(void **state)
{
	struct fixture f;
	struct mx_spec *s;
	struct mx_plan *p = NULL;
	struct lp_diag d;
	char buf[1024];

	/* one new combo with only the named scenario; the same new combo named twice is
	 * one combo with both entries' keys */
	f = expand_ok(SCN "exclude:\n  - {agent: previous}\n"
		      "include:\n"
		      "  - {" "target: qemu-x86_64, backend: current, agent: previous, from: 1.0.0, "
		      "to: 1.1.0, scenario: update, a: 1}\n"
		      "  - {" "target: qemu-x86_64, backend: current, agent: previous, from: 1.0.0, "
		      "to: 1.1.0, scenario: update, b: 2}\n");
	assert_cases(f.p, KC "|update|-|R\n" KC "|power-cut|-|R\n" KC "|agent-handover|-|R\n"
			  KP "|update|{\"a\":\"1\",\"b\":\"2\"}|R\n");
	fixture_free(&f);

	/* a new combo must name every core axis */
	s = mx_fixture_spec(repo, SCN "exclude:\n  - {agent: previous}\n"
				  "include:\n  - {agent: previous, target: qemu-x86_64, z: 1}\n");
	assert_non_null(s);
	assert_int_equal(mx_plan_expand(s, &p, &d), -EINVAL);
	lp_diag_format(&d, buf, sizeof(buf));
	assert_string_equal(buf, "spec.yaml:12:5: include[0]: it matches no combination, so it "
				 "makes a new one, which must name every core axis (missing: "
				 "backend, from, to)");
	assert_null(p);
	mx_spec_free(s);
}

static void test_required(void **state)
{
	struct fixture f = expand_ok(SCN "required:\n  - {agent: previous, scenario: update}\n"
					 "  - {agent: current, scenario: power-cut}\n");

	assert_cases(f.p, KC "|update|-|o\n" KC "|power-cut|-|R\n" KC "|agent-handover|-|o\n"
			  KP "|update|-|R\n" KP "|power-cut|-|o\n" KP "|agent-handover|-|o\n");
	assert_true(f.p->combos[0].required);
	fixture_free(&f);

	f = expand_ok(SCN "required: {agent: previous}\n");
	assert_false(f.p->combos[0].required);
	assert_true(f.p->combos[1].required);
	assert_false(f.p->cases[0].required);
	assert_true(f.p->cases[5].required);
	fixture_free(&f);
}

static void test_snapshot_groups(void **state)
{
	struct fixture f = expand_ok("components: {backend: {previous: {git: v1}}}\n"
				     "axes:\n  target: [qemu-x86_64, qemu-aarch64]\n"
				     "  backend: [current, previous]\n  agent: [current]\n"
				     "  from: [1.0.0]\n  to: [1.1.0, 1.2.0]\n  env: [uboot, grub]\n"
				     "scenarios: [update]\n");

	/* the start is (target, agent, from, env): backend and to do not change it */
	for (size_t i = 0; i < f.p->n_combos; i++) {
		const struct mx_combo *c = &f.p->combos[i];
		unsigned want = c->value[MX_AXIS_TARGET] * 2 + c->value[5];

		assert_int_equal(c->snapshot_group, want);
	}
	assert_int_equal(f.p->n_combos, 16);
	fixture_free(&f);
}

static void test_in_use_expand(void **state)
{
	struct mx_spec *s = mx_fixture_spec(repo, "axes:\n  target: [qemu-x86_64]\n"
					    "  backend: [current]\n  agent: [current]\n"
					    "  from: [{in-use: https://backend}]\n  to: [1.1.0]\n"
					    "scenarios: [update]\n"
					    "exclude: [{from: 0.5.0}]\n"
					    "include: [{from: 0.7.0, " "target: qemu-x86_64, "
					    "backend: current, agent: current, to: 1.1.0}]\n");
	struct mx_plan *p = NULL;
	struct lp_diag d;
	cJSON *answer;

	assert_non_null(s);
	assert_int_equal(mx_plan_expand(s, &p, &d), -EAGAIN);
	assert_non_null(strstr(d.msg, "not known yet"));
	answer = cJSON_Parse("{\"items\":[{\"version\":\"0.5.0\"},{\"version\":\"0.7.0\"}]}");
	assert_int_equal(mx_spec_in_use_apply(s, answer, &d), 0);
	assert_int_equal(mx_plan_expand(s, &p, &d), 0);
	/* 0.5.0 excluded, and 0.7.0 is an original combo the include just matches */
	assert_combos(p, "target=qemu-x86_64,backend=current,agent=current,from=0.7.0,to=1.1.0 -\n");
	mx_plan_free(p);
	p = NULL;
	cJSON_Delete(answer);

	/* 0.7.0 no longer in use: the include would make a combo of an unknown version */
	answer = cJSON_Parse("{\"items\":[{\"version\":\"0.5.0\"},{\"version\":\"0.6.0\"}]}");
	assert_int_equal(mx_spec_in_use_apply(s, answer, &d), 0);
	assert_int_equal(mx_plan_expand(s, &p, &d), -EINVAL);
	assert_string_equal(d.path, "include[0]");
	assert_non_null(strstr(d.msg, "its from is not a value of that axis"));
	cJSON_Delete(answer);
	mx_spec_free(s);
}

static void test_limits(void **state)
{
	char *text = malloc(1 << 16);
	struct mx_spec *s;
	struct mx_plan *p = NULL;
	struct lp_diag d;
	size_t used;

	assert_non_null(text);
	/* more than MX_COMBOS_MAX combinations: refused before anything is allocated */
	used = (size_t)snprintf(text, 1 << 16, "%s",
				"axes:\n  target: [qemu-x86_64, qemu-aarch64]\n  backend: [current]\n"
				"  agent: [current]\n  from: [1.0.0]\n  to: [1.1.0]\n  a: [");
	for (int i = 0; i < 64; i++)
		used += (size_t)snprintf(text + used, (1 << 16) - used, "%sv%d", i ? "," : "", i);
	used += (size_t)snprintf(text + used, (1 << 16) - used, "]\n  b: [");
	for (int i = 0; i < 64; i++)
		used += (size_t)snprintf(text + used, (1 << 16) - used, "%sv%d", i ? "," : "", i);
	snprintf(text + used, (1 << 16) - used, "]\nscenarios: [update]\n");
	s = mx_fixture_spec(repo, text);
	assert_non_null(s);
	assert_int_equal(mx_plan_expand(s, &p, &d), -E2BIG);
	assert_int_equal(d.line, 8);
	assert_non_null(strstr(d.msg, "more than 4096 combinations"));
	mx_spec_free(s);

	/* a key longer than MX_KEY_MAX */
	used = (size_t)snprintf(text, 1 << 16, "%s", CORE1);
	for (int i = 0; i < 11; i++)
		used += (size_t)snprintf(text + used, (1 << 16) - used, "  a%061d: [v%061d]\n", i, i);
	snprintf(text + used, (1 << 16) - used, "scenarios: [update]\n");
	s = mx_fixture_spec(repo, text);
	assert_non_null(s);
	assert_int_equal(mx_plan_expand(s, &p, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "key is longer than 1023 characters"));
	mx_spec_free(s);
	free(text);
}

/* ---- filters ---- */

#define FSPEC                                                                         \
	"components: {backend: {previous: {git: v1}}}\n"                              \
	"axes:\n  target: [qemu-x86_64, qemu-aarch64]\n  backend: [current, previous]\n" \
	"  agent: [current]\n  from: [1.0.0]\n  to: [1.1.0, 1.2.0]\n"                 \
	"  payload: [zstd, raw]\n"                                                    \
	"scenarios: [update, power-cut]\n"                                            \
	"include: [{payload: raw, note: 'a b'}]\n"

/* Cases left after filtering a fresh plan; -1 on a filter error (diag filled). */
static int filtered(const char *only, const char *expr, const char *shard, struct lp_diag *d,
		    struct fixture *ret)
{
	struct fixture f = expand_ok(FSPEC);
	struct mx_filter *flt = NULL;
	int r = mx_filter_parse(only, expr, shard, &flt, d);

	if (r == 0)
		r = mx_plan_filter(f.p, flt, d);
	mx_filter_free(flt);
	if (r < 0 || !ret) {
		fixture_free(&f);
		return r < 0 ? -1 : 0;
	}
	*ret = f;
	return (int)f.p->n_cases;
}

static int count(const char *only, const char *expr)
{
	struct lp_diag d;
	struct fixture f;
	char buf[1024];
	int n = filtered(only, expr, NULL, &d, &f);

	if (n < 0)
		fail_msg("filter %s / %s: %s", only ? only : "-", expr ? expr : "-",
			 lp_diag_format(&d, buf, sizeof(buf)));
	fixture_free(&f);
	return n;
}

static void test_filter_expr(void **state)
{
	static const struct {
		const char *expr;
		int cases;
	} t[] = {
		{ "target == qemu-x86_64", 16 },
		{ "target != qemu-x86_64", 16 },
		{ "to =~ '^1\\.2'", 16 },
		{ "to =~ 2", 16 },            /* unanchored */
		{ "to =~ '^1\\.(1|2)\\.0$'", 32 },
		{ "to == \"1.1.0\"", 16 },
		{ "scenario == 'power-cut'", 16 },
		{ "target == qemu-x86_64 && backend == current", 8 },
		/* && binds tighter than ||: aarch64 (16) or (previous and 1.2.0 on x86: 4) */
		{ "target == qemu-aarch64 || backend == previous && to == 1.2.0", 20 },
		{ "(target == qemu-aarch64 || backend == previous) && to == 1.2.0", 12 },
		/* ! binds tighter than == chains: !(target == x86) */
		{ "!target == qemu-x86_64", 16 },
		{ "!!(target == qemu-x86_64)", 16 },
		{ "!(target == qemu-x86_64 || scenario == update)", 8 },
		{ "payload==raw&&scenario==update", 8 },
		/* extra keys; a key a case does not have is never equal */
		{ "note == 'a b'", 16 },
		{ "note != 'a b'", 16 },
		{ "note =~ .", 16 },
		{ "note == 'it\\'s' || note == \"a b\"", 16 },
		{ "  target==qemu-x86_64  ", 16 },
		{ "target == nope", 0 },
	};

	for (size_t i = 0; i < LP_ARRAY_SIZE(t); i++) {
		int n = count(NULL, t[i].expr);

		if (n != t[i].cases)
			fail_msg("%s: %d cases, want %d", t[i].expr, n, t[i].cases);
	}
}

static void test_filter_errors(void **state)
{
	static const struct {
		const char *only, *expr, *shard;
		const char *path;
		unsigned column;
		const char *msg;
	} t[] = {
		{ NULL, "", NULL, "--filter", 1, "empty expression" },
		{ NULL, "target", NULL, "--filter", 7,
		  "expected ==, != or =~ after \"target\", found the end" },
		{ NULL, "target = x", NULL, "--filter", 8, "expected ==, != or =~ after \"target\"" },
		{ NULL, "target == ", NULL, "--filter", 11, "expected a value, found the end" },
		{ NULL, "target == x &&", NULL, "--filter", 15, "expected a key, found the end" },
		{ NULL, "(target == x", NULL, "--filter", 13,
		  "expected ) to close the ( at column 1, found the end" },
		{ NULL, "target == x)", NULL, "--filter", 12,
		  "expected && or || or the end, found \")\"" },
		{ NULL, "target == x & y", NULL, "--filter", 13,
		  "expected && or || or the end, found \"& y\"" },
		{ NULL, "target == 'x", NULL, "--filter", 11, "unclosed quote" },
		{ NULL, "to =~ '('", NULL, "--filter", 7, "bad regular expression" },
		{ NULL, "to =~ a+++++++++++++", NULL, "--filter", 7,
		  "bad regular expression: too many nested repetitions" },
		{ NULL, "1abc == x", NULL, "--filter", 1, "expected a key, found \"1abc == x\"" },
		{ NULL, "target === x", NULL, "--filter", 10, "expected a value, found \"= x\"" },
		{ NULL, "target == x || colour == red", NULL, "--filter", 16,
		  "unknown key \"colour\"" },
		{ NULL, "!(unknown == x)", NULL, "--filter", 3, "unknown key \"unknown\"" },
		{ "target", NULL, NULL, "--only", 1, "expected KEY=VALUE, found \"target\"" },
		{ "target=x,=y", NULL, NULL, "--only", 10, "expected KEY=VALUE, found \"=y\"" },
		{ "target=x,y=", NULL, NULL, "--only", 10, "expected KEY=VALUE, found \"y=\"" },
		{ "target=x,,", NULL, NULL, "--only", 10, "expected KEY=VALUE" },
		{ "target=x,colour=red", NULL, NULL, "--only", 10, "unknown key \"colour\"" },
		{ "9=x", NULL, NULL, "--only", 1, "\"9\" is not a key" },
		{ "Note=a b", NULL, NULL, "--only", 1, "unknown key \"Note\"" }, /* case-sensitive */
		{ NULL, NULL, "0/3", "--shard", 0, "expected I/N with 1 <= I <= N <= 1024" },
		{ NULL, NULL, "4/3", "--shard", 0, "found \"4/3\"" },
		{ NULL, NULL, "1/0", "--shard", 0, "expected I/N" },
		{ NULL, NULL, "01/2", "--shard", 0, "expected I/N" },
		{ NULL, NULL, "1/", "--shard", 0, "expected I/N" },
		{ NULL, NULL, "1", "--shard", 0, "expected I/N" },
		{ NULL, NULL, "a/b", "--shard", 0, "expected I/N" },
		{ NULL, NULL, "1/1025", "--shard", 0, "expected I/N" },
		{ NULL, NULL, "-1/2", "--shard", 0, "expected I/N" },
	};
	size_t failed = 0;

	for (size_t i = 0; i < LP_ARRAY_SIZE(t); i++) {
		struct lp_diag d;
		char buf[1024];

		if (filtered(t[i].only, t[i].expr, t[i].shard, &d, NULL) != -1) {
			print_error("case %zu: accepted\n", i);
			failed++;
			continue;
		}
		lp_diag_format(&d, buf, sizeof(buf));
		if (strcmp(d.path, t[i].path) != 0 || d.column != t[i].column ||
		    !strstr(d.msg, t[i].msg) ||
		    (t[i].column && strncmp(d.msg, "column ", 7) != 0)) {
			print_error("case %zu: \"%s\" (column %u), want %s column %u: %s\n", i, buf,
				    d.column, t[i].path, t[i].column, t[i].msg);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_filter_depth(void **state)
{
	char expr[512];
	struct lp_diag d;
	size_t n = 0;

	for (int i = 0; i < 70; i++)
		expr[n++] = '(';
	snprintf(expr + n, sizeof(expr) - n, "target == x");
	assert_int_equal(filtered(NULL, expr, NULL, &d, NULL), -1);
	assert_non_null(strstr(d.msg, "nested deeper than 64 levels"));
	assert_int_equal(d.column, 65);
}

static void test_only(void **state)
{
	assert_int_equal(count("target=qemu-x86_64,scenario=update", NULL), 8);
	assert_int_equal(count("to=1.1.0,to=1.2.0", NULL), 32);         /* a key twice: either */
	assert_int_equal(count("to=1.1.0,payload=raw,to=1.2.0", NULL), 16);
	assert_int_equal(count("note=a b", NULL), 16);
	assert_int_equal(count("target=qemu-x86_64", "scenario == update"), 8);
	assert_int_equal(count(NULL, NULL), 32);
}

static void test_filter_keeps_index(void **state)
{
	struct lp_diag d;
	struct fixture f;

	assert_int_equal(filtered(NULL, "target == qemu-aarch64 && payload == raw", NULL, &d, &f),
			 8);
	assert_int_equal(f.p->n_combos, 4);
	for (size_t i = 0; i < f.p->n_combos; i++) {
		assert_int_equal(f.p->combos[i].index, 9 + 2 * i); /* 8.. are aarch64, odd: raw */
		assert_non_null(strstr(f.p->combos[i].key, "payload=raw"));
	}
	for (size_t i = 0; i < f.p->n_cases; i++)
		assert_int_equal(f.p->cases[i].combo, i / 2);
	assert_string_equal(mx_case_get(f.p, &f.p->cases[7], "note"), "a b");
	fixture_free(&f);
}

/* Every combo lands in exactly one shard, with all its cases, for N = 1..7; the shards
 * differ in size by at most one combo. Also over what a filter leaves. */
static void check_shards(const char *expr, unsigned n_all)
{
	for (unsigned n = 1; n <= 7; n++) {
		unsigned seen[64] = { 0 }, cases = 0, min = ~0u, max = 0;

		for (unsigned i = 1; i <= n; i++) {
			char shard[16];
			struct lp_diag d;
			struct fixture f;

			snprintf(shard, sizeof(shard), "%u/%u", i, n);
			assert_true(filtered(NULL, expr, shard, &d, &f) >= 0);
			for (size_t c = 0; c < f.p->n_combos; c++)
				seen[f.p->combos[c].index]++;
			for (size_t c = 0; c < f.p->n_cases; c++)
				assert_true(f.p->cases[c].combo < f.p->n_combos);
			cases += (unsigned)f.p->n_cases;
			min = f.p->n_combos < min ? (unsigned)f.p->n_combos : min;
			max = f.p->n_combos > max ? (unsigned)f.p->n_combos : max;
			fixture_free(&f);
		}
		assert_true(max - min <= 1);
		assert_int_equal(cases, 2 * n_all); /* two scenarios: every combo whole */
		for (unsigned c = 0, total = 0; c < 64; c++) {
			assert_true(seen[c] <= 1);
			total += seen[c];
			if (c == 63)
				assert_int_equal(total, n_all);
		}
	}
}

static void test_shards(void **state)
{
	check_shards(NULL, 16);
	check_shards("backend == current || payload == raw", 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github_fruit),
		cmocka_unit_test(test_github_expanding),
		cmocka_unit_test(test_github_exclude),
		cmocka_unit_test(test_github_add_back),
		cmocka_unit_test(test_product_order),
		cmocka_unit_test(test_scenario_entries),
		cmocka_unit_test(test_overwrite_order),
		cmocka_unit_test(test_new_combos),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_snapshot_groups),
		cmocka_unit_test(test_in_use_expand),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_filter_expr),
		cmocka_unit_test(test_filter_errors),
		cmocka_unit_test(test_filter_depth),
		cmocka_unit_test(test_only),
		cmocka_unit_test(test_filter_keeps_index),
		cmocka_unit_test(test_shards),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

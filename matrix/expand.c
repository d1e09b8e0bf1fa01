/* SPDX-License-Identifier: MIT */
/*
 * Spec -> plan with GitHub Actions' matrix semantics (docs/matrix.md, "Expansion"):
 *
 *  1. the product of the axes, the first axis varying slowest;
 *  2. exclude entries (partial matches) remove combinations — or, when they name a
 *     scenario, only that scenario's case of the matching combinations;
 *  3. each include entry, in order: its key:value pairs are added to every case of the
 *     original combinations (what the product left after exclude) where none of them
 *     overwrites an axis value — extra keys added earlier may be overwritten; an entry
 *     naming a scenario only touches that scenario's cases. An entry that fits no case
 *     makes a new combination (every core axis named; configuration axes it leaves out
 *     stay MX_VALUE_NONE) with its scenario, or every scenario;
 *  4. required entries mark cases (none: every case); snapshot groups; cases.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix.h"

/* A combination while the plan is being made. */
struct work {
	unsigned value[MX_AXES_MAX];
	bool origin;        /* from the product (include entries match only these) */
	uint64_t cases;     /* bit s: the case with scenario s exists */
	cJSON **extra;      /* per scenario: extra keys (NULL until an include adds some) */
};

/* An entry with its values looked up: per axis the value index, NOT_NAMED or UNKNOWN. */
#define NOT_NAMED (-1)
#define UNKNOWN (-2)
struct entry {
	int value[MX_AXES_MAX];
	int scenario;       /* index, or NOT_NAMED */
	const struct mx_match *m;
};

static void entry_resolve(const struct mx_spec *s, const struct mx_match *m, struct entry *e)
{
	for (size_t a = 0; a < MX_AXES_MAX; a++)
		e->value[a] = NOT_NAMED;
	e->scenario = NOT_NAMED;
	e->m = m;
	for (size_t i = 0; i < m->n; i++) {
		const struct mx_match_kv *kv = &m->kv[i];

		if (kv->axis >= 0) {
			int v = mx_axis_value(&s->axes[kv->axis], kv->value);

			e->value[kv->axis] = v >= 0 ? v : UNKNOWN;
		} else if (kv->axis == MX_MATCH_SCENARIO) {
			e->scenario = mx_spec_scenario(s, kv->value);
		}
	}
}

static bool entry_matches_values(const struct mx_spec *s, const struct entry *e,
				 const unsigned *value)
{
	for (size_t a = 0; a < s->n_axes; a++)
		if (e->value[a] != NOT_NAMED && (e->value[a] == UNKNOWN ||
						 (unsigned)e->value[a] != value[a]))
			return false;
	return true;
}

static uint64_t scenario_bits(const struct mx_spec *s, int scenario)
{
	if (scenario != NOT_NAMED)
		return 1ull << scenario;
	return s->n_scenarios >= 64 ? ~0ull : (1ull << s->n_scenarios) - 1;
}

/* Points the diag at an entry ("include[3]" and its position). */
static void at_entry(const struct mx_spec *s, const char *list, size_t i,
		     const struct mx_match *m, struct lp_diag *diag)
{
	char path[64];

	snprintf(path, sizeof(path), "%s[%zu]", list, i);
	lp_diag_set_file(diag, s->path);
	lp_diag_set_pos(diag, m->line, m->column);
	lp_diag_set_path(diag, path);
}

/* The product of the axes, the last axis varying fastest. */
static void product(const struct mx_spec *s, struct work *w, size_t n)
{
	unsigned value[MX_AXES_MAX] = { 0 };

	for (size_t i = 0; i < n; i++) {
		memcpy(w[i].value, value, sizeof(value));
		w[i].origin = true;
		w[i].cases = scenario_bits(s, NOT_NAMED);
		for (size_t a = s->n_axes; a-- > 0;) {
			if (++value[a] < s->axes[a].n_values)
				break;
			value[a] = 0;
		}
	}
}

static void apply_excludes(const struct mx_spec *s, struct work *w, size_t n)
{
	for (size_t i = 0; i < s->n_exclude; i++) {
		struct entry e;

		entry_resolve(s, &s->exclude[i], &e);
		for (size_t c = 0; c < n; c++)
			if (entry_matches_values(s, &e, w[c].value))
				w[c].cases &= ~scenario_bits(s, e.scenario);
	}
}

/* Adds the entry's extra keys to the cases in bits of w (overwriting earlier ones). */
static int add_extras(const struct mx_spec *s, const struct mx_match *m, struct work *w,
		      uint64_t bits)
{
	bool any = false;

	for (size_t i = 0; i < m->n; i++)
		any |= m->kv[i].axis == MX_MATCH_EXTRA;
	if (!any)
		return 0;
	if (!w->extra && !(w->extra = calloc(s->n_scenarios, sizeof(*w->extra))))
		return -ENOMEM;
	for (size_t sc = 0; sc < s->n_scenarios; sc++) {
		if (!(bits & (1ull << sc)))
			continue;
		if (!w->extra[sc] && !(w->extra[sc] = cJSON_CreateObject()))
			return -ENOMEM;
		for (size_t i = 0; i < m->n; i++) {
			const struct mx_match_kv *kv = &m->kv[i];
			cJSON *str;

			if (kv->axis != MX_MATCH_EXTRA)
				continue;
			if (!(str = cJSON_CreateString(kv->value)))
				return -ENOMEM;
			/* keys are case-sensitive (cJSON_HasObjectItem is not) */
			if (cJSON_GetObjectItemCaseSensitive(w->extra[sc], kv->key))
				cJSON_ReplaceItemInObjectCaseSensitive(w->extra[sc], kv->key, str);
			else
				cJSON_AddItemToObject(w->extra[sc], kv->key, str);
		}
	}
	return 0;
}

/* An include entry that fits no case: the combination it names (found, or made). */
static int include_new(const struct mx_spec *s, size_t i, const struct entry *e, struct work *w,
		       size_t *n, struct lp_diag *diag)
{
	static const char *const core[] = { "target", "backend", "agent", "from", "to" };
	unsigned value[MX_AXES_MAX];
	char missing[128] = "";
	size_t c;

	for (size_t a = 0; a < s->n_axes; a++) {
		if (e->value[a] == UNKNOWN) {
			at_entry(s, "include", i, e->m, diag);
			return lp_diag_fail(diag, -EINVAL,
					    "it makes a new combination, but its %s is not a value "
					    "of that axis (not in use any more?)", s->axes[a].name);
		}
		if (e->value[a] == NOT_NAMED && a < MX_CORE_AXES) {
			size_t used = strlen(missing);

			snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
				 core[a]);
		}
		value[a] = e->value[a] == NOT_NAMED ? MX_VALUE_NONE : (unsigned)e->value[a];
	}
	if (missing[0]) {
		at_entry(s, "include", i, e->m, diag);
		return lp_diag_fail(diag, -EINVAL,
				    "it matches no combination, so it makes a new one, which must "
				    "name every core axis (missing: %s)", missing);
	}
	/* the same combination again if it is still there (a case of it excluded, or made
	 * by an earlier entry); one that exclude removed whole is gone: a new one goes last */
	for (c = 0; c < *n; c++)
		if ((w[c].cases || !w[c].origin) &&
		    memcmp(w[c].value, value, s->n_axes * sizeof(value[0])) == 0)
			break;
	if (c == *n) {
		memcpy(w[c].value, value, sizeof(value));
		w[c].origin = false;
		w[c].cases = 0;
		(*n)++;
	}
	w[c].cases |= scenario_bits(s, e->scenario);
	return add_extras(s, e->m, &w[c], scenario_bits(s, e->scenario));
}

static int apply_includes(const struct mx_spec *s, struct work *w, size_t *n,
			  struct lp_diag *diag)
{
	for (size_t i = 0; i < s->n_include; i++) {
		size_t origins = *n;
		bool matched = false;
		struct entry e;
		int r;

		entry_resolve(s, &s->include[i], &e);
		for (size_t c = 0; c < origins; c++) {
			uint64_t bits = w[c].cases & scenario_bits(s, e.scenario);

			if (!w[c].origin || !bits || !entry_matches_values(s, &e, w[c].value))
				continue;
			matched = true;
			if ((r = add_extras(s, e.m, &w[c], bits)) < 0)
				return r;
		}
		if (!matched && (r = include_new(s, i, &e, w, n, diag)) < 0)
			return r;
	}
	return 0;
}

/* ---- the plan ---- */

static int combo_key(const struct mx_spec *s, struct mx_combo *c, struct lp_diag *diag)
{
	size_t used = 0;

	c->key[0] = '\0';
	for (size_t a = 0; a < s->n_axes; a++) {
		int w;

		if (c->value[a] == MX_VALUE_NONE)
			continue;
		w = snprintf(c->key + used, sizeof(c->key) - used, "%s%s=%s", used ? "," : "",
			     s->axes[a].name, s->axes[a].values[c->value[a]].name);
		if (w < 0 || (size_t)w >= sizeof(c->key) - used) {
			lp_diag_set_file(diag, s->path);
			return lp_diag_fail(diag, -E2BIG, "a combination's key is longer than %d "
					    "characters (shorter axis names or values)", MX_KEY_MAX - 1);
		}
		used += (size_t)w;
	}
	return 0;
}

static bool case_required(const struct mx_spec *s, const unsigned *value, unsigned scenario)
{
	if (s->n_required == 0)
		return true;
	for (size_t i = 0; i < s->n_required; i++) {
		struct entry e;

		entry_resolve(s, &s->required[i], &e);
		if ((e.scenario == NOT_NAMED || (unsigned)e.scenario == scenario) &&
		    entry_matches_values(s, &e, value))
			return true;
	}
	return false;
}

/* The extra keys all cases of a combo share (same value); *ret NULL if none. */
static int common_extra(const struct mx_case *cases, size_t n, cJSON **ret)
{
	cJSON *common, *it;

	*ret = NULL;
	if (n == 0 || !cases[0].extra)
		return 0;
	common = cJSON_CreateObject();
	if (!common)
		return -ENOMEM;
	cJSON_ArrayForEach(it, cases[0].extra) {
		bool all = true;
		cJSON *copy;

		for (size_t i = 1; i < n && all; i++) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(cases[i].extra, it->string);

			all = cJSON_IsString(o) && strcmp(o->valuestring, it->valuestring) == 0;
		}
		if (!all)
			continue;
		if (!(copy = cJSON_CreateString(it->valuestring))) {
			cJSON_Delete(common);
			return -ENOMEM;
		}
		cJSON_AddItemToObject(common, it->string, copy);
	}
	if (!common->child)
		cJSON_Delete(common);
	else
		*ret = common;
	return 0;
}

/* Combos that start alike (target, agent, from and the configuration axes) share a
 * number, given in plan order. Sorting keeps this O(n log n) for large plans. */
static int start_cmp(const struct mx_plan *p, size_t a, size_t b)
{
	const struct mx_combo *x = &p->combos[a], *y = &p->combos[b];

	for (size_t ax = 0; ax < p->spec->n_axes; ax++) {
		if (ax == MX_AXIS_BACKEND || ax == MX_AXIS_TO || x->value[ax] == y->value[ax])
			continue;
		return x->value[ax] < y->value[ax] ? -1 : 1;
	}
	return 0;
}

static int snapshot_cmp(const void *a, const void *b, void *arg)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = start_cmp(arg, x, y);

	return c ? c : (x < y ? -1 : x > y);
}

static int snapshot_groups(struct mx_plan *p)
{
	size_t *order, *leader, n = p->n_combos;
	unsigned next = 0;

	order = calloc(n ? n : 1, sizeof(*order));
	leader = calloc(n ? n : 1, sizeof(*leader));
	if (!order || !leader) {
		free(order);
		free(leader);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), snapshot_cmp, p);
	/* runs of equal starts, each led by its first combo in plan order */
	for (size_t i = 0, run = 0; i < n; i++) {
		if (start_cmp(p, order[run], order[i]) != 0)
			run = i;
		leader[order[i]] = order[run];
	}
	for (size_t i = 0; i < n; i++)
		p->combos[i].snapshot_group = leader[i] == i ? next++
							     : p->combos[leader[i]].snapshot_group;
	free(order);
	free(leader);
	return 0;
}

/* The combos and cases of the work list (combos without a case are gone). */
static int build_plan(const struct mx_spec *s, struct work *w, size_t n, struct mx_plan *p,
		      struct lp_diag *diag)
{
	size_t n_combos = 0, n_cases = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		n_combos += w[i].cases != 0;
		n_cases += (size_t)__builtin_popcountll(w[i].cases);
	}
	if (n_combos > MX_COMBOS_MAX) {
		lp_diag_set_file(diag, s->path);
		return lp_diag_fail(diag, -E2BIG, "%zu combinations; at most %d", n_combos,
				    MX_COMBOS_MAX);
	}
	p->combos = calloc(n_combos ? n_combos : 1, sizeof(*p->combos));
	p->cases = calloc(n_cases ? n_cases : 1, sizeof(*p->cases));
	if (!p->combos || !p->cases)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct mx_combo *c = &p->combos[p->n_combos];
		size_t first = p->n_cases;

		if (!w[i].cases)
			continue;
		c->index = (unsigned)p->n_combos;
		memcpy(c->value, w[i].value, sizeof(c->value));
		if ((r = combo_key(s, c, diag)) < 0)
			return r;
		for (unsigned sc = 0; sc < s->n_scenarios; sc++) {
			struct mx_case *k = &p->cases[p->n_cases];

			if (!(w[i].cases & (1ull << sc)))
				continue;
			k->combo = (unsigned)p->n_combos;
			k->scenario = sc;
			k->required = case_required(s, c->value, sc);
			c->required |= k->required;
			if (w[i].extra) {
				k->extra = w[i].extra[sc];
				w[i].extra[sc] = NULL;
			}
			p->n_cases++;
		}
		if ((r = common_extra(&p->cases[first], p->n_cases - first, &c->extra)) < 0)
			return r;
		p->n_combos++;
	}
	return snapshot_groups(p);
}

static int check_axes(const struct mx_spec *s, size_t *ret_product, struct lp_diag *diag)
{
	size_t product = 1;

	lp_diag_set_file(diag, s->path);
	if (s->in_use.enabled && !s->in_use.resolved) {
		lp_diag_set_path(diag, "axes.from");
		return lp_diag_fail(diag, -EAGAIN, "the from versions in use at %s are not known "
				    "yet (they are asked when a run starts)", s->in_use.url);
	}
	for (size_t a = 0; a < s->n_axes; a++) {
		if (s->axes[a].n_values == 0) {
			lp_diag_set_path(diag, "axes");
			return lp_diag_fail(diag, -EINVAL, "axis %s has no values", s->axes[a].name);
		}
		product *= s->axes[a].n_values;
		if (product > MX_COMBOS_MAX) {
			lp_diag_set_pos(diag, s->axes[a].line, s->axes[a].column);
			lp_diag_set_path(diag, "axes");
			return lp_diag_fail(diag, -E2BIG,
					    "the axes make more than %d combinations (split the "
					    "spec, or fewer values)", MX_COMBOS_MAX);
		}
	}
	*ret_product = product;
	return 0;
}

int mx_plan_expand(const struct mx_spec *s, struct mx_plan **ret_plan, struct lp_diag *diag)
{
	struct mx_plan *p = NULL;
	struct work *w = NULL;
	size_t n = 0, cap;
	int r;

	lp_diag_clear(diag);
	if ((r = check_axes(s, &n, diag)) < 0)
		return r;
	cap = n + s->n_include;
	w = calloc(cap, sizeof(*w));
	p = calloc(1, sizeof(*p));
	if (!w || !p) {
		r = -ENOMEM;
		goto out;
	}
	p->spec = s;
	product(s, w, n);
	apply_excludes(s, w, n);
	if ((r = apply_includes(s, w, &n, diag)) < 0 || (r = build_plan(s, w, n, p, diag)) < 0)
		goto out;
	*ret_plan = p;
	p = NULL;
out:
	for (size_t i = 0; w && i < cap; i++) {
		for (size_t sc = 0; w[i].extra && sc < s->n_scenarios; sc++)
			cJSON_Delete(w[i].extra[sc]);
		free(w[i].extra);
	}
	free(w);
	mx_plan_free(p);
	return r;
}

void mx_plan_free(struct mx_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->combos && i < p->n_combos; i++)
		cJSON_Delete(p->combos[i].extra);
	for (size_t i = 0; p->cases && i < p->n_cases; i++)
		cJSON_Delete(p->cases[i].extra);
	free(p->combos);
	free(p->cases);
	free(p);
}

const char *mx_case_get(const struct mx_plan *p, const struct mx_case *c, const char *key)
{
	const struct mx_spec *s = p->spec;
	const struct mx_combo *combo = &p->combos[c->combo];
	const cJSON *v;
	int a;

	if (strcmp(key, "scenario") == 0)
		return s->scenarios[c->scenario].name;
	a = mx_spec_axis(s, key);
	if (a >= 0)
		return combo->value[a] == MX_VALUE_NONE ? NULL : s->axes[a].values[combo->value[a]].name;
	v = cJSON_GetObjectItemCaseSensitive(c->extra, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

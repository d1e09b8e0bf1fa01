/* SPDX-License-Identifier: MIT */
/*
 * `check SPEC`: validate a spec and show what it expands to.
 * `list SPEC [--only K=V,…] [--filter EXPR] [--shard I/N]`: the cases a run would execute,
 * one line each (combo key, scenario, required or optional, extra keys).
 *
 * Both exit 2 with FILE:LINE:COL on a bad spec (and --only/--filter/--shard errors name
 * the column); the output is meant to be diffed and grepped: stable order, no decoration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "loopline/json.h"
#include "matrix.h"

/* A spec error is a configuration error (exit 2), whatever errno it came with. */
static int spec_fail(int err, const struct lp_diag *diag)
{
	int code = lp_cli_fail(err, diag, NULL);

	return err == -ENOMEM ? code : LP_EXIT_USAGE;
}

static int print_json(cJSON *j)
{
	char *text = j ? lp_json_print(j) : NULL;

	cJSON_Delete(j);
	if (!text)
		return lp_cli_fail(-ENOMEM, NULL, NULL);
	printf("%s\n", text);
	free(text);
	return 0;
}

static const char *source_text(const struct mx_source *src, char *buf, size_t len)
{
	switch (src->kind) {
	case MX_SOURCE_PATH:
		snprintf(buf, len, "path %s", src->path);
		break;
	case MX_SOURCE_GIT:
		snprintf(buf, len, "git %s", src->git);
		break;
	case MX_SOURCE_PREBUILT:
		snprintf(buf, len, "prebuilt %s%s%s", src->path, src->prebuilt_aarch64[0] ? " " : "",
			 src->prebuilt_aarch64);
		break;
	}
	return buf;
}

static cJSON *source_json(const struct mx_source *src)
{
	cJSON *o = cJSON_CreateObject();

	if (src->kind == MX_SOURCE_GIT) {
		cJSON_AddStringToObject(o, "git", src->git);
	} else if (src->kind == MX_SOURCE_PATH) {
		cJSON_AddStringToObject(o, "path", src->path);
	} else {
		cJSON *pre = cJSON_AddObjectToObject(o, "prebuilt");

		if (src->path[0])
			cJSON_AddStringToObject(pre, "x86_64", src->path);
		if (src->prebuilt_aarch64[0])
			cJSON_AddStringToObject(pre, "aarch64", src->prebuilt_aarch64);
	}
	return o;
}

struct counts {
	bool known;
	size_t combos, cases, required_combos, required_cases, groups;
};

static int count_plan(const struct mx_spec *s, struct counts *n, struct lp_diag *diag)
{
	struct mx_plan *p = NULL;
	int r;

	memset(n, 0, sizeof(*n));
	if (s->in_use.enabled && !s->in_use.resolved)
		return 0;
	if ((r = mx_plan_expand(s, &p, diag)) < 0)
		return r;
	n->known = true;
	n->combos = p->n_combos;
	n->cases = p->n_cases;
	for (size_t i = 0; i < p->n_combos; i++) {
		n->required_combos += p->combos[i].required;
		if (p->combos[i].snapshot_group + 1 > n->groups)
			n->groups = p->combos[i].snapshot_group + 1;
	}
	for (size_t i = 0; i < p->n_cases; i++)
		n->required_cases += p->cases[i].required;
	mx_plan_free(p);
	return 0;
}

static void check_text(const struct mx_spec *s, const struct counts *n)
{
	char src[2 * PATH_MAX + 64];
	size_t width = 0;

	printf("spec: %s (%s)\n", s->name, s->path);
	printf("axes:\n");
	for (size_t a = 0; a < s->n_axes; a++)
		if (strlen(s->axes[a].name) > width)
			width = strlen(s->axes[a].name);
	for (size_t a = 0; a < s->n_axes; a++) {
		const struct mx_axis *ax = &s->axes[a];

		printf("  %-*s ", (int)width, ax->name);
		for (size_t v = 0; v < ax->n_values; v++) {
			printf("%s%s", v ? ", " : "", ax->values[v].name);
			if (a == MX_AXIS_BACKEND || a == MX_AXIS_AGENT)
				printf(" (%s)", source_text(&ax->values[v].source, src, sizeof(src)));
			else if (a == MX_AXIS_TO && strcmp(ax->values[v].name, ax->values[v].version) != 0)
				printf(" (%s, agent %s)", ax->values[v].version, ax->values[v].to_agent);
			else if (a == MX_AXIS_TO && strcmp(ax->values[v].to_agent, "current") != 0)
				printf(" (agent %s)", ax->values[v].to_agent);
		}
		if (a == MX_AXIS_FROM && s->in_use.enabled)
			printf("%sthe versions in use at %s", ax->n_values ? " + " : "", s->in_use.url);
		printf("\n");
	}
	printf("scenarios:");
	for (size_t i = 0; i < s->n_scenarios; i++)
		printf("%s %s", i ? "," : "", s->scenarios[i].name);
	printf("\n");
	if (!n->known) {
		printf("combos: known when a run starts (it asks which versions are in use)\n");
		return;
	}
	printf("combos: %zu (%zu required), %zu snapshot group%s\n", n->combos, n->required_combos,
	       n->groups, n->groups == 1 ? "" : "s");
	printf("cases: %zu (%zu required)\n", n->cases, n->required_cases);
}

static cJSON *check_json(const struct mx_spec *s, const struct counts *n)
{
	cJSON *j = cJSON_CreateObject(), *axes, *sc, *comp;

	cJSON_AddStringToObject(j, "name", s->name);
	cJSON_AddStringToObject(j, "path", s->path);
	cJSON_AddStringToObject(j, "sha256", s->sha256);
	axes = cJSON_AddArrayToObject(j, "axes");
	for (size_t a = 0; a < s->n_axes; a++) {
		cJSON *ax = cJSON_CreateObject(), *vals = cJSON_AddArrayToObject(ax, "values");

		cJSON_AddStringToObject(ax, "name", s->axes[a].name);
		for (size_t v = 0; v < s->axes[a].n_values; v++)
			cJSON_AddItemToArray(vals, cJSON_CreateString(s->axes[a].values[v].name));
		cJSON_AddItemToArray(axes, ax);
	}
	if (s->in_use.enabled)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(j, "in_use"), "url", s->in_use.url);
	comp = cJSON_AddObjectToObject(j, "components");
	for (int which = MX_AXIS_BACKEND; which <= MX_AXIS_AGENT; which++) {
		cJSON *o = cJSON_AddObjectToObject(comp, which == MX_AXIS_AGENT ? "agent" : "backend");
		const struct mx_component *list = which == MX_AXIS_AGENT ? s->agents : s->backends;
		size_t count = which == MX_AXIS_AGENT ? s->n_agents : s->n_backends;

		for (size_t i = 0; i < count; i++)
			cJSON_AddItemToObject(o, list[i].name, source_json(&list[i].source));
	}
	sc = cJSON_AddArrayToObject(j, "scenarios");
	for (size_t i = 0; i < s->n_scenarios; i++)
		cJSON_AddItemToArray(sc, cJSON_CreateString(s->scenarios[i].name));
	if (n->known) {
		cJSON_AddNumberToObject(j, "combos", (double)n->combos);
		cJSON_AddNumberToObject(j, "required_combos", (double)n->required_combos);
		cJSON_AddNumberToObject(j, "cases", (double)n->cases);
		cJSON_AddNumberToObject(j, "required_cases", (double)n->required_cases);
		cJSON_AddNumberToObject(j, "snapshot_groups", (double)n->groups);
	} else {
		cJSON_AddNullToObject(j, "combos");
		cJSON_AddNullToObject(j, "cases");
	}
	return j;
}

int mx_cmd_check(struct lp_cli *cli, void *ctx)
{
	struct mx_spec *s = NULL;
	struct lp_diag diag;
	struct counts n;
	int r;

	if ((r = mx_spec_load(cli->args[0], &s, &diag)) < 0)
		return spec_fail(r, &diag);
	if ((r = count_plan(s, &n, &diag)) < 0) {
		mx_spec_free(s);
		return spec_fail(r, &diag);
	}
	if (cli->json)
		r = print_json(check_json(s, &n));
	else
		check_text(s, &n);
	mx_spec_free(s);
	return r;
}

/* ---- list ---- */

/* "k=v,k=v" of a case's extra keys into buf ("" if none). */
static const char *extra_text(const cJSON *extra, char *buf, size_t len)
{
	const cJSON *it;
	size_t used = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(it, extra) {
		int w = snprintf(buf + used, len - used, "%s%s=%s", used ? "," : "", it->string,
				 cJSON_IsString(it) ? it->valuestring : "");

		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return buf;
}

static void list_text(const struct mx_plan *p)
{
	const struct mx_spec *s = p->spec;
	size_t kw = 0, sw = 0;
	char extra[2048];

	for (size_t i = 0; i < p->n_combos; i++)
		if (strlen(p->combos[i].key) > kw)
			kw = strlen(p->combos[i].key);
	for (size_t i = 0; i < s->n_scenarios; i++)
		if (strlen(s->scenarios[i].name) > sw)
			sw = strlen(s->scenarios[i].name);
	for (size_t i = 0; i < p->n_cases; i++) {
		const struct mx_case *c = &p->cases[i];

		extra_text(c->extra, extra, sizeof(extra));
		printf("%-*s  %-*s  %s%s%s\n", (int)kw, p->combos[c->combo].key, (int)sw,
		       s->scenarios[c->scenario].name, c->required ? "required" : "optional",
		       extra[0] ? "  " : "", extra);
	}
}

static cJSON *list_json(const struct mx_plan *p)
{
	const struct mx_spec *s = p->spec;
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < p->n_cases; i++) {
		const struct mx_case *c = &p->cases[i];
		const struct mx_combo *combo = &p->combos[c->combo];
		cJSON *o = cJSON_CreateObject(), *axes;

		cJSON_AddStringToObject(o, "combo", combo->key);
		cJSON_AddNumberToObject(o, "index", combo->index);
		cJSON_AddStringToObject(o, "scenario", s->scenarios[c->scenario].name);
		cJSON_AddBoolToObject(o, "required", c->required);
		cJSON_AddNumberToObject(o, "snapshot_group", combo->snapshot_group);
		axes = cJSON_AddObjectToObject(o, "axes");
		for (size_t a = 0; a < s->n_axes; a++)
			if (combo->value[a] != MX_VALUE_NONE)
				cJSON_AddStringToObject(axes, s->axes[a].name,
							s->axes[a].values[combo->value[a]].name);
		cJSON_AddItemToObject(o, "extra", c->extra ? cJSON_Duplicate(c->extra, 1)
							    : cJSON_CreateObject());
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* A filter error: the message, then the text with a caret under the column. */
static int filter_fail(int err, const struct lp_diag *diag, const char *text)
{
	lp_cli_fail(err, diag, NULL);
	if (text && diag->column > 0 && diag->column <= strlen(text) + 1)
		fprintf(stderr, "  %s\n  %*s^\n", text, (int)diag->column - 1, "");
	return err == -ENOMEM ? LP_EXIT_FAILURE : LP_EXIT_USAGE;
}

int mx_cmd_list(struct lp_cli *cli, void *ctx)
{
	const char *only = NULL, *expr = NULL, *shard = NULL, *arg;
	struct mx_filter *f = NULL;
	struct mx_spec *s = NULL;
	struct mx_plan *p = NULL;
	struct lp_diag diag;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		switch (key) {
		case 'O':
			only = arg;
			break;
		case 'F':
			expr = arg;
			break;
		case 'S':
			shard = arg;
			break;
		}
	if ((r = mx_filter_parse(only, expr, shard, &f, &diag)) < 0)
		return filter_fail(r, &diag, strcmp(diag.path, "--only") == 0 ? only : expr);
	if ((r = mx_spec_load(cli->args[0], &s, &diag)) < 0) {
		r = spec_fail(r, &diag);
		goto out;
	}
	/* the versions in use come from a backend: its errors are not the spec's */
	if ((r = mx_spec_resolve_in_use(s, &diag)) < 0) {
		r = lp_cli_fail(r, &diag, NULL);
		goto out;
	}
	if ((r = mx_plan_expand(s, &p, &diag)) < 0) {
		r = spec_fail(r, &diag);
		goto out;
	}
	if ((r = mx_plan_filter(p, f, &diag)) < 0) {
		r = filter_fail(r, &diag, strcmp(diag.path, "--only") == 0 ? only : expr);
		goto out;
	}
	if (cli->json)
		r = print_json(list_json(p));
	else
		list_text(p);
out:
	mx_plan_free(p);
	mx_spec_free(s);
	mx_filter_free(f);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * What a case is made of (run.h, "case-plan.c"): the combo's component versions and
 * configuration settings, the scenario's directives, and the firmware it installs, built
 * once in the build cache. Shared by every executor: the local runner (cmd-run.c) sets a
 * device and a backend up with it, the LAVA generator (lava-gen.c) puts it into a job.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

static const char *combo_value(const struct mx_plan *p, const struct mx_combo *c, unsigned axis)
{
	const struct mx_axis *a = &p->spec->axes[axis];

	return c->value[axis] == MX_VALUE_NONE ? NULL : a->values[c->value[axis]].name;
}

void mx_subst_versions(const char *in, const char *from, const char *to, char *out, size_t len)
{
	size_t w = 0;

	for (const char *s = in; *s && w + 1 < len;) {
		if (!strncmp(s, "{{FROM}}", 8)) {
			w += (size_t)snprintf(out + w, len - w, "%s", from);
			s += 8;
		} else if (!strncmp(s, "{{TO}}", 6)) {
			w += (size_t)snprintf(out + w, len - w, "%s", to);
			s += 6;
		} else {
			out[w++] = *s++;
		}
		if (w >= len)
			w = len - 1;
	}
	out[w] = '\0';
}

static void merge_settings(cJSON *dst, const cJSON *src)
{
	if (!src)
		return;
	for (const cJSON *e = src->child; e; e = e->next) {
		cJSON *cur = cJSON_GetObjectItem(dst, e->string);

		if (cur && cJSON_IsObject(cur) && cJSON_IsObject(e))
			merge_settings(cur, e);
		else if (cur)
			cJSON_ReplaceItemInObject(dst, e->string, cJSON_Duplicate(e, true));
		else
			cJSON_AddItemToObject(dst, e->string, cJSON_Duplicate(e, true));
	}
}

/* What the combo's configuration values apply, merged into {vars, agent, package,
 * backend}; the package options the build reads. */
static int combo_settings(const struct mx_spec *s, const struct mx_combo *c, struct mx_case_spec *cs)
{
	static const char *const parts[] = { "vars", "agent", "package", "backend" };
	const char *comp, *var;
	cJSON *pkg;

	if (!(cs->settings = cJSON_CreateObject()))
		return -ENOMEM;
	for (size_t k = 0; k < 4; k++)
		if (!cJSON_AddObjectToObject(cs->settings, parts[k]))
			return -ENOMEM;
	for (size_t a = MX_CORE_AXES; a < s->n_axes; a++) {
		const struct mx_settings *st;

		if (c->value[a] == MX_VALUE_NONE)
			continue;
		st = &s->axes[a].values[c->value[a]].settings;
		merge_settings(cJSON_GetObjectItem(cs->settings, "vars"), st->vars);
		merge_settings(cJSON_GetObjectItem(cs->settings, "agent"), st->agent);
		merge_settings(cJSON_GetObjectItem(cs->settings, "package"), st->package);
		merge_settings(cJSON_GetObjectItem(cs->settings, "backend"), st->backend);
	}
	pkg = cJSON_GetObjectItem(cs->settings, "package");
	comp = cJSON_GetStringValue(cJSON_GetObjectItem(pkg, "compression"));
	var = cJSON_GetStringValue(cJSON_GetObjectItem(pkg, "variant"));
	cs->compression = comp && !strcmp(comp, "none") ? "none" : "zstd";
	cs->encrypt = cJSON_IsTrue(cJSON_GetObjectItem(pkg, "encrypt"));
	cs->delta = cJSON_IsTrue(cJSON_GetObjectItem(pkg, "delta"));
	/* package: {variant: …} builds the offered (to) firmware as that reference variant:
	 * a seeded regression (bad-health, no-boot, broken) */
	cs->to_variant = "good";
	if (var && (!strcmp(var, "bad-health") || !strcmp(var, "no-boot") || !strcmp(var, "broken")))
		cs->to_variant = var;
	return 0;
}

int mx_case_spec_init(const struct mx_plan *p, size_t i, struct mx_case_spec *cs,
		      struct lp_diag *diag)
{
	const struct mx_spec *s = p->spec;
	const struct mx_case *mc = &p->cases[i];
	const struct mx_combo *c = &p->combos[mc->combo];
	const struct mx_value *from_v = &s->axes[MX_AXIS_FROM].values[c->value[MX_AXIS_FROM]];
	const struct mx_value *to_v = &s->axes[MX_AXIS_TO].values[c->value[MX_AXIS_TO]];
	const struct mx_scenario_ref *sc = &s->scenarios[mc->scenario];
	int r;

	memset(cs, 0, sizeof(*cs));
	cs->scenario = sc->name;
	cs->target = combo_value(p, c, MX_AXIS_TARGET);
	cs->agent = combo_value(p, c, MX_AXIS_AGENT);
	cs->backend = combo_value(p, c, MX_AXIS_BACKEND);
	cs->from = from_v->version[0] ? from_v->version : from_v->name;
	cs->to = to_v->version[0] ? to_v->version : to_v->name;
	cs->to_agent = to_v->to_agent[0] ? to_v->to_agent : "current";
	if ((r = combo_settings(s, c, cs)) < 0)
		return r;
	snprintf(cs->hil, sizeof(cs->hil), "%s/%s.hil", s->scenario_dir, sc->name);
	if ((r = mx_scenario_meta_load(cs->hil, &cs->meta, diag)) < 0)
		return r;
	cs->delta = cs->delta || cs->meta.delta;
	cs->timeout_ms = sc->timeout_ms ? sc->timeout_ms :
			 cs->meta.timeout_ms ? cs->meta.timeout_ms : s->default_timeout_ms;
	return 0;
}

void mx_case_spec_free(struct mx_case_spec *cs)
{
	cJSON_Delete(cs->settings);
	cs->settings = NULL;
}

static int build_fw(struct mx_build *b, const char *target, const char *version,
		    const char *variant, unsigned security_version, const struct mx_case_spec *cs,
		    const char *agent, bool offered, const struct mx_fw **ret, struct lp_diag *diag)
{
	struct mx_fw_want w;

	memset(&w, 0, sizeof(w)); /* compared with memcmp */
	snprintf(w.target, sizeof(w.target), "%s", target);
	snprintf(w.version, sizeof(w.version), "%s", version);
	snprintf(w.variant, sizeof(w.variant), "%s", variant);
	w.security_version = security_version;
	snprintf(w.compression, sizeof(w.compression), "%s", cs->compression);
	snprintf(w.agent, sizeof(w.agent), "%s", agent);
	w.encrypt = offered && cs->encrypt; /* FROM goes onto the disk, not through the agent */
	return mx_build_firmware(b, &w, ret, diag);
}

int mx_case_fw_build(struct mx_build *b, const struct mx_case_spec *cs, const char *target,
		     struct mx_case_fw *ret, struct lp_diag *diag)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = build_fw(b, target, cs->from, "good", 0, cs, cs->agent, false, &ret->from,
			  diag)) < 0 ||
	    (r = build_fw(b, target, cs->to, cs->to_variant, 0, cs, cs->to_agent, true, &ret->to,
			  diag)) < 0)
		return r;
	for (size_t k = 0; k < cs->meta.n_pkgs; k++) {
		const struct mx_pkg_directive *pd = &cs->meta.pkgs[k];
		struct mx_case_pkg *pk = &ret->pkgs[ret->n_pkgs];
		const char *agent = !strcmp(pd->agent, "to") ? cs->to_agent :
				    !strcmp(pd->agent, "from") ? cs->agent : pd->agent;

		snprintf(pk->name, sizeof(pk->name), "%s", pd->name);
		mx_subst_versions(pd->version, cs->from, cs->to, pk->version, sizeof(pk->version));
		pk->tamper = pd->tamper;
		if ((r = build_fw(b, target, pk->version, pd->variant, pd->security_version, cs,
				  agent, true, &pk->fw, diag)) < 0)
			return r;
		ret->n_pkgs++;
	}
	if (cs->delta)
		return mx_build_delta(b, ret->from, ret->to, ret->delta, sizeof(ret->delta), diag);
	return 0;
}

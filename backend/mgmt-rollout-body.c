/* SPDX-License-Identifier: MIT */
/*
 * Bodies of /api/v1/rollouts (docs/api.md, "Rollouts"): strict — unknown keys are
 * refused and every error names the element (target.tags[2], waves[1], …).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/common.h"
#include "loopline/json.h"
#include "backend.h"

static int parse_target_attrs(const cJSON *attrs, struct be_rollout_target *t, struct lp_diag *d)
{
	const cJSON *it;

	if (!attrs)
		return 0;
	if (!cJSON_IsObject(attrs))
		return lp_diag_fail_at(d, -EINVAL, "target.attributes",
				       "expected an object of attribute name: glob pattern");
	cJSON_ArrayForEach(it, attrs) {
		char p[LP_JSON_PATH_MAX];

		lp_json_path_key(p, sizeof(p), "target.attributes", it->string);
		if (t->n_attrs == BE_TARGET_ATTRS_MAX)
			return lp_diag_fail_at(d, -E2BIG, "target.attributes",
					       "more than %d attributes", BE_TARGET_ATTRS_MAX);
		if (!it->string[0] || strlen(it->string) >= BE_TEXT_MAX)
			return lp_diag_fail_at(d, -EINVAL, p, "an attribute name of 1-128 bytes");
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= BE_TEXT_MAX)
			return lp_diag_fail_at(d, -EINVAL, p, "expected a glob pattern of at most "
					       "128 bytes");
		for (size_t k = 0; k < t->n_attrs; k++)
			if (strcmp(t->attrs[k].key, it->string) == 0)
				return lp_diag_fail_at(d, -EINVAL, p, "listed twice");
		snprintf(t->attrs[t->n_attrs].key, BE_TEXT_MAX, "%s", it->string);
		snprintf(t->attrs[t->n_attrs++].pattern, BE_TEXT_MAX, "%s", it->valuestring);
	}
	return 0;
}

static int parse_target(const cJSON *o, struct be_rollout_target *t, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "all", LP_JSON_BOOL, false },
		{ "tags", LP_JSON_ARRAY, false },
		{ "attributes", LP_JSON_OBJECT, false },
	};
	const struct lp_json_array_spec tags = {
		.key = "tags", .max = BE_TARGET_TAGS_MAX, .elem_size = BE_TAG_MAX,
		.parse = lp_json_elem_string, .ctx = LP_JSON_UNIQUE,
	};
	char (*list)[BE_TAG_MAX] = NULL;
	bool all = false;
	size_t n = 0;
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "target", d)) < 0 ||
	    (r = lp_json_get_bool(o, "all", false, "target", &all, d)) < 0 ||
	    (r = lp_json_get_array(o, "target", &tags, (void **)&list, &n, d)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		char p[LP_JSON_PATH_MAX];

		lp_json_path_index(p, sizeof(p), "target.tags", i);
		if (!be_controller_id_valid(list[i]))
			r = lp_diag_fail_at(d, -EINVAL, p, "a tag: 1-64 characters of A-Z a-z 0-9 . _ : -");
		else
			memcpy(t->tags[i], list[i], BE_TAG_MAX);
	}
	free(list);
	t->n_tags = r == 0 ? n : 0;
	t->all = all;
	if (r == 0)
		r = parse_target_attrs(cJSON_GetObjectItemCaseSensitive(o, "attributes"), t, d);
	if (r == 0 && all && (t->n_tags || t->n_attrs))
		r = lp_diag_fail_at(d, -EINVAL, "target", "\"all\" selects every device: it takes "
				    "no tags or attributes");
	if (r == 0 && !all && !t->n_tags && !t->n_attrs)
		r = lp_diag_fail_at(d, -EINVAL, "target", "select devices by tags, attributes, "
				    "or \"all\": true");
	return r;
}

static int parse_waves(const cJSON *arr, struct be_rollout_spec *sp, struct lp_diag *d)
{
	const cJSON *it;
	size_t n = 0;

	if (!arr) {
		static const unsigned def[] = { 1, 10, 50, 100 };

		memcpy(sp->waves, def, sizeof(def));
		sp->n_waves = LP_ARRAY_SIZE(def);
		return 0;
	}
	cJSON_ArrayForEach(it, arr) {
		char p[LP_JSON_PATH_MAX];

		lp_json_path_index(p, sizeof(p), "waves", n);
		if (n == BE_WAVES_MAX)
			return lp_diag_fail_at(d, -E2BIG, "waves", "more than %d waves", BE_WAVES_MAX);
		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 100 ||
		    it->valuedouble != (double)(int)it->valuedouble)
			return lp_diag_fail_at(d, -EINVAL, p, "expected a percentage 1-100 of the "
					       "targeted devices (cumulative)");
		sp->waves[n] = (unsigned)it->valuedouble;
		if (n && sp->waves[n] <= sp->waves[n - 1])
			return lp_diag_fail_at(d, -EINVAL, p, "waves are cumulative: each one larger "
					       "than the one before");
		n++;
	}
	if (n == 0 || sp->waves[n - 1] != 100)
		return lp_diag_fail_at(d, -EINVAL, "waves", "the last wave must be 100 (every "
				       "targeted device)");
	sp->n_waves = n;
	return 0;
}

/* "HH:MM" into minutes after midnight. */
static int parse_hhmm(const char *s, unsigned *ret)
{
	if (strlen(s) != 5 || s[2] != ':' || strspn(s, "0123456789:") != 5)
		return -EINVAL;
	unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');

	if (h > 23 || m > 59)
		return -EINVAL;
	*ret = h * 60 + m;
	return 0;
}

static int parse_window(const cJSON *o, struct be_rollout_spec *sp, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "start", LP_JSON_STRING, true },
		{ "duration_min", LP_JSON_INT, true },
	};
	const char *start = NULL;
	int64_t minutes = 0;
	int r;

	if (!o)
		return 0;
	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), "maintenance_window", d)) < 0 ||
	    (r = lp_json_get_string(o, "start", true, "maintenance_window", &start, d)) < 0 ||
	    (r = lp_json_get_int(o, "duration_min", true, 1, 1440, "maintenance_window",
				 &minutes, d)) < 0)
		return r;
	if (parse_hhmm(start, &sp->window_start_min) < 0)
		return lp_diag_fail_at(d, -EINVAL, "maintenance_window.start",
				       "expected HH:MM (UTC), e.g. 02:00");
	sp->window_minutes = (unsigned)minutes;
	sp->has_window = true;
	return 0;
}

static int parse_numbers(const cJSON *root, struct be_rollout_spec *sp, struct lp_diag *d)
{
	static const char *const types[] = { "forced", "soft", "download-only", NULL };
	int64_t soak = 600, succ = 95, err = 10, seed = 0;
	int r;

	if ((r = lp_json_get_int(root, "soak_s", false, 0, 30 * 86400, "", &soak, d)) < 0 ||
	    (r = lp_json_get_int(root, "success_threshold", false, 1, 100, "", &succ, d)) < 0 ||
	    (r = lp_json_get_int(root, "error_threshold", false, 0, 100, "", &err, d)) < 0 ||
	    (r = lp_json_get_int(root, "seed", false, 0, INT64_MAX / 2, "", &seed, d)) < 0 ||
	    (r = lp_json_get_enum(root, "type", false, types, "", &sp->type, d)) < 0)
		return r;
	sp->soak_s = soak;
	sp->success_pct = (unsigned)succ;
	sp->error_pct = (unsigned)err;
	/* No seed: one derived from the release's version, so the same release cuts the
	 * same waves again (and the API shows the seed to repeat it elsewhere). */
	sp->seed = cJSON_GetObjectItemCaseSensitive(root, "seed") ? seed :
		   (int64_t)(be_rollout_rank(0, sp->release) >> 2);
	return 0;
}

int be_rollout_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_rollout_spec *ret, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "release", LP_JSON_STRING, true },
		{ "name", LP_JSON_STRING, false },
		{ "target", LP_JSON_OBJECT, true },
		{ "waves", LP_JSON_ARRAY, false },
		{ "soak_s", LP_JSON_INT, false },
		{ "success_threshold", LP_JSON_INT, false },
		{ "error_threshold", LP_JSON_INT, false },
		{ "seed", LP_JSON_INT, false },
		{ "type", LP_JSON_STRING, false },
		{ "maintenance_window", LP_JSON_OBJECT, false },
	};
	const char *release = NULL, *name = NULL;
	cJSON *root = NULL;
	int r = lp_json_parse(text, len, max_len, max_depth, &root, d);

	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto out;
	}
	if ((r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", d)) < 0 ||
	    (r = lp_json_get_string(root, "release", true, "", &release, d)) < 0 ||
	    (r = lp_json_get_string(root, "name", false, "", &name, d)) < 0)
		goto out;
	if (!be_release_version_valid(release)) {
		r = lp_diag_fail_at(d, -EINVAL, "release", "a release version: 1-128 characters of "
				    "A-Z a-z 0-9 . _ + -");
		goto out;
	}
	if (name && strlen(name) >= sizeof(ret->name)) {
		r = lp_diag_fail_at(d, -E2BIG, "name", "longer than %d bytes", BE_TEXT_MAX - 1);
		goto out;
	}
	snprintf(ret->release, sizeof(ret->release), "%s", release);
	snprintf(ret->name, sizeof(ret->name), "%s", name ? name : release);
	if ((r = parse_target(cJSON_GetObjectItemCaseSensitive(root, "target"), &ret->target, d)) < 0 ||
	    (r = parse_waves(cJSON_GetObjectItemCaseSensitive(root, "waves"), ret, d)) < 0 ||
	    (r = parse_window(cJSON_GetObjectItemCaseSensitive(root, "maintenance_window"), ret, d)) < 0)
		goto out;
	r = parse_numbers(root, ret, d);
out:
	cJSON_Delete(root);
	return r;
}

int be_rollout_control_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			     struct be_rollout_control_req *ret, struct lp_diag *d)
{
	memset(ret, 0, sizeof(*ret));
	if (len == 0)
		return 0; /* no body: no reason */
	return be_reason_body_parse(text, len, max_len, max_depth, "reason", ret->reason,
				    sizeof(ret->reason), d);
}

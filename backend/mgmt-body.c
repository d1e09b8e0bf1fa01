/* SPDX-License-Identifier: MIT */
/*
 * Management API request bodies that carry more than one field: strict (unknown keys are
 * errors), every value checked, messages with the element path. Kept apart from the
 * handlers so each parser has a fuzz target (tests/fuzz/fuzz-mgmt-*.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loopline/json.h"
#include "backend.h"

static const char *const deploy_types[] = { "forced", "soft", "download-only", NULL };

const char *be_deploy_type_name(int type)
{
	return type >= 0 && type < 3 ? deploy_types[type] : "forced";
}

static int id_list(const cJSON *arr, const char *path, struct lp_diag *d)
{
	const cJSON *it;
	size_t i = 0;

	cJSON_ArrayForEach(it, arr) {
		char p[LP_JSON_PATH_MAX];

		lp_json_path_index(p, sizeof(p), path, i++);
		if (!cJSON_IsString(it) || !be_controller_id_valid(it->valuestring) ||
		    strlen(it->valuestring) >= BE_TAG_MAX)
			return lp_diag_fail_at(d, -EINVAL, p, "expected 1-64 characters of A-Z a-z 0-9 . _ : -");
		if (i > 100000)
			return lp_diag_fail_at(d, -E2BIG, path, "more than 100000 entries");
	}
	return 0;
}

void be_deploy_req_done(struct be_deploy_req *q)
{
	if (q) {
		cJSON_Delete(q->root);
		q->root = NULL;
	}
}

int be_deploy_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			struct be_deploy_req *ret, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "package", LP_JSON_INT, false },
		{ "action", LP_JSON_STRING, false },
		{ "devices", LP_JSON_ARRAY, false },
		{ "tags", LP_JSON_ARRAY, false },
		{ "type", LP_JSON_STRING, false },
		{ "maintenance_window", LP_JSON_OBJECT, false },
	};
	static const struct lp_json_field mw_fields[] = {
		{ "start", LP_JSON_INT, true },
		{ "end", LP_JSON_INT, true },
	};
	struct be_deploy_req q = { 0 };
	const cJSON *mw;
	int r;

	r = lp_json_parse(text, len, max_len, max_depth, &q.root, d);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(q.root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto fail;
	}
	if ((r = lp_json_check(q.root, fields, LP_ARRAY_SIZE(fields), "", d)) < 0 ||
	    (r = lp_json_get_int(q.root, "package", false, 1, INT64_MAX, "", &q.package, d)) < 0 ||
	    (r = lp_json_get_string(q.root, "action", false, "", &q.command, d)) < 0 ||
	    (r = lp_json_get_enum(q.root, "type", false, deploy_types, "", &q.type, d)) < 0)
		goto fail;
	mw = cJSON_GetObjectItemCaseSensitive(q.root, "maintenance_window");
	if (mw) {
		if ((r = lp_json_check(mw, mw_fields, 2, "maintenance_window", d)) < 0 ||
		    (r = lp_json_get_int(mw, "start", true, 0, INT64_MAX / 2, "maintenance_window",
					 &q.start, d)) < 0 ||
		    (r = lp_json_get_int(mw, "end", true, 0, INT64_MAX / 2, "maintenance_window",
					 &q.end, d)) < 0)
			goto fail;
		if (q.end <= q.start) {
			r = lp_diag_fail_at(d, -EINVAL, "maintenance_window.end", "must be after start");
			goto fail;
		}
		q.has_window = true;
	}
	if (!q.package == !q.command) {
		r = lp_diag_fail(d, -EINVAL, "give exactly one of \"package\" and \"action\"");
		goto fail;
	}
	if (q.command && (!be_controller_id_valid(q.command) || strlen(q.command) > 128)) {
		r = lp_diag_fail_at(d, -EINVAL, "action", "1-128 characters of A-Z a-z 0-9 . _ : -");
		goto fail;
	}
	q.devices = cJSON_GetObjectItemCaseSensitive(q.root, "devices");
	q.tags = cJSON_GetObjectItemCaseSensitive(q.root, "tags");
	if ((r = id_list(q.devices, "devices", d)) < 0 || (r = id_list(q.tags, "tags", d)) < 0)
		goto fail;
	if (!cJSON_GetArraySize(q.devices) && !cJSON_GetArraySize(q.tags)) {
		r = lp_diag_fail(d, -EINVAL, "give target \"devices\" and/or \"tags\"");
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	cJSON_Delete(q.root);
	return r;
}

void be_upload_req_done(struct be_upload_req *q)
{
	if (q) {
		cJSON_Delete(q->root);
		q->root = NULL;
	}
}

int be_upload_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			struct be_upload_req *ret, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "filename", LP_JSON_STRING, true },
		{ "size", LP_JSON_INT, true },
		{ "opaque", LP_JSON_BOOL, false },
		{ "version", LP_JSON_STRING, false },
		{ "part", LP_JSON_STRING, false },
		{ "name", LP_JSON_STRING, false },
	};
	struct be_upload_req q = { 0 };
	int r;

	r = lp_json_parse(text, len, max_len, max_depth, &q.root, d);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(q.root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto fail;
	}
	if ((r = lp_json_check(q.root, fields, LP_ARRAY_SIZE(fields), "", d)) < 0 ||
	    (r = lp_json_get_string(q.root, "filename", true, "", &q.filename, d)) < 0 ||
	    (r = lp_json_get_int(q.root, "size", true, 1, INT64_MAX, "", &q.size, d)) < 0 ||
	    (r = lp_json_get_bool(q.root, "opaque", false, "", &q.opaque, d)) < 0 ||
	    (r = lp_json_get_string(q.root, "version", false, "", &q.version, d)) < 0 ||
	    (r = lp_json_get_string(q.root, "part", false, "", &q.part, d)) < 0 ||
	    (r = lp_json_get_string(q.root, "name", false, "", &q.name, d)) < 0)
		goto fail;
	if (!be_filename_valid(q.filename) || strlen(q.filename) > 200) {
		r = lp_diag_fail_at(d, -EINVAL, "filename", "1-200 letters, digits and . _ + - (not starting with '.')");
		goto fail;
	}
	if (q.opaque) {
		if (!q.version || !q.part) {
			r = lp_diag_fail(d, -EINVAL, "an opaque artifact needs \"version\" and \"part\"");
			goto fail;
		}
		if (!be_filename_valid(q.version) || strlen(q.version) > 128) {
			r = lp_diag_fail_at(d, -EINVAL, "version", "1-128 letters, digits and . _ + -");
			goto fail;
		}
		if (!be_filename_valid(q.part) || strlen(q.part) > 64) {
			r = lp_diag_fail_at(d, -EINVAL, "part", "1-64 letters, digits and . _ + -");
			goto fail;
		}
		if (q.name && (!q.name[0] || strlen(q.name) > 128)) {
			r = lp_diag_fail_at(d, -EINVAL, "name", "1-128 characters");
			goto fail;
		}
	} else if (q.version || q.part || q.name) {
		r = lp_diag_fail(d, -EINVAL, "version, part and name come from the .lpkg manifest;"
				 " they are only given for opaque artifacts");
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	cJSON_Delete(q.root);
	return r;
}

void be_device_req_done(struct be_device_req *q)
{
	if (q) {
		cJSON_Delete(q->root);
		q->root = NULL;
	}
}

/* POST /devices {"controller_id","tags"?} (need_id) or PUT /devices/ID/tags {"tags"}. */
static int device_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			    bool need_id, struct be_device_req *ret, struct lp_diag *d)
{
	static const struct lp_json_field create_fields[] = {
		{ "controller_id", LP_JSON_STRING, true },
		{ "tags", LP_JSON_ARRAY, false },
	};
	static const struct lp_json_field tags_fields[] = { { "tags", LP_JSON_ARRAY, true } };
	struct be_device_req q = { 0 };
	int r;

	r = lp_json_parse(text, len, max_len, max_depth, &q.root, d);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(q.root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto fail;
	}
	r = need_id ? lp_json_check(q.root, create_fields, LP_ARRAY_SIZE(create_fields), "", d) :
		      lp_json_check(q.root, tags_fields, LP_ARRAY_SIZE(tags_fields), "", d);
	if (r < 0)
		goto fail;
	if (need_id) {
		if ((r = lp_json_get_string(q.root, "controller_id", true, "", &q.controller_id, d)) < 0)
			goto fail;
		if (!be_controller_id_valid(q.controller_id)) {
			r = lp_diag_fail_at(d, -EINVAL, "controller_id",
					    "1-128 characters of A-Z a-z 0-9 . _ : -");
			goto fail;
		}
	}
	q.tags = cJSON_GetObjectItemCaseSensitive(q.root, "tags");
	if ((r = id_list(q.tags, "tags", d)) < 0)
		goto fail;
	if (cJSON_GetArraySize(q.tags) > BE_MAX_TAGS) {
		r = lp_diag_fail_at(d, -EINVAL, "tags", "at most %d tags", BE_MAX_TAGS);
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	cJSON_Delete(q.root);
	return r;
}

int be_device_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			struct be_device_req *ret, struct lp_diag *d)
{
	return device_req_parse(text, len, max_len, max_depth, true, ret, d);
}

int be_tags_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		      struct be_device_req *ret, struct lp_diag *d)
{
	return device_req_parse(text, len, max_len, max_depth, false, ret, d);
}

void be_installed_req_done(struct be_installed_req *q)
{
	if (q) {
		cJSON_Delete(q->root);
		q->root = NULL;
	}
}

/* DDI PUT installedBase {"name","version"}: unknown fields are ignored as everywhere in DDI. */
int be_installed_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			   struct be_installed_req *ret, struct lp_diag *d)
{
	struct be_installed_req q = { 0 };
	int r;

	r = lp_json_parse(text, len, max_len, max_depth, &q.root, d);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(q.root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto fail;
	}
	if ((r = lp_json_get_string(q.root, "name", true, "", &q.name, d)) < 0 ||
	    (r = lp_json_get_string(q.root, "version", true, "", &q.version, d)) < 0)
		goto fail;
	if (!q.name[0] || !q.version[0] || strlen(q.name) > 128 || strlen(q.version) > 128) {
		r = lp_diag_fail(d, -EINVAL, "name and version have 1 to 128 characters");
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	cJSON_Delete(q.root);
	return r;
}

/* ---- releases ---- */

static bool version_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= BE_TEXT_MAX)
		return false;
	for (const char *c = v; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      *c == '.' || *c == '-' || *c == '_' || *c == '+'))
			return false;
	return true;
}

bool be_release_version_valid(const char *v)
{
	return version_valid(v);
}

int be_release_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_release_req *ret, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "version", LP_JSON_STRING, true },
		{ "packages", LP_JSON_ARRAY, true },
	};
	const char *version = NULL;
	const cJSON *arr, *it;
	cJSON *root = NULL;
	int r = lp_json_parse(text, len, max_len, max_depth, &root, d);

	if (r < 0)
		return r;
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto out;
	}
	if ((r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", d)) < 0 ||
	    (r = lp_json_get_string(root, "version", true, "", &version, d)) < 0)
		goto out;
	if (!version_valid(version)) {
		r = lp_diag_fail_at(d, -EINVAL, "version", "1-128 characters of A-Z a-z 0-9 . _ + -");
		goto out;
	}
	snprintf(ret->version, sizeof(ret->version), "%s", version);
	arr = cJSON_GetObjectItemCaseSensitive(root, "packages");
	ret->n_packages = 0;
	cJSON_ArrayForEach(it, arr) {
		char p[LP_JSON_PATH_MAX];
		size_t i = ret->n_packages;

		lp_json_path_index(p, sizeof(p), "packages", i);
		if (i >= BE_RELEASE_PACKAGES_MAX) {
			r = lp_diag_fail_at(d, -E2BIG, "packages", "more than %d packages",
					    BE_RELEASE_PACKAGES_MAX);
			goto out;
		}
		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 9007199254740991.0 ||
		    it->valuedouble != (double)(int64_t)it->valuedouble) {
			r = lp_diag_fail_at(d, -EINVAL, p, "expected a package id (a positive integer)");
			goto out;
		}
		ret->packages[i] = (int64_t)it->valuedouble;
		for (size_t k = 0; k < i; k++)
			if (ret->packages[k] == ret->packages[i]) {
				r = lp_diag_fail_at(d, -EINVAL, p, "package %lld is listed twice",
						    (long long)ret->packages[i]);
				goto out;
			}
		ret->n_packages++;
	}
	if (ret->n_packages == 0)
		r = lp_diag_fail_at(d, -EINVAL, "packages", "a release needs at least one package");
out:
	cJSON_Delete(root);
	return r;
}

/* The gate's document (loopline-matrix gate --json/--post, docs/matrix.md): read, not
 * strict — the matrix may add keys — but what the release records must be there. */
int be_gate_result_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_gate_result *ret, struct lp_diag *d)
{
	const char *decision = NULL, *summary = "", *sha = NULL, *report = "";
	const cJSON *spec, *counts;
	cJSON *root = NULL;
	int r = lp_json_parse(text, len, max_len, max_depth, &root, d);

	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object (loopline-matrix gate --json)");
		goto out;
	}
	spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
	counts = cJSON_GetObjectItemCaseSensitive(root, "counts");
	if ((r = lp_json_get_string(root, "decision", true, "", &decision, d)) < 0 ||
	    (r = lp_json_get_int(root, "run", true, 1, INT64_MAX / 2, "", &ret->run, d)) < 0 ||
	    (r = lp_json_get_string(root, "summary", false, "", &summary, d)) < 0 ||
	    (r = lp_json_get_string(root, "report", false, "", &report, d)) < 0)
		goto out;
	if (!cJSON_IsObject(spec) || !cJSON_IsObject(counts)) {
		r = lp_diag_fail(d, -EINVAL, "missing \"%s\" (an object)", cJSON_IsObject(spec) ? "counts" : "spec");
		goto out;
	}
	if ((r = lp_json_get_string(spec, "sha256", true, "spec", &sha, d)) < 0 ||
	    (r = lp_json_get_int(counts, "passed", true, 0, INT32_MAX, "counts", &ret->passed, d)) < 0 ||
	    (r = lp_json_get_int(counts, "failed", true, 0, INT32_MAX, "counts", &ret->failed, d)) < 0)
		goto out;
	if (strlen(decision) == 0 || strlen(decision) >= sizeof(ret->decision) ||
	    strspn(decision, "abcdefghijklmnopqrstuvwxyz-") != strlen(decision)) {
		r = lp_diag_fail_at(d, -EINVAL, "decision", "expected a gate decision (pass, fail, …)");
		goto out;
	}
	if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
		r = lp_diag_fail_at(d, -EINVAL, "spec.sha256", "expected 64 lowercase hex digits");
		goto out;
	}
	if (strlen(summary) >= sizeof(ret->summary) || strlen(report) >= sizeof(ret->report)) {
		r = lp_diag_fail(d, -E2BIG, "summary or report longer than %d bytes", BE_REASON_MAX - 1);
		goto out;
	}
	snprintf(ret->decision, sizeof(ret->decision), "%s", decision);
	snprintf(ret->spec_sha256, sizeof(ret->spec_sha256), "%s", sha);
	snprintf(ret->summary, sizeof(ret->summary), "%s", summary);
	snprintf(ret->report, sizeof(ret->report), "%s", report);
out:
	cJSON_Delete(root);
	return r;
}

int be_reason_body_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 const char *key, char *buf, size_t size, struct lp_diag *d)
{
	const struct lp_json_field fields[] = { { key, LP_JSON_STRING, false } };
	const char *reason = "";
	cJSON *root = NULL;
	int r = lp_json_parse(text, len, max_len, max_depth, &root, d);

	if (r < 0)
		return r;
	if (!cJSON_IsObject(root))
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
	else if ((r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", d)) == 0 &&
		 (r = lp_json_get_string(root, key, false, "", &reason, d)) == 0 &&
		 strlen(reason) >= size)
		r = lp_diag_fail_at(d, -E2BIG, key, "longer than %zu bytes", size - 1);
	if (r == 0)
		snprintf(buf, size, "%s", reason);
	cJSON_Delete(root);
	return r;
}

int be_approve_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_approve_req *ret, struct lp_diag *d)
{
	return be_reason_body_parse(text, len, max_len, max_depth, "override_reason",
				    ret->override_reason, sizeof(ret->override_reason), d);
}

/* SPDX-License-Identifier: MIT */
/*
 * DDI request bodies: action feedback and configData. As in hawkBit, unknown fields are
 * ignored (legacy clients send "id", "time", "status" …); the fields we read are checked
 * strictly for type and value.
 */
#include <errno.h>
#include <string.h>

#include "loopline/json.h"
#include "backend.h"

static const char *const exec_names[] = { "closed", "proceeding", "canceled", "scheduled",
					  "rejected", "resumed", "downloaded", "download", NULL };
static const char *const finished_names[] = { "success", "failure", "none", NULL };

void be_feedback_done(struct be_feedback *fb)
{
	if (fb) {
		cJSON_Delete(fb->root);
		fb->root = NULL;
		fb->details = NULL;
	}
}

int be_feedback_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		      struct be_feedback *ret, struct lp_diag *d)
{
	struct be_feedback fb = { 0 };
	const cJSON *status, *result, *progress;
	cJSON *details;
	int r, e, f;

	r = lp_json_parse(text, len, max_len, max_depth, &fb.root, d);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(fb.root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto fail;
	}
	if ((r = lp_json_get_int(fb.root, "timestamp", false, 0, INT64_MAX, "", &fb.timestamp_ms, d)) < 0)
		goto fail;
	status = cJSON_GetObjectItemCaseSensitive(fb.root, "status");
	if (!cJSON_IsObject(status)) {
		r = lp_diag_fail_at(d, -EINVAL, "status", status ? "expected an object" : "missing");
		goto fail;
	}
	if ((r = lp_json_get_enum(status, "execution", true, exec_names, "status", &e, d)) < 0)
		goto fail;
	fb.execution = (enum be_exec)e;
	result = cJSON_GetObjectItemCaseSensitive(status, "result");
	if (!cJSON_IsObject(result)) {
		r = lp_diag_fail_at(d, -EINVAL, "status.result", result ? "expected an object" : "missing");
		goto fail;
	}
	if ((r = lp_json_get_enum(result, "finished", true, finished_names, "status.result", &f, d)) < 0)
		goto fail;
	fb.finished = (enum be_finished)f;
	progress = cJSON_GetObjectItemCaseSensitive(result, "progress");
	if (progress && !cJSON_IsNull(progress)) {
		if (!cJSON_IsObject(progress)) {
			r = lp_diag_fail_at(d, -EINVAL, "status.result.progress", "expected an object");
			goto fail;
		}
		if ((r = lp_json_get_int(progress, "cnt", true, 0, INT32_MAX, "status.result.progress",
					 &fb.cnt, d)) < 0 ||
		    (r = lp_json_get_int(progress, "of", false, 0, INT32_MAX, "status.result.progress",
					 &fb.of, d)) < 0)
			goto fail;
		fb.has_progress = true;
	}
	if (cJSON_GetObjectItemCaseSensitive(status, "code")) {
		if ((r = lp_json_get_int(status, "code", false, INT32_MIN, INT32_MAX, "status",
					 &fb.code, d)) < 0)
			goto fail;
		fb.has_code = true;
	}
	details = cJSON_GetObjectItemCaseSensitive(status, "details");
	if (details && !cJSON_IsNull(details)) {
		const cJSON *it;
		size_t i = 0;

		if (!cJSON_IsArray(details)) {
			r = lp_diag_fail_at(d, -EINVAL, "status.details", "expected an array of strings");
			goto fail;
		}
		cJSON_ArrayForEach(it, details) {
			char p[64];

			lp_json_path_index(p, sizeof(p), "status.details", i);
			if (!cJSON_IsString(it)) {
				r = lp_diag_fail_at(d, -EINVAL, p, "expected a string");
				goto fail;
			}
			if (strlen(it->valuestring) > BE_DETAIL_LEN) {
				r = lp_diag_fail_at(d, -EINVAL, p, "longer than %d bytes", BE_DETAIL_LEN);
				goto fail;
			}
			if (++i > BE_DETAILS_MAX) {
				r = lp_diag_fail_at(d, -E2BIG, "status.details",
						    "more than %d messages", BE_DETAILS_MAX);
				goto fail;
			}
		}
		fb.details = details;
	}
	*ret = fb;
	return 0;
fail:
	cJSON_Delete(fb.root);
	return r;
}

const char *be_feedback_status(const struct be_feedback *fb, bool cancel, bool *ret_closes)
{
	*ret_closes = false;
	if (cancel) {
		switch (fb->execution) {
		case BE_EXEC_CLOSED:
			*ret_closes = true;
			return fb->finished == BE_FIN_FAILURE ? "ERROR" : "CANCELED";
		case BE_EXEC_REJECTED:
			return "CANCEL_REJECTED";
		case BE_EXEC_CANCELED:
			return "WARNING";
		default:
			return "RUNNING";
		}
	}
	switch (fb->execution) {
	case BE_EXEC_CLOSED:
		*ret_closes = true;
		return fb->finished == BE_FIN_FAILURE ? "ERROR" : "FINISHED";
	case BE_EXEC_CANCELED:
		*ret_closes = true;
		return "CANCELED";
	case BE_EXEC_REJECTED:
		return "WARNING";
	case BE_EXEC_DOWNLOAD:
		return "DOWNLOAD";
	case BE_EXEC_DOWNLOADED:
		return "DOWNLOADED";
	default:
		return "RUNNING";
	}
}

void be_configdata_done(struct be_configdata *cd)
{
	if (cd) {
		cJSON_Delete(cd->root);
		cd->root = NULL;
		cd->data = NULL;
	}
}

int be_configdata_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			unsigned max_entries, struct be_configdata *ret, struct lp_diag *d)
{
	static const char *const modes[] = { "merge", "replace", "remove", NULL };
	struct be_configdata cd = { 0 };
	const cJSON *it;
	unsigned n = 0;
	int r, mode = BE_ATTR_MERGE;

	r = lp_json_parse(text, len, max_len, max_depth, &cd.root, d);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(cd.root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto fail;
	}
	if ((r = lp_json_get_enum(cd.root, "mode", false, modes, "", &mode, d)) < 0)
		goto fail;
	cd.mode = (enum be_attr_mode)mode;
	cd.data = cJSON_GetObjectItemCaseSensitive(cd.root, "data");
	if (!cJSON_IsObject(cd.data)) {
		r = lp_diag_fail_at(d, -EINVAL, "data", cd.data ? "expected an object" : "missing");
		goto fail;
	}
	cJSON_ArrayForEach(it, cd.data) {
		char p[LP_JSON_PATH_MAX];

		lp_json_path_key(p, sizeof(p), "data", it->string);
		if (!it->string[0] || strlen(it->string) > 128) {
			r = lp_diag_fail_at(d, -EINVAL, p, "keys must have 1 to 128 characters");
			goto fail;
		}
		if (!cJSON_IsString(it)) {
			r = lp_diag_fail_at(d, -EINVAL, p, "expected a string");
			goto fail;
		}
		if (strlen(it->valuestring) > 1024) {
			r = lp_diag_fail_at(d, -EINVAL, p, "longer than 1024 bytes");
			goto fail;
		}
		if (++n > max_entries) {
			r = lp_diag_fail_at(d, -E2BIG, "data", "more than %u attributes", max_entries);
			goto fail;
		}
	}
	if (n == 0) {
		r = lp_diag_fail_at(d, -EINVAL, "data", "must not be empty");
		goto fail;
	}
	*ret = cd;
	return 0;
fail:
	cJSON_Delete(cd.root);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* Unit tests of the backend's request body parsers: DDI feedback (with the state mapping
 * table of reference/ddi-v1.md §2.6), configData, PUT installedBase, and the management
 * API's deploy, upload and device bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend.h"

static const char *status_of(const char *json, bool cancel, bool *closes)
{
	static char out[32];
	struct be_feedback fb;
	struct lp_diag d;

	if (be_feedback_parse(json, strlen(json), 65536, 16, &fb, &d) < 0)
		return "PARSE-ERROR";
	snprintf(out, sizeof(out), "%s", be_feedback_status(&fb, cancel, closes));
	be_feedback_done(&fb);
	return out;
}

#define FB(exec, fin) "{\"status\":{\"execution\":\"" exec "\",\"result\":{\"finished\":\"" fin "\"}}}"

static void test_feedback_mapping(void **state)
{
	bool c;

	assert_string_equal(status_of(FB("closed", "failure"), false, &c), "ERROR");
	assert_true(c);
	assert_string_equal(status_of(FB("closed", "success"), false, &c), "FINISHED");
	assert_true(c);
	assert_string_equal(status_of(FB("closed", "none"), false, &c), "FINISHED");
	assert_string_equal(status_of(FB("canceled", "none"), false, &c), "CANCELED");
	assert_true(c);
	assert_string_equal(status_of(FB("rejected", "success"), false, &c), "WARNING");
	assert_false(c);
	assert_string_equal(status_of(FB("download", "none"), false, &c), "DOWNLOAD");
	assert_string_equal(status_of(FB("downloaded", "none"), false, &c), "DOWNLOADED");
	assert_string_equal(status_of(FB("proceeding", "none"), false, &c), "RUNNING");
	assert_string_equal(status_of(FB("scheduled", "none"), false, &c), "RUNNING");
	assert_string_equal(status_of(FB("resumed", "none"), false, &c), "RUNNING");
	assert_false(c);
	/* cancel feedback */
	assert_string_equal(status_of(FB("closed", "success"), true, &c), "CANCELED");
	assert_true(c);
	assert_string_equal(status_of(FB("closed", "failure"), true, &c), "ERROR");
	assert_string_equal(status_of(FB("rejected", "none"), true, &c), "CANCEL_REJECTED");
	assert_false(c);
	assert_string_equal(status_of(FB("canceled", "none"), true, &c), "WARNING");
	assert_string_equal(status_of(FB("proceeding", "none"), true, &c), "RUNNING");
}

static void test_feedback_fields(void **state)
{
	struct be_feedback fb;
	struct lp_diag d;
	const char *legacy = "{\"id\":\"7\",\"time\":\"20211211T123912\",\"unknown\":[1],"
			     "\"status\":{\"execution\":\"proceeding\",\"result\":{\"finished\":\"none\","
			     "\"progress\":{\"cnt\":2,\"of\":5}},\"code\":200,\"details\":[\"a\",\"b\"]}}";
	const char *bad[] = {
		"{\"status\":{\"execution\":\"closed\"}}",
		"{\"status\":{\"result\":{\"finished\":\"none\"}}}",
		"{\"status\":{\"execution\":\"done\",\"result\":{\"finished\":\"none\"}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"none\"},\"details\":[1]}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"none\"},\"code\":\"x\"}}",
		"{\"timestamp\":-1,\"status\":{\"execution\":\"closed\",\"result\":{\"finished\":\"none\"}}}",
		"[]", "{", "",
	};

	assert_int_equal(be_feedback_parse(legacy, strlen(legacy), 65536, 16, &fb, &d), 0);
	assert_true(fb.has_progress);
	assert_int_equal(fb.cnt, 2);
	assert_int_equal(fb.of, 5);
	assert_true(fb.has_code);
	assert_int_equal(fb.code, 200);
	assert_int_equal(cJSON_GetArraySize(fb.details), 2);
	assert_int_equal(fb.timestamp_ms, 0);
	be_feedback_done(&fb);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lp_diag_clear(&d);
		assert_true(be_feedback_parse(bad[i], strlen(bad[i]), 65536, 16, &fb, &d) < 0);
		assert_true(d.msg[0] != '\0');
	}
}

static void test_configdata(void **state)
{
	struct be_configdata cd;
	struct lp_diag d;
	const char *ok = "{\"mode\":\"remove\",\"data\":{\"a\":\"1\"},\"id\":\"\",\"time\":\"x\"}";

	assert_int_equal(be_configdata_parse(ok, strlen(ok), 65536, 16, 100, &cd, &d), 0);
	assert_int_equal(cd.mode, BE_ATTR_REMOVE);
	be_configdata_done(&cd);
	ok = "{\"data\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}";
	assert_int_equal(be_configdata_parse(ok, strlen(ok), 65536, 16, 2, &cd, &d), -E2BIG);
	assert_int_equal(be_configdata_parse("{\"data\":{}}", 11, 65536, 16, 100, &cd, &d), -EINVAL);
	assert_int_equal(be_configdata_parse("{\"mode\":\"x\",\"data\":{\"a\":\"b\"}}", 29, 65536, 16,
					     100, &cd, &d), -EINVAL);
}

static void test_mgmt_bodies(void **state)
{
	struct be_deploy_req q;
	struct be_upload_req u;
	struct lp_diag d;
	const char *dep = "{\"package\":3,\"tags\":[\"lab\"],\"type\":\"download-only\"}";
	const char *up = "{\"filename\":\"u.swu\",\"size\":10,\"opaque\":true,\"version\":\"1\",\"part\":\"os\"}";

	assert_int_equal(be_deploy_req_parse(dep, strlen(dep), 65536, 16, &q, &d), 0);
	assert_int_equal(q.package, 3);
	assert_string_equal(be_deploy_type_name(q.type), "download-only");
	be_deploy_req_done(&q);
	dep = "{\"package\":3,\"devices\":[\"a\"],\"extra\":1}";
	lp_diag_clear(&d);
	assert_int_equal(be_deploy_req_parse(dep, strlen(dep), 65536, 16, &q, &d), -EINVAL);
	assert_non_null(strstr(d.path[0] ? d.path : d.msg, "extra"));
	assert_int_equal(be_upload_req_parse(up, strlen(up), 65536, 16, &u, &d), 0);
	assert_true(u.opaque);
	assert_string_equal(u.part, "os");
	be_upload_req_done(&u);
	up = "{\"filename\":\"../x\",\"size\":10}";
	assert_int_equal(be_upload_req_parse(up, strlen(up), 65536, 16, &u, &d), -EINVAL);
}

static void test_device_and_installed_bodies(void **state)
{
	struct be_device_req q;
	struct be_installed_req in;
	struct lp_diag d;
	const char *ok = "{\"controller_id\":\"dev9\",\"tags\":[\"lab\",\"eu\"]}";
	const char *bad[] = {
		"{\"tags\":[\"lab\"]}",                              /* no controller_id */
		"{\"controller_id\":\".x\"}",                        /* invalid id */
		"{\"controller_id\":\"a\",\"tags\":[\"a/b\"]}",     /* invalid tag */
		"{\"controller_id\":\"a\",\"tags\":\"lab\"}",        /* not an array */
		"{\"controller_id\":\"a\",\"x\":1}",                 /* unknown key */
	};
	const char *legacy = "{\"name\":\"fw\",\"version\":\"1.2.3\",\"extra\":true}";

	assert_int_equal(be_device_req_parse(ok, strlen(ok), 65536, 16, &q, &d), 0);
	assert_string_equal(q.controller_id, "dev9");
	assert_int_equal(cJSON_GetArraySize(q.tags), 2);
	be_device_req_done(&q);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lp_diag_clear(&d);
		assert_int_equal(be_device_req_parse(bad[i], strlen(bad[i]), 65536, 16, &q, &d), -EINVAL);
		assert_true(d.msg[0] != '\0');
	}
	/* PUT /devices/ID/tags takes only tags, and at most BE_MAX_TAGS of them */
	assert_int_equal(be_tags_req_parse("{\"tags\":[]}", 11, 65536, 16, &q, &d), 0);
	be_device_req_done(&q);
	assert_int_equal(be_tags_req_parse(ok, strlen(ok), 65536, 16, &q, &d), -EINVAL);
	/* DDI PUT installedBase: unknown fields are ignored, as everywhere in DDI */
	assert_int_equal(be_installed_req_parse(legacy, strlen(legacy), 65536, 16, &in, &d), 0);
	assert_string_equal(in.version, "1.2.3");
	be_installed_req_done(&in);
	legacy = "{\"name\":\"fw\",\"version\":\"\"}";
	assert_int_equal(be_installed_req_parse(legacy, strlen(legacy), 65536, 16, &in, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "1 to 128"));
	legacy = "{\"name\":\"fw\"}";
	lp_diag_clear(&d);
	assert_int_equal(be_installed_req_parse(legacy, strlen(legacy), 65536, 16, &in, &d), -EINVAL);
	assert_string_equal(d.path, "version");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feedback_mapping),
		cmocka_unit_test(test_feedback_fields),
		cmocka_unit_test(test_configdata),
		cmocka_unit_test(test_mgmt_bodies),
		cmocka_unit_test(test_device_and_installed_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

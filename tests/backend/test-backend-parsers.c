/* SPDX-License-Identifier: MIT */
/* Unit tests of the backend's parsers: Range/Content-Range, DDI feedback (with the state
 * mapping table of reference/ddi-v1.md §2.6), configData, deploy and upload bodies. */
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

static void test_range(void **state)
{
	struct be_range r[BE_RANGE_MAX];

	assert_int_equal(be_range_parse("bytes=0-99", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(r[0].last, 99);
	assert_int_equal(be_range_parse("bytes=-100", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].first, 900);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(be_range_parse("bytes=-5000", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(be_range_parse("bytes=990-", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(be_range_parse("bytes=500-5000", 1000, r, BE_RANGE_MAX), 1);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(be_range_parse("bytes= 0-1 , 5-6", 1000, r, BE_RANGE_MAX), 2);
	assert_int_equal(r[1].first, 5);
	assert_int_equal(be_range_parse("BYTES=0-0", 1, r, BE_RANGE_MAX), 1);
	/* errors */
	assert_int_equal(be_range_parse("bytes=1000-", 1000, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=-0", 1000, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=0-0", 0, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=0-10,5-20", 1000, r, BE_RANGE_MAX), -ERANGE);
	assert_int_equal(be_range_parse("bytes=5-1", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=-", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=a-b", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("items=0-1", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=0-1x", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=99999999999999999999-", 1000, r, BE_RANGE_MAX), -EINVAL);
	assert_int_equal(be_range_parse("bytes=0-0,1-1,2-2", 1000, r, 2), -E2BIG);
}

static void test_content_range(void **state)
{
	uint64_t a, b, t;

	assert_int_equal(be_content_range_parse("bytes 0-99/1000", &a, &b, &t), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 99);
	assert_int_equal(t, 1000);
	assert_int_equal(be_content_range_parse("bytes 0-1000/1000", &a, &b, &t), -EINVAL);
	assert_int_equal(be_content_range_parse("bytes 5-4/1000", &a, &b, &t), -EINVAL);
	assert_int_equal(be_content_range_parse("bytes */1000", &a, &b, &t), -EINVAL);
	assert_int_equal(be_content_range_parse("bytes 0-1/2 x", &a, &b, &t), -EINVAL);
}

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
	assert_int_equal(cd.mode, BE_CFG_REMOVE);
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

/* Batched last-seen times reach the database in any order (several workers, a queue):
 * the newest time must win. */
static void test_last_seen_keeps_newest(void **state)
{
	char dir[] = "/tmp/lp-backend-store.XXXXXX";
	struct be_store *s = NULL;
	sqlite3_stmt *q = NULL;
	static const int64_t times[] = { 1000, 1005, 1002, 1005, 999 };
	static const char *const ips[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5" };
	char cmd[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(be_store_open(dir, "t1", true, &s), 0);
	assert_int_equal(be_store_exec(s, "INSERT INTO devices(controller_id, created) VALUES('dev1', 1)"), 0);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		assert_int_equal(be_store_begin(s), 0);
		sqlite3_bind_int64(s->st_lastseen, 1, times[i]);
		sqlite3_bind_text(s->st_lastseen, 2, ips[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s->st_lastseen, 3, 1);
		assert_int_equal(sqlite3_step(s->st_lastseen), SQLITE_DONE);
		sqlite3_reset(s->st_lastseen);
		assert_int_equal(be_store_commit(s), 0);
	}
	assert_int_equal(be_store_prepare(s, "SELECT last_seen, last_ip FROM devices WHERE id = 1", &q), 0);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), 1005);
	/* the address that came with the newest time (equal times: the later write) */
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "10.0.0.4");
	sqlite3_finalize(q);
	be_store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_content_range),
		cmocka_unit_test(test_feedback_mapping),
		cmocka_unit_test(test_feedback_fields),
		cmocka_unit_test(test_configdata),
		cmocka_unit_test(test_mgmt_bodies),
		cmocka_unit_test(test_last_seen_keeps_newest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

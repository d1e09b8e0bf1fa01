/* SPDX-License-Identifier: MIT */
/* DDI response parsers: fields read correctly, unknown fields ignored, bad values refused
 * with their path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ddi.h"

static void test_sleep(void **state)
{
	unsigned s = 0;

	(void)state;
	assert_int_equal(agent_ddi_parse_sleep("00:05:00", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(agent_ddi_parse_sleep("12:00:01", &s), 0);
	assert_int_equal(s, 43201);
	assert_int_equal(agent_ddi_parse_sleep("100:00:00", &s), 0);
	assert_int_equal(s, 360000);
	assert_int_equal(agent_ddi_parse_sleep("0:05:00", &s), -EINVAL);
	assert_int_equal(agent_ddi_parse_sleep("00:60:00", &s), -EINVAL);
	assert_int_equal(agent_ddi_parse_sleep("00:05:00~10%", &s), -EINVAL);
	assert_int_equal(agent_ddi_parse_sleep("PT5M", &s), -EINVAL);
	assert_int_equal(agent_ddi_parse_sleep("", &s), -EINVAL);
}

static void test_poll(void **state)
{
	const char *ok = "{\"config\":{\"polling\":{\"sleep\":\"00:00:30\",\"future\":1}},"
			 "\"_links\":{\"deploymentBase\":{\"href\":\"https://h/t/controller/v1/d/deploymentBase/5?c=1\"},"
			 "\"installedBase\":{\"href\":\"https://h/x\"}},\"unknown\":[1,2]}";
	const char *bad = "{\"_links\":{\"cancelAction\":{\"href\":\"ftp://h/x\"}}}";
	struct ddi_poll p;
	struct lp_diag diag;

	(void)state;
	lp_diag_clear(&diag);
	assert_int_equal(agent_ddi_parse_poll(ok, strlen(ok), &p, &diag), 0);
	assert_true(p.has_sleep);
	assert_int_equal(p.sleep_s, 30);
	assert_string_equal(p.deployment, "https://h/t/controller/v1/d/deploymentBase/5?c=1");
	assert_string_equal(p.cancel, "");
	assert_int_equal(agent_ddi_parse_poll("{}", 2, &p, &diag), 0);
	assert_false(p.has_sleep);
	assert_int_equal(agent_ddi_parse_poll(bad, strlen(bad), &p, &diag), -EBADMSG);
	assert_string_equal(diag.path, "_links.cancelAction");
	assert_int_equal(agent_ddi_parse_poll("[]", 2, &p, &diag), -EBADMSG);
}

static void test_deployment(void **state)
{
	const char *os = "{\"id\":\"8\",\"deployment\":{\"download\":\"forced\",\"update\":\"attempt\","
			 "\"chunks\":[{\"part\":\"bApp\",\"version\":\"9\",\"name\":\"app\"},"
			 "{\"part\":\"os\",\"version\":\"1.2.0\",\"name\":\"fw\",\"artifacts\":[{\"filename\":\"fw.lpkg\","
			 "\"size\":1234,\"hashes\":{\"sha1\":\"x\"},\"_links\":{\"download-http\":{\"href\":\"http://h/fw\"}}}]}]}}";
	const char *action = "{\"id\":\"3\",\"deployment\":{\"download\":\"forced\",\"update\":\"forced\","
			     "\"chunks\":[{\"part\":\"action\",\"version\":\"1\",\"name\":\"x\",\"artifacts\":[],"
			     "\"metadata\":[{\"key\":\"other\",\"value\":\"y\"},{\"key\":\"action\",\"value\":\"collect-logs\"}]}]}}";
	const char *bad_size = "{\"id\":\"8\",\"deployment\":{\"chunks\":[{\"part\":\"os\",\"artifacts\":"
			       "[{\"filename\":\"f\",\"size\":\"big\",\"_links\":{}}]}]}}";
	const char *bad_update = "{\"id\":\"8\",\"deployment\":{\"update\":\"now\",\"chunks\":[]}}";
	struct ddi_deployment d;
	struct lp_diag diag;

	(void)state;
	lp_diag_clear(&diag);
	/* an http link is refused unless the backend is insecure (tests) */
	assert_int_equal(agent_ddi_parse_deployment(os, strlen(os), false, &d, &diag), -EBADMSG);
	assert_string_equal(diag.path, "deployment.chunks[1].artifacts[0]._links");
	assert_int_equal(agent_ddi_parse_deployment(os, strlen(os), true, &d, &diag), 0);
	assert_string_equal(d.id, "8");
	assert_int_equal(d.download, DDI_FORCED);
	assert_int_equal(d.update, DDI_ATTEMPT);
	assert_false(d.is_action);
	assert_string_equal(d.version, "1.2.0");
	assert_string_equal(d.filename, "fw.lpkg");
	assert_int_equal(d.size, 1234);
	assert_string_equal(d.url, "http://h/fw");

	assert_int_equal(agent_ddi_parse_deployment(action, strlen(action), false, &d, &diag), 0);
	assert_true(d.is_action);
	assert_string_equal(d.action, "collect-logs");

	lp_diag_clear(&diag);
	assert_int_equal(agent_ddi_parse_deployment(bad_size, strlen(bad_size), true, &d, &diag), -EBADMSG);
	assert_string_equal(diag.path, "deployment.chunks[0].artifacts[0].size");
	lp_diag_clear(&diag);
	assert_int_equal(agent_ddi_parse_deployment(bad_update, strlen(bad_update), true, &d, &diag), -EBADMSG);
	assert_string_equal(diag.path, "deployment.update");
	lp_diag_clear(&diag);
	assert_int_equal(agent_ddi_parse_deployment("{\"id\":\"../x\"}", 13, true, &d, &diag), -EBADMSG);
	assert_string_equal(diag.path, "id");
}

static void test_cancel(void **state)
{
	const char *ok = "{\"id\":\"11\",\"cancelAction\":{\"stopId\":\"11\"}}";
	char id[AGENT_ID_MAX];
	struct lp_diag diag;

	(void)state;
	lp_diag_clear(&diag);
	assert_int_equal(agent_ddi_parse_cancel(ok, strlen(ok), id, sizeof(id), &diag), 0);
	assert_string_equal(id, "11");
	assert_int_equal(agent_ddi_parse_cancel("{\"cancelAction\":{\"stopId\":11}}", 30, id, sizeof(id), &diag),
			 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests of backend/config.c: defaults, every section, and errors that name the key. */
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

static struct be_config cfg;

static int parse(const char *text, struct lp_diag *d)
{
	lp_diag_clear(d);
	return be_config_parse(text, strlen(text), &cfg, d);
}

/* The error's path and message, e.g. "plain_http.address: plain HTTP may only …". */
static const char *error_of(const char *text)
{
	static char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 8];
	struct lp_diag d;

	assert_true(parse(text, &d) < 0);
	snprintf(buf, sizeof(buf), "%s: %s", d.path, d.msg);
	return buf;
}

#define PLAIN "\"plain_http\":{\"address\":\"127.0.0.1\",\"port\":8080}"

static void test_minimal_and_defaults(void **state)
{
	struct lp_diag d;

	assert_int_equal(parse("{\"data_dir\":\"/var/lib/x\"," PLAIN "}", &d), 0);
	assert_string_equal(cfg.data_dir, "/var/lib/x");
	assert_true(cfg.plain_http.enabled);
	assert_int_equal(cfg.plain_http.port, 8080);
	assert_false(cfg.listen.enabled);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.poll_sleep_s, 300);
	assert_int_equal(cfg.max_body_bytes, BE_UPLOAD_CHUNK_MAX + 64 * 1024);
	assert_int_equal(cfg.rate_limit_per_s, 0);
	assert_int_equal(cfg.last_seen_flush_s, 5);
	assert_string_equal(cfg.log_level, "info");
}

static void test_full(void **state)
{
	struct lp_diag d;
	const char *text =
		"{\"data_dir\":\"/d\",\"listen\":{\"address\":\"::\",\"port\":0}," PLAIN ","
		"\"tls\":{\"cert\":\"/c.pem\",\"key\":\"/k.pem\",\"client_ca\":\"/ca.pem\"},"
		"\"workers\":4,\"links\":{\"https\":\"https://u.example\",\"artifacts\":\"http://cdn\"},"
		"\"poll\":{\"sleep_s\":60,\"min_sleep_s\":10,\"jitter_percent\":20},"
		"\"limits\":{\"max_url_bytes\":65536,\"max_upload_bytes\":5,\"max_json_depth\":4},"
		"\"rate_limit\":{\"requests_per_s\":7},\"last_seen_flush_s\":2,"
		"\"shutdown_grace_s\":0,\"log_requests\":true,\"log_level\":\"debug\"}";

	assert_int_equal(parse(text, &d), 0);
	assert_true(cfg.listen.enabled);
	assert_string_equal(cfg.listen.address, "::");
	assert_int_equal(cfg.client_cert, BE_CLIENT_CERT_OPTIONAL); /* a CA makes it optional */
	assert_int_equal(cfg.workers, 4);
	assert_string_equal(cfg.artifact_base_url, "http://cdn");
	assert_int_equal(cfg.poll_jitter_percent, 20);
	assert_int_equal(cfg.max_upload_bytes, 5);
	assert_int_equal(cfg.max_json_depth, 4);
	/* the URL limit never exceeds what a request can hold */
	assert_true(cfg.max_url_bytes < sizeof(((struct be_req *)0)->path));
	assert_int_equal(cfg.rate_limit_burst, 7); /* burst defaults to the rate */
	assert_int_equal(cfg.shutdown_grace_s, 0);
	assert_true(cfg.log_requests);
}

static void test_errors(void **state)
{
	assert_string_equal(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"colour\":1}"),
			    "colour: unknown key \"colour\"");
	assert_non_null(strstr(error_of("{\"data_dir\":\"d\"," PLAIN "}"), "data_dir: must be an absolute"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"}"), "neither"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\",\"plain_http\":{\"address\":\"10.0.0.1\","
					"\"port\":1}}"), "plain_http.address: plain HTTP may only"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\",\"listen\":{\"address\":\"0.0.0.0\","
					"\"port\":1}}"), "tls:"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\",\"listen\":{\"address\":\"host\","
					"\"port\":1}}"), "not an IPv4 or IPv6 address"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"poll\":{\"sleep_s\":10,"
					"\"min_sleep_s\":20}}"), "poll.min_sleep_s"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"links\":{\"https\":"
					"\"https://x/\"}}"), "links.https: must not end with '/'"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"links\":{\"artifacts\":"
					"\"ftp://x\"}}"), "links.artifacts"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"workers\":65}"), "workers"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"limits\":{\"max_body_bytes\":1}}"),
			       "limits.max_body_bytes"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"tls\":{\"cert\":\"/c\","
					"\"key\":\"/k\",\"client_cert\":\"required\"}}"),
			       "tls.client_cert: client certificates need tls.client_ca"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"log_level\":\"loud\"}"),
			       "log_level"));
	assert_non_null(strstr(error_of("{\"data_dir\":\"/d\"," PLAIN ",\"rate_limit\":{}}"),
			       "rate_limit.requests_per_s"));
}

static void test_load_names_the_file(void **state)
{
	char path[] = "/tmp/lp-backend-config.XXXXXX";
	const char *bad = "{\"data_dir\":\"/d\",\n" PLAIN ",\n\"workers\":\"two\"}";
	struct lp_diag d;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	lp_diag_clear(&d);
	assert_int_equal(be_config_load(path, &cfg, &d), -EINVAL);
	assert_string_equal(d.file, path);
	assert_string_equal(d.path, "workers");
	unlink(path);
	lp_diag_clear(&d);
	assert_true(be_config_load("/nonexistent/backend.json", &cfg, &d) < 0);
	assert_true(d.msg[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_names_the_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

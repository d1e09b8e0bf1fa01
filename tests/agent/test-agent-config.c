/* SPDX-License-Identifier: MIT */
/* agent.json: accepted configs read back correctly; bad ones fail with a path and reason. */
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

#include "agent.h"

#define BASE_HEAD "{\"device_id\":\"dev-1\",\"hardware_id\":\"board-x\",\"data_dir\":\"/data\","
#define BASE_TAIL "\"slots\":{\"A\":\"/dev/a\",\"B\":\"/dev/b\"}," \
	"\"bootenv\":{\"type\":\"uboot\",\"fw_env_config\":\"/etc/fw_env.config\"}," \
	"\"trusted_keys\":[\"/keys\"]}"

static int parse(const char *text, struct agent_config **ret, struct lp_diag *diag)
{
	lp_diag_clear(diag);
	return agent_config_parse(text, strlen(text), "agent.json", ret, diag);
}

static void expect_error(const char *text, const char *path, const char *msg_part)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;
	int r = parse(text, &cfg, &diag);

	if (r == 0)
		fail_msg("accepted: %s", text);
	assert_null(cfg);
	if (strcmp(diag.path, path) != 0 || !strstr(diag.msg, msg_part))
		fail_msg("for %s\n got path \"%s\" msg \"%s\"\n want path \"%s\" msg containing \"%s\"",
			 text, diag.path, diag.msg, path, msg_part);
}

static void test_full(void **state)
{
	static const char text[] =
		"{\"device_id\":\"dev-1\",\"hardware_id\":\"board-x\",\"data_dir\":\"/data\","
		"\"backends\":[{\"name\":\"main\",\"urls\":[\"https://a:8443\",\"https://b\"],"
		"\"tenant\":\"DEFAULT\",\"target_token\":\"tok\",\"ca_file\":\"/ca.pem\",\"proxy\":\"http://p:3128\"},"
		"{\"urls\":[\"http://127.0.0.1:1\"],\"tenant\":\"t2\",\"client_cert\":\"/c.pem\","
		"\"client_key\":\"/k.pem\",\"insecure_plain_http\":true}],"
		"\"poll\":{\"min_s\":5,\"max_s\":600,\"default_s\":60,\"jitter_percent\":20},"
		"\"slots\":{\"A\":\"/dev/a\",\"B\":\"/dev/b\",\"cmdline_file\":\"/tmp/cmdline\"},"
		"\"bootenv\":{\"type\":\"grub\",\"grubenv\":\"/boot/grubenv\",\"bootlimit\":5},"
		"\"health_checks\":[{\"name\":\"app\",\"argv\":[\"/bin/app\",\"--check\"],\"timeout_s\":7}],"
		"\"actions\":{\"logs\":{\"argv\":[\"/bin/logs\"]}},"
		"\"allow_scripts\":true,\"health_backend_reachable\":true,\"trusted_keys\":[\"/k1.pem\",\"/k2\"],"
		"\"reboot_command\":[\"/bin/true\"]}";
	struct agent_config *cfg = NULL;
	struct lp_diag diag;

	(void)state;
	assert_int_equal(parse(text, &cfg, &diag), 0);
	assert_string_equal(cfg->device_id, "dev-1");
	assert_string_equal(cfg->hardware_id, "board-x");
	assert_int_equal(cfg->n_backends, 2);
	assert_string_equal(cfg->backends[0].name, "main");
	assert_int_equal(cfg->backends[0].n_urls, 2);
	assert_string_equal(cfg->backends[0].urls[1], "https://b");
	assert_int_equal(cfg->backends[0].auth, AGENT_AUTH_TARGET_TOKEN);
	assert_string_equal(cfg->backends[0].token, "tok");
	assert_string_equal(cfg->backends[0].proxy, "http://p:3128");
	assert_string_equal(cfg->backends[1].name, "backend1");
	assert_int_equal(cfg->backends[1].auth, AGENT_AUTH_CLIENT_CERT);
	assert_true(cfg->backends[1].insecure_plain_http);
	assert_int_equal(cfg->poll_min_s, 5);
	assert_int_equal(cfg->poll_max_s, 600);
	assert_int_equal(cfg->poll_default_s, 60);
	assert_int_equal(cfg->poll_jitter_percent, 20);
	assert_string_equal(cfg->slot_path[AGENT_SLOT_B], "/dev/b");
	assert_string_equal(cfg->cmdline_file, "/tmp/cmdline");
	assert_int_equal(cfg->bootenv_type, AGENT_BOOTENV_GRUB);
	assert_string_equal(cfg->bootenv_path, "/boot/grubenv");
	assert_int_equal(cfg->bootlimit, 5);
	assert_int_equal(cfg->n_health, 1);
	assert_int_equal(cfg->health[0].argc, 2);
	assert_string_equal(cfg->health[0].argv[1], "--check");
	assert_null(cfg->health[0].argv[2]);
	assert_int_equal(cfg->health[0].timeout_s, 7);
	assert_non_null(agent_config_find_action(cfg, "logs"));
	assert_int_equal(agent_config_find_action(cfg, "logs")->timeout_s, 60);
	assert_null(agent_config_find_action(cfg, "rm-rf"));
	assert_true(cfg->allow_scripts);
	assert_true(cfg->health_backend_reachable);
	assert_int_equal(cfg->n_trusted_keys, 2);
	assert_string_equal(cfg->reboot.argv[0], "/bin/true");
	agent_config_free(cfg);
}

static void test_defaults(void **state)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;

	(void)state;
	assert_int_equal(parse(BASE_HEAD BASE_TAIL, &cfg, &diag), 0);
	assert_int_equal(cfg->n_backends, 0);
	assert_string_equal(cfg->cmdline_file, "/proc/cmdline");
	assert_string_equal(cfg->reboot.argv[0], "/sbin/reboot");
	assert_int_equal(cfg->poll_default_s, 300);
	assert_int_equal(cfg->bootlimit, 0);
	assert_false(cfg->allow_scripts);
	assert_false(cfg->health_backend_reachable);
	assert_int_equal(cfg->dl_max_attempts, 10);
	assert_int_equal(cfg->n_decryption_keys, 0);
	agent_config_free(cfg);
	agent_config_free(NULL);
}

/* decryption_keys: optional, a non-empty list of paths; strict like the rest. */
static void test_decryption_keys(void **state)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;

	(void)state;
	assert_int_equal(parse(BASE_HEAD "\"decryption_keys\":[\"/etc/loopline/keys/fw.aes\",\"/k2.aes\"],"
			       BASE_TAIL, &cfg, &diag), 0);
	assert_int_equal(cfg->n_decryption_keys, 2);
	assert_string_equal(cfg->decryption_keys[0], "/etc/loopline/keys/fw.aes");
	assert_string_equal(cfg->decryption_keys[1], "/k2.aes");
	agent_config_free(cfg);
	expect_error(BASE_HEAD "\"decryption_keys\":[]," BASE_TAIL, "decryption_keys", "");
	expect_error(BASE_HEAD "\"decryption_keys\":\"/k.aes\"," BASE_TAIL, "decryption_keys", "");
	expect_error(BASE_HEAD "\"decryption_keys\":[7]," BASE_TAIL, "decryption_keys[0]", "");
	expect_error(BASE_HEAD "\"decryption_key\":[\"/k.aes\"]," BASE_TAIL, "decryption_key", "unknown");
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(BASE_HEAD "\"colour\":1," BASE_TAIL, "colour", "unknown");
	expect_error("{\"hardware_id\":\"h\",\"data_dir\":\"/d\"," BASE_TAIL, "device_id", "missing");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"https://a\"],\"tenant\":\"t\"}]," BASE_TAIL,
		     "backends[0]", "target_token");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"https://a\"],\"tenant\":\"t\",\"target_token\":\"x\"},"
		     "{\"urls\":[\"https://b\",\"http://c\"],\"tenant\":\"t\",\"target_token\":\"x\"}]," BASE_TAIL,
		     "backends[1].urls[1]", "insecure_plain_http");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"ftp://a\"],\"tenant\":\"t\",\"target_token\":\"x\"}]," BASE_TAIL,
		     "backends[0].urls[0]", "https://");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[],\"tenant\":\"t\",\"target_token\":\"x\"}]," BASE_TAIL,
		     "backends[0].urls", "at least one");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"https://a\"],\"tenant\":\"a/b\",\"target_token\":\"x\"}]," BASE_TAIL,
		     "backends[0].tenant", "identifier");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"https://a\"],\"tenant\":\"t\",\"target_token\":\"x\",\"gateway_token\":\"y\"}]," BASE_TAIL,
		     "backends[0]", "not both");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"https://a\"],\"tenant\":\"t\",\"client_cert\":\"/c\"}]," BASE_TAIL,
		     "backends[0]", "go together");
	expect_error(BASE_HEAD "\"backends\":[{\"name\":\"x\",\"urls\":[\"https://a\"],\"tenant\":\"t\",\"target_token\":\"x\"},"
		     "{\"name\":\"x\",\"urls\":[\"https://a\"],\"tenant\":\"t\",\"target_token\":\"x\"}]," BASE_TAIL,
		     "backends[1]", "duplicate");
	expect_error(BASE_HEAD "\"poll\":{\"min_s\":100,\"max_s\":10}," BASE_TAIL, "poll", "above");
	expect_error(BASE_HEAD "\"poll\":{\"jitter_percent\":90}," BASE_TAIL, "poll.jitter_percent", "");
	expect_error(BASE_HEAD "\"poll\":{\"min_s\":\"5\"}," BASE_TAIL, "poll.min_s", "");
	expect_error(BASE_HEAD "\"health_checks\":[{\"name\":\"x\",\"argv\":[\"sh\",\"-c\",\"true\"]}]," BASE_TAIL,
		     "health_checks[0].argv[0]", "absolute");
	expect_error(BASE_HEAD "\"actions\":{\"x\":{\"argv\":[]}}," BASE_TAIL, "actions.x.argv", "at least");
	expect_error(BASE_HEAD "\"actions\":{\"x\":[\"/bin/true\"]}," BASE_TAIL, "actions.x", "object");
	expect_error(BASE_HEAD "\"trusted_keys\":[\"/k\"],\"slots\":{\"A\":\"/a\",\"B\":\"/a\"},"
		     "\"bootenv\":{\"type\":\"uboot\",\"fw_env_config\":\"/f\"}}", "slots.B", "same");
	expect_error(BASE_HEAD "\"trusted_keys\":[\"/k\"],\"slots\":{\"A\":\"/a\",\"B\":\"/b\"},"
		     "\"bootenv\":{\"type\":\"uboot\",\"grubenv\":\"/f\"}}", "bootenv.grubenv", "grub");
	expect_error(BASE_HEAD "\"trusted_keys\":[\"/k\"],\"slots\":{\"A\":\"/a\",\"B\":\"/b\"},"
		     "\"bootenv\":{\"type\":\"lilo\",\"fw_env_config\":\"/f\"}}", "bootenv.type", "");
	expect_error(BASE_HEAD "\"trusted_keys\":[],\"slots\":{\"A\":\"/a\",\"B\":\"/b\"},"
		     "\"bootenv\":{\"type\":\"grub\",\"grubenv\":\"/f\"}}", "trusted_keys", "at least");
	expect_error(BASE_HEAD "\"trusted_keys\":[\"k.pem\"],\"slots\":{\"A\":\"/a\",\"B\":\"/b\"},"
		     "\"bootenv\":{\"type\":\"grub\",\"grubenv\":\"/f\"}}", "trusted_keys[0]", "absolute");
	expect_error("[1]", "", "object");
	/* bounds of the arrays (lp_json_get_array), with the element path of the culprit */
	expect_error(BASE_HEAD "\"backends\":[1,2,3,4,5,6,7,8,9]," BASE_TAIL, "backends", "more than 8");
	expect_error(BASE_HEAD "\"backends\":{}," BASE_TAIL, "backends", "");
	expect_error(BASE_HEAD "\"backends\":[{\"urls\":[\"https://a\"],\"tenant\":\"t\",\"target_token\":\"x\"},7]," BASE_TAIL,
		     "backends[1]", "object");
	expect_error(BASE_HEAD "\"health_checks\":[{\"name\":\"a\",\"argv\":[\"/a\"]},{\"name\":\"b\",\"argv\":[\"/b\",3]}]," BASE_TAIL,
		     "health_checks[1].argv[1]", "string");
	expect_error(BASE_HEAD "\"reboot_command\":[]," BASE_TAIL, "reboot_command", "at least one");
	expect_error(BASE_HEAD "\"trusted_keys\":[\"/k\"],\"slots\":{\"A\":\"/a\",\"B\":\"/b\"},"
		     "\"bootenv\":{\"type\":\"grub\",\"grubenv\":\"/f\"},"
		     "\"backends\":[{\"urls\":[\"https://a\",\"https://b c\"],\"tenant\":\"t\",\"target_token\":\"x\"}]}",
		     "backends[0].urls[1]", "space");
}

static void test_syntax_error_position(void **state)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;

	(void)state;
	assert_int_not_equal(parse("{\n  \"device_id\": \"x\",\n  oops\n}", &cfg, &diag), 0);
	assert_int_equal(diag.line, 3);
	assert_string_equal(diag.file, "agent.json");
}

/* ---- device config ---- */

#define MAIN_WITH_DEVICE(path) "{\"device_id\":\"unprovisioned\",\"hardware_id\":\"board-x\"," \
	"\"data_dir\":\"/data\",\"device_config\":\"" path "\"," \
	"\"poll\":{\"min_s\":5,\"max_s\":600,\"default_s\":60}," \
	"\"slots\":{\"A\":\"/dev/a\",\"B\":\"/dev/b\"}," \
	"\"bootenv\":{\"type\":\"uboot\",\"fw_env_config\":\"/etc/fw_env.config\"}," \
	"\"trusted_keys\":[\"/keys\"]}"

struct dev_src {
	const char *text; /* NULL: the file does not exist */
	int err;          /* returned instead when not 0 */
	unsigned calls;
	char path[256];
};

static int dev_read(void *ctx, const char *path, char **ret_text, size_t *ret_len)
{
	struct dev_src *d = ctx;

	d->calls++;
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (d->err)
		return d->err;
	if (!d->text)
		return -ENOENT;
	*ret_text = strdup(d->text);
	*ret_len = strlen(d->text);
	return *ret_text ? 0 : -ENOMEM;
}

static int parse_dev(const char *dev_text, struct agent_config **ret, struct lp_diag *diag)
{
	static const char main_text[] = MAIN_WITH_DEVICE("/data/loopline/device.json");
	struct dev_src d = { .text = dev_text };
	int r;

	lp_diag_clear(diag);
	r = agent_config_parse_with(main_text, strlen(main_text), "/etc/loopline/agent.json",
				    dev_read, &d, ret, diag);
	assert_int_equal(d.calls, 1);
	assert_string_equal(d.path, "/data/loopline/device.json");
	return r;
}

static void expect_dev_error(const char *dev_text, const char *file, unsigned line,
			     const char *path, const char *msg_part)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;

	if (parse_dev(dev_text, &cfg, &diag) == 0)
		fail_msg("accepted device config: %s", dev_text);
	assert_null(cfg);
	if (strcmp(diag.file, file) != 0 || diag.line != line || strcmp(diag.path, path) != 0 ||
	    !strstr(diag.msg, msg_part))
		fail_msg("for %s\n got %s:%u path \"%s\" msg \"%s\"\n want %s:%u path \"%s\" msg \"%s\"",
			 dev_text, diag.file, diag.line, diag.path, diag.msg, file, line, path,
			 msg_part);
}

static void test_device_config(void **state)
{
	struct agent_config *cfg = NULL;
	struct lp_diag diag;

	(void)state;
	/* Provisioned: device_id and backends from the device file; poll replaced as a whole
	 * (no deep merge: max_s and default_s fall back to their defaults). */
	assert_int_equal(parse_dev("{\"device_id\":\"dev-42\",\"poll\":{\"min_s\":7},"
				   "\"backends\":[{\"name\":\"main\",\"urls\":[\"https://h\"],"
				   "\"tenant\":\"t\",\"target_token\":\"secret\",\"ca_file\":\"/data/ca.pem\"}]}",
				   &cfg, &diag), 0);
	assert_string_equal(cfg->device_id, "dev-42");
	assert_string_equal(cfg->hardware_id, "board-x");
	assert_int_equal(cfg->n_backends, 1);
	assert_string_equal(cfg->backends[0].token, "secret");
	assert_string_equal(cfg->backends[0].ca_file, "/data/ca.pem");
	assert_int_equal(cfg->poll_min_s, 7);
	assert_int_equal(cfg->poll_max_s, 86400);
	assert_int_equal(cfg->poll_default_s, 300);
	assert_string_equal(cfg->device_config, "/data/loopline/device.json");
	assert_true(cfg->device_config_loaded);
	agent_config_free(cfg);

	/* Not provisioned yet: the main file alone. */
	cfg = NULL;
	assert_int_equal(parse_dev(NULL, &cfg, &diag), 0);
	assert_string_equal(cfg->device_id, "unprovisioned");
	assert_int_equal(cfg->n_backends, 0);
	assert_int_equal(cfg->poll_max_s, 600);
	assert_false(cfg->device_config_loaded);
	agent_config_free(cfg);

	/* An empty object changes nothing. */
	cfg = NULL;
	assert_int_equal(parse_dev("{}", &cfg, &diag), 0);
	assert_true(cfg->device_config_loaded);
	assert_string_equal(cfg->device_id, "unprovisioned");
	agent_config_free(cfg);

	/* Errors name the device file: syntax with line:col, schema with the element path. */
	expect_dev_error("{\"device_id\":\"d\",\n\"backends\":[}", "/data/loopline/device.json", 2,
			 "", "");
	expect_dev_error("[]", "/data/loopline/device.json", 0, "", "expected a JSON object");
	expect_dev_error("{\"device_config\":\"/x.json\"}", "/data/loopline/device.json", 0,
			 "device_config", "not allowed in the device config");
	expect_dev_error("{\"colour\":1}", "/data/loopline/device.json", 0, "colour", "");
	expect_dev_error("{\"device_id\":7}", "/data/loopline/device.json", 0, "device_id", "");
	expect_dev_error("{\"backends\":[{\"urls\":[\"ftp://x\"],\"tenant\":\"t\",\"target_token\":\"x\"}]}",
			 "/data/loopline/device.json", 0, "backends[0].urls[0]", "https://");
	expect_dev_error("{\"device_id\":\"a b\"}", "/data/loopline/device.json", 0, "device_id",
			 "identifier");
	/* A value from the main file that is wrong stays the main file's error. */
	{
		static const char main_text[] = "{\"device_id\":\"d\",\"hardware_id\":\"board-x\","
			"\"data_dir\":\"relative\",\"device_config\":\"/dev.json\","
			"\"slots\":{\"A\":\"/dev/a\",\"B\":\"/dev/b\"},"
			"\"bootenv\":{\"type\":\"uboot\",\"fw_env_config\":\"/f\"},\"trusted_keys\":[\"/k\"]}";
		struct dev_src d = { .text = "{\"device_id\":\"dev-9\"}" };

		lp_diag_clear(&diag);
		assert_int_equal(agent_config_parse_with(main_text, strlen(main_text), "main.json",
							 dev_read, &d, &cfg, &diag), -EINVAL);
		assert_string_equal(diag.file, "main.json");
		assert_string_equal(diag.path, "data_dir");
		/* and one the device file fixes is fine */
		d.text = "{\"data_dir\":\"/data\"}";
		cfg = NULL;
		assert_int_equal(agent_config_parse_with(main_text, strlen(main_text), "main.json",
							 dev_read, &d, &cfg, &diag), 0);
		assert_string_equal(cfg->data_dir, "/data");
		agent_config_free(cfg);
		/* a read error other than "does not exist" is an error naming the file */
		d.err = -EACCES;
		cfg = NULL;
		assert_int_equal(agent_config_parse_with(main_text, strlen(main_text), "main.json",
							 dev_read, &d, &cfg, &diag), -EACCES);
		assert_string_equal(diag.file, "/dev.json");
		assert_non_null(strstr(diag.msg, "cannot read"));
	}
	/* device_config must be an absolute path; agent_config_parse does not read it. */
	expect_error(BASE_HEAD "\"device_config\":\"dev.json\"," BASE_TAIL, "device_config",
		     "absolute path");
	cfg = NULL;
	assert_int_equal(parse(BASE_HEAD "\"device_config\":\"/nonexistent/dev.json\"," BASE_TAIL,
			       &cfg, &diag), 0);
	assert_false(cfg->device_config_loaded);
	agent_config_free(cfg);
}

/* agent_config_load with real files. */
static void test_device_config_files(void **state)
{
	char dir[] = "/tmp/test-agent-config-XXXXXX", main_path[128], dev_path[128], text[2048];
	struct agent_config *cfg = NULL;
	struct lp_diag diag;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/agent.json", dir);
	snprintf(dev_path, sizeof(dev_path), "%s/device.json", dir);
	snprintf(text, sizeof(text), BASE_HEAD "\"device_config\":\"%s\"," BASE_TAIL, dev_path);
	f = fopen(main_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);

	lp_diag_clear(&diag);
	assert_int_equal(agent_config_load(main_path, &cfg, &diag), 0);
	assert_false(cfg->device_config_loaded);
	assert_string_equal(cfg->device_id, "dev-1");
	agent_config_free(cfg);

	f = fopen(dev_path, "w");
	assert_non_null(f);
	fputs("{\"device_id\": \"dev-from-data\"}\n", f);
	fclose(f);
	cfg = NULL;
	assert_int_equal(agent_config_load(main_path, &cfg, &diag), 0);
	assert_true(cfg->device_config_loaded);
	assert_string_equal(cfg->device_id, "dev-from-data");
	agent_config_free(cfg);

	f = fopen(dev_path, "w");
	assert_non_null(f);
	fputs("{\n  \"device_id\": \"x\",\n  oops\n}\n", f);
	fclose(f);
	cfg = NULL;
	lp_diag_clear(&diag);
	assert_true(agent_config_load(main_path, &cfg, &diag) < 0);
	assert_string_equal(diag.file, dev_path);
	assert_int_equal(diag.line, 3);
	unlink(dev_path);
	unlink(main_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_decryption_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_syntax_error_position),
		cmocka_unit_test(test_device_config),
		cmocka_unit_test(test_device_config_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* loopline-ctl alarms, alarm-channel add|list|test|remove, alarm-rule add|list|remove
 * (docs/alarms.md). A channel's configuration (with its secret) comes from a JSON file,
 * never from the command line, where other users could read it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/json.h"
#include "ctl.h"

#define PATH_LEN 256

static void alarms_table(const cJSON *page)
{
	const cJSON *a, *d;
	char t[32];

	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		ctl_fmt_time(ctl_num(a, "time"), t, sizeof(t));
		printf("%-6lld %s  %-14s %-10s %s%s\n", ctl_num(a, "id"), t, ctl_str(a, "kind"),
		       ctl_str(a, "device"), ctl_str(a, "title"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "suppressed")) ?
		       "  (suppressed: duplicate)" : "");
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(a, "deliveries"))
			printf("       -> %-12s %-8s attempts %lld%s%s\n", ctl_str(d, "channel"),
			       ctl_str(d, "state"), ctl_num(d, "attempts"),
			       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "last_error")) ? "  last error: " : "",
			       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "last_error")) ? ctl_str(d, "last_error") : "");
	}
	ctl_page_footer(page);
}

int ctl_alarms(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN] = "/api/v1/alarms";
	int r = ctl_list_query(cli, path, sizeof(path), NULL, 0);

	return r ? r : ctl_get_and_print(cli, ctx, path, alarms_table);
}

static void channel_line(const cJSON *ch)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(ch, "config");

	printf("%-6lld %-20s %-9s %-8s secret %s\n", ctl_num(ch, "id"), ctl_str(ch, "name"),
	       ctl_str(ch, "kind"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "enabled")) ? "enabled" : "disabled",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "secret_set")) ? "set" : "not set");
}

static void channels_table(const cJSON *page)
{
	const cJSON *ch;

	cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(page, "items"))
		channel_line(ch);
	ctl_page_footer(page);
}

int ctl_alarm_channel_list(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN] = "/api/v1/alarm-channels";
	int r = ctl_list_query(cli, path, sizeof(path), NULL, 0);

	return r ? r : ctl_get_and_print(cli, ctx, path, channels_table);
}


static int id_path(struct lp_cli *cli, const char *what, const char *suffix, char *path, size_t len)
{
	uint64_t id;

	if (lp_cli_parse_uint(cli, "ID", cli->args[0], 1, INT64_MAX / 2, &id) != 0)
		return LP_EXIT_USAGE;
	snprintf(path, len, "/api/v1/%s/%llu%s", what, (unsigned long long)id, suffix);
	return 0;
}

int ctl_alarm_channel_add(struct lp_cli *cli, void *ctx)
{
	cJSON *body = cJSON_CreateObject(), *cfg = NULL;
	const char *val, *kind = NULL, *file = NULL;
	struct lp_diag d;
	int key, r = 0;

	while ((key = lp_cli_next(cli, &val)) > 0)
		if (key == CTL_KIND)
			kind = val;
		else if (key == CTL_CONFIG)
			file = val;
	if (!kind || !file) {
		cJSON_Delete(body);
		return lp_cli_usage_error(cli, "give --kind telegram|smtp|webhook and --config FILE");
	}
	lp_diag_clear(&d);
	if ((r = lp_json_parse_file(file, 64 * 1024, 0, &cfg, &d)) < 0) {
		cJSON_Delete(body);
		return ctl_fail(r, &d);
	}
	if (!body || !cJSON_AddStringToObject(body, "name", cli->args[0]) ||
	    !cJSON_AddStringToObject(body, "kind", kind) || !cJSON_AddItemToObject(body, "config", cfg)) {
		cJSON_Delete(cfg);
		r = LP_EXIT_FAILURE;
	} else {
		r = ctl_request(cli, ctx, "POST", "/api/v1/alarm-channels", body, channel_line);
	}
	cJSON_Delete(body);
	return r;
}

static void test_line(const cJSON *o)
{
	printf("test alarm %lld queued\n", ctl_num(o, "alarm"));
}

int ctl_alarm_channel_test(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN];
	int r = id_path(cli, "alarm-channels", "/test", path, sizeof(path));

	return r ? r : ctl_request(cli, ctx, "POST", path, NULL, test_line);
}

int ctl_alarm_channel_remove(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN];
	int r = id_path(cli, "alarm-channels", "", path, sizeof(path));

	return r ? r : ctl_request(cli, ctx, "DELETE", path, NULL, NULL);
}

static void rule_line(const cJSON *rule)
{
	const cJSON *ch;

	printf("%-6lld %-20s %-15s dedupe %llds  ->", ctl_num(rule, "id"), ctl_str(rule, "name"),
	       ctl_str(rule, "kind"), ctl_num(rule, "dedupe_s"));
	cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(rule, "channels"))
		printf(" %s", cJSON_IsString(ch) ? ch->valuestring : "?");
	printf("\n");
}

static void rules_table(const cJSON *page)
{
	const cJSON *rule;

	cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(page, "items"))
		rule_line(rule);
	ctl_page_footer(page);
}

int ctl_alarm_rule_list(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN] = "/api/v1/alarm-rules";
	int r = ctl_list_query(cli, path, sizeof(path), NULL, 0);

	return r ? r : ctl_get_and_print(cli, ctx, path, rules_table);
}

/* --dedupe, --intervals, --count, --window: checked numbers into the body. */
static int rule_number(struct lp_cli *cli, int key, const char *val, cJSON *body, cJSON *params)
{
	static const struct {
		int key;
		const char *opt, *field;
		uint64_t min, max;
		bool param;
	} nums[] = {
		{ CTL_DEDUPE, "--dedupe", "dedupe_s", 0, 30 * 86400, false },
		{ CTL_INTERVALS, "--intervals", "intervals", 1, 1000, true },
		{ CTL_COUNT, "--count", "count", 1, 100, true },
		{ CTL_BOOT_WINDOW, "--window", "window_s", 60, 30 * 86400, true },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (nums[i].key == key) {
			if (lp_cli_parse_uint(cli, nums[i].opt, val, nums[i].min, nums[i].max, &v) != 0)
				return LP_EXIT_USAGE;
			cJSON_AddNumberToObject(nums[i].param ? params : body, nums[i].field, (double)v);
		}
	return 0;
}

int ctl_alarm_rule_add(struct lp_cli *cli, void *ctx)
{
	cJSON *body = cJSON_CreateObject(), *ch, *params = cJSON_CreateObject();
	const char *val;
	int key, r = 0;

	if (!body || !params || !cJSON_AddStringToObject(body, "name", cli->args[0]) ||
	    !(ch = cJSON_AddArrayToObject(body, "channels"))) {
		cJSON_Delete(body);
		cJSON_Delete(params);
		return LP_EXIT_FAILURE;
	}
	while (r == 0 && (key = lp_cli_next(cli, &val)) > 0) {
		if (key == CTL_KIND)
			cJSON_AddStringToObject(body, "kind", val);
		else if (key == CTL_CHANNEL)
			cJSON_AddItemToArray(ch, cJSON_CreateString(val));
		else
			r = rule_number(cli, key, val, body, params);
	}
	if (r == 0 && (!cJSON_GetObjectItemCaseSensitive(body, "kind") || cJSON_GetArraySize(ch) == 0))
		r = lp_cli_usage_error(cli, "give --kind and at least one --channel NAME");
	if (r == 0 && cJSON_GetArraySize(params) > 0) {
		cJSON_AddItemToObject(body, "params", params);
		params = NULL;
	}
	if (r == 0)
		r = ctl_request(cli, ctx, "POST", "/api/v1/alarm-rules", body, rule_line);
	cJSON_Delete(params);
	cJSON_Delete(body);
	return r;
}

int ctl_alarm_rule_remove(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN];
	int r = id_path(cli, "alarm-rules", "", path, sizeof(path));

	return r ? r : ctl_request(cli, ctx, "DELETE", path, NULL, NULL);
}

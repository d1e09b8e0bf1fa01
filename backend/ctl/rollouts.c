/* SPDX-License-Identifier: MIT */
/* loopline-ctl rollouts, rollout show|devices|create|pause|resume|cancel (docs/rollouts.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/common.h"
#include "loopline/json.h"
#include "ctl.h"

#define PATH_LEN 2048
#define BAR 30

static void rollout_line(const cJSON *ro)
{
	const cJSON *cw = cJSON_GetObjectItemCaseSensitive(ro, "current_wave");
	const cJSON *w;
	long long n = 0, ok = 0, failed = 0;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(ro, "waves")) {
		n += ctl_num(w, "devices");
		ok += ctl_num(w, "succeeded");
		failed += ctl_num(w, "failed");
	}
	printf("%-5lld %-16s %-16s ", ctl_num(ro, "id"), ctl_str(ro, "release"), ctl_str(ro, "state"));
	if (cJSON_IsNumber(cw))
		printf("wave %lld/%d ", ctl_num(ro, "current_wave"),
		       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ro, "waves")));
	else
		printf("not started ");
	printf("%lld devices, %lld updated, %lld failed\n", n, ok, failed);
}

static void rollouts_table(const cJSON *page)
{
	const cJSON *ro;

	cJSON_ArrayForEach(ro, cJSON_GetObjectItemCaseSensitive(page, "items"))
		rollout_line(ro);
	ctl_page_footer(page);
}

/* [#####xx....]: succeeded (#), failed (x), running (~), not yet assigned (.) */
static void wave_bar(const cJSON *w, char bar[BAR + 1])
{
	long long n = ctl_num(w, "devices"), ok = ctl_num(w, "succeeded");
	long long bad = ctl_num(w, "failed"), run = ctl_num(w, "running");
	size_t i = 0, k;

	memset(bar, '.', BAR);
	bar[BAR] = '\0';
	if (n <= 0)
		return;
	for (k = 0; k < (size_t)(ok * BAR / n) && i < BAR; k++)
		bar[i++] = '#';
	for (k = 0; k < (size_t)((bad * BAR + n - 1) / n) && i < BAR; k++)
		bar[i++] = 'x';
	for (k = 0; k < (size_t)(run * BAR / n) && i < BAR; k++)
		bar[i++] = '~';
}

static void target_line(const cJSON *t)
{
	const cJSON *it;

	printf("target:");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "all")))
		printf(" every device");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(t, "tags"))
		printf(" tag %s%s", cJSON_IsString(it) ? it->valuestring : "?", it->next ? " or" : "");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(t, "attributes"))
		printf(" %s=%s", it->string, cJSON_IsString(it) ? it->valuestring : "?");
	printf("\n");
}

static void rollout_show(const cJSON *ro)
{
	const cJSON *w, *mw = cJSON_GetObjectItemCaseSensitive(ro, "maintenance_window");
	char t[32], bar[BAR + 1];

	printf("rollout %lld \"%s\": release %s, %s", ctl_num(ro, "id"), ctl_str(ro, "name"),
	       ctl_str(ro, "release"), ctl_str(ro, "state"));
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ro, "current_wave"))) {
		ctl_fmt_time(ctl_num(ro, "wave_started"), t, sizeof(t));
		printf(", wave %lld since %s", ctl_num(ro, "current_wave"), t);
	}
	printf("\n");
	if (strcmp(ctl_str(ro, "reason"), "") != 0)
		printf("reason: %s\n", ctl_str(ro, "reason"));
	target_line(cJSON_GetObjectItemCaseSensitive(ro, "target"));
	printf("soak %llds per wave, success threshold %lld%%, error threshold %lld%%, seed %lld, "
	       "type %s", ctl_num(ro, "soak_s"), ctl_num(ro, "success_threshold"),
	       ctl_num(ro, "error_threshold"), ctl_num(ro, "seed"), ctl_str(ro, "type"));
	if (cJSON_IsObject(mw))
		printf(", window %s UTC for %lld min", ctl_str(mw, "start"), ctl_num(mw, "duration_min"));
	printf("\n");
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(ro, "waves")) {
		wave_bar(w, bar);
		printf("  wave %lld %3lld%% [%s] %5lld devices: %lld ok, %lld failed, %lld running, "
		       "%lld canceled  %s\n", ctl_num(w, "wave"), ctl_num(w, "percent"), bar,
		       ctl_num(w, "devices"), ctl_num(w, "succeeded"), ctl_num(w, "failed"),
		       ctl_num(w, "running"), ctl_num(w, "canceled"), ctl_str(w, "state"));
	}
}

int ctl_rollouts(struct lp_cli *cli, void *ctx)
{
	static const struct ctl_query_key keys[] = { { CTL_STATE, "state", NULL } };
	char path[PATH_LEN] = "/api/v1/rollouts";
	int r = ctl_list_query(cli, path, sizeof(path), keys, LP_ARRAY_SIZE(keys));

	return r ? r : ctl_get_and_print(cli, ctx, path, rollouts_table);
}

static int rollout_path(struct lp_cli *cli, const char *id, const char *suffix, char *path,
			size_t len)
{
	uint64_t v;

	if (lp_cli_parse_uint(cli, "ID", id, 1, INT64_MAX / 2, &v) != 0)
		return LP_EXIT_USAGE;
	snprintf(path, len, "/api/v1/rollouts/%llu%s", (unsigned long long)v, suffix);
	return 0;
}

int ctl_rollout_show(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN];
	int r = rollout_path(cli, cli->args[0], "", path, sizeof(path));

	return r ? r : ctl_get_and_print(cli, ctx, path, rollout_show);
}

static void members_table(const cJSON *page)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(page, "items"))
		printf("%-32s wave %lld  action %-8lld %s\n", ctl_str(m, "device"),
		       ctl_num(m, "wave"), ctl_num(m, "action"), ctl_str(m, "status"));
	ctl_page_footer(page);
}

int ctl_rollout_devices(struct lp_cli *cli, void *ctx)
{
	static const struct ctl_query_key keys[] = { { CTL_WAVE, "wave", NULL } };
	char path[PATH_LEN];
	int r = rollout_path(cli, cli->args[0], "/devices", path, sizeof(path));

	if (r == 0)
		r = ctl_list_query(cli, path, sizeof(path), keys, LP_ARRAY_SIZE(keys));
	return r ? r : ctl_get_and_print(cli, ctx, path, members_table);
}

static int rollout_post(struct lp_cli *cli, struct ctl *c, const char *path, const cJSON *body)
{
	return ctl_request(cli, c, "POST", path, body, rollout_show);
}

/* "1,10,50,100" into a JSON array (the server checks the values). */
static int waves_arg(struct lp_cli *cli, const char *val, cJSON *body)
{
	cJSON *a = cJSON_AddArrayToObject(body, "waves");
	const char *p = val;

	while (a && *p) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || (*end && *end != ','))
			return lp_cli_usage_error(cli, "--waves: percentages like 1,10,50,100");
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v));
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* "02:00+120": a daily window from 02:00 UTC for 120 minutes. */
static int window_arg(struct lp_cli *cli, const char *val, cJSON *body)
{
	char start[6];
	uint64_t minutes;
	cJSON *w;

	if (strlen(val) < 7 || val[5] != '+')
		return lp_cli_usage_error(cli, "--window: HH:MM+MINUTES (UTC), e.g. 02:00+120");
	memcpy(start, val, 5);
	start[5] = '\0';
	if (lp_cli_parse_uint(cli, "--window", val + 6, 1, 1440, &minutes) != 0)
		return LP_EXIT_USAGE;
	if (!(w = cJSON_AddObjectToObject(body, "maintenance_window")))
		return LP_EXIT_FAILURE;
	cJSON_AddStringToObject(w, "start", start);
	cJSON_AddNumberToObject(w, "duration_min", (double)minutes);
	return 0;
}

static int number_arg(struct lp_cli *cli, const char *opt, const char *val, uint64_t max,
		      const char *key, cJSON *body)
{
	uint64_t v;

	if (lp_cli_parse_uint(cli, opt, val, 0, max, &v) != 0)
		return LP_EXIT_USAGE;
	cJSON_AddNumberToObject(body, key, (double)v);
	return 0;
}

static int target_arg(struct lp_cli *cli, int key, const char *val, cJSON *target)
{
	cJSON *tags = cJSON_GetObjectItemCaseSensitive(target, "tags");
	cJSON *attrs = cJSON_GetObjectItemCaseSensitive(target, "attributes");
	const char *eq;
	char k[129];

	if (key == CTL_ALL) {
		cJSON_AddTrueToObject(target, "all");
		return 0;
	}
	if (key == CTL_TAG) {
		if (!tags)
			tags = cJSON_AddArrayToObject(target, "tags");
		cJSON_AddItemToArray(tags, cJSON_CreateString(val));
		return 0;
	}
	if (!(eq = strchr(val, '=')) || eq == val || (size_t)(eq - val) >= sizeof(k))
		return lp_cli_usage_error(cli, "--attr: NAME=GLOB, e.g. hardware_id=rpi4*");
	memcpy(k, val, (size_t)(eq - val));
	k[eq - val] = '\0';
	if (!attrs)
		attrs = cJSON_AddObjectToObject(target, "attributes");
	cJSON_AddStringToObject(attrs, k, eq + 1);
	return 0;
}

static int create_opt(struct lp_cli *cli, int key, const char *val, cJSON *body, cJSON *target)
{
	switch (key) {
	case CTL_TAG: case CTL_ATTR: case CTL_ALL:
		return target_arg(cli, key, val, target);
	case CTL_WAVES:
		return waves_arg(cli, val, body);
	case CTL_WINDOW:
		return window_arg(cli, val, body);
	case CTL_SOAK:
		return number_arg(cli, "--soak", val, 30 * 86400, "soak_s", body);
	case CTL_SUCCESS:
		return number_arg(cli, "--success", val, 100, "success_threshold", body);
	case CTL_ERROR:
		return number_arg(cli, "--error", val, 100, "error_threshold", body);
	case CTL_SEED:
		return number_arg(cli, "--seed", val, INT64_MAX / 2, "seed", body);
	case CTL_TYPE:
		cJSON_AddStringToObject(body, "type", val);
		return 0;
	case CTL_NAME:
		cJSON_AddStringToObject(body, "name", val);
		return 0;
	}
	return 0;
}

int ctl_rollout_create(struct lp_cli *cli, void *ctx)
{
	cJSON *body = cJSON_CreateObject(), *target;
	const char *val;
	int key, r = 0;

	if (!body || !cJSON_AddStringToObject(body, "release", cli->args[0]) ||
	    !(target = cJSON_AddObjectToObject(body, "target"))) {
		cJSON_Delete(body);
		return LP_EXIT_FAILURE;
	}
	while (r == 0 && (key = lp_cli_next(cli, &val)) > 0)
		r = create_opt(cli, key, val, body, target);
	if (r == 0 && cJSON_GetArraySize(target) == 0)
		r = lp_cli_usage_error(cli, "select devices with --tag, --attr or --all");
	if (r == 0)
		r = rollout_post(cli, ctx, "/api/v1/rollouts", body);
	cJSON_Delete(body);
	return r;
}

/* "rollout pause|resume|cancel ID": the verb is the command's second word. */
int ctl_rollout_control(struct lp_cli *cli, void *ctx)
{
	const char *verb = strrchr(cli->cmd->name, ' ') + 1;
	cJSON *body = cJSON_CreateObject();
	char suffix[16], path[PATH_LEN];
	const char *val;
	int key, r;

	snprintf(suffix, sizeof(suffix), "/%s", verb);
	r = rollout_path(cli, cli->args[0], suffix, path, sizeof(path));
	while (r == 0 && (key = lp_cli_next(cli, &val)) > 0)
		if (key == CTL_REASON)
			cJSON_AddStringToObject(body, "reason", val);
	if (r == 0)
		r = body ? rollout_post(cli, ctx, path, body) : LP_EXIT_FAILURE;
	cJSON_Delete(body);
	return r;
}

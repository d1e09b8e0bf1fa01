/* SPDX-License-Identifier: MIT */
/* loopline-ctl commands: each builds one API request and prints a table or the JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loopline/common.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "ctl.h"

#define PATH_LEN 2048

/* Appends "?k=v" or "&k=v" (v URL-encoded) to path. */
static int qs_add(char *path, size_t len, const char *k, const char *v)
{
	char *e = lp_http_escape(v);
	size_t n = strlen(path);
	int w;

	if (!e)
		return -ENOMEM;
	w = snprintf(path + n, len - n, "%c%s=%s", strchr(path, '?') ? '&' : '?', k, e);
	free(e);
	return (w < 0 || (size_t)w >= len - n) ? -E2BIG : 0;
}

void ctl_print_json(const cJSON *j)
{
	char *t = cJSON_Print(j);

	if (t) {
		printf("%s\n", t);
		free(t);
	}
}

const char *ctl_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

long long ctl_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

void ctl_fmt_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, len, "never");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An API error code ("not_found (HTTP 404): …") as the errno lp_exit_from_errno maps. */
static int api_errno(int err, const struct lp_diag *d)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
		{ "not_found", -ENOENT }, { "exists", -EEXIST },
		{ "untrusted_signature", -EKEYREJECTED }, { "no_trusted_keys", -EKEYREJECTED },
		{ "invalid_package", -EBADMSG }, { "incomplete", -ENOTRECOVERABLE },
		{ "not_active", -ENOTRECOVERABLE }, { "rate_limited", -EBUSY },
		{ "gate_not_passed", -ENOTRECOVERABLE }, { "conflict", -ENOTRECOVERABLE },
	};
	const char *p = strstr(d->msg, " (HTTP ");

	if (err != -EPROTO || !p)
		return err;
	for (size_t i = 0; i < LP_ARRAY_SIZE(map); i++)
		if ((size_t)(p - d->msg) == strlen(map[i].code) &&
		    strncmp(d->msg, map[i].code, strlen(map[i].code)) == 0)
			return map[i].err;
	return err;
}

int ctl_fail(int err, const struct lp_diag *d)
{
	return lp_cli_fail(api_errno(err, d), d, NULL);
}

bool ctl_want_json(const struct lp_cli *cli, const struct ctl *c)
{
	return cli->json || c->json;
}

int ctl_request(struct lp_cli *cli, struct ctl *c, const char *method, const char *path,
		const cJSON *body, void (*table)(const cJSON *))
{
	struct lp_diag d;
	cJSON *out = NULL;
	int r;

	lp_diag_clear(&d);
	r = lp_http_json(c->client, method, path, body, NULL, &out, &d);
	if (r < 0)
		return ctl_fail(r, &d);
	if (ctl_want_json(cli, c) && out)
		ctl_print_json(out);
	else if (table && out)
		table(out);
	cJSON_Delete(out);
	return 0;
}

int ctl_get_and_print(struct lp_cli *cli, struct ctl *c, const char *path,
		      void (*table)(const cJSON *))
{
	return ctl_request(cli, c, "GET", path, NULL, table);
}

int ctl_list_query(struct lp_cli *cli, char *path, size_t len, const struct ctl_query_key *keys,
		   size_t n_keys)
{
	const char *val;
	uint64_t v;
	int key, r = 0;

	while ((key = lp_cli_next(cli, &val)) > 0 && r == 0) {
		if (key == CTL_LIMIT || key == CTL_OFFSET) {
			if (lp_cli_parse_uint(cli, key == CTL_LIMIT ? "--limit" : "--offset", val,
					      key == CTL_LIMIT ? 1 : 0, key == CTL_LIMIT ? 1000 : INT32_MAX,
					      &v) != 0)
				return LP_EXIT_USAGE;
			r = qs_add(path, len, key == CTL_LIMIT ? "limit" : "offset", val);
			continue;
		}
		for (size_t i = 0; i < n_keys; i++)
			if (keys[i].key == key)
				r = qs_add(path, len, keys[i].param, keys[i].value ? keys[i].value : val);
	}
	return r < 0 ? lp_cli_usage_error(cli, "the options are too long") : 0;
}

void ctl_page_footer(const cJSON *page)
{
	long long total = ctl_num(page, "total"), off = ctl_num(page, "offset");
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "items"));

	if (off + n < total)
		printf("(%d of %lld shown from offset %lld; use --offset/--limit)\n", n, total, off);
}

static void devices_table(const cJSON *page)
{
	const cJSON *d;

	printf("%-32s %-12s %-20s %s\n", "DEVICE", "VERSION", "LAST SEEN", "TAGS");
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		char seen[32], tags[256] = "";
		const cJSON *t;
		size_t n = 0;

		ctl_fmt_time(ctl_num(d, "last_seen"), seen, sizeof(seen));
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "tags")) {
			int w = snprintf(tags + n, sizeof(tags) - n, "%s%s", n ? "," : "", t->valuestring);

			if (w < 0 || (size_t)w >= sizeof(tags) - n)
				break;
			n += (size_t)w;
		}
		printf("%-32s %-12s %-20s %s\n", ctl_str(d, "controller_id"),
		       ctl_str(cJSON_GetObjectItemCaseSensitive(d, "installed"), "version"), seen, tags);
	}
	ctl_page_footer(page);
}

int ctl_devices(struct lp_cli *cli, void *ctx)
{
	static const struct ctl_query_key keys[] = {
		{ CTL_TAG, "tag", NULL }, { CTL_TEXT, "q", NULL }, { CTL_VERSION, "version", NULL },
	};
	char path[PATH_LEN] = "/api/v1/devices";
	int r = ctl_list_query(cli, path, sizeof(path), keys, LP_ARRAY_SIZE(keys));

	return r ? r : ctl_get_and_print(cli, ctx, path, devices_table);
}

static void device_table(const cJSON *d)
{
	const cJSON *it, *act = cJSON_GetObjectItemCaseSensitive(d, "active_action");
	char seen[32];

	ctl_fmt_time(ctl_num(d, "last_seen"), seen, sizeof(seen));
	printf("device:     %s\n", ctl_str(d, "controller_id"));
	printf("installed:  %s %s\n", ctl_str(cJSON_GetObjectItemCaseSensitive(d, "installed"), "name"),
	       ctl_str(cJSON_GetObjectItemCaseSensitive(d, "installed"), "version"));
	printf("last seen:  %s from %s\n", seen, ctl_str(d, "last_ip"));
	if (cJSON_IsNumber(act))
		printf("action:     %lld (open)\n", (long long)act->valuedouble);
	else
		printf("action:     none open\n");
	printf("tags:      ");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "tags"))
		printf(" %s", it->valuestring);
	printf("\nattributes:\n");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "attributes"))
		printf("  %s = %s\n", it->string, cJSON_IsString(it) ? it->valuestring : "?");
}

int ctl_device_show(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN], *e = lp_http_escape(cli->args[0]);

	if (!e)
		return LP_EXIT_FAILURE;
	snprintf(path, sizeof(path), "/api/v1/devices/%s", e);
	free(e);
	return ctl_get_and_print(cli, ctx, path, device_table);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
	fprintf(stderr, "\rupload: %3llu%% (%llu of %llu KiB)", (unsigned long long)(done * 100 / total),
		(unsigned long long)(done / 1024), (unsigned long long)(total / 1024));
	if (done == total)
		fputc('\n', stderr);
}

static int upload_opts(struct lp_cli *cli, struct lp_http_upload_opts *o)
{
	const char *val;
	uint64_t cs;
	int key;

	while ((key = lp_cli_next(cli, &val)) > 0) {
		switch (key) {
		case CTL_OPAQUE: o->opaque = true; break;
		case CTL_VERSION: o->version = val; break;
		case CTL_PART: o->part = val; break;
		case CTL_NAME: o->name = val; break;
		case CTL_FILENAME: o->filename = val; break;
		case CTL_CHUNK:
			if (lp_cli_parse_uint(cli, "--chunk-size", val, 1024, LP_HTTP_CHUNK_MAX, &cs) != 0)
				return LP_EXIT_USAGE;
			o->chunk_size = (size_t)cs;
			break;
		}
	}
	if (o->opaque != (o->version && o->part))
		return lp_cli_usage_error(cli, "--opaque needs --version and --part (and only then)");
	return 0;
}

int ctl_upload(struct lp_cli *cli, void *ctx)
{
	struct ctl *c = ctx;
	struct lp_http_upload_opts o = { 0 };
	struct lp_diag d;
	cJSON *pkg = NULL;
	uint64_t resumed = 0;
	int r = upload_opts(cli, &o);

	if (r)
		return r;
	if (isatty(STDERR_FILENO) && !ctl_want_json(cli, c))
		o.progress = progress;
	lp_diag_clear(&d);
	r = lp_http_upload(c->client, cli->args[0], &o, &pkg, &resumed, &d);
	if (r < 0)
		return ctl_fail(r, &d);
	if (ctl_want_json(cli, c)) {
		ctl_print_json(pkg);
	} else {
		if (resumed)
			printf("resumed: the server already had %llu bytes\n", (unsigned long long)resumed);
		printf("package %lld: %s %s (%s, %lld bytes, sha256 %s)\n", ctl_num(pkg, "id"),
		       ctl_str(pkg, "name"), ctl_str(pkg, "version"), ctl_str(pkg, "kind"), ctl_num(pkg, "size"),
		       ctl_str(pkg, "sha256"));
	}
	cJSON_Delete(pkg);
	return 0;
}

static void actions_table(const cJSON *page)
{
	const cJSON *a;

	printf("%-8s %-32s %-18s %-14s %s\n", "ACTION", "DEVICE", "WHAT", "TYPE", "STATUS");
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		char what[64];
		const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(a, "command");

		if (cJSON_IsString(cmd))
			snprintf(what, sizeof(what), "action %s", cmd->valuestring);
		else
			snprintf(what, sizeof(what), "package %lld", ctl_num(a, "package"));
		printf("%-8lld %-32s %-18s %-14s %s\n", ctl_num(a, "id"), ctl_str(a, "device"), what,
		       ctl_str(a, "type"), ctl_str(a, "status"));
	}
	ctl_page_footer(page);
}

/* The deployment's JSON body from the options; 0 or an exit code. */
static int deploy_body(struct lp_cli *cli, cJSON *body)
{
	cJSON *devs = cJSON_AddArrayToObject(body, "devices"), *tags = cJSON_AddArrayToObject(body, "tags");
	bool what = false, target = false;
	const char *val;
	uint64_t pkg;
	int key;

	while ((key = lp_cli_next(cli, &val)) > 0) {
		switch (key) {
		case CTL_PACKAGE:
			if (lp_cli_parse_uint(cli, "--package", val, 1, INT64_MAX, &pkg) != 0)
				return LP_EXIT_USAGE;
			cJSON_AddNumberToObject(body, "package", (double)pkg);
			what = true;
			break;
		case CTL_ACTION: cJSON_AddStringToObject(body, "action", val); what = true; break;
		case CTL_DEVICE: cJSON_AddItemToArray(devs, cJSON_CreateString(val)); target = true; break;
		case CTL_TAG: cJSON_AddItemToArray(tags, cJSON_CreateString(val)); target = true; break;
		case CTL_TYPE: cJSON_AddStringToObject(body, "type", val); break;
		}
	}
	if (!what || !target)
		return lp_cli_usage_error(cli, "needs --package ID or --action NAME, and --device or --tag");
	return 0;
}

int ctl_deploy(struct lp_cli *cli, void *ctx)
{
	struct ctl *c = ctx;
	cJSON *body = cJSON_CreateObject(), *out = NULL;
	const cJSON *a;
	struct lp_diag d;
	int r = body ? deploy_body(cli, body) : LP_EXIT_FAILURE;

	if (r == 0) {
		lp_diag_clear(&d);
		r = lp_http_json(c->client, "POST", "/api/v1/deployments", body, NULL, &out, &d);
		if (r < 0)
			r = ctl_fail(r, &d);
		else if (ctl_want_json(cli, c))
			ctl_print_json(out);
		else
			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(out, "actions"))
				printf("action %lld for %s\n", ctl_num(a, "id"), ctl_str(a, "device"));
	}
	cJSON_Delete(out);
	cJSON_Delete(body);
	return r;
}

int ctl_cancel(struct lp_cli *cli, void *ctx)
{
	struct ctl *c = ctx;
	char path[128];
	struct lp_diag d;
	cJSON *out = NULL;
	uint64_t id;
	int r;

	if (lp_cli_parse_uint(cli, "ACTION_ID", cli->args[0], 1, INT64_MAX, &id) != 0)
		return LP_EXIT_USAGE;
	snprintf(path, sizeof(path), "/api/v1/actions/%llu/cancel", (unsigned long long)id);
	lp_diag_clear(&d);
	r = lp_http_json(c->client, "POST", path, NULL, NULL, &out, &d);
	if (r < 0)
		return ctl_fail(r, &d);
	if (ctl_want_json(cli, c))
		ctl_print_json(out);
	else
		printf("action %llu: %s (the device confirms the cancellation)\n",
		       (unsigned long long)id, ctl_str(out, "status"));
	cJSON_Delete(out);
	return 0;
}

int ctl_actions(struct lp_cli *cli, void *ctx)
{
	static const struct ctl_query_key keys[] = {
		{ CTL_DEVICE, "device", NULL }, { CTL_ACTIVE, "active", "1" },
	};
	char path[PATH_LEN] = "/api/v1/actions";
	int r = ctl_list_query(cli, path, sizeof(path), keys, LP_ARRAY_SIZE(keys));

	return r ? r : ctl_get_and_print(cli, ctx, path, actions_table);
}

static void events_table(const cJSON *page)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		char t[32];

		ctl_fmt_time(ctl_num(e, "time"), t, sizeof(t));
		printf("%-6lld %s %-20s %-20s %s\n", ctl_num(e, "id"), t, ctl_str(e, "type"), ctl_str(e, "device"),
		       ctl_str(e, "message"));
	}
	ctl_page_footer(page);
}

int ctl_events(struct lp_cli *cli, void *ctx)
{
	static const struct ctl_query_key keys[] = { { CTL_AFTER, "after", NULL }, { CTL_TYPE, "type", NULL } };
	char path[PATH_LEN] = "/api/v1/events";
	int r = ctl_list_query(cli, path, sizeof(path), keys, LP_ARRAY_SIZE(keys));

	return r ? r : ctl_get_and_print(cli, ctx, path, events_table);
}

static void firmware_table(const cJSON *page)
{
	const cJSON *f;

	printf("%-24s %8s  %s\n", "VERSION", "DEVICES", "LAST SEEN");
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		char seen[32];

		ctl_fmt_time(ctl_num(f, "last_seen"), seen, sizeof(seen));
		printf("%-24s %8lld  %s\n", ctl_str(f, "version"), ctl_num(f, "devices"), seen);
	}
	ctl_page_footer(page);
}

int ctl_firmware(struct lp_cli *cli, void *ctx)
{
	static const struct ctl_query_key keys[] = {
		{ CTL_COMPATIBLE, "compatible", NULL }, { CTL_TAG, "tag", NULL },
	};
	char path[PATH_LEN] = "/api/v1/firmware/in-use";
	int r = ctl_list_query(cli, path, sizeof(path), keys, LP_ARRAY_SIZE(keys));

	return r ? r : ctl_get_and_print(cli, ctx, path, firmware_table);
}

/* ---- releases ---- */

static void release_line(const cJSON *rel)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(rel, "gate");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rel, "approval");
	char t[32];

	printf("%-16s %-12s gate: ", ctl_str(rel, "version"), ctl_str(rel, "state"));
	if (cJSON_IsObject(g))
		printf("%s (run %lld, %lld passed, %lld failed)", ctl_str(g, "decision"), ctl_num(g, "run"),
		       ctl_num(g, "passed"), ctl_num(g, "failed"));
	else
		printf("not run");
	if (cJSON_IsObject(a)) {
		ctl_fmt_time(ctl_num(a, "time"), t, sizeof(t));
		printf("  approved by %s at %s", ctl_str(a, "by"), t);
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "override_reason")))
			printf(", overriding the gate: %s", ctl_str(a, "override_reason"));
	}
	printf("\n");
}

static void releases_table(const cJSON *page)
{
	const cJSON *rel;

	cJSON_ArrayForEach(rel, cJSON_GetObjectItemCaseSensitive(page, "items"))
		release_line(rel);
	ctl_page_footer(page);
}

int ctl_releases(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN] = "/api/v1/releases";
	int r = ctl_list_query(cli, path, sizeof(path), NULL, 0);

	return r ? r : ctl_get_and_print(cli, ctx, path, releases_table);
}

static int release_path(struct lp_cli *cli, const char *version, const char *suffix, char *path,
			size_t len)
{
	if (strspn(version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") !=
	    strlen(version) || !version[0] || strlen(version) > 128)
		return lp_cli_usage_error(cli, "VERSION: 1-128 characters of A-Z a-z 0-9 . _ + -");
	snprintf(path, len, "/api/v1/releases/%s%s", version, suffix);
	return 0;
}

int ctl_release_show(struct lp_cli *cli, void *ctx)
{
	char path[PATH_LEN];
	int r = release_path(cli, cli->args[0], "", path, sizeof(path));

	return r ? r : ctl_get_and_print(cli, ctx, path, release_line);
}

/* POSTs body to path and prints the release it answers with. */
static int release_post(struct lp_cli *cli, struct ctl *c, const char *path, const cJSON *body)
{
	return ctl_request(cli, c, "POST", path, body, release_line);
}

int ctl_release_create(struct lp_cli *cli, void *ctx)
{
	cJSON *body = cJSON_CreateObject(), *pk;
	const char *val;
	uint64_t id;
	int key, r = 0;

	if (!body || !(pk = cJSON_AddArrayToObject(body, "packages")) ||
	    !cJSON_AddStringToObject(body, "version", cli->args[0])) {
		cJSON_Delete(body);
		return LP_EXIT_FAILURE;
	}
	while ((key = lp_cli_next(cli, &val)) > 0 && r == 0)
		if (key == CTL_PACKAGE) {
			if (lp_cli_parse_uint(cli, "--package", val, 1, INT64_MAX / 2, &id) != 0)
				r = LP_EXIT_USAGE;
			else
				cJSON_AddItemToArray(pk, cJSON_CreateNumber((double)id));
		}
	if (r == 0 && cJSON_GetArraySize(pk) == 0)
		r = lp_cli_usage_error(cli, "give the release's packages with --package ID");
	if (r == 0)
		r = release_post(cli, ctx, "/api/v1/releases", body);
	cJSON_Delete(body);
	return r;
}

int ctl_release_approve(struct lp_cli *cli, void *ctx)
{
	cJSON *body = cJSON_CreateObject();
	char path[PATH_LEN];
	const char *val;
	int key, r = release_path(cli, cli->args[0], "/approve", path, sizeof(path));

	while (r == 0 && (key = lp_cli_next(cli, &val)) > 0)
		if (key == CTL_OVERRIDE)
			cJSON_AddStringToObject(body, "override_reason", val);
	if (r == 0)
		r = body ? release_post(cli, ctx, path, body) : LP_EXIT_FAILURE;
	cJSON_Delete(body);
	return r;
}

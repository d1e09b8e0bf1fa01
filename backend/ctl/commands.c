/* SPDX-License-Identifier: MIT */
/* loopline-ctl commands: each builds one API request and prints a table or the JSON. */
#include <errno.h>
#include <getopt.h>
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

static void print_json(const cJSON *j)
{
	char *t = cJSON_Print(j);

	if (t) {
		printf("%s\n", t);
		free(t);
	}
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

static long long num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static void fmt_time(long long t, char *buf, size_t len)
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

static int get_and_print(struct ctl *c, const char *path, void (*table)(const cJSON *))
{
	struct lp_diag d;
	cJSON *j = NULL;

	lp_diag_clear(&d);
	if (lp_http_json(c->client, "GET", path, NULL, NULL, &j, &d) < 0)
		return ctl_fail(&d);
	if (c->json)
		print_json(j);
	else
		table(j);
	cJSON_Delete(j);
	return 0;
}

static void page_footer(const cJSON *page)
{
	long long total = num(page, "total"), off = num(page, "offset");
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

		fmt_time(num(d, "last_seen"), seen, sizeof(seen));
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "tags")) {
			int w = snprintf(tags + n, sizeof(tags) - n, "%s%s", n ? "," : "", t->valuestring);

			if (w < 0 || (size_t)w >= sizeof(tags) - n)
				break;
			n += (size_t)w;
		}
		printf("%-32s %-12s %-20s %s\n", str(d, "controller_id"),
		       str(cJSON_GetObjectItemCaseSensitive(d, "installed"), "version"), seen, tags);
	}
	page_footer(page);
}

static int paging_opt(int ch, char *path, size_t len)
{
	char *end;

	errno = 0;
	if (strtol(optarg, &end, 10) < 0 || errno || *end || end == optarg)
		return -EINVAL;
	return qs_add(path, len, ch == 'l' ? "limit" : "offset", optarg);
}

int ctl_devices(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 't' }, { "q", required_argument, NULL, 'q' },
		{ "version", required_argument, NULL, 'v' }, { "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' }, { 0 },
	};
	char path[PATH_LEN] = "/api/v1/devices";
	int ch, r = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1 && r == 0) {
		switch (ch) {
		case 't': r = qs_add(path, sizeof(path), "tag", optarg); break;
		case 'q': r = qs_add(path, sizeof(path), "q", optarg); break;
		case 'v': r = qs_add(path, sizeof(path), "version", optarg); break;
		case 'l': case 'o': r = paging_opt(ch, path, sizeof(path)); break;
		default: return ctl_usage_error("devices: unknown option");
		}
	}
	if (r < 0 || optind != argc)
		return ctl_usage_error("devices: bad arguments");
	return get_and_print(c, path, devices_table);
}

static void device_table(const cJSON *d)
{
	const cJSON *it, *act = cJSON_GetObjectItemCaseSensitive(d, "active_action");
	char seen[32];

	fmt_time(num(d, "last_seen"), seen, sizeof(seen));
	printf("device:     %s\n", str(d, "controller_id"));
	printf("installed:  %s %s\n", str(cJSON_GetObjectItemCaseSensitive(d, "installed"), "name"),
	       str(cJSON_GetObjectItemCaseSensitive(d, "installed"), "version"));
	printf("last seen:  %s from %s\n", seen, str(d, "last_ip"));
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

int ctl_device(struct ctl *c, int argc, char **argv)
{
	char path[PATH_LEN], *e;

	if (argc != 3 || strcmp(argv[1], "show") != 0)
		return ctl_usage_error("device: expected 'device show ID'");
	e = lp_http_escape(argv[2]);
	if (!e)
		return LP_EXIT_FAILURE;
	snprintf(path, sizeof(path), "/api/v1/devices/%s", e);
	free(e);
	return get_and_print(c, path, device_table);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
	fprintf(stderr, "\rupload: %3llu%% (%llu of %llu KiB)", (unsigned long long)(done * 100 / total),
		(unsigned long long)(done / 1024), (unsigned long long)(total / 1024));
	if (done == total)
		fputc('\n', stderr);
}

int ctl_upload(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "opaque", no_argument, NULL, 'O' }, { "version", required_argument, NULL, 'v' },
		{ "part", required_argument, NULL, 'p' }, { "name", required_argument, NULL, 'n' },
		{ "filename", required_argument, NULL, 'f' },
		{ "chunk-size", required_argument, NULL, 'c' }, { 0 },
	};
	struct lp_http_upload_opts o = { 0 };
	struct lp_diag d;
	cJSON *pkg = NULL;
	uint64_t resumed = 0;
	char *end;
	long long cs;
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'O': o.opaque = true; break;
		case 'v': o.version = optarg; break;
		case 'p': o.part = optarg; break;
		case 'n': o.name = optarg; break;
		case 'f': o.filename = optarg; break;
		case 'c':
			errno = 0;
			cs = strtoll(optarg, &end, 10);
			if (errno || *end || cs < 1024 || cs > (long long)LP_HTTP_CHUNK_MAX)
				return ctl_usage_error("--chunk-size: 1024 to 8388608 bytes");
			o.chunk_size = (size_t)cs;
			break;
		default: return ctl_usage_error("upload: unknown option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage_error("upload: expected one FILE");
	if (o.opaque != (o.version && o.part))
		return ctl_usage_error("upload: --opaque needs --version and --part (and only then)");
	if (isatty(STDERR_FILENO) && !c->json)
		o.progress = progress;
	lp_diag_clear(&d);
	if (lp_http_upload(c->client, argv[optind], &o, &pkg, &resumed, &d) < 0)
		return ctl_fail(&d);
	if (c->json) {
		print_json(pkg);
	} else {
		if (resumed)
			printf("resumed: the server already had %llu bytes\n", (unsigned long long)resumed);
		printf("package %lld: %s %s (%s, %lld bytes, sha256 %s)\n", num(pkg, "id"),
		       str(pkg, "name"), str(pkg, "version"), str(pkg, "kind"), num(pkg, "size"),
		       str(pkg, "sha256"));
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
			snprintf(what, sizeof(what), "package %lld", num(a, "package"));
		printf("%-8lld %-32s %-18s %-14s %s\n", num(a, "id"), str(a, "device"), what,
		       str(a, "type"), str(a, "status"));
	}
	page_footer(page);
}

int ctl_deploy(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "package", required_argument, NULL, 'p' }, { "action", required_argument, NULL, 'a' },
		{ "device", required_argument, NULL, 'd' }, { "tag", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' }, { 0 },
	};
	cJSON *body = cJSON_CreateObject(), *devs = cJSON_CreateArray(), *tags = cJSON_CreateArray();
	cJSON *out = NULL;
	struct lp_diag d;
	char *end;
	long long pkg;
	int ch, rc = 0;

	cJSON_AddItemToObject(body, "devices", devs);
	cJSON_AddItemToObject(body, "tags", tags);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1 && rc == 0) {
		switch (ch) {
		case 'p':
			errno = 0;
			pkg = strtoll(optarg, &end, 10);
			if (errno || *end || pkg <= 0)
				rc = ctl_usage_error("--package: a package id");
			else
				cJSON_AddNumberToObject(body, "package", (double)pkg);
			break;
		case 'a': cJSON_AddStringToObject(body, "action", optarg); break;
		case 'd': cJSON_AddItemToArray(devs, cJSON_CreateString(optarg)); break;
		case 't': cJSON_AddItemToArray(tags, cJSON_CreateString(optarg)); break;
		case 'T': cJSON_AddStringToObject(body, "type", optarg); break;
		default: rc = ctl_usage_error("deploy: unknown option");
		}
	}
	if (rc == 0 && optind != argc)
		rc = ctl_usage_error("deploy: unexpected argument");
	if (rc == 0) {
		lp_diag_clear(&d);
		if (lp_http_json(c->client, "POST", "/api/v1/deployments", body, NULL, &out, &d) < 0) {
			rc = ctl_fail(&d);
		} else if (c->json) {
			print_json(out);
		} else {
			const cJSON *a;

			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(out, "actions"))
				printf("action %lld for %s\n", num(a, "id"), str(a, "device"));
		}
	}
	cJSON_Delete(out);
	cJSON_Delete(body);
	return rc;
}

int ctl_cancel(struct ctl *c, int argc, char **argv)
{
	char path[128], *end;
	struct lp_diag d;
	cJSON *out = NULL;
	long long id;

	errno = 0;
	id = argc == 2 ? strtoll(argv[1], &end, 10) : 0;
	if (argc != 2 || errno || *end || id <= 0)
		return ctl_usage_error("cancel: expected ACTION_ID");
	snprintf(path, sizeof(path), "/api/v1/actions/%lld/cancel", id);
	lp_diag_clear(&d);
	if (lp_http_json(c->client, "POST", path, NULL, NULL, &out, &d) < 0)
		return ctl_fail(&d);
	if (c->json)
		print_json(out);
	else
		printf("action %lld: %s (the device confirms the cancellation)\n", id, str(out, "status"));
	cJSON_Delete(out);
	return 0;
}

int ctl_actions(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "active", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' }, { "offset", required_argument, NULL, 'o' },
		{ 0 },
	};
	char path[PATH_LEN] = "/api/v1/actions";
	int ch, r = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1 && r == 0) {
		switch (ch) {
		case 'd': r = qs_add(path, sizeof(path), "device", optarg); break;
		case 'a': r = qs_add(path, sizeof(path), "active", "1"); break;
		case 'l': case 'o': r = paging_opt(ch, path, sizeof(path)); break;
		default: return ctl_usage_error("actions: unknown option");
		}
	}
	if (r < 0 || optind != argc)
		return ctl_usage_error("actions: bad arguments");
	return get_and_print(c, path, actions_table);
}

static void events_table(const cJSON *page)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		char t[32];

		fmt_time(num(e, "time"), t, sizeof(t));
		printf("%-6lld %s %-20s %-20s %s\n", num(e, "id"), t, str(e, "type"), str(e, "device"),
		       str(e, "message"));
	}
	page_footer(page);
}

int ctl_events(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "after", required_argument, NULL, 'A' }, { "type", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' }, { "offset", required_argument, NULL, 'o' },
		{ 0 },
	};
	char path[PATH_LEN] = "/api/v1/events";
	int ch, r = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1 && r == 0) {
		switch (ch) {
		case 'A': r = qs_add(path, sizeof(path), "after", optarg); break;
		case 't': r = qs_add(path, sizeof(path), "type", optarg); break;
		case 'l': case 'o': r = paging_opt(ch, path, sizeof(path)); break;
		default: return ctl_usage_error("events: unknown option");
		}
	}
	if (r < 0 || optind != argc)
		return ctl_usage_error("events: bad arguments");
	return get_and_print(c, path, events_table);
}

static void firmware_table(const cJSON *page)
{
	const cJSON *f;

	printf("%-24s %8s  %s\n", "VERSION", "DEVICES", "LAST SEEN");
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(page, "items")) {
		char seen[32];

		fmt_time(num(f, "last_seen"), seen, sizeof(seen));
		printf("%-24s %8lld  %s\n", str(f, "version"), num(f, "devices"), seen);
	}
	page_footer(page);
}

int ctl_firmware(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "compatible", required_argument, NULL, 'c' }, { "tag", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' }, { "offset", required_argument, NULL, 'o' },
		{ 0 },
	};
	char path[PATH_LEN] = "/api/v1/firmware/in-use";
	int ch, r = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1 && r == 0) {
		switch (ch) {
		case 'c': r = qs_add(path, sizeof(path), "compatible", optarg); break;
		case 't': r = qs_add(path, sizeof(path), "tag", optarg); break;
		case 'l': case 'o': r = paging_opt(ch, path, sizeof(path)); break;
		default: return ctl_usage_error("firmware: unknown option");
		}
	}
	if (r < 0 || optind != argc)
		return ctl_usage_error("firmware: bad arguments");
	return get_and_print(c, path, firmware_table);
}

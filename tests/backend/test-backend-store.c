/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the backend's data layer (backend/store*.c) on a real SQLite file in a
 * temporary directory: devices, tokens, attributes, actions and their history, deployments,
 * uploads and packages, events, firmware in use, last-seen times, transactions, and that a
 * failing write is reported and leaves nothing half done.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include <cmocka.h>

#include "backend.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fixture {
	char dir[64];
	struct be_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/lp-backend-store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(be_store_open(f->dir, "t1", true, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	be_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- collecting list results ---- */

struct names {
	char v[16][BE_ID_MAX];
	size_t n;
};

static int collect_device(void *ctx, const struct be_device *d)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s", d->controller_id);
	return 0;
}

static int collect_tag(void *ctx, const char *tag)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s", tag);
	return 0;
}

static int collect_attr(void *ctx, const char *key, const char *value)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s=%s", key, value);
	return 0;
}

static int collect_event(void *ctx, const struct be_event *e)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s", e->type);
	return 0;
}

static int collect_status(void *ctx, const struct be_status_entry *e)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s:%zu:%s", e->status, e->n_messages,
		 e->n_messages ? e->messages[0] : "");
	return 0;
}

static int collect_firmware(void *ctx, const struct be_firmware_use *u)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s:%lld", u->version, (long long)u->devices);
	return 0;
}

static int collect_upload(void *ctx, const struct be_upload *u)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%.100s:%zu", u->filename, u->n_ranges);
	return 0;
}

static int collect_deployed(void *ctx, int64_t action, const char *cid)
{
	struct names *n = ctx;

	snprintf(n->v[n->n++], BE_ID_MAX, "%s", cid);
	return 0;
}

static int stop_after_one(void *ctx, const struct be_device *d)
{
	return -ECANCELED;
}

static const struct be_page all = { 0, 100 };

static void add_device(struct be_store *s, const char *cid, const char *const *tags, size_t n)
{
	assert_int_equal(be_store_device_create(s, cid, HASH_A, false, tags, n), 0);
}

static int64_t device_id(struct be_store *s, const char *cid)
{
	int64_t id = 0;

	assert_int_equal(be_store_device_id(s, cid, &id), 0);
	return id;
}

/* ---- tests ---- */

static void test_open(void **state)
{
	struct fixture *f = *state;
	struct be_store *s = NULL;
	char path[BE_PATH_MAX];
	struct stat st;

	assert_true(be_store_exists(f->dir, "t1"));
	assert_false(be_store_exists(f->dir, "t2"));
	assert_false(be_store_exists(f->dir, "../t1"));
	assert_string_equal(be_store_tenant(f->s), "t1");
	for (const char *const *d = (const char *const[]){ "packages", "uploads", "keys", NULL }; *d; d++) {
		assert_int_equal(be_store_path(f->s, *d, path, sizeof(path)), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	/* reopening migrates nothing and works; a missing tenant is not created */
	assert_int_equal(be_store_open(f->dir, "t1", false, &s), 0);
	be_store_close(s);
	assert_int_equal(be_store_open(f->dir, "t2", false, &s), -ENOENT);
	assert_false(be_store_exists(f->dir, "t2"));
	assert_int_equal(be_store_open(f->dir, "bad/name", true, &s), -EINVAL);
	be_store_close(NULL);
}

static void test_devices(void **state)
{
	struct fixture *f = *state;
	struct be_device_filter flt = { 0 };
	struct be_device_auth auth;
	struct be_device d;
	struct names n = { 0 };
	int64_t total = 0;

	add_device(f->s, "dev-b", (const char *const[]){ "lab", "eu" }, 2);
	add_device(f->s, "dev-a", NULL, 0);
	add_device(f->s, "other", (const char *const[]){ "lab" }, 1);
	assert_int_equal(be_store_device_create(f->s, "dev-a", HASH_B, false, NULL, 0), -EEXIST);
	/* the poll's lookup */
	assert_int_equal(be_store_device_auth(f->s, "dev-a", &auth), 0);
	assert_string_equal(auth.token_hash, HASH_A);
	assert_true(auth.request_attributes);
	assert_int_equal(be_store_device_create(f->s, "dev-a", HASH_B, true, NULL, 0), 0);
	assert_int_equal(be_store_device_auth(f->s, "dev-a", &auth), 0);
	assert_string_equal(auth.token_hash, HASH_B);
	assert_int_equal(be_store_device_auth(f->s, "nope", &auth), -ENOENT);
	/* list: ordered by controller id, filtered, paged, counted */
	assert_int_equal(be_store_devices_list(f->s, &flt, &all, collect_device, &n, &total), 0);
	assert_int_equal(total, 3);
	assert_string_equal(n.v[0], "dev-a");
	assert_string_equal(n.v[2], "other");
	flt.tag = "lab";
	n.n = 0;
	assert_int_equal(be_store_devices_list(f->s, &flt, &(struct be_page){ 1, 1 }, collect_device,
					       &n, &total), 0);
	assert_int_equal(total, 2);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "other");
	flt.tag = NULL;
	flt.text = "v-";
	n.n = 0;
	assert_int_equal(be_store_devices_list(f->s, &flt, &all, collect_device, &n, &total), 0);
	assert_int_equal(total, 2);
	/* a callback's error stops the list and is returned */
	assert_int_equal(be_store_devices_list(f->s, &flt, &all, stop_after_one, NULL, &total),
			 -ECANCELED);
	/* tags */
	n.n = 0;
	assert_int_equal(be_store_device_tags(f->s, device_id(f->s, "dev-b"), collect_tag, &n), 0);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "eu");
	assert_int_equal(be_store_device_retag(f->s, device_id(f->s, "dev-b"), "dev-b",
					       (const char *const[]){ "blue" }, 1), 0);
	n.n = 0;
	assert_int_equal(be_store_device_tags(f->s, device_id(f->s, "dev-b"), collect_tag, &n), 0);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "blue");
	assert_int_equal(be_store_device_get(f->s, "dev-b", &d), 0);
	assert_string_equal(d.controller_id, "dev-b");
	assert_int_equal(d.last_seen, 0);
	assert_int_equal(be_store_device_get(f->s, "nope", &d), -ENOENT);
}

static void test_register(void **state)
{
	struct fixture *f = *state;
	struct be_device_auth auth;
	struct names n = { 0 };
	int64_t id = 0, total = 0;

	assert_int_equal(be_store_device_register(f->s, "gw1", &id), 0);
	assert_true(id > 0);
	assert_int_equal(be_store_device_auth(f->s, "gw1", &auth), 0);
	assert_int_equal(auth.id, id);
	assert_string_equal(auth.token_hash, "");
	assert_int_equal(be_store_device_register(f->s, "gw1", &id), -EEXIST);
	assert_int_equal(be_store_events_list(f->s, 0, "device.registered", &all, collect_event, &n,
					      &total), 0);
	assert_int_equal(total, 1);
}

static void test_attributes(void **state)
{
	struct fixture *f = *state;
	struct names n = { 0 };
	struct be_device_auth auth;
	int64_t id;
	bool changed = false;

	add_device(f->s, "dev1", NULL, 0);
	id = device_id(f->s, "dev1");
	assert_int_equal(be_store_device_set_attributes(f->s, id, BE_ATTR_MERGE, (const struct be_attribute[]){
		{ "a", "1" }, { "b", "2" } }, 2, 3), 0);
	assert_int_equal(be_store_device_auth(f->s, "dev1", &auth), 0);
	assert_false(auth.request_attributes); /* received: no longer asked for */
	assert_int_equal(be_store_device_set_attributes(f->s, id, BE_ATTR_MERGE, (const struct be_attribute[]){
		{ "a", "9" }, { "c", "3" } }, 2, 3), 0);
	/* a fourth attribute is over the limit: refused, and nothing of the request stays */
	assert_int_equal(be_store_device_set_attributes(f->s, id, BE_ATTR_MERGE, (const struct be_attribute[]){
		{ "a", "x" }, { "d", "4" } }, 2, 3), -E2BIG);
	assert_int_equal(be_store_device_attributes(f->s, id, collect_attr, &n), 0);
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[0], "a=9");
	assert_string_equal(n.v[2], "c=3");
	assert_int_equal(be_store_device_set_attributes(f->s, id, BE_ATTR_REMOVE, (const struct be_attribute[]){
		{ "b", "" } }, 1, 3), 0);
	assert_int_equal(be_store_device_set_attributes(f->s, id, BE_ATTR_REPLACE, (const struct be_attribute[]){
		{ "z", "26" } }, 1, 3), 0);
	n.n = 0;
	assert_int_equal(be_store_device_attributes(f->s, id, collect_attr, &n), 0);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "z=26");
	assert_int_equal(be_store_device_request_attributes(f->s, id), 0);
	assert_int_equal(be_store_device_auth(f->s, "dev1", &auth), 0);
	assert_true(auth.request_attributes);
	/* installed version: changed only when it differs */
	assert_int_equal(be_store_device_set_installed(f->s, id, "fw", "1.0", &changed), 0);
	assert_true(changed);
	assert_int_equal(be_store_device_set_installed(f->s, id, "fw", "1.0", &changed), 0);
	assert_false(changed);
}

/* Batched last-seen times reach the database in any order (several workers, a queue):
 * the newest time must win. */
static void test_last_seen_keeps_newest(void **state)
{
	struct fixture *f = *state;
	static const int64_t times[] = { 1000, 1005, 1002, 1005, 999 };
	static const char *const ips[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5" };
	struct be_device d;
	int64_t id;

	add_device(f->s, "dev1", NULL, 0);
	id = device_id(f->s, "dev1");
	for (size_t i = 0; i < LP_ARRAY_SIZE(times); i++)
		assert_int_equal(be_store_device_seen(f->s, id, times[i], ips[i]), 0);
	assert_int_equal(be_store_device_get(f->s, "dev1", &d), 0);
	assert_int_equal(d.last_seen, 1005);
	/* the address that came with the newest time (equal times: the later write) */
	assert_string_equal(d.last_ip, "10.0.0.4");
}

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	enum be_role role = BE_ROLE_ADMIN;
	char gw[BE_HASH_HEX];

	assert_int_equal(be_store_token_role(f->s, HASH_A, &role), -ENOENT);
	assert_int_equal(role, BE_ROLE_ADMIN); /* untouched on failure */
	assert_int_equal(be_store_token_add(f->s, HASH_A, BE_ROLE_CI, "pipeline"), 0);
	assert_int_equal(be_store_token_role(f->s, HASH_A, &role), 0);
	assert_int_equal(role, BE_ROLE_CI);
	assert_int_equal(be_store_token_add(f->s, HASH_A, BE_ROLE_ADMIN, ""), -EEXIST);
	assert_int_equal(be_store_gateway_hash(f->s, gw), -ENOENT);
	assert_int_equal(be_store_gateway_set(f->s, HASH_B), 0);
	assert_int_equal(be_store_gateway_hash(f->s, gw), 0);
	assert_string_equal(gw, HASH_B);
	assert_int_equal(be_store_gateway_set(f->s, HASH_A), 0);
	assert_int_equal(be_store_gateway_hash(f->s, gw), 0);
	assert_string_equal(gw, HASH_A);
}

/* An uploaded opaque package of the given content, as the management API makes one. */
static int64_t add_package(struct fixture *f, const char *version, const char *sha256)
{
	struct be_upload *u = calloc(1, sizeof(*u));
	struct be_package p = { .size = 3 };
	int64_t id = 0;
	int fd;

	assert_non_null(u);
	snprintf(u->filename, sizeof(u->filename), "fw-%s.swu", version);
	snprintf(u->version, sizeof(u->version), "%s", version);
	snprintf(u->part, sizeof(u->part), "os");
	snprintf(u->name, sizeof(u->name), "fw");
	u->size = 3;
	u->opaque = true;
	assert_int_equal(be_store_upload_create(f->s, u), 0);
	assert_int_equal(be_store_upload_open(f->s, u, O_WRONLY, &fd), 0);
	assert_int_equal(pwrite(fd, "abc", 3, 0), 3);
	close(fd);
	snprintf(p.kind, sizeof(p.kind), "opaque");
	snprintf(p.name, sizeof(p.name), "fw");
	snprintf(p.version, sizeof(p.version), "%s", version);
	snprintf(p.part, sizeof(p.part), "os");
	snprintf(p.filename, sizeof(p.filename), "%s", u->filename);
	snprintf(p.sha256, sizeof(p.sha256), "%s", sha256);
	assert_int_equal(be_store_package_add(f->s, u, &p, &id), 0);
	/* the upload is gone, the file moved to packages/<sha256> */
	assert_int_equal(be_store_upload_get(f->s, u->id, u), -ENOENT);
	free(u);
	return id;
}

static void test_packages(void **state)
{
	struct fixture *f = *state;
	struct be_package p;
	char buf[4] = "";
	int64_t id = add_package(f, "3.1", HASH_A);
	int fd;

	assert_int_equal(be_store_package_get(f->s, id, true, &p), 0);
	assert_string_equal(p.version, "3.1");
	assert_string_equal(p.kind, "opaque");
	assert_null(p.manifest);
	assert_int_equal(p.size, 3);
	assert_int_equal(be_store_package_open(f->s, &p, &fd), 0);
	assert_int_equal(read(fd, buf, 3), 3);
	close(fd);
	assert_memory_equal(buf, "abc", 3);
	p.size = 4; /* a row that does not match its file is an error, not a short download */
	assert_int_equal(be_store_package_open(f->s, &p, &fd), -EIO);
	assert_int_equal(be_store_package_get(f->s, id + 1, false, &p), -ENOENT);
}

static void test_uploads(void **state)
{
	struct fixture *f = *state;
	struct be_upload *u = calloc(1, sizeof(*u)), *v = calloc(1, sizeof(*v));
	char path[BE_PATH_MAX], sub[64];
	struct names n = { 0 };
	struct stat st;
	int64_t total = 0;

	assert_non_null(u);
	assert_non_null(v);
	snprintf(u->filename, sizeof(u->filename), "fw.lpkg");
	u->size = 1000;
	assert_int_equal(be_store_upload_create(f->s, u), 0);
	assert_int_equal(strlen(u->id), BE_TOKEN_LEN);
	snprintf(sub, sizeof(sub), "uploads/%s", u->id);
	assert_int_equal(be_store_path(f->s, sub, path, sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1000); /* sparse, of the final size */
	assert_int_equal(be_ranges_add(u->ranges, &u->n_ranges, BE_UPLOAD_RANGES_MAX, 600, 699), 0);
	assert_int_equal(be_ranges_add(u->ranges, &u->n_ranges, BE_UPLOAD_RANGES_MAX, 0, 299), 0);
	assert_int_equal(be_store_upload_set_ranges(f->s, u), 0);
	assert_int_equal(be_store_upload_get(f->s, u->id, v), 0);
	assert_int_equal(v->n_ranges, 2);
	assert_int_equal(v->ranges[1].first, 600);
	assert_int_equal(v->ranges[1].last, 699);
	assert_int_equal(be_store_uploads_list(f->s, "fw.lpkg", &all, collect_upload, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(n.v[0], "fw.lpkg:2");
	n.n = 0;
	assert_int_equal(be_store_uploads_list(f->s, "other", &all, collect_upload, &n, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(n.n, 0);
	assert_int_equal(be_store_upload_delete(f->s, u), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(be_store_upload_get(f->s, u->id, v), -ENOENT);
	assert_int_equal(be_store_upload_get(f->s, "../../store.db", v), -ENOENT);
	free(u);
	free(v);
}

static void test_deploy_and_feedback(void **state)
{
	struct fixture *f = *state;
	const char *msgs[] = { "Installed" };
	int64_t pkg = add_package(f, "2.0", HASH_B), installed = 0;
	struct be_deployment dep = {
		.package = pkg, .type = "forced", .max_targets = 100,
		.devices = (const char *const[]){ "dev1" }, .n_devices = 1,
		.tags = (const char *const[]){ "lab" }, .n_tags = 1,
	};
	struct be_action_change done = {
		.entry = { .time = 1, .status = "FINISHED", .messages = msgs, .n_messages = 1 },
		.closes = true, .installs = true, .event = "action.finished",
		.event_message = "Installed", .max_history = 10,
	};
	char missing[BE_ID_MAX];
	struct names n = { 0 };
	struct be_action a, b;
	struct be_device d;

	add_device(f->s, "dev1", NULL, 0);
	add_device(f->s, "dev2", (const char *const[]){ "lab" }, 1);
	add_device(f->s, "dev3", NULL, 0);
	/* a missing device: nothing is deployed */
	dep.devices = (const char *const[]){ "dev1", "ghost" };
	dep.n_devices = 2;
	assert_int_equal(be_store_deploy(f->s, &dep, collect_deployed, &n, missing), -ENOENT);
	assert_string_equal(missing, "ghost");
	assert_int_equal(be_store_action_open(f->s, device_id(f->s, "dev1"), &a), -ENOENT);
	dep.n_devices = 1;
	n.n = 0;
	assert_int_equal(be_store_deploy(f->s, &dep, collect_deployed, &n, missing), 0);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "dev1");
	assert_string_equal(n.v[1], "dev2");
	assert_int_equal(be_store_action_open(f->s, device_id(f->s, "dev1"), &a), 0);
	assert_string_equal(a.status, "RUNNING");
	assert_int_equal(a.package, pkg);
	/* device-scoped lookup: another device's action does not exist for it */
	assert_int_equal(be_store_action_get(f->s, device_id(f->s, "dev3"), a.id, &b), -ENOENT);
	assert_int_equal(be_store_action_get(f->s, device_id(f->s, "dev1"), a.id, &b), 0);
	assert_string_equal(b.device_cid, "dev1");
	/* feedback closes it; the device now runs the package */
	assert_int_equal(be_store_action_change(f->s, &b, &done), 0);
	assert_int_equal(be_store_device_get(f->s, "dev1", &d), 0);
	assert_string_equal(d.installed_version, "2.0");
	assert_true(d.request_attributes);
	assert_int_equal(be_store_action_installed(f->s, d.id, &installed), 0);
	assert_int_equal(installed, b.id);
	/* a second close is refused and not recorded */
	assert_int_equal(be_store_action_change(f->s, &b, &done), -ESTALE);
	n.n = 0;
	assert_int_equal(be_store_action_history(f->s, b.id, true, -1, collect_status, &n), 0);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "FINISHED:1:Installed");
	assert_string_equal(n.v[1], "RUNNING:1:Assignment of package 1 (forced)");
}

static void test_cancel_and_history_limit(void **state)
{
	struct fixture *f = *state;
	struct be_deployment dep = {
		.command = "reboot", .type = "soft", .max_targets = 100,
		.devices = (const char *const[]){ "dev1" }, .n_devices = 1,
	};
	struct be_action_change running = {
		.entry = { .time = 1, .status = "RUNNING" }, .max_history = 3,
	};
	char missing[BE_ID_MAX];
	struct names n = { 0 };
	struct be_action a, second;
	int64_t dev, total = 0;

	add_device(f->s, "dev1", NULL, 0);
	dev = device_id(f->s, "dev1");
	assert_int_equal(be_store_deploy(f->s, &dep, collect_deployed, &n, missing), 0);
	assert_int_equal(be_store_action_open(f->s, dev, &a), 0);
	assert_string_equal(a.command, "reboot");
	assert_int_equal(a.package, 0);
	/* history entries up to the limit, then -EDQUOT */
	assert_int_equal(be_store_action_change(f->s, &a, &running), 0);
	assert_int_equal(be_store_action_change(f->s, &a, &running), 0);
	assert_int_equal(be_store_action_change(f->s, &a, &running), -EDQUOT);
	/* a new deployment asks the device to cancel the open one first */
	assert_int_equal(be_store_deploy(f->s, &dep, collect_deployed, &n, missing), 0);
	assert_int_equal(be_store_action_open(f->s, dev, &second), 0);
	assert_int_equal(second.id, a.id); /* the oldest open action comes first */
	assert_string_equal(second.status, "CANCELING");
	assert_int_equal(be_store_action_cancel(f->s, dev, a.id, "again"), 0); /* no-op: canceling */
	n.n = 0;
	assert_int_equal(be_store_events_list(f->s, 0, "action.canceling", &all, collect_event, &n,
					      &total), 0);
	assert_int_equal(total, 1);
}

static void test_firmware_in_use(void **state)
{
	struct fixture *f = *state;
	struct be_firmware_filter flt = { 0 };
	struct names n = { 0 };
	int64_t total = 0;
	bool changed;

	add_device(f->s, "a", NULL, 0);
	add_device(f->s, "b", (const char *const[]){ "lab" }, 1);
	add_device(f->s, "c", NULL, 0);
	add_device(f->s, "d", NULL, 0);
	assert_int_equal(be_store_device_set_installed(f->s, device_id(f->s, "a"), "fw", "1.0", &changed), 0);
	assert_int_equal(be_store_device_set_installed(f->s, device_id(f->s, "b"), "fw", "1.0", &changed), 0);
	/* c reports its version in configData only; d reports none */
	assert_int_equal(be_store_device_set_attributes(f->s, device_id(f->s, "c"), BE_ATTR_MERGE,
		(const struct be_attribute[]){ { "version", "0.9" }, { "hardware_id", "hw" } }, 2, 10), 0);
	assert_int_equal(be_store_device_seen(f->s, device_id(f->s, "b"), 500, "x"), 0);
	assert_int_equal(be_store_firmware_in_use(f->s, &flt, &all, collect_firmware, &n, &total), 0);
	assert_int_equal(total, 2);
	assert_string_equal(n.v[0], "1.0:2");
	assert_string_equal(n.v[1], "0.9:1");
	flt.compatible = "hw";
	n.n = 0;
	assert_int_equal(be_store_firmware_in_use(f->s, &flt, &all, collect_firmware, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(n.v[0], "0.9:1");
	flt.compatible = NULL;
	flt.tag = "lab";
	n.n = 0;
	assert_int_equal(be_store_firmware_in_use(f->s, &flt, &all, collect_firmware, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(n.v[0], "1.0:1");
}

static void test_nested_transactions(void **state)
{
	struct fixture *f = *state;
	int64_t id;

	assert_int_equal(be_store_begin(f->s), 0);
	add_device(f->s, "kept", NULL, 0);
	/* an inner failure rolls back only the inner part */
	assert_int_equal(be_store_device_create(f->s, "kept", HASH_A, false, NULL, 0), -EEXIST);
	assert_int_equal(be_store_begin(f->s), 0);
	add_device(f->s, "dropped", NULL, 0);
	be_store_rollback(f->s);
	assert_int_equal(be_store_commit(f->s), 0);
	assert_int_equal(be_store_device_id(f->s, "kept", &id), 0);
	assert_int_equal(be_store_device_id(f->s, "dropped", &id), -ENOENT);
	assert_int_equal(be_store_commit(f->s), -EINVAL); /* none open */
}

/* A write that fails is reported as an error, and an operation's earlier writes are undone:
 * here the event log is gone, so registering a device (row + event) must fail whole. */
static void test_failed_write_is_atomic(void **state)
{
	struct fixture *f = *state;
	char path[BE_PATH_MAX];
	sqlite3 *db = NULL;
	int64_t id;

	add_device(f->s, "before", NULL, 0); /* the statements are cached by now */
	assert_int_equal(be_store_path(f->s, "store.db", path, sizeof(path)), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE events", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(be_store_device_create(f->s, "after", HASH_A, false, NULL, 0), -EIO);
	assert_int_equal(be_store_device_id(f->s, "after", &id), -ENOENT);
	assert_int_equal(be_store_device_register(f->s, "auto", &id), -EIO);
	assert_int_equal(be_store_device_id(f->s, "auto", &id), -ENOENT);
	/* reads go on */
	assert_int_equal(be_store_device_id(f->s, "before", &id), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_seen_keeps_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uploads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deploy_and_feedback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_history_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_firmware_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_is_atomic, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

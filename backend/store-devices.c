/* SPDX-License-Identifier: MIT */
/*
 * Devices: registration and tokens, the poll's authentication lookup, tags, configData
 * attributes, the installed version, batched last-seen times, the inventory list and the
 * firmware versions in use.
 */
#include <errno.h>
#include <string.h>

#include "store-internal.h"

#define DEVICE_COLS "d.id, d.controller_id, d.created, d.last_seen, d.last_ip," \
	" d.installed_name, d.installed_version, d.request_attributes"
#define DEVICE_WHERE \
	" FROM devices d WHERE (?1 IS NULL OR EXISTS(SELECT 1 FROM device_tags t" \
	" WHERE t.device_id = d.id AND t.tag = ?1)) AND (?2 IS NULL OR" \
	" instr(d.controller_id, ?2) > 0) AND (?3 IS NULL OR d.installed_version = ?3)"

static const char SQL_AUTH[] =
	"SELECT id, token_hash, request_attributes FROM devices WHERE controller_id = ?";
static const char SQL_ID[] = "SELECT id FROM devices WHERE controller_id = ?";
static const char SQL_GET[] = "SELECT " DEVICE_COLS " FROM devices d WHERE d.controller_id = ?";
static const char SQL_COUNT[] = "SELECT count(*)" DEVICE_WHERE;
static const char SQL_LIST[] =
	"SELECT " DEVICE_COLS DEVICE_WHERE " ORDER BY d.controller_id LIMIT ?4 OFFSET ?5";
static const char SQL_TAGS[] = "SELECT tag FROM device_tags WHERE device_id = ? ORDER BY tag";
static const char SQL_TAGS_CLEAR[] = "DELETE FROM device_tags WHERE device_id = ?";
static const char SQL_TAG_ADD[] =
	"INSERT OR IGNORE INTO device_tags(device_id, tag) VALUES(?, ?)";
static const char SQL_ATTRS[] =
	"SELECT key, value FROM device_attributes WHERE device_id = ? ORDER BY key";
static const char SQL_ATTRS_CLEAR[] = "DELETE FROM device_attributes WHERE device_id = ?";
static const char SQL_ATTR_SET[] =
	"INSERT OR REPLACE INTO device_attributes(device_id, key, value) VALUES(?1, ?2, ?3)";
static const char SQL_ATTR_REMOVE[] =
	"DELETE FROM device_attributes WHERE device_id = ?1 AND key = ?2";
static const char SQL_ATTR_COUNT[] = "SELECT count(*) FROM device_attributes WHERE device_id = ?";
static const char SQL_ATTRS_RECEIVED[] = "UPDATE devices SET request_attributes = 0 WHERE id = ?";
static const char SQL_ATTRS_REQUEST[] = "UPDATE devices SET request_attributes = 1 WHERE id = ?";
static const char SQL_CREATE[] =
	"INSERT INTO devices(controller_id, token_hash, created) VALUES(?1, ?2, ?3)";
static const char SQL_CREATE_ROTATE[] =
	"INSERT INTO devices(controller_id, token_hash, created) VALUES(?1, ?2, ?3)"
	" ON CONFLICT(controller_id) DO UPDATE SET token_hash = ?2";
static const char SQL_REGISTER[] = "INSERT INTO devices(controller_id, created) VALUES(?, ?)";
static const char SQL_SET_INSTALLED[] =
	"UPDATE devices SET installed_name = ?1, installed_version = ?2"
	" WHERE id = ?3 AND (installed_name != ?1 OR installed_version != ?2)";
/* Batches of several workers (and a worker's queued ones) reach the writer in any order:
 * an older time must never overwrite a newer one. */
static const char SQL_SEEN[] =
	"UPDATE devices SET last_seen = ?1, last_ip = ?2 WHERE id = ?3 AND last_seen <= ?1";

/* The version a device runs: recorded by the backend, else reported in configData. */
#define FIRMWARE_ROWS \
	" FROM (SELECT COALESCE(NULLIF(d.installed_version, ''), (SELECT a.value" \
	" FROM device_attributes a WHERE a.device_id = d.id AND a.key = 'version')) AS v," \
	" d.last_seen AS seen FROM devices d WHERE (?1 IS NULL OR EXISTS(SELECT 1" \
	" FROM device_attributes a WHERE a.device_id = d.id AND a.key IN ('hardware_id'," \
	" 'compatible') AND a.value = ?1)) AND (?2 IS NULL OR EXISTS(SELECT 1 FROM" \
	" device_tags t WHERE t.device_id = d.id AND t.tag = ?2)))" \
	" WHERE v IS NOT NULL AND v != '' GROUP BY v"
static const char SQL_FIRMWARE_COUNT[] = "SELECT count(*) FROM (SELECT v" FIRMWARE_ROWS ")";
static const char SQL_FIRMWARE_LIST[] =
	"SELECT v, count(*), max(seen)" FIRMWARE_ROWS " ORDER BY count(*) DESC, v LIMIT ?3 OFFSET ?4";

int be_store_device_auth(struct be_store *s, const char *cid, struct be_device_auth *ret)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_AUTH);
	sq_bind_text(&q, 1, cid);
	r = sq_step(&q);
	if (r > 0) {
		ret->id = sq_int(&q, 0);
		sq_copy(&q, 1, ret->token_hash, sizeof(ret->token_hash));
		ret->request_attributes = sq_int(&q, 2) != 0;
	}
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

int be_store_device_id(struct be_store *s, const char *cid, int64_t *ret_id)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_ID);
	sq_bind_text(&q, 1, cid);
	r = sq_step(&q);
	if (r > 0)
		*ret_id = sq_int(&q, 0);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

static void device_row(struct sq *q, struct be_device *d)
{
	d->id = sq_int(q, 0);
	sq_copy(q, 1, d->controller_id, sizeof(d->controller_id));
	d->created = sq_int(q, 2);
	d->last_seen = sq_int(q, 3);
	sq_copy(q, 4, d->last_ip, sizeof(d->last_ip));
	sq_copy(q, 5, d->installed_name, sizeof(d->installed_name));
	sq_copy(q, 6, d->installed_version, sizeof(d->installed_version));
	d->request_attributes = sq_int(q, 7) != 0;
}

int be_store_device_get(struct be_store *s, const char *cid, struct be_device *ret)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_GET);
	sq_bind_text(&q, 1, cid);
	r = sq_step(&q);
	if (r > 0)
		device_row(&q, ret);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

static void bind_filter(struct sq *q, const void *filter)
{
	const struct be_device_filter *f = filter;

	sq_bind_text(q, 1, f->tag);
	sq_bind_text(q, 2, f->text);
	sq_bind_text(q, 3, f->version);
}

struct device_cb {
	int (*cb)(void *ctx, const struct be_device *d);
	void *ctx;
};

static int list_row(struct sq *q, void *ctx)
{
	struct device_cb *c = ctx;
	struct be_device d;

	device_row(q, &d);
	return c->cb(c->ctx, &d);
}

int be_store_devices_list(struct be_store *s, const struct be_device_filter *f,
			  const struct be_page *p, int (*cb)(void *ctx, const struct be_device *d),
			  void *ctx, int64_t *ret_total)
{
	struct device_cb c = { cb, ctx };

	return store_list(s, SQL_COUNT, SQL_LIST, bind_filter, f, 3, p, list_row, &c, ret_total);
}

int be_store_device_tags(struct be_store *s, int64_t device,
			 int (*cb)(void *ctx, const char *tag), void *ctx)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_TAGS);
	sq_bind_int(&q, 1, device);
	while ((r = sq_step(&q)) > 0)
		if ((r = cb(ctx, sq_text(&q, 0))) < 0)
			break;
	sq_finish(&q);
	return r < 0 ? r : 0;
}

int be_store_device_attributes(struct be_store *s, int64_t device,
			       int (*cb)(void *ctx, const char *key, const char *value), void *ctx)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_ATTRS);
	sq_bind_int(&q, 1, device);
	while ((r = sq_step(&q)) > 0)
		if ((r = cb(ctx, sq_text(&q, 0), sq_text(&q, 1))) < 0)
			break;
	sq_finish(&q);
	return r < 0 ? r : 0;
}

static int set_tags(struct be_store *s, int64_t device, const char *const *tags, size_t n)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_TAGS_CLEAR);
	sq_bind_int(&q, 1, device);
	r = sq_exec(&q);
	for (size_t i = 0; i < n && r == 0; i++) {
		sq_prepare(&q, s, SQL_TAG_ADD);
		sq_bind_int(&q, 1, device);
		sq_bind_text(&q, 2, tags[i]);
		r = sq_exec(&q);
	}
	return r;
}

int be_store_device_create(struct be_store *s, const char *cid, const char *token_hash,
			   bool rotate, const char *const *tags, size_t n_tags)
{
	struct sq q;
	int64_t id = 0;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, rotate ? SQL_CREATE_ROTATE : SQL_CREATE);
	sq_bind_text(&q, 1, cid);
	sq_bind_text(&q, 2, token_hash);
	sq_bind_int(&q, 3, be_now());
	r = sq_exec(&q);
	if (r == 0 && n_tags && (r = be_store_device_id(s, cid, &id)) == 0)
		r = set_tags(s, id, tags, n_tags);
	if (r == 0)
		r = be_store_event(s, "device.registered", cid, 0, "pre-registered");
	return store_end(s, r);
}

int be_store_device_register(struct be_store *s, const char *cid, int64_t *ret_id)
{
	struct sq q;
	int64_t id;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_REGISTER);
	sq_bind_text(&q, 1, cid);
	sq_bind_int(&q, 2, be_now());
	r = sq_exec(&q);
	id = store_last_rowid(s);
	if (r == 0)
		r = be_store_event(s, "device.registered", cid, 0, "auto-registered on first poll");
	r = store_end(s, r);
	if (r == 0)
		*ret_id = id;
	return r;
}

int be_store_device_retag(struct be_store *s, int64_t device, const char *cid,
			  const char *const *tags, size_t n_tags)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	r = set_tags(s, device, tags, n_tags);
	if (r == 0)
		r = be_store_event(s, "device.tags", cid, 0, "tags replaced");
	return store_end(s, r);
}

int be_store_device_request_attributes(struct be_store *s, int64_t device)
{
	struct sq q;

	sq_prepare(&q, s, SQL_ATTRS_REQUEST);
	sq_bind_int(&q, 1, device);
	return sq_exec(&q);
}

static int write_attributes(struct be_store *s, int64_t device, enum be_attr_mode mode,
			    const struct be_attribute *attrs, size_t n, unsigned max)
{
	struct sq q;
	int64_t total = 0;
	int r = 0;

	if (mode == BE_ATTR_REPLACE) {
		sq_prepare(&q, s, SQL_ATTRS_CLEAR);
		sq_bind_int(&q, 1, device);
		r = sq_exec(&q);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		sq_prepare(&q, s, mode == BE_ATTR_REMOVE ? SQL_ATTR_REMOVE : SQL_ATTR_SET);
		sq_bind_int(&q, 1, device);
		sq_bind_text(&q, 2, attrs[i].key);
		if (mode != BE_ATTR_REMOVE)
			sq_bind_text(&q, 3, attrs[i].value);
		r = sq_exec(&q);
	}
	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_ATTR_COUNT);
	sq_bind_int(&q, 1, device);
	if (sq_step(&q) > 0)
		total = sq_int(&q, 0);
	if ((r = sq_finish(&q)) < 0)
		return r;
	if (total > (int64_t)max)
		return -E2BIG;
	sq_prepare(&q, s, SQL_ATTRS_RECEIVED);
	sq_bind_int(&q, 1, device);
	return sq_exec(&q);
}

int be_store_device_set_attributes(struct be_store *s, int64_t device, enum be_attr_mode mode,
				   const struct be_attribute *attrs, size_t n, unsigned max)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	return store_end(s, write_attributes(s, device, mode, attrs, n, max));
}

int be_store_device_set_installed(struct be_store *s, int64_t device, const char *name,
				  const char *version, bool *ret_changed)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_SET_INSTALLED);
	sq_bind_text(&q, 1, name);
	sq_bind_text(&q, 2, version);
	sq_bind_int(&q, 3, device);
	r = sq_exec(&q);
	if (r == 0)
		*ret_changed = store_changes(s) > 0;
	return r;
}

int be_store_device_seen(struct be_store *s, int64_t device, int64_t time, const char *ip)
{
	struct sq q;

	sq_prepare(&q, s, SQL_SEEN);
	sq_bind_int(&q, 1, time);
	sq_bind_text(&q, 2, ip);
	sq_bind_int(&q, 3, device);
	return sq_exec(&q);
}

static void bind_firmware_filter(struct sq *q, const void *filter)
{
	const struct be_firmware_filter *f = filter;

	sq_bind_text(q, 1, f->compatible);
	sq_bind_text(q, 2, f->tag);
}

struct firmware_cb {
	int (*cb)(void *ctx, const struct be_firmware_use *u);
	void *ctx;
};

static int firmware_row(struct sq *q, void *ctx)
{
	struct firmware_cb *c = ctx;
	struct be_firmware_use u = {
		.version = sq_text(q, 0),
		.devices = sq_int(q, 1),
		.last_seen = sq_int(q, 2),
	};

	return c->cb(c->ctx, &u);
}

int be_store_firmware_in_use(struct be_store *s, const struct be_firmware_filter *f,
			     const struct be_page *p,
			     int (*cb)(void *ctx, const struct be_firmware_use *u), void *ctx,
			     int64_t *ret_total)
{
	struct firmware_cb c = { cb, ctx };

	return store_list(s, SQL_FIRMWARE_COUNT, SQL_FIRMWARE_LIST, bind_firmware_filter, f, 2, p,
			  firmware_row, &c, ret_total);
}

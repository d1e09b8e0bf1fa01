/* SPDX-License-Identifier: MIT */
/*
 * Resumable package uploads and the package list.
 *   POST /api/v1/uploads             {"filename","size"[,"opaque","version","part","name"]}
 *   GET  /api/v1/uploads/ID          the ranges received so far
 *   PUT  /api/v1/uploads/ID          Content-Range: bytes a-b/size, at most 8 MiB
 *   POST /api/v1/uploads/ID/complete hash, verify (.lpkg against the tenant's trusted keys),
 *                                    store content-addressed, create the package
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "loopline/codec.h"
#include "loopline/hash.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "loopline/package.h"
#include "loopline/sign.h"
#include "backend.h"

#define MAX_RANGES 1024

struct upload {
	char id[BE_TOKEN_LEN + 1];
	char filename[256];
	uint64_t size;
	bool opaque;
	char version[129], part[65], name[129];
	cJSON *ranges; /* [[first,last],...] sorted, merged */
};

static void upload_done(struct upload *u)
{
	cJSON_Delete(u->ranges);
	u->ranges = NULL;
}

static int upload_path(struct be_store *s, const char *id, char *buf, size_t len)
{
	char sub[64];

	snprintf(sub, sizeof(sub), "uploads/%s", id);
	return be_store_path(s, sub, buf, len);
}

static int load_upload(struct be_store *s, const char *id, struct upload *u)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (strlen(id) != BE_TOKEN_LEN || !be_name_valid(id))
		return -ENOENT;
	r = be_store_prepare(s, "SELECT filename, size, opaque, version, part, name, ranges"
			     " FROM uploads WHERE id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->filename, sizeof(u->filename), "%s", (const char *)sqlite3_column_text(st, 0));
	u->size = (uint64_t)sqlite3_column_int64(st, 1);
	u->opaque = sqlite3_column_int(st, 2) != 0;
	snprintf(u->version, sizeof(u->version), "%s", (const char *)sqlite3_column_text(st, 3));
	snprintf(u->part, sizeof(u->part), "%s", (const char *)sqlite3_column_text(st, 4));
	snprintf(u->name, sizeof(u->name), "%s", (const char *)sqlite3_column_text(st, 5));
	u->ranges = cJSON_Parse((const char *)sqlite3_column_text(st, 6));
	sqlite3_finalize(st);
	return u->ranges ? 0 : -EIO;
}

static uint64_t received_bytes(const struct upload *u)
{
	const cJSON *it;
	uint64_t n = 0;

	cJSON_ArrayForEach(it, u->ranges)
		n += (uint64_t)cJSON_GetArrayItem(it, 1)->valuedouble -
		     (uint64_t)cJSON_GetArrayItem(it, 0)->valuedouble + 1;
	return n;
}

static cJSON *upload_json(const struct upload *u)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t got = received_bytes(u);

	cJSON_AddStringToObject(o, "id", u->id);
	cJSON_AddStringToObject(o, "filename", u->filename);
	cJSON_AddNumberToObject(o, "size", (double)u->size);
	cJSON_AddBoolToObject(o, "opaque", u->opaque);
	cJSON_AddNumberToObject(o, "received_bytes", (double)got);
	cJSON_AddItemToObject(o, "received", cJSON_Duplicate(u->ranges, 1));
	cJSON_AddBoolToObject(o, "complete", got == u->size);
	return o;
}

/* Inserts [a,b] into the sorted, merged list. */
static int add_range(struct upload *u, uint64_t a, uint64_t b)
{
	uint64_t lo[MAX_RANGES + 1], hi[MAX_RANGES + 1];
	size_t n = 0, m = 0;
	const cJSON *it;
	cJSON *out;

	cJSON_ArrayForEach(it, u->ranges) {
		if (n >= MAX_RANGES)
			return -E2BIG;
		lo[n] = (uint64_t)cJSON_GetArrayItem(it, 0)->valuedouble;
		hi[n] = (uint64_t)cJSON_GetArrayItem(it, 1)->valuedouble;
		n++;
	}
	/* insert keeping order by start */
	{
		size_t i = n;

		while (i > 0 && lo[i - 1] > a) {
			lo[i] = lo[i - 1];
			hi[i] = hi[i - 1];
			i--;
		}
		lo[i] = a;
		hi[i] = b;
		n++;
	}
	for (size_t i = 1; i < n; i++) {
		if (lo[i] <= hi[m] + 1) {
			if (hi[i] > hi[m])
				hi[m] = hi[i];
		} else {
			m++;
			lo[m] = lo[i];
			hi[m] = hi[i];
		}
	}
	if (m + 1 > MAX_RANGES)
		return -E2BIG;
	out = cJSON_CreateArray();
	for (size_t i = 0; i <= m; i++) {
		cJSON *p = cJSON_CreateArray();

		cJSON_AddItemToArray(p, cJSON_CreateNumber((double)lo[i]));
		cJSON_AddItemToArray(p, cJSON_CreateNumber((double)hi[i]));
		cJSON_AddItemToArray(out, p);
	}
	cJSON_Delete(u->ranges);
	u->ranges = out;
	return 0;
}

static int parse_upload(const char *text, size_t len, size_t max_len, unsigned depth, void *ret,
			struct lp_diag *d)
{
	return be_upload_req_parse(text, len, max_len, depth, ret, d);
}

static void upload_create(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct upload u = { 0 };
	struct be_upload_req q;
	char path[BE_PATH_MAX];
	const char *filename, *version, *part, *name;
	sqlite3_stmt *st = NULL;
	int64_t size;
	int fd = -1;

	if (be_mgmt_body_with(m, parse_upload, &q) < 0)
		return;
	filename = q.filename;
	version = q.version;
	part = q.part;
	name = q.name;
	size = q.size;
	u.opaque = q.opaque;
	if ((uint64_t)size > r->cfg->max_upload_bytes) {
		be_reply_error(r, 413, "too_large", "size %lld is over the limit of %llu bytes",
			       (long long)size, (unsigned long long)r->cfg->max_upload_bytes);
		goto out;
	}
	snprintf(u.filename, sizeof(u.filename), "%s", filename);
	snprintf(u.version, sizeof(u.version), "%s", version ? version : "");
	snprintf(u.part, sizeof(u.part), "%s", part ? part : "");
	snprintf(u.name, sizeof(u.name), "%s", name ? name : filename);
	u.size = (uint64_t)size;
	u.ranges = cJSON_CreateArray();
	if (be_token_random(u.id) < 0 || upload_path(m->s, u.id, path, sizeof(path)) < 0)
		goto fail;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || ftruncate(fd, (off_t)u.size) < 0) {
		log_error("%s: %s", path, strerror(errno));
		goto fail;
	}
	if (be_store_prepare(m->s, "INSERT INTO uploads(id, filename, size, opaque, version, part,"
			     " name, created) VALUES(?, ?, ?, ?, ?, ?, ?, ?)", &st) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, u.filename, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, size);
	sqlite3_bind_int(st, 4, u.opaque);
	sqlite3_bind_text(st, 5, u.version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, u.part, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, u.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, be_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	be_reply_json(r, 201, upload_json(&u));
	goto out;
fail:
	if (fd >= 0)
		unlink(path);
	be_reply_error(r, 500, "internal", "cannot create the upload");
out:
	if (fd >= 0)
		close(fd);
	sqlite3_finalize(st);
	upload_done(&u);
	be_upload_req_done(&q);
}

static int save_ranges(struct be_store *s, const struct upload *u)
{
	sqlite3_stmt *st = NULL;
	char *text = lp_json_print(u->ranges);
	int r;

	if (!text)
		return -ENOMEM;
	r = be_store_prepare(s, "UPDATE uploads SET ranges = ? WHERE id = ?", &st);
	if (r == 0) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, u->id, -1, SQLITE_STATIC);
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	free(text);
	return r;
}

static void upload_put(struct be_mgmt *m, struct upload *u)
{
	struct be_req *r = m->r;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *cr = be_header(r, "Content-Range");
	uint64_t a, b, total, off;
	char path[BE_PATH_MAX];
	int fd;

	if (!cr || be_content_range_parse(cr, &a, &b, &total) < 0) {
		be_reply_error(r, 400, "bad_range", "a PUT needs \"Content-Range: bytes FIRST-LAST/SIZE\"");
		return;
	}
	if (total != u->size || b >= u->size) {
		be_reply_error(r, 416, "bad_range", "the upload has %llu bytes",
			       (unsigned long long)u->size);
		return;
	}
	if (b - a + 1 > BE_UPLOAD_CHUNK_MAX) {
		be_reply_error(r, 413, "too_large", "a PUT carries at most %u bytes", BE_UPLOAD_CHUNK_MAX);
		return;
	}
	if (len != b - a + 1) {
		be_reply_error(r, 400, "bad_range", "Content-Range says %llu bytes but the body has %zu",
			       (unsigned long long)(b - a + 1), len);
		return;
	}
	if (upload_path(m->s, u->id, path, sizeof(path)) < 0 ||
	    (fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		be_reply_error(r, 500, "internal", "upload file is missing");
		return;
	}
	off = a;
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t w;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		w = pwrite(fd, v.iov_base, v.iov_len, (off_t)off);
		if (w <= 0) {
			close(fd);
			be_reply_error(r, 500, "internal", "cannot write: %s", strerror(errno));
			return;
		}
		off += (uint64_t)w;
		evbuffer_drain(in, (size_t)w);
	}
	if (fdatasync(fd) < 0 || close(fd) < 0) {
		be_reply_error(r, 500, "internal", "cannot write: %s", strerror(errno));
		return;
	}
	if (add_range(u, a, b) < 0) {
		be_reply_error(r, 400, "too_fragmented", "more than %d separate ranges", MAX_RANGES);
		return;
	}
	if (save_ranges(m->s, u) < 0) {
		be_reply_error(r, 500, "internal", "database error");
		return;
	}
	be_reply_json(r, 200, upload_json(u));
}

static cJSON *package_json(sqlite3_stmt *st, bool full)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
	cJSON_AddStringToObject(o, "kind", (const char *)sqlite3_column_text(st, 1));
	cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 2));
	cJSON_AddStringToObject(o, "version", (const char *)sqlite3_column_text(st, 3));
	cJSON_AddStringToObject(o, "part", (const char *)sqlite3_column_text(st, 4));
	cJSON_AddStringToObject(o, "filename", (const char *)sqlite3_column_text(st, 5));
	cJSON_AddNumberToObject(o, "size", (double)sqlite3_column_int64(st, 6));
	cJSON_AddStringToObject(o, "sha256", (const char *)sqlite3_column_text(st, 7));
	cJSON_AddStringToObject(o, "sha1", (const char *)sqlite3_column_text(st, 8));
	cJSON_AddStringToObject(o, "md5", (const char *)sqlite3_column_text(st, 9));
	cJSON_AddNumberToObject(o, "created", (double)sqlite3_column_int64(st, 10));
	if (full) {
		const char *man = (const char *)sqlite3_column_text(st, 11);
		cJSON *mj = man ? cJSON_Parse(man) : NULL;

		cJSON_AddItemToObject(o, "manifest", mj ? mj : cJSON_CreateNull());
	}
	return o;
}

#define PACKAGE_COLS "id, kind, name, version, part, filename, size, sha256, sha1, md5, created, manifest"

static void reply_package(struct be_mgmt *m, int64_t id, int status)
{
	sqlite3_stmt *st = NULL;

	if (be_store_prepare(m->s, "SELECT " PACKAGE_COLS " FROM packages WHERE id = ?", &st) < 0) {
		be_reply_error(m->r, 500, "internal", "database error");
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		be_reply_json(m->r, status, package_json(st, true));
	else
		be_reply_error(m->r, 404, "not_found", "no such package");
	sqlite3_finalize(st);
}

static int hash_file(int fd, char sha256[65], char sha1[41], char md5[33])
{
	struct lp_hash *h[3] = { NULL, NULL, NULL };
	static const enum lp_hash_alg algs[3] = { LP_HASH_SHA256, LP_HASH_SHA1, LP_HASH_MD5 };
	char *outs[3] = { sha256, sha1, md5 };
	uint8_t buf[65536], d[LP_HASH_MAX_LEN];
	off_t off = 0;
	int r = 0;

	for (int i = 0; i < 3 && r == 0; i++)
		r = lp_hash_new(algs[i], &h[i]);
	while (r == 0) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		for (int i = 0; i < 3 && r == 0; i++)
			r = lp_hash_update(h[i], buf, (size_t)n);
		off += n;
	}
	for (int i = 0; i < 3 && r == 0; i++) {
		r = lp_hash_final(h[i], d);
		if (r == 0)
			lp_hex_encode(d, lp_hash_len(algs[i]), outs[i]);
	}
	for (int i = 0; i < 3; i++)
		lp_hash_free(h[i]);
	return r;
}

static void delete_upload(struct be_store *s, const struct upload *u, const char *path)
{
	sqlite3_stmt *st = NULL;

	if (path)
		unlink(path);
	if (be_store_prepare(s, "DELETE FROM uploads WHERE id = ?", &st) == 0) {
		sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

static void upload_complete(struct be_mgmt *m, struct upload *u)
{
	struct be_req *r = m->r;
	struct lp_keyring *ring = NULL;
	struct lp_manifest *man = NULL;
	struct lp_diag d;
	char path[BE_PATH_MAX], dest[BE_PATH_MAX], keys[BE_PATH_MAX];
	char sha256[65], sha1[41], md5[33], err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 16];
	char *manifest_text = NULL;
	const char *name = u->name, *version = u->version, *part = u->part;
	sqlite3_stmt *st = NULL;
	int64_t id;
	int fd = -1, rc;

	lp_diag_clear(&d);
	if (received_bytes(u) != u->size) {
		be_reply_error(r, 409, "incomplete", "%llu of %llu bytes received; ask GET"
			       " /api/v1/uploads/%s for the missing ranges",
			       (unsigned long long)received_bytes(u), (unsigned long long)u->size, u->id);
		return;
	}
	if (upload_path(m->s, u->id, path, sizeof(path)) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		be_reply_error(r, 500, "internal", "upload file is missing");
		return;
	}
	if (hash_file(fd, sha256, sha1, md5) < 0) {
		be_reply_error(r, 500, "internal", "cannot hash the upload");
		goto out;
	}
	if (!u->opaque) {
		struct lp_pkg_policy policy = { 0 };

		if (be_store_path(m->s, "keys", keys, sizeof(keys)) < 0 || lp_keyring_new(&ring) < 0) {
			be_reply_error(r, 500, "internal", "cannot load trusted keys");
			goto out;
		}
		rc = lp_keyring_load(ring, keys, &d);
		if (rc < 0 || lp_keyring_count(ring) == 0) {
			be_reply_error(r, 422, "no_trusted_keys", "tenant %s has no trusted signing keys"
				       " (loopline-backend tenant add-key)", m->s->tenant);
			delete_upload(m->s, u, path);
			goto out;
		}
		policy.trusted = ring;
		lseek(fd, 0, SEEK_SET);
		rc = lp_pkg_verify_fd(fd, &policy, &man, &d);
		if (rc < 0) {
			be_reply_error(r, 422, rc == -EKEYREJECTED ? "untrusted_signature" : "invalid_package",
				       "%s: %s", u->filename, lp_diag_format(&d, err, sizeof(err)));
			delete_upload(m->s, u, path);
			goto out;
		}
		name = man->product;
		version = man->version;
		part = "os";
		manifest_text = lp_manifest_serialize(man);
	}
	/* Content-addressed store: identical bytes are stored once. */
	if (be_store_path(m->s, "packages/", dest, sizeof(dest) - 70) < 0) {
		be_reply_error(r, 500, "internal", "path too long");
		goto out;
	}
	snprintf(dest + strlen(dest), sizeof(dest) - strlen(dest), "%s", sha256);
	if (rename(path, dest) < 0) {
		be_reply_error(r, 500, "internal", "cannot store the package: %s", strerror(errno));
		goto out;
	}
	if (be_store_begin(m->s) < 0)
		goto dberr;
	if (be_store_prepare(m->s, "INSERT INTO packages(kind, name, version, part, filename, size,"
			     " sha256, sha1, md5, created, manifest) VALUES(?,?,?,?,?,?,?,?,?,?,?)", &st) < 0)
		goto rollback;
	sqlite3_bind_text(st, 1, u->opaque ? "opaque" : "lpkg", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, part, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, u->filename, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)u->size);
	sqlite3_bind_text(st, 7, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, sha1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, md5, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, be_now());
	if (manifest_text)
		sqlite3_bind_text(st, 11, manifest_text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	id = sqlite3_last_insert_rowid(m->s->db);
	delete_upload(m->s, u, NULL);
	{
		char msg[700];

		snprintf(msg, sizeof(msg), "%s %s (%s)", name, version, u->filename);
		if (be_store_event(m->s, "package.created", NULL, 0, msg) < 0)
			goto rollback;
	}
	if (be_store_commit(m->s) < 0)
		goto rollback;
	reply_package(m, id, 201);
	goto out;
rollback:
	be_store_rollback(m->s);
dberr:
	be_reply_error(r, 500, "internal", "database error");
out:
	sqlite3_finalize(st);
	free(manifest_text);
	lp_manifest_free(man);
	lp_keyring_free(ring);
	if (fd >= 0)
		close(fd);
}

static void uploads_list(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	sqlite3_stmt *st = NULL;
	int64_t offset, limit, total = 0;
	char fn[256];
	int has_fn;
	cJSON *items;

	if (be_mgmt_paging(m, &offset, &limit) < 0)
		return;
	has_fn = be_query(r, "filename", fn, sizeof(fn));
	if (has_fn < 0) {
		be_reply_error(r, 400, "bad_query", "filename too long");
		return;
	}
	if (be_store_prepare(m->s, "SELECT count(*) FROM uploads WHERE ?1 IS NULL OR filename = ?1",
			     &st) == 0) {
		if (has_fn)
			sqlite3_bind_text(st, 1, fn, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (be_store_prepare(m->s, "SELECT id FROM uploads WHERE ?1 IS NULL OR filename = ?1"
			     " ORDER BY created DESC, id LIMIT ?2 OFFSET ?3", &st) < 0) {
		be_reply_error(r, 500, "internal", "database error");
		return;
	}
	if (has_fn)
		sqlite3_bind_text(st, 1, fn, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	items = cJSON_CreateArray();
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct upload u;

		if (load_upload(m->s, (const char *)sqlite3_column_text(st, 0), &u) == 0) {
			cJSON_AddItemToArray(items, upload_json(&u));
			upload_done(&u);
		}
	}
	sqlite3_finalize(st);
	be_reply_json(r, 200, be_mgmt_page(items, offset, limit, total));
}

void be_mgmt_uploads(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct upload u;

	if (r->n_seg == 3) {
		if (r->method == EVHTTP_REQ_POST)
			upload_create(m);
		else if (r->method == EVHTTP_REQ_GET)
			uploads_list(m);
		else
			be_reply_error(r, 405, "method_not_allowed", "use POST to start an upload");
		return;
	}
	if (load_upload(m->s, r->seg[3], &u) < 0) {
		be_reply_error(r, 404, "not_found", "no such upload");
		return;
	}
	if (r->n_seg == 4 && r->method == EVHTTP_REQ_GET)
		be_reply_json(r, 200, upload_json(&u));
	else if (r->n_seg == 4 && r->method == EVHTTP_REQ_PUT)
		upload_put(m, &u);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "complete") == 0 && r->method == EVHTTP_REQ_POST)
		upload_complete(m, &u);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
	upload_done(&u);
}

void be_mgmt_packages(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	sqlite3_stmt *st = NULL;
	int64_t offset, limit, total = 0;
	cJSON *items;
	char *end;
	long long id;

	if (r->n_seg == 4 && r->method == EVHTTP_REQ_GET) {
		errno = 0;
		id = strtoll(r->seg[3], &end, 10);
		if (errno || *end || id <= 0)
			be_reply_error(r, 404, "not_found", "no such package");
		else
			reply_package(m, id, 200);
		return;
	}
	if (r->n_seg != 3 || r->method != EVHTTP_REQ_GET) {
		be_reply_error(r, 404, "not_found", "packages are created through /api/v1/uploads");
		return;
	}
	if (be_mgmt_paging(m, &offset, &limit) < 0)
		return;
	if (be_store_prepare(m->s, "SELECT count(*) FROM packages", &st) == 0 &&
	    sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (be_store_prepare(m->s, "SELECT " PACKAGE_COLS " FROM packages ORDER BY id DESC"
			     " LIMIT ? OFFSET ?", &st) < 0) {
		be_reply_error(r, 500, "internal", "database error");
		return;
	}
	sqlite3_bind_int64(st, 1, limit);
	sqlite3_bind_int64(st, 2, offset);
	items = cJSON_CreateArray();
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(items, package_json(st, false));
	sqlite3_finalize(st);
	be_reply_json(r, 200, be_mgmt_page(items, offset, limit, total));
}

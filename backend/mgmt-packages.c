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
#include "mgmt.h"

static cJSON *upload_json(const struct be_upload *u)
{
	cJSON *o = cJSON_CreateObject(), *ranges;
	uint64_t got = be_ranges_bytes(u->ranges, u->n_ranges);

	cJSON_AddStringToObject(o, "id", u->id);
	cJSON_AddStringToObject(o, "filename", u->filename);
	cJSON_AddNumberToObject(o, "size", (double)u->size);
	cJSON_AddBoolToObject(o, "opaque", u->opaque);
	cJSON_AddNumberToObject(o, "received_bytes", (double)got);
	ranges = cJSON_AddArrayToObject(o, "received");
	for (size_t i = 0; i < u->n_ranges; i++) {
		cJSON *pair = cJSON_CreateArray();

		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)u->ranges[i].first));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)u->ranges[i].last));
		cJSON_AddItemToArray(ranges, pair);
	}
	cJSON_AddBoolToObject(o, "complete", got == u->size);
	return o;
}

static int parse_upload(const char *text, size_t len, size_t max_len, unsigned depth, void *ret,
			struct lp_diag *d)
{
	return be_upload_req_parse(text, len, max_len, depth, ret, d);
}

static void upload_create(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct be_upload_req q;
	struct be_upload *u;
	int rc;

	if (mgmt_body(m, parse_upload, &q) < 0)
		return;
	if ((uint64_t)q.size > r->cfg->max_upload_bytes) {
		be_reply_error(r, 413, "too_large", "size %lld is over the limit of %llu bytes",
			       (long long)q.size, (unsigned long long)r->cfg->max_upload_bytes);
		be_upload_req_done(&q);
		return;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		be_upload_req_done(&q);
		be_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	snprintf(u->filename, sizeof(u->filename), "%s", q.filename);
	snprintf(u->version, sizeof(u->version), "%s", q.version ? q.version : "");
	snprintf(u->part, sizeof(u->part), "%s", q.part ? q.part : "");
	snprintf(u->name, sizeof(u->name), "%s", q.name ? q.name : q.filename);
	u->size = (uint64_t)q.size;
	u->opaque = q.opaque;
	be_upload_req_done(&q);
	rc = be_store_upload_create(m->s, u);
	if (rc < 0)
		be_reply_error(r, 500, "internal", "cannot create the upload");
	else
		be_reply_json(r, 201, upload_json(u));
	free(u);
}

/* Writes the request body at offset first of the upload's file. */
static int write_chunk(struct be_mgmt *m, const struct be_upload *u, uint64_t first)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(m->r->req);
	uint64_t off = first;
	int fd, rc = be_store_upload_open(m->s, u, O_WRONLY, &fd);

	if (rc < 0)
		return rc;
	while (rc == 0 && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t w;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		w = pwrite(fd, v.iov_base, v.iov_len, (off_t)off);
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (uint64_t)w;
		evbuffer_drain(in, (size_t)w);
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Checks Content-Range against the upload and the body; replies and returns <0 if wrong. */
static int check_chunk(struct be_mgmt *m, const struct be_upload *u, uint64_t *ret_first,
		       uint64_t *ret_last)
{
	struct be_req *r = m->r;
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(r->req));
	const char *cr = be_header(r, "Content-Range");
	uint64_t a, b, total;

	if (!cr || be_content_range_parse(cr, &a, &b, &total) < 0) {
		be_reply_error(r, 400, "bad_range", "a PUT needs \"Content-Range: bytes FIRST-LAST/SIZE\"");
		return -EINVAL;
	}
	if (total != u->size || b >= u->size) {
		be_reply_error(r, 416, "bad_range", "the upload has %llu bytes",
			       (unsigned long long)u->size);
		return -ERANGE;
	}
	if (b - a + 1 > BE_UPLOAD_CHUNK_MAX) {
		be_reply_error(r, 413, "too_large", "a PUT carries at most %u bytes", BE_UPLOAD_CHUNK_MAX);
		return -E2BIG;
	}
	if (len != b - a + 1) {
		be_reply_error(r, 400, "bad_range", "Content-Range says %llu bytes but the body has %zu",
			       (unsigned long long)(b - a + 1), len);
		return -EINVAL;
	}
	*ret_first = a;
	*ret_last = b;
	return 0;
}

static void upload_put(struct be_mgmt *m, struct be_upload *u)
{
	struct be_req *r = m->r;
	uint64_t a, b;
	int rc;

	if (check_chunk(m, u, &a, &b) < 0)
		return;
	rc = write_chunk(m, u, a);
	if (rc < 0) {
		log_error("%s: upload %s: cannot write: %s", be_store_tenant(m->s), u->id, strerror(-rc));
		be_reply_error(r, 500, "internal", "cannot write: %s", strerror(-rc));
		return;
	}
	if (be_ranges_add(u->ranges, &u->n_ranges, BE_UPLOAD_RANGES_MAX, a, b) < 0) {
		be_reply_error(r, 400, "too_fragmented", "more than %d separate ranges",
			       BE_UPLOAD_RANGES_MAX);
		return;
	}
	rc = be_store_upload_set_ranges(m->s, u);
	if (rc < 0)
		mgmt_store_error(m, rc, "upload");
	else
		be_reply_json(r, 200, upload_json(u));
}

static cJSON *package_json(const struct be_package *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)p->id);
	cJSON_AddStringToObject(o, "kind", p->kind);
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "version", p->version);
	cJSON_AddStringToObject(o, "part", p->part);
	cJSON_AddStringToObject(o, "filename", p->filename);
	cJSON_AddNumberToObject(o, "size", (double)p->size);
	cJSON_AddStringToObject(o, "sha256", p->sha256);
	cJSON_AddStringToObject(o, "sha1", p->sha1);
	cJSON_AddStringToObject(o, "md5", p->md5);
	cJSON_AddNumberToObject(o, "created", (double)p->created);
	if (p->delta_base[0]) {
		cJSON *d = cJSON_AddObjectToObject(o, "delta");

		cJSON_AddStringToObject(d, "base_version", p->delta_base);
		cJSON_AddStringToObject(d, "base_sha256", p->delta_base_sha256);
	} else {
		cJSON_AddNullToObject(o, "delta");
	}
	return o;
}

static void reply_package(struct be_mgmt *m, int64_t id, int status)
{
	struct be_package p;
	cJSON *o, *man;
	int rc = be_store_package_get(m->s, id, true, &p);

	if (rc < 0) {
		mgmt_store_error(m, rc, "package");
		return;
	}
	o = package_json(&p);
	man = p.manifest ? cJSON_Parse(p.manifest) : NULL;
	cJSON_AddItemToObject(o, "manifest", man ? man : cJSON_CreateNull());
	free(p.manifest);
	be_reply_json(m->r, status, o);
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

/* Verifies an .lpkg against the tenant's trusted keys: fills name, version, part and the
 * manifest of pkg, or replies and returns -EBADMSG (422: the package is refused) or
 * another error (500). */
static int verify_lpkg(struct be_mgmt *m, const struct be_upload *u, int fd,
		       struct be_package *pkg)
{
	struct be_req *r = m->r;
	struct lp_pkg_policy policy = { 0 };
	struct lp_keyring *ring = NULL;
	struct lp_manifest *man = NULL;
	char keys[BE_PATH_MAX], err[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 16];
	struct lp_diag d;
	int rc;

	lp_diag_clear(&d);
	if (be_store_path(m->s, "keys", keys, sizeof(keys)) < 0 || lp_keyring_new(&ring) < 0) {
		be_reply_error(r, 500, "internal", "cannot load trusted keys");
		return -ENOMEM;
	}
	rc = lp_keyring_load(ring, keys, &d);
	if (rc < 0 || lp_keyring_count(ring) == 0) {
		be_reply_error(r, 422, "no_trusted_keys", "tenant %s has no trusted signing keys"
			       " (loopline-backend tenant add-key)", be_store_tenant(m->s));
		rc = -EBADMSG;
		goto out;
	}
	policy.trusted = ring;
	lseek(fd, 0, SEEK_SET);
	rc = lp_pkg_verify_fd(fd, &policy, &man, &d);
	if (rc < 0) {
		be_reply_error(r, 422, rc == -EKEYREJECTED ? "untrusted_signature" : "invalid_package",
			       "%s: %s", u->filename, lp_diag_format(&d, err, sizeof(err)));
		rc = -EBADMSG;
		goto out;
	}
	snprintf(pkg->name, sizeof(pkg->name), "%s", man->product);
	snprintf(pkg->version, sizeof(pkg->version), "%s", man->version);
	snprintf(pkg->part, sizeof(pkg->part), "os");
	/* A delta package patches one version: the backend offers it to devices running it. */
	for (size_t i = 0; i < man->n_payloads; i++)
		if (man->payloads[i].type == LP_PAYLOAD_DELTA) {
			snprintf(pkg->delta_base, sizeof(pkg->delta_base), "%s",
				 man->payloads[i].delta.base_version);
			lp_hex_encode(man->payloads[i].delta.base_sha256, 32, pkg->delta_base_sha256);
		}
	pkg->manifest = lp_manifest_serialize(man);
out:
	lp_manifest_free(man);
	lp_keyring_free(ring);
	return rc;
}

/* Hashes (and for .lpkg verifies) the finished upload into pkg; replies on failure. A
 * package that fails verification is discarded with its upload. */
static int check_upload(struct be_mgmt *m, const struct be_upload *u, struct be_package *pkg)
{
	int fd, rc = be_store_upload_open(m->s, u, O_RDONLY, &fd);

	if (rc < 0) {
		be_reply_error(m->r, 500, "internal", "upload file is missing");
		return rc;
	}
	rc = hash_file(fd, pkg->sha256, pkg->sha1, pkg->md5);
	if (rc < 0) {
		log_error("%s: upload %s: cannot hash: %s", be_store_tenant(m->s), u->id, strerror(-rc));
		be_reply_error(m->r, 500, "internal", "cannot hash the upload");
	} else if (u->opaque) {
		snprintf(pkg->kind, sizeof(pkg->kind), "opaque");
		snprintf(pkg->name, sizeof(pkg->name), "%s", u->name);
		snprintf(pkg->version, sizeof(pkg->version), "%s", u->version);
		snprintf(pkg->part, sizeof(pkg->part), "%s", u->part);
	} else {
		snprintf(pkg->kind, sizeof(pkg->kind), "lpkg");
		rc = verify_lpkg(m, u, fd, pkg);
		if (rc == -EBADMSG)
			be_store_upload_delete(m->s, u); /* logged by the store if it fails */
	}
	close(fd);
	return rc;
}

static void upload_complete(struct be_mgmt *m, const struct be_upload *u)
{
	struct be_package pkg = { 0 };
	uint64_t got = be_ranges_bytes(u->ranges, u->n_ranges);
	int64_t id;
	int rc;

	if (got != u->size) {
		be_reply_error(m->r, 409, "incomplete", "%llu of %llu bytes received; ask GET"
			       " /api/v1/uploads/%s for the missing ranges",
			       (unsigned long long)got, (unsigned long long)u->size, u->id);
		return;
	}
	if (check_upload(m, u, &pkg) < 0)
		goto out;
	snprintf(pkg.filename, sizeof(pkg.filename), "%s", u->filename);
	pkg.size = u->size;
	rc = be_store_package_add(m->s, u, &pkg, &id);
	if (rc < 0)
		mgmt_store_error(m, rc, "package");
	else
		reply_package(m, id, 201);
out:
	free(pkg.manifest);
}

static int list_upload(void *ctx, const struct be_upload *u)
{
	return mgmt_list_add(ctx, upload_json(u));
}

static void uploads_list(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	char fn[BE_FILENAME_MAX];
	int has_fn, rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	has_fn = be_query(r, "filename", fn, sizeof(fn));
	if (has_fn < 0) {
		be_reply_error(r, 400, "bad_query", "filename too long");
		return;
	}
	l.items = cJSON_CreateArray();
	rc = be_store_uploads_list(m->s, has_fn ? fn : NULL, &p, list_upload, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "uploads");
}

void mgmt_uploads(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	struct be_upload *u;
	int rc;

	if (r->n_seg == 3) {
		if (r->method == EVHTTP_REQ_POST)
			upload_create(m);
		else if (get)
			uploads_list(m);
		else
			be_reply_error(r, 405, "method_not_allowed", "use POST to start an upload");
		return;
	}
	u = malloc(sizeof(*u));
	rc = u ? be_store_upload_get(m->s, r->seg[3], u) : -ENOMEM;
	if (rc < 0)
		mgmt_store_error(m, rc, "upload");
	else if (r->n_seg == 4 && get)
		be_reply_json(r, 200, upload_json(u));
	else if (r->n_seg == 4 && r->method == EVHTTP_REQ_PUT)
		upload_put(m, u);
	else if (r->n_seg == 5 && strcmp(r->seg[4], "complete") == 0 && r->method == EVHTTP_REQ_POST)
		upload_complete(m, u);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
	free(u);
}

static int list_package(void *ctx, const struct be_package *p)
{
	return mgmt_list_add(ctx, package_json(p));
}

void mgmt_packages(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t id, total = 0;
	int rc;

	if (r->n_seg == 4 && get) {
		id = mgmt_id(r->seg[3]);
		if (!id)
			be_reply_error(r, 404, "not_found", "no such package");
		else
			reply_package(m, id, 200);
		return;
	}
	if (r->n_seg != 3 || !get) {
		be_reply_error(r, 404, "not_found", "packages are created through /api/v1/uploads");
		return;
	}
	if (mgmt_paging(m, &p) < 0)
		return;
	l.items = cJSON_CreateArray();
	rc = be_store_packages_list(m->s, &p, list_package, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "packages");
}

/* SPDX-License-Identifier: MIT */
/*
 * Packages: rows with name, version, hashes and the .lpkg manifest, and the
 * content-addressed files packages/<sha256> (identical bytes are stored once).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/log.h"
#include "store-internal.h"

#define PACKAGE_COLS "id, kind, name, version, part, filename, size, sha256, sha1, md5, created," \
	" delta_base, delta_base_sha256"

static const char SQL_GET[] = "SELECT " PACKAGE_COLS " FROM packages WHERE id = ?";
static const char SQL_GET_MANIFEST[] =
	"SELECT " PACKAGE_COLS ", manifest FROM packages WHERE id = ?";
static const char SQL_COUNT[] = "SELECT count(*) FROM packages";
static const char SQL_LIST[] =
	"SELECT " PACKAGE_COLS " FROM packages ORDER BY id DESC LIMIT ? OFFSET ?";
static const char SQL_ADD[] =
	"INSERT INTO packages(kind, name, version, part, filename, size, sha256, sha1, md5,"
	" created, manifest, delta_base, delta_base_sha256) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
	" ?, ?)";

static void package_row(struct sq *q, struct be_package *p)
{
	memset(p, 0, sizeof(*p));
	p->id = sq_int(q, 0);
	sq_copy(q, 1, p->kind, sizeof(p->kind));
	sq_copy(q, 2, p->name, sizeof(p->name));
	sq_copy(q, 3, p->version, sizeof(p->version));
	sq_copy(q, 4, p->part, sizeof(p->part));
	sq_copy(q, 5, p->filename, sizeof(p->filename));
	p->size = (uint64_t)sq_int(q, 6);
	sq_copy(q, 7, p->sha256, sizeof(p->sha256));
	sq_copy(q, 8, p->sha1, sizeof(p->sha1));
	sq_copy(q, 9, p->md5, sizeof(p->md5));
	p->created = sq_int(q, 10);
	sq_copy(q, 11, p->delta_base, sizeof(p->delta_base));
	sq_copy(q, 12, p->delta_base_sha256, sizeof(p->delta_base_sha256));
}

int be_store_package_get(struct be_store *s, int64_t id, bool with_manifest,
			 struct be_package *ret)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, with_manifest ? SQL_GET_MANIFEST : SQL_GET);
	sq_bind_int(&q, 1, id);
	r = sq_step(&q);
	if (r > 0) {
		package_row(&q, ret);
		if (with_manifest && !sq_null(&q, 13) && !(ret->manifest = strdup(sq_text(&q, 13))))
			q.rc = -ENOMEM;
	}
	if (sq_finish(&q) < 0) {
		if (r > 0) {
			free(ret->manifest);
			ret->manifest = NULL;
		}
		return q.rc;
	}
	return r > 0 ? 0 : -ENOENT;
}

struct package_cb {
	int (*cb)(void *ctx, const struct be_package *pkg);
	void *ctx;
};

static int list_row(struct sq *q, void *ctx)
{
	struct package_cb *c = ctx;
	struct be_package pkg;

	package_row(q, &pkg);
	return c->cb(c->ctx, &pkg);
}

int be_store_packages_list(struct be_store *s, const struct be_page *p,
			   int (*cb)(void *ctx, const struct be_package *pkg), void *ctx,
			   int64_t *ret_total)
{
	struct package_cb c = { cb, ctx };

	return store_list(s, SQL_COUNT, SQL_LIST, NULL, NULL, 0, p, list_row, &c, ret_total);
}

static int package_path(struct be_store *s, const char *sha256, char *buf, size_t len)
{
	char sub[96];

	snprintf(sub, sizeof(sub), "packages/%s", sha256);
	return be_store_path(s, sub, buf, len);
}

int be_store_package_open(struct be_store *s, const struct be_package *p, int *ret_fd)
{
	char path[BE_PATH_MAX];
	struct stat st;
	int fd, r = package_path(s, p->sha256, path, sizeof(path));

	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size != p->size) {
		log_error("%s: %s: package file missing or of the wrong size", s->tenant, path);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	*ret_fd = fd;
	return 0;
}

static int add_package(struct be_store *s, const struct be_upload *u,
		       const struct be_package *pkg, int64_t *ret_id)
{
	char from[BE_PATH_MAX], to[BE_PATH_MAX], msg[700];
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_ADD);
	sq_bind_text(&q, 1, pkg->kind);
	sq_bind_text(&q, 2, pkg->name);
	sq_bind_text(&q, 3, pkg->version);
	sq_bind_text(&q, 4, pkg->part);
	sq_bind_text(&q, 5, pkg->filename);
	sq_bind_int(&q, 6, (int64_t)pkg->size);
	sq_bind_text(&q, 7, pkg->sha256);
	sq_bind_text(&q, 8, pkg->sha1);
	sq_bind_text(&q, 9, pkg->md5);
	sq_bind_int(&q, 10, be_now());
	sq_bind_text(&q, 11, pkg->manifest);
	sq_bind_text(&q, 12, pkg->delta_base[0] ? pkg->delta_base : NULL);
	sq_bind_text(&q, 13, pkg->delta_base[0] ? pkg->delta_base_sha256 : NULL);
	if ((r = sq_exec(&q)) < 0)
		return r;
	*ret_id = store_last_rowid(s);
	snprintf(msg, sizeof(msg), "%s %s (%s)", pkg->name, pkg->version, pkg->filename);
	if ((r = store_upload_forget(s, u)) < 0 ||
	    (r = be_store_event(s, "package.created", NULL, 0, msg)) < 0)
		return r;
	/* Last, so a failed insert leaves the upload as it was. Identical bytes may be
	 * there already: the rename replaces them with themselves. */
	if ((r = store_upload_file(s, u, from, sizeof(from))) < 0 ||
	    (r = package_path(s, pkg->sha256, to, sizeof(to))) < 0)
		return r;
	if (rename(from, to) < 0) {
		r = -errno;
		log_error("%s: cannot store the package %s: %s", s->tenant, to, strerror(-r));
	}
	return r;
}

int be_store_package_add(struct be_store *s, const struct be_upload *u,
			 const struct be_package *pkg, int64_t *ret_id)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	return store_end(s, add_package(s, u, pkg, ret_id));
}

/* SPDX-License-Identifier: MIT */
/*
 * Unfinished package uploads: a row (file name, size, the byte ranges received so far)
 * and a sparse file uploads/<id> of the final size that PUTs write into.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopline/log.h"
#include "store-internal.h"

static const char SQL_ADD[] =
	"INSERT INTO uploads(id, filename, size, opaque, version, part, name, created)"
	" VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_GET[] =
	"SELECT id, filename, size, opaque, version, part, name, ranges FROM uploads WHERE id = ?";
static const char SQL_COUNT[] = "SELECT count(*) FROM uploads WHERE ?1 IS NULL OR filename = ?1";
static const char SQL_LIST[] =
	"SELECT id, filename, size, opaque, version, part, name, ranges FROM uploads"
	" WHERE ?1 IS NULL OR filename = ?1 ORDER BY created DESC, id LIMIT ?2 OFFSET ?3";
static const char SQL_SET_RANGES[] = "UPDATE uploads SET ranges = ? WHERE id = ?";
static const char SQL_DELETE[] = "DELETE FROM uploads WHERE id = ?";

static int upload_path(struct be_store *s, const char *id, char *buf, size_t len)
{
	char sub[64];

	snprintf(sub, sizeof(sub), "uploads/%s", id);
	return be_store_path(s, sub, buf, len);
}

/* "[[first,last],…]": sorted, disjoint, inside the upload. */
static int parse_ranges(const char *text, struct be_upload *u)
{
	const char *p = text;

	u->n_ranges = 0;
	if (*p++ != '[')
		return -EINVAL;
	while (*p == '[') {
		unsigned long long a, b;
		int used = 0;

		if (u->n_ranges >= BE_UPLOAD_RANGES_MAX ||
		    sscanf(p, "[%llu,%llu]%n", &a, &b, &used) != 2 || used == 0 || a > b ||
		    b >= u->size || (u->n_ranges && a <= u->ranges[u->n_ranges - 1].last))
			return -EINVAL;
		u->ranges[u->n_ranges].first = a;
		u->ranges[u->n_ranges++].last = b;
		p += used;
		if (*p == ',')
			p++;
	}
	return strcmp(p, "]") == 0 ? 0 : -EINVAL;
}

static char *ranges_text(const struct be_upload *u)
{
	size_t cap = u->n_ranges * 44 + 3, n = 0;
	char *t = malloc(cap);

	if (!t)
		return NULL;
	t[n++] = '[';
	for (size_t i = 0; i < u->n_ranges; i++)
		n += (size_t)snprintf(t + n, cap - n, "%s[%" PRIu64 ",%" PRIu64 "]", i ? "," : "",
				      u->ranges[i].first, u->ranges[i].last);
	snprintf(t + n, cap - n, "]");
	return t;
}

static int upload_row(struct sq *q, struct be_upload *u)
{
	sq_copy(q, 0, u->id, sizeof(u->id));
	sq_copy(q, 1, u->filename, sizeof(u->filename));
	u->size = (uint64_t)sq_int(q, 2);
	u->opaque = sq_int(q, 3) != 0;
	sq_copy(q, 4, u->version, sizeof(u->version));
	sq_copy(q, 5, u->part, sizeof(u->part));
	sq_copy(q, 6, u->name, sizeof(u->name));
	if (parse_ranges(sq_text(q, 7), u) < 0) {
		log_error("%s: upload %s: bad ranges in the database", q->s->tenant, u->id);
		return -EIO;
	}
	return 0;
}

static int create_file(struct be_store *s, const struct be_upload *u, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	int r = 0;

	if (fd < 0 || ftruncate(fd, (off_t)u->size) < 0)
		r = -errno;
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		log_error("%s: %s: %s", s->tenant, path, strerror(-r));
		if (fd >= 0)
			unlink(path);
	}
	return r;
}

int be_store_upload_create(struct be_store *s, struct be_upload *u)
{
	char path[BE_PATH_MAX];
	struct sq q;
	int r;

	u->n_ranges = 0;
	if ((r = be_token_random(u->id)) < 0 || (r = upload_path(s, u->id, path, sizeof(path))) < 0)
		return r;
	if ((r = create_file(s, u, path)) < 0)
		return r;
	sq_prepare(&q, s, SQL_ADD);
	sq_bind_text(&q, 1, u->id);
	sq_bind_text(&q, 2, u->filename);
	sq_bind_int(&q, 3, (int64_t)u->size);
	sq_bind_int(&q, 4, u->opaque);
	sq_bind_text(&q, 5, u->version);
	sq_bind_text(&q, 6, u->part);
	sq_bind_text(&q, 7, u->name);
	sq_bind_int(&q, 8, be_now());
	r = sq_exec(&q);
	if (r < 0)
		unlink(path);
	return r;
}

int be_store_upload_get(struct be_store *s, const char *id, struct be_upload *ret)
{
	struct sq q;
	int r;

	if (strlen(id) != BE_TOKEN_LEN || !be_name_valid(id))
		return -ENOENT;
	sq_prepare(&q, s, SQL_GET);
	sq_bind_text(&q, 1, id);
	r = sq_step(&q);
	if (r > 0 && upload_row(&q, ret) < 0)
		q.rc = -EIO;
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

static void bind_filename(struct sq *q, const void *filename)
{
	sq_bind_text(q, 1, filename);
}

struct upload_cb {
	int (*cb)(void *ctx, const struct be_upload *u);
	void *ctx;
	struct be_upload *u;
};

static int list_row(struct sq *q, void *ctx)
{
	struct upload_cb *c = ctx;
	int r = upload_row(q, c->u);

	return r < 0 ? r : c->cb(c->ctx, c->u);
}

int be_store_uploads_list(struct be_store *s, const char *filename, const struct be_page *p,
			  int (*cb)(void *ctx, const struct be_upload *u), void *ctx,
			  int64_t *ret_total)
{
	struct upload_cb c = { cb, ctx, malloc(sizeof(struct be_upload)) };
	int r;

	if (!c.u)
		return -ENOMEM;
	r = store_list(s, SQL_COUNT, SQL_LIST, bind_filename, filename, 1, p, list_row, &c,
		       ret_total);
	free(c.u);
	return r;
}

int be_store_upload_open(struct be_store *s, const struct be_upload *u, int flags, int *ret_fd)
{
	char path[BE_PATH_MAX];
	int fd, r = upload_path(s, u->id, path, sizeof(path));

	if (r < 0)
		return r;
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error("%s: %s: %s", s->tenant, path, strerror(-r));
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int be_store_upload_set_ranges(struct be_store *s, const struct be_upload *u)
{
	char *text = ranges_text(u);
	struct sq q;
	int r;

	if (!text)
		return -ENOMEM;
	sq_prepare(&q, s, SQL_SET_RANGES);
	sq_bind_text(&q, 1, text);
	sq_bind_text(&q, 2, u->id);
	r = sq_exec(&q);
	free(text);
	return r;
}

/* The row only; the caller has moved or removes the file. */
int store_upload_forget(struct be_store *s, const struct be_upload *u)
{
	struct sq q;

	sq_prepare(&q, s, SQL_DELETE);
	sq_bind_text(&q, 1, u->id);
	return sq_exec(&q);
}

int be_store_upload_delete(struct be_store *s, const struct be_upload *u)
{
	char path[BE_PATH_MAX];
	int r = upload_path(s, u->id, path, sizeof(path));

	if (r == 0 && unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		log_error("%s: %s: %s", s->tenant, path, strerror(-r));
	}
	return store_upload_forget(s, u) < 0 ? -EIO : r;
}

int store_upload_file(struct be_store *s, const struct be_upload *u, char *buf, size_t len)
{
	return upload_path(s, u->id, buf, len);
}

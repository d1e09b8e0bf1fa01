/* SPDX-License-Identifier: MIT */
/*
 * The version repository of `build --repo DIR`: DIR/<product>/<version>.lpkg plus
 * DIR/<product>/index.json listing every package with its security_version. A lock file
 * (flock) serialises builds of one product; the index is rewritten atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/semver.h"
#include "pack.h"

#define REPO_INDEX_MAX (8 * 1024 * 1024)
#define REPO_MAX_ENTRIES 10000

struct repo_entry {
	char version[LP_SEMVER_MAX];
	uint64_t security_version;
	uint64_t size;
	char created[LP_PKG_FIELD_MAX];
};

struct pack_repo {
	char dir[PATH_MAX];   /* DIR/<product> */
	char product[LP_PKG_FIELD_MAX];
	int lock_fd;
	struct repo_entry *entries;
	size_t n;
};

static int load_index(struct pack_repo *r, const char *path, struct lp_diag *diag)
{
	static const struct lp_json_field top[] = {
		{ "product", LP_JSON_STRING, true },
		{ "packages", LP_JSON_ARRAY, true },
	};
	static const struct lp_json_field pkg[] = {
		{ "version", LP_JSON_STRING, true },
		{ "security_version", LP_JSON_INT, true },
		{ "file", LP_JSON_STRING, true },
		{ "size", LP_JSON_INT, true },
		{ "created", LP_JSON_STRING, true },
	};
	cJSON *root = NULL, *it;
	const char *s;
	char p[64];
	size_t i = 0, n;
	int ret;

	ret = lp_json_parse_file(path, REPO_INDEX_MAX, 0, &root, diag);
	if (ret < 0)
		return ret;
	ret = lp_json_check(root, top, LP_ARRAY_SIZE(top), "", diag);
	if (ret < 0)
		goto out;
	n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "packages"));
	if (n > REPO_MAX_ENTRIES) {
		ret = lp_diag_fail_at(diag, -E2BIG, "packages", "more than %d entries",
				      REPO_MAX_ENTRIES);
		goto out;
	}
	r->entries = calloc(n + 1, sizeof(*r->entries));
	if (!r->entries) {
		ret = -ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "packages")) {
		struct repo_entry *e = &r->entries[i];
		int64_t v = 0;

		lp_json_path_index(p, sizeof(p), "packages", i);
		if ((ret = lp_json_check(it, pkg, LP_ARRAY_SIZE(pkg), p, diag)) < 0)
			goto out;
		s = NULL;
		lp_json_get_string(it, "version", true, p, &s, diag);
		if (!s || snprintf(e->version, sizeof(e->version), "%s", s) >= (int)sizeof(e->version)) {
			ret = lp_diag_fail_at(diag, -EINVAL, p, "bad version");
			goto out;
		}
		if ((ret = lp_json_get_int(it, "security_version", true, 0, INT64_MAX, p, &v, diag)) < 0)
			goto out;
		e->security_version = (uint64_t)v;
		if ((ret = lp_json_get_int(it, "size", true, 0, INT64_MAX, p, &v, diag)) < 0)
			goto out;
		e->size = (uint64_t)v;
		s = NULL;
		lp_json_get_string(it, "created", true, p, &s, diag);
		snprintf(e->created, sizeof(e->created), "%s", s ? s : "");
		i++;
	}
	r->n = i;
	ret = 0;
out:
	if (ret < 0)
		lp_diag_set_file(diag, path);
	cJSON_Delete(root);
	return ret;
}

int pack_repo_open(const char *dir, const char *product, struct pack_repo **ret,
		   struct lp_diag *diag)
{
	struct pack_repo *r;
	char path[PATH_MAX + 32];
	int ret_code;

	if (!pack_safe_name(product))
		return lp_diag_fail(diag, -EINVAL, "product '%s' is not usable as a directory name",
				    product);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->lock_fd = -1;
	snprintf(r->product, sizeof(r->product), "%s", product);
	if (lp_fs_path_join(r->dir, sizeof(r->dir), dir, product) < 0 ||
	    lp_fs_path_join(path, sizeof(path), r->dir, ".lock") < 0) {
		ret_code = lp_diag_fail(diag, -ENAMETOOLONG, "%s: path too long", dir);
		goto fail;
	}
	ret_code = lp_fs_mkdir_p(r->dir, 0755);
	if (ret_code < 0) {
		lp_diag_fail(diag, ret_code, "repository %s: %s", r->dir, strerror(-ret_code));
		goto fail;
	}
	r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX) < 0) {
		ret_code = lp_diag_fail(diag, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	lp_fs_path_join(path, sizeof(path), r->dir, "index.json"); /* shorter than .lock's */
	if (access(path, F_OK) == 0) {
		ret_code = load_index(r, path, diag);
		if (ret_code < 0)
			goto fail;
	}
	*ret = r;
	return 0;
fail:
	pack_repo_close(r);
	return ret_code;
}

int pack_repo_package_path(const struct pack_repo *r, const char *version, char *buf, size_t len)
{
	if (!pack_safe_name(version))
		return -EINVAL;
	return snprintf(buf, len, "%s/%s.lpkg", r->dir, version) < (int)len ? 0 : -ENAMETOOLONG;
}

int pack_repo_check(const struct pack_repo *r, const char *version, uint64_t security_version,
		    bool force, struct lp_diag *diag)
{
	char path[PATH_MAX + 64];
	const struct repo_entry *top = NULL;
	int cmp;

	for (size_t i = 0; i < r->n; i++) {
		if (lp_semver_compare_str(r->entries[i].version, version, &cmp) == 0 && cmp == 0 &&
		    !force)
			return lp_diag_fail(diag, -EEXIST,
					    "%s %s is already in the repository %s (use --force to "
					    "replace it)", r->product, version, r->dir);
		if (!top || r->entries[i].security_version > top->security_version)
			top = &r->entries[i];
	}
	if (!force && pack_repo_package_path(r, version, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0)
		return lp_diag_fail(diag, -EEXIST, "%s exists (use --force to replace it)", path);
	if (top && security_version < top->security_version && !force)
		return lp_diag_fail(diag, -EPERM,
				    "security_version %llu is lower than %llu of %s %s in the "
				    "repository (use --force to build anyway)",
				    (unsigned long long)security_version,
				    (unsigned long long)top->security_version, r->product,
				    top->version);
	return 0;
}

/* Rewrites index.json atomically (lp_fs_write_atomic: temp file, fsync, rename, directory
 * fsync), so a crash leaves the old or the new index. */
static int write_index(const struct pack_repo *r, struct lp_diag *diag)
{
	char path[PATH_MAX + 32];
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *list;
	char *text = NULL, *file_text = NULL;
	int ret = -ENOMEM;

	if (!root || !arr)
		goto out;
	cJSON_AddItemToObject(root, "product", cJSON_CreateString(r->product));
	cJSON_AddItemToObject(root, "packages", arr);
	list = arr;
	arr = NULL; /* owned by root now */
	for (size_t i = 0; i < r->n; i++) {
		const struct repo_entry *e = &r->entries[i];
		cJSON *o = cJSON_CreateObject();
		char file[LP_SEMVER_MAX + 8];

		if (!o)
			goto out;
		snprintf(file, sizeof(file), "%s.lpkg", e->version);
		cJSON_AddItemToArray(list, o);
		cJSON_AddStringToObject(o, "version", e->version);
		cJSON_AddNumberToObject(o, "security_version", (double)e->security_version);
		cJSON_AddStringToObject(o, "file", file);
		cJSON_AddNumberToObject(o, "size", (double)e->size);
		cJSON_AddStringToObject(o, "created", e->created);
	}
	text = cJSON_Print(root);
	if (!text || asprintf(&file_text, "%s\n", text) < 0) {
		file_text = NULL;
		goto out;
	}
	ret = lp_fs_path_join(path, sizeof(path), r->dir, "index.json");
	if (ret == 0)
		ret = lp_fs_write_atomic(path, file_text, strlen(file_text), 0644, 0);
	if (ret < 0)
		lp_diag_fail(diag, ret, "%s/index.json: %s", r->dir, strerror(-ret));
out:
	free(text);
	free(file_text);
	cJSON_Delete(arr);
	cJSON_Delete(root);
	return ret;
}

int pack_repo_add(struct pack_repo *r, const struct lp_manifest *m, uint64_t file_size,
		  struct lp_diag *diag)
{
	struct repo_entry *e = NULL, *grown;
	int cmp;

	for (size_t i = 0; i < r->n; i++)
		if (lp_semver_compare_str(r->entries[i].version, m->version, &cmp) == 0 && cmp == 0)
			e = &r->entries[i];
	if (!e) {
		grown = realloc(r->entries, (r->n + 1) * sizeof(*r->entries));
		if (!grown)
			return -ENOMEM;
		r->entries = grown;
		e = &r->entries[r->n++];
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->version, sizeof(e->version), "%s", m->version);
	e->security_version = m->security_version;
	e->size = file_size;
	snprintf(e->created, sizeof(e->created), "%s", m->created);
	return write_index(r, diag);
}

void pack_repo_close(struct pack_repo *r)
{
	if (!r)
		return;
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->entries);
	free(r);
}

int pack_repo_bases(const struct pack_repo *r, const char *version, size_t n,
		    char (*ret_versions)[LP_SEMVER_MAX], size_t *ret_n)
{
	size_t got = 0;
	int cmp;

	/* n passes over at most REPO_MAX_ENTRIES entries: pick the highest lower one each time */
	while (got < n) {
		const char *best = NULL;

		for (size_t i = 0; i < r->n; i++) {
			const char *v = r->entries[i].version;

			if (lp_semver_compare_str(v, version, &cmp) < 0 || cmp >= 0)
				continue;
			if (got && (lp_semver_compare_str(v, ret_versions[got - 1], &cmp) < 0 || cmp >= 0))
				continue;
			if (best && (lp_semver_compare_str(v, best, &cmp) < 0 || cmp <= 0))
				continue;
			best = v;
		}
		if (!best)
			break;
		snprintf(ret_versions[got++], LP_SEMVER_MAX, "%s", best);
	}
	*ret_n = got;
	return 0;
}

int pack_repo_delta_path(const struct pack_repo *r, const char *from, const char *to, char *buf,
			 size_t len)
{
	char dir[PATH_MAX + 64];
	int ret;

	if (!pack_safe_name(from) || !pack_safe_name(to))
		return -EINVAL;
	if (snprintf(dir, sizeof(dir), "%s/deltas/%s", r->dir, to) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	ret = lp_fs_mkdir_p(dir, 0755);
	if (ret < 0)
		return ret;
	return snprintf(buf, len, "%s/%s.lpkg", dir, from) < (int)len ? 0 : -ENAMETOOLONG;
}

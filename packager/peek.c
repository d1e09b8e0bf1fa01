/* SPDX-License-Identifier: MIT */
/*
 * Reads a package's manifest.json and manifest.sig without verifying anything, for
 * `inspect` and `list-keys`. package.h's reader always verifies signatures first, so this
 * reads the first two tar members with the library's tar reader (bounded sizes) and
 * parses them with the library's strict manifest parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/json.h"
#include "loopline/tar.h"
#include "pack.h"

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int read_member(struct lp_tar_reader *t, const char *want, size_t max, char **ret_buf,
		       size_t *ret_len, struct lp_diag *diag)
{
	struct lp_tar_entry e;
	char *buf;
	size_t got = 0;
	int r;

	r = lp_tar_reader_next(t, &e, diag);
	if (r < 0)
		return r;
	if (r == 0)
		return lp_diag_fail(diag, -EBADMSG, "archive ends before %s", want);
	if (strcmp(e.name, want) != 0)
		return lp_diag_fail(diag, -EBADMSG, "expected member %s first, found %s", want,
				    e.name);
	if (e.size > max)
		return lp_diag_fail(diag, -E2BIG, "%s is %llu bytes (limit %zu)", want,
				    (unsigned long long)e.size, max);
	buf = malloc((size_t)e.size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < (size_t)e.size) {
		ssize_t n = lp_tar_reader_read(t, buf + got, (size_t)e.size - got, diag);

		if (n <= 0) {
			free(buf);
			return n < 0 ? (int)n : lp_diag_fail(diag, -EBADMSG, "%s is truncated", want);
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret_buf = buf;
	*ret_len = got;
	return 0;
}

static bool is_hex16(const char *s)
{
	if (strlen(s) != LP_KEYID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static int parse_sigs(const char *text, size_t len, struct pack_peek *p, struct lp_diag *diag)
{
	static const struct lp_json_field top[] = { { "signatures", LP_JSON_ARRAY, true } };
	static const struct lp_json_field sig[] = {
		{ "keyid", LP_JSON_STRING, true },
		{ "alg", LP_JSON_STRING, true },
		{ "sig", LP_JSON_STRING, true },
	};
	cJSON *root = NULL, *arr, *it;
	char path[64];
	size_t i = 0;
	int r;

	lp_diag_set_file(diag, "manifest.sig");
	r = lp_json_parse(text, len, LP_PKG_SIG_MAX, 4, &root, diag);
	if (r < 0)
		return r == -EINVAL ? -EBADMSG : r;
	r = lp_json_check(root, top, LP_ARRAY_SIZE(top), "", diag);
	if (r < 0)
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(root, "signatures");
	cJSON_ArrayForEach(it, arr) {
		const char *keyid = NULL, *alg = NULL;

		lp_json_path_index(path, sizeof(path), "signatures", i);
		if (i >= LP_PKG_MAX_SIGNATURES) {
			r = lp_diag_fail_at(diag, -E2BIG, path, "more than %d signatures",
					    LP_PKG_MAX_SIGNATURES);
			goto out;
		}
		r = lp_json_check(it, sig, LP_ARRAY_SIZE(sig), path, diag);
		if (r < 0)
			goto out;
		lp_json_get_string(it, "keyid", true, path, &keyid, diag);
		lp_json_get_string(it, "alg", true, path, &alg, diag);
		if (!keyid || !is_hex16(keyid)) {
			r = lp_diag_fail_at(diag, -EBADMSG, path, "keyid is not 16 hex digits");
			goto out;
		}
		snprintf(p->keyids[i], sizeof(p->keyids[i]), "%s", keyid);
		snprintf(p->algs[i], sizeof(p->algs[i]), "%s", alg ? alg : "");
		i++;
	}
	p->n_sigs = i;
	lp_diag_clear(diag);
	r = 0;
out:
	if (r == -EINVAL)
		r = -EBADMSG;
	cJSON_Delete(root);
	return r;
}

int pack_peek_file(const char *path, struct pack_peek *ret, struct lp_diag *diag)
{
	struct lp_tar_reader *t = NULL;
	struct stat st;
	char *manifest = NULL, *sig = NULL;
	size_t manifest_len = 0, sig_len = 0;
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = lp_diag_fail(diag, -EINVAL, "not a regular file");
		goto out;
	}
	ret->file_size = (uint64_t)st.st_size;
	r = lp_tar_reader_new(fd_read, &fd, &t);
	if (r < 0)
		goto out;
	r = read_member(t, "manifest.json", LP_PKG_MANIFEST_MAX, &manifest, &manifest_len, diag);
	if (r < 0)
		goto out;
	r = read_member(t, "manifest.sig", LP_PKG_SIG_MAX, &sig, &sig_len, diag);
	if (r < 0)
		goto out;
	r = lp_manifest_parse(manifest, manifest_len, &ret->manifest, diag);
	if (r < 0) {
		lp_diag_set_file(diag, "manifest.json");
		if (r == -EINVAL)
			r = -EBADMSG;
		goto out;
	}
	r = parse_sigs(sig, sig_len, ret, diag);
out:
	if (r < 0)
		pack_peek_clear(ret);
	lp_tar_reader_free(t);
	free(manifest);
	free(sig);
	close(fd);
	return r;
}

void pack_peek_clear(struct pack_peek *p)
{
	if (!p)
		return;
	lp_manifest_free(p->manifest);
	memset(p, 0, sizeof(*p));
}

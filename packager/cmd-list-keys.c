/* SPDX-License-Identifier: MIT */
/* loopline-pack list-keys: key ids of key files, key directories and packages. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/log.h"
#include "loopline/sign.h"
#include "pack.h"

const struct lp_cli_opt pack_list_keys_opts[] = {
	{ 0 },
};

const char pack_list_keys_about[] =
	"For each PEM key file, or each *.pem file in a directory: its key id and whether it is\n"
	"a private or a public key. For a .lpkg package: the key ids of its signatures (not\n"
	"verified); a file that is not PEM text is read as a package. A path that cannot be\n"
	"read is reported and makes the exit code 1; the others are still listed.";

struct lister {
	bool json;
	cJSON *array;
	int failed;
};

static void emit(struct lister *l, const char *path, const char *keyid, const char *kind)
{
	if (l->json) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return;
		cJSON_AddStringToObject(o, "path", path);
		cJSON_AddStringToObject(o, "keyid", keyid);
		cJSON_AddStringToObject(o, "kind", kind);
		cJSON_AddItemToArray(l->array, o);
	} else {
		printf("%-16s  %-9s  %s\n", keyid, kind, path);
	}
}

static void list_key(struct lister *l, const char *path)
{
	struct lp_key *key = NULL;
	struct lp_diag diag;
	char keyid[LP_KEYID_LEN + 1];
	int r;

	lp_diag_clear(&diag);
	r = lp_key_load_private(path, &key, NULL);
	if (r < 0)
		r = lp_key_load_public(path, &key, &diag);
	if (r < 0) {
		if (!diag.file[0])
			lp_diag_set_file(&diag, path);
		lp_cli_fail(r, &diag, "key");
		l->failed = 1;
		return;
	}
	lp_key_id(key, keyid);
	emit(l, path, keyid, lp_key_is_private(key) ? "private" : "public");
	lp_key_free(key);
}

static void list_package(struct lister *l, const char *path)
{
	struct pack_peek peek;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = pack_peek_file(path, &peek, &diag);
	if (r < 0) {
		lp_cli_fail(r, &diag, path);
		l->failed = 1;
		return;
	}
	for (size_t i = 0; i < peek.n_sigs; i++)
		emit(l, path, peek.keyids[i], "signature");
	pack_peek_clear(&peek);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A package is a tar archive; a key file is PEM text. Names decide when they can. */
static bool looks_like_package(const char *path)
{
	char head[16] = "";
	ssize_t n;
	int fd;

	if (ends_with(path, ".lpkg"))
		return true;
	if (ends_with(path, ".pem"))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	return n > 0 && strncmp(head, "-----BEGIN", 10) != 0;
}

static void list_dir(struct lister *l, const char *dir)
{
	char **names = NULL, path[PATH_MAX];
	size_t n = 0;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = pack_dir_list(dir, &names, &n, &diag);
	if (r < 0) {
		lp_cli_fail(r, &diag, dir);
		l->failed = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!ends_with(names[i], ".pem"))
			continue;
		if (lp_fs_path_join(path, sizeof(path), dir, names[i]) < 0)
			continue;
		list_key(l, path);
	}
	pack_dir_list_free(names, n);
}

int pack_cmd_list_keys(struct lp_cli *cli, void *ctx)
{
	struct lister l = { .json = cli->json };
	struct stat st;

	if (l.json) {
		l.array = cJSON_CreateArray();
		if (!l.array)
			return lp_cli_fail(-ENOMEM, NULL, "output");
	}
	for (int i = 0; i < cli->n_args; i++) {
		const char *path = cli->args[i];

		if (stat(path, &st) < 0) {
			log_error("%s: %s", path, strerror(errno));
			l.failed = 1;
		} else if (S_ISDIR(st.st_mode)) {
			list_dir(&l, path);
		} else if (looks_like_package(path)) {
			list_package(&l, path);
		} else {
			list_key(&l, path);
		}
	}
	if (l.json) {
		if (pack_print_json(l.array) < 0)
			l.failed = 1;
		cJSON_Delete(l.array);
	}
	/* documented: any path that failed makes it 1, whatever the reason */
	return l.failed ? LP_EXIT_FAILURE : LP_EXIT_OK;
}

/* SPDX-License-Identifier: MIT */
/* Tenants, their trusted keys, API tokens, the gateway token and device registration. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/log.h"
#include "loopline/sign.h"
#include "backend.h"

int be_tenant_create(const char *data_dir, const char *name)
{
	struct be_store *s = NULL;
	int r;

	if (!be_name_valid(name))
		return -EINVAL;
	if (be_store_exists(data_dir, name))
		return -EEXIST;
	r = be_store_open(data_dir, name, true, &s);
	if (r < 0)
		return r;
	r = be_store_event(s, "tenant.created", NULL, 0, name);
	be_store_close(s);
	return r;
}

int be_tenant_add_key(const char *data_dir, const char *name, const char *pem_path,
		      char ret_keyid[17], struct lp_diag *diag)
{
	struct be_store *s = NULL;
	struct lp_key *key = NULL;
	char path[BE_PATH_MAX], sub[64], keyid[LP_KEYID_LEN + 1];
	int r;

	r = be_store_open(data_dir, name, false, &s);
	if (r < 0)
		return r;
	r = lp_key_load_public(pem_path, &key, diag);
	if (r < 0)
		goto out;
	lp_key_id(key, keyid);
	snprintf(sub, sizeof(sub), "keys/%s.pem", keyid);
	if ((r = be_store_path(s, sub, path, sizeof(path))) < 0)
		goto out;
	r = lp_key_save_public(key, path, false);
	if (r < 0) {
		lp_diag_fail(diag, r, "%s: %s", path,
			     r == -EEXIST ? "this key is already trusted" : strerror(-r));
		goto out;
	}
	snprintf(ret_keyid, LP_KEYID_LEN + 1, "%s", keyid);
	r = be_store_event(s, "tenant.key_added", NULL, 0, keyid);
out:
	lp_key_free(key);
	be_store_close(s);
	return r;
}

int be_tenant_gateway_token(const char *data_dir, const char *name, char ret_token[BE_TOKEN_LEN + 1])
{
	struct be_store *s = NULL;
	char hash[BE_HASH_HEX];
	int r;

	r = be_store_open(data_dir, name, false, &s);
	if (r < 0)
		return r;
	if ((r = be_token_random(ret_token)) == 0 &&
	    (r = be_token_hash(ret_token, strlen(ret_token), hash)) == 0)
		r = be_store_gateway_set(s, hash);
	be_store_close(s);
	return r;
}

int be_token_create(const char *data_dir, const char *tenant, enum be_role role, const char *label,
		    char *ret_token, size_t len)
{
	struct be_store *s = NULL;
	char secret[BE_TOKEN_LEN + 1], hash[BE_HASH_HEX];
	int r, n;

	n = snprintf(ret_token, len, "%s.", tenant);
	if (n < 0 || (size_t)n + BE_TOKEN_LEN >= len)
		return -ENOBUFS;
	r = be_store_open(data_dir, tenant, false, &s);
	if (r < 0)
		return r;
	if ((r = be_token_random(secret)) == 0 &&
	    (r = be_token_hash(secret, strlen(secret), hash)) == 0 &&
	    (r = be_store_token_add(s, hash, role, label)) == 0)
		snprintf(ret_token, len, "%s.%s", tenant, secret);
	be_store_close(s);
	return r;
}

int be_device_create(struct be_store *s, const char *controller_id, bool rotate,
		     const char *const *tags, size_t n_tags, char ret_token[BE_TOKEN_LEN + 1])
{
	char hash[BE_HASH_HEX];
	int r;

	if (!be_controller_id_valid(controller_id))
		return -EINVAL;
	if ((r = be_token_random(ret_token)) < 0 ||
	    (r = be_token_hash(ret_token, strlen(ret_token), hash)) < 0)
		return r;
	return be_store_device_create(s, controller_id, hash, rotate, tags, n_tags);
}

int be_device_create_with_token(struct be_store *s, const char *controller_id, bool rotate,
				const char *token)
{
	char hash[BE_HASH_HEX];
	size_t n = strlen(token);
	int r;

	if (!be_controller_id_valid(controller_id))
		return -EINVAL;
	/* the shape of the tokens the backend makes: as hard to guess, and valid in headers */
	if (n != BE_TOKEN_LEN || strspn(token, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
		return -EBADMSG;
	if ((r = be_token_hash(token, n, hash)) < 0)
		return r;
	return be_store_device_create(s, controller_id, hash, rotate, NULL, 0);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int be_tenant_list(const char *data_dir, char (*names)[BE_NAME_MAX], size_t max, size_t *ret_n)
{
	char p[BE_PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/tenants", data_dir);
	d = opendir(p);
	if (!d) {
		*ret_n = 0;
		return errno == ENOENT ? 0 : -errno;
	}
	while ((de = readdir(d)) && n < max) {
		if (be_name_valid(de->d_name) && be_store_exists(data_dir, de->d_name))
			memcpy(names[n++], de->d_name, strlen(de->d_name) + 1); /* valid => short */
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	*ret_n = n;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* API tokens (hash, role, label) and the tenant's DDI gateway token (a hash in settings). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

static const char SQL_TOKEN_ADD[] =
	"INSERT INTO tokens(hash, role, label, created) VALUES(?, ?, ?, ?)";
static const char SQL_TOKEN_ROLE[] = "SELECT role FROM tokens WHERE hash = ?";
static const char SQL_GATEWAY_SET[] =
	"INSERT OR REPLACE INTO settings(key, value) VALUES('gateway_token_hash', ?)";
static const char SQL_GATEWAY_GET[] =
	"SELECT value FROM settings WHERE key = 'gateway_token_hash'";

int be_store_token_add(struct be_store *s, const char *hash, enum be_role role, const char *label)
{
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_TOKEN_ADD);
	sq_bind_text(&q, 1, hash);
	sq_bind_text(&q, 2, be_role_name(role));
	sq_bind_text(&q, 3, label ? label : "");
	sq_bind_int(&q, 4, be_now());
	r = sq_exec(&q);
	if (r == 0)
		r = be_store_event(s, "token.created", NULL, 0, be_role_name(role));
	return store_end(s, r);
}

int be_store_token_role(struct be_store *s, const char *hash, enum be_role *ret)
{
	struct sq q;
	enum be_role role = BE_ROLE_VIEWER;
	int r;

	sq_prepare(&q, s, SQL_TOKEN_ROLE);
	sq_bind_text(&q, 1, hash);
	r = sq_step(&q);
	if (r > 0 && be_role_parse(sq_text(&q, 0), &role) < 0)
		r = 0; /* an unknown role grants nothing */
	if (sq_finish(&q) < 0)
		return q.rc;
	if (r <= 0)
		return -ENOENT;
	*ret = role;
	return 0;
}

int be_store_gateway_set(struct be_store *s, const char *hash)
{
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_GATEWAY_SET);
	sq_bind_text(&q, 1, hash);
	r = sq_exec(&q);
	if (r == 0)
		r = be_store_event(s, "tenant.gateway_token", NULL, 0, "gateway token set");
	return store_end(s, r);
}

int be_store_gateway_hash(struct be_store *s, char ret[BE_HASH_HEX])
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_GATEWAY_GET);
	r = sq_step(&q);
	if (r > 0)
		sq_copy(&q, 0, ret, BE_HASH_HEX);
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

static const char SQL_TOKEN_WHO[] = "SELECT id, label FROM tokens WHERE hash = ?";
static const char SQL_APPROVAL_SET[] =
	"INSERT OR REPLACE INTO settings(key, value) VALUES('approval', ?)";
static const char SQL_APPROVAL_GET[] = "SELECT value FROM settings WHERE key = 'approval'";

int be_store_token_who(struct be_store *s, const char *hash, char *buf, size_t len)
{
	struct sq q;
	int r;

	sq_prepare(&q, s, SQL_TOKEN_WHO);
	sq_bind_text(&q, 1, hash);
	if ((r = sq_step(&q)) > 0) {
		if (sq_text(&q, 1)[0])
			snprintf(buf, len, "%s", sq_text(&q, 1));
		else
			snprintf(buf, len, "token-%lld", (long long)sq_int(&q, 0));
	}
	if (sq_finish(&q) < 0)
		return q.rc;
	return r > 0 ? 0 : -ENOENT;
}

int be_store_approval_set(struct be_store *s, bool operator)
{
	struct sq q;
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_APPROVAL_SET);
	sq_bind_text(&q, 1, operator ? "operator" : "auto");
	if ((r = sq_exec(&q)) == 0)
		r = be_store_event(s, "tenant.approval", NULL, 0, operator ? "operator" : "auto");
	return store_end(s, r);
}

int be_store_approval_operator(struct be_store *s, bool *ret)
{
	struct sq q;
	int r;

	*ret = true; /* the default: a person approves */
	sq_prepare(&q, s, SQL_APPROVAL_GET);
	if ((r = sq_step(&q)) > 0)
		*ret = strcmp(sq_text(&q, 0), "auto") != 0;
	return sq_finish(&q);
}

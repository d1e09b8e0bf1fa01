/* SPDX-License-Identifier: MIT */
/*
 * hawkBit DDI v1 device API under /{tenant}/controller/v1/{controllerId}
 * (reference/ddi-v1.md): authentication (target token, gateway token, client
 * certificate), registration on a first poll and routing to the resources.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "loopline/hash.h"
#include "loopline/json.h"
#include "ddi.h"
#include "tls.h"

void ddi_error(struct be_req *r, int status, const char *code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "exceptionClass", "org.loopline.backend.DdiException");
	cJSON_AddStringToObject(o, "errorCode", code);
	cJSON_AddStringToObject(o, "message", msg);
	be_reply_json(r, status, o);
}

void ddi_internal(struct be_req *r, const char *what)
{
	ddi_error(r, 500, "hawkbit.server.error.internal", what);
}

int ddi_action(struct ddi *d, const char *id, struct be_action *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(id, &end, 10);
	if (errno || *end || v <= 0)
		return -ENOENT;
	return be_store_action_get(d->s, d->dev.id, v, ret);
}

static bool hex_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && lp_hash_equal((const uint8_t *)a, (const uint8_t *)b, n);
}

static int check_token(const char *secret, const char *stored)
{
	char hash[BE_HASH_HEX];

	if (!stored[0] || be_token_hash(secret, strlen(secret), hash) < 0)
		return -EACCES;
	return hex_equal(hash, stored) ? 0 : -EACCES;
}

/* 0 if authenticated, -EACCES if not, another error if the store failed. Fills d->dev
 * (id 0 when the device does not exist). */
static int ddi_auth(struct ddi *d)
{
	struct be_req *r = d->r;
	const char *auth = be_header(r, "Authorization");
	char cn[BE_ID_MAX + 1], gateway[BE_HASH_HEX];
	int c, rc;

	memset(&d->dev, 0, sizeof(d->dev));
	rc = be_store_device_auth(d->s, d->cid, &d->dev);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (r->tls) {
		c = be_tls_peer_cn(r->req, cn, sizeof(cn));
		if (c < 0)
			return -EACCES;
		if (c > 0)
			return strcmp(cn, d->cid) == 0 ? 0 : -EACCES;
	}
	if (!auth)
		return -EACCES;
	if (strncmp(auth, "TargetToken ", 12) == 0)
		return d->dev.id ? check_token(auth + 12, d->dev.token_hash) : -EACCES;
	if (strncmp(auth, "GatewayToken ", 13) == 0) {
		rc = be_store_gateway_hash(d->s, gateway);
		if (rc < 0)
			return rc == -ENOENT ? -EACCES : rc;
		return check_token(auth + 13, gateway);
	}
	return -EACCES;
}

static void reply_auth_error(struct be_req *r, int rc)
{
	if (rc == -EACCES)
		be_reply_empty(r, 401);
	else
		ddi_internal(r, "cannot read the device");
}

/* The root resource. Its reads share one read transaction (one WAL lock, not four). */
static void ddi_root(struct ddi *d)
{
	struct be_req *r = d->r;
	int rc;

	be_store_read_begin(d->s);
	rc = ddi_auth(d);
	if (rc == 0 && d->dev.id) {
		be_base_url(r, r->tls, d->base, sizeof(d->base));
		ddi_poll(d);
	}
	be_store_read_end(d->s);
	if (rc < 0) {
		reply_auth_error(r, rc);
		return;
	}
	if (d->lapsed.id)
		ddi_cancel_lapsed(d);
	if (r->status)
		return;
	/* A gateway token or a certificate vouched for a device we do not know yet. */
	be_base_url(r, r->tls, d->base, sizeof(d->base));
	rc = be_store_device_register(d->s, d->cid, &d->dev.id);
	if (rc < 0) {
		ddi_internal(r, "cannot register device");
		return;
	}
	d->dev.request_attributes = true;
	ddi_poll(d);
}

static bool is(const char *seg, const char *name)
{
	return strcmp(seg, name) == 0;
}

static void ddi_route(struct ddi *d, char **seg, size_t n)
{
	int m = d->r->method;
	bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
	bool post = m == EVHTTP_REQ_POST, put = m == EVHTTP_REQ_PUT;

	if (n == 2 && get && is(seg[0], "deploymentBase"))
		ddi_deployment_base(d, seg[1]);
	else if (n == 3 && post && is(seg[0], "deploymentBase") && is(seg[2], "feedback"))
		ddi_feedback(d, seg[1], false);
	else if (n == 1 && put && is(seg[0], "configData"))
		ddi_config_data(d);
	else if (n == 2 && get && is(seg[0], "cancelAction"))
		ddi_cancel_action(d, seg[1]);
	else if (n == 3 && post && is(seg[0], "cancelAction") && is(seg[2], "feedback"))
		ddi_feedback(d, seg[1], true);
	else if (n == 2 && get && is(seg[0], "installedBase"))
		ddi_installed_base(d, seg[1]);
	else if (n == 1 && put && is(seg[0], "installedBase"))
		ddi_put_installed(d);
	else if (n >= 3 && get && is(seg[0], "softwaremodules"))
		ddi_modules(d, seg + 1, n - 1);
	else
		ddi_error(d->r, 404, "hawkbit.server.error.rest.notFound", "no such resource");
}

void be_ddi_handle(struct be_req *r)
{
	struct ddi d = { .r = r };
	size_t n = r->n_seg - 4;
	int rc;

	d.tenant = r->seg[0];
	d.cid = r->seg[3];
	if (!be_name_valid(d.tenant) || !be_controller_id_valid(d.cid)) {
		be_reply_empty(r, 404);
		return;
	}
	d.s = be_worker_store(r->w, d.tenant);
	if (!d.s) {
		be_reply_empty(r, 401); /* unknown tenants look like bad credentials */
		return;
	}
	if (n == 0 && (r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD)) {
		ddi_root(&d);
		return;
	}
	if ((rc = ddi_auth(&d)) < 0) {
		reply_auth_error(r, rc);
		return;
	}
	if (!d.dev.id) {
		ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "unknown device");
		return;
	}
	be_base_url(r, r->tls, d.base, sizeof(d.base));
	ddi_route(&d, r->seg + 4, n);
}

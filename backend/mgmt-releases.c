/* SPDX-License-Identifier: MIT */
/*
 * /api/v1/releases (docs/api.md, "Releases"; docs/rollouts.md):
 *   POST /releases                    {"version", "packages": [ids]}       ci, operator
 *   GET  /releases, /releases/V
 *   POST /releases/V/gate             loopline-matrix gate's document       ci, operator
 *   POST /releases/V/approve          {"override_reason"?}                  operator
 * A release whose gate passed waits for an operator's approval, or is approved at once
 * when the tenant's approval is "auto"; one whose gate failed or never ran is approved
 * only with an override reason, which is recorded with who approved and when.
 */
#include <errno.h>
#include <string.h>
#include <event2/http.h>

#include "mgmt.h"

static cJSON *release_json(const struct be_release *rel)
{
	cJSON *o = cJSON_CreateObject(), *pk, *g;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)rel->id);
	cJSON_AddStringToObject(o, "version", rel->version);
	cJSON_AddStringToObject(o, "state", rel->state);
	cJSON_AddNumberToObject(o, "created", (double)rel->created);
	cJSON_AddNumberToObject(o, "updated", (double)rel->updated);
	pk = cJSON_AddArrayToObject(o, "packages");
	for (size_t i = 0; pk && i < rel->n_packages; i++)
		cJSON_AddItemToArray(pk, cJSON_CreateNumber((double)rel->packages[i]));
	if (rel->has_gate && (g = cJSON_AddObjectToObject(o, "gate"))) {
		cJSON_AddStringToObject(g, "decision", rel->gate.decision);
		cJSON_AddNumberToObject(g, "run", (double)rel->gate.run);
		cJSON_AddStringToObject(g, "summary", rel->gate.summary);
		cJSON_AddStringToObject(g, "spec_sha256", rel->gate.spec_sha256);
		cJSON_AddStringToObject(g, "report", rel->gate.report);
		cJSON_AddNumberToObject(g, "passed", (double)rel->gate.passed);
		cJSON_AddNumberToObject(g, "failed", (double)rel->gate.failed);
		cJSON_AddNumberToObject(g, "time", (double)rel->gate_time);
	} else {
		cJSON_AddNullToObject(o, "gate");
	}
	if (rel->approved_by[0] && (g = cJSON_AddObjectToObject(o, "approval"))) {
		cJSON_AddStringToObject(g, "by", rel->approved_by);
		cJSON_AddNumberToObject(g, "time", (double)rel->approved_time);
		if (rel->override_reason[0])
			cJSON_AddStringToObject(g, "override_reason", rel->override_reason);
		else
			cJSON_AddNullToObject(g, "override_reason");
	} else {
		cJSON_AddNullToObject(o, "approval");
	}
	return o;
}

static void reply_release(struct be_mgmt *m, int status, const struct be_release *rel)
{
	cJSON *o = release_json(rel);

	if (!o)
		mgmt_store_error(m, -ENOMEM, "release");
	else
		be_reply_json(m->r, status, o);
}

static int list_cb(void *ctx, const struct be_release *rel)
{
	return mgmt_list_add(ctx, release_json(rel));
}

static void releases_list(struct be_mgmt *m)
{
	struct mgmt_list l = { .m = m };
	struct be_page p;
	int64_t total = 0;
	int rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	l.items = cJSON_CreateArray();
	rc = be_store_releases_list(m->s, &p, list_cb, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "releases");
}

static void release_create(struct be_mgmt *m)
{
	struct be_release_req q;
	struct be_release rel;
	int rc;

	if (mgmt_body(m, (mgmt_parser)be_release_req_parse, &q) < 0)
		return;
	rc = be_store_release_create(m->s, q.version, q.packages, q.n_packages, &rel);
	if (rc == -EEXIST)
		be_reply_error(m->r, 409, "exists", "release %s exists", q.version);
	else if (rc == -ENOENT)
		be_reply_error(m->r, 400, "bad_request", "packages: a package id does not exist");
	else if (rc < 0)
		mgmt_store_error(m, rc, "release");
	else
		reply_release(m, 201, &rel);
}

static void release_gate(struct be_mgmt *m, const char *version)
{
	struct be_gate_result g;
	struct be_release rel;
	bool operator = true;
	int rc;

	if (mgmt_body(m, (mgmt_parser)be_gate_result_parse, &g) < 0)
		return;
	if ((rc = be_store_approval_operator(m->s, &operator)) == 0)
		rc = be_store_release_gate(m->s, version, &g, !operator, &rel);
	if (rc == -EALREADY)
		be_reply_error(m->r, 409, "conflict", "release %s is approved already: its gate "
			       "result can no longer change", version);
	else if (rc < 0)
		mgmt_store_error(m, rc, "release");
	else
		reply_release(m, 200, &rel);
}

static void release_approve(struct be_mgmt *m, const char *version)
{
	struct be_approve_req q;
	struct be_release rel;
	char who[BE_TEXT_MAX] = "";
	int rc;

	if (m->role < BE_ROLE_OPERATOR) {
		be_reply_error(m->r, 403, "forbidden", "approving a release needs the operator role");
		return;
	}
	if (mgmt_body(m, (mgmt_parser)be_approve_req_parse, &q) < 0)
		return;
	if ((rc = be_store_token_who(m->s, m->token_hash, who, sizeof(who))) == 0)
		rc = be_store_release_approve(m->s, version, who, q.override_reason, &rel);
	if (rc == -EPERM)
		be_reply_error(m->r, 409, "gate_not_passed", "release %s: its gate did not pass "
			       "(or never ran); approving it needs an override_reason", version);
	else if (rc == -EALREADY)
		be_reply_error(m->r, 409, "conflict", "release %s is approved already", version);
	else if (rc < 0)
		mgmt_store_error(m, rc, "release");
	else
		reply_release(m, 200, &rel);
}

void mgmt_releases(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	bool get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	bool post = r->method == EVHTTP_REQ_POST;
	const char *v = r->n_seg >= 4 ? r->seg[3] : NULL;
	struct be_release rel;
	int rc;

	if (v && !be_release_version_valid(v)) {
		be_reply_error(r, 404, "not_found", "no such release");
		return;
	}
	if (r->n_seg == 3 && get) {
		releases_list(m);
	} else if (r->n_seg == 3 && post) {
		release_create(m);
	} else if (r->n_seg == 4 && get) {
		if ((rc = be_store_release_get(m->s, v, &rel)) < 0)
			mgmt_store_error(m, rc, "release");
		else
			reply_release(m, 200, &rel);
	} else if (r->n_seg == 5 && post && strcmp(r->seg[4], "gate") == 0) {
		release_gate(m, v);
	} else if (r->n_seg == 5 && post && strcmp(r->seg[4], "approve") == 0) {
		release_approve(m, v);
	} else {
		be_reply_error(r, 404, "not_found", "no such resource");
	}
}

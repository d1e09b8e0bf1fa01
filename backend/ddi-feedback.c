/* SPDX-License-Identifier: MIT */
/*
 * What a device writes: action feedback (deployment and cancel), configData attributes
 * and an offline-installed version (PUT installedBase).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddi.h"

#define MAX_STATUS_PER_ACTION 1000
#define ERR_LEN (LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 8)

/* Reads the JSON body within max_json_bytes; replies 413 and returns <0 otherwise. */
static int read_body(struct ddi *d, char **ret, size_t *ret_len)
{
	if (be_body(d->r, d->r->cfg->max_json_bytes, ret, ret_len) < 0) {
		ddi_error(d->r, 413, "hawkbit.server.error.rest.body.tooLarge", "request body too large");
		return -E2BIG;
	}
	return 0;
}

/* 400 for a bad body, 429 for too many entries (-E2BIG from the parsers). */
static void reply_parse_error(struct ddi *d, int rc, const struct lp_diag *diag)
{
	char err[ERR_LEN];

	lp_diag_format(diag, err, sizeof(err));
	if (rc == -E2BIG)
		ddi_error(d->r, 429, "hawkbit.server.error.quota.tooManyEntries", err);
	else
		ddi_error(d->r, 400, "hawkbit.server.error.rest.body.notReadable", err);
}

/* action.finished, action.failed, action.canceled, action.warning, action.cancel_rejected */
static const char *event_type(const char *status, bool closes, char *buf, size_t len)
{
	if (!closes && strcmp(status, "WARNING") != 0 && strcmp(status, "CANCEL_REJECTED") != 0)
		return NULL;
	if (strcmp(status, "ERROR") == 0)
		return "action.failed";
	snprintf(buf, len, "action.%s", status);
	for (char *p = buf; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return buf;
}

/* The change a feedback makes (reference/ddi-v1.md §2.6: the mapping table). */
static void feedback_change(const struct be_feedback *fb, bool cancel, const char **msgs,
			      char *code_msg, size_t code_len, char *ev, size_t ev_len,
			      struct be_action_change *c)
{
	const cJSON *it;
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->entry.status = be_feedback_status(fb, cancel, &c->closes);
	c->entry.time = fb->timestamp_ms ? fb->timestamp_ms / 1000 : be_now();
	c->entry.has_code = fb->has_code;
	c->entry.code = fb->code;
	cJSON_ArrayForEach(it, fb->details)
		msgs[n++] = it->valuestring; /* at most BE_DETAILS_MAX, checked by the parser */
	if (fb->has_code) {
		snprintf(code_msg, code_len, "Device reported status code: %lld", (long long)fb->code);
		msgs[n++] = code_msg;
	}
	/* A rejected cancellation lets the deployment continue. */
	if (strcmp(c->entry.status, "CANCEL_REJECTED") == 0) {
		msgs[n++] = "Cancellation rejected by the device";
		c->new_status = "RUNNING";
	}
	c->entry.messages = msgs;
	c->entry.n_messages = n;
	c->installs = c->closes && strcmp(c->entry.status, "FINISHED") == 0;
	c->event = event_type(c->entry.status, c->closes, ev, ev_len);
	c->event_message = cJSON_GetArraySize(fb->details) > 0 ? msgs[0] : c->entry.status;
	c->max_history = MAX_STATUS_PER_ACTION;
}

static void store_feedback(struct ddi *d, struct be_action *a, const struct be_feedback *fb,
			   bool cancel)
{
	const char *msgs[BE_DETAILS_MAX + 2];
	char code_msg[64], ev[64];
	struct be_action_change c;
	int rc;

	feedback_change(fb, cancel, msgs, code_msg, sizeof(code_msg), ev, sizeof(ev), &c);
	/* A cancellation stays asked for until the device answers it: deployment feedback
	 * that does not close the action (progress while downloading) is recorded in the
	 * history but does not turn CANCELING back into RUNNING, or the device would never
	 * be offered the cancelAction. */
	if (!cancel && !c.closes && strcmp(a->status, "CANCELING") == 0)
		c.new_status = "CANCELING";
	rc = be_store_action_change(d->s, a, &c);
	if (rc == 0)
		be_reply_empty(d->r, 200);
	else if (rc == -EDQUOT)
		ddi_error(d->r, 429, "hawkbit.server.error.quota.tooManyEntries",
			  "too many status entries for this action");
	else if (rc == -ESTALE)
		ddi_error(d->r, 410, "hawkbit.server.error.action.notActive",
			  "Action is not active anymore.");
	else
		ddi_internal(d->r, "cannot store feedback");
}

void ddi_feedback(struct ddi *d, const char *id, bool cancel)
{
	struct be_req *r = d->r;
	struct be_feedback fb;
	struct lp_diag diag;
	struct be_action a;
	char *body = NULL;
	size_t len;
	int rc;

	rc = ddi_action(d, id, &a);
	if (rc < 0) {
		if (rc == -ENOENT)
			ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "no such action");
		else
			ddi_internal(r, "cannot read the action");
		return;
	}
	if (read_body(d, &body, &len) < 0)
		return;
	lp_diag_clear(&diag);
	rc = be_feedback_parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth, &fb, &diag);
	free(body);
	if (rc < 0) {
		reply_parse_error(d, rc, &diag);
		return;
	}
	if (!a.active)
		ddi_error(r, 410, "hawkbit.server.error.action.notActive", "Action is not active anymore.");
	else if (cancel && strcmp(a.status, "CANCELING") != 0)
		ddi_error(r, 405, "hawkbit.server.error.action.notCancelable",
			  "The action is not cancelable / force quitable");
	else
		store_feedback(d, &a, &fb, cancel);
	be_feedback_done(&fb);
}

void ddi_config_data(struct ddi *d)
{
	struct be_req *r = d->r;
	struct be_attribute *attrs = NULL;
	struct be_configdata cd;
	struct lp_diag diag;
	const cJSON *it;
	char *body = NULL;
	size_t len, n = 0;
	int rc;

	if (read_body(d, &body, &len) < 0)
		return;
	lp_diag_clear(&diag);
	rc = be_configdata_parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth,
				 r->cfg->max_attributes, &cd, &diag);
	free(body);
	if (rc < 0) {
		reply_parse_error(d, rc, &diag);
		return;
	}
	attrs = calloc((size_t)cJSON_GetArraySize(cd.data), sizeof(*attrs));
	if (!attrs) {
		be_configdata_done(&cd);
		ddi_internal(r, "out of memory");
		return;
	}
	cJSON_ArrayForEach(it, cd.data) {
		attrs[n].key = it->string;
		attrs[n++].value = it->valuestring;
	}
	rc = be_store_device_set_attributes(d->s, d->dev.id, cd.mode, attrs, n, r->cfg->max_attributes);
	if (rc == 0)
		be_reply_empty(r, 200);
	else if (rc == -E2BIG)
		ddi_error(r, 429, "hawkbit.server.error.quota.tooManyEntries",
			  "a device has at most the configured number of attributes");
	else
		ddi_internal(r, "cannot store attributes");
	free(attrs);
	be_configdata_done(&cd);
}

void ddi_put_installed(struct ddi *d)
{
	struct be_req *r = d->r;
	struct be_installed_req q;
	struct lp_diag diag;
	char *body = NULL;
	size_t len;
	bool changed = false;
	int rc;

	if (read_body(d, &body, &len) < 0)
		return;
	lp_diag_clear(&diag);
	rc = be_installed_req_parse(body, len, r->cfg->max_json_bytes, r->cfg->max_json_depth, &q,
				    &diag);
	free(body);
	if (rc < 0) {
		reply_parse_error(d, -EINVAL, &diag);
		return;
	}
	rc = be_store_device_set_installed(d->s, d->dev.id, q.name, q.version, &changed);
	be_installed_req_done(&q);
	if (rc < 0)
		ddi_internal(r, "cannot store");
	else
		be_reply_empty(r, changed ? 201 : 200);
}

/* SPDX-License-Identifier: MIT */
/*
 * What a device reads about its actions: deploymentBase (with the first retrieval
 * recorded), installedBase, cancelAction, and the artifact list of a software module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddi.h"

#define ACTION_HISTORY_MAX 1000

static void add_link(cJSON *links, const char *rel, const char *href)
{
	cJSON *o = cJSON_AddObjectToObject(links, rel);

	cJSON_AddStringToObject(o, "href", href);
}

static void artifact_links(struct ddi *d, const struct be_package *p, cJSON *links)
{
	const char *cdn = d->r->cfg->artifact_base_url;
	char base[600], href[1200];

	if (cdn[0]) {
		snprintf(href, sizeof(href), "%s/%s/%s", cdn, d->tenant, p->sha256);
		add_link(links, strncmp(cdn, "https:", 6) == 0 ? "download" : "download-http", href);
		return;
	}
	for (int https = 1; https >= 0; https--) {
		be_base_url(d->r, https, base, sizeof(base));
		if (!base[0])
			continue;
		snprintf(href, sizeof(href), "%s/%s/controller/v1/%s/softwaremodules/%lld/artifacts/%s",
			 base, d->tenant, d->cid, (long long)p->id, p->filename);
		add_link(links, https ? "download" : "download-http", href);
		snprintf(href + strlen(href), sizeof(href) - strlen(href), ".MD5SUM");
		add_link(links, https ? "md5sum" : "md5sum-http", href);
	}
}

/* The DdiArtifact object of a package. */
static cJSON *artifact_json(struct ddi *d, const struct be_package *p)
{
	cJSON *a = cJSON_CreateObject(), *h;

	cJSON_AddStringToObject(a, "filename", p->filename);
	h = cJSON_AddObjectToObject(a, "hashes");
	cJSON_AddStringToObject(h, "sha1", p->sha1);
	cJSON_AddStringToObject(h, "md5", p->md5);
	cJSON_AddStringToObject(h, "sha256", p->sha256);
	cJSON_AddNumberToObject(a, "size", (double)p->size);
	artifact_links(d, p, cJSON_AddObjectToObject(a, "_links"));
	return a;
}

/* Newest first, also within one status entry. */
static int add_history_messages(void *ctx, const struct be_status_entry *e)
{
	cJSON *msgs = ctx;

	for (size_t i = e->n_messages; i > 0; i--)
		cJSON_AddItemToArray(msgs, cJSON_CreateString(e->messages[i - 1]));
	return 0;
}

static int add_chunk(struct ddi *d, struct be_action *a, cJSON *chunks)
{
	cJSON *chunk = cJSON_CreateObject(), *meta, *m;
	struct be_package p;
	int64_t pkg = 0;
	int rc;

	cJSON_AddItemToArray(chunks, chunk);
	if (!a->package) {
		cJSON_AddStringToObject(chunk, "part", "action");
		cJSON_AddStringToObject(chunk, "version", "1");
		cJSON_AddStringToObject(chunk, "name", a->command);
		cJSON_AddArrayToObject(chunk, "artifacts");
		meta = cJSON_AddArrayToObject(chunk, "metadata");
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "key", "action");
		cJSON_AddStringToObject(m, "value", a->command);
		cJSON_AddItemToArray(meta, m);
		return 0;
	}
	/* A delta for the version the device runs, when the release has one (else the full
	 * package); the choice is recorded so the download and a failure know it. */
	if ((rc = be_store_action_offer(d->s, a, &pkg)) < 0 ||
	    (rc = be_store_package_get(d->s, pkg, false, &p)) < 0)
		return rc;
	cJSON_AddStringToObject(chunk, "part", p.part);
	cJSON_AddStringToObject(chunk, "version", p.version);
	cJSON_AddStringToObject(chunk, "name", p.name);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(chunk, "artifacts"), artifact_json(d, &p));
	return 0;
}

static void reply_deployment(struct ddi *d, struct be_action *a)
{
	struct be_req *r = d->r;
	cJSON *root, *dep, *hist;
	char idbuf[24];
	int64_t n_hist = 0, now = be_now();
	const char *download, *update;
	bool open = a->maint && now >= a->maint_start && now < a->maint_end;
	int rc;

	if (be_query_int(r, "actionHistory", 0, INT32_MIN, INT32_MAX, &n_hist) < 0) {
		ddi_error(r, 400, "hawkbit.server.error.rest.param.invalid", "bad actionHistory");
		return;
	}
	download = strcmp(a->type, "soft") == 0 ? "attempt" : "forced";
	if (strcmp(a->type, "download-only") == 0)
		update = "skip";
	else
		update = a->maint && !open ? "skip" : download;
	root = cJSON_CreateObject();
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)a->id);
	cJSON_AddStringToObject(root, "id", idbuf);
	dep = cJSON_AddObjectToObject(root, "deployment");
	cJSON_AddStringToObject(dep, "download", download);
	cJSON_AddStringToObject(dep, "update", update);
	if (a->maint)
		cJSON_AddStringToObject(dep, "maintenanceWindow", open ? "available" : "unavailable");
	rc = add_chunk(d, a, cJSON_AddArrayToObject(dep, "chunks"));
	if (rc == 0 && n_hist != 0) {
		hist = cJSON_AddObjectToObject(root, "actionHistory");
		cJSON_AddStringToObject(hist, "status", a->status);
		rc = be_store_action_history(d->s, a->id, true, n_hist < 0 || n_hist > ACTION_HISTORY_MAX ?
					     ACTION_HISTORY_MAX : n_hist, add_history_messages,
					     cJSON_AddArrayToObject(hist, "messages"));
	}
	if (rc < 0) {
		cJSON_Delete(root);
		if (rc == -ENOENT)
			ddi_error(r, 404, "hawkbit.server.error.repo.entitiyNotFound", "package is gone");
		else
			ddi_internal(r, "cannot read the action");
		return;
	}
	be_reply_json(r, 200, root);
}

static void not_found(struct ddi *d, const char *what)
{
	ddi_error(d->r, 404, "hawkbit.server.error.repo.entitiyNotFound", what);
}

/* 0, or a reply was sent for -ENOENT or a store failure. */
static int load_action(struct ddi *d, const char *id, struct be_action *a, const char *what)
{
	int rc = ddi_action(d, id, a);

	if (rc == -ENOENT)
		not_found(d, what);
	else if (rc < 0)
		ddi_internal(d->r, "cannot read the action");
	return rc;
}

void ddi_deployment_base(struct ddi *d, const char *id)
{
	const char *msg = "Target retrieved update action and should start now the download.";
	struct be_action a;

	if (load_action(d, id, &a, "no such action") < 0)
		return;
	if (strcmp(a.status, "CANCELING") == 0 || strcmp(a.status, "CANCELED") == 0) {
		not_found(d, "no such action");
		return;
	}
	if (a.active && strcmp(a.status, "RUNNING") == 0) {
		/* First retrieval: recorded once, like hawkBit's RETRIEVED status. The record
		 * is bookkeeping: if it fails (logged by the store) the device still gets its
		 * deployment and the next retrieval tries again. */
		struct be_action_change c = {
			.entry = { .time = be_now(), .status = "RETRIEVED", .messages = &msg,
				   .n_messages = 1 },
		};

		if (be_store_action_change(d->s, &a, &c) == 0)
			snprintf(a.status, sizeof(a.status), "RETRIEVED");
	}
	reply_deployment(d, &a);
}

void ddi_installed_base(struct ddi *d, const char *id)
{
	struct be_action a;

	if (load_action(d, id, &a, "no such installed action") < 0)
		return;
	if (a.active || strcmp(a.status, "FINISHED") != 0) {
		not_found(d, "no such installed action");
		return;
	}
	reply_deployment(d, &a);
}

void ddi_cancel_action(struct ddi *d, const char *id)
{
	struct be_action a;
	cJSON *root;
	char idbuf[24];

	if (load_action(d, id, &a, "no such cancel action") < 0)
		return;
	if (strcmp(a.status, "CANCELING") != 0 && strcmp(a.status, "CANCELED") != 0) {
		not_found(d, "no such cancel action");
		return;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)a.id);
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", idbuf);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "cancelAction"), "stopId", idbuf);
	be_reply_json(d->r, 200, root);
}

/* softwaremodules/{id}/artifacts[/{filename}]: only modules one of the device's actions
 * uses are visible. */
void ddi_modules(struct ddi *d, char **seg, size_t n)
{
	struct be_package p;
	cJSON *arr;
	char *end;
	long long id;
	int rc;

	errno = 0;
	id = strtoll(seg[0], &end, 10);
	if (errno || *end || id <= 0 || strcmp(seg[1], "artifacts") != 0 || n > 3) {
		not_found(d, "no such software module");
		return;
	}
	rc = be_store_package_visible(d->s, d->dev.id, id);
	if (rc <= 0) {
		if (rc < 0)
			ddi_internal(d->r, "cannot read the software module");
		else
			not_found(d, "no such software module");
		return;
	}
	if (n == 3) {
		ddi_artifact(d, id, seg[2]);
		return;
	}
	rc = be_store_package_get(d->s, id, false, &p);
	if (rc < 0) {
		if (rc == -ENOENT)
			not_found(d, "no artifact");
		else
			ddi_internal(d->r, "cannot read the software module");
		return;
	}
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, artifact_json(d, &p));
	be_reply_json(d->r, 200, arr);
}

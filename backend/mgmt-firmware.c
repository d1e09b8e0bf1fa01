/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/firmware/in-use: which firmware versions the tenant's devices run, with how
 * many devices and when one of them was last seen (the component matrix's firmware axis).
 */
#include <errno.h>
#include <string.h>
#include <event2/http.h>

#include "mgmt.h"

static int firmware_json(void *ctx, const struct be_firmware_use *u)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "version", u->version);
	cJSON_AddNumberToObject(o, "devices", (double)u->devices);
	cJSON_AddNumberToObject(o, "last_seen", (double)u->last_seen);
	return mgmt_list_add(ctx, o);
}

static void firmware_in_use(struct be_mgmt *m)
{
	struct be_req *r = m->r;
	struct be_firmware_filter f = { 0 };
	struct mgmt_list l = { .m = m };
	char compatible[BE_TEXT_MAX], tag[BE_TAG_MAX];
	struct be_page p;
	int64_t total = 0;
	int has_c, has_t, rc;

	if (mgmt_paging(m, &p) < 0)
		return;
	has_c = be_query(r, "compatible", compatible, sizeof(compatible));
	has_t = be_query(r, "tag", tag, sizeof(tag));
	if (has_c < 0 || has_t < 0) {
		be_reply_error(r, 400, "bad_query", "filter values are too long");
		return;
	}
	f.compatible = has_c ? compatible : NULL;
	f.tag = has_t ? tag : NULL;
	l.items = cJSON_CreateArray();
	rc = be_store_firmware_in_use(m->s, &f, &p, firmware_json, &l, &total);
	mgmt_reply_list(&l, rc, &p, total, "firmware");
}

void mgmt_firmware(struct be_mgmt *m)
{
	struct be_req *r = m->r;

	if (r->n_seg == 4 && strcmp(r->seg[3], "in-use") == 0 &&
	    (r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD))
		firmware_in_use(m);
	else
		be_reply_error(r, 404, "not_found", "no such resource");
}

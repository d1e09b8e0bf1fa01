/* SPDX-License-Identifier: MIT */
/* Private to mgmt*.c: one management API request and the helpers its handlers share. */
#pragma once

#include "backend.h"

struct be_mgmt {
	struct be_req *r;
	struct be_store *s;
	enum be_role role;
	char token_hash[BE_HASH_HEX]; /* the caller's token (who approved) */
};

/* A list being built: the callbacks of the store's list functions add to items. */
struct mgmt_list {
	struct be_mgmt *m;
	cJSON *items;
};

typedef int (*mgmt_parser)(const char *text, size_t len, size_t max_len, unsigned max_depth,
			   void *ret, struct lp_diag *diag);

/* Reads the body within the configured limits and parses it with a parser from
 * mgmt-body.c; replies 400/413 and returns <0 on error. */
int mgmt_body(struct be_mgmt *m, mgmt_parser parse, void *ret);
/* offset/limit from the query; replies 400 on bad values. */
int mgmt_paging(struct be_mgmt *m, struct be_page *ret);
/* Ends a list: on success (rc 0) replies {"items":[…],"offset","limit","total"}, else
 * the store error; l->items is taken either way. */
void mgmt_reply_list(struct mgmt_list *l, int rc, const struct be_page *p, int64_t total,
		     const char *what);
/* The answer to a store error: 404 for -ENOENT, else 500 (the store logged it). */
void mgmt_store_error(struct be_mgmt *m, int rc, const char *what);
/* Adds a JSON item made by cb to l->items; -ENOMEM if cb returned NULL. */
int mgmt_list_add(struct mgmt_list *l, cJSON *item);
/* A path segment as a positive id; 0 if it is not one. */
int64_t mgmt_id(const char *seg);

void mgmt_devices(struct be_mgmt *m);
void mgmt_uploads(struct be_mgmt *m);
void mgmt_packages(struct be_mgmt *m);
void mgmt_deployments(struct be_mgmt *m);
void mgmt_actions(struct be_mgmt *m);
void mgmt_firmware(struct be_mgmt *m);
void mgmt_releases(struct be_mgmt *m);
void mgmt_rollouts(struct be_mgmt *m);
/* mgmt-alarms.c: alarm-channels, alarm-rules and alarms. */
void mgmt_alarms(struct be_mgmt *m);
/* mgmt-deployments.c: an action as JSON, with its status history or without. */
cJSON *mgmt_action_json(struct be_mgmt *m, const struct be_action *a, bool with_history);

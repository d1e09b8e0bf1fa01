/* SPDX-License-Identifier: MIT */
/* What the read-only commands print: `status` and `check-config`, as text or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "loopline/log.h"

/* Prints root as indented JSON and frees it; -ENOMEM if building it failed (built false
 * or root NULL). */
static int print_json(cJSON *root, bool built, struct lp_diag *diag)
{
	char *out = root && built ? cJSON_Print(root) : NULL;

	cJSON_Delete(root);
	if (!out)
		return lp_diag_fail(diag, -ENOMEM, "out of memory");
	printf("%s\n", out);
	free(out);
	return 0;
}

/* Queued feedback messages; a count that cannot be taken is logged and shown as 0 (the
 * state is what status is about). */
static long outbox_count(const struct agent_config *cfg)
{
	struct agent_outbox *ob = NULL;
	long n;
	int r = agent_outbox_open(cfg->data_dir, &ob);

	n = r < 0 ? r : agent_outbox_count(ob);
	agent_outbox_free(ob);
	if (n < 0)
		log_warn("%s/outbox: %s", cfg->data_dir, strerror((int)-n));
	return n < 0 ? 0 : n;
}

static void status_text(const struct agent_state *st, enum agent_slot current, const char *running,
			long queued)
{
	printf("state:         %s%s\n", agent_state_name(st->state),
	       st->state == AGENT_STATE_INSTALLED ? " (reboot pending)" : "");
	printf("running slot:  %s\n", agent_slot_name(current));
	printf("version:       %s (security version %llu)\n", running[0] ? running : "unknown",
	       (unsigned long long)st->security_version);
	if (st->to_version[0])
		printf("update:        %s -> %s, slot %s -> %s\n",
		       st->from_version[0] ? st->from_version : "unknown", st->to_version,
		       agent_slot_name(st->from_slot), agent_slot_name(st->to_slot));
	if (st->action_id[0])
		printf("action:        %s on backend %s\n", st->action_id, st->backend);
	printf("result:        %s%s%s\n", agent_result_name(st->result), st->reason[0] ? ": " : "",
	       st->reason);
	printf("outbox:        %ld message%s queued\n", queued, queued == 1 ? "" : "s");
}

static int status_json(const struct agent_state *st, enum agent_slot current, const char *running,
		       long queued, struct lp_diag *diag)
{
	char *text = agent_state_serialize(st);
	cJSON *root = text ? cJSON_Parse(text) : NULL;
	bool built;

	free(text);
	built = root && cJSON_AddStringToObject(root, "running_slot", agent_slot_name(current)) &&
		cJSON_AddStringToObject(root, "running_version", running) &&
		cJSON_AddNumberToObject(root, "outbox", (double)queued) &&
		cJSON_AddStringToObject(root, "agent_version", lp_version_string());
	return print_json(root, built, diag);
}

int agent_status_print(const struct agent_ctx *ctx, bool json, struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	enum agent_slot current = AGENT_SLOT_NONE;
	char running[AGENT_ID_MAX];
	struct agent_state st;
	long queued;
	int r;

	r = agent_state_load(cfg->data_dir, &st, diag);
	if (r < 0)
		return r;
	/* a running slot that cannot be told is shown as "none" */
	if (agent_slot_current(cfg, ctx->slot_override, &current, NULL) < 0)
		current = AGENT_SLOT_NONE;
	queued = outbox_count(cfg);
	agent_running_version(cfg, &st, running, sizeof(running));
	if (json)
		return status_json(&st, current, running, queued, diag);
	status_text(&st, current, running, queued);
	return 0;
}

int agent_config_print(const struct agent_config *cfg, bool json, struct lp_diag *diag)
{
	cJSON *root;
	bool built;

	if (!json) {
		printf("%s: ok (%zu backend%s, %zu health check%s, %zu action%s)\n", cfg->source,
		       cfg->n_backends, cfg->n_backends == 1 ? "" : "s", cfg->n_health,
		       cfg->n_health == 1 ? "" : "s", cfg->n_actions, cfg->n_actions == 1 ? "" : "s");
		if (cfg->device_config)
			printf("%s: %s\n", cfg->device_config, cfg->device_config_loaded ?
			       "ok (device config applied)" : "does not exist (device not provisioned yet)");
		return 0;
	}
	root = cJSON_CreateObject();
	built = root && cJSON_AddStringToObject(root, "config", cfg->source) &&
		cJSON_AddBoolToObject(root, "ok", true) &&
		cJSON_AddNumberToObject(root, "backends", (double)cfg->n_backends) &&
		cJSON_AddNumberToObject(root, "health_checks", (double)cfg->n_health) &&
		cJSON_AddNumberToObject(root, "actions", (double)cfg->n_actions) &&
		(cfg->device_config ? cJSON_AddStringToObject(root, "device_config", cfg->device_config)
				    : cJSON_AddNullToObject(root, "device_config")) &&
		cJSON_AddBoolToObject(root, "device_config_loaded", cfg->device_config_loaded);
	return print_json(root, built, diag);
}

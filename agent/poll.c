/* SPDX-License-Identifier: MIT */
/*
 * One poll cycle of one backend: deliver its queued feedback in order, poll the
 * controller resource, answer configData / cancelAction, and act on a deployment —
 * a configured action (run by name only if the config allows it) or an update (one at a
 * time; an action from another backend meanwhile gets `rejected` and is taken up later).
 * While an update downloads, the download loop calls back here every few hundred ms and
 * the other backends that are due are polled with their own curl handles, so their
 * schedule and their actions do not wait for a download that can take minutes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ddi.h"
#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/log.h"

#define MAX_REMEMBERED 32

volatile int agent_stop_requested;

struct backend_rt {
	struct agent_ddi *ddi;
	char rejected[MAX_REMEMBERED][AGENT_ID_MAX]; /* actions already answered `rejected` */
	size_t n_rejected;
};

struct agent_poller {
	const struct agent_ctx *ctx;
	struct backend_rt *b;
	size_t n;
	uint64_t *next_ms; /* per backend: monotonic deadline (ms) of its next poll */
	bool in_tick;
};

int agent_poller_new(const struct agent_ctx *ctx, struct agent_poller **ret)
{
	struct agent_poller *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ctx = ctx;
	p->n = ctx->cfg->n_backends;
	p->b = calloc(p->n ? p->n : 1, sizeof(*p->b));
	p->next_ms = calloc(p->n ? p->n : 1, sizeof(*p->next_ms));
	if (!p->b || !p->next_ms) {
		free(p->b);
		free(p->next_ms);
		free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n; i++)
		p->next_ms[i] = lp_clock_mono_ms();
	for (size_t i = 0; i < p->n; i++) {
		r = agent_ddi_new(ctx->cfg, &ctx->cfg->backends[i], &p->b[i].ddi);
		if (r < 0) {
			agent_poller_free(p);
			return r;
		}
	}
	*ret = p;
	return 0;
}

void agent_poller_free(struct agent_poller *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		agent_ddi_free(p->b[i].ddi);
	free(p->b);
	free(p->next_ms);
	free(p);
}

size_t agent_poller_count(const struct agent_poller *p)
{
	return p->n;
}

void agent_poller_postpone(struct agent_poller *p, size_t i, unsigned s)
{
	p->next_ms[i] = lp_clock_deadline_ms((uint64_t)s * 1000u);
}

size_t agent_poller_next(const struct agent_poller *p, int *ret_wait_ms)
{
	size_t due = 0;

	for (size_t i = 1; i < p->n; i++)
		if (p->next_ms[i] < p->next_ms[due])
			due = i;
	*ret_wait_ms = p->n ? lp_clock_ms_left(p->next_ms[due]) : 3600 * 1000;
	return due;
}

static const char *bname(const struct backend_rt *b)
{
	return agent_ddi_backend(b->ddi)->name;
}

/* ---- feedback ---- */

static char *feedback_json(const char *execution, const char *finished, int progress_percent,
			   const char *detail)
{
	cJSON *fb = cJSON_CreateObject(), *status, *result, *arr;
	struct timespec now;
	char *out = NULL;

	clock_gettime(CLOCK_REALTIME, &now);
	if (!fb)
		return NULL;
	if (!cJSON_AddNumberToObject(fb, "timestamp",
				     (double)now.tv_sec * 1000.0 + (double)(now.tv_nsec / 1000000)) ||
	    !(status = cJSON_AddObjectToObject(fb, "status")) ||
	    !cJSON_AddStringToObject(status, "execution", execution) ||
	    !(result = cJSON_AddObjectToObject(status, "result")) ||
	    !cJSON_AddStringToObject(result, "finished", finished) ||
	    !(arr = cJSON_AddArrayToObject(status, "details")))
		goto out;
	if (progress_percent >= 0) {
		cJSON *pr = cJSON_AddObjectToObject(result, "progress");

		if (!pr || !cJSON_AddNumberToObject(pr, "cnt", progress_percent) ||
		    !cJSON_AddNumberToObject(pr, "of", 100))
			goto out;
	}
	if (detail) {
		cJSON *s = cJSON_CreateString(detail);

		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto out;
		}
	}
	out = cJSON_PrintUnformatted(fb);
out:
	cJSON_Delete(fb);
	return out;
}

/* Sends queued messages of backend b in order. Stops at the first one that cannot be
 * delivered now (network, 5xx, 429), so order is kept. 410 Gone means the action is
 * already closed: delivered. Returns the number still queued for b, or -EIO. */
static int deliver_outbox(struct agent_poller *p, struct backend_rt *b)
{
	struct agent_outbox *ob = NULL;
	uint64_t *seqs = NULL;
	size_t n = 0;
	int r, left = 0;

	r = agent_outbox_open(p->ctx->cfg->data_dir, &ob);
	if (r < 0)
		return r;
	seqs = calloc(AGENT_OUTBOX_MAX_MSGS, sizeof(*seqs));
	if (!seqs) {
		r = -ENOMEM;
		goto out;
	}
	r = agent_outbox_list(ob, seqs, AGENT_OUTBOX_MAX_MSGS, &n);
	if (r < 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		const char *backend = NULL, *action = NULL;
		struct lp_diag diag;
		char *text = NULL, *body = NULL;
		cJSON *root = NULL;
		size_t len = 0;
		long status = 0;

		lp_diag_clear(&diag);
		if (agent_outbox_read(ob, seqs[k], &text, &len) < 0)
			continue;
		if (lp_json_parse(text, len, AGENT_OUTBOX_MSG_MAX, 8, &root, &diag) < 0 ||
		    lp_json_get_string(root, "backend", true, "", &backend, &diag) < 0 ||
		    lp_json_get_string(root, "action_id", true, "", &action, &diag) < 0 ||
		    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "feedback"))) {
			log_error("outbox message %llu is unreadable (%s); dropping it",
				  (unsigned long long)seqs[k], diag.msg);
			agent_outbox_remove(ob, seqs[k]);
			goto next;
		}
		if (!agent_config_find_backend(p->ctx->cfg, backend)) {
			log_warn("outbox message %llu is for backend \"%s\", which is no longer configured; dropping it",
				 (unsigned long long)seqs[k], backend);
			agent_outbox_remove(ob, seqs[k]);
			goto next;
		}
		if (strcmp(backend, bname(b)) != 0)
			goto next;
		body = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "feedback"));
		r = body ? agent_ddi_feedback(b->ddi, action, body, &status, &diag) : -ENOMEM;
		if (r == 0 && (status / 100 == 2 || status == 410)) {
			log_debug("feedback for action %s delivered (HTTP %ld)", action, status);
			agent_outbox_remove(ob, seqs[k]);
		} else if (r == 0 && status / 100 == 4 && status != 408 && status != 429) {
			log_warn("backend %s refused feedback for action %s with HTTP %ld; dropping it",
				 bname(b), action, status);
			agent_outbox_remove(ob, seqs[k]);
		} else {
			log_info("backend %s: feedback for action %s not delivered (%s); kept for later",
				 bname(b), action, r < 0 ? diag.msg : "server error");
			left = -EIO;
			free(body);
			cJSON_Delete(root);
			free(text);
			break;
		}
next:
		free(body);
		cJSON_Delete(root);
		free(text);
	}
	r = left;
out:
	free(seqs);
	agent_outbox_free(ob);
	return r;
}

static int queue(struct agent_poller *p, struct backend_rt *b, const char *action_id,
		 const char *execution, const char *finished, const char *detail)
{
	struct agent_outbox *ob = NULL;
	const char *details[1] = { detail };
	int r = agent_outbox_open(p->ctx->cfg->data_dir, &ob);

	if (r == 0)
		r = agent_outbox_feedback(ob, bname(b), action_id, execution, finished, details,
					  detail ? 1 : 0);
	agent_outbox_free(ob);
	if (r < 0)
		log_error("cannot queue feedback: %s", strerror(-r));
	return r;
}

/* True if feedback for this action is already queued (an answer is on its way). */
static bool outbox_has(struct agent_poller *p, struct backend_rt *b, const char *action_id)
{
	struct agent_outbox *ob = NULL;
	uint64_t *seqs = calloc(AGENT_OUTBOX_MAX_MSGS, sizeof(*seqs));
	bool found = false;
	size_t n = 0;

	if (!seqs || agent_outbox_open(p->ctx->cfg->data_dir, &ob) < 0 ||
	    agent_outbox_list(ob, seqs, AGENT_OUTBOX_MAX_MSGS, &n) < 0)
		n = 0;
	for (size_t k = 0; k < n && !found; k++) {
		char *text = NULL;
		size_t len;
		cJSON *root = NULL;
		const char *be = NULL, *id = NULL;

		if (agent_outbox_read(ob, seqs[k], &text, &len) == 0 &&
		    lp_json_parse(text, len, AGENT_OUTBOX_MSG_MAX, 8, &root, NULL) == 0 &&
		    lp_json_get_string(root, "backend", true, "", &be, NULL) == 0 &&
		    lp_json_get_string(root, "action_id", true, "", &id, NULL) == 0)
			found = strcmp(be, bname(b)) == 0 && strcmp(id, action_id) == 0;
		cJSON_Delete(root);
		free(text);
	}
	free(seqs);
	agent_outbox_free(ob);
	return found;
}

/* ---- actions ---- */

static void run_configured_action(struct agent_poller *p, struct backend_rt *b,
				  const struct ddi_deployment *dep)
{
	const struct agent_command *cmd = agent_config_find_action(p->ctx->cfg, dep->action);
	char why[AGENT_REASON_MAX];
	int status = 0, r;

	if (outbox_has(p, b, dep->id))
		return; /* already done, the answer is queued */
	if (!cmd) {
		snprintf(why, sizeof(why), "action \"%s\" is not allowed by this device's configuration",
			 dep->action);
		log_warn("backend %s action %s: %s", bname(b), dep->id, why);
		queue(p, b, dep->id, "closed", "failure", why);
		return;
	}
	log_info("running configured action \"%s\" for backend %s (action %s)", cmd->name, bname(b),
		 dep->id);
	{
		char out[AGENT_OUTPUT_TAIL];

		r = agent_command_run_output(cmd, &status, out, sizeof(out));
		r = agent_command_describe(cmd, "action", r, status, out, why, sizeof(why));
	}
	queue(p, b, dep->id, "closed", r == 0 ? "success" : "failure", why);
}

struct progress_ctx {
	struct agent_poller *p;
	struct backend_rt *b;
	const char *action_id;
};

/* From the download loop: poll the other backends that are due. An update they offer
 * meanwhile finds the state not at rest and is answered `rejected` (run_update). */
static void poll_others(void *ctx)
{
	struct progress_ctx *pc = ctx;
	struct agent_poller *p = pc->p;

	if (p->in_tick)
		return;
	p->in_tick = true;
	for (size_t i = 0; i < p->n && !agent_stop_requested; i++) {
		unsigned s;

		if (&p->b[i] == pc->b || lp_clock_ms_left(p->next_ms[i]) > 0)
			continue;
		log_debug("backend %s is due while %s downloads: polling it now", bname(&p->b[i]),
			  bname(pc->b));
		agent_poller_cycle(p, i, &s);
	}
	p->in_tick = false;
}

static void send_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_ctx *pc = ctx;
	int percent = total ? (int)(done * 100 / total) : 0;
	char detail[96];
	char *body;
	long status = 0;

	snprintf(detail, sizeof(detail), "downloading: %llu of %llu bytes", (unsigned long long)done,
		 (unsigned long long)total);
	body = feedback_json("proceeding", "none", percent, detail);
	if (body)
		agent_ddi_feedback(pc->b->ddi, pc->action_id, body, &status, NULL);
	free(body);
}

static void request_reboot(const struct agent_config *cfg)
{
	char why[AGENT_REASON_MAX];
	int status = 0, r;

	r = agent_command_run(&cfg->reboot, &status);
	if (agent_command_describe(&cfg->reboot, "reboot command", r, status, NULL, why,
				   sizeof(why)) < 0)
		log_error("%s", why);
}

static void run_update(struct agent_poller *p, struct backend_rt *b, const struct ddi_deployment *dep)
{
	const struct agent_config *cfg = p->ctx->cfg;
	struct progress_ctx pc = { .p = p, .b = b, .action_id = dep->id };
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64], detail[768];
	struct agent_state st;
	enum agent_slot current;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	if (agent_state_load(cfg->data_dir, &st, &diag) < 0 ||
	    agent_slot_current(cfg, p->ctx->slot_override, &current, &diag) < 0) {
		log_error("%s", lp_diag_format(&diag, msg, sizeof(msg)));
		return;
	}
	if (!agent_state_is_rest(st.state)) {
		bool ours = strcmp(st.backend, bname(b)) == 0 && strcmp(st.action_id, dep->id) == 0;

		if (ours) {
			log_debug("action %s is in state %s", dep->id, agent_state_name(st.state));
			return;
		}
		for (size_t k = 0; k < b->n_rejected; k++)
			if (strcmp(b->rejected[k], dep->id) == 0)
				return;
		snprintf(detail, sizeof(detail),
			 "another update is in flight (backend %s, action %s, state %s); will take this one up later",
			 st.backend[0] ? st.backend : "local", st.action_id[0] ? st.action_id : "-",
			 agent_state_name(st.state));
		log_info("backend %s action %s: %s", bname(b), dep->id, detail);
		queue(p, b, dep->id, "rejected", "none", detail);
		if (b->n_rejected < MAX_REMEMBERED)
			snprintf(b->rejected[b->n_rejected++], AGENT_ID_MAX, "%s", dep->id);
		return;
	}
	if (strcmp(st.backend, bname(b)) == 0 && strcmp(st.action_id, dep->id) == 0 &&
	    st.result != AGENT_RESULT_NONE) {
		log_debug("action %s already finished (%s)", dep->id, agent_result_name(st.result));
		return; /* its closed feedback is queued or on its way */
	}
	if (dep->update == DDI_SKIP || dep->download == DDI_SKIP || dep->maintenance_window_unavailable) {
		log_info("backend %s action %s: waiting (download %s, update %s%s)", bname(b), dep->id,
			 dep->download == DDI_SKIP ? "skip" : "allowed",
			 dep->update == DDI_SKIP ? "skip" : "allowed",
			 dep->maintenance_window_unavailable ? ", outside the maintenance window" : "");
		return;
	}

	/* Take it: state downloading before the first byte. */
	st.result = AGENT_RESULT_NONE;
	st.reason[0] = '\0';
	snprintf(st.backend, sizeof(st.backend), "%s", bname(b));
	snprintf(st.action_id, sizeof(st.action_id), "%s", dep->id);
	agent_running_version(cfg, &st, st.from_version, sizeof(st.from_version));
	snprintf(st.to_version, sizeof(st.to_version), "%s", dep->version);
	st.from_slot = current;
	st.to_slot = agent_slot_other(current);
	r = lp_fs_mkdir_p(cfg->data_dir, 0755);
	if (r == 0)
		r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_DOWNLOADING);
	if (r < 0) {
		log_error("cannot write the state file: %s", strerror(-r));
		return;
	}
	snprintf(detail, sizeof(detail), "downloading %s (%llu bytes) for slot %s", dep->filename,
		 (unsigned long long)dep->size, agent_slot_name(st.to_slot));
	queue(p, b, dep->id, "proceeding", "none", detail);
	deliver_outbox(p, b);
	log_info("backend %s action %s: %s", bname(b), dep->id, detail);

	r = agent_download_install(p->ctx, b->ddi, dep->url, dep->size, dep->id, send_progress, &pc,
				   poll_others, &pc, &diag);
	if (r < 0) {
		struct agent_state now;

		lp_diag_format(&diag, msg, sizeof(msg));
		log_error("backend %s action %s: %s", bname(b), dep->id, msg);
		/* If the failure came before the install path took over, record it here. */
		if (agent_state_load(cfg->data_dir, &now, NULL) == 0 && now.state == AGENT_STATE_DOWNLOADING)
			agent_update_failed(cfg, &now, AGENT_STATE_IDLE, msg);
		deliver_outbox(p, b);
		return;
	}
	snprintf(detail, sizeof(detail), "installed %s to slot %s; rebooting", dep->version,
		 agent_slot_name(st.to_slot));
	queue(p, b, dep->id, "proceeding", "none", detail);
	deliver_outbox(p, b);
	log_info("backend %s action %s: %s", bname(b), dep->id, detail);
	request_reboot(cfg);
}

static void handle_cancel(struct agent_poller *p, struct backend_rt *b, const char *href)
{
	char stop[AGENT_ID_MAX], *body = NULL, *fb;
	char path[DDI_HREF_MAX + 32];
	struct agent_state st;
	struct lp_diag diag;
	long status = 0;
	bool ours_in_flight;

	lp_diag_clear(&diag);
	if (agent_ddi_follow(b->ddi, "GET", href, NULL, &status, &body, &diag) < 0 || status != 200 ||
	    agent_ddi_parse_cancel(body, strlen(body), stop, sizeof(stop), &diag) < 0) {
		log_warn("backend %s: cancelAction: %s", bname(b), diag.msg[0] ? diag.msg : "bad answer");
		free(body);
		return;
	}
	free(body);
	ours_in_flight = agent_state_load(p->ctx->cfg->data_dir, &st, NULL) == 0 &&
			 !agent_state_is_rest(st.state) && strcmp(st.backend, bname(b)) == 0 &&
			 strcmp(st.action_id, stop) == 0;
	/* Once an update is written and activated it is finished through its own feedback;
	 * an action we never started is simply confirmed cancelled. */
	fb = ours_in_flight ? feedback_json("rejected", "none", -1, "the update is already installed")
			    : feedback_json("closed", "success", -1, "cancelled");
	snprintf(path, sizeof(path), "/cancelAction/%s/feedback", stop);
	if (fb)
		agent_ddi_call(b->ddi, "POST", path, fb, &status, NULL, &diag);
	free(fb);
}

static void send_config_data(struct agent_poller *p, struct backend_rt *b, const char *href)
{
	const struct agent_config *cfg = p->ctx->cfg;
	struct agent_state st;
	enum agent_slot cur = AGENT_SLOT_NONE;
	char running[AGENT_ID_MAX];
	cJSON *root = cJSON_CreateObject(), *data;
	struct lp_diag diag;
	char *body = NULL;
	long status = 0;

	if (agent_state_load(cfg->data_dir, &st, NULL) < 0)
		st.version[0] = '\0';
	agent_running_version(cfg, &st, running, sizeof(running));
	agent_slot_current(cfg, p->ctx->slot_override, &cur, NULL);
	if (root && cJSON_AddStringToObject(root, "mode", "merge") &&
	    (data = cJSON_AddObjectToObject(root, "data")) &&
	    cJSON_AddStringToObject(data, "hardware_id", cfg->hardware_id) &&
	    cJSON_AddStringToObject(data, "agent_version", lp_version_string()) &&
	    cJSON_AddStringToObject(data, "running_slot", agent_slot_name(cur)) &&
	    cJSON_AddStringToObject(data, "version", running[0] ? running : "unknown"))
		body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	lp_diag_clear(&diag);
	if (body && (agent_ddi_follow(b->ddi, "PUT", href, body, &status, NULL, &diag) < 0 ||
		     status / 100 != 2))
		log_warn("backend %s: configData: %s", bname(b), diag.msg[0] ? diag.msg : "refused");
	free(body);
}

static void handle_deployment(struct agent_poller *p, struct backend_rt *b, const char *href)
{
	struct ddi_deployment dep;
	struct lp_diag diag;
	char *body = NULL, msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 16];
	long status = 0;

	lp_diag_clear(&diag);
	if (agent_ddi_follow(b->ddi, "GET", href, NULL, &status, &body, &diag) < 0) {
		log_warn("backend %s: deploymentBase: %s", bname(b), diag.msg);
		return;
	}
	if (status != 200) {
		log_warn("backend %s: deploymentBase: HTTP %ld", bname(b), status);
		free(body);
		return;
	}
	if (agent_ddi_parse_deployment(body, strlen(body), agent_ddi_backend(b->ddi)->insecure_plain_http,
				       &dep, &diag) < 0) {
		log_error("backend %s: deploymentBase: %s", bname(b), lp_diag_format(&diag, msg, sizeof(msg)));
		free(body);
		return;
	}
	free(body);
	if (dep.is_action)
		run_configured_action(p, b, &dep);
	else
		run_update(p, b, &dep);
}

static unsigned jittered(const struct agent_config *cfg, unsigned s)
{
	long span;

	if (s < cfg->poll_min_s)
		s = cfg->poll_min_s;
	if (s > cfg->poll_max_s)
		s = cfg->poll_max_s;
	span = (long)s * cfg->poll_jitter_percent / 100;
	if (span > 0)
		s = (unsigned)((long)s - span + random() % (2 * span + 1));
	return s ? s : 1;
}

static int cycle(struct agent_poller *p, size_t i, unsigned *ret_next_s);

int agent_poller_cycle(struct agent_poller *p, size_t i, unsigned *ret_next_s)
{
	const struct agent_config *cfg = p->ctx->cfg;
	int r;

	*ret_next_s = jittered(cfg, cfg->poll_default_s);
	r = cycle(p, i, ret_next_s);
	p->next_ms[i] = lp_clock_deadline_ms((uint64_t)*ret_next_s * 1000u);
	return r;
}

static int cycle(struct agent_poller *p, size_t i, unsigned *ret_next_s)
{
	const struct agent_config *cfg = p->ctx->cfg;
	struct backend_rt *b = &p->b[i];
	struct ddi_poll poll;
	struct lp_diag diag;
	char *body = NULL, msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 16];
	long status = 0;
	int r;

	deliver_outbox(p, b);
	lp_diag_clear(&diag);
	r = agent_ddi_call(b->ddi, "GET", "", NULL, &status, &body, &diag);
	if (r < 0) {
		log_warn("backend %s: %s", bname(b), diag.msg);
		return r;
	}
	if (status != 200) {
		log_warn("backend %s: poll answered HTTP %ld", bname(b), status);
		free(body);
		return -EPROTO;
	}
	r = agent_ddi_parse_poll(body, strlen(body), &poll, &diag);
	free(body);
	if (r < 0) {
		log_error("backend %s: %s", bname(b), lp_diag_format(&diag, msg, sizeof(msg)));
		return r;
	}
	if (poll.has_sleep)
		*ret_next_s = jittered(cfg, poll.sleep_s);
	if (poll.config_data[0])
		send_config_data(p, b, poll.config_data);
	if (poll.cancel[0])
		handle_cancel(p, b, poll.cancel);
	else if (poll.deployment[0])
		handle_deployment(p, b, poll.deployment);
	deliver_outbox(p, b);
	return 0;
}

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

#include <cjson/cJSON.h>

#include "ddi.h"
#include "loopline/clock.h"
#include "loopline/log.h"

#define MAX_REMEMBERED 32

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

/* Removes a delivered or undeliverable message; 1, or 0 if it stays (logged: it is tried
 * again at the next delivery). */
static int drop(struct agent_outbox *ob, uint64_t seq)
{
	int r = agent_outbox_remove(ob, seq);

	if (r < 0)
		log_error("outbox message %llu: cannot remove it: %s", (unsigned long long)seq,
			  strerror(-r));
	return r < 0 ? 0 : 1;
}

/* One attempt to hand message seq to backend b (messages of other backends are left for
 * them). 1: delivered or dropped, 0: not ours or unreadable right now (kept), -EIO: the
 * backend cannot take it now (kept; later ones wait behind it). */
static int deliver_one(struct agent_poller *p, struct backend_rt *b, struct agent_outbox *ob,
		       uint64_t seq)
{
	struct agent_outbox_msg m;
	struct lp_diag diag;
	long status = 0;
	int r;

	lp_diag_clear(&diag);
	r = agent_outbox_read_msg(ob, seq, &m, &diag);
	if (r == -EBADMSG) {
		log_error("outbox message %llu is unreadable (%s); dropping it", (unsigned long long)seq,
			  diag.msg);
		return drop(ob, seq);
	}
	if (r < 0) {
		log_warn("%s; kept for later", diag.msg);
		return 0;
	}
	if (!agent_config_find_backend(p->ctx->cfg, m.backend)) {
		log_warn("outbox message %llu is for backend \"%s\", which is no longer configured; dropping it",
			 (unsigned long long)seq, m.backend);
		r = drop(ob, seq);
	} else if (strcmp(m.backend, bname(b)) != 0) {
		r = 0;
	} else {
		r = agent_ddi_feedback(b->ddi, m.action_id, m.feedback, &status, &diag);
		if (r == 0 && (status / 100 == 2 || status == 410)) {
			log_debug("feedback for action %s delivered (HTTP %ld)", m.action_id, status);
			r = drop(ob, seq);
		} else if (r == 0 && status / 100 == 4 && status != 408 && status != 429) {
			log_warn("backend %s refused feedback for action %s with HTTP %ld; dropping it",
				 bname(b), m.action_id, status);
			r = drop(ob, seq);
		} else {
			log_info("backend %s: feedback for action %s not delivered (%s); kept for later",
				 bname(b), m.action_id, r < 0 ? diag.msg : "server error");
			r = -EIO;
		}
	}
	agent_outbox_msg_clear(&m);
	return r;
}

/* Sends queued messages of backend b in order. Stops at the first one that cannot be
 * delivered now (network, 5xx, 408, 429), so order is kept. 410 Gone means the action is
 * already closed: delivered. What is not delivered stays queued for the next cycle; a
 * failure here is logged and the cycle goes on. */
static void deliver_outbox(struct agent_poller *p, struct backend_rt *b)
{
	struct agent_outbox *ob = NULL;
	uint64_t *seqs = calloc(AGENT_OUTBOX_MAX_MSGS, sizeof(*seqs));
	size_t n = 0;
	int r;

	r = seqs ? agent_outbox_open(p->ctx->cfg->data_dir, &ob) : -ENOMEM;
	if (r == 0)
		r = agent_outbox_list(ob, seqs, AGENT_OUTBOX_MAX_MSGS, &n);
	if (r < 0)
		log_error("%s/outbox: %s", p->ctx->cfg->data_dir, strerror(-r));
	for (size_t k = 0; r == 0 && k < n; k++)
		if (deliver_one(p, b, ob, seqs[k]) < 0)
			break;
	free(seqs);
	agent_outbox_free(ob);
}

/* Queues feedback for action_id of backend b. The poll has no one to hand a failure to:
 * it is logged here and the action is answered again when the backend offers it again. */
static void queue(struct agent_poller *p, struct backend_rt *b, const char *action_id,
		  const char *execution, const char *finished, const char *detail)
{
	const char *details[1] = { detail };
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (agent_feedback_queue(p->ctx->cfg->data_dir, bname(b), action_id, execution, finished,
				 details, detail ? 1 : 0, &diag) < 0)
		log_error("%s", diag.msg);
}

/* ---- actions ---- */

static void run_configured_action(struct agent_poller *p, struct backend_rt *b,
				  const struct ddi_deployment *dep)
{
	const struct agent_command *cmd = agent_config_find_action(p->ctx->cfg, dep->action);
	char why[AGENT_REASON_MAX], out[AGENT_OUTPUT_TAIL];
	int status = 0, r;

	r = agent_outbox_find(p->ctx->cfg->data_dir, bname(b), dep->id);
	if (r != 0) {
		if (r < 0) /* run it only once we know it did not run already */
			log_error("%s/outbox: %s", p->ctx->cfg->data_dir, strerror(-r));
		return; /* already done, the answer is queued */
	}
	if (!cmd) {
		snprintf(why, sizeof(why), "action \"%s\" is not allowed by this device's configuration",
			 dep->action);
		log_warn("backend %s action %s: %s", bname(b), dep->id, why);
		queue(p, b, dep->id, "closed", "failure", why);
		return;
	}
	log_info("running configured action \"%s\" for backend %s (action %s)", cmd->name, bname(b),
		 dep->id);
	r = agent_command_run_output(cmd, &status, out, sizeof(out));
	r = agent_command_describe(cmd, "action", r, status, out, why, sizeof(why));
	queue(p, b, dep->id, "closed", r == 0 ? "success" : "failure", why);
}

struct progress_ctx {
	struct agent_poller *p;
	struct backend_rt *b;
	const char *action_id;
};

static unsigned jittered(const struct agent_config *cfg, unsigned s);
static void handle_cancel(struct agent_poller *p, struct backend_rt *b, const char *href);

/* From the download loop, when this backend is due: a poll that only looks for a
 * cancellation of the action being downloaded (another deployment waits until this one
 * is over; a cancellation of another action is answered as usual). */
static bool cancel_requested(struct agent_poller *p, struct progress_ctx *pc)
{
	const struct agent_config *cfg = p->ctx->cfg;
	size_t i = (size_t)(pc->b - p->b);
	char *body = NULL, stop[AGENT_ID_MAX];
	unsigned next_s = jittered(cfg, cfg->poll_default_s);
	struct ddi_poll poll;
	struct lp_diag diag;
	long status = 0;

	if (lp_clock_ms_left(p->next_ms[i]) > 0)
		return false;
	lp_diag_clear(&diag);
	if (agent_ddi_call(pc->b->ddi, "GET", "", NULL, &status, &body, &diag) < 0 || status != 200 ||
	    agent_ddi_parse_poll(body, strlen(body), &poll, &diag) < 0) {
		log_debug("backend %s: poll while downloading: %s", bname(pc->b),
			  diag.msg[0] ? diag.msg : "no answer");
		free(body);
		p->next_ms[i] = lp_clock_deadline_ms((uint64_t)next_s * 1000u);
		return false;
	}
	free(body);
	body = NULL;
	if (poll.has_sleep)
		next_s = jittered(cfg, poll.sleep_s);
	p->next_ms[i] = lp_clock_deadline_ms((uint64_t)next_s * 1000u);
	if (!poll.cancel[0])
		return false;
	status = 0;
	if (agent_ddi_follow(pc->b->ddi, "GET", poll.cancel, NULL, &status, &body, &diag) < 0 ||
	    status != 200 || agent_ddi_parse_cancel(body, strlen(body), stop, sizeof(stop), &diag) < 0) {
		log_warn("backend %s: cancelAction: %s", bname(pc->b), diag.msg[0] ? diag.msg : "bad answer");
		free(body);
		return false;
	}
	free(body);
	if (strcmp(stop, pc->action_id) != 0) {
		handle_cancel(p, pc->b, poll.cancel);
		return false;
	}
	log_info("backend %s action %s: cancelled by the operator during the download",
		 bname(pc->b), pc->action_id);
	return true;
}

/* From the download loop: poll the other backends that are due, and this one for a
 * cancellation. An update the others offer meanwhile finds the state not at rest and is
 * answered `rejected` (run_update). True: the operator cancelled this download. */
static bool during_download(void *ctx)
{
	struct progress_ctx *pc = ctx;
	struct agent_poller *p = pc->p;
	bool cancel;

	if (p->in_tick)
		return false;
	p->in_tick = true;
	for (size_t i = 0; i < p->n && !agent_stop_requested; i++) {
		unsigned s;

		if (&p->b[i] == pc->b || lp_clock_ms_left(p->next_ms[i]) > 0)
			continue;
		log_debug("backend %s is due while %s downloads: polling it now", bname(&p->b[i]),
			  bname(pc->b));
		/* its failures are logged by the cycle, and it is polled again when due */
		(void)agent_poller_cycle(p, i, &s);
	}
	cancel = cancel_requested(p, pc);
	p->in_tick = false;
	return cancel;
}

/* Progress is sent directly, not queued: a lost progress report is superseded by the
 * next one, so a failure is only noted at debug level. */
static void send_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_ctx *pc = ctx;
	char detail[96];
	const char *details[1] = { detail };
	struct lp_diag diag;
	char *body;
	long status = 0;

	snprintf(detail, sizeof(detail), "downloading: %llu of %llu bytes", (unsigned long long)done,
		 (unsigned long long)total);
	body = agent_feedback_json("proceeding", "none", total ? (int)(done * 100 / total) : 0,
				   details, 1);
	lp_diag_clear(&diag);
	if (!body || agent_ddi_feedback(pc->b->ddi, pc->action_id, body, &status, &diag) < 0 ||
	    status / 100 != 2)
		log_debug("backend %s: progress of action %s not delivered (%s)", bname(pc->b),
			  pc->action_id, !body ? "out of memory" : status ? "refused" : diag.msg);
	free(body);
}

/* Whether this deployment is to be taken up now; answers `rejected` when another update
 * is in flight. */
static bool take_update(struct backend_rt *b, const struct ddi_deployment *dep,
			const struct agent_state *st, struct agent_poller *p)
{
	char detail[768];

	if (!agent_state_is_rest(st->state)) {
		if (strcmp(st->backend, bname(b)) == 0 && strcmp(st->action_id, dep->id) == 0) {
			log_debug("action %s is in state %s", dep->id, agent_state_name(st->state));
			return false;
		}
		for (size_t k = 0; k < b->n_rejected; k++)
			if (strcmp(b->rejected[k], dep->id) == 0)
				return false;
		snprintf(detail, sizeof(detail),
			 "another update is in flight (backend %s, action %s, state %s); will take this one up later",
			 st->backend[0] ? st->backend : "local", st->action_id[0] ? st->action_id : "-",
			 agent_state_name(st->state));
		log_info("backend %s action %s: %s", bname(b), dep->id, detail);
		queue(p, b, dep->id, "rejected", "none", detail);
		if (b->n_rejected < MAX_REMEMBERED)
			snprintf(b->rejected[b->n_rejected++], AGENT_ID_MAX, "%s", dep->id);
		return false;
	}
	if (strcmp(st->backend, bname(b)) == 0 && strcmp(st->action_id, dep->id) == 0 &&
	    st->result != AGENT_RESULT_NONE) {
		log_debug("action %s already finished (%s)", dep->id, agent_result_name(st->result));
		return false; /* its closed feedback is queued or on its way */
	}
	if (dep->update == DDI_SKIP || dep->download == DDI_SKIP || dep->maintenance_window_unavailable) {
		log_info("backend %s action %s: waiting (download %s, update %s%s)", bname(b), dep->id,
			 dep->download == DDI_SKIP ? "skip" : "allowed",
			 dep->update == DDI_SKIP ? "skip" : "allowed",
			 dep->maintenance_window_unavailable ? ", outside the maintenance window" : "");
		return false;
	}
	return true;
}

/* The download failed: if it failed before the install path took over (which records
 * its own failures), the attempt is recorded as failed here. */
static void download_failed(struct agent_poller *p, struct backend_rt *b,
			    const struct ddi_deployment *dep, const struct lp_diag *why)
{
	const struct agent_config *cfg = p->ctx->cfg;
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64];
	struct agent_state now;
	struct lp_diag diag;
	int r;

	lp_diag_format(why, msg, sizeof(msg));
	log_error("backend %s action %s: %s", bname(b), dep->id, msg);
	lp_diag_clear(&diag);
	r = agent_state_load(cfg->data_dir, &now, &diag);
	if (r == 0 && now.state == AGENT_STATE_DOWNLOADING)
		r = agent_attempt_failed(cfg, &now, AGENT_STATE_IDLE, msg, &diag);
	if (r < 0)
		log_error("cannot record the failed update: %s", lp_diag_format(&diag, msg, sizeof(msg)));
}

static void run_update(struct agent_poller *p, struct backend_rt *b, const struct ddi_deployment *dep)
{
	const struct agent_config *cfg = p->ctx->cfg;
	struct progress_ctx pc = { .p = p, .b = b, .action_id = dep->id };
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64], detail[768];
	struct agent_state st;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = agent_state_load(cfg->data_dir, &st, &diag);
	if (r == 0 && !take_update(b, dep, &st, p))
		return;
	/* Take it: state downloading before the first byte. */
	if (r == 0)
		r = agent_attempt_start(p->ctx, bname(b), dep->id, dep->version, &st, &diag);
	if (r == 0)
		r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_DOWNLOADING, &diag);
	if (r < 0) {
		log_error("backend %s action %s: %s", bname(b), dep->id,
			  lp_diag_format(&diag, msg, sizeof(msg)));
		return;
	}
	snprintf(detail, sizeof(detail), "downloading %s (%llu bytes) for slot %s", dep->filename,
		 (unsigned long long)dep->size, agent_slot_name(st.to_slot));
	queue(p, b, dep->id, "proceeding", "none", detail);
	deliver_outbox(p, b);
	log_info("backend %s action %s: %s", bname(b), dep->id, detail);

	r = agent_download_install(p->ctx, b->ddi, dep->url, dep->size, dep->id, send_progress, &pc,
				   during_download, &pc, &diag);
	if (r == -ECANCELED) {
		/* recorded and answered `canceled` by the install path; nothing was activated */
		log_info("backend %s action %s: %s", bname(b), dep->id, diag.msg);
		deliver_outbox(p, b);
		return;
	}
	if (r < 0) {
		download_failed(p, b, dep, &diag);
		deliver_outbox(p, b);
		return;
	}
	snprintf(detail, sizeof(detail), "installed %s to slot %s; rebooting", dep->version,
		 agent_slot_name(st.to_slot));
	queue(p, b, dep->id, "proceeding", "none", detail);
	deliver_outbox(p, b);
	log_info("backend %s action %s: %s", bname(b), dep->id, detail);
	lp_diag_clear(&diag);
	if (agent_reboot(cfg, &diag) < 0)
		log_error("%s", diag.msg); /* the update waits for the next reboot, however it comes */
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
	/* a state that cannot be read is not an update of ours in flight */
	ours_in_flight = agent_state_load(p->ctx->cfg->data_dir, &st, NULL) == 0 &&
			 !agent_state_is_rest(st.state) && strcmp(st.backend, bname(b)) == 0 &&
			 strcmp(st.action_id, stop) == 0;
	/* Once an update is written and activated it is finished through its own feedback;
	 * an action we never started is simply confirmed cancelled. */
	{
		const char *detail[1] = { ours_in_flight ? "the update is already installed" : "cancelled" };

		fb = ours_in_flight ? agent_feedback_json("rejected", "none", -1, detail, 1)
				    : agent_feedback_json("closed", "success", -1, detail, 1);
	}
	snprintf(path, sizeof(path), "/cancelAction/%s/feedback", stop);
	lp_diag_clear(&diag);
	status = 0;
	/* not answered: the backend offers the cancellation again at the next poll */
	if (!fb || agent_ddi_call(b->ddi, "POST", path, fb, &status, NULL, &diag) < 0 ||
	    status / 100 != 2)
		log_warn("backend %s: cancelAction %s: answer not delivered (%s)", bname(b), stop,
			 !fb ? "out of memory" : status ? "refused" : diag.msg);
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

	/* Best effort: what cannot be found out is sent as "unknown" / "none". */
	if (agent_state_load(cfg->data_dir, &st, NULL) < 0)
		st.version[0] = '\0';
	agent_running_version(cfg, &st, running, sizeof(running));
	if (agent_slot_current(cfg, p->ctx->slot_override, &cur, NULL) < 0)
		cur = AGENT_SLOT_NONE;
	if (root && cJSON_AddStringToObject(root, "mode", "merge") &&
	    (data = cJSON_AddObjectToObject(root, "data")) &&
	    cJSON_AddStringToObject(data, "hardware_id", cfg->hardware_id) &&
	    cJSON_AddStringToObject(data, "agent_version", lp_version_string()) &&
	    cJSON_AddStringToObject(data, "running_slot", agent_slot_name(cur)) &&
	    cJSON_AddStringToObject(data, "version", running[0] ? running : "unknown"))
		body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	lp_diag_clear(&diag);
	if (!body || agent_ddi_follow(b->ddi, "PUT", href, body, &status, NULL, &diag) < 0 ||
	    status / 100 != 2)
		log_warn("backend %s: configData: %s", bname(b),
			 !body ? "out of memory" : diag.msg[0] ? diag.msg : "refused");
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

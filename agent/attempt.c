/* SPDX-License-Identifier: MIT */
/*
 * One update attempt: the only place where an attempt starts (agent_attempt_start, for a
 * download and for a local install alike) and where a failed one is recorded
 * (agent_attempt_failed). Its success is the commit after the new slot passed its health
 * checks (boot.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "loopline/fs.h"
#include "loopline/log.h"

int agent_attempt_start(const struct agent_ctx *ctx, const char *backend, const char *action_id,
			const char *to_version, struct agent_state *ret_st, struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	struct agent_state st;
	enum agent_slot current;
	int r;

	r = agent_state_load(cfg->data_dir, &st, diag);
	if (r < 0)
		return r;
	if (st.state == AGENT_STATE_DOWNLOADING && backend && action_id &&
	    strcmp(st.backend, backend) == 0 && strcmp(st.action_id, action_id) == 0) {
		/* the download of this action started it: the install path goes on with it */
		*ret_st = st;
		return 0;
	}
	if (!agent_state_is_rest(st.state))
		return lp_diag_fail(diag, -EBUSY, "an update is already in flight (state %s, version %s)",
				    agent_state_name(st.state), st.to_version);
	r = agent_slot_current(cfg, ctx->slot_override, &current, diag);
	if (r < 0)
		return r;
	r = lp_fs_mkdir_p(cfg->data_dir, 0755);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: %s", cfg->data_dir, strerror(-r));

	/* A new attempt: forget the previous one's details, keep what is installed. */
	st.result = AGENT_RESULT_NONE;
	st.reason[0] = '\0';
	snprintf(st.backend, sizeof(st.backend), "%s", backend ? backend : "");
	snprintf(st.action_id, sizeof(st.action_id), "%s", action_id ? action_id : "");
	agent_running_version(cfg, &st, st.from_version, sizeof(st.from_version));
	snprintf(st.to_version, sizeof(st.to_version), "%s", to_version ? to_version : "");
	st.to_security_version = 0;
	st.from_slot = current;
	st.to_slot = agent_slot_other(current);
	*ret_st = st;
	return 0;
}

static int attempt_ended(const struct agent_config *cfg, struct agent_state *st,
			 enum agent_state_id to, const char *execution, const char *finished,
			 const char *reason, struct lp_diag *diag)
{
	char slots[128], versions[2 * AGENT_ID_MAX + 32];
	const char *details[3] = { reason, slots, versions };
	struct lp_diag qd;

	st->result = AGENT_RESULT_FAILURE;
	snprintf(st->reason, sizeof(st->reason), "%s", reason);
	snprintf(slots, sizeof(slots), "slot: running %s, update target %s",
		 agent_slot_name(st->from_slot), agent_slot_name(st->to_slot));
	snprintf(versions, sizeof(versions), "version: running %s, offered %s",
		 st->from_version[0] ? st->from_version : "unknown",
		 st->to_version[0] ? st->to_version : "unknown");
	/* Queued before the state moves on (a crash in between repeats the message, which is
	 * harmless). A report that cannot be queued must not keep the device from recording
	 * the failure: it is logged here and the state is written anyway. */
	lp_diag_clear(&qd);
	if (agent_feedback_queue(cfg->data_dir, st->backend, st->action_id, execution, finished,
				 details, LP_ARRAY_SIZE(details), &qd) < 0)
		log_error("%s", qd.msg);
	return agent_state_persist(cfg->data_dir, st, to, diag);
}

int agent_attempt_failed(const struct agent_config *cfg, struct agent_state *st,
			 enum agent_state_id to, const char *reason, struct lp_diag *diag)
{
	return attempt_ended(cfg, st, to, "closed", "failure", reason, diag);
}

int agent_attempt_cancelled(const struct agent_config *cfg, struct agent_state *st,
			    const char *reason, struct lp_diag *diag)
{
	return attempt_ended(cfg, st, AGENT_STATE_IDLE, "canceled", "none", reason, diag);
}

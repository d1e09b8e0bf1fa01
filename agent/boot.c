/* SPDX-License-Identifier: MIT */
/*
 * What happens after a (re)boot, and the manual mark-good / mark-bad. The decision uses
 * three facts: the persisted state, the running slot and whether the boot id changed
 * since the state was written (a reboot happened).
 *
 *   installed, same boot            reboot still pending: nothing to do
 *   installed/booting-new/verifying, running the new slot
 *                                   health checks → commit, or roll back + reboot
 *   installed/booting-new/verifying, running the old slot after a reboot
 *                                   the bootloader fell back: rolled-back, report it
 *   rolling-back, old slot, rebooted rolled-back, report the failure
 *   rolling-back otherwise          switch back again and request the reboot again
 *   downloading/installing          interrupted: the new slot was never activated (unless
 *                                   we are running it, which proves activation happened)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "loopline/log.h"

static int queue_feedback(const struct agent_config *cfg, const struct agent_state *st,
			  const char *execution, const char *finished, const char *const *details,
			  size_t n)
{
	struct agent_outbox *ob = NULL;
	int r;

	if (!st->backend[0] || !st->action_id[0])
		return 0;
	r = agent_outbox_open(cfg->data_dir, &ob);
	if (r == 0)
		r = agent_outbox_feedback(ob, st->backend, st->action_id, execution, finished,
					  details, n);
	agent_outbox_free(ob);
	if (r < 0)
		log_error("cannot queue feedback: %s", strerror(-r));
	return r;
}

static int commit(const struct agent_ctx *ctx, struct agent_state *st, const char *how)
{
	const struct agent_config *cfg = ctx->cfg;
	char detail[256];
	const char *details[1] = { detail };
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = agent_bootenv_commit(cfg, &diag);
	if (r < 0) {
		log_error("cannot commit slot %s: %s", agent_slot_name(st->to_slot), diag.msg);
		return r;
	}
	agent_test_point("bootenv-committed");
	snprintf(detail, sizeof(detail), "version %s runs on slot %s (%s)", st->to_version,
		 agent_slot_name(st->to_slot), how);
	/* Queued before the state moves on: a crash in between repeats the message, which
	 * is harmless, instead of losing it. */
	r = queue_feedback(cfg, st, "closed", "success", details, 1);
	if (r < 0)
		return r;
	st->result = AGENT_RESULT_SUCCESS;
	snprintf(st->reason, sizeof(st->reason), "%s", detail);
	snprintf(st->version, sizeof(st->version), "%s", st->to_version);
	if (st->to_security_version > st->security_version)
		st->security_version = st->to_security_version;
	r = agent_state_persist(cfg->data_dir, st, AGENT_STATE_COMMITTED);
	if (r < 0) {
		log_error("cannot write the state file: %s", strerror(-r));
		return r;
	}
	log_info("committed version %s on slot %s", st->to_version, agent_slot_name(st->to_slot));
	return 0;
}

static int request_reboot(const struct agent_config *cfg)
{
	char why[AGENT_REASON_MAX];
	int status = 0, r;

	log_info("rebooting into slot to finish the rollback");
	r = agent_command_run(&cfg->reboot, &status);
	r = agent_command_describe(&cfg->reboot, "reboot command", r, status, NULL, why, sizeof(why));
	if (r < 0)
		log_error("%s", why);
	return r;
}

/* Switches back to the old slot (state rolling-back first) and asks for a reboot. */
static int roll_back(const struct agent_ctx *ctx, struct agent_state *st, const char *reason)
{
	const struct agent_config *cfg = ctx->cfg;
	struct lp_diag diag;
	int r;

	if (st->state != AGENT_STATE_ROLLING_BACK) {
		snprintf(st->reason, sizeof(st->reason), "%s", reason);
		r = agent_state_persist(cfg->data_dir, st, AGENT_STATE_ROLLING_BACK);
		if (r < 0) {
			log_error("cannot write the state file: %s", strerror(-r));
			return r;
		}
	}
	lp_diag_clear(&diag);
	r = agent_bootenv_revert(cfg, st->from_slot, &diag);
	if (r < 0) {
		log_error("cannot switch back to slot %s: %s", agent_slot_name(st->from_slot), diag.msg);
		return r;
	}
	agent_test_point("bootenv-reverted");
	log_warn("rolling back to slot %s: %s", agent_slot_name(st->from_slot), st->reason);
	return request_reboot(cfg);
}

static int verify(const struct agent_ctx *ctx, struct agent_state *st)
{
	char reason[AGENT_REASON_MAX];
	int r;

	r = agent_state_persist(ctx->cfg->data_dir, st, AGENT_STATE_VERIFYING);
	if (r < 0) {
		log_error("cannot write the state file: %s", strerror(-r));
		return r;
	}
	r = agent_health_check(ctx->cfg, reason, sizeof(reason));
	if (r == 0)
		return commit(ctx, st, "health checks passed");
	return roll_back(ctx, st, reason);
}

/* We run the old slot although an update was activated: the bootloader gave up on it. */
static int fallback_detected(const struct agent_ctx *ctx, struct agent_state *st)
{
	char reason[AGENT_REASON_MAX];
	struct lp_diag diag;

	snprintf(reason, sizeof(reason),
		 "slot %s with version %s did not come up: the bootloader fell back to slot %s",
		 agent_slot_name(st->to_slot), st->to_version, agent_slot_name(st->from_slot));
	lp_diag_clear(&diag);
	/* Make sure the environment no longer tries the failed slot. */
	if (agent_bootenv_revert(ctx->cfg, st->from_slot, &diag) < 0)
		log_error("cannot reset the boot environment: %s", diag.msg);
	log_warn("%s", reason);
	return agent_update_failed(ctx->cfg, st, AGENT_STATE_ROLLED_BACK, reason);
}

int agent_boot_reconcile(const struct agent_ctx *ctx)
{
	const struct agent_config *cfg = ctx->cfg;
	char boot_id[AGENT_ID_MAX], msg[LP_DIAG_MSG_MAX + 600];
	struct agent_state st;
	enum agent_slot current;
	struct lp_diag diag;
	bool rebooted;
	int r;

	lp_diag_clear(&diag);
	r = agent_state_load(cfg->data_dir, &st, &diag);
	if (r < 0) {
		log_error("%s", lp_diag_format(&diag, msg, sizeof(msg)));
		return r;
	}
	if (agent_state_is_rest(st.state))
		return 0;
	r = agent_slot_current(cfg, ctx->slot_override, &current, &diag);
	if (r < 0) {
		log_error("%s", lp_diag_format(&diag, msg, sizeof(msg)));
		return r;
	}
	r = agent_boot_id(boot_id, sizeof(boot_id));
	if (r < 0) {
		log_error("cannot read the boot id: %s", strerror(-r));
		return r;
	}
	rebooted = strcmp(boot_id, st.boot_id) != 0;
	log_debug("state %s, running slot %s, %s", agent_state_name(st.state),
		  agent_slot_name(current), rebooted ? "rebooted" : "same boot");

	switch (st.state) {
	case AGENT_STATE_DOWNLOADING:
	case AGENT_STATE_INSTALLING:
		if (st.state == AGENT_STATE_INSTALLING && rebooted && current == st.to_slot) {
			/* The power went after activation: the slot was complete and verified. */
			r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_BOOTING_NEW);
			if (r < 0)
				return r;
			return verify(ctx, &st);
		}
		lp_diag_clear(&diag);
		if (agent_bootenv_revert(cfg, current, &diag) < 0)
			log_error("cannot reset the boot environment: %s", diag.msg);
		snprintf(msg, sizeof(msg), "the update to %s was interrupted while %s; slot %s was not activated",
			 st.to_version[0] ? st.to_version : "a new version", agent_state_name(st.state),
			 agent_slot_name(st.to_slot));
		log_warn("%s", msg);
		return agent_update_failed(cfg, &st, AGENT_STATE_IDLE, msg);
	case AGENT_STATE_INSTALLED:
		if (!rebooted) {
			log_info("version %s is installed in slot %s; waiting for a reboot",
				 st.to_version, agent_slot_name(st.to_slot));
			return 0;
		}
		if (current != st.to_slot)
			return fallback_detected(ctx, &st);
		r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_BOOTING_NEW);
		if (r < 0)
			return r;
		return verify(ctx, &st);
	case AGENT_STATE_BOOTING_NEW:
	case AGENT_STATE_VERIFYING:
		if (current != st.to_slot)
			return fallback_detected(ctx, &st);
		return verify(ctx, &st);
	case AGENT_STATE_ROLLING_BACK:
		if (rebooted && current == st.from_slot) {
			snprintf(msg, sizeof(msg), "rolled back to slot %s (version %s): %s",
				 agent_slot_name(st.from_slot),
				 st.from_version[0] ? st.from_version : "unknown", st.reason);
			log_warn("%s", msg);
			return agent_update_failed(cfg, &st, AGENT_STATE_ROLLED_BACK, msg);
		}
		return roll_back(ctx, &st, st.reason);
	default:
		return 0;
	}
}

int agent_mark_good(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	struct agent_state st;
	enum agent_slot current;
	int r;

	r = agent_state_load(ctx->cfg->data_dir, &st, diag);
	if (r < 0)
		return r;
	r = agent_slot_current(ctx->cfg, ctx->slot_override, &current, diag);
	if (r < 0)
		return r;
	if ((st.state != AGENT_STATE_BOOTING_NEW && st.state != AGENT_STATE_VERIFYING &&
	     st.state != AGENT_STATE_INSTALLED) || current != st.to_slot)
		return lp_diag_fail(diag, -ENOTRECOVERABLE,
				    "no update is waiting for verification on this slot (state %s, running slot %s)",
				    agent_state_name(st.state), agent_slot_name(current));
	if (st.state == AGENT_STATE_INSTALLED) {
		r = agent_state_persist(ctx->cfg->data_dir, &st, AGENT_STATE_BOOTING_NEW);
		if (r < 0)
			return r;
	}
	r = agent_state_persist(ctx->cfg->data_dir, &st, AGENT_STATE_VERIFYING);
	if (r < 0)
		return r;
	return commit(ctx, &st, "marked good by the operator");
}

int agent_mark_bad(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	struct agent_state st;
	enum agent_slot current;
	char boot_id[AGENT_ID_MAX];
	int r;

	r = agent_state_load(ctx->cfg->data_dir, &st, diag);
	if (r < 0)
		return r;
	r = agent_slot_current(ctx->cfg, ctx->slot_override, &current, diag);
	if (r < 0)
		return r;
	r = agent_boot_id(boot_id, sizeof(boot_id));
	if (r < 0)
		return r;
	if (st.state == AGENT_STATE_INSTALLED && current == st.from_slot &&
	    strcmp(boot_id, st.boot_id) == 0) {
		/* Not rebooted yet: cancel the activation. */
		r = agent_bootenv_revert(ctx->cfg, st.from_slot, diag);
		if (r < 0)
			return r;
		return agent_update_failed(ctx->cfg, &st, AGENT_STATE_IDLE,
					   "cancelled by the operator (mark-bad) before the reboot");
	}
	if ((st.state == AGENT_STATE_BOOTING_NEW || st.state == AGENT_STATE_VERIFYING ||
	     st.state == AGENT_STATE_INSTALLED) && current == st.to_slot) {
		if (st.state == AGENT_STATE_INSTALLED) {
			r = agent_state_persist(ctx->cfg->data_dir, &st, AGENT_STATE_BOOTING_NEW);
			if (r < 0)
				return r;
		}
		return roll_back(ctx, &st, "marked bad by the operator");
	}
	return lp_diag_fail(diag, -ENOTRECOVERABLE,
			    "no update is waiting for verification on this slot (state %s, running slot %s)",
			    agent_state_name(st.state), agent_slot_name(current));
}

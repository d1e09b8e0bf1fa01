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

/* What the decision rests on besides the persisted state st: the running slot, and
 * whether the machine rebooted since st was written. */
static int read_facts(const struct agent_ctx *ctx, const struct agent_state *st,
		      enum agent_slot *current, bool *rebooted, struct lp_diag *diag)
{
	char boot_id[AGENT_ID_MAX];
	int r;

	r = agent_slot_current(ctx->cfg, ctx->slot_override, current, diag);
	if (r < 0)
		return r;
	r = agent_boot_id(boot_id, sizeof(boot_id));
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot read the boot id: %s", strerror(-r));
	*rebooted = strcmp(boot_id, st->boot_id) != 0;
	return 0;
}

/* The end of a successful attempt: the one place an update is committed. */
static int commit(const struct agent_ctx *ctx, struct agent_state *st, const char *how,
		  struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	char detail[256];
	const char *details[1] = { detail };
	int r;

	r = agent_bootenv_commit(cfg, diag);
	if (r < 0)
		return r;
	agent_test_point("bootenv-committed");
	snprintf(detail, sizeof(detail), "version %s runs on slot %s (%s)", st->to_version,
		 agent_slot_name(st->to_slot), how);
	/* Queued before the state moves on: a crash in between repeats the message, which
	 * is harmless, instead of losing it. */
	r = agent_feedback_queue(cfg->data_dir, st->backend, st->action_id, "closed", "success",
				 details, 1, diag);
	if (r < 0)
		return r;
	st->result = AGENT_RESULT_SUCCESS;
	snprintf(st->reason, sizeof(st->reason), "%s", detail);
	snprintf(st->version, sizeof(st->version), "%s", st->to_version);
	if (st->to_security_version > st->security_version)
		st->security_version = st->to_security_version;
	r = agent_state_persist(cfg->data_dir, st, AGENT_STATE_COMMITTED, diag);
	if (r < 0)
		return r;
	log_info("committed version %s on slot %s", st->to_version, agent_slot_name(st->to_slot));
	return 0;
}

/* Switches back to the old slot (state rolling-back first) and asks for a reboot. */
static int roll_back(const struct agent_ctx *ctx, struct agent_state *st, const char *reason,
		     struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	int r;

	if (st->state != AGENT_STATE_ROLLING_BACK) {
		snprintf(st->reason, sizeof(st->reason), "%s", reason);
		r = agent_state_persist(cfg->data_dir, st, AGENT_STATE_ROLLING_BACK, diag);
		if (r < 0)
			return r;
	}
	r = agent_bootenv_revert(cfg, st->from_slot, diag);
	if (r < 0)
		return r;
	agent_test_point("bootenv-reverted");
	log_warn("rolling back to slot %s: %s", agent_slot_name(st->from_slot), st->reason);
	log_info("rebooting into slot %s to finish the rollback", agent_slot_name(st->from_slot));
	return agent_reboot(cfg, diag);
}

/* booting-new (persisted unless it is already), verifying, health checks, and then
 * commit or roll back. */
static int verify(const struct agent_ctx *ctx, struct agent_state *st, struct lp_diag *diag)
{
	char reason[AGENT_REASON_MAX];
	int r;

	if (st->state != AGENT_STATE_BOOTING_NEW && st->state != AGENT_STATE_VERIFYING) {
		r = agent_state_persist(ctx->cfg->data_dir, st, AGENT_STATE_BOOTING_NEW, diag);
		if (r < 0)
			return r;
	}
	r = agent_state_persist(ctx->cfg->data_dir, st, AGENT_STATE_VERIFYING, diag);
	if (r < 0)
		return r;
	r = agent_health_check(ctx->cfg, reason, sizeof(reason));
	if (r == 0)
		return commit(ctx, st, "health checks passed", diag);
	return roll_back(ctx, st, reason, diag);
}

/* Puts the boot environment back on slot, so it no longer tries the other one. A failure
 * is logged here and the caller goes on recording the outcome: the environment is retried
 * on the next start, and the failure must not be lost meanwhile. */
static void reset_bootenv(const struct agent_config *cfg, enum agent_slot slot)
{
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (agent_bootenv_revert(cfg, slot, &diag) < 0)
		log_error("cannot reset the boot environment to slot %s: %s", agent_slot_name(slot),
			  diag.msg);
}

/* We run the old slot although an update was activated: the bootloader gave up on it. */
static int fallback_detected(const struct agent_ctx *ctx, struct agent_state *st,
			     struct lp_diag *diag)
{
	char reason[AGENT_REASON_MAX];

	snprintf(reason, sizeof(reason),
		 "slot %s with version %s did not come up: the bootloader fell back to slot %s",
		 agent_slot_name(st->to_slot), st->to_version, agent_slot_name(st->from_slot));
	reset_bootenv(ctx->cfg, st->from_slot);
	log_warn("%s", reason);
	return agent_attempt_failed(ctx->cfg, st, AGENT_STATE_ROLLED_BACK, reason, diag);
}

/* downloading or installing at start-up: the attempt was cut short. */
static int interrupted(const struct agent_ctx *ctx, struct agent_state *st, enum agent_slot current,
		       bool rebooted, struct lp_diag *diag)
{
	char msg[AGENT_REASON_MAX];

	if (st->state == AGENT_STATE_INSTALLING && rebooted && current == st->to_slot)
		return verify(ctx, st, diag); /* the power went after activation: the slot was
					       * complete and verified */
	reset_bootenv(ctx->cfg, current);
	snprintf(msg, sizeof(msg), "the update to %s was interrupted while %s; slot %s was not activated",
		 st->to_version[0] ? st->to_version : "a new version", agent_state_name(st->state),
		 agent_slot_name(st->to_slot));
	log_warn("%s", msg);
	return agent_attempt_failed(ctx->cfg, st, AGENT_STATE_IDLE, msg, diag);
}

int agent_boot_reconcile(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	char msg[AGENT_REASON_MAX + 256];
	struct agent_state st;
	enum agent_slot current;
	bool rebooted;
	int r;

	r = agent_state_load(ctx->cfg->data_dir, &st, diag);
	if (r < 0 || agent_state_is_rest(st.state))
		return r;
	r = read_facts(ctx, &st, &current, &rebooted, diag);
	if (r < 0)
		return r;
	log_debug("state %s, running slot %s, %s", agent_state_name(st.state),
		  agent_slot_name(current), rebooted ? "rebooted" : "same boot");

	switch (st.state) {
	case AGENT_STATE_DOWNLOADING:
	case AGENT_STATE_INSTALLING:
		return interrupted(ctx, &st, current, rebooted, diag);
	case AGENT_STATE_INSTALLED:
		if (!rebooted) {
			log_info("version %s is installed in slot %s; waiting for a reboot",
				 st.to_version, agent_slot_name(st.to_slot));
			return 0;
		}
		/* fall through */
	case AGENT_STATE_BOOTING_NEW:
	case AGENT_STATE_VERIFYING:
		if (current != st.to_slot)
			return fallback_detected(ctx, &st, diag);
		return verify(ctx, &st, diag);
	case AGENT_STATE_ROLLING_BACK:
		if (rebooted && current == st.from_slot) {
			snprintf(msg, sizeof(msg), "rolled back to slot %s (version %s): %s",
				 agent_slot_name(st.from_slot),
				 st.from_version[0] ? st.from_version : "unknown", st.reason);
			log_warn("%s", msg);
			return agent_attempt_failed(ctx->cfg, &st, AGENT_STATE_ROLLED_BACK, msg, diag);
		}
		return roll_back(ctx, &st, st.reason, diag);
	default:
		return 0;
	}
}

/* The state and the facts, for mark-good and mark-bad. */
static int load_facts(const struct agent_ctx *ctx, struct agent_state *st, enum agent_slot *current,
		      bool *rebooted, struct lp_diag *diag)
{
	int r = agent_state_load(ctx->cfg->data_dir, st, diag);

	return r < 0 ? r : read_facts(ctx, st, current, rebooted, diag);
}

/* The new slot runs and waits for a verdict (before or after the agent's own checks). */
static bool awaits_verdict(const struct agent_state *st, enum agent_slot current)
{
	return (st->state == AGENT_STATE_INSTALLED || st->state == AGENT_STATE_BOOTING_NEW ||
		st->state == AGENT_STATE_VERIFYING) && current == st->to_slot;
}

static int no_verdict_awaited(const struct agent_state *st, enum agent_slot current,
			      struct lp_diag *diag)
{
	return lp_diag_fail(diag, -ENOTRECOVERABLE,
			    "no update is waiting for verification on this slot (state %s, running slot %s)",
			    agent_state_name(st->state), agent_slot_name(current));
}

/* To booting-new if the agent has not got there on this boot yet. */
static int booting_new(const struct agent_ctx *ctx, struct agent_state *st, struct lp_diag *diag)
{
	if (st->state != AGENT_STATE_INSTALLED)
		return 0;
	return agent_state_persist(ctx->cfg->data_dir, st, AGENT_STATE_BOOTING_NEW, diag);
}

int agent_mark_good(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	struct agent_state st;
	enum agent_slot current;
	bool rebooted;
	int r;

	r = load_facts(ctx, &st, &current, &rebooted, diag);
	if (r < 0)
		return r;
	if (!awaits_verdict(&st, current))
		return no_verdict_awaited(&st, current, diag);
	r = booting_new(ctx, &st, diag);
	if (r == 0)
		r = agent_state_persist(ctx->cfg->data_dir, &st, AGENT_STATE_VERIFYING, diag);
	if (r == 0)
		r = commit(ctx, &st, "marked good by the operator", diag);
	return r;
}

int agent_mark_bad(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	struct agent_state st;
	enum agent_slot current;
	bool rebooted;
	int r;

	r = load_facts(ctx, &st, &current, &rebooted, diag);
	if (r < 0)
		return r;
	if (st.state == AGENT_STATE_INSTALLED && current == st.from_slot && !rebooted) {
		/* Not rebooted yet: cancel the activation. */
		r = agent_bootenv_revert(ctx->cfg, st.from_slot, diag);
		if (r < 0)
			return r;
		return agent_attempt_failed(ctx->cfg, &st, AGENT_STATE_IDLE,
					    "cancelled by the operator (mark-bad) before the reboot", diag);
	}
	if (!awaits_verdict(&st, current))
		return no_verdict_awaited(&st, current, diag);
	r = booting_new(ctx, &st, diag);
	if (r == 0)
		r = roll_back(ctx, &st, "marked bad by the operator", diag);
	return r;
}

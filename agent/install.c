/* SPDX-License-Identifier: MIT */
/*
 * Package → inactive slot. The package reader checks the signature and the policy
 * (trusted keys, compatible hardware, security_version, min_agent_version) before it
 * hands out a payload byte; the image streams into the inactive slot with bounded memory;
 * the bootloader is switched only after every hash matched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/fs.h"
#include "loopline/io.h"
#include "loopline/log.h"
#include "loopline/package.h"
#include "loopline/sign.h"

#define ROOTFS_TARGET "rootfs"

static int sink_to_slot(void *ctx, const void *data, size_t len)
{
	return agent_slot_writer_write(ctx, data, len);
}

/* Only whole images of the rootfs are installed by this agent version; anything else is
 * refused before a byte is written, so nothing is half-applied. */
static int check_payloads(const struct agent_config *cfg, const struct lp_manifest *m,
			  struct lp_diag *diag)
{
	size_t images = 0;

	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct lp_payload_info *p = &m->payloads[i];

		if (p->type == LP_PAYLOAD_SCRIPT && !cfg->allow_scripts)
			return lp_diag_fail(diag, -EPERM,
					    "payload \"%s\" is a script and the config does not allow scripts",
					    p->name);
		if (p->type != LP_PAYLOAD_IMAGE)
			return lp_diag_fail(diag, -EOPNOTSUPP,
					    "payload \"%s\": type \"%s\" is not supported by this agent",
					    p->name, lp_payload_type_name(p->type));
		if (p->encryption.present)
			return lp_diag_fail(diag, -EOPNOTSUPP,
					    "payload \"%s\" is encrypted; this agent has no decryption keys",
					    p->name);
		if (strcmp(p->target, ROOTFS_TARGET) != 0)
			return lp_diag_fail(diag, -EOPNOTSUPP,
					    "payload \"%s\": unknown target \"%s\" (expected \"rootfs\")",
					    p->name, p->target);
		images++;
	}
	if (images != 1)
		return lp_diag_fail(diag, -EBADMSG, "the package has %zu rootfs images, expected one",
				    images);
	return 0;
}

static int load_keyring(const struct agent_config *cfg, struct lp_keyring **ret_ring,
			struct lp_diag *diag)
{
	struct lp_keyring *ring = NULL;
	int r;

	r = lp_keyring_new(&ring);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cfg->n_trusted_keys; i++) {
		r = lp_keyring_load(ring, cfg->trusted_keys[i], diag);
		if (r < 0) {
			lp_keyring_free(ring);
			return r;
		}
	}
	*ret_ring = ring;
	return 0;
}

/* Records a failed attempt: state back to idle with the reason, and closed/failure
 * feedback for the action if there is one. */
int agent_update_failed(const struct agent_config *cfg, struct agent_state *st,
			enum agent_state_id to, const char *reason)
{
	struct agent_outbox *ob = NULL;
	int r;

	st->result = AGENT_RESULT_FAILURE;
	snprintf(st->reason, sizeof(st->reason), "%s", reason);
	if (st->backend[0] && st->action_id[0]) {
		char slots[128], versions[2 * AGENT_ID_MAX + 32];
		const char *details[3] = { reason, slots, versions };

		snprintf(slots, sizeof(slots), "slot: running %s, update target %s",
			 agent_slot_name(st->from_slot), agent_slot_name(st->to_slot));
		snprintf(versions, sizeof(versions), "version: running %s, offered %s",
			 st->from_version[0] ? st->from_version : "unknown",
			 st->to_version[0] ? st->to_version : "unknown");
		r = agent_outbox_open(cfg->data_dir, &ob);
		if (r == 0)
			r = agent_outbox_feedback(ob, st->backend, st->action_id, "closed", "failure",
						  details, 3);
		agent_outbox_free(ob);
		if (r < 0)
			log_error("cannot queue failure feedback: %s", strerror(-r));
	}
	r = agent_state_persist(cfg->data_dir, st, to);
	if (r < 0)
		log_error("cannot write the state file: %s", strerror(-r));
	return r;
}

int agent_install_stream(const struct agent_ctx *ctx, const struct agent_source *src,
			 const char *backend, const char *action_id, struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	struct lp_pkg_policy policy = { 0 };
	struct agent_slot_writer *w = NULL;
	struct lp_pkg_reader *reader = NULL;
	const struct lp_manifest *m = NULL;
	struct lp_keyring *ring = NULL;
	struct agent_state st;
	enum agent_slot current;
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64];
	bool activating = false, resuming;
	int r;

	r = agent_state_load(cfg->data_dir, &st, diag);
	if (r < 0)
		return r;
	lp_diag_set_file(diag, NULL);
	resuming = st.state == AGENT_STATE_DOWNLOADING && backend && action_id &&
		   strcmp(st.backend, backend) == 0 && strcmp(st.action_id, action_id) == 0;
	if (!agent_state_is_rest(st.state) && !resuming)
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
	if (!resuming)
		st.to_version[0] = '\0'; /* a download keeps the version its deployment named */
	st.to_security_version = 0;
	st.from_slot = current;
	st.to_slot = agent_slot_other(current);

	r = load_keyring(cfg, &ring, diag);
	if (r < 0)
		goto refused;
	lp_diag_set_file(diag, NULL); /* later messages are about the package */
	policy.trusted = ring;
	policy.compatible = cfg->hardware_id;
	policy.check_security_version = true;
	policy.min_security_version = st.security_version;
	policy.agent_version = lp_version_string();
	r = lp_pkg_reader_new(src->read, src->ctx, &policy, &reader);
	if (r < 0) {
		lp_diag_fail(diag, r, "cannot start reading the package: %s", strerror(-r));
		goto refused;
	}
	r = lp_pkg_reader_open(reader, &m, diag);
	if (r < 0)
		goto refused;
	snprintf(st.to_version, sizeof(st.to_version), "%s", m->version);
	st.to_security_version = m->security_version;
	r = check_payloads(cfg, m, diag);
	if (r < 0)
		goto refused;

	/* Verified and acceptable: from here on the inactive slot is overwritten. */
	r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_INSTALLING);
	if (r < 0) {
		lp_diag_fail(diag, r, "cannot write the state file: %s", strerror(-r));
		goto out;
	}
	log_info("installing %s %s (security version %llu) to slot %s", m->product, m->version,
		 (unsigned long long)m->security_version, agent_slot_name(st.to_slot));
	for (;;) {
		const struct lp_payload_info *info;

		r = lp_pkg_reader_next(reader, &info, diag);
		if (r < 0)
			goto refused;
		if (r == 0)
			break;
		r = agent_slot_writer_open(cfg, st.to_slot, info->size, &w, diag);
		if (r < 0)
			goto refused;
		r = lp_pkg_reader_stream(reader, sink_to_slot, w, diag);
		if (r < 0)
			goto refused;
		r = agent_slot_writer_finish(w, diag);
		agent_slot_writer_free(w);
		w = NULL;
		if (r < 0)
			goto refused;
	}
	agent_test_point("slot-written");

	/* Every hash matched: switch the bootloader to the new slot. */
	activating = true;
	r = agent_bootenv_activate(cfg, st.to_slot, diag);
	if (r < 0)
		goto refused;
	agent_test_point("bootenv-activated");
	r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_INSTALLED);
	if (r < 0) {
		lp_diag_fail(diag, r, "cannot write the state file: %s", strerror(-r));
		goto out;
	}
	log_info("installed %s to slot %s; reboot to activate it", m->version,
		 agent_slot_name(st.to_slot));
	r = 0;
	goto out;

refused:
	if (src->why && src->why(src->ctx))
		lp_diag_fail(diag, r, "%s", src->why(src->ctx)); /* the transfer's own reason */
	lp_diag_format(diag, msg, sizeof(msg));
	if (activating) {
		/* Do not leave the bootloader pointing at a half-written slot. */
		struct lp_diag d2;

		lp_diag_clear(&d2);
		if (agent_bootenv_revert(cfg, st.from_slot, &d2) < 0)
			log_error("cannot reset the boot environment: %s", d2.msg);
	}
	agent_update_failed(cfg, &st, AGENT_STATE_IDLE, msg);
out:
	agent_slot_writer_free(w);
	lp_pkg_reader_free(reader);
	lp_keyring_free(ring);
	return r;
}

int agent_install_fd(const struct agent_ctx *ctx, int fd, const char *backend,
		     const char *action_id, struct lp_diag *diag)
{
	struct agent_source src = { .read = lp_io_fd_read, .ctx = &fd };

	return agent_install_stream(ctx, &src, backend, action_id, diag);
}

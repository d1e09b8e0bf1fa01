/* SPDX-License-Identifier: MIT */
/*
 * Package → inactive slot. The package reader checks the signature and the policy
 * (trusted keys, compatible hardware, security_version, min_agent_version) before it
 * hands out a payload byte; the image streams into the inactive slot with bounded memory
 * (decrypted on the way with a key of decryption_keys when it is encrypted); the
 * bootloader is switched only after every hash matched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/delta.h"
#include "loopline/fs.h"
#include "loopline/io.h"
#include "loopline/log.h"
#include "loopline/package-crypt.h"
#include "loopline/package.h"
#include "loopline/sign.h"

#define ROOTFS_TARGET "rootfs"

static int sink_to_slot(void *ctx, const void *data, size_t len)
{
	return agent_slot_writer_write(ctx, data, len);
}

/* The keys an install uses: trusted signers and decryption keys. */
struct install_keys {
	struct lp_keyring *trusted;
	struct lp_aes_keyring *decrypt;
};

/* Only the rootfs is installed by this agent version, as a whole image or as a delta
 * against the running slot; anything else is refused before a byte is written, so
 * nothing is half-applied. */
static int check_payloads(const struct agent_config *cfg, const struct install_keys *keys,
			  const struct lp_manifest *m, struct lp_diag *diag)
{
	size_t images = 0;

	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct lp_payload_info *p = &m->payloads[i];

		if (p->type == LP_PAYLOAD_SCRIPT && !cfg->allow_scripts)
			return lp_diag_fail(diag, -EOPNOTSUPP, /* "not allowed here", not -EPERM */
					    "payload \"%s\" is a script and the config does not allow scripts",
					    p->name);
		if (p->type == LP_PAYLOAD_DELTA && strcmp(p->delta.algorithm, LP_DELTA_ALGORITHM) != 0)
			return lp_diag_fail(diag, -EOPNOTSUPP,
					    "payload \"%s\": delta algorithm \"%s\" is not supported "
					    "(this agent knows " LP_DELTA_ALGORITHM ")", p->name,
					    p->delta.algorithm);
		if (p->type != LP_PAYLOAD_IMAGE && p->type != LP_PAYLOAD_DELTA)
			return lp_diag_fail(diag, -EOPNOTSUPP,
					    "payload \"%s\": type \"%s\" is not supported by this agent",
					    p->name, lp_payload_type_name(p->type));
		if (p->encryption.present && !lp_aes_keyring_find(keys->decrypt, p->encryption.key_id))
			return lp_diag_fail(diag, -EOPNOTSUPP,
					    "payload \"%s\" is encrypted with key %s, which is not among this agent's decryption_keys",
					    p->name, p->encryption.key_id);
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

/* The trusted keys and the decryption keys (the caller frees both, also on failure). */
static int load_keys(const struct agent_config *cfg, struct install_keys *keys,
		     struct lp_diag *diag)
{
	int r;

	r = lp_keyring_new(&keys->trusted);
	if (r == 0)
		r = lp_aes_keyring_new(&keys->decrypt);
	for (size_t i = 0; r == 0 && i < cfg->n_trusted_keys; i++)
		r = lp_keyring_load(keys->trusted, cfg->trusted_keys[i], diag);
	for (size_t i = 0; r == 0 && i < cfg->n_decryption_keys; i++)
		r = lp_aes_keyring_load(keys->decrypt, cfg->decryption_keys[i], diag);
	return r;
}

/* Reads the package up to its verified manifest: signature, hardware, security version
 * and agent version are checked by the reader before it hands out a payload byte. */
static int open_package(const struct agent_config *cfg, const struct agent_source *src,
			uint64_t min_security_version, struct install_keys *keys,
			struct lp_pkg_reader **ret_reader, const struct lp_manifest **ret_m,
			struct lp_diag *diag)
{
	struct lp_pkg_policy policy = { 0 };
	int r;

	r = load_keys(cfg, keys, diag);
	if (r < 0)
		return r;
	lp_diag_set_file(diag, NULL); /* later messages are about the package */
	policy.trusted = keys->trusted;
	policy.decryption_keys = keys->decrypt;
	policy.compatible = cfg->hardware_id;
	policy.check_security_version = true;
	policy.min_security_version = min_security_version;
	policy.agent_version = lp_version_string();
	r = lp_pkg_reader_new(src->read, src->ctx, &policy, ret_reader);
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot start reading the package: %s", strerror(-r));
	r = lp_pkg_reader_open(*ret_reader, ret_m, diag);
	if (r < 0)
		return r;
	return check_payloads(cfg, keys, *ret_m, diag);
}

/* A delta's base is the running slot, checked against base_sha256 by the reader before
 * the inactive slot is opened for writing. */
static int set_base(const struct agent_config *cfg, struct lp_pkg_reader *reader,
		    enum agent_slot running, int *base_fd, struct lp_diag *diag)
{
	struct lp_delta_base base = { .pread = lp_delta_fd_pread, .ctx = base_fd };
	int r = agent_slot_open_base(cfg, running, base_fd, &base.size, diag);

	if (r < 0)
		return r;
	log_info("checking the running slot %s against the delta's base",
		 agent_slot_name(running));
	return lp_pkg_reader_set_base(reader, &base, diag);
}

/* Streams every payload into the slot; the reader checks each size and hash. */
static int write_payloads(const struct agent_config *cfg, struct lp_pkg_reader *reader,
			  enum agent_slot running, enum agent_slot slot, struct lp_diag *diag)
{
	struct agent_slot_writer *w = NULL;
	int base_fd = -1, r;

	for (;;) {
		const struct lp_payload_info *info;

		r = lp_pkg_reader_next(reader, &info, diag);
		if (r <= 0)
			return r;
		if (info->type == LP_PAYLOAD_DELTA) {
			r = set_base(cfg, reader, running, &base_fd, diag);
			if (r < 0)
				goto out;
		}
		r = agent_slot_writer_open(cfg, slot, info->size, &w, diag);
		if (r < 0)
			goto out;
		r = lp_pkg_reader_stream(reader, sink_to_slot, w, diag);
		if (r == 0)
			r = agent_slot_writer_finish(w, diag);
		agent_slot_writer_free(w);
out:
		if (base_fd >= 0)
			close(base_fd);
		base_fd = -1;
		if (r < 0)
			return r;
	}
}

/* The package was refused or the install failed before the state said installed:
 * record the failure (and the boot environment back on the running slot if it was
 * switched already). diag keeps the reason the caller returns. */
static void install_failed(const struct agent_config *cfg, const struct agent_source *src,
			   struct agent_state *st, bool activating, int r, struct lp_diag *diag)
{
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + 64];
	struct lp_diag d2;

	if (src->why && src->why(src->ctx))
		lp_diag_fail(diag, r, "%s", src->why(src->ctx)); /* the transfer's own reason */
	lp_diag_format(diag, msg, sizeof(msg));
	lp_diag_clear(&d2);
	/* Do not leave the bootloader pointing at a half-written slot. */
	if (activating && agent_bootenv_revert(cfg, st->from_slot, &d2) < 0)
		log_error("cannot reset the boot environment: %s", d2.msg);
	lp_diag_clear(&d2);
	if (r == -ECANCELED && !activating) {
		/* the operator cancelled it while it was downloaded: nothing was activated */
		if (agent_attempt_cancelled(cfg, st, msg, &d2) < 0)
			log_error("cannot record the cancelled update: %s", d2.msg);
		return;
	}
	if (agent_attempt_failed(cfg, st, AGENT_STATE_IDLE, msg, &d2) < 0)
		log_error("cannot record the failed update: %s", d2.msg);
}

int agent_install_stream(const struct agent_ctx *ctx, const struct agent_source *src,
			 const char *backend, const char *action_id, struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	struct lp_pkg_reader *reader = NULL;
	const struct lp_manifest *m = NULL;
	struct install_keys keys = { 0 };
	struct agent_state st;
	bool activating = false;
	int r;

	r = agent_attempt_start(ctx, backend, action_id, NULL, &st, diag);
	if (r < 0)
		return r;
	r = open_package(cfg, src, st.security_version, &keys, &reader, &m, diag);
	if (m) {
		snprintf(st.to_version, sizeof(st.to_version), "%s", m->version);
		st.to_security_version = m->security_version;
	}
	if (r < 0)
		goto refused;

	/* Verified and acceptable: from here on the inactive slot is overwritten. */
	r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_INSTALLING, diag);
	if (r < 0)
		goto out;
	log_info("installing %s %s (security version %llu) to slot %s", m->product, m->version,
		 (unsigned long long)m->security_version, agent_slot_name(st.to_slot));
	r = write_payloads(cfg, reader, st.from_slot, st.to_slot, diag);
	if (r < 0)
		goto refused;
	agent_test_point("slot-written");

	/* Every hash matched: switch the bootloader to the new slot. */
	activating = true;
	r = agent_bootenv_activate(cfg, st.to_slot, diag);
	if (r < 0)
		goto refused;
	agent_test_point("bootenv-activated");
	r = agent_state_persist(cfg->data_dir, &st, AGENT_STATE_INSTALLED, diag);
	if (r < 0)
		goto out;
	log_info("installed %s to slot %s; reboot to activate it", m->version,
		 agent_slot_name(st.to_slot));
	goto out;
refused:
	install_failed(cfg, src, &st, activating, r, diag);
out:
	lp_pkg_reader_free(reader);
	lp_keyring_free(keys.trusted);
	lp_aes_keyring_free(keys.decrypt);
	return r;
}

int agent_install_fd(const struct agent_ctx *ctx, int fd, const char *backend,
		     const char *action_id, struct lp_diag *diag)
{
	struct agent_source src = { .read = lp_io_fd_read, .ctx = &fd };

	return agent_install_stream(ctx, &src, backend, action_id, diag);
}

int agent_install_file(const struct agent_ctx *ctx, const char *path, const char *backend,
		       const char *action_id, bool reboot, struct lp_diag *diag)
{
	bool std_in = strcmp(path, "-") == 0;
	int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", path, strerror(errno));
	r = agent_install_fd(ctx, fd, backend, action_id, diag);
	if (!std_in)
		close(fd);
	if (r < 0 && !std_in && diag && !diag->file[0])
		lp_diag_set_file(diag, path);
	if (r == 0 && reboot)
		r = agent_reboot(ctx->cfg, diag);
	return r;
}

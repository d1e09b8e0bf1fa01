/* SPDX-License-Identifier: MIT */
/*
 * A/B slots: which one is running, and a writer that streams an image into the other one
 * (a regular file or a block device) with bounded memory and an fsync at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#define CMDLINE_MAX 8192
#define CMDLINE_KEY "loopline.slot="

int agent_slot_current(const struct agent_config *cfg, const char *override,
		       enum agent_slot *ret_slot, struct lp_diag *diag)
{
	const char *env = getenv("LOOPLINE_AGENT_SLOT");
	char *text = NULL, *p;
	FILE *f;
	size_t n;
	int r = -ENOENT;

	if (override && override[0]) {
		if (agent_slot_parse(override, ret_slot) < 0)
			return lp_diag_fail(diag, -EINVAL, "--slot: expected A or B, not \"%s\"", override);
		return 0;
	}
	if (env && env[0]) {
		if (agent_slot_parse(env, ret_slot) < 0)
			return lp_diag_fail(diag, -EINVAL,
					    "LOOPLINE_AGENT_SLOT: expected A or B, not \"%s\"", env);
		return 0;
	}
	/* procfs files report size 0: read as a stream, bounded. */
	f = fopen(cfg->cmdline_file, "re");
	if (!f)
		return lp_diag_fail(diag, -errno, "%s: %s", cfg->cmdline_file, strerror(errno));
	text = calloc(1, CMDLINE_MAX + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, CMDLINE_MAX, f);
	fclose(f);
	text[n] = '\0';
	for (p = text + strspn(text, " \t\n"); *p; p += strspn(p, " \t\n")) {
		size_t tok = strcspn(p, " \t\n");
		char saved = p[tok];

		p[tok] = '\0';
		if (strncmp(p, CMDLINE_KEY, strlen(CMDLINE_KEY)) == 0) {
			if (agent_slot_parse(p + strlen(CMDLINE_KEY), ret_slot) < 0) {
				r = lp_diag_fail(diag, -EINVAL, "%s: %s is neither A nor B",
						 cfg->cmdline_file, p);
				goto out;
			}
			r = 0; /* the last occurrence wins, as for kernel parameters */
		}
		p[tok] = saved;
		p += tok;
	}
	if (r == -ENOENT)
		lp_diag_fail(diag, r, "%s has no " CMDLINE_KEY "A|B: cannot tell the running slot",
			     cfg->cmdline_file);
out:
	free(text);
	return r;
}

int agent_slot_open_base(const struct agent_config *cfg, enum agent_slot slot, int *ret_fd,
			 uint64_t *ret_size, struct lp_diag *diag)
{
	struct stat st;
	uint64_t size = 0;
	int fd, r;

	if (slot != AGENT_SLOT_A && slot != AGENT_SLOT_B)
		return -EINVAL;
	fd = open(cfg->slot_path[slot], O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "running slot %s (%s): %s", agent_slot_name(slot),
				    cfg->slot_path[slot], strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || ioctl(fd, BLKGETSIZE64, &size) < 0) {
		r = lp_diag_fail(diag, -EINVAL, "running slot %s (%s): not a file or a block device "
				 "whose size can be read", agent_slot_name(slot), cfg->slot_path[slot]);
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_size = size;
	return 0;
}

struct agent_slot_writer {
	int fd;
	bool regular;
	uint64_t written;
	char path[AGENT_STR_MAX];
};

int agent_slot_writer_open(const struct agent_config *cfg, enum agent_slot slot, uint64_t size,
			   struct agent_slot_writer **ret_writer, struct lp_diag *diag)
{
	struct agent_slot_writer *w;
	struct stat st;
	int r;

	if (slot != AGENT_SLOT_A && slot != AGENT_SLOT_B)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->path, sizeof(w->path), "%s", cfg->slot_path[slot]);
	/* No O_CREAT: a slot that does not exist is a configuration error, not something to
	 * conjure up. No O_TRUNC either: block devices cannot be truncated. */
	w->fd = open(w->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (w->fd < 0) {
		r = lp_diag_fail(diag, -errno, "slot %s (%s): %s", agent_slot_name(slot), w->path,
				 strerror(errno));
		free(w);
		return r;
	}
	if (fstat(w->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		w->regular = true;
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t dev_size = 0;

		if (ioctl(w->fd, BLKGETSIZE64, &dev_size) < 0) {
			r = lp_diag_fail(diag, -errno, "slot %s (%s): cannot read the device size: %s",
					 agent_slot_name(slot), w->path, strerror(errno));
			goto fail;
		}
		if (size > dev_size) {
			r = lp_diag_fail(diag, -EFBIG, "slot %s (%s) holds %llu bytes, the image has %llu",
					 agent_slot_name(slot), w->path, (unsigned long long)dev_size,
					 (unsigned long long)size);
			goto fail;
		}
	} else {
		r = lp_diag_fail(diag, -EINVAL, "slot %s (%s) is neither a file nor a block device",
				 agent_slot_name(slot), w->path);
		goto fail;
	}
	*ret_writer = w;
	return 0;
fail:
	close(w->fd);
	free(w);
	return r;
}

int agent_slot_writer_write(struct agent_slot_writer *w, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		w->written += (uint64_t)n;
	}
	return 0;
}

int agent_slot_writer_finish(struct agent_slot_writer *w, struct lp_diag *diag)
{
	int r = 0;

	if (w->regular && ftruncate(w->fd, (off_t)w->written) < 0)
		r = lp_diag_fail(diag, -errno, "%s: %s", w->path, strerror(errno));
	if (r == 0 && fsync(w->fd) < 0)
		r = lp_diag_fail(diag, -errno, "%s: fsync: %s", w->path, strerror(errno));
	if (close(w->fd) < 0 && r == 0)
		r = lp_diag_fail(diag, -errno, "%s: close: %s", w->path, strerror(errno));
	w->fd = -1;
	return r;
}

void agent_slot_writer_free(struct agent_slot_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

/* ---- switching slots in the bootloader environment ---- */

static int bootenv_apply(const struct agent_config *cfg, const char *slot, const char *upgrade,
			 struct lp_diag *diag)
{
	struct agent_bootenv *env = NULL;
	char limit[16];
	int r;

	r = agent_bootenv_open(cfg, &env, diag);
	if (r < 0)
		return r;
	if (slot && (r = agent_bootenv_set(env, "boot_slot", slot)) < 0)
		goto out;
	if ((r = agent_bootenv_set(env, "upgrade_available", upgrade)) < 0 ||
	    (r = agent_bootenv_set(env, "bootcount", "0")) < 0)
		goto out;
	if (cfg->bootlimit) {
		snprintf(limit, sizeof(limit), "%u", cfg->bootlimit);
		if ((r = agent_bootenv_set(env, "bootlimit", limit)) < 0)
			goto out;
	}
	r = agent_bootenv_save(env, diag);
out:
	if (r < 0 && diag && !diag->msg[0])
		lp_diag_fail(diag, r, "%s: cannot update the boot environment: %s", cfg->bootenv_path,
			     strerror(-r));
	agent_bootenv_free(env);
	return r;
}

int agent_bootenv_activate(const struct agent_config *cfg, enum agent_slot slot, struct lp_diag *diag)
{
	return bootenv_apply(cfg, agent_slot_name(slot), "1", diag);
}

int agent_bootenv_commit(const struct agent_config *cfg, struct lp_diag *diag)
{
	return bootenv_apply(cfg, NULL, "0", diag);
}

int agent_bootenv_revert(const struct agent_config *cfg, enum agent_slot slot, struct lp_diag *diag)
{
	return bootenv_apply(cfg, agent_slot_name(slot), "0", diag);
}

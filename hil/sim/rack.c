/* SPDX-License-Identifier: MIT */
/* The rack's life: its directory, the poll loop, the shutdown (rack.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/log.h"
#include "rack.h"

static int dir_path(const struct rack *r, const char *name, char *buf, size_t len)
{
	int e = lp_fs_path_join(buf, len, r->cfg->dir, name);

	if (e < 0)
		log_error("%s/%s: %s", r->cfg->dir, name, strerror(-e));
	return e;
}

static int open_in_dir(const struct rack *r, const char *name, int flags, int *ret_fd)
{
	char path[PATH_MAX];
	int fd, e = dir_path(r, name, path, sizeof(path));

	if (e < 0)
		return e;
	fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = -errno;
		log_error("%s: %s", path, strerror(-e));
		return e;
	}
	*ret_fd = fd;
	return 0;
}

/* What an earlier run may have left, and what this one removes at its end. */
static void remove_sockets(const struct rack *r)
{
	static const char *const names[] = { "ready", "controller.sock", "qmp.sock" };
	char path[PATH_MAX];

	for (size_t i = 0; i < LP_ARRAY_SIZE(names); i++)
		if (lp_fs_path_join(path, sizeof(path), r->cfg->dir, names[i]) == 0)
			unlink(path);
	for (size_t i = 0; i < r->n_boards; i++)
		unlink(r->boards[i].usb_path);
}

/* DIR, its lock (one simulator per directory), and the log files. */
static int prepare_dir(struct rack *r)
{
	int e = lp_fs_mkdir_p(r->cfg->dir, 0755);

	if (e < 0) {
		log_error("%s: %s", r->cfg->dir, strerror(-e));
		return e;
	}
	e = open_in_dir(r, "rack-sim.lock", O_RDWR | O_CREAT, &r->lock_fd);
	if (e < 0)
		return e;
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		e = -errno;
		log_error("%s: %s", r->cfg->dir, e == -EWOULDBLOCK
			  ? "another loopline-rack-sim runs in this directory" : strerror(-e));
		return e == -EWOULDBLOCK ? -EBUSY : e;
	}
	e = open_in_dir(r, "events.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, &r->events_fd);
	if (e == 0)
		e = open_in_dir(r, "controller-qemu.log", O_WRONLY | O_CREAT | O_APPEND,
				&r->ctl_log_fd);
	for (size_t i = 0; e == 0 && i < r->cfg->n_boards; i++) {
		e = rack_board_init(r, &r->boards[i], &r->cfg->boards[i]);
		r->n_boards = i + 1;
	}
	if (e == 0)
		remove_sockets(r);
	return e;
}

static int write_ready(struct rack *r)
{
	char path[PATH_MAX], pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	int e = dir_path(r, "ready", path, sizeof(path));

	if (e == 0)
		e = lp_fs_write_atomic(path, pid, (size_t)n, 0644, 0);
	if (e < 0) {
		log_error("%s: %s", path, strerror(-e));
		return e;
	}
	r->ready = true;
	rack_event(r, "ready");
	return 0;
}

static void check_ready(struct rack *r)
{
	for (size_t i = 0; i < r->n_boards; i++)
		if (!r->boards[i].usb_ever)
			return;
	if (write_ready(r) < 0)
		r->ready = true; /* logged; the rack works without the file */
}

static int controller_gone(struct rack *r)
{
	rack_controller_read(r, true);
	rack_event(r, "controller exited status=%d", lp_proc_exit_code(r->ctl));
	log_error("the controller QEMU exited with status %d%s%s (see %s/controller-qemu.log)",
		  lp_proc_exit_code(r->ctl), r->last_msg[0] ? ": " : "", r->last_msg, r->cfg->dir);
	return -ECHILD;
}

static int loop(struct rack *r, const volatile sig_atomic_t *stop, const sigset_t *wait_mask)
{
	struct pollfd fds[2 + 3 * RACK_BOARDS_MAX];

	for (;;) {
		struct timespec ts, *tsp = NULL;
		int timeout = -1, err_idx = -1, e;
		nfds_t n = 0;

		if (*stop) {
			rack_event(r, "stopping signal=%d", (int)*stop);
			return 0;
		}
		if (r->ctl_err_fd >= 0) {
			err_idx = (int)n;
			fds[n++] = (struct pollfd){ .fd = r->ctl_err_fd, .events = POLLIN };
		}
		if (lp_proc_fd(r->ctl) >= 0)
			fds[n++] = (struct pollfd){ .fd = lp_proc_fd(r->ctl), .events = POLLIN };
		else
			timeout = 100; /* no pidfd: look now and then */
		for (size_t i = 0; i < r->n_boards; i++)
			rack_board_poll(r, &r->boards[i], fds, &n, &timeout);
		if (timeout >= 0) {
			ts = (struct timespec){ timeout / 1000, (long)(timeout % 1000) * 1000000 };
			tsp = &ts;
		}
		if (ppoll(fds, n, tsp, wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			e = -errno;
			log_error("poll: %s", strerror(-e));
			return e;
		}
		/* the boards first: a trace read below may close their descriptors */
		for (size_t i = 0; i < r->n_boards; i++)
			if ((e = rack_board_handle(r, &r->boards[i], fds)) < 0)
				return e;
		if (err_idx >= 0 && fds[err_idx].revents)
			rack_controller_read(r, false);
		if (lp_proc_exited(r->ctl))
			return controller_gone(r);
		if (!r->ready)
			check_ready(r);
	}
}

/* Stops the DUTs and the controller and removes the sockets. */
static void stop_all(struct rack *r, const char *why)
{
	/* the DUTs first: a controller going away must not look like a console fault */
	for (size_t i = 0; i < r->n_boards; i++)
		rack_board_close(r, &r->boards[i], why);
	rack_controller_stop(r);
	remove_sockets(r);
	rack_event(r, "exit");
}

static void close_all(struct rack *r)
{
	for (size_t i = 0; i < r->n_boards; i++)
		rack_board_close(r, &r->boards[i], "shutdown");
	if (r->events_fd >= 0)
		close(r->events_fd);
	if (r->ctl_log_fd >= 0)
		close(r->ctl_log_fd);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
}

int rack_run(const struct rack_cfg *cfg, const volatile sig_atomic_t *stop,
	     const sigset_t *wait_mask)
{
	struct rack *r = calloc(1, sizeof(*r)); /* 1 MiB of relay queues */
	int e;

	if (!r) {
		log_error("out of memory");
		return -ENOMEM;
	}
	r->cfg = cfg;
	r->start_ms = lp_clock_mono_ms();
	r->events_fd = r->ctl_log_fd = r->lock_fd = r->ctl_err_fd = -1;
	/* on failure nothing was started: a directory another simulator holds stays as is */
	e = prepare_dir(r);
	if (e == 0) {
		rack_event(r, "start pid=%ld boards=%zu", (long)getpid(), r->n_boards);
		e = rack_controller_start(r);
		r->usb_deadline_ms = lp_clock_mono_ms() + RACK_USB_TIMEOUT_MS;
		if (e == 0)
			e = loop(r, stop, wait_mask);
		stop_all(r, e == 0 ? "shutdown" : "rack failure");
	}
	close_all(r);
	free(r);
	return e;
}

/* SPDX-License-Identifier: MIT */
/*
 * The controller: an aarch64 QEMU (virt, TCG) whose stderr carries the PL061 trace
 * lines. Its serial console and QMP are unix sockets in DIR for tests; each board gets a
 * usb-serial adapter on the xhci bus whose chardev is a unix socket server in DIR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/log.h"
#include "rack.h"

#define ARGV_MAX (40 + 4 * RACK_BOARDS_MAX)
#define ARG_STORE (8192 + RACK_APPEND_MAX)

/* The controller's argv: pointers into store. */
struct args {
	const char *argv[ARGV_MAX + 1];
	size_t n;
	char store[ARG_STORE];
	size_t used;
	bool overflow;
};

static void add(struct args *a, const char *s)
{
	if (a->n >= ARGV_MAX)
		a->overflow = true;
	else
		a->argv[a->n++] = s;
}

static void addf(struct args *a, const char *fmt, ...) LP_PRINTF(2, 3);
static void addf(struct args *a, const char *fmt, ...)
{
	size_t room = sizeof(a->store) - a->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(a->store + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		a->overflow = true;
		return;
	}
	add(a, a->store + a->used);
	a->used += (size_t)n + 1;
}

/* A path inside a QEMU option list ("path=…,server=on"): a ',' is written ",,". */
static const char *opt_escape(const char *path, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 3 < len; p++) {
		buf[o++] = *p;
		if (*p == ',')
			buf[o++] = ',';
	}
	buf[o] = '\0';
	return buf;
}

static int build_args(const struct rack *r, struct args *a)
{
	const struct rack_cfg *c = r->cfg;
	char path[RACK_PATH_MAX], esc[2 * RACK_PATH_MAX];
	int e;

	add(a, c->qemu);
	add(a, "-accel"); add(a, "tcg");
	add(a, "-M"); add(a, "virt");
	add(a, "-cpu"); add(a, "cortex-a57");
	add(a, "-m"); addf(a, "%u", c->memory_mib);
	add(a, "-smp"); add(a, "1");
	add(a, "-no-user-config"); add(a, "-nodefaults");
	add(a, "-display"); add(a, "none");
	add(a, "-monitor"); add(a, "none");
	add(a, "-kernel"); add(a, c->kernel);
	add(a, "-initrd"); add(a, c->initrd);
	add(a, "-append");
	addf(a, "console=ttyAMA0%s%s", c->append && c->append[0] ? " " : "",
	     c->append ? c->append : "");
	e = lp_fs_path_join(path, sizeof(path), c->dir, "controller.sock");
	add(a, "-chardev");
	addf(a, "socket,id=con0,path=%s,server=on,wait=off", opt_escape(path, esc, sizeof(esc)));
	add(a, "-serial"); add(a, "chardev:con0");
	e = e ? e : lp_fs_path_join(path, sizeof(path), c->dir, "qmp.sock");
	add(a, "-qmp");
	addf(a, "unix:%s,server=on,wait=off", opt_escape(path, esc, sizeof(esc)));
	add(a, "-device"); add(a, "qemu-xhci,id=xhci");
	add(a, "-trace"); add(a, "pl061_update");
	add(a, "-trace"); add(a, "pl061_set_output");
	/* in order: the guest enumerates them as ttyUSB0, ttyUSB1, … */
	for (size_t i = 0; i < r->n_boards; i++) {
		const char *name = r->boards[i].cfg->name;

		add(a, "-chardev");
		addf(a, "socket,id=chr-%s,path=%s,server=on,wait=off", name,
		     opt_escape(r->boards[i].usb_path, esc, sizeof(esc)));
		add(a, "-device");
		/* always-plugged: the adapter is on the controller's USB bus whether or not
		 * the cable (our connection to the chardev) is there, as a real one is;
		 * without it QEMU attaches the device only while a client is connected */
		addf(a, "usb-serial,bus=xhci.0,chardev=chr-%s,id=usb-%s,serial=LPRACK-%s,"
			"always-plugged=on", name, name, name);
	}
	a->argv[a->n] = NULL;
	if (e)
		return e; /* main.c checked the lengths: cannot happen */
	return a->overflow ? -E2BIG : 0;
}

/* The command line, for the top of controller-qemu.log. */
static void log_args(const struct rack *r, const struct args *a)
{
	rack_log_append(r->ctl_log_fd, "controller-qemu.log", "+", 1);
	for (size_t i = 0; i < a->n; i++) {
		rack_log_append(r->ctl_log_fd, "controller-qemu.log", " ", 1);
		rack_log_append(r->ctl_log_fd, "controller-qemu.log", a->argv[i], strlen(a->argv[i]));
	}
	rack_log_append(r->ctl_log_fd, "controller-qemu.log", "\n", 1);
}

int rack_controller_start(struct rack *r)
{
	struct lp_proc_opts o = { .out = LP_PROC_OUT_FD, .out_fd = r->ctl_log_fd,
				  .err = LP_PROC_ERR_FD, .flags = LP_PROC_KILL_LEFTOVERS };
	struct args *a = calloc(1, sizeof(*a)); /* 9 KiB: not on the stack */
	int pipefd[2] = { -1, -1 }, e;

	e = a ? build_args(r, a) : -ENOMEM;
	if (e < 0) {
		log_error("controller command line: %s", strerror(-e));
		goto out;
	}
	log_args(r, a);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		e = -errno;
		log_error("pipe: %s", strerror(-e));
		goto out;
	}
	o.argv = a->argv;
	o.err_fd = pipefd[1];
	e = lp_proc_spawn(&o, &r->ctl);
	close(pipefd[1]);
	if (e < 0) {
		close(pipefd[0]);
		log_error("%s: cannot run: %s", r->cfg->qemu, strerror(-e));
		goto out;
	}
	fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
	r->ctl_err_fd = pipefd[0];
	rack_event(r, "controller started pid=%ld", (long)lp_proc_pid(r->ctl));
out:
	free(a);
	return e;
}

static void on_trace(struct rack *r, const struct rack_trace *t)
{
	if (t->kind == RACK_TRACE_SET_OUTPUT) {
		log_debug("%s: output %u = %u", t->device, t->line, t->level);
		return; /* pl061_update has the whole state, GPIODIR included */
	}
	if (!r->gpio_device[0]) {
		memcpy(r->gpio_device, t->device, sizeof(r->gpio_device));
		rack_event(r, "gpio device %s", r->gpio_device);
	} else if (strcmp(r->gpio_device, t->device) != 0) {
		if (!r->other_device_seen)
			rack_event(r, "gpio ignored device %s (following %s)", t->device,
				   r->gpio_device);
		r->other_device_seen = true;
		return;
	}
	log_debug("gpio dir=0x%02x data=0x%02x", t->dir, t->data);
	r->gpio_dir = t->dir;
	r->gpio_data = t->data;
	for (size_t i = 0; i < r->n_boards; i++)
		rack_board_gpio(r, &r->boards[i], t->dir, t->data);
}

/* One stderr line: a trace moves relays; anything else goes to controller-qemu.log. */
static void on_line(void *ctx, const char *line, size_t len, bool truncated)
{
	struct rack *r = ctx;
	struct rack_trace t;
	struct lp_diag d;
	size_t n;
	int k = 0;

	lp_diag_clear(&d);
	if (!truncated)
		k = rack_trace_parse(line, len, &t, &d);
	if (k > 0) {
		on_trace(r, &t);
		return;
	}
	if (k < 0)
		rack_event(r, "trace malformed: %s", d.msg);
	rack_log_append(r->ctl_log_fd, "controller-qemu.log", line, len);
	rack_log_append(r->ctl_log_fd, "controller-qemu.log", truncated ? " [cut]\n" : "\n",
			truncated ? 7 : 1);
	if (len == 0)
		return;
	n = len < sizeof(r->last_msg) - 1 ? len : sizeof(r->last_msg) - 1;
	for (size_t i = 0; i < n; i++)
		r->last_msg[i] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	r->last_msg[n] = '\0';
}

void rack_controller_read(struct rack *r, bool until_eof)
{
	static char buf[RACK_READ_CHUNK];

	while (r->ctl_err_fd >= 0) {
		ssize_t n = read(r->ctl_err_fd, buf, sizeof(buf));

		if (n > 0) {
			rack_line_feed(&r->lines, buf, (size_t)n, on_line, r);
			if (until_eof)
				continue;
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* the end (QEMU exited), or an error: nothing more will come */
		rack_line_flush(&r->lines, on_line, r);
		close(r->ctl_err_fd);
		r->ctl_err_fd = -1;
	}
}

void rack_controller_stop(struct rack *r)
{
	if (!r->ctl)
		return;
	if (!lp_proc_exited(r->ctl)) {
		(void)lp_proc_stop(r->ctl, RACK_CONTROLLER_GRACE_MS);
		rack_event(r, "controller stopped status=%d", lp_proc_exit_code(r->ctl));
	}
	rack_controller_read(r, true);
	lp_proc_free(r->ctl);
	r->ctl = NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * One board of the rack: its relay, the DUT command it powers, and the serial cable
 * between the DUT's console socket and the controller's usb-serial chardev. The cable
 * has a bounded queue per direction; bytes that do not fit are dropped and counted (a
 * UART does not wait either), and bytes sent to an unpowered board are lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/log.h"
#include "rack.h"

static void buf_push(struct rack_buf *q, const void *data, size_t n)
{
	size_t room = sizeof(q->data) - q->len;

	if (n > room) {
		q->dropped += n - room;
		n = room;
	}
	memcpy(q->data + q->len, data, n);
	q->len += n;
}

/* Sends what the peer takes now: 0, or -errno when the connection is gone. */
static int buf_flush(struct rack_buf *q, int fd)
{
	while (q->len > 0) {
		ssize_t n = send(fd, q->data, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			memmove(q->data, q->data + n, q->len - (size_t)n);
			q->len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		} else {
			return n < 0 ? -errno : -EIO;
		}
	}
	return 0;
}

/* One recv: bytes, 0 when nothing is waiting, -1 when the connection is gone. */
static ssize_t sock_read(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
}

static int open_log(const struct rack *r, const char *name, const char *suffix, int *ret_fd)
{
	char file[RACK_NAME_MAX + 16], path[4096];
	int fd, e;

	snprintf(file, sizeof(file), "%s%s", name, suffix);
	e = lp_fs_path_join(path, sizeof(path), r->cfg->dir, file);
	if (e < 0)
		return e;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = -errno;
		log_error("%s: %s", path, strerror(-e));
		return e;
	}
	*ret_fd = fd;
	return 0;
}

int rack_board_init(struct rack *r, struct rack_board *b, const struct rack_board_cfg *cfg)
{
	char file[RACK_NAME_MAX + 16];
	int e;

	b->cfg = cfg;
	b->usb_fd = b->con_fd = b->dut_log_fd = b->console_log_fd = -1;
	b->usb_idx = b->con_idx = b->pid_idx = -1;
	snprintf(file, sizeof(file), "usb-%s.sock", cfg->name);
	e = lp_fs_path_join(b->usb_path, sizeof(b->usb_path), r->cfg->dir, file);
	if (e < 0) {
		log_error("%s/%s: %s", r->cfg->dir, file, strerror(-e));
		return e;
	}
	e = open_log(r, cfg->name, ".dut.log", &b->dut_log_fd);
	return e < 0 ? e : open_log(r, cfg->name, ".console.log", &b->console_log_fd);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void dut_start(struct rack *r, struct rack_board *b)
{
	struct lp_proc_opts o = { .shell = b->cfg->dut_cmd, .out = LP_PROC_OUT_FD,
				  .out_fd = b->dut_log_fd, .err = LP_PROC_ERR_STDOUT,
				  .flags = LP_PROC_KILL_LEFTOVERS };
	static const char mark[] = "=== loopline-rack-sim: power on ===\n";
	int e;

	rack_log_append(b->dut_log_fd, "dut.log", mark, sizeof(mark) - 1);
	b->to_dut.len = 0;
	b->to_dut.dropped = b->to_usb.dropped = 0;
	e = lp_proc_spawn(&o, &b->dut);
	if (e < 0) {
		rack_event(r, "dut %s start failed (%s)", b->cfg->name, strerror(-e));
		b->state = RACK_DUT_EXITED;
		return;
	}
	b->state = RACK_DUT_ON;
	rack_event(r, "dut %s started pid=%ld", b->cfg->name, (long)lp_proc_pid(b->dut));
	b->con_retry_ms = lp_clock_mono_ms();
	b->con_deadline_ms = b->con_retry_ms + RACK_CONSOLE_TIMEOUT_MS;
}

/* Reads what the DUT printed: logged, and queued for the controller. */
static int con_read(struct rack_board *b)
{
	static uint8_t buf[RACK_READ_CHUNK];
	ssize_t n = sock_read(b->con_fd, buf, sizeof(buf));

	if (n > 0) {
		rack_log_append(b->console_log_fd, "console.log", buf, (size_t)n);
		buf_push(&b->to_usb, buf, (size_t)n);
	}
	return n < 0 ? -1 : n > 0;
}

static void con_close(struct rack_board *b)
{
	close_fd(&b->con_fd);
	b->to_dut.len = 0;
	b->con_deadline_ms = 0;
}

/* The DUT ended on its own: its last output is still passed on. */
static void dut_exited(struct rack *r, struct rack_board *b)
{
	while (b->con_fd >= 0 && con_read(b) > 0)
		;
	con_close(b);
	rack_event(r, "dut %s exited status=%d dropped_to_dut=%llu dropped_to_usb=%llu",
		   b->cfg->name, lp_proc_exit_code(b->dut),
		   (unsigned long long)b->to_dut.dropped, (unsigned long long)b->to_usb.dropped);
	lp_proc_free(b->dut);
	b->dut = NULL;
	b->state = RACK_DUT_EXITED;
}

/* Power cut: SIGKILL to the DUT's process group. */
static void dut_cut(struct rack *r, struct rack_board *b, const char *why)
{
	if (b->state == RACK_DUT_ON) {
		(void)lp_proc_kill(b->dut, SIGKILL);
		if (lp_proc_wait(b->dut, RACK_REAP_MS, NULL, NULL) < 0)
			log_warn("dut %s: pid %ld not gone %d ms after SIGKILL", b->cfg->name,
				 (long)lp_proc_pid(b->dut), RACK_REAP_MS);
		rack_event(r, "dut %s stopped (%s) dropped_to_dut=%llu dropped_to_usb=%llu",
			   b->cfg->name, why, (unsigned long long)b->to_dut.dropped,
			   (unsigned long long)b->to_usb.dropped);
	}
	lp_proc_free(b->dut);
	b->dut = NULL;
	con_close(b);
	b->state = RACK_DUT_OFF;
}

void rack_board_gpio(struct rack *r, struct rack_board *b, uint8_t dir, uint8_t data)
{
	unsigned line = (unsigned)b->cfg->line;
	bool on = rack_relay_on(dir, data, line, b->cfg->active_low);

	if (on == b->relay)
		return;
	b->relay = on;
	rack_event(r, "relay %s %s line=%u level=%u active_low=%d driven=%u", b->cfg->name,
		   on ? "on" : "off", line, (data >> line) & 1u, b->cfg->active_low,
		   (dir >> line) & 1u);
	if (on)
		dut_start(r, b);
	else
		dut_cut(r, b, "power off");
}

static void lower(int *timeout_ms, uint64_t at, uint64_t now)
{
	uint64_t d = at > now ? at - now : 0;
	int ms = d > INT32_MAX ? INT32_MAX : (int)d;

	if (*timeout_ms < 0 || ms < *timeout_ms)
		*timeout_ms = ms;
}

void rack_board_poll(struct rack *r, struct rack_board *b, struct pollfd *fds, nfds_t *n,
		     int *timeout_ms)
{
	uint64_t now = lp_clock_mono_ms();

	b->usb_idx = b->con_idx = b->pid_idx = -1;
	if (b->usb_fd >= 0) {
		b->usb_idx = (int)*n;
		fds[(*n)++] = (struct pollfd){ .fd = b->usb_fd,
					       .events = POLLIN | (b->to_usb.len ? POLLOUT : 0) };
	} else {
		lower(timeout_ms, b->usb_retry_ms, now);
	}
	if (b->con_fd >= 0) {
		b->con_idx = (int)*n;
		fds[(*n)++] = (struct pollfd){ .fd = b->con_fd,
					       .events = POLLIN | (b->to_dut.len ? POLLOUT : 0) };
	} else if (b->state == RACK_DUT_ON && b->con_deadline_ms) {
		lower(timeout_ms, b->con_retry_ms, now);
	}
	if (b->state == RACK_DUT_ON && lp_proc_fd(b->dut) >= 0) {
		b->pid_idx = (int)*n;
		fds[(*n)++] = (struct pollfd){ .fd = lp_proc_fd(b->dut), .events = POLLIN };
	} else if (b->state == RACK_DUT_ON) {
		lower(timeout_ms, now + 100, now); /* no pidfd: look now and then */
	}
}

static void usb_lost(struct rack *r, struct rack_board *b)
{
	close_fd(&b->usb_fd);
	b->usb_retry_ms = lp_clock_mono_ms() + RACK_RETRY_MS;
	rack_event(r, "usb %s disconnected", b->cfg->name);
}

/* The controller's side of the cable. */
static void usb_io(struct rack *r, struct rack_board *b, short revents)
{
	static uint8_t buf[RACK_READ_CHUNK];
	ssize_t n;

	if ((revents & POLLOUT) && buf_flush(&b->to_usb, b->usb_fd) < 0) {
		usb_lost(r, b);
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = sock_read(b->usb_fd, buf, sizeof(buf));
	if (n < 0)
		usb_lost(r, b);
	else if (n > 0 && b->state == RACK_DUT_ON && b->con_fd >= 0)
		buf_push(&b->to_dut, buf, (size_t)n);
	/* else: an unpowered board (or one whose console is not up) hears nothing */
}

static void con_lost(struct rack *r, struct rack_board *b)
{
	uint64_t now = lp_clock_mono_ms();

	con_close(b);
	rack_event(r, "dut %s console closed", b->cfg->name);
	b->con_retry_ms = now + RACK_RETRY_MS; /* the DUT may serve it again (a reboot) */
	b->con_deadline_ms = now + RACK_CONSOLE_TIMEOUT_MS;
}

/* The DUT's side of the cable. */
static void con_io(struct rack *r, struct rack_board *b, short revents)
{
	if ((revents & POLLOUT) && buf_flush(&b->to_dut, b->con_fd) < 0) {
		con_lost(r, b);
		return;
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && con_read(b) < 0)
		con_lost(r, b);
}

static int usb_connect(struct rack *r, struct rack_board *b, uint64_t now)
{
	int fd = lp_io_unix_connect(b->usb_path, true);

	if (fd >= 0) {
		b->usb_fd = fd;
		b->usb_ever = true;
		rack_event(r, "usb %s connected", b->cfg->name);
		return 0;
	}
	if (!b->usb_ever && now >= r->usb_deadline_ms) {
		log_error("%s: no connection within %d s: %s", b->usb_path,
			  RACK_USB_TIMEOUT_MS / 1000, strerror(-fd));
		return -ETIMEDOUT;
	}
	b->usb_retry_ms = now + RACK_RETRY_MS;
	return 0;
}

static void con_connect(struct rack *r, struct rack_board *b, uint64_t now)
{
	int fd = lp_io_unix_connect(b->cfg->dut_console, true);

	if (fd >= 0) {
		b->con_fd = fd;
		b->con_deadline_ms = 0;
		rack_event(r, "dut %s console connected", b->cfg->name);
	} else if (now >= b->con_deadline_ms) {
		b->con_deadline_ms = 0;
		rack_event(r, "dut %s console unreachable (%s, %d s)", b->cfg->name,
			   strerror(-fd), RACK_CONSOLE_TIMEOUT_MS / 1000);
	} else {
		b->con_retry_ms = now + RACK_RETRY_MS;
	}
}

int rack_board_handle(struct rack *r, struct rack_board *b, const struct pollfd *fds)
{
	uint64_t now;

	if (b->usb_idx >= 0 && fds[b->usb_idx].fd == b->usb_fd && fds[b->usb_idx].revents)
		usb_io(r, b, fds[b->usb_idx].revents);
	if (b->con_idx >= 0 && fds[b->con_idx].fd == b->con_fd && fds[b->con_idx].revents)
		con_io(r, b, fds[b->con_idx].revents);
	if (b->state == RACK_DUT_ON && lp_proc_exited(b->dut))
		dut_exited(r, b);
	now = lp_clock_mono_ms();
	if (b->state == RACK_DUT_ON && b->con_fd < 0 && b->con_deadline_ms &&
	    now >= b->con_retry_ms)
		con_connect(r, b, now);
	if (b->usb_fd < 0 && now >= b->usb_retry_ms)
		return usb_connect(r, b, now);
	return 0;
}

void rack_board_close(struct rack *r, struct rack_board *b, const char *why)
{
	dut_cut(r, b, why);
	close_fd(&b->usb_fd);
	close_fd(&b->dut_log_fd);
	close_fd(&b->console_log_fd);
}

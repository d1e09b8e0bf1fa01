/* SPDX-License-Identifier: MIT */
/* The console core: one reader, fan-out to sinks and the timestamped log, reopening. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "console-driver.h"
#include "internal.h"
#include "loopline/fs.h"
#include "loopline/clock.h"

#define CONSOLE_READ_MAX 16384

ssize_t lp_hil_console_fd_read(struct lp_hil_console *c, void *buf, size_t len)
{
	ssize_t n = read(c->fd, buf, len);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

ssize_t lp_hil_console_fd_write(struct lp_hil_console *c, const void *buf, size_t len)
{
	ssize_t n = write(c->fd, buf, len);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

void lp_hil_console_fd_close(struct lp_hil_console *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int fd_open(struct lp_hil_console *c, struct lp_diag *diag)
{
	/* a console made from an fd cannot be reopened */
	return lp_diag_fail(diag, -EPIPE, "%s: stream ended", c->desc);
}

const struct lp_hil_console_ops lp_hil_console_fd_ops = {
	.name = "fd",
	.open = fd_open,
	.close = lp_hil_console_fd_close,
	.read = lp_hil_console_fd_read,
	.write = lp_hil_console_fd_write,
};

static int open_log(struct lp_hil_console *c, const char *log_path)
{
	char dir[PATH_MAX];
	int r;

	if (!log_path)
		return 0;
	r = lp_fs_dirname(dir, sizeof(dir), log_path);
	if (r == 0)
		r = lp_fs_mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	c->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (c->log_fd < 0)
		return -errno;
	return 0;
}

static struct lp_hil_console *console_alloc(void)
{
	struct lp_hil_console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = -1;
	c->log_fd = -1;
	c->log_bol = true;
	return c;
}

int lp_hil_console_open(const struct lp_hil_console_config *cfg, const char *socket_path,
			const char *log_path, struct lp_hil_console **ret_console,
			struct lp_diag *diag)
{
	struct lp_hil_console *c = console_alloc();
	uint64_t deadline;
	int r;

	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->reconnect_ms = cfg->reconnect_ms;
	switch (cfg->kind) {
	case LP_HIL_CONSOLE_SERIAL:
		c->ops = &lp_hil_console_serial_ops;
		c->port = strdup(cfg->port);
		snprintf(c->desc, sizeof(c->desc), "serial %s", cfg->port);
		break;
	case LP_HIL_CONSOLE_TCP:
		c->ops = &lp_hil_console_tcp_ops;
		c->host = strdup(cfg->host);
		snprintf(c->desc, sizeof(c->desc), "tcp %s:%u", cfg->host, cfg->tcp_port);
		break;
	case LP_HIL_CONSOLE_UNIX:
	case LP_HIL_CONSOLE_QEMU: {
		const char *p = cfg->kind == LP_HIL_CONSOLE_UNIX ? cfg->path : socket_path;

		if (!p) {
			free(c);
			return lp_diag_fail(diag, -EINVAL, "console: no socket path");
		}
		c->ops = &lp_hil_console_unix_ops;
		c->path = strdup(p);
		snprintf(c->desc, sizeof(c->desc), "unix socket %s", p);
		break;
	}
	default:
		free(c);
		return -EINVAL;
	}
	c->cfg.port = c->port;
	c->cfg.host = c->host;
	c->cfg.path = c->path;
	if ((cfg->kind == LP_HIL_CONSOLE_SERIAL && !c->port) ||
	    (cfg->kind == LP_HIL_CONSOLE_TCP && !c->host) ||
	    ((cfg->kind == LP_HIL_CONSOLE_UNIX || cfg->kind == LP_HIL_CONSOLE_QEMU) && !c->path)) {
		r = -ENOMEM;
		goto fail;
	}
	r = open_log(c, log_path);
	if (r < 0) {
		lp_diag_fail(diag, r, "console log %s: %s", log_path, strerror(-r));
		goto fail;
	}
	/* The first open retries only briefly (a socket that is about to appear); a port
	 * that does not exist at all is reported at once by the serial driver. */
	deadline = lp_clock_deadline_ms(c->reconnect_ms < 2000 ? c->reconnect_ms : 2000);
	for (unsigned backoff = 20;; backoff = backoff < 500 ? backoff * 2 : 500) {
		r = c->ops->open(c, diag);
		/* only a socket that is about to appear is worth another try */
		if (r >= 0 || (r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN) ||
		    lp_clock_ms_left(deadline) == 0)
			break;
		lp_clock_sleep_ms(backoff);
	}
	if (r < 0)
		goto fail;
	*ret_console = c;
	return 0;
fail:
	lp_hil_console_close(c);
	return r;
}

int lp_hil_console_from_fd(int fd, const char *log_path, struct lp_hil_console **ret_console)
{
	struct lp_hil_console *c = console_alloc();
	int r;

	if (!c)
		return -ENOMEM;
	c->ops = &lp_hil_console_fd_ops;
	c->fd = fd;
	snprintf(c->desc, sizeof(c->desc), "fd %d", fd);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	r = open_log(c, log_path);
	if (r < 0) {
		c->fd = -1; /* the caller keeps fd on failure */
		lp_hil_console_close(c);
		return r;
	}
	*ret_console = c;
	return 0;
}

void lp_hil_console_close(struct lp_hil_console *c)
{
	if (!c)
		return;
	if (c->ops)
		c->ops->close(c);
	else if (c->fd >= 0)
		close(c->fd);
	if (c->log_fd >= 0)
		close(c->log_fd);
	free(c->port);
	free(c->host);
	free(c->path);
	free(c);
}

int lp_hil_console_add_sink(struct lp_hil_console *c, lp_hil_console_feed_fn *feed,
			    void *userdata)
{
	for (int i = 0; i < LP_HIL_CONSOLE_MAX_SINKS; i++)
		if (!c->sinks[i].feed) {
			c->sinks[i].feed = feed;
			c->sinks[i].userdata = userdata;
			return i;
		}
	return -ENOSPC;
}

void lp_hil_console_remove_sink(struct lp_hil_console *c, int id)
{
	if (c && id >= 0 && id < LP_HIL_CONSOLE_MAX_SINKS)
		c->sinks[id].feed = NULL;
}

static void log_stamp(struct lp_hil_console *c)
{
	struct timeval tv;
	struct tm tm;
	char ts[40];
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ ", (long)(tv.tv_usec / 1000));
	(void)!write(c->log_fd, ts, strlen(ts));
}

/* Writes bytes to the log, a timestamp at the start of every line. Logging is best
 * effort: a full disk must not stop a test run. */
static void log_bytes(struct lp_hil_console *c, const uint8_t *buf, size_t len)
{
	size_t start = 0;

	if (c->log_fd < 0)
		return;
	for (size_t i = 0; i < len; i++) {
		if (c->log_bol) {
			log_stamp(c);
			c->log_bol = false;
		}
		if (buf[i] == '\n') {
			(void)!write(c->log_fd, buf + start, i + 1 - start);
			start = i + 1;
			c->log_bol = true;
		}
	}
	if (start < len)
		(void)!write(c->log_fd, buf + start, len - start);
}

static int reopen(struct lp_hil_console *c)
{
	uint64_t deadline = lp_clock_deadline_ms(c->reconnect_ms);
	unsigned backoff = 20;

	c->ops->close(c);
	if (c->ops == &lp_hil_console_fd_ops)
		return -EPIPE;
	for (;;) {
		if (c->ops->open(c, NULL) >= 0)
			return 0;
		if (lp_clock_ms_left(deadline) == 0)
			return -EPIPE;
		lp_clock_sleep_ms(backoff);
		backoff = backoff < 500 ? backoff * 2 : 500;
	}
}

int lp_hil_console_pump(struct lp_hil_console *c, int timeout_ms)
{
	uint8_t buf[CONSOLE_READ_MAX];
	struct pollfd pfd;
	ssize_t n;
	int r;

	if (c->fd < 0) {
		r = reopen(c);
		if (r < 0)
			return r;
	}
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return 0;
	n = c->ops->read(c, buf, sizeof(buf));
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n <= 0) {
		/* end of stream or a vanished device: reopen within reconnect time */
		r = reopen(c);
		return r < 0 ? r : 0;
	}
	log_bytes(c, buf, (size_t)n);
	for (int i = 0; i < LP_HIL_CONSOLE_MAX_SINKS; i++)
		if (c->sinks[i].feed)
			c->sinks[i].feed(c->sinks[i].userdata, buf, (size_t)n);
	return (int)n;
}

int lp_hil_console_write(struct lp_hil_console *c, const void *buf, size_t len,
			 unsigned timeout_ms)
{
	const uint8_t *p = buf;
	uint64_t deadline = lp_clock_deadline_ms(timeout_ms);

	while (len > 0) {
		ssize_t n;

		if (c->fd < 0) {
			int r = reopen(c);

			if (r < 0)
				return r;
		}
		n = c->ops->write(c, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -EAGAIN || n == -EINTR || n == 0) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
			int left = lp_clock_ms_left(deadline);

			if (left == 0)
				return -ETIMEDOUT;
			poll(&pfd, 1, left < 100 ? left : 100);
			continue;
		}
		return (int)n;
	}
	return 0;
}

int lp_hil_console_fd(const struct lp_hil_console *c)
{
	return c->fd;
}

const char *lp_hil_console_describe(const struct lp_hil_console *c)
{
	return c->desc;
}

/* SPDX-License-Identifier: MIT */
/* Console over raw TCP, as served by ser2net ("raw" mode) or a console server. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console-driver.h"
#include "internal.h"

#define TCP_CONNECT_TIMEOUT_MS 5000

static int connect_one(const struct addrinfo *ai)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, TCP_CONNECT_TIMEOUT_MS) <= 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		close(fd);
		return err ? -err : -errno;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int tcp_open(struct lp_hil_console *c, struct lp_diag *diag)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char port[16];
	int r, fd = -ECONNREFUSED;

	snprintf(port, sizeof(port), "%u", c->cfg.tcp_port);
	r = getaddrinfo(c->host, port, &hints, &res);
	if (r != 0)
		return lp_diag_fail(diag, -EHOSTUNREACH, "%s: %s", c->desc, gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return lp_diag_fail(diag, fd, "%s: cannot connect: %s", c->desc, strerror(-fd));
	c->fd = fd;
	return 0;
}

const struct lp_hil_console_ops lp_hil_console_tcp_ops = {
	.name = "tcp",
	.open = tcp_open,
	.close = lp_hil_console_fd_close,
	.read = lp_hil_console_fd_read,
	.write = lp_hil_console_fd_write,
};

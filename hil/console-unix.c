/* SPDX-License-Identifier: MIT */
/* Console on a unix stream socket, e.g. a QEMU chardev (server=on). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "console-driver.h"
#include "internal.h"

static int unix_open(struct lp_hil_console *c, struct lp_diag *diag)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (strlen(c->path) >= sizeof(sa.sun_path))
		return lp_diag_fail(diag, -ENAMETOOLONG, "%s: path longer than %zu bytes",
				    c->desc, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return lp_diag_fail(diag, r, "%s: cannot connect: %s", c->desc, strerror(-r));
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->fd = fd;
	return 0;
}

const struct lp_hil_console_ops lp_hil_console_unix_ops = {
	.name = "unix",
	.open = unix_open,
	.close = lp_hil_console_fd_close,
	.read = lp_hil_console_fd_read,
	.write = lp_hil_console_fd_write,
};

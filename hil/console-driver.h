/* SPDX-License-Identifier: MIT */
/* The interface between console.c and one console driver file. */
#pragma once

#include <sys/types.h>
#include "loopline-hil/console.h"

struct lp_hil_console_ops {
	const char *name;
	/* Opens (or reopens) the stream; sets c->fd to a pollable non-blocking fd. */
	int (*open)(struct lp_hil_console *c, struct lp_diag *diag);
	void (*close)(struct lp_hil_console *c);
	/* >0 bytes, 0 = end of stream, -EAGAIN = nothing now, other -errno = broken. */
	ssize_t (*read)(struct lp_hil_console *c, void *buf, size_t len);
	ssize_t (*write)(struct lp_hil_console *c, const void *buf, size_t len);
};

struct lp_hil_console_sink {
	lp_hil_console_feed_fn *feed;
	void *userdata;
};

struct lp_hil_console {
	const struct lp_hil_console_ops *ops;
	int fd;
	void *drv;                      /* driver state (serial: struct sp_port *) */
	struct lp_hil_console_config cfg; /* strings borrowed from the copies below */
	char *port, *host, *path;
	unsigned reconnect_ms;
	char desc[300];
	int log_fd;
	bool log_bol;                   /* next logged byte starts a line */
	struct lp_hil_console_sink sinks[LP_HIL_CONSOLE_MAX_SINKS];
};

extern const struct lp_hil_console_ops lp_hil_console_unix_ops;
extern const struct lp_hil_console_ops lp_hil_console_tcp_ops;
extern const struct lp_hil_console_ops lp_hil_console_serial_ops;
extern const struct lp_hil_console_ops lp_hil_console_fd_ops;

/* Shared by fd-based drivers. */
ssize_t lp_hil_console_fd_read(struct lp_hil_console *c, void *buf, size_t len);
ssize_t lp_hil_console_fd_write(struct lp_hil_console *c, const void *buf, size_t len);
void lp_hil_console_fd_close(struct lp_hil_console *c);

/* SPDX-License-Identifier: MIT */
/*
 * Serial console through libserialport. USB serial adapters disappear and come back
 * (re-enumeration after a board power cycle, a loose cable): the port is looked up by
 * name on every open, so a /dev/serial/by-id/ path (or a udev SYMLINK) finds the adapter
 * again. libserialport only knows kernel names (ttyUSB0): the link is resolved with
 * realpath() on every open, so after a re-plug it follows the adapter to its new name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console-driver.h"
#include "internal.h"

static int sp_err(enum sp_return r)
{
	switch (r) {
	case SP_ERR_ARG:
		return -EINVAL;
	case SP_ERR_MEM:
		return -ENOMEM;
	case SP_ERR_SUPP:
		return -EOPNOTSUPP;
	default: {
		int e = sp_last_error_code();

		return e > 0 ? -e : -EIO;
	}
	}
}

static void serial_close(struct lp_hil_console *c)
{
	struct sp_port *port = c->drv;

	if (port) {
		sp_close(port);
		sp_free_port(port);
	}
	c->drv = NULL;
	c->fd = -1;
}

static int serial_configure(struct lp_hil_console *c, struct sp_port *port)
{
	static const enum sp_parity parity[] = {SP_PARITY_NONE, SP_PARITY_ODD, SP_PARITY_EVEN};
	static const enum sp_flowcontrol flow[] = {SP_FLOWCONTROL_NONE, SP_FLOWCONTROL_XONXOFF,
						   SP_FLOWCONTROL_RTSCTS};
	enum sp_return r;

	if ((r = sp_set_baudrate(port, (int)c->cfg.baud)) != SP_OK ||
	    (r = sp_set_bits(port, (int)c->cfg.data_bits)) != SP_OK ||
	    (r = sp_set_parity(port, parity[c->cfg.parity])) != SP_OK ||
	    (r = sp_set_stopbits(port, (int)c->cfg.stop_bits)) != SP_OK ||
	    (r = sp_set_flowcontrol(port, flow[c->cfg.flow])) != SP_OK)
		return sp_err(r);
	return 0;
}

static int serial_open(struct lp_hil_console *c, struct lp_diag *diag)
{
	struct sp_port *port = NULL;
	enum sp_return sr;
	char real[PATH_MAX];
	struct stat st;
	int fd, r;

	if (stat(c->port, &st) < 0 || !realpath(c->port, real)) {
		r = -errno;
		return lp_diag_fail(diag, r == -ENOENT ? -ENODEV : r,
				    "serial port %s does not exist (%s); is the adapter plugged "
				    "in? /dev/serial/by-id/ lists the connected ones",
				    c->port, strerror(-r));
	}
	sr = sp_get_port_by_name(real, &port);
	if (sr != SP_OK) {
		r = sp_err(sr);
		return lp_diag_fail(diag, -ENODEV, "serial port %s%s%s: not a serial port known to "
				    "libserialport (%s)", c->port, strcmp(real, c->port) ? " -> " : "",
				    strcmp(real, c->port) ? real : "", strerror(-r));
	}
	sr = sp_open(port, SP_MODE_READ_WRITE);
	if (sr != SP_OK) {
		r = sp_err(sr);
		sp_free_port(port);
		return lp_diag_fail(diag, r, "serial port %s: cannot open: %s", c->port,
				    strerror(-r));
	}
	r = serial_configure(c, port);
	if (r < 0) {
		sp_close(port);
		sp_free_port(port);
		return lp_diag_fail(diag, r, "serial port %s: cannot configure %u baud: %s",
				    c->port, c->cfg.baud, strerror(-r));
	}
	if (sp_get_port_handle(port, &fd) != SP_OK) {
		sp_close(port);
		sp_free_port(port);
		return lp_diag_fail(diag, -EIO, "serial port %s: no file descriptor", c->port);
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	c->drv = port;
	c->fd = fd;
	return 0;
}

static ssize_t serial_read(struct lp_hil_console *c, void *buf, size_t len)
{
	enum sp_return r = sp_nonblocking_read(c->drv, buf, len);

	if (r < 0)
		return sp_err(r);
	if (r == 0) {
		/* poll said readable but nothing came: the device went away (hang-up) */
		struct stat st;

		return stat(c->port, &st) < 0 ? 0 : -EAGAIN;
	}
	return r;
}

static ssize_t serial_write(struct lp_hil_console *c, const void *buf, size_t len)
{
	enum sp_return r = sp_nonblocking_write(c->drv, buf, len);

	if (r < 0)
		return sp_err(r);
	return r == 0 ? -EAGAIN : r;
}

const struct lp_hil_console_ops lp_hil_console_serial_ops = {
	.name = "serial",
	.open = serial_open,
	.close = serial_close,
	.read = serial_read,
	.write = serial_write,
};

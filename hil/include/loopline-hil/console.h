/* SPDX-License-Identifier: MIT */
/*
 * Consoles: one byte stream per board (serial port, TCP to ser2net, unix socket of a
 * QEMU chardev). A console has exactly one reader: lp_hil_console_pump() reads what is
 * there and fans it out to every sink — the timestamped log file, the expect engine, an
 * interactive session — so no byte is seen by one consumer and missed by another.
 *
 * When the stream ends (adapter unplugged and re-enumerated, QEMU restarted) the pump
 * reopens the console for up to the configured reconnect time before failing.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "loopline/diag.h"
#include "loopline-hil/inventory.h"

#define LP_HIL_CONSOLE_MAX_SINKS 8

struct lp_hil_console;

/* Receives every byte read from the console, in order. */
typedef void lp_hil_console_feed_fn(void *userdata, const uint8_t *buf, size_t len);

/* Opens the console described by cfg. For LP_HIL_CONSOLE_QEMU, socket_path is the unix
 * socket made by the qemu power driver (ignored otherwise). log_path (NULL = no log) is
 * opened for appending; each line gets an ISO-8601 UTC timestamp. */
int lp_hil_console_open(const struct lp_hil_console_config *cfg, const char *socket_path,
			const char *log_path, struct lp_hil_console **ret_console,
			struct lp_diag *diag);
/* A console on an already-connected fd (tests, socketpairs); the console owns fd. */
int lp_hil_console_from_fd(int fd, const char *log_path, struct lp_hil_console **ret_console);
void lp_hil_console_close(struct lp_hil_console *c);

/* Registers a sink; returns its id (>= 0) or -ENOSPC. */
int lp_hil_console_add_sink(struct lp_hil_console *c, lp_hil_console_feed_fn *feed,
			    void *userdata);
void lp_hil_console_remove_sink(struct lp_hil_console *c, int id);

/* Waits up to timeout_ms for bytes, reads what is available (bounded) and feeds every
 * sink. Returns the number of bytes read, 0 on timeout, -EPIPE when the stream ended and
 * could not be reopened, other negative errno on errors. */
int lp_hil_console_pump(struct lp_hil_console *c, int timeout_ms);
/* Writes all of buf within timeout_ms. */
int lp_hil_console_write(struct lp_hil_console *c, const void *buf, size_t len,
			 unsigned timeout_ms);
/* The fd to poll for readability (changes after a reopen). */
int lp_hil_console_fd(const struct lp_hil_console *c);
/* Short description such as "serial /dev/ttyUSB0" for messages. */
const char *lp_hil_console_describe(const struct lp_hil_console *c);

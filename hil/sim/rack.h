/* SPDX-License-Identifier: MIT */
/*
 * loopline-rack-sim: the host side of a virtual lab rack. An aarch64 QEMU guest plays
 * the lab controller; its PL061 GPIO lines drive simulated relays (read from QEMU's
 * trace output) that power DUT boards (host commands, usually x86_64 QEMU) on and off,
 * and one QEMU usb-serial adapter per board carries the DUT's console to the controller.
 * Single-threaded: one poll loop (rack.c) over the controller (controller.c) and the
 * boards (board.c); events go to DIR/events.log (events.c). docs/hil.md describes it.
 */
#pragma once

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loopline/common.h"
#include "loopline/io.h"
#include "loopline/proc.h"
#include "rack-trace.h"

/* ---- limits, all in one place ---- */
#define RACK_BOARDS_MAX (RACK_GPIO_LINES - 1)  /* every line but the power button */
#define RACK_NAME_MAX 64                        /* board name: A-Za-z0-9._- */
#define RACK_APPEND_MAX 1024                    /* --append (the kernel takes 2048 in all) */
#define RACK_RELAY_BUF (64u * 1024u)            /* per direction and board; then dropped */
#define RACK_READ_CHUNK (16u * 1024u)           /* one read(2) from a socket or pipe */
#define RACK_RETRY_MS 50                        /* connect attempts (usb chardev, console) */
#define RACK_USB_TIMEOUT_MS 30000               /* first connect to the usb chardevs */
#define RACK_CONSOLE_TIMEOUT_MS 30000           /* DUT console, after each start or close */
#define RACK_REAP_MS 5000                       /* a SIGKILLed DUT to be gone */
#define RACK_CONTROLLER_GRACE_MS 5000           /* controller: SIGTERM, then SIGKILL */
#define RACK_MEMORY_DEFAULT 512                 /* MiB of the controller */
#define RACK_PATH_MAX (LP_IO_UNIX_PATH_MAX + 1)  /* every socket path fits sun_path */

struct rack_board_cfg {
	char name[RACK_NAME_MAX + 1];
	int line;                /* -1 until --line */
	bool active_low;
	const char *dut_console; /* unix socket the DUT serves its console on */
	const char *dut_cmd;     /* /bin/sh -c command that powers the DUT */
};

struct rack_cfg {
	const char *dir, *kernel, *initrd, *append, *qemu;
	unsigned memory_mib;
	struct rack_board_cfg boards[RACK_BOARDS_MAX];
	size_t n_boards;
};

/* A byte queue of at most RACK_RELAY_BUF; what does not fit is dropped and counted. */
struct rack_buf {
	uint8_t data[RACK_RELAY_BUF];
	size_t len;
	uint64_t dropped;
};

enum rack_dut_state {
	RACK_DUT_OFF,     /* relay off */
	RACK_DUT_ON,      /* relay on, the DUT command runs */
	RACK_DUT_EXITED,  /* relay on, the DUT command ended (or did not start) */
};

struct rack_board {
	const struct rack_board_cfg *cfg;
	char usb_path[RACK_PATH_MAX];   /* DIR/usb-NAME.sock, served by the controller */
	bool relay;
	int usb_fd;                     /* our end of the usb-serial chardev, or -1 */
	bool usb_ever;                  /* connected once (startup is over for it) */
	uint64_t usb_retry_ms;          /* next connect attempt while usb_fd < 0 */
	enum rack_dut_state state;
	struct lp_proc *dut;
	int con_fd;                     /* the DUT console connection, or -1 */
	uint64_t con_retry_ms, con_deadline_ms; /* connect attempts; deadline 0: none */
	int dut_log_fd, console_log_fd; /* NAME.dut.log, NAME.console.log (O_APPEND) */
	struct rack_buf to_dut, to_usb;
	int usb_idx, con_idx, pid_idx;  /* their pollfd slots this round, -1 if none */
};

struct rack {
	const struct rack_cfg *cfg;
	uint64_t start_ms;
	int events_fd, ctl_log_fd, lock_fd;
	struct lp_proc *ctl;
	int ctl_err_fd;                 /* the controller's stderr (a pipe), or -1 at its end */
	struct rack_line_reader lines;
	char gpio_device[RACK_TRACE_DEVICE_MAX]; /* the PL061 followed: the first one seen */
	bool other_device_seen;
	uint8_t gpio_dir, gpio_data;
	bool ready;
	uint64_t usb_deadline_ms;
	char last_msg[256];             /* QEMU's last stderr line that was not a trace */
	struct rack_board boards[RACK_BOARDS_MAX];
	size_t n_boards;
};

/* rack.c: runs the rack until *stop is set by a signal handler (0) or the controller ends
 * or a fatal error happens (< 0, logged). The stop signals are blocked by the caller
 * except while the loop waits: wait_mask is the signal mask for ppoll(2). */
int rack_run(const struct rack_cfg *cfg, const volatile sig_atomic_t *stop,
	     const sigset_t *wait_mask);

/* events.c: "T WHAT..." to DIR/events.log (T: seconds since start, 3 decimals), written
 * at once, and to the log at info level. */
void rack_event(struct rack *r, const char *fmt, ...) LP_PRINTF(2, 3);
/* Appends to a log file; the first failure is logged. */
void rack_log_append(int fd, const char *name, const void *data, size_t len);

/* controller.c */
int rack_controller_start(struct rack *r);
/* Reads what the controller printed on stderr (traces move relays); until_eof drains
 * the pipe (after the controller has exited). */
void rack_controller_read(struct rack *r, bool until_eof);
void rack_controller_stop(struct rack *r);

/* board.c */
/* Paths and log files of a board (0, or -errno logged). */
int rack_board_init(struct rack *r, struct rack_board *b, const struct rack_board_cfg *cfg);
/* The relay's new state from the GPIO registers: starts or cuts the DUT. */
void rack_board_gpio(struct rack *r, struct rack_board *b, uint8_t dir, uint8_t data);
/* Adds the board's descriptors to fds and lowers *timeout_ms to its next timer. */
void rack_board_poll(struct rack *r, struct rack_board *b, struct pollfd *fds, nfds_t *n,
		     int *timeout_ms);
/* Handles the board's poll results, then its timers (connect attempts). < 0: fatal. */
int rack_board_handle(struct rack *r, struct rack_board *b, const struct pollfd *fds);
/* Cuts the DUT (event "stopped (why)") and closes everything. */
void rack_board_close(struct rack *r, struct rack_board *b, const char *why);

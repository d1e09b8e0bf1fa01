/* SPDX-License-Identifier: MIT */
/*
 * console BOARD: interactive passthrough. The terminal goes raw (every key, Ctrl-C
 * included, reaches the board); Ctrl-] then q quits, Ctrl-] Ctrl-] sends one Ctrl-].
 * Console output is written to stdout as it arrives (the log file gets it too). When
 * stdin is not a terminal, its end also ends the session, once the board has been quiet
 * for half a second (scripts can pipe keystrokes in and read the answer).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"
#include "loopline/clock.h"
#include "loopline/log.h"

#define ESCAPE_CHAR 0x1d /* Ctrl-] */
#define CONSOLE_DRAIN_QUIET_MS 500
#define CONSOLE_DRAIN_MAX_MS 5000

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void out_sink(void *userdata, const uint8_t *buf, size_t len)
{
	lp_hil_write_all(STDOUT_FILENO, buf, len, 5000);
}

/* Keys from the terminal to the board: Ctrl-] q (or .) quits, Ctrl-] Ctrl-] sends one
 * Ctrl-], other escapes are dropped. Returns 1 to quit, 0, or a negative errno. */
static int keys_to_board(struct lp_hil_console *con, const uint8_t *in, size_t n, bool *escaped)
{
	uint8_t out[1024];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (*escaped) {
			*escaped = false;
			if (in[i] == 'q' || in[i] == 'Q' || in[i] == '.')
				return 1;
			if (in[i] == ESCAPE_CHAR)
				out[o++] = ESCAPE_CHAR;
			continue; /* unknown escape: dropped */
		}
		if (in[i] == ESCAPE_CHAR) {
			*escaped = true;
			continue;
		}
		out[o++] = in[i];
	}
	return o ? lp_hil_console_write(con, out, o, 5000) : 0;
}

/* The end of piped input: show what the board still answers (until it is quiet for a
 * moment, at most a few seconds). */
static void drain_console(struct lp_hil_console *con)
{
	uint64_t until = lp_clock_deadline_ms(CONSOLE_DRAIN_MAX_MS);

	while (lp_clock_ms_left(until) > 0 && lp_hil_console_pump(con, CONSOLE_DRAIN_QUIET_MS) > 0)
		;
}

/* Passes bytes both ways until the escape, the end of input or a signal; an exit code. */
static int session(struct lp_hil_console *con, const char *board, bool tty,
		   const struct termios *saved, bool *raw_set)
{
	bool escaped = false;

	while (!got_signal) {
		struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
					 { .fd = lp_hil_console_fd(con), .events = POLLIN } };
		uint8_t in[512];
		ssize_t n;
		int k;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return LP_EXIT_FAILURE;
		}
		if (fds[1].revents && (k = lp_hil_console_pump(con, 0)) < 0) {
			if (*raw_set)
				tcsetattr(STDIN_FILENO, TCSANOW, saved);
			*raw_set = false;
			log_error("%s: console lost: %s", board, strerror(-k));
			return LP_EXIT_FAILURE;
		}
		if (!fds[0].revents)
			continue;
		n = read(STDIN_FILENO, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!tty)
				drain_console(con);
			return 0;
		}
		k = keys_to_board(con, in, (size_t)n, &escaped);
		if (k != 0)
			return k > 0 ? 0 : LP_EXIT_FAILURE;
	}
	return 0;
}

int cmd_console(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	const char *name = cli->args[0];
	struct lp_hil_board *b = NULL;
	struct lp_hil_console *con;
	struct termios saved, raw;
	struct sigaction sa = { 0 };
	struct lp_diag diag;
	bool tty = isatty(STDIN_FILENO), raw_set = false;
	int r;

	if ((r = hil_board_open(cli, h, name, "loopline-hil console", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	lp_hil_board_add_sink(b, out_sink, NULL);
	r = lp_hil_board_console(b, &con, &diag);
	if (r < 0) {
		r = hil_fail(r, &diag);
		goto out;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (tty) {
		if (tcgetattr(STDIN_FILENO, &saved) == 0) {
			raw = saved;
			cfmakeraw(&raw);
			if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
				raw_set = true;
		}
		fprintf(stderr, "Connected to %s (%s). Escape: Ctrl-] q\r\n", name,
			lp_hil_console_describe(con));
	}
	r = session(con, name, tty, &saved, &raw_set);
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (tty)
		fprintf(stderr, "\r\nDisconnected from %s.\r\n", name);
out:
	hil_board_close(h, b);
	return r;
}

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

int cmd_console(struct cli *cli, int argc, char **argv)
{
	struct lp_hil_board *b = NULL;
	struct lp_hil_console *con;
	struct termios saved, raw;
	struct sigaction sa = {0};
	struct lp_diag diag;
	bool tty = isatty(STDIN_FILENO), escaped = false, raw_set = false;
	int r;

	if (argc != 2)
		return cli_usage_error("console: expected BOARD");
	if ((r = cli_board_open(cli, argv[1], "loopline-hil console", &b)) != 0)
		return r;
	lp_diag_clear(&diag);
	lp_hil_board_add_sink(b, out_sink, NULL);
	r = lp_hil_board_console(b, &con, &diag);
	if (r < 0) {
		r = cli_fail(r, &diag);
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
		fprintf(stderr, "Connected to %s (%s). Escape: Ctrl-] q\r\n", argv[1],
			lp_hil_console_describe(con));
	}
	r = 0;
	while (!got_signal) {
		struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
					{.fd = lp_hil_console_fd(con), .events = POLLIN}};
		uint8_t in[512], outb[1024];
		size_t o = 0;
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = LP_EXIT_FAILURE;
			break;
		}
		if (fds[1].revents) {
			int k = lp_hil_console_pump(con, 0);

			if (k < 0) {
				if (raw_set)
					tcsetattr(STDIN_FILENO, TCSANOW, &saved);
				raw_set = false;
				log_error("%s: console lost: %s", argv[1], strerror(-k));
				r = LP_EXIT_FAILURE;
				break;
			}
		}
		if (!fds[0].revents)
			continue;
		n = read(STDIN_FILENO, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* end of piped input: show what the board still answers (until it is
			 * quiet for a moment, at most a few seconds), then leave */
			uint64_t until = lp_clock_deadline_ms(CONSOLE_DRAIN_MAX_MS);

			while (!tty && lp_clock_ms_left(until) > 0 &&
			       lp_hil_console_pump(con, CONSOLE_DRAIN_QUIET_MS) > 0)
				;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (escaped) {
				escaped = false;
				if (in[i] == 'q' || in[i] == 'Q' || in[i] == '.')
					goto done;
				if (in[i] == ESCAPE_CHAR)
					outb[o++] = ESCAPE_CHAR;
				continue; /* unknown escape: dropped */
			}
			if (in[i] == ESCAPE_CHAR) {
				escaped = true;
				continue;
			}
			outb[o++] = in[i];
		}
		if (o && lp_hil_console_write(con, outb, o, 5000) < 0) {
			r = LP_EXIT_FAILURE;
			break;
		}
	}
done:
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (tty)
		fprintf(stderr, "\r\nDisconnected from %s.\r\n", argv[1]);
out:
	cli_board_close(cli, b);
	return r;
}

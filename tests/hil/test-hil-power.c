/* SPDX-License-Identifier: MIT */
/*
 * Power drivers without QEMU: the command driver with real scripts (incl. a timeout that
 * kills the whole process group), the error paths of gpiod (there is no GPIO chip on
 * this machine), manual (no terminal) and serial (missing port), and the tcp console
 * against a real server on 127.0.0.1 that drops the connection (the console reconnects).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"

#include "loopline-hil/board.h"
#include "loopline-hil/console.h"
#include "loopline-hil/expect.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/power.h"

static char dir[64];

static int group_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lp-hil-power-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct lp_hil_inventory *inventory(const char *fmt, ...) LP_PRINTF(1, 2);
static struct lp_hil_inventory *inventory(const char *fmt, ...)
{
	struct lp_hil_inventory *inv = NULL;
	char text[4096], name[128], msg[1024];
	struct lp_diag diag;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(name, sizeof(name), "%s/rack.yaml", dir);
	if (lp_hil_inventory_parse(text, strlen(text), name, &inv, &diag) < 0)
		fail_msg("inventory: %s", lp_diag_format(&diag, msg, sizeof(msg)));
	return inv;
}

static char *slurp(const char *name)
{
	static char buf[4096];
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Waits (pidfd, bounded) until pid has exited; a zombie the reparenting init has not
 * reaped yet counts as exited. */
static bool exits_within(pid_t pid, int timeout_ms)
{
	struct pollfd p;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), n;

	if (fd < 0)
		return errno == ESRCH;
	p.fd = fd;
	p.events = POLLIN;
	n = poll(&p, 1, timeout_ms);
	close(fd);
	return n == 1;
}

static void test_command_driver(void **state)
{
	struct lp_hil_inventory *inv = inventory(
		"boards:\n"
		"  pdu:\n"
		"    power:\n"
		"      driver: command\n"
		"      on: echo \"on $LOOPLINE_HIL_BOARD\" >> %s/events; echo 1 > %s/relay\n"
		"      off: echo off >> %s/events; echo 0 > %s/relay\n"
		"      status: 'exit $(( 1 - $(cat %s/relay) ))'\n"
		"      cycle_delay: 10ms\n"
		"    console: {driver: tcp, host: 127.0.0.1, port: 9}\n",
		dir, dir, dir, dir, dir);
	struct lp_hil_power *p = NULL;
	enum lp_hil_power_state st;
	struct lp_diag diag = {0};

	assert_int_equal(lp_hil_power_open(inv, &inv->boards[0], &p, &diag), 0);
	assert_int_equal(lp_hil_power_on(p, 0, &diag), 0);
	assert_int_equal(lp_hil_power_status(p, &st, &diag), 0);
	assert_int_equal(st, LP_HIL_POWER_STATE_ON);
	assert_int_equal(lp_hil_power_off(p, &diag), 0);
	assert_int_equal(lp_hil_power_status(p, &st, &diag), 0);
	assert_int_equal(st, LP_HIL_POWER_STATE_OFF);
	/* no cycle command: off, delay, on */
	assert_int_equal(lp_hil_power_cycle(p, &diag), 0);
	assert_int_equal(lp_hil_power_status(p, &st, &diag), 0);
	assert_int_equal(st, LP_HIL_POWER_STATE_ON);
	assert_string_equal(slurp("events"), "on pdu\noff\noff\non pdu\n");
	lp_hil_power_close(p);
	lp_hil_inventory_free(inv);
}

static void test_command_failures(void **state)
{
	struct lp_hil_inventory *inv = inventory(
		"boards:\n"
		"  pdu:\n"
		"    power:\n"
		"      driver: command\n"
		"      on: 'sleep 30 & echo $! > %s/sleeper; wait'\n"
		"      off: exit 3\n"
		"      cycle: 'true'\n"
		"      status: exit 7\n"
		"      timeout: 300ms\n"
		"    console: {driver: tcp, host: 127.0.0.1, port: 9}\n"
		"  nostatus:\n"
		"    power: {driver: command, on: 'true', off: 'true'}\n"
		"    console: {driver: tcp, host: 127.0.0.1, port: 9}\n",
		dir);
	struct lp_hil_power *p = NULL;
	enum lp_hil_power_state st;
	struct lp_diag diag = {0};
	uint64_t t0 = lp_clock_mono_ms();
	long pid;

	assert_int_equal(lp_hil_power_open(inv, &inv->boards[0], &p, &diag), 0);
	assert_int_equal(lp_hil_power_on(p, 0, &diag), -ETIMEDOUT);
	assert_true(lp_clock_mono_ms() - t0 < 3000);
	assert_non_null(strstr(diag.msg, "timed out after 300 ms"));
	/* the whole process group went with it */
	assert_non_null(slurp("sleeper"));
	pid = strtol(slurp("sleeper"), NULL, 10);
	assert_true(pid > 0);
	assert_true(exits_within((pid_t)pid, 5000));

	assert_int_equal(lp_hil_power_off(p, &diag), -EIO);
	assert_non_null(strstr(diag.msg, "exit status 3"));
	assert_int_equal(lp_hil_power_cycle(p, &diag), 0);
	assert_int_equal(lp_hil_power_status(p, &st, &diag), -EIO);
	assert_non_null(strstr(diag.msg, "exited 7"));
	lp_hil_power_close(p);

	assert_int_equal(lp_hil_power_open(inv, &inv->boards[1], &p, &diag), 0);
	assert_int_equal(lp_hil_power_status(p, &st, &diag), 0);
	assert_int_equal(st, LP_HIL_POWER_STATE_UNKNOWN);
	lp_hil_power_close(p);
	lp_hil_inventory_free(inv);
}

static void test_gpiod_missing_chip(void **state)
{
	struct lp_hil_inventory *inv = inventory(
		"boards:\n"
		"  rpi:\n"
		"    power: {driver: gpiod, chip: gpiochip7, line: 17, active_low: true}\n"
		"    console: {driver: serial, port: /dev/ttyUSB0}\n"
		"  rpi2:\n"
		"    power: {driver: gpiod, chip: /dev/gpiochip9, line: RELAY1}\n"
		"    console: {driver: serial, port: /dev/ttyUSB1}\n");
	struct lp_hil_power *p = NULL;
	enum lp_hil_power_state st;
	struct lp_diag diag = {0};

	assert_int_equal(lp_hil_power_open(inv, &inv->boards[0], &p, &diag), 0);
	assert_int_equal(lp_hil_power_on(p, 0, &diag), -ENODEV);
	assert_non_null(strstr(diag.msg, "GPIO chip \"gpiochip7\" not found"));
	assert_int_equal(lp_hil_power_status(p, &st, &diag), -ENODEV);
	assert_int_equal(lp_hil_power_off(p, &diag), -ENODEV);
	lp_hil_power_close(p);
	assert_int_equal(lp_hil_power_open(inv, &inv->boards[1], &p, &diag), 0);
	assert_int_equal(lp_hil_power_cycle(p, &diag), -ENODEV);
	assert_non_null(strstr(diag.msg, "/dev/gpiochip9"));
	lp_hil_power_close(p);
	lp_hil_inventory_free(inv);
}

static void test_manual_needs_terminal(void **state)
{
	struct lp_hil_inventory *inv = inventory(
		"boards:\n"
		"  bench:\n"
		"    power: {driver: manual}\n"
		"    console: {driver: serial, port: /dev/ttyUSB0}\n");
	struct lp_hil_power *p = NULL;
	struct lp_diag diag = {0};
	int saved = dup(0), null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(saved >= 0 && null >= 0);
	dup2(null, 0);
	assert_int_equal(lp_hil_power_open(inv, &inv->boards[0], &p, &diag), 0);
	assert_int_equal(lp_hil_power_on(p, 0, &diag), -ENOTTY);
	assert_non_null(strstr(diag.msg, "not a terminal"));
	dup2(saved, 0);
	close(saved);
	close(null);
	lp_hil_power_close(p);
	lp_hil_inventory_free(inv);
}

static void test_serial_missing_port(void **state)
{
	struct lp_hil_console_config cfg = {
		.kind = LP_HIL_CONSOLE_SERIAL,
		.port = "/dev/serial/by-id/usb-loopline-missing-if00-port0",
		.baud = 115200,
		.data_bits = 8,
		.stop_bits = 1,
		.reconnect_ms = 5000,
	};
	struct lp_hil_console *c = NULL;
	struct lp_diag diag = {0};
	uint64_t t0 = lp_clock_mono_ms();

	assert_int_equal(lp_hil_console_open(&cfg, NULL, NULL, &c, &diag), -ENODEV);
	assert_null(c);
	assert_true(lp_clock_mono_ms() - t0 < 1000); /* no retrying for a port that is not there */
	assert_non_null(strstr(diag.msg, "usb-loopline-missing-if00-port0 does not exist"));
	/* something that exists but is not a serial port */
	cfg.port = "/dev/null";
	assert_true(lp_hil_console_open(&cfg, NULL, NULL, &c, &diag) < 0);
	assert_null(c);
	assert_non_null(strstr(diag.msg, "/dev/null"));
}

/* A ser2net-like server: first connection gets "hello" and is dropped, the second gets
 * "again" and stays. */
static pid_t tcp_server(int *ret_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[64];
		int c = accept(ls, NULL, NULL);

		if (c < 0 || write(c, "hello\n", 6) != 6)
			_exit(1);
		close(c);
		c = accept(ls, NULL, NULL);
		if (c < 0 || write(c, "again\n", 6) != 6)
			_exit(1);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(ls);
	return pid;
}

static void test_tcp_console_reconnects(void **state)
{
	struct lp_hil_console_config cfg = {
		.kind = LP_HIL_CONSOLE_TCP,
		.host = "127.0.0.1",
		.reconnect_ms = 5000,
	};
	struct lp_hil_console *c = NULL;
	struct lp_hil_expect *e = NULL;
	struct lp_hil_patterns *p1 = NULL, *p2 = NULL;
	const char *r1 = "hello", *r2 = "again";
	struct lp_diag diag = {0};
	int port;
	pid_t server = tcp_server(&port);

	cfg.tcp_port = (unsigned)port;
	assert_int_equal(lp_hil_expect_new(0, &e), 0);
	assert_int_equal(lp_hil_patterns_new(&r1, 1, &p1, NULL), 0);
	assert_int_equal(lp_hil_patterns_new(&r2, 1, &p2, NULL), 0);
	assert_int_equal(lp_hil_console_open(&cfg, NULL, NULL, &c, &diag), 0);
	assert_true(lp_hil_console_add_sink(c, lp_hil_expect_feed, e) >= 0);
	assert_int_equal(lp_hil_expect_wait(e, c, p1, NULL, 5000, NULL), 0);
	/* the server dropped us; the console reconnects and the second greeting arrives */
	assert_int_equal(lp_hil_expect_wait(e, c, p2, NULL, 5000, NULL), 0);
	assert_int_equal(lp_hil_console_write(c, "x\n", 2, 1000), 0);
	lp_hil_console_close(c);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	/* nobody listens any more: a clear error */
	cfg.reconnect_ms = 300;
	assert_true(lp_hil_console_open(&cfg, NULL, NULL, &c, &diag) < 0);
	assert_non_null(strstr(diag.msg, "cannot connect"));
	lp_hil_patterns_free(p1);
	lp_hil_patterns_free(p2);
	lp_hil_expect_free(e);
}

/* A board behind a unix-socket console whose power is a command writing to a FIFO: the
 * board prints its boot only once "on" arrives, so the boot strategy must have its
 * console open before it switches power on. */
static pid_t rack_board_pid;

static int kill_rack_board(void **state)
{
	if (rack_board_pid > 0) {
		kill(rack_board_pid, SIGKILL);
		waitpid(rack_board_pid, NULL, 0);
	}
	rack_board_pid = 0;
	return 0;
}

static pid_t fake_rack_board(const char *sock, const char *fifo, const char *boot_text)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	assert_true(ls >= 0);
	assert_true(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int f = open(fifo, O_RDWR | O_CLOEXEC), c = -1;
		char line[64];

		if (f < 0)
			_exit(1);
		for (;;) {
			ssize_t n = read(f, line, sizeof(line) - 1);
			struct pollfd p = {.fd = ls, .events = POLLIN};

			if (n <= 0)
				_exit(0);
			line[n] = '\0';
			/* take the newest console connection, if any */
			while (poll(&p, 1, 0) == 1) {
				if (c >= 0)
					close(c);
				c = accept(ls, NULL, NULL);
			}
			/* one read may hold "off\non\n" (power cycle under load) */
			if (strstr(line, "on\n") && c >= 0 &&
			    write(c, boot_text, strlen(boot_text)) < 0)
				_exit(2);
		}
	}
	close(ls);
	return pid;
}

static void boot_rack_board(const char *boot_text, int want, const char *want_msg)
{
	char sock[128], fifo[128], log[160];
	struct lp_hil_inventory *inv;
	struct lp_hil_board *b = NULL;
	struct lp_diag diag = {0};
	pid_t board;

	snprintf(sock, sizeof(sock), "%s/board.sock", dir);
	snprintf(fifo, sizeof(fifo), "%s/power.fifo", dir);
	unlink(sock);
	unlink(fifo);
	board = fake_rack_board(sock, fifo, boot_text);
	rack_board_pid = board;
	inv = inventory("boards:\n"
			"  rack-1:\n"
			"    power: {driver: command, on: echo on > %s, off: echo off > %s,\n"
			"            cycle_delay: 10ms, timeout: 5s}\n"
			"    console: {driver: unix, path: %s}\n"
			"    boot: {until: 'login: $', timeout: 10s}\n",
			fifo, fifo, sock);
	assert_int_equal(lp_hil_board_open(inv, "rack-1", &b, &diag), 0);
	assert_int_equal(lp_hil_board_boot(b, NULL, 0, &diag), want);
	if (want_msg)
		assert_non_null(strstr(diag.msg, want_msg));
	lp_hil_board_close(b);
	/* the very first line of the boot is in the console log */
	snprintf(log, sizeof(log), "%s/.hil-state/logs/rack-1.log", dir);
	{
		FILE *f = fopen(log, "r");
		char line[256] = "";

		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		assert_non_null(strstr(line, "U-Boot SPL"));
		fclose(f);
		unlink(log);
	}
	kill_rack_board(NULL);
	lp_hil_inventory_free(inv);
}

static void test_boot_listens_before_power_on(void **state)
{
	boot_rack_board("U-Boot SPL 2024.01\nStarting kernel ...\nrack-1 login: ", 0, NULL);
	boot_rack_board("U-Boot SPL 2024.01\nKernel panic - not syncing: VFS\n", -ECANCELED,
			"failure pattern \"Kernel panic\" matched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_driver),
		cmocka_unit_test(test_command_failures),
		cmocka_unit_test(test_gpiod_missing_chip),
		cmocka_unit_test(test_manual_needs_terminal),
		cmocka_unit_test(test_serial_missing_port),
		cmocka_unit_test(test_tcp_console_reconnects),
		cmocka_unit_test_teardown(test_boot_listens_before_power_on, kill_rack_board),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: MIT */
/* Inventory parser: every field, the defaults, and precise errors for bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopline-hil/inventory.h"

static const char good[] =
	"lab:\n"
	"  state_dir: /var/lib/lab\n"
	"  log_dir: logs\n"
	"boards:\n"
	"  rpi4-01:\n"
	"    target: rpi4\n"
	"    power: {driver: gpiod, chip: gpiochip0, line: 17, active_low: true}\n"
	"    console: {driver: serial, port: /dev/serial/by-id/usb-FTDI-if00-port0, baud: 921600,\n"
	"              parity: even, flow: rtscts, stop_bits: 2}\n"
	"  rpi4-02:\n"
	"    power: {driver: gpiod, chip: /dev/gpiochip0, line: RELAY2, consumer: lab}\n"
	"    console: {driver: tcp, host: ser2net.lab, port: 3002}\n"
	"  pdu-board:\n"
	"    power:\n"
	"      driver: command\n"
	"      on: pdu-ctl on 3\n"
	"      off: pdu-ctl off 3\n"
	"      status: pdu-ctl status 3\n"
	"      timeout: 500ms\n"
	"      cycle_delay: 3s\n"
	"    console: {driver: unix, path: sockets/pdu.sock}\n"
	"    shell: {prompt: '=> $', login_prompt: null, timeout: 2m, console_loglevel: null}\n"
	"    boot: {until: 'U-Boot', failure: [Oops, 'Kernel panic'], timeout: 90}\n"
	"  qemu-01:\n"
	"    target: qemu-x86_64\n"
	"    power:\n"
	"      driver: qemu\n"
	"      argv: [qemu-system-x86_64, -accel, tcg, -m, '256', -nographic]\n"
	"      cycle: restart\n"
	"    console: {driver: qemu}\n"
	"  bench:\n"
	"    power: {driver: manual, message: switch S3}\n"
	"    console: {driver: serial, port: /dev/ttyACM0}\n";

static struct lp_hil_inventory *parse_ok(const char *text)
{
	struct lp_hil_inventory *inv = NULL;
	struct lp_diag diag;
	char buf[1024];
	int r = lp_hil_inventory_parse(text, strlen(text), "/etc/lab/rack.yaml", &inv, &diag);

	if (r < 0)
		fail_msg("parse failed: %s", lp_diag_format(&diag, buf, sizeof(buf)));
	return inv;
}

static void test_good(void **state)
{
	struct lp_hil_inventory *inv = parse_ok(good);
	const struct lp_hil_board_config *b;

	assert_int_equal(inv->n_boards, 5);
	assert_string_equal(inv->state_dir, "/var/lib/lab");
	assert_string_equal(inv->lock_db, "/var/lib/lab/locks.db");
	assert_string_equal(inv->log_dir, "/etc/lab/logs");
	assert_string_equal(inv->base_dir, "/etc/lab");

	b = lp_hil_inventory_find(inv, "rpi4-01");
	assert_non_null(b);
	assert_string_equal(b->target, "rpi4");
	assert_int_equal(b->power.kind, LP_HIL_POWER_GPIOD);
	assert_string_equal(b->power.chip, "gpiochip0");
	assert_int_equal(b->power.line, 17);
	assert_null(b->power.line_name);
	assert_true(b->power.active_low);
	assert_string_equal(b->power.consumer, "loopline-hil");
	assert_int_equal(b->console.kind, LP_HIL_CONSOLE_SERIAL);
	assert_int_equal(b->console.baud, 921600);
	assert_int_equal(b->console.parity, LP_HIL_PARITY_EVEN);
	assert_int_equal(b->console.flow, LP_HIL_FLOW_RTSCTS);
	assert_int_equal(b->console.stop_bits, 2);
	assert_int_equal(b->console.data_bits, 8);
	/* defaults */
	assert_string_equal(b->shell.prompt, LP_HIL_DEFAULT_PROMPT);
	assert_string_equal(b->shell.login_prompt, "login: ?$");
	assert_string_equal(b->shell.username, "root");
	assert_int_equal(b->boot.n_failure, 1);
	assert_string_equal(b->boot.failure[0], "Kernel panic");
	assert_int_equal(b->boot.timeout_ms, 120000);
	assert_int_equal(b->shell.console_loglevel, 2);

	b = lp_hil_inventory_find(inv, "rpi4-02");
	assert_int_equal(b->power.line, -1);
	assert_string_equal(b->power.line_name, "RELAY2");
	assert_string_equal(b->power.consumer, "lab");
	assert_false(b->power.active_low);
	assert_string_equal(b->console.host, "ser2net.lab");
	assert_int_equal(b->console.tcp_port, 3002);

	b = lp_hil_inventory_find(inv, "pdu-board");
	assert_int_equal(b->power.kind, LP_HIL_POWER_COMMAND);
	assert_string_equal(b->power.on_cmd, "pdu-ctl on 3");
	assert_string_equal(b->power.status_cmd, "pdu-ctl status 3");
	assert_null(b->power.cycle_cmd);
	assert_int_equal(b->power.timeout_ms, 500);
	assert_int_equal(b->power.cycle_delay_ms, 3000);
	assert_string_equal(b->console.path, "/etc/lab/sockets/pdu.sock");
	assert_null(b->shell.login_prompt);
	assert_string_equal(b->shell.prompt, "=> $");
	assert_int_equal(b->shell.timeout_ms, 120000);
	assert_int_equal(b->shell.console_loglevel, -1);
	assert_string_equal(b->boot.until, "U-Boot");
	assert_int_equal(b->boot.n_failure, 2);
	assert_string_equal(b->boot.failure[1], "Kernel panic");
	assert_int_equal(b->boot.timeout_ms, 90000);

	b = lp_hil_inventory_find(inv, "qemu-01");
	assert_int_equal(b->power.kind, LP_HIL_POWER_QEMU);
	assert_int_equal(b->power.argc, 6);
	assert_string_equal(b->power.argv[0], "qemu-system-x86_64");
	assert_string_equal(b->power.argv[4], "256");
	assert_null(b->power.argv[6]);
	assert_int_equal(b->power.qemu_cycle, LP_HIL_QEMU_CYCLE_RESTART);
	assert_int_equal(b->power.timeout_ms, 10000);
	assert_int_equal(b->console.kind, LP_HIL_CONSOLE_QEMU);

	b = lp_hil_inventory_find(inv, "bench");
	assert_int_equal(b->power.kind, LP_HIL_POWER_MANUAL);
	assert_string_equal(b->power.message, "switch S3");
	assert_int_equal(b->console.baud, 115200);
	assert_null(lp_hil_inventory_find(inv, "nope"));
	lp_hil_inventory_free(inv);
}

static void test_default_paths(void **state)
{
	struct lp_hil_inventory *inv = NULL;
	const char *t = "boards: {}\n";
	struct lp_diag diag;

	assert_int_equal(lp_hil_inventory_parse(t, strlen(t), "rack.yaml", &inv, &diag), 0);
	assert_int_equal(inv->n_boards, 0);
	assert_string_equal(inv->state_dir, ".hil-state");
	assert_string_equal(inv->lock_db, ".hil-state/locks.db");
	assert_string_equal(inv->log_dir, ".hil-state/logs");
	lp_hil_inventory_free(inv);
	inv = NULL;
	assert_int_equal(lp_hil_inventory_parse(t, strlen(t), "lab/rack.yaml", &inv, &diag), 0);
	assert_string_equal(inv->state_dir, "lab/.hil-state");
	lp_hil_inventory_free(inv);
}

struct bad_case {
	const char *text;
	unsigned line, column;
	const char *path;
	const char *msg; /* substring */
};

#define B(name) "boards:\n  " name ":\n"
#define QC "    console: {driver: qemu}\n"
#define MP "    power: {driver: manual}\n"
#define UC "    console: {driver: unix, path: s}\n"

static const struct bad_case bad[] = {
	{"", 0, 0, "", "empty inventory"},
	{"boards: [\n", 2, 1, "", "YAML syntax error"},
	{"boards: {}\nextra: 1\n", 2, 1, "extra", "unknown key \"extra\""},
	{"lab: {state_dir: /x, foo: 1}\nboards: {}\n", 1, 22, "lab.foo", "unknown key"},
	{"lab: {}\n", 1, 1, "boards", "missing required key \"boards\""},
	{"boards: [a, b]\n", 1, 9, "boards", "expected a mapping of board names"},
	{B("a") "    console: {driver: tcp, host: h, port: 1}\n", 3, 5, "boards.a.power",
	 "missing required key \"power\""},
	{B("a") MP, 3, 5, "boards.a.console", "missing required key \"console\""},
	{B("a") "    power: {driver: relay}\n" QC, 3, 21, "boards.a.power.driver",
	 "expected one of gpiod, command, qemu, manual, found \"relay\""},
	{B("a") "    power: {driver: gpiod, chip: c, line: 3, colour: red}\n" QC, 3, 46,
	 "boards.a.power.colour", "unknown key \"colour\""},
	{B("a") "    power: {driver: gpiod, chip: c}\n" QC, 3, 12, "boards.a.power.line",
	 "missing required key \"line\""},
	{B("a") "    power: {driver: gpiod, chip: c, line: 99999}\n" QC, 3, 43,
	 "boards.a.power.line", "out of range"},
	{B("a") "    power: {driver: gpiod, chip: c, line: 1, active_low: yes}\n" QC, 3, 58,
	 "boards.a.power.active_low", "expected true or false"},
	{B("a") "    power: {driver: gpiod, chip: [c], line: 1}\n" QC, 3, 34,
	 "boards.a.power.chip", "expected a string, found a list"},
	{B("a") "    power: {driver: command, on: x, off: y, timeout: soon}\n" QC, 3, 54,
	 "boards.a.power.timeout", "expected a duration"},
	{B("a") "    power: {driver: command, on: x}\n" QC, 3, 12, "boards.a.power.off",
	 "missing required key \"off\""},
	{B("a") "    power: {driver: qemu}\n" QC, 3, 12, "boards.a.power.argv",
	 "missing required key \"argv\""},
	{B("a") "    power: {driver: qemu, argv: []}\n" QC, 3, 33, "boards.a.power.argv",
	 "must not be empty"},
	{B("a") "    power: {driver: qemu, argv: [q, -enable-kvm]}\n" QC, 3, 33,
	 "boards.a.power.argv", "KVM"},
	{B("a") "    power: {driver: qemu, argv: [q, -machine, 'q35,accel=kvm']}\n" QC, 3, 33,
	 "boards.a.power.argv", "KVM"},
	{B("a") "    power: {driver: qemu, argv: [q, -daemonize]}\n" QC, 3, 33,
	 "boards.a.power.argv", "set by the qemu driver"},
	{B("a") "    power: {driver: qemu, argv: [q, [x]]}\n" QC, 3, 37, "boards.a.power.argv[1]",
	 "expected a non-empty string"},
	{B("a") MP "    console: {driver: qemu}\n", 4, 14, "boards.a.console",
	 "needs power driver \"qemu\""},
	{B("a") MP "    console: {driver: serial, port: /dev/ttyS0, baud: fast}\n", 4, 55,
	 "boards.a.console.baud", "expected an integer"},
	{B("a") MP "    console: {driver: serial, port: /dev/ttyS0, baud: '9600'}\n", 4, 55,
	 "boards.a.console.baud", "quoted string"},
	{B("a") MP "    console: {driver: serial, port: /dev/ttyS0, parity: mark}\n", 4, 57,
	 "boards.a.console.parity", "expected one of none, odd, even"},
	{B("a") MP "    console: {driver: tcp, host: h}\n", 4, 14, "boards.a.console.port",
	 "missing required key \"port\""},
	{B("a") MP "    console: {driver: tcp, host: h, port: 70000}\n", 4, 43,
	 "boards.a.console.port", "out of range"},
	{B("a") MP "    console: {driver: unix, path: ''}\n", 4, 35, "boards.a.console.path",
	 "must not be empty"},
	{B("a") MP "    console: {driver: unix, path: s}\n    shell: {prompt: '(x'}\n", 5, 21,
	 "boards.a.shell.prompt", "invalid regular expression"},
	{B("a") MP "    console: {driver: unix, path: s}\n    boot: {failure: Oops}\n", 5, 21,
	 "boards.a.boot.failure", "expected a list of strings"},
	{B("a") MP "    console: {driver: unix, path: s}\n    power: {driver: manual}\n", 5, 5,
	 "boards.a.power", "duplicate key \"power\" (first at line 3)"},
	{"boards:\n  a/b:\n" MP "    console: {driver: unix, path: s}\n", 2, 3, "boards.a/b",
	 "board names"},
	{"boards:\n  a: {power: {driver: manual}, console: {driver: unix, path: s}}\n"
	 "  a: {power: {driver: manual}, console: {driver: unix, path: s}}\n",
	 3, 3, "boards.a", "duplicate board \"a\""},
	{"boards: {}\n---\nboards: {}\n", 2, 1, "", "only one YAML document"},
	{B("a") MP UC "    provision: {backend_url: https://h:1, listen: 'h:1'}\n", 5, 16,
	 "boards.a.provision.argv", "missing required key \"argv\""},
	{B("a") MP UC "    provision: {argv: [], backend_url: https://h:1, listen: 'h:1'}\n", 5, 23,
	 "boards.a.provision.argv", "must not be empty"},
	{B("a") MP UC "    provision: {argv: [x], listen: 'h:1'}\n", 5, 16,
	 "boards.a.provision.backend_url", "missing required key"},
	{B("a") MP UC "    provision: {argv: [x], backend_url: http://h, listen: 'h:1'}\n", 5, 41,
	 "boards.a.provision.backend_url", "expected an https:// URL"},
	{B("a") MP UC "    provision: {argv: [x], backend_url: https://h, listen: 'h:99999'}\n", 5, 60,
	 "boards.a.provision.listen", "expected ADDRESS:PORT"},
	{B("a") MP UC "    provision: {argv: [x], backend_url: https://h, listen: 'h:1', when: now}\n",
	 5, 67, "boards.a.provision.when", "unknown key"},
	{B("a") MP "    console: {driver: unix, path: s}\n    boot: {until: 'a++++++++++++++b'}\n", 5, 19,
	 "boards.a.boot.until", "too many nested repetitions"},
	{B("a") MP "    console: {driver: unix, path: s}\n    boot: {until: '(a{100}){100}'}\n", 5, 19,
	 "boards.a.boot.until", "too many nested repetitions"},
};

static void test_bad(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lp_hil_inventory *inv = NULL;
		struct lp_diag diag;
		char buf[1024];
		int r = lp_hil_inventory_parse(bad[i].text, strlen(bad[i].text), "rack.yaml", &inv,
					       &diag);

		lp_diag_format(&diag, buf, sizeof(buf));
		if (r != -EINVAL || inv) {
			print_error("case %zu: expected -EINVAL, got %d\n", i, r);
			failures++;
			continue;
		}
		if (strcmp(diag.file, "rack.yaml") != 0 || diag.line != bad[i].line ||
		    diag.column != bad[i].column || strcmp(diag.path, bad[i].path) != 0 ||
		    !strstr(diag.msg, bad[i].msg)) {
			failures++;
			print_error("case %zu: got \"%s\" (line %u col %u path \"%s\"), wanted "
				 "%u:%u %s: ...%s...\n",
				 i, buf, diag.line, diag.column, diag.path, bad[i].line, bad[i].column,
				 bad[i].path, bad[i].msg);
		}
	}
	assert_int_equal(failures, 0);
}

static void test_limits(void **state)
{
	struct lp_hil_inventory *inv = NULL;
	struct lp_diag diag;
	size_t n = LP_HIL_INVENTORY_MAX_SIZE + 1;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(lp_hil_inventory_parse(big, n, "big.yaml", &inv, &diag), -E2BIG);
	free(big);
	assert_int_equal(lp_hil_inventory_parse("boards: {}\0", 11, "nul.yaml", &inv, &diag),
			 -EINVAL);
	assert_non_null(strstr(diag.msg, "NUL"));
	assert_int_equal(lp_hil_inventory_load("/nonexistent/rack.yaml", &inv, &diag), -ENOENT);
	assert_non_null(strstr(diag.msg, "cannot read"));
}

/* Durations are lib's (lp_duration_parse): 30, 30s, 500ms, 5m, 2h. */
static void test_duration(void **state)
{
	static const struct {
		const char *text;
		unsigned ms; /* 0: refused */
	} cases[] = {
		{ "90", 90000 }, { "90s", 90000 }, { "250ms", 250 }, { "5m", 300000 },
		{ "2h", 7200000 }, { "1d", 0 }, { "2min", 0 }, { "-1", 0 }, { "'5 s'", 0 },
		{ "5x", 0 }, { "99999999999999999999", 0 }, { "1200h", 0 }, /* > 2^32 ms */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct lp_hil_inventory *inv = NULL;
		struct lp_diag diag;
		int r;

		snprintf(text, sizeof(text),
			 "boards:\n  a:\n    power: {driver: manual}\n"
			 "    console: {driver: unix, path: /x}\n    boot: {timeout: %s}\n",
			 cases[i].text);
		r = lp_hil_inventory_parse(text, strlen(text), "d.yaml", &inv, &diag);
		if (!cases[i].ms) {
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(diag.msg, "expected a duration"));
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(inv->boards[0].boot.timeout_ms, cases[i].ms);
		lp_hil_inventory_free(inv);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_default_paths),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

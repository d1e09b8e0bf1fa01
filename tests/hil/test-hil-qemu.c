/* SPDX-License-Identifier: MIT */
/*
 * The whole driver stack against QEMU boards (TCG): qemu power + unix console, boot to
 * the prompt, shell runner with exit codes and binary-ish output, a power cycle in the
 * middle of the boot, login handling with a restart-style cycle (the console reconnects),
 * and a kernel panic caught by the failure patterns. The guest comes from build-guest.sh
 * ($LP_HIL_GUEST). Every QEMU is stopped in the teardown, also when a test fails.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"

#include "loopline-hil/board.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/power.h"

static char dir[64];
static struct lp_hil_inventory *inv;

static const char *const board_names[] = {"q1", "q2", "qp"};

#define QEMU_ARGS(append)                                                                   \
	"      argv: [qemu-system-x86_64, -accel, tcg, -m, '256', -nographic, -nodefaults,\n" \
	"             -no-user-config, -kernel, %s/vmlinuz, -initrd, %s/initramfs.cpio,\n"    \
	"             -append, '" append "']\n"

static int group_setup(void **state)
{
	const char *guest = getenv("LP_HIL_GUEST");
	char text[4096], name[128];
	struct lp_diag diag;
	struct stat st;

	if (!guest || stat(guest, &st) < 0) {
		fprintf(stderr, "LP_HIL_GUEST not set or missing (run tests/hil/build-guest.sh)\n");
		return -1;
	}
	/* LP_HIL_TMP: a per-build-tree prefix the CTest cleanup fixture knows */
	snprintf(dir, sizeof(dir), "%s-qemu-XXXXXX",
		 getenv("LP_HIL_TMP") ? getenv("LP_HIL_TMP") : "/tmp/lp-hil");
	if (!mkdtemp(dir))
		return -1;
	snprintf(text, sizeof(text),
		 "boards:\n"
		 "  q1:\n"
		 "    target: qemu-x86_64\n"
		 "    power:\n"
		 "      driver: qemu\n" QEMU_ARGS("console=ttyS0 panic=-1")
		 "    console: {driver: qemu}\n"
		 "    boot: {timeout: 60s}\n"
		 "  q2:\n"
		 "    power:\n"
		 "      driver: qemu\n"
		 "      cycle: restart\n" QEMU_ARGS("console=ttyS0 quiet lp.login=1")
		 "    console: {driver: qemu}\n"
		 "    shell: {password: loopline}\n"
		 "  qp:\n"
		 "    power:\n"
		 "      driver: qemu\n" QEMU_ARGS("console=ttyS0 quiet rdinit=/none root=/dev/none panic=-1")
		 "    console: {driver: qemu}\n",
		 guest, guest, guest, guest, guest, guest);
	snprintf(name, sizeof(name), "%s/rack.yaml", dir);
	if (lp_hil_inventory_parse(text, strlen(text), name, &inv, &diag) < 0) {
		fprintf(stderr, "inventory: %s\n", diag.msg);
		return -1;
	}
	return 0;
}

/* Stops every QEMU of the inventory: QMP quit through the driver, and SIGKILL by
 * pidfile as a last resort. */
static void stop_all(void)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(board_names); i++) {
		struct lp_hil_board *b = NULL;
		char path[256];
		FILE *f;
		long pid;

		if (lp_hil_board_open(inv, board_names[i], &b, NULL) == 0) {
			lp_hil_board_power_off(b, NULL);
			lp_hil_board_close(b);
		}
		snprintf(path, sizeof(path), "%s/.hil-state/%s/qemu.pid", dir, board_names[i]);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%ld", &pid) == 1 && pid > 1)
				kill((pid_t)pid, SIGKILL);
			fclose(f);
		}
	}
}

static int group_teardown(void **state)
{
	char cmd[128];

	stop_all();
	lp_hil_inventory_free(inv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	stop_all();
	return 0;
}

static struct lp_hil_board *open_board(const char *name)
{
	struct lp_hil_board *b = NULL;
	struct lp_diag diag = {0};

	if (lp_hil_board_open(inv, name, &b, &diag) < 0)
		fail_msg("open %s: %s", name, diag.msg);
	return b;
}

static void run_ok(struct lp_hil_board *b, const char *cmd, int want_status, const void *want,
		   size_t want_len)
{
	struct lp_diag diag = {0};
	uint8_t *out = NULL;
	size_t len = 0;
	int status = -1;

	if (lp_hil_board_run(b, cmd, 20000, &status, &out, &len, &diag) < 0)
		fail_msg("run \"%s\": %s", cmd, diag.msg);
	assert_int_equal(status, want_status);
	if (len != want_len || memcmp(out, want, len) != 0)
		fail_msg("run \"%s\": got %zu bytes \"%.*s\"", cmd, len, (int)len, (char *)out);
	free(out);
}

static void boot_ok(struct lp_hil_board *b, const char *until)
{
	struct lp_diag diag = {0};
	uint64_t t0 = lp_clock_mono_ms();

	if (lp_hil_board_boot(b, until, 60000, &diag) < 0)
		fail_msg("boot: %s", diag.msg);
	print_message("  booted to %s in %llu ms\n", until ? until : "the prompt",
		      (unsigned long long)(lp_clock_mono_ms() - t0));
}

static void test_boot_and_run(void **state)
{
	struct lp_hil_board *b = open_board("q1");
	enum lp_hil_power_state st;
	struct lp_diag diag = {0};

	boot_ok(b, NULL);
	assert_int_equal(lp_hil_power_status(lp_hil_board_power(b), &st, &diag), 0);
	assert_int_equal(st, LP_HIL_POWER_STATE_ON);
	run_ok(b, "echo hello", 0, "hello\n", 6);
	run_ok(b, "true", 0, "", 0);
	run_ok(b, "false", 1, "", 0);
	run_ok(b, "exit 42", 42, "", 0);
	{
		static const char bin[] = "\001\377\000\033[0m\r\nend";

		run_ok(b, "printf '\\001\\377\\000\\033[0m\\r\\nend'", 0, bin, sizeof(bin) - 1);
	}
	run_ok(b, "cat /proc/cmdline | grep -c ttyS0", 0, "1\n", 2);
	/* 2000 lines through the emulated UART */
	{
		char *want = malloc(16000);
		size_t n = 0;

		assert_non_null(want);
		for (int i = 1; i <= 2000; i++)
			n += (size_t)snprintf(want + n, 16000 - n, "%d\n", i);
		run_ok(b, "seq 1 2000", 0, want, n);
		free(want);
	}
	assert_int_equal(lp_hil_board_power_off(b, &diag), 0);
	assert_int_equal(lp_hil_power_status(lp_hil_board_power(b), &st, &diag), 0);
	assert_int_equal(st, LP_HIL_POWER_STATE_OFF);
	lp_hil_board_close(b);
}

static void test_cycle_mid_boot(void **state)
{
	struct lp_hil_board *b = open_board("q1");
	struct lp_hil_match m;
	struct lp_diag diag = {0};

	/* the kernel's first line, long before the prompt */
	boot_ok(b, "Linux version [0-9.]+");
	if (lp_hil_board_power_cycle(b, &diag) < 0)
		fail_msg("cycle: %s", diag.msg);
	/* system_reset: the same QEMU, the same console connection, a fresh boot */
	if (lp_hil_board_expect_pattern(b, "Linux version [0-9.]+", 30000, &m, &diag) < 0)
		fail_msg("after the cycle: %s", diag.msg);
	if (lp_hil_board_expect_pattern(b, "lpguest: init started", 60000, &m, &diag) < 0)
		fail_msg("after the cycle: %s", diag.msg);
	run_ok(b, "echo booted again", 0, "booted again\n", 13);
	lp_hil_board_close(b);
}

static void test_login_and_restart(void **state)
{
	struct lp_hil_board *b = open_board("q2");
	struct lp_hil_match m;
	struct lp_diag diag = {0};

	boot_ok(b, "login: $");
	run_ok(b, "id -u", 0, "0\n", 2);
	/* restart-style cycle: QEMU stops and starts again; the console reconnects */
	if (lp_hil_board_power_cycle(b, &diag) < 0)
		fail_msg("cycle: %s", diag.msg);
	if (lp_hil_board_expect_pattern(b, "login: $", 60000, &m, &diag) < 0)
		fail_msg("after the restart: %s", diag.msg);
	run_ok(b, "echo $((6 * 7))", 0, "42\n", 3);
	lp_hil_board_close(b);
}

static void test_kernel_panic(void **state)
{
	struct lp_hil_board *b = open_board("qp");
	struct lp_diag diag = {0};
	uint64_t t0 = lp_clock_mono_ms();

	assert_int_equal(lp_hil_board_boot(b, NULL, 60000, &diag), -ECANCELED);
	assert_true(lp_clock_mono_ms() - t0 < 30000);
	assert_non_null(strstr(diag.msg, "Kernel panic"));
	lp_hil_board_close(b);
}

/* Snapshots: a state saved from a running board restores that board — what it had in
 * RAM (a file on the guest's tmpfs, a shell variable's effect) is there again without a
 * boot — as often as wanted; the next plain power on boots afresh. */
static void test_save_restore(void **state)
{
	struct lp_hil_board *b = open_board("q1");
	struct lp_diag diag = {0};
	char file[128];
	struct stat st;

	snprintf(file, sizeof(file), "%s/q1.state", dir);
	boot_ok(b, NULL);
	run_ok(b, "echo before-save > /tmp/mark", 0, "", 0);
	if (lp_hil_board_save(b, file, &diag) < 0)
		fail_msg("save: %s", diag.msg);
	assert_int_equal(stat(file, &st), 0);
	print_message("  state file: %lld KiB\n", (long long)st.st_size / 1024);
	assert_true(st.st_size > 1024 * 1024);
	for (int i = 0; i < 2; i++) {
		uint64_t t0 = lp_clock_mono_ms();

		assert_int_equal(lp_hil_board_power_off(b, &diag), 0);
		if (lp_hil_board_restore(b, file, &diag) < 0)
			fail_msg("restore %d: %s", i, diag.msg);
		run_ok(b, "cat /tmp/mark", 0, "before-save\n", 12);
		print_message("  restore %d and a command: %llu ms\n", i,
			      (unsigned long long)(lp_clock_mono_ms() - t0));
		run_ok(b, "echo changed > /tmp/mark", 0, "", 0);
	}
	/* one-shot: a boot after a restore starts the firmware, not the state */
	boot_ok(b, NULL);
	run_ok(b, "cat /tmp/mark 2>/dev/null || echo none", 0, "none\n", 5);
	/* refusals: a running board cannot be restored over; a path QEMU's shell would
	 * misread is refused before QEMU sees it */
	assert_int_equal(lp_hil_power_on_restored(lp_hil_board_power(b), file, 0, &diag), -EBUSY);
	assert_int_equal(lp_hil_board_save(b, "/tmp/a b", &diag), -EINVAL);
	assert_non_null(strstr(diag.msg, "absolute path"));
	lp_hil_board_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_boot_and_run, teardown),
		cmocka_unit_test_teardown(test_cycle_mid_boot, teardown),
		cmocka_unit_test_teardown(test_login_and_restart, teardown),
		cmocka_unit_test_teardown(test_kernel_panic, teardown),
		cmocka_unit_test_teardown(test_save_restore, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

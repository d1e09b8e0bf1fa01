/* SPDX-License-Identifier: MIT */
/* loopline-rack-sim: the host side of a virtual lab rack (rack.h, docs/hil.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopline/cli.h"
#include "loopline/fs.h"
#include "loopline/log.h"
#include "rack.h"

#define PROG "loopline-rack-sim"

enum {
	O_DIR = LP_CLI_KEY_LONG, O_KERNEL, O_INITRD, O_APPEND, O_MEMORY, O_QEMU,
	O_BOARD, O_LINE, O_ACTIVE_LOW, O_DUT_CONSOLE, O_DUT_CMD,
};

static const struct lp_cli_opt opts[] = {
	{ O_DIR, "dir", 0, "DIR", "state directory: sockets, logs, events.log, ready" },
	{ O_KERNEL, "kernel", 0, "FILE", "the controller's kernel Image" },
	{ O_INITRD, "initrd", 0, "FILE", "the controller's initramfs" },
	{ O_APPEND, "append", 0, "TEXT", "kernel arguments after console=ttyAMA0" },
	{ O_MEMORY, "memory", 0, "MIB", "controller memory (default 512)" },
	{ O_QEMU, "qemu", 0, "PATH", "QEMU binary (default qemu-system-aarch64)" },
	{ O_BOARD, "board", 0, "NAME", "a new board (A-Za-z0-9._-, up to 64); the board "
				      "options after it apply to it" },
	{ O_LINE, "line", 0, "N", "board: its relay's GPIO line (0-7, not 3)" },
	{ O_ACTIVE_LOW, "active-low", 0, NULL, "board: the relay switches on at a low level" },
	{ O_DUT_CONSOLE, "dut-console", 0, "SOCK", "board: unix socket of the DUT's console" },
	{ O_DUT_CMD, "dut-cmd", 0, "CMD", "board: shell command that runs the powered DUT" },
	{ 0 },
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static bool board_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RACK_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int new_board(struct lp_cli *cli, struct rack_cfg *c, const char *name)
{
	struct rack_board_cfg *b;

	if (!board_name_ok(name))
		return lp_cli_usage_error(cli, "--board: '%s' is not a board name (1-%d characters "
					  "of A-Za-z0-9._-)", name, RACK_NAME_MAX);
	for (size_t i = 0; i < c->n_boards; i++)
		if (strcmp(c->boards[i].name, name) == 0)
			return lp_cli_usage_error(cli, "--board: '%s' given twice", name);
	if (c->n_boards == RACK_BOARDS_MAX)
		return lp_cli_usage_error(cli, "--board: at most %d boards (one per GPIO line "
					  "0-2, 4-7)", RACK_BOARDS_MAX);
	b = &c->boards[c->n_boards++];
	memcpy(b->name, name, strlen(name) + 1);
	b->line = -1;
	return 0;
}

static int board_option(struct lp_cli *cli, struct rack_cfg *c, int key, const char *arg)
{
	struct rack_board_cfg *b = c->n_boards ? &c->boards[c->n_boards - 1] : NULL;
	const char *opt = key == O_LINE ? "--line" : key == O_ACTIVE_LOW ? "--active-low"
			: key == O_DUT_CONSOLE ? "--dut-console" : "--dut-cmd";
	uint64_t v;
	int r;

	if (!b)
		return lp_cli_usage_error(cli, "%s before any --board (a board's options follow "
					  "its --board NAME)", opt);
	if ((key == O_LINE && b->line >= 0) || (key == O_DUT_CONSOLE && b->dut_console) ||
	    (key == O_DUT_CMD && b->dut_cmd))
		return lp_cli_usage_error(cli, "board '%s': %s given twice", b->name, opt);
	switch (key) {
	case O_LINE:
		if ((r = lp_cli_parse_uint(cli, "--line", arg, 0, RACK_GPIO_LINES - 1, &v)) != 0)
			return r;
		if (v == RACK_GPIO_POWER_KEY)
			return lp_cli_usage_error(cli, "board '%s': --line %d is the controller's "
						  "power button (gpio-keys); use 0-2 or 4-7",
						  b->name, RACK_GPIO_POWER_KEY);
		b->line = (int)v;
		break;
	case O_ACTIVE_LOW:
		b->active_low = true;
		break;
	case O_DUT_CONSOLE:
		if (strlen(arg) > LP_IO_UNIX_PATH_MAX || !arg[0])
			return lp_cli_usage_error(cli, "board '%s': --dut-console: a unix socket path "
						  "has 1-%d bytes, not %zu", b->name,
						  LP_IO_UNIX_PATH_MAX, strlen(arg));
		b->dut_console = arg;
		break;
	case O_DUT_CMD:
		if (!arg[0])
			return lp_cli_usage_error(cli, "board '%s': --dut-cmd is empty", b->name);
		b->dut_cmd = arg;
		break;
	}
	return 0;
}

static int rack_option(struct lp_cli *cli, struct rack_cfg *c, int key, const char *arg)
{
	static const char *const names[] = { "--dir", "--kernel", "--initrd", "--append",
					     "--memory", "--qemu" };
	const char **slot[] = { &c->dir, &c->kernel, &c->initrd, &c->append, NULL, &c->qemu };
	unsigned i = (unsigned)(key - O_DIR);
	uint64_t v;
	int r;

	if (key == O_MEMORY) {
		if ((r = lp_cli_parse_uint(cli, "--memory", arg, 128, 16384, &v)) != 0)
			return r;
		c->memory_mib = (unsigned)v;
		return 0;
	}
	if (*slot[i])
		return lp_cli_usage_error(cli, "%s given twice", names[i]);
	if (key == O_APPEND && strlen(arg) > RACK_APPEND_MAX)
		return lp_cli_usage_error(cli, "--append: longer than %d bytes", RACK_APPEND_MAX);
	if (!arg[0])
		return lp_cli_usage_error(cli, "%s is empty", names[i]);
	*slot[i] = arg;
	return 0;
}

/* A socket the rack creates in DIR must fit sun_path. */
static int check_socket(struct lp_cli *cli, const char *dir, const char *name)
{
	char path[4096];

	if (lp_fs_path_join(path, sizeof(path), dir, name) < 0 ||
	    strlen(path) > LP_IO_UNIX_PATH_MAX)
		return lp_cli_usage_error(cli, "--dir: %s/%s is longer than the %d bytes of a unix "
					  "socket path", dir, name, LP_IO_UNIX_PATH_MAX);
	return 0;
}

static int check_file(struct lp_cli *cli, const char *opt, const char *path)
{
	if (!path)
		return lp_cli_usage_error(cli, "missing %s", opt);
	if (access(path, R_OK) < 0)
		return lp_cli_usage_error(cli, "%s: %s: %s", opt, path, strerror(errno));
	return 0;
}

static int check_board(struct lp_cli *cli, const struct rack_cfg *c, size_t i)
{
	const struct rack_board_cfg *b = &c->boards[i];
	char sock[RACK_NAME_MAX + 16];

	if (b->line < 0)
		return lp_cli_usage_error(cli, "board '%s': missing --line", b->name);
	if (!b->dut_console)
		return lp_cli_usage_error(cli, "board '%s': missing --dut-console", b->name);
	if (!b->dut_cmd)
		return lp_cli_usage_error(cli, "board '%s': missing --dut-cmd", b->name);
	for (size_t j = 0; j < i; j++)
		if (c->boards[j].line == b->line)
			return lp_cli_usage_error(cli, "boards '%s' and '%s' are both on --line %d",
						  c->boards[j].name, b->name, b->line);
	snprintf(sock, sizeof(sock), "usb-%s.sock", b->name);
	return check_socket(cli, c->dir, sock);
}

/* The whole configuration is checked before anything starts. */
static int check_config(struct lp_cli *cli, const struct rack_cfg *c)
{
	int r;

	if (!c->dir)
		return lp_cli_usage_error(cli, "missing --dir");
	if ((r = check_file(cli, "--kernel", c->kernel)) != 0 ||
	    (r = check_file(cli, "--initrd", c->initrd)) != 0)
		return r;
	if (c->n_boards == 0)
		return lp_cli_usage_error(cli, "missing --board (at least one)");
	if ((r = check_socket(cli, c->dir, "controller.sock")) != 0 ||
	    (r = check_socket(cli, c->dir, "qmp.sock")) != 0)
		return r;
	for (size_t i = 0; i < c->n_boards; i++)
		if ((r = check_board(cli, c, i)) != 0)
			return r;
	return 0;
}

static int run(const struct rack_cfg *c)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, wait_mask;
	int r;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	/* blocked except while the loop waits in ppoll: a signal cannot slip in between */
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGHUP);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = rack_run(c, &stop_signal, &wait_mask);
	return r < 0 ? LP_EXIT_FAILURE : LP_EXIT_OK;
}

static int cmd_rack(struct lp_cli *cli, void *ctx)
{
	struct rack_cfg *c = ctx;
	const char *arg;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0) {
		if (key == O_BOARD)
			r = new_board(cli, c, arg);
		else if (key >= O_LINE)
			r = board_option(cli, c, key, arg);
		else
			r = rack_option(cli, c, key, arg);
		if (r != 0)
			return r;
	}
	if ((r = check_config(cli, c)) != 0)
		return r;
	if (!c->qemu)
		c->qemu = "qemu-system-aarch64";
	return run(c);
}

static const struct lp_cli_cmd cmds[] = {
	{ "", "", "Run a virtual lab rack until SIGTERM/SIGINT.",
	  "An aarch64 QEMU (virt, TCG) runs the lab controller from --kernel and --initrd.\n"
	  "Its PL061 GPIO lines drive one relay per --board: a line the guest drives\n"
	  "(GPIODIR bit set) at level 1 switches the relay on (at level 0 with --active-low);\n"
	  "an undriven line leaves it off. Relay on runs the board's --dut-cmd (/bin/sh -c, own\n"
	  "process group) and connects its --dut-console; relay off SIGKILLs the group.\n"
	  "The controller sees each board's console on a usb-serial adapter (ttyUSB0, 1, …\n"
	  "in --board order).\n"
	  "\n"
	  "DIR gets controller.sock (controller console), qmp.sock (QMP), usb-NAME.sock,\n"
	  "events.log (one line per event), controller-qemu.log, NAME.dut.log,\n"
	  "NAME.console.log, and ready (the simulator's pid) once the controller runs and\n"
	  "every usb-serial chardev is connected. Exits 0 after a signal (everything stopped,\n"
	  "sockets removed), 1 when the controller exits or fails.",
	  opts, 0, 0, 0, cmd_rack },
};

static const int exits[] = { 0 };

static const struct lp_cli_tool tool = {
	.name = PROG,
	.summary = "A virtual lab rack: a QEMU lab controller, GPIO relays and DUT consoles.",
	.cmds = cmds,
	.n_cmds = LP_ARRAY_SIZE(cmds),
	.exits = exits,
	.footer = "\nExample:\n"
		  "  " PROG " --dir /tmp/rack --kernel Image --initrd ctl.cpio \\\n"
		  "    --board dut1 --line 0 --active-low --dut-console /tmp/rack/dut1/console.sock \\\n"
		  "    --dut-cmd 'qemu-images/run qemu-x86_64 --disk d.img --dir /tmp/rack/dut1 "
		  "--no-snapshot --wait-console'\n"
		  "Documentation: docs/hil.md.\n",
};

int main(int argc, char **argv)
{
	struct rack_cfg c = { .memory_mib = RACK_MEMORY_DEFAULT };

	lp_log_set_ident(PROG);
	return lp_cli_main(&tool, argc, argv, &c);
}

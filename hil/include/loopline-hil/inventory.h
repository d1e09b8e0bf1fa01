/* SPDX-License-Identifier: MIT */
/*
 * The rack inventory: a strict YAML file that lists boards with their power and console
 * drivers, plus where the lab host keeps locks, console logs and driver state.
 *
 *   lab:                          # optional; relative paths are relative to this file
 *     state_dir: .hil-state       # default "<inventory dir>/.hil-state"
 *     lock_db: locks.db           # default "<state_dir>/locks.db"
 *     log_dir: logs               # default "<state_dir>/logs"
 *   boards:
 *     NAME: {target, power: {driver, ...}, console: {driver, ...}, shell: {...}, boot: {...}}
 *
 * Unknown keys, duplicate keys and values of the wrong type are errors reported with
 * file:line:column and the element path. See docs/hil.md for every key.
 *
 * An inventory owns all strings in it; lp_hil_inventory_free() frees everything.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "loopline/diag.h"

#define LP_HIL_INVENTORY_MAX_SIZE (1024u * 1024u)
#define LP_HIL_MAX_BOARDS 1024
#define LP_HIL_MAX_ARGV 256
#define LP_HIL_MAX_PATTERNS 16
#define LP_HIL_NAME_MAX 64
/* Default shell prompt: "#", "$" or ">" and a space at the end of the output, optionally
 * followed by terminal control sequences (ESC is a literal byte in the pattern). */
#define LP_HIL_DEFAULT_PROMPT "[#$>] ?(\033\\[[0-9;?]*[A-Za-z])*$"

enum lp_hil_power_kind {
	LP_HIL_POWER_GPIOD = 0,
	LP_HIL_POWER_COMMAND,
	LP_HIL_POWER_QEMU,
	LP_HIL_POWER_MANUAL,
};

enum lp_hil_console_kind {
	LP_HIL_CONSOLE_SERIAL = 0,
	LP_HIL_CONSOLE_TCP,
	LP_HIL_CONSOLE_UNIX,
	LP_HIL_CONSOLE_QEMU, /* the unix socket the qemu power driver creates */
};

enum lp_hil_parity { LP_HIL_PARITY_NONE = 0, LP_HIL_PARITY_ODD, LP_HIL_PARITY_EVEN };
enum lp_hil_flow { LP_HIL_FLOW_NONE = 0, LP_HIL_FLOW_XONXOFF, LP_HIL_FLOW_RTSCTS };
enum lp_hil_qemu_cycle { LP_HIL_QEMU_CYCLE_RESET = 0, LP_HIL_QEMU_CYCLE_RESTART };

struct lp_hil_power_config {
	enum lp_hil_power_kind kind;
	unsigned cycle_delay_ms;  /* off time during a cycle (gpiod, command, manual) */
	/* gpiod */
	char *chip;               /* "gpiochip0", "/dev/gpiochip0" or a chip label */
	int line;                 /* offset, or -1 when line_name is set */
	char *line_name;
	bool active_low;
	char *consumer;           /* label shown by gpioinfo; default "loopline-hil" */
	/* command: run with /bin/sh -c; status exits 0 = on, 1 = off */
	char *on_cmd, *off_cmd, *cycle_cmd, *status_cmd;
	unsigned timeout_ms;      /* per command (also the qemu quit timeout) */
	/* qemu: argv[0] is the emulator; the driver adds console, QMP, pidfile options */
	char **argv;
	size_t argc;
	enum lp_hil_qemu_cycle qemu_cycle;
	/* manual */
	char *message;            /* extra text shown to the person */
};

struct lp_hil_console_config {
	enum lp_hil_console_kind kind;
	/* serial */
	char *port;
	unsigned baud;
	unsigned data_bits;
	unsigned stop_bits;
	enum lp_hil_parity parity;
	enum lp_hil_flow flow;
	/* tcp */
	char *host;
	unsigned tcp_port;
	/* unix */
	char *path;
	unsigned reconnect_ms;    /* how long to retry (re)opening: adapters re-enumerate */
};

struct lp_hil_shell_config {
	char *prompt;             /* ERE for the board's own shell prompt */
	char *login_prompt;       /* ERE; NULL = never log in */
	char *password_prompt;    /* ERE */
	char *username;
	char *password;
	unsigned timeout_ms;      /* default command timeout */
	int console_loglevel;     /* "dmesg -n" while the runner works; -1 = leave alone */
};

struct lp_hil_boot_config {
	char *until;              /* ERE that means "booted" (default: the shell prompt) */
	char **failure;           /* EREs that abort a boot or command early */
	size_t n_failure;
	unsigned timeout_ms;
};

/* How the matrix installs firmware on a board and lets it reach a backend
 * (docs/hil.md, "Provisioning"). Absent: the board only runs scenarios on what it holds. */
struct lp_hil_provision_config {
	char **argv;              /* NULL-terminated; run with the board off, environment
				   * LP_BOARD, LP_DISK (a raw disk image), LP_DISK_BOOT (its
				   * kernel and initramfs directory); NULL: no provisioning */
	size_t argc;
	unsigned timeout_ms;      /* default 10 min */
	char *backend_url;        /* the URL the board's agent is given for the lab host,
				   * e.g. https://192.168.7.1:18443 */
	char *listen;             /* ADDRESS:PORT the matrix's fault proxy for this board
				   * listens on (what backend_url reaches) */
};

struct lp_hil_board_config {
	char *name;
	char *target;
	struct lp_hil_provision_config provision;
	struct lp_hil_power_config power;
	struct lp_hil_console_config console;
	struct lp_hil_shell_config shell;
	struct lp_hil_boot_config boot;
};

struct lp_hil_inventory {
	char *file;               /* the inventory path as given */
	char *base_dir;           /* its directory: relative paths and QEMU's cwd */
	char *state_dir;          /* absolute or relative to the cwd, resolved */
	char *lock_db;
	char *log_dir;
	struct lp_hil_board_config *boards;
	size_t n_boards;
};

/* Parses len bytes of YAML; name is used in messages and to resolve relative paths
 * (its directory). Returns 0 or -EINVAL/-E2BIG/-ENOMEM with diag filled. */
int lp_hil_inventory_parse(const char *text, size_t len, const char *name,
			   struct lp_hil_inventory **ret_inv, struct lp_diag *diag);
/* Reads path (at most LP_HIL_INVENTORY_MAX_SIZE bytes) and parses it. */
int lp_hil_inventory_load(const char *path, struct lp_hil_inventory **ret_inv,
			  struct lp_diag *diag);
void lp_hil_inventory_free(struct lp_hil_inventory *inv);

/* The board called name, or NULL. */
const struct lp_hil_board_config *lp_hil_inventory_find(const struct lp_hil_inventory *inv,
							const char *name);

const char *lp_hil_power_kind_name(enum lp_hil_power_kind k);
const char *lp_hil_console_kind_name(enum lp_hil_console_kind k);

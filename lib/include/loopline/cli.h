/* SPDX-License-Identifier: MIT */
/*
 * One command-line convention for every Loopline tool (loopline-agent, -backend, -ctl,
 * -pack, -hil, -matrix):
 *
 *   TOOL [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]
 *
 * - A tool is a table of commands; a command may be two words ("tenant list").
 * - `TOOL --help` lists the commands, the global options and the exit codes;
 *   `TOOL COMMAND --help` shows the command's synopsis and options; `--version`.
 * - Before a command runs, its whole command line is checked against its option table
 *   and argument count: an unknown command or option, a missing option argument or a
 *   wrong number of arguments prints ONE line ("TOOL COMMAND: unknown option '--x'")
 *   plus a hint and exits 2 — before any configuration is loaded.
 * - Read-only commands (LP_CLI_JSON) take --json; -v/--verbose and -q/--quiet are
 *   accepted before or after the command. Options and arguments may be mixed; "--" ends
 *   the options.
 * - Errors map to exit codes in one place (lp_exit_from_errno).
 * - A tool that does one thing (a simulator that runs until stopped) has a table of one
 *   command named "": its line is `TOOL [OPTIONS] [ARGS]`, checked the same way; usage
 *   errors read "TOOL: message", --help shows the options and exit codes, --version
 *   works anywhere on the line. global_opts/global are not used then.
 *
 * Usage inside a command:
 *
 *	static int cmd_expect(struct lp_cli *cli, void *ctx)
 *	{
 *		const char *arg;
 *		int key;
 *
 *		while ((key = lp_cli_next(cli, &arg)) > 0)
 *			switch (key) {
 *			case 't': ...parse arg...; break;
 *			}
 *		... cli->args[0], cli->n_args, cli->json ...
 *	}
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "loopline/common.h"
#include "loopline/diag.h"

/* One option. key is what lp_cli_next returns (> 0; a letter, or LP_CLI_KEY_LONG and up
 * for options without a natural letter); short_name is the one-letter form accepted on
 * the command line ('\0' for none). arg is NULL for a flag, or the argument's name shown
 * in help ("FILE"). Tables end with an entry whose key is 0. */
struct lp_cli_opt {
	int key;
	const char *name;
	char short_name;
	const char *arg;
	const char *help;
};
#define LP_CLI_KEY_LONG 256

struct lp_cli;
typedef int lp_cli_run_fn(struct lp_cli *cli, void *ctx);

enum lp_cli_cmd_flags {
	LP_CLI_JSON = 1 << 0,          /* read-only command: --json is accepted (cli->json) */
	LP_CLI_ARGS_RAW = 1 << 1,      /* options end at the first argument (for commands
					* that pass the rest on, e.g. "run BOARD CMD -x") */
	LP_CLI_NO_PREPARE = 1 << 2,    /* the tool's prepare() hook is skipped (commands
					* that need no configuration) */
};

struct lp_cli_cmd {
	const char *name;        /* "boards", or two words "tenant list"; "" for the one
				  * command of a single-command tool */
	const char *args;        /* synopsis of the arguments ("BOARD PATTERN"), or "" */
	const char *summary;     /* one line for the command list */
	const char *description; /* optional paragraph for COMMAND --help */
	const struct lp_cli_opt *opts; /* key-0 terminated, or NULL */
	int min_args, max_args;  /* positional arguments; max_args < 0: no limit */
	unsigned flags;          /* enum lp_cli_cmd_flags */
	lp_cli_run_fn *run;
};

struct lp_cli_tool {
	const char *name;        /* "loopline-hil" (also the log ident) */
	const char *summary;     /* one line under the usage line */
	const struct lp_cli_cmd *cmds;
	size_t n_cmds;
	/* Global options (besides -h, -v, -q, --version) and their handler, called in
	 * order before the command is looked up; returns 0 or an exit code. */
	const struct lp_cli_opt *global_opts;
	int (*global)(void *ctx, int key, const char *arg);
	/* Called after the command line was checked and before the command runs (e.g. to
	 * load the configuration); returns 0 or an exit code. Optional. */
	int (*prepare)(void *ctx, const struct lp_cli_cmd *cmd);
	/* Exit codes this tool returns besides 0, 1 and 2 (ending with 0); their meaning
	 * comes from lp_exit_meaning(). */
	const int *exits;
	const char *footer;      /* extra --help text (environment, documentation), or NULL */
};

/* State of one command invocation, handed to the command's run(). */
struct lp_cli {
	const struct lp_cli_tool *tool;
	const struct lp_cli_cmd *cmd;
	char **args;     /* the positional arguments, in order */
	int n_args;
	bool json;       /* --json was given (LP_CLI_JSON commands only) */
	/* private: the option iterator */
	int argc_;
	char **argv_;
	int ind_;
	int sub_;
};

/* Runs the tool: parses global options, finds and checks the command, calls
 * prepare() and the command. Returns the process exit code. */
LP_EXPORT int lp_cli_main(const struct lp_cli_tool *tool, int argc, char **argv, void *ctx);

/* The next option of the command: its key (> 0) with *ret_arg set for options that take
 * one, or 0 when there are no more. The line was checked before the command ran, so
 * unknown options cannot appear here. */
LP_EXPORT int lp_cli_next(struct lp_cli *cli, const char **ret_arg);

/* "TOOL COMMAND: message" + "Try 'TOOL COMMAND --help'." on stderr; returns 2. For
 * argument values the table cannot check (a bad duration, conflicting options). */
LP_EXPORT int lp_cli_usage_error(const struct lp_cli *cli, const char *fmt, ...) LP_PRINTF(2, 3);
/* Logs the error once (the diag if it says something, else strerror) and returns
 * lp_exit_from_errno(err). what (optional) prefixes the message. */
LP_EXPORT int lp_cli_fail(int err, const struct lp_diag *diag, const char *what);

/* Option values: a whole number within [min, max], and a duration ("30" seconds, "30s",
 * "500ms", "5m", "2h") in milliseconds. Print a usage error and return 2 on bad input. */
LP_EXPORT int lp_cli_parse_uint(const struct lp_cli *cli, const char *opt, const char *text,
				uint64_t min, uint64_t max, uint64_t *ret);
LP_EXPORT int lp_cli_parse_duration(const struct lp_cli *cli, const char *opt, const char *text,
				    uint64_t *ret_ms);
/* The same duration syntax without printing: 0 or -EINVAL/-ERANGE. */
LP_EXPORT int lp_duration_parse(const char *text, uint64_t *ret_ms);
/* A byte count: digits with an optional binary suffix k/K (1024), m/M (1024²) or
 * g/G (1024³), e.g. "200k", "1m", "4096"; within [min, max]. */
LP_EXPORT int lp_cli_parse_size(const struct lp_cli *cli, const char *opt, const char *text,
				uint64_t min, uint64_t max, uint64_t *ret);
/* The same size syntax without printing: 0 or -EINVAL/-ERANGE. */
LP_EXPORT int lp_size_parse(const char *text, uint64_t *ret);

/* ---- exit codes shared by every tool ---- */

/* The one errno → exit code mapping:
 *   -EKEYREJECTED → LP_EXIT_SIGNATURE, -EBADMSG/-E2BIG → LP_EXIT_CORRUPT,
 *   -ENOEXEC → LP_EXIT_INCOMPATIBLE, -EPERM → LP_EXIT_DOWNGRADE, -EEXIST → LP_EXIT_EXISTS,
 *   -EPROTONOSUPPORT → LP_EXIT_AGENT_TOO_OLD, -EOPNOTSUPP → LP_EXIT_UNSUPPORTED,
 *   -EBUSY → LP_EXIT_BUSY, -ETIMEDOUT/-ETIME → LP_EXIT_TIMEOUT,
 *   -ENOTRECOVERABLE → LP_EXIT_STATE, -ECANCELED → LP_EXIT_FAILURE_PATTERN,
 *   -ENOENT → LP_EXIT_NOT_FOUND, -EINVAL → LP_EXIT_USAGE, 0 → 0, else LP_EXIT_FAILURE. */
LP_EXPORT int lp_exit_from_errno(int err);
/* "signature", "corrupt", … (for --json output); "failure" for unknown codes. */
LP_EXPORT const char *lp_exit_name(int code);
/* A short sentence for --help ("no signature by a trusted key"). */
LP_EXPORT const char *lp_exit_meaning(int code);

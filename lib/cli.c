/* SPDX-License-Identifier: MIT */
/* The command-line convention shared by every tool (see loopline/cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "loopline/log.h"

#define CMD_NAME_MAX 64

/* Built-in option keys (negative: never clash with a tool's keys). */
enum { KEY_HELP = -1, KEY_JSON = -2, KEY_VERBOSE = -3, KEY_QUIET = -4, KEY_VERSION = -5 };

static const struct lp_cli_opt builtin_cmd_opts[] = {
	{ KEY_JSON, "json", 0, NULL, "machine-readable output (JSON)" },
	{ KEY_VERBOSE, "verbose", 'v', NULL, "debug messages" },
	{ KEY_QUIET, "quiet", 'q', NULL, "errors only" },
	{ KEY_HELP, "help", 'h', NULL, "this help" },
	{ 0 },
};

/* A single-command tool (its one command is named ""): the command's built-ins and
 * --version. */
static const struct lp_cli_opt builtin_single_opts[] = {
	{ KEY_JSON, "json", 0, NULL, "machine-readable output (JSON)" },
	{ KEY_VERBOSE, "verbose", 'v', NULL, "debug messages" },
	{ KEY_QUIET, "quiet", 'q', NULL, "errors only" },
	{ KEY_HELP, "help", 'h', NULL, "this help" },
	{ KEY_VERSION, "version", 0, NULL, "print the version" },
	{ 0 },
};

static const struct lp_cli_opt builtin_tool_opts[] = {
	{ KEY_VERBOSE, "verbose", 'v', NULL, "debug messages" },
	{ KEY_QUIET, "quiet", 'q', NULL, "errors only" },
	{ KEY_HELP, "help", 'h', NULL, "this help" },
	{ KEY_VERSION, "version", 0, NULL, "print the version" },
	{ 0 },
};

/* The command's name for messages, NULL for the one command of a single-command tool. */
static const char *cmd_word(const struct lp_cli_cmd *c)
{
	return c && c->name[0] ? c->name : NULL;
}

static const struct lp_cli_opt *cmd_builtins(const struct lp_cli_cmd *c)
{
	return c->name[0] ? builtin_cmd_opts : builtin_single_opts;
}

/* ---- exit codes ---- */

static const struct {
	int code;
	const char *name;
	const char *meaning;
} exits[] = {
	{ LP_EXIT_OK, "ok", "success" },
	{ LP_EXIT_FAILURE, "failure", "failure" },
	{ LP_EXIT_USAGE, "usage", "usage or configuration error" },
	{ LP_EXIT_SIGNATURE, "signature", "package refused: no signature by a trusted key" },
	{ LP_EXIT_CORRUPT, "corrupt", "package refused: malformed, hash mismatch or truncated" },
	{ LP_EXIT_INCOMPATIBLE, "incompatible", "package refused: not for this hardware" },
	{ LP_EXIT_DOWNGRADE, "security-version",
	  "package refused: security_version lower than allowed" },
	{ LP_EXIT_EXISTS, "exists", "already exists" },
	{ LP_EXIT_AGENT_TOO_OLD, "agent-too-old", "package refused: needs a newer agent" },
	{ LP_EXIT_UNSUPPORTED, "unsupported", "not supported or not allowed here" },
	{ LP_EXIT_BUSY, "busy", "busy: locked by someone else or another update in flight" },
	{ LP_EXIT_TIMEOUT, "timeout", "timed out" },
	{ LP_EXIT_STATE, "state", "not possible in the current state" },
	{ LP_EXIT_FAILURE_PATTERN, "failure-pattern", "a failure pattern matched" },
	{ LP_EXIT_NOT_FOUND, "not-found", "not found" },
	{ LP_EXIT_GATE_FAILED, "gate-failed", "gate: a required combo failed" },
	{ LP_EXIT_GATE_UNTESTED, "gate-untested", "gate: a required combo was not tested" },
};

int lp_exit_from_errno(int err)
{
	switch (err) {
	case 0:
		return LP_EXIT_OK;
	case -EKEYREJECTED:
		return LP_EXIT_SIGNATURE;
	case -EBADMSG:
	case -E2BIG:
		return LP_EXIT_CORRUPT;
	case -ENOEXEC:
		return LP_EXIT_INCOMPATIBLE;
	case -EPERM:
		return LP_EXIT_DOWNGRADE;
	case -EEXIST:
		return LP_EXIT_EXISTS;
	case -EPROTONOSUPPORT:
		return LP_EXIT_AGENT_TOO_OLD;
	case -EOPNOTSUPP:
		return LP_EXIT_UNSUPPORTED;
	case -EBUSY:
		return LP_EXIT_BUSY;
	case -ETIMEDOUT:
	case -ETIME:
		return LP_EXIT_TIMEOUT;
	case -ENOTRECOVERABLE:
		return LP_EXIT_STATE;
	case -ECANCELED:
		return LP_EXIT_FAILURE_PATTERN;
	case -ENOENT:
		return LP_EXIT_NOT_FOUND;
	case -EINVAL:
		return LP_EXIT_USAGE;
	default:
		return LP_EXIT_FAILURE;
	}
}

const char *lp_exit_name(int code)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(exits); i++)
		if (exits[i].code == code)
			return exits[i].name;
	return "failure";
}

const char *lp_exit_meaning(int code)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(exits); i++)
		if (exits[i].code == code)
			return exits[i].meaning;
	return "failure";
}

/* ---- help ---- */

static void print_opts(FILE *f, const struct lp_cli_opt *opts, const struct lp_cli_opt *skip,
		       bool json)
{
	for (const struct lp_cli_opt *o = opts; o && o->key; o++) {
		char left[96];
		int n;

		if (o->key == KEY_JSON && !json)
			continue;
		/* a command's own -v/-q replaces the built-in one */
		if (skip && o->key < 0 && o->short_name) {
			bool shadowed = false;

			for (const struct lp_cli_opt *c = skip; c->key; c++)
				shadowed |= c->short_name == o->short_name;
			if (shadowed)
				continue;
		}
		if (o->short_name)
			n = snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				     o->arg ? " " : "", o->arg ? o->arg : "");
		else
			n = snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
				     o->arg ? o->arg : "");
		if (n > 28)
			fprintf(f, "  %s\n  %-28s %s\n", left, "", o->help);
		else
			fprintf(f, "  %-28s %s\n", left, o->help);
	}
}

static void print_exits(FILE *f, const struct lp_cli_tool *tool)
{
	fprintf(f, "\nExit codes:\n");
	for (int c = 0; c <= 2; c++)
		fprintf(f, "  %-4d %s\n", c, lp_exit_meaning(c));
	for (const int *e = tool->exits; e && *e; e++)
		fprintf(f, "  %-4d %s\n", *e, lp_exit_meaning(*e));
}

static void print_cmd_line(FILE *f, const struct lp_cli_cmd *c)
{
	char left[128];
	int n = snprintf(left, sizeof(left), "%s%s%s", c->name, c->args[0] ? " " : "", c->args);

	if (n > 30)
		fprintf(f, "  %s\n  %-30s %s\n", left, "", c->summary);
	else
		fprintf(f, "  %-30s %s\n", left, c->summary);
}

static void tool_help(const struct lp_cli_tool *tool, FILE *f)
{
	fprintf(f, "Usage: %s [OPTIONS] COMMAND [ARGS]\n", tool->name);
	if (tool->summary)
		fprintf(f, "%s\n", tool->summary);
	fprintf(f, "\nCommands:\n");
	for (size_t i = 0; i < tool->n_cmds; i++)
		print_cmd_line(f, &tool->cmds[i]);
	fprintf(f, "\nOptions:\n");
	print_opts(f, tool->global_opts, NULL, false);
	print_opts(f, builtin_tool_opts, NULL, false);
	print_exits(f, tool);
	fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", tool->name);
	if (tool->footer)
		fprintf(f, "%s", tool->footer);
}

static void cmd_help(const struct lp_cli_tool *tool, const struct lp_cli_cmd *c, FILE *f)
{
	fprintf(f, "Usage: %s%s%s%s%s [OPTIONS]\n\n%s\n", tool->name, c->name[0] ? " " : "",
		c->name, c->args[0] ? " " : "", c->args, c->summary);
	if (c->description)
		fprintf(f, "\n%s\n", c->description);
	fprintf(f, "\nOptions:\n");
	print_opts(f, c->opts, NULL, false);
	print_opts(f, cmd_builtins(c), c->opts, c->flags & LP_CLI_JSON);
	if (c->name[0])
		return;
	print_exits(f, tool); /* a single-command tool: this is the tool's help */
	if (tool->footer)
		fprintf(f, "%s", tool->footer);
}

static void group_help(const struct lp_cli_tool *tool, const char *group, FILE *f)
{
	size_t len = strlen(group);

	fprintf(f, "Usage: %s %s COMMAND [ARGS]\n\nCommands:\n", tool->name, group);
	for (size_t i = 0; i < tool->n_cmds; i++)
		if (strncmp(tool->cmds[i].name, group, len) == 0 && tool->cmds[i].name[len] == ' ')
			print_cmd_line(f, &tool->cmds[i]);
	fprintf(f, "\nRun '%s %s COMMAND --help' for a command's options.\n", tool->name, group);
}

/* ---- errors ---- */

static int usage_line(const char *tool, const char *cmd, const char *fmt, ...) LP_PRINTF(3, 4);
static int usage_line(const char *tool, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", tool, cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", tool, cmd ? " " : "", cmd ? cmd : "");
	return LP_EXIT_USAGE;
}

int lp_cli_usage_error(const struct lp_cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return usage_line(cli->tool->name, cmd_word(cli->cmd), "%s", msg);
}

int lp_cli_fail(int err, const struct lp_diag *diag, const char *what)
{
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 32];
	const char *text = diag && (diag->msg[0] || diag->path[0])
				   ? lp_diag_format(diag, buf, sizeof(buf)) : strerror(err < 0 ? -err : err);

	if (what)
		log_error("%s: %s", what, text);
	else
		log_error("%s", text);
	return err == 0 ? LP_EXIT_FAILURE : lp_exit_from_errno(err);
}

/* ---- option scanning ---- */

static const struct lp_cli_opt *find_long(const struct lp_cli_opt *t, const char *name, size_t len)
{
	for (; t && t->key; t++)
		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

static const struct lp_cli_opt *find_short(const struct lp_cli_opt *t, char c)
{
	for (; t && t->key; t++)
		if (t->short_name && t->short_name == c)
			return t;
	return NULL;
}

struct scan {
	const struct lp_cli_opt *own, *builtin;
	bool json_ok, raw, seen_arg, dashdash;
	int argc;
	char **argv;
	int ind, sub;
	char err[256];
};

enum tok { TOK_END, TOK_OPT, TOK_ARG, TOK_ERR };

static const struct lp_cli_opt *lookup_long(struct scan *s, const char *name, size_t len)
{
	const struct lp_cli_opt *o = find_long(s->own, name, len);

	if (!o)
		o = find_long(s->builtin, name, len);
	if (o && o->key == KEY_JSON && !s->json_ok)
		o = NULL;
	return o;
}

static const struct lp_cli_opt *lookup_short(struct scan *s, char c)
{
	const struct lp_cli_opt *o = find_short(s->own, c);

	return o ? o : find_short(s->builtin, c);
}

static enum tok scan_long(struct scan *s, const char *a, const struct lp_cli_opt **ret_opt,
			  const char **ret_arg)
{
	const char *eq = strchr(a + 2, '=');
	size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
	const struct lp_cli_opt *o = lookup_long(s, a + 2, len);

	s->ind++;
	if (!o) {
		snprintf(s->err, sizeof(s->err), "unknown option '--%.*s'", (int)len, a + 2);
		return TOK_ERR;
	}
	if (!o->arg && eq) {
		snprintf(s->err, sizeof(s->err), "option '--%s' takes no argument", o->name);
		return TOK_ERR;
	}
	if (o->arg && !eq) {
		if (s->ind >= s->argc) {
			snprintf(s->err, sizeof(s->err), "option '--%s' needs an argument (%s)",
				 o->name, o->arg);
			return TOK_ERR;
		}
		*ret_arg = s->argv[s->ind++];
	} else {
		*ret_arg = eq ? eq + 1 : NULL;
	}
	*ret_opt = o;
	return TOK_OPT;
}

static enum tok scan_short(struct scan *s, const char *a, const struct lp_cli_opt **ret_opt,
			   const char **ret_arg)
{
	char c = a[s->sub];
	const struct lp_cli_opt *o = lookup_short(s, c);

	s->sub++;
	if (!o) {
		snprintf(s->err, sizeof(s->err), "unknown option '-%c'", c);
		if (!a[s->sub]) {
			s->ind++;
			s->sub = 0;
		}
		return TOK_ERR;
	}
	*ret_arg = NULL;
	if (o->arg) {
		if (a[s->sub]) {
			*ret_arg = a + s->sub;
		} else if (s->ind + 1 < s->argc) {
			*ret_arg = s->argv[++s->ind];
		} else {
			snprintf(s->err, sizeof(s->err), "option '-%c' needs an argument (%s)", c,
				 o->arg);
			s->ind++;
			s->sub = 0;
			return TOK_ERR;
		}
		s->ind++;
		s->sub = 0;
	} else if (!a[s->sub]) {
		s->ind++;
		s->sub = 0;
	}
	*ret_opt = o;
	return TOK_OPT;
}

/* The next token of the command line: an option (with its argument), a positional
 * argument, the end, or an error (s->err says which). */
static enum tok scan_next(struct scan *s, const struct lp_cli_opt **ret_opt, const char **ret_arg)
{
	const char *a;

	if (s->ind >= s->argc)
		return TOK_END;
	a = s->argv[s->ind];
	if (s->sub > 0)
		return scan_short(s, a, ret_opt, ret_arg);
	if (s->dashdash || (s->raw && s->seen_arg) || a[0] != '-' || a[1] == '\0') {
		s->ind++;
		s->seen_arg = true;
		*ret_arg = a;
		return TOK_ARG;
	}
	if (strcmp(a, "--") == 0) {
		s->ind++;
		s->dashdash = true;
		return scan_next(s, ret_opt, ret_arg);
	}
	if (a[1] == '-')
		return scan_long(s, a, ret_opt, ret_arg);
	s->sub = 1;
	return scan_short(s, a, ret_opt, ret_arg);
}

static void scan_init(struct scan *s, const struct lp_cli_opt *own, const struct lp_cli_opt *builtin,
		      bool json_ok, bool raw, int argc, char **argv)
{
	memset(s, 0, sizeof(*s));
	s->own = own;
	s->builtin = builtin;
	s->json_ok = json_ok;
	s->raw = raw;
	s->argc = argc;
	s->argv = argv;
}

static void builtin_log(int key)
{
	if (key == KEY_VERBOSE)
		lp_log_set_level(LP_LOG_DEBUG);
	else if (key == KEY_QUIET)
		lp_log_set_level(LP_LOG_ERROR);
}

int lp_cli_next(struct lp_cli *cli, const char **ret_arg)
{
	struct scan s;

	scan_init(&s, cli->cmd->opts, cmd_builtins(cli->cmd), cli->cmd->flags & LP_CLI_JSON,
		  cli->cmd->flags & LP_CLI_ARGS_RAW, cli->argc_, cli->argv_);
	s.ind = cli->ind_;
	s.sub = cli->sub_;
	for (;;) {
		const struct lp_cli_opt *o = NULL;
		const char *arg = NULL;
		enum tok t = scan_next(&s, &o, &arg);

		if (t == TOK_END || t == TOK_ERR) {
			cli->ind_ = s.argc;
			return 0;
		}
		if (t == TOK_ARG) {
			if (s.raw) { /* everything after the first argument is an argument */
				cli->ind_ = s.argc;
				return 0;
			}
			continue;
		}
		if (o->key < 0) /* built-ins were handled when the line was checked */
			continue;
		cli->ind_ = s.ind;
		cli->sub_ = s.sub;
		if (ret_arg)
			*ret_arg = arg;
		return o->key;
	}
}

/* Checks the command line, collects the positional arguments and applies the built-in
 * options. 0 ok, -1 help (or the version) was printed, LP_EXIT_USAGE on an error
 * (printed). */
static int check_cmd(struct lp_cli *cli)
{
	const struct lp_cli_cmd *c = cli->cmd;
	const char *word = cmd_word(c);
	char first_err[sizeof(((struct scan *)0)->err)] = "";
	bool help = false, version = false;
	struct scan s;

	scan_init(&s, c->opts, cmd_builtins(c), c->flags & LP_CLI_JSON, c->flags & LP_CLI_ARGS_RAW,
		  cli->argc_, cli->argv_);
	for (;;) {
		const struct lp_cli_opt *o = NULL;
		const char *arg = NULL;
		enum tok t = scan_next(&s, &o, &arg);

		if (t == TOK_END)
			break;
		if (t == TOK_ERR) { /* go on: a --help later on the line still wins */
			if (!first_err[0])
				memcpy(first_err, s.err, sizeof(first_err));
			continue;
		}
		if (t == TOK_ARG) {
			cli->args[cli->n_args++] = (char *)arg;
			continue;
		}
		if (o->key == KEY_HELP)
			help = true;
		else if (o->key == KEY_VERSION)
			version = true;
		else if (o->key == KEY_JSON)
			cli->json = true;
		else if (o->key == KEY_VERBOSE || o->key == KEY_QUIET)
			builtin_log(o->key);
	}
	if (help) {
		cmd_help(cli->tool, c, stdout);
		return -1;
	}
	if (version) {
		printf("%s %s\n", cli->tool->name, lp_version_string());
		return -1;
	}
	if (first_err[0])
		return usage_line(cli->tool->name, word, "%s", first_err);
	if (cli->n_args < c->min_args)
		return usage_line(cli->tool->name, word, "missing argument%s (%s)",
				  c->min_args - cli->n_args > 1 ? "s" : "", c->args);
	if (c->max_args >= 0 && cli->n_args > c->max_args)
		return usage_line(cli->tool->name, word, "unexpected argument '%s'",
				  cli->args[c->max_args]);
	return 0;
}

static const struct lp_cli_cmd *find_cmd(const struct lp_cli_tool *tool, int argc, char **argv,
					 int *ret_words)
{
	char two[CMD_NAME_MAX * 2];

	if (argc >= 2 && snprintf(two, sizeof(two), "%s %s", argv[0], argv[1]) < (int)sizeof(two))
		for (size_t i = 0; i < tool->n_cmds; i++)
			if (strcmp(tool->cmds[i].name, two) == 0) {
				*ret_words = 2;
				return &tool->cmds[i];
			}
	for (size_t i = 0; i < tool->n_cmds; i++)
		if (strcmp(tool->cmds[i].name, argv[0]) == 0) {
			*ret_words = 1;
			return &tool->cmds[i];
		}
	return NULL;
}

static bool is_group(const struct lp_cli_tool *tool, const char *word)
{
	size_t len = strlen(word);

	for (size_t i = 0; i < tool->n_cmds; i++)
		if (strncmp(tool->cmds[i].name, word, len) == 0 && tool->cmds[i].name[len] == ' ')
			return true;
	return false;
}

static int no_command(const struct lp_cli_tool *tool, int argc, char **argv)
{
	if (!is_group(tool, argv[0]))
		return usage_line(tool->name, NULL, "unknown command '%s'", argv[0]);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		group_help(tool, argv[0], stdout);
		return LP_EXIT_OK;
	}
	if (argc < 2)
		return usage_line(tool->name, argv[0], "missing command");
	return usage_line(tool->name, NULL, "unknown command '%s %s'", argv[0], argv[1]);
}

/* Global options before the command; returns -1 to go on, else an exit code. */
static int global_opts(const struct lp_cli_tool *tool, int argc, char **argv, void *ctx,
		       int *ret_ind)
{
	struct scan s;

	scan_init(&s, tool->global_opts, builtin_tool_opts, false, true, argc - 1, argv + 1);
	for (;;) {
		const struct lp_cli_opt *o = NULL;
		const char *arg = NULL;
		int before = s.ind;
		enum tok t;

		if (s.ind < s.argc && s.sub == 0 && s.argv[s.ind][0] != '-')
			break; /* the command */
		t = scan_next(&s, &o, &arg);
		if (t == TOK_END)
			break;
		if (t == TOK_ERR)
			return usage_line(tool->name, NULL, "%s", s.err);
		if (t == TOK_ARG) { /* after "--", or "-" */
			s.ind = before + (s.dashdash && strcmp(s.argv[before], "--") == 0 ? 1 : 0);
			break;
		}
		if (o->key == KEY_HELP) {
			tool_help(tool, stdout);
			return LP_EXIT_OK;
		}
		if (o->key == KEY_VERSION) {
			printf("%s %s\n", tool->name, lp_version_string());
			return LP_EXIT_OK;
		}
		if (o->key < 0) {
			builtin_log(o->key);
			continue;
		}
		if (tool->global) {
			int r = tool->global(ctx, o->key, arg);

			if (r != 0)
				return r;
		}
	}
	*ret_ind = 1 + s.ind;
	return -1;
}

int lp_cli_main(const struct lp_cli_tool *tool, int argc, char **argv, void *ctx)
{
	const struct lp_cli_cmd *cmd;
	struct lp_cli cli = { .tool = tool };
	int ind = 1, words = 0, r;

	lp_log_set_ident(tool->name);
	if (tool->n_cmds == 1 && !tool->cmds[0].name[0]) {
		cmd = &tool->cmds[0]; /* a single-command tool: the whole line is the command's */
	} else {
		r = global_opts(tool, argc, argv, ctx, &ind);
		if (r >= 0)
			return r;
		if (ind >= argc)
			return usage_line(tool->name, NULL, "missing command");
		cmd = find_cmd(tool, argc - ind, argv + ind, &words);
		if (!cmd)
			return no_command(tool, argc - ind, argv + ind);
	}
	cli.cmd = cmd;
	cli.argc_ = argc - ind - words;
	cli.argv_ = argv + ind + words;
	cli.args = calloc((size_t)cli.argc_ + 1, sizeof(char *));
	if (!cli.args) {
		log_error("out of memory");
		return LP_EXIT_FAILURE;
	}
	r = check_cmd(&cli);
	if (r < 0) { /* the command's help was shown */
		r = LP_EXIT_OK;
		goto out;
	}
	if (r == 0 && tool->prepare && !(cmd->flags & LP_CLI_NO_PREPARE))
		r = tool->prepare(ctx, cmd);
	if (r == 0)
		r = cmd->run(&cli, ctx);
	if (r < 0) { /* a command must return an exit code; an errno slipped through */
		log_error("%s", strerror(-r));
		r = lp_exit_from_errno(r);
	}
out:
	free(cli.args);
	return r;
}

/* ---- values ---- */

int lp_cli_parse_uint(const struct lp_cli *cli, const char *opt, const char *text, uint64_t min,
		      uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		goto bad;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*ret = v;
	return 0;
bad:
	return lp_cli_usage_error(cli, "%s: expected a whole number from %llu to %llu, not '%s'", opt,
				  (unsigned long long)min, (unsigned long long)max, text);
}

struct unit {
	const char *suffix;
	uint64_t factor;
};

/* Digits followed by one of the suffixes (exactly), times its factor. */
static int number_with_unit(const char *text, const struct unit *units, size_t n_units,
			    uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*ret = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

int lp_duration_parse(const char *text, uint64_t *ret_ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};

	return number_with_unit(text, units, LP_ARRAY_SIZE(units), ret_ms);
}

int lp_cli_parse_duration(const struct lp_cli *cli, const char *opt, const char *text,
			  uint64_t *ret_ms)
{
	if (lp_duration_parse(text, ret_ms) < 0)
		return lp_cli_usage_error(cli, "%s: '%s' is not a duration (e.g. 30, 30s, 500ms, 5m, 2h)",
					  opt, text);
	return 0;
}

int lp_size_parse(const char *text, uint64_t *ret)
{
	static const struct unit units[] = {
		{ "", 1 },           { "k", 1u << 10 }, { "K", 1u << 10 }, { "m", 1u << 20 },
		{ "M", 1u << 20 },   { "g", 1u << 30 }, { "G", 1u << 30 },
	};

	return number_with_unit(text, units, LP_ARRAY_SIZE(units), ret);
}

int lp_cli_parse_size(const struct lp_cli *cli, const char *opt, const char *text, uint64_t min,
		      uint64_t max, uint64_t *ret)
{
	uint64_t v;

	if (lp_size_parse(text, &v) < 0 || v < min || v > max)
		return lp_cli_usage_error(cli, "%s: expected a byte count from %llu to %llu "
					  "(k, m, g: 1024, 1024², 1024³), not '%s'", opt,
					  (unsigned long long)min, (unsigned long long)max, text);
	*ret = v;
	return 0;
}

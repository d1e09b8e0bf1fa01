/* SPDX-License-Identifier: MIT */
/*
 * lib/cli: a small tool table run through lp_cli_main in a child process, checking
 * stdout, stderr and the exit code: help for the tool, a command and a command group,
 * one-line usage errors (unknown command/option, missing option argument, argument
 * counts) that happen before prepare() runs, --json only where allowed, options mixed
 * with arguments, clustered short options, "--", raw argument lists, global options,
 * and the errno → exit code table.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/cli.h"
#include "loopline/io.h"

struct ctx {
	const char *inventory;
	bool prepared;
};

static int cmd_show(struct lp_cli *cli, void *v)
{
	struct ctx *c = v;
	const char *arg;
	uint64_t n = 0;
	int key, r;

	printf("prepared=%d inv=%s", c->prepared, c->inventory ? c->inventory : "-");
	while ((key = lp_cli_next(cli, &arg)) > 0) {
		switch (key) {
		case 't':
			printf(" t=%s", arg);
			break;
		case 'n':
			if ((r = lp_cli_parse_uint(cli, "--count", arg, 1, 10, &n)) != 0)
				return r;
			printf(" n=%llu", (unsigned long long)n);
			break;
		case 'f':
			printf(" f");
			break;
		default:
			printf(" ?%d", key);
		}
	}
	printf(" json=%d", cli->json);
	for (int i = 0; i < cli->n_args; i++)
		printf(" [%s]", cli->args[i]);
	printf("\n");
	return 0;
}

static int cmd_fail(struct lp_cli *cli, void *v)
{
	return lp_cli_fail(-EKEYREJECTED, NULL, "package");
}

static int cmd_errno(struct lp_cli *cli, void *v)
{
	return -EBUSY; /* a command bug: an errno instead of an exit code */
}

static int prepare(void *v, const struct lp_cli_cmd *cmd)
{
	struct ctx *c = v;

	c->prepared = true;
	return c->inventory && strcmp(c->inventory, "bad") == 0 ? LP_EXIT_USAGE : 0;
}

static int global(void *v, int key, const char *arg)
{
	struct ctx *c = v;

	if (key == 'i')
		c->inventory = arg;
	return 0;
}

static const struct lp_cli_opt show_opts[] = {
	{ 't', "timeout", 't', "D", "how long" },
	{ 'n', "count", 'n', "N", "how many" },
	{ 'f', "force", 'f', NULL, "do it" },
	{ 0 },
};
static const struct lp_cli_opt global_opts[] = {
	{ 'i', "inventory", 'i', "FILE", "the inventory" },
	{ 0 },
};
static const struct lp_cli_cmd cmds[] = {
	{ "show", "NAME", "show one thing", "Longer text.", show_opts, 1, 1, LP_CLI_JSON, cmd_show },
	{ "run", "NAME -- CMD...", "run a command", NULL, show_opts, 1, -1, LP_CLI_ARGS_RAW, cmd_show },
	{ "tenant list", "", "list tenants", NULL, NULL, 0, 0, LP_CLI_JSON | LP_CLI_NO_PREPARE,
	  cmd_show },
	{ "tenant create", "NAME", "create a tenant", NULL, NULL, 1, 1, 0, cmd_show },
	{ "fail", "", "fails", NULL, NULL, 0, 0, 0, cmd_fail },
	{ "errno", "", "returns an errno", NULL, NULL, 0, 0, 0, cmd_errno },
};
static const int exits[] = { LP_EXIT_SIGNATURE, LP_EXIT_BUSY, 0 };
static const struct lp_cli_tool tool = {
	.name = "lp-tool",
	.summary = "A test tool.",
	.cmds = cmds,
	.n_cmds = LP_ARRAY_SIZE(cmds),
	.global_opts = global_opts,
	.global = global,
	.prepare = prepare,
	.exits = exits,
};

/* A single-command tool: one command named "" (options in order, repeatable). */
static const struct lp_cli_cmd single_cmds[] = {
	{ "", "", "simulate one thing", "Runs until stopped.", show_opts, 0, 0, 0, cmd_show },
};
static const struct lp_cli_tool single_tool = {
	.name = "lp-sim",
	.cmds = single_cmds,
	.n_cmds = 1,
	.exits = exits,
	.footer = "Footer text.\n",
};

/* the tool run() runs */
static const struct lp_cli_tool *run_tool = &tool;

struct out {
	int code;
	char out[8192];
	char err[8192];
};

static void slurp(int fd, char *buf, size_t cap)
{
	ssize_t n = lp_io_read_full(fd, buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Runs the tool with the words of line in a child; NULL-terminated argument list. */
static void run(struct out *o, ...)
{
	char *argv[32] = { "lp-tool" };
	int argc = 1, po[2], pe[2], st;
	va_list ap;
	pid_t pid;

	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	pid = fork();
	if (pid == 0) {
		struct ctx c = { 0 };

		dup2(po[1], 1);
		dup2(pe[1], 2);
		int r = lp_cli_main(run_tool, argc, argv, &c);

		fflush(stdout);
		_exit(r);
	}
	close(po[1]);
	close(pe[1]);
	slurp(po[0], o->out, sizeof(o->out));
	slurp(pe[0], o->err, sizeof(o->err));
	waitpid(pid, &st, 0);
	o->code = WEXITSTATUS(st);
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_help(void **state)
{
	struct out o;

	run(&o, "--help", NULL);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "Usage: lp-tool [OPTIONS] COMMAND [ARGS]"));
	assert_non_null(strstr(o.out, "tenant create NAME"));
	assert_non_null(strstr(o.out, "-i, --inventory FILE"));
	assert_non_null(strstr(o.out, "Exit codes:"));
	assert_non_null(strstr(o.out, "  10   package refused: no signature by a trusted key"));
	assert_non_null(strstr(o.out, "  20   busy"));
	assert_string_equal(o.err, "");
	run(&o, "show", "--help", NULL);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "Usage: lp-tool show NAME [OPTIONS]"));
	assert_non_null(strstr(o.out, "Longer text."));
	assert_non_null(strstr(o.out, "-t, --timeout D"));
	assert_non_null(strstr(o.out, "--json"));
	/* --help wins over everything else on the line, even errors */
	run(&o, "show", "--bogus", "-h", NULL);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "Usage: lp-tool show"));
	/* no --json for a command that is not read-only */
	run(&o, "tenant", "create", "--help", NULL);
	assert_int_equal(o.code, 0);
	assert_null(strstr(o.out, "--json"));
	/* a group */
	run(&o, "tenant", "--help", NULL);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "tenant list"));
	assert_non_null(strstr(o.out, "tenant create NAME"));
	assert_null(strstr(o.out, "show"));
	run(&o, "--version", NULL);
	assert_int_equal(o.code, 0);
	assert_true(strncmp(o.out, "lp-tool ", 8) == 0);
}

static void expect_usage(const char *err_line, struct out *o)
{
	assert_int_equal(o->code, LP_EXIT_USAGE);
	assert_string_equal(o->out, ""); /* nothing ran: prepare() would have printed */
	assert_int_equal(lines(o->err), 2);
	assert_non_null(strstr(o->err, err_line));
	assert_non_null(strstr(o->err, "\nTry 'lp-tool"));
}

static void test_usage_errors(void **state)
{
	struct out o;

	run(&o, NULL);
	expect_usage("lp-tool: missing command\n", &o);
	run(&o, "frob", NULL);
	expect_usage("lp-tool: unknown command 'frob'\n", &o);
	run(&o, "--frob", "show", "x", NULL);
	expect_usage("lp-tool: unknown option '--frob'\n", &o);
	run(&o, "show", "x", "--frob", NULL);
	expect_usage("lp-tool show: unknown option '--frob'\n", &o);
	assert_non_null(strstr(o.err, "Try 'lp-tool show --help'"));
	run(&o, "show", "x", "-z", NULL);
	expect_usage("lp-tool show: unknown option '-z'\n", &o);
	run(&o, "show", "x", "--timeout", NULL);
	expect_usage("lp-tool show: option '--timeout' needs an argument (D)\n", &o);
	run(&o, "show", "x", "-t", NULL);
	expect_usage("lp-tool show: option '-t' needs an argument (D)\n", &o);
	run(&o, "show", "x", "--force=yes", NULL);
	expect_usage("lp-tool show: option '--force' takes no argument\n", &o);
	run(&o, "show", NULL);
	expect_usage("lp-tool show: missing argument (NAME)\n", &o);
	run(&o, "show", "a", "b", NULL);
	expect_usage("lp-tool show: unexpected argument 'b'\n", &o);
	run(&o, "tenant", "create", "a", "--json", NULL);
	expect_usage("lp-tool tenant create: unknown option '--json'\n", &o);
	run(&o, "tenant", NULL);
	expect_usage("lp-tool tenant: missing command\n", &o);
	run(&o, "tenant", "frob", NULL);
	expect_usage("lp-tool: unknown command 'tenant frob'\n", &o);
	run(&o, "show", "x", "-ft", NULL);
	expect_usage("lp-tool show: option '-t' needs an argument (D)\n", &o);
	run(&o, "-i", NULL);
	expect_usage("lp-tool: option '-i' needs an argument (FILE)\n", &o);
	/* a value the table cannot check: reported by the command, still one line */
	run(&o, "show", "x", "--count", "11", NULL);
	assert_int_equal(o.code, LP_EXIT_USAGE);
	assert_non_null(strstr(o.err, "lp-tool show: --count: expected a whole number from 1 to 10, not '11'\n"));
}

static void test_parsing(void **state)
{
	struct out o;

	run(&o, "-i", "inv.yaml", "show", "--count=3", "name", "-ft", "5s", "--json", NULL);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "prepared=1 inv=inv.yaml n=3 f t=5s json=1 [name]\n");
	run(&o, "--inventory=x", "show", "-t5", "--", "-name", NULL);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "prepared=1 inv=x t=5 json=0 [-name]\n");
	run(&o, "show", "-", "-v", NULL); /* "-" is an argument (stdin); -v is built in */
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "prepared=1 inv=- json=0 [-]\n");
	/* raw: options end at the first argument */
	run(&o, "run", "-f", "board", "ls", "-t", "--frob", NULL);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "prepared=1 inv=- f json=0 [board] [ls] [-t] [--frob]\n");
	/* two-word command without prepare */
	run(&o, "tenant", "list", "--json", NULL);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "prepared=0 inv=- json=1\n");
	/* prepare's verdict stops the command */
	run(&o, "-i", "bad", "show", "x", NULL);
	assert_int_equal(o.code, LP_EXIT_USAGE);
	assert_string_equal(o.out, "");
}

static void test_exit_mapping(void **state)
{
	struct out o;

	run(&o, "fail", NULL);
	assert_int_equal(o.code, LP_EXIT_SIGNATURE);
	assert_non_null(strstr(o.err, "package: Key was rejected by service"));
	run(&o, "errno", NULL);
	assert_int_equal(o.code, LP_EXIT_BUSY);
	assert_int_equal(lp_exit_from_errno(0), 0);
	assert_int_equal(lp_exit_from_errno(-EBADMSG), LP_EXIT_CORRUPT);
	assert_int_equal(lp_exit_from_errno(-E2BIG), LP_EXIT_CORRUPT);
	assert_int_equal(lp_exit_from_errno(-ENOEXEC), LP_EXIT_INCOMPATIBLE);
	assert_int_equal(lp_exit_from_errno(-EPERM), LP_EXIT_DOWNGRADE);
	assert_int_equal(lp_exit_from_errno(-EPROTONOSUPPORT), LP_EXIT_AGENT_TOO_OLD);
	assert_int_equal(lp_exit_from_errno(-ETIMEDOUT), LP_EXIT_TIMEOUT);
	assert_int_equal(lp_exit_from_errno(-ETIME), LP_EXIT_TIMEOUT);
	assert_int_equal(lp_exit_from_errno(-EIO), LP_EXIT_FAILURE);
	assert_string_equal(lp_exit_name(LP_EXIT_DOWNGRADE), "security-version");
	assert_string_equal(lp_exit_name(77), "failure");
}

static void test_single_command(void **state)
{
	struct out o;

	run_tool = &single_tool;
	run(&o, "--help", NULL);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "Usage: lp-sim [OPTIONS]\n\nsimulate one thing\n"));
	assert_non_null(strstr(o.out, "-t, --timeout D"));
	assert_non_null(strstr(o.out, "--version"));
	assert_null(strstr(o.out, "--json"));
	assert_non_null(strstr(o.out, "Exit codes:"));
	assert_non_null(strstr(o.out, "  20   busy"));
	assert_non_null(strstr(o.out, "Footer text.\n"));
	run(&o, "-t", "1", "--version", NULL);
	assert_int_equal(o.code, 0);
	assert_true(strncmp(o.out, "lp-sim ", 7) == 0);
	/* options in the order given, repeatable */
	run(&o, "-t", "1", "-f", "--timeout=2", "-t3", NULL);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "prepared=0 inv=- t=1 f t=2 t=3 json=0\n");
	run(&o, NULL);
	assert_int_equal(o.code, 0);
	/* usage errors name the tool only */
	run(&o, "--frob", NULL);
	assert_int_equal(o.code, LP_EXIT_USAGE);
	assert_string_equal(o.err, "lp-sim: unknown option '--frob'\nTry 'lp-sim --help'.\n");
	run(&o, "word", NULL);
	assert_int_equal(o.code, LP_EXIT_USAGE);
	assert_string_equal(o.err, "lp-sim: unexpected argument 'word'\nTry 'lp-sim --help'.\n");
	run(&o, "--count", "0", NULL);
	assert_int_equal(o.code, LP_EXIT_USAGE);
	assert_string_equal(o.err, "lp-sim: --count: expected a whole number from 1 to 10, not '0'\n"
				   "Try 'lp-sim --help'.\n");
	run_tool = &tool;
}

/* A table of texts and what they parse to (UINT64_MAX: refused, the output untouched). */
struct number_case {
	const char *text;
	uint64_t value;
};

static void check_numbers(int (*parse)(const char *, uint64_t *), const struct number_case *cases,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 12345;
		int r = parse(cases[i].text, &v);

		if (cases[i].value == UINT64_MAX) {
			assert_true(r < 0);
			assert_int_equal(v, 12345);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(v, cases[i].value);
		}
	}
}

static void test_duration(void **state)
{
	static const struct number_case cases[] = {
		{ "30", 30000 }, { "30s", 30000 }, { "500ms", 500 }, { "5m", 300000 },
		{ "2h", 7200000 }, { "0", 0 }, { "", UINT64_MAX }, { "s", UINT64_MAX },
		{ "-1", UINT64_MAX }, { "1.5s", UINT64_MAX }, { "3d", UINT64_MAX },
		{ " 3", UINT64_MAX }, { "99999999999999999999", UINT64_MAX },
		{ "9999999999999999h", UINT64_MAX },
	};

	check_numbers(lp_duration_parse, cases, LP_ARRAY_SIZE(cases));
}

static void test_size(void **state)
{
	static const struct number_case cases[] = {
		{ "0", 0 }, { "4096", 4096 }, { "200k", 204800 }, { "200K", 204800 },
		{ "1m", 1048576 }, { "2G", 2147483648u }, { "", UINT64_MAX }, { "k", UINT64_MAX },
		{ "-1", UINT64_MAX }, { "1.5m", UINT64_MAX }, { "1kb", UINT64_MAX },
		{ "1t", UINT64_MAX }, { " 3", UINT64_MAX }, { "99999999999999999999", UINT64_MAX },
		{ "17179869184g", UINT64_MAX },
	};

	check_numbers(lp_size_parse, cases, LP_ARRAY_SIZE(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),    cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_parsing), cmocka_unit_test(test_exit_mapping),
		cmocka_unit_test(test_duration), cmocka_unit_test(test_size),
		cmocka_unit_test(test_single_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* loopline-matrix: every agent × backend × firmware × target × configuration combination
 * through update scenarios (docs/matrix.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "matrix.h"

enum { OPT_OUT = 'o' };

static const struct lp_cli_opt global_opts[] = {
	{ OPT_OUT, "out", 'o', "DIR",
	  "results and logs (default $LOOPLINE_MATRIX_OUT or ./matrix-out)" },
	{ 0 },
};

static const struct lp_cli_opt filter_opts[] = {
	{ 'O', "only", 0, "K=V,...", "only cases with these values (keys: axes, scenario)" },
	{ 'F', "filter", 0, "EXPR", "only cases the expression selects (docs/matrix.md)" },
	{ 'S', "shard", 0, "I/N", "the I-th of N shards (combos dealt round-robin)" },
	{ 0 },
};

static const struct lp_cli_opt run_opts[] = {
	{ 'j', "jobs", 'j', "N", "cases run at the same time (default: the number of cores)" },
	{ 'O', "only", 0, "K=V,...", "only cases with these values (keys: axes, scenario)" },
	{ 'F', "filter", 0, "EXPR", "only cases the expression selects" },
	{ 'S', "shard", 0, "I/N", "the I-th of N shards" },
	{ 'r', "retries", 0, "N", "run a failing case up to N more times (infra: always 2)" },
	{ 'k', "keep", 0, NULL, "keep every case's work directory (disks, backend data)" },
	{ 'n', "no-snapshots", 0, NULL, "cold-boot every case instead of restoring snapshots" },
	{ 'x', "executor", 0, "KIND", "local (default), lava-run (LAVA jobs on this machine) or lava (a LAVA lab)" },
	{ 'U', "lava-url", 0, "URL", "the LAVA lab (--executor lava), e.g. https://lava.example" },
	{ 'T', "lava-token", 0, "TOKEN", "its API token (default $LOOPLINE_LAVA_TOKEN)" },
	{ 'u', "artifact-url", 0, "BASE", "URL of RUN/lava/artifacts as the LAVA worker sees it (default file://…)" },
	{ 't', "device-type", 0, "TYPE", "LAVA device type of the QEMU jobs (default qemu)" },
	{ 0 },
};

static const struct lp_cli_opt lava_jobs_opts[] = {
	{ 'O', "only", 0, "K=V,...", "only cases with these values (keys: axes, scenario)" },
	{ 'F', "filter", 0, "EXPR", "only cases the expression selects" },
	{ 'S', "shard", 0, "I/N", "the I-th of N shards" },
	{ 'u', "artifact-url", 0, "BASE", "URL of OUT/artifacts as the LAVA worker sees it (default file://OUT/artifacts)" },
	{ 'd', "jobs-dir", 0, "DIR", "write the jobs and artifacts here instead of OUT" },
	{ 't', "device-type", 0, "TYPE", "LAVA device type of the QEMU jobs (default qemu)" },
	{ 0 },
};

static const struct lp_cli_opt report_opts[] = {
	{ 'J', "junit", 0, "FILE", "JUnit XML" },
	{ 'j', "json", 0, "FILE", "JSON" },
	{ 'H', "html", 0, "FILE", "one self-contained HTML page" },
	{ 'R', "rows", 0, "AXES", "HTML grid rows, e.g. target,agent (default: chosen)" },
	{ 'C', "columns", 0, "AXES", "HTML grid columns, e.g. scenario" },
	{ 0 },
};

static const struct lp_cli_opt history_opts[] = {
	{ 's', "scenario", 's', "NAME", "only this scenario" },
	{ 'l', "limit", 'l', "N", "at most N runs (default 20)" },
	{ 0 },
};

static const struct lp_cli_opt gate_opts[] = {
	{ 'p', "post", 0, "URL", "post the decision to the backend's release (with --token)" },
	{ 't', "token", 0, "TOKEN", "API token for --post (default $LOOPLINE_TOKEN)" },
	{ 'c', "cacert", 0, "FILE", "CA for --post (default $LOOPLINE_CACERT)" },
	{ 'r', "release", 0, "VERSION", "the release the decision is for (with --post)" },
	{ 0 },
};

static const struct lp_cli_opt proxy_opts[] = {
	{ 'c', "control", 'c', "FILE", "the fault state file the scenario steps write (none: pass)" },
	{ 'l', "log", 'l', "FILE", "append one line per connection" },
	{ 0 },
};

static const struct lp_cli_opt net_opts[] = {
	{ 'c', "control", 'c', "FILE", "the fault state file of a combo's proxy" },
	{ 0 },
};

static const struct lp_cli_cmd cmds[] = {
	{ "check", "SPEC", "validate a spec and show what it expands to",
	  NULL, NULL, 1, 1, LP_CLI_JSON, mx_cmd_check },
	{ "list", "SPEC", "list the cases a run would execute",
	  NULL, filter_opts, 1, 1, LP_CLI_JSON, mx_cmd_list },
	{ "run", "SPEC", "run the matrix and record the results",
	  "Builds each component version once (cached by content hash), starts a backend per\n"
	  "combo, boots or restores each starting point and runs every case's scenario.\n"
	  "Failures are classified product (the subject misbehaved) or infra (not tested);\n"
	  "infra failures are retried. Ctrl-C stops every process the run started.\n"
	  "--executor lava-run|lava runs each case as a LAVA job instead (docs/lava.md).",
	  run_opts, 1, 1, 0, mx_cmd_run },
	{ "lava-jobs", "SPEC", "write one LAVA job per case (docs/lava.md)",
	  "Builds the firmware each case needs, makes its disk (the packages the scenario\n"
	  "installs on the data partition) and fills the lava-jobs/ templates with the\n"
	  "scenario's recipe (matrix/scenarios/NAME.lava). Local-only scenarios and those\n"
	  "without a recipe are listed as skipped, with the reason, in OUT/jobs.json.",
	  lava_jobs_opts, 1, 1, 0, mx_cmd_lava_jobs },
	{ "show", "[RUN]", "show a run's results (default: the latest)",
	  NULL, NULL, 0, 1, LP_CLI_JSON, mx_cmd_show },
	{ "history", "COMBO", "the results of one combo over the last runs",
	  NULL, history_opts, 1, 1, LP_CLI_JSON, mx_cmd_history },
	{ "report", "[RUN]", "write JUnit XML, JSON and HTML reports of a run",
	  NULL, report_opts, 0, 1, 0, mx_cmd_report },
	{ "gate", "[RUN]", "decide whether a release may roll out (exit 0: every required combo passed)",
	  NULL, gate_opts, 0, 1, LP_CLI_JSON, mx_cmd_gate },
	{ "net", "cut|resume|pass|stall|throttle BYTES_PER_S|drop-after BYTES|show", "set a combo's network fault",
	  "Writes the control file every fault-proxy of the combo obeys (they notice within\n"
	  "50 ms). cut: close every connection and refuse new ones; resume: pass bytes again;\n"
	  "stall: keep connections open, move nothing; throttle: each direction of each\n"
	  "connection at most BYTES_PER_S; drop-after: the combo's connections together pass\n"
	  "BYTES server-to-guest bytes, then behave as cut until the next change. Sizes take\n"
	  "k, m, g (1024, 1024², 1024³). show: print the state (and the bytes used).",
	  net_opts, 1, 2, LP_CLI_NO_PREPARE, mx_cmd_net },
	{ "fault-proxy", "HOST PORT", "relay one guest connection to HOST:PORT through the fault state (run by QEMU)",
	  "The guest's connection is on stdin/stdout (QEMU guestfwd cmd:, once per connection).\n"
	  "Exits 0 when either side has closed or the fault state closed the connection; with\n"
	  "--log, appends one line: start, ms, bytes up and down, how it ended, the mode.",
	  proxy_opts, 2, 2, LP_CLI_NO_PREPARE, mx_cmd_fault_proxy },
};

static const int exits[] = { LP_EXIT_TIMEOUT, LP_EXIT_NOT_FOUND, LP_EXIT_GATE_FAILED,
			     LP_EXIT_GATE_UNTESTED, 0 };

static int global(void *ctx, int key, const char *arg)
{
	struct mx_cli *c = ctx;

	if (key == OPT_OUT && snprintf(c->out_dir, sizeof(c->out_dir), "%s", arg) >= (int)sizeof(c->out_dir)) {
		fprintf(stderr, MX_PROG ": --out: path too long\n");
		return LP_EXIT_USAGE;
	}
	return 0;
}

static int prepare(void *ctx, const struct lp_cli_cmd *cmd)
{
	struct mx_cli *c = ctx;
	int n = snprintf(c->db_path, sizeof(c->db_path), "%s/history.sqlite", c->out_dir);

	if (n < 0 || (size_t)n >= sizeof(c->db_path)) {
		fprintf(stderr, MX_PROG ": --out: path too long\n");
		return LP_EXIT_USAGE;
	}
	return 0;
}

static const struct lp_cli_tool tool = {
	.name = MX_PROG,
	.summary = "Runs update scenarios over every agent × backend × firmware × target combination.",
	.cmds = cmds,
	.n_cmds = LP_ARRAY_SIZE(cmds),
	.global_opts = global_opts,
	.global = global,
	.prepare = prepare,
	.exits = exits,
	.footer = "\nSee docs/matrix.md for the spec format, the scenarios and CI examples.\n",
};

int main(int argc, char **argv)
{
	struct mx_cli c = { 0 };
	const char *out = getenv("LOOPLINE_MATRIX_OUT");

	snprintf(c.out_dir, sizeof(c.out_dir), "%s", out && out[0] ? out : "matrix-out");
	return lp_cli_main(&tool, argc, argv, &c);
}

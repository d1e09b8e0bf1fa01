/* SPDX-License-Identifier: MIT */
/*
 * One attempt of a case on LAVA (lava.h, "lava-exec.c"), in the case's own process like
 * a local attempt: the generated job runs under lava-run on this machine
 * (matrix/libexec/lava-run-job) or in a LAVA lab over its REST API (lava-rest.c); what
 * LAVA says becomes DIR/result.json (lava-results.c), the device's console DIR/console.log
 * — so retries, the history, the reports and the gate treat it as any other attempt.
 */
/* Paths here are built from bounded pieces; a truncated one fails where it is used. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/proc.h"
#include "lava.h"
#include "run-case.h"

#define CONSOLE_TAIL 3000 /* bytes of the console in a failure's excerpt */
#define LOG_MAX (256u << 20)

void mx_lava_texts_free(struct mx_lava_texts *t)
{
	mx_buf_free(&t->console);
	mx_buf_free(&t->steps);
}

/* result.json from a decided outcome, with the console's tail for a failure; the
 * console and the test cases as the attempt's console.log and steps.log. */
int mx_lava_write_outcome(const char *dir, const struct mx_lava_outcome *out,
			  const struct mx_lava_texts *texts)
{
	const struct mx_buf *console = &texts->console;
	const char *tail = console->data ? console->data : "";
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/" MX_CONSOLE_LOG, dir);
	if (console->data)
		mx_buf_write(console, path);
	snprintf(path, sizeof(path), "%s/" MX_STEP_LOG, dir);
	if (texts->steps.data)
		mx_buf_write(&texts->steps, path);
	if (console->len > CONSOLE_TAIL)
		tail = console->data + console->len - CONSOLE_TAIL;
	if (out->verdict == MX_LAVA_PASS)
		return mx_case_write_result(dir, "pass", "ok", "", out->message, "", 0);
	if (out->verdict == MX_LAVA_FAIL)
		return mx_case_write_result(dir, "fail", "lava-test-case", out->failed, out->message,
					    tail, 0);
	return mx_case_write_result(dir, "error", "lava", "", out->message, tail, 0);
}

/* The verdict of a LAVA log (lava-run's): result.json, console.log, steps.log. */
int mx_lava_record(const char *dir, const char *log, size_t len)
{
	struct mx_lava_outcome out;
	struct mx_lava_texts texts = { 0 };
	struct lp_diag d;
	char msg[1200];
	int r;

	lp_diag_clear(&d);
	r = mx_lava_log_parse(log, len, &out, &texts, &d);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "LAVA's log: %s", d.msg);
		r = mx_case_write_result(dir, "error", "lava", "", msg, "", 0);
	} else {
		r = mx_lava_write_outcome(dir, &out, &texts);
	}
	mx_lava_texts_free(&texts);
	return r;
}

void mx_lava_artifacts_remove(const char *jobs_dir)
{
	char dir[PATH_MAX + 16];
	const char *argv[] = { "rm", "-rf", dir, NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_NULL, .err = LP_PROC_ERR_NULL };
	struct lp_proc_result res;

	snprintf(dir, sizeof(dir), "%s/artifacts", jobs_dir);
	lp_proc_run(&o, 120000, NULL, NULL, 0, &res);
}

/* --executor lava-run: the job on this machine. */
static int run_local(const struct mx_lava_attempt *a)
{
	char tool[PATH_MAX + 32], timeout_s[32], log[PATH_MAX + 32], *text = NULL;
	const char *argv[] = { tool, a->job, a->dir, a->device, a->cache, NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_FD, .err = LP_PROC_ERR_STDOUT,
				  .flags = LP_PROC_KILL_LEFTOVERS };
	struct lp_proc_result res;
	char why[256] = "";
	size_t len = 0;
	int fd, r;

	snprintf(tool, sizeof(tool), "%s/lava-run-job", a->libexec);
	snprintf(log, sizeof(log), "%s/lava-run-job.log", a->dir);
	snprintf(timeout_s, sizeof(timeout_s), "%u", a->timeout_min);
	if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return mx_case_write_result(a->dir, "error", "lava", "", "cannot write lava-run-job.log",
					    "", 0);
	o.out_fd = fd;
	r = lp_proc_run(&o, a->timeout_min * 60000u, NULL, NULL, 0, &res);
	close(fd);
	if (r == -ETIMEDOUT)
		snprintf(why, sizeof(why), "lava-run did not end within %u min", a->timeout_min);
	else if (r < 0)
		snprintf(why, sizeof(why), "lava-run-job: %s", strerror(-r));
	else if (res.exit_code == 125)
		snprintf(why, sizeof(why), "lava-run-job could not run lava-run: see lava-run-job.log");
	snprintf(log, sizeof(log), "%s/lava.log", a->dir);
	if (why[0] && (r == -ETIMEDOUT || r < 0 || res.exit_code == 125))
		return mx_case_write_result(a->dir, "error", "lava", "", why, "", 0);
	if ((r = lp_fs_read_file(log, LOG_MAX, &text, &len)) < 0)
		return mx_case_write_result(a->dir, "error", "lava", "", "lava-run wrote no log", "", 0);
	r = mx_lava_record(a->dir, text, len);
	free(text);
	return r;
}

void mx_lava_attempt_cleanup(const struct mx_lava_attempt *a)
{
	char file[PATH_MAX + 32], *text = NULL;
	size_t len;
	long pid;

	if (a->rest) {
		mx_lava_rest_cancel(a);
		return;
	}
	snprintf(file, sizeof(file), "%s/lava-run-job.pid", a->dir);
	if (lp_fs_read_file(file, 64, &text, &len) < 0)
		return;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid > 1)
		kill((pid_t)-pid, SIGKILL);
}

int mx_lava_attempt_run(const struct mx_lava_attempt *a)
{
	if (a->rest)
		return mx_lava_rest_attempt(a);
	return run_local(a);
}

/* SPDX-License-Identifier: MIT */
/*
 * JUnit XML: one <testsuite> per run, one <testcase> per combo × scenario
 * (classname = the combo key, name = the scenario).
 *
 *   fail (product)            <failure type="product">: the failing step, the message and
 *                             the console lines around the failure
 *   error, running (infra)    <error type="infra">: the same ("not tested")
 *   skipped, missing          <skipped message="…"/>
 *   flaky                     passed, with one <flakyFailure> per failed attempt (the
 *                             Maven Surefire convention that Jenkins' Flaky Test Handler
 *                             reads; GitLab and Jenkins' JUnit plugin ignore the element
 *                             and show the case as passed) and a <system-out> note
 *
 * Every case's <system-out> names its step log and console log (relative to the run
 * directory). Text is escaped and characters XML 1.0 forbids are dropped
 * (mx_buf_escape), so the file always parses.
 */
#include <stdio.h>
#include <string.h>

#include "matrix.h"

static void attr(struct mx_buf *b, const char *name, const char *value)
{
	mx_buf_printf(b, " %s=\"", name);
	mx_buf_escape(b, value, true);
	mx_buf_puts(b, "\"");
}

static void first_line_attr(struct mx_buf *b, const char *name, const char *value)
{
	char line[512];
	size_t n = strcspn(value, "\n");

	snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), value);
	attr(b, name, line);
}

static void seconds(struct mx_buf *b, const char *name, int64_t ms)
{
	mx_buf_printf(b, " %s=\"%lld.%03lld\"", name, (long long)(ms / 1000), (long long)(ms % 1000));
}

/* "step log: DIR/steps.log" and "console log: DIR/console.log" lines. */
static void log_lines(struct mx_buf *b, const struct mx_result *r)
{
	if (!r->log_dir[0])
		return;
	mx_buf_puts(b, "step log: ");
	mx_buf_escape(b, r->log_dir, false);
	mx_buf_puts(b, "/" MX_STEP_LOG "\nconsole log: ");
	mx_buf_escape(b, r->log_dir, false);
	mx_buf_puts(b, "/" MX_CONSOLE_LOG "\n");
}

/* The body of <failure>/<error>: what a person needs without opening the logs. */
static void failure_text(struct mx_buf *b, const struct mx_result *r)
{
	if (r->failed_step[0]) {
		mx_buf_puts(b, "step: ");
		mx_buf_escape(b, r->failed_step, false);
		mx_buf_puts(b, "\n");
	}
	mx_buf_escape(b, r->message[0] ? r->message : "(no message)", false);
	mx_buf_puts(b, "\n");
	if (r->console_excerpt[0]) {
		mx_buf_puts(b, "\nconsole:\n");
		mx_buf_escape(b, r->console_excerpt, false);
		mx_buf_puts(b, "\n");
	}
	if (r->log_dir[0])
		mx_buf_puts(b, "\n");
	log_lines(b, r);
}

static void flaky_parts(struct mx_buf *b, const struct mx_report *rep, const struct mx_result *r)
{
	size_t n = 0;
	const struct mx_attempt *a = mx_report_attempts(rep, r, &n);

	for (size_t i = 0; i < n; i++) {
		if (a[i].status == MX_STATUS_PASS)
			continue;
		mx_buf_puts(b, "      <flakyFailure");
		first_line_attr(b, "message", a[i].message[0] ? a[i].message : mx_status_name(a[i].status));
		attr(b, "type", mx_class_name(a[i].class));
		mx_buf_puts(b, "><stackTrace>");
		mx_buf_printf(b, "attempt %u: %s (%s)\n", a[i].number, mx_status_name(a[i].status),
			      mx_class_name(a[i].class));
		if (a[i].failed_step[0]) {
			mx_buf_puts(b, "step: ");
			mx_buf_escape(b, a[i].failed_step, false);
			mx_buf_puts(b, "\n");
		}
		mx_buf_escape(b, a[i].message, false);
		mx_buf_puts(b, "</stackTrace></flakyFailure>\n");
	}
	mx_buf_printf(b, "      <system-out>FLAKY: passed only on attempt %u of the case", r->attempts);
	for (size_t i = 0; i < n; i++)
		if (a[i].status != MX_STATUS_PASS) {
			mx_buf_printf(b, "; attempt %u: %s (%s)", a[i].number,
				      mx_status_name(a[i].status), mx_class_name(a[i].class));
			if (a[i].failed_step[0]) {
				mx_buf_puts(b, " at ");
				mx_buf_escape(b, a[i].failed_step, false);
			}
		}
	mx_buf_puts(b, "\n");
}

static void testcase(struct mx_buf *b, const struct mx_report *rep, const struct mx_result *r)
{
	bool out_open = false;

	mx_buf_puts(b, "    <testcase");
	attr(b, "classname", r->combo_key);
	attr(b, "name", r->scenario);
	seconds(b, "time", r->duration_ms);
	mx_buf_puts(b, ">\n");
	if (r->missing || r->status == MX_STATUS_SKIPPED) {
		mx_buf_puts(b, "      <skipped");
		first_line_attr(b, "message", r->message[0] ? r->message : "skipped");
		mx_buf_puts(b, "/>\n");
	} else if (r->status == MX_STATUS_FAIL || r->status == MX_STATUS_ERROR ||
		   r->status == MX_STATUS_RUNNING) {
		/* product failures are <failure>, everything that means "not tested" <error> */
		const char *el = mx_gate_verdict(r) == MX_VERDICT_FAILED ? "failure" : "error";

		mx_buf_printf(b, "      <%s", el);
		first_line_attr(b, "message", r->message[0] ? r->message : mx_status_name(r->status));
		attr(b, "type", r->status == MX_STATUS_RUNNING ? "infra" : mx_class_name(r->class));
		mx_buf_puts(b, ">");
		failure_text(b, r);
		mx_buf_printf(b, "</%s>\n", el);
	} else if (r->status == MX_STATUS_FLAKY) {
		flaky_parts(b, rep, r);
		out_open = true;
	}
	if (!r->missing) {
		if (!out_open)
			mx_buf_puts(b, "      <system-out>");
		mx_buf_printf(b, "status: %s%s, class: %s, attempts: %u%s\n", mx_status_name(r->status),
			      r->required ? " (required)" : "", mx_class_name(r->class), r->attempts,
			      mx_report_is_new(rep, r) ? ", NEW since the previous run" : "");
		log_lines(b, r);
		mx_buf_puts(b, "</system-out>\n");
	}
	mx_buf_puts(b, "    </testcase>\n");
}

int mx_report_junit(const struct mx_report *rep, struct mx_buf *b)
{
	struct mx_counts c;
	char name[MX_NAME_MAX + 32], ts[32];
	size_t failures = 0, errors = 0, skipped;

	mx_report_count(rep, &c);
	for (size_t i = 0; i < rep->n_results; i++) {
		const struct mx_result *r = &rep->results[i];

		if (r->missing || r->status == MX_STATUS_SKIPPED)
			continue;
		if (r->status == MX_STATUS_FAIL || r->status == MX_STATUS_ERROR ||
		    r->status == MX_STATUS_RUNNING) {
			if (mx_gate_verdict(r) == MX_VERDICT_FAILED)
				failures++;
			else
				errors++;
		}
	}
	skipped = c.status[MX_STATUS_SKIPPED];
	snprintf(name, sizeof(name), "%s run %lld", rep->run.spec_name, (long long)rep->run.id);
	mx_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	attr(b, "name", MX_PROG);
	mx_buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"", c.total,
		      failures, errors, skipped);
	seconds(b, "time", c.duration_ms);
	mx_buf_puts(b, ">\n  <testsuite");
	attr(b, "name", name);
	mx_buf_printf(b, " id=\"%lld\"", (long long)rep->run.id);
	mx_buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"", c.total,
		      failures, errors, skipped);
	seconds(b, "time", c.duration_ms);
	/* ISO 8601 without zone, as the JUnit schema has it (the time is UTC) */
	mx_format_time(rep->run.started_ms, ts, sizeof(ts));
	if (strlen(ts) >= 19) {
		ts[10] = 'T';
		ts[19] = '\0';
		attr(b, "timestamp", ts);
	}
	attr(b, "hostname", rep->run.host);
	mx_buf_puts(b, ">\n    <properties>\n");
	mx_buf_puts(b, "      <property name=\"spec\"");
	attr(b, "value", rep->run.spec_path);
	mx_buf_puts(b, "/>\n      <property name=\"spec_sha256\"");
	attr(b, "value", rep->run.spec_sha256);
	mx_buf_puts(b, "/>\n      <property name=\"run_state\"");
	attr(b, "value", rep->run.state);
	mx_buf_printf(b, "/>\n      <property name=\"previous_run\" value=\"%lld\"/>\n",
		      (long long)rep->run.previous_id);
	for (size_t i = 0; i < rep->n_components; i++) {
		char key[MX_NAME_MAX + MX_VALUE_TEXT_MAX + 16];

		snprintf(key, sizeof(key), "component.%s.%s", rep->components[i].kind,
			 rep->components[i].value);
		mx_buf_puts(b, "      <property");
		attr(b, "name", key);
		attr(b, "value", rep->components[i].hash);
		mx_buf_puts(b, "/>\n");
	}
	mx_buf_puts(b, "    </properties>\n");
	for (size_t i = 0; i < rep->n_results; i++)
		testcase(b, rep, &rep->results[i]);
	mx_buf_puts(b, "  </testsuite>\n</testsuites>\n");
	return b->err;
}

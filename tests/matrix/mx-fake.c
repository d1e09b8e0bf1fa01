/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "mx-fake.h"

static int64_t run_start[3]; /* per run id: run 1 two hours ago, run 2 twenty minutes ago */

static const char *const targets[] = { "qemu-x86_64", "qemu-aarch64" };
static const char *const agents[] = { "current", "previous" };
static const char *const scenarios[] = { "update", "rollback-health", "power-cut", "tampered",
					 "resume" };

void mxf_result(struct mx_result *r, int64_t run_id, const char *target, const char *agent,
		const char *scenario)
{
	memset(r, 0, sizeof(*r));
	r->run_id = run_id;
	snprintf(r->combo_key, sizeof(r->combo_key),
		 "target=%s,backend=current,agent=%s,from=1.0.0,to=1.1.0,env=uboot", target, agent);
	snprintf(r->scenario, sizeof(r->scenario), "%s", scenario);
	r->axes = cJSON_CreateObject();
	cJSON_AddStringToObject(r->axes, "target", target);
	cJSON_AddStringToObject(r->axes, "backend", "current");
	cJSON_AddStringToObject(r->axes, "agent", agent);
	cJSON_AddStringToObject(r->axes, "from", "1.0.0");
	cJSON_AddStringToObject(r->axes, "to", "1.1.0");
	cJSON_AddStringToObject(r->axes, "env", "uboot");
	r->components = cJSON_CreateObject();
	cJSON_AddStringToObject(r->components, "agent", strcmp(agent, "current") == 0 ? "a1c0ffee" : "a0ldbeef");
	cJSON_AddStringToObject(r->components, "backend", "b4ckend0");
	r->required = strcmp(target, "qemu-x86_64") == 0;
	r->status = MX_STATUS_PASS;
	r->class = MX_CLASS_NONE;
	r->attempts = 1;
	r->started_ms = (run_id >= 1 && run_id <= 2 && run_start[run_id] ? run_start[run_id]
			 : lp_clock_wall_ms() - 600000) + (int64_t)strlen(target) * 7000;
	r->duration_ms = 41000 + (int64_t)strlen(scenario) * 1000;
	r->subject_ms = r->duration_ms * 9 / 10;
	snprintf(r->log_dir, sizeof(r->log_dir), "cases/%s-%s-%s", target, agent, scenario);
}

static int write_logs(const char *out_dir, int64_t run_id, const struct mx_result *r)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], text[512];
	int n, x;

	n = snprintf(dir, sizeof(dir), "%s/runs/%lld/%s", out_dir, (long long)run_id, r->log_dir);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	x = lp_fs_mkdir_p(dir, 0755);
	if (x < 0)
		return x;
	snprintf(path, sizeof(path), "%s/" MX_STEP_LOG, dir);
	n = snprintf(text, sizeof(text), "%s / %s: %s\n", r->combo_key, r->scenario,
		     mx_status_name(r->status));
	x = lp_fs_write_atomic(path, text, (size_t)n, 0644, 0);
	if (x < 0)
		return x;
	snprintf(path, sizeof(path), "%s/" MX_CONSOLE_LOG, dir);
	n = snprintf(text, sizeof(text), "[    0.000000] Linux version 6.1\nlpfw: booted slot A\n");
	return lp_fs_write_atomic(path, text, (size_t)n, 0644, 0);
}

/* The status a case gets in run 2 of a variant (run 1: everything passes except one
 * case that failed then too, so it is not "new"). */
static void shape(struct mx_result *r, enum mxf_variant v, size_t t, size_t a, size_t s)
{
	bool req = t == 0;
	size_t k = a * LP_ARRAY_SIZE(scenarios) + s;

	if (v == MXF_PASS) {
		if (req && k == 2) {
			r->status = MX_STATUS_FLAKY;
			r->attempts = 2;
		}
		if (!req && k == 1) {
			r->status = MX_STATUS_FAIL;
			r->class = MX_CLASS_PRODUCT;
			snprintf(r->failed_step, sizeof(r->failed_step), "rollback-health.hil:9: expect lpfw: rolled back");
			snprintf(r->message, sizeof(r->message), "timed out after 120 s waiting for \"rolled back\"");
		}
		return;
	}
	if (v == MXF_UNTESTED) {
		if (req && k == 3) {
			r->status = MX_STATUS_ERROR;
			r->class = MX_CLASS_INFRA;
			r->attempts = 3;
			snprintf(r->failed_step, sizeof(r->failed_step), "start qemu");
			snprintf(r->message, sizeof(r->message), "QEMU did not start: Could not allocate memory");
		}
		return;
	}
	/* MXF_ALL: one of each, in the required target and the other one */
	switch (k) {
	case 1: /* fail, product, NEW (passed in run 1) */
		r->status = MX_STATUS_FAIL;
		r->class = MX_CLASS_PRODUCT;
		snprintf(r->failed_step, sizeof(r->failed_step),
			 "rollback-health.hil:12: expect lpfw: version=1.0.0 <rolled back>");
		snprintf(r->message, sizeof(r->message),
			 "timed out after 120 s waiting for \"version=1.0.0\": the agent reported "
			 "success before the health check & committed slot B");
		snprintf(r->console_excerpt, sizeof(r->console_excerpt),
			 "lpfw: health check: FAILED (exit 1)\nloopline-agent: update committed <slot B>\n"
			 "\x1b[31mred text\x1b[0m and a NUL-free control \x01 char\n");
		break;
	case 2: /* error, infra */
		r->status = MX_STATUS_ERROR;
		r->class = MX_CLASS_INFRA;
		r->attempts = 3;
		snprintf(r->failed_step, sizeof(r->failed_step), "power-cut.hil:3: boot");
		snprintf(r->message, sizeof(r->message), "QEMU exited with status 1 before the console opened");
		break;
	case 3: /* flaky, NEW */
		r->status = MX_STATUS_FLAKY;
		r->class = MX_CLASS_NONE;
		r->attempts = 2;
		break;
	case 4: /* skipped */
		r->status = MX_STATUS_SKIPPED;
		r->duration_ms = 0;
		snprintf(r->message, sizeof(r->message), "stopped (Ctrl-C) before it started");
		break;
	case 6: /* fail, product, also failed in run 1: not new */
		r->status = MX_STATUS_FAIL;
		r->class = MX_CLASS_PRODUCT;
		snprintf(r->failed_step, sizeof(r->failed_step), "update.hil:20: expect agent: committed");
		snprintf(r->message, sizeof(r->message), "the previous agent does not commit: 'old' bug");
		break;
	case 7: /* running: the runner was still at it */
		r->status = MX_STATUS_RUNNING;
		break;
	default:
		break;
	}
}

static int put_case(struct mx_db *db, const char *out_dir, int64_t run_id, enum mxf_variant v,
		    size_t t, size_t a, size_t s, bool previous)
{
	struct mx_result r;
	struct mx_attempt at;
	int x = 0;

	mxf_result(&r, run_id, targets[t], agents[a], scenarios[s]);
	if (previous) {
		if (a * LP_ARRAY_SIZE(scenarios) + s == 6) {
			r.status = MX_STATUS_FAIL;
			r.class = MX_CLASS_PRODUCT;
		}
	} else {
		shape(&r, v, t, a, s);
	}
	/* the flaky case's first attempt failed */
	if (r.status == MX_STATUS_FLAKY || r.attempts > 1) {
		memset(&at, 0, sizeof(at));
		at.run_id = run_id;
		snprintf(at.combo_key, sizeof(at.combo_key), "%s", r.combo_key);
		snprintf(at.scenario, sizeof(at.scenario), "%s", r.scenario);
		for (unsigned n = 1; n <= r.attempts && x >= 0; n++) {
			bool last = n == r.attempts;

			at.number = n;
			at.status = last ? r.status : (r.status == MX_STATUS_FLAKY ? MX_STATUS_FAIL : r.status);
			if (last && r.status == MX_STATUS_FLAKY)
				at.status = MX_STATUS_PASS;
			at.class = at.status == MX_STATUS_PASS ? MX_CLASS_NONE
				   : r.status == MX_STATUS_FLAKY ? MX_CLASS_PRODUCT : r.class;
			at.started_ms = r.started_ms + (int64_t)(n - 1) * 50000;
			at.duration_ms = 40000;
			snprintf(at.failed_step, sizeof(at.failed_step), "%s",
				 at.status == MX_STATUS_PASS ? "" : "update.hil:14: expect lpfw: booted slot B");
			snprintf(at.message, sizeof(at.message), "%s",
				 at.status == MX_STATUS_PASS ? "" : "no \"booted slot B\" within 60 s");
			snprintf(at.log_dir, sizeof(at.log_dir), "%.200s/attempt-%u", r.log_dir, n);
			x = mx_db_attempt_put(db, &at);
		}
	}
	if (x >= 0 && !previous && r.status != MX_STATUS_SKIPPED)
		x = write_logs(out_dir, run_id, &r);
	if (x >= 0)
		x = mx_db_result_put(db, &r);
	mx_result_clear(&r);
	return x;
}

static int make_run(struct mx_db *db, const char *out_dir, enum mxf_variant v, bool previous)
{
	struct mx_run_info ri;
	struct mx_expected exp[LP_ARRAY_SIZE(targets) * LP_ARRAY_SIZE(agents) * LP_ARRAY_SIZE(scenarios)];
	char keys[LP_ARRAY_SIZE(exp)][MX_KEY_MAX];
	cJSON *axes[LP_ARRAY_SIZE(exp)];
	struct mx_result tmp;
	size_t n = 0;
	int x;

	memset(&ri, 0, sizeof(ri));
	snprintf(ri.spec_path, sizeof(ri.spec_path), "matrix/default.yaml");
	snprintf(ri.spec_name, sizeof(ri.spec_name), "demo");
	snprintf(ri.spec_sha256, sizeof(ri.spec_sha256), "%064d", 7);
	snprintf(ri.options, sizeof(ri.options), "-j 2 --retries 1");
	ri.started_ms = lp_clock_wall_ms() - (previous ? 7200000 : 1200000);
	run_start[previous ? 1 : 2] = ri.started_ms;
	x = mx_db_run_begin(db, &ri); /* ri.dir "" → "runs/<id>" */
	if (x < 0)
		return x;
	/* the plan: every combo × scenario (run 2's last case never gets a result) */
	for (size_t t = 0; t < LP_ARRAY_SIZE(targets); t++)
		for (size_t a = 0; a < LP_ARRAY_SIZE(agents); a++)
			for (size_t s = 0; s < LP_ARRAY_SIZE(scenarios); s++, n++) {
				mxf_result(&tmp, ri.id, targets[t], agents[a], scenarios[s]);
				snprintf(keys[n], sizeof(keys[n]), "%s", tmp.combo_key);
				axes[n] = tmp.axes;
				tmp.axes = NULL;
				exp[n] = (struct mx_expected){ keys[n], scenarios[s], tmp.required, axes[n] };
				mx_result_clear(&tmp);
			}
	x = mx_db_expect(db, ri.id, exp, n);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(axes[i]);
	for (size_t t = 0; t < LP_ARRAY_SIZE(targets) && x >= 0; t++)
		for (size_t a = 0; a < LP_ARRAY_SIZE(agents) && x >= 0; a++)
			for (size_t s = 0; s < LP_ARRAY_SIZE(scenarios) && x >= 0; s++) {
				bool last = t == 1 && a == 1 && s == LP_ARRAY_SIZE(scenarios) - 1;
				bool req_missing = v == MXF_UNTESTED && t == 0 && a == 1 && s == 4;

				if (!previous && (last || req_missing))
					continue;
				x = put_case(db, out_dir, ri.id, v, t, a, s, previous);
			}
	if (x >= 0 && !previous) {
		static const struct { const char *kind, *value, *source, *hash; } comps[] = {
			{ "agent", "current", "path: .", "a1c0ffee5e1f0000000000000000000000000000000000000000000000000001" },
			{ "agent", "previous", "git: v0.9.0 (3f2a9c1)", "a0ldbeef00000000000000000000000000000000000000000000000000000002" },
			{ "backend", "current", "path: .", "b4ckend000000000000000000000000000000000000000000000000000000003" },
		};
		for (size_t i = 0; i < LP_ARRAY_SIZE(comps) && x >= 0; i++) {
			struct mx_run_component c;

			memset(&c, 0, sizeof(c));
			c.run_id = ri.id;
			snprintf(c.kind, sizeof(c.kind), "%s", comps[i].kind);
			snprintf(c.value, sizeof(c.value), "%s", comps[i].value);
			snprintf(c.source, sizeof(c.source), "%s", comps[i].source);
			snprintf(c.hash, sizeof(c.hash), "%s", comps[i].hash);
			x = mx_db_component_put(db, &c);
		}
	}
	if (x >= 0)
		x = mx_db_run_end(db, ri.id, "finished");
	return x;
}

int mxf_make_history(const char *out_dir, enum mxf_variant v)
{
	char path[PATH_MAX];
	struct mx_db *db = NULL;
	int x;

	x = lp_fs_path_join(path, sizeof(path), out_dir, "history.sqlite");
	if (x < 0)
		return x;
	x = mx_db_open(path, &db, NULL);
	if (x < 0)
		return x;
	x = make_run(db, out_dir, v, true);
	if (x >= 0)
		x = make_run(db, out_dir, v, false);
	if (x < 0)
		fprintf(stderr, "mx-fake: %s\n", mx_db_diag(db)->msg);
	mx_db_close(db);
	return x;
}

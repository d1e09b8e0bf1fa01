/* SPDX-License-Identifier: MIT */
/*
 * loopline-matrix run SPEC: expand the spec, build what the cases need (run-build.c),
 * run each case's attempts in processes of their own (run-case.c), up to --jobs at once,
 * record every attempt and verdict in the history as it happens, and write the reports
 * of the run when it ends (docs/matrix.md, "Running").
 *
 * Verdicts: a scenario that fails a wait, a command or a failure pattern is a product
 * failure (FAIL, retried up to --retries times: passing later makes it FLAKY); a failure
 * of the harness — setup, the board, a scenario that cannot run, a case process that
 * died — is an infrastructure error (ERROR, retried twice, never counted against a
 * release). Ctrl-C (SIGINT) or SIGTERM stops every case process with what it started;
 * their cases are ERROR "interrupted", the ones not started SKIPPED.
 */
/* Paths and labels here are built from bounded pieces (PATH_MAX directories, MX_NAME_MAX
 * names); a truncated one fails where it is used (a missing file, a tool's error). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "loopline/cli.h"
#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/lock.h"
#include "lava.h"
#include "matrix.h"
#include "run-case.h"
#include "run.h"

#define INFRA_RETRIES 2u
#define CASE_GRACE_MS (120u * 1000u) /* over the case's timeout before it is killed */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

struct prep {                  /* what one case needs, known before it starts */
	char *setup_json;
	char **vars;
	size_t n_vars;
	char scenario_path[PATH_MAX];
	uint64_t timeout_ms;
	cJSON *components;         /* {"agent": hash, "backend": hash, "from": hash, "to": hash} */
	char prep_error[1024];     /* the case cannot run: why (an infrastructure error) */
	char snap_key[MX_SNAP_KEY_LEN + 1]; /* "" : boots cold */
	char restore[PATH_MAX];    /* the snapshot's state file once it was made */
	const char *board;         /* a rack board (the target's name), NULL: QEMU */
	char skip[512];            /* LAVA: why the case does not run there (SKIPPED) */
	char lava_job[PATH_MAX];   /* LAVA: the generated job */
};

enum executor { EXEC_LOCAL, EXEC_LAVA_RUN, EXEC_LAVA };

struct job {
	size_t idx;                /* into plan->cases */
	unsigned attempt;          /* attempts started */
	unsigned infra_used, product_used;
	bool failed_before;        /* a product failure happened in an earlier attempt */
	pid_t pid;
	uint64_t started_mono;
	int64_t started_wall;
	char dir[PATH_MAX];        /* the current attempt's directory (absolute) */
	char rel[PATH_MAX];        /* relative to the run's directory */
	bool done;
	int64_t first_started_wall;
};

struct runner {
	struct mx_cli *cli;
	const struct mx_spec *spec;
	const struct mx_plan *plan;
	struct mx_db *db;
	struct mx_run_info info;
	char run_dir[PATH_MAX];    /* absolute */
	char libexec[PATH_MAX];
	struct mx_build build;
	struct prep *preps;
	struct job *jobs;
	unsigned jobs_max;
	unsigned retries;
	bool keep;
	bool snapshots;            /* off with --no-snapshots */
	enum executor executor;    /* --executor */
	struct mx_lava_gen gen;    /* LAVA executors: the jobs go to RUN/lava */
	const char *lava_url, *lava_token, *artifact_url, *device_type;
	struct lp_hil_inventory *inv; /* the spec's rack inventory (NULL: none) */
	struct lp_hil_locks *locks;   /* its HIL locks: a board someone holds waits */
	size_t n_done;
	size_t n_pass, n_fail, n_error, n_flaky, n_skipped;
	bool tty;                  /* stdout is a terminal: a status line at the bottom */
	bool status_shown;
	uint64_t t0;               /* when the cases started (monotonic ms) */
};

/* Removes the status line before a normal line is printed (terminals only). */
static void status_clear(struct runner *rn)
{
	if (rn->status_shown) {
		fputs("\r\033[K", stdout);
		rn->status_shown = false;
	}
}

static void status_show(struct runner *rn, unsigned running)
{
	uint64_t s = (lp_clock_mono_ms() - rn->t0) / 1000;

	if (!rn->tty)
		return;
	status_clear(rn);
	printf("\033[1m%zu/%zu done\033[0m · %u running · %zu pass · %zu fail · %zu error · "
	       "%zu flaky · %02llu:%02llu",
	       rn->n_done, rn->plan->n_cases, running, rn->n_pass, rn->n_fail, rn->n_error,
	       rn->n_flaky, (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	fflush(stdout);
	rn->status_shown = true;
}

static const char *combo_value(const struct mx_plan *p, const struct mx_combo *c, unsigned axis)
{
	const struct mx_axis *a = &p->spec->axes[axis];

	return c->value[axis] == MX_VALUE_NONE ? NULL : a->values[c->value[axis]].name;
}

static cJSON *case_axes(const struct mx_plan *p, const struct mx_case *cs)
{
	const struct mx_combo *c = &p->combos[cs->combo];
	cJSON *o = cJSON_CreateObject();

	for (size_t a = 0; a < p->spec->n_axes; a++) {
		const char *v = combo_value(p, c, (unsigned)a);

		if (v)
			cJSON_AddStringToObject(o, p->spec->axes[a].name, v);
	}
	if (cs->extra)
		for (cJSON *e = cs->extra->child; e; e = e->next)
			if (!cJSON_GetObjectItem(o, e->string))
				cJSON_AddItemToObject(o, e->string, cJSON_Duplicate(e, true));
	return o;
}

static int add_var(struct prep *pr, const char *name, const char *value)
{
	char **v = realloc(pr->vars, (pr->n_vars + 1) * sizeof(*v));
	size_t n = strlen(name) + strlen(value) + 2;

	if (!v)
		return -ENOMEM;
	pr->vars = v;
	if (!(v[pr->n_vars] = malloc(n)))
		return -ENOMEM;
	snprintf(v[pr->n_vars++], n, "%s=%s", name, value);
	return 0;
}

/* Scenario variables: the combo's versions, configuration vars, extra keys. */
static void case_vars(struct prep *pr, const struct mx_case *cs, const cJSON *settings,
		      const char *from, const char *to)
{
	add_var(pr, "FROM", from);
	add_var(pr, "TO", to);
	for (cJSON *e = cJSON_GetObjectItem(settings, "vars")->child; e; e = e->next)
		if (cJSON_IsString(e))
			add_var(pr, e->string, e->valuestring);
	if (cs->extra)
		for (cJSON *e = cs->extra->child; e; e = e->next) {
			char num[32];

			if (cJSON_IsString(e)) {
				add_var(pr, e->string, e->valuestring);
			} else if (cJSON_IsNumber(e)) {
				snprintf(num, sizeof(num), "%g", e->valuedouble);
				add_var(pr, e->string, num);
			}
		}
}

/* A rack board case: the board in the inventory, its firmware's target into *target;
 * -1 with pr->prep_error when the matrix cannot use it. */
static int board_of(struct runner *rn, const char *name, struct prep *pr, const char **target)
{
	const struct lp_hil_board_config *bc = rn->inv ? lp_hil_inventory_find(rn->inv, name) : NULL;

	if (!bc || !bc->target || !bc->provision.argv) {
		snprintf(pr->prep_error, sizeof(pr->prep_error),
			 "board %s: %s", name, !bc ? "not in the inventory" : !bc->target ?
			 "the inventory gives it no target (the firmware it runs)" :
			 "the inventory gives it no provision section: the matrix cannot put "
			 "firmware on it (docs/hil.md, \"Provisioning\")");
		return -1;
	}
	pr->board = bc->name;
	*target = bc->target;
	return 0;
}

/* setup.json's packages: TO, its delta from FROM (then both are one release, so the
 * backend offers the delta to a device running FROM) and the scenario's (#@ package). */
static void setup_packages(cJSON *setup, const struct mx_case_fw *fw, const char *to)
{
	cJSON *pkgs = cJSON_AddArrayToObject(setup, "packages"), *pk = cJSON_CreateObject();

	cJSON_AddStringToObject(pk, "name", "TO");
	cJSON_AddStringToObject(pk, "file", fw->to->lpkg);
	cJSON_AddItemToArray(pkgs, pk);
	if (fw->delta[0]) {
		cJSON *rel = cJSON_AddObjectToObject(setup, "release"), *names;

		pk = cJSON_CreateObject();
		cJSON_AddStringToObject(pk, "name", "TO_DELTA");
		cJSON_AddStringToObject(pk, "file", fw->delta);
		cJSON_AddItemToArray(pkgs, pk);
		cJSON_AddStringToObject(rel, "version", to);
		names = cJSON_AddArrayToObject(rel, "packages");
		cJSON_AddItemToArray(names, cJSON_CreateString("TO"));
		cJSON_AddItemToArray(names, cJSON_CreateString("TO_DELTA"));
	}
	for (size_t k = 0; k < fw->n_pkgs; k++) {
		pk = cJSON_CreateObject();
		cJSON_AddStringToObject(pk, "name", fw->pkgs[k].name);
		cJSON_AddStringToObject(pk, "file", fw->pkgs[k].fw->lpkg);
		cJSON_AddStringToObject(pk, "version", fw->pkgs[k].version);
		if (fw->pkgs[k].tamper)
			cJSON_AddTrueToObject(pk, "tamper");
		cJSON_AddItemToArray(pkgs, pk);
	}
}

/* setup.json's board, this program and the run's PKI. */
static void setup_paths(struct runner *rn, const struct prep *pr, cJSON *setup)
{
	char self[PATH_MAX], pki[PATH_MAX * 2], pub[PATH_MAX * 2];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (pr->board) {
		const struct lp_hil_board_config *bc = lp_hil_inventory_find(rn->inv, pr->board);
		cJSON *bo = cJSON_AddObjectToObject(setup, "board");
		char inv_abs[PATH_MAX];

		cJSON_AddStringToObject(bo, "name", bc->name);
		cJSON_AddStringToObject(bo, "inventory", realpath(rn->spec->inventory, inv_abs) ?
					inv_abs : rn->spec->inventory);
		cJSON_AddStringToObject(bo, "backend_url", bc->provision.backend_url);
		cJSON_AddStringToObject(bo, "listen", bc->provision.listen);
	}
	self[n > 0 ? n : 0] = '\0';
	cJSON_AddStringToObject(setup, "matrix", self);
	snprintf(pki, sizeof(pki), "%s/pki", rn->run_dir);
	snprintf(pub, sizeof(pub), "%s/firmware/keys/lab.pub.pem", rn->build.cache);
	cJSON_AddStringToObject(setup, "pki", pki);
	cJSON_AddStringToObject(setup, "signpub", pub);
}

/* The local executor's case: its builds, variables, snapshot key and setup.json. */
static int prepare_local(struct runner *rn, size_t i, const struct mx_case_spec *cs,
			 const char *target, struct lp_diag *d)
{
	struct prep *pr = &rn->preps[i];
	const struct mx_built *be;
	struct mx_case_fw fw;
	cJSON *setup;
	char device[96];
	int r;

	if ((r = mx_build_component(&rn->build, MX_AXIS_BACKEND, cs->backend, target, &be, d)) < 0 ||
	    (r = mx_case_fw_build(&rn->build, cs, target, &fw, d)) < 0)
		return r;
	case_vars(pr, &rn->plan->cases[i], cs->settings, cs->from, cs->to);
	if (rn->snapshots && !pr->board) {
		struct mx_snap_key_in in = {
			.scenario_path = pr->scenario_path, .target = target,
			.from_hash = fw.from->hash,
			.agent_config = cJSON_GetObjectItem(cs->settings, "agent"),
			.vars = (const char *const *)pr->vars, .n_vars = pr->n_vars,
		};

		if ((r = mx_snapshot_key(&in, pr->snap_key)) < 0)
			return r;
	}
	/* the cases of one snapshot are one device (in backends of their own) */
	if (pr->snap_key[0])
		snprintf(device, sizeof(device), "dut-%.8s", pr->snap_key);
	else
		snprintf(device, sizeof(device), "dut-%zu", i);
	if (!(setup = cJSON_CreateObject()))
		return -ENOMEM;
	cJSON_AddStringToObject(setup, "target", target);
	cJSON_AddStringToObject(setup, "source_dir", rn->build.tools);
	cJSON_AddStringToObject(setup, "device", device);
	cJSON_AddStringToObject(setup, "from_build", fw.from->build);
	cJSON_AddStringToObject(setup, "backend", be->bin);
	cJSON_AddStringToObject(setup, "ctl", be->ctl);
	setup_paths(rn, pr, setup);
	setup_packages(setup, &fw, cs->to);
	if (cs->encrypt) { /* the device gets the key its packages are encrypted with */
		char aes[PATH_MAX + 32];

		snprintf(aes, sizeof(aes), "%s/firmware/keys/lab.aes", rn->build.cache);
		cJSON_AddStringToObject(setup, "aes_key", aes);
	}
	cJSON_AddItemToObject(setup, "agent_config",
			      cJSON_Duplicate(cJSON_GetObjectItem(cs->settings, "agent"), true));
	cJSON_AddItemToObject(setup, "backend_config",
			      cJSON_Duplicate(cJSON_GetObjectItem(cs->settings, "backend"), true));
	pr->setup_json = cJSON_Print(setup);
	cJSON_Delete(setup);
	if (!pr->setup_json || !(pr->components = cJSON_CreateObject()))
		return -ENOMEM;
	cJSON_AddStringToObject(pr->components, "backend", be->hash);
	cJSON_AddStringToObject(pr->components, "from", fw.from->hash);
	cJSON_AddStringToObject(pr->components, "to", fw.to->hash);
	return 0;
}

/* A LAVA executor's case: its job (lava-gen.c), or why it does not run on LAVA. */
static int prepare_lava(struct runner *rn, size_t i)
{
	struct prep *pr = &rn->preps[i];
	struct mx_lava_job job;
	struct lp_diag d;
	int r;

	lp_diag_clear(&d);
	if ((r = mx_lava_gen_case(&rn->gen, rn->plan, i, &job, &d)) < 0) {
		if (r == -ENOMEM)
			return r;
		snprintf(pr->prep_error, sizeof(pr->prep_error), "LAVA job: %s", d.msg);
		return 0;
	}
	snprintf(pr->skip, sizeof(pr->skip), "%s", job.skip);
	if (job.error[0])
		snprintf(pr->prep_error, sizeof(pr->prep_error), "%s", job.error);
	snprintf(pr->lava_job, sizeof(pr->lava_job), "%s", job.path);
	pr->timeout_ms = (uint64_t)job.timeout_min * 60000u;
	pr->components = job.components;
	return 0;
}

/* Builds what case i needs and describes its setup. Errors that are the case's own
 * (a build failed) go to pr->prep_error; only ENOMEM is returned. */
static int prepare_case(struct runner *rn, size_t i)
{
	struct prep *pr = &rn->preps[i];
	struct mx_case_spec cs;
	const char *target;
	struct lp_diag d;
	int r;

	if (rn->executor != EXEC_LOCAL)
		return prepare_lava(rn, i);
	lp_diag_clear(&d);
	if ((r = mx_case_spec_init(rn->plan, i, &cs, &d)) < 0) {
		mx_case_spec_free(&cs);
		if (r == -ENOMEM)
			return r;
		snprintf(pr->prep_error, sizeof(pr->prep_error), "%s:%u: %s", d.file, d.line, d.msg);
		return 0;
	}
	snprintf(pr->scenario_path, sizeof(pr->scenario_path), "%s", cs.hil);
	pr->timeout_ms = cs.timeout_ms;
	target = cs.target;
	if (strncmp(target, "qemu-", 5) == 0 || board_of(rn, cs.target, pr, &target) == 0) {
		r = prepare_local(rn, i, &cs, target, &d);
		if (r < 0 && r != -ENOMEM)
			snprintf(pr->prep_error, sizeof(pr->prep_error), "build: %s", d.msg);
	}
	mx_case_spec_free(&cs);
	return r == -ENOMEM ? r : 0;
}

static void case_label(const struct runner *rn, size_t i, char *buf, size_t len)
{
	const struct mx_case *cs = &rn->plan->cases[i];

	snprintf(buf, len, "%s %s", rn->spec->scenarios[cs->scenario].name,
		 rn->plan->combos[cs->combo].key);
}

static void fill_result(const struct runner *rn, size_t i, struct mx_result *r)
{
	const struct mx_case *cs = &rn->plan->cases[i];

	mx_result_clear(r);
	r->run_id = rn->info.id;
	snprintf(r->combo_key, sizeof(r->combo_key), "%s", rn->plan->combos[cs->combo].key);
	snprintf(r->scenario, sizeof(r->scenario), "%s", rn->spec->scenarios[cs->scenario].name);
	r->axes = case_axes(rn->plan, cs);
	r->components = rn->preps[i].components ? cJSON_Duplicate(rn->preps[i].components, true) : NULL;
	r->required = cs->required;
}

static void db_warn(struct runner *rn, const char *what)
{
	char buf[LP_DIAG_MSG_MAX + 256];

	fprintf(stderr, "loopline-matrix: warning: %s: %s\n", what,
		lp_diag_format(mx_db_diag(rn->db), buf, sizeof(buf)));
}

/* What an attempt of a case on LAVA needs. */
static void lava_attempt_fill(const struct runner *rn, const struct job *j,
			      struct mx_lava_attempt *a)
{
	const char *target = combo_value(rn->plan, &rn->plan->combos[rn->plan->cases[j->idx].combo],
					 MX_AXIS_TARGET);

	memset(a, 0, sizeof(*a));
	a->rest = rn->executor == EXEC_LAVA;
	a->timeout_min = (unsigned)(rn->preps[j->idx].timeout_ms / 60000u);
	snprintf(a->dir, sizeof(a->dir), "%s", j->dir);
	snprintf(a->job, sizeof(a->job), "%s", rn->preps[j->idx].lava_job);
	snprintf(a->device, sizeof(a->device), "%s/lava-jobs/devices/%s.yaml", rn->build.tools,
		 !strcmp(target, "qemu-aarch64") ? "qemu-arm64" : "qemu-amd64");
	snprintf(a->cache, sizeof(a->cache), "%s", rn->build.cache);
	snprintf(a->libexec, sizeof(a->libexec), "%s", rn->libexec);
	if (a->rest) {
		snprintf(a->url, sizeof(a->url), "%s", rn->lava_url);
		snprintf(a->token, sizeof(a->token), "%s", rn->lava_token);
	}
}

/* An attempt of a case on LAVA (in the case's process). */
static int lava_attempt(const struct runner *rn, const struct job *j)
{
	struct mx_lava_attempt a;

	lava_attempt_fill(rn, j, &a);
	return mx_lava_attempt_run(&a);
}

static int start_attempt(struct runner *rn, struct job *j)
{
	const struct mx_case *cs = &rn->plan->cases[j->idx];
	struct mx_result res = { 0 };
	char label[MX_KEY_MAX + MX_NAME_MAX + 8];
	pid_t pid;
	int r;

	j->attempt++;
	snprintf(j->rel, sizeof(j->rel), "cases/%04u-%s/attempt-%u", rn->plan->combos[cs->combo].index,
		 rn->spec->scenarios[cs->scenario].name, j->attempt);
	snprintf(j->dir, sizeof(j->dir), "%s/%s", rn->run_dir, j->rel);
	if ((r = lp_fs_mkdir_p(j->dir, 0755)) < 0)
		return r;
	j->started_mono = lp_clock_mono_ms();
	j->started_wall = lp_clock_wall_ms();
	if (!j->first_started_wall)
		j->first_started_wall = j->started_wall;
	fill_result(rn, j->idx, &res);
	res.status = MX_STATUS_RUNNING;
	res.started_ms = j->first_started_wall;
	res.attempts = j->attempt;
	snprintf(res.log_dir, sizeof(res.log_dir), "%s", j->rel);
	if (mx_db_result_put(rn->db, &res) < 0)
		db_warn(rn, "recording a running case");
	mx_result_clear(&res);
	case_label(rn, j->idx, label, sizeof(label));
	status_clear(rn);
	printf("[%zu/%zu] start %s%s\n", rn->n_done + 1, rn->plan->n_cases, label,
	       j->attempt > 1 ? " (retry)" : "");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0 && rn->executor != EXEC_LOCAL) {
		setsid();
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		_exit(lava_attempt(rn, j) == 0 ? 0 : 1);
	}
	if (pid == 0) {
		struct mx_case_job cj = { .setup_json = rn->preps[j->idx].setup_json,
					  .vars = (const char *const *)rn->preps[j->idx].vars,
					  .n_vars = rn->preps[j->idx].n_vars, .keep = rn->keep };

		setsid();
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		snprintf(cj.dir, sizeof(cj.dir), "%s", j->dir);
		snprintf(cj.restore_state, sizeof(cj.restore_state), "%s", rn->preps[j->idx].restore);
		snprintf(cj.libexec, sizeof(cj.libexec), "%s", rn->libexec);
		snprintf(cj.scenario_path, sizeof(cj.scenario_path), "%s", rn->preps[j->idx].scenario_path);
		snprintf(cj.scenario_name, sizeof(cj.scenario_name), "%s.hil",
			 rn->spec->scenarios[cs->scenario].name);
		_exit(mx_case_attempt(&cj) == 0 ? 0 : 1);
	}
	j->pid = pid;
	return 0;
}

/* The verdict of an attempt that ended: from result.json, or an infrastructure error. */
static void read_attempt(const struct job *j, int wstatus, bool timed_out, enum mx_status *st,
			 enum mx_class *cl, struct mx_attempt *a, char *console, size_t console_len)
{
	char path[PATH_MAX + 16], *text = NULL;
	size_t len;
	cJSON *o = NULL;

	snprintf(path, sizeof(path), "%s/result.json", j->dir);
	if (!timed_out && lp_fs_read_file(path, 1u << 20, &text, &len) == 0)
		o = cJSON_Parse(text);
	free(text);
	if (timed_out) {
		*st = MX_STATUS_FAIL;
		*cl = MX_CLASS_PRODUCT;
		snprintf(a->message, sizeof(a->message),
			 "the case did not end within its timeout (and %u s of grace): stopped",
			 CASE_GRACE_MS / 1000);
	} else if (!o) {
		*st = MX_STATUS_ERROR;
		*cl = MX_CLASS_INFRA;
		if (WIFSIGNALED(wstatus))
			snprintf(a->message, sizeof(a->message), "the case's process died of signal %d",
				 WTERMSIG(wstatus));
		else
			snprintf(a->message, sizeof(a->message),
				 "the case's process ended (status %d) without a verdict",
				 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	} else {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict"));
		const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(o, "error"));

		if (v && !strcmp(v, "pass")) {
			*st = MX_STATUS_PASS;
			*cl = MX_CLASS_NONE;
		} else if (v && !strcmp(v, "fail")) {
			*st = MX_STATUS_FAIL;
			*cl = MX_CLASS_PRODUCT;
		} else {
			*st = MX_STATUS_ERROR;
			*cl = MX_CLASS_INFRA;
		}
		snprintf(a->failed_step, sizeof(a->failed_step), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "failed_step")) ?: "");
		snprintf(a->message, sizeof(a->message), "%s%s%s", *st == MX_STATUS_ERROR && err ? err : "",
			 *st == MX_STATUS_ERROR && err ? ": " : "",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "message")) ?: "");
		snprintf(console, console_len, "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "console")) ?: "");
	}
	cJSON_Delete(o);
}

static void finish_case(struct runner *rn, struct job *j, enum mx_status st, enum mx_class cl,
			const struct mx_attempt *a, const char *console, int64_t subject_ms)
{
	struct mx_result res = { 0 };
	char label[MX_KEY_MAX + MX_NAME_MAX + 8];

	fill_result(rn, j->idx, &res);
	if (st == MX_STATUS_PASS && j->failed_before)
		st = MX_STATUS_FLAKY;
	res.status = st;
	res.class = st == MX_STATUS_FLAKY ? MX_CLASS_NONE : cl;
	res.attempts = j->attempt;
	res.started_ms = j->first_started_wall ? j->first_started_wall : lp_clock_wall_ms();
	res.duration_ms = a ? a->duration_ms : 0;
	res.subject_ms = subject_ms;
	if (a) {
		snprintf(res.failed_step, sizeof(res.failed_step), "%s", a->failed_step);
		snprintf(res.message, sizeof(res.message), "%s", a->message);
	}
	snprintf(res.console_excerpt, sizeof(res.console_excerpt), "%s", console ? console : "");
	snprintf(res.log_dir, sizeof(res.log_dir), "%s", j->attempt ? j->rel : "");
	if (mx_db_result_put(rn->db, &res) < 0)
		db_warn(rn, "recording a result");
	mx_result_clear(&res);
	j->done = true;
	rn->n_done++;
	switch (st) {
	case MX_STATUS_PASS: rn->n_pass++; break;
	case MX_STATUS_FLAKY: rn->n_flaky++; break;
	case MX_STATUS_FAIL: rn->n_fail++; break;
	case MX_STATUS_SKIPPED: rn->n_skipped++; break;
	default: rn->n_error++; break;
	}
	case_label(rn, j->idx, label, sizeof(label));
	status_clear(rn);
	printf("[%zu/%zu] %-7s %s (%.1f s)%s%s\n", rn->n_done, rn->plan->n_cases, mx_status_name(st),
	       label, (double)(a ? a->duration_ms : 0) / 1000.0, a && a->message[0] ? ": " : "",
	       a && a->message[0] ? a->message : "");
	fflush(stdout);
}

/* An attempt ended: record it, then finish the case or start another attempt. */
static void attempt_ended(struct runner *rn, struct job *j, int wstatus, bool timed_out)
{
	struct mx_attempt a = { 0 };
	enum mx_status st;
	enum mx_class cl;
	char console[4096] = "";
	int64_t subject_ms = 0;

	read_attempt(j, wstatus, timed_out, &st, &cl, &a, console, sizeof(console));
	{
		char path[PATH_MAX + 16], *text = NULL;
		size_t len;
		cJSON *o;

		snprintf(path, sizeof(path), "%s/result.json", j->dir);
		if (lp_fs_read_file(path, 1u << 20, &text, &len) == 0 && (o = cJSON_Parse(text))) {
			subject_ms = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "subject_ms"));
			cJSON_Delete(o);
		}
		free(text);
	}
	j->pid = 0;
	a.run_id = rn->info.id;
	snprintf(a.combo_key, sizeof(a.combo_key), "%s", rn->plan->combos[rn->plan->cases[j->idx].combo].key);
	snprintf(a.scenario, sizeof(a.scenario), "%s", rn->spec->scenarios[rn->plan->cases[j->idx].scenario].name);
	a.number = j->attempt;
	a.status = st;
	a.class = cl;
	a.started_ms = j->started_wall;
	a.duration_ms = (int64_t)(lp_clock_mono_ms() - j->started_mono);
	snprintf(a.log_dir, sizeof(a.log_dir), "%s", j->rel);
	if (mx_db_attempt_put(rn->db, &a) < 0)
		db_warn(rn, "recording an attempt");
	if (stop_signal) {
		if (st != MX_STATUS_PASS) {
			st = MX_STATUS_ERROR;
			cl = MX_CLASS_INFRA;
			snprintf(a.message, sizeof(a.message), "interrupted (signal %d)", (int)stop_signal);
		}
		finish_case(rn, j, st, cl, &a, console, subject_ms);
		return;
	}
	if (st == MX_STATUS_ERROR && j->infra_used < INFRA_RETRIES) {
		j->infra_used++;
		status_clear(rn);
		printf("[%zu/%zu] retry after an infrastructure error: %s\n", rn->n_done + 1,
		       rn->plan->n_cases, a.message);
		if (start_attempt(rn, j) == 0)
			return;
	} else if (st == MX_STATUS_FAIL && j->product_used < rn->retries) {
		j->product_used++;
		j->failed_before = true;
		if (start_attempt(rn, j) == 0)
			return;
	}
	finish_case(rn, j, st, cl, &a, console, subject_ms);
}

static void kill_attempt(struct runner *rn, struct job *j)
{
	int ws = 0;

	kill(-j->pid, SIGKILL);
	kill(j->pid, SIGKILL);
	waitpid(j->pid, &ws, 0);
	if (rn->executor != EXEC_LOCAL) {
		struct mx_lava_attempt a;

		lava_attempt_fill(rn, j, &a);
		mx_lava_attempt_cleanup(&a);
		return;
	}
	mx_case_cleanup(j->dir, rn->libexec);
	{ /* the attempt's state directory (QEMU sockets and logs), which it cannot remove now */
		char state[64];

		mx_case_state_dir(j->pid, state, sizeof(state));
		mx_case_state_remove(state);
	}
}

/* Whether case i may start now: a QEMU case while fewer than -j run, a board case while
 * its board is free — no case of this run on it and no one else's HIL lock. */
static bool can_start(struct runner *rn, size_t i, unsigned running_qemu)
{
	const char *board = rn->preps[i].board;
	struct lp_hil_lock_info holder;

	if (!board)
		return running_qemu < rn->jobs_max;
	for (size_t k = 0; k < rn->plan->n_cases; k++)
		if (rn->jobs[k].pid > 0 && rn->preps[rn->jobs[k].idx].board &&
		    strcmp(rn->preps[rn->jobs[k].idx].board, board) == 0)
			return false;
	if (rn->locks && lp_hil_lock_get(rn->locks, board, &holder, NULL) == 0 &&
	    strcmp(holder.owner, "loopline-matrix") != 0)
		return false;
	return true;
}

/* Starts the cases that fit, in plan order; returns how many QEMU cases run then. */
static unsigned start_cases(struct runner *rn, bool *started, unsigned running_qemu)
{
	for (size_t i = 0; i < rn->plan->n_cases && !stop_signal; i++) {
		struct job *j = &rn->jobs[i];
		struct mx_attempt a = { 0 };

		if (started[i] || !can_start(rn, i, running_qemu))
			continue;
		started[i] = true;
		j->idx = i;
		if (rn->preps[i].skip[0]) {
			snprintf(a.message, sizeof(a.message), "%s", rn->preps[i].skip);
			finish_case(rn, j, MX_STATUS_SKIPPED, MX_CLASS_NONE, &a, "", 0);
			continue;
		}
		if (rn->preps[i].prep_error[0]) {
			snprintf(a.message, sizeof(a.message), "%s", rn->preps[i].prep_error);
			finish_case(rn, j, MX_STATUS_ERROR, MX_CLASS_INFRA, &a, "", 0);
			continue;
		}
		if (start_attempt(rn, j) < 0) {
			snprintf(a.message, sizeof(a.message), "cannot start the case: %s", strerror(errno));
			finish_case(rn, j, MX_STATUS_ERROR, MX_CLASS_INFRA, &a, "", 0);
			continue;
		}
		if (!rn->preps[i].board)
			running_qemu++;
	}
	return running_qemu;
}

/* Ctrl-C or SIGTERM: the running cases are stopped, the others skipped. */
static void stop_cases(struct runner *rn, const bool *started)
{
	for (size_t k = 0; k < rn->plan->n_cases; k++) {
		struct job *j = &rn->jobs[k];
		struct mx_attempt a = { 0 };

		if (j->pid > 0) {
			kill_attempt(rn, j);
			attempt_ended(rn, j, SIGKILL, false);
		} else if (!started[k]) {
			j->idx = k;
			snprintf(a.message, sizeof(a.message), "not started: the run was interrupted");
			finish_case(rn, j, MX_STATUS_SKIPPED, MX_CLASS_NONE, &a, "", 0);
		}
	}
}

static int run_cases(struct runner *rn)
{
	size_t n = rn->plan->n_cases;
	bool *started = calloc(n ? n : 1, sizeof(*started));
	unsigned running = 0;
	uint64_t shown = 0;

	if (!started)
		return -ENOMEM;
	rn->t0 = lp_clock_mono_ms();
	while (rn->n_done < n) {
		unsigned qemu = 0, all = 0;
		int ws = 0;
		pid_t pid;

		for (size_t k = 0; k < n; k++)
			if (rn->jobs[k].pid > 0)
				all++, qemu += !rn->preps[k].board;
		running = start_cases(rn, started, qemu) - qemu + all;
		if (stop_signal) {
			stop_cases(rn, started);
			break;
		}
		/* wait for an attempt to end, or a timeout */
		pid = waitpid(-1, &ws, WNOHANG);
		if (pid > 0) {
			for (size_t k = 0; k < n; k++)
				if (rn->jobs[k].pid == pid) {
					attempt_ended(rn, &rn->jobs[k], ws, false);
					break;
				}
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			struct job *j = &rn->jobs[k];

			if (j->pid > 0 && lp_clock_mono_ms() - j->started_mono >
					  rn->preps[j->idx].timeout_ms + CASE_GRACE_MS) {
				kill_attempt(rn, j);
				attempt_ended(rn, j, SIGKILL, true);
			}
		}
		if (lp_clock_mono_ms() - shown >= 1000) {
			status_show(rn, running);
			shown = lp_clock_mono_ms();
		}
		lp_clock_sleep_ms(100);
	}
	status_clear(rn);
	free(started);
	return 0;
}

/* Boots once for each group of cases that start alike (run-snapshot.c); those cases
 * then restore instead of booting. */
static int make_snapshots(struct runner *rn)
{
	size_t n = rn->plan->n_cases;
	struct mx_snap_case *sc = calloc(n ? n : 1, sizeof(*sc));
	struct mx_snap_run sr = { .run_dir = rn->run_dir, .libexec = rn->libexec,
				  .jobs = rn->jobs_max, .keep = rn->keep, .stop = &stop_signal,
				  .cases = sc, .n_cases = n };
	int r;

	if (!sc)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct prep *pr = &rn->preps[i];

		sc[i] = (struct mx_snap_case){
			.key = pr->prep_error[0] ? "" : pr->snap_key, .setup_json = pr->setup_json,
			.scenario_path = pr->scenario_path, .vars = (const char *const *)pr->vars,
			.n_vars = pr->n_vars, .timeout_ms = pr->timeout_ms,
			.scenario_name = rn->spec->scenarios[rn->plan->cases[i].scenario].name,
		};
	}
	r = mx_snapshots_make(&sr);
	for (size_t i = 0; i < n; i++) {
		if (sc[i].setup_use) {
			free(rn->preps[i].setup_json);
			rn->preps[i].setup_json = sc[i].setup_use;
			snprintf(rn->preps[i].restore, sizeof(rn->preps[i].restore), "%s", sc[i].restore);
		}
	}
	free(sc);
	return r;
}

/* The run's test PKI: the server certificate names the address QEMU guests use, the
 * host, and the host of every rack board's backend_url. */
static int make_pki(struct runner *rn, struct lp_diag *d)
{
	char script[PATH_MAX], dir[PATH_MAX * 2], log[PATH_MAX * 2], san[2048];
	const char *argv[] = { script, dir, "--san", san, NULL };
	size_t n = (size_t)snprintf(san, sizeof(san), "IP:10.0.2.100,IP:127.0.0.1");

	for (size_t i = 0; rn->inv && i < rn->inv->n_boards && n < sizeof(san); i++) {
		const char *url = rn->inv->boards[i].provision.backend_url, *host, *end;
		bool ip = true;

		if (!url)
			continue;
		host = url + 8; /* https:// (the inventory checked it) */
		end = host + strcspn(host, ":/");
		for (const char *c = host; c < end; c++)
			ip = ip && ((*c >= '0' && *c <= '9') || *c == '.');
		n += (size_t)snprintf(san + n, sizeof(san) - n, ",%s:%.*s", ip ? "IP" : "DNS",
				      (int)(end - host), host);
	}

	snprintf(script, sizeof(script), "%s/scripts/make-pki", rn->build.tools);
	snprintf(dir, sizeof(dir), "%s/pki", rn->run_dir);
	snprintf(log, sizeof(log), "%s/pki.log", rn->run_dir);
	return mx_run_tool(argv, log, NULL, 0, d);
}

static int write_reports(struct runner *rn)
{
	struct mx_report *rep = NULL;
	struct mx_gate *g = NULL;
	struct lp_diag d;
	int code = 0;

	lp_diag_clear(&d);
	if (mx_report_load(rn->db, rn->info.id, &rep, &d) < 0) {
		fprintf(stderr, "loopline-matrix: reports: %s\n", d.msg);
		return 1;
	}
	{
		struct { const char *file; int kind; } outs[] = {
			{ "report.html", 0 }, { "junit.xml", 1 }, { "report.json", 2 },
		};

		for (size_t i = 0; i < LP_ARRAY_SIZE(outs); i++) {
			struct mx_buf b = { 0 };
			char path[PATH_MAX * 2];
			int r = outs[i].kind == 0 ? mx_report_html(rep, NULL, NULL, "", &b, &d) :
				outs[i].kind == 1 ? mx_report_junit(rep, &b) : mx_report_json_text(rep, &b);

			snprintf(path, sizeof(path), "%s/%s", rn->run_dir, outs[i].file);
			if (r < 0 || mx_buf_write(&b, path) < 0)
				fprintf(stderr, "loopline-matrix: cannot write %s\n", path);
			mx_buf_free(&b);
		}
	}
	if (mx_gate_decide(rep, &g) == 0) {
		printf("gate: %s\n", g->summary);
		code = mx_gate_exit_code(g->decision);
		mx_gate_free(g);
	}
	mx_report_free(rep);
	return code;
}

/* The cases of the whole plan, recorded as what the run is expected to cover. */
static int record_expected(struct runner *rn, const struct mx_plan *full)
{
	size_t n = full->n_cases ? full->n_cases : 1;
	struct mx_expected *exp = calloc(n, sizeof(*exp));
	cJSON **axes = calloc(n, sizeof(*axes));
	int r = 0;

	if (!exp || !axes) {
		free(exp);
		free(axes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < full->n_cases; i++) {
		exp[i].combo_key = full->combos[full->cases[i].combo].key;
		exp[i].scenario = rn->spec->scenarios[full->cases[i].scenario].name;
		exp[i].required = full->cases[i].required;
		exp[i].axes = axes[i] = case_axes(full, &full->cases[i]);
	}
	if (mx_db_expect(rn->db, rn->info.id, exp, full->n_cases) < 0)
		db_warn(rn, "recording the expected cases");
	for (size_t i = 0; i < full->n_cases; i++)
		cJSON_Delete(axes[i]);
	free(axes);
	free(exp);
	return r;
}

/* The components and firmware the run built, for the report. */
static void record_components(struct runner *rn)
{
	const struct mx_build *b = &rn->build;

	for (size_t i = 0; i < b->n_comps; i++) {
		struct mx_run_component c = { .run_id = rn->info.id };

		snprintf(c.kind, sizeof(c.kind), "%s", b->comps[i].kind == MX_AXIS_AGENT ? "agent" : "backend");
		snprintf(c.value, sizeof(c.value), "%s/%s", b->comps[i].name, b->comps[i].arch);
		snprintf(c.source, sizeof(c.source), "%s", b->comps[i].source);
		snprintf(c.hash, sizeof(c.hash), "%s", b->comps[i].hash);
		if (mx_db_component_put(rn->db, &c) < 0)
			db_warn(rn, "recording a component");
	}
	for (size_t i = 0; i < b->n_fw; i++) {
		struct mx_run_component c = { .run_id = rn->info.id };
		const struct mx_fw_want *w = &b->fw[i].want;

		snprintf(c.kind, sizeof(c.kind), "firmware");
		snprintf(c.value, sizeof(c.value), "%s/%s/%s/%s", w->version, w->variant, w->agent, w->target);
		snprintf(c.source, sizeof(c.source), "%s", b->fw[i].lpkg);
		snprintf(c.hash, sizeof(c.hash), "%s", b->fw[i].hash);
		if (mx_db_component_put(rn->db, &c) < 0)
			db_warn(rn, "recording a component");
	}
}

/* The LAVA executors: jobs into RUN/lava (images: RUN/lava/artifacts). */
static int lava_init(struct runner *rn, struct lp_diag *d)
{
	char dir[PATH_MAX + 8];

	snprintf(dir, sizeof(dir), "%s/lava", rn->run_dir);
	if (mx_lava_gen_init(&rn->gen, rn->spec, &rn->build, dir, rn->artifact_url, d) < 0)
		return -EINVAL;
	if (rn->device_type)
		snprintf(rn->gen.device_type, sizeof(rn->gen.device_type), "%s", rn->device_type);
	return 0;
}

/* Everything before the cases start: the builds, the inventory, the run's PKI, each case's
 * preparation and the snapshots. 0, or the exit code. */
static int prepare_run(struct runner *rn)
{
	const struct mx_spec *s = rn->spec;
	size_t n = rn->plan->n_cases;
	struct lp_diag d;
	int r;

	lp_diag_clear(&d);
	if ((r = mx_build_init(&rn->build, s, rn->cli->out_dir, &d)) < 0)
		return lp_cli_fail(r, &d, NULL);
	snprintf(rn->libexec, sizeof(rn->libexec), "%s/matrix/libexec", rn->build.tools);
	if (rn->executor != EXEC_LOCAL && (r = lava_init(rn, &d)) < 0)
		return lp_cli_fail(r, &d, NULL);
	if (s->inventory[0] && ((r = lp_hil_inventory_load(s->inventory, &rn->inv, &d)) < 0 ||
				(r = lp_hil_locks_open(rn->inv->lock_db, &rn->locks, &d)) < 0))
		return lp_cli_fail(r, &d, s->inventory);
	if (rn->executor == EXEC_LOCAL && (r = make_pki(rn, &d)) < 0)
		return lp_cli_fail(r, &d, "test PKI");
	rn->preps = calloc(n, sizeof(*rn->preps));
	rn->jobs = calloc(n, sizeof(*rn->jobs));
	if (!rn->preps || !rn->jobs)
		return LP_EXIT_FAILURE;
	for (size_t i = 0; i < n && !stop_signal; i++)
		if (prepare_case(rn, i) < 0)
			return LP_EXIT_FAILURE;
	record_components(rn);
	if (rn->snapshots && !stop_signal && make_snapshots(rn) < 0)
		return LP_EXIT_FAILURE;
	return 0;
}

/* The run's row in the history and its directory (absolute in rn->run_dir). */
static int begin_run(struct runner *rn, const char *only, const char *expr, const char *shard)
{
	const struct mx_spec *s = rn->spec;
	char abs[PATH_MAX];

	snprintf(rn->info.spec_path, sizeof(rn->info.spec_path), "%s", s->path);
	snprintf(rn->info.spec_name, sizeof(rn->info.spec_name), "%s", s->name);
	snprintf(rn->info.spec_sha256, sizeof(rn->info.spec_sha256), "%s", s->sha256);
	snprintf(rn->info.options, sizeof(rn->info.options), "%s%s%s%s%s%s",
		 only ? "--only " : "", only ? only : "", expr ? " --filter " : "", expr ? expr : "",
		 shard ? " --shard " : "", shard ? shard : "");
	if (mx_db_run_begin(rn->db, &rn->info) < 0)
		return -EIO;
	if (rn->info.dir[0] == '/')
		snprintf(rn->run_dir, sizeof(rn->run_dir), "%s", rn->info.dir);
	else
		snprintf(rn->run_dir, sizeof(rn->run_dir), "%s/%s", mx_db_dir(rn->db), rn->info.dir);
	lp_fs_mkdir_p(rn->run_dir, 0755);
	if (realpath(rn->run_dir, abs))
		snprintf(rn->run_dir, sizeof(rn->run_dir), "%s", abs);
	return 0;
}

/* run's options into rn and the selectors; 0, or the exit code of a usage error. */
static int run_options(struct lp_cli *cli, struct runner *rn, const char **only, const char **expr,
		       const char **shard)
{
	const char *arg;
	uint64_t v;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		switch (key) {
		case 'j':
			if ((r = lp_cli_parse_uint(cli, "--jobs", arg, 1, 64, &v)) != 0)
				return r;
			rn->jobs_max = (unsigned)v;
			break;
		case 'O': *only = arg; break;
		case 'F': *expr = arg; break;
		case 'S': *shard = arg; break;
		case 'r':
			if ((r = lp_cli_parse_uint(cli, "--retries", arg, 0, 10, &v)) != 0)
				return r;
			rn->retries = (unsigned)v;
			break;
		case 'k': rn->keep = true; break;
		case 'n': rn->snapshots = false; break;
		case 'x':
			if (!strcmp(arg, "local"))
				rn->executor = EXEC_LOCAL;
			else if (!strcmp(arg, "lava-run"))
				rn->executor = EXEC_LAVA_RUN;
			else if (!strcmp(arg, "lava"))
				rn->executor = EXEC_LAVA;
			else
				return lp_cli_usage_error(cli, "--executor: \"%s\": one of local, "
							  "lava-run, lava", arg);
			break;
		case 'U': rn->lava_url = arg; break;
		case 'T': rn->lava_token = arg; break;
		case 'u': rn->artifact_url = arg; break;
		case 't': rn->device_type = arg; break;
		}
	if (rn->executor == EXEC_LAVA) {
		if (!rn->lava_token)
			rn->lava_token = getenv("LOOPLINE_LAVA_TOKEN");
		if (!rn->lava_url || strncmp(rn->lava_url, "http", 4) != 0)
			return lp_cli_usage_error(cli, "--executor lava needs --lava-url http(s)://…");
		if (!rn->lava_token || !rn->lava_token[0])
			return lp_cli_usage_error(cli, "--executor lava needs --lava-token or "
						  "$LOOPLINE_LAVA_TOKEN");
		if (strlen(rn->lava_token) >= sizeof(((struct mx_lava_attempt *)0)->token))
			return lp_cli_usage_error(cli, "--lava-token: too long");
	} else if (rn->lava_url || rn->lava_token) {
		return lp_cli_usage_error(cli, "--lava-url and --lava-token are for --executor lava");
	}
	if (rn->executor != EXEC_LOCAL)
		rn->snapshots = false; /* a LAVA job boots its device itself */
	else if (rn->artifact_url || rn->device_type)
		return lp_cli_usage_error(cli, "--artifact-url and --device-type are for the LAVA "
					  "executors");
	return 0;
}

int mx_cmd_run(struct lp_cli *cli, void *ctx)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct runner rn = { .cli = ctx, .jobs_max = cores > 0 ? (unsigned)cores : 1,
			     .snapshots = true };
	const char *only = NULL, *expr = NULL, *shard = NULL;
	struct mx_filter *f = NULL;
	struct mx_spec *s = NULL;
	struct mx_plan *p = NULL, *full = NULL;
	struct sigaction sa = { .sa_handler = on_stop };
	struct lp_diag d;
	int r;

	lp_diag_clear(&d);
	if ((r = run_options(cli, &rn, &only, &expr, &shard)) != 0)
		return r;
	if ((r = mx_filter_parse(only, expr, shard, &f, &d)) < 0)
		return lp_cli_usage_error(cli, "%s: %s", d.path[0] ? d.path : "--filter", d.msg);
	if ((r = mx_spec_load(cli->args[0], &s, &d)) < 0) {
		r = lp_cli_fail(r == -ENOENT ? -ENOENT : -EINVAL, &d, NULL);
		r = r == 24 ? r : 2;
		goto out;
	}
	if ((r = mx_spec_resolve_in_use(s, &d)) < 0 || (r = mx_plan_expand(s, &full, &d)) < 0 ||
	    (r = mx_plan_expand(s, &p, &d)) < 0) {
		r = lp_cli_fail(r, &d, NULL);
		goto out;
	}
	if ((r = mx_plan_filter(p, f, &d)) < 0) {
		r = lp_cli_usage_error(cli, "%s", d.msg);
		goto out;
	}
	if (p->n_cases == 0) {
		fprintf(stderr, "loopline-matrix run: no case left after --only/--filter/--shard\n");
		r = LP_EXIT_USAGE;
		goto out;
	}
	rn.spec = s;
	rn.plan = p;
	rn.tty = isatty(STDOUT_FILENO);
	if ((r = lp_fs_mkdir_p(rn.cli->out_dir, 0755)) < 0 ||
	    (r = mx_db_open(rn.cli->db_path, &rn.db, &d)) < 0) {
		r = lp_cli_fail(r, &d, rn.cli->out_dir);
		goto out;
	}
	if (begin_run(&rn, only, expr, shard) < 0) {
		r = lp_cli_fail(-EIO, mx_db_diag(rn.db), NULL);
		goto out;
	}
	/* the whole plan is what the run is expected to cover (the gate knows what is
	 * missing); --only/--filter/--shard choose what this process runs */
	if (!shard && !only && !expr && (r = record_expected(&rn, full)) < 0) {
		r = LP_EXIT_FAILURE;
		goto end;
	}
	printf("run %lld: %s, %zu cases (%zu combos), %u at a time; logs in %s\n",
	       (long long)rn.info.id, s->name, p->n_cases, p->n_combos, rn.jobs_max, rn.run_dir);
	fflush(stdout);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((r = prepare_run(&rn)) != 0)
		goto end;
	run_cases(&rn);
	r = 0;
end:
	if (rn.db) {
		int code;

		mx_db_run_end(rn.db, rn.info.id, stop_signal ? "interrupted" : "finished");
		printf("run %lld: %zu passed, %zu flaky, %zu failed, %zu errors, %zu skipped\n",
		       (long long)rn.info.id, rn.n_pass, rn.n_flaky, rn.n_fail, rn.n_error, rn.n_skipped);
		code = write_reports(&rn);
		printf("report: %s/report.html\n", rn.run_dir);
		if (!rn.keep)
			mx_snapshots_remove(rn.run_dir);
		if (!rn.keep && rn.executor != EXEC_LOCAL && rn.gen.out[0])
			mx_lava_artifacts_remove(rn.gen.out);
		if (r == 0)
			r = stop_signal ? 128 + (int)stop_signal : code;
	}
out:
	if (rn.preps)
		for (size_t i = 0; p && i < p->n_cases; i++) {
			free(rn.preps[i].setup_json);
			for (size_t k = 0; k < rn.preps[i].n_vars; k++)
				free(rn.preps[i].vars[k]);
			free(rn.preps[i].vars);
			cJSON_Delete(rn.preps[i].components);
		}
	free(rn.preps);
	free(rn.jobs);
	lp_hil_locks_close(rn.locks);
	lp_hil_inventory_free(rn.inv);
	mx_build_free(&rn.build);
	mx_db_close(rn.db);
	mx_plan_free(p);
	mx_plan_free(full);
	mx_spec_free(s);
	mx_filter_free(f);
	return r;
}

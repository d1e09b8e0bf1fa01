/* SPDX-License-Identifier: MIT */
/*
 * Snapshots for the matrix runner (docs/matrix.md, "Snapshots"). Cases that start the
 * same way — the same target, installed firmware (and so agent), device configuration
 * and first step, a boot to the same console line — share one boot: a snapshot job sets
 * such a case up without packages, runs only its first step, and saves the machine
 * (lp_hil_script_opts.save_state) next to the disk it booted from. The cases then
 * restore that state on a qcow2 overlay of that disk and go on from their second step.
 *
 * A snapshot is a run's own (its disk holds the run's test PKI and one device token);
 * a group of one case gains nothing and boots cold; a snapshot job that fails leaves its
 * cases to boot cold, so a boot problem is still found by the cases themselves.
 */
/* Paths here are built from bounded pieces (PATH_MAX directories, short keys); a
 * truncated one fails where it is used. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "loopline/clock.h"
#include "loopline/codec.h"
#include "loopline/fs.h"
#include "loopline/hash.h"
#include "loopline/proc.h"
#include "loopline-hil/script.h"
#include "run-case.h"
#include "run.h"

#define SNAP_GRACE_MS (60u * 1000u)

static const char *var_value(const char *const *vars, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(vars[i], name, len) == 0 && vars[i][len] == '=')
			return vars[i] + len + 1;
	return NULL;
}

/* Feeds the first step's text and the values of the {{NAME}}s it uses; false when one
 * is not known before the case is set up (DEVICE, LOOPLINE_URL, …: the case's own). */
static bool hash_step(struct lp_hash *h, const struct lp_hil_step *st, const char *const *vars,
		      size_t n_vars)
{
	char t[32];

	snprintf(t, sizeof(t), "%u:%u", st->has_timeout, st->timeout_ms);
	lp_hash_update(h, t, strlen(t) + 1);
	lp_hash_update(h, st->arg, strlen(st->arg) + 1);
	for (const char *p = st->arg; (p = strstr(p, "{{")); p += 2) {
		const char *end = strstr(p + 2, "}}");
		const char *v;

		if (!end)
			break;
		v = var_value(vars, n_vars, p + 2, (size_t)(end - p - 2));
		if (!v)
			return false;
		lp_hash_update(h, v, strlen(v) + 1);
	}
	return true;
}

int mx_snapshot_key(const struct mx_snap_key_in *in, char key[MX_SNAP_KEY_LEN + 1])
{
	struct lp_hil_script *sc = NULL;
	struct lp_hash *h = NULL;
	uint8_t d[LP_HASH_MAX_LEN];
	char hex[2 * LP_HASH_MAX_LEN + 1], *agent = NULL;
	bool ok = false;
	int r;

	key[0] = '\0';
	if (lp_hil_script_load(in->scenario_path, &sc, NULL) < 0)
		return 0; /* the case reports it */
	if (sc->n_steps == 0 || sc->steps[0].kind != LP_HIL_STEP_BOOT) {
		lp_hil_script_free(sc);
		return 0;
	}
	if ((r = lp_hash_new(LP_HASH_SHA256, &h)) < 0 ||
	    !(agent = in->agent_config ? cJSON_PrintUnformatted(in->agent_config) : strdup("{}"))) {
		r = r < 0 ? r : -ENOMEM;
		goto out;
	}
	lp_hash_update(h, in->target, strlen(in->target) + 1);
	lp_hash_update(h, in->from_hash, strlen(in->from_hash) + 1);
	lp_hash_update(h, agent, strlen(agent) + 1);
	ok = hash_step(h, &sc->steps[0], in->vars, in->n_vars);
	if (ok && (r = lp_hash_final(h, d)) == 0) {
		lp_hex_encode(d, MX_SNAP_KEY_LEN / 2, hex);
		memcpy(key, hex, MX_SNAP_KEY_LEN);
		key[MX_SNAP_KEY_LEN] = '\0';
	}
	r = 0;
out:
	free(agent);
	lp_hash_free(h);
	lp_hil_script_free(sc);
	return r;
}

struct snap_job {
	size_t first;              /* the case whose setup the snapshot is made with */
	size_t n_cases;
	pid_t pid;
	uint64_t started;
	bool done, ready;
	char dir[PATH_MAX];        /* RUN/snapshots/KEY */
	char job_dir[PATH_MAX];    /* RUN/snapshots/KEY/make: the job's logs */
};

/* A case's setup with snapshot {dir, mode}: "make" (the snapshot job: no packages) or
 * "use" (a case that restores). */
static char *snap_setup(const char *setup_json, const char *dir, const char *mode)
{
	cJSON *o = cJSON_Parse(setup_json), *snap;
	char *text;

	if (!o)
		return NULL;
	if (strcmp(mode, "make") == 0) {
		cJSON_DeleteItemFromObject(o, "packages");
		cJSON_AddItemToObject(o, "packages", cJSON_CreateArray());
	}
	snap = cJSON_AddObjectToObject(o, "snapshot");
	cJSON_AddStringToObject(snap, "dir", dir);
	cJSON_AddStringToObject(snap, "mode", mode);
	text = cJSON_Print(o);
	cJSON_Delete(o);
	return text;
}

static int start_job(const struct mx_snap_run *sr, struct snap_job *sj)
{
	const struct mx_snap_case *c = &sr->cases[sj->first];
	struct mx_case_job cj = { .vars = c->vars, .n_vars = c->n_vars, .keep = sr->keep };
	char *setup = snap_setup(c->setup_json, sj->dir, "make");
	pid_t pid;

	if (!setup || lp_fs_mkdir_p(sj->job_dir, 0755) < 0) {
		free(setup);
		return -EIO;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		free(setup);
		return -errno;
	}
	if (pid == 0) {
		setsid();
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		cj.setup_json = setup;
		snprintf(cj.dir, sizeof(cj.dir), "%s", sj->job_dir);
		snprintf(cj.libexec, sizeof(cj.libexec), "%s", sr->libexec);
		snprintf(cj.scenario_path, sizeof(cj.scenario_path), "%s", c->scenario_path);
		snprintf(cj.scenario_name, sizeof(cj.scenario_name), "%s.hil", c->scenario_name);
		snprintf(cj.save_state, sizeof(cj.save_state), "%s/" MX_SNAP_STATE, sj->dir);
		_exit(mx_case_attempt(&cj) == 0 ? 0 : 1);
	}
	free(setup);
	sj->pid = pid;
	sj->started = lp_clock_mono_ms();
	return 0;
}

/* The job's verdict from its result.json; prints a line either way. */
static void job_ended(const struct mx_snap_run *sr, struct snap_job *sj)
{
	char path[PATH_MAX + 32], *text = NULL, msg[600] = "no verdict";
	const char *v;
	size_t len;
	cJSON *o = NULL;

	snprintf(path, sizeof(path), "%s/result.json", sj->job_dir);
	if (lp_fs_read_file(path, 1u << 20, &text, &len) == 0)
		o = cJSON_Parse(text);
	free(text);
	v = cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict"));
	snprintf(path, sizeof(path), "%s/" MX_SNAP_STATE, sj->dir);
	sj->ready = v && strcmp(v, "pass") == 0 && access(path, R_OK) == 0;
	if (!sj->ready && o)
		snprintf(msg, sizeof(msg), "%s%s%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "failed_step")) ?: "",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "failed_step")) ? ": " : "",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "message")) ?: "");
	cJSON_Delete(o);
	sj->done = true;
	sj->pid = 0;
	if (sj->ready)
		printf("snapshot %s: ready in %.1f s for %zu cases\n", strrchr(sj->dir, '/') + 1,
		       (double)(lp_clock_mono_ms() - sj->started) / 1000.0, sj->n_cases);
	else
		printf("snapshot %s: failed (%s); its %zu cases boot cold\n",
		       strrchr(sj->dir, '/') + 1, msg, sj->n_cases);
	fflush(stdout);
}

static void kill_job(const struct mx_snap_run *sr, struct snap_job *sj)
{
	int ws;

	kill(-sj->pid, SIGKILL);
	kill(sj->pid, SIGKILL);
	waitpid(sj->pid, &ws, 0);
	mx_case_cleanup(sj->job_dir, sr->libexec);
	sj->pid = 0;
	sj->done = true;
}

/* Runs the jobs, at most sr->jobs at once, until all ended or a stop was asked for. */
static void run_jobs(const struct mx_snap_run *sr, struct snap_job *jobs, size_t n)
{
	size_t next = 0, done = 0;
	unsigned running = 0;

	while (done < n) {
		while (!*sr->stop && running < sr->jobs && next < n) {
			if (start_job(sr, &jobs[next]) == 0)
				running++;
			else
				jobs[next].done = true, done++;
			next++;
		}
		if (*sr->stop) {
			for (size_t k = 0; k < next; k++)
				if (jobs[k].pid > 0)
					kill_job(sr, &jobs[k]);
			return;
		}
		{
			int ws;
			pid_t pid = waitpid(-1, &ws, WNOHANG);

			for (size_t k = 0; k < next; k++) {
				struct snap_job *sj = &jobs[k];
				uint64_t limit = sr->cases[sj->first].timeout_ms + SNAP_GRACE_MS;

				if (sj->pid <= 0)
					continue;
				if (pid == sj->pid)
					job_ended(sr, sj);
				else if (lp_clock_mono_ms() - sj->started > limit)
					kill_job(sr, sj), job_ended(sr, sj);
				else
					continue;
				running--;
				done++;
			}
			if (pid <= 0)
				lp_clock_sleep_ms(100);
		}
	}
}

/* One job per key shared by two cases or more, in the order the cases come. */
static size_t plan_jobs(const struct mx_snap_run *sr, struct snap_job *jobs)
{
	size_t n = 0;

	for (size_t i = 0; i < sr->n_cases; i++) {
		const char *key = sr->cases[i].key;
		size_t count = 0;
		bool seen = false;

		if (!key[0])
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(sr->cases[k].key, key) == 0;
		for (size_t k = i; k < sr->n_cases && !seen; k++)
			count += strcmp(sr->cases[k].key, key) == 0;
		if (seen || count < 2)
			continue;
		jobs[n] = (struct snap_job){ .first = i, .n_cases = count };
		snprintf(jobs[n].dir, sizeof(jobs[n].dir), "%s/snapshots/%s", sr->run_dir, key);
		snprintf(jobs[n].job_dir, sizeof(jobs[n].job_dir), "%s/make", jobs[n].dir);
		n++;
	}
	return n;
}

int mx_snapshots_make(struct mx_snap_run *sr)
{
	struct snap_job *jobs = calloc(sr->n_cases ? sr->n_cases : 1, sizeof(*jobs));
	size_t n;

	if (!jobs)
		return -ENOMEM;
	n = plan_jobs(sr, jobs);
	if (n) {
		printf("snapshots: %zu to make (one boot each, saved once the first step passed)\n", n);
		fflush(stdout);
	}
	run_jobs(sr, jobs, n);
	for (size_t k = 0; k < n; k++) {
		if (!jobs[k].ready)
			continue;
		for (size_t i = 0; i < sr->n_cases; i++) {
			struct mx_snap_case *c = &sr->cases[i];

			if (strcmp(c->key, sr->cases[jobs[k].first].key) != 0)
				continue;
			c->setup_use = snap_setup(c->setup_json, jobs[k].dir, "use");
			if (c->setup_use)
				snprintf(c->restore, sizeof(c->restore), "%s/" MX_SNAP_STATE, jobs[k].dir);
		}
	}
	free(jobs);
	return 0;
}

void mx_snapshots_remove(const char *run_dir)
{
	char cmd[PATH_MAX + 128];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_NULL, .err = LP_PROC_ERR_NULL };
	struct lp_proc_result res;

	/* the disks and states are large; the make jobs' logs stay */
	snprintf(cmd, sizeof(cmd), "cd '%s' 2>/dev/null && rm -f snapshots/*/disk.img "
		 "snapshots/*/overlay.qcow2 snapshots/*/" MX_SNAP_STATE " && "
		 "rm -rf snapshots/*/disk.img.boot", run_dir);
	lp_proc_run(&o, 60000, NULL, NULL, 0, &res);
}

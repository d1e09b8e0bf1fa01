/* SPDX-License-Identifier: MIT */
/*
 * One attempt of one case, in a process of its own (forked by run.c): set up the case's
 * backend, disk and link (matrix/libexec/case-setup), open its QEMU board, run the
 * scenario with lp_hil_script_run, write the verdict to DIR/result.json, and take
 * everything down again. The parent reads result.json; a child that dies without one
 * is an infrastructure error.
 */
/* Paths and labels here are built from bounded pieces (PATH_MAX directories, MX_NAME_MAX
 * names); a truncated one fails where it is used (a missing file, a tool's error). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/proc.h"
#include "loopline-hil/board.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/lock.h"
#include "loopline-hil/power.h"
#include "loopline-hil/script.h"
#include "matrix.h"
#include "run-case.h"

#define SETUP_TIMEOUT_MS (5u * 60u * 1000u)
#define VARS_MAX 256
#define MX_LOCK_OWNER "loopline-matrix"
#define MX_LOCK_WAIT_MS (10u * 60u * 1000u) /* a person's lock: the runner waited already */

struct step_log {
	FILE *f;
	uint64_t subject_ms; /* the device's time (boot, expect, run, until, action) */
	const struct lp_hil_step *restored; /* a boot done by a restore: the harness's time */
};

static void on_event(void *userdata, const struct lp_hil_script_event *ev)
{
	struct step_log *l = userdata;
	double t = (double)ev->elapsed_ms / 1000.0;

	switch (ev->kind) {
	case LP_HIL_SCRIPT_EV_STEP:
		fprintf(l->f, "[%8.1fs] %s:%u: %s%s%s\n", t, ev->script->name, ev->step->line,
			lp_hil_step_name(ev->step->kind), ev->text && ev->text[0] ? " " : "",
			ev->step->text ? ev->step->text : ev->text ? ev->text : "");
		break;
	case LP_HIL_SCRIPT_EV_OUTPUT:
		fprintf(l->f, "%.*s%s", (int)(ev->len > 4096 ? 4096 : ev->len), (const char *)ev->data,
			ev->len && ev->data[ev->len - 1] != '\n' ? "\n" : "");
		break;
	case LP_HIL_SCRIPT_EV_MATCH:
		fprintf(l->f, "[%8.1fs]   matched: %s\n", t, ev->text);
		break;
	case LP_HIL_SCRIPT_EV_ECHO:
		if (ev->step && ev->step->kind == LP_HIL_STEP_BOOT && strstr(ev->text, "restored"))
			l->restored = ev->step;
		/* fall through */
	case LP_HIL_SCRIPT_EV_CAPTURE:
	case LP_HIL_SCRIPT_EV_MARK:
		fprintf(l->f, "[%8.1fs]   %s\n", t, ev->text);
		break;
	case LP_HIL_SCRIPT_EV_DONE:
		/* the device's time: its boots, what it prints, its commands (run), and the
		 * waits for what it does through the backend (until, action) */
		if ((ev->step->kind == LP_HIL_STEP_BOOT && ev->step != l->restored) ||
		    ev->step->kind == LP_HIL_STEP_EXPECT || ev->step->kind == LP_HIL_STEP_UNTIL ||
		    ev->step->kind == LP_HIL_STEP_ACTION || ev->step->kind == LP_HIL_STEP_RUN)
			l->subject_ms += ev->result->duration_ms;
		fprintf(l->f, "[%8.1fs]   ok (%.1f s%s)\n", t, (double)ev->result->duration_ms / 1000.0,
			ev->result->tries > 1 ? ", retried" : "");
		break;
	}
	fflush(l->f);
}

int mx_case_write_result(const char *dir, const char *verdict, const char *error,
			 const char *failed_step, const char *message, const char *console,
			 uint64_t subject_ms)
{
	cJSON *o = cJSON_CreateObject();
	char path[PATH_MAX], *text;
	int r;

	cJSON_AddStringToObject(o, "verdict", verdict); /* pass, fail, error */
	cJSON_AddStringToObject(o, "error", error);
	cJSON_AddStringToObject(o, "failed_step", failed_step);
	cJSON_AddStringToObject(o, "message", message);
	cJSON_AddStringToObject(o, "console", console);
	cJSON_AddNumberToObject(o, "subject_ms", (double)subject_ms);
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/result.json", dir);
	r = lp_fs_write_atomic(path, text, strlen(text), 0644, 0);
	free(text);
	return r;
}

/* Reads DIR/vars (NAME=VALUE lines) into vars[] (strdup'd). */
static int read_vars(const char *path, char **vars, size_t *n)
{
	char *text = NULL, *save = NULL, *line;
	size_t len;
	int r = lp_fs_read_file(path, 1u << 20, &text, &len);

	if (r < 0)
		return r;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strchr(line, '=') || *n == VARS_MAX)
			continue;
		if (!(vars[(*n)++] = strdup(line))) {
			free(text);
			return -ENOMEM;
		}
	}
	free(text);
	return 0;
}

/* Copies a payload-corrupted copy of src to dst: one byte in the middle of the file (the
 * root file system image, which is nearly all of a package) is inverted. */
static int tamper_copy(const char *src, const char *dst)
{
	char *data = NULL;
	size_t len;
	int r = lp_fs_read_file(src, 1u << 30, &data, &len);

	if (r < 0)
		return r;
	if (len < 4096) {
		free(data);
		return -EINVAL;
	}
	data[len / 2] = (char)~data[len / 2];
	r = lp_fs_write_atomic(dst, data, len, 0644, 0);
	free(data);
	return r;
}

/* Copies src from byte `from` on (a rack board's console log grows over many cases). */
static void copy_file(const char *src, const char *dst, size_t from)
{
	char *data = NULL;
	size_t len;

	if (lp_fs_read_file(src, 1u << 28, &data, &len) == 0 && len >= from)
		lp_fs_write_atomic(dst, data + from, len - from, 0644, 0);
	free(data);
}

static int run_script_tool(const char *dir, const char *tool, const char *arg, const char *log,
			   unsigned timeout_ms)
{
	const char *argv[] = { tool, dir, arg, NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_FD, .err = LP_PROC_ERR_STDOUT,
				  .flags = LP_PROC_KILL_LEFTOVERS };
	struct lp_proc_result res;
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return -errno;
	o.out_fd = fd;
	r = lp_proc_run(&o, timeout_ms, NULL, NULL, 0, &res);
	close(fd);
	if (r < 0)
		return r;
	return res.exit_code == 0 ? 0 : -EIO;
}

/* The case's board: a rack's (DIR/board.json {"inventory", "name"}, written by
 * case-setup for a board target) or the QEMU board of DIR/rack.yaml, "dut". */
static bool case_board(const char *dir, char *inv_path, size_t len, char *name, size_t name_len)
{
	bool rack = false;
	char path[PATH_MAX + 16], *text = NULL;
	size_t n;
	cJSON *o = NULL;

	snprintf(path, sizeof(path), "%s/board.json", dir);
	if (lp_fs_read_file(path, 1u << 16, &text, &n) == 0)
		o = cJSON_Parse(text);
	free(text);
	if (cJSON_GetStringValue(cJSON_GetObjectItem(o, "inventory")) &&
	    cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"))) {
		snprintf(inv_path, len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(o, "inventory")));
		snprintf(name, name_len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")));
		rack = true;
	} else {
		snprintf(inv_path, len, "%s/rack.yaml", dir);
		snprintf(name, name_len, "dut");
	}
	cJSON_Delete(o);
	return rack;
}

/* Stops the listening fault proxy of a board case (DIR/proxy.pid, its own group). */
static void stop_proxy(const char *dir)
{
	char path[PATH_MAX + 16], *text = NULL;
	size_t n;
	long pid;

	snprintf(path, sizeof(path), "%s/proxy.pid", dir);
	if (lp_fs_read_file(path, 64, &text, &n) < 0)
		return;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid > 1) {
		kill(-(pid_t)pid, SIGKILL);
		kill((pid_t)pid, SIGKILL);
	}
	unlink(path);
}

/* Powers the board off (by its inventory) and stops the case's backend and proxy. Used
 * by the case itself and by the parent after killing a case. */
void mx_case_cleanup(const char *dir, const char *libexec)
{
	char inv_path[PATH_MAX], tool[PATH_MAX], log[PATH_MAX], name[128];
	struct lp_hil_inventory *inv = NULL;
	struct lp_hil_board *b = NULL;
	struct lp_diag d;

	lp_diag_clear(&d);
	case_board(dir, inv_path, sizeof(inv_path), name, sizeof(name));
	stop_proxy(dir);
	if (access(inv_path, F_OK) == 0 && lp_hil_inventory_load(inv_path, &inv, &d) == 0 &&
	    lp_hil_board_open(inv, name, &b, &d) == 0) {
		lp_hil_board_power_cut(b, &d);
		lp_hil_board_close(b);
	}
	lp_hil_inventory_free(inv);
	snprintf(tool, sizeof(tool), "%s/case-backend", libexec);
	snprintf(log, sizeof(log), "%s/setup.log", dir);
	snprintf(inv_path, sizeof(inv_path), "%s/backend.bin", dir);
	if (access(inv_path, F_OK) == 0)
		run_script_tool(dir, tool, "kill", log, 30000);
}

/* Writes setup.json (with tampered copies of the packages that ask for it), runs
 * case-setup and reads the variables it wrote. A failure is written as the attempt's
 * result (an infrastructure error) and returned. */
static int case_setup(const struct mx_case_job *j, const char *state, char **vars, size_t *n_vars)
{
	char path[PATH_MAX + 16], tool[PATH_MAX + 16], setup_log[PATH_MAX + 16], msg[2048];
	cJSON *setup = cJSON_Parse(j->setup_json), *pkgs;
	char *text = NULL;
	int r = -EINVAL;

	if (!setup) {
		mx_case_write_result(j->dir, "error", "script", "", "internal: bad setup description", "", 0);
		return -EINVAL;
	}
	cJSON_AddStringToObject(setup, "state_dir", state);
	pkgs = cJSON_GetObjectItem(setup, "packages");
	for (int i = 0; i < cJSON_GetArraySize(pkgs); i++) {
		cJSON *p = cJSON_GetArrayItem(pkgs, i);
		char dst[PATH_MAX + 64];

		if (!cJSON_IsTrue(cJSON_GetObjectItem(p, "tamper")))
			continue;
		snprintf(dst, sizeof(dst), "%s/tampered-%s.lpkg", j->dir,
			 cJSON_GetStringValue(cJSON_GetObjectItem(p, "name")));
		if ((r = tamper_copy(cJSON_GetStringValue(cJSON_GetObjectItem(p, "file")), dst)) < 0) {
			snprintf(msg, sizeof(msg), "cannot make the tampered package: %s", strerror(-r));
			mx_case_write_result(j->dir, "error", "setup", "", msg, "", 0);
			goto out;
		}
		cJSON_DeleteItemFromObject(p, "file");
		cJSON_DeleteItemFromObject(p, "opaque");
		cJSON_AddStringToObject(p, "file", dst);
		cJSON_AddTrueToObject(p, "opaque");
	}
	text = cJSON_Print(setup);
	snprintf(path, sizeof(path), "%s/setup.json", j->dir);
	if (!text || lp_fs_write_atomic(path, text, strlen(text), 0644, 0) < 0) {
		mx_case_write_result(j->dir, "error", "setup", "", "cannot write setup.json", "", 0);
		r = -EIO;
		goto out;
	}
	snprintf(tool, sizeof(tool), "%s/case-setup", j->libexec);
	snprintf(setup_log, sizeof(setup_log), "%s/setup.log", j->dir);
	if ((r = run_script_tool(j->dir, tool, NULL, setup_log, SETUP_TIMEOUT_MS)) < 0) {
		char *log = NULL;
		size_t len = 0;

		lp_fs_read_file(setup_log, 1u << 20, &log, &len);
		snprintf(msg, sizeof(msg), "case-setup failed (%s): %s",
			 r == -ETIMEDOUT ? "timed out" : "see setup.log",
			 log && len > 600 ? log + len - 600 : log ? log : "");
		free(log);
		mx_case_write_result(j->dir, "error", "setup", "", msg, "", 0);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/vars", j->dir);
	if ((r = read_vars(path, vars, n_vars)) < 0)
		mx_case_write_result(j->dir, "error", "setup", "", "case-setup wrote no vars", "", 0);
out:
	free(text);
	cJSON_Delete(setup);
	return r;
}

/* After an attempt: the board and backend stopped, the console log kept next to the
 * step log, the board's state directory removed, and (without --keep) the disks and the
 * backend's data. */
static void attempt_cleanup(const struct mx_case_job *j, const char *state,
			    const char *console_log, size_t console_from)
{
	char path[PATH_MAX];

	mx_case_cleanup(j->dir, j->libexec);
	if (console_log)
		snprintf(path, sizeof(path), "%s", console_log);
	else
		snprintf(path, sizeof(path), "%s/logs/dut.log", state);
	{
		char dst[PATH_MAX];

		snprintf(dst, sizeof(dst), "%s/" MX_CONSOLE_LOG, j->dir);
		copy_file(path, dst, console_from);
	}
	mx_case_state_remove(state);
	{
		struct lp_proc_opts o = { .out = LP_PROC_OUT_NULL, .err = LP_PROC_ERR_NULL };
		struct lp_proc_result pr;

		if (!j->keep) {
			/* disks and the backend's data are large and not needed to read a verdict */
			char big[PATH_MAX * 2];
			const char *sh[] = { "sh", "-c", big, NULL };

			snprintf(big, sizeof(big), "cd '%s' && rm -rf disk.img disk.img.boot overlay.qcow2 data backend",
				 j->dir);
			o.argv = sh;
			lp_proc_run(&o, 60000, NULL, NULL, 0, &pr);
		}
	}
}

/* Runs the board's provision command with the board off: the case's disk image (and
 * package, device configuration) go onto the board. Output in DIR/provision.log. */
static int provision(const struct mx_case_job *j, const struct lp_hil_board_config *bc,
		     struct lp_hil_board *b)
{
	char log[PATH_MAX + 32], v[PATH_MAX + 32], msg[1024];
	struct lp_proc_opts o = { .argv = (const char *const *)bc->provision.argv,
				  .out = LP_PROC_OUT_FD, .err = LP_PROC_ERR_STDOUT,
				  .flags = LP_PROC_KILL_LEFTOVERS };
	struct lp_proc_result res;
	struct lp_diag d;
	int fd, r;

	lp_diag_clear(&d);
	if ((r = lp_hil_board_power_off(b, &d)) < 0) {
		snprintf(msg, sizeof(msg), "%s: cannot power off for provisioning: %s", bc->name, d.msg);
		mx_case_write_result(j->dir, "error", "board", "", msg, "", 0);
		return r;
	}
	setenv("LP_BOARD", bc->name, 1);
	snprintf(v, sizeof(v), "%s/disk.img", j->dir);
	setenv("LP_DISK", v, 1);
	snprintf(v, sizeof(v), "%s/disk.img.boot", j->dir);
	setenv("LP_DISK_BOOT", v, 1);
	snprintf(v, sizeof(v), "%s/data/device.json", j->dir);
	setenv("LP_DEVICE_CONFIG", v, 1);
	snprintf(log, sizeof(log), "%s/provision.log", j->dir);
	if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	o.out_fd = fd;
	r = lp_proc_run(&o, bc->provision.timeout_ms, NULL, NULL, 0, &res);
	close(fd);
	if (r == 0 && res.exit_code == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s: provisioning (%s) %s; see provision.log", bc->name,
		 bc->provision.argv[0], r == -ETIMEDOUT ? "timed out" : r < 0 ? strerror(-r) :
		 "failed");
	mx_case_write_result(j->dir, "error", "setup", "", msg, "", 0);
	return r < 0 ? r : -EIO;
}

/* A rack board: the HIL lock for the case (other users of the rack see it busy), then
 * provisioning. A failure is the attempt's result (infra). */
static int rack_board_take(const struct mx_case_job *j, const struct lp_hil_inventory *inv,
			   const char *name, struct lp_hil_board *b, struct lp_hil_locks **locks)
{
	const struct lp_hil_board_config *bc = lp_hil_inventory_find(inv, name);
	struct lp_hil_lock_info holder;
	char msg[1024];
	struct lp_diag d;
	int r;

	lp_diag_clear(&d);
	if ((r = lp_hil_locks_open(inv->lock_db, locks, &d)) < 0 ||
	    (r = lp_hil_lock_acquire(*locks, name, MX_LOCK_OWNER, getpid(), j->dir, 0,
				     MX_LOCK_WAIT_MS, &holder, &d)) < 0) {
		if (r == -EBUSY)
			snprintf(msg, sizeof(msg), "board %s is locked by %s (%s)", name, holder.owner,
				 holder.reason);
		else
			snprintf(msg, sizeof(msg), "board %s: lock: %s", name, d.msg);
		mx_case_write_result(j->dir, "error", "board", "", msg, "", 0);
		lp_hil_locks_close(*locks);
		*locks = NULL;
		return r;
	}
	return provision(j, bc, b);
}

int mx_case_attempt(const struct mx_case_job *j)
{
	char path[PATH_MAX], msg[2048] = "";
	char *vars[VARS_MAX] = { 0 };
	size_t n_vars = 0;
	struct lp_hil_inventory *inv = NULL;
	struct lp_hil_board *b = NULL;
	struct lp_hil_script *sc = NULL;
	struct lp_hil_script_result *res = NULL;
	struct step_log sl = { 0 };
	struct lp_diag d;
	char state[64];
	char board_name[128], rack_log[PATH_MAX + 160] = "";
	size_t rack_log_from = 0;
	struct lp_hil_locks *locks = NULL;
	bool rack;
	int r;

	lp_diag_clear(&d);
	/* named after this process, so the runner can remove it when it kills the attempt */
	mx_case_state_dir(getpid(), state, sizeof(state));
	mx_case_state_remove(state); /* a dead process's leftover of the same pid */
	if (mkdir(state, 0700) < 0) {
		mx_case_write_result(j->dir, "error", "board", "", "cannot make a state directory in /tmp", "", 0);
		return 1;
	}
	if (case_setup(j, state, vars, &n_vars) < 0)
		goto out;
	for (size_t i = 0; i < j->n_vars && n_vars < VARS_MAX; i++)
		vars[n_vars++] = strdup(j->vars[i]);

	/* the board and the scenario */
	rack = case_board(j->dir, path, sizeof(path), board_name, sizeof(board_name));
	if ((r = lp_hil_inventory_load(path, &inv, &d)) < 0 ||
	    (r = lp_hil_board_open(inv, board_name, &b, &d)) < 0) {
		snprintf(msg, sizeof(msg), "the case's board: %s", d.msg);
		mx_case_write_result(j->dir, "error", "board", "", msg, "", 0);
		goto out;
	}
	if (rack) {
		struct stat st;

		/* the board's console log lives in the rack's log_dir, across cases */
		snprintf(rack_log, sizeof(rack_log), "%s/%s.log", inv->log_dir, board_name);
		rack_log_from = stat(rack_log, &st) == 0 ? (size_t)st.st_size : 0;
		if ((r = rack_board_take(j, inv, board_name, b, &locks)) < 0)
			goto out;
	}
	if ((r = lp_hil_script_load(j->scenario_path, &sc, &d)) < 0) {
		char where[LP_DIAG_MSG_MAX + 64];

		snprintf(where, sizeof(where), "%s:%u: %s", d.file, d.line, d.msg);
		mx_case_write_result(j->dir, "error", "script", "", where, "", 0);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/" MX_STEP_LOG, j->dir);
	if (!(sl.f = fopen(path, "we"))) {
		mx_case_write_result(j->dir, "error", "board", "", "cannot write steps.log", "", 0);
		goto out;
	}
	{
		int fd = fileno(sl.f);
		struct lp_hil_script_opts o = {
			.event = on_event, .userdata = &sl,
			.vars = (const char *const *)vars, .n_vars = n_vars,
			.host_out = LP_PROC_OUT_FD, .host_out_fd = fd,
			.host_err = LP_PROC_ERR_FD, .host_err_fd = fd,
			.save_state = j->save_state[0] ? j->save_state : NULL,
			.restore_state = j->restore_state[0] ? j->restore_state : NULL,
		};

		r = lp_hil_script_run(b, sc, &o, &res);
	}
	if (r < 0) {
		mx_case_write_result(j->dir, "error", "board", "", "out of memory", "", 0);
	} else if (res->ok) {
		fprintf(sl.f, "PASS (%.1f s)\n", (double)res->duration_ms / 1000.0);
		mx_case_write_result(j->dir, "pass", "ok", "", "", "", sl.subject_ms);
	} else {
		char step[LP_HIL_SCRIPT_TEXT_MAX + 64];
		const char *err = lp_hil_script_error_name(res->error);
		bool product = res->error == LP_HIL_SCRIPT_ERR_TIMEOUT ||
			       res->error == LP_HIL_SCRIPT_ERR_FAILURE_PATTERN ||
			       res->error == LP_HIL_SCRIPT_ERR_COMMAND;

		snprintf(step, sizeof(step), "%s:%u: %s", j->scenario_name, res->line, res->step);
		fprintf(sl.f, "FAIL %s: %s\n", step, res->message);
		mx_case_write_result(j->dir, product ? "fail" : "error", err, step, res->message,
			     res->console_tail, sl.subject_ms);
	}
out:
	if (sl.f)
		fclose(sl.f);
	lp_hil_script_result_free(res);
	lp_hil_script_free(sc);
	if (b) {
		/* a saved board stands paused: its disk is complete, a quit is enough */
		if (j->save_state[0])
			lp_hil_board_power_off(b, &d);
		lp_hil_board_power_cut(b, &d);
		lp_hil_board_close(b);
		b = NULL;
	}
	if (locks) {
		lp_hil_lock_release(locks, board_name, MX_LOCK_OWNER, false, &d);
		lp_hil_locks_close(locks);
	}
	lp_hil_inventory_free(inv);
	attempt_cleanup(j, state, rack_log[0] ? rack_log : NULL, rack_log_from);
	for (size_t i = 0; i < n_vars; i++)
		free(vars[i]);
	return 0;
}

void mx_case_state_dir(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/lpmx-%ld", (long)pid);
}

void mx_case_state_remove(const char *dir)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_NULL, .err = LP_PROC_ERR_NULL };
	struct lp_proc_result pr;

	lp_proc_run(&o, 60000, NULL, NULL, 0, &pr);
}

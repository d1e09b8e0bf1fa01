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
#include "loopline-hil/power.h"
#include "loopline-hil/script.h"
#include "matrix.h"
#include "run-case.h"

#define SETUP_TIMEOUT_MS (5u * 60u * 1000u)
#define VARS_MAX 256

struct step_log {
	FILE *f;
	uint64_t subject_ms; /* time spent waiting for the device (boot, expect, until, action) */
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
	case LP_HIL_SCRIPT_EV_CAPTURE:
	case LP_HIL_SCRIPT_EV_MARK:
	case LP_HIL_SCRIPT_EV_ECHO:
		fprintf(l->f, "[%8.1fs]   %s\n", t, ev->text);
		break;
	case LP_HIL_SCRIPT_EV_DONE:
		if (ev->step->kind == LP_HIL_STEP_BOOT || ev->step->kind == LP_HIL_STEP_EXPECT ||
		    ev->step->kind == LP_HIL_STEP_UNTIL || ev->step->kind == LP_HIL_STEP_ACTION)
			l->subject_ms += ev->result->duration_ms;
		fprintf(l->f, "[%8.1fs]   ok (%.1f s%s)\n", t, (double)ev->result->duration_ms / 1000.0,
			ev->result->tries > 1 ? ", retried" : "");
		break;
	}
	fflush(l->f);
}

static int write_result(const char *dir, const char *verdict, const char *error,
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

static void copy_file(const char *src, const char *dst)
{
	char *data = NULL;
	size_t len;

	if (lp_fs_read_file(src, 1u << 28, &data, &len) == 0)
		lp_fs_write_atomic(dst, data, len, 0644, 0);
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

/* Powers the board off (by its inventory) and stops the case's backend. Used by the case
 * itself and by the parent after killing a case. */
void mx_case_cleanup(const char *dir, const char *libexec)
{
	char inv_path[PATH_MAX], tool[PATH_MAX], log[PATH_MAX];
	struct lp_hil_inventory *inv = NULL;
	struct lp_hil_board *b = NULL;
	struct lp_diag d;

	lp_diag_clear(&d);
	snprintf(inv_path, sizeof(inv_path), "%s/rack.yaml", dir);
	if (access(inv_path, F_OK) == 0 && lp_hil_inventory_load(inv_path, &inv, &d) == 0 &&
	    lp_hil_board_open(inv, "dut", &b, &d) == 0) {
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
		write_result(j->dir, "error", "script", "", "internal: bad setup description", "", 0);
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
			write_result(j->dir, "error", "setup", "", msg, "", 0);
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
		write_result(j->dir, "error", "setup", "", "cannot write setup.json", "", 0);
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
		write_result(j->dir, "error", "setup", "", msg, "", 0);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/vars", j->dir);
	if ((r = read_vars(path, vars, n_vars)) < 0)
		write_result(j->dir, "error", "setup", "", "case-setup wrote no vars", "", 0);
out:
	free(text);
	cJSON_Delete(setup);
	return r;
}

/* After an attempt: the board and backend stopped, the console log kept next to the
 * step log, the board's state directory removed, and (without --keep) the disks and the
 * backend's data. */
static void attempt_cleanup(const struct mx_case_job *j, const char *state)
{
	char path[PATH_MAX];

	mx_case_cleanup(j->dir, j->libexec);
	snprintf(path, sizeof(path), "%s/logs/dut.log", state);
	{
		char dst[PATH_MAX];

		snprintf(dst, sizeof(dst), "%s/" MX_CONSOLE_LOG, j->dir);
		copy_file(path, dst);
	}
	{
		const char *argv[] = { "rm", "-rf", state, NULL };
		struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_NULL, .err = LP_PROC_ERR_NULL };
		struct lp_proc_result pr;

		lp_proc_run(&o, 60000, NULL, NULL, 0, &pr);
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
	char state[] = "/tmp/lpmx-XXXXXX";
	int r;

	lp_diag_clear(&d);
	if (!mkdtemp(state)) {
		write_result(j->dir, "error", "board", "", "cannot make a state directory in /tmp", "", 0);
		return 1;
	}
	if (case_setup(j, state, vars, &n_vars) < 0)
		goto out;
	for (size_t i = 0; i < j->n_vars && n_vars < VARS_MAX; i++)
		vars[n_vars++] = strdup(j->vars[i]);

	/* the board and the scenario */
	snprintf(path, sizeof(path), "%s/rack.yaml", j->dir);
	if ((r = lp_hil_inventory_load(path, &inv, &d)) < 0 ||
	    (r = lp_hil_board_open(inv, "dut", &b, &d)) < 0) {
		snprintf(msg, sizeof(msg), "the case's board: %s", d.msg);
		write_result(j->dir, "error", "board", "", msg, "", 0);
		goto out;
	}
	if ((r = lp_hil_script_load(j->scenario_path, &sc, &d)) < 0) {
		char where[LP_DIAG_MSG_MAX + 64];

		snprintf(where, sizeof(where), "%s:%u: %s", d.file, d.line, d.msg);
		write_result(j->dir, "error", "script", "", where, "", 0);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/" MX_STEP_LOG, j->dir);
	if (!(sl.f = fopen(path, "we"))) {
		write_result(j->dir, "error", "board", "", "cannot write steps.log", "", 0);
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
		write_result(j->dir, "error", "board", "", "out of memory", "", 0);
	} else if (res->ok) {
		fprintf(sl.f, "PASS (%.1f s)\n", (double)res->duration_ms / 1000.0);
		write_result(j->dir, "pass", "ok", "", "", "", sl.subject_ms);
	} else {
		char step[LP_HIL_SCRIPT_TEXT_MAX + 64];
		const char *err = lp_hil_script_error_name(res->error);
		bool product = res->error == LP_HIL_SCRIPT_ERR_TIMEOUT ||
			       res->error == LP_HIL_SCRIPT_ERR_FAILURE_PATTERN ||
			       res->error == LP_HIL_SCRIPT_ERR_COMMAND;

		snprintf(step, sizeof(step), "%s:%u: %s", j->scenario_name, res->line, res->step);
		fprintf(sl.f, "FAIL %s: %s\n", step, res->message);
		write_result(j->dir, product ? "fail" : "error", err, step, res->message,
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
	lp_hil_inventory_free(inv);
	attempt_cleanup(j, state);
	for (size_t i = 0; i < n_vars; i++)
		free(vars[i]);
	return 0;
}

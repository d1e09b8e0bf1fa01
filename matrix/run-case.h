/* SPDX-License-Identifier: MIT */
/* One attempt of a case, in its own process (run-case.c). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mx_case_job {
	char dir[PATH_MAX];            /* the attempt's directory (absolute) */
	char libexec[PATH_MAX];        /* matrix/libexec of the repository */
	char scenario_path[PATH_MAX];
	char scenario_name[128];       /* "update.hil" */
	const char *setup_json;        /* what case-setup reads (state_dir is added) */
	const char *const *vars;       /* scenario variables "NAME=value" besides case-setup's */
	size_t n_vars;
	bool keep;                     /* keep disks and backend data */
	char save_state[PATH_MAX];     /* a snapshot job: save after the first step ("") */
	char restore_state[PATH_MAX];  /* restore instead of the first step's boot ("") */
};

/* Runs the attempt (or, with save_state, a snapshot job: the first step, then the save)
 * and writes j->dir/result.json: {"verdict": "pass"|"fail"|"error",
 * "error", "failed_step", "message", "console", "subject_ms"}. Always cleans up. */
int mx_case_attempt(const struct mx_case_job *j);
/* The state directory of the attempt run by process pid (short: unix socket paths of
 * QEMU's console and QMP live there), and removing it — by the attempt when it ends, by
 * the runner when it had to kill the attempt. */
void mx_case_state_dir(pid_t pid, char *buf, size_t len);
void mx_case_state_remove(const char *dir);
/* Powers off the case's board and kills its backend (after a killed attempt). */
void mx_case_cleanup(const char *dir, const char *libexec);
/* Writes DIR/result.json (what the runner reads of an attempt); verdict "pass", "fail"
 * (product) or "error" (infra). */
int mx_case_write_result(const char *dir, const char *verdict, const char *error,
			 const char *failed_step, const char *message, const char *console,
			 uint64_t subject_ms);

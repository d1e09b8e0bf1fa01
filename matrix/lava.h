/* SPDX-License-Identifier: MIT */
/*
 * The matrix on LAVA (docs/lava.md): lava-gen.c turns a case into a LAVA job from the
 * templates in lava-jobs/ and the scenario's recipe (matrix/scenarios/NAME.lava);
 * lava-exec.c runs them (lava-run here, or a lab's REST API: lava-rest.c) and
 * lava-results.c turns what LAVA reports into the attempt's result.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "loopline/diag.h"
#include "matrix.h"
#include "run.h"

/* ---- limits ---- */
#define MX_LAVA_TEMPLATE_MAX (64u * 1024)   /* a template file */
#define MX_LAVA_RECIPE_MAX (64u * 1024)     /* a scenario's .lava recipe */
#define MX_LAVA_JOB_MAX (1024u * 1024)      /* a generated job */
#define MX_LAVA_PKG_DIR "/data/loopline/pkgs" /* where the packages are on the device */

/* ---- lava-gen.c: case -> job ---- */

struct mx_lava_gen {
	const struct mx_spec *spec;
	struct mx_build *build;     /* firmware builds (mx_build_init'ed by the caller) */
	char templates[PATH_MAX];   /* lava-jobs/ */
	char out[PATH_MAX];         /* jobs go here; images under out/artifacts */
	char artifact_url[PATH_MAX];/* base URL of out/artifacts ("": file://out/artifacts) */
	char device_type[MX_NAME_MAX]; /* "" = "qemu" for QEMU targets */
};

struct mx_lava_job {
	char path[PATH_MAX];        /* the job file ("" if skipped or failed) */
	char skip[512];             /* not for LAVA: why (SKIPPED) */
	char error[1024];           /* could not be made: why (ERROR/infra, e.g. a build) */
	cJSON *components;          /* {"from": hash, "to": hash} (caller frees) */
	unsigned timeout_min;       /* the job's timeout */
};

/* Fills g's defaults (templates from the tree, file:// URL). */
int mx_lava_gen_init(struct mx_lava_gen *g, const struct mx_spec *s, struct mx_build *b,
		     const char *out, const char *artifact_url, struct lp_diag *diag);
/* Writes the job of case i (and its images); errors of the case go into ret->skip or
 * ret->error and return 0; only ENOMEM and I/O errors of the output are returned. */
int mx_lava_gen_case(struct mx_lava_gen *g, const struct mx_plan *p, size_t i,
		     struct mx_lava_job *ret, struct lp_diag *diag);
/* "{{NAME}}" replaced by the value of NAME in vars ("NAME=value" strings); an unknown
 * name is an error (-EINVAL with diag naming it and the line). */
int mx_lava_fill(const char *tpl, const char *name, const char *const *vars, size_t n_vars,
		 struct mx_buf *out, struct lp_diag *diag);
/* text as a YAML single-quoted scalar. */
void mx_lava_quote(struct mx_buf *out, const char *text);

/* ---- lava-results.c: LAVA's results → the matrix's verdict ---- */

enum mx_lava_verdict { MX_LAVA_PASS, MX_LAVA_FAIL, MX_LAVA_ERROR };

struct mx_lava_outcome {
	enum mx_lava_verdict verdict;  /* set by mx_lava_outcome_decide */
	unsigned n_cases, n_pass;      /* the scenario's test cases (LAVA's own not counted) */
	unsigned n_entries;            /* log entries read */
	char failed[256];              /* "DEFINITION: CASE" of the first failed test case */
	bool job_seen, job_passed;     /* the job's own result (log) or health (REST) */
	char job_error[512];           /* why the job did not complete (error type: message) */
	char first_error[512];         /* the log's first error line */
	char message[1024];            /* the verdict in words */
};

struct mx_lava_texts {             /* what a log gives a person (mx_buf_free both) */
	struct mx_buf console;         /* the device's console ("target" entries) */
	struct mx_buf steps;           /* one line per test case: "pass  0_install: CASE" */
};

/* Reads lava-run's log (or /api/v0.2/jobs/N/logs/): every non-empty line must be an
 * entry "{…}" or "- {…}" with "lvl"; results entries need definition, case and result.
 * texts (may be NULL) gets the console and the test cases. Decides the verdict.
 * -EBADMSG/-EFBIG with the line in diag. */
int mx_lava_log_parse(const char *text, size_t len, struct mx_lava_outcome *out,
		      struct mx_lava_texts *texts, struct lp_diag *diag);
void mx_lava_texts_free(struct mx_lava_texts *t);
/* Adds the test cases of /api/v0.2/jobs/N/tests/ ({"results": [{suite, name, result}]})
 * to out (not cleared: a paged list is read page by page). A suite given by id is named
 * from /api/v0.2/jobs/N/suites/ (suites, may be NULL). -EBADMSG with the element. */
int mx_lava_tests_parse(const char *tests, size_t tests_len, const char *suites,
			size_t suites_len, struct mx_lava_outcome *out, struct lp_diag *diag);
/* The verdict from what was read: a failed test case: FAIL; else the job passed: PASS;
 * else ERROR with LAVA's reason. */
void mx_lava_outcome_decide(struct mx_lava_outcome *out);

/* ---- lava-exec.c, lava-rest.c: an attempt of a case on LAVA ---- */

struct mx_lava_attempt {
	char dir[PATH_MAX];        /* the attempt's directory */
	char job[PATH_MAX];        /* the generated job */
	unsigned timeout_min;      /* the job's timeout */
	bool rest;                 /* a lab's REST API (else lava-run here) */
	char device[PATH_MAX];     /* lava-run: the device configuration */
	char cache[PATH_MAX];      /* lava-run: OUT/cache (the appliance's kernel) */
	char libexec[PATH_MAX];    /* lava-run: matrix/libexec */
	char url[PATH_MAX];        /* REST: the lab's base URL (https://lava.example) */
	char token[256];           /* REST: an API token */
};

/* Runs the job and writes DIR/result.json (pass/fail/error) and DIR/console.log. */
int mx_lava_attempt_run(const struct mx_lava_attempt *a);
int mx_lava_rest_attempt(const struct mx_lava_attempt *a);
/* After the attempt's process was killed: cancels its job in the lab (REST) or kills what
 * lava-run started (lava-run-job's process group, DIR/lava-run-job.pid). */
void mx_lava_attempt_cleanup(const struct mx_lava_attempt *a);
int mx_lava_rest_cancel(const struct mx_lava_attempt *a);
/* The verdict of a LAVA log into DIR/result.json and DIR/console.log. */
int mx_lava_record(const char *dir, const char *log, size_t len);
/* A decided outcome into DIR/result.json (a failure with the console's tail), the
 * texts into DIR/console.log and DIR/steps.log. */
int mx_lava_write_outcome(const char *dir, const struct mx_lava_outcome *out,
			  const struct mx_lava_texts *texts);
/* The jobs' images (JOBS/artifacts) once the run is over. */
void mx_lava_artifacts_remove(const char *jobs_dir);

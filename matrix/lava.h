/* SPDX-License-Identifier: MIT */
/*
 * The matrix on LAVA (docs/lava.md): lava-gen.c turns a case into a LAVA job from the
 * templates in lava-jobs/ and the scenario's recipe (matrix/scenarios/NAME.lava);
 * lava-results.c reads what LAVA says about a job (the lava-run log, the REST API's test
 * list) into one verdict; lava-run.c runs jobs on this machine with lava-run.
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
#define MX_LAVA_LOG_MAX (256u * 1024 * 1024) /* a lava-run log read back */
#define MX_LAVA_LINE_MAX (64u * 1024)       /* one results line of the log */
#define MX_LAVA_CASES_MAX 4096              /* test cases of one job */
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

/* ---- lava-results.c: what LAVA says -> a verdict ---- */

struct mx_lava_case {
	char suite[MX_NAME_MAX];    /* "0_install" (lava-run: the definition name) */
	char name[128];             /* "installed" */
	char result[16];            /* pass fail skip unknown */
	char level[32];             /* lava action level ("2.4.1"), "" for test cases */
};

struct mx_lava_outcome {
	struct mx_lava_case *cases;
	size_t n_cases;
	bool job_seen;              /* the lava/job result was there */
	bool job_pass;
	char error_type[64];        /* LAVA's error_type of the job ("Infrastructure", …) */
	char error_msg[1024];
};
void mx_lava_outcome_free(struct mx_lava_outcome *o);

/* One line of lava-run's log (a YAML flow mapping: {"dt": …, "lvl": "results", "msg":
 * {…}}); lines of other levels are ignored (return 0). -EINVAL with diag for a results
 * line that does not parse. */
int mx_lava_log_line(const char *line, size_t len, struct mx_lava_outcome *o,
		     struct lp_diag *diag);
/* A whole log: every results line; console (may be NULL) receives the device's console
 * lines (lvl "target"). */
int mx_lava_log_parse(const char *text, size_t len, struct mx_lava_outcome *o,
		      struct mx_buf *console, struct lp_diag *diag);
/* The REST API's /api/v0.2/jobs/N/tests/ answer (a page: {"results": [...]} or a list). */
int mx_lava_rest_tests(const char *json, size_t len, struct mx_lava_outcome *o,
		       struct lp_diag *diag);
/* The verdict: a failed test case is FAIL/product naming it; a job that did not
 * complete (or no job result) is ERROR/infra with LAVA's error type and message; a
 * boot action that failed after the first test (the device did not come back with the
 * expected console line after an update) is FAIL/product. */
void mx_lava_verdict(const struct mx_lava_outcome *o, enum mx_status *ret_status,
		     enum mx_class *ret_class, char *failed_step, size_t step_len, char *message,
		     size_t msg_len);

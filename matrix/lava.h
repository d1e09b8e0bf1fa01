/* SPDX-License-Identifier: MIT */
/*
 * The matrix on LAVA (docs/lava.md): lava-gen.c turns a case into a LAVA job from the
 * templates in lava-jobs/ and the scenario's recipe (matrix/scenarios/NAME.lava);
 * the executors that run such jobs (lava-run, LAVA's REST API) are still to come.
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

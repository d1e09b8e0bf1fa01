/* SPDX-License-Identifier: MIT */
/*
 * loopline-matrix lava-jobs SPEC --out DIR: one LAVA job per case (lava-gen.c), the
 * images under DIR/artifacts, and DIR/jobs.json listing every case with its job file or
 * why it has none (docs/lava.md).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "loopline/cli.h"
#include "loopline/fs.h"
#include "lava.h"

int mx_cmd_lava_jobs(struct lp_cli *cli, void *ctx)
{
	struct mx_cli *mc = ctx;
	const char *only = NULL, *expr = NULL, *shard = NULL, *url = NULL, *dir = NULL, *arg;
	const char *device_type = NULL;
	struct mx_filter *f = NULL;
	struct mx_spec *s = NULL;
	struct mx_plan *p = NULL;
	struct mx_build b = { 0 };
	struct mx_lava_gen g;
	struct lp_diag d;
	cJSON *list = cJSON_CreateArray();
	size_t n_jobs = 0, n_skip = 0, n_err = 0;
	int key, r;

	lp_diag_clear(&d);
	while ((key = lp_cli_next(cli, &arg)) > 0)
		switch (key) {
		case 'O': only = arg; break;
		case 'F': expr = arg; break;
		case 'S': shard = arg; break;
		case 'u': url = arg; break;
		case 'd': dir = arg; break;
		case 't': device_type = arg; break;
		}
	if (!dir)
		dir = mc->out_dir; /* --out DIR: the jobs, DIR/artifacts and the build cache */
	if ((r = mx_filter_parse(only, expr, shard, &f, &d)) < 0)
		return lp_cli_usage_error(cli, "%s: %s", d.path[0] ? d.path : "--filter", d.msg);
	if ((r = mx_spec_load(cli->args[0], &s, &d)) < 0 || (r = mx_spec_resolve_in_use(s, &d)) < 0 ||
	    (r = mx_plan_expand(s, &p, &d)) < 0) {
		r = lp_cli_fail(r, &d, NULL);
		goto out;
	}
	if ((r = mx_plan_filter(p, f, &d)) < 0) {
		r = lp_cli_usage_error(cli, "%s", d.msg);
		goto out;
	}
	if ((r = lp_fs_mkdir_p(mc->out_dir, 0755)) < 0 || (r = mx_build_init(&b, s, mc->out_dir, &d)) < 0 ||
	    (r = mx_lava_gen_init(&g, s, &b, dir, url, &d)) < 0) {
		r = lp_cli_fail(r, &d, NULL);
		goto out;
	}
	if (device_type)
		snprintf(g.device_type, sizeof(g.device_type), "%s", device_type);
	for (size_t i = 0; i < p->n_cases; i++) {
		const struct mx_case *cs = &p->cases[i];
		struct mx_lava_job job;
		cJSON *o = cJSON_CreateObject();

		if ((r = mx_lava_gen_case(&g, p, i, &job, &d)) < 0) {
			cJSON_Delete(o);
			r = lp_cli_fail(r, &d, NULL);
			goto out;
		}
		cJSON_AddStringToObject(o, "combo", p->combos[cs->combo].key);
		cJSON_AddStringToObject(o, "scenario", s->scenarios[cs->scenario].name);
		if (job.path[0]) {
			cJSON_AddStringToObject(o, "job", job.path);
			printf("job     %s\n", job.path);
			n_jobs++;
		} else if (job.skip[0]) {
			cJSON_AddStringToObject(o, "skipped", job.skip);
			printf("skipped %s %s: %s\n", s->scenarios[cs->scenario].name, p->combos[cs->combo].key, job.skip);
			n_skip++;
		} else {
			cJSON_AddStringToObject(o, "error", job.error);
			fprintf(stderr, "loopline-matrix lava-jobs: %s %s: %s\n", s->scenarios[cs->scenario].name,
				p->combos[cs->combo].key, job.error);
			n_err++;
		}
		cJSON_Delete(job.components);
		cJSON_AddItemToArray(list, o);
	}
	{
		char *text = cJSON_Print(list), path[PATH_MAX + 16];

		snprintf(path, sizeof(path), "%s/jobs.json", g.out);
		if (!text || lp_fs_write_atomic(path, text, strlen(text), 0644, 0) < 0)
			fprintf(stderr, "loopline-matrix lava-jobs: cannot write %s\n", path);
		free(text);
	}
	printf("%zu jobs, %zu skipped, %zu errors in %s\n", n_jobs, n_skip, n_err, g.out);
	r = n_err ? LP_EXIT_FAILURE : 0;
out:
	cJSON_Delete(list);
	mx_build_free(&b);
	mx_plan_free(p);
	mx_spec_free(s);
	mx_filter_free(f);
	return r;
}

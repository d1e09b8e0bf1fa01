/* SPDX-License-Identifier: MIT */
/*
 * A matrix case as a LAVA job (docs/lava.md, "Generated jobs").
 *
 * The job is the device type's template (lava-jobs/<type>.job.yaml: deploy of kernel,
 * initramfs and the A/B disk) followed by the actions of the scenario's recipe,
 * matrix/scenarios/NAME.lava:
 *
 *	# comment
 *	#@ boot CONSOLE-LINE      a boot action (lava-jobs/<type>.boot.yaml) that waits for
 *	                          CONSOLE-LINE (a regular expression) before the shell prompt
 *	#@ test NAME              a test action; the lines up to the next directive are its
 *	                          shell steps (lava-test-case … --shell …)
 *
 * A reboot is a boot action: LAVA powers the device off and on (QEMU: a new process on
 * the same disk), so an update goes install (test) → boot → check (test). The images:
 * the from firmware's disk made with qemu-images/mkdisk, whose data partition carries
 * every package the scenario installs (MX_LAVA_PKG_DIR/NAME.lpkg: {{PKG_NAME}}), and the
 * firmware's kernel and initramfs, all under out/artifacts/<combo>/.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "lava.h"

#define RECIPE_STEPS_MAX 256
#define VARS_MAX (MX_PACKAGES_MAX + 32)
#define VAR_MAX (PATH_MAX + 256)

/* Writes a helper every test action can use: `/tmp/lp-wait SECONDS 'COMMAND'` runs
 * COMMAND once a second until it succeeds (exit 1 after SECONDS tries). */
static const char wait_helper[] =
	"printf '%s\\n' '#!/bin/sh' 'n=$1; shift' "
	"'until sh -c \"$*\"; do n=$((n-1)); [ \"$n\" -gt 0 ] || exit 1; sleep 1; done' "
	"> /tmp/lp-wait && chmod +x /tmp/lp-wait";

static int dset(struct lp_diag *d, const char *file, unsigned line, int err, const char *fmt, ...)
	LP_PRINTF(5, 6);
static int dset(struct lp_diag *d, const char *file, unsigned line, int err, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_diag_set_file(d, file);
	lp_diag_set_pos(d, line, 0);
	return lp_diag_fail(d, err, "%s", msg);
}

void mx_lava_quote(struct mx_buf *out, const char *text)
{
	mx_buf_puts(out, "'");
	for (const char *s = text; *s; s++) {
		if (*s == '\'')
			mx_buf_puts(out, "''");
		else
			mx_buf_add(out, s, 1);
	}
	mx_buf_puts(out, "'");
}

int mx_lava_fill(const char *tpl, const char *name, const char *const *vars, size_t n_vars,
		 struct mx_buf *out, struct lp_diag *diag)
{
	unsigned line = 1;

	for (const char *s = tpl; *s;) {
		const char *end;
		size_t k, n;

		if (s[0] != '{' || s[1] != '{') {
			if (*s == '\n')
				line++;
			mx_buf_add(out, s, 1);
			s++;
			continue;
		}
		if (!(end = strstr(s + 2, "}}")))
			return dset(diag, name, line, -EINVAL, "'{{' without '}}'");
		n = (size_t)(end - (s + 2));
		for (k = 0; k < n_vars; k++)
			if (!strncmp(vars[k], s + 2, n) && vars[k][n] == '=')
				break;
		if (k == n_vars)
			return dset(diag, name, line, -EINVAL, "unknown placeholder {{%.*s}}",
					   (int)(n > 64 ? 64 : n), s + 2);
		mx_buf_puts(out, vars[k] + n + 1);
		s = end + 2;
	}
	return out->err;
}

int mx_lava_gen_init(struct mx_lava_gen *g, const struct mx_spec *s, struct mx_build *b,
		     const char *out, const char *artifact_url, struct lp_diag *diag)
{
	char abs[PATH_MAX];
	int r;

	memset(g, 0, sizeof(*g));
	g->spec = s;
	g->build = b;
	if ((r = lp_fs_mkdir_p(out, 0755)) < 0)
		return dset(diag, out, 0, r, "cannot create the directory: %s", strerror(-r));
	if (!realpath(out, abs))
		return dset(diag, out, 0, -errno, "%s", strerror(errno));
	snprintf(g->out, sizeof(g->out), "%s", abs);
	snprintf(g->templates, sizeof(g->templates), "%s/lava-jobs", b->tools);
	if (artifact_url && artifact_url[0]) {
		size_t n = strlen(artifact_url);

		snprintf(g->artifact_url, sizeof(g->artifact_url), "%.*s", (int)n -
			 (artifact_url[n - 1] == '/'), artifact_url);
	} else {
		snprintf(g->artifact_url, sizeof(g->artifact_url), "file://%s/artifacts", g->out);
	}
	return 0;
}

static int add(char vars[][VAR_MAX], size_t *n, const char *name, const char *value)
{
	if (*n >= VARS_MAX)
		return -E2BIG;
	snprintf(vars[(*n)++], VAR_MAX, "%s=%s", name, value);
	return 0;
}

static int copy_file(const char *src, const char *dst, const char *log, struct lp_diag *d)
{
	const char *argv[] = { "cp", "-f", "--reflink=auto", src, dst, NULL };

	return mx_run_tool(argv, log, NULL, 0, d);
}

struct recipe {
	const char *path, *tpath;
	char *boot_tpl, *test_tpl;
	char test_name[MX_NAME_MAX];   /* the open test action ("" if none) */
	struct mx_buf steps;
	size_t n_tests, n_boots;
	unsigned timeout_min;
};

/* Ends the open test action: its template filled with the steps gathered. */
static int close_test(struct recipe *rc, unsigned line, struct mx_buf *out, struct lp_diag *d)
{
	char ev[4][VAR_MAX];
	const char *evp[4] = { ev[0], ev[1], ev[2], ev[3] };
	int r;

	if (!rc->test_name[0])
		return 0;
	snprintf(ev[0], VAR_MAX, "TEST_MINUTES=%u", rc->timeout_min);
	snprintf(ev[1], VAR_MAX, "TEST_NAME=%s", rc->test_name);
	snprintf(ev[2], VAR_MAX, "DESCRIPTION='loopline %s'", rc->test_name);
	snprintf(ev[3], VAR_MAX, "STEPS=%.*s", (int)(rc->steps.len ? rc->steps.len - 1 : 0),
		 rc->steps.data ? rc->steps.data : "");
	if (rc->steps.len >= VAR_MAX - 16)
		return dset(d, rc->path, line, -E2BIG, "test %s: too many steps", rc->test_name);
	if ((r = mx_lava_fill(rc->test_tpl, rc->tpath, evp, 4, out, d)) < 0)
		return r;
	mx_buf_free(&rc->steps);
	rc->test_name[0] = '\0';
	rc->n_tests++;
	return 0;
}

static int read_template(const char *dir, const char *name, char **ret, struct lp_diag *d)
{
	char path[PATH_MAX + 64];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = lp_fs_read_file(path, MX_LAVA_TEMPLATE_MAX, ret, &len)) < 0)
		return dset(d, path, 0, r, "%s", strerror(-r));
	return 0;
}

/* A recipe into the actions text. */
static int recipe_actions(struct mx_lava_gen *g, const char *tmpl, const char *path,
			  const char *const *vars, size_t n_vars, unsigned timeout_min,
			  struct mx_buf *out, struct lp_diag *d)
{
	struct recipe rc = { .path = path, .tpath = "test.yaml", .timeout_min = timeout_min };
	struct mx_buf raw = { 0 };
	char *text = NULL, boot_name[MX_NAME_MAX + 16];
	unsigned line = 0;
	size_t len;
	int r;

	if ((r = lp_fs_read_file(path, MX_LAVA_RECIPE_MAX, &text, &len)) < 0) {
		r = dset(d, path, 0, r, "%s", strerror(-r));
		goto out;
	}
	snprintf(boot_name, sizeof(boot_name), "%s.boot.yaml", tmpl);
	if ((r = read_template(g->templates, boot_name, &rc.boot_tpl, d)) < 0 ||
	    (r = read_template(g->templates, "test.yaml", &rc.test_tpl, d)) < 0)
		goto out;
	for (char *s = text, *nl; s && *s; s = nl ? nl + 1 : NULL) {
		const char *body;

		line++;
		if ((nl = strchr(s, '\n')))
			*nl = '\0';
		/* {{FROM}}, {{TO}}, {{PKG_…}} in the recipe line */
		mx_buf_free(&raw);
		if ((r = mx_lava_fill(s, path, vars, n_vars, &raw, d)) < 0) {
			lp_diag_set_pos(d, line, 0);
			goto out;
		}
		body = raw.data ? raw.data : "";
		if (!strncmp(body, "#@ ", 3)) {
			const char *arg = body + 3;

			if ((r = close_test(&rc, line, out, d)) < 0)
				goto out;
			if (!strncmp(arg, "boot", 4) && (!arg[4] || arg[4] == ' ')) {
				const char *want = arg[4] ? arg + 5 : "";
				char ev[3][VAR_MAX];
				const char *evp[3] = { ev[0], ev[1], ev[2] };
				struct mx_buf q = { 0 }, pq = { 0 };

				mx_lava_quote(&q, want[0] ? want : "lpfw: version=");
				mx_lava_quote(&pq, "lpfw:/# ");
				snprintf(ev[0], VAR_MAX, "BOOT_MINUTES=%u", rc.n_boots ? 6u : 4u);
				snprintf(ev[1], VAR_MAX, "CONSOLE_LINE=%s", q.data ? q.data : "''");
				snprintf(ev[2], VAR_MAX, "PROMPT=%s", pq.data ? pq.data : "''");
				r = q.err ? q.err : pq.err;
				mx_buf_free(&q);
				mx_buf_free(&pq);
				if (r < 0 || (r = mx_lava_fill(rc.boot_tpl, boot_name, evp, 3, out, d)) < 0)
					goto out;
				rc.n_boots++;
			} else if (!strncmp(arg, "test ", 5)) {
				if (!rc.n_boots) {
					r = dset(d, path, line, -EINVAL, "a test before the first boot");
					goto out;
				}
				if (!mx_name_valid(arg + 5, MX_NAME_VALUE)) {
					r = dset(d, path, line, -EINVAL, "bad test name '%s'", arg + 5);
					goto out;
				}
				snprintf(rc.test_name, sizeof(rc.test_name), "%s", arg + 5);
				mx_buf_puts(&rc.steps, "          - ");
				mx_lava_quote(&rc.steps, wait_helper);
				mx_buf_puts(&rc.steps, "\n");
			} else {
				r = dset(d, path, line, -EINVAL, "unknown directive '%s' (boot, test)", body);
				goto out;
			}
			continue;
		}
		if (body[0] == '#' || body[strspn(body, " \t")] == '\0')
			continue;
		if (!rc.test_name[0]) {
			r = dset(d, path, line, -EINVAL, "a step outside '#@ test NAME'");
			goto out;
		}
		mx_buf_puts(&rc.steps, "          - ");
		mx_lava_quote(&rc.steps, body);
		mx_buf_puts(&rc.steps, "\n");
	}
	if ((r = close_test(&rc, line, out, d)) < 0)
		goto out;
	r = rc.n_tests ? out->err : dset(d, path, line, -EINVAL, "no test action");
out:
	mx_buf_free(&rc.steps);
	mx_buf_free(&raw);
	free(text);
	free(rc.boot_tpl);
	free(rc.test_tpl);
	return r;
}

/* Why case cs does not run on LAVA ("" if it does). */
static void lava_skip(const struct mx_case_spec *cs, const char *recipe, char *skip, size_t len)
{
	if (cs->meta.local_only) {
		snprintf(skip, len, "local-only: %s", cs->meta.local_only_reason);
		return;
	}
	if (access(recipe, R_OK) != 0) {
		snprintf(skip, len, "no LAVA recipe (matrix/scenarios/%s.lava)", cs->scenario);
		return;
	}
	if (strcmp(cs->target, "qemu-x86_64") != 0 && strcmp(cs->target, "qemu-aarch64") != 0) {
		snprintf(skip, len, "target %s: the matrix builds reference firmware for QEMU "
			 "targets only (lava-jobs/uboot.job.yaml needs the board's build)", cs->target);
		return;
	}
	for (size_t k = 0; k < cs->meta.n_pkgs; k++)
		if (cs->meta.pkgs[k].tamper) {
			snprintf(skip, len, "package %s: tampered packages are made by the local "
				 "executor's case setup", cs->meta.pkgs[k].name);
			return;
		}
	skip[0] = '\0';
}

/* The case's images under adir: kernel, initramfs and the from firmware's disk whose
 * data partition holds every package (MX_LAVA_PKG_DIR/NAME.lpkg); the packages'
 * variables (PKG_TO, PKG_NAME) into vars. */
static int gen_images(struct mx_lava_gen *g, const char *adir, const char *scen,
		      const struct mx_case_fw *fw, char vars[][VAR_MAX], size_t *n_vars,
		      struct lp_diag *d)
{
	char data[PATH_MAX * 2], pkgdir[PATH_MAX * 3], path[PATH_MAX * 4], src[PATH_MAX + 32];
	char log[PATH_MAX + 32], mkdisk[PATH_MAX + 32];
	const char *argv[] = { mkdisk, fw->from->build, path, "--data", data, NULL };
	int r;

	snprintf(data, sizeof(data), "%s/%s.data", adir, scen);
	snprintf(pkgdir, sizeof(pkgdir), "%s/pkgs", data);
	snprintf(log, sizeof(log), "%s/lava-jobs.log", g->out);
	if ((r = lp_fs_mkdir_p(pkgdir, 0755)) < 0)
		return dset(d, pkgdir, 0, r, "%s", strerror(-r));
	snprintf(path, sizeof(path), "%s/TO.lpkg", pkgdir);
	if ((r = copy_file(fw->to->lpkg, path, log, d)) < 0)
		return r;
	add(vars, n_vars, "PKG_TO", MX_LAVA_PKG_DIR "/TO.lpkg");
	for (size_t k = 0; k < fw->n_pkgs; k++) {
		char name[MX_NAME_MAX + 8], where[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s.lpkg", pkgdir, fw->pkgs[k].name);
		if ((r = copy_file(fw->pkgs[k].fw->lpkg, path, log, d)) < 0)
			return r;
		snprintf(name, sizeof(name), "PKG_%s", fw->pkgs[k].name);
		snprintf(where, sizeof(where), "%s/%s.lpkg", MX_LAVA_PKG_DIR, fw->pkgs[k].name);
		add(vars, n_vars, name, where);
	}
	for (size_t k = 0; k < 2; k++) {
		const char *file = k ? "initramfs.cpio" : "vmlinuz";

		snprintf(path, sizeof(path), "%s/%s", adir, file);
		snprintf(src, sizeof(src), "%s/%s", fw->from->build, file);
		if ((r = copy_file(src, path, log, d)) < 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s/%s.img", adir, scen);
	snprintf(mkdisk, sizeof(mkdisk), "%s/qemu-images/mkdisk", g->build->tools);
	unlink(path);
	return mx_run_tool(argv, log, NULL, 0, d);
}

/* The job file: the device type's template with the recipe's actions. */
static int gen_job(struct mx_lava_gen *g, const struct mx_combo *c, const struct mx_case_spec *cs,
		   const struct mx_buf *actions, struct mx_lava_job *ret, struct lp_diag *diag)
{
	char (*vars)[VAR_MAX] = calloc(VARS_MAX, sizeof(*vars));
	char url[PATH_MAX * 2], name[MX_KEY_MAX + 128], path[PATH_MAX + 64];
	const char *varp[VARS_MAX];
	struct mx_buf job = { 0 }, q = { 0 };
	char *job_tpl = NULL;
	size_t n_vars = 0, len;
	int r;

	if (!vars)
		return -ENOMEM;
	add(vars, &n_vars, "DEVICE_TYPE", g->device_type[0] ? g->device_type : "qemu");
	snprintf(name, sizeof(name), "loopline %s %s", cs->scenario, c->key);
	mx_lava_quote(&q, name);
	add(vars, &n_vars, "JOB_NAME", q.data ? q.data : "''");
	snprintf(url, sizeof(url), "%u", ret->timeout_min);
	add(vars, &n_vars, "JOB_MINUTES", url);
	snprintf(url, sizeof(url), "%s/%04u/vmlinuz", g->artifact_url, c->index);
	add(vars, &n_vars, "KERNEL_URL", url);
	snprintf(url, sizeof(url), "%s/%04u/initramfs.cpio", g->artifact_url, c->index);
	add(vars, &n_vars, "INITRD_URL", url);
	snprintf(url, sizeof(url), "%s/%04u/%s.img", g->artifact_url, c->index, cs->scenario);
	add(vars, &n_vars, "DISK_URL", url);
	add(vars, &n_vars, "KERNEL_TYPE", "image");
	add(vars, &n_vars, "ACTIONS", actions->data ? actions->data : "");
	if (actions->len && actions->data[actions->len - 1] == '\n')
		vars[n_vars - 1][strlen(vars[n_vars - 1]) - 1] = '\0';
	for (size_t k = 0; k < n_vars; k++)
		varp[k] = vars[k];
	snprintf(path, sizeof(path), "%s/%s.job.yaml", g->templates,
		 !strcmp(cs->target, "qemu-aarch64") ? "qemu-arm64" : "qemu-amd64");
	if ((r = lp_fs_read_file(path, MX_LAVA_TEMPLATE_MAX, &job_tpl, &len)) < 0) {
		r = dset(diag, path, 0, r, "%s", strerror(-r));
		goto out;
	}
	mx_buf_puts(&job, "# generated by loopline-matrix: ");
	mx_buf_puts(&job, c->key);
	mx_buf_puts(&job, " / ");
	mx_buf_puts(&job, cs->scenario);
	mx_buf_puts(&job, "\n");
	if ((r = mx_lava_fill(job_tpl, path, varp, n_vars, &job, diag)) < 0)
		goto out;
	snprintf(ret->path, sizeof(ret->path), "%s/%04u-%s.yaml", g->out, c->index, cs->scenario);
	if ((r = mx_buf_write(&job, ret->path)) < 0) {
		r = dset(diag, ret->path, 0, r, "cannot write: %s", strerror(-r));
		ret->path[0] = '\0';
	}
out:
	mx_buf_free(&job);
	mx_buf_free(&q);
	free(job_tpl);
	free(vars);
	return r;
}

int mx_lava_gen_case(struct mx_lava_gen *g, const struct mx_plan *p, size_t i,
		     struct mx_lava_job *ret, struct lp_diag *diag)
{
	const struct mx_combo *c = &p->combos[p->cases[i].combo];
	char recipe[PATH_MAX + 64], adir[PATH_MAX + 32];
	char (*vars)[VAR_MAX] = NULL;
	const char *varp[VARS_MAX];
	size_t n_vars = 0;
	struct mx_case_spec cs;
	struct mx_case_fw fw;
	struct mx_buf actions = { 0 };
	struct lp_diag d;
	int r;

	memset(ret, 0, sizeof(*ret));
	lp_diag_clear(&d);
	if ((r = mx_case_spec_init(p, i, &cs, &d)) < 0) {
		if (r != -ENOMEM)
			snprintf(ret->error, sizeof(ret->error), "%s:%u: %s", d.file, d.line, d.msg);
		goto out;
	}
	snprintf(recipe, sizeof(recipe), "%s/%s.lava", g->spec->scenario_dir, cs.scenario);
	lava_skip(&cs, recipe, ret->skip, sizeof(ret->skip));
	if (ret->skip[0])
		goto out;
	ret->timeout_min = (unsigned)(cs.timeout_ms / 60000) + 10;
	if (!(vars = calloc(VARS_MAX, sizeof(*vars)))) {
		r = -ENOMEM;
		goto out;
	}
	add(vars, &n_vars, "FROM", cs.from);
	add(vars, &n_vars, "TO", cs.to);
	snprintf(adir, sizeof(adir), "%s/artifacts/%04u", g->out, c->index);
	if ((r = mx_case_fw_build(g->build, &cs, cs.target, &fw, &d)) < 0 ||
	    (r = gen_images(g, adir, cs.scenario, &fw, vars, &n_vars, &d)) < 0) {
		if (r != -ENOMEM)
			snprintf(ret->error, sizeof(ret->error), "build: %s", d.msg);
		goto out;
	}
	for (size_t k = 0; k < n_vars; k++)
		varp[k] = vars[k];
	if ((r = recipe_actions(g, "qemu", recipe, varp, n_vars, ret->timeout_min, &actions, &d)) < 0) {
		if (r != -ENOMEM)
			snprintf(ret->error, sizeof(ret->error), "%s:%u: %s", d.file, d.line, d.msg);
		goto out;
	}
	if ((r = gen_job(g, c, &cs, &actions, ret, diag)) < 0)
		goto out;
	ret->components = cJSON_CreateObject();
	cJSON_AddStringToObject(ret->components, "from", fw.from->hash);
	cJSON_AddStringToObject(ret->components, "to", fw.to->hash);
out:
	mx_case_spec_free(&cs);
	mx_buf_free(&actions);
	free(vars);
	/* the case's own errors are in ret; only ENOMEM and the output's errors fail */
	return r == -ENOMEM || (r < 0 && !ret->error[0] && !ret->skip[0]) ? r : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * What a run needs before its first case: the component builds (agent per architecture,
 * backend) and the firmware packages, each built once per run and cached across runs
 * under OUT/cache (docs/matrix.md, "Running").
 *
 * - A `path:` source that is the tree this loopline-matrix was built from uses this very
 *   build (its agent, backend, ctl, libloopline); other path sources and `git:` refs are
 *   built by matrix/libexec/build-component (Release), keyed by the source's path or by
 *   the commit the ref names. aarch64 agents are cross-built the same way.
 * - Firmware is the reference firmware (qemu-images/firmware, one package per version,
 *   variant, security version, compression and agent), cached by its input hash.
 */
/* Paths and labels here are built from bounded pieces (PATH_MAX directories, MX_NAME_MAX
 * names); a truncated one fails where it is used (a missing file, a tool's error). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/proc.h"
#include "run.h"

#define BUILD_TIMEOUT_MS (60u * 60u * 1000u)

static bool is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Runs argv with its output in log (appended); on failure the log's tail is the message. */
int mx_run_tool(const char *const *argv, const char *log, char *out, size_t out_size,
		struct lp_diag *diag)
{
	struct lp_proc_opts o = { .argv = argv, .out = out ? LP_PROC_OUT_CAPTURE : LP_PROC_OUT_NULL,
				  .err = LP_PROC_ERR_FD, .flags = LP_PROC_KILL_LEFTOVERS };
	struct lp_proc_result res;
	char tail[1024] = "";
	int fd = -1, r;

	if (log) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			return lp_diag_fail(diag, -errno, "%s: %s", log, strerror(errno));
		dprintf(fd, "$");
		for (size_t i = 0; argv[i]; i++)
			dprintf(fd, " %s", argv[i]);
		dprintf(fd, "\n");
		if (!out) {
			o.out = LP_PROC_OUT_FD;
			o.out_fd = fd;
		}
	} else {
		o.err = LP_PROC_ERR_NULL;
	}
	o.err_fd = fd;
	r = lp_proc_run(&o, BUILD_TIMEOUT_MS, NULL, out, out_size, &res);
	if (r == 0 && res.exit_code != 0) {
		if (log) {
			char *text = NULL;
			size_t len = 0;

			if (lp_fs_read_file(log, 1u << 24, &text, &len) == 0 && len) {
				size_t from = len > sizeof(tail) - 1 ? len - (sizeof(tail) - 1) : 0;

				snprintf(tail, sizeof(tail), "%.*s", (int)(len - from), text + from);
			}
			free(text);
		}
		r = lp_diag_fail(diag, -EIO, "%s exited with status %d%s%s%s", argv[0], res.exit_code,
				 log ? " (log: " : "", log ? log : "", log ? ")" : "");
		if (tail[0])
			fprintf(stderr, "%s", tail);
	} else if (r == -ETIMEDOUT) {
		r = lp_diag_fail(diag, r, "%s did not finish within an hour", argv[0]);
	} else if (r < 0) {
		r = lp_diag_fail(diag, r, "%s: %s", argv[0], strerror(-r));
	}
	if (fd >= 0)
		close(fd);
	if (r == 0 && out) {
		size_t n = strlen(out);

		while (n && out[n - 1] == '\n')
			out[--n] = '\0';
	}
	return r;
}

/* The build directory this loopline-matrix belongs to (…/build/debug), from
 * /proc/self/exe: <build>/matrix/loopline-matrix. */
static int own_build_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	for (int i = 0; i < 2; i++) {
		if (!(slash = strrchr(exe, '/')))
			return -ENOENT;
		*slash = '\0';
	}
	return snprintf(buf, len, "%s", exe) >= (int)len ? -ENAMETOOLONG : 0;
}

int mx_build_init(struct mx_build *b, const struct mx_spec *s, const char *out_dir,
		  struct lp_diag *diag)
{
	char own[PATH_MAX], src[PATH_MAX], script[PATH_MAX + 32];
	int r;

	memset(b, 0, sizeof(*b));
	b->spec = s;
	if ((r = own_build_dir(own, sizeof(own))) < 0)
		return lp_diag_fail(diag, r, "cannot tell this program's build directory");
	snprintf(b->own_build, sizeof(b->own_build), "%s", own);
	/* git: sources are refs of the spec's repository; the runner's own tools
	 * (qemu-images/, matrix/libexec/, scripts/make-pki) come from the Loopline tree this
	 * program was built from, wherever the spec lives */
	snprintf(b->repo, sizeof(b->repo), "%s", s->repo_root);
	if (!realpath(LP_SOURCE_DIR, src))
		snprintf(src, sizeof(src), "%s", LP_SOURCE_DIR);
	snprintf(b->own_source, sizeof(b->own_source), "%s", src);
	snprintf(b->tools, sizeof(b->tools), "%s", src);
	snprintf(script, sizeof(script), "%s/matrix/libexec/case-setup", b->tools);
	if (!is_file(script))
		return lp_diag_fail(diag, -ENOENT, "%s missing: this program's Loopline tree is gone", script);
	if (snprintf(b->cache, sizeof(b->cache), "%s/cache", out_dir) >= (int)sizeof(b->cache))
		return lp_diag_fail(diag, -ENAMETOOLONG, "--out path too long");
	if ((r = lp_fs_mkdir_p(b->cache, 0755)) < 0)
		return lp_diag_fail(diag, r, "%s: %s", b->cache, strerror(-r));
	snprintf(b->log, sizeof(b->log), "%s/build.log", b->cache);
	/* fixed arrays: callers keep pointers to entries while later ones are added */
	b->comps = calloc(MX_BUILDS_MAX, sizeof(*b->comps));
	b->fw = calloc(MX_FIRMWARE_MAX, sizeof(*b->fw));
	if (!b->comps || !b->fw)
		return -ENOMEM;
	snprintf(b->pack, sizeof(b->pack), "%s/packager/loopline-pack", own);
	if (!is_file(b->pack))
		return lp_diag_fail(diag, -ENOENT, "%s missing (build the packager)", b->pack);
	return 0;
}

void mx_build_free(struct mx_build *b)
{
	free(b->comps);
	free(b->fw);
	memset(b, 0, sizeof(*b));
}

/* ---- components ---- */

/* The cache directory of a source: per commit, or per source path (CMake rebuilds what
 * changed in it). */
static int cache_dir(const struct mx_build *b, bool git, const char *what, char *dir, size_t len,
		     struct lp_diag *diag)
{
	char sum[128];
	const char *argv[] = { "sh", "-c", "printf %s \"$0\" | sha256sum | cut -c1-16", what, NULL };
	int r;

	if ((r = mx_run_tool(argv, NULL, sum, sizeof(sum), diag)) < 0)
		return r;
	snprintf(dir, len, "%s/components/%s-%s", b->cache, git ? "git" : "path", sum);
	return 0;
}

static const char *arch_of(const char *target)
{
	return strcmp(target, "qemu-aarch64") == 0 ? "aarch64" : "x86_64";
}

int mx_build_component(struct mx_build *b, enum mx_core_axis kind, const char *name,
		       const char *target, const struct mx_built **ret, struct lp_diag *diag)
{
	const struct mx_component *c = mx_spec_component(b->spec, kind, name);
	const char *arch = kind == MX_AXIS_AGENT ? arch_of(target) : "x86_64";
	struct mx_built *e;
	char src[PATH_MAX] = "", dir[PATH_MAX];
	int r;

	if (!c)
		return lp_diag_fail(diag, -ENOENT, "no source for %s version \"%s\"",
				    kind == MX_AXIS_AGENT ? "agent" : "backend", name);
	for (size_t i = 0; i < b->n_comps; i++)
		if (b->comps[i].kind == kind && !strcmp(b->comps[i].name, name) &&
		    !strcmp(b->comps[i].arch, arch)) {
			*ret = &b->comps[i];
			return 0;
		}
	if (b->n_comps == MX_BUILDS_MAX)
		return lp_diag_fail(diag, -E2BIG, "more than %d component builds", MX_BUILDS_MAX);
	e = &b->comps[b->n_comps];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->arch, sizeof(e->arch), "%s", arch);

	switch (c->source.kind) {
	case MX_SOURCE_PREBUILT: {
		const char *bin = strcmp(arch, "aarch64") == 0 ? c->source.prebuilt_aarch64 : c->source.path;

		if (!bin[0])
			return lp_diag_fail(diag, -ENOENT, "%s %s: no prebuilt binary for %s",
					    kind == MX_AXIS_AGENT ? "agent" : "backend", name, arch);
		snprintf(e->bin, sizeof(e->bin), "%s", bin);
		snprintf(e->source, sizeof(e->source), "prebuilt: %s", bin);
		/* a prebuilt agent brings no libloopline: the boot selector is ours */
		snprintf(e->dir, sizeof(e->dir), "%s", b->own_build);
		break;
	}
	case MX_SOURCE_PATH:
		if (!realpath(c->source.path, src))
			return lp_diag_fail(diag, -errno, "%s: %s", c->source.path, strerror(errno));
		snprintf(e->source, sizeof(e->source), "path: %s", src);
		snprintf(e->src, sizeof(e->src), "%s", src);
		break;
	case MX_SOURCE_GIT: {
		const char *argv[] = { "git", "-C", b->repo, "rev-parse", "--verify", "-q", NULL, NULL };
		char ref[300], sha[128];

		snprintf(ref, sizeof(ref), "%s^{commit}", c->source.git);
		argv[6] = ref;
		if ((r = mx_run_tool(argv, NULL, sha, sizeof(sha), diag)) < 0)
			return lp_diag_fail(diag, -ENOENT, "git ref \"%s\" (%s %s) does not name a commit of %s",
					    c->source.git, kind == MX_AXIS_AGENT ? "agent" : "backend",
					    name, b->repo);
		snprintf(e->hash, sizeof(e->hash), "%s", sha);
		snprintf(e->source, sizeof(e->source), "git: %s (%.12s)", c->source.git, sha);
		break;
	}
	}
	if (c->source.kind == MX_SOURCE_PATH && !strcmp(src, b->own_source) && !strcmp(arch, "x86_64")) {
		/* this checkout, as built for this program */
		snprintf(e->dir, sizeof(e->dir), "%s", b->own_build);
	} else if (c->source.kind != MX_SOURCE_PREBUILT) {
		const char *what = c->source.kind == MX_SOURCE_GIT ? e->hash : src;
		const char *argv[] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };
		char script[PATH_MAX];

		if ((r = cache_dir(b, c->source.kind == MX_SOURCE_GIT, what, dir, sizeof(dir), diag)) < 0)
			return r;
		snprintf(script, sizeof(script), "%s/matrix/libexec/build-component", b->tools);
		argv[0] = script;
		argv[1] = c->source.kind == MX_SOURCE_GIT ? "--git" : "--path";
		argv[2] = c->source.kind == MX_SOURCE_GIT ? e->hash : src;
		argv[3] = dir;
		argv[4] = arch;
		argv[5] = c->source.kind == MX_SOURCE_GIT ? b->repo : NULL; /* where the commit is */
		fprintf(stderr, "loopline-matrix: building %s %s for %s (%s)\n",
			kind == MX_AXIS_AGENT ? "agent" : "backend", name, arch, e->source);
		if ((r = mx_run_tool(argv, b->log, e->dir, sizeof(e->dir), diag)) < 0)
			return r;
		if (c->source.kind == MX_SOURCE_GIT)
			snprintf(e->src, sizeof(e->src), "%s/src", dir);
	}
	if (c->source.kind != MX_SOURCE_PREBUILT)
		snprintf(e->bin, sizeof(e->bin), "%s/%s", e->dir,
			 kind == MX_AXIS_AGENT ? "agent/loopline-agent" : "backend/loopline-backend");
	snprintf(e->lib, sizeof(e->lib), "%s/lib/libloopline.a", e->dir);
	if (kind == MX_AXIS_BACKEND)
		snprintf(e->ctl, sizeof(e->ctl), "%s/backend/loopline-ctl", e->dir);
	if (!is_file(e->bin))
		return lp_diag_fail(diag, -ENOENT, "the build of %s %s has no %s", kind == MX_AXIS_AGENT ? "agent" : "backend",
				    name, e->bin);
	if (kind == MX_AXIS_BACKEND && !is_file(e->ctl))
		snprintf(e->ctl, sizeof(e->ctl), "%s/backend/loopline-ctl", b->own_build);
	if (!e->hash[0]) {
		const char *argv[] = { "sh", "-c", "sha256sum \"$0\" | cut -c1-64", e->bin, NULL };

		mx_run_tool(argv, NULL, e->hash, sizeof(e->hash), diag);
	}
	b->n_comps++;
	*ret = e;
	return 0;
}

/* ---- firmware ---- */

/* libloopline.a of this program's own source for arch: this build (x86_64), or its
 * cross build in the cache. */
static int own_lib(struct mx_build *b, const char *arch, char *buf, size_t len,
		   struct lp_diag *diag)
{
	char script[PATH_MAX], dir[PATH_MAX], out[PATH_MAX];
	const char *argv[] = { script, "--path", b->own_source, dir, arch, NULL };
	int r;

	if (!strcmp(arch, "x86_64")) {
		snprintf(buf, len, "%s/lib/libloopline.a", b->own_build);
		return 0;
	}
	snprintf(script, sizeof(script), "%s/matrix/libexec/build-component", b->tools);
	if ((r = cache_dir(b, false, b->own_source, dir, sizeof(dir), diag)) < 0)
		return r;
	if ((r = mx_run_tool(argv, b->log, out, sizeof(out), diag)) < 0)
		return r;
	snprintf(buf, len, "%s/lib/libloopline.a", out);
	return is_file(buf) ? 0 : lp_diag_fail(diag, -ENOENT, "no %s", buf);
}

int mx_build_firmware(struct mx_build *b, const struct mx_fw_want *w, const struct mx_fw **ret,
		      struct lp_diag *diag)
{
	const struct mx_built *agent;
	char lib[PATH_MAX], hostlib[PATH_MAX];
	char out[PATH_MAX], fwscript[PATH_MAX], secver[24], lines[2 * PATH_MAX + 8];
	const char *argv[28];
	struct mx_fw *f;
	size_t n = 0;
	char *nl;
	int r;

	for (size_t i = 0; i < b->n_fw; i++)
		if (!memcmp(&b->fw[i].want, w, sizeof(*w))) {
			*ret = &b->fw[i];
			return 0;
		}
	if ((r = mx_build_component(b, MX_AXIS_AGENT, w->agent, w->target, &agent, diag)) < 0)
		return r;
	/* the boot selector is the reference firmware's, not the agent's: it is built with
	 * this tree's libloopline for the target (and for this machine, for mkdisk) */
	if ((r = own_lib(b, arch_of(w->target), lib, sizeof(lib), diag)) < 0 ||
	    (r = own_lib(b, "x86_64", hostlib, sizeof(hostlib), diag)) < 0)
		return r;
	if (b->n_fw == MX_FIRMWARE_MAX)
		return lp_diag_fail(diag, -E2BIG, "more than %d firmware packages", MX_FIRMWARE_MAX);
	f = &b->fw[b->n_fw];
	memset(f, 0, sizeof(*f));
	f->want = *w;

	snprintf(out, sizeof(out), "%s/firmware", b->cache);
	snprintf(fwscript, sizeof(fwscript), "%s/qemu-images/firmware", b->tools);
	snprintf(secver, sizeof(secver), "%u", w->security_version);
	argv[n++] = fwscript;
	argv[n++] = w->target;
	argv[n++] = "--out";
	argv[n++] = out;
	argv[n++] = "--version";
	argv[n++] = w->version;
	argv[n++] = "--variant";
	argv[n++] = w->variant;
	argv[n++] = "--security-version";
	argv[n++] = secver;
	argv[n++] = "--compression";
	argv[n++] = w->compression;
	if (w->encrypt)
		argv[n++] = "--encrypt";
	argv[n++] = "--pack";
	argv[n++] = b->pack;
	argv[n++] = "--agent";
	argv[n++] = agent->bin;
	argv[n++] = "--lib";
	argv[n++] = lib;
	if (strcmp(w->target, "qemu-x86_64") != 0) {
		argv[n++] = "--host-lib";
		argv[n++] = hostlib;
	}
	if (agent->src[0]) {
		argv[n++] = "--agent-src";
		argv[n++] = agent->src;
	}
	argv[n] = NULL;
	fprintf(stderr, "loopline-matrix: firmware %s %s (%s, agent %s)\n", w->target, w->version,
		w->variant, w->agent);
	if ((r = mx_run_tool(argv, b->log, lines, sizeof(lines), diag)) < 0)
		return r;
	if (!(nl = strchr(lines, '\n')))
		return lp_diag_fail(diag, -EIO, "qemu-images/firmware printed \"%s\", not a package and a build", lines);
	*nl = '\0';
	snprintf(f->lpkg, sizeof(f->lpkg), "%s", lines);
	snprintf(f->build, sizeof(f->build), "%s", nl + 1);
	if (!is_file(f->lpkg))
		return lp_diag_fail(diag, -ENOENT, "qemu-images/firmware made no %s", f->lpkg);
	{
		const char *hargv[] = { "sh", "-c", "sha256sum \"$0\" | cut -c1-64", f->lpkg, NULL };

		mx_run_tool(hargv, NULL, f->hash, sizeof(f->hash), diag);
	}
	b->n_fw++;
	*ret = f;
	return 0;
}

int mx_build_delta(struct mx_build *b, const struct mx_fw *from, const struct mx_fw *to,
		   char *ret, size_t len, struct lp_diag *diag)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16], key[PATH_MAX + 32], aes[PATH_MAX + 32];
	const char *argv[16];
	size_t n = 0;
	int r;

	snprintf(dir, sizeof(dir), "%s/deltas", b->cache);
	if ((r = lp_fs_mkdir_p(dir, 0755)) < 0)
		return lp_diag_fail(diag, r, "%s: %s", dir, strerror(-r));
	if ((size_t)snprintf(ret, len, "%s/%.16s-%.16s.lpkg", dir, from->hash, to->hash) >= len)
		return lp_diag_fail(diag, -ENAMETOOLONG, "%s: path too long", dir);
	if (is_file(ret))
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ret);
	snprintf(key, sizeof(key), "%s/firmware/keys/lab.pem", b->cache);
	snprintf(aes, sizeof(aes), "%s/firmware/keys/lab.aes", b->cache);
	argv[n++] = b->pack;
	argv[n++] = "delta";
	argv[n++] = "--from";
	argv[n++] = from->lpkg;
	argv[n++] = "--to";
	argv[n++] = to->lpkg;
	argv[n++] = "--key";
	argv[n++] = key;
	if (to->want.encrypt) { /* reads the new image with the key, writes it encrypted */
		argv[n++] = "--decrypt-key";
		argv[n++] = aes;
		argv[n++] = "--encrypt-key";
		argv[n++] = aes;
	}
	argv[n++] = "--out";
	argv[n++] = tmp;
	argv[n] = NULL;
	fprintf(stderr, "loopline-matrix: delta %s -> %s (%s)\n", from->want.version, to->want.version,
		to->want.target);
	if ((r = mx_run_tool(argv, b->log, NULL, 0, diag)) < 0)
		return r;
	if (rename(tmp, ret) < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", ret, strerror(errno));
	return 0;
}

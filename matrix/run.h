/* SPDX-License-Identifier: MIT */
/* The matrix runner's parts (run.c, run-build.c, run-case.c, scenario-meta.c). */
#pragma once

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "loopline/diag.h"
#include "matrix.h"

#ifndef LP_SOURCE_DIR
#define LP_SOURCE_DIR "."
#endif

#define MX_BUILDS_MAX 64
#define MX_PACKAGES_MAX 16
#define MX_FIRMWARE_MAX 512

/* ---- run-build.c ---- */

struct mx_built {              /* one component build */
	enum mx_core_axis kind;    /* MX_AXIS_AGENT or MX_AXIS_BACKEND */
	char name[MX_NAME_MAX];
	char arch[16];             /* x86_64, aarch64 */
	char dir[PATH_MAX];        /* the build directory */
	char bin[PATH_MAX];        /* loopline-agent or loopline-backend */
	char lib[PATH_MAX];        /* its libloopline.a */
	char ctl[PATH_MAX];        /* backend: its loopline-ctl */
	char src[PATH_MAX];        /* the source tree ("" for prebuilt) */
	char source[1024];         /* "path: /src", "git: v1 (abc…)", "prebuilt: FILE" */
	char hash[72];             /* commit, or the binary's sha256 */
};

struct mx_fw_want {            /* one firmware package (compared with memcmp: zero it) */
	char target[MX_NAME_MAX];
	char version[MX_NAME_MAX];
	char variant[16];          /* good, bad-health, no-boot, broken */
	unsigned security_version;
	char compression[8];       /* zstd, none */
	char agent[MX_NAME_MAX];   /* a name in components.agent */
	bool encrypt;              /* payload encrypted with the cache's firmware/keys/lab.aes */
};

struct mx_fw {
	struct mx_fw_want want;
	char lpkg[PATH_MAX];
	char build[PATH_MAX];      /* what mkdisk takes (slot image, kernel, selector) */
	char hash[72];             /* the package's sha256 */
};

struct mx_build {
	const struct mx_spec *spec;
	char repo[PATH_MAX];       /* the spec's repository: where git: refs are ("" if none) */
	char tools[PATH_MAX];      /* the Loopline tree of this program: qemu-images/,
				    * matrix/libexec/, scripts/make-pki */
	char own_build[PATH_MAX];  /* this program's build directory */
	char own_source[PATH_MAX]; /* the tree it was built from */
	char cache[PATH_MAX];      /* OUT/cache */
	char log[PATH_MAX];        /* OUT/cache/build.log */
	char pack[PATH_MAX];       /* loopline-pack of this build */
	struct mx_built *comps;
	size_t n_comps;
	struct mx_fw *fw;
	size_t n_fw;
};

int mx_build_init(struct mx_build *b, const struct mx_spec *s, const char *out_dir,
		  struct lp_diag *diag);
void mx_build_free(struct mx_build *b);
/* The build of component version name (agent: for target's architecture). */
int mx_build_component(struct mx_build *b, enum mx_core_axis kind, const char *name,
		       const char *target, const struct mx_built **ret, struct lp_diag *diag);
int mx_build_firmware(struct mx_build *b, const struct mx_fw_want *w, const struct mx_fw **ret,
		      struct lp_diag *diag);
/* Runs argv to its end (an hour at most); stdout captured into out (trailing newlines
 * removed) or, without out, appended to log with stderr. Exit status != 0: -EIO. */
/* A delta package of to from from (loopline-pack delta, signed with the firmware key;
 * encrypted like to), cached by the two packages' hashes; its path into ret. */
int mx_build_delta(struct mx_build *b, const struct mx_fw *from, const struct mx_fw *to,
		   char *ret, size_t len, struct lp_diag *diag);
int mx_run_tool(const char *const *argv, const char *log, char *out, size_t out_size,
		struct lp_diag *diag);

/* ---- scenario-meta.c: the runner's directives in a scenario file ---- */

/* "#@ package NAME [version=V] [variant=X] [security_version=N] [agent=from|to|NAME]
 *  [tamper=payload]" — a package the scenario deploys as {{PKG_NAME}}. Values may use
 *  {{FROM}} and {{TO}}. PKG_TO (the combo's to firmware) is always there.
 * "#@ timeout 15m" — the case's time unless the spec says otherwise.
 * "#@ local-only REASON" — needs the harness outside the device (not for LAVA). */
struct mx_pkg_directive {
	char name[MX_NAME_MAX];
	char version[MX_NAME_MAX];     /* default "{{TO}}" */
	char variant[16];              /* default good */
	unsigned security_version;     /* default 0 */
	char agent[MX_NAME_MAX];       /* "to" (default), "from", or a component name */
	bool tamper;                   /* a payload byte changed after signing: uploaded as an
					* opaque artifact (the backend would refuse it) */
	unsigned line;
};

struct mx_scenario_meta {
	struct mx_pkg_directive pkgs[MX_PACKAGES_MAX];
	size_t n_pkgs;
	uint64_t timeout_ms;           /* 0: none given */
	bool local_only;
	char local_only_reason[256];
	bool delta;                    /* #@ delta: the case needs a delta of TO from FROM */
};

/* Reads the "#@" lines of a scenario file; errors name FILE:LINE. */
int mx_scenario_meta_parse(const char *text, size_t len, const char *name,
			   struct mx_scenario_meta *ret, struct lp_diag *diag);
int mx_scenario_meta_load(const char *path, struct mx_scenario_meta *ret, struct lp_diag *diag);

/* ---- case-plan.c: what a case is made of (every executor's starting point) ---- */

struct mx_case_spec {
	const char *scenario;          /* its name */
	const char *target, *agent, *backend;
	const char *from, *to;         /* versions (or value names) */
	const char *to_agent;          /* the agent in the to firmware ("current" by default) */
	const char *compression;       /* zstd, none */
	const char *to_variant;        /* good, or a seeded regression's variant */
	bool encrypt;                  /* package: {encrypt: true}: offered packages encrypted */
	bool delta;                    /* package: {delta: true}: the backend may offer a delta
					* of TO from FROM (a release of both) */
	cJSON *settings;               /* {vars, agent, package, backend} of the combo's
					* configuration values (owned) */
	char hil[PATH_MAX];            /* the scenario file */
	struct mx_scenario_meta meta;
	uint64_t timeout_ms;           /* the spec's, else the scenario's, else the default */
};

struct mx_case_pkg {               /* a package of "#@ package" */
	char name[MX_NAME_MAX];
	char version[MX_NAME_MAX];
	bool tamper;
	const struct mx_fw *fw;
};

struct mx_case_fw {                /* the firmware a case installs */
	const struct mx_fw *from, *to;
	struct mx_case_pkg pkgs[MX_PACKAGES_MAX];
	size_t n_pkgs;
	char delta[PATH_MAX];          /* a delta package of to from from ("" without delta) */
};

/* Case i of p; a scenario file that cannot be read: its error with FILE:LINE in diag. */
int mx_case_spec_init(const struct mx_plan *p, size_t i, struct mx_case_spec *cs,
		      struct lp_diag *diag);
void mx_case_spec_free(struct mx_case_spec *cs);
/* Builds the case's firmware for target (a board case: the board's firmware target). */
int mx_case_fw_build(struct mx_build *b, const struct mx_case_spec *cs, const char *target,
		     struct mx_case_fw *ret, struct lp_diag *diag);
/* {{FROM}} and {{TO}} in a directive's value. */
void mx_subst_versions(const char *in, const char *from, const char *to, char *out, size_t len);

/* ---- run-snapshot.c: cases that start the same way share one boot ---- */

#define MX_SNAP_KEY_LEN 16
#define MX_SNAP_STATE "state.mig"  /* the saved machine, next to its disk */

struct mx_snap_key_in {
	const char *scenario_path;     /* its first step must be a boot */
	const char *target;
	const char *from_hash;         /* the installed firmware (and so the agent) */
	const cJSON *agent_config;     /* the device's configuration fragment */
	const char *const *vars;       /* the values the first step may use */
	size_t n_vars;
};

/* The key of the snapshot a case can start from ("" when it cannot). -ENOMEM only. */
int mx_snapshot_key(const struct mx_snap_key_in *in, char key[MX_SNAP_KEY_LEN + 1]);

struct mx_snap_case {
	const char *key;               /* "" : boots cold */
	const char *setup_json, *scenario_path, *scenario_name;
	const char *const *vars;
	size_t n_vars;
	uint64_t timeout_ms;
	char *setup_use;               /* out (malloc'd): the setup to restore with */
	char restore[PATH_MAX];        /* out: the state file ("" : boots cold) */
};

struct mx_snap_run {
	const char *run_dir, *libexec;
	unsigned jobs;
	bool keep;
	volatile sig_atomic_t *stop;
	struct mx_snap_case *cases;
	size_t n_cases;
};

/* Makes the snapshots that two or more cases share (RUN/snapshots/KEY) and fills in how
 * those cases restore. A failed snapshot leaves its cases to boot cold. */
int mx_snapshots_make(struct mx_snap_run *sr);
/* Deletes the snapshots' disks and states (not their logs). */
void mx_snapshots_remove(const char *run_dir);

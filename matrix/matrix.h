/* SPDX-License-Identifier: MIT */
/*
 * loopline-matrix internals (not installed). One section per file; the data model first,
 * because every part speaks it:
 *
 *   spec (YAML, spec.c) --expand (expand.c)--> plan: combos × scenarios = cases
 *   plan --run (run.c, sched.c, …)--> results (results.c, SQLite history)
 *   results --> reports (report-*.c), gate (gate.c)
 *
 * A combo is one update path a device in the field can take: target, backend, agent (the
 * agent inside the firmware installed when the combo starts), from (that firmware's
 * version), to (the offered version) and the values of the configuration axes. A case is
 * a combo run through one scenario.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "loopline/diag.h"

#define MX_PROG "loopline-matrix"

/* ---- limits (all in one place) ---- */
#define MX_NAME_MAX 64          /* axis names, axis values, scenario names (+ NUL) */
#define MX_AXES_MAX 16          /* axes of a spec, the five core axes included */
#define MX_VALUES_MAX 64        /* values of one axis */
#define MX_SCENARIOS_MAX 64     /* scenarios named by a spec */
#define MX_MATCHES_MAX 256      /* entries of include, exclude and required (each) */
#define MX_EXTRA_MAX 16         /* extra keys an include entry adds to a combo */
#define MX_VALUE_TEXT_MAX 256   /* an extra key's value */
#define MX_COMBOS_MAX 4096      /* combos after expansion */
#define MX_KEY_MAX 1024         /* a combo's key text */
#define MX_SPEC_FILE_MAX (1024 * 1024)

/* ---- spec.c: the spec file ---- */

/* The core axes, always axes[0..4] of a spec in this order. */
enum mx_core_axis {
	MX_AXIS_TARGET = 0,
	MX_AXIS_BACKEND,
	MX_AXIS_AGENT,
	MX_AXIS_FROM,
	MX_AXIS_TO,
	MX_CORE_AXES,
};

/* Where a component version (a value of the backend or agent axis) comes from. */
enum mx_source_kind {
	MX_SOURCE_PATH = 0, /* a source tree (default: the checkout the spec lives in) */
	MX_SOURCE_GIT,      /* a ref of this repository, built in a temporary worktree */
	MX_SOURCE_PREBUILT, /* binaries made by another pipeline */
};

struct mx_source {
	enum mx_source_kind kind;
	char path[PATH_MAX];         /* PATH: the tree; PREBUILT: the binary (host arch) */
	char git[256];               /* GIT: the ref as written */
	char prebuilt_aarch64[PATH_MAX]; /* PREBUILT agent for aarch64 targets ("" if none) */
};

/* What a value of a configuration axis applies (all optional). */
struct mx_settings {
	cJSON *vars;    /* object: scenario variables {"NAME": "value"} */
	cJSON *agent;   /* object merged into the device's agent config (device.json) */
	cJSON *package; /* object: package build options, e.g. {"compression": "none"} */
	cJSON *backend; /* object merged into the backend's config */
};

enum mx_target_kind {
	MX_TARGET_QEMU = 0, /* qemu-x86_64, qemu-aarch64: reference firmware under QEMU */
	MX_TARGET_BOARD,    /* a board of the rack inventory (spec key "inventory") */
};

struct mx_value {
	char name[MX_NAME_MAX];
	unsigned line, column;       /* where it was written (for messages) */
	/* target axis */
	enum mx_target_kind target_kind;
	char target_type[MX_NAME_MAX]; /* board targets: the board's `target` (e.g. rpi4) */
	/* backend and agent axes */
	struct mx_source source;
	/* from and to axes: a firmware version; optional prebuilt packages */
	char version[MX_NAME_MAX];
	char prebuilt_pkg[PATH_MAX]; /* unused ("" ): prebuilt packages are per target, see
				      * mx_spec_firmware_pkg() */
	char to_agent[MX_NAME_MAX];  /* to: the agent component its firmware carries, always
				      * set: a name in components.agent ("current" unless the
				      * spec says {version: V, agent: A}); mx_spec_component()
				      * gives its source */
	/* configuration axes */
	struct mx_settings settings;
};

/* A component version named in `components:` (or the implicit `current`). */
struct mx_component {
	char name[MX_NAME_MAX];
	struct mx_source source;
	unsigned line, column;       /* 0 for the implicit current */
};

/* firmware: VERSION: {prebuilt: {TARGET: FILE}}, one entry per (version, target). */
struct mx_firmware_pkg {
	char version[MX_NAME_MAX];
	char target[MX_NAME_MAX];
	char path[PATH_MAX];         /* resolved against spec->base_dir */
	unsigned line, column;
};

struct mx_axis {
	char name[MX_NAME_MAX];
	struct mx_value *values;
	size_t n_values;
	unsigned line, column;
};

/* A partial combination: include, exclude and required entries. Keys name axes (or
 * "scenario"); an include entry may add other keys (extra variables). */
struct mx_match_kv {
	char key[MX_NAME_MAX];
	char value[MX_VALUE_TEXT_MAX];
	int axis; /* index into spec->axes, MX_MATCH_SCENARIO, or MX_MATCH_EXTRA */
};
#define MX_MATCH_SCENARIO (-1)
#define MX_MATCH_EXTRA (-2)

struct mx_match {
	struct mx_match_kv *kv;
	size_t n;
	unsigned line, column;
};

struct mx_scenario_ref {
	char name[MX_NAME_MAX];
	uint64_t timeout_ms; /* 0 = the scenario file's own (#@ timeout) or the default */
};

/* from: {in-use: URL, token: …}: the versions devices report today, asked at run time. */
struct mx_in_use {
	bool enabled;
	char url[512];
	char token[512];     /* may be "${ENV}" (expanded when asked) */
	char cacert[PATH_MAX];
	char tag[MX_NAME_MAX];        /* optional filter */
	char compatible[MX_NAME_MAX]; /* optional filter */
	unsigned line, column;        /* of the {in-use: …} mapping */
	size_t n_fixed;               /* from values written in the spec (they come first) */
	bool resolved;                /* the in-use versions were added (mx_spec_resolve_in_use) */
};

struct mx_spec {
	char path[PATH_MAX];
	char name[MX_NAME_MAX];     /* "name:" or the file name without .yaml */
	char sha256[65];            /* of the file's bytes: the same spec is the same hash */
	char base_dir[PATH_MAX];    /* relative paths in the spec are relative to this: the
				     * repository root if the spec is inside one, else the
				     * spec's own directory (absolute) */
	char repo_root[PATH_MAX];   /* nearest directory above the spec with a .git ("" if
				     * none): `current` and the default scenario_dir */
	struct mx_axis axes[MX_AXES_MAX];
	size_t n_axes;              /* >= MX_CORE_AXES */
	struct mx_scenario_ref *scenarios;
	size_t n_scenarios;
	struct mx_match *include, *exclude, *required;
	size_t n_include, n_exclude, n_required; /* n_required 0: every combo is required */
	char inventory[PATH_MAX];   /* rack inventory for board targets ("" if none) */
	char scenario_dir[PATH_MAX];/* where scenario files are (default matrix/scenarios) */
	struct mx_in_use in_use;    /* from: {in-use: …} */
	uint64_t default_timeout_ms;/* per case, when nothing else says (default 10 min) */
	struct mx_component *agents, *backends; /* components.agent / .backend (+ current) */
	size_t n_agents, n_backends;
	struct mx_firmware_pkg *firmware;
	size_t n_firmware;
};

/* Loads and checks a spec: strict YAML (unknown keys, wrong kinds, unknown axis values in
 * include/exclude/required are errors with FILE:LINE:COL). */
int mx_spec_load(const char *path, struct mx_spec **ret_spec, struct lp_diag *diag);
int mx_spec_parse(const char *text, size_t len, const char *name, const char *base_dir,
		  struct mx_spec **ret_spec, struct lp_diag *diag);
void mx_spec_free(struct mx_spec *s);
/* Index of an axis by name, or -1. */
int mx_spec_axis(const struct mx_spec *s, const char *name);
/* Asks the in-use backend for the from versions (GET /api/v1/firmware/in-use) and makes
 * them the from axis's values. No-op without in_use. */
int mx_spec_resolve_in_use(struct mx_spec *s, struct lp_diag *diag);
/* The step after the request: the backend's answer {"items":[{"version":…},…],"total":N}
 * becomes the from axis (the spec's own from values first, then the versions in use in
 * semantic-version order, each once). Errors: a malformed answer, more versions than
 * MX_VALUES_MAX, an empty axis. */
int mx_spec_in_use_apply(struct mx_spec *s, const cJSON *answer, struct lp_diag *diag);
/* "${NAME}" in text replaced by the environment variable NAME (unset: an error). */
int mx_env_expand(const char *text, char *buf, size_t size, struct lp_diag *diag);
/* Index of a value in an axis, or -1. */
int mx_axis_value(const struct mx_axis *a, const char *name);
/* Index of a scenario by name, or -1. */
int mx_spec_scenario(const struct mx_spec *s, const char *name);
/* Names in a spec: values (axis values, versions, components, scenarios, spec names:
 * A-Z a-z 0-9 . _ + -, not starting with . or -) and keys (axis names, extra keys,
 * variables: A-Z a-z 0-9 _ -, not starting with a digit or -); 1..MX_NAME_MAX-1 long. */
enum mx_name_kind { MX_NAME_VALUE, MX_NAME_KEY };
bool mx_name_valid(const char *s, enum mx_name_kind kind);
/* The spec name a file gives when it has no name: ("matrix/default.yaml" -> "default"). */
void mx_spec_default_name(const char *file_name, char name[MX_NAME_MAX]);
/* The source of a component version: axis MX_AXIS_AGENT or MX_AXIS_BACKEND; NULL if the
 * spec names no such version. */
const struct mx_component *mx_spec_component(const struct mx_spec *s, enum mx_core_axis axis,
					     const char *name);
/* The prebuilt package for a firmware version on a target (from `firmware:`), or NULL
 * when it is built as reference firmware. */
const char *mx_spec_firmware_pkg(const struct mx_spec *s, const char *version,
				 const char *target);

/* ---- expand.c: combos and cases ---- */

/* value[a] of a configuration axis that a combo made by an include entry does not name
 * (GitHub Actions' semantics: the combination simply has no such key). Core axes always
 * have a value. Such a combo applies nothing of that axis; its key leaves it out. */
#define MX_VALUE_NONE UINT_MAX

struct mx_combo {
	unsigned index;                 /* position in the expanded plan; mx_plan_filter keeps
					 * it, so it names the same combo in every shard */
	unsigned value[MX_AXES_MAX];    /* per axis: index into spec->axes[a].values (or
					 * MX_VALUE_NONE, configuration axes only) */
	char key[MX_KEY_MAX];           /* "target=qemu-x86_64,backend=current,…" axis order */
	cJSON *extra;                   /* object of the extra keys every case of the combo
					 * has (from include entries), or NULL */
	bool required;                  /* at least one of its cases is required */
	unsigned snapshot_group;        /* combos with the same start (target, agent, from,
					 * configuration) share a number (0, 1, … in plan
					 * order): one boot, many runs */
};

struct mx_case {
	unsigned combo;                 /* index into plan->combos */
	unsigned scenario;              /* index into spec->scenarios */
	cJSON *extra;                   /* all extra keys of this case: the combo's plus those
					 * of include entries naming its scenario; or NULL */
	bool required;                  /* decides the gate (required entries; none: all) */
};

struct mx_plan {
	const struct mx_spec *spec;
	struct mx_combo *combos;
	size_t n_combos;
	struct mx_case *cases;          /* ordered by combo, then scenario */
	size_t n_cases;
};

/* Product of the axes, exclude then include (GitHub Actions' matrix semantics), required
 * marks, every combo × every scenario the excludes leave. */
int mx_plan_expand(const struct mx_spec *s, struct mx_plan **ret_plan, struct lp_diag *diag);
void mx_plan_free(struct mx_plan *p);

/* Filters: --only K=V,… (exact; "scenario" is a key; a key given twice matches either
 * value), --filter EXPR (docs/matrix.md: ==, !=, =~ ERE, &&, ||, !, parentheses) and
 * --shard I/N (the combos the other two leave are dealt round-robin in plan order: the
 * k-th goes to shard k mod N + 1, so each combo with all its cases lands in exactly one
 * shard). Any may be NULL. Syntax errors name the column (diag->column). Keys are checked
 * against the plan by mx_plan_filter: axes, "scenario" and extra keys; others are errors. */
#define MX_FILTER_TEXT_MAX 4096  /* --only and --filter text */
#define MX_FILTER_NODES_MAX 256  /* terms and operators of --filter */
#define MX_SHARDS_MAX 1024
struct mx_filter;
int mx_filter_parse(const char *only, const char *expr, const char *shard,
		    struct mx_filter **ret_filter, struct lp_diag *diag);
void mx_filter_free(struct mx_filter *f);
/* Keeps the cases the filter selects (combos without a case left are dropped). */
int mx_plan_filter(struct mx_plan *p, const struct mx_filter *f, struct lp_diag *diag);
/* The value of a key for a case: an axis name, "scenario", or an extra key; NULL if none. */
const char *mx_case_get(const struct mx_plan *p, const struct mx_case *c, const char *key);

/* ---- results.c: the SQLite history (WAL), crash-safe ---- */

enum mx_status {
	MX_STATUS_PASS = 0,
	MX_STATUS_FAIL,     /* the subject misbehaved (class product) */
	MX_STATUS_ERROR,    /* not tested: the harness or the lab failed (class infra) */
	MX_STATUS_FLAKY,    /* failed, then passed on a retry */
	MX_STATUS_SKIPPED,  /* not run (e.g. Ctrl-C before it started, local-only on LAVA) */
	MX_STATUS_RUNNING,  /* started, no verdict yet (a killed runner leaves these) */
};
const char *mx_status_name(enum mx_status s);
int mx_status_parse(const char *s, enum mx_status *ret);

enum mx_class {
	MX_CLASS_NONE = 0,  /* passed or skipped */
	MX_CLASS_PRODUCT,   /* counts against a release */
	MX_CLASS_INFRA,     /* never counts against a release; retried */
};
const char *mx_class_name(enum mx_class c);

/* One case's outcome (a row of `results`). Text fields are bounded; the runner fills
 * them, the database stores them, reports read them back. */
struct mx_result {
	int64_t id;                    /* set by the database */
	int64_t run_id;
	char combo_key[MX_KEY_MAX];    /* mx_combo.key */
	cJSON *axes;                   /* {"target": "qemu-x86_64", …, extra keys too} */
	cJSON *components;             /* {"agent": "<hash>", "backend": "<hash>",
					*  "from": "<hash>", "to": "<hash>"} content hashes */
	char scenario[MX_NAME_MAX];
	bool required;
	enum mx_status status;
	enum mx_class class;
	unsigned attempts;             /* 1 + retries used */
	int64_t started_ms;            /* wall clock, ms since the epoch */
	int64_t duration_ms;           /* wall time of the final attempt */
	int64_t subject_ms;            /* of it: time inside the guest/subject's own waits
					* (for the harness-overhead figure) */
	char failed_step[512];         /* "update.hil:12: expect lpfw: version=…" ("" if none) */
	char message[2048];            /* why it failed, one paragraph ("" if passed) */
	char console_excerpt[4096];    /* console lines around the failure ("" if none) */
	char log_dir[PATH_MAX];        /* the case's directory (step log, console log, …),
					* relative to the run's directory */
	bool missing;                  /* reports only (never stored): the run expected this
					* case (mx_db_expect) and has no result for it */
};

/* The files the runner writes into a case's log_dir; reports link to them. */
#define MX_STEP_LOG "steps.log"
#define MX_CONSOLE_LOG "console.log"

void mx_result_clear(struct mx_result *r); /* frees the JSON members, zeroes */

struct mx_run_info {
	int64_t id;
	char spec_path[PATH_MAX];
	char spec_name[MX_NAME_MAX];
	char spec_sha256[65];
	int64_t started_ms, finished_ms; /* finished 0 while running */
	char state[16];                  /* "running", "finished", "interrupted" */
	char host[256];
	int pid;
	char options[1024];              /* the command line options that shape the run */
	char dir[PATH_MAX];              /* the run's directory (logs, reports); a relative
					  * path is relative to the directory that holds the
					  * database (the --out directory), so "runs/<id>" keeps
					  * working when the out directory moves; "" at
					  * mx_db_run_begin: "runs/<id>" is recorded */
	int64_t previous_id;             /* the run of the same spec (spec_name) before this one,
					  * 0 if none; set by mx_db_run_begin */
	char proc_start[64];             /* "<boot_id>:<start time in ticks>" of pid, set by
					  * mx_db_run_begin: a reused pid is not taken for the
					  * runner ("" if /proc could not tell) */
};

struct mx_db;
/* Opens (creating, migrating) the history database. Runs left "running" by a process that
 * no longer exists are marked "interrupted" (and their RUNNING results ERROR/infra). */
int mx_db_open(const char *path, struct mx_db **ret_db, struct lp_diag *diag);
void mx_db_close(struct mx_db *db);
int mx_db_run_begin(struct mx_db *db, struct mx_run_info *info); /* sets info->id */
int mx_db_run_end(struct mx_db *db, int64_t run_id, const char *state);
/* Inserts or replaces the result of (run, combo_key, scenario); sets r->id. Durable when
 * it returns (one transaction; WAL). */
int mx_db_result_put(struct mx_db *db, struct mx_result *r);
int mx_db_run_get(struct mx_db *db, int64_t run_id, struct mx_run_info *ret_info);
/* run_id 0 = the newest run. */
int mx_db_run_latest(struct mx_db *db, int64_t *ret_run_id);
/* All results of a run, ordered by combo then scenario (caller frees with
 * mx_results_free). */
int mx_db_results(struct mx_db *db, int64_t run_id, struct mx_result **ret, size_t *ret_n);
/* The results of one combo (and scenario, if not NULL) over the last `limit` runs,
 * newest first. */
int mx_db_history(struct mx_db *db, const char *combo_key, const char *scenario, size_t limit,
		  struct mx_result **ret, size_t *ret_n);
void mx_results_free(struct mx_result *r, size_t n);

/* The last error of a database call (file = the database, msg = what failed and
 * SQLite's message); every mx_db_* function that fails sets it. Never NULL. */
const struct lp_diag *mx_db_diag(const struct mx_db *db);
/* The directory that holds the database (relative run dirs are relative to it). */
const char *mx_db_dir(const struct mx_db *db);

/* One attempt of a case (a row of `attempts`): a flaky or retried case shows what failed
 * first. Stored by the runner after each attempt, before the case's final result. */
struct mx_attempt {
	int64_t run_id;
	char combo_key[MX_KEY_MAX];
	char scenario[MX_NAME_MAX];
	unsigned number;               /* 1, 2, … */
	enum mx_status status;
	enum mx_class class;
	int64_t started_ms, duration_ms;
	char failed_step[512];
	char message[2048];
	char log_dir[PATH_MAX];        /* this attempt's logs, relative to the run's directory */
};
/* Inserts or replaces attempt (run, combo_key, scenario, number). Durable when it
 * returns. */
int mx_db_attempt_put(struct mx_db *db, const struct mx_attempt *a);
/* The attempts of a run (combo_key/scenario NULL: every case), ordered by combo,
 * scenario, number. Caller frees *ret with free(). */
int mx_db_attempts(struct mx_db *db, int64_t run_id, const char *combo_key, const char *scenario,
		   struct mx_attempt **ret, size_t *ret_n);

/* One component version a run used (a row of `components`). */
struct mx_run_component {
	int64_t run_id;
	char kind[MX_NAME_MAX];        /* "agent", "backend", "firmware", … */
	char value[MX_VALUE_TEXT_MAX]; /* the axis value or build it names ("current",
					* "1.1.0/current/qemu-x86_64") */
	char source[1024];             /* "path: /src", "git: v0.9.0 (abc123…)", "prebuilt: …" */
	char hash[72];                 /* content hash, e.g. sha256 hex */
};
/* Inserts or replaces (run, kind, value). */
int mx_db_component_put(struct mx_db *db, const struct mx_run_component *c);
/* Ordered by kind, value. Caller frees *ret with free(). */
int mx_db_components(struct mx_db *db, int64_t run_id, struct mx_run_component **ret, size_t *ret_n);

/* The cases a run is expected to cover, recorded by the runner before the first case
 * starts (the expanded plan before --only/--filter/--shard): the gate counts a required
 * case without a result as "not tested" instead of not knowing it. One transaction. A
 * run without expectations is judged on its results alone. */
struct mx_expected {
	const char *combo_key;
	const char *scenario;
	bool required;
	const cJSON *axes;             /* as in mx_result (may be NULL) */
};
int mx_db_expect(struct mx_db *db, int64_t run_id, const struct mx_expected *cases, size_t n);
/* The expected cases of a run that have no result, as mx_result entries with
 * missing = true and status SKIPPED (caller frees with mx_results_free). */
int mx_db_missing(struct mx_db *db, int64_t run_id, struct mx_result **ret, size_t *ret_n);

/* The last `limit` runs, newest first (caller frees with free()). */
int mx_db_runs(struct mx_db *db, size_t limit, struct mx_run_info **ret, size_t *ret_n);

/* Test hook of the crash-point doctrine (agent/state.c): with LOOPLINE_MATRIX_CRASH_AT
 * set to "POINT" or "POINT:N" the process kills itself with SIGKILL right after that
 * step became durable (the N-th time; points: run-begin, expect, attempt-put,
 * result-put, component-put, run-end, recovered). */
void mx_db_test_point(const char *point);

/* ---- report.c: a run loaded for the reports and the gate ---- */

struct mx_report {
	struct mx_run_info run;
	char run_dir[PATH_MAX];        /* run.dir resolved against the database's directory */
	struct mx_result *results;     /* ordered by combo then scenario; expected cases
					* without a result follow with missing = true */
	size_t n_results;
	struct mx_result *previous;    /* the results of run.previous_id (n 0 if none) */
	size_t n_previous;
	struct mx_attempt *attempts;   /* every attempt of the run */
	size_t n_attempts;
	struct mx_run_component *components;
	size_t n_components;
};
/* run_id 0 = the newest run; -ENOENT if there is none (diag says which). */
int mx_report_load(struct mx_db *db, int64_t run_id, struct mx_report **ret, struct lp_diag *diag);
void mx_report_free(struct mx_report *rep);
/* The result of the same combo and scenario in the previous run, or NULL. */
const struct mx_result *mx_report_previous(const struct mx_report *rep, const struct mx_result *r);
/* The "new" mark: failing (fail/error) now but not before, or flaky now but passed
 * cleanly before. Needs a previous result of the case. */
bool mx_report_is_new(const struct mx_report *rep, const struct mx_result *r);
/* The attempts of one case (a run of rep->attempts), *ret_n 0 if none. */
const struct mx_attempt *mx_report_attempts(const struct mx_report *rep, const struct mx_result *r,
					    size_t *ret_n);

/* Counts by status (index enum mx_status) and by class, of all results and of the
 * required ones; missing cases count as skipped and in `missing`. */
#define MX_STATUS_COUNT (MX_STATUS_RUNNING + 1)
#define MX_CLASS_COUNT (MX_CLASS_INFRA + 1)
struct mx_counts {
	size_t total, required, missing;
	size_t status[MX_STATUS_COUNT];
	size_t required_status[MX_STATUS_COUNT];
	size_t class[MX_CLASS_COUNT];
	int64_t duration_ms;           /* of the run: finished (or the last result) - started */
};
void mx_report_count(const struct mx_report *rep, struct mx_counts *ret);

/* A growing text buffer with a maximum (reports are built in memory, then written
 * atomically). Appends after a failure are no-ops; b->err tells. */
#define MX_REPORT_MAX (64u * 1024 * 1024)
struct mx_buf {
	char *data;
	size_t len, cap;
	int err;                       /* 0, -ENOMEM or -EFBIG (over MX_REPORT_MAX) */
};
void mx_buf_add(struct mx_buf *b, const char *s, size_t n);
void mx_buf_puts(struct mx_buf *b, const char *s);
void mx_buf_printf(struct mx_buf *b, const char *fmt, ...) LP_PRINTF(2, 3);
void mx_buf_free(struct mx_buf *b);
/* Appends text escaped for XML 1.0 and HTML: & < > " ' as entities, characters XML 1.0
 * forbids (control characters such as ESC, U+FFFE) dropped, bytes that are not UTF-8
 * replaced by U+FFFD; attr: also newlines and tabs as references (attribute values). */
void mx_buf_escape(struct mx_buf *b, const char *text, bool attr);
/* Writes the buffer to path atomically (lp_fs_write_atomic), or returns b->err. */
int mx_buf_write(const struct mx_buf *b, const char *path);

/* "1m 05s", "850 ms", "2h 03m" into buf. */
const char *mx_format_duration(int64_t ms, char *buf, size_t len);
/* "2024-05-01 12:00:00 UTC" into buf ("-" for 0). */
const char *mx_format_time(int64_t ms_since_epoch, char *buf, size_t len);

/* ---- gate.c: the release decision ---- */

enum mx_gate_decision {
	MX_GATE_PASS = 0,  /* every required case passed (flaky counts as passed) */
	MX_GATE_FAILED,    /* a required case failed with class product */
	MX_GATE_UNTESTED,  /* none failed, but a required case was not tested */
};
const char *mx_gate_decision_name(enum mx_gate_decision d); /* "pass" "failed" "untested" */
int mx_gate_exit_code(enum mx_gate_decision d); /* 0, LP_EXIT_GATE_FAILED, _UNTESTED */

/* What one case means for the gate (the decision table in gate.c). */
enum mx_verdict {
	MX_VERDICT_PASSED = 0, /* pass */
	MX_VERDICT_FLAKY,      /* passed on a retry: counts as passed, listed */
	MX_VERDICT_FAILED,     /* the subject misbehaved: blocks (exit 30) */
	MX_VERDICT_UNTESTED,   /* infra error, skipped, still running, missing: blocks (31) */
};
enum mx_verdict mx_gate_verdict(const struct mx_result *r);
const char *mx_verdict_name(enum mx_verdict v);

struct mx_gate_item {
	const struct mx_result *result; /* points into the report */
	enum mx_verdict verdict;
	char why[768];                  /* one line a person reads */
};
struct mx_gate {
	enum mx_gate_decision decision;
	size_t n_required, n_passed, n_flaky, n_failed, n_untested;
	struct mx_gate_item *reasons;   /* required cases that block: failed ones first */
	size_t n_reasons;
	struct mx_gate_item *flaky;     /* required cases that passed only on a retry */
	char summary[256];              /* "failed: 2 of 40 required cases failed (product)" */
};
int mx_gate_decide(const struct mx_report *rep, struct mx_gate **ret);
void mx_gate_free(struct mx_gate *g);
/* {decision, run, spec, counts, reasons: [...], flaky: [...]}; NULL on ENOMEM. */
cJSON *mx_gate_json(const struct mx_gate *g, const struct mx_report *rep);

/* ---- report-*.c: the report formats (each appends to out; the caller writes it) ---- */

/* JUnit XML: one testsuite per run, one testcase per combo × scenario. */
int mx_report_junit(const struct mx_report *rep, struct mx_buf *out);
/* One result with every stored field, its verdict and log paths (caller frees). */
cJSON *mx_result_json(const struct mx_result *r);
/* JSON: the run, every result, summary counts, the gate decision (caller frees). */
cJSON *mx_report_json(const struct mx_report *rep);
int mx_report_json_text(const struct mx_report *rep, struct mx_buf *out);
/* HTML: one self-contained page. rows/columns: comma-separated keys (axes or
 * "scenario"), NULL for the defaults (rows: the axes whose values vary; columns:
 * scenario). log_prefix: how the page reaches the run directory ("" when the page is
 * in it, "../runs/7/" …). -EINVAL with diag for an unknown key. */
int mx_report_html(const struct mx_report *rep, const char *rows, const char *columns,
		   const char *log_prefix, struct mx_buf *out, struct lp_diag *diag);
/* Text: a header, one table row per combo with a column per scenario, totals. color:
 * ANSI colours (a terminal); plain ASCII otherwise. width: the line width to fit
 * (0 = 120); scenario names become numbers with a legend when they do not fit. */
int mx_report_text(const struct mx_report *rep, bool color, unsigned width, struct mx_buf *out);

/* ---- main.c: the tool's shared state ---- */

struct mx_cli {
	char out_dir[PATH_MAX]; /* --out DIR (default $LOOPLINE_MATRIX_OUT or ./matrix-out):
				 * history.sqlite and runs/<id>/ live there */
	char db_path[PATH_MAX]; /* out_dir/history.sqlite */
};

struct lp_cli;
/* The commands, one file each (cmd-<name>.c). */
int mx_cmd_check(struct lp_cli *cli, void *ctx);
int mx_cmd_list(struct lp_cli *cli, void *ctx);
int mx_cmd_run(struct lp_cli *cli, void *ctx);
int mx_cmd_show(struct lp_cli *cli, void *ctx);
int mx_cmd_history(struct lp_cli *cli, void *ctx);
int mx_cmd_report(struct lp_cli *cli, void *ctx);
int mx_cmd_gate(struct lp_cli *cli, void *ctx);
int mx_cmd_fault_proxy(struct lp_cli *cli, void *ctx);
int mx_cmd_net(struct lp_cli *cli, void *ctx);
int mx_cmd_lava_jobs(struct lp_cli *cli, void *ctx);

/* ---- netfault.c: the network fault state a combo's proxies obey ----
 *
 * The guest's only path to the backend is QEMU's guestfwd `cmd:`, which runs one
 * `loopline-matrix fault-proxy` per guest connection (netproxy.c). Every proxy of a combo
 * obeys one control file; a scenario step changes it (mx_net_set, or `loopline-matrix net`)
 * and every live proxy reacts within MX_NET_POLL_MS (it stats the file that often).
 *
 * Control file (text, strict; written whole by mx_net_set with lp_fs_write_atomic):
 *
 *	# comment lines and blank lines are allowed
 *	version=1
 *	generation=7
 *	mode=throttle            pass | cut | stall | throttle | drop-after
 *	rate=204800              mode=throttle only (required there): bytes/s
 *	drop_after=1048576       mode=drop-after only (required there): bytes
 *
 * Unknown or repeated keys, a missing key, a key that does not belong to the mode, numbers
 * with signs, leading zeros or out of range are errors with FILE:LINE. A missing file is
 * PASS. A proxy that reads a file it cannot parse keeps the state it had (a new proxy:
 * PASS) and says so on stderr once per bad version of the file.
 *
 * Semantics:
 * - PASS: bytes move as they come.
 * - CUT: every live connection is closed (the guest sees its connection end); a new one
 *   is closed at once without connecting to the backend.
 * - STALL: connections stay open and no byte moves either way; new connections are
 *   accepted (and connected to the backend) and stall too.
 * - THROTTLE: each direction of each connection is limited to `rate` bytes/s by a token
 *   bucket holding at most a tenth of a second's worth (per connection: two connections
 *   get twice the rate).
 * - DROP_AFTER: a budget of the whole combo: `drop_after` server→guest bytes in total over
 *   all connections, counted from the moment the state was set. The connection that uses
 *   the last byte delivers it and closes; from then on the combo behaves as CUT (live
 *   connections close, new ones are refused) until the state changes. The budget is kept
 *   in "FILE.bytes" next to the control file ("GENERATION USED\n", under flock(2)).
 */
#define MX_NET_POLL_MS 50                         /* how often a proxy looks at the file */
#define MX_NET_STATE_MAX 4096                     /* control file size */
#define MX_NET_LINE_MAX 256                       /* a control file or log line */
#define MX_NET_RATE_MAX (1024ull * 1024 * 1024)   /* throttle: at most 1 GiB/s */
#define MX_NET_DROP_MAX (1ull << 50)              /* drop-after: at most 1 PiB */
#define MX_NET_LOG_MAX (16u * 1024 * 1024)        /* a connection log read back */

enum mx_net_mode {
	MX_NET_PASS = 0,
	MX_NET_CUT,
	MX_NET_STALL,
	MX_NET_THROTTLE,
	MX_NET_DROP_AFTER,
	MX_NET_MODES,
};
/* "pass", "cut", "stall", "throttle", "drop-after". */
const char *mx_net_mode_name(enum mx_net_mode m);
int mx_net_mode_parse(const char *s, enum mx_net_mode *ret_mode);

struct mx_net_state {
	enum mx_net_mode mode;
	uint64_t rate_bps;   /* THROTTLE: bytes per second, each direction of a connection */
	uint64_t drop_after; /* DROP_AFTER: server→guest bytes of the whole combo */
	uint64_t generation; /* mx_net_set makes it larger than any before (0: never set) */
};

/* Parses a control file's text (name is used for diag). -EINVAL with diag on any error;
 * *ret_state untouched then. */
int mx_net_parse(const char *text, size_t len, const char *name, struct mx_net_state *ret_state,
		 struct lp_diag *diag);
/* The control file text for s; -ENOSPC if buf is too small, -EINVAL for an invalid s. */
int mx_net_format(const struct mx_net_state *s, char *buf, size_t len);
/* Reads the control file: -ENOENT if there is none (a proxy treats that as PASS),
 * -EINVAL with diag if it does not parse, -EFBIG past MX_NET_STATE_MAX. */
int mx_net_get(const char *path, struct mx_net_state *ret_state, struct lp_diag *diag);
/* Writes the control file atomically with a generation larger than any before (set in
 * state->generation) and resets the drop-after budget to the new generation. A control
 * file that does not parse is replaced. */
int mx_net_set(const char *path, struct mx_net_state *state, struct lp_diag *diag);
/* The drop-after budget used so far under generation (0 if the budget belongs to another
 * generation or there is none). */
int mx_net_budget_used(const char *path, uint64_t generation, uint64_t *ret_used);

/* What a proxy keeps of the control file: the last good state, the file's identity (to
 * notice a change with one stat) and the open budget file. */
struct mx_net_watch;
int mx_net_watch_open(const char *path, struct mx_net_watch **ret_watch);
void mx_net_watch_free(struct mx_net_watch *w);
/* Looks at the control file (one stat when nothing changed) and sets *ret_state to the
 * state to obey. Returns 1 if the state changed since the last call, 0 if not, or
 * -EINVAL with diag when the file changed into something that does not parse (the last
 * good state stays in *ret_state; reported once per version of the file). */
int mx_net_watch_poll(struct mx_net_watch *w, struct mx_net_state *ret_state,
		      struct lp_diag *diag);
/* DROP_AFTER: takes up to want bytes from the combo's budget of the watched state.
 * *ret_granted is what may be passed on; *ret_exhausted is true once the budget is used
 * up (want 0 only asks). -ESTALE if the budget already belongs to a newer state than the
 * watched one (poll again). */
int mx_net_watch_claim(struct mx_net_watch *w, uint64_t want, uint64_t *ret_granted,
		       bool *ret_exhausted);

/* The connection log: one line per connection, appended by the proxy that served it,
 *
 *	start=2025-05-01T12:00:00.123Z pid=4242 ms=5123 up=517 down=1048576 end=dropped
 *	mode=drop-after generation=7
 *
 * (one line) — start (UTC), how long it lasted, bytes delivered each way, how it ended
 * and the mode in force when it ended. Lines starting with '#' are a proxy's messages
 * ("# pid=4242 warning: net.state:4: unknown key 'bogus' (keeping mode=stall)"): under
 * QEMU a proxy's stderr is the guest's connection itself, so the log is where they can
 * be read. */
enum mx_net_end {
	MX_NET_END_SERVER_CLOSED = 0, /* the backend closed (after everything was passed on) */
	MX_NET_END_GUEST_CLOSED,      /* the guest's side went away */
	MX_NET_END_CUT,               /* closed by CUT */
	MX_NET_END_DROPPED,           /* closed by DROP_AFTER (budget used up) */
	MX_NET_END_REFUSED,           /* opened under CUT or a used-up budget: never connected */
	MX_NET_END_CONNECT_FAILED,    /* the backend could not be reached */
	MX_NET_END_TERMINATED,        /* the proxy got SIGTERM/SIGINT */
	MX_NET_END_ERROR,             /* an I/O error */
	MX_NET_ENDS,
};
const char *mx_net_end_name(enum mx_net_end e);

struct mx_net_conn {
	int64_t start_ms;       /* wall clock, ms since the epoch */
	int pid;
	uint64_t ms, up, down;  /* duration; bytes delivered guest→server, server→guest */
	enum mx_net_end end;
	enum mx_net_mode mode;  /* in force when it ended */
	uint64_t generation;
};
/* c's line (with its newline) into buf; -ENOSPC, or -EINVAL for an invalid c. */
int mx_net_log_format(const struct mx_net_conn *c, char *buf, size_t len);
/* Appends c's line to path (O_APPEND, one write). */
int mx_net_log_append(const char *path, const struct mx_net_conn *c);
/* Appends a message line "# pid=PID TEXT" (one line, at most MX_NET_LINE_MAX * 4 bytes;
 * newlines in text become spaces). */
int mx_net_log_note(const char *path, int pid, const char *text);
/* Parses one log line (without its newline). -EINVAL with diag. */
int mx_net_log_parse_line(const char *line, size_t len, struct mx_net_conn *ret_conn,
			  struct lp_diag *diag);

struct mx_net_totals {
	uint64_t connections, up, down;
	uint64_t ends[MX_NET_ENDS]; /* connections per way of ending */
};
/* Sums a connection log (strict: a line that does not parse is an error with FILE:LINE;
 * message lines are skipped). A missing log is -ENOENT. */
int mx_net_log_read(const char *path, struct mx_net_totals *ret_totals, struct lp_diag *diag);

/* ---- netproxy.c: one guest connection relayed through the fault state ---- */

struct mx_net_proxy_opts {
	int guest_in, guest_out; /* the guest's stream (under QEMU: 0 and 1, one socket) */
	const char *host, *port; /* the backend */
	const char *control;     /* the control file (NULL: always PASS) */
	const char *log;         /* the connection log (NULL: none) */
	const volatile int *stop;/* set by a signal handler: end the connection (optional) */
};
/* Relays until either side ends or the state ends the connection; appends the log line.
 * 0 however the connection ended (see ret_conn->end), except -errno when the backend
 * could not be reached or the control file cannot be watched. ret_conn may be NULL. */
int mx_net_proxy_run(const struct mx_net_proxy_opts *o, struct mx_net_conn *ret_conn);

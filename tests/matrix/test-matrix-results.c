/* SPDX-License-Identifier: MIT */
/*
 * matrix/results.c: open and migrate (WAL, user_version, a newer schema refused), a
 * put/get round trip of every field, updates in place, attempts, components, expected
 * and missing cases, history order and limits, previous runs, interrupted-run recovery
 * (dead pid, reused pid, live runner, other host), and the crash-point doctrine: a
 * writer killed with SIGKILL right after each durable step, and at random moments, must
 * leave a database that opens, passes integrity_check and holds every acknowledged write.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "mx-fake.h"

struct fx {
	char dir[64];
	char db[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mx-results-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/out/history.sqlite", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", f->dir);
	free(f);
	return 0;
}

static struct mx_db *open_db(const char *path)
{
	struct lp_diag d;
	struct mx_db *db = NULL;
	int r;

	lp_diag_clear(&d);
	r = mx_db_open(path, &db, &d);
	if (r < 0)
		fail_msg("mx_db_open: %s (%d)", d.msg, r);
	return db;
}

static int64_t begin(struct mx_db *db, const char *spec)
{
	struct mx_run_info ri;

	memset(&ri, 0, sizeof(ri));
	snprintf(ri.spec_name, sizeof(ri.spec_name), "%s", spec);
	snprintf(ri.spec_path, sizeof(ri.spec_path), "/specs/%s.yaml", spec);
	assert_int_equal(mx_db_run_begin(db, &ri), 0);
	assert_true(ri.id > 0);
	return ri.id;
}

/* Direct SQL for what the API does not show (schema version, journal, integrity). */
static void sql_text(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *s = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(s), SQLITE_OK);
}

static void test_open_migrate(void **state)
{
	struct fx *f = *state;
	struct mx_db *db = open_db(f->db);
	struct mx_db *db2;
	struct lp_diag d;
	char v[64];

	mx_db_close(db);
	sql_text(f->db, "PRAGMA user_version", v, sizeof(v));
	assert_string_equal(v, "1");
	sql_text(f->db, "PRAGMA journal_mode", v, sizeof(v));
	assert_string_equal(v, "wal");
	/* opening again is a no-op; two handles at once work (WAL) */
	db = open_db(f->db);
	db2 = open_db(f->db);
	mx_db_close(db2);
	mx_db_close(db);
	/* a newer schema is refused with a message, never downgraded */
	sql_text(f->db, "PRAGMA user_version = 99", v, sizeof(v));
	lp_diag_clear(&d);
	assert_int_equal(mx_db_open(f->db, &db, &d), -EPROTONOSUPPORT);
	assert_non_null(strstr(d.msg, "newer"));
	/* garbage is not a database */
	assert_int_equal(lp_fs_write_atomic(f->db, "not sqlite at all, not at all.....", 34, 0644, 0), 0);
	unlink(f->db); /* the -wal/-shm of the old one would otherwise be replayed */
	{
		char p[160];

		snprintf(p, sizeof(p), "%s-wal", f->db);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", f->db);
		unlink(p);
	}
	assert_int_equal(lp_fs_write_atomic(f->db, "not sqlite at all, not at all, no, really not, never "
					    "not at all....................................................",
					    113, 0644, 0), 0);
	lp_diag_clear(&d);
	assert_int_equal(mx_db_open(f->db, &db, &d), -EBADMSG);
	assert_true(d.msg[0] != '\0');
}

static void fill_every_field(struct mx_result *r, int64_t run)
{
	mxf_result(r, run, "qemu-x86_64", "current", "update");
	r->status = MX_STATUS_FLAKY;
	r->class = MX_CLASS_PRODUCT;
	r->required = true;
	r->attempts = 3;
	r->started_ms = 1714557600123;
	r->duration_ms = 98765;
	r->subject_ms = 87654;
	cJSON_AddStringToObject(r->axes, "auth", "mtls \"quoted\" ünïcødé");
	snprintf(r->failed_step, sizeof(r->failed_step), "update.hil:12: expect lpfw: version=1.1.0");
	memset(r->message, 'm', sizeof(r->message) - 1); /* the longest message */
	r->message[sizeof(r->message) - 1] = '\0';
	snprintf(r->console_excerpt, sizeof(r->console_excerpt), "line 1\nline 2 <&> 'x'\n\ttab");
	snprintf(r->log_dir, sizeof(r->log_dir), "cases/0001-update");
}

static void assert_result_equal(const struct mx_result *a, const struct mx_result *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->run_id, b->run_id);
	assert_string_equal(a->combo_key, b->combo_key);
	assert_true(cJSON_Compare(a->axes, b->axes, true));
	assert_true(cJSON_Compare(a->components, b->components, true));
	assert_string_equal(a->scenario, b->scenario);
	assert_int_equal(a->required, b->required);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->class, b->class);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->started_ms, b->started_ms);
	assert_int_equal(a->duration_ms, b->duration_ms);
	assert_int_equal(a->subject_ms, b->subject_ms);
	assert_string_equal(a->failed_step, b->failed_step);
	assert_string_equal(a->message, b->message);
	assert_string_equal(a->console_excerpt, b->console_excerpt);
	assert_string_equal(a->log_dir, b->log_dir);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct mx_db *db = open_db(f->db);
	struct mx_result r, *v = NULL;
	struct mx_run_info ri;
	size_t n = 0;
	int64_t run = begin(db, "demo"), id;

	fill_every_field(&r, run);
	assert_int_equal(mx_db_result_put(db, &r), 0);
	assert_true(r.id > 0);
	id = r.id;
	assert_int_equal(mx_db_results(db, run, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_false(v[0].missing);
	assert_result_equal(&r, &v[0]);
	mx_results_free(v, n);
	/* a second put of the same case replaces it in place (same id) */
	r.status = MX_STATUS_PASS;
	r.class = MX_CLASS_NONE;
	r.message[0] = '\0';
	cJSON_Delete(r.components);
	r.components = NULL; /* stored as {} */
	assert_int_equal(mx_db_result_put(db, &r), 0);
	assert_int_equal(r.id, id);
	assert_int_equal(mx_db_results(db, run, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].status, MX_STATUS_PASS);
	assert_string_equal(v[0].message, "");
	assert_true(cJSON_IsObject(v[0].components) && !v[0].components->child);
	mx_results_free(v, n);
	/* refused: no such run, empty key, bad status */
	r.run_id = 999;
	assert_int_equal(mx_db_result_put(db, &r), -ENOENT);
	assert_true(mx_db_diag(db)->msg[0] != '\0');
	r.run_id = run;
	r.status = (enum mx_status)42;
	assert_int_equal(mx_db_result_put(db, &r), -EINVAL);
	r.status = MX_STATUS_PASS;
	r.combo_key[0] = '\0';
	assert_int_equal(mx_db_result_put(db, &r), -EINVAL);
	mx_result_clear(&r);
	/* the run itself */
	assert_int_equal(mx_db_run_get(db, run, &ri), 0);
	assert_string_equal(ri.state, "running");
	assert_int_equal(ri.pid, getpid());
	assert_true(ri.proc_start[0] != '\0');
	assert_string_equal(ri.dir, "runs/1");
	assert_int_equal(mx_db_run_end(db, run, "finished"), 0);
	assert_int_equal(mx_db_run_get(db, 0, &ri), 0);
	assert_string_equal(ri.state, "finished");
	assert_true(ri.finished_ms >= ri.started_ms);
	assert_int_equal(mx_db_run_end(db, run, "bogus"), -EINVAL);
	assert_int_equal(mx_db_run_end(db, 77, "finished"), -ENOENT);
	assert_int_equal(mx_db_run_get(db, 77, &ri), -ENOENT);
	mx_db_close(db);
}

static void test_attempts_components_expected(void **state)
{
	struct fx *f = *state;
	struct mx_db *db = open_db(f->db);
	int64_t run = begin(db, "demo");
	struct mx_attempt a, *av = NULL;
	struct mx_run_component c, *cv = NULL;
	struct mx_result r, *v = NULL;
	size_t n = 0;
	const struct mx_expected exp[] = {
		{ "k=1", "update", true, NULL },
		{ "k=1", "resume", true, NULL },
		{ "k=2", "update", false, NULL },
	};

	memset(&a, 0, sizeof(a));
	a.run_id = run;
	snprintf(a.combo_key, sizeof(a.combo_key), "k=1");
	snprintf(a.scenario, sizeof(a.scenario), "update");
	for (unsigned i = 2; i >= 1; i--) { /* stored out of order, read back in order */
		a.number = i;
		a.status = i == 1 ? MX_STATUS_FAIL : MX_STATUS_PASS;
		a.class = i == 1 ? MX_CLASS_PRODUCT : MX_CLASS_NONE;
		a.started_ms = 1000 * i;
		a.duration_ms = 10 * i;
		snprintf(a.failed_step, sizeof(a.failed_step), "%s", i == 1 ? "update.hil:3" : "");
		snprintf(a.message, sizeof(a.message), "attempt %u", i);
		snprintf(a.log_dir, sizeof(a.log_dir), "cases/k1/attempt-%u", i);
		assert_int_equal(mx_db_attempt_put(db, &a), 0);
	}
	a.number = 0;
	assert_int_equal(mx_db_attempt_put(db, &a), -EINVAL);
	assert_int_equal(mx_db_attempts(db, run, "k=1", "update", &av, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(av[0].number, 1);
	assert_int_equal(av[0].status, MX_STATUS_FAIL);
	assert_int_equal(av[0].class, MX_CLASS_PRODUCT);
	assert_string_equal(av[0].failed_step, "update.hil:3");
	assert_string_equal(av[0].log_dir, "cases/k1/attempt-1");
	assert_int_equal(av[0].started_ms, 1000);
	assert_int_equal(av[1].duration_ms, 20);
	free(av);
	assert_int_equal(mx_db_attempts(db, run, NULL, NULL, &av, &n), 0);
	assert_int_equal(n, 2);
	free(av);

	memset(&c, 0, sizeof(c));
	c.run_id = run;
	snprintf(c.kind, sizeof(c.kind), "agent");
	snprintf(c.value, sizeof(c.value), "previous");
	snprintf(c.source, sizeof(c.source), "git: v0.9.0");
	snprintf(c.hash, sizeof(c.hash), "%064d", 1);
	assert_int_equal(mx_db_component_put(db, &c), 0);
	snprintf(c.kind, sizeof(c.kind), "agent");
	snprintf(c.value, sizeof(c.value), "current");
	assert_int_equal(mx_db_component_put(db, &c), 0);
	assert_int_equal(mx_db_components(db, run, &cv, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cv[0].value, "current");
	assert_string_equal(cv[1].source, "git: v0.9.0");
	assert_string_equal(cv[1].hash, c.hash);
	free(cv);

	/* expected cases: results come back in plan order, the missing ones are listed */
	assert_int_equal(mx_db_expect(db, run, exp, LP_ARRAY_SIZE(exp)), 0);
	mxf_result(&r, run, "qemu-x86_64", "current", "resume");
	snprintf(r.combo_key, sizeof(r.combo_key), "k=1");
	assert_int_equal(mx_db_result_put(db, &r), 0);
	snprintf(r.scenario, sizeof(r.scenario), "update");
	assert_int_equal(mx_db_result_put(db, &r), 0);
	snprintf(r.combo_key, sizeof(r.combo_key), "k=0-unplanned");
	assert_int_equal(mx_db_result_put(db, &r), 0);
	mx_result_clear(&r);
	assert_int_equal(mx_db_results(db, run, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].scenario, "update"); /* plan order, not put order */
	assert_string_equal(v[1].scenario, "resume");
	assert_string_equal(v[2].combo_key, "k=0-unplanned");
	mx_results_free(v, n);
	assert_int_equal(mx_db_missing(db, run, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_true(v[0].missing);
	assert_string_equal(v[0].combo_key, "k=2");
	assert_int_equal(v[0].status, MX_STATUS_SKIPPED);
	assert_false(v[0].required);
	mx_results_free(v, n);
	mx_db_close(db);
}

static void test_history(void **state)
{
	struct fx *f = *state;
	struct mx_db *db = open_db(f->db);
	struct mx_result r, *v = NULL;
	struct mx_run_info ri, *runs = NULL;
	int64_t ids[4];
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		ids[i] = begin(db, i == 2 ? "other" : "demo");
		for (int s = 0; s < 2; s++) {
			mxf_result(&r, ids[i], "qemu-x86_64", "current", s ? "update" : "resume");
			r.status = i == 3 && s ? MX_STATUS_FAIL : MX_STATUS_PASS;
			r.class = r.status == MX_STATUS_FAIL ? MX_CLASS_PRODUCT : MX_CLASS_NONE;
			assert_int_equal(mx_db_result_put(db, &r), 0);
			mx_result_clear(&r);
		}
		assert_int_equal(mx_db_run_end(db, ids[i], "finished"), 0);
	}
	mxf_result(&r, 1, "qemu-x86_64", "current", "update");
	/* newest first, every scenario of the last 2 runs */
	assert_int_equal(mx_db_history(db, r.combo_key, NULL, 2, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].run_id, ids[3]);
	assert_string_equal(v[0].scenario, "resume");
	assert_int_equal(v[1].run_id, ids[3]);
	assert_string_equal(v[1].scenario, "update");
	assert_int_equal(v[1].status, MX_STATUS_FAIL);
	assert_int_equal(v[2].run_id, ids[2]);
	mx_results_free(v, n);
	/* one scenario over all runs */
	assert_int_equal(mx_db_history(db, r.combo_key, "update", 10, &v, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 1; i < n; i++)
		assert_true(v[i - 1].run_id > v[i].run_id);
	mx_results_free(v, n);
	assert_int_equal(mx_db_history(db, "no=such", NULL, 10, &v, &n), 0);
	assert_int_equal(n, 0);
	mx_results_free(v, n);
	mx_result_clear(&r);
	/* previous run of the same spec */
	assert_int_equal(mx_db_run_get(db, ids[3], &ri), 0);
	assert_int_equal(ri.previous_id, ids[1]);
	assert_int_equal(mx_db_run_get(db, ids[2], &ri), 0);
	assert_int_equal(ri.previous_id, 0);
	assert_int_equal(mx_db_run_get(db, ids[0], &ri), 0);
	assert_int_equal(ri.previous_id, 0);
	assert_int_equal(mx_db_runs(db, 3, &runs, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(runs[0].id, ids[3]);
	free(runs);
	mx_db_close(db);
}

/* A pid that is certainly not running any more. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return pid;
}

static int64_t begin_as(struct mx_db *db, int pid, const char *host, const char *proc_start)
{
	struct mx_run_info ri;
	struct mx_result r;

	memset(&ri, 0, sizeof(ri));
	snprintf(ri.spec_name, sizeof(ri.spec_name), "demo");
	ri.pid = pid;
	snprintf(ri.host, sizeof(ri.host), "%s", host);
	snprintf(ri.proc_start, sizeof(ri.proc_start), "%s", proc_start);
	assert_int_equal(mx_db_run_begin(db, &ri), 0);
	mxf_result(&r, ri.id, "qemu-x86_64", "current", "update");
	r.status = MX_STATUS_RUNNING;
	assert_int_equal(mx_db_result_put(db, &r), 0);
	snprintf(r.scenario, sizeof(r.scenario), "resume");
	r.status = MX_STATUS_PASS;
	assert_int_equal(mx_db_result_put(db, &r), 0);
	mx_result_clear(&r);
	return ri.id;
}

static void assert_run_state(struct mx_db *db, int64_t id, const char *state)
{
	struct mx_run_info ri;
	struct mx_result *v = NULL;
	size_t n = 0;

	assert_int_equal(mx_db_run_get(db, id, &ri), 0);
	if (strcmp(ri.state, state) != 0)
		fail_msg("run %lld: state %s, expected %s", (long long)id, ri.state, state);
	assert_int_equal(mx_db_results(db, id, &v, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].scenario, "resume") == 0) {
			assert_int_equal(v[i].status, MX_STATUS_PASS); /* finished cases untouched */
		} else if (strcmp(state, "interrupted") == 0) {
			assert_int_equal(v[i].status, MX_STATUS_ERROR);
			assert_int_equal(v[i].class, MX_CLASS_INFRA);
			assert_non_null(strstr(v[i].message, "runner stopped"));
			assert_true(ri.finished_ms > 0);
		} else {
			assert_int_equal(v[i].status, MX_STATUS_RUNNING);
		}
	}
	mx_results_free(v, n);
}

static void test_interrupted_recovery(void **state)
{
	struct fx *f = *state;
	struct mx_db *db = open_db(f->db);
	char host[256];
	int64_t dead, reused, alive, remote;

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	dead = begin_as(db, dead_pid(), "", "");
	reused = begin_as(db, getpid(), "", "not-this-boot:1"); /* our pid, another process */
	alive = begin_as(db, getpid(), "", "");                 /* this process: still running */
	remote = begin_as(db, dead_pid(), "elsewhere.example", "");
	mx_db_close(db);

	db = open_db(f->db);
	assert_run_state(db, dead, "interrupted");
	assert_run_state(db, reused, "interrupted");
	assert_run_state(db, alive, "running");
	assert_run_state(db, remote, "running");
	mx_db_close(db);
}

/* ---- the SIGKILL crash test ---- */

#define WRITER_CASES 60

/* The child: a runner's write pattern; after each durable step it writes an ack line
 * "K <case> <status>" to fd (status "-" for attempts and "run" steps). */
static void writer(const char *path, int fd, int cases)
{
	struct mx_db *db = NULL;
	struct mx_run_info ri;
	struct mx_expected exp[WRITER_CASES];
	char keys[WRITER_CASES][32], line[128];
	int n;

	if (mx_db_open(path, &db, NULL) < 0)
		_exit(3);
	memset(&ri, 0, sizeof(ri));
	snprintf(ri.spec_name, sizeof(ri.spec_name), "crash");
	if (mx_db_run_begin(db, &ri) < 0)
		_exit(4);
	n = snprintf(line, sizeof(line), "R %lld\n", (long long)ri.id);
	if (write(fd, line, (size_t)n) != n)
		_exit(5);
	for (int i = 0; i < cases; i++) {
		snprintf(keys[i], sizeof(keys[i]), "case=%03d", i);
		exp[i] = (struct mx_expected){ keys[i], "update", true, NULL };
	}
	if (mx_db_expect(db, ri.id, exp, (size_t)cases) < 0)
		_exit(6);
	for (int i = 0; i < cases; i++) {
		struct mx_result r;
		struct mx_attempt a;

		mxf_result(&r, ri.id, "qemu-x86_64", "current", "update");
		snprintf(r.combo_key, sizeof(r.combo_key), "%s", keys[i]);
		r.status = MX_STATUS_RUNNING;
		if (mx_db_result_put(db, &r) < 0)
			_exit(7);
		n = snprintf(line, sizeof(line), "K %d running\n", i);
		if (write(fd, line, (size_t)n) != n)
			_exit(5);
		memset(&a, 0, sizeof(a));
		a.run_id = ri.id;
		snprintf(a.combo_key, sizeof(a.combo_key), "%s", keys[i]);
		snprintf(a.scenario, sizeof(a.scenario), "update");
		a.number = 1;
		a.status = i % 3 ? MX_STATUS_PASS : MX_STATUS_FAIL;
		a.class = i % 3 ? MX_CLASS_NONE : MX_CLASS_PRODUCT;
		if (mx_db_attempt_put(db, &a) < 0)
			_exit(8);
		r.status = i % 3 ? MX_STATUS_PASS : MX_STATUS_FAIL;
		r.class = i % 3 ? MX_CLASS_NONE : MX_CLASS_PRODUCT;
		snprintf(r.message, sizeof(r.message), "case %d done", i);
		if (mx_db_result_put(db, &r) < 0)
			_exit(9);
		n = snprintf(line, sizeof(line), "K %d %s\n", i, mx_status_name(r.status));
		if (write(fd, line, (size_t)n) != n)
			_exit(5);
		mx_result_clear(&r);
	}
	if (mx_db_run_end(db, ri.id, "finished") < 0)
		_exit(10);
	if (write(fd, "E\n", 2) != 2)
		_exit(5);
	mx_db_close(db);
	_exit(0);
}

struct acks {
	int64_t run;
	char last[WRITER_CASES][16]; /* the last acknowledged status of each case, "" none */
	bool ended;
};

static void read_acks(int fd, struct acks *ret)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;

	memset(ret, 0, sizeof(*ret));
	assert_int_equal(lp_fs_read_fd(fd, 1 << 20, &text, &len), 0);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		long long id;
		int i;
		char st[16];

		if (sscanf(l, "R %lld", &id) == 1)
			ret->run = id;
		else if (sscanf(l, "K %d %15s", &i, st) == 2 && i >= 0 && i < WRITER_CASES)
			snprintf(ret->last[i], sizeof(ret->last[i]), "%s", st);
		else if (strcmp(l, "E") == 0)
			ret->ended = true;
	}
	free(text);
}

/* After the kill: the database opens, is intact, and holds every acknowledged write. */
static void verify_after_kill(const char *path, const struct acks *ack)
{
	struct mx_db *db = open_db(path);
	struct mx_result *v = NULL;
	struct mx_run_info ri;
	char ok[64];
	size_t n = 0;

	sql_text(path, "PRAGMA integrity_check", ok, sizeof(ok));
	assert_string_equal(ok, "ok");
	if (ack->run == 0) { /* killed before the run was acknowledged */
		mx_db_close(db);
		return;
	}
	assert_int_equal(mx_db_run_get(db, ack->run, &ri), 0);
	/* killed right after run-end committed: finished without the ack */
	if (ack->ended || strcmp(ri.state, "finished") != 0)
		assert_string_equal(ri.state, ack->ended ? "finished" : "interrupted");
	assert_int_equal(mx_db_results(db, ack->run, &v, &n), 0);
	for (int i = 0; i < WRITER_CASES; i++) {
		const struct mx_result *r = NULL;
		char key[32];

		snprintf(key, sizeof(key), "case=%03d", i);
		for (size_t k = 0; k < n; k++)
			if (strcmp(v[k].combo_key, key) == 0)
				r = &v[k];
		if (!ack->last[i][0])
			continue; /* never acknowledged: may or may not be there */
		if (!r)
			fail_msg("case %d was acknowledged (%s) but is lost", i, ack->last[i]);
		if (strcmp(ack->last[i], "running") == 0) {
			/* the final put may have committed without its ack: either is right */
			if (r->status == MX_STATUS_ERROR) {
				assert_int_equal(r->class, MX_CLASS_INFRA);
				assert_non_null(strstr(r->message, "runner stopped"));
			} else {
				assert_true(r->status == MX_STATUS_PASS || r->status == MX_STATUS_FAIL);
			}
		} else {
			assert_string_equal(mx_status_name(r->status), ack->last[i]);
		}
	}
	for (size_t k = 0; k < n; k++)
		assert_int_not_equal(v[k].status, MX_STATUS_RUNNING); /* no half-written run */
	mx_results_free(v, n);
	mx_db_close(db);
}

/* Runs the writer in a child; crash_at (or NULL) for LOOPLINE_MATRIX_CRASH_AT, kill_after_us
 * > 0 to SIGKILL it from here after that long. Returns how the child ended (raw status). */
static int run_writer(const char *path, const char *crash_at, unsigned kill_after_us,
		      struct acks *ret)
{
	int fds[2], st = 0;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (crash_at)
			setenv("LOOPLINE_MATRIX_CRASH_AT", crash_at, 1);
		writer(path, fds[1], WRITER_CASES);
	}
	close(fds[1]);
	if (kill_after_us) {
		usleep(kill_after_us);
		kill(pid, SIGKILL);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	read_acks(fds[0], ret); /* the pipe holds every ack (far below its capacity) */
	close(fds[0]);
	return st;
}

static void test_crash_points(void **state)
{
	static const char *const points[] = {
		"run-begin", "expect", "result-put:1", "attempt-put:1", "result-put:2",
		"result-put:33", "attempt-put:40", "result-put:120", "run-end",
	};
	struct fx *f = *state;

	for (size_t i = 0; i < LP_ARRAY_SIZE(points); i++) {
		struct acks ack;
		char path[160];
		int st;

		snprintf(path, sizeof(path), "%s/point-%zu/history.sqlite", f->dir, i);
		st = run_writer(path, points[i], 0, &ack);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("crash point %s was never reached (status %d)", points[i], st);
		verify_after_kill(path, &ack);
		/* and the history stays usable: a new run goes on */
		st = run_writer(path, NULL, 0, &ack);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		verify_after_kill(path, &ack);
	}
}

static void test_crash_random(void **state)
{
	struct fx *f = *state;
	unsigned seed = (unsigned)lp_clock_mono_us();
	char path[160];
	unsigned span;
	int killed = 0;

	print_message("random kills, seed %u\n", seed);
	srand(seed);
	snprintf(path, sizeof(path), "%s/random/history.sqlite", f->dir);
	/* how long a whole writer takes here (60 cases × 3 commits, each with an fsync):
	 * the kills land anywhere from before the first commit to just after the last */
	{
		struct acks ack;
		uint64_t t0 = lp_clock_mono_us();

		assert_int_equal(run_writer(path, NULL, 0, &ack), 0);
		span = (unsigned)(lp_clock_mono_us() - t0);
		verify_after_kill(path, &ack);
	}
	for (int i = 0; i < 25; i++) {
		struct acks ack;
		unsigned us = 1 + (unsigned)rand() % (span + span / 10 + 1);
		int st = run_writer(path, NULL, us, &ack);

		killed += WIFSIGNALED(st);
		verify_after_kill(path, &ack);
	}
	print_message("%d of 25 writers were killed mid-run\n", killed);
	assert_true(killed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attempts_components_expected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_random, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

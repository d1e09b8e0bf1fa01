/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the rollout engine (backend/rollout.c, backend/store-rollouts.c) on a real
 * SQLite store: the decision table, maintenance windows, the seeded rank, and whole
 * rollouts driven tick by tick — approval gating, exact wave cuts, late joiners, the
 * error threshold pausing in the right wave, resume past accepted failures, done, cancel,
 * and a store reopened mid-rollout continuing where it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend.h"

struct fixture {
	char dir[64];
	struct be_store *s;
	int64_t pkg;
};

static int64_t add_package_as(struct be_store *s, const char *file, int sha, const char *delta_base);

static int64_t add_package(struct be_store *s)
{
	return add_package_as(s, "fw.swu", 7, NULL);
}

/* A package of version 2.0; with delta_base, a delta of it for devices running that. */
static int64_t add_package_as(struct be_store *s, const char *file, int sha, const char *delta_base)
{
	struct be_upload *u = calloc(1, sizeof(*u));
	struct be_package p = { .size = 3 };
	int64_t id = 0;
	int fd;

	assert_non_null(u);
	snprintf(u->filename, sizeof(u->filename), "%s", file);
	snprintf(u->version, sizeof(u->version), "2.0");
	snprintf(u->part, sizeof(u->part), "os");
	u->size = 3;
	u->opaque = true;
	assert_int_equal(be_store_upload_create(s, u), 0);
	assert_int_equal(be_store_upload_open(s, u, O_WRONLY, &fd), 0);
	assert_int_equal(pwrite(fd, "abc", 3, 0), 3);
	close(fd);
	snprintf(p.kind, sizeof(p.kind), "opaque");
	snprintf(p.name, sizeof(p.name), "fw");
	snprintf(p.version, sizeof(p.version), "2.0");
	snprintf(p.part, sizeof(p.part), "os");
	snprintf(p.filename, sizeof(p.filename), "%s", file);
	snprintf(p.sha256, sizeof(p.sha256), "%064d", sha);
	if (delta_base) {
		snprintf(p.delta_base, sizeof(p.delta_base), "%s", delta_base);
		snprintf(p.delta_base_sha256, sizeof(p.delta_base_sha256), "%064d", 1);
	}
	assert_int_equal(be_store_package_add(s, u, &p, &id), 0);
	free(u);
	return id;
}

static void add_device(struct be_store *s, const char *cid, const char *tag)
{
	const char *tags[] = { tag };

	assert_int_equal(be_store_device_create(s, cid, NULL, false, tags, tag ? 1 : 0), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char cid[32];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/lp-backend-rollout.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(be_store_open(f->dir, "t1", true, &f->s), 0);
	f->pkg = add_package(f->s);
	for (int i = 0; i < 200; i++) {
		snprintf(cid, sizeof(cid), "dev%03d", i);
		add_device(f->s, cid, "fleet");
	}
	add_device(f->s, "lab1", "lab");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	be_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void release(struct fixture *f, const char *version, const char *gate, bool approve)
{
	struct be_gate_result g = { .run = 1, .passed = 3 };
	struct be_release rel;

	assert_int_equal(be_store_release_create(f->s, version, &f->pkg, 1, &rel), 0);
	if (!gate)
		return;
	snprintf(g.decision, sizeof(g.decision), "%s", gate);
	snprintf(g.spec_sha256, sizeof(g.spec_sha256), "%064d", 1);
	assert_int_equal(be_store_release_gate(f->s, version, &g, false, &rel), 0);
	if (approve)
		assert_int_equal(be_store_release_approve(f->s, version, "alice", NULL, &rel), 0);
}

static void spec_fleet(struct be_rollout_spec *sp, const char *version)
{
	static const unsigned waves[] = { 1, 10, 50, 100 };

	memset(sp, 0, sizeof(*sp));
	snprintf(sp->release, sizeof(sp->release), "%s", version);
	snprintf(sp->name, sizeof(sp->name), "%s", version);
	snprintf(sp->target.tags[0], BE_TAG_MAX, "fleet");
	sp->target.n_tags = 1;
	memcpy(sp->waves, waves, sizeof(waves));
	sp->n_waves = 4;
	sp->success_pct = 90;
	sp->error_pct = 10;
	sp->seed = 42;
}

static const char *state_of(struct be_store *s, int64_t id, int *ret_wave)
{
	static struct be_rollout ro;

	assert_int_equal(be_store_rollout_get(s, id, &ro), 0);
	if (ret_wave)
		*ret_wave = ro.wave;
	return ro.state;
}

/* Closes the open actions of wave (0-based) members: the first n_fail fail, the rest
 * succeed (n_ok of them; -1 = all). Returns how many were closed. */
struct close_ctx {
	struct be_store *s;
	int64_t ids[256];
	size_t n;
};

static int collect_open(void *ctx, const struct be_rollout_member *mb)
{
	struct close_ctx *c = ctx;

	if (mb->action && strcmp(mb->status, "RUNNING") == 0 && c->n < 256)
		c->ids[c->n++] = mb->action;
	return 0;
}

static int collect_any(void *ctx, const struct be_rollout_member *mb)
{
	struct close_ctx *c = ctx;

	if (mb->action && c->n < 256)
		c->ids[c->n++] = mb->action;
	return 0;
}

static size_t close_wave(struct be_store *s, int64_t id, int wave, size_t n_fail, long n_ok)
{
	struct be_page p = { 0, 1000 };
	struct close_ctx c = { .s = s };
	int64_t total;
	size_t closed = 0;

	assert_int_equal(be_store_rollout_devices(s, id, wave, &p, collect_open, &c, &total), 0);
	for (size_t i = 0; i < c.n; i++) {
		bool fail = i < n_fail;
		const char *msg = fail ? "install failed" : "installed";
		struct be_action_change ch = {
			.entry = { .time = 1, .status = fail ? "ERROR" : "FINISHED",
				   .messages = &msg, .n_messages = 1 },
			.closes = true, .installs = !fail,
			.event = fail ? "action.failed" : "action.finished", .event_message = msg,
		};
		struct be_action a;

		if (!fail && n_ok >= 0 && (long)(i - n_fail) >= n_ok)
			break;
		assert_int_equal(be_store_action_get(s, 0, c.ids[i], &a), 0);
		assert_int_equal(be_store_action_change(s, &a, &ch), 0);
		closed++;
	}
	return closed;
}

static void counts(struct be_store *s, int64_t id, struct be_wave_counts *c)
{
	struct be_rollout ro;

	assert_int_equal(be_store_rollout_get(s, id, &ro), 0);
	assert_int_equal(be_store_rollout_counts(s, &ro, c), 0);
}

static bool has_event(struct be_store *s, const char *type, const char *needle);

static int ignore_deployed(void *ctx, int64_t action, const char *cid)
{
	(void)ctx;
	(void)action;
	(void)cid;
	return 0;
}
#define NULL_CB ignore_deployed

/* ---- pure functions ---- */

static void test_decide(void **state)
{
	struct be_rollout ro = { .wave = 1 };
	struct be_wave_counts c = { .size = 20, .assigned = 20 };
	char why[160];

	(void)state;
	spec_fleet(&ro.spec, "2.0");
	ro.spec.soak_s = 60;
	ro.wave_started = 1000;
	snprintf(ro.state, sizeof(ro.state), "running");
	c.running = 20;
	assert_int_equal(be_rollout_decide(&ro, &c, 2000, why, sizeof(why)), BE_RO_STAY);
	c.failed = 2; /* 10% of 20: the threshold */
	c.running = 18;
	assert_int_equal(be_rollout_decide(&ro, &c, 1001, why, sizeof(why)), BE_RO_PAUSE);
	assert_string_equal(why, "2 of 20 failed, error threshold 10%");
	c.failed = 1; /* 5%: below */
	c.success = 19;
	c.running = 0;
	assert_int_equal(be_rollout_decide(&ro, &c, 1059, NULL, 0), BE_RO_STAY); /* soaking */
	assert_int_equal(be_rollout_decide(&ro, &c, 1060, why, sizeof(why)), BE_RO_ADVANCE);
	c.success = 17; /* 85% < 90% */
	c.running = 2;
	assert_int_equal(be_rollout_decide(&ro, &c, 5000, NULL, 0), BE_RO_STAY);
	/* accepted failures leave the base: 17 of (20 - 3) */
	c.failed = 3;
	c.running = 0;
	ro.errors_acked = 3;
	assert_int_equal(be_rollout_decide(&ro, &c, 5000, NULL, 0), BE_RO_ADVANCE);
	ro.errors_acked = 0;
	/* canceled actions do not count either way */
	c = (struct be_wave_counts){ .size = 20, .canceled = 10, .success = 10 };
	assert_int_equal(be_rollout_decide(&ro, &c, 5000, NULL, 0), BE_RO_ADVANCE);
	/* the last wave: done */
	ro.wave = 3;
	assert_int_equal(be_rollout_decide(&ro, &c, 5000, NULL, 0), BE_RO_DONE);
	/* an empty wave passes at once, soak or not */
	ro.wave = 0;
	c = (struct be_wave_counts){ 0 };
	assert_int_equal(be_rollout_decide(&ro, &c, 1000, NULL, 0), BE_RO_ADVANCE);
	/* only a running rollout moves */
	snprintf(ro.state, sizeof(ro.state), "paused");
	assert_int_equal(be_rollout_decide(&ro, &c, 1000, NULL, 0), BE_RO_STAY);
	/* error threshold 0: any failure pauses */
	snprintf(ro.state, sizeof(ro.state), "running");
	ro.spec.error_pct = 0;
	c = (struct be_wave_counts){ .size = 100, .failed = 1, .success = 99 };
	assert_int_equal(be_rollout_decide(&ro, &c, 5000, NULL, 0), BE_RO_PAUSE);
}

static void test_window(void **state)
{
	struct be_rollout_spec sp = { .has_window = true, .window_start_min = 22 * 60,
				      .window_minutes = 180 }; /* 22:00-01:00 UTC */
	int64_t day = 20000 * 86400LL, edge;

	(void)state;
	assert_false(be_rollout_window(&sp, day + 12 * 3600, &edge));
	assert_int_equal(edge, day + 22 * 3600);
	assert_true(be_rollout_window(&sp, day + 23 * 3600, &edge));
	assert_int_equal(edge, day + 25 * 3600);
	/* after midnight: yesterday's window is still open */
	assert_true(be_rollout_window(&sp, day + 86400 + 1800, &edge));
	assert_int_equal(edge, day + 25 * 3600);
	assert_false(be_rollout_window(&sp, day + 86400 + 3600, &edge));
	assert_int_equal(edge, day + 86400 + 22 * 3600);
	sp.has_window = false;
	assert_true(be_rollout_window(&sp, day, &edge));
}

static void test_rank(void **state)
{
	char cid[16];
	int early = 0;

	(void)state;
	assert_true(be_rollout_rank(1, "dev001") == be_rollout_rank(1, "dev001"));
	assert_true(be_rollout_rank(1, "dev001") != be_rollout_rank(2, "dev001"));
	assert_true(be_rollout_rank(1, "dev001") != be_rollout_rank(1, "dev002"));
	/* not registration order: of the 100 lowest-ranked of 1000, about 10 are among the
	 * first 100 registered (a sorted order would give 100) */
	for (int i = 0; i < 100; i++) {
		int below = 0;

		snprintf(cid, sizeof(cid), "d%04d", i);
		for (int k = 0; k < 1000; k++) {
			char other[16];

			snprintf(other, sizeof(other), "d%04d", k);
			below += be_rollout_rank(7, other) < be_rollout_rank(7, cid);
		}
		early += below < 100;
	}
	assert_in_range(early, 1, 30);
}

/* ---- whole rollouts ---- */

static void test_waits_for_approval(void **state)
{
	struct fixture *f = *state;
	struct be_rollout_spec sp;
	struct be_rollout ro;
	struct be_wave_counts c[BE_WAVES_MAX];
	struct be_release rel;

	release(f, "1.0", "fail", false);
	spec_fleet(&sp, "1.0");
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), -EPERM);
	release(f, "2.0", "pass", false);
	spec_fleet(&sp, "2.0");
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), 0);
	assert_string_equal(ro.state, "waiting-approval");
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), -EBUSY);
	assert_int_equal(be_rollout_tick(f->s, 1000), 0);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].size + c[1].size + c[2].size + c[3].size, 0); /* nothing assigned */
	assert_string_equal(state_of(f->s, ro.id, NULL), "waiting-approval");
	assert_int_equal(be_store_release_approve(f->s, "2.0", "alice", NULL, &rel), 0);
	assert_int_equal(be_rollout_tick(f->s, 1000), 0);
	assert_string_equal(state_of(f->s, ro.id, NULL), "running");
	counts(f->s, ro.id, c);
	/* 200 tagged devices: 1% → 2, 10% → 20 (18 more), 50% → 100, 100% → 200 */
	assert_int_equal(c[0].size, 2);
	assert_int_equal(c[1].size, 18);
	assert_int_equal(c[2].size, 80);
	assert_int_equal(c[3].size, 100);
	assert_int_equal(c[0].assigned, 2);
	assert_int_equal(c[1].assigned, 0);
	assert_int_equal(be_store_release_get(f->s, "2.0", &rel), 0);
	assert_string_equal(rel.state, "rolling-out");
}

static void test_pause_join_resume_done(void **state)
{
	struct fixture *f = *state;
	struct be_wave_counts c[BE_WAVES_MAX];
	struct be_rollout_spec sp;
	struct be_rollout ro;
	struct be_release rel;
	int64_t lab1 = 0;
	int wave = -1;

	release(f, "2.0", "pass", true);
	spec_fleet(&sp, "2.0");
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), 0);
	assert_int_equal(be_rollout_tick(f->s, 1000), 0);
	assert_int_equal(close_wave(f->s, ro.id, 0, 0, -1), 2);
	/* the canary succeeded: wave 2 starts and gets its actions in the same tick */
	assert_int_equal(be_rollout_tick(f->s, 1001), 0);
	assert_string_equal(state_of(f->s, ro.id, &wave), "running");
	assert_int_equal(wave, 1);
	counts(f->s, ro.id, c);
	assert_int_equal(c[1].assigned, 18);
	/* 2 of 18 fail (11% >= 10%): paused in wave 2 */
	assert_int_equal(close_wave(f->s, ro.id, 1, 2, 5), 7);
	assert_int_equal(be_rollout_tick(f->s, 1002), 0);
	assert_string_equal(state_of(f->s, ro.id, &wave), "paused");
	assert_int_equal(wave, 1);
	assert_true(has_event(f->s, "rollout.paused",
			      "rollout 1 (release 2.0) paused in wave 2 of 4: 2 of 18 failed, "
			      "error threshold 10%"));
	assert_int_equal(be_store_release_get(f->s, "2.0", &rel), 0);
	assert_string_equal(rel.state, "paused");
	/* paused: nothing more is handed out; a device tagged now still joins */
	assert_int_equal(be_store_device_id(f->s, "lab1", &lab1), 0);
	assert_int_equal(be_store_device_retag(f->s, lab1, "lab1", (const char *const[]){ "fleet" }, 1), 0);
	assert_int_equal(be_rollout_tick(f->s, 1003), 0);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].size + c[1].size + c[2].size + c[3].size, 201);
	assert_int_equal(c[2].assigned, 0);
	assert_true(has_event(f->s, "rollout.joined", "joined rollout 1 (release 2.0) in wave"));
	/* resume: the 2 failures are accepted; the rest of wave 2 succeeds → wave 3 */
	assert_int_equal(be_store_rollout_control(f->s, ro.id, BE_ROLLOUT_RESUME, "alice", "ok",
						  &ro), 0);
	assert_string_equal(ro.state, "running");
	assert_int_equal(ro.errors_acked, 2);
	close_wave(f->s, ro.id, 1, 0, -1);
	assert_int_equal(be_rollout_tick(f->s, 1004), 0);
	assert_string_equal(state_of(f->s, ro.id, &wave), "running");
	assert_int_equal(wave, 2);
	/* the backend restarts: a new connection continues from the stored state */
	be_store_close(f->s);
	assert_int_equal(be_store_open(f->dir, "t1", false, &f->s), 0);
	close_wave(f->s, ro.id, 2, 0, -1);
	assert_int_equal(be_rollout_tick(f->s, 1005), 0);
	assert_string_equal(state_of(f->s, ro.id, &wave), "running");
	assert_int_equal(wave, 3);
	close_wave(f->s, ro.id, 3, 0, -1);
	assert_int_equal(be_rollout_tick(f->s, 1006), 0);
	assert_string_equal(state_of(f->s, ro.id, NULL), "done");
	assert_int_equal(be_store_release_get(f->s, "2.0", &rel), 0);
	assert_string_equal(rel.state, "done");
	counts(f->s, ro.id, c);
	/* 2 failed; lab1 may still be running if it joined wave 2 after that wave closed */
	assert_int_equal(c[0].failed + c[1].failed + c[2].failed + c[3].failed, 2);
	assert_in_range(c[0].success + c[1].success + c[2].success + c[3].success, 198, 199);
}

static void test_cancel_and_skip(void **state)
{
	struct fixture *f = *state;
	struct be_wave_counts c[BE_WAVES_MAX];
	struct be_attribute version = { "version", "3.0" };
	struct be_rollout_spec sp;
	struct be_rollout ro;
	struct be_release rel;
	struct close_ctx cc = { .s = f->s };
	struct be_page p = { 0, 1000 };
	struct be_action a;
	int64_t dev = 0, total = 0;

	/* a device that reports the release's version already is skipped (a success) */
	assert_int_equal(be_store_device_id(f->s, "dev000", &dev), 0);
	assert_int_equal(be_store_device_set_attributes(f->s, dev, BE_ATTR_MERGE, &version, 1, 10), 0);
	release(f, "3.0", "pass", true);
	spec_fleet(&sp, "3.0");
	sp.waves[0] = 100;
	sp.n_waves = 1;
	snprintf(sp.target.attrs[0].key, BE_TEXT_MAX, "version");
	snprintf(sp.target.attrs[0].pattern, BE_TEXT_MAX, "*");
	sp.target.n_attrs = 1;
	sp.target.n_tags = 0;
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), 0);
	assert_int_equal(be_rollout_tick(f->s, 1000), 0);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].size, 1); /* only dev000 reports a version */
	assert_int_equal(c[0].skipped, 1);
	assert_string_equal(state_of(f->s, ro.id, NULL), "done");
	/* cancel: the open actions are asked to cancel, the release is cancelled */
	release(f, "4.0", "pass", true);
	spec_fleet(&sp, "4.0");
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), 0);
	assert_int_equal(be_rollout_tick(f->s, 1000), 0);
	assert_int_equal(be_store_rollout_control(f->s, ro.id, BE_ROLLOUT_CANCEL, "bob", "bad idea",
						  &ro), 0);
	assert_string_equal(ro.state, "cancelled");
	assert_int_equal(be_store_rollout_control(f->s, ro.id, BE_ROLLOUT_CANCEL, "bob", NULL, &ro),
			 -EALREADY);
	assert_int_equal(be_store_release_get(f->s, "4.0", &rel), 0);
	assert_string_equal(rel.state, "cancelled");
	assert_int_equal(be_store_rollout_devices(f->s, ro.id, 0, &p, collect_any, &cc, &total), 0);
	assert_int_equal(cc.n, 2);
	assert_int_equal(be_store_action_get(f->s, 0, cc.ids[0], &a), 0);
	assert_string_equal(a.status, "CANCELING");
	assert_true(has_event(f->s, "rollout.cancelled", "cancelled by bob: bad idea"));
}

/* A daily window: nothing is handed out outside it; inside, actions carry its end; an
 * action the window closed on (canceled) is handed out again in the next window. */
static void test_window_assign(void **state)
{
	struct fixture *f = *state;
	struct be_wave_counts c[BE_WAVES_MAX];
	struct close_ctx cc = { .s = f->s };
	struct be_page p = { 0, 1000 };
	struct be_rollout_spec sp;
	struct be_rollout ro;
	struct be_action a, b;
	int64_t day = 20000 * 86400LL, total = 0;
	const char *msg = "maintenance window lapsed";
	struct be_action_change lapse = {
		.entry = { .time = 1, .status = "CANCELED", .messages = &msg, .n_messages = 1 },
		.closes = true,
	};

	release(f, "2.0", "pass", true);
	spec_fleet(&sp, "2.0");
	sp.has_window = true;
	sp.window_start_min = 120; /* 02:00-03:00 UTC */
	sp.window_minutes = 60;
	assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), 0);
	assert_int_equal(be_rollout_tick(f->s, day + 3600), 0);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].size, 2);
	assert_int_equal(c[0].assigned, 0); /* 01:00: outside the window */
	assert_int_equal(be_rollout_tick(f->s, day + 2 * 3600 + 600), 0);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].assigned, 2);
	assert_int_equal(be_store_rollout_devices(f->s, ro.id, 0, &p, collect_any, &cc, &total), 0);
	assert_int_equal(be_store_action_get(f->s, 0, cc.ids[0], &a), 0);
	assert_true(a.maint);
	assert_int_equal(a.maint_start, day + 2 * 3600 + 600);
	assert_int_equal(a.maint_end, day + 3 * 3600);
	/* the window closes before the device started: the backend cancels the action */
	assert_int_equal(be_store_action_change(f->s, &a, &lapse), 0);
	assert_int_equal(be_rollout_tick(f->s, day + 4 * 3600), 0);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].canceled, 1);
	/* the next day's window: a new action for that device */
	assert_int_equal(be_rollout_tick(f->s, day + 86400 + 2 * 3600 + 60), 0);
	cc.n = 0;
	assert_int_equal(be_store_rollout_devices(f->s, ro.id, 0, &p, collect_any, &cc, &total), 0);
	assert_int_equal(cc.n, 2);
	assert_true(cc.ids[0] != a.id && cc.ids[1] != a.id);
	assert_int_equal(be_store_action_get(f->s, 0, cc.ids[0], &b), 0);
	assert_int_equal(b.maint_end, day + 86400 + 3 * 3600);
	counts(f->s, ro.id, c);
	assert_int_equal(c[0].canceled, 0);
}

/* The backend offers a delta of the release for the version a device runs, the full
 * package otherwise, and the full package after the delta failed on that device. */
static void test_delta_offer(void **state)
{
	struct fixture *f = *state;
	int64_t pkgs[2], dev[3], offered = 0;
	struct be_attribute v10 = { "version", "1.0" }, v09 = { "version", "0.9" };
	const char *msg = "base mismatch";
	struct be_action_change fail = {
		.entry = { .time = 1, .status = "ERROR", .messages = &msg, .n_messages = 1 },
		.closes = true, .event = "action.failed", .event_message = msg,
	};
	struct be_deployment dep = { .type = "forced", .max_targets = 10, .n_devices = 1 };
	char missing[BE_ID_MAX];
	struct be_release rel;
	struct be_action a;
	const char *cids[] = { "dev000", "dev001", "dev002" };

	pkgs[0] = f->pkg;
	pkgs[1] = add_package_as(f->s, "fw-from-1.0.lpkg", 8, "1.0");
	assert_int_equal(be_store_release_create(f->s, "2.0", pkgs, 2, &rel), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(be_store_device_id(f->s, cids[i], &dev[i]), 0);
	assert_int_equal(be_store_device_set_attributes(f->s, dev[0], BE_ATTR_MERGE, &v10, 1, 10), 0);
	assert_int_equal(be_store_device_set_attributes(f->s, dev[1], BE_ATTR_MERGE, &v09, 1, 10), 0);
	dep.package = f->pkg;
	dep.devices = cids;
	dep.n_devices = 3;
	assert_int_equal(be_store_deploy(f->s, &dep, NULL_CB, NULL, missing), 0);
	/* 1.0: the delta; 0.9 and unknown: the full package */
	assert_int_equal(be_store_action_open(f->s, dev[0], &a), 0);
	assert_int_equal(be_store_action_offer(f->s, &a, &offered), 0);
	assert_int_equal(offered, pkgs[1]);
	assert_int_equal(be_store_package_visible(f->s, dev[0], pkgs[1]), 1);
	assert_int_equal(be_store_package_visible(f->s, dev[1], pkgs[1]), 0);
	assert_int_equal(be_store_action_open(f->s, dev[1], &a), 0);
	assert_int_equal(be_store_action_offer(f->s, &a, &offered), 0);
	assert_int_equal(offered, f->pkg);
	assert_int_equal(be_store_action_open(f->s, dev[2], &a), 0);
	assert_int_equal(be_store_action_offer(f->s, &a, &offered), 0);
	assert_int_equal(offered, f->pkg);
	/* the delta fails on dev000: its next action gets the full package */
	assert_int_equal(be_store_action_open(f->s, dev[0], &a), 0);
	assert_int_equal(a.offered, pkgs[1]);
	assert_int_equal(be_store_action_change(f->s, &a, &fail), 0);
	dep.n_devices = 1;
	assert_int_equal(be_store_deploy(f->s, &dep, NULL_CB, NULL, missing), 0);
	assert_int_equal(be_store_action_open(f->s, dev[0], &a), 0);
	assert_int_equal(a.offered, 0);
	assert_int_equal(be_store_action_offer(f->s, &a, &offered), 0);
	assert_int_equal(offered, f->pkg);
	/* a rollout of the release assigns the full package, never the delta */
	{
		struct be_gate_result g = { .run = 1, .passed = 1 };
		struct be_rollout_spec sp;
		struct be_rollout ro;

		snprintf(g.decision, sizeof(g.decision), "pass");
		snprintf(g.spec_sha256, sizeof(g.spec_sha256), "%064d", 1);
		assert_int_equal(be_store_release_gate(f->s, "2.0", &g, true, &rel), 0);
		spec_fleet(&sp, "2.0");
		sp.waves[0] = 100;
		sp.n_waves = 1;
		assert_int_equal(be_store_rollout_create(f->s, &sp, "alice", &ro), 0);
		assert_int_equal(be_rollout_tick(f->s, 1000), 0);
		assert_int_equal(be_store_action_open(f->s, dev[1], &a), 0);
		assert_int_equal(a.package, f->pkg);
		assert_int_equal(be_store_action_open(f->s, dev[0], &a), 0);
		assert_int_equal(a.package, f->pkg);
		/* dev000's delta failed before: the full package again */
		assert_int_equal(be_store_action_offer(f->s, &a, &offered), 0);
		assert_int_equal(offered, f->pkg);
	}
}

struct ev_find {
	const char *needle;
	bool found;
};

static int ev_cb(void *ctx, const struct be_event *e)
{
	struct ev_find *f = ctx;

	f->found = f->found || strstr(e->message, f->needle) != NULL;
	return 0;
}

static bool has_event(struct be_store *s, const char *type, const char *needle)
{
	struct ev_find f = { needle, false };
	struct be_page p = { 0, 1000 };
	int64_t total;

	assert_int_equal(be_store_events_list(s, 0, type, &p, ev_cb, &f, &total), 0);
	return f.found;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_rank),
		cmocka_unit_test_setup_teardown(test_waits_for_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_join_resume_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_skip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_assign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_offer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * Releases (docs/rollouts.md): a version and its packages, the matrix gate's result for
 * it and who approved it. States: built → gate-passed → approved → rolling-out → done |
 * paused | cancelled; this file moves a release up to approved, the rollouts take it on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

static const char SQL_REL_ADD[] =
	"INSERT INTO releases(version, state, created, updated) VALUES(?, 'built', ?, ?)";
static const char SQL_REL_PKG_ADD[] =
	"INSERT OR IGNORE INTO release_packages(release_id, package_id)"
	" SELECT ?1, id FROM packages WHERE id = ?2";
static const char SQL_REL_GET[] =
	"SELECT id, version, state, created, updated, gate_decision, gate_run, gate_summary,"
	" gate_spec_sha256, gate_report, gate_passed, gate_failed, gate_time, approved_by,"
	" approved_time, override_reason FROM releases WHERE version = ?";
static const char SQL_REL_PKGS[] =
	"SELECT package_id FROM release_packages WHERE release_id = ? ORDER BY package_id";
static const char SQL_REL_COUNT[] = "SELECT count(*) FROM releases";
static const char SQL_REL_LIST[] =
	"SELECT version FROM releases ORDER BY id DESC LIMIT ? OFFSET ?";
static const char SQL_REL_GATE[] =
	"UPDATE releases SET gate_decision = ?2, gate_run = ?3, gate_summary = ?4,"
	" gate_spec_sha256 = ?5, gate_report = ?6, gate_passed = ?7, gate_failed = ?8,"
	" gate_time = ?9, updated = ?9, state = ?10 WHERE id = ?1";
static const char SQL_REL_APPROVE[] =
	"UPDATE releases SET state = 'approved', approved_by = ?2, approved_time = ?3,"
	" override_reason = ?4, updated = ?3 WHERE id = ?1";

static int read_packages(struct be_store *s, struct be_release *rel)
{
	struct sq q;
	int r;

	rel->n_packages = 0;
	sq_prepare(&q, s, SQL_REL_PKGS);
	sq_bind_int(&q, 1, rel->id);
	while ((r = sq_step(&q)) > 0 && rel->n_packages < BE_RELEASE_PACKAGES_MAX)
		rel->packages[rel->n_packages++] = sq_int(&q, 0);
	return sq_finish(&q);
}

int be_store_release_get(struct be_store *s, const char *version, struct be_release *ret)
{
	struct sq q;
	int r;

	memset(ret, 0, sizeof(*ret));
	sq_prepare(&q, s, SQL_REL_GET);
	sq_bind_text(&q, 1, version);
	if ((r = sq_step(&q)) > 0) {
		ret->id = sq_int(&q, 0);
		sq_copy(&q, 1, ret->version, sizeof(ret->version));
		sq_copy(&q, 2, ret->state, sizeof(ret->state));
		ret->created = sq_int(&q, 3);
		ret->updated = sq_int(&q, 4);
		ret->has_gate = !sq_null(&q, 5);
		if (ret->has_gate) {
			sq_copy(&q, 5, ret->gate.decision, sizeof(ret->gate.decision));
			ret->gate.run = sq_int(&q, 6);
			sq_copy(&q, 7, ret->gate.summary, sizeof(ret->gate.summary));
			sq_copy(&q, 8, ret->gate.spec_sha256, sizeof(ret->gate.spec_sha256));
			sq_copy(&q, 9, ret->gate.report, sizeof(ret->gate.report));
			ret->gate.passed = sq_int(&q, 10);
			ret->gate.failed = sq_int(&q, 11);
			ret->gate_time = sq_int(&q, 12);
		}
		if (!sq_null(&q, 13))
			sq_copy(&q, 13, ret->approved_by, sizeof(ret->approved_by));
		ret->approved_time = sq_null(&q, 14) ? 0 : sq_int(&q, 14);
		if (!sq_null(&q, 15))
			sq_copy(&q, 15, ret->override_reason, sizeof(ret->override_reason));
	}
	if (sq_finish(&q) < 0)
		return q.rc;
	if (r <= 0)
		return -ENOENT;
	return read_packages(s, ret);
}

int be_store_release_create(struct be_store *s, const char *version, const int64_t *packages,
			    size_t n_packages, struct be_release *ret)
{
	struct be_release cur;
	struct sq q;
	int64_t now = be_now(), id;
	char msg[BE_TEXT_MAX + 64];
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_release_get(s, version, &cur)) != -ENOENT)
		return store_end(s, r == 0 ? -EEXIST : r);
	sq_prepare(&q, s, SQL_REL_ADD);
	sq_bind_text(&q, 1, version);
	sq_bind_int(&q, 2, now);
	sq_bind_int(&q, 3, now);
	if ((r = sq_exec(&q)) < 0)
		return store_end(s, r);
	id = store_last_rowid(s);
	for (size_t i = 0; i < n_packages && r == 0; i++) {
		sq_prepare(&q, s, SQL_REL_PKG_ADD);
		sq_bind_int(&q, 1, id);
		sq_bind_int(&q, 2, packages[i]);
		if ((r = sq_exec(&q)) == 0 && store_changes(s) == 0)
			r = -ENOENT; /* no such package (a repeated id is refused by the parser) */
	}
	snprintf(msg, sizeof(msg), "release %s created with %zu package(s)", version, n_packages);
	if (r == 0)
		r = be_store_event(s, "release.created", NULL, 0, msg);
	if (r == 0)
		r = be_store_release_get(s, version, ret);
	return store_end(s, r);
}

struct rel_cb {
	int (*cb)(void *ctx, const struct be_release *rel);
	void *ctx;
	struct be_store *s;
};

static int list_row(struct sq *q, void *ctx)
{
	struct rel_cb *c = ctx;
	struct be_release rel;
	int r = be_store_release_get(c->s, sq_text(q, 0), &rel);

	return r < 0 ? r : c->cb(c->ctx, &rel);
}

int be_store_releases_list(struct be_store *s, const struct be_page *p,
			   int (*cb)(void *ctx, const struct be_release *rel), void *ctx,
			   int64_t *ret_total)
{
	struct rel_cb c = { cb, ctx, s };

	return store_list(s, SQL_REL_COUNT, SQL_REL_LIST, NULL, NULL, 0, p, list_row, &c, ret_total);
}

static bool approved_or_later(const char *state)
{
	return strcmp(state, "built") != 0 && strcmp(state, "gate-passed") != 0;
}

/* Opens the transaction of a change that is only possible before approval and reads the
 * release; on error the transaction is ended already. -EALREADY: approved or later. */
static int begin_unapproved(struct be_store *s, const char *version, struct be_release *cur)
{
	int r = be_store_begin(s);

	if (r < 0)
		return r;
	if ((r = be_store_release_get(s, version, cur)) == 0 && approved_or_later(cur->state))
		r = -EALREADY;
	return r < 0 ? store_end(s, r) : 0;
}

int be_store_release_gate(struct be_store *s, const char *version, const struct be_gate_result *g,
			  bool auto_approve, struct be_release *ret)
{
	struct be_release cur;
	bool pass = strcmp(g->decision, "pass") == 0;
	const char *state = pass ? (auto_approve ? "approved" : "gate-passed") : "built";
	struct sq q;
	int64_t now = be_now();
	char msg[BE_REASON_MAX + BE_TEXT_MAX + 64];
	int r = begin_unapproved(s, version, &cur);

	if (r < 0)
		return r;
	sq_prepare(&q, s, SQL_REL_GATE);
	sq_bind_int(&q, 1, cur.id);
	sq_bind_text(&q, 2, g->decision);
	sq_bind_int(&q, 3, g->run);
	sq_bind_text(&q, 4, g->summary);
	sq_bind_text(&q, 5, g->spec_sha256);
	sq_bind_text(&q, 6, g->report);
	sq_bind_int(&q, 7, g->passed);
	sq_bind_int(&q, 8, g->failed);
	sq_bind_int(&q, 9, now);
	sq_bind_text(&q, 10, state);
	r = sq_exec(&q);
	snprintf(msg, sizeof(msg), "release %s: gate %s (run %lld): %s", version, g->decision,
		 (long long)g->run, g->summary);
	if (r == 0)
		r = be_store_event(s, pass ? "release.gate_passed" : "release.gate_failed", NULL, 0, msg);
	if (r == 0 && pass && auto_approve) {
		sq_prepare(&q, s, SQL_REL_APPROVE);
		sq_bind_int(&q, 1, cur.id);
		sq_bind_text(&q, 2, "auto");
		sq_bind_int(&q, 3, now);
		sq_bind_text(&q, 4, NULL);
		if ((r = sq_exec(&q)) == 0)
			r = be_store_event(s, "release.approved", NULL, 0, "approved: tenant approval auto");
	}
	if (r == 0)
		r = be_store_release_get(s, version, ret);
	return store_end(s, r);
}

int be_store_release_approve(struct be_store *s, const char *version, const char *who,
			     const char *override_reason, struct be_release *ret)
{
	struct be_release cur;
	struct sq q;
	char msg[BE_REASON_MAX + 2 * BE_TEXT_MAX + 64];
	bool override = override_reason && override_reason[0];
	int r = begin_unapproved(s, version, &cur);

	if (r < 0)
		return r;
	if (strcmp(cur.state, "gate-passed") != 0 && !override)
		return store_end(s, -EPERM);
	sq_prepare(&q, s, SQL_REL_APPROVE);
	sq_bind_int(&q, 1, cur.id);
	sq_bind_text(&q, 2, who);
	sq_bind_int(&q, 3, be_now());
	sq_bind_text(&q, 4, strcmp(cur.state, "gate-passed") == 0 ? NULL : override_reason);
	r = sq_exec(&q);
	snprintf(msg, sizeof(msg), "release %s approved by %s%s%s", version, who,
		 strcmp(cur.state, "gate-passed") ? ", overriding the gate: " : "",
		 strcmp(cur.state, "gate-passed") ? override_reason : "");
	if (r == 0)
		r = be_store_event(s, "release.approved", NULL, 0, msg);
	if (r == 0)
		r = be_store_release_get(s, version, ret);
	return store_end(s, r);
}

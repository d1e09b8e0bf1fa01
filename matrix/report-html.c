/* SPDX-License-Identifier: MIT */
/*
 * The HTML report: ONE self-contained page (inline CSS, no script, no external resource;
 * it works offline and from a CI artifact store). From the top:
 *
 *   - the verdict: the gate decision in a coloured box with its one-line summary, the
 *     spec, run id, start time, duration, state and counts per status;
 *   - what blocks the gate (failed first, then not tested), each linking to its details;
 *   - the legend: a colour AND a word and symbol per status, so the page reads without
 *     colour (printouts, colour blindness);
 *   - the grid: rows and columns are chosen from the axes (rows default to the axes whose
 *     values vary, columns to the scenario); each cell shows the status, NEW when it is
 *     newly failing or newly flaky against the previous run of the same spec, retries,
 *     the duration and links to the case's step log and console log (relative links
 *     into the run directory); required cases carry a ★ and a dark frame;
 *   - details of every case that did not simply pass: failing step, message, console
 *     excerpt, attempts;
 *   - the component versions (kind, value, source, content hash).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix.h"

#define HTML_KEYS_MAX 8

struct status_look {
	const char *cls, *word, *symbol;
};

static const struct status_look looks[MX_STATUS_COUNT] = {
	[MX_STATUS_PASS] = { "pass", "PASS", "\xe2\x9c\x93" },     /* ✓ */
	[MX_STATUS_FAIL] = { "fail", "FAIL", "\xe2\x9c\x97" },     /* ✗ */
	[MX_STATUS_ERROR] = { "error", "ERROR", "!" },
	[MX_STATUS_FLAKY] = { "flaky", "FLAKY", "~" },
	[MX_STATUS_SKIPPED] = { "skipped", "SKIPPED", "\xe2\x80\x93" }, /* – */
	[MX_STATUS_RUNNING] = { "running", "RUNNING", "\xe2\x80\xa6" }, /* … */
};
static const struct status_look missing_look = { "missing", "NOT RUN", "\xe2\x80\x93" };

static const struct status_look *look(const struct mx_result *r)
{
	if (r->missing)
		return &missing_look;
	return (unsigned)r->status < MX_STATUS_COUNT ? &looks[r->status] : &looks[MX_STATUS_ERROR];
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
	"margin:0;padding:20px 28px;color:#1d1d1f;background:#fafafa}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px}"
	".meta{color:#555;margin:2px 0}"
	".top{display:flex;gap:24px;align-items:flex-start;justify-content:space-between;flex-wrap:wrap}"
	".top>div:first-child{flex:1 1 560px}"
	".verdict{border-radius:8px;padding:12px 18px;flex:0 0 440px;color:#fff}"
	".verdict b{display:block;font-size:26px;letter-spacing:.5px}"
	".v-pass{background:#1e7d32}.v-failed{background:#c62828}.v-untested{background:#6a5a86}"
	".counts{display:flex;gap:8px;flex-wrap:wrap;margin-top:10px}"
	".chip{border-radius:14px;padding:3px 11px;font-weight:600;border:1px solid rgba(0,0,0,.15)}"
	".pass{background:#2e9e44;color:#fff}.fail{background:#d32f2f;color:#fff}"
	".error{background:#7e6c99;color:#fff}.flaky{background:#ffb300;color:#1d1d1f}"
	".skipped{background:#e2e2e2;color:#555}.running{background:#90caf9;color:#0d2b45}"
	".missing{background:repeating-linear-gradient(45deg,#ececec,#ececec 6px,#dadada 6px,"
	"#dadada 12px);color:#555}"
	"table{border-collapse:separate;border-spacing:3px}"
	".grid th{background:#ececec;padding:6px 10px;text-align:left;font-weight:600;"
	"white-space:nowrap}"
	".grid thead th{background:#37474f;color:#fff;text-align:center}"
	".grid thead th.axis{text-align:left}"
	".grid td.c{padding:5px 8px;min-width:112px;border-radius:4px;vertical-align:top;"
	"border:2px solid transparent}"
	".grid td.req{border-color:#1d1d1f}"
	".grid td.none{background:#fff;border:1px dashed #ccc;color:#aaa;text-align:center}"
	".st{font-weight:700;font-size:14px}.st a{color:inherit;text-decoration:none}"
	".sub{font-size:12px;opacity:.92}"
	".c a.log{color:inherit;font-size:12px;margin-right:6px}"
	".new{display:inline-block;background:#1d1d1f;color:#ffeb3b;font-size:11px;font-weight:700;"
	"border-radius:3px;padding:0 4px;margin-left:4px;vertical-align:1px}"
	".star{color:#b8860b}"
	".entry+.entry{border-top:1px solid rgba(0,0,0,.2);margin-top:4px;padding-top:4px}"
	".legend{display:flex;gap:6px;flex-wrap:wrap;align-items:center;margin:8px 0}"
	".legend span{padding:2px 9px;border-radius:4px;font-size:13px}"
	".reasons{padding-left:20px}.reasons li{margin:3px 0}"
	".detail{background:#fff;border:1px solid #ddd;border-left:6px solid #999;border-radius:4px;"
	"padding:8px 12px;margin:8px 0}"
	".detail.d-fail{border-left-color:#d32f2f}.detail.d-error{border-left-color:#7e6c99}"
	".detail.d-flaky{border-left-color:#ffb300}.detail.d-running{border-left-color:#90caf9}"
	"pre{background:#263238;color:#eceff1;padding:8px 10px;border-radius:4px;overflow:auto;"
	"max-height:320px;font-size:12px;margin:6px 0}"
	".comp td,.comp th{padding:3px 10px;text-align:left;border-bottom:1px solid #ddd}"
	"code{font-size:12px}.muted{color:#777}";

/* ---- keys: axes, "scenario" and "combo" ---- */

struct keys {
	const char *name[HTML_KEYS_MAX];
	size_t n;
};

static const char *value_of(const struct mx_result *r, const char *key)
{
	const cJSON *v;

	if (strcmp(key, "scenario") == 0)
		return r->scenario;
	if (strcmp(key, "combo") == 0)
		return r->combo_key;
	v = cJSON_GetObjectItemCaseSensitive(r->axes, key);
	return cJSON_IsString(v) ? v->valuestring : "-";
}

static bool key_known(const struct mx_report *rep, const char *key)
{
	if (strcmp(key, "scenario") == 0 || strcmp(key, "combo") == 0)
		return true;
	for (size_t i = 0; i < rep->n_results; i++)
		if (cJSON_GetObjectItemCaseSensitive(rep->results[i].axes, key))
			return true;
	return false;
}

/* The axis names in the order of the first result that has axes. */
static void axis_names(const struct mx_report *rep, struct keys *ret)
{
	ret->n = 0;
	for (size_t i = 0; i < rep->n_results; i++) {
		const cJSON *a;

		if (!cJSON_IsObject(rep->results[i].axes) || !rep->results[i].axes->child)
			continue;
		cJSON_ArrayForEach(a, rep->results[i].axes)
			if (ret->n < HTML_KEYS_MAX && a->string)
				ret->name[ret->n++] = a->string;
		return;
	}
}

static bool varies(const struct mx_report *rep, const char *key)
{
	for (size_t i = 1; i < rep->n_results; i++)
		if (strcmp(value_of(&rep->results[i], key), value_of(&rep->results[0], key)) != 0)
			return true;
	return false;
}

/* Parses "a,b" into keys (names point into storage). */
static int parse_keys(const struct mx_report *rep, const char *text, const char *what,
		      char *storage, size_t len, struct keys *ret, struct lp_diag *diag)
{
	char *p, *next;

	if (snprintf(storage, len, "%s", text) >= (int)len)
		return lp_diag_fail(diag, -EINVAL, "--%s: too long", what);
	ret->n = 0;
	for (p = storage; p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		if (!*p)
			continue;
		if (ret->n == HTML_KEYS_MAX)
			return lp_diag_fail(diag, -EINVAL, "--%s: more than %d keys", what, HTML_KEYS_MAX);
		if (!key_known(rep, p))
			return lp_diag_fail(diag, -EINVAL,
					    "--%s: unknown key \"%s\" (use an axis name, scenario or combo)",
					    what, p);
		ret->name[ret->n++] = p;
	}
	if (ret->n == 0)
		return lp_diag_fail(diag, -EINVAL, "--%s: no key given", what);
	return 0;
}

static bool in_keys(const struct keys *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->name[i], name) == 0)
			return true;
	return false;
}

static void default_rows(const struct mx_report *rep, const struct keys *cols, struct keys *rows)
{
	struct keys axes;

	axis_names(rep, &axes);
	rows->n = 0;
	for (size_t i = 0; i < axes.n; i++)
		if (!in_keys(cols, axes.name[i]) && varies(rep, axes.name[i]))
			rows->name[rows->n++] = axes.name[i];
	if (rows->n == 0)
		rows->name[rows->n++] = axes.n && !in_keys(cols, axes.name[0]) ? axes.name[0] : "combo";
}

/* ---- grid layout: each result's row and column ---- */

struct grid {
	struct keys rows, cols, rest;  /* rest: varying keys in neither (shown in the cell) */
	size_t *row_of, *col_of;       /* per result */
	size_t *first_in_row;          /* per row: a result of it (for the row labels) */
	size_t *first_in_col;
	size_t n_rows, n_cols;
	size_t *order;                 /* result indices sorted by (row, col, index) */
};

static void grid_free(struct grid *g)
{
	free(g->row_of);
	free(g->col_of);
	free(g->first_in_row);
	free(g->first_in_col);
	free(g->order);
}

static bool same_values(const struct mx_result *a, const struct mx_result *b, const struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(value_of(a, k->name[i]), value_of(b, k->name[i])) != 0)
			return false;
	return true;
}

/* Index of the tuple of r's values among those seen (first[] holds one result each). */
static size_t tuple_index(const struct mx_report *rep, size_t ri, const struct keys *k,
			  size_t *first, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (same_values(&rep->results[first[i]], &rep->results[ri], k))
			return i;
	first[*n] = ri;
	return (*n)++;
}

static int cmp_cell(const void *a, const void *b, void *ctx)
{
	const struct grid *sort_grid = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (sort_grid->row_of[x] != sort_grid->row_of[y])
		return sort_grid->row_of[x] < sort_grid->row_of[y] ? -1 : 1;
	if (sort_grid->col_of[x] != sort_grid->col_of[y])
		return sort_grid->col_of[x] < sort_grid->col_of[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int grid_build(const struct mx_report *rep, struct grid *g)
{
	size_t n = rep->n_results ? rep->n_results : 1;
	struct keys axes;

	g->row_of = calloc(n, sizeof(size_t));
	g->col_of = calloc(n, sizeof(size_t));
	g->first_in_row = calloc(n, sizeof(size_t));
	g->first_in_col = calloc(n, sizeof(size_t));
	g->order = calloc(n, sizeof(size_t));
	if (!g->row_of || !g->col_of || !g->first_in_row || !g->first_in_col || !g->order)
		return -ENOMEM;
	for (size_t i = 0; i < rep->n_results; i++) {
		g->row_of[i] = tuple_index(rep, i, &g->rows, g->first_in_row, &g->n_rows);
		g->col_of[i] = tuple_index(rep, i, &g->cols, g->first_in_col, &g->n_cols);
		g->order[i] = i;
	}
	qsort_r(g->order, rep->n_results, sizeof(size_t), cmp_cell, g);
	axis_names(rep, &axes);
	if (!in_keys(&g->rows, "scenario") && !in_keys(&g->cols, "scenario"))
		axes.name[axes.n < HTML_KEYS_MAX ? axes.n++ : HTML_KEYS_MAX - 1] = "scenario";
	g->rest.n = 0;
	for (size_t i = 0; i < axes.n; i++)
		if (!in_keys(&g->rows, axes.name[i]) && !in_keys(&g->cols, axes.name[i]) &&
		    !in_keys(&g->rows, "combo") && !in_keys(&g->cols, "combo") &&
		    varies(rep, axes.name[i]))
			g->rest.name[g->rest.n++] = axes.name[i];
	return 0;
}

/* ---- pieces of the page ---- */

static void esc(struct mx_buf *b, const char *s)
{
	mx_buf_escape(b, s, false);
}

/* A relative URL: bytes outside a safe set are percent-encoded. */
static void href_path(struct mx_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/=,+:@", *p))
			mx_buf_add(b, (const char *)p, 1);
		else
			mx_buf_printf(b, "%%%02X", *p);
	}
}

static void log_link(struct mx_buf *b, const char *prefix, const struct mx_result *r,
		     const char *file, const char *label)
{
	mx_buf_puts(b, "<a class=\"log\" href=\"");
	href_path(b, prefix);
	href_path(b, r->log_dir);
	mx_buf_puts(b, "/");
	href_path(b, file);
	mx_buf_printf(b, "\">%s</a>", label);
}

static void cell_entry(struct mx_buf *b, const struct mx_report *rep, const struct grid *g,
		       size_t ri, const char *prefix)
{
	const struct mx_result *r = &rep->results[ri];
	const struct status_look *l = look(r);
	char dur[32];

	mx_buf_puts(b, "<div class=\"entry\">");
	if (g->rest.n) {
		mx_buf_puts(b, "<div class=\"sub\">");
		for (size_t k = 0; k < g->rest.n; k++) {
			mx_buf_puts(b, k ? " \xc2\xb7 " : "");
			esc(b, value_of(r, g->rest.name[k]));
		}
		mx_buf_puts(b, "</div>");
	}
	mx_buf_puts(b, "<span class=\"st\">");
	if (r->missing || r->status != MX_STATUS_PASS)
		mx_buf_printf(b, "<a href=\"#d%zu\">%s %s</a>", ri, l->symbol, l->word);
	else
		mx_buf_printf(b, "%s %s", l->symbol, l->word);
	mx_buf_puts(b, "</span>");
	if (mx_report_is_new(rep, r))
		mx_buf_puts(b, "<span class=\"new\" title=\"not like this in the previous run\">NEW</span>");
	if (!r->missing && r->status != MX_STATUS_SKIPPED) {
		mx_buf_printf(b, "<div class=\"sub\">%s", mx_format_duration(r->duration_ms, dur, sizeof(dur)));
		if (r->attempts > 1)
			mx_buf_printf(b, " \xc2\xb7 %u attempts", r->attempts);
		mx_buf_puts(b, "</div>");
	}
	if (r->log_dir[0] && !r->missing && r->status != MX_STATUS_SKIPPED) {
		mx_buf_puts(b, "<div>");
		log_link(b, prefix, r, MX_STEP_LOG, "steps");
		log_link(b, prefix, r, MX_CONSOLE_LOG, "console");
		mx_buf_puts(b, "</div>");
	}
	mx_buf_puts(b, "</div>");
}

static void cell_title(struct mx_buf *b, const struct mx_result *r)
{
	mx_buf_puts(b, " title=\"");
	mx_buf_escape(b, r->combo_key, true);
	mx_buf_puts(b, " / ");
	mx_buf_escape(b, r->scenario, true);
	if (r->failed_step[0]) {
		mx_buf_puts(b, "&#10;");
		mx_buf_escape(b, r->failed_step, true);
	}
	if (r->message[0]) {
		mx_buf_puts(b, "&#10;");
		mx_buf_escape(b, r->message, true);
	}
	mx_buf_puts(b, "\"");
}

/* The worst status of a cell's results decides its colour. */
static const struct mx_result *worst(const struct mx_report *rep, const size_t *idx, size_t n)
{
	static const int rank[MX_STATUS_COUNT] = {
		[MX_STATUS_PASS] = 0, [MX_STATUS_SKIPPED] = 1, [MX_STATUS_RUNNING] = 2,
		[MX_STATUS_FLAKY] = 3, [MX_STATUS_ERROR] = 4, [MX_STATUS_FAIL] = 5,
	};
	const struct mx_result *w = &rep->results[idx[0]];

	for (size_t i = 1; i < n; i++) {
		const struct mx_result *r = &rep->results[idx[i]];
		int rr = r->missing ? 1 : rank[r->status % MX_STATUS_COUNT];
		int rw = w->missing ? 1 : rank[w->status % MX_STATUS_COUNT];

		if (rr > rw)
			w = r;
	}
	return w;
}

static void grid_table(struct mx_buf *b, const struct mx_report *rep, const struct grid *g,
		       const char *prefix)
{
	size_t pos = 0;

	mx_buf_puts(b, "<div style=\"overflow:auto\"><table class=\"grid\"><thead><tr>");
	for (size_t k = 0; k < g->rows.n; k++) {
		mx_buf_puts(b, "<th class=\"axis\">");
		esc(b, g->rows.name[k]);
		mx_buf_puts(b, "</th>");
	}
	for (size_t c = 0; c < g->n_cols; c++) {
		mx_buf_puts(b, "<th>");
		for (size_t k = 0; k < g->cols.n; k++) {
			mx_buf_puts(b, k ? " \xc2\xb7 " : "");
			esc(b, value_of(&rep->results[g->first_in_col[c]], g->cols.name[k]));
		}
		mx_buf_puts(b, "</th>");
	}
	mx_buf_puts(b, "</tr></thead><tbody>\n");
	for (size_t row = 0; row < g->n_rows; row++) {
		bool req = false;

		for (size_t i = pos; i < rep->n_results && g->row_of[g->order[i]] == row; i++)
			req |= rep->results[g->order[i]].required;
		mx_buf_puts(b, "<tr>");
		for (size_t k = 0; k < g->rows.n; k++) {
			mx_buf_puts(b, "<th>");
			if (k == 0 && req)
				mx_buf_puts(b, "<span class=\"star\" title=\"required\">\xe2\x98\x85</span> ");
			esc(b, value_of(&rep->results[g->first_in_row[row]], g->rows.name[k]));
			mx_buf_puts(b, "</th>");
		}
		for (size_t col = 0; col < g->n_cols; col++) {
			size_t start = pos, n;
			const struct mx_result *w;

			while (pos < rep->n_results && g->row_of[g->order[pos]] == row &&
			       g->col_of[g->order[pos]] == col)
				pos++;
			n = pos - start;
			if (n == 0) {
				mx_buf_puts(b, "<td class=\"c none\">not in this run</td>");
				continue;
			}
			w = worst(rep, &g->order[start], n);
			mx_buf_printf(b, "<td class=\"c %s%s\" id=\"c%zu\"", look(w)->cls,
				      w->required ? " req" : "", g->order[start]);
			cell_title(b, w);
			mx_buf_puts(b, ">");
			for (size_t i = start; i < pos; i++)
				cell_entry(b, rep, g, g->order[i], prefix);
			mx_buf_puts(b, "</td>");
		}
		mx_buf_puts(b, "</tr>\n");
	}
	mx_buf_puts(b, "</tbody></table></div>\n");
}

static void header(struct mx_buf *b, const struct mx_report *rep, const struct mx_gate *gate,
		   const struct mx_counts *c)
{
	static const char *const decision_words[] = { "GATE: PASS", "GATE: FAILED", "GATE: NOT TESTED" };
	char t[64], d[32];

	mx_buf_puts(b, "<div class=\"top\"><div><h1>");
	esc(b, rep->run.spec_name);
	mx_buf_printf(b, " \xc2\xb7 run #%lld</h1>", (long long)rep->run.id);
	mx_buf_puts(b, "<div class=\"meta\">spec <code>");
	esc(b, rep->run.spec_path);
	mx_buf_puts(b, "</code></div><div class=\"meta\">started ");
	esc(b, mx_format_time(rep->run.started_ms, t, sizeof(t)));
	mx_buf_printf(b, " \xc2\xb7 took %s \xc2\xb7 ", mx_format_duration(c->duration_ms, d, sizeof(d)));
	esc(b, rep->run.state);
	mx_buf_puts(b, " on ");
	esc(b, rep->run.host);
	mx_buf_puts(b, "</div><div class=\"meta\">");
	if (rep->run.previous_id)
		mx_buf_printf(b, "NEW marks compare with run #%lld of this spec", (long long)rep->run.previous_id);
	else
		mx_buf_puts(b, "first run of this spec: nothing to compare with");
	mx_buf_puts(b, "</div><div class=\"counts\">");
	mx_buf_printf(b, "<span class=\"chip\" style=\"background:#fff\">%zu cases \xc2\xb7 %zu required</span>",
		      c->total, c->required);
	for (unsigned s = 0; s < MX_STATUS_COUNT; s++)
		if (c->status[s] || s <= MX_STATUS_FLAKY)
			mx_buf_printf(b, "<span class=\"chip %s\">%zu %s</span>", looks[s].cls,
				      c->status[s] - (s == MX_STATUS_SKIPPED ? c->missing : 0),
				      looks[s].word);
	if (c->missing)
		mx_buf_printf(b, "<span class=\"chip missing\">%zu NOT RUN</span>", c->missing);
	mx_buf_printf(b, "</div></div><div class=\"verdict v-%s\"><b>%s</b>",
		      mx_gate_decision_name(gate->decision), decision_words[gate->decision]);
	esc(b, gate->summary);
	mx_buf_puts(b, "</div></div>\n");
}

static void reasons(struct mx_buf *b, const struct mx_report *rep, const struct mx_gate *gate)
{
	if (gate->n_reasons == 0 && gate->n_flaky == 0)
		return;
	mx_buf_puts(b, "<h2>What decides the gate</h2><ul class=\"reasons\">");
	for (size_t i = 0; i < gate->n_reasons + gate->n_flaky; i++) {
		const struct mx_gate_item *it = i < gate->n_reasons ? &gate->reasons[i]
								    : &gate->flaky[i - gate->n_reasons];
		size_t ri = (size_t)(it->result - rep->results);

		mx_buf_printf(b, "<li><span class=\"chip %s\">%s</span> <a href=\"#d%zu\"><code>",
			      look(it->result)->cls, mx_verdict_name(it->verdict), ri);
		esc(b, it->result->combo_key);
		mx_buf_puts(b, "</code> / <b>");
		esc(b, it->result->scenario);
		mx_buf_puts(b, "</b></a> \xe2\x80\x94 ");
		esc(b, it->why);
		mx_buf_puts(b, "</li>");
	}
	mx_buf_puts(b, "</ul>\n");
}

static void legend(struct mx_buf *b)
{
	mx_buf_puts(b, "<div class=\"legend\"><b>Legend:</b>");
	mx_buf_puts(b, "<span class=\"pass\">\xe2\x9c\x93 PASS</span>"
		       "<span class=\"fail\">\xe2\x9c\x97 FAIL (product)</span>"
		       "<span class=\"error\">! ERROR (infra: not tested)</span>"
		       "<span class=\"flaky\">~ FLAKY (passed on a retry)</span>"
		       "<span class=\"skipped\">\xe2\x80\x93 SKIPPED</span>"
		       "<span class=\"running\">\xe2\x80\xa6 RUNNING (no verdict)</span>"
		       "<span class=\"missing\">\xe2\x80\x93 NOT RUN</span>"
		       "<span style=\"border:2px solid #1d1d1f\">\xe2\x98\x85 required</span>"
		       "<span><span class=\"new\">NEW</span> changed for the worse since the previous run</span>"
		       "</div>\n");
}

static void details(struct mx_buf *b, const struct mx_report *rep, const char *prefix)
{
	bool any = false;

	for (size_t i = 0; i < rep->n_results; i++) {
		const struct mx_result *r = &rep->results[i];
		size_t n_att = 0;
		const struct mx_attempt *a = mx_report_attempts(rep, r, &n_att);

		if (!r->missing && r->status == MX_STATUS_PASS)
			continue;
		if (!any)
			mx_buf_puts(b, "<h2>Cases that did not simply pass</h2>\n");
		any = true;
		mx_buf_printf(b, "<div class=\"detail d-%s\" id=\"d%zu\"><span class=\"chip %s\">%s %s</span> ",
			      look(r)->cls, i, look(r)->cls, look(r)->symbol, look(r)->word);
		if (mx_report_is_new(rep, r))
			mx_buf_puts(b, "<span class=\"new\">NEW</span> ");
		mx_buf_puts(b, "<code>");
		esc(b, r->combo_key);
		mx_buf_puts(b, "</code> / <b>");
		esc(b, r->scenario);
		mx_buf_printf(b, "</b> <span class=\"muted\">class %s%s</span>", mx_class_name(r->class),
			      r->required ? ", required" : "");
		if (r->failed_step[0]) {
			mx_buf_puts(b, "<div>step: <code>");
			esc(b, r->failed_step);
			mx_buf_puts(b, "</code></div>");
		}
		if (r->message[0]) {
			mx_buf_puts(b, "<div>");
			esc(b, r->message);
			mx_buf_puts(b, "</div>");
		}
		for (size_t k = 0; k < n_att; k++)
			if (a[k].status != MX_STATUS_PASS || n_att > 1) {
				mx_buf_printf(b, "<div class=\"muted\">attempt %u: %s (%s)", a[k].number,
					      mx_status_name(a[k].status), mx_class_name(a[k].class));
				if (a[k].failed_step[0]) {
					mx_buf_puts(b, " at <code>");
					esc(b, a[k].failed_step);
					mx_buf_puts(b, "</code>");
				}
				if (a[k].message[0]) {
					mx_buf_puts(b, ": ");
					esc(b, a[k].message);
				}
				mx_buf_puts(b, "</div>");
			}
		if (r->console_excerpt[0]) {
			mx_buf_puts(b, "<pre>");
			esc(b, r->console_excerpt);
			mx_buf_puts(b, "</pre>");
		}
		if (r->log_dir[0] && !r->missing && r->status != MX_STATUS_SKIPPED) {
			mx_buf_puts(b, "<div>");
			log_link(b, prefix, r, MX_STEP_LOG, "step log");
			log_link(b, prefix, r, MX_CONSOLE_LOG, "console log");
			mx_buf_puts(b, "</div>");
		}
		mx_buf_puts(b, "</div>\n");
	}
}

static void components(struct mx_buf *b, const struct mx_report *rep)
{
	if (rep->n_components == 0)
		return;
	mx_buf_puts(b, "<h2>Components</h2><table class=\"comp\"><tr><th>kind</th><th>value</th>"
		       "<th>source</th><th>content hash</th></tr>");
	for (size_t i = 0; i < rep->n_components; i++) {
		const struct mx_run_component *c = &rep->components[i];

		mx_buf_puts(b, "<tr><td>");
		esc(b, c->kind);
		mx_buf_puts(b, "</td><td>");
		esc(b, c->value);
		mx_buf_puts(b, "</td><td>");
		esc(b, c->source);
		mx_buf_puts(b, "</td><td><code>");
		esc(b, c->hash);
		mx_buf_puts(b, "</code></td></tr>");
	}
	mx_buf_puts(b, "</table>\n");
}

int mx_report_html(const struct mx_report *rep, const char *rows, const char *columns,
		   const char *log_prefix, struct mx_buf *b, struct lp_diag *diag)
{
	char row_text[512], col_text[512];
	struct grid g;
	struct mx_gate *gate = NULL;
	struct mx_counts c;
	int r;

	memset(&g, 0, sizeof(g));
	if (columns)
		r = parse_keys(rep, columns, "columns", col_text, sizeof(col_text), &g.cols, diag);
	else {
		g.cols.name[0] = "scenario";
		g.cols.n = 1;
		r = 0;
	}
	if (r >= 0 && rows)
		r = parse_keys(rep, rows, "rows", row_text, sizeof(row_text), &g.rows, diag);
	else if (r >= 0)
		default_rows(rep, &g.cols, &g.rows);
	if (r < 0)
		return r;
	r = grid_build(rep, &g);
	if (r >= 0)
		r = mx_gate_decide(rep, &gate);
	if (r < 0)
		goto out;
	mx_report_count(rep, &c);
	mx_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
	esc(b, rep->run.spec_name);
	mx_buf_printf(b, " run #%lld: %s</title><style>%s</style></head><body>\n",
		      (long long)rep->run.id, mx_gate_decision_name(gate->decision), css);
	header(b, rep, gate, &c);
	mx_buf_puts(b, "<h2>Matrix</h2>");
	legend(b);
	if (rep->n_results)
		grid_table(b, rep, &g, log_prefix ? log_prefix : "");
	else
		mx_buf_puts(b, "<p>This run has no results.</p>");
	reasons(b, rep, gate);
	details(b, rep, log_prefix ? log_prefix : "");
	components(b, rep);
	mx_buf_puts(b, "<p class=\"muted\">" MX_PROG " report \xc2\xb7 links open the logs in the run "
		       "directory</p></body></html>\n");
	r = b->err;
out:
	mx_gate_free(gate);
	grid_free(&g);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * The text report (`show`, the runner's final table): a header line, one table row per
 * combo (its varying axis values, "*" when required) with one column per scenario, the
 * totals, the gate's one-line decision and the cases that did not pass. Words ("pass",
 * "FAIL", "ERROR", "flaky", "skip") when the table fits the width, letters with a legend
 * when it does not. Plain ASCII unless color is set (a terminal): then ANSI colours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix.h"

#define TEXT_AXES_MAX 16
#define TEXT_LIST_MAX 20 /* cases listed under the table */

struct cellword {
	const char *word, *letter, *color;
};

static const struct cellword words[MX_STATUS_COUNT] = {
	[MX_STATUS_PASS] = { "pass", "P", "\033[32m" },
	[MX_STATUS_FAIL] = { "FAIL", "F", "\033[1;31m" },
	[MX_STATUS_ERROR] = { "ERROR", "E", "\033[35m" },
	[MX_STATUS_FLAKY] = { "flaky", "K", "\033[33m" },
	[MX_STATUS_SKIPPED] = { "skip", "S", "\033[2m" },
	[MX_STATUS_RUNNING] = { "run", "R", "\033[36m" },
};
static const struct cellword missing_word = { "miss", "M", "\033[2m" };

static const struct cellword *word_of(const struct mx_result *r)
{
	if (r->missing)
		return &missing_word;
	return (unsigned)r->status < MX_STATUS_COUNT ? &words[r->status] : &words[MX_STATUS_ERROR];
}

struct table {
	const char *axes[TEXT_AXES_MAX]; /* the row label columns */
	size_t n_axes, axis_w[TEXT_AXES_MAX];
	const char *scen[MX_SCENARIOS_MAX];
	size_t n_scen, scen_w[MX_SCENARIOS_MAX];
	bool letters;
};

static const char *axis_value(const struct mx_result *r, const char *axis)
{
	const cJSON *v;

	if (!axis)
		return r->combo_key;
	v = cJSON_GetObjectItemCaseSensitive(r->axes, axis);
	return cJSON_IsString(v) ? v->valuestring : "-";
}

static void pad(struct mx_buf *b, const char *s, size_t w)
{
	size_t n = strlen(s);

	mx_buf_puts(b, s);
	for (; n < w; n++)
		mx_buf_puts(b, " ");
}

static void plan_columns(const struct mx_report *rep, struct table *t, unsigned width)
{
	const cJSON *a;
	size_t total = 2;

	/* the axes whose values vary (the others are in the header line) */
	for (size_t i = 0; i < rep->n_results && !t->n_axes; i++) {
		if (!cJSON_IsObject(rep->results[i].axes))
			continue;
		cJSON_ArrayForEach(a, rep->results[i].axes) {
			bool differs = false;

			for (size_t k = 0; k < rep->n_results && !differs; k++)
				differs = strcmp(axis_value(&rep->results[k], a->string),
						 axis_value(&rep->results[0], a->string)) != 0;
			if (differs && t->n_axes < TEXT_AXES_MAX)
				t->axes[t->n_axes++] = a->string;
		}
		break;
	}
	if (!t->n_axes)
		t->axes[t->n_axes++] = NULL; /* the combo key itself */
	for (size_t i = 0; i < rep->n_results; i++) {
		size_t s;

		for (s = 0; s < t->n_scen && strcmp(t->scen[s], rep->results[i].scenario) != 0; s++)
			;
		if (s == t->n_scen && t->n_scen < MX_SCENARIOS_MAX)
			t->scen[t->n_scen++] = rep->results[i].scenario;
	}
	for (size_t k = 0; k < t->n_axes; k++) {
		t->axis_w[k] = strlen(t->axes[k] ? t->axes[k] : "combo");
		for (size_t i = 0; i < rep->n_results; i++) {
			size_t n = strlen(axis_value(&rep->results[i], t->axes[k]));

			if (n > t->axis_w[k])
				t->axis_w[k] = n;
		}
		total += t->axis_w[k] + 2;
	}
	for (size_t s = 0; s < t->n_scen; s++) {
		t->scen_w[s] = strlen(t->scen[s]) > 8 ? strlen(t->scen[s]) : 8;
		total += t->scen_w[s] + 2;
	}
	t->letters = total > (width ? width : 120);
	if (t->letters)
		for (size_t s = 0; s < t->n_scen; s++)
			t->scen_w[s] = s + 1 >= 10 ? 3 : 2;
}

static void cell(struct mx_buf *b, const struct mx_report *rep, const struct mx_result *r,
		 size_t w, bool letters, bool color)
{
	const struct cellword *cw;
	char text[32];

	if (!r) {
		pad(b, ".", w);
		return;
	}
	cw = word_of(r);
	snprintf(text, sizeof(text), "%s%s", letters ? cw->letter : cw->word,
		 mx_report_is_new(rep, r) ? (letters ? "+" : " new") : "");
	if (color)
		mx_buf_puts(b, cw->color);
	mx_buf_puts(b, text);
	if (color)
		mx_buf_puts(b, "\033[0m");
	for (size_t n = strlen(text); n < w; n++)
		mx_buf_puts(b, " ");
}

static const struct mx_result *find(const struct mx_report *rep, const char *combo,
				    const char *scenario, size_t from)
{
	for (size_t i = from; i < rep->n_results; i++)
		if (strcmp(rep->results[i].combo_key, combo) == 0 &&
		    strcmp(rep->results[i].scenario, scenario) == 0)
			return &rep->results[i];
	for (size_t i = 0; i < from && i < rep->n_results; i++)
		if (strcmp(rep->results[i].combo_key, combo) == 0 &&
		    strcmp(rep->results[i].scenario, scenario) == 0)
			return &rep->results[i];
	return NULL;
}

static bool combo_seen(const struct mx_report *rep, size_t upto, const char *combo)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(rep->results[i].combo_key, combo) == 0)
			return true;
	return false;
}

static bool combo_required(const struct mx_report *rep, const char *combo)
{
	for (size_t i = 0; i < rep->n_results; i++)
		if (rep->results[i].required && strcmp(rep->results[i].combo_key, combo) == 0)
			return true;
	return false;
}

static void table(struct mx_buf *b, const struct mx_report *rep, const struct table *t, bool color)
{
	mx_buf_puts(b, "  ");
	for (size_t k = 0; k < t->n_axes; k++) {
		pad(b, t->axes[k] ? t->axes[k] : "combo", t->axis_w[k]);
		mx_buf_puts(b, "  ");
	}
	for (size_t s = 0; s < t->n_scen; s++) {
		char num[24];

		snprintf(num, sizeof(num), "%zu", s + 1);
		pad(b, t->letters ? num : t->scen[s], t->scen_w[s]);
		mx_buf_puts(b, s + 1 < t->n_scen ? "  " : "");
	}
	mx_buf_puts(b, "\n");
	for (size_t i = 0; i < rep->n_results; i++) {
		const struct mx_result *r = &rep->results[i];

		if (combo_seen(rep, i, r->combo_key))
			continue;
		mx_buf_puts(b, combo_required(rep, r->combo_key) ? "* " : "  ");
		for (size_t k = 0; k < t->n_axes; k++) {
			pad(b, axis_value(r, t->axes[k]), t->axis_w[k]);
			mx_buf_puts(b, "  ");
		}
		for (size_t s = 0; s < t->n_scen; s++) {
			cell(b, rep, find(rep, r->combo_key, t->scen[s], i), t->scen_w[s], t->letters,
			     color);
			mx_buf_puts(b, s + 1 < t->n_scen ? "  " : "");
		}
		mx_buf_puts(b, "\n");
	}
	if (t->letters) {
		mx_buf_puts(b, "scenarios:");
		for (size_t s = 0; s < t->n_scen; s++)
			mx_buf_printf(b, " %zu=%s", s + 1, t->scen[s]);
		mx_buf_puts(b, "\nP pass, F FAIL, E ERROR (infra), K flaky, S skipped, R running, "
			       "M missing, + new since the previous run, . not in this run\n");
	}
}

static void listing(struct mx_buf *b, const struct mx_report *rep, bool color)
{
	size_t shown = 0, left = 0;

	for (size_t i = 0; i < rep->n_results; i++) {
		const struct mx_result *r = &rep->results[i];
		const struct cellword *cw = word_of(r);

		if (!r->missing && (r->status == MX_STATUS_PASS || r->status == MX_STATUS_SKIPPED))
			continue;
		if (shown == TEXT_LIST_MAX) {
			left++;
			continue;
		}
		if (!shown)
			mx_buf_puts(b, "\n");
		shown++;
		if (color)
			mx_buf_puts(b, cw->color);
		pad(b, cw->word, 6);
		if (color)
			mx_buf_puts(b, "\033[0m");
		mx_buf_printf(b, "%s%s / %s", r->required ? "* " : "", r->combo_key, r->scenario);
		if (r->failed_step[0])
			mx_buf_printf(b, "\n        at %s", r->failed_step);
		if (r->message[0])
			mx_buf_printf(b, "\n        %.*s", (int)strcspn(r->message, "\n"), r->message);
		mx_buf_puts(b, "\n");
	}
	if (left)
		mx_buf_printf(b, "(%zu more: see the HTML or JSON report)\n", left);
}

int mx_report_text(const struct mx_report *rep, bool color, unsigned width, struct mx_buf *b)
{
	struct table *t = calloc(1, sizeof(*t));
	struct mx_gate *gate = NULL;
	struct mx_counts c;
	char ts[64], dur[32];
	int r;

	if (!t)
		return -ENOMEM;
	r = mx_gate_decide(rep, &gate);
	if (r < 0)
		goto out;
	mx_report_count(rep, &c);
	mx_buf_printf(b, "run %lld: %s (%s), %s, started %s, %s\n", (long long)rep->run.id,
		      rep->run.spec_name, rep->run.spec_path, rep->run.state,
		      mx_format_time(rep->run.started_ms, ts, sizeof(ts)),
		      mx_format_duration(c.duration_ms, dur, sizeof(dur)));
	if (rep->run.previous_id)
		mx_buf_printf(b, "new: worse than in run %lld (the previous run of this spec)\n", (long long)rep->run.previous_id);
	mx_buf_puts(b, "\n");
	if (rep->n_results) {
		plan_columns(rep, t, width);
		table(b, rep, t, color);
	} else {
		mx_buf_puts(b, "(no results)\n");
	}
	mx_buf_printf(b, "\ntotal: %zu cases (%zu required): %zu pass, %zu FAIL, %zu ERROR, "
		      "%zu flaky, %zu skipped", c.total, c.required, c.status[MX_STATUS_PASS],
		      c.status[MX_STATUS_FAIL], c.status[MX_STATUS_ERROR], c.status[MX_STATUS_FLAKY],
		      c.status[MX_STATUS_SKIPPED] - c.missing);
	if (c.status[MX_STATUS_RUNNING])
		mx_buf_printf(b, ", %zu running", c.status[MX_STATUS_RUNNING]);
	if (c.missing)
		mx_buf_printf(b, ", %zu missing", c.missing);
	mx_buf_printf(b, "\ngate: %s\n", gate->summary);
	listing(b, rep, color);
	r = b->err;
out:
	mx_gate_free(gate);
	free(t);
	return r;
}

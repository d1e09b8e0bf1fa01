/* SPDX-License-Identifier: MIT */
/*
 * show, history, report, gate: the commands that read the history (results.c) and
 * present it (report-*.c, gate.c). No SQL here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/cli.h"
#include "loopline/fs.h"
#include "loopline/http-client.h"
#include "loopline/json.h"
#include "loopline/log.h"
#include "matrix.h"

#define HISTORY_LIMIT_DEFAULT 20
#define HISTORY_LIMIT_MAX 10000

/* Opens the history for reading: a missing database is "no runs yet", not a new file. */
static int open_history(const struct mx_cli *c, struct mx_db **ret)
{
	struct lp_diag diag;
	struct stat st;
	int r;

	if (stat(c->db_path, &st) < 0) {
		log_error("no history at %s (a `" MX_PROG " run` creates it; --out DIR chooses "
			  "the out directory)", c->db_path);
		return LP_EXIT_NOT_FOUND;
	}
	lp_diag_clear(&diag);
	r = mx_db_open(c->db_path, ret, &diag);
	return r < 0 ? lp_cli_fail(r, &diag, NULL) : 0;
}

/* RUN: a run id, or "latest" / nothing for the newest run (0). */
static int parse_run(const struct lp_cli *cli, int64_t *ret)
{
	uint64_t v = 0;
	int r;

	*ret = 0;
	if (cli->n_args < 1 || strcmp(cli->args[0], "latest") == 0)
		return 0;
	r = lp_cli_parse_uint(cli, "RUN", cli->args[0], 1, INT64_MAX, &v);
	if (r)
		return r;
	*ret = (int64_t)v;
	return 0;
}

/* Opens the history and loads one run; returns 0 or an exit code. */
static int load_run(struct lp_cli *cli, const struct mx_cli *c, struct mx_db **ret_db,
		    struct mx_report **ret_rep)
{
	struct lp_diag diag;
	int64_t run_id;
	int r;

	r = parse_run(cli, &run_id);
	if (r)
		return r;
	r = open_history(c, ret_db);
	if (r)
		return r;
	lp_diag_clear(&diag);
	r = mx_report_load(*ret_db, run_id, ret_rep, &diag);
	if (r < 0) {
		mx_db_close(*ret_db);
		*ret_db = NULL;
		return lp_cli_fail(r, &diag, NULL);
	}
	return 0;
}

static int print_buf(struct mx_buf *b)
{
	if (b->err)
		return lp_cli_fail(b->err, NULL, "report");
	if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
		return lp_cli_fail(-EIO, NULL, "stdout");
	return fflush(stdout) == 0 ? 0 : lp_cli_fail(-EIO, NULL, "stdout");
}

static int print_json(cJSON *o)
{
	char *text = o ? cJSON_Print(o) : NULL;
	int r;

	if (!text)
		return lp_cli_fail(-ENOMEM, NULL, NULL);
	r = printf("%s\n", text) < 0 ? lp_cli_fail(-EIO, NULL, "stdout") : 0;
	free(text);
	return r;
}

/* ---- show ---- */

static unsigned terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 120;
}

int mx_cmd_show(struct lp_cli *cli, void *ctx)
{
	struct mx_db *db = NULL;
	struct mx_report *rep = NULL;
	struct mx_buf b = { 0 };
	bool tty = isatty(STDOUT_FILENO) == 1;
	int r;

	r = load_run(cli, ctx, &db, &rep);
	if (r)
		return r;
	if (cli->json)
		mx_report_json_text(rep, &b);
	else
		mx_report_text(rep, tty && !getenv("NO_COLOR"), tty ? terminal_width() : 120, &b);
	r = print_buf(&b);
	mx_buf_free(&b);
	mx_report_free(rep);
	mx_db_close(db);
	return r;
}

/* ---- history ---- */

static void history_row(const struct mx_result *r)
{
	char t[64], d[32];
	int m = (int)strcspn(r->message, "\n");

	printf("%-6lld  %-23s  %-18s  %-7s  %-7s  %3u  %9s  %s%s%.*s\n", (long long)r->run_id,
	       mx_format_time(r->started_ms, t, sizeof(t)), r->scenario, mx_status_name(r->status),
	       mx_class_name(r->class), r->attempts, mx_format_duration(r->duration_ms, d, sizeof(d)),
	       r->failed_step, r->failed_step[0] && m ? ": " : "", m > 120 ? 120 : m, r->message);
}

int mx_cmd_history(struct lp_cli *cli, void *ctx)
{
	const char *scenario = NULL, *arg;
	uint64_t limit = HISTORY_LIMIT_DEFAULT;
	struct mx_result *v = NULL;
	struct mx_db *db = NULL;
	size_t n = 0;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0) {
		if (key == 's')
			scenario = arg;
		else if (key == 'l' &&
			 (r = lp_cli_parse_uint(cli, "--limit", arg, 1, HISTORY_LIMIT_MAX, &limit)) != 0)
			return r;
	}
	r = open_history(ctx, &db);
	if (r)
		return r;
	r = mx_db_history(db, cli->args[0], scenario, (size_t)limit, &v, &n);
	if (r < 0) {
		r = lp_cli_fail(r, mx_db_diag(db), NULL);
		goto out;
	}
	if (n == 0) {
		log_error("no results for combo \"%s\"%s%s (a combo is its full key, as `show` and the "
			  "reports print it: target=…,backend=…,agent=…,from=…,to=…)", cli->args[0],
			  scenario ? " and scenario " : "", scenario ? scenario : "");
		r = LP_EXIT_NOT_FOUND;
		goto out;
	}
	if (cli->json) {
		cJSON *a = cJSON_CreateArray();

		for (size_t i = 0; a && i < n; i++) {
			cJSON *o = mx_result_json(&v[i]);

			if (!o || !cJSON_AddItemToArray(a, o)) {
				cJSON_Delete(o);
				cJSON_Delete(a);
				a = NULL;
			}
		}
		r = print_json(a);
		cJSON_Delete(a);
		goto out;
	}
	printf("%s\n%-6s  %-23s  %-18s  %-7s  %-7s  %3s  %9s  %s\n", cli->args[0], "run", "started",
	       "scenario", "status", "class", "try", "duration", "failed step: message");
	for (size_t i = 0; i < n; i++)
		history_row(&v[i]);
	r = 0;
out:
	mx_results_free(v, n);
	mx_db_close(db);
	return r;
}

/* ---- report ---- */

/* Absolute, normalised form of an existing directory (or of its nearest existing
 * ancestor plus the rest). */
static int abs_dir(const char *dir, char *buf, size_t len)
{
	char *real = realpath(dir, NULL);
	int r;

	if (!real)
		return -errno;
	r = snprintf(buf, len, "%s", real) >= (int)len ? -ENAMETOOLONG : 0;
	free(real);
	return r;
}

/* Appends "../" for each component of rest ("/b/c" → "../../"). */
static size_t ups(const char *rest, char *buf, size_t n, size_t len)
{
	for (const char *p = rest; *p;) {
		size_t seg;

		p += strspn(p, "/");
		seg = strcspn(p, "/");
		if (seg && n + 4 <= len) {
			memcpy(buf + n, "../", 3);
			n += 3;
		}
		p += seg;
	}
	buf[n] = '\0';
	return n;
}

/* The prefix that leads from the directory of file to run_dir: "" when they are the
 * same, "../runs/7/" …; the run_dir as given + "/" when either cannot be resolved. */
static int relative_prefix(const char *file, const char *run_dir, char *buf, size_t len)
{
	char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];
	size_t i = 0, common = 0, n;
	const char *rest;

	buf[0] = '\0';
	if (!run_dir[0])
		return 0;
	if (lp_fs_dirname(dir, sizeof(dir), file) < 0 || abs_dir(dir, from, sizeof(from)) < 0 ||
	    abs_dir(run_dir, to, sizeof(to)) < 0)
		return snprintf(buf, len, "%s/", run_dir) >= (int)len ? -ENAMETOOLONG : 0;
	/* the last position where both paths end a component alike */
	for (;; i++) {
		if ((from[i] == '/' || !from[i]) && (to[i] == '/' || !to[i]))
			common = i;
		if (from[i] != to[i] || !from[i])
			break;
	}
	n = ups(from + common, buf, 0, len);
	rest = to + common + strspn(to + common, "/");
	if (rest[0] && snprintf(buf + n, len - n, "%s/", rest) >= (int)(len - n))
		return -ENAMETOOLONG;
	return 0;
}

struct report_out {
	const char *junit, *json, *html, *rows, *columns;
	char junit_def[PATH_MAX], json_def[PATH_MAX], html_def[PATH_MAX];
};

static int report_targets(struct lp_cli *cli, const struct mx_report *rep, struct report_out *o)
{
	const char *arg;
	int key;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		switch (key) {
		case 'J': o->junit = arg; break;
		case 'j': o->json = arg; break;
		case 'H': o->html = arg; break;
		case 'R': o->rows = arg; break;
		case 'C': o->columns = arg; break;
		}
	if (o->junit || o->json || o->html)
		return 0;
	/* nothing asked: all three into the run directory */
	if (!rep->run_dir[0])
		return lp_cli_usage_error(cli, "run %lld has no directory: name the files with "
					  "--junit, --json or --html", (long long)rep->run.id);
	if (lp_fs_path_join(o->junit_def, sizeof(o->junit_def), rep->run_dir, "report.xml") < 0 ||
	    lp_fs_path_join(o->json_def, sizeof(o->json_def), rep->run_dir, "report.json") < 0 ||
	    lp_fs_path_join(o->html_def, sizeof(o->html_def), rep->run_dir, "report.html") < 0)
		return lp_cli_usage_error(cli, "run directory path too long");
	o->junit = o->junit_def;
	o->json = o->json_def;
	o->html = o->html_def;
	return 0;
}

/* Builds every asked format first (a bad --rows writes nothing), then writes each
 * atomically. */
static int report_write(struct lp_cli *cli, const struct mx_report *rep, const struct report_out *o)
{
	struct mx_buf bufs[3] = { { 0 } };
	const char *paths[3] = { o->junit, o->json, o->html };
	char prefix[PATH_MAX];
	struct lp_diag diag;
	int r = 0;

	lp_diag_clear(&diag);
	if (o->junit)
		r = mx_report_junit(rep, &bufs[0]);
	if (r >= 0 && o->json)
		r = mx_report_json_text(rep, &bufs[1]);
	if (r >= 0 && o->html) {
		r = relative_prefix(o->html, rep->run_dir, prefix, sizeof(prefix));
		if (r >= 0)
			r = mx_report_html(rep, o->rows, o->columns, prefix, &bufs[2], &diag);
		if (r == -EINVAL) {
			r = lp_cli_usage_error(cli, "%s", diag.msg);
			goto out;
		}
	}
	if (r < 0) {
		r = lp_cli_fail(r, &diag, "report");
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		if (!paths[i])
			continue;
		r = mx_buf_write(&bufs[i], paths[i]);
		if (r < 0) {
			r = lp_cli_fail(r, NULL, paths[i]);
			goto out;
		}
		printf("%s\n", paths[i]);
	}
	r = 0;
out:
	for (int i = 0; i < 3; i++)
		mx_buf_free(&bufs[i]);
	return r;
}

int mx_cmd_report(struct lp_cli *cli, void *ctx)
{
	struct mx_db *db = NULL;
	struct mx_report *rep = NULL;
	struct report_out o;
	int r;

	memset(&o, 0, sizeof(o));
	r = load_run(cli, ctx, &db, &rep);
	if (r)
		return r;
	r = report_targets(cli, rep, &o);
	if (!r)
		r = report_write(cli, rep, &o);
	mx_report_free(rep);
	mx_db_close(db);
	return r;
}

/* ---- gate ---- */

struct post_opts {
	const char *url, *token, *cacert, *release;
};

/* POSTs the decision (plus the release, if named) to URL; returns 0 or -errno. */
static int gate_post(const struct post_opts *p, const cJSON *decision, FILE *out)
{
	struct lp_http_client_opts opts = { 0 };
	struct lp_http_client *client = NULL;
	char base[512];
	const char *scheme = strstr(p->url, "://"), *path;
	cJSON *body = cJSON_Duplicate(decision, true), *answer = NULL;
	struct lp_diag diag;
	long status = 0;
	int r;

	lp_diag_clear(&diag);
	if (!body)
		return -ENOMEM;
	if (p->release && !cJSON_AddStringToObject(body, "release", p->release)) {
		r = -ENOMEM;
		goto out;
	}
	path = scheme ? strchr(scheme + 3, '/') : NULL;
	if (!scheme || (strncmp(p->url, "http://", 7) != 0 && strncmp(p->url, "https://", 8) != 0)) {
		log_error("--post %s: expected an http:// or https:// URL", p->url);
		r = -EINVAL;
		goto out;
	}
	if (snprintf(base, sizeof(base), "%.*s", (int)(path ? path - p->url : (long)strlen(p->url)),
		     p->url) >= (int)sizeof(base)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	opts.base_url = base;
	opts.token = p->token && p->token[0] ? p->token : NULL;
	opts.cacert = p->cacert && p->cacert[0] ? p->cacert : NULL;
	opts.timeout_s = 30;
	r = lp_http_client_new(&opts, &client);
	if (r >= 0)
		r = lp_http_json(client, "POST", path ? path : "/", body, &status, &answer, &diag);
	if (r < 0)
		log_error("posting the decision to %s failed: %s", p->url,
			  diag.msg[0] ? diag.msg : strerror(-r));
	else
		fprintf(out, "posted the decision to %s: HTTP %ld\n", p->url, status);
out:
	cJSON_Delete(answer);
	cJSON_Delete(body);
	lp_http_client_free(client);
	return r;
}

static void gate_print(const struct mx_gate *g, const struct mx_report *rep)
{
	printf("gate: %s (run %lld, %s)\n", g->summary, (long long)rep->run.id, rep->run.spec_name);
	for (size_t i = 0; i < g->n_reasons; i++)
		printf("  %-8s %s / %s: %s\n", mx_verdict_name(g->reasons[i].verdict),
		       g->reasons[i].result->combo_key, g->reasons[i].result->scenario,
		       g->reasons[i].why);
	for (size_t i = 0; i < g->n_flaky; i++)
		printf("  %-8s %s / %s: %s\n", "flaky", g->flaky[i].result->combo_key,
		       g->flaky[i].result->scenario, g->flaky[i].why);
}

int mx_cmd_gate(struct lp_cli *cli, void *ctx)
{
	struct post_opts post = { .token = getenv("LOOPLINE_TOKEN"),
				  .cacert = getenv("LOOPLINE_CACERT") };
	struct mx_db *db = NULL;
	struct mx_report *rep = NULL;
	struct mx_gate *g = NULL;
	cJSON *json = NULL;
	const char *arg;
	int key, r, code;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		switch (key) {
		case 'p': post.url = arg; break;
		case 't': post.token = arg; break;
		case 'c': post.cacert = arg; break;
		case 'r': post.release = arg; break;
		}
	if (post.release && !post.url)
		return lp_cli_usage_error(cli, "--release needs --post");
	r = load_run(cli, ctx, &db, &rep);
	if (r)
		return r;
	r = mx_gate_decide(rep, &g);
	if (r >= 0 && (cli->json || post.url) && !(json = mx_gate_json(g, rep)))
		r = -ENOMEM;
	if (r < 0) {
		r = lp_cli_fail(r, NULL, "gate");
		goto out;
	}
	code = mx_gate_exit_code(g->decision);
	if (cli->json)
		r = print_json(json);
	else
		gate_print(g, rep);
	if (!r && post.url && gate_post(&post, json, cli->json ? stderr : stdout) < 0 && code == 0)
		r = LP_EXIT_FAILURE; /* a failed post never hides a blocking decision */
	if (!r)
		r = code;
out:
	cJSON_Delete(json);
	mx_gate_free(g);
	mx_report_free(rep);
	mx_db_close(db);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * A case's job in a LAVA lab through its REST API v0.2 (`--executor lava`):
 *   POST /api/v0.2/jobs/ {"definition": YAML}        → {"job_ids": [N]} (or "job_id")
 *   GET  /api/v0.2/jobs/N/                            → state, health, failure_comment
 *        polled with backoff (1 s doubling to 15 s) until state "Finished"
 *   GET  /api/v0.2/jobs/N/suites/, /tests/?limit=1000  → the test cases (the verdict)
 *   GET  /api/v0.2/jobs/N/logs/                       → the log (the device's console)
 *   POST /api/v0.2/jobs/N/cancel/                     when the case's time is up
 * with "Authorization: Token T". The job id goes to DIR/lava-job.json first, so a person
 * can find the job in the lab's web pages.
 */
/* Paths and URLs here are built from bounded pieces; a truncated one fails as a request. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/http-client.h"
#include "lava.h"
#include "run-case.h"

#define POLL_MIN_MS 1000u
#define POLL_MAX_MS 15000u

struct rest {
	const struct mx_lava_attempt *a;
	struct lp_http_client *c;
	char auth[300];
	long job;
};

/* One request; 0 with the body on 2xx, else -EPROTO/-errno with the reason in msg. */
static int call(struct rest *r, const char *method, const char *path, const char *body,
		char **ret_body, size_t *ret_len, char *msg, size_t msg_len)
{
	const char *headers[] = { r->auth, "Content-Type: application/json",
				  "Accept: application/json", NULL };
	struct lp_diag d;
	long status = 0;
	int e;

	lp_diag_clear(&d);
	*ret_body = NULL;
	e = lp_http_request(r->c, method, path, headers, body, body ? strlen(body) : 0, &status,
			    ret_body, ret_len, &d);
	if (e < 0) {
		snprintf(msg, msg_len, "%s %s: %s", method, path, d.msg[0] ? d.msg : strerror(-e));
		return e;
	}
	if (status < 200 || status > 299) {
		snprintf(msg, msg_len, "%s %s: HTTP %ld%s%.300s", method, path, status,
			 *ret_body && (*ret_body)[0] ? ": " : "", *ret_body ? *ret_body : "");
		free(*ret_body);
		*ret_body = NULL;
		return status == 401 || status == 403 ? -EACCES : -EPROTO;
	}
	return 0;
}

static int submit(struct rest *r, char *msg, size_t msg_len)
{
	char *yaml = NULL, *text, *body = NULL;
	size_t len;
	cJSON *req = cJSON_CreateObject(), *ans = NULL, *ids;
	int e = lp_fs_read_file(r->a->job, MX_LAVA_JOB_MAX, &yaml, &len);

	if (e < 0) {
		snprintf(msg, msg_len, "%s: %s", r->a->job, strerror(-e));
		goto out;
	}
	cJSON_AddStringToObject(req, "definition", yaml);
	if (!(text = cJSON_PrintUnformatted(req))) {
		e = -ENOMEM;
		goto out;
	}
	e = call(r, "POST", "/api/v0.2/jobs/", text, &body, &len, msg, msg_len);
	free(text);
	if (e < 0)
		goto out;
	ans = cJSON_Parse(body);
	ids = cJSON_GetObjectItemCaseSensitive(ans, "job_ids");
	if (cJSON_IsArray(ids) && cJSON_IsNumber(cJSON_GetArrayItem(ids, 0)))
		r->job = (long)cJSON_GetArrayItem(ids, 0)->valuedouble;
	else if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ans, "job_id")))
		r->job = (long)cJSON_GetObjectItemCaseSensitive(ans, "job_id")->valuedouble;
	if (r->job <= 0) {
		snprintf(msg, msg_len, "the lab accepted the job but named no job id: %.200s", body);
		e = -EPROTO;
	}
out:
	free(yaml);
	free(body);
	cJSON_Delete(req);
	cJSON_Delete(ans);
	return e;
}

/* Polls the job until it is finished; its health and failure comment into out. */
static int wait_finished(struct rest *r, struct mx_lava_outcome *out, char *msg, size_t msg_len)
{
	uint64_t deadline = lp_clock_deadline_ms((uint64_t)r->a->timeout_min * 60000u);
	unsigned pause = POLL_MIN_MS;
	char path[96];

	snprintf(path, sizeof(path), "/api/v0.2/jobs/%ld/", r->job);
	for (;;) {
		char *body = NULL;
		size_t len;
		cJSON *o;
		const char *state, *health, *comment;
		int e = call(r, "GET", path, NULL, &body, &len, msg, msg_len);

		if (e == 0) {
			o = cJSON_Parse(body);
			state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
			health = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "health"));
			comment = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "failure_comment"));
			if (state && strcmp(state, "Finished") == 0) {
				out->job_seen = true;
				out->job_passed = health && strcmp(health, "Complete") == 0;
				snprintf(out->job_error, sizeof(out->job_error), "job %ld %s%s%s", r->job,
					 health ? health : "finished", comment ? ": " : "",
					 comment ? comment : "");
				cJSON_Delete(o);
				free(body);
				return 0;
			}
			cJSON_Delete(o);
		}
		free(body);
		if (e == -EACCES)
			return e; /* a token the lab refuses does not get better */
		if (lp_clock_ms_left(deadline) == 0) {
			snprintf(path, sizeof(path), "/api/v0.2/jobs/%ld/cancel/", r->job);
			if (call(r, "POST", path, NULL, &body, &len, msg, msg_len) == 0)
				free(body);
			snprintf(msg, msg_len, "job %ld did not finish within %u min: canceled", r->job,
				 r->a->timeout_min);
			return -ETIMEDOUT;
		}
		lp_clock_sleep_ms(pause);
		pause = pause * 2 > POLL_MAX_MS ? POLL_MAX_MS : pause * 2;
	}
}

/* The test cases and the log (console) of the finished job; the verdict. */
static int collect(struct rest *r, struct mx_lava_outcome *out, char *msg, size_t msg_len)
{
	struct mx_lava_outcome log_out;
	struct mx_lava_texts texts = { 0 };
	struct lp_diag d;
	char path[96], file[PATH_MAX + 32], *body = NULL, *suites = NULL;
	size_t len, slen;
	int e;

	lp_diag_clear(&d);
	snprintf(path, sizeof(path), "/api/v0.2/jobs/%ld/suites/?limit=500", r->job);
	if ((e = call(r, "GET", path, NULL, &suites, &slen, msg, msg_len)) < 0)
		return e;
	snprintf(path, sizeof(path), "/api/v0.2/jobs/%ld/tests/?limit=1000", r->job);
	if ((e = call(r, "GET", path, NULL, &body, &len, msg, msg_len)) == 0)
		e = mx_lava_tests_parse(body, len, suites, slen, out, &d);
	free(body);
	free(suites);
	if (e < 0) {
		if (d.msg[0])
			snprintf(msg, msg_len, "job %ld's tests: %s", r->job, d.msg);
		return e;
	}
	snprintf(path, sizeof(path), "/api/v0.2/jobs/%ld/logs/", r->job);
	if (call(r, "GET", path, NULL, &body, &len, msg, msg_len) == 0) {
		snprintf(file, sizeof(file), "%s/lava.log", r->a->dir);
		lp_fs_write_atomic(file, body, len, 0644, 0);
		mx_lava_log_parse(body, len, &log_out, &texts, &d); /* the texts; the verdict is
								      * the test list's */
		free(body);
	}
	mx_lava_outcome_decide(out);
	e = mx_lava_write_outcome(r->a->dir, out, &texts);
	mx_lava_texts_free(&texts);
	return e;
}

int mx_lava_rest_cancel(const struct mx_lava_attempt *a)
{
	struct lp_http_client_opts o = { .base_url = a->url, .timeout_s = 30 };
	struct rest r = { .a = a };
	char file[PATH_MAX + 32], path[96], msg[512], *text = NULL, *body = NULL;
	size_t len;
	cJSON *j;
	int e;

	snprintf(file, sizeof(file), "%s/lava-job.json", a->dir);
	if ((e = lp_fs_read_file(file, 4096, &text, &len)) < 0)
		return e == -ENOENT ? 0 : e; /* not submitted */
	j = cJSON_Parse(text);
	free(text);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "job")))
		r.job = (long)cJSON_GetObjectItemCaseSensitive(j, "job")->valuedouble;
	cJSON_Delete(j);
	if (r.job <= 0)
		return -EBADMSG;
	snprintf(r.auth, sizeof(r.auth), "Authorization: Token %s", a->token);
	if ((e = lp_http_client_new(&o, &r.c)) < 0)
		return e;
	snprintf(path, sizeof(path), "/api/v0.2/jobs/%ld/cancel/", r.job);
	if ((e = call(&r, "POST", path, NULL, &body, &len, msg, sizeof(msg))) == 0)
		free(body);
	lp_http_client_free(r.c);
	return e;
}

int mx_lava_rest_attempt(const struct mx_lava_attempt *a)
{
	struct lp_http_client_opts o = { .base_url = a->url, .timeout_s = 60 };
	struct rest r = { .a = a };
	struct mx_lava_outcome out = { 0 };
	char msg[1024] = "", file[PATH_MAX + 32], id[64];
	int e;

	snprintf(r.auth, sizeof(r.auth), "Authorization: Token %s", a->token);
	if ((e = lp_http_client_new(&o, &r.c)) < 0)
		return mx_case_write_result(a->dir, "error", "lava", "", "cannot make an HTTP client",
					    "", 0);
	if ((e = submit(&r, msg, sizeof(msg))) == 0) {
		snprintf(file, sizeof(file), "%s/lava-job.json", a->dir);
		snprintf(id, sizeof(id), "{\"job\": %ld}\n", r.job);
		lp_fs_write_atomic(file, id, strlen(id), 0644, 0);
		if ((e = wait_finished(&r, &out, msg, sizeof(msg))) == 0)
			e = collect(&r, &out, msg, sizeof(msg));
	}
	lp_http_client_free(r.c);
	if (e < 0)
		return mx_case_write_result(a->dir, "error", "lava", "", msg, "", 0);
	return 0;
}

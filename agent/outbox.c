/* SPDX-License-Identifier: MIT */
/*
 * Feedback for the backends, and the persistent outbox that carries it: one file per
 * message in <data_dir>/outbox, named by a 20-digit sequence number so that name order
 * is delivery order. A message is written durably (lp_fs_write_atomic) before anything
 * depends on it, and removed only after the backend accepted it. A crash between
 * delivery and removal sends the message again, which DDI tolerates (a second "closed" is
 * answered 410 Gone).
 *
 * The one owner of each step: agent_feedback_json builds a DDI feedback body,
 * agent_feedback_queue queues one, agent_outbox_enqueue writes a message file,
 * agent_outbox_read reads one and agent_outbox_read_msg is the one parser of a message.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/json.h"

#define SEQ_DIGITS 20

struct agent_outbox {
	char dir[4096];
	uint64_t next_seq;
};

/* What a look at the directory found: the count and the lowest and highest sequence
 * numbers, and (when seqs is set) up to max of the numbers, unsorted. */
struct listing {
	uint64_t *seqs;
	size_t max, n;
	uint64_t min_seq, max_seq;
	long count;
};

/* Accepts exactly "<20 digits>.json". */
static bool parse_name(const char *name, uint64_t *ret_seq)
{
	uint64_t v = 0;

	if (strlen(name) != SEQ_DIGITS + 5 || strcmp(name + SEQ_DIGITS, ".json") != 0)
		return false;
	for (int i = 0; i < SEQ_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*ret_seq = v;
	return true;
}

static int scan(const struct agent_outbox *ob, struct listing *l)
{
	struct dirent *de;
	DIR *d;

	l->n = 0;
	l->count = 0;
	l->min_seq = UINT64_MAX;
	l->max_seq = 0;
	d = opendir(ob->dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t seq;

		if (!parse_name(de->d_name, &seq))
			continue;
		l->count++;
		if (seq < l->min_seq)
			l->min_seq = seq;
		if (seq > l->max_seq)
			l->max_seq = seq;
		if (l->seqs && l->n < l->max) /* enqueue keeps the count below the maximum */
			l->seqs[l->n++] = seq;
	}
	closedir(d);
	return 0;
}

int agent_outbox_open(const char *data_dir, struct agent_outbox **ret_outbox)
{
	struct agent_outbox *ob;
	struct listing l = { 0 };
	int r;

	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return -ENOMEM;
	r = lp_fs_path_join(ob->dir, sizeof(ob->dir), data_dir, "outbox");
	if (r < 0)
		goto fail;
	r = lp_fs_mkdir_p(ob->dir, 0755);
	if (r < 0)
		goto fail;
	r = scan(ob, &l);
	if (r < 0)
		goto fail;
	ob->next_seq = l.count ? l.max_seq + 1 : 1;
	*ret_outbox = ob;
	return 0;
fail:
	free(ob);
	return r;
}

void agent_outbox_free(struct agent_outbox *ob)
{
	free(ob);
}

static int seq_path(const struct agent_outbox *ob, uint64_t seq, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%020" PRIu64 ".json", ob->dir, seq);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int agent_outbox_enqueue(struct agent_outbox *ob, const char *msg, size_t len)
{
	struct listing l = { 0 };
	char path[4200];
	int r;

	if (len > AGENT_OUTBOX_MSG_MAX)
		return -EMSGSIZE;
	r = scan(ob, &l);
	if (r < 0)
		return r;
	if (l.count >= AGENT_OUTBOX_MAX_MSGS)
		return -ENOSPC;
	if (l.count && l.max_seq >= ob->next_seq)
		ob->next_seq = l.max_seq + 1;
	r = seq_path(ob, ob->next_seq, path, sizeof(path));
	if (r < 0)
		return r;
	r = lp_fs_write_atomic(path, msg, len, 0644, 0);
	if (r < 0)
		return r;
	ob->next_seq++;
	return 0;
}

int agent_outbox_read(struct agent_outbox *ob, uint64_t seq, char **ret_msg, size_t *ret_len)
{
	char path[4200];
	int r;

	r = seq_path(ob, seq, path, sizeof(path));
	if (r < 0)
		return r;
	return lp_fs_read_file(path, AGENT_OUTBOX_MSG_MAX, ret_msg, ret_len);
}

int agent_outbox_peek(struct agent_outbox *ob, uint64_t *ret_seq, char **ret_msg, size_t *ret_len)
{
	struct listing l = { 0 };
	int r;

	r = scan(ob, &l);
	if (r < 0)
		return r;
	if (l.count == 0)
		return 0;
	r = agent_outbox_read(ob, l.min_seq, ret_msg, ret_len);
	if (r < 0)
		return r;
	*ret_seq = l.min_seq;
	return 1;
}

int agent_outbox_remove(struct agent_outbox *ob, uint64_t seq)
{
	char path[4200];
	int r;

	r = seq_path(ob, seq, path, sizeof(path));
	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return lp_fs_fsync_dir(ob->dir);
}

long agent_outbox_count(struct agent_outbox *ob)
{
	struct listing l = { 0 };
	int r = scan(ob, &l);

	return r < 0 ? r : l.count;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int agent_outbox_list(struct agent_outbox *ob, uint64_t *seqs, size_t max, size_t *ret_n)
{
	struct listing l = { .seqs = seqs, .max = max };
	int r = scan(ob, &l);

	if (r < 0)
		return r;
	qsort(seqs, l.n, sizeof(*seqs), cmp_u64);
	*ret_n = l.n;
	return 0;
}

/* ---- feedback messages ---- */

char *agent_feedback_json(const char *execution, const char *finished, int progress_percent,
			  const char *const *details, size_t n_details)
{
	cJSON *fb = cJSON_CreateObject(), *status, *result, *arr;
	char *out = NULL;

	if (!fb)
		return NULL;
	if (!cJSON_AddNumberToObject(fb, "timestamp", (double)lp_clock_wall_ms()) ||
	    !(status = cJSON_AddObjectToObject(fb, "status")) ||
	    !cJSON_AddStringToObject(status, "execution", execution) ||
	    !(result = cJSON_AddObjectToObject(status, "result")) ||
	    !cJSON_AddStringToObject(result, "finished", finished) ||
	    !(arr = cJSON_AddArrayToObject(status, "details")))
		goto out;
	if (progress_percent >= 0) {
		cJSON *pr = cJSON_AddObjectToObject(result, "progress");

		if (!pr || !cJSON_AddNumberToObject(pr, "cnt", progress_percent) ||
		    !cJSON_AddNumberToObject(pr, "of", 100))
			goto out;
	}
	for (size_t i = 0; i < n_details; i++) {
		cJSON *s = cJSON_CreateString(details[i]);

		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto out;
		}
	}
	out = cJSON_PrintUnformatted(fb);
out:
	cJSON_Delete(fb);
	return out;
}

int agent_feedback_queue(const char *data_dir, const char *backend, const char *action_id,
			 const char *execution, const char *finished, const char *const *details,
			 size_t n_details, struct lp_diag *diag)
{
	struct agent_outbox *ob = NULL;
	char *fb = NULL, *text = NULL;
	cJSON *msg = NULL;
	int r;

	if (!backend || !backend[0] || !action_id || !action_id[0])
		return 0; /* an update without an action (a local install) reports to no one */
	r = -ENOMEM;
	fb = agent_feedback_json(execution, finished, -1, details, n_details);
	msg = cJSON_CreateObject();
	if (!fb || !msg || !cJSON_AddStringToObject(msg, "backend", backend) ||
	    !cJSON_AddStringToObject(msg, "action_id", action_id) ||
	    !cJSON_AddRawToObject(msg, "feedback", fb) || !(text = cJSON_PrintUnformatted(msg)))
		goto out;
	r = agent_outbox_open(data_dir, &ob);
	if (r == 0)
		r = agent_outbox_enqueue(ob, text, strlen(text));
out:
	if (r < 0)
		lp_diag_fail(diag, r, "cannot queue %s/%s feedback for action %s of backend %s: %s",
			     execution, finished, action_id, backend, strerror(-r));
	agent_outbox_free(ob);
	cJSON_Delete(msg);
	free(text);
	free(fb);
	return r;
}

int agent_outbox_read_msg(struct agent_outbox *ob, uint64_t seq, struct agent_outbox_msg *ret,
			  struct lp_diag *diag)
{
	const char *backend = NULL, *action = NULL;
	const cJSON *fb;
	cJSON *root = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = agent_outbox_read(ob, seq, &text, &len);
	if (r < 0)
		return lp_diag_fail(diag, r, "outbox message %" PRIu64 ": %s", seq, strerror(-r));
	if (lp_json_parse(text, len, AGENT_OUTBOX_MSG_MAX, 8, &root, diag) < 0 ||
	    lp_json_get_string(root, "backend", true, "", &backend, diag) < 0 ||
	    lp_json_get_string(root, "action_id", true, "", &action, diag) < 0) {
		r = -EBADMSG;
		goto out;
	}
	fb = cJSON_GetObjectItemCaseSensitive(root, "feedback");
	if (!cJSON_IsObject(fb)) {
		r = lp_diag_fail_at(diag, -EBADMSG, "feedback", "expected an object");
		goto out;
	}
	if (strlen(backend) >= sizeof(ret->backend) || strlen(action) >= sizeof(ret->action_id)) {
		r = lp_diag_fail(diag, -EBADMSG, "backend or action id too long");
		goto out;
	}
	ret->feedback = cJSON_PrintUnformatted(fb);
	if (!ret->feedback) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(ret->backend, backend, strlen(backend) + 1);
	memcpy(ret->action_id, action, strlen(action) + 1);
	r = 0;
out:
	cJSON_Delete(root);
	free(text);
	return r;
}

void agent_outbox_msg_clear(struct agent_outbox_msg *m)
{
	free(m->feedback);
	m->feedback = NULL;
}

int agent_outbox_find(const char *data_dir, const char *backend, const char *action_id)
{
	struct agent_outbox *ob = NULL;
	uint64_t *seqs = calloc(AGENT_OUTBOX_MAX_MSGS, sizeof(*seqs));
	size_t n = 0;
	int r;

	r = seqs ? agent_outbox_open(data_dir, &ob) : -ENOMEM;
	if (r == 0)
		r = agent_outbox_list(ob, seqs, AGENT_OUTBOX_MAX_MSGS, &n);
	for (size_t k = 0; r == 0 && k < n; k++) {
		struct agent_outbox_msg m;

		/* an unreadable message is dropped at delivery; it answers nothing here */
		if (agent_outbox_read_msg(ob, seqs[k], &m, NULL) < 0)
			continue;
		if (strcmp(m.backend, backend) == 0 && strcmp(m.action_id, action_id) == 0)
			r = 1;
		agent_outbox_msg_clear(&m);
	}
	free(seqs);
	agent_outbox_free(ob);
	return r;
}

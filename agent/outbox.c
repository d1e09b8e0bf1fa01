/* SPDX-License-Identifier: MIT */
/*
 * The persistent outbox: one file per feedback message in <data_dir>/outbox, named by a
 * 20-digit sequence number so that name order is delivery order. A message is written
 * durably (temp, fsync, rename, fsync dir) before anything depends on it, and removed
 * only after the backend accepted it. A crash between delivery and removal sends the
 * message again, which DDI tolerates (a second "closed" is answered 410 Gone).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "loopline/fs.h"

#define SEQ_DIGITS 20

struct agent_outbox {
	char dir[4096];
	uint64_t next_seq;
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

/* Counts the message files and finds the lowest and highest sequence numbers. */
static int scan(struct agent_outbox *ob, uint64_t *ret_min, uint64_t *ret_max, long *ret_count)
{
	uint64_t min = UINT64_MAX, max = 0;
	long count = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(ob->dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t seq;

		if (!parse_name(de->d_name, &seq))
			continue;
		count++;
		if (seq < min)
			min = seq;
		if (seq > max)
			max = seq;
	}
	closedir(d);
	*ret_min = min;
	*ret_max = max;
	*ret_count = count;
	return 0;
}

int agent_outbox_open(const char *data_dir, struct agent_outbox **ret_outbox)
{
	struct agent_outbox *ob;
	uint64_t min, max;
	long count;
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
	r = scan(ob, &min, &max, &count);
	if (r < 0)
		goto fail;
	ob->next_seq = count ? max + 1 : 1;
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
	char path[4200];
	uint64_t min, max;
	long count;
	int r;

	if (len > AGENT_OUTBOX_MSG_MAX)
		return -EMSGSIZE;
	r = scan(ob, &min, &max, &count);
	if (r < 0)
		return r;
	if (count >= AGENT_OUTBOX_MAX_MSGS)
		return -ENOSPC;
	if (count && max >= ob->next_seq)
		ob->next_seq = max + 1;
	r = seq_path(ob, ob->next_seq, path, sizeof(path));
	if (r < 0)
		return r;
	r = lp_fs_write_atomic(path, msg, len, 0644, 0);
	if (r < 0)
		return r;
	ob->next_seq++;
	return 0;
}

int agent_outbox_peek(struct agent_outbox *ob, uint64_t *ret_seq, char **ret_msg, size_t *ret_len)
{
	char path[4200];
	uint64_t min, max;
	long count;
	int r;

	r = scan(ob, &min, &max, &count);
	if (r < 0)
		return r;
	if (count == 0)
		return 0;
	r = seq_path(ob, min, path, sizeof(path));
	if (r < 0)
		return r;
	r = lp_fs_read_file(path, AGENT_OUTBOX_MSG_MAX, ret_msg, ret_len);
	if (r < 0)
		return r;
	*ret_seq = min;
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
	uint64_t min, max;
	long count;
	int r = scan(ob, &min, &max, &count);

	return r < 0 ? r : count;
}

int agent_outbox_feedback(struct agent_outbox *ob, const char *backend, const char *action_id,
			  const char *execution, const char *finished, const char *const *details,
			  size_t n_details)
{
	cJSON *msg, *fb, *status, *result, *arr;
	struct timespec now;
	char *text = NULL;
	int r = -ENOMEM;

	clock_gettime(CLOCK_REALTIME, &now);
	msg = cJSON_CreateObject();
	if (!msg)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(msg, "backend", backend) ||
	    !cJSON_AddStringToObject(msg, "action_id", action_id) ||
	    !(fb = cJSON_AddObjectToObject(msg, "feedback")) ||
	    !cJSON_AddNumberToObject(fb, "timestamp",
				     (double)now.tv_sec * 1000.0 + (double)(now.tv_nsec / 1000000)) ||
	    !(status = cJSON_AddObjectToObject(fb, "status")) ||
	    !cJSON_AddStringToObject(status, "execution", execution) ||
	    !(result = cJSON_AddObjectToObject(status, "result")) ||
	    !cJSON_AddStringToObject(result, "finished", finished) ||
	    !(arr = cJSON_AddArrayToObject(status, "details")))
		goto out;
	for (size_t i = 0; i < n_details; i++) {
		cJSON *s = cJSON_CreateString(details[i]);

		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto out;
		}
	}
	text = cJSON_PrintUnformatted(msg);
	if (!text)
		goto out;
	r = agent_outbox_enqueue(ob, text, strlen(text));
out:
	free(text);
	cJSON_Delete(msg);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int agent_outbox_list(struct agent_outbox *ob, uint64_t *seqs, size_t max, size_t *ret_n)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir(ob->dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t seq;

		if (!parse_name(de->d_name, &seq))
			continue;
		if (n == max)
			break; /* enqueue keeps the count below AGENT_OUTBOX_MAX_MSGS */
		seqs[n++] = seq;
	}
	closedir(d);
	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	*ret_n = n;
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

/* SPDX-License-Identifier: MIT */
/* The outbox keeps messages across restarts and hands them out in order. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "agent.h"

static void rm_tree(const char *dir)
{
	char path[4200];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/outbox", dir);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			char f[4608];

			if (de->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			unlink(f);
		}
		closedir(d);
		rmdir(path);
	}
	rmdir(dir);
}

static void test_order_and_restart(void **state)
{
	char dir[] = "/tmp/agent-outbox-XXXXXX";
	struct agent_outbox *ob = NULL;
	uint64_t seq, first;
	char *msg = NULL;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(agent_outbox_open(dir, &ob), 0);
	assert_int_equal(agent_outbox_count(ob), 0);
	assert_int_equal(agent_outbox_peek(ob, &seq, &msg, &len), 0);
	assert_int_equal(agent_outbox_enqueue(ob, "one", 3), 0);
	assert_int_equal(agent_outbox_enqueue(ob, "two", 3), 0);
	agent_outbox_free(ob);

	/* a restart continues after the last message */
	assert_int_equal(agent_outbox_open(dir, &ob), 0);
	assert_int_equal(agent_outbox_enqueue(ob, "three", 5), 0);
	assert_int_equal(agent_outbox_count(ob), 3);
	assert_int_equal(agent_outbox_peek(ob, &first, &msg, &len), 1);
	assert_string_equal(msg, "one");
	assert_int_equal(len, 3);
	free(msg);
	assert_int_equal(agent_outbox_remove(ob, first), 0);
	assert_int_equal(agent_outbox_remove(ob, first), 0); /* twice is harmless */
	assert_int_equal(agent_outbox_peek(ob, &seq, &msg, &len), 1);
	assert_string_equal(msg, "two");
	assert_true(seq > first);
	free(msg);
	assert_int_equal(agent_outbox_remove(ob, seq), 0);
	assert_int_equal(agent_outbox_peek(ob, &seq, &msg, &len), 1);
	assert_string_equal(msg, "three");
	free(msg);
	assert_int_equal(agent_outbox_remove(ob, seq), 0);
	assert_int_equal(agent_outbox_count(ob), 0);
	/* sequence numbers never go back, even once the outbox is empty */
	assert_int_equal(agent_outbox_enqueue(ob, "four", 4), 0);
	assert_int_equal(agent_outbox_peek(ob, &first, &msg, &len), 1);
	assert_true(first > seq);
	free(msg);
	agent_outbox_free(ob);
	agent_outbox_free(NULL);
	rm_tree(dir);
}

static void test_limits_and_feedback(void **state)
{
	char dir[] = "/tmp/agent-outbox-XXXXXX";
	struct agent_outbox *ob = NULL;
	const char *details[] = { "slot B", "version 1.2.0" };
	const cJSON *status;
	cJSON *root;
	char *big, *msg = NULL;
	uint64_t seq;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(agent_outbox_open(dir, &ob), 0);
	big = calloc(1, AGENT_OUTBOX_MSG_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', AGENT_OUTBOX_MSG_MAX + 1);
	assert_int_equal(agent_outbox_enqueue(ob, big, AGENT_OUTBOX_MSG_MAX + 1), -EMSGSIZE);
	free(big);
	assert_int_equal(agent_feedback_queue(dir, "main", "42", "closed", "failure", details, 2, NULL), 0);
	/* an update without an action reports to no one */
	assert_int_equal(agent_feedback_queue(dir, "", "", "closed", "failure", details, 2, NULL), 0);
	assert_int_equal(agent_outbox_count(ob), 1);
	assert_int_equal(agent_outbox_peek(ob, &seq, &msg, &len), 1);
	root = cJSON_Parse(msg);
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "backend")->valuestring, "main");
	assert_string_equal(cJSON_GetObjectItem(root, "action_id")->valuestring, "42");
	status = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "feedback"), "status");
	assert_string_equal(cJSON_GetObjectItem(status, "execution")->valuestring, "closed");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(status, "result"), "finished")->valuestring,
			    "failure");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(status, "details")), 2);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "feedback"), "timestamp")));
	cJSON_Delete(root);
	free(msg);
	agent_outbox_free(ob);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_restart),
		cmocka_unit_test(test_limits_and_feedback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

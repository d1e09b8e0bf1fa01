/* SPDX-License-Identifier: MIT */
/* Unit tests of backend/lastseen.c: the per-worker map and the writer thread, against a
 * real store in a temporary directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"

#define N_DEVICES 3000 /* more than one growth of the map */

static void test_map(void **state)
{
	struct be_seen_map m = { 0 };
	size_t found = 0;

	assert_int_equal(be_seen_note(&m, 0, 1, "x"), -EINVAL);
	for (int64_t d = 1; d <= N_DEVICES; d++)
		assert_int_equal(be_seen_note(&m, d, 100 + d, "10.0.0.1"), 0);
	/* a second poll of a device refreshes its entry */
	assert_int_equal(be_seen_note(&m, 7, 5000, "10.0.0.7"), 0);
	assert_int_equal(m.n, N_DEVICES);
	assert_true(m.cap >= N_DEVICES);
	for (size_t j = 0; j < m.cap; j++) {
		if (!m.slot[j].device)
			continue;
		found++;
		if (m.slot[j].device == 7) {
			assert_int_equal(m.slot[j].time, 5000);
			assert_string_equal(m.slot[j].ip, "10.0.0.7");
		} else {
			assert_int_equal(m.slot[j].time, 100 + m.slot[j].device);
		}
	}
	assert_int_equal(found, N_DEVICES);
	be_seen_map_clear(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.slot);
}

static void test_writer(void **state)
{
	char dir[] = "/tmp/lp-backend-seen.XXXXXX", cmd[64], cid[16];
	struct be_seen_writer *wr = NULL;
	struct be_seen_map m = { 0 };
	struct be_store *s = NULL;
	struct be_device d;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(be_store_open(dir, "t1", true, &s), 0);
	for (int i = 1; i <= 20; i++) {
		snprintf(cid, sizeof(cid), "dev%d", i);
		assert_int_equal(be_store_device_create(s, cid, "", false, NULL, 0), 0);
	}
	assert_int_equal(be_seen_writer_start(dir, &wr), 0);
	for (int64_t id = 1; id <= 20; id++)
		assert_int_equal(be_seen_note(&m, id, 1000 + id, "192.0.2.1"), 0);
	be_seen_hand_over(wr, "t1", &m);
	assert_int_equal(m.n, 0); /* handed over, not copied */
	/* a later batch with an older time for dev1 must not win */
	assert_int_equal(be_seen_note(&m, 1, 10, "192.0.2.99"), 0);
	be_seen_hand_over(wr, "t1", &m);
	/* an unknown tenant's batch is dropped without harm */
	assert_int_equal(be_seen_note(&m, 1, 10, "x"), 0);
	be_seen_hand_over(wr, "nope", &m);
	be_seen_writer_stop(wr); /* writes everything queued before it returns */
	assert_int_equal(be_store_device_get(s, "dev1", &d), 0);
	assert_int_equal(d.last_seen, 1001);
	assert_string_equal(d.last_ip, "192.0.2.1");
	assert_int_equal(be_store_device_get(s, "dev20", &d), 0);
	assert_int_equal(d.last_seen, 1020);
	be_store_close(s);
	be_seen_writer_stop(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

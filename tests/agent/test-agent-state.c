/* SPDX-License-Identifier: MIT */
/* The state machine's table, the strict state file and its atomic persistence. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "loopline/fs.h"

static void test_names(void **state)
{
	enum agent_state_id id;

	(void)state;
	for (unsigned i = 0; i < AGENT_STATE_COUNT_; i++) {
		assert_int_equal(agent_state_parse_name(agent_state_name((enum agent_state_id)i), &id), 0);
		assert_int_equal(id, i);
	}
	assert_int_equal(agent_state_parse_name("Idle", &id), -EINVAL);
	assert_string_equal(agent_state_name(AGENT_STATE_BOOTING_NEW), "booting-new");
}

static void test_transitions(void **state)
{
	(void)state;
	/* the happy path */
	assert_true(agent_state_transition_allowed(AGENT_STATE_IDLE, AGENT_STATE_DOWNLOADING));
	assert_true(agent_state_transition_allowed(AGENT_STATE_DOWNLOADING, AGENT_STATE_INSTALLING));
	assert_true(agent_state_transition_allowed(AGENT_STATE_INSTALLING, AGENT_STATE_INSTALLED));
	assert_true(agent_state_transition_allowed(AGENT_STATE_INSTALLED, AGENT_STATE_BOOTING_NEW));
	assert_true(agent_state_transition_allowed(AGENT_STATE_BOOTING_NEW, AGENT_STATE_VERIFYING));
	assert_true(agent_state_transition_allowed(AGENT_STATE_VERIFYING, AGENT_STATE_COMMITTED));
	assert_true(agent_state_transition_allowed(AGENT_STATE_VERIFYING, AGENT_STATE_ROLLING_BACK));
	assert_true(agent_state_transition_allowed(AGENT_STATE_ROLLING_BACK, AGENT_STATE_ROLLED_BACK));
	assert_true(agent_state_transition_allowed(AGENT_STATE_COMMITTED, AGENT_STATE_INSTALLING));
	/* never commit what was not verified, never skip the rollback's reboot */
	assert_false(agent_state_transition_allowed(AGENT_STATE_INSTALLED, AGENT_STATE_COMMITTED));
	assert_false(agent_state_transition_allowed(AGENT_STATE_INSTALLING, AGENT_STATE_COMMITTED));
	assert_false(agent_state_transition_allowed(AGENT_STATE_ROLLING_BACK, AGENT_STATE_COMMITTED));
	assert_false(agent_state_transition_allowed(AGENT_STATE_IDLE, AGENT_STATE_INSTALLED));
	assert_false(agent_state_transition_allowed(AGENT_STATE_VERIFYING, AGENT_STATE_IDLE));
	assert_false(agent_state_transition_allowed(AGENT_STATE_ROLLING_BACK, AGENT_STATE_IDLE));
}

static void test_parse_strict(void **state)
{
	struct agent_state st;
	struct lp_diag diag;
	const char *ok = "{\"state\":\"installed\",\"from_slot\":\"A\",\"to_slot\":\"B\","
			 "\"to_version\":\"1.2.0\",\"security_version\":4}";
	const char *bad[] = {
		"{\"state\":\"installed\",\"from_slot\":\"A\",\"to_slot\":\"B\",\"extra\":1}",
		"{\"state\":\"sleeping\"}",
		"{\"state\":\"installed\",\"from_slot\":\"A\",\"to_slot\":\"A\"}",
		"{\"state\":\"idle\",\"from_slot\":\"C\"}",
		"{\"state\":\"idle\",\"security_version\":-1}",
		"{\"state\":\"idle\",\"result\":\"maybe\"}",
		"{\"result\":\"none\"}",
		"{\"state\":\"idle\"",
	};

	(void)state;
	lp_diag_clear(&diag);
	assert_int_equal(agent_state_parse(ok, strlen(ok), &st, &diag), 0);
	assert_int_equal(st.state, AGENT_STATE_INSTALLED);
	assert_int_equal(st.to_slot, AGENT_SLOT_B);
	assert_string_equal(st.to_version, "1.2.0");
	assert_int_equal(st.security_version, 4);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lp_diag_clear(&diag);
		if (agent_state_parse(bad[i], strlen(bad[i]), &st, &diag) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_true(diag.msg[0] != '\0');
	}
}

/* Files in dir whose name contains ".tmp". */
static int count_tmp_files(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".tmp") != NULL;
	closedir(d);
	return n;
}

static void test_persist_roundtrip(void **state)
{
	char dir[] = "/tmp/agent-state-XXXXXX";
	char path[4200];
	struct agent_state st, back;
	struct lp_diag diag;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("LOOPLINE_AGENT_BOOT_ID", "boot-one", 1);
	lp_diag_clear(&diag);
	assert_int_equal(agent_state_load(dir, &st, &diag), 0); /* no file: idle */
	assert_int_equal(st.state, AGENT_STATE_IDLE);
	st.from_slot = AGENT_SLOT_A;
	st.to_slot = AGENT_SLOT_B;
	snprintf(st.to_version, sizeof(st.to_version), "2.0.0");
	snprintf(st.backend, sizeof(st.backend), "main");
	snprintf(st.action_id, sizeof(st.action_id), "17");
	snprintf(st.reason, sizeof(st.reason), "quote \" and newline \n survive");
	st.to_security_version = 9007199254740991ULL;
	assert_int_equal(agent_state_persist(dir, &st, AGENT_STATE_INSTALLING, &diag), 0);
	assert_int_equal(agent_state_persist(dir, &st, AGENT_STATE_COMMITTED, &diag), -ENOTRECOVERABLE);
	assert_non_null(strstr(diag.msg, "from installing to committed"));
	assert_int_equal(st.state, AGENT_STATE_INSTALLING);
	assert_int_equal(agent_state_load(dir, &back, &diag), 0);
	assert_int_equal(back.state, AGENT_STATE_INSTALLING);
	assert_string_equal(back.boot_id, "boot-one");
	assert_string_equal(back.reason, st.reason);
	assert_string_equal(back.action_id, "17");
	assert_int_equal(back.to_security_version, 9007199254740991ULL);
	assert_int_equal(back.to_slot, AGENT_SLOT_B);
	/* no temporary file (lp_fs_write_atomic's "state.json.tmp-XXXXXX") is left behind */
	assert_int_equal(count_tmp_files(dir), 0);
	/* a corrupt file is an error, not a silent reset */
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(lp_fs_write_atomic(path, "{\"state\":", 9, 0644, 0), 0);
	assert_int_not_equal(agent_state_load(dir, &back, &diag), 0);
	unlink(path);
	rmdir(dir);
	unsetenv("LOOPLINE_AGENT_BOOT_ID");
}

/*
 * A persist replaces state.json (new inode, renamed over it), never rewrites it in place:
 * a hard link to the old file must still hold the old state, complete, after the
 * persist. Rewriting in place (open with O_TRUNC and write) would truncate and rewrite
 * the very inode the link points to — the torn file a power cut would leave behind.
 * (The QEMU power-cut test notices that too, but only after minutes.)
 */
static void test_persist_replaces_atomically(void **state)
{
	char dir[] = "/tmp/agent-state-XXXXXX";
	char path[4200], old_link[4200];
	char *before = NULL, *kept = NULL, *now = NULL;
	struct agent_state st, back;
	struct lp_diag diag;
	struct stat sb_old, sb_link, sb_new;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("LOOPLINE_AGENT_BOOT_ID", "boot-two", 1);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(old_link, sizeof(old_link), "%s/old-state.json", dir);
	lp_diag_clear(&diag);
	assert_int_equal(agent_state_load(dir, &st, &diag), 0);
	st.from_slot = AGENT_SLOT_A;
	st.to_slot = AGENT_SLOT_B;
	snprintf(st.to_version, sizeof(st.to_version), "3.0.0");
	snprintf(st.reason, sizeof(st.reason), "%s", "a reason long enough that a rewrite in place "
		 "would leave a different length behind");
	assert_int_equal(agent_state_persist(dir, &st, AGENT_STATE_INSTALLING, &diag), 0);
	assert_int_equal(lp_fs_read_file(path, AGENT_STATE_MAX, &before, NULL), 0);
	assert_int_equal(stat(path, &sb_old), 0);
	assert_int_equal(link(path, old_link), 0);

	st.reason[0] = '\0';
	assert_int_equal(agent_state_persist(dir, &st, AGENT_STATE_INSTALLED, &diag), 0);

	/* the old inode is untouched: same inode, the complete old text */
	assert_int_equal(stat(old_link, &sb_link), 0);
	assert_int_equal(sb_link.st_ino, sb_old.st_ino);
	assert_int_equal(lp_fs_read_file(old_link, AGENT_STATE_MAX, &kept, NULL), 0);
	assert_string_equal(kept, before);
	/* state.json is another inode with the new state */
	assert_int_equal(stat(path, &sb_new), 0);
	assert_int_not_equal(sb_new.st_ino, sb_old.st_ino);
	assert_int_equal(lp_fs_read_file(path, AGENT_STATE_MAX, &now, NULL), 0);
	assert_string_not_equal(now, before);
	assert_int_equal(agent_state_load(dir, &back, &diag), 0);
	assert_int_equal(back.state, AGENT_STATE_INSTALLED);
	assert_int_equal(count_tmp_files(dir), 0);

	free(before);
	free(kept);
	free(now);
	unlink(old_link);
	unlink(path);
	rmdir(dir);
	unsetenv("LOOPLINE_AGENT_BOOT_ID");
}

static void test_version_file(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* NULL: refused */
	} cases[] = {
		{ "NAME=\"Loopline\"\nVERSION_ID=1.2.0-bad-health\nVERSION=\"x y\"\n", "1.2.0-bad-health" },
		{ "ID=debian\nVERSION_ID=\"12\"\n", "12" },
		{ "VERSION_ID='3.1~rc1'", "3.1~rc1" },
		{ "1.0.0\n", "1.0.0" },
		{ "2.0.0+build.7 \r\nsecond line\n", "2.0.0+build.7" },
		{ "", NULL },
		{ "\n1.0.0\n", NULL },
		{ "VERSION_ID=\n", NULL },
		{ "VERSION_ID=1.0 beta\n", NULL },
		{ "1.0.0;rm -rf /\n", NULL },
		{ "VERSION_ID=\"unterminated\n", NULL },
		{ "0123456789012345678901234567890123456789012345678901234567890123\n", NULL },
	};
	char tmp[] = "/tmp/lp-version.XXXXXX";
	struct agent_config cfg = { 0 };
	struct agent_state st = { 0 };
	struct lp_diag diag;
	char v[64];
	FILE *f;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		lp_diag_clear(&diag);
		v[0] = '\0';
		r = agent_version_file_parse(cases[i].text, strlen(cases[i].text), v, sizeof(v), &diag);
		if (cases[i].want) {
			assert_int_equal(r, 0);
			assert_string_equal(v, cases[i].want);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_true(diag.msg[0] != '\0');
		}
	}
	/* the running version: the file when it says something, else the committed one */
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("VERSION_ID=1.4.0\n", f);
	fclose(f);
	snprintf(st.version, sizeof(st.version), "1.3.0");
	agent_running_version(&cfg, &st, v, sizeof(v));
	assert_string_equal(v, "1.3.0");
	cfg.version_file = tmp;
	agent_running_version(&cfg, &st, v, sizeof(v));
	assert_string_equal(v, "1.4.0");
	f = fopen(tmp, "w");
	fputs("not a version!\n", f);
	fclose(f);
	agent_running_version(&cfg, &st, v, sizeof(v));
	assert_string_equal(v, "1.3.0");
	unlink(tmp);
	st.version[0] = '\0';
	agent_running_version(&cfg, &st, v, sizeof(v));
	assert_string_equal(v, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_persist_roundtrip),
		cmocka_unit_test(test_persist_replaces_atomically),
		cmocka_unit_test(test_version_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

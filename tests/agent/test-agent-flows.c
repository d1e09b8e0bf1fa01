/* SPDX-License-Identifier: MIT */
/*
 * Component tests of the device side of an update, with the real loopline-agent binary,
 * slots and a redundant U-Boot environment as files, and bootsim playing the bootloader:
 * success; health check failure → rollback; a slot that never boots → bootloader fallback;
 * refused packages; mark-good / mark-bad; status.
 */
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

#include "agent-test.h"
#include "loopline/fs.h"

#define IMAGE_LEN (300u * 1024u + 123u)

static uint8_t image[IMAGE_LEN];
static uint8_t image2[IMAGE_LEN];

static int setup(void **state)
{
	struct at_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	at_setup(d);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	at_teardown(*state);
	free(*state);
	return 0;
}

static int setup_grub(void **state)
{
	struct at_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	at_setup_grub(d);
	*state = d;
	return 0;
}

static void pkg_path(struct at_dev *d, char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", d->dir, name);
}

#define EXPECT_RC(call, want)                                                             \
	do {                                                                              \
		int rc_ = (call);                                                         \
		if (rc_ != (want))                                                        \
			fail_msg("%s: exit %d, want %d; output:\n%s", #call, rc_, (want), \
				 d->out);                                                 \
	} while (0)

/* Installs `pkg` on slot A in boot "boot-0" as action main:ACTION. */
static void install_ok(struct at_dev *d, const char *pkg, const char *action)
{
	struct lp_bootenv_boot b;
	struct agent_state st;

	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "install", pkg, "--action", action, NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_INSTALLED);
	assert_int_equal(st.from_slot, AGENT_SLOT_A);
	assert_int_equal(st.to_slot, AGENT_SLOT_B);
	at_bootenv(d, &b);
	assert_string_equal(b.boot_slot, "B");
	assert_true(b.upgrade_available);
	assert_int_equal(b.bootcount, 0);
}

static void test_update_success(void **state)
{
	struct at_dev *d = *state;
	struct lp_bootenv_boot b;
	struct agent_state st;
	char pkg[AT_PATH + 32];
	long n;
	char *ob;

	pkg_path(d, pkg, sizeof(pkg), "v1.1.0.lpkg");
	at_make_package(d, pkg, "1.1.0", 2, "test-board", d->key, image, sizeof(image));
	install_ok(d, pkg, "main:42");
	assert_true(at_slot_equals(d, AGENT_SLOT_B, image, sizeof(image)));
	/* the running slot was not touched */
	assert_true(at_slot_equals(d, AGENT_SLOT_A, (const uint8_t *)"slot A: version 1.0.0 running\n", 30));
	/* the agent restarting in the same boot changes nothing: reboot pending */
	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "boot", NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_INSTALLED);
	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "status", NULL), 0);
	assert_non_null(strstr(d->out, "reboot pending"));
	/* a second install while one is in flight is refused */
	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "install", pkg, NULL), LP_EXIT_BUSY);
	assert_non_null(strstr(d->out, "in flight"));

	/* reboot: the bootloader tries B, the agent health-checks and commits */
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "B");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_COMMITTED);
	assert_int_equal(st.result, AGENT_RESULT_SUCCESS);
	assert_string_equal(st.version, "1.1.0");
	assert_int_equal(st.security_version, 2);
	at_bootenv(d, &b);
	assert_string_equal(b.boot_slot, "B");
	assert_false(b.upgrade_available);
	assert_int_equal(b.bootcount, 0);
	ob = at_outbox(d, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(ob, "\"action_id\":\"42\""));
	assert_non_null(strstr(ob, "\"execution\":\"closed\""));
	assert_non_null(strstr(ob, "\"finished\":\"success\""));
	free(ob);

	/* later boots keep B and stay committed */
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "B");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_COMMITTED);

	/* the next update goes to A, the now inactive slot */
	at_fill(image2, sizeof(image2), 99);
	pkg_path(d, pkg, sizeof(pkg), "v1.2.0.lpkg");
	at_make_package(d, pkg, "1.2.0", 2, "test-board", d->key, image2, sizeof(image2));
	EXPECT_RC(at_agent(d, "B", "boot-9", NULL, "install", pkg, NULL), 0);
	assert_true(at_slot_equals(d, AGENT_SLOT_A, image2, sizeof(image2)));
	assert_true(at_slot_equals(d, AGENT_SLOT_B, image, sizeof(image)));
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "A");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_COMMITTED);
	assert_string_equal(st.version, "1.2.0");
	/* a local install without an action reports nothing */
	ob = at_outbox(d, &n);
	assert_int_equal(n, 1);
	free(ob);
}

static void test_health_fail_rollback(void **state)
{
	struct at_dev *d = *state;
	struct lp_bootenv_boot b;
	struct agent_state st;
	char pkg[AT_PATH + 32];
	long n;
	char *ob;
	FILE *f;

	pkg_path(d, pkg, sizeof(pkg), "bad-health.lpkg");
	at_make_package(d, pkg, "1.1.0", 1, "test-board", d->key, image, sizeof(image));
	install_ok(d, pkg, "main:7");
	f = fopen(d->health_flag, "w");
	assert_non_null(f);
	fclose(f);

	/* B boots, its health check fails: switch back to A and ask for a reboot */
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "B");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_ROLLING_BACK);
	assert_non_null(strstr(st.reason, "health check \"app\" failed with exit status 1"));
	at_bootenv(d, &b);
	assert_string_equal(b.boot_slot, "A");
	assert_false(b.upgrade_available);
	assert_int_equal(at_count_lines(d->reboot_log), 1);
	/* nothing is reported before the reboot */
	ob = at_outbox(d, &n);
	assert_int_equal(n, 0);
	free(ob);

	/* back on A: the failure is recorded and queued with the details */
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "A");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_ROLLED_BACK);
	assert_int_equal(st.result, AGENT_RESULT_FAILURE);
	assert_int_equal(st.security_version, 0); /* the failed version did not raise it */
	ob = at_outbox(d, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(ob, "\"action_id\":\"7\""));
	assert_non_null(strstr(ob, "\"finished\":\"failure\""));
	assert_non_null(strstr(ob, "rolled back to slot A"));
	assert_non_null(strstr(ob, "health check"));
	assert_non_null(strstr(ob, "update target B"));
	assert_non_null(strstr(ob, "offered 1.1.0"));
	free(ob);
	EXPECT_RC(at_agent(d, "A", "boot-x", NULL, "status", "--json", NULL), 0);
	{
		cJSON *root = cJSON_Parse(d->out);

		assert_non_null(root);
		assert_string_equal(cJSON_GetObjectItem(root, "state")->valuestring, "rolled-back");
		assert_string_equal(cJSON_GetObjectItem(root, "running_slot")->valuestring, "A");
		assert_string_equal(cJSON_GetObjectItem(root, "to_version")->valuestring, "1.1.0");
		assert_int_equal(cJSON_GetObjectItem(root, "outbox")->valueint, 1);
		cJSON_Delete(root);
	}

	/* the device can update again afterwards */
	unlink(d->health_flag);
	install_ok(d, pkg, "main:8");
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_COMMITTED);
}

static void test_slot_never_boots(void **state)
{
	struct at_dev *d = *state;
	struct lp_bootenv_boot b;
	struct agent_state st;
	char pkg[AT_PATH + 32];
	long n;
	char *ob;

	pkg_path(d, pkg, sizeof(pkg), "no-boot.lpkg");
	at_make_package(d, pkg, "1.1.0", 1, "test-board", d->key, image, sizeof(image));
	install_ok(d, pkg, "main:5");
	/* bootlimit 3: three attempts of B crash before the agent runs */
	for (unsigned i = 1; i <= 3; i++) {
		EXPECT_RC(at_boot(d, "B", NULL, NULL), 3);
		assert_string_equal(at_booted_slot(d), "B");
		at_bootenv(d, &b);
		assert_int_equal(b.bootcount, i);
	}
	/* the fourth boot falls back to A, and the agent notices */
	EXPECT_RC(at_boot(d, "B", NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "A");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_ROLLED_BACK);
	assert_non_null(strstr(st.reason, "fell back to slot A"));
	at_bootenv(d, &b);
	assert_string_equal(b.boot_slot, "A");
	assert_false(b.upgrade_available);
	ob = at_outbox(d, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(ob, "\"finished\":\"failure\""));
	assert_non_null(strstr(ob, "did not come up"));
	free(ob);
	/* no reboot was requested by the agent for this */
	assert_int_equal(at_count_lines(d->reboot_log), 0);
}

/* Refused with the exit code loopline-pack verify gives for the same reason. */
static void expect_refused(struct at_dev *d, const char *pkg, int code, const char *words)
{
	struct lp_bootenv_boot b;
	struct agent_state st;

	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "install", pkg, "--action", "main:99", NULL), code);
	if (!strstr(d->out, words))
		fail_msg("refusal of %s does not mention \"%s\":\n%s", pkg, words, d->out);
	at_state(d, &st);
	assert_true(agent_state_is_rest(st.state));
	assert_int_equal(st.result, AGENT_RESULT_FAILURE);
	at_bootenv(d, &b);
	assert_string_equal(b.boot_slot, "A");
	assert_false(b.upgrade_available);
}

/* Flips mask in byte off of the file at path (SIZE_MAX: its middle byte). */
static void flip_byte(const char *path, size_t off, uint8_t mask)
{
	char *data = NULL;
	size_t len;
	FILE *f;

	assert_int_equal(lp_fs_read_file(path, 4u << 20, &data, &len), 0);
	if (off == SIZE_MAX)
		off = len / 2;
	assert_true(off < len);
	data[off] ^= mask;
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	free(data);
}

static void test_refused_packages(void **state)
{
	struct at_dev *d = *state;
	struct agent_state st;
	char pkg[AT_PATH + 32];
	char *data = NULL;
	size_t len;
	long n;
	char *ob;

	/* wrong hardware: refused before any byte reaches the slot */
	pkg_path(d, pkg, sizeof(pkg), "other-board.lpkg");
	at_make_package(d, pkg, "1.1.0", 1, "other-board", d->key, image, sizeof(image));
	expect_refused(d, pkg, LP_EXIT_INCOMPATIBLE, "test-board");
	assert_true(at_slot_equals(d, AGENT_SLOT_B, (const uint8_t *)"slot B: old contents\n", 21));

	/* untrusted signing key */
	pkg_path(d, pkg, sizeof(pkg), "untrusted.lpkg");
	at_make_package(d, pkg, "1.1.0", 1, "test-board", d->other_key, image, sizeof(image));
	expect_refused(d, pkg, LP_EXIT_SIGNATURE, "trusted");
	assert_true(at_slot_equals(d, AGENT_SLOT_B, (const uint8_t *)"slot B: old contents\n", 21));

	/* tampered payload: bytes may reach the inactive slot, but it is never activated */
	pkg_path(d, pkg, sizeof(pkg), "tampered.lpkg");
	at_make_package(d, pkg, "1.1.0", 1, "test-board", d->key, image, sizeof(image));
	flip_byte(pkg, SIZE_MAX, 0x40);
	expect_refused(d, pkg, LP_EXIT_CORRUPT, "payload rootfs.img.zst");

	/* tampered manifest (the first member, right after its 512-byte tar header) */
	at_make_package(d, pkg, "1.1.0", 1, "test-board", d->key, image, sizeof(image));
	assert_int_equal(lp_fs_read_file(pkg, 4u << 20, &data, &len), 0);
	assert_true(len > 600);
	assert_int_equal(memcmp(data + 512, "{", 1), 0);
	free(data);
	flip_byte(pkg, 512 + 20, 0x01);
	expect_refused(d, pkg, LP_EXIT_SIGNATURE, "manifest");

	/* install and commit security version 5, then offer security version 3 */
	pkg_path(d, pkg, sizeof(pkg), "sv5.lpkg");
	at_make_package(d, pkg, "2.0.0", 5, "test-board", d->key, image, sizeof(image));
	install_ok(d, pkg, "main:100");
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_COMMITTED);
	assert_int_equal(st.security_version, 5);
	pkg_path(d, pkg, sizeof(pkg), "sv3.lpkg");
	at_make_package(d, pkg, "2.1.0", 3, "test-board", d->key, image2, sizeof(image2));
	EXPECT_RC(at_agent(d, "B", "boot-7", NULL, "install", pkg, "--action", "main:101", NULL),
		  LP_EXIT_DOWNGRADE);
	assert_non_null(strstr(d->out, "security"));
	assert_true(at_slot_equals(d, AGENT_SLOT_A, image, sizeof(image)) ||
		    at_slot_equals(d, AGENT_SLOT_A, (const uint8_t *)"slot A: version 1.0.0 running\n", 30));
	at_state(d, &st);
	assert_int_equal(st.security_version, 5);
	assert_string_equal(st.version, "2.0.0");

	/* every refusal with an action was queued as closed/failure */
	ob = at_outbox(d, &n);
	assert_int_equal(n, 6); /* 99 ×4, 100 success, 101 failure */
	assert_non_null(strstr(ob, "\"action_id\":\"101\""));
	free(ob);

	/* another agent process holds the data directory: refused, nothing touched */
	{
		int lock = -1;

		assert_int_equal(agent_lock(d->data_dir, false, &lock, NULL), 0);
		EXPECT_RC(at_agent(d, "B", "boot-7", NULL, "install", pkg, NULL), LP_EXIT_BUSY);
		assert_non_null(strstr(d->out, "another loopline-agent"));
		EXPECT_RC(at_agent(d, "B", "boot-7", NULL, "mark-bad", NULL), LP_EXIT_BUSY);
		agent_unlock(lock);
	}

	/* usage errors */
	EXPECT_RC(at_agent(d, "A", NULL, NULL, "install", NULL), LP_EXIT_USAGE);
	EXPECT_RC(at_agent(d, "A", NULL, NULL, "install", pkg, "--action", "nobackend:1", NULL),
		  LP_EXIT_USAGE);
	EXPECT_RC(at_agent(d, "A", NULL, NULL, "frobnicate", NULL), LP_EXIT_USAGE);
	EXPECT_RC(at_agent(d, "C", NULL, NULL, "status", NULL), LP_EXIT_USAGE);
}

/* Encrypted payloads: installed with a key of decryption_keys (decrypted while they
 * stream into the slot); refused before a byte is written without one; a tampered chunk
 * fails its tag and the slot is never activated. */
static void test_encrypted(void **state)
{
	struct at_dev *d = *state;
	struct lp_aes_key *other = NULL;
	char pkg[AT_PATH + 32];

	/* a key the device does not have: refused, slot B untouched */
	assert_int_equal(lp_aes_key_generate(&other), 0);
	pkg_path(d, pkg, sizeof(pkg), "other-key.lpkg");
	at_make_encrypted_package(d, pkg, "1.1.0", other, image, sizeof(image));
	expect_refused(d, pkg, LP_EXIT_UNSUPPORTED, "not among this agent's decryption_keys");
	assert_non_null(strstr(d->out, lp_aes_key_id(other)));
	assert_true(at_slot_equals(d, AGENT_SLOT_B, (const uint8_t *)"slot B: old contents\n", 21));
	lp_aes_key_free(other);

	/* a flipped byte in the ciphertext: the chunk's tag fails, nothing is activated */
	pkg_path(d, pkg, sizeof(pkg), "tampered.lpkg");
	at_make_encrypted_package(d, pkg, "1.1.0", d->aes, image, sizeof(image));
	flip_byte(pkg, SIZE_MAX, 0x04); /* inside the payload, which is most of the file */
	expect_refused(d, pkg, LP_EXIT_CORRUPT, "authentication failed");

	/* the device's key: installed, the slot holds the plaintext image */
	pkg_path(d, pkg, sizeof(pkg), "encrypted.lpkg");
	at_make_encrypted_package(d, pkg, "1.1.0", d->aes, image, sizeof(image));
	install_ok(d, pkg, "main:7");
	assert_true(at_slot_equals(d, AGENT_SLOT_B, image, sizeof(image)));
}

/* A delta against the running slot: applied into the inactive one; a delta for another
 * base is refused before the inactive slot is opened for writing. */
static void test_delta_install(void **state)
{
	struct at_dev *d = *state;
	struct agent_state st;
	char pkg[AT_PATH + 32];
	static uint8_t marker[4096];

	at_fill(image, sizeof(image), 5);
	memcpy(image2, image, sizeof(image2));
	memcpy(image2 + 1000, "a changed region of the new image", 33);
	at_fill(image2 + 200000, 5000, 6);
	at_write_slot(d, AGENT_SLOT_A, image, sizeof(image));
	memset(marker, 0x5a, sizeof(marker));
	at_write_slot(d, AGENT_SLOT_B, marker, sizeof(marker));

	/* wrong base: the running slot holds something else */
	pkg_path(d, pkg, sizeof(pkg), "wrong-base.lpkg");
	at_make_delta(d, pkg, "1.1.0", "1.0.1", image2, sizeof(image2), image, sizeof(image));
	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "install", pkg, NULL), 1);
	assert_non_null(strstr(d->out, "base mismatch: the running slot holds"));
	assert_true(at_slot_equals(d, AGENT_SLOT_B, marker, sizeof(marker)));
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_IDLE);

	/* the right base */
	pkg_path(d, pkg, sizeof(pkg), "delta.lpkg");
	at_make_delta(d, pkg, "1.1.0", "1.0.0", image, sizeof(image), image2, sizeof(image2));
	install_ok(d, pkg, "main:43");
	assert_true(at_slot_equals(d, AGENT_SLOT_B, image2, sizeof(image2)));
	assert_true(at_slot_equals(d, AGENT_SLOT_A, image, sizeof(image)));
}

static void test_mark_good_and_bad(void **state)
{
	struct at_dev *d = *state;
	struct lp_bootenv_boot b;
	struct agent_state st;
	char pkg[AT_PATH + 32];
	FILE *f;

	pkg_path(d, pkg, sizeof(pkg), "m.lpkg");
	at_make_package(d, pkg, "1.1.0", 1, "test-board", d->key, image, sizeof(image));
	/* nothing to verify yet */
	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "mark-good", NULL), LP_EXIT_STATE);

	/* mark-bad before the reboot cancels the activation */
	install_ok(d, pkg, "main:1");
	EXPECT_RC(at_agent(d, "A", "boot-0", NULL, "mark-bad", NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_IDLE);
	at_bootenv(d, &b);
	assert_string_equal(b.boot_slot, "A");
	assert_false(b.upgrade_available);

	/* mark-good on the new slot commits even with a failing health check */
	install_ok(d, pkg, "main:2");
	f = fopen(d->health_flag, "w");
	assert_non_null(f);
	fclose(f);
	EXPECT_RC(at_agent(d, "B", "boot-1", NULL, "mark-good", NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_COMMITTED);
	at_bootenv(d, &b);
	assert_false(b.upgrade_available);
	unlink(d->health_flag);

	/* mark-bad on the new slot rolls back through a reboot */
	EXPECT_RC(at_agent(d, "B", "boot-2", NULL, "install", pkg, "--action", "main:3", NULL), 0);
	EXPECT_RC(at_agent(d, "A", "boot-3", NULL, "mark-bad", NULL), 0);
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_ROLLING_BACK);
	assert_int_equal(at_count_lines(d->reboot_log), 1);
	EXPECT_RC(at_boot(d, NULL, NULL, NULL), 0);
	assert_string_equal(at_booted_slot(d), "B");
	at_state(d, &st);
	assert_int_equal(st.state, AGENT_STATE_ROLLED_BACK);
	assert_non_null(strstr(st.reason, "marked bad"));
}

static void test_check_config(void **state)
{
	struct at_dev *d = *state;
	char bad[AT_PATH + 32];
	FILE *f;

	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "check-config", NULL), 0);
	snprintf(bad, sizeof(bad), "%s/bad.json", d->dir);
	f = fopen(bad, "w");
	assert_non_null(f);
	fputs("{\"device_id\": \"x\", \"hardware_id\": \"y\", \"data_dir\": \"/d\",\n"
	      " \"slots\": {\"A\": \"/a\", \"B\": \"/b\"}, \"bootenv\": {\"type\": \"grub\", \"grubenv\": \"/g\"},\n"
	      " \"trusted_keys\": [\"/k\"], \"backends\": [{\"urls\": [\"https://a\"], \"tenant\": \"t\",\n"
	      "   \"target_token\": \"x\", \"url\": \"https://b\"}]}\n", f);
	fclose(f);
	memcpy(d->config, bad, strlen(bad) + 1);
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "check-config", NULL), LP_EXIT_USAGE);
	assert_non_null(strstr(d->out, "backends[0].url: unknown key"));
}

/* One CLI convention (lib/cli.h): help for every command, one-line usage errors that
 * come before the config is read, --json on the read-only commands, the exit codes. */
static void test_cli(void **state)
{
	static const char *const cmds[] = { "run", "check-update", "check-config", "install",
					    "boot", "status", "mark-good", "mark-bad" };
	struct at_dev *d = *state;
	char good[AT_PATH];
	cJSON *root;

	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "--help", NULL), 0);
	assert_non_null(strstr(d->out, "  20   busy"));
	assert_non_null(strstr(d->out, "  22   not possible in the current state"));
	assert_non_null(strstr(d->out, "  13   package refused: security_version"));
	for (size_t i = 0; i < LP_ARRAY_SIZE(cmds); i++) {
		EXPECT_RC(at_agent(d, NULL, NULL, NULL, cmds[i], "--help", NULL), 0);
		assert_non_null(strstr(d->out, "Usage: "));
		assert_non_null(strstr(d->out, cmds[i]));
	}
	/* usage errors: one line and a hint, exit 2, before the (missing) config is read */
	memcpy(good, d->config, sizeof(good));
	snprintf(d->config, sizeof(d->config), "%s/no-such-config.json", d->dir);
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "frobnicate", NULL), LP_EXIT_USAGE);
	assert_string_equal(d->out, "loopline-agent: unknown command 'frobnicate'\n"
				    "Try 'loopline-agent --help'.\n");
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "status", "--bogus", NULL), LP_EXIT_USAGE);
	assert_string_equal(d->out, "loopline-agent status: unknown option '--bogus'\n"
				    "Try 'loopline-agent status --help'.\n");
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "boot", "--json", NULL), LP_EXIT_USAGE);
	assert_null(strstr(d->out, "no-such-config"));
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "install", "a", "b", NULL), LP_EXIT_USAGE);
	assert_null(strstr(d->out, "no-such-config"));
	/* a command line that is right goes on to the config, which is missing */
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "status", NULL), LP_EXIT_USAGE);
	assert_non_null(strstr(d->out, "no-such-config"));
	memcpy(d->config, good, sizeof(good));

	/* --json on every read-only command */
	EXPECT_RC(at_agent(d, NULL, NULL, NULL, "check-config", "--json", NULL), 0);
	root = cJSON_Parse(d->out);
	assert_non_null(root);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "ok")));
	assert_int_equal(cJSON_GetObjectItem(root, "backends")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(root, "health_checks")->valueint, 1);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(root, "device_config")));
	cJSON_Delete(root);
	EXPECT_RC(at_agent(d, "A", NULL, NULL, "status", "--json", NULL), 0);
	root = cJSON_Parse(d->out);
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "state")->valuestring, "idle");
	cJSON_Delete(root);
	/* a failing command says why: no backend answers (127.0.0.1:1) */
	EXPECT_RC(at_agent(d, "A", NULL, NULL, "check-update", NULL), LP_EXIT_FAILURE);
	assert_non_null(strstr(d->out, "no backend could be polled"));
	/* a package file that does not exist */
	EXPECT_RC(at_agent(d, "A", NULL, NULL, "install", "/nonexistent.lpkg", NULL), LP_EXIT_NOT_FOUND);
	assert_non_null(strstr(d->out, "/nonexistent.lpkg"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_update_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_fail_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_success, setup_grub, teardown),
		cmocka_unit_test_setup_teardown(test_slot_never_boots, setup_grub, teardown),
		cmocka_unit_test_setup_teardown(test_slot_never_boots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_packages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_good_and_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
	};

	at_fill(image, sizeof(image), 7);
	at_fill(image2, sizeof(image2), 99);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

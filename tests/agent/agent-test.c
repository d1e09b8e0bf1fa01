/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent-test.h"
#include "loopline/fs.h"
#include "loopline/hash.h"
#include "loopline/io.h"
#include "loopline/package.h"

#define RUN_TIMEOUT_MS 60000

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

void at_fill(uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

static void setup(struct at_dev *d, bool grub);

void at_setup(struct at_dev *d)
{
	setup(d, false);
}

void at_setup_grub(struct at_dev *d)
{
	setup(d, true);
}

static void setup(struct at_dev *d, bool grub)
{
	const char *build = getenv("LP_BUILD_DIR");
	char keydir[AT_PATH], pub[AT_PATH + 16], aes[AT_PATH + 16], text[8192];
	int n;

	assert_non_null(build);
	memset(d, 0, sizeof(*d));
	d->grub = grub;
	snprintf(d->dir, sizeof(d->dir), "/tmp/agent-test-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->config, sizeof(d->config), "%s/agent.json", d->dir);
	snprintf(d->data_dir, sizeof(d->data_dir), "%s/data", d->dir);
	snprintf(d->slot[0], sizeof(d->slot[0]), "%s/slot-a.img", d->dir);
	snprintf(d->slot[1], sizeof(d->slot[1]), "%s/slot-b.img", d->dir);
	snprintf(d->fwenv, sizeof(d->fwenv), "%s/fw_env.config", d->dir);
	snprintf(d->health_flag, sizeof(d->health_flag), "%s/health-fails", d->dir);
	snprintf(d->reboot_log, sizeof(d->reboot_log), "%s/reboots.log", d->dir);
	snprintf(d->agent, sizeof(d->agent), "%s/agent/loopline-agent", build);
	snprintf(d->bootsim, sizeof(d->bootsim), "%s/tests/agent/bootsim", build);
	snprintf(keydir, sizeof(keydir), "%s/keys", d->dir);
	assert_int_equal(mkdir(keydir, 0755), 0);

	write_file(d->slot[0], "slot A: version 1.0.0 running\n", 30);
	write_file(d->slot[1], "slot B: old contents\n", 21);
	if (grub) {
		snprintf(d->fwenv, sizeof(d->fwenv), "%s/grubenv", d->dir);
	} else {
		n = snprintf(text, sizeof(text), "%s/uboot.env 0x0 0x4000\n%s/uboot.env 0x4000 0x4000\n",
			     d->dir, d->dir);
		write_file(d->fwenv, text, (size_t)n);
	}

	assert_int_equal(lp_key_generate(&d->key), 0);
	assert_int_equal(lp_key_generate(&d->other_key), 0);
	snprintf(pub, sizeof(pub), "%s/release.pem", keydir);
	assert_int_equal(lp_key_save_public(d->key, pub, false), 0);
	assert_int_equal(lp_aes_key_generate(&d->aes), 0);
	snprintf(aes, sizeof(aes), "%s/fw.aes", d->dir); /* not in keydir: PEM files only there */
	assert_int_equal(lp_aes_key_save(d->aes, aes, false), 0);

	n = snprintf(text, sizeof(text),
		     "{\n"
		     "  \"device_id\": \"test-device\",\n"
		     "  \"hardware_id\": \"test-board\",\n"
		     "  \"data_dir\": \"%s\",\n"
		     "  \"backends\": [{\"name\": \"main\", \"urls\": [\"https://127.0.0.1:1\"],\n"
		     "                 \"tenant\": \"t1\", \"target_token\": \"secret\"}],\n"
		     "  \"slots\": {\"A\": \"%s\", \"B\": \"%s\"},\n"
		     "  \"bootenv\": {\"type\": \"%s\", \"%s\": \"%s\", \"bootlimit\": 3},\n"
		     "  \"health_checks\": [{\"name\": \"app\", \"argv\": [\"/bin/sh\", \"-c\", \"test ! -e %s\"],\n"
		     "                      \"timeout_s\": 10}],\n"
		     "  \"trusted_keys\": [\"%s\"],\n"
		     "  \"decryption_keys\": [\"%s\"],\n"
		     "  \"reboot_command\": [\"/bin/sh\", \"-c\", \"echo reboot >> %s\"]\n"
		     "}\n",
		     d->data_dir, d->slot[0], d->slot[1], grub ? "grub" : "uboot",
		     grub ? "grubenv" : "fw_env_config", d->fwenv, d->health_flag, keydir, aes,
		     d->reboot_log);
	write_file(d->config, text, (size_t)n);

	{
		char *argv[] = { d->bootsim, "--config", d->config, "init", "3", NULL };
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void at_teardown(struct at_dev *d)
{
	if (d->dir[0])
		nftw(d->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	lp_key_free(d->key);
	lp_key_free(d->other_key);
	lp_aes_key_free(d->aes);
	d->key = d->other_key = NULL;
	d->aes = NULL;
}

static void make_package(struct at_dev *d, const char *path, const char *version,
			 uint64_t security_version, const char *compatible, const struct lp_key *key,
			 const struct lp_aes_key *aes, const uint8_t *image, size_t len)
{
	char img[AT_PATH + 16];
	const char *compat[] = { compatible };
	const struct lp_key *keys[] = { key };
	struct lp_pkg_source src = {
		.name = "rootfs.img.zst", .type = LP_PAYLOAD_IMAGE, .target = "rootfs",
		.compression = LP_COMPRESSION_ZSTD, .encrypt_key = aes,
	};
	struct lp_pkg_build b = {
		.product = "agent-test", .version = version, .security_version = security_version,
		.compatible = compat, .n_compatible = 1, .min_agent_version = "0.1.0",
		.sources = &src, .n_sources = 1, .keys = keys, .n_keys = 1,
	};
	struct lp_diag diag;
	int out, r;

	snprintf(img, sizeof(img), "%s/image.tmp", d->dir);
	write_file(img, image, len);
	src.fd = open(img, O_RDONLY | O_CLOEXEC);
	assert_true(src.fd >= 0);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(out >= 0);
	lp_diag_clear(&diag);
	r = lp_pkg_build(&b, out, NULL, &diag);
	if (r < 0)
		fail_msg("lp_pkg_build: %s", diag.msg);
	close(out);
	close(src.fd);
	unlink(img);
}

void at_make_package(struct at_dev *d, const char *path, const char *version, uint64_t security_version,
		     const char *compatible, const struct lp_key *key, const uint8_t *image, size_t len)
{
	make_package(d, path, version, security_version, compatible, key, NULL, image, len);
}

void at_make_encrypted_package(struct at_dev *d, const char *path, const char *version,
			       const struct lp_aes_key *aes, const uint8_t *image, size_t len)
{
	make_package(d, path, version, 1, "test-board", d->key, aes, image, len);
}

static int mem_out(void *ctx, const void *data, size_t len)
{
	return lp_io_write_all(*(int *)ctx, data, len);
}

void at_make_delta(struct at_dev *d, const char *path, const char *version, const char *base_version,
		   const uint8_t *base, size_t base_len, const uint8_t *image, size_t len)
{
	char patch[AT_PATH + 16];
	const char *compat[] = { "test-board" };
	const struct lp_key *keys[] = { d->key };
	struct lp_pkg_delta delta = { .size = len };
	struct lp_pkg_source src = {
		.name = "rootfs.lpdiff1", .type = LP_PAYLOAD_DELTA, .target = "rootfs",
		.compression = LP_COMPRESSION_NONE, .delta = &delta,
	};
	struct lp_pkg_build b = {
		.product = "agent-test", .version = version, .security_version = 2,
		.compatible = compat, .n_compatible = 1, .min_agent_version = "0.1.0",
		.sources = &src, .n_sources = 1, .keys = keys, .n_keys = 1,
	};
	struct lp_diag diag;
	int fd, out, r;

	snprintf(delta.base.algorithm, sizeof(delta.base.algorithm), "%s", LP_DELTA_ALGORITHM);
	snprintf(delta.base.base_version, sizeof(delta.base.base_version), "%s", base_version);
	delta.base.base_size = base_len;
	assert_int_equal(lp_hash_buffer(LP_HASH_SHA256, base, base_len, delta.base.base_sha256), 0);
	assert_int_equal(lp_hash_buffer(LP_HASH_SHA256, image, len, delta.sha256), 0);
	snprintf(patch, sizeof(patch), "%s/patch.tmp", d->dir);
	fd = open(patch, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	lp_diag_clear(&diag);
	r = lp_delta_create(base, base_len, image, len, NULL, mem_out, &fd, NULL, &diag);
	if (r < 0)
		fail_msg("lp_delta_create: %s", diag.msg);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	src.fd = fd;
	out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(out >= 0);
	r = lp_pkg_build(&b, out, NULL, &diag);
	if (r < 0)
		fail_msg("lp_pkg_build: %s", diag.msg);
	close(out);
	close(fd);
	unlink(patch);
}

void at_write_slot(struct at_dev *d, enum agent_slot s, const uint8_t *data, size_t len)
{
	write_file(d->slot[s], data, len);
}

static int argc_last(char *const argv[])
{
	int n = 0;

	while (argv[n + 1])
		n++;
	return n;
}

/* Runs argv with extra environment entries; output into d->out. */
static int run(struct at_dev *d, char *const argv[], char *const extra_env[])
{
	int pfd[2], status;
	size_t used = 0;
	pid_t pid;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		unsetenv("LOOPLINE_AGENT_CRASH_AT");
		unsetenv("LOOPLINE_AGENT_BOOT_ID");
		unsetenv("LOOPLINE_AGENT_SLOT");
		for (size_t i = 0; extra_env[i]; i++)
			putenv(extra_env[i]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;
		char sink[4096];

		if (poll(&p, 1, RUN_TIMEOUT_MS) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pfd[0]);
			fail_msg("%s did not finish within %d ms", argv[0], RUN_TIMEOUT_MS);
		}
		if (used + 1 < sizeof(d->out))
			n = read(pfd[0], d->out + used, sizeof(d->out) - 1 - used);
		else
			n = read(pfd[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < sizeof(d->out))
			used += (size_t)n;
	}
	d->out[used] = '\0';
	if (getenv("AT_VERBOSE"))
		fprintf(stderr, "$ %s ... %s\n%s", argv[0], argv[argc_last(argv)], d->out);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void make_env(char *e[3], char bufs[3][256], const char *boot_id, const char *crash_at)
{
	int n = 0;

	if (boot_id) {
		snprintf(bufs[n], 256, "LOOPLINE_AGENT_BOOT_ID=%s", boot_id);
		e[n] = bufs[n];
		n++;
	}
	if (crash_at) {
		snprintf(bufs[n], 256, "LOOPLINE_AGENT_CRASH_AT=%s", crash_at);
		e[n] = bufs[n];
		n++;
	}
	e[n] = NULL;
}

int at_agent(struct at_dev *d, const char *slot, const char *boot_id, const char *crash_at, ...)
{
	char *argv[16];
	char *env[3];
	char bufs[3][256];
	const char *a;
	va_list ap;
	int n = 0;

	argv[n++] = d->agent;
	argv[n++] = "--config";
	argv[n++] = d->config;
	if (slot) {
		argv[n++] = "--slot";
		argv[n++] = (char *)slot;
	}
	va_start(ap, crash_at);
	while ((a = va_arg(ap, const char *)) && n < 15)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	make_env(env, bufs, boot_id, crash_at);
	return run(d, argv, env);
}

int at_boot(struct at_dev *d, const char *crash_slot, const char *boot_id, const char *crash_at)
{
	char *argv[12];
	char *env[3];
	char bufs[3][256];
	int n = 0;

	argv[n++] = d->bootsim;
	argv[n++] = "--config";
	argv[n++] = d->config;
	argv[n++] = "--agent";
	argv[n++] = d->agent;
	if (crash_slot) {
		argv[n++] = "--crash-slot";
		argv[n++] = (char *)crash_slot;
	}
	if (boot_id) {
		argv[n++] = "--boot-id";
		argv[n++] = (char *)boot_id;
	}
	argv[n++] = "boot";
	argv[n] = NULL;
	make_env(env, bufs, NULL, crash_at);
	return run(d, argv, env);
}

const char *at_booted_slot(const struct at_dev *d)
{
	if (strncmp(d->out, "slot A\n", 7) == 0)
		return "A";
	if (strncmp(d->out, "slot B\n", 7) == 0)
		return "B";
	return NULL;
}

void at_state(struct at_dev *d, struct agent_state *st)
{
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (agent_state_load(d->data_dir, st, &diag) < 0)
		fail_msg("state: %s", diag.msg);
}

void at_bootenv(struct at_dev *d, struct lp_bootenv_boot *b)
{
	struct lp_bootenv *env = NULL;
	struct lp_diag diag;

	lp_diag_clear(&diag);
	if (lp_bootenv_open(d->grub ? LP_BOOTENV_GRUB : LP_BOOTENV_UBOOT, d->fwenv, 0, &env, &diag) < 0 ||
	    lp_bootenv_get_boot(env, b, &diag) < 0)
		fail_msg("bootenv: %s", diag.msg);
	lp_bootenv_free(env);
}

bool at_slot_equals(struct at_dev *d, enum agent_slot s, const uint8_t *data, size_t len)
{
	char *buf = NULL;
	size_t got = 0;
	bool eq;

	if (lp_fs_read_file(d->slot[s], 64u << 20, &buf, &got) < 0)
		return false;
	eq = got == len && memcmp(buf, data, len) == 0;
	free(buf);
	return eq;
}

char *at_outbox(struct at_dev *d, long *ret_count)
{
	char path[AT_PATH + 64];
	struct dirent **list = NULL;
	char *all = calloc(1, 1);
	size_t all_len = 0;
	long count = 0;
	int n;

	/* Message files sort by name in delivery order. */
	assert_non_null(all);
	snprintf(path, sizeof(path), "%s/outbox", d->data_dir);
	n = scandir(path, &list, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t nl = strlen(list[i]->d_name);
		char f[AT_PATH + 400], *msg = NULL;
		size_t len = 0;

		if (nl == 25 && strcmp(list[i]->d_name + 20, ".json") == 0) {
			snprintf(f, sizeof(f), "%s/%s", path, list[i]->d_name);
			assert_int_equal(lp_fs_read_file(f, AGENT_OUTBOX_MSG_MAX, &msg, &len), 0);
			char *grown = realloc(all, all_len + len + 2);

			assert_non_null(grown);
			all = grown;
			memcpy(all + all_len, msg, len);
			all_len += len;
			all[all_len++] = '\n';
			all[all_len] = '\0';
			free(msg);
			count++;
		}
		free(list[i]);
	}
	free(list);
	*ret_count = count;
	return all;
}

int at_count_lines(const char *path)
{
	char *text = NULL;
	int n = 0;

	if (lp_fs_read_file(path, 1 << 20, &text, NULL) < 0)
		return 0;
	for (char *p = text; *p; p++)
		if (*p == '\n')
			n++;
	free(text);
	return n;
}

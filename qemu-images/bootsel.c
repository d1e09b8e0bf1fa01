/* SPDX-License-Identifier: MIT */
/*
 * loopline-bootsel: the reference firmware's boot selector (runs in the initramfs, built
 * statically against libloopline's bootenv code by qemu-images/build).
 *
 *   loopline-bootsel [-c FW_ENV_CONFIG]                       decide and print the line
 *   loopline-bootsel [-c FW_ENV_CONFIG] --init SLOT [--bootlimit N] [--armed]
 *       write a fresh env (--armed: upgrade_available=1, as if an update to SLOT were on
 *       trial; qemu-images/mkdisk uses it to exercise the fallback)
 *
 * Decision (U-Boot CONFIG_BOOTCOUNT_LIMIT + CONFIG_BOOTCOUNT_ENV, see docs/bootenv.md):
 * with upgrade_available=1 bootcount is incremented and saved; past bootlimit boot_slot
 * switches to the other slot and upgrade_available is cleared (the "altbootcmd").
 * Prints exactly one line on stdout:
 *   loopline-boot: slot=B bootcount=2 bootlimit=3 upgrade_available=1 action=trial
 * action is one of normal, trial, fallback, defaults (no valid env: A written fresh).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/bootenv.h"

#define BOOTSEL_DEFAULT_CONFIG "/etc/fw_env.config"
#define BOOTSEL_DEFAULT_LIMIT 3u

static int parse_u32(const char *s, uint32_t *ret_value)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*ret_value = (uint32_t)v;
	return 0;
}

static bool slot_valid(const char *s)
{
	return strcmp(s, "A") == 0 || strcmp(s, "B") == 0;
}

static int write_defaults(struct lp_bootenv *env, const char *slot, uint32_t bootlimit,
			  bool armed)
{
	int r;

	r = lp_bootenv_set(env, LP_BOOTENV_VAR_BOOT_SLOT, slot);
	if (r >= 0)
		r = lp_bootenv_set_flag(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, armed);
	if (r >= 0)
		r = lp_bootenv_set_uint(env, LP_BOOTENV_VAR_BOOTCOUNT, 0);
	if (r >= 0)
		r = lp_bootenv_set_uint(env, LP_BOOTENV_VAR_BOOTLIMIT, bootlimit);
	return r;
}

static void usage(FILE *f)
{
	fputs("usage: loopline-bootsel [-c FW_ENV_CONFIG] [--init A|B [--bootlimit N] [--armed]]\n", f);
}

int main(int argc, char **argv)
{
	const char *config_path = BOOTSEL_DEFAULT_CONFIG;
	const char *init_slot = NULL;
	uint32_t init_limit = BOOTSEL_DEFAULT_LIMIT;
	bool init_armed = false;
	struct lp_fwenv_config config;
	struct lp_bootenv *env = NULL;
	struct lp_bootenv_boot boot;
	struct lp_diag diag;
	char dbuf[1024];
	const char *action = "normal";
	char slot[LP_BOOTENV_NAME_MAX + 1];
	int ret = 1;
	int r;

	lp_diag_clear(&diag);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strcmp(argv[i], "--init") == 0 && i + 1 < argc) {
			init_slot = argv[++i];
		} else if (strcmp(argv[i], "--bootlimit") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], &init_limit) < 0) {
				fprintf(stderr, "loopline-bootsel: bad --bootlimit '%s'\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--armed") == 0) {
			init_armed = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (init_slot && !slot_valid(init_slot)) {
		fprintf(stderr, "loopline-bootsel: --init needs A or B, not '%s'\n", init_slot);
		return 2;
	}

	r = lp_fwenv_config_load(config_path, &config, &diag);
	if (r < 0)
		goto fail;
	r = lp_bootenv_open_uboot(&config, LP_BOOTENV_OPEN_DEFAULTS, &env, &diag);
	if (r < 0)
		goto fail;

	if (init_slot) {
		r = write_defaults(env, init_slot, init_limit, init_armed);
		if (r < 0)
			goto fail_set;
		r = lp_bootenv_commit(env, &diag);
		if (r < 0)
			goto fail;
		ret = 0;
		goto cleanup;
	}

	if (lp_bootenv_from_defaults(env)) {
		r = write_defaults(env, "A", BOOTSEL_DEFAULT_LIMIT, false);
		if (r < 0)
			goto fail_set;
		action = "defaults";
	}
	r = lp_bootenv_get_boot(env, &boot, &diag);
	if (r < 0)
		goto fail;
	if (!slot_valid(boot.boot_slot)) {
		fprintf(stderr, "loopline-bootsel: boot_slot '%s' is not A or B; booting A\n",
			boot.boot_slot);
		snprintf(boot.boot_slot, sizeof(boot.boot_slot), "A");
		r = lp_bootenv_set(env, LP_BOOTENV_VAR_BOOT_SLOT, "A");
		if (r < 0)
			goto fail_set;
	}
	snprintf(slot, sizeof(slot), "%s", boot.boot_slot);
	if (boot.upgrade_available) {
		if (boot.bootcount < UINT32_MAX)
			boot.bootcount++;
		r = lp_bootenv_set_uint(env, LP_BOOTENV_VAR_BOOTCOUNT, boot.bootcount);
		if (r < 0)
			goto fail_set;
		action = "trial";
		if (boot.has_bootlimit && boot.bootlimit > 0 && boot.bootcount > boot.bootlimit) {
			snprintf(slot, sizeof(slot), "%s", strcmp(slot, "A") == 0 ? "B" : "A");
			r = lp_bootenv_set(env, LP_BOOTENV_VAR_BOOT_SLOT, slot);
			if (r >= 0)
				r = lp_bootenv_set_flag(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, false);
			if (r < 0)
				goto fail_set;
			boot.upgrade_available = false;
			action = "fallback";
		}
	}
	if (lp_bootenv_dirty(env)) {
		r = lp_bootenv_commit(env, &diag);
		if (r < 0)
			goto fail;
	}
	printf("loopline-boot: slot=%s bootcount=%" PRIu32 " bootlimit=%" PRIu32
	       " upgrade_available=%d action=%s\n",
	       slot, boot.bootcount, boot.has_bootlimit ? boot.bootlimit : 0,
	       boot.upgrade_available ? 1 : 0, action);
	fflush(stdout);
	ret = 0;
	goto cleanup;

fail_set:
	fprintf(stderr, "loopline-bootsel: setting a variable failed: %s\n", strerror(-r));
	goto cleanup;
fail:
	fprintf(stderr, "loopline-bootsel: %s\n", lp_diag_format(&diag, dbuf, sizeof(dbuf)));
cleanup:
	lp_bootenv_free(env);
	return ret;
}

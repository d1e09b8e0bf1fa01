/* SPDX-License-Identifier: MIT */
/*
 * Bootloader environments: the variables the agent, the reference firmware's boot selector
 * and the host boot simulator share with the bootloader.
 *
 * One interface over two formats:
 *  - `uboot`: U-Boot's binary environment (CRC32 + "key=value\0" pairs), a single copy or
 *    two redundant copies with a flag byte, on a regular file, a block device or an MTD
 *    character device, located by an fw_env.config description (see docs/bootenv.md);
 *  - `grub`: GRUB's 1024-byte `grubenv` file.
 *
 * Variables live in memory after open; lp_bootenv_set/unset change only memory and
 * lp_bootenv_commit writes them back in a way that survives a power cut at any moment with
 * either the old or the new set of values (except where docs/bootenv.md says otherwise:
 * a single U-Boot copy on a raw device or MTD).
 *
 * Strings returned by lp_bootenv_get and lp_bootenv_entry belong to the environment and
 * stay valid until the next set/unset of that variable or lp_bootenv_free.
 */
#pragma once

#include <stdbool.h>
#include "loopline/common.h"
#include "loopline/diag.h"

/* Limits: a variable name is 1..LP_BOOTENV_NAME_MAX bytes, a value 0..LP_BOOTENV_VALUE_MAX
 * bytes, at most LP_BOOTENV_VARS_MAX variables; the format's own size bounds the total. */
#define LP_BOOTENV_NAME_MAX 128
#define LP_BOOTENV_VALUE_MAX 8192
#define LP_BOOTENV_VARS_MAX 1024
/* Largest U-Boot environment size (per copy) accepted in fw_env.config. */
#define LP_BOOTENV_UBOOT_SIZE_MAX (1024u * 1024u)
/* A grubenv file is exactly this size. */
#define LP_BOOTENV_GRUB_SIZE 1024u

/* The variables the update flow uses (docs/bootenv.md says what each means). */
#define LP_BOOTENV_VAR_BOOT_SLOT "boot_slot"
#define LP_BOOTENV_VAR_BOOT_ORDER "boot_order"
#define LP_BOOTENV_VAR_UPGRADE_AVAILABLE "upgrade_available"
#define LP_BOOTENV_VAR_BOOTCOUNT "bootcount"
#define LP_BOOTENV_VAR_BOOTLIMIT "bootlimit"

enum lp_bootenv_kind {
	LP_BOOTENV_UBOOT = 0,
	LP_BOOTENV_GRUB,
};

/* Parses "uboot" or "grub"; -EINVAL otherwise. */
LP_EXPORT int lp_bootenv_kind_parse(const char *s, enum lp_bootenv_kind *ret_kind);
LP_EXPORT const char *lp_bootenv_kind_name(enum lp_bootenv_kind kind);

/* --- fw_env.config ------------------------------------------------------------------ */

#define LP_FWENV_PATH_MAX 256

/* One line of fw_env.config: where one copy of the environment is. */
struct lp_fwenv_device {
	char path[LP_FWENV_PATH_MAX]; /* absolute path of the file or device */
	uint64_t offset;              /* byte offset of the copy in it */
	uint64_t env_size;            /* size of the copy, header included */
	uint64_t sector_size;         /* erase size (MTD); 0 if not given */
	uint64_t sectors;             /* number of erase sectors; 0 if not given */
	unsigned line;                /* line of the config it came from */
};

struct lp_fwenv_config {
	unsigned count; /* 1: single copy; 2: redundant copies */
	struct lp_fwenv_device dev[2];
};

/* Parses fw_env.config text (len bytes; NULs are errors). `name` is used in diagnostics.
 * Returns 0, or -EINVAL with diag "name:line:col: message". *ret_config is untouched on
 * failure. */
LP_EXPORT int lp_fwenv_config_parse(const char *text, size_t len, const char *name,
				    struct lp_fwenv_config *ret_config, struct lp_diag *diag);
/* Reads and parses a file (at most 64 KiB). */
LP_EXPORT int lp_fwenv_config_load(const char *path, struct lp_fwenv_config *ret_config,
				   struct lp_diag *diag);

/* --- Opening ------------------------------------------------------------------------ */

struct lp_bootenv;

enum lp_bootenv_open_flags {
	/* When no valid copy exists (bad CRCs, a missing or short file, a missing grubenv),
	 * start from an empty environment instead of failing; lp_bootenv_from_defaults()
	 * then returns true and the caller sets its defaults and commits. */
	LP_BOOTENV_OPEN_DEFAULTS = 1u << 0,
	/* uboot only: hold an exclusive flock on LP_BOOTENV_UBOOT_LOCK_PATH (the lock file
	 * fw_printenv/fw_setenv take) from open until lp_bootenv_free, so read-modify-write
	 * does not race with them. Waits for the lock. */
	LP_BOOTENV_OPEN_LOCK = 1u << 1,
};

#define LP_BOOTENV_UBOOT_LOCK_PATH "/var/lock/fw_printenv.lock"

/* Opens a U-Boot environment described by a parsed fw_env.config and reads it.
 * Errors: -ENOENT (missing file), -EBADMSG (no valid copy, garbage content), -EINVAL
 * (description does not fit the device), other -errno from the system; diag says which
 * copy and what. */
LP_EXPORT int lp_bootenv_open_uboot(const struct lp_fwenv_config *config, unsigned flags,
				    struct lp_bootenv **ret_env, struct lp_diag *diag);
/* Opens a grubenv file and reads it. */
LP_EXPORT int lp_bootenv_open_grub(const char *path, unsigned flags, struct lp_bootenv **ret_env,
				   struct lp_diag *diag);
/* Opens from a description: kind plus path — the fw_env.config file for uboot, the
 * grubenv file for grub. */
LP_EXPORT int lp_bootenv_open(enum lp_bootenv_kind kind, const char *path, unsigned flags,
			      struct lp_bootenv **ret_env, struct lp_diag *diag);
/* Frees memory only (uncommitted changes are dropped). Accepts NULL. */
LP_EXPORT void lp_bootenv_free(struct lp_bootenv *env);

LP_EXPORT enum lp_bootenv_kind lp_bootenv_kind(const struct lp_bootenv *env);
/* True if the environment was opened with LP_BOOTENV_OPEN_DEFAULTS and no valid copy. */
LP_EXPORT bool lp_bootenv_from_defaults(const struct lp_bootenv *env);
/* True if set/unset changed something not yet committed. */
LP_EXPORT bool lp_bootenv_dirty(const struct lp_bootenv *env);

/* --- Variables (in memory) ---------------------------------------------------------- */

/* The value, or NULL if the variable is not set. */
LP_EXPORT const char *lp_bootenv_get(const struct lp_bootenv *env, const char *name);
/* Sets a variable. -EINVAL: empty or too long name, a name with '=', a control character,
 * a space or (grub) a leading '#'; a value over LP_BOOTENV_VALUE_MAX or with a character
 * the format cannot hold. -ENOSPC: the environment would not fit the format's size.
 * -E2BIG: more than LP_BOOTENV_VARS_MAX variables. The environment is unchanged on error. */
LP_EXPORT int lp_bootenv_set(struct lp_bootenv *env, const char *name, const char *value);
/* Removes a variable; 0 also when it was not set. */
LP_EXPORT int lp_bootenv_unset(struct lp_bootenv *env, const char *name);
LP_EXPORT size_t lp_bootenv_count(const struct lp_bootenv *env);
/* The index-th variable in file order (new variables come last); -ENOENT past the end. */
LP_EXPORT int lp_bootenv_entry(const struct lp_bootenv *env, size_t index, const char **ret_name,
			       const char **ret_value);

/* Writes the in-memory variables back, atomically as far as the medium allows (see the top
 * of this file). After a failure the medium holds the old or the new values. */
LP_EXPORT int lp_bootenv_commit(struct lp_bootenv *env, struct lp_diag *diag);

/* --- Typed helpers ------------------------------------------------------------------ */

/* A decimal unsigned value (no sign, no spaces, no leading zeros except "0", at most
 * UINT32_MAX). -ENOENT if unset, -EBADMSG if the value is not such a number. */
LP_EXPORT int lp_bootenv_get_uint(const struct lp_bootenv *env, const char *name,
				  uint32_t *ret_value);
LP_EXPORT int lp_bootenv_set_uint(struct lp_bootenv *env, const char *name, uint32_t value);
/* "1" is true, "0" is false, unset is `fallback`; anything else is -EBADMSG. */
LP_EXPORT int lp_bootenv_get_flag(const struct lp_bootenv *env, const char *name, bool fallback,
				  bool *ret_value);
LP_EXPORT int lp_bootenv_set_flag(struct lp_bootenv *env, const char *name, bool value);

/* The update flow's view of the environment. */
struct lp_bootenv_boot {
	char boot_slot[LP_BOOTENV_NAME_MAX + 1]; /* "" if unset */
	bool upgrade_available;                  /* unset: false */
	uint32_t bootcount;                      /* unset: 0 */
	uint32_t bootlimit;                      /* unset: 0 (has_bootlimit false) */
	bool has_bootlimit;
};

/* Reads boot_slot, upgrade_available, bootcount and bootlimit. -EBADMSG names the first
 * variable whose value is not valid (a boot_slot longer than LP_BOOTENV_NAME_MAX too). */
LP_EXPORT int lp_bootenv_get_boot(const struct lp_bootenv *env,
				  struct lp_bootenv_boot *ret_boot, struct lp_diag *diag);
/* Arms an update in memory: boot_slot=slot, upgrade_available=1, bootcount=0. Commit it. */
LP_EXPORT int lp_bootenv_arm_update(struct lp_bootenv *env, const char *slot);
/* Marks the running system good in memory: upgrade_available=0, bootcount=0. Commit it. */
LP_EXPORT int lp_bootenv_mark_good(struct lp_bootenv *env);

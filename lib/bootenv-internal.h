/* SPDX-License-Identifier: MIT */
/*
 * Private parts of the bootenv module: the implementation interface (one struct of
 * function pointers per format), the variable store, the I/O helpers every write goes
 * through, and hooks used by the unit tests and fuzz targets (not exported).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loopline/bootenv.h"

struct lp_bootenv;

struct lp_bootenv_ops {
	enum lp_bootenv_kind kind;
	/* Bytes the variables occupy in the format's data area; the format fits them if
	 * used <= capacity. */
	size_t (*entry_size)(const char *name, const char *value);
	/* Extra checks on a name or value beyond the common ones; 0 or -EINVAL. */
	int (*check_value)(const char *value);
	int (*check_name)(const char *name);
	int (*commit)(struct lp_bootenv *env, struct lp_diag *diag);
	void (*free_impl)(void *impl);
};

struct bootenv_var {
	char *name;
	char *value;
};

struct lp_bootenv {
	const struct lp_bootenv_ops *ops;
	void *impl;
	size_t capacity; /* bytes available for entries (entry_size sums) */
	struct bootenv_var *vars;
	size_t n_vars;
	size_t cap_vars;
	bool dirty;
	bool from_defaults;
	int lock_fd; /* LP_BOOTENV_OPEN_LOCK, else -1 */
	/* Power-cut simulation (tests): when armed, writes stop for good once `budget` bytes
	 * have been written (a rename costs 1); the write that crosses the budget is cut
	 * short and everything after it fails with -EIO as if the machine had lost power. */
	bool fault_armed;
	bool fault_hit;
	uint64_t fault_budget;
};

/* Common part of the constructors. */
int bootenv_new(const struct lp_bootenv_ops *ops, void *impl, size_t capacity,
		struct lp_bootenv **ret_env);
/* Adds a variable while loading (no capacity check, duplicates are -EEXIST). */
int bootenv_load_var(struct lp_bootenv *env, const char *name, size_t name_len,
		     const char *value, size_t value_len);
/* Drops every variable (loading failed half-way and defaults are wanted). */
void bootenv_clear_vars(struct lp_bootenv *env);

/* I/O through the power-cut simulation. Each returns 0 or -errno. */
int bootenv_pwrite(struct lp_bootenv *env, int fd, const void *buf, size_t len, uint64_t off);
int bootenv_fsync(struct lp_bootenv *env, int fd);
int bootenv_rename(struct lp_bootenv *env, const char *from, const char *to);
/* Reads exactly len bytes at off: 0, -ENODATA if the file ends first, or -errno. */
int bootenv_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* Replaces a whole file: write "<path>.lp-new", fsync, rename over path, fsync the
 * directory. The new file gets `mode`. */
int bootenv_replace_file(struct lp_bootenv *env, const char *path, const void *buf, size_t len,
			 mode_t mode, struct lp_diag *diag);

/* Test hooks. */
void bootenv_test_set_fault(struct lp_bootenv *env, uint64_t budget);
bool bootenv_test_fault_hit(const struct lp_bootenv *env);

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), zlib-compatible: crc starts at 0. */
uint32_t bootenv_crc32(uint32_t crc, const void *buf, size_t len);

/* Decodes U-Boot environment copies from memory (the fuzz target's entry point).
 * copies[i] points at env_size bytes (copies[1] only when redundant). */
int bootenv_uboot_decode(const uint8_t *const copies[2], size_t env_size, bool redundant,
			 unsigned flags, struct lp_bootenv **ret_env, struct lp_diag *diag);
/* Decodes a grubenv block from memory. */
int bootenv_grub_decode(const uint8_t *buf, size_t len, unsigned flags,
			struct lp_bootenv **ret_env, struct lp_diag *diag);

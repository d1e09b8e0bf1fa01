/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the agent's component tests: a temporary device (two slot files, a U-Boot
 * environment with redundant copies, trusted keys, a data directory, agent.json), signed
 * packages built with the library, and running loopline-agent / bootsim as real processes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "loopline/bootenv.h"
#include "loopline/package-crypt.h"
#include "loopline/sign.h"

#define AT_PATH 512
#define AT_OUT 65536

struct at_dev {
	char dir[256];
	char config[AT_PATH];
	char data_dir[AT_PATH];
	char slot[2][AT_PATH];
	char fwenv[AT_PATH];
	char health_flag[AT_PATH]; /* the health check fails while this file exists */
	char reboot_log[AT_PATH];  /* the reboot command appends a line here */
	char agent[AT_PATH];
	char bootsim[AT_PATH];
	bool grub;                 /* grubenv instead of a U-Boot environment */
	struct lp_key *key;        /* signing key, its public half is trusted */
	struct lp_key *other_key;  /* not trusted */
	struct lp_aes_key *aes;    /* in the config's decryption_keys */
	char out[AT_OUT];          /* output of the last command */
};

/* Creates the device in a new temporary directory and runs `bootsim init`. */
void at_setup(struct at_dev *d);
/* The same with a GRUB environment file. */
void at_setup_grub(struct at_dev *d);
/* Removes everything. */
void at_teardown(struct at_dev *d);

/* Builds a signed package at path with one zstd-compressed rootfs image. */
void at_make_package(struct at_dev *d, const char *path, const char *version, uint64_t security_version,
		     const char *compatible, const struct lp_key *key, const uint8_t *image, size_t len);
/* The same with the payload encrypted with aes (loopline/package-crypt.h). */
void at_make_encrypted_package(struct at_dev *d, const char *path, const char *version,
			       const struct lp_aes_key *aes, const uint8_t *image, size_t len);
/* Deterministic pseudo-random bytes. */
void at_fill(uint8_t *buf, size_t len, uint32_t seed);
/* A signed delta package (lpdiff1, security_version 2, "test-board") from base to image. */
void at_make_delta(struct at_dev *d, const char *path, const char *version, const char *base_version,
		   const uint8_t *base, size_t base_len, const uint8_t *image, size_t len);
/* Overwrites a slot file. */
void at_write_slot(struct at_dev *d, enum agent_slot s, const uint8_t *data, size_t len);

/* Runs the agent: `loopline-agent --config C --slot SLOT ARGS...` with boot id and crash
 * point given (either may be NULL). Output (stdout+stderr) lands in d->out. Returns the
 * exit status, or 128+N for death by signal N. */
int at_agent(struct at_dev *d, const char *slot, const char *boot_id, const char *crash_at, ...);
/* Runs `bootsim boot`; crash_slot (or NULL) never comes up. Output in d->out. */
int at_boot(struct at_dev *d, const char *crash_slot, const char *boot_id, const char *crash_at);
/* The slot bootsim reported in d->out ("slot X"), or NULL. */
const char *at_booted_slot(const struct at_dev *d);

void at_state(struct at_dev *d, struct agent_state *st);
void at_bootenv(struct at_dev *d, struct lp_bootenv_boot *b);
bool at_slot_equals(struct at_dev *d, enum agent_slot s, const uint8_t *data, size_t len);
/* Every queued outbox message, oldest first, joined by newlines (caller frees). */
char *at_outbox(struct at_dev *d, long *ret_count);
int at_count_lines(const char *path);

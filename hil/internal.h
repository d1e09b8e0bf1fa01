/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the files of loopline-hil-lib. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loopline/common.h"
#include "loopline/diag.h"

/* Frees a NULL-terminated string vector (NULL allowed). */
void lp_hil_strv_free(char **v);
/* name resolved against dir: "dir/name", or a copy of name when it is absolute or dir is
 * "" or "." (lp_fs_path_join always joins, into a fixed buffer); malloc'd, NULL on
 * ENOMEM. For paths of the inventory, relative to its directory. */
char *lp_hil_path_join(const char *dir, const char *name);
/* Validates an ERE (length, repetition blow-up, syntax); the reason goes to err. */
int lp_hil_regex_check(const char *re, char *err, size_t errlen);
/* Writes all of buf to a non-blocking or blocking fd within timeout_ms, waiting for room
 * (lp_io_write_all has no timeout and fails with -EAGAIN on a full non-blocking fd). */
int lp_hil_write_all(int fd, const void *buf, size_t len, unsigned timeout_ms);
/* True when pid exists and is not a zombie. */
bool lp_hil_pid_alive(pid_t pid);
/* Waits until pid (need not be a child: QEMU's daemon) has exited, up to timeout_ms.
 * 0, -ETIMEDOUT. */
int lp_hil_pid_wait_gone(pid_t pid, unsigned timeout_ms);
/* The environment for a child (lp_proc_opts.envp): environ with each "NAME=value" of
 * vars (n entries) in place of an entry of that name, or added. Only the vector is
 * allocated (free() it); its strings are environ's and vars', which must outlive it.
 * NULL on ENOMEM. */
char **lp_hil_env_with(const char *const *vars, size_t n);

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
/* "dir/name" (name returned as a copy when dir is "" or "."), malloc'd; NULL on ENOMEM. */
char *lp_hil_path_join(const char *dir, const char *name);
/* Directory part of path ("." when there is none), malloc'd. */
char *lp_hil_path_dirname(const char *path);
/* Reads a whole file of at most max bytes; -E2BIG when larger. */
int lp_hil_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* Writes a file atomically (temp + fsync + rename). */
int lp_hil_write_file(const char *path, const void *buf, size_t len);
/* mkdir -p with mode 0755 (0700 for the last component when private). */
int lp_hil_mkdir_p(const char *path, bool private_last);
#define LP_HIL_REGEX_MAX_LEN 1024
#define LP_HIL_REGEX_MAX_COST 4096
/* Validates an ERE (length, repetition blow-up, syntax); the reason goes to err. */
int lp_hil_regex_check(const char *re, char *err, size_t errlen);
/* Monotonic milliseconds. */
uint64_t lp_hil_now_ms(void);
/* Milliseconds left until deadline (0 when passed), clamped to INT_MAX for poll(). */
int lp_hil_ms_left(uint64_t deadline);
/* Sleeps ms milliseconds (EINTR-safe). For fixed delays that are part of a protocol
 * (relay off time, lock polling back-off), never to wait for an event. */
void lp_hil_sleep_ms(unsigned ms);
/* Writes all of buf to a non-blocking or blocking fd within timeout_ms. */
int lp_hil_write_all(int fd, const void *buf, size_t len, unsigned timeout_ms);
/* True when pid exists and is not a zombie. */
bool lp_hil_pid_alive(pid_t pid);
/* Waits until pid (need not be a child) has exited, up to timeout_ms. 0, -ETIMEDOUT. */
int lp_hil_pid_wait_gone(pid_t pid, unsigned timeout_ms);
/* Runs /bin/sh -c cmd in its own process group with stdin from /dev/null; on timeout
 * kills the group. *ret_status = exit status, or -ETIMEDOUT returned. Output of the
 * command goes to the caller's stderr unless capture is given (bounded to cap bytes). */
int lp_hil_run_shell(const char *cmd, unsigned timeout_ms, int *ret_status, char *capture,
		     size_t cap);

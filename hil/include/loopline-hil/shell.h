/* SPDX-License-Identifier: MIT */
/*
 * Shell runner: drives a POSIX shell on a console.
 *
 * lp_hil_shell_prepare() wakes the console (newline), logs in when a login prompt shows
 * (username, then password if asked), waits for the board's prompt, then switches echo
 * and output CR translation off (stty, when present), lowers the kernel's console log
 * level (dmesg -n, cfg->console_loglevel) so kernel messages do not mix into command
 * output, and sets a prompt of its own.
 *
 * lp_hil_shell_run() sends
 *     printf '%s%s\n' '__LPS' 'ID__'; ( CMD
 *     ) </dev/null; printf '%s%s %d\n' '__LPE' 'ID__' "$?"
 * with a fresh ID per command. The markers are only ever assembled by printf, so the
 * echoed command line can never match them; the bytes between the two markers are the
 * command's exact output, and the number after the end marker its exit status.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loopline/diag.h"
#include "loopline-hil/console.h"
#include "loopline-hil/expect.h"
#include "loopline-hil/inventory.h"

#define LP_HIL_OUTPUT_MAX (64u * 1024u * 1024u)

struct lp_hil_shell;

/* failure: EREs that abort early (NULL/0 for none). The shell borrows c and e. */
int lp_hil_shell_new(struct lp_hil_console *c, struct lp_hil_expect *e,
		     const struct lp_hil_shell_config *cfg, const char *const *failure,
		     size_t n_failure, struct lp_hil_shell **ret, struct lp_diag *diag);
void lp_hil_shell_free(struct lp_hil_shell *s);

int lp_hil_shell_prepare(struct lp_hil_shell *s, unsigned timeout_ms, struct lp_diag *diag);

/* Runs cmd; output (NUL-terminated, caller frees) is exact, at most LP_HIL_OUTPUT_MAX
 * bytes (-E2BIG beyond). *ret_status is the exit status. -ETIMEDOUT, -ECANCELED (failure
 * pattern), console errors, with diag filled. */
int lp_hil_shell_run(struct lp_hil_shell *s, const char *cmd, unsigned timeout_ms,
		     int *ret_status, uint8_t **ret_output, size_t *ret_len,
		     struct lp_diag *diag);

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline-hil/board.h"
#include "internal.h"
#include "loopline/clock.h"

struct lp_hil_board {
	const struct lp_hil_inventory *inv;
	const struct lp_hil_board_config *cfg;
	struct lp_hil_power *power;
	struct lp_hil_console *console;
	struct lp_hil_expect *expect;
	struct lp_hil_shell *shell;
	struct lp_hil_patterns *failure;
	char **fail_src;       /* set by lp_hil_board_set_failure; NULL: the inventory's */
	size_t n_fail_src;
	bool custom_fail;
	char *log_path;
	struct {
		lp_hil_console_feed_fn *feed; /* NULL: a free slot */
		void *userdata;
		int console_id;               /* the sink's id in the open console, or -1 */
	} sinks[LP_HIL_BOARD_MAX_SINKS];
};

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int lp_hil_board_open(const struct lp_hil_inventory *inv, const char *name,
		      struct lp_hil_board **ret, struct lp_diag *diag)
{
	const struct lp_hil_board_config *cfg = lp_hil_inventory_find(inv, name);
	struct lp_hil_board *b;
	char file[LP_HIL_NAME_MAX + 16];
	int r;

	if (!cfg)
		return lp_diag_fail(diag, -ENOENT, "no board \"%s\" in %s", name,
				    inv->file ? inv->file : "the inventory");
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->inv = inv;
	b->cfg = cfg;
	snprintf(file, sizeof(file), "%s.log", cfg->name);
	b->log_path = lp_hil_path_join(inv->log_dir, file);
	if (!b->log_path) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = lp_hil_expect_new(0, &b->expect)) < 0 ||
	    (r = lp_hil_patterns_new((const char *const *)cfg->boot.failure, cfg->boot.n_failure,
				     &b->failure, diag)) < 0 ||
	    (r = lp_hil_power_open(inv, cfg, &b->power, diag)) < 0)
		goto fail;
	*ret = b;
	return 0;
fail:
	lp_hil_board_close(b);
	return r;
}

void lp_hil_board_close(struct lp_hil_board *b)
{
	if (!b)
		return;
	lp_hil_shell_free(b->shell);
	lp_hil_console_close(b->console);
	lp_hil_expect_free(b->expect);
	lp_hil_patterns_free(b->failure);
	free_strv(b->fail_src, b->n_fail_src);
	lp_hil_power_close(b->power);
	free(b->log_path);
	free(b);
}

const struct lp_hil_board_config *lp_hil_board_config(const struct lp_hil_board *b)
{
	return b->cfg;
}

struct lp_hil_power *lp_hil_board_power(struct lp_hil_board *b)
{
	return b->power;
}

struct lp_hil_expect *lp_hil_board_expect(struct lp_hil_board *b)
{
	return b->expect;
}

int lp_hil_board_add_sink(struct lp_hil_board *b, lp_hil_console_feed_fn *feed,
			  void *userdata)
{
	for (int i = 0; i < LP_HIL_BOARD_MAX_SINKS; i++) {
		if (b->sinks[i].feed)
			continue;
		b->sinks[i].console_id = -1;
		if (b->console) {
			int id = lp_hil_console_add_sink(b->console, feed, userdata);

			if (id < 0)
				return id;
			b->sinks[i].console_id = id;
		}
		b->sinks[i].feed = feed;
		b->sinks[i].userdata = userdata;
		return i;
	}
	return -ENOSPC;
}

void lp_hil_board_remove_sink(struct lp_hil_board *b, int id)
{
	if (id < 0 || id >= LP_HIL_BOARD_MAX_SINKS || !b->sinks[id].feed)
		return;
	if (b->console)
		lp_hil_console_remove_sink(b->console, b->sinks[id].console_id);
	b->sinks[id].feed = NULL;
}

/* Attaches the expect engine and the extra sinks to a console just opened. */
static int attach_sinks(struct lp_hil_board *b)
{
	int r = lp_hil_console_add_sink(b->console, lp_hil_expect_feed, b->expect);

	for (int i = 0; r >= 0 && i < LP_HIL_BOARD_MAX_SINKS; i++)
		if (b->sinks[i].feed) {
			r = lp_hil_console_add_sink(b->console, b->sinks[i].feed,
						    b->sinks[i].userdata);
			b->sinks[i].console_id = r;
		}
	return r < 0 ? r : 0;
}

int lp_hil_board_console(struct lp_hil_board *b, struct lp_hil_console **ret,
			 struct lp_diag *diag)
{
	int r;

	if (!b->console) {
		enum lp_hil_power_state st;

		/* a QEMU board's console exists only while QEMU runs: say so plainly */
		if (b->cfg->console.kind == LP_HIL_CONSOLE_QEMU &&
		    lp_hil_power_status(b->power, &st, NULL) == 0 && st == LP_HIL_POWER_STATE_OFF)
			return lp_diag_fail(diag, -EHOSTDOWN,
					    "%s is powered off (loopline-hil power on %s)",
					    b->cfg->name, b->cfg->name);
		r = lp_hil_console_open(&b->cfg->console, lp_hil_power_console_path(b->power),
					b->log_path, &b->console, diag);
		if (r < 0)
			return r;
		if ((r = attach_sinks(b)) < 0)
			return r;
	}
	*ret = b->console;
	return 0;
}

int lp_hil_board_power_cycle(struct lp_hil_board *b, struct lp_diag *diag)
{
	lp_hil_shell_free(b->shell);
	b->shell = NULL;
	return lp_hil_power_cycle(b->power, diag);
}

int lp_hil_board_power_off(struct lp_hil_board *b, struct lp_diag *diag)
{
	lp_hil_shell_free(b->shell);
	b->shell = NULL;
	lp_hil_console_close(b->console);
	b->console = NULL;
	return lp_hil_power_off(b->power, diag);
}

int lp_hil_board_power_cut(struct lp_hil_board *b, struct lp_diag *diag)
{
	lp_hil_board_reset_shell(b);
	lp_hil_console_close(b->console);
	b->console = NULL;
	return lp_hil_power_cut(b->power, diag);
}

void lp_hil_board_reset_shell(struct lp_hil_board *b)
{
	lp_hil_shell_free(b->shell);
	b->shell = NULL;
}

int lp_hil_board_set_failure(struct lp_hil_board *b, const char *const *res, size_t n,
			     struct lp_diag *diag)
{
	struct lp_hil_patterns *p = NULL;
	char **src = NULL;
	bool custom = res != NULL;
	int r;

	if (!custom) {
		res = (const char *const *)b->cfg->boot.failure;
		n = b->cfg->boot.n_failure;
	}
	if ((r = lp_hil_patterns_new(res, n, &p, diag)) < 0)
		return r;
	if (custom && n) {
		src = calloc(n, sizeof(*src));
		for (size_t i = 0; src && i < n; i++)
			if (!(src[i] = strdup(res[i]))) {
				free_strv(src, i);
				src = NULL;
			}
		if (!src) {
			lp_hil_patterns_free(p);
			return -ENOMEM;
		}
	}
	lp_hil_patterns_free(b->failure);
	b->failure = p;
	free_strv(b->fail_src, b->n_fail_src);
	b->fail_src = src;
	b->n_fail_src = n;
	b->custom_fail = custom;
	lp_hil_board_reset_shell(b); /* the shell runner takes its failure set when made */
	return 0;
}

static int wait_msg(struct lp_hil_board *b, int r, const struct lp_hil_match *m,
		    const char *what, unsigned timeout_ms, struct lp_diag *diag)
{
	if (r == -ECANCELED)
		return lp_diag_fail(diag, r, "%s: failure pattern \"%s\" matched: %s", b->cfg->name,
				    lp_hil_patterns_source(b->failure, m->index), m->text);
	if (r == -ETIMEDOUT)
		return lp_diag_fail(diag, r, "%s: %s did not appear within %u ms", b->cfg->name,
				    what, timeout_ms);
	return lp_diag_fail(diag, r, "%s: console: %s", b->cfg->name, strerror(-r));
}

/* Powers the board up afresh with its console listening before the first byte: off,
 * then on (restored from state_file unless NULL), console, let it run. */
static int power_up(struct lp_hil_board *b, const char *state_file, struct lp_hil_console **con,
		    struct lp_diag *diag)
{
	int r;

	/* the console reconnects by itself when QEMU goes away; close it so nothing waits */
	lp_hil_shell_free(b->shell);
	b->shell = NULL;
	lp_hil_console_close(b->console);
	b->console = NULL;
	if ((r = lp_hil_power_off(b->power, diag)) < 0)
		return r;
	if (b->cfg->console.kind == LP_HIL_CONSOLE_QEMU) {
		/* the console socket appears with QEMU: start it held, connect, let it run */
		r = state_file ? lp_hil_power_on_restored(b->power, state_file, LP_HIL_POWER_HOLD, diag)
			       : lp_hil_power_on(b->power, LP_HIL_POWER_HOLD, diag);
		if (r < 0 || (r = lp_hil_board_console(b, con, diag)) < 0)
			return r;
		lp_hil_expect_flush(b->expect);
		return lp_hil_power_resume(b->power, diag);
	}
	/* a real console exists without power: listen before the first byte */
	if ((r = lp_hil_board_console(b, con, diag)) < 0)
		return r;
	if (b->cfg->power.kind != LP_HIL_POWER_QEMU)
		lp_clock_sleep_ms(b->cfg->power.cycle_delay_ms); /* relay off time */
	lp_hil_expect_flush(b->expect);
	return state_file ? lp_hil_power_on_restored(b->power, state_file, 0, diag)
			  : lp_hil_power_on(b->power, 0, diag);
}

int lp_hil_board_boot(struct lp_hil_board *b, const char *until, unsigned timeout_ms,
		      struct lp_diag *diag)
{
	struct lp_hil_patterns *want = NULL;
	struct lp_hil_console *con;
	struct lp_hil_match m;
	const char *res[2];
	size_t n = 0;
	int r;

	if (!timeout_ms)
		timeout_ms = b->cfg->boot.timeout_ms;
	if (!until)
		until = b->cfg->boot.until;
	if (until) {
		res[n++] = until;
	} else {
		res[n++] = b->cfg->shell.prompt;
		if (b->cfg->shell.login_prompt)
			res[n++] = b->cfg->shell.login_prompt;
	}
	if ((r = lp_hil_patterns_new(res, n, &want, diag)) < 0)
		return r;
	if ((r = power_up(b, NULL, &con, diag)) < 0)
		goto out;
	r = lp_hil_expect_wait(b->expect, con, want, b->failure, timeout_ms, &m);
	if (r < 0)
		r = wait_msg(b, r, &m, until ? until : "the shell or login prompt", timeout_ms, diag);
out:
	lp_hil_patterns_free(want);
	return r;
}

int lp_hil_board_save(struct lp_hil_board *b, const char *state_file, struct lp_diag *diag)
{
	return lp_hil_power_save(b->power, state_file, diag);
}

int lp_hil_board_restore(struct lp_hil_board *b, const char *state_file, struct lp_diag *diag)
{
	struct lp_hil_console *con;

	return power_up(b, state_file, &con, diag);
}

int lp_hil_board_expect_pattern(struct lp_hil_board *b, const char *pattern,
				unsigned timeout_ms, struct lp_hil_match *ret_match,
				struct lp_diag *diag)
{
	struct lp_hil_patterns *want = NULL;
	struct lp_hil_console *con;
	struct lp_hil_match m;
	int r;

	if ((r = lp_hil_patterns_new(&pattern, 1, &want, diag)) < 0)
		return r;
	if ((r = lp_hil_board_console(b, &con, diag)) < 0)
		goto out;
	r = lp_hil_expect_wait(b->expect, con, want, b->failure, timeout_ms, &m);
	if (r < 0)
		r = wait_msg(b, r, &m, pattern, timeout_ms, diag);
	else if (ret_match)
		*ret_match = m;
out:
	lp_hil_patterns_free(want);
	return r;
}

int lp_hil_board_run(struct lp_hil_board *b, const char *cmd, unsigned timeout_ms,
		     int *ret_status, uint8_t **ret_output, size_t *ret_len,
		     struct lp_diag *diag)
{
	struct lp_hil_console *con;
	int r;

	if (!timeout_ms)
		timeout_ms = b->cfg->shell.timeout_ms;
	if ((r = lp_hil_board_console(b, &con, diag)) < 0)
		return r;
	if (!b->shell) {
		if (b->custom_fail)
			r = lp_hil_shell_new(con, b->expect, &b->cfg->shell,
					     (const char *const *)b->fail_src, b->n_fail_src, &b->shell,
					     diag);
		else
			r = lp_hil_shell_new(con, b->expect, &b->cfg->shell,
					     (const char *const *)b->cfg->boot.failure,
					     b->cfg->boot.n_failure, &b->shell, diag);
		if (r < 0)
			return r;
		r = lp_hil_shell_prepare(b->shell, timeout_ms, diag);
		if (r < 0) {
			lp_hil_shell_free(b->shell);
			b->shell = NULL;
			return r;
		}
	}
	return lp_hil_shell_run(b->shell, cmd, timeout_ms, ret_status, ret_output, ret_len, diag);
}

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/cli.h"
#include "loopline/log.h"

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loopline-hil: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'loopline-hil --help'.\n");
	return LP_EXIT_USAGE;
}

int cli_fail(int err, const struct lp_diag *diag)
{
	char buf[1024];

	if (diag && (diag->msg[0] || diag->file[0]))
		log_error("%s", lp_diag_format(diag, buf, sizeof(buf)));
	else
		log_error("%s", strerror(-err));
	return cli_fail_code(err);
}

int cli_fail_code(int err)
{
	switch (err) {
	case -EBUSY:
		return HIL_EXIT_LOCKED;
	case -ETIMEDOUT:
		return HIL_EXIT_TIMEOUT;
	case -ECANCELED:
		return HIL_EXIT_FAILURE_PATTERN;
	default:
		return LP_EXIT_FAILURE;
	}
}

int cli_parse_duration(const char *opt, const char *s, uint64_t *ret_ms)
{
	uint64_t ms;

	if (lp_duration_parse(s, &ms) < 0 || ms > UINT32_MAX)
		return cli_usage_error("%s: \"%s\" is not a duration (e.g. 30, 30s, 500ms, 5m)", opt,
				       s);
	*ret_ms = ms;
	return 0;
}

int cli_load_inventory(struct cli *cli)
{
	struct lp_diag diag;
	int r;

	if (cli->inv)
		return 0;
	if (!cli->inventory_path || !cli->inventory_path[0])
		return cli_usage_error("no inventory: give -i FILE or set LOOPLINE_HIL_INVENTORY");
	r = lp_hil_inventory_load(cli->inventory_path, &cli->inv, &diag);
	if (r < 0) {
		char buf[1024];

		log_error("%s", lp_diag_format(&diag, buf, sizeof(buf)));
		return LP_EXIT_USAGE;
	}
	return 0;
}

int cli_board_open(struct cli *cli, const char *name, const char *why, struct lp_hil_board **ret)
{
	struct lp_hil_lock_info cur;
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	if ((r = cli_load_inventory(cli)) != 0)
		return r;
	if (!lp_hil_inventory_find(cli->inv, name)) {
		log_error("no board \"%s\" in %s", name, cli->inventory_path);
		return LP_EXIT_USAGE;
	}
	if (!cli->locks && (r = lp_hil_locks_open(cli->inv->lock_db, &cli->locks, &diag)) < 0)
		return cli_fail(r, &diag);
	/* a board this owner reserved with "lock" is used as is; otherwise this process
	 * holds the lock while it works, so a crash frees it (stale pid) */
	r = lp_hil_lock_get(cli->locks, name, &cur, &diag);
	if (r == -ENOENT || (r == 0 && strcmp(cur.owner, cli->owner) != 0)) {
		r = lp_hil_lock_acquire(cli->locks, name, cli->owner, getpid(), why, 0, cli->wait_ms,
					NULL, &diag);
		if (r < 0)
			return cli_fail(r, &diag);
		snprintf(cli->locked_board, sizeof(cli->locked_board), "%s", name);
	} else if (r < 0) {
		return cli_fail(r, &diag);
	}
	r = lp_hil_board_open(cli->inv, name, ret, &diag);
	if (r < 0) {
		cli_board_close(cli, NULL);
		return cli_fail(r, &diag);
	}
	return 0;
}

void cli_board_close(struct cli *cli, struct lp_hil_board *b)
{
	lp_hil_board_close(b);
	if (cli->locked_board[0] && cli->locks) {
		lp_hil_lock_release(cli->locks, cli->locked_board, cli->owner, false, NULL);
		cli->locked_board[0] = '\0';
	}
}

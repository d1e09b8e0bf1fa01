/* SPDX-License-Identifier: MIT */
/* What the loopline-hil commands share: exit codes, the inventory, boards and locks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/json.h"
#include "loopline/log.h"

const int hil_exits[] = { LP_EXIT_BUSY, LP_EXIT_TIMEOUT, LP_EXIT_FAILURE_PATTERN,
			  LP_EXIT_NOT_FOUND, 0 };

int hil_exit(int err)
{
	int code = lp_exit_from_errno(err);

	if (code == LP_EXIT_OK || code == LP_EXIT_FAILURE || code == LP_EXIT_USAGE)
		return code;
	for (const int *e = hil_exits; *e; e++)
		if (*e == code)
			return code;
	return LP_EXIT_FAILURE;
}

int hil_fail(int err, const struct lp_diag *diag)
{
	(void)lp_cli_fail(err, diag, NULL);
	return hil_exit(err);
}

int hil_parse_duration(const struct lp_cli *cli, const char *opt, const char *text,
		       uint64_t *ret_ms)
{
	uint64_t ms;
	int r = lp_cli_parse_duration(cli, opt, text, &ms);

	if (r != 0)
		return r;
	if (ms > UINT32_MAX)
		return lp_cli_usage_error(cli, "%s: '%s' is too long (at most 49 days)", opt, text);
	*ret_ms = ms;
	return 0;
}

int hil_print_json(cJSON *item)
{
	char *s = item ? lp_json_print(item) : NULL;

	cJSON_Delete(item);
	if (!s) {
		log_error("out of memory");
		return LP_EXIT_FAILURE;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

int hil_inventory(struct lp_cli *cli, struct hil *h)
{
	struct lp_diag diag;
	char buf[1024];

	if (h->inv)
		return 0;
	if (!h->inventory_path || !h->inventory_path[0])
		return lp_cli_usage_error(cli, "no inventory: give -i FILE or set "
					       "LOOPLINE_HIL_INVENTORY");
	if (lp_hil_inventory_load(h->inventory_path, &h->inv, &diag) < 0) {
		log_error("%s", lp_diag_format(&diag, buf, sizeof(buf)));
		return LP_EXIT_USAGE; /* an inventory error is a configuration error */
	}
	return 0;
}

int hil_locks(struct lp_cli *cli, struct hil *h)
{
	struct lp_diag diag;
	int r;

	if ((r = hil_inventory(cli, h)) != 0)
		return r;
	lp_diag_clear(&diag);
	if (!h->locks && (r = lp_hil_locks_open(h->inv->lock_db, &h->locks, &diag)) < 0)
		return hil_fail(r, &diag);
	return 0;
}

const struct lp_hil_board_config *hil_find_board(struct hil *h, const char *name)
{
	const struct lp_hil_board_config *b = lp_hil_inventory_find(h->inv, name);

	if (!b)
		log_error("no board \"%s\" in %s", name, h->inventory_path);
	return b;
}

int hil_board_open(struct lp_cli *cli, struct hil *h, const char *name, const char *why,
		   struct lp_hil_board **ret)
{
	struct lp_hil_lock_info cur;
	struct lp_diag diag;
	int r;

	if ((r = hil_locks(cli, h)) != 0)
		return r;
	if (!hil_find_board(h, name))
		return LP_EXIT_NOT_FOUND;
	lp_diag_clear(&diag);
	/* a board this owner reserved with "lock" is used as is; otherwise this process
	 * holds the lock while it works, so a crash frees it (stale pid) */
	r = lp_hil_lock_get(h->locks, name, &cur, &diag);
	if (r == -ENOENT || (r == 0 && strcmp(cur.owner, h->owner) != 0)) {
		r = lp_hil_lock_acquire(h->locks, name, h->owner, getpid(), why, 0, h->wait_ms,
					NULL, &diag);
		if (r < 0)
			return hil_fail(r, &diag);
		snprintf(h->locked_board, sizeof(h->locked_board), "%s", name);
	} else if (r < 0) {
		return hil_fail(r, &diag);
	}
	r = lp_hil_board_open(h->inv, name, ret, &diag);
	if (r < 0) {
		hil_board_close(h, NULL);
		return hil_fail(r, &diag);
	}
	return 0;
}

void hil_board_close(struct hil *h, struct lp_hil_board *b)
{
	lp_hil_board_close(b);
	if (h->locked_board[0] && h->locks) {
		lp_hil_lock_release(h->locks, h->locked_board, h->owner, false, NULL);
		h->locked_board[0] = '\0';
	}
}

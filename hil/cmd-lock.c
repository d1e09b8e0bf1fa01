/* SPDX-License-Identifier: MIT */
/* lock, unlock, locks */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/log.h"

const struct lp_cli_opt hil_lock_opts[] = {
	{ 'f', "for", 0, "D", "the reservation ends after D (default: never)" },
	{ 'r', "reason", 0, "TEXT", "shown to others who want the board" },
	{ 'p', "pid", 0, "PID", "tie it to this process (default: the calling shell; 0: none)" },
	{ 0 },
};

const struct lp_cli_opt hil_unlock_opts[] = {
	{ 'f', "force", 0, NULL, "release someone else's reservation" },
	{ 0 },
};

int cmd_lock(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	const char *reason = "", *arg;
	uint64_t duration = 0, pid = (uint64_t)getppid();
	struct lp_diag diag;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0) {
		r = 0;
		switch (key) {
		case 'f':
			r = hil_parse_duration(cli, "--for", arg, &duration);
			break;
		case 'p':
			r = lp_cli_parse_uint(cli, "--pid", arg, 0, INT_MAX, &pid);
			break;
		case 'r':
			reason = arg;
			break;
		}
		if (r != 0)
			return r;
	}
	if ((r = hil_locks(cli, h)) != 0)
		return r;
	if (!hil_find_board(h, cli->args[0]))
		return LP_EXIT_NOT_FOUND;
	lp_diag_clear(&diag);
	r = lp_hil_lock_acquire(h->locks, cli->args[0], h->owner, (pid_t)pid, reason, duration,
				h->wait_ms, NULL, &diag);
	if (r < 0)
		return hil_fail(r, &diag);
	printf("%s locked by %s\n", cli->args[0], h->owner);
	return 0;
}

int cmd_unlock(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_diag diag;
	bool force = lp_cli_next(cli, NULL) == 'f';
	int r;

	if ((r = hil_locks(cli, h)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_hil_lock_release(h->locks, cli->args[0], h->owner, force, &diag);
	return r < 0 ? hil_fail(r, &diag) : 0;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!t) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_locks(struct lp_cli *cli, void *ctx)
{
	struct hil *h = ctx;
	struct lp_hil_lock_info *list = NULL;
	struct lp_diag diag;
	size_t n = 0;
	int r;

	if ((r = hil_locks(cli, h)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_hil_lock_list(h->locks, &list, &n, &diag);
	if (r < 0)
		return hil_fail(r, &diag);
	if (cli->json) {
		cJSON *arr = cJSON_CreateArray();

		for (size_t i = 0; arr && i < n; i++) {
			cJSON *o = cJSON_CreateObject();

			if (!o)
				break;
			cJSON_AddItemToArray(arr, o);
			cJSON_AddStringToObject(o, "board", list[i].board);
			cJSON_AddStringToObject(o, "owner", list[i].owner);
			cJSON_AddNumberToObject(o, "pid", (double)list[i].pid);
			cJSON_AddStringToObject(o, "host", list[i].host);
			cJSON_AddStringToObject(o, "reason", list[i].reason);
			cJSON_AddNumberToObject(o, "since", (double)list[i].since);
			if (list[i].expiry)
				cJSON_AddNumberToObject(o, "expiry", (double)list[i].expiry);
			else
				cJSON_AddNullToObject(o, "expiry");
		}
		free(list);
		return hil_print_json(arr);
	}
	printf("%-20s %-24s %-8s %-20s %-20s %s\n", "BOARD", "OWNER", "PID", "SINCE", "EXPIRES",
	       "REASON");
	for (size_t i = 0; i < n; i++) {
		char since[32], exp[32];

		fmt_time(list[i].since, since, sizeof(since));
		fmt_time(list[i].expiry, exp, sizeof(exp));
		printf("%-20s %-24s %-8ld %-20s %-20s %s\n", list[i].board, list[i].owner,
		       list[i].pid, since, exp, list[i].reason);
	}
	free(list);
	return 0;
}

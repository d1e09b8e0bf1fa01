/* SPDX-License-Identifier: MIT */
/* lock, unlock, locks */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "loopline/log.h"

static int open_locks(struct cli *cli)
{
	struct lp_diag diag;
	int r;

	if ((r = cli_load_inventory(cli)) != 0)
		return r;
	if (!cli->locks && (r = lp_hil_locks_open(cli->inv->lock_db, &cli->locks, &diag)) < 0)
		return cli_fail(r, &diag);
	return 0;
}

int cmd_lock(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"for", required_argument, NULL, 'f'},
					     {"reason", required_argument, NULL, 'r'},
					     {"pid", required_argument, NULL, 'p'},
					     {0}};
	uint64_t duration = 0;
	const char *reason = "";
	long pid = (long)getppid();
	struct lp_diag diag;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'f':
			if ((r = cli_parse_duration("--for", optarg, &duration)) != 0)
				return r;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'p':
			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || pid < 0 || pid > INT_MAX)
				return cli_usage_error("--pid: \"%s\" is not a process id", optarg);
			break;
		default:
			return cli_usage_error("lock: unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("lock: expected BOARD");
	if ((r = open_locks(cli)) != 0)
		return r;
	if (!lp_hil_inventory_find(cli->inv, argv[optind])) {
		log_error("no board \"%s\" in %s", argv[optind], cli->inventory_path);
		return LP_EXIT_USAGE;
	}
	lp_diag_clear(&diag);
	r = lp_hil_lock_acquire(cli->locks, argv[optind], cli->owner, (pid_t)pid, reason, duration,
				cli->wait_ms, NULL, &diag);
	if (r < 0)
		return cli_fail(r, &diag);
	printf("%s locked by %s\n", argv[optind], cli->owner);
	return 0;
}

int cmd_unlock(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
	struct lp_diag diag;
	bool force = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'f')
			return cli_usage_error("unlock: unknown option");
		force = true;
	}
	if (argc - optind != 1)
		return cli_usage_error("unlock: expected BOARD");
	if ((r = open_locks(cli)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_hil_lock_release(cli->locks, argv[optind], cli->owner, force, &diag);
	if (r < 0)
		return cli_fail(r, &diag);
	return 0;
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

int cmd_locks(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	struct lp_hil_lock_info *list = NULL;
	struct lp_diag diag;
	bool json = false;
	size_t n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_error("locks: unknown option");
		json = true;
	}
	if (optind != argc)
		return cli_usage_error("locks: unexpected argument");
	if ((r = open_locks(cli)) != 0)
		return r;
	lp_diag_clear(&diag);
	r = lp_hil_lock_list(cli->locks, &list, &n, &diag);
	if (r < 0)
		return cli_fail(r, &diag);
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *s;

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
		s = arr ? cJSON_PrintUnformatted(arr) : NULL;
		cJSON_Delete(arr);
		if (s)
			printf("%s\n", s);
		free(s);
		free(list);
		return s ? 0 : LP_EXIT_FAILURE;
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

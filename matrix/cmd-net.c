/* SPDX-License-Identifier: MIT */
/*
 * loopline-matrix fault-proxy HOST PORT [--control FILE] [--log FILE]
 *	one guest connection (stdin/stdout, as QEMU's guestfwd cmd: gives it) relayed to
 *	HOST:PORT through the combo's fault state (netproxy.c)
 * loopline-matrix net --control FILE cut|resume|stall|throttle B/S|drop-after B|show
 *	sets (or shows) the combo's fault state (netfault.c)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/cli.h"
#include "loopline/log.h"
#include "matrix.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = 1;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* QEMU's guestfwd gives the command the guest's connection as stdin, stdout AND stderr:
 * a message on stderr would land in the guest's byte stream. Then stderr goes to
 * /dev/null (messages are in the --log file too). */
static void stderr_off_the_wire(void)
{
	int fd;

	if (!same_file(STDERR_FILENO, STDIN_FILENO) && !same_file(STDERR_FILENO, STDOUT_FILENO))
		return;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

int mx_cmd_fault_proxy(struct lp_cli *cli, void *ctx)
{
	struct mx_net_proxy_opts o = { .guest_in = 0, .guest_out = 1, .stop = &stop_requested };
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: poll returns */
	const char *arg;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		switch (key) {
		case 'c': o.control = arg; break;
		case 'l': o.log = arg; break;
		}
	o.host = cli->args[0];
	o.port = cli->args[1];
	stderr_off_the_wire();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	r = mx_net_proxy_run(&o, NULL);
	return r < 0 ? lp_exit_from_errno(r == -EINVAL ? -EIO : r) : 0;
}

static void state_print(const char *path, const struct mx_net_state *st)
{
	uint64_t used = 0;

	printf("mode=%s", mx_net_mode_name(st->mode));
	if (st->mode == MX_NET_THROTTLE)
		printf(" rate=%" PRIu64, st->rate_bps);
	if (st->mode == MX_NET_DROP_AFTER) {
		if (mx_net_budget_used(path, st->generation, &used) < 0)
			used = 0;
		printf(" drop_after=%" PRIu64 " used=%" PRIu64, st->drop_after, used);
	}
	printf(" generation=%" PRIu64 "\n", st->generation);
}

static int net_show(const char *path)
{
	struct mx_net_state st = { .mode = MX_NET_PASS };
	struct lp_diag diag;
	int r = mx_net_get(path, &st, &diag);

	if (r == -ENOENT) {
		printf("mode=pass generation=0 (no control file)\n");
		return 0;
	}
	if (r < 0)
		return lp_cli_fail(r, &diag, NULL);
	state_print(path, &st);
	return 0;
}

int mx_cmd_net(struct lp_cli *cli, void *ctx)
{
	static const struct {
		const char *word;
		enum mx_net_mode mode;
		const char *arg; /* the argument it takes, or NULL */
	} words[] = {
		{ "cut", MX_NET_CUT, NULL },       { "resume", MX_NET_PASS, NULL },
		{ "pass", MX_NET_PASS, NULL },
		{ "stall", MX_NET_STALL, NULL },   { "throttle", MX_NET_THROTTLE, "BYTES_PER_S" },
		{ "drop-after", MX_NET_DROP_AFTER, "BYTES" }, { "show", MX_NET_MODES, NULL },
	};
	struct mx_net_state st = { 0 };
	const char *arg, *control = NULL, *word = cli->args[0];
	struct lp_diag diag;
	size_t i;
	int key, r;

	while ((key = lp_cli_next(cli, &arg)) > 0)
		if (key == 'c')
			control = arg;
	if (!control)
		return lp_cli_usage_error(cli, "--control FILE is required");
	for (i = 0; i < LP_ARRAY_SIZE(words) && strcmp(word, words[i].word) != 0; i++)
		;
	if (i == LP_ARRAY_SIZE(words))
		return lp_cli_usage_error(cli, "unknown mode '%s' (cut, resume or pass, stall, "
					  "throttle, drop-after, show)", word);
	if (words[i].arg && cli->n_args != 2)
		return lp_cli_usage_error(cli, "%s needs %s", word, words[i].arg);
	if (!words[i].arg && cli->n_args != 1)
		return lp_cli_usage_error(cli, "%s takes no argument", word);
	if (words[i].mode == MX_NET_MODES)
		return net_show(control);
	st.mode = words[i].mode;
	if (st.mode == MX_NET_THROTTLE &&
	    (r = lp_cli_parse_size(cli, "throttle", cli->args[1], 1, MX_NET_RATE_MAX, &st.rate_bps)))
		return r;
	if (st.mode == MX_NET_DROP_AFTER &&
	    (r = lp_cli_parse_size(cli, "drop-after", cli->args[1], 0, MX_NET_DROP_MAX,
				   &st.drop_after)))
		return r;
	r = mx_net_set(control, &st, &diag);
	if (r < 0)
		return lp_cli_fail(r, &diag, NULL);
	state_print(control, &st);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* loopline-agent: argument parsing, logging set-up and the subcommand table. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "ddi.h"
#include "loopline/common.h"
#include "loopline/log.h"

#define DEFAULT_CONFIG "/etc/loopline/agent.json"

struct options {
	const char *config;
	const char *slot;
};

struct command {
	const char *name;
	int (*fn)(const struct options *o, int argc, char **argv);
	const char *args;
	const char *help;
};

static int usage_error(const char *fmt, ...) LP_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loopline-agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'loopline-agent --help'.\n");
	return LP_EXIT_USAGE;
}

static int load_config(const struct options *o, struct agent_config **ret)
{
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 16];
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = agent_config_load(o->config, ret, &diag);
	if (r < 0) {
		log_error("%s", lp_diag_format(&diag, buf, sizeof(buf)));
		return r;
	}
	return 0;
}

/* Takes the data directory lock for a command that changes the state. */
static int lock_or_report(const struct agent_config *cfg, int *ret_fd)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = agent_lock(cfg->data_dir, false, ret_fd, &diag);
	if (r < 0)
		log_error("%s", diag.msg);
	return r;
}

static int report(int r, const struct lp_diag *diag)
{
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 16];

	if (r >= 0)
		return LP_EXIT_OK;
	log_error("%s", lp_diag_format(diag, buf, sizeof(buf)));
	switch (r) {
	case -EKEYREJECTED:
	case -ENOEXEC:
	case -EPERM:
	case -EPROTONOSUPPORT:
	case -EBADMSG:
	case -E2BIG:
	case -EOPNOTSUPP:
		return AGENT_EXIT_REFUSED;
	case -EBUSY:
		return AGENT_EXIT_BUSY;
	case -ENOTRECOVERABLE:
		return AGENT_EXIT_STATE;
	default:
		return LP_EXIT_FAILURE;
	}
}

/* Commands take no options of their own except those listed; "--json" etc. are parsed
 * here by hand to keep one convention. */
static bool take_flag(int *argc, char **argv, const char *flag)
{
	for (int i = 1; i < *argc; i++)
		if (strcmp(argv[i], flag) == 0) {
			memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(char *));
			(*argc)--;
			return true;
		}
	return false;
}

static const char *take_value(int *argc, char **argv, const char *flag, int *err)
{
	for (int i = 1; i < *argc; i++)
		if (strcmp(argv[i], flag) == 0) {
			const char *v;

			if (i + 1 >= *argc) {
				*err = usage_error("%s needs a value", flag);
				return NULL;
			}
			v = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof(char *));
			*argc -= 2;
			return v;
		}
	return NULL;
}

static int check_no_more(int argc, char **argv, int want)
{
	if (argc > want + 1)
		return usage_error("unexpected argument '%s'", argv[want + 1]);
	if (argc < want + 1)
		return usage_error("%s: missing argument", argv[0]);
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return usage_error("unknown option '%s'", argv[i]);
	return 0;
}

static int cmd_check_config(const struct options *o, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	int r = check_no_more(argc, argv, 0);

	if (r)
		return r;
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	printf("%s: ok (%zu backend%s, %zu health check%s, %zu action%s)\n", o->config,
	       cfg->n_backends, cfg->n_backends == 1 ? "" : "s", cfg->n_health,
	       cfg->n_health == 1 ? "" : "s", cfg->n_actions, cfg->n_actions == 1 ? "" : "s");
	if (cfg->device_config)
		printf("%s: %s\n", cfg->device_config, cfg->device_config_loaded ?
		       "ok (device config applied)" : "does not exist (device not provisioned yet)");
	agent_config_free(cfg);
	return LP_EXIT_OK;
}

static int cmd_install(const struct options *o, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	const char *action, *file;
	char backend[AGENT_ID_MAX] = "";
	const char *action_id = NULL;
	struct lp_diag diag;
	bool reboot;
	int err = 0, fd, r, lock = -1;

	action = take_value(&argc, argv, "--action", &err);
	if (err)
		return err;
	reboot = take_flag(&argc, argv, "--reboot");
	r = check_no_more(argc, argv, 1);
	if (r)
		return r;
	file = argv[1];
	if (action) {
		const char *colon = strchr(action, ':');

		if (!colon || colon == action || !colon[1] || (size_t)(colon - action) >= sizeof(backend))
			return usage_error("--action wants BACKEND:ACTION_ID, not '%s'", action);
		memcpy(backend, action, (size_t)(colon - action));
		backend[colon - action] = '\0';
		action_id = colon + 1;
	}
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	if (action && !agent_config_find_backend(cfg, backend)) {
		agent_config_free(cfg);
		return usage_error("--action: no backend named '%s' in the config", backend);
	}
	if (strcmp(file, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			log_error("%s: %s", file, strerror(errno));
			agent_config_free(cfg);
			return LP_EXIT_FAILURE;
		}
	}
	lp_diag_clear(&diag);
	if (lock_or_report(cfg, &lock) < 0) {
		if (fd != STDIN_FILENO)
			close(fd);
		agent_config_free(cfg);
		return AGENT_EXIT_BUSY;
	}
	{
		struct agent_ctx ctx = { .cfg = cfg, .slot_override = o->slot };

		r = agent_install_fd(&ctx, fd, action ? backend : NULL, action_id, &diag);
		if (r == 0 && reboot) {
			int status = 0;
			char why[AGENT_REASON_MAX];

			r = agent_command_run(&cfg->reboot, &status);
			r = agent_command_describe(&cfg->reboot, "reboot command", r, status, NULL, why,
						   sizeof(why));
			if (r < 0)
				lp_diag_fail(&diag, r, "%s", why);
		}
	}
	agent_unlock(lock);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0 && strcmp(file, "-") != 0 && !diag.file[0])
		lp_diag_set_file(&diag, file);
	r = report(r, &diag);
	agent_config_free(cfg);
	return r;
}

static int cmd_boot(const struct options *o, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct agent_ctx ctx;
	int lock = -1;
	int r = check_no_more(argc, argv, 0);

	if (r)
		return r;
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	if (lock_or_report(cfg, &lock) < 0) {
		agent_config_free(cfg);
		return AGENT_EXIT_BUSY;
	}
	ctx = (struct agent_ctx){ .cfg = cfg, .slot_override = o->slot };
	r = agent_boot_reconcile(&ctx);
	agent_unlock(lock);
	agent_config_free(cfg);
	return r < 0 ? LP_EXIT_FAILURE : LP_EXIT_OK;
}

static int cmd_mark(const struct options *o, int argc, char **argv, bool good)
{
	struct agent_config *cfg = NULL;
	struct agent_ctx ctx;
	struct lp_diag diag;
	int lock = -1;
	int r = check_no_more(argc, argv, 0);

	if (r)
		return r;
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	if (lock_or_report(cfg, &lock) < 0) {
		agent_config_free(cfg);
		return AGENT_EXIT_BUSY;
	}
	ctx = (struct agent_ctx){ .cfg = cfg, .slot_override = o->slot };
	lp_diag_clear(&diag);
	r = good ? agent_mark_good(&ctx, &diag) : agent_mark_bad(&ctx, &diag);
	agent_unlock(lock);
	if (r < 0 && !diag.msg[0])
		lp_diag_fail(&diag, r, "%s", strerror(-r));
	r = report(r, &diag);
	agent_config_free(cfg);
	return r;
}

static int cmd_mark_good(const struct options *o, int argc, char **argv)
{
	return cmd_mark(o, argc, argv, true);
}

static int cmd_mark_bad(const struct options *o, int argc, char **argv)
{
	return cmd_mark(o, argc, argv, false);
}

static int cmd_status(const struct options *o, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct agent_outbox *ob = NULL;
	char buf[LP_DIAG_MSG_MAX + LP_DIAG_PATH_MAX + LP_DIAG_FILE_MAX + 16];
	enum agent_slot current = AGENT_SLOT_NONE;
	struct agent_state st;
	struct lp_diag diag;
	bool json = take_flag(&argc, argv, "--json");
	char running[AGENT_ID_MAX];
	long queued = 0;
	int r = check_no_more(argc, argv, 0);

	if (r)
		return r;
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	lp_diag_clear(&diag);
	r = agent_state_load(cfg->data_dir, &st, &diag);
	if (r < 0) {
		log_error("%s", lp_diag_format(&diag, buf, sizeof(buf)));
		agent_config_free(cfg);
		return LP_EXIT_FAILURE;
	}
	lp_diag_clear(&diag);
	if (agent_slot_current(cfg, o->slot, &current, &diag) < 0)
		current = AGENT_SLOT_NONE;
	if (agent_outbox_open(cfg->data_dir, &ob) == 0)
		queued = agent_outbox_count(ob);
	agent_outbox_free(ob);

	agent_running_version(cfg, &st, running, sizeof(running));
	if (json) {
		char *text = agent_state_serialize(&st);
		cJSON *root = text ? cJSON_Parse(text) : NULL;
		char *out = NULL;

		free(text);
		if (root && cJSON_AddStringToObject(root, "running_slot", agent_slot_name(current)) &&
		    cJSON_AddStringToObject(root, "running_version", running) &&
		    cJSON_AddNumberToObject(root, "outbox", (double)(queued > 0 ? queued : 0)) &&
		    cJSON_AddStringToObject(root, "agent_version", lp_version_string()))
			out = cJSON_Print(root);
		cJSON_Delete(root);
		if (!out) {
			agent_config_free(cfg);
			return LP_EXIT_FAILURE;
		}
		printf("%s\n", out);
		free(out);
	} else {
		printf("state:         %s%s\n", agent_state_name(st.state),
		       st.state == AGENT_STATE_INSTALLED ? " (reboot pending)" : "");
		printf("running slot:  %s\n", agent_slot_name(current));
		printf("version:       %s (security version %llu)\n", running[0] ? running : "unknown",
		       (unsigned long long)st.security_version);
		if (st.to_version[0])
			printf("update:        %s -> %s, slot %s -> %s\n",
			       st.from_version[0] ? st.from_version : "unknown", st.to_version,
			       agent_slot_name(st.from_slot), agent_slot_name(st.to_slot));
		if (st.action_id[0])
			printf("action:        %s on backend %s\n", st.action_id, st.backend);
		printf("result:        %s%s%s\n", agent_result_name(st.result), st.reason[0] ? ": " : "",
		       st.reason);
		printf("outbox:        %ld message%s queued\n", queued, queued == 1 ? "" : "s");
	}
	agent_config_free(cfg);
	return LP_EXIT_OK;
}

static void on_stop(int sig)
{
	(void)sig;
	agent_stop_requested = 1;
}

static int cmd_check_update(const struct options *o, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct agent_poller *p = NULL;
	struct agent_ctx ctx;
	size_t ok = 0;
	int lock = -1;
	int r = check_no_more(argc, argv, 0);

	if (r)
		return r;
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	if (cfg->n_backends == 0) {
		log_error("%s: no backends configured", o->config);
		agent_config_free(cfg);
		return LP_EXIT_USAGE;
	}
	if (lock_or_report(cfg, &lock) < 0) {
		agent_config_free(cfg);
		return AGENT_EXIT_BUSY;
	}
	ctx = (struct agent_ctx){ .cfg = cfg, .slot_override = o->slot };
	agent_boot_reconcile(&ctx);
	r = agent_poller_new(&ctx, &p);
	if (r < 0) {
		log_error("cannot set up the backends: %s", strerror(-r));
		agent_unlock(lock);
		agent_config_free(cfg);
		return LP_EXIT_FAILURE;
	}
	for (size_t i = 0; i < agent_poller_count(p); i++) {
		unsigned next;

		if (agent_poller_cycle(p, i, &next) == 0)
			ok++;
	}
	agent_poller_free(p);
	agent_unlock(lock);
	agent_config_free(cfg);
	return ok ? LP_EXIT_OK : LP_EXIT_FAILURE;
}

/* The daemon: a plain loop that sleeps in ppoll() until the next backend is due; signal
 * handlers only set a flag, and the signals are unblocked only inside ppoll() and while
 * working (so a download notices a stop request too). */
static int cmd_run(const struct options *o, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct agent_poller *p = NULL;
	struct sigaction sa = { 0 };
	sigset_t stop_set, old;
	struct agent_ctx ctx;
	int lock = -1;
	int r = check_no_more(argc, argv, 0);

	if (r)
		return r;
	if (load_config(o, &cfg) < 0)
		return LP_EXIT_USAGE;
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);

	ctx = (struct agent_ctx){ .cfg = cfg, .slot_override = o->slot };
	if (agent_lock(cfg->data_dir, true, &lock, NULL) == 0) {
		agent_boot_reconcile(&ctx);
		agent_unlock(lock);
	}
	r = agent_poller_new(&ctx, &p);
	if (r < 0) {
		log_error("cannot set up the backends: %s", strerror(-r));
		agent_config_free(cfg);
		return LP_EXIT_FAILURE;
	}
	log_info("running with %zu backend%s", agent_poller_count(p),
		 agent_poller_count(p) == 1 ? "" : "s");
	for (;;) {
		struct timespec ts;
		size_t due = 0;
		int wait;

		sigprocmask(SIG_BLOCK, &stop_set, &old);
		if (agent_stop_requested) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			break;
		}
		if (agent_poller_count(p) == 0)
			wait = 3600 * 1000;
		else
			due = agent_poller_next(p, &wait);
		if (wait > 0) {
			ts.tv_sec = wait / 1000;
			ts.tv_nsec = (long)(wait % 1000) * 1000000L;
			ppoll(NULL, 0, &ts, &old);
			sigprocmask(SIG_SETMASK, &old, NULL);
			continue;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		{
			unsigned s = cfg->poll_default_s;

			/* Waits while a manual command (install, mark-good, …) works. */
			if (agent_lock(cfg->data_dir, true, &lock, NULL) == 0) {
				agent_poller_cycle(p, due, &s);
				agent_unlock(lock);
			} else {
				agent_poller_postpone(p, due, s);
			}
			log_debug("backend %s: next poll in %u s", cfg->backends[due].name, s);
		}
	}
	log_info("stopping");
	agent_poller_free(p);
	agent_config_free(cfg);
	return LP_EXIT_OK;
}

static const struct command commands[] = {
	{ "run", cmd_run, "", "daemon: poll the backends, install, report" },
	{ "check-update", cmd_check_update, "", "one poll cycle of every backend, then exit" },
	{ "check-config", cmd_check_config, "", "validate the config file and exit" },
	{ "install", cmd_install, "FILE|- [--action BACKEND:ID] [--reboot]",
	  "install a local package into the inactive slot" },
	{ "boot", cmd_boot, "", "after-boot step: health-check and commit, or roll back" },
	{ "status", cmd_status, "[--json]", "print the update state" },
	{ "mark-good", cmd_mark_good, "", "commit the running new slot without health checks" },
	{ "mark-bad", cmd_mark_bad, "", "reject the new slot: switch back (and reboot)" },
};

static void print_help(void)
{
	printf("Usage: loopline-agent [OPTIONS] COMMAND [ARGS]\n\n"
	       "Options:\n"
	       "  -c, --config FILE   config file (default " DEFAULT_CONFIG ")\n"
	       "      --slot A|B      the running slot (overrides loopline.slot= on the kernel command line)\n"
	       "  -v, --verbose       debug messages\n"
	       "  -q, --quiet         errors only\n"
	       "  -h, --help          this help\n"
	       "      --version       print the version\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < LP_ARRAY_SIZE(commands); i++)
		printf("  %-12s %-38s %s\n", commands[i].name, commands[i].args, commands[i].help);
	printf("\nExit codes: 0 ok, 1 failure, 2 usage or config error, 10 package refused,\n"
	       "11 another update in flight, 12 not possible in the current state.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "slot", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct options o = { .config = DEFAULT_CONFIG };
	int c;

	lp_log_set_ident("loopline-agent");
	srandom((unsigned)time(NULL) ^ (unsigned)getpid()); /* jitter only, not secrets */
	while ((c = getopt_long(argc, argv, "+c:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 's':
			o.slot = optarg;
			break;
		case 'v':
			lp_log_set_level(LP_LOG_DEBUG);
			break;
		case 'q':
			lp_log_set_level(LP_LOG_ERROR);
			break;
		case 'h':
			print_help();
			return LP_EXIT_OK;
		case 'V':
			printf("loopline-agent %s\n", lp_version_string());
			return LP_EXIT_OK;
		default:
			fprintf(stderr, "Try 'loopline-agent --help'.\n");
			return LP_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "missing command");
	if (o.slot) {
		enum agent_slot s;

		if (agent_slot_parse(o.slot, &s) < 0)
			return usage_error("--slot: expected A or B, not '%s'", o.slot);
	}
	for (size_t i = 0; i < LP_ARRAY_SIZE(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(&o, argc - optind, argv + optind);
	return usage_error("unknown command '%s'", argv[optind]);
}

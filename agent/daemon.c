/* SPDX-License-Identifier: MIT */
/*
 * The daemon (`run`) and its one-shot form (`check-update`): the after-boot step, then
 * poll cycles of the backends. A plain loop that sleeps in ppoll() until the next backend
 * is due; signal handlers only set a flag, and the signals are unblocked only inside
 * ppoll() and while working (so a download notices a stop request too).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "ddi.h"
#include "loopline/cli.h"
#include "loopline/log.h"

#define IDLE_WAIT_MS (3600 * 1000) /* without backends: wake up now and then anyway */

volatile sig_atomic_t agent_stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	agent_stop_requested = 1;
}

/* The after-boot step. Its failure is logged here and the agent goes on polling: the
 * step is tried again at the next start, and the backends still get their feedback. */
static void reconcile(const struct agent_ctx *ctx)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = agent_boot_reconcile(ctx, &diag);
	if (r < 0)
		(void)lp_cli_fail(r, &diag, "after-boot step");
}

static int new_poller(const struct agent_ctx *ctx, struct agent_poller **ret, struct lp_diag *diag)
{
	int r = agent_poller_new(ctx, ret);

	if (r < 0)
		return lp_diag_fail(diag, r, "cannot set up the backends: %s", strerror(-r));
	return 0;
}

int agent_check_update(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	struct agent_poller *p = NULL;
	size_t ok = 0;
	int r;

	if (ctx->cfg->n_backends == 0) {
		lp_diag_set_file(diag, ctx->cfg->source);
		return lp_diag_fail(diag, -EINVAL, "no backends configured");
	}
	reconcile(ctx);
	r = new_poller(ctx, &p, diag);
	if (r < 0)
		return r;
	for (size_t i = 0; i < agent_poller_count(p); i++) {
		unsigned next;

		/* a backend that cannot be polled was logged by its cycle */
		if (agent_poller_cycle(p, i, &next) == 0)
			ok++;
	}
	agent_poller_free(p);
	if (ok == 0)
		return lp_diag_fail(diag, -EHOSTUNREACH, "no backend could be polled");
	return 0;
}

static void handle_signals(sigset_t *ret_stop_set)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(ret_stop_set);
	sigaddset(ret_stop_set, SIGTERM);
	sigaddset(ret_stop_set, SIGINT);
}

/* Polls backend due, waiting while a manual command (install, mark-good, …) holds the
 * data directory. */
static void poll_due(const struct agent_ctx *ctx, struct agent_poller *p, size_t due)
{
	const struct agent_config *cfg = ctx->cfg;
	unsigned s = cfg->poll_default_s;
	struct lp_diag diag;
	int lock = -1, r;

	lp_diag_clear(&diag);
	r = agent_lock(cfg->data_dir, true, &lock, &diag);
	if (r < 0) {
		log_error("%s; backend %s is polled again in %u s", diag.msg, cfg->backends[due].name, s);
		agent_poller_postpone(p, due, s);
		return;
	}
	r = agent_poller_cycle(p, due, &s);
	agent_unlock(lock);
	log_debug("backend %s: %s; next poll in %u s", cfg->backends[due].name,
		  r < 0 ? "not polled" : "polled", s);
}

int agent_daemon_run(const struct agent_ctx *ctx, struct lp_diag *diag)
{
	const struct agent_config *cfg = ctx->cfg;
	struct agent_poller *p = NULL;
	struct lp_diag ld;
	sigset_t stop_set, old;
	int lock = -1, r;

	handle_signals(&stop_set);
	lp_diag_clear(&ld);
	if (agent_lock(cfg->data_dir, true, &lock, &ld) == 0) {
		reconcile(ctx);
		agent_unlock(lock);
	} else {
		log_error("%s; the after-boot step waits for the next start", ld.msg);
	}
	r = new_poller(ctx, &p, diag);
	if (r < 0)
		return r;
	log_info("running with %zu backend%s", agent_poller_count(p),
		 agent_poller_count(p) == 1 ? "" : "s");
	for (;;) {
		struct timespec ts;
		size_t due = 0;
		int wait = IDLE_WAIT_MS;

		sigprocmask(SIG_BLOCK, &stop_set, &old);
		if (agent_stop_requested) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			break;
		}
		if (agent_poller_count(p) > 0)
			due = agent_poller_next(p, &wait);
		if (wait > 0) {
			ts.tv_sec = wait / 1000;
			ts.tv_nsec = (long)(wait % 1000) * 1000000L;
			ppoll(NULL, 0, &ts, &old);
			sigprocmask(SIG_SETMASK, &old, NULL);
			continue;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		poll_due(ctx, p, due);
	}
	log_info("stopping");
	agent_poller_free(p);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Commands with timeouts: health checks, configured actions and the reboot command.
 * argv comes from the agent's own config and runs without a shell; each command gets its
 * own process group so a timeout kills everything it started.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "agent.h"
#include "loopline/log.h"
#include "loopline/proc.h"

int agent_command_run(const struct agent_command *cmd, int *ret_status)
{
	return agent_command_run_output(cmd, ret_status, NULL, 0);
}

int agent_command_run_output(const struct agent_command *cmd, int *ret_status, char *out,
			     size_t out_len)
{
	struct lp_proc_opts opts = {
		.argv = (const char *const *)cmd->argv,
		.out = out && out_len ? LP_PROC_OUT_CAPTURE : LP_PROC_OUT_INHERIT,
		.err = out && out_len ? LP_PROC_ERR_STDOUT : LP_PROC_ERR_INHERIT,
		.flags = LP_PROC_KEEP_TAIL,
	};
	struct lp_proc_result res = { 0 };
	int r;

	r = lp_proc_run(&opts, cmd->timeout_s * 1000u, NULL, out, out_len, &res);
	if (r == 0)
		*ret_status = res.status;
	return r;
}

/* Appends ": <the last line(s) of output>" (whitespace squeezed, bounded) to buf. */
static void append_output(char *buf, size_t len, const char *out)
{
	char line[200];
	size_t n = 0, used = strlen(buf);
	const char *p;

	if (!out)
		return;
	/* the end of the output says most: take up to sizeof(line) - 1 bytes of it */
	p = out + strlen(out);
	while (p > out && (p[-1] == '\n' || p[-1] == '\r' || p[-1] == ' ' || p[-1] == '\t'))
		p--;
	{
		size_t avail = (size_t)(p - out);
		const char *start = avail > sizeof(line) - 1 ? p - (sizeof(line) - 1) : out;
		bool space = false;

		for (const char *q = start; q < p && n < sizeof(line) - 1; q++) {
			unsigned char c = (unsigned char)*q;

			if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
				space = n > 0;
				continue;
			}
			if (space && n < sizeof(line) - 2)
				line[n++] = ' ';
			space = false;
			line[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	line[n] = '\0';
	if (n && used + 3 < len)
		snprintf(buf + used, len - used, ": %s", line);
}

/* Describes how a command ended; returns true for success. */
static bool describe(const struct agent_command *cmd, const char *what, int r, int status,
		     char *buf, size_t len)
{
	if (r == -ETIMEDOUT)
		snprintf(buf, len, "%s \"%s\" timed out after %u s", what, cmd->name, cmd->timeout_s);
	else if (r < 0)
		snprintf(buf, len, "%s \"%s\" could not start %s: %s", what, cmd->name, cmd->argv[0],
			 strerror(-r));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	else if (WIFEXITED(status))
		snprintf(buf, len, "%s \"%s\" failed with exit status %d", what, cmd->name,
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "%s \"%s\" was killed by signal %d", what, cmd->name,
			 WTERMSIG(status));
	else
		snprintf(buf, len, "%s \"%s\" ended abnormally", what, cmd->name);
	return false;
}

int agent_health_check(const struct agent_config *cfg, char *ret_reason, size_t reason_len)
{
	for (size_t i = 0; i < cfg->n_health; i++) {
		const struct agent_command *cmd = &cfg->health[i];
		char out[AGENT_OUTPUT_TAIL];
		int status = 0;
		int r = agent_command_run_output(cmd, &status, out, sizeof(out));

		if (!describe(cmd, "health check", r, status, ret_reason, reason_len)) {
			append_output(ret_reason, reason_len, out);
			log_warn("%s", ret_reason);
			return -EIO;
		}
		log_info("health check \"%s\" passed", cmd->name);
	}
	if (cfg->health_backend_reachable && cfg->n_backends > 0) {
		int r = agent_backend_reachable(cfg);

		if (r < 0) {
			snprintf(ret_reason, reason_len, "health check: no backend answered a poll (%s)",
				 strerror(-r));
			log_warn("%s", ret_reason);
			return -EIO;
		}
		log_info("health check: a backend answered");
	}
	return 0;
}

int agent_command_describe(const struct agent_command *cmd, const char *what, int r, int status,
			   const char *output, char *buf, size_t len)
{
	bool ok = describe(cmd, what, r, status, buf, len);

	if (ok)
		snprintf(buf, len, "%s \"%s\" succeeded", what, cmd->name);
	append_output(buf, len, output);
	return ok ? 0 : -EIO;
}

int agent_reboot(const struct agent_config *cfg, struct lp_diag *diag)
{
	char why[AGENT_REASON_MAX];
	int status = 0, r;

	r = agent_command_run(&cfg->reboot, &status);
	r = agent_command_describe(&cfg->reboot, "reboot command", r, status, NULL, why, sizeof(why));
	if (r < 0)
		return lp_diag_fail(diag, r, "%s", why);
	return 0;
}

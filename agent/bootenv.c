/* SPDX-License-Identifier: MIT */
/* The agent's only contact with the bootloader environment formats (libloopline bootenv). */
#include <errno.h>
#include <stdlib.h>

#include "agent.h"
#include "loopline/bootenv.h"

struct agent_bootenv {
	struct lp_bootenv *env;
};

int agent_bootenv_open(const struct agent_config *cfg, struct agent_bootenv **ret_env,
		       struct lp_diag *diag)
{
	enum lp_bootenv_kind kind = cfg->bootenv_type == AGENT_BOOTENV_UBOOT ? LP_BOOTENV_UBOOT
									      : LP_BOOTENV_GRUB;
	struct agent_bootenv *e;
	int r;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* No defaults: an environment without a valid copy is a broken device, and writing
	 * a fresh one could make the bootloader pick the wrong slot. */
	r = lp_bootenv_open(kind, cfg->bootenv_path, 0, &e->env, diag);
	if (r < 0) {
		free(e);
		return r;
	}
	*ret_env = e;
	return 0;
}

void agent_bootenv_free(struct agent_bootenv *env)
{
	if (!env)
		return;
	lp_bootenv_free(env->env);
	free(env);
}

const char *agent_bootenv_get(struct agent_bootenv *env, const char *key)
{
	return lp_bootenv_get(env->env, key);
}

int agent_bootenv_set(struct agent_bootenv *env, const char *key, const char *value)
{
	return lp_bootenv_set(env->env, key, value);
}

int agent_bootenv_save(struct agent_bootenv *env, struct lp_diag *diag)
{
	if (!lp_bootenv_dirty(env->env))
		return 0;
	return lp_bootenv_commit(env->env, diag);
}

/* SPDX-License-Identifier: MIT */
/*
 * bootsim: a host stand-in for the bootloader, for agent tests.
 *
 *   bootsim --config agent.json init [BOOTLIMIT]
 *       writes a fresh environment: boot_slot=A, upgrade_available=0, bootcount=0.
 *   bootsim --config agent.json [--agent PATH] [--crash-slot A|B] [--boot-id ID] boot
 *       one boot: applies U-Boot's bootcount rule (with upgrade_available=1, bootcount is
 *       incremented; past bootlimit the other slot is booted — the altbootcmd — and the
 *       environment is reset to it), prints "slot X", then "boots" the slot by running
 *       `PATH --config agent.json --slot X boot` with a fresh boot id. A slot named by
 *       --crash-slot never comes up: no agent runs and the exit status is 3.
 *
 * Exit status of boot: the agent's exit status, 128+N if it died by signal N, 3 for a
 * crashed slot, 1 for bootsim's own errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/bootenv.h"

static int open_env(const struct agent_config *cfg, unsigned flags, struct lp_bootenv **ret)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = lp_bootenv_open(cfg->bootenv_type == AGENT_BOOTENV_UBOOT ? LP_BOOTENV_UBOOT : LP_BOOTENV_GRUB,
			    cfg->bootenv_path, flags, ret, &diag);
	if (r < 0)
		fprintf(stderr, "bootsim: %s: %s\n", cfg->bootenv_path, diag.msg);
	return r;
}

static int commit_env(struct lp_bootenv *env)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = lp_bootenv_commit(env, &diag);
	if (r < 0)
		fprintf(stderr, "bootsim: cannot write the environment: %s\n", diag.msg);
	return r;
}

static int do_init(const struct agent_config *cfg, unsigned bootlimit)
{
	struct lp_bootenv *env = NULL;
	int r;

	r = open_env(cfg, LP_BOOTENV_OPEN_DEFAULTS, &env);
	if (r < 0)
		return 1;
	if (lp_bootenv_set(env, "boot_slot", "A") < 0 ||
	    lp_bootenv_set_flag(env, "upgrade_available", false) < 0 ||
	    lp_bootenv_set_uint(env, "bootcount", 0) < 0 ||
	    lp_bootenv_set_uint(env, "bootlimit", bootlimit) < 0 || commit_env(env) < 0) {
		lp_bootenv_free(env);
		return 1;
	}
	lp_bootenv_free(env);
	return 0;
}

static int do_boot(const char *config_path, const struct agent_config *cfg, const char *agent,
		   const char *crash_slot, const char *boot_id)
{
	struct lp_bootenv *env = NULL;
	struct lp_bootenv_boot b;
	struct lp_diag diag;
	char slot[LP_BOOTENV_NAME_MAX + 1], id[64];
	pid_t pid;
	int status;

	if (open_env(cfg, 0, &env) < 0)
		return 1;
	lp_diag_clear(&diag);
	if (lp_bootenv_get_boot(env, &b, &diag) < 0) {
		fprintf(stderr, "bootsim: %s\n", diag.msg);
		goto fail;
	}
	if (strcmp(b.boot_slot, "A") != 0 && strcmp(b.boot_slot, "B") != 0) {
		fprintf(stderr, "bootsim: boot_slot is \"%s\"\n", b.boot_slot);
		goto fail;
	}
	snprintf(slot, sizeof(slot), "%s", b.boot_slot);
	if (b.upgrade_available) {
		b.bootcount++;
		if (b.has_bootlimit && b.bootcount > b.bootlimit) {
			/* altbootcmd: give up on the new slot */
			snprintf(slot, sizeof(slot), "%s", strcmp(b.boot_slot, "A") == 0 ? "B" : "A");
			if (lp_bootenv_set(env, "boot_slot", slot) < 0 ||
			    lp_bootenv_set_flag(env, "upgrade_available", false) < 0 ||
			    lp_bootenv_set_uint(env, "bootcount", 0) < 0)
				goto fail;
		} else if (lp_bootenv_set_uint(env, "bootcount", b.bootcount) < 0) {
			goto fail;
		}
		if (commit_env(env) < 0)
			goto fail;
	}
	lp_bootenv_free(env);
	env = NULL;
	printf("slot %s\n", slot);
	fflush(stdout);
	if (crash_slot && strcmp(crash_slot, slot) == 0) {
		printf("slot %s crashed before the agent started\n", slot);
		return 3;
	}
	if (!boot_id) {
		FILE *f = fopen("/proc/sys/kernel/random/uuid", "re");

		if (!f || !fgets(id, sizeof(id), f)) {
			if (f)
				fclose(f);
			fprintf(stderr, "bootsim: cannot make a boot id\n");
			return 1;
		}
		fclose(f);
		id[strcspn(id, "\n")] = '\0';
		boot_id = id;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		setenv("LOOPLINE_AGENT_BOOT_ID", boot_id, 1);
		unsetenv("LOOPLINE_AGENT_SLOT");
		execl(agent, agent, "--config", config_path, "--slot", slot, "boot", (char *)NULL);
		fprintf(stderr, "bootsim: %s: %s\n", agent, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
fail:
	lp_bootenv_free(env);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "agent", required_argument, NULL, 'a' },
		{ "crash-slot", required_argument, NULL, 'x' },
		{ "boot-id", required_argument, NULL, 'b' },
		{},
	};
	const char *config = NULL, *agent = "loopline-agent", *crash = NULL, *boot_id = NULL;
	struct agent_config *cfg = NULL;
	struct lp_diag diag;
	int c, r;

	while ((c = getopt_long(argc, argv, "+c:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'a':
			agent = optarg;
			break;
		case 'x':
			crash = optarg;
			break;
		case 'b':
			boot_id = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!config || optind >= argc) {
		fprintf(stderr, "usage: bootsim --config FILE [--agent PATH] [--crash-slot A|B] "
				"[--boot-id ID] init [BOOTLIMIT] | boot\n");
		return 2;
	}
	lp_diag_clear(&diag);
	if (agent_config_load(config, &cfg, &diag) < 0) {
		fprintf(stderr, "bootsim: %s: %s\n", config, diag.msg);
		return 2;
	}
	if (strcmp(argv[optind], "init") == 0) {
		unsigned limit = 3;

		if (optind + 1 < argc) {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(argv[optind + 1], &end, 10);
			if (errno || *end || v == 0 || v > 100) {
				fprintf(stderr, "bootsim: bad bootlimit '%s'\n", argv[optind + 1]);
				agent_config_free(cfg);
				return 2;
			}
			limit = (unsigned)v;
		}
		r = do_init(cfg, limit);
	} else if (strcmp(argv[optind], "boot") == 0) {
		r = do_boot(config, cfg, agent, crash, boot_id);
	} else {
		fprintf(stderr, "bootsim: unknown command '%s'\n", argv[optind]);
		r = 2;
	}
	agent_config_free(cfg);
	return r;
}

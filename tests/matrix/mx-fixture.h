/* SPDX-License-Identifier: MIT */
/*
 * A throwaway repository for the matrix tests and fuzzers, so that specs resolve without
 * touching this checkout:
 *
 *	DIR/.git/                        (a repository root: `current` and matrix/scenarios)
 *	DIR/matrix/scenarios/NAME.hil    (dummy files for every scenario of the default spec)
 *	DIR/other-scenarios/extra.hil    (for scenario_dir:)
 *	DIR/rack.yaml                    (an inventory with boards rpi4-01 and bench)
 *	DIR/bad-rack.yaml                (an inventory with an error on line 3)
 *	DIR/fw/1.0.0-x86_64.lpkg, DIR/bin/agent-x86_64, DIR/bin/agent-aarch64, DIR/bin/backend
 *	DIR/agent-src/                   (a source tree for path:)
 *
 * Standalone (no cmocka): functions return 0 or -1.
 */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const mx_fixture_scenarios[] = {
	"update",   "rollback-health", "rollback-boot",   "power-cut",      "tampered",
	"downgrade-refused", "go-back", "fix-forward", "resume", "cancel", "backend-restart",
	"agent-handover", NULL,
};

static inline int mx_fixture_write(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

static inline int mx_fixture_mkdir(const char *dir, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return mkdir(path, 0755) == 0 ? 0 : -1;
}

/* Creates the tree under a new /tmp/mx-fixture-XXXXXX; dir receives its path. */
static inline int mx_fixture_make(char *dir, size_t len)
{
	static const char *const dirs[] = { ".git", "matrix", "matrix/scenarios", "other-scenarios",
					    "fw", "bin", "agent-src", NULL };
	char rel[256];

	if (len < 32)
		return -1;
	snprintf(dir, len, "/tmp/mx-fixture-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; dirs[i]; i++)
		if (mx_fixture_mkdir(dir, dirs[i]) < 0)
			return -1;
	for (size_t i = 0; mx_fixture_scenarios[i]; i++) {
		snprintf(rel, sizeof(rel), "matrix/scenarios/%s.hil", mx_fixture_scenarios[i]);
		if (mx_fixture_write(dir, rel, "# a dummy scenario for the matrix tests\n") < 0)
			return -1;
	}
	if (mx_fixture_write(dir, "other-scenarios/extra.hil", "# dummy\n") < 0 ||
	    mx_fixture_write(dir, "rack.yaml",
			     "boards:\n"
			     "  rpi4-01:\n"
			     "    target: rpi4\n"
			     "    power: {driver: manual}\n"
			     "    console: {driver: serial, port: /dev/ttyUSB0}\n"
			     "  bench:\n"
			     "    power: {driver: manual}\n"
			     "    console: {driver: serial, port: /dev/ttyUSB1}\n") < 0 ||
	    mx_fixture_write(dir, "bad-rack.yaml",
			     "boards:\n"
			     "  rpi4-01:\n"
			     "    colour: red\n") < 0 ||
	    mx_fixture_write(dir, "fw/1.0.0-x86_64.lpkg", "not really a package\n") < 0 ||
	    mx_fixture_write(dir, "bin/agent-x86_64", "binary\n") < 0 ||
	    mx_fixture_write(dir, "bin/agent-aarch64", "binary\n") < 0 ||
	    mx_fixture_write(dir, "bin/backend", "binary\n") < 0)
		return -1;
	return 0;
}

static inline int mx_fixture_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void mx_fixture_remove(const char *dir)
{
	if (dir && strncmp(dir, "/tmp/mx-fixture-", 16) == 0)
		nftw(dir, mx_fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

#ifdef MX_PROG
/* A spec from text as if it were DIR/spec.yaml; on errors prints the message and returns
 * NULL. */
static inline struct mx_spec *mx_fixture_spec(const char *dir, const char *text)
{
	struct mx_spec *s = NULL;
	struct lp_diag d;
	char buf[1024];

	if (mx_spec_parse(text, strlen(text), "spec.yaml", dir, &s, &d) < 0) {
		fprintf(stderr, "spec: %s\n", lp_diag_format(&d, buf, sizeof(buf)));
		return NULL;
	}
	return s;
}
#endif

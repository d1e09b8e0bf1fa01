/* SPDX-License-Identifier: MIT */
/* The runner's "#@" directives in scenario files (see run.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "loopline/fs.h"
#include "run.h"

#define META_FILE_MAX (1u << 20)

static int fail(struct lp_diag *d, const char *name, unsigned line, const char *what)
{
	lp_diag_set_file(d, name);
	lp_diag_set_pos(d, line, 0);
	return lp_diag_fail(d, -EINVAL, "%s", what);
}

static bool value_ok(const char *v)
{
	/* a version, a name, or {{FROM}}/{{TO}} inside one */
	if (!*v || strlen(v) >= MX_NAME_MAX)
		return false;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      strchr("._+-{}", *v)))
			return false;
	return true;
}

static int parse_package(char *rest, const char *name, unsigned line, struct mx_scenario_meta *m,
			 struct lp_diag *d)
{
	struct mx_pkg_directive p = { .line = line };
	char *save = NULL, *tok = strtok_r(rest, " \t", &save);
	char msg[256];

	if (m->n_pkgs == MX_PACKAGES_MAX)
		return fail(d, name, line, "more than 16 packages");
	if (!tok || !mx_name_valid(tok, MX_NAME_KEY) || strchr(tok, '-'))
		return fail(d, name, line, "package: expected NAME (letters, digits, _) and key=value options");
	snprintf(p.name, sizeof(p.name), "%s", tok);
	for (size_t i = 0; i < m->n_pkgs; i++)
		if (!strcmp(m->pkgs[i].name, p.name))
			return fail(d, name, line, "package: this NAME is given twice");
	if (!strcmp(p.name, "TO"))
		return fail(d, name, line, "package: TO is the combo's to firmware (always there)");
	snprintf(p.version, sizeof(p.version), "{{TO}}");
	snprintf(p.variant, sizeof(p.variant), "good");
	snprintf(p.agent, sizeof(p.agent), "to");
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		const char *k = tok, *v;

		if (!eq) {
			snprintf(msg, sizeof(msg), "package: \"%.64s\" is not key=value", tok);
			return fail(d, name, line, msg);
		}
		*eq = '\0';
		v = eq + 1;
		if (!value_ok(v)) {
			snprintf(msg, sizeof(msg), "package: bad value for %.32s", k);
			return fail(d, name, line, msg);
		}
		if (!strcmp(k, "version")) {
			snprintf(p.version, sizeof(p.version), "%s", v);
		} else if (!strcmp(k, "variant")) {
			if (strcmp(v, "good") && strcmp(v, "bad-health") && strcmp(v, "no-boot") &&
			    strcmp(v, "broken"))
				return fail(d, name, line,
					    "package: variant is good, bad-health, no-boot or broken");
			memcpy(p.variant, v, strlen(v) + 1); /* one of the four names above */
		} else if (!strcmp(k, "security_version")) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);

			if (*end || *v < '0' || *v > '9' || n > 1000000)
				return fail(d, name, line, "package: security_version is a number up to 1000000");
			p.security_version = (unsigned)n;
		} else if (!strcmp(k, "agent")) {
			snprintf(p.agent, sizeof(p.agent), "%s", v);
		} else if (!strcmp(k, "tamper")) {
			if (strcmp(v, "payload"))
				return fail(d, name, line, "package: tamper=payload is the one kind");
			p.tamper = true;
		} else {
			snprintf(msg, sizeof(msg),
				 "package: unknown key \"%.32s\" (version, variant, security_version, "
				 "agent, tamper)", k);
			return fail(d, name, line, msg);
		}
	}
	m->pkgs[m->n_pkgs++] = p;
	return 0;
}

int mx_scenario_meta_parse(const char *text, size_t len, const char *name,
			   struct mx_scenario_meta *m, struct lp_diag *d)
{
	unsigned line = 0;
	size_t at = 0;

	memset(m, 0, sizeof(*m));
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		char buf[1024], *rest;

		line++;
		if (n >= 2 && text[at] == '#' && text[at + 1] == '@') {
			if (n >= sizeof(buf))
				return fail(d, name, line, "directive longer than 1023 bytes");
			memcpy(buf, text + at + 2, n - 2);
			buf[n - 2] = '\0';
			rest = buf + strspn(buf, " \t");
			if (!strncmp(rest, "package", 7) && (rest[7] == ' ' || rest[7] == '\t')) {
				int r = parse_package(rest + 8, name, line, m, d);

				if (r < 0)
					return r;
			} else if (!strncmp(rest, "timeout", 7) && (rest[7] == ' ' || rest[7] == '\t')) {
				char *v = rest + 8;

				v += strspn(v, " \t");
				v[strcspn(v, " \t\r")] = '\0';
				if (lp_duration_parse(v, &m->timeout_ms) < 0 || m->timeout_ms < 1000 ||
				    m->timeout_ms > 24ull * 3600 * 1000)
					return fail(d, name, line, "timeout: a duration from 1s to 24h (e.g. 15m)");
			} else if (!strncmp(rest, "local-only", 10) &&
				   (rest[10] == '\0' || rest[10] == ' ' || rest[10] == '\t')) {
				m->local_only = true;
				snprintf(m->local_only_reason, sizeof(m->local_only_reason), "%s",
					 rest[10] ? rest + 11 + strspn(rest + 11, " \t") : "");
			} else if (!strcmp(rest, "delta") || !strncmp(rest, "delta ", 6) ||
				   !strncmp(rest, "delta\t", 6)) {
				m->delta = true; /* the rest of the line is a comment */
			} else {
				return fail(d, name, line, "unknown directive (#@ package, #@ timeout, "
					    "#@ local-only, #@ delta)");
			}
		}
		at += n + (nl ? 1 : 0);
	}
	return 0;
}

int mx_scenario_meta_load(const char *path, struct mx_scenario_meta *m, struct lp_diag *d)
{
	char *text = NULL;
	size_t len = 0;
	int r = lp_fs_read_file_diag(path, META_FILE_MAX, &text, &len, d);

	if (r < 0)
		return r;
	r = mx_scenario_meta_parse(text, len, path, m, d);
	free(text);
	return r;
}

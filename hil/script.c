/* SPDX-License-Identifier: MIT */
/* Scenario script parser (see loopline-hil/script.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopline/cli.h"
#include "loopline/fs.h"
#include "loopline-hil/expect.h"
#include "loopline-hil/inventory.h"
#include "loopline-hil/script.h"

static const struct {
	const char *name;
	enum lp_hil_step_kind kind;
	bool needs_arg;
} step_table[] = {
	{"boot", LP_HIL_STEP_BOOT, false},       {"expect", LP_HIL_STEP_EXPECT, true},
	{"run", LP_HIL_STEP_RUN, true},          {"host", LP_HIL_STEP_HOST, true},
	{"until", LP_HIL_STEP_UNTIL, true},      {"capture", LP_HIL_STEP_CAPTURE, true},
	{"power", LP_HIL_STEP_POWER, true},      {"fail-on", LP_HIL_STEP_FAIL_ON, true},
	{"mark", LP_HIL_STEP_MARK, true},        {"echo", LP_HIL_STEP_ECHO, false},
	{"net", LP_HIL_STEP_NET, true},          {"backend", LP_HIL_STEP_BACKEND, true},
	{"action", LP_HIL_STEP_ACTION, true},
};

const char *lp_hil_step_name(enum lp_hil_step_kind k)
{
	for (size_t i = 0; i < LP_ARRAY_SIZE(step_table); i++)
		if (step_table[i].kind == k)
			return step_table[i].name;
	return "?";
}

static bool var_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > LP_HIL_SCRIPT_VAR_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (i && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* Checks the {{NAME}} references of an argument (values come at run time). */
static int check_refs(const char *s, const char **why)
{
	while ((s = strstr(s, "{{"))) {
		const char *end = strstr(s + 2, "}}");

		if (!end) {
			*why = "\"{{\" without \"}}\"";
			return -EINVAL;
		}
		if (!var_name_ok(s + 2, (size_t)(end - s - 2))) {
			*why = "a {{NAME}} needs a name of letters, digits and _ (at most 64)";
			return -EINVAL;
		}
		s = end + 2;
	}
	return 0;
}

void lp_hil_script_free(struct lp_hil_script *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_steps; i++) {
		free(s->steps[i].arg);
		free(s->steps[i].var);
		free(s->steps[i].text);
	}
	free(s->steps);
	free(s->name);
	free(s);
}

static int fail_line(struct lp_diag *diag, const char *name, unsigned line, const char *fmt,
		     ...) LP_PRINTF(4, 5);
static int fail_line(struct lp_diag *diag, const char *name, unsigned line, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_diag_set_file(diag, name);
	lp_diag_set_pos(diag, line, 0);
	return lp_diag_fail(diag, -EINVAL, "%s", msg);
}

static bool word_ok(const char *s, size_t n, const char *extra)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i])))
			return false;
	return true;
}

/* The host command a harness step stands for. Arguments are checked here (words of a
 * small alphabet, {{VAR}}s allowed), so the command needs no shell quoting. */
static int harness_command(const struct lp_hil_step *st, const char *arg, char *cmd, size_t len,
			   const char **why)
{
	const char *a = arg;
	char w[3][96];
	size_t n = 0;
	int r;

	while (*a && n < 3) {
		size_t k = strcspn(a, " \t");

		if (!word_ok(a, k, "{}_.-")) {
			*why = "arguments are words of letters, digits, '_', '.', '-' or {{VAR}}";
			return -EINVAL;
		}
		snprintf(w[n++], sizeof(w[0]), "%.*s", (int)k, a);
		a += k;
		a += strspn(a, " \t");
	}
	if (*a) {
		*why = "too many arguments";
		return -EINVAL;
	}
	switch (st->kind) {
	case LP_HIL_STEP_NET: {
		static const char *const modes[] = {"pass", "resume", "cut", "stall", "show"};
		bool takes = !strcmp(w[0], "throttle") || !strcmp(w[0], "drop-after");
		bool plain = false;

		for (size_t i = 0; i < LP_ARRAY_SIZE(modes); i++)
			plain |= !strcmp(w[0], modes[i]);
		if (!(plain && n == 1) && !(takes && n == 2)) {
			*why = "expected pass, resume, cut, stall, show, throttle RATE or "
			       "drop-after BYTES";
			return -EINVAL;
		}
		r = snprintf(cmd, len, "{{NET}} %s%s%s", w[0], n == 2 ? " " : "", n == 2 ? w[1] : "");
		break;
	}
	case LP_HIL_STEP_BACKEND:
		if (n != 1 || (strcmp(w[0], "stop") && strcmp(w[0], "start") &&
			       strcmp(w[0], "restart") && strcmp(w[0], "kill"))) {
			*why = "expected stop, start, restart or kill";
			return -EINVAL;
		}
		r = snprintf(cmd, len, "{{BACKEND}} %s", w[0]);
		break;
	case LP_HIL_STEP_ACTION:
		if (n != 2 || !word_ok(w[1], strlen(w[1]), "_")) {
			*why = "expected ACTION_ID STATE (e.g. action @5m {{ACTION}} FINISHED)";
			return -EINVAL;
		}
		/* exit 0: reached; 3: another final state (fails at once); else: try again */
		r = snprintf(cmd, len,
			     "s=$({{API}}/actions/%s | jq -r .status) || exit 1; "
			     "[ \"$s\" = %s ] && exit 0; "
			     "case $s in FINISHED|ERROR|CANCELED|REJECTED) "
			     "echo \"action %s is $s, not %s\"; exit 3;; esac; exit 1",
			     w[0], w[1], w[0], w[1]);
		break;
	default:
		return -EINVAL;
	}
	if (r < 0 || (size_t)r >= len) {
		*why = "too long";
		return -EINVAL;
	}
	return 0;
}

/* A pattern step's pattern, compiled once to check it when it has no {{VAR}}. */
static int check_pattern(const struct lp_hil_step *st, const char *arg, const char **why)
{
	static char msg[LP_DIAG_MSG_MAX];
	struct lp_hil_patterns *p = NULL;
	struct lp_diag d2;

	if (!(st->kind == LP_HIL_STEP_EXPECT || st->kind == LP_HIL_STEP_BOOT ||
	      (st->kind == LP_HIL_STEP_FAIL_ON && strcmp(arg, "default") && strcmp(arg, "none"))) ||
	    !*arg || strstr(arg, "{{"))
		return 0;
	lp_diag_clear(&d2);
	if (lp_hil_patterns_new(&arg, 1, &p, &d2) < 0) {
		snprintf(msg, sizeof(msg), "%s", d2.msg);
		*why = msg;
		return -EINVAL;
	}
	lp_hil_patterns_free(p);
	return 0;
}

/* Parses one logical line (continuations joined, NUL-terminated, modifiable). */
static int parse_line(struct lp_hil_script *sc, char *line, unsigned lineno, struct lp_diag *diag)
{
	struct lp_hil_step st = {.line = lineno, .timeout_ms = LP_HIL_SCRIPT_DEFAULT_TIMEOUT_MS};
	const char *why = NULL;
	char *word, *arg;
	size_t i;

	line += strspn(line, " \t");
	for (size_t n = strlen(line); n && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
					    line[n - 1] == '\r');)
		line[--n] = '\0';
	if (!*line || *line == '#')
		return 0;
	if (sc->n_steps >= LP_HIL_SCRIPT_MAX_STEPS)
		return fail_line(diag, sc->name, lineno, "more than %u steps", LP_HIL_SCRIPT_MAX_STEPS);
	word = line;
	arg = line + strcspn(line, " \t");
	if (*arg)
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	for (i = 0; i < LP_ARRAY_SIZE(step_table); i++)
		if (strcmp(step_table[i].name, word) == 0)
			break;
	if (i == LP_ARRAY_SIZE(step_table))
		return fail_line(diag, sc->name, lineno,
				 "unknown step \"%.64s\" (boot, expect, run, host, until, capture, "
				 "power, fail-on, mark, echo, net, backend, action)",
				 word);
	st.kind = step_table[i].kind;
	if (*arg == '@') {
		char *end = arg + strcspn(arg, " \t"), save = *end;
		uint64_t ms;

		*end = '\0';
		if (lp_duration_parse(arg + 1, &ms) < 0 || ms == 0 || ms > UINT32_MAX)
			return fail_line(diag, sc->name, lineno,
					 "\"%.64s\" is not a timeout (e.g. @30s, @500ms, @2m)", arg);
		*end = save;
		st.timeout_ms = (uint32_t)ms;
		st.has_timeout = true;
		arg = end + strspn(end, " \t");
	}
	if (step_table[i].needs_arg && !*arg)
		return fail_line(diag, sc->name, lineno, "%s: needs an argument", word);
	if (check_refs(arg, &why) < 0)
		return fail_line(diag, sc->name, lineno, "%s: %s", word, why);
	switch (st.kind) {
	case LP_HIL_STEP_CAPTURE: {
		size_t n = strcspn(arg, " \t");
		const char *cmd = arg + n + strspn(arg + n, " \t");

		if (!var_name_ok(arg, n) || !*cmd)
			return fail_line(diag, sc->name, lineno,
					 "capture: expected NAME COMMAND (NAME: letters, digits, _)");
		st.var = strndup(arg, n);
		arg = (char *)cmd;
		break;
	}
	case LP_HIL_STEP_POWER:
		if (strcmp(arg, "on") && strcmp(arg, "off") && strcmp(arg, "cut") && strcmp(arg, "cycle"))
			return fail_line(diag, sc->name, lineno,
					 "power: expected on, off, cut or cycle, not \"%.64s\"", arg);
		break;
	case LP_HIL_STEP_MARK:
		if (!var_name_ok(arg, strlen(arg)) && strspn(arg, "abcdefghijklmnopqrstuvwxyz"
								  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
							     strlen(arg))
			return fail_line(diag, sc->name, lineno,
					 "mark: a name of letters, digits, '_', '.', '-', not \"%.64s\"",
					 arg);
		break;
	default:
		break;
	}
	if (st.kind == LP_HIL_STEP_NET || st.kind == LP_HIL_STEP_BACKEND ||
	    st.kind == LP_HIL_STEP_ACTION) {
		char cmd[LP_HIL_SCRIPT_CMD_MAX];
		int r = harness_command(&st, arg, cmd, sizeof(cmd), &why);

		if (r < 0)
			return fail_line(diag, sc->name, lineno, "%s: %s", word, why);
		if (!(st.text = strdup(arg)) || !(st.arg = strdup(cmd))) {
			free(st.text);
			return -ENOMEM;
		}
		goto append;
	}
	/* patterns without {{…}} are compiled now, so a typo fails before the board boots */
	if (check_pattern(&st, arg, &why) < 0)
		return fail_line(diag, sc->name, lineno, "%s: %s", word, why);
	st.arg = strdup(arg);
	if (!st.arg || (st.kind == LP_HIL_STEP_CAPTURE && !st.var)) {
		free(st.arg);
		free(st.var);
		return -ENOMEM;
	}
append:
	if ((sc->n_steps & (sc->n_steps - 1)) == 0) {
		size_t cap = sc->n_steps ? sc->n_steps * 2 : 8;
		struct lp_hil_step *t = realloc(sc->steps, cap * sizeof(*t));

		if (!t) {
			free(st.arg);
			free(st.var);
			free(st.text);
			return -ENOMEM;
		}
		sc->steps = t;
	}
	sc->steps[sc->n_steps++] = st;
	return 0;
}

int lp_hil_script_parse(const char *text, size_t len, const char *name,
			struct lp_hil_script **ret, struct lp_diag *diag)
{
	struct lp_hil_script *sc;
	char *buf = NULL;
	size_t at = 0;
	unsigned lineno = 1;
	int r = 0;

	if (!name)
		name = "script";
	if (len > LP_HIL_SCRIPT_MAX_BYTES) {
		lp_diag_set_file(diag, name);
		return lp_diag_fail(diag, -EFBIG, "larger than %u bytes", LP_HIL_SCRIPT_MAX_BYTES);
	}
	if (memchr(text, '\0', len)) {
		lp_diag_set_file(diag, name);
		return lp_diag_fail(diag, -EINVAL, "contains a NUL byte");
	}
	sc = calloc(1, sizeof(*sc));
	buf = malloc(len + 1);
	if (!sc || !buf || !(sc->name = strdup(name))) {
		r = -ENOMEM;
		goto fail;
	}
	while (at < len) {
		size_t w = 0;
		unsigned start = lineno;

		/* one logical line: "\\\n" joins the next physical line */
		while (at < len && text[at] != '\n') {
			if (text[at] == '\\' && at + 1 < len && text[at + 1] == '\n') {
				at += 2;
				lineno++;
				continue;
			}
			buf[w++] = text[at++];
		}
		if (at < len) {
			at++;
			lineno++;
		}
		buf[w] = '\0';
		if ((r = parse_line(sc, buf, start, diag)) < 0)
			goto fail;
	}
	free(buf);
	*ret = sc;
	return 0;
fail:
	free(buf);
	lp_hil_script_free(sc);
	return r;
}

int lp_hil_script_load(const char *path, struct lp_hil_script **ret, struct lp_diag *diag)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (strcmp(path, "-") == 0) {
		lp_diag_set_file(diag, path);
		r = lp_fs_read_fd(STDIN_FILENO, LP_HIL_SCRIPT_MAX_BYTES, &text, &len);
		if (r == -EFBIG)
			return lp_diag_fail(diag, r, "larger than %u bytes", LP_HIL_SCRIPT_MAX_BYTES);
		if (r < 0)
			return lp_diag_fail(diag, r, "cannot read: %s", strerror(-r));
	} else if ((r = lp_fs_read_file_diag(path, LP_HIL_SCRIPT_MAX_BYTES, &text, &len,
					     diag)) < 0) {
		return r;
	}
	r = lp_hil_script_parse(text, len, path, ret, diag);
	free(text);
	return r;
}

static const char *env_lookup(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

int lp_hil_script_expand(const char *in, char **ret, struct lp_diag *diag)
{
	return lp_hil_script_expand_with(in, env_lookup, NULL, ret, diag);
}

int lp_hil_script_expand_with(const char *in, lp_hil_script_lookup_fn *lookup, void *ctx,
			      char **ret, struct lp_diag *diag)
{
	size_t cap = strlen(in) + 1, len = 0;
	char *out = malloc(cap);

	if (!out)
		return -ENOMEM;
	while (*in) {
		const char *end, *val;
		char name[LP_HIL_SCRIPT_VAR_MAX + 1];
		size_t n;

		if (in[0] != '{' || in[1] != '{') {
			out[len++] = *in++;
			continue;
		}
		end = strstr(in + 2, "}}");
		n = end ? (size_t)(end - in - 2) : 0;
		if (!end || !var_name_ok(in + 2, n)) {
			free(out);
			return lp_diag_fail(diag, -EINVAL, "malformed {{NAME}}");
		}
		memcpy(name, in + 2, n);
		name[n] = '\0';
		if (!(val = lookup(ctx, name))) {
			free(out);
			return lp_diag_fail(diag, -EINVAL, "variable {{%s}} is not set", name);
		}
		n = strlen(val);
		cap += n;
		{
			char *t = realloc(out, cap);

			if (!t) {
				free(out);
				return -ENOMEM;
			}
			out = t;
		}
		memcpy(out + len, val, n);
		len += n;
		in = end + 2;
	}
	out[len] = '\0';
	*ret = out;
	return 0;
}

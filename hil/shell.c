/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "loopline-hil/shell.h"
#include "internal.h"
#include "loopline/clock.h"

#define SHELL_MAX_LOGIN_ROUNDS 4
#define SHELL_CMD_MAX (256u * 1024u)
#define SHELL_QUIET_MS 300

struct lp_hil_shell {
	struct lp_hil_console *con;
	struct lp_hil_expect *exp;
	const struct lp_hil_shell_config *cfg;
	struct lp_hil_patterns *fail;
	struct lp_hil_patterns *prompt; /* our own prompt, once set */
	char prompt_text[64];           /* what PS1 prints */
	char token[17];                 /* random per shell */
	unsigned counter;
	bool prepared;
};

static void random_hex(char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		uint64_t seed = lp_clock_mono_ms() ^ ((uint64_t)getpid() << 20);

		for (size_t i = 0; i < sizeof(raw); i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			raw[i] = (uint8_t)(seed >> 56);
		}
	}
	for (size_t i = 0; i + 1 < n && i < 2 * sizeof(raw); i++)
		buf[i] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 0xf];
	buf[n - 1 < 2 * sizeof(raw) ? n - 1 : 2 * sizeof(raw)] = '\0';
}

int lp_hil_shell_new(struct lp_hil_console *c, struct lp_hil_expect *e,
		     const struct lp_hil_shell_config *cfg, const char *const *failure,
		     size_t n_failure, struct lp_hil_shell **ret, struct lp_diag *diag)
{
	struct lp_hil_shell *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->con = c;
	s->exp = e;
	s->cfg = cfg;
	if (n_failure) {
		r = lp_hil_patterns_new(failure, n_failure, &s->fail, diag);
		if (r < 0) {
			free(s);
			return r;
		}
	}
	random_hex(s->token, sizeof(s->token));
	*ret = s;
	return 0;
}

void lp_hil_shell_free(struct lp_hil_shell *s)
{
	if (!s)
		return;
	lp_hil_patterns_free(s->fail);
	lp_hil_patterns_free(s->prompt);
	free(s);
}

static int send_str(struct lp_hil_shell *s, const char *str, struct lp_diag *diag)
{
	int r = lp_hil_console_write(s->con, str, strlen(str), 5000);

	if (r < 0)
		return lp_diag_fail(diag, r, "%s: write failed: %s",
				    lp_hil_console_describe(s->con), strerror(-r));
	return 0;
}

static int wait_fail_msg(struct lp_hil_shell *s, int r, const struct lp_hil_match *m,
			 const char *what, struct lp_diag *diag)
{
	if (r == -ECANCELED)
		return lp_diag_fail(diag, r, "failure pattern \"%s\" matched while waiting for %s: %s",
				    lp_hil_patterns_source(s->fail, m->index), what, m->text);
	if (r == -ETIMEDOUT)
		return lp_diag_fail(diag, r, "timed out waiting for %s on %s", what,
				    lp_hil_console_describe(s->con));
	return lp_diag_fail(diag, r, "%s: %s while waiting for %s",
			    lp_hil_console_describe(s->con), strerror(-r), what);
}

int lp_hil_shell_prepare(struct lp_hil_shell *s, unsigned timeout_ms, struct lp_diag *diag)
{
	struct lp_hil_patterns *want = NULL;
	const char *res[3];
	size_t n = 0, i_login = SIZE_MAX, i_pass, i_prompt;
	uint64_t deadline = lp_clock_deadline_ms(timeout_ms);
	char line[512], rx[96];
	struct lp_hil_match m;
	int r, rounds = 0;

	if (s->cfg->login_prompt) {
		i_login = n;
		res[n++] = s->cfg->login_prompt;
	}
	i_pass = n;
	res[n++] = s->cfg->password_prompt;
	i_prompt = n;
	res[n++] = s->cfg->prompt;
	r = lp_hil_patterns_new(res, n, &want, diag);
	if (r < 0)
		return r;
	/* A prompt may be waiting already (a board that just booted). Only when the console
	 * stays quiet, wake it with a newline: sent blindly, it would be read as an empty
	 * user name and put the login dialogue out of step. */
	r = lp_hil_expect_wait(s->exp, s->con, want, s->fail,
			       timeout_ms < SHELL_QUIET_MS ? timeout_ms : SHELL_QUIET_MS, &m);
	if (r == -ETIMEDOUT && (r = send_str(s, "\n", diag)) == 0)
		r = -EAGAIN;
	for (;;) {
		if (r == -EAGAIN)
			r = lp_hil_expect_wait(s->exp, s->con, want, s->fail,
					       (unsigned)lp_clock_ms_left(deadline), &m);
		if (r < 0) {
			r = wait_fail_msg(s, r, &m, "a shell or login prompt", diag);
			goto out;
		}
		if (m.index == i_prompt)
			break;
		if (++rounds > SHELL_MAX_LOGIN_ROUNDS) {
			r = lp_diag_fail(diag, -EACCES, "login failed: still asked for %s after %d "
					 "attempts", m.index == i_pass ? "a password" : "a login",
					 SHELL_MAX_LOGIN_ROUNDS);
			goto out;
		}
		if (m.index == i_login)
			snprintf(line, sizeof(line), "%s\n", s->cfg->username);
		else
			snprintf(line, sizeof(line), "%s\n",
				 s->cfg->password ? s->cfg->password : "");
		if ((r = send_str(s, line, diag)) < 0)
			goto out;
		r = -EAGAIN;
	}
	/* our own prompt; the pieces are quoted apart so the echoed line cannot match */
	snprintf(s->prompt_text, sizeof(s->prompt_text), "lphil-%.8s# ", s->token);
	if (s->cfg->console_loglevel >= 0)
		snprintf(line, sizeof(line),
			 "stty -echo -onlcr 2>/dev/null; dmesg -n %d 2>/dev/null; "
			 "PS1='lphil-''%.8s# '; PS2=''\n",
			 s->cfg->console_loglevel, s->token);
	else
		snprintf(line, sizeof(line),
			 "stty -echo -onlcr 2>/dev/null; PS1='lphil-''%.8s# '; PS2=''\n", s->token);
	if ((r = send_str(s, line, diag)) < 0)
		goto out;
	snprintf(rx, sizeof(rx), "lphil-%.8s# $", s->token);
	lp_hil_patterns_free(s->prompt);
	s->prompt = NULL;
	{
		const char *one[1] = {rx};

		if ((r = lp_hil_patterns_new(one, 1, &s->prompt, diag)) < 0)
			goto out;
	}
	r = lp_hil_expect_wait(s->exp, s->con, s->prompt, s->fail,
			       (unsigned)lp_clock_ms_left(deadline), &m);
	if (r < 0) {
		r = wait_fail_msg(s, r, &m, "the prompt the shell runner set", diag);
		goto out;
	}
	s->prepared = true;
	r = 0;
out:
	lp_hil_patterns_free(want);
	return r;
}

/* CR LF -> LF, in place (the tty translated newlines because stty was missing). */
static size_t strip_cr(uint8_t *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
			continue;
		buf[o++] = buf[i];
	}
	buf[o] = '\0';
	return o;
}

int lp_hil_shell_run(struct lp_hil_shell *s, const char *cmd, unsigned timeout_ms,
		     int *ret_status, uint8_t **ret_output, size_t *ret_len,
		     struct lp_diag *diag)
{
	struct lp_hil_patterns *start = NULL, *end = NULL;
	uint64_t deadline = lp_clock_deadline_ms(timeout_ms);
	char id[32], rx_start[64], rx_end[80], *line = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0, line_len;
	struct lp_hil_match m;
	bool truncated = false, crlf;
	long status;
	char *endp;
	int r;

	if (!s->prepared)
		return lp_diag_fail(diag, -EINVAL, "shell not prepared");
	if (strlen(cmd) > SHELL_CMD_MAX)
		return lp_diag_fail(diag, -E2BIG, "command longer than %u bytes", SHELL_CMD_MAX);
	snprintf(id, sizeof(id), "%.8s%04x", s->token, ++s->counter & 0xffff);
	snprintf(rx_start, sizeof(rx_start), "__LPS%s__\r?\n", id);
	snprintf(rx_end, sizeof(rx_end), "__LPE%s__ ([0-9]+)\r?\n", id);
	{
		const char *a[1] = {rx_start}, *b[1] = {rx_end};

		if ((r = lp_hil_patterns_new(a, 1, &start, diag)) < 0 ||
		    (r = lp_hil_patterns_new(b, 1, &end, diag)) < 0)
			goto out;
	}
	line_len = strlen(cmd) + 256;
	line = malloc(line_len);
	if (!line) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(line, line_len,
		 "printf '%%s%%s\\n' '__LPS' '%s__'; ( %s\n) </dev/null; "
		 "printf '%%s%%s %%d\\n' '__LPE' '%s__' \"$?\"\n",
		 id, cmd, id);
	/* stale output (an earlier prompt, boot messages) must not be mistaken */
	lp_hil_expect_flush(s->exp);
	if ((r = send_str(s, line, diag)) < 0)
		goto out;
	r = lp_hil_expect_wait(s->exp, s->con, start, s->fail, (unsigned)lp_clock_ms_left(deadline),
			       &m);
	if (r < 0) {
		r = wait_fail_msg(s, r, &m, "the command to start", diag);
		goto out;
	}
	crlf = m.len >= 2 && m.text[m.len - 2] == '\r';
	lp_hil_expect_capture_start(s->exp, LP_HIL_OUTPUT_MAX);
	r = lp_hil_expect_wait(s->exp, s->con, end, s->fail, (unsigned)lp_clock_ms_left(deadline), &m);
	lp_hil_expect_capture_take(s->exp, &out, &out_len, &truncated);
	if (r < 0) {
		r = wait_fail_msg(s, r, &m, "the command to finish", diag);
		goto out;
	}
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	if (truncated) {
		r = lp_diag_fail(diag, -E2BIG, "command output longer than %u bytes",
				 LP_HIL_OUTPUT_MAX);
		goto out;
	}
	endp = strstr(m.text, "__ ");
	errno = 0;
	status = endp ? strtol(endp + 3, &endp, 10) : -1;
	if (errno || status < 0 || status > 255) {
		r = lp_diag_fail(diag, -EPROTO, "cannot read the exit status from \"%s\"", m.text);
		goto out;
	}
	if (crlf)
		out_len = strip_cr(out, out_len);
	/* back to the prompt so the next command starts clean */
	r = lp_hil_expect_wait(s->exp, s->con, s->prompt, s->fail,
			       (unsigned)lp_clock_ms_left(deadline), &m);
	if (r < 0) {
		r = wait_fail_msg(s, r, &m, "the prompt after the command", diag);
		goto out;
	}
	*ret_status = (int)status;
	*ret_output = out;
	*ret_len = out_len;
	out = NULL;
	r = 0;
out:
	free(out);
	free(line);
	lp_hil_patterns_free(start);
	lp_hil_patterns_free(end);
	return r;
}

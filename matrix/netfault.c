/* SPDX-License-Identifier: MIT */
/*
 * The network fault state of a combo (matrix.h, "netfault.c"): the control file every
 * fault proxy of the combo obeys, the drop-after budget they share, the change detection
 * a proxy runs every MX_NET_POLL_MS, and the connection log they append to.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/io.h"
#include "matrix.h"

#define BUDGET_SUFFIX ".bytes"
#define BUDGET_TEXT_MAX 64

static const char *const mode_names[MX_NET_MODES] = {
	[MX_NET_PASS] = "pass",         [MX_NET_CUT] = "cut",
	[MX_NET_STALL] = "stall",       [MX_NET_THROTTLE] = "throttle",
	[MX_NET_DROP_AFTER] = "drop-after",
};

static const char *const end_names[MX_NET_ENDS] = {
	[MX_NET_END_SERVER_CLOSED] = "server-closed", [MX_NET_END_GUEST_CLOSED] = "guest-closed",
	[MX_NET_END_CUT] = "cut",                     [MX_NET_END_DROPPED] = "dropped",
	[MX_NET_END_REFUSED] = "refused",             [MX_NET_END_CONNECT_FAILED] = "connect-failed",
	[MX_NET_END_TERMINATED] = "terminated",       [MX_NET_END_ERROR] = "error",
};

const char *mx_net_mode_name(enum mx_net_mode m)
{
	return (unsigned)m < MX_NET_MODES ? mode_names[m] : "?";
}

/* The index of s in names[0..n), or -EINVAL. */
static int name_index(const char *s, const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

int mx_net_mode_parse(const char *s, enum mx_net_mode *ret_mode)
{
	int i = name_index(s, mode_names, MX_NET_MODES);

	if (i < 0)
		return i;
	*ret_mode = (enum mx_net_mode)i;
	return 0;
}

const char *mx_net_end_name(enum mx_net_end e)
{
	return (unsigned)e < MX_NET_ENDS ? end_names[e] : "?";
}

static int end_parse(const char *s, enum mx_net_end *ret)
{
	int i = name_index(s, end_names, MX_NET_ENDS);

	if (i < 0)
		return i;
	*ret = (enum mx_net_end)i;
	return 0;
}

/* ---- the key=value syntax both files share ---- */

/* A decimal number: digits only, no leading zero (except "0" itself), at most max. */
static int number_parse(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s[0] || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ret = v;
	return 0;
}

/* Splits "key=value" (in place) into key and value: both non-empty, the key of [a-z_],
 * the value of printable characters without spaces. */
static int kv_split(char *tok, char **ret_key, char **ret_value)
{
	char *eq = strchr(tok, '=');

	if (!eq || eq == tok || !eq[1])
		return -EINVAL;
	*eq = '\0';
	for (const char *p = tok; *p; p++)
		if ((*p < 'a' || *p > 'z') && *p != '_')
			return -EINVAL;
	for (const char *p = eq + 1; *p; p++)
		if (*p <= ' ' || *p > '~')
			return -EINVAL;
	*ret_key = tok;
	*ret_value = eq + 1;
	return 0;
}

/* One "key=value" of a known set of keys, each at most once: the key's index (value in
 * *ret_value), or -EINVAL with diag. */
static int kv_take(char *tok, const char *const *keys, unsigned n_keys, bool *seen,
		   char **ret_value, struct lp_diag *diag)
{
	char *key;
	int k;

	if (kv_split(tok, &key, ret_value) < 0)
		return lp_diag_fail(diag, -EINVAL, "expected KEY=VALUE");
	k = name_index(key, keys, n_keys);
	if (k < 0)
		return lp_diag_fail(diag, -EINVAL, "unknown key '%s'", key);
	if (seen[k])
		return lp_diag_fail(diag, -EINVAL, "%s: given twice", key);
	seen[k] = true;
	return k;
}

/* ---- the control file ---- */

enum state_key { K_VERSION, K_GENERATION, K_MODE, K_RATE, K_DROP_AFTER, K_STATE_KEYS };
static const char *const state_keys[K_STATE_KEYS] = {
	"version", "generation", "mode", "rate", "drop_after",
};

static int state_value(struct mx_net_state *st, enum state_key k, const char *v,
		       struct lp_diag *diag)
{
	uint64_t n;
	int r;

	switch (k) {
	case K_VERSION:
		if (strcmp(v, "1") != 0)
			return lp_diag_fail(diag, -EINVAL, "version: only 1 is known, not '%s'", v);
		return 0;
	case K_MODE:
		if (mx_net_mode_parse(v, &st->mode) < 0)
			return lp_diag_fail(diag, -EINVAL, "mode: '%s' is not one of pass, cut, "
					    "stall, throttle, drop-after", v);
		return 0;
	case K_GENERATION:
		r = number_parse(v, UINT64_MAX, &st->generation);
		break;
	case K_RATE:
		r = number_parse(v, MX_NET_RATE_MAX, &n);
		if (r == 0 && n == 0)
			r = -ERANGE;
		st->rate_bps = n;
		break;
	case K_DROP_AFTER:
		r = number_parse(v, MX_NET_DROP_MAX, &st->drop_after);
		break;
	default:
		return -EINVAL;
	}
	if (r == -ERANGE)
		return lp_diag_fail(diag, -EINVAL, "%s: %s is out of range", state_keys[k], v);
	if (r < 0)
		return lp_diag_fail(diag, -EINVAL, "%s: '%s' is not a decimal number", state_keys[k], v);
	return 0;
}

static int state_line(char *line, bool seen[K_STATE_KEYS],
		      struct mx_net_state *st, struct lp_diag *diag)
{
	char *value;
	int k;

	if (!line[0] || line[0] == '#')
		return 0;
	k = kv_take(line, state_keys, K_STATE_KEYS, seen, &value, diag);
	return k < 0 ? k : state_value(st, (enum state_key)k, value, diag);
}

/* Which keys the mode needs: rate only with throttle, drop_after only with drop-after. */
static int state_check(const struct mx_net_state *st, const bool seen[K_STATE_KEYS],
		       struct lp_diag *diag)
{
	static const enum state_key required[] = { K_VERSION, K_GENERATION, K_MODE };

	for (size_t i = 0; i < LP_ARRAY_SIZE(required); i++)
		if (!seen[required[i]])
			return lp_diag_fail(diag, -EINVAL, "%s: missing", state_keys[required[i]]);
	if (seen[K_RATE] != (st->mode == MX_NET_THROTTLE))
		return lp_diag_fail(diag, -EINVAL, seen[K_RATE] ? "rate: only with mode=throttle"
							       : "rate: missing (mode=throttle)");
	if (seen[K_DROP_AFTER] != (st->mode == MX_NET_DROP_AFTER))
		return lp_diag_fail(diag, -EINVAL, seen[K_DROP_AFTER]
					   ? "drop_after: only with mode=drop-after"
					   : "drop_after: missing (mode=drop-after)");
	return 0;
}

int mx_net_parse(const char *text, size_t len, const char *name, struct mx_net_state *ret_state,
		 struct lp_diag *diag)
{
	struct mx_net_state st = { 0 };
	bool seen[K_STATE_KEYS] = { false };
	char line[MX_NET_LINE_MAX + 1];
	unsigned lineno = 0;
	size_t pos = 0;
	int r;

	lp_diag_clear(diag);
	lp_diag_set_file(diag, name);
	if (len > MX_NET_STATE_MAX)
		return lp_diag_fail(diag, -EINVAL, "larger than %u bytes", MX_NET_STATE_MAX);
	if (memchr(text, '\0', len))
		return lp_diag_fail(diag, -EINVAL, "contains a NUL byte");
	if (len && text[len - 1] != '\n')
		return lp_diag_fail(diag, -EINVAL, "the last line has no newline (a torn write?)");
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (size_t)(nl - (text + pos));

		lp_diag_set_pos(diag, ++lineno, 0);
		if (n > MX_NET_LINE_MAX)
			return lp_diag_fail(diag, -EINVAL, "line longer than %u bytes", MX_NET_LINE_MAX);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		r = state_line(line, seen, &st, diag);
		if (r < 0)
			return r;
	}
	lp_diag_set_pos(diag, 0, 0);
	r = state_check(&st, seen, diag);
	if (r < 0)
		return r;
	*ret_state = st;
	return 0;
}

int mx_net_format(const struct mx_net_state *s, char *buf, size_t len)
{
	int n, m = 0;

	if ((unsigned)s->mode >= MX_NET_MODES ||
	    (s->mode == MX_NET_THROTTLE && (!s->rate_bps || s->rate_bps > MX_NET_RATE_MAX)) ||
	    (s->mode == MX_NET_DROP_AFTER && s->drop_after > MX_NET_DROP_MAX))
		return -EINVAL;
	n = snprintf(buf, len,
		     "# loopline-matrix network fault state: every fault-proxy of the combo obeys it\n"
		     "version=1\ngeneration=%" PRIu64 "\nmode=%s\n",
		     s->generation, mx_net_mode_name(s->mode));
	if (n >= 0 && (size_t)n < len && s->mode == MX_NET_THROTTLE)
		m = snprintf(buf + n, len - (size_t)n, "rate=%" PRIu64 "\n", s->rate_bps);
	else if (n >= 0 && (size_t)n < len && s->mode == MX_NET_DROP_AFTER)
		m = snprintf(buf + n, len - (size_t)n, "drop_after=%" PRIu64 "\n", s->drop_after);
	if (n < 0 || m < 0 || (size_t)n + (size_t)m >= len)
		return -ENOSPC;
	return 0;
}

int mx_net_get(const char *path, struct mx_net_state *ret_state, struct lp_diag *diag)
{
	char *text;
	size_t len;
	int r;

	r = lp_fs_read_file_diag(path, MX_NET_STATE_MAX, &text, &len, diag);
	if (r < 0)
		return r;
	r = mx_net_parse(text, len, path, ret_state, diag);
	free(text);
	return r;
}

/* ---- the drop-after budget: "GENERATION USED\n" in PATH.bytes, under flock ---- */

static int budget_path(char *buf, size_t len, const char *path)
{
	int n = snprintf(buf, len, "%s" BUDGET_SUFFIX, path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int budget_open(const char *path)
{
	char p[PATH_MAX];
	int fd, r;

	r = budget_path(p, sizeof(p), path);
	if (r < 0)
		return r;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	return fd < 0 ? -errno : fd;
}

static int budget_lock(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Reads the budget (locked by the caller). Anything that does not parse (a new, empty
 * or damaged file) reads as generation 0, which every state replaces. */
static void budget_read(int fd, uint64_t *ret_gen, uint64_t *ret_used)
{
	char buf[BUDGET_TEXT_MAX + 1], *sp, *nl;
	ssize_t n = pread(fd, buf, BUDGET_TEXT_MAX, 0);

	*ret_gen = 0;
	*ret_used = 0;
	if (n <= 0)
		return;
	buf[n] = '\0';
	sp = strchr(buf, ' ');
	nl = strchr(buf, '\n');
	if (!sp || !nl || nl < sp)
		return;
	*sp = *nl = '\0';
	if (number_parse(buf, UINT64_MAX, ret_gen) < 0 ||
	    number_parse(sp + 1, MX_NET_DROP_MAX, ret_used) < 0)
		*ret_gen = *ret_used = 0;
}

static int budget_write(int fd, uint64_t gen, uint64_t used)
{
	char buf[BUDGET_TEXT_MAX];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64 "\n", gen, used);
	int r = lp_io_pwrite_all(fd, buf, (size_t)n, 0);

	if (r == 0 && ftruncate(fd, n) < 0)
		r = -errno;
	return r;
}

int mx_net_set(const char *path, struct mx_net_state *state, struct lp_diag *diag)
{
	struct mx_net_state old = { 0 };
	char text[MX_NET_STATE_MAX];
	uint64_t bgen, used, gen;
	int fd, r;

	lp_diag_clear(diag);
	lp_diag_set_file(diag, path);
	fd = budget_open(path);
	if (fd < 0)
		return lp_diag_fail(diag, fd, "cannot open the budget file: %s", strerror(-fd));
	/* Setters and the proxies' claims take turns: a claim sees the old state with the old
	 * budget or the new state with a fresh one. */
	r = budget_lock(fd, LOCK_EX);
	if (r < 0)
		goto out;
	budget_read(fd, &bgen, &used);
	if (mx_net_get(path, &old, NULL) < 0)
		old.generation = 0;
	gen = (old.generation > bgen ? old.generation : bgen);
	if (gen == UINT64_MAX) {
		r = lp_diag_fail(diag, -EOVERFLOW, "generation: no larger one left");
		goto out;
	}
	state->generation = gen + 1;
	r = mx_net_format(state, text, sizeof(text));
	if (r < 0) {
		lp_diag_fail(diag, r, "invalid state (mode %d)", (int)state->mode);
		goto out;
	}
	r = lp_fs_write_atomic(path, text, strlen(text), 0644, 0);
	if (r < 0) {
		lp_diag_fail(diag, r, "cannot write: %s", strerror(-r));
		goto out;
	}
	r = budget_write(fd, state->generation, 0);
	if (r < 0)
		lp_diag_fail(diag, r, "cannot write the budget file: %s", strerror(-r));
out:
	close(fd); /* also releases the lock */
	return r;
}

int mx_net_budget_used(const char *path, uint64_t generation, uint64_t *ret_used)
{
	uint64_t gen, used;
	int fd, r;

	fd = budget_open(path);
	if (fd < 0)
		return fd;
	r = budget_lock(fd, LOCK_SH);
	if (r == 0) {
		budget_read(fd, &gen, &used);
		*ret_used = gen == generation ? used : 0;
	}
	close(fd);
	return r;
}

/* ---- the proxies' view: change detection and claims ---- */

struct mx_net_watch {
	char path[PATH_MAX];
	struct mx_net_state state;  /* the last good state (PASS before the first) */
	bool known;                 /* the identity below is that of the file last read */
	bool missing;               /* the file was missing last time */
	int open_err;               /* the error last reported for opening it (0: none) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int budget_fd;              /* -1 until the first claim */
};

int mx_net_watch_open(const char *path, struct mx_net_watch **ret_watch)
{
	struct mx_net_watch *w;

	if (strlen(path) >= sizeof(w->path) - strlen(BUDGET_SUFFIX))
		return -ENAMETOOLONG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->state.mode = MX_NET_PASS;
	w->budget_fd = -1;
	*ret_watch = w;
	return 0;
}

void mx_net_watch_free(struct mx_net_watch *w)
{
	if (!w)
		return;
	if (w->budget_fd >= 0)
		close(w->budget_fd);
	free(w);
}

static bool same_file(const struct mx_net_watch *w, const struct stat *st)
{
	return w->known && !w->missing && w->dev == st->st_dev && w->ino == st->st_ino &&
	       w->size == st->st_size && w->mtime.tv_sec == st->st_mtim.tv_sec &&
	       w->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static bool same_state(const struct mx_net_state *a, const struct mx_net_state *b)
{
	return a->mode == b->mode && a->rate_bps == b->rate_bps &&
	       a->drop_after == b->drop_after && a->generation == b->generation;
}

/* Adopts st as the state to obey: 1 if it differs from the last one, else 0. */
static int watch_adopt(struct mx_net_watch *w, const struct mx_net_state *st,
		       struct mx_net_state *ret_state)
{
	bool changed = !same_state(st, &w->state);

	w->state = *st;
	*ret_state = *st;
	return changed ? 1 : 0;
}

/* Reads the file that is there now; its identity comes from the descriptor read, so the
 * state and the identity belong together even while a writer renames. 1 with *ret_state
 * set, 0 if it is the file read last time, -ENOENT, another -errno from open(2), or
 * -EINVAL with diag. */
static int watch_read(struct mx_net_watch *w, struct mx_net_state *ret_state,
		      struct lp_diag *diag)
{
	struct stat st;
	char *text;
	size_t len;
	int fd, r;

	fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || same_file(w, &st)) {
		close(fd);
		return 0; /* fstat cannot fail on an open descriptor; the next poll retries */
	}
	w->known = true;
	w->missing = false;
	w->open_err = 0;
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	w->size = st.st_size;
	w->mtime = st.st_mtim;
	r = lp_fs_read_fd(fd, MX_NET_STATE_MAX, &text, &len);
	close(fd);
	lp_diag_clear(diag);
	lp_diag_set_file(diag, w->path);
	if (r == -EFBIG)
		return lp_diag_fail(diag, -EINVAL, "larger than %u bytes", MX_NET_STATE_MAX);
	if (r < 0)
		return lp_diag_fail(diag, -EINVAL, "cannot read: %s", strerror(-r));
	r = mx_net_parse(text, len, w->path, ret_state, diag);
	free(text);
	return r < 0 ? r : 1;
}

int mx_net_watch_poll(struct mx_net_watch *w, struct mx_net_state *ret_state,
		      struct lp_diag *diag)
{
	static const struct mx_net_state pass = { .mode = MX_NET_PASS };
	struct mx_net_state st;
	struct stat sb;
	int r;

	*ret_state = w->state;
	if (stat(w->path, &sb) == 0 && same_file(w, &sb))
		return 0;
	r = watch_read(w, &st, diag);
	if (r == 1)
		return watch_adopt(w, &st, ret_state);
	if (r == -ENOENT) {
		/* no file, or it went away: PASS */
		w->known = w->missing = true;
		w->open_err = 0;
		return watch_adopt(w, &pass, ret_state);
	}
	if (r == 0 || r == -EINVAL)
		return r;
	/* it cannot be opened (permissions, a directory): keep the state, say it once */
	w->known = false;
	if (w->open_err == r)
		return 0;
	w->open_err = r;
	lp_diag_clear(diag);
	lp_diag_set_file(diag, w->path);
	return lp_diag_fail(diag, -EINVAL, "cannot open: %s", strerror(-r));
}

int mx_net_watch_claim(struct mx_net_watch *w, uint64_t want, uint64_t *ret_granted,
		       bool *ret_exhausted)
{
	uint64_t gen, used, grant = 0, limit = w->state.drop_after;
	bool reset = false;
	int r = 0;

	if (w->state.mode != MX_NET_DROP_AFTER)
		return -EINVAL;
	if (w->budget_fd < 0) {
		r = budget_open(w->path);
		if (r < 0)
			return r;
		w->budget_fd = r;
	}
	r = budget_lock(w->budget_fd, LOCK_EX);
	if (r < 0)
		return r;
	budget_read(w->budget_fd, &gen, &used);
	if (gen > w->state.generation) {
		r = -ESTALE;
		goto out;
	}
	if (gen < w->state.generation) {
		/* the file was written by hand (no budget yet): this state's budget starts now */
		gen = w->state.generation;
		used = 0;
		reset = true;
	}
	if (used < limit)
		grant = limit - used < want ? limit - used : want;
	used += grant;
	if (grant || reset)
		r = budget_write(w->budget_fd, gen, used);
out:
	budget_lock(w->budget_fd, LOCK_UN);
	if (r < 0)
		return r;
	if (ret_granted)
		*ret_granted = grant;
	if (ret_exhausted)
		*ret_exhausted = used >= limit;
	return 0;
}

/* ---- the connection log ---- */

int mx_net_log_format(const struct mx_net_conn *c, char *buf, size_t len)
{
	time_t secs = (time_t)(c->start_ms / 1000);
	struct tm tm;
	int n;

	if (c->start_ms < 0 || !gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999 ||
	    (unsigned)c->end >= MX_NET_ENDS || (unsigned)c->mode >= MX_NET_MODES || c->pid < 0)
		return -EINVAL;
	n = snprintf(buf, len,
		     "start=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ pid=%d ms=%" PRIu64 " up=%" PRIu64
		     " down=%" PRIu64 " end=%s mode=%s generation=%" PRIu64 "\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (int)(c->start_ms % 1000), c->pid, c->ms, c->up, c->down,
		     mx_net_end_name(c->end), mx_net_mode_name(c->mode), c->generation);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int mx_net_log_append(const char *path, const struct mx_net_conn *c)
{
	char line[MX_NET_LINE_MAX + 2];
	int fd, r;

	r = mx_net_log_format(c, line, sizeof(line));
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	/* one write(2) with O_APPEND: lines of concurrent proxies do not interleave */
	r = lp_io_write_all(fd, line, strlen(line));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int mx_net_log_note(const char *path, int pid, const char *text)
{
	char line[MX_NET_LINE_MAX * 4];
	int fd, n, r;

	n = snprintf(line, sizeof(line) - 1, "# pid=%d %s", pid, text);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2; /* cut: a message line is only for people */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	r = lp_io_write_all(fd, line, (size_t)n);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

enum log_key { L_START, L_PID, L_MS, L_UP, L_DOWN, L_END, L_MODE, L_GENERATION, L_KEYS };
static const char *const log_keys[L_KEYS] = {
	"start", "pid", "ms", "up", "down", "end", "mode", "generation",
};

/* "2025-05-01T12:00:00.123Z" → ms since the epoch: exactly this shape, UTC. */
static int start_parse(const char *s, int64_t *ret)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm tm = { 0 };
	time_t t;

	if (strlen(s) != sizeof(shape) - 1)
		return -EINVAL;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return -EINVAL;
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) != s + 19)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	*ret = (int64_t)t * 1000 + (s[20] - '0') * 100 + (s[21] - '0') * 10 + (s[22] - '0');
	return 0;
}

static int log_value(struct mx_net_conn *c, enum log_key k, const char *v, struct lp_diag *diag)
{
	uint64_t n = 0;
	int r = 0;

	switch (k) {
	case L_START: r = start_parse(v, &c->start_ms); break;
	case L_PID: r = number_parse(v, INT32_MAX, &n); c->pid = (int)n; break;
	case L_MS: r = number_parse(v, UINT64_MAX, &c->ms); break;
	case L_UP: r = number_parse(v, UINT64_MAX, &c->up); break;
	case L_DOWN: r = number_parse(v, UINT64_MAX, &c->down); break;
	case L_END: r = end_parse(v, &c->end); break;
	case L_MODE: r = mx_net_mode_parse(v, &c->mode); break;
	case L_GENERATION: r = number_parse(v, UINT64_MAX, &c->generation); break;
	default: r = -EINVAL; break;
	}
	return r < 0 ? lp_diag_fail(diag, -EINVAL, "%s: bad value '%s'", log_keys[k], v) : 0;
}

int mx_net_log_parse_line(const char *line, size_t len, struct mx_net_conn *ret_conn,
			  struct lp_diag *diag)
{
	struct mx_net_conn c = { 0 };
	bool seen[L_KEYS] = { false };
	char buf[MX_NET_LINE_MAX + 1], *p, *next;
	int r;

	if (len > MX_NET_LINE_MAX)
		return lp_diag_fail(diag, -EINVAL, "line longer than %u bytes", MX_NET_LINE_MAX);
	if (memchr(line, '\0', len))
		return lp_diag_fail(diag, -EINVAL, "contains a NUL byte");
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (p = buf; *p; p = next) {
		char *value;
		int k;

		/* words separated by single spaces */
		next = strchr(p, ' ');
		if (next && !next[1])
			return lp_diag_fail(diag, -EINVAL, "a space at the end of the line");
		if (next)
			*next++ = '\0';
		else
			next = p + strlen(p);
		k = kv_take(p, log_keys, L_KEYS, seen, &value, diag);
		if (k < 0)
			return k;
		r = log_value(&c, (enum log_key)k, value, diag);
		if (r < 0)
			return r;
	}
	for (unsigned k = 0; k < L_KEYS; k++)
		if (!seen[k])
			return lp_diag_fail(diag, -EINVAL, "%s: missing", log_keys[k]);
	*ret_conn = c;
	return 0;
}

int mx_net_log_read(const char *path, struct mx_net_totals *ret_totals, struct lp_diag *diag)
{
	struct mx_net_totals t = { 0 };
	char *text;
	size_t len, pos = 0;
	unsigned lineno = 0;
	int r;

	lp_diag_clear(diag);
	r = lp_fs_read_file_diag(path, MX_NET_LOG_MAX, &text, &len, diag);
	if (r < 0)
		return r;
	lp_diag_set_file(diag, path);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct mx_net_conn c;

		lp_diag_set_pos(diag, ++lineno, 0);
		if (!nl) {
			r = lp_diag_fail(diag, -EINVAL, "the last line has no newline");
			goto out;
		}
		if (text[pos] == '#') {
			pos += n + 1; /* a proxy's message */
			continue;
		}
		r = mx_net_log_parse_line(text + pos, n, &c, diag);
		if (r < 0)
			goto out;
		pos += n + 1;
		t.connections++;
		t.up += c.up;
		t.down += c.down;
		t.ends[c.end]++;
	}
	*ret_totals = t;
	r = 0;
out:
	free(text);
	return r;
}

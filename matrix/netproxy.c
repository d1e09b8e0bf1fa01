/* SPDX-License-Identifier: MIT */
/*
 * One guest connection relayed to the backend through the combo's fault state
 * (matrix.h, "netproxy.c"). QEMU's guestfwd `cmd:` runs one process per guest connection
 * with the guest's stream on stdin/stdout; this is its loop: a plain poll() over the guest
 * descriptors and the backend socket, non-blocking writes from one buffer per direction
 * (a slow reader never blocks the loop, so a change of state is seen within
 * MX_NET_POLL_MS), and a look at the control file every MX_NET_POLL_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/clock.h"
#include "loopline/log.h"
#include "matrix.h"

#define RELAY_BUF 16384
#define DRAIN_MS 1000 /* DROP_AFTER: how long the last bytes may take to reach the guest */
#define US 1000000u

/* Token bucket of one direction: tokens in byte·µs (bytes × 10⁶), at most a tenth of a
 * second's worth (at least one byte). rate 0: unlimited. */
struct bucket {
	uint64_t rate, cap, tokens, last_us;
};

static void bucket_set(struct bucket *b, uint64_t rate)
{
	if (rate == b->rate)
		return;
	b->rate = rate;
	b->cap = rate / 10 ? rate / 10 : 1;
	b->tokens = b->cap * US; /* starts full */
	b->last_us = lp_clock_mono_us();
}

/* Bytes that may pass now. */
static uint64_t bucket_allow(struct bucket *b)
{
	uint64_t now = lp_clock_mono_us(), dt;

	if (!b->rate)
		return UINT64_MAX;
	dt = now - b->last_us;
	if (dt > US)
		dt = US; /* the bucket is full after a tenth of that anyway */
	b->tokens += b->rate * dt;
	if (b->tokens > b->cap * US)
		b->tokens = b->cap * US;
	b->last_us = now;
	return b->tokens / US;
}

static void bucket_take(struct bucket *b, uint64_t n)
{
	if (b->rate)
		b->tokens = n * US > b->tokens ? 0 : b->tokens - n * US;
}

/* Milliseconds until a worthwhile read may pass (about 10 ms of the rate, rounded up). */
static int bucket_wait_ms(const struct bucket *b)
{
	uint64_t want = b->rate / 100 ? b->rate / 100 : 1, need;

	if (want > b->cap)
		want = b->cap;
	need = want * US > b->tokens ? want * US - b->tokens : 0;
	return (int)(((need + b->rate - 1) / b->rate + 999) / 1000);
}

/* One direction: bytes read from `from` wait in buf[off, len) until `to` takes them. */
struct dir {
	int from, to;
	char buf[RELAY_BUF];
	size_t off, len;
	uint64_t delivered;
	bool eof;  /* `from` ended */
	bool shut; /* ... and the end was passed on */
	struct bucket tb;
};

struct relay {
	const struct mx_net_proxy_opts *o;
	struct mx_net_watch *w;
	struct mx_net_state st;
	int server;
	bool guest_sock;   /* the guest side is a socket: POLLHUP means it is gone */
	bool draining;     /* DROP_AFTER budget used up: pass on what was read, then close */
	uint64_t drain_deadline;
	bool check_now;    /* look at the control file before the next poll */
	bool stale;        /* the budget belongs to a newer state than ours: read nothing
			    * from the server until the control file shows that state */
	struct dir up, down; /* guest→server, server→guest */
	bool ended;
	enum mx_net_end end;
};

/* A message on stderr and in the connection log (under QEMU, stderr is the guest's
 * connection: cmd-net.c sends it to /dev/null, and the log is where people look). */
static void say(const struct mx_net_proxy_opts *o, enum lp_log_level level, const char *fmt, ...)
	LP_PRINTF(3, 4);
static void say(const struct mx_net_proxy_opts *o, enum lp_log_level level, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_log_write(level, "%s", msg);
	if (o->log) {
		char note[sizeof(msg) + 16];

		snprintf(note, sizeof(note), "%s: %s", level >= LP_LOG_ERROR ? "error" : "warning", msg);
		mx_net_log_note(o->log, (int)getpid(), note); /* best effort: stderr has it too */
	}
}

static void finish(struct relay *r, enum mx_net_end end)
{
	if (!r->ended) {
		r->ended = true;
		r->end = end;
	}
}

static void start_draining(struct relay *r)
{
	if (!r->draining) {
		r->draining = true;
		r->drain_deadline = lp_clock_deadline_ms(DRAIN_MS);
	}
}

/* Looks at the control file and applies what it says. */
static void relay_check(struct relay *r)
{
	struct mx_net_state st;
	struct lp_diag diag;
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_FILE_MAX + 64];
	bool exhausted = false;
	int c;

	r->check_now = false;
	if (!r->w)
		return;
	c = mx_net_watch_poll(r->w, &st, &diag);
	if (c == 1)
		r->stale = false;
	if (c < 0)
		say(r->o, LP_LOG_WARN, "%s (keeping mode=%s)",
		    lp_diag_format(&diag, msg, sizeof(msg)), mx_net_mode_name(st.mode));
	r->st = st;
	bucket_set(&r->up.tb, st.mode == MX_NET_THROTTLE ? st.rate_bps : 0);
	bucket_set(&r->down.tb, st.mode == MX_NET_THROTTLE ? st.rate_bps : 0);
	if (st.mode == MX_NET_CUT)
		finish(r, MX_NET_END_CUT);
	else if (st.mode == MX_NET_DROP_AFTER && !r->draining) {
		c = mx_net_watch_claim(r->w, 0, NULL, &exhausted);
		if (c == -ESTALE)
			r->stale = true;
		else if (c < 0)
			say(r->o, LP_LOG_WARN, "%s: drop-after budget: %s", r->o->control,
			    strerror(-c));
		else if (exhausted)
			start_draining(r);
	}
}

/* DROP_AFTER: how much of what the server has ready may go on (0: nothing now). */
static size_t drop_grant(struct relay *r, size_t want)
{
	uint64_t grant = 0;
	bool exhausted = false;
	ssize_t n;
	int c;

	do
		n = recv(r->server, r->down.buf, want, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return want; /* the end or an error: the read says which */
	c = mx_net_watch_claim(r->w, (uint64_t)n, &grant, &exhausted);
	if (c == -ESTALE) {
		r->stale = true; /* the state changed: read it before anything moves */
		r->check_now = true;
		return 0;
	}
	if (c < 0) {
		say(r->o, LP_LOG_ERROR, "%s: drop-after budget: %s", r->o->control,
		    strerror(-c));
		finish(r, MX_NET_END_ERROR);
		return 0;
	}
	if (exhausted)
		start_draining(r); /* pass on the granted bytes, then close */
	return (size_t)grant;
}

static void dir_read(struct relay *r, struct dir *d)
{
	size_t want = sizeof(d->buf);
	uint64_t allow = bucket_allow(&d->tb);
	ssize_t n;

	if (allow < want)
		want = (size_t)allow;
	if (d == &r->down && r->st.mode == MX_NET_DROP_AFTER && r->w)
		want = drop_grant(r, want);
	if (want == 0)
		return;
	n = read(d->from, d->buf, want);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		finish(r, d == &r->up ? MX_NET_END_GUEST_CLOSED : MX_NET_END_SERVER_CLOSED);
		return;
	}
	if (n == 0) {
		d->eof = true;
		return;
	}
	d->off = 0;
	d->len = (size_t)n;
	bucket_take(&d->tb, (uint64_t)n);
}

static void dir_write(struct relay *r, struct dir *d)
{
	ssize_t n = write(d->to, d->buf + d->off, d->len - d->off);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		finish(r, d == &r->up ? MX_NET_END_SERVER_CLOSED : MX_NET_END_GUEST_CLOSED);
		return;
	}
	d->off += (size_t)n;
	d->delivered += (uint64_t)n;
	if (d->off == d->len)
		d->off = d->len = 0;
}

/* Passes an end on once everything before it was delivered: the guest's end as a
 * half-close towards the server; the server's end closes the connection. */
static void relay_ends(struct relay *r)
{
	if (r->up.eof && !r->up.shut && r->up.len == 0) {
		r->up.shut = true;
		shutdown(r->server, SHUT_WR);
	}
	if (r->down.eof && r->down.len == 0)
		finish(r, MX_NET_END_SERVER_CLOSED);
	if (r->draining && (r->down.len == 0 || lp_clock_ms_left(r->drain_deadline) == 0))
		finish(r, MX_NET_END_DROPPED);
}

enum { P_GUEST_IN, P_GUEST_OUT, P_SERVER, P_N };

/* What to wait for; lowers *timeout to the next moment a throttled direction may read. */
static void relay_events(struct relay *r, struct pollfd p[P_N], int *timeout)
{
	struct dir *dirs[2] = { &r->up, &r->down };
	const int from[2] = { P_GUEST_IN, P_SERVER }, to[2] = { P_SERVER, P_GUEST_OUT };

	p[P_GUEST_IN] = (struct pollfd){ .fd = r->o->guest_in };
	p[P_GUEST_OUT] = (struct pollfd){ .fd = r->o->guest_out };
	p[P_SERVER] = (struct pollfd){ .fd = r->server };
	if (r->st.mode == MX_NET_STALL) {
		/* nothing moves; only a guest that goes away entirely (POLLHUP) is noticed */
		p[P_GUEST_OUT].fd = p[P_SERVER].fd = -1;
		if (!r->guest_sock)
			p[P_GUEST_IN].fd = -1;
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct dir *d = dirs[i];

		if (d->len) {
			p[to[i]].events |= POLLOUT;
		} else if (!d->eof && !r->draining && !(d == &r->down && r->stale)) {
			if (bucket_allow(&d->tb) > 0) {
				p[from[i]].events |= POLLIN;
			} else {
				int ms = bucket_wait_ms(&d->tb);

				if (ms < *timeout)
					*timeout = ms;
			}
		}
	}
	if (!r->guest_sock && !p[P_GUEST_IN].events)
		p[P_GUEST_IN].fd = -1; /* a pipe's POLLHUP only means its writer is done */
	/* nothing asked: not polled (a reset backend's POLLERR would wake us for nothing;
	 * it is seen when there is something to read or write) */
	if (!p[P_GUEST_OUT].events)
		p[P_GUEST_OUT].fd = -1;
	if (!p[P_SERVER].events)
		p[P_SERVER].fd = -1;
}

static void relay_io(struct relay *r, const struct pollfd p[P_N])
{
	const short ready = POLLIN | POLLOUT | POLLHUP | POLLERR;

	if (r->guest_sock && (p[P_GUEST_IN].revents & (POLLHUP | POLLERR)) &&
	    !(p[P_GUEST_IN].revents & POLLIN)) {
		finish(r, MX_NET_END_GUEST_CLOSED); /* both directions gone (QEMU closed it) */
		return;
	}
	if ((p[P_GUEST_IN].events & POLLIN) && (p[P_GUEST_IN].revents & ready))
		dir_read(r, &r->up);
	if (!r->ended && (p[P_SERVER].events & POLLOUT) && (p[P_SERVER].revents & ready))
		dir_write(r, &r->up);
	if (!r->ended && (p[P_SERVER].events & POLLIN) && (p[P_SERVER].revents & ready))
		dir_read(r, &r->down);
	if (!r->ended && (p[P_GUEST_OUT].events & POLLOUT) && (p[P_GUEST_OUT].revents & ready))
		dir_write(r, &r->down);
}

static void relay_loop(struct relay *r)
{
	uint64_t next_check = lp_clock_deadline_ms(MX_NET_POLL_MS);

	while (!r->ended) {
		struct pollfd p[P_N];
		int timeout;

		if (r->o->stop && *r->o->stop) {
			finish(r, MX_NET_END_TERMINATED);
			break;
		}
		if (r->check_now || lp_clock_ms_left(next_check) == 0) {
			relay_check(r);
			next_check = lp_clock_deadline_ms(MX_NET_POLL_MS);
		}
		relay_ends(r);
		if (r->ended)
			break;
		timeout = r->check_now ? 0 : lp_clock_ms_left(next_check);
		relay_events(r, p, &timeout);
		if (poll(p, P_N, timeout) < 0) {
			if (errno != EINTR)
				finish(r, MX_NET_END_ERROR);
			continue;
		}
		relay_io(r, p);
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int connect_backend(const struct mx_net_proxy_opts *o)
{
	const char *host = o->host, *port = o->port;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1, r;

	r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0) {
		say(o, LP_LOG_ERROR, "%s:%s: %s", host, port, gai_strerror(r));
		return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	}
	r = -EHOSTUNREACH;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		say(o, LP_LOG_ERROR, "connect %s:%s: %s", host, port, strerror(-r));
	return fd < 0 ? r : fd;
}

static bool is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void relay_log(const struct relay *r, struct mx_net_conn *c)
{
	int e;

	if (!r->o->log)
		return;
	e = mx_net_log_append(r->o->log, c);
	if (e < 0)
		log_warn("%s: cannot append the connection line: %s", r->o->log, strerror(-e));
}

int mx_net_proxy_run(const struct mx_net_proxy_opts *o, struct mx_net_conn *ret_conn)
{
	struct relay *r;
	struct mx_net_conn c = { .start_ms = lp_clock_wall_ms(), .pid = (int)getpid() };
	uint64_t t0 = lp_clock_mono_ms();
	int err = 0;

	r = calloc(1, sizeof(*r)); /* two relay buffers: not on the stack */
	if (!r)
		return -ENOMEM;
	r->o = o;
	r->server = -1;
	r->st.mode = MX_NET_PASS;
	if (o->control) {
		err = mx_net_watch_open(o->control, &r->w);
		if (err < 0) {
			say(o, LP_LOG_ERROR, "%s: %s", o->control, strerror(-err));
			goto out;
		}
	}
	relay_check(r);
	if (r->ended || r->draining) {
		r->end = MX_NET_END_REFUSED; /* cut, or the combo's budget is used up */
		goto done;
	}
	r->server = connect_backend(o);
	if (r->server < 0) {
		err = r->server;
		r->end = MX_NET_END_CONNECT_FAILED;
		goto done;
	}
	r->guest_sock = is_socket(o->guest_in);
	r->up.from = o->guest_in;
	r->up.to = r->server;
	r->down.from = r->server;
	r->down.to = o->guest_out;
	if (set_nonblock(o->guest_in) < 0 || set_nonblock(o->guest_out) < 0 ||
	    set_nonblock(r->server) < 0)
		finish(r, MX_NET_END_ERROR);
	relay_loop(r);
done:
	c.ms = lp_clock_mono_ms() - t0;
	c.up = r->up.delivered;
	c.down = r->down.delivered;
	c.end = r->end;
	c.mode = r->st.mode;
	c.generation = r->st.generation;
	relay_log(r, &c);
	if (ret_conn)
		*ret_conn = c;
out:
	if (r->server >= 0)
		close(r->server);
	mx_net_watch_free(r->w);
	free(r);
	return err;
}

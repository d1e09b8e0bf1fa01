/* SPDX-License-Identifier: MIT */
/*
 * cutproxy: a TCP proxy on 127.0.0.1 that drops connections mid-transfer, to test
 * resumed downloads (TLS passes through untouched).
 *
 *   cutproxy LISTEN_PORT TARGET_PORT CUT_AFTER_BYTES CUTS [RATE_BYTES_PER_S]
 *
 * Relays every connection to 127.0.0.1:TARGET_PORT. The first CUTS connections whose
 * server-to-client bytes exceed CUT_AFTER_BYTES are reset (SO_LINGER 0) at that point.
 * With RATE_BYTES_PER_S (not 0), server-to-client bytes of all connections together are
 * limited to that rate (a slow link, for long downloads).
 * Prints "listening" when ready and "cut after N bytes" for each cut, on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define BUF 16384

/* One direction of a connection; data is read only when the previous chunk was fully
 * written, so a slow reader never blocks the proxy (writes are non-blocking). */
struct dir {
	int from, to;
	char buf[BUF];
	size_t off, len;
	unsigned long long bytes;
};

struct pair {
	bool used;
	struct dir up, down; /* client->server, server->client */
};

static unsigned long long cut_after, cuts, rate;
static double budget; /* bytes that may still go down now (with a rate) */
static double last_refill;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Token bucket: at most a tenth of a second's worth (and at least one read) saved up. */
static void refill(void)
{
	double t = now_s(), cap = (double)rate / 10 > BUF ? (double)rate / 10 : BUF;

	budget += (t - last_refill) * (double)rate;
	if (budget > cap)
		budget = cap;
	last_refill = t;
}

static int parse_num(const char *s, unsigned long long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 10);
	return errno || *end || !*s ? -1 : 0;
}

static int connect_target(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void drop(struct pair *p, bool reset)
{
	if (reset) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(p->up.from, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		setsockopt(p->up.to, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(p->up.from);
	close(p->up.to);
	p->used = false;
}

/* Returns false when the pair was dropped. */
static bool on_readable(struct pair *p, struct dir *d, bool is_down)
{
	size_t want = BUF;
	ssize_t got;

	if (is_down && rate) {
		if (budget < 1)
			return true; /* nothing may go down yet */
		if ((double)want > budget)
			want = (size_t)budget;
	}
	got = read(d->from, d->buf, want);
	if (is_down && rate && got > 0)
		budget -= (double)got;

	if (got <= 0) {
		drop(p, false);
		return false;
	}
	if (is_down && cuts > 0 && d->bytes + (unsigned long long)got > cut_after) {
		size_t part = (size_t)(cut_after - d->bytes);

		if (part > 0)
			send(d->to, d->buf, part, MSG_DONTWAIT | MSG_NOSIGNAL);
		printf("cut after %llu bytes\n", cut_after);
		fflush(stdout);
		cuts--;
		drop(p, true);
		return false;
	}
	d->bytes += (unsigned long long)got;
	d->off = 0;
	d->len = (size_t)got;
	return true;
}

static bool on_writable(struct pair *p, struct dir *d)
{
	ssize_t w = send(d->to, d->buf + d->off, d->len - d->off, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (w <= 0) {
		drop(p, false);
		return false;
	}
	d->off += (size_t)w;
	if (d->off == d->len)
		d->off = d->len = 0;
	return true;
}

int main(int argc, char **argv)
{
	unsigned long long listen_port, target;
	struct sockaddr_in a = { .sin_family = AF_INET };
	static struct pair pairs[MAX_PAIRS];
	int lfd, one = 1;

	if ((argc != 5 && argc != 6) || parse_num(argv[1], &listen_port) ||
	    parse_num(argv[2], &target) || parse_num(argv[3], &cut_after) ||
	    parse_num(argv[4], &cuts) || (argc == 6 && parse_num(argv[5], &rate)) ||
	    listen_port > 65535 || target > 65535) {
		fprintf(stderr, "usage: cutproxy LISTEN_PORT TARGET_PORT CUT_AFTER_BYTES CUTS [RATE_BYTES_PER_S]\n");
		return 2;
	}
	last_refill = now_s();
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons((uint16_t)listen_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
		perror("cutproxy");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct pollfd fds[1 + 2 * MAX_PAIRS];
		struct dir *dirs[1 + 2 * MAX_PAIRS];
		int owner[1 + 2 * MAX_PAIRS];
		nfds_t n = 1;

		fds[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_PAIRS; i++) {
			struct dir *ds[2] = { &pairs[i].up, &pairs[i].down };

			if (!pairs[i].used)
				continue;
			for (int k = 0; k < 2; k++) {
				struct dir *d = ds[k];

				fds[n] = d->len ? (struct pollfd){ .fd = d->to, .events = POLLOUT }
						: (struct pollfd){ .fd = d->from, .events = POLLIN };
				if (!d->len && k == 1 && rate && budget < 1)
					fds[n].fd = -1; /* rate limit: do not read now */
				dirs[n] = d;
				owner[n++] = i;
			}
		}
		if (rate)
			refill();
		if (poll(fds, n, rate ? 10 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fds[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), slot = -1;

			for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
				if (!pairs[i].used)
					slot = i;
			if (c >= 0) {
				int srv = connect_target((unsigned)target);

				if (srv < 0 || slot < 0) {
					close(c);
					if (srv >= 0)
						close(srv);
				} else {
					memset(&pairs[slot], 0, sizeof(pairs[slot]));
					pairs[slot].used = true;
					pairs[slot].up.from = c;
					pairs[slot].up.to = srv;
					pairs[slot].down.from = srv;
					pairs[slot].down.to = c;
				}
			}
		}
		for (nfds_t k = 1; k < n; k++) {
			struct pair *p = &pairs[owner[k]];
			struct dir *d = dirs[k];

			if (!p->used || !fds[k].revents || (fds[k].fd != d->from && fds[k].fd != d->to))
				continue;
			if (d->len)
				on_writable(p, d);
			else
				on_readable(p, d, d == &p->down);
		}
	}
}

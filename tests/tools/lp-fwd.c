/* SPDX-License-Identifier: MIT */
/*
 * lp-fwd: the per-connection forwarder behind QEMU's guestfwd "cmd:" rule. It relays the
 * guest's TCP stream (stdin/stdout) to HOST:PORT and can shape or break it, which is how
 * tests inject network faults between a guest and the backend.
 *
 *   lp-fwd [--rate BYTES_PER_S] [--cut-after BYTES] [--log FILE] HOST PORT
 *
 *   --rate       limit the server-to-guest direction (k/m suffixes: 1024, 1024²)
 *   --cut-after  close both directions once that many server-to-guest bytes went through
 *   --log FILE   append one line per connection: bytes each way and how it ended
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 16384

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1024u, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024u * 1024u, end++;
	if (*end)
		return -1;
	*ret = v;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"rate", required_argument, NULL, 'r'},
					     {"cut-after", required_argument, NULL, 'c'},
					     {"log", required_argument, NULL, 'l'},
					     {0}};
	uint64_t rate = 0, cut = 0, up = 0, down = 0, t0;
	const char *log_path = NULL, *end = "closed";
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	bool in_open = true;
	int c, s;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((c == 'r' && parse_size(optarg, &rate) < 0) ||
		    (c == 'c' && parse_size(optarg, &cut) < 0) || c == '?') {
			fprintf(stderr, "usage: lp-fwd [--rate B/s] [--cut-after B] [--log FILE] HOST PORT\n");
			return 2;
		}
		if (c == 'l')
			log_path = optarg;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: lp-fwd [--rate B/s] [--cut-after B] [--log FILE] HOST PORT\n");
		return 2;
	}
	if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai) != 0 || !ai) {
		fprintf(stderr, "lp-fwd: cannot resolve %s:%s\n", argv[optind], argv[optind + 1]);
		return 1;
	}
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
		fprintf(stderr, "lp-fwd: connect %s:%s: %s\n", argv[optind], argv[optind + 1],
			strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);
	t0 = now_ms();
	for (;;) {
		struct pollfd p[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN},
				      {.fd = s, .events = POLLIN}};
		int timeout = -1;
		char buf[BUF];
		ssize_t n;

		/* rate: the bytes sent so far may not run ahead of rate * elapsed */
		if (rate) {
			uint64_t allowed = rate * (now_ms() - t0) / 1000u + BUF;

			if (down >= allowed) {
				p[1].fd = -1;
				timeout = (int)((down - allowed) * 1000u / rate) + 1;
			}
		}
		if (poll(p, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			end = "poll error";
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false; /* the guest closed its side: half-close ours */
				shutdown(s, SHUT_WR);
			} else if (write_all(s, buf, (size_t)n) < 0) {
				end = "server write error";
				break;
			} else {
				up += (uint64_t)n;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			size_t want = sizeof(buf);

			if (cut && cut - down < want)
				want = (size_t)(cut - down);
			n = read(s, buf, want);
			if (n <= 0) {
				end = n == 0 ? "server closed" : "server read error";
				break;
			}
			if (write_all(1, buf, (size_t)n) < 0) {
				end = "guest write error";
				break;
			}
			down += (uint64_t)n;
			if (cut && down >= cut) {
				end = "cut";
				break;
			}
		}
	}
	if (log_path) {
		FILE *f = fopen(log_path, "ae");

		if (f) {
			fprintf(f, "up=%llu down=%llu ms=%llu end=%s\n", (unsigned long long)up,
				(unsigned long long)down, (unsigned long long)(now_ms() - t0), end);
			fclose(f);
		}
	}
	close(s);
	return 0;
}

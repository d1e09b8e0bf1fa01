/* SPDX-License-Identifier: MIT */
/*
 * The network fault proxy as QEMU runs it: one real `loopline-matrix fault-proxy` process
 * per connection with one end of a socketpair as its stdin/stdout (the guest's side),
 * relaying to a server on 127.0.0.1, while the test changes the combo's control file
 * (in-process with mx_net_set, as the runner does, and with `loopline-matrix net`):
 *
 * - pass: 1 MiB of random bytes through an echo server come back exactly; the log line;
 * - cut: live connections end within 200 ms; a new one ends at once without reaching the
 *   server; resume: new connections pass again;
 * - stall: nothing moves while stalled (also on a connection opened during the stall,
 *   which does reach the server); everything moves again after resume;
 * - throttle: 1 MiB down and 1 MiB up each take at least (1 MiB - burst) / rate;
 * - drop-after: two connections together get exactly N bytes, then both end and new ones
 *   are refused until the state changes; a new drop-after gets a fresh budget;
 * - a garbage control file: a message with FILE:LINE on the proxy's stderr and in the log,
 *   a live proxy keeps its state, a new one passes; with stderr on the guest's socket (as
 *   QEMU runs it) the guest's bytes stay clean; `net show` says what is wrong;
 * - the backend unreachable: exit 1, the message in the log, a connect-failed line;
 * - curl over TLS to nginx, a cut mid-download, `curl --continue-at -` after resume: the
 *   file is complete and the log shows the second connection carried only the rest.
 *
 * The server speaks a one-line protocol: "echo\n" (echo until EOF), "source N\n" (send N
 * bytes, 0 = without end, then close), "sink\n" (count bytes until EOF, answer "COUNT\n").
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/clock.h"
#include "loopline/fs.h"
#include "loopline/io.h"
#include "loopline/proc.h"
#include "matrix.h"

#define MIB (1024u * 1024u)

static char dir[64], control[128], logp[128];
static const char *matrix_bin;
static char port_text[16];
static pid_t server_pid = -1;
static int accept_fd = -1; /* the server writes one byte per accepted connection */
static unsigned accepts;

/* ---- the server (a forked process; one child per connection) ---- */

static void serve_source(int fd, unsigned long long n)
{
	static char chunk[16384];

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i * 7 + (i >> 8));
	for (unsigned long long sent = 0; n == 0 || sent < n;) {
		size_t len = n && n - sent < sizeof(chunk) ? (size_t)(n - sent) : sizeof(chunk);

		if (lp_io_write_all(fd, chunk, len) < 0)
			return;
		sent += len;
	}
}

static void serve(int fd)
{
	char line[64], buf[16384];
	unsigned long long n = 0;
	size_t len = 0;
	ssize_t r;

	while (len < sizeof(line) - 1 && lp_io_read(fd, line + len, 1) == 1 && line[len] != '\n')
		len++;
	line[len] = '\0';
	if (strcmp(line, "echo") == 0) {
		while ((r = lp_io_read(fd, buf, sizeof(buf))) > 0)
			if (lp_io_write_all(fd, buf, (size_t)r) < 0)
				break;
	} else if (sscanf(line, "source %llu", &n) == 1) {
		serve_source(fd, n);
	} else if (strcmp(line, "sink") == 0) {
		while ((r = lp_io_read(fd, buf, sizeof(buf))) > 0)
			n += (unsigned long long)r;
		len = (size_t)snprintf(buf, sizeof(buf), "%llu\n", n);
		lp_io_write_all(fd, buf, len);
	}
}

static void server_main(int lfd, int notify)
{
	signal(SIGCHLD, SIG_IGN); /* connection children are reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		if (write(notify, "a", 1) != 1)
			_exit(1);
		if (fork() == 0) {
			serve(c);
			_exit(0);
		}
		close(c);
	}
}

/* A listening socket on 127.0.0.1 with a port of the kernel's choosing. */
static int listen_any(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static int group_setup(void **state)
{
	int lfd, port, p[2];

	matrix_bin = getenv("LP_MATRIX");
	assert_non_null(matrix_bin);
	snprintf(dir, sizeof(dir), "/tmp/lp-mx-netfault-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(control, sizeof(control), "%s/net.state", dir);
	snprintf(logp, sizeof(logp), "%s/net.log", dir);
	lfd = listen_any(&port);
	snprintf(port_text, sizeof(port_text), "%d", port);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* nothing outlives a crashed test */
		close(p[0]);
		server_main(lfd, p[1]);
	}
	setpgid(server_pid, server_pid);
	close(lfd);
	close(p[1]);
	accept_fd = p[0];
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	if (server_pid > 0) {
		kill(-server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	if (accept_fd >= 0)
		close(accept_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool readable_within(int fd, int ms);

/* Every test starts with no control file (PASS), an empty log and the server's accepts
 * so far counted. */
static int test_setup(void **state)
{
	char budget[160], buf[64];
	ssize_t n;

	unlink(control);
	unlink(logp);
	snprintf(budget, sizeof(budget), "%s.bytes", control);
	unlink(budget);
	while (readable_within(accept_fd, 0) && (n = read(accept_fd, buf, sizeof(buf))) > 0)
		accepts += (unsigned)n;
	return 0;
}

/* ---- waiting for things, never sleeping for them ---- */

static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Counts the server's accepts; waits up to ms for the count to reach want. */
static bool accepts_reach(unsigned want, int ms)
{
	uint64_t deadline = lp_clock_deadline_ms((uint64_t)ms);
	char buf[64];

	while (accepts < want) {
		ssize_t n;

		if (!readable_within(accept_fd, lp_clock_ms_left(deadline)))
			return false;
		n = read(accept_fd, buf, sizeof(buf));
		assert_true(n > 0);
		accepts += (unsigned)n;
	}
	return true;
}

/* Reads (and drops, or keeps up to cap bytes in buf) until the end of input or the
 * deadline; the byte count goes to *ret_n. True if the end came. */
static bool read_to_end(int fd, int ms, char *buf, size_t cap, size_t *ret_n)
{
	uint64_t deadline = lp_clock_deadline_ms((uint64_t)ms);
	char scratch[65536];
	size_t n = 0;

	for (;;) {
		char *dst = buf ? buf + n : scratch;
		size_t room = buf ? cap - n : sizeof(scratch);
		ssize_t r;

		if (!readable_within(fd, lp_clock_ms_left(deadline)))
			break;
		if (room == 0)
			fail_msg("more than %zu bytes", cap);
		r = lp_io_read(fd, dst, room);
		if (r <= 0) {
			*ret_n = n;
			return true;
		}
		n += (size_t)r;
	}
	*ret_n = n;
	return false;
}

/* Reads and drops until nothing came for quiet_ms (at most max_ms); bytes read. */
static size_t drain_until_quiet(int fd, int quiet_ms, int max_ms)
{
	uint64_t deadline = lp_clock_deadline_ms((uint64_t)max_ms);
	char buf[65536];
	size_t n = 0;

	while (readable_within(fd, quiet_ms)) {
		ssize_t r = lp_io_read(fd, buf, sizeof(buf));

		assert_true(r > 0);
		n += (size_t)r;
		if (lp_clock_ms_left(deadline) == 0)
			fail_msg("still receiving after %d ms", max_ms);
	}
	return n;
}

/* Reads at least want bytes (dropping them) within ms. */
static void read_at_least(int fd, size_t want, int ms)
{
	uint64_t deadline = lp_clock_deadline_ms((uint64_t)ms);
	char buf[65536];
	size_t n = 0;

	while (n < want) {
		ssize_t r;

		if (!readable_within(fd, lp_clock_ms_left(deadline)))
			fail_msg("only %zu of %zu bytes within %d ms", n, want, ms);
		r = lp_io_read(fd, buf, sizeof(buf));
		assert_true(r > 0);
		n += (size_t)r;
	}
}

/* CPU time (user + system) a process has used, in ms: a proxy waiting must not spin. */
static uint64_t cpu_ms(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	assert_int_equal(lp_fs_read_file(path, 4096, &text, NULL), 0);
	p = strrchr(text, ')'); /* the command name may hold spaces */
	assert_non_null(p);
	/* fields 14 and 15 (utime, stime); p is at the end of field 2 */
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st), 2);
	free(text);
	return (uint64_t)(ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* ---- proxies, one per connection, as QEMU's guestfwd cmd: runs them ---- */

struct conn {
	struct lp_proc *proc;
	int guest; /* our end of the socketpair: what the guest reads and writes */
	int err;   /* the proxy's stderr */
};

/* stderr to a pipe the test reads, or (as QEMU does it) the guest's socket too */
static void conn_spawn(struct conn *c, const char *request, bool stderr_is_guest)
{
	const char *argv[] = { matrix_bin, "fault-proxy", "--control", control, "--log", logp,
			       "127.0.0.1", port_text, NULL };
	struct lp_proc_opts o = { .argv = argv, .flags = LP_PROC_STDIN_FD, .out = LP_PROC_OUT_FD,
				  .err = LP_PROC_ERR_FD };
	int sv[2], ep[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	o.in_fd = o.out_fd = sv[1];
	o.err_fd = stderr_is_guest ? sv[1] : ep[1];
	assert_int_equal(lp_proc_spawn(&o, &c->proc), 0);
	close(sv[1]);
	close(ep[1]);
	c->guest = sv[0];
	c->err = ep[0];
	/* a refused connection may be gone before the request is written (EPIPE) */
	if (request) {
		int r = lp_io_write_all(c->guest, request, strlen(request));

		assert_true(r == 0 || r == -EPIPE);
	}
}

static void conn_open(struct conn *c, const char *request)
{
	conn_spawn(c, request, false);
}

/* Waits for the proxy to exit (it must, within ms) and returns its exit code. */
static int conn_wait(struct conn *c, int ms)
{
	int code;

	if (lp_proc_wait(c->proc, ms, NULL, NULL) != 0)
		fail_msg("the proxy still runs after %d ms", ms);
	code = lp_proc_exit_code(c->proc);
	lp_proc_free(c->proc);
	close(c->guest);
	close(c->err);
	c->proc = NULL;
	return code;
}

/* The proxy's stderr so far (it has exited, or the caller waited for readable). */
static const char *conn_stderr(struct conn *c)
{
	static char buf[4096];
	ssize_t n;

	fcntl(c->err, F_SETFL, O_NONBLOCK);
	n = read(c->err, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* `loopline-matrix ARGS…` to its end; exit code, output (stdout and stderr) in out. */
static int matrix(char *out, size_t out_size, ...)
{
	const char *argv[16] = { matrix_bin };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_CAPTURE, .err = LP_PROC_ERR_STDOUT };
	struct lp_proc_result res;
	char scratch[1024];
	va_list ap;
	size_t n = 1;

	va_start(ap, out_size);
	while (n < LP_ARRAY_SIZE(argv) - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (!out) {
		out = scratch;
		out_size = sizeof(scratch);
	}
	assert_int_equal(lp_proc_run(&o, 30000, NULL, out, out_size, &res), 0);
	return res.exit_code;
}

static void set_state(enum mx_net_mode mode, uint64_t arg)
{
	struct mx_net_state st = { .mode = mode };
	struct lp_diag diag;

	if (mode == MX_NET_THROTTLE)
		st.rate_bps = arg;
	if (mode == MX_NET_DROP_AFTER)
		st.drop_after = arg;
	assert_int_equal(mx_net_set(control, &st, &diag), 0);
}

static struct mx_net_totals log_totals(void)
{
	struct mx_net_totals t;
	struct lp_diag diag;
	char msg[1024];

	if (mx_net_log_read(logp, &t, &diag) < 0)
		fail_msg("log: %s", lp_diag_format(&diag, msg, sizeof(msg)));
	return t;
}

/* Sends out (then half-closes) while reading everything that comes back into in. */
static size_t exchange(int fd, const char *out, size_t out_len, char *in, size_t in_cap, int ms)
{
	uint64_t deadline = lp_clock_deadline_ms((uint64_t)ms);
	size_t sent = 0, got = 0;
	bool eof = false;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (out_len == 0)
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
	while (!eof) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < out_len ? POLLOUT : 0) };
		ssize_t n;

		if (poll(&p, 1, lp_clock_ms_left(deadline)) != 1)
			fail_msg("exchange: stuck after sending %zu and receiving %zu bytes", sent, got);
		if (p.revents & POLLOUT) {
			n = write(fd, out + sent, out_len - sent);
			assert_true(n > 0);
			sent += (size_t)n;
			if (sent == out_len)
				assert_int_equal(shutdown(fd, SHUT_WR), 0);
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			n = read(fd, in + got, in_cap - got);
			assert_true(n >= 0);
			eof = n == 0;
			got += (size_t)n;
			assert_true(got < in_cap || eof);
		}
	}
	return got;
}

/* A new connection ends at once (nothing to read, the proxy exits 0) and never reaches
 * the server. */
static void expect_refused(void)
{
	struct conn c;
	size_t n;

	conn_open(&c, "echo\nhello");
	assert_true(read_to_end(c.guest, 2000, NULL, 0, &n));
	assert_int_equal(n, 0);
	assert_int_equal(conn_wait(&c, 5000), 0);
	assert_false(readable_within(accept_fd, 200));
}

/* ---- the cases ---- */

static void test_pass_exact(void **state)
{
	char *out = malloc(MIB + 5), *in = malloc(MIB + 1);
	struct mx_net_totals t;
	struct conn c;

	assert_non_null(out);
	assert_non_null(in);
	memcpy(out, "echo\n", 5);
	for (size_t i = 5; i < MIB + 5;)
		i += (size_t)getrandom(out + i, MIB + 5 - i, 0);
	conn_open(&c, NULL); /* no control file: PASS */
	assert_int_equal(exchange(c.guest, out, MIB + 5, in, MIB + 1, 30000), MIB);
	assert_memory_equal(in, out + 5, MIB);
	assert_int_equal(conn_wait(&c, 5000), 0);
	t = log_totals();
	assert_int_equal(t.connections, 1);
	assert_int_equal(t.up, MIB + 5);
	assert_int_equal(t.down, MIB);
	assert_int_equal(t.ends[MX_NET_END_SERVER_CLOSED], 1);
	free(out);
	free(in);
}

static void test_cut_resume(void **state)
{
	struct conn a, b, c;
	struct mx_net_totals t;
	char out[1024], buf[16];
	size_t n;

	set_state(MX_NET_PASS, 0);
	conn_open(&a, "source 0\n");
	conn_open(&b, "source 0\n");
	read_at_least(a.guest, 65536, 10000);
	read_at_least(b.guest, 65536, 10000);
	assert_true(accepts_reach(accepts + 2, 5000));
	set_state(MX_NET_CUT, 0); /* as the runner does it, in-process */
	{
		uint64_t t0 = lp_clock_mono_ms();

		assert_true(read_to_end(a.guest, 2000, NULL, 0, &n));
		assert_true(read_to_end(b.guest, 2000, NULL, 0, &n));
		if (lp_clock_mono_ms() - t0 > 200)
			fail_msg("the cut took %llu ms", (unsigned long long)(lp_clock_mono_ms() - t0));
	}
	assert_int_equal(conn_wait(&a, 5000), 0);
	assert_int_equal(conn_wait(&b, 5000), 0);
	expect_refused();
	t = log_totals();
	assert_int_equal(t.connections, 3);
	assert_int_equal(t.ends[MX_NET_END_CUT], 2);
	assert_int_equal(t.ends[MX_NET_END_REFUSED], 1);

	/* resume, by hand: new connections pass */
	assert_int_equal(matrix(out, sizeof(out), "net", "--control", control, "resume", NULL), 0);
	assert_non_null(strstr(out, "mode=pass"));
	conn_open(&c, "echo\nhello");
	assert_int_equal(exchange(c.guest, "", 0, buf, sizeof(buf), 5000), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(conn_wait(&c, 5000), 0);
}

static void test_stall(void **state)
{
	struct conn a, b;
	char buf[16];
	uint64_t cpu;
	size_t n;

	set_state(MX_NET_PASS, 0);
	conn_open(&a, "source 0\n");
	read_at_least(a.guest, 65536, 10000);
	assert_true(accepts_reach(accepts + 1, 5000));
	set_state(MX_NET_STALL, 0);
	/* what was on the way arrives; then nothing (the proxy looks every 50 ms) */
	drain_until_quiet(a.guest, 300, 5000);
	cpu = cpu_ms(lp_proc_pid(a.proc));
	assert_false(readable_within(a.guest, 1000));
	if (cpu_ms(lp_proc_pid(a.proc)) - cpu > 100)
		fail_msg("a stalled proxy used %llu ms of CPU in 1 s",
			 (unsigned long long)(cpu_ms(lp_proc_pid(a.proc)) - cpu));
	/* a connection opened while stalled reaches the server and stalls too */
	conn_open(&b, "echo\nping");
	assert_true(accepts_reach(accepts + 1, 5000));
	assert_false(readable_within(b.guest, 300));
	set_state(MX_NET_PASS, 0);
	read_at_least(a.guest, 65536, 5000);
	assert_int_equal(shutdown(b.guest, SHUT_WR), 0);
	assert_true(read_to_end(b.guest, 5000, buf, sizeof(buf), &n));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(conn_wait(&b, 5000), 0);
	/* the guest goes away: the proxy notices and ends */
	close(a.guest);
	a.guest = -1;
	if (lp_proc_wait(a.proc, 5000, NULL, NULL) != 0)
		fail_msg("the proxy did not end after its guest went away");
	assert_int_equal(lp_proc_exit_code(a.proc), 0);
	lp_proc_free(a.proc);
	close(a.err);
	assert_int_equal(log_totals().ends[MX_NET_END_GUEST_CLOSED], 1);
}

static void test_throttle(void **state)
{
	const uint64_t rate = 512 * 1024, burst = rate / 10;
	const uint64_t floor_ms = (MIB - burst) * 1000 / rate;
	char *out = malloc(MIB + 5), in[64], *text;
	struct conn c;
	uint64_t t0, ms;
	size_t n;

	assert_non_null(out);
	assert_int_equal(matrix(NULL, 0, "net", "--control", control, "throttle", "512k", NULL), 0);
	/* down */
	t0 = lp_clock_mono_ms();
	conn_open(&c, "source 1048576\n");
	assert_true(read_to_end(c.guest, 30000, NULL, 0, &n));
	ms = lp_clock_mono_ms() - t0;
	assert_int_equal(n, MIB);
	if (ms < floor_ms)
		fail_msg("1 MiB down at 512 KiB/s took %llu ms, less than %llu", (unsigned long long)ms,
			 (unsigned long long)floor_ms);
	assert_int_equal(conn_wait(&c, 5000), 0);
	/* up */
	memcpy(out, "sink\n", 5);
	memset(out + 5, 'u', MIB);
	t0 = lp_clock_mono_ms();
	conn_open(&c, NULL);
	n = exchange(c.guest, out, MIB + 5, in, sizeof(in), 30000);
	ms = lp_clock_mono_ms() - t0;
	in[n] = '\0';
	assert_string_equal(in, "1048576\n");
	if (ms < floor_ms)
		fail_msg("1 MiB up at 512 KiB/s took %llu ms, less than %llu", (unsigned long long)ms,
			 (unsigned long long)floor_ms);
	assert_int_equal(conn_wait(&c, 5000), 0);
	assert_int_equal(lp_fs_read_file(control, MX_NET_STATE_MAX, &text, NULL), 0);
	assert_non_null(strstr(text, "mode=throttle\nrate=524288\n"));
	free(text);
	free(out);
}

/* Reads a and b together until both ended; the bytes each got. */
static void read_both_to_end(struct conn *a, struct conn *b, size_t *ret_a, size_t *ret_b)
{
	uint64_t deadline = lp_clock_deadline_ms(20000);
	bool end_a = false, end_b = false;
	char buf[65536];

	*ret_a = *ret_b = 0;
	while (!end_a || !end_b) {
		struct pollfd p[2] = { { .fd = end_a ? -1 : a->guest, .events = POLLIN },
				       { .fd = end_b ? -1 : b->guest, .events = POLLIN } };

		if (poll(p, 2, lp_clock_ms_left(deadline)) <= 0)
			fail_msg("still open after 20 s (%zu + %zu bytes)", *ret_a, *ret_b);
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!p[i].revents)
				continue;
			n = lp_io_read(p[i].fd, buf, sizeof(buf));
			if (n < 0)
				fail_msg("read: %s (after %zu + %zu bytes)", strerror((int)-n), *ret_a, *ret_b);
			if (n == 0)
				*(i ? &end_b : &end_a) = true;
			*(i ? ret_b : ret_a) += (size_t)n;
		}
	}
}

static void test_drop_after(void **state)
{
	const size_t budget = 300007;
	struct mx_net_totals t;
	struct conn a, b;
	char out[1024], buf[16];
	size_t na, nb, n;

	/* the whole combo: two connections together get exactly the budget */
	set_state(MX_NET_DROP_AFTER, budget);
	/* both connected before either asks, so neither can find the budget used up */
	conn_open(&a, NULL);
	conn_open(&b, NULL);
	assert_true(accepts_reach(accepts + 2, 5000));
	assert_int_equal(lp_io_write_all(a.guest, "source 0\n", 9), 0);
	assert_int_equal(lp_io_write_all(b.guest, "source 0\n", 9), 0);
	read_both_to_end(&a, &b, &na, &nb);
	assert_int_equal(na + nb, budget);
	assert_int_equal(conn_wait(&a, 5000), 0);
	assert_int_equal(conn_wait(&b, 5000), 0);
	/* then it is a cut: refused */
	expect_refused();
	t = log_totals();
	assert_int_equal(t.down, budget);
	assert_int_equal(t.ends[MX_NET_END_DROPPED], 2);
	assert_int_equal(t.ends[MX_NET_END_REFUSED], 1);
	assert_int_equal(matrix(out, sizeof(out), "net", "--control", control, "show", NULL), 0);
	assert_non_null(strstr(out, "mode=drop-after drop_after=300007 used=300007"));

	/* a new drop-after (by hand) has a fresh budget; one connection gets all of it */
	assert_int_equal(matrix(NULL, 0, "net", "--control", control, "drop-after", "100k", NULL), 0);
	conn_open(&a, "source 1048576\n");
	assert_true(read_to_end(a.guest, 10000, NULL, 0, &n));
	assert_int_equal(n, 100 * 1024);
	assert_int_equal(conn_wait(&a, 5000), 0);

	/* resume: all bytes again */
	set_state(MX_NET_PASS, 0);
	conn_open(&a, "source 400000\n");
	assert_true(read_to_end(a.guest, 10000, NULL, 0, &n));
	assert_int_equal(n, 400000);
	assert_int_equal(conn_wait(&a, 5000), 0);
	conn_open(&a, "echo\nok");
	assert_int_equal(exchange(a.guest, "", 0, buf, sizeof(buf), 5000), 2);
	assert_int_equal(conn_wait(&a, 5000), 0);
}

static void test_garbage(void **state)
{
	static const char garbage[] = "version=1\ngeneration=9\nmode=pass\nbogus=1\n";
	struct conn a, b;
	char out[1024], buf[16], expect[256];
	const char *err;
	size_t n;

	set_state(MX_NET_STALL, 0);
	conn_open(&a, "echo\nping");
	assert_true(accepts_reach(accepts + 1, 5000));
	assert_false(readable_within(a.guest, 200));
	/* the live proxy says what is wrong, once, and stays stalled */
	assert_int_equal(lp_fs_write_atomic(control, garbage, strlen(garbage), 0644, 0), 0);
	assert_true(readable_within(a.err, 5000));
	snprintf(expect, sizeof(expect), "%s:4: unknown key 'bogus' (keeping mode=stall)", control);
	err = conn_stderr(&a);
	if (!strstr(err, expect))
		fail_msg("stderr: '%s', expected '%s'", err, expect);
	assert_false(readable_within(a.guest, 300));
	assert_false(readable_within(a.err, 0));
	/* a new proxy has no state to keep: PASS, and the same message */
	conn_open(&b, "echo\nhi");
	assert_int_equal(exchange(b.guest, "", 0, buf, sizeof(buf), 5000), 2);
	assert_memory_equal(buf, "hi", 2);
	assert_true(readable_within(b.err, 5000));
	snprintf(expect, sizeof(expect), "%s:4: unknown key 'bogus' (keeping mode=pass)", control);
	err = conn_stderr(&b);
	if (!strstr(err, expect))
		fail_msg("stderr: '%s', expected '%s'", err, expect);
	assert_int_equal(conn_wait(&b, 5000), 0);
	/* under QEMU stderr is the guest's connection: the message must not land there */
	conn_spawn(&b, "echo\nhi", true);
	assert_int_equal(exchange(b.guest, "", 0, buf, sizeof(buf), 5000), 2);
	assert_memory_equal(buf, "hi", 2);
	assert_int_equal(conn_wait(&b, 5000), 0);
	/* the log has the messages (three proxies) and still sums */
	{
		char *text, *p;
		int notes = 0;

		snprintf(expect, sizeof(expect), " warning: %s:4: unknown key 'bogus'", control);
		assert_int_equal(lp_fs_read_file(logp, MX_NET_LOG_MAX, &text, NULL), 0);
		for (p = text; (p = strstr(p, expect)); p++)
			notes++;
		if (notes != 3)
			fail_msg("%d messages in the log:\n%s", notes, text);
		free(text);
		assert_int_equal(log_totals().connections, 2);
	}
	/* by hand: show says where; a new state replaces the garbage */
	assert_int_equal(matrix(out, sizeof(out), "net", "--control", control, "show", NULL), 2);
	snprintf(expect, sizeof(expect), "%s:4: unknown key 'bogus'", control);
	assert_non_null(strstr(out, expect));
	assert_int_equal(matrix(out, sizeof(out), "net", "--control", control, "resume", NULL), 0);
	assert_non_null(strstr(out, "mode=pass generation=2")); /* stall was 1 */
	assert_int_equal(shutdown(a.guest, SHUT_WR), 0);
	assert_true(read_to_end(a.guest, 5000, buf, sizeof(buf), &n));
	assert_int_equal(n, 4);
	assert_int_equal(conn_wait(&a, 5000), 0);
}

static void test_cli_usage(void **state)
{
	static const char *const bad[][3] = {
		{ "bogus", NULL }, { "throttle", NULL }, { "throttle", "0" }, { "throttle", "2g" },
		{ "drop-after", "1x" }, { "cut", "5" },
	};
	char out[1024];

	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		assert_int_equal(matrix(out, sizeof(out), "net", "--control", control, bad[i][0],
					bad[i][1], NULL), 2);
		assert_non_null(strstr(out, "loopline-matrix net: "));
		assert_non_null(strstr(out, "Try 'loopline-matrix net --help'."));
	}
	assert_int_equal(matrix(out, sizeof(out), "net", "cut", NULL), 2);
	assert_non_null(strstr(out, "--control FILE is required"));
	assert_int_equal(matrix(out, sizeof(out), "net", "--control", control, "show", NULL), 0);
	assert_non_null(strstr(out, "mode=pass generation=0 (no control file)"));
	/* the backend cannot be reached: exit 1, a message, a log line */
	{
		int lfd, port;
		char p[16], *text;

		lfd = listen_any(&port);
		close(lfd);
		snprintf(p, sizeof(p), "%d", port);
		/* (stderr is stdout here, the guest's side: the message goes to the log only) */
		assert_int_equal(matrix(out, sizeof(out), "fault-proxy", "--log", logp, "127.0.0.1", p,
					NULL), 1);
		assert_string_equal(out, "");
		assert_int_equal(log_totals().ends[MX_NET_END_CONNECT_FAILED], 1);
		assert_int_equal(lp_fs_read_file(logp, MX_NET_LOG_MAX, &text, NULL), 0);
		assert_non_null(strstr(text, "error: connect 127.0.0.1:"));
		assert_non_null(strstr(text, ": Connection refused\n"));
		free(text);
	}
}

/* ---- curl over TLS to nginx, through proxies started per connection ---- */

/* QEMU's guestfwd for a program on this host: accepts on a port and runs one fault-proxy
 * per connection with the connection as its stdin/stdout. */
static pid_t guestfwd_start(const char *backend_port, int *ret_port)
{
	int lfd = listen_any(ret_port);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c < 0)
				continue;
			if (fork() == 0) {
				dup2(c, 0);
				dup2(c, 1);
				execl(matrix_bin, matrix_bin, "fault-proxy", "--control", control, "--log",
				      logp, "127.0.0.1", backend_port, (char *)NULL);
				_exit(127);
			}
			close(c);
		}
	}
	setpgid(pid, pid);
	close(lfd);
	return pid;
}

static bool port_answers(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* nginx serving DIR/www over TLS on a free port (another program may take the port
 * between our look and nginx's bind: then nginx exits and the next port is tried). */
static struct lp_proc *nginx_start(int *ret_port)
{
	char conf[256], errlog[160], text[2048];
	const char *argv[] = { "nginx", "-p", dir, "-e", errlog, "-c", conf, NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_NULL, .err = LP_PROC_ERR_NULL };

	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	snprintf(errlog, sizeof(errlog), "%s/nginx-error.log", dir);
	for (int attempt = 0; attempt < 5; attempt++) {
		struct lp_proc *p;
		uint64_t deadline = lp_clock_deadline_ms(10000);
		int port;

		close(listen_any(&port));
		snprintf(text, sizeof(text),
			 "daemon off; master_process off; pid %s/nginx.pid; error_log %s;\n"
			 "events { worker_connections 64; }\n"
			 "http { access_log %s/access.log;\n"
			 "  client_body_temp_path %s/ngx; proxy_temp_path %s/ngx;\n"
			 "  fastcgi_temp_path %s/ngx; uwsgi_temp_path %s/ngx; scgi_temp_path %s/ngx;\n"
			 "  server { listen 127.0.0.1:%d ssl; root %s/www;\n"
			 "    ssl_certificate %s/pki/server.pem; ssl_certificate_key %s/pki/server.key; } }\n",
			 dir, errlog, dir, dir, dir, dir, dir, dir, port, dir, dir, dir);
		assert_int_equal(lp_fs_write_atomic(conf, text, strlen(text), 0644, 0), 0);
		assert_int_equal(lp_proc_spawn(&o, &p), 0);
		/* until it answers, or exits (its wait is the pause between looks) */
		while (!port_answers(port) && lp_proc_wait(p, 20, NULL, NULL) == -ETIMEDOUT &&
		       lp_clock_ms_left(deadline) > 0)
			;
		if (!lp_proc_exited(p) && port_answers(port)) {
			*ret_port = port;
			return p;
		}
		lp_proc_free(p);
	}
	fail_msg("nginx did not start (see %s)", errlog);
	return NULL;
}

static int curl(const char *url, const char *file, bool resume, char *out, size_t out_size)
{
	char ca[128];
	const char *argv[] = { "curl", "-sS", "--max-time", "60", "--cacert", ca, "-o", file,
			       url, resume ? "--continue-at" : NULL, "-", NULL };
	struct lp_proc_opts o = { .argv = argv, .out = LP_PROC_OUT_CAPTURE, .err = LP_PROC_ERR_STDOUT };
	struct lp_proc_result res;

	snprintf(ca, sizeof(ca), "%s/pki/ca.pem", dir);
	assert_int_equal(lp_proc_run(&o, 90000, NULL, out, out_size, &res), 0);
	return res.exit_code;
}

/* The log's lines, parsed. */
static size_t log_conns(struct mx_net_conn *ret, size_t max)
{
	char *text, *line, *nl, msg[1024];
	struct lp_diag diag;
	size_t n = 0;

	assert_int_equal(lp_fs_read_file(logp, MX_NET_LOG_MAX, &text, NULL), 0);
	for (line = text; (nl = strchr(line, '\n')) && n < max; line = nl + 1) {
		lp_diag_clear(&diag);
		if (mx_net_log_parse_line(line, (size_t)(nl - line), &ret[n++], &diag) < 0)
			fail_msg("log line %zu: %s", n, lp_diag_format(&diag, msg, sizeof(msg)));
	}
	free(text);
	return n;
}

static pid_t fwd_pid = -1;
static struct lp_proc *nginx;

/* Also when an assertion ended the test half-way. */
static int curl_teardown(void **state)
{
	if (fwd_pid > 0) {
		kill(-fwd_pid, SIGKILL);
		waitpid(fwd_pid, NULL, 0);
		fwd_pid = -1;
	}
	if (nginx)
		lp_proc_stop(nginx, 5000);
	lp_proc_free(nginx);
	nginx = NULL;
	return 0;
}

static void test_curl_resume(void **state)
{
	const size_t size = 4 * MIB, cut = 3 * MIB / 2;
	char path[160], got_path[160], url[64], out[4096], backend[16], *blob, *got, *access;
	const char *src = getenv("LP_SOURCE_DIR");
	const char *pki_argv[] = { path, NULL, NULL };
	struct lp_proc_opts pki = { .argv = pki_argv, .out = LP_PROC_OUT_NULL };
	struct lp_proc_result res;
	struct mx_net_conn conns[4];
	size_t partial, n;
	int nginx_port = 0, fwd_port = 0;

	assert_non_null(src);
	/* a CA and a certificate for 127.0.0.1; a 4 MiB file to serve */
	snprintf(path, sizeof(path), "%s/scripts/make-pki", src);
	snprintf(got_path, sizeof(got_path), "%s/pki", dir);
	pki_argv[1] = got_path;
	assert_int_equal(lp_proc_run(&pki, 60000, NULL, NULL, 0, &res), 0);
	assert_int_equal(res.exit_code, 0);
	blob = malloc(size);
	assert_non_null(blob);
	for (size_t i = 0; i < size;)
		i += (size_t)getrandom(blob + i, size - i, 0);
	snprintf(path, sizeof(path), "%s/www", dir);
	assert_int_equal(lp_fs_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/www/blob", dir);
	assert_int_equal(lp_fs_write_atomic(path, blob, size, 0644, 0), 0);

	nginx = nginx_start(&nginx_port);
	snprintf(backend, sizeof(backend), "%d", nginx_port);
	fwd_pid = guestfwd_start(backend, &fwd_port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/blob", fwd_port);
	snprintf(got_path, sizeof(got_path), "%s/got", dir);

	/* the link drops after 1.5 MiB: curl gets part of the file */
	set_state(MX_NET_DROP_AFTER, cut);
	if (curl(url, got_path, false, out, sizeof(out)) == 0)
		fail_msg("curl succeeded through a dropped link: %s", out);
	assert_int_equal(lp_fs_read_file(got_path, size, &got, &partial), 0);
	free(got);
	if (partial < MIB || partial >= cut)
		fail_msg("curl kept %zu bytes (a 1.5 MiB cut)", partial);
	/* back up: curl asks for the rest and gets it */
	assert_int_equal(matrix(NULL, 0, "net", "--control", control, "resume", NULL), 0);
	if (curl(url, got_path, true, out, sizeof(out)) != 0)
		fail_msg("curl --continue-at -: %s", out);
	assert_int_equal(lp_fs_read_file(got_path, size, &got, &n), 0);
	assert_int_equal(n, size);
	assert_memory_equal(got, blob, size);
	free(got);

	/* the log: the first connection carried exactly the budget and was dropped; the second
	 * only the rest (plus TLS), not the whole file again */
	assert_int_equal(log_conns(conns, LP_ARRAY_SIZE(conns)), 2);
	assert_int_equal(conns[0].end, MX_NET_END_DROPPED);
	assert_int_equal(conns[0].down, cut);
	assert_int_equal(conns[1].mode, MX_NET_PASS);
	if (conns[1].down < size - partial || conns[1].down >= size)
		fail_msg("the resumed download moved %llu bytes for the %zu missing",
			 (unsigned long long)conns[1].down, size - partial);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	assert_int_equal(lp_fs_read_file(path, 65536, &access, NULL), 0);
	assert_non_null(strstr(access, "\"GET /blob HTTP/1.1\" 206 "));
	free(access);

	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pass_exact, test_setup),
		cmocka_unit_test_setup(test_cut_resume, test_setup),
		cmocka_unit_test_setup(test_stall, test_setup),
		cmocka_unit_test_setup(test_throttle, test_setup),
		cmocka_unit_test_setup(test_drop_after, test_setup),
		cmocka_unit_test_setup(test_garbage, test_setup),
		cmocka_unit_test_setup(test_cli_usage, test_setup),
		cmocka_unit_test_setup_teardown(test_curl_resume, test_setup, curl_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

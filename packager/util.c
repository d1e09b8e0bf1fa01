/* SPDX-License-Identifier: MIT */
/* Helpers shared by loopline-pack's subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/log.h"
#include "pack.h"

const char *pack_error_text(int err, const struct lp_diag *diag, char *buf, size_t len)
{
	if (diag && (diag->msg[0] || diag->path[0]))
		return lp_diag_format(diag, buf, len);
	snprintf(buf, len, "%s", strerror(err < 0 ? -err : err));
	return buf;
}

int pack_print_json(const cJSON *root)
{
	char *s = cJSON_Print(root);

	if (!s)
		return -ENOMEM;
	printf("%s\n", s);
	free(s);
	return 0;
}

const char *pack_size_text(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < LP_ARRAY_SIZE(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

int pack_public_key_path(const char *private_path, char *buf, size_t len)
{
	size_t n = strlen(private_path);
	int w;

	if (n > 4 && strcmp(private_path + n - 4, ".pem") == 0)
		w = snprintf(buf, len, "%.*s.pub.pem", (int)(n - 4), private_path);
	else
		w = snprintf(buf, len, "%s.pub.pem", private_path);
	return (w < 0 || (size_t)w >= len) ? -ENAMETOOLONG : 0;
}

/* ---- atomic output files ----
 *
 * Why not lp_fs_write_atomic (loopline/fs.h): it writes a buffer it is given, and a
 * package is streamed (gigabytes, never held in memory), written with pwrite into
 * reserved room, and its name must not exist while it is incomplete -- not even as a
 * temporary name, where the file system allows it (O_TMPFILE). What is shared is the
 * same promise (old or new file, never a mix; the directory fsynced after the rename)
 * and the helpers lp_fs_dirname and lp_fs_fsync_parent.
 */

/*
 * The one place where a signal handler does more than set a flag: when the destination
 * file system has no O_TMPFILE, a named temp file exists while a package is written, and
 * Ctrl-C must not leave it behind. unlink() and raise() are async-signal-safe.
 */
static char signal_tmp[4096];
static volatile sig_atomic_t signal_tmp_set;

static void on_fatal_signal(int sig)
{
	if (signal_tmp_set)
		unlink(signal_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

void pack_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int temp_name(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int w = snprintf(buf, len, "%.*s.%s.XXXXXX", (int)(base - path), path, base);

	return (w < 0 || (size_t)w >= len) ? -ENAMETOOLONG : 0;
}

int pack_outfile_open(struct pack_outfile *of, const char *path, bool overwrite, unsigned mode)
{
	char dir[4096];
	struct stat st;
	int r;

	memset(of, 0, sizeof(*of));
	of->fd = -1;
	if (snprintf(of->path, sizeof(of->path), "%s", path) >= (int)sizeof(of->path))
		return -ENAMETOOLONG;
	if (!overwrite && lstat(path, &st) == 0)
		return -EEXIST;
	r = lp_fs_dirname(dir, sizeof(dir), path);
	if (r < 0)
		return r;

	of->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (of->fd >= 0) {
		of->unnamed = true;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;

	r = temp_name(path, of->tmp, sizeof(of->tmp));
	if (r < 0)
		return r;
	of->fd = mkostemp(of->tmp, O_CLOEXEC);
	if (of->fd < 0) {
		r = -errno;
		of->tmp[0] = '\0';
		return r;
	}
	if (fchmod(of->fd, mode) < 0) {
		r = -errno;
		pack_outfile_abort(of);
		return r;
	}
	memcpy(signal_tmp, of->tmp, sizeof(signal_tmp));
	signal_tmp_set = 1;
	return 0;
}

int pack_outfile_commit(struct pack_outfile *of, bool overwrite)
{
	char proc[64];
	int r;

	if (of->fd < 0)
		return -EBADF;
	if (fsync(of->fd) < 0)
		return -errno;
	if (of->unnamed) {
		/* Link the unnamed file under a temp name, then rename it into place. */
		r = temp_name(of->path, of->tmp, sizeof(of->tmp));
		if (r < 0)
			return r;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", of->fd);
		for (int attempt = 0;; attempt++) {
			char *x = of->tmp + strlen(of->tmp) - 6;
			unsigned long v = (unsigned long)getpid() * 7919u + (unsigned long)time(NULL) +
					  (unsigned long)attempt * 104729u;

			for (int i = 0; i < 6; i++, v /= 26)
				x[i] = (char)('a' + v % 26);
			if (linkat(AT_FDCWD, proc, AT_FDCWD, of->tmp, AT_SYMLINK_FOLLOW) == 0)
				break;
			if (errno != EEXIST || attempt > 100) {
				r = -errno;
				of->tmp[0] = '\0';
				return r;
			}
		}
		memcpy(signal_tmp, of->tmp, sizeof(signal_tmp));
		signal_tmp_set = 1;
	}
	if (!overwrite) {
		/* link() fails if the name appeared meanwhile; rename() would replace it. */
		if (link(of->tmp, of->path) < 0) {
			r = -errno;
			return r;
		}
		unlink(of->tmp);
	} else if (rename(of->tmp, of->path) < 0) {
		return -errno;
	}
	signal_tmp_set = 0;
	of->tmp[0] = '\0';
	close(of->fd);
	of->fd = -1;
	return lp_fs_fsync_parent(of->path);
}

void pack_outfile_abort(struct pack_outfile *of)
{
	if (!of)
		return;
	if (of->tmp[0]) {
		unlink(of->tmp);
		of->tmp[0] = '\0';
	}
	signal_tmp_set = 0;
	if (of->fd >= 0) {
		close(of->fd);
		of->fd = -1;
	}
}

/* ---- progress ---- */

struct pack_progress {
	pthread_t thread;
	int wake[2];     /* a byte on wake[1] stops the thread */
	const char *label;
	int fds[LP_PKG_MAX_PAYLOADS];
	size_t n_fds;
	uint64_t total;
};

static void progress_draw(struct pack_progress *p)
{
	char done_s[32], total_s[32];
	uint64_t done = 0;

	for (size_t i = 0; i < p->n_fds; i++) {
		off_t off = lseek(p->fds[i], 0, SEEK_CUR);

		if (off > 0)
			done += (uint64_t)off;
	}
	if (done > p->total)
		done = p->total;
	fprintf(stderr, "\r%s: %3u%% %s / %s\033[K", p->label,
		p->total ? (unsigned)(done * 100 / p->total) : 100u,
		pack_size_text(done, done_s, sizeof(done_s)),
		pack_size_text(p->total, total_s, sizeof(total_s)));
	fflush(stderr);
}

/* Redraws every 250 ms until woken. */
static void *progress_main(void *arg)
{
	struct pack_progress *p = arg;
	struct pollfd pfd = { .fd = p->wake[0], .events = POLLIN };

	for (;;) {
		int n;

		progress_draw(p);
		n = poll(&pfd, 1, 250);
		if (n > 0 || (n < 0 && errno != EINTR))
			break;
	}
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	return NULL;
}

int pack_progress_start(const char *label, const int *fds, size_t n_fds, uint64_t total,
			struct pack_progress **ret)
{
	struct pack_progress *p;

	*ret = NULL;
	if (!isatty(STDERR_FILENO) || lp_log_get_level() > LP_LOG_INFO)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->label = label;
	p->n_fds = n_fds < LP_ARRAY_SIZE(p->fds) ? n_fds : LP_ARRAY_SIZE(p->fds);
	memcpy(p->fds, fds, p->n_fds * sizeof(int));
	p->total = total;
	if (pipe2(p->wake, O_CLOEXEC) < 0) {
		free(p);
		return 0; /* no progress is not an error */
	}
	if (pthread_create(&p->thread, NULL, progress_main, p) != 0) {
		close(p->wake[0]);
		close(p->wake[1]);
		free(p);
		return 0;
	}
	*ret = p;
	return 0;
}

void pack_progress_stop(struct pack_progress *p)
{
	if (!p)
		return;
	while (write(p->wake[1], "", 1) < 0 && errno == EINTR)
		;
	pthread_join(p->thread, NULL);
	close(p->wake[0]);
	close(p->wake[1]);
	free(p);
}

int pack_outfile_start(struct pack_outfile *of, const char *path, bool force)
{
	int r = pack_outfile_open(of, path, force, 0644);

	if (r == -EEXIST) {
		log_error("%s exists (use --force to overwrite)", path);
		return lp_exit_from_errno(r);
	}
	return r < 0 ? lp_cli_fail(r, NULL, path) : 0;
}

int pack_signing_key_load(const char *path, struct lp_key **ret)
{
	struct lp_diag diag;
	int r;

	lp_diag_clear(&diag);
	r = lp_key_load_private(path, ret, &diag);
	if (r < 0) {
		lp_diag_set_file(&diag, path);
		lp_cli_fail(r, &diag, "signing key");
		return LP_EXIT_USAGE;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * QEMU as a board. "on" starts the emulator from the inventory's argv with options of
 * our own put first:
 *     -chardev socket,id=lpcon,path=<dir>/console.sock,server=on,wait=off
 *     -serial chardev:lpcon            (the board's first serial port, ttyS0)
 *     -qmp unix:<dir>/qmp.sock,server=on,wait=off
 *     -pidfile <dir>/qemu.pid -daemonize -S -display none -monitor none
 * -nographic is dropped (QEMU refuses it with -daemonize); KVM is refused by the
 * inventory parser. QEMU daemonizes only after its sockets listen, so when "on" returns
 * a console can connect; the CPUs start with QMP "cont" (at once, or after the caller
 * connected its console when LP_HIL_POWER_HOLD is given). The state lives in files, so
 * any later process (CLI "run", "console", "power off") finds the running board.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "power-driver.h"
#include "internal.h"
#include "loopline/fs.h"
#include "loopline/proc.h"
#include "loopline/clock.h"

#define QMP_LINE_MAX (64u * 1024u)
#define QMP_TIMEOUT_MS 5000
#define QEMU_START_TIMEOUT_MS 30000
#define SAVE_TIMEOUT_MS 120000
#define SAVE_BANDWIDTH "10737418240" /* bytes/s: no limit in practice */

struct qemu_state {
	char qmp[PATH_MAX + 16];
	char pidfile[PATH_MAX + 16];
	char log[PATH_MAX + 16];
	char incoming[PATH_MAX + 16]; /* "-incoming" for the start being made ("" : boot) */
};

static int qemu_open(struct lp_hil_power *p, struct lp_diag *diag)
{
	struct qemu_state *q = calloc(1, sizeof(*q));
	char abs_dir[PATH_MAX];
	int r;

	if (!q)
		return -ENOMEM;
	p->drv = q;
	r = lp_fs_mkdir_p(p->dir, 0755);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: cannot create state directory %s: %s",
				    p->board->name, p->dir, strerror(-r));
	if (!realpath(p->dir, abs_dir))
		return -errno;
	if ((size_t)snprintf(q->qmp, sizeof(q->qmp), "%s/qmp.sock", abs_dir) >= 108)
		return lp_diag_fail(diag, -ENAMETOOLONG,
				    "%s: state directory %s is too long for unix socket paths "
				    "(set lab.state_dir to a shorter path)", p->board->name, abs_dir);
	snprintf(q->pidfile, sizeof(q->pidfile), "%s/qemu.pid", abs_dir);
	snprintf(q->log, sizeof(q->log), "%s/qemu.log", abs_dir);
	p->console_path = lp_hil_path_join(abs_dir, "console.sock");
	return p->console_path ? 0 : -ENOMEM;
}

static void qemu_close(struct lp_hil_power *p)
{
	free(p->drv);
	p->drv = NULL;
}

/* The pid from the pidfile, if that process is the QEMU we started (its command line
 * names our QMP socket); 0 otherwise. */
static pid_t running_pid(struct lp_hil_power *p)
{
	struct qemu_state *q = p->drv;
	char *buf = NULL, path[64];
	size_t len;
	long pid;
	char *end;
	bool ours = false;

	if (lp_fs_read_file(q->pidfile, 64, &buf, &len) < 0)
		return 0;
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || pid <= 1 || pid > INT_MAX) {
		free(buf);
		return 0;
	}
	free(buf);
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (lp_fs_read_file(path, 256 * 1024, &buf, &len) == 0) {
		for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
			if (strstr(buf + i, q->qmp))
				ours = true;
		free(buf);
	}
	return ours ? (pid_t)pid : 0;
}

static void cleanup_files(struct lp_hil_power *p)
{
	struct qemu_state *q = p->drv;

	unlink(q->pidfile);
	unlink(q->qmp);
	unlink(p->console_path);
}

/* Reads one line of QMP output within the deadline. */
static int qmp_read_line(int fd, char *buf, size_t cap, size_t *len, uint64_t deadline)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int left;

		if (nl)
			return (int)(nl - buf) + 1;
		if (*len + 1 >= cap)
			return -E2BIG;
		left = lp_clock_ms_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(fd, buf + *len, cap - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		*len += (size_t)n;
	}
}

/* Waits for the reply to the last command: skips events. 0, or -EIO with the QMP error
 * text in diag. For "quit" a closed connection counts as success. */
static int qmp_reply(int fd, char *buf, size_t *len, uint64_t deadline, const char *cmd,
		     cJSON **ret_return, struct lp_diag *diag)
{
	for (;;) {
		int n = qmp_read_line(fd, buf, QMP_LINE_MAX, len, deadline);
		cJSON *j, *ret, *err;

		if (n == -EPIPE && strcmp(cmd, "quit") == 0)
			return 0;
		if (n < 0)
			return lp_diag_fail(diag, n, "QMP %s: %s", cmd, strerror(-n));
		j = cJSON_ParseWithLength(buf, (size_t)n);
		memmove(buf, buf + n, *len - (size_t)n);
		*len -= (size_t)n;
		if (!j)
			return lp_diag_fail(diag, -EPROTO, "QMP %s: unparsable reply", cmd);
		ret = cJSON_GetObjectItemCaseSensitive(j, "return");
		err = cJSON_GetObjectItemCaseSensitive(j, "error");
		if (ret) {
			if (ret_return)
				*ret_return = cJSON_DetachItemViaPointer(j, ret);
			cJSON_Delete(j);
			return 0;
		}
		if (err) {
			cJSON *desc = cJSON_GetObjectItemCaseSensitive(err, "desc");
			int r = lp_diag_fail(diag, -EIO, "QMP %s failed: %s", cmd,
					     cJSON_IsString(desc) ? desc->valuestring : "?");

			cJSON_Delete(j);
			return r;
		}
		cJSON_Delete(j); /* an event or the greeting */
	}
}

/* Connects to QMP, negotiates capabilities and runs one command, with args (a JSON
 * object's text) unless NULL. */
static int qmp_execute(struct lp_hil_power *p, const char *cmd, const char *args,
		       cJSON **ret_return, struct lp_diag *diag)
{
	struct qemu_state *q = p->drv;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = lp_clock_deadline_ms(QMP_TIMEOUT_MS);
	char *buf = NULL, out[PATH_MAX + 256];
	size_t len = 0;
	int fd, r;

	memcpy(sa.sun_path, q->qmp, strlen(q->qmp) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		lp_diag_fail(diag, r, "%s: cannot connect to QMP socket %s: %s", p->board->name,
			     q->qmp, strerror(-r));
		goto out;
	}
	buf = malloc(QMP_LINE_MAX);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	/* greeting, then capabilities negotiation */
	r = qmp_read_line(fd, buf, QMP_LINE_MAX, &len, deadline);
	if (r < 0) {
		lp_diag_fail(diag, r, "%s: no QMP greeting: %s", p->board->name, strerror(-r));
		goto out;
	}
	memmove(buf, buf + r, len - (size_t)r);
	len -= (size_t)r;
	if ((r = lp_hil_write_all(fd, "{\"execute\":\"qmp_capabilities\"}\n", 31, QMP_TIMEOUT_MS)) <
		    0 ||
	    (r = qmp_reply(fd, buf, &len, deadline, "qmp_capabilities", NULL, diag)) < 0)
		goto out;
	if (args)
		snprintf(out, sizeof(out), "{\"execute\":\"%s\",\"arguments\":%s}\n", cmd, args);
	else
		snprintf(out, sizeof(out), "{\"execute\":\"%s\"}\n", cmd);
	if ((r = lp_hil_write_all(fd, out, strlen(out), QMP_TIMEOUT_MS)) < 0)
		goto out;
	r = qmp_reply(fd, buf, &len, deadline, cmd, ret_return, diag);
out:
	free(buf);
	close(fd);
	return r;
}

static int qmp_command(struct lp_hil_power *p, const char *cmd, cJSON **ret_return,
		       struct lp_diag *diag)
{
	return qmp_execute(p, cmd, NULL, ret_return, diag);
}

static int qemu_status(struct lp_hil_power *p, enum lp_hil_power_state *ret,
		       struct lp_diag *diag)
{
	pid_t pid = running_pid(p);

	if (!pid) {
		*ret = LP_HIL_POWER_STATE_OFF;
		return 0;
	}
	*ret = LP_HIL_POWER_STATE_ON;
	return 0;
}

static bool arg_in(char **argv, size_t argc, const char *name)
{
	for (size_t i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

static int read_log_tail(const char *path, char *buf, size_t cap)
{
	char *all = NULL;
	size_t len = 0;

	buf[0] = '\0';
	if (lp_fs_read_file(path, 1024 * 1024, &all, &len) < 0)
		return -1;
	while (len > 0 && (all[len - 1] == '\n' || all[len - 1] == '\r'))
		all[--len] = '\0';
	snprintf(buf, cap, "%s", len + 1 > cap ? all + len + 1 - cap : all);
	free(all);
	return 0;
}

/* The emulator's command line: argv[0], the driver's options, the inventory's argv
 * without -nographic. calloc'd vector of borrowed strings (free() it). */
static const char **qemu_argv(struct lp_hil_power *p, char *chardev, size_t chardev_len,
			      char *qmp, size_t qmp_len)
{
	const struct lp_hil_power_config *cfg = p->cfg;
	struct qemu_state *q = p->drv;
	const char **argv = calloc(cfg->argc + 24, sizeof(*argv));
	size_t n = 0;

	if (!argv)
		return NULL;
	snprintf(chardev, chardev_len, "socket,id=lpcon,path=%s,server=on,wait=off",
		 p->console_path);
	snprintf(qmp, qmp_len, "unix:%s,server=on,wait=off", q->qmp);
	argv[n++] = cfg->argv[0];
	argv[n++] = "-chardev";
	argv[n++] = chardev;
	argv[n++] = "-serial";
	argv[n++] = "chardev:lpcon";
	argv[n++] = "-qmp";
	argv[n++] = qmp;
	argv[n++] = "-pidfile";
	argv[n++] = q->pidfile;
	argv[n++] = "-daemonize";
	argv[n++] = "-S";
	if (!arg_in(cfg->argv, cfg->argc, "-display")) {
		argv[n++] = "-display";
		argv[n++] = "none";
	}
	if (!arg_in(cfg->argv, cfg->argc, "-monitor")) {
		argv[n++] = "-monitor";
		argv[n++] = "none";
	}
	for (size_t i = 1; i < cfg->argc; i++)
		if (strcmp(cfg->argv[i], "-nographic") != 0)
			argv[n++] = cfg->argv[i];
	if (q->incoming[0]) {
		argv[n++] = "-incoming";
		argv[n++] = q->incoming;
	}
	argv[n] = NULL;
	return argv;
}

static int qemu_start(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag)
{
	struct qemu_state *q = p->drv;
	char chardev[PATH_MAX + 128], qmp[PATH_MAX + 64], tail[400];
	struct lp_proc_opts opts = {
		.cwd = p->inv->base_dir, .out = LP_PROC_OUT_FD, .err = LP_PROC_ERR_STDOUT,
	};
	struct lp_proc *proc = NULL;
	const char **argv;
	bool started;
	int r;

	cleanup_files(p);
	argv = qemu_argv(p, chardev, sizeof(chardev), qmp, sizeof(qmp));
	if (!argv)
		return -ENOMEM;
	opts.argv = argv;
	opts.out_fd = open(q->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (opts.out_fd < 0) {
		r = -errno;
		free(argv);
		return lp_diag_fail(diag, r, "%s: %s: %s", p->board->name, q->log, strerror(-r));
	}
	r = lp_proc_spawn(&opts, &proc);
	close(opts.out_fd);
	free(argv);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: cannot start %s: %s", p->board->name,
				    p->cfg->argv[0], strerror(-r));
	/* QEMU's first process exits once the daemon is initialised (sockets listening) */
	r = lp_proc_wait(proc, QEMU_START_TIMEOUT_MS, NULL, NULL);
	started = r == 0 && lp_proc_exit_code(proc) == 0 && running_pid(p);
	lp_proc_free(proc); /* kills the starter if it still runs */
	if (r == -ETIMEDOUT)
		return lp_diag_fail(diag, r, "%s: QEMU did not start within %u ms", p->board->name,
				    QEMU_START_TIMEOUT_MS);
	if (!started) {
		read_log_tail(q->log, tail, sizeof(tail));
		cleanup_files(p);
		return lp_diag_fail(diag, -EIO, "%s: QEMU failed to start: %s", p->board->name,
				    tail[0] ? tail : "(no output)");
	}
	if (!(flags & LP_HIL_POWER_HOLD)) {
		r = qmp_command(p, "cont", NULL, diag);
		if (r < 0)
			return r;
	}
	return 0;
}

static int qemu_on(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag)
{
	if (running_pid(p))
		return 0; /* already on (and running unless someone held it) */
	return qemu_start(p, flags, diag);
}

/* Stops QEMU: politely (QMP quit, up to the driver's timeout) unless cut, then SIGKILL. */
static int qemu_stop(struct lp_hil_power *p, bool cut, struct lp_diag *diag)
{
	pid_t pid = running_pid(p);

	if (pid && (cut || qmp_command(p, "quit", NULL, NULL) < 0 ||
		    lp_hil_pid_wait_gone(pid, p->cfg->timeout_ms) < 0)) {
		kill(pid, SIGKILL);
		if (lp_hil_pid_wait_gone(pid, 5000) < 0)
			return lp_diag_fail(diag, -ETIMEDOUT, "%s: QEMU pid %ld does not exit",
					    p->board->name, (long)pid);
	}
	cleanup_files(p);
	return 0;
}

static int qemu_off(struct lp_hil_power *p, struct lp_diag *diag)
{
	return qemu_stop(p, false, diag);
}

/* A power cut: SIGKILL at once, so what QEMU had not yet written is lost. */
static int qemu_cut(struct lp_hil_power *p, struct lp_diag *diag)
{
	return qemu_stop(p, true, diag);
}

static int qemu_cycle(struct lp_hil_power *p, struct lp_diag *diag)
{
	int r;

	if (p->cfg->qemu_cycle == LP_HIL_QEMU_CYCLE_RESET && running_pid(p)) {
		r = qmp_command(p, "system_reset", NULL, diag);
		if (r < 0)
			return r;
		/* a board held at power-on also runs after a reset */
		return qmp_command(p, "cont", NULL, diag);
	}
	r = qemu_off(p, diag);
	if (r < 0)
		return r;
	return qemu_start(p, 0, diag);
}

static int qemu_resume(struct lp_hil_power *p, struct lp_diag *diag)
{
	if (!running_pid(p))
		return lp_diag_fail(diag, -ESRCH, "%s: QEMU is not running", p->board->name);
	return qmp_command(p, "cont", NULL, diag);
}

/* QEMU runs "exec:" migration commands with /bin/sh -c: a state file's path is taken
 * only when it needs no quoting. */
static int state_path_ok(struct lp_hil_power *p, const char *file, struct lp_diag *diag)
{
	size_t n = strlen(file);

	if (n == 0 || n >= PATH_MAX || file[0] != '/' ||
	    strspn(file, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-") != n)
		return lp_diag_fail(diag, -EINVAL, "%s: state file '%s' must be an absolute path "
				    "of A-Z a-z 0-9 / . _ + -", p->board->name, file);
	return 0;
}

/* Waits until the migration to the state file completed (or failed). */
static int save_wait(struct lp_hil_power *p, const char *file, struct lp_diag *diag)
{
	uint64_t deadline = lp_clock_deadline_ms(SAVE_TIMEOUT_MS);

	for (;;) {
		cJSON *ret = NULL;
		const char *st;
		int r = qmp_command(p, "query-migrate", &ret, diag);

		if (r < 0)
			return r;
		st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ret, "status"));
		if (st && strcmp(st, "completed") == 0) {
			cJSON_Delete(ret);
			return 0;
		}
		if (st && (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0)) {
			const char *why = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(ret, "error-desc"));

			r = lp_diag_fail(diag, -EIO, "%s: saving the state to %s %s: %s",
					 p->board->name, file, st, why ? why : "(no reason given)");
			cJSON_Delete(ret);
			return r;
		}
		cJSON_Delete(ret);
		if (lp_clock_ms_left(deadline) == 0)
			return lp_diag_fail(diag, -ETIMEDOUT, "%s: saving the state to %s took over "
					    "%u s", p->board->name, file, SAVE_TIMEOUT_MS / 1000);
		lp_clock_sleep_ms(20);
	}
}

/* Stops the CPUs, then migrates the machine into the file (QEMU writes it through
 * `cat`); without a bandwidth limit, a mostly idle 256 MiB guest takes well under a
 * second. The board stays paused. */
static int qemu_save(struct lp_hil_power *p, const char *file, struct lp_diag *diag)
{
	char args[PATH_MAX + 64];
	int r;

	if ((r = state_path_ok(p, file, diag)) < 0)
		return r;
	if (!running_pid(p))
		return lp_diag_fail(diag, -ESRCH, "%s: QEMU is not running", p->board->name);
	unlink(file);
	snprintf(args, sizeof(args), "{\"uri\":\"exec:cat > %s\"}", file);
	if ((r = qmp_command(p, "stop", NULL, diag)) < 0 ||
	    (r = qmp_execute(p, "migrate-set-parameters", "{\"max-bandwidth\":" SAVE_BANDWIDTH "}",
			     NULL, diag)) < 0 ||
	    (r = qmp_execute(p, "migrate", args, NULL, diag)) < 0)
		return r;
	return save_wait(p, file, diag);
}

/* Waits until QEMU loaded the state: it then stands paused (the state was saved from a
 * stopped machine, so no "cont" given while it loads would start it). QEMU exits when
 * the file is bad. */
static int restore_wait(struct lp_hil_power *p, const char *file, struct lp_diag *diag)
{
	struct qemu_state *q = p->drv;
	uint64_t deadline = lp_clock_deadline_ms(SAVE_TIMEOUT_MS);
	char tail[400];

	for (;;) {
		cJSON *ret = NULL;
		const char *st;
		bool loading;

		if (!running_pid(p) || qmp_command(p, "query-status", &ret, NULL) < 0) {
			cJSON_Delete(ret);
			lp_clock_sleep_ms(100); /* QEMU writes its last words before it goes */
			read_log_tail(q->log, tail, sizeof(tail));
			qemu_stop(p, true, NULL);
			return lp_diag_fail(diag, -EIO, "%s: QEMU could not restore %s: %s",
					    p->board->name, file, tail[0] ? tail :
					    "it exited while loading (not a state saved from this "
					    "board's argv?)");
		}
		st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ret, "status"));
		loading = st && strcmp(st, "inmigrate") == 0;
		cJSON_Delete(ret);
		if (!loading)
			return 0;
		if (lp_clock_ms_left(deadline) == 0) {
			qemu_stop(p, true, NULL);
			return lp_diag_fail(diag, -ETIMEDOUT, "%s: restoring %s took over %u s",
					    p->board->name, file, SAVE_TIMEOUT_MS / 1000);
		}
		lp_clock_sleep_ms(20);
	}
}

/* Starts QEMU held with "-incoming exec:cat FILE", waits until the state is loaded, and
 * lets it run unless the caller holds it. */
static int qemu_restore(struct lp_hil_power *p, const char *file, unsigned flags,
			struct lp_diag *diag)
{
	struct qemu_state *q = p->drv;
	int r;

	if ((r = state_path_ok(p, file, diag)) < 0)
		return r;
	if (access(file, R_OK) < 0)
		return lp_diag_fail(diag, -errno, "%s: state file %s: %s", p->board->name, file,
				    strerror(errno));
	if (running_pid(p))
		return lp_diag_fail(diag, -EBUSY, "%s: is on; power it off before a restore",
				    p->board->name);
	snprintf(q->incoming, sizeof(q->incoming), "exec:cat %s", file);
	r = qemu_start(p, LP_HIL_POWER_HOLD, diag);
	q->incoming[0] = '\0';
	if (r < 0 || (r = restore_wait(p, file, diag)) < 0)
		return r;
	return flags & LP_HIL_POWER_HOLD ? 0 : qmp_command(p, "cont", NULL, diag);
}

const struct lp_hil_power_ops lp_hil_power_qemu_ops = {
	.name = "qemu",
	.open = qemu_open,
	.close = qemu_close,
	.on = qemu_on,
	.off = qemu_off,
	.cycle = qemu_cycle,
	.status = qemu_status,
	.resume = qemu_resume,
	.cut = qemu_cut,
	.save = qemu_save,
	.restore = qemu_restore,
};

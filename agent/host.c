/* SPDX-License-Identifier: MIT */
/* Facts and hooks from the host: the boot id, the data directory lock, the crash test
 * point. (File helpers are libloopline's lp_fs_*.) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/fs.h"

#define BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"

int agent_boot_id(char *buf, size_t len)
{
	const char *env = getenv("LOOPLINE_AGENT_BOOT_ID");
	char *text = NULL;
	int r;

	if (env && env[0]) {
		if (snprintf(buf, len, "%s", env) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	r = lp_fs_read_file(BOOT_ID_FILE, 128, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	r = snprintf(buf, len, "%s", text) >= (int)len ? -ENAMETOOLONG : 0;
	free(text);
	return r;
}

void agent_test_point(const char *point)
{
	const char *want = getenv("LOOPLINE_AGENT_CRASH_AT");

	if (want && strcmp(want, point) == 0) {
		/* Stand-in for a power cut: nothing after this point runs. */
		raise(SIGKILL);
	}
}

int agent_lock(const char *data_dir, bool wait, int *ret_fd, struct lp_diag *diag)
{
	char path[4096];
	int fd, r;

	r = lp_fs_mkdir_p(data_dir, 0755);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: %s", data_dir, strerror(-r));
	r = lp_fs_path_join(path, sizeof(path), data_dir, "lock");
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: path too long", data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR && wait)
			continue;
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		if (r == -EBUSY)
			return lp_diag_fail(diag, r, "another loopline-agent is working on %s; try again later",
					    data_dir);
		return lp_diag_fail(diag, r, "%s: cannot take the lock: %s", path, strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

void agent_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

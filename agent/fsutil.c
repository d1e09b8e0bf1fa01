/* SPDX-License-Identifier: MIT */
/* Durable file writes and bounded reads for the state file and the outbox. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "loopline/io.h"

int agent_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int agent_fsync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int agent_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096], dir[4096];
	char *slash;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = lp_io_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return agent_fsync_dir(dir);
}

int agent_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = lp_io_read_full(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	got = (size_t)n;
	if (got == (size_t)st.st_size) {
		/* The file may have grown; one more byte tells. */
		char extra;

		if (lp_io_read(fd, &extra, 1) > 0) {
			r = -EFBIG;
			goto out;
		}
	}
	buf[got] = '\0';
	*ret_buf = buf;
	if (ret_len)
		*ret_len = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int agent_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

int agent_boot_id(char *buf, size_t len)
{
	const char *env = getenv("LOOPLINE_AGENT_BOOT_ID");
	char line[128];
	FILE *f;

	if (env && env[0]) {
		if (snprintf(buf, len, "%s", env) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	/* procfs reports size 0, so read it as a stream. */
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (snprintf(buf, len, "%s", line) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

void agent_test_point(const char *point)
{
	const char *want = getenv("LOOPLINE_AGENT_CRASH_AT");

	if (want && strcmp(want, point) == 0) {
		/* Stand-in for a power cut: nothing after this point runs. */
		raise(SIGKILL);
	}
}

int agent_lock(const char *data_dir, bool wait, int *ret_fd)
{
	char path[4096];
	int fd, r;

	r = agent_mkdir_p(data_dir, 0755);
	if (r < 0)
		return r;
	r = agent_path_join(path, sizeof(path), data_dir, "lock");
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR && wait)
			continue;
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

void agent_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

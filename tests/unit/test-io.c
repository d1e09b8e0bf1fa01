/* SPDX-License-Identifier: MIT */
/*
 * The fd I/O loops: read-full over a pipe that delivers in pieces and ends early,
 * write-all of more than a pipe holds (short writes, drained by a child), errors as
 * -errno, positional writes, the tar-shaped callbacks, and unix socket connects (nobody
 * listening, a path too long for sun_path, a listener).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/io.h"

static void test_read_full_pieces(void **state)
{
	int p[2];
	char buf[16];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	assert_int_equal(write(p[1], "defg", 4), 4);
	/* Only 7 bytes are there yet: a single read returns what is available. */
	assert_int_equal(lp_io_read(p[0], buf, 2), 2);
	assert_memory_equal(buf, "ab", 2);
	close(p[1]);
	/* read-full stops at the end of input: 5 of the 16 asked for. */
	assert_int_equal(lp_io_read_full(p[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "cdefg", 5);
	assert_int_equal(lp_io_read_full(p[0], buf, sizeof(buf)), 0);
	assert_int_equal(lp_io_read(p[0], buf, 1), 0);
	close(p[0]);
}

static void test_write_all_large(void **state)
{
	const size_t size = 1024 * 1024; /* more than a pipe buffer holds */
	uint8_t *data = malloc(size), *back = malloc(size);
	int p[2], status;
	pid_t pid;

	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 13 + (i >> 11));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(lp_io_fd_write(&p[1], data, size) == 0 ? 0 : 1);
	}
	close(p[1]);
	{
		size_t got = 0;
		ssize_t n;

		/* The tar-shaped read callback, until the end of input. */
		while ((n = lp_io_fd_read(&p[0], back + got, size - got + 1)) > 0)
			got += (size_t)n;
		assert_int_equal(n, 0);
		assert_int_equal(got, size);
	}
	assert_memory_equal(back, data, size);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	free(data);
	free(back);
}

static void test_pwrite_all(void **state)
{
	char path[] = "/tmp/test-io-XXXXXX";
	char buf[16] = { 0 };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(lp_io_write_all(fd, "0123456789", 10), 0);
	assert_int_equal(lp_io_pwrite_all(fd, "abc", 3, 4), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 10); /* the file offset did not move */
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 10);
	assert_string_equal(buf, "0123abc789");
	assert_int_equal(lp_io_pwrite_all(-1, "a", 1, 0), -EBADF);
	assert_int_equal(lp_io_pwrite_all(fd, "a", 1, -1), -EINVAL);
	close(fd);
}

static void test_errors(void **state)
{
	int p[2];
	char c = 'x';

	assert_int_equal(lp_io_read(-1, &c, 1), -EBADF);
	assert_int_equal(lp_io_read_full(-1, &c, 1), -EBADF);
	assert_int_equal(lp_io_write_all(-1, &c, 1), -EBADF);
	/* Writing to a pipe nobody reads: -EPIPE (SIGPIPE ignored for the test). */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(lp_io_write_all(p[1], &c, 1), -EPIPE);
	close(p[1]);
	/* Nothing to write is success without a syscall. */
	assert_int_equal(lp_io_write_all(-1, &c, 0), 0);
}

static void test_unix_connect(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/lp-io-XXXXXX", path[LP_IO_UNIX_PATH_MAX + 2];
	int l, c, a;
	char x = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	assert_int_equal(lp_io_unix_connect(path, false), -ENOENT);
	/* 107 bytes fit in sun_path with its NUL, 108 do not */
	memset(sa.sun_path, 'a', LP_IO_UNIX_PATH_MAX + 1);
	sa.sun_path[0] = '/';
	memcpy(path, sa.sun_path, LP_IO_UNIX_PATH_MAX + 1);
	path[LP_IO_UNIX_PATH_MAX + 1] = '\0';
	assert_int_equal(lp_io_unix_connect(path, false), -ENAMETOOLONG);
	path[LP_IO_UNIX_PATH_MAX] = '\0';
	assert_int_equal(lp_io_unix_connect(path, false), -ENOENT);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	c = lp_io_unix_connect(sa.sun_path, true);
	assert_true(c >= 0);
	assert_true(fcntl(c, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(read(c, &x, 1), -1); /* nonblocking: nothing to read yet */
	assert_int_equal(errno, EAGAIN);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(a, "y", 1), 1);
	assert_int_equal(read(c, &x, 1), 1);
	assert_int_equal(x, 'y');
	close(a);
	close(c);
	close(l);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_full_pieces),
		cmocka_unit_test(test_write_all_large),
		cmocka_unit_test(test_pwrite_all),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unix_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

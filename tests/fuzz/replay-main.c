/* SPDX-License-Identifier: MIT */
/*
 * Replays a fuzz target's corpus as a normal test: every file given (or every file in a
 * directory given) is fed once to LLVMFuzzerTestOneInput. Crashes and sanitizer reports
 * fail the test; a missing or empty corpus fails too, so a corpus cannot silently vanish.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define REPLAY_MAX_INPUT (16u * 1024 * 1024)

static int replay_file(const char *path)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((size_t)st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "%s: larger than %u bytes\n", path, REPLAY_MAX_INPUT);
		close(fd);
		return -1;
	}
	/* An exact-size heap buffer so ASan sees reads past the end. */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			struct dirent **list;
			int n = scandir(argv[i], &list, NULL, alphasort);

			if (n < 0) {
				fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
				return 1;
			}
			for (int j = 0; j < n; j++) {
				char path[4096];

				if (list[j]->d_name[0] != '.') {
					snprintf(path, sizeof(path), "%s/%s", argv[i], list[j]->d_name);
					if (replay_file(path) < 0)
						failed = 1;
					else
						count++;
				}
				free(list[j]);
			}
			free(list);
		} else {
			if (replay_file(argv[i]) < 0)
				failed = 1;
			else
				count++;
		}
	}
	if (count == 0) {
		fprintf(stderr, "no corpus inputs replayed\n");
		return 1;
	}
	printf("replayed %u inputs\n", count);
	return failed;
}

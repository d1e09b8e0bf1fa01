/* SPDX-License-Identifier: MIT */
/* Input adapter: a plain file (ext4/squashfs/wic/raw image or tarball) is used as is. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/log.h"
#include "pack.h"

/* What the first bytes say, for the log line only (any file may be a payload). */
static const char *guess_kind(const char *path)
{
	unsigned char b[1088];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return "file";
	n = pread(fd, b, sizeof(b), 0);
	close(fd);
	if (n >= 4 && memcmp(b, "hsqs", 4) == 0)
		return "squashfs image";
	if (n >= 1082 && b[1080] == 0x53 && b[1081] == 0xef)
		return "ext2/3/4 image";
	if (n >= 520 && memcmp(b + 512, "EFI PART", 8) == 0)
		return "disk image (GPT)";
	if (n >= 262 && memcmp(b + 257, "ustar", 5) == 0)
		return "tarball";
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return "gzip file";
	if (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0)
		return "zstd file";
	if (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
		return "xz file";
	if (n >= 512 && b[510] == 0x55 && b[511] == 0xaa)
		return "disk image (MBR)";
	return "raw file";
}

static int file_resolve(const char *path, const struct pack_select *sel, char **ret_path,
			struct lp_diag *diag)
{
	struct stat st;
	char *real;

	real = realpath(path, NULL);
	if (!real)
		return lp_diag_fail(diag, -errno, "source %s: %s", path, strerror(errno));
	if (stat(real, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		free(real);
		return lp_diag_fail(diag, -EINVAL, "source %s: not a regular file or block device",
				    path);
	}
	if (sel && (sel->image_name || sel->fstype))
		log_debug("%s: a plain file; image name and fstype do not apply", path);
	log_info("source %s: %s", path, guess_kind(real));
	*ret_path = real;
	return 0;
}

static bool file_detect(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

const struct pack_adapter pack_adapter_file = {
	.name = "file",
	.detect = file_detect,
	.resolve = file_resolve,
};

/* SPDX-License-Identifier: MIT */
/*
 * File system helpers written once: bounded whole-file reads, durable atomic replacement,
 * directory fsync, mkdir -p and path joining. Errors are negative errno values; nothing
 * here logs.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "loopline/common.h"
#include "loopline/diag.h"

/*
 * Reads a whole file (regular file, pipe or procfs entry) of at most max bytes into a
 * malloc'd buffer with a NUL after the data (caller frees *ret_buf). ret_len may be NULL.
 * -EFBIG if the file holds more than max bytes; -EISDIR for a directory. On failure the
 * outputs are untouched.
 */
LP_EXPORT int lp_fs_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* lp_fs_read_file that also explains a failure in diag (file name set, "cannot open:
 * …", "larger than N bytes"), for parsers of files users write. */
LP_EXPORT int lp_fs_read_file_diag(const char *path, size_t max, char **ret_buf, size_t *ret_len,
				   struct lp_diag *diag);
/* The same from an open descriptor (read from its current offset to the end). */
LP_EXPORT int lp_fs_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len);

enum lp_fs_write_flags {
	LP_FS_NOREPLACE = 1 << 0, /* fail with -EEXIST rather than replace an existing path */
};

/*
 * Replaces path with data so that a reader (or the next boot after a power cut) sees the
 * old or the new content, never a mix: a unique temporary file "path.tmp-XXXXXX" in the
 * same directory is written and fsynced, renamed over path, then the directory is
 * fsynced. Concurrent writers of one path do not disturb each other (the last rename
 * wins). On failure the temporary file is removed and path is untouched; a process
 * killed in between leaves at most its temporary file behind.
 */
LP_EXPORT int lp_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				 unsigned flags);

/* fsync(2) of a directory, so a rename or a new entry in it survives a power cut. */
LP_EXPORT int lp_fs_fsync_dir(const char *dir);
/* fsync of the directory that holds path ("." for a bare name). */
LP_EXPORT int lp_fs_fsync_parent(const char *path);

/* mkdir -p: creates every missing component with mode (existing ones are left as they
 * are). -ENOTDIR if a component exists and is not a directory. */
LP_EXPORT int lp_fs_mkdir_p(const char *path, mode_t mode);

/* "dir/name" into buf; -ENAMETOOLONG if it does not fit. */
LP_EXPORT int lp_fs_path_join(char *buf, size_t len, const char *dir, const char *name);
/* The directory part of path into buf ("." when there is none, "/" for "/x"). */
LP_EXPORT int lp_fs_dirname(char *buf, size_t len, const char *path);

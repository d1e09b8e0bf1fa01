/* SPDX-License-Identifier: MIT */
/*
 * The member-name rules of loopline/tar.h, written once for both sides: the writer
 * (lib/tar.c) refuses a bad or repeated name it is given, the native reader
 * (lib/tar-read.c) one it finds in an archive. They live in a file of their own so that a
 * program that only reads packages links no writer code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tar-internal.h"

int lp_tar_name_check(const char *name, struct lp_diag *diag)
{
	size_t len = strlen(name), comp = 0;

	if (len == 0)
		return lp_diag_fail(diag, -EINVAL, "tar: member with an empty name");
	if (len > LP_TAR_NAME_MAX)
		return lp_diag_fail(diag, -EINVAL, "tar: member name of %zu bytes (limit %d): %.64s…",
				    len, LP_TAR_NAME_MAX, name);
	if (name[0] == '/')
		return lp_diag_fail(diag, -EINVAL, "tar: member %s: absolute name", name);
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == '\0') {
			if (comp == 0)
				return lp_diag_fail(diag, -EINVAL,
						    "tar: member %s: empty path component", name);
			if (comp == 1 && name[i - 1] == '.')
				return lp_diag_fail(diag, -EINVAL, "tar: member %s: '.' component",
						    name);
			if (comp == 2 && name[i - 1] == '.' && name[i - 2] == '.')
				return lp_diag_fail(diag, -EINVAL,
						    "tar: member %s: '..' component (path traversal)",
						    name);
			comp = 0;
		} else if (c < 0x20 || c == 0x7f) {
			return lp_diag_fail(diag, -EINVAL,
					    "tar: member name with control character 0x%02x", c);
		} else {
			comp++;
		}
	}
	return 0;
}

int tar_names_add(struct tar_names *s, const char *name)
{
	char **names;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return -EEXIST;
	if (s->n >= LP_TAR_MAX_ENTRIES)
		return -E2BIG;
	if (s->n % 16 == 0) {
		names = realloc(s->names, (s->n + 16) * sizeof(*names));
		if (!names)
			return -ENOMEM;
		s->names = names;
	}
	s->names[s->n] = strdup(name);
	if (!s->names[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

void tar_names_clear(struct tar_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}

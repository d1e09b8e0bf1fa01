/* SPDX-License-Identifier: MIT */
/*
 * GRUB's environment block (`grubenv`, what grub-editenv, load_env and save_env use):
 * exactly 1024 bytes, the header "# GRUB Environment Block\n", then "name=value\n" lines
 * where a backslash escapes the next byte (values write '\\' and newline as "\\\\" and
 * "\\\n"), then '#' padding to the end. Lines starting with '#' are comments.
 * Written whole: temporary file, fsync, rename, fsync of the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootenv-internal.h"

#define GRUB_HEADER "# GRUB Environment Block\n"
#define GRUB_HEADER_LEN (sizeof(GRUB_HEADER) - 1)

struct grub_impl {
	char *path; /* NULL when decoded from memory */
	mode_t mode;
};

static size_t escaped_len(const char *value)
{
	size_t n = 0;

	for (const char *p = value; *p; p++)
		n += (*p == '\\' || *p == '\n') ? 2 : 1;
	return n;
}

static size_t grub_entry_size(const char *name, const char *value)
{
	return strlen(name) + 1 + escaped_len(value) + 1;
}

static int grub_check_name(const char *name)
{
	/* A line starting with '#' is a comment to GRUB. */
	return name[0] == '#' ? -EINVAL : 0;
}

static int grub_commit(struct lp_bootenv *env, struct lp_diag *diag);

static void grub_free_impl(void *impl)
{
	struct grub_impl *g = impl;

	if (g) {
		free(g->path);
		free(g);
	}
}

static const struct lp_bootenv_ops grub_ops = {
	.kind = LP_BOOTENV_GRUB,
	.entry_size = grub_entry_size,
	.check_name = grub_check_name,
	.commit = grub_commit,
	.free_impl = grub_free_impl,
};

static int grub_new(const char *path, struct lp_bootenv **ret_env)
{
	struct grub_impl *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->mode = 0644;
	if (path) {
		g->path = strdup(path);
		if (!g->path) {
			free(g);
			return -ENOMEM;
		}
	}
	r = bootenv_new(&grub_ops, g, LP_BOOTENV_GRUB_SIZE - GRUB_HEADER_LEN, ret_env);
	if (r < 0)
		grub_free_impl(g);
	return r;
}

/* Parses the lines after the header. */
static int parse_block(struct lp_bootenv *env, const uint8_t *buf, size_t len, const char *name,
		       struct lp_diag *diag)
{
	char value[LP_BOOTENV_VALUE_MAX];
	size_t pos = GRUB_HEADER_LEN;
	int r;

	while (pos < len) {
		size_t start = pos, name_len, vlen = 0;
		const uint8_t *nl;

		if (buf[pos] == '#') {
			nl = memchr(buf + pos, '\n', len - pos);
			if (nl) {
				pos = (size_t)(nl - buf) + 1;
				continue;
			}
			/* The padding runs to the end of the block. */
			for (; pos < len; pos++)
				if (buf[pos] != '#')
					return lp_diag_fail(diag, -EBADMSG,
							    "%s: byte 0x%02x at offset %zu in the '#' "
							    "padding", name, buf[pos], pos);
			return 0;
		}
		while (pos < len && buf[pos] != '=' && buf[pos] != '\n' && buf[pos] != '\0')
			pos++;
		if (pos == len || buf[pos] != '=')
			return lp_diag_fail(diag, -EBADMSG, "%s: line at offset %zu has no '='",
					    name, start);
		name_len = pos - start;
		if (name_len == 0)
			return lp_diag_fail(diag, -EBADMSG, "%s: line at offset %zu has an empty name",
					    name, start);
		if (name_len > LP_BOOTENV_NAME_MAX)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: line at offset %zu: name longer than %d bytes", name,
					    start, LP_BOOTENV_NAME_MAX);
		pos++;
		for (;;) {
			uint8_t c;

			if (pos >= len)
				return lp_diag_fail(diag, -EBADMSG,
						    "%s: line at offset %zu does not end with a "
						    "newline", name, start);
			c = buf[pos++];
			if (c == '\n')
				break;
			if (c == '\\') {
				if (pos >= len)
					return lp_diag_fail(diag, -EBADMSG,
							    "%s: line at offset %zu ends in a "
							    "backslash", name, start);
				c = buf[pos++];
			}
			if (c == '\0')
				return lp_diag_fail(diag, -EBADMSG, "%s: NUL byte at offset %zu",
						    name, pos - 1);
			if (vlen == sizeof(value))
				return lp_diag_fail(diag, -EBADMSG,
						    "%s: line at offset %zu: value longer than %d "
						    "bytes", name, start, LP_BOOTENV_VALUE_MAX);
			value[vlen++] = (char)c;
		}
		r = bootenv_load_var(env, (const char *)buf + start, name_len, value, vlen);
		if (r == -EEXIST)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: variable \"%.*s\" appears twice (offset %zu)", name,
					    (int)name_len, (const char *)buf + start, start);
		if (r == -E2BIG)
			return lp_diag_fail(diag, -EBADMSG, "%s: more than %d variables", name,
					    LP_BOOTENV_VARS_MAX);
		if (r < 0)
			return lp_diag_fail(diag, r, "%s: %s", name, strerror(-r));
	}
	return 0;
}

/* Decodes into a fresh env (its impl already set up). Returns -EBADMSG for a block that is
 * not a grubenv at all (size, header), which LP_BOOTENV_OPEN_DEFAULTS may replace. */
static int decode_into(struct lp_bootenv *env, const uint8_t *buf, size_t len, unsigned flags,
		       const char *name, struct lp_diag *diag)
{
	if (len != LP_BOOTENV_GRUB_SIZE || memcmp(buf, GRUB_HEADER, GRUB_HEADER_LEN) != 0) {
		if (flags & LP_BOOTENV_OPEN_DEFAULTS) {
			env->from_defaults = true;
			return 0;
		}
		if (len != LP_BOOTENV_GRUB_SIZE)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: a grubenv block is exactly %u bytes, found %zu%s", name,
					    LP_BOOTENV_GRUB_SIZE, len, len > LP_BOOTENV_GRUB_SIZE ? "+" : "");
		return lp_diag_fail(diag, -EBADMSG,
				    "%s: no \"# GRUB Environment Block\" header", name);
	}
	return parse_block(env, buf, len, name, diag);
}

int bootenv_grub_decode(const uint8_t *buf, size_t len, unsigned flags,
			struct lp_bootenv **ret_env, struct lp_diag *diag)
{
	struct lp_bootenv *env;
	int r;

	r = grub_new(NULL, &env);
	if (r < 0)
		return r;
	r = decode_into(env, buf, len, flags, "grubenv", diag);
	if (r < 0) {
		lp_bootenv_free(env);
		return r;
	}
	*ret_env = env;
	return 0;
}

int lp_bootenv_open_grub(const char *path, unsigned flags, struct lp_bootenv **ret_env,
			 struct lp_diag *diag)
{
	uint8_t buf[LP_BOOTENV_GRUB_SIZE + 1];
	struct lp_bootenv *env = NULL;
	struct grub_impl *g;
	struct stat st;
	size_t got = 0;
	int fd = -1, r;

	if (!path)
		return lp_diag_fail(diag, -EINVAL, "no grubenv path");
	r = grub_new(path, &env);
	if (r < 0)
		return r;
	g = env->impl;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && (flags & LP_BOOTENV_OPEN_DEFAULTS)) {
			env->from_defaults = true;
			*ret_env = env;
			return 0;
		}
		lp_diag_fail(diag, r, "%s: %s", path, strerror(-r));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = lp_diag_fail(diag, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = lp_diag_fail(diag, -EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	g->mode = st.st_mode & 07777;
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = lp_diag_fail(diag, -errno, "%s: reading: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	fd = -1;
	r = decode_into(env, buf, got, flags, path, diag);
	if (r < 0)
		goto fail;
	*ret_env = env;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	lp_bootenv_free(env);
	return r;
}

static int grub_commit(struct lp_bootenv *env, struct lp_diag *diag)
{
	struct grub_impl *g = env->impl;
	uint8_t buf[LP_BOOTENV_GRUB_SIZE];
	size_t pos = GRUB_HEADER_LEN;
	char *real;
	int r;

	if (!g->path)
		return lp_diag_fail(diag, -EBADF, "environment was not read from a file");
	memcpy(buf, GRUB_HEADER, GRUB_HEADER_LEN);
	for (size_t i = 0; i < env->n_vars; i++) {
		const char *name = env->vars[i].name, *value = env->vars[i].value;
		size_t nl = strlen(name);

		if (grub_entry_size(name, value) > sizeof(buf) - pos)
			return lp_diag_fail(diag, -ENOSPC, "variables do not fit %u bytes",
					    LP_BOOTENV_GRUB_SIZE);
		memcpy(buf + pos, name, nl);
		pos += nl;
		buf[pos++] = '=';
		for (const char *p = value; *p; p++) {
			if (*p == '\\' || *p == '\n')
				buf[pos++] = '\\';
			buf[pos++] = (uint8_t)*p;
		}
		buf[pos++] = '\n';
	}
	memset(buf + pos, '#', sizeof(buf) - pos);

	/* Replace the file a symlink points at, not the link. */
	real = realpath(g->path, NULL);
	if (!real && errno != ENOENT)
		return lp_diag_fail(diag, -errno, "%s: %s", g->path, strerror(errno));
	r = bootenv_replace_file(env, real ? real : g->path, buf, sizeof(buf), g->mode, diag);
	free(real);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * The bootenv interface: the variable store shared by every format, typed helpers for the
 * update flow's variables, and the I/O helpers (with the power-cut simulation the tests
 * use) the formats write through.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootenv-internal.h"
#include "loopline/io.h"
#include "loopline/fs.h"

int lp_bootenv_kind_parse(const char *s, enum lp_bootenv_kind *ret_kind)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "uboot") == 0)
		*ret_kind = LP_BOOTENV_UBOOT;
	else if (strcmp(s, "grub") == 0)
		*ret_kind = LP_BOOTENV_GRUB;
	else
		return -EINVAL;
	return 0;
}

const char *lp_bootenv_kind_name(enum lp_bootenv_kind kind)
{
	switch (kind) {
	case LP_BOOTENV_UBOOT:
		return "uboot";
	case LP_BOOTENV_GRUB:
		return "grub";
	}
	return "unknown";
}

int bootenv_new(const struct lp_bootenv_ops *ops, void *impl, size_t capacity,
		struct lp_bootenv **ret_env)
{
	struct lp_bootenv *env = calloc(1, sizeof(*env));

	if (!env)
		return -ENOMEM;
	env->ops = ops;
	env->impl = impl;
	env->capacity = capacity;
	env->lock_fd = -1;
	*ret_env = env;
	return 0;
}

void bootenv_clear_vars(struct lp_bootenv *env)
{
	for (size_t i = 0; i < env->n_vars; i++) {
		free(env->vars[i].name);
		free(env->vars[i].value);
	}
	free(env->vars);
	env->vars = NULL;
	env->n_vars = 0;
	env->cap_vars = 0;
}

void lp_bootenv_free(struct lp_bootenv *env)
{
	if (!env)
		return;
	bootenv_clear_vars(env);
	if (env->ops && env->ops->free_impl)
		env->ops->free_impl(env->impl);
	if (env->lock_fd >= 0)
		close(env->lock_fd); /* releases the flock */
	free(env);
}

enum lp_bootenv_kind lp_bootenv_kind(const struct lp_bootenv *env)
{
	return env->ops->kind;
}

bool lp_bootenv_from_defaults(const struct lp_bootenv *env)
{
	return env->from_defaults;
}

bool lp_bootenv_dirty(const struct lp_bootenv *env)
{
	return env->dirty;
}

static ssize_t find_var(const struct lp_bootenv *env, const char *name)
{
	for (size_t i = 0; i < env->n_vars; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static int grow_vars(struct lp_bootenv *env)
{
	struct bootenv_var *v;
	size_t cap;

	if (env->n_vars < env->cap_vars)
		return 0;
	if (env->n_vars >= LP_BOOTENV_VARS_MAX)
		return -E2BIG;
	cap = env->cap_vars ? env->cap_vars * 2 : 16;
	if (cap > LP_BOOTENV_VARS_MAX)
		cap = LP_BOOTENV_VARS_MAX;
	v = reallocarray(env->vars, cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	env->vars = v;
	env->cap_vars = cap;
	return 0;
}

int bootenv_load_var(struct lp_bootenv *env, const char *name, size_t name_len,
		     const char *value, size_t value_len)
{
	char *n, *v;
	int r;

	if (name_len == 0 || name_len > LP_BOOTENV_NAME_MAX || value_len > LP_BOOTENV_VALUE_MAX)
		return -EINVAL;
	n = strndup(name, name_len);
	v = strndup(value, value_len);
	if (!n || !v) {
		r = -ENOMEM;
		goto fail;
	}
	if (find_var(env, n) >= 0) {
		r = -EEXIST;
		goto fail;
	}
	r = grow_vars(env);
	if (r < 0)
		goto fail;
	env->vars[env->n_vars].name = n;
	env->vars[env->n_vars].value = v;
	env->n_vars++;
	return 0;
fail:
	free(n);
	free(v);
	return r;
}

const char *lp_bootenv_get(const struct lp_bootenv *env, const char *name)
{
	ssize_t i;

	if (!name)
		return NULL;
	i = find_var(env, name);
	return i < 0 ? NULL : env->vars[i].value;
}

static int check_name(const struct lp_bootenv *env, const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, LP_BOOTENV_NAME_MAX + 1);
	if (len == 0 || len > LP_BOOTENV_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* Printable ASCII without space and '=': what U-Boot's and GRUB's own
		 * commands can set and print back. */
		if (c <= 0x20 || c >= 0x7f || c == '=')
			return -EINVAL;
	}
	return env->ops->check_name ? env->ops->check_name(name) : 0;
}

static int check_value(const struct lp_bootenv *env, const char *value)
{
	if (!value || strnlen(value, LP_BOOTENV_VALUE_MAX + 1) > LP_BOOTENV_VALUE_MAX)
		return -EINVAL;
	return env->ops->check_value ? env->ops->check_value(value) : 0;
}

static size_t used_bytes(const struct lp_bootenv *env, ssize_t skip)
{
	size_t used = 0;

	for (size_t i = 0; i < env->n_vars; i++)
		if ((ssize_t)i != skip)
			used += env->ops->entry_size(env->vars[i].name, env->vars[i].value);
	return used;
}

int lp_bootenv_set(struct lp_bootenv *env, const char *name, const char *value)
{
	ssize_t i;
	char *n = NULL, *v;
	int r;

	r = check_name(env, name);
	if (r < 0)
		return r;
	r = check_value(env, value);
	if (r < 0)
		return r;
	i = find_var(env, name);
	if (i >= 0 && strcmp(env->vars[i].value, value) == 0)
		return 0;
	if (used_bytes(env, i) + env->ops->entry_size(name, value) > env->capacity)
		return -ENOSPC;
	if (i < 0) {
		r = grow_vars(env);
		if (r < 0)
			return r;
		n = strdup(name);
		if (!n)
			return -ENOMEM;
	}
	v = strdup(value);
	if (!v) {
		free(n);
		return -ENOMEM;
	}
	if (i >= 0) {
		free(env->vars[i].value);
		env->vars[i].value = v;
	} else {
		env->vars[env->n_vars].name = n;
		env->vars[env->n_vars].value = v;
		env->n_vars++;
	}
	env->dirty = true;
	return 0;
}

int lp_bootenv_unset(struct lp_bootenv *env, const char *name)
{
	ssize_t i;

	if (!name)
		return -EINVAL;
	i = find_var(env, name);
	if (i < 0)
		return 0;
	free(env->vars[i].name);
	free(env->vars[i].value);
	memmove(&env->vars[i], &env->vars[i + 1], (env->n_vars - (size_t)i - 1) * sizeof(env->vars[0]));
	env->n_vars--;
	env->dirty = true;
	return 0;
}

size_t lp_bootenv_count(const struct lp_bootenv *env)
{
	return env->n_vars;
}

int lp_bootenv_entry(const struct lp_bootenv *env, size_t index, const char **ret_name,
		     const char **ret_value)
{
	if (index >= env->n_vars)
		return -ENOENT;
	if (ret_name)
		*ret_name = env->vars[index].name;
	if (ret_value)
		*ret_value = env->vars[index].value;
	return 0;
}

int lp_bootenv_commit(struct lp_bootenv *env, struct lp_diag *diag)
{
	int r;

	r = env->ops->commit(env, diag);
	if (r < 0)
		return r;
	env->dirty = false;
	env->from_defaults = false;
	return 0;
}

/* --- Typed helpers ------------------------------------------------------------------ */

static int parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!s[0] || (s[0] == '0' && s[1]))
		return -EBADMSG;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -EBADMSG;
	}
	*ret = (uint32_t)v;
	return 0;
}

int lp_bootenv_get_uint(const struct lp_bootenv *env, const char *name, uint32_t *ret_value)
{
	const char *s = lp_bootenv_get(env, name);

	if (!s)
		return -ENOENT;
	return parse_u32(s, ret_value);
}

int lp_bootenv_set_uint(struct lp_bootenv *env, const char *name, uint32_t value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", (unsigned)value);
	return lp_bootenv_set(env, name, buf);
}

int lp_bootenv_get_flag(const struct lp_bootenv *env, const char *name, bool fallback,
			bool *ret_value)
{
	const char *s = lp_bootenv_get(env, name);

	if (!s)
		*ret_value = fallback;
	else if (strcmp(s, "1") == 0)
		*ret_value = true;
	else if (strcmp(s, "0") == 0)
		*ret_value = false;
	else
		return -EBADMSG;
	return 0;
}

int lp_bootenv_set_flag(struct lp_bootenv *env, const char *name, bool value)
{
	return lp_bootenv_set(env, name, value ? "1" : "0");
}

int lp_bootenv_get_boot(const struct lp_bootenv *env, struct lp_bootenv_boot *ret_boot,
			struct lp_diag *diag)
{
	struct lp_bootenv_boot b;
	const char *slot;
	int r;

	memset(&b, 0, sizeof(b));
	slot = lp_bootenv_get(env, LP_BOOTENV_VAR_BOOT_SLOT);
	if (slot) {
		if (strlen(slot) > LP_BOOTENV_NAME_MAX)
			return lp_diag_fail_at(diag, -EBADMSG, LP_BOOTENV_VAR_BOOT_SLOT,
					       "longer than %d bytes", LP_BOOTENV_NAME_MAX);
		snprintf(b.boot_slot, sizeof(b.boot_slot), "%s", slot);
	}
	r = lp_bootenv_get_flag(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE, false, &b.upgrade_available);
	if (r < 0)
		return lp_diag_fail_at(diag, r, LP_BOOTENV_VAR_UPGRADE_AVAILABLE,
				       "expected 0 or 1, found \"%.32s\"",
				       lp_bootenv_get(env, LP_BOOTENV_VAR_UPGRADE_AVAILABLE));
	r = lp_bootenv_get_uint(env, LP_BOOTENV_VAR_BOOTCOUNT, &b.bootcount);
	if (r == -ENOENT)
		b.bootcount = 0;
	else if (r < 0)
		return lp_diag_fail_at(diag, r, LP_BOOTENV_VAR_BOOTCOUNT,
				       "expected a decimal number, found \"%.32s\"",
				       lp_bootenv_get(env, LP_BOOTENV_VAR_BOOTCOUNT));
	r = lp_bootenv_get_uint(env, LP_BOOTENV_VAR_BOOTLIMIT, &b.bootlimit);
	if (r == 0)
		b.has_bootlimit = true;
	else if (r != -ENOENT)
		return lp_diag_fail_at(diag, r, LP_BOOTENV_VAR_BOOTLIMIT,
				       "expected a decimal number, found \"%.32s\"",
				       lp_bootenv_get(env, LP_BOOTENV_VAR_BOOTLIMIT));
	*ret_boot = b;
	return 0;
}

/* Sets several variables all-or-nothing in memory. */
static int set_all(struct lp_bootenv *env, const char *const *names, const char *const *values,
		   size_t n)
{
	struct bootenv_var saved[4];
	size_t saved_n = 0;
	int r = 0;

	if (n > LP_ARRAY_SIZE(saved))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const char *old = lp_bootenv_get(env, names[i]);

		saved[i].name = (char *)names[i];
		saved[i].value = old ? strdup(old) : NULL;
		saved_n++;
		if (old && !saved[i].value) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = lp_bootenv_set(env, names[i], values[i]);
		if (r < 0) {
			/* Put back what was there; these fitted before, so they fit now. */
			for (size_t j = 0; j < i; j++) {
				if (saved[j].value)
					(void)lp_bootenv_set(env, saved[j].name, saved[j].value);
				else
					(void)lp_bootenv_unset(env, saved[j].name);
			}
			goto out;
		}
	}
out:
	for (size_t i = 0; i < saved_n; i++)
		free(saved[i].value);
	return r;
}

int lp_bootenv_arm_update(struct lp_bootenv *env, const char *slot)
{
	const char *names[] = { LP_BOOTENV_VAR_BOOT_SLOT, LP_BOOTENV_VAR_UPGRADE_AVAILABLE,
				LP_BOOTENV_VAR_BOOTCOUNT };
	const char *values[] = { slot, "1", "0" };

	return set_all(env, names, values, LP_ARRAY_SIZE(names));
}

int lp_bootenv_mark_good(struct lp_bootenv *env)
{
	const char *names[] = { LP_BOOTENV_VAR_UPGRADE_AVAILABLE, LP_BOOTENV_VAR_BOOTCOUNT };
	const char *values[] = { "0", "0" };

	return set_all(env, names, values, LP_ARRAY_SIZE(names));
}

/* --- Opening by description --------------------------------------------------------- */

int lp_bootenv_open(enum lp_bootenv_kind kind, const char *path, unsigned flags,
		    struct lp_bootenv **ret_env, struct lp_diag *diag)
{
	struct lp_fwenv_config config;
	int r;

	if (!path)
		return lp_diag_fail(diag, -EINVAL, "no path given");
	switch (kind) {
	case LP_BOOTENV_UBOOT:
		r = lp_fwenv_config_load(path, &config, diag);
		if (r < 0)
			return r;
		return lp_bootenv_open_uboot(&config, flags, ret_env, diag);
	case LP_BOOTENV_GRUB:
		return lp_bootenv_open_grub(path, flags, ret_env, diag);
	}
	return lp_diag_fail(diag, -EINVAL, "unknown bootloader environment kind %d", (int)kind);
}

/* --- I/O ---------------------------------------------------------------------------- */

void bootenv_test_set_fault(struct lp_bootenv *env, uint64_t budget)
{
	env->fault_armed = true;
	env->fault_hit = false;
	env->fault_budget = budget;
}

bool bootenv_test_fault_hit(const struct lp_bootenv *env)
{
	return env->fault_hit;
}

/* How many of len bytes may be written before the simulated power cut. */
static size_t fault_allow(struct lp_bootenv *env, size_t len)
{
	if (!env->fault_armed)
		return len;
	if (env->fault_hit)
		return 0;
	if (len > env->fault_budget) {
		size_t n = (size_t)env->fault_budget;

		env->fault_budget = 0;
		env->fault_hit = true;
		return n;
	}
	env->fault_budget -= len;
	return len;
}

int bootenv_pwrite(struct lp_bootenv *env, int fd, const void *buf, size_t len, uint64_t off)
{
	size_t allowed = fault_allow(env, len);
	const uint8_t *p = buf;
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return -EOVERFLOW;
	while (done < allowed) {
		ssize_t n = pwrite(fd, p + done, allowed - done, (off_t)(off + done));

		if (n < 0 && errno == ESPIPE) {
			/* A device without positional writes: seek, then write. */
			if (lseek(fd, (off_t)(off + done), SEEK_SET) < 0)
				return -errno;
			n = write(fd, p + done, allowed - done);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return allowed < len ? -EIO : 0;
}

int bootenv_fsync(struct lp_bootenv *env, int fd)
{
	if (env->fault_armed && env->fault_hit)
		return -EIO;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

int bootenv_rename(struct lp_bootenv *env, const char *from, const char *to)
{
	if (fault_allow(env, 1) < 1)
		return -EIO;
	if (rename(from, to) < 0)
		return -errno;
	return 0;
}

int bootenv_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return lp_io_pread_all(fd, buf, len, off);
}

int bootenv_replace_file(struct lp_bootenv *env, const char *path, const void *buf, size_t len,
			 mode_t mode, struct lp_diag *diag)
{
	char tmp[PATH_MAX];
	int fd = -1, r, n;

	n = snprintf(tmp, sizeof(tmp), "%s.lp-new", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return lp_diag_fail(diag, -ENAMETOOLONG, "%s: path too long", path);
	/* A fixed temporary name: a file left by an earlier power cut is simply reused. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode & 07777) < 0) {
		r = lp_diag_fail(diag, -errno, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	r = bootenv_pwrite(env, fd, buf, len, 0);
	if (r == 0)
		r = bootenv_fsync(env, fd);
	if (r < 0) {
		lp_diag_fail(diag, r, "%s: writing: %s", tmp, strerror(-r));
		goto fail;
	}
	close(fd);
	fd = -1;
	r = bootenv_rename(env, tmp, path);
	if (r < 0) {
		lp_diag_fail(diag, r, "renaming %s to %s: %s", tmp, path, strerror(-r));
		goto fail;
	}
	if (env->fault_armed && env->fault_hit)
		return lp_diag_fail(diag, -EIO, "%s: simulated power cut", path);
	r = lp_fs_fsync_parent(path);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: syncing directory: %s", path, strerror(-r));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	/* After a real power cut the temporary file would stay; the simulated one is
	 * removed so tests leave nothing behind. */
	(void)unlink(tmp);
	return r;
}

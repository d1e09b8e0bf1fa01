/* SPDX-License-Identifier: MIT */
/*
 * U-Boot's binary environment, as U-Boot and fw_printenv (libubootenv, U-Boot's tools)
 * read it:
 *   single copy:    crc32 (le32) | data
 *   redundant copy: crc32 (le32) | flag (u8) | data
 * The CRC covers the whole data area. Data is "name=value\0" entries ended by an empty
 * entry ("\0"); the rest up to the environment size is padding (we write 0xFF, the erased
 * state of flash). Of two redundant copies the valid one (good CRC) with the newer flag is
 * current. Flags count up (0xFF wraps to 0) on files, block devices and NAND; NOR flash
 * uses 1 = active, 0 = obsolete. docs/bootenv.md has the write order and why it is safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mtd/mtd-user.h>

#include "loopline/cursor.h"
#include "bootenv-internal.h"

/* --- CRC-32 ------------------------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t bootenv_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc_table_init);
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* --- State -------------------------------------------------------------------------- */

enum uboot_medium {
	MEDIUM_NONE = 0, /* decoded from memory: nowhere to write */
	MEDIUM_FILE,
	MEDIUM_BLOCK,
	MEDIUM_MTD_NOR,
	MEDIUM_MTD_NAND,
};

#define WHY_MAX 200

struct uboot_copy {
	struct lp_fwenv_device dev;
	enum uboot_medium medium;
	bool exists;
	uint64_t erase_size; /* MTD only */
	bool valid;          /* CRC good */
	uint8_t flag;        /* redundant only */
	char why[WHY_MAX];   /* why not valid */
};

struct uboot_impl {
	unsigned count; /* copies described; 0 when decoded from memory */
	bool redundant;
	size_t env_size;
	struct uboot_copy copy[2];
	int current; /* index of the current copy, -1 if none is valid */
};

static size_t header_size(bool redundant)
{
	return redundant ? 5 : 4;
}

static size_t uboot_entry_size(const char *name, const char *value)
{
	return strlen(name) + 1 + strlen(value) + 1;
}

static int uboot_commit(struct lp_bootenv *env, struct lp_diag *diag);

static void uboot_free_impl(void *impl)
{
	free(impl);
}

static const struct lp_bootenv_ops uboot_ops = {
	.kind = LP_BOOTENV_UBOOT,
	.entry_size = uboot_entry_size,
	.commit = uboot_commit,
	.free_impl = uboot_free_impl,
};

/* --- Decoding ----------------------------------------------------------------------- */

/* Parses the data area of the current copy into env's variables. */
static int decode_data(struct lp_bootenv *env, const uint8_t *data, size_t len,
		       const char *where, struct lp_diag *diag)
{
	size_t pos = 0;
	int r;

	for (;;) {
		const uint8_t *nul, *eq;
		size_t entry_len, name_len;

		if (pos >= len)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: no end marker (empty entry) in the data area", where);
		if (data[pos] == '\0')
			return 0;
		nul = memchr(data + pos, '\0', len - pos);
		if (!nul)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: entry at data offset %zu is not NUL-terminated", where,
					    pos);
		entry_len = (size_t)(nul - (data + pos));
		eq = memchr(data + pos, '=', entry_len);
		if (!eq)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: entry at data offset %zu has no '='", where, pos);
		name_len = (size_t)(eq - (data + pos));
		if (name_len == 0)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: entry at data offset %zu has an empty name", where, pos);
		if (name_len > LP_BOOTENV_NAME_MAX)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: entry at data offset %zu: name longer than %d bytes",
					    where, pos, LP_BOOTENV_NAME_MAX);
		if (entry_len - name_len - 1 > LP_BOOTENV_VALUE_MAX)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: variable \"%.*s\": value longer than %d bytes", where,
					    (int)name_len, (const char *)data + pos, LP_BOOTENV_VALUE_MAX);
		r = bootenv_load_var(env, (const char *)data + pos, name_len,
				     (const char *)eq + 1, entry_len - name_len - 1);
		if (r == -EEXIST)
			return lp_diag_fail(diag, -EBADMSG,
					    "%s: variable \"%.*s\" appears twice (data offset %zu)",
					    where, (int)name_len, (const char *)data + pos, pos);
		if (r == -E2BIG)
			return lp_diag_fail(diag, -EBADMSG, "%s: more than %d variables", where,
					    LP_BOOTENV_VARS_MAX);
		if (r < 0)
			return lp_diag_fail(diag, r, "%s: %s", where, strerror(-r));
		pos += entry_len + 1;
	}
}

/* Checks one copy's CRC and flag. */
static void check_copy(struct uboot_copy *c, const uint8_t *buf, size_t env_size, bool redundant)
{
	struct lp_cursor cur;
	uint32_t stored = 0, computed;
	uint8_t flag = 0;
	size_t hdr = header_size(redundant);

	lp_cursor_init(&cur, buf, env_size);
	lp_cursor_le32(&cur, &stored);
	if (redundant)
		lp_cursor_u8(&cur, &flag);
	if (lp_cursor_failed(&cur)) {
		snprintf(c->why, sizeof(c->why), "shorter than its header");
		c->valid = false;
		return;
	}
	computed = bootenv_crc32(0, buf + hdr, env_size - hdr);
	c->flag = flag;
	c->valid = stored == computed;
	if (!c->valid)
		snprintf(c->why, sizeof(c->why), "CRC mismatch (stored 0x%08x, computed 0x%08x)",
			 stored, computed);
}

/* Which of two valid copies is newer. */
static int newer_copy(const struct uboot_impl *u)
{
	uint8_t f0 = u->copy[0].flag, f1 = u->copy[1].flag;

	if (u->copy[0].medium == MEDIUM_MTD_NOR) {
		/* Boolean flags: 1 active, 0 obsolete; libubootenv counts 0xFF as active. */
		if (f1 == 0xff)
			return 1;
		if (f0 == 0xff)
			return 0;
		return f1 > f0 ? 1 : 0;
	}
	/* Counting flags; 0 follows 0xFF. */
	if (f0 == 0xff && f1 == 0)
		return 1;
	if (f1 == 0xff && f0 == 0)
		return 0;
	return f1 > f0 ? 1 : 0;
}

static void copy_name(const struct uboot_impl *u, int i, char *buf, size_t len)
{
	if (u->count == 0)
		snprintf(buf, len, "copy %d", i);
	else
		snprintf(buf, len, "%s (copy %d at offset 0x%llx)", u->copy[i].dev.path, i,
			 (unsigned long long)u->copy[i].dev.offset);
}

/* Picks the current copy and loads its variables; images[i] are the raw copies (NULL if
 * unreadable, with why set). */
static int load_images(struct lp_bootenv *env, const uint8_t *const images[2], unsigned flags,
		       struct lp_diag *diag)
{
	struct uboot_impl *u = env->impl;
	unsigned n = u->redundant ? 2 : 1;
	char where[LP_FWENV_PATH_MAX + 64];
	size_t hdr = header_size(u->redundant);

	for (unsigned i = 0; i < n; i++)
		if (images[i])
			check_copy(&u->copy[i], images[i], u->env_size, u->redundant);
	if (u->redundant && u->copy[0].valid && u->copy[1].valid)
		u->current = newer_copy(u);
	else if (u->copy[0].valid)
		u->current = 0;
	else if (u->redundant && u->copy[1].valid)
		u->current = 1;
	else
		u->current = -1;

	if (u->current < 0) {
		if (flags & LP_BOOTENV_OPEN_DEFAULTS) {
			env->from_defaults = true;
			return 0;
		}
		if (!u->redundant) {
			copy_name(u, 0, where, sizeof(where));
			return lp_diag_fail(diag, -EBADMSG, "no valid U-Boot environment: %s: %s",
					    where, u->copy[0].why);
		}
		copy_name(u, 0, where, sizeof(where));
		{
			char where1[LP_FWENV_PATH_MAX + 64];

			copy_name(u, 1, where1, sizeof(where1));
			return lp_diag_fail(diag, -EBADMSG,
					    "no valid U-Boot environment: %s: %s; %s: %s", where,
					    u->copy[0].why, where1, u->copy[1].why);
		}
	}
	copy_name(u, u->current, where, sizeof(where));
	return decode_data(env, images[u->current] + hdr, u->env_size - hdr, where, diag);
}

static int new_uboot_env(size_t env_size, bool redundant, struct lp_bootenv **ret_env)
{
	struct uboot_impl *u;
	int r;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->redundant = redundant;
	u->env_size = env_size;
	u->current = -1;
	/* entries + the empty entry that ends them */
	r = bootenv_new(&uboot_ops, u, env_size - header_size(redundant) - 1, ret_env);
	if (r < 0)
		free(u);
	return r;
}

int bootenv_uboot_decode(const uint8_t *const copies[2], size_t env_size, bool redundant,
			 unsigned flags, struct lp_bootenv **ret_env, struct lp_diag *diag)
{
	struct lp_bootenv *env;
	int r;

	if (env_size < 16 || env_size > LP_BOOTENV_UBOOT_SIZE_MAX)
		return lp_diag_fail(diag, -EINVAL, "environment size %zu out of range", env_size);
	r = new_uboot_env(env_size, redundant, &env);
	if (r < 0)
		return r;
	r = load_images(env, copies, flags, diag);
	if (r < 0) {
		lp_bootenv_free(env);
		return r;
	}
	*ret_env = env;
	return 0;
}

/* --- Devices ------------------------------------------------------------------------ */

static int mtd_info(int fd, struct uboot_copy *c, struct lp_diag *diag)
{
	struct mtd_info_user info;
	uint64_t n;

	if (ioctl(fd, MEMGETINFO, &info) < 0)
		return lp_diag_fail(diag, -EINVAL, "%s: not an MTD device (%s)", c->dev.path,
				    strerror(errno));
	if (info.type == MTD_NORFLASH)
		c->medium = MEDIUM_MTD_NOR;
	else if (info.type == MTD_NANDFLASH || info.type == MTD_MLCNANDFLASH)
		c->medium = MEDIUM_MTD_NAND;
	else
		return lp_diag_fail(diag, -EINVAL, "%s: MTD type %u is not NOR or NAND flash",
				    c->dev.path, (unsigned)info.type);
	if (info.erasesize == 0)
		return lp_diag_fail(diag, -EINVAL, "%s: erase size 0", c->dev.path);
	c->erase_size = c->dev.sector_size ? c->dev.sector_size : info.erasesize;
	if (c->erase_size % info.erasesize != 0)
		return lp_diag_fail(diag, -EINVAL,
				    "%s: sector size 0x%llx is not a multiple of the erase size 0x%x",
				    c->dev.path, (unsigned long long)c->erase_size, info.erasesize);
	if (c->dev.offset % info.erasesize != 0)
		return lp_diag_fail(diag, -EINVAL,
				    "%s: offset 0x%llx is not aligned to the erase size 0x%x",
				    c->dev.path, (unsigned long long)c->dev.offset, info.erasesize);
	n = c->dev.sectors ? c->dev.sectors : (c->dev.env_size + c->erase_size - 1) / c->erase_size;
	if (n * c->erase_size < c->dev.env_size)
		return lp_diag_fail(diag, -EINVAL, "%s: %llu sectors do not hold the environment",
				    c->dev.path, (unsigned long long)n);
	if (c->dev.offset + n * c->erase_size > info.size)
		return lp_diag_fail(diag, -EINVAL,
				    "%s: environment (offset 0x%llx, 0x%llx bytes erased) is past the "
				    "end of the device (0x%x bytes)", c->dev.path,
				    (unsigned long long)c->dev.offset,
				    (unsigned long long)(n * c->erase_size), info.size);
	return 0;
}

/* Opens one copy's file or device, finds out what it is, reads the copy into buf. Leaves
 * buf unread (returns 1) when the copy cannot be there (missing or short file) and that is
 * allowed. */
static int read_copy(struct uboot_copy *c, size_t env_size, unsigned flags, uint8_t *buf,
		     struct lp_diag *diag)
{
	struct stat st;
	int fd, r;

	fd = open(c->dev.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && (flags & LP_BOOTENV_OPEN_DEFAULTS)) {
			c->medium = MEDIUM_FILE;
			c->exists = false;
			snprintf(c->why, sizeof(c->why), "file does not exist");
			return 1;
		}
		return lp_diag_fail(diag, r, "%s: %s", c->dev.path, strerror(-r));
	}
	c->exists = true;
	if (fstat(fd, &st) < 0) {
		r = lp_diag_fail(diag, -errno, "%s: %s", c->dev.path, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		c->medium = MEDIUM_FILE;
	} else if (S_ISBLK(st.st_mode)) {
		c->medium = MEDIUM_BLOCK;
	} else if (S_ISCHR(st.st_mode)) {
		r = mtd_info(fd, c, diag);
		if (r < 0)
			goto out;
	} else {
		r = lp_diag_fail(diag, -EINVAL,
				 "%s: not a regular file, a block device or an MTD device",
				 c->dev.path);
		goto out;
	}
	r = bootenv_pread_all(fd, buf, env_size, c->dev.offset);
	if (r == -ENODATA) {
		snprintf(c->why, sizeof(c->why), "ends before offset 0x%llx",
			 (unsigned long long)(c->dev.offset + env_size));
		if (c->medium == MEDIUM_FILE) {
			r = 1; /* a short file: the copy is simply not valid */
			goto out;
		}
		r = lp_diag_fail(diag, -EINVAL, "%s: %s", c->dev.path, c->why);
		goto out;
	}
	if (r < 0)
		r = lp_diag_fail(diag, r, "%s: reading: %s", c->dev.path, strerror(-r));
out:
	close(fd);
	return r;
}

static bool is_nor_or_nand(enum uboot_medium m)
{
	return m == MEDIUM_MTD_NOR || m == MEDIUM_MTD_NAND;
}

/* The lock fw_printenv and fw_setenv take around their read-modify-write. */
static int take_lock(struct lp_bootenv *env, struct lp_diag *diag)
{
	int fd = open(LP_BOOTENV_UBOOT_LOCK_PATH, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", LP_BOOTENV_UBOOT_LOCK_PATH,
				    strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;

			close(fd);
			return lp_diag_fail(diag, r, "%s: flock: %s", LP_BOOTENV_UBOOT_LOCK_PATH,
					    strerror(-r));
		}
	}
	env->lock_fd = fd;
	return 0;
}

int lp_bootenv_open_uboot(const struct lp_fwenv_config *config, unsigned flags,
			  struct lp_bootenv **ret_env, struct lp_diag *diag)
{
	struct lp_bootenv *env = NULL;
	struct uboot_impl *u;
	uint8_t *bufs = NULL;
	const uint8_t *images[2] = { NULL, NULL };
	size_t env_size;
	int r;

	if (!config || config->count < 1 || config->count > 2)
		return lp_diag_fail(diag, -EINVAL, "fw_env.config describes no environment copy");
	env_size = (size_t)config->dev[0].env_size;
	if (env_size < 16 || env_size > LP_BOOTENV_UBOOT_SIZE_MAX ||
	    (config->count == 2 && config->dev[1].env_size != config->dev[0].env_size))
		return lp_diag_fail(diag, -EINVAL, "bad environment size in the description");
	r = new_uboot_env(env_size, config->count == 2, &env);
	if (r < 0)
		return r;
	u = env->impl;
	u->count = config->count;
	if (flags & LP_BOOTENV_OPEN_LOCK) {
		r = take_lock(env, diag);
		if (r < 0)
			goto fail;
	}
	bufs = malloc(env_size * config->count);
	if (!bufs) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < config->count; i++) {
		u->copy[i].dev = config->dev[i];
		r = read_copy(&u->copy[i], env_size, flags, bufs + i * env_size, diag);
		if (r < 0)
			goto fail;
		if (r == 0)
			images[i] = bufs + i * env_size;
	}
	if (config->count == 2) {
		bool mtd0 = is_nor_or_nand(u->copy[0].medium), mtd1 = is_nor_or_nand(u->copy[1].medium);

		if (mtd0 != mtd1 || (mtd0 && u->copy[0].medium != u->copy[1].medium)) {
			r = lp_diag_fail(diag, -EINVAL,
					 "the two copies are on different kinds of media (flash "
					 "flags differ)");
			goto fail;
		}
	}
	r = load_images(env, images, flags, diag);
	if (r < 0)
		goto fail;
	free(bufs);
	*ret_env = env;
	return 0;
fail:
	free(bufs);
	lp_bootenv_free(env);
	return r;
}

/* --- Writing ------------------------------------------------------------------------ */

/* Builds a whole copy: header, entries, end marker, 0xFF padding. */
static int encode_image(const struct lp_bootenv *env, uint8_t flag, uint8_t *img)
{
	const struct uboot_impl *u = env->impl;
	size_t hdr = header_size(u->redundant);
	size_t data_len = u->env_size - hdr;
	uint8_t *data = img + hdr;
	size_t pos = 0;
	uint32_t crc;

	memset(data, 0xff, data_len);
	for (size_t i = 0; i < env->n_vars; i++) {
		size_t nl = strlen(env->vars[i].name), vl = strlen(env->vars[i].value);

		if (nl + vl + 2 > data_len - 1 - pos)
			return -ENOSPC;
		memcpy(data + pos, env->vars[i].name, nl);
		data[pos + nl] = '=';
		memcpy(data + pos + nl + 1, env->vars[i].value, vl);
		data[pos + nl + 1 + vl] = '\0';
		pos += nl + vl + 2;
	}
	data[pos] = '\0';
	crc = bootenv_crc32(0, data, data_len);
	img[0] = (uint8_t)crc;
	img[1] = (uint8_t)(crc >> 8);
	img[2] = (uint8_t)(crc >> 16);
	img[3] = (uint8_t)(crc >> 24);
	if (u->redundant)
		img[4] = flag;
	return 0;
}

static int open_for_write(const struct uboot_copy *c, struct lp_diag *diag)
{
	int fd;

	if (c->medium == MEDIUM_FILE)
		fd = open(c->dev.path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	else
		fd = open(c->dev.path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", c->dev.path, strerror(errno));
	return fd;
}

static int mtd_erase(int fd, const struct uboot_copy *c, struct lp_diag *diag)
{
	uint64_t n = c->dev.sectors ? c->dev.sectors
				    : (c->dev.env_size + c->erase_size - 1) / c->erase_size;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t start = c->dev.offset + i * c->erase_size;
		int r;

		if (start + c->erase_size <= UINT32_MAX) {
			struct erase_info_user e = { .start = (uint32_t)start,
						     .length = (uint32_t)c->erase_size };

			r = ioctl(fd, MEMERASE, &e);
		} else {
			struct erase_info_user64 e = { .start = start, .length = c->erase_size };

			r = ioctl(fd, MEMERASE64, &e);
		}
		if (r < 0)
			return lp_diag_fail(diag, -errno, "%s: erasing 0x%llx: %s", c->dev.path,
					    (unsigned long long)start, strerror(errno));
	}
	return 0;
}

/* Writes a whole copy in place (erasing first on flash) and syncs it. */
static int write_copy(struct lp_bootenv *env, const struct uboot_copy *c, const uint8_t *img,
		      size_t len, struct lp_diag *diag)
{
	int fd, r;

	fd = open_for_write(c, diag);
	if (fd < 0)
		return fd;
	if (is_nor_or_nand(c->medium)) {
		r = env->fault_armed && env->fault_hit ? -EIO : mtd_erase(fd, c, diag);
		if (r < 0)
			goto out;
	}
	r = bootenv_pwrite(env, fd, img, len, c->dev.offset);
	/* MTD character devices write through (and do not implement fsync). */
	if (r == 0 && !is_nor_or_nand(c->medium))
		r = bootenv_fsync(env, fd);
	if (r < 0)
		lp_diag_fail(diag, r, "%s: writing at 0x%llx: %s", c->dev.path,
			     (unsigned long long)c->dev.offset, strerror(-r));
out:
	close(fd);
	return r;
}

/* Writes the flag byte of a redundant copy and syncs it. */
static int write_flag(struct lp_bootenv *env, const struct uboot_copy *c, uint8_t flag,
		      struct lp_diag *diag)
{
	int fd, r;

	fd = open_for_write(c, diag);
	if (fd < 0)
		return fd;
	r = bootenv_pwrite(env, fd, &flag, 1, c->dev.offset + 4);
	if (r == 0 && !is_nor_or_nand(c->medium))
		r = bootenv_fsync(env, fd);
	if (r < 0)
		lp_diag_fail(diag, r, "%s: writing the flag at 0x%llx: %s", c->dev.path,
			     (unsigned long long)c->dev.offset + 4, strerror(-r));
	close(fd);
	return r;
}

/* A single copy that is a whole regular file (or does not exist yet) is replaced with
 * temp + rename; returns 1 when that does not apply. */
static int replace_whole_file(struct lp_bootenv *env, const struct uboot_copy *c,
			      const uint8_t *img, size_t len, struct lp_diag *diag)
{
	struct stat st;
	char *real;
	mode_t mode = 0644;
	int r;

	if (c->medium != MEDIUM_FILE || c->dev.offset != 0)
		return 1;
	if (stat(c->dev.path, &st) == 0) {
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len)
			return 1;
		mode = st.st_mode;
		real = realpath(c->dev.path, NULL);
		if (!real)
			return lp_diag_fail(diag, -errno, "%s: %s", c->dev.path, strerror(errno));
	} else if (errno == ENOENT) {
		real = strdup(c->dev.path);
		if (!real)
			return -ENOMEM;
	} else {
		return lp_diag_fail(diag, -errno, "%s: %s", c->dev.path, strerror(errno));
	}
	r = bootenv_replace_file(env, real, img, len, mode, diag);
	free(real);
	return r;
}

static int uboot_commit(struct lp_bootenv *env, struct lp_diag *diag)
{
	struct uboot_impl *u = env->impl;
	uint8_t *img;
	int r, target, cur = u->current;

	if (u->count == 0)
		return lp_diag_fail(diag, -EBADF, "environment was not read from a device");
	img = malloc(u->env_size);
	if (!img)
		return -ENOMEM;

	if (!u->redundant) {
		r = encode_image(env, 0, img);
		if (r < 0)
			goto out;
		r = replace_whole_file(env, &u->copy[0], img, u->env_size, diag);
		if (r == 1)
			r = write_copy(env, &u->copy[0], img, u->env_size, diag);
		if (r == 0) {
			u->copy[0].valid = true;
			u->copy[0].exists = true;
			u->current = 0;
		}
		goto out;
	}

	if (cur < 0) {
		/* Nothing valid to protect: write both copies, so that tools that insist on
		 * reading two whole copies (libubootenv) find them — copy 1 as the older (0),
		 * then copy 0 as the current one (1). */
		r = encode_image(env, 0, img);
		if (r == 0)
			r = write_copy(env, &u->copy[1], img, u->env_size, diag);
		if (r < 0)
			goto out;
		u->copy[1].flag = 0;
		u->copy[1].valid = true;
		u->copy[1].exists = true;
		img[4] = 1;
		r = write_copy(env, &u->copy[0], img, u->env_size, diag);
		if (r == 0) {
			u->copy[0].flag = 1;
			u->copy[0].valid = true;
			u->copy[0].exists = true;
			u->current = 0;
		}
		goto out;
	}

	target = 1 - cur;
	if (u->copy[target].medium == MEDIUM_MTD_NOR) {
		/* Erase and write the new copy as active, then clear the old copy's flag to
		 * obsolete (NOR can clear bits without an erase). */
		r = encode_image(env, 1, img);
		if (r == 0)
			r = write_copy(env, &u->copy[target], img, u->env_size, diag);
		if (r == 0 && cur >= 0) {
			r = write_flag(env, &u->copy[cur], 0, diag);
			if (r == 0)
				u->copy[cur].flag = 0;
		}
		if (r == 0)
			u->copy[target].flag = 1;
	} else if (u->copy[target].medium == MEDIUM_MTD_NAND) {
		/* NAND pages cannot be rewritten without an erase: one write, the CRC decides. */
		uint8_t flag = (uint8_t)(u->copy[cur].flag + 1);

		r = encode_image(env, flag, img);
		if (r == 0)
			r = write_copy(env, &u->copy[target], img, u->env_size, diag);
		if (r == 0)
			u->copy[target].flag = flag;
	} else {
		/* Files and block devices: write the inactive copy with a flag older than the
		 * current one, sync, then make it newer with a one-byte write, sync. */
		uint8_t older = (uint8_t)(u->copy[cur].flag - 1);
		uint8_t newer = (uint8_t)(u->copy[cur].flag + 1);

		r = encode_image(env, older, img);
		if (r == 0)
			r = write_copy(env, &u->copy[target], img, u->env_size, diag);
		if (r == 0)
			r = write_flag(env, &u->copy[target], newer, diag);
		if (r == 0)
			u->copy[target].flag = newer;
	}
	if (r == 0) {
		u->copy[target].valid = true;
		u->copy[target].exists = true;
		u->current = target;
	}
out:
	free(img);
	if (r == -ENOSPC)
		lp_diag_fail(diag, r, "variables do not fit the environment size");
	return r;
}

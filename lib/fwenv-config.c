/* SPDX-License-Identifier: MIT */
/*
 * fw_env.config: where the U-Boot environment lives, in the syntax of U-Boot's and
 * libubootenv's fw_printenv ("device offset env-size [sector-size [sectors]]", one line per
 * copy, '#' comments). Parsed strictly: every problem is an error with line and column.
 * Numbers are read the way those tools read them so both agree on the location: the offset
 * is decimal or 0x-hexadecimal, the sizes and the sector count are always hexadecimal
 * (a leading 0x is optional).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/fs.h"
#include "loopline/io.h"
#include "bootenv-internal.h"
#include "loopline/codec.h"

#define FWENV_FILE_MAX (64u * 1024u)
#define FWENV_LINE_MAX 1024u
#define FWENV_FIELDS_MAX 5

struct field {
	const char *s;
	size_t len;
	unsigned column;
};

/* Hexadecimal with an optional 0x prefix. */
static int parse_hex(const struct field *f, uint64_t max, uint64_t *ret)
{
	const char *s = f->s;
	size_t len = f->len;
	uint64_t v = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int d = lp_hex_digit(s[i]);

		if (d < 0)
			return -EINVAL;
		if (v > (max - (uint64_t)d) / 16)
			return -ERANGE;
		v = v * 16 + (uint64_t)d;
	}
	*ret = v;
	return 0;
}

/* Decimal, or hexadecimal with 0x. A leading 0 before more digits is refused: the
 * upstream tools would read it as octal. */
static int parse_offset(const struct field *f, uint64_t *ret)
{
	uint64_t v = 0;

	if (f->len > 2 && f->s[0] == '0' && (f->s[1] == 'x' || f->s[1] == 'X'))
		return parse_hex(f, INT64_MAX, ret);
	if (f->len == 0 || (f->s[0] == '0' && f->len > 1))
		return -EINVAL;
	for (size_t i = 0; i < f->len; i++) {
		char c = f->s[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		if (v > (uint64_t)(INT64_MAX - (c - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*ret = v;
	return 0;
}

static int fail_at(struct lp_diag *diag, unsigned line, unsigned column, const char *fmt, ...)
	LP_PRINTF(4, 5);

static int fail_at(struct lp_diag *diag, unsigned line, unsigned column, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_diag_set_pos(diag, line, column);
	return lp_diag_fail(diag, -EINVAL, "%s", msg);
}

static int parse_device(const struct field *fields, size_t n, unsigned line,
			struct lp_fwenv_device *dev, struct lp_diag *diag)
{
	const struct field *f;
	int r;

	memset(dev, 0, sizeof(*dev));
	dev->line = line;

	f = &fields[0];
	if (f->s[0] != '/')
		return fail_at(diag, line, f->column, "device path \"%.*s\" is not absolute", (int)f->len, f->s);
	if (f->len >= sizeof(dev->path))
		return fail_at(diag, line, f->column, "device path \"%.*s…\" is too long", 40, f->s);
	if (memchr(f->s, ':', f->len) || (f->len >= 8 && memcmp(f->s, "/dev/ubi", 8) == 0))
		return fail_at(diag, line, f->column,
			       "\"%.*s\": UBI volumes are not supported (use a file, a block "
			       "device or /dev/mtdN)", (int)f->len, f->s);
	memcpy(dev->path, f->s, f->len);
	dev->path[f->len] = '\0';

	if (n < 3) {
		lp_diag_set_pos(diag, line, fields[n - 1].column);
		return lp_diag_fail(diag, -EINVAL, "expected \"device offset env-size [sector-size "
				    "[sectors]]\", found %zu field%s", n, n == 1 ? "" : "s");
	}

	f = &fields[1];
	if (f->s[0] == '-')
		return fail_at(diag, line, f->column,
			       "offset \"%.*s\": offsets from the end of a device are not supported",
			       (int)f->len, f->s);
	r = parse_offset(f, &dev->offset);
	if (r < 0)
		return fail_at(diag, line, f->column,
			       r == -ERANGE ? "offset \"%.*s\" is too large"
					    : "offset \"%.*s\" is not a decimal or 0x-hexadecimal "
					      "number",
			       (int)f->len, f->s);

	f = &fields[2];
	r = parse_hex(f, UINT64_MAX, &dev->env_size);
	if (r < 0)
		return fail_at(diag, line, f->column,
			       "environment size \"%.*s\" is not a hexadecimal number", (int)f->len, f->s);
	if (dev->env_size < 16 || dev->env_size > LP_BOOTENV_UBOOT_SIZE_MAX) {
		lp_diag_set_pos(diag, line, f->column);
		return lp_diag_fail(diag, -EINVAL,
				    "environment size 0x%llx is out of range (0x10..0x%x; sizes are "
				    "hexadecimal)", (unsigned long long)dev->env_size,
				    LP_BOOTENV_UBOOT_SIZE_MAX);
	}
	if (dev->offset > (uint64_t)INT64_MAX - dev->env_size)
		return fail_at(diag, line, fields[1].column, "offset \"%.*s\" is too large",
			       (int)fields[1].len, fields[1].s);

	if (n >= 4) {
		f = &fields[3];
		r = parse_hex(f, UINT32_MAX, &dev->sector_size);
		if (r < 0)
			return fail_at(diag, line, f->column,
				       "sector size \"%.*s\" is not a hexadecimal number (at most "
				       "0xffffffff)", (int)f->len, f->s);
	}
	if (n >= 5) {
		f = &fields[4];
		r = parse_hex(f, 0xffff, &dev->sectors);
		if (r < 0)
			return fail_at(diag, line, f->column,
				       "number of sectors \"%.*s\" is not a hexadecimal number (at "
				       "most 0xffff)", (int)f->len, f->s);
		if (dev->sector_size && dev->sectors &&
		    dev->sector_size * dev->sectors < dev->env_size) {
			lp_diag_set_pos(diag, line, f->column);
			return lp_diag_fail(diag, -EINVAL,
					    "0x%llx sectors of 0x%llx bytes do not hold an environment "
					    "of 0x%llx bytes", (unsigned long long)dev->sectors,
					    (unsigned long long)dev->sector_size,
					    (unsigned long long)dev->env_size);
		}
	}
	return 0;
}

int lp_fwenv_config_parse(const char *text, size_t len, const char *name,
			  struct lp_fwenv_config *ret_config, struct lp_diag *diag)
{
	struct lp_fwenv_config config;
	unsigned line = 0;
	size_t pos = 0;
	int r;

	lp_diag_set_file(diag, name);
	memset(&config, 0, sizeof(config));
	if (len > FWENV_FILE_MAX)
		return lp_diag_fail(diag, -EINVAL, "larger than %u bytes", FWENV_FILE_MAX);

	{
		const char *nul = memchr(text, '\0', len);

		if (nul) {
			unsigned nl = 1;
			const char *bol = text;

			for (const char *p = text; p < nul; p++)
				if (*p == '\n') {
					nl++;
					bol = p + 1;
				}
			lp_diag_set_pos(diag, nl, (unsigned)(nul - bol) + 1);
			return lp_diag_fail(diag, -EINVAL, "NUL byte");
		}
	}
	while (pos < len) {
		struct field fields[FWENV_FIELDS_MAX];
		size_t n = 0, end, i;
		const char *l = text + pos;

		line++;
		end = pos;
		while (end < len && text[end] != '\n')
			end++;
		if (end - pos > FWENV_LINE_MAX) {
			lp_diag_set_pos(diag, line, 0);
			return lp_diag_fail(diag, -EINVAL, "line longer than %u bytes", FWENV_LINE_MAX);
		}
		for (i = 0; i < end - pos; i++) {
			char c = l[i];

			if (c == ' ' || c == '\t' || (c == '\r' && i + 1 == end - pos))
				continue;
			if (c == '#')
				break; /* comment to the end of the line */
			if ((unsigned char)c < 0x20 || c == 0x7f) {
				lp_diag_set_pos(diag, line, (unsigned)i + 1);
				return lp_diag_fail(diag, -EINVAL, "control character 0x%02x",
						    (unsigned char)c);
			}
			if (n == FWENV_FIELDS_MAX) {
				lp_diag_set_pos(diag, line, (unsigned)i + 1);
				return lp_diag_fail(diag, -EINVAL,
						    "more than %d fields (device offset env-size "
						    "sector-size sectors)", FWENV_FIELDS_MAX);
			}
			fields[n].s = l + i;
			fields[n].column = (unsigned)i + 1;
			while (i < end - pos && l[i] != ' ' && l[i] != '\t' && l[i] != '#' &&
			       (unsigned char)l[i] >= 0x20 && l[i] != 0x7f)
				i++;
			fields[n].len = (size_t)(l + i - fields[n].s);
			n++;
			i--; /* the loop's i++ moves on to the separator */
		}
		pos = end + 1;
		if (n == 0)
			continue;
		if (config.count == 2) {
			lp_diag_set_pos(diag, line, 1);
			return lp_diag_fail(diag, -EINVAL,
					    "a third device line: at most two (redundant) copies");
		}
		r = parse_device(fields, n, line, &config.dev[config.count], diag);
		if (r < 0)
			return r;
		if (config.count == 1 && config.dev[1].env_size != config.dev[0].env_size) {
			lp_diag_set_pos(diag, line, fields[2].column);
			return lp_diag_fail(diag, -EINVAL,
					    "redundant copy size 0x%llx differs from the first copy's "
					    "0x%llx (line %u)",
					    (unsigned long long)config.dev[1].env_size,
					    (unsigned long long)config.dev[0].env_size, config.dev[0].line);
		}
		if (config.count == 1 && strcmp(config.dev[0].path, config.dev[1].path) == 0 &&
		    config.dev[0].offset < config.dev[1].offset + config.dev[1].env_size &&
		    config.dev[1].offset < config.dev[0].offset + config.dev[0].env_size) {
			lp_diag_set_pos(diag, line, fields[1].column);
			return lp_diag_fail(diag, -EINVAL,
					    "redundant copy overlaps the first copy (line %u)",
					    config.dev[0].line);
		}
		config.count++;
	}
	if (config.count == 0) {
		lp_diag_set_pos(diag, 0, 0);
		return lp_diag_fail(diag, -EINVAL, "no device line (expected \"device offset "
				    "env-size [sector-size [sectors]]\")");
	}
	*ret_config = config;
	return 0;
}

int lp_fwenv_config_load(const char *path, struct lp_fwenv_config *ret_config,
			 struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len;
	int r;

	r = lp_fs_read_file_diag(path, FWENV_FILE_MAX, &buf, &len, diag);
	if (r < 0)
		return r;
	r = lp_fwenv_config_parse(buf, len, path, ret_config, diag);
	free(buf);
	return r;
}

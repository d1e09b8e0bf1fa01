/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the U-Boot environment reader. The first input byte picks single or
 * redundant and whether the CRCs are fixed up (so the fuzzer reaches the entry parser,
 * not only the CRC check); the rest is the copy or the two copies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/bootenv.h"
#include "../../lib/bootenv-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_crc(uint8_t *copy, size_t env_size, size_t hdr)
{
	uint32_t crc = bootenv_crc32(0, copy + hdr, env_size - hdr);

	copy[0] = (uint8_t)crc;
	copy[1] = (uint8_t)(crc >> 8);
	copy[2] = (uint8_t)(crc >> 16);
	copy[3] = (uint8_t)(crc >> 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *copies[2] = { NULL, NULL };
	struct lp_bootenv *env = NULL;
	struct lp_diag diag;
	uint8_t mode, *buf;
	bool redundant;
	size_t env_size;

	if (size < 1 || size > 65536)
		return 0;
	mode = data[0];
	data++;
	size--;
	redundant = mode & 1;
	env_size = redundant ? size / 2 : size;
	if (env_size < 16)
		return 0;
	/* An exact-size copy so ASan sees reads past the end. */
	buf = malloc(redundant ? 2 * env_size : env_size);
	if (!buf)
		return 0;
	memcpy(buf, data, redundant ? 2 * env_size : env_size);
	copies[0] = buf;
	if (redundant)
		copies[1] = buf + env_size;
	if (mode & 2)
		fix_crc(buf, env_size, redundant ? 5 : 4);
	if (redundant && (mode & 4))
		fix_crc(buf + env_size, env_size, 5);

	lp_diag_clear(&diag);
	if (bootenv_uboot_decode(copies, env_size, redundant, (mode & 8) ? LP_BOOTENV_OPEN_DEFAULTS : 0,
				 &env, &diag) == 0) {
		struct lp_bootenv_boot boot;
		const char *name, *value;

		for (size_t i = 0; lp_bootenv_entry(env, i, &name, &value) == 0; i++)
			(void)lp_bootenv_get(env, name);
		(void)lp_bootenv_get_boot(env, &boot, &diag);
		(void)lp_bootenv_set(env, "bootcount", "1");
		(void)lp_bootenv_arm_update(env, "B");
		lp_bootenv_free(env);
	}
	free(buf);
	return 0;
}

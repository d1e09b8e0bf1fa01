/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the agent's shell tests:
 *   agent-mkpkg keygen PRIVATE.pem PUBLIC.pem
 *   agent-mkpkg build PRIVATE.pem OUT.lpkg VERSION SECURITY_VERSION COMPATIBLE IMAGE
 * builds a signed package with one zstd-compressed rootfs image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopline/package.h"
#include "loopline/sign.h"

int main(int argc, char **argv)
{
	struct lp_key *key = NULL;
	struct lp_diag d;
	int r = -EINVAL;

	lp_diag_clear(&d);
	if (argc == 4 && strcmp(argv[1], "keygen") == 0) {
		r = lp_key_generate(&key);
		if (r == 0)
			r = lp_key_save_private(key, argv[2], true);
		if (r == 0)
			r = lp_key_save_public(key, argv[3], true);
	} else if (argc == 8 && strcmp(argv[1], "build") == 0) {
		const char *compatible[] = { argv[6] };
		struct lp_pkg_source src = { .name = "rootfs.img.zst", .type = LP_PAYLOAD_IMAGE,
					     .target = "rootfs", .compression = LP_COMPRESSION_ZSTD };
		const struct lp_key *keys[1];
		struct lp_pkg_build b = { .product = "agent-test", .version = argv[4],
					  .compatible = compatible, .n_compatible = 1,
					  .min_agent_version = "0.1.0", .sources = &src, .n_sources = 1,
					  .keys = keys, .n_keys = 1 };
		char *end;
		int out;

		errno = 0;
		b.security_version = strtoull(argv[5], &end, 10);
		if (errno || *end) {
			fprintf(stderr, "agent-mkpkg: bad security version\n");
			return 2;
		}
		r = lp_key_load_private(argv[2], &key, &d);
		if (r == 0) {
			keys[0] = key;
			src.fd = open(argv[7], O_RDONLY | O_CLOEXEC);
			out = open(argv[3], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (src.fd < 0 || out < 0)
				r = -errno;
			else
				r = lp_pkg_build(&b, out, NULL, &d);
			if (src.fd >= 0)
				close(src.fd);
			if (out >= 0)
				close(out);
		}
	} else {
		fprintf(stderr, "usage: agent-mkpkg keygen PRIV PUB | build PRIV OUT VERSION SV COMPATIBLE IMAGE\n");
		return 2;
	}
	lp_key_free(key);
	if (r < 0) {
		fprintf(stderr, "agent-mkpkg: %s\n", d.msg[0] ? d.msg : strerror(-r));
		return 1;
	}
	return 0;
}

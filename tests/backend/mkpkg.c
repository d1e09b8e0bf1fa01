/* SPDX-License-Identifier: MIT */
/*
 * Test helper: makes signing keys and signed .lpkg packages with the library's builder.
 *   mkpkg keygen PRIVATE.pem PUBLIC.pem
 *   mkpkg build PRIVATE.pem OUT.lpkg VERSION PAYLOAD
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopline/package.h"
#include "loopline/sign.h"

int main(int argc, char **argv)
{
	struct lp_key *key = NULL;
	struct lp_diag d;
	char msg[1024];
	int r = -EINVAL, in = -1, out = -1;

	lp_diag_clear(&d);
	if (argc == 4 && strcmp(argv[1], "keygen") == 0) {
		r = lp_key_generate(&key);
		if (r == 0)
			r = lp_key_save_private(key, argv[2], true);
		if (r == 0)
			r = lp_key_save_public(key, argv[3], true);
	} else if (argc == 6 && strcmp(argv[1], "build") == 0) {
		static const char *const compatible[] = { "qemu-x86_64" };
		struct lp_pkg_source src = { .name = "rootfs.img", .type = LP_PAYLOAD_IMAGE,
					     .target = "rootfs", .compression = LP_COMPRESSION_NONE };
		const struct lp_key *keys[1];
		struct lp_pkg_build b = { .product = "loopline-test", .version = argv[4],
					  .security_version = 1, .compatible = compatible,
					  .n_compatible = 1, .sources = &src, .n_sources = 1,
					  .n_keys = 1 };

		r = lp_key_load_private(argv[2], &key, &d);
		if (r == 0) {
			keys[0] = key;
			b.keys = keys;
			in = open(argv[5], O_RDONLY | O_CLOEXEC);
			out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			src.fd = in;
			r = (in < 0 || out < 0) ? -errno : lp_pkg_build(&b, out, NULL, &d);
		}
	} else {
		fprintf(stderr, "usage: mkpkg keygen PRIV PUB | mkpkg build PRIV OUT VERSION PAYLOAD\n");
		return 2;
	}
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && r == 0)
		r = -errno;
	lp_key_free(key);
	if (r < 0) {
		fprintf(stderr, "mkpkg: %s (%s)\n", lp_diag_format(&d, msg, sizeof(msg)), strerror(-r));
		return 1;
	}
	return 0;
}

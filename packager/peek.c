/* SPDX-License-Identifier: MIT */
/*
 * A package's manifest and signature key ids, read WITHOUT verifying anything, for
 * `inspect`, `list-keys` and `sign`: lp_pkg_peek of loopline/package.h does the reading
 * (bounded, strict); this adds the file's size and the algorithm names to print.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack.h"

int pack_peek_file(const char *path, struct pack_peek *ret, struct lp_diag *diag)
{
	struct lp_signature_info sigs[LP_PKG_MAX_SIGNATURES];
	struct stat st;
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = lp_diag_fail(diag, -EINVAL, "not a regular file");
		goto out;
	}
	r = lp_pkg_peek_fd(fd, &ret->manifest, sigs, &ret->n_sigs, diag);
	if (r < 0)
		goto out;
	ret->file_size = (uint64_t)st.st_size;
	for (size_t i = 0; i < ret->n_sigs; i++) {
		_Static_assert(sizeof(ret->keyids[i]) == sizeof(sigs[i].keyid), "key id sizes");
		memcpy(ret->keyids[i], sigs[i].keyid, sizeof(ret->keyids[i]));
		/* the only algorithm manifest.sig may name (lp_pkg_peek refuses others) */
		snprintf(ret->algs[i], sizeof(ret->algs[i]), "ed25519");
	}
out:
	close(fd);
	return r;
}

void pack_peek_clear(struct pack_peek *p)
{
	if (!p)
		return;
	lp_manifest_free(p->manifest);
	memset(p, 0, sizeof(*p));
}

/* SPDX-License-Identifier: MIT */
/*
 * Delta payloads in packages: the writer's manifest facts (the patch is stored as it is;
 * size and sha256 are those of the image it produces) and the reader's base check (the
 * running slot must hold exactly the image the delta was made against, checked over
 * base_size bytes before anything is written).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loopline/hash.h"
#include "package-internal.h"

void lp_pkg_delta_fill(const struct lp_pkg_source *src, struct lp_payload_info *info)
{
	if (!src->delta)
		return;
	info->delta = src->delta->base;
	info->delta.present = true;
	info->size = src->delta->size;
	memcpy(info->sha256, src->delta->sha256, sizeof(info->sha256));
}

int lp_pkg_delta_source_check(const struct lp_pkg_source *src, struct lp_diag *diag)
{
	const char *name = src->name ? src->name : "?";

	if ((src->type == LP_PAYLOAD_DELTA) != (src->delta != NULL))
		return lp_diag_fail(diag, -EINVAL, "payload %s: %s", name,
				    src->delta ? "only a delta payload has delta facts"
					       : "a delta payload needs its base and result");
	if (src->delta && src->compression != LP_COMPRESSION_NONE)
		return lp_diag_fail(diag, -EINVAL,
				    "payload %s: a delta is stored as it is (compression none)", name);
	return 0;
}

static void hex_prefix(const uint8_t *digest, char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

int lp_pkg_delta_base_check(const struct lp_payload_info *pl, const struct lp_delta_base *base,
			    struct lp_delta_base *ret_base, struct lp_diag *diag)
{
	struct lp_delta_base cut;
	uint8_t digest[32];
	char have[17], want[17];
	int rc;

	if (pl->type != LP_PAYLOAD_DELTA || !pl->delta.present)
		return lp_diag_fail(diag, -EINVAL, "payload %s is not a delta", pl->name);
	if (strcmp(pl->delta.algorithm, LP_DELTA_ALGORITHM) != 0)
		return lp_diag_fail(diag, -EOPNOTSUPP,
				    "payload %s: delta algorithm \"%s\" is not supported (this reader knows "
				    LP_DELTA_ALGORITHM ")", pl->name, pl->delta.algorithm);
	if (!base || !base->pread)
		return lp_diag_fail(diag, -EINVAL, "payload %s: no base to apply the delta to", pl->name);
	hex_prefix(pl->delta.base_sha256, want);
	if (base->size < pl->delta.base_size)
		return lp_diag_fail(diag, -ESTALE,
				    "base mismatch: the running slot holds %llu bytes, not the %llu of "
				    "version %s (sha256 %s…)", (unsigned long long)base->size,
				    (unsigned long long)pl->delta.base_size, pl->delta.base_version, want);
	cut = *base;
	cut.size = pl->delta.base_size;
	rc = lp_delta_base_sha256(&cut, digest);
	if (rc < 0)
		return lp_diag_fail(diag, rc, "payload %s: reading the base failed: %s", pl->name,
				    strerror(-rc));
	if (!lp_hash_equal(digest, pl->delta.base_sha256, 32)) {
		hex_prefix(digest, have);
		return lp_diag_fail(diag, -ESTALE,
				    "base mismatch: the running slot holds sha256 %s… over its first %llu "
				    "bytes, not version %s (sha256 %s…) that delta %s applies to", have,
				    (unsigned long long)cut.size, pl->delta.base_version, want, pl->name);
	}
	*ret_base = cut;
	return 0;
}

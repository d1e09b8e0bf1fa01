/* SPDX-License-Identifier: MIT */
/*
 * One delta package: both packages are read through the verifying reader (signature by a
 * trusted key, every hash), their rootfs images land in unlinked temporary files that are
 * mmap'd for the engine (page cache, not anonymous memory), the patch goes to a third
 * temporary file, and lp_pkg_build stores it as the payload of a package that carries the
 * NEW package's identity (product, version, security_version, compatible, created).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/io.h"
#include "loopline/log.h"
#include "loopline/semver.h"
#include "pack.h"

#define ROOTFS_TARGET "rootfs"

struct image {
	int fd;
	struct lp_manifest *m;        /* the package's verified manifest */
	const struct lp_payload_info *pl; /* its rootfs image */
	const uint8_t *map;
	uint64_t size;
};

static int temp_open(struct lp_diag *diag)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !dir[0])
		dir = "/var/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "cannot create a temporary file in %s: %s", dir,
				    strerror(errno));
	return fd;
}

static int sink_fd(void *ctx, const void *data, size_t len)
{
	return lp_io_write_all(*(int *)ctx, data, len);
}

static const struct lp_payload_info *find_rootfs(const struct lp_manifest *m, const char *path,
						 struct lp_diag *diag)
{
	const struct lp_payload_info *found = NULL;

	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct lp_payload_info *p = &m->payloads[i];

		if (p->type == LP_PAYLOAD_DELTA) {
			lp_diag_fail(diag, -EINVAL, "%s is a delta package; deltas are made between "
				     "full packages", path);
			return NULL;
		}
		if (p->type != LP_PAYLOAD_IMAGE || strcmp(p->target, ROOTFS_TARGET) != 0) {
			lp_diag_fail(diag, -EOPNOTSUPP, "%s: payload %s (%s for %s): a delta package "
				     "holds one rootfs image and nothing else", path, p->name,
				     lp_payload_type_name(p->type), p->target);
			return NULL;
		}
		found = p;
	}
	if (!found || m->n_payloads != 1)
		lp_diag_fail(diag, -EINVAL, "%s: expected one rootfs image payload", path);
	return m->n_payloads == 1 ? found : NULL;
}

/* A copy of a manifest the reader owns (serialize, parse: one set of rules). */
static int manifest_copy(const struct lp_manifest *m, struct lp_manifest **ret, struct lp_diag *diag)
{
	char *text = lp_manifest_serialize(m);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = lp_manifest_parse(text, strlen(text), ret, diag);
	free(text);
	return rc;
}

/* Reads path through the verifying reader; its rootfs image into a mapped temp file. */
static int image_load(const char *path, const struct pack_delta_in *in, struct image *img,
		      struct lp_diag *diag)
{
	struct lp_pkg_policy policy = { .trusted = in->trusted, .decryption_keys = in->decrypt };
	struct lp_pkg_reader *r = NULL;
	const struct lp_manifest *m = NULL;
	const struct lp_payload_info *info;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", path, strerror(errno));
	rc = lp_pkg_reader_new_fd(fd, &policy, &r);
	if (rc == 0)
		rc = lp_pkg_reader_open(r, &m, diag);
	if (rc == 0 && !find_rootfs(m, path, diag))
		rc = -EINVAL;
	if (rc == 0)
		rc = img->fd = temp_open(diag);
	while (rc >= 0 && (rc = lp_pkg_reader_next(r, &info, diag)) == 1)
		rc = lp_pkg_reader_stream(r, sink_fd, &img->fd, diag);
	if (rc == 0)
		rc = manifest_copy(m, &img->m, diag);
	lp_pkg_reader_free(r);
	close(fd);
	if (rc < 0) {
		if (!diag || !diag->file[0])
			lp_diag_set_file(diag, path);
		return rc;
	}
	img->pl = &img->m->payloads[0];
	img->size = img->pl->size;
	if (img->size == 0)
		return 0;
	img->map = mmap(NULL, (size_t)img->size, PROT_READ, MAP_PRIVATE, img->fd, 0);
	if (img->map == MAP_FAILED) {
		img->map = NULL;
		return lp_diag_fail(diag, -errno, "%s: cannot map the image: %s", path, strerror(errno));
	}
	return 0;
}

static void image_clear(struct image *img)
{
	if (img->map)
		munmap((void *)img->map, (size_t)img->size);
	if (img->fd >= 0)
		close(img->fd);
	lp_manifest_free(img->m);
}

static int check_pair(const struct image *old, const struct image *nw, const char *to,
		      struct lp_diag *diag)
{
	int cmp;

	if (strcmp(old->m->product, nw->m->product) != 0)
		return lp_diag_fail(diag, -EINVAL, "the packages are of two products: %s and %s",
				    old->m->product, nw->m->product);
	if (lp_semver_compare_str(old->m->version, nw->m->version, &cmp) < 0 || cmp >= 0)
		return lp_diag_fail(diag, -EINVAL, "%s: version %s is not newer than %s", to,
				    nw->m->version, old->m->version);
	return 0;
}

/* The delta package: NEW's identity, one payload (the patch) with the delta facts. */
static int write_package(const struct pack_delta_in *in, const struct image *old,
			 const struct image *nw, int patch_fd, int out_fd,
			 struct lp_manifest **ret_manifest, struct lp_diag *diag)
{
	const struct lp_manifest *m = nw->m;
	struct lp_pkg_delta delta = { .size = nw->size };
	const char *compat[LP_PKG_MAX_COMPATIBLE];
	char name[LP_PKG_NAME_MAX + 1];
	struct lp_pkg_source src = {
		.name = name, .type = LP_PAYLOAD_DELTA, .target = ROOTFS_TARGET, .fd = patch_fd,
		.compression = LP_COMPRESSION_NONE, .delta = &delta, .encrypt_key = in->encrypt,
	};
	struct lp_pkg_build b = {
		.product = m->product, .version = m->version, .security_version = m->security_version,
		.compatible = compat, .n_compatible = m->n_compatible,
		.min_agent_version = m->min_agent_version[0] ? m->min_agent_version : NULL,
		.created = m->created, .sources = &src, .n_sources = 1,
		.keys = in->keys, .n_keys = in->n_keys,
	};

	for (size_t i = 0; i < m->n_compatible && i < LP_PKG_MAX_COMPATIBLE; i++)
		compat[i] = m->compatible[i];
	snprintf(name, sizeof(name), "rootfs.%s", LP_DELTA_ALGORITHM);
	snprintf(delta.base.algorithm, sizeof(delta.base.algorithm), "%s", LP_DELTA_ALGORITHM);
	snprintf(delta.base.base_version, sizeof(delta.base.base_version), "%s", old->m->version);
	memcpy(delta.base.base_sha256, old->pl->sha256, 32);
	delta.base.base_size = old->size;
	memcpy(delta.sha256, nw->pl->sha256, 32);
	if (lseek(patch_fd, 0, SEEK_SET) < 0)
		return lp_diag_fail(diag, -errno, "patch file: %s", strerror(errno));
	return lp_pkg_build(&b, out_fd, ret_manifest, diag);
}

int pack_delta_build(const struct pack_delta_in *in, int out_fd, struct lp_manifest **ret_manifest,
		     struct lp_delta_stats *ret_stats, struct lp_diag *diag)
{
	struct image old = { .fd = -1 }, nw = { .fd = -1 };
	struct lp_delta_create_opts opts = { .level = in->level };
	int patch_fd = -1, rc;

	rc = image_load(in->from, in, &old, diag);
	if (rc == 0)
		rc = image_load(in->to, in, &nw, diag);
	if (rc == 0)
		rc = check_pair(&old, &nw, in->to, diag);
	if (rc == 0)
		rc = patch_fd = temp_open(diag);
	if (rc < 0)
		goto out;
	log_debug("delta %s %s -> %s: %llu -> %llu bytes", old.m->product, old.m->version,
		  nw.m->version, (unsigned long long)old.size, (unsigned long long)nw.size);
	rc = lp_delta_create(old.map, old.size, nw.map, nw.size, &opts, sink_fd, &patch_fd, ret_stats,
			     diag);
	if (rc == 0)
		rc = write_package(in, &old, &nw, patch_fd, out_fd, ret_manifest, diag);
out:
	if (patch_fd >= 0)
		close(patch_fd);
	image_clear(&old);
	image_clear(&nw);
	return rc;
}

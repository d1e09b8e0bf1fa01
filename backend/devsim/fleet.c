/* SPDX-License-Identifier: MIT */
/*
 * The simulated devices: controller ids, fates, the state file that keeps their tokens
 * and versions between runs, and registration through the management API.
 *
 * State file (JSON, written atomically under an flock of FILE.lock, merged so that two
 * simulators with other indices can share one file):
 *   {"format":1,"devices":[{"cid":"sim-00001","token":"…","version":"1.0.0"},…]}
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "devsim.h"
#include "loopline/fs.h"
#include "loopline/http-client.h"
#include "loopline/json.h"
#include "loopline/log.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

enum sim_fate sim_fate_of(const struct sim_opts *o, const char *cid, bool *ret_bootloader)
{
	uint64_t h = 0xcbf29ce484222325ull ^ mix64(o->seed);
	double u;

	for (const char *p = cid; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull; /* FNV-1a */
	h = mix64(h);
	u = (double)(h >> 11) * 0x1.0p-53;
	*ret_bootloader = (mix64(h) & 1) != 0;
	if (u < o->fail_share)
		return SIM_FATE_FAIL;
	if (u < o->fail_share + o->rollback_share)
		return SIM_FATE_ROLLBACK;
	if (u < o->fail_share + o->rollback_share + o->silent_share)
		return SIM_FATE_SILENT;
	return SIM_FATE_OK;
}

const char *sim_fate_name(enum sim_fate f)
{
	static const char *const names[] = { "ok", "fail", "rollback", "silent" };

	return (unsigned)f < LP_ARRAY_SIZE(names) ? names[f] : "?";
}

const char *sim_result_name(enum sim_result r)
{
	static const char *const names[] = { "none", "downloading", "installing", "rebooting",
					     "success", "failure", "rollback", "canceled",
					     "abandoned" };

	return (unsigned)r < LP_ARRAY_SIZE(names) ? names[r] : "?";
}

/* ---- state file ---- */

static int state_lock(const char *path, int *ret_fd, struct lp_diag *diag)
{
	char lock[4096];
	int fd;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
		return lp_diag_fail(diag, -ENAMETOOLONG, "%s: path too long", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return lp_diag_fail(diag, err, "%s: %s", lock, strerror(-err));
	}
	*ret_fd = fd;
	return 0;
}

/* The state file's devices array (a new empty document if the file does not exist). */
static int state_read(const char *path, cJSON **ret_root, cJSON **ret_devices,
		      struct lp_diag *diag)
{
	static const struct lp_json_field fields[] = {
		{ "format", LP_JSON_INT, true },
		{ "devices", LP_JSON_ARRAY, true },
	};
	cJSON *root = NULL;
	int r;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		root = cJSON_CreateObject();
		if (!root || !cJSON_AddNumberToObject(root, "format", 1) ||
		    !cJSON_AddArrayToObject(root, "devices")) {
			cJSON_Delete(root);
			return lp_diag_fail(diag, -ENOMEM, "out of memory");
		}
	} else {
		r = lp_json_parse_file(path, SIM_STATE_MAX, 0, &root, diag);
		if (r < 0)
			return r;
		r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", diag);
		if (r < 0) {
			cJSON_Delete(root);
			return r;
		}
	}
	*ret_root = root;
	*ret_devices = cJSON_GetObjectItemCaseSensitive(root, "devices");
	return 0;
}

/* One entry of the state file into d (if it names d). 1 when it did, 0 if not, <0. */
static int state_entry(const cJSON *e, size_t i, struct sim_device *d, struct lp_diag *diag)
{
	static const struct lp_json_field fields[] = {
		{ "cid", LP_JSON_STRING, true },
		{ "token", LP_JSON_STRING, true },
		{ "version", LP_JSON_STRING, true },
	};
	char path[LP_JSON_PATH_MAX];
	const char *token, *version;

	lp_json_path_index(path, sizeof(path), "devices", i);
	if (lp_json_check(e, fields, LP_ARRAY_SIZE(fields), path, diag) < 0)
		return -EINVAL;
	if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "cid")->valuestring, d->cid) != 0)
		return 0;
	token = cJSON_GetObjectItemCaseSensitive(e, "token")->valuestring;
	version = cJSON_GetObjectItemCaseSensitive(e, "version")->valuestring;
	if (strlen(token) >= sizeof(d->token) || strlen(version) >= sizeof(d->version_now))
		return lp_diag_fail_at(diag, -EINVAL, path, "token or version too long");
	memcpy(d->token, token, strlen(token) + 1);
	memcpy(d->version_now, version, strlen(version) + 1);
	return 1;
}

static int cmp_cid(const void *a, const void *b)
{
	return strcmp(((const struct sim_device *)a)->cid, ((const struct sim_device *)b)->cid);
}

/* Takes tokens and versions of known devices from the state file; marks them known. */
static int state_apply(const cJSON *devices, struct sim_fleet *f, bool *known, struct lp_diag *diag)
{
	const cJSON *e;
	size_t i = 0;

	cJSON_ArrayForEach(e, devices) {
		const cJSON *cid = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "cid") : NULL;
		struct sim_device key, *d;
		int r;

		if (!cJSON_IsString(cid) || strlen(cid->valuestring) >= sizeof(key.cid)) {
			i++;
			continue; /* state_entry below reports it if it is one of ours */
		}
		memcpy(key.cid, cid->valuestring, strlen(cid->valuestring) + 1);
		d = bsearch(&key, f->devs, f->n, sizeof(*d), cmp_cid);
		if (d) {
			r = state_entry(e, i, d, diag);
			if (r < 0)
				return r;
			known[d - f->devs] = true;
		}
		i++;
	}
	return 0;
}

int sim_fleet_save(const struct sim_opts *o, const struct sim_fleet *f, struct lp_diag *diag)
{
	cJSON *root = NULL, *devices, *e, *next;
	char *text = NULL;
	int lock = -1, r;

	if (!o->state_path)
		return 0;
	r = state_lock(o->state_path, &lock, diag);
	if (r < 0)
		return r;
	r = state_read(o->state_path, &root, &devices, diag);
	if (r < 0)
		goto out;
	/* drop our devices' old entries, then add them anew */
	for (e = devices->child; e; e = next) {
		const cJSON *cid = cJSON_GetObjectItemCaseSensitive(e, "cid");
		struct sim_device key;

		next = e->next;
		if (!cJSON_IsString(cid) || strlen(cid->valuestring) >= sizeof(key.cid))
			continue;
		memcpy(key.cid, cid->valuestring, strlen(cid->valuestring) + 1);
		if (bsearch(&key, f->devs, f->n, sizeof(key), cmp_cid))
			cJSON_Delete(cJSON_DetachItemViaPointer(devices, e));
	}
	r = -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		const struct sim_device *d = &f->devs[i];

		if (!d->token[0])
			continue; /* gateway-token devices have nothing to keep */
		e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(devices, e) || !cJSON_AddStringToObject(e, "cid", d->cid) ||
		    !cJSON_AddStringToObject(e, "token", d->token) ||
		    !cJSON_AddStringToObject(e, "version", d->version_now))
			goto out;
	}
	text = cJSON_Print(root);
	if (!text)
		goto out;
	r = lp_fs_write_atomic(o->state_path, text, strlen(text), 0600, 0);
	if (r < 0)
		lp_diag_fail(diag, r, "%s: %s", o->state_path, strerror(-r));
out:
	if (r == -ENOMEM)
		lp_diag_fail(diag, r, "out of memory");
	free(text);
	cJSON_Delete(root);
	close(lock);
	return r;
}

/* ---- registration ---- */

static int register_one(struct lp_http_client *c, const struct sim_opts *o, struct sim_device *d,
			struct lp_diag *diag)
{
	cJSON *body = cJSON_CreateObject(), *tags, *ans = NULL;
	const char *token = NULL;
	long status = 0;
	int r = -ENOMEM;

	if (!body || !cJSON_AddStringToObject(body, "controller_id", d->cid) ||
	    !(tags = cJSON_AddArrayToObject(body, "tags")))
		goto out;
	for (size_t i = 0; i < o->n_tags; i++)
		if (!cJSON_AddItemToArray(tags, cJSON_CreateString(o->tags[i])))
			goto out;
	r = lp_http_json(c, "POST", "/api/v1/devices", body, &status, &ans, diag);
	if (r < 0) {
		if (status == 409)
			lp_diag_fail(diag, -EEXIST, "%s exists already on the backend but is not in the "
				     "state file (its token is unknown)", d->cid);
		goto out;
	}
	if (lp_json_get_string(ans, "token", true, "", &token, diag) < 0 ||
	    strlen(token) >= sizeof(d->token)) {
		r = lp_diag_fail(diag, -EPROTO, "POST /api/v1/devices: no token in the answer");
		goto out;
	}
	memcpy(d->token, token, strlen(token) + 1);
	r = 0;
out:
	if (r == -ENOMEM)
		lp_diag_fail(diag, r, "out of memory");
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return r;
}

static int register_unknown(const struct sim_opts *o, struct sim_fleet *f, const bool *known,
			    struct lp_diag *diag)
{
	struct lp_http_client_opts ho = {
		.base_url = o->register_url, .token = o->mgmt_token, .cacert = o->cacert,
		.timeout_s = 30,
	};
	struct lp_http_client *c = NULL;
	int r = lp_http_client_new(&ho, &c);

	if (r < 0)
		return lp_diag_fail(diag, r, "cannot set up the management API client");
	for (size_t i = 0; i < f->n && r == 0; i++) {
		if (known[i])
			continue;
		r = register_one(c, o, &f->devs[i], diag);
		if (r == 0)
			f->registered++;
	}
	lp_http_client_free(c);
	return r;
}

static int fleet_build(const struct sim_opts *o, struct sim_fleet *f, struct lp_diag *diag)
{
	f->devs = calloc(o->count, sizeof(*f->devs));
	if (!f->devs)
		return lp_diag_fail(diag, -ENOMEM, "out of memory for %llu devices",
				    (unsigned long long)o->count);
	f->n = o->count;
	for (size_t i = 0; i < f->n; i++) {
		struct sim_device *d = &f->devs[i];
		int n = snprintf(d->cid, sizeof(d->cid), "%s%05llu", o->prefix,
				 (unsigned long long)(o->start_index + i));

		if (n < 0 || (size_t)n >= sizeof(d->cid))
			return lp_diag_fail(diag, -EINVAL, "controller id %s… too long", d->cid);
		snprintf(d->version_now, sizeof(d->version_now), "%s", o->version);
		d->fate = sim_fate_of(o, d->cid, &d->rollback_bootloader);
		d->heap_pos = UINT32_MAX;
	}
	/* sorted so the state file's entries are found by bsearch; the ids are zero-padded
	 * numbers, so this is index order up to 99999 */
	qsort(f->devs, f->n, sizeof(*f->devs), cmp_cid);
	return 0;
}

int sim_fleet_load(const struct sim_opts *o, struct sim_fleet *ret, struct lp_diag *diag)
{
	struct sim_fleet f = { 0 };
	cJSON *root = NULL, *devices = NULL;
	bool *known = NULL;
	int lock = -1, r;

	r = fleet_build(o, &f, diag);
	if (r < 0)
		goto out;
	known = calloc(f.n, sizeof(*known));
	if (!known) {
		r = lp_diag_fail(diag, -ENOMEM, "out of memory");
		goto out;
	}
	if (o->state_path) {
		r = state_lock(o->state_path, &lock, diag);
		if (r == 0)
			r = state_read(o->state_path, &root, &devices, diag);
		if (r == 0)
			r = state_apply(devices, &f, known, diag);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < f.n; i++)
		f.reused += known[i];
	if (o->register_url && f.reused < f.n)
		r = register_unknown(o, &f, known, diag);
	for (size_t i = 0; i < f.n; i++)
		snprintf(f.devs[i].version_start, sizeof(f.devs[i].version_start), "%s",
			 f.devs[i].version_now);
	if (r == 0 && !o->gateway_token && f.reused < f.n && !o->register_url)
		r = lp_diag_fail(diag, -ENOENT, "%zu devices have no token: give --register, "
				 "--gateway-token or a --state file that has them", f.n - f.reused);
out:
	if (lock >= 0)
		close(lock);
	cJSON_Delete(root);
	free(known);
	if (r < 0) {
		sim_fleet_free(&f);
		return r;
	}
	*ret = f;
	return 0;
}

void sim_fleet_free(struct sim_fleet *f)
{
	if (!f)
		return;
	free(f->devs);
	f->devs = NULL;
	f->n = 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The package description that `build` reads (docs/packager.md): strict JSON, unknown
 * keys and wrong types are errors with a path such as "payloads[0].compression".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/semver.h"
#include "pack.h"

bool pack_safe_name(const char *s)
{
	if (!s || !s[0] || s[0] == '.')
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '+'))
			return false;
	}
	return true;
}

static int copy_field(char *dst, size_t dst_len, const char *src, const char *path,
		      const char *key, struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];

	if (!src[0])
		return lp_diag_fail_at(diag, -EINVAL, lp_json_path_key(p, sizeof(p), path, key),
				       "must not be empty");
	if (strlen(src) >= dst_len)
		return lp_diag_fail_at(diag, -EINVAL, lp_json_path_key(p, sizeof(p), path, key),
				       "longer than %zu characters", dst_len - 1);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* One element of "payloads" (an lp_json_elem_fn; spec->ctx is the base directory for
 * relative sources, or NULL). Names must be unique among the payloads before it. */
static int parse_payload(const cJSON *obj, const char *path, void *elem, size_t index,
			 const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	const char *base_dir = spec->ctx;
	struct pack_payload_desc *pd = elem;
	static const struct lp_json_field fields[] = {
		{ "name", LP_JSON_STRING, true },
		{ "type", LP_JSON_STRING, false },
		{ "target", LP_JSON_STRING, true },
		{ "source", LP_JSON_STRING, true },
		{ "compression", LP_JSON_STRING, false },
		{ "zstd_level", LP_JSON_INT, false },
		{ "image_name", LP_JSON_STRING, false },
		{ "fstype", LP_JSON_STRING, false },
	};
	static const char *const types[] = { "image", "file", "script", NULL };
	static const enum lp_payload_type type_values[] = { LP_PAYLOAD_IMAGE, LP_PAYLOAD_FILE,
							    LP_PAYLOAD_SCRIPT };
	static const char *const compressions[] = { "none", "zstd", NULL };
	const char *name = NULL, *target = NULL, *source = NULL, *s;
	char p[LP_JSON_PATH_MAX];
	int type = 0, comp = 0, r;
	int64_t level = 0;

	if (!cJSON_IsObject(obj))
		return lp_diag_fail_at(diag, -EINVAL, path, "expected an object");
	r = lp_json_check(obj, fields, LP_ARRAY_SIZE(fields), path, diag);
	if (r < 0)
		return r;
	if ((r = lp_json_get_string(obj, "name", true, path, &name, diag)) < 0 ||
	    (r = lp_json_get_enum(obj, "type", false, types, path, &type, diag)) < 0 ||
	    (r = lp_json_get_string(obj, "target", true, path, &target, diag)) < 0 ||
	    (r = lp_json_get_string(obj, "source", true, path, &source, diag)) < 0 ||
	    (r = lp_json_get_enum(obj, "compression", false, compressions, path, &comp, diag)) < 0 ||
	    (r = lp_json_get_int(obj, "zstd_level", false, 1, 19, path, &level, diag)) < 0)
		return r;

	r = copy_field(pd->name, sizeof(pd->name), name, path, "name", diag);
	if (r < 0)
		return r;
	if (!pack_safe_name(name) || strchr(name, '+'))
		return lp_diag_fail_at(diag, -EINVAL, lp_json_path_key(p, sizeof(p), path, "name"),
				       "'%s' is not a valid member name ([A-Za-z0-9._-], "
				       "not starting with '.')", name);
	if (strcmp(name, "manifest.json") == 0 || strcmp(name, "manifest.sig") == 0)
		return lp_diag_fail_at(diag, -EINVAL, lp_json_path_key(p, sizeof(p), path, "name"),
				       "'%s' is reserved", name);
	for (const struct pack_payload_desc *before = pd - index; before < pd; before++)
		if (strcmp(before->name, name) == 0)
			return lp_diag_fail_at(diag, -EINVAL,
					       lp_json_path_key(p, sizeof(p), path, "name"),
					       "duplicate payload name '%s'", name);
	r = copy_field(pd->target, sizeof(pd->target), target, path, "target", diag);
	if (r < 0)
		return r;
	if (!source[0])
		return lp_diag_fail_at(diag, -EINVAL,
				       lp_json_path_key(p, sizeof(p), path, "source"),
				       "must not be empty");
	if (source[0] == '/' || !base_dir)
		r = snprintf(pd->source, sizeof(pd->source), "%s", source) < (int)sizeof(pd->source)
			    ? 0 : -ENAMETOOLONG;
	else
		r = lp_fs_path_join(pd->source, sizeof(pd->source), base_dir, source);
	if (r < 0)
		return lp_diag_fail_at(diag, -EINVAL,
				       lp_json_path_key(p, sizeof(p), path, "source"),
				       "path too long");
	pd->type = type_values[type];
	pd->compression = comp == 1 ? LP_COMPRESSION_ZSTD : LP_COMPRESSION_NONE;
	pd->zstd_level = (int)level;
	if (level && pd->compression != LP_COMPRESSION_ZSTD)
		return lp_diag_fail_at(diag, -EINVAL,
				       lp_json_path_key(p, sizeof(p), path, "zstd_level"),
				       "only allowed with \"compression\": \"zstd\"");
	s = NULL;
	if ((r = lp_json_get_string(obj, "image_name", false, path, &s, diag)) < 0)
		return r;
	if (s && (r = copy_field(pd->image_name, sizeof(pd->image_name), s, path, "image_name",
				 diag)) < 0)
		return r;
	s = NULL;
	if ((r = lp_json_get_string(obj, "fstype", false, path, &s, diag)) < 0)
		return r;
	if (s && (r = copy_field(pd->fstype, sizeof(pd->fstype), s, path, "fstype", diag)) < 0)
		return r;
	return 0;
}

static int parse_root(const cJSON *root, const char *base_dir, struct pack_description *d,
		      struct lp_diag *diag)
{
	static const struct lp_json_field fields[] = {
		{ "product", LP_JSON_STRING, true },
		{ "version", LP_JSON_STRING, true },
		{ "security_version", LP_JSON_INT, true },
		{ "compatible", LP_JSON_ARRAY, true },
		{ "min_agent_version", LP_JSON_STRING, false },
		{ "payloads", LP_JSON_ARRAY, true },
	};
	static const struct lp_json_array_spec compatible_spec = {
		.key = "compatible",
		.min = 1,
		.max = LP_PKG_MAX_COMPATIBLE,
		.elem_size = LP_PKG_FIELD_MAX,
		.parse = lp_json_elem_string,
		.ctx = LP_JSON_UNIQUE,
	};
	const struct lp_json_array_spec payloads_spec = {
		.key = "payloads",
		.min = 1,
		.max = LP_PKG_MAX_PAYLOADS,
		.elem_size = sizeof(struct pack_payload_desc),
		.parse = parse_payload,
		.ctx = (void *)base_dir, /* read-only in parse_payload */
	};
	const char *product = NULL, *version = NULL, *agent = NULL;
	int64_t secver = 0;
	void *elems;
	int r;

	r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", diag);
	if (r < 0)
		return r;
	if ((r = lp_json_get_string(root, "product", true, "", &product, diag)) < 0 ||
	    (r = lp_json_get_string(root, "version", true, "", &version, diag)) < 0 ||
	    (r = lp_json_get_int(root, "security_version", true, 0, INT64_MAX, "", &secver,
				 diag)) < 0 ||
	    (r = lp_json_get_string(root, "min_agent_version", false, "", &agent, diag)) < 0)
		return r;
	if ((r = copy_field(d->product, sizeof(d->product), product, "", "product", diag)) < 0)
		return r;
	if (!pack_safe_name(product))
		return lp_diag_fail_at(diag, -EINVAL, "product",
				       "'%s' has characters outside [A-Za-z0-9._+-] or starts "
				       "with '.'", product);
	if ((r = copy_field(d->version, sizeof(d->version), version, "", "version", diag)) < 0)
		return r;
	if (lp_semver_parse(version, &(struct lp_semver){ 0 }, NULL) < 0)
		return lp_diag_fail_at(diag, -EINVAL, "version",
				       "'%s' is not a semantic version (e.g. 1.2.0)", version);
	d->security_version = (uint64_t)secver;
	if (agent) {
		r = copy_field(d->min_agent_version, sizeof(d->min_agent_version), agent, "",
			       "min_agent_version", diag);
		if (r < 0)
			return r;
		if (lp_semver_parse(agent, &(struct lp_semver){ 0 }, NULL) < 0)
			return lp_diag_fail_at(diag, -EINVAL, "min_agent_version",
					       "'%s' is not a semantic version", agent);
	}

	r = lp_json_get_array(root, "", &compatible_spec, &elems, &d->n_compatible, diag);
	if (r < 0)
		return r;
	d->compatible = elems;
	r = lp_json_get_array(root, "", &payloads_spec, &elems, &d->n_payloads, diag);
	if (r < 0)
		return r;
	d->payloads = elems;
	return 0;
}

static int description_from_tree(const cJSON *root, const char *base_dir,
				 struct pack_description **ret, struct lp_diag *diag)
{
	struct pack_description *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (!cJSON_IsObject(root))
		r = lp_diag_fail(diag, -EINVAL, "expected a JSON object");
	else
		r = parse_root(root, base_dir, d, diag);
	if (r < 0) {
		pack_description_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

int pack_description_parse(const char *text, size_t len, const char *base_dir,
			   struct pack_description **ret, struct lp_diag *diag)
{
	cJSON *root = NULL;
	int r;

	r = lp_json_parse(text, len, PACK_DESC_MAX, 0, &root, diag);
	if (r < 0)
		return r;
	r = description_from_tree(root, base_dir, ret, diag);
	cJSON_Delete(root);
	return r;
}

int pack_description_load(const char *path, struct pack_description **ret,
			  struct lp_diag *diag)
{
	char base[4096];
	cJSON *root = NULL;
	int r;

	if (lp_fs_dirname(base, sizeof(base), path) < 0)
		return lp_diag_fail(diag, -ENAMETOOLONG, "path too long");

	r = lp_json_parse_file(path, PACK_DESC_MAX, 0, &root, diag);
	if (r < 0)
		return r;
	r = description_from_tree(root, base, ret, diag);
	cJSON_Delete(root);
	if (r < 0)
		lp_diag_set_file(diag, path);
	return r;
}

void pack_description_free(struct pack_description *d)
{
	if (!d)
		return;
	free(d->compatible);
	free(d->payloads);
	free(d);
}

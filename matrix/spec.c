/* SPDX-License-Identifier: MIT */
/*
 * The matrix spec (docs/matrix.md, "Spec"): strict YAML through lib/yaml, checked in one
 * pass that resolves every name before anything runs — axis values, component sources,
 * inventory boards, scenario files, config and include/exclude/required entries — so a
 * typo fails with FILE:LINE:COL before a single QEMU boots.
 *
 * Sections are read in dependency order (inventory and components before the axes that
 * name them, the axes before everything that names their values), not in file order.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/codec.h"
#include "loopline/fs.h"
#include "loopline/hash.h"
#include "loopline/json.h"
#include "loopline/yaml.h"
#include "loopline-hil/inventory.h"
#include "matrix.h"

#define MX_TIMEOUT_MIN_MS 1000ull
#define MX_TIMEOUT_MAX_MS (24ull * 3600 * 1000)
#define MX_TIMEOUT_DEFAULT_MS (10ull * 60 * 1000)
#define MX_REPO_DEPTH_MAX 64

static const char *const core_names[MX_CORE_AXES] = { "target", "backend", "agent", "from", "to" };

struct ctx {
	const struct lp_yaml *y;
	struct mx_spec *s;
	struct lp_hil_inventory *inv;
	char spec_dir[PATH_MAX]; /* absolute directory of the spec */
};

/* ---- names ---- */

static bool name_char(char ch, const char *extra)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr(extra, ch));
}

bool mx_name_valid(const char *s, enum mx_name_kind kind)
{
	size_t n = strlen(s);

	if (n == 0 || n >= MX_NAME_MAX)
		return false;
	switch (kind) {
	case MX_NAME_VALUE:
		if (s[0] == '.' || s[0] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!name_char(s[i], "._+-"))
				return false;
		return true;
	case MX_NAME_KEY:
		if ((s[0] >= '0' && s[0] <= '9') || s[0] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!name_char(s[i], "_-"))
				return false;
		return true;
	}
	return false;
}

static const char *name_rule(enum mx_name_kind kind)
{
	return kind == MX_NAME_VALUE
		       ? "1-63 characters of A-Z a-z 0-9 . _ + -, not starting with . or -"
		       : "1-63 characters of A-Z a-z 0-9 _ -, starting with a letter or _";
}

/* A name (value, key) from a scalar node, checked. */
static int get_name(struct ctx *c, const yaml_node_t *n, const char *path, enum mx_name_kind kind,
		    char buf[MX_NAME_MAX])
{
	char tmp[MX_VALUE_TEXT_MAX];
	int r = lp_yaml_string(c->y, n, path, false, tmp, sizeof(tmp));

	if (r < 0)
		return r;
	if (!mx_name_valid(tmp, kind))
		return lp_yaml_fail(c->y, n, path, "\"%s\" is not a valid name (%s)", tmp,
				    name_rule(kind));
	memcpy(buf, tmp, strlen(tmp) + 1);
	return 0;
}

/* "a, b, c" (cut with "…" when long) for messages that list the choices. */
static const char *value_list(const struct mx_axis *a, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n_values && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", a->values[i].name);

		if (w < 0 || (size_t)w >= len - used) {
			snprintf(buf + (len > 8 ? len - 8 : 0), len > 8 ? 8 : len, ", …");
			break;
		}
		used += (size_t)w;
	}
	return buf;
}

int mx_spec_axis(const struct mx_spec *s, const char *name)
{
	for (size_t i = 0; i < s->n_axes; i++)
		if (strcmp(s->axes[i].name, name) == 0)
			return (int)i;
	return -1;
}

int mx_axis_value(const struct mx_axis *a, const char *name)
{
	for (size_t i = 0; i < a->n_values; i++)
		if (strcmp(a->values[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- paths ---- */

static int resolve_path(struct ctx *c, const yaml_node_t *n, const char *path, const char *in,
			char *out, size_t size)
{
	int r;

	if (in[0] == '/')
		r = snprintf(out, size, "%s", in) >= (int)size ? -ENAMETOOLONG : 0;
	else if (strcmp(in, ".") == 0)
		r = snprintf(out, size, "%s", c->s->base_dir) >= (int)size ? -ENAMETOOLONG : 0;
	else
		r = lp_fs_path_join(out, size, c->s->base_dir,
				    strncmp(in, "./", 2) == 0 ? in + 2 : in);
	if (r < 0)
		return lp_yaml_fail(c->y, n, path, "path too long");
	return 0;
}

/* A path from a scalar node, resolved against base_dir; must_be 'd' (directory), 'f'
 * (regular file) or 0 (not checked). */
static int get_path(struct ctx *c, const yaml_node_t *n, const char *path, int must_be,
		    char *out, size_t size)
{
	char tmp[PATH_MAX];
	struct stat st;
	int r;

	if ((r = lp_yaml_string(c->y, n, path, false, tmp, sizeof(tmp))) < 0 ||
	    (r = resolve_path(c, n, path, tmp, out, size)) < 0)
		return r;
	if (must_be == 'd' && (stat(out, &st) < 0 || !S_ISDIR(st.st_mode)))
		return lp_yaml_fail(c->y, n, path, "no such directory: %s", out);
	if (must_be == 'f' && (stat(out, &st) < 0 || !S_ISREG(st.st_mode)))
		return lp_yaml_fail(c->y, n, path, "no such file: %s", out);
	return 0;
}

/* The nearest directory at or above dir holding .git (a directory, or a file in a git
 * worktree); "" if none. */
static void find_repo_root(const char *dir, char *out, size_t size)
{
	char cur[PATH_MAX], probe[PATH_MAX + 8];
	struct stat st;

	out[0] = '\0';
	if (snprintf(cur, sizeof(cur), "%s", dir) >= (int)sizeof(cur))
		return;
	for (int depth = 0; depth < MX_REPO_DEPTH_MAX; depth++) {
		char *slash;

		snprintf(probe, sizeof(probe), "%s/.git", cur);
		if (stat(probe, &st) == 0) {
			snprintf(out, size, "%s", cur[0] ? cur : "/");
			return;
		}
		slash = strrchr(cur, '/');
		if (!slash || (slash == cur && cur[1] == '\0'))
			return;
		if (slash == cur)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/* Where the spec is: its absolute directory, the repository around it, base_dir. */
static int locate(struct ctx *c, const char *name, const char *dir)
{
	char d[PATH_MAX], *abs;

	if (dir)
		snprintf(d, sizeof(d), "%s", dir);
	else if (lp_fs_dirname(d, sizeof(d), name ? name : "") < 0)
		return -ENAMETOOLONG;
	abs = realpath(d, NULL);
	if (abs) {
		snprintf(c->spec_dir, sizeof(c->spec_dir), "%s", abs);
		free(abs);
	} else if (d[0] == '/') {
		snprintf(c->spec_dir, sizeof(c->spec_dir), "%s", d);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    lp_fs_path_join(c->spec_dir, sizeof(c->spec_dir), cwd, d) < 0)
			return -ENAMETOOLONG;
	}
	find_repo_root(c->spec_dir, c->s->repo_root, sizeof(c->s->repo_root));
	snprintf(c->s->base_dir, sizeof(c->s->base_dir), "%s",
		 c->s->repo_root[0] ? c->s->repo_root : c->spec_dir);
	return 0;
}

/* ---- components ---- */

static int parse_prebuilt(struct ctx *c, const yaml_node_t *n, const char *path,
			  struct mx_source *src)
{
	static const struct lp_yaml_key keys[] = {
		{ "x86_64", LP_YAML_SCALAR, false },
		{ "aarch64", LP_YAML_SCALAR, false },
	};
	char sub[LP_DIAG_PATH_MAX];
	const yaml_node_t *v;
	int r;

	if (lp_yaml_kind(n) == LP_YAML_SCALAR)
		return get_path(c, n, path, 'f', src->path, sizeof(src->path));
	if ((r = lp_yaml_check_map(c->y, n, path, keys, LP_ARRAY_SIZE(keys))) < 0)
		return r;
	if (lp_yaml_map_len(n) == 0)
		return lp_yaml_fail(c->y, n, path, "give a file for x86_64, aarch64 or both");
	if ((v = lp_yaml_map_get_path(c->y, n, path, "x86_64", sub, sizeof(sub))) &&
	    (r = get_path(c, v, sub, 'f', src->path, sizeof(src->path))) < 0)
		return r;
	if ((v = lp_yaml_map_get_path(c->y, n, path, "aarch64", sub, sizeof(sub))) &&
	    (r = get_path(c, v, sub, 'f', src->prebuilt_aarch64, sizeof(src->prebuilt_aarch64))) < 0)
		return r;
	return 0;
}

static bool git_ref_ok(const char *s)
{
	if (!s[0] || s[0] == '-')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '\\' || *s == ':' || *s == '?' ||
		    *s == '*' || *s == '[')
			return false;
	return true;
}

static int parse_source(struct ctx *c, const yaml_node_t *n, const char *path,
			struct mx_source *src)
{
	static const struct lp_yaml_key keys[] = {
		{ "path", LP_YAML_SCALAR, false },
		{ "git", LP_YAML_SCALAR, false },
		{ "prebuilt", LP_YAML_ANY, false },
	};
	char sub[LP_DIAG_PATH_MAX];
	const yaml_node_t *v;
	int r;

	if ((r = lp_yaml_check_map(c->y, n, path, keys, LP_ARRAY_SIZE(keys))) < 0)
		return r;
	if (lp_yaml_map_len(n) != 1)
		return lp_yaml_fail(c->y, n, path, "give exactly one of path, git or prebuilt");
	if ((v = lp_yaml_map_get_path(c->y, n, path, "path", sub, sizeof(sub)))) {
		src->kind = MX_SOURCE_PATH;
		return get_path(c, v, sub, 'd', src->path, sizeof(src->path));
	}
	if ((v = lp_yaml_map_get_path(c->y, n, path, "git", sub, sizeof(sub)))) {
		src->kind = MX_SOURCE_GIT;
		if ((r = lp_yaml_string(c->y, v, sub, false, src->git, sizeof(src->git))) < 0)
			return r;
		if (!git_ref_ok(src->git))
			return lp_yaml_fail(c->y, v, sub, "\"%s\" is not a git ref", src->git);
		if (!c->s->repo_root[0])
			return lp_yaml_fail(c->y, v, sub,
					    "git sources are refs of the repository the spec is in, "
					    "and %s is not inside one", c->spec_dir);
		return 0;
	}
	src->kind = MX_SOURCE_PREBUILT;
	return parse_prebuilt(c, lp_yaml_map_get(c->y, n, "prebuilt"),
			      lp_json_path_key(sub, sizeof(sub), path, "prebuilt"), src);
}

static int parse_component_list(struct ctx *c, const yaml_node_t *n, const char *path,
				struct mx_component **ret, size_t *ret_n)
{
	size_t len = lp_yaml_map_len(n);
	struct mx_component *list;
	int r;

	if ((r = lp_yaml_check_names(c->y, n, path, MX_VALUES_MAX, "component")) < 0)
		return r;
	/* one spare for the implicit current */
	list = calloc(len + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	*ret = list;
	for (size_t i = 0; i < len; i++) {
		char sub[LP_DIAG_PATH_MAX];
		yaml_node_t *k, *v;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		lp_json_path_key(sub, sizeof(sub), path, lp_yaml_text(k));
		if ((r = get_name(c, k, sub, MX_NAME_VALUE, list[i].name)) < 0 ||
		    (r = parse_source(c, v, sub, &list[i].source)) < 0)
			return r;
		list[i].line = lp_yaml_line(k);
		list[i].column = lp_yaml_column(k);
		*ret_n = i + 1;
	}
	return 0;
}

static int parse_components(struct ctx *c, const yaml_node_t *n)
{
	static const struct lp_yaml_key keys[] = {
		{ "agent", LP_YAML_MAPPING, false },
		{ "backend", LP_YAML_MAPPING, false },
	};
	const yaml_node_t *v;
	int r;

	if (n && (r = lp_yaml_check_map(c->y, n, "components", keys, LP_ARRAY_SIZE(keys))) < 0)
		return r;
	v = n ? lp_yaml_map_get(c->y, n, "agent") : NULL;
	if (v && (r = parse_component_list(c, v, "components.agent", &c->s->agents,
					   &c->s->n_agents)) < 0)
		return r;
	v = n ? lp_yaml_map_get(c->y, n, "backend") : NULL;
	if (v && (r = parse_component_list(c, v, "components.backend", &c->s->backends,
					   &c->s->n_backends)) < 0)
		return r;
	/* the spare slot for current, also when the section is missing */
	if (!c->s->agents && !(c->s->agents = calloc(1, sizeof(*c->s->agents))))
		return -ENOMEM;
	if (!c->s->backends && !(c->s->backends = calloc(1, sizeof(*c->s->backends))))
		return -ENOMEM;
	return 0;
}

const struct mx_component *mx_spec_component(const struct mx_spec *s, enum mx_core_axis axis,
					     const char *name)
{
	const struct mx_component *list = axis == MX_AXIS_AGENT ? s->agents : s->backends;
	size_t n = axis == MX_AXIS_AGENT ? s->n_agents : s->n_backends;

	if (axis != MX_AXIS_AGENT && axis != MX_AXIS_BACKEND)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

/* The component a backend/agent value (or a to's agent) names; `current` defaults to the
 * repository the spec is in. n is the node that names it (for the error). */
static int need_component(struct ctx *c, enum mx_core_axis axis, const char *name,
			  const yaml_node_t *n, const char *path, const struct mx_component **ret)
{
	struct mx_component *list = axis == MX_AXIS_AGENT ? c->s->agents : c->s->backends;
	size_t *count = axis == MX_AXIS_AGENT ? &c->s->n_agents : &c->s->n_backends;
	const char *what = core_names[axis];

	*ret = mx_spec_component(c->s, axis, name);
	if (*ret)
		return 0;
	if (strcmp(name, "current") != 0)
		return lp_yaml_fail(c->y, n, path,
				    "%s \"%s\" has no source: add it under components.%s "
				    "(path, git or prebuilt)", what, name, what);
	if (!c->s->repo_root[0])
		return lp_yaml_fail(c->y, n, path,
				    "%s \"current\" has no source: %s is not inside a git "
				    "repository, so give components.%s.current", what, c->spec_dir,
				    what);
	/* parse_components left one spare slot */
	snprintf(list[*count].name, sizeof(list[*count].name), "current");
	list[*count].source.kind = MX_SOURCE_PATH;
	snprintf(list[*count].source.path, sizeof(list[*count].source.path), "%s",
		 c->s->repo_root);
	*ret = &list[(*count)++];
	return 0;
}

/* ---- axes ---- */

static int parse_in_use(struct ctx *c, const yaml_node_t *n, const char *path)
{
	static const struct lp_yaml_key keys[] = {
		{ "in-use", LP_YAML_SCALAR, true },  { "token", LP_YAML_SCALAR, false },
		{ "cacert", LP_YAML_SCALAR, false }, { "tag", LP_YAML_SCALAR, false },
		{ "compatible", LP_YAML_SCALAR, false },
	};
	struct mx_in_use *u = &c->s->in_use;
	const struct {
		const char *key;
		char *buf;
		size_t size;
	} strings[] = { { "token", u->token, sizeof(u->token) },
			{ "tag", u->tag, sizeof(u->tag) },
			{ "compatible", u->compatible, sizeof(u->compatible) } };
	char sub[LP_DIAG_PATH_MAX];
	const yaml_node_t *v;
	int r;

	if (u->enabled)
		return lp_yaml_fail(c->y, n, path, "at most one in-use entry");
	if ((r = lp_yaml_check_map(c->y, n, path, keys, LP_ARRAY_SIZE(keys))) < 0)
		return r;
	u->enabled = true;
	u->line = lp_yaml_line(n);
	u->column = lp_yaml_column(n);
	v = lp_yaml_map_get_path(c->y, n, path, "in-use", sub, sizeof(sub));
	if ((r = lp_yaml_string(c->y, v, sub, false, u->url, sizeof(u->url))) < 0)
		return r;
	if (strncmp(u->url, "https://", 8) != 0 && strncmp(u->url, "http://", 7) != 0 &&
	    strncmp(u->url, "${", 2) != 0)
		return lp_yaml_fail(c->y, v, sub, "expected the backend's URL (https://…), found \"%s\"",
				    u->url);
	for (size_t i = 0; i < LP_ARRAY_SIZE(strings); i++)
		if ((v = lp_yaml_map_get_path(c->y, n, path, strings[i].key, sub, sizeof(sub))) &&
		    (r = lp_yaml_string(c->y, v, sub, false, strings[i].buf, strings[i].size)) < 0)
			return r;
	if ((v = lp_yaml_map_get_path(c->y, n, path, "cacert", sub, sizeof(sub))) &&
	    (r = get_path(c, v, sub, 0, u->cacert, sizeof(u->cacert))) < 0)
		return r;
	return 0;
}

/* to: {version: V, agent: A, name: N}: the firmware V built with agent A, called N. */
static int parse_to_value(struct ctx *c, const yaml_node_t *n, const char *path,
			  struct mx_value *val)
{
	static const struct lp_yaml_key keys[] = {
		{ "version", LP_YAML_SCALAR, true },
		{ "agent", LP_YAML_SCALAR, false },
		{ "name", LP_YAML_SCALAR, false },
	};
	char sub[LP_DIAG_PATH_MAX];
	const yaml_node_t *v;
	int r;

	if ((r = lp_yaml_check_map(c->y, n, path, keys, LP_ARRAY_SIZE(keys))) < 0 ||
	    (r = get_name(c, lp_yaml_map_get_path(c->y, n, path, "version", sub, sizeof(sub)), sub,
			  MX_NAME_VALUE, val->version)) < 0)
		return r;
	if ((v = lp_yaml_map_get_path(c->y, n, path, "agent", sub, sizeof(sub))) &&
	    (r = get_name(c, v, sub, MX_NAME_VALUE, val->to_agent)) < 0)
		return r;
	if ((v = lp_yaml_map_get_path(c->y, n, path, "name", sub, sizeof(sub))))
		return get_name(c, v, sub, MX_NAME_VALUE, val->name);
	memcpy(val->name, val->version, sizeof(val->name));
	return 0;
}

/* One item of an axis list into val; *ret_skip for the from axis's in-use entry. */
static int parse_value(struct ctx *c, int axis, const yaml_node_t *n, const char *path,
		       struct mx_value *val, bool *ret_skip)
{
	*ret_skip = false;
	val->line = lp_yaml_line(n);
	val->column = lp_yaml_column(n);
	if (lp_yaml_kind(n) == LP_YAML_MAPPING && axis == MX_AXIS_FROM) {
		*ret_skip = true;
		return parse_in_use(c, n, path);
	}
	if (lp_yaml_kind(n) == LP_YAML_MAPPING && axis == MX_AXIS_TO)
		return parse_to_value(c, n, path, val);
	if (lp_yaml_kind(n) == LP_YAML_MAPPING)
		return lp_yaml_fail(c->y, n, path, "expected a value name, found a mapping");
	return get_name(c, n, path, MX_NAME_VALUE, val->name);
}

/* What the core axes' values refer to: targets, component sources, firmware versions. */
static int link_value(struct ctx *c, int axis, const yaml_node_t *n, const char *path,
		      struct mx_value *val)
{
	const struct lp_hil_board_config *b;
	const struct mx_component *comp;
	int r;

	switch (axis) {
	case MX_AXIS_TARGET:
		if (strcmp(val->name, "qemu-x86_64") == 0 || strcmp(val->name, "qemu-aarch64") == 0) {
			val->target_kind = MX_TARGET_QEMU;
			return 0;
		}
		b = lp_hil_inventory_find(c->inv, val->name);
		if (!b)
			return lp_yaml_fail(c->y, n, path,
					    "unknown target \"%s\": qemu-x86_64, qemu-aarch64 or a "
					    "board of the inventory%s", val->name,
					    c->inv ? "" : " (no inventory given)");
		val->target_kind = MX_TARGET_BOARD;
		snprintf(val->target_type, sizeof(val->target_type), "%s", b->target ? b->target : "");
		return 0;
	case MX_AXIS_BACKEND:
	case MX_AXIS_AGENT:
		if ((r = need_component(c, axis, val->name, n, path, &comp)) < 0)
			return r;
		val->source = comp->source;
		return 0;
	case MX_AXIS_FROM:
		memcpy(val->version, val->name, sizeof(val->version));
		return 0;
	case MX_AXIS_TO:
		if (!val->version[0])
			memcpy(val->version, val->name, sizeof(val->version));
		if (!val->to_agent[0])
			snprintf(val->to_agent, sizeof(val->to_agent), "current");
		return need_component(c, MX_AXIS_AGENT, val->to_agent, n, path, &comp);
	default:
		return 0;
	}
}

static int parse_axis(struct ctx *c, const yaml_node_t *k, const yaml_node_t *list, int axis)
{
	struct mx_axis *a = &c->s->axes[axis];
	char path[LP_DIAG_PATH_MAX], sub[LP_DIAG_PATH_MAX];
	size_t n;
	int r;

	lp_json_path_key(path, sizeof(path), "axes", lp_yaml_text(k));
	snprintf(a->name, sizeof(a->name), "%s", lp_yaml_text(k));
	a->line = lp_yaml_line(k);
	a->column = lp_yaml_column(k);
	if (axis == MX_AXIS_FROM && lp_yaml_kind(list) == LP_YAML_MAPPING)
		return parse_in_use(c, list, path); /* from: {in-use: …} alone */
	if ((r = lp_yaml_check_seq(c->y, list, path, 1, MX_VALUES_MAX)) < 0)
		return r;
	n = lp_yaml_seq_len(list);
	a->values = calloc(n, sizeof(*a->values));
	if (!a->values)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *item = lp_yaml_seq_item(c->y, list, i);
		struct mx_value *val = &a->values[a->n_values];
		bool skip;
		int dup;

		lp_json_path_index(sub, sizeof(sub), path, i);
		if ((r = parse_value(c, axis, item, sub, val, &skip)) < 0)
			return r;
		if (skip)
			continue;
		dup = mx_axis_value(a, val->name);
		if (dup >= 0)
			return lp_yaml_fail(c->y, item, sub, "duplicate value \"%s\" (first at line %u)%s",
					    val->name, a->values[dup].line,
					    axis == MX_AXIS_TO ? "; one version with two agents needs a "
								 "name: {version: V, agent: A, name: N}"
							       : "");
		if ((r = link_value(c, axis, item, sub, val)) < 0)
			return r;
		a->n_values++;
	}
	return 0;
}

static int parse_axes(struct ctx *c, const yaml_node_t *n)
{
	size_t len = lp_yaml_map_len(n);
	char path[LP_DIAG_PATH_MAX];
	int r;

	if ((r = lp_yaml_check_names(c->y, n, "axes", SIZE_MAX, "axis")) < 0)
		return r;
	if (len > MX_AXES_MAX)
		return lp_yaml_fail(c->y, n, "axes", "at most %d axes (the %d core axes and %d "
				    "configuration axes), found %zu", MX_AXES_MAX, MX_CORE_AXES,
				    MX_AXES_MAX - MX_CORE_AXES, len);
	for (int a = 0; a < MX_CORE_AXES; a++)
		if (!lp_yaml_map_get(c->y, n, core_names[a]))
			return lp_yaml_fail(c->y, n, lp_json_path_key(path, sizeof(path), "axes",
								      core_names[a]),
					    "missing core axis \"%s\" (target, backend, agent, from "
					    "and to are required)", core_names[a]);
	c->s->n_axes = MX_CORE_AXES;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *k, *v;
		int axis = -1;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		for (int a = 0; a < MX_CORE_AXES; a++)
			if (strcmp(lp_yaml_text(k), core_names[a]) == 0)
				axis = a;
		lp_json_path_key(path, sizeof(path), "axes", lp_yaml_text(k));
		if (axis < 0) {
			if (!mx_name_valid(lp_yaml_text(k), MX_NAME_KEY))
				return lp_yaml_fail(c->y, k, path, "\"%s\" is not a valid axis name (%s)",
						    lp_yaml_text(k), name_rule(MX_NAME_KEY));
			if (strcmp(lp_yaml_text(k), "scenario") == 0)
				return lp_yaml_fail(c->y, k, path,
						    "\"scenario\" is not an axis: list scenarios under "
						    "scenarios:");
			axis = (int)c->s->n_axes++;
		}
		if ((r = parse_axis(c, k, v, axis)) < 0)
			return r;
	}
	return 0;
}

/* ---- config ---- */

static int parse_vars(struct ctx *c, const yaml_node_t *n, const char *path, cJSON **ret)
{
	size_t len = lp_yaml_map_len(n);
	cJSON *obj;
	int r;

	if ((r = lp_yaml_check_names(c->y, n, path, MX_EXTRA_MAX * 4, "variable")) < 0)
		return r;
	if (!(obj = cJSON_CreateObject()))
		return -ENOMEM;
	*ret = obj;
	for (size_t i = 0; i < len; i++) {
		char sub[LP_DIAG_PATH_MAX], name[MX_NAME_MAX], value[MX_VALUE_TEXT_MAX];
		yaml_node_t *k, *v;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		lp_json_path_key(sub, sizeof(sub), path, lp_yaml_text(k));
		if ((r = get_name(c, k, sub, MX_NAME_KEY, name)) < 0 ||
		    (r = lp_yaml_string(c->y, v, sub, true, value, sizeof(value))) < 0)
			return r;
		if (!cJSON_AddStringToObject(obj, name, value))
			return -ENOMEM;
	}
	return 0;
}

static int parse_settings(struct ctx *c, const yaml_node_t *n, const char *path,
			  struct mx_settings *set)
{
	static const struct lp_yaml_key keys[] = {
		{ "vars", LP_YAML_MAPPING, false },    { "agent", LP_YAML_MAPPING, false },
		{ "package", LP_YAML_MAPPING, false }, { "backend", LP_YAML_MAPPING, false },
	};
	const struct {
		const char *key;
		cJSON **json;
	} parts[] = { { "agent", &set->agent }, { "package", &set->package },
		      { "backend", &set->backend } };
	char sub[LP_DIAG_PATH_MAX];
	const yaml_node_t *v;
	int r;

	if ((r = lp_yaml_check_map(c->y, n, path, keys, LP_ARRAY_SIZE(keys))) < 0)
		return r;
	if ((v = lp_yaml_map_get_path(c->y, n, path, "vars", sub, sizeof(sub))) &&
	    (r = parse_vars(c, v, sub, &set->vars)) < 0)
		return r;
	for (size_t i = 0; i < LP_ARRAY_SIZE(parts); i++)
		if ((v = lp_yaml_map_get_path(c->y, n, path, parts[i].key, sub, sizeof(sub))) &&
		    (r = lp_yaml_to_json(c->y, v, sub, parts[i].json)) < 0)
			return r;
	return 0;
}

static int parse_config_axis(struct ctx *c, const yaml_node_t *k, const yaml_node_t *n)
{
	char path[LP_DIAG_PATH_MAX], sub[LP_DIAG_PATH_MAX], list[256];
	int axis = mx_spec_axis(c->s, lp_yaml_text(k));
	struct mx_axis *a;
	size_t len;
	int r;

	lp_json_path_key(path, sizeof(path), "config", lp_yaml_text(k));
	if (axis < 0)
		return lp_yaml_fail(c->y, k, path, "unknown axis \"%s\" (not under axes:)",
				    lp_yaml_text(k));
	if (axis < MX_CORE_AXES)
		return lp_yaml_fail(c->y, k, path,
				    "\"%s\" is a core axis: config applies to configuration axes "
				    "(components: says where core values come from)", lp_yaml_text(k));
	a = &c->s->axes[axis];
	if ((r = lp_yaml_check_names(c->y, n, path, MX_VALUES_MAX, "value")) < 0)
		return r;
	len = lp_yaml_map_len(n);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *vk, *vv;
		int val;

		lp_yaml_map_pair(c->y, n, i, &vk, &vv);
		lp_json_path_key(sub, sizeof(sub), path, lp_yaml_text(vk));
		val = mx_axis_value(a, lp_yaml_text(vk));
		if (val < 0)
			return lp_yaml_fail(c->y, vk, sub, "unknown value \"%s\" of axis %s (values: %s)",
					    lp_yaml_text(vk), a->name, value_list(a, list, sizeof(list)));
		if ((r = parse_settings(c, vv, sub, &a->values[val].settings)) < 0)
			return r;
	}
	return 0;
}

static int parse_config(struct ctx *c, const yaml_node_t *n)
{
	size_t len = lp_yaml_map_len(n);
	int r;

	if ((r = lp_yaml_check_names(c->y, n, "config", MX_AXES_MAX, "axis")) < 0)
		return r;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *k, *v;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		if ((r = parse_config_axis(c, k, v)) < 0)
			return r;
	}
	return 0;
}

/* ---- firmware ---- */

static bool firmware_version_known(const struct mx_spec *s, const char *version)
{
	const struct mx_axis *to = &s->axes[MX_AXIS_TO];

	if (s->in_use.enabled || mx_axis_value(&s->axes[MX_AXIS_FROM], version) >= 0)
		return true;
	for (size_t i = 0; i < to->n_values; i++)
		if (strcmp(to->values[i].version, version) == 0)
			return true;
	return false;
}

static int parse_firmware_version(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v)
{
	static const struct lp_yaml_key keys[] = { { "prebuilt", LP_YAML_MAPPING, true } };
	const struct mx_axis *targets = &c->s->axes[MX_AXIS_TARGET];
	char path[LP_DIAG_PATH_MAX], sub[LP_DIAG_PATH_MAX], tsub[LP_DIAG_PATH_MAX], list[256];
	char version[MX_NAME_MAX];
	const yaml_node_t *pre;
	size_t len;
	int r;

	lp_json_path_key(path, sizeof(path), "firmware", lp_yaml_text(k));
	if ((r = get_name(c, k, path, MX_NAME_VALUE, version)) < 0)
		return r;
	if (!firmware_version_known(c->s, version))
		return lp_yaml_fail(c->y, k, path, "version \"%s\" is not a from or to version",
				    version);
	if ((r = lp_yaml_check_map(c->y, v, path, keys, LP_ARRAY_SIZE(keys))) < 0)
		return r;
	pre = lp_yaml_map_get(c->y, v, "prebuilt");
	lp_json_path_key(sub, sizeof(sub), path, "prebuilt");
	if ((r = lp_yaml_check_names(c->y, pre, sub, MX_VALUES_MAX, "target")) < 0)
		return r;
	len = lp_yaml_map_len(pre);
	for (size_t i = 0; i < len; i++) {
		struct mx_firmware_pkg *f = &c->s->firmware[c->s->n_firmware];
		yaml_node_t *tk, *tv;

		lp_yaml_map_pair(c->y, pre, i, &tk, &tv);
		lp_json_path_key(tsub, sizeof(tsub), sub, lp_yaml_text(tk));
		if (mx_axis_value(targets, lp_yaml_text(tk)) < 0)
			return lp_yaml_fail(c->y, tk, tsub, "unknown target \"%s\" (values: %s)",
					    lp_yaml_text(tk), value_list(targets, list, sizeof(list)));
		if ((r = get_path(c, tv, tsub, 'f', f->path, sizeof(f->path))) < 0)
			return r;
		memcpy(f->version, version, sizeof(f->version));
		snprintf(f->target, sizeof(f->target), "%s", lp_yaml_text(tk));
		f->line = lp_yaml_line(tv);
		f->column = lp_yaml_column(tv);
		c->s->n_firmware++;
	}
	return 0;
}

static int parse_firmware(struct ctx *c, const yaml_node_t *n)
{
	size_t len = lp_yaml_map_len(n), total = 0;
	int r;

	if ((r = lp_yaml_check_names(c->y, n, "firmware", 2 * MX_VALUES_MAX, "version")) < 0)
		return r;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *k, *v;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		total += lp_yaml_map_len(lp_yaml_map_get(c->y, v, "prebuilt"));
	}
	c->s->firmware = calloc(total ? total : 1, sizeof(*c->s->firmware));
	if (!c->s->firmware)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *k, *v;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		if ((r = parse_firmware_version(c, k, v)) < 0)
			return r;
	}
	return 0;
}

const char *mx_spec_firmware_pkg(const struct mx_spec *s, const char *version,
				 const char *target)
{
	for (size_t i = 0; i < s->n_firmware; i++)
		if (strcmp(s->firmware[i].version, version) == 0 &&
		    strcmp(s->firmware[i].target, target) == 0)
			return s->firmware[i].path;
	return NULL;
}

/* ---- scenarios ---- */

static int parse_scenario(struct ctx *c, const yaml_node_t *n, const char *path,
			  struct mx_scenario_ref *sc)
{
	static const struct lp_yaml_key keys[] = {
		{ "name", LP_YAML_SCALAR, true },
		{ "timeout", LP_YAML_SCALAR, false },
	};
	char sub[LP_DIAG_PATH_MAX], file[PATH_MAX + MX_NAME_MAX + 8];
	const yaml_node_t *name = n, *v;
	struct stat st;
	int r;

	if (lp_yaml_kind(n) == LP_YAML_MAPPING) {
		if ((r = lp_yaml_check_map(c->y, n, path, keys, LP_ARRAY_SIZE(keys))) < 0)
			return r;
		name = lp_yaml_map_get(c->y, n, "name");
		v = lp_yaml_map_get(c->y, n, "timeout");
		if (v && (r = lp_yaml_duration(c->y, v, lp_json_path_key(sub, sizeof(sub), path,
									  "timeout"),
					       MX_TIMEOUT_MIN_MS, MX_TIMEOUT_MAX_MS,
					       &sc->timeout_ms)) < 0)
			return r;
		lp_json_path_key(sub, sizeof(sub), path, "name");
	} else {
		snprintf(sub, sizeof(sub), "%s", path);
	}
	if ((r = get_name(c, name, sub, MX_NAME_VALUE, sc->name)) < 0)
		return r;
	snprintf(file, sizeof(file), "%s/%s.hil", c->s->scenario_dir, sc->name);
	if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
		return lp_yaml_fail(c->y, name, sub, "unknown scenario \"%s\": no file %s", sc->name,
				    file);
	return 0;
}

static int parse_scenarios(struct ctx *c, const yaml_node_t *n)
{
	char sub[LP_DIAG_PATH_MAX];
	size_t len;
	int r;

	if ((r = lp_yaml_check_seq(c->y, n, "scenarios", 1, MX_SCENARIOS_MAX)) < 0)
		return r;
	len = lp_yaml_seq_len(n);
	c->s->scenarios = calloc(len, sizeof(*c->s->scenarios));
	if (!c->s->scenarios)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *item = lp_yaml_seq_item(c->y, n, i);

		lp_json_path_index(sub, sizeof(sub), "scenarios", i);
		if ((r = parse_scenario(c, item, sub, &c->s->scenarios[i])) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->s->scenarios[j].name, c->s->scenarios[i].name) == 0)
				return lp_yaml_fail(c->y, item, sub, "duplicate scenario \"%s\"",
						    c->s->scenarios[i].name);
		c->s->n_scenarios = i + 1;
	}
	return 0;
}

int mx_spec_scenario(const struct mx_spec *s, const char *name)
{
	for (size_t i = 0; i < s->n_scenarios; i++)
		if (strcmp(s->scenarios[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- include, exclude, required ---- */

enum match_list { MATCH_INCLUDE, MATCH_EXCLUDE, MATCH_REQUIRED };
static const char *const match_names[] = { "include", "exclude", "required" };

/* A value of an axis named in an entry: must be one of the axis's values (from values
 * are free while the versions in use are not known yet). */
static int match_axis_value(struct ctx *c, int axis, const yaml_node_t *v, const char *path,
			    struct mx_match_kv *kv)
{
	const struct mx_axis *a = &c->s->axes[axis];
	char list[256], name[MX_NAME_MAX];
	int r;

	if ((r = get_name(c, v, path, MX_NAME_VALUE, name)) < 0)
		return r;
	memcpy(kv->value, name, sizeof(name));
	if (mx_axis_value(a, name) >= 0 || (axis == MX_AXIS_FROM && c->s->in_use.enabled))
		return 0;
	return lp_yaml_fail(c->y, v, path, "unknown value \"%s\" of axis %s (values: %s)", name,
			    a->name, value_list(a, list, sizeof(list)));
}

static int parse_match_kv(struct ctx *c, enum match_list which, const yaml_node_t *k,
			  const yaml_node_t *v, const char *path, struct mx_match_kv *kv)
{
	const char *key = lp_yaml_text(k);
	int axis = mx_spec_axis(c->s, key), r;

	snprintf(kv->key, sizeof(kv->key), "%s", key);
	if (axis >= 0) {
		kv->axis = axis;
		return match_axis_value(c, axis, v, path, kv);
	}
	if (strcmp(key, "scenario") == 0) {
		kv->axis = MX_MATCH_SCENARIO;
		if ((r = get_name(c, v, path, MX_NAME_VALUE, kv->value)) < 0)
			return r;
		if (mx_spec_scenario(c->s, kv->value) < 0)
			return lp_yaml_fail(c->y, v, path, "unknown scenario \"%s\" (not in scenarios:)",
					    kv->value);
		return 0;
	}
	if (which != MATCH_INCLUDE)
		return lp_yaml_fail(c->y, k, path, "unknown key \"%s\": %s keys are axes or scenario",
				    key, match_names[which]);
	if (!mx_name_valid(key, MX_NAME_KEY))
		return lp_yaml_fail(c->y, k, path, "\"%s\" is not a valid key (%s)", key,
				    name_rule(MX_NAME_KEY));
	kv->axis = MX_MATCH_EXTRA;
	return lp_yaml_string(c->y, v, path, true, kv->value, sizeof(kv->value));
}

static int parse_match(struct ctx *c, enum match_list which, const yaml_node_t *n,
		       const char *path, struct mx_match *m)
{
	size_t len = lp_yaml_map_len(n), extras = 0;
	int r;

	if ((r = lp_yaml_check_names(c->y, n, path, MX_AXES_MAX + 1 + MX_EXTRA_MAX, "key")) < 0)
		return r;
	if (len == 0)
		return lp_yaml_fail(c->y, n, path, "an empty entry (it would match everything)");
	m->line = lp_yaml_line(n);
	m->column = lp_yaml_column(n);
	m->kv = calloc(len, sizeof(*m->kv));
	if (!m->kv)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char sub[LP_DIAG_PATH_MAX];
		yaml_node_t *k, *v;

		lp_yaml_map_pair(c->y, n, i, &k, &v);
		lp_json_path_key(sub, sizeof(sub), path, lp_yaml_text(k));
		if ((r = parse_match_kv(c, which, k, v, sub, &m->kv[i])) < 0)
			return r;
		m->n = i + 1;
		if (m->kv[i].axis == MX_MATCH_EXTRA && ++extras > MX_EXTRA_MAX)
			return lp_yaml_fail(c->y, k, sub, "at most %d extra keys in an entry",
					    MX_EXTRA_MAX);
	}
	return 0;
}

static int parse_matches(struct ctx *c, enum match_list which, const yaml_node_t *n,
			 struct mx_match **ret, size_t *ret_n)
{
	const char *name = match_names[which];
	bool single = lp_yaml_kind(n) == LP_YAML_MAPPING;
	size_t len = single ? 1 : lp_yaml_seq_len(n);
	char sub[LP_DIAG_PATH_MAX];
	int r;

	if (!single && (r = lp_yaml_check_seq(c->y, n, name, 0, MX_MATCHES_MAX)) < 0)
		return r;
	*ret = calloc(len ? len : 1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *e = single ? n : lp_yaml_seq_item(c->y, n, i);

		if (single)
			snprintf(sub, sizeof(sub), "%s", name);
		else
			lp_json_path_index(sub, sizeof(sub), name, i);
		r = parse_match(c, which, e, sub, &(*ret)[i]);
		*ret_n = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the document ---- */

static int parse_top(struct ctx *c, const yaml_node_t *root, const char *file_name)
{
	struct mx_spec *s = c->s;
	const yaml_node_t *v;
	char tmp[PATH_MAX];
	int r;

	v = lp_yaml_map_get(c->y, root, "name");
	if (v && (r = get_name(c, v, "name", MX_NAME_VALUE, s->name)) < 0)
		return r;
	if (!v)
		mx_spec_default_name(file_name, s->name);
	s->default_timeout_ms = MX_TIMEOUT_DEFAULT_MS;
	v = lp_yaml_map_get(c->y, root, "timeout");
	if (v && (r = lp_yaml_duration(c->y, v, "timeout", MX_TIMEOUT_MIN_MS, MX_TIMEOUT_MAX_MS,
				       &s->default_timeout_ms)) < 0)
		return r;
	v = lp_yaml_map_get(c->y, root, "scenario_dir");
	if (v && (r = get_path(c, v, "scenario_dir", 'd', s->scenario_dir,
			       sizeof(s->scenario_dir))) < 0)
		return r;
	if (!v && !s->repo_root[0])
		return lp_yaml_fail(c->y, lp_yaml_map_get(c->y, root, "scenarios"), "scenario_dir",
				    "%s is not inside a git repository, so say where the "
				    "scenario files are (scenario_dir:)", c->spec_dir);
	if (!v && lp_fs_path_join(s->scenario_dir, sizeof(s->scenario_dir), s->repo_root,
				  "matrix/scenarios") < 0)
		return lp_yaml_fail(c->y, root, "scenario_dir", "path too long");
	v = lp_yaml_map_get(c->y, root, "inventory");
	if (v) {
		struct lp_diag inv_diag;

		if ((r = get_path(c, v, "inventory", 'f', s->inventory, sizeof(s->inventory))) < 0)
			return r;
		r = lp_hil_inventory_load(s->inventory, &c->inv, &inv_diag);
		if (r < 0) {
			/* the error is in the inventory: say where, then what */
			lp_diag_format(&inv_diag, tmp, sizeof(tmp));
			return lp_yaml_fail(c->y, v, "inventory", "%s", tmp);
		}
	}
	return 0;
}

static int parse_root(struct ctx *c, const yaml_node_t *root, const char *file_name)
{
	static const struct lp_yaml_key keys[] = {
		{ "name", LP_YAML_SCALAR, false },         { "axes", LP_YAML_MAPPING, true },
		{ "config", LP_YAML_MAPPING, false },      { "components", LP_YAML_MAPPING, false },
		{ "firmware", LP_YAML_MAPPING, false },    { "scenarios", LP_YAML_SEQUENCE, true },
		{ "scenario_dir", LP_YAML_SCALAR, false }, { "inventory", LP_YAML_SCALAR, false },
		{ "timeout", LP_YAML_SCALAR, false },      { "exclude", LP_YAML_ANY, false },
		{ "include", LP_YAML_ANY, false },         { "required", LP_YAML_ANY, false },
	};
	struct mx_spec *s = c->s;
	const yaml_node_t *v;
	int r;

	if (!root)
		return lp_yaml_fail(c->y, NULL, "", "empty spec (expected axes: and scenarios:)");
	if ((r = lp_yaml_check_map(c->y, root, "", keys, LP_ARRAY_SIZE(keys))) < 0 ||
	    (r = parse_top(c, root, file_name)) < 0 ||
	    (r = parse_components(c, lp_yaml_map_get(c->y, root, "components"))) < 0 ||
	    (r = parse_axes(c, lp_yaml_map_get(c->y, root, "axes"))) < 0 ||
	    (r = parse_scenarios(c, lp_yaml_map_get(c->y, root, "scenarios"))) < 0)
		return r;
	if ((v = lp_yaml_map_get(c->y, root, "config")) && (r = parse_config(c, v)) < 0)
		return r;
	if ((v = lp_yaml_map_get(c->y, root, "firmware")) && (r = parse_firmware(c, v)) < 0)
		return r;
	if ((v = lp_yaml_map_get(c->y, root, "exclude")) &&
	    (r = parse_matches(c, MATCH_EXCLUDE, v, &s->exclude, &s->n_exclude)) < 0)
		return r;
	if ((v = lp_yaml_map_get(c->y, root, "include")) &&
	    (r = parse_matches(c, MATCH_INCLUDE, v, &s->include, &s->n_include)) < 0)
		return r;
	if ((v = lp_yaml_map_get(c->y, root, "required")) &&
	    (r = parse_matches(c, MATCH_REQUIRED, v, &s->required, &s->n_required)) < 0)
		return r;
	s->in_use.n_fixed = s->axes[MX_AXIS_FROM].n_values;
	return 0;
}

/* "matrix/default.yaml" -> "default"; characters a name cannot hold become '-'. */
void mx_spec_default_name(const char *file_name, char name[MX_NAME_MAX])
{
	const char *base = file_name ? strrchr(file_name, '/') : NULL;
	size_t n;

	base = base ? base + 1 : (file_name ? file_name : "");
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
		n -= 4;
	if (n >= MX_NAME_MAX)
		n = MX_NAME_MAX - 1;
	for (size_t i = 0; i < n; i++)
		name[i] = name_char(base[i], "._+-") ? base[i] : '-';
	name[n] = '\0';
	if (!mx_name_valid(name, MX_NAME_VALUE))
		snprintf(name, MX_NAME_MAX, "spec");
}

int mx_spec_parse(const char *text, size_t len, const char *name, const char *base_dir,
		  struct mx_spec **ret_spec, struct lp_diag *diag)
{
	struct ctx c = { 0 };
	struct lp_yaml *y = NULL;
	uint8_t digest[LP_HASH_MAX_LEN];
	int r;

	if (!name)
		name = "<spec>";
	r = lp_yaml_load(text, len, MX_SPEC_FILE_MAX, name, &y, diag);
	if (r < 0)
		return r;
	c.y = y;
	c.s = calloc(1, sizeof(*c.s));
	if (!c.s) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(c.s->path, sizeof(c.s->path), "%s", name);
	if ((r = lp_hash_buffer(LP_HASH_SHA256, text, len, digest)) < 0)
		goto out;
	lp_hex_encode(digest, LP_SHA256_LEN, c.s->sha256);
	if ((r = locate(&c, name, base_dir)) < 0) {
		r = lp_diag_fail(diag, r, "cannot locate the spec's directory");
		goto out;
	}
	r = parse_root(&c, lp_yaml_root(y), name);
	if (r < 0)
		goto out;
	*ret_spec = c.s;
	c.s = NULL;
out:
	mx_spec_free(c.s);
	lp_hil_inventory_free(c.inv);
	lp_yaml_free(y);
	return r;
}

int mx_spec_load(const char *path, struct mx_spec **ret_spec, struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	lp_diag_clear(diag);
	r = lp_fs_read_file_diag(path, MX_SPEC_FILE_MAX, &buf, &len, diag);
	if (r < 0)
		return r == -EFBIG ? -E2BIG : r;
	r = mx_spec_parse(buf, len, path, NULL, ret_spec, diag);
	free(buf);
	return r;
}

static void settings_free(struct mx_settings *set)
{
	cJSON_Delete(set->vars);
	cJSON_Delete(set->agent);
	cJSON_Delete(set->package);
	cJSON_Delete(set->backend);
}

static void matches_free(struct mx_match *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		free(m[i].kv);
	free(m);
}

void mx_spec_free(struct mx_spec *s)
{
	if (!s)
		return;
	for (size_t a = 0; a < s->n_axes || a < MX_CORE_AXES; a++) {
		for (size_t v = 0; s->axes[a].values && v < s->axes[a].n_values; v++)
			settings_free(&s->axes[a].values[v].settings);
		free(s->axes[a].values);
	}
	free(s->scenarios);
	matches_free(s->include, s->n_include);
	matches_free(s->exclude, s->n_exclude);
	matches_free(s->required, s->n_required);
	free(s->agents);
	free(s->backends);
	free(s->firmware);
	free(s);
}

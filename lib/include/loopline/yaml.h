/* SPDX-License-Identifier: MIT */
/*
 * Strict YAML input on top of libyaml's document loader (library loopline-yaml, which
 * links libyaml; libloopline itself does not, so the device agent never carries it).
 *
 * A document is loaded once into a node tree that keeps positions; schema code then walks
 * it with these helpers, and every error lands in the document's struct lp_diag with the
 * file, the 1-based line and column of the offending node and its element path
 * ("axes.target[2]"), e.g.
 *
 *	spec.yaml:7:14: components.agent.previous: unknown key "gti"
 *
 * What is refused while loading: more than max_len bytes, NUL bytes, syntax errors,
 * aliases (*name; anchors alone are harmless), nesting deeper than LP_YAML_MAX_DEPTH and
 * more than one document. What the helpers refuse: unknown and duplicate keys, wrong
 * kinds, nulls where a value is needed, strings over their maximum, numbers out of range,
 * YAML 1.1 booleans such as "yes" (only true/false), octal-looking integers.
 *
 * Element paths are built with lp_json_path_key/lp_json_path_index (loopline/json.h).
 * Nodes belong to their document: they are valid until lp_yaml_free().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include <cjson/cJSON.h>

#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_YAML_MAX_DEPTH 32  /* nested mappings and lists */

enum lp_yaml_kind {
	LP_YAML_ANY = 0,   /* in key tables: any kind */
	LP_YAML_SCALAR,
	LP_YAML_SEQUENCE,
	LP_YAML_MAPPING,
};

/* A loaded document and where its errors go. */
struct lp_yaml;

/*
 * Loads len bytes of YAML (need not be NUL-terminated). name is the file name used in
 * messages. diag (may be NULL) is set up for this document and receives every later
 * error of the helpers below. Returns 0 and the document (free with lp_yaml_free), or
 * -E2BIG (larger than max_len), -EINVAL (with position and message) or -ENOMEM. An empty
 * document loads; its root is NULL.
 */
LP_EXPORT int lp_yaml_load(const char *text, size_t len, size_t max_len, const char *name,
			   struct lp_yaml **ret_yaml, struct lp_diag *diag);
/* Reads path (at most max_len bytes) and loads it; name in messages is path. */
LP_EXPORT int lp_yaml_load_file(const char *path, size_t max_len, struct lp_yaml **ret_yaml,
				struct lp_diag *diag);
LP_EXPORT void lp_yaml_free(struct lp_yaml *y);

/* The root node, NULL for an empty document. */
LP_EXPORT yaml_node_t *lp_yaml_root(const struct lp_yaml *y);
/* The file name given to lp_yaml_load. */
LP_EXPORT const char *lp_yaml_name(const struct lp_yaml *y);

/* ---- nodes ---- */
LP_EXPORT enum lp_yaml_kind lp_yaml_kind(const yaml_node_t *n);
/* "a string", "a list", "a mapping", "null" (for messages: "expected X, found %s"). */
LP_EXPORT const char *lp_yaml_kind_name(const yaml_node_t *n);
/* 1-based position of the node's first character. */
LP_EXPORT unsigned lp_yaml_line(const yaml_node_t *n);
LP_EXPORT unsigned lp_yaml_column(const yaml_node_t *n);
/* A scalar's text (NUL-terminated), NULL for other kinds. */
LP_EXPORT const char *lp_yaml_text(const yaml_node_t *n);
/* A plain (unquoted) scalar, as opposed to '...' or "..." or a block scalar. */
LP_EXPORT bool lp_yaml_is_plain(const yaml_node_t *n);
/* A null: a plain scalar ~, null, Null, NULL or nothing at all ("key:"). */
LP_EXPORT bool lp_yaml_is_null(const yaml_node_t *n);

LP_EXPORT size_t lp_yaml_seq_len(const yaml_node_t *seq);
/* Item i of a list (NULL past the end or for other kinds). */
LP_EXPORT yaml_node_t *lp_yaml_seq_item(const struct lp_yaml *y, const yaml_node_t *seq,
					size_t i);
LP_EXPORT size_t lp_yaml_map_len(const yaml_node_t *map);
/* Pair i of a mapping: its key and value nodes. -ENOENT past the end. */
LP_EXPORT int lp_yaml_map_pair(const struct lp_yaml *y, const yaml_node_t *map, size_t i,
			       yaml_node_t **ret_key, yaml_node_t **ret_value);
/* The value of key in a mapping (the first, if checks were skipped), or NULL. */
LP_EXPORT yaml_node_t *lp_yaml_map_get(const struct lp_yaml *y, const yaml_node_t *map,
				       const char *key);
/* The same, also writing the value's element path ("path.key") into sub (len bytes):
 * `if ((v = lp_yaml_map_get_path(y, map, path, "port", sub, sizeof(sub))) && …(v, sub…)`. */
LP_EXPORT yaml_node_t *lp_yaml_map_get_path(const struct lp_yaml *y, const yaml_node_t *map,
					    const char *path, const char *key, char *sub,
					    size_t len);

/* ---- errors ---- */

/* Sets the diag to n's position (none if n is NULL), path and the message; returns
 * -EINVAL, so schema code writes `return lp_yaml_fail(y, n, path, "…", …);`. */
LP_EXPORT int lp_yaml_fail(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			   const char *fmt, ...) LP_PRINTF(4, 5);
/* The document's diag (NULL if none was given). */
LP_EXPORT struct lp_diag *lp_yaml_diag(const struct lp_yaml *y);

/* ---- mappings ---- */

/* One key of a table. kind LP_YAML_ANY accepts any value (also null). */
struct lp_yaml_key {
	const char *name;
	enum lp_yaml_kind kind;
	bool required;
};

/*
 * Checks that map is a mapping whose keys are all in keys (n entries), each at most once,
 * each value of the declared kind (a null is never a scalar value), and that the required
 * ones are there. path is map's own path ("" for the root). Errors name the key:
 * `unknown key "colour"`, `duplicate key "x" (first at line 3)`, `missing required key
 * "name"`, `expected a list, found a string`.
 */
LP_EXPORT int lp_yaml_check_map(const struct lp_yaml *y, const yaml_node_t *map,
				const char *path, const struct lp_yaml_key *keys, size_t n);
/*
 * For mappings whose keys the user chooses (names of things): map is a mapping of at
 * most max pairs whose keys are non-empty strings without NUL bytes, each at most once.
 * what names the keys in messages ("board", "axis").
 */
LP_EXPORT int lp_yaml_check_names(const struct lp_yaml *y, const yaml_node_t *map,
				  const char *path, size_t max, const char *what);
/* A list of at most max items (min..max). */
LP_EXPORT int lp_yaml_check_seq(const struct lp_yaml *y, const yaml_node_t *seq,
				const char *path, size_t min, size_t max);

/* ---- scalar conversions ---- (node n at path; n NULL = missing, which is an error) */

/* A string copied into buf (size bytes, NUL included): "expected a string, found …",
 * "must not be empty" (unless allow_empty), "longer than N characters". A quoted "null"
 * is a string; a plain null is not. */
LP_EXPORT int lp_yaml_string(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			     bool allow_empty, char *buf, size_t size);
/* A plain decimal integer within [min, max] (no sign for positive numbers, no leading
 * zeros, no 0x/0o forms, no underscores). */
LP_EXPORT int lp_yaml_int(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			  int64_t min, int64_t max, int64_t *ret);
/* true or false (plain). */
LP_EXPORT int lp_yaml_bool(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			   bool *ret);
/* A duration (lp_duration_parse: 30 = 30 s, 30s, 500ms, 5m, 2h) within [min_ms, max_ms]. */
LP_EXPORT int lp_yaml_duration(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			       uint64_t min_ms, uint64_t max_ms, uint64_t *ret_ms);
/* One of choices (NULL-terminated); *ret = its index. */
LP_EXPORT int lp_yaml_enum(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			   const char *const *choices, int *ret);

/*
 * Any node as JSON: mappings become objects (keys unique strings), lists arrays; plain
 * scalars become null, true, false or a number where they are one of those in JSON's own
 * spelling (null, true, false, -1.5e3), otherwise strings; quoted scalars are strings.
 * Free the result with cJSON_Delete.
 */
LP_EXPORT int lp_yaml_to_json(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
			      cJSON **ret_json);

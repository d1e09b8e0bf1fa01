/* SPDX-License-Identifier: MIT */
/*
 * Strict JSON input on top of cJSON: every config file and API body goes through here.
 *
 * Objects are checked against a field table: unknown keys, duplicate keys, missing
 * required keys and wrong types are errors, reported with an element path such as
 * "backends[1].url" (and, for syntax errors, line and column). Getters then read fields
 * with the same path-aware messages. Documents are limited in size and nesting depth.
 */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "loopline/common.h"
#include "loopline/diag.h"

#define LP_JSON_MAX_DEPTH 32
#define LP_JSON_PATH_MAX LP_DIAG_PATH_MAX

enum lp_json_kind {
	LP_JSON_ANY = 0,
	LP_JSON_STRING,
	LP_JSON_INT,    /* a number with no fractional part, within int64 */
	LP_JSON_NUMBER, /* any number */
	LP_JSON_BOOL,
	LP_JSON_OBJECT,
	LP_JSON_ARRAY,
	LP_JSON_NULL,
	LP_JSON_STRING_OR_NULL,
	LP_JSON_OBJECT_OR_NULL,
};

struct lp_json_field {
	const char *key;
	enum lp_json_kind kind;
	bool required;
};

/*
 * Parses text of length len (need not be NUL-terminated). Rejects: more than max_len
 * bytes, nesting deeper than max_depth (0 = LP_JSON_MAX_DEPTH), syntax errors (with line
 * and column in diag), duplicate keys anywhere, trailing garbage. Returns 0 and a tree
 * to free with cJSON_Delete, or -EINVAL/-E2BIG/-ENOMEM.
 */
LP_EXPORT int lp_json_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			    cJSON **ret_root, struct lp_diag *diag);
/* Reads a file (at most max_len bytes) and parses it; diag gets the file name. */
LP_EXPORT int lp_json_parse_file(const char *path, size_t max_len, unsigned max_depth,
				 cJSON **ret_root, struct lp_diag *diag);

/* Checks obj is an object whose keys are all in fields (n entries), each of the declared
 * kind, and that required ones are present. path is obj's own path ("" for the root). */
LP_EXPORT int lp_json_check(const cJSON *obj, const struct lp_json_field *fields, size_t n,
			    const char *path, struct lp_diag *diag);

/* Builds "path.key" or "path[i]" into buf; returns buf. */
LP_EXPORT const char *lp_json_path_key(char *buf, size_t len, const char *path, const char *key);
LP_EXPORT const char *lp_json_path_index(char *buf, size_t len, const char *path, size_t i);

/* Duplicate keys among n strings (the JSON and YAML parsers' check, O(n log n)): returns 1
 * with *ret_dup = the index of the earliest second use of a string and *ret_first = the
 * index of that string's first use, 0 when all differ, or -ENOMEM. */
LP_EXPORT int lp_keys_find_duplicate(const char *const *keys, size_t n, size_t *ret_first,
				     size_t *ret_dup);

/*
 * Getters: item = cJSON_GetObjectItemCaseSensitive(obj, key). A missing key leaves *ret
 * unchanged and returns 0 unless required (then -EINVAL "missing"). A present key of the
 * wrong kind or out of range is -EINVAL with path "path.key" in diag.
 */
LP_EXPORT int lp_json_get_string(const cJSON *obj, const char *key, bool required,
				 const char *path, const char **ret, struct lp_diag *diag);
LP_EXPORT int lp_json_get_int(const cJSON *obj, const char *key, bool required, int64_t min,
			      int64_t max, const char *path, int64_t *ret, struct lp_diag *diag);
LP_EXPORT int lp_json_get_bool(const cJSON *obj, const char *key, bool required,
			       const char *path, bool *ret, struct lp_diag *diag);
/* A string that must be one of choices (NULL-terminated list); *ret = its index. */
LP_EXPORT int lp_json_get_enum(const cJSON *obj, const char *key, bool required,
			       const char *const *choices, const char *path, int *ret,
			       struct lp_diag *diag);

/*
 * The "bounded array -> allocate -> iterate with the element path in errors" shape.
 * lp_json_get_array checks that obj[key] is an array of spec->min..spec->max elements
 * (a missing key is an empty array when min is 0), allocates that many zeroed elements
 * of elem_size bytes and calls parse() for each with its element path ("key[3]" under
 * path). Errors: -EINVAL for a missing key or a wrong kind or count, -E2BIG for more
 * than max elements, or what parse() returned; then every parsed element is passed to
 * free_elem (if set), the array is freed and the outputs are untouched. The element
 * whose parse() failed is not passed to free_elem: parse() frees what it allocated for
 * it before returning an error.
 * On success *ret_elems (free() it; NULL when empty) and *ret_n are set.
 */
struct lp_json_array_spec;
/* elem is element index of the array being filled; spec->ctx is the caller's. */
typedef int lp_json_elem_fn(const cJSON *item, const char *path, void *elem, size_t index,
			    const struct lp_json_array_spec *spec, struct lp_diag *diag);

struct lp_json_array_spec {
	const char *key;
	size_t min, max;
	size_t elem_size;
	lp_json_elem_fn *parse;
	void (*free_elem)(void *elem); /* optional: frees what parse() put inside one element */
	void *ctx;                     /* for parse() */
};

LP_EXPORT int lp_json_get_array(const cJSON *obj, const char *path,
				const struct lp_json_array_spec *spec, void **ret_elems,
				size_t *ret_n, struct lp_diag *diag);

/* An element parser for arrays of strings held in char[elem_size]: a non-empty string
 * shorter than elem_size; with ctx non-NULL, also no duplicates of earlier elements. */
LP_EXPORT int lp_json_elem_string(const cJSON *item, const char *path, void *elem, size_t index,
				  const struct lp_json_array_spec *spec, struct lp_diag *diag);
#define LP_JSON_UNIQUE ((void *)1) /* ctx for lp_json_elem_string: refuse duplicates */

/* Serialises without whitespace into a malloc'd string (caller frees), NULL on ENOMEM. */
LP_EXPORT char *lp_json_print(const cJSON *item);

/* SPDX-License-Identifier: MIT */
/*
 * Strict YAML (loopline-yaml): a first pass over libyaml's events refuses what the tree
 * cannot show (aliases, excessive nesting, a second document) with exact positions; then
 * libyaml's loader builds the node tree the helpers walk.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/cli.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/yaml.h"

struct lp_yaml {
	yaml_document_t doc;
	bool loaded;
	struct lp_diag *diag;
	char name[LP_DIAG_FILE_MAX];
};

static void set_mark(struct lp_diag *diag, const yaml_mark_t *m)
{
	lp_diag_set_pos(diag, (unsigned)m->line + 1, (unsigned)m->column + 1);
}

static int syntax_error(const yaml_parser_t *p, struct lp_diag *diag)
{
	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	set_mark(diag, &p->problem_mark);
	return lp_diag_fail(diag, -EINVAL, "YAML syntax error: %s%s%s",
			    p->problem ? p->problem : "unknown problem", p->context ? " " : "",
			    p->context ? p->context : "");
}

/* The first pass: aliases, depth and the number of documents. */
static int scan_events(const char *text, size_t len, struct lp_diag *diag)
{
	yaml_parser_t p;
	yaml_event_t ev;
	unsigned depth = 0, docs = 0;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && r == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = syntax_error(&p, diag);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				set_mark(diag, &ev.start_mark);
				r = lp_diag_fail(diag, -EINVAL, "only one YAML document is allowed");
			}
			break;
		case YAML_ALIAS_EVENT:
			set_mark(diag, &ev.start_mark);
			r = lp_diag_fail(diag, -EINVAL,
					 "aliases (*%s) are not allowed: write the value out",
					 (const char *)ev.data.alias.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > LP_YAML_MAX_DEPTH) {
				set_mark(diag, &ev.start_mark);
				r = lp_diag_fail(diag, -EINVAL, "nested deeper than %d levels",
						 LP_YAML_MAX_DEPTH);
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return r;
}

static void nul_position(const char *text, size_t off, struct lp_diag *diag)
{
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	lp_diag_set_pos(diag, line, col);
}

int lp_yaml_load(const char *text, size_t len, size_t max_len, const char *name,
		 struct lp_yaml **ret_yaml, struct lp_diag *diag)
{
	struct lp_yaml *y;
	yaml_parser_t p;
	const char *nul;
	int r;

	lp_diag_clear(diag);
	lp_diag_set_file(diag, name);
	if (len > max_len)
		return lp_diag_fail(diag, -E2BIG, "larger than %zu bytes", max_len);
	nul = memchr(text, '\0', len);
	if (nul) {
		nul_position(text, (size_t)(nul - text), diag);
		return lp_diag_fail(diag, -EINVAL, "contains a NUL byte");
	}
	r = scan_events(text, len, diag);
	if (r < 0)
		return r;
	y = calloc(1, sizeof(*y));
	if (!y)
		return -ENOMEM;
	y->diag = diag;
	snprintf(y->name, sizeof(y->name), "%s", name ? name : "");
	if (!yaml_parser_initialize(&p)) {
		free(y);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &y->doc)) {
		r = syntax_error(&p, diag);
		yaml_parser_delete(&p);
		free(y);
		return r;
	}
	yaml_parser_delete(&p);
	y->loaded = true;
	*ret_yaml = y;
	return 0;
}

int lp_yaml_load_file(const char *path, size_t max_len, struct lp_yaml **ret_yaml,
		      struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	lp_diag_clear(diag);
	r = lp_fs_read_file_diag(path, max_len, &buf, &len, diag);
	if (r < 0)
		return r == -EFBIG ? -E2BIG : r;
	r = lp_yaml_load(buf, len, max_len, path, ret_yaml, diag);
	free(buf);
	return r;
}

void lp_yaml_free(struct lp_yaml *y)
{
	if (!y)
		return;
	if (y->loaded)
		yaml_document_delete(&y->doc);
	free(y);
}

yaml_node_t *lp_yaml_root(const struct lp_yaml *y)
{
	return yaml_document_get_root_node((yaml_document_t *)&y->doc);
}

const char *lp_yaml_name(const struct lp_yaml *y)
{
	return y->name;
}

struct lp_diag *lp_yaml_diag(const struct lp_yaml *y)
{
	return y->diag;
}

/* ---- nodes ---- */

enum lp_yaml_kind lp_yaml_kind(const yaml_node_t *n)
{
	if (!n)
		return LP_YAML_ANY;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return LP_YAML_SCALAR;
	case YAML_SEQUENCE_NODE:
		return LP_YAML_SEQUENCE;
	case YAML_MAPPING_NODE:
		return LP_YAML_MAPPING;
	default:
		return LP_YAML_ANY;
	}
}

const char *lp_yaml_kind_name(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	if (lp_yaml_is_null(n))
		return "null";
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return lp_yaml_is_plain(n) ? "a scalar" : "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *kind_expected(enum lp_yaml_kind k)
{
	switch (k) {
	case LP_YAML_SCALAR:
		return "a single value";
	case LP_YAML_SEQUENCE:
		return "a list";
	case LP_YAML_MAPPING:
		return "a mapping";
	default:
		return "a value";
	}
}

unsigned lp_yaml_line(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

unsigned lp_yaml_column(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.column + 1 : 0;
}

const char *lp_yaml_text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool lp_yaml_is_plain(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool lp_yaml_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!lp_yaml_is_plain(n))
		return false;
	for (size_t i = 0; i < LP_ARRAY_SIZE(nulls); i++)
		if (strcmp(lp_yaml_text(n), nulls[i]) == 0)
			return true;
	return false;
}

size_t lp_yaml_seq_len(const yaml_node_t *seq)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *lp_yaml_seq_item(const struct lp_yaml *y, const yaml_node_t *seq, size_t i)
{
	if (i >= lp_yaml_seq_len(seq))
		return NULL;
	return yaml_document_get_node((yaml_document_t *)&y->doc,
				      seq->data.sequence.items.start[i]);
}

size_t lp_yaml_map_len(const yaml_node_t *map)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return 0;
	return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

int lp_yaml_map_pair(const struct lp_yaml *y, const yaml_node_t *map, size_t i,
		     yaml_node_t **ret_key, yaml_node_t **ret_value)
{
	const yaml_node_pair_t *p;

	if (i >= lp_yaml_map_len(map))
		return -ENOENT;
	p = &map->data.mapping.pairs.start[i];
	*ret_key = yaml_document_get_node((yaml_document_t *)&y->doc, p->key);
	*ret_value = yaml_document_get_node((yaml_document_t *)&y->doc, p->value);
	return 0;
}

yaml_node_t *lp_yaml_map_get(const struct lp_yaml *y, const yaml_node_t *map, const char *key)
{
	size_t n = lp_yaml_map_len(map);

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k, *v;
		const char *t;

		lp_yaml_map_pair(y, map, i, &k, &v);
		t = lp_yaml_text(k);
		if (t && strcmp(t, key) == 0)
			return v;
	}
	return NULL;
}

yaml_node_t *lp_yaml_map_get_path(const struct lp_yaml *y, const yaml_node_t *map,
				 const char *path, const char *key, char *sub, size_t len)
{
	lp_json_path_key(sub, len, path, key);
	return lp_yaml_map_get(y, map, key);
}

/* ---- errors ---- */

int lp_yaml_fail(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
		 const char *fmt, ...)
{
	struct lp_diag *d = y->diag;
	va_list ap;

	if (!d)
		return -EINVAL;
	lp_diag_set_file(d, y->name);
	lp_diag_set_pos(d, lp_yaml_line(n), lp_yaml_column(n));
	lp_diag_set_path(d, path);
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- mappings ---- */

/* A key must be a string: a scalar that is not a null and holds no NUL byte. */
static int check_key(const struct lp_yaml *y, const yaml_node_t *k, const char *path)
{
	if (!k || k->type != YAML_SCALAR_NODE || lp_yaml_is_null(k))
		return lp_yaml_fail(y, k, path, "keys must be strings, found %s",
				    lp_yaml_kind_name(k));
	if (strlen(lp_yaml_text(k)) != k->data.scalar.length)
		return lp_yaml_fail(y, k, path, "keys must not contain NUL bytes");
	return 0;
}

int lp_yaml_check_map(const struct lp_yaml *y, const yaml_node_t *map, const char *path,
		      const struct lp_yaml_key *keys, size_t n)
{
	const yaml_node_t *seen[64] = { 0 };
	char sub[LP_DIAG_PATH_MAX];
	size_t pairs = lp_yaml_map_len(map);

	if (n > LP_ARRAY_SIZE(seen))
		return -E2BIG; /* a programmer error: tables are small */
	if (lp_yaml_kind(map) != LP_YAML_MAPPING)
		return lp_yaml_fail(y, map, path, "expected a mapping, found %s",
				    lp_yaml_kind_name(map));
	for (size_t i = 0; i < pairs; i++) {
		yaml_node_t *k, *v;
		size_t j;
		int r;

		lp_yaml_map_pair(y, map, i, &k, &v);
		if ((r = check_key(y, k, path)) < 0)
			return r;
		lp_json_path_key(sub, sizeof(sub), path, lp_yaml_text(k));
		for (j = 0; j < n; j++)
			if (strcmp(keys[j].name, lp_yaml_text(k)) == 0)
				break;
		if (j == n)
			return lp_yaml_fail(y, k, sub, "unknown key \"%s\"", lp_yaml_text(k));
		if (seen[j])
			return lp_yaml_fail(y, k, sub, "duplicate key \"%s\" (first at line %u)",
					    lp_yaml_text(k), lp_yaml_line(seen[j]));
		seen[j] = k;
		if (keys[j].kind != LP_YAML_ANY &&
		    (lp_yaml_kind(v) != keys[j].kind || lp_yaml_is_null(v)))
			return lp_yaml_fail(y, v, sub, "expected %s, found %s",
					    kind_expected(keys[j].kind), lp_yaml_kind_name(v));
	}
	for (size_t j = 0; j < n; j++)
		if (keys[j].required && !seen[j])
			return lp_yaml_fail(y, map, lp_json_path_key(sub, sizeof(sub), path,
								     keys[j].name),
					    "missing required key \"%s\"", keys[j].name);
	return 0;
}

/* Duplicate keys of a mapping whose keys were checked, in O(n log n) so that large
 * mappings cannot stall a parser. */
static int check_unique(const struct lp_yaml *y, const yaml_node_t *map, const char *path,
			const char *what)
{
	size_t n = lp_yaml_map_len(map), first, dup;
	char sub[LP_DIAG_PATH_MAX];
	const char **keys;
	yaml_node_t *k, *v;
	unsigned first_line;
	int r;

	keys = malloc((n ? n : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		lp_yaml_map_pair(y, map, i, &k, &v);
		keys[i] = lp_yaml_text(k);
	}
	r = lp_keys_find_duplicate((const char *const *)keys, n, &first, &dup);
	free(keys);
	if (r <= 0)
		return r;
	lp_yaml_map_pair(y, map, first, &k, &v);
	first_line = lp_yaml_line(k);
	lp_yaml_map_pair(y, map, dup, &k, &v);
	return lp_yaml_fail(y, k, lp_json_path_key(sub, sizeof(sub), path, lp_yaml_text(k)),
			    "duplicate %s \"%s\" (first at line %u)", what, lp_yaml_text(k),
			    first_line);
}

int lp_yaml_check_names(const struct lp_yaml *y, const yaml_node_t *map, const char *path,
			size_t max, const char *what)
{
	size_t n = lp_yaml_map_len(map);
	int r;

	if (lp_yaml_kind(map) != LP_YAML_MAPPING)
		return lp_yaml_fail(y, map, path, "expected a mapping, found %s",
				    lp_yaml_kind_name(map));
	if (n > max)
		return lp_yaml_fail(y, map, path, "at most %zu entries, found %zu", max, n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k, *v;

		lp_yaml_map_pair(y, map, i, &k, &v);
		if ((r = check_key(y, k, path)) < 0)
			return r;
		if (lp_yaml_text(k)[0] == '\0')
			return lp_yaml_fail(y, k, path, "%s names must not be empty", what);
	}
	return check_unique(y, map, path, what);
}

int lp_yaml_check_seq(const struct lp_yaml *y, const yaml_node_t *seq, const char *path,
		      size_t min, size_t max)
{
	size_t n = lp_yaml_seq_len(seq);

	if (lp_yaml_kind(seq) != LP_YAML_SEQUENCE)
		return lp_yaml_fail(y, seq, path, "expected a list, found %s",
				    lp_yaml_kind_name(seq));
	if (n < min)
		return lp_yaml_fail(y, seq, path,
				    min == 1 ? "must not be empty" : "at least %zu entries", min);
	if (n > max)
		return lp_yaml_fail(y, seq, path, "at most %zu entries, found %zu", max, n);
	return 0;
}

/* ---- scalars ---- */

/* A scalar that is not a null, or an error "expected <what>, found …". */
static int want_scalar(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
		       const char *what)
{
	if (!n)
		return lp_yaml_fail(y, NULL, path, "missing %s", what);
	if (n->type != YAML_SCALAR_NODE || lp_yaml_is_null(n))
		return lp_yaml_fail(y, n, path, "expected %s, found %s", what,
				    lp_yaml_kind_name(n));
	if (strlen(lp_yaml_text(n)) != n->data.scalar.length)
		return lp_yaml_fail(y, n, path, "must not contain NUL bytes");
	return 0;
}

int lp_yaml_string(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
		   bool allow_empty, char *buf, size_t size)
{
	int r = want_scalar(y, n, path, "a string");

	if (r < 0)
		return r;
	if (!allow_empty && n->data.scalar.length == 0)
		return lp_yaml_fail(y, n, path, "must not be empty");
	if (n->data.scalar.length >= size)
		return lp_yaml_fail(y, n, path, "longer than %zu characters", size - 1);
	memcpy(buf, lp_yaml_text(n), n->data.scalar.length + 1);
	return 0;
}

int lp_yaml_int(const struct lp_yaml *y, const yaml_node_t *n, const char *path, int64_t min,
		int64_t max, int64_t *ret)
{
	const char *t, *d;
	long long v;
	char *end;
	int r = want_scalar(y, n, path, "an integer");

	if (r < 0)
		return r;
	t = lp_yaml_text(n);
	d = t[0] == '-' ? t + 1 : t;
	if (!lp_yaml_is_plain(n) || d[0] < '0' || d[0] > '9' || (d[0] == '0' && d[1] != '\0'))
		return lp_yaml_fail(y, n, path, "expected an integer, found \"%s\"", t);
	errno = 0;
	v = strtoll(t, &end, 10);
	if (*end != '\0')
		return lp_yaml_fail(y, n, path, "expected an integer, found \"%s\"", t);
	if (errno == ERANGE || v < min || v > max)
		return lp_yaml_fail(y, n, path, "%s is out of range (%lld..%lld)", t,
				    (long long)min, (long long)max);
	*ret = v;
	return 0;
}

int lp_yaml_bool(const struct lp_yaml *y, const yaml_node_t *n, const char *path, bool *ret)
{
	int r = want_scalar(y, n, path, "true or false");

	if (r < 0)
		return r;
	if (lp_yaml_is_plain(n) && strcmp(lp_yaml_text(n), "true") == 0)
		*ret = true;
	else if (lp_yaml_is_plain(n) && strcmp(lp_yaml_text(n), "false") == 0)
		*ret = false;
	else
		return lp_yaml_fail(y, n, path, "expected true or false, found \"%s\"",
				    lp_yaml_text(n));
	return 0;
}

/* "500ms", "30s", "5m", "2h": the largest unit that divides ms. */
static const char *format_ms(char *buf, size_t len, uint64_t ms)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = { { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" } };

	for (size_t i = 0; i < LP_ARRAY_SIZE(units); i++)
		if (ms % units[i].ms == 0 || units[i].ms == 1) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 ms ? units[i].unit : "s");
			break;
		}
	return buf;
}

int lp_yaml_duration(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
		     uint64_t min_ms, uint64_t max_ms, uint64_t *ret_ms)
{
	char lo[32], hi[32];
	uint64_t ms;
	int r = want_scalar(y, n, path, "a duration such as 30s, 500ms or 5m");

	if (r < 0)
		return r;
	r = lp_duration_parse(lp_yaml_text(n), &ms);
	if (r == -ERANGE)
		ms = UINT64_MAX;
	else if (r < 0)
		return lp_yaml_fail(y, n, path,
				    "expected a duration such as 30, 30s, 500ms or 5m, found \"%s\"",
				    lp_yaml_text(n));
	if (ms < min_ms || ms > max_ms)
		return lp_yaml_fail(y, n, path, "%s is out of range (%s..%s)", lp_yaml_text(n),
				    format_ms(lo, sizeof(lo), min_ms),
				    format_ms(hi, sizeof(hi), max_ms));
	*ret_ms = ms;
	return 0;
}

int lp_yaml_enum(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
		 const char *const *choices, int *ret)
{
	char list[256] = "";
	size_t used = 0;

	if (!n)
		return lp_yaml_fail(y, NULL, path, "missing value");
	for (int i = 0; lp_yaml_kind(n) == LP_YAML_SCALAR && choices[i]; i++)
		if (strcmp(choices[i], lp_yaml_text(n)) == 0) {
			*ret = i;
			return 0;
		}
	for (int i = 0; choices[i] && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", choices[i]);

		if (w > 0)
			used += (size_t)w;
	}
	if (lp_yaml_kind(n) != LP_YAML_SCALAR || lp_yaml_is_null(n))
		return lp_yaml_fail(y, n, path, "expected one of %s, found %s", list,
				    lp_yaml_kind_name(n));
	return lp_yaml_fail(y, n, path, "expected one of %s, found \"%s\"", list,
			    lp_yaml_text(n));
}

/* ---- JSON ---- */

/* JSON's own number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static cJSON *scalar_to_json(const yaml_node_t *n)
{
	const char *t = lp_yaml_text(n);

	if (lp_yaml_is_plain(n)) {
		if (lp_yaml_is_null(n))
			return cJSON_CreateNull();
		if (strcmp(t, "true") == 0)
			return cJSON_CreateTrue();
		if (strcmp(t, "false") == 0)
			return cJSON_CreateFalse();
		if (json_number(t)) {
			double d = strtod(t, NULL);

			if (isfinite(d))
				return cJSON_CreateNumber(d);
		}
	}
	return cJSON_CreateString(t);
}

int lp_yaml_to_json(const struct lp_yaml *y, const yaml_node_t *n, const char *path,
		    cJSON **ret_json)
{
	char sub[LP_DIAG_PATH_MAX];
	cJSON *j = NULL;
	size_t len;
	int r;

	switch (lp_yaml_kind(n)) {
	case LP_YAML_SCALAR:
		if (strlen(lp_yaml_text(n)) != n->data.scalar.length)
			return lp_yaml_fail(y, n, path, "must not contain NUL bytes");
		j = scalar_to_json(n);
		break;
	case LP_YAML_SEQUENCE:
		j = cJSON_CreateArray();
		len = lp_yaml_seq_len(n);
		for (size_t i = 0; j && i < len; i++) {
			cJSON *item;

			r = lp_yaml_to_json(y, lp_yaml_seq_item(y, n, i),
					    lp_json_path_index(sub, sizeof(sub), path, i), &item);
			if (r < 0) {
				cJSON_Delete(j);
				return r;
			}
			cJSON_AddItemToArray(j, item);
		}
		break;
	case LP_YAML_MAPPING:
		if ((r = lp_yaml_check_names(y, n, path, SIZE_MAX, "key")) < 0)
			return r;
		j = cJSON_CreateObject();
		len = lp_yaml_map_len(n);
		for (size_t i = 0; j && i < len; i++) {
			yaml_node_t *k, *v;
			cJSON *item;

			lp_yaml_map_pair(y, n, i, &k, &v);
			r = lp_yaml_to_json(y, v, lp_json_path_key(sub, sizeof(sub), path,
								   lp_yaml_text(k)),
					    &item);
			if (r < 0) {
				cJSON_Delete(j);
				return r;
			}
			cJSON_AddItemToObject(j, lp_yaml_text(k), item);
		}
		break;
	default:
		return lp_yaml_fail(y, n, path, "expected a value, found nothing");
	}
	if (!j)
		return -ENOMEM;
	*ret_json = j;
	return 0;
}

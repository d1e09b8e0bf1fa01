/* SPDX-License-Identifier: MIT */
/*
 * Strict JSON on top of cJSON. cJSON is lenient in places (control characters taken as
 * whitespace, "01" and "1." as numbers, duplicate keys kept, \u0000 silently cutting a
 * string, trailing text ignored), so the text is first scanned here for those and for
 * the nesting depth, then parsed by cJSON, then the tree is checked for duplicate keys
 * and non-finite numbers.
 *
 * The scan also records the text of every number; after parsing, each number node keeps
 * its source text in valuestring (unused by cJSON for numbers, and freed by cJSON_Delete)
 * so LP_JSON_INT values are read exactly, beyond the 2^53 precision of a double.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopline/io.h"
#include "loopline/fs.h"
#include "loopline/json.h"

#define JSON_EXACT_DOUBLE_MAX 9007199254740991.0 /* 2^53 - 1 */

struct num_token {
	size_t off, len;
};

struct scan {
	struct num_token *nums;
	size_t n_nums, cap_nums;
};

static void text_pos(const char *text, size_t len, size_t off, unsigned *ret_line,
		     unsigned *ret_col)
{
	unsigned line = 1, col = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			line++;
			col = 1;
		} else if ((c & 0xc0) != 0x80) { /* count characters, not UTF-8 continuation bytes */
			col++;
		}
	}
	*ret_line = line;
	*ret_col = col;
}

static int fail_pos(struct lp_diag *diag, int err, const char *text, size_t len, size_t off,
		    const char *fmt, ...) LP_PRINTF(6, 7);

static int fail_pos(struct lp_diag *diag, int err, const char *text, size_t len, size_t off,
		    const char *fmt, ...)
{
	unsigned line, col;
	va_list ap;

	if (!diag)
		return err;
	text_pos(text, len, off, &line, &col);
	lp_diag_set_pos(diag, line, col);
	lp_diag_set_path(diag, "");
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 number grammar over exactly s[0..n). */
static bool number_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return false;
	if (s[i] == '0')
		i++;
	else
		while (i < n && is_digit(s[i]))
			i++;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !is_digit(s[i]))
			return false;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return false;
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i == n;
}

static bool is_number_char(char c)
{
	return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static int scan_add_number(struct scan *sc, size_t off, size_t len)
{
	if (sc->n_nums == sc->cap_nums) {
		size_t cap = sc->cap_nums ? sc->cap_nums * 2 : 16;
		struct num_token *p = realloc(sc->nums, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		sc->nums = p;
		sc->cap_nums = cap;
	}
	sc->nums[sc->n_nums].off = off;
	sc->nums[sc->n_nums].len = len;
	sc->n_nums++;
	return 0;
}

/* The checks cJSON does not make, plus the depth limit, before cJSON sees the text. */
static int json_prescan(const char *text, size_t len, unsigned max_depth, struct scan *sc,
			struct lp_diag *diag)
{
	unsigned depth = 0;
	bool in_string = false;
	size_t i = 0, string_start = 0;
	int r;

	while (i < len) {
		unsigned char c = (unsigned char)text[i];

		if (c == 0)
			return fail_pos(diag, -EINVAL, text, len, i, "NUL byte in JSON text");
		if (in_string) {
			if (c < 0x20)
				return fail_pos(diag, -EINVAL, text, len, i,
						"control character 0x%02x in a string (must be escaped)",
						c);
			if (c == '"') {
				in_string = false;
			} else if (c == '\\') {
				if (i + 1 < len && text[i + 1] == 'u' && i + 6 <= len &&
				    memcmp(text + i + 2, "0000", 4) == 0)
					return fail_pos(diag, -EINVAL, text, len, i,
							"\\u0000 is not allowed in strings");
				i += 2; /* the escaped character; cJSON validates escapes */
				continue;
			} else if (c >= 0x80) {
				size_t n = utf8_seq_len((const unsigned char *)text + i, len - i);

				if (n == 0)
					return fail_pos(diag, -EINVAL, text, len, i,
							"invalid UTF-8 in a string");
				i += n;
				continue;
			}
			i++;
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			string_start = i;
			break;
		case '{':
		case '[':
			if (++depth > max_depth)
				return fail_pos(diag, -EINVAL, text, len, i,
						"nesting deeper than %u levels", max_depth);
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			break;
		default:
			if (c < 0x20)
				return fail_pos(diag, -EINVAL, text, len, i,
						"control character 0x%02x outside a string", c);
			if (c == '-' || is_digit((char)c)) {
				size_t n = 0;

				while (i + n < len && is_number_char(text[i + n]))
					n++;
				if (!number_valid(text + i, n))
					return fail_pos(diag, -EINVAL, text, len, i,
							"invalid number \"%.*s\"", (int)(n > 40 ? 40 : n),
							text + i);
				r = scan_add_number(sc, i, n);
				if (r < 0)
					return r;
				i += n;
				continue;
			}
			break;
		}
		i++;
	}
	if (in_string)
		return fail_pos(diag, -EINVAL, text, len, string_start, "unterminated string");
	return 0;
}

static const char *kind_of(const cJSON *item)
{
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsObject(item))
		return "an object";
	if (cJSON_IsArray(item))
		return "an array";
	return "an invalid value";
}

const char *lp_json_path_key(char *buf, size_t len, const char *path, const char *key)
{
	if (len == 0)
		return buf;
	if (path && path[0])
		snprintf(buf, len, "%s.%s", path, key);
	else
		snprintf(buf, len, "%s", key);
	return buf;
}

const char *lp_json_path_index(char *buf, size_t len, const char *path, size_t i)
{
	if (len == 0)
		return buf;
	snprintf(buf, len, "%s[%zu]", path ? path : "", i);
	return buf;
}

struct key_ref {
	const char *key;
	size_t idx;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int lp_keys_find_duplicate(const char *const *keys, size_t n, size_t *ret_first, size_t *ret_dup)
{
	size_t dup = SIZE_MAX, first = 0;
	struct key_ref *refs;

	if (n < 2)
		return 0;
	refs = malloc(n * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		refs[i].key = keys[i];
		refs[i].idx = i;
	}
	/* sorted by (key, position): equal keys form runs, each run starts at the first use */
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	for (size_t i = 1, run = 0; i < n; i++) {
		if (strcmp(refs[i].key, refs[i - 1].key) != 0) {
			run = i;
			continue;
		}
		if (refs[i].idx < dup) {
			dup = refs[i].idx;
			first = refs[run].idx;
		}
	}
	free(refs);
	if (dup == SIZE_MAX)
		return 0;
	*ret_first = first;
	*ret_dup = dup;
	return 1;
}

/* Walks the parsed tree in document order: gives each number its source text, rejects
 * duplicate keys and numbers that do not fit a double. */
struct walk {
	const char *text;
	const struct scan *sc;
	size_t next_num;
};

static int json_walk(cJSON *item, const char *path, struct walk *w, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX];
	const char **keys;
	size_t n = 0, i, first, dup;
	cJSON *child;
	int r = 0;

	if (cJSON_IsNumber(item)) {
		if (w->next_num < w->sc->n_nums && !item->valuestring) {
			const struct num_token *t = &w->sc->nums[w->next_num];

			item->valuestring = cJSON_malloc(t->len + 1);
			if (!item->valuestring)
				return -ENOMEM;
			memcpy(item->valuestring, w->text + t->off, t->len);
			item->valuestring[t->len] = '\0';
		}
		w->next_num++;
		if (!isfinite(item->valuedouble))
			return lp_diag_fail_at(diag, -EINVAL, path, "number out of range");
		return 0;
	}
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return 0;

	i = 0;
	for (child = item->child; child; child = child->next, i++) {
		if (cJSON_IsObject(item))
			lp_json_path_key(sub, sizeof(sub), path, child->string ? child->string : "");
		else
			lp_json_path_index(sub, sizeof(sub), path, i);
		r = json_walk(child, sub, w, diag);
		if (r < 0)
			return r;
	}
	if (!cJSON_IsObject(item) || i < 2)
		return 0;

	/* Duplicate keys: report the earliest second use. */
	n = i;
	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	i = 0;
	for (child = item->child; child; child = child->next, i++)
		keys[i] = child->string ? child->string : "";
	r = lp_keys_find_duplicate((const char *const *)keys, n, &first, &dup);
	if (r > 0) {
		lp_json_path_key(sub, sizeof(sub), path, keys[dup]);
		r = lp_diag_fail_at(diag, -EINVAL, sub, "duplicate key \"%s\"", keys[dup]);
	}
	free(keys);
	return r;
}

static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * cJSON reports an error at the end of the input on the last byte, the same as an error
 * on that byte. Parsing once more with a character appended that is invalid wherever it
 * lands tells them apart: if the error moves onto that character, the input just ended.
 */
static bool json_error_at_end(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *again;
	char *copy;
	bool at_end;

	copy = malloc(len + 1);
	if (!copy)
		return false;
	memcpy(copy, text, len);
	copy[len] = '#';
	again = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
	/* as an offset, so nothing refers to copy once it is freed */
	at_end = !again && end && (size_t)(end - copy) >= len;
	cJSON_Delete(again);
	free(copy);
	return at_end;
}

int lp_json_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		  cJSON **ret_root, struct lp_diag *diag)
{
	struct scan sc = { 0 };
	struct walk w;
	const char *end = NULL;
	cJSON *root = NULL;
	size_t off;
	int r;

	if (max_depth == 0)
		max_depth = LP_JSON_MAX_DEPTH;
	if (len > max_len) {
		lp_diag_set_pos(diag, 0, 0);
		lp_diag_set_path(diag, "");
		return lp_diag_fail(diag, -E2BIG, "document is %zu bytes, the limit is %zu", len,
				    max_len);
	}
	if (!text && len > 0)
		return -EINVAL;

	off = 0;
	while (off < len && json_ws(text[off]))
		off++;
	if (off == len)
		return fail_pos(diag, -EINVAL, text, len, len, "empty document");

	r = json_prescan(text, len, max_depth, &sc, diag);
	if (r < 0)
		goto out;

	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		const char *err = end ? end : cJSON_GetErrorPtr();
		size_t eoff = err && err >= text && err <= text + len ? (size_t)(err - text) : 0;

		if (eoff + 1 == len)
			eoff = json_error_at_end(text, len) ? len : eoff;
		if (eoff >= len)
			r = fail_pos(diag, -EINVAL, text, len, len, "syntax error: unexpected end of input");
		else
			r = fail_pos(diag, -EINVAL, text, len, eoff, "syntax error near '%c'",
				     (unsigned char)text[eoff] >= 0x20 &&
						     (unsigned char)text[eoff] < 0x7f ?
					     text[eoff] : '?');
		goto out;
	}
	off = end ? (size_t)(end - text) : len;
	while (off < len && json_ws(text[off]))
		off++;
	if (off < len) {
		r = fail_pos(diag, -EINVAL, text, len, off, "unexpected text after the JSON value");
		goto out;
	}

	w.text = text;
	w.sc = &sc;
	w.next_num = 0;
	r = json_walk(root, "", &w, diag);
	if (r < 0) {
		lp_diag_set_pos(diag, 0, 0);
		goto out;
	}
	*ret_root = root;
	root = NULL;
out:
	cJSON_Delete(root);
	free(sc.nums);
	return r;
}

int lp_json_parse_file(const char *path, size_t max_len, unsigned max_depth, cJSON **ret_root,
		       struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len;
	int r;

	r = lp_fs_read_file_diag(path, max_len, &buf, &len, diag);
	if (r < 0)
		return r;
	r = lp_json_parse(buf, len, max_len, max_depth, ret_root, diag);
	free(buf);
	return r;
}

/*
 * Exact integer value of JSON number text (already validated by number_valid):
 * value = digits * 10^(exp - frac_len). 0, -EINVAL if it has a fractional part, -ERANGE
 * if it does not fit int64.
 */
static int number_text_int64(const char *s, int64_t *ret)
{
	const char *int_start, *int_end, *frac_start = NULL, *frac_end = NULL;
	bool neg = false;
	long exp = 0, shift;
	size_t frac_len = 0, ndig, first, trailing = 0;
	uint64_t v = 0, limit;

	if (*s == '-') {
		neg = true;
		s++;
	}
	int_start = s;
	while (is_digit(*s))
		s++;
	int_end = s;
	if (*s == '.') {
		frac_start = ++s;
		while (is_digit(*s))
			s++;
		frac_end = s;
		frac_len = (size_t)(frac_end - frac_start);
	}
	if (*s == 'e' || *s == 'E') {
		bool eneg = false;

		s++;
		if (*s == '+' || *s == '-')
			eneg = *s++ == '-';
		for (; is_digit(*s); s++)
			if (exp < 1000000)
				exp = exp * 10 + (*s - '0');
		if (eneg)
			exp = -exp;
	}

#define DIGIT(i)                                                                         	((size_t)(i) < (size_t)(int_end - int_start) ? int_start[(i)]                     						     : frac_start[(i) - (int_end - int_start)])
	ndig = (size_t)(int_end - int_start) + frac_len;
	for (first = 0; first < ndig && DIGIT(first) == '0'; first++)
		;
	if (first == ndig) {
		*ret = 0;
		return 0;
	}
	while (DIGIT(ndig - 1 - trailing) == '0')
		trailing++;
	if (frac_len > 1000000 || trailing > 1000000)
		return -ERANGE;
	shift = exp - (long)frac_len + (long)trailing;
	if (shift < 0)
		return -EINVAL;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t i = first; i < ndig - trailing; i++) {
		unsigned d = (unsigned)(DIGIT(i) - '0');

		if (v > (limit - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
#undef DIGIT
	for (long i = 0; i < shift; i++) {
		if (v > limit / 10)
			return -ERANGE;
		v *= 10;
	}
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Reads an integral number exactly. Uses the source text when it is there and still
 * matches the value; otherwise the double, which is exact only up to 2^53. */
static int json_int_value(const cJSON *item, int64_t *ret, const char **ret_why)
{
	double d = item->valuedouble;
	const char *s = item->valuestring;

	if (s && number_valid(s, strlen(s)) && strtod(s, NULL) == d) {
		int r = number_text_int64(s, ret);

		if (r == -EINVAL)
			*ret_why = "expected an integer, got a number with a fraction";
		else if (r < 0)
			*ret_why = "integer out of the 64-bit range";
		return r;
	}
	if (!(d >= -JSON_EXACT_DOUBLE_MAX && d <= JSON_EXACT_DOUBLE_MAX)) {
		*ret_why = "integer too large to be exact here (beyond 2^53)";
		return -ERANGE;
	}
	if ((double)(int64_t)d != d) {
		*ret_why = "expected an integer, got a number with a fraction";
		return -EINVAL;
	}
	*ret = (int64_t)d;
	return 0;
}

static bool kind_matches(const cJSON *item, enum lp_json_kind kind)
{
	switch (kind) {
	case LP_JSON_ANY:
		return true;
	case LP_JSON_STRING:
		return cJSON_IsString(item);
	case LP_JSON_INT:
	case LP_JSON_NUMBER:
		return cJSON_IsNumber(item);
	case LP_JSON_BOOL:
		return cJSON_IsBool(item);
	case LP_JSON_OBJECT:
		return cJSON_IsObject(item);
	case LP_JSON_ARRAY:
		return cJSON_IsArray(item);
	case LP_JSON_NULL:
		return cJSON_IsNull(item);
	case LP_JSON_STRING_OR_NULL:
		return cJSON_IsString(item) || cJSON_IsNull(item);
	case LP_JSON_OBJECT_OR_NULL:
		return cJSON_IsObject(item) || cJSON_IsNull(item);
	}
	return false;
}

static const char *kind_name(enum lp_json_kind kind)
{
	switch (kind) {
	case LP_JSON_ANY:
		return "any value";
	case LP_JSON_STRING:
		return "a string";
	case LP_JSON_INT:
		return "an integer";
	case LP_JSON_NUMBER:
		return "a number";
	case LP_JSON_BOOL:
		return "a boolean";
	case LP_JSON_OBJECT:
		return "an object";
	case LP_JSON_ARRAY:
		return "an array";
	case LP_JSON_NULL:
		return "null";
	case LP_JSON_STRING_OR_NULL:
		return "a string or null";
	case LP_JSON_OBJECT_OR_NULL:
		return "an object or null";
	}
	return "?";
}

static int check_kind(const cJSON *item, enum lp_json_kind kind, const char *path,
		      struct lp_diag *diag)
{
	const char *why;
	int64_t v;

	if (!kind_matches(item, kind))
		return lp_diag_fail_at(diag, -EINVAL, path, "expected %s, got %s", kind_name(kind),
				       kind_of(item));
	if (kind == LP_JSON_INT && json_int_value(item, &v, &why) < 0)
		return lp_diag_fail_at(diag, -EINVAL, path, "%s", why);
	return 0;
}

int lp_json_check(const cJSON *obj, const struct lp_json_field *fields, size_t n,
		  const char *path, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX];
	const cJSON *child;
	int r;

	if (!path)
		path = "";
	if (!obj)
		return lp_diag_fail_at(diag, -EINVAL, path, "expected an object, got nothing");
	if (!cJSON_IsObject(obj))
		return lp_diag_fail_at(diag, -EINVAL, path, "expected an object, got %s",
				       kind_of(obj));
	for (child = obj->child; child; child = child->next) {
		const char *key = child->string ? child->string : "";
		const struct lp_json_field *f = NULL;

		for (size_t i = 0; i < n; i++) {
			if (strcmp(fields[i].key, key) == 0) {
				f = &fields[i];
				break;
			}
		}
		lp_json_path_key(sub, sizeof(sub), path, key);
		if (!f)
			return lp_diag_fail_at(diag, -EINVAL, sub, "unknown key \"%s\"", key);
		r = check_kind(child, f->kind, sub, diag);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required && !cJSON_GetObjectItemCaseSensitive(obj, fields[i].key)) {
			lp_json_path_key(sub, sizeof(sub), path, fields[i].key);
			return lp_diag_fail_at(diag, -EINVAL, sub, "required key \"%s\" is missing",
					       fields[i].key);
		}
	}
	return 0;
}

/* Common part of the getters: finds key; 1 if present, 0 if absent (and not required). */
static int get_item(const cJSON *obj, const char *key, bool required, const char *path,
		    const cJSON **ret_item, char *sub, size_t sub_len, struct lp_diag *diag)
{
	const cJSON *item;

	lp_json_path_key(sub, sub_len, path, key);
	if (!cJSON_IsObject(obj))
		return lp_diag_fail_at(diag, -EINVAL, path ? path : "", "expected an object, got %s",
				       obj ? kind_of(obj) : "nothing");
	item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!item) {
		if (required)
			return lp_diag_fail_at(diag, -EINVAL, sub, "required key \"%s\" is missing",
					       key);
		return 0;
	}
	*ret_item = item;
	return 1;
}

int lp_json_get_string(const cJSON *obj, const char *key, bool required, const char *path,
		       const char **ret, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX];
	const cJSON *item = NULL;
	int r;

	r = get_item(obj, key, required, path, &item, sub, sizeof(sub), diag);
	if (r <= 0)
		return r;
	if (!cJSON_IsString(item) || !item->valuestring)
		return lp_diag_fail_at(diag, -EINVAL, sub, "expected a string, got %s",
				       kind_of(item));
	*ret = item->valuestring;
	return 0;
}

int lp_json_get_int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
		    const char *path, int64_t *ret, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX];
	const cJSON *item = NULL;
	const char *why;
	int64_t v;
	int r;

	r = get_item(obj, key, required, path, &item, sub, sizeof(sub), diag);
	if (r <= 0)
		return r;
	if (!cJSON_IsNumber(item))
		return lp_diag_fail_at(diag, -EINVAL, sub, "expected an integer, got %s",
				       kind_of(item));
	if (json_int_value(item, &v, &why) < 0)
		return lp_diag_fail_at(diag, -EINVAL, sub, "%s", why);
	if (v < min || v > max)
		return lp_diag_fail_at(diag, -EINVAL, sub,
				       "%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", v,
				       min, max);
	*ret = v;
	return 0;
}

int lp_json_get_bool(const cJSON *obj, const char *key, bool required, const char *path,
		     bool *ret, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX];
	const cJSON *item = NULL;
	int r;

	r = get_item(obj, key, required, path, &item, sub, sizeof(sub), diag);
	if (r <= 0)
		return r;
	if (!cJSON_IsBool(item))
		return lp_diag_fail_at(diag, -EINVAL, sub, "expected a boolean, got %s",
				       kind_of(item));
	*ret = cJSON_IsTrue(item);
	return 0;
}

int lp_json_get_enum(const cJSON *obj, const char *key, bool required,
		     const char *const *choices, const char *path, int *ret, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX];
	char list[LP_DIAG_MSG_MAX / 2];
	const cJSON *item = NULL;
	size_t used = 0;
	int r;

	r = get_item(obj, key, required, path, &item, sub, sizeof(sub), diag);
	if (r <= 0)
		return r;
	if (!cJSON_IsString(item) || !item->valuestring)
		return lp_diag_fail_at(diag, -EINVAL, sub, "expected a string, got %s",
				       kind_of(item));
	for (int i = 0; choices[i]; i++) {
		if (strcmp(choices[i], item->valuestring) == 0) {
			*ret = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (int i = 0; choices[i] && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? ", " : "",
				 choices[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return lp_diag_fail_at(diag, -EINVAL, sub, "\"%.64s\" is not one of %s",
			       item->valuestring, list);
}

char *lp_json_print(const cJSON *item)
{
	return cJSON_PrintUnformatted(item);
}

int lp_json_get_array(const cJSON *obj, const char *path, const struct lp_json_array_spec *spec,
		      void **ret_elems, size_t *ret_n, struct lp_diag *diag)
{
	char sub[LP_JSON_PATH_MAX], ep[LP_JSON_PATH_MAX];
	const cJSON *arr = NULL, *item;
	uint8_t *elems = NULL;
	size_t n, i = 0;
	int r;

	r = get_item(obj, spec->key, spec->min > 0, path, &arr, sub, sizeof(sub), diag);
	if (r < 0)
		return r;
	if (r == 0) {
		*ret_elems = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!cJSON_IsArray(arr))
		return lp_diag_fail_at(diag, -EINVAL, sub, "expected an array, got %s", kind_of(arr));
	n = (size_t)cJSON_GetArraySize(arr);
	if (n < spec->min)
		return spec->min == 1 ? lp_diag_fail_at(diag, -EINVAL, sub,
							"must list at least one entry")
				      : lp_diag_fail_at(diag, -EINVAL, sub,
							"must list at least %zu entries", spec->min);
	if (n > spec->max)
		return lp_diag_fail_at(diag, -E2BIG, sub, "more than %zu entries", spec->max);
	if (n > 0) {
		elems = calloc(n, spec->elem_size);
		if (!elems)
			return -ENOMEM;
	}
	cJSON_ArrayForEach(item, arr) {
		lp_json_path_index(ep, sizeof(ep), sub, i);
		r = spec->parse(item, ep, elems + i * spec->elem_size, i, spec, diag);
		if (r < 0)
			goto fail;
		i++;
	}
	*ret_elems = elems;
	*ret_n = n;
	return 0;
fail:
	if (spec->free_elem)
		for (size_t k = 0; k < i; k++)
			spec->free_elem(elems + k * spec->elem_size);
	free(elems);
	return r;
}

int lp_json_elem_string(const cJSON *item, const char *path, void *elem, size_t index,
			const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	size_t len;

	if (!cJSON_IsString(item) || !item->valuestring)
		return lp_diag_fail_at(diag, -EINVAL, path, "expected a string, got %s", kind_of(item));
	len = strlen(item->valuestring);
	if (len == 0)
		return lp_diag_fail_at(diag, -EINVAL, path, "must not be empty");
	if (len >= spec->elem_size)
		return lp_diag_fail_at(diag, -EINVAL, path, "longer than %zu bytes",
				       spec->elem_size - 1);
	if (spec->ctx == LP_JSON_UNIQUE)
		for (size_t j = 0; j < index; j++)
			if (strcmp((const char *)elem - (index - j) * spec->elem_size,
				   item->valuestring) == 0)
				return lp_diag_fail_at(diag, -EINVAL, path, "duplicate entry \"%s\"",
						       item->valuestring);
	memcpy(elem, item->valuestring, len + 1);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Strict JSON: syntax errors with positions, limits, duplicates, field checks, getters. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopline/json.h"

struct parse_case {
	const char *text;
	size_t max_len;   /* 0: 4096 */
	unsigned depth;   /* 0: default */
	int ret;
	unsigned line, col;
	const char *path; /* expected diag path */
	const char *msg;  /* substring of the message */
};

static const struct parse_case parse_cases[] = {
	/* accepted */
	{ "{}", 0, 0, 0, 0, 0, "", NULL },
	{ " [1, -2.5e3, true, false, null, \"s\\u00e9\\n\"] \n", 0, 0, 0, 0, 0, "", NULL },
	{ "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", 0, 0, 0, 0, 0, "", NULL },
	{ "{\"a\":{\"b\":{\"c\":[]}}}", 0, 4, 0, 0, 0, "", NULL },
	{ "-0", 0, 0, 0, 0, 0, "", NULL },
	/* syntax errors: line and column of the offending character */
	{ "{\"a\":1,\n  \"b\": [1,,2]}", 0, 0, -EINVAL, 2, 11, "", "syntax error near ','" },
	{ "{\"a\" 1}", 0, 0, -EINVAL, 1, 6, "", "syntax error" },
	{ "{\"a\":tru}", 0, 0, -EINVAL, 1, 6, "", "syntax error" },
	{ "{\"a\":\"\\x\"}", 0, 0, -EINVAL, 1, 7, "", "syntax error" },
	{ "[1,2", 0, 0, -EINVAL, 1, 5, "", "unexpected end of input" },
	{ "{\"a\":", 0, 0, -EINVAL, 1, 6, "", "unexpected end of input" },
	{ "{\"a\":\"unterminated", 0, 0, -EINVAL, 1, 6, "", "unterminated string" },
	{ "{\"a\":\"x\\\"}", 0, 0, -EINVAL, 1, 6, "", "unterminated string" },
	{ "\n\n   {\"\xc3\xa9\":}", 0, 0, -EINVAL, 3, 9, "", "syntax error near '}'" },
	{ "", 0, 0, -EINVAL, 1, 1, "", "empty document" },
	{ " \n\t", 0, 0, -EINVAL, 2, 2, "", "empty document" },
	{ "{\"a\":1} x", 0, 0, -EINVAL, 1, 9, "", "unexpected text after the JSON value" },
	{ "{}\n{}", 0, 0, -EINVAL, 2, 1, "", "unexpected text after the JSON value" },
	{ "[1]]", 0, 0, -EINVAL, 1, 4, "", "unexpected text" },
	/* what cJSON alone would accept */
	{ "[01]", 0, 0, -EINVAL, 1, 2, "", "invalid number \"01\"" },
	{ "[1.]", 0, 0, -EINVAL, 1, 2, "", "invalid number \"1.\"" },
	{ "[-.5]", 0, 0, -EINVAL, 1, 2, "", "invalid number" },
	{ "[1e]", 0, 0, -EINVAL, 1, 2, "", "invalid number" },
	{ "[1\x01]", 0, 0, -EINVAL, 1, 3, "", "control character 0x01 outside a string" },
	{ "[\"a\tb\"]", 0, 0, -EINVAL, 1, 4, "", "control character 0x09 in a string" },
	{ "[\"a\\u0000b\"]", 0, 0, -EINVAL, 1, 4, "", "\\u0000 is not allowed" },
	{ "[\"\xc3\x28\"]", 0, 0, -EINVAL, 1, 3, "", "invalid UTF-8" },
	{ "[\"\xed\xa0\x80\"]", 0, 0, -EINVAL, 1, 3, "", "invalid UTF-8" }, /* surrogate */
	{ "[\"\xc0\xaf\"]", 0, 0, -EINVAL, 1, 3, "", "invalid UTF-8" },     /* overlong */
	{ "[1e999]", 0, 0, -EINVAL, 0, 0, "[0]", "number out of range" },
	/* duplicate keys at any depth, with their path */
	{ "{\"a\":1,\"a\":2}", 0, 0, -EINVAL, 0, 0, "a", "duplicate key \"a\"" },
	{ "{\"backends\":[{\"url\":\"x\"},{\"url\":\"y\",\"tenant\":\"t\",\"url\":\"z\"}]}", 0, 0,
	  -EINVAL, 0, 0, "backends[1].url", "duplicate key \"url\"" },
	{ "{\"x\":{\"y\":{\"k\":1,\"j\":2,\"k\":3}}}", 0, 0, -EINVAL, 0, 0, "x.y.k", "duplicate" },
	{ "{\"A\":1,\"a\":2}", 0, 0, 0, 0, 0, "", NULL }, /* keys are case-sensitive */
	/* depth limit, found before cJSON sees the text; brackets inside strings do not count */
	{ "[[[[[1]]]]]", 0, 4, -EINVAL, 1, 5, "", "nesting deeper than 4 levels" },
	{ "[[[[1]]]]", 0, 4, 0, 0, 0, "", NULL },
	{ "[\"[[[[[[[[\"]", 0, 2, 0, 0, 0, "", NULL },
	{ "{\"a\":\"\\\"[[[[\"}", 0, 1, 0, 0, 0, "", NULL },
	/* size limit */
	{ "[1,2,3]", 6, 0, -E2BIG, 0, 0, "", "7 bytes, the limit is 6" },
	{ "[1,2,3]", 7, 0, 0, 0, 0, "", NULL },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct lp_diag diag;
		cJSON *root = NULL;
		int r;

		lp_diag_clear(&diag);
		r = lp_json_parse(c->text, strlen(c->text), c->max_len ? c->max_len : 4096, c->depth,
				  &root, &diag);
		if (r != c->ret)
			fail_msg("case %zu (%s): ret %d, expected %d (%s)", i, c->text, r, c->ret,
				 diag.msg);
		if (r == 0) {
			assert_non_null(root);
			cJSON_Delete(root);
			continue;
		}
		assert_null(root);
		if (diag.line != c->line || diag.column != c->col)
			fail_msg("case %zu (%s): at %u:%u, expected %u:%u (%s)", i, c->text, diag.line,
				 diag.column, c->line, c->col, diag.msg);
		if (strcmp(diag.path, c->path) != 0)
			fail_msg("case %zu (%s): path \"%s\", expected \"%s\"", i, c->text, diag.path,
				 c->path);
		if (!strstr(diag.msg, c->msg))
			fail_msg("case %zu (%s): message \"%s\" lacks \"%s\"", i, c->text, diag.msg,
				 c->msg);
	}
}

/* The text need not be NUL-terminated: parse a slice of a larger buffer. */
static void test_parse_length(void **state)
{
	const char buf[] = "{\"a\":1}GARBAGE";
	cJSON *root = NULL;

	(void)state;
	assert_int_equal(lp_json_parse(buf, 7, 100, 0, &root, NULL), 0);
	assert_true(cJSON_IsObject(root));
	cJSON_Delete(root);
	assert_int_equal(lp_json_parse(buf, 8, 100, 0, &root, NULL), -EINVAL);
	/* an embedded NUL is an error, not the end */
	assert_int_equal(lp_json_parse("{}\0{}", 5, 100, 0, &root, NULL), -EINVAL);
}

static void test_depth_default(void **state)
{
	char deep[2 * (LP_JSON_MAX_DEPTH + 1) + 1];
	cJSON *root = NULL;
	struct lp_diag diag = { 0 };

	(void)state;
	for (int i = 0; i <= LP_JSON_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[2 * (LP_JSON_MAX_DEPTH + 1) - 1 - i] = ']';
	}
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(lp_json_parse(deep, strlen(deep), 4096, 0, &root, &diag), -EINVAL);
	assert_non_null(strstr(diag.msg, "nesting deeper than 32"));
	/* one level less is fine */
	assert_int_equal(lp_json_parse(deep + 1, strlen(deep) - 2, 4096, 0, &root, &diag), 0);
	cJSON_Delete(root);
}

static const struct lp_json_field backend_fields[] = {
	{ "url", LP_JSON_STRING, true },
	{ "tenant", LP_JSON_STRING, false },
	{ "proxy", LP_JSON_STRING_OR_NULL, false },
};

static const struct lp_json_field config_fields[] = {
	{ "device_id", LP_JSON_STRING, true },
	{ "poll", LP_JSON_INT, false },
	{ "ratio", LP_JSON_NUMBER, false },
	{ "scripts", LP_JSON_BOOL, false },
	{ "backends", LP_JSON_ARRAY, true },
	{ "bootenv", LP_JSON_OBJECT_OR_NULL, false },
	{ "extra", LP_JSON_ANY, false },
	{ "none", LP_JSON_NULL, false },
	{ "obj", LP_JSON_OBJECT, false },
};

/* Checks a whole config the way a program would: root, then each backend. */
static int check_config(const char *text, struct lp_diag *diag)
{
	char path[LP_JSON_PATH_MAX];
	const cJSON *b;
	cJSON *root = NULL;
	size_t i = 0;
	int r;

	r = lp_json_parse(text, strlen(text), 4096, 0, &root, diag);
	if (r < 0)
		return r;
	r = lp_json_check(root, config_fields, LP_ARRAY_SIZE(config_fields), "", diag);
	if (r == 0) {
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(root, "backends")) {
			lp_json_path_index(path, sizeof(path), "backends", i++);
			r = lp_json_check(b, backend_fields, LP_ARRAY_SIZE(backend_fields), path,
					  diag);
			if (r < 0)
				break;
		}
	}
	cJSON_Delete(root);
	return r;
}

struct check_case {
	const char *text;
	const char *path; /* NULL: accepted */
	const char *msg;
};

#define B "\"backends\":[{\"url\":\"https://a\"}]"

static const struct check_case check_cases[] = {
	{ "{\"device_id\":\"d\"," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":60,\"ratio\":0.5,\"scripts\":true,\"bootenv\":null,"
	  "\"extra\":[1],\"none\":null,\"obj\":{}," B "}",
	  NULL, NULL },
	{ "{\"device_id\":\"d\",\"bootenv\":{}," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":1e2," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":-9223372036854775808," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":9223372036854775807," B "}", NULL, NULL },
	/* unknown keys */
	{ "{\"device_id\":\"d\",\"devise\":1," B "}", "devise", "unknown key \"devise\"" },
	{ "{\"device_id\":\"d\",\"backends\":[{\"url\":\"a\"},{\"url\":\"b\",\"tennant\":\"t\"}]}",
	  "backends[1].tennant", "unknown key \"tennant\"" },
	/* wrong kinds */
	{ "{\"device_id\":\"d\",\"backends\":[{\"url\":\"a\"},{\"url\":5}]}", "backends[1].url",
	  "expected a string, got a number" },
	{ "{\"device_id\":1," B "}", "device_id", "expected a string, got a number" },
	{ "{\"device_id\":\"d\",\"backends\":{}}", "backends", "expected an array, got an object" },
	{ "{\"device_id\":\"d\",\"scripts\":\"yes\"," B "}", "scripts",
	  "expected a boolean, got a string" },
	{ "{\"device_id\":\"d\",\"bootenv\":[]," B "}", "bootenv",
	  "expected an object or null, got an array" },
	{ "{\"device_id\":\"d\",\"none\":0," B "}", "none", "expected null, got a number" },
	{ "{\"device_id\":\"d\",\"obj\":null," B "}", "obj", "expected an object, got null" },
	{ "{\"device_id\":\"d\",\"backends\":[{\"url\":\"a\",\"proxy\":false}]}",
	  "backends[0].proxy", "expected a string or null, got a boolean" },
	{ "{\"device_id\":\"d\",\"backends\":[\"https://a\"]}", "backends[0]",
	  "expected an object, got a string" },
	{ "[]", "", "expected an object, got an array" },
	/* missing required */
	{ "{" B "}", "device_id", "required key \"device_id\" is missing" },
	{ "{\"device_id\":\"d\",\"backends\":[{\"url\":\"a\"},{\"tenant\":\"t\"}]}",
	  "backends[1].url", "required key \"url\" is missing" },
	/* integers */
	{ "{\"device_id\":\"d\",\"poll\":1.5," B "}", "poll", "expected an integer" },
	{ "{\"device_id\":\"d\",\"poll\":\"60\"," B "}", "poll", "expected an integer, got a string" },
	{ "{\"device_id\":\"d\",\"poll\":9223372036854775808," B "}", "poll",
	  "out of the 64-bit range" },
	{ "{\"device_id\":\"d\",\"poll\":-9223372036854775809," B "}", "poll",
	  "out of the 64-bit range" },
	{ "{\"device_id\":\"d\",\"poll\":1e300," B "}", "poll", "out of the 64-bit range" },
	{ "{\"device_id\":\"d\",\"poll\":-92233720368547758.09e2," B "}", "poll",
	  "out of the 64-bit range" },
	{ "{\"device_id\":\"d\",\"poll\":9.007199254740993e15," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":-92233720368547758.08e2," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":1.50e1," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":0.0e-5," B "}", NULL, NULL },
	{ "{\"device_id\":\"d\",\"poll\":1.5e0," B "}", "poll", "expected an integer" },
	{ "{\"device_id\":\"d\",\"poll\":1e-1," B "}", "poll", "expected an integer" },
	{ "{\"device_id\":\"d\",\"poll\":4503599627370496.5," B "}", "poll", "expected an integer" },
};

static void test_check_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < LP_ARRAY_SIZE(check_cases); i++) {
		const struct check_case *c = &check_cases[i];
		struct lp_diag diag;
		int r;

		lp_diag_clear(&diag);
		r = check_config(c->text, &diag);
		if (!c->path) {
			if (r != 0)
				fail_msg("case %zu (%s): %d %s: %s", i, c->text, r, diag.path, diag.msg);
			continue;
		}
		if (r != -EINVAL)
			fail_msg("case %zu (%s): ret %d, expected -EINVAL", i, c->text, r);
		if (strcmp(diag.path, c->path) != 0)
			fail_msg("case %zu (%s): path \"%s\", expected \"%s\"", i, c->text, diag.path,
				 c->path);
		if (!strstr(diag.msg, c->msg))
			fail_msg("case %zu (%s): message \"%s\" lacks \"%s\"", i, c->text, diag.msg,
				 c->msg);
	}
}

/* A tree built in code (no source text) still gets the 2^53 rule. */
static void test_check_built_tree(void **state)
{
	static const struct lp_json_field f[] = { { "n", LP_JSON_INT, true } };
	cJSON *obj = cJSON_CreateObject();
	struct lp_diag diag = { 0 };
	int64_t v = 0;

	(void)state;
	cJSON_AddNumberToObject(obj, "n", 9007199254740991.0);
	assert_int_equal(lp_json_check(obj, f, 1, "", &diag), 0);
	assert_int_equal(lp_json_get_int(obj, "n", true, 0, INT64_MAX, "", &v, &diag), 0);
	assert_true(v == 9007199254740991LL);
	cJSON_SetNumberValue(cJSON_GetObjectItem(obj, "n"), 9007199254740992.0);
	assert_int_equal(lp_json_check(obj, f, 1, "", &diag), -EINVAL);
	assert_non_null(strstr(diag.msg, "2^53"));
	cJSON_Delete(obj);
}

static void test_getters(void **state)
{
	static const char *const modes[] = { "forced", "soft", "download-only", NULL };
	const char *text = "{\"s\":\"str\",\"i\":42,\"big\":9007199254740993,\"b\":true,"
			   "\"e\":\"soft\",\"bad\":\"hard\",\"f\":2.5,\"n\":null,"
			   "\"x\":1.50e1,\"min\":-9223372036854775808}";
	struct lp_diag diag = { 0 };
	cJSON *root = NULL;
	const char *s = "unchanged";
	int64_t i = -1;
	bool b = false;
	int e = -1;

	(void)state;
	assert_int_equal(lp_json_parse(text, strlen(text), 4096, 0, &root, &diag), 0);

	assert_int_equal(lp_json_get_string(root, "s", true, "cfg", &s, &diag), 0);
	assert_string_equal(s, "str");
	assert_int_equal(lp_json_get_int(root, "i", true, 0, 100, "cfg", &i, &diag), 0);
	assert_int_equal(i, 42);
	/* exact beyond 2^53 when the source text is known */
	assert_int_equal(lp_json_get_int(root, "big", true, 0, INT64_MAX, "cfg", &i, &diag), 0);
	assert_true(i == 9007199254740993LL);
	assert_int_equal(lp_json_get_int(root, "x", true, 0, 100, "cfg", &i, &diag), 0);
	assert_int_equal(i, 15);
	assert_int_equal(lp_json_get_int(root, "min", true, INT64_MIN, 0, "cfg", &i, &diag), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(lp_json_get_bool(root, "b", true, "cfg", &b, &diag), 0);
	assert_true(b);
	assert_int_equal(lp_json_get_enum(root, "e", true, modes, "cfg", &e, &diag), 0);
	assert_int_equal(e, 1);

	/* missing: untouched and fine unless required */
	s = "unchanged";
	i = -1;
	assert_int_equal(lp_json_get_string(root, "zz", false, "cfg", &s, &diag), 0);
	assert_string_equal(s, "unchanged");
	assert_int_equal(lp_json_get_int(root, "zz", false, 0, 1, "cfg", &i, &diag), 0);
	assert_int_equal(i, -1);
	assert_int_equal(lp_json_get_bool(root, "zz", true, "cfg", &b, &diag), -EINVAL);
	assert_string_equal(diag.path, "cfg.zz");
	assert_non_null(strstr(diag.msg, "missing"));

	/* wrong kind, out of range, not a choice */
	assert_int_equal(lp_json_get_string(root, "i", true, "cfg", &s, &diag), -EINVAL);
	assert_string_equal(diag.path, "cfg.i");
	assert_string_equal(diag.msg, "expected a string, got a number");
	assert_int_equal(lp_json_get_string(root, "n", true, "cfg", &s, &diag), -EINVAL);
	assert_string_equal(diag.msg, "expected a string, got null");
	assert_int_equal(lp_json_get_int(root, "i", true, 0, 10, "", &i, &diag), -EINVAL);
	assert_string_equal(diag.path, "i");
	assert_string_equal(diag.msg, "42 is out of range (0..10)");
	assert_int_equal(i, -1);
	assert_int_equal(lp_json_get_int(root, "f", true, 0, 10, "", &i, &diag), -EINVAL);
	assert_non_null(strstr(diag.msg, "expected an integer"));
	assert_int_equal(lp_json_get_bool(root, "s", true, "", &b, &diag), -EINVAL);
	assert_string_equal(diag.msg, "expected a boolean, got a string");
	assert_int_equal(lp_json_get_enum(root, "bad", true, modes, "x", &e, &diag), -EINVAL);
	assert_string_equal(diag.path, "x.bad");
	assert_string_equal(diag.msg,
			    "\"hard\" is not one of \"forced\", \"soft\", \"download-only\"");
	assert_int_equal(e, 1);
	/* not an object */
	assert_int_equal(lp_json_get_string(cJSON_GetObjectItem(root, "s"), "k", false, "cfg.s",
					    &s, &diag),
			 -EINVAL);
	assert_string_equal(diag.path, "cfg.s");
	cJSON_Delete(root);
}

static void test_paths_print(void **state)
{
	char buf[LP_JSON_PATH_MAX], small[8];
	cJSON *root = NULL;
	char *out;

	(void)state;
	assert_string_equal(lp_json_path_key(buf, sizeof(buf), "", "a"), "a");
	assert_string_equal(lp_json_path_key(buf, sizeof(buf), NULL, "a"), "a");
	assert_string_equal(lp_json_path_key(buf, sizeof(buf), "x[2]", "a"), "x[2].a");
	assert_string_equal(lp_json_path_index(buf, sizeof(buf), "backends", 1), "backends[1]");
	assert_string_equal(lp_json_path_index(buf, sizeof(buf), "", 0), "[0]");
	assert_string_equal(lp_json_path_key(small, sizeof(small), "abcdef", "ghij"), "abcdef.");

	assert_int_equal(lp_json_parse("{ \"a\" : [ 1 , 2 ] }", 19, 100, 0, &root, NULL), 0);
	out = lp_json_print(root);
	assert_string_equal(out, "{\"a\":[1,2]}");
	free(out);
	cJSON_Delete(root);
}

static void test_parse_file(void **state)
{
	char path[] = "/tmp/lp-test-json-XXXXXX";
	const char *text = "{\n  \"a\": 1,\n  \"a\": 2\n}\n";
	struct lp_diag diag = { 0 };
	cJSON *root = NULL;
	char msg[LP_DIAG_MSG_MAX + LP_DIAG_FILE_MAX + LP_DIAG_PATH_MAX + 40];
	int fd;

	(void)state;
	fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	assert_int_equal(lp_json_parse_file(path, 4096, 0, &root, &diag), -EINVAL);
	assert_string_equal(diag.file, path);
	lp_diag_format(&diag, msg, sizeof(msg));
	assert_non_null(strstr(msg, ": a: duplicate key \"a\""));
	assert_int_equal(lp_json_parse_file(path, 10, 0, &root, &diag), -EFBIG);

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\n\"a\": [1,\n 2,]}", 16), 16);
	close(fd);
	lp_diag_clear(&diag);
	assert_int_equal(lp_json_parse_file(path, 4096, 0, &root, &diag), -EINVAL);
	lp_diag_format(&diag, msg, sizeof(msg));
	{
		char expect[128];

		snprintf(expect, sizeof(expect), "%s:3:4: syntax error near ']'", path);
		assert_string_equal(msg, expect);
	}
	unlink(path);
	assert_int_equal(lp_json_parse_file(path, 4096, 0, &root, &diag), -ENOENT);
	assert_non_null(strstr(diag.msg, "cannot open"));
	assert_null(root);
}

struct pair {
	char *name; /* allocated by the element parser: freed on a later failure */
	int64_t n;
};

static int frees;

static void pair_free(void *elem)
{
	free(((struct pair *)elem)->name);
	frees++;
}

static int pair_parse(const cJSON *item, const char *path, void *elem, size_t index,
		      const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	static const struct lp_json_field fields[] = {
		{ "name", LP_JSON_STRING, true }, { "n", LP_JSON_INT, true } };
	struct pair *p = elem;
	const char *name;
	int r;

	assert_ptr_equal(spec->ctx, &frees);
	if ((r = lp_json_check(item, fields, 2, path, diag)) < 0 ||
	    (r = lp_json_get_string(item, "name", true, path, &name, diag)) < 0 ||
	    (r = lp_json_get_int(item, "n", true, 0, 9, path, &p->n, diag)) < 0)
		return r;
	p->name = strdup(name);
	return p->name ? 0 : -ENOMEM;
}

static void test_array(void **state)
{
	static const struct {
		const char *text;
		int err;
		const char *msg; /* formatted diag, or the number of elements */
	} cases[] = {
		{ "{\"a\":{\"list\":[{\"name\":\"x\",\"n\":1},{\"name\":\"y\",\"n\":2}]}}", 0, "2" },
		{ "{\"a\":{}}", -EINVAL, "a.list: required key \"list\" is missing" },
		{ "{\"a\":{\"list\":{}}}", -EINVAL, "a.list: expected an array, got an object" },
		{ "{\"a\":{\"list\":[]}}", -EINVAL, "a.list: must list at least one entry" },
		{ "{\"a\":{\"list\":[1,1,1,1]}}", -E2BIG, "a.list: more than 3 entries" },
		{ "{\"a\":{\"list\":[{\"name\":\"x\",\"n\":1},{\"name\":\"y\",\"n\":10}]}}",
		  -EINVAL, "a.list[1].n: " },
		{ "{\"a\":{\"list\":[{\"name\":\"x\",\"n\":1},{\"name\":\"y\"}]}}",
		  -EINVAL, "a.list[1].n: required key" },
	};
	struct lp_json_array_spec spec = { .key = "list", .min = 1, .max = 3,
					   .elem_size = sizeof(struct pair), .parse = pair_parse,
					   .free_elem = pair_free, .ctx = &frees };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pair *pairs = (void *)0x1;
		size_t n = 99;
		struct lp_diag diag;
		char buf[512];
		cJSON *root;
		int r;

		lp_diag_clear(&diag);
		frees = 0;
		assert_int_equal(lp_json_parse(cases[i].text, strlen(cases[i].text), 4096, 0, &root,
					       NULL), 0);
		r = lp_json_get_array(cJSON_GetObjectItem(root, "a"), "a", &spec, (void **)&pairs, &n,
				      &diag);
		assert_int_equal(r, cases[i].err);
		if (r == 0) {
			assert_int_equal(n, 2);
			assert_string_equal(pairs[1].name, "y");
			assert_int_equal(pairs[1].n, 2);
			for (size_t k = 0; k < n; k++)
				free(pairs[k].name);
			free(pairs);
		} else {
			lp_diag_format(&diag, buf, sizeof(buf));
			assert_non_null(strstr(buf, cases[i].msg));
			assert_ptr_equal(pairs, (void *)0x1); /* untouched */
			assert_int_equal(n, 99);
			/* the element parsed before the failing one was freed */
			assert_int_equal(frees, strstr(cases[i].text, "\"y\"") ? 1 : 0);
		}
		cJSON_Delete(root);
	}
	/* optional: a missing key is an empty array */
	{
		cJSON *root = cJSON_CreateObject();
		void *elems = (void *)0x1;
		size_t n = 99;

		spec.min = 0;
		assert_int_equal(lp_json_get_array(root, "", &spec, &elems, &n, NULL), 0);
		assert_null(elems);
		assert_int_equal(n, 0);
		cJSON_Delete(root);
	}
}

static void test_array_strings(void **state)
{
	struct lp_json_array_spec spec = { .key = "ids", .min = 0, .max = 8, .elem_size = 4,
					   .parse = lp_json_elem_string, .ctx = LP_JSON_UNIQUE };
	static const struct {
		const char *text;
		const char *msg; /* NULL: accepted */
	} cases[] = {
		{ "{\"ids\":[\"abc\",\"d\"]}", NULL },
		{ "{\"ids\":[\"abcd\"]}", "ids[0]: longer than 3 bytes" },
		{ "{\"ids\":[\"\"]}", "ids[0]: must not be empty" },
		{ "{\"ids\":[\"a\",\"b\",\"a\"]}", "ids[2]: duplicate entry \"a\"" },
		{ "{\"ids\":[\"a\",null]}", "ids[1]: expected a string" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char (*ids)[4] = NULL, buf[256];
		struct lp_diag diag;
		size_t n = 0;
		cJSON *root;
		int r;

		lp_diag_clear(&diag);
		assert_int_equal(lp_json_parse(cases[i].text, strlen(cases[i].text), 4096, 0, &root,
					       NULL), 0);
		r = lp_json_get_array(root, "", &spec, (void **)&ids, &n, &diag);
		if (!cases[i].msg) {
			assert_int_equal(r, 0);
			assert_int_equal(n, 2);
			assert_string_equal(ids[0], "abc");
			assert_string_equal(ids[1], "d");
			free(ids);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(lp_diag_format(&diag, buf, sizeof(buf)), cases[i].msg));
		}
		cJSON_Delete(root);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),   cmocka_unit_test(test_parse_length),
		cmocka_unit_test(test_depth_default), cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_check_built_tree), cmocka_unit_test(test_getters),
		cmocka_unit_test(test_paths_print),   cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_array),         cmocka_unit_test(test_array_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

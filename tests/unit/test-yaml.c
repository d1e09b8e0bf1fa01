/* SPDX-License-Identifier: MIT */
/*
 * lib/yaml: loading (size limit, NUL bytes, syntax errors, aliases, depth, one document),
 * key tables (unknown, duplicate, missing, wrong kind), user-named mappings, lists, every
 * scalar conversion with its refusals, YAML → JSON, and that every error carries the file,
 * line, column and element path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopline/json.h"
#include "loopline/yaml.h"

static struct lp_yaml *load_ok(const char *text, struct lp_diag *diag)
{
	struct lp_yaml *y = NULL;
	char buf[1024];

	if (lp_yaml_load(text, strlen(text), 1 << 20, "t.yaml", &y, diag) < 0)
		fail_msg("load failed: %s", lp_diag_format(diag, buf, sizeof(buf)));
	return y;
}

static void assert_diag(const struct lp_diag *d, unsigned line, unsigned col, const char *path,
			const char *msg)
{
	char buf[1024];

	lp_diag_format(d, buf, sizeof(buf));
	if (d->line != line || d->column != col || strcmp(d->path, path) != 0 ||
	    !strstr(d->msg, msg))
		fail_msg("got \"%s\" (line %u col %u path \"%s\"), want %u:%u \"%s\" \"%s\"", buf,
			 d->line, d->column, d->path, line, col, path, msg);
	assert_string_equal(d->file, "t.yaml");
}

struct load_case {
	const char *text;
	int err;
	unsigned line, column;
	const char *msg;
};

static void test_load_errors(void **state)
{
	static const struct load_case cases[] = {
		{ "a: [1, 2\n", -EINVAL, 2, 1, "YAML syntax error" },
		{ "a: b: c\n", -EINVAL, 1, 5, "mapping values are not allowed" },
		{ "a: &x 1\nb: *x\n", -EINVAL, 2, 4, "aliases (*x) are not allowed" },
		{ "a: 1\n---\nb: 2\n", -EINVAL, 2, 1, "only one YAML document" },
		{ "a: \"\\t\"\nb: x\0y\n", -EINVAL, 2, 5, "NUL byte" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", -EINVAL, 1,
		  33, "nested deeper than 32 levels" },
		{ "a: \"\\xff\"\n", 0, 0, 0, NULL }, /* escapes are fine */
		{ "a: 1\n...\n", 0, 0, 0, NULL },
	};
	size_t lens[LP_ARRAY_SIZE(cases)];

	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++)
		lens[i] = strlen(cases[i].text);
	lens[4] = sizeof("a: \"\\t\"\nb: x\0y\n") - 1;
	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		struct lp_yaml *y = NULL;
		struct lp_diag d;
		int r = lp_yaml_load(cases[i].text, lens[i], 4096, "t.yaml", &y, &d);

		if (r != cases[i].err)
			fail_msg("case %zu: r=%d msg=%s", i, r, d.msg);
		if (r == 0) {
			lp_yaml_free(y);
			continue;
		}
		assert_null(y);
		assert_diag(&d, cases[i].line, cases[i].column, "", cases[i].msg);
	}
}

static void test_load_limits(void **state)
{
	struct lp_yaml *y = NULL;
	struct lp_diag d;
	char path[] = "/tmp/test-yaml-XXXXXX";
	int fd;

	assert_int_equal(lp_yaml_load("a: 1\n", 5, 4, "t.yaml", &y, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "larger than 4 bytes"));
	assert_null(y);

	/* an empty document loads with no root */
	assert_int_equal(lp_yaml_load("", 0, 4, "t.yaml", &y, &d), 0);
	assert_null(lp_yaml_root(y));
	lp_yaml_free(y);
	y = NULL;
	assert_int_equal(lp_yaml_load("# only a comment\n", 17, 100, "t.yaml", &y, &d), 0);
	assert_null(lp_yaml_root(y));
	lp_yaml_free(y);
	lp_yaml_free(NULL);

	/* files */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "k: v\n", 5), 5);
	close(fd);
	y = NULL;
	assert_int_equal(lp_yaml_load_file(path, 100, &y, &d), 0);
	assert_string_equal(lp_yaml_name(y), path);
	assert_string_equal(lp_yaml_text(lp_yaml_map_get(y, lp_yaml_root(y), "k")), "v");
	lp_yaml_free(y);
	y = NULL;
	assert_int_equal(lp_yaml_load_file(path, 3, &y, &d), -E2BIG);
	assert_string_equal(d.file, path);
	assert_non_null(strstr(d.msg, "larger than 3 bytes"));
	unlink(path);
	assert_int_equal(lp_yaml_load_file(path, 100, &y, &d), -ENOENT);
	assert_string_equal(d.file, path);
	assert_non_null(strstr(d.msg, "cannot open"));
	assert_null(y);
}

static void test_nodes(void **state)
{
	struct lp_diag d;
	struct lp_yaml *y = load_ok("list: [a, 'b', \"c\"]\nmap: {x: 1}\nnull1: ~\nnull2:\n"
				    "null3: null\nquoted: 'null'\nblock: |\n  text\n",
				    &d);
	yaml_node_t *root = lp_yaml_root(y), *k, *v, *list;

	assert_int_equal(lp_yaml_kind(root), LP_YAML_MAPPING);
	assert_int_equal(lp_yaml_map_len(root), 7);
	assert_int_equal(lp_yaml_map_pair(y, root, 1, &k, &v), 0);
	assert_string_equal(lp_yaml_text(k), "map");
	assert_int_equal(lp_yaml_kind(v), LP_YAML_MAPPING);
	assert_int_equal(lp_yaml_line(v), 2);
	assert_int_equal(lp_yaml_column(v), 6);
	assert_int_equal(lp_yaml_map_pair(y, root, 7, &k, &v), -ENOENT);

	list = lp_yaml_map_get(y, root, "list");
	assert_int_equal(lp_yaml_seq_len(list), 3);
	assert_true(lp_yaml_is_plain(lp_yaml_seq_item(y, list, 0)));
	assert_false(lp_yaml_is_plain(lp_yaml_seq_item(y, list, 1)));
	assert_string_equal(lp_yaml_text(lp_yaml_seq_item(y, list, 2)), "c");
	assert_null(lp_yaml_seq_item(y, list, 3));
	assert_null(lp_yaml_text(list));
	assert_string_equal(lp_yaml_kind_name(list), "a list");

	assert_true(lp_yaml_is_null(lp_yaml_map_get(y, root, "null1")));
	assert_true(lp_yaml_is_null(lp_yaml_map_get(y, root, "null2")));
	assert_true(lp_yaml_is_null(lp_yaml_map_get(y, root, "null3")));
	assert_false(lp_yaml_is_null(lp_yaml_map_get(y, root, "quoted")));
	assert_string_equal(lp_yaml_kind_name(lp_yaml_map_get(y, root, "null2")), "null");
	assert_string_equal(lp_yaml_text(lp_yaml_map_get(y, root, "block")), "text\n");
	assert_null(lp_yaml_map_get(y, root, "nope"));
	{
		char sub[LP_DIAG_PATH_MAX];

		assert_ptr_equal(lp_yaml_map_get_path(y, root, "top", "map", sub, sizeof(sub)),
				 lp_yaml_map_get(y, root, "map"));
		assert_string_equal(sub, "top.map");
		assert_null(lp_yaml_map_get_path(y, root, "", "nope", sub, sizeof(sub)));
		assert_string_equal(sub, "nope");
	}
	assert_ptr_equal(lp_yaml_diag(y), &d);
	lp_yaml_free(y);
}

static const struct lp_yaml_key keys[] = {
	{ "name", LP_YAML_SCALAR, true },
	{ "items", LP_YAML_SEQUENCE, false },
	{ "opts", LP_YAML_MAPPING, false },
	{ "any", LP_YAML_ANY, false },
};

struct map_case {
	const char *text;
	unsigned line, column;
	const char *path;
	const char *msg;
};

static void test_check_map(void **state)
{
	static const struct map_case cases[] = {
		{ "top:\n  name: x\n  colour: red\n", 3, 3, "top.colour", "unknown key \"colour\"" },
		{ "top:\n  name: x\n  name: y\n", 3, 3, "top.name",
		  "duplicate key \"name\" (first at line 2)" },
		{ "top:\n  items: []\n", 2, 3, "top.name", "missing required key \"name\"" },
		{ "top: {name: [a]}\n", 1, 13, "top.name", "expected a single value, found a list" },
		{ "top: {name: x, items: b}\n", 1, 23, "top.items", "expected a list, found a scalar" },
		{ "top: {name: x, opts: 'q'}\n", 1, 22, "top.opts", "expected a mapping, found a string" },
		{ "top: {name: }\n", 1, 13, "top.name", "expected a single value, found null" },
		{ "top: {name: x, items: ~}\n", 1, 23, "top.items", "expected a list, found null" },
		{ "top: {[a]: x}\n", 1, 7, "top", "keys must be strings, found a list" },
		{ "top: {~: x}\n", 1, 7, "top", "keys must be strings, found null" },
		{ "top: [name]\n", 1, 6, "top", "expected a mapping, found a list" },
	};

	for (size_t i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		struct lp_diag d;
		struct lp_yaml *y = load_ok(cases[i].text, &d);
		yaml_node_t *top = lp_yaml_map_get(y, lp_yaml_root(y), "top");

		assert_int_equal(lp_yaml_check_map(y, top, "top", keys, LP_ARRAY_SIZE(keys)), -EINVAL);
		assert_diag(&d, cases[i].line, cases[i].column, cases[i].path, cases[i].msg);
		lp_yaml_free(y);
	}
	{
		struct lp_diag d;
		struct lp_yaml *y = load_ok("name: x\nany: ~\nopts: {}\nitems: [1]\n", &d);

		assert_int_equal(lp_yaml_check_map(y, lp_yaml_root(y), "", keys, LP_ARRAY_SIZE(keys)),
				 0);
		lp_yaml_free(y);
		/* the root's keys have no prefix in their path */
		y = load_ok("name: x\nbad: 1\n", &d);
		assert_int_equal(lp_yaml_check_map(y, lp_yaml_root(y), "", keys, LP_ARRAY_SIZE(keys)),
				 -EINVAL);
		assert_diag(&d, 2, 1, "bad", "unknown key \"bad\"");
		lp_yaml_free(y);
	}
}

static void test_check_names(void **state)
{
	struct lp_diag d;
	struct lp_yaml *y;
	char big[64 * 1024];
	size_t used = 0;

	y = load_ok("boards: {a: 1, b: 2, c: 3, b: 4, a: 5}\n", &d);
	assert_int_equal(lp_yaml_check_names(y, lp_yaml_map_get(y, lp_yaml_root(y), "boards"),
					     "boards", 10, "board"),
			 -EINVAL);
	/* the earliest second use, pointing back at the first */
	assert_diag(&d, 1, 28, "boards.b", "duplicate board \"b\" (first at line 1)");
	lp_yaml_free(y);

	y = load_ok("boards: {a: 1, b: 2, c: 3}\n", &d);
	assert_int_equal(lp_yaml_check_names(y, lp_yaml_map_get(y, lp_yaml_root(y), "boards"),
					     "boards", 2, "board"),
			 -EINVAL);
	assert_diag(&d, 1, 9, "boards", "at most 2 entries, found 3");
	lp_yaml_free(y);

	y = load_ok("boards: {'': 1}\n", &d);
	assert_int_equal(lp_yaml_check_names(y, lp_yaml_map_get(y, lp_yaml_root(y), "boards"),
					     "boards", 2, "board"),
			 -EINVAL);
	assert_diag(&d, 1, 10, "boards", "board names must not be empty");
	lp_yaml_free(y);

	/* many keys: the duplicate at the end is found without quadratic work */
	used += (size_t)snprintf(big + used, sizeof(big) - used, "m:\n");
	for (int i = 0; i < 3000; i++)
		used += (size_t)snprintf(big + used, sizeof(big) - used, "  k%d: 1\n", i);
	snprintf(big + used, sizeof(big) - used, "  k17: 2\n");
	y = load_ok(big, &d);
	assert_int_equal(lp_yaml_check_names(y, lp_yaml_map_get(y, lp_yaml_root(y), "m"), "m",
					     SIZE_MAX, "key"),
			 -EINVAL);
	assert_diag(&d, 3002, 3, "m.k17", "duplicate key \"k17\" (first at line 19)");
	lp_yaml_free(y);
}

static void test_check_seq(void **state)
{
	struct lp_diag d;
	struct lp_yaml *y = load_ok("e: []\nt: [1, 2, 3]\nm: {}\n", &d);
	yaml_node_t *root = lp_yaml_root(y);

	assert_int_equal(lp_yaml_check_seq(y, lp_yaml_map_get(y, root, "e"), "e", 0, 3), 0);
	assert_int_equal(lp_yaml_check_seq(y, lp_yaml_map_get(y, root, "e"), "e", 1, 3), -EINVAL);
	assert_diag(&d, 1, 4, "e", "must not be empty");
	assert_int_equal(lp_yaml_check_seq(y, lp_yaml_map_get(y, root, "t"), "t", 1, 2), -EINVAL);
	assert_diag(&d, 2, 4, "t", "at most 2 entries, found 3");
	assert_int_equal(lp_yaml_check_seq(y, lp_yaml_map_get(y, root, "m"), "m", 0, 2), -EINVAL);
	assert_diag(&d, 3, 4, "m", "expected a list, found a mapping");
	lp_yaml_free(y);
}

/* Scalars: "v: TEXT" converted by one function; ok or an error message fragment. */
enum conv { C_STRING, C_INT, C_BOOL, C_DURATION, C_ENUM };

struct scalar_case {
	enum conv conv;
	const char *text;
	const char *want;  /* the value printed, or NULL for an error */
	const char *msg;   /* error fragment */
};

static const struct scalar_case scalars[] = {
	{ C_STRING, "hello", "hello", NULL },
	{ C_STRING, "'null'", "null", NULL },
	{ C_STRING, "1.10", "1.10", NULL },
	{ C_STRING, "\"a: b\"", "a: b", NULL },
	{ C_STRING, "12345678", NULL, "longer than 7 characters" },
	{ C_STRING, "1234567", "1234567", NULL },
	{ C_STRING, "''", NULL, "must not be empty" },
	{ C_STRING, "~", NULL, "expected a string, found null" },
	{ C_STRING, "Null", NULL, "expected a string, found null" },
	{ C_STRING, "[a]", NULL, "expected a string, found a list" },
	{ C_STRING, "\"a\\0b\"", NULL, "must not contain NUL bytes" },
	{ C_INT, "0", "0", NULL },
	{ C_INT, "-5", "-5", NULL },
	{ C_INT, "100", "100", NULL },
	{ C_INT, "101", NULL, "101 is out of range (-5..100)" },
	{ C_INT, "-6", NULL, "-6 is out of range (-5..100)" },
	{ C_INT, "99999999999999999999", NULL, "out of range" },
	{ C_INT, "010", NULL, "expected an integer, found \"010\"" },
	{ C_INT, "+5", NULL, "expected an integer, found \"+5\"" },
	{ C_INT, "0x10", NULL, "expected an integer" },
	{ C_INT, "1_000", NULL, "expected an integer" },
	{ C_INT, "5.0", NULL, "expected an integer" },
	{ C_INT, "'5'", NULL, "expected an integer, found \"5\"" },
	{ C_INT, "{}", NULL, "expected an integer, found a mapping" },
	{ C_BOOL, "true", "1", NULL },
	{ C_BOOL, "false", "0", NULL },
	{ C_BOOL, "yes", NULL, "expected true or false, found \"yes\"" },
	{ C_BOOL, "'true'", NULL, "expected true or false" },
	{ C_BOOL, "~", NULL, "expected true or false, found null" },
	{ C_DURATION, "30", "30000", NULL },
	{ C_DURATION, "30s", "30000", NULL },
	{ C_DURATION, "500ms", "500", NULL },
	{ C_DURATION, "5m", "300000", NULL },
	{ C_DURATION, "'2h'", "7200000", NULL },
	{ C_DURATION, "3h", NULL, "3h is out of range (100ms..2h)" },
	{ C_DURATION, "99ms", NULL, "99ms is out of range (100ms..2h)" },
	{ C_DURATION, "soon", NULL, "expected a duration such as 30, 30s, 500ms or 5m, found \"soon\"" },
	{ C_DURATION, "5 m", NULL, "expected a duration" },
	{ C_DURATION, "-1s", NULL, "expected a duration" },
	{ C_DURATION, "99999999999999999999h", NULL, "out of range" },
	{ C_DURATION, "[1]", NULL, "expected a duration such as 30s, 500ms or 5m, found a list" },
	{ C_ENUM, "tcp", "1", NULL },
	{ C_ENUM, "udp", NULL, "expected one of serial, tcp, unix, found \"udp\"" },
	{ C_ENUM, "{a: b}", NULL, "expected one of serial, tcp, unix, found a mapping" },
};

static void test_scalars(void **state)
{
	static const char *const choices[] = { "serial", "tcp", "unix", NULL };

	for (size_t i = 0; i < LP_ARRAY_SIZE(scalars); i++) {
		const struct scalar_case *c = &scalars[i];
		char text[256], got[64] = "", s[8];
		struct lp_diag d;
		struct lp_yaml *y;
		yaml_node_t *v;
		int64_t n;
		uint64_t ms;
		bool b;
		int e, r = -1;

		snprintf(text, sizeof(text), "v: %s\n", c->text);
		y = load_ok(text, &d);
		v = lp_yaml_map_get(y, lp_yaml_root(y), "v");
		switch (c->conv) {
		case C_STRING:
			r = lp_yaml_string(y, v, "v", false, s, sizeof(s));
			snprintf(got, sizeof(got), "%s", s);
			break;
		case C_INT:
			r = lp_yaml_int(y, v, "v", -5, 100, &n);
			snprintf(got, sizeof(got), "%lld", (long long)n);
			break;
		case C_BOOL:
			r = lp_yaml_bool(y, v, "v", &b);
			snprintf(got, sizeof(got), "%d", b);
			break;
		case C_DURATION:
			r = lp_yaml_duration(y, v, "v", 100, 7200000, &ms);
			snprintf(got, sizeof(got), "%llu", (unsigned long long)ms);
			break;
		case C_ENUM:
			r = lp_yaml_enum(y, v, "v", choices, &e);
			snprintf(got, sizeof(got), "%d", e);
			break;
		}
		if (c->want) {
			if (r != 0)
				fail_msg("case %zu (%s): %s", i, c->text, d.msg);
			assert_string_equal(got, c->want);
		} else {
			if (r != -EINVAL)
				fail_msg("case %zu (%s): accepted as %s", i, c->text, got);
			assert_diag(&d, 1, 4, "v", c->msg);
		}
		lp_yaml_free(y);
	}
}

static void test_missing_node(void **state)
{
	struct lp_diag d;
	struct lp_yaml *y = load_ok("a: 1\n", &d);
	char s[8];

	assert_int_equal(lp_yaml_string(y, NULL, "b", false, s, sizeof(s)), -EINVAL);
	assert_diag(&d, 0, 0, "b", "missing a string");
	lp_yaml_free(y);
}

static void test_to_json(void **state)
{
	struct lp_diag d;
	struct lp_yaml *y = load_ok("v:\n  s: text\n  q: '12'\n  n: 12\n  f: -1.5e3\n  t: true\n"
				    "  z: ~\n  v: 1.0.0\n  o: 0x10\n  l: [1, a, {b: null}]\n",
				    &d);
	cJSON *j = NULL;
	char *text;

	assert_int_equal(lp_yaml_to_json(y, lp_yaml_map_get(y, lp_yaml_root(y), "v"), "v", &j), 0);
	text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "{\"s\":\"text\",\"q\":\"12\",\"n\":12,\"f\":-1500,\"t\":true,"
				  "\"z\":null,\"v\":\"1.0.0\",\"o\":\"0x10\","
				  "\"l\":[1,\"a\",{\"b\":null}]}");
	free(text);
	cJSON_Delete(j);
	lp_yaml_free(y);

	y = load_ok("v:\n  a: {x: 1, x: 2}\n", &d);
	j = NULL;
	assert_int_equal(lp_yaml_to_json(y, lp_yaml_map_get(y, lp_yaml_root(y), "v"), "v", &j),
			 -EINVAL);
	assert_null(j);
	assert_diag(&d, 2, 13, "v.a.x", "duplicate key \"x\" (first at line 2)");
	lp_yaml_free(y);

	y = load_ok("v: [1, {a: [2, {[k]: 1}]}]\n", &d);
	assert_int_equal(lp_yaml_to_json(y, lp_yaml_map_get(y, lp_yaml_root(y), "v"), "v", &j),
			 -EINVAL);
	assert_diag(&d, 1, 17, "v[1].a[1]", "keys must be strings");
	lp_yaml_free(y);
}

static void test_fail_and_format(void **state)
{
	struct lp_diag d;
	struct lp_yaml *y = load_ok("a:\n  b: [x, y]\n", &d);
	yaml_node_t *b = lp_yaml_map_get(y, lp_yaml_map_get(y, lp_yaml_root(y), "a"), "b");
	char buf[256], path[LP_DIAG_PATH_MAX];

	lp_diag_set_file(&d, "something else");
	assert_int_equal(lp_yaml_fail(y, lp_yaml_seq_item(y, b, 1),
				      lp_json_path_index(path, sizeof(path), "a.b", 1), "no %s", "y"),
			 -EINVAL);
	assert_string_equal(lp_diag_format(&d, buf, sizeof(buf)), "t.yaml:2:10: a.b[1]: no y");
	lp_yaml_free(y);

	/* no diag at all: errors are still returned */
	assert_int_equal(lp_yaml_load("a: [", 4, 100, "x", &y, NULL), -EINVAL);
	assert_int_equal(lp_yaml_load("a: 1\n", 5, 100, "x", &y, NULL), 0);
	assert_int_equal(lp_yaml_check_map(y, lp_yaml_root(y), "", keys, LP_ARRAY_SIZE(keys)),
			 -EINVAL);
	lp_yaml_free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_limits),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_check_map),
		cmocka_unit_test(test_check_names),
		cmocka_unit_test(test_check_seq),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_missing_node),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_fail_and_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

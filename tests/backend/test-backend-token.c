/* SPDX-License-Identifier: MIT */
/* Unit tests of backend/token.c: secrets, their hashes, name validation and roles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"

static void test_random(void **state)
{
	char a[BE_TOKEN_LEN + 1], b[BE_TOKEN_LEN + 1];
	int seen[128] = { 0 }, distinct = 0;

	assert_int_equal(be_token_random(a), 0);
	assert_int_equal(be_token_random(b), 0);
	assert_int_equal(strlen(a), BE_TOKEN_LEN);
	assert_string_not_equal(a, b);
	for (int round = 0; round < 64; round++) {
		assert_int_equal(be_token_random(a), 0);
		for (size_t i = 0; i < BE_TOKEN_LEN; i++) {
			unsigned char c = (unsigned char)a[i];

			assert_true((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9'));
			distinct += !seen[c]++;
		}
	}
	/* 2048 characters from 62: every one of them shows up (p of a miss < 1e-12) */
	assert_int_equal(distinct, 62);
}

static void test_hash(void **state)
{
	char h[BE_HASH_HEX];

	assert_int_equal(be_token_hash("abc", 3, h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(be_token_hash("", 0, h), 0);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_names(void **state)
{
	char n64[65], n65[66], id128[129], id129[130];

	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'a', 65);
	n65[65] = '\0';
	memset(id128, 'x', 128);
	id128[128] = '\0';
	memset(id129, 'x', 129);
	id129[129] = '\0';
	assert_true(be_name_valid("acme_eu-1"));
	assert_true(be_name_valid(n64));
	assert_false(be_name_valid(n65));
	assert_false(be_name_valid(""));
	assert_false(be_name_valid(NULL));
	assert_false(be_name_valid("a.b"));
	assert_false(be_name_valid("../x"));
	assert_false(be_name_valid("a b"));
	assert_true(be_controller_id_valid("dev-1.eu:rack_2"));
	assert_true(be_controller_id_valid(id128));
	assert_false(be_controller_id_valid(id129));
	assert_false(be_controller_id_valid(".hidden"));
	assert_false(be_controller_id_valid("a/b"));
	assert_false(be_controller_id_valid("a%2f"));
	assert_true(be_filename_valid("fw-1.2.0+b1.lpkg"));
	assert_false(be_filename_valid(".lpkg"));
	assert_false(be_filename_valid("a/b.lpkg"));
	assert_false(be_filename_valid("a:b"));
}

static void test_roles(void **state)
{
	static const char *const names[] = { "viewer", "ci", "operator", "admin" };
	enum be_role r = BE_ROLE_ADMIN;

	for (size_t i = 0; i < LP_ARRAY_SIZE(names); i++) {
		assert_int_equal(be_role_parse(names[i], &r), 0);
		assert_int_equal(r, (enum be_role)i);
		assert_string_equal(be_role_name(r), names[i]);
	}
	/* the order is the privilege order the management API checks */
	assert_true(BE_ROLE_VIEWER < BE_ROLE_CI && BE_ROLE_CI < BE_ROLE_OPERATOR &&
		    BE_ROLE_OPERATOR < BE_ROLE_ADMIN);
	r = BE_ROLE_CI;
	assert_int_equal(be_role_parse("root", &r), -EINVAL);
	assert_int_equal(be_role_parse("Admin", &r), -EINVAL);
	assert_int_equal(be_role_parse(NULL, &r), -EINVAL);
	assert_int_equal(r, BE_ROLE_CI);
	assert_string_equal(be_role_name((enum be_role)7), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * Strict JSON parser and field checks. Whatever lp_json_parse accepts must print back to
 * text that it accepts again; every rejection must come with a message.
 */
#include <stdlib.h>
#include <string.h>

#include "loopline/json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const struct lp_json_field item_fields[] = {
	{ "url", LP_JSON_STRING, true },
	{ "weight", LP_JSON_INT, false },
	{ "proxy", LP_JSON_STRING_OR_NULL, false },
};

static const struct lp_json_field root_fields[] = {
	{ "name", LP_JSON_STRING, true },
	{ "version", LP_JSON_INT, false },
	{ "ratio", LP_JSON_NUMBER, false },
	{ "enabled", LP_JSON_BOOL, false },
	{ "items", LP_JSON_ARRAY, false },
	{ "extra", LP_JSON_OBJECT_OR_NULL, false },
	{ "any", LP_JSON_ANY, false },
};

static void check_tree(const cJSON *root)
{
	static const char *const modes[] = { "a", "b", NULL };
	struct lp_diag diag;
	const cJSON *item;
	const char *s;
	int64_t i;
	bool b;
	int e;
	size_t n = 0;

	lp_diag_clear(&diag);
	if (lp_json_check(root, root_fields, LP_ARRAY_SIZE(root_fields), "", &diag) < 0) {
		if (!diag.msg[0])
			abort();
		return;
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "items")) {
		char path[LP_JSON_PATH_MAX];

		lp_json_path_index(path, sizeof(path), "items", n++);
		if (lp_json_check(item, item_fields, LP_ARRAY_SIZE(item_fields), path, &diag) < 0 &&
		    !diag.msg[0])
			abort();
		(void)lp_json_get_int(item, "weight", false, -5, 5, path, &i, &diag);
	}
	(void)lp_json_get_string(root, "name", true, "", &s, &diag);
	(void)lp_json_get_int(root, "version", false, INT64_MIN, INT64_MAX, "", &i, &diag);
	(void)lp_json_get_bool(root, "enabled", false, "", &b, &diag);
	(void)lp_json_get_enum(root, "name", false, modes, "", &e, &diag);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct lp_diag diag;
	cJSON *root = NULL, *again = NULL;
	char *text;
	int r;

	lp_diag_clear(&diag);
	r = lp_json_parse((const char *)data, size, 65536, 16, &root, &diag);
	if (r < 0) {
		if (!diag.msg[0] || root)
			abort();
		return 0;
	}
	check_tree(root);

	text = lp_json_print(root);
	if (text) {
		lp_diag_clear(&diag);
		if (lp_json_parse(text, strlen(text), SIZE_MAX - 1, 16, &again, &diag) < 0)
			abort(); /* what we accepted must survive a round trip */
		cJSON_Delete(again);
		free(text);
	}
	cJSON_Delete(root);
	return 0;
}

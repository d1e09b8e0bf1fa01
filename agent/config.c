/* SPDX-License-Identifier: MIT */
/*
 * agent.json: strict JSON (docs/agent.md). Unknown keys, wrong types, missing required
 * keys and values out of range are errors with the element path ("backends[1].urls[0]").
 * An optional device config file ("device_config") replaces top-level keys of the main
 * file; it is checked by the same rules and its errors name it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/log.h"

#define PATHBUF 256

static const struct lp_json_field root_fields[] = {
	{ "device_id", LP_JSON_STRING, true },
	{ "hardware_id", LP_JSON_STRING, true },
	{ "data_dir", LP_JSON_STRING, true },
	{ "backends", LP_JSON_ARRAY, false },
	{ "poll", LP_JSON_OBJECT, false },
	{ "download", LP_JSON_OBJECT, false },
	{ "slots", LP_JSON_OBJECT, true },
	{ "bootenv", LP_JSON_OBJECT, true },
	{ "health_checks", LP_JSON_ARRAY, false },
	{ "health_backend_reachable", LP_JSON_BOOL, false },
	{ "actions", LP_JSON_OBJECT, false },
	{ "allow_scripts", LP_JSON_BOOL, false },
	{ "trusted_keys", LP_JSON_ARRAY, true },
	{ "decryption_keys", LP_JSON_ARRAY, false },
	{ "reboot_command", LP_JSON_ARRAY, false },
	{ "device_config", LP_JSON_STRING, false },
	{ "version_file", LP_JSON_STRING, false },
};

static const struct lp_json_field backend_fields[] = {
	{ "name", LP_JSON_STRING, false },
	{ "urls", LP_JSON_ARRAY, true },
	{ "tenant", LP_JSON_STRING, true },
	{ "target_token", LP_JSON_STRING, false },
	{ "gateway_token", LP_JSON_STRING, false },
	{ "client_cert", LP_JSON_STRING, false },
	{ "client_key", LP_JSON_STRING, false },
	{ "ca_file", LP_JSON_STRING, false },
	{ "proxy", LP_JSON_STRING, false },
	{ "insecure_plain_http", LP_JSON_BOOL, false },
};

static const struct lp_json_field poll_fields[] = {
	{ "min_s", LP_JSON_INT, false },
	{ "max_s", LP_JSON_INT, false },
	{ "default_s", LP_JSON_INT, false },
	{ "jitter_percent", LP_JSON_INT, false },
};

static const struct lp_json_field download_fields[] = {
	{ "max_attempts", LP_JSON_INT, false },
	{ "backoff_min_ms", LP_JSON_INT, false },
	{ "backoff_max_ms", LP_JSON_INT, false },
	{ "stall_timeout_s", LP_JSON_INT, false },
	{ "progress_interval_s", LP_JSON_INT, false },
};

static const struct lp_json_field slots_fields[] = {
	{ "A", LP_JSON_STRING, true },
	{ "B", LP_JSON_STRING, true },
	{ "cmdline_file", LP_JSON_STRING, false },
};

static const struct lp_json_field bootenv_fields[] = {
	{ "type", LP_JSON_STRING, true },
	{ "fw_env_config", LP_JSON_STRING, false },
	{ "grubenv", LP_JSON_STRING, false },
	{ "bootlimit", LP_JSON_INT, false },
};

static const struct lp_json_field command_fields[] = {
	{ "name", LP_JSON_STRING, true },
	{ "argv", LP_JSON_ARRAY, true },
	{ "timeout_s", LP_JSON_INT, false },
};

static const struct lp_json_field action_fields[] = {
	{ "argv", LP_JSON_ARRAY, true },
	{ "timeout_s", LP_JSON_INT, false },
};

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void command_clear(struct agent_command *c)
{
	free(c->name);
	free_strv(c->argv, c->argc + 1);
	memset(c, 0, sizeof(*c));
}

static void backend_clear(struct agent_backend *b)
{
	free(b->name);
	free_strv(b->urls, b->n_urls);
	free(b->tenant);
	free(b->token);
	free(b->client_cert);
	free(b->client_key);
	free(b->ca_file);
	free(b->proxy);
	memset(b, 0, sizeof(*b));
}

void agent_config_free(struct agent_config *c)
{
	if (!c)
		return;
	free(c->source);
	free(c->device_config);
	free(c->version_file);
	free(c->device_id);
	free(c->hardware_id);
	free(c->data_dir);
	for (size_t i = 0; i < c->n_backends; i++)
		backend_clear(&c->backends[i]);
	free(c->backends);
	free(c->slot_path[0]);
	free(c->slot_path[1]);
	free(c->cmdline_file);
	free(c->bootenv_path);
	for (size_t i = 0; i < c->n_health; i++)
		command_clear(&c->health[i]);
	free(c->health);
	for (size_t i = 0; i < c->n_actions; i++)
		command_clear(&c->actions[i]);
	free(c->actions);
	command_clear(&c->reboot);
	free_strv(c->trusted_keys, c->n_trusted_keys);
	free_strv(c->decryption_keys, c->n_decryption_keys);
	free(c);
}

/* Identifiers end up in URLs and file names: keep them to a safe alphabet. */
static bool is_identifier(const char *s)
{
	if (!s[0])
		return false;
	for (const char *p = s; *p; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '~'))
			return false;
	}
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

enum str_kind {
	STR_TEXT,  /* any printable text */
	STR_ID,    /* identifier */
	STR_PATH,  /* absolute path */
};

/* Reads a string field, checks it and stores a copy in *ret (left alone if absent). */
static int get_str(const cJSON *obj, const char *key, bool required, const char *path,
		   enum str_kind kind, size_t max, char **ret, struct lp_diag *diag)
{
	char p[PATHBUF];
	const char *s = NULL;
	int r;

	r = lp_json_get_string(obj, key, required, path, &s, diag);
	if (r < 0)
		return r;
	if (!s)
		return 0;
	lp_json_path_key(p, sizeof(p), path, key);
	if (strlen(s) >= max)
		return lp_diag_fail_at(diag, -EINVAL, p, "longer than %zu bytes", max - 1);
	switch (kind) {
	case STR_ID:
		if (!is_identifier(s))
			return lp_diag_fail_at(diag, -EINVAL, p,
					       "\"%s\" is not an identifier (letters, digits, '.', '_', '-', '~')", s);
		break;
	case STR_PATH:
		if (s[0] != '/' || has_control(s))
			return lp_diag_fail_at(diag, -EINVAL, p, "expected an absolute path");
		break;
	case STR_TEXT:
		if (!s[0] || has_control(s))
			return lp_diag_fail_at(diag, -EINVAL, p, "expected non-empty printable text");
		break;
	}
	free(*ret);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* What the strings of one array must be: the first and the others (argv[0] is a path,
 * its arguments any text, which may be empty); URLs also need an allowed scheme. */
struct strv_rules {
	enum str_kind first, rest;
	bool url;
	bool insecure_http; /* URLs: http:// allowed too */
};

static const struct strv_rules argv_rules = { STR_PATH, STR_TEXT, false, false };
static const struct strv_rules path_rules = { STR_PATH, STR_PATH, false, false };

/* lp_json_elem_fn for char * elements under struct strv_rules (spec->ctx). */
static int parse_strv_elem(const cJSON *item, const char *path, void *elem, size_t index,
			   const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	const struct strv_rules *rules = spec->ctx;
	enum str_kind k = index == 0 ? rules->first : rules->rest;
	const char *s = cJSON_GetStringValue(item);

	if (!cJSON_IsString(item) || !s)
		return lp_diag_fail_at(diag, -EINVAL, path, "expected a string");
	if (strlen(s) >= AGENT_STR_MAX || (k == STR_PATH && (s[0] != '/' || has_control(s))) ||
	    (k == STR_TEXT && has_control(s)))
		return lp_diag_fail_at(diag, -EINVAL, path, k == STR_PATH ?
				       "expected an absolute path" :
				       "expected printable text shorter than %d bytes", AGENT_STR_MAX);
	if (rules->url && strchr(s, ' '))
		return lp_diag_fail_at(diag, -EINVAL, path, "URL contains a space");
	if (rules->url && !(strncmp(s, "https://", 8) == 0 && s[8])) {
		if (!(strncmp(s, "http://", 7) == 0 && s[7]))
			return lp_diag_fail_at(diag, -EINVAL, path, "expected an https:// URL");
		if (!rules->insecure_http)
			return lp_diag_fail_at(diag, -EINVAL, path,
					       "plain http:// needs \"insecure_plain_http\": true (tests only)");
	}
	*(char **)elem = strdup(s);
	return *(char **)elem ? 0 : -ENOMEM;
}

static void free_strv_elem(void *elem)
{
	free(*(char **)elem);
}

/* obj[key]: an array of 1..max strings under rules; *ret is NULL-terminated. */
static int get_strv(const cJSON *obj, const char *key, const char *path,
		    const struct strv_rules *rules, size_t max, char ***ret, size_t *ret_n,
		    struct lp_diag *diag)
{
	const struct lp_json_array_spec spec = {
		.key = key, .min = 1, .max = max, .elem_size = sizeof(char *),
		.parse = parse_strv_elem, .free_elem = free_strv_elem, .ctx = (void *)rules,
	};
	void *elems = NULL;
	size_t n = 0;
	char **v;
	int r;

	r = lp_json_get_array(obj, path, &spec, &elems, &n, diag);
	if (r < 0)
		return r;
	v = realloc(elems, (n + 1) * sizeof(*v)); /* room for the terminating NULL */
	if (!v) {
		free_strv(elems, n);
		return -ENOMEM;
	}
	v[n] = NULL;
	*ret = v;
	*ret_n = n;
	return 0;
}

static int get_uint(const cJSON *obj, const char *key, const char *path, int64_t min, int64_t max,
		    unsigned *ret, struct lp_diag *diag)
{
	int64_t v = *ret;
	int r = lp_json_get_int(obj, key, false, min, max, path, &v, diag);

	if (r < 0)
		return r;
	*ret = (unsigned)v;
	return 0;
}

/* A command's fields (the caller checked obj's keys); name NULL: from obj's "name". */
static int parse_command(const cJSON *obj, const char *name, const char *path,
			 struct agent_command *c, struct lp_diag *diag)
{
	int r;

	c->timeout_s = 60;
	r = get_uint(obj, "timeout_s", path, 1, 86400, &c->timeout_s, diag);
	if (r < 0)
		return r;
	if (name) {
		c->name = strdup(name);
		if (!c->name)
			return -ENOMEM;
	} else {
		r = get_str(obj, "name", true, path, STR_ID, AGENT_ID_MAX, &c->name, diag);
		if (r < 0)
			return r;
	}
	return get_strv(obj, "argv", path, &argv_rules, AGENT_MAX_ARGV, &c->argv, &c->argc, diag);
}

/* The backend's credentials: exactly one of the tokens, or a client certificate. */
static int parse_auth(const cJSON *obj, const char *path, struct agent_backend *b,
		      struct lp_diag *diag)
{
	char *target = NULL, *gateway = NULL;
	int r;

	r = get_str(obj, "target_token", false, path, STR_TEXT, AGENT_STR_MAX, &target, diag);
	if (r == 0)
		r = get_str(obj, "gateway_token", false, path, STR_TEXT, AGENT_STR_MAX, &gateway, diag);
	if (r == 0)
		r = get_str(obj, "client_cert", false, path, STR_PATH, AGENT_STR_MAX, &b->client_cert, diag);
	if (r == 0)
		r = get_str(obj, "client_key", false, path, STR_PATH, AGENT_STR_MAX, &b->client_key, diag);
	if (r < 0)
		goto out;
	if (target && gateway) {
		r = lp_diag_fail_at(diag, -EINVAL, path,
				    "give either \"target_token\" or \"gateway_token\", not both");
	} else if (!b->client_cert != !b->client_key) {
		r = lp_diag_fail_at(diag, -EINVAL, path,
				    "\"client_cert\" and \"client_key\" go together");
	} else if (target || gateway) {
		b->auth = target ? AGENT_AUTH_TARGET_TOKEN : AGENT_AUTH_GATEWAY_TOKEN;
		b->token = target ? target : gateway;
		target = gateway = NULL;
	} else if (b->client_cert) {
		b->auth = AGENT_AUTH_CLIENT_CERT;
	} else {
		r = lp_diag_fail_at(diag, -EINVAL, path,
				    "needs \"target_token\", \"gateway_token\" or \"client_cert\"+\"client_key\"");
	}
out:
	free(target);
	free(gateway);
	return r;
}

static int parse_backend(const cJSON *obj, size_t index, const char *path,
			 struct agent_backend *b, struct lp_diag *diag)
{
	struct strv_rules url_rules = { STR_TEXT, STR_TEXT, true, false };
	int r;

	r = lp_json_check(obj, backend_fields, LP_ARRAY_SIZE(backend_fields), path, diag);
	if (r == 0)
		r = get_str(obj, "name", false, path, STR_ID, AGENT_ID_MAX, &b->name, diag);
	if (r < 0)
		return r;
	if (!b->name) {
		char def[32];

		snprintf(def, sizeof(def), "backend%zu", index);
		b->name = strdup(def);
		if (!b->name)
			return -ENOMEM;
	}
	r = lp_json_get_bool(obj, "insecure_plain_http", false, path, &b->insecure_plain_http, diag);
	if (r < 0)
		return r;
	url_rules.insecure_http = b->insecure_plain_http;
	r = get_strv(obj, "urls", path, &url_rules, AGENT_MAX_URLS, &b->urls, &b->n_urls, diag);
	if (r == 0)
		r = get_str(obj, "tenant", true, path, STR_ID, AGENT_ID_MAX, &b->tenant, diag);
	if (r == 0)
		r = get_str(obj, "ca_file", false, path, STR_PATH, AGENT_STR_MAX, &b->ca_file, diag);
	if (r == 0)
		r = get_str(obj, "proxy", false, path, STR_TEXT, AGENT_STR_MAX, &b->proxy, diag);
	if (r == 0)
		r = parse_auth(obj, path, b, diag);
	return r;
}

/* lp_json_elem_fn of "backends": one backend, its name unique among the earlier ones.
 * On failure the element is cleared here (lp_json_get_array frees the earlier ones). */
static int parse_backend_elem(const cJSON *item, const char *path, void *elem, size_t index,
			      const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	struct agent_backend *b = elem, *first = b - index;
	int r = 0;

	(void)spec;
	if (!cJSON_IsObject(item))
		return lp_diag_fail_at(diag, -EINVAL, path, "expected an object");
	r = parse_backend(item, index, path, b, diag);
	for (size_t j = 0; r == 0 && j < index; j++)
		if (strcmp(first[j].name, b->name) == 0)
			r = lp_diag_fail_at(diag, -EINVAL, path, "duplicate backend name \"%s\"", b->name);
	if (r < 0)
		backend_clear(b);
	return r;
}

static void free_backend_elem(void *elem)
{
	backend_clear(elem);
}

/* lp_json_elem_fn of "health_checks": {name, argv, timeout_s}. */
static int parse_check_elem(const cJSON *item, const char *path, void *elem, size_t index,
			    const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	int r;

	(void)index;
	(void)spec;
	if (!cJSON_IsObject(item))
		return lp_diag_fail_at(diag, -EINVAL, path, "expected an object");
	r = lp_json_check(item, command_fields, LP_ARRAY_SIZE(command_fields), path, diag);
	if (r == 0)
		r = parse_command(item, NULL, path, elem, diag);
	if (r < 0)
		command_clear(elem);
	return r;
}

static void free_command_elem(void *elem)
{
	command_clear(elem);
}

static int parse_poll(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "poll");
	int r;

	c->poll_min_s = 10;
	c->poll_max_s = 86400;
	c->poll_default_s = 300;
	c->poll_jitter_percent = 10;
	if (obj) {
		r = lp_json_check(obj, poll_fields, LP_ARRAY_SIZE(poll_fields), "poll", diag);
		if (r < 0)
			return r;
		if ((r = get_uint(obj, "min_s", "poll", 1, 604800, &c->poll_min_s, diag)) < 0 ||
		    (r = get_uint(obj, "max_s", "poll", 1, 604800, &c->poll_max_s, diag)) < 0 ||
		    (r = get_uint(obj, "default_s", "poll", 1, 604800, &c->poll_default_s, diag)) < 0 ||
		    (r = get_uint(obj, "jitter_percent", "poll", 0, 50, &c->poll_jitter_percent, diag)) < 0)
			return r;
	}
	if (c->poll_min_s > c->poll_max_s)
		return lp_diag_fail_at(diag, -EINVAL, "poll", "min_s (%u) is above max_s (%u)",
				       c->poll_min_s, c->poll_max_s);
	if (c->poll_default_s < c->poll_min_s || c->poll_default_s > c->poll_max_s)
		return lp_diag_fail_at(diag, -EINVAL, "poll.default_s",
				       "%u is outside [min_s, max_s] = [%u, %u]", c->poll_default_s,
				       c->poll_min_s, c->poll_max_s);
	return 0;
}

static int parse_download(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "download");
	int r;

	c->dl_max_attempts = 10;
	c->dl_backoff_min_ms = 1000;
	c->dl_backoff_max_ms = 60000;
	c->dl_stall_timeout_s = 60;
	c->dl_progress_interval_s = 5;
	if (obj) {
		r = lp_json_check(obj, download_fields, LP_ARRAY_SIZE(download_fields), "download", diag);
		if (r < 0)
			return r;
		if ((r = get_uint(obj, "max_attempts", "download", 1, 1000, &c->dl_max_attempts, diag)) < 0 ||
		    (r = get_uint(obj, "backoff_min_ms", "download", 1, 3600000, &c->dl_backoff_min_ms, diag)) < 0 ||
		    (r = get_uint(obj, "backoff_max_ms", "download", 1, 3600000, &c->dl_backoff_max_ms, diag)) < 0 ||
		    (r = get_uint(obj, "stall_timeout_s", "download", 1, 3600, &c->dl_stall_timeout_s, diag)) < 0 ||
		    (r = get_uint(obj, "progress_interval_s", "download", 1, 3600, &c->dl_progress_interval_s, diag)) < 0)
			return r;
	}
	if (c->dl_backoff_min_ms > c->dl_backoff_max_ms)
		return lp_diag_fail_at(diag, -EINVAL, "download", "backoff_min_ms is above backoff_max_ms");
	return 0;
}

static int parse_slots(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "slots");
	int r;

	r = lp_json_check(obj, slots_fields, LP_ARRAY_SIZE(slots_fields), "slots", diag);
	if (r < 0)
		return r;
	if ((r = get_str(obj, "A", true, "slots", STR_PATH, AGENT_STR_MAX, &c->slot_path[0], diag)) < 0 ||
	    (r = get_str(obj, "B", true, "slots", STR_PATH, AGENT_STR_MAX, &c->slot_path[1], diag)) < 0 ||
	    (r = get_str(obj, "cmdline_file", false, "slots", STR_PATH, AGENT_STR_MAX,
			 &c->cmdline_file, diag)) < 0)
		return r;
	if (strcmp(c->slot_path[0], c->slot_path[1]) == 0)
		return lp_diag_fail_at(diag, -EINVAL, "slots.B", "slot B is the same as slot A");
	if (!c->cmdline_file && !(c->cmdline_file = strdup("/proc/cmdline")))
		return -ENOMEM;
	return 0;
}

static int parse_bootenv(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	static const char *const types[] = { "uboot", "grub", NULL };
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "bootenv");
	/* each type has its own file key; the other type's key is an error */
	const char *key, *other;
	int type = 0, r;

	r = lp_json_check(obj, bootenv_fields, LP_ARRAY_SIZE(bootenv_fields), "bootenv", diag);
	if (r == 0)
		r = lp_json_get_enum(obj, "type", true, types, "bootenv", &type, diag);
	if (r < 0)
		return r;
	c->bootenv_type = type == 0 ? AGENT_BOOTENV_UBOOT : AGENT_BOOTENV_GRUB;
	key = type == 0 ? "fw_env_config" : "grubenv";
	other = type == 0 ? "grubenv" : "fw_env_config";
	if (cJSON_GetObjectItemCaseSensitive(obj, other)) {
		char p[PATHBUF];

		return lp_diag_fail_at(diag, -EINVAL, lp_json_path_key(p, sizeof(p), "bootenv", other),
				       "only for \"type\": \"%s\"", types[!type]);
	}
	r = get_str(obj, key, true, "bootenv", STR_PATH, AGENT_STR_MAX, &c->bootenv_path, diag);
	if (r < 0)
		return r;
	c->bootlimit = 0;
	return get_uint(obj, "bootlimit", "bootenv", 1, 100, &c->bootlimit, diag);
}

/* "actions": an object of name -> {argv, timeout_s} (an object, so not lp_json_get_array). */
static int parse_actions(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "actions"), *item;
	size_t n = (size_t)cJSON_GetArraySize(obj);
	int r;

	if (!obj)
		return 0;
	if (n > AGENT_MAX_COMMANDS)
		return lp_diag_fail_at(diag, -E2BIG, "actions", "more than %d actions", AGENT_MAX_COMMANDS);
	c->actions = calloc(n ? n : 1, sizeof(*c->actions));
	if (!c->actions)
		return -ENOMEM;
	cJSON_ArrayForEach(item, obj) {
		char p[PATHBUF];

		lp_json_path_key(p, sizeof(p), "actions", item->string);
		if (!is_identifier(item->string) || strlen(item->string) >= AGENT_ID_MAX)
			return lp_diag_fail_at(diag, -EINVAL, p, "action names are identifiers");
		if (!cJSON_IsObject(item))
			return lp_diag_fail_at(diag, -EINVAL, p, "expected an object");
		r = lp_json_check(item, action_fields, LP_ARRAY_SIZE(action_fields), p, diag);
		if (r < 0)
			return r;
		c->n_actions++; /* agent_config_free clears a half-parsed one */
		r = parse_command(item, item->string, p, &c->actions[c->n_actions - 1], diag);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_reboot(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	c->reboot.timeout_s = 120;
	if (!(c->reboot.name = strdup("reboot")))
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(root, "reboot_command"))
		return get_strv(root, "reboot_command", "", &argv_rules, AGENT_MAX_ARGV,
				&c->reboot.argv, &c->reboot.argc, diag);
	c->reboot.argv = calloc(2, sizeof(char *));
	if (!c->reboot.argv || !(c->reboot.argv[0] = strdup("/sbin/reboot")))
		return -ENOMEM;
	c->reboot.argc = 1;
	return 0;
}

static int parse_root(const cJSON *root, struct agent_config *c, struct lp_diag *diag)
{
	const struct lp_json_array_spec backends = {
		.key = "backends", .max = AGENT_MAX_BACKENDS, .elem_size = sizeof(*c->backends),
		.parse = parse_backend_elem, .free_elem = free_backend_elem,
	};
	const struct lp_json_array_spec checks = {
		.key = "health_checks", .max = AGENT_MAX_COMMANDS, .elem_size = sizeof(*c->health),
		.parse = parse_check_elem, .free_elem = free_command_elem,
	};
	void *elems = NULL;
	int r;

	r = lp_json_check(root, root_fields, LP_ARRAY_SIZE(root_fields), "", diag);
	if (r < 0)
		return r;
	if ((r = get_str(root, "device_id", true, "", STR_ID, AGENT_ID_MAX, &c->device_id, diag)) < 0 ||
	    (r = get_str(root, "hardware_id", true, "", STR_ID, AGENT_ID_MAX, &c->hardware_id, diag)) < 0 ||
	    (r = get_str(root, "data_dir", true, "", STR_PATH, AGENT_STR_MAX, &c->data_dir, diag)) < 0 ||
	    (r = get_str(root, "version_file", false, "", STR_PATH, AGENT_STR_MAX, &c->version_file, diag)) < 0 ||
	    (r = lp_json_get_bool(root, "allow_scripts", false, "", &c->allow_scripts, diag)) < 0 ||
	    (r = lp_json_get_bool(root, "health_backend_reachable", false, "",
				  &c->health_backend_reachable, diag)) < 0)
		return r;
	r = lp_json_get_array(root, "", &backends, &elems, &c->n_backends, diag);
	if (r < 0)
		return r;
	c->backends = elems;
	if ((r = parse_poll(root, c, diag)) < 0 || (r = parse_download(root, c, diag)) < 0 ||
	    (r = parse_slots(root, c, diag)) < 0 || (r = parse_bootenv(root, c, diag)) < 0)
		return r;
	r = lp_json_get_array(root, "", &checks, &elems, &c->n_health, diag);
	if (r < 0)
		return r;
	c->health = elems;
	if ((r = parse_actions(root, c, diag)) < 0 || (r = parse_reboot(root, c, diag)) < 0)
		return r;
	r = get_strv(root, "trusted_keys", "", &path_rules, AGENT_MAX_KEYS, &c->trusted_keys,
		     &c->n_trusted_keys, diag);
	if (r < 0 || !cJSON_GetObjectItemCaseSensitive(root, "decryption_keys"))
		return r;
	return get_strv(root, "decryption_keys", "", &path_rules, AGENT_MAX_KEYS,
			&c->decryption_keys, &c->n_decryption_keys, diag);
}

/* The device config's keys: any top-level key of the main file, none required. */
static int check_device_root(const cJSON *dev, struct lp_diag *diag)
{
	struct lp_json_field fields[LP_ARRAY_SIZE(root_fields)];

	if (!cJSON_IsObject(dev))
		return lp_diag_fail(diag, -EINVAL, "expected a JSON object");
	if (cJSON_GetObjectItemCaseSensitive(dev, "device_config"))
		return lp_diag_fail_at(diag, -EINVAL, "device_config",
				       "not allowed in the device config itself");
	memcpy(fields, root_fields, sizeof(fields));
	for (size_t i = 0; i < LP_ARRAY_SIZE(fields); i++)
		fields[i].required = false;
	return lp_json_check(dev, fields, LP_ARRAY_SIZE(fields), "", diag);
}

/* Whether the first component of an element path ("backends[1].urls") is key. */
static bool path_starts_with_key(const char *path, const char *key)
{
	size_t n = strlen(key);

	return strncmp(path, key, n) == 0 && (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

/*
 * Reads the device config named by the main file and puts its top-level values in place
 * of the main file's (whole values, no deep merge). *ret_dev receives the parsed device
 * tree (its items moved into root), or stays NULL when the file does not exist.
 */
static int merge_device_config(cJSON *root, struct agent_config *c, agent_config_read_fn read_dev,
			       void *ctx, cJSON **ret_dev, char ***ret_keys, size_t *ret_n_keys,
			       struct lp_diag *diag)
{
	char *text = NULL, **keys;
	size_t len = 0, n = 0;
	cJSON *dev = NULL, *item;
	int r;

	r = read_dev(ctx, c->device_config, &text, &len);
	if (r == -ENOENT) {
		lp_log_write(LP_LOG_INFO,
			     "device config %s does not exist (device not provisioned yet): using %s alone",
			     c->device_config, c->source);
		return 0;
	}
	lp_diag_set_file(diag, c->device_config);
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot read: %s",
				    r == -EFBIG ? "larger than 256 KiB" : strerror(-r));
	r = lp_json_parse(text, len, AGENT_CONFIG_MAX, 8, &dev, diag);
	free(text);
	if (r < 0)
		return r;
	*ret_dev = dev;
	r = check_device_root(dev, diag);
	if (r < 0)
		return r;
	keys = calloc((size_t)cJSON_GetArraySize(dev) + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	*ret_keys = keys;
	while ((item = dev->child) != NULL) {
		/* cJSON frees the replacement's own key before copying the one given: pass a copy */
		keys[n] = strdup(item->string);
		if (!keys[n])
			return -ENOMEM;
		*ret_n_keys = ++n;
		cJSON_DetachItemViaPointer(dev, item);
		if (cJSON_GetObjectItemCaseSensitive(root, keys[n - 1])) {
			if (!cJSON_ReplaceItemInObjectCaseSensitive(root, keys[n - 1], item)) {
				cJSON_Delete(item);
				return -ENOMEM;
			}
		} else if (!cJSON_AddItemToObject(root, keys[n - 1], item)) {
			cJSON_Delete(item);
			return -ENOMEM;
		}
	}
	c->device_config_loaded = true;
	return 0;
}

int agent_config_parse_with(const char *text, size_t len, const char *source,
			    agent_config_read_fn read_dev, void *ctx,
			    struct agent_config **ret_config, struct lp_diag *diag)
{
	struct agent_config *c;
	cJSON *root = NULL, *dev = NULL;
	char **dev_keys = NULL;
	size_t n_dev_keys = 0;
	int r;

	lp_diag_set_file(diag, source);
	r = lp_json_parse(text, len, AGENT_CONFIG_MAX, 8, &root, diag);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	c->source = strdup(source ? source : "agent.json");
	if (!c->source) {
		r = -ENOMEM;
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(diag, -EINVAL, "expected a JSON object");
		goto fail;
	}
	r = get_str(root, "device_config", false, "", STR_PATH, AGENT_STR_MAX, &c->device_config, diag);
	if (r < 0)
		goto fail;
	if (c->device_config && read_dev) {
		r = merge_device_config(root, c, read_dev, ctx, &dev, &dev_keys, &n_dev_keys, diag);
		if (r < 0)
			goto fail;
		lp_diag_set_file(diag, source);
	}
	r = parse_root(root, c, diag);
	if (r < 0) {
		/* a value from the device file: name that file */
		for (size_t i = 0; i < n_dev_keys; i++)
			if (path_starts_with_key(diag ? diag->path : "", dev_keys[i]))
				lp_diag_set_file(diag, c->device_config);
		goto fail;
	}
	free_strv(dev_keys, n_dev_keys);
	cJSON_Delete(dev);
	cJSON_Delete(root);
	*ret_config = c;
	return 0;
fail:
	if (r == -ENOMEM)
		lp_diag_fail(diag, r, "out of memory");
	free_strv(dev_keys, n_dev_keys);
	cJSON_Delete(dev);
	cJSON_Delete(root);
	agent_config_free(c);
	return r;
}

int agent_config_parse(const char *text, size_t len, const char *source,
		       struct agent_config **ret_config, struct lp_diag *diag)
{
	return agent_config_parse_with(text, len, source, NULL, NULL, ret_config, diag);
}

int agent_config_read_file(void *ctx, const char *path, char **ret_text, size_t *ret_len)
{
	(void)ctx;
	return lp_fs_read_file(path, AGENT_CONFIG_MAX, ret_text, ret_len);
}

int agent_config_load(const char *path, struct agent_config **ret_config, struct lp_diag *diag)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	lp_diag_set_file(diag, path);
	r = lp_fs_read_file(path, AGENT_CONFIG_MAX, &text, &len);
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot read: %s",
				    r == -EFBIG ? "larger than 256 KiB" : strerror(-r));
	r = agent_config_parse_with(text, len, path, agent_config_read_file, NULL, ret_config, diag);
	free(text);
	return r;
}

const struct agent_command *agent_config_find_action(const struct agent_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_actions; i++)
		if (strcmp(c->actions[i].name, name) == 0)
			return &c->actions[i];
	return NULL;
}

const struct agent_backend *agent_config_find_backend(const struct agent_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_backends; i++)
		if (strcmp(c->backends[i].name, name) == 0)
			return &c->backends[i];
	return NULL;
}

const char *agent_slot_name(enum agent_slot s)
{
	switch (s) {
	case AGENT_SLOT_A:
		return "A";
	case AGENT_SLOT_B:
		return "B";
	default:
		return "none";
	}
}

int agent_slot_parse(const char *s, enum agent_slot *ret_slot)
{
	if (strcmp(s, "A") == 0 || strcmp(s, "a") == 0)
		*ret_slot = AGENT_SLOT_A;
	else if (strcmp(s, "B") == 0 || strcmp(s, "b") == 0)
		*ret_slot = AGENT_SLOT_B;
	else
		return -EINVAL;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Bodies of the alarm endpoints (docs/api.md, "Alarms") and the channel configurations
 * they carry: strict (unknown keys are errors), bounded, errors with the element path
 * ("config.to[2]"). The store keeps a channel's configuration as the JSON this file
 * writes and reads it back through the same parser. Fuzzed by tests/fuzz/fuzz-mgmt-alarm.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loopline/json.h"
#include "backend.h"

static const char *const secret_keys[] = { "bot_token", "password", "key" };

bool be_alarm_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Printable text without control characters (no CR/LF: these end up in headers). */
static bool plain_text(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* An optional string field copied into buf (at most len - 1 bytes of plain text). */
static int get_text(const cJSON *o, const char *key, bool required, const char *path, char *buf,
		    size_t len, struct lp_diag *d)
{
	char p[LP_JSON_PATH_MAX];
	const char *v = NULL;
	int r = lp_json_get_string(o, key, required, path, &v, d);

	if (r < 0 || !v)
		return r;
	lp_json_path_key(p, sizeof(p), path, key);
	if (!v[0] || strlen(v) >= len)
		return lp_diag_fail_at(d, -EINVAL, p, "expected 1-%zu bytes", len - 1);
	if (!plain_text(v))
		return lp_diag_fail_at(d, -EINVAL, p, "control characters are not allowed");
	snprintf(buf, len, "%s", v);
	return 0;
}

static int check_url(const char *url, const char *const *schemes, const char *path,
		     const char *key, struct lp_diag *d)
{
	char p[LP_JSON_PATH_MAX];

	for (size_t i = 0; schemes[i]; i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0 && url[strlen(schemes[i])] &&
		    !strchr(url, ' '))
			return 0;
	return lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, key),
			       "expected a %s URL", schemes[0]);
}

static bool address_valid(const char *a)
{
	const char *at = strchr(a, '@');

	return at && at != a && at[1] && !strchr(at + 1, '@') && strcspn(a, " <>,;\"") == strlen(a);
}

static int parse_to(const cJSON *o, const char *path, struct be_channel_config *c,
		    struct lp_diag *d)
{
	char p[LP_JSON_PATH_MAX], base[LP_JSON_PATH_MAX];
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "to"), *it;

	lp_json_path_key(base, sizeof(base), path, "to");
	c->n_to = 0;
	cJSON_ArrayForEach(it, arr) {
		lp_json_path_index(p, sizeof(p), base, c->n_to);
		if (c->n_to >= BE_ALARM_TO_MAX)
			return lp_diag_fail_at(d, -E2BIG, base, "more than %d recipients", BE_ALARM_TO_MAX);
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= BE_ALARM_ADDR_MAX ||
		    !plain_text(it->valuestring) || !address_valid(it->valuestring))
			return lp_diag_fail_at(d, -EINVAL, p, "expected an email address");
		snprintf(c->to[c->n_to++], BE_ALARM_ADDR_MAX, "%s", it->valuestring);
	}
	if (c->n_to == 0)
		return lp_diag_fail_at(d, -EINVAL, base, "at least one recipient");
	return 0;
}

static int parse_telegram(const cJSON *o, const char *path, struct be_channel_config *c,
			  struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "bot_token", LP_JSON_STRING, false }, { "chat_id", LP_JSON_ANY, true },
		{ "base_url", LP_JSON_STRING, false }, { "cacert", LP_JSON_STRING, false },
	};
	static const char *const https[] = { "https://", NULL };
	const cJSON *chat = cJSON_GetObjectItemCaseSensitive(o, "chat_id");
	char p[LP_JSON_PATH_MAX];
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), path, d)) < 0)
		return r;
	lp_json_path_key(p, sizeof(p), path, "chat_id");
	if (cJSON_IsNumber(chat) && chat->valuedouble == (double)(int64_t)chat->valuedouble &&
	    chat->valuedouble > -1e15 && chat->valuedouble < 1e15)
		snprintf(c->chat_id, sizeof(c->chat_id), "%lld", (long long)chat->valuedouble);
	else if ((r = get_text(o, "chat_id", true, path, c->chat_id, sizeof(c->chat_id), d)) < 0)
		return lp_diag_fail_at(d, -EINVAL, p, "expected a chat id (an integer or @channel)");
	if ((r = get_text(o, "bot_token", false, path, c->secret, sizeof(c->secret), d)) < 0 ||
	    (r = get_text(o, "base_url", false, path, c->base_url, sizeof(c->base_url), d)) < 0)
		return r;
	if (c->secret[0] && strspn(c->secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789:_-") != strlen(c->secret))
		return lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, "bot_token"),
				       "expected a bot token (A-Z a-z 0-9 : _ -)");
	return c->base_url[0] ? check_url(c->base_url, https, path, "base_url", d) : 0;
}

static int parse_smtp(const cJSON *o, const char *path, struct be_channel_config *c,
		      struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "url", LP_JSON_STRING, true }, { "username", LP_JSON_STRING, false },
		{ "password", LP_JSON_STRING, false }, { "from", LP_JSON_STRING, true },
		{ "to", LP_JSON_ARRAY, true }, { "cacert", LP_JSON_STRING, false },
	};
	static const char *const smtp[] = { "smtp://", "smtps://", NULL };
	char p[LP_JSON_PATH_MAX];
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), path, d)) < 0 ||
	    (r = get_text(o, "url", true, path, c->url, sizeof(c->url), d)) < 0 ||
	    (r = check_url(c->url, smtp, path, "url", d)) < 0 ||
	    (r = get_text(o, "username", false, path, c->username, sizeof(c->username), d)) < 0 ||
	    (r = get_text(o, "password", false, path, c->secret, sizeof(c->secret), d)) < 0 ||
	    (r = get_text(o, "from", true, path, c->from, sizeof(c->from), d)) < 0)
		return r;
	if (!address_valid(c->from))
		return lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, "from"),
				       "expected an email address");
	return parse_to(o, path, c, d);
}

static int parse_webhook(const cJSON *o, const char *path, struct be_channel_config *c,
			 struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "url", LP_JSON_STRING, true }, { "key", LP_JSON_STRING, false },
		{ "cacert", LP_JSON_STRING, false },
	};
	static const char *const https[] = { "https://", NULL };
	int r;

	if ((r = lp_json_check(o, fields, LP_ARRAY_SIZE(fields), path, d)) < 0 ||
	    (r = get_text(o, "url", true, path, c->url, sizeof(c->url), d)) < 0 ||
	    (r = check_url(c->url, https, path, "url", d)) < 0)
		return r;
	return get_text(o, "key", false, path, c->secret, sizeof(c->secret), d);
}

int be_channel_config_parse(enum be_channel_kind kind, const cJSON *o, const char *path,
			    bool need_secret, struct be_channel_config *ret, bool *ret_has_secret,
			    struct lp_diag *d)
{
	struct be_channel_config c;
	char p[LP_JSON_PATH_MAX];
	int r;

	memset(&c, 0, sizeof(c));
	if (!cJSON_IsObject(o))
		return lp_diag_fail_at(d, -EINVAL, path, "expected an object");
	if (kind == BE_CHANNEL_TELEGRAM)
		r = parse_telegram(o, path, &c, d);
	else if (kind == BE_CHANNEL_SMTP)
		r = parse_smtp(o, path, &c, d);
	else
		r = parse_webhook(o, path, &c, d);
	if (r == 0)
		r = get_text(o, "cacert", false, path, c.cacert, sizeof(c.cacert), d);
	if (r == 0 && c.cacert[0] && c.cacert[0] != '/')
		r = lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, "cacert"),
				    "expected an absolute path");
	/* A Telegram bot and a webhook's signature need their secret; SMTP may not log in. */
	if (r == 0 && need_secret && !c.secret[0] && kind != BE_CHANNEL_SMTP)
		r = lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, secret_keys[kind]),
				    "required key \"%s\" is missing", secret_keys[kind]);
	if (r == 0 && kind == BE_CHANNEL_SMTP && c.secret[0] && !c.username[0])
		r = lp_diag_fail_at(d, -EINVAL, lp_json_path_key(p, sizeof(p), path, "username"),
				    "a password needs a username");
	if (r < 0)
		return r;
	*ret = c;
	if (ret_has_secret)
		*ret_has_secret = c.secret[0] != '\0';
	return 0;
}

cJSON *be_channel_config_json(enum be_channel_kind kind, const struct be_channel_config *c,
			      bool with_secret)
{
	cJSON *o = cJSON_CreateObject(), *to;

	if (!o)
		return NULL;
	if (kind == BE_CHANNEL_TELEGRAM) {
		cJSON_AddStringToObject(o, "chat_id", c->chat_id);
		if (c->base_url[0])
			cJSON_AddStringToObject(o, "base_url", c->base_url);
	} else {
		cJSON_AddStringToObject(o, "url", c->url);
	}
	if (kind == BE_CHANNEL_SMTP) {
		if (c->username[0])
			cJSON_AddStringToObject(o, "username", c->username);
		cJSON_AddStringToObject(o, "from", c->from);
		to = cJSON_AddArrayToObject(o, "to");
		for (size_t i = 0; to && i < c->n_to; i++)
			cJSON_AddItemToArray(to, cJSON_CreateString(c->to[i]));
	}
	if (c->cacert[0])
		cJSON_AddStringToObject(o, "cacert", c->cacert);
	if (with_secret && c->secret[0])
		cJSON_AddStringToObject(o, secret_keys[kind], c->secret);
	else if (!with_secret)
		cJSON_AddBoolToObject(o, "secret_set", c->secret[0] != '\0');
	return o;
}

void be_channel_req_done(struct be_channel_req *q)
{
	if (q) {
		cJSON_Delete(q->config_json);
		q->config_json = NULL;
	}
}

/* POST (name, kind and config required) or PATCH (each optional): the config is checked
 * here when the body gives the kind, else by the caller with the channel's kind. */
int be_channel_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_channel_req *ret, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "name", LP_JSON_STRING, false }, { "kind", LP_JSON_STRING, false },
		{ "enabled", LP_JSON_BOOL, false }, { "config", LP_JSON_OBJECT, false },
	};
	struct be_channel_req q = { .kind = -1, .enabled = -1 };
	cJSON *root = NULL, *cfg;
	bool enabled;
	int r = lp_json_parse(text, len, max_len, max_depth, &root, d);

	if (r < 0)
		return r;
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto out;
	}
	if ((r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", d)) < 0 ||
	    (r = get_text(root, "name", false, "", q.name, sizeof(q.name), d)) < 0 ||
	    (r = lp_json_get_enum(root, "kind", false, be_channel_kinds, "", &q.kind, d)) < 0)
		goto out;
	if (q.name[0] && !be_alarm_name_valid(q.name)) {
		r = lp_diag_fail_at(d, -EINVAL, "name", "expected 1-64 characters of A-Z a-z 0-9 . _ -");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "enabled")) {
		if ((r = lp_json_get_bool(root, "enabled", true, "", &enabled, d)) < 0)
			goto out;
		q.enabled = enabled;
	}
	cfg = cJSON_DetachItemFromObjectCaseSensitive(root, "config");
	q.has_config = cfg != NULL;
	q.config_json = cfg;
	if (cfg && q.kind >= 0 &&
	    (r = be_channel_config_parse((enum be_channel_kind)q.kind, cfg, "config", true,
					 &q.config, &q.has_secret, d)) < 0)
		cJSON_Delete(cfg);
	else
		*ret = q;
out:
	cJSON_Delete(root);
	return r;
}

static int parse_params(const cJSON *o, struct be_alarm_rule *rule, struct lp_diag *d)
{
	static const struct lp_json_field silent[] = { { "intervals", LP_JSON_INT, false } };
	static const struct lp_json_field boot[] = {
		{ "count", LP_JSON_INT, false }, { "window_s", LP_JSON_INT, false },
	};
	int r;

	rule->intervals = 3;
	rule->count = 3;
	rule->window_s = 3600;
	if (!o)
		return 0;
	if (rule->kind == BE_ALARM_DEVICE_SILENT)
		return (r = lp_json_check(o, silent, 1, "params", d)) < 0 ? r :
		       lp_json_get_int(o, "intervals", false, 1, 1000, "params", &rule->intervals, d);
	if (rule->kind == BE_ALARM_BOOT_FAILURES)
		return (r = lp_json_check(o, boot, 2, "params", d)) < 0 ||
		       (r = lp_json_get_int(o, "count", false, 1, 100, "params", &rule->count, d)) < 0 ? r :
		       lp_json_get_int(o, "window_s", false, 60, 30 * 86400, "params", &rule->window_s, d);
	return lp_json_check(o, NULL, 0, "params", d);
}

static int parse_channel_names(const cJSON *arr, struct be_alarm_rule *rule, struct lp_diag *d)
{
	const cJSON *it;
	char p[LP_JSON_PATH_MAX];

	rule->n_channels = 0;
	cJSON_ArrayForEach(it, arr) {
		size_t i = rule->n_channels;

		lp_json_path_index(p, sizeof(p), "channels", i);
		if (i >= BE_ALARM_RULE_CHANNELS_MAX)
			return lp_diag_fail_at(d, -E2BIG, "channels", "more than %d channels",
					       BE_ALARM_RULE_CHANNELS_MAX);
		if (!cJSON_IsString(it) || !be_alarm_name_valid(it->valuestring))
			return lp_diag_fail_at(d, -EINVAL, p, "expected a channel name");
		for (size_t k = 0; k < i; k++)
			if (strcmp(rule->channel_names[k], it->valuestring) == 0)
				return lp_diag_fail_at(d, -EINVAL, p, "channel %s is listed twice",
						       it->valuestring);
		snprintf(rule->channel_names[i], BE_TEXT_MAX, "%s", it->valuestring);
		rule->n_channels++;
	}
	if (rule->n_channels == 0)
		return lp_diag_fail_at(d, -EINVAL, "channels", "a rule needs at least one channel");
	return 0;
}

int be_rule_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		      struct be_rule_req *ret, struct lp_diag *d)
{
	static const struct lp_json_field fields[] = {
		{ "name", LP_JSON_STRING, true }, { "kind", LP_JSON_STRING, true },
		{ "channels", LP_JSON_ARRAY, true }, { "params", LP_JSON_OBJECT, false },
		{ "dedupe_s", LP_JSON_INT, false }, { "enabled", LP_JSON_BOOL, false },
	};
	struct be_alarm_rule *rule = &ret->rule;
	cJSON *root = NULL;
	int kind = 0, r = lp_json_parse(text, len, max_len, max_depth, &root, d);

	if (r < 0)
		return r;
	memset(rule, 0, sizeof(*rule));
	rule->dedupe_s = BE_ALARM_DEDUPE_DEFAULT;
	rule->enabled = true;
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(d, -EINVAL, "expected a JSON object");
		goto out;
	}
	if ((r = lp_json_check(root, fields, LP_ARRAY_SIZE(fields), "", d)) < 0 ||
	    (r = get_text(root, "name", true, "", rule->name, sizeof(rule->name), d)) < 0 ||
	    (r = lp_json_get_enum(root, "kind", true, be_alarm_kinds, "", &kind, d)) < 0 ||
	    (r = lp_json_get_int(root, "dedupe_s", false, 0, 30 * 86400, "", &rule->dedupe_s, d)) < 0 ||
	    (r = lp_json_get_bool(root, "enabled", false, "", &rule->enabled, d)) < 0)
		goto out;
	if (!be_alarm_name_valid(rule->name)) {
		r = lp_diag_fail_at(d, -EINVAL, "name", "expected 1-64 characters of A-Z a-z 0-9 . _ -");
		goto out;
	}
	rule->kind = (enum be_alarm_kind)kind;
	if ((r = parse_params(cJSON_GetObjectItemCaseSensitive(root, "params"), rule, d)) == 0)
		r = parse_channel_names(cJSON_GetObjectItemCaseSensitive(root, "channels"), rule, d);
out:
	cJSON_Delete(root);
	return r;
}

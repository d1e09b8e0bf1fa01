/* SPDX-License-Identifier: MIT */
/*
 * from: {in-use: URL, token: …}: the firmware versions devices in the field report today,
 * asked from a running backend's management API when a run starts
 * (GET /api/v1/firmware/in-use), so "every in-use version" is one line of spec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/http-client.h"
#include "loopline/semver.h"
#include "matrix.h"

#define MX_IN_USE_TIMEOUT_S 30
#define MX_IN_USE_ITEMS_MAX 1024 /* items read from an answer (more is malformed) */

int mx_env_expand(const char *text, char *buf, size_t size, struct lp_diag *diag)
{
	size_t out = 0;

	for (const char *p = text; *p;) {
		const char *val = p, *end;
		size_t n = 1;

		if (p[0] == '$' && p[1] == '{') {
			char name[128];
			size_t len;

			end = strchr(p + 2, '}');
			if (!end)
				return lp_diag_fail(diag, -EINVAL, "unclosed ${ in \"%s\"", text);
			len = (size_t)(end - p - 2);
			if (len == 0 || len >= sizeof(name))
				return lp_diag_fail(diag, -EINVAL, "bad variable name in \"%s\"", text);
			memcpy(name, p + 2, len);
			name[len] = '\0';
			if (!mx_name_valid(name, MX_NAME_KEY) || strchr(name, '-'))
				return lp_diag_fail(diag, -EINVAL, "bad variable name \"%s\"", name);
			val = getenv(name);
			if (!val)
				return lp_diag_fail(diag, -EINVAL,
						    "environment variable %s is not set", name);
			n = strlen(val);
			p = end + 1;
		} else {
			p++;
		}
		if (out + n >= size)
			return lp_diag_fail(diag, -E2BIG, "\"%s\" is longer than %zu characters "
					    "once expanded", text, size - 1);
		memcpy(buf + out, val, n);
		out += n;
	}
	buf[out] = '\0';
	return 0;
}

static int version_cmp(const void *a, const void *b)
{
	const struct mx_value *x = a, *y = b;
	int c;

	if (lp_semver_compare_str(x->name, y->name, &c) == 0)
		return c ? c : strcmp(x->name, y->name);
	return strcmp(x->name, y->name);
}

/* The versions of an answer that are not among the spec's own from values, sorted. */
static int answer_versions(const struct mx_spec *s, const cJSON *items, struct mx_value **ret,
			   size_t *ret_n, struct lp_diag *diag)
{
	const struct mx_axis *from = &s->axes[MX_AXIS_FROM];
	struct mx_value *list;
	const cJSON *it;
	size_t n = 0, i = 0;

	list = calloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	cJSON_ArrayForEach(it, items) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "version");
		bool seen = false;

		if (!cJSON_IsString(v) || !mx_name_valid(v->valuestring, MX_NAME_VALUE)) {
			free(list);
			return lp_diag_fail(diag, -EBADMSG,
					    "the backend's answer: items[%zu].version is not a "
					    "version", i);
		}
		i++;
		for (size_t j = 0; j < s->in_use.n_fixed && !seen; j++)
			seen = strcmp(from->values[j].name, v->valuestring) == 0;
		for (size_t j = 0; j < n && !seen; j++)
			seen = strcmp(list[j].name, v->valuestring) == 0;
		if (seen)
			continue;
		snprintf(list[n].name, sizeof(list[n].name), "%s", v->valuestring);
		snprintf(list[n].version, sizeof(list[n].version), "%s", v->valuestring);
		list[n].line = s->in_use.line;
		list[n].column = s->in_use.column;
		n++;
	}
	qsort(list, n, sizeof(*list), version_cmp);
	*ret = list;
	*ret_n = n;
	return 0;
}

int mx_spec_in_use_apply(struct mx_spec *s, const cJSON *answer, struct lp_diag *diag)
{
	struct mx_axis *from = &s->axes[MX_AXIS_FROM];
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(answer, "items");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(answer, "total");
	struct mx_value *found = NULL, *values;
	size_t n_found = 0, n;
	int r;

	lp_diag_clear(diag);
	lp_diag_set_file(diag, s->path);
	lp_diag_set_pos(diag, s->in_use.line, s->in_use.column);
	lp_diag_set_path(diag, "axes.from");
	if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) > MX_IN_USE_ITEMS_MAX)
		return lp_diag_fail(diag, -EBADMSG, "the backend's answer has no \"items\" list");
	if (cJSON_IsNumber(total) && total->valuedouble > cJSON_GetArraySize(items))
		return lp_diag_fail(diag, -E2BIG,
				    "%.0f firmware versions are in use at %s; the from axis holds "
				    "at most %d", total->valuedouble, s->in_use.url, MX_VALUES_MAX);
	if ((r = answer_versions(s, items, &found, &n_found, diag)) < 0)
		return r;
	n = s->in_use.n_fixed + n_found;
	if (n > MX_VALUES_MAX) {
		free(found);
		return lp_diag_fail(diag, -E2BIG,
				    "%zu from versions (%zu in the spec, %zu more in use); at most %d",
				    n, s->in_use.n_fixed, n_found, MX_VALUES_MAX);
	}
	if (n == 0) {
		free(found);
		return lp_diag_fail(diag, -ENOENT,
				    "no firmware version is in use at %s: the from axis is empty",
				    s->in_use.url);
	}
	values = calloc(n, sizeof(*values));
	if (!values) {
		free(found);
		return -ENOMEM;
	}
	/* the spec's own values keep their places; settings are never set on from values */
	memcpy(values, from->values, s->in_use.n_fixed * sizeof(*values));
	memcpy(values + s->in_use.n_fixed, found, n_found * sizeof(*values));
	free(found);
	free(from->values);
	from->values = values;
	from->n_values = n;
	s->in_use.resolved = true;
	lp_diag_clear(diag);
	return 0;
}

int mx_spec_resolve_in_use(struct mx_spec *s, struct lp_diag *diag)
{
	struct mx_in_use *u = &s->in_use;
	struct lp_http_client *client = NULL;
	struct lp_http_client_opts opts = { .timeout_s = MX_IN_USE_TIMEOUT_S };
	char url[sizeof(u->url)], token[sizeof(u->token)], query[512];
	cJSON *answer = NULL;
	size_t len;
	int r;

	if (!u->enabled)
		return 0;
	lp_diag_clear(diag);
	lp_diag_set_file(diag, s->path);
	lp_diag_set_pos(diag, u->line, u->column);
	lp_diag_set_path(diag, "axes.from.in-use");
	if ((r = mx_env_expand(u->url, url, sizeof(url), diag)) < 0 ||
	    (r = mx_env_expand(u->token, token, sizeof(token), diag)) < 0)
		return r;
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	opts.base_url = url;
	opts.token = token[0] ? token : NULL;
	opts.cacert = u->cacert[0] ? u->cacert : NULL;
	if ((r = lp_http_client_new(&opts, &client)) < 0)
		return lp_diag_fail(diag, r, "cannot set up a client for %s", url);
	{
		char *tag = lp_http_escape(u->tag), *compat = lp_http_escape(u->compatible);

		if (!tag || !compat)
			r = -ENOMEM;
		else
			snprintf(query, sizeof(query), "/api/v1/firmware/in-use?limit=%d%s%s%s%s",
				 MX_VALUES_MAX, tag[0] ? "&tag=" : "", tag,
				 compat[0] ? "&compatible=" : "", compat);
		free(tag);
		free(compat);
	}
	if (r == 0)
		r = lp_http_json(client, "GET", query, NULL, NULL, &answer, diag);
	lp_http_client_free(client);
	if (r < 0) {
		char msg[LP_DIAG_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", diag ? diag->msg : "");
		lp_diag_set_file(diag, s->path);
		lp_diag_set_pos(diag, u->line, u->column);
		lp_diag_set_path(diag, "axes.from.in-use");
		return lp_diag_fail(diag, r, "asking %s for the versions in use: %s", url, msg);
	}
	r = mx_spec_in_use_apply(s, answer, diag);
	cJSON_Delete(answer);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * DDI responses from the backend. DDI servers may add fields at any time, so unknown keys
 * are ignored; the fields the agent acts on are checked strictly (type, format, length)
 * and a problem is reported with its path ("deployment.chunks[0].artifacts[0].size").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ddi.h"
#include "loopline/json.h"

#define DDI_BODY_MAX (1024 * 1024)
#define DDI_DEPTH 16

int agent_ddi_parse_sleep(const char *s, unsigned *ret_s)
{
	unsigned v[3] = { 0, 0, 0 };
	const char *p = s;

	for (int i = 0; i < 3; i++) {
		int digits = 0;

		while (*p >= '0' && *p <= '9') {
			if (digits >= (i == 0 ? 4 : 2))
				return -EINVAL;
			v[i] = v[i] * 10 + (unsigned)(*p - '0');
			p++;
			digits++;
		}
		if (digits < 2)
			return -EINVAL;
		if (i < 2 && *p++ != ':')
			return -EINVAL;
	}
	if (*p || v[1] > 59 || v[2] > 59)
		return -EINVAL;
	*ret_s = v[0] * 3600 + v[1] * 60 + v[2];
	return 0;
}

static int get_href(const cJSON *links, const char *rel, const char *path, char *out, size_t len,
		    struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	const cJSON *link;
	const char *href = NULL;
	int r;

	out[0] = '\0';
	if (!links)
		return 0;
	link = cJSON_GetObjectItemCaseSensitive(links, rel);
	if (!link)
		return 0;
	lp_json_path_key(p, sizeof(p), path, rel);
	if (!cJSON_IsObject(link))
		return lp_diag_fail_at(diag, -EBADMSG, p, "expected an object");
	r = lp_json_get_string(link, "href", true, p, &href, diag);
	if (r < 0)
		return -EBADMSG;
	if (strlen(href) >= len || (strncmp(href, "https://", 8) != 0 && strncmp(href, "http://", 7) != 0))
		return lp_diag_fail_at(diag, -EBADMSG, p, "expected an http(s) URL shorter than %zu bytes",
				       len);
	for (const char *q = href; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			return lp_diag_fail_at(diag, -EBADMSG, p, "URL contains a space or control character");
	memcpy(out, href, strlen(href) + 1);
	return 0;
}

int agent_ddi_parse_poll(const char *text, size_t len, struct ddi_poll *ret, struct lp_diag *diag)
{
	struct ddi_poll out = { 0 };
	const cJSON *config, *polling, *links;
	cJSON *root = NULL;
	const char *sleep = NULL;
	int r;

	r = lp_json_parse(text, len, DDI_BODY_MAX, DDI_DEPTH, &root, diag);
	if (r < 0)
		return -EBADMSG;
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(diag, -EBADMSG, "expected a JSON object");
		goto out;
	}
	config = cJSON_GetObjectItemCaseSensitive(root, "config");
	polling = cJSON_IsObject(config) ? cJSON_GetObjectItemCaseSensitive(config, "polling") : NULL;
	if (cJSON_IsObject(polling)) {
		r = lp_json_get_string(polling, "sleep", false, "config.polling", &sleep, diag);
		if (r < 0)
			goto bad;
		if (sleep) {
			if (agent_ddi_parse_sleep(sleep, &out.sleep_s) < 0) {
				r = lp_diag_fail_at(diag, -EBADMSG, "config.polling.sleep",
						    "expected HH:MM:SS, not \"%.40s\"", sleep);
				goto out;
			}
			out.has_sleep = true;
		}
	}
	links = cJSON_GetObjectItemCaseSensitive(root, "_links");
	if (links && !cJSON_IsObject(links)) {
		r = lp_diag_fail_at(diag, -EBADMSG, "_links", "expected an object");
		goto out;
	}
	if ((r = get_href(links, "deploymentBase", "_links", out.deployment, sizeof(out.deployment), diag)) < 0 ||
	    (r = get_href(links, "cancelAction", "_links", out.cancel, sizeof(out.cancel), diag)) < 0 ||
	    (r = get_href(links, "configData", "_links", out.config_data, sizeof(out.config_data), diag)) < 0)
		goto out;
	*ret = out;
	r = 0;
	goto out;
bad:
	r = -EBADMSG;
out:
	cJSON_Delete(root);
	return r;
}

static bool is_action_id(const char *s)
{
	if (!s[0] || strlen(s) >= AGENT_ID_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static int get_handling(const cJSON *dep, const char *key, enum ddi_handling *ret, struct lp_diag *diag)
{
	static const char *const names[] = { "skip", "attempt", "forced", NULL };
	int v = DDI_FORCED;
	int r = lp_json_get_enum(dep, key, false, names, "deployment", &v, diag);

	if (r < 0)
		return -EBADMSG;
	*ret = (enum ddi_handling)v;
	return 0;
}

/* The first chunk of part "os" or "action" is ours; other parts are not for us. */
static int find_chunk(const cJSON *dep, const cJSON **ret_chunk, size_t *ret_index,
		      struct ddi_deployment *out, struct lp_diag *diag)
{
	const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(dep, "chunks"), *item;
	char p[LP_JSON_PATH_MAX];
	size_t i = 0;

	if (!cJSON_IsArray(chunks) || cJSON_GetArraySize(chunks) < 1)
		return lp_diag_fail_at(diag, -EBADMSG, "deployment.chunks", "expected a non-empty array");
	*ret_chunk = NULL;
	cJSON_ArrayForEach(item, chunks) {
		const char *part = NULL;

		lp_json_path_index(p, sizeof(p), "deployment.chunks", i);
		if (!cJSON_IsObject(item))
			return lp_diag_fail_at(diag, -EBADMSG, p, "expected an object");
		if (lp_json_get_string(item, "part", true, p, &part, diag) < 0)
			return -EBADMSG;
		if (!*ret_chunk && (strcmp(part, "os") == 0 || strcmp(part, "action") == 0)) {
			*ret_chunk = item;
			*ret_index = i;
			out->is_action = strcmp(part, "action") == 0;
		}
		i++;
	}
	if (!*ret_chunk)
		return lp_diag_fail_at(diag, -EBADMSG, "deployment.chunks",
				       "no chunk of part \"os\" or \"action\"");
	return 0;
}

/* An action chunk: its metadata entry "action" names the configured action. */
static int parse_action_chunk(const cJSON *chunk, const char *p, struct ddi_deployment *out,
			      struct lp_diag *diag)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(chunk, "metadata"), *item;
	char mp[LP_JSON_PATH_MAX], mpp[LP_JSON_PATH_MAX];
	size_t mi = 0;

	lp_json_path_key(mpp, sizeof(mpp), p, "metadata");
	cJSON_ArrayForEach(item, meta) {
		const char *key = NULL, *value = NULL;

		lp_json_path_index(mp, sizeof(mp), mpp, mi++);
		if (!cJSON_IsObject(item) || lp_json_get_string(item, "key", true, mp, &key, diag) < 0 ||
		    lp_json_get_string(item, "value", true, mp, &value, diag) < 0)
			return lp_diag_fail_at(diag, -EBADMSG, mp, "expected {\"key\", \"value\"}");
		if (strcmp(key, "action") == 0) {
			if (!value[0] || strlen(value) >= sizeof(out->action))
				return lp_diag_fail_at(diag, -EBADMSG, mp, "bad action name");
			snprintf(out->action, sizeof(out->action), "%s", value);
		}
	}
	if (!out->action[0])
		return lp_diag_fail_at(diag, -EBADMSG, p, "action chunk without an \"action\" metadata entry");
	return 0;
}

/* An os chunk: exactly one artifact (the package) with a download link. */
static int parse_os_chunk(const cJSON *chunk, const char *p, bool allow_http,
			  struct ddi_deployment *out, struct lp_diag *diag)
{
	const cJSON *arts = cJSON_GetObjectItemCaseSensitive(chunk, "artifacts");
	const cJSON *art, *links;
	char arts_p[LP_JSON_PATH_MAX], ap[LP_JSON_PATH_MAX], lp[LP_JSON_PATH_MAX];
	const char *s = NULL;
	int64_t size = 0;

	lp_json_path_key(arts_p, sizeof(arts_p), p, "artifacts");
	if (!cJSON_IsArray(arts) || cJSON_GetArraySize(arts) != 1)
		return lp_diag_fail_at(diag, -EBADMSG, arts_p, "expected exactly one artifact (the package)");
	art = cJSON_GetArrayItem(arts, 0);
	lp_json_path_index(ap, sizeof(ap), arts_p, 0);
	if (!cJSON_IsObject(art))
		return lp_diag_fail_at(diag, -EBADMSG, ap, "expected an object");
	if (lp_json_get_string(art, "filename", true, ap, &s, diag) < 0 ||
	    lp_json_get_int(art, "size", false, 0, INT64_MAX, ap, &size, diag) < 0)
		return -EBADMSG;
	snprintf(out->filename, sizeof(out->filename), "%s", s);
	out->size = (uint64_t)size;
	links = cJSON_GetObjectItemCaseSensitive(art, "_links");
	lp_json_path_key(lp, sizeof(lp), ap, "_links");
	if (!cJSON_IsObject(links))
		return lp_diag_fail_at(diag, -EBADMSG, lp, "expected an object with a download link");
	if (get_href(links, "download", lp, out->url, sizeof(out->url), diag) < 0)
		return -EBADMSG;
	if (!out->url[0] && allow_http &&
	    get_href(links, "download-http", lp, out->url, sizeof(out->url), diag) < 0)
		return -EBADMSG;
	if (!out->url[0])
		return lp_diag_fail_at(diag, -EBADMSG, lp, allow_http ?
				       "no \"download\" or \"download-http\" link" :
				       "no https \"download\" link");
	return 0;
}

static int parse_deployment(const cJSON *root, bool allow_http, struct ddi_deployment *out,
			    struct lp_diag *diag)
{
	const cJSON *dep, *chunk = NULL;
	char p[LP_JSON_PATH_MAX];
	const char *s = NULL;
	size_t ci = 0;
	int r;

	if (!cJSON_IsObject(root))
		return lp_diag_fail(diag, -EBADMSG, "expected a JSON object");
	if (lp_json_get_string(root, "id", true, "", &s, diag) < 0)
		return -EBADMSG;
	if (!is_action_id(s))
		return lp_diag_fail_at(diag, -EBADMSG, "id", "not a valid action id");
	snprintf(out->id, sizeof(out->id), "%s", s);
	dep = cJSON_GetObjectItemCaseSensitive(root, "deployment");
	if (!cJSON_IsObject(dep))
		return lp_diag_fail_at(diag, -EBADMSG, "deployment", "expected an object");
	if (get_handling(dep, "download", &out->download, diag) < 0 ||
	    get_handling(dep, "update", &out->update, diag) < 0)
		return -EBADMSG;
	s = NULL;
	if (lp_json_get_string(dep, "maintenanceWindow", false, "deployment", &s, diag) < 0)
		return -EBADMSG;
	out->maintenance_window_unavailable = s && strcmp(s, "unavailable") == 0;
	r = find_chunk(dep, &chunk, &ci, out, diag);
	if (r < 0)
		return r;
	lp_json_path_index(p, sizeof(p), "deployment.chunks", ci);
	s = NULL;
	if (lp_json_get_string(chunk, "version", false, p, &s, diag) < 0)
		return -EBADMSG;
	snprintf(out->version, sizeof(out->version), "%s", s ? s : "");
	if (out->is_action)
		return parse_action_chunk(chunk, p, out, diag);
	return parse_os_chunk(chunk, p, allow_http, out, diag);
}

int agent_ddi_parse_deployment(const char *text, size_t len, bool allow_http,
			       struct ddi_deployment *ret, struct lp_diag *diag)
{
	struct ddi_deployment out = { 0 };
	cJSON *root = NULL;
	int r;

	r = lp_json_parse(text, len, DDI_BODY_MAX, DDI_DEPTH, &root, diag);
	if (r < 0)
		return -EBADMSG;
	r = parse_deployment(root, allow_http, &out, diag);
	if (r == 0)
		*ret = out;
	cJSON_Delete(root);
	return r;
}

int agent_ddi_parse_cancel(const char *text, size_t len, char *ret_stop_id, size_t id_len,
			   struct lp_diag *diag)
{
	const cJSON *ca;
	cJSON *root = NULL;
	const char *s = NULL;
	int r;

	r = lp_json_parse(text, len, DDI_BODY_MAX, DDI_DEPTH, &root, diag);
	if (r < 0)
		return -EBADMSG;
	ca = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "cancelAction") : NULL;
	if (!cJSON_IsObject(ca)) {
		r = lp_diag_fail_at(diag, -EBADMSG, "cancelAction", "expected an object");
		goto out;
	}
	if (lp_json_get_string(ca, "stopId", true, "cancelAction", &s, diag) < 0 || !is_action_id(s) ||
	    strlen(s) >= id_len) {
		r = lp_diag_fail_at(diag, -EBADMSG, "cancelAction.stopId", "not a valid action id");
		goto out;
	}
	memcpy(ret_stop_id, s, strlen(s) + 1);
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

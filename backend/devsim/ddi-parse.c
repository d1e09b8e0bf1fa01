/* SPDX-License-Identifier: MIT */
/*
 * The backend's DDI answers as the simulator reads them: unknown fields are ignored (DDI
 * servers may add fields at any time), the fields the simulator acts on are checked for
 * type, format and length, and a problem names its path
 * ("deployment.chunks[0].artifacts[0].hashes.sha256"). Fuzzed by tests/fuzz/fuzz-devsim-ddi.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devsim.h"
#include "loopline/json.h"

#define SIM_JSON_DEPTH 16

int sim_parse_sleep(const char *s, unsigned *ret_s)
{
	static const unsigned max_digits[3] = { 4, 2, 2 };
	unsigned part[3] = { 0, 0, 0 };
	size_t i = 0;

	for (int k = 0; k < 3; k++) {
		size_t start = i;

		while (s[i] >= '0' && s[i] <= '9' && i - start < max_digits[k])
			part[k] = part[k] * 10 + (unsigned)(s[i++] - '0');
		if (i - start < 2 || (s[i] >= '0' && s[i] <= '9'))
			return -EINVAL;
		if (k < 2 && s[i++] != ':')
			return -EINVAL;
	}
	if (s[i] != '\0' || part[1] >= 60 || part[2] >= 60)
		return -EINVAL;
	*ret_s = part[0] * 3600u + part[1] * 60u + part[2];
	return 0;
}

/* links[rel].href into out ("" when the rel is absent): an http(s) URL without spaces. */
static int link_href(const cJSON *links, const char *rel, const char *links_path, char *out,
		     size_t out_len, struct lp_diag *diag)
{
	const cJSON *link = links ? cJSON_GetObjectItemCaseSensitive(links, rel) : NULL;
	char path[LP_JSON_PATH_MAX];
	const char *href = NULL;
	size_t n;

	out[0] = '\0';
	if (!link)
		return 0;
	lp_json_path_key(path, sizeof(path), links_path, rel);
	if (!cJSON_IsObject(link))
		return lp_diag_fail_at(diag, -EBADMSG, path, "expected an object");
	if (lp_json_get_string(link, "href", true, path, &href, diag) < 0)
		return -EBADMSG;
	n = strlen(href);
	if (n >= out_len || (strncmp(href, "https://", 8) != 0 && strncmp(href, "http://", 7) != 0))
		return lp_diag_fail_at(diag, -EBADMSG, path, "href: expected an http(s) URL below %zu bytes",
				       out_len);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)href[i] <= ' ' || href[i] == 0x7f)
			return lp_diag_fail_at(diag, -EBADMSG, path, "href: space or control character");
	memcpy(out, href, n + 1);
	return 0;
}

static int parse_root(const char *text, size_t len, cJSON **ret_root, struct lp_diag *diag)
{
	if (lp_json_parse(text, len, SIM_BODY_MAX, SIM_JSON_DEPTH, ret_root, diag) < 0)
		return -EBADMSG;
	if (!cJSON_IsObject(*ret_root)) {
		cJSON_Delete(*ret_root);
		*ret_root = NULL;
		return lp_diag_fail(diag, -EBADMSG, "expected a JSON object");
	}
	return 0;
}

static int poll_fields(const cJSON *root, struct sim_poll *out, struct lp_diag *diag)
{
	const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
	const cJSON *polling = NULL, *links;
	const char *sleep = NULL;

	if (config && !cJSON_IsObject(config))
		return lp_diag_fail_at(diag, -EBADMSG, "config", "expected an object");
	if (config)
		polling = cJSON_GetObjectItemCaseSensitive(config, "polling");
	if (polling && !cJSON_IsObject(polling))
		return lp_diag_fail_at(diag, -EBADMSG, "config.polling", "expected an object");
	if (polling && lp_json_get_string(polling, "sleep", false, "config.polling", &sleep, diag) < 0)
		return -EBADMSG;
	if (sleep) {
		if (sim_parse_sleep(sleep, &out->sleep_s) < 0)
			return lp_diag_fail_at(diag, -EBADMSG, "config.polling.sleep",
					       "expected HH:MM:SS");
		out->has_sleep = true;
	}
	links = cJSON_GetObjectItemCaseSensitive(root, "_links");
	if (links && !cJSON_IsObject(links))
		return lp_diag_fail_at(diag, -EBADMSG, "_links", "expected an object");
	if (link_href(links, "deploymentBase", "_links", out->deployment, sizeof(out->deployment), diag) < 0 ||
	    link_href(links, "cancelAction", "_links", out->cancel, sizeof(out->cancel), diag) < 0 ||
	    link_href(links, "configData", "_links", out->config_data, sizeof(out->config_data), diag) < 0)
		return -EBADMSG;
	return 0;
}

int sim_parse_poll(const char *text, size_t len, struct sim_poll *ret, struct lp_diag *diag)
{
	struct sim_poll out = { 0 };
	cJSON *root = NULL;
	int r = parse_root(text, len, &root, diag);

	if (r < 0)
		return r;
	r = poll_fields(root, &out, diag);
	if (r == 0)
		*ret = out;
	cJSON_Delete(root);
	return r;
}

/* An action id: 1..SIM_ID_MAX-1 decimal digits. */
static bool valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SIM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int hex_digest(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = hex[i];
		unsigned v = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;

		if (v > 15)
			return -EINVAL;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
}

/* The first artifact of the os chunk: size, sha256 and a download link. */
static int parse_artifact(const cJSON *chunk, const char *chunk_path, struct sim_deployment *out,
			  struct lp_diag *diag)
{
	const cJSON *arts = cJSON_GetObjectItemCaseSensitive(chunk, "artifacts");
	const cJSON *art, *hashes, *links;
	char ap[LP_JSON_PATH_MAX], tmp[LP_JSON_PATH_MAX], hp[LP_JSON_PATH_MAX], lp[LP_JSON_PATH_MAX];
	const char *s = NULL;
	int64_t size = 0;

	lp_json_path_key(tmp, sizeof(tmp), chunk_path, "artifacts");
	if (!cJSON_IsArray(arts) || cJSON_GetArraySize(arts) < 1)
		return lp_diag_fail_at(diag, -EBADMSG, tmp, "expected a non-empty array");
	art = cJSON_GetArrayItem(arts, 0);
	lp_json_path_index(ap, sizeof(ap), tmp, 0);
	if (!cJSON_IsObject(art))
		return lp_diag_fail_at(diag, -EBADMSG, ap, "expected an object");
	if (lp_json_get_string(art, "filename", true, ap, &s, diag) < 0 ||
	    lp_json_get_int(art, "size", true, 0, INT64_MAX, ap, &size, diag) < 0)
		return -EBADMSG;
	snprintf(out->filename, sizeof(out->filename), "%s", s);
	out->size = (uint64_t)size;
	hashes = cJSON_GetObjectItemCaseSensitive(art, "hashes");
	lp_json_path_key(hp, sizeof(hp), ap, "hashes");
	if (hashes && !cJSON_IsObject(hashes))
		return lp_diag_fail_at(diag, -EBADMSG, hp, "expected an object");
	s = NULL;
	if (hashes && lp_json_get_string(hashes, "sha256", false, hp, &s, diag) < 0)
		return -EBADMSG;
	if (s) {
		lp_json_path_key(tmp, sizeof(tmp), hp, "sha256");
		if (hex_digest(s, out->sha256, LP_SHA256_LEN) < 0)
			return lp_diag_fail_at(diag, -EBADMSG, tmp, "expected 64 hex digits");
		out->has_sha256 = true;
	}
	links = cJSON_GetObjectItemCaseSensitive(art, "_links");
	lp_json_path_key(lp, sizeof(lp), ap, "_links");
	if (!cJSON_IsObject(links))
		return lp_diag_fail_at(diag, -EBADMSG, lp, "expected an object with a download link");
	if (link_href(links, "download", lp, out->url, sizeof(out->url), diag) < 0)
		return -EBADMSG;
	if (!out->url[0] && link_href(links, "download-http", lp, out->url, sizeof(out->url), diag) < 0)
		return -EBADMSG;
	if (!out->url[0])
		return lp_diag_fail_at(diag, -EBADMSG, lp, "no \"download\" or \"download-http\" link");
	return 0;
}

static int deployment_fields(const cJSON *root, struct sim_deployment *out, struct lp_diag *diag)
{
	const cJSON *dep, *chunks, *chunk;
	char cp[LP_JSON_PATH_MAX];
	const char *s = NULL;
	size_t i = 0;

	if (lp_json_get_string(root, "id", true, "", &s, diag) < 0)
		return -EBADMSG;
	if (!valid_id(s))
		return lp_diag_fail_at(diag, -EBADMSG, "id", "expected an action id");
	memcpy(out->id, s, strlen(s) + 1);
	dep = cJSON_GetObjectItemCaseSensitive(root, "deployment");
	if (!cJSON_IsObject(dep))
		return lp_diag_fail_at(diag, -EBADMSG, "deployment", "expected an object");
	chunks = cJSON_GetObjectItemCaseSensitive(dep, "chunks");
	if (!cJSON_IsArray(chunks) || cJSON_GetArraySize(chunks) < 1)
		return lp_diag_fail_at(diag, -EBADMSG, "deployment.chunks", "expected a non-empty array");
	cJSON_ArrayForEach(chunk, chunks) {
		const char *part = NULL;

		lp_json_path_index(cp, sizeof(cp), "deployment.chunks", i++);
		if (!cJSON_IsObject(chunk))
			return lp_diag_fail_at(diag, -EBADMSG, cp, "expected an object");
		if (lp_json_get_string(chunk, "part", true, cp, &part, diag) < 0 ||
		    lp_json_get_string(chunk, "version", true, cp, &s, diag) < 0)
			return -EBADMSG;
		if (strlen(s) >= sizeof(out->version))
			return lp_diag_fail_at(diag, -EBADMSG, cp, "version longer than %zu bytes",
					       sizeof(out->version) - 1);
		if (strcmp(part, "action") == 0) {
			out->is_action = true;
			memcpy(out->version, s, strlen(s) + 1);
			return 0;
		}
		if (strcmp(part, "os") == 0) {
			memcpy(out->version, s, strlen(s) + 1);
			return parse_artifact(chunk, cp, out, diag);
		}
	}
	return lp_diag_fail_at(diag, -EBADMSG, "deployment.chunks", "no chunk of part \"os\"");
}

int sim_parse_deployment(const char *text, size_t len, struct sim_deployment *ret,
			 struct lp_diag *diag)
{
	struct sim_deployment out = { 0 };
	cJSON *root = NULL;
	int r = parse_root(text, len, &root, diag);

	if (r < 0)
		return r;
	r = deployment_fields(root, &out, diag);
	if (r == 0)
		*ret = out;
	cJSON_Delete(root);
	return r;
}

int sim_parse_cancel(const char *text, size_t len, char ret_id[SIM_ID_MAX], struct lp_diag *diag)
{
	const cJSON *ca;
	const char *s = NULL;
	cJSON *root = NULL;
	int r = parse_root(text, len, &root, diag);

	if (r < 0)
		return r;
	ca = cJSON_GetObjectItemCaseSensitive(root, "cancelAction");
	if (!cJSON_IsObject(ca))
		r = lp_diag_fail_at(diag, -EBADMSG, "cancelAction", "expected an object");
	else if (lp_json_get_string(ca, "stopId", true, "cancelAction", &s, diag) < 0)
		r = -EBADMSG;
	else if (!valid_id(s))
		r = lp_diag_fail_at(diag, -EBADMSG, "cancelAction.stopId", "expected an action id");
	else
		memcpy(ret_id, s, strlen(s) + 1);
	cJSON_Delete(root);
	return r;
}

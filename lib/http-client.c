/* SPDX-License-Identifier: MIT */
/* Management API client over libcurl (see loopline/http-client.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>

#include "loopline/http-client.h"
#include "loopline/json.h"

struct lp_http_client {
	CURL *curl;
	char *base_url;
	char *auth_header;
	char *cacert, *client_cert, *client_key;
	long timeout_s;
};

struct sink {
	char *buf;
	size_t len, cap;
	bool overflow;
};

struct source {
	const char *data;
	size_t len, off;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;

	if (s->len + n > LP_HTTP_BODY_MAX) {
		s->overflow = true;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *b;

		while (cap < s->len + n + 1)
			cap *= 2;
		b = realloc(s->buf, cap);
		if (!b)
			return 0;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static size_t read_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct source *s = ctx;
	size_t n = size * nmemb;

	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(ptr, s->data + s->off, n);
	s->off += n;
	return n;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

int lp_http_client_new(const struct lp_http_client_opts *opts, struct lp_http_client **ret_client)
{
	struct lp_http_client *c;
	bool failed = false;
	size_t n;

	if (!opts || !opts->base_url)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->curl = curl_easy_init();
	c->base_url = dup_or_null(opts->base_url, &failed);
	c->cacert = dup_or_null(opts->cacert, &failed);
	c->client_cert = dup_or_null(opts->client_cert, &failed);
	c->client_key = dup_or_null(opts->client_key, &failed);
	c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 120;
	if (opts->token) {
		n = strlen(opts->token) + sizeof("Authorization: Bearer ");
		c->auth_header = malloc(n);
		if (c->auth_header)
			snprintf(c->auth_header, n, "Authorization: Bearer %s", opts->token);
		else
			failed = true;
	}
	if (failed || !c->curl) {
		lp_http_client_free(c);
		return -ENOMEM;
	}
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	*ret_client = c;
	return 0;
}

void lp_http_client_free(struct lp_http_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base_url);
	free(c->auth_header);
	free(c->cacert);
	free(c->client_cert);
	free(c->client_key);
	free(c);
}

char *lp_http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *copy;

	if (!e)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}

int lp_http_request(struct lp_http_client *c, const char *method, const char *path,
		    const char *const *headers, const void *body, size_t len, long *ret_status,
		    char **ret_body, size_t *ret_len, struct lp_diag *diag)
{
	struct curl_slist *h = NULL, *t;
	struct sink sink = { 0 };
	struct source src = { body, len, 0 };
	char *url, errbuf[CURL_ERROR_SIZE] = "";
	size_t n = strlen(c->base_url) + strlen(path) + 1;
	CURLcode cc;
	long status = 0;
	int r = 0;

	url = malloc(n);
	if (!url)
		return -ENOMEM;
	snprintf(url, n, "%s%s", c->base_url, path);
	if (c->auth_header && !(h = curl_slist_append(h, c->auth_header)))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && headers && headers[i]; i++) {
		t = curl_slist_append(h, headers[i]);
		if (!t)
			r = -ENOMEM;
		else
			h = t;
	}
	/* No "Expect: 100-continue" round trip for chunk uploads. */
	if (r == 0 && !(t = curl_slist_append(h, "Expect:")))
		r = -ENOMEM;
	else if (r == 0)
		h = t;
	if (r < 0)
		goto out;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->cacert)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cacert);
	if (c->client_cert)
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->client_cert);
	if (c->client_key)
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->client_key);
	if (body) {
		curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c->curl, CURLOPT_READDATA, &src);
		curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		/* CURLOPT_UPLOAD implies PUT; CUSTOMREQUEST above sets the real method. */
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		r = lp_diag_fail(diag, sink.overflow ? -E2BIG : -EIO, "%s %s: %s", method, url,
				 sink.overflow ? "response too large" : errbuf[0] ? errbuf :
				 curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (!sink.buf) {
		sink.buf = calloc(1, 1);
		if (!sink.buf) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret_status = status;
	*ret_body = sink.buf;
	if (ret_len)
		*ret_len = sink.len;
	sink.buf = NULL;
out:
	free(sink.buf);
	curl_slist_free_all(h);
	free(url);
	return r;
}

int lp_http_json(struct lp_http_client *c, const char *method, const char *path, const cJSON *body,
		 long *ret_status, cJSON **ret_json, struct lp_diag *diag)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
					    "Accept: application/json", NULL };
	char *text = NULL, *resp = NULL;
	cJSON *json = NULL;
	size_t len = 0;
	long status = 0;
	int r;

	if (body) {
		text = lp_json_print(body);
		if (!text)
			return -ENOMEM;
	}
	r = lp_http_request(c, method, path, hdrs, text, text ? strlen(text) : 0, &status, &resp, &len,
			    diag);
	free(text);
	if (r < 0)
		return r;
	if (ret_status)
		*ret_status = status;
	if (len > 0 && lp_json_parse(resp, len, LP_HTTP_BODY_MAX, 0, &json, NULL) < 0)
		json = NULL;
	if (status < 200 || status > 299) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

		if (cJSON_IsString(code) && cJSON_IsString(msg))
			r = lp_diag_fail(diag, -EPROTO, "%s (HTTP %ld): %s", code->valuestring, status,
					 msg->valuestring);
		else
			r = lp_diag_fail(diag, -EPROTO, "%s %s: HTTP %ld", method, path, status);
		cJSON_Delete(json);
		free(resp);
		return r;
	}
	if (len > 0 && !json) {
		free(resp);
		return lp_diag_fail(diag, -EBADMSG, "%s %s: the answer is not JSON", method, path);
	}
	free(resp);
	if (ret_json)
		*ret_json = json;
	else
		cJSON_Delete(json);
	return 0;
}

/* ---- resumable upload ---- */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int find_upload(struct lp_http_client *c, const char *filename, uint64_t size, bool opaque,
		       cJSON **ret, struct lp_diag *diag)
{
	char *esc = lp_http_escape(filename), path[512];
	cJSON *list = NULL;
	const cJSON *it;
	int r;

	if (!esc)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/uploads?filename=%s&limit=1000", esc);
	free(esc);
	r = lp_http_json(c, "GET", path, NULL, NULL, &list, diag);
	if (r < 0)
		return r;
	*ret = NULL;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "size");
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "opaque");

		if (cJSON_IsNumber(s) && (uint64_t)s->valuedouble == size && cJSON_IsBool(o) &&
		    cJSON_IsTrue(o) == opaque) {
			*ret = cJSON_Duplicate(it, 1);
			break;
		}
	}
	cJSON_Delete(list);
	return 0;
}

static int put_range(struct lp_http_client *c, const char *id, int fd, uint64_t first, uint64_t last,
		     uint64_t total, char *buf, struct lp_diag *diag)
{
	char path[128], cr[128], *resp = NULL;
	const char *hdrs[] = { cr, "Content-Type: application/octet-stream", NULL };
	size_t len = (size_t)(last - first + 1), got = 0;
	long status = 0;
	int r;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(first + got));

		if (n < 0)
			return lp_diag_fail(diag, -errno, "read: %s", strerror(errno));
		if (n == 0)
			return lp_diag_fail(diag, -EIO, "the file shrank while uploading");
		got += (size_t)n;
	}
	snprintf(path, sizeof(path), "/api/v1/uploads/%s", id);
	snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%llu/%llu", (unsigned long long)first,
		 (unsigned long long)last, (unsigned long long)total);
	r = lp_http_request(c, "PUT", path, hdrs, buf, len, &status, &resp, NULL, diag);
	if (r == 0 && status != 200)
		r = lp_diag_fail(diag, -EPROTO, "PUT %s: HTTP %ld: %s", path, status, resp);
	free(resp);
	return r;
}

int lp_http_upload(struct lp_http_client *c, const char *path, const struct lp_http_upload_opts *o,
		   cJSON **ret_package, uint64_t *ret_resumed_bytes, struct lp_diag *diag)
{
	const char *filename = o->filename ? o->filename : base_name(path);
	size_t chunk = o->chunk_size ? o->chunk_size : 4u * 1024 * 1024;
	cJSON *up = NULL, *req = NULL, *pkg = NULL;
	const cJSON *it, *idj;
	char id[64], cpath[128], *buf = NULL;
	uint64_t size, have = 0, next = 0, done;
	struct stat st;
	int fd, r;

	if (chunk > LP_HTTP_CHUNK_MAX)
		chunk = LP_HTTP_CHUNK_MAX;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lp_diag_fail(diag, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return lp_diag_fail(diag, -EINVAL, "%s: not a non-empty regular file", path);
	}
	size = (uint64_t)st.st_size;
	buf = malloc(chunk);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	r = find_upload(c, filename, size, o->opaque, &up, diag);
	if (r < 0)
		goto out;
	if (!up) {
		req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "filename", filename);
		cJSON_AddNumberToObject(req, "size", (double)size);
		if (o->opaque) {
			cJSON_AddBoolToObject(req, "opaque", true);
			if (o->version)
				cJSON_AddStringToObject(req, "version", o->version);
			if (o->part)
				cJSON_AddStringToObject(req, "part", o->part);
			if (o->name)
				cJSON_AddStringToObject(req, "name", o->name);
		}
		r = lp_http_json(c, "POST", "/api/v1/uploads", req, NULL, &up, diag);
		if (r < 0)
			goto out;
	}
	idj = cJSON_GetObjectItemCaseSensitive(up, "id");
	if (!cJSON_IsString(idj) || strlen(idj->valuestring) >= sizeof(id)) {
		r = lp_diag_fail(diag, -EBADMSG, "the server's upload has no id");
		goto out;
	}
	snprintf(id, sizeof(id), "%s", idj->valuestring);
	/* Send the gaps between the received ranges (sorted and merged by the server). */
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(up, "received"))
		have += (uint64_t)cJSON_GetArrayItem(it, 1)->valuedouble -
			(uint64_t)cJSON_GetArrayItem(it, 0)->valuedouble + 1;
	if (ret_resumed_bytes)
		*ret_resumed_bytes = have;
	done = have;
	it = cJSON_GetObjectItemCaseSensitive(up, "received") ?
	     cJSON_GetObjectItemCaseSensitive(up, "received")->child : NULL;
	while (next < size) {
		uint64_t gap_end = size; /* exclusive */

		if (it) {
			uint64_t a = (uint64_t)cJSON_GetArrayItem(it, 0)->valuedouble;
			uint64_t b = (uint64_t)cJSON_GetArrayItem(it, 1)->valuedouble;

			if (next >= a) {
				next = b + 1 > next ? b + 1 : next;
				it = it->next;
				continue;
			}
			gap_end = a;
		}
		while (next < gap_end) {
			uint64_t last = next + chunk - 1 < gap_end - 1 ? next + chunk - 1 : gap_end - 1;

			r = put_range(c, id, fd, next, last, size, buf, diag);
			if (r < 0)
				goto out;
			done += last - next + 1;
			next = last + 1;
			if (o->progress)
				o->progress(o->progress_ctx, done, size);
		}
	}
	snprintf(cpath, sizeof(cpath), "/api/v1/uploads/%s/complete", id);
	r = lp_http_json(c, "POST", cpath, NULL, NULL, &pkg, diag);
	if (r < 0)
		goto out;
	*ret_package = pkg;
out:
	cJSON_Delete(up);
	cJSON_Delete(req);
	free(buf);
	close(fd);
	return r;
}

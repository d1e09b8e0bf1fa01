/* SPDX-License-Identifier: MIT */
/*
 * Artifact download (DDI endpoints 10 and 11): full, single range and multipart/byteranges
 * responses from the content-addressed package file, ETag = quoted SHA-1, If-Match (412),
 * If-Range, 416 with "Content-Range: bytes * /len", and the .MD5SUM text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "loopline/json.h"
#include "loopline/log.h"
#include "backend.h"

struct artifact {
	char filename[256];
	uint64_t size;
	char sha1[41], md5[33], sha256[65];
	int64_t created;
};

static int load_artifact(struct be_store *s, int64_t module, struct artifact *a)
{
	sqlite3_stmt *st = NULL;
	int r = be_store_prepare(s, "SELECT filename, size, sha1, md5, sha256, created FROM packages"
				 " WHERE id = ?", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, module);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	snprintf(a->filename, sizeof(a->filename), "%s", (const char *)sqlite3_column_text(st, 0));
	a->size = (uint64_t)sqlite3_column_int64(st, 1);
	snprintf(a->sha1, sizeof(a->sha1), "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(a->md5, sizeof(a->md5), "%s", (const char *)sqlite3_column_text(st, 3));
	snprintf(a->sha256, sizeof(a->sha256), "%s", (const char *)sqlite3_column_text(st, 4));
	a->created = sqlite3_column_int64(st, 5);
	sqlite3_finalize(st);
	return 0;
}

/* If-Match: "*" or a list of entity tags; ours must be one of them (weak tags never match). */
static bool etag_listed(const char *header, const char *etag)
{
	const char *p = header;
	size_t n = strlen(etag);

	while (*p == ' ')
		p++;
	if (strcmp(p, "*") == 0)
		return true;
	while ((p = strstr(p, etag)) != NULL) {
		bool start_ok = p == header || p[-1] == ' ' || p[-1] == ',';
		bool end_ok = p[n] == '\0' || p[n] == ',' || p[n] == ' ';

		if (start_ok && end_ok)
			return true;
		p += n;
	}
	return false;
}

static void record_download(struct be_store *s, int64_t device, int64_t module, const char *path)
{
	sqlite3_stmt *st = NULL;
	char msg[2200];
	cJSON *m;
	char *text;

	snprintf(msg, sizeof(msg), "Target downloads %s", path);
	m = cJSON_CreateArray();
	cJSON_AddItemToArray(m, cJSON_CreateString(msg));
	text = lp_json_print(m);
	cJSON_Delete(m);
	if (!text)
		return;
	if (be_store_prepare(s, "INSERT INTO action_status(action_id, time, status, messages)"
			     " SELECT id, ?, 'DOWNLOAD', ? FROM actions WHERE device_id = ? AND"
			     " package_id = ? AND active = 1", &st) == 0) {
		sqlite3_bind_int64(st, 1, be_now());
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, device);
		sqlite3_bind_int64(st, 4, module);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	free(text);
}

static void send_evbuffer(struct be_req *r, int status, struct evbuffer *b)
{
	r->status = status;
	r->bytes = evbuffer_get_length(b);
	evhttp_send_reply(r->req, status, NULL, b);
}

void be_ddi_artifact(struct be_req *r, struct be_store *s, int64_t device, int64_t module,
		     const char *filename)
{
	struct be_range ranges[BE_RANGE_MAX];
	struct evbuffer_file_segment *seg = NULL;
	struct evbuffer *b = NULL;
	struct artifact a;
	struct stat st;
	char path[BE_PATH_MAX], etag[48], lm[64], hdr[320], md5name[300];
	const char *range, *if_match, *if_range;
	struct tm tm;
	time_t created;
	int fd = -1, n = 0;

	if (load_artifact(s, module, &a) < 0) {
		be_reply_empty(r, 404);
		return;
	}
	snprintf(md5name, sizeof(md5name), "%s.MD5SUM", a.filename);
	if (strcmp(filename, md5name) == 0) {
		char text[400];
		int len = snprintf(text, sizeof(text), "%s  %s", a.md5, a.filename);

		snprintf(hdr, sizeof(hdr), "attachment;filename=%s", md5name);
		be_add_header(r, "Content-Disposition", hdr);
		be_reply_buffer(r, 200, "text/plain", text, (size_t)len);
		return;
	}
	if (strcmp(filename, a.filename) != 0) {
		be_reply_empty(r, 404);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", a.sha1);
	created = (time_t)a.created;
	gmtime_r(&created, &tm);
	strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if_match = be_header(r, "If-Match");
	if (if_match && !etag_listed(if_match, etag)) {
		be_reply_empty(r, 412);
		return;
	}
	if (be_store_path(s, "packages/", path, sizeof(path) - 70) < 0) {
		be_reply_empty(r, 500);
		return;
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s", a.sha256);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size != a.size) {
		log_error("%s: artifact file missing or wrong size", path);
		if (fd >= 0)
			close(fd);
		be_reply_empty(r, 500);
		return;
	}
	seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)a.size, EVBUF_FS_CLOSE_ON_FREE);
	b = evbuffer_new();
	if (!seg || !b) {
		if (!seg)
			close(fd);
		goto fail;
	}
	snprintf(hdr, sizeof(hdr), "attachment;filename=%s", a.filename);
	be_add_header(r, "Content-Disposition", hdr);
	be_add_header(r, "Last-Modified", lm);
	be_add_header(r, "ETag", etag);
	be_add_header(r, "Accept-Ranges", "bytes");
	be_add_header(r, "X-Content-Type-Options", "nosniff");

	range = r->method == EVHTTP_REQ_GET ? be_header(r, "Range") : NULL;
	if_range = be_header(r, "If-Range");
	if (range && if_range && strcmp(if_range, etag) != 0 && strcmp(if_range, lm) != 0)
		range = NULL; /* the representation changed: send it whole */
	if (range) {
		n = be_range_parse(range, a.size, ranges, BE_RANGE_MAX);
		if (n < 0) {
			snprintf(hdr, sizeof(hdr), "bytes */%" PRIu64, a.size);
			be_add_header(r, "Content-Range", hdr);
			be_reply_empty(r, 416);
			goto out;
		}
	}
	if (n == 1) {
		snprintf(hdr, sizeof(hdr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, ranges[0].first,
			 ranges[0].last, a.size);
		be_add_header(r, "Content-Range", hdr);
		be_add_header(r, "Content-Type", "application/octet-stream");
		if (evbuffer_add_file_segment(b, seg, (ev_off_t)ranges[0].first,
					      (ev_off_t)(ranges[0].last - ranges[0].first + 1)) < 0)
			goto fail;
		send_evbuffer(r, 206, b);
	} else if (n > 1) {
		char boundary[40];

		snprintf(boundary, sizeof(boundary), "LOOPLINE_%08x%08x", be_worker_random(r->w),
			 be_worker_random(r->w));
		snprintf(hdr, sizeof(hdr), "multipart/byteranges; boundary=%s", boundary);
		be_add_header(r, "Content-Type", hdr);
		for (int i = 0; i < n; i++) {
			if (evbuffer_add_printf(b, "\r\n--%s\r\nContent-Type: application/octet-stream\r\n"
						"Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
						"\r\n\r\n", boundary, ranges[i].first, ranges[i].last,
						a.size) < 0 ||
			    evbuffer_add_file_segment(b, seg, (ev_off_t)ranges[i].first,
						      (ev_off_t)(ranges[i].last - ranges[i].first + 1)) < 0)
				goto fail;
		}
		if (evbuffer_add_printf(b, "\r\n--%s--\r\n", boundary) < 0)
			goto fail;
		send_evbuffer(r, 206, b);
	} else {
		be_add_header(r, "Content-Type", "application/octet-stream");
		if (a.size && evbuffer_add_file_segment(b, seg, 0, (ev_off_t)a.size) < 0)
			goto fail;
		if (r->method == EVHTTP_REQ_GET)
			record_download(s, device, module, r->path);
		send_evbuffer(r, 200, b);
	}
out:
	evbuffer_free(b);
	evbuffer_file_segment_free(seg);
	return;
fail:
	if (!r->status)
		be_reply_empty(r, 500);
	if (b)
		evbuffer_free(b);
	if (seg)
		evbuffer_file_segment_free(seg);
}

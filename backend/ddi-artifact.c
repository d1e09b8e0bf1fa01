/* SPDX-License-Identifier: MIT */
/*
 * Artifact download (DDI endpoints 10 and 11): full, single range and multipart/byteranges
 * responses from the content-addressed package file, ETag = quoted SHA-1, If-Match (412),
 * If-Range, 416 with "Content-Range: bytes * /len", and the .MD5SUM text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "loopline/log.h"
#include "ddi.h"

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

static void artifact_headers(struct be_req *r, const struct be_package *p, const char *etag,
			     const char *lm)
{
	char hdr[320];

	snprintf(hdr, sizeof(hdr), "attachment;filename=%s", p->filename);
	be_add_header(r, "Content-Disposition", hdr);
	be_add_header(r, "Last-Modified", lm);
	be_add_header(r, "ETag", etag);
	be_add_header(r, "Accept-Ranges", "bytes");
	be_add_header(r, "X-Content-Type-Options", "nosniff");
}

/* The ranges to send: 0 for the whole file, n >= 1, or -ERANGE (416) for bad ranges. A
 * Range of a unit we do not know, or with an If-Range that no longer matches, is ignored
 * (RFC 9110 14.2, 13.1.5). */
static int wanted_ranges(struct be_req *r, const struct be_package *p, const char *etag,
			 const char *lm, struct be_range *ranges)
{
	const char *range = r->method == EVHTTP_REQ_GET ? be_header(r, "Range") : NULL;
	const char *if_range = be_header(r, "If-Range");
	int n;

	if (!range || (if_range && strcmp(if_range, etag) != 0 && strcmp(if_range, lm) != 0))
		return 0;
	n = be_range_parse(range, p->size, ranges, BE_RANGE_MAX);
	if (n == -EOPNOTSUPP)
		return 0;
	return n < 0 ? -ERANGE : n;
}

/* Fills b with the answer's body for n ranges (see wanted_ranges); returns its status. */
static int fill_body(struct be_req *r, const struct be_package *p, struct evbuffer_file_segment *seg,
		     const struct be_range *ranges, int n, struct evbuffer *b)
{
	char hdr[320], boundary[40];

	if (n == 0) {
		be_add_header(r, "Content-Type", "application/octet-stream");
		if (p->size && evbuffer_add_file_segment(b, seg, 0, (ev_off_t)p->size) < 0)
			return -ENOMEM;
		return 200;
	}
	if (n == 1) {
		snprintf(hdr, sizeof(hdr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, ranges[0].first,
			 ranges[0].last, p->size);
		be_add_header(r, "Content-Range", hdr);
		be_add_header(r, "Content-Type", "application/octet-stream");
		if (evbuffer_add_file_segment(b, seg, (ev_off_t)ranges[0].first,
					      (ev_off_t)(ranges[0].last - ranges[0].first + 1)) < 0)
			return -ENOMEM;
		return 206;
	}
	snprintf(boundary, sizeof(boundary), "LOOPLINE_%08x%08x", be_worker_random(r->w),
		 be_worker_random(r->w));
	snprintf(hdr, sizeof(hdr), "multipart/byteranges; boundary=%s", boundary);
	be_add_header(r, "Content-Type", hdr);
	for (int i = 0; i < n; i++) {
		if (evbuffer_add_printf(b, "\r\n--%s\r\nContent-Type: application/octet-stream\r\n"
					"Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
					"\r\n\r\n", boundary, ranges[i].first, ranges[i].last,
					p->size) < 0 ||
		    evbuffer_add_file_segment(b, seg, (ev_off_t)ranges[i].first,
					      (ev_off_t)(ranges[i].last - ranges[i].first + 1)) < 0)
			return -ENOMEM;
	}
	if (evbuffer_add_printf(b, "\r\n--%s--\r\n", boundary) < 0)
		return -ENOMEM;
	return 206;
}

static void send_file(struct ddi *d, const struct be_package *p, const char *etag, const char *lm)
{
	struct be_req *r = d->r;
	struct be_range ranges[BE_RANGE_MAX];
	struct evbuffer_file_segment *seg = NULL;
	struct evbuffer *b = NULL;
	char hdr[64], what[2200];
	int fd, n, status;

	artifact_headers(r, p, etag, lm);
	n = wanted_ranges(r, p, etag, lm, ranges);
	if (n < 0) {
		snprintf(hdr, sizeof(hdr), "bytes */%" PRIu64, p->size);
		be_add_header(r, "Content-Range", hdr);
		be_reply_empty(r, 416);
		return;
	}
	if (be_store_package_open(d->s, p, &fd) < 0) {
		be_reply_empty(r, 500);
		return;
	}
	seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)p->size, EVBUF_FS_CLOSE_ON_FREE);
	if (!seg)
		close(fd);
	b = seg ? evbuffer_new() : NULL;
	status = b ? fill_body(r, p, seg, ranges, n, b) : -ENOMEM;
	if (status < 0) {
		be_reply_empty(r, 500);
	} else {
		if (status == 200 && r->method == EVHTTP_REQ_GET) {
			/* bookkeeping: a failure is logged by the store and the download goes on */
			snprintf(what, sizeof(what), "Target downloads %s", r->path);
			be_store_action_download(d->s, d->dev.id, p->id, what);
		}
		be_reply(r, status, b);
	}
	if (b)
		evbuffer_free(b);
	if (seg)
		evbuffer_file_segment_free(seg);
}

void ddi_artifact(struct ddi *d, int64_t package, const char *filename)
{
	struct be_req *r = d->r;
	struct be_package p;
	char etag[48], lm[64], hdr[320], md5name[300], text[400];
	const char *if_match;
	struct tm tm;
	time_t created;
	int rc = be_store_package_get(d->s, package, false, &p);

	if (rc < 0) {
		be_reply_empty(r, rc == -ENOENT ? 404 : 500);
		return;
	}
	snprintf(md5name, sizeof(md5name), "%s.MD5SUM", p.filename);
	if (strcmp(filename, md5name) == 0) {
		int len = snprintf(text, sizeof(text), "%s  %s", p.md5, p.filename);

		snprintf(hdr, sizeof(hdr), "attachment;filename=%s", md5name);
		be_add_header(r, "Content-Disposition", hdr);
		be_reply_buffer(r, 200, "text/plain", text, (size_t)len);
		return;
	}
	if (strcmp(filename, p.filename) != 0) {
		be_reply_empty(r, 404);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", p.sha1);
	created = (time_t)p.created;
	gmtime_r(&created, &tm);
	strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if_match = be_header(r, "If-Match");
	if (if_match && !etag_listed(if_match, etag)) {
		be_reply_empty(r, 412);
		return;
	}
	send_file(d, &p, etag, lm);
}

/* SPDX-License-Identifier: MIT */
/*
 * One delivery attempt of an alarm to a channel (libcurl; docs/alarms.md):
 *   telegram  POST {base_url}/bot{token}/sendMessage {"chat_id","text"}; ok = 200 + "ok":true
 *   smtp      STARTTLS required (CURLUSESSL_ALL); Date, From, To, Subject, Message-ID
 *   webhook   POST the alarm's JSON with X-Loopline-Timestamp and
 *             X-Loopline-Signature: sha256=hex(HMAC-SHA256(key, timestamp "." body))
 * Error texts come from curl_easy_strerror() and the HTTP status only: libcurl's error
 * buffer can hold the URL, and the Telegram URL holds the bot token.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "loopline/json.h"
#include "backend.h"

#define REPLY_MAX 65536
#define MAIL_MAX (BE_ALARM_TEXT_MAX * 2 + 4096)

struct sink {
	char buf[REPLY_MAX + 1];
	size_t len;
};

static size_t sink_write(char *data, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n, room = REPLY_MAX - s->len;

	memcpy(s->buf + s->len, data, len < room ? len : room);
	s->len += len < room ? len : room;
	s->buf[s->len] = '\0';
	return len;
}

struct source {
	const char *data;
	size_t len, off;
};

static size_t source_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct source *s = ctx;
	size_t len = size * n;

	if (len > s->len - s->off)
		len = s->len - s->off;
	memcpy(buf, s->data + s->off, len);
	s->off += len;
	return len;
}

static CURL *easy_new(const struct be_outbox_item *it, unsigned timeout_s, struct sink *sink)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	if (it->channel.config.cacert[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, it->channel.config.cacert);
	return c;
}

static int http_result(CURL *c, CURLcode cc, const struct sink *sink, bool telegram, char *err,
		       size_t len)
{
	long status = 0;

	if (cc != CURLE_OK) {
		snprintf(err, len, "%s", curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (telegram && status == 200) {
		cJSON *o = cJSON_ParseWithLength(sink->buf, sink->len);
		bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));

		cJSON_Delete(o);
		if (ok)
			return 0;
		snprintf(err, len, "HTTP 200 without \"ok\": true");
		return -EPROTO;
	}
	if (!telegram && status >= 200 && status < 300)
		return 0;
	snprintf(err, len, "HTTP %ld", status);
	return -EPROTO;
}

/* POSTs a JSON body; extra: more header lines (NULL-terminated, may be NULL). */
static int post_json(const struct be_outbox_item *it, const char *url, const char *body,
		     const char *const *extra, bool telegram, unsigned timeout_s, char *err,
		     size_t len)
{
	struct sink *sink = calloc(1, sizeof(*sink));
	struct curl_slist *h = NULL, *t;
	CURL *c = sink ? easy_new(it, timeout_s, sink) : NULL;
	int r = -ENOMEM;

	if (!c)
		goto out;
	h = curl_slist_append(NULL, "Content-Type: application/json");
	for (size_t i = 0; h && extra && extra[i]; i++)
		if ((t = curl_slist_append(h, extra[i])))
			h = t;
	if (!h)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	r = http_result(c, curl_easy_perform(c), sink, telegram, err, len);
out:
	if (r == -ENOMEM)
		snprintf(err, len, "out of memory");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(sink);
	return r;
}

cJSON *be_alarm_json(const struct be_outbox_item *it, const char *tenant)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)it->alarm_id);
	cJSON_AddNumberToObject(o, "time", (double)it->alarm_time);
	cJSON_AddStringToObject(o, "tenant", tenant);
	cJSON_AddStringToObject(o, "rule", it->rule);
	cJSON_AddStringToObject(o, "kind", it->kind);
	cJSON_AddStringToObject(o, "level", it->level);
	if (it->device[0])
		cJSON_AddStringToObject(o, "device", it->device);
	else
		cJSON_AddNullToObject(o, "device");
	if (it->rollout[0])
		cJSON_AddStringToObject(o, "rollout", it->rollout);
	else
		cJSON_AddNullToObject(o, "rollout");
	cJSON_AddStringToObject(o, "title", it->title);
	cJSON_AddStringToObject(o, "text", it->text);
	return o;
}

int be_alarm_signature(const char *key, const char *timestamp, const char *body, size_t body_len,
		       char *out, size_t out_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t ts = strlen(timestamp), len = ts + 1 + body_len;
	char *msg = malloc(len);

	if (!msg)
		return -ENOMEM;
	memcpy(msg, timestamp, ts);
	msg[ts] = '.';
	memcpy(msg + ts + 1, body, body_len);
	if (!HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)msg, len, mac, &n) ||
	    out_len < 8 + 2 * (size_t)n) {
		free(msg);
		return -EIO;
	}
	free(msg);
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

static int send_webhook(const struct be_outbox_item *it, const char *tenant, unsigned timeout_s,
			char *err, size_t len)
{
	cJSON *o = be_alarm_json(it, tenant);
	char *body = o ? lp_json_print(o) : NULL;
	char ts[32], ts_h[64], sig[80], sig_h[128];
	const char *extra[] = { ts_h, sig_h, NULL };
	int r = -ENOMEM;

	cJSON_Delete(o);
	snprintf(ts, sizeof(ts), "%lld", (long long)be_now());
	if (body && be_alarm_signature(it->channel.config.secret, ts, body, strlen(body), sig,
				       sizeof(sig)) == 0) {
		snprintf(ts_h, sizeof(ts_h), "X-Loopline-Timestamp: %s", ts);
		snprintf(sig_h, sizeof(sig_h), "X-Loopline-Signature: %s", sig);
		r = post_json(it, it->channel.config.url, body, extra, false, timeout_s, err, len);
	} else {
		snprintf(err, len, "cannot build the request");
	}
	free(body);
	return r;
}

static int send_telegram(const struct be_outbox_item *it, unsigned timeout_s, char *err,
			 size_t len)
{
	const struct be_channel_config *c = &it->channel.config;
	char url[BE_ALARM_URL_MAX + BE_ALARM_SECRET_MAX + 32], text[BE_ALARM_TEXT_MAX + 512];
	cJSON *o = cJSON_CreateObject();
	char *body;
	int r;

	snprintf(url, sizeof(url), "%s/bot%s/sendMessage",
		 c->base_url[0] ? c->base_url : "https://api.telegram.org", c->secret);
	snprintf(text, sizeof(text), "%s\n\n%s%s%s", it->title, it->text,
		 it->device[0] ? "\nDevice: " : "", it->device);
	if (o) {
		cJSON_AddStringToObject(o, "chat_id", c->chat_id);
		cJSON_AddStringToObject(o, "text", text);
	}
	body = o ? lp_json_print(o) : NULL;
	cJSON_Delete(o);
	if (!body) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	r = post_json(it, url, body, NULL, true, timeout_s, err, len);
	free(body);
	return r;
}

/* Appends text to the message with every line ending as CRLF. */
static void append_crlf(char *buf, size_t size, size_t *n, const char *text)
{
	for (const char *p = text; *p && *n + 3 < size; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			buf[(*n)++] = '\r';
		buf[(*n)++] = *p;
	}
	buf[*n] = '\0';
}

static void append(char *buf, size_t size, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n += (size_t)w < size - *n ? (size_t)w : size - *n - 1;
}

static void mail_message(const struct be_outbox_item *it, const char *tenant, char *buf,
			 size_t size)
{
	const struct be_channel_config *c = &it->channel.config;
	char date[64], stamp[32];
	time_t t = (time_t)it->alarm_time;
	struct tm tm;
	size_t n = 0;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	append(buf, size, &n, "Date: %s\r\nFrom: %s\r\nTo: ", date, c->from);
	for (size_t i = 0; i < c->n_to; i++)
		append(buf, size, &n, "%s%s", i ? ", " : "", c->to[i]);
	/* The title holds no CR or LF: it is made of validated names and fixed words. */
	append(buf, size, &n, "\r\nSubject: [Loopline %s] %s\r\n"
	       "Message-ID: <alarm-%lld.%lld.%s@loopline>\r\nMIME-Version: 1.0\r\n"
	       "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
	       it->level, it->title, (long long)it->alarm_id, (long long)it->id, tenant);
	append_crlf(buf, size, &n, it->text);
	append(buf, size, &n, "\r\n\r\nRule: %s (%s)\r\nDevice: %s\r\nTime: %s\r\nTenant: %s\r\n",
	       it->rule, it->kind, it->device[0] ? it->device : "-", stamp, tenant);
}

static int send_smtp(const struct be_outbox_item *it, const char *tenant, unsigned timeout_s,
		     char *err, size_t len)
{
	const struct be_channel_config *c = &it->channel.config;
	char *msg = malloc(MAIL_MAX), from[BE_ALARM_ADDR_MAX + 2];
	struct curl_slist *rcpt = NULL, *t;
	struct source src = { 0 };
	CURL *h = msg ? curl_easy_init() : NULL;
	CURLcode cc;
	int r = -ENOMEM;

	if (!h)
		goto out;
	mail_message(it, tenant, msg, MAIL_MAX);
	src = (struct source){ msg, strlen(msg), 0 };
	snprintf(from, sizeof(from), "<%s>", c->from);
	for (size_t i = 0; i < c->n_to; i++)
		if ((t = curl_slist_append(rcpt, c->to[i])))
			rcpt = t;
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (c->cacert[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->username[0]) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, source_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	cc = curl_easy_perform(h);
	r = cc == CURLE_OK ? 0 : -EIO;
	if (r < 0)
		snprintf(err, len, "%s", curl_easy_strerror(cc));
out:
	if (r == -ENOMEM)
		snprintf(err, len, "out of memory");
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	free(msg);
	return r;
}

int be_alarm_send(const struct be_outbox_item *it, const char *tenant, unsigned timeout_s,
		  char *err, size_t err_len)
{
	err[0] = '\0';
	switch (it->channel.kind) {
	case BE_CHANNEL_TELEGRAM:
		return send_telegram(it, timeout_s, err, err_len);
	case BE_CHANNEL_SMTP:
		return send_smtp(it, tenant, timeout_s, err, err_len);
	case BE_CHANNEL_WEBHOOK:
		return send_webhook(it, tenant, timeout_s, err, err_len);
	}
	snprintf(err, err_len, "unknown channel kind");
	return -EINVAL;
}

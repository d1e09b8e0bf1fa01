/* SPDX-License-Identifier: MIT */
/*
 * manifest.json (format 1) and manifest.sig: strict parsers and canonical serialisers.
 * Everything a package says about itself passes through here, so every field is checked
 * for kind, range, length and syntax, and unknown keys are errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopline/codec.h"
#include "loopline/json.h"
#include "loopline/semver.h"
#include "package-internal.h"

static const char *const payload_types[] = { "image", "delta", "file", "script", NULL };
static const char *const compressions[] = { "none", "zstd", NULL };

#define ENCRYPTION_ALG "aes-256-gcm-chunked"

const char *lp_payload_type_name(enum lp_payload_type type)
{
	if ((unsigned)type < LP_ARRAY_SIZE(payload_types) - 1)
		return payload_types[type];
	return "unknown";
}

const char *lp_compression_name(enum lp_compression c)
{
	if ((unsigned)c < LP_ARRAY_SIZE(compressions) - 1)
		return compressions[c];
	return "unknown";
}

void lp_manifest_free(struct lp_manifest *m)
{
	if (!m)
		return;
	free(m->compatible);
	free(m->payloads);
	free(m);
}

/* ---- field checks ---- */

/* The JSON layer says -EINVAL for bad input; the package API says -EBADMSG. */
static int json_err(int rc)
{
	return rc == -EINVAL ? -EBADMSG : rc;
}

int lp_pkg_name_check(const char *name, const char *path, struct lp_diag *diag)
{
	size_t len = strlen(name);

	if (len == 0)
		return lp_diag_fail_at(diag, -EBADMSG, path, "empty payload name");
	if (len > LP_PKG_NAME_MAX)
		return lp_diag_fail_at(diag, -E2BIG, path, "payload name longer than %d bytes",
				       LP_PKG_NAME_MAX);
	if (name[0] == '.')
		return lp_diag_fail_at(diag, -EBADMSG, path, "payload name %s starts with '.'", name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return lp_diag_fail_at(diag, -EBADMSG, path,
					       "payload name %s: character 0x%02x not in [A-Za-z0-9._-]",
					       name, (unsigned char)c);
	}
	if (strcmp(name, LP_PKG_MANIFEST_NAME) == 0 || strcmp(name, LP_PKG_SIG_NAME) == 0)
		return lp_diag_fail_at(diag, -EBADMSG, path, "payload name %s is reserved", name);
	return 0;
}

static bool is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int two(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int lp_pkg_created_parse(const char *s, int64_t *ret_time)
{
	struct tm tm = { 0 }, back;
	time_t t;

	/* 0123456789012345678 9 */
	/* YYYY-MM-DDTHH:MM:SSZ */
	if (strlen(s) != 20 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) ||
	    s[7] != '-' || !is_digits(s + 8, 2) || s[10] != 'T' || !is_digits(s + 11, 2) ||
	    s[13] != ':' || !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2) ||
	    s[19] != 'Z')
		return -EINVAL;
	tm.tm_year = two(s) * 100 + two(s + 2) - 1900;
	tm.tm_mon = two(s + 5) - 1;
	tm.tm_mday = two(s + 8);
	tm.tm_hour = two(s + 11);
	tm.tm_min = two(s + 14);
	tm.tm_sec = two(s + 17);
	if (tm.tm_year < 70 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 59)
		return -EINVAL;
	back = tm;
	t = timegm(&back);
	if (t == (time_t)-1 || back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon)
		return -EINVAL; /* e.g. February 30 */
	*ret_time = (int64_t)t;
	return 0;
}

bool lp_pkg_keyid_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != LP_KEYID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lp_hex_digit(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return false;
	return true;
}

int lp_pkg_created_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > LP_PKG_CREATED_MAX || !gmtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		return -EINVAL;
	return 0;
}

/* A required string of 1..out_size-1 printable ASCII characters. */
static int get_text(const cJSON *obj, const char *key, const char *path, char *out,
		    size_t out_size, struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	const char *s = NULL;
	size_t len;
	int rc;

	rc = lp_json_get_string(obj, key, true, path, &s, diag);
	if (rc < 0)
		return json_err(rc);
	lp_json_path_key(p, sizeof(p), path, key);
	len = strlen(s);
	if (len == 0)
		return lp_diag_fail_at(diag, -EBADMSG, p, "must not be empty");
	if (len >= out_size)
		return lp_diag_fail_at(diag, -E2BIG, p, "longer than %zu bytes", out_size - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return lp_diag_fail_at(diag, -EBADMSG, p,
					       "character 0x%02x is not printable ASCII",
					       (unsigned char)s[i]);
	memcpy(out, s, len + 1);
	return 0;
}

static int check_version(const char *s, const char *path, struct lp_diag *diag)
{
	struct lp_diag d = { 0 };
	struct lp_semver v;

	if (lp_semver_parse(s, &v, &d) < 0)
		return lp_diag_fail_at(diag, -EBADMSG, path, "not a semantic version: %s",
				       d.msg[0] ? d.msg : s);
	return 0;
}

static int get_version(const cJSON *obj, const char *key, const char *path, char *out,
		       struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	int rc;

	rc = get_text(obj, key, path, out, LP_SEMVER_MAX, diag);
	if (rc < 0)
		return rc;
	return check_version(out, lp_json_path_key(p, sizeof(p), path, key), diag);
}

static int get_hash(const cJSON *obj, const char *key, const char *path, uint8_t out[32],
		    struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	const char *s = NULL;
	int rc;

	rc = lp_json_get_string(obj, key, true, path, &s, diag);
	if (rc < 0)
		return json_err(rc);
	lp_json_path_key(p, sizeof(p), path, key);
	if (strlen(s) != 64)
		return lp_diag_fail_at(diag, -EBADMSG, p, "expected 64 hex digits, got %zu characters",
				       strlen(s));
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return lp_diag_fail_at(diag, -EBADMSG, p,
					       "expected lower-case hex, found 0x%02x",
					       (unsigned char)s[i]);
	if (lp_hex_decode(s, 64, out, 32) < 0)
		return lp_diag_fail_at(diag, -EBADMSG, p, "bad hex");
	return 0;
}

static int get_u64(const cJSON *obj, const char *key, const char *path, uint64_t min, uint64_t max,
		   uint64_t *ret, struct lp_diag *diag)
{
	int64_t v = 0;
	int rc;

	rc = lp_json_get_int(obj, key, true, (int64_t)min, (int64_t)max, path, &v, diag);
	if (rc < 0)
		return json_err(rc);
	*ret = (uint64_t)v;
	return 0;
}

static int get_choice(const cJSON *obj, const char *key, const char *const *choices,
		      const char *path, int *ret, struct lp_diag *diag)
{
	int rc = lp_json_get_enum(obj, key, true, choices, path, ret, diag);

	return json_err(rc);
}

/* ---- manifest.json ---- */

static const struct lp_json_field root_fields[] = {
	{ "format", LP_JSON_INT, true },
	{ "product", LP_JSON_STRING, true },
	{ "version", LP_JSON_STRING, true },
	{ "security_version", LP_JSON_INT, true },
	{ "compatible", LP_JSON_ARRAY, true },
	{ "created", LP_JSON_STRING, true },
	{ "min_agent_version", LP_JSON_STRING, false },
	{ "payloads", LP_JSON_ARRAY, true },
};

static const struct lp_json_field payload_fields[] = {
	{ "name", LP_JSON_STRING, true },
	{ "type", LP_JSON_STRING, true },
	{ "target", LP_JSON_STRING, true },
	{ "size", LP_JSON_INT, true },
	{ "sha256", LP_JSON_STRING, true },
	{ "stored_size", LP_JSON_INT, true },
	{ "stored_sha256", LP_JSON_STRING, true },
	{ "compression", LP_JSON_STRING, true },
	{ "encryption", LP_JSON_OBJECT_OR_NULL, true },
	{ "delta", LP_JSON_OBJECT_OR_NULL, true },
};

static const struct lp_json_field encryption_fields[] = {
	{ "alg", LP_JSON_STRING, true },
	{ "key_id", LP_JSON_STRING, true },
	{ "chunk_size", LP_JSON_INT, true },
	{ "nonce", LP_JSON_STRING, true },
};

static const struct lp_json_field delta_fields[] = {
	{ "algorithm", LP_JSON_STRING, true },
	{ "base_version", LP_JSON_STRING, true },
	{ "base_sha256", LP_JSON_STRING, true },
	{ "base_size", LP_JSON_INT, true },
};

static int parse_encryption(const cJSON *obj, const char *path, struct lp_payload_encryption *enc,
			    struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	const char *nonce = NULL;
	uint64_t chunk;
	long n;
	int rc;

	rc = json_err(lp_json_check(obj, encryption_fields, LP_ARRAY_SIZE(encryption_fields), path, diag));
	if (rc < 0)
		return rc;
	rc = get_text(obj, "alg", path, enc->alg, sizeof(enc->alg), diag);
	if (rc < 0)
		return rc;
	if (strcmp(enc->alg, ENCRYPTION_ALG) != 0)
		return lp_diag_fail_at(diag, -EBADMSG, lp_json_path_key(p, sizeof(p), path, "alg"),
				       "unsupported encryption %s (expected %s)", enc->alg, ENCRYPTION_ALG);
	rc = get_text(obj, "key_id", path, enc->key_id, sizeof(enc->key_id), diag);
	if (rc < 0)
		return rc;
	rc = get_u64(obj, "chunk_size", path, LP_PKG_CHUNK_MIN, LP_PKG_CHUNK_MAX, &chunk, diag);
	if (rc < 0)
		return rc;
	enc->chunk_size = (uint32_t)chunk;
	rc = lp_json_get_string(obj, "nonce", true, path, &nonce, diag);
	if (rc < 0)
		return json_err(rc);
	n = lp_base64_decode(nonce, strlen(nonce), enc->nonce, sizeof(enc->nonce));
	if (n != (long)sizeof(enc->nonce))
		return lp_diag_fail_at(diag, -EBADMSG, lp_json_path_key(p, sizeof(p), path, "nonce"),
				       "expected the base64 of 12 bytes");
	enc->present = true;
	return 0;
}

static int parse_delta(const cJSON *obj, const char *path, struct lp_payload_delta *delta,
		       struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	int rc;

	rc = json_err(lp_json_check(obj, delta_fields, LP_ARRAY_SIZE(delta_fields), path, diag));
	if (rc < 0)
		return rc;
	rc = get_text(obj, "algorithm", path, delta->algorithm, sizeof(delta->algorithm), diag);
	if (rc < 0)
		return rc;
	for (const char *c = delta->algorithm; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
		      *c == '.'))
			return lp_diag_fail_at(diag, -EBADMSG,
					       lp_json_path_key(p, sizeof(p), path, "algorithm"),
					       "engine names use [a-z0-9._-]");
	rc = get_version(obj, "base_version", path, delta->base_version, diag);
	if (rc < 0)
		return rc;
	rc = get_hash(obj, "base_sha256", path, delta->base_sha256, diag);
	if (rc < 0)
		return rc;
	rc = get_u64(obj, "base_size", path, 0, LP_PKG_INT_MAX, &delta->base_size, diag);
	if (rc < 0)
		return rc;
	delta->present = true;
	return 0;
}

static int parse_payload(const cJSON *obj, const char *path, struct lp_payload_info *pl,
			 struct lp_diag *diag)
{
	char p[LP_JSON_PATH_MAX];
	const cJSON *sub;
	int rc, v;

	rc = json_err(lp_json_check(obj, payload_fields, LP_ARRAY_SIZE(payload_fields), path, diag));
	if (rc < 0)
		return rc;
	rc = get_text(obj, "name", path, pl->name, sizeof(pl->name), diag);
	if (rc == -E2BIG)
		return lp_diag_fail_at(diag, -E2BIG, lp_json_path_key(p, sizeof(p), path, "name"),
				       "payload name longer than %d bytes", LP_PKG_NAME_MAX);
	if (rc < 0)
		return rc;
	rc = lp_pkg_name_check(pl->name, lp_json_path_key(p, sizeof(p), path, "name"), diag);
	if (rc < 0)
		return rc;
	rc = get_choice(obj, "type", payload_types, path, &v, diag);
	if (rc < 0)
		return rc;
	pl->type = (enum lp_payload_type)v;
	rc = get_text(obj, "target", path, pl->target, sizeof(pl->target), diag);
	if (rc < 0)
		return rc;
	rc = get_u64(obj, "size", path, 0, LP_PKG_INT_MAX, &pl->size, diag);
	if (rc < 0)
		return rc;
	rc = get_hash(obj, "sha256", path, pl->sha256, diag);
	if (rc < 0)
		return rc;
	rc = get_u64(obj, "stored_size", path, 0, LP_PKG_INT_MAX, &pl->stored_size, diag);
	if (rc < 0)
		return rc;
	rc = get_hash(obj, "stored_sha256", path, pl->stored_sha256, diag);
	if (rc < 0)
		return rc;
	rc = get_choice(obj, "compression", compressions, path, &v, diag);
	if (rc < 0)
		return rc;
	pl->compression = (enum lp_compression)v;

	sub = cJSON_GetObjectItemCaseSensitive(obj, "encryption");
	if (cJSON_IsObject(sub)) {
		rc = parse_encryption(sub, lp_json_path_key(p, sizeof(p), path, "encryption"),
				      &pl->encryption, diag);
		if (rc < 0)
			return rc;
	}
	sub = cJSON_GetObjectItemCaseSensitive(obj, "delta");
	if (cJSON_IsObject(sub)) {
		rc = parse_delta(sub, lp_json_path_key(p, sizeof(p), path, "delta"), &pl->delta, diag);
		if (rc < 0)
			return rc;
	}
	if ((pl->type == LP_PAYLOAD_DELTA) != pl->delta.present)
		return lp_diag_fail_at(diag, -EBADMSG, lp_json_path_key(p, sizeof(p), path, "delta"),
				       pl->delta.present ? "only payloads of type delta have a delta object"
							 : "a payload of type delta needs a delta object");
	/* Stored bytes are the target bytes when nothing transforms them. */
	if (pl->compression == LP_COMPRESSION_NONE && !pl->encryption.present &&
	    pl->type != LP_PAYLOAD_DELTA) {
		if (pl->stored_size != pl->size)
			return lp_diag_fail_at(diag, -EBADMSG,
					       lp_json_path_key(p, sizeof(p), path, "stored_size"),
					       "must equal size for a payload that is not compressed, encrypted or a delta");
		if (memcmp(pl->stored_sha256, pl->sha256, 32) != 0)
			return lp_diag_fail_at(diag, -EBADMSG,
					       lp_json_path_key(p, sizeof(p), path, "stored_sha256"),
					       "must equal sha256 for a payload that is not compressed, encrypted or a delta");
	}
	return 0;
}

/* compatible[i]: a hardware id of printable ASCII, no duplicates. */
static int parse_compatible(const cJSON *item, const char *path, void *elem, size_t index,
			    const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	int rc = lp_json_elem_string(item, path, elem, index, spec, diag);

	if (rc < 0)
		return rc;
	for (const char *c = elem; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return lp_diag_fail_at(diag, -EBADMSG, path,
					       "character 0x%02x is not printable ASCII",
					       (unsigned char)*c);
	return 0;
}

/* payloads[i]: an object with a name no earlier payload has. */
static int parse_payload_elem(const cJSON *item, const char *path, void *elem, size_t index,
			      const struct lp_json_array_spec *spec, struct lp_diag *diag)
{
	struct lp_payload_info *pl = elem;
	char pn[LP_JSON_PATH_MAX];
	int rc;

	if (!cJSON_IsObject(item))
		return lp_diag_fail_at(diag, -EBADMSG, path, "expected an object");
	rc = parse_payload(item, path, pl, diag);
	if (rc < 0)
		return rc;
	for (size_t j = 0; j < index; j++)
		if (strcmp(pl[(ptrdiff_t)j - (ptrdiff_t)index].name, pl->name) == 0)
			return lp_diag_fail_at(diag, -EBADMSG,
					       lp_json_path_key(pn, sizeof(pn), path, "name"),
					       "duplicate payload name %s", pl->name);
	return 0;
}

static const struct lp_json_array_spec compatible_spec = {
	.key = "compatible", .min = 1, .max = LP_PKG_MAX_COMPATIBLE,
	.elem_size = LP_PKG_FIELD_MAX, .parse = parse_compatible, .ctx = LP_JSON_UNIQUE,
};

static const struct lp_json_array_spec payloads_spec = {
	.key = "payloads", .min = 1, .max = LP_PKG_MAX_PAYLOADS,
	.elem_size = sizeof(struct lp_payload_info), .parse = parse_payload_elem,
};

static int parse_root(const cJSON *root, struct lp_manifest *m, struct lp_diag *diag)
{
	const char *created = NULL;
	const cJSON *fmt;
	void *elems;
	int64_t t;
	int rc;

	if (!cJSON_IsObject(root))
		return lp_diag_fail_at(diag, -EBADMSG, "", "manifest must be a JSON object");
	/* Look at the format first, so a newer format is reported as such and not as a
	 * list of unknown keys. */
	fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (cJSON_IsNumber(fmt) && fmt->valuedouble != LP_PKG_FORMAT)
		return lp_diag_fail_at(diag, -EBADMSG, "format",
				       "unsupported package format %g (this reader knows format %d)",
				       fmt->valuedouble, LP_PKG_FORMAT);
	rc = json_err(lp_json_check(root, root_fields, LP_ARRAY_SIZE(root_fields), "", diag));
	if (rc < 0)
		return rc;
	m->format = LP_PKG_FORMAT;
	rc = get_text(root, "product", "", m->product, sizeof(m->product), diag);
	if (rc < 0)
		return rc;
	rc = get_version(root, "version", "", m->version, diag);
	if (rc < 0)
		return rc;
	rc = get_u64(root, "security_version", "", 0, LP_PKG_INT_MAX, &m->security_version, diag);
	if (rc < 0)
		return rc;

	rc = json_err(lp_json_get_array(root, "", &compatible_spec, &elems, &m->n_compatible, diag));
	if (rc < 0)
		return rc;
	m->compatible = elems;

	rc = lp_json_get_string(root, "created", true, "", &created, diag);
	if (rc < 0)
		return json_err(rc);
	if (strlen(created) >= sizeof(m->created) || lp_pkg_created_parse(created, &t) < 0)
		return lp_diag_fail_at(diag, -EBADMSG, "created",
				       "expected a UTC time YYYY-MM-DDTHH:MM:SSZ");
	memcpy(m->created, created, strlen(created) + 1);

	if (cJSON_GetObjectItemCaseSensitive(root, "min_agent_version")) {
		rc = get_version(root, "min_agent_version", "", m->min_agent_version, diag);
		if (rc < 0)
			return rc;
	}

	rc = json_err(lp_json_get_array(root, "", &payloads_spec, &elems, &m->n_payloads, diag));
	if (rc < 0)
		return rc;
	m->payloads = elems;
	return 0;
}

int lp_manifest_parse(const char *json, size_t len, struct lp_manifest **ret_manifest,
		      struct lp_diag *diag)
{
	struct lp_manifest *m = NULL;
	cJSON *root = NULL;
	int rc;

	if (len > LP_PKG_MANIFEST_MAX)
		return lp_diag_fail(diag, -E2BIG, "manifest.json: %zu bytes, more than the limit of %d",
				    len, LP_PKG_MANIFEST_MAX);
	rc = lp_json_parse(json, len, LP_PKG_MANIFEST_MAX, 8, &root, diag);
	if (rc < 0)
		return json_err(rc);
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	rc = parse_root(root, m, diag);
	if (rc < 0)
		goto out;
	*ret_manifest = m;
	m = NULL;
out:
	lp_manifest_free(m);
	cJSON_Delete(root);
	return rc;
}

/* ---- canonical output ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_raw(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) LP_PRINTF(2, 3);
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = true;
		return;
	}
	sb_put(b, tmp, (size_t)n);
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_raw(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			sb_put(b, esc, 2);
		} else if (c < 0x20) {
			sb_printf(b, "\\u%04x", c);
		} else {
			sb_put(b, s, 1);
		}
	}
	sb_raw(b, "\"");
}

static void sb_key_str(struct sbuf *b, const char *key, const char *val)
{
	sb_printf(b, "\"%s\":", key);
	sb_str(b, val);
}

static void sb_key_hex(struct sbuf *b, const char *key, const uint8_t h[32])
{
	char hex[65];

	lp_hex_encode(h, 32, hex);
	sb_key_str(b, key, hex);
}

char *lp_manifest_serialize(const struct lp_manifest *m)
{
	struct sbuf b = { 0 };

	sb_printf(&b, "{\"format\":%d,", m->format);
	sb_key_str(&b, "product", m->product);
	sb_raw(&b, ",");
	sb_key_str(&b, "version", m->version);
	sb_printf(&b, ",\"security_version\":%llu,\"compatible\":[",
		  (unsigned long long)m->security_version);
	for (size_t i = 0; i < m->n_compatible; i++) {
		if (i)
			sb_raw(&b, ",");
		sb_str(&b, m->compatible[i]);
	}
	sb_raw(&b, "],");
	sb_key_str(&b, "created", m->created);
	if (m->min_agent_version[0]) {
		sb_raw(&b, ",");
		sb_key_str(&b, "min_agent_version", m->min_agent_version);
	}
	sb_raw(&b, ",\"payloads\":[");
	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct lp_payload_info *pl = &m->payloads[i];

		sb_raw(&b, i ? ",{" : "{");
		sb_key_str(&b, "name", pl->name);
		sb_raw(&b, ",");
		sb_key_str(&b, "type", lp_payload_type_name(pl->type));
		sb_raw(&b, ",");
		sb_key_str(&b, "target", pl->target);
		sb_printf(&b, ",\"size\":%llu,", (unsigned long long)pl->size);
		sb_key_hex(&b, "sha256", pl->sha256);
		sb_printf(&b, ",\"stored_size\":%llu,", (unsigned long long)pl->stored_size);
		sb_key_hex(&b, "stored_sha256", pl->stored_sha256);
		sb_raw(&b, ",");
		sb_key_str(&b, "compression", lp_compression_name(pl->compression));
		if (pl->encryption.present) {
			char nonce[32];

			if (lp_base64_encode(pl->encryption.nonce, sizeof(pl->encryption.nonce), nonce,
					     sizeof(nonce)) < 0)
				b.oom = true;
			sb_raw(&b, ",\"encryption\":{");
			sb_key_str(&b, "alg", pl->encryption.alg);
			sb_raw(&b, ",");
			sb_key_str(&b, "key_id", pl->encryption.key_id);
			sb_printf(&b, ",\"chunk_size\":%u,", pl->encryption.chunk_size);
			sb_key_str(&b, "nonce", nonce);
			sb_raw(&b, "}");
		} else {
			sb_raw(&b, ",\"encryption\":null");
		}
		if (pl->delta.present) {
			sb_raw(&b, ",\"delta\":{");
			sb_key_str(&b, "algorithm", pl->delta.algorithm);
			sb_raw(&b, ",");
			sb_key_str(&b, "base_version", pl->delta.base_version);
			sb_raw(&b, ",");
			sb_key_hex(&b, "base_sha256", pl->delta.base_sha256);
			sb_printf(&b, ",\"base_size\":%llu}", (unsigned long long)pl->delta.base_size);
		} else {
			sb_raw(&b, ",\"delta\":null");
		}
		sb_raw(&b, "}");
	}
	sb_raw(&b, "]}");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- manifest.sig ---- */

static const struct lp_json_field sig_root_fields[] = {
	{ "signatures", LP_JSON_ARRAY, true },
};

static const struct lp_json_field sig_fields[] = {
	{ "keyid", LP_JSON_STRING, true },
	{ "alg", LP_JSON_STRING, true },
	{ "sig", LP_JSON_STRING, true },
};

int lp_pkg_sig_parse(const char *json, size_t len, struct lp_pkg_sigset *ret_set,
		     struct lp_diag *diag)
{
	static const char *const algs[] = { "ed25519", NULL };
	struct lp_pkg_sigset set = { 0 };
	cJSON *root = NULL;
	const cJSON *arr, *item;
	char p[LP_JSON_PATH_MAX], pk[LP_JSON_PATH_MAX];
	size_t n, i = 0;
	int rc, alg;

	if (len > LP_PKG_SIG_MAX)
		return lp_diag_fail(diag, -E2BIG, "manifest.sig: %zu bytes, more than the limit of %d",
				    len, LP_PKG_SIG_MAX);
	rc = lp_json_parse(json, len, LP_PKG_SIG_MAX, 4, &root, diag);
	if (rc < 0)
		return json_err(rc);
	if (!cJSON_IsObject(root)) {
		rc = lp_diag_fail_at(diag, -EBADMSG, "", "manifest.sig must be a JSON object");
		goto out;
	}
	rc = json_err(lp_json_check(root, sig_root_fields, LP_ARRAY_SIZE(sig_root_fields), "", diag));
	if (rc < 0)
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(root, "signatures");
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0) {
		rc = lp_diag_fail_at(diag, -EBADMSG, "signatures", "no signatures");
		goto out;
	}
	if (n > LP_PKG_MAX_SIGNATURES) {
		rc = lp_diag_fail_at(diag, -E2BIG, "signatures", "more than %d signatures",
				     LP_PKG_MAX_SIGNATURES);
		goto out;
	}
	cJSON_ArrayForEach(item, arr) {
		struct lp_pkg_signature *s = &set.sigs[i];
		const char *keyid = NULL, *sig = NULL;

		lp_json_path_index(p, sizeof(p), "signatures", i);
		if (!cJSON_IsObject(item)) {
			rc = lp_diag_fail_at(diag, -EBADMSG, p, "expected an object");
			goto out;
		}
		rc = json_err(lp_json_check(item, sig_fields, LP_ARRAY_SIZE(sig_fields), p, diag));
		if (rc < 0)
			goto out;
		rc = json_err(lp_json_get_enum(item, "alg", true, algs, p, &alg, diag));
		if (rc < 0)
			goto out;
		rc = json_err(lp_json_get_string(item, "keyid", true, p, &keyid, diag));
		if (rc < 0)
			goto out;
		lp_json_path_key(pk, sizeof(pk), p, "keyid");
		rc = -EBADMSG;
		if (!lp_pkg_keyid_valid(keyid)) {
			lp_diag_fail_at(diag, rc, pk, "expected %d lower-case hex digits", LP_KEYID_LEN);
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(set.sigs[j].keyid, keyid) == 0) {
				lp_diag_fail_at(diag, rc, pk, "second signature by key %s", keyid);
				goto out;
			}
		}
		memcpy(s->keyid, keyid, LP_KEYID_LEN + 1);
		rc = json_err(lp_json_get_string(item, "sig", true, p, &sig, diag));
		if (rc < 0)
			goto out;
		if (lp_base64_decode(sig, strlen(sig), s->sig, sizeof(s->sig)) != LP_ED25519_SIG_LEN) {
			rc = lp_diag_fail_at(diag, -EBADMSG, lp_json_path_key(pk, sizeof(pk), p, "sig"),
					     "expected the base64 of a %d-byte Ed25519 signature",
					     LP_ED25519_SIG_LEN);
			goto out;
		}
		i++;
	}
	set.n = i;
	*ret_set = set;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

char *lp_pkg_sig_serialize(const struct lp_pkg_sigset *set)
{
	struct sbuf b = { 0 };

	sb_raw(&b, "{\"signatures\":[");
	for (size_t i = 0; i < set->n; i++) {
		char sig[LP_ED25519_SIG_LEN * 2];

		if (lp_base64_encode(set->sigs[i].sig, LP_ED25519_SIG_LEN, sig, sizeof(sig)) < 0)
			b.oom = true;
		sb_raw(&b, i ? ",{" : "{");
		sb_key_str(&b, "keyid", set->sigs[i].keyid);
		sb_raw(&b, ",\"alg\":\"ed25519\",");
		sb_key_str(&b, "sig", sig);
		sb_raw(&b, "}");
	}
	sb_raw(&b, "]}");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* SPDX-License-Identifier: MIT */
/*
 * Private interfaces of loopline-backend (libloopline-backend.a). One section per file.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>

#include "loopline/diag.h"

#define BE_NAME_MAX 65          /* tenant names: [A-Za-z0-9_-]{1,64} */
#define BE_ID_MAX 129           /* controller ids: [A-Za-z0-9._:-]{1,128} */
#define BE_TOKEN_LEN 32         /* random alphanumeric characters of a secret */
#define BE_HASH_HEX 65          /* SHA-256 hex + NUL */
#define BE_PATH_MAX 4096
#define BE_UPLOAD_CHUNK_MAX (8u * 1024 * 1024)
#define BE_MAX_TAGS 64
#define BE_TAG_MAX 65

/* ---- config.c ---- */

enum be_client_cert { BE_CLIENT_CERT_OFF = 0, BE_CLIENT_CERT_OPTIONAL, BE_CLIENT_CERT_REQUIRED };

struct be_listen {
	bool enabled;
	char address[64];
	unsigned port; /* 0 = any free port (printed at start) */
};

struct be_config {
	char data_dir[BE_PATH_MAX];
	struct be_listen listen;     /* HTTPS */
	struct be_listen plain_http; /* HTTP, loopback only */
	char tls_cert[BE_PATH_MAX];
	char tls_key[BE_PATH_MAX];
	char tls_client_ca[BE_PATH_MAX];
	enum be_client_cert client_cert;
	unsigned workers;
	char https_base_url[512]; /* "" = from the request's Host header */
	char http_base_url[512];  /* "" = from the request's Host header on the plain listener */
	char artifact_base_url[512]; /* CDN mirroring the package dirs ("" = the backend) */
	unsigned poll_sleep_s;
	unsigned poll_min_sleep_s;
	unsigned poll_jitter_percent;
	size_t max_header_bytes;
	size_t max_body_bytes;
	size_t max_url_bytes;
	size_t max_json_bytes;
	unsigned max_json_depth;
	unsigned timeout_s;
	uint64_t max_upload_bytes;
	unsigned max_attributes;
	unsigned rate_limit_per_s; /* 0 = off */
	unsigned rate_limit_burst;
	unsigned last_seen_flush_s;
	unsigned shutdown_grace_s;
	bool log_requests;
	char log_level[16];
};

void be_config_defaults(struct be_config *c);
int be_config_load(const char *path, struct be_config *c, struct lp_diag *diag);
int be_config_parse(const char *text, size_t len, struct be_config *c, struct lp_diag *diag);

/* ---- token.c ---- */

/* Random [A-Za-z0-9] secret of BE_TOKEN_LEN characters. */
int be_token_random(char out[BE_TOKEN_LEN + 1]);
/* SHA-256 hex of a secret. */
int be_token_hash(const char *secret, size_t len, char out[BE_HASH_HEX]);
bool be_name_valid(const char *s);          /* tenant names */
bool be_controller_id_valid(const char *s); /* controller ids, tags */
bool be_filename_valid(const char *s);      /* artifact file names */

enum be_role { BE_ROLE_VIEWER = 0, BE_ROLE_CI, BE_ROLE_OPERATOR, BE_ROLE_ADMIN };
int be_role_parse(const char *s, enum be_role *ret);
const char *be_role_name(enum be_role r);

/* ---- store.c: one SQLite database per tenant ---- */

#define BE_SCHEMA_VERSION 1

struct be_store {
	sqlite3 *db;
	char tenant[BE_NAME_MAX];
	char dir[BE_PATH_MAX]; /* data_dir/tenants/NAME */
	sqlite3_stmt *st_device;     /* poll: device by controller id */
	sqlite3_stmt *st_active;     /* poll: oldest active action */
	sqlite3_stmt *st_installed;  /* poll: last finished action with a package */
	sqlite3_stmt *st_lastseen;   /* batched update */
	sqlite3_stmt *st_gateway;    /* gateway token hash */
	sqlite3_stmt *st_begin_read; /* "BEGIN" (deferred: a read transaction) */
	sqlite3_stmt *st_end_read;   /* "COMMIT" */
};

/* Opens (creating if create is true) and migrates the tenant database. */
int be_store_open(const char *data_dir, const char *tenant, bool create, struct be_store **ret);
void be_store_close(struct be_store *s);
bool be_store_exists(const char *data_dir, const char *tenant);
/* exec with no result; logs on failure; returns 0 or -EIO. */
int be_store_exec(struct be_store *s, const char *sql);
int be_store_prepare(struct be_store *s, const char *sql, sqlite3_stmt **ret);
int be_store_begin(struct be_store *s);
int be_store_commit(struct be_store *s);
void be_store_rollback(struct be_store *s);
int be_store_event(struct be_store *s, const char *type, const char *device, int64_t action,
		   const char *message);
int64_t be_now(void);
/* "data_dir/tenants/NAME/<sub>" into buf. */
int be_store_path(const struct be_store *s, const char *sub, char *buf, size_t len);

/* ---- tenant.c: CLI-side management ---- */

int be_tenant_create(const char *data_dir, const char *name);
int be_tenant_add_key(const char *data_dir, const char *name, const char *pem_path,
		      char ret_keyid[17], struct lp_diag *diag);
int be_tenant_gateway_token(const char *data_dir, const char *name, char ret_token[BE_TOKEN_LEN + 1]);
/* Writes "<tenant>.<secret>" into ret_token (size >= BE_NAME_MAX + BE_TOKEN_LEN + 2). */
int be_token_create(const char *data_dir, const char *tenant, enum be_role role, const char *label,
		    char *ret_token, size_t len);
/* Registers a device (or rotates its token when it exists and rotate is true). */
int be_device_create(struct be_store *s, const char *controller_id, bool rotate,
		     char ret_token[BE_TOKEN_LEN + 1]);
int be_tenant_list(const char *data_dir, char (*names)[BE_NAME_MAX], size_t max, size_t *ret_n);

/* ---- range.c: RFC 7233 Range header ---- */

#define BE_RANGE_MAX 16

struct be_range {
	uint64_t first, last; /* inclusive */
};

/* Parses "bytes=..." for a resource of length len. Returns the number of ranges (>= 1),
 * -EINVAL on a syntax error, -ERANGE when unsatisfiable or overlapping, -E2BIG for more
 * than BE_RANGE_MAX ranges. */
int be_range_parse(const char *header, uint64_t len, struct be_range *out, size_t max);
/* "bytes a-b/total" from Content-Range of an upload PUT. */
int be_content_range_parse(const char *header, uint64_t *ret_first, uint64_t *ret_last,
			   uint64_t *ret_total);

/* ---- ddi-body.c: DDI request bodies ---- */

enum be_exec { BE_EXEC_CLOSED = 0, BE_EXEC_PROCEEDING, BE_EXEC_CANCELED, BE_EXEC_SCHEDULED,
	       BE_EXEC_REJECTED, BE_EXEC_RESUMED, BE_EXEC_DOWNLOADED, BE_EXEC_DOWNLOAD };
enum be_finished { BE_FIN_SUCCESS = 0, BE_FIN_FAILURE, BE_FIN_NONE };

#define BE_DETAILS_MAX 50
#define BE_DETAIL_LEN 512

struct be_feedback {
	enum be_exec execution;
	enum be_finished finished;
	bool has_code;
	int64_t code;
	bool has_progress;
	int64_t cnt, of;
	int64_t timestamp_ms; /* 0 = not given */
	cJSON *details;       /* borrowed from root: array of strings or NULL */
	cJSON *root;          /* owned */
};

int be_feedback_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		      struct be_feedback *ret, struct lp_diag *diag);
void be_feedback_done(struct be_feedback *fb);
/* The resulting hawkBit action status for deployment or cancel feedback. */
const char *be_feedback_status(const struct be_feedback *fb, bool cancel, bool *ret_closes);

enum be_cfg_mode { BE_CFG_MERGE = 0, BE_CFG_REPLACE, BE_CFG_REMOVE };

struct be_configdata {
	enum be_cfg_mode mode;
	cJSON *data; /* borrowed: object of string values */
	cJSON *root;
};

int be_configdata_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			unsigned max_entries, struct be_configdata *ret, struct lp_diag *diag);
void be_configdata_done(struct be_configdata *cd);

/* ---- mgmt-body.c: management request bodies ---- */

struct be_deploy_req {
	int64_t package;     /* 0 = none */
	const char *command; /* configured action name or NULL */
	const cJSON *devices, *tags; /* arrays of validated ids (may be NULL) */
	int type;            /* index: forced, soft, download-only */
	bool has_window;
	int64_t start, end;
	cJSON *root;
};

int be_deploy_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			struct be_deploy_req *ret, struct lp_diag *diag);
void be_deploy_req_done(struct be_deploy_req *q);
const char *be_deploy_type_name(int type);

struct be_upload_req {
	const char *filename;
	int64_t size;
	bool opaque;
	const char *version, *part, *name; /* NULL if absent */
	cJSON *root;
};

int be_upload_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			struct be_upload_req *ret, struct lp_diag *diag);
void be_upload_req_done(struct be_upload_req *q);

struct be_device_req {
	const char *controller_id; /* NULL for a tags-only body */
	const cJSON *tags;         /* validated tag names, may be NULL */
	cJSON *root;
};

int be_device_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			struct be_device_req *ret, struct lp_diag *diag);
int be_tags_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		      struct be_device_req *ret, struct lp_diag *diag);
void be_device_req_done(struct be_device_req *q);

struct be_installed_req {
	const char *name, *version;
	cJSON *root;
};

int be_installed_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			   struct be_installed_req *ret, struct lp_diag *diag);
void be_installed_req_done(struct be_installed_req *q);

/* ---- server.c ---- */

struct be_server;
struct be_worker;

struct be_req {
	struct evhttp_request *req;
	struct be_worker *w;
	const struct be_config *cfg;
	int method;          /* enum evhttp_cmd_type */
	const char *method_name;
	char path[2048];     /* raw path */
	char *seg[16];       /* path segments (into segbuf) */
	size_t n_seg;
	char segbuf[2048];
	const char *query;   /* may be NULL */
	bool tls;
	char ip[64];
	int64_t start_us;
	int status;          /* set by the reply helpers */
	uint64_t bytes;
};

int be_server_run(const struct be_config *cfg);

/* Per-worker store cache (opened on first use). */
struct be_store *be_worker_store(struct be_worker *w, const char *tenant);
uint32_t be_worker_random(struct be_worker *w);
void be_worker_note_seen(struct be_worker *w, struct be_store *s, int64_t device_rowid,
			 const char *ip);

/* Reply helpers (http.c). */
void be_reply_empty(struct be_req *r, int status);
void be_reply_json(struct be_req *r, int status, cJSON *body); /* frees body */
void be_reply_error(struct be_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void be_reply_buffer(struct be_req *r, int status, const char *ctype, const void *data, size_t len);
const char *be_header(struct be_req *r, const char *name);
void be_add_header(struct be_req *r, const char *name, const char *value);
/* The body as a NUL-terminated copy (malloc'd) if at most max bytes; -E2BIG otherwise. */
int be_body(struct be_req *r, size_t max, char **ret, size_t *ret_len);
/* Query parameter (decoded) into buf; returns 1 if present, 0 if absent. */
int be_query(struct be_req *r, const char *key, char *buf, size_t len);
int be_query_int(struct be_req *r, const char *key, int64_t def, int64_t min, int64_t max,
		 int64_t *ret);
/* "https://host:port" for links of the given scheme, or "" if not served. */
void be_base_url(struct be_req *r, bool https, char *buf, size_t len);
void be_log_request(struct be_req *r);

/* ---- ddi.c / ddi-artifact.c ---- */

void be_ddi_handle(struct be_req *r);
void be_ddi_artifact(struct be_req *r, struct be_store *s, int64_t device_rowid, int64_t module,
		     const char *filename);

/* ---- mgmt*.c ---- */

void be_mgmt_handle(struct be_req *r);

struct be_mgmt {
	struct be_req *r;
	struct be_store *s;
	enum be_role role;
};

void be_mgmt_devices(struct be_mgmt *m);
void be_mgmt_uploads(struct be_mgmt *m);
void be_mgmt_packages(struct be_mgmt *m);
void be_mgmt_deployments(struct be_mgmt *m);
void be_mgmt_actions(struct be_mgmt *m);
void be_mgmt_events(struct be_mgmt *m);
/* Reads the body within the configured limits and parses it with a parser from
 * mgmt-body.c; replies 400/413 and returns <0 on error. */
int be_mgmt_body_with(struct be_mgmt *m, int (*parse)(const char *, size_t, size_t, unsigned,
						      void *, struct lp_diag *), void *ret);
/* offset/limit from the query; replies 400 on bad values. */
int be_mgmt_paging(struct be_mgmt *m, int64_t *ret_offset, int64_t *ret_limit);
cJSON *be_mgmt_page(cJSON *items, int64_t offset, int64_t limit, int64_t total);
cJSON *be_action_json(struct be_store *s, sqlite3_stmt *row, bool with_history);

/* SPDX-License-Identifier: MIT */
/*
 * Private interfaces of loopline-backend (libloopline-backend.a). One section per file or
 * group of files. Private to a group: store-internal.h (store*.c: the only place that sees
 * SQLite), server.h (server.c, dispatch.c), ddi.h (ddi*.c), mgmt.h (mgmt*.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "loopline/diag.h"

struct evbuffer;
struct evhttp_request;

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
	unsigned rollout_tick_ms;  /* how often the rollout engine looks at rollouts */
	unsigned shutdown_grace_s;
	bool log_requests;
	char log_level[16];
	struct {                   /* "alarms" (docs/alarms.md) */
		unsigned eval_interval_s;  /* how often rules are evaluated */
		unsigned retry_min_s;      /* first retry delay, doubled per attempt */
		unsigned retry_max_s;      /* … up to this */
		unsigned max_attempts;     /* then the delivery fails for good */
		unsigned max_age_s;        /* or when the alarm is this old */
		unsigned send_timeout_s;   /* one attempt */
	} alarms;
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

/* ---- range.c: RFC 9110 Range and Content-Range headers, byte range lists ---- */

#define BE_RANGE_MAX 16

struct be_range {
	uint64_t first, last; /* inclusive */
};

/* Parses "bytes=..." for a resource of length len. Returns the number of ranges (>= 1),
 * -EOPNOTSUPP for a range unit other than bytes (the header is then ignored), -EINVAL on
 * a syntax error, -ERANGE when unsatisfiable or overlapping, -E2BIG for more than
 * BE_RANGE_MAX ranges. */
int be_range_parse(const char *header, uint64_t len, struct be_range *out, size_t max);
/* "bytes a-b/total" from Content-Range of an upload PUT. */
int be_content_range_parse(const char *header, uint64_t *ret_first, uint64_t *ret_last,
			   uint64_t *ret_total);
/* Adds [first, last] to a sorted list of disjoint, non-adjacent ranges (*n of max),
 * merging what touches. -E2BIG (list unchanged) if the result needs more than max. */
int be_ranges_add(struct be_range *list, size_t *n, size_t max, uint64_t first, uint64_t last);
/* The number of bytes the list covers. */
uint64_t be_ranges_bytes(const struct be_range *list, size_t n);

/* ---- store*.c: the data layer, one SQLite database per tenant ----
 *
 * data_dir/tenants/NAME/ holds store.db (SQLite, WAL, versioned schema migrated at open),
 * packages/<sha256> (content-addressed package files), uploads/<id> (unfinished uploads)
 * and keys/NAME.pem (trusted signing keys). Nothing outside the store modules sees SQLite.
 *
 * Functions return 0 (or what they document) or a negative errno: -ENOENT for a missing
 * row, -EEXIST for a duplicate, -EIO (-EBUSY, -ENOMEM, -ENOSPC) when SQLite fails. The
 * store logs SQLite failures itself, once, with the database's message; callers map the
 * error to an answer without logging it again. Statements are prepared once per
 * connection and cached. Every write function is atomic; be_store_begin/commit group
 * several into one transaction (they nest). List functions call cb once per row (a
 * negative return stops the list and is returned) and set *ret_total to the number of
 * rows matching the filter, ignoring paging.
 */

#define BE_SCHEMA_VERSION 5
#define BE_TEXT_MAX 129            /* names, versions, parts, commands: at most 128 bytes */
#define BE_FILENAME_MAX 256
#define BE_IP_MAX 64
#define BE_UPLOAD_RANGES_MAX 1024  /* separate byte ranges of one unfinished upload */
#define BE_MESSAGES_MAX 64         /* messages of one status history entry */

struct be_store;

struct be_page {
	int64_t offset, limit;
};

/* Opens (creating if create is true) and migrates the tenant database. */
int be_store_open(const char *data_dir, const char *tenant, bool create, struct be_store **ret);
void be_store_close(struct be_store *s); /* accepts NULL */
bool be_store_exists(const char *data_dir, const char *tenant);
const char *be_store_tenant(const struct be_store *s);
/* "data_dir/tenants/NAME/<sub>" into buf. */
int be_store_path(const struct be_store *s, const char *sub, char *buf, size_t len);
/* Write transactions; nested calls become savepoints. */
int be_store_begin(struct be_store *s);
int be_store_commit(struct be_store *s);
void be_store_rollback(struct be_store *s);
/* A read transaction around several reads (one WAL snapshot, one lock); best effort. */
int be_store_read_begin(struct be_store *s);
void be_store_read_end(struct be_store *s);
int64_t be_now(void);
/* Process-wide SQLite settings for a server with many threads; call before any open. */
void be_store_tune_global(void);

/* store-tokens.c: API tokens and the tenant's DDI gateway token, stored as hashes. */
int be_store_token_add(struct be_store *s, const char *hash, enum be_role role, const char *label);
int be_store_token_role(struct be_store *s, const char *hash, enum be_role *ret);
/* Who a token is, for records: its label, or "token-ID". */
int be_store_token_who(struct be_store *s, const char *hash, char *buf, size_t len);
/* The tenant's release approval: operator (the default) or auto. */
int be_store_approval_set(struct be_store *s, bool operator);
int be_store_approval_operator(struct be_store *s, bool *ret);
int be_store_gateway_set(struct be_store *s, const char *hash);
/* -ENOENT when the tenant has no gateway token. */
int be_store_gateway_hash(struct be_store *s, char ret[BE_HASH_HEX]);

/* store-devices.c */
struct be_device {
	int64_t id;                         /* row id */
	char controller_id[BE_ID_MAX];
	int64_t created, last_seen;         /* Unix seconds, 0 = never seen */
	char last_ip[BE_IP_MAX];
	char installed_name[BE_TEXT_MAX], installed_version[BE_TEXT_MAX];
	bool request_attributes;
};

/* What the DDI authentication of a poll needs. */
struct be_device_auth {
	int64_t id;
	char token_hash[BE_HASH_HEX];       /* "" when the device has no token */
	bool request_attributes;
};

struct be_device_filter {
	const char *tag;      /* NULL = any */
	const char *text;     /* substring of the controller id, NULL = any */
	const char *version;  /* installed version, NULL = any */
};

struct be_attribute {
	const char *key, *value;
};

enum be_attr_mode { BE_ATTR_MERGE = 0, BE_ATTR_REPLACE, BE_ATTR_REMOVE };

int be_store_device_auth(struct be_store *s, const char *cid, struct be_device_auth *ret);
int be_store_device_id(struct be_store *s, const char *cid, int64_t *ret_id);
int be_store_device_get(struct be_store *s, const char *cid, struct be_device *ret);
int be_store_devices_list(struct be_store *s, const struct be_device_filter *f,
			  const struct be_page *p, int (*cb)(void *ctx, const struct be_device *d),
			  void *ctx, int64_t *ret_total);
int be_store_device_tags(struct be_store *s, int64_t device,
			 int (*cb)(void *ctx, const char *tag), void *ctx);
int be_store_device_attributes(struct be_store *s, int64_t device,
			       int (*cb)(void *ctx, const char *key, const char *value), void *ctx);
/* Registers a device with a token (hash) and tags; with rotate an existing device gets the
 * new token instead (-EEXIST without). */
int be_store_device_create(struct be_store *s, const char *cid, const char *token_hash,
			   bool rotate, const char *const *tags, size_t n_tags);
/* A device first seen on a poll authenticated by a gateway token or certificate. */
int be_store_device_register(struct be_store *s, const char *cid, int64_t *ret_id);
int be_store_device_retag(struct be_store *s, int64_t device, const char *cid,
			  const char *const *tags, size_t n_tags);
int be_store_device_request_attributes(struct be_store *s, int64_t device);
/* configData: -E2BIG (nothing stored) when the device would have more than max. */
int be_store_device_set_attributes(struct be_store *s, int64_t device, enum be_attr_mode mode,
				   const struct be_attribute *attrs, size_t n, unsigned max);
/* PUT installedBase; *ret_changed tells whether name or version changed. */
int be_store_device_set_installed(struct be_store *s, int64_t device, const char *name,
				  const char *version, bool *ret_changed);
/* A batched last-seen time; an older time never overwrites a newer one. */
int be_store_device_seen(struct be_store *s, int64_t device, int64_t time, const char *ip);

/* Firmware versions devices run: the installed version the backend recorded (finished
 * action, PUT installedBase), else the "version" attribute the device reported in
 * configData. Devices with neither are not counted. */
struct be_firmware_filter {
	const char *compatible; /* attribute hardware_id or compatible, NULL = any */
	const char *tag;        /* NULL = any */
};

struct be_firmware_use {
	const char *version;
	int64_t devices;
	int64_t last_seen;      /* the newest last-seen time of those devices */
};

int be_store_firmware_in_use(struct be_store *s, const struct be_firmware_filter *f,
			     const struct be_page *p,
			     int (*cb)(void *ctx, const struct be_firmware_use *u), void *ctx,
			     int64_t *ret_total);

/* store-actions.c */
struct be_action {
	int64_t id;
	int64_t device;                 /* row id */
	char device_cid[BE_ID_MAX];     /* "" from be_store_action_open */
	int64_t package;                /* 0 = a configured action */
	int64_t offered;                /* the package deploymentBase offered: package, or a
					 * delta of it for the device's running version (0: not yet) */
	char command[BE_TEXT_MAX];      /* configured action name, "" for packages */
	char type[16];                  /* forced, soft, download-only */
	char status[32];                /* RUNNING, RETRIEVED, …, FINISHED, ERROR, CANCELED */
	bool active;
	bool maint;                     /* has a maintenance window */
	int64_t maint_start, maint_end;
	int64_t created, updated;
};

struct be_status_entry {
	int64_t time;
	const char *status;
	bool has_code;
	int64_t code;
	const char *const *messages;
	size_t n_messages;
};

/* A change of an open action: one status history entry, the action's new status, and
 * optionally the device's installed version and an event. */
struct be_action_change {
	struct be_status_entry entry;
	const char *new_status;     /* the action's status afterwards (NULL: entry.status) */
	bool closes;
	bool installs;              /* the device now runs the action's package */
	const char *event;          /* event type, NULL = none */
	const char *event_message;
	unsigned max_history;       /* -EDQUOT when the action has this many entries (0 = no limit) */
};

struct be_action_filter {
	const char *device;         /* controller id, NULL = any */
	int64_t device_id;          /* row id, 0 = any */
	int active;                 /* -1 any, 0 closed, 1 open */
};

struct be_deployment {
	int64_t package;            /* 0 = configured action */
	const char *command;
	const char *type;
	bool has_window;
	int64_t window_start, window_end;
	const char *const *devices; /* must exist */
	size_t n_devices;
	const char *const *tags;
	size_t n_tags;
	size_t max_targets;         /* -E2BIG beyond */
};

/* The oldest open action of a device (the poll). -ENOENT if none. */
int be_store_action_open(struct be_store *s, int64_t device, struct be_action *ret);
/* The newest finished package action of a device (installedBase). -ENOENT if none. */
int be_store_action_installed(struct be_store *s, int64_t device, int64_t *ret_id);
/* device 0: any device. -ENOENT if it does not exist or is another device's. */
int be_store_action_get(struct be_store *s, int64_t device, int64_t id, struct be_action *ret);
int be_store_actions_list(struct be_store *s, const struct be_action_filter *f,
			  const struct be_page *p, int (*cb)(void *ctx, const struct be_action *a),
			  void *ctx, int64_t *ret_total);
/* limit < 0: all entries. */
int be_store_action_history(struct be_store *s, int64_t action, bool newest_first, int64_t limit,
			    int (*cb)(void *ctx, const struct be_status_entry *e), void *ctx);
/* -ESTALE (nothing stored) when the action is closed already. */
int be_store_action_change(struct be_store *s, const struct be_action *a,
			   const struct be_action_change *c);
/* Asks the device to cancel its open actions (all, or only_action): they become CANCELING. */
int be_store_action_cancel(struct be_store *s, int64_t device, int64_t only_action, const char *why);
/* Targets: the listed devices (-ENOENT naming the first missing one in ret_missing) plus
 * every device with one of the tags; each device's open actions are canceled first. cb
 * gets each new action (ordered by controller id). */
int be_store_deploy(struct be_store *s, const struct be_deployment *d,
		    int (*cb)(void *ctx, int64_t action, const char *cid), void *ctx,
		    char ret_missing[BE_ID_MAX]);
/* A device downloads a package of one of its open actions: a DOWNLOAD history entry. */
int be_store_action_download(struct be_store *s, int64_t device, int64_t package, const char *what);
/* Whether one of the device's actions uses or was offered the package (1) or not (0). */
int be_store_package_visible(struct be_store *s, int64_t device, int64_t package);
/* The package to offer for an open package action (deploymentBase): a delta package of
 * the same release whose base is the version the device reports running (configData
 * "version", else the installed version), unless that delta failed on this device before;
 * else the action's package. Records it in the action (a->offered too). */
int be_store_action_offer(struct be_store *s, struct be_action *a, int64_t *ret_package);

/* store-packages.c and store-uploads.c */
struct be_package {
	int64_t id;
	char kind[8];                   /* lpkg, opaque */
	char name[BE_TEXT_MAX], version[BE_TEXT_MAX], part[BE_TEXT_MAX];
	char filename[BE_FILENAME_MAX];
	uint64_t size;
	char sha256[65], sha1[41], md5[33];
	int64_t created;
	char *manifest;                 /* JSON text (lpkg) or NULL; the caller frees it */
	char delta_base[BE_TEXT_MAX];   /* a delta package: the version it patches ("" full) */
	char delta_base_sha256[65];     /* … and that version's image hash */
};

struct be_upload {
	char id[BE_TOKEN_LEN + 1];
	char filename[BE_FILENAME_MAX];
	uint64_t size;
	bool opaque;
	char version[BE_TEXT_MAX], part[BE_TEXT_MAX], name[BE_TEXT_MAX];
	size_t n_ranges;                /* received byte ranges, sorted and merged */
	struct be_range ranges[BE_UPLOAD_RANGES_MAX];
};

/* with_manifest: also read the manifest (ret->manifest, malloc'd). */
int be_store_package_get(struct be_store *s, int64_t id, bool with_manifest,
			 struct be_package *ret);
int be_store_packages_list(struct be_store *s, const struct be_page *p,
			   int (*cb)(void *ctx, const struct be_package *pkg), void *ctx,
			   int64_t *ret_total);
/* Opens packages/<sha256> read-only; checks its size. */
int be_store_package_open(struct be_store *s, const struct be_package *p, int *ret_fd);
/* Moves the finished upload's file to packages/<sha256>, adds the package (pkg->id is
 * ignored) and forgets the upload; *ret_id is the new package's id. */
int be_store_package_add(struct be_store *s, const struct be_upload *u,
			 const struct be_package *pkg, int64_t *ret_id);

/* Creates the upload's row and its (sparse) file of u->size bytes; u->id is chosen here. */
int be_store_upload_create(struct be_store *s, struct be_upload *u);
int be_store_upload_get(struct be_store *s, const char *id, struct be_upload *ret);
int be_store_uploads_list(struct be_store *s, const char *filename, const struct be_page *p,
			  int (*cb)(void *ctx, const struct be_upload *u), void *ctx,
			  int64_t *ret_total);
/* Opens the upload's file (O_RDONLY or O_WRONLY). */
int be_store_upload_open(struct be_store *s, const struct be_upload *u, int flags, int *ret_fd);
int be_store_upload_set_ranges(struct be_store *s, const struct be_upload *u);
/* Removes the row and the file. */
int be_store_upload_delete(struct be_store *s, const struct be_upload *u);

/* store-events.c */
struct be_event {
	int64_t id, time;
	const char *type;
	const char *device;             /* NULL = none */
	int64_t action;                 /* 0 = none */
	const char *message;
};

int be_store_event(struct be_store *s, const char *type, const char *device, int64_t action,
		   const char *message);
int be_store_events_list(struct be_store *s, int64_t after, const char *type,
			 const struct be_page *p, int (*cb)(void *ctx, const struct be_event *e),
			 void *ctx, int64_t *ret_total);

/* store-releases.c: a version and its packages on its way to the fleet */
#define BE_RELEASE_PACKAGES_MAX 16
#define BE_REASON_MAX 513

struct be_gate_result {            /* what `loopline-matrix gate --post` sends */
	char decision[16];             /* pass, fail, untested, … */
	int64_t run;
	char summary[BE_REASON_MAX];
	char spec_sha256[BE_HASH_HEX];
	char report[BE_REASON_MAX];    /* a link to the run's report ("" if none) */
	int64_t passed, failed;        /* required cases */
};

struct be_release {
	int64_t id, created, updated;
	char version[BE_TEXT_MAX];
	char state[16];                /* built, gate-passed, approved, rolling-out, done,
					* paused, cancelled */
	bool has_gate;
	struct be_gate_result gate;
	int64_t gate_time;
	char approved_by[BE_TEXT_MAX]; /* "" : not approved; "auto" for approval: auto */
	int64_t approved_time;
	char override_reason[BE_REASON_MAX]; /* approved although the gate did not pass */
	int64_t packages[BE_RELEASE_PACKAGES_MAX];
	size_t n_packages;
};

/* -EEXIST: the version exists; -ENOENT: a package does not. */
int be_store_release_create(struct be_store *s, const char *version, const int64_t *packages,
			    size_t n_packages, struct be_release *ret);
int be_store_release_get(struct be_store *s, const char *version, struct be_release *ret);
int be_store_releases_list(struct be_store *s, const struct be_page *p,
			   int (*cb)(void *ctx, const struct be_release *rel), void *ctx,
			   int64_t *ret_total);
/* Records a gate result; "pass" moves a built release to gate-passed, and with
 * auto_approve on to approved (by "auto"). -EALREADY once it is approved or later. */
int be_store_release_gate(struct be_store *s, const char *version, const struct be_gate_result *g,
			  bool auto_approve, struct be_release *ret);
/* Approves a gate-passed release; a built one only with an override reason (recorded).
 * -EPERM: the gate did not pass and no reason; -EALREADY: approved or later. */
int be_store_release_approve(struct be_store *s, const char *version, const char *who,
			     const char *override_reason, struct be_release *ret);

/* store-rollouts.c: a release rolled out to the devices a target selects, in waves
 * (docs/rollouts.md). The engine (rollout.c) moves rollouts on; the store keeps what it
 * needs to continue after a restart at exactly the same point. */
#define BE_WAVES_MAX 10
#define BE_TARGET_TAGS_MAX 8
#define BE_TARGET_ATTRS_MAX 8

struct be_rollout_target {
	bool all;                                  /* every device of the tenant */
	char tags[BE_TARGET_TAGS_MAX][BE_TAG_MAX]; /* any of them */
	size_t n_tags;
	struct {
		char key[BE_TEXT_MAX];
		char pattern[BE_TEXT_MAX];         /* fnmatch(3) glob over the value */
	} attrs[BE_TARGET_ATTRS_MAX];              /* all of them */
	size_t n_attrs;
};

struct be_rollout_spec {                           /* what an operator asks for */
	char release[BE_TEXT_MAX];
	char name[BE_TEXT_MAX];
	struct be_rollout_target target;
	unsigned waves[BE_WAVES_MAX];              /* cumulative percentages, the last 100 */
	size_t n_waves;
	int64_t soak_s;                            /* minimum time a wave runs */
	unsigned success_pct, error_pct;           /* thresholds per wave */
	int64_t seed;
	int type;                                  /* be_deploy_type_name(): forced, soft, … */
	bool has_window;                           /* a daily maintenance window, UTC */
	unsigned window_start_min, window_minutes;
};

struct be_rollout {
	int64_t id, release_id, created, updated;
	struct be_rollout_spec spec;
	char state[20];         /* waiting-approval, running, paused, done, cancelled */
	int wave;               /* the current wave (0-based); -1 before the start */
	int64_t wave_started;   /* when the current wave started */
	int64_t errors_acked;   /* failures of the current wave an operator resumed past */
	char reason[BE_REASON_MAX]; /* why it paused or was cancelled */
	char created_by[BE_TEXT_MAX];
};

struct be_wave_counts {
	int64_t size;           /* members */
	int64_t assigned;       /* have an action */
	int64_t skipped;        /* ran the release's version already (count as success) */
	int64_t success, failed, canceled;
	int64_t running;        /* assigned, not closed */
};

/* The rollout's counts per wave (out[0..n_waves-1], zeroed first). */
int be_store_rollout_counts(struct be_store *s, const struct be_rollout *ro,
			    struct be_wave_counts *out);
/* -ENOENT: no such release; -EPERM: its gate did not pass (and no override approval);
 * -EBUSY: the release has an unfinished rollout. */
int be_store_rollout_create(struct be_store *s, const struct be_rollout_spec *spec,
			    const char *who, struct be_rollout *ret);
int be_store_rollout_get(struct be_store *s, int64_t id, struct be_rollout *ret);
int be_store_rollouts_list(struct be_store *s, const char *state, const struct be_page *p,
			   int (*cb)(void *ctx, const struct be_rollout *ro), void *ctx,
			   int64_t *ret_total);
/* The ids of unfinished rollouts (waiting-approval, running, paused), oldest first. */
int be_store_rollouts_active(struct be_store *s, int64_t *ids, size_t max, size_t *ret_n);

struct be_rollout_member {
	const char *cid;
	int wave;
	int64_t action;         /* 0 = none yet */
	const char *status;     /* the action's status, "SKIPPED" or "PENDING" */
	int64_t joined;
};

/* wave < 0: all waves. */
int be_store_rollout_devices(struct be_store *s, int64_t id, int wave, const struct be_page *p,
			     int (*cb)(void *ctx, const struct be_rollout_member *mb), void *ctx,
			     int64_t *ret_total);

enum be_rollout_op { BE_ROLLOUT_PAUSE, BE_ROLLOUT_RESUME, BE_ROLLOUT_CANCEL };
/* An operator's pause, resume or cancel. -EALREADY: not possible in the current state. */
int be_store_rollout_control(struct be_store *s, int64_t id, enum be_rollout_op op,
			     const char *who, const char *reason, struct be_rollout *ret);

/* The engine's steps, each one transaction (rollout.c decides which to take). */
/* Starts a rollout whose release is approved: cuts the matching devices into waves. */
int be_store_rollout_start(struct be_store *s, int64_t id, int64_t now);
/* Adds devices that match now and are not members yet (late joiners). */
int be_store_rollout_join(struct be_store *s, int64_t id, int64_t now, size_t *ret_n);
/* Gives every member of waves up to the current one its action (max per call; 0 = all). */
int be_store_rollout_assign(struct be_store *s, int64_t id, int64_t now, size_t max,
			    size_t *ret_n);
/* Moves the rollout (and its release) to a new state or wave, with an event. */
int be_store_rollout_advance(struct be_store *s, int64_t id, int to_wave, int64_t now,
			     const char *msg);
int be_store_rollout_set_state(struct be_store *s, int64_t id, const char *state,
			       const char *event, const char *reason);

/* rollout.c: the rollout engine. */
enum be_rollout_decision { BE_RO_STAY = 0, BE_RO_ADVANCE, BE_RO_PAUSE, BE_RO_DONE };

/* What a running rollout does next, given the current wave's counts (a pure function).
 * why (may be NULL) receives the reason for a pause or an advance. */
enum be_rollout_decision be_rollout_decide(const struct be_rollout *ro,
					   const struct be_wave_counts *cur, int64_t now,
					   char *why, size_t why_len);
/* Whether now lies in the rollout's daily maintenance window; *ret_end gets the window's
 * end (true) or the next start (false). Always true without a window. */
bool be_rollout_window(const struct be_rollout_spec *sp, int64_t now, int64_t *ret_edge);
/* Seeded, reproducible rank of a device in a rollout (not its registration order). */
uint64_t be_rollout_rank(int64_t seed, const char *cid);
/* One pass over a tenant's unfinished rollouts. */
int be_rollout_tick(struct be_store *s, int64_t now);

/* ---- ticker.c: background work over every tenant ---- */

/* A thread that calls fn(store, now, ctx) for every tenant every interval_ms, with its own
 * store connections (tenants created while it runs are picked up). Errors are logged by
 * the ticker (once per tenant until the tick succeeds again). */
struct be_ticker;
typedef int (*be_tick_fn)(struct be_store *s, int64_t now, void *ctx);

int be_ticker_start(const char *data_dir, const char *name, unsigned interval_ms, be_tick_fn fn,
		    void *ctx, struct be_ticker **ret);
void be_ticker_stop(struct be_ticker *t); /* NULL is fine */

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
		     const char *const *tags, size_t n_tags, char ret_token[BE_TOKEN_LEN + 1]);
/* Registers a device with a token made elsewhere (factory provisioning, a test lab's
 * snapshot): BE_TOKEN_LEN characters of A-Z a-z 0-9, else -EBADMSG. */
int be_device_create_with_token(struct be_store *s, const char *controller_id, bool rotate,
				const char *token);
/* The tenants of data_dir, sorted by name (at most max). */
int be_tenant_list(const char *data_dir, char (*names)[BE_NAME_MAX], size_t max, size_t *ret_n);

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

struct be_configdata {
	enum be_attr_mode mode;
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

struct be_release_req {            /* POST /api/v1/releases */
	char version[BE_TEXT_MAX];
	int64_t packages[BE_RELEASE_PACKAGES_MAX];
	size_t n_packages;
};

struct be_approve_req {            /* POST /api/v1/releases/V/approve */
	char override_reason[BE_REASON_MAX];
};

int be_release_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_release_req *ret, struct lp_diag *diag);
int be_gate_result_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_gate_result *ret, struct lp_diag *diag);
int be_approve_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_approve_req *ret, struct lp_diag *diag);
bool be_release_version_valid(const char *v);
/* A body {KEY?: "text"} (nothing else) whose text goes to buf ("" when absent). */
int be_reason_body_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 const char *key, char *buf, size_t size, struct lp_diag *diag);

/* mgmt-rollout-body.c: POST /api/v1/rollouts and /rollouts/ID/pause|resume|cancel */
struct be_rollout_control_req {
	char reason[BE_REASON_MAX];
};

int be_rollout_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_rollout_spec *ret, struct lp_diag *diag);
int be_rollout_control_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			     struct be_rollout_control_req *ret, struct lp_diag *diag);
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

/* ---- server.c, dispatch.c, ratelimit.c, lastseen.c: the server ---- */

struct be_worker;

/* One request, as the handlers see it. */
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
	char ip[BE_IP_MAX];
	uint64_t start_us;    /* lp_clock_mono_us() when the request arrived */
	int status;          /* set by the reply helpers */
	uint64_t bytes;
};

/* Runs until SIGTERM or SIGINT, then stops gracefully. */
int be_server_run(const struct be_config *cfg);

/* The worker's connection to a tenant's store (opened on first use); NULL if the tenant
 * does not exist. */
struct be_store *be_worker_store(struct be_worker *w, const char *tenant);
uint32_t be_worker_random(struct be_worker *w);
/* Notes a poll for the batched last-seen write. */
void be_worker_note_seen(struct be_worker *w, struct be_store *s, int64_t device, const char *ip);

/* Splits r->path into r->seg; -EINVAL for an empty or escaped segment, -E2BIG for too many. */
int be_split_path(struct be_req *r);

/* Per-client-address token buckets, shared by all workers (striped locks). */
struct be_ratelimit;

int be_ratelimit_new(unsigned per_s, unsigned burst, struct be_ratelimit **ret);
void be_ratelimit_free(struct be_ratelimit *rl);
/* Whether a request from ip at monotonic time now_us may proceed (and counts it). */
bool be_ratelimit_allow(struct be_ratelimit *rl, const char *ip, uint64_t now_us);

/* Last-seen times: each worker collects them per tenant in a map; the maps are handed to
 * one writer thread, which writes each in one transaction. Polls never wait for a write. */
struct be_seen {
	int64_t device; /* 0 = empty slot */
	int64_t time;
	char ip[46];
};

struct be_seen_map {
	struct be_seen *slot;
	size_t cap, n;
};

struct be_seen_writer;

/* Records (or refreshes) a device's time; best effort: -ENOMEM drops it. */
int be_seen_note(struct be_seen_map *m, int64_t device, int64_t time, const char *ip);
void be_seen_map_clear(struct be_seen_map *m);
/* Writes a map's entries in one transaction. */
int be_seen_write(struct be_store *s, const struct be_seen_map *m);
int be_seen_writer_start(const char *data_dir, struct be_seen_writer **ret);
/* Moves the map's entries (the map is left empty) to the writer's queue. */
void be_seen_hand_over(struct be_seen_writer *wr, const char *tenant, struct be_seen_map *m);
/* Writes what is queued, then ends the thread and frees the writer (NULL is fine). */
void be_seen_writer_stop(struct be_seen_writer *wr);

/* ---- http.c: reply and request helpers shared by the DDI and management handlers ---- */

/* Every reply goes through here. A HEAD request gets the headers, a Content-Length of
 * the body it would have had, and no body. body may be NULL. */
void be_reply(struct be_req *r, int status, struct evbuffer *body);
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

/* ---- ddi*.c: the hawkBit DDI device API ---- */

void be_ddi_handle(struct be_req *r);

/* ---- mgmt*.c: the management API ---- */

void be_mgmt_handle(struct be_req *r);

/* ---- alarms (docs/alarms.md): rules over the event log fan out to channels through a
 * persistent outbox. alarm-match.c: the rule kinds as pure functions; alarm-body.c: the
 * management bodies and channel configurations (strict); store-alarms.c: the SQL;
 * alarm-send.c: one send per channel kind (libcurl); alarms.c: the evaluator and
 * delivery threads. ---- */

#define BE_ALARM_TITLE_MAX 256
#define BE_ALARM_TEXT_MAX 1024
#define BE_ALARM_URL_MAX 512
#define BE_ALARM_ADDR_MAX 256
#define BE_ALARM_SECRET_MAX 256
#define BE_ALARM_TO_MAX 8             /* recipients of an smtp channel */
#define BE_ALARM_RULE_CHANNELS_MAX 16
#define BE_ALARM_RULES_MAX 256        /* rules of a tenant */
#define BE_ALARM_DEDUPE_DEFAULT 3600

enum be_channel_kind { BE_CHANNEL_TELEGRAM = 0, BE_CHANNEL_SMTP, BE_CHANNEL_WEBHOOK };
enum be_alarm_kind {
	BE_ALARM_UPDATE_FAILED = 0, BE_ALARM_ROLLBACK, BE_ALARM_ROLLOUT_PAUSED, BE_ALARM_ROLLOUT_DONE,
	BE_ALARM_DEVICE_SILENT, BE_ALARM_BOOT_FAILURES,
};

extern const char *const be_channel_kinds[]; /* NULL-terminated, in enum order */
extern const char *const be_alarm_kinds[];

/* A channel's configuration. secret is the kind's secret (telegram bot_token, smtp
 * password, webhook key): stored, never returned by the API and never logged. */
struct be_channel_config {
	char url[BE_ALARM_URL_MAX];       /* smtp: smtp://host:port; webhook: https://… */
	char base_url[BE_ALARM_URL_MAX];  /* telegram ("" = https://api.telegram.org) */
	char chat_id[BE_TEXT_MAX];        /* telegram */
	char username[BE_TEXT_MAX];       /* smtp, "" = no login */
	char from[BE_ALARM_ADDR_MAX];     /* smtp */
	char to[BE_ALARM_TO_MAX][BE_ALARM_ADDR_MAX];
	size_t n_to;
	char secret[BE_ALARM_SECRET_MAX];
	char cacert[BE_PATH_MAX];         /* CA bundle for this channel, "" = the system's */
};

struct be_alarm_channel {
	int64_t id, created;
	char name[BE_TEXT_MAX];
	enum be_channel_kind kind;
	bool enabled;
	struct be_channel_config config;
};

struct be_alarm_rule {
	int64_t id, created;
	char name[BE_TEXT_MAX];
	enum be_alarm_kind kind;
	int64_t intervals;                /* device_silent: poll intervals (default 3) */
	int64_t count, window_s;          /* boot_failures: fallbacks within window_s */
	int64_t dedupe_s;
	bool enabled;
	size_t n_channels;
	int64_t channels[BE_ALARM_RULE_CHANNELS_MAX];
	char channel_names[BE_ALARM_RULE_CHANNELS_MAX][BE_TEXT_MAX];
};

/* An alarm to raise: what be_alarm_match (or the engine) found. */
struct be_alarm_hit {
	const char *level;                /* error, warning, info */
	char device[BE_ID_MAX];           /* "" = none */
	char rollout[BE_TEXT_MAX];        /* "rollout 3 (release 1.1.0)", "" = none */
	char title[BE_ALARM_TITLE_MAX];
	char text[BE_ALARM_TEXT_MAX];
	char key[BE_ALARM_TITLE_MAX + BE_ID_MAX]; /* dedupe key: same key within dedupe_s = suppressed */
	int64_t event;                    /* the event it came from, 0 = none */
};

/* A raised alarm (list callbacks: strings valid during the call). */
struct be_alarm {
	int64_t id, time, rule_id, event;
	const char *rule, *kind, *level, *device, *rollout, *title, *text; /* device, rollout: NULL = none */
	bool suppressed;
};

struct be_alarm_delivery {
	const char *channel, *state, *last_error; /* state: pending, sent, failed */
	int64_t channel_id, attempts, next_attempt, sent_time;
};

/* One outbox row due for delivery, with its alarm and channel (copies). */
struct be_outbox_item {
	int64_t id, attempts, alarm_id, alarm_time;
	char rule[BE_TEXT_MAX], kind[32], level[16], device[BE_ID_MAX], rollout[BE_TEXT_MAX];
	char title[BE_ALARM_TITLE_MAX], text[BE_ALARM_TEXT_MAX];
	struct be_alarm_channel channel;
};

/* alarm-match.c */
enum be_rollback { BE_ROLLBACK_NONE = 0, BE_ROLLBACK_HEALTH, BE_ROLLBACK_BOOT };
/* Whether an agent's first failure detail reports a rollback: "rolled back to slot A
 * (version 1.0.0): <health check output>" (health) or "slot B with version 1.1.0 did not
 * come up: the bootloader fell back to slot A" (boot). reason (may be NULL) gets what the
 * agent gave as the reason. */
enum be_rollback be_alarm_rollback(const char *message, char *reason, size_t len);
/* Whether an event raises an alarm of a rule kind (device_silent never does: it is
 * evaluated from last-seen times; boot_failures matches each boot fallback, the engine
 * then counts them). Fills ret: level, device, rollout, title, text, key (rule_id:…). */
bool be_alarm_match(enum be_alarm_kind kind, int64_t rule_id, const struct be_event *e,
		    struct be_alarm_hit *ret);

/* alarm-body.c: strict bodies of the alarm endpoints (unknown keys are errors). */
struct be_channel_req {            /* POST /alarm-channels, PATCH /alarm-channels/ID */
	char name[BE_TEXT_MAX];        /* "" = not given (PATCH) */
	int kind;                      /* -1 = not given (PATCH) */
	int enabled;                   /* -1 = not given */
	bool has_config;
	bool has_secret;               /* the config carried the secret (else PATCH keeps it) */
	struct be_channel_config config;
	cJSON *config_json;            /* owned when has_config: checked per kind by the caller */
};

struct be_rule_req {               /* POST /alarm-rules */
	struct be_alarm_rule rule;     /* channel_names filled, channels (ids) not */
};

int be_channel_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
			 struct be_channel_req *ret, struct lp_diag *diag);
void be_channel_req_done(struct be_channel_req *q);
/* A channel configuration of a kind (the API's "config" object, or the store's copy):
 * strict; with need_secret the kind's secret key is required. *ret_has_secret tells
 * whether it was there. */
int be_channel_config_parse(enum be_channel_kind kind, const cJSON *o, const char *path,
			    bool need_secret, struct be_channel_config *ret, bool *ret_has_secret,
			    struct lp_diag *diag);
/* The configuration as JSON; without with_secret the secret is left out and
 * "secret_set": true/false says whether there is one. */
cJSON *be_channel_config_json(enum be_channel_kind kind, const struct be_channel_config *c,
			      bool with_secret);
int be_rule_req_parse(const char *text, size_t len, size_t max_len, unsigned max_depth,
		      struct be_rule_req *ret, struct lp_diag *diag);
bool be_alarm_name_valid(const char *s);

/* store-alarms.c */
/* -EEXIST: the name is taken. */
int be_store_alarm_channel_add(struct be_store *s, const char *name, enum be_channel_kind kind,
			       bool enabled, const struct be_channel_config *c, int64_t *ret_id);
int be_store_alarm_channel_get(struct be_store *s, int64_t id, struct be_alarm_channel *ret);
int be_store_alarm_channels_list(struct be_store *s, const struct be_page *p,
				 int (*cb)(void *ctx, const struct be_alarm_channel *ch), void *ctx,
				 int64_t *ret_total);
/* Changes what is given: name (NULL = keep), enabled (-1 = keep), config (NULL = keep). */
int be_store_alarm_channel_update(struct be_store *s, int64_t id, const char *name, int enabled,
				  const struct be_channel_config *c);
/* Removes the channel from its rules; its undelivered outbox rows fail ("channel removed"). */
int be_store_alarm_channel_delete(struct be_store *s, int64_t id);
/* Queues a test alarm to one channel. */
int be_store_alarm_channel_test(struct be_store *s, int64_t id, int64_t *ret_alarm);
/* rule->channel_names name the channels; -ENOENT names the first missing one in
 * ret_missing; -EEXIST: the name is taken. */
int be_store_alarm_rule_add(struct be_store *s, const struct be_alarm_rule *rule, int64_t *ret_id,
			    char ret_missing[BE_TEXT_MAX]);
int be_store_alarm_rule_get(struct be_store *s, int64_t id, struct be_alarm_rule *ret);
int be_store_alarm_rules_list(struct be_store *s, const struct be_page *p, bool only_enabled,
			      int (*cb)(void *ctx, const struct be_alarm_rule *rule), void *ctx,
			      int64_t *ret_total);
int be_store_alarm_rule_delete(struct be_store *s, int64_t id);
/* The evaluator's cursor: the last event id evaluated. */
int be_store_alarm_cursor(struct be_store *s, int64_t *ret);
int be_store_alarm_set_cursor(struct be_store *s, int64_t id);
/* Records an alarm of a rule (NULL: a test alarm to only_channel). An alarm whose key was
 * raised (not suppressed) within rule->dedupe_s is recorded as suppressed, with no
 * deliveries; else each enabled channel of the rule gets a pending outbox row.
 * *ret_suppressed (may be NULL) says which. */
int be_store_alarm_raise(struct be_store *s, const struct be_alarm_rule *rule,
			 int64_t only_channel, const struct be_alarm_hit *h, int64_t *ret_id,
			 bool *ret_suppressed);
/* Whether an alarm with this key was ever recorded (1) or not (0). */
int be_store_alarm_key_exists(struct be_store *s, const char *key);
/* Devices seen at least once but not since before (cb gets controller id and last seen). */
int be_store_alarm_silent_devices(struct be_store *s, int64_t before,
				  int (*cb)(void *ctx, const char *cid, int64_t last_seen), void *ctx);
/* A device's events of a type with since <= time and id <= upto, newest first. */
int be_store_device_events(struct be_store *s, const char *device, const char *type,
			   int64_t since, int64_t upto, int (*cb)(void *ctx, const struct be_event *e),
			   void *ctx);
/* Newest first, with suppressed ones. */
int be_store_alarms_list(struct be_store *s, const struct be_page *p,
			 int (*cb)(void *ctx, const struct be_alarm *a), void *ctx,
			 int64_t *ret_total);
int be_store_alarm_deliveries(struct be_store *s, int64_t alarm,
			      int (*cb)(void *ctx, const struct be_alarm_delivery *d), void *ctx);
/* Pending rows of enabled channels with next_attempt <= now, oldest first (at most max). */
int be_store_outbox_due(struct be_store *s, int64_t now, struct be_outbox_item *items, size_t max,
			size_t *ret_n);
/* Takes a due row for one attempt: moves its next_attempt to until (another sender, or
 * this one after a crash, retries it then). 1: taken, 0: not due any more. */
int be_store_outbox_claim(struct be_store *s, int64_t id, int64_t now, int64_t until);
/* After an attempt: sent, or a failure retried at next_attempt, or given up (failed,
 * with an event alarm.delivery_failed). error is recorded as last_error. */
enum be_outbox_result { BE_OUTBOX_SENT = 0, BE_OUTBOX_RETRY, BE_OUTBOX_GIVE_UP };
int be_store_outbox_done(struct be_store *s, const struct be_outbox_item *it,
			 enum be_outbox_result res, const char *error, int64_t next_attempt);

/* alarm-send.c: one delivery attempt. 0 when the channel accepted it; else a negative
 * errno and a short reason in err (the URL and the secrets never appear in it). */
int be_alarm_send(const struct be_outbox_item *it, const char *tenant, unsigned timeout_s,
		  char *err, size_t err_len);
/* HMAC-SHA256(key, timestamp "." body) as "sha256=<hex>" (webhook signature). */
int be_alarm_signature(const char *key, const char *timestamp, const char *body, size_t body_len,
		       char *out, size_t out_len);
/* The webhook/JSON form of an alarm (also the Telegram text's source). */
cJSON *be_alarm_json(const struct be_outbox_item *it, const char *tenant);

/* alarms.c: the evaluator and delivery threads of a server. */
struct be_alarms;

int be_alarms_start(const struct be_config *cfg, struct be_alarms **ret);
/* Ends both threads (an attempt in flight finishes, bounded by send_timeout_s); NULL is fine. */
void be_alarms_stop(struct be_alarms *a);
/* One evaluation of a tenant: new events, then silent devices; in one transaction. */
int be_alarms_evaluate(struct be_store *s, const struct be_config *cfg);
/* One delivery round of a tenant: sends what is due. */
int be_alarms_deliver(struct be_store *s, const struct be_config *cfg);

/* SPDX-License-Identifier: MIT */
/*
 * loopline-devsim: many simulated devices in one process, speaking DDI v1 over TLS to a
 * real backend (docs/devsim.md). One file per concern:
 *   ddi-parse.c  the backend's DDI answers (poll root, deploymentBase, cancelAction)
 *   fleet.c      devices, their fates, the state file and registration
 *   engine.c     the event loop: libcurl multi, the timer heap, each device's DDI flow
 *   report.c     latency histogram, error counts, the JSON report and summary lines
 *   main.c       the command line
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "loopline/diag.h"
#include "loopline/hash.h"

#define SIM_CID_MAX 64
#define SIM_TOKEN_MAX 132
#define SIM_VERSION_MAX 64
#define SIM_ID_MAX 24
#define SIM_HREF_MAX 2048
#define SIM_ATTR_MAX 32
#define SIM_TAG_MAX 16
#define SIM_BODY_MAX (1024 * 1024) /* largest JSON answer accepted */
#define SIM_DEVICES_MAX 1000000
#define SIM_STATE_MAX (256u * 1024 * 1024)

/* ---- ddi-parse.c ---- */

struct sim_poll {
	bool has_sleep;
	unsigned sleep_s;
	char deployment[SIM_HREF_MAX]; /* "" when absent */
	char cancel[SIM_HREF_MAX];
	char config_data[SIM_HREF_MAX];
};

struct sim_deployment {
	char id[SIM_ID_MAX];
	char version[SIM_VERSION_MAX]; /* the os chunk's version */
	char filename[256];
	uint64_t size;
	bool has_sha256;
	uint8_t sha256[LP_SHA256_LEN];
	char url[SIM_HREF_MAX];        /* download (https) or else download-http; "" if none */
	bool is_action;                /* a configured action (chunk part "action") */
};

/* "HH:MM:SS" (hours up to 9999) → seconds; -EINVAL otherwise. */
int sim_parse_sleep(const char *s, unsigned *ret_s);
/* Unknown fields are ignored; the fields used are checked. 0, or -EBADMSG with diag. */
int sim_parse_poll(const char *text, size_t len, struct sim_poll *ret, struct lp_diag *diag);
int sim_parse_deployment(const char *text, size_t len, struct sim_deployment *ret,
			 struct lp_diag *diag);
int sim_parse_cancel(const char *text, size_t len, char ret_id[SIM_ID_MAX], struct lp_diag *diag);

/* ---- fleet.c ---- */

enum sim_fate {
	SIM_FATE_OK = 0,
	SIM_FATE_FAIL,      /* the install fails: closed/failure */
	SIM_FATE_ROLLBACK,  /* the new slot does not stay: closed/failure after the reboot */
	SIM_FATE_SILENT,    /* stops polling after --silent-after */
};

enum sim_result {
	SIM_RESULT_NONE = 0,
	SIM_RESULT_DOWNLOADING,
	SIM_RESULT_INSTALLING,
	SIM_RESULT_REBOOTING,
	SIM_RESULT_SUCCESS,
	SIM_RESULT_FAILURE,
	SIM_RESULT_ROLLBACK,
	SIM_RESULT_CANCELED,
	SIM_RESULT_ABANDONED, /* the backend closed it or feedback could not be delivered */
};

struct sim_work; /* engine.c: what a device is doing with one action */

struct sim_device {
	char cid[SIM_CID_MAX];
	char token[SIM_TOKEN_MAX];   /* "" with a gateway token */
	char version_start[SIM_VERSION_MAX];
	char version_now[SIM_VERSION_MAX];
	char last_action[SIM_ID_MAX];
	enum sim_fate fate;
	bool rollback_bootloader;    /* the rollback's wording: the bootloader fell back */
	enum sim_result last_result;
	uint32_t polls, updates_ok, updates_failed, rollbacks;
	uint32_t poll_s;             /* the interval in force */
	uint16_t errors_in_row;      /* for the backoff */
	uint8_t step;                /* engine.c: what runs when the timer fires */
	bool silent_now;
	uint64_t due_ms;             /* timer heap key (monotonic) */
	uint32_t heap_pos;           /* position in the heap, UINT32_MAX when not in it */
	struct sim_work *work;
};

struct sim_attr {
	const char *key, *value;
};

struct sim_opts {
	const char *url;             /* DDI base "https://host:port" */
	const char *tenant;
	const char *cacert;
	const char *gateway_token;
	const char *register_url, *mgmt_token;
	const char *state_path;
	const char *prefix;
	uint64_t count, start_index;
	const char *version;
	const char *tags[SIM_TAG_MAX];
	size_t n_tags;
	struct sim_attr attrs[SIM_ATTR_MAX];
	size_t n_attrs;
	uint64_t seed;
	double fail_share, rollback_share, silent_share;
	uint64_t silent_after_ms;
	uint64_t install_ms, reboot_ms;
	bool download_full;
	int64_t poll_override_ms;    /* < 0: the server's sleep */
	double jitter;               /* 0..0.5 of the interval */
	uint64_t ramp_ms;            /* first polls spread over this */
	uint64_t backoff_max_ms;
	uint64_t timeout_ms;
	unsigned connections;
	uint64_t duration_ms;        /* 0: until stopped */
	const char *until_path;
	const char *report_path;
	bool progress, json;
};

struct sim_fleet {
	struct sim_device *devs;
	size_t n;
	size_t registered;           /* created through the management API in this run */
	size_t reused;               /* found in the state file */
};

/* The fate of cid for the given seed and shares: a hash of both, so the same device gets
 * the same fate whatever its place in the fleet. ret_bootloader picks the rollback text. */
enum sim_fate sim_fate_of(const struct sim_opts *o, const char *cid, bool *ret_bootloader);
const char *sim_fate_name(enum sim_fate f);
const char *sim_result_name(enum sim_result r);

/* Builds the devices: from the state file where known, else registered through the
 * management API (--register) or left to register themselves (--gateway-token). */
int sim_fleet_load(const struct sim_opts *o, struct sim_fleet *ret, struct lp_diag *diag);
/* Writes the devices' tokens and versions into the state file (merging the entries of
 * other simulators' devices that are there). */
int sim_fleet_save(const struct sim_opts *o, const struct sim_fleet *f, struct lp_diag *diag);
void sim_fleet_free(struct sim_fleet *f);

/* ---- report.c ---- */

enum sim_err {
	SIM_ERR_CONNECT = 0, /* connection refused or unreachable */
	SIM_ERR_TIMEOUT,
	SIM_ERR_TLS,
	SIM_ERR_TRANSPORT,   /* any other libcurl error */
	SIM_ERR_MALFORMED,   /* an answer the parser refused */
	SIM_ERR_DOWNLOAD,    /* wrong size or sha256 */
	SIM_ERR_TOO_LARGE,   /* an answer over SIM_BODY_MAX */
	SIM_ERR_N,
};

#define SIM_HIST_BUCKETS 640

struct sim_stats {
	uint64_t polls, requests;
	uint64_t hist[SIM_HIST_BUCKETS]; /* poll latency, log-linear buckets of microseconds */
	uint64_t errors[SIM_ERR_N];
	uint64_t http_errors[600];       /* by status */
	uint64_t updated, failed, rolled_back, canceled;
	uint64_t download_bytes;
	uint64_t t0_ms;                  /* monotonic start of the run */
	int64_t wall0_ms;
	int64_t first_deployment_ms, first_update_ms, last_update_ms; /* since t0, -1 = none */
};

void sim_stats_init(struct sim_stats *s);
void sim_stats_poll_latency(struct sim_stats *s, uint64_t us);
/* The latency below which pct percent of the polls were, in milliseconds (0 if none). */
double sim_stats_percentile_ms(const struct sim_stats *s, double pct);
uint64_t sim_stats_errors(const struct sim_stats *s);
long sim_rss_kb(void); /* peak resident set (VmHWM), -1 if unknown */
/* The report (docs/devsim.md, "Report"); NULL on ENOMEM. */
cJSON *sim_report_json(const struct sim_opts *o, const struct sim_fleet *f,
		       const struct sim_stats *s, uint64_t now_ms);
void sim_print_summary(const struct sim_fleet *f, const struct sim_stats *s, uint64_t now_ms);
void sim_print_progress(const struct sim_fleet *f, const struct sim_stats *s, uint64_t now_ms,
			unsigned in_flight);

/* ---- engine.c ---- */

extern volatile int sim_stop_signal;

/* Runs the fleet until --duration, --until, or a stop signal. Returns 0 or a negative
 * errno if the engine could not start (diag says why). */
int sim_engine_run(const struct sim_opts *o, struct sim_fleet *f, struct sim_stats *s,
		   struct lp_diag *diag);

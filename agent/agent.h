/* SPDX-License-Identifier: MIT */
/*
 * Private interfaces of loopline-agent. The logic lives in the static library
 * loopline-agent-core (everything in agent/ except main.c) so tests link it directly.
 *
 * Ownership: every _new/_load/_open returns an object the caller frees with the
 * matching _free, and every _free accepts NULL. Functions return 0 or a negative errno;
 * those that judge outside input also fill a struct lp_diag.
 */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "loopline/diag.h"

/* ---- limits ---- */
#define AGENT_CONFIG_MAX (256 * 1024) /* bytes of agent.json */
#define AGENT_STATE_MAX (64 * 1024)   /* bytes of state.json */
#define AGENT_MAX_BACKENDS 8
#define AGENT_MAX_URLS 8
#define AGENT_MAX_COMMANDS 32          /* health checks, actions */
#define AGENT_MAX_ARGV 64
#define AGENT_MAX_KEYS 16
#define AGENT_STR_MAX 1024             /* any configured string */
#define AGENT_ID_MAX 128               /* device id, tenant, backend name, action id */
#define AGENT_REASON_MAX 512
#define AGENT_OUTBOX_MSG_MAX (64 * 1024)
#define AGENT_OUTBOX_MAX_MSGS 4096

/* Exit codes: the shared LP_EXIT_* through lp_exit_from_errno (lib/cli.h), listed in
 * main.c's tool table and docs/agent.md. Errors are -errno with an lp_diag saying why,
 * logged once where they are handled (main.c for a command). */

/* ---- the host (host.c; file helpers are libloopline's lp_fs_*) ---- */

/* Reads /proc/sys/kernel/random/boot_id, or $LOOPLINE_AGENT_BOOT_ID when set (tests). */
int agent_boot_id(char *buf, size_t len);
/* One agent at a time works on the state: an flock on <data_dir>/lock. Without wait,
 * -EBUSY ("another loopline-agent is working on …") if another process holds it. */
int agent_lock(const char *data_dir, bool wait, int *ret_fd, struct lp_diag *diag);
void agent_unlock(int fd);
/* Test hook: if $LOOPLINE_AGENT_CRASH_AT equals point, the process kills itself with
 * SIGKILL (used to prove that every persisted step recovers). */
void agent_test_point(const char *point);

/* ---- configuration (config.c) ---- */

enum agent_slot {
	AGENT_SLOT_NONE = -1,
	AGENT_SLOT_A = 0,
	AGENT_SLOT_B = 1,
};

enum agent_bootenv_type {
	AGENT_BOOTENV_UBOOT = 0,
	AGENT_BOOTENV_GRUB,
};

enum agent_auth {
	AGENT_AUTH_TARGET_TOKEN = 0,
	AGENT_AUTH_GATEWAY_TOKEN,
	AGENT_AUTH_CLIENT_CERT,
};

struct agent_backend {
	char *name;
	char **urls; /* tried in order */
	size_t n_urls;
	char *tenant;
	enum agent_auth auth;
	char *token;        /* target or gateway token; NULL with client_cert auth */
	char *client_cert;  /* PEM paths; optional with token auth */
	char *client_key;
	char *ca_file;      /* NULL = system store */
	char *proxy;        /* NULL = libcurl's usual proxy environment variables */
	bool insecure_plain_http;
};

struct agent_command {
	char *name;
	char **argv; /* NULL-terminated */
	size_t argc;
	unsigned timeout_s;
};

struct agent_config {
	char *source; /* file name, for messages */
	char *device_config;       /* "device_config": its path, NULL if not set */
	bool device_config_loaded; /* it existed and its keys were applied */
	char *device_id;
	char *hardware_id;
	char *data_dir;
	char *version_file; /* the running firmware's version (os-release or one line); NULL */
	struct agent_backend *backends;
	size_t n_backends;
	unsigned poll_min_s, poll_max_s, poll_default_s, poll_jitter_percent;
	unsigned dl_max_attempts;      /* per download, including the first */
	unsigned dl_backoff_min_ms, dl_backoff_max_ms;
	unsigned dl_stall_timeout_s;   /* no byte for this long: the connection is dead */
	unsigned dl_progress_interval_s;
	char *slot_path[2];
	char *cmdline_file; /* where loopline.slot=A|B is read (default /proc/cmdline) */
	enum agent_bootenv_type bootenv_type;
	char *bootenv_path;  /* fw_env.config (uboot) or the grubenv file (grub) */
	unsigned bootlimit;  /* written at activation when not 0 */
	struct agent_command *health;
	size_t n_health;
	bool health_backend_reachable; /* commit only if a backend answers a poll */
	struct agent_command *actions;
	size_t n_actions;
	struct agent_command reboot; /* argv of the reboot command */
	bool allow_scripts;
	char **trusted_keys;
	size_t n_trusted_keys;
	char **decryption_keys; /* AES key files for encrypted payloads (none: refused) */
	size_t n_decryption_keys;
};

/* Parses and validates text (len bytes); source names the input in messages. */
int agent_config_parse(const char *text, size_t len, const char *source,
		       struct agent_config **ret_config, struct lp_diag *diag);
/* Reads a device config file: 0 with a malloc'd text, -ENOENT if it does not exist. */
typedef int (*agent_config_read_fn)(void *ctx, const char *path, char **ret_text, size_t *ret_len);
/* Like agent_config_parse; when the text names a "device_config", read_dev reads it and its
 * top-level keys replace the main file's (read_dev NULL: not read, as in _parse). */
int agent_config_parse_with(const char *text, size_t len, const char *source,
			    agent_config_read_fn read_dev, void *ctx,
			    struct agent_config **ret_config, struct lp_diag *diag);
/* agent_config_read_fn over the file system. */
int agent_config_read_file(void *ctx, const char *path, char **ret_text, size_t *ret_len);
/* Reads path and, if it names one that exists, the device config. */
int agent_config_load(const char *path, struct agent_config **ret_config, struct lp_diag *diag);
void agent_config_free(struct agent_config *c);
const struct agent_command *agent_config_find_action(const struct agent_config *c, const char *name);
const struct agent_backend *agent_config_find_backend(const struct agent_config *c, const char *name);

/* What every operation needs: the config and the running slot given on the command line. */
struct agent_ctx {
	const struct agent_config *cfg;
	const char *slot_override; /* --slot, or NULL */
};

const char *agent_slot_name(enum agent_slot s);
int agent_slot_parse(const char *s, enum agent_slot *ret_slot);
static inline enum agent_slot agent_slot_other(enum agent_slot s)
{
	return s == AGENT_SLOT_A ? AGENT_SLOT_B : AGENT_SLOT_A;
}

/* ---- persisted update state (state.c) ---- */

enum agent_state_id {
	AGENT_STATE_IDLE = 0,
	AGENT_STATE_DOWNLOADING,
	AGENT_STATE_INSTALLING,
	AGENT_STATE_INSTALLED,   /* reboot pending */
	AGENT_STATE_BOOTING_NEW,
	AGENT_STATE_VERIFYING,
	AGENT_STATE_COMMITTED,
	AGENT_STATE_ROLLING_BACK,
	AGENT_STATE_ROLLED_BACK,
	AGENT_STATE_COUNT_,
};

enum agent_result {
	AGENT_RESULT_NONE = 0,
	AGENT_RESULT_SUCCESS,
	AGENT_RESULT_FAILURE,
};

struct agent_state {
	enum agent_state_id state;
	enum agent_result result;           /* of the last finished update */
	char backend[AGENT_ID_MAX];         /* "" for a local install without an action */
	char action_id[AGENT_ID_MAX];
	char from_version[AGENT_ID_MAX];    /* running version when the update started */
	char to_version[AGENT_ID_MAX];
	uint64_t to_security_version;
	enum agent_slot from_slot, to_slot;
	char boot_id[AGENT_ID_MAX];         /* boot in which the state was written */
	char reason[AGENT_REASON_MAX];
	/* installed software, kept across updates */
	char version[AGENT_ID_MAX];         /* committed version ("" = unknown) */
	uint64_t security_version;          /* anti-rollback floor */
	int64_t updated;                    /* unix time of the last write */
};

const char *agent_state_name(enum agent_state_id s);
int agent_state_parse_name(const char *s, enum agent_state_id *ret);
const char *agent_result_name(enum agent_result r);
/* True when no update is in flight (idle, committed, rolled-back). */
bool agent_state_is_rest(enum agent_state_id s);
bool agent_state_transition_allowed(enum agent_state_id from, enum agent_state_id to);

/* The version of the firmware that runs: what cfg->version_file says, else the one this
 * agent committed last, else "" (unknown). */
void agent_running_version(const struct agent_config *cfg, const struct agent_state *st,
			   char *buf, size_t len);
/* Parses a version file: an os-release file (VERSION_ID=…, optionally quoted) or a file
 * whose first line is the version. The version: 1–63 of [0-9A-Za-z.+~_-]. */
int agent_version_file_parse(const char *text, size_t len, char *buf, size_t buflen,
			     struct lp_diag *diag);
/* Missing file = fresh idle state. Strict parsing: unknown keys are errors; a file that
 * does not parse is -EUCLEAN with the reason in diag (which names the file only then). */
int agent_state_load(const char *data_dir, struct agent_state *ret_state, struct lp_diag *diag);
int agent_state_parse(const char *text, size_t len, struct agent_state *ret_state,
		      struct lp_diag *diag);
/* Serialises (malloc'd, caller frees), NULL on ENOMEM. */
char *agent_state_serialize(const struct agent_state *st);
/* Moves to state `to` (checked against the transition table: -ENOTRECOVERABLE), records
 * the boot id and time, persists atomically (lp_fs_write_atomic), then passes test point
 * `to`'s name. On failure *st is unchanged and diag says why. */
int agent_state_persist(const char *data_dir, struct agent_state *st, enum agent_state_id to,
			struct lp_diag *diag);

/* ---- outbox of feedback messages (outbox.c) ---- */

struct agent_outbox;

int agent_outbox_open(const char *data_dir, struct agent_outbox **ret_outbox);
void agent_outbox_free(struct agent_outbox *ob);
/* Durably stores one message (at most AGENT_OUTBOX_MSG_MAX bytes) after all earlier ones. */
int agent_outbox_enqueue(struct agent_outbox *ob, const char *msg, size_t len);
/* Oldest message: returns 1 with a malloc'd NUL-terminated copy and its sequence
 * number, 0 if the outbox is empty. */
int agent_outbox_peek(struct agent_outbox *ob, uint64_t *ret_seq, char **ret_msg, size_t *ret_len);
int agent_outbox_remove(struct agent_outbox *ob, uint64_t seq);
/* Sequence numbers of queued messages in delivery order (at most max). */
int agent_outbox_list(struct agent_outbox *ob, uint64_t *seqs, size_t max, size_t *ret_n);
int agent_outbox_read(struct agent_outbox *ob, uint64_t seq, char **ret_msg, size_t *ret_len);
/* Number of queued messages, or a negative errno. */
long agent_outbox_count(struct agent_outbox *ob);

/* A queued message, parsed (agent_outbox_read_msg is the one parser of message files). */
struct agent_outbox_msg {
	char backend[AGENT_ID_MAX];
	char action_id[AGENT_ID_MAX];
	char *feedback; /* the DDI feedback body (malloc'd JSON) */
};
/* Reads message seq: -EBADMSG (reason in diag) for one that can never be delivered, or
 * the read's -errno. Clear *ret with agent_outbox_msg_clear. */
int agent_outbox_read_msg(struct agent_outbox *ob, uint64_t seq, struct agent_outbox_msg *ret,
			  struct lp_diag *diag);
void agent_outbox_msg_clear(struct agent_outbox_msg *m);
/* 1 if feedback for this backend's action is queued, 0 if not, or -errno. */
int agent_outbox_find(const char *data_dir, const char *backend, const char *action_id);

/* The one builder of a DDI feedback body: execution "closed", "proceeding", "rejected", …;
 * finished "success", "failure", "none"; progress in percent (< 0: none); details. Returns
 * malloc'd JSON, NULL on ENOMEM. */
char *agent_feedback_json(const char *execution, const char *finished, int progress_percent,
			  const char *const *details, size_t n_details);
/* The one place feedback is queued: builds it and enqueues it for backend's action in
 * <data_dir>/outbox. An update without an action (backend or action_id NULL or empty)
 * reports to no one: 0. */
int agent_feedback_queue(const char *data_dir, const char *backend, const char *action_id,
			 const char *execution, const char *finished, const char *const *details,
			 size_t n_details, struct lp_diag *diag);

/* ---- commands with timeouts (health.c) ---- */

/* Runs argv (no shell) with a timeout (lp_proc_run); the whole process group is killed
 * on timeout. Returns 0 and *ret_status (a wait status), -ETIMEDOUT on timeout, or -errno
 * if it could not start. */
int agent_command_run(const struct agent_command *cmd, int *ret_status);
/* The same, with the command's stdout and stderr going into a pipe of which the last
 * out_len - 1 bytes are kept in out (NUL-terminated), so a failure can say why. */
#define AGENT_OUTPUT_TAIL 1024
int agent_command_run_output(const struct agent_command *cmd, int *ret_status, char *out,
			     size_t out_len);
/* Turns agent_command_run's result into 0 (exit status 0) or -EIO with a sentence such
 * as 'health check "app" failed with exit status 3' in buf ('action "x" succeeded' on
 * success); output (may be NULL) adds ": <the end of what it printed>". */
int agent_command_describe(const struct agent_command *cmd, const char *what, int r, int status,
			   const char *output, char *buf, size_t len);
/* Runs every configured health check (and, if configured, asks whether a backend answers
 * a poll); on failure returns -EIO with the reason. */
int agent_health_check(const struct agent_config *cfg, char *ret_reason, size_t reason_len);
/* In ddi-client.c: 0 if a backend answers a poll with 200, else -EHOSTUNREACH. */
int agent_backend_reachable(const struct agent_config *cfg);
/* The one place the agent reboots: runs the reboot command; -EIO with the reason in diag
 * if it failed. */
int agent_reboot(const struct agent_config *cfg, struct lp_diag *diag);

/* ---- slots (slot.c) ---- */

/* The running slot: $LOOPLINE_AGENT_SLOT (tests, bootsim), an explicit override
 * (not NULL), or loopline.slot=A|B on the kernel command line. */
int agent_slot_current(const struct agent_config *cfg, const char *override,
		       enum agent_slot *ret_slot, struct lp_diag *diag);

/* Opens the (running) slot's file or block device read-only, as a delta's base. */
int agent_slot_open_base(const struct agent_config *cfg, enum agent_slot slot, int *ret_fd,
			 uint64_t *ret_size, struct lp_diag *diag);
struct agent_slot_writer;
/* Opens the slot's file or block device for writing; refuses if size does not fit. */
int agent_slot_writer_open(const struct agent_config *cfg, enum agent_slot slot, uint64_t size,
			   struct agent_slot_writer **ret_writer, struct lp_diag *diag);
int agent_slot_writer_write(struct agent_slot_writer *w, const void *data, size_t len);
/* fsyncs (and trims a regular file to what was written); then the writer is closed. */
int agent_slot_writer_finish(struct agent_slot_writer *w, struct lp_diag *diag);
void agent_slot_writer_free(struct agent_slot_writer *w);

/* ---- bootloader environment (bootenv.c: the only file that knows the formats) ---- */

struct agent_bootenv;

int agent_bootenv_open(const struct agent_config *cfg, struct agent_bootenv **ret_env,
		       struct lp_diag *diag);
void agent_bootenv_free(struct agent_bootenv *env);
/* NULL if unset. The string stays valid until the next set or free. */
const char *agent_bootenv_get(struct agent_bootenv *env, const char *key);
int agent_bootenv_set(struct agent_bootenv *env, const char *key, const char *value);
/* Writes the environment (power-loss safe as the format allows). */
int agent_bootenv_save(struct agent_bootenv *env, struct lp_diag *diag);

/* Slot switching on top of it: activate = boot slot, upgrade_available=1, bootcount=0;
 * commit = upgrade_available=0, bootcount=0; revert = boot slot, upgrade_available=0. */
int agent_bootenv_activate(const struct agent_config *cfg, enum agent_slot slot, struct lp_diag *diag);
int agent_bootenv_commit(const struct agent_config *cfg, struct lp_diag *diag);
int agent_bootenv_revert(const struct agent_config *cfg, enum agent_slot slot, struct lp_diag *diag);

/* ---- one update attempt (attempt.c), install (install.c), after boot (boot.c) ---- */

/* Where package bytes come from: read() as for lp_pkg_reader_new; why() (optional) gives
 * the precise reason after a read error (e.g. "HTTP 404 from …"). */
struct agent_source {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	const char *(*why)(void *ctx);
};

/* Like agent_install_fd for any source. Also continues an update in state downloading
 * for the same backend and action. */
int agent_install_stream(const struct agent_ctx *ctx, const struct agent_source *src,
			 const char *backend, const char *action_id, struct lp_diag *diag);

/* Installs a package read from fd into the inactive slot and activates it.
 * backend/action_id may be NULL (local install). Exit-code-like result: 0 on success,
 * or a negative errno with the reason in diag (-EKEYREJECTED, -ENOEXEC, -EPERM, … for
 * refused packages, -EBUSY when another update is in flight). */
int agent_install_fd(const struct agent_ctx *ctx, int fd, const char *backend,
		     const char *action_id, struct lp_diag *diag);

/* The install command: the package at path ("-": standard input), then (with reboot)
 * the reboot command. */
int agent_install_file(const struct agent_ctx *ctx, const char *path, const char *backend,
		       const char *action_id, bool reboot, struct lp_diag *diag);

/* The one place an update attempt starts, for a download and a local install alike:
 * *ret_st is the state with the new attempt's details (backend, action, versions, slots;
 * to_version may be NULL) filled in, not yet persisted — the caller persists the first
 * state of its path. -EBUSY if another update is in flight; an attempt in state
 * downloading for the same backend and action is continued as it is. */
int agent_attempt_start(const struct agent_ctx *ctx, const char *backend, const char *action_id,
			const char *to_version, struct agent_state *ret_st, struct lp_diag *diag);
/* The one place a failed attempt is recorded: state `to` (idle or rolled-back) with
 * result failure and the reason, after closed/failure feedback was queued when the
 * update has an action (a feedback that cannot be queued is logged: the state is
 * written anyway). */
int agent_attempt_failed(const struct agent_config *cfg, struct agent_state *st,
			 enum agent_state_id to, const char *reason, struct lp_diag *diag);
/* An attempt the operator cancelled before anything was activated: state idle, result
 * failure with the reason, after `canceled` feedback was queued (the backend closes the
 * action as CANCELED). */
int agent_attempt_cancelled(const struct agent_config *cfg, struct agent_state *st,
			    const char *reason, struct lp_diag *diag);

/* The after-boot step: looks at the state, the running slot and the boot id, and moves
 * on (health checks → commit, or roll back, or record a bootloader fallback). */
int agent_boot_reconcile(const struct agent_ctx *ctx, struct lp_diag *diag);
/* Manual commit / rollback of an update being verified (-ENOTRECOVERABLE if none is). */
int agent_mark_good(const struct agent_ctx *ctx, struct lp_diag *diag);
int agent_mark_bad(const struct agent_ctx *ctx, struct lp_diag *diag);

/* ---- the daemon (daemon.c) and what the read-only commands print (status.c) ---- */

/* Set by the daemon's signal handlers: stop at the next opportunity. */
extern volatile sig_atomic_t agent_stop_requested;
/* `run`: the after-boot step, then poll cycles until SIGTERM/SIGINT. */
int agent_daemon_run(const struct agent_ctx *ctx, struct lp_diag *diag);
/* `check-update` (the caller holds the data directory lock): the after-boot step, then
 * one cycle of every backend; -EHOSTUNREACH if none could be polled, -EINVAL without
 * backends. */
int agent_check_update(const struct agent_ctx *ctx, struct lp_diag *diag);
int agent_status_print(const struct agent_ctx *ctx, bool json, struct lp_diag *diag);
int agent_config_print(const struct agent_config *cfg, bool json, struct lp_diag *diag);

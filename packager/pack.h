/* SPDX-License-Identifier: MIT */
/*
 * loopline-pack internals: the subcommands, the package description, the input adapters,
 * the version repository and small shared helpers. Not installed; only packager/ and its
 * tests include this.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "loopline/cli.h"
#include "loopline/diag.h"
#include "loopline/package.h"

#define PACK_PROG "loopline-pack"

/*
 * The commands (one file each), run through lp_cli_main (loopline/cli.h): main.c holds
 * the command table; each file has its option table (pack_*_opts), its help paragraph
 * (pack_*_about) and its run function (pack_cmd_*). Exit codes are the shared LP_EXIT_*
 * of loopline/common.h, mostly through lp_exit_from_errno (docs/packager.md, "Exit
 * codes").
 */
extern const struct lp_cli_opt pack_keygen_opts[];
extern const char pack_keygen_about[];
int pack_cmd_keygen(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_build_opts[];
extern const char pack_build_about[];
int pack_cmd_build(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_inspect_opts[];
extern const char pack_inspect_about[];
int pack_cmd_inspect(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_verify_opts[];
extern const char pack_verify_about[];
int pack_cmd_verify(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_sign_opts[];
extern const char pack_sign_about[];
int pack_cmd_sign(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_list_keys_opts[];
extern const char pack_list_keys_about[];
int pack_cmd_list_keys(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_delta_opts[];
extern const char pack_delta_about[];
int pack_cmd_delta(struct lp_cli *cli, void *ctx);
extern const struct lp_cli_opt pack_upload_opts[];
extern const char pack_upload_about[];
int pack_cmd_upload(struct lp_cli *cli, void *ctx);

/* ---- shared helpers (util.c) ---- */

/* Formats the diag (or strerror(-err) when the diag is empty) into buf. */
const char *pack_error_text(int err, const struct lp_diag *diag, char *buf, size_t len);
/* Prints a cJSON tree to stdout (formatted), returns 0 or -ENOMEM. */
int pack_print_json(const cJSON *root);
/* Human-readable size ("256.0 MiB"). */
const char *pack_size_text(uint64_t bytes, char *buf, size_t len);
/* Installs handlers so SIGINT/SIGTERM/SIGHUP remove a named temp output before dying. */
void pack_signals_init(void);

/*
 * An output file written atomically: data goes to an unnamed (O_TMPFILE) or hidden temp
 * file in the destination directory, and only pack_outfile_commit() gives it the final
 * name (rename). A failure, Ctrl-C or a crash leaves no partial file behind.
 */
struct pack_outfile {
	int fd;
	bool unnamed;        /* O_TMPFILE */
	char path[4096];     /* final name */
	char tmp[4096];      /* named temp ("" when unnamed) */
};
/* -EEXIST if path exists and overwrite is false. mode e.g. 0644. */
int pack_outfile_open(struct pack_outfile *of, const char *path, bool overwrite, unsigned mode);
int pack_outfile_commit(struct pack_outfile *of, bool overwrite);
/* pack_outfile_open for a command's output: 0, or the exit code after saying why
 * ("… exists (use --force to overwrite)": 14). */
int pack_outfile_start(struct pack_outfile *of, const char *path, bool force);
/* A private signing key for a command: 0, or LP_EXIT_USAGE after saying why (an
 * unreadable key file is a usage error, documented by every signing command). */
int pack_signing_key_load(const char *path, struct lp_key **ret);
/* Removes the temp file; safe after commit and on an unopened (zeroed, fd -1) struct. */
void pack_outfile_abort(struct pack_outfile *of);

/*
 * Progress on a terminal: a thread samples the file offsets of fds (which the library
 * advances as it reads) and redraws one status line on stderr. Does nothing when stderr
 * is not a terminal.
 */
struct pack_progress;
int pack_progress_start(const char *label, const int *fds, size_t n_fds, uint64_t total,
			struct pack_progress **ret);
void pack_progress_stop(struct pack_progress *p);

/* A package's manifest.json and manifest.sig through lp_pkg_peek: NOT verified
 * (inspect, list-keys, sign). keyids: up to LP_PKG_MAX_SIGNATURES. */
struct pack_peek {
	struct lp_manifest *manifest;
	char keyids[LP_PKG_MAX_SIGNATURES][LP_KEYID_LEN + 1];
	char algs[LP_PKG_MAX_SIGNATURES][16];
	size_t n_sigs;
	uint64_t file_size;
};
int pack_peek_file(const char *path, struct pack_peek *ret, struct lp_diag *diag);
void pack_peek_clear(struct pack_peek *p);

/* "KEY.pem" -> "KEY.pub.pem"; other names get ".pub.pem" appended. */
int pack_public_key_path(const char *private_path, char *buf, size_t len);

/* ---- package description (description.c) ---- */

#define PACK_DESC_MAX (1024 * 1024)

struct pack_payload_desc {
	char name[LP_PKG_NAME_MAX + 1];
	enum lp_payload_type type;
	char target[LP_PKG_FIELD_MAX];
	char source[4096];            /* resolved against the description's directory */
	enum lp_compression compression;
	int zstd_level;               /* 0 = default */
	char image_name[LP_PKG_FIELD_MAX]; /* "" = not set (adapter selection) */
	char fstype[32];
};

struct pack_description {
	char product[LP_PKG_FIELD_MAX];
	char version[LP_SEMVER_MAX];
	uint64_t security_version;
	char (*compatible)[LP_PKG_FIELD_MAX];
	size_t n_compatible;
	char min_agent_version[LP_SEMVER_MAX]; /* "" = none */
	struct pack_payload_desc *payloads;
	size_t n_payloads;
};

/* Parses description text; base_dir resolves relative sources (NULL = as given). */
int pack_description_parse(const char *text, size_t len, const char *base_dir,
			   struct pack_description **ret, struct lp_diag *diag);
int pack_description_load(const char *path, struct pack_description **ret,
			  struct lp_diag *diag);
void pack_description_free(struct pack_description *d);
/* A name usable as a file or directory name: [A-Za-z0-9._+-], no leading '.'. */
bool pack_safe_name(const char *s);

/* ---- input adapters (adapter-*.c) ---- */

struct pack_select {
	const char *image_name; /* NULL = any */
	const char *fstype;     /* NULL = any */
};

struct pack_adapter {
	const char *name;
	/* true if the directory has this adapter's shape */
	bool (*detect)(const char *dir);
	/* picks the image file; *ret_path is malloc'd and has symlinks resolved */
	int (*resolve)(const char *dir, const struct pack_select *sel, char **ret_path,
		       struct lp_diag *diag);
};

extern const struct pack_adapter pack_adapter_file;
extern const struct pack_adapter pack_adapter_yocto;
extern const struct pack_adapter pack_adapter_buildroot;

/* Turns a description source (file or directory) into the file to read. *ret_kind gets
 * the adapter's name. -ENOENT/-EINVAL/-ENOTUNIQ with a message listing candidates. */
int pack_source_resolve(const char *source, const struct pack_select *sel, char **ret_path,
			const char **ret_kind, struct lp_diag *diag);

/* Helper for adapters: collects directory entry names (sorted), at most 4096. */
int pack_dir_list(const char *dir, char ***ret_names, size_t *ret_n, struct lp_diag *diag);
void pack_dir_list_free(char **names, size_t n);
/* realpath() of dir/name into a malloc'd string; -ENOENT with a message if dangling. */
int pack_resolve_entry(const char *dir, const char *name, char **ret_path, struct lp_diag *diag);

/* ---- version repository (repo.c) ---- */

struct pack_repo;

/* Creates DIR/<product>/ if needed, locks it (flock) and reads its index.json. */
int pack_repo_open(const char *dir, const char *product, struct pack_repo **ret,
		   struct lp_diag *diag);
/* 0 if version may be added; -EEXIST (version present) or -EPERM (security_version lower
 * than the highest in the repository) with a message, unless force. */
int pack_repo_check(const struct pack_repo *r, const char *version, uint64_t security_version,
		    bool force, struct lp_diag *diag);
/* DIR/<product>/<version>.lpkg into buf. */
int pack_repo_package_path(const struct pack_repo *r, const char *version, char *buf, size_t len);
/* Records a package that now exists at pack_repo_package_path() and rewrites the index. */
int pack_repo_add(struct pack_repo *r, const struct lp_manifest *m, uint64_t file_size,
		  struct lp_diag *diag);
void pack_repo_close(struct pack_repo *r);
/* The n highest versions in the repository lower than version, highest first. */
int pack_repo_bases(const struct pack_repo *r, const char *version, size_t n,
		    char (*ret_versions)[LP_SEMVER_MAX], size_t *ret_n);
/* DIR/<product>/deltas/<to>/<from>.lpkg into buf, creating its directory. */
int pack_repo_delta_path(const struct pack_repo *r, const char *from, const char *to, char *buf,
			 size_t len);

/* ---- deltas (delta.c) ---- */

struct lp_aes_keyring;
struct lp_aes_key;

struct pack_delta_in {
	const char *from, *to;                 /* OLD.lpkg, NEW.lpkg */
	const struct lp_keyring *trusted;      /* both must verify against it */
	const struct lp_key *const *keys;      /* signing keys of the delta package */
	size_t n_keys;
	int level;                             /* zstd level of the patch, 0 = default */
	const struct lp_aes_keyring *decrypt;  /* keys of encrypted OLD/NEW payloads (or NULL) */
	const struct lp_aes_key *encrypt;      /* encrypt the patch with it (or NULL) */
};

/* Verifies both packages, makes the lpdiff1 patch between their rootfs images and writes
 * a signed delta package to out_fd. ret_manifest (may be NULL) gets its manifest and
 * ret_stats (may be NULL) the engine's figures. */
int pack_delta_build(const struct pack_delta_in *in, int out_fd, struct lp_manifest **ret_manifest,
		     struct lp_delta_stats *ret_stats, struct lp_diag *diag);

/* SPDX-License-Identifier: MIT */
/*
 * The update state machine and its file, <data_dir>/state.json. Every transition is
 * written before the work it announces starts (temp file, fsync, rename, fsync of the
 * directory), so a power cut at any point leaves a state the next start can resume from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "loopline/fs.h"
#include "loopline/json.h"
#include "loopline/log.h"

#define JSON_SAFE_INT 9007199254740991LL /* 2^53 - 1: exact in a JSON number */

static const char *const state_names[AGENT_STATE_COUNT_] = {
	[AGENT_STATE_IDLE] = "idle",
	[AGENT_STATE_DOWNLOADING] = "downloading",
	[AGENT_STATE_INSTALLING] = "installing",
	[AGENT_STATE_INSTALLED] = "installed",
	[AGENT_STATE_BOOTING_NEW] = "booting-new",
	[AGENT_STATE_VERIFYING] = "verifying",
	[AGENT_STATE_COMMITTED] = "committed",
	[AGENT_STATE_ROLLING_BACK] = "rolling-back",
	[AGENT_STATE_ROLLED_BACK] = "rolled-back",
};

static const char *const result_names[] = { "none", "success", "failure", NULL };

const char *agent_state_name(enum agent_state_id s)
{
	if ((unsigned)s >= AGENT_STATE_COUNT_)
		return "invalid";
	return state_names[s];
}

int agent_state_parse_name(const char *s, enum agent_state_id *ret)
{
	for (unsigned i = 0; i < AGENT_STATE_COUNT_; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum agent_state_id)i;
			return 0;
		}
	return -EINVAL;
}

const char *agent_result_name(enum agent_result r)
{
	if ((unsigned)r > AGENT_RESULT_FAILURE)
		return "invalid";
	return result_names[r];
}

bool agent_state_is_rest(enum agent_state_id s)
{
	return s == AGENT_STATE_IDLE || s == AGENT_STATE_COMMITTED || s == AGENT_STATE_ROLLED_BACK;
}

bool agent_state_transition_allowed(enum agent_state_id from, enum agent_state_id to)
{
	if (from == to)
		return true; /* re-persisting (resuming after a restart) */
	if (agent_state_is_rest(from))
		return to == AGENT_STATE_DOWNLOADING || to == AGENT_STATE_INSTALLING ||
		       to == AGENT_STATE_IDLE;
	switch (from) {
	case AGENT_STATE_DOWNLOADING:
		return to == AGENT_STATE_INSTALLING || to == AGENT_STATE_IDLE;
	case AGENT_STATE_INSTALLING:
		/* booting-new: power was cut after activation and the new slot came up */
		return to == AGENT_STATE_INSTALLED || to == AGENT_STATE_IDLE ||
		       to == AGENT_STATE_BOOTING_NEW;
	case AGENT_STATE_INSTALLED:
		return to == AGENT_STATE_BOOTING_NEW || to == AGENT_STATE_ROLLED_BACK ||
		       to == AGENT_STATE_IDLE;
	case AGENT_STATE_BOOTING_NEW:
		return to == AGENT_STATE_VERIFYING || to == AGENT_STATE_ROLLING_BACK ||
		       to == AGENT_STATE_ROLLED_BACK;
	case AGENT_STATE_VERIFYING:
		return to == AGENT_STATE_COMMITTED || to == AGENT_STATE_ROLLING_BACK ||
		       to == AGENT_STATE_ROLLED_BACK;
	case AGENT_STATE_ROLLING_BACK:
		return to == AGENT_STATE_ROLLED_BACK;
	default:
		return false;
	}
}

static const struct lp_json_field state_fields[] = {
	{ "state", LP_JSON_STRING, true },
	{ "result", LP_JSON_STRING, false },
	{ "backend", LP_JSON_STRING, false },
	{ "action_id", LP_JSON_STRING, false },
	{ "from_version", LP_JSON_STRING, false },
	{ "to_version", LP_JSON_STRING, false },
	{ "to_security_version", LP_JSON_INT, false },
	{ "from_slot", LP_JSON_STRING, false },
	{ "to_slot", LP_JSON_STRING, false },
	{ "boot_id", LP_JSON_STRING, false },
	{ "reason", LP_JSON_STRING, false },
	{ "version", LP_JSON_STRING, false },
	{ "security_version", LP_JSON_INT, false },
	{ "updated", LP_JSON_INT, false },
};

static void state_init(struct agent_state *st)
{
	memset(st, 0, sizeof(*st));
	st->state = AGENT_STATE_IDLE;
	st->from_slot = AGENT_SLOT_NONE;
	st->to_slot = AGENT_SLOT_NONE;
}

static int copy_field(const cJSON *root, const char *key, char *out, size_t len,
		      struct lp_diag *diag)
{
	const char *s = NULL;
	int r = lp_json_get_string(root, key, false, "", &s, diag);

	if (r < 0)
		return r;
	if (!s)
		return 0;
	if (strlen(s) >= len)
		return lp_diag_fail_at(diag, -EINVAL, key, "longer than %zu bytes", len - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int slot_field(const cJSON *root, const char *key, enum agent_slot *ret, struct lp_diag *diag)
{
	const char *s = NULL;
	int r = lp_json_get_string(root, key, false, "", &s, diag);

	if (r < 0)
		return r;
	if (!s || strcmp(s, "none") == 0) {
		*ret = AGENT_SLOT_NONE;
		return 0;
	}
	if (agent_slot_parse(s, ret) < 0)
		return lp_diag_fail_at(diag, -EINVAL, key, "expected \"A\", \"B\" or \"none\"");
	return 0;
}

int agent_state_parse(const char *text, size_t len, struct agent_state *ret_state,
		      struct lp_diag *diag)
{
	struct agent_state st;
	cJSON *root = NULL;
	const char *name = NULL;
	int64_t v;
	int result = 0;
	int r;

	state_init(&st);
	r = lp_json_parse(text, len, AGENT_STATE_MAX, 4, &root, diag);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(root)) {
		r = lp_diag_fail(diag, -EINVAL, "expected a JSON object");
		goto out;
	}
	r = lp_json_check(root, state_fields, LP_ARRAY_SIZE(state_fields), "", diag);
	if (r < 0)
		goto out;
	r = lp_json_get_string(root, "state", true, "", &name, diag);
	if (r < 0)
		goto out;
	if (agent_state_parse_name(name, &st.state) < 0) {
		r = lp_diag_fail_at(diag, -EINVAL, "state", "unknown state \"%s\"", name);
		goto out;
	}
	r = lp_json_get_enum(root, "result", false, result_names, "", &result, diag);
	if (r < 0)
		goto out;
	st.result = (enum agent_result)result;
	if ((r = copy_field(root, "backend", st.backend, sizeof(st.backend), diag)) < 0 ||
	    (r = copy_field(root, "action_id", st.action_id, sizeof(st.action_id), diag)) < 0 ||
	    (r = copy_field(root, "from_version", st.from_version, sizeof(st.from_version), diag)) < 0 ||
	    (r = copy_field(root, "to_version", st.to_version, sizeof(st.to_version), diag)) < 0 ||
	    (r = copy_field(root, "boot_id", st.boot_id, sizeof(st.boot_id), diag)) < 0 ||
	    (r = copy_field(root, "reason", st.reason, sizeof(st.reason), diag)) < 0 ||
	    (r = copy_field(root, "version", st.version, sizeof(st.version), diag)) < 0 ||
	    (r = slot_field(root, "from_slot", &st.from_slot, diag)) < 0 ||
	    (r = slot_field(root, "to_slot", &st.to_slot, diag)) < 0)
		goto out;
	v = 0;
	r = lp_json_get_int(root, "to_security_version", false, 0, JSON_SAFE_INT, "", &v, diag);
	if (r < 0)
		goto out;
	st.to_security_version = (uint64_t)v;
	v = 0;
	r = lp_json_get_int(root, "security_version", false, 0, JSON_SAFE_INT, "", &v, diag);
	if (r < 0)
		goto out;
	st.security_version = (uint64_t)v;
	r = lp_json_get_int(root, "updated", false, 0, JSON_SAFE_INT, "", &st.updated, diag);
	if (r < 0)
		goto out;
	if (!agent_state_is_rest(st.state) &&
	    (st.from_slot == AGENT_SLOT_NONE || st.to_slot == AGENT_SLOT_NONE ||
	     st.from_slot == st.to_slot)) {
		r = lp_diag_fail(diag, -EINVAL, "state \"%s\" needs two different slots in "
				 "\"from_slot\" and \"to_slot\"", name);
		goto out;
	}
	*ret_state = st;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int agent_state_load(const char *data_dir, struct agent_state *ret_state, struct lp_diag *diag)
{
	char path[4096];
	char *text = NULL;
	size_t len = 0;
	int r;

	r = lp_fs_path_join(path, sizeof(path), data_dir, "state.json");
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: data directory path too long", data_dir);
	r = lp_fs_read_file(path, AGENT_STATE_MAX, &text, &len);
	if (r == -ENOENT) {
		state_init(ret_state);
		return 0;
	}
	if (r < 0) {
		lp_diag_set_file(diag, path);
		return lp_diag_fail(diag, r, "cannot read: %s", strerror(-r));
	}
	r = agent_state_parse(text, len, ret_state, diag);
	free(text);
	if (r < 0) {
		/* a damaged state file is a failure of this device, not a usage error */
		lp_diag_set_file(diag, path);
		return r == -ENOMEM ? r : -EUCLEAN;
	}
	return 0;
}

/* cJSON prints large doubles with 15 significant digits; write integers exactly. */
static cJSON *add_uint(cJSON *o, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return cJSON_AddRawToObject(o, key, buf);
}

char *agent_state_serialize(const struct agent_state *st)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "state", agent_state_name(st->state)) ||
	    !cJSON_AddStringToObject(o, "result", agent_result_name(st->result)) ||
	    !cJSON_AddStringToObject(o, "backend", st->backend) ||
	    !cJSON_AddStringToObject(o, "action_id", st->action_id) ||
	    !cJSON_AddStringToObject(o, "from_version", st->from_version) ||
	    !cJSON_AddStringToObject(o, "to_version", st->to_version) ||
	    !add_uint(o, "to_security_version", st->to_security_version) ||
	    !cJSON_AddStringToObject(o, "from_slot", agent_slot_name(st->from_slot)) ||
	    !cJSON_AddStringToObject(o, "to_slot", agent_slot_name(st->to_slot)) ||
	    !cJSON_AddStringToObject(o, "boot_id", st->boot_id) ||
	    !cJSON_AddStringToObject(o, "reason", st->reason) ||
	    !cJSON_AddStringToObject(o, "version", st->version) ||
	    !add_uint(o, "security_version", st->security_version) ||
	    !add_uint(o, "updated", (uint64_t)st->updated))
		goto out;
	out = cJSON_Print(o);
out:
	cJSON_Delete(o);
	return out;
}

int agent_state_persist(const char *data_dir, struct agent_state *st, enum agent_state_id to,
			struct lp_diag *diag)
{
	struct agent_state next = *st;
	char path[4096];
	char *text;
	int r;

	if (!agent_state_transition_allowed(st->state, to))
		return lp_diag_fail(diag, -ENOTRECOVERABLE, "the update state cannot go from %s to %s",
				    agent_state_name(st->state), agent_state_name(to));
	next.state = to;
	next.updated = (int64_t)time(NULL);
	r = agent_boot_id(next.boot_id, sizeof(next.boot_id));
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot read the boot id: %s", strerror(-r));
	r = lp_fs_path_join(path, sizeof(path), data_dir, "state.json");
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: data directory path too long", data_dir);
	text = agent_state_serialize(&next);
	if (!text)
		return lp_diag_fail(diag, -ENOMEM, "out of memory");
	/* write temp, fsync, rename, fsync the directory: the old or the new state survives a
	 * power cut, never a mix (the test point below is where tests cut the power) */
	r = lp_fs_write_atomic(path, text, strlen(text), 0644, 0);
	free(text);
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: cannot write the state: %s", path, strerror(-r));
	*st = next;
	agent_test_point(agent_state_name(to));
	return 0;
}

static bool version_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       c == '.' || c == '+' || c == '~' || c == '_' || c == '-';
}

int agent_version_file_parse(const char *text, size_t len, char *buf, size_t buflen,
			     struct lp_diag *diag)
{
	const char *v = NULL, *end = text + len;
	size_t n = 0;

	/* os-release: the VERSION_ID= line; otherwise the first line is the version */
	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;

		if ((size_t)(le - line) > 11 && memcmp(line, "VERSION_ID=", 11) == 0) {
			v = line + 11;
			end = le;
			break;
		}
		line = nl ? nl + 1 : end;
	}
	if (!v) {
		const char *nl = memchr(text, '\n', len);

		v = text;
		end = nl ? nl : text + len;
	}
	if (v < end && (*v == '"' || *v == '\'') && end - v >= 2 && end[-1] == *v) {
		v++;
		end--;
	}
	while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - v);
	if (n == 0)
		return lp_diag_fail(diag, -EINVAL, "no version in it");
	if (n >= buflen || n > 63)
		return lp_diag_fail(diag, -EINVAL, "the version is longer than 63 characters");
	for (size_t i = 0; i < n; i++)
		if (!version_char(v[i]))
			return lp_diag_fail(diag, -EINVAL,
					    "the version may hold only 0-9 A-Z a-z . + ~ _ - (found byte 0x%02x)",
					    (unsigned char)v[i]);
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 0;
}

void agent_running_version(const struct agent_config *cfg, const struct agent_state *st,
			   char *buf, size_t len)
{
	struct lp_diag diag;
	char *text = NULL;
	size_t tlen = 0;
	int r;

	if (!len)
		return;
	buf[0] = '\0';
	/* the running slot's own file is the truth (a slot may also have been flashed by
	 * other means); the committed version is the fallback */
	if (cfg && cfg->version_file) {
		r = lp_fs_read_file(cfg->version_file, 4096, &text, &tlen);
		lp_diag_clear(&diag);
		if (r < 0)
			log_warn("version file %s: %s", cfg->version_file, strerror(-r));
		else if (agent_version_file_parse(text, tlen, buf, len, &diag) < 0)
			log_warn("version file %s: %s", cfg->version_file, diag.msg);
		free(text);
		if (r >= 0 && buf[0])
			return;
		buf[0] = '\0';
	}
	if (st && st->version[0])
		snprintf(buf, len, "%s", st->version);
}

/* SPDX-License-Identifier: MIT */
/*
 * The alarm rule kinds over the event log, as pure functions (docs/alarms.md): which
 * events raise an alarm of which kind, and what the alarm says. The engine (alarms.c)
 * feeds every new event to every enabled rule; device_silent is evaluated from last-seen
 * times instead, and boot_failures counts the boot fallbacks this matches.
 */
#include <stdio.h>
#include <string.h>

#include "backend.h"

const char *const be_channel_kinds[] = { "telegram", "smtp", "webhook", NULL };
const char *const be_alarm_kinds[] = { "update_failed", "rollback", "rollout_paused",
				       "rollout_done", "device_silent", "boot_failures", NULL };

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The agent's words (agent/boot.c): "rolled back to slot %s (version %s): %s" and
 * "slot %s with version %s did not come up: the bootloader fell back to slot %s". */
enum be_rollback be_alarm_rollback(const char *message, char *reason, size_t len)
{
	static const char fallback[] = " did not come up: the bootloader fell back to slot ";
	const char *p;

	if (starts_with(message, "rolled back to slot ") && (p = strstr(message, "): "))) {
		if (reason)
			snprintf(reason, len, "%s", p + 3);
		return BE_ROLLBACK_HEALTH;
	}
	if (starts_with(message, "slot ") && strstr(message, " with version ") &&
	    (p = strstr(message, fallback)) && p[sizeof(fallback) - 1]) {
		if (reason)
			snprintf(reason, len, "boot failure: the bootloader fell back to slot %s",
				 p + sizeof(fallback) - 1);
		return BE_ROLLBACK_BOOT;
	}
	return BE_ROLLBACK_NONE;
}

/* "rollout 3 (release 1.1.0) paused in wave 2: …" → "rollout 3 (release 1.1.0)". */
static void rollout_label(const char *message, char *buf, size_t len)
{
	const char *close = strchr(message, ')');

	buf[0] = '\0';
	if (starts_with(message, "rollout ") && close && strstr(message, " (release ") &&
	    strstr(message, " (release ") < close && (size_t)(close - message + 1) < len)
		snprintf(buf, len, "%.*s", (int)(close - message + 1), message);
}

static void set_key(struct be_alarm_hit *h, int64_t rule_id, const char *what)
{
	snprintf(h->key, sizeof(h->key), "%lld:%s", (long long)rule_id, what);
}

static bool match_action(enum be_alarm_kind kind, int64_t rule_id, const struct be_event *e,
			 struct be_alarm_hit *h)
{
	char reason[BE_ALARM_TEXT_MAX];
	enum be_rollback rb;

	if (strcmp(e->type, "action.failed") != 0 || !e->device)
		return false;
	rb = be_alarm_rollback(e->message, reason, sizeof(reason));
	if ((kind == BE_ALARM_UPDATE_FAILED && rb != BE_ROLLBACK_NONE) ||
	    (kind == BE_ALARM_ROLLBACK && rb == BE_ROLLBACK_NONE) ||
	    (kind == BE_ALARM_BOOT_FAILURES && rb != BE_ROLLBACK_BOOT))
		return false;
	snprintf(h->device, sizeof(h->device), "%s", e->device);
	set_key(h, rule_id, e->device);
	h->level = "error";
	if (kind == BE_ALARM_UPDATE_FAILED) {
		snprintf(h->title, sizeof(h->title), "Update failed on %s", e->device);
		snprintf(h->text, sizeof(h->text), "Device %s reported a failed update (action %lld): %.700s",
			 e->device, (long long)e->action, e->message);
	} else if (kind == BE_ALARM_ROLLBACK) {
		snprintf(h->title, sizeof(h->title), "%s rolled back on %s",
			 rb == BE_ROLLBACK_BOOT ? "Boot failure:" : "Update", e->device);
		snprintf(h->text, sizeof(h->text), "Device %s rolled back (action %lld). Reason: %.400s\n"
			 "Agent: %.400s", e->device, (long long)e->action, reason, e->message);
	} else {
		snprintf(h->title, sizeof(h->title), "Repeated boot failures on %s", e->device);
		snprintf(h->text, sizeof(h->text), "Device %s fell back to its old slot after a "
			 "failed boot (action %lld): %.700s", e->device, (long long)e->action, e->message);
	}
	return true;
}

static bool match_rollout(enum be_alarm_kind kind, int64_t rule_id, const struct be_event *e,
			  struct be_alarm_hit *h)
{
	bool paused = kind == BE_ALARM_ROLLOUT_PAUSED;

	if (strcmp(e->type, paused ? "rollout.paused" : "rollout.done") != 0)
		return false;
	rollout_label(e->message, h->rollout, sizeof(h->rollout));
	h->level = paused ? "warning" : "info";
	snprintf(h->title, sizeof(h->title), "%s%s%s %s", h->rollout[0] ? "" : "Rollout",
		 h->rollout[0] ? "R" : "", h->rollout[0] ? h->rollout + 1 : "",
		 paused ? "paused" : "done");
	snprintf(h->text, sizeof(h->text), "%.1000s", e->message);
	set_key(h, rule_id, h->rollout[0] ? h->rollout : "rollout");
	return true;
}

bool be_alarm_match(enum be_alarm_kind kind, int64_t rule_id, const struct be_event *e,
		    struct be_alarm_hit *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->event = e->id;
	switch (kind) {
	case BE_ALARM_UPDATE_FAILED:
	case BE_ALARM_ROLLBACK:
	case BE_ALARM_BOOT_FAILURES:
		return match_action(kind, rule_id, e, ret);
	case BE_ALARM_ROLLOUT_PAUSED:
	case BE_ALARM_ROLLOUT_DONE:
		return match_rollout(kind, rule_id, e, ret);
	case BE_ALARM_DEVICE_SILENT:
		break;
	}
	return false;
}

/* SPDX-License-Identifier: MIT */
/*
 * Numbers of a run: a fixed-size log-linear histogram of poll latencies (16 buckets per
 * power of two, so percentiles are within about 6 %, in constant memory however long the
 * run), error counts by kind, and the report (docs/devsim.md, "Report").
 */
#include <stdio.h>
#include <string.h>

#include "devsim.h"

static const char *const err_names[SIM_ERR_N] = {
	[SIM_ERR_CONNECT] = "connect", [SIM_ERR_TIMEOUT] = "timeout", [SIM_ERR_TLS] = "tls",
	[SIM_ERR_TRANSPORT] = "transport", [SIM_ERR_MALFORMED] = "malformed",
	[SIM_ERR_DOWNLOAD] = "download", [SIM_ERR_TOO_LARGE] = "too_large",
};

void sim_stats_init(struct sim_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->first_deployment_ms = s->first_update_ms = s->last_update_ms = -1;
}

static size_t bucket_of(uint64_t us)
{
	unsigned e;

	if (us < 16)
		return (size_t)us;
	e = 63u - (unsigned)__builtin_clzll(us); /* us in [2^e, 2^(e+1)), e >= 4 */
	return (size_t)(e - 3) * 16 + (size_t)((us >> (e - 4)) & 15);
}

/* The middle of a bucket, in microseconds. */
static double bucket_value(size_t b)
{
	unsigned e;
	double lo, width;

	if (b < 16)
		return (double)b;
	e = (unsigned)(b / 16) + 3;
	width = (double)(1ull << (e - 4));
	lo = (double)(1ull << e) + (double)(b % 16) * width;
	return lo + width / 2;
}

void sim_stats_poll_latency(struct sim_stats *s, uint64_t us)
{
	size_t b = bucket_of(us);

	s->hist[b < SIM_HIST_BUCKETS ? b : SIM_HIST_BUCKETS - 1]++;
	s->polls++;
}

double sim_stats_percentile_ms(const struct sim_stats *s, double pct)
{
	uint64_t total = 0, want, seen = 0;

	for (size_t b = 0; b < SIM_HIST_BUCKETS; b++)
		total += s->hist[b];
	if (!total)
		return 0;
	want = (uint64_t)((double)total * pct / 100.0 + 0.999999);
	if (want < 1)
		want = 1;
	for (size_t b = 0; b < SIM_HIST_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen >= want)
			return bucket_value(b) / 1000.0;
	}
	return bucket_value(SIM_HIST_BUCKETS - 1) / 1000.0;
}

uint64_t sim_stats_errors(const struct sim_stats *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < SIM_ERR_N; i++)
		n += s->errors[i];
	for (size_t i = 0; i < LP_ARRAY_SIZE(s->http_errors); i++)
		n += s->http_errors[i];
	return n;
}

long sim_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static double ms_rounded(double v)
{
	return (double)(int64_t)(v * 1000.0 + 0.5) / 1000.0;
}

static double updated_per_s(const struct sim_stats *s)
{
	int64_t span = s->last_update_ms - s->first_deployment_ms;

	if (!s->updated || s->first_deployment_ms < 0 || span <= 0)
		return 0;
	return ms_rounded((double)s->updated * 1000.0 / (double)span);
}

static cJSON *device_json(const struct sim_device *d)
{
	cJSON *o = cJSON_CreateObject(), *la;

	if (!o || !cJSON_AddStringToObject(o, "cid", d->cid) ||
	    !cJSON_AddStringToObject(o, "fate", sim_fate_name(d->fate)) ||
	    !cJSON_AddStringToObject(o, "version_start", d->version_start) ||
	    !cJSON_AddStringToObject(o, "version_now", d->version_now) ||
	    !cJSON_AddNumberToObject(o, "updates_ok", d->updates_ok) ||
	    !cJSON_AddNumberToObject(o, "updates_failed", d->updates_failed) ||
	    !cJSON_AddNumberToObject(o, "rollbacks", d->rollbacks) ||
	    !cJSON_AddNumberToObject(o, "polls", d->polls))
		goto fail;
	if (!d->last_action[0]) {
		if (!cJSON_AddNullToObject(o, "last_action"))
			goto fail;
	} else if (!(la = cJSON_AddObjectToObject(o, "last_action")) ||
		   !cJSON_AddStringToObject(la, "id", d->last_action) ||
		   !cJSON_AddStringToObject(la, "result", sim_result_name(d->last_result))) {
		goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static bool add_time(cJSON *o, const char *key, int64_t ms)
{
	return ms < 0 ? cJSON_AddNullToObject(o, key) != NULL
		      : cJSON_AddNumberToObject(o, key, (double)ms / 1000.0) != NULL;
}

static cJSON *errors_json(const struct sim_stats *s)
{
	cJSON *e = cJSON_CreateObject();
	char key[16];

	for (size_t i = 0; e && i < SIM_ERR_N; i++)
		if (s->errors[i] && !cJSON_AddNumberToObject(e, err_names[i], (double)s->errors[i]))
			goto fail;
	for (size_t i = 0; e && i < LP_ARRAY_SIZE(s->http_errors); i++) {
		if (!s->http_errors[i])
			continue;
		snprintf(key, sizeof(key), "http_%zu", i);
		if (!cJSON_AddNumberToObject(e, key, (double)s->http_errors[i]))
			goto fail;
	}
	return e;
fail:
	cJSON_Delete(e);
	return NULL;
}

static cJSON *totals_json(const struct sim_fleet *f, const struct sim_stats *s, uint64_t now_ms)
{
	cJSON *t = cJSON_CreateObject(), *e = errors_json(s);
	size_t silent = 0;

	for (size_t i = 0; i < f->n; i++)
		silent += f->devs[i].silent_now;
	if (!t || !e || !cJSON_AddItemToObject(t, "errors", e))
		goto fail;
	e = NULL;
	if (!cJSON_AddNumberToObject(t, "devices", (double)f->n) ||
	    !cJSON_AddNumberToObject(t, "registered", (double)f->registered) ||
	    !cJSON_AddNumberToObject(t, "reused", (double)f->reused) ||
	    !cJSON_AddNumberToObject(t, "silent", (double)silent) ||
	    !cJSON_AddNumberToObject(t, "duration_s", (double)(now_ms - s->t0_ms) / 1000.0) ||
	    !cJSON_AddNumberToObject(t, "polls", (double)s->polls) ||
	    !cJSON_AddNumberToObject(t, "requests", (double)s->requests) ||
	    !cJSON_AddNumberToObject(t, "poll_p50_ms", ms_rounded(sim_stats_percentile_ms(s, 50))) ||
	    !cJSON_AddNumberToObject(t, "poll_p99_ms", ms_rounded(sim_stats_percentile_ms(s, 99))) ||
	    !cJSON_AddNumberToObject(t, "updated", (double)s->updated) ||
	    !cJSON_AddNumberToObject(t, "failed", (double)s->failed) ||
	    !cJSON_AddNumberToObject(t, "rolled_back", (double)s->rolled_back) ||
	    !cJSON_AddNumberToObject(t, "canceled", (double)s->canceled) ||
	    !add_time(t, "first_deployment_time", s->first_deployment_ms) ||
	    !add_time(t, "first_update_time", s->first_update_ms) ||
	    !add_time(t, "last_update_time", s->last_update_ms) ||
	    !cJSON_AddNumberToObject(t, "updated_per_s", updated_per_s(s)) ||
	    !cJSON_AddNumberToObject(t, "download_bytes", (double)s->download_bytes) ||
	    !cJSON_AddNumberToObject(t, "rss_peak_kb", (double)sim_rss_kb()))
		goto fail;
	return t;
fail:
	cJSON_Delete(e);
	cJSON_Delete(t);
	return NULL;
}

cJSON *sim_report_json(const struct sim_opts *o, const struct sim_fleet *f,
		       const struct sim_stats *s, uint64_t now_ms)
{
	cJSON *r = cJSON_CreateObject(), *devs, *t;

	if (!r || !cJSON_AddStringToObject(r, "url", o->url) ||
	    !cJSON_AddStringToObject(r, "tenant", o->tenant) ||
	    !cJSON_AddNumberToObject(r, "seed", (double)o->seed) ||
	    !cJSON_AddNumberToObject(r, "started", (double)s->wall0_ms / 1000.0))
		goto fail;
	t = totals_json(f, s, now_ms);
	if (!t || !cJSON_AddItemToObject(r, "totals", t)) {
		cJSON_Delete(t);
		goto fail;
	}
	devs = cJSON_AddArrayToObject(r, "devices");
	if (!devs)
		goto fail;
	for (size_t i = 0; i < f->n; i++) {
		cJSON *d = device_json(&f->devs[i]);

		if (!d || !cJSON_AddItemToArray(devs, d)) {
			cJSON_Delete(d);
			goto fail;
		}
	}
	return r;
fail:
	cJSON_Delete(r);
	return NULL;
}

void sim_print_summary(const struct sim_fleet *f, const struct sim_stats *s, uint64_t now_ms)
{
	printf("devsim: %zu devices, %.1f s, %llu polls (p50 %.2f ms, p99 %.2f ms), updated %llu, "
	       "failed %llu, rolled back %llu, %.2f updated/s, errors %llu, registered %zu, peak RSS %ld kB\n",
	       f->n, (double)(now_ms - s->t0_ms) / 1000.0, (unsigned long long)s->polls,
	       sim_stats_percentile_ms(s, 50), sim_stats_percentile_ms(s, 99),
	       (unsigned long long)s->updated, (unsigned long long)s->failed,
	       (unsigned long long)s->rolled_back, updated_per_s(s),
	       (unsigned long long)sim_stats_errors(s), f->registered, sim_rss_kb());
	fflush(stdout);
}

void sim_print_progress(const struct sim_fleet *f, const struct sim_stats *s, uint64_t now_ms,
			unsigned in_flight)
{
	size_t updating = 0;

	for (size_t i = 0; i < f->n; i++)
		updating += f->devs[i].work != NULL;
	fprintf(stderr, "devsim: %6.1f s  polls %llu  p99 %.2f ms  in flight %u  updating %zu  "
		"updated %llu  failed %llu  rolled back %llu  errors %llu\n",
		(double)(now_ms - s->t0_ms) / 1000.0, (unsigned long long)s->polls,
		sim_stats_percentile_ms(s, 99), in_flight, updating, (unsigned long long)s->updated,
		(unsigned long long)s->failed, (unsigned long long)s->rolled_back,
		(unsigned long long)sim_stats_errors(s));
}

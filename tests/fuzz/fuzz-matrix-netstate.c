/* SPDX-License-Identifier: MIT */
/*
 * The network fault proxy's parsers (matrix/netfault.c): the same bytes as a control file
 * and as a connection log line. A refusal always says why; an accepted control file
 * formats back to text that parses to the same state, and an accepted log line formats
 * back to a line that parses to the same connection.
 */
#include <stdlib.h>
#include <string.h>

#include "matrix.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void state_round_trip(const char *text, size_t size)
{
	struct mx_net_state a, b;
	struct lp_diag diag;
	char out[MX_NET_STATE_MAX];

	if (mx_net_parse(text, size, "fuzz", &a, &diag) < 0) {
		if (!diag.msg[0])
			abort();
		return;
	}
	if (mx_net_format(&a, out, sizeof(out)) < 0 ||
	    mx_net_parse(out, strlen(out), "fuzz", &b, NULL) < 0)
		abort();
	if (a.mode != b.mode || a.rate_bps != b.rate_bps || a.drop_after != b.drop_after ||
	    a.generation != b.generation)
		abort();
}

static void log_round_trip(const char *text, size_t size)
{
	struct mx_net_conn a, b;
	struct lp_diag diag;
	char out[MX_NET_LINE_MAX + 2];

	lp_diag_clear(&diag);
	if (mx_net_log_parse_line(text, size, &a, &diag) < 0) {
		if (!diag.msg[0])
			abort();
		return;
	}
	if (mx_net_log_format(&a, out, sizeof(out)) < 0 ||
	    mx_net_log_parse_line(out, strlen(out) - 1, &b, NULL) < 0)
		abort();
	if (a.start_ms != b.start_ms || a.pid != b.pid || a.ms != b.ms || a.up != b.up ||
	    a.down != b.down || a.end != b.end || a.mode != b.mode || a.generation != b.generation)
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* an exact-size copy so reads past the end are caught */
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	state_round_trip(text, size);
	log_round_trip(text, size);
	free(text);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Rack inventory parser: libyaml's document loader builds a node tree (with positions),
 * then a schema walk checks every mapping against its table of keys. Nothing is
 * guessed: an unknown key, a duplicate key, a wrong type or an out-of-range number is an
 * error with file:line:column and the element path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "loopline-hil/inventory.h"
#include "internal.h"
#include "loopline/cli.h"
#include "loopline/fs.h"

struct parse_ctx {
	yaml_document_t *doc;
	struct lp_diag *diag;
	char *base_dir; /* directory of the inventory file, "." if none */
};

enum kind { K_STR, K_INT, K_BOOL, K_DURATION, K_MAP, K_SEQ };

static const char *node_kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static int fail_at(struct parse_ctx *c, const yaml_node_t *n, const char *path, const char *fmt,
		   ...) LP_PRINTF(4, 5);
static int fail_at(struct parse_ctx *c, const yaml_node_t *n, const char *path, const char *fmt,
		   ...)
{
	va_list ap;

	if (!c->diag)
		return -EINVAL;
	if (n)
		lp_diag_set_pos(c->diag, (unsigned)n->start_mark.line + 1,
				(unsigned)n->start_mark.column + 1);
	lp_diag_set_path(c->diag, path);
	va_start(ap, fmt);
	vsnprintf(c->diag->msg, sizeof(c->diag->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *join_key(char *buf, size_t len, const char *path, const char *key)
{
	int n;

	/* A path longer than the buffer is cut; diagnostics stay readable. */
	if (path[0])
		n = snprintf(buf, len, "%s.%s", path, key);
	else
		n = snprintf(buf, len, "%s", key);
	if (n < 0 && len > 0)
		buf[0] = '\0';
	return buf;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool scalar_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Checks that node is a mapping whose keys are plain-or-quoted scalars from allowed
 * (NULL-terminated), each at most once. */
static int check_map(struct parse_ctx *c, yaml_node_t *map, const char *path,
		     const char *const *allowed)
{
	yaml_node_pair_t *p, *q;

	if (map->type != YAML_MAPPING_NODE)
		return fail_at(c, map, path, "expected a mapping, found %s", node_kind_name(map));
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		bool ok = false;

		if (!k || k->type != YAML_SCALAR_NODE)
			return fail_at(c, k, path, "keys must be plain strings");
		for (size_t i = 0; allowed && allowed[i]; i++)
			if (strcmp(allowed[i], scalar(k)) == 0)
				ok = true;
		if (!ok) {
			char sub[LP_DIAG_PATH_MAX];

			return fail_at(c, k, join_key(sub, sizeof(sub), path, scalar(k)),
				       "unknown key \"%s\"", scalar(k));
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);

			if (k2 && k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), scalar(k)) == 0) {
				char sub[LP_DIAG_PATH_MAX];

				return fail_at(c, k, join_key(sub, sizeof(sub), path, scalar(k)),
					       "duplicate key \"%s\" (first at line %zu)",
					       scalar(k), k2->start_mark.line + 1);
			}
		}
	}
	return 0;
}

static yaml_node_t *map_get(struct parse_ctx *c, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
			return yaml_document_get_node(c->doc, p->value);
	}
	return NULL;
}

static int dup_str(const char *s, char **ret)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	free(*ret);
	*ret = d;
	return 0;
}

/* A string value. Empty strings are rejected unless allow_empty. */
static int get_str(struct parse_ctx *c, yaml_node_t *map, const char *key, bool required,
		   const char *path, bool allow_empty, char **ret)
{
	char sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v = map_get(c, map, key);

	join_key(sub, sizeof(sub), path, key);
	if (!v) {
		if (required)
			return fail_at(c, map, sub, "missing required key \"%s\"", key);
		return 0;
	}
	if (v->type != YAML_SCALAR_NODE)
		return fail_at(c, v, sub, "expected a string, found %s", node_kind_name(v));
	if (scalar_plain(v) && (strcmp(scalar(v), "~") == 0 || strcmp(scalar(v), "null") == 0 ||
				(v->data.scalar.length == 0)))
		return fail_at(c, v, sub, "expected a string, found null");
	if (!allow_empty && v->data.scalar.length == 0)
		return fail_at(c, v, sub, "must not be empty");
	if (strlen(scalar(v)) != v->data.scalar.length)
		return fail_at(c, v, sub, "must not contain NUL bytes");
	return dup_str(scalar(v), ret);
}

static int get_uint(struct parse_ctx *c, yaml_node_t *map, const char *key, unsigned long min,
		    unsigned long max, const char *path, unsigned long *ret, bool *ret_present)
{
	char sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v = map_get(c, map, key);
	unsigned long long n;
	char *end;

	join_key(sub, sizeof(sub), path, key);
	if (ret_present)
		*ret_present = v != NULL;
	if (!v)
		return 0;
	if (v->type != YAML_SCALAR_NODE || !scalar_plain(v))
		return fail_at(c, v, sub, "expected an integer, found %s",
			       v->type == YAML_SCALAR_NODE ? "a quoted string" : node_kind_name(v));
	if (!(scalar(v)[0] >= '0' && scalar(v)[0] <= '9'))
		return fail_at(c, v, sub, "expected an integer, found \"%s\"", scalar(v));
	errno = 0;
	n = strtoull(scalar(v), &end, 10);
	if (errno || *end)
		return fail_at(c, v, sub, "expected an integer, found \"%s\"", scalar(v));
	if (n < min || n > max)
		return fail_at(c, v, sub, "%llu is out of range (%lu..%lu)", n, min, max);
	*ret = (unsigned long)n;
	return 0;
}

static int get_bool(struct parse_ctx *c, yaml_node_t *map, const char *key, const char *path,
		    bool *ret)
{
	char sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v = map_get(c, map, key);

	join_key(sub, sizeof(sub), path, key);
	if (!v)
		return 0;
	if (v->type == YAML_SCALAR_NODE && scalar_plain(v)) {
		if (strcmp(scalar(v), "true") == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(scalar(v), "false") == 0) {
			*ret = false;
			return 0;
		}
	}
	return fail_at(c, v, sub, "expected true or false");
}

/* A duration (lp_duration_parse): a plain integer (seconds) or "500ms", "30s", "5m", "2h". */
static int get_duration(struct parse_ctx *c, yaml_node_t *map, const char *key, const char *path,
			unsigned *ret_ms)
{
	char sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v = map_get(c, map, key);
	uint64_t ms;

	join_key(sub, sizeof(sub), path, key);
	if (!v)
		return 0;
	if (v->type != YAML_SCALAR_NODE)
		return fail_at(c, v, sub, "expected a duration such as 30s, found %s",
			       node_kind_name(v));
	if (lp_duration_parse(scalar(v), &ms) < 0 || ms > UINT_MAX)
		return fail_at(c, v, sub,
			       "expected a duration such as 30, 30s, 500ms or 5m, found \"%s\"",
			       scalar(v));
	*ret_ms = (unsigned)ms;
	return 0;
}

static int get_enum(struct parse_ctx *c, yaml_node_t *map, const char *key, bool required,
		    const char *const *choices, const char *path, int *ret)
{
	char sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v = map_get(c, map, key);
	char list[256] = "";
	size_t n = 0;

	join_key(sub, sizeof(sub), path, key);
	if (!v) {
		if (required)
			return fail_at(c, map, sub, "missing required key \"%s\"", key);
		return 0;
	}
	if (v->type == YAML_SCALAR_NODE) {
		for (int i = 0; choices[i]; i++)
			if (strcmp(choices[i], scalar(v)) == 0) {
				*ret = i;
				return 0;
			}
	}
	for (int i = 0; choices[i] && n < sizeof(list); i++) {
		int w = snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", choices[i]);

		if (w > 0)
			n += (size_t)w;
	}
	if (v->type != YAML_SCALAR_NODE)
		return fail_at(c, v, sub, "expected one of %s, found %s", list, node_kind_name(v));
	return fail_at(c, v, sub, "expected one of %s, found \"%s\"", list, scalar(v));
}

/* A list of non-empty strings (at most max). */
static int get_str_list(struct parse_ctx *c, yaml_node_t *map, const char *key, size_t max,
			const char *path, char ***ret, size_t *ret_n, bool *ret_present)
{
	char sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v = map_get(c, map, key);
	size_t n;
	char **list;

	join_key(sub, sizeof(sub), path, key);
	*ret_present = v != NULL;
	if (!v)
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, sub, "expected a list of strings, found %s", node_kind_name(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > max)
		return fail_at(c, v, sub, "at most %zu entries", max);
	list = calloc(n + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
		char isub[LP_DIAG_PATH_MAX + 32];

		snprintf(isub, sizeof(isub), "%s[%zu]", sub, i);
		if (!it || it->type != YAML_SCALAR_NODE || it->data.scalar.length == 0 ||
		    strlen(scalar(it)) != it->data.scalar.length) {
			lp_hil_strv_free(list);
			return fail_at(c, it ? it : v, isub, "expected a non-empty string");
		}
		list[i] = strdup(scalar(it));
		if (!list[i]) {
			lp_hil_strv_free(list);
			return -ENOMEM;
		}
	}
	lp_hil_strv_free(*ret);
	*ret = list;
	*ret_n = n;
	return 0;
}

/* Checks a string is a valid POSIX ERE so mistakes show up in check-inventory. */
static int check_regex(struct parse_ctx *c, yaml_node_t *map, const char *key, const char *path,
		       const char *re)
{
	char sub[LP_DIAG_PATH_MAX], err[128];
	yaml_node_t *v = map_get(c, map, key);

	if (!re)
		return 0;
	join_key(sub, sizeof(sub), path, key);
	if (lp_hil_regex_check(re, err, sizeof(err)) < 0)
		return fail_at(c, v ? v : map, sub, "invalid regular expression: %s", err);
	return 0;
}

static int resolve_path(struct parse_ctx *c, char **p)
{
	char *abs;

	if (!*p || (*p)[0] == '/')
		return 0;
	abs = lp_hil_path_join(c->base_dir, *p);
	if (!abs)
		return -ENOMEM;
	free(*p);
	*p = abs;
	return 0;
}

static bool valid_board_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LP_HIL_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static bool qemu_arg_is_kvm(char **argv, size_t i)
{
	const char *a = argv[i];

	if (strcmp(a, "-enable-kvm") == 0 || strcmp(a, "--enable-kvm") == 0)
		return true;
	if (i > 0) {
		const char *prev = argv[i - 1];

		if ((strcmp(prev, "-accel") == 0 || strcmp(prev, "--accel") == 0 ||
		     strcmp(prev, "-machine") == 0 || strcmp(prev, "--machine") == 0 ||
		     strcmp(prev, "-M") == 0) &&
		    strstr(a, "kvm"))
			return true;
	}
	return false;
}

static int parse_power(struct parse_ctx *c, yaml_node_t *n, const char *path,
		       struct lp_hil_power_config *p)
{
	static const char *const kinds[] = {"gpiod", "command", "qemu", "manual", NULL};
	static const char *const common[] = {"driver", NULL};
	static const char *const gpiod_keys[] = {"driver", "chip", "line", "active_low",
						 "consumer", "cycle_delay", NULL};
	static const char *const cmd_keys[] = {"driver", "on", "off", "cycle", "status",
					       "timeout", "cycle_delay", NULL};
	static const char *const qemu_keys[] = {"driver", "argv", "cycle", "timeout", NULL};
	static const char *const manual_keys[] = {"driver", "message", "cycle_delay", NULL};
	static const char *const cycles[] = {"reset", "restart", NULL};
	int kind = 0, r, cyc = 0;
	bool present;
	char sub[LP_DIAG_PATH_MAX];

	if (n->type != YAML_MAPPING_NODE)
		return fail_at(c, n, path, "expected a mapping, found %s", node_kind_name(n));
	r = get_enum(c, n, "driver", true, kinds, path, &kind);
	if (r < 0)
		return r;
	(void)common;
	p->kind = (enum lp_hil_power_kind)kind;
	p->cycle_delay_ms = 1000;
	p->line = -1;
	switch (p->kind) {
	case LP_HIL_POWER_GPIOD: {
		yaml_node_t *line;

		if ((r = check_map(c, n, path, gpiod_keys)) < 0 ||
		    (r = get_str(c, n, "chip", true, path, false, &p->chip)) < 0 ||
		    (r = get_bool(c, n, "active_low", path, &p->active_low)) < 0 ||
		    (r = get_str(c, n, "consumer", false, path, false, &p->consumer)) < 0 ||
		    (r = get_duration(c, n, "cycle_delay", path, &p->cycle_delay_ms)) < 0)
			return r;
		line = map_get(c, n, "line");
		join_key(sub, sizeof(sub), path, "line");
		if (!line)
			return fail_at(c, n, sub, "missing required key \"line\" (offset or name)");
		if (line->type != YAML_SCALAR_NODE || line->data.scalar.length == 0)
			return fail_at(c, line, sub, "expected a line offset or a line name");
		if (scalar_plain(line) && scalar(line)[0] >= '0' && scalar(line)[0] <= '9') {
			unsigned long off = 0;

			if ((r = get_uint(c, n, "line", 0, 4095, path, &off, NULL)) < 0)
				return r;
			p->line = (int)off;
		} else if ((r = get_str(c, n, "line", true, path, false, &p->line_name)) < 0) {
			return r;
		}
		if (!p->consumer && (r = dup_str("loopline-hil", &p->consumer)) < 0)
			return r;
		break;
	}
	case LP_HIL_POWER_COMMAND:
		p->timeout_ms = 30000;
		if ((r = check_map(c, n, path, cmd_keys)) < 0 ||
		    (r = get_str(c, n, "on", true, path, false, &p->on_cmd)) < 0 ||
		    (r = get_str(c, n, "off", true, path, false, &p->off_cmd)) < 0 ||
		    (r = get_str(c, n, "cycle", false, path, false, &p->cycle_cmd)) < 0 ||
		    (r = get_str(c, n, "status", false, path, false, &p->status_cmd)) < 0 ||
		    (r = get_duration(c, n, "timeout", path, &p->timeout_ms)) < 0 ||
		    (r = get_duration(c, n, "cycle_delay", path, &p->cycle_delay_ms)) < 0)
			return r;
		break;
	case LP_HIL_POWER_QEMU:
		p->timeout_ms = 10000;
		if ((r = check_map(c, n, path, qemu_keys)) < 0 ||
		    (r = get_str_list(c, n, "argv", LP_HIL_MAX_ARGV, path, &p->argv, &p->argc,
				      &present)) < 0 ||
		    (r = get_enum(c, n, "cycle", false, cycles, path, &cyc)) < 0 ||
		    (r = get_duration(c, n, "timeout", path, &p->timeout_ms)) < 0)
			return r;
		join_key(sub, sizeof(sub), path, "argv");
		if (!present)
			return fail_at(c, n, sub,
				       "missing required key \"argv\" (the QEMU command line)");
		if (p->argc == 0)
			return fail_at(c, map_get(c, n, "argv"), sub, "must not be empty");
		for (size_t i = 0; i < p->argc; i++) {
			static const char *const refused[] = {"-daemonize", "-pidfile", "-qmp",
							      "-S", NULL};

			if (qemu_arg_is_kvm(p->argv, i))
				return fail_at(c, map_get(c, n, "argv"), sub,
					       "argument %zu (\"%s\"): KVM is not usable on these "
					       "hosts; the qemu driver runs TCG only",
					       i, p->argv[i]);
			for (size_t j = 0; refused[j]; j++)
				if (strcmp(p->argv[i], refused[j]) == 0)
					return fail_at(c, map_get(c, n, "argv"), sub,
						       "argument %zu (\"%s\") is set by the qemu "
						       "driver itself",
						       i, p->argv[i]);
		}
		p->qemu_cycle = (enum lp_hil_qemu_cycle)cyc;
		break;
	case LP_HIL_POWER_MANUAL:
		if ((r = check_map(c, n, path, manual_keys)) < 0 ||
		    (r = get_str(c, n, "message", false, path, false, &p->message)) < 0 ||
		    (r = get_duration(c, n, "cycle_delay", path, &p->cycle_delay_ms)) < 0)
			return r;
		break;
	}
	return 0;
}

static int parse_console(struct parse_ctx *c, yaml_node_t *n, const char *path,
			 struct lp_hil_console_config *co)
{
	static const char *const kinds[] = {"serial", "tcp", "unix", "qemu", NULL};
	static const char *const serial_keys[] = {"driver", "port", "baud", "data_bits",
						  "stop_bits", "parity", "flow", "reconnect",
						  NULL};
	static const char *const tcp_keys[] = {"driver", "host", "port", "reconnect", NULL};
	static const char *const unix_keys[] = {"driver", "path", "reconnect", NULL};
	static const char *const qemu_keys[] = {"driver", "reconnect", NULL};
	static const char *const parities[] = {"none", "odd", "even", NULL};
	static const char *const flows[] = {"none", "xonxoff", "rtscts", NULL};
	int kind = 0, r, par = 0, flow = 0;
	unsigned long v;

	if (n->type != YAML_MAPPING_NODE)
		return fail_at(c, n, path, "expected a mapping, found %s", node_kind_name(n));
	r = get_enum(c, n, "driver", true, kinds, path, &kind);
	if (r < 0)
		return r;
	co->kind = (enum lp_hil_console_kind)kind;
	co->reconnect_ms = 10000;
	switch (co->kind) {
	case LP_HIL_CONSOLE_SERIAL:
		co->baud = 115200;
		co->data_bits = 8;
		co->stop_bits = 1;
		if ((r = check_map(c, n, path, serial_keys)) < 0 ||
		    (r = get_str(c, n, "port", true, path, false, &co->port)) < 0 ||
		    (r = get_enum(c, n, "parity", false, parities, path, &par)) < 0 ||
		    (r = get_enum(c, n, "flow", false, flows, path, &flow)) < 0 ||
		    (r = get_duration(c, n, "reconnect", path, &co->reconnect_ms)) < 0)
			return r;
		v = co->baud;
		if ((r = get_uint(c, n, "baud", 50, 4000000, path, &v, NULL)) < 0)
			return r;
		co->baud = (unsigned)v;
		v = co->data_bits;
		if ((r = get_uint(c, n, "data_bits", 5, 8, path, &v, NULL)) < 0)
			return r;
		co->data_bits = (unsigned)v;
		v = co->stop_bits;
		if ((r = get_uint(c, n, "stop_bits", 1, 2, path, &v, NULL)) < 0)
			return r;
		co->stop_bits = (unsigned)v;
		co->parity = (enum lp_hil_parity)par;
		co->flow = (enum lp_hil_flow)flow;
		break;
	case LP_HIL_CONSOLE_TCP:
		if ((r = check_map(c, n, path, tcp_keys)) < 0 ||
		    (r = get_str(c, n, "host", true, path, false, &co->host)) < 0 ||
		    (r = get_duration(c, n, "reconnect", path, &co->reconnect_ms)) < 0)
			return r;
		{
			bool present;
			char sub[LP_DIAG_PATH_MAX];

			v = 0;
			if ((r = get_uint(c, n, "port", 1, 65535, path, &v, &present)) < 0)
				return r;
			if (!present)
				return fail_at(c, n, join_key(sub, sizeof(sub), path, "port"),
					       "missing required key \"port\"");
			co->tcp_port = (unsigned)v;
		}
		break;
	case LP_HIL_CONSOLE_UNIX:
		if ((r = check_map(c, n, path, unix_keys)) < 0 ||
		    (r = get_str(c, n, "path", true, path, false, &co->path)) < 0 ||
		    (r = get_duration(c, n, "reconnect", path, &co->reconnect_ms)) < 0 ||
		    (r = resolve_path(c, &co->path)) < 0)
			return r;
		break;
	case LP_HIL_CONSOLE_QEMU:
		if ((r = check_map(c, n, path, qemu_keys)) < 0 ||
		    (r = get_duration(c, n, "reconnect", path, &co->reconnect_ms)) < 0)
			return r;
		break;
	}
	return 0;
}

static int parse_shell(struct parse_ctx *c, yaml_node_t *n, const char *path,
		       struct lp_hil_shell_config *s)
{
	static const char *const keys[] = {"prompt", "login_prompt", "password_prompt",
					    "username", "password", "timeout",
					    "console_loglevel", NULL};
	int r;

	/* kernel messages on the console would mix into command output: by default only
	 * emergencies and alerts (panics, BUG:) still reach it while the runner works */
	s->console_loglevel = 2;
	if (n) {
		yaml_node_t *ll = map_get(c, n, "console_loglevel");
		unsigned long v = 2;

		if (ll && ll->type == YAML_SCALAR_NODE && scalar_plain(ll) &&
		    (strcmp(scalar(ll), "null") == 0 || strcmp(scalar(ll), "~") == 0))
			s->console_loglevel = -1;
		else if ((r = get_uint(c, n, "console_loglevel", 0, 8, path, &v, NULL)) < 0)
			return r;
		else if (ll)
			s->console_loglevel = (int)v;
	}

	if (n) {
		yaml_node_t *lp;

		if ((r = check_map(c, n, path, keys)) < 0 ||
		    (r = get_str(c, n, "prompt", false, path, false, &s->prompt)) < 0 ||
		    (r = get_str(c, n, "password_prompt", false, path, false,
				 &s->password_prompt)) < 0 ||
		    (r = get_str(c, n, "username", false, path, false, &s->username)) < 0 ||
		    (r = get_str(c, n, "password", false, path, true, &s->password)) < 0 ||
		    (r = get_duration(c, n, "timeout", path, &s->timeout_ms)) < 0)
			return r;
		/* login_prompt: null switches login handling off */
		lp = map_get(c, n, "login_prompt");
		if (lp && lp->type == YAML_SCALAR_NODE && scalar_plain(lp) &&
		    (strcmp(scalar(lp), "null") == 0 || strcmp(scalar(lp), "~") == 0)) {
			free(s->login_prompt);
			s->login_prompt = NULL;
			goto checked;
		}
		if ((r = get_str(c, n, "login_prompt", false, path, false, &s->login_prompt)) < 0)
			return r;
		if (!lp && (r = dup_str("login: ?$", &s->login_prompt)) < 0)
			return r;
	} else if ((r = dup_str("login: ?$", &s->login_prompt)) < 0) {
		return r;
	}
checked:
	/* busybox's line editor asks for the cursor position (ESC [ 6 n) right after the
	 * prompt; the default pattern allows such control sequences after it */
	if (!s->prompt && (r = dup_str(LP_HIL_DEFAULT_PROMPT, &s->prompt)) < 0)
		return r;
	if (!s->password_prompt && (r = dup_str("[Pp]assword: ?$", &s->password_prompt)) < 0)
		return r;
	if (!s->username && (r = dup_str("root", &s->username)) < 0)
		return r;
	if (!s->timeout_ms)
		s->timeout_ms = 60000;
	if (n && ((r = check_regex(c, n, "prompt", path, s->prompt)) < 0 ||
		  (r = check_regex(c, n, "login_prompt", path, s->login_prompt)) < 0 ||
		  (r = check_regex(c, n, "password_prompt", path, s->password_prompt)) < 0))
		return r;
	return 0;
}

static int parse_boot(struct parse_ctx *c, yaml_node_t *n, const char *path,
		      struct lp_hil_boot_config *b)
{
	static const char *const keys[] = {"until", "failure", "timeout", NULL};
	bool present = false;
	int r;

	b->timeout_ms = 120000;
	if (n) {
		if ((r = check_map(c, n, path, keys)) < 0 ||
		    (r = get_str(c, n, "until", false, path, false, &b->until)) < 0 ||
		    (r = get_duration(c, n, "timeout", path, &b->timeout_ms)) < 0 ||
		    (r = get_str_list(c, n, "failure", LP_HIL_MAX_PATTERNS, path, &b->failure,
				      &b->n_failure, &present)) < 0 ||
		    (r = check_regex(c, n, "until", path, b->until)) < 0)
			return r;
		for (size_t i = 0; i < b->n_failure; i++)
			if ((r = check_regex(c, n, "failure", path, b->failure[i])) < 0)
				return r;
	}
	if (!present) {
		b->failure = calloc(2, sizeof(*b->failure));
		if (!b->failure)
			return -ENOMEM;
		b->failure[0] = strdup("Kernel panic");
		if (!b->failure[0])
			return -ENOMEM;
		b->n_failure = 1;
	}
	return 0;
}

/* ADDRESS:PORT with a port of 1-65535 */
static bool listen_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s)
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && end != colon + 1 && port >= 1 && port <= 65535;
}

static int parse_provision(struct parse_ctx *c, yaml_node_t *n, const char *path,
			   struct lp_hil_provision_config *p)
{
	static const char *const keys[] = {"argv", "timeout", "backend_url", "listen", NULL};
	char sub[LP_DIAG_PATH_MAX];
	bool present = false;
	int r;

	p->timeout_ms = 600000;
	if (!n)
		return 0;
	if ((r = check_map(c, n, path, keys)) < 0 ||
	    (r = get_str_list(c, n, "argv", LP_HIL_MAX_ARGV, path, &p->argv, &p->argc,
			      &present)) < 0 ||
	    (r = get_duration(c, n, "timeout", path, &p->timeout_ms)) < 0 ||
	    (r = get_str(c, n, "backend_url", true, path, false, &p->backend_url)) < 0 ||
	    (r = get_str(c, n, "listen", true, path, false, &p->listen)) < 0)
		return r;
	if (!present || p->argc == 0)
		return fail_at(c, present ? map_get(c, n, "argv") : n,
			       join_key(sub, sizeof(sub), path, "argv"),
			       present ? "must not be empty" :
			       "missing required key \"argv\" (the command that writes a disk "
			       "image to the board)");
	if (strncmp(p->backend_url, "https://", 8) != 0 || !p->backend_url[8])
		return fail_at(c, map_get(c, n, "backend_url"),
			       join_key(sub, sizeof(sub), path, "backend_url"),
			       "expected an https:// URL, found \"%s\"", p->backend_url);
	if (!listen_ok(p->listen))
		return fail_at(c, map_get(c, n, "listen"), join_key(sub, sizeof(sub), path, "listen"),
			       "expected ADDRESS:PORT (port 1-65535), found \"%s\"", p->listen);
	return 0;
}

static int parse_board(struct parse_ctx *c, const char *name, yaml_node_t *keynode,
		       yaml_node_t *n, struct lp_hil_board_config *b)
{
	static const char *const keys[] = {"target", "power", "console", "shell", "boot",
					   "provision", NULL};
	char path[LP_DIAG_PATH_MAX], sub[LP_DIAG_PATH_MAX];
	yaml_node_t *v;
	int r;

	snprintf(path, sizeof(path), "boards.%s", name);
	if (!valid_board_name(name))
		return fail_at(c, keynode, path,
			       "board names are 1-%d characters of A-Z a-z 0-9 . _ - "
			       "(not starting with . or -)",
			       LP_HIL_NAME_MAX);
	if ((r = dup_str(name, &b->name)) < 0)
		return r;
	if ((r = check_map(c, n, path, keys)) < 0 ||
	    (r = get_str(c, n, "target", false, path, false, &b->target)) < 0)
		return r;
	v = map_get(c, n, "power");
	if (!v)
		return fail_at(c, n, join_key(sub, sizeof(sub), path, "power"),
			       "missing required key \"power\"");
	if ((r = parse_power(c, v, join_key(sub, sizeof(sub), path, "power"), &b->power)) < 0)
		return r;
	v = map_get(c, n, "console");
	if (!v)
		return fail_at(c, n, join_key(sub, sizeof(sub), path, "console"),
			       "missing required key \"console\"");
	if ((r = parse_console(c, v, join_key(sub, sizeof(sub), path, "console"), &b->console)) <
	    0)
		return r;
	if (b->console.kind == LP_HIL_CONSOLE_QEMU && b->power.kind != LP_HIL_POWER_QEMU)
		return fail_at(c, v, sub,
			       "console driver \"qemu\" needs power driver \"qemu\" (use "
			       "driver: unix with a path otherwise)");
	if ((r = parse_shell(c, map_get(c, n, "shell"), join_key(sub, sizeof(sub), path, "shell"),
			     &b->shell)) < 0)
		return r;
	if ((r = parse_boot(c, map_get(c, n, "boot"), join_key(sub, sizeof(sub), path, "boot"),
			    &b->boot)) < 0)
		return r;
	return parse_provision(c, map_get(c, n, "provision"),
			       join_key(sub, sizeof(sub), path, "provision"), &b->provision);
}

static int parse_lab(struct parse_ctx *c, yaml_node_t *n, struct lp_hil_inventory *inv)
{
	static const char *const keys[] = {"state_dir", "lock_db", "log_dir", NULL};
	int r;

	if (n && ((r = check_map(c, n, "lab", keys)) < 0 ||
		  (r = get_str(c, n, "state_dir", false, "lab", false, &inv->state_dir)) < 0 ||
		  (r = get_str(c, n, "lock_db", false, "lab", false, &inv->lock_db)) < 0 ||
		  (r = get_str(c, n, "log_dir", false, "lab", false, &inv->log_dir)) < 0))
		return r;
	if (!inv->state_dir && (r = dup_str(".hil-state", &inv->state_dir)) < 0)
		return r;
	if ((r = resolve_path(c, &inv->state_dir)) < 0)
		return r;
	if (!inv->lock_db && !(inv->lock_db = lp_hil_path_join(inv->state_dir, "locks.db")))
		return -ENOMEM;
	if (!inv->log_dir && !(inv->log_dir = lp_hil_path_join(inv->state_dir, "logs")))
		return -ENOMEM;
	if ((r = resolve_path(c, &inv->lock_db)) < 0 || (r = resolve_path(c, &inv->log_dir)) < 0)
		return r;
	return 0;
}

static int parse_root(struct parse_ctx *c, yaml_node_t *root, struct lp_hil_inventory *inv)
{
	static const char *const keys[] = {"lab", "boards", NULL};
	yaml_node_t *boards;
	size_t n;
	int r;

	if ((r = check_map(c, root, "", keys)) < 0)
		return r;
	if ((r = parse_lab(c, map_get(c, root, "lab"), inv)) < 0)
		return r;
	boards = map_get(c, root, "boards");
	if (!boards)
		return fail_at(c, root, "boards", "missing required key \"boards\"");
	if (boards->type != YAML_MAPPING_NODE)
		return fail_at(c, boards, "boards", "expected a mapping of board names, found %s",
			       node_kind_name(boards));
	/* check_map with no table would reject everything; check duplicates here */
	n = (size_t)(boards->data.mapping.pairs.top - boards->data.mapping.pairs.start);
	if (n > LP_HIL_MAX_BOARDS)
		return fail_at(c, boards, "boards", "at most %d boards", LP_HIL_MAX_BOARDS);
	inv->boards = calloc(n ? n : 1, sizeof(*inv->boards));
	if (!inv->boards)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &boards->data.mapping.pairs.start[i];
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);

		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return fail_at(c, k, "boards", "board names must be strings");
		for (size_t j = 0; j < inv->n_boards; j++)
			if (strcmp(inv->boards[j].name, scalar(k)) == 0) {
				char sub[LP_DIAG_PATH_MAX];

				return fail_at(c, k, join_key(sub, sizeof(sub), "boards", scalar(k)),
					       "duplicate board \"%s\"", scalar(k));
			}
		inv->n_boards++;
		if ((r = parse_board(c, scalar(k), k, v, &inv->boards[i])) < 0)
			return r;
	}
	return 0;
}

int lp_hil_inventory_parse(const char *text, size_t len, const char *name,
			   struct lp_hil_inventory **ret_inv, struct lp_diag *diag)
{
	struct parse_ctx c = {.diag = diag};
	struct lp_hil_inventory *inv = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	bool parser_ok = false, doc_ok = false;
	int r;

	lp_diag_clear(diag);
	lp_diag_set_file(diag, name ? name : "<inventory>");
	if (len > LP_HIL_INVENTORY_MAX_SIZE)
		return lp_diag_fail(diag, -E2BIG, "larger than %u bytes", LP_HIL_INVENTORY_MAX_SIZE);
	if (memchr(text, '\0', len))
		return lp_diag_fail(diag, -EINVAL, "contains a NUL byte");
	inv = calloc(1, sizeof(*inv));
	if (!inv)
		return -ENOMEM;
	if (name && !(inv->file = strdup(name))) {
		r = -ENOMEM;
		goto out;
	}
	{
		char dir[PATH_MAX];

		r = lp_fs_dirname(dir, sizeof(dir), name ? name : "");
		if (r < 0) {
			r = lp_diag_fail(diag, r, "file name too long");
			goto out;
		}
		c.base_dir = strdup(dir);
		if (!c.base_dir) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		r = -ENOMEM;
		goto out;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		lp_diag_set_pos(diag, (unsigned)parser.problem_mark.line + 1,
				(unsigned)parser.problem_mark.column + 1);
		r = lp_diag_fail(diag, -EINVAL, "YAML syntax error: %s%s%s",
				 parser.problem ? parser.problem : "unknown problem",
				 parser.context ? " " : "", parser.context ? parser.context : "");
		goto out;
	}
	doc_ok = true;
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		r = lp_diag_fail(diag, -EINVAL, "empty inventory (expected a \"boards\" mapping)");
		goto out;
	}
	/* a second document in the same stream is not allowed */
	{
		yaml_document_t extra;

		if (!yaml_parser_load(&parser, &extra)) {
			lp_diag_set_pos(diag, (unsigned)parser.problem_mark.line + 1,
					(unsigned)parser.problem_mark.column + 1);
			r = lp_diag_fail(diag, -EINVAL, "YAML syntax error: %s",
					 parser.problem ? parser.problem : "unknown problem");
			goto out;
		}
		if (yaml_document_get_root_node(&extra)) {
			lp_diag_set_pos(diag, (unsigned)extra.start_mark.line + 1,
					(unsigned)extra.start_mark.column + 1);
			yaml_document_delete(&extra);
			r = lp_diag_fail(diag, -EINVAL, "only one YAML document is allowed");
			goto out;
		}
		yaml_document_delete(&extra);
	}
	inv->base_dir = strdup(c.base_dir);
	if (!inv->base_dir) {
		r = -ENOMEM;
		goto out;
	}
	r = parse_root(&c, root, inv);
	if (r < 0)
		goto out;
	*ret_inv = inv;
	inv = NULL;
	r = 0;
out:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	free(c.base_dir);
	lp_hil_inventory_free(inv);
	return r;
}

int lp_hil_inventory_load(const char *path, struct lp_hil_inventory **ret_inv,
			  struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	lp_diag_clear(diag);
	lp_diag_set_file(diag, path);
	r = lp_fs_read_file(path, LP_HIL_INVENTORY_MAX_SIZE, &buf, &len);
	if (r == -EFBIG) /* -E2BIG, as lp_hil_inventory_parse says it */
		return lp_diag_fail(diag, -E2BIG, "larger than %u bytes", LP_HIL_INVENTORY_MAX_SIZE);
	if (r < 0)
		return lp_diag_fail(diag, r, "cannot read: %s", strerror(-r));
	r = lp_hil_inventory_parse(buf, len, path, ret_inv, diag);
	free(buf);
	return r;
}

static void free_board(struct lp_hil_board_config *b)
{
	free(b->name);
	free(b->target);
	free(b->power.chip);
	free(b->power.line_name);
	free(b->power.consumer);
	free(b->power.on_cmd);
	free(b->power.off_cmd);
	free(b->power.cycle_cmd);
	free(b->power.status_cmd);
	lp_hil_strv_free(b->power.argv);
	lp_hil_strv_free(b->provision.argv);
	free(b->provision.backend_url);
	free(b->provision.listen);
	free(b->power.message);
	free(b->console.port);
	free(b->console.host);
	free(b->console.path);
	free(b->shell.prompt);
	free(b->shell.login_prompt);
	free(b->shell.password_prompt);
	free(b->shell.username);
	free(b->shell.password);
	free(b->boot.until);
	lp_hil_strv_free(b->boot.failure);
}

void lp_hil_inventory_free(struct lp_hil_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n_boards; i++)
		free_board(&inv->boards[i]);
	free(inv->boards);
	free(inv->file);
	free(inv->base_dir);
	free(inv->state_dir);
	free(inv->lock_db);
	free(inv->log_dir);
	free(inv);
}

const struct lp_hil_board_config *lp_hil_inventory_find(const struct lp_hil_inventory *inv,
							const char *name)
{
	for (size_t i = 0; inv && i < inv->n_boards; i++)
		if (strcmp(inv->boards[i].name, name) == 0)
			return &inv->boards[i];
	return NULL;
}

const char *lp_hil_power_kind_name(enum lp_hil_power_kind k)
{
	static const char *const names[] = {"gpiod", "command", "qemu", "manual"};

	return (unsigned)k < LP_ARRAY_SIZE(names) ? names[k] : "?";
}

const char *lp_hil_console_kind_name(enum lp_hil_console_kind k)
{
	static const char *const names[] = {"serial", "tcp", "unix", "qemu"};

	return (unsigned)k < LP_ARRAY_SIZE(names) ? names[k] : "?";
}

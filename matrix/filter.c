/* SPDX-License-Identifier: MIT */
/*
 * Selecting cases: --only K=V,… (exact values), --filter EXPR and --shard I/N.
 *
 * The expression language (docs/matrix.md, "Filters"):
 *
 *	expr    := or
 *	or      := and { "||" and }
 *	and     := unary { "&&" unary }
 *	unary   := "!" unary | "(" or ")" | key op value
 *	op      := "==" | "!=" | "=~"          (=~: POSIX extended regex, unanchored)
 *	key     := [A-Za-z_][A-Za-z0-9_-]*     (an axis, "scenario" or an extra key)
 *	value   := bare word | '…' | "…"       (\\ and \<quote> escape inside quotes;
 *	                                         bare words stop at space ( ) ! & | = ' ")
 *
 * A key a case does not have (a configuration axis an include-made combo leaves out, an
 * extra key of another combo) is never equal: == and =~ are false, != is true.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopline/regex.h"
#include "matrix.h"

#define MX_FILTER_DEPTH_MAX 64
#define MX_ONLY_MAX 64

enum node_type { N_EQ, N_NE, N_RE, N_AND, N_OR, N_NOT };

struct node {
	enum node_type type;
	int left, right;        /* children (AND, OR: both; NOT: left) */
	char key[MX_NAME_MAX];  /* comparisons */
	char *value;
	regex_t re;
	bool re_ok;
	unsigned column;        /* of the key, 1-based */
};

struct only_kv {
	char key[MX_NAME_MAX];
	char value[MX_VALUE_TEXT_MAX];
	unsigned column;
};

struct mx_filter {
	struct only_kv only[MX_ONLY_MAX];
	size_t n_only;
	struct node *nodes;
	size_t n_nodes;
	int root;               /* -1: no expression */
	unsigned shard, shards; /* 1-based; shards 0: no sharding */
};

/* ---- errors ---- */

static int fail_col(struct lp_diag *diag, const char *what, size_t column, const char *fmt, ...)
	LP_PRINTF(4, 5);
static int fail_col(struct lp_diag *diag, const char *what, size_t column, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX - 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_diag_clear(diag);
	lp_diag_set_path(diag, what);
	lp_diag_set_pos(diag, 0, (unsigned)column);
	return lp_diag_fail(diag, -EINVAL, "column %zu: %s", column, msg);
}

/* ---- the expression parser ---- */

struct parser {
	const char *text;
	size_t pos;
	unsigned depth;
	struct mx_filter *f;
	struct lp_diag *diag;
};

static int pfail(struct parser *p, size_t pos, const char *fmt, ...) LP_PRINTF(3, 4);
static int pfail(struct parser *p, size_t pos, const char *fmt, ...)
{
	char msg[LP_DIAG_MSG_MAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail_col(p->diag, "--filter", pos + 1, "%s", msg);
}

static void skip_ws(struct parser *p)
{
	while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n')
		p->pos++;
}

static bool bare_char(char ch)
{
	return ch && !strchr(" \t\n()!&|='\"", ch);
}

static bool key_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (!first && ((ch >= '0' && ch <= '9') || ch == '-'));
}

/* What is at pos, for messages: "end of the expression" or "\"x\"". */
static const char *found(const struct parser *p, size_t pos, char *buf, size_t len)
{
	if (!p->text[pos])
		snprintf(buf, len, "the end");
	else
		snprintf(buf, len, "\"%.12s\"", p->text + pos);
	return buf;
}

static int new_node(struct parser *p, enum node_type type, size_t pos, int *ret)
{
	struct node *n;

	if (p->f->n_nodes >= MX_FILTER_NODES_MAX)
		return pfail(p, pos, "more than %d terms", MX_FILTER_NODES_MAX);
	n = &p->f->nodes[p->f->n_nodes];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->left = n->right = -1;
	n->column = (unsigned)pos + 1;
	*ret = (int)p->f->n_nodes++;
	return 0;
}

static int parse_value(struct parser *p, char **ret)
{
	size_t start = p->pos, len = 0;
	char q = p->text[p->pos], *v, buf[16];

	if (q == '\'' || q == '"') {
		size_t i = p->pos + 1;

		v = malloc(strlen(p->text + i) + 1);
		if (!v)
			return -ENOMEM;
		for (; p->text[i] && p->text[i] != q; i++) {
			if (p->text[i] == '\\' && (p->text[i + 1] == q || p->text[i + 1] == '\\'))
				i++;
			v[len++] = p->text[i];
		}
		if (!p->text[i]) {
			free(v);
			return pfail(p, start, "unclosed quote");
		}
		v[len] = '\0';
		p->pos = i + 1;
		*ret = v;
		return 0;
	}
	while (bare_char(p->text[p->pos]))
		p->pos++;
	if (p->pos == start)
		return pfail(p, start, "expected a value, found %s", found(p, start, buf, sizeof(buf)));
	v = strndup(p->text + start, p->pos - start);
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

static int parse_compare(struct parser *p, int *ret)
{
	static const struct {
		const char *op;
		enum node_type type;
	} ops[] = { { "==", N_EQ }, { "!=", N_NE }, { "=~", N_RE } };
	size_t start = p->pos, op_pos, key_len;
	char buf[32];
	struct node *n;
	int r, idx = -1;

	while (key_char(p->text[p->pos], p->pos == start))
		p->pos++;
	if (p->pos == start)
		return pfail(p, start, "expected a key, found %s", found(p, start, buf, sizeof(buf)));
	if (p->pos - start >= MX_NAME_MAX)
		return pfail(p, start, "key longer than %d characters", MX_NAME_MAX - 1);
	key_len = p->pos - start;
	skip_ws(p);
	op_pos = p->pos;
	for (size_t i = 0; i < LP_ARRAY_SIZE(ops); i++)
		if (strncmp(p->text + p->pos, ops[i].op, 2) == 0) {
			if ((r = new_node(p, ops[i].type, start, &idx)) < 0)
				return r;
			p->pos += 2;
			break;
		}
	if (idx < 0)
		return pfail(p, op_pos, "expected ==, != or =~ after \"%.*s\", found %s",
			     (int)key_len, p->text + start, found(p, op_pos, buf, sizeof(buf)));
	n = &p->f->nodes[idx];
	memcpy(n->key, p->text + start, key_len);
	n->key[key_len] = '\0';
	skip_ws(p);
	op_pos = p->pos;
	if ((r = parse_value(p, &n->value)) < 0)
		return r;
	if (n->type == N_RE) {
		char err[128];

		r = lp_regex_compile(&n->re, n->value, REG_EXTENDED | REG_NOSUB, err, sizeof(err));
		if (r < 0)
			return pfail(p, op_pos, "bad regular expression: %s", err);
		n->re_ok = true;
	}
	*ret = idx;
	return 0;
}

static int parse_or(struct parser *p, int *ret);

static int parse_unary(struct parser *p, int *ret)
{
	size_t start;
	char buf[32];
	int r, idx, child;

	skip_ws(p);
	start = p->pos;
	if (p->depth >= MX_FILTER_DEPTH_MAX)
		return pfail(p, start, "nested deeper than %d levels", MX_FILTER_DEPTH_MAX);
	if (p->text[p->pos] == '!' && p->text[p->pos + 1] != '=') {
		p->pos++;
		p->depth++;
		r = parse_unary(p, &child);
		p->depth--;
		if (r < 0 || (r = new_node(p, N_NOT, start, &idx)) < 0)
			return r;
		p->f->nodes[idx].left = child;
		*ret = idx;
		return 0;
	}
	if (p->text[p->pos] == '(') {
		p->pos++;
		p->depth++;
		r = parse_or(p, ret);
		p->depth--;
		if (r < 0)
			return r;
		skip_ws(p);
		if (p->text[p->pos] != ')')
			return pfail(p, p->pos, "expected ) to close the ( at column %zu, found %s",
				     start + 1, found(p, p->pos, buf, sizeof(buf)));
		p->pos++;
		return 0;
	}
	return parse_compare(p, ret);
}

/* A chain of one binary operator: and := unary { "&&" unary }, or := and { "||" and }. */
static int parse_chain(struct parser *p, enum node_type type, int *ret)
{
	const char *op = type == N_AND ? "&&" : "||";
	int r, left, right, idx;

	r = type == N_AND ? parse_unary(p, &left) : parse_chain(p, N_AND, &left);
	if (r < 0)
		return r;
	for (;;) {
		size_t at;

		skip_ws(p);
		at = p->pos;
		if (strncmp(p->text + p->pos, op, 2) != 0)
			break;
		p->pos += 2;
		r = type == N_AND ? parse_unary(p, &right) : parse_chain(p, N_AND, &right);
		if (r < 0 || (r = new_node(p, type, at, &idx)) < 0)
			return r;
		p->f->nodes[idx].left = left;
		p->f->nodes[idx].right = right;
		left = idx;
	}
	*ret = left;
	return 0;
}

static int parse_or(struct parser *p, int *ret)
{
	return parse_chain(p, N_OR, ret);
}

static int parse_expr(struct mx_filter *f, const char *text, struct lp_diag *diag)
{
	struct parser p = { .text = text, .f = f, .diag = diag };
	char buf[32];
	int r;

	if (strlen(text) > MX_FILTER_TEXT_MAX)
		return fail_col(diag, "--filter", 1, "longer than %d characters", MX_FILTER_TEXT_MAX);
	f->nodes = calloc(MX_FILTER_NODES_MAX, sizeof(*f->nodes));
	if (!f->nodes)
		return -ENOMEM;
	skip_ws(&p);
	if (!text[p.pos])
		return pfail(&p, p.pos, "empty expression");
	if ((r = parse_or(&p, &f->root)) < 0)
		return r;
	skip_ws(&p);
	if (text[p.pos])
		return pfail(&p, p.pos, "expected && or || or the end, found %s",
			     found(&p, p.pos, buf, sizeof(buf)));
	return 0;
}

/* ---- --only and --shard ---- */

static int parse_only(struct mx_filter *f, const char *text, struct lp_diag *diag)
{
	size_t pos = 0, len = strlen(text);

	if (len > MX_FILTER_TEXT_MAX)
		return fail_col(diag, "--only", 1, "longer than %d characters", MX_FILTER_TEXT_MAX);
	for (;;) {
		size_t end = pos + strcspn(text + pos, ","), eq = pos + strcspn(text + pos, "=,");
		struct only_kv *kv = &f->only[f->n_only];

		if (f->n_only >= MX_ONLY_MAX)
			return fail_col(diag, "--only", pos + 1, "more than %d pairs", MX_ONLY_MAX);
		if (eq == end || eq == pos || eq + 1 == end)
			return fail_col(diag, "--only", pos + 1, "expected KEY=VALUE, found \"%.*s\"",
					(int)(end - pos), text + pos);
		if (eq - pos >= sizeof(kv->key) || end - eq - 1 >= sizeof(kv->value))
			return fail_col(diag, "--only", pos + 1, "key or value too long");
		memcpy(kv->key, text + pos, eq - pos);
		kv->key[eq - pos] = '\0';
		if (!mx_name_valid(kv->key, MX_NAME_KEY))
			return fail_col(diag, "--only", pos + 1, "\"%s\" is not a key", kv->key);
		memcpy(kv->value, text + eq + 1, end - eq - 1);
		kv->value[end - eq - 1] = '\0';
		kv->column = (unsigned)pos + 1;
		f->n_only++;
		if (!text[end])
			return 0;
		pos = end + 1;
	}
}

static int parse_uint(const char *s, size_t len, unsigned *ret)
{
	unsigned v = 0;

	if (len == 0 || len > 9 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

static int parse_shard(struct mx_filter *f, const char *text, struct lp_diag *diag)
{
	const char *slash = strchr(text, '/');

	if (!slash || parse_uint(text, (size_t)(slash - text), &f->shard) < 0 ||
	    parse_uint(slash + 1, strlen(slash + 1), &f->shards) < 0 || f->shard > f->shards ||
	    f->shards > MX_SHARDS_MAX) {
		lp_diag_clear(diag);
		lp_diag_set_path(diag, "--shard");
		return lp_diag_fail(diag, -EINVAL,
				    "expected I/N with 1 <= I <= N <= %d (e.g. 2/4), found \"%s\"",
				    MX_SHARDS_MAX, text);
	}
	return 0;
}

int mx_filter_parse(const char *only, const char *expr, const char *shard,
		    struct mx_filter **ret_filter, struct lp_diag *diag)
{
	struct mx_filter *f = calloc(1, sizeof(*f));
	int r = 0;

	if (!f)
		return -ENOMEM;
	f->root = -1;
	lp_diag_clear(diag);
	if ((only && (r = parse_only(f, only, diag)) < 0) ||
	    (expr && (r = parse_expr(f, expr, diag)) < 0) ||
	    (shard && (r = parse_shard(f, shard, diag)) < 0)) {
		mx_filter_free(f);
		return r;
	}
	*ret_filter = f;
	return 0;
}

void mx_filter_free(struct mx_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->nodes && i < f->n_nodes; i++) {
		free(f->nodes[i].value);
		if (f->nodes[i].re_ok)
			regfree(&f->nodes[i].re);
	}
	free(f->nodes);
	free(f);
}

/* ---- applying it ---- */

static bool eval(const struct mx_filter *f, int idx, const struct mx_plan *p,
		 const struct mx_case *c)
{
	const struct node *n = &f->nodes[idx];
	const char *v;

	switch (n->type) {
	case N_AND:
		return eval(f, n->left, p, c) && eval(f, n->right, p, c);
	case N_OR:
		return eval(f, n->left, p, c) || eval(f, n->right, p, c);
	case N_NOT:
		return !eval(f, n->left, p, c);
	default:
		break;
	}
	v = mx_case_get(p, c, n->key);
	if (n->type == N_EQ)
		return v && strcmp(v, n->value) == 0;
	if (n->type == N_NE)
		return !v || strcmp(v, n->value) != 0;
	return v && regexec(&n->re, v, 0, NULL, 0) == 0;
}

/* Every pair of --only whose key matches must hold; a key given twice is either value. */
static bool only_matches(const struct mx_filter *f, const struct mx_plan *p,
			 const struct mx_case *c)
{
	for (size_t i = 0; i < f->n_only; i++) {
		const char *v = mx_case_get(p, c, f->only[i].key);
		bool any = false, first = true;

		for (size_t j = 0; j < i && first; j++)
			first = strcmp(f->only[j].key, f->only[i].key) != 0;
		if (!first)
			continue; /* decided with the first pair of this key */
		for (size_t j = i; j < f->n_only && !any; j++)
			any = strcmp(f->only[j].key, f->only[i].key) == 0 && v &&
			      strcmp(v, f->only[j].value) == 0;
		if (!any)
			return false;
	}
	return true;
}

static bool key_known(const struct mx_plan *p, const char *key)
{
	if (strcmp(key, "scenario") == 0 || mx_spec_axis(p->spec, key) >= 0)
		return true;
	for (size_t i = 0; i < p->n_cases; i++)
		if (cJSON_GetObjectItemCaseSensitive(p->cases[i].extra, key))
			return true;
	return false;
}

static int check_keys(const struct mx_plan *p, const struct mx_filter *f, struct lp_diag *diag)
{
	static const char hint[] = "(keys: the axes, scenario and extra keys of include entries)";

	for (size_t i = 0; i < f->n_only; i++)
		if (!key_known(p, f->only[i].key))
			return fail_col(diag, "--only", f->only[i].column, "unknown key \"%s\" %s",
					f->only[i].key, hint);
	for (size_t i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].key[0] && !key_known(p, f->nodes[i].key))
			return fail_col(diag, "--filter", f->nodes[i].column, "unknown key \"%s\" %s",
					f->nodes[i].key, hint);
	return 0;
}

int mx_plan_filter(struct mx_plan *p, const struct mx_filter *f, struct lp_diag *diag)
{
	size_t n_cases = 0, n_combos = 0, survivors = 0;
	unsigned *map;
	int r;

	if (!f)
		return 0;
	if ((r = check_keys(p, f, diag)) < 0)
		return r;
	map = malloc((p->n_combos ? p->n_combos : 1) * sizeof(*map));
	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_combos; i++)
		map[i] = UINT_MAX;
	/* keep the selected cases; a combo keeps its old place until the shard decides */
	for (size_t i = 0; i < p->n_cases; i++) {
		struct mx_case *c = &p->cases[i];
		bool keep = only_matches(f, p, c) && (f->root < 0 || eval(f, f->root, p, c));

		if (keep && map[c->combo] == UINT_MAX)
			map[c->combo] = f->shards && survivors++ % f->shards != f->shard - 1
						? UINT_MAX - 1 /* another shard's */
						: (unsigned)n_combos++;
		if (!keep || map[c->combo] >= UINT_MAX - 1) {
			cJSON_Delete(c->extra);
			continue;
		}
		c->combo = map[c->combo];
		p->cases[n_cases++] = *c;
	}
	p->n_cases = n_cases;
	for (size_t i = 0; i < p->n_combos; i++) {
		if (map[i] >= UINT_MAX - 1) {
			cJSON_Delete(p->combos[i].extra);
			continue;
		}
		p->combos[map[i]] = p->combos[i];
		p->combos[map[i]].required = false;
	}
	p->n_combos = n_combos;
	for (size_t i = 0; i < n_cases; i++)
		p->combos[p->cases[i].combo].required |= p->cases[i].required;
	free(map);
	return 0;
}

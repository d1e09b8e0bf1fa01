/* SPDX-License-Identifier: MIT */
/*
 * matrix/spec.c and in-use.c: good specs read into exactly the model matrix.h describes
 * (axis order, sources, the implicit current, targets from an inventory, config, firmware,
 * scenarios, include/exclude/required), and bad specs refused with the exact
 * FILE:LINE:COL, element path and message — one table row per mistake a user makes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopline/hash.h"
#include "loopline/json.h"
#include "matrix.h"
#include "mx-fixture.h"

static char repo[256];

static int setup(void **state)
{
	return mx_fixture_make(repo, sizeof(repo));
}

static int teardown(void **state)
{
	mx_fixture_remove(repo);
	return 0;
}

static int parse(const char *text, struct mx_spec **ret, struct lp_diag *diag)
{
	return mx_spec_parse(text, strlen(text), "spec.yaml", repo, ret, diag);
}

static struct mx_spec *parse_ok(const char *text)
{
	struct mx_spec *s = mx_fixture_spec(repo, text);

	assert_non_null(s);
	return s;
}

#define CORE                                 \
	"axes:\n"                            \
	"  target: [qemu-x86_64]\n"          \
	"  backend: [current]\n"             \
	"  agent: [current]\n"               \
	"  from: [1.0.0]\n"                  \
	"  to: [1.1.0]\n"
#define SC "scenarios: [update]\n"

static const char full[] =
	"name: nightly\n"
	"axes:\n"
	"  payload: [zstd, raw]\n"                                   /* 3: before the core axes */
	"  target:  [qemu-x86_64, qemu-aarch64, rpi4-01]\n"
	"  backend: [current, previous]\n"
	"  agent:   [current, previous, pre]\n"
	"  from:    [1.0.0]\n"
	"  to:      [1.1.0, {version: 1.2.0, agent: previous}, {version: 1.2.0, name: 1.2.0-old, agent: pre}]\n"
	"  auth:    [token, mtls]\n"
	"config:\n"
	"  payload:\n"
	"    zstd: {package: {compression: zstd, level: 19}}\n"
	"    raw:  {package: {compression: none}}\n"
	"  auth:\n"
	"    mtls: {agent: {tls: {cert: c.pem}}, backend: {mtls: true}, vars: {AUTH: mtls, PORT: 8443}}\n"
	"components:\n"
	"  agent:\n"
	"    previous: {git: v0.1.0}\n"
	"    pre: {prebuilt: {x86_64: bin/agent-x86_64, aarch64: bin/agent-aarch64}}\n"
	"    spare: {path: agent-src}\n"
	"  backend: {previous: {prebuilt: bin/backend}}\n"
	"firmware:\n"
	"  1.0.0: {prebuilt: {qemu-x86_64: fw/1.0.0-x86_64.lpkg}}\n"
	"scenarios: [update, rollback-health, {name: power-cut, timeout: 15m}]\n"
	"inventory: rack.yaml\n"
	"timeout: 20m\n"
	"exclude:\n"
	"  - {agent: previous, target: qemu-aarch64}\n"
	"  - {agent: current, scenario: power-cut}\n"
	"include:\n"
	"  - {target: qemu-x86_64, boot_timeout: 120}\n"
	"required:\n"
	"  - {target: qemu-x86_64}\n"
	"  - {target: rpi4-01, scenario: update}\n";

static void test_full(void **state)
{
	struct mx_spec *s = parse_ok(full);
	const struct mx_axis *a;
	const struct mx_component *comp;
	char path[512];
	uint8_t digest[LP_HASH_MAX_LEN];
	char *json;

	assert_string_equal(s->name, "nightly");
	assert_string_equal(s->path, "spec.yaml");
	assert_string_equal(s->repo_root, repo);
	assert_string_equal(s->base_dir, repo);
	assert_int_equal(lp_hash_buffer(LP_HASH_SHA256, full, strlen(full), digest), 0);
	assert_int_equal(strlen(s->sha256), 64);
	/* core axes first in enum order, then configuration axes in file order */
	assert_int_equal(s->n_axes, 7);
	assert_string_equal(s->axes[MX_AXIS_TARGET].name, "target");
	assert_string_equal(s->axes[MX_AXIS_TO].name, "to");
	assert_string_equal(s->axes[5].name, "payload");
	assert_string_equal(s->axes[6].name, "auth");
	assert_int_equal(mx_spec_axis(s, "auth"), 6);
	assert_int_equal(mx_spec_axis(s, "colour"), -1);
	assert_int_equal(s->axes[5].line, 3);
	assert_int_equal(s->axes[5].column, 3);

	a = &s->axes[MX_AXIS_TARGET];
	assert_int_equal(a->n_values, 3);
	assert_int_equal(a->values[0].target_kind, MX_TARGET_QEMU);
	assert_int_equal(a->values[2].target_kind, MX_TARGET_BOARD);
	assert_string_equal(a->values[2].target_type, "rpi4");
	assert_int_equal(a->values[1].line, 4);
	assert_int_equal(a->values[1].column, 26);

	/* sources: current is this repository when not listed */
	a = &s->axes[MX_AXIS_AGENT];
	assert_int_equal(a->values[0].source.kind, MX_SOURCE_PATH);
	assert_string_equal(a->values[0].source.path, repo);
	assert_int_equal(a->values[1].source.kind, MX_SOURCE_GIT);
	assert_string_equal(a->values[1].source.git, "v0.1.0");
	assert_int_equal(a->values[2].source.kind, MX_SOURCE_PREBUILT);
	snprintf(path, sizeof(path), "%s/bin/agent-x86_64", repo);
	assert_string_equal(a->values[2].source.path, path);
	snprintf(path, sizeof(path), "%s/bin/agent-aarch64", repo);
	assert_string_equal(a->values[2].source.prebuilt_aarch64, path);
	comp = mx_spec_component(s, MX_AXIS_AGENT, "spare");
	assert_non_null(comp);
	snprintf(path, sizeof(path), "%s/agent-src", repo);
	assert_string_equal(comp->source.path, path);
	assert_null(mx_spec_component(s, MX_AXIS_AGENT, "nope"));
	assert_null(mx_spec_component(s, MX_AXIS_TARGET, "current"));
	a = &s->axes[MX_AXIS_BACKEND];
	assert_string_equal(a->values[0].source.path, repo);
	assert_int_equal(a->values[1].source.kind, MX_SOURCE_PREBUILT);
	assert_non_null(mx_spec_component(s, MX_AXIS_BACKEND, "current"));

	/* to: the agent its firmware carries, always named */
	a = &s->axes[MX_AXIS_TO];
	assert_int_equal(a->n_values, 3);
	assert_string_equal(a->values[0].name, "1.1.0");
	assert_string_equal(a->values[0].version, "1.1.0");
	assert_string_equal(a->values[0].to_agent, "current");
	assert_string_equal(a->values[1].name, "1.2.0");
	assert_string_equal(a->values[1].to_agent, "previous");
	assert_string_equal(a->values[2].name, "1.2.0-old");
	assert_string_equal(a->values[2].version, "1.2.0");
	assert_string_equal(a->values[2].to_agent, "pre");
	assert_string_equal(s->axes[MX_AXIS_FROM].values[0].version, "1.0.0");

	/* config */
	a = &s->axes[5];
	json = cJSON_PrintUnformatted(a->values[0].settings.package);
	assert_string_equal(json, "{\"compression\":\"zstd\",\"level\":19}");
	free(json);
	assert_null(a->values[0].settings.vars);
	a = &s->axes[6];
	assert_null(a->values[0].settings.package); /* token: no config entry, nothing applied */
	json = cJSON_PrintUnformatted(a->values[1].settings.vars);
	assert_string_equal(json, "{\"AUTH\":\"mtls\",\"PORT\":\"8443\"}");
	free(json);
	json = cJSON_PrintUnformatted(a->values[1].settings.agent);
	assert_string_equal(json, "{\"tls\":{\"cert\":\"c.pem\"}}");
	free(json);
	json = cJSON_PrintUnformatted(a->values[1].settings.backend);
	assert_string_equal(json, "{\"mtls\":true}");
	free(json);

	/* firmware, scenarios, timeouts, inventory */
	snprintf(path, sizeof(path), "%s/fw/1.0.0-x86_64.lpkg", repo);
	assert_string_equal(mx_spec_firmware_pkg(s, "1.0.0", "qemu-x86_64"), path);
	assert_null(mx_spec_firmware_pkg(s, "1.0.0", "qemu-aarch64"));
	assert_null(mx_spec_firmware_pkg(s, "1.1.0", "qemu-x86_64"));
	assert_int_equal(s->n_scenarios, 3);
	assert_string_equal(s->scenarios[2].name, "power-cut");
	assert_int_equal(s->scenarios[2].timeout_ms, 15 * 60 * 1000);
	assert_int_equal(s->scenarios[0].timeout_ms, 0);
	assert_int_equal(mx_spec_scenario(s, "rollback-health"), 1);
	assert_int_equal(s->default_timeout_ms, 20 * 60 * 1000);
	snprintf(path, sizeof(path), "%s/matrix/scenarios", repo);
	assert_string_equal(s->scenario_dir, path);
	snprintf(path, sizeof(path), "%s/rack.yaml", repo);
	assert_string_equal(s->inventory, path);

	/* entries */
	assert_int_equal(s->n_exclude, 2);
	assert_int_equal(s->exclude[1].n, 2);
	assert_int_equal(s->exclude[1].kv[1].axis, MX_MATCH_SCENARIO);
	assert_string_equal(s->exclude[1].kv[1].value, "power-cut");
	assert_int_equal(s->exclude[0].kv[0].axis, MX_AXIS_AGENT);
	assert_int_equal(s->n_include, 1);
	assert_int_equal(s->include[0].kv[1].axis, MX_MATCH_EXTRA);
	assert_string_equal(s->include[0].kv[1].key, "boot_timeout");
	assert_string_equal(s->include[0].kv[1].value, "120");
	assert_int_equal(s->include[0].line, 31);
	assert_int_equal(s->include[0].column, 5);
	assert_int_equal(s->n_required, 2);
	assert_false(s->in_use.enabled);
	mx_spec_free(s);
}

static void test_defaults(void **state)
{
	struct mx_spec *s = NULL;
	struct lp_diag d;
	const char *text = CORE SC "required: {target: qemu-x86_64}\n";
	char name[MX_NAME_MAX];

	assert_int_equal(mx_spec_parse(text, strlen(text), "ci/my spec.yml", repo, &s, &d), 0);
	assert_string_equal(s->name, "my-spec");
	assert_int_equal(s->default_timeout_ms, 10 * 60 * 1000);
	assert_string_equal(s->inventory, "");
	assert_int_equal(s->n_axes, MX_CORE_AXES);
	assert_int_equal(s->n_required, 1); /* a single mapping is a one-entry list */
	assert_int_equal(s->n_include + s->n_exclude, 0);
	assert_int_equal(s->n_agents, 1);
	assert_string_equal(s->agents[0].name, "current");
	assert_int_equal(s->agents[0].line, 0);
	mx_spec_free(s);

	mx_spec_default_name("matrix/default.yaml", name);
	assert_string_equal(name, "default");
	mx_spec_default_name("x.json", name);
	assert_string_equal(name, "x.json");
	mx_spec_default_name(".yaml", name);
	assert_string_equal(name, "spec");
	mx_spec_free(NULL);
}

static void test_outside_repo(void **state)
{
	char dir[512], sdir[600];
	struct mx_spec *s = NULL;
	struct lp_diag d;
	char buf[1024];
	const char *text;

	/* a directory without .git anywhere above: /tmp itself */
	snprintf(dir, sizeof(dir), "/tmp");
	text = CORE SC;
	assert_int_equal(mx_spec_parse(text, strlen(text), "spec.yaml", dir, &s, &d), -EINVAL);
	lp_diag_format(&d, buf, sizeof(buf));
	assert_non_null(strstr(buf, "spec.yaml:7:12: scenario_dir: /tmp is not inside a git "
				    "repository, so say where the scenario files are"));

	snprintf(sdir, sizeof(sdir), "scenario_dir: %s/other-scenarios\n"
				     "components: {agent: {current: {path: /tmp}}, backend: "
				     "{current: {path: /tmp}}}\n" CORE "scenarios: [extra]\n", repo);
	assert_int_equal(mx_spec_parse(sdir, strlen(sdir), "spec.yaml", dir, &s, &d), 0);
	assert_string_equal(s->repo_root, "");
	assert_string_equal(s->base_dir, "/tmp");
	mx_spec_free(s);
	s = NULL;

	/* current has no default outside a repository */
	snprintf(sdir, sizeof(sdir), "scenario_dir: %s/other-scenarios\n" CORE "scenarios: [extra]\n",
		 repo);
	assert_int_equal(mx_spec_parse(sdir, strlen(sdir), "spec.yaml", dir, &s, &d), -EINVAL);
	lp_diag_format(&d, buf, sizeof(buf));
	assert_non_null(strstr(buf, "spec.yaml:4:13: axes.backend[0]: backend \"current\" has no "
				    "source: /tmp is not inside a git repository"));

	/* git sources need a repository */
	snprintf(sdir, sizeof(sdir), "scenario_dir: %s/other-scenarios\n"
				     "components: {agent: {current: {git: HEAD}}}\n" CORE
				     "scenarios: [extra]\n", repo);
	assert_int_equal(mx_spec_parse(sdir, strlen(sdir), "spec.yaml", dir, &s, &d), -EINVAL);
	assert_string_equal(d.path, "components.agent.current.git");
	assert_non_null(strstr(d.msg, "is not inside one"));
}

struct bad {
	const char *text;
	unsigned line, column;
	const char *path;
	const char *msg;
};

static const struct bad bad[] = {
	/* the document */
	{ "", 0, 0, "", "empty spec (expected axes: and scenarios:)" },
	{ "axes: [\n", 2, 1, "", "YAML syntax error" },
	{ CORE SC "colour: red\n", 8, 1, "colour", "unknown key \"colour\"" },
	{ CORE SC "axes: {}\n", 8, 1, "axes", "duplicate key \"axes\" (first at line 1)" },
	{ SC, 1, 1, "axes", "missing required key \"axes\"" },
	{ CORE, 1, 1, "scenarios", "missing required key \"scenarios\"" },
	{ "axes: [target]\n" SC, 1, 7, "axes", "expected a mapping, found a list" },
	{ CORE SC "x: &a 1\ny: *a\n", 9, 4, "", "aliases (*a) are not allowed" },
	{ "name: 'my spec'\n" CORE SC, 1, 7, "name", "\"my spec\" is not a valid name" },
	{ CORE SC "timeout: 0\n", 8, 10, "timeout", "0 is out of range (1s..24h)" },
	{ CORE SC "timeout: soon\n", 8, 10, "timeout", "expected a duration" },
	/* axes */
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n" SC, 2, 3, "axes.to", "missing core axis \"to\"" },
	{ "axes:\n  target: qemu-x86_64\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [1.1.0]\n" SC, 2, 11, "axes.target",
	  "expected a list, found a scalar" },
	{ "axes:\n  target: []\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [1.1.0]\n" SC, 2, 11, "axes.target", "must not be empty" },
	{ "axes:\n  target: [qemu-x86_64, qemu-riscv]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [1.1.0]\n" SC, 2, 25, "axes.target[1]",
	  "unknown target \"qemu-riscv\": qemu-x86_64, qemu-aarch64 or a board of the inventory "
	  "(no inventory given)" },
	{ "inventory: rack.yaml\naxes:\n  target: [rpi4-02]\n  backend: [current]\n"
	  "  agent: [current]\n  from: [1.0.0]\n  to: [1.1.0]\n" SC, 3, 12, "axes.target[0]",
	  "unknown target \"rpi4-02\"" },
	{ CORE "  backend: [previous]\n" SC, 7, 3, "axes.backend",
	  "duplicate axis \"backend\" (first at line 3)" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current, current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [1.1.0]\n" SC, 3, 22, "axes.backend[1]",
	  "duplicate value \"current\" (first at line 3)" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [-1]\n  to: [1.1.0]\n" SC, 5, 10, "axes.from[0]", "\"-1\" is not a valid name" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [1.1.0]\n  payload: [{zstd: 1}]\n" SC, 7, 13, "axes.payload[0]",
	  "expected a value name, found a mapping" },
	{ CORE "  scenario: [a]\n" SC, 7, 3, "axes.scenario", "\"scenario\" is not an axis" },
	{ CORE "  9lives: [a]\n" SC, 7, 3, "axes.9lives", "\"9lives\" is not a valid axis name" },
	{ CORE "  a: [x]\n  b: [x]\n  c: [x]\n  d: [x]\n  e: [x]\n  f: [x]\n  g: [x]\n"
	       "  h: [x]\n  i: [x]\n  j: [x]\n  k: [x]\n  l: [x]\n" SC, 2, 3, "axes",
	  "at most 16 axes (the 5 core axes and 11 configuration axes), found 17" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current, old]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [1.1.0]\n" SC, 3, 22, "axes.backend[1]",
	  "backend \"old\" has no source: add it under components.backend (path, git or prebuilt)" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [{agent: previous}]\n" SC, 6, 8, "axes.to[0].version",
	  "missing required key \"version\"" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [1.0.0]\n  to: [{version: 1.2.0, agent: ancient}]\n" SC, 6, 8, "axes.to[0]",
	  "agent \"ancient\" has no source: add it under components.agent" },
	{ "components: {agent: {previous: {git: v1}}}\naxes:\n  target: [qemu-x86_64]\n"
	  "  backend: [current]\n  agent: [current]\n  from: [1.0.0]\n"
	  "  to: [1.1.0, {version: 1.1.0, agent: previous}]\n" SC, 7, 15, "axes.to[1]",
	  "duplicate value \"1.1.0\" (first at line 7); one version with two agents needs a name" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: {in-use: ftp://backend}\n  to: [1.1.0]\n" SC, 5, 18, "axes.from.in-use",
	  "expected the backend's URL (https://…), found \"ftp://backend\"" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: {in-use: https://b, tokn: x}\n  to: [1.1.0]\n" SC, 5, 29, "axes.from.tokn",
	  "unknown key \"tokn\"" },
	{ "axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
	  "  from: [{in-use: https://a}, {in-use: https://b}]\n  to: [1.1.0]\n" SC, 5, 31,
	  "axes.from[1]", "at most one in-use entry" },
	/* components */
	{ "components: {agent: {current: {path: ., git: x}}}\n" CORE SC, 1, 31,
	  "components.agent.current", "give exactly one of path, git or prebuilt" },
	{ "components: {agent: {current: {gti: x}}}\n" CORE SC, 1, 32,
	  "components.agent.current.gti", "unknown key \"gti\"" },
	{ "components: {agent: {current: {path: nowhere}}}\n" CORE SC, 1, 38,
	  "components.agent.current.path", "no such directory: " },
	{ "components: {agent: {current: {git: '-x'}}}\n" CORE SC, 1, 37,
	  "components.agent.current.git", "\"-x\" is not a git ref" },
	{ "components: {backend: {current: {prebuilt: bin/nope}}}\n" CORE SC, 1, 44,
	  "components.backend.current.prebuilt", "no such file: " },
	{ "components: {backend: {current: {prebuilt: {}}}}\n" CORE SC, 1, 44,
	  "components.backend.current.prebuilt", "give a file for x86_64, aarch64 or both" },
	{ "components: {target: {}}\n" CORE SC, 1, 14, "components.target",
	  "unknown key \"target\"" },
	/* config */
	{ CORE SC "config: {colour: {red: {}}}\n", 8, 10, "config.colour",
	  "unknown axis \"colour\" (not under axes:)" },
	{ CORE SC "config: {target: {qemu-x86_64: {}}}\n", 8, 10, "config.target",
	  "\"target\" is a core axis: config applies to configuration axes" },
	{ CORE "  payload: [zstd, raw]\n" SC "config: {payload: {lz4: {}}}\n", 9, 20,
	  "config.payload.lz4", "unknown value \"lz4\" of axis payload (values: zstd, raw)" },
	{ CORE "  payload: [zstd, raw]\n" SC "config: {payload: {zstd: {pkg: {}}}}\n", 9, 27,
	  "config.payload.zstd.pkg", "unknown key \"pkg\"" },
	{ CORE "  auth: [mtls]\n" SC "config: {auth: {mtls: {vars: {AUTH: [a]}}}}\n", 9, 37,
	  "config.auth.mtls.vars.AUTH", "expected a string, found a list" },
	{ CORE "  auth: [mtls]\n" SC "config: {auth: {mtls: {vars: {'A B': x}}}}\n", 9, 31,
	  "config.auth.mtls.vars.A B", "\"A B\" is not a valid name" },
	{ CORE "  auth: [mtls]\n" SC "config: {auth: {mtls: {agent: {a: 1, a: 2}}}}\n", 9, 38,
	  "config.auth.mtls.agent.a", "duplicate key \"a\"" },
	/* firmware */
	{ CORE SC "firmware: {0.9.0: {prebuilt: {qemu-x86_64: fw/1.0.0-x86_64.lpkg}}}\n", 8, 12,
	  "firmware.0.9.0", "version \"0.9.0\" is not a from or to version" },
	{ CORE SC "firmware: {1.0.0: {prebuilt: {qemu-aarch64: fw/1.0.0-x86_64.lpkg}}}\n", 8, 31,
	  "firmware.1.0.0.prebuilt.qemu-aarch64", "unknown target \"qemu-aarch64\" (values: qemu-x86_64)" },
	{ CORE SC "firmware: {1.0.0: {prebuilt: {qemu-x86_64: fw/nope.lpkg}}}\n", 8, 44,
	  "firmware.1.0.0.prebuilt.qemu-x86_64", "no such file: " },
	{ CORE SC "firmware: {1.0.0: {prebuilt: {}, sig: x}}\n", 8, 34, "firmware.1.0.0.sig",
	  "unknown key \"sig\"" },
	/* scenarios */
	{ CORE "scenarios: [update, nope]\n", 7, 21, "scenarios[1]", "unknown scenario \"nope\": no file " },
	{ CORE "scenarios: [update, update]\n", 7, 21, "scenarios[1]", "duplicate scenario \"update\"" },
	{ CORE "scenarios: []\n", 7, 12, "scenarios", "must not be empty" },
	{ CORE "scenarios: [{name: update, timeout: soon}]\n", 7, 37, "scenarios[0].timeout",
	  "expected a duration" },
	{ CORE "scenarios: [{timeout: 5m}]\n", 7, 13, "scenarios[0].name",
	  "missing required key \"name\"" },
	{ CORE "scenarios: [../update]\n", 7, 13, "scenarios[0]", "\"../update\" is not a valid name" },
	{ "scenario_dir: nowhere\n" CORE SC, 1, 15, "scenario_dir", "no such directory: " },
	{ "scenario_dir: other-scenarios\n" CORE SC, 8, 13, "scenarios[0]",
	  "unknown scenario \"update\": no file " },
	/* inventory */
	{ "inventory: nope.yaml\n" CORE SC, 1, 12, "inventory", "no such file: " },
	{ "inventory: bad-rack.yaml\n" CORE SC, 1, 12, "inventory",
	  "bad-rack.yaml:3:5: boards.rpi4-01.colour: unknown key \"colour\"" },
	/* include, exclude, required */
	{ CORE SC "exclude:\n  - {colour: red}\n", 9, 6, "exclude[0].colour",
	  "unknown key \"colour\": exclude keys are axes or scenario" },
	{ CORE SC "exclude:\n  - {target: qemu-arm}\n", 9, 14, "exclude[0].target",
	  "unknown value \"qemu-arm\" of axis target (values: qemu-x86_64)" },
	{ CORE SC "exclude:\n  - {}\n", 9, 5, "exclude[0]", "an empty entry" },
	{ CORE SC "exclude: {target: qemu-x86_64, target: qemu-x86_64}\n", 8, 32, "exclude.target",
	  "duplicate key \"target\"" },
	{ CORE SC "exclude: [target]\n", 8, 11, "exclude[0]", "expected a mapping, found a scalar" },
	{ CORE SC "include:\n  - {scenario: nope}\n", 9, 16, "include[0].scenario",
	  "unknown scenario \"nope\" (not in scenarios:)" },
	{ CORE SC "include:\n  - {1x: 2}\n", 9, 6, "include[0].1x", "\"1x\" is not a valid key" },
	{ CORE SC "include:\n  - {boot: [1]}\n", 9, 12, "include[0].boot",
	  "expected a string, found a list" },
	{ CORE SC "include:\n  - {agent: ancient, x: 1}\n", 9, 13, "include[0].agent",
	  "unknown value \"ancient\" of axis agent (values: current)" },
	{ CORE SC "required:\n  - {to: 9.9.9}\n", 9, 10, "required[0].to",
	  "unknown value \"9.9.9\" of axis to (values: 1.1.0)" },
	{ CORE SC "required:\n  - {boot_timeout: 1}\n", 9, 6, "required[0].boot_timeout",
	  "unknown key \"boot_timeout\": required keys are axes or scenario" },
	{ CORE SC "required: true\n", 8, 11, "required", "expected a list, found a scalar" },
	{ CORE SC "include:\n  - {a1: 1, a2: 1, a3: 1, a4: 1, a5: 1, a6: 1, a7: 1, a8: 1, a9: 1, "
	  "b1: 1, b2: 1, b3: 1, b4: 1, b5: 1, b6: 1, b7: 1, b8: 1}\n", 9, 118, "include[0].b8",
	  "at most 16 extra keys in an entry" },
};

static void test_bad(void **state)
{
	size_t failed = 0;

	for (size_t i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		struct mx_spec *s = NULL;
		struct lp_diag d;
		char buf[1024];
		int r = parse(bad[i].text, &s, &d);

		lp_diag_format(&d, buf, sizeof(buf));
		if (r != -EINVAL || d.line != bad[i].line || d.column != bad[i].column ||
		    strcmp(d.path, bad[i].path) != 0 || !strstr(d.msg, bad[i].msg) ||
		    strcmp(d.file, "spec.yaml") != 0 || s) {
			print_error("case %zu: r=%d \"%s\"\n  want %u:%u %s: %s\n", i, r, buf,
				    bad[i].line, bad[i].column, bad[i].path, bad[i].msg);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Limits that take big inputs to reach. */
static void test_limits(void **state)
{
	size_t cap = MX_SPEC_FILE_MAX + 4096, used;
	char *text = malloc(cap);
	struct mx_spec *s = NULL;
	struct lp_diag d;

	assert_non_null(text);
	/* more values than an axis holds */
	used = (size_t)snprintf(text, cap, "%s", CORE "  payload: [");
	for (int i = 0; i <= MX_VALUES_MAX; i++)
		used += (size_t)snprintf(text + used, cap - used, "%sv%d", i ? ", " : "", i);
	snprintf(text + used, cap - used, "]\n" SC);
	assert_int_equal(parse(text, &s, &d), -EINVAL);
	assert_string_equal(d.path, "axes.payload");
	assert_non_null(strstr(d.msg, "at most 64 entries, found 65"));

	/* more entries than a list of matches holds */
	used = (size_t)snprintf(text, cap, "%s", CORE SC "exclude:\n");
	for (int i = 0; i <= MX_MATCHES_MAX; i++)
		used += (size_t)snprintf(text + used, cap - used, "  - {target: qemu-x86_64}\n");
	assert_int_equal(parse(text, &s, &d), -EINVAL);
	assert_int_equal(d.line, 9);
	assert_non_null(strstr(d.msg, "at most 256 entries, found 257"));

	/* more scenarios than a spec holds (refused before any file is looked for) */
	used = (size_t)snprintf(text, cap, "%s", CORE "scenarios: [");
	for (int i = 0; i <= MX_SCENARIOS_MAX; i++)
		used += (size_t)snprintf(text + used, cap - used, "%ss%d", i ? ", " : "", i);
	snprintf(text + used, cap - used, "]\n");
	assert_int_equal(parse(text, &s, &d), -EINVAL);
	assert_string_equal(d.path, "scenarios");
	assert_non_null(strstr(d.msg, "at most 64 entries, found 65"));

	/* an extra value longer than MX_VALUE_TEXT_MAX - 1 */
	snprintf(text, cap, "%sinclude: [{note: %0256d}]\n", CORE SC, 0);
	assert_int_equal(parse(text, &s, &d), -EINVAL);
	assert_string_equal(d.path, "include[0].note");
	assert_non_null(strstr(d.msg, "longer than 255 characters"));

	/* a value name of 64 characters */
	snprintf(text, cap, "%s  payload: [%064d]\n%s", CORE, 0, SC);
	assert_int_equal(parse(text, &s, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "is not a valid name (1-63 characters"));

	/* the file size */
	memset(text, '#', MX_SPEC_FILE_MAX + 1);
	assert_int_equal(mx_spec_parse(text, MX_SPEC_FILE_MAX + 1, "spec.yaml", repo, &s, &d),
			 -E2BIG);
	assert_non_null(strstr(d.msg, "larger than 1048576 bytes"));
	free(text);
}

static void test_load(void **state)
{
	char path[512], buf[1024];
	struct mx_spec *s = NULL;
	struct lp_diag d;

	snprintf(path, sizeof(path), "%s/matrix/nightly.yaml", repo);
	assert_int_equal(mx_fixture_write(repo, "matrix/nightly.yaml", CORE SC), 0);
	assert_int_equal(mx_spec_load(path, &s, &d), 0);
	assert_string_equal(s->name, "nightly");
	assert_string_equal(s->path, path);
	assert_string_equal(s->repo_root, repo); /* found from matrix/ upwards */
	mx_spec_free(s);
	s = NULL;

	assert_int_equal(mx_fixture_write(repo, "matrix/bad.yaml", CORE "scenarios: [nope]\n"), 0);
	snprintf(path, sizeof(path), "%s/matrix/bad.yaml", repo);
	assert_int_equal(mx_spec_load(path, &s, &d), -EINVAL);
	snprintf(buf, sizeof(buf), "%s:7:13: scenarios[0]: unknown scenario \"nope\"", path);
	{
		char got[1024];

		lp_diag_format(&d, got, sizeof(got));
		assert_memory_equal(got, buf, strlen(buf));
	}
	snprintf(path, sizeof(path), "%s/matrix/none.yaml", repo);
	assert_int_equal(mx_spec_load(path, &s, &d), -ENOENT);
	assert_string_equal(d.file, path);
	assert_non_null(strstr(d.msg, "cannot open"));
	assert_null(s);
}

/* ---- in-use ---- */

static const char in_use_spec[] =
	"axes:\n"
	"  target: [qemu-x86_64]\n"
	"  backend: [current]\n"
	"  agent: [current]\n"
	"  from: [0.9.0, {in-use: '${MX_TEST_URL}/', token: '${MX_TEST_TOKEN}', tag: lab, cacert: ca.pem}]\n"
	"  to: [1.1.0]\n"
	"scenarios: [update]\n"
	"exclude: [{from: 0.5.0}]\n"; /* a version that may be in use: not checked */

static struct mx_spec *in_use_parsed(void)
{
	struct mx_spec *s = parse_ok(in_use_spec);
	char ca[512];

	assert_true(s->in_use.enabled);
	assert_false(s->in_use.resolved);
	assert_string_equal(s->in_use.url, "${MX_TEST_URL}/");
	assert_string_equal(s->in_use.token, "${MX_TEST_TOKEN}");
	assert_string_equal(s->in_use.tag, "lab");
	snprintf(ca, sizeof(ca), "%s/ca.pem", repo);
	assert_string_equal(s->in_use.cacert, ca);
	assert_int_equal(s->in_use.line, 5);
	assert_int_equal(s->in_use.column, 17);
	assert_int_equal(s->in_use.n_fixed, 1);
	assert_int_equal(s->axes[MX_AXIS_FROM].n_values, 1);
	return s;
}

static int apply_text(struct mx_spec *s, const char *json, struct lp_diag *d)
{
	cJSON *j = cJSON_Parse(json);
	int r;

	assert_non_null(j);
	r = mx_spec_in_use_apply(s, j, d);
	cJSON_Delete(j);
	return r;
}

static void test_in_use_apply(void **state)
{
	struct mx_spec *s = in_use_parsed();
	const struct mx_axis *from = &s->axes[MX_AXIS_FROM];
	struct lp_diag d;
	char big[8192];
	size_t used;

	assert_int_equal(apply_text(s,
				    "{\"items\":[{\"version\":\"1.10.0\",\"devices\":3},"
				    "{\"version\":\"1.2.0\",\"devices\":12,\"last_seen\":\"x\"},"
				    "{\"version\":\"0.9.0\",\"devices\":1},"
				    "{\"version\":\"1.2.0-rc.1\",\"devices\":1}],\"total\":4}",
				    &d),
			 0);
	assert_true(s->in_use.resolved);
	/* the spec's own first, then the fleet's in version order, each once */
	assert_int_equal(from->n_values, 4);
	assert_string_equal(from->values[0].name, "0.9.0");
	assert_string_equal(from->values[1].name, "1.2.0-rc.1");
	assert_string_equal(from->values[2].name, "1.2.0");
	assert_string_equal(from->values[3].name, "1.10.0");
	assert_string_equal(from->values[3].version, "1.10.0");
	assert_int_equal(from->values[3].line, 5);

	/* asked again: replaced, not appended */
	assert_int_equal(apply_text(s, "{\"items\":[{\"version\":\"2.0.0\"}],\"total\":1}", &d), 0);
	assert_int_equal(from->n_values, 2);
	assert_string_equal(from->values[1].name, "2.0.0");

	assert_int_equal(apply_text(s, "{\"items\":{}}", &d), -EBADMSG);
	assert_string_equal(d.file, "spec.yaml");
	assert_int_equal(d.line, 5);
	assert_non_null(strstr(d.msg, "no \"items\" list"));
	assert_int_equal(apply_text(s, "{\"items\":[{\"version\":\"a b\"}]}", &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "items[0].version is not a version"));
	assert_int_equal(apply_text(s, "{\"items\":[{\"devices\":1}]}", &d), -EBADMSG);
	assert_int_equal(apply_text(s, "{\"items\":[{\"version\":\"1.0.0\"}],\"total\":70}", &d),
			 -E2BIG);
	assert_non_null(strstr(d.msg, "70 firmware versions are in use"));
	used = (size_t)snprintf(big, sizeof(big), "{\"items\":[");
	for (int i = 0; i < MX_VALUES_MAX; i++)
		used += (size_t)snprintf(big + used, sizeof(big) - used, "%s{\"version\":\"1.%d.0\"}",
					 i ? "," : "", i);
	snprintf(big + used, sizeof(big) - used, "]}");
	assert_int_equal(apply_text(s, big, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "65 from versions (1 in the spec, 64 more in use)"));
	/* the failed answers left the last good axis alone */
	assert_int_equal(from->n_values, 2);
	mx_spec_free(s);

	/* in-use alone: no versions in use is an empty axis */
	s = parse_ok("axes:\n  target: [qemu-x86_64]\n  backend: [current]\n  agent: [current]\n"
		     "  from: {in-use: https://backend}\n  to: [1.1.0]\n" SC);
	assert_int_equal(s->axes[MX_AXIS_FROM].n_values, 0);
	assert_int_equal(apply_text(s, "{\"items\":[],\"total\":0}", &d), -ENOENT);
	assert_non_null(strstr(d.msg, "no firmware version is in use at https://backend"));
	mx_spec_free(s);
}

static void test_env_expand(void **state)
{
	char buf[32];
	struct lp_diag d;

	setenv("MX_A", "alpha", 1);
	setenv("MX_EMPTY", "", 1);
	unsetenv("MX_UNSET");
	assert_int_equal(mx_env_expand("x${MX_A}y${MX_EMPTY}z$", buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "xalphayz$");
	assert_int_equal(mx_env_expand("plain $HOME", buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "plain $HOME");
	assert_int_equal(mx_env_expand("${MX_UNSET}", buf, sizeof(buf), &d), -EINVAL);
	assert_non_null(strstr(d.msg, "environment variable MX_UNSET is not set"));
	assert_int_equal(mx_env_expand("${MX_A", buf, sizeof(buf), &d), -EINVAL);
	assert_non_null(strstr(d.msg, "unclosed ${"));
	assert_int_equal(mx_env_expand("${}", buf, sizeof(buf), &d), -EINVAL);
	assert_int_equal(mx_env_expand("${A-B}", buf, sizeof(buf), &d), -EINVAL);
	assert_int_equal(mx_env_expand("${MX_A}${MX_A}${MX_A}${MX_A}${MX_A}${MX_A}${MX_A}", buf,
				       sizeof(buf), &d),
			 -E2BIG);
}

static void test_resolve_env(void **state)
{
	struct mx_spec *s = in_use_parsed();
	struct lp_diag d;

	/* the ${…} are expanded when asked: an unset variable fails before any request */
	unsetenv("MX_TEST_URL");
	assert_int_equal(mx_spec_resolve_in_use(s, &d), -EINVAL);
	assert_string_equal(d.file, "spec.yaml");
	assert_int_equal(d.line, 5);
	assert_non_null(strstr(d.msg, "MX_TEST_URL is not set"));
	mx_spec_free(s);

	/* no in-use: nothing to ask */
	s = parse_ok(CORE SC);
	assert_int_equal(mx_spec_resolve_in_use(s, &d), 0);
	mx_spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_outside_repo),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_in_use_apply),
		cmocka_unit_test(test_env_expand),
		cmocka_unit_test(test_resolve_env),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

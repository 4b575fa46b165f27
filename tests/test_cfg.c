/* test_cfg.c: the config engine (src/config/cfg.c) on a toy table: every key type, its messages, custom keys,
 * all-or-nothing reads, empty files, --set, defaults and freeing. */
#include <config.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "lateral/err.h"
#include "runner.h"

typedef struct {
	size_t px, py;
} point;

typedef struct {
	size_t n;
	long l;
	unsigned long u;
	double x;
	int flag, color;
	char *name, *file;
	double *v;
	size_t n_v;
	size_t s[3], n_s;
	char *files[2];
	size_t n_files;
	point pt;
	double q, r;
	char *mode;
} toy;

static int read_point(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, void *obj,
		      char *err);

/* an enum's value is its index in the names */
static const char *const colors[] = {"red", "green", NULL};
static const char *const modes[] = {"on", "off", NULL};

#define T(f) offsetof(toy, f)
#define GE LAT_CFG_GE
#define GT LAT_CFG_GT
#define LE LAT_CFG_LE
#define LT LAT_CFG_LT
/* clang-format off */
static const lat_cfg_key keys[] = {
	{"a", "n", LAT_CFG_SIZE, T(n), GE | LE, 1, 10, 3, NULL, 0, 0},
	{"a", "l", LAT_CFG_LONG, T(l), GE, -5, 0, -2, NULL, 0, 0},
	{"a", "u", LAT_CFG_ULONG, T(u), 0, 0, 0, 4, NULL, 0, 0},
	{"a", "x", LAT_CFG_DOUBLE, T(x), GE | LT, 0, 1, 0.5, NULL, 0, 0},
	{"a", "flag", LAT_CFG_BOOL, T(flag), 0, 0, 0, 1, NULL, 0, 0},
	{"a", "color", LAT_CFG_ENUM, T(color), 0, 0, 0, 1, colors, 0, 0},
	{"a", "name", LAT_CFG_STRING, T(name), 0, 0, 0, 0, NULL, 0, 0},
	{"a", "file", LAT_CFG_PATH, T(file), LAT_CFG_EMPTY_NONE, 0, 0, 0, NULL, 0, 0},
	{"b", "v", LAT_CFG_DOUBLES, T(v), GE, 0, 0, 0, NULL, T(n_v), 0},
	{"b", "s", LAT_CFG_SIZES, T(s), LE, 0, 100, 0, NULL, T(n_s), 3},
	{"b", "files", LAT_CFG_PATHS, T(files), 0, 0, 0, 0, NULL, T(n_files), 2},
	{"b", "point", LAT_CFG_CUSTOM, T(pt), 0, 0, 0, 0, NULL, 0, 0},
	{"b", "q", LAT_CFG_DOUBLE, T(q), 0, 0, 0, 0, NULL, 0, 0},
	{"b", "r", LAT_CFG_DOUBLE, T(r), GT | LE, -1, 1e12, 0, NULL, 0, 0},
	{"b", "mode", LAT_CFG_STRING, T(mode), 0, 0, 0, 0, modes, 0, 0},
};
static const lat_cfg_key point_keys[] = {
	{"point", "px", LAT_CFG_SIZE, offsetof(point, px), 0, 0, 0, 0, NULL, 0, 0},
	{"point", "py", LAT_CFG_SIZE, offsetof(point, py), 0, 0, 0, 0, NULL, 0, 0},
};
/* clang-format on */
#define N_KEYS (sizeof keys / sizeof keys[0])

static const lat_cfg_schema toys = {keys, N_KEYS, sizeof(toy), "toy", "a.x=0.5", read_point};

/* b.point = { px = ...; py = ...; } with px <= py. */
static int read_point(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, void *obj,
		      char *err)
{
	toy *t = obj;
	int rc;

	(void)k;
	if (!config_setting_is_group(s))
		return lat_cfg_error(c, s, err, "b.point: expected a group");
	rc = lat_cfg_read_group(c, point_keys, 2, "b.point", s, &t->pt, err);
	if (!rc && t->pt.px > t->pt.py)
		rc = lat_cfg_error(c, s, err, "b.point: px must not exceed py");
	return rc;
}

static void toy_init(toy *t)
{
	memset(t, 0, sizeof *t);
	lat_cfg_defaults(&toys, t);
}

static void test_defaults(void)
{
	toy t;

	memset(&t, 0xff, sizeof t);
	t.name = t.file = NULL;
	t.v = NULL;
	t.files[0] = t.files[1] = NULL;
	lat_cfg_defaults(&toys, &t);
	CU_ASSERT_EQUAL(t.n, 3);
	CU_ASSERT_EQUAL(t.l, -2);
	CU_ASSERT_EQUAL(t.u, 4);
	CU_ASSERT_EQUAL(t.x, 0.5);
	CU_ASSERT_EQUAL(t.flag, 1);
	CU_ASSERT_EQUAL(t.color, 1);
	CU_ASSERT_EQUAL(t.q, 0);
	CU_ASSERT_PTR_NULL(t.name); /* strings and arrays are left alone */
	CU_ASSERT_EQUAL(t.n_v, (size_t)-1);
}

/* Reads text over a fresh toy with schema sc; returns the status and leaves the message in err. */
static int read_fresh(const lat_cfg_schema *sc, const char *text, char *err)
{
	toy t;
	int rc;

	toy_init(&t);
	err[0] = '\0';
	rc = lat_cfg_read(sc, &t, text, "t.cfg", NULL, NULL, err);
	lat_cfg_free(sc, &t);
	return rc;
}

static void check_messages(const lat_cfg_schema *sc, const char *const (*cases)[2], size_t n)
{
	char err[LAT_ERRLEN];
	size_t i;

	for (i = 0; i < n; i++) {
		int rc = read_fresh(sc, cases[i][0], err);
		CU_ASSERT_EQUAL(rc, LAT_ECONFIG);
		CU_ASSERT_STRING_EQUAL(err, cases[i][1]);
		if (strcmp(err, cases[i][1]) != 0)
			fprintf(stderr, "\n%s\n  got:      %s\n  expected: %s\n", cases[i][0], err,
				cases[i][1]);
	}
}

static void test_messages(void)
{
	static const char *const cases[][2] = {
	    {"a = { x = \"s\"; };", "t.cfg:1: a.x: expected a number >= 0 and < 1, got a string (\"s\")"},
	    {"a = { x = 1.0; };", "t.cfg:1: a.x: expected a number >= 0 and < 1, got 1"},
	    {"a = { n = 2.5; };", "t.cfg:1: a.n: expected an integer >= 1 and <= 10, got a float (2.5)"},
	    {"a = { n = 3.0; };", "t.cfg:1: a.n: expected an integer >= 1 and <= 10, got a float (3.0)"},
	    {"a = { n = true; };", "t.cfg:1: a.n: expected an integer >= 1 and <= 10, got a boolean (true)"},
	    /* Values and bounds keep the digits that tell them apart. */
	    {"a = { x = 1.0000001; };", "t.cfg:1: a.x: expected a number >= 0 and < 1, got 1.0000001"},
	    {"a = { x = 1e999; };", "t.cfg:1: a.x: expected a finite number >= 0 and < 1, got inf"},
	    {"b = { r = -1; };", "t.cfg:1: b.r: expected a number > -1 and <= 1e+12, got -1"},
	    {"b = { r = 2e12; };", "t.cfg:1: b.r: expected a number > -1 and <= 1e+12, got 2e+12"},
	    {"b = { mode = \"auto\"; };",
	     "t.cfg:1: b.mode: expected one of \"on\", \"off\", got a string (\"auto\")"},
	    {"b = { mode = 1; };", "t.cfg:1: b.mode: expected one of \"on\", \"off\", got an integer (1)"},
	    {"a = {\n n = 11; };", "t.cfg:2: a.n: expected an integer >= 1 and <= 10, got 11"},
	    {"a = { l = -6; };", "t.cfg:1: a.l: expected an integer >= -5 and <= 9223372036854775807, got -6"},
	    {"a = { color = \"mauve\"; };",
	     "t.cfg:1: a.color: expected one of \"red\", \"green\", got a string (\"mauve\")"},
	    {"a = { color = 7; };",
	     "t.cfg:1: a.color: expected one of \"red\", \"green\", got an integer (7)"},
	    {"a = { nn = 1; };",
	     "t.cfg:1: a.nn: unknown key (did you mean n?) (known: n, l, u, x, flag, color, name, file)"},
	    {"a = { q = 1; };",
	     "t.cfg:1: a.q: unknown key (did you mean b.q?) (known: n, l, u, x, flag, color, name, file)"},
	    {"aa = { n = 1; };", "t.cfg:1: aa: unknown section (did you mean a?) (known: a, b)"},
	    {"n = 3;", "t.cfg:1: n: expected a section n = { key = value; ... }, got an integer (3); did you "
		       "mean a = { n = "
		       "...; }?"},
	    {"a = 3;", "t.cfg:1: a: expected a section a = { key = value; ... }, got an integer (3)"},
	    {"a = ( 1 );", "t.cfg:1: a: expected a section a = { key = value; ... }, got a list ( ... )"},
	    {"b = { v = [0.5, -1.0]; };", "t.cfg:1: b.v[1]: expected a number >= 0, got -1"},
	    {"b = { v = 1.0; };",
	     "t.cfg:1: b.v: expected an array of numbers [ ... ] ([] for none), got a float (1.0)"},
	    {"b = { s = [1, 2, 3, 4]; };", "t.cfg:1: b.s: at most 3 entries, got 4"},
	    {"b = { s = [1, 200]; };", "t.cfg:1: b.s[1]: expected an integer >= 0 and <= 100, got 200"},
	    {"b = { files = (\"f\", 2); };",
	     "t.cfg:1: b.files[1]: expected a file name (a string), got an integer (2)"},
	    {"a = { file = 3; };",
	     "t.cfg:1: a.file: expected a file name (a string, \"\" for none), got an integer (3)"},
	    {"a = { name = 3; };", "t.cfg:1: a.name: expected a string, got an integer (3)"},
	    {"a = { flag = 1; };", "t.cfg:1: a.flag: expected true or false, got an integer (1)"},
	    {"a = {\n\n flag = \"yes\"; };",
	     "t.cfg:3: a.flag: expected true or false, got a string (\"yes\")"},
	    {"b = { point = { px = 1; pz = 2; }; };",
	     "t.cfg:1: b.point.pz: unknown key (did you mean px?) (known: px, py)"},
	    {"b = { point = { px = 3; py = 2; }; };", "t.cfg:1: b.point: px must not exceed py"},
	    {"a = { x = ; };", "t.cfg:1: syntax error"},
	    {"a = { x = 1; x = 2; };",
	     "t.cfg:1: duplicate setting: this key (or section) is already set earlier in the same group"},
	};
	char err[LAT_ERRLEN], want[LAT_ERRLEN];

	check_messages(&toys, cases, sizeof cases / sizeof cases[0]);
	/* Within the table's bounds but not within the C field's range (nor the reader's int64). */
	CU_ASSERT_EQUAL(read_fresh(&toys, "a = { u = -1; };", err), LAT_ECONFIG);
	snprintf(want, sizeof want, "t.cfg:1: a.u: expected an integer >= 0 and <= %lld, got -1", LLONG_MAX);
	CU_ASSERT_STRING_EQUAL(err, want);
}

/* Numbers are read as written: the literal scanner of cfg.c must split the text as libconfig's does
 * (numbers in comments, strings and names are not numbers), and each literal keeps its exact value. */
static void test_literals(void)
{
	static const char text[] =
	    "# n = 99 and 4294967297 in a comment\n"
	    "a = { /* n = 98 */ n = 0x00000000000000000000000009; // 97\n"
	    "      l = -0; u = 0xFFFFFFFFFFFFFFFL; x = 1e-310;\n"
	    "      name = \"n = 96 \\\" 95 # 94\"; file = \"x-5\"; };\n"
	    "b = { v = [0.5e1, .25, 1.]; s = [1, 2L, 0x3LL]; r = -.25; q = 99999999999999999999; };\n";
	static const char *const cases[][2] = {
	    /* libconfig 1.5 alone reads 4294967297 as 1, 0x100000002 as 2 */
	    {"a = { n = 4294967297; };", "t.cfg:1: a.n: expected an integer >= 1 and <= 10, got 4294967297"},
	    {"a = { n = 0x100000002; };", "t.cfg:1: a.n: expected an integer >= 1 and <= 10, got 0x100000002"},
	    {"a = { n = 1; };\na = { n = 2; l = 99999999999999999999L; };",
	     "t.cfg:2: duplicate setting: this key (or section) is already set earlier in the same group"},
	    {"a = { n = 2; l = -99999999999999999999L; };",
	     "t.cfg:1: a.l: expected an integer >= -5 and <= 9223372036854775807, got -99999999999999999999L"},
	    {"a = { u = 9223372036854775808; };",
	     "t.cfg:1: a.u: expected an integer >= 0 and <= 9223372036854775807, got 9223372036854775808"},
	    {"b = { s = [2, 101]; };", "t.cfg:1: b.s[1]: expected an integer >= 0 and <= 100, got 101"},
	    {"a = { n = 3e0; };", "t.cfg:1: a.n: expected an integer >= 1 and <= 10, got a float (3e0)"},
	    {"a = { x = 1e-400; };",
	     "t.cfg:1: a.x: 1e-400 is too small for a double and would be read as 0 (the smallest nonzero "
	     "magnitude is about 4.9e-324); write 0 if 0 is meant"},
	    {"b = { v = [1.0, -0.00e-999, -7e-500]; };",
	     "t.cfg:1: b.v[2]: -7e-500 is too small for a double and would be read as 0 (the smallest nonzero "
	     "magnitude is about 4.9e-324); write 0 if 0 is meant"},
	    {"a = { flag = 0x1; };", "t.cfg:1: a.flag: expected true or false, got an integer (0x1)"},
	    /* a sign before a hex literal is no number to libconfig either */
	    {"a = { n = -0x5; };", "t.cfg:1: syntax error"},
	    {"a = { n = 5x; };", "t.cfg:1: syntax error"},
	};
	char err[LAT_ERRLEN] = "";
	toy t;

	toy_init(&t);
	CU_ASSERT_EQUAL(lat_cfg_read(&toys, &t, text, "t.cfg", NULL, NULL, err), LAT_OK);
	if (err[0])
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_STRING_EQUAL_FATAL(err, "");
	CU_ASSERT_EQUAL(t.n, 9);
	CU_ASSERT_EQUAL(t.l, 0);
	CU_ASSERT_EQUAL(t.u, 0xFFFFFFFFFFFFFFFUL);
	CU_ASSERT_EQUAL(t.x, 1e-310); /* a subnormal is not 0: kept */
	CU_ASSERT_STRING_EQUAL(t.name, "n = 96 \" 95 # 94");
	CU_ASSERT_STRING_EQUAL(t.file, "x-5");
	CU_ASSERT_EQUAL_FATAL(t.n_v, 3);
	CU_ASSERT_EQUAL(t.v[0], 5.0);
	CU_ASSERT_EQUAL(t.v[1], 0.25);
	CU_ASSERT_EQUAL(t.v[2], 1.0);
	CU_ASSERT_EQUAL_FATAL(t.n_s, 3);
	CU_ASSERT_EQUAL(t.s[0], 1);
	CU_ASSERT_EQUAL(t.s[1], 2);
	CU_ASSERT_EQUAL(t.s[2], 3);
	CU_ASSERT_EQUAL(t.q, 1e20); /* an integer beyond 64 bits where a float is meant */
	CU_ASSERT_EQUAL(t.r, -0.25);
	lat_cfg_free(&toys, &t);
	check_messages(&toys, cases, sizeof cases / sizeof cases[0]);
}

/* A text without settings is an error that names the built-in default, and changes nothing. */
static void test_empty(void)
{
	static const char *const texts[] = {"", "  \n\t\n", "# a comment\n// another\n/* and a block */\n"};
	char err[LAT_ERRLEN];
	toy t;

	toy_init(&t);
	t.x = 0.25;
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(lat_cfg_read(&toys, &t, texts[i], "e.cfg", NULL, NULL, err), LAT_ECONFIG);
		CU_ASSERT_STRING_EQUAL(
		    err, "e.cfg: the file has no settings (leave it out to use the built-in toy)");
	}
	CU_ASSERT_EQUAL(t.x, 0.25);
	CU_ASSERT_EQUAL(t.n, 3);
	/* One empty section is a setting. */
	CU_ASSERT_EQUAL(lat_cfg_read(&toys, &t, "a = { };", "e.cfg", NULL, NULL, err), LAT_OK);
	lat_cfg_free(&toys, &t);
}

static void test_read_values(void)
{
	static const char text[] =
	    "a = { n = 4; l = -5; u = 4294967296L; x = 0; flag = false; color = \"red\"; name = \"nm\";\n"
	    "      file = \"d.tsv\"; };\n"
	    "b = { v = (0.25, 1); s = [5, 6]; files = [\"/abs/f\", \"g\"]; point = { px = 1; py = 2; }; q = "
	    "1e300; "
	    "};\n";
	char err[LAT_ERRLEN] = "";
	char *name;
	toy t;

	toy_init(&t);
	CU_ASSERT_EQUAL_FATAL(lat_cfg_read(&toys, &t, text, "t.cfg", NULL, "base", err), LAT_OK);
	CU_ASSERT_EQUAL(t.n, 4);
	CU_ASSERT_EQUAL(t.l, -5);
	CU_ASSERT_EQUAL(t.u, 4294967296UL);
	CU_ASSERT_EQUAL(t.x, 0); /* an integer where a float is meant */
	CU_ASSERT_EQUAL(t.flag, 0);
	CU_ASSERT_EQUAL(t.color, 0);
	CU_ASSERT_STRING_EQUAL(t.name, "nm");
	CU_ASSERT_STRING_EQUAL(t.file, "base/d.tsv");
	CU_ASSERT_EQUAL_FATAL(t.n_v, 2);
	CU_ASSERT_EQUAL(t.v[0], 0.25);
	CU_ASSERT_EQUAL(t.v[1], 1.0);
	CU_ASSERT_EQUAL(t.n_s, 2);
	CU_ASSERT_EQUAL(t.s[0], 5);
	CU_ASSERT_EQUAL(t.s[1], 6);
	CU_ASSERT_EQUAL(t.n_files, 2);
	CU_ASSERT_STRING_EQUAL(t.files[0], "/abs/f");
	CU_ASSERT_STRING_EQUAL(t.files[1], "base/g");
	CU_ASSERT_EQUAL(t.pt.px, 1);
	CU_ASSERT_EQUAL(t.pt.py, 2);
	CU_ASSERT_EQUAL(t.q, 1e300);

	/* A failed read changes nothing, not even the keys before the bad one. */
	name = t.name;
	CU_ASSERT_EQUAL(lat_cfg_read(&toys, &t, "a = { name = \"other\"; n = 5; }; b = { q = \"bad\"; };",
				     "t.cfg", NULL, "base", err),
			LAT_ECONFIG);
	CU_ASSERT_PTR_EQUAL(t.name, name);
	CU_ASSERT_STRING_EQUAL(t.name, "nm");
	CU_ASSERT_EQUAL(t.n, 4);

	/* Replacing values frees the old ones (the sanitizer build checks); a shorter list clears the rest.
	 */
	CU_ASSERT_EQUAL(
	    lat_cfg_read(&toys, &t, "a = { file = \"\"; name = \"new\"; }; b = { files = [\"h\"]; v = []; };",
			 "t.cfg", NULL, "base", err),
	    LAT_OK);
	CU_ASSERT_PTR_NULL(t.file);
	CU_ASSERT_STRING_EQUAL(t.name, "new");
	CU_ASSERT_EQUAL(t.n_files, 1);
	CU_ASSERT_STRING_EQUAL(t.files[0], "base/h");
	CU_ASSERT_PTR_NULL(t.files[1]);
	CU_ASSERT_PTR_NULL(t.v);
	CU_ASSERT_EQUAL(t.n_v, 0);

	lat_cfg_free(&toys, &t);
	CU_ASSERT_PTR_NULL(t.name);
	CU_ASSERT_PTR_NULL(t.files[0]);
}

/* Applies assignment to t and checks the status and, for failures, the message. */
static void check_set(const lat_cfg_schema *sc, toy *t, const char *assignment, int want_rc, const char *want)
{
	char err[LAT_ERRLEN] = "";
	int rc = lat_cfg_set(sc, t, "--set", assignment, LAT_CFG_CWD, err);

	CU_ASSERT_EQUAL(rc, want_rc);
	if (want) {
		CU_ASSERT_STRING_EQUAL(err, want);
		if (strcmp(err, want) != 0)
			fprintf(stderr, "\n%s\n  got:      %s\n  expected: %s\n", assignment, err, want);
	}
}

static void test_set(void)
{
	char *cwd = getcwd(NULL, 0), want[LAT_ERRLEN];
	toy t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cwd);
	toy_init(&t);
	check_set(&toys, &t, "a.x=0.25", LAT_OK, NULL);
	CU_ASSERT_EQUAL(t.x, 0.25);
	check_set(&toys, &t, " a.name = bare word ", LAT_OK, NULL);
	CU_ASSERT_STRING_EQUAL(t.name, "bare word");
	check_set(&toys, &t, "a.color=green", LAT_OK, NULL);
	CU_ASSERT_EQUAL(t.color, 1);
	check_set(&toys, &t, "a.file=rel.tsv", LAT_OK, NULL);
	snprintf(want, sizeof want, "%s/rel.tsv", cwd);
	CU_ASSERT_STRING_EQUAL(t.file, want);
	check_set(&toys, &t, "b.v=[0.5, 2.0]", LAT_OK, NULL);
	CU_ASSERT_EQUAL(t.n_v, 2);

	check_set(&toys, &t, "a.x", LAT_ECONFIG, "--set a.x: expected section.key=value, e.g. a.x=0.5");
	check_set(&toys, &t, "x=1", LAT_ECONFIG,
		  "--set x=1: expected section.key=value (no section in 'x'), e.g. a.x=0.5");
	check_set(&toys, &t, "a.x=", LAT_ECONFIG, "--set a.x=: a.x: missing value");
	check_set(&toys, &t, "a.x=1; n = 2", LAT_ECONFIG, "--set a.x=1; n = 2: a.x: expected a single value");
	check_set(&toys, &t, "a.x=[1", LAT_ECONFIG,
		  "--set a.x=[1: a.x: cannot parse the value '[1' (libconfig: syntax error)");
	check_set(&toys, &t, "a.x=2", LAT_ECONFIG, "--set a.x=2: a.x: expected a number >= 0 and < 1, got 2");
	check_set(&toys, &t, "b.point={px=1;}", LAT_ECONFIG,
		  "--set b.point={px=1;}: b.point cannot be overridden; edit the file");
	check_set(&toys, &t, "c.x=1", LAT_ECONFIG, "--set c.x=1: c: unknown section (known: a, b)");
	check_set(
	    &toys, &t, "a.xx=1", LAT_ECONFIG,
	    "--set a.xx=1: a.xx: unknown key (did you mean x?) (known: n, l, u, x, flag, color, name, file)");
	CU_ASSERT_EQUAL(t.x, 0.25); /* failed overrides change nothing */

	check_set(&toys, &t, "a.x=0.75", LAT_OK, NULL);
	CU_ASSERT_EQUAL(t.x, 0.75);
	check_set(&toys, &t, "a.name=say \"hi\"", LAT_OK, NULL);
	CU_ASSERT_STRING_EQUAL(t.name, "say \"hi\"");
	check_set(&toys, &t, "b.mode=off", LAT_OK, NULL);
	CU_ASSERT_STRING_EQUAL(t.mode, "off");
	check_set(&toys, &t, "b.mode=auto", LAT_ECONFIG,
		  "--set b.mode=auto: b.mode: expected one of \"on\", \"off\", got a string (\"auto\")");
	check_set(&toys, &t, "b.r=-1", LAT_ECONFIG,
		  "--set b.r=-1: b.r: expected a number > -1 and <= 1e+12, got -1");
	check_set(&toys, &t, "a.x=1;", LAT_ECONFIG,
		  "--set a.x=1;: a.x: cannot parse the value '1;' (libconfig: syntax error)");
	check_set(&toys, &t, "a.name=\"x\"; n = 5", LAT_ECONFIG,
		  "--set a.name=\"x\"; n = 5: a.name: expected a single value");
	check_set(&toys, &t, "a.x=0.5; }; b = { q = 1.0", LAT_ECONFIG,
		  "--set a.x=0.5; }; b = { q = 1.0: a.x: expected a single value");
	CU_ASSERT_EQUAL(t.n, 3);
	CU_ASSERT_EQUAL(t.x, 0.75);
	CU_ASSERT_STRING_EQUAL(t.mode, "off");
	lat_cfg_free(&toys, &t);
	free(cwd);
}

static void test_paths(void)
{
	char *p, *dir;

	p = lat_cfg_path("d", "f.tsv");
	CU_ASSERT_STRING_EQUAL(p, "d/f.tsv");
	free(p);
	p = lat_cfg_path("d", "/abs");
	CU_ASSERT_STRING_EQUAL(p, "/abs");
	free(p);
	p = lat_cfg_path(NULL, "f.tsv");
	CU_ASSERT_STRING_EQUAL(p, "f.tsv");
	free(p);
	dir = lat_cfg_dir_of("models/x.cfg");
	CU_ASSERT_STRING_EQUAL(dir, "models");
	free(dir);
	dir = lat_cfg_dir_of("/x.cfg");
	CU_ASSERT_STRING_EQUAL(dir, "/");
	free(dir);
	CU_ASSERT_PTR_NULL(lat_cfg_dir_of("x.cfg"));
	CU_ASSERT_STRING_EQUAL(lat_cfg_enum_name(&keys[5], 1), "green");
	CU_ASSERT_PTR_NULL(lat_cfg_enum_name(&keys[5], 8));
}

static CU_TestInfo cfg_tests[] = {
    {"defaults from the table", test_defaults},
    {"messages", test_messages},
    {"number literals as written", test_literals},
    {"empty files", test_empty},
    {"values, all-or-nothing reads, freeing", test_read_values},
    {"--set overrides", test_set},
    {"path helpers and enum names", test_paths},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "cfg", .pTests = cfg_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}

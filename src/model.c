/* model.c: model files (libconfig 1.5): one table of typed, range-checked keys; overrides; cross-checks. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <libconfig.h>

#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/model.h"

#define BUILTIN_SOURCE "<built-in default>"
#define SET_SOURCE "--set"
/* Largest N x d accepted: one N x d matrix of doubles is then at most 800 MB. */
#define MAX_WEIGHTS 100000000.0
/* Longest key or section name for which "did you mean" suggestions are computed. */
#define MAX_NAME 64
/* Size of the scratch buffers that hold one message fragment. */
#define MSGLEN 256

/* The name of the built-in model: immutable and never freed (see source_release). */
static const char builtin_source[] = BUILTIN_SOURCE;

enum key_type {
	K_SIZE,	    /* size_t, integer in the file */
	K_LONG,	    /* long, integer */
	K_ULONG,    /* unsigned long (seeds), integer */
	K_DOUBLE,   /* double; an integer in the file is accepted */
	K_NONLIN,   /* int relu, "linear" | "relu" */
	K_SCHEDULE, /* lat_schedule */
	K_UPDATE,   /* lat_update */
	K_TIMING,   /* lat_timing */
	K_METHOD,   /* lat_method, names from lat_method_parse / lat_method_name */
	K_PATH,	    /* owned char *, "" = none */
	K_ARRAY	    /* owned double * plus a size_t count; [] = none; bounds apply to every element */
};

/* Bounds: which of min and max apply, and whether strictly. */
enum { GE_MIN = 1, GT_MIN = 2, LE_MAX = 4, LT_MAX = 8 };

struct key {
	const char *section, *name;
	enum key_type type;
	size_t offset;	     /* of the field in lat_model */
	size_t count_offset; /* K_ARRAY: of the size_t holding the number of values */
	unsigned flags;
	double min, max;
	double def; /* built-in default: the value, or the enum index; unused for K_PATH and K_ARRAY */
};

#define F(field) offsetof(lat_model, field)

/* Every key of the model file, in the order lat_model_write emits them (grouped by section). */
/* clang-format off */
static const struct key keys[] = {
	{"circuit", "neurons", K_SIZE, F(neurons), 0, GE_MIN | LE_MAX, 1, 1e6, 100},
	{"circuit", "inputs", K_SIZE, F(inputs), 0, GE_MIN | LE_MAX, 1, 1e6, 9},
	{"circuit", "tau", K_DOUBLE, F(tau), 0, GT_MIN, 0, 0, 30},
	{"circuit", "tau_inh", K_DOUBLE, F(tau_inh), 0, GT_MIN, 0, 0, 30},
	{"circuit", "alpha", K_DOUBLE, F(alpha), 0, GT_MIN, -1, 0, 10},
	{"circuit", "bias", K_DOUBLE, F(bias), 0, 0, 0, 0, 1},
	{"circuit", "bias_tau", K_DOUBLE, F(bias_tau), 0, GE_MIN, 0, 0, 0},
	{"circuit", "bias_rho", K_DOUBLE, F(bias_rho), 0, GT_MIN, 0, 0, 1},
	{"circuit", "rate_target", K_DOUBLE, F(rate_target), 0, 0, 0, 0, 1},
	{"circuit", "nonlinearity", K_NONLIN, F(relu), 0, 0, 0, 0, 0},
	{"weights", "init_mean", K_DOUBLE, F(init_mean), 0, 0, 0, 0, 1},
	{"weights", "init_std", K_DOUBLE, F(init_std), 0, GE_MIN, 0, 0, 1},
	{"weights", "seed", K_ULONG, F(weights_seed), 0, GE_MIN, 0, 0, 1},
	{"weights", "file", K_PATH, F(weights_file), 0, 0, 0, 0, 0},
	{"input", "mean", K_DOUBLE, F(input_mean), 0, 0, 0, 0, 0},
	{"input", "std", K_DOUBLE, F(input_std), 0, GE_MIN, 0, 0, 1},
	{"input", "cov_diag", K_ARRAY, F(input_cov_diag), F(n_cov_diag), GE_MIN, 0, 0, 0},
	{"input", "cov", K_ARRAY, F(input_cov), F(n_cov), 0, 0, 0, 0},
	{"input", "count", K_SIZE, F(input_count), 0, GE_MIN, 0, 0, 0},
	{"input", "seed", K_ULONG, F(input_seed), 0, GE_MIN, 0, 0, 2},
	{"input", "file", K_PATH, F(input_file), 0, 0, 0, 0, 0},
	{"plasticity", "eta", K_DOUBLE, F(eta), 0, GT_MIN, 0, 0, 0.01},
	{"plasticity", "gamma", K_DOUBLE, F(gamma), 0, GE_MIN, 0, 0, 0.1},
	{"plasticity", "momentum", K_DOUBLE, F(momentum), 0, GE_MIN | LT_MAX, 0, 1, 0},
	{"plasticity", "schedule", K_SCHEDULE, F(schedule), 0, 0, 0, 0, LAT_SCHED_CONSTANT},
	{"plasticity", "schedule_tau", K_DOUBLE, F(schedule_tau), 0, GT_MIN, 0, 0, 100},
	{"plasticity", "update", K_UPDATE, F(update), 0, 0, 0, 0, LAT_UPDATE_ONLINE},
	{"plasticity", "timing", K_TIMING, F(timing), 0, 0, 0, 0, LAT_TIMING_FIXEDPOINT},
	{"plasticity", "duration", K_DOUBLE, F(duration), 0, GT_MIN, 0, 0, 150},
	{"solver", "method", K_METHOD, F(method), 0, 0, 0, 0, LAT_METHOD_RK8PD},
	{"solver", "rtol", K_DOUBLE, F(rtol), 0, GT_MIN | LT_MAX, 0, 1, 1e-6},
	{"solver", "atol", K_DOUBLE, F(atol), 0, GT_MIN, 0, 0, 1e-9},
	{"solver", "steady_tol", K_DOUBLE, F(steady_tol), 0, GT_MIN, 0, 0, 1e-7},
	{"solver", "t_max", K_DOUBLE, F(t_max), 0, GT_MIN, 0, 0, 5000},
	{"solver", "max_steps", K_LONG, F(max_steps), 0, GE_MIN, 1, 0, 100000},
	{"run", "presentations", K_SIZE, F(presentations), 0, GE_MIN, 0, 0, 2000},
	{"run", "record_every", K_SIZE, F(record_every), 0, GE_MIN, 1, 0, 10},
	{"run", "trace_presentations", K_SIZE, F(trace_presentations), 0, GE_MIN, 0, 0, 3},
	{"run", "trace_dt", K_DOUBLE, F(trace_dt), 0, GE_MIN, 0, 0, 0},
};
/* clang-format on */

#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const nonlin_names[] = {"linear", "relu", NULL};
static const char *const schedule_names[] = {"constant", "inverse_sqrt", NULL};
static const char *const update_names[] = {"online", "batch", NULL};
static const char *const timing_names[] = {"fixedpoint", "continuous", NULL};
#define N_METHODS ((int)LAT_METHOD_EXACT + 1)

/* Where settings come from, for message prefixes: a file (name and line) or one --set assignment. */
struct src {
	const char *name;   /* file name (or the name given to lat_model_load_string) */
	const char *assign; /* the --set assignment, or NULL */
};

/* ---- messages ---------------------------------------------------------------------------------------- */

/* Formats "PREFIX: message" into err and returns LAT_ECONFIG; the prefix is "FILE:LINE" for a setting
 * read from a file, "--set ASSIGNMENT" for an override and "FILE" when s is NULL. */
static int src_err(const struct src *c, const config_setting_t *s, char *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int src_err(const struct src *c, const config_setting_t *s, char *err, const char *fmt, ...)
{
	char msg[LAT_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->assign)
		return lat_err_set(err, LAT_ECONFIG, "--set %s: %s", c->assign, msg);
	if (s) {
		const char *file = config_setting_source_file(s);
		return lat_err_set(err, LAT_ECONFIG, "%s:%u: %s", file ? file : c->name,
				   (unsigned)config_setting_source_line(s), msg);
	}
	return lat_err_set(err, LAT_ECONFIG, "%s: %s", c->name, msg);
}

/* "an integer (3)", "a string ("abc")", ...: what a setting holds, for "expected X, got Y". */
static void describe(const config_setting_t *s, char *buf, size_t size)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, size, "an integer (%lld)", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, size, "a float (%g)", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, size, "a string (\"%.40s\")", config_setting_get_string(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "a boolean (%s)", config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_GROUP:
		snprintf(buf, size, "a group { ... }");
		break;
	case CONFIG_TYPE_ARRAY:
		snprintf(buf, size, "an array [ ... ]");
		break;
	case CONFIG_TYPE_LIST:
		snprintf(buf, size, "a list ( ... )");
		break;
	default:
		snprintf(buf, size, "a setting of unknown type");
		break;
	}
}

/* " > 0", " >= 0 and < 1", or "" when k has no bounds. */
static void bounds_text(const struct key *k, char *buf, size_t size)
{
	int n = 0;

	buf[0] = '\0';
	if (k->flags & (GE_MIN | GT_MIN))
		n = snprintf(buf, size, " %s %.15g", k->flags & GT_MIN ? ">" : ">=", k->min);
	if (n >= 0 && (size_t)n < size && (k->flags & (LE_MAX | LT_MAX)))
		snprintf(buf + n, size - (size_t)n, "%s %s %.15g", n ? " and" : "",
			 k->flags & LT_MAX ? "<" : "<=", k->max);
}

static int in_bounds(const struct key *k, double v)
{
	if ((k->flags & GE_MIN) && !(v >= k->min))
		return 0;
	if ((k->flags & GT_MIN) && !(v > k->min))
		return 0;
	if ((k->flags & LE_MAX) && !(v <= k->max))
		return 0;
	if ((k->flags & LT_MAX) && !(v < k->max))
		return 0;
	return 1;
}

/* Levenshtein distance of two short names (MAX_NAME or more characters count as far apart). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[MAX_NAME + 1];

	if (la >= MAX_NAME || lb >= MAX_NAME)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Appends candidate to a ", "-separated list in buf (silently truncated). */
static void list_append(char *buf, size_t size, const char *candidate)
{
	size_t len = strlen(buf);

	if (len < size)
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "", candidate);
}

/* Fills known with the section names (section == NULL) or the keys of section, and hint with
 * " (did you mean X?)" when one of them is within two edits of name. */
static void known_names(const char *section, const char *name, char *known, size_t size, char *hint,
			size_t hint_size)
{
	const char *best = NULL;
	size_t best_dist = 3, i;

	known[0] = '\0';
	hint[0] = '\0';
	for (i = 0; i < N_KEYS; i++) {
		const char *cand;
		size_t dist;

		if (section) {
			if (strcmp(keys[i].section, section) != 0)
				continue;
			cand = keys[i].name;
		} else {
			if (i > 0 && strcmp(keys[i - 1].section, keys[i].section) == 0)
				continue;
			cand = keys[i].section;
		}
		list_append(known, size, cand);
		dist = edit_distance(name, cand);
		if (dist < best_dist && dist < strlen(name)) {
			best = cand;
			best_dist = dist;
		}
	}
	if (best)
		snprintf(hint, hint_size, " (did you mean %s?)", best);
}

static int section_known(const char *section)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return 1;
	return 0;
}

static const struct key *find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The first key of any section called name (for hints about settings outside their section). */
static const struct key *find_key_anywhere(const char *name)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* When hint is empty and name is a key of some section, hints at that section's key. */
static void other_section_hint(const char *name, char *hint, size_t size)
{
	const struct key *k = find_key_anywhere(name);

	if (!hint[0] && k)
		snprintf(hint, size, " (did you mean %s.%s?)", k->section, k->name);
}

/* ---- enumerations ------------------------------------------------------------------------------------ */

static const char *const *enum_names(enum key_type type)
{
	switch (type) {
	case K_NONLIN:
		return nonlin_names;
	case K_SCHEDULE:
		return schedule_names;
	case K_UPDATE:
		return update_names;
	case K_TIMING:
		return timing_names;
	default:
		return NULL;
	}
}

static const char *enum_name(enum key_type type, int v)
{
	const char *const *names = enum_names(type);

	if (type == K_METHOD)
		return lat_method_name((lat_method)v);
	return names[v];
}

static int enum_count(enum key_type type)
{
	const char *const *names = enum_names(type);
	int n = 0;

	if (type == K_METHOD)
		return N_METHODS;
	while (names[n])
		n++;
	return n;
}

/* Index of name in the enumeration, or -1. */
static int enum_parse(enum key_type type, const char *name)
{
	int i, n = enum_count(type);

	if (type == K_METHOD) {
		lat_method meth;
		return lat_method_parse(name, &meth) == 0 ? (int)meth : -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(enum_names(type)[i], name) == 0)
			return i;
	return -1;
}

static int enum_get(const lat_model *m, const struct key *k)
{
	const char *field = (const char *)m + k->offset;

	switch (k->type) {
	case K_NONLIN:
		return *(const int *)field != 0;
	case K_SCHEDULE:
		return (int)*(const lat_schedule *)field;
	case K_UPDATE:
		return (int)*(const lat_update *)field;
	case K_TIMING:
		return (int)*(const lat_timing *)field;
	case K_METHOD:
		return (int)*(const lat_method *)field;
	default:
		return 0;
	}
}

static void enum_set(lat_model *m, const struct key *k, int v)
{
	char *field = (char *)m + k->offset;

	switch (k->type) {
	case K_NONLIN:
		*(int *)field = v;
		break;
	case K_SCHEDULE:
		*(lat_schedule *)field = (lat_schedule)v;
		break;
	case K_UPDATE:
		*(lat_update *)field = (lat_update)v;
		break;
	case K_TIMING:
		*(lat_timing *)field = (lat_timing)v;
		break;
	case K_METHOD:
		*(lat_method *)field = (lat_method)v;
		break;
	default:
		break;
	}
}

static int is_enum(enum key_type type)
{
	return type == K_NONLIN || type == K_SCHEDULE || type == K_UPDATE || type == K_TIMING ||
	       type == K_METHOD;
}

static int is_string_key(enum key_type type)
{
	return is_enum(type) || type == K_PATH;
}

/* ---- reading one setting ----------------------------------------------------------------------------- */

static int is_number(const config_setting_t *s)
{
	int type = config_setting_type(s);
	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_FLOAT;
}

static double number_value(const config_setting_t *s)
{
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		return config_setting_get_float(s);
	return (double)config_setting_get_int64(s);
}

/* Reads a finite number within k's bounds; what names it in messages ("circuit.tau", "input.cov[3]"). */
static int read_number(const struct src *c, const struct key *k, const config_setting_t *s, const char *what,
		       double *out, char *err)
{
	char got[MSGLEN], bounds[MSGLEN];
	double v;

	bounds_text(k, bounds, sizeof bounds);
	if (!is_number(s)) {
		describe(s, got, sizeof got);
		return src_err(c, s, err, "%s: expected a number%s, got %s", what, bounds, got);
	}
	v = number_value(s);
	if (!isfinite(v))
		return src_err(c, s, err, "%s: expected a finite number%s, got %g", what, bounds, v);
	if (!in_bounds(k, v))
		return src_err(c, s, err, "%s: expected a number%s, got %g", what, bounds, v);
	*out = v;
	return LAT_OK;
}

/* Reads an integer within k's bounds and within [lo, hi] (the range of the C field). */
static int read_integer(const struct src *c, const struct key *k, const config_setting_t *s, const char *what,
			long long lo, unsigned long long hi, long long *out, char *err)
{
	char got[MSGLEN], bounds[MSGLEN];
	int type = config_setting_type(s);
	long long v;

	bounds_text(k, bounds, sizeof bounds);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
		describe(s, got, sizeof got);
		return src_err(c, s, err, "%s: expected an integer%s, got %s", what, bounds, got);
	}
	v = config_setting_get_int64(s);
	if (!in_bounds(k, (double)v))
		return src_err(c, s, err, "%s: expected an integer%s, got %lld", what, bounds, v);
	if (v < lo || (v > 0 && (unsigned long long)v > hi))
		return src_err(c, s, err, "%s: %lld is out of range (%lld to %llu)", what, v, lo, hi);
	*out = v;
	return LAT_OK;
}

/* An absolute version of a relative path given on the command line (relative to the working directory). */
static char *absolute_path(const char *path)
{
	char *cwd = NULL, *res = NULL;
	size_t size;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		goto out;
	size = strlen(cwd) + strlen(path) + 2;
	res = malloc(size);
	if (res)
		snprintf(res, size, "%s/%s", cwd, path);
out:
	free(cwd);
	return res;
}

/* Reads setting s for key k into t. Owned fields that t shares with orig are replaced, not freed (the
 * caller releases whichever side is discarded); ones t already replaced are freed. */
static int read_key(const struct src *c, const struct key *k, const config_setting_t *s, lat_model *t,
		    const lat_model *orig, char *err)
{
	char what[MSGLEN], got[MSGLEN];
	char *field = (char *)t + k->offset;
	const char *ofield = (const char *)orig + k->offset;
	long long iv;
	double dv;
	int rc = LAT_OK;

	snprintf(what, sizeof what, "%s.%s", k->section, k->name);
	switch (k->type) {
	case K_SIZE:
		rc = read_integer(c, k, s, what, 0, SIZE_MAX, &iv, err);
		if (!rc)
			*(size_t *)field = (size_t)iv;
		break;
	case K_LONG:
		rc = read_integer(c, k, s, what, LONG_MIN, LONG_MAX, &iv, err);
		if (!rc)
			*(long *)field = (long)iv;
		break;
	case K_ULONG:
		rc = read_integer(c, k, s, what, 0, ULONG_MAX, &iv, err);
		if (!rc)
			*(unsigned long *)field = (unsigned long)iv;
		break;
	case K_DOUBLE:
		rc = read_number(c, k, s, what, &dv, err);
		if (!rc)
			*(double *)field = dv;
		break;
	case K_NONLIN:
	case K_SCHEDULE:
	case K_UPDATE:
	case K_TIMING:
	case K_METHOD: {
		char allowed[MSGLEN] = "";
		const char *str = config_setting_get_string(s);
		int i, v = str ? enum_parse(k->type, str) : -1;

		if (v >= 0) {
			enum_set(t, k, v);
			break;
		}
		for (i = 0; i < enum_count(k->type); i++) {
			char quoted[MAX_NAME];
			snprintf(quoted, sizeof quoted, "\"%s\"", enum_name(k->type, i));
			list_append(allowed, sizeof allowed, quoted);
		}
		describe(s, got, sizeof got);
		rc = src_err(c, s, err, "%s: expected one of %s, got %s", what, allowed, got);
		break;
	}
	case K_PATH: {
		const char *str = config_setting_get_string(s);
		char **pp = (char **)field;
		char *copy = NULL;

		if (!str) {
			describe(s, got, sizeof got);
			rc = src_err(c, s, err, "%s: expected a file name (a string, \"\" for none), got %s",
				     what, got);
			break;
		}
		if (*str) {
			copy = c->assign ? absolute_path(str) : strdup(str);
			if (!copy) {
				rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", what);
				break;
			}
		}
		if (*pp != *(char *const *)ofield)
			free(*pp);
		*pp = copy;
		break;
	}
	case K_ARRAY: {
		int type = config_setting_type(s);
		double **pp = (double **)field;
		double *vals = NULL;
		size_t i, n;

		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
			describe(s, got, sizeof got);
			rc = src_err(c, s, err,
				     "%s: expected an array of numbers [ ... ] ([] for none), got %s", what,
				     got);
			break;
		}
		n = (size_t)config_setting_length(s);
		if (n > 0) {
			vals = malloc(n * sizeof *vals);
			if (!vals) {
				rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", what);
				break;
			}
		}
		for (i = 0; i < n && !rc; i++) {
			char elem[MSGLEN + 24];
			snprintf(elem, sizeof elem, "%s[%zu]", what, i);
			rc = read_number(c, k, config_setting_get_elem(s, (unsigned)i), elem, &vals[i], err);
		}
		if (rc) {
			free(vals);
			break;
		}
		if (*pp != *(double *const *)ofield)
			free(*pp);
		*pp = vals;
		*(size_t *)((char *)t + k->count_offset) = n;
		break;
	}
	}
	return rc;
}

/* Frees the owned fields of drop that keep does not share. */
static void release_unshared(const lat_model *keep, lat_model *drop)
{
	if (drop->weights_file != keep->weights_file)
		free(drop->weights_file);
	if (drop->input_file != keep->input_file)
		free(drop->input_file);
	if (drop->input_cov_diag != keep->input_cov_diag)
		free(drop->input_cov_diag);
	if (drop->input_cov != keep->input_cov)
		free(drop->input_cov);
}

/* Applies every setting of cfg to m, or none of them: values go to a scratch copy first. */
static int apply_config(const struct src *c, const config_t *cfg, lat_model *m, char *err)
{
	config_setting_t *root = config_root_setting(cfg);
	lat_model t = *m;
	char known[LAT_ERRLEN / 2], hint[MSGLEN], got[MSGLEN];
	int i, j, n_sec = config_setting_length(root), rc = LAT_OK;

	for (i = 0; i < n_sec && !rc; i++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)i);
		const char *sname = config_setting_name(sec);
		int n_key;

		if (config_setting_type(sec) != CONFIG_TYPE_GROUP) {
			const struct key *k = find_key_anywhere(sname);
			hint[0] = '\0';
			if (k)
				snprintf(hint, sizeof hint, "; did you mean %s = { %s = ...; }?", k->section,
					 k->name);
			describe(sec, got, sizeof got);
			rc =
			    src_err(c, sec, err, "%s: expected a section %s = { key = value; ... }, got %s%s",
				    sname, sname, got, hint);
			break;
		}
		if (!section_known(sname)) {
			known_names(NULL, sname, known, sizeof known, hint, sizeof hint);
			rc = src_err(c, sec, err, "%s: unknown section%s (known: %s)", sname, hint, known);
			break;
		}
		n_key = config_setting_length(sec);
		for (j = 0; j < n_key && !rc; j++) {
			const config_setting_t *s = config_setting_get_elem(sec, (unsigned)j);
			const char *kname = config_setting_name(s);
			const struct key *k = find_key(sname, kname);

			if (!k) {
				known_names(sname, kname, known, sizeof known, hint, sizeof hint);
				other_section_hint(kname, hint, sizeof hint);
				rc = src_err(c, s, err, "%s.%s: unknown key%s (known: %s)", sname, kname,
					     hint, known);
				break;
			}
			rc = read_key(c, k, s, &t, m, err);
		}
	}
	if (rc) {
		release_unshared(m, &t);
		return rc;
	}
	release_unshared(&t, m);
	*m = t;
	return LAT_OK;
}

/* ---- loading ----------------------------------------------------------------------------------------- */

static void source_release(lat_model *m)
{
	if (m->source != builtin_source)
		free(m->source);
	m->source = NULL;
}

static void parse_error(const config_t *cfg, const char *name, char *err)
{
	const char *file = config_error_file(cfg) ? config_error_file(cfg) : name;
	const char *text = config_error_text(cfg) ? config_error_text(cfg) : "unknown error";
	int line = config_error_line(cfg);

	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		lat_err_set(err, LAT_EIO, "%s: cannot read: %s", file, text);
	else if (strcmp(text, "duplicate setting name") == 0)
		lat_err_set(err, LAT_ECONFIG,
			    "%s:%d: duplicate setting: this key (or section) is already set earlier in the "
			    "same group",
			    file, line);
	else if (strcmp(text, "mismatched element type in array") == 0)
		lat_err_set(err, LAT_ECONFIG,
			    "%s:%d: syntax error: mismatched element type in array (write every element as a "
			    "float, e.g. 1.0)",
			    file, line);
	else if (strcmp(text, "syntax error") == 0)
		lat_err_set(err, LAT_ECONFIG, "%s:%d: syntax error", file, line);
	else
		lat_err_set(err, LAT_ECONFIG, "%s:%d: syntax error: %s", file, line, text);
}

/* Parses text and applies it to m; on success m->source becomes name. include_dir may be NULL. */
static int load_text(lat_model *m, const char *text, const char *name, const char *include_dir, char *err)
{
	config_t cfg;
	struct src c = {name, NULL};
	char *source = NULL;
	int rc = LAT_OK;

	config_init(&cfg);
	if (include_dir)
		config_set_include_dir(&cfg, include_dir);
	source = strdup(name);
	if (!source) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	if (lat_text_include_line(text)) {
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s:%zu: @include is not supported: put every setting in this file", name,
				 lat_text_include_line(text));
		goto out;
	}
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		rc = LAT_ECONFIG;
		parse_error(&cfg, name, err);
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			rc = LAT_EIO;
		goto out;
	}
	rc = apply_config(&c, &cfg, m, err);
	if (rc)
		goto out;
	source_release(m);
	m->source = source;
	source = NULL;
out:
	free(source);
	config_destroy(&cfg);
	return rc;
}

int lat_model_load_string(lat_model *m, const char *text, const char *name, char *err)
{
	return load_text(m, text, name ? name : "<string>", NULL, err);
}

/* The folder part of path ("models" for "models/x.cfg"), a new string, or NULL when there is none. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	size_t len;

	if (!slash)
		return NULL;
	len = slash == path ? 1 : (size_t)(slash - path);
	dir = malloc(len + 1);
	if (dir) {
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	return dir;
}

int lat_model_load(lat_model *m, const char *path, char *err)
{
	char *text = NULL, *dir = NULL;
	int rc;

	rc = lat_text_read(path, "model file", &text, err);
	if (rc)
		goto out;
	dir = dir_of(path);
	rc = load_text(m, text, path, dir, err);
out:
	free(dir);
	free(text);
	return rc;
}

/* Copies the libconfig escape of character ch into out (at most 5 bytes with the NUL). */
static void escape_char(unsigned char ch, char *out)
{
	if (ch == '"' || ch == '\\')
		snprintf(out, 5, "\\%c", ch);
	else if (ch < 0x20 || ch == 0x7f)
		snprintf(out, 5, "\\x%02x", ch);
	else
		snprintf(out, 5, "%c", ch);
}

/* s as a quoted libconfig string: a new string, or NULL when out of memory. */
static char *quote(const char *s)
{
	size_t size = 4 * strlen(s) + 3;
	char *q = malloc(size), *p;

	if (!q)
		return NULL;
	p = q;
	*p++ = '"';
	for (; *s; s++) {
		char e[5];
		escape_char((unsigned char)*s, e);
		p = stpcpy(p, e);
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

/* Copies [b, e) without surrounding blanks into a new string. */
static char *trimmed(const char *b, const char *e)
{
	char *s;

	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	s = malloc((size_t)(e - b) + 1);
	if (s) {
		memcpy(s, b, (size_t)(e - b));
		s[e - b] = '\0';
	}
	return s;
}

int lat_model_set(lat_model *m, const char *assignment, char *err)
{
	struct src c = {SET_SOURCE, assignment};
	char known[LAT_ERRLEN / 2], hint[MSGLEN];
	const char *eq = strchr(assignment, '=');
	char *lhs = NULL, *value = NULL, *quoted = NULL, *text = NULL;
	const char *section, *name, *val;
	const struct key *k;
	const config_setting_t *root, *sec;
	config_t cfg;
	char *dot;
	size_t size;
	int rc = LAT_OK;

	config_init(&cfg);
	if (!eq) {
		rc = src_err(&c, NULL, err, "expected section.key=value, e.g. circuit.tau=20");
		goto out;
	}
	lhs = trimmed(assignment, eq);
	value = trimmed(eq + 1, eq + 1 + strlen(eq + 1));
	if (!lhs || !value) {
		rc = lat_err_set(err, LAT_ENOMEM, "--set %s: out of memory", assignment);
		goto out;
	}
	dot = strchr(lhs, '.');
	if (!dot || dot == lhs || !dot[1]) {
		rc = src_err(&c, NULL, err,
			     "expected section.key=value (no section in '%s'), e.g. circuit.tau=20", lhs);
		goto out;
	}
	*dot = '\0';
	section = lhs;
	name = dot + 1;
	if (!section_known(section)) {
		known_names(NULL, section, known, sizeof known, hint, sizeof hint);
		rc = src_err(&c, NULL, err, "%s: unknown section%s (known: %s)", section, hint, known);
		goto out;
	}
	k = find_key(section, name);
	if (!k) {
		known_names(section, name, known, sizeof known, hint, sizeof hint);
		other_section_hint(name, hint, sizeof hint);
		rc = src_err(&c, NULL, err, "%s.%s: unknown key%s (known: %s)", section, name, hint, known);
		goto out;
	}
	if (!*value) {
		rc = src_err(&c, NULL, err, "%s.%s: missing value", section, name);
		goto out;
	}
	/* Strings may be given bare (solver.method=bdf): quote them unless they already are. */
	val = value;
	if (is_string_key(k->type) && value[0] != '"') {
		quoted = quote(value);
		if (!quoted) {
			rc = lat_err_set(err, LAT_ENOMEM, "--set %s: out of memory", assignment);
			goto out;
		}
		val = quoted;
	}
	size = strlen(section) + strlen(name) + strlen(val) + sizeof " = {  = ; };";
	text = malloc(size);
	if (!text) {
		rc = lat_err_set(err, LAT_ENOMEM, "--set %s: out of memory", assignment);
		goto out;
	}
	snprintf(text, size, "%s = { %s = %s; };", section, name, val);
	if (lat_text_include_line(text)) {
		rc = src_err(&c, NULL, err, "%s.%s: @include is not supported in a value", section, name);
		goto out;
	}
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		rc = src_err(&c, NULL, err, "%s.%s: cannot parse the value '%s' (libconfig: %s)", section,
			     name, value, config_error_text(&cfg) ? config_error_text(&cfg) : "error");
		goto out;
	}
	/* The value must not smuggle in further settings ("1; neurons = 5"). */
	root = config_root_setting(&cfg);
	sec = config_setting_length(root) == 1 ? config_setting_get_elem(root, 0) : NULL;
	if (!sec || config_setting_type(sec) != CONFIG_TYPE_GROUP || config_setting_length(sec) != 1) {
		rc = src_err(&c, NULL, err, "%s.%s: expected a single value", section, name);
		goto out;
	}
	rc = apply_config(&c, &cfg, m, err);
out:
	config_destroy(&cfg);
	free(text);
	free(quoted);
	free(value);
	free(lhs);
	return rc;
}

/* ---- init, clear, finalize --------------------------------------------------------------------------- */

void lat_model_init(lat_model *m)
{
	size_t i;

	memset(m, 0, sizeof *m);
	/* The built-in name is static so that an initialised model owns no memory. */
	m->source = (char *)builtin_source;
	m->weights_file = m->input_file = NULL;
	m->weights_init = m->input_cov_diag = m->input_cov = m->inputs_fixed = NULL;
	for (i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		char *field = (char *)m + k->offset;

		switch (k->type) {
		case K_SIZE:
			*(size_t *)field = (size_t)k->def;
			break;
		case K_LONG:
			*(long *)field = (long)k->def;
			break;
		case K_ULONG:
			*(unsigned long *)field = (unsigned long)k->def;
			break;
		case K_DOUBLE:
			*(double *)field = k->def;
			break;
		case K_PATH:
		case K_ARRAY:
			break;
		default:
			enum_set(m, k, (int)k->def);
			break;
		}
	}
}

void lat_model_clear(lat_model *m)
{
	source_release(m);
	free(m->weights_file);
	free(m->weights_init);
	free(m->input_cov_diag);
	free(m->input_cov);
	free(m->input_file);
	free(m->inputs_fixed);
	lat_model_init(m);
}

size_t lat_model_n_fixed(const lat_model *m)
{
	return m->input_count;
}

/* A data file named in the model: absolute, relative to the model's folder, or (for the built-in model
 * and command-line overrides) relative to the working directory. Returns a new string or NULL. */
static char *resolve_path(const char *source, const char *file)
{
	char *dir = NULL, *res = NULL;
	size_t size;

	if (file[0] == '/' || !source || strcmp(source, BUILTIN_SOURCE) == 0 ||
	    strcmp(source, SET_SOURCE) == 0)
		return strdup(file);
	dir = dir_of(source);
	if (!dir)
		return strdup(file);
	size = strlen(dir) + strlen(file) + 2;
	res = malloc(size);
	if (res)
		snprintf(res, size, "%s/%s", dir, file);
	free(dir);
	return res;
}

/* Loads the data file key (named file) and checks that it has want_rows (0 = any) x want_cols values. */
static int load_matrix(const char *src, const char *key, const char *file, size_t want_rows, size_t want_cols,
		       const char *shape, double **data, size_t *rows, char *err)
{
	char msg[LAT_ERRLEN];
	char *path = NULL;
	size_t cols = 0;
	int rc = LAT_OK;

	*data = NULL;
	path = resolve_path(src, file);
	if (!path) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: %s: out of memory", src, key);
		goto out;
	}
	rc = lat_tsv_read(path, data, rows, &cols, msg);
	if (rc) {
		lat_err_set(err, rc, "%s: %s: %s", src, key, msg);
		goto out;
	}
	if ((want_rows && *rows != want_rows) || cols != want_cols) {
		rc =
		    lat_err_set(err, LAT_ECONFIG, "%s: %s: %s has %zu x %zu values, expected %s = %zu x %zu",
				src, key, path, *rows, cols, shape, want_rows ? want_rows : *rows, want_cols);
		free(*data);
		*data = NULL;
	}
out:
	free(path);
	return rc;
}

/* Checks that the d x d matrix a is symmetric positive definite (Cholesky of a copy). */
static int check_spd(const char *src, const double *a, size_t d, char *err)
{
	double *copy = NULL;
	gsl_matrix_view v;
	size_t i, j;
	int rc = LAT_OK;

	for (i = 0; i < d; i++)
		for (j = 0; j < i; j++)
			if (a[i * d + j] != a[j * d + i]) {
				rc = lat_err_set(err, LAT_ECONFIG,
						 "%s: input.cov: not symmetric: element [%zu][%zu] = %g but "
						 "[%zu][%zu] = %g",
						 src, i, j, a[i * d + j], j, i, a[j * d + i]);
				goto out;
			}
	copy = malloc(d * d * sizeof *copy);
	if (!copy) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: input.cov: out of memory", src);
		goto out;
	}
	memcpy(copy, a, d * d * sizeof *copy);
	v = gsl_matrix_view_array(copy, d, d);
	if (gsl_linalg_cholesky_decomp1(&v.matrix) != GSL_SUCCESS) {
		rc = lat_err_set(err, LAT_ECONFIG, "%s: input.cov: not positive definite (Cholesky failed)",
				 src);
		goto out;
	}
out:
	free(copy);
	return rc;
}

int lat_model_finalize(lat_model *m, char *err)
{
	const char *src = m->source ? m->source : BUILTIN_SOURCE;
	size_t n = m->neurons, d = m->inputs, n_rows = 0, rows;
	double *w = NULL, *x = NULL;
	int rc = LAT_OK;

	/* A second call recomputes what the first derived from the files. */
	if (m->inputs_fixed && m->input_file)
		m->input_count = 0;
	free(m->weights_init);
	free(m->inputs_fixed);
	m->weights_init = m->inputs_fixed = NULL;

	if (n < 2) {
		rc =
		    lat_err_set(err, LAT_ECONFIG,
				"%s: circuit.neurons = %zu: pool statistics need at least 2 neurons", src, n);
		goto out;
	}
	if ((double)n * (double)d > MAX_WEIGHTS) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: circuit.neurons x circuit.inputs = %zu x %zu = %.0f weights is more than the "
		    "limit of %.0f",
		    src, n, d, (double)n * (double)d, MAX_WEIGHTS);
		goto out;
	}
	if (m->input_cov_diag && m->input_cov) {
		rc = lat_err_set(err, LAT_ECONFIG, "%s: input.cov_diag and input.cov are mutually exclusive",
				 src);
		goto out;
	}
	if (m->input_cov_diag && m->n_cov_diag != d) {
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s: input.cov_diag has %zu values, expected circuit.inputs = %zu", src,
				 m->n_cov_diag, d);
		goto out;
	}
	if (m->input_cov) {
		if (m->n_cov != d * d) {
			rc = lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: input.cov has %zu values, expected circuit.inputs^2 = %zu x %zu = %zu "
			    "(row-major)",
			    src, m->n_cov, d, d, d * d);
			goto out;
		}
		rc = check_spd(src, m->input_cov, d, err);
		if (rc)
			goto out;
	}
	if (m->input_file && m->input_count > 0) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: input.file and input.count = %zu are mutually exclusive (the file sets the count)",
		    src, m->input_count);
		goto out;
	}
	if (m->update == LAT_UPDATE_BATCH && m->input_count == 0 && !m->input_file) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: plasticity.update = \"batch\" needs fixed inputs: set input.count > 0 or input.file",
		    src);
		goto out;
	}
	if (m->timing == LAT_TIMING_CONTINUOUS && m->method != LAT_METHOD_ADAMS &&
	    m->method != LAT_METHOD_RK8PD) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: plasticity.timing = \"continuous\" needs solver.method = \"adams\" or \"rk8pd\", "
		    "not \"%s\"",
		    src, lat_method_name(m->method));
		goto out;
	}
	if (m->timing == LAT_TIMING_CONTINUOUS && m->update != LAT_UPDATE_ONLINE) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: plasticity.timing = \"continuous\" needs plasticity.update = \"online\"", src);
		goto out;
	}
	if (m->method == LAT_METHOD_EXACT && m->relu) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: solver.method = \"exact\" needs circuit.nonlinearity = \"linear\" (no closed form "
		    "for relu)",
		    src);
		goto out;
	}
	if (m->method == LAT_METHOD_EXACT && m->bias_tau != 0) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: solver.method = \"exact\" needs circuit.bias_tau = 0 (a constant bias), not %g", src,
		    m->bias_tau);
		goto out;
	}
	if (m->weights_file) {
		rc = load_matrix(src, "weights.file", m->weights_file, n, d,
				 "circuit.neurons x circuit.inputs", &w, &rows, err);
		if (rc)
			goto out;
	}
	if (m->input_file) {
		rc = load_matrix(src, "input.file", m->input_file, 0, d, "M x circuit.inputs", &x, &n_rows,
				 err);
		if (rc)
			goto out;
	}
	m->weights_init = w;
	m->inputs_fixed = x;
	w = x = NULL;
	if (m->input_file)
		m->input_count = n_rows;
out:
	free(x);
	free(w);
	return rc;
}

/* ---- writing ----------------------------------------------------------------------------------------- */

/* Writes v so that libconfig reads it back as the same float: the shortest of %.15g, %.16g and %.17g that
 * round-trips, with ".0" added when it would otherwise look like an integer. */
static void put_double(FILE *fp, double v)
{
	char buf[64];
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v && signbit(strtod(buf, NULL)) == signbit(v))
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
	fputs(buf, fp);
}

static void put_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		char e[5];
		escape_char((unsigned char)*s, e);
		fputs(e, fp);
	}
	fputc('"', fp);
}

/* Integers beyond 32 bits need libconfig's L suffix (without it they silently wrap). */
static void put_integer(FILE *fp, long long v, unsigned long long u, int is_unsigned)
{
	if (is_unsigned)
		fprintf(fp, "%llu%s", u, u > INT_MAX ? "L" : "");
	else
		fprintf(fp, "%lld%s", v, v > INT_MAX || v < INT_MIN ? "L" : "");
}

static void put_array(FILE *fp, const double *a, size_t n, size_t row)
{
	size_t i;

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		if (row > 1 && i % row == 0)
			fputs("\n\t\t", fp);
		put_double(fp, a[i]);
		if (i + 1 < n)
			fputs(row > 1 && (i + 1) % row == 0 ? "," : ", ", fp);
	}
	if (row > 1 && n > 0)
		fputs("\n\t", fp);
	fputc(']', fp);
}

int lat_model_write(const lat_model *m, FILE *fp)
{
	size_t i;

	fprintf(fp, "# lateral model file: every key (see models/default.cfg for what each one means).\n");
	for (i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		const char *field = (const char *)m + k->offset;

		if (i == 0 || strcmp(keys[i - 1].section, k->section) != 0)
			fprintf(fp, "%s%s = {\n", i ? "};\n\n" : "\n", k->section);
		fprintf(fp, "\t%s = ", k->name);
		switch (k->type) {
		case K_SIZE: {
			size_t v = *(const size_t *)field;
			/* A count taken from input.file by finalize is not part of the model. */
			if (field == (const char *)&m->input_count && m->input_file && m->inputs_fixed)
				v = 0;
			put_integer(fp, 0, v, 1);
			break;
		}
		case K_LONG:
			put_integer(fp, *(const long *)field, 0, 0);
			break;
		case K_ULONG:
			put_integer(fp, 0, *(const unsigned long *)field, 1);
			break;
		case K_DOUBLE:
			put_double(fp, *(const double *)field);
			break;
		case K_PATH: {
			const char *s = *(char *const *)field;
			put_quoted(fp, s ? s : "");
			break;
		}
		case K_ARRAY: {
			const double *a = *(double *const *)field;
			size_t n = a ? *(const size_t *)((const char *)m + k->count_offset) : 0;
			size_t row = field == (const char *)&m->input_cov && n == m->inputs * m->inputs
					 ? m->inputs
					 : 0;
			put_array(fp, a, n, row);
			break;
		}
		default:
			put_quoted(fp, enum_name(k->type, enum_get(m, k)));
			break;
		}
		fputs(";\n", fp);
	}
	fputs("};\n", fp);
	return ferror(fp) ? LAT_EIO : LAT_OK;
}

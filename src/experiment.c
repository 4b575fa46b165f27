/* experiment.c: strict, table-driven loading of experiment files and --set overrides (libconfig). */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

enum type { T_SIZE, T_ULONG, T_LONG, T_DOUBLE, T_BOOL, T_STR, T_PATH, T_FORMAT, T_OPTIM, T_METHOD, T_SIZES, T_PATHS };

struct key {
	const char *section, *name;
	enum type type;
	size_t offset, count_offset; /* count_offset: element count of T_SIZES / T_PATHS arrays */
	double min, max;             /* inclusive bounds of numbers */
};

#define OFF(f) offsetof(lat_experiment, f)
#define BIG 1e15
/* clang-format off */
static const struct key keys[] = {
	{"data", "format", T_FORMAT, OFF(format), 0, 0, 0},
	{"data", "train_images", T_PATH, OFF(train_images), 0, 0, 0},
	{"data", "train_labels", T_PATH, OFF(train_labels), 0, 0, 0},
	{"data", "test_images", T_PATH, OFF(test_images), 0, 0, 0},
	{"data", "test_labels", T_PATH, OFF(test_labels), 0, 0, 0},
	{"data", "train_files", T_PATHS, OFF(train_files), OFF(n_train_files), 0, 0},
	{"data", "test_files", T_PATHS, OFF(test_files), OFF(n_test_files), 0, 0},
	{"data", "validation", T_SIZE, OFF(validation), 0, 0, BIG},
	{"data", "limit_train", T_SIZE, OFF(limit_train), 0, 0, BIG},
	{"data", "limit_test", T_SIZE, OFF(limit_test), 0, 0, BIG},
	{"data", "pad", T_SIZE, OFF(pad), 0, 0, 64},
	{"data", "repeats", T_SIZE, OFF(repeats), 0, 1, 64},
	{"network", "locally_connected", T_BOOL, OFF(locally_connected), 0, 0, 1},
	{"network", "keep_first_conv", T_BOOL, OFF(keep_first_conv), 0, 0, 1},
	{"network", "bn_momentum", T_DOUBLE, OFF(bn_momentum), 0, 0, 1},
	{"network", "bn_eps", T_DOUBLE, OFF(bn_eps), 0, 1e-300, 1},
	{"train", "epochs", T_SIZE, OFF(epochs), 0, 0, 100000},
	{"train", "batch", T_SIZE, OFF(batch), 0, 1, 65536},
	{"train", "checkpoint_every", T_SIZE, OFF(checkpoint_every), 0, 0, 100000},
	{"train", "threads", T_SIZE, OFF(threads), 0, 0, 1024},
	{"train", "seed", T_ULONG, OFF(seed), 0, 0, BIG},
	{"train", "optimizer", T_OPTIM, OFF(optimizer), 0, 0, 0},
	{"train", "lr", T_DOUBLE, OFF(lr), 0, 1e-300, 1e3},
	{"train", "weight_decay", T_DOUBLE, OFF(weight_decay), 0, 0, 1e3},
	{"train", "momentum", T_DOUBLE, OFF(momentum), 0, 0, 0.999999},
	{"train", "beta1", T_DOUBLE, OFF(beta1), 0, 0, 0.999999},
	{"train", "beta2", T_DOUBLE, OFF(beta2), 0, 0, 0.999999999},
	{"train", "adam_eps", T_DOUBLE, OFF(adam_eps), 0, 1e-300, 1},
	{"train", "lr_milestones", T_SIZES, OFF(milestones), OFF(n_milestones), 1, 100000},
	{"train", "lr_gamma", T_DOUBLE, OFF(lr_gamma), 0, 1e-300, 1e3},
	{"sharing", "mode", T_STR, OFF(share_mode), 0, 0, 0},
	{"sharing", "every", T_SIZE, OFF(share_every), 0, 1, BIG},
	{"sharing", "presentations", T_SIZE, OFF(share_presentations), 0, 1, 1e6},
	{"sharing", "iterations", T_SIZE, OFF(share_iterations), 0, 1, 1e6},
	{"sharing", "eta", T_DOUBLE, OFF(share_eta), 0, 1e-300, 1e6},
	{"sharing", "gamma", T_DOUBLE, OFF(share_gamma), 0, 0, 1e6},
	{"sharing", "scale_eta", T_BOOL, OFF(share_scale_eta), 0, 0, 1},
	{"sharing", "border", T_STR, OFF(share_border), 0, 0, 0},
	{"sharing", "tau", T_DOUBLE, OFF(tau), 0, 1e-300, 1e12},
	{"sharing", "tau_inh", T_DOUBLE, OFF(tau_inh), 0, 1e-300, 1e12},
	{"sharing", "alpha", T_DOUBLE, OFF(alpha), 0, -1 + 1e-12, 1e12},
	{"sharing", "bias", T_DOUBLE, OFF(bias), 0, -1e12, 1e12},
	{"sharing", "method", T_METHOD, OFF(method), 0, 0, 0},
	{"sharing", "rtol", T_DOUBLE, OFF(rtol), 0, 1e-300, 0.999999},
	{"sharing", "atol", T_DOUBLE, OFF(atol), 0, 1e-300, 1e6},
	{"sharing", "steady_tol", T_DOUBLE, OFF(steady_tol), 0, 1e-300, 1e6},
	{"sharing", "t_max", T_DOUBLE, OFF(t_max), 0, 1e-300, 1e12},
	{"sharing", "max_steps", T_LONG, OFF(max_steps), 0, 1, 1e12},
};
/* clang-format on */
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const sections[] = {"data", "network", "train", "sharing"};
static const char *const formats[] = {"idx", "cifar10", "cifar100"};
static const char *const optimizers[] = {"sgd", "adamw"};
static const char *const kinds[] = {"conv", "lc", "relu", "maxpool", "bn", "avgpool", "linear", "resblock"};
static const char *const share_modes[] = {"none", "instant", "fixedpoint", "circuit"};
static const char *const borders[] = {"exclude", "include"};

const char *lat_layer_kind_name(lat_layer_kind k)
{
	return (size_t)k < sizeof kinds / sizeof kinds[0] ? kinds[k] : "?";
}

/* Where messages point: the file (or --set text) and, when it has one, the folder for relative paths. */
typedef struct {
	const char *name;
	const char *dir; /* NULL: relative paths stay as written */
} origin;

static int at(const origin *o, const config_setting_t *s, char *err, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

static int at(const origin *o, const config_setting_t *s, char *err, const char *fmt, ...)
{
	char msg[LAT_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s && config_setting_source_line(s) > 0)
		return lat_err_set(err, LAT_ECONFIG, "%s:%d: %s", o->name, config_setting_source_line(s), msg);
	return lat_err_set(err, LAT_ECONFIG, "%s: %s", o->name, msg);
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

static void list_names(const char *const *names, size_t n, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "", names[i]);
}

static int is_number(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT;
}

static int get_integer(const origin *o, const config_setting_t *s, const char *what, double min, double max,
		       long long *v, char *err)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return at(o, s, err, "%s: expected an integer", what);
	*v = config_setting_get_int64(s);
	if ((double)*v < min || (double)*v > max)
		return at(o, s, err, "%s: expected an integer in [%.15g, %.15g], got %lld", what, min, max, *v);
	return LAT_OK;
}

static int get_string(const origin *o, const config_setting_t *s, const char *what, const char **v, char *err)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return at(o, s, err, "%s: expected a string", what);
	*v = config_setting_get_string(s);
	return LAT_OK;
}

static int get_choice(const origin *o, const config_setting_t *s, const char *what, const char *const *names,
		      size_t n, int *v, char *err)
{
	const char *str = NULL;
	char list[256];
	int rc = get_string(o, s, what, &str, err);
	if (rc)
		return rc;
	*v = name_index(names, n, str);
	if (*v < 0) {
		list_names(names, n, list, sizeof list);
		return at(o, s, err, "%s: expected one of %s, got \"%s\"", what, list, str);
	}
	return LAT_OK;
}

/* A path as written, made relative to the experiment file's folder. Returns a new string or NULL. */
static char *resolve(const origin *o, const char *path)
{
	size_t n;
	char *out;
	if (path[0] == '/' || !o->dir || !path[0])
		return strdup(path);
	n = strlen(o->dir) + strlen(path) + 2;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", o->dir, path);
	return out;
}

static int set_path(const origin *o, const config_setting_t *s, const char *what, char **field, char *err)
{
	const char *str = NULL;
	char *copy;
	int rc = get_string(o, s, what, &str, err);
	if (rc)
		return rc;
	copy = resolve(o, str);
	if (!copy)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return LAT_OK;
}

static int read_key(const origin *o, const struct key *k, const config_setting_t *s, lat_experiment *e, char *err)
{
	char what[96];
	void *field = (char *)e + k->offset;
	long long iv;
	int choice, rc = LAT_OK;

	snprintf(what, sizeof what, "%s.%s", k->section, k->name);
	switch (k->type) {
	case T_SIZE:
	case T_ULONG:
	case T_LONG:
		rc = get_integer(o, s, what, k->min, k->max, &iv, err);
		if (rc)
			break;
		if (k->type == T_SIZE)
			*(size_t *)field = (size_t)iv;
		else if (k->type == T_ULONG)
			*(unsigned long *)field = (unsigned long)iv;
		else
			*(long *)field = (long)iv;
		break;
	case T_DOUBLE: {
		double v;
		if (!is_number(s))
			return at(o, s, err, "%s: expected a number", what);
		v = config_setting_get_float(s);
		if (config_setting_type(s) != CONFIG_TYPE_FLOAT)
			v = (double)config_setting_get_int64(s);
		if (!isfinite(v) || v < k->min || v > k->max)
			return at(o, s, err, "%s: expected a finite number in [%g, %g], got %g", what, k->min, k->max, v);
		*(double *)field = v;
		break;
	}
	case T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return at(o, s, err, "%s: expected true or false", what);
		*(int *)field = config_setting_get_bool(s);
		break;
	case T_STR: {
		const char *str = NULL;
		char *copy;
		rc = get_string(o, s, what, &str, err);
		if (rc)
			break;
		copy = strdup(str);
		if (!copy)
			return lat_err_set(err, LAT_ENOMEM, "out of memory");
		free(*(char **)field);
		*(char **)field = copy;
		break;
	}
	case T_PATH:
		rc = set_path(o, s, what, (char **)field, err);
		break;
	case T_FORMAT:
		rc = get_choice(o, s, what, formats, 3, &choice, err);
		if (!rc)
			*(lat_data_format *)field = (lat_data_format)choice;
		break;
	case T_OPTIM:
		rc = get_choice(o, s, what, optimizers, 2, &choice, err);
		if (!rc)
			*(lat_optimizer *)field = (lat_optimizer)choice;
		break;
	case T_METHOD: {
		const char *str = NULL;
		rc = get_string(o, s, what, &str, err);
		if (!rc && lat_method_parse(str, (lat_method *)field))
			rc = at(o, s, err, "%s: expected one of \"rk8pd\", \"adams\", \"bdf\", \"exact\", got \"%s\"", what,
				str);
		break;
	}
	case T_SIZES:
	case T_PATHS: {
		int n = config_setting_length(s);
		size_t cap = k->type == T_SIZES ? LAT_MAX_MILESTONES : LAT_MAX_FILES;
		if (!config_setting_is_array(s) && !config_setting_is_list(s))
			return at(o, s, err, "%s: expected an array [...]", what);
		if ((size_t)n > cap)
			return at(o, s, err, "%s: at most %zu entries, got %d", what, cap, n);
		for (int i = 0; i < n && !rc; i++) {
			const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
			if (k->type == T_SIZES) {
				rc = get_integer(o, el, what, k->min, k->max, &iv, err);
				if (!rc)
					((size_t *)field)[i] = (size_t)iv;
			} else {
				rc = set_path(o, el, what, &((char **)field)[i], err);
			}
		}
		if (!rc) {
			if (k->type == T_PATHS)
				for (size_t i = (size_t)n; i < cap; i++) {
					free(((char **)field)[i]);
					((char **)field)[i] = NULL;
				}
			*(size_t *)((char *)e + k->count_offset) = (size_t)n;
		}
		break;
	}
	}
	return rc;
}

/* One entry of network.layers: { type = "conv"; channels = 32; kernel = 5; ... }. */
static int read_layer(const origin *o, const config_setting_t *g, size_t index, lat_layer_spec *l, char *err)
{
	static const char *const allowed[] = {"type", "channels", "kernel", "stride", "size", "outputs", "bias"};
	char what[64];
	const config_setting_t *t;
	long long v;
	int kind, rc;

	if (!config_setting_is_group(g))
		return at(o, g, err, "network.layers[%zu]: expected a group { type = ...; }", index);
	memset(l, 0, sizeof *l);
	l->line = config_setting_source_line(g);
	l->stride = 1;
	l->bias = 1;
	l->size = 2;
	snprintf(what, sizeof what, "network.layers[%zu].type", index);
	t = config_setting_get_member(g, "type");
	if (!t)
		return at(o, g, err, "network.layers[%zu]: missing type (one of conv, lc, relu, maxpool, bn, avgpool, "
				     "linear, resblock)",
			  index);
	rc = get_choice(o, t, what, kinds, sizeof kinds / sizeof kinds[0], &kind, err);
	if (rc)
		return rc;
	l->kind = (lat_layer_kind)kind;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		if (name_index(allowed, sizeof allowed / sizeof allowed[0], name) < 0)
			return at(o, s, err, "network.layers[%zu].%s: unknown key (known: type, channels, kernel, stride, "
					     "size, outputs, bias)",
				  index, name);
		snprintf(what, sizeof what, "network.layers[%zu].%s", index, name);
		if (!strcmp(name, "type"))
			continue;
		if (!strcmp(name, "bias")) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				return at(o, s, err, "%s: expected true or false", what);
			l->bias = config_setting_get_bool(s);
			continue;
		}
		rc = get_integer(o, s, what, 1, 1e6, &v, err);
		if (rc)
			return rc;
		if (!strcmp(name, "channels"))
			l->channels = (size_t)v;
		else if (!strcmp(name, "kernel"))
			l->kernel = (size_t)v;
		else if (!strcmp(name, "stride"))
			l->stride = (size_t)v;
		else if (!strcmp(name, "size"))
			l->size = (size_t)v;
		else
			l->outputs = (size_t)v;
	}
	switch (l->kind) {
	case LAT_L_CONV:
	case LAT_L_LC:
		if (!l->channels || !l->kernel || l->kernel % 2 == 0)
			return at(o, g, err, "network.layers[%zu] (%s): needs channels >= 1 and an odd kernel", index,
				  kinds[kind]);
		break;
	case LAT_L_RESBLOCK:
		if (!l->channels)
			return at(o, g, err, "network.layers[%zu] (resblock): needs channels >= 1", index);
		break;
	case LAT_L_LINEAR:
		if (!l->outputs)
			return at(o, g, err, "network.layers[%zu] (linear): needs outputs >= 1", index);
		break;
	default:
		break;
	}
	return LAT_OK;
}

static int read_layers(const origin *o, const config_setting_t *s, lat_experiment *e, char *err)
{
	int n = config_setting_length(s);
	if (!config_setting_is_list(s) || n == 0)
		return at(o, s, err, "network.layers: expected a non-empty list ( {...}, {...} )");
	if ((size_t)n > LAT_MAX_LAYERS)
		return at(o, s, err, "network.layers: at most %d layers, got %d", LAT_MAX_LAYERS, n);
	for (int i = 0; i < n; i++) {
		int rc = read_layer(o, config_setting_get_elem(s, (unsigned)i), (size_t)i, &e->layers[i], err);
		if (rc)
			return rc;
	}
	e->n_layers = (size_t)n;
	return LAT_OK;
}

static int apply(const origin *o, const config_setting_t *root, lat_experiment *e, char *err)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)i);
		const char *sname = config_setting_name(sec);
		if (name_index(sections, 4, sname) < 0)
			return at(o, sec, err, "%s: unknown section (known: data, network, train, sharing)", sname);
		if (!config_setting_is_group(sec))
			return at(o, sec, err, "%s: expected a group %s = { ... };", sname, sname);
		for (int j = 0; j < config_setting_length(sec); j++) {
			const config_setting_t *s = config_setting_get_elem(sec, (unsigned)j);
			const char *kname = config_setting_name(s);
			const struct key *k = NULL;
			int rc;
			if (!strcmp(sname, "network") && !strcmp(kname, "layers")) {
				rc = read_layers(o, s, e, err);
				if (rc)
					return rc;
				continue;
			}
			for (size_t q = 0; q < N_KEYS && !k; q++)
				if (!strcmp(keys[q].section, sname) && !strcmp(keys[q].name, kname))
					k = &keys[q];
			if (!k) {
				char known[512];
				size_t used = 0;
				known[0] = 0;
				for (size_t q = 0; q < N_KEYS; q++)
					if (!strcmp(keys[q].section, sname))
						used += (size_t)snprintf(known + used, used < sizeof known ? sizeof known - used : 0,
									 "%s%s", used ? ", " : "", keys[q].name);
				return at(o, s, err, "%s.%s: unknown key (known: %s%s)", sname, kname, known,
					  !strcmp(sname, "network") ? ", layers" : "");
			}
			rc = read_key(o, k, s, e, err);
			if (rc)
				return rc;
		}
	}
	return LAT_OK;
}

/* Parses text into a copy of e and keeps it only if everything was valid. */
static int load_text(lat_experiment *e, const char *text, const origin *o, char *err)
{
	config_t cfg;
	lat_experiment trial = *e;
	int rc = LAT_OK;

	/* The trial shares e's strings; duplicate them so a failed load leaves e untouched. */
	trial.source = NULL;
	trial.train_images = e->train_images ? strdup(e->train_images) : NULL;
	trial.train_labels = e->train_labels ? strdup(e->train_labels) : NULL;
	trial.test_images = e->test_images ? strdup(e->test_images) : NULL;
	trial.test_labels = e->test_labels ? strdup(e->test_labels) : NULL;
	trial.share_mode = e->share_mode ? strdup(e->share_mode) : NULL;
	trial.share_border = e->share_border ? strdup(e->share_border) : NULL;
	for (size_t i = 0; i < LAT_MAX_FILES; i++) {
		trial.train_files[i] = e->train_files[i] ? strdup(e->train_files[i]) : NULL;
		trial.test_files[i] = e->test_files[i] ? strdup(e->test_files[i]) : NULL;
	}
	config_init(&cfg);
	config_set_auto_convert(&cfg, CONFIG_FALSE);
	if (lat_text_include_line(text)) {
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s:%zu: @include is not supported: put every setting in this file", o->name,
				 lat_text_include_line(text));
		goto out;
	}
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		rc = lat_err_set(err, LAT_ECONFIG, "%s:%d: syntax error: %s", o->name, config_error_line(&cfg),
				 config_error_text(&cfg));
		goto out;
	}
	rc = apply(o, config_root_setting(&cfg), &trial, err);
out:
	config_destroy(&cfg);
	if (rc) {
		trial.source = NULL;
		lat_experiment_clear(&trial);
		return rc;
	}
	trial.source = e->source;
	e->source = NULL;
	lat_experiment_clear(e);
	*e = trial;
	return LAT_OK;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;
	if (!slash)
		return NULL;
	d = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	return d;
}

int lat_experiment_load(lat_experiment *e, const char *path, char *err)
{
	char *text = NULL, *dir = dir_of(path);
	origin o = {path, dir};
	int rc = lat_text_read(path, "experiment file", &text, err);

	if (!rc)
		rc = load_text(e, text, &o, err);
	if (!rc) {
		char *src = strdup(path);
		if (!src)
			rc = lat_err_set(err, LAT_ENOMEM, "out of memory");
		free(e->source);
		e->source = src;
	}
	free(text);
	free(dir);
	return rc;
}

int lat_experiment_set(lat_experiment *e, const char *assignment, char *err)
{
	const char *eq = strchr(assignment, '='), *dot;
	char label[256], *text = NULL, sec[64], key[64];
	const struct key *k = NULL;
	origin o;
	size_t n;
	int rc;

	snprintf(label, sizeof label, "--set %s", assignment);
	o.name = label;
	o.dir = NULL;
	dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
	if (!eq || !dot || dot == assignment || (size_t)(dot - assignment) >= sizeof sec ||
	    (size_t)(eq - dot - 1) >= sizeof key || eq == dot + 1)
		return lat_err_set(err, LAT_ECONFIG, "%s: expected section.key=value", label);
	memcpy(sec, assignment, (size_t)(dot - assignment));
	sec[dot - assignment] = 0;
	memcpy(key, dot + 1, (size_t)(eq - dot - 1));
	key[eq - dot - 1] = 0;
	if (!strcmp(sec, "network") && !strcmp(key, "layers"))
		return lat_err_set(err, LAT_ECONFIG, "%s: network.layers cannot be overridden; edit the file", label);
	for (size_t q = 0; q < N_KEYS && !k; q++)
		if (!strcmp(keys[q].section, sec) && !strcmp(keys[q].name, key))
			k = &keys[q];
	if (!k)
		return lat_err_set(err, LAT_ECONFIG, "%s: %s.%s: unknown key", label, sec, key);
	n = strlen(assignment) + 64;
	text = malloc(n);
	if (!text)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	/* Strings may be given bare: --set sharing.mode=circuit. */
	if ((k->type == T_STR || k->type == T_PATH || k->type == T_FORMAT || k->type == T_OPTIM ||
	     k->type == T_METHOD) &&
	    eq[1] != '"')
		snprintf(text, n, "%s = { %s = \"%s\"; };", sec, key, eq + 1);
	else
		snprintf(text, n, "%s = { %s = %s; };", sec, key, eq + 1);
	rc = strpbrk(eq + 1, ";{}") && k->type != T_PATH && k->type != T_STR
		 ? lat_err_set(err, LAT_ECONFIG, "%s: the value may not contain ';', '{' or '}'", label)
		 : load_text(e, text, &o, err);
	free(text);
	return rc;
}

void lat_experiment_init(lat_experiment *e)
{
	static const lat_layer_spec reference[] = {
	    {.kind = LAT_L_CONV, .channels = 32, .kernel = 5, .stride = 1, .bias = 1},
	    {.kind = LAT_L_RELU},
	    {.kind = LAT_L_MAXPOOL, .size = 2},
	    {.kind = LAT_L_CONV, .channels = 64, .kernel = 5, .stride = 1, .bias = 1},
	    {.kind = LAT_L_RELU},
	    {.kind = LAT_L_MAXPOOL, .size = 2},
	    {.kind = LAT_L_LINEAR, .outputs = 10, .bias = 1},
	};
	memset(e, 0, sizeof *e);
	e->format = LAT_DATA_IDX;
	e->train_images = strdup(FASHION_DIR "train-images-idx3-ubyte.gz");
	e->train_labels = strdup(FASHION_DIR "train-labels-idx1-ubyte.gz");
	e->test_images = strdup(FASHION_DIR "t10k-images-idx3-ubyte.gz");
	e->test_labels = strdup(FASHION_DIR "t10k-labels-idx1-ubyte.gz");
	e->repeats = 1;
	memcpy(e->layers, reference, sizeof reference);
	e->n_layers = sizeof reference / sizeof reference[0];
	e->bn_momentum = 0.1;
	e->bn_eps = 1e-5;
	e->epochs = 10;
	e->batch = 128;
	e->checkpoint_every = 1;
	e->seed = 1;
	e->optimizer = LAT_OPT_ADAMW;
	e->lr = 1e-3;
	e->weight_decay = 1e-4;
	e->momentum = 0.9;
	e->beta1 = 0.9;
	e->beta2 = 0.999;
	e->adam_eps = 1e-8;
	e->lr_gamma = 0.1;
	e->share_mode = strdup("none");
	e->share_every = 10;
	e->share_presentations = 16;
	e->share_iterations = 1;
	e->share_eta = 0.1;
	e->share_gamma = 0.01;
	e->share_scale_eta = 1;
	e->share_border = strdup("exclude");
	e->tau = 30;
	e->tau_inh = 30;
	e->alpha = 10;
	e->bias = 1;
	e->method = LAT_METHOD_RK8PD;
	e->rtol = 1e-6;
	e->atol = 1e-9;
	e->steady_tol = 1e-6;
	e->t_max = 5000;
	e->max_steps = 100000;
}

void lat_experiment_clear(lat_experiment *e)
{
	free(e->source);
	free(e->train_images);
	free(e->train_labels);
	free(e->test_images);
	free(e->test_labels);
	free(e->share_mode);
	free(e->share_border);
	for (size_t i = 0; i < LAT_MAX_FILES; i++) {
		free(e->train_files[i]);
		free(e->test_files[i]);
	}
	memset(e, 0, sizeof *e);
}

int lat_experiment_finalize(lat_experiment *e, char *err)
{
	const char *src = e->source ? e->source : "<built-in experiment>";
	if (!e->train_images || !e->train_labels || !e->share_mode || !e->share_border)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	if (e->format != LAT_DATA_IDX && (e->n_train_files == 0 || e->n_test_files == 0))
		return lat_err_set(err, LAT_ECONFIG, "%s: data.format = \"%s\" needs data.train_files and data.test_files",
				   src, formats[e->format]);
	if (name_index(share_modes, 4, e->share_mode) < 0)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: sharing.mode: expected \"none\", \"instant\", \"fixedpoint\" or \"circuit\", got \"%s\"",
				   src, e->share_mode);
	if (name_index(borders, 2, e->share_border) < 0)
		return lat_err_set(err, LAT_ECONFIG, "%s: sharing.border: expected \"exclude\" or \"include\", got \"%s\"",
				   src, e->share_border);
	for (size_t i = 1; i < e->n_milestones; i++)
		if (e->milestones[i] <= e->milestones[i - 1])
			return lat_err_set(err, LAT_ECONFIG, "%s: train.lr_milestones: must increase", src);
	if (e->layers[e->n_layers - 1].kind != LAT_L_LINEAR)
		return lat_err_set(err, LAT_ECONFIG, "%s: network.layers: the last layer must be linear (the logits)",
				   src);
	return LAT_OK;
}

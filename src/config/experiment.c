/* experiment.c: strict, table-driven loading of experiment files and --set overrides (libconfig). */
#include <config.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

_Static_assert(sizeof(lat_data_format) == sizeof(int) && sizeof(lat_optimizer) == sizeof(int) &&
		   sizeof(lat_method) == sizeof(int) && sizeof(lat_layer_kind) == sizeof(int) &&
		   sizeof(lat_share_mode) == sizeof(int) && sizeof(lat_border) == sizeof(int),
	       "LAT_CFG_ENUM fields are int-sized");

static int read_layers(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, void *obj,
		       char *err);

#define OFF(f) offsetof(lat_experiment, f)
#define LOFF(f) offsetof(lat_layer_spec, f)
#define IN (LAT_CFG_GE | LAT_CFG_LE)   /* numbers lie in [min, max] */
#define POS (LAT_CFG_GT | LAT_CFG_LE)  /* numbers lie in (min, max] */
#define FRAC (LAT_CFG_GE | LAT_CFG_LT) /* numbers lie in [min, max) */
#define BIG 1e15
/* Columns: section, key, type, field, bounds, min, max, default, enum names, array count, capacity.
 * Strings and the layers get their defaults in lat_experiment_init. */
/* clang-format off */
static const lat_cfg_key keys[] = {
	{"data", "format", LAT_CFG_ENUM, OFF(format), 0, 0, 0, LAT_DATA_IDX, lat_data_format_names, 0, 0},
	{"data", "train_images", LAT_CFG_PATH, OFF(train_images), 0, 0, 0, 0, NULL, 0, 0},
	{"data", "train_labels", LAT_CFG_PATH, OFF(train_labels), 0, 0, 0, 0, NULL, 0, 0},
	{"data", "test_images", LAT_CFG_PATH, OFF(test_images), 0, 0, 0, 0, NULL, 0, 0},
	{"data", "test_labels", LAT_CFG_PATH, OFF(test_labels), 0, 0, 0, 0, NULL, 0, 0},
	{"data", "train_files", LAT_CFG_PATHS, OFF(train_files), 0, 0, 0, 0, NULL, OFF(n_train_files), LAT_MAX_FILES},
	{"data", "test_files", LAT_CFG_PATHS, OFF(test_files), 0, 0, 0, 0, NULL, OFF(n_test_files), LAT_MAX_FILES},
	{"data", "validation", LAT_CFG_SIZE, OFF(validation), IN, 0, BIG, 0, NULL, 0, 0},
	{"data", "limit_train", LAT_CFG_SIZE, OFF(limit_train), IN, 0, BIG, 0, NULL, 0, 0},
	{"data", "limit_test", LAT_CFG_SIZE, OFF(limit_test), IN, 0, BIG, 0, NULL, 0, 0},
	{"data", "pad", LAT_CFG_SIZE, OFF(pad), IN, 0, 64, 0, NULL, 0, 0},
	{"data", "repeats", LAT_CFG_SIZE, OFF(repeats), IN, 1, 64, 1, NULL, 0, 0},
	{"data", "canvas", LAT_CFG_SIZE, OFF(canvas), IN, 0, 4096, 0, NULL, 0, 0},
	{"data", "train_offsets", LAT_CFG_SIZES, OFF(train_offsets), IN, 0, 4096, 0, NULL, OFF(n_train_offsets), 4},
	{"data", "test_offsets", LAT_CFG_SIZES, OFF(test_offsets), IN, 0, 4096, 0, NULL, OFF(n_test_offsets), 4},
	{"network", "locally_connected", LAT_CFG_BOOL, OFF(locally_connected), 0, 0, 0, 0, NULL, 0, 0},
	{"network", "lc_bias", LAT_CFG_ENUM, OFF(lc_bias), 0, 0, 0, 0, lat_lc_bias_names, 0, 0},
	{"network", "keep_first_conv", LAT_CFG_BOOL, OFF(keep_first_conv), 0, 0, 0, 0, NULL, 0, 0},
	{"network", "shard", LAT_CFG_ENUM, OFF(shard), 0, 0, 0, LAT_SHARD_NONE, lat_shard_names, 0, 0},
	{"network", "shard_ranks", LAT_CFG_SIZE, OFF(shard_ranks), IN, 0, 65536, 0, NULL, 0, 0},
	{"network", "bn_momentum", LAT_CFG_DOUBLE, OFF(bn_momentum), IN, 0, 1, 0.1, NULL, 0, 0},
	{"network", "bn_eps", LAT_CFG_DOUBLE, OFF(bn_eps), POS, 0, 1, 1e-5, NULL, 0, 0},
	{"network", "layers", LAT_CFG_CUSTOM, OFF(layers), 0, 0, 0, 0, NULL, 0, 0},
	{"train", "epochs", LAT_CFG_SIZE, OFF(epochs), IN, 0, 100000, 10, NULL, 0, 0},
	{"train", "batch", LAT_CFG_SIZE, OFF(batch), IN, 1, 65536, 128, NULL, 0, 0},
	{"train", "checkpoint_every", LAT_CFG_SIZE, OFF(checkpoint_every), IN, 0, 100000, 1, NULL, 0, 0},
	{"train", "threads", LAT_CFG_SIZE, OFF(threads), IN, 0, 1024, 0, NULL, 0, 0},
	{"train", "split_optimizer", LAT_CFG_BOOL, OFF(split_optimizer), 0, 0, 0, 1, NULL, 0, 0},
	{"train", "seed", LAT_CFG_ULONG, OFF(seed), IN, 0, BIG, 1, NULL, 0, 0},
	{"train", "optimizer", LAT_CFG_ENUM, OFF(optimizer), 0, 0, 0, LAT_OPT_ADAMW, lat_optimizer_names, 0, 0},
	{"train", "lr", LAT_CFG_DOUBLE, OFF(lr), POS, 0, 1e3, 1e-3, NULL, 0, 0},
	{"train", "weight_decay", LAT_CFG_DOUBLE, OFF(weight_decay), IN, 0, 1e3, 1e-4, NULL, 0, 0},
	{"train", "momentum", LAT_CFG_DOUBLE, OFF(momentum), FRAC, 0, 1, 0.9, NULL, 0, 0},
	{"train", "beta1", LAT_CFG_DOUBLE, OFF(beta1), FRAC, 0, 1, 0.9, NULL, 0, 0},
	{"train", "beta2", LAT_CFG_DOUBLE, OFF(beta2), FRAC, 0, 1, 0.999, NULL, 0, 0},
	{"train", "adam_eps", LAT_CFG_DOUBLE, OFF(adam_eps), POS, 0, 1, 1e-8, NULL, 0, 0},
	{"train", "lr_milestones", LAT_CFG_SIZES, OFF(milestones), IN, 1, 100000, 0, NULL, OFF(n_milestones), LAT_MAX_MILESTONES},
	{"train", "lr_gamma", LAT_CFG_DOUBLE, OFF(lr_gamma), POS, 0, 1e3, 0.1, NULL, 0, 0},
	{"sharing", "mode", LAT_CFG_ENUM, OFF(share_mode), 0, 0, 0, LAT_SHARE_NONE, lat_share_mode_names, 0, 0},
	{"sharing", "every", LAT_CFG_SIZE, OFF(share_every), IN, 1, BIG, 10, NULL, 0, 0},
	{"sharing", "presentations", LAT_CFG_SIZE, OFF(share_presentations), IN, 1, 1e6, 128, NULL, 0, 0},
	{"sharing", "iterations", LAT_CFG_SIZE, OFF(share_iterations), IN, 1, 1e6, 100, NULL, 0, 0},
	{"sharing", "eta", LAT_CFG_DOUBLE, OFF(share_eta), POS, 0, 1e6, 0.1, NULL, 0, 0},
	{"sharing", "gamma", LAT_CFG_DOUBLE, OFF(share_gamma), IN, 0, 1e6, 1e-5, NULL, 0, 0},
	{"sharing", "border", LAT_CFG_ENUM, OFF(share_border), 0, 0, 0, LAT_BORDER_EXCLUDE, lat_border_names, 0, 0},
	{"sharing", "tau", LAT_CFG_DOUBLE, OFF(tau), POS, 0, 1e12, 30, NULL, 0, 0},
	{"sharing", "tau_inh", LAT_CFG_DOUBLE, OFF(tau_inh), POS, 0, 1e12, 30, NULL, 0, 0},
	{"sharing", "alpha", LAT_CFG_DOUBLE, OFF(alpha), POS, -1, 1e12, 10, NULL, 0, 0},
	{"sharing", "bias", LAT_CFG_DOUBLE, OFF(bias), IN, -1e12, 1e12, 1, NULL, 0, 0},
	{"sharing", "method", LAT_CFG_ENUM, OFF(method), 0, 0, 0, LAT_METHOD_AUTO, lat_method_names, 0, 0},
	{"sharing", "rtol", LAT_CFG_DOUBLE, OFF(rtol), LAT_CFG_GT | LAT_CFG_LT, 0, 1, 1e-6, NULL, 0, 0},
	{"sharing", "atol", LAT_CFG_DOUBLE, OFF(atol), POS, 0, 1e6, 1e-9, NULL, 0, 0},
	{"sharing", "steady_tol", LAT_CFG_DOUBLE, OFF(steady_tol), POS, 0, 1e6, 1e-6, NULL, 0, 0},
	{"sharing", "t_max", LAT_CFG_DOUBLE, OFF(t_max), POS, 0, 1e12, 5000, NULL, 0, 0},
	{"sharing", "max_steps", LAT_CFG_LONG, OFF(max_steps), IN, 1, 1e12, 100000, NULL, 0, 0},
};

/* The members of one entry of network.layers: { type = "conv"; channels = 32; kernel = 5; ... }. */
static const lat_cfg_key layer_keys[] = {
	{"layer", "type", LAT_CFG_ENUM, LOFF(kind), 0, 0, 0, LAT_L_CONV, lat_layer_kind_names, 0, 0},
	{"layer", "channels", LAT_CFG_SIZE, LOFF(channels), IN, 1, 1e6, 0, NULL, 0, 0},
	{"layer", "kernel", LAT_CFG_SIZE, LOFF(kernel), IN, 1, 1e6, 0, NULL, 0, 0},
	{"layer", "stride", LAT_CFG_SIZE, LOFF(stride), IN, 1, 1e6, 1, NULL, 0, 0},
	{"layer", "size", LAT_CFG_SIZE, LOFF(size), IN, 1, 1e6, 2, NULL, 0, 0},
	{"layer", "outputs", LAT_CFG_SIZE, LOFF(outputs), IN, 1, 1e6, 0, NULL, 0, 0},
	{"layer", "bias", LAT_CFG_BOOL, LOFF(bias), 0, 0, 0, 1, NULL, 0, 0},
};
/* clang-format on */

/* The members of layer_keys each kind takes, as bits 1 << (index in layer_keys); type applies to all. */
enum { K_TYPE = 1, K_CHANNELS = 2, K_KERNEL = 4, K_STRIDE = 8, K_SIZE = 16, K_OUTPUTS = 32, K_BIAS = 64 };
static const unsigned kind_keys[] = {
    [LAT_L_CONV] = K_TYPE | K_CHANNELS | K_KERNEL | K_STRIDE | K_BIAS,
    [LAT_L_LC] = K_TYPE | K_CHANNELS | K_KERNEL | K_STRIDE | K_BIAS,
    [LAT_L_RELU] = K_TYPE,
    [LAT_L_MAXPOOL] = K_TYPE | K_SIZE,
    [LAT_L_BN] = K_TYPE,
    [LAT_L_AVGPOOL] = K_TYPE,
    [LAT_L_LINEAR] = K_TYPE | K_OUTPUTS | K_BIAS,
    [LAT_L_RESBLOCK] = K_TYPE | K_CHANNELS | K_STRIDE,
};

static const lat_cfg_schema schema = {
    keys, sizeof keys / sizeof keys[0], sizeof(lat_experiment), "experiment", "train.epochs=5", read_layers};
static const lat_cfg_schema layer_schema = {
    layer_keys, sizeof layer_keys / sizeof layer_keys[0], sizeof(lat_layer_spec), "layer", NULL, NULL};

const lat_cfg_schema *lat_experiment_schema(void)
{
	return &schema;
}

const lat_cfg_schema *lat_layer_schema(void)
{
	return &layer_schema;
}

/* A member of layer group g (of kind) that the kind does not take, e.g. size in an avgpool layer (which
 * would be ignored), is LAT_ECONFIG naming the layer, the key and the kind. Unknown names are left to
 * lat_cfg_read_group. */
static int check_layer_keys(const lat_cfg_ctx *c, const config_setting_t *g, const char *prefix,
			    lat_layer_kind kind, char *err)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		char takes[LAT_ERRLEN] = "";
		size_t j, used = 0;

		for (j = 0; j < sizeof layer_keys / sizeof layer_keys[0]; j++)
			if (!strcmp(layer_keys[j].name, config_setting_name(s)))
				break;
		if (j == sizeof layer_keys / sizeof layer_keys[0] || (kind_keys[kind] & (1u << j)))
			continue;
		for (j = 0; j < sizeof layer_keys / sizeof layer_keys[0] && used < sizeof takes; j++)
			if (kind_keys[kind] & (1u << j))
				used += (size_t)snprintf(takes + used, sizeof takes - used, "%s%s", used ? ", " : "",
							 layer_keys[j].name);
		return lat_cfg_error(c, s, err, "%s.%s: not a key of \"%s\" layers (they take %s%s)", prefix,
				     config_setting_name(s), lat_layer_kind_name(kind),
				     kind_keys[kind] == K_TYPE ? "only " : "", takes);
	}
	return LAT_OK;
}

/* One entry of network.layers. */
static int read_layer(const lat_cfg_ctx *c, const config_setting_t *g, size_t index, lat_layer_spec *l,
		      char *err)
{
	char prefix[64], what[96], got[LAT_ERRLEN];
	const config_setting_t *t;
	const char *missing = NULL; /* a key the kind needs, and what it must hold */
	int rc, conv;

	if (!config_setting_is_group(g)) {
		lat_cfg_describe(c, g, got, sizeof got);
		return lat_cfg_error(c, g, err,
				     "network.layers[%zu]: expected a group { type = ...; ... }, got %s",
				     index, got);
	}
	memset(l, 0, sizeof *l);
	lat_cfg_defaults(&layer_schema, l);
	l->line = config_setting_source_line(g);
	t = config_setting_get_member(g, "type");
	if (!t)
		return lat_cfg_error(c, g, err,
				     "network.layers[%zu]: missing type (one of \"conv\", \"lc\", \"relu\", "
				     "\"maxpool\", \"bn\", \"avgpool\", \"linear\", \"resblock\")",
				     index);
	snprintf(prefix, sizeof prefix, "network.layers[%zu]", index);
	snprintf(what, sizeof what, "%s.type", prefix);
	/* The type first, wherever it stands: a bad type is reported before anything else. */
	rc = lat_cfg_read_key(c, &layer_keys[0], t, what, l, err);
	if (!rc)
		rc = check_layer_keys(c, g, prefix, l->kind, err);
	if (!rc)
		rc = lat_cfg_read_group(c, layer_keys, layer_schema.n_keys, prefix, g, l, err);
	if (rc)
		return rc;
	/* Given sizes are >= 1 (the table's bounds), so 0 means left out. */
	conv = l->kind == LAT_L_CONV || l->kind == LAT_L_LC;
	if ((conv || l->kind == LAT_L_RESBLOCK) && !l->channels)
		missing = "channels (an integer >= 1)";
	else if (conv && !l->kernel)
		missing = "kernel (an odd integer >= 1)";
	else if (l->kind == LAT_L_LINEAR && !l->outputs)
		missing = "outputs (an integer >= 1)";
	if (missing)
		return lat_cfg_error(c, g, err, "%s (%s): missing %s", prefix, lat_layer_kind_name(l->kind),
				     missing);
	if (conv && l->kernel % 2 == 0)
		return lat_cfg_error(c, config_setting_get_member(g, "kernel"), err,
				     "%s.kernel: expected an odd integer (the kernel is centred), got %zu",
				     prefix, l->kernel);
	return LAT_OK;
}

/* network.layers = ( {...}, ... ): the custom key of the table; replaces the whole list. */
static int read_layers(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, void *obj,
		       char *err)
{
	lat_experiment *e = obj;
	int n = config_setting_length(s);
	char got[LAT_ERRLEN];

	(void)k;
	if (!config_setting_is_list(s)) {
		lat_cfg_describe(c, s, got, sizeof got);
		return lat_cfg_error(c, s, err,
				     "network.layers: expected a list ( { type = ...; }, ... ), got %s", got);
	}
	if (n == 0)
		return lat_cfg_error(c, s, err,
				     "network.layers: expected at least one layer, got an empty list");
	if ((size_t)n > LAT_MAX_LAYERS)
		return lat_cfg_error(c, s, err, "network.layers: expected at most %d layers, got %d",
				     LAT_MAX_LAYERS, n);
	for (int i = 0; i < n; i++) {
		int rc =
		    read_layer(c, config_setting_get_elem(s, (unsigned)i), (size_t)i, &e->layers[i], err);
		if (rc)
			return rc;
	}
	e->n_layers = (size_t)n;
	return LAT_OK;
}

int lat_experiment_load(lat_experiment *e, const char *path, char *err)
{
	char *text = NULL, *dir = lat_cfg_dir_of(path);
	int rc = lat_text_read(path, "experiment file", &text, err);

	/* Relative data files are taken relative to the experiment file's folder. */
	if (!rc)
		rc = lat_cfg_read(&schema, e, text, path, NULL, dir, err);
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

int lat_experiment_read_text(lat_experiment *e, const char *text, const char *name, char *err)
{
	int rc = lat_cfg_read(&schema, e, text, name, NULL, NULL, err);

	if (!rc) {
		char *src = strdup(name);
		if (!src)
			return lat_err_set(err, LAT_ENOMEM, "out of memory");
		free(e->source);
		e->source = src;
	}
	return rc;
}

/* p as an absolute file name (relative ones are taken from the working directory), written quoted. */
static int put_abs_path(FILE *fp, const char *p)
{
	char *a = lat_cfg_path(LAT_CFG_CWD, p);

	if (!a)
		return LAT_ENOMEM;
	lat_cfg_put_string(fp, a);
	free(a);
	return LAT_OK;
}

/* The experiment writer's special keys: file names made absolute (the text must mean the same data
 * wherever it is read), and network.layers with the keys each layer kind takes. */
static int put_experiment_key(FILE *fp, const lat_cfg_key *k, const void *obj)
{
	const lat_experiment *e = obj;
	const char *field = (const char *)obj + k->offset;

	if (k->type == LAT_CFG_PATH)
		return put_abs_path(fp, *(char *const *)field) ? LAT_ENOMEM : 1;
	if (k->type == LAT_CFG_PATHS) {
		size_t n = *(const size_t *)((const char *)obj + k->count_offset);
		fputc('[', fp);
		for (size_t i = 0; i < n; i++) {
			if (put_abs_path(fp, ((char *const *)field)[i]))
				return LAT_ENOMEM;
			fputs(i + 1 < n ? ", " : "", fp);
		}
		fputc(']', fp);
		return 1;
	}
	if (k->type != LAT_CFG_CUSTOM)
		return 0;
	fputc('(', fp);
	for (size_t i = 0; i < e->n_layers; i++) {
		const lat_layer_spec *l = &e->layers[i];
		fputs(i ? ",\n\t\t{ " : "\n\t\t{ ", fp);
		for (size_t j = 0; j < sizeof layer_keys / sizeof layer_keys[0]; j++)
			if (kind_keys[l->kind] & (1u << j)) {
				fprintf(fp, "%s = ", layer_keys[j].name);
				lat_cfg_put_value(fp, &layer_keys[j], l);
				fputs("; ", fp);
			}
		fputc('}', fp);
	}
	fputs("\n\t)", fp);
	return 1;
}

int lat_experiment_write(const lat_experiment *e, FILE *fp)
{
	return lat_cfg_write(&schema, e, fp, "lateral experiment file: every key, resolved (see README.md, Training).",
			     put_experiment_key);
}

int lat_experiment_detect(const char *text)
{
	static const char *const sections[] = {"data", "network", "train", "sharing"};
	config_t cfg;
	int found = 0;

	config_init(&cfg);
	/* only the names of the top-level settings matter; a text libconfig cannot parse is not one */
	if (!lat_text_include_line(text) && config_read_string(&cfg, text) == CONFIG_TRUE) {
		const config_setting_t *root = config_root_setting(&cfg);
		for (size_t i = 0; i < sizeof sections / sizeof sections[0] && !found; i++)
			found = config_setting_get_member(root, sections[i]) != NULL;
	}
	config_destroy(&cfg);
	return found;
}

int lat_experiment_set(lat_experiment *e, const char *assignment, char *err)
{
	return lat_cfg_set(&schema, e, "--set", assignment, NULL, err);
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
	lat_cfg_defaults(&schema, e);
	e->train_images = strdup(FASHION_DIR "train-images-idx3-ubyte.gz");
	e->train_labels = strdup(FASHION_DIR "train-labels-idx1-ubyte.gz");
	e->test_images = strdup(FASHION_DIR "t10k-images-idx3-ubyte.gz");
	e->test_labels = strdup(FASHION_DIR "t10k-labels-idx1-ubyte.gz");
	memcpy(e->layers, reference, sizeof reference);
	e->n_layers = sizeof reference / sizeof reference[0];
}

void lat_experiment_clear(lat_experiment *e)
{
	free(e->source);
	free(e->text);
	lat_cfg_free(&schema, e);
	memset(e, 0, sizeof *e);
}

/* The locally connected layers the network of e will have (lc layers, and conv layers turned into lc). */
static size_t count_lc(const lat_experiment *e)
{
	size_t n = 0, convs = 0;

	for (size_t i = 0; i < e->n_layers; i++) {
		if (e->layers[i].kind == LAT_L_LC)
			n++;
		else if (e->layers[i].kind == LAT_L_CONV) {
			int first = convs++ == 0;
			n += e->locally_connected && !(first && e->keep_first_conv);
		}
	}
	return n;
}

/* The layers a split by location reaches: the lc layers and, in an lc network, its residual blocks. */
static size_t count_splittable(const lat_experiment *e)
{
	size_t n = count_lc(e);

	for (size_t i = 0; i < e->n_layers; i++)
		n += e->locally_connected && e->layers[i].kind == LAT_L_RESBLOCK;
	return n;
}

/* e->text: e written as an experiment file. */
static int make_text(lat_experiment *e, char *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	int rc = fp ? lat_experiment_write(e, fp) : LAT_ENOMEM;

	if (fp && fclose(fp) != 0 && !rc)
		rc = LAT_ENOMEM;
	if (rc) {
		free(text);
		return lat_err_set(err, LAT_ENOMEM, "out of memory for the experiment text");
	}
	free(e->text);
	e->text = text;
	return LAT_OK;
}

int lat_experiment_finalize(lat_experiment *e, char *err)
{
	const char *src = e->source ? e->source : "<built-in experiment>";
	const lat_layer_spec *last;

	if (!e->train_images || !e->train_labels)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	if (e->format != LAT_DATA_IDX && (e->n_train_files == 0 || e->n_test_files == 0))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: data.format = \"%s\" needs data.train_files and data.test_files", src,
				   lat_data_format_names[e->format]);
	for (size_t i = 1; i < e->n_milestones; i++)
		if (e->milestones[i] <= e->milestones[i - 1])
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: train.lr_milestones: expected increasing epochs, got %zu after %zu", src,
			    e->milestones[i], e->milestones[i - 1]);
	last = &e->layers[e->n_layers - 1];
	if (last->kind != LAT_L_LINEAR) {
		char at[32] = "";
		if (e->source && last->line > 0)
			snprintf(at, sizeof at, ":%d", last->line);
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s%s: network.layers[%zu]: the last layer must be linear (the logits), got "
		    "\"%s\"",
		    src, at, e->n_layers - 1, lat_layer_kind_name(last->kind));
	}
	if (e->canvas && (e->n_train_offsets != 4 || e->n_test_offsets != 4))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: data.canvas = %zu needs data.train_offsets and data.test_offsets, 4 values each "
				   "([x from, x to, y from, y to]; got %zu and %zu)",
				   src, e->canvas, e->n_train_offsets, e->n_test_offsets);
	if (!e->canvas && (e->n_train_offsets || e->n_test_offsets))
		return lat_err_set(err, LAT_ECONFIG, "%s: data.train_offsets and data.test_offsets need data.canvas > 0", src);
	for (int t = 0; t < 2 && e->canvas; t++) {
		const size_t *o = t ? e->test_offsets : e->train_offsets;
		if (o[0] > o[1] || o[2] > o[3])
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: data.%s_offsets = [%zu, %zu, %zu, %zu]: expected x from <= x to and y from "
					   "<= y to",
					   src, t ? "test" : "train", o[0], o[1], o[2], o[3]);
	}
	/* gamma pulls towards the kernels at the start of the phase: at the only update of a one-iteration
	 * phase they are the kernels themselves, so gamma changes nothing */
	if ((e->share_mode == LAT_SHARE_HEBBIAN || e->share_mode == LAT_SHARE_CIRCUIT ||
	     e->share_mode == LAT_SHARE_EXPECTED) &&
	    e->share_iterations == 1 && e->share_gamma > 0)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: sharing.gamma = %g has no effect with sharing.iterations = 1 (the pull towards "
				   "the phase's starting kernels is 0 at its only update): set sharing.iterations >= 2 "
				   "or sharing.gamma = 0",
				   src, e->share_gamma);
	if (e->shard != LAT_SHARD_NONE && !count_splittable(e))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: network.shard = \"%s\" splits locally connected layers, and this network has "
				   "none: set network.locally_connected = true (or use lc layers), or network.shard = \"none\"",
				   src, lat_shard_names[e->shard]);
	if (e->shard_ranks && e->shard == LAT_SHARD_NONE)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: network.shard_ranks = %zu sizes the groups of network.shard = \"locations\" or "
				   "\"rows\": set that too, or leave network.shard_ranks at 0",
				   src, e->shard_ranks);
	if (e->share_mode != LAT_SHARE_NONE && !count_lc(e))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: sharing.mode = \"%s\" shares the kernels of locally connected layers, and this network "
				   "has none: set network.locally_connected = true (or use lc layers), or sharing.mode = \"none\"",
				   src, lat_share_mode_name(e->share_mode));
	return make_text(e, err);
}

void lat_experiment_optim_opts(const lat_experiment *e, lat_optim_opts *o)
{
	*o = (lat_optim_opts){.kind = e->optimizer,
			      .lr = e->lr,
			      .weight_decay = e->weight_decay,
			      .momentum = e->momentum,
			      .beta1 = e->beta1,
			      .beta2 = e->beta2,
			      .eps = e->adam_eps,
			      .n_milestones = e->n_milestones,
			      .lr_gamma = e->lr_gamma};
	memcpy(o->milestones, e->milestones, sizeof o->milestones);
}

void lat_experiment_net_opts(const lat_experiment *e, lat_net_opts *o)
{
	*o = (lat_net_opts){.source = e->source ? e->source : "<built-in experiment>",
			    .layers = e->layers,
			    .n_layers = e->n_layers,
			    .locally_connected = e->locally_connected,
			    .keep_first_conv = e->keep_first_conv,
			    .bn_momentum = e->bn_momentum,
			    .bn_eps = e->bn_eps,
			    .lc_bias = e->lc_bias ? LAT_LC_BIAS_CHANNEL : LAT_LC_BIAS_POSITION,
			    .shared_lc = e->share_mode != LAT_SHARE_NONE,
			    .max_memory = e->max_memory};
}

void lat_experiment_trainer_opts(const lat_experiment *e, lat_trainer_opts *o)
{
	*o = (lat_trainer_opts){
	    .source = e->source ? e->source : "<built-in experiment>",
	    .format = e->format,
	    .train_images = e->train_images,
	    .train_labels = e->train_labels,
	    .test_images = e->test_images,
	    .test_labels = e->test_labels,
	    .train_files = (const char *const *)e->train_files,
	    .test_files = (const char *const *)e->test_files,
	    .n_train_files = e->n_train_files,
	    .n_test_files = e->n_test_files,
	    .validation = e->validation,
	    .limit_train = e->limit_train,
	    .limit_test = e->limit_test,
	    .pad = e->pad,
	    .repeats = e->repeats,
	    .canvas = e->canvas,
	    .batch = e->batch,
	    .seed = e->seed,
	    .max_memory = e->max_memory,
	    .share = {.mode = e->share_mode,
		      .border = e->share_border,
		      .presentations = e->share_presentations,
		      .iterations = e->share_iterations,
		      .eta = e->share_eta,
		      .gamma = e->share_gamma,
		      .circuit = {.n = 1, .tau = e->tau, .tau_inh = e->tau_inh, .alpha = e->alpha, .bias = e->bias},
		      .ode = {.method = e->method,
			      .rtol = e->rtol,
			      .atol = e->atol,
			      .steady_tol = e->steady_tol,
			      .t_max = e->t_max,
			      .max_steps = e->max_steps}},
	    .share_every = e->share_every,
	    .description = e->text,
	    .norm = e->norm,
	    .n_norm = e->n_norm,
	    .comm = e->comm,
	    .shard = (lat_shard)e->shard,
	    .split_optimizer = e->split_optimizer};
	memcpy(o->train_offsets, e->train_offsets, sizeof o->train_offsets);
	memcpy(o->test_offsets, e->test_offsets, sizeof o->test_offsets);
	lat_experiment_net_opts(e, &o->net);
	lat_experiment_optim_opts(e, &o->optim);
}

lat_trainer *lat_experiment_trainer_alloc(const lat_experiment *e, int *status, char *err)
{
	lat_trainer_opts o;

	lat_experiment_trainer_opts(e, &o);
	return lat_trainer_alloc(&o, status, err);
}

/* model.c: model files (libconfig 1.5): one table of typed, range-checked keys; overrides; cross-checks. */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "cfg.h"
#include "gslguard.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/circuit.h"
#include "lateral/model.h"
#include "lateral/sim.h"
#include "size.h"

#define BUILTIN_SOURCE "<built-in default>"
/* Largest N x d accepted: one N x d matrix of doubles is then at most 800 MB. */
#define MAX_WEIGHTS 100000000.0

/* The name of the built-in model: immutable and never freed (see source_release). */
static const char builtin_source[] = BUILTIN_SOURCE;

_Static_assert(sizeof(lat_schedule) == sizeof(int) && sizeof(lat_update) == sizeof(int) &&
		   sizeof(lat_timing) == sizeof(int) && sizeof(lat_method) == sizeof(int),
	       "LAT_CFG_ENUM fields are int-sized");

static const char *const update_names[] = {
    [LAT_UPDATE_ONLINE] = "online", [LAT_UPDATE_BATCH] = "batch", NULL};
static const char *const timing_names[] = {
    [LAT_TIMING_FIXEDPOINT] = "fixedpoint", [LAT_TIMING_CONTINUOUS] = "continuous", NULL};

#define F(field) offsetof(lat_model, field)
#define GE LAT_CFG_GE
#define GT LAT_CFG_GT
#define LE LAT_CFG_LE
#define LT LAT_CFG_LT
#define NONE LAT_CFG_EMPTY_NONE

/* Every key of the model file, in the order lat_model_write emits them (grouped by section). Columns:
 * section, key, type, field, bounds, min, max, default, enum names, array count, capacity. */
/* clang-format off */
static const lat_cfg_key keys[] = {
	{"circuit", "neurons", LAT_CFG_SIZE, F(neurons), GE | LE, 1, 1e6, 100, NULL, 0, 0},
	{"circuit", "inputs", LAT_CFG_SIZE, F(inputs), GE | LE, 1, 1e6, 9, NULL, 0, 0},
	{"circuit", "tau", LAT_CFG_DOUBLE, F(tau), GT, 0, 0, 30, NULL, 0, 0},
	{"circuit", "tau_inh", LAT_CFG_DOUBLE, F(tau_inh), GT, 0, 0, 30, NULL, 0, 0},
	{"circuit", "alpha", LAT_CFG_DOUBLE, F(alpha), GT, -1, 0, 10, NULL, 0, 0},
	{"circuit", "bias", LAT_CFG_DOUBLE, F(bias), 0, 0, 0, 1, NULL, 0, 0},
	{"circuit", "bias_tau", LAT_CFG_DOUBLE, F(bias_tau), GE, 0, 0, 0, NULL, 0, 0},
	{"circuit", "bias_rho", LAT_CFG_DOUBLE, F(bias_rho), GT, 0, 0, 1, NULL, 0, 0},
	{"circuit", "rate_target", LAT_CFG_DOUBLE, F(rate_target), 0, 0, 0, 1, NULL, 0, 0},
	{"circuit", "nonlinearity", LAT_CFG_ENUM, F(relu), 0, 0, 0, 0, lat_nonlinearity_names, 0, 0},
	{"weights", "init_mean", LAT_CFG_DOUBLE, F(init_mean), 0, 0, 0, 1, NULL, 0, 0},
	{"weights", "init_std", LAT_CFG_DOUBLE, F(init_std), GE, 0, 0, 1, NULL, 0, 0},
	{"weights", "seed", LAT_CFG_ULONG, F(weights_seed), GE, 0, 0, 1, NULL, 0, 0},
	{"weights", "file", LAT_CFG_PATH, F(weights_file), NONE, 0, 0, 0, NULL, 0, 0},
	{"input", "mean", LAT_CFG_DOUBLE, F(input_mean), 0, 0, 0, 0, NULL, 0, 0},
	{"input", "std", LAT_CFG_DOUBLE, F(input_std), GE, 0, 0, 1, NULL, 0, 0},
	{"input", "cov_diag", LAT_CFG_DOUBLES, F(input_cov_diag), GE, 0, 0, 0, NULL, F(n_cov_diag), 0},
	{"input", "cov", LAT_CFG_DOUBLES, F(input_cov), 0, 0, 0, 0, NULL, F(n_cov), 0},
	{"input", "count", LAT_CFG_SIZE, F(input_count), GE, 0, 0, 0, NULL, 0, 0},
	{"input", "seed", LAT_CFG_ULONG, F(input_seed), GE, 0, 0, 2, NULL, 0, 0},
	{"input", "file", LAT_CFG_PATH, F(input_file), NONE, 0, 0, 0, NULL, 0, 0},
	{"plasticity", "eta", LAT_CFG_DOUBLE, F(eta), GT, 0, 0, 0.01, NULL, 0, 0},
	{"plasticity", "gamma", LAT_CFG_DOUBLE, F(gamma), GE, 0, 0, 0.1, NULL, 0, 0},
	{"plasticity", "momentum", LAT_CFG_DOUBLE, F(momentum), GE | LT, 0, 1, 0, NULL, 0, 0},
	{"plasticity", "schedule", LAT_CFG_ENUM, F(schedule), 0, 0, 0, LAT_SCHED_CONSTANT, lat_schedule_names, 0, 0},
	{"plasticity", "schedule_tau", LAT_CFG_DOUBLE, F(schedule_tau), GT, 0, 0, 100, NULL, 0, 0},
	{"plasticity", "update", LAT_CFG_ENUM, F(update), 0, 0, 0, LAT_UPDATE_ONLINE, update_names, 0, 0},
	{"plasticity", "timing", LAT_CFG_ENUM, F(timing), 0, 0, 0, LAT_TIMING_FIXEDPOINT, timing_names, 0, 0},
	{"plasticity", "duration", LAT_CFG_DOUBLE, F(duration), GT, 0, 0, 150, NULL, 0, 0},
	{"solver", "method", LAT_CFG_ENUM, F(method), 0, 0, 0, LAT_METHOD_AUTO, lat_method_names, 0, 0},
	{"solver", "rtol", LAT_CFG_DOUBLE, F(rtol), GT | LT, 0, 1, 1e-6, NULL, 0, 0},
	{"solver", "atol", LAT_CFG_DOUBLE, F(atol), GT, 0, 0, 1e-9, NULL, 0, 0},
	{"solver", "steady_tol", LAT_CFG_DOUBLE, F(steady_tol), GT, 0, 0, 1e-7, NULL, 0, 0},
	{"solver", "t_max", LAT_CFG_DOUBLE, F(t_max), GE, 0, 0, 0, NULL, 0, 0},
	{"solver", "max_steps", LAT_CFG_LONG, F(max_steps), GE, 1, 0, 1000000, NULL, 0, 0},
	{"run", "presentations", LAT_CFG_SIZE, F(presentations), GE, 0, 0, 2000, NULL, 0, 0},
	{"run", "record_every", LAT_CFG_SIZE, F(record_every), GE, 1, 0, 10, NULL, 0, 0},
	{"run", "trace_presentations", LAT_CFG_SIZE, F(trace_presentations), GE, 0, 0, 3, NULL, 0, 0},
	{"run", "save_weights_every", LAT_CFG_SIZE, F(save_weights_every), GE, 0, 0, 0, NULL, 0, 0},
	{"run", "trace_dt", LAT_CFG_DOUBLE, F(trace_dt), GE, 0, 0, 0, NULL, 0, 0},
};
/* clang-format on */

#define N_KEYS (sizeof keys / sizeof keys[0])

static const lat_cfg_schema schema = {keys, N_KEYS, sizeof(lat_model), "model", "circuit.tau=20", NULL};

const lat_cfg_schema *lat_model_schema(void)
{
	return &schema;
}

/* ---- loading ----------------------------------------------------------------------------------------- */

static void source_release(lat_model *m)
{
	if (m->source != builtin_source)
		free(m->source);
	m->source = NULL;
}

/* Parses text and applies it to m; on success m->source becomes name. include_dir may be NULL. */
static int load_text(lat_model *m, const char *text, const char *name, const char *include_dir, char *err)
{
	char *source = strdup(name);
	int rc;

	if (!source)
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory", name);
	rc = lat_cfg_read(&schema, m, text, name, include_dir, NULL, err);
	if (rc) {
		free(source);
		return rc;
	}
	source_release(m);
	m->source = source;
	return LAT_OK;
}

int lat_model_load_string(lat_model *m, const char *text, const char *name, char *err)
{
	return load_text(m, text, name ? name : "<string>", NULL, err);
}

int lat_model_load(lat_model *m, const char *path, char *err)
{
	char *text = NULL, *dir = NULL;
	int rc;

	rc = lat_text_read(path, "model file", &text, err);
	if (rc)
		goto out;
	dir = lat_cfg_dir_of(path);
	rc = load_text(m, text, path, dir, err);
out:
	free(dir);
	free(text);
	return rc;
}

int lat_model_set_as(lat_model *m, const char *option, const char *assignment, char *err)
{
	/* A relative data file on the command line is taken relative to the working directory. */
	return lat_cfg_set(&schema, m, option, assignment, LAT_CFG_CWD, err);
}

int lat_model_set(lat_model *m, const char *assignment, char *err)
{
	return lat_model_set_as(m, "--set", assignment, err);
}

/* ---- init, clear, finalize --------------------------------------------------------------------------- */

void lat_model_init(lat_model *m)
{
	memset(m, 0, sizeof *m);
	/* The built-in name is static so that an initialised model owns no memory. */
	m->source = (char *)builtin_source;
	m->weights_file = m->input_file = NULL;
	m->weights_init = m->input_cov_diag = m->input_cov = m->inputs_fixed = NULL;
	lat_cfg_defaults(&schema, m);
}

void lat_model_clear(lat_model *m)
{
	source_release(m);
	lat_cfg_free(&schema, m);
	free(m->weights_init);
	free(m->inputs_fixed);
	lat_model_init(m);
}

size_t lat_model_n_fixed(const lat_model *m)
{
	return m->input_count;
}

void lat_model_circuit(const lat_model *m, lat_circuit *c)
{
	*c = (lat_circuit){.n = m->neurons,
			   .tau = m->tau,
			   .tau_inh = m->tau_inh,
			   .alpha = m->alpha,
			   .bias = m->bias,
			   .relu = m->relu,
			   .bias_dynamic = m->bias_tau > 0,
			   .bias_tau = m->bias_tau,
			   .bias_rho = m->bias_rho,
			   .rate_target = m->rate_target};
}

double lat_model_t_max(const lat_model *m)
{
	lat_circuit c;
	double kappa;

	if (m->t_max > 0)
		return m->t_max;
	lat_model_circuit(m, &c);
	kappa = lat_circuit_slowest_rate(&c);
	/* no decaying mode (an unstable model): the slowest time constant, as a finite budget */
	if (!(kappa > 0))
		kappa = 1.0 / fmax(fmax(m->tau, m->tau_inh), m->bias_tau);
	return LAT_T_MAX_RATES / kappa;
}

/* A data file named in the model: absolute, relative to the model's folder, or (for the built-in model
 * and command-line overrides) relative to the working directory. Returns a new string or NULL. */
static char *resolve_path(const char *source, const char *file)
{
	char *dir = source && strcmp(source, BUILTIN_SOURCE) != 0 ? lat_cfg_dir_of(source) : NULL;
	char *res = lat_cfg_path(dir, file);

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
	int rc = LAT_OK, bad;

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
	lat_gsl_enter();
	bad = gsl_linalg_cholesky_decomp1(&v.matrix);
	lat_gsl_leave();
	if (bad != GSL_SUCCESS) {
		rc = lat_err_set(err, LAT_ECONFIG, "%s: input.cov: not positive definite (Cholesky failed)",
				 src);
		goto out;
	}
out:
	free(copy);
	return rc;
}

/* The pool must not start convolutional: an input whose initial weight is the same nonzero value for
 * every neuron makes the initial SNR infinite, so 1/SNR relative to it is undefined and every later SNR
 * is a ratio of rounding noise (issue 14). w: the weights of weights.file, or NULL when they are drawn. */
static int check_initial_spread(const char *src, const lat_model *m, const double *w, char *err)
{
	size_t n = m->neurons, d = m->inputs;

	if (!w && m->init_std == 0)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: weights.init_std = 0 gives every neuron the same initial weights: the pool is "
		    "convolutional before the first presentation (SNR infinite), so there is nothing to "
		    "measure and the SNR would be rounding noise; set weights.init_std > 0",
		    src);
	for (size_t j = 0; w && j < d; j++) {
		size_t i = 1;
		while (i < n && w[i * d + j] == w[j])
			i++;
		if (i == n && w[j] != 0)
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: weights.file: input %zu has the weight %g for every neuron: the pool is "
			    "convolutional in it before the first presentation (SNR infinite), so there is "
			    "nothing to measure; give the neurons different initial weights",
			    src, j + 1, w[j]);
	}
	return LAT_OK;
}

/* finalize's checks of the sizes: at least two neurons, the weight limit, the covariance's shape. */
static int check_sizes(const char *src, const lat_model *m, char *err)
{
	size_t n = m->neurons, d = m->inputs;

	if (n < 2) {
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: circuit.neurons = %zu: pool statistics need at least 2 neurons", src,
				   n);
	}
	if ((double)n * (double)d > MAX_WEIGHTS) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: circuit.neurons x circuit.inputs = %zu x %zu = %.0f weights is more than the "
		    "limit of %.0f",
		    src, n, d, (double)n * (double)d, MAX_WEIGHTS);
	}
	if (m->input_cov_diag && m->input_cov) {
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: input.cov_diag and input.cov are mutually exclusive", src);
	}
	if (m->input_cov_diag && m->n_cov_diag != d) {
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: input.cov_diag has %zu values, expected circuit.inputs = %zu", src,
				   m->n_cov_diag, d);
	}
	if (m->input_cov) {
		if (m->n_cov != d * d) {
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: input.cov has %zu values, expected circuit.inputs^2 = %zu x %zu = %zu "
			    "(row-major)",
			    src, m->n_cov, d, d, d * d);
		}
		return check_spd(src, m->input_cov, d, err);
	}
	return LAT_OK;
}

/* finalize's checks of combinations of keys (inputs, update, timing, method, the derived t_max). */
static int check_combinations(const char *src, const lat_model *m, char *err)
{
	if (m->input_file && m->input_count > 0) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: input.file and input.count = %zu are mutually exclusive (the file sets the count)",
		    src, m->input_count);
	}
	if (m->update == LAT_UPDATE_BATCH && m->input_count == 0 && !m->input_file) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: plasticity.update = \"batch\" needs fixed inputs: set input.count > 0 or input.file",
		    src);
	}
	if (m->timing == LAT_TIMING_CONTINUOUS && m->method != LAT_METHOD_ADAMS &&
	    m->method != LAT_METHOD_RK8PD && m->method != LAT_METHOD_AUTO) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: plasticity.timing = \"continuous\" needs solver.method = \"auto\", \"adams\" or "
		    "\"rk8pd\", not \"%s\"",
		    src, lat_method_name(m->method));
	}
	if (m->timing == LAT_TIMING_CONTINUOUS && m->momentum > 0)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: plasticity.momentum = %g: momentum applies only to timing = \"fixedpoint\"",
				   src, m->momentum);
	if (m->timing == LAT_TIMING_CONTINUOUS && m->update != LAT_UPDATE_ONLINE) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: plasticity.timing = \"continuous\" needs plasticity.update = \"online\"", src);
	}
	if (m->method == LAT_METHOD_EXACT && m->relu) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: solver.method = \"exact\" needs circuit.nonlinearity = \"linear\" (no closed form "
		    "for relu)",
		    src);
	}
	if (m->method == LAT_METHOD_EXACT && m->bias_tau != 0) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: solver.method = \"exact\" needs circuit.bias_tau = 0 (a constant bias), not %g", src,
		    m->bias_tau);
	}
	if (!(lat_model_t_max(m) > 0) || !isfinite(lat_model_t_max(m))) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: solver.t_max = 0 takes the settle time budget %g / kappa from the circuit's "
		    "slowest decay rate kappa, which gives %g for circuit.tau = %g, circuit.tau_inh = %g, "
		    "circuit.bias_tau = %g: set solver.t_max > 0 or less extreme time constants",
		    src, LAT_T_MAX_RATES, lat_model_t_max(m), m->tau, m->tau_inh, m->bias_tau);
	}
	return LAT_OK;
}

int lat_model_finalize(lat_model *m, char *err)
{
	const char *src = m->source ? m->source : BUILTIN_SOURCE;
	size_t n = m->neurons, d = m->inputs, n_rows = 0, rows;
	double *w = NULL, *x = NULL;
	int rc = LAT_OK;

	if (m->save_weights_every % m->record_every)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: run.save_weights_every = %zu: expected a multiple of run.record_every = %zu "
				   "(snapshots are taken with the recorded rows), or 0",
				   src, m->save_weights_every, m->record_every);
	/* A second call recomputes what the first derived from the files. */
	if (m->inputs_fixed && m->input_file)
		m->input_count = 0;
	free(m->weights_init);
	free(m->inputs_fixed);
	m->weights_init = m->inputs_fixed = NULL;

	rc = check_sizes(src, m, err);
	if (!rc)
		rc = check_combinations(src, m, err);
	if (rc)
		goto out;
	if (m->weights_file) {
		rc = load_matrix(src, "weights.file", m->weights_file, n, d,
				 "circuit.neurons x circuit.inputs", &w, &rows, err);
		if (rc)
			goto out;
	}
	rc = check_initial_spread(src, m, w, err);
	if (rc)
		goto out;
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

/* The model writer's special keys: a count that finalize took from input.file is not part of the model,
 * and the covariance is written as a matrix. */
static int put_model_key(FILE *fp, const lat_cfg_key *k, const void *obj)
{
	const lat_model *m = obj;
	const char *field = (const char *)obj + k->offset;

	if (field == (const char *)&m->input_count && m->input_file && m->inputs_fixed) {
		fputs("0", fp);
		return 1;
	}
	if (field == (const char *)&m->input_cov && m->input_cov && m->n_cov == m->inputs * m->inputs) {
		lat_cfg_put_doubles(fp, m->input_cov, m->n_cov, m->inputs);
		return 1;
	}
	return 0;
}

int lat_model_write(const lat_model *m, FILE *fp)
{
	return lat_cfg_write(&schema, m, fp, "lateral model file: every key (see models/default.cfg for what each one means).",
			     put_model_key);
}

void lat_model_sim_opts(const lat_model *m, lat_sim_opts *o)
{
	*o = (lat_sim_opts){.source = m->source ? m->source : BUILTIN_SOURCE,
			    .d = m->inputs,
			    .w_init = m->weights_init,
			    .init_mean = m->init_mean,
			    .init_std = m->init_std,
			    .weights_seed = m->weights_seed,
			    .input_mean = m->input_mean,
			    .input_std = m->input_std,
			    .input_cov_diag = m->input_cov_diag,
			    .input_cov = m->input_cov,
			    .input_seed = m->input_seed,
			    .m = lat_model_n_fixed(m),
			    .x_fixed = m->inputs_fixed,
			    .rule = {.eta = m->eta,
				     .gamma = m->gamma,
				     .momentum = m->momentum,
				     .schedule = m->schedule,
				     .schedule_tau = m->schedule_tau},
			    .batch = m->update == LAT_UPDATE_BATCH,
			    .continuous = m->timing == LAT_TIMING_CONTINUOUS,
			    .duration = m->duration,
			    .ode = {.method = m->method,
				    .rtol = m->rtol,
				    .atol = m->atol,
				    .steady_tol = m->steady_tol,
				    .t_max = lat_model_t_max(m),
				    .max_steps = m->max_steps}};
	lat_model_circuit(m, &o->circuit);
}

lat_sim *lat_model_sim_alloc(const lat_model *m, FILE *solver_log, char *err)
{
	lat_sim_opts o;
	size_t bytes;

	if (lat_model_sim_plan(m, &bytes, err))
		return NULL;
	lat_model_sim_opts(m, &o);
	return lat_sim_alloc(&o, solver_log, err);
}

/* ---- simulations and their plans ------------------------------------------------------------------- */

/* Rows of a trace buffer beyond horizon / dt: the sample at t = 0, the one at the settle time, and one
 * for the rounding of the sample times. */
#define TRACE_SPARE_ROWS 3
/* Without run.trace_dt, the sampling interval is the shortest time constant divided by this. */
#define TRACE_DT_DIV 10

static const char *source_of(const lat_model *m)
{
	return m->source ? m->source : "<built-in default>";
}

/* The message of sizes beyond what a size_t can address (SIZE_MAX bytes): what needs it, what to change. */
static int beyond_address_space(char *err, const lat_model *m, const char *what, const char *change)
{
	char limit[32];

	return lat_err_set(err, LAT_ECONFIG, "%s: %s need more than the %s a process can address; %s",
			   source_of(m), what, lat_size_text(limit, sizeof limit, (double)SIZE_MAX), change);
}

int lat_model_sim_plan(const lat_model *m, size_t *bytes, char *err)
{
	lat_sim_opts o;
	char what[LAT_ERRLEN];

	lat_model_sim_opts(m, &o);
	switch (lat_sim_plan(&o, bytes)) {
	case LAT_SIM_PLAN_POOL:
		snprintf(what, sizeof what, "circuit.neurons = %zu and circuit.inputs = %zu", m->neurons, m->inputs);
		return beyond_address_space(err, m, what, "lower them");
	case LAT_SIM_PLAN_FIXED:
		snprintf(what, sizeof what, "input.count = %zu fixed inputs of circuit.inputs = %zu values",
			 lat_model_n_fixed(m), m->inputs);
		return beyond_address_space(err, m, what,
					    "lower input.count (0 draws a fresh input each presentation)");
	default:
		return LAT_OK;
	}
}

int lat_model_trace_plan(const lat_model *m, double *dt, size_t *cap, size_t *bytes, char *err)
{
	int cont = m->timing == LAT_TIMING_CONTINUOUS;
	double step = m->trace_dt > 0 ? m->trace_dt : fmin(m->tau, m->tau_inh) / TRACE_DT_DIV;
	double horizon = cont ? m->duration : lat_model_t_max(m);
	size_t rows, size;
	char what[LAT_ERRLEN], change[128], dt_text[96];

	if (!(step > 0) || !isfinite(step))
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: run.trace_dt = 0 samples every min(circuit.tau, circuit.tau_inh) / %d, which is "
		    "%g here: set run.trace_dt > 0 (or run.trace_presentations = 0)",
		    source_of(m), TRACE_DT_DIV, step);
	if (m->trace_dt > 0)
		snprintf(dt_text, sizeof dt_text, "run.trace_dt = %g", step);
	else
		snprintf(dt_text, sizeof dt_text,
			 "run.trace_dt = 0 (min(circuit.tau, circuit.tau_inh) / %d = %g)", TRACE_DT_DIV,
			 step);
	if (lat_size_from_double(horizon / step, &rows) || lat_size_add(rows, TRACE_SPARE_ROWS, &rows) ||
	    lat_size_add(m->neurons, 3, &size) || lat_size_mul(rows, size, &size) ||
	    lat_size_mul(size, sizeof(double), &size)) {
		snprintf(what, sizeof what, "%s = %g%s sampled at %s: traces of %.3g samples of %zu neurons",
			 cont ? "plasticity.duration" : "solver.t_max", horizon,
			 cont || m->t_max > 0 ? "" : " (derived from the circuit)", dt_text, horizon / step,
			 m->neurons);
		snprintf(change, sizeof change,
			 "raise run.trace_dt, lower %s or set run.trace_presentations = 0",
			 cont ? "plasticity.duration" : "solver.t_max");
		return beyond_address_space(err, m, what, change);
	}
	*dt = step;
	*cap = rows;
	*bytes = size;
	return LAT_OK;
}


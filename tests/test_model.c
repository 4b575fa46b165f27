/* test_model.c: model files: defaults, every model in models/, overrides, round trips, cross-checks, bad
 * files. */
#include <config.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/model.h"
#include "bad_corpus.h"
#include "runner.h"

/* Policy on empty model files: a file without settings (empty, or only comments) is an error, since it is
 * most likely a mistake; leaving the file out gives the built-in model. */

/* Minimum size of the bad-file corpus in tests/bad. */
#define MIN_BAD_FILES 25

/* Every scalar field of lat_model, for field-by-field comparisons. */
/* clang-format off */
#define SCALAR_FIELDS(X) \
	X(neurons) X(inputs) X(tau) X(tau_inh) X(alpha) X(bias) X(bias_tau) X(bias_rho) X(rate_target) \
	X(relu) X(init_mean) X(init_std) X(weights_seed) X(input_mean) X(input_std) X(n_cov_diag) X(n_cov) \
	X(input_count) X(input_seed) X(eta) X(gamma) X(momentum) X(schedule) X(schedule_tau) X(update) \
	X(timing) X(duration) X(method) X(rtol) X(atol) X(steady_tol) X(t_max) X(max_steps) \
	X(presentations) X(record_every) X(trace_presentations) X(trace_dt)
/* clang-format on */

static char *path_in_srcdir(const char *rel)
{
	size_t size = strlen(test_srcdir()) + strlen(rel) + 2;
	char *p = malloc(size);
	if (p)
		snprintf(p, size, "%s/%s", test_srcdir(), rel);
	return p;
}

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int arr_eq(const double *a, size_t na, const double *b, size_t nb)
{
	if (!a || !b)
		return !a && !b;
	return na == nb && memcmp(a, b, na * sizeof *a) == 0;
}

/* Name of the first field (model keys only, not finalize results or source) where a and b differ. */
static const char *model_diff(const lat_model *a, const lat_model *b)
{
#define CMP(f)                                                                                               \
	if (a->f != b->f || memcmp(&a->f, &b->f, sizeof a->f) != 0)                                          \
		return #f;
	SCALAR_FIELDS(CMP)
#undef CMP
	if (!str_eq(a->weights_file, b->weights_file))
		return "weights_file";
	if (!str_eq(a->input_file, b->input_file))
		return "input_file";
	if (!arr_eq(a->input_cov_diag, a->n_cov_diag, b->input_cov_diag, b->n_cov_diag))
		return "input_cov_diag";
	if (!arr_eq(a->input_cov, a->n_cov, b->input_cov, b->n_cov))
		return "input_cov";
	return NULL;
}

/* Name of the first key field where a and b are equal (used to check that a model differs everywhere). */
static const char *model_same(const lat_model *a, const lat_model *b)
{
#define SAME(f)                                                                                              \
	if (a->f == b->f)                                                                                    \
		return #f;
	SCALAR_FIELDS(SAME)
#undef SAME
	if (str_eq(a->weights_file, b->weights_file))
		return "weights_file";
	if (str_eq(a->input_file, b->input_file))
		return "input_file";
	if (arr_eq(a->input_cov_diag, a->n_cov_diag, b->input_cov_diag, b->n_cov_diag))
		return "input_cov_diag";
	if (arr_eq(a->input_cov, a->n_cov, b->input_cov, b->n_cov))
		return "input_cov";
	return NULL;
}

/* A model file that sets every key to something other than the default (and awkward doubles). */
static const char other_text[] =
    "circuit = {\n"
    "  neurons = 7; inputs = 3; tau = 0.1; tau_inh = 12.345678901234567;\n"
    "  alpha = 1e-300; bias = -0.0; bias_tau = 300; bias_rho = 0.3333333333333333;\n"
    "  rate_target = 2.5; nonlinearity = \"relu\";\n"
    "};\n"
    "weights = { init_mean = -1.5; init_std = 0.0; seed = 3000000000L;\n"
    "  file = \"dir with space/w \\\"q\\\".tsv\"; };\n"
    "input = { mean = 1e20; std = 2.0; cov_diag = [1.0, 2.0, 3.0];\n"
    "  cov = [2.0, 0.5, 0.0, 0.5, 2.0, 0.0, 0.0, 0.0, 1.0]; count = 12; seed = 99;\n"
    "  file = \"in.tsv\"; };\n"
    "plasticity = { eta = 0.05; gamma = 0.0; momentum = 0.9; schedule = \"inverse_sqrt\";\n"
    "  schedule_tau = 50; update = \"batch\"; timing = \"continuous\"; duration = 77.5; };\n"
    "solver = { method = \"bdf\"; rtol = 1e-8; atol = 1e-12; steady_tol = 1e-10;\n"
    "  t_max = 123.25; max_steps = 5000000000L; };\n"
    "run = { presentations = 0; record_every = 3; trace_presentations = 0; trace_dt = 0.5; };\n";

static void test_init_defaults(void)
{
	lat_model m;

	lat_model_init(&m);
	CU_ASSERT_STRING_EQUAL(m.source, "<built-in default>");
	CU_ASSERT_EQUAL(m.neurons, 100);
	CU_ASSERT_EQUAL(m.inputs, 9);
	CU_ASSERT_EQUAL(m.tau, 30.0);
	CU_ASSERT_EQUAL(m.tau_inh, 30.0);
	CU_ASSERT_EQUAL(m.alpha, 10.0);
	CU_ASSERT_EQUAL(m.bias, 1.0);
	CU_ASSERT_EQUAL(m.bias_tau, 0.0);
	CU_ASSERT_EQUAL(m.bias_rho, 1.0);
	CU_ASSERT_EQUAL(m.rate_target, 1.0);
	CU_ASSERT_EQUAL(m.relu, 0);
	CU_ASSERT_EQUAL(m.init_mean, 1.0);
	CU_ASSERT_EQUAL(m.init_std, 1.0);
	CU_ASSERT_EQUAL(m.weights_seed, 1);
	CU_ASSERT_PTR_NULL(m.weights_file);
	CU_ASSERT_PTR_NULL(m.weights_init);
	CU_ASSERT_EQUAL(m.input_mean, 0.0);
	CU_ASSERT_EQUAL(m.input_std, 1.0);
	CU_ASSERT_PTR_NULL(m.input_cov_diag);
	CU_ASSERT_PTR_NULL(m.input_cov);
	CU_ASSERT_EQUAL(m.n_cov_diag, 0);
	CU_ASSERT_EQUAL(m.n_cov, 0);
	CU_ASSERT_EQUAL(m.input_count, 0);
	CU_ASSERT_EQUAL(m.input_seed, 2);
	CU_ASSERT_PTR_NULL(m.input_file);
	CU_ASSERT_PTR_NULL(m.inputs_fixed);
	CU_ASSERT_EQUAL(m.eta, 0.01);
	CU_ASSERT_EQUAL(m.gamma, 0.1);
	CU_ASSERT_EQUAL(m.momentum, 0.0);
	CU_ASSERT_EQUAL(m.schedule, LAT_SCHED_CONSTANT);
	CU_ASSERT_EQUAL(m.schedule_tau, 100.0);
	CU_ASSERT_EQUAL(m.update, LAT_UPDATE_ONLINE);
	CU_ASSERT_EQUAL(m.timing, LAT_TIMING_FIXEDPOINT);
	CU_ASSERT_EQUAL(m.duration, 150.0);
	CU_ASSERT_EQUAL(m.method, LAT_METHOD_AUTO);
	CU_ASSERT_EQUAL(m.rtol, 1e-6);
	CU_ASSERT_EQUAL(m.atol, 1e-9);
	CU_ASSERT_EQUAL(m.steady_tol, 1e-7);
	CU_ASSERT_EQUAL(m.t_max, 0.0);
	CU_ASSERT_EQUAL(m.max_steps, 1000000);
	CU_ASSERT_EQUAL(m.presentations, 2000);
	CU_ASSERT_EQUAL(m.record_every, 10);
	CU_ASSERT_EQUAL(m.trace_presentations, 3);
	CU_ASSERT_EQUAL(m.trace_dt, 0.0);
	CU_ASSERT_EQUAL(lat_model_n_fixed(&m), 0);
	lat_model_clear(&m);
}

/* default.cfg must set every key to the built-in value: load it over a model that differs everywhere. */
static void test_default_cfg_sets_every_key(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model def, m;
	char *path = path_in_srcdir("models/default.cfg");
	const char *field;
	int rc;

	lat_model_init(&def);
	lat_model_init(&m);
	rc = lat_model_load_string(&m, other_text, "other.cfg", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	field = model_same(&m, &def);
	if (field)
		fprintf(stderr, "\nother_text leaves %s at its default\n", field);
	CU_ASSERT_PTR_NULL(field);
	rc = lat_model_load(&m, path, err);
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	field = model_diff(&m, &def);
	if (field)
		fprintf(stderr, "\ndefault.cfg differs from the built-in default in %s\n", field);
	CU_ASSERT_PTR_NULL(field);
	CU_ASSERT_STRING_EQUAL(m.source, path);
	CU_ASSERT_EQUAL(lat_model_finalize(&m, err), 0);
	lat_model_clear(&m);
	lat_model_clear(&def);
	free(path);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Every .cfg in models/ loads and finalizes; spot checks of what each one is for. */
static void test_all_models(void)
{
	char *dirpath = path_in_srcdir("models");
	DIR *dir = opendir(dirpath);
	struct dirent *de;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	while ((de = readdir(dir)) != NULL) {
		char err[LAT_ERRLEN] = "";
		char *path;
		size_t size;
		lat_model m;
		int rc;

		if (!has_suffix(de->d_name, ".cfg"))
			continue;
		size = strlen(dirpath) + strlen(de->d_name) + 2;
		path = malloc(size);
		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		snprintf(path, size, "%s/%s", dirpath, de->d_name);
		lat_model_init(&m);
		rc = lat_model_load(&m, path, err);
		if (!rc)
			rc = lat_model_finalize(&m, err);
		if (rc)
			fprintf(stderr, "\n%s: %s\n", de->d_name, err);
		CU_ASSERT_EQUAL(rc, 0);
		if (strcmp(de->d_name, "validate.cfg") == 0) {
			CU_ASSERT_EQUAL(m.neurons, 20);
			CU_ASSERT_EQUAL(m.inputs, 9);
			CU_ASSERT_EQUAL(m.alpha, 10.0);
			CU_ASSERT_EQUAL(m.gamma, 0.1);
			CU_ASSERT_EQUAL(m.eta, 0.3);
			CU_ASSERT_EQUAL(lat_model_n_fixed(&m), 20);
			CU_ASSERT_EQUAL(m.update, LAT_UPDATE_BATCH);
			CU_ASSERT_EQUAL(m.method, LAT_METHOD_AUTO);
			CU_ASSERT_EQUAL(m.steady_tol, 1e-9);
			CU_ASSERT(m.presentations >= 8000);
		} else if (strcmp(de->d_name, "homeostatic.cfg") == 0) {
			CU_ASSERT_EQUAL(m.bias_tau, 300.0);
			CU_ASSERT_EQUAL(m.rate_target, 2.0);
			CU_ASSERT_EQUAL(lat_model_n_fixed(&m), 16);
			CU_ASSERT_EQUAL(m.update, LAT_UPDATE_BATCH);
		} else if (strcmp(de->d_name, "relu.cfg") == 0) {
			CU_ASSERT_EQUAL(m.relu, 1);
			CU_ASSERT_EQUAL(m.bias, 5.0);
		} else if (strcmp(de->d_name, "large_kernel.cfg") == 0) {
			CU_ASSERT_EQUAL(m.inputs, 81);
		} else if (strcmp(de->d_name, "alpha_large.cfg") == 0) {
			CU_ASSERT_EQUAL(m.alpha, 1e4);
		} else if (strcmp(de->d_name, "files.cfg") == 0) {
			CU_ASSERT_EQUAL(m.neurons, 6);
			CU_ASSERT_EQUAL(m.inputs, 4);
			CU_ASSERT_PTR_NOT_NULL(m.weights_init);
			CU_ASSERT_PTR_NOT_NULL(m.inputs_fixed);
			CU_ASSERT_EQUAL(lat_model_n_fixed(&m), 8);
		}
		lat_model_clear(&m);
		free(path);
		n++;
	}
	closedir(dir);
	CU_ASSERT(n >= 7);
	free(dirpath);
}

/* files.cfg: the finalized arrays equal the TSV files; a second finalize gives the same; the written
 * model (count 0, file kept) finalizes to the same again. */
static void test_files_model(void)
{
	char err[LAT_ERRLEN] = "";
	char *path = path_in_srcdir("models/files.cfg");
	char *wpath = path_in_srcdir("models/data/weights.tsv");
	char *xpath = path_in_srcdir("models/data/inputs.tsv");
	double *w = NULL, *x = NULL;
	size_t rows, cols;
	lat_model m;

	lat_model_init(&m);
	CU_ASSERT_EQUAL_FATAL(lat_model_load(&m, path, err), 0);
	CU_ASSERT_STRING_EQUAL(m.weights_file, "data/weights.tsv");
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m, err), 0);
	CU_ASSERT_EQUAL_FATAL(lat_tsv_read(wpath, &w, &rows, &cols, err), 0);
	CU_ASSERT_EQUAL(rows, 6);
	CU_ASSERT_EQUAL(cols, 4);
	CU_ASSERT(memcmp(w, m.weights_init, 24 * sizeof *w) == 0);
	CU_ASSERT_EQUAL(w[0], 1 + 0.05 * sin(1.0));
	CU_ASSERT_EQUAL_FATAL(lat_tsv_read(xpath, &x, &rows, &cols, err), 0);
	CU_ASSERT_EQUAL(rows, 8);
	CU_ASSERT(memcmp(x, m.inputs_fixed, 32 * sizeof *x) == 0);
	CU_ASSERT_EQUAL(m.input_count, 8);
	CU_ASSERT_EQUAL(lat_model_n_fixed(&m), 8);
	/* Finalizing twice is harmless. */
	CU_ASSERT_EQUAL(lat_model_finalize(&m, err), 0);
	CU_ASSERT_EQUAL(lat_model_n_fixed(&m), 8);
	CU_ASSERT(memcmp(x, m.inputs_fixed, 32 * sizeof *x) == 0);
	/* --set paths are relative to the working directory. */
	CU_ASSERT_EQUAL(lat_model_set(&m, "weights.file=models/data/weights.tsv", err), 0);
	CU_ASSERT_EQUAL(m.weights_file[0], '/');
	CU_ASSERT(has_suffix(m.weights_file, "/models/data/weights.tsv"));
	lat_model_clear(&m);
	free(w);
	free(x);
	free(xpath);
	free(wpath);
	free(path);
}

static void test_int_for_float(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model m;

	lat_model_init(&m);
	CU_ASSERT_EQUAL(lat_model_load_string(&m,
					      "circuit = { tau = 20; alpha = -0; bias = 3000000000L; };\n"
					      "input = { cov_diag = [1, 2, 3]; cov = ( 1, 2.5, 3L ); };",
					      "t.cfg", err),
			0);
	CU_ASSERT_EQUAL(m.tau, 20.0);
	CU_ASSERT_EQUAL(m.alpha, 0.0);
	CU_ASSERT_EQUAL(m.bias, 3e9);
	CU_ASSERT_EQUAL(m.n_cov_diag, 3);
	CU_ASSERT_EQUAL(m.input_cov_diag[2], 3.0);
	CU_ASSERT_EQUAL(m.n_cov, 3);
	CU_ASSERT_EQUAL(m.input_cov[1], 2.5);
	CU_ASSERT_STRING_EQUAL(m.source, "t.cfg");
	/* Empty arrays and strings reset to "not set". */
	CU_ASSERT_EQUAL(
	    lat_model_load_string(&m, "input = { cov_diag = []; cov = ( ); file = \"\"; };", "u", err), 0);
	CU_ASSERT_PTR_NULL(m.input_cov_diag);
	CU_ASSERT_PTR_NULL(m.input_cov);
	CU_ASSERT_EQUAL(m.n_cov_diag, 0);
	/* 64-bit integers. */
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "weights = { seed = 3000000000L; };", "u", err), 0);
	CU_ASSERT_EQUAL(m.weights_seed, 3000000000UL);
	lat_model_clear(&m);
}

/* A failing load leaves the model exactly as it was (no partial application). */
static void test_load_atomic(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model m, ref;

	lat_model_init(&m);
	lat_model_init(&ref);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "input = { cov_diag = [1.0]; };", "a", err), 0);
	CU_ASSERT_EQUAL(lat_model_load_string(&ref, "input = { cov_diag = [1.0]; };", "a", err), 0);
	CU_ASSERT_EQUAL(lat_model_load_string(&m,
					      "circuit = { tau = 5.0; };\n"
					      "input = { cov_diag = [2.0, 3.0]; file = \"x.tsv\"; };\n"
					      "run = { presentations = -1; };",
					      "b.cfg", err),
			LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "b.cfg:3: run.presentations: expected an integer >= 0 and <= 9223372036854775807, got -1"));
	CU_ASSERT_PTR_NULL(model_diff(&m, &ref));
	CU_ASSERT_STRING_EQUAL(m.source, "a");
	lat_model_clear(&m);
	lat_model_clear(&ref);
}

/* A model file without settings is an error that points at the built-in model, and changes nothing. */
static void test_empty_model(void)
{
	char err[LAT_ERRLEN] = "";
	char dir[] = "/tmp/lat_test_model.XXXXXX";
	char path[sizeof dir + 16], want[LAT_ERRLEN];
	lat_model m, def;
	FILE *fp;

	lat_model_init(&m);
	lat_model_init(&def);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "", "empty", err), LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err,
			       "empty: the file has no settings (leave it out to use the built-in model)");
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "# only a comment\n\n// and another\n", "c", err),
			LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err, "c: the file has no settings (leave it out to use the built-in model)");
	CU_ASSERT_PTR_NULL(model_diff(&m, &def));
	CU_ASSERT_STRING_EQUAL(m.source, def.source);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/empty.cfg", dir);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fclose(fp);
	CU_ASSERT_EQUAL(lat_model_load(&m, path, err), LAT_ECONFIG);
	snprintf(want, sizeof want, "%s: the file has no settings (leave it out to use the built-in model)",
		 path);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_PTR_NULL(model_diff(&m, &def));
	CU_ASSERT_EQUAL(lat_model_finalize(&m, err), 0);
	unlink(path);
	rmdir(dir);
	lat_model_clear(&m);
	lat_model_clear(&def);
}

static void test_load_errors(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model m;
	char *tmpdir = strdup("/tmp/lat_test_model.XXXXXX");

	lat_model_init(&m);
	CU_ASSERT_EQUAL(lat_model_load(&m, "/nonexistent/x.cfg", err), LAT_EIO);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/x.cfg: cannot read: No such file or directory");
	/* A directory: libconfig's own reader would exit() here. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
	CU_ASSERT_EQUAL(lat_model_load(&m, tmpdir, err), LAT_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read: Is a directory"));
	rmdir(tmpdir);
	free(tmpdir);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "circuit = {\n tau = ;\n};", "x.cfg", err), LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err, "x.cfg:2: syntax error");
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "circuit = { taux = 1.0; };", "x.cfg", err), LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(
	    err, "x.cfg:1: circuit.taux: unknown key (did you mean tau?) (known: neurons, inputs, "
		 "tau, tau_inh, alpha, bias, bias_tau, bias_rho, rate_target, nonlinearity)");
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "circuit = { neurons = 2.5; };", "x.cfg", err),
			LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "x.cfg:1: circuit.neurons: expected an integer"));
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "circuit = { tau = 1.0; tau = 2.0; };", "x.cfg", err),
			LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "x.cfg:1: duplicate setting"));
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "solver = { method = \"rk4\"; };", "x.cfg", err),
			LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(
	    err, "x.cfg:1: solver.method: expected one of \"bdf\", \"adams\", \"rk8pd\", \"exact\", \"auto\", "
		 "got a string (\"rk4\")");
	/* integers are read as written, not through libconfig's 32-bit int (which made this -1294967296) */
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "input = { seed = 3000000000; };", "x.cfg", err), LAT_OK);
	CU_ASSERT_EQUAL(m.input_seed, 3000000000UL);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, "input = { seed = 18446744073709551616; };", "x.cfg", err),
			LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err, "x.cfg:1: input.seed: expected an integer >= 0 and <= 9223372036854775807, got "
				    "18446744073709551616");
	lat_model_clear(&m);
}

static void test_set(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model m, ref;

	lat_model_init(&m);
	CU_ASSERT_EQUAL(lat_model_set(&m, "circuit.tau=12.5", err), 0);
	CU_ASSERT_EQUAL(m.tau, 12.5);
	CU_ASSERT_EQUAL(lat_model_set(&m, " circuit.tau_inh = 7 ", err), 0);
	CU_ASSERT_EQUAL(m.tau_inh, 7.0);
	CU_ASSERT_EQUAL(lat_model_set(&m, "circuit.neurons=7", err), 0);
	CU_ASSERT_EQUAL(m.neurons, 7);
	CU_ASSERT_EQUAL(lat_model_set(&m, "run.presentations=5000000000L", err), 0);
	CU_ASSERT_EQUAL(m.presentations, 5000000000ULL);
	CU_ASSERT_EQUAL(lat_model_set(&m, "solver.method=bdf", err), 0);
	CU_ASSERT_EQUAL(m.method, LAT_METHOD_BDF);
	CU_ASSERT_EQUAL(lat_model_set(&m, "solver.method=\"adams\"", err), 0);
	CU_ASSERT_EQUAL(m.method, LAT_METHOD_ADAMS);
	CU_ASSERT_EQUAL(lat_model_set(&m, "circuit.nonlinearity=relu", err), 0);
	CU_ASSERT_EQUAL(m.relu, 1);
	CU_ASSERT_EQUAL(lat_model_set(&m, "plasticity.schedule=inverse_sqrt", err), 0);
	CU_ASSERT_EQUAL(m.schedule, LAT_SCHED_INVSQRT);
	CU_ASSERT_EQUAL(lat_model_set(&m, "input.cov_diag=[1.0, 2.0]", err), 0);
	CU_ASSERT_EQUAL(m.n_cov_diag, 2);
	CU_ASSERT_EQUAL(m.input_cov_diag[1], 2.0);
	CU_ASSERT_EQUAL(lat_model_set(&m, "input.cov_diag=[]", err), 0);
	CU_ASSERT_PTR_NULL(m.input_cov_diag);
	CU_ASSERT_EQUAL(lat_model_set(&m, "weights.file=/abs/w.tsv", err), 0);
	CU_ASSERT_STRING_EQUAL(m.weights_file, "/abs/w.tsv");
	CU_ASSERT_EQUAL(lat_model_set(&m, "weights.file=", err), LAT_ECONFIG);
	CU_ASSERT_EQUAL(lat_model_set(&m, "weights.file=\"\"", err), 0);
	CU_ASSERT_PTR_NULL(m.weights_file);
	CU_ASSERT_STRING_EQUAL(m.source, "<built-in default>");
	lat_model_clear(&m);

	/* Bad overrides change nothing and say which assignment failed. */
	lat_model_init(&m);
	lat_model_init(&ref);
	CU_ASSERT_EQUAL(lat_model_set(&m, "circuit.tau=12.5", err), 0);
	CU_ASSERT_EQUAL(lat_model_set(&ref, "circuit.tau=12.5", err), 0);
	{
		static const struct {
			const char *assign, *expect;
		} bad[] = {
		    {"circuit.tau=abc", "--set circuit.tau=abc: circuit.tau: cannot parse the value 'abc'"},
		    {"circuit.tau=-1", "--set circuit.tau=-1: circuit.tau: expected a number > 0, got -1"},
		    {"circuit.tau=\"30\"",
		     "--set circuit.tau=\"30\": circuit.tau: expected a number > 0, got a string"},
		    {"circuit.neurons=2.5",
		     "--set circuit.neurons=2.5: circuit.neurons: expected an integer"},
		    {"circuit.taux=1",
		     "--set circuit.taux=1: circuit.taux: unknown key (did you mean tau?) (known: "},
		    {"circut.tau=1", "--set circut.tau=1: circut: unknown section (did you mean circuit?)"},
		    {"tau=1", "--set tau=1: expected section.key=value (no section in 'tau')"},
		    {"circuit.tau", "--set circuit.tau: expected section.key=value"},
		    {"circuit.=1", "--set circuit.=1: expected section.key=value"},
		    {"circuit.tau=", "--set circuit.tau=: circuit.tau: missing value"},
		    {"solver.method=rk4", "--set solver.method=rk4: solver.method: expected one of \"bdf\""},
		    {"solver.method=\"bdf",
		     "--set solver.method=\"bdf: solver.method: cannot parse the value"},
		    {"circuit.tau=1; neurons = 5",
		     "--set circuit.tau=1; neurons = 5: circuit.tau: expected a single value"},
		    {"circuit.tau=1; }; run = { presentations = 1",
		     "--set circuit.tau=1; }; run = { presentations = 1: circuit.tau: expected a single "
		     "value"},
		    {"input.cov_diag=[1.0, -1.0]",
		     "--set input.cov_diag=[1.0, -1.0]: input.cov_diag[1]: expected a number >= 0"},
		    {"input.cov_diag=1.0", "--set input.cov_diag=1.0: input.cov_diag: expected an array"},
		    {"circuit.bias=1e999",
		     "--set circuit.bias=1e999: circuit.bias: expected a finite number"},
		};
		size_t i;
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			int rc = lat_model_set(&m, bad[i].assign, err);
			CU_ASSERT_EQUAL(rc, LAT_ECONFIG);
			if (!strstr(err, bad[i].expect)) {
				fprintf(stderr, "\n%s\n  got: %s\n  expected: %s\n", bad[i].assign, err,
					bad[i].expect);
				CU_FAIL("--set message");
			}
			CU_ASSERT_PTR_NULL(model_diff(&m, &ref));
		}
	}
	lat_model_clear(&m);
	lat_model_clear(&ref);
}

/* lat_model_write -> lat_model_load reproduces every key exactly. */
static void round_trip(const lat_model *orig)
{
	char err[LAT_ERRLEN] = "";
	char dir[] = "/tmp/lat_test_model.XXXXXX";
	char path[sizeof dir + 16];
	lat_model back;
	const char *field;
	FILE *fp;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/w.cfg", dir);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL(lat_model_write(orig, fp), 0);
	fclose(fp);
	lat_model_init(&back);
	/* Start from different values so that keys missing from the output would show. */
	CU_ASSERT_EQUAL(lat_model_load_string(&back, other_text, "other", err), 0);
	CU_ASSERT_EQUAL(lat_model_set(&back, "plasticity.momentum=0.5", err), 0);
	rc = lat_model_load(&back, path, err);
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	field = model_diff(orig, &back);
	if (field)
		fprintf(stderr, "\nround trip changed %s\n", field);
	CU_ASSERT_PTR_NULL(field);
	lat_model_clear(&back);
	unlink(path);
	rmdir(dir);
}

static void test_write_round_trip(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model m;

	lat_model_init(&m);
	round_trip(&m);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, other_text, "other", err), 0);
	CU_ASSERT_EQUAL(signbit(m.bias), 1);
	round_trip(&m);
	/* Doubles that need all 17 digits, tiny and huge values, control characters in a path. */
	m.tau = 1.0 / 3.0;
	m.alpha = 5e-324;
	m.input_mean = -1.7976931348623157e308;
	m.eta = 0.1;
	m.max_steps = 2147483648L;
	m.input_seed = 4294967296UL;
	free(m.input_file);
	m.input_file = strdup("tab\there\nnewline\\back\x01");
	round_trip(&m);
	lat_model_clear(&m);
}

/* One case per cross-check of lat_model_finalize. */
static void test_finalize_errors(void)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"circuit = { neurons = 1; };",
	     "m.cfg: circuit.neurons = 1: pool statistics need at least 2 neurons"},
	    {"circuit = { neurons = 200000; inputs = 1000; };",
	     "m.cfg: circuit.neurons x circuit.inputs = 200000 x 1000 = 200000000 weights is more than the "
	     "limit of "
	     "100000000"},
	    {"input = { cov_diag = [1.0, 1.0]; };",
	     "m.cfg: input.cov_diag has 2 values, expected circuit.inputs = 9"},
	    {"circuit = { inputs = 2; }; input = { cov_diag = [1.0, 1.0]; cov = [1.0, 0.0, 0.0, 1.0]; };",
	     "m.cfg: input.cov_diag and input.cov are mutually exclusive"},
	    {"circuit = { inputs = 2; }; input = { cov = [1.0, 0.0, 1.0]; };",
	     "m.cfg: input.cov has 3 values, expected circuit.inputs^2 = 2 x 2 = 4"},
	    {"circuit = { inputs = 2; }; input = { cov = [1.0, 2.0, 2.0, 1.0]; };",
	     "m.cfg: input.cov: not positive definite"},
	    {"circuit = { inputs = 2; }; input = { cov = [1.0, 0.1, 0.2, 1.0]; };",
	     "m.cfg: input.cov: not symmetric"},
	    {"weights = { file = \"data/none.tsv\"; };", "m.cfg: weights.file: "},
	    {"circuit = { neurons = 6; inputs = 5; }; weights = { file = \"data/weights.tsv\"; };",
	     "data/weights.tsv has 6 x 4 values, expected circuit.neurons x circuit.inputs = 6 x 5"},
	    {"circuit = { inputs = 4; }; input = { count = 3; file = \"data/inputs.tsv\"; };",
	     "m.cfg: input.file and input.count = 3 are mutually exclusive"},
	    {"circuit = { inputs = 3; }; input = { file = \"data/inputs.tsv\"; };",
	     "data/inputs.tsv has 8 x 4 values, expected M x circuit.inputs = 8 x 3"},
	    {"plasticity = { update = \"batch\"; };",
	     "m.cfg: plasticity.update = \"batch\" needs fixed inputs: set input.count > 0 or input.file"},
	    {"plasticity = { timing = \"continuous\"; }; solver = { method = \"bdf\"; };",
	     "plasticity.timing = \"continuous\" needs solver.method = \"auto\", \"adams\" or \"rk8pd\", not \"bdf\""},
	    {"plasticity = { timing = \"continuous\"; }; solver = { method = \"exact\"; };",
	     "plasticity.timing = \"continuous\" needs solver.method = \"auto\", \"adams\" or \"rk8pd\", not "
	     "\"exact\""},
	    {"input = { count = 4; }; plasticity = { timing = \"continuous\"; update = \"batch\"; };",
	     "plasticity.timing = \"continuous\" needs plasticity.update = \"online\""},
	    {"circuit = { nonlinearity = \"relu\"; }; solver = { method = \"exact\"; };",
	     "solver.method = \"exact\" needs circuit.nonlinearity = \"linear\""},
	    {"circuit = { bias_tau = 10.0; }; solver = { method = \"exact\"; };",
	     "solver.method = \"exact\" needs circuit.bias_tau = 0"},
	};
	char *name = path_in_srcdir("models/m.cfg");
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[LAT_ERRLEN] = "";
		lat_model m;
		int rc;

		lat_model_init(&m);
		rc = lat_model_load_string(&m, cases[i].text, name, err);
		CU_ASSERT_EQUAL(rc, 0);
		if (!rc)
			rc = lat_model_finalize(&m, err);
		CU_ASSERT(rc != 0);
		if (!strstr(err, cases[i].expect)) {
			fprintf(stderr, "\ncase %zu: %s\n  got: %s\n  expected: %s\n", i, cases[i].text, err,
				cases[i].expect);
			CU_FAIL("finalize message");
		}
		CU_ASSERT_PTR_NULL(m.weights_init);
		CU_ASSERT_PTR_NULL(m.inputs_fixed);
		lat_model_clear(&m);
	}
	free(name);
}

/* Every .cfg in tests/bad fails to load or finalize with the message its first line announces. */
static void check_bad_model(const char *path, const char *name, const char *expect, void *ctx)
{
	char err[LAT_ERRLEN] = "";
	lat_model m;
	int rc;

	(void)ctx;
	lat_model_init(&m);
	rc = lat_model_load(&m, path, err);
	if (!rc)
		rc = lat_model_finalize(&m, err);
	CU_ASSERT(rc != 0);
	if (rc == 0 || !strstr(err, expect)) {
		fprintf(stderr, "\n%s: rc %d\n  got: %s\n  expected: %s\n", name, rc, err, expect);
		CU_FAIL("bad file message");
	}
	lat_model_clear(&m);
}

static void test_bad_corpus(void)
{
	char *dirpath = path_in_srcdir("tests/bad");
	CU_ASSERT(bad_corpus_each(dirpath, check_bad_model, NULL) >= MIN_BAD_FILES);
	free(dirpath);
}

static void test_clear(void)
{
	char err[LAT_ERRLEN] = "";
	char *path = path_in_srcdir("models/files.cfg");
	lat_model m, def;

	lat_model_init(&m);
	lat_model_init(&def);
	CU_ASSERT_EQUAL(lat_model_load(&m, path, err), 0);
	CU_ASSERT_EQUAL(lat_model_set(&m, "input.cov_diag=[1.0, 1.0, 1.0, 1.0]", err), 0);
	CU_ASSERT_EQUAL(lat_model_finalize(&m, err), 0);
	lat_model_clear(&m);
	CU_ASSERT_PTR_NULL(model_diff(&m, &def));
	CU_ASSERT_STRING_EQUAL(m.source, "<built-in default>");
	CU_ASSERT_PTR_NULL(m.weights_init);
	CU_ASSERT_PTR_NULL(m.inputs_fixed);
	lat_model_clear(&m);
	lat_model_clear(&def);
	free(path);
}

static CU_TestInfo model_tests[] = {
    {"init gives the documented defaults", test_init_defaults},
    {"default.cfg sets every key to its default", test_default_cfg_sets_every_key},
    {"every models/ file loads and finalizes", test_all_models},
    {"files.cfg reads its data files", test_files_model},
    {"an integer is accepted for a float", test_int_for_float},
    {"a failed load changes nothing", test_load_atomic},
    {"an empty file is an error", test_empty_model},
    {"load errors name file, line and key", test_load_errors},
    {"--set overrides and their errors", test_set},
    {"write then load round-trips exactly", test_write_round_trip},
    {"finalize cross-checks", test_finalize_errors},
    {"tests/bad corpus", test_bad_corpus},
    {"clear frees and re-initialises", test_clear},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "model", .pTests = model_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}

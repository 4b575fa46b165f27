/* test_cli.c: smoke tests of the lateral binary: outputs, exit statuses and error messages. */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_linalg.h>

#include "cli_fixture.h"
#include "lateral/ckpt.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "idx_fixture.h"
#include "runner.h"

#define BUF 65536

static char tmpdir[256];
#define out_text cli_out_text
#define err_text cli_err_text
/* Runs lateral with the NULL-terminated arguments; returns its exit status (or -1) and fills
 * out_text / err_text. */
#define run(...) cli_fixture_run(tmpdir, __VA_ARGS__)

static char *path_in(char *buf, const char *sub)
{
	sprintf(buf, "%s/%s", tmpdir, sub);
	return buf;
}

static int exists(const char *sub)
{
	char p[512];
	struct stat st;
	return stat(path_in(p, sub), &st) == 0 && st.st_size > 0;
}

static size_t data_rows(const char *sub)
{
	char p[512], line[65536];
	size_t n = 0;
	FILE *fp = fopen(path_in(p, sub), "r");
	if (!fp)
		return 0;
	while (fgets(line, sizeof line, fp))
		if (line[0] != '#' && line[0] != '\n')
			n++;
	fclose(fp);
	return n;
}

/* Value of "key": NUMBER in a summary.json. */
static double json_number(const char *sub, const char *key)
{
	char p[512], text[BUF], pat[128];
	const char *hit;
	FILE *fp = fopen(path_in(p, sub), "r");
	size_t n;
	if (!fp)
		return -1e300;
	n = fread(text, 1, sizeof text - 1, fp);
	text[n] = 0;
	fclose(fp);
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	hit = strstr(text, pat);
	return hit ? strtod(hit + strlen(pat), NULL) : -1e300;
}

/* The text of the file at path into buf (truncated to size - 1 bytes, NUL-terminated); 0 when it cannot be
 * read. */
static int slurp_text(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	if (!fp)
		return 0;
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return 1;
}

static void model_path(char *buf, const char *rel)
{
	sprintf(buf, "%s/%s", test_srcdir(), rel);
}

static void test_version_and_help(void)
{
	CU_ASSERT_EQUAL(run("--version", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "lateral " PACKAGE_VERSION));
	CU_ASSERT_EQUAL(run("help", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "validate"));
	CU_ASSERT_EQUAL(run("run", "--help", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "--set"));
	CU_ASSERT_EQUAL(run(NULL), 2);
	CU_ASSERT_EQUAL(run("frobnicate", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "unknown command 'frobnicate'"));
	CU_ASSERT_EQUAL(run("run", "--bogus", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "--bogus"));
}

/* 1 when the two TSV files hold the same numbers (comment lines skipped), value for value. */
static int same_numbers(const char *p, const char *q)
{
	FILE *a = fopen(p, "r"), *b = fopen(q, "r");
	int same = a && b;
	double x, y;

	if (same) {
		same = fscanf(a, "%*[^\n]\n") >= 0 && fscanf(b, "%*[^\n]\n") >= 0;
		while (same && fscanf(a, "%lf", &x) == 1 && fscanf(b, "%lf", &y) == 1)
			same = x == y;
		same = same && fscanf(b, "%lf", &y) != 1;
	}
	if (a)
		fclose(a);
	if (b)
		fclose(b);
	return same;
}

static void test_run_writes_outputs(void)
{
	char dir[512];
	path_in(dir, "run");
	CU_ASSERT_EQUAL_FATAL(run("run", "-o", dir, "--no-plot", "--set", "run.presentations=50", "--set",
				  "run.record_every=10", NULL),
			      0);
	/* The initial state plus one row every 10 presentations. */
	CU_ASSERT_EQUAL(data_rows("run/metrics.tsv"), 6);
	CU_ASSERT(exists("run/trace.tsv"));
	CU_ASSERT(exists("run/summary.json"));
	CU_ASSERT_EQUAL(json_number("run/summary.json", "presentations"), 50);
	CU_ASSERT(json_number("run/summary.json", "snr_pool_final") > json_number("run/summary.json", "snr_pool_init"));
	/* the learned weights, 100 neurons x 9 inputs: their snr_pool, (1/d) sum_j m_j^2 / v_j with the mean and
	 * the variance (1/N) over the rows, computed here from the file, is the one summary.json reports */
	CU_ASSERT_EQUAL(data_rows("run/weights_final.tsv"), 100);
	CU_ASSERT_EQUAL(data_rows("run/weights_init.tsv"), 100);
	{
		char f[600];
		double w[100][9], snr = 0;
		FILE *fp = fopen(path_in(f, "run/weights_final.tsv"), "r");
		int ok = fp != NULL;
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
		ok = fscanf(fp, "%*[^\n]\n") >= 0;
		for (int i = 0; ok && i < 100; i++)
			for (int j = 0; ok && j < 9; j++)
				ok = fscanf(fp, "%lf", &w[i][j]) == 1;
		fclose(fp);
		CU_ASSERT_FATAL(ok);
		for (int j = 0; j < 9; j++) {
			double mean = 0, var = 0;
			for (int i = 0; i < 100; i++)
				mean += w[i][j] / 100;
			for (int i = 0; i < 100; i++)
				var += (w[i][j] - mean) * (w[i][j] - mean) / 100;
			snr += mean * mean / var / 9;
		}
		CU_ASSERT_DOUBLE_EQUAL(snr / json_number("run/summary.json", "snr_pool_final"), 1, 1e-9);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "presentation"));
	CU_ASSERT_PTR_NULL(strstr(err_text, "error"));
	/* run.save_weights_every: the snapshot after presentation 20 of a 50-presentation run is the final
	 * state of a run of 20 presentations (the same seeds) */
	{
		char d2[512], d3[512], a[600], b[600];
		path_in(d2, "snap50");
		path_in(d3, "snap20");
		CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", d2, "--set", "run.presentations=50", "--set",
				    "run.save_weights_every=20", NULL),
				0);
		CU_ASSERT(exists("snap50/weights_0000020.tsv") && exists("snap50/weights_0000040.tsv"));
		CU_ASSERT(!exists("snap50/weights_0000050.tsv"));
		CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", d3, "--set", "run.presentations=20", NULL), 0);
		CU_ASSERT(same_numbers(path_in(a, "snap50/weights_0000020.tsv"), path_in(b, "snap20/weights_final.tsv")));
	}
}

static void test_plots_or_clear_note(void)
{
	char dir[512];
	path_in(dir, "plot");
	/* A missing gnuplot is a note, not a failure. */
	setenv("LATERAL_GNUPLOT", "/nonexistent/gnuplot", 1);
	CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, "--set", "run.presentations=20", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "gnuplot not found"));
	CU_ASSERT(!exists("plot/snr.png"));
	unsetenv("LATERAL_GNUPLOT");
	if (access("/usr/bin/gnuplot", X_OK) == 0) {
		CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, "--force", "--set", "run.presentations=20", NULL), 0);
		CU_ASSERT(exists("plot/snr.png"));
		CU_ASSERT(exists("plot/trace.png"));
		/* no temporary PNG ("NAME.PID.tmp") is left behind */
		{
			char dir_path[512];
			DIR *d = opendir(path_in(dir_path, "plot"));
			struct dirent *de;
			size_t n_tmp = 0;
			CU_ASSERT_PTR_NOT_NULL_FATAL(d);
			while ((de = readdir(d)) != NULL)
				n_tmp += strlen(de->d_name) > 4 && !strcmp(de->d_name + strlen(de->d_name) - 4, ".tmp");
			closedir(d);
			CU_ASSERT_EQUAL(n_tmp, 0);
		}
		CU_ASSERT(exists("plot/weights.png"));
		/* --plot-format svg: the same figures as SVG; --force replaced the PNGs, none is left stale */
		CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, "--force", "--plot-format", "svg", "--set",
				    "run.presentations=20", NULL),
				0);
		CU_ASSERT(exists("plot/snr.svg") && exists("plot/trace.svg") && exists("plot/weights.svg"));
		CU_ASSERT(!exists("plot/snr.png"));
		{
			char f[600], head[64] = "";
			FILE *fp = fopen(path_in(f, "plot/snr.svg"), "r");
			CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
			CU_ASSERT(fgets(head, sizeof head, fp) != NULL);
			fclose(fp);
			CU_ASSERT(strstr(head, "<?xml") || strstr(head, "<svg"));
		}
		/* under -q nothing of gnuplot's reaches stderr */
		CU_ASSERT_STRING_EQUAL(err_text, "");
	}
	CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, "--plot-format", "jpg", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "expected png, pdf or svg"));
}

static void test_bad_inputs_exit_2(void)
{
	char dir[512], bad[600];
	path_in(dir, "bad");
	CU_ASSERT_EQUAL(run("run", "-o", dir, "/nonexistent/model.cfg", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "/nonexistent/model.cfg"));
	CU_ASSERT_EQUAL(run("run", "-o", dir, "--set", "circuit.tau=-1", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.tau"));
	CU_ASSERT_EQUAL(run("run", "-o", dir, "--set", "circuit.nope=1", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.nope"));
	CU_ASSERT_EQUAL(run("run", "-o", dir, "--set", "notakey", NULL), 2);
	CU_ASSERT(!exists("bad/metrics.tsv"));
	model_path(bad, "tests/bad/unknown_key.cfg");
	CU_ASSERT_EQUAL(run("check", bad, NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "unknown_key.cfg:"));
	/* MODEL is optional: check alone checks the built-in model, and --set applies to it */
	CU_ASSERT_EQUAL(run("check", NULL), 0);
	CU_ASSERT_EQUAL(run("check", "--set", "circuit.alpha=-2", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.alpha"));
	/* an experiment file is checked as one (not as a model with unknown sections) */
	CU_ASSERT_EQUAL(run("check", "--experiment", "--set", "train.lr=0", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "train.lr"));
	CU_ASSERT_EQUAL(run("sweep", "-o", dir, NULL), 2);
	CU_ASSERT_EQUAL(run("sweep", "-o", dir, "--vary", "circuit.tau", NULL), 2);
	CU_ASSERT_EQUAL(run("sweep", "-o", dir, "--vary", "circuit.tau=30,-1", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.tau"));
	CU_ASSERT_EQUAL(run("validate", "-o", dir, "--tol", "abc", NULL), 2);
	CU_ASSERT_EQUAL(run("validate", "-o", dir, "--set", "input.count=0", "--set", "plasticity.update=online", NULL),
			2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "fixed inputs"));
}

static void test_runtime_failure_exit_1(void)
{
	char dir[512];
	path_in(dir, "fail");
	CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", dir, "--set", "solver.t_max=5", NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "presentation 1"));
	CU_ASSERT(!exists("fail/metrics.tsv"));
}

static void test_check_models(void)
{
	char p[600];
	model_path(p, "models/default.cfg");
	CU_ASSERT_EQUAL(run("check", p, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, ": ok"));
	/* --print writes a model that loads back to the same thing. */
	CU_ASSERT_EQUAL(run("check", "--print", "--set", "circuit.alpha=42", NULL), 0);
	{
		char mp[512];
		FILE *fp = fopen(path_in(mp, "printed.cfg"), "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
		fputs(out_text, fp);
		fclose(fp);
		CU_ASSERT_EQUAL(run("check", mp, NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "alpha = 42"));
	}
}

static void test_validate_pass_and_fail(void)
{
	char dir[512];
	path_in(dir, "val");
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "-o", dir, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "agree with the closed-form"));
	CU_ASSERT(json_number("val/summary.json", "max_rel_error") <= 1e-6);
	CU_ASSERT(json_number("val/summary.json", "max_steady_error") <= json_number("val/summary.json", "max_steady_error_bound"));
	CU_ASSERT_EQUAL(data_rows("val/weights_final.tsv"), 20);
	CU_ASSERT_EQUAL(data_rows("val/closed_form.tsv"), 20);
	CU_ASSERT_EQUAL(data_rows("val/inputs.tsv"), 20);
	/* the pairs file: one row per weight, and its own max |W - W*| / max |W*| is summary.json's */
	CU_ASSERT_EQUAL(data_rows("val/w_vs_wstar.tsv"), 20 * 9);
	{
		char f[600];
		double i, j, ws, w, num = 0, den = 0;
		FILE *fp = fopen(path_in(f, "val/w_vs_wstar.tsv"), "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
		CU_ASSERT(fscanf(fp, "%*[^\n]\n") >= 0);
		while (fscanf(fp, "%lf %lf %lf %lf", &i, &j, &ws, &w) == 4) {
			num = fmax(num, fabs(w - ws));
			den = fmax(den, fabs(ws));
		}
		fclose(fp);
		CU_ASSERT(den > 0);
		CU_ASSERT_DOUBLE_EQUAL(num / den, json_number("val/summary.json", "max_rel_error"),
				       1e-9 * den + 1e-15);
	}
	/* validate stops by itself: its bound on the remaining error is below 0.1 tol, and the predicted
	 * contraction rate is the batch rule's (cmd_validate.c), here about 0.965 */
	CU_ASSERT(json_number("val/summary.json", "predicted_remaining_error") <= 1e-7);
	CU_ASSERT(json_number("val/summary.json", "contraction_rate") > 0.9 &&
		  json_number("val/summary.json", "contraction_rate") < 0.99);
	CU_ASSERT_EQUAL(json_number("val/summary.json", "max_updates_reached"), 0);
	/* run.presentations plays no part in the verdict */
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "--force", "-o", dir, "--set", "run.presentations=40", NULL), 0);
	/* An upper bound too low to converge: the same check must fail with exit status 1 and say so. */
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "--force", "-o", dir, "--max-updates", "2", NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "FAIL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "reached --max-updates = 2"));
	CU_ASSERT_EQUAL(json_number("val/summary.json", "max_updates_reached"), 1);
	/* eta too large for the batch rule: refused with the bound on eta (exit 2) */
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "--force", "-o", dir, "--set", "plasticity.eta=5", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "batch updates do not converge"));
}

/* W* of docs/science.md section 4 solved independently of src/core/closedform.c: the averaged rule's stationary
 * condition for all N d weights at once, sum_j C (delta_ij - a / N) w_j + gamma (w_i - w_i^init) = 0,
 * as one dense (N d) x (N d) system by GSL LU (closedform.c uses two d x d Cholesky solves). Returns
 * max |W - W*| / max |W*|, or -1 when the files cannot be read. */
static double independent_wstar_error(const char *dir, double alpha, double gamma)
{
	char p[600], err[LAT_ERRLEN];
	double *x = NULL, *w0 = NULL, *w = NULL, worst = -1, scale = 0, diff = 0;
	size_t m, d, n, d0, n1, d1;
	gsl_matrix *a = NULL;
	gsl_vector *rhs = NULL, *sol = NULL;
	gsl_permutation *perm = NULL;
	int sign;

	snprintf(p, sizeof p, "%s/inputs.tsv", dir);
	if (lat_tsv_read(p, &x, &m, &d, err))
		goto out;
	snprintf(p, sizeof p, "%s/weights_init.tsv", dir);
	if (lat_tsv_read(p, &w0, &n, &d0, err))
		goto out;
	snprintf(p, sizeof p, "%s/weights_final.tsv", dir);
	if (lat_tsv_read(p, &w, &n1, &d1, err) || d0 != d || d1 != d || n1 != n)
		goto out;
	a = gsl_matrix_calloc(n * d, n * d);
	rhs = gsl_vector_alloc(n * d);
	sol = gsl_vector_alloc(n * d);
	perm = gsl_permutation_alloc(n * d);
	for (size_t k = 0; k < d; k++)
		for (size_t l = 0; l < d; l++) {
			double c = 0;
			for (size_t q = 0; q < m; q++)
				c += x[q * d + k] * x[q * d + l] / (double)m;
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < n; j++)
					gsl_matrix_set(a, i * d + k, j * d + l,
						       c * ((i == j) - alpha / (1 + alpha) / (double)n) +
							   (i == j && k == l ? gamma : 0));
		}
	for (size_t k = 0; k < n * d; k++)
		gsl_vector_set(rhs, k, gamma * w0[k]);
	if (gsl_linalg_LU_decomp(a, perm, &sign) || gsl_linalg_LU_solve(a, perm, rhs, sol))
		goto out;
	for (size_t k = 0; k < n * d; k++) {
		scale = fmax(scale, fabs(gsl_vector_get(sol, k)));
		diff = fmax(diff, fabs(w[k] - gsl_vector_get(sol, k)));
	}
	worst = diff / scale;
out:
	gsl_permutation_free(perm);
	gsl_vector_free(sol);
	gsl_vector_free(rhs);
	gsl_matrix_free(a);
	free(w);
	free(w0);
	free(x);
	return worst;
}

/* validate with its defaults (and the default solver) on five generated circuits spanning alpha 0.5 to
 * 1e4, gamma 0.01 to 0.3, M below and above d, time constants other than the defaults, and one
 * homeostatic bias (settled by rk8pd and the polish, not exact; the rule sees r - b, which the bias
 * does not change): each passes by itself, and its learned weights agree with the independent W* above to 1e-6 relative. */
static void test_validate_generated_circuits(void)
{
	static const struct {
		double alpha, gamma;
		const char *sets[7];
	} cases[] = {
	    {0.5, 0.3, {"circuit.neurons=10", "circuit.inputs=8", "input.count=4", "input.seed=11", NULL}},
	    {5, 0.03,
	     {"circuit.neurons=37", "circuit.inputs=16", "input.count=23", "circuit.tau=10", "circuit.tau_inh=3", NULL}},
	    {1000, 0.2, {"circuit.neurons=8", "circuit.inputs=50", "input.count=120", NULL}},
	    {1e4, 0.01, {"circuit.neurons=12", "circuit.inputs=6", "input.count=30", "circuit.tau_inh=100", NULL}},
	    {60, 0.1,
	     {"circuit.neurons=25", "circuit.inputs=30", "input.count=12", "circuit.bias_tau=300", "circuit.bias_rho=1",
	      "circuit.rate_target=2"}}};
	char dir[512];

	path_in(dir, "valgen");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const char *argv[32] = {"validate", "--no-plot", "--force", "-o", dir};
		char a_set[64], g_set[64];
		size_t n = 5;
		int rc;
		double e;

		snprintf(a_set, sizeof a_set, "circuit.alpha=%g", cases[c].alpha);
		snprintf(g_set, sizeof g_set, "plasticity.gamma=%g", cases[c].gamma);
		argv[n++] = "--set";
		argv[n++] = a_set;
		argv[n++] = "--set";
		argv[n++] = g_set;
		for (size_t k = 0; cases[c].sets[k]; k++) {
			argv[n++] = "--set";
			argv[n++] = cases[c].sets[k];
		}
		rc = cli_fixture_runv(tmpdir, n, argv);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(json_number("valgen/summary.json", "max_updates_reached"), 0);
		CU_ASSERT(json_number("valgen/summary.json", "max_rel_error") <= 1e-6);
		e = independent_wstar_error(dir, cases[c].alpha, cases[c].gamma);
		CU_ASSERT(e >= 0 && e <= 1e-6);
		if (rc || !(e >= 0 && e <= 1e-6))
			printf("\n  case %zu: exit %d, error vs independent W* %g\n%s%s", c, rc, e, out_text, err_text);
	}
}

static void test_trace_and_sweep(void)
{
	char dir[512];
	path_in(dir, "trace");
	CU_ASSERT_EQUAL(run("trace", "--no-plot", "-o", dir, "--set", "run.trace_presentations=2", "--set",
			    "circuit.neurons=4", NULL),
			0);
	CU_ASSERT(data_rows("trace/trace.tsv") > 20);
	path_in(dir, "sweep");
	CU_ASSERT_EQUAL(run("sweep", "--no-plot", "-o", dir, "--set", "run.presentations=30", "--vary",
			    "plasticity.gamma=0.1,0.3", "--vary", "circuit.inputs=4,9", NULL),
			0);
	CU_ASSERT_EQUAL(data_rows("sweep/sweep.tsv"), 4);
	CU_ASSERT(exists("sweep/run_004/metrics.tsv"));
	/* a run that fails ends the sweep with its status (1), keeping the runs before it, and no table */
	path_in(dir, "sweep_fail");
	CU_ASSERT_EQUAL(run("sweep", "-q", "--no-plot", "-o", dir, "--set", "run.presentations=300", "--vary",
			    "plasticity.eta=0.01,5", NULL),
			1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "the 1 finished runs are kept in"));
	CU_ASSERT(exists("sweep_fail/run_001/metrics.tsv"));
	CU_ASSERT(!exists("sweep_fail/sweep.tsv"));
	/* the sweep's model.cfg is its model before the --vary values: what check prints for MODEL and --set */
	{
		char f[600], printed[CLI_FIXTURE_BUF];
		CU_ASSERT_EQUAL(run("check", "--print", "--set", "run.presentations=30", NULL), 0);
		memcpy(printed, out_text, sizeof printed);
		CU_ASSERT_FATAL(slurp_text(path_in(f, "sweep/model.cfg"), out_text, sizeof out_text));
		CU_ASSERT_STRING_EQUAL(out_text, printed);
	}
}

/* The PARM section of a checkpoint (a new array of *n floats), read with the container's own reader. */
static float *checkpoint_params(const char *path, size_t *n)
{
	lat_ckpt_section secs[] = {
	    {LAT_CKPT_TAG('T', 'H', 'D', 'R'), LAT_CKPT_U64, LAT_CKPT_ANY, "h", NULL, 0},
	    {LAT_CKPT_TAG('T', 'S', 'T', 'A'), LAT_CKPT_F64, LAT_CKPT_ANY, "s", NULL, 0},
	    {LAT_CKPT_TAG('P', 'A', 'R', 'M'), LAT_CKPT_F32, LAT_CKPT_ANY, "p", NULL, 0},
	    {LAT_CKPT_TAG('B', 'U', 'F', 'S'), LAT_CKPT_F32, LAT_CKPT_ANY, "b", NULL, 0},
	    {LAT_CKPT_TAG('O', 'P', 'T', 'S'), LAT_CKPT_F32, LAT_CKPT_ANY, "o", NULL, 0},
	    {LAT_CKPT_TAG('S', 'H', 'R', 'K'), LAT_CKPT_F64, LAT_CKPT_ANY, "k", NULL, 0},
	    {LAT_CKPT_TAG('T', 'E', 'X', 'T'), LAT_CKPT_BYTES, LAT_CKPT_ANY, "t", NULL, 0},
	    {LAT_CKPT_TAG('N', 'O', 'R', 'M'), LAT_CKPT_F64, LAT_CKPT_ANY, "n", NULL, 0}};
	char err[LAT_ERRLEN];
	lat_ckpt *c = NULL;
	float *p = NULL;

	if (lat_ckpt_load(path, LAT_CKPT_TRAIN, 3, secs, 8, &c, err) == 0 && (p = malloc(secs[2].n * sizeof *p))) {
		lat_ckpt_get_f32(&secs[2], p);
		*n = secs[2].n;
	}
	lat_ckpt_free(c);
	return p;
}

/* A tiny .npy reader: the shape (as written in the header, e.g. "2, 9, 9, 1, 3, 3") and the n float32
 * values after the header into v (at most max). Returns n, or 0 for a file that is not .npy 1.0 <f4. */
static size_t npy_read(const char *path, char *shape, size_t shape_size, float *v, size_t max)
{
	unsigned char head[10];
	char dict[512];
	size_t len, n;
	const char *p, *q;
	FILE *fp = fopen(path, "rb");

	if (!fp)
		return 0;
	if (fread(head, 1, 10, fp) != 10 || memcmp(head, "\x93NUMPY\x01\x00", 8)) {
		fclose(fp);
		return 0;
	}
	len = head[8] | (size_t)head[9] << 8;
	if (len >= sizeof dict || fread(dict, 1, len, fp) != len || (10 + len) % 64) {
		fclose(fp);
		return 0;
	}
	dict[len] = '\0';
	p = strstr(dict, "'shape': (");
	q = p ? strchr(p, ')') : NULL;
	if (!strstr(dict, "'descr': '<f4'") || !strstr(dict, "'fortran_order': False") || !q) {
		fclose(fp);
		return 0;
	}
	p += 10;
	snprintf(shape, shape_size, "%.*s", (int)(q - p), p);
	n = fread(v, sizeof *v, max, fp);
	fclose(fp);
	return n;
}

/* lateral train and eval on generated images: JSON lines, checkpoint, resume, bad input. */
static void test_train_and_eval(void)
{
	char dir[512], cfg[512], ckpt[600];
	FILE *fp;
	CU_ASSERT_EQUAL_FATAL(idx_write_pair(tmpdir, "tr", 48, 1), 0);
	CU_ASSERT_EQUAL_FATAL(idx_write_pair(tmpdir, "te", 16, 2), 0);
	fp = fopen(path_in(cfg, "exp.cfg"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs("data = { train_images = \"tr-images\"; train_labels = \"tr-labels\";\n"
	      "         test_images = \"te-images\"; test_labels = \"te-labels\"; };\n"
	      "network = { layers = ( { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
	      "                       { type = \"linear\"; outputs = 10; } ); };\n"
	      "train = { epochs = 2; batch = 16; lr = 0.01; threads = 1; };\n"
	      "sharing = { mode = \"circuit\"; every = 2; presentations = 2; iterations = 10; method = \"rk8pd\"; };\n",
	      fp);
	fclose(fp);
	path_in(dir, "train");
	CU_ASSERT_EQUAL(run("train", "-q", "--no-plot", "-o", dir, cfg, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"epoch\": 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"snr_pool\": ["));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"snr_channel\": ["));
	/* 3 batches per epoch, a phase every 2 batches counted across epochs: 1 in epoch 1, 2 in epoch 2. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"share_phases\": 1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"share_phases\": 2,"));
	/* circuits settled by an integrator are checked against their analytic steady state */
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"share_steady_error\": "));
	CU_ASSERT_EQUAL(data_rows("train/epochs.jsonl"), 2);
	CU_ASSERT(exists("train/checkpoint.bin"));
	CU_ASSERT(exists("train/experiment.cfg"));
	CU_ASSERT(exists("train/provenance.jsonl"));
	{
		char resolved[600];
		CU_ASSERT_EQUAL(run("check", path_in(resolved, "train/experiment.cfg"), NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "experiment: 3 layers"));
	}
	/* Two more epochs from the checkpoint: the log keeps all four. */
	CU_ASSERT_EQUAL(run("train", "-q", "--no-plot", "--resume", "-o", dir, cfg, "--set", "train.epochs=4", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"epoch\": 4"));
	CU_ASSERT_PTR_NULL(strstr(out_text, "\"epoch\": 2"));
	CU_ASSERT_EQUAL(data_rows("train/epochs.jsonl"), 4);
	path_in(ckpt, "train/checkpoint.bin");
	CU_ASSERT_EQUAL(run("eval", "--experiment", cfg, ckpt, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"test_acc\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"epochs\": 4"));
	/* Bad input: exit 2 with the key named; a checkpoint of another network is refused. */
	CU_ASSERT_EQUAL(run("train", "-o", dir, cfg, "--set", "train.batch=0", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "train.batch"));
	/* bad data with --force: refused before the old results are removed */
	CU_ASSERT_EQUAL(run("train", "--force", "-o", dir, cfg, "--set", "data.test_images=/nonexistent.gz", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "/nonexistent.gz"));
	CU_ASSERT(exists("train/checkpoint.bin"));
	CU_ASSERT_EQUAL(run("eval", "--experiment", cfg, "--set", "train.threads=2", "--set",
			    "network.locally_connected=true", ckpt, NULL),
			0);
	/* The bare checkpoint is self-contained: eval prints the accuracy of the log's last line, also when
	 * the training data it would otherwise take its normalisation from change. */
	{
		char logged[64], got[64], logf[600];
		const char *p;
		FILE *lf = fopen(path_in(logf, "train/epochs.jsonl"), "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(lf);
		logged[0] = '\0';
		while (fgets(out_text, sizeof out_text, lf))
			if ((p = strstr(out_text, "\"test_acc\": ")))
				sscanf(p, "\"test_acc\": %63[0-9.]", logged);
		fclose(lf);
		CU_ASSERT_EQUAL(run("eval", ckpt, NULL), 0);
		p = strstr(out_text, "\"test_acc\": ");
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		sscanf(p, "\"test_acc\": %63[0-9.]", got);
		CU_ASSERT_STRING_EQUAL(got, logged);
		CU_ASSERT_EQUAL(run("eval", ckpt, "--set", "data.limit_train=20", NULL), 0);
		p = strstr(out_text, "\"test_acc\": ");
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		sscanf(p, "\"test_acc\": %63[0-9.]", got);
		CU_ASSERT_STRING_EQUAL(got, logged);
		/* export: every parameter, in the checkpoint's order, in .npy files that a reader of the format
		 * alone takes back bit for bit */
		{
			char edir[600], f[700], shape[64];
			float vals[200], *params = NULL;
			size_t n_w = 0, n_b, n_l, n_lb;
			path_in(edir, "export");
			CU_ASSERT_EQUAL(run("export", "-q", "-o", edir, ckpt, NULL), 0);
			CU_ASSERT(exists("export/index.json"));
			CU_ASSERT(exists("export/input_norm.npy"));
			params = checkpoint_params(ckpt, &n_w);
			CU_ASSERT_PTR_NOT_NULL_FATAL(params);
			/* lc 2 channels, k 3 on 1 x 8 x 8 (as the fixture's images): [2][8][8][1][3][3] */
			snprintf(f, sizeof f, "%s/layer01_lc_weight.npy", edir);
			n_l = npy_read(f, shape, sizeof shape, vals, 200);
			CU_ASSERT_STRING_EQUAL(shape, "2, 8, 8, 1, 3, 3");
			CU_ASSERT_EQUAL(n_l, 2 * 8 * 8 * 9 > 200 ? 200 : 2 * 8 * 8 * 9);
			CU_ASSERT(memcmp(vals, params, n_l * sizeof *got) == 0);
			snprintf(f, sizeof f, "%s/layer01_lc_bias.npy", edir);
			n_b = npy_read(f, shape, sizeof shape, vals, 200);
			CU_ASSERT_STRING_EQUAL(shape, "2, 8, 8");
			CU_ASSERT_EQUAL(n_b, 128);
			CU_ASSERT(memcmp(vals, params + 2 * 8 * 8 * 9, n_b * sizeof *got) == 0);
			snprintf(f, sizeof f, "%s/layer03_linear_bias.npy", edir);
			n_lb = npy_read(f, shape, sizeof shape, vals, 200);
			CU_ASSERT_STRING_EQUAL(shape, "10,");
			CU_ASSERT_EQUAL(n_lb, 10);
			CU_ASSERT(n_w > 10 && memcmp(vals, params + n_w - 10, 10 * sizeof *got) == 0);
			free(params);
		}
		/* other test data through --set: the 48 training images as the test set */
		{
			char si[700], sl[700], f[600];
			snprintf(si, sizeof si, "data.test_images=%s", path_in(f, "tr-images"));
			snprintf(sl, sizeof sl, "data.test_labels=%s", path_in(f, "tr-labels"));
			CU_ASSERT_EQUAL(run("eval", ckpt, "--set", si, "--set", sl, NULL), 0);
			CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"test_acc\": "));
			CU_ASSERT_EQUAL(run("eval", ckpt, "--set", "data.test_images=/nonexistent.gz", NULL), 2);
			CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "/nonexistent.gz"));
		}
	}
}

/* "name size hash;" for every entry of dir, sorted by name, into out: equal digests, equal folders. */
static int digest_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void folder_digest(const char *dir, char *out, size_t size)
{
	char *names[64], path[1024];
	size_t n = 0, used = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	out[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL && n < 64)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof *names, digest_cmp);
	for (size_t i = 0; i < n; i++) {
		unsigned long long h = 1469598103934665603ull, len = 0;
		FILE *fp;
		int ch;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		fp = fopen(path, "rb");
		while (fp && (ch = fgetc(fp)) != EOF) {
			h = (h ^ (unsigned char)ch) * 1099511628211ull;
			len++;
		}
		if (fp)
			fclose(fp);
		used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s %llu %llx;", names[i], len, h);
		free(names[i]);
	}
}

/* Every output folder records what produced it: the resolved model (or experiment) loads back through
 * `lateral check` to the same text, and provenance.jsonl holds one line per invocation with the command
 * line, the exit status and the library versions. */
static void test_provenance(void)
{
	char dir[512], model[600], log[600], printed[CLI_FIXTURE_BUF];

	path_in(dir, "prov");
	CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", dir, "--set", "circuit.alpha=100", "--set",
			    "run.presentations=20", NULL), 0);
	snprintf(model, sizeof model, "%s/model.cfg", dir);
	snprintf(log, sizeof log, "%s/provenance.jsonl", dir);
	CU_ASSERT_EQUAL(run("check", "--print", model, NULL), 0);
	memcpy(printed, out_text, sizeof printed);
	CU_ASSERT_FATAL(slurp_text(model, out_text, sizeof out_text));
	CU_ASSERT_STRING_EQUAL(printed, out_text);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "alpha = 100.0;"));
	{
		char f[600], sum[4096];
		CU_ASSERT_FATAL(slurp_text(path_in(f, "prov/summary.json"), sum, sizeof sum));
		CU_ASSERT_PTR_NOT_NULL(strstr(sum, "\"overrides\": \"circuit.alpha=100 run.presentations=20\""));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "presentations = 20;"));
	CU_ASSERT_EQUAL(data_rows("prov/provenance.jsonl"), 1);
	CU_ASSERT_FATAL(slurp_text(log, out_text, sizeof out_text));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"circuit.alpha=100\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"exit_status\": 0"));
	CU_ASSERT_PTR_NULL(strstr(out_text, "running"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"sundials\": \""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"openblas\": \""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"gsl\": \""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"libconfig\": \""));
	/* the same folder again: refused, every byte as it was (names, sizes and contents) */
	{
		char before[8192], after[8192];
		folder_digest(dir, before, sizeof before);
		CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", dir, model, NULL), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "is not empty"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "--force"));
		folder_digest(dir, after, sizeof after);
		CU_ASSERT_STRING_EQUAL(before, after);
		CU_ASSERT(strlen(before) > 20);
	}
	/* --force: the old files go first, so the folder holds only this run's (plots included) */
	CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, model, "--force", NULL), 0);
	CU_ASSERT_EQUAL(data_rows("prov/provenance.jsonl"), 1);
	CU_ASSERT(exists("prov/snr.png") || strstr(err_text, "gnuplot"));
	CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", dir, model, "--force", NULL), 0);
	CU_ASSERT(!exists("prov/snr.png"));
	/* a run that fails on its input writes no record (the folder had none: nothing is left) */
	path_in(dir, "prov_bad");
	CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", dir, "--set", "circuit.alpha=-5", NULL), 2);
	CU_ASSERT(!exists("prov_bad/provenance.jsonl"));
}

static int setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lateral-test-cli-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void)
{
	test_remove_tree(tmpdir);
	return 0;
}

static CU_TestInfo tests[] = {{"version, help, unknown command", test_version_and_help},
			      {"run writes metrics, trace and summary", test_run_writes_outputs},
			      {"plots, or a note without gnuplot", test_plots_or_clear_note},
			      {"bad input exits 2 with a message", test_bad_inputs_exit_2},
			      {"runtime failure exits 1 and writes nothing", test_runtime_failure_exit_1},
			      {"check and --print round trip", test_check_models},
			      {"validate passes, and fails when unconverged", test_validate_pass_and_fail},
			      {"validate on five generated circuits vs an independent W*", test_validate_generated_circuits},
			      {"trace and sweep", test_trace_and_sweep},
			      {"train, resume and eval", test_train_and_eval},
			      {"every output folder records its model and command", test_provenance},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {
    {.pName = "cli", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}

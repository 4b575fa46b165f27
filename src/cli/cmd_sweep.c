/* cmd_sweep.c: `lateral sweep`: the convergence study over a grid of model keys, with predictions. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "size.h"

#define MAX_KEYS 8
#define MAX_VALUES 64
#define MAX_RUNS 4096
#define TEXTLEN 128

typedef struct {
	size_t n_keys;
	char key[MAX_KEYS][TEXTLEN];
	size_t n_values[MAX_KEYS];
	char value[MAX_KEYS][MAX_VALUES][TEXTLEN];
	int resume;
} grid;

/* A range FROM:TO:lin:N or FROM:TO:log:N (both ends included; log needs FROM, TO > 0) as N values of key
 * k, each printed with 10 significant digits. */
static int vary_range(grid *g, size_t k, const char *arg, const char *spec)
{
	char scale[8], extra;
	double lo, hi;
	long n;

	if (sscanf(spec, "%lf:%lf:%7[a-z]:%ld%c", &lo, &hi, scale, &n, &extra) != 4 ||
	    (strcmp(scale, "lin") && strcmp(scale, "log")) || !isfinite(lo) || !isfinite(hi) || n < 2 ||
	    n > MAX_VALUES || (!strcmp(scale, "log") && !(lo > 0 && hi > 0))) {
		fprintf(stderr,
			"lateral sweep: --vary '%s': expected section.key=FROM:TO:lin:N or FROM:TO:log:N "
			"(finite ends, "
			"both > 0 for log, N from 2 to %d)\n",
			arg, MAX_VALUES);
		return CLI_USAGE;
	}
	for (long j = 0; j < n; j++) {
		double f = (double)j / (double)(n - 1);
		double v = strcmp(scale, "log") ? lo + f * (hi - lo) : exp(log(lo) + f * (log(hi) - log(lo)));
		if (j == n - 1)
			v = hi; /* the end as written, not as rounded */
		snprintf(g->value[k][j], TEXTLEN, "%.10g", v);
	}
	g->n_values[k] = (size_t)n;
	g->n_keys++;
	return 0;
}

/* Each value of key k (the last one added) alone on the default model: a bad value is refused now, by the
 * model's reader, with the message naming it as "--vary section.key=value". */
static int vary_check(const grid *g, size_t k)
{
	char set[2 * TEXTLEN + 2], err[LAT_ERRLEN];
	lat_model m;
	int rc = LAT_OK;

	for (size_t j = 0; !rc && j < g->n_values[k]; j++) {
		snprintf(set, sizeof set, "%s=%s", g->key[k], g->value[k][j]);
		lat_model_init(&m);
		rc = lat_model_set_as(&m, "--vary", set, err);
		lat_model_clear(&m);
	}
	if (rc)
		fprintf(stderr, "lateral sweep: %s\n", err);
	return rc ? CLI_USAGE : 0;
}

static int on_extra(const char *name, const char *arg, void *ctx)
{
	grid *g = ctx;
	const char *eq;
	size_t k = g->n_keys, len;
	const char *p;
	int rc;

	if (!strcmp(name, "resume")) {
		g->resume = 1;
		return 0;
	}
	eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "lateral sweep: --vary '%s': expected section.key=v1,v2,...\n", arg);
		return CLI_USAGE;
	}
	if (k == MAX_KEYS) {
		fprintf(stderr, "lateral sweep: at most %d --vary options\n", MAX_KEYS);
		return CLI_USAGE;
	}
	len = (size_t)(eq - arg);
	if (len >= TEXTLEN || !memchr(arg, '.', len)) {
		fprintf(stderr, "lateral sweep: --vary '%s': expected section.key before '='\n", arg);
		return CLI_USAGE;
	}
	memcpy(g->key[k], arg, len);
	g->key[k][len] = 0;
	for (size_t j = 0; j < k; j++)
		if (!strcmp(g->key[j], g->key[k])) {
			fprintf(stderr, "lateral sweep: --vary %s given twice\n", g->key[k]);
			return CLI_USAGE;
		}
	g->n_values[k] = 0;
	if (strchr(eq + 1, ':')) {
		rc = vary_range(g, k, arg, eq + 1);
		return rc ? rc : vary_check(g, k);
	}
	for (p = eq + 1;;) {
		const char *comma = strchr(p, ',');
		size_t vlen = comma ? (size_t)(comma - p) : strlen(p);
		if (vlen == 0 || vlen >= TEXTLEN || g->n_values[k] == MAX_VALUES) {
			fprintf(stderr,
				"lateral sweep: --vary '%s': values must be non-empty, shorter than %d "
				"characters, "
				"at most %d of them\n",
				arg, TEXTLEN, MAX_VALUES);
			return CLI_USAGE;
		}
		memcpy(g->value[k][g->n_values[k]], p, vlen);
		g->value[k][g->n_values[k]++][vlen] = 0;
		if (!comma)
			break;
		p = comma + 1;
	}
	g->n_keys++;
	return vary_check(g, k);
}

/* Index of value of key k in run r (key 0 varies fastest, so each group of lines is contiguous). */
static size_t value_index(const grid *g, size_t r, size_t k)
{
	for (size_t j = 0; j < k; j++)
		r /= g->n_values[j];
	return r % g->n_values[k];
}

typedef struct {
	run_result res;
	double pred_inv_snr_ratio, pred_mean_ratio;
	double formula_inv_snr_ratio, formula_mean_ratio;
} sweep_row;

/* Predictions from the closed form with the population (or fixed-input) covariance, and the C = I
 * formulas of docs/science.md section 4. */
static void predict(const lat_model *m, lat_sim *sim, sweep_row *row)
{
	const double *ws = lat_sim_wstar(sim, NULL);

	row->pred_inv_snr_ratio = row->pred_mean_ratio = NAN;
	if (ws && lat_closedform_ratios(m->neurons, m->inputs, lat_sim_weights_init(sim), ws,
					&row->pred_inv_snr_ratio, &row->pred_mean_ratio, NULL))
		row->pred_inv_snr_ratio = row->pred_mean_ratio = NAN;
	lat_closedform_identity_ratios(m->alpha, m->gamma, &row->formula_inv_snr_ratio,
				       &row->formula_mean_ratio);
}

static int one_run(const cli_opts *o, const grid *g, size_t r, const char *dir, lat_model *m, sweep_row *row)
{
	char sets[MAX_KEYS][2 * TEXTLEN + 2];
	const char *extra[MAX_KEYS];
	cli_opts sub = *o;
	lat_sim *sim = NULL;
	int rc;

	for (size_t k = 0; k < g->n_keys; k++) {
		snprintf(sets[k], sizeof sets[k], "%s=%s", g->key[k], g->value[k][value_index(g, r, k)]);
		extra[k] = sets[k];
	}
	rc = cli_load_model(o, NULL, extra, g->n_keys, m);
	if (rc)
		return rc;
	sub.outdir = dir;
	sub.quiet = 1;
	rc = run_prepare(o, m, dir, 0, &sim);
	if (rc)
		return rc;
	rc = run_study(&sub, m, sim, dir, 0, &row->res);
	if (!rc) {
		predict(m, sim, row);
		rc = run_write_summary(&sub, m, dir, &row->res, NULL, NULL, 0);
	}
	lat_sim_free(sim);
	return rc;
}

/* The table's columns and what each may hold (checked when a sweep resumes). */
static const lat_sweep_column columns[] = {
    {"snr_gain", LAT_SWEEP_RATIO},     {"inv_snr_ratio", LAT_SWEEP_RATIO}, {"pred_inv_snr", LAT_SWEEP_RATIO},
    {"formula_inv", LAT_SWEEP_RATIO},  {"mean_ratio", LAT_SWEEP_RATIO},	   {"pred_mean", LAT_SWEEP_RATIO},
    {"formula_mean", LAT_SWEEP_RATIO}, {"p50", LAT_SWEEP_PRESENTATION},	   {"p90", LAT_SWEEP_PRESENTATION},
    {"steps", LAT_SWEEP_NONNEG},       {"us_per_pres", LAT_SWEEP_NONNEG}};
#define N_COLUMNS (sizeof columns / sizeof columns[0])

/* The table's values of one run. */
static void row_values(const sweep_row *row, double *v)
{
	const run_result *res = &row->res;
	double w[N_COLUMNS] = {res->final.pool.snr / res->init.pool.snr,
			       res->final.pool.inv_snr / res->init.pool.inv_snr,
			       row->pred_inv_snr_ratio,
			       row->formula_inv_snr_ratio,
			       res->final.pool.mean_ratio,
			       row->pred_mean_ratio,
			       row->formula_mean_ratio,
			       res->p50,
			       res->p90,
			       res->mean_steps,
			       res->presentations ? 1e6 * res->seconds / (double)res->presentations : NAN};
	memcpy(v, w, sizeof w);
}

static void table_line(FILE *fp, const grid *g, size_t r, const double *v, int tsv)
{
	fprintf(fp, tsv ? "%zu" : "%4zu", r + 1);
	for (size_t k = 0; k < g->n_keys; k++)
		fprintf(fp, tsv ? "\t%s" : " %12s", g->value[k][value_index(g, r, k)]);
	for (size_t k = 0; k < N_COLUMNS; k++)
		fprintf(fp, tsv ? "\t%.6g" : " %11.4g", v[k]);
	fputc('\n', fp);
}

/* Reads DIR/sweep_state.bin (lat_sweep_state_load); the sweep_state.tsv of an older lateral is named as
 * such. */
static int sweep_state_read(const char *path, size_t n_runs, int *done, const unsigned long long *hash,
			    const size_t *pres, double *vals, size_t *n_done, char *err)
{
	char old[CLI_PATHLEN];
	size_t len = strlen(path);

	if (access(path, F_OK) && errno == ENOENT && len > 4 && len < sizeof old) {
		snprintf(old, sizeof old, "%.*s.tsv", (int)(len - 4), path);
		if (!access(old, F_OK))
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: written by an older lateral (format sweep_state.tsv), which "
					   "this lateral does "
					   "not read; delete it or rerun without --resume",
					   old);
	}
	return lat_sweep_state_load(path, n_runs, N_COLUMNS, columns, hash, pres, done, vals, n_done, err);
}

static void table_header(FILE *fp, const grid *g, int tsv)
{
	fprintf(fp, tsv ? "# run" : " run");
	for (size_t k = 0; k < g->n_keys; k++)
		fprintf(fp, tsv ? "\t%s" : " %12s", g->key[k]);
	for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
		fprintf(fp, tsv ? "\t%s" : " %11s", columns[k].name);
	fputc('\n', fp);
}

/* One plot per combination of keys 1..n-1, with one line per value of key 0. */
static int sweep_plots(const cli_opts *o, const grid *g, size_t n_runs)
{
	size_t per = g->n_values[0], n_groups = n_runs / per;
	char files[8192], titles[8192], heading[1024], path[CLI_PATHLEN], out[CLI_PATHLEN], name[64];
	char a_files[8300], a_titles[8300], a_heading[1100];
	const char *assign[3] = {a_files, a_titles, a_heading};
	int rc = CLI_OK;

	for (size_t grp = 0; grp < n_groups && !rc; grp++) {
		size_t used = 0, tused = 0, hused = 0;
		heading[0] = 0;
		for (size_t k = 1; k < g->n_keys; k++)
			hused += (size_t)snprintf(heading + hused, sizeof heading - hused, "%s%s = %s",
						  k > 1 ? ", " : "", g->key[k],
						  g->value[k][value_index(g, grp * per, k)]);
		for (size_t v = 0; v < per; v++) {
			size_t r = grp * per + v;
			snprintf(name, sizeof name, "run_%03zu/metrics.tsv", r + 1);
			used += (size_t)snprintf(files + used, sizeof files - used, "%s%s", v ? " " : "",
						 cli_path(path, sizeof path, o->outdir, name));
			tused += (size_t)snprintf(titles + tused, sizeof titles - tused, "%s%s=%s",
						  v ? " " : "", strchr(g->key[0], '.') + 1, g->value[0][v]);
		}
		if (used >= sizeof files || tused >= sizeof titles || hused >= sizeof heading)
			return cli_fail(o->cmd, LAT_EINVAL,
					"sweep: plot labels too long (output path too long?)");
		snprintf(a_files, sizeof a_files, "files = %s", cli_gp_quote(out, sizeof out, files));
		snprintf(a_titles, sizeof a_titles, "titles = %s", cli_gp_quote(out, sizeof out, titles));
		snprintf(a_heading, sizeof a_heading, "heading = %s", cli_gp_quote(out, sizeof out, heading));
		snprintf(name, sizeof name, "sweep_%02zu.png", grp + 1);
		rc = cli_plot(o, "plots/sweep.gp", cli_path(path, sizeof path, o->outdir, name), assign, 3);
	}
	return rc;
}

/* One sweep's grid and bookkeeping: per run, its row, its table values, whether it is finished, the hash
 * of its resolved model and its presentations. */
typedef struct {
	grid *g;
	size_t n_runs, n_done;
	sweep_row *rows;
	double *vals;
	int *done;
	unsigned long long *hash;
	size_t *pres;
	char state[CLI_PATHLEN]; /* DIR/sweep_state.bin */
} sweep;

/* Checks every combination before running any, so a typo costs nothing: each model loads, its hash and
 * presentations are kept, and the largest run's memory plan is checked against --max-memory. */
static int check_grid(const cli_opts *o, sweep *sw, lat_model *m)
{
	const grid *g = sw->g;
	size_t peak = 0;
	const char *change, *peak_change = "";
	char err[LAT_ERRLEN];
	int rc;

	for (size_t r = 0; r < sw->n_runs; r++) {
		char sets[MAX_KEYS][2 * TEXTLEN + 2], *text;
		const char *extra_sets[MAX_KEYS];
		size_t len = 0, bytes;
		for (size_t k = 0; k < g->n_keys; k++) {
			snprintf(sets[k], sizeof sets[k], "%s=%s", g->key[k],
				 g->value[k][value_index(g, r, k)]);
			extra_sets[k] = sets[k];
		}
		lat_model_clear(m);
		rc = cli_load_model(o, NULL, extra_sets, g->n_keys, m);
		if (rc)
			return rc;
		text = cli_model_text(m, &len);
		if (!text)
			return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
		sw->hash[r] = cli_hash(text, len);
		sw->pres[r] = m->presentations;
		free(text);
		rc = run_plan(m, 0, &bytes, &change, err);
		if (rc)
			return cli_fail(o->cmd, rc, err);
		if (bytes > peak) {
			peak = bytes;
			peak_change = change;
		}
	}
	/* The runs go one after another: the peak is the largest run's. */
	if (!o->quiet) {
		char text[32];
		fprintf(stderr, "lateral sweep: %zu runs; planned memory %s (the largest run)\n", sw->n_runs,
			lat_size_text(text, sizeof text, (double)peak));
	}
	return cli_memory_check(o, peak, peak_change);
}

/* Runs the unfinished runs in order, saving the state after each; stops at a signal (resumable). */
static int run_all(int argc, char **argv, const cli_opts *o, sweep *sw, lat_model *m)
{
	char path[CLI_PATHLEN], name[64], err[LAT_ERRLEN];
	int rc, sig;

	for (size_t r = 0; r < sw->n_runs; r++) {
		if (!sw->done[r]) {
			snprintf(name, sizeof name, "run_%03zu", r + 1);
			lat_model_clear(m);
			rc = one_run(o, sw->g, r, cli_path(path, sizeof path, o->outdir, name), m,
				     &sw->rows[r]);
			if (rc) {
				if (sw->n_done) {
					fprintf(stderr,
						"lateral sweep: the %zu finished runs are kept in %s\n",
						sw->n_done, sw->state);
					cli_rerun_hint(argc, argv, "continue with other settings, e.g.", NULL,
						       0, 1);
				}
				return rc;
			}
			row_values(&sw->rows[r], sw->vals + r * N_COLUMNS);
			sw->done[r] = 1;
			sw->n_done++;
			if (lat_sweep_state_save(sw->state, sw->n_runs, N_COLUMNS, sw->done, sw->hash,
						 sw->vals, err))
				return cli_fail(o->cmd, LAT_EIO, err);
		}
		if (!o->quiet) {
			table_line(stdout, sw->g, r, sw->vals + r * N_COLUMNS, 0);
			fflush(stdout);
		}
		sig = cli_interrupted();
		if (sig && sw->n_done < sw->n_runs) {
			fprintf(stderr,
				"lateral sweep: %s: stopped after %zu of %zu runs; they are kept in %s\n",
				cli_signal_name(sig), sw->n_done, sw->n_runs, sw->state);
			cli_rerun_hint(argc, argv, "resume with", NULL, 0, 1);
			return CLI_INTERRUPTED(sig);
		}
	}
	return CLI_OK;
}

/* DIR/sweep.tsv, written whole or not at all. */
static int write_table(const cli_opts *o, const sweep *sw)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, o->outdir, "sweep.tsv"), err);

	if (!f)
		return cli_fail(o->cmd, LAT_EIO, err);
	table_header(lat_afile_fp(f), sw->g, 1);
	for (size_t r = 0; r < sw->n_runs; r++)
		table_line(lat_afile_fp(f), sw->g, r, sw->vals + r * N_COLUMNS, 1);
	if (lat_afile_commit(f, err))
		return cli_fail(o->cmd, LAT_EIO, err);
	return CLI_OK;
}

/* The command's help and its own options. */
static const char summary[] =
    "Runs the convergence study for every combination of the --vary values (the first key varies\n"
    "fastest) and writes DIR/sweep.tsv (one row per run: SNR gain, 1/SNR ratio, its prediction from\n"
    "the closed-form W* and from the C = I formula (gamma/(1+gamma))^2 / (g/(1+g))^2, g = "
    "gamma(1+alpha),\n"
    "the mean ratio |wbar|/|wbar_init| with its predictions, p50/p90: presentations until log SNR\n"
    "gained 50 %/90 % of its final gain, solver steps and cost), DIR/run_NNN/\n"
    "(metrics.tsv, summary.json) and DIR/sweep_NN.png: SNR against presentations, one line per "
    "value\n"
    "of the first key, one plot per combination of the others. Values are separated by commas\n"
    "(array values cannot be swept). DIR/sweep_state.bin lists the finished runs; SIGINT or SIGTERM\n"
    "finishes the current run and exits with status 130 or 143, and --resume (same MODEL, --set and\n"
    "--vary) skips the finished runs and produces the same table. Example, the classic grid:\n"
    "  lateral sweep --vary circuit.inputs=9,36,81 --vary plasticity.gamma=0.1,0.01,0.001";
static const cli_extra extra[] = {
    {"vary", 1, "section.key=v1,v2,... or FROM:TO:lin|log:N (repeatable, at most 8)"},
    {"resume", 0, "skip the runs DIR/sweep_state.bin lists as finished"},
    {NULL, 0, NULL}};
static const char *const outputs[] = {"sweep_state.bin", "sweep.tsv", NULL};
int cmd_sweep(int argc, char **argv)
{
	sweep sw = {.g = calloc(1, sizeof *sw.g), .n_runs = 1};
	grid *g = sw.g;
	cli_opts o;
	lat_model m;
	char err[LAT_ERRLEN];
	int rc;

	lat_model_init(&m);
	if (!g) {
		fprintf(stderr, "lateral sweep: out of memory\n");
		return CLI_FAIL;
	}
	rc = cli_parse(argc, argv, "sweep", summary, "out/sweep", 0, extra, on_extra, g, &o);
	if (rc) {
		rc = rc < 0 ? CLI_OK : rc;
		goto out;
	}
	if (g->n_keys == 0) {
		fprintf(stderr, "lateral sweep: give at least one --vary section.key=v1,v2,...\n");
		rc = CLI_USAGE;
		goto out;
	}
	for (size_t k = 0; k < g->n_keys; k++) {
		sw.n_runs *= g->n_values[k];
		if (sw.n_runs > MAX_RUNS) {
			fprintf(stderr, "lateral sweep: the grid has more than %d runs\n", MAX_RUNS);
			rc = CLI_USAGE;
			goto out;
		}
	}
	sw.rows = calloc(sw.n_runs, sizeof *sw.rows);
	sw.vals = calloc(sw.n_runs * N_COLUMNS, sizeof *sw.vals);
	sw.done = calloc(sw.n_runs, sizeof *sw.done);
	sw.hash = calloc(sw.n_runs, sizeof *sw.hash);
	sw.pres = calloc(sw.n_runs, sizeof *sw.pres);
	if (!sw.rows || !sw.vals || !sw.done || !sw.hash || !sw.pres) {
		rc = cli_fail(o.cmd, LAT_ENOMEM, "out of memory");
		goto out;
	}
	rc = check_grid(&o, &sw, &m);
	if (rc)
		goto out;
	rc = cli_outdir(&o);
	if (rc)
		goto out;
	cli_signals_install();
	cli_remove_stale(o.outdir, outputs);
	cli_path(sw.state, sizeof sw.state, o.outdir, "sweep_state.bin");
	if (g->resume && (rc = sweep_state_read(sw.state, sw.n_runs, sw.done, sw.hash, sw.pres, sw.vals,
						&sw.n_done, err)) != 0) {
		rc = cli_fail(o.cmd, LAT_ECONFIG, err);
		goto out;
	}
	/* A fresh sweep forgets the runs of an earlier one. */
	if (!g->resume &&
	    lat_sweep_state_save(sw.state, sw.n_runs, N_COLUMNS, sw.done, sw.hash, sw.vals, err)) {
		rc = cli_fail(o.cmd, LAT_EIO, err);
		goto out;
	}
	if (g->resume)
		fprintf(stderr, "lateral sweep: resuming: %zu of %zu runs are finished (%s)\n", sw.n_done,
			sw.n_runs, sw.state);
	if (!o.quiet) {
		printf("# lateral sweep: %zu runs; ratios are final / initial\n", sw.n_runs);
		table_header(stdout, g, 0);
	}
	rc = run_all(argc, argv, &o, &sw, &m);
	if (!rc)
		rc = write_table(&o, &sw);
	if (!rc)
		rc = sweep_plots(&o, g, sw.n_runs);
	if (!rc && !o.quiet)
		printf("# files in %s/: sweep.tsv, run_NNN/, sweep_NN.png\n", o.outdir);
out:
	lat_model_clear(&m);
	free(sw.rows);
	free(sw.vals);
	free(sw.done);
	free(sw.hash);
	free(sw.pres);
	free(g);
	return rc;
}

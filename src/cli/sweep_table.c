/* sweep_table.c: one run of a sweep with its predictions, and the table of runs: its columns, rows, state and
 * plots. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "sweep.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "size.h"

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

int sweep_one_run(const cli_opts *o, const grid *g, size_t r, const char *dir, lat_model *m, sweep_row *row)
{
	char sets[MAX_KEYS][2 * TEXTLEN + 2];
	const char *extra[MAX_KEYS];
	cli_opts sub = *o;
	lat_sim *sim = NULL;
	int rc;

	for (size_t k = 0; k < g->n_keys; k++) {
		snprintf(sets[k], sizeof sets[k], "%s=%s", g->key[k],
			 g->value[k][sweep_value_index(g, r, k)]);
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
_Static_assert(sizeof columns / sizeof columns[0] == N_COLUMNS, "N_COLUMNS in sweep.h");

/* The table's values of one run. */
void sweep_row_values(const sweep_row *row, double *v)
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

void sweep_table_line(FILE *fp, const grid *g, size_t r, const double *v, int tsv)
{
	fprintf(fp, tsv ? "%zu" : "%4zu", r + 1);
	for (size_t k = 0; k < g->n_keys; k++)
		fprintf(fp, tsv ? "\t%s" : " %12s", g->value[k][sweep_value_index(g, r, k)]);
	for (size_t k = 0; k < N_COLUMNS; k++)
		fprintf(fp, tsv ? "\t%.6g" : " %11.4g", v[k]);
	fputc('\n', fp);
}

/* Reads DIR/sweep_state.bin (lat_sweep_state_load); the sweep_state.tsv of an older lateral is named as
 * such. */
int sweep_state_read(const char *path, size_t n_runs, int *done, const unsigned long long *hash,
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

void sweep_table_header(FILE *fp, const grid *g, int tsv)
{
	fprintf(fp, tsv ? "# run" : " run");
	for (size_t k = 0; k < g->n_keys; k++)
		fprintf(fp, tsv ? "\t%s" : " %12s", g->key[k]);
	for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
		fprintf(fp, tsv ? "\t%s" : " %11s", columns[k].name);
	fputc('\n', fp);
}

/* One plot per combination of keys 1..n-1, with one line per value of key 0. */
int sweep_plots(const cli_opts *o, const grid *g, size_t n_runs)
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
						  g->value[k][sweep_value_index(g, grp * per, k)]);
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

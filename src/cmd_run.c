/* cmd_run.c: `lateral run`: the convergence study of one pool, with metrics, traces, summary and plots. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lateral/err.h"
#include "lateral/io.h"

#define PATHLEN 4096
/* Rows of the progress table on stdout (metrics.tsv has every recorded row). */
#define TABLE_ROWS 20

static void table_header(void)
{
	printf("%12s %12s %12s %9s %10s %11s %10s %8s\n", "presentation", "snr", "inv_snr", "cos_mean",
	       "mean_ratio", "dist_wstar", "settle_t", "steps");
}

/* Missing values (no W*, nothing settled yet) print as "-", as they are empty in metrics.tsv. */
static void table_num(const char *fmt, int width, double v)
{
	if (isnan(v))
		printf(" %*s", width, "-");
	else
		printf(fmt, v);
}

static void table_row(const lat_sim_status *st, double settle, double steps)
{
	printf("%12zu %12.5g %12.5g %9.6f %10.6f", st->presentation, st->pool.snr, st->pool.inv_snr,
	       st->pool.cos_mean, st->pool.mean_ratio);
	table_num(" %11.4g", 11, st->dist_wstar);
	table_num(" %10.4g", 10, settle);
	table_num(" %8.1f", 8, steps);
	putchar('\n');
}

static void trace_rows(FILE *fp, const lat_trace *tr, size_t presentation, double t0)
{
	for (size_t r = 0; r < tr->n; r++) {
		const double *row = tr->data + r * (1 + tr->cols);
		fprintf(fp, "%zu\t%.10g", presentation, t0 + row[0]);
		for (size_t c = 1; c <= tr->cols; c++)
			fprintf(fp, "\t%.10g", row[c]);
		fputc('\n', fp);
	}
}

/* First recorded presentation at which log(snr / snr_0) reached frac of its final value (NaN if the
 * SNR did not grow). */
static double time_to_gain(const double *pres, const double *snr, size_t n, double frac)
{
	double total = n ? log(snr[n - 1] / snr[0]) : NAN;
	if (!(total > 0) || !isfinite(total))
		return NAN;
	for (size_t k = 0; k < n; k++)
		if (log(snr[k] / snr[0]) >= frac * total)
			return pres[k];
	return NAN;
}

int run_study(const cli_opts *o, const lat_model *m, lat_sim *sim, const char *dir, int traced,
	      run_result *res)
{
	char path[PATHLEN], err[LAT_ERRLEN], msg[LAT_ERRLEN + 64];
	lat_afile *fm = NULL, *ft = NULL;
	lat_trace *tr = NULL;
	lat_sim_step step;
	lat_sim_status st;
	size_t n_trace = traced ? m->trace_presentations : 0, n = m->neurons;
	size_t print_every = m->presentations / TABLE_ROWS;
	double sum_settle = 0, sum_steps = 0, tot_settle = 0, tot_steps = 0, tot_rhs = 0, tot_jac = 0, t0 = 0, start;
	size_t since = 0, n_rec = 0, cap_rec = m->presentations / m->record_every + 2;
	double *rec_p = malloc(cap_rec * sizeof *rec_p), *rec_s = malloc(cap_rec * sizeof *rec_s);
	int rc = CLI_OK, lrc;

	memset(res, 0, sizeof *res);
	res->max_steady_error = NAN;
	if (!rec_p || !rec_s) {
		rc = cli_fail(o->cmd, LAT_ENOMEM, "out of memory for the metrics record");
		goto out;
	}
	if (print_every < m->record_every)
		print_every = m->record_every;
	print_every -= print_every % m->record_every;

	fm = lat_afile_open(cli_path(path, sizeof path, dir, "metrics.tsv"), err);
	if (!fm)
		goto io_fail;
	cli_metrics_header(lat_afile_fp(fm));
	if (n_trace) {
		double dt = m->trace_dt > 0 ? m->trace_dt : fmin(m->tau, m->tau_inh) / 10;
		double horizon = m->timing == LAT_TIMING_CONTINUOUS ? m->duration : m->t_max;
		size_t cap = (size_t)(horizon / dt) + 3;
		tr = lat_trace_alloc(n + 2, cap, dt);
		ft = lat_afile_open(cli_path(path, sizeof path, dir, "trace.tsv"), err);
		if (!tr) {
			rc = cli_fail(o->cmd, LAT_ENOMEM, "out of memory for the trace buffer");
			goto out;
		}
		if (!ft)
			goto io_fail;
		fprintf(lat_afile_fp(ft), "# presentation\tt");
		for (size_t i = 1; i <= n; i++)
			fprintf(lat_afile_fp(ft), "\tr_%zu", i);
		fprintf(lat_afile_fp(ft), "\tr_inh\tb\n");
	}

	lat_sim_measure(sim, &st);
	res->init = st;
	rec_p[n_rec] = 0;
	rec_s[n_rec++] = st.pool.snr;
	cli_metrics_row(lat_afile_fp(fm), &st, st.pool.inv_snr, NAN, NAN);
	if (!o->quiet) {
		table_header();
		table_row(&st, NAN, NAN);
	}
	start = cli_now();
	for (size_t p = 1; p <= m->presentations; p++) {
		lat_trace *use = p <= n_trace ? tr : NULL;
		lrc = lat_sim_present(sim, &step, use, err);
		if (lrc) {
			snprintf(msg, sizeof msg, "%s (no file in %s was changed)", err, dir);
			rc = cli_fail(o->cmd, lrc, msg);
			goto out;
		}
		if (use) {
			trace_rows(lat_afile_fp(ft), tr, p, t0);
			t0 += tr->data[(tr->n - 1) * (1 + tr->cols)];
		}
		sum_settle += step.settle_time;
		sum_steps += (double)step.steps;
		tot_settle += step.settle_time;
		tot_steps += (double)step.steps;
		tot_rhs += (double)step.rhs_evals;
		tot_jac += (double)step.jac_evals;
		if (p == 1 || step.rtol_used < res->min_rtol_used)
			res->min_rtol_used = step.rtol_used;
		since++;
		if (isfinite(step.steady_error))
			res->max_steady_error = isnan(res->max_steady_error) ? step.steady_error
									      : fmax(res->max_steady_error, step.steady_error);
		if (p % m->record_every == 0 || p == m->presentations) {
			lat_sim_measure(sim, &st);
			rec_p[n_rec] = (double)p;
			rec_s[n_rec++] = st.pool.snr;
			cli_metrics_row(lat_afile_fp(fm), &st, res->init.pool.inv_snr, sum_settle / (double)since,
					sum_steps / (double)since);
			if (!o->quiet && (p % print_every == 0 || p == m->presentations))
				table_row(&st, sum_settle / (double)since, sum_steps / (double)since);
			sum_settle = sum_steps = 0;
			since = 0;
		}
	}
	res->seconds = cli_now() - start;
	lat_sim_measure(sim, &st);
	res->final = st;
	res->presentations = m->presentations;
	res->p50 = time_to_gain(rec_p, rec_s, n_rec, 0.5);
	res->p90 = time_to_gain(rec_p, rec_s, n_rec, 0.9);
	if (m->presentations) {
		res->mean_steps = tot_steps / (double)m->presentations;
		res->mean_rhs = tot_rhs / (double)m->presentations;
		res->mean_jac = tot_jac / (double)m->presentations;
		res->mean_settle_time = tot_settle / (double)m->presentations;
	}
	{
		const double *ws = lat_sim_wstar(sim, &res->wstar_population);
		res->dist_wstar = ws ? lat_metrics_rel_dist(n * m->inputs, lat_sim_weights(sim), ws) : NAN;
	}
	lrc = lat_afile_commit(fm, err);
	fm = NULL;
	if (lrc)
		goto io_fail;
	if (ft) {
		lrc = lat_afile_commit(ft, err);
		ft = NULL;
		if (lrc)
			goto io_fail;
	}
	goto out;
io_fail:
	rc = cli_fail(o->cmd, LAT_EIO, err);
out:
	lat_afile_abort(fm);
	lat_afile_abort(ft);
	lat_trace_free(tr);
	free(rec_p);
	free(rec_s);
	return rc;
}

int run_prepare(const cli_opts *o, const lat_model *m, const char *dir, lat_sim **sim)
{
	char err[LAT_ERRLEN];
	cli_opts at = *o;
	int rc;

	at.outdir = dir;
	rc = cli_outdir(&at);
	if (rc)
		return rc;
	*sim = lat_sim_alloc(m, o->solver_log ? stderr : NULL, err);
	return *sim ? CLI_OK : cli_fail(o->cmd, LAT_EINVAL, err);
}

int run_write_summary(const cli_opts *o, const lat_model *m, const char *dir, const run_result *res,
		      const char *const *extra_keys, const double *extra_vals, size_t n_extra)
{
	char path[PATHLEN], err[LAT_ERRLEN];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, dir, "summary.json"), err);
	cli_json j;

	if (!f)
		return cli_fail(o->cmd, LAT_EIO, err);
	cli_json_begin(&j, lat_afile_fp(f));
	cli_json_str(&j, "model", m->source);
	cli_json_str(&j, "method", lat_method_name(m->method));
	cli_json_int(&j, "neurons", (long)m->neurons);
	cli_json_int(&j, "inputs", (long)m->inputs);
	cli_json_num(&j, "snr_init", res->init.pool.snr);
	cli_json_num(&j, "snr_final", res->final.pool.snr);
	cli_json_num(&j, "inv_snr_init", res->init.pool.inv_snr);
	cli_json_num(&j, "inv_snr_final", res->final.pool.inv_snr);
	cli_json_num(&j, "inv_snr_ratio", res->final.pool.inv_snr / res->init.pool.inv_snr);
	cli_json_num(&j, "cos_mean_final", res->final.pool.cos_mean);
	cli_json_num(&j, "mean_ratio_final", res->final.pool.mean_ratio);
	cli_json_num(&j, "presentations_to_50pct_gain", res->p50);
	cli_json_num(&j, "presentations_to_90pct_gain", res->p90);
	cli_json_num(&j, "dist_wstar_final", res->dist_wstar);
	cli_json_str(&j, "wstar_covariance", res->wstar_population ? "population" : "fixed inputs");
	cli_json_num(&j, "max_steady_error", res->max_steady_error);
	cli_json_int(&j, "presentations", (long)res->presentations);
	cli_json_num(&j, "steps_per_presentation", res->mean_steps);
	cli_json_num(&j, "rhs_evals_per_presentation", res->mean_rhs);
	cli_json_num(&j, "jac_evals_per_presentation", res->mean_jac);
	cli_json_num(&j, "settle_time_per_presentation", res->mean_settle_time);
	cli_json_num(&j, "rtol", m->rtol);
	cli_json_num(&j, "rtol_used_min", res->min_rtol_used);
	cli_json_num(&j, "seconds", res->seconds);
	cli_json_num(&j, "microseconds_per_presentation",
		     res->presentations ? 1e6 * res->seconds / (double)res->presentations : NAN);
	for (size_t k = 0; k < n_extra; k++)
		cli_json_num(&j, extra_keys[k], extra_vals[k]);
	cli_json_end(&j);
	if (lat_afile_commit(f, err))
		return cli_fail(o->cmd, LAT_EIO, err);
	return CLI_OK;
}

int run_plots(const cli_opts *o, const lat_model *m, const char *dir, int traced)
{
	char path[PATHLEN], out[PATHLEN], q[PATHLEN + 64], nbuf[64];
	const char *assign[2];
	int rc;

	snprintf(q, sizeof q, "data = %s",
		 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "metrics.tsv")));
	snprintf(nbuf, sizeof nbuf, "wstar = %d", lat_model_n_fixed(m) > 0 && m->gamma > 0);
	assign[0] = q;
	assign[1] = nbuf;
	rc = cli_plot(o, "plots/metrics.gp", cli_path(path, sizeof path, dir, "snr.png"), assign, 2);
	if (rc || !traced || m->trace_presentations == 0)
		return rc;
	snprintf(q, sizeof q, "data = %s",
		 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "trace.tsv")));
	snprintf(nbuf, sizeof nbuf, "neurons = %zu", m->neurons);
	assign[0] = q;
	assign[1] = nbuf;
	return cli_plot(o, "plots/trace.gp", cli_path(path, sizeof path, dir, "trace.png"), assign, 2);
}

int cmd_run(int argc, char **argv)
{
	static const char summary[] =
	    "Presents inputs to one pool, settles its rate circuit to the fixed point after each input and\n"
	    "applies the anti-Hebbian rule. Writes DIR/metrics.tsv (one row every run.record_every\n"
	    "presentations), DIR/trace.tsv (rates of the first run.trace_presentations presentations),\n"
	    "DIR/summary.json, and DIR/snr.png, DIR/trace.png when gnuplot is installed.";
	cli_opts o;
	lat_model m;
	lat_sim *sim = NULL;
	run_result res;
	int rc = cli_parse(argc, argv, "run", summary, "out/run", 0, NULL, NULL, NULL, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = cli_load_model(&o, NULL, NULL, 0, &m);
	if (rc)
		goto out;
	rc = run_prepare(&o, &m, o.outdir, &sim);
	if (rc)
		goto out;
	if (!o.quiet)
		printf("# lateral run: %s, N = %zu, d = %zu, alpha = %g, gamma = %g, eta = %g, %zu presentations, "
		       "solver %s\n",
		       m.source, m.neurons, m.inputs, m.alpha, m.gamma, m.eta, m.presentations,
		       lat_method_name(m.method));
	rc = run_study(&o, &m, sim, o.outdir, 1, &res);
	if (rc)
		goto out;
	rc = run_write_summary(&o, &m, o.outdir, &res, NULL, NULL, 0);
	if (!rc)
		rc = run_plots(&o, &m, o.outdir, 1);
	if (!o.quiet) {
		printf("# 1/SNR fell from %.4g to %.4g (factor %.4g); |wbar|/|wbar_init| = %.4f, cos = %.6f\n",
		       res.init.pool.inv_snr, res.final.pool.inv_snr, res.final.pool.inv_snr / res.init.pool.inv_snr,
		       res.final.pool.mean_ratio, res.final.pool.cos_mean);
		if (isfinite(res.dist_wstar))
			printf("# closed form: |W - W*| / |W*| = %.3g (W* for the %s covariance%s)\n", res.dist_wstar,
			       res.wstar_population ? "population" : "fixed inputs'",
			       res.wstar_population ? "; online updates settle within O(eta) of it" : "");
		printf("# %.3g s, %.1f us and %.1f solver steps per presentation; files in %s/\n", res.seconds,
		       res.presentations ? 1e6 * res.seconds / (double)res.presentations : 0.0, res.mean_steps,
		       o.outdir);
	}
out:
	lat_sim_free(sim);
	lat_model_clear(&m);
	return rc;
}

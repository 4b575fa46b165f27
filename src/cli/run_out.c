/* run_out.c: what a study plans, and its summary.json and figures. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "lateral/study.h"
#include "size.h"

/* Bytes of one row of metrics.tsv at most: the presentation (20 digits) and 8 numbers of at most 17
 * characters ("%.10g", e.g. -1.234567891e-100), each with its separator. */
#define METRICS_ROW_BYTES (21 + 8 * 18)
/* Bytes of one value in a row of trace.tsv at most, with its separator (see METRICS_ROW_BYTES). */
#define TRACE_VALUE_BYTES 18

/* Rows the metrics record needs: the initial one, every record_every-th presentation and the last. */
static int record_rows(const lat_model *m, size_t *rows)
{
	return lat_size_add(m->presentations / m->record_every, 2, rows);
}

int run_plan(const lat_model *m, int traced, size_t *bytes, const char **change, char *err)
{
	const char *src = m->source ? m->source : "<built-in default>";
	size_t sim, total, rows, part, cap, buffer, n_traced;
	double dt, most;
	char limit[32];
	int rc = lat_model_sim_plan(m, &sim, err);

	if (rc)
		return rc;
	lat_size_text(limit, sizeof limit, (double)SIZE_MAX);
	/* the SNR record (2 doubles) and the text of metrics.tsv, per recorded presentation */
	if (record_rows(m, &rows) || lat_size_mul(rows, 2 * sizeof(double) + METRICS_ROW_BYTES, &part) ||
	    lat_size_add(sim, part, &total))
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: run.presentations = %zu recorded every run.record_every = %zu need more than "
		    "the %s a process can address; raise run.record_every or lower run.presentations",
		    src, m->presentations, m->record_every, limit);
	*change = "reduce circuit.neurons, circuit.inputs or the fixed inputs";
	most = (double)sim;
	if (part > most) {
		*change = "raise run.record_every or lower run.presentations";
		most = (double)part;
	}
	n_traced = m->trace_presentations < m->presentations ? m->trace_presentations : m->presentations;
	if (traced && n_traced) {
		rc = lat_model_trace_plan(m, &dt, &cap, &buffer, err);
		if (rc)
			return rc;
		/* the buffer of one presentation and the text of trace.tsv for every traced one */
		if (lat_size_add(m->neurons, 3, &part) || lat_size_mul(part, TRACE_VALUE_BYTES, &part) ||
		    lat_size_add(part, 21, &part) || lat_size_mul(part, cap, &part) ||
		    lat_size_mul(part, n_traced, &part) || lat_size_add(part, buffer, &part) ||
		    lat_size_add(total, part, &total))
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: run.trace_presentations = %zu traces of up to %zu samples of %zu neurons "
			    "need more than the %s a process can address; raise run.trace_dt or lower "
			    "run.trace_presentations",
			    src, n_traced, cap, m->neurons, limit);
		if (part > most)
			*change = "raise run.trace_dt, lower run.trace_presentations or solver.t_max";
	}
	*bytes = total;
	return LAT_OK;
}

int run_prepare(const cli_opts *o, const lat_model *m, const char *dir, int traced, lat_sim **sim)
{
	char err[LAT_ERRLEN];
	const char *change;
	cli_opts at = *o;
	size_t planned;
	int rc = run_plan(m, traced, &planned, &change, err);

	if (rc)
		return cli_fail(o->cmd, rc, err);
	at.outdir = dir;
	rc = cli_memory_check(o, planned, change);
	if (rc)
		return rc;
	/* sweep prints the plan of its largest run once, before the first */
	if (!o->quiet && strcmp(o->cmd, "sweep")) {
		char text[32];
		fprintf(stderr, "lateral %s: planned memory %s\n", o->cmd,
			lat_size_text(text, sizeof text, (double)planned));
	}
	rc = cli_outdir(&at);
	if (rc)
		return rc;
	*sim = lat_model_sim_alloc(m, o->solver_log ? stderr : NULL, err);
	return *sim ? CLI_OK : cli_fail(o->cmd, LAT_EINVAL, err);
}

char *run_methods_text(char *buf, size_t size, const run_result *res)
{
	size_t used = 0, n_used = 0;
	int k;

	buf[0] = 0;
	for (k = 0; k <= LAT_METHOD_AUTO; k++)
		n_used += res->by_method[k] > 0;
	for (k = 0; k <= LAT_METHOD_AUTO && used < size; k++) {
		if (!(res->by_method[k] > 0))
			continue;
		if (n_used == 1)
			used +=
			    (size_t)snprintf(buf + used, size - used, "%s", lat_method_name((lat_method)k));
		else
			used += (size_t)snprintf(buf + used, size - used, "%s%s %.0f", used ? ", " : "",
						 lat_method_name((lat_method)k), res->by_method[k]);
	}
	return buf;
}

int run_write_summary(const cli_opts *o, const lat_model *m, const char *dir, const run_result *res,
		      const char *const *extra_keys, const double *extra_vals, size_t n_extra)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN], text[128];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, dir, "summary.json"), err);
	cli_json j;

	if (!f)
		return cli_fail(o->cmd, LAT_EIO, err);
	cli_json_begin(&j, lat_afile_fp(f));
	cli_json_str(&j, "model", m->source);
	{
		/* what was set on top of the model file; model.cfg in the same folder holds the result */
		char sets[2048] = "";
		size_t used = 0;
		for (size_t k = 0; k < o->n_sets && used < sizeof sets; k++)
			used += (size_t)snprintf(sets + used, sizeof sets - used, "%s%s", k ? " " : "", o->sets[k]);
		cli_json_str(&j, "overrides", sets);
		cli_json_str(&j, "resolved_model", "model.cfg");
	}
	cli_json_str(&j, "method", lat_method_name(m->method));
	cli_json_str(&j, "method_used", run_methods_text(text, sizeof text, res));
	cli_json_num(&j, "presentations_polished", res->polished);
	cli_json_num(&j, "integrator_switches", res->switches);
	cli_json_num(&j, "t_max", lat_model_t_max(m));
	cli_json_int(&j, "neurons", (long)m->neurons);
	cli_json_int(&j, "inputs", (long)m->inputs);
	cli_json_num(&j, "snr_pool_init", res->init.pool.snr);
	cli_json_num(&j, "snr_pool_final", res->final.pool.snr);
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

void run_caption(const lat_model *m, const char *prefix)
{
	char text[320];

	snprintf(text, sizeof text, "%s%s: N = %zu, d = %zu, alpha = %g, gamma = %g, eta = %g, tau = %g, tau_inh = %g, %s, %s",
		 prefix ? prefix : "", m->source ? m->source : "<built-in default>", m->neurons, m->inputs, m->alpha,
		 m->gamma, m->eta, m->tau, m->tau_inh, m->relu ? "relu" : "linear", lat_method_name(m->method));
	cli_plot_caption(text);
}

double run_predicted_ratio(const lat_model *m, lat_sim *sim)
{
	const double *ws = lat_sim_wstar(sim, NULL);
	double inv = NAN, mean;

	if (m->relu || !ws || lat_closedform_ratios(m->neurons, m->inputs, lat_sim_weights_init(sim), ws, &inv, &mean, NULL))
		return NAN;
	return inv;
}

int run_plots(const cli_opts *o, const lat_model *m, const char *dir, int traced, double pred)
{
	char path[CLI_PATHLEN], out[CLI_PATHLEN], q[CLI_PATHLEN + 64], nbuf[64], pbuf[64];
	const char *assign[3];
	int rc;

	run_caption(m, NULL);

	snprintf(q, sizeof q, "data = %s",
		 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "metrics.tsv")));
	snprintf(nbuf, sizeof nbuf, "wstar = %d", lat_model_n_fixed(m) > 0 && m->gamma > 0);
	snprintf(pbuf, sizeof pbuf, "pred = %.17g", isfinite(pred) ? pred : -1.0);
	assign[0] = q;
	assign[1] = nbuf;
	assign[2] = pbuf;
	rc = cli_plot(o, "plots/metrics.gp", cli_path(path, sizeof path, dir, "snr.png"), assign, 3);
	if (!rc) {
		/* the weights before and after, and against W* where validate wrote the pairs */
		char a0[CLI_PATHLEN + 64], a1[CLI_PATHLEN + 64], a2[CLI_PATHLEN + 64];
		const char *wa[3] = {a0, a1, a2};
		cli_path(path, sizeof path, dir, "w_vs_wstar.tsv");
		snprintf(a2, sizeof a2, "pairs = %s", cli_gp_quote(out, sizeof out, access(path, F_OK) == 0 ? path : ""));
		snprintf(a0, sizeof a0, "init = %s",
			 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "weights_init.tsv")));
		snprintf(a1, sizeof a1, "final = %s",
			 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "weights_final.tsv")));
		rc = cli_plot(o, "plots/weights.gp", cli_path(path, sizeof path, dir, "weights.png"), wa, 3);
	}
	if (rc || !traced || m->trace_presentations == 0)
		return rc;
	snprintf(q, sizeof q, "data = %s",
		 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "trace.tsv")));
	snprintf(nbuf, sizeof nbuf, "neurons = %zu", m->neurons);
	assign[0] = q;
	assign[1] = nbuf;
	return cli_plot(o, "plots/trace.gp", cli_path(path, sizeof path, dir, "trace.png"), assign, 2);
}

/* cmd_validate.c: `lateral validate`: learned weights against the closed-form W*, steady states against §2.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run.h"
#include "validate.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "size.h"

#define DEFAULT_TOL 1e-6
/* A settled state may sit at most this many steady_tol from the analytic one (rate units). */
#define STEADY_FACTOR 10.0

typedef struct {
	double tol;
	double max_updates;
} validate_args;

static int on_extra(const char *name, const char *arg, void *ctx)
{
	validate_args *a = ctx;
	char *end;
	double v = strtod(arg, &end);

	if (!strcmp(name, "max-updates")) {
		if (*end || !(v >= 1) || v > 1e12 || v != floor(v)) {
			fprintf(
			    stderr,
			    "lateral validate: --max-updates '%s': expected a whole number from 1 to 1e12\n",
			    arg);
			return CLI_USAGE;
		}
		a->max_updates = v;
		return 0;
	}
	if (*end || !(v > 0) || !isfinite(v)) {
		fprintf(stderr, "lateral validate: --tol '%s': expected a positive number\n", arg);
		return CLI_USAGE;
	}
	a->tol = v;
	return 0;
}

static double max_abs(size_t size, const double *a)
{
	double v = 0;
	for (size_t k = 0; k < size; k++)
		v = fmax(v, fabs(a[k]));
	return v;
}

static int write_matrices(const cli_opts *o, lat_sim *sim, size_t n, size_t d)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN], header[64];
	size_t m;
	const double *x = lat_sim_fixed_inputs(sim, &m);
	const struct {
		const char *file, *what;
		const double *data;
		size_t rows;
	} out[] = {{"inputs.tsv", "inputs x_m: one row per input", x, m},
		   {"closed_form.tsv", "closed-form W*: one row per neuron", lat_sim_wstar(sim, NULL), n}};

	double *pairs = malloc(n * d * 4 * sizeof *pairs);
	int rc = CLI_OK;

	for (size_t k = 0; k < sizeof out / sizeof out[0]; k++) {
		snprintf(header, sizeof header, "%s (%zu x %zu)", out[k].what, out[k].rows, d);
		if (lat_tsv_write(cli_path(path, sizeof path, o->outdir, out[k].file), header, out[k].data,
				  out[k].rows, d, err))
			return cli_fail(o->cmd, LAT_EIO, err);
	}
	/* every learned weight beside its closed-form value, for the plot of one against the other */
	if (!pairs)
		return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++) {
			double *row = pairs + (i * d + j) * 4;
			row[0] = (double)i;
			row[1] = (double)j;
			row[2] = lat_sim_wstar(sim, NULL)[i * d + j];
			row[3] = lat_sim_weights(sim)[i * d + j];
		}
	if (lat_tsv_write(cli_path(path, sizeof path, o->outdir, "w_vs_wstar.tsv"),
			  "neuron i, input j, closed-form W*_ij, learned W_ij", pairs, n * d, 4, err))
		rc = cli_fail(o->cmd, LAT_EIO, err);
	free(pairs);
	return rc;
}

/* What validation needs of the model: fixed inputs and gamma > 0; and its presentations become
 * max_updates passes over the fixed inputs (the study runs until it knows). */
static int prepare_model(const cli_opts *o, lat_model *m, double max_updates)
{
	char err[LAT_ERRLEN];

	if (lat_model_n_fixed(m) == 0) {
		return cli_fail(o->cmd, LAT_ECONFIG,
				"validation needs fixed inputs: set input.count > 0 or input.file "
				"(W* is defined by their covariance)");
	}
	if (!(m->gamma > 0)) {
		return cli_fail(o->cmd, LAT_ECONFIG,
				"plasticity.gamma = 0: W* is not unique; validation needs gamma > 0");
	}
	/* the study runs until it knows: the model's run.presentations plays no part */
	if (lat_size_from_double(max_updates, &m->presentations) ||
	    lat_size_mul(m->presentations, lat_model_n_fixed(m), &m->presentations)) {
		snprintf(err, sizeof err,
			 "--max-updates %g passes over input.count = %zu fixed inputs are more presentations "
			 "than a size_t counts; lower --max-updates",
			 max_updates, lat_model_n_fixed(m));
		return cli_fail(o->cmd, LAT_ECONFIG, err);
	}
	return CLI_OK;
}

/* The verdict's lines on stdout. */
static void report(const lat_model *m, const run_result *res, const stop_rule *rule,
		   const validate_args *args, double max_rel, double steady_bound)
{
	if (m->update == LAT_UPDATE_ONLINE)
		printf("# note: online updates with a constant eta only reach an O(eta) neighbourhood of W*; "
		       "use plasticity.update = \"batch\" for a tight check\n");
	{
		char used[128];
		printf("%s: %zu neurons, %zu inputs, %zu fixed inputs, %zu presentations, solver %s (%s), "
		       "%.3g s\n",
		       m->source, m->neurons, m->inputs, lat_model_n_fixed(m), res->presentations,
		       lat_method_name(m->method), run_methods_text(used, sizeof used, res), res->seconds);
	}
	if (rule->updates >= args->max_updates)
		printf("updates:       reached --max-updates = %.0f before the predicted remaining error "
		       "(%.3g) fell "
		       "below %.3g x tol\n",
		       args->max_updates, rule->bound, STOP_MARGIN);
	else
		printf("updates:       %zu, stopped when the predicted remaining error %.3g <= %.3g x tol "
		       "(%s contraction rate %.6f per update)\n",
		       rule->updates, rule->bound, STOP_MARGIN,
		       isnan(rule->rho_pred) ? "measured" : "predicted", rule->rho);
	printf("weights:       max |W - W*| / max |W*| = %.3g  (tolerance %.3g)  %s\n", max_rel, args->tol,
	       max_rel <= args->tol ? "PASS" : "FAIL");
	if (isnan(res->max_steady_error))
		printf("steady states: no closed form for this model (relu units inactive or continuous "
		       "timing)\n");
	else
		printf("steady states: max |y - y*| = %.3g over %zu presentations  (bound 10 x steady_tol = "
		       "%.3g)  %s\n",
		       res->max_steady_error, res->presentations, steady_bound,
		       res->max_steady_error <= steady_bound ? "PASS" : "FAIL");
}

int cmd_validate(int argc, char **argv)
{
	static const char summary[] =
	    "Presents M fixed inputs (input.count or input.file) until the weights have converged and "
	    "compares\n"
	    "them with the closed-form W* of the averaged rule (GSL Cholesky), and every settled state\n"
	    "with the analytic steady state. Exit status 0 only when max |W - W*| / max |W*| <= --tol and\n"
	    "every steady-state error <= 10 * solver.steady_tol. Writes inputs.tsv, weights_init.tsv,\n"
	    "weights_final.tsv, closed_form.tsv, metrics.tsv, summary.json (and snr.png) to DIR.\n"
	    "Convergence: after each update (one pass over the inputs) the remaining error is bounded by\n"
	    "rho / (1 - rho) |dW|, with rho the batch rule's contraction rate predicted from eta, gamma, "
	    "alpha\n"
	    "and the inputs' covariance (online updates: measured); validate stops once that bound is below\n"
	    "0.1 x --tol, or at --max-updates. run.presentations plays no part.\n"
	    "Without MODEL it uses the built-in models/validate.cfg (batch updates, steady_tol 1e-9).";
	static const cli_extra extra[] = {
	    {"tol", 1, "tolerance on max |W - W*| / max |W*| (default 1e-6)"},
	    {"max-updates", 1, "upper bound on weight updates (default 200000)"},
	    {NULL, 0, NULL}};
	validate_args args = {DEFAULT_TOL, DEFAULT_MAX_UPDATES};
	stop_rule rule = {0};
	run_control ctl = {0};
	cli_opts o;
	lat_model m;
	lat_sim *sim = NULL;
	run_result res;
	const double *wstar;
	double max_rel, steady_bound;
	int rc = cli_parse(argc, argv, "validate", summary, "out/validate", 0, extra, on_extra, &args, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = cli_load_model(&o, "models/validate.cfg", NULL, 0, &m);
	if (rc)
		goto out;
	rc = prepare_model(&o, &m, args.max_updates);
	if (rc)
		goto out;
	rc = run_prepare(&o, &m, o.outdir, 0, &sim);
	if (rc)
		goto out;
	rc = validate_rule_setup(&o, &m, sim, args.tol, &rule);
	if (rc)
		goto out;
	ctl.stop = validate_stop_now;
	ctl.stop_ctx = &rule;
	o.quiet = 1;
	rc = run_study_ctl(&o, &m, sim, o.outdir, 0, &ctl, &res);
	if (rc)
		goto out;
	wstar = lat_sim_wstar(sim, NULL);
	max_rel = lat_metrics_max_rel(m.neurons * m.inputs, lat_sim_weights(sim), wstar,
				      max_abs(m.neurons * m.inputs, wstar));
	steady_bound = STEADY_FACTOR * m.steady_tol;
	rc = write_matrices(&o, sim, m.neurons, m.inputs);
	if (!rc) {
		const char *keys[] = {
		    "max_rel_error", "tolerance",	 "max_steady_error_bound",    "pass",
		    "updates",	     "contraction_rate", "predicted_remaining_error", "max_updates_reached"};
		int pass = max_rel <= args.tol && !(res.max_steady_error > steady_bound);
		double vals[] = {max_rel,
				 args.tol,
				 steady_bound,
				 pass,
				 (double)rule.updates,
				 rule.rho,
				 rule.bound,
				 rule.updates >= args.max_updates};
		rc = run_write_summary(&o, &m, o.outdir, &res, keys, vals, 8);
	}
	if (!rc)
		rc = run_plots(&o, &m, o.outdir, 0, run_predicted_ratio(&m, sim));
	if (rc)
		goto out;
	report(&m, &res, &rule, &args, max_rel, steady_bound);
	if (max_rel <= args.tol && !(res.max_steady_error > steady_bound))
		printf("The learned weights agree with the closed-form W*.\n");
	else
		rc = CLI_FAIL;
out:
	free(rule.w_prev);
	lat_sim_free(sim);
	lat_model_clear(&m);
	return rc;
}

/* cmd_validate.c: `lateral validate`: learned weights against the closed-form W*, steady states against §2. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"

#define PATHLEN 4096
#define DEFAULT_TOL 1e-6
/* A settled state may sit at most this many steady_tol from the analytic one (rate units). */
#define STEADY_FACTOR 10.0

typedef struct {
	double tol;
} validate_args;

static int on_extra(const char *name, const char *arg, void *ctx)
{
	validate_args *a = ctx;
	char *end;
	(void)name;
	a->tol = strtod(arg, &end);
	if (*end || !(a->tol > 0) || !isfinite(a->tol)) {
		fprintf(stderr, "lateral validate: --tol '%s': expected a positive number\n", arg);
		return CLI_USAGE;
	}
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
	char path[PATHLEN], err[LAT_ERRLEN], header[64];
	size_t m;
	const double *x = lat_sim_fixed_inputs(sim, &m);
	const struct {
		const char *file, *what;
		const double *data;
		size_t rows;
	} out[] = {{"inputs.tsv", "inputs x_m: one row per input", x, m},
		   {"weights_init.tsv", "W^init: one row per neuron", lat_sim_weights_init(sim), n},
		   {"weights_final.tsv", "learned W: one row per neuron", lat_sim_weights(sim), n},
		   {"closed_form.tsv", "closed-form W*: one row per neuron", lat_sim_wstar(sim, NULL), n}};

	for (size_t k = 0; k < sizeof out / sizeof out[0]; k++) {
		snprintf(header, sizeof header, "%s (%zu x %zu)", out[k].what, out[k].rows, d);
		if (lat_tsv_write(cli_path(path, sizeof path, o->outdir, out[k].file), header, out[k].data,
				  out[k].rows, d, err))
			return cli_fail(o->cmd, LAT_EIO, err);
	}
	return CLI_OK;
}

int cmd_validate(int argc, char **argv)
{
	static const char summary[] =
	    "Presents M fixed inputs (input.count or input.file) until the run ends and compares the learned\n"
	    "weights with the closed-form W* of the averaged rule (GSL Cholesky), and every settled state\n"
	    "with the analytic steady state. Exit status 0 only when max |W - W*| / max |W*| <= --tol and\n"
	    "every steady-state error <= 10 * solver.steady_tol. Writes inputs.tsv, weights_init.tsv,\n"
	    "weights_final.tsv, closed_form.tsv, metrics.tsv, summary.json (and snr.png) to DIR.\n"
	    "Without MODEL it uses the built-in models/validate.cfg (batch updates, tight tolerances).";
	static const cli_extra extra[] = {{"tol", 1, "tolerance on max |W - W*| / max |W*| (default 1e-6)"},
					  {NULL, 0, NULL}};
	validate_args args = {DEFAULT_TOL};
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
	if (lat_model_n_fixed(&m) == 0) {
		rc = cli_fail(o.cmd, LAT_ECONFIG,
			      "validation needs fixed inputs: set input.count > 0 or input.file "
			      "(W* is defined by their covariance)");
		goto out;
	}
	if (!(m.gamma > 0)) {
		rc = cli_fail(o.cmd, LAT_ECONFIG, "plasticity.gamma = 0: W* is not unique; validation needs gamma > 0");
		goto out;
	}
	rc = run_prepare(&o, &m, o.outdir, &sim);
	if (rc)
		goto out;
	o.quiet = 1;
	rc = run_study(&o, &m, sim, o.outdir, 0, &res);
	if (rc)
		goto out;
	wstar = lat_sim_wstar(sim, NULL);
	max_rel = lat_metrics_max_rel(m.neurons * m.inputs, lat_sim_weights(sim), wstar,
				      max_abs(m.neurons * m.inputs, wstar));
	steady_bound = STEADY_FACTOR * m.steady_tol;
	rc = write_matrices(&o, sim, m.neurons, m.inputs);
	if (!rc) {
		const char *keys[] = {"max_rel_error", "tolerance", "max_steady_error_bound", "pass"};
		int pass = max_rel <= args.tol && !(res.max_steady_error > steady_bound);
		double vals[] = {max_rel, args.tol, steady_bound, pass};
		rc = run_write_summary(&o, &m, o.outdir, &res, keys, vals, 4);
	}
	if (!rc)
		rc = run_plots(&o, &m, o.outdir, 0);
	if (rc)
		goto out;
	if (m.update == LAT_UPDATE_ONLINE)
		printf("# note: online updates with a constant eta only reach an O(eta) neighbourhood of W*; "
		       "use plasticity.update = \"batch\" for a tight check\n");
	printf("%s: %zu neurons, %zu inputs, %zu fixed inputs, %zu presentations, solver %s, %.3g s\n", m.source,
	       m.neurons, m.inputs, lat_model_n_fixed(&m), m.presentations, lat_method_name(m.method), res.seconds);
	printf("weights:       max |W - W*| / max |W*| = %.3g  (tolerance %.3g)  %s\n", max_rel, args.tol,
	       max_rel <= args.tol ? "PASS" : "FAIL");
	if (isnan(res.max_steady_error))
		printf("steady states: no closed form for this model (relu units inactive or continuous timing)\n");
	else
		printf("steady states: max |y - y*| = %.3g over %zu presentations  (bound 10 x steady_tol = %.3g)  %s\n",
		       res.max_steady_error, res.presentations, steady_bound,
		       res.max_steady_error <= steady_bound ? "PASS" : "FAIL");
	if (max_rel <= args.tol && !(res.max_steady_error > steady_bound))
		printf("The learned weights agree with the closed-form W*.\n");
	else
		rc = CLI_FAIL;
out:
	lat_sim_free(sim);
	lat_model_clear(&m);
	return rc;
}

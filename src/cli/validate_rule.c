/* validate_rule.c: when `lateral validate` stops: the remaining error bounded by the contraction rate. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "validate.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "size.h"

int validate_stop_now(void *ctx, const lat_sim *sim, size_t p)
{
	stop_rule *r = ctx;
	const double *w = lat_sim_weights(sim);
	double change = 0, scale = 0;

	if (p % r->m)
		return 0;
	for (size_t k = 0; k < r->nd; k++) {
		change += (w[k] - r->w_prev[k]) * (w[k] - r->w_prev[k]);
		scale = fmax(scale, fabs(w[k]));
	}
	change = sqrt(change);
	memcpy(r->w_prev, w, r->nd * sizeof *w);
	if (r->updates++ > 0) {
		memmove(r->ratios + 1, r->ratios, (N_RATIOS - 1) * sizeof *r->ratios);
		r->ratios[0] = r->last_change > 0 ? change / r->last_change : 0;
	}
	r->last_change = change;
	if (isnan(r->rho_pred)) {
		if (r->updates <= N_RATIOS)
			return 0;
		r->rho = 0;
		for (int k = 0; k < N_RATIOS; k++)
			r->rho = fmax(r->rho, r->ratios[k]);
	} else {
		r->rho = r->rho_pred;
	}
	r->bound = r->rho < 1 ? r->rho / (1 - r->rho) * change / (scale > 0 ? scale : 1) : INFINITY;
	return r->bound <= STOP_MARGIN * r->tol;
}

/* The stopping rule for the study of sim: the batch rule's predicted contraction rate (refused when it
 * does not contract), or NaN for online updates, whose rate is measured. */
int validate_rule_setup(const cli_opts *o, const lat_model *m, lat_sim *sim, double tol, stop_rule *rule)
{
	double lambda_max = NAN;
	char err[LAT_ERRLEN];

	rule->nd = m->neurons * m->inputs;
	rule->m = lat_model_n_fixed(m);
	rule->tol = tol;
	rule->rho_pred = NAN;
	rule->w_prev = malloc(rule->nd * sizeof *rule->w_prev);
	if (!rule->w_prev) {
		return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
	}
	memcpy(rule->w_prev, lat_sim_weights(sim), rule->nd * sizeof *rule->w_prev);
	if (m->update == LAT_UPDATE_BATCH) {
		size_t n_fixed;
		const double *x = lat_sim_fixed_inputs(sim, &n_fixed);
		if (lat_closedform_batch_rate(m->inputs, n_fixed, x, m->alpha, m->gamma, m->eta,
					      &rule->rho_pred, &lambda_max, err)) {
			return cli_fail(o->cmd, LAT_ESOLVER, err);
		}
		if (!(rule->rho_pred < 1)) {
			snprintf(
			    err, sizeof err,
			    "batch updates do not converge: contraction rate %.4g >= 1 (eta (lambda_max + "
			    "gamma) = %.3g >= 2); lower plasticity.eta below %.3g",
			    rule->rho_pred, m->eta * (lambda_max + m->gamma), 2 / (lambda_max + m->gamma));
			return cli_fail(o->cmd, LAT_ECONFIG, err);
		}
	}
	return CLI_OK;
}

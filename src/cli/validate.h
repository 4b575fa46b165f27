/* validate.h: the stopping rule of `lateral validate`: it stops once the remaining error it predicts
 * from the contraction rate of the rule is below a fraction of the tolerance. */
#ifndef LATERAL_CLI_VALIDATE_H
#define LATERAL_CLI_VALIDATE_H

#include <stddef.h>

#include "cli.h"
#include "run.h"

/* validate stops once the remaining error it predicts is below this fraction of --tol */
#define STOP_MARGIN 0.1
#define DEFAULT_MAX_UPDATES 200000
/* online updates: the contraction per pass is measured, as the largest of the last ratios of changes */
#define N_RATIOS 3

/* When to stop: after every update (a pass over the M inputs), the change dW of the weights and the
 * contraction rate rho bound the remaining error, |W - W*|_F <= rho / (1 - rho) |dW|_F. */
typedef struct {
	size_t nd, m;
	double tol, rho_pred; /* rho_pred: the batch rule's predicted rate; NaN for online updates */
	double *w_prev;
	double ratios[N_RATIOS], last_change;
	size_t updates;
	double rho, bound; /* the rate used and the remaining-error bound at the last update */
} stop_rule;

/* run_control.stop: after every pass over the inputs, updates the bound from the change of the weights;
 * nonzero once it is at most STOP_MARGIN x tol. ctx is the stop_rule. */
int validate_stop_now(void *ctx, const lat_sim *sim, size_t p);

/* The stopping rule for the study of sim: the batch rule's predicted contraction rate (refused when it
 * does not contract), or NaN for online updates, whose rate is measured. */
int validate_rule_setup(const cli_opts *o, const lat_model *m, lat_sim *sim, double tol, stop_rule *rule);

#endif

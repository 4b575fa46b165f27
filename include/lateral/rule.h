/* rule.h: the local anti-Hebbian rule  delta w_i = -eta [ (r_i* - b) x + gamma (w_i - w_i^init) ], written once:
 * the simulator's updates (lat_rule), continuous timing (lat_rule_rate_row) and sharing phases
 * (lat_rule_step_row) all use it. */
#ifndef LATERAL_RULE_H
#define LATERAL_RULE_H

#include <stddef.h>

/* Thread safety: the row functions and lat_rule_eta_at are reentrant; a lat_rule belongs to one thread at a time. */

#ifdef __cplusplus
extern "C" {
#endif

/* Learning-rate schedule: constant, or eta / sqrt(1 + t / schedule_tau). */
typedef enum { LAT_SCHED_CONSTANT, LAT_SCHED_INVSQRT } lat_schedule;
/* "constant", "inverse_sqrt", NULL */
extern const char *const lat_schedule_names[];

typedef struct {
	double eta;          /* learning rate (> 0) */
	double gamma;        /* pull towards w^init (>= 0) */
	double momentum;     /* heavy-ball coefficient in [0, 1) */
	lat_schedule schedule;
	double schedule_tau; /* inverse_sqrt: eta_t = eta / sqrt(1 + t / schedule_tau), t = updates applied */
} lat_rule_opts;

typedef struct lat_rule lat_rule;

/* The learning rate after t steps of o's schedule (t = updates applied, or presentations for
 * continuous timing). */
double lat_rule_eta_at(const lat_rule_opts *o, double t);

/* One neuron's candidate step (d weights): next_j = w_j + (mu vel_j - eta (h_scale h_j + gamma (w_j - w0_j))),
 * with h = x and h_scale = r_i* - b for one presentation, or h = the accumulated sum of (r_i* - b) x
 * and h_scale = 1 / presentations. vel may be NULL when mu = 0; next may be w (in place). Borrows every
 * array. Returns nonzero when any candidate is not finite (next is then partly written). */
int lat_rule_step_row(size_t d, double *next, const double *w, const double *w0, const double *vel,
		      const double *h, double h_scale, double mu, double eta, double gamma);

/* The rule as a rate (continuous timing, one neuron): dw_j = -rate (h_scale h_j + gamma (w_j - w0_j)),
 * rate = eta / tau. Borrows every array; dw must not alias the inputs. */
void lat_rule_rate_row(size_t d, double *dw, const double *w, const double *w0, const double *h,
		       double h_scale, double rate, double gamma);

/* Creates the rule for n neurons with d inputs; copies w_init (n x d, row-major), which stays fixed for
 * the lifetime of the object. Returns a new object (free with lat_rule_free) or NULL with err. */
lat_rule *lat_rule_alloc(size_t n, size_t d, const lat_rule_opts *opts,
				     const double *w_init, char *err);

/* Frees p; NULL is a no-op. */
void lat_rule_free(lat_rule *p);

/* Adds one presentation's Hebbian term: borrows x (d) and act (n values r_i* - b). O(n d). */
void lat_rule_accumulate(lat_rule *p, const double *x, const double *act);

/* Applies one update to w (n x d) from the presentations accumulated since the last update (their
 * average), then clears the accumulator. LAT_EINVAL if nothing was accumulated, LAT_EDIVERGE if a
 * weight became non-finite (w is then left unchanged). */
int lat_rule_apply(lat_rule *p, double *w, char *err);

/* One online update from a single presentation (x, act = r_i* - b), equivalent to accumulate + apply
 * but in one pass without the accumulator. wmax (in and out, may be NULL) caches an upper bound of
 * max_ij |w_ij| for the caller: on entry the value left by the previous call, or NaN when w has been
 * changed since (or is new); on return a bound after this update (from the previous one, the step's
 * sizes and the rounding, without a pass over w), or NaN. An update that it proves finite skips the
 * check (same weights, bit for bit). LAT_EINVAL if presentations are pending in the accumulator,
 * LAT_EDIVERGE as for lat_rule_apply (w unchanged). */
int lat_rule_update(lat_rule *p, const double *x, const double *act, double *w, double *wmax, char *err);

/* The learning rate the next update will use. */
double lat_rule_eta(const lat_rule *p);

/* Updates applied so far. */
size_t lat_rule_updates(const lat_rule *p);

/* The fixed initial weights (n x d), borrowed from p. */
const double *lat_rule_w_init(const lat_rule *p);

/* The rule's mutable state, for saving and restoring a simulation (all borrowed from p): the momentum
 * buffer and the accumulator (n x d each), the presentations accumulated and the updates applied.
 * Writing through the pointers restores a saved state. */
void lat_rule_state(lat_rule *p, double **vel, double **acc, size_t **n_acc, size_t **n_updates);

#ifdef __cplusplus
}
#endif

#endif

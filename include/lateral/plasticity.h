/* plasticity.h: the local anti-Hebbian rule  delta w_i = -eta [ (r_i* - b) x + gamma (w_i - w_i^init) ]. */
#ifndef LATERAL_PLASTICITY_H
#define LATERAL_PLASTICITY_H

#include <stddef.h>

#include "lateral/model.h"

typedef struct {
	double eta;          /* learning rate (> 0) */
	double gamma;        /* pull towards w^init (>= 0) */
	double momentum;     /* heavy-ball coefficient in [0, 1) */
	lat_schedule schedule;
	double schedule_tau; /* inverse_sqrt: eta_t = eta / sqrt(1 + t / schedule_tau), t = updates applied */
} lat_plasticity_opts;

typedef struct lat_plasticity lat_plasticity;

/* Creates the rule for n neurons with d inputs; copies w_init (n x d, row-major), which stays fixed for
 * the lifetime of the object. Returns a new object (free with lat_plasticity_free) or NULL with err. */
lat_plasticity *lat_plasticity_alloc(size_t n, size_t d, const lat_plasticity_opts *opts,
				     const double *w_init, char *err);

/* Frees p; NULL is a no-op. */
void lat_plasticity_free(lat_plasticity *p);

/* Adds one presentation's Hebbian term: borrows x (d) and act (n values r_i* - b). O(n d). */
void lat_plasticity_accumulate(lat_plasticity *p, const double *x, const double *act);

/* Applies one update to w (n x d) from the presentations accumulated since the last update (their
 * average), then clears the accumulator. LAT_EINVAL if nothing was accumulated, LAT_EDIVERGE if a
 * weight became non-finite (w is then left unchanged). */
int lat_plasticity_apply(lat_plasticity *p, double *w, char *err);

/* One online update from a single presentation (x, act = r_i* - b), equivalent to accumulate + apply
 * but in one pass without the accumulator. LAT_EINVAL if presentations are pending in the accumulator,
 * LAT_EDIVERGE as for lat_plasticity_apply (w unchanged). */
int lat_plasticity_update(lat_plasticity *p, const double *x, const double *act, double *w, char *err);

/* The learning rate the next update will use. */
double lat_plasticity_eta(const lat_plasticity *p);

/* Updates applied so far. */
size_t lat_plasticity_updates(const lat_plasticity *p);

/* The fixed initial weights (n x d), borrowed from p. */
const double *lat_plasticity_w_init(const lat_plasticity *p);

/* The rule's mutable state, for saving and restoring a simulation (all borrowed from p): the momentum
 * buffer and the accumulator (n x d each), the presentations accumulated and the updates applied.
 * Writing through the pointers restores a saved state. */
void lat_plasticity_state(lat_plasticity *p, double **vel, double **acc, size_t **n_acc, size_t **n_updates);

#endif

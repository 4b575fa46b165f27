/* sim.h: the convergence study: present inputs, settle the circuit, apply the rule, measure the pool. */
#ifndef LATERAL_SIM_H
#define LATERAL_SIM_H

#include <stddef.h>
#include <stdio.h>

#include "lateral/metrics.h"
#include "lateral/circuit.h"
#include "lateral/ode.h"
#include "lateral/rule.h"

/* Thread safety: a simulation belongs to one thread at a time. */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lat_sim lat_sim;

/* What one presentation cost and how well it settled. */
typedef struct {
	double settle_time;  /* simulated time to steady state (duration for continuous timing) */
	double residual;     /* steady-state residual at the end */
	double steady_error; /* max |y - y*| against the analytic steady state; NaN when there is none */
	long steps, rhs_evals, jac_evals;
	double rtol_used;    /* integrator rtol actually used (see lat_ode_stats) */
	lat_method method_used; /* the method that finished the settle (see lat_ode_stats) */
	int polished, switches; /* see lat_ode_stats */
	int cause;           /* see lat_ode_stats; also set when lat_sim_present fails to settle */
	int updated;         /* 1 when the weights changed at this presentation */
} lat_sim_step;

/* The pool after the presentations so far. */
typedef struct {
	size_t presentation; /* presentations done */
	lat_pool_stats pool;
	double dist_wstar; /* |W - W*| / |W*| (relative Frobenius) for fixed inputs; NaN with fresh draws */
} lat_sim_status;

/* Dense rate trajectory of one presentation: rows (t, r_1..r_N, r_inh, b) every dt. */
typedef struct {
	double dt;     /* sampling interval (> 0) */
	size_t cols;   /* N + 2 */
	size_t cap, n; /* rows allocated, rows filled */
	double *data;  /* cap x (1 + cols), row-major */
} lat_trace;

/* What a simulation is made of (the configuration floor fills it from a model file). Arrays are borrowed
 * for the duration of lat_sim_alloc only. */
typedef struct {
	const char *source;  /* name of the model in messages (borrowed) */
	lat_circuit circuit; /* N = circuit.n neurons, time constants, alpha, bias and its dynamics */
	size_t d;	     /* inputs per neuron */
	/* W^init: w_init (N x d), or init_mean + init_std N(0, 1) drawn from weights_seed */
	const double *w_init;
	double init_mean, init_std;
	unsigned long weights_seed;
	/* inputs x = input_mean + L g, g ~ N(0, I), L from input_std (isotropic), input_cov_diag (d) or
	 * input_cov (d x d, full, factored by Cholesky), drawn from input_seed; m fixed inputs cycled
	 * (x_fixed, m x d, or drawn once), or a fresh draw every presentation when m = 0 */
	double input_mean, input_std;
	const double *input_cov_diag, *input_cov;
	unsigned long input_seed;
	size_t m;
	const double *x_fixed;
	lat_rule_opts rule;
	int batch;	  /* 1: one update per pass over the m fixed inputs (averaged), 0: per presentation */
	int continuous;	  /* 1: rates and weights integrated together for duration per presentation */
	double duration;
	lat_ode_opts ode; /* t_max > 0 (resolved); solver_log is ignored: lat_sim_alloc's argument counts */
} lat_sim_opts;

/* Which size of a simulation's plan is beyond what a process can address (lat_sim_plan). */
typedef enum { LAT_SIM_PLAN_OK, LAT_SIM_PLAN_POOL, LAT_SIM_PLAN_FIXED } lat_sim_plan_fail;

/* An upper estimate (*bytes) of what lat_sim_alloc and the presentations of o allocate (weights, W*, the
 * rule's state, fixed inputs, the ODE engine's vectors), for planning before allocating. Returns
 * LAT_SIM_PLAN_OK, or which term passes SIZE_MAX bytes (the pool's N x d and d x d arrays, or the m x d
 * fixed inputs). */
lat_sim_plan_fail lat_sim_plan(const lat_sim_opts *o, size_t *bytes);

/* Creates a simulation: draws W^init and the fixed inputs, computes W* when gamma > 0 (for the fixed
 * inputs' C, or the generator's population C), and builds the ODE engine. solver_log (may be NULL)
 * receives solver diagnostics. Returns a new object (free with lat_sim_free) or NULL with err set
 * (LAT_ECONFIG for an impossible option, e.g. a covariance that is not positive definite or momentum
 * with continuous timing; LAT_ENOMEM). */
lat_sim *lat_sim_alloc(const lat_sim_opts *o, FILE *solver_log, char *err);

/* Frees s; NULL is a no-op. */
void lat_sim_free(lat_sim *s);

/* Presents the next input: settles the rates from the current state (or, with continuous timing,
 * integrates rates and weights together for the model's duration) and applies the rule. step may be
 * NULL. When trace is non-NULL the trajectory is sampled into it (trace->n is reset; LAT_ENOMEM if
 * cap is too small). Errors name the presentation (LAT_ENOTSTEADY, LAT_ESOLVER from the ODE engine,
 * LAT_EDIVERGE when a weight would become non-finite). On error the simulation is left as it was
 * before the call (weights, circuit state, the rule's state), and the input of the failed presentation
 * is kept for the next call, so lat_sim_save then saves the last good state. */
int lat_sim_present(lat_sim *s, lat_sim_step *step, lat_trace *trace, char *err);

/* Writes everything that changes during a study to fp as a container of kind LAT_CKPT_SIM (ckpt.h):
 * presentations done, weights, circuit state, the pending input, the rule's momentum, accumulator and
 * counters, the input generator (mt19937 words and index). The rest is rebuilt from the model by
 * lat_sim_alloc. LAT_EIO on a write error. */
int lat_sim_save(lat_sim *s, FILE *fp, char *err);

/* Reads a state written by lat_sim_save (the rest of fp) into s, a simulation of a model with the same
 * sizes (N, d, fixed inputs, timing and update kind); then presenting continues exactly as the saved
 * simulation would have. Every field is checked first: the container (ckpt.h), every value finite, the
 * rule's counters consistent with the presentations done, the generator's words and index valid.
 * LAT_ECONFIG naming path for a state of another shape and for a foreign, older, truncated or corrupt
 * state (s is unchanged then), LAT_ENOMEM. */
int lat_sim_load(lat_sim *s, FILE *fp, const char *path, char *err);

/* Pool metrics of the current weights. */
void lat_sim_measure(const lat_sim *s, lat_sim_status *mt);

/* Borrowed views, valid until lat_sim_free. Weights are N x d row-major. */
size_t lat_sim_neurons(const lat_sim *s);
size_t lat_sim_inputs(const lat_sim *s);
const double *lat_sim_weights(const lat_sim *s);
const double *lat_sim_weights_init(const lat_sim *s);
/* W* of docs/science.md section 4 (NULL when gamma = 0): for the fixed inputs' C, or with fresh draws for the
 * generator's population C (then *population = 1; population may be NULL). */
const double *lat_sim_wstar(const lat_sim *s, int *population);
const double *lat_sim_fixed_inputs(const lat_sim *s, size_t *m); /* NULL (m = 0) for fresh draws */
const double *lat_sim_rates(const lat_sim *s);                  /* r_1..r_N, r_inh, b after the last presentation */
const double *lat_sim_drive(const lat_sim *s);                  /* z = W x (N) the last presentation settled under */

/* A trace buffer for cap rows of (1 + cols) values. Returns NULL on allocation failure or when that size
 * overflows. */
lat_trace *lat_trace_alloc(size_t cols, size_t cap, double dt);
void lat_trace_free(lat_trace *t);

#ifdef __cplusplus
}
#endif

#endif

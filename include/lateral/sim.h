/* sim.h: the convergence study: present inputs, settle the circuit, apply the rule, measure the pool. */
#ifndef LATERAL_SIM_H
#define LATERAL_SIM_H

#include <stddef.h>
#include <stdio.h>

#include "lateral/metrics.h"
#include "lateral/model.h"

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

/* Creates a simulation for a finalized model (borrowed only during the call): draws W^init and the
 * fixed inputs, computes W* when there are fixed inputs and gamma > 0, and builds the ODE engine.
 * solver_log (may be NULL) receives solver diagnostics. Returns a new object (free with
 * lat_sim_free) or NULL with err set. */
lat_sim *lat_sim_alloc(const lat_model *m, FILE *solver_log, char *err);

/* An upper estimate (*bytes) of what lat_sim_alloc and the presentations of m allocate (weights, W*, the
 * rule's state, fixed inputs, the ODE engine's vectors), for planning before allocating. LAT_ECONFIG
 * naming the keys when that is beyond what a process can address (SIZE_MAX bytes). */
int lat_sim_plan(const lat_model *m, size_t *bytes, char *err);

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

/* The trace buffer that holds any one presentation of m: the sampling interval *dt (run.trace_dt, or
 * min(tau, tau_inh) / 10 when it is 0), its rows *cap (the samples up to solver.t_max, or
 * plasticity.duration with continuous timing, and the end points) and its *bytes (rows of N + 3 values).
 * LAT_ECONFIG naming the keys when the interval is 0 (time constants too small) or the buffer is beyond
 * what a process can address. */
int lat_trace_plan(const lat_model *m, double *dt, size_t *cap, size_t *bytes, char *err);

/* A trace buffer for cap rows of (1 + cols) values. Returns NULL on allocation failure or when that size
 * overflows. */
lat_trace *lat_trace_alloc(size_t cols, size_t cap, double dt);
void lat_trace_free(lat_trace *t);

#ifdef __cplusplus
}
#endif

#endif

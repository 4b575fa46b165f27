/* ode.h: steady-state ODE engine: SUNDIALS CVODE (BDF, Adams), GSL odeiv2 rk8pd and closed form. */
#ifndef LATERAL_ODE_H
#define LATERAL_ODE_H

#include <stddef.h>
#include <stdio.h>

/* An autonomous ODE system dy/dt = f(y) described by pure callbacks on raw arrays. Callbacks return
 * 0 on success, > 0 for a recoverable failure (the step is retried smaller) and < 0 for a fatal one. */
typedef struct lat_ode_system {
	size_t dim;   /* state size */
	double residual_gain; /* bound on how much a state error is amplified in the residual (0 means 1);
			       * CVODE's tolerances are tightened by it */
	const void *params; /* borrowed; passed to every callback */
	int (*rhs)(const void *params, const double *y, double *dydt);               /* required */
	double (*residual)(const void *params, const double *y, const double *dydt); /* required: steady-state measure */
	int (*newton_solve)(const void *params, const double *y, double gamma, double *x); /* optional: (I - gamma J) x = x in place */
	int (*jacobian)(const void *params, const double *y, double *jac);           /* optional: dense, row-major */
	int (*exact)(const void *params, const double *y0, double t, double *y);     /* optional: closed-form flow */
	/* optional, with exact: a time after which the residual from y0 is guaranteed below tol; nonzero
	 * return means no bound is available (the engine then searches along the exact flow) */
	int (*settle_bound)(const void *params, const double *y0, double tol, double *t);
} lat_ode_system;

typedef enum { LAT_METHOD_BDF, LAT_METHOD_ADAMS, LAT_METHOD_RK8PD, LAT_METHOD_EXACT } lat_method;

/* "bdf", "adams", "rk8pd", "exact". */
const char *lat_method_name(lat_method m);
/* The advice for a settle that ran out of time or steps with this residual: a residual within a small
 * factor of steady_tol has stalled at the integrator's own error. Static string. */
const char *lat_ode_stall_hint(double residual, double steady_tol);

/* Parses a method name; LAT_EINVAL for anything else. */
int lat_method_parse(const char *name, lat_method *m);

typedef struct {
	lat_method method;
	double rtol, atol; /* integrator tolerances (relative, absolute); upper bounds for CVODE, see rtol_used */
	double steady_tol; /* steady state when sys->residual(y, f(y)) < steady_tol */
	double t_max;      /* simulated time allowed per settle */
	long max_steps;    /* internal steps allowed per settle */
	FILE *solver_log;  /* where solver diagnostics go; NULL keeps them quiet */
} lat_ode_opts;

/* Counters of the last settle or advance sequence. */
typedef struct {
	double settle_time; /* simulated time until the residual fell below steady_tol */
	double residual;    /* residual at the returned state */
	long steps;         /* internal integrator steps */
	long rhs_evals;     /* right-hand-side evaluations */
	long jac_evals;     /* Newton-matrix setups (BDF) */
	double rtol_used;   /* relative tolerance used: CVODE tightens opts.rtol to at most
			     * steady_tol / (2 gain max|y0|) so its own error cannot stall the residual test */
} lat_ode_stats;

typedef struct lat_ode lat_ode;

/* Creates an engine for sys with a copy of opts. Borrows sys (it must outlive the engine; its params
 * may change between calls). Returns a new engine (free with lat_ode_free) or NULL with err set, e.g.
 * when the method needs a callback sys lacks (exact). */
lat_ode *lat_ode_alloc(const lat_ode_system *sys, const lat_ode_opts *opts, char *err);

/* Frees the engine and everything it owns; NULL is a no-op. */
void lat_ode_free(lat_ode *o);

/* Integrates from y (dim values, overwritten with the result) until the residual falls below
 * opts.steady_tol. LAT_ENOTSTEADY (with the residual in err) when t_max or max_steps is reached
 * first, LAT_ESOLVER on solver failure, LAT_EDIVERGE on non-finite state. st may be NULL. */
int lat_ode_settle(lat_ode *o, double *y, lat_ode_stats *st, char *err);

/* Dense output: restart at t = 0 from y0, then advance to increasing times t_out, writing y(t_out).
 * Stats accumulate from the restart. */
int lat_ode_restart(lat_ode *o, const double *y0, char *err);
int lat_ode_advance(lat_ode *o, double t_out, double *y, lat_ode_stats *st, char *err);

#endif

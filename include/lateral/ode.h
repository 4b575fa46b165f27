/* ode.h: steady-state ODE engine: SUNDIALS CVODE (BDF, Adams), GSL odeiv2 rk8pd and closed form. */
#ifndef LATERAL_ODE_H
#define LATERAL_ODE_H

#include <stddef.h>
#include <stdio.h>

/* Thread safety: an engine belongs to one thread at a time; distinct engines are independent (each has its own
 * SUNDIALS context). */

#ifdef __cplusplus
extern "C" {
#endif

/* An autonomous ODE system dy/dt = f(y) described by pure callbacks on raw arrays. Callbacks return
 * 0 on success, > 0 for a recoverable failure (the step is retried smaller) and < 0 for a fatal one. */
/* Verdicts on a candidate fixed point: accepted; unstable linearisation; a piecewise-linear system
 * (relu units) whose Newton point lies in another regime than the trajectory. */
enum { LAT_FIXED_OK = 0, LAT_FIXED_UNSTABLE = 1, LAT_FIXED_FLIP = 2 };

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
	/* optional (method auto): gain[k] bounds how much an error in y_k moves the residual, so that
	 * errors below eps / gain[k] keep the residual within a few eps. Must not change over the life of
	 * an engine. Without it every gain is residual_gain. */
	void (*error_gains)(const void *params, double *gain);
	/* optional (method auto, lat_ode_polish): one Newton step J(y) dy = -f with f = rhs(y) */
	int (*steady_solve)(const void *params, const double *y, const double *f, double *dy);
	/* optional, with steady_solve: LAT_FIXED_OK when y_fix, reached by Newton from y_from, is a stable
	 * fixed point in the regime of y_from; else another LAT_FIXED_ code and a message in why (LAT_ERRLEN) */
	int (*fixed_check)(const void *params, const double *y_from, const double *y_fix, char *why);
} lat_ode_system;

/* AUTO chooses per system and per settle: EXACT when the system has a closed-form flow, otherwise
 * RK8PD with tolerances derived from steady_tol and the error gains, racing BDF when its step count
 * explodes, and a verified Newton polish of the steady state. */
typedef enum { LAT_METHOD_BDF, LAT_METHOD_ADAMS, LAT_METHOD_RK8PD, LAT_METHOD_EXACT, LAT_METHOD_AUTO } lat_method;

/* "bdf", "adams", "rk8pd", "exact", "auto". */
/* The methods' names in enum order, NULL-terminated ("bdf", "adams", "rk8pd", "exact", "auto"). */
extern const char *const lat_method_names[];

/* The SUNDIALS version the library was built with ("6.4.1"): a static string. */
const char *lat_ode_sundials_version(void);

const char *lat_method_name(lat_method m);
/* Parses a method name; LAT_EINVAL for anything else. */
int lat_method_parse(const char *name, lat_method *m);

typedef struct {
	lat_method method;
	double rtol, atol; /* integrator tolerances (relative, absolute); upper bounds for CVODE, see rtol_used;
			    * auto derives its own from steady_tol and uses these only to advance */
	double steady_tol; /* steady state when sys->residual(y, f(y)) < steady_tol */
	double t_max;      /* simulated time allowed per settle */
	long max_steps;    /* internal steps allowed per settle (samples included), or per dense-output
			    * sequence from lat_ode_restart on */
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
			     * steady_tol / (2 gain max|y0|) so its own error cannot stall the residual test;
			     * 0 for exact and for auto, whose integrators use absolute tolerances */
	lat_method method_used; /* the method that finished the settle (auto: exact, rk8pd or bdf) */
	int switches;           /* auto: integrator switches (rk8pd <-> bdf) during the settle */
	int polished;           /* 1 when a verified Newton polish finished the settle */
	int cause;              /* on LAT_ENOTSTEADY, the measured cause: one of LAT_ODE_CAUSE_ */
} lat_ode_stats;

/* Why a settle failed, as measured: still decaying when t_max or max_steps ran out; stalled (the
 * residual stopped falling, the integrator's error floor); not converging (it did not fall over the
 * run); the fixed point reached is unstable. */
enum { LAT_ODE_CAUSE_NONE, LAT_ODE_CAUSE_TIME, LAT_ODE_CAUSE_STEPS, LAT_ODE_CAUSE_STALL,
       LAT_ODE_CAUSE_NOCONV, LAT_ODE_CAUSE_UNSTABLE };

/* Receives one sample of a settling trajectory: the state at time t (borrowed). Nonzero stops the
 * settle with that status. */
typedef int (*lat_ode_sample_fn)(void *ctx, double t, const double *y);

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

/* lat_ode_settle that also reports the trajectory: sample(ctx, t, y) at t = 0, dt, 2 dt, ... before the
 * settle time and once more at the settle time with the returned state. rk8pd limits its steps to the
 * sample times; CVODE interpolates; exact evaluates the flow. dt > 0. */
int lat_ode_settle_sampled(lat_ode *o, double *y, double dt, lat_ode_sample_fn sample, void *ctx,
			   lat_ode_stats *st, char *err);

/* Newton polish of a near-steady state y (needs sys->steady_solve): iterates J dy = -f to the fixed
 * point, then accepts it only if its residual is below steady_tol and sys->fixed_check passes. On
 * success y holds the fixed point and *residual (may be NULL) its residual; LAT_ENOTSTEADY with the
 * reason in err (y unchanged) otherwise, with *verdict (may be NULL) the fixed_check code or -1 when
 * Newton did not converge. */
int lat_ode_polish(lat_ode *o, double *y, double *residual, int *verdict, char *err);

/* Dense output: restart at t = 0 from y0, then advance to increasing times t_out, writing y(t_out).
 * Stats accumulate from the restart, and so does the step budget: LAT_ESOLVER once the advances since
 * the restart need more than opts.max_steps steps, however many calls they took (one flow evaluation is
 * one step for exact). */
int lat_ode_restart(lat_ode *o, const double *y0, char *err);
int lat_ode_advance(lat_ode *o, double t_out, double *y, lat_ode_stats *st, char *err);

#ifdef __cplusplus
}
#endif

#endif

/* ode_impl.h: what the settle front (ode.c) shares with its integrators (ode_rk8pd.c, ode_cvode.c) and
 * the closed-form flow (ode_exact.c). Internal: not installed. */
#ifndef LATERAL_ODE_IMPL_H
#define LATERAL_ODE_IMPL_H

#include <stddef.h>

#include "lateral/ode.h"

/* auto: integrator errors below steady_tol / AUTO_TOL_SAFETY per gain (each residual row sums at most
 * three of them, so the integrator's own error stays a third of steady_tol). */
#define AUTO_TOL_SAFETY 10.0

typedef struct ode_rk ode_rk; /* GSL rk8pd state, ode_rk8pd.c */
typedef struct ode_cv ode_cv; /* CVODE state, ode_cvode.c */

struct lat_ode {
	const lat_ode_system *sys; /* borrowed */
	lat_ode_opts opts;
	size_t dim;
	double *work;	     /* 4 dim doubles: f, ya, yb, y0 */
	double *f, *ya, *yb; /* rhs at a checked state; running state (rk8pd, exact); scratch state */
	double *y0;          /* start of an exact settle */
	int started;	     /* 1 between lat_ode_restart and the next settle */
	double t;	     /* current time of the advance sequence */
	long own_rhs;	     /* rhs evaluations made outside CVODE (and all of them for rk8pd / exact) */
	long own_steps;	     /* rk8pd / exact steps of the advance sequence */
	long own_jac;	     /* Newton solves through sys->newton_solve */
	double rtol_used;    /* relative tolerance of the current CVODE run (tightened from opts.rtol) */
	long cv_rhs;	     /* right-hand sides CVODE asked for since the engine was made (auto's cost) */
	double *gain;	     /* auto: dim residual gains of the state variables */
	ode_rk *rk;	     /* NULL unless rk8pd or auto */
	ode_cv *cv;	     /* NULL unless bdf, adams or auto */
};

/* One settle by integration: the integrator in use, where it is, and the trajectory's samples. */
typedef struct {
	lat_method kind; /* LAT_METHOD_RK8PD or a CVODE method (exact: LAT_METHOD_EXACT) */
	double t, res;	 /* time and residual of the current state (res screened only, for CVODE) */
	long steps;
	double *y;	 /* the current state: the caller's array (rk8pd) or CVODE's vector */
	double *y_out;	 /* the caller's array */
	double dt, next; /* sampling interval (0: none) and the next sample time */
	lat_ode_sample_fn sample;
	void *ctx;
} ode_run;

/* An integrator behind the front, as GSL's odeiv2 step types: every function returns LAT_OK or a LAT_E*
 * code with err. */
typedef struct {
	const char *name;
	/* creates o's state for method (auto: the variant auto races with) */
	int (*alloc)(lat_ode *o, lat_method method, char *err);
	void (*free)(lat_ode *o); /* NULL-safe on o's state */
	/* starts a settle run at r->t from r->y (the previous integrator's state, or r->y_out); sets r->y */
	int (*start)(lat_ode *o, ode_run *r, char *err);
	/* one step of the run: advances r->t, r->y, r->steps and r->res, and takes r's samples */
	int (*step)(lat_ode *o, ode_run *r, char *err);
	/* starts an advance sequence at t = 0 from y0, and continues it to t_out into y */
	int (*restart)(lat_ode *o, const double *y0, char *err);
	int (*advance)(lat_ode *o, double t_out, double *y, char *err);
	/* the counters of a run or sequence (NULL: the front counts steps and right-hand sides itself) */
	void (*stats)(lat_ode *o, lat_ode_stats *s);
} ode_integrator;

extern const ode_integrator lat_ode_rk8pd_integrator, lat_ode_cvode_integrator;

/* Settle by the closed-form flow (ode_exact.c): y overwritten, s filled; samples through r. */
int lat_ode_exact_settle(lat_ode *o, double *y, ode_run *r, lat_ode_stats *s, char *err);
/* y = flow(ya, t_out), continuing an advance sequence. */
int lat_ode_exact_advance(lat_ode *o, double t_out, double *y, char *err);

/* Helpers of the front (ode.c) that the backends use. */
int lat_ode_all_finite(const double *y, size_t n);
/* LAT_EDIVERGE: non-finite state at t */
int lat_ode_diverged(double t, char *err);
/* f = rhs(y) into o->f and its residual, counted as one of our own evaluations */
int lat_ode_eval_residual(lat_ode *o, const double *y, double *res, char *err);
/* LAT_ESOLVER for an advance sequence that used up max_steps since its restart on its way to t_out */
int lat_ode_too_many_steps(const lat_ode *o, double t_out, char *err);
/* LAT_ENOTSTEADY for a run out of time or steps, with the measured cause in s->cause */
int lat_ode_not_steady(lat_ode *o, ode_run *r, double res_mid, long steps_mid, lat_ode_stats *s, char *err);

#endif

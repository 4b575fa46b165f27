/* ode_exact.c: settles and advances by the system's closed-form flow (linear units, constant bias). */
#include <config.h>

#include <math.h>
#include <string.h>

#include "lateral/err.h"
#include "ode_impl.h"

/* Exact settle: grid from t_max * EXACT_H0_FRAC, doubling up to steps of t_max * EXACT_HMAX_FRAC, then
 * bisection of the first bracket to a relative width EXACT_T_RTOL. */
#define EXACT_H0_FRAC (1.0 / 1048576.0)
#define EXACT_HMAX_FRAC (1.0 / 512.0)
#define EXACT_T_RTOL 1e-6

/* ya = flow(y0, t) and its residual; one flow evaluation is one step. */
static int exact_point(lat_ode *o, const double *y0, double t, double *ya, double *res, long *steps,
		       char *err)
{
	int rc = o->sys->exact(o->sys->params, y0, t, ya);

	(*steps)++;
	if (rc)
		return lat_err_set(err, LAT_ESOLVER, "closed-form flow failed at t = %g (status %d)", t, rc);
	if (!lat_ode_all_finite(ya, o->dim))
		return lat_ode_diverged(t, err);
	return lat_ode_eval_residual(o, ya, res, err);
}

int lat_ode_exact_settle(lat_ode *o, double *y, ode_run *r, lat_ode_stats *s, char *err)
{
	double t_max = o->opts.t_max, tol = o->opts.steady_tol, hmax = EXACT_HMAX_FRAC * t_max;
	double t_lo = 0, t_hi = EXACT_H0_FRAC * t_max, res, *y0 = o->y0;
	double *hi = o->ya, *mid = o->yb;
	long steps = 0;
	int status, done = 0;

	s->method_used = LAT_METHOD_EXACT;
	memcpy(y0, y, o->dim * sizeof *y);
	/* One evaluation when the system bounds its settle time: the exact state at the bound. The settle
	 * time reported is then that bound (an upper bound of the first crossing). */
	if (o->sys->settle_bound && o->sys->settle_bound(o->sys->params, y0, tol, &res) == 0 && res <= t_max) {
		status = exact_point(o, y0, res, hi, &s->residual, &steps, err);
		t_hi = res;
		done = status || s->residual < tol;
	}
	/* coarse grid: invariant residual(t_lo) >= tol */
	while (!done) {
		status = exact_point(o, y0, t_hi, hi, &s->residual, &steps, err);
		if (status || s->residual < tol)
			break;
		if (t_hi >= t_max || steps >= o->opts.max_steps) {
			ode_run at = {.kind = LAT_METHOD_EXACT, .t = t_hi, .steps = steps, .y = hi};
			status = lat_ode_not_steady(o, &at, NAN, steps, s, err);
			break;
		}
		t_lo = t_hi;
		t_hi = fmin(t_max, t_hi + fmin(t_hi, hmax));
	}
	/* bisection: residual(t_hi) < tol <= residual(t_lo) */
	while (!done && !status && t_hi - t_lo > EXACT_T_RTOL * t_hi) {
		double t_mid = 0.5 * (t_lo + t_hi);
		status = exact_point(o, y0, t_mid, mid, &res, &steps, err);
		if (status)
			break;
		if (res < tol) {
			double *tmp = hi;
			hi = mid;
			mid = tmp;
			t_hi = t_mid;
			s->residual = res;
		} else {
			t_lo = t_mid;
		}
	}
	if (!status || status == LAT_ENOTSTEADY)
		memcpy(y, hi, o->dim * sizeof *y);
	s->settle_time = t_hi;
	s->steps = steps;
	/* the trajectory's samples, from the flow */
	for (; !status && r->dt > 0 && r->next < t_hi; r->next += r->dt) {
		status = exact_point(o, y0, r->next, o->ya, &res, &steps, err);
		if (!status)
			status = r->sample(r->ctx, r->next, o->ya);
	}
	return status;
}

int lat_ode_exact_advance(lat_ode *o, double t_out, double *y, char *err)
{
	int rc;

	if (o->own_steps >= o->opts.max_steps)
		return lat_ode_too_many_steps(o, t_out, err);
	rc = o->sys->exact(o->sys->params, o->ya, t_out, y);
	o->own_steps++;
	if (rc)
		return lat_err_set(err, LAT_ESOLVER, "closed-form flow failed at t = %g (status %d)", t_out, rc);
	o->t = t_out;
	return LAT_OK;
}

/* ode_rk8pd.c: the explicit integrator behind the settle front: GSL odeiv2's Prince-Dormand 8(9). */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "gslguard.h"
#include "lateral/err.h"
#include "ode_impl.h"

/* Initial step of rk8pd (Hairer, Norsett & Wanner II.4): a fraction of |y| / |f| in the error norm, or a
 * fraction of t_max when either norm is negligible. */
#define INIT_STEP_FRAC 0.01
#define INIT_STEP_NEGLIGIBLE 1e-5
#define INIT_STEP_TMAX_FRAC 1e-6

struct ode_rk {
	gsl_odeiv2_system gsys;
	gsl_odeiv2_step *step;
	gsl_odeiv2_control *ctrl, *ctrl_auto; /* opts' tolerances; auto's per-component ones */
	gsl_odeiv2_evolve *ev;
	double h; /* step size carried between steps and advance calls */
};

static int gsl_rhs(double t, const double y[], double dydt[], void *params)
{
	lat_ode *o = params;
	int status;

	(void)t;
	o->own_rhs++;
	status = o->sys->rhs(o->sys->params, y, dydt);
	if (status < 0)
		return GSL_EBADFUNC;
	return status > 0 ? GSL_FAILURE : GSL_SUCCESS; /* GSL_FAILURE: evolve retries with a halved step */
}

static void rk_free(lat_ode *o)
{
	if (!o->rk)
		return;
	gsl_odeiv2_evolve_free(o->rk->ev);
	gsl_odeiv2_control_free(o->rk->ctrl_auto);
	gsl_odeiv2_control_free(o->rk->ctrl);
	gsl_odeiv2_step_free(o->rk->step);
	free(o->rk);
	o->rk = NULL;
}

static int rk_alloc(lat_ode *o, lat_method method, char *err)
{
	ode_rk *rk = calloc(1, sizeof *rk);

	(void)method;
	o->rk = rk;
	if (!rk)
		return lat_err_set(err, LAT_ENOMEM, "out of memory creating the rk8pd stepper");
	rk->gsys.function = gsl_rhs;
	rk->gsys.jacobian = NULL;
	rk->gsys.dimension = o->dim;
	rk->gsys.params = o;
	lat_gsl_enter();
	rk->step = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rk8pd, o->dim);
	rk->ctrl = gsl_odeiv2_control_y_new(o->opts.atol, o->opts.rtol);
	rk->ev = gsl_odeiv2_evolve_alloc(o->dim);
	if (o->gain) {
		/* D_k = eps / gain_k (absolute only): the local error of y_k may move the residual by eps */
		for (size_t k = 0; k < o->dim; k++)
			o->yb[k] = 1.0 / o->gain[k];
		rk->ctrl_auto = gsl_odeiv2_control_scaled_new(o->opts.steady_tol / AUTO_TOL_SAFETY, 0.0, 1.0, 0.0,
							      o->yb, o->dim);
	}
	lat_gsl_leave();
	if (!rk->step || !rk->ctrl || !rk->ev || (o->gain && !rk->ctrl_auto))
		return lat_err_set(err, LAT_ENOMEM, "out of memory creating the rk8pd stepper");
	return LAT_OK;
}

/* First step from y with f = rhs(y) (Hairer-Norsett-Wanner's d0/d1 estimate), in the error scale of the
 * tolerances in use (auto's per-component ones when o->gain is set). */
static double initial_step(const lat_ode *o, const double *y, const double *f)
{
	double d0 = 0, d1 = 0, h;
	size_t i;

	for (i = 0; i < o->dim; i++) {
		double sc = o->gain ? o->opts.steady_tol / (AUTO_TOL_SAFETY * o->gain[i])
				    : o->opts.atol + o->opts.rtol * fabs(y[i]);
		d0 += (y[i] / sc) * (y[i] / sc);
		d1 += (f[i] / sc) * (f[i] / sc);
	}
	d0 = sqrt(d0 / (double)o->dim);
	d1 = sqrt(d1 / (double)o->dim);
	if (d0 < INIT_STEP_NEGLIGIBLE || d1 < INIT_STEP_NEGLIGIBLE)
		h = INIT_STEP_TMAX_FRAC * o->opts.t_max;
	else
		h = INIT_STEP_FRAC * d0 / d1;
	return fmin(h, o->opts.t_max);
}

static int gsl_fail(int gstat, double t, char *err)
{
	if (gstat == GSL_EBADFUNC)
		return lat_err_set(err, LAT_ESOLVER, "rk8pd: right-hand side failed at t = %g", t);
	return lat_err_set(err, LAT_ESOLVER, "rk8pd: step failed at t = %g: %s", t, gsl_strerror(gstat));
}

/* Resets the stepper at y and picks the first step from f = rhs(y). */
static int reset_at(lat_ode *o, const double *y, char *err)
{
	int status;

	gsl_odeiv2_step_reset(o->rk->step);
	gsl_odeiv2_evolve_reset(o->rk->ev);
	status = o->sys->rhs(o->sys->params, y, o->f);
	o->own_rhs++;
	if (status)
		return lat_err_set(err, LAT_ESOLVER, "right-hand side failed (status %d)", status);
	o->rk->h = initial_step(o, y, o->f);
	return LAT_OK;
}

/* rk8pd integrates in the caller's array: the state moves there from wherever the run held it. */
static int rk_start(lat_ode *o, ode_run *r, char *err)
{
	if (r->y != r->y_out)
		memcpy(r->y_out, r->y, o->dim * sizeof *r->y);
	r->y = r->y_out;
	return reset_at(o, r->y, err);
}

/* One step (ending at the next sample time at the latest), its residual and its sample. */
static int rk_step(lat_ode *o, ode_run *r, char *err)
{
	ode_rk *rk = o->rk;
	double t_stop = r->dt > 0 && r->next < o->opts.t_max ? r->next : o->opts.t_max;
	gsl_odeiv2_control *ctrl = o->opts.method == LAT_METHOD_AUTO ? rk->ctrl_auto : rk->ctrl;
	int gstat;

	lat_gsl_enter();
	gstat = gsl_odeiv2_evolve_apply(rk->ev, ctrl, rk->step, &rk->gsys, &r->t, t_stop, &rk->h, r->y);
	lat_gsl_leave();

	if (gstat != GSL_SUCCESS)
		return lat_ode_all_finite(r->y, o->dim) ? gsl_fail(gstat, r->t, err) : lat_ode_diverged(r->t, err);
	r->steps++;
	if (!lat_ode_all_finite(r->y, o->dim))
		return lat_ode_diverged(r->t, err);
	/* rk8pd evaluates f at the accepted point anyway (dydt_out): the check is free */
	if (rk->step->type->gives_exact_dydt_out) {
		r->res = o->sys->residual(o->sys->params, r->y, rk->ev->dydt_out);
	} else {
		int status = lat_ode_eval_residual(o, r->y, &r->res, err);
		if (status)
			return status;
	}
	if (r->dt > 0 && r->t >= r->next) {
		r->next += r->dt;
		return r->sample(r->ctx, r->t, r->y);
	}
	return LAT_OK;
}

/* The advance sequence runs in o->ya. */
static int rk_restart(lat_ode *o, const double *y0, char *err)
{
	return reset_at(o, y0, err);
}

static int rk_advance(lat_ode *o, double t_out, double *y, char *err)
{
	ode_rk *rk = o->rk;
	int status = LAT_OK;

	while (!status && o->t < t_out) {
		int gstat;
		if (o->own_steps >= o->opts.max_steps) {
			status = lat_ode_too_many_steps(o, t_out, err);
			break;
		}
		lat_gsl_enter();
		gstat = gsl_odeiv2_evolve_apply(rk->ev, rk->ctrl, rk->step, &rk->gsys, &o->t, t_out, &rk->h, o->ya);
		lat_gsl_leave();
		if (gstat != GSL_SUCCESS)
			status = gsl_fail(gstat, o->t, err);
		o->own_steps++;
	}
	memcpy(y, o->ya, o->dim * sizeof *y);
	return status;
}

const ode_integrator lat_ode_rk8pd_integrator = {.name = "rk8pd",
						 .alloc = rk_alloc,
						 .free = rk_free,
						 .start = rk_start,
						 .step = rk_step,
						 .restart = rk_restart,
						 .advance = rk_advance,
						 .stats = NULL};

/* ode.c: the settle front: settles dy/dt = f(y) to a verified steady state with the integrator the method
 * table names (ode_rk8pd.c, ode_cvode.c) or the closed-form flow (ode_exact.c), and auto's race and polish. */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/ode.h"
#include "ode_impl.h"

/* Within this factor of steady_tol the residual is taken to have stalled at the integrator's own error. */
#define STALL_FACTOR 100.0
/* A failed settle whose residual fell below this fraction of its half-way value was still decaying. */
#define DECAY_FRACTION 0.5
/* auto: after AUTO_PROBE_AFTER steps the other integrator (rk8pd <-> BDF) is tried for AUTO_PROBE_LEN
 * steps, and the one that advanced time faster per right-hand side continues; the next probe comes
 * when the step count has doubled. */
#define AUTO_PROBE_AFTER 2000
#define AUTO_PROBE_LEN 400
/* Newton polish: at most POLISH_MAX_IT steps; stop once the residual is below POLISH_RTOL steady_tol or
 * no longer halves. */
#define POLISH_MAX_IT 8
#define POLISH_RTOL 1e-6

const char *const lat_method_names[] = {[LAT_METHOD_BDF] = "bdf",     [LAT_METHOD_ADAMS] = "adams",
					[LAT_METHOD_RK8PD] = "rk8pd", [LAT_METHOD_EXACT] = "exact",
					[LAT_METHOD_AUTO] = "auto",   NULL};

/* The method table: the integrator that runs each method (exact: the closed-form flow; auto starts with
 * rk8pd and races CVODE BDF). */
static const struct {
	const ode_integrator *integrator;
} methods[] = {[LAT_METHOD_BDF] = {&lat_ode_cvode_integrator},
	       [LAT_METHOD_ADAMS] = {&lat_ode_cvode_integrator},
	       [LAT_METHOD_RK8PD] = {&lat_ode_rk8pd_integrator},
	       [LAT_METHOD_EXACT] = {NULL},
	       [LAT_METHOD_AUTO] = {&lat_ode_rk8pd_integrator}};

const char *lat_method_name(lat_method m)
{
	if ((unsigned)m >= sizeof methods / sizeof methods[0])
		return "unknown";
	return lat_method_names[m];
}

int lat_method_parse(const char *name, lat_method *m)
{
	size_t i;

	if (!name)
		return LAT_EINVAL;
	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(name, lat_method_names[i]) == 0) {
			*m = (lat_method)i;
			return LAT_OK;
		}
	}
	return LAT_EINVAL;
}


static int is_cvode(const lat_ode *o)
{
	return o->opts.method == LAT_METHOD_BDF || o->opts.method == LAT_METHOD_ADAMS;
}

/* auto on a system without a closed-form flow: rk8pd and BDF, both set up */
static int is_auto_ode(const lat_ode *o)
{
	return o->opts.method == LAT_METHOD_AUTO && !o->sys->exact;
}

/* the method a settle or advance starts with */
static lat_method first_method(const lat_ode *o)
{
	if (o->opts.method != LAT_METHOD_AUTO)
		return o->opts.method;
	return o->sys->exact ? LAT_METHOD_EXACT : LAT_METHOD_RK8PD;
}

int lat_ode_all_finite(const double *y, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return 0;
	return 1;
}

/* The integrator a settle or advance starts with; NULL for the closed-form flow. */
static const ode_integrator *first_integrator(const lat_ode *o)
{
	return methods[first_method(o)].integrator;
}


lat_ode *lat_ode_alloc(const lat_ode_system *sys, const lat_ode_opts *opts, char *err)
{
	lat_ode *o = NULL;
	int status = LAT_OK;

	if (!sys || !opts || sys->dim == 0 || !sys->rhs || !sys->residual) {
		status = lat_err_set(err, LAT_EINVAL, "ode: system needs dim > 0, rhs and residual");
		goto out;
	}
	if ((unsigned)opts->method > LAT_METHOD_AUTO) {
		status = lat_err_set(err, LAT_EINVAL, "ode: unknown method %d", (int)opts->method);
		goto out;
	}
	if (!(opts->rtol > 0 && opts->atol > 0 && opts->steady_tol > 0 && opts->t_max > 0) ||
	    !isfinite(opts->t_max) || opts->max_steps < 1) {
		status = lat_err_set(err, LAT_EINVAL,
				     "ode: rtol, atol, steady_tol, t_max must be > 0 and max_steps >= 1");
		goto out;
	}
	if (opts->method == LAT_METHOD_EXACT && !sys->exact) {
		status = lat_err_set(err, LAT_EINVAL,
				     "ode: method exact needs a closed-form flow, which this system lacks "
				     "(it exists only for linear units with a constant bias)");
		goto out;
	}
	o = calloc(1, sizeof *o);
	if (!o || sys->dim > SIZE_MAX / (4 * sizeof(double))) {
		status = lat_err_set(err, LAT_ENOMEM, "ode: out of memory");
		goto out;
	}
	o->sys = sys;
	o->opts = *opts;
	o->dim = sys->dim;
	o->work = malloc(4 * o->dim * sizeof *o->work);
	if (!o->work) {
		status = lat_err_set(err, LAT_ENOMEM, "ode: out of memory");
		goto out;
	}
	o->f = o->work;
	o->ya = o->work + o->dim;
	o->yb = o->work + 2 * o->dim;
	o->y0 = o->work + 3 * o->dim;
	if (is_auto_ode(o)) {
		o->gain = malloc(o->dim * sizeof *o->gain);
		if (!o->gain) {
			status = lat_err_set(err, LAT_ENOMEM, "ode: out of memory");
			goto out;
		}
		if (sys->error_gains)
			sys->error_gains(sys->params, o->gain);
		for (size_t k = 0; k < o->dim; k++)
			if (!sys->error_gains || !(o->gain[k] >= 1))
				o->gain[k] = sys->residual_gain > 1 ? sys->residual_gain : 1;
	}
	if (first_integrator(o))
		status = first_integrator(o)->alloc(o, opts->method, err);
	if (!status && is_auto_ode(o))
		status = lat_ode_cvode_integrator.alloc(o, LAT_METHOD_AUTO, err);
out:
	if (status) {
		lat_ode_free(o);
		o = NULL;
	}
	return o;
}

void lat_ode_free(lat_ode *o)
{
	if (!o)
		return;
	lat_ode_cvode_integrator.free(o);
	lat_ode_rk8pd_integrator.free(o);
	free(o->gain);
	free(o->work);
	free(o);
}


/* f = rhs(y) and its residual, counted as one of our own evaluations. */
int lat_ode_eval_residual(lat_ode *o, const double *y, double *res, char *err)
{
	int rc = o->sys->rhs(o->sys->params, y, o->f);

	o->own_rhs++;
	if (rc)
		return lat_err_set(err, LAT_ESOLVER, "right-hand side failed (status %d)", rc);
	*res = o->sys->residual(o->sys->params, y, o->f);
	return LAT_OK;
}

int lat_ode_diverged(double t, char *err)
{
	return lat_err_set(err, LAT_EDIVERGE, "non-finite state at t = %g", t);
}

/* Right-hand sides and Newton solves so far: the cost auto compares its integrators by. */
static double cost_of(const lat_ode *o)
{
	return (double)(o->own_rhs + o->cv_rhs + o->own_jac);
}

/* Starts the integrator kind at r->t from the state in r->y_out or r->y (a switch between integrators). */
static int run_start(lat_ode *o, ode_run *r, lat_method kind, char *err)
{
	int status = methods[kind].integrator->start(o, r, err);

	if (!status)
		r->kind = kind;
	return status;
}


/* LAT_ENOTSTEADY for a settle that ran out of time or steps, with the cause measured from the residual
 * at the end (evaluated here) and half-way (res_mid; NaN if the run never got there). */
int lat_ode_not_steady(lat_ode *o, ode_run *r, double res_mid, long steps_mid, lat_ode_stats *s, char *err)
{
	int by_time = r->t >= o->opts.t_max, status = lat_ode_eval_residual(o, r->y, &s->residual, err);
	char when[96];

	if (status)
		return status;
	if (by_time)
		snprintf(when, sizeof when, "by t = %g (%ld steps)", r->t, r->steps);
	else
		snprintf(when, sizeof when, "after %ld steps (t = %g)", r->steps, r->t);
	/* a budget too small to measure a trend in, or a residual still falling: the budget ran out */
	if (steps_mid >= r->steps) {
		s->cause = by_time ? LAT_ODE_CAUSE_TIME : LAT_ODE_CAUSE_STEPS;
		return lat_err_set(err, LAT_ENOTSTEADY,
				   "no steady state %s: the budget ran out before the residual's trend could be "
				   "measured (residual %.3g > steady_tol %g)",
				   when, s->residual, o->opts.steady_tol);
	}
	if (s->residual < DECAY_FRACTION * res_mid) {
		s->cause = by_time ? LAT_ODE_CAUSE_TIME : LAT_ODE_CAUSE_STEPS;
		return lat_err_set(err, LAT_ENOTSTEADY,
				   "no steady state %s: the residual was still falling (%.3g half-way, %.3g now > "
				   "steady_tol %g)",
				   when, res_mid, s->residual, o->opts.steady_tol);
	}
	if (s->residual < STALL_FACTOR * o->opts.steady_tol) {
		s->cause = LAT_ODE_CAUSE_STALL;
		return lat_err_set(err, LAT_ENOTSTEADY,
				   "no steady state %s: the residual stalled at %.3g > steady_tol %g, the %s "
				   "integrator's own error",
				   when, s->residual, o->opts.steady_tol, lat_method_name(r->kind));
	}
	s->cause = LAT_ODE_CAUSE_NOCONV;
	return lat_err_set(err, LAT_ENOTSTEADY,
			   "no steady state %s: the residual does not fall (%.3g half-way, %.3g now > steady_tol %g)",
			   when, res_mid, s->residual, o->opts.steady_tol);
}

int lat_ode_polish(lat_ode *o, double *y, double *residual, int *verdict, char *err)
{
	double *yp = o->yb, *dy = o->ya, res = NAN, prev = INFINITY;
	char why[LAT_ERRLEN];
	int status = LAT_OK, v = 0, it;

	if (!o->sys->steady_solve)
		return lat_err_set(err, LAT_EINVAL, "ode: this system has no steady-state Newton solve");
	memcpy(yp, y, o->dim * sizeof *y);
	for (it = 0;; it++) {
		status = lat_ode_eval_residual(o, yp, &res, err);
		if (status)
			return status;
		if (res <= POLISH_RTOL * o->opts.steady_tol || !(res < 0.5 * prev) || it == POLISH_MAX_IT)
			break;
		o->own_jac++;
		if (o->sys->steady_solve(o->sys->params, yp, o->f, dy)) {
			res = NAN;
			break;
		}
		for (size_t k = 0; k < o->dim; k++)
			yp[k] += dy[k];
		prev = res;
	}
	if (!(res < o->opts.steady_tol)) {
		v = -1;
		snprintf(why, sizeof why, "Newton did not converge (residual %.3g after %d steps)", res, it);
	} else if (o->sys->fixed_check) {
		v = o->sys->fixed_check(o->sys->params, y, yp, why);
	}
	if (verdict)
		*verdict = v;
	if (v)
		return lat_err_set(err, LAT_ENOTSTEADY, "Newton polish rejected: %s", why);
	memcpy(y, yp, o->dim * sizeof *y);
	if (residual)
		*residual = res;
	return LAT_OK;
}

/* auto: probes the other integrator after AUTO_PROBE_AFTER steps and keeps the one that advanced time
 * faster per unit of cost (see AUTO_PROBE_LEN). */
typedef struct {
	long next;          /* step count of the next decision */
	int probing;        /* 1 while the other integrator is on trial */
	double seg_t, seg_cost, rate_before;
} race;

static int race_step(lat_ode *o, ode_run *r, race *rc, lat_ode_stats *s, char *err)
{
	double cost = cost_of(o), rate = (r->t - rc->seg_t) / (cost - rc->seg_cost + 1);
	lat_method other = r->kind == LAT_METHOD_RK8PD ? LAT_METHOD_BDF : LAT_METHOD_RK8PD;
	int status = LAT_OK;

	if (!rc->probing) {
		rc->rate_before = rate;
		rc->probing = 1;
		rc->next = r->steps + AUTO_PROBE_LEN;
		status = run_start(o, r, other, err);
		s->switches++;
	} else {
		rc->probing = 0;
		rc->next = 2 * r->steps;
		if (rate < rc->rate_before) {
			status = run_start(o, r, other, err);
			s->switches++;
		}
	}
	rc->seg_t = r->t;
	rc->seg_cost = cost_of(o);
	return status;
}

/* Integrates from y (overwritten) until the residual falls below steady_tol: rk8pd or a CVODE method,
 * or auto's race of both followed by a verified Newton polish. */
static int settle_integrate(lat_ode *o, double *y, ode_run *r, lat_ode_stats *s, char *err)
{
	int autom = is_auto_ode(o);
	race rc = {AUTO_PROBE_AFTER, 0, 0, 0, 0};
	double res_mid = NAN, tol = o->opts.steady_tol;
	long steps_mid = LONG_MAX;
	int status;

	r->y = r->y_out = y;
	o->own_jac = 0;
	status = run_start(o, r, autom ? LAT_METHOD_RK8PD : o->opts.method, err);
	while (!status) {
		if (r->steps >= o->opts.max_steps || r->t >= o->opts.t_max) {
			if (r->y != y)
				memcpy(y, r->y, o->dim * sizeof *y);
			r->y = y;
			/* a stall close to the band is what the polish is for */
			if (autom && o->sys->steady_solve && r->res < STALL_FACTOR * tol &&
			    lat_ode_polish(o, y, &s->residual, NULL, NULL) == LAT_OK) {
				s->polished = 1;
				break;
			}
			status = lat_ode_not_steady(o, r, res_mid, steps_mid, s, err);
			break;
		}
		status = methods[r->kind].integrator->step(o, r, err);
		if (status || r->res < tol)
			break;
		if (isnan(res_mid) && (2 * r->steps >= o->opts.max_steps || 2 * r->t >= o->opts.t_max)) {
			res_mid = r->res;
			steps_mid = r->steps;
		}
		if (autom && r->steps >= rc.next)
			status = race_step(o, r, &rc, s, err);
	}
	if (r->y != y)
		memcpy(y, r->y, o->dim * sizeof *y);
	s->settle_time = r->t;
	s->method_used = r->kind;
	if (!s->polished)
		s->residual = r->res;
	if (!autom && methods[r->kind].integrator->stats)
		methods[r->kind].integrator->stats(o, s);
	else
		s->steps = r->steps;
	if (!status && autom && !s->polished && o->sys->steady_solve) {
		int verdict = 0;
		char why[LAT_ERRLEN];
		if (lat_ode_polish(o, y, &s->residual, &verdict, why) == LAT_OK) {
			s->polished = 1;
		} else if (verdict == LAT_FIXED_UNSTABLE) {
			/* the trajectory is passing an unstable fixed point: not a steady state */
			s->cause = LAT_ODE_CAUSE_UNSTABLE;
			status = lat_err_set(err, LAT_ENOTSTEADY, "no steady state at t = %g: %s", r->t, why);
		}
		/* otherwise (a relu unit at its threshold) the trajectory's own state stands: residual < tol */
	}
	return status;
}

static int settle(lat_ode *o, double *y, ode_run *r, lat_ode_stats *st, char *err)
{
	/* exact and auto's absolute tolerances have no rtol */
	lat_ode_stats s = {.rtol_used = o->opts.method == LAT_METHOD_EXACT || o->opts.method == LAT_METHOD_AUTO
					    ? 0
					    : o->opts.rtol,
			   .method_used = first_method(o)};
	int status;

	o->started = 0;
	o->own_rhs = 0;
	o->cv_rhs = 0;
	if (!lat_ode_all_finite(y, o->dim)) {
		status = lat_ode_diverged(0.0, err);
		goto out;
	}
	if (r->dt > 0) {
		status = r->sample(r->ctx, 0.0, y);
		r->next = r->dt;
		if (status)
			goto out;
	}
	status = lat_ode_eval_residual(o, y, &s.residual, err);
	s.rhs_evals = o->own_rhs;
	if (status || s.residual < o->opts.steady_tol)
		goto out;
	if (first_method(o) == LAT_METHOD_EXACT)
		status = lat_ode_exact_settle(o, y, r, &s, err);
	else
		status = settle_integrate(o, y, r, &s, err);
	if (!is_cvode(o) || o->opts.method == LAT_METHOD_AUTO) {
		s.rhs_evals = o->own_rhs + o->cv_rhs;
		s.jac_evals = o->own_jac;
	}
	if (!status && r->dt > 0 && s.settle_time > 0)
		status = r->sample(r->ctx, s.settle_time, y);
out:
	if (st)
		*st = s;
	return status;
}

int lat_ode_settle(lat_ode *o, double *y, lat_ode_stats *st, char *err)
{
	ode_run r = {0};

	return settle(o, y, &r, st, err);
}

int lat_ode_settle_sampled(lat_ode *o, double *y, double dt, lat_ode_sample_fn sample, void *ctx,
			   lat_ode_stats *st, char *err)
{
	ode_run r = {.dt = dt, .sample = sample, .ctx = ctx};

	if (!(dt > 0) || !isfinite(dt) || !sample)
		return lat_err_set(err, LAT_EINVAL, "ode: sampling needs dt > 0 and a sample function");
	return settle(o, y, &r, st, err);
}

int lat_ode_restart(lat_ode *o, const double *y0, char *err)
{
	int status = LAT_OK;

	o->started = 0;
	o->t = 0;
	o->own_rhs = 0;
	o->own_steps = 0;
	o->own_jac = 0;
	if (!lat_ode_all_finite(y0, o->dim)) {
		status = lat_ode_diverged(0.0, err);
		goto out;
	}
	memcpy(o->ya, y0, o->dim * sizeof *y0);
	if (first_integrator(o))
		status = first_integrator(o)->restart(o, y0, err);
	if (!status)
		o->started = 1;
out:
	return status;
}

int lat_ode_too_many_steps(const lat_ode *o, double t_out, char *err)
{
	return lat_err_set(err, LAT_ESOLVER,
			   "%s: more than max_steps = %ld steps since t = 0, at t = %g on the way to t = %g",
			   lat_method_name(first_method(o)), o->opts.max_steps, o->t, t_out);
}

int lat_ode_advance(lat_ode *o, double t_out, double *y, lat_ode_stats *st, char *err)
{
	lat_ode_stats s = {.method_used = first_method(o)};
	const ode_integrator *it = first_integrator(o);
	int status = LAT_OK;

	if (!o->started) {
		status = lat_err_set(err, LAT_EINVAL, "ode: lat_ode_advance needs lat_ode_restart first");
		goto out;
	}
	if (!(t_out >= o->t) || !isfinite(t_out)) {
		status = lat_err_set(err, LAT_EINVAL, "ode: t_out = %g is before the current time %g", t_out,
				     o->t);
		goto out;
	}
	/* max_steps bounds the whole sequence since the restart, not each call: dense output in many small
	 * intervals (a traced presentation) gets the budget of one call to its end */
	status = it ? it->advance(o, t_out, y, err) : lat_ode_exact_advance(o, t_out, y, err);
	if (!status && !lat_ode_all_finite(y, o->dim))
		status = lat_ode_diverged(o->t, err);
	if (!status && st)
		status = lat_ode_eval_residual(o, y, &s.residual, err);
	s.settle_time = o->t;
	if (it && it->stats) {
		it->stats(o, &s);
	} else {
		s.steps = o->own_steps;
		s.rhs_evals = o->own_rhs;
	}
out:
	if (st)
		*st = s;
	return status;
}

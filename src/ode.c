/* ode.c: settle dy/dt = f(y) to a steady state with CVODE BDF/Adams, GSL rk8pd or a closed-form flow. */
#include <config.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cvode/cvode.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_config.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_types.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include "lateral/err.h"
#include "lateral/ode.h"
#include "nvec.h"

/* SUNDIALS 6 takes a void * communicator, 7 a SUNComm with its own null value. */
#ifndef SUN_COMM_NULL
#define SUN_COMM_NULL NULL
#endif

_Static_assert(sizeof(sunrealtype) == sizeof(double), "lateral passes N_Vector data as double arrays");

/* Linear-solver return codes: SUNDIALS 7 replaced SUNLS_SUCCESS / SUNLS_MEM_NULL with SUNErrCode values. */
#if SUNDIALS_VERSION_MAJOR < 7
#define LS_SUCCESS SUNLS_SUCCESS
#define LS_CORRUPT SUNLS_MEM_NULL
#else
#define LS_SUCCESS SUN_SUCCESS
#define LS_CORRUPT SUN_ERR_ARG_CORRUPT
#endif

/* A step whose interpolated derivative gives a residual below SCREEN_FACTOR * steady_tol is confirmed
 * with one true right-hand side (the interpolant is only accurate to the local error). */
#define SCREEN_FACTOR 10.0
/* Initial step of rk8pd (Hairer, Norsett & Wanner II.4): a fraction of |y| / |f| in the error norm, or a
 * fraction of t_max when either norm is negligible. */
#define INIT_STEP_FRAC 0.01
#define INIT_STEP_NEGLIGIBLE 1e-5
#define INIT_STEP_TMAX_FRAC 1e-6
/* Exact settle: grid from t_max * EXACT_H0_FRAC, doubling up to steps of t_max * EXACT_HMAX_FRAC, then
 * bisection of the first bracket to a relative width EXACT_T_RTOL. */
#define EXACT_H0_FRAC (1.0 / 1048576.0)
#define EXACT_HMAX_FRAC (1.0 / 512.0)
#define EXACT_T_RTOL 1e-6
/* auto: integrator errors below steady_tol / AUTO_TOL_SAFETY per gain (each residual row sums at most
 * three of them, so the integrator's own error stays a third of steady_tol). */
#define AUTO_TOL_SAFETY 10.0
/* auto: after AUTO_PROBE_AFTER steps the other integrator (rk8pd <-> BDF) is tried for AUTO_PROBE_LEN
 * steps, and the one that advanced time faster per right-hand side continues; the next probe comes
 * when the step count has doubled. */
#define AUTO_PROBE_AFTER 2000
#define AUTO_PROBE_LEN 400
/* Newton polish: at most POLISH_MAX_IT steps; stop once the residual is below POLISH_RTOL steady_tol or
 * no longer halves. */
#define POLISH_MAX_IT 8
#define POLISH_RTOL 1e-6

struct lat_ode {
	const lat_ode_system *sys; /* borrowed */
	lat_ode_opts opts;
	size_t dim;
	double *work;	     /* 4 dim doubles: f, ya, yb, y0 */
	double *f, *ya, *yb; /* rhs at a checked state; running state (rk8pd, exact); scratch state */
	double *y0;          /* start of an exact settle */
	double *jac;	/* dim x dim row-major Jacobian buffer (BDF with sys->jacobian and no newton_solve) */
	int started;	/* 1 between lat_ode_restart and the next settle */
	double t;	/* current time of the advance sequence */
	long own_rhs;	/* rhs evaluations made outside CVODE (and all of them for rk8pd / exact) */
	long own_steps; /* rk8pd / exact steps of the advance sequence */
	long own_jac;	/* Newton solves through sys->newton_solve */
	double rtol_used; /* relative tolerance of the current CVODE run (tightened from opts.rtol) */
	long cv_rhs;      /* right-hand sides CVODE asked for since the engine was made (auto's cost) */
	double t_off;     /* time of the settle at CVODE's t = 0 (auto restarts CVODE mid-settle) */
	double *gain;     /* auto: dim residual gains of the state variables */
	/* CVODE */
	SUNContext ctx;
	void *cv;
	N_Vector y, dky, atol_v;
	SUNMatrix A;
	SUNLinearSolver ls;
	SUNNonlinearSolver nls;
	/* GSL */
	gsl_odeiv2_system gsys;
	gsl_odeiv2_step *step;
	gsl_odeiv2_control *ctrl, *ctrl_auto; /* opts' tolerances; auto's per-component ones */
	gsl_odeiv2_evolve *ev;
	double h; /* rk8pd step size carried between advance calls */
};

static const char *const method_names[] = {"bdf", "adams", "rk8pd", "exact", "auto"};

const char *lat_method_name(lat_method m)
{
	if ((unsigned)m >= sizeof method_names / sizeof method_names[0])
		return "unknown";
	return method_names[m];
}

int lat_method_parse(const char *name, lat_method *m)
{
	size_t i;

	if (!name)
		return LAT_EINVAL;
	for (i = 0; i < sizeof method_names / sizeof method_names[0]; i++) {
		if (strcmp(name, method_names[i]) == 0) {
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

static int all_finite(const double *y, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return 0;
	return 1;
}

/* Turns a negative SUNDIALS flag into LAT_ESOLVER with the flag's name in err. */
static int cv_ok(int flag, const char *fn, char *err)
{
	char *name;

	if (flag >= 0)
		return LAT_OK;
	name = CVodeGetReturnFlagName(flag);
	lat_err_set(err, LAT_ESOLVER, "%s failed: %s", fn, name ? name : "unknown flag");
	free(name);
	return LAT_ESOLVER;
}

/* The only code that sees N_Vector for the right-hand side: forwards raw arrays to sys->rhs. */
static int cv_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user_data)
{
	lat_ode *o = user_data;

	(void)t;
	o->cv_rhs++;
	return o->sys->rhs(o->sys->params, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot));
}

/* Dense Jacobian: sys->jacobian fills a row-major buffer, copied into the column-major SUNMatrix. */
static int cv_jac(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix J, void *user_data, N_Vector tmp1,
		  N_Vector tmp2, N_Vector tmp3)
{
	const lat_ode *o = user_data;
	sunrealtype *cols = SUNDenseMatrix_Data(J);
	size_t dim = o->dim, i, j;
	int status = o->sys->jacobian(o->sys->params, N_VGetArrayPointer(y), o->jac);

	(void)t;
	(void)fy;
	(void)tmp1;
	(void)tmp2;
	(void)tmp3;
	if (status)
		return status;
	for (j = 0; j < dim; j++)
		for (i = 0; i < dim; i++)
			cols[j * dim + i] = o->jac[i * dim + j];
	return 0;
}

/* Matrix-embedded linear solver: CVODE hands us b and we solve (I - gamma J(y)) x = b with
 * sys->newton_solve, J taken at the current Newton iterate. */
static SUNLinearSolver_Type ls_gettype(SUNLinearSolver S)
{
	(void)S;
	return SUNLINEARSOLVER_MATRIX_EMBEDDED;
}

static SUNLinearSolver_ID ls_getid(SUNLinearSolver S)
{
	(void)S;
	return SUNLINEARSOLVER_CUSTOM;
}

static int ls_solve(SUNLinearSolver S, SUNMatrix A, N_Vector x, N_Vector b, sunrealtype tol)
{
	lat_ode *o = S->content;
	sunrealtype gamma;
	N_Vector ycur;

	(void)A;
	(void)tol;
	if (CVodeGetCurrentGamma(o->cv, &gamma) < 0 || CVodeGetCurrentState(o->cv, &ycur) < 0)
		return LS_CORRUPT;
	N_VScale(1.0, b, x);
	o->own_jac++;
	/* a singular Newton matrix is recoverable: CVODE retries with a smaller step (another gamma) */
	if (o->sys->newton_solve(o->sys->params, N_VGetArrayPointer(ycur), gamma, N_VGetArrayPointer(x)))
		return SUNLS_PACKAGE_FAIL_REC;
	return LS_SUCCESS;
}

static int ls_free(SUNLinearSolver S)
{
	if (S) {
		S->content = NULL; /* borrowed engine, not ours to free */
		SUNLinSolFreeEmpty(S);
	}
	return LS_SUCCESS;
}

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

static int cvode_setup(lat_ode *o, lat_method method, char *err)
{
	sunindextype n = (sunindextype)o->dim;
	int lmm = method == LAT_METHOD_ADAMS ? CV_ADAMS : CV_BDF;
	int status;

	status = cv_ok(SUNContext_Create(SUN_COMM_NULL, &o->ctx), "SUNContext_Create", err);
	if (status)
		goto out;
	o->y = N_VNew_Serial(n, o->ctx);
	o->dky = N_VNew_Serial(n, o->ctx);
	o->atol_v = method == LAT_METHOD_AUTO ? N_VNew_Serial(n, o->ctx) : NULL;
	o->cv = CVodeCreate(lmm, o->ctx);
	if (!o->y || !o->dky || !o->cv || (method == LAT_METHOD_AUTO && !o->atol_v)) {
		status = lat_err_set(err, LAT_ENOMEM, "out of memory creating the CVODE solver");
		goto out;
	}
	/* Debian's libsundials is built -O0: give y (and so every vector CVODE clones from it) and dky
	 * our -O2 kernels, which are bit-identical to SUNDIALS' serial ones (src/nvec.c) */
	status = lat_nvec_install(o->y);
	if (!status)
		status = lat_nvec_install(o->dky);
	if (status) {
		status = lat_err_set(err, status, "cannot install the vector kernels on a non-serial vector");
		goto out;
	}
#if SUNDIALS_VERSION_MAJOR < 7
	status = cv_ok(CVodeSetErrFile(o->cv, o->opts.solver_log), "CVodeSetErrFile", err);
#else
	/* 7.x reports through SUNContext error handlers (stderr by default); quiet means none */
	if (!o->opts.solver_log)
		status = cv_ok(SUNContext_ClearErrHandlers(o->ctx), "SUNContext_ClearErrHandlers", err);
#endif
	if (status)
		goto out;
	N_VConst(0.0, o->y);
	status = cv_ok(CVodeInit(o->cv, cv_rhs, 0.0, o->y), "CVodeInit", err);
	if (!status)
		status =
		    cv_ok(CVodeSStolerances(o->cv, o->opts.rtol, o->opts.atol), "CVodeSStolerances", err);
	if (!status)
		status = cv_ok(CVodeSetUserData(o->cv, o), "CVodeSetUserData", err);
	if (!status)
		status = cv_ok(CVodeSetMaxNumSteps(o->cv, o->opts.max_steps), "CVodeSetMaxNumSteps", err);
	if (status)
		goto out;

	/* The circuit's mean mode has eigenvalues (-1 +- i sqrt(alpha)) / tau, about 72 degrees from the
	 * negative real axis at alpha = 10 and nearer 90 as alpha grows: outside the stability sector of
	 * BDF orders 4-5 (and 3 for large alpha). Without stability-limit detection BDF then hovers at a
	 * residual of ~10 rtol instead of settling (measured: settle 190 of 200 failed at rtol 1e-6). */
	if (!status && lmm == CV_BDF)
		status = cv_ok(CVodeSetStabLimDet(o->cv, SUNTRUE), "CVodeSetStabLimDet", err);
	if (status)
		goto out;
	if (lmm == CV_ADAMS) {
		/* non-stiff: functional iteration, no linear algebra at all */
		o->nls = SUNNonlinSol_FixedPoint(o->y, 0, o->ctx);
		if (!o->nls) {
			status =
			    lat_err_set(err, LAT_ENOMEM, "out of memory creating the fixed-point solver");
			goto out;
		}
		status = cv_ok(CVodeSetNonlinearSolver(o->cv, o->nls), "CVodeSetNonlinearSolver", err);
	} else if (o->sys->newton_solve) {
		o->ls = SUNLinSolNewEmpty(o->ctx);
		if (!o->ls) {
			status = lat_err_set(err, LAT_ENOMEM, "out of memory creating the linear solver");
			goto out;
		}
		o->ls->content = o;
		o->ls->ops->gettype = ls_gettype;
		o->ls->ops->getid = ls_getid;
		o->ls->ops->solve = ls_solve;
		o->ls->ops->free = ls_free;
		status = cv_ok(CVodeSetLinearSolver(o->cv, o->ls, NULL), "CVodeSetLinearSolver", err);
	} else {
		o->A = SUNDenseMatrix(n, n, o->ctx);
		o->ls = o->A ? SUNLinSol_Dense(o->y, o->A, o->ctx) : NULL;
		if (o->sys->jacobian && o->dim <= SIZE_MAX / sizeof(double) / o->dim)
			o->jac = malloc(o->dim * o->dim * sizeof *o->jac);
		if (!o->ls || (o->sys->jacobian && !o->jac)) {
			status =
			    lat_err_set(err, LAT_ENOMEM, "out of memory creating the dense linear solver");
			goto out;
		}
		status = cv_ok(CVodeSetLinearSolver(o->cv, o->ls, o->A), "CVodeSetLinearSolver", err);
		if (!status && o->sys->jacobian)
			status = cv_ok(CVodeSetJacFn(o->cv, cv_jac), "CVodeSetJacFn", err);
	}
	/* CVodeSetUseIntegratorFusedKernels is not used: it needs SUNDIALS built with fused GPU kernels,
	 * which serial vectors (and Debian's build) do not have. */
out:
	return status;
}

static int gsl_setup(lat_ode *o, char *err)
{
	int status = LAT_OK;

	o->gsys.function = gsl_rhs;
	o->gsys.jacobian = NULL;
	o->gsys.dimension = o->dim;
	o->gsys.params = o;
	o->step = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rk8pd, o->dim);
	o->ctrl = gsl_odeiv2_control_y_new(o->opts.atol, o->opts.rtol);
	o->ev = gsl_odeiv2_evolve_alloc(o->dim);
	if (o->gain) {
		/* D_k = eps / gain_k (absolute only): the local error of y_k may move the residual by eps */
		for (size_t k = 0; k < o->dim; k++)
			o->yb[k] = 1.0 / o->gain[k];
		o->ctrl_auto = gsl_odeiv2_control_scaled_new(o->opts.steady_tol / AUTO_TOL_SAFETY, 0.0, 1.0, 0.0,
							     o->yb, o->dim);
	}
	if (!o->step || !o->ctrl || !o->ev || (o->gain && !o->ctrl_auto))
		status = lat_err_set(err, LAT_ENOMEM, "out of memory creating the rk8pd stepper");
	return status;
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
	if (is_cvode(o))
		status = cvode_setup(o, opts->method, err);
	else if (opts->method == LAT_METHOD_RK8PD)
		status = gsl_setup(o, err);
	else if (is_auto_ode(o)) {
		status = gsl_setup(o, err);
		if (!status)
			status = cvode_setup(o, LAT_METHOD_AUTO, err);
	}
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
	if (o->cv)
		CVodeFree(&o->cv);
	if (o->nls)
		SUNNonlinSolFree(o->nls);
	if (o->ls)
		SUNLinSolFree(o->ls);
	if (o->A)
		SUNMatDestroy(o->A);
	if (o->atol_v)
		N_VDestroy(o->atol_v);
	if (o->dky)
		N_VDestroy(o->dky);
	if (o->y)
		N_VDestroy(o->y);
	if (o->ctx)
		SUNContext_Free(&o->ctx);
	gsl_odeiv2_evolve_free(o->ev);
	gsl_odeiv2_control_free(o->ctrl_auto);
	gsl_odeiv2_control_free(o->ctrl);
	gsl_odeiv2_step_free(o->step);
	free(o->jac);
	free(o->gain);
	free(o->work);
	free(o);
}

/* f = rhs(y) and its residual, counted as one of our own evaluations. */
static int eval_residual(lat_ode *o, const double *y, double *res, char *err)
{
	int rc = o->sys->rhs(o->sys->params, y, o->f);

	o->own_rhs++;
	if (rc)
		return lat_err_set(err, LAT_ESOLVER, "right-hand side failed (status %d)", rc);
	*res = o->sys->residual(o->sys->params, y, o->f);
	return LAT_OK;
}

/* CVODE runs use rtol <= steady_tol / (CV_TOL_MARGIN gain max|y|), atol <= steady_tol / (CV_TOL_MARGIN gain). */
#define CV_TOL_MARGIN 2.0
/* Within this factor of steady_tol the residual is taken to have stalled at the integrator's own error. */
#define STALL_FACTOR 100.0
/* A failed settle whose residual fell below this fraction of its half-way value was still decaying. */
#define DECAY_FRACTION 0.5

static int diverged(double t, char *err)
{
	return lat_err_set(err, LAT_EDIVERGE, "non-finite state at t = %g", t);
}

/* Right-hand sides and Newton solves so far: the cost auto compares its integrators by. */
static double cost_of(const lat_ode *o)
{
	return (double)(o->own_rhs + o->cv_rhs + o->own_jac);
}

/* CVODE counters since the last CVodeReInit, plus our own evaluations. */
static void cvode_stats(lat_ode *o, lat_ode_stats *s)
{
	long nst = 0, nfe = 0, nfe_ls = 0, nsetups = 0;

	CVodeGetNumSteps(o->cv, &nst);
	CVodeGetNumRhsEvals(o->cv, &nfe);
	if (o->ls) {
		CVodeGetNumLinRhsEvals(o->cv, &nfe_ls);
		CVodeGetNumLinSolvSetups(o->cv, &nsetups);
	}
	s->steps = nst;
	s->rhs_evals = nfe + nfe_ls + o->own_rhs;
	s->jac_evals = nsetups + o->own_jac;
	s->rtol_used = o->rtol_used;
}

/* Restarts CVODE at y0, settle time t0 (its own clock starts at 0), stopping at tstop. auto_tol: auto's
 * absolute tolerances steady_tol / (AUTO_TOL_SAFETY gain_k); else opts' tightened to steady_tol. */
static int cvode_reinit(lat_ode *o, const double *y0, double t0, double tstop, int auto_tol, char *err)
{
	double scale = 1, gain;
	int status;

	memcpy(N_VGetArrayPointer(o->y), y0, o->dim * sizeof *y0);
	o->t_off = t0;
	status = cv_ok(CVodeReInit(o->cv, 0.0, o->y), "CVodeReInit", err);
	/* SUNDIALS 6.4 has no CVodeClearStopTime: a stop time left by a settle is overridden instead */
	if (!status)
		status = cv_ok(CVodeSetStopTime(o->cv, tstop - t0), "CVodeSetStopTime", err);
	if (status)
		return status;
	if (auto_tol) {
		double *a = N_VGetArrayPointer(o->atol_v);
		for (size_t k = 0; k < o->dim; k++)
			a[k] = o->opts.steady_tol / (AUTO_TOL_SAFETY * o->gain[k]);
		o->rtol_used = 0;
		return cv_ok(CVodeSVtolerances(o->cv, 0.0, o->atol_v), "CVodeSVtolerances", err);
	}
	/* CVODE's corrector leaves an error of about 0.1 rtol |y| that does not decay at the fixed point, so
	 * a residual test below it never passes (measured: Adams stalled at a residual of 3.6e-6 with
	 * rtol 1e-6 and |y| ~ 36). Each run's tolerances are tied to steady_tol and the state's scale. */
	for (size_t i = 0; i < o->dim; i++)
		scale = fabs(y0[i]) > scale ? fabs(y0[i]) : scale;
	gain = o->sys->residual_gain > 1 ? o->sys->residual_gain : 1;
	o->rtol_used = fmin(o->opts.rtol, o->opts.steady_tol / (CV_TOL_MARGIN * gain * scale));
	o->own_jac = 0;
	return cv_ok(CVodeSStolerances(o->cv, o->rtol_used,
				       fmin(o->opts.atol, o->opts.steady_tol / (CV_TOL_MARGIN * gain))),
		     "CVodeSStolerances", err);
}

/* First rk8pd step from y with f = rhs(y) (Hairer-Norsett-Wanner's d0/d1 estimate), in the error
 * scale of the tolerances in use (auto's per-component ones when o->gain is set). */
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

/* One settle by integration: the integrator in use, where it is, and the trajectory's samples. */
typedef struct {
	lat_method kind; /* LAT_METHOD_RK8PD or a CVODE method */
	double t, res;   /* time and residual of the current state (res screened only, for CVODE) */
	long steps;
	double *y;       /* the current state: the caller's array (rk8pd) or CVODE's vector */
	double *y_out;   /* the caller's array */
	double dt, next; /* sampling interval (0: none) and the next sample time */
	lat_ode_sample_fn sample;
	void *ctx;
} run;

/* Starts the integrator kind at r->t from the state in r->y_out (rk8pd) or r->y (a switch to CVODE). */
static int run_start(lat_ode *o, run *r, lat_method kind, char *err)
{
	int status;

	if (kind == LAT_METHOD_RK8PD) {
		if (r->y != r->y_out)
			memcpy(r->y_out, r->y, o->dim * sizeof *r->y);
		r->y = r->y_out;
		gsl_odeiv2_step_reset(o->step);
		gsl_odeiv2_evolve_reset(o->ev);
		status = o->sys->rhs(o->sys->params, r->y, o->f);
		o->own_rhs++;
		if (status)
			return lat_err_set(err, LAT_ESOLVER, "right-hand side failed (status %d)", status);
		o->h = initial_step(o, r->y, o->f);
	} else {
		status = cvode_reinit(o, r->y, r->t, o->opts.t_max, o->opts.method == LAT_METHOD_AUTO, err);
		if (status)
			return status;
		r->y = N_VGetArrayPointer(o->y);
	}
	r->kind = kind;
	return LAT_OK;
}

/* One rk8pd step (ending at the next sample time at the latest), its residual and its sample. */
static int rk_step(lat_ode *o, run *r, char *err)
{
	double t_stop = r->dt > 0 && r->next < o->opts.t_max ? r->next : o->opts.t_max;
	gsl_odeiv2_control *ctrl = o->opts.method == LAT_METHOD_AUTO ? o->ctrl_auto : o->ctrl;
	int gstat = gsl_odeiv2_evolve_apply(o->ev, ctrl, o->step, &o->gsys, &r->t, t_stop, &o->h, r->y);

	if (gstat != GSL_SUCCESS)
		return all_finite(r->y, o->dim) ? gsl_fail(gstat, r->t, err) : diverged(r->t, err);
	r->steps++;
	if (!all_finite(r->y, o->dim))
		return diverged(r->t, err);
	/* rk8pd evaluates f at the accepted point anyway (dydt_out): the check is free */
	if (o->step->type->gives_exact_dydt_out) {
		r->res = o->sys->residual(o->sys->params, r->y, o->ev->dydt_out);
	} else {
		int status = eval_residual(o, r->y, &r->res, err);
		if (status)
			return status;
	}
	if (r->dt > 0 && r->t >= r->next) {
		r->next += r->dt;
		return r->sample(r->ctx, r->t, r->y);
	}
	return LAT_OK;
}

/* One CVODE step; samples are interpolated; the residual is screened with the interpolated derivative
 * (no rhs call) and confirmed with the true one below SCREEN_FACTOR * steady_tol. */
static int cv_step(lat_ode *o, run *r, char *err)
{
	double *dk = N_VGetArrayPointer(o->dky);
	sunrealtype tl;
	int status, flag = CVode(o->cv, o->opts.t_max - o->t_off, o->y, &tl, CV_ONE_STEP);

	if (flag < 0)
		return all_finite(r->y, o->dim) ? cv_ok(flag, "CVode", err) : diverged(r->t, err);
	r->steps++;
	if (!all_finite(r->y, o->dim))
		return diverged(tl + o->t_off, err);
	while (r->dt > 0 && r->next <= tl + o->t_off) {
		status = cv_ok(CVodeGetDky(o->cv, r->next - o->t_off, 0, o->dky), "CVodeGetDky", err);
		if (!status)
			status = r->sample(r->ctx, r->next, dk);
		if (status)
			return status;
		r->next += r->dt;
	}
	r->t = tl + o->t_off;
	status = cv_ok(CVodeGetDky(o->cv, tl, 1, o->dky), "CVodeGetDky", err);
	if (status)
		return status;
	r->res = o->sys->residual(o->sys->params, r->y, dk);
	return r->res < SCREEN_FACTOR * o->opts.steady_tol ? eval_residual(o, r->y, &r->res, err) : LAT_OK;
}

/* LAT_ENOTSTEADY for a settle that ran out of time or steps, with the cause measured from the residual
 * at the end (evaluated here) and half-way (res_mid; NaN if the run never got there). */
static int not_steady(lat_ode *o, run *r, double res_mid, long steps_mid, lat_ode_stats *s, char *err)
{
	int by_time = r->t >= o->opts.t_max, status = eval_residual(o, r->y, &s->residual, err);
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
		status = eval_residual(o, yp, &res, err);
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

static int race_step(lat_ode *o, run *r, race *rc, lat_ode_stats *s, char *err)
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
static int settle_integrate(lat_ode *o, double *y, run *r, lat_ode_stats *s, char *err)
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
			status = not_steady(o, r, res_mid, steps_mid, s, err);
			break;
		}
		status = r->kind == LAT_METHOD_RK8PD ? rk_step(o, r, err) : cv_step(o, r, err);
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
	if (r->kind != LAT_METHOD_RK8PD && !autom)
		cvode_stats(o, s);
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

/* ya = flow(y0, t) and its residual; one flow evaluation is one step. */
static int exact_point(lat_ode *o, const double *y0, double t, double *ya, double *res, long *steps,
		       char *err)
{
	int rc = o->sys->exact(o->sys->params, y0, t, ya);

	(*steps)++;
	if (rc)
		return lat_err_set(err, LAT_ESOLVER, "closed-form flow failed at t = %g (status %d)", t, rc);
	if (!all_finite(ya, o->dim))
		return diverged(t, err);
	return eval_residual(o, ya, res, err);
}

static int settle_exact(lat_ode *o, double *y, run *r, lat_ode_stats *s, char *err)
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
			run at = {.kind = LAT_METHOD_EXACT, .t = t_hi, .steps = steps, .y = hi};
			status = not_steady(o, &at, NAN, steps, s, err);
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

static int settle(lat_ode *o, double *y, run *r, lat_ode_stats *st, char *err)
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
	if (!all_finite(y, o->dim)) {
		status = diverged(0.0, err);
		goto out;
	}
	if (r->dt > 0) {
		status = r->sample(r->ctx, 0.0, y);
		r->next = r->dt;
		if (status)
			goto out;
	}
	status = eval_residual(o, y, &s.residual, err);
	s.rhs_evals = o->own_rhs;
	if (status || s.residual < o->opts.steady_tol)
		goto out;
	if (first_method(o) == LAT_METHOD_EXACT)
		status = settle_exact(o, y, r, &s, err);
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
	run r = {0};

	return settle(o, y, &r, st, err);
}

int lat_ode_settle_sampled(lat_ode *o, double *y, double dt, lat_ode_sample_fn sample, void *ctx,
			   lat_ode_stats *st, char *err)
{
	run r = {.dt = dt, .sample = sample, .ctx = ctx};

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
	if (!all_finite(y0, o->dim)) {
		status = diverged(0.0, err);
		goto out;
	}
	if (is_cvode(o)) {
		status = cvode_reinit(o, y0, 0.0, DBL_MAX, 0, err);
	} else {
		memcpy(o->ya, y0, o->dim * sizeof *y0);
		if (first_method(o) == LAT_METHOD_RK8PD) {
			gsl_odeiv2_step_reset(o->step);
			gsl_odeiv2_evolve_reset(o->ev);
			status = o->sys->rhs(o->sys->params, y0, o->f);
			o->own_rhs++;
			if (status)
				status = lat_err_set(err, LAT_ESOLVER, "right-hand side failed (status %d)",
						     status);
			else
				o->h = initial_step(o, y0, o->f);
		}
	}
	if (!status)
		o->started = 1;
out:
	return status;
}

/* LAT_ESOLVER for dense output that used up max_steps since the restart on its way to t_out. */
static int too_many_steps(const lat_ode *o, double t_out, char *err)
{
	return lat_err_set(err, LAT_ESOLVER, "%s: more than max_steps = %ld steps since t = 0, at t = %g on the way to t = %g",
			   lat_method_name(first_method(o)), o->opts.max_steps, o->t, t_out);
}

int lat_ode_advance(lat_ode *o, double t_out, double *y, lat_ode_stats *st, char *err)
{
	lat_ode_stats s = {.method_used = first_method(o)};
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
	if (is_cvode(o)) {
		sunrealtype t = o->t;
		long done = 0;
		if (t_out > o->t) {
			status = cv_ok(CVodeGetNumSteps(o->cv, &done), "CVodeGetNumSteps", err);
			if (!status && done >= o->opts.max_steps)
				status = too_many_steps(o, t_out, err);
			if (!status)
				status = cv_ok(CVodeSetMaxNumSteps(o->cv, o->opts.max_steps - done),
					       "CVodeSetMaxNumSteps", err);
			if (!status) {
				int flag = CVode(o->cv, t_out, o->y, &t, CV_NORMAL);
				o->t = t;
				status = flag == CV_TOO_MUCH_WORK ? too_many_steps(o, t_out, err)
								  : cv_ok(flag, "CVode", err);
			}
		}
		memcpy(y, N_VGetArrayPointer(o->y), o->dim * sizeof *y);
		o->t = t;
	} else if (first_method(o) == LAT_METHOD_RK8PD) {
		while (!status && o->t < t_out) {
			int gstat;
			if (o->own_steps >= o->opts.max_steps) {
				status = too_many_steps(o, t_out, err);
				break;
			}
			gstat = gsl_odeiv2_evolve_apply(o->ev, o->ctrl, o->step, &o->gsys, &o->t, t_out,
							&o->h, o->ya);
			if (gstat != GSL_SUCCESS)
				status = gsl_fail(gstat, o->t, err);
			o->own_steps++;
		}
		memcpy(y, o->ya, o->dim * sizeof *y);
	} else if (o->own_steps >= o->opts.max_steps) {
		status = too_many_steps(o, t_out, err);
	} else {
		int rc = o->sys->exact(o->sys->params, o->ya, t_out, y);
		o->own_steps++;
		if (rc)
			status = lat_err_set(err, LAT_ESOLVER,
					     "closed-form flow failed at t = %g (status %d)", t_out, rc);
		else
			o->t = t_out;
	}
	if (!status && !all_finite(y, o->dim))
		status = diverged(o->t, err);
	if (!status && st)
		status = eval_residual(o, y, &s.residual, err);
	s.settle_time = o->t;
	if (is_cvode(o)) {
		cvode_stats(o, &s);
	} else {
		s.steps = o->own_steps;
		s.rhs_evals = o->own_rhs;
	}
out:
	if (st)
		*st = s;
	return status;
}

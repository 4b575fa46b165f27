/* ode_cvode.c: the CVODE integrators behind the settle front (BDF with a structured Newton solve, Adams
 * with fixed-point iteration): the only file that touches SUNDIALS types. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_config.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_types.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include "lateral/err.h"
#include "nvec.h"
#include "ode_impl.h"

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
/* CVODE runs use rtol <= steady_tol / (CV_TOL_MARGIN gain max|y|), atol <= steady_tol / (CV_TOL_MARGIN gain). */
#define CV_TOL_MARGIN 2.0

struct ode_cv {
	SUNContext ctx;
	void *mem; /* CVODE's */
	N_Vector y, dky, atol_v;
	SUNMatrix A;
	SUNLinearSolver ls;
	SUNNonlinearSolver nls;
	double *jac;  /* dim x dim row-major Jacobian buffer (BDF with sys->jacobian and no newton_solve) */
	double t_off; /* time of the settle at CVODE's t = 0 (auto restarts CVODE mid-settle) */
};

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
	int status = o->sys->jacobian(o->sys->params, N_VGetArrayPointer(y), o->cv->jac);

	(void)t;
	(void)fy;
	(void)tmp1;
	(void)tmp2;
	(void)tmp3;
	if (status)
		return status;
	for (j = 0; j < dim; j++)
		for (i = 0; i < dim; i++)
			cols[j * dim + i] = o->cv->jac[i * dim + j];
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
	if (CVodeGetCurrentGamma(o->cv->mem, &gamma) < 0 || CVodeGetCurrentState(o->cv->mem, &ycur) < 0)
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

static int cv_alloc(lat_ode *o, lat_method method, char *err)
{
	sunindextype n = (sunindextype)o->dim;
	int lmm = method == LAT_METHOD_ADAMS ? CV_ADAMS : CV_BDF;
	int status;

	o->cv = calloc(1, sizeof *o->cv);
	if (!o->cv)
		return lat_err_set(err, LAT_ENOMEM, "out of memory creating the CVODE solver");
	status = cv_ok(SUNContext_Create(SUN_COMM_NULL, &o->cv->ctx), "SUNContext_Create", err);
	if (status)
		goto out;
	o->cv->y = N_VNew_Serial(n, o->cv->ctx);
	o->cv->dky = N_VNew_Serial(n, o->cv->ctx);
	o->cv->atol_v = method == LAT_METHOD_AUTO ? N_VNew_Serial(n, o->cv->ctx) : NULL;
	o->cv->mem = CVodeCreate(lmm, o->cv->ctx);
	if (!o->cv->y || !o->cv->dky || !o->cv->mem || (method == LAT_METHOD_AUTO && !o->cv->atol_v)) {
		status = lat_err_set(err, LAT_ENOMEM, "out of memory creating the CVODE solver");
		goto out;
	}
	/* Debian's libsundials is built -O0: give y (and so every vector CVODE clones from it) and dky
	 * our -O2 kernels, which are bit-identical to SUNDIALS' serial ones (src/nvec.c) */
	status = lat_nvec_install(o->cv->y);
	if (!status)
		status = lat_nvec_install(o->cv->dky);
	if (status) {
		status = lat_err_set(err, status, "cannot install the vector kernels on a non-serial vector");
		goto out;
	}
#if SUNDIALS_VERSION_MAJOR < 7
	status = cv_ok(CVodeSetErrFile(o->cv->mem, o->opts.solver_log), "CVodeSetErrFile", err);
#else
	/* 7.x reports through SUNContext error handlers (stderr by default); quiet means none */
	if (!o->opts.solver_log)
		status = cv_ok(SUNContext_ClearErrHandlers(o->cv->ctx), "SUNContext_ClearErrHandlers", err);
#endif
	if (status)
		goto out;
	N_VConst(0.0, o->cv->y);
	status = cv_ok(CVodeInit(o->cv->mem, cv_rhs, 0.0, o->cv->y), "CVodeInit", err);
	if (!status)
		status =
		    cv_ok(CVodeSStolerances(o->cv->mem, o->opts.rtol, o->opts.atol), "CVodeSStolerances", err);
	if (!status)
		status = cv_ok(CVodeSetUserData(o->cv->mem, o), "CVodeSetUserData", err);
	if (!status)
		status = cv_ok(CVodeSetMaxNumSteps(o->cv->mem, o->opts.max_steps), "CVodeSetMaxNumSteps", err);
	if (status)
		goto out;

	/* The circuit's mean mode has eigenvalues (-1 +- i sqrt(alpha)) / tau, about 72 degrees from the
	 * negative real axis at alpha = 10 and nearer 90 as alpha grows: outside the stability sector of
	 * BDF orders 4-5 (and 3 for large alpha). Without stability-limit detection BDF then hovers at a
	 * residual of ~10 rtol instead of settling (measured: settle 190 of 200 failed at rtol 1e-6). */
	if (!status && lmm == CV_BDF)
		status = cv_ok(CVodeSetStabLimDet(o->cv->mem, SUNTRUE), "CVodeSetStabLimDet", err);
	if (status)
		goto out;
	if (lmm == CV_ADAMS) {
		/* non-stiff: functional iteration, no linear algebra at all */
		o->cv->nls = SUNNonlinSol_FixedPoint(o->cv->y, 0, o->cv->ctx);
		if (!o->cv->nls) {
			status =
			    lat_err_set(err, LAT_ENOMEM, "out of memory creating the fixed-point solver");
			goto out;
		}
		status = cv_ok(CVodeSetNonlinearSolver(o->cv->mem, o->cv->nls), "CVodeSetNonlinearSolver", err);
	} else if (o->sys->newton_solve) {
		o->cv->ls = SUNLinSolNewEmpty(o->cv->ctx);
		if (!o->cv->ls) {
			status = lat_err_set(err, LAT_ENOMEM, "out of memory creating the linear solver");
			goto out;
		}
		o->cv->ls->content = o;
		o->cv->ls->ops->gettype = ls_gettype;
		o->cv->ls->ops->getid = ls_getid;
		o->cv->ls->ops->solve = ls_solve;
		o->cv->ls->ops->free = ls_free;
		status = cv_ok(CVodeSetLinearSolver(o->cv->mem, o->cv->ls, NULL), "CVodeSetLinearSolver", err);
	} else {
		o->cv->A = SUNDenseMatrix(n, n, o->cv->ctx);
		o->cv->ls = o->cv->A ? SUNLinSol_Dense(o->cv->y, o->cv->A, o->cv->ctx) : NULL;
		if (o->sys->jacobian && o->dim <= SIZE_MAX / sizeof(double) / o->dim)
			o->cv->jac = malloc(o->dim * o->dim * sizeof *o->cv->jac);
		if (!o->cv->ls || (o->sys->jacobian && !o->cv->jac)) {
			status =
			    lat_err_set(err, LAT_ENOMEM, "out of memory creating the dense linear solver");
			goto out;
		}
		status = cv_ok(CVodeSetLinearSolver(o->cv->mem, o->cv->ls, o->cv->A), "CVodeSetLinearSolver", err);
		if (!status && o->sys->jacobian)
			status = cv_ok(CVodeSetJacFn(o->cv->mem, cv_jac), "CVodeSetJacFn", err);
	}
	/* CVodeSetUseIntegratorFusedKernels is not used: it needs SUNDIALS built with fused GPU kernels,
	 * which serial vectors (and Debian's build) do not have. */
out:
	return status;
}

/* CVODE counters since the last CVodeReInit, plus our own evaluations. */
static void cv_stats(lat_ode *o, lat_ode_stats *s)
{
	long nst = 0, nfe = 0, nfe_ls = 0, nsetups = 0;

	CVodeGetNumSteps(o->cv->mem, &nst);
	CVodeGetNumRhsEvals(o->cv->mem, &nfe);
	if (o->cv->ls) {
		CVodeGetNumLinRhsEvals(o->cv->mem, &nfe_ls);
		CVodeGetNumLinSolvSetups(o->cv->mem, &nsetups);
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

	memcpy(N_VGetArrayPointer(o->cv->y), y0, o->dim * sizeof *y0);
	o->cv->t_off = t0;
	status = cv_ok(CVodeReInit(o->cv->mem, 0.0, o->cv->y), "CVodeReInit", err);
	/* SUNDIALS 6.4 has no CVodeClearStopTime: a stop time left by a settle is overridden instead */
	if (!status)
		status = cv_ok(CVodeSetStopTime(o->cv->mem, tstop - t0), "CVodeSetStopTime", err);
	if (status)
		return status;
	if (auto_tol) {
		double *a = N_VGetArrayPointer(o->cv->atol_v);
		for (size_t k = 0; k < o->dim; k++)
			a[k] = o->opts.steady_tol / (AUTO_TOL_SAFETY * o->gain[k]);
		o->rtol_used = 0;
		return cv_ok(CVodeSVtolerances(o->cv->mem, 0.0, o->cv->atol_v), "CVodeSVtolerances", err);
	}
	/* CVODE's corrector leaves an error of about 0.1 rtol |y| that does not decay at the fixed point, so
	 * a residual test below it never passes (measured: Adams stalled at a residual of 3.6e-6 with
	 * rtol 1e-6 and |y| ~ 36). Each run's tolerances are tied to steady_tol and the state's scale. */
	for (size_t i = 0; i < o->dim; i++)
		scale = fabs(y0[i]) > scale ? fabs(y0[i]) : scale;
	gain = o->sys->residual_gain > 1 ? o->sys->residual_gain : 1;
	o->rtol_used = fmin(o->opts.rtol, o->opts.steady_tol / (CV_TOL_MARGIN * gain * scale));
	o->own_jac = 0;
	return cv_ok(CVodeSStolerances(o->cv->mem, o->rtol_used,
				       fmin(o->opts.atol, o->opts.steady_tol / (CV_TOL_MARGIN * gain))),
		     "CVodeSStolerances", err);
}

/* One CVODE step; samples are interpolated; the residual is screened with the interpolated derivative
 * (no rhs call) and confirmed with the true one below SCREEN_FACTOR * steady_tol. */
static int cv_step(lat_ode *o, ode_run *r, char *err)
{
	double *dk = N_VGetArrayPointer(o->cv->dky);
	sunrealtype tl;
	int status, flag = CVode(o->cv->mem, o->opts.t_max - o->cv->t_off, o->cv->y, &tl, CV_ONE_STEP);

	if (flag < 0)
		return lat_ode_all_finite(r->y, o->dim) ? cv_ok(flag, "CVode", err) : lat_ode_diverged(r->t, err);
	r->steps++;
	if (!lat_ode_all_finite(r->y, o->dim))
		return lat_ode_diverged(tl + o->cv->t_off, err);
	while (r->dt > 0 && r->next <= tl + o->cv->t_off) {
		status = cv_ok(CVodeGetDky(o->cv->mem, r->next - o->cv->t_off, 0, o->cv->dky), "CVodeGetDky", err);
		if (!status)
			status = r->sample(r->ctx, r->next, dk);
		if (status)
			return status;
		r->next += r->dt;
	}
	r->t = tl + o->cv->t_off;
	status = cv_ok(CVodeGetDky(o->cv->mem, tl, 1, o->cv->dky), "CVodeGetDky", err);
	if (status)
		return status;
	r->res = o->sys->residual(o->sys->params, r->y, dk);
	return r->res < SCREEN_FACTOR * o->opts.steady_tol ? lat_ode_eval_residual(o, r->y, &r->res, err) : LAT_OK;
}

/* Destroys in reverse order of creation. */
static void cv_free(lat_ode *o)
{
	ode_cv *cv = o->cv;

	if (!cv)
		return;
	if (cv->mem)
		CVodeFree(&cv->mem);
	if (cv->nls)
		SUNNonlinSolFree(cv->nls);
	if (cv->ls)
		SUNLinSolFree(cv->ls);
	if (cv->A)
		SUNMatDestroy(cv->A);
	if (cv->atol_v)
		N_VDestroy(cv->atol_v);
	if (cv->dky)
		N_VDestroy(cv->dky);
	if (cv->y)
		N_VDestroy(cv->y);
	if (cv->ctx)
		SUNContext_Free(&cv->ctx);
	free(cv->jac);
	free(cv);
	o->cv = NULL;
}

/* A settle run (or auto's switch) restarts CVODE at the run's time and state, stopping at t_max. */
static int cv_start(lat_ode *o, ode_run *r, char *err)
{
	int status = cvode_reinit(o, r->y, r->t, o->opts.t_max, o->opts.method == LAT_METHOD_AUTO, err);

	if (!status)
		r->y = N_VGetArrayPointer(o->cv->y);
	return status;
}

static int cv_restart(lat_ode *o, const double *y0, char *err)
{
	return cvode_reinit(o, y0, 0.0, DBL_MAX, 0, err);
}

static int cv_advance(lat_ode *o, double t_out, double *y, char *err)
{
	sunrealtype t = o->t;
	long done = 0;
	int status = LAT_OK;

	if (t_out > o->t) {
		status = cv_ok(CVodeGetNumSteps(o->cv->mem, &done), "CVodeGetNumSteps", err);
		if (!status && done >= o->opts.max_steps)
			status = lat_ode_too_many_steps(o, t_out, err);
		if (!status)
			status = cv_ok(CVodeSetMaxNumSteps(o->cv->mem, o->opts.max_steps - done), "CVodeSetMaxNumSteps",
				       err);
		if (!status) {
			int flag = CVode(o->cv->mem, t_out, o->cv->y, &t, CV_NORMAL);
			o->t = t;
			status = flag == CV_TOO_MUCH_WORK ? lat_ode_too_many_steps(o, t_out, err) : cv_ok(flag, "CVode", err);
		}
	}
	memcpy(y, N_VGetArrayPointer(o->cv->y), o->dim * sizeof *y);
	o->t = t;
	return status;
}

const ode_integrator lat_ode_cvode_integrator = {.name = "cvode",
						 .alloc = cv_alloc,
						 .free = cv_free,
						 .start = cv_start,
						 .step = cv_step,
						 .restart = cv_restart,
						 .advance = cv_advance,
						 .stats = cv_stats};

const char *lat_ode_sundials_version(void)
{
	return SUNDIALS_VERSION;
}

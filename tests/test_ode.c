/* test_ode.c: the ODE engine against exp(-t/tau) and the circuit's analytic steady state, plus its error
 * paths. */
#include <config.h>

#include <math.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "lateral/circuit.h"
#include "lateral/err.h"
#include "lateral/ode.h"
#include "runner.h"

#define K_CIRCUITS 3
#define N_UNITS 20
#define DIM_MAX (K_CIRCUITS * (N_UNITS + 2))
/* auto probes BDF after this many rk8pd steps (AUTO_PROBE_AFTER in src/core/ode.c) */
#define AUTO_PROBE_STEPS 2000

static const lat_method all_methods[] = {LAT_METHOD_BDF, LAT_METHOD_ADAMS, LAT_METHOD_RK8PD,
					 LAT_METHOD_EXACT};
static const lat_method integrators[] = {LAT_METHOD_BDF, LAT_METHOD_ADAMS, LAT_METHOD_RK8PD};

static lat_ode_opts base_opts(lat_method m)
{
	lat_ode_opts o = {.method = m,
			  .rtol = 1e-8,
			  .atol = 1e-10,
			  .steady_tol = 1e-6,
			  .t_max = 5000,
			  .max_steps = 100000,
			  .solver_log = NULL};
	return o;
}

/* ---- dy/dt = -y / tau, dim 3 ---- */

typedef struct {
	double tau;
	long fail_after; /* rhs returns -1 from this call on (< 0: never) */
	long *calls;	 /* mutable counter owned by the test */
} decay_params;

static int decay_rhs(const void *params, const double *y, double *dydt)
{
	const decay_params *p = params;
	size_t i;

	if (p->calls && p->fail_after >= 0 && (*p->calls)++ >= p->fail_after)
		return -1;
	for (i = 0; i < 3; i++)
		dydt[i] = -y[i] / p->tau;
	return 0;
}

static double decay_residual(const void *params, const double *y, const double *dydt)
{
	const decay_params *p = params;
	double r = 0;
	size_t i;

	(void)y;
	for (i = 0; i < 3; i++)
		r = fmax(r, p->tau * fabs(dydt[i]));
	return r;
}

static int decay_exact(const void *params, const double *y0, double t, double *y)
{
	const decay_params *p = params;
	size_t i;

	for (i = 0; i < 3; i++)
		y[i] = y0[i] * exp(-t / p->tau);
	return 0;
}

static lat_ode_system decay_system(const decay_params *p)
{
	lat_ode_system s = {
	    .dim = 3, .params = p, .rhs = decay_rhs, .residual = decay_residual, .exact = decay_exact};
	return s;
}

/* ---- rotation dy0/dt = y1, dy1/dt = -y0: |y| stays 1, so it never settles ---- */

static int rotation_rhs(const void *params, const double *y, double *dydt)
{
	(void)params;
	dydt[0] = y[1];
	dydt[1] = -y[0];
	return 0;
}

static double rotation_residual(const void *params, const double *y, const double *dydt)
{
	(void)params;
	(void)y;
	return fmax(fabs(dydt[0]), fabs(dydt[1]));
}

static int rotation_exact(const void *params, const double *y0, double t, double *y)
{
	(void)params;
	y[0] = y0[0] * cos(t) + y0[1] * sin(t);
	y[1] = y0[1] * cos(t) - y0[0] * sin(t);
	return 0;
}

static lat_ode_system rotation_system(void)
{
	lat_ode_system s = {
	    .dim = 2, .rhs = rotation_rhs, .residual = rotation_residual, .exact = rotation_exact};
	return s;
}

/* Counts the samples of a settle; stops it (status -99) once there are far more than its step budget. */
typedef struct {
	long n, cap;
} sample_count;

static int count_sample(void *ctx, double t, const double *y)
{
	sample_count *c = ctx;

	(void)t;
	(void)y;
	return ++c->n > c->cap ? -99 : 0;
}

/* max_steps bounds a traced settle as a whole, not each sample interval (issue 14, class 6: tracing
 * once made a settle that could not finish run for minutes). rk8pd ends a step at every sample time,
 * so with dt far below its natural step a per-interval budget would never run out: the settle would
 * run to t_max, through 10^9 samples, and the counter stops it with -99 instead. */
static void test_sampled_settle_max_steps(void)
{
	const lat_method methods[] = {LAT_METHOD_BDF, LAT_METHOD_ADAMS, LAT_METHOD_RK8PD, LAT_METHOD_EXACT,
				      LAT_METHOD_AUTO};
	lat_ode_system sys = rotation_system();
	const double dt = 1e-3;

	for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
		lat_ode_opts opts = base_opts(methods[k]);
		double y[2] = {1, 0};
		sample_count c = {0, 0};
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		lat_ode *o;

		opts.max_steps = 12;
		opts.t_max = 1e6;
		c.cap = 100 * opts.max_steps;
		o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_EQUAL(lat_ode_settle_sampled(o, y, dt, count_sample, &c, &st, err), LAT_ENOTSTEADY);
		/* stopped by the step budget (the cause is measured from the residual's trend) */
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "no steady state after 12 steps"));
		CU_ASSERT(st.steps <= opts.max_steps);
		if (methods[k] != LAT_METHOD_EXACT)
			CU_ASSERT_EQUAL(st.steps, opts.max_steps);
		CU_ASSERT(st.settle_time < opts.t_max);
		/* the samples are those of the time reached: at t = 0, dt, 2 dt, ... up to the settle's end */
		CU_ASSERT(c.n >= 1 && (double)c.n <= st.settle_time / dt + 2);
		lat_ode_free(o);
	}
}

/* Dense output in many short intervals shares one step budget from the restart on: a rotation
 * advanced by 0.01 at a time runs out of max_steps = 30 long before t = 100, for every method (the
 * budget once applied to each call, so a traced continuous presentation never ran out). */
static void test_advance_max_steps_since_restart(void)
{
	lat_ode_system sys = rotation_system();
	const double y0[2] = {1, 0};

	for (size_t k = 0; k < sizeof all_methods / sizeof all_methods[0]; k++) {
		lat_ode_opts opts = base_opts(all_methods[k]);
		double y[2];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		lat_ode *o;
		long calls;
		int rc = LAT_OK;

		opts.max_steps = 30;
		o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_EQUAL_FATAL(lat_ode_restart(o, y0, err), LAT_OK);
		for (calls = 1; calls <= 10000 && rc == LAT_OK; calls++)
			rc = lat_ode_advance(o, 0.01 * (double)calls, y, &st, err);
		CU_ASSERT_EQUAL(rc, LAT_ESOLVER);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than max_steps = 30 steps since t = 0"));
		CU_ASSERT(st.steps <= opts.max_steps);
		CU_ASSERT(st.settle_time < 100);
		/* exact: one flow evaluation per call, the 31st refused */
		if (all_methods[k] == LAT_METHOD_EXACT)
			CU_ASSERT_EQUAL(calls - 1, 31);
		/* a new restart brings a new budget */
		CU_ASSERT_EQUAL(lat_ode_restart(o, y0, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_ode_advance(o, 0.01, y, &st, err), LAT_OK);
		CU_ASSERT_DOUBLE_EQUAL(y[0], cos(0.01), 1e-6);
		lat_ode_free(o);
	}
}

static void test_decay_advance(void)
{
	const double y0[] = {1, -2, 3}, times[] = {0, 0.5, 2, 7, 20};
	decay_params p = {.tau = 2, .fail_after = -1};
	lat_ode_system sys = decay_system(&p);
	size_t m, k, i;

	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		lat_ode *o = lat_ode_alloc(&sys, &opts, err);
		/* CVODE controls the local error only; its global error here reaches ~15 rtol */
		double factor =
		    all_methods[m] == LAT_METHOD_BDF || all_methods[m] == LAT_METHOD_ADAMS ? 20 : 10;
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_EQUAL(lat_ode_restart(o, y0, err), LAT_OK);
		for (k = 0; k < sizeof times / sizeof times[0]; k++) {
			double y[3];
			CU_ASSERT_EQUAL(lat_ode_advance(o, times[k], y, &st, err), LAT_OK);
			for (i = 0; i < 3; i++) {
				double truth = y0[i] * exp(-times[k] / p.tau);
				CU_ASSERT_DOUBLE_EQUAL(y[i], truth,
						       factor * (opts.rtol * fabs(truth) + opts.atol));
			}
			CU_ASSERT_DOUBLE_EQUAL(st.settle_time, times[k], 0);
		}
		CU_ASSERT(st.steps > 0);
		CU_ASSERT(st.rhs_evals > 0);
		lat_ode_free(o);
	}
}

static void test_decay_advance_errors(void)
{
	const double y0[] = {1, -2, 3};
	decay_params p = {.tau = 2, .fail_after = -1};
	lat_ode_system sys = decay_system(&p);
	lat_ode_opts opts = base_opts(LAT_METHOD_RK8PD);
	double y[3];
	char err[LAT_ERRLEN] = "";
	lat_ode *o = lat_ode_alloc(&sys, &opts, err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(lat_ode_advance(o, 1, y, NULL, err), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_ode_restart(o, y0, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_ode_advance(o, 1, y, NULL, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_ode_advance(o, 0.5, y, NULL, err), LAT_EINVAL);
	lat_ode_free(o);
}

static void test_advance_after_settle(void)
{
	const double y0[] = {1, -2, 3};
	decay_params p = {.tau = 2, .fail_after = -1};
	lat_ode_system sys = decay_system(&p);
	size_t m, i;

	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		double y[3];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		lat_ode *o;
		/* a settle leaves CVODE's stop time at t_max; dense output afterwards must run past it */
		opts.t_max = 40;
		o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		memcpy(y, y0, sizeof y);
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, &st, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_ode_restart(o, y0, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_ode_advance(o, 3 * opts.t_max, y, &st, err), LAT_OK);
		CU_ASSERT_DOUBLE_EQUAL(st.settle_time, 3 * opts.t_max, 0);
		for (i = 0; i < 3; i++)
			CU_ASSERT_DOUBLE_EQUAL(y[i], y0[i] * exp(-3 * opts.t_max / p.tau), 1e-8);
		lat_ode_free(o);
	}
}

static void test_decay_settle(void)
{
	const double y0[] = {1, -2, 3};
	decay_params p = {.tau = 2, .fail_after = -1};
	lat_ode_system sys = decay_system(&p);
	size_t m, i;

	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		char err[LAT_ERRLEN] = "";
		double y[3];
		lat_ode_stats st;
		lat_ode *o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		memcpy(y, y0, sizeof y);
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, &st, err), LAT_OK);
		/* residual = tau |dy/dt| = max |y_i| crosses 1e-6 at t = tau ln(3e6) */
		CU_ASSERT(st.residual < opts.steady_tol);
		for (i = 0; i < 3; i++)
			CU_ASSERT(fabs(y[i]) < opts.steady_tol);
		CU_ASSERT(st.settle_time >= 0.999 * p.tau * log(3e6));
		if (all_methods[m] == LAT_METHOD_EXACT)
			CU_ASSERT_DOUBLE_EQUAL(st.settle_time, p.tau * log(3e6), 1e-5 * p.tau * log(3e6));
		CU_ASSERT(st.settle_time < 2 * p.tau * log(3e6));
		lat_ode_free(o);
	}
}

/* ---- the circuit batch: K = 3 circuits of N = 20 with random drives ---- */

typedef struct {
	lat_circuit c;
	double z[K_CIRCUITS * N_UNITS];
	lat_circuit_batch batch;
	lat_ode_system sys;
	size_t dim1; /* one circuit's dim */
} fixture;

static void fixture_init(fixture *f, int relu, int dynamic, unsigned long seed)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	size_t i;

	gsl_rng_set(r, seed);
	f->c = (lat_circuit){.n = N_UNITS,
			     .tau = 10,
			     .tau_inh = 5,
			     .alpha = 4,
			     .bias = 1,
			     .relu = relu,
			     .bias_dynamic = dynamic,
			     .bias_tau = 50,
			     .bias_rho = 1,
			     .rate_target = 2.5};
	for (i = 0; i < K_CIRCUITS * N_UNITS; i++)
		f->z[i] = 2 * gsl_rng_uniform(r);
	f->batch = (lat_circuit_batch){.c = &f->c, .n_circuits = K_CIRCUITS, .z = f->z};
	lat_circuit_batch_system(&f->batch, &f->sys);
	f->dim1 = lat_circuit_dim(&f->c);
	gsl_rng_free(r);
}

static void initial_state(const fixture *f, double *y)
{
	size_t i;

	for (i = 0; i < f->sys.dim; i++)
		y[i] = 0.1 * (double)(i % 7);
	if (f->c.bias_dynamic)
		for (i = 0; i < K_CIRCUITS; i++)
			y[i * f->dim1 + N_UNITS + 1] = f->c.bias;
}

/* Max distance of the batch state y from the per-circuit analytic steady state. */
static double steady_error(const fixture *f, const double *y)
{
	double ys[N_UNITS + 2], e = 0;
	size_t k, i;

	for (k = 0; k < K_CIRCUITS; k++) {
		CU_ASSERT_EQUAL_FATAL(lat_circuit_steady(&f->c, f->z + k * N_UNITS, ys, NULL), LAT_OK);
		for (i = 0; i < f->dim1; i++)
			e = fmax(e, fabs(y[k * f->dim1 + i] - ys[i]));
	}
	return e;
}

/* Settles the fixture with opts from the fixed initial state; returns the status, result in y. */
static int settle_fixture(const fixture *f, const lat_ode_system *sys, const lat_ode_opts *opts, double *y,
			  lat_ode_stats *st, char *err)
{
	lat_ode *o = lat_ode_alloc(sys, opts, err);
	int status;

	CU_ASSERT_PTR_NOT_NULL(o);
	if (!o)
		return LAT_ENOMEM;
	initial_state(f, y);
	status = lat_ode_settle(o, y, st, err);
	lat_ode_free(o);
	return status;
}

static void test_settle_batch_all_methods(void)
{
	fixture f;
	size_t m;

	fixture_init(&f, 0, 0, 42);
	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		double y[DIM_MAX], fy[DIM_MAX], res;
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
		CU_ASSERT(steady_error(&f, y) < 10 * opts.steady_tol);
		/* the reported residual belongs to the returned state */
		CU_ASSERT_EQUAL(f.sys.rhs(f.sys.params, y, fy), 0);
		res = f.sys.residual(f.sys.params, y, fy);
		CU_ASSERT_DOUBLE_EQUAL(st.residual, res, 1e-9 * res);
		CU_ASSERT(st.residual < opts.steady_tol);
		CU_ASSERT(st.steps > 0);
		CU_ASSERT(st.rhs_evals > 0);
		if (all_methods[m] == LAT_METHOD_BDF)
			CU_ASSERT(st.jac_evals > 0);
		CU_ASSERT(st.settle_time > 0 && st.settle_time < opts.t_max);
	}
}

/* A loose rtol next to a strict steady_tol: CVODE tightens its tolerance (reported in rtol_used) so
 * the settle still passes, instead of stalling at its own error of about 0.1 rtol |y|. The drives are
 * scaled up so |y| ~ 40 as in a d = 81 pool. */
static void test_cvode_tolerance_tied_to_steady_tol(void)
{
	fixture f;
	const lat_method cv[] = {LAT_METHOD_ADAMS, LAT_METHOD_BDF};

	fixture_init(&f, 0, 0, 43);
	for (size_t i = 0; i < K_CIRCUITS * N_UNITS; i++)
		f.z[i] *= 20;
	for (size_t m = 0; m < 2; m++) {
		lat_ode_opts opts = base_opts(cv[m]);
		double y[DIM_MAX];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		opts.rtol = 1e-4;
		opts.atol = 1e-6;
		opts.steady_tol = 1e-8;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
		CU_ASSERT(steady_error(&f, y) < 10 * opts.steady_tol);
		CU_ASSERT(st.rtol_used < opts.steady_tol);
		CU_ASSERT(st.rtol_used > 0);
	}
}

static void test_settle_relu_batch(void)
{
	fixture f;
	size_t m;

	/* drives in [0, 2) with b = 1 keep every unit active, so the linear fixed point applies */
	fixture_init(&f, 1, 0, 7);
	for (m = 0; m < sizeof integrators / sizeof integrators[0]; m++) {
		lat_ode_opts opts = base_opts(integrators[m]);
		double y[DIM_MAX];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
		CU_ASSERT(steady_error(&f, y) < 10 * opts.steady_tol);
	}
}

/* Fixed point of one relu circuit (constant b) with active set S: r_i = 0 off S, and on S
 * r_i = z_i - alpha r_inh + b with r_inh (1 + alpha |S|/N) = (sum_S z_i)/N + b (|S|/N - 1).
 * Returns 0 if S is self-consistent (u_i > 0 exactly on S). */
static int relu_fixed_point(const lat_circuit *c, const double *z, const int *active, double *ys)
{
	double zs = 0, ns = 0, inh;
	size_t i, n = c->n;
	int consistent = 1;

	for (i = 0; i < n; i++) {
		zs += active[i] ? z[i] : 0;
		ns += active[i];
	}
	inh = (zs / (double)n + c->bias * (ns / (double)n - 1)) / (1 + c->alpha * ns / (double)n);
	for (i = 0; i < n; i++) {
		double u = z[i] - c->alpha * inh + c->bias;
		ys[i] = active[i] ? u : 0;
		if ((u > 0) != (active[i] != 0))
			consistent = 0;
	}
	ys[n] = inh;
	return consistent ? 0 : -1;
}

static void test_settle_relu_silent_units(void)
{
	fixture f;
	size_t m, k, i;
	int n_silent = 0;

	fixture_init(&f, 1, 0, 8);
	/* drives in [-3, 1): about a third of the units end up silent */
	for (i = 0; i < K_CIRCUITS * N_UNITS; i++)
		f.z[i] = 2 * f.z[i] - 3;
	for (m = 0; m < sizeof integrators / sizeof integrators[0]; m++) {
		lat_ode_opts opts = base_opts(integrators[m]);
		double y[DIM_MAX], ys[N_UNITS + 1];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
		for (k = 0; k < K_CIRCUITS; k++) {
			int active[N_UNITS];
			const double *yk = y + k * f.dim1;
			for (i = 0; i < N_UNITS; i++) {
				active[i] = yk[i] > 10 * opts.steady_tol;
				n_silent += !active[i];
			}
			CU_ASSERT_EQUAL(relu_fixed_point(&f.c, f.z + k * N_UNITS, active, ys), 0);
			for (i = 0; i <= N_UNITS; i++)
				CU_ASSERT_DOUBLE_EQUAL(yk[i], ys[i], 10 * opts.steady_tol);
		}
	}
	CU_ASSERT(n_silent > 0 && n_silent < 3 * K_CIRCUITS * N_UNITS);
}

/* Each path of solver.method = auto, forced deterministically (auto's race compares right-hand-side
 * counts, not clocks): exact for linear units; rk8pd then a Newton polish for relu at alpha = 4; the
 * switch to BDF for relu at alpha = 1e4, where the inhibitory loop oscillates at sqrt(alpha) / tau; a
 * polish of a run that stalls near the band at t_max; and a polished point that is rejected because it
 * is unstable. Every accepted state is checked against the analytic or the active-set fixed point. */
static void check_relu_fixed(const fixture *f, const double *y, double tol)
{
	for (size_t k = 0; k < K_CIRCUITS; k++) {
		int active[N_UNITS];
		double ys[N_UNITS + 1];
		const double *yk = y + k * f->dim1;
		for (size_t i = 0; i < N_UNITS; i++)
			active[i] = yk[i] > 0;
		CU_ASSERT_EQUAL(relu_fixed_point(&f->c, f->z + k * N_UNITS, active, ys), 0);
		for (size_t i = 0; i <= N_UNITS; i++)
			CU_ASSERT_DOUBLE_EQUAL(yk[i], ys[i], tol);
	}
}

static void test_auto_paths(void)
{
	lat_ode_opts opts = base_opts(LAT_METHOD_AUTO);
	double y[DIM_MAX];
	char err[LAT_ERRLEN] = "";
	lat_ode_stats st;
	fixture f;

	/* exact: linear units, constant bias */
	fixture_init(&f, 0, 0, 50);
	CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
	CU_ASSERT_EQUAL(st.method_used, LAT_METHOD_EXACT);
	CU_ASSERT_EQUAL(st.polished, 0);
	CU_ASSERT(steady_error(&f, y) < 10 * opts.steady_tol);

	/* explicit, then the polish: relu with silent units, alpha = 4 */
	fixture_init(&f, 1, 0, 51);
	for (size_t i = 0; i < K_CIRCUITS * N_UNITS; i++)
		f.z[i] = 2 * f.z[i] - 3;
	CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
	CU_ASSERT_EQUAL(st.method_used, LAT_METHOD_RK8PD);
	CU_ASSERT_EQUAL(st.switches, 0);
	CU_ASSERT_EQUAL(st.polished, 1);
	CU_ASSERT(st.steps < AUTO_PROBE_STEPS);
	check_relu_fixed(&f, y, 1e-12);

	/* the stiff switch: a fast inhibitory neuron (tau_inh = 1e-3 tau / 1e4) makes the system stiff
	 * without oscillation; after the probe BDF advances further per right-hand side and finishes */
	f.c.tau_inh = 1e-3;
	CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
	CU_ASSERT(st.switches >= 1);
	CU_ASSERT_EQUAL(st.method_used, LAT_METHOD_BDF);
	CU_ASSERT_EQUAL(st.polished, 1);
	check_relu_fixed(&f, y, 1e-12);
	/* the race both ways: at alpha = 1e4 the loop oscillates at sqrt(alpha) / tau, BDF is probed and
	 * loses (its steps are limited by the oscillation too), rk8pd finishes */
	f.c.tau_inh = 5;
	f.c.alpha = 1e4;
	CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
	CU_ASSERT(st.switches >= 2);
	CU_ASSERT_EQUAL(st.method_used, LAT_METHOD_RK8PD);
	CU_ASSERT_EQUAL(st.polished, 1);
	check_relu_fixed(&f, y, 1e-12);

	/* a stall near the band: t_max cut to where the residual is still about 30 steady_tol (measured by
	 * a looser settle). auto polishes it; rk8pd with the same budget reports the time limit. */
	fixture_init(&f, 0, 1, 52);
	{
		lat_ode_opts loose = opts, cut = opts, rk;
		loose.steady_tol = 30 * opts.steady_tol;
		CU_ASSERT_EQUAL_FATAL(settle_fixture(&f, &f.sys, &loose, y, &st, err), LAT_OK);
		cut.t_max = st.settle_time;
		rk = cut;
		rk.method = LAT_METHOD_RK8PD;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &cut, y, &st, err), LAT_OK);
		CU_ASSERT_EQUAL(st.polished, 1);
		CU_ASSERT(steady_error(&f, y) < 1e-12);
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &rk, y, &st, err), LAT_ENOTSTEADY);
		CU_ASSERT_EQUAL(st.cause, LAT_ODE_CAUSE_TIME);
	}

	/* rejected as unstable: rho < 0 makes the homeostatic fixed point a saddle. Starting on it, displaced
	 * along a difference mode (r_0 up, r_1 down: decays at -1/tau, no part in the unstable mean block),
	 * the trajectory's residual falls below steady_tol and the polish lands on the saddle, which auto
	 * refuses with its cause. */
	f.c.bias_rho = -1;
	{
		lat_ode *o = lat_ode_alloc(&f.sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		for (size_t k = 0; k < K_CIRCUITS; k++) {
			double *yk = y + k * f.dim1;
			CU_ASSERT_EQUAL(lat_circuit_steady(&f.c, f.z + k * N_UNITS, yk, err), LAT_OK);
			yk[0] += 1e-3;
			yk[1] -= 1e-3;
		}
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, &st, err), LAT_ENOTSTEADY);
		CU_ASSERT_EQUAL(st.cause, LAT_ODE_CAUSE_UNSTABLE);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "unstable"));
		lat_ode_free(o);
	}
}

static void test_bdf_structured_vs_dense(void)
{
	fixture f;
	lat_ode_opts opts = base_opts(LAT_METHOD_BDF);
	lat_ode_system dense, dq;
	double ys[DIM_MAX], yd[DIM_MAX], yq[DIM_MAX];
	char err[LAT_ERRLEN] = "";
	lat_ode_stats st_s, st_d, st_q;
	size_t i;

	fixture_init(&f, 0, 0, 43);
	dense = f.sys;
	dense.newton_solve = NULL;
	dq = dense;
	dq.jacobian = NULL;
	CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, ys, &st_s, err), LAT_OK);
	CU_ASSERT_EQUAL(settle_fixture(&f, &dense, &opts, yd, &st_d, err), LAT_OK);
	CU_ASSERT_EQUAL(settle_fixture(&f, &dq, &opts, yq, &st_q, err), LAT_OK);
	/* the same Newton matrices give the same trajectory; difference quotients only the same fixed point
	 */
	for (i = 0; i < f.sys.dim; i++) {
		CU_ASSERT_DOUBLE_EQUAL(ys[i], yd[i], 1e-8);
		CU_ASSERT_DOUBLE_EQUAL(ys[i], yq[i], 20 * opts.steady_tol);
	}
	CU_ASSERT(steady_error(&f, ys) < 10 * opts.steady_tol);
	CU_ASSERT(steady_error(&f, yq) < 10 * opts.steady_tol);
	CU_ASSERT(st_s.jac_evals > 0 && st_d.jac_evals > 0);
	/* the difference-quotient Jacobian costs dim extra rhs evaluations per setup */
	CU_ASSERT(st_q.rhs_evals > st_d.rhs_evals);
}

static void test_settle_homeostatic(void)
{
	fixture f;
	size_t m, k, i;

	fixture_init(&f, 0, 1, 44);
	for (m = 0; m < sizeof integrators / sizeof integrators[0]; m++) {
		lat_ode_opts opts = base_opts(integrators[m]);
		double y[DIM_MAX];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
		CU_ASSERT(steady_error(&f, y) < 10 * opts.steady_tol);
		for (k = 0; k < K_CIRCUITS; k++) {
			double mean = 0;
			for (i = 0; i < N_UNITS; i++)
				mean += y[k * f.dim1 + i] / N_UNITS;
			CU_ASSERT_DOUBLE_EQUAL(mean, f.c.rate_target, 10 * opts.steady_tol);
		}
	}
}

static void test_settle_reuse_new_drive(void)
{
	fixture f;
	size_t m, rep, i;

	fixture_init(&f, 0, 0, 45);
	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		double y[DIM_MAX];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		lat_ode *o = lat_ode_alloc(&f.sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		initial_state(&f, y);
		for (rep = 0; rep < 3; rep++) {
			/* the engine reads the borrowed drives at every evaluation */
			for (i = 0; i < K_CIRCUITS * N_UNITS; i++)
				f.z[i] = fmod(f.z[i] + 0.37 * (double)(i % 5), 2.0);
			CU_ASSERT_EQUAL(lat_ode_settle(o, y, &st, err), LAT_OK);
			CU_ASSERT(steady_error(&f, y) < 10 * opts.steady_tol);
		}
		/* settling from the fixed point itself is free */
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, &st, err), LAT_OK);
		CU_ASSERT_EQUAL(st.steps, 0);
		CU_ASSERT_EQUAL(st.settle_time, 0);
		CU_ASSERT_EQUAL(st.rhs_evals, 1);
		lat_ode_free(o);
	}
}

static void test_not_steady(void)
{
	fixture f;
	size_t m;

	fixture_init(&f, 0, 0, 46);
	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		double y[DIM_MAX];
		char err[LAT_ERRLEN] = "";
		lat_ode_stats st;
		opts.t_max = 5;
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_ENOTSTEADY);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "residual"));
		CU_ASSERT(st.residual > opts.steady_tol);
		opts = base_opts(all_methods[m]);
		opts.max_steps = 3;
		err[0] = 0;
		if (all_methods[m] == LAT_METHOD_EXACT) {
			/* The analytic settle bound needs one evaluation of the flow, so 3 steps are plenty. */
			CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_OK);
			CU_ASSERT_EQUAL(st.steps, 1);
			CU_ASSERT(st.residual < opts.steady_tol);
			continue;
		}
		CU_ASSERT_EQUAL(settle_fixture(&f, &f.sys, &opts, y, &st, err), LAT_ENOTSTEADY);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "residual"));
	}
}

static void test_rhs_failure(void)
{
	const double y0[] = {1, -2, 3};
	long calls = 0;
	decay_params p = {.tau = 2, .fail_after = 0, .calls = &calls};
	lat_ode_system sys = decay_system(&p);
	size_t m;

	for (m = 0; m < sizeof integrators / sizeof integrators[0]; m++) {
		lat_ode_opts opts = base_opts(integrators[m]);
		char err[LAT_ERRLEN] = "";
		double y[3];
		lat_ode *o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		/* failing at once, and failing inside the integrator after a few good evaluations */
		calls = 0;
		p.fail_after = 0;
		memcpy(y, y0, sizeof y);
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, NULL, err), LAT_ESOLVER);
		calls = 0;
		p.fail_after = 20;
		memcpy(y, y0, sizeof y);
		err[0] = 0;
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, NULL, err), LAT_ESOLVER);
		CU_ASSERT(strlen(err) > 0);
		if (integrators[m] != LAT_METHOD_RK8PD)
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "CV_"));
		CU_ASSERT(calls > 20);
		/* and through dense output */
		calls = 0;
		p.fail_after = 20;
		CU_ASSERT_EQUAL(lat_ode_restart(o, y0, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_ode_advance(o, 50, y, NULL, err), LAT_ESOLVER);
		lat_ode_free(o);
	}
}

static int nan_rhs(const void *params, const double *y, double *dydt)
{
	size_t i;

	(void)params;
	for (i = 0; i < 3; i++)
		dydt[i] = y[i] > 0.5 ? -y[i] : NAN;
	return 0;
}

static void test_divergence(void)
{
	const double y0[] = {1, 1, 1};
	decay_params p = {.tau = 2, .fail_after = -1};
	lat_ode_system sys = decay_system(&p);
	size_t m;

	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		lat_ode_opts opts = base_opts(all_methods[m]);
		double y[3] = {1, INFINITY, 0};
		char err[LAT_ERRLEN] = "";
		lat_ode *o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, NULL, err), LAT_EDIVERGE);
		lat_ode_free(o);
	}
	/* a right-hand side that turns NaN mid-run: rk8pd accepts the step, the engine must catch it */
	sys.rhs = nan_rhs;
	{
		lat_ode_opts opts = base_opts(LAT_METHOD_RK8PD);
		double y[3];
		char err[LAT_ERRLEN] = "";
		lat_ode *o = lat_ode_alloc(&sys, &opts, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		memcpy(y, y0, sizeof y);
		CU_ASSERT_EQUAL(lat_ode_settle(o, y, NULL, err), LAT_EDIVERGE);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "non-finite"));
		lat_ode_free(o);
	}
}

static void test_alloc_errors(void)
{
	fixture f;
	lat_ode_opts opts = base_opts(LAT_METHOD_EXACT);
	lat_ode_system bad;
	char err[LAT_ERRLEN] = "";

	fixture_init(&f, 1, 0, 47);
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&f.sys, &opts, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exact"));
	fixture_init(&f, 0, 1, 47);
	err[0] = 0;
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&f.sys, &opts, err));
	CU_ASSERT(strlen(err) > 0);
	fixture_init(&f, 0, 0, 47);
	opts = base_opts(LAT_METHOD_BDF);
	opts.rtol = 0;
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&f.sys, &opts, err));
	opts = base_opts(LAT_METHOD_BDF);
	opts.max_steps = 0;
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&f.sys, &opts, err));
	opts = base_opts(LAT_METHOD_BDF);
	opts.method = (lat_method)17;
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&f.sys, &opts, err));
	bad = f.sys;
	bad.residual = NULL;
	opts = base_opts(LAT_METHOD_RK8PD);
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&bad, &opts, err));
	bad = f.sys;
	bad.dim = 0;
	CU_ASSERT_PTR_NULL(lat_ode_alloc(&bad, &opts, NULL));
	lat_ode_free(NULL);
}

static void test_method_names(void)
{
	size_t m;
	lat_method parsed;

	for (m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
		CU_ASSERT_EQUAL(lat_method_parse(lat_method_name(all_methods[m]), &parsed), LAT_OK);
		CU_ASSERT_EQUAL(parsed, all_methods[m]);
	}
	CU_ASSERT_STRING_EQUAL(lat_method_name(LAT_METHOD_RK8PD), "rk8pd");
	CU_ASSERT_STRING_EQUAL(lat_method_name(LAT_METHOD_BDF), "bdf");
	CU_ASSERT_EQUAL(lat_method_parse("euler", &parsed), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_method_parse("BDF", &parsed), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_method_parse("", &parsed), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_method_parse(NULL, &parsed), LAT_EINVAL);
}

static CU_TestInfo tests[] = {
    {"CVODE tolerance tied to steady_tol", test_cvode_tolerance_tied_to_steady_tol},
    {"decay: advance matches exp(-t/tau)", test_decay_advance},
    {"decay: advance argument errors", test_decay_advance_errors},
    {"max_steps bounds a whole traced settle", test_sampled_settle_max_steps},
    {"max_steps bounds dense output from the restart on", test_advance_max_steps_since_restart},
    {"decay: advance after a settle runs past t_max", test_advance_after_settle},
    {"decay: settle time and state", test_decay_settle},
    {"batch: every method settles to the steady state", test_settle_batch_all_methods},
    {"batch: relu settles (integrators)", test_settle_relu_batch},
    {"batch: relu with silent units (active-set fixed point)", test_settle_relu_silent_units},
    {"batch: bdf structured = dense = difference quotients", test_bdf_structured_vs_dense},
    {"batch: homeostatic bias reaches rate_target", test_settle_homeostatic},
    {"batch: engine reuse with new drives", test_settle_reuse_new_drive},
    {"t_max / max_steps too small: ENOTSTEADY", test_not_steady},
    {"rhs failure: ESOLVER", test_rhs_failure},
    {"non-finite state: EDIVERGE", test_divergence},
    {"alloc errors and free(NULL)", test_alloc_errors},
    {"method names", test_method_names},
    {"auto: exact, explicit + polish, stiff switch, stall polish, unstable", test_auto_paths},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "ode", .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}

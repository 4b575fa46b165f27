/* test_circuit.c: the rate circuit's rhs, Jacobian, Newton solve and closed forms against independent truths.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "lateral/circuit.h"
#include "lateral/err.h"
#include "runner.h"

#define MAXDIM 8

/* The hand-computed N = 3 case: tau = 2, tau_inh = 4, alpha = 0.5, b = 1. */
static lat_circuit small(int relu, int dynamic)
{
	lat_circuit c = {.n = 3,
			 .tau = 2,
			 .tau_inh = 4,
			 .alpha = 0.5,
			 .bias = 1,
			 .relu = relu,
			 .bias_dynamic = dynamic,
			 .bias_tau = 10,
			 .bias_rho = 2,
			 .rate_target = 3};
	return c;
}

static void test_dim(void)
{
	lat_circuit c = small(0, 0), d = small(0, 1);

	CU_ASSERT_EQUAL(lat_circuit_dim(&c), 4);
	CU_ASSERT_EQUAL(lat_circuit_dim(&d), 5);
}

static void test_rhs_linear(void)
{
	lat_circuit c = small(0, 0);
	const double z[] = {1, 2, 3}, y[] = {0.5, 1.0, 1.5, 0.2};
	double f[4];

	/* mean r = 1; u_i = z_i - 0.5 * 0.2 + 1 = z_i + 0.9 */
	lat_circuit_rhs(&c, z, y, f);
	CU_ASSERT_DOUBLE_EQUAL(f[0], (1.9 - 0.5) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[1], (2.9 - 1.0) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[2], (3.9 - 1.5) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[3], (-0.2 + 1.0 - 1.0) / 4, 1e-15);
	/* max(2 * 1.2, 4 * 0.05) */
	CU_ASSERT_DOUBLE_EQUAL(lat_circuit_residual(&c, z, y), 2.4, 1e-14);
}

static void test_rhs_relu(void)
{
	lat_circuit c = small(1, 0);
	const double z[] = {-2, 0.5, 1}, y[] = {0.5, 1.0, 1.5, 0.2};
	double f[4];

	/* u = z + 0.9 = (-1.1, 1.4, 1.9): the first unit is silent */
	lat_circuit_rhs(&c, z, y, f);
	CU_ASSERT_DOUBLE_EQUAL(f[0], (0 - 0.5) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[1], (1.4 - 1.0) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[2], (1.9 - 1.5) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[3], -0.05, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(lat_circuit_residual(&c, z, y), 0.5, 1e-14);
}

static void test_rhs_dynamic(void)
{
	lat_circuit c = small(0, 1);
	const double z[] = {1, 2, 3}, y[] = {0.5, 1.0, 1.5, 0.2, 2.0};
	double f[5];

	/* b = 2 from the state: u = z - 0.1 + 2; db/dt = rho (3 - 1) / 10 */
	lat_circuit_rhs(&c, z, y, f);
	CU_ASSERT_DOUBLE_EQUAL(f[0], (2.9 - 0.5) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[1], (3.9 - 1.0) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[2], (4.9 - 1.5) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[3], (-0.2 + 1.0 - 2.0) / 4, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[4], 0.4, 1e-15);
	/* max(2 * 1.7, 4 * 0.3, 10 * 0.4) */
	CU_ASSERT_DOUBLE_EQUAL(lat_circuit_residual(&c, z, y), 4.0, 1e-14);
}

/* A random circuit of n units in each of the three variants, with a state whose relu inputs stay
 * away from the kink (|u_i| >= 0.05) so that finite differences are valid. */
static void random_case(gsl_rng *r, int variant, size_t n, lat_circuit *c, double *z, double *y)
{
	size_t i;
	double b, shift;

	*c = (lat_circuit){.n = n,
			   .tau = 1 + 9 * gsl_rng_uniform(r),
			   .tau_inh = 1 + 9 * gsl_rng_uniform(r),
			   .alpha = -0.5 + 5 * gsl_rng_uniform(r),
			   .bias = 0.5,
			   .relu = variant == 1,
			   .bias_dynamic = variant == 2,
			   .bias_tau = 20,
			   .bias_rho = 0.7,
			   .rate_target = 2};
	for (i = 0; i < n + 1; i++)
		y[i] = gsl_rng_uniform(r);
	if (c->bias_dynamic)
		y[n + 1] = 0.3 + gsl_rng_uniform(r);
	b = c->bias_dynamic ? y[n + 1] : c->bias;
	shift = b - c->alpha * y[n];
	for (i = 0; i < n; i++) {
		double u = 2 * gsl_rng_uniform(r) - 1;
		if (fabs(u) < 0.05)
			u = u < 0 ? -0.5 : 0.5;
		z[i] = u - shift;
	}
}

static void test_jacobian_fd(void)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	const double h = 1e-6;
	int variant, n_active = 0;

	gsl_rng_set(r, 11);
	for (variant = 0; variant < 3; variant++) {
		lat_circuit c;
		double z[6], y[MAXDIM], jac[MAXDIM * MAXDIM], fp[MAXDIM], fm[MAXDIM];
		size_t dim, i, j;
		random_case(r, variant, 6, &c, z, y);
		dim = lat_circuit_dim(&c);
		lat_circuit_jacobian(&c, z, y, jac);
		for (j = 0; j < dim; j++) {
			double yj = y[j];
			y[j] = yj + h;
			lat_circuit_rhs(&c, z, y, fp);
			y[j] = yj - h;
			lat_circuit_rhs(&c, z, y, fm);
			y[j] = yj;
			for (i = 0; i < dim; i++)
				CU_ASSERT_DOUBLE_EQUAL(jac[i * dim + j], (fp[i] - fm[i]) / (2 * h), 1e-7);
		}
		if (variant == 1)
			for (i = 0; i < 6; i++)
				n_active += jac[i * dim + 6] != 0;
	}
	/* the relu case must exercise both active and silent units */
	CU_ASSERT(n_active > 0 && n_active < 6);
	gsl_rng_free(r);
}

static void test_newton_solve_vs_lu(void)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	int variant, rep;

	gsl_rng_set(r, 5);
	for (variant = 0; variant < 3; variant++) {
		for (rep = 0; rep < 4; rep++) {
			lat_circuit c;
			double z[5], y[MAXDIM], jac[MAXDIM * MAXDIM], x[MAXDIM], b[MAXDIM];
			double gamma = 0.1 + 50 * gsl_rng_uniform(r);
			size_t dim, i, j;
			int s;
			gsl_matrix *m;
			gsl_permutation *p;
			gsl_vector *gb, *gx;
			random_case(r, variant, 5, &c, z, y);
			dim = lat_circuit_dim(&c);
			m = gsl_matrix_alloc(dim, dim);
			p = gsl_permutation_alloc(dim);
			gb = gsl_vector_alloc(dim);
			gx = gsl_vector_alloc(dim);
			lat_circuit_jacobian(&c, z, y, jac);
			for (i = 0; i < dim; i++) {
				b[i] = x[i] = 2 * gsl_rng_uniform(r) - 1;
				gsl_vector_set(gb, i, b[i]);
				for (j = 0; j < dim; j++)
					gsl_matrix_set(m, i, j, (i == j) - gamma * jac[i * dim + j]);
			}
			CU_ASSERT_EQUAL(gsl_linalg_LU_decomp(m, p, &s), 0);
			CU_ASSERT_EQUAL(gsl_linalg_LU_solve(m, p, gb, gx), 0);
			CU_ASSERT_EQUAL(lat_circuit_newton_solve(&c, z, y, gamma, x), LAT_OK);
			for (i = 0; i < dim; i++)
				CU_ASSERT_DOUBLE_EQUAL(x[i], gsl_vector_get(gx, i),
						       1e-12 * (1 + fabs(gsl_vector_get(gx, i))));
			gsl_vector_free(gx);
			gsl_vector_free(gb);
			gsl_permutation_free(p);
			gsl_matrix_free(m);
		}
	}
	gsl_rng_free(r);
}

static void test_newton_solve_singular(void)
{
	lat_circuit c = small(0, 0);
	const double z[] = {1, 2, 3}, y[] = {0.5, 1.0, 1.5, 0.2};
	double x[] = {1, 1, 1, 1};

	/* gamma = -tau makes every diagonal pivot 1 + gamma/tau vanish */
	CU_ASSERT_EQUAL(lat_circuit_newton_solve(&c, z, y, -c.tau, x), LAT_ESOLVER);
}

static void test_steady_linear(void)
{
	lat_circuit c = small(0, 0);
	const double z[] = {1, 2, 3};
	double ys[4], f[4];
	size_t i;

	/* zbar = 2: r_inh* = 2/1.5, r_i* = 1 + z_i - (1/3) 2 */
	CU_ASSERT_EQUAL_FATAL(lat_circuit_steady(&c, z, ys, NULL), LAT_OK);
	CU_ASSERT_DOUBLE_EQUAL(ys[0], 4.0 / 3, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(ys[1], 7.0 / 3, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(ys[2], 10.0 / 3, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(ys[3], 4.0 / 3, 1e-15);
	lat_circuit_rhs(&c, z, ys, f);
	for (i = 0; i < 4; i++)
		CU_ASSERT_DOUBLE_EQUAL(f[i], 0, 1e-15);
	CU_ASSERT(lat_circuit_residual(&c, z, ys) < 1e-14);
}

static void test_steady_dynamic(void)
{
	lat_circuit c = small(0, 1);
	const double z[] = {1, 2, 3};
	double ys[5], f[5];
	size_t i;

	/* b* = 3 - 2/1.5 = 5/3, r_i* = z_i + 1, mean r* = rate_target */
	CU_ASSERT_EQUAL_FATAL(lat_circuit_steady(&c, z, ys, NULL), LAT_OK);
	CU_ASSERT_DOUBLE_EQUAL(ys[4], 5.0 / 3, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(ys[0], 2, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(ys[1], 3, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(ys[2], 4, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL((ys[0] + ys[1] + ys[2]) / 3, c.rate_target, 1e-14);
	lat_circuit_rhs(&c, z, ys, f);
	for (i = 0; i < 5; i++)
		CU_ASSERT_DOUBLE_EQUAL(f[i], 0, 1e-15);
}

static void test_steady_relu(void)
{
	lat_circuit c = small(1, 0);
	const double z_active[] = {1, 2, 3}, z_silent[] = {-5, 2, 3};
	double ys[4], f[4];
	char err[LAT_ERRLEN] = "";
	size_t i;

	CU_ASSERT_EQUAL(lat_circuit_steady(&c, z_active, ys, err), LAT_OK);
	lat_circuit_rhs(&c, z_active, ys, f);
	for (i = 0; i < 4; i++)
		CU_ASSERT_DOUBLE_EQUAL(f[i], 0, 1e-15);
	/* zbar = 0: r_1 = 1 - 5 < 0 */
	CU_ASSERT_EQUAL(lat_circuit_steady(&c, z_silent, ys, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "inactive"));
}

/* The mean-rate / r_inh 2x2 block of tau = 30, tau_inh = 5 has disc = 1/144 - alpha/150. */
static lat_circuit exact_case(double alpha)
{
	lat_circuit c = {.n = 6, .tau = 30, .tau_inh = 5, .alpha = alpha, .bias = 0.8};
	return c;
}

static const double exact_z[] = {0.3, -1.2, 0.8, 2.0, 0.1, -0.4};
static const double exact_y0[] = {1.5, 0.2, -0.7, 0.9, 2.2, 0.0, 1.3};

static double disc_of(const lat_circuit *c)
{
	double k = 0.5 * (1 / c->tau - 1 / c->tau_inh);
	return k * k - c->alpha / (c->tau * c->tau_inh);
}

static void test_exact_initial_and_derivative(void)
{
	const double alphas[] = {0.5, 10, 150.0 / 144, -0.5};
	const double ts[] = {0.3, 4, 40, 200};
	const double h = 1e-4;
	size_t a, k, i;

	for (a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
		lat_circuit c = exact_case(alphas[a]);
		double y[7], yp[7], ym[7], f[7];
		CU_ASSERT_EQUAL(lat_circuit_exact(&c, exact_z, exact_y0, 0, y, NULL), LAT_OK);
		for (i = 0; i < 7; i++)
			CU_ASSERT_DOUBLE_EQUAL(y[i], exact_y0[i], 1e-15);
		for (k = 0; k < sizeof ts / sizeof ts[0]; k++) {
			lat_circuit_exact(&c, exact_z, exact_y0, ts[k], y, NULL);
			lat_circuit_exact(&c, exact_z, exact_y0, ts[k] + h, yp, NULL);
			lat_circuit_exact(&c, exact_z, exact_y0, ts[k] - h, ym, NULL);
			lat_circuit_rhs(&c, exact_z, y, f);
			for (i = 0; i < 7; i++)
				CU_ASSERT_DOUBLE_EQUAL((yp[i] - ym[i]) / (2 * h), f[i], 1e-8);
		}
	}
}

static void test_exact_large_t(void)
{
	const double alphas[] = {0.5, 10, 150.0 / 144};
	const double ts[] = {1e4, 1e6};
	size_t a, k, i;

	for (a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
		lat_circuit c = exact_case(alphas[a]);
		double y[7], ys[7];
		CU_ASSERT_EQUAL_FATAL(lat_circuit_steady(&c, exact_z, ys, NULL), LAT_OK);
		for (k = 0; k < sizeof ts / sizeof ts[0]; k++) {
			CU_ASSERT_EQUAL(lat_circuit_exact(&c, exact_z, exact_y0, ts[k], y, NULL), LAT_OK);
			for (i = 0; i < 7; i++)
				CU_ASSERT_DOUBLE_EQUAL(y[i], ys[i], 1e-12);
		}
	}
}

static int gsl_circuit_rhs(double t, const double y[], double f[], void *params)
{
	(void)t;
	lat_circuit_rhs(params, exact_z, y, f);
	return GSL_SUCCESS;
}

static void test_exact_vs_rk8pd(void)
{
	/* real pair, complex pair, critically damped (disc = 0 analytically) */
	const double alphas[] = {0.5, 10, 150.0 / 144};
	const int disc_sign[] = {1, -1, 0};
	size_t a, i;

	for (a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
		lat_circuit c = exact_case(alphas[a]);
		gsl_odeiv2_system sys = {gsl_circuit_rhs, NULL, 7, &c};
		gsl_odeiv2_driver *d =
		    gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, 1e-3, 1e-13, 1e-13);
		double yr[7], ye[7], t = 0;
		double disc = disc_of(&c);
		CU_ASSERT(disc_sign[a] == 0 ? fabs(disc) < 1e-15 : disc * disc_sign[a] > 1e-4);
		memcpy(yr, exact_y0, sizeof yr);
		CU_ASSERT_EQUAL(gsl_odeiv2_driver_apply(d, &t, 50, yr), GSL_SUCCESS);
		CU_ASSERT_EQUAL(lat_circuit_exact(&c, exact_z, exact_y0, 50, ye, NULL), LAT_OK);
		for (i = 0; i < 7; i++)
			CU_ASSERT_DOUBLE_EQUAL(ye[i], yr[i], 1e-10);
		gsl_odeiv2_driver_free(d);
	}
}

static void test_exact_in_place_and_errors(void)
{
	lat_circuit c = exact_case(10);
	double y[7], yref[7];
	char err[LAT_ERRLEN] = "";

	memcpy(y, exact_y0, sizeof y);
	lat_circuit_exact(&c, exact_z, exact_y0, 17, yref, NULL);
	CU_ASSERT_EQUAL(lat_circuit_exact(&c, exact_z, y, 17, y, NULL), LAT_OK);
	CU_ASSERT(memcmp(y, yref, sizeof y) == 0);
	c.relu = 1;
	CU_ASSERT_EQUAL(lat_circuit_exact(&c, exact_z, exact_y0, 1, y, err), LAT_EINVAL);
	CU_ASSERT(strlen(err) > 0);
	c.relu = 0;
	c.bias_dynamic = 1;
	c.bias_tau = 10;
	err[0] = 0;
	CU_ASSERT_EQUAL(lat_circuit_exact(&c, exact_z, exact_y0, 1, y, err), LAT_EINVAL);
	CU_ASSERT(strlen(err) > 0);
}

static void test_check(void)
{
	lat_circuit ok = small(0, 1), c;
	char err[LAT_ERRLEN];

	CU_ASSERT_EQUAL(lat_circuit_check(&ok, err), LAT_OK);
	c = ok, c.tau = 0;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tau"));
	c = ok, c.tau = -1;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	c = ok, c.tau_inh = 0;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tau_inh"));
	c = ok, c.alpha = -1;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "alpha"));
	c = ok, c.alpha = -3;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	c = ok, c.alpha = -0.99;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_OK);
	c = ok, c.n = 0;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "n"));
	c = ok, c.tau = NAN;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	c = ok, c.alpha = NAN;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	c = ok, c.bias = NAN;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	c = ok, c.tau = INFINITY;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	c = ok, c.bias_tau = 0;
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bias_tau"));
	c.bias_dynamic = 0; /* bias_tau is irrelevant for a constant bias */
	CU_ASSERT_EQUAL(lat_circuit_check(&c, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_circuit_check(NULL, err), LAT_EINVAL);
}

static void test_batch_system(void)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	enum { K = 3, N = 4 };
	lat_circuit c;
	double z[K * N], y[K * (N + 1)], f[K * (N + 1)], f1[N + 1], jac[K * (N + 1) * K * (N + 1)];
	double j1[(N + 1) * (N + 1)], x[K * (N + 1)], x0[K * (N + 1)], x1[N + 1], res = 0;
	lat_circuit_batch b = {.c = &c, .n_circuits = K, .z = z};
	lat_ode_system sys;
	size_t k, i, j, dim = N + 1, total = K * dim;

	gsl_rng_set(r, 3);
	for (k = 0; k < K; k++)
		random_case(r, 0, N, &c, z + k * N, y + k * dim);
	lat_circuit_batch_system(&b, &sys);
	CU_ASSERT_EQUAL(sys.dim, total);
	CU_ASSERT_PTR_NOT_NULL(sys.exact);
	CU_ASSERT_EQUAL(sys.rhs(sys.params, y, f), 0);
	CU_ASSERT_EQUAL(sys.jacobian(sys.params, y, jac), 0);
	for (k = 0; k < total; k++)
		x[k] = x0[k] = gsl_rng_uniform(r);
	CU_ASSERT_EQUAL(sys.newton_solve(sys.params, y, 0.7, x), 0);
	for (k = 0; k < K; k++) {
		lat_circuit_rhs(&c, z + k * N, y + k * dim, f1);
		for (i = 0; i < dim; i++)
			CU_ASSERT_EQUAL(f[k * dim + i], f1[i]);
		res = fmax(res, lat_circuit_residual(&c, z + k * N, y + k * dim));
		lat_circuit_jacobian(&c, z + k * N, y + k * dim, j1);
		for (i = 0; i < dim; i++)
			for (j = 0; j < total; j++)
				CU_ASSERT_EQUAL(jac[(k * dim + i) * total + j],
						j / dim == k ? j1[i * dim + j % dim] : 0.0);
		memcpy(x1, x0 + k * dim, sizeof x1);
		CU_ASSERT_EQUAL(lat_circuit_newton_solve(&c, z + k * N, y + k * dim, 0.7, x1), LAT_OK);
		for (i = 0; i < dim; i++)
			CU_ASSERT_EQUAL(x[k * dim + i], x1[i]);
	}
	CU_ASSERT_DOUBLE_EQUAL(sys.residual(sys.params, y, f), res, 1e-14 * res);
	c.relu = 1;
	lat_circuit_batch_system(&b, &sys);
	CU_ASSERT_PTR_NULL(sys.exact);
	CU_ASSERT_PTR_NOT_NULL(sys.newton_solve);
	c.relu = 0;
	c.bias_dynamic = 1;
	c.bias_tau = 5;
	lat_circuit_batch_system(&b, &sys);
	CU_ASSERT_PTR_NULL(sys.exact);
	CU_ASSERT_EQUAL(sys.dim, K * (N + 2));
	gsl_rng_free(r);
}

static void test_plastic_system(void)
{
	/* N = 2, d = 2, constant b = 1 */
	lat_circuit c = {.n = 2, .tau = 2, .tau_inh = 4, .alpha = 0.5, .bias = 1};
	const double x[] = {1, -2}, w_init[] = {0.1, 0.2, 0.3, 0.4};
	lat_circuit_plastic p = {.c = &c, .d = 2, .x = x, .w_init = w_init, .eta = 0.1, .gamma = 0.5};
	/* r = (1, 2), r_inh = 0.4, W = [[0.5, 0], [0, 1]] */
	const double y[] = {1, 2, 0.4, 0.5, 0, 0, 1};
	double f[7];
	lat_ode_system sys;

	lat_circuit_plastic_system(&p, &sys);
	CU_ASSERT_EQUAL_FATAL(sys.dim, 7);
	CU_ASSERT_EQUAL(sys.rhs(sys.params, y, f), 0);
	/* z = W x = (0.5, -2); u = z - 0.2 + 1 = (1.3, -1.2) */
	CU_ASSERT_DOUBLE_EQUAL(f[0], (1.3 - 1) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[1], (-1.2 - 2) / 2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[2], (-0.4 + 1.5 - 1) / 4, 1e-15);
	/* dW_i/dt = -(eta/tau) [(r_i - b) x + gamma (W_i - W_i^init)]: r_1 - b = 0, r_2 - b = 1 */
	CU_ASSERT_DOUBLE_EQUAL(f[3], -0.05 * (0 + 0.5 * 0.4), 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[4], -0.05 * (0 + 0.5 * -0.2), 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[5], -0.05 * (1 + 0.5 * -0.3), 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(f[6], -0.05 * (-2 + 0.5 * 0.6), 1e-15);
	/* max(2 * 1.6, 4 * 0.025, 2 * 0.085) */
	CU_ASSERT_DOUBLE_EQUAL(sys.residual(sys.params, y, f), 3.2, 1e-14);
	CU_ASSERT_PTR_NULL(sys.newton_solve);
	CU_ASSERT_PTR_NULL(sys.exact);
}

/* The settle bound against a fine scan of the exact flow: the residual is below tol at the bound and
 * at every later scanned time, and the bound is not far past the last crossing (oscillating and
 * overdamped mean modes; relu has no bound). */
static void test_settle_bound(void)
{
	const double alphas[] = {10, 1e3, -0.5}, tol = 1e-7;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 11);
	for (size_t a = 0; a < 3; a++) {
		lat_circuit c = {.n = 6, .tau = 3, .tau_inh = 5, .alpha = alphas[a], .bias = 1};
		double z[6], y0[7], y[7], t_bound, last_above = 0;
		for (size_t i = 0; i < 6; i++)
			z[i] = gsl_ran_gaussian(r, 2.0);
		for (size_t i = 0; i < 7; i++)
			y0[i] = gsl_ran_gaussian(r, 2.0);
		CU_ASSERT_EQUAL_FATAL(lat_circuit_settle_bound(&c, z, y0, tol, &t_bound), LAT_OK);
		for (double t = 0; t < 3 * t_bound; t += t_bound / 2000) {
			double res;
			lat_circuit_exact(&c, z, y0, t, y, NULL);
			res = lat_circuit_residual(&c, z, y);
			if (res >= tol)
				last_above = t;
			if (t >= t_bound)
				CU_ASSERT(res < tol);
		}
		CU_ASSERT(last_above > 0.5 * t_bound);
	}
	{
		lat_circuit c = {.n = 6, .tau = 3, .tau_inh = 5, .alpha = 10, .bias = 1, .relu = 1};
		double z[6] = {0}, y0[7] = {0}, t;
		CU_ASSERT_EQUAL(lat_circuit_settle_bound(&c, z, y0, tol, &t), LAT_EINVAL);
	}
	gsl_rng_free(r);
}

static CU_TestInfo tests[] = {
    {"dim", test_dim},
    {"rhs linear N=3 by hand", test_rhs_linear},
    {"rhs relu N=3 by hand", test_rhs_relu},
    {"rhs dynamic bias N=3 by hand", test_rhs_dynamic},
    {"jacobian vs central differences", test_jacobian_fd},
    {"newton_solve vs dense LU", test_newton_solve_vs_lu},
    {"newton_solve singular pivot", test_newton_solve_singular},
    {"steady linear", test_steady_linear},
    {"steady dynamic bias", test_steady_dynamic},
    {"steady relu active / inactive", test_steady_relu},
    {"exact: y(0) and d/dt = rhs", test_exact_initial_and_derivative},
    {"exact: large t is steady", test_exact_large_t},
    {"exact vs rk8pd at t=50", test_exact_vs_rk8pd},
    {"exact in place and errors", test_exact_in_place_and_errors},
    {"check", test_check},
    {"batch system", test_batch_system},
    {"plastic system", test_plastic_system},
    {"settle bound vs a scan of the exact flow", test_settle_bound},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "circuit", .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}

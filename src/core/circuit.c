/* circuit.c: one pool's rate circuit, tau dr_i/dt = -r_i + phi(z_i - alpha r_inh + b), and its closed forms.
 */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_complex.h>
#include <gsl/gsl_poly.h>

#include "lateral/circuit.h"
#include "lateral/err.h"
#include "lateral/rule.h"
#include "simd.h"

const char *const lat_nonlinearity_names[] = {"linear", "relu", NULL};

/* A 1x1 or 2x2 Schur pivot smaller than this, relative to the terms it is formed from, is singular. */
#define PIVOT_RTOL (1e3 * DBL_EPSILON)
/* disc of the 2x2 block below this, relative to its two terms, is rounding noise: critical damping. */
#define DISC_RTOL (64.0 * DBL_EPSILON)
/* |disc| t^2 below this uses the Taylor series of cosh/cos and sinh/sin (truncation error < 1e-16). */
#define SERIES_X2 1e-2
/* s t above this uses exp((T/2 +- s) t) separately, so cosh(s t) cannot overflow. */
#define HYPER_SPLIT 20.0
/* settle bound: refuse when the two real rates are closer than this fraction of the mean rate */
#define SETTLE_BOUND_MIN_SPLIT 0.05
/* settle bound: relative margin on the bound time against rounding in log/exp */
#define SETTLE_BOUND_MARGIN 1e-9

int lat_circuit_check(const lat_circuit *c, char *err)
{
	if (!c)
		return lat_err_set(err, LAT_EINVAL, "circuit: missing parameters");
	if (c->n < 1)
		return lat_err_set(err, LAT_EINVAL, "circuit.n: must be >= 1");
	if (!(isfinite(c->tau) && c->tau > 0))
		return lat_err_set(err, LAT_EINVAL, "circuit.tau: must be finite and > 0 (got %g)", c->tau);
	if (!(isfinite(c->tau_inh) && c->tau_inh > 0))
		return lat_err_set(err, LAT_EINVAL, "circuit.tau_inh: must be finite and > 0 (got %g)",
				   c->tau_inh);
	if (!(isfinite(c->alpha) && c->alpha > -1))
		return lat_err_set(err, LAT_EINVAL, "circuit.alpha: must be finite and > -1 (got %g)",
				   c->alpha);
	if (!isfinite(c->bias))
		return lat_err_set(err, LAT_EINVAL, "circuit.bias: must be finite");
	if (c->bias_dynamic) {
		if (!(isfinite(c->bias_tau) && c->bias_tau > 0))
			return lat_err_set(
			    err, LAT_EINVAL,
			    "circuit.bias_tau: must be finite and > 0 with a dynamic bias (got %g)",
			    c->bias_tau);
		if (!isfinite(c->bias_rho))
			return lat_err_set(err, LAT_EINVAL, "circuit.bias_rho: must be finite");
		if (!isfinite(c->rate_target))
			return lat_err_set(err, LAT_EINVAL, "circuit.rate_target: must be finite");
	}
	return LAT_OK;
}

size_t lat_circuit_dim(const lat_circuit *c)
{
	return c->n + 1 + (c->bias_dynamic ? 1 : 0);
}

/* max that propagates NaN (fmax would drop it and let a non-finite state look settled), and is inlined. */
static inline double max_nan(double acc, double v)
{
	return (v > acc || isnan(v)) ? v : acc;
}

static double bias_of(const lat_circuit *c, const double *y)
{
	return c->bias_dynamic ? y[c->n + 1] : c->bias;
}

/* Mean with four partial sums: the single-accumulator loop is latency-bound and this sits in every
 * right-hand-side evaluation. Fixed summation order, so results are reproducible. */
static double mean_of(const double *v, size_t n)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i, n4 = n - n % 4;

	for (i = 0; i < n4; i += 4) {
		s0 += v[i];
		s1 += v[i + 1];
		s2 += v[i + 2];
		s3 += v[i + 3];
	}
	for (; i < n; i++)
		s0 += v[i];
	return ((s0 + s1) + (s2 + s3)) / (double)n;
}

/* The border rows (r_inh and, when dynamic, b) given the mean rate; shared by every right-hand side. */
static void border_rhs(const lat_circuit *c, const double *y, double mean, double *dydt)
{
	size_t n = c->n;
	double b = bias_of(c, y);

	dydt[n] = (-y[n] + mean - b) / c->tau_inh;
	if (c->bias_dynamic)
		dydt[n + 1] = c->bias_rho * (c->rate_target - mean) / c->bias_tau;
}

void lat_circuit_rhs(const lat_circuit *c, const double *z, const double *y, double *dydt)
{
	size_t n = c->n, i;
	double shift = bias_of(c, y) - c->alpha * y[n];
	double inv_tau = 1.0 / c->tau;
	double mean = mean_of(y, n);

	/* Two loops rather than a test per unit: the linear one is the hot path of every backend. */
	if (c->relu)
		for (i = 0; i < n; i++) {
			double u = z[i] + shift;
			dydt[i] = ((u > 0 ? u : 0) - y[i]) * inv_tau;
		}
	else
		for (i = 0; i < n; i++)
			dydt[i] = (z[i] + shift - y[i]) * inv_tau;
	border_rhs(c, y, mean, dydt);
}

double lat_circuit_residual(const lat_circuit *c, const double *z, const double *y)
{
	size_t n = c->n, i;
	double b = bias_of(c, y);
	double shift = b - c->alpha * y[n];
	double mean = mean_of(y, n);
	double res = fabs(-y[n] + mean - b);

	for (i = 0; i < n; i++) {
		double u = z[i] + shift;
		if (c->relu && u < 0)
			u = 0;
		res = max_nan(res, fabs(u - y[i]));
	}
	if (c->bias_dynamic)
		res = max_nan(res, fabs(c->bias_rho * (c->rate_target - mean)));
	return res;
}

/* phi'(u): 1 for linear units; the Heaviside step H(u) (0 at u = 0) for rectified ones. */
static double slope(const lat_circuit *c, double u)
{
	return (!c->relu || u > 0) ? 1.0 : 0.0;
}

/* Writes one circuit's Jacobian into the dim x dim block at jac with row stride ld; the block must be zero.
 */
static void jacobian_block(const lat_circuit *c, const double *z, const double *y, double *jac, size_t ld)
{
	size_t n = c->n, i, j;
	double shift = bias_of(c, y) - c->alpha * y[n];

	for (i = 0; i < n; i++) {
		double h = slope(c, z[i] + shift);
		jac[i * ld + i] = -1.0 / c->tau;
		jac[i * ld + n] = -c->alpha * h / c->tau;
		if (c->bias_dynamic)
			jac[i * ld + n + 1] = h / c->tau;
	}
	for (j = 0; j < n; j++)
		jac[n * ld + j] = 1.0 / ((double)n * c->tau_inh);
	jac[n * ld + n] = -1.0 / c->tau_inh;
	if (c->bias_dynamic) {
		jac[n * ld + n + 1] = -1.0 / c->tau_inh;
		for (j = 0; j < n; j++)
			jac[(n + 1) * ld + j] = -c->bias_rho / ((double)n * c->bias_tau);
	}
}

void lat_circuit_jacobian(const lat_circuit *c, const double *z, const double *y, double *jac)
{
	size_t dim = lat_circuit_dim(c);

	memset(jac, 0, dim * dim * sizeof *jac);
	jacobian_block(c, z, y, jac, dim);
}

/* Block elimination of M = I - gamma J: the N diagonal rows give x_i = (x_i - g h_i (alpha x_inh -
 * x_b)/tau)/d with d = 1 + g/tau; substituting their sum into the border rows leaves a 1x1 or 2x2 Schur
 * complement. */
int lat_circuit_newton_solve(const lat_circuit *c, const double *z, const double *y, double gamma, double *x)
{
	size_t n = c->n, i;
	double shift = bias_of(c, y) - c->alpha * y[n];
	double g_tau = gamma / c->tau, d = 1.0 + g_tau;
	double sum_x = 0, n_active = 0;
	double e, m_hh, P, a11, rhs1, x_inh, x_b = 0;

	if (!(fabs(d) > PIVOT_RTOL * (1.0 + fabs(g_tau))))
		return LAT_ESOLVER;
	for (i = 0; i < n; i++) {
		sum_x += x[i];
		n_active += slope(c, z[i] + shift);
	}
	/* sum_i x_i = (sum_x - P x_inh - Q x_b)/d with P = g alpha H/tau, Q = -g H/tau, H = active units */
	P = g_tau * c->alpha * n_active;
	e = -gamma / ((double)n * c->tau_inh);
	m_hh = 1.0 + gamma / c->tau_inh;
	a11 = m_hh - e * P / d;
	rhs1 = x[n] - e * sum_x / d;
	if (c->bias_dynamic) {
		double Q = -g_tau * n_active;
		double f = gamma * c->bias_rho / ((double)n * c->bias_tau);
		double a12 = gamma / c->tau_inh - e * Q / d;
		double a21 = -f * P / d, a22 = 1.0 - f * Q / d;
		double rhs2 = x[n + 1] - f * sum_x / d;
		double det = a11 * a22 - a12 * a21;
		if (!(fabs(det) > PIVOT_RTOL * (fabs(a11 * a22) + fabs(a12 * a21))) || !isfinite(det))
			return LAT_ESOLVER;
		x_inh = (rhs1 * a22 - a12 * rhs2) / det;
		x_b = (a11 * rhs2 - a21 * rhs1) / det;
		x[n + 1] = x_b;
	} else {
		if (!(fabs(a11) > PIVOT_RTOL * (fabs(m_hh) + fabs(e * P / d))) || !isfinite(a11))
			return LAT_ESOLVER;
		x_inh = rhs1 / a11;
	}
	x[n] = x_inh;
	for (i = 0; i < n; i++) {
		double h = slope(c, z[i] + shift);
		x[i] = (x[i] - h * g_tau * (c->alpha * x_inh - x_b)) / d;
	}
	return LAT_OK;
}

void lat_circuit_error_gains(const lat_circuit *c, double *gain)
{
	size_t n = c->n, i;
	double rate = c->bias_dynamic ? fmax(1.0, fabs(c->bias_rho)) : 1.0;

	for (i = 0; i < n; i++)
		gain[i] = rate;
	gain[n] = fmax(1.0, fabs(c->alpha));
	if (c->bias_dynamic)
		gain[n + 1] = 1.0;
}

/* J x = g by block elimination: the neuron rows give x_i = -tau g_i - h_i (alpha x_inh - x_b); their sum
 * S enters the r_inh row, and with a dynamic bias the b row fixes S itself. */
int lat_circuit_steady_solve(const lat_circuit *c, const double *z, const double *y, const double *f, double *dy)
{
	size_t n = c->n, i;
	double shift = bias_of(c, y) - c->alpha * y[n];
	double sum_g = 0, h_sum = 0, g_inh = -f[n], x_inh, x_b = 0, nn = (double)n;

	for (i = 0; i < n; i++) {
		sum_g -= f[i];
		h_sum += slope(c, z[i] + shift);
	}
	if (c->bias_dynamic) {
		/* S = sum x_i = -N tau_b g_b / rho; then x_inh + x_b = S/N - tau_inh g_inh and
		 * -alpha H x_inh + H x_b = S + tau G */
		double denom = h_sum * (1.0 + c->alpha), s;
		if (!(fabs(c->bias_rho) > 0) || !(fabs(denom) > PIVOT_RTOL * h_sum))
			return LAT_ESOLVER;
		s = nn * c->bias_tau * f[n + 1] / c->bias_rho;
		x_inh = -(s + c->tau * sum_g - h_sum * (s / nn - c->tau_inh * g_inh)) / denom;
		x_b = s / nn - c->tau_inh * g_inh - x_inh;
		dy[n + 1] = x_b;
	} else {
		double denom = 1.0 + c->alpha * h_sum / nn;
		if (!(fabs(denom) > PIVOT_RTOL * (1.0 + fabs(c->alpha))))
			return LAT_ESOLVER;
		x_inh = -(c->tau_inh * g_inh + c->tau * sum_g / nn) / denom;
	}
	dy[n] = x_inh;
	for (i = 0; i < n; i++) {
		double h = slope(c, z[i] + shift);
		dy[i] = c->tau * f[i] - h * (c->alpha * x_inh - x_b);
	}
	return isfinite(x_inh) && isfinite(x_b) ? LAT_OK : LAT_ESOLVER;
}

/* Coefficients of the monic characteristic polynomial of the block of the active-mean s = (1/N) sum_A
 * r_i, r_inh and b, with h = |A| / N:
 *   B = [[-1/tau, -alpha h/tau, h/tau], [1/tau_inh, -1/tau_inh, -1/tau_inh], [-rho/tau_b, 0, 0]]
 * (the top-left 2x2 with a constant bias). lambda^2 + a[1] lambda + a[0], or lambda^3 + a[2] lambda^2 +
 * a[1] lambda + a[0]; returns the degree. */
static int block_poly(const lat_circuit *c, double h, double *a)
{
	double tt = c->tau * c->tau_inh;

	a[2] = 1.0 / c->tau + 1.0 / c->tau_inh;
	a[1] = (1.0 + c->alpha * h) / tt;
	if (!c->bias_dynamic) {
		a[0] = a[1];
		a[1] = a[2];
		return 2;
	}
	a[1] += h * c->bias_rho / (c->tau * c->bias_tau);
	a[0] = c->bias_rho * h * (1.0 + c->alpha) / (tt * c->bias_tau);
	return 3;
}

int lat_circuit_fixed_check(const lat_circuit *c, const double *z, const double *y_from, const double *y_fix,
			    char *why)
{
	size_t n = c->n, i, active = 0;
	double sh_from = bias_of(c, y_from) - c->alpha * y_from[n];
	double sh_fix = bias_of(c, y_fix) - c->alpha * y_fix[n];
	double a[3];
	int stable;

	for (i = 0; i < n; i++) {
		double h = slope(c, z[i] + sh_fix);
		if (h != slope(c, z[i] + sh_from)) {
			lat_err_set(why, LAT_ESOLVER,
				    "relu unit %zu would switch %s (its input goes from %.3g to %.3g at the Newton "
				    "point)",
				    i + 1, h > 0 ? "on" : "off", z[i] + sh_from, z[i] + sh_fix);
			return LAT_FIXED_FLIP;
		}
		active += h > 0;
	}
	if (block_poly(c, (double)active / (double)n, a) == 2)
		stable = a[1] > 0 && a[0] > 0;
	else
		stable = a[2] > 0 && a[0] > 0 && a[2] * a[1] > a[0];
	if (!stable) {
		if (c->bias_dynamic && !(a[0] > 0))
			lat_err_set(why, LAT_ESOLVER,
				    "the fixed point is unstable: with %zu of %zu units active the homeostatic "
				    "bias has no restoring force (rho h (1 + alpha) = %.3g)",
				    active, n, c->bias_rho * (double)active / (double)n * (1 + c->alpha));
		else
			lat_err_set(why, LAT_ESOLVER,
				    "the fixed point is unstable: the pool-mean block fails the Routh-Hurwitz test "
				    "(%zu of %zu units active)",
				    active, n);
		return LAT_FIXED_UNSTABLE;
	}
	return LAT_FIXED_OK;
}

double lat_circuit_slowest_rate(const lat_circuit *c)
{
	double a[3], re;

	if (block_poly(c, 1.0, a) == 2) {
		double half = 0.5 * a[1], disc = half * half - a[0];
		/* the larger root -a0 / (half + sqrt(disc)) without cancellation when a0 is small */
		re = disc < 0 ? -half : -a[0] / (half + sqrt(disc));
	} else {
		gsl_complex r[3];
		gsl_poly_complex_solve_cubic(a[2], a[1], a[0], &r[0], &r[1], &r[2]);
		re = fmax(GSL_REAL(r[0]), fmax(GSL_REAL(r[1]), GSL_REAL(r[2])));
	}
	return fmin(1.0 / c->tau, -re);
}

int lat_circuit_steady(const lat_circuit *c, const double *z, double *ystar, char *err)
{
	size_t n, i;
	double zbar, inh, a, b;
	int status = lat_circuit_check(c, err);

	if (status)
		goto out;
	n = c->n;
	zbar = mean_of(z, n);
	inh = zbar / (1.0 + c->alpha);
	a = c->alpha / (1.0 + c->alpha);
	b = c->bias_dynamic ? c->rate_target - inh : c->bias;
	for (i = 0; i < n; i++) {
		/* r_i* equals the unit's input u_i*, so a rectified unit is consistent only if u_i* >= 0 */
		ystar[i] = b + z[i] - a * zbar;
		if (c->relu && ystar[i] < 0) {
			status = lat_err_set(
			    err, LAT_EINVAL,
			    "relu unit %zu is inactive at the linear fixed point (u = %g): no closed form", i,
			    ystar[i]);
			goto out;
		}
	}
	ystar[n] = inh;
	if (c->bias_dynamic)
		ystar[n + 1] = b;
out:
	return status;
}

/* e^{Tt/2} C(t) and e^{Tt/2} S(t) of e^{At} = e^{Tt/2} [C I + S (A - T/2 I)], where (A - T/2 I)^2 = disc I.
 */
static void flow_coefs(double half_trace, double disc, double t, double *ec, double *es)
{
	double x2 = disc * t * t;

	if (fabs(x2) < SERIES_X2) {
		/* cosh/cos and sinh(x)/x as one series in x^2 = disc t^2 (either sign) */
		double e = exp(half_trace * t);
		*ec = e * (1 + x2 / 2 * (1 + x2 / 12 * (1 + x2 / 30 * (1 + x2 / 56))));
		*es = e * t * (1 + x2 / 6 * (1 + x2 / 20 * (1 + x2 / 42 * (1 + x2 / 72))));
	} else if (disc > 0) {
		double s = sqrt(disc), x = s * t;
		if (fabs(x) < HYPER_SPLIT) {
			double e = exp(half_trace * t);
			*ec = e * cosh(x);
			*es = e * sinh(x) / s;
		} else {
			/* e^{-2|x|} is negligible against 1 here: no cancellation, and no overflow of cosh */
			double ep = exp((half_trace + s) * t), em = exp((half_trace - s) * t);
			*ec = 0.5 * (ep + em);
			*es = 0.5 * (ep - em) / s;
		}
	} else {
		double s = sqrt(-disc), e = exp(half_trace * t);
		*ec = e * cos(s * t);
		*es = e * sin(s * t) / s;
	}
}

int lat_circuit_exact(const lat_circuit *c, const double *z, const double *y0, double t, double *y, char *err)
{
	size_t n, i;
	double zbar, inh_star, a, b, mean_star, m0, v0, k, coupling, disc, ec, es, m, v, decay;
	int status = lat_circuit_check(c, err);

	if (status)
		goto out;
	if (c->relu || c->bias_dynamic) {
		status = lat_err_set(err, LAT_EINVAL,
				     "closed-form propagator needs linear units and a constant bias");
		goto out;
	}
	n = c->n;
	zbar = mean_of(z, n);
	inh_star = zbar / (1.0 + c->alpha);
	a = c->alpha / (1.0 + c->alpha);
	b = c->bias;
	mean_star = b + inh_star; /* mean of r_i* = b + zbar - a zbar */
	m0 = mean_of(y0, n) - mean_star;
	v0 = y0[n] - inh_star;

	/* A - T/2 I = [[-k, -alpha/tau], [1/tau_inh, k]], k = (1/tau - 1/tau_inh)/2, so disc = k^2 -
	 * alpha/(tau tau_inh), formed without the cancellation of T^2/4 - det */
	k = 0.5 * (1.0 / c->tau - 1.0 / c->tau_inh);
	coupling = c->alpha / (c->tau * c->tau_inh);
	disc = k * k - coupling;
	if (fabs(disc) <= DISC_RTOL * (k * k + fabs(coupling)))
		disc = 0;
	flow_coefs(-0.5 * (1.0 / c->tau + 1.0 / c->tau_inh), disc, t, &ec, &es);
	m = ec * m0 + es * (-k * m0 - c->alpha / c->tau * v0);
	v = ec * v0 + es * (m0 / c->tau_inh + k * v0);

	decay = exp(-t / c->tau);
	for (i = 0; i < n; i++) {
		double rstar = b + z[i] - a * zbar;
		double delta = (y0[i] - rstar) - m0;
		y[i] = rstar + delta * decay + m;
	}
	y[n] = inh_star + v;
out:
	return status;
}

int lat_circuit_settle_bound(const lat_circuit *c, const double *z, const double *y0, double tol, double *t)
{
	size_t n = c->n, i;
	double zbar, inh_star, a, mean_star, m0, v0, k, disc, lambda, dmax = 0, bound = 0;
	double a1, b1, a2, b2, k1, k2, bm, bv;

	if (c->relu || c->bias_dynamic || !(tol > 0))
		return LAT_EINVAL;
	zbar = mean_of(z, n);
	inh_star = zbar / (1.0 + c->alpha);
	a = c->alpha / (1.0 + c->alpha);
	mean_star = c->bias + inh_star;
	m0 = mean_of(y0, n) - mean_star;
	v0 = y0[n] - inh_star;
	/* dmax = max_i |delta_i|; a non-finite delta (summed as delta * 0) leaves no bound */
	{
		double m = 0, s = 0;
		for (i = 0; i < n; i++) {
			double delta = fabs((y0[i] - (c->bias + z[i] - a * zbar)) - m0);
			m = delta > m ? delta : m;
			s += delta * 0;
		}
		if (s != 0)
			return LAT_EINVAL;
		dmax = m;
	}
	/* Residual of neuron i: |delta_i(t) + f1(t)|, of r_inh: |f2(t)|, with f1 = m + alpha v and
	 * f2 = m - v for the mean mode p = (m, v) = e^{At} p0 = e^{Tt/2} [C p0 + S B p0]. */
	k = 0.5 * (1.0 / c->tau - 1.0 / c->tau_inh);
	disc = k * k - c->alpha / (c->tau * c->tau_inh);
	lambda = -0.5 * (1.0 / c->tau + 1.0 / c->tau_inh);
	bm = -k * m0 - c->alpha / c->tau * v0;
	bv = m0 / c->tau_inh + k * v0;
	a1 = m0 + c->alpha * v0;
	b1 = bm + c->alpha * bv;
	a2 = m0 - v0;
	b2 = bm - bv;
	if (disc < 0) {
		/* |a cos(wt) + (b/w) sin(wt)| <= sqrt(a^2 + (b/w)^2) */
		double w = sqrt(-disc);
		k1 = hypot(a1, b1 / w);
		k2 = hypot(a2, b2 / w);
	} else {
		/* Two real rates lambda +- s: |f| <= e^{(lambda + s) t} (|a + b/s| + |a - b/s|) / 2. Near critical
		 * damping the constant blows up: no useful bound, the caller searches instead. */
		double sq = sqrt(disc);
		if (sq < SETTLE_BOUND_MIN_SPLIT * -lambda)
			return LAT_EINVAL;
		k1 = 0.5 * (fabs(a1 + b1 / sq) + fabs(a1 - b1 / sq));
		k2 = 0.5 * (fabs(a2 + b2 / sq) + fabs(a2 - b2 / sq));
		lambda += sq;
	}
	/* Each part below its share of tol: delta and f1 below tol/2 each, f2 below tol. */
	if (dmax > 0)
		bound = max_nan(bound, c->tau * log(2 * dmax / tol));
	if (k1 > 0)
		bound = max_nan(bound, log(2 * k1 / tol) / -lambda);
	if (k2 > 0)
		bound = max_nan(bound, log(k2 / tol) / -lambda);
	if (!isfinite(bound))
		return LAT_EINVAL;
	*t = bound * (1 + SETTLE_BOUND_MARGIN);
	return LAT_OK;
}

/* ---- batch of K circuits as one ODE system ---- */

/* Row-sum bound of d(residual)/dy: a neuron's residual -r_i + u_i moves by 1 + |alpha| (+1 with a
 * dynamic b) per unit of state error, r_inh's by 2 (+1). */
static double residual_gain(const lat_circuit *c)
{
	double extra = c->bias_dynamic ? 1 : 0, neuron = 1 + fabs(c->alpha) + extra, inh = 2 + extra;
	return neuron > inh ? neuron : inh;
}

static int batch_settle_bound(const void *params, const double *y0, double tol, double *t)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), k;
	double worst = 0, tk;

	for (k = 0; k < bt->n_circuits; k++) {
		int rc = lat_circuit_settle_bound(bt->c, bt->z + k * n, y0 + k * dim, tol, &tk);
		if (rc)
			return rc;
		worst = max_nan(worst, tk);
	}
	*t = worst;
	return LAT_OK;
}

static int batch_rhs(const void *params, const double *y, double *dydt)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), k;

	for (k = 0; k < bt->n_circuits; k++)
		lat_circuit_rhs(bt->c, bt->z + k * n, y + k * dim, dydt + k * dim);
	return 0;
}

/* max_k |tau_k dy_k/dt| of one circuit, read from an evaluated derivative */
static double scaled_max(const lat_circuit *c, const double *dydt)
{
	size_t n = c->n;
	double res = c->tau * lat_max_abs_nan(dydt, n);

	res = max_nan(res, c->tau_inh * fabs(dydt[n]));
	if (c->bias_dynamic)
		res = max_nan(res, c->bias_tau * fabs(dydt[n + 1]));
	return res;
}

static double batch_residual(const void *params, const double *y, const double *dydt)
{
	const lat_circuit_batch *bt = params;
	size_t dim = lat_circuit_dim(bt->c), k;
	double res = 0;

	(void)y;
	for (k = 0; k < bt->n_circuits; k++)
		res = max_nan(res, scaled_max(bt->c, dydt + k * dim));
	return res;
}

static int batch_newton_solve(const void *params, const double *y, double gamma, double *x)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), k;
	int status = LAT_OK;

	for (k = 0; k < bt->n_circuits && status == LAT_OK; k++)
		status = lat_circuit_newton_solve(bt->c, bt->z + k * n, y + k * dim, gamma, x + k * dim);
	return status;
}

static int batch_jacobian(const void *params, const double *y, double *jac)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), total = bt->n_circuits * dim, k;

	memset(jac, 0, total * total * sizeof *jac);
	for (k = 0; k < bt->n_circuits; k++)
		jacobian_block(bt->c, bt->z + k * n, y + k * dim, jac + k * dim * total + k * dim, total);
	return 0;
}

static int batch_exact(const void *params, const double *y0, double t, double *y)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), k;
	int status = LAT_OK;

	for (k = 0; k < bt->n_circuits && status == LAT_OK; k++)
		status = lat_circuit_exact(bt->c, bt->z + k * n, y0 + k * dim, t, y + k * dim, NULL);
	return status;
}

static void batch_error_gains(const void *params, double *gain)
{
	const lat_circuit_batch *bt = params;
	size_t dim = lat_circuit_dim(bt->c), k;

	for (k = 0; k < bt->n_circuits; k++)
		lat_circuit_error_gains(bt->c, gain + k * dim);
}

static int batch_steady_solve(const void *params, const double *y, const double *f, double *dy)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), k;
	int status = LAT_OK;

	for (k = 0; k < bt->n_circuits && status == LAT_OK; k++)
		status = lat_circuit_steady_solve(bt->c, bt->z + k * n, y + k * dim, f + k * dim, dy + k * dim);
	return status;
}

static int batch_fixed_check(const void *params, const double *y_from, const double *y_fix, char *why)
{
	const lat_circuit_batch *bt = params;
	size_t n = bt->c->n, dim = lat_circuit_dim(bt->c), k;
	int verdict = LAT_FIXED_OK;

	for (k = 0; k < bt->n_circuits && verdict == LAT_FIXED_OK; k++)
		verdict = lat_circuit_fixed_check(bt->c, bt->z + k * n, y_from + k * dim, y_fix + k * dim, why);
	if (verdict && bt->n_circuits > 1 && why) {
		char one[LAT_ERRLEN];
		snprintf(one, sizeof one, "%s", why);
		lat_err_set(why, LAT_ESOLVER, "circuit %zu of %zu: %s", k, bt->n_circuits, one);
	}
	return verdict;
}

void lat_circuit_batch_system(const lat_circuit_batch *b, lat_ode_system *sys)
{
	memset(sys, 0, sizeof *sys);
	sys->dim = b->n_circuits * lat_circuit_dim(b->c);
	sys->params = b;
	sys->residual_gain = residual_gain(b->c);
	sys->rhs = batch_rhs;
	sys->residual = batch_residual;
	sys->newton_solve = batch_newton_solve;
	sys->jacobian = batch_jacobian;
	sys->error_gains = batch_error_gains;
	sys->steady_solve = batch_steady_solve;
	sys->fixed_check = batch_fixed_check;
	if (!b->c->relu && !b->c->bias_dynamic) {
		sys->exact = batch_exact;
		sys->settle_bound = batch_settle_bound;
	}
}

/* ---- one circuit with plastic weights ---- */

static int plastic_rhs(const void *params, const double *y, double *dydt)
{
	const lat_circuit_plastic *p = params;
	const lat_circuit *c = p->c;
	size_t n = c->n, d = p->d, cdim = lat_circuit_dim(c), i, j;
	const double *w = y + cdim;
	double *dw = dydt + cdim;
	double b = bias_of(c, y);
	double shift = b - c->alpha * y[n];
	double mean = mean_of(y, n);
	double rate = p->eta / c->tau;

	for (i = 0; i < n; i++) {
		const double *wi = w + i * d, *wi0 = p->w_init + i * d;
		double u = shift, post = y[i] - b;
		for (j = 0; j < d; j++)
			u += wi[j] * p->x[j];
		if (c->relu && u < 0)
			u = 0;
		dydt[i] = (u - y[i]) / c->tau;
		lat_rule_rate_row(d, dw + i * d, wi, wi0, p->x, post, rate, p->gamma);
	}
	border_rhs(c, y, mean, dydt);
	return 0;
}

static double plastic_residual(const void *params, const double *y, const double *dydt)
{
	const lat_circuit_plastic *p = params;
	size_t cdim = lat_circuit_dim(p->c), nw = p->c->n * p->d, j;
	double res = 0;

	(void)y;
	for (j = 0; j < nw; j++)
		res = max_nan(res, fabs(dydt[cdim + j]));
	return max_nan(p->c->tau * res, scaled_max(p->c, dydt));
}

void lat_circuit_plastic_system(const lat_circuit_plastic *p, lat_ode_system *sys)
{
	memset(sys, 0, sizeof *sys);
	sys->dim = lat_circuit_dim(p->c) + p->c->n * p->d;
	sys->params = p;
	sys->residual_gain = residual_gain(p->c);
	sys->rhs = plastic_rhs;
	sys->residual = plastic_residual;
}

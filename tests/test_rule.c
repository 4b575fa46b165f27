/* test_rule.c: the anti-Hebbian rule by hand, and the closed-form W* against brute-force iteration. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/metrics.h"
#include "lateral/rule.h"
#include "runner.h"

static const lat_rule_opts plain = {.eta = 0.1, .gamma = 0.5, .momentum = 0, .schedule = LAT_SCHED_CONSTANT,
					  .schedule_tau = 1};

static void test_one_update(void)
{
	/* n = 2, d = 2. w starts at w_init, so the gamma term is zero on the first update. */
	double w_init[] = {1, 2, 3, 4}, w[4], x[] = {1, -1}, act[] = {2, -1};
	char err[LAT_ERRLEN];
	lat_rule *p = lat_rule_alloc(2, 2, &plain, w_init, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memcpy(w, w_init, sizeof w);
	lat_rule_accumulate(p, x, act);
	CU_ASSERT_EQUAL(lat_rule_apply(p, w, err), LAT_OK);
	/* w_i -= 0.1 * act_i * x */
	CU_ASSERT_DOUBLE_EQUAL(w[0], 1 - 0.2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(w[1], 2 + 0.2, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(w[2], 3 + 0.1, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(w[3], 4 - 0.1, 1e-15);
	/* Second update, batch of two presentations: average of the Hebbian terms plus gamma (w - w_init). */
	lat_rule_accumulate(p, x, act);
	{
		double x2[] = {0, 2}, act2[] = {1, 1};
		lat_rule_accumulate(p, x2, act2);
	}
	CU_ASSERT_EQUAL(lat_rule_apply(p, w, err), LAT_OK);
	/* neuron 0, coord 0: hebb = (2*1 + 1*0)/2 = 1; w - w_init = -0.2 -> g = 1 - 0.1; w = 0.8 - 0.1*0.9 */
	CU_ASSERT_DOUBLE_EQUAL(w[0], 0.8 - 0.1 * (1 - 0.1), 1e-15);
	/* neuron 1, coord 1: hebb = (-1*-1 + 1*2)/2 = 1.5; w - w_init = -0.1 -> g = 1.5 - 0.05 */
	CU_ASSERT_DOUBLE_EQUAL(w[3], 3.9 - 0.1 * (1.5 - 0.05), 1e-15);
	CU_ASSERT_EQUAL(lat_rule_updates(p), 2);
	/* Applying with nothing accumulated is an error. */
	CU_ASSERT_EQUAL(lat_rule_apply(p, w, err), LAT_EINVAL);
	lat_rule_free(p);
}

static void test_momentum_and_schedule(void)
{
	lat_rule_opts o = {.eta = 0.2, .gamma = 0, .momentum = 0.5, .schedule = LAT_SCHED_INVSQRT,
				 .schedule_tau = 4};
	double w_init[] = {0}, w[] = {0}, x[] = {1}, act[] = {1};
	lat_rule *p = lat_rule_alloc(1, 1, &o, w_init, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_DOUBLE_EQUAL(lat_rule_eta(p), 0.2, 1e-15);
	lat_rule_accumulate(p, x, act);
	lat_rule_apply(p, w, NULL);
	CU_ASSERT_DOUBLE_EQUAL(w[0], -0.2, 1e-15); /* v1 = -0.2 */
	CU_ASSERT_DOUBLE_EQUAL(lat_rule_eta(p), 0.2 / sqrt(1.25), 1e-15);
	lat_rule_accumulate(p, x, act);
	lat_rule_apply(p, w, NULL);
	/* v2 = 0.5 * v1 - eta_1 * 1 */
	CU_ASSERT_DOUBLE_EQUAL(w[0], -0.2 + (-0.1 - 0.2 / sqrt(1.25)), 1e-15);
	lat_rule_free(p);
}

static void test_divergence_keeps_weights(void)
{
	lat_rule_opts o = plain;
	double w_init[] = {1}, w[] = {1}, x[] = {1e200}, act[] = {1e200};
	char err[LAT_ERRLEN];
	lat_rule *p;
	o.eta = 1e100;
	p = lat_rule_alloc(1, 1, &o, w_init, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	lat_rule_accumulate(p, x, act);
	CU_ASSERT_EQUAL(lat_rule_apply(p, w, err), LAT_EDIVERGE);
	CU_ASSERT_EQUAL(w[0], 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "non-finite"));
	lat_rule_free(p);
}

/* All or nothing: the first rows' candidates are finite, the last row's is not (x[2] = 1e300 times a
 * large activity), so no row may change, and the message names w[2][2]. */
static void test_divergence_all_or_nothing(void)
{
	lat_rule_opts o = plain;
	double w_init[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9], x[3] = {1, 1, 1e300}, act[3] = {1, 1, 1e10};
	char err[LAT_ERRLEN];
	lat_rule *p;
	memcpy(w, w_init, sizeof w);
	o.momentum = 0.5;
	p = lat_rule_alloc(3, 3, &o, w_init, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(lat_rule_update(p, x, act, w, NULL, err), LAT_EDIVERGE);
	for (int k = 0; k < 9; k++)
		CU_ASSERT_EQUAL(w[k], w_init[k]);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "w[2][2]"));
	CU_ASSERT_EQUAL(lat_rule_updates(p), 0);
	/* a finite update afterwards works: w[0][0] = 1 - eta (1 x 1 + 0) with plain's eta */
	x[2] = 1;
	act[2] = 1;
	CU_ASSERT_EQUAL(lat_rule_update(p, x, act, w, NULL, err), LAT_OK);
	CU_ASSERT_DOUBLE_EQUAL(w[0], 1 - plain.eta, 1e-15);
	lat_rule_free(p);
}

/* The bounded path (the cached bound of max |w| proves the update finite, so it is not checked) against
 * the checked path (momentum 1e-300: its term is below rounding here, so the weights must be the same
 * bits), and the cache against a max measured by hand: never below it, and never above the recurrence
 * (1 - eta gamma) W + eta (gamma max |w0| + max |act| max |x|) computed here (plus rounding). A bound too
 * large for the proof, or an input that is not finite, goes the checked way, which refuses a divergent
 * update and restores w. */
static void test_bounded_update(void)
{
	enum { N = 7, D = 13 };
	double w_init[N * D], wa[N * D], wb[N * D], x[D], act[N], wmax = NAN, m, w0m = 0, prev;
	lat_rule_opts checked = plain;
	char err[LAT_ERRLEN];
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	lat_rule *pa = NULL, *pb = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rng);
	checked.momentum = 1e-300;
	for (int k = 0; k < N * D; k++) {
		w_init[k] = 1 + gsl_ran_gaussian(rng, 1);
		w0m = fmax(w0m, fabs(w_init[k]));
	}
	memcpy(wa, w_init, sizeof wa);
	memcpy(wb, w_init, sizeof wb);
	pa = lat_rule_alloc(N, D, &plain, w_init, err);
	pb = lat_rule_alloc(N, D, &checked, w_init, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pa);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pb);
	for (int t = 0; t < 20; t++) {
		for (int j = 0; j < D; j++)
			x[j] = gsl_ran_gaussian(rng, 1);
		for (int i = 0; i < N; i++)
			act[i] = gsl_ran_gaussian(rng, 0.5);
		double amax = 0, xmax = 0;
		for (int i = 0; i < N; i++)
			amax = fmax(amax, fabs(act[i]));
		for (int j = 0; j < D; j++)
			xmax = fmax(xmax, fabs(x[j]));
		prev = wmax;
		if (isnan(prev)) /* the first call measures w itself */
			for (int k = 0; k < N * D; k++)
				prev = isnan(prev) || fabs(wa[k]) > prev ? fabs(wa[k]) : prev;
		CU_ASSERT_EQUAL(lat_rule_update(pa, x, act, wa, &wmax, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_rule_update(pb, x, act, wb, NULL, err), LAT_OK);
		m = 0;
		for (int k = 0; k < N * D; k++)
			m = fabs(wa[k]) > m ? fabs(wa[k]) : m;
		CU_ASSERT(m <= wmax);
		CU_ASSERT(wmax <= ((1 - plain.eta * plain.gamma) * prev +
				   plain.eta * (plain.gamma * w0m + amax * xmax)) * (1 + 1e-13));
	}
	CU_ASSERT_EQUAL(memcmp(wa, wb, sizeof wa), 0);
	/* an activity of 1e305 makes the bound exceed 1e300: checked, and it overflows at row 3 */
	act[3] = 1e305;
	x[5] = 1e10;
	memcpy(wb, wa, sizeof wb);
	CU_ASSERT_EQUAL(lat_rule_update(pa, x, act, wa, &wmax, err), LAT_EDIVERGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "w[3][5]"));
	CU_ASSERT_EQUAL(memcmp(wa, wb, sizeof wa), 0);
	CU_ASSERT(isnan(wmax));
	/* an infinite or NaN input is never taken for bounded, wherever it sits among finite ones */
	act[3] = INFINITY;
	CU_ASSERT_EQUAL(lat_rule_update(pa, x, act, wa, &wmax, err), LAT_EDIVERGE);
	CU_ASSERT_EQUAL(memcmp(wa, wb, sizeof wa), 0);
	act[3] = NAN;
	x[5] = 1;
	CU_ASSERT_EQUAL(lat_rule_update(pa, x, act, wa, &wmax, err), LAT_EDIVERGE);
	CU_ASSERT_EQUAL(memcmp(wa, wb, sizeof wa), 0);
	CU_ASSERT_EQUAL(lat_rule_updates(pa), 20);
	lat_rule_free(pa);
	lat_rule_free(pb);
	gsl_rng_free(rng);
}

/* A bound that is the maximum itself: w = w0 = 1, x = 1, act = -10, eta 0.1, gamma 0.5 move the one
 * weight to 1 + 0.1 * 10 = 2, and the recurrence gives 0.95 * 1 + 0.1 * (0.5 * 1 + 10) = 2 as well: the
 * cached bound holds the weight and exceeds it by rounding only. */
static void test_bound_tight(void)
{
	double w_init[] = {1}, w[] = {1}, x[] = {1}, act[] = {-10}, wmax = 1;
	char err[LAT_ERRLEN];
	lat_rule *p = lat_rule_alloc(1, 1, &plain, w_init, err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(lat_rule_update(p, x, act, w, &wmax, err), LAT_OK);
	CU_ASSERT_DOUBLE_EQUAL(w[0], 2, 1e-15);
	CU_ASSERT(w[0] <= wmax);
	CU_ASSERT(wmax <= 2 * (1 + 1e-14));
	lat_rule_free(p);
}

static void test_bad_options(void)
{
	lat_rule_opts o = plain;
	double w[] = {0};
	char err[LAT_ERRLEN];
	o.momentum = 1;
	CU_ASSERT_PTR_NULL(lat_rule_alloc(1, 1, &o, w, err));
	o = plain;
	o.eta = 0;
	CU_ASSERT_PTR_NULL(lat_rule_alloc(1, 1, &o, w, err));
	CU_ASSERT_PTR_NULL(lat_rule_alloc(0, 1, &plain, w, err));
	lat_rule_free(NULL);
}

/* Full-batch gradient descent on the averaged rule with the analytic steady state
 * act_i = z_i - a zbar, written out with plain loops (independent of lat_rule). */
static void brute_force(size_t n, size_t d, size_t m, const double *x, const double *w_init, double alpha,
			double gamma, double eta, size_t iters, double *w)
{
	double a = isinf(alpha) ? 1 : alpha / (1 + alpha);
	double *g = malloc(n * d * sizeof *g), *z = malloc(n * sizeof *z);
	memcpy(w, w_init, n * d * sizeof *w);
	for (size_t it = 0; it < iters; it++) {
		for (size_t k = 0; k < n * d; k++)
			g[k] = gamma * (w[k] - w_init[k]);
		for (size_t mm = 0; mm < m; mm++) {
			const double *xm = x + mm * d;
			double zbar = 0;
			for (size_t i = 0; i < n; i++) {
				z[i] = 0;
				for (size_t j = 0; j < d; j++)
					z[i] += w[i * d + j] * xm[j];
				zbar += z[i] / (double)n;
			}
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < d; j++)
					g[i * d + j] += (z[i] - a * zbar) * xm[j] / (double)m;
		}
		for (size_t k = 0; k < n * d; k++)
			w[k] -= eta * g[k];
	}
	free(g);
	free(z);
}

static void test_closed_form_vs_iteration(void)
{
	enum { N = 5, D = 3, M = 7 };
	const double alphas[] = {0.5, 10, INFINITY}, gammas[] = {0.1, 1.0};
	double x[M * D], w_init[N * D], w[N * D], ws[N * D];
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 7);
	for (size_t k = 0; k < M * D; k++)
		x[k] = gsl_ran_gaussian(r, 1.0);
	for (size_t k = 0; k < N * D; k++)
		w_init[k] = 1 + gsl_ran_gaussian(r, 1.0);
	for (size_t ia = 0; ia < 3; ia++)
		for (size_t ig = 0; ig < 2; ig++) {
			char err[LAT_ERRLEN];
			CU_ASSERT_EQUAL_FATAL(
			    lat_closedform_wstar(N, D, M, x, w_init, alphas[ia], gammas[ig], ws, err), LAT_OK);
			brute_force(N, D, M, x, w_init, alphas[ia], gammas[ig], 0.05, 20000, w);
			CU_ASSERT(lat_metrics_rel_dist(N * D, w, ws) < 1e-10);
		}
	gsl_rng_free(r);
}

static void test_identity_covariance_formulas(void)
{
	/* x_m = sqrt(d) e_m makes C = I exactly: wbar* = g/(1+g) wbar^init with g = gamma (1 + alpha), and every
	 * deviation from the mean shrinks by gamma/(1+gamma), so 1/SNR falls by the squared ratio. */
	enum { N = 6, D = 4 };
	double x[D * D] = {0}, w_init[N * D], ws[N * D], wbar0[D], wbar[D];
	double gamma = 0.1, alpha = 10, g = gamma * (1 + alpha);
	lat_pool_stats s0, s1;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 3);
	for (size_t m = 0; m < D; m++)
		x[m * D + m] = 2.0; /* sqrt(4) */
	for (size_t k = 0; k < N * D; k++)
		w_init[k] = 1 + gsl_ran_gaussian(r, 1.0);
	CU_ASSERT_EQUAL_FATAL(lat_closedform_wstar(N, D, D, x, w_init, alpha, gamma, ws, NULL), LAT_OK);
	lat_metrics_mean(N, D, w_init, wbar0);
	lat_metrics_mean(N, D, ws, wbar);
	for (size_t j = 0; j < D; j++)
		CU_ASSERT_DOUBLE_EQUAL(wbar[j], g / (1 + g) * wbar0[j], 1e-12);
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < D; j++)
			CU_ASSERT_DOUBLE_EQUAL(ws[i * D + j] - wbar[j], gamma / (1 + gamma) * (w_init[i * D + j] - wbar0[j]),
					       1e-12);
	/* alpha -> infinity: the mean is kept and 1/SNR falls by (gamma/(1+gamma))^2. */
	CU_ASSERT_EQUAL_FATAL(lat_closedform_wstar(N, D, D, x, w_init, INFINITY, gamma, ws, NULL), LAT_OK);
	lat_metrics_pool(N, D, w_init, wbar0, &s0);
	lat_metrics_pool(N, D, ws, wbar0, &s1);
	CU_ASSERT_DOUBLE_EQUAL(s1.inv_snr / s0.inv_snr, pow(gamma / (1 + gamma), 2), 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s1.mean_ratio, 1.0, 1e-12);
	/* The population form with C = I gives the same W*. */
	{
		double c[D * D] = {0}, ws2[N * D];
		for (size_t j = 0; j < D; j++)
			c[j * D + j] = 1;
		CU_ASSERT_EQUAL(lat_closedform_wstar_cov(N, D, c, w_init, INFINITY, gamma, ws2, NULL), LAT_OK);
		CU_ASSERT(lat_metrics_rel_dist(N * D, ws2, ws) < 1e-14);
	}
	/* the formulas sweep prints equal the ratios measured on these W* */
	{
		double inv_ratio, mean_ratio, f_inv, f_mean;
		CU_ASSERT_EQUAL(lat_closedform_ratios(N, D, w_init, ws, &inv_ratio, &mean_ratio, NULL), LAT_OK);
		lat_closedform_identity_ratios(INFINITY, gamma, &f_inv, &f_mean);
		CU_ASSERT_DOUBLE_EQUAL(inv_ratio, f_inv, 1e-12);
		CU_ASSERT_DOUBLE_EQUAL(mean_ratio, 1.0, 1e-12);
		CU_ASSERT_EQUAL_FATAL(lat_closedform_wstar(N, D, D, x, w_init, alpha, gamma, ws, NULL), LAT_OK);
		CU_ASSERT_EQUAL(lat_closedform_ratios(N, D, w_init, ws, &inv_ratio, &mean_ratio, NULL), LAT_OK);
		lat_closedform_identity_ratios(alpha, gamma, &f_inv, &f_mean);
		CU_ASSERT_DOUBLE_EQUAL(inv_ratio, f_inv, 1e-12);
		CU_ASSERT_DOUBLE_EQUAL(mean_ratio, f_mean, 1e-12);
		CU_ASSERT_DOUBLE_EQUAL(f_mean, g / (1 + g), 1e-15);
	}
	gsl_rng_free(r);
}

static void test_closed_form_errors(void)
{
	double x[] = {1}, w[] = {1}, ws[1];
	char err[LAT_ERRLEN];
	CU_ASSERT_EQUAL(lat_closedform_wstar(1, 1, 1, x, w, 1, 0, ws, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "gamma"));
	CU_ASSERT_EQUAL(lat_closedform_wstar(1, 1, 1, x, w, -1, 0.1, ws, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "alpha"));
	CU_ASSERT_EQUAL(lat_closedform_wstar(1, 1, 0, x, w, 1, 0.1, ws, err), LAT_EINVAL);
}

/* The row functions the sharing phase and continuous timing use, by hand: d = 3, w = (1, 2, 3),
 * w0 = (1, 1, 1), h = (2, 0, -1), h_scale 0.5, eta 0.1, gamma 0.2:
 *   g = 0.5 h + 0.2 (w - w0) = (1, 0.2, -0.1);  in place w - 0.1 g = (0.9, 1.98, 3.01);
 *   with momentum 0.5 and vel = (1, 0, 0) the first coordinate gains 0.5: 1.4;
 *   as a rate (eta / tau = 0.1): dw = -0.1 g = (-0.1, -0.02, 0.01).
 * A non-finite candidate is reported. */
static void test_rows(void)
{
	double w[3] = {1, 2, 3}, w0[3] = {1, 1, 1}, h[3] = {2, 0, -1}, vel[3] = {1, 0, 0}, next[3], dw[3];
	double inf_h[3] = {2, INFINITY, 0};

	CU_ASSERT_EQUAL(lat_rule_step_row(3, next, w, w0, vel, h, 0.5, 0.5, 0.1, 0.2), 0);
	CU_ASSERT_DOUBLE_EQUAL(next[0], 1.4, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(next[1], 1.98, 1e-15);
	lat_rule_rate_row(3, dw, w, w0, h, 0.5, 0.1, 0.2);
	CU_ASSERT_DOUBLE_EQUAL(dw[0], -0.1, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(dw[1], -0.02, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(dw[2], 0.01, 1e-15);
	CU_ASSERT_EQUAL(lat_rule_step_row(3, w, w, w0, NULL, h, 0.5, 0, 0.1, 0.2), 0);
	CU_ASSERT_DOUBLE_EQUAL(w[0], 0.9, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(w[1], 1.98, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(w[2], 3.01, 1e-15);
	CU_ASSERT_NOT_EQUAL(lat_rule_step_row(3, next, w, w0, NULL, inf_h, 1, 0, 0.1, 0.2), 0);
	CU_ASSERT_NOT_EQUAL(lat_rule_step_row(1, next, w, w0, NULL, inf_h + 1, 1, 0, 0.1, 0.2), 0);
	/* the schedule: eta / sqrt(1 + t / tau) */
	{
		lat_rule_opts o = {.eta = 0.2, .schedule = LAT_SCHED_INVSQRT, .schedule_tau = 4};
		CU_ASSERT_DOUBLE_EQUAL(lat_rule_eta_at(&o, 12), 0.1, 1e-15);
		o.schedule = LAT_SCHED_CONSTANT;
		CU_ASSERT_DOUBLE_EQUAL(lat_rule_eta_at(&o, 12), 0.2, 1e-15);
	}
}

static CU_TestInfo tests[] = {{"one update by hand", test_one_update},
			      {"step and rate rows, schedule, by hand", test_rows},
			      {"momentum and inverse_sqrt schedule", test_momentum_and_schedule},
			      {"divergent update keeps weights", test_divergence_keeps_weights},
			      {"divergent update: all rows or none", test_divergence_all_or_nothing},
			      {"bounded update equals the checked one", test_bounded_update},
			      {"cached bound of max |w| is tight", test_bound_tight},
			      {"bad options rejected", test_bad_options},
			      {"closed form vs brute-force iteration", test_closed_form_vs_iteration},
			      {"C = I formulas of docs/science.md section 4", test_identity_covariance_formulas},
			      {"closed form errors", test_closed_form_errors},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "rule", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}

/* closedform.c: w* of the averaged anti-Hebbian rule by two Cholesky solves (GSL). */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "gslguard.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/metrics.h"

/* Solves both systems for a given input covariance (overwritten: it becomes a factor). */
static int solve_body(size_t n, size_t d, gsl_matrix *cov, const double *w_init, double a, double gamma,
		 double *wstar, char *err)
{
	int rc = LAT_OK;
	gsl_matrix *a_mean = gsl_matrix_alloc(d, d);
	gsl_vector *wbar = gsl_vector_calloc(d), *rhs = gsl_vector_alloc(d), *cw = gsl_vector_alloc(d);

	if (!a_mean || !wbar || !rhs || !cw) {
		rc = lat_err_set(err, LAT_ENOMEM, "closed form: out of memory (d = %zu)", d);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			wbar->data[j] += w_init[i * d + j] / (double)n;

	/* Mean: (C (1 - a) + gamma I) wbar* = gamma wbar^init. */
	gsl_matrix_memcpy(a_mean, cov);
	gsl_matrix_scale(a_mean, 1.0 - a);
	gsl_matrix_add_diagonal(a_mean, gamma);
	gsl_vector_scale(wbar, gamma);
	if (gsl_linalg_cholesky_decomp1(a_mean) || gsl_linalg_cholesky_svx(a_mean, wbar)) {
		rc = lat_err_set(err, LAT_EINVAL, "closed form: C (1 - a) + gamma I is not positive definite");
		goto out;
	}
	/* Neurons: (C + gamma I) w_i* = a C wbar* + gamma w_i^init, one factorisation for all i. */
	gsl_blas_dsymv(CblasLower, a, cov, wbar, 0.0, cw);
	gsl_matrix_add_diagonal(cov, gamma);
	if (gsl_linalg_cholesky_decomp1(cov)) {
		rc = lat_err_set(err, LAT_EINVAL, "closed form: C + gamma I is not positive definite");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < d; j++)
			rhs->data[j] = cw->data[j] + gamma * w_init[i * d + j];
		gsl_linalg_cholesky_svx(cov, rhs);
		for (size_t j = 0; j < d; j++)
			wstar[i * d + j] = rhs->data[j];
	}
out:
	gsl_vector_free(cw);
	gsl_vector_free(rhs);
	gsl_vector_free(wbar);
	gsl_matrix_free(a_mean);
	return rc;
}

/* solve_body under the GSL guard (a matrix that is not positive definite is an error code, not abort) */
static int solve(size_t n, size_t d, gsl_matrix *cov, const double *w_init, double a, double gamma,
		 double *wstar, char *err)
{
	int rc;

	lat_gsl_enter();
	rc = solve_body(n, d, cov, w_init, a, gamma, wstar, err);
	lat_gsl_leave();
	return rc;
}

static int check_args(size_t n, size_t d, double alpha, double gamma, double *a, char *err)
{
	if (n == 0 || d == 0)
		return lat_err_set(err, LAT_EINVAL, "closed form: need n, d >= 1 (got %zu, %zu)", n, d);
	if (!(gamma > 0))
		return lat_err_set(err, LAT_EINVAL, "closed form: gamma = %g: w* is unique only for gamma > 0",
				   gamma);
	if (!(alpha > -1))
		return lat_err_set(err, LAT_EINVAL, "closed form: alpha = %g must be > -1", alpha);
	*a = isinf(alpha) ? 1.0 : alpha / (1.0 + alpha);
	return LAT_OK;
}

int lat_closedform_wstar(size_t n, size_t d, size_t m, const double *x, const double *w_init,
			 double alpha, double gamma, double *wstar, char *err)
{
	gsl_matrix *cov;
	double a;
	int rc = check_args(n, d, alpha, gamma, &a, err);

	if (rc)
		return rc;
	if (m == 0)
		return lat_err_set(err, LAT_EINVAL, "closed form: need at least one input");
	lat_gsl_enter();
	cov = gsl_matrix_calloc(d, d);
	lat_gsl_leave();
	if (!cov)
		return lat_err_set(err, LAT_ENOMEM, "closed form: out of memory (d = %zu)", d);
	{
		gsl_matrix_const_view xv = gsl_matrix_const_view_array(x, m, d);
		gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0 / (double)m, &xv.matrix, 0.0, cov);
	}
	rc = solve(n, d, cov, w_init, a, gamma, wstar, err);
	gsl_matrix_free(cov);
	return rc;
}

int lat_closedform_wstar_cov(size_t n, size_t d, const double *c, const double *w_init, double alpha,
			     double gamma, double *wstar, char *err)
{
	gsl_matrix *cov;
	double a;
	int rc = check_args(n, d, alpha, gamma, &a, err);

	if (rc)
		return rc;
	lat_gsl_enter();
	cov = gsl_matrix_alloc(d, d);
	lat_gsl_leave();
	if (!cov)
		return lat_err_set(err, LAT_ENOMEM, "closed form: out of memory (d = %zu)", d);
	memcpy(cov->data, c, d * d * sizeof *c);
	rc = solve(n, d, cov, w_init, a, gamma, wstar, err);
	gsl_matrix_free(cov);
	return rc;
}

static int batch_rate_body(size_t d, size_t m, const double *x, double alpha, double gamma, double eta,
			   double *rho, double *lambda_max, char *err);

int lat_closedform_batch_rate(size_t d, size_t m, const double *x, double alpha, double gamma, double eta,
			      double *rho, double *lambda_max, char *err)
{
	int rc;

	lat_gsl_enter();
	rc = batch_rate_body(d, m, x, alpha, gamma, eta, rho, lambda_max, err);
	lat_gsl_leave();
	return rc;
}

static int batch_rate_body(size_t d, size_t m, const double *x, double alpha, double gamma, double eta,
			   double *rho, double *lambda_max, char *err)
{
	gsl_matrix *c = gsl_matrix_calloc(d, d);
	gsl_vector *eval = gsl_vector_alloc(d);
	gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(d);
	double a = isinf(alpha) ? 1.0 : alpha / (1.0 + alpha), r = 0, lmax = 0;
	int status = LAT_OK;

	if (!c || !eval || !w) {
		status = lat_err_set(err, LAT_ENOMEM, "out of memory for a %zu x %zu covariance", d, d);
		goto out;
	}
	for (size_t k = 0; k < m; k++)
		for (size_t i = 0; i < d; i++)
			for (size_t j = 0; j <= i; j++)
				*gsl_matrix_ptr(c, i, j) += x[k * d + i] * x[k * d + j] / (double)m;
	if (gsl_eigen_symm(c, eval, w)) {
		status = lat_err_set(err, LAT_ESOLVER, "eigenvalues of the input covariance failed");
		goto out;
	}
	for (size_t k = 0; k < d; k++) {
		double lam = gsl_vector_get(eval, k);
		r = fmax(r, fmax(fabs(1 - eta * (lam + gamma)), fabs(1 - eta * ((1 - a) * lam + gamma))));
		lmax = fmax(lmax, lam);
	}
	*rho = r;
	if (lambda_max)
		*lambda_max = lmax;
out:
	gsl_eigen_symm_free(w);
	gsl_vector_free(eval);
	gsl_matrix_free(c);
	return status;
}

int lat_closedform_ratios(size_t n, size_t d, const double *w_init, const double *wstar, double *inv_snr_ratio,
			  double *mean_ratio, char *err)
{
	double *wbar = malloc(d * sizeof *wbar);
	lat_pool_stats st, st0;

	if (!wbar)
		return lat_err_set(err, LAT_ENOMEM, "out of memory for a pool mean of %zu weights", d);
	lat_metrics_mean(n, d, w_init, wbar);
	lat_metrics_pool(n, d, wstar, wbar, &st);
	lat_metrics_pool(n, d, w_init, wbar, &st0);
	*inv_snr_ratio = st.inv_snr / st0.inv_snr;
	*mean_ratio = st.mean_ratio;
	free(wbar);
	return LAT_OK;
}

void lat_closedform_identity_ratios(double alpha, double gamma, double *inv_snr_ratio, double *mean_ratio)
{
	double g = gamma * (1 + alpha), h = gamma / (1 + gamma), s = g / (1 + g);

	*inv_snr_ratio = isinf(alpha) ? h * h : h * h / (s * s);
	*mean_ratio = s;
}

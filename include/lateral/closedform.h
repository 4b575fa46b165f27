/* closedform.h: the weights' fixed point w* under the averaged plasticity rule (docs/science.md section 4). */
#ifndef LATERAL_CLOSEDFORM_H
#define LATERAL_CLOSEDFORM_H

#include <stddef.h>

/* Thread safety: reentrant: each call allocates and frees its own workspaces. */

#ifdef __cplusplus
extern "C" {
#endif

/* With C = (1/M) sum_m x_m x_m^T, a = alpha / (1 + alpha) (a = 1 when alpha is +INFINITY) and
 * wbar the pool mean over neurons:
 *   (C (1 - a) + gamma I) wbar* = gamma wbar^init
 *   (C + gamma I) w_i*          = a C wbar* + gamma w_i^init
 * Borrows x (m x d) and w_init (n x d); writes wstar (n x d). Solved with GSL Cholesky
 * factorisations. LAT_EINVAL for gamma <= 0 (w* is then not unique), alpha <= -1, or empty sizes;
 * LAT_ENOMEM on allocation failure. */
int lat_closedform_wstar(size_t n, size_t d, size_t m, const double *x, const double *w_init,
			 double alpha, double gamma, double *wstar, char *err);

/* Same for a given second-moment matrix C (d x d, symmetric; only its lower triangle is read), e.g.
 * the population value Sigma + mu mu^T of a Gaussian input generator. */
int lat_closedform_wstar_cov(size_t n, size_t d, const double *c, const double *w_init, double alpha,
			     double gamma, double *wstar, char *err);

/* Contraction rate of the batch rule on M fixed inputs x (M x d): one update W <- W - eta [(I - a P) W C +
 * gamma (W - W^init)] (P the pool-mean projector) maps the error W - W* to itself times
 * I - eta (C + gamma I) (deviations from the pool mean) or I - eta ((1 - a) C + gamma I) (the mean), so
 * ||W_n - W*||_F <= rho^n ||W_0 - W*||_F with rho the largest |1 - eta ((1 or 1 - a) lambda_k + gamma)|
 * over the eigenvalues lambda_k of C. Writes rho and lambda_max (may be NULL). LAT_ENOMEM, LAT_ESOLVER. */
int lat_closedform_batch_rate(size_t d, size_t m, const double *x, double alpha, double gamma, double eta,
			      double *rho, double *lambda_max, char *err);

/* What a converged study predicts, from W* (n x d) and the initial weights w_init (n x d), both borrowed:
 * the ratio of the pool's 1/SNR at W* to its initial 1/SNR, and |wbar*| / |wbar^init|. LAT_ENOMEM. */
int lat_closedform_ratios(size_t n, size_t d, const double *w_init, const double *wstar, double *inv_snr_ratio,
			  double *mean_ratio, char *err);

/* The same two ratios in closed form for C = I (docs/science.md section 4), g = gamma (1 + alpha):
 * 1/SNR falls by (gamma / (1 + gamma))^2 / (g / (1 + g))^2 (by (gamma / (1 + gamma))^2 when alpha is
 * +INFINITY) and the mean shrinks by g / (1 + g) (not at all when alpha is +INFINITY). */
void lat_closedform_identity_ratios(double alpha, double gamma, double *inv_snr_ratio, double *mean_ratio);

#ifdef __cplusplus
}
#endif

#endif

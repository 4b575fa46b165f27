/* metrics.h: how convolutional a pool is: SNR across neurons, drift and shrinkage of the pool mean. */
#ifndef LATERAL_METRICS_H
#define LATERAL_METRICS_H

#include <stddef.h>

/* Thread safety: reentrant: every function works on the caller's arrays. */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	double snr;        /* (1/d) sum_j m_j^2 / v_j, m_j, v_j the mean and (1/N) variance over neurons */
	double inv_snr;    /* 1 / snr */
	double cos_mean;   /* cos(wbar, wbar^init) */
	double mean_ratio; /* |wbar| / |wbar^init| */
	double mean_over_std; /* (1/d) sum_j |m_j| / sqrt(v_j) */
} lat_pool_stats;

/* Pool statistics of w (n x d) against the initial pool mean wbar_init (d values). Borrows both;
 * O(n d), no allocation. A coordinate with zero variance makes snr and mean_over_std +inf (0 when its mean
 * is 0 too) and inv_snr = 0. */
void lat_metrics_pool(size_t n, size_t d, const double *w, const double *wbar_init, lat_pool_stats *st);

/* Pool mean over the n rows of w (n x d), written to wbar (d values). */
void lat_metrics_mean(size_t n, size_t d, const double *w, double *wbar);

/* Relative Frobenius distance |a - b| / |b| over size values (|a - b| when b is zero). */
double lat_metrics_rel_dist(size_t size, const double *a, const double *b);

/* Largest relative difference max_k |a_k - b_k| / max(|b_k|, floor). */
double lat_metrics_max_rel(size_t size, const double *a, const double *b, double floor);

#ifdef __cplusplus
}
#endif

#endif

/* metrics.c: pool SNR (docs/science.md section 5), mean drift and distances between weight sets. */
#include <config.h>

#include <math.h>

#include "lateral/metrics.h"

void lat_metrics_mean(size_t n, size_t d, const double *w, double *wbar)
{
	for (size_t j = 0; j < d; j++) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += w[i * d + j];
		wbar[j] = s / (double)n;
	}
}

void lat_metrics_pool(size_t n, size_t d, const double *w, const double *wbar_init, lat_pool_stats *st)
{
	double snr = 0, mos = 0, dot = 0, norm = 0, norm_init = 0;

	for (size_t j = 0; j < d; j++) {
		double m = 0, v = 0;
		for (size_t i = 0; i < n; i++)
			m += w[i * d + j];
		m /= (double)n;
		/* Two-pass variance: the deviations are tiny next to the mean once a pool has converged. */
		for (size_t i = 0; i < n; i++) {
			double e = w[i * d + j] - m;
			v += e * e;
		}
		v /= (double)n;
		snr += v > 0 ? m * m / v : (m != 0 ? INFINITY : 0);
		mos += v > 0 ? fabs(m) / sqrt(v) : (m != 0 ? INFINITY : 0);
		dot += m * wbar_init[j];
		norm += m * m;
		norm_init += wbar_init[j] * wbar_init[j];
	}
	st->snr = snr / (double)d;
	st->inv_snr = 1.0 / st->snr;
	st->mean_over_std = mos / (double)d;
	st->cos_mean = norm > 0 && norm_init > 0 ? dot / sqrt(norm * norm_init) : NAN;
	st->mean_ratio = norm_init > 0 ? sqrt(norm / norm_init) : NAN;
}

double lat_metrics_rel_dist(size_t size, const double *a, const double *b)
{
	double num = 0, den = 0;
	for (size_t k = 0; k < size; k++) {
		num += (a[k] - b[k]) * (a[k] - b[k]);
		den += b[k] * b[k];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

double lat_metrics_max_rel(size_t size, const double *a, const double *b, double floor)
{
	double worst = 0;
	for (size_t k = 0; k < size; k++) {
		double scale = fabs(b[k]) > floor ? fabs(b[k]) : floor;
		double e = fabs(a[k] - b[k]) / scale;
		if (isnan(e))
			return NAN;
		if (e > worst)
			worst = e;
	}
	return worst;
}

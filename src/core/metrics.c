/* metrics.c: pool SNR (docs/science.md section 5), mean drift and distances between weight sets. */
#include <config.h>

#include <math.h>

#include "lateral/metrics.h"
#include "simd.h"

void lat_metrics_mean(size_t n, size_t d, const double *w, double *wbar)
{
	for (size_t j = 0; j < d; j++) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += w[i * d + j];
		wbar[j] = s / (double)n;
	}
}

/* Columns are taken in blocks of POOL_BLOCK, each block's sums over the rows in row order: the same
 * order of summation per column as a column-by-column loop (so the same bits), but vectorised across
 * columns and reading w row by row instead of with a stride of d. */
#define POOL_BLOCK 32

LAT_CLONES static void pool_stats(size_t n, size_t d, const double *w, const double *wbar_init, lat_pool_stats *st)
{
	double snr = 0, mos = 0, dot = 0, norm = 0, norm_init = 0;

	for (size_t j0 = 0; j0 < d; j0 += POOL_BLOCK) {
		size_t nb = d - j0 < POOL_BLOCK ? d - j0 : POOL_BLOCK;
		double m[POOL_BLOCK] = {0}, v[POOL_BLOCK] = {0};

		for (size_t i = 0; i < n; i++) {
			const double *wi = w + i * d + j0;
			LAT_SIMD
			for (size_t j = 0; j < nb; j++)
				m[j] += wi[j];
		}
		for (size_t j = 0; j < nb; j++)
			m[j] /= (double)n;
		/* Two-pass variance: the deviations are tiny next to the mean once a pool has converged. */
		for (size_t i = 0; i < n; i++) {
			const double *wi = w + i * d + j0;
			LAT_SIMD
			for (size_t j = 0; j < nb; j++) {
				double e = wi[j] - m[j];
				v[j] += e * e;
			}
		}
		for (size_t j = 0; j < nb; j++) {
			double mj = m[j], vj = v[j] / (double)n, bj = wbar_init[j0 + j];
			snr += vj > 0 ? mj * mj / vj : (mj != 0 ? INFINITY : 0);
			mos += vj > 0 ? fabs(mj) / sqrt(vj) : (mj != 0 ? INFINITY : 0);
			dot += mj * bj;
			norm += mj * mj;
			norm_init += bj * bj;
		}
	}
	st->snr = snr / (double)d;
	st->inv_snr = 1.0 / st->snr;
	st->mean_over_std = mos / (double)d;
	st->cos_mean = norm > 0 && norm_init > 0 ? dot / sqrt(norm * norm_init) : NAN;
	st->mean_ratio = norm_init > 0 ? sqrt(norm / norm_init) : NAN;
}

void lat_metrics_pool(size_t n, size_t d, const double *w, const double *wbar_init, lat_pool_stats *st)
{
	pool_stats(n, d, w, wbar_init, st);
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

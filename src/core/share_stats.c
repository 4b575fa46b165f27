/* share_stats.c: the pool statistics of the sharing phases: sums over a layer's parts, pool means,
 * signal-to-noise ratios, the largest weight and the pool means' drift. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/share.h"
#include "share_impl.h"

/* A part without the sum over the others would compute its pools' statistics from its members alone. */
int lat_share_check_sum(const lat_share *s, char *err)
{
	if (s->n_own < s->n_pos && !s->sum)
		return lat_err_set(err, LAT_EINVAL,
				   "share: positions [%zu, %zu) are a part of the layer, and its phases and statistics "
				   "need the sum over the other parts (lat_share_set_sum)",
				   s->q0, s->q0 + s->n_own);
	return LAT_OK;
}

/* v (n values) summed over the parts, in place; nothing to do in a whole layer. */
int lat_share_sum_parts(const lat_share *s, double *v, size_t n, char *err)
{
	if (s->parts > 1 && s->sum(s->sum_ctx, v, n))
		return lat_err_set(err, LAT_EIO, "share: the sum over the layer's %d parts failed", s->parts);
	return LAT_OK;
}

/* *x = the largest of every part's *x, NaN when one of them is NaN. */
int lat_share_max_parts(lat_share *s, double *x, char *err)
{
	double big = 0;
	int status;

	if (s->parts < 2)
		return LAT_OK;
	memset(s->maxv, 0, (size_t)s->parts * sizeof *s->maxv);
	s->maxv[s->part] = *x; /* the others add zeros: the sum is exact, NaN and inf included */
	status = lat_share_sum_parts(s, s->maxv, (size_t)s->parts, err);
	for (int r = 0; r < s->parts; r++)
		if (!(s->maxv[r] <= big)) /* NaN-propagating max */
			big = isnan(big) ? big : s->maxv[r];
	*x = big;
	return status;
}

/* sums (c_out x d) = for each channel, the held members' kernels of its class-j pool summed in member
 * order (w double kernels, or float when wf is given; masked: entries in the padding count as 0) */
static void class_sums(const lat_share *s, const double *w, const float *wf, int masked, size_t j, double *sums)
{
	size_t d = s->d;

	memset(sums, 0, s->g.c_out * d * sizeof *sums);
	for (size_t c = 0; c < s->g.c_out; c++) {
		size_t n;
		const size_t *mem = held(s, c * n_classes(s) + j, &n);
		double *sc = sums + c * d;
		for (size_t i = 0; i < n; i++) {
			size_t off = at(s, mem[i]) * d;
			const size_t *src = s->src + (mem[i] % s->n_pos) * d;
			if (wf)
				for (size_t k = 0; k < d; k++)
					sc[k] += masked && src[k] == SRC_PAD ? 0 : (double)wf[off + k];
			else
				for (size_t k = 0; k < d; k++)
					sc[k] += masked && src[k] == SRC_PAD ? 0 : w[off + k];
		}
	}
}

/* sums (n_sets times c_out x d, class j's pools), summed over the parts, divided by the pools' sizes */
static int class_divide(const lat_share *s, size_t j, double *sums, size_t n_sets, char *err)
{
	size_t cd = s->g.c_out * s->d;
	int status = lat_share_sum_parts(s, sums, n_sets * cd, err);

	for (size_t k = 0; k < n_sets * cd; k++)
		sums[k] /= (double)pool_size(s, (k % cd) / s->d * n_classes(s) + j);
	return status;
}

/* means (c_out x d) = the mean kernels of class j's pools, over every part */
int lat_share_class_means(const lat_share *s, const double *w, int masked, size_t j, double *means, char *err)
{
	class_sums(s, w, NULL, masked, j, means);
	return class_divide(s, j, means, 1, err);
}

/* Pool and channel statistics of the float kernels w (the held ones), with buf (4 c_out d) as scratch;
 * in a part, a collective call. Two passes (means, then squared deviations), each summed over the
 * parts: the deviations are tiny next to the mean once a pool has converged. */
int lat_share_measure_buf(const lat_share *s, const float *w, double *buf, lat_share_pools *r, char *err)
{
	size_t d = s->d, C = s->g.c_out, n_in = 0, pos;
	double *m = buf, *v = m + C * d, *cm = v + C * d, *cv = cm + C * d;
	double snr = 0, mos = 0, channel = 0;
	int status = LAT_OK;

	r->n_pools = 0;
	r->dev2 = r->mean2 = 0;
	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		class_sums(s, NULL, w, 0, j, m);
		status = class_divide(s, j, m, 1, err);
		memset(v, 0, C * d * sizeof *v);
		for (size_t c = 0; c < C; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			for (size_t i = 0; i < n; i++) {
				const float *wi = w + at(s, mem[i]) * d;
				for (size_t k = 0; k < d; k++) {
					double e = wi[k] - m[c * d + k];
					v[c * d + k] += e * e;
				}
			}
		}
		if (!status)
			status = lat_share_sum_parts(s, v, C * d, err);
		for (size_t c = 0; c < C; c++) {
			size_t n = pool_size(s, c * n_classes(s) + j);
			double ps = 0, pm = 0;
			if (n < 2)
				continue;
			for (size_t k = 0; k < d; k++) {
				double mk = m[c * d + k], vk = v[c * d + k] / (double)n;
				ps += vk > 0 ? mk * mk / vk : (mk != 0 ? INFINITY : 0);
				pm += vk > 0 ? fabs(mk) / sqrt(vk) : (mk != 0 ? INFINITY : 0);
				r->dev2 += v[c * d + k];
				r->mean2 += mk * mk;
			}
			snr += ps / (double)d;
			mos += pm / (double)d;
			r->n_pools++;
		}
	}
	/* snr_channel: per channel and tap over the interior positions, the same two passes */
	for (pos = 0; pos < s->n_pos; pos++)
		n_in += !s->border[pos];
	memset(cm, 0, 2 * C * d * sizeof *cm);
	for (int pass = 0; pass < 2 && !status; pass++) {
		double *sum = pass ? cv : cm;
		for (size_t c = 0; c < C; c++)
			for (pos = s->q0; pos < s->q0 + s->n_own; pos++) {
				const float *wi = w + (c * s->n_own + pos - s->q0) * d;
				if (s->border[pos])
					continue;
				for (size_t k = 0; k < d; k++) {
					double e = pass ? wi[k] - cm[c * d + k] : wi[k];
					sum[c * d + k] += pass ? e * e : e;
				}
			}
		status = lat_share_sum_parts(s, sum, C * d, err);
		for (size_t k = 0; !pass && n_in && k < C * d; k++)
			cm[k] /= (double)n_in;
	}
	if (status)
		return status;
	for (size_t k = 0; k < C * d; k++) {
		double vk = n_in > 1 ? cv[k] / (double)(n_in - 1) : 0;
		channel += vk > 0 ? fabs(cm[k]) / sqrt(vk) : (cm[k] != 0 ? INFINITY : 0);
	}
	r->snr = r->n_pools ? snr / (double)r->n_pools : NAN;
	r->snr_channel = n_in < 2 ? NAN : channel / (double)(C * d);
	r->inv_snr = 1.0 / r->snr;
	r->mean_over_std = r->n_pools ? mos / (double)r->n_pools : NAN;
	return LAT_OK;
}

/* The doubles lat_share_measure_buf needs as scratch. */
static size_t measure_doubles(const lat_share *s)
{
	return 4 * s->g.c_out * s->d;
}

int lat_share_measure(const lat_share *s, const float *w, lat_share_pools *r, char *err)
{
	double *buf = NULL;
	int status = lat_share_check_sum(s, err);

	if (status)
		goto out;
	buf = malloc(measure_doubles(s) * sizeof *buf);
	if (s->parts > 1) { /* all parts go on to the sums, or none */
		double short_of = !buf;
		status = lat_share_sum_parts(s, &short_of, 1, err);
		if (!status && short_of && (status = LAT_ENOMEM))
			lat_err_set(err, status, "share: out of memory for the pool statistics (on %g of the %d parts)",
				    short_of, s->parts);
	} else if (!buf) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the pool statistics");
	}
	if (!status)
		status = lat_share_measure_buf(s, w, buf, r, err);
out:
	free(buf);
	return status;
}

double lat_share_snr(const lat_share *s, const float *w)
{
	lat_share_pools r;

	if (lat_share_measure(s, w, &r, NULL))
		return NAN;
	return r.snr;
}

/* max |w| over the held pooled kernels; NaN or inf when one of them is not finite */
double lat_share_max_abs(const lat_share *s, const double *w)
{
	double big = 0;

	for (size_t a = s->a0; a < s->a1; a++)
		for (size_t c = 0; c < s->g.c_out; c++) {
			const double *k = w + (c * s->n_own + s->active[a] - s->q0) * s->d;
			for (size_t j = 0; j < s->d; j++)
				if (!(fabs(k[j]) <= big)) /* NaN-propagating max */
					big = isnan(big) ? big : fabs(k[j]);
		}
	return big;
}

/* *cos = the mean over pools of cos(wbar of wd, wbar of w0) */
int lat_share_cos_mean(lat_share *s, double *cos, char *err)
{
	size_t d = s->d, C = s->g.c_out, n = 0;
	double *m = s->stat, *m0 = s->stat + C * d, sum = 0;
	int status = LAT_OK;

	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		class_sums(s, s->wd, NULL, 0, j, m);
		class_sums(s, s->w0, NULL, 0, j, m0);
		status = class_divide(s, j, m, 2, err);
		for (size_t c = 0; c < C; c++) {
			double dot = 0, a = 0, b = 0;
			for (size_t k = 0; k < d; k++) {
				dot += m[c * d + k] * m0[c * d + k];
				a += m[c * d + k] * m[c * d + k];
				b += m0[c * d + k] * m0[c * d + k];
			}
			if (a > 0 && b > 0) {
				sum += dot / sqrt(a * b);
				n++;
			}
		}
	}
	*cos = n ? sum / (double)n : NAN;
	return status;
}

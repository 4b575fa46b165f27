/* bn.c: batch normalisation y = gamma (x - mean) / sqrt(var + eps) + beta per channel, with running statistics. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"
#include "size.h"

typedef struct {
	double momentum, eps;
	int training; /* mode of the last forward: batch (1) or running (0) statistics */
	double n_tot; /* values per channel of the last forward's batch statistics, over every strip */
	lat_layer_sum_fn sum; /* a strip of rows (its type's set_sum): adds the channel sums over the strips */
	void *sum_ctx;
	float *sv;    /* 2 c + 1 floats handed to the sum */
	double ws[];  /* mean[c] then invstd[c] used by the last forward, then 2 c of per-channel sums */
} bn_priv;

/* v[c] (n_c doubles, and *count when not NULL) summed over the strips in place: through floats, so
 * the strips' values agree to float rounding; nothing to do without a sum. LAT_EIO when it fails. */
static int strip_sum(bn_priv *p, double *v, size_t n_c, double *count)
{
	size_t n = n_c + (count != NULL);

	if (!p->sum)
		return LAT_OK;
	for (size_t c = 0; c < n_c; c++)
		p->sv[c] = (float)v[c];
	if (count)
		p->sv[n_c] = (float)*count;
	if (p->sum(p->sum_ctx, p->sv, n))
		return LAT_EIO;
	for (size_t c = 0; c < n_c; c++)
		v[c] = p->sv[c];
	if (count)
		*count = p->sv[n_c];
	return LAT_OK;
}

/* sums[c] = sum over the batch of x[c] (sq = 0), or of (x[c] - mean[c])^2 (sq = 1), in double */
static void channel_sums(const lat_layer *l, const float *in, size_t batch, const double *mean, int sq,
			 double *sums)
{
	size_t n_c = l->in.c, hw = l->in.h * l->in.w, n_in = lat_shape_size(l->in);

#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
	for (size_t c = 0; c < n_c; c++) {
		double s = 0;
		for (size_t b = 0; b < batch; b++) {
			const float *x = in + b * n_in + c * hw;
			if (sq)
				for (size_t i = 0; i < hw; i++)
					s += (x[i] - mean[c]) * (x[i] - mean[c]);
			else
				for (size_t i = 0; i < hw; i++)
					s += x[i];
		}
		sums[c] = s;
	}
}

static int bn_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	bn_priv *p = l->priv;
	size_t n_c = l->in.c, hw = l->in.h * l->in.w, n_in = lat_shape_size(l->in);
	const float *gamma = l->w, *beta = l->w + n_c;
	float *rmean = l->buf, *rvar = l->buf + n_c;
	double *mean = p->ws, *invstd = p->ws + n_c, *sums = p->ws + 2 * n_c, n = (double)(batch * hw);

	if (batch > l->max_batch)
		return LAT_EINVAL;
	if (batch == 0)
		return LAT_OK;
	p->training = training;
	if (training) {
		/* two passes (no cancellation when |mean| >> std), each summed over the strips */
		channel_sums(l, in, batch, NULL, 0, sums);
		if (strip_sum(p, sums, n_c, &n))
			return LAT_EIO;
		/* Like PyTorch: the unbiased variance needs at least two values per channel. */
		if (n < 2)
			return LAT_EINVAL;
		for (size_t c = 0; c < n_c; c++)
			mean[c] = sums[c] / n;
		channel_sums(l, in, batch, mean, 1, sums);
		if (strip_sum(p, sums, n_c, NULL))
			return LAT_EIO;
		p->n_tot = n;
	}
	for (size_t c = 0; c < n_c; c++) {
		double m = training ? mean[c] : rmean[c], v = training ? sums[c] / n : rvar[c];
		if (training) {
			rmean[c] = (float)((1 - p->momentum) * rmean[c] + p->momentum * m);
			rvar[c] = (float)((1 - p->momentum) * rvar[c] + p->momentum * sums[c] / (n - 1));
		}
		mean[c] = m;
		invstd[c] = 1 / sqrt(v + p->eps);
	}
#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
	for (size_t c = 0; c < n_c; c++) {
		double a = gamma[c] * invstd[c], off = beta[c] - a * mean[c];
		for (size_t b = 0; b < batch; b++) {
			const float *x = in + b * n_in + c * hw;
			float *y = out + b * n_in + c * hw;
			for (size_t i = 0; i < hw; i++)
				y[i] = (float)(a * x[i] + off);
		}
	}
	return LAT_OK;
}

static int bn_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
		       size_t batch)
{
	bn_priv *p = l->priv;
	size_t n_c = l->in.c, hw = l->in.h * l->in.w, n_in = lat_shape_size(l->in);
	const float *gamma = l->w;
	float *dgamma = l->g, *dbeta = l->g + n_c;
	const double *mean = p->ws, *invstd = p->ws + n_c;
	double *sdy = p->ws + 2 * n_c, *sdyx = p->ws + 3 * n_c;

	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
	for (size_t c = 0; c < n_c; c++) {
		double s = 0, sx = 0;
		for (size_t b = 0; b < batch; b++) {
			const float *x = in + b * n_in + c * hw, *dy = dout + b * n_in + c * hw;
			for (size_t i = 0; i < hw; i++) {
				s += dy[i];
				sx += dy[i] * (x[i] - mean[c]) * invstd[c];
			}
		}
		sdy[c] = s;
		sdyx[c] = sx;
	}
	/* over the strips: both sums at once (sdyx follows sdy in ws) */
	if (strip_sum(p, sdy, 2 * n_c, NULL))
		return LAT_EIO;
#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
	for (size_t c = 0; c < n_c; c++) {
		double a, mdy, mdyx;
		dgamma[c] += (float)sdyx[c];
		dbeta[c] += (float)sdy[c];
		if (!din)
			continue;
		a = gamma[c] * invstd[c];
		/* With batch statistics, mean and variance depend on x: subtract the projections of dy onto
		 * 1 and xhat. With running statistics the map is affine per channel. */
		mdy = p->training ? sdy[c] / p->n_tot : 0;
		mdyx = p->training ? sdyx[c] / p->n_tot : 0;
		for (size_t b = 0; b < batch; b++) {
			const float *x = in + b * n_in + c * hw, *dy = dout + b * n_in + c * hw;
			float *dx = din + b * n_in + c * hw;
			for (size_t i = 0; i < hw; i++) {
				double xhat = (x[i] - mean[c]) * invstd[c];
				dx[i] = (float)(a * (dy[i] - mdy - xhat * mdyx));
			}
		}
	}
	return LAT_OK;
}

static void bn_set_sum(lat_layer *l, lat_layer_sum_fn sum, void *ctx)
{
	bn_priv *p = l->priv;

	p->sum = sum;
	p->sum_ctx = ctx;
}

static void bn_free(lat_layer *l)
{
	bn_priv *p = l->priv;

	if (p)
		free(p->sv);
	free(p);
	l->priv = NULL;
}

static void bn_init(lat_layer *l, gsl_rng *r)
{
	size_t n_c = l->in.c;

	(void)r;
	for (size_t c = 0; c < n_c; c++) {
		l->w[c] = 1;
		l->w[n_c + c] = 0;
		l->buf[c] = 0;
		l->buf[n_c + c] = 1;
	}
}

/* Running means (c), then running variances (c), which are never negative. */
static int bn_check_buffers(const lat_layer *l, const float *buf, size_t *bad)
{
	size_t n_c = l->in.c;
	for (size_t c = 0; c < n_c; c++)
		if (buf[n_c + c] < 0) {
			*bad = n_c + c;
			return 0;
		}
	return 1;
}

static const lat_layer_type bn_type = {
    .name = "bn",
    .forward = bn_forward,
    .backward = bn_backward,
    .init = bn_init,
    .free = bn_free,
    .check_buffers = bn_check_buffers,
    .set_sum = bn_set_sum,
};

lat_layer *lat_bn_alloc(lat_shape in, double momentum, double eps, size_t max_batch, char *err)
{
	lat_layer *l = NULL;
	bn_priv *p = NULL;

	if (lat_layer_shape_check("bn", in, max_batch, err))
		goto out;
	if (!(eps > 0) || !isfinite(eps)) {
		lat_err_set(err, LAT_EINVAL, "bn layer: eps %g must be > 0", eps);
		goto out;
	}
	if (!(momentum >= 0 && momentum <= 1)) {
		lat_err_set(err, LAT_EINVAL, "bn layer: momentum %g must be in [0, 1]", momentum);
		goto out;
	}
	p = calloc(1, sizeof *p + 4 * in.c * sizeof p->ws[0]);
	if (p)
		p->sv = malloc((2 * in.c + 1) * sizeof *p->sv);
	if (!p || !p->sv) {
		lat_err_set(err, LAT_ENOMEM, "bn layer: out of memory");
		goto out;
	}
	p->momentum = momentum;
	p->eps = eps;
	l = lat_layer_new(&bn_type, in, in, max_batch, 2 * in.c, 2 * in.c, err);
	if (!l)
		goto out;
	l->priv = p;
	p = NULL;
out:
	if (p)
		free(p->sv);
	free(p);
	return l;
}

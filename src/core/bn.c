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
	double ws[];  /* mean[c] then invstd[c] used by the last forward */
} bn_priv;

static int bn_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	bn_priv *p = l->priv;
	size_t n_c = l->in.c, hw = l->in.h * l->in.w, n_in = lat_shape_size(l->in), n = batch * hw;
	const float *gamma = l->w, *beta = l->w + n_c;
	float *rmean = l->buf, *rvar = l->buf + n_c;
	double *mean = p->ws, *invstd = p->ws + n_c;

	if (batch > l->max_batch)
		return LAT_EINVAL;
	if (batch == 0)
		return LAT_OK;
	/* Like PyTorch: the unbiased variance needs at least two values per channel. */
	if (training && n < 2)
		return LAT_EINVAL;
	p->training = training;
#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
	for (size_t c = 0; c < n_c; c++) {
		double m, v;
		if (training) {
			double s = 0, ss = 0;
			for (size_t b = 0; b < batch; b++) {
				const float *x = in + b * n_in + c * hw;
				for (size_t i = 0; i < hw; i++)
					s += x[i];
			}
			m = s / (double)n;
			/* Two-pass variance: no cancellation when |mean| >> std. */
			for (size_t b = 0; b < batch; b++) {
				const float *x = in + b * n_in + c * hw;
				for (size_t i = 0; i < hw; i++)
					ss += (x[i] - m) * (x[i] - m);
			}
			v = ss / (double)n;
			rmean[c] = (float)((1 - p->momentum) * rmean[c] + p->momentum * m);
			rvar[c] = (float)((1 - p->momentum) * rvar[c] + p->momentum * ss / (double)(n - 1));
		} else {
			m = rmean[c];
			v = rvar[c];
		}
		mean[c] = m;
		invstd[c] = 1 / sqrt(v + p->eps);
		{
			double a = gamma[c] * invstd[c], off = beta[c] - a * m;
			for (size_t b = 0; b < batch; b++) {
				const float *x = in + b * n_in + c * hw;
				float *y = out + b * n_in + c * hw;
				for (size_t i = 0; i < hw; i++)
					y[i] = (float)(a * x[i] + off);
			}
		}
	}
	return LAT_OK;
}

static int bn_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
		       size_t batch)
{
	const bn_priv *p = l->priv;
	size_t n_c = l->in.c, hw = l->in.h * l->in.w, n_in = lat_shape_size(l->in), n = batch * hw;
	const float *gamma = l->w;
	float *dgamma = l->g, *dbeta = l->g + n_c;
	const double *mean = p->ws, *invstd = p->ws + n_c;

	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
	for (size_t c = 0; c < n_c; c++) {
		double sdy = 0, sdyx = 0, a, mdy, mdyx;
		for (size_t b = 0; b < batch; b++) {
			const float *x = in + b * n_in + c * hw, *dy = dout + b * n_in + c * hw;
			for (size_t i = 0; i < hw; i++) {
				sdy += dy[i];
				sdyx += dy[i] * (x[i] - mean[c]) * invstd[c];
			}
		}
		dgamma[c] += (float)sdyx;
		dbeta[c] += (float)sdy;
		if (!din)
			continue;
		a = gamma[c] * invstd[c];
		/* With batch statistics, mean and variance depend on x: subtract the projections of dy onto
		 * 1 and xhat. With running statistics the map is affine per channel. */
		mdy = p->training ? sdy / (double)n : 0;
		mdyx = p->training ? sdyx / (double)n : 0;
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
    .check_buffers = bn_check_buffers,
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
	p = calloc(1, sizeof *p + 2 * in.c * sizeof p->ws[0]);
	if (!p) {
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
	free(p);
	return l;
}

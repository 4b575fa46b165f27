/* layers.c: parameter-free and per-channel layers: relu max(x, 0), k x k max pooling, batch norm
 * y = gamma (x - mean) / sqrt(var + eps) + beta, and global average pooling. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"
#include "size.h"

/* Below this many floats per call a parallel region costs more than it saves. */
#define PAR_MIN 32768

/* Rejects empty shapes, a zero max_batch and sizes whose batch product would overflow. */
static int shape_check(const char *name, lat_shape in, size_t max_batch, char *err)
{
	size_t n;

	if (in.c == 0 || in.h == 0 || in.w == 0 || max_batch == 0)
		return lat_err_set(err, LAT_EINVAL, "%s layer: input %zux%zux%zu, max_batch %zu must be > 0",
				   name, in.c, in.h, in.w, max_batch);
	/* a batch of inputs in doubles fits a size_t: so does every batch product of these layers */
	if (lat_size_mul(in.h, in.w, &n) || lat_size_mul(n, in.c, &n) || lat_size_mul(n, max_batch, &n) ||
	    lat_size_mul(n, sizeof(double), &n))
		return lat_err_set(err, LAT_ENOMEM,
				   "%s layer: input %zux%zux%zu with max_batch %zu too large", name, in.c,
				   in.h, in.w, max_batch);
	return LAT_OK;
}

static void no_init(lat_layer *l, gsl_rng *r)
{
	(void)l;
	(void)r;
}

/* ---- relu ---- */

static int relu_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	size_t n = batch * lat_shape_size(l->in);

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for if (n > PAR_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] > 0 ? in[i] : 0;
	return LAT_OK;
}

static int relu_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			 size_t batch)
{
	size_t n = batch * lat_shape_size(l->in);

	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
	if (!din)
		return LAT_OK;
#pragma omp parallel for if (n > PAR_MIN)
	for (size_t i = 0; i < n; i++)
		din[i] = in[i] > 0 ? dout[i] : 0;
	return LAT_OK;
}

static const lat_layer_type relu_type = {
    .name = "relu",
    .forward = relu_forward,
    .backward = relu_backward,
    .init = no_init,
};

lat_layer *lat_relu_alloc(lat_shape in, size_t max_batch, char *err)
{
	lat_layer *l = NULL;

	if (shape_check("relu", in, max_batch, err))
		goto out;
	l = lat_layer_new(&relu_type, in, in, max_batch, 0, 0, err);
out:
	return l;
}

/* ---- max pooling ---- */

typedef struct {
	size_t k;
	size_t idx[]; /* max_batch x out size: offset of each window's (first) maximum within its sample */
} maxpool_priv;

static int maxpool_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	maxpool_priv *p = l->priv;
	size_t k = p->k, h = l->in.h, w = l->in.w, ho = l->out.h, wo = l->out.w;
	size_t n_in = lat_shape_size(l->in), n_out = lat_shape_size(l->out);
	size_t n_planes = batch * l->in.c;

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for if (n_planes * h * w > PAR_MIN)
	for (size_t bc = 0; bc < n_planes; bc++) {
		size_t b = bc / l->in.c, c = bc % l->in.c;
		size_t base = b * n_in + c * h * w, obase = b * n_out + c * ho * wo;
		for (size_t y = 0; y < ho; y++) {
			for (size_t x = 0; x < wo; x++) {
				size_t best = base + y * k * w + x * k;
				for (size_t u = 0; u < k; u++) {
					for (size_t v = 0; v < k; v++) {
						size_t at = base + (y * k + u) * w + x * k + v;
						if (in[at] > in[best])
							best = at;
					}
				}
				out[obase + y * wo + x] = in[best];
				p->idx[obase + y * wo + x] = best - b * n_in;
			}
		}
	}
	return LAT_OK;
}

static int maxpool_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			    size_t batch)
{
	const maxpool_priv *p = l->priv;
	size_t n_in = lat_shape_size(l->in), n_out = lat_shape_size(l->out);

	(void)in;
	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
	if (!din)
		return LAT_OK;
		/* Windows do not overlap (stride k): samples are independent and each din is written once. */
#pragma omp parallel for if (batch * n_in > PAR_MIN)
	for (size_t b = 0; b < batch; b++) {
		float *d = din + b * n_in;
		memset(d, 0, n_in * sizeof *d);
		for (size_t j = 0; j < n_out; j++)
			d[p->idx[b * n_out + j]] += dout[b * n_out + j];
	}
	return LAT_OK;
}

static const lat_layer_type maxpool_type = {
    .name = "maxpool",
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .init = no_init,
};

lat_layer *lat_maxpool_alloc(lat_shape in, size_t k, size_t max_batch, char *err)
{
	lat_layer *l = NULL;
	maxpool_priv *p = NULL;
	lat_shape out;
	size_t bytes;

	if (shape_check("maxpool", in, max_batch, err))
		goto out;
	if (k == 0 || k > in.h || k > in.w) {
		lat_err_set(err, LAT_EINVAL, "maxpool layer: window %zu not in [1, min(h, w)] for %zux%zu", k,
			    in.h, in.w);
		goto out;
	}
	out = (lat_shape){in.c, in.h / k, in.w / k};
	if (lat_size_mul(max_batch, lat_shape_size(out), &bytes) ||
	    lat_size_mul(bytes, sizeof p->idx[0], &bytes) || lat_size_add(bytes, sizeof *p, &bytes))
		bytes = SIZE_MAX; /* malloc refuses it */
	p = malloc(bytes);
	if (!p) {
		lat_err_set(err, LAT_ENOMEM, "maxpool layer: out of memory");
		goto out;
	}
	p->k = k;
	l = lat_layer_new(&maxpool_type, in, out, max_batch, 0, 0, err);
	if (!l)
		goto out;
	l->priv = p;
	p = NULL;
out:
	free(p);
	return l;
}

/* ---- batch normalisation ---- */

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
#pragma omp parallel for if (batch * n_in > PAR_MIN)
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
#pragma omp parallel for if (batch * n_in > PAR_MIN)
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

	if (shape_check("bn", in, max_batch, err))
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

/* ---- global average pooling ---- */

static int avgpool_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	size_t hw = l->in.h * l->in.w, n_planes = batch * l->in.c;

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for if (n_planes * hw > PAR_MIN)
	for (size_t j = 0; j < n_planes; j++) {
		double s = 0;
		for (size_t i = 0; i < hw; i++)
			s += in[j * hw + i];
		out[j] = (float)(s / (double)hw);
	}
	return LAT_OK;
}

static int avgpool_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			    size_t batch)
{
	size_t hw = l->in.h * l->in.w, n_planes = batch * l->in.c;

	(void)in;
	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
	if (!din)
		return LAT_OK;
#pragma omp parallel for if (n_planes * hw > PAR_MIN)
	for (size_t j = 0; j < n_planes; j++) {
		float d = (float)(dout[j] / (double)hw);
		for (size_t i = 0; i < hw; i++)
			din[j * hw + i] = d;
	}
	return LAT_OK;
}

static const lat_layer_type avgpool_type = {
    .name = "avgpool",
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .init = no_init,
};

lat_layer *lat_avgpool_alloc(lat_shape in, size_t max_batch, char *err)
{
	lat_layer *l = NULL;

	if (shape_check("avgpool", in, max_batch, err))
		goto out;
	l = lat_layer_new(&avgpool_type, in, (lat_shape){in.c, 1, 1}, max_batch, 0, 0, err);
out:
	return l;
}

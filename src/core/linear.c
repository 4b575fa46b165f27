/* linear.c: fully connected layer out = in W^T + b on flattened samples, via cblas_sgemm.
 *
 * Threads (OpenMP) take fixed blocks of batch rows (forward, din) or of input columns of W (weight
 * gradient), so every output element is one dot product in a fixed order. */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"

typedef struct {
	size_t n_in, n_out;
	int bias;
} linear_priv;

/* Work is cut into blocks of a fixed size, not one per thread: every BLAS call, and so every result
 * bit, is then the same for any thread count. */
#define ROW_BLOCK 32  /* samples per block (forward, din) */
#define COL_BLOCK 128 /* input columns per block (weight gradient) */

static int linear_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	const linear_priv *p = l->priv;
	size_t n_in = p->n_in, n_out = p->n_out, n_blk = (batch + ROW_BLOCK - 1) / ROW_BLOCK;

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n_blk; i++) {
		size_t lo = i * ROW_BLOCK, hi = lo + ROW_BLOCK < batch ? lo + ROW_BLOCK : batch;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), (int)n_out, (int)n_in, 1,
			    in + lo * n_in, (int)n_in, l->w, (int)n_in, 0, out + lo * n_out, (int)n_out);
		if (p->bias)
			for (size_t b = lo; b < hi; b++)
				for (size_t o = 0; o < n_out; o++)
					out[b * n_out + o] += l->w[n_out * n_in + o];
	}
	return LAT_OK;
}

static int linear_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			   size_t batch)
{
	const linear_priv *p = l->priv;
	size_t n_in = p->n_in, n_out = p->n_out;
	size_t n_cblk = (n_in + COL_BLOCK - 1) / COL_BLOCK, n_rblk = (batch + ROW_BLOCK - 1) / ROW_BLOCK;

	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
	if (batch == 0)
		return LAT_OK;
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (size_t i = 0; i < n_cblk; i++) {
			/* dW[:, lo:hi] += dout^T in[:, lo:hi] */
			size_t lo = i * COL_BLOCK, hi = lo + COL_BLOCK < n_in ? lo + COL_BLOCK : n_in;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_out, (int)(hi - lo),
				    (int)batch, 1, dout, (int)n_out, in + lo, (int)n_in, 1, l->g + lo,
				    (int)n_in);
		}
#pragma omp for schedule(static)
		for (size_t o = 0; o < (p->bias ? n_out : 0); o++) {
			float s = 0;
			for (size_t b = 0; b < batch; b++)
				s += dout[b * n_out + o];
			l->g[n_out * n_in + o] += s;
		}
		if (din) {
#pragma omp for schedule(static)
			for (size_t i = 0; i < n_rblk; i++) {
				/* din[lo:hi] = dout[lo:hi] W */
				size_t lo = i * ROW_BLOCK,
				       hi = lo + ROW_BLOCK < batch ? lo + ROW_BLOCK : batch;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo),
					    (int)n_in, (int)n_out, 1, dout + lo * n_out, (int)n_out, l->w,
					    (int)n_in, 0, din + lo * n_in, (int)n_in);
			}
		}
	}
	return LAT_OK;
}

/* PyTorch defaults: weights and bias uniform(+-1/sqrt(n_in)). */
static void linear_init(lat_layer *l, gsl_rng *r)
{
	const linear_priv *p = l->priv;
	double bound = lat_kaiming_bound(p->n_in);

	lat_init_uniform(l->w, p->n_out * p->n_in, bound, r);
	if (p->bias)
		lat_init_uniform(l->w + p->n_out * p->n_in, p->n_out, bound, r);
}

static const lat_layer_type linear_type = {
    .name = "linear",
    .forward = linear_forward,
    .backward = linear_backward,
    .init = linear_init,
    .bind = NULL,
    .free = NULL,
};

lat_layer *lat_linear_alloc(lat_shape in, size_t n_out, int bias, size_t max_batch, char *err)
{
	lat_layer *l = NULL, *res = NULL;
	linear_priv *p = NULL;
	size_t n_in = lat_shape_size(in);

	if (!in.c || !in.h || !in.w || !n_out || !max_batch) {
		lat_err_set(err, LAT_EINVAL,
			    "linear layer: sizes must be > 0 (in %zux%zux%zu, n_out %zu, "
			    "max_batch %zu)",
			    in.c, in.h, in.w, n_out, max_batch);
		goto out;
	}
	/* the BLAS takes int dimensions; n_in n_out + n_out must fit a size_t */
	if (in.c > INT_MAX / in.h || in.c * in.h > INT_MAX / in.w || n_out > INT_MAX || max_batch > INT_MAX ||
	    n_in > SIZE_MAX / n_out - 1) {
		lat_err_set(err, LAT_ENOMEM, "linear layer: sizes overflow");
		goto out;
	}
	l = lat_layer_new(&linear_type, in, (lat_shape){n_out, 1, 1}, max_batch,
			  n_out * n_in + (bias ? n_out : 0), 0, err);
	if (!l)
		goto out;
	p = calloc(1, sizeof *p);
	if (!p) {
		lat_err_set(err, LAT_ENOMEM, "linear layer: out of memory");
		goto out;
	}
	p->n_in = n_in;
	p->n_out = n_out;
	p->bias = bias ? 1 : 0;
	l->priv = p;
	res = l;
	l = NULL;
out:
	lat_layer_free(l);
	return res;
}

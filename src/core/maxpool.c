/* maxpool.c: k x k max pooling (stride k), forward and backward. */
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
#pragma omp parallel for if (n_planes * h * w > LAT_LAYER_PAR_MIN)
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
#pragma omp parallel for if (batch * n_in > LAT_LAYER_PAR_MIN)
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
    .init = lat_layer_no_init,
};

lat_layer *lat_maxpool_alloc(lat_shape in, size_t k, size_t max_batch, char *err)
{
	lat_layer *l = NULL;
	maxpool_priv *p = NULL;
	lat_shape out;
	size_t bytes;

	if (lat_layer_shape_check("maxpool", in, max_batch, err))
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

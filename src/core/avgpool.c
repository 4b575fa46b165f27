/* avgpool.c: global average pooling over each channel, forward and backward. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"
#include "size.h"

static int avgpool_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	size_t hw = l->in.h * l->in.w, n_planes = batch * l->in.c;

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for if (n_planes * hw > LAT_LAYER_PAR_MIN)
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
#pragma omp parallel for if (n_planes * hw > LAT_LAYER_PAR_MIN)
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
    .init = lat_layer_no_init,
};

lat_layer *lat_avgpool_alloc(lat_shape in, size_t max_batch, char *err)
{
	lat_layer *l = NULL;

	if (lat_layer_shape_check("avgpool", in, max_batch, err))
		goto out;
	l = lat_layer_new(&avgpool_type, in, (lat_shape){in.c, 1, 1}, max_batch, 0, 0, err);
out:
	return l;
}

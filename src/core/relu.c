/* relu.c: the rectifier max(x, 0), forward and backward. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"
#include "size.h"

static int relu_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	size_t n = batch * lat_shape_size(l->in);

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for simd if (n > LAT_LAYER_PAR_MIN)
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
#pragma omp parallel for simd if (n > LAT_LAYER_PAR_MIN)
	for (size_t i = 0; i < n; i++) {
		float d = dout[i]; /* read unconditionally, so the loop vectorises without masked loads */
		din[i] = in[i] > 0 ? d : 0;
	}
	return LAT_OK;
}

static const lat_layer_type relu_type = {
    .name = "relu",
    .forward = relu_forward,
    .backward = relu_backward,
    .init = lat_layer_no_init,
};

lat_layer *lat_relu_alloc(lat_shape in, size_t max_batch, char *err)
{
	lat_layer *l = NULL;

	if (lat_layer_shape_check("relu", in, max_batch, err))
		goto out;
	l = lat_layer_new(&relu_type, in, in, max_batch, 0, 0, err);
out:
	return l;
}

/* layer.c: layer lifecycle (free, bind) and the shared construction and PyTorch-default init helpers. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"
#include "size.h"

const char *const lat_layer_kind_names[] = {[LAT_L_CONV] = "conv",	 [LAT_L_LC] = "lc",
					    [LAT_L_RELU] = "relu",	 [LAT_L_MAXPOOL] = "maxpool",
					    [LAT_L_BN] = "bn",		 [LAT_L_AVGPOOL] = "avgpool",
					    [LAT_L_LINEAR] = "linear",	 [LAT_L_RESBLOCK] = "resblock",
					    NULL};

const char *lat_layer_kind_name(lat_layer_kind k)
{
	return (size_t)k < sizeof lat_layer_kind_names / sizeof lat_layer_kind_names[0] - 1 ? lat_layer_kind_names[k]
												 : "?";
}

lat_layer *lat_layer_new(const lat_layer_type *t, lat_shape in, lat_shape out, size_t max_batch,
			 size_t n_params, size_t n_buffers, char *err)
{
	lat_layer *l = calloc(1, sizeof *l);

	if (!l) {
		lat_err_set(err, LAT_ENOMEM, "%s layer: out of memory", t ? t->name : "?");
		goto out;
	}
	l->type = t;
	l->in = in;
	l->out = out;
	l->max_batch = max_batch;
	l->n_params = n_params;
	l->n_buffers = n_buffers;
out:
	return l;
}

void lat_init_uniform(float *w, size_t n, double bound, gsl_rng *r)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(bound * (2 * gsl_rng_uniform(r) - 1));
}

double lat_kaiming_bound(size_t fan_in)
{
	return fan_in ? 1 / sqrt((double)fan_in) : 0;
}

float *lat_floats_alloc(size_t n)
{
	if (n > SIZE_MAX / sizeof(float))
		return NULL;
	return calloc(n ? n : 1, sizeof(float));
}

void lat_layer_free(lat_layer *l)
{
	if (!l)
		return;
	if (l->type && l->type->free)
		l->type->free(l);
	else
		free(l->priv);
	free(l);
}

void lat_layer_bind(lat_layer *l, float *w, float *g, float *buf)
{
	if (l->type && l->type->bind) {
		l->type->bind(l, w, g, buf);
		return;
	}
	l->w = w;
	l->g = g;
	l->buf = buf;
}

size_t lat_layer_scratch_floats(const lat_layer *l)
{
	return l->type->scratch_floats ? l->type->scratch_floats(l) : 0;
}

void lat_layer_use_scratch(lat_layer *l, float *scratch)
{
	if (l->type->use_scratch)
		l->type->use_scratch(l, scratch);
}

int lat_layer_shape_check(const char *name, lat_shape in, size_t max_batch, char *err)
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

void lat_layer_no_init(lat_layer *l, gsl_rng *r)
{
	(void)l;
	(void)r;
}

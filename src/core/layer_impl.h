/* layer_impl.h: internal helpers shared by the layer implementations (allocation and PyTorch-style init). */
#ifndef LATERAL_LAYER_IMPL_H
#define LATERAL_LAYER_IMPL_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "lateral/layer.h"

/* Returns a new zeroed layer with type t, shapes, max_batch and parameter/buffer counts filled in
 * (priv, w, g, buf NULL), or NULL with err set (LAT_ENOMEM). Free with lat_layer_free, which calls
 * t->free (or free(priv) when t->free is NULL) and then frees the struct. */
lat_layer *lat_layer_new(const lat_layer_type *t, lat_shape in, lat_shape out, size_t max_batch,
			 size_t n_params, size_t n_buffers, char *err);

/* Fills w[0..n) with independent draws from uniform(-bound, bound) using r. */
void lat_init_uniform(float *w, size_t n, double bound, gsl_rng *r);

/* PyTorch's default bound for a layer with fan_in inputs per output: kaiming_uniform with a = sqrt(5)
 * gives sqrt(6 / ((1 + a^2) fan_in)) = 1 / sqrt(fan_in), which is also the default bias bound.
 * Returns 0 when fan_in is 0. */
double lat_kaiming_bound(size_t fan_in);

/* Below this many floats per call a parallel region costs more than it saves. */
#define LAT_LAYER_PAR_MIN 32768

/* Rejects empty shapes, a zero max_batch (LAT_EINVAL) and sizes whose batch product in doubles would
 * overflow (LAT_ENOMEM), naming the layer. */
int lat_layer_shape_check(const char *name, lat_shape in, size_t max_batch, char *err);

/* The init of a layer without parameters: nothing. */
void lat_layer_no_init(lat_layer *l, gsl_rng *r);

/* Returns a new zeroed array of n floats (at least one element), or NULL when out of memory or n
 * would overflow. Free with free(). */
float *lat_floats_alloc(size_t n);

/* The whole layout (whole.c). The copy of one run of cnt values at local index l0 and whole index w0,
 * clipped to m's window; a replica only when m copies replicas. */
struct lat_whole_map {
	float *local, *window;
	size_t lo, len;
	int to_whole, replicas;
};
void lat_whole_run(const lat_whole_map *m, size_t l0, size_t w0, size_t cnt, int replica);
/* l's whole parameter count and its copy through m (the type's methods, or one replicated run). */
size_t lat_layer_params_whole(const lat_layer *l);
void lat_layer_map_whole(const lat_layer *l, const lat_whole_map *m, size_t lpos, size_t wpos);

#endif

/* gradcheck.h: finite-difference gradient check of any lat_layer, shared by the layer test suites.
 *
 * The scalar loss is L = sum_k R_k out_k with a fixed random projection R, so dL/dout = R. The check
 * compares backward's dL/din and dL/dparams with central differences of L (step h, in float32 but
 * accumulated in double). Returns the largest error max |analytic - numeric| / max(1, |numeric|). */
#ifndef LATERAL_TEST_GRADCHECK_H
#define LATERAL_TEST_GRADCHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "lateral/layer.h"

/* Layer l must be bound to params/grads/buffers already (gc_bind does it). */
typedef struct {
	float *w, *g, *buf;
} gc_arrays;

/* Allocates and binds parameter, gradient and buffer arrays for l, initialised with l's init and r. */
static inline int gc_bind(lat_layer *l, gsl_rng *r, gc_arrays *a)
{
	a->w = calloc(l->n_params + 1, sizeof *a->w);
	a->g = calloc(l->n_params + 1, sizeof *a->g);
	a->buf = calloc(l->n_buffers + 1, sizeof *a->buf);
	if (!a->w || !a->g || !a->buf)
		return -1;
	lat_layer_bind(l, a->w, a->g, a->buf);
	if (l->type->init)
		l->type->init(l, r);
	return 0;
}

static inline void gc_release(gc_arrays *a)
{
	free(a->w);
	free(a->g);
	free(a->buf);
}

static inline double gc_loss(lat_layer *l, const float *in, float *out, const float *proj, size_t batch)
{
	size_t n = batch * lat_shape_size(l->out);
	double s = 0;
	l->type->forward(l, in, out, batch, 1);
	for (size_t k = 0; k < n; k++)
		s += (double)proj[k] * (double)out[k];
	return s;
}

/* Checks dL/din and dL/dparams of l at the random input in (batch samples). h is the step. */
static inline double gc_check(lat_layer *l, float *in, size_t batch, gsl_rng *r, double h)
{
	size_t n_in = batch * lat_shape_size(l->in), n_out = batch * lat_shape_size(l->out);
	float *out = malloc(n_out * sizeof *out), *proj = malloc(n_out * sizeof *proj);
	float *din = malloc(n_in * sizeof *din);
	double worst = 0;

	if (!out || !proj || !din) {
		worst = INFINITY;
		goto out;
	}
	for (size_t k = 0; k < n_out; k++)
		proj[k] = (float)(2 * gsl_rng_uniform(r) - 1);
	memset(l->g, 0, l->n_params * sizeof *l->g);
	gc_loss(l, in, out, proj, batch);
	l->type->backward(l, in, out, proj, din, batch);
	for (size_t k = 0; k < n_in; k++) {
		float keep = in[k];
		double lp, lm, num;
		in[k] = keep + (float)h;
		lp = gc_loss(l, in, out, proj, batch);
		in[k] = keep - (float)h;
		lm = gc_loss(l, in, out, proj, batch);
		in[k] = keep;
		num = (lp - lm) / (2 * h);
		worst = fmax(worst, fabs(din[k] - num) / fmax(1, fabs(num)));
	}
	for (size_t k = 0; k < l->n_params; k++) {
		float keep = l->w[k];
		double lp, lm, num;
		l->w[k] = keep + (float)h;
		lp = gc_loss(l, in, out, proj, batch);
		l->w[k] = keep - (float)h;
		lm = gc_loss(l, in, out, proj, batch);
		l->w[k] = keep;
		num = (lp - lm) / (2 * h);
		worst = fmax(worst, fabs(l->g[k] - num) / fmax(1, fabs(num)));
	}
out:
	free(out);
	free(proj);
	free(din);
	return worst;
}

#endif

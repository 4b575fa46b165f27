/* transfer.c: the transfer matrix of a hebbian phase, built with cblas_sgemm (see transfer.h). */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h> /* declarations only: cblas_sgemm comes from OpenBLAS at link time */
#include <gsl/gsl_randist.h>

#include "transfer.h"

struct lat_transfer {
	size_t d, P;
	float *a; /* d x d */
	float *b; /* d x d: the pool mean's matrix B, or NULL */
	float *x; /* P x d */
	float *t; /* d x P: A X^T (and B X^T) */
};

lat_transfer *lat_transfer_alloc(size_t d, size_t P, int with_mean)
{
	lat_transfer *t = NULL;

	if (!d || !P || d > INT_MAX || P > INT_MAX || d > SIZE_MAX / sizeof(float) / d ||
	    P > SIZE_MAX / sizeof(float) / d)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->d = d;
	t->P = P;
	t->a = malloc(d * d * sizeof *t->a);
	t->b = with_mean ? malloc(d * d * sizeof *t->b) : NULL;
	t->x = malloc(P * d * sizeof *t->x);
	t->t = malloc(d * P * sizeof *t->t);
	if (!t->a || (with_mean && !t->b) || !t->x || !t->t) {
		lat_transfer_free(t);
		return NULL;
	}
	return t;
}

void lat_transfer_free(lat_transfer *t)
{
	if (!t)
		return;
	free(t->t);
	free(t->x);
	free(t->b);
	free(t->a);
	free(t);
}

/* rows [i0, i1) of m <- keep m - (step / P) (m X^T) X + pull I: one iteration of a transfer matrix
 * (d x d); each row evolves on its own */
static void iterate(lat_transfer *t, float *m, float keep, double step, float pull, size_t i0, size_t i1)
{
	int di = (int)t->d, Pi = (int)t->P, rows = (int)(i1 - i0);
	float *mr = m + i0 * t->d;

	if (!rows)
		return;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, Pi, di, 1.0f, mr, di, t->x, di, 0.0f, t->t, Pi);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, di, Pi, (float)(-step / (double)t->P), t->t, Pi, t->x,
		    di, keep, mr, di);
	for (size_t i = i0; i < i1; i++)
		m[i * t->d + i] += pull;
}

int lat_transfer_finite(const float *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(m[i]))
			return 0;
	return 1;
}

int lat_transfer_build(lat_transfer *t, gsl_rng *r, size_t iterations, double eta, double gamma, double mean_gain,
		       size_t i0, size_t i1, float **a, float **b)
{
	size_t d = t->d, P = t->P;
	float keep = (float)(1 - eta * gamma), pull = (float)(eta * gamma);

	for (size_t i = 0; i < d * d; i++)
		t->a[i] = 0;
	for (size_t i = 0; i < d; i++)
		t->a[i * d + i] = 1;
	if (t->b)
		memcpy(t->b, t->a, d * d * sizeof *t->b);
	for (size_t it = 0; it < iterations; it++) {
		for (size_t i = 0; i < P * d; i++)
			t->x[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
		iterate(t, t->a, keep, eta, pull, i0, i1);
		if (t->b)
			iterate(t, t->b, keep, eta * mean_gain, pull, i0, i1);
	}
	*a = t->a;
	*b = t->b;
	return lat_transfer_finite(t->a + i0 * d, (i1 - i0) * d) &&
			   (!t->b || lat_transfer_finite(t->b + i0 * d, (i1 - i0) * d))
		   ? 0
		   : 1;
}

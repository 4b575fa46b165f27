/* transfer.c: the transfer matrix of a hebbian phase, built with cblas_sgemm (see transfer.h). */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <gsl/gsl_cblas.h> /* declarations only: cblas_sgemm comes from OpenBLAS at link time */
#include <gsl/gsl_randist.h>

#include "transfer.h"

struct lat_transfer {
	size_t d, P;
	float *a; /* d x d */
	float *x; /* P x d */
	float *t; /* d x P: A X^T */
};

lat_transfer *lat_transfer_alloc(size_t d, size_t P)
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
	t->x = malloc(P * d * sizeof *t->x);
	t->t = malloc(d * P * sizeof *t->t);
	if (!t->a || !t->x || !t->t) {
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
	free(t->a);
	free(t);
}

const float *lat_transfer_build(lat_transfer *t, gsl_rng *r, size_t iterations, double eta, double gamma)
{
	size_t d = t->d, P = t->P;
	int di = (int)d, Pi = (int)P;
	float keep = (float)(1 - eta * gamma), pull = (float)(eta * gamma);

	for (size_t i = 0; i < d * d; i++)
		t->a[i] = 0;
	for (size_t i = 0; i < d; i++)
		t->a[i * d + i] = 1;
	for (size_t it = 0; it < iterations; it++) {
		for (size_t i = 0; i < P * d; i++)
			t->x[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
		/* T = A X^T (d x P), then A = keep A - (eta / P) T X (+ pull on the diagonal) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, di, Pi, di, 1.0f, t->a, di, t->x, di, 0.0f,
			    t->t, Pi);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, di, di, Pi, (float)(-eta / (double)P), t->t,
			    Pi, t->x, di, keep, t->a, di);
		for (size_t i = 0; i < d; i++)
			t->a[i * d + i] += pull;
	}
	for (size_t i = 0; i < d * d; i++)
		if (!isfinite(t->a[i]))
			return NULL;
	return t->a;
}

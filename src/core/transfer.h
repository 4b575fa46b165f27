/* transfer.h: a hebbian or linear-circuit phase of interior-only pools as d x d transfer matrices (internal).
 *
 * In a pool whose members all see the whole noise patch, one iteration of the hebbian phase keeps the
 * pool mean (the drives' deviations from their pool mean sum to zero) and maps the deviations
 * D = W - Wbar (rows: members) to
 *   D <- D ((1 - eta gamma) I - eta S_t) + eta gamma D_0,    S_t = (1/P) X_t^T X_t,
 * with X_t the iteration's P x d patches. By induction D_t = D_0 A_t with
 *   A_0 = I,  A_{t+1} = (1 - eta gamma) A_t - (eta / P) (A_t X_t^T) X_t + eta gamma I,
 * the same matrix for every pool that sees the patch in the same coordinate order (other pools see a
 * permutation of it: their matrix is A with rows and columns permuted alike). Building A costs two
 * d x d x P products per iteration instead of two (members x d x P) products per pool. */
#ifndef LATERAL_TRANSFER_H
#define LATERAL_TRANSFER_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

/* A pool whose circuit has a finite alpha reports r_i - b = z_i - a zbar with a = alpha / (1 + alpha):
 * the deviations still go through A, while the pool mean wbar (a row) moves as
 *   wbar <- wbar ((1 - eta gamma) I - eta (1 - a) S_t) + eta gamma wbar_0,
 * so wbar_t = wbar_0 B_t with B built like A but with the step eta (1 - a) (B = I when a = 1). */

/* Workspace for A (d x d), B when with_mean is nonzero, the patches (P x d) and A X^T (d x P), floats;
 * free with lat_transfer_free (NULL is accepted). Returns NULL when out of memory or when d or P exceed
 * the BLAS's int. */
typedef struct lat_transfer lat_transfer;
lat_transfer *lat_transfer_alloc(size_t d, size_t P, int with_mean);
void lat_transfer_free(lat_transfer *t);

/* Builds rows [i0, i1) of A (and B, with the mean's step eta mean_gain, mean_gain = 1 - a) over
 * `iterations` iterations with step eta and anchor gamma, drawing each iteration's P x d patches as
 * i.i.d. N(0, 1) from r in row-major order (the draws a sampled phase makes; all of them, whatever the
 * rows). Each row evolves on its own, so processes that build disjoint rows from the same stream hold
 * the rows of one A between them (0, d: all of it). *a and *b (NULL without B) point to d x d row-major
 * matrices owned by t, valid until the next call; the other rows are undefined, and a caller may write
 * them. Returns 0, or 1 when an entry of the rows built is not finite. */
int lat_transfer_build(lat_transfer *t, gsl_rng *r, size_t iterations, double eta, double gamma, double mean_gain,
		       size_t i0, size_t i1, float **a, float **b);

/* 1 when all n entries of m are finite. */
int lat_transfer_finite(const float *m, size_t n);

#endif

/* rng.h: one seeded Mersenne twister per test program and uniform float arrays from it (tests only). */
#ifndef LATERAL_TEST_RNG_H
#define LATERAL_TEST_RNG_H

#include <stdlib.h>

#include <gsl/gsl_rng.h>

/* The includer defines SEED. rng exists between suite_init and suite_clean (CUnit's suite hooks). */
static gsl_rng *rng;

static int suite_init(void)
{
	rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!rng)
		return -1;
	gsl_rng_set(rng, SEED);
	return 0;
}

static int suite_clean(void)
{
	gsl_rng_free(rng);
	return 0;
}

/* n floats uniform in [-1, 1) (malloc'd, the caller frees; NULL when out of memory). */
static float *random_floats(size_t n)
{
	float *x = malloc((n ? n : 1) * sizeof *x);
	if (x)
		for (size_t i = 0; i < n; i++)
			x[i] = (float)(2 * gsl_rng_uniform(rng) - 1);
	return x;
}

#endif

/* fuzz_data.h: dataset checks of the IDX and CIFAR harnesses (the loader contract on success and failure). */
#ifndef LATERAL_FUZZ_DATA_H
#define LATERAL_FUZZ_DATA_H

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "lateral/data.h"

/* A one-sample dataset the loader must leave untouched when it fails. */
static inline void fuzz_sentinel(lat_dataset *d)
{
	lat_dataset_init(d);
	d->x = malloc(sizeof *d->x);
	d->y = malloc(sizeof *d->y);
	if (!d->x || !d->y)
		fuzz_die("fuzz: malloc");
	d->n = d->c = d->h = d->w = 1;
	d->n_classes = 2;
	d->x[0] = 0.5f;
	d->y[0] = 1;
}

/* Success: a well-formed dataset (shape c x h x w as expected, labels in range, pixels in [0, 1]).
 * Failure: the sentinel is unchanged. */
static inline void fuzz_check_dataset(int rc, const lat_dataset *d, const float *sentinel_x, size_t c,
				      size_t side)
{
	size_t i, n_pix;

	if (rc) {
		if (d->x != sentinel_x || d->n != 1 || d->x[0] != 0.5f || d->y[0] != 1) {
			fprintf(stderr, "fuzz: a failed load changed the dataset\n");
			abort();
		}
		return;
	}
	if (d->n == 0 || d->c != c || d->h == 0 || d->w == 0 || (side && (d->h != side || d->w != side)) ||
	    !d->x || !d->y) {
		fprintf(stderr, "fuzz: loaded dataset has shape n=%zu c=%zu h=%zu w=%zu\n", d->n, d->c, d->h,
			d->w);
		abort();
	}
	for (i = 0; i < d->n; i++)
		if (d->y[i] < 0 || (size_t)d->y[i] >= d->n_classes) {
			fprintf(stderr, "fuzz: label %d of sample %zu outside [0, %zu)\n", d->y[i], i,
				d->n_classes);
			abort();
		}
	n_pix = d->n * d->c * d->h * d->w;
	for (i = 0; i < n_pix; i++)
		if (!(d->x[i] >= 0.0f && d->x[i] <= 1.0f)) {
			fprintf(stderr, "fuzz: pixel %zu = %g outside [0, 1]\n", i, (double)d->x[i]);
			abort();
		}
}

#endif

/* loss.c: mean softmax cross-entropy, L = (1/B) sum_b [log sum_j exp z_bj - z_b,y_b], and its gradient. */
#include <config.h>

#include <assert.h>
#include <math.h>

#include "lateral/layer.h"

double lat_softmax_xent(const float *logits, const int *labels, size_t batch, size_t n_classes,
			float *dlogits, size_t *n_correct)
{
	double loss = 0;
	size_t hits = 0;

	if (batch == 0 || n_classes == 0)
		goto out;
	for (size_t b = 0; b < batch; b++) {
		const float *z = logits + b * n_classes;
		size_t y = (size_t)labels[b], arg = 0;
		double zmax, sum = 0, lse;

		assert(labels[b] >= 0 && y < n_classes);
		/* Subtracting the maximum keeps every exp() in (0, 1]; the first maximum is the guess. */
		zmax = z[0];
		for (size_t j = 1; j < n_classes; j++) {
			if (z[j] > zmax) {
				zmax = z[j];
				arg = j;
			}
		}
		for (size_t j = 0; j < n_classes; j++)
			sum += exp((double)z[j] - zmax);
		lse = zmax + log(sum);
		loss += lse - (double)z[y];
		hits += arg == y;
		if (dlogits) {
			float *d = dlogits + b * n_classes;
			for (size_t j = 0; j < n_classes; j++) {
				double p = exp((double)z[j] - lse);
				d[j] = (float)((p - (j == y)) / (double)batch);
			}
		}
	}
	loss /= (double)batch;
out:
	if (n_correct)
		*n_correct = hits;
	return loss;
}

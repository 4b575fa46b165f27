/* loss.c: mean softmax cross-entropy, L = (1/B) sum_b [log sum_j exp z_bj - z_b,y_b], and its gradient. */
#include <config.h>

#include <math.h>

#include "lateral/err.h"
#include "lateral/loss.h"

int lat_loss_softmax_xent(const float *logits, const int *labels, size_t batch, size_t n_classes,
			  float *dlogits, double *loss, size_t *n_correct, char *err)
{
	double sum_loss = 0;
	size_t hits = 0;
	int status = LAT_OK;

	for (size_t b = 0; b < batch && n_classes > 0; b++) {
		const float *z = logits + b * n_classes;
		size_t y = (size_t)labels[b], arg = 0;
		double zmax, sum = 0, lse;

		if (labels[b] < 0 || y >= n_classes) {
			status = lat_err_set(err, LAT_EINVAL, "sample %zu of the batch has label %d, outside [0, %zu)",
					     b + 1, labels[b], n_classes);
			goto out;
		}
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
		sum_loss += lse - (double)z[y];
		hits += arg == y;
		if (dlogits) {
			float *d = dlogits + b * n_classes;
			for (size_t j = 0; j < n_classes; j++) {
				double p = exp((double)z[j] - lse);
				d[j] = (float)((p - (j == y)) / (double)batch);
			}
		}
	}
	if (batch > 0 && n_classes > 0)
		sum_loss /= (double)batch;
out:
	*loss = sum_loss;
	if (n_correct)
		*n_correct = hits;
	return status;
}

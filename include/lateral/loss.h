/* loss.h: the training loss, mean softmax cross-entropy over a batch of logits. */
#ifndef LATERAL_LOSS_H
#define LATERAL_LOSS_H

#include <stddef.h>

/* Thread safety: reentrant. */

#ifdef __cplusplus
extern "C" {
#endif

/* Mean softmax cross-entropy L = (1/B) sum_b [log sum_j exp z_bj - z_b,y_b] over the batch of logits
 * (batch x n_classes, borrowed). When dlogits (batch x n_classes) is non-NULL it receives dL/dlogits,
 * already divided by batch. *loss receives L (0 for an empty batch); *n_correct (may be NULL) the
 * number of samples whose first argmax is the label. Returns LAT_OK, or LAT_EINVAL with err when a
 * label lies outside [0, n_classes) (outputs then unspecified). */
int lat_loss_softmax_xent(const float *logits, const int *labels, size_t batch, size_t n_classes,
			  float *dlogits, double *loss, size_t *n_correct, char *err);

#ifdef __cplusplus
}
#endif

#endif

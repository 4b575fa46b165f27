/* rows.h: a network split into strips of rows (the halo form): who owns and reads which rows, and the
 * exchanges of halo rows and their gradients (internal). */
#ifndef LATERAL_ROWS_H
#define LATERAL_ROWS_H

#include <stddef.h>

#include "lateral/layer.h"
#include "lateral/net.h"

/* The strips of the spatial layers [0, n_spatial) of a network split over `parts` processes: part r
 * owns rows [r H / parts, (r + 1) H / parts) of each of their outputs (H rows), and layer i reads the
 * rows win[i] of its input (its own strip of the previous output, and the halo rows its outputs need
 * beyond it, which the parts that own them send). The layers after them (the head) run whole on every
 * part, on the last spatial output put together. */
typedef struct lat_rows lat_rows;

/* How the parts reach each other: their sum (borrowed callbacks and contexts), and a point-to-point
 * exchange that carries the halo rows when set (else they go through the sum, every part's halos in one
 * vector). */
typedef struct {
	lat_layer_sum_fn sum;
	void *sum_ctx;
	lat_layer_exchange_fn exchange;
	void *exchange_ctx;
} lat_rows_comm;

/* A new plan for `parts` parts (>= 2), this one `part`, of up to n_layers spatial layers on inputs of
 * shape in, held whole by every part (in_split = 0: a network's) or in strips like the outputs (a
 * residual block's), or NULL when out of memory. Free with lat_rows_free (NULL accepted). */
lat_rows *lat_rows_alloc(size_t part, size_t parts, size_t n_layers, lat_shape in, int in_split);
void lat_rows_free(lat_rows *r);

/* Adds spatial layer i = the count so far: an lc or conv (odd k with padding (k - 1) / 2, stride),
 * maxpool (k = stride = window), relu or bn (k = stride = 1), or a residual block (which reads its own
 * strip of the input and exchanges rows itself), whose whole output has `out` shape.
 * Returns LAT_OK, or LAT_EINVAL with err when its output has fewer rows than there are parts. Sets
 * *o0, *o1 (this part's output rows) and *r0, *r1 (the input rows it reads). */
int lat_rows_add(lat_rows *r, lat_layer_kind kind, size_t k, size_t stride, lat_shape out, size_t *o0,
		 size_t *o1, size_t *r0, size_t *r1, char *err);

/* Allocates the exchange buffers for max_batch samples once every spatial layer is added, with the
 * head's input (the last strips put together) when head is nonzero; returns LAT_OK or LAT_ENOMEM.
 * *floats (added to) counts what it holds. */
int lat_rows_ready(lat_rows *r, size_t max_batch, int head, size_t *floats);

/* The spatial layers added. */
size_t lat_rows_count(const lat_rows *r);

/* Layer i's input for a batch of this part: for i = 0, the rows it reads of the whole input x (an input
 * in strips: of this part's strip x, as below); for i >= 1, those of the previous layer's output strip
 * prev, its halo rows received from the parts that own them (through c: every part calls this for the
 * same layer); the head's (i =
 * lat_rows_count): the last spatial output put together, whole. Returns a pointer to the input (x or
 * prev when nothing is to add, else a buffer of r, valid until layer i's backward), or NULL with err
 * when the sum fails. */
const float *lat_rows_input(lat_rows *r, size_t i, const float *x, const float *prev, size_t batch,
			    const lat_rows_comm *c, char *err);

/* The gradient of the previous layer's output strip from layer i's input gradient din (its window, or
 * the whole head input for i = lat_rows_count): the rows of din this part owns, plus the gradients of
 * its rows that other parts' windows hold (received through c, added in part order), written to
 * dprev; when nothing is to add dprev is not written and 0 is returned with *same = 1 (din is the
 * strip's gradient). LAT_EIO with err when the exchange fails. */
int lat_rows_return(lat_rows *r, size_t i, const float *din, float *dprev, size_t batch, const lat_rows_comm *c,
		    int *same, char *err);

#endif

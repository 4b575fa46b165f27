/* net.h: a sequential network of lat_layer objects with one flat parameter, gradient and buffer array. */
#ifndef LATERAL_NET_H
#define LATERAL_NET_H

#include <stddef.h>

#include "lateral/layer.h"

/* Thread safety: a network belongs to one thread at a time (its layers may use OpenMP inside). */

#ifdef __cplusplus
extern "C" {
#endif

/* The most layers a network holds. */
#define LAT_NET_MAX_LAYERS 64

typedef struct lat_net lat_net;

/* One layer of a network (an entry of an experiment's network.layers). */
typedef struct {
	lat_layer_kind kind;
	size_t channels; /* conv, lc, resblock: output channels */
	size_t kernel;   /* conv, lc: odd kernel size */
	size_t stride;   /* conv, lc, resblock */
	size_t size;     /* maxpool window (= stride) */
	size_t outputs;  /* linear */
	int bias;        /* conv, lc, linear */
	int line;        /* line in the experiment file, for messages */
} lat_layer_spec;

/* How to build a network (an experiment's network.* keys fill it). */
typedef struct {
	const char *source;	      /* name of the experiment in messages (borrowed) */
	const lat_layer_spec *layers; /* n_layers specs, borrowed during lat_net_alloc */
	size_t n_layers;
	int locally_connected; /* turn every conv (and resblock) into its lc twin */
	int keep_first_conv;   /* ... except the first conv layer */
	double bn_momentum, bn_eps;
	lat_lc_bias lc_bias; /* the bias of lc layers that have one: LAT_LC_BIAS_POSITION or _CHANNEL */
	int shared_lc;	   /* lc layers will run sharing phases (their memory is planned) */
	size_t max_memory; /* budget in bytes; 0: the memory available on the machine */
	/* Split by location (lat_lc_alloc_part): with shard_parts > 1 every lc layer, in residual blocks too,
	 * is built as part shard_part of shard_parts, and the network needs lat_net_set_sum before it runs.
	 * 0 or 1 parts: whole layers. */
	size_t shard_part, shard_parts;
	/* With shard_parts > 1: split into strips of rows instead (the halo form). Part r holds rows
	 * [r H / parts, (r + 1) H / parts) of every output of the layers before the first avgpool or linear
	 * one (lc; conv, a replica whose weight gradient is summed over the strips; relu; maxpool; bn with
	 * its batch statistics summed over the strips; resblock, lat_resblock_alloc_rows), and of each lc
	 * layer the kernels of its rows (lat_lc_alloc_window); each layer reads its strip of the previous
	 * output and the rows beyond it its kernels reach, which the parts that hold them send through the
	 * sum of lat_net_set_sum; the last strips are put together (summed) for the layers from that
	 * avgpool or linear one on, which every part runs whole. */
	int shard_rows;
} lat_net_opts;

/* Adds v[0..n-1] elementwise over the processes that hold the other parts of a split network, in place,
 * leaving the same values everywhere; returns 0, or nonzero on failure. */
typedef int (*lat_net_sum_fn)(void *ctx, float *v, size_t n);

/* Builds the layers of o->layers for inputs of shape in (conv turned into lc when o->locally_connected,
 * except the first conv with o->keep_first_conv), with workspaces for max_batch samples, refusing a layer
 * whose plan passes the memory budget before building it. The last layer must output n_classes values.
 * Returns a new network (free with lat_net_free) or NULL with err naming the layer (file line) and the
 * shape or memory problem. */
lat_net *lat_net_alloc(const lat_net_opts *o, lat_shape in, size_t n_classes, size_t max_batch, char *err);

/* The sum a split network (opts.shard_parts > 1) runs after each part layer: its outputs in the forward
 * pass, its input gradient and any channel-bias gradient in the backward pass (ctx borrowed). */
void lat_net_set_sum(lat_net *n, lat_net_sum_fn sum, void *ctx);

/* The point-to-point exchange of a network split into strips of rows (opts.shard_rows; layer.h's
 * lat_layer_exchange_fn): the halo rows and their gradients go to the processes that read them alone,
 * instead of every process's halos through the sum (ctx borrowed; NULL exchange: through the sum). */
typedef lat_layer_exchange_fn lat_net_exchange_fn;
void lat_net_set_exchange(lat_net *n, lat_net_exchange_fn exchange, void *ctx);

/* Frees n and its layers; NULL is a no-op. */
void lat_net_free(lat_net *n);

/* Initialises every parameter and buffer from seed (each layer's PyTorch-style init). Returns LAT_OK, or
 * LAT_ENOMEM with err (n unchanged) when the random generator cannot be allocated. */
int lat_net_init(lat_net *n, unsigned long seed, char *err);

/* Runs the batch x (batch x in size, borrowed until the matching backward) through the layers and
 * returns the logits (batch x n_classes, owned by n, valid until the next forward). NULL on error. */
const float *lat_net_forward(lat_net *n, const float *x, size_t batch, int training, char *err);

/* Back-propagates dlogits through the layers of the last forward; overwrites the gradient array. */
int lat_net_backward(lat_net *n, const float *dlogits, size_t batch, char *err);

size_t lat_net_n_layers(const lat_net *n);
lat_layer *lat_net_layer(const lat_net *n, size_t i);
size_t lat_net_n_params(const lat_net *n);
size_t lat_net_n_buffers(const lat_net *n);
float *lat_net_params(lat_net *n);
float *lat_net_grads(lat_net *n);
/* Makes storage (lat_net_n_params floats, borrowed: it must outlive n, and the caller frees it) the
 * parameter array of n: the layers read and write their parameters there from now on, and n frees its
 * own array. The values are the caller's to put there (e.g. processes that share one copy in shared
 * memory each copy a range of theirs and wait for the others). */
void lat_net_use_params(lat_net *n, float *storage);
/* The same for the gradient array (whose values every backward pass overwrites). */
void lat_net_use_grads(lat_net *n, float *storage);
float *lat_net_buffers(lat_net *n);
/* Floats of activations and workspaces held for max_batch (for the planned-memory report). */
size_t lat_net_activation_floats(const lat_net *n);
/* Whether layer i is one part of an lc layer split by location: 0 no, 1 yes, 2 yes and with a channel
 * bias (replicated on every part, its gradient summed over them), 3 it holds such parts (a resblock). */
int lat_net_layer_split(const lat_net *n, size_t i);

/* ---- the whole network's layout (whole.c) ----
 * A network split by location (lat_net_opts.shard_parts > 1) holds, of each split lc layer, the weights
 * of its own positions; every other value (other layers, channel biases) is a replica that each process
 * holds. These map its flat arrays onto the flat arrays of the whole network, the one an unsplit build
 * of the same options holds, so that a checkpoint is the same file whatever the split. */

/* Floats of layer i's parameters in the whole network (l->n_params unless the layer is split). */
size_t lat_net_layer_params_whole(const lat_net *n, size_t i);
/* Floats of the whole network's parameters (lat_net_n_params when nothing is split). */
size_t lat_net_n_params_whole(const lat_net *n);
/* Copies between local, an array in this network's parameter layout (lat_net_n_params floats:
 * parameters, gradients or one block of optimiser state), and window, the floats [lo, lo + len) of the
 * same array in the whole network's layout (window[0] is whole index lo). to_whole = 1 writes local
 * values into the window: those of the split layers' own positions always, replicas only when
 * replicas is nonzero; every other float of the window is left as it is, so windows zeroed on every
 * process and summed over them hold the whole array when exactly one process passes replicas = 1.
 * to_whole = 0 reads the window into local (replicas too); local values outside the window are left. */
void lat_net_map_whole(const lat_net *n, float *local, float *window, size_t lo, size_t len, int to_whole,
		       int replicas);

#ifdef __cplusplus
}
#endif

#endif

/* layer.h: network layers on float32 batch-first NCHW activations: the layer type object and constructors.
 *
 * A layer maps a batch of B samples of shape in (c x h x w, row-major, sample after sample) to B samples
 * of shape out. Trainable parameters and non-trainable buffers (batch-norm running statistics) are not
 * owned by the layer: the network allocates one flat float array for all parameters, one for their
 * gradients and one for all buffers, and binds views into them with lat_layer_bind. Workspaces are
 * allocated once by the constructor for at most max_batch samples; the part that lives only within one
 * call can be traded for a buffer shared by several layers (lat_layer_use_scratch).
 *
 * Weight layouts (row-major):
 *   locally connected (lc):  W[c_out][y][x][c_in][u][v], then bias[c_out][y][x]   (one kernel per output position)
 *   convolution (conv):      W[c_out][c_in][u][v],       then bias[c_out]
 *   linear:                  W[n_out][n_in],             then bias[n_out]          (n_in = c*h*w of the input)
 *   batch norm:              gamma[c], beta[c]; buffers running_mean[c], running_var[c]
 *   residual block:          its sub-layers' parameters in order conv1, bn1, conv2, bn2[, proj, proj_bn]
 * lc and conv use odd kernels k, stride s and zero padding (k - 1) / 2: out = (in + 2 pad - k) / s + 1. */
#ifndef LATERAL_LAYER_H
#define LATERAL_LAYER_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

/* Thread safety: a layer belongs to one thread at a time (its forward and backward may use OpenMP inside). */

#ifdef __cplusplus
extern "C" {
#endif

/* The layer kinds of a network, and their names in enum order, NULL-terminated ("conv", "lc", ...). */
typedef enum {
	LAT_L_CONV,
	LAT_L_LC,
	LAT_L_RELU,
	LAT_L_MAXPOOL,
	LAT_L_BN,
	LAT_L_AVGPOOL,
	LAT_L_LINEAR,
	LAT_L_RESBLOCK
} lat_layer_kind;
extern const char *const lat_layer_kind_names[];
/* The name of a layer kind; "?" outside the enum. */
const char *lat_layer_kind_name(lat_layer_kind k);

/* Shape of one sample. */
typedef struct {
	size_t c, h, w;
} lat_shape;

static inline size_t lat_shape_size(lat_shape s)
{
	return s.c * s.h * s.w;
}

typedef struct lat_layer lat_layer;

/* Adds v[0..n-1] elementwise over the processes that hold the other parts of a network split by
 * location, in place, leaving the same values everywhere; returns 0, or nonzero on failure (net.h's
 * lat_net_sum_fn). */
typedef int (*lat_layer_sum_fn)(void *ctx, float *v, size_t n);

/* Sends send_n[q] floats to each process q of a network split into strips of rows (consecutive in
 * send, in process order; send_n[self] = 0) and receives recv_n[q] floats from each (consecutive in
 * recv, in process order): what process q sends to this one. Every process calls it together; returns 0,
 * or nonzero on failure (an MPI_Alltoallv; net.h's lat_net_exchange_fn). */
typedef int (*lat_layer_exchange_fn)(void *ctx, const float *send, const size_t *send_n, float *recv,
				     const size_t *recv_n);

/* A copy between a split network's arrays and the whole network's layout (net.h, lat_net_map_whole). */
typedef struct lat_whole_map lat_whole_map;

/* The operations of a layer kind (GSL-style type object). */
typedef struct {
	const char *name; /* "lc", "conv", "relu", "maxpool", "bn", "avgpool", "linear", "resblock" */
	/* out (batch x out size) from in (batch x in size); training selects batch statistics in bn. */
	int (*forward)(lat_layer *l, const float *in, float *out, size_t batch, int training);
	/* Given the forward's in and out and dout = dLoss/dout: ADDS dLoss/dparams into l->g and WRITES
	 * dLoss/din into din (skipped when din is NULL). Must follow a forward of the same batch. */
	int (*backward)(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			size_t batch);
	/* Initialises the bound parameters and buffers (PyTorch's defaults: Kaiming-uniform weights with
	 * a = sqrt(5), uniform(+-1/sqrt(fan_in)) biases; bn gamma 1, beta 0, running mean 0, var 1). */
	void (*init)(lat_layer *l, gsl_rng *r);
	/* Points the layer (and any sub-layers) at its parameter, gradient and buffer views. NULL means
	 * the default: set l->w, l->g, l->buf. */
	void (*bind)(lat_layer *l, float *w, float *g, float *buf);
	void (*free)(lat_layer *l); /* frees priv and any sub-layers (not l itself) */
	/* For loading a checkpoint: 1 when the n_buffers finite values at buf are buffers the layer could
	 * have reached (bn: running variances >= 0), else 0 with *bad the index of the first one that is
	 * not. NULL means every finite value is. */
	int (*check_buffers)(const lat_layer *l, const float *buf, size_t *bad);
	/* Floats of workspace whose content lives only within one forward or backward call, so layers
	 * that run one after another can share it (lat_layer_use_scratch). NULL means none. */
	size_t (*scratch_floats)(const lat_layer *l);
	/* Makes the layer (and its sub-layers) work in scratch, at least scratch_floats() floats, instead
	 * of the workspace it allocated itself, which it frees. NULL when scratch_floats is NULL. */
	void (*use_scratch)(lat_layer *l, float *scratch);
	/* A layer that holds parts of lc layers split by location inside it (resblock): the sum it runs
	 * after each part, over the processes of the other parts; a bn layer on a strip of rows (a network
	 * split into strips, lat_net_opts.shard_rows): the sum of its channel statistics over the strips,
	 * none (NULL) otherwise (ctx borrowed). NULL: neither. */
	void (*set_sum)(lat_layer *l, lat_layer_sum_fn sum, void *ctx);
	/* A layer that exchanges rows with the other strips itself (a resblock on a strip of rows): the
	 * point-to-point exchange it uses instead of the sum for them (ctx borrowed). NULL: none. */
	void (*set_exchange)(lat_layer *l, lat_layer_exchange_fn exchange, void *ctx);
	/* The whole layout of a layer that is, or holds, a part: the floats of the whole layer's
	 * parameters, and the copy of its values between the split arrays (at lpos) and the whole ones (at
	 * wpos) through m (lat_whole_run). NULL: a whole layer, its n_params values replicas. */
	size_t (*params_whole)(const lat_layer *l);
	void (*map_whole)(const lat_layer *l, const lat_whole_map *m, size_t lpos, size_t wpos);
} lat_layer_type;

struct lat_layer {
	const lat_layer_type *type;
	lat_shape in, out;
	size_t max_batch;
	size_t n_params;  /* trainable floats */
	size_t n_buffers; /* non-trainable floats saved with the parameters (bn running statistics) */
	float *w, *g;     /* bound views: parameters and their gradients (n_params each) */
	float *buf;       /* bound view: buffers (n_buffers) */
	void *priv;       /* kind-specific state and workspaces */
};

/* Constructors: each returns a new layer (free with lat_layer_free) or NULL with err set (LAT_EINVAL
 * for bad shapes, e.g. an even kernel or a window larger than the input; LAT_ENOMEM). */
/* The bias argument of the lc and conv constructors: none, one per output neuron (lc: bias[c_out][y][x];
 * conv: bias[c_out] either way), or one per output channel shared by all positions (lc: bias[c_out],
 * the layer of the paper's code). lat_lc_bias_names: "position", "channel" (LAT_LC_BIAS_POSITION - 1
 * and LAT_LC_BIAS_CHANNEL - 1 index them), NULL-terminated. */
typedef enum { LAT_LC_BIAS_NONE = 0, LAT_LC_BIAS_POSITION = 1, LAT_LC_BIAS_CHANNEL = 2 } lat_lc_bias;
extern const char *const lat_lc_bias_names[];

/* The sizes an lc (shared = 0) or conv (shared = 1) layer of these arguments would allocate, without
 * allocating: parameters (weights and biases) and workspace floats. Returns LAT_OK, or the error
 * lat_lc_alloc / lat_conv_alloc would give for a bad shape or sizes that overflow (both counts 0). */
int lat_lc_plan(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch, int shared,
		size_t *n_params, size_t *n_work, char *err);
lat_layer *lat_lc_alloc(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			char *err);
lat_layer *lat_conv_alloc(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			  char *err);
/* The matrix-product kernel conv layers run on this processor, a static string: "avx512" (lateral's own
 * packed-panel kernel, where the processor has AVX-512F) or "openblas" (cblas_sgemm). The two agree to
 * float rounding, not bit for bit, so a run's provenance records which one computed it. */
const char *lat_conv_gemm_name(void);
/* Part `part` of `parts` of the lc layer lat_lc_alloc would make, split by output location: it holds
 * the weights (and position biases) of the positions [q0, q1) = [part n / parts, (part + 1) n / parts),
 * n = h_out w_out, in the layout W[c_out][q - q0][c_in][u][v], then bias[c_out][q - q0] (or bias[c_out]
 * with LAT_LC_BIAS_CHANNEL). Its forward reads the whole input and writes its positions of out and
 * zeros elsewhere, so the parts' outputs summed are the whole layer's output (exactly: one term is not
 * zero). Its backward adds its positions' weight gradients and writes the input gradient of its
 * positions alone: the parts' din summed are the whole layer's din to float rounding, and so is a
 * channel bias's gradient. init draws the whole layer's values from r and keeps its own, so the parts of
 * one seed are the slices of the whole layer of that seed. The weights of a part are 1/parts of the
 * layer's (to rounding) and so is its transposed-output workspace; the padded input is whole. */
lat_layer *lat_lc_alloc_part(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			     size_t part, size_t parts, char *err);
/* A window of the lc layer lat_lc_alloc(in, ...) would make, for a network split into strips of rows:
 * it holds the weights (and position biases) of output rows [o0, o1), laid out as a part of positions
 * [o0 w_out, o1 w_out) (above; init keeps the same draws), and reads an input of rows [r0, r1) of in
 * (shape in.c x (r1 - r0) x in.w), which must hold every image row its outputs read
 * (lat_lc_window_rows). Its output is its rows alone (c_out x (o1 - o0) x w_out), the whole layer's rows
 * [o0, o1); its backward adds its weight gradients and writes the gradient of its input rows [r0, r1)
 * (0 in a row none of its outputs reads): the windows' input gradients added at their rows are the
 * whole layer's din to float rounding, and so is a channel bias's gradient. Its padded input and
 * output workspaces are those of its rows. NULL with err set for rows out of range or a window
 * missing a row its outputs read (LAT_EINVAL). */
lat_layer *lat_lc_alloc_window(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			       size_t o0, size_t o1, size_t r0, size_t r1, char *err);
/* The same window of the conv layer lat_conv_alloc(in, ...) would make: its output rows [o0, o1) from
 * input rows [r0, r1), with the whole layer's weights (a replica: the windows' weight and bias
 * gradients added are the whole layer's, to float rounding), as above otherwise. */
lat_layer *lat_conv_alloc_window(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
				 size_t o0, size_t o1, size_t r0, size_t r1, char *err);
/* The input rows [*r0, *r1) that output rows [o0, o1) of an lc or conv layer (odd kernel k, padding
 * (k - 1) / 2, stride) read from an input of h_in rows. */
void lat_lc_window_rows(size_t h_in, size_t k, size_t stride, size_t o0, size_t o1, size_t *r0, size_t *r1);
lat_layer *lat_linear_alloc(lat_shape in, size_t n_out, int bias, size_t max_batch, char *err);
lat_layer *lat_relu_alloc(lat_shape in, size_t max_batch, char *err);
/* Max pooling with window k and stride k (floor division of h and w). */
lat_layer *lat_maxpool_alloc(lat_shape in, size_t k, size_t max_batch, char *err);
/* Batch normalisation per channel; running statistics updated with momentum (PyTorch convention:
 * running = (1 - momentum) running + momentum batch, unbiased variance for the running value). Given
 * a sum (its type's set_sum), it normalises a strip of rows with the statistics of every strip: the
 * channel sums of each pass and of its backward are added over the strips (as floats). */
lat_layer *lat_bn_alloc(lat_shape in, double momentum, double eps, size_t max_batch, char *err);
/* Global average pooling: c x h x w -> c x 1 x 1. */
lat_layer *lat_avgpool_alloc(lat_shape in, size_t max_batch, char *err);
/* Residual basic block: 3x3 (stride) -> bn -> relu -> 3x3 -> bn, plus the identity, or a 1x1 (stride)
 * projection with bn when the shape changes; then relu. lc = 1 makes the 3x3 layers locally connected
 * (the 1x1 projection stays a convolution unless lc = 2). */
lat_layer *lat_resblock_alloc(lat_shape in, size_t c_out, size_t stride, int lc, double bn_momentum,
			      double bn_eps, size_t max_batch, char *err);
/* The same block with its lc layers as part `part` of `parts` (lat_lc_alloc_part; parts 1: whole). It
 * sums each part's output and input gradient itself, through the sum its type's set_sum sets (a network
 * sets it with lat_net_set_sum); until then it refuses to run (LAT_EINVAL). */
lat_layer *lat_resblock_alloc_part(lat_shape in, size_t c_out, size_t stride, int lc, double bn_momentum,
				   double bn_eps, size_t max_batch, size_t part, size_t parts, char *err);
/* The same block on a strip of rows, part `part` of `parts` (>= 2) of a network split into strips
 * (lat_net_opts.shard_rows): its input is rows [part H / parts, (part + 1) H / parts) of in, its output
 * the same rows of the block's output; its 3 x 3 layers (and the projection) are windows
 * (lat_lc_alloc_window, lat_conv_alloc_window) of those rows, whose inputs' edge rows it exchanges with
 * the other strips, and whose input gradients it sends back, through the sum its type's set_sum sets
 * (which also sums its bn statistics and its conv replicas' weight gradients over the strips); until
 * then it refuses to run (LAT_EINVAL). NULL with err for bad sizes or fewer rows than parts. */
lat_layer *lat_resblock_alloc_rows(lat_shape in, size_t c_out, size_t stride, int lc, double bn_momentum,
				   double bn_eps, size_t max_batch, size_t part, size_t parts, char *err);

/* Frees the layer and everything it owns (not the bound arrays); NULL is a no-op. */
void lat_layer_free(lat_layer *l);

/* Binds views (calls type->bind or sets the pointers). */
void lat_layer_bind(lat_layer *l, float *w, float *g, float *buf);

/* Floats of per-call workspace the layer could take from a shared buffer (0: none). */
size_t lat_layer_scratch_floats(const lat_layer *l);

/* Makes l work in scratch (at least lat_layer_scratch_floats(l) floats, borrowed: the caller frees it
 * after the layer, and no two layers that use it may run at the same time) and frees the layer's own
 * per-call workspace. A no-op for a layer without one. */
void lat_layer_use_scratch(lat_layer *l, float *scratch);

/* Geometry of an lc or conv layer. */
typedef struct {
	size_t c_in, h_in, w_in;
	size_t c_out, h_out, w_out;
	size_t k, stride, pad;
	int bias;   /* 1 if the layer has a bias */
	int shared; /* 0 for lc, 1 for conv */
	size_t q0, q1; /* the output positions q = y w_out + x the layer holds: [q0, q1) (all of them, 0 and
			  h_out w_out, unless it is one part of a layer split by location) */
	size_t r0, r1; /* the input rows it reads: [r0, r1) (all of them, 0 and h_in, unless it is a window) */
} lat_lc_geom;

/* Fills g for an lc or conv layer; LAT_EINVAL for any other kind. */
int lat_lc_geometry(const lat_layer *l, lat_lc_geom *g);

#ifdef __cplusplus
}
#endif

#endif

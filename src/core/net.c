/* net.c: sequential networks: layer construction from an experiment, flat parameters, forward/backward. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "gslguard.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/net.h"
#include "layer_impl.h"
#include "rows.h"
#include "size.h"

/* Floats a parameter costs while training: itself, its gradient and up to two optimiser moments. */
#define FLOATS_PER_PARAM 4
/* An lc layer with sharing also holds a double copy of its kernels and the sharing workspace. */
#define FLOATS_PER_SHARED_PARAM 4

struct lat_net {
	size_t n_layers, max_batch, n_params, n_buffers, act_floats;
	lat_layer **layers;
	float *params, *grads, *buffers;
	int params_borrowed, grads_borrowed; /* the caller's (lat_net_use_params, lat_net_use_grads) */
	float **act;       /* act[i]: output of layer i (max_batch x out size) */
	float *dbuf[2];    /* ping-pong gradient buffers, each as large as the largest activation */
	float *scratch;    /* the layers' per-call workspaces, shared (they run one at a time), or NULL */
	unsigned char *split; /* split[i]: layer i is such a part (SPLIT_LC, SPLIT_LC_CHANNEL: a channel bias
				 whose gradient is summed over the parts) or holds parts (SPLIT_INSIDE) */
	const float *input; /* the last forward's input (borrowed) */
	lat_rows *rows;	    /* split into strips of rows (opts.shard_rows), else NULL */
	lat_rows_comm comm; /* the sum over the parts' processes (lat_net_set_sum) and, with rows, the
			       strips' exchange (lat_net_set_exchange) */
	const float **in;   /* with rows: in[i], layer i's input in the last forward */
};

/* How layer i is split (net.split): a part of an lc layer, whose output and input gradient the network
 * sums, with a channel bias too, or a layer that holds parts and sums them itself (resblock). */
enum { SPLIT_NONE, SPLIT_LC, SPLIT_LC_CHANNEL, SPLIT_INSIDE };

/* Whether conv layers become lc: every one with network.locally_connected, except a kept first conv. */
static int conv_is_lc(const lat_net_opts *e, int first_conv)
{
	return e->locally_connected && !(first_conv && e->keep_first_conv);
}

static lat_layer *build(const lat_net_opts *e, const lat_layer_spec *sp, size_t index, int first_conv,
			lat_shape in, size_t max_batch, char *err)
{
	int lc = conv_is_lc(e, first_conv);
	switch (sp->kind) {
	case LAT_L_CONV:
	case LAT_L_LC:
		if ((sp->kind == LAT_L_LC || lc) && e->shard_parts > 1)
			return lat_lc_alloc_part(in, sp->channels, sp->kernel, sp->stride,
						 sp->bias ? (int)e->lc_bias : 0, max_batch, e->shard_part, e->shard_parts,
						 err);
		if (sp->kind == LAT_L_LC || lc)
			return lat_lc_alloc(in, sp->channels, sp->kernel, sp->stride, sp->bias ? (int)e->lc_bias : 0,
					    max_batch, err);
		return lat_conv_alloc(in, sp->channels, sp->kernel, sp->stride, sp->bias, max_batch, err);
	case LAT_L_RELU:
		return lat_relu_alloc(in, max_batch, err);
	case LAT_L_MAXPOOL:
		return lat_maxpool_alloc(in, sp->size, max_batch, err);
	case LAT_L_BN:
		return lat_bn_alloc(in, e->bn_momentum, e->bn_eps, max_batch, err);
	case LAT_L_AVGPOOL:
		return lat_avgpool_alloc(in, max_batch, err);
	case LAT_L_LINEAR:
		return lat_linear_alloc(in, sp->outputs, sp->bias, max_batch, err);
	case LAT_L_RESBLOCK:
		return lat_resblock_alloc_part(in, sp->channels, sp->stride, lc ? 1 : 0, e->bn_momentum, e->bn_eps,
					       max_batch, lc && e->shard_parts > 1 ? e->shard_part : 0,
					       lc && e->shard_parts > 1 ? e->shard_parts : 1, err);
	}
	(void)index;
	lat_err_set(err, LAT_EINVAL, "unknown layer kind");
	return NULL;
}

/* Parameters and workspace floats that building layer sp on input in will need (without building it). */
static int plan(const lat_layer_spec *sp, int lc, int lc_bias, lat_shape in, size_t max_batch, size_t *n_params,
		size_t *n_work, char *err)
{
	size_t n_in = lat_shape_size(in), p2, w2;
	int rc = LAT_OK;

	*n_params = *n_work = 0;
	switch (sp->kind) {
	case LAT_L_CONV:
	case LAT_L_LC:
		return lat_lc_plan(in, sp->channels, sp->kernel, sp->stride,
				   sp->bias ? (sp->kind == LAT_L_LC || lc ? lc_bias : 1) : 0, max_batch,
				   !(sp->kind == LAT_L_LC || lc), n_params, n_work, err);
	case LAT_L_LINEAR:
		/* saturate rather than wrap: the caller compares with a limit */
		if (lat_size_add(n_in, 1, &p2) || lat_size_mul(p2, sp->outputs, n_params))
			*n_params = SIZE_MAX;
		return LAT_OK;
	case LAT_L_RESBLOCK:
		/* two 3x3 layers (the second on the first's output) and at most a 1x1 projection */
		rc = lat_lc_plan(in, sp->channels, 3, sp->stride, 0, max_batch, !lc, n_params, n_work, err);
		if (!rc)
			rc = lat_lc_plan((lat_shape){sp->channels, (in.h + sp->stride - 1) / sp->stride,
						     (in.w + sp->stride - 1) / sp->stride},
					 sp->channels, 3, 1, 0, max_batch, !lc, &p2, &w2, err);
		if (!rc && (lat_size_add(*n_params, p2, n_params) || lat_size_mul(*n_params, 2, n_params)))
			*n_params = SIZE_MAX;
		if (!rc && (lat_size_add(*n_work, w2, n_work) || lat_size_mul(*n_work, 2, n_work)))
			*n_work = SIZE_MAX;
		return rc;
	default:
		return LAT_OK;
	}
}

/* The memory budget of one network build: limit bytes, named by what in messages, and the bytes the
 * layers planned so far. */
typedef struct {
	size_t limit;
	const char *what;
	double planned;
} budget;

/* Refuses layer i before it is built when its planned memory would take the running total past the
 * budget. */
static int check_budget(const lat_net_opts *e, const lat_layer_spec *sp, size_t i, int lc, lat_shape in,
			size_t max_batch, budget *b, char *err)
{
	const char *src = e->source;
	size_t n_params, n_work;
	double floats, bytes;
	char msg[LAT_ERRLEN], layer[32], total[32], limit[32];
	int shares = lc && e->shared_lc;

	if (plan(sp, lc, (int)e->lc_bias, in, max_batch, &n_params, &n_work, msg))
		return LAT_OK; /* the constructor reports the shape problem with its own words */
	if ((sp->kind == LAT_L_LC || ((sp->kind == LAT_L_CONV || sp->kind == LAT_L_RESBLOCK) && lc)) &&
	    e->shard_parts > 1)
		n_params = n_params / e->shard_parts + 1; /* a part's (at most, rounded up; the bias too) */
	floats = (double)n_params * (FLOATS_PER_PARAM + (shares ? FLOATS_PER_SHARED_PARAM : 0)) + (double)n_work;
	bytes = floats * (double)sizeof(float);
	b->planned += bytes;
	if (b->planned <= (double)b->limit)
		return LAT_OK;
	return lat_err_set(
	    err, LAT_ECONFIG,
	    "%s:%d: network.layers[%zu] (%s) on input %zux%zux%zu: %zu parameters and %zu workspace "
	    "floats need %s (with gradients and optimiser state), %s with the layers before it: "
	    "more than %s (%s)",
	    src, sp->line, i, lat_layer_kind_name(sp->kind), in.c, in.h, in.w, n_params, n_work,
	    lat_size_text(layer, sizeof layer, bytes), lat_size_text(total, sizeof total, b->planned),
	    b->what, lat_size_text(limit, sizeof limit, (double)b->limit));
}

/* Layer sp on a network split into strips of rows (the halo form): its whole output *out from the whole
 * input in, and the layer of this part's rows, or NULL with err: lc and conv layers (a conv a replica
 * whose weight gradient the network sums over the strips), relu, maxpool, bn (its statistics summed
 * over the strips, lat_net_set_sum) and resblock (exchanging rows itself). */
static lat_layer *build_rows(const lat_net_opts *e, const lat_layer_spec *sp, int lc, lat_rows *rows, lat_shape in,
			     size_t max_batch, lat_shape *out, char *err)
{
	size_t o0, o1, r0, r1, k = sp->kind == LAT_L_MAXPOOL ? sp->size : 1, s = k, pad, n_p, n_w;

	switch (sp->kind) {
	case LAT_L_CONV:
	case LAT_L_LC:
		/* the constructor's own checks first (an even kernel, a kernel beyond the input) */
		if (lat_lc_plan(in, sp->channels, sp->kernel, sp->stride, sp->bias ? (int)e->lc_bias : 0, max_batch, !lc,
				&n_p, &n_w, err))
			return NULL;
		k = sp->kernel;
		s = sp->stride;
		pad = (k - 1) / 2;
		*out = (lat_shape){sp->channels, (in.h + 2 * pad - k) / s + 1, (in.w + 2 * pad - k) / s + 1};
		if (lat_rows_add(rows, LAT_L_LC, k, s, *out, &o0, &o1, &r0, &r1, err))
			return NULL;
		if (!lc) /* a conv kept as conv: a replica, its weight gradient summed over the strips */
			return lat_conv_alloc_window(in, sp->channels, k, s, sp->bias, max_batch, o0, o1, r0, r1, err);
		return lat_lc_alloc_window(in, sp->channels, k, s, sp->bias ? (int)e->lc_bias : 0, max_batch, o0, o1,
					   r0, r1, err);
	case LAT_L_RESBLOCK: /* it reads its strip of the input and exchanges rows itself */
		*out = (lat_shape){sp->channels, (in.h - 1) / (sp->stride ? sp->stride : 1) + 1,
				   (in.w - 1) / (sp->stride ? sp->stride : 1) + 1};
		if (lat_rows_add(rows, LAT_L_RESBLOCK, 3, sp->stride, *out, &o0, &o1, &r0, &r1, err))
			return NULL;
		return lat_resblock_alloc_rows(in, sp->channels, sp->stride, lc ? 1 : 0, e->bn_momentum, e->bn_eps,
					       max_batch, e->shard_part, e->shard_parts, err);
	case LAT_L_RELU:
	case LAT_L_BN:
	case LAT_L_MAXPOOL:
		if (k == 0 || in.h < k || in.w < k) /* the constructor says what is wrong */
			return lat_maxpool_alloc(in, k, max_batch, err);
		*out = (lat_shape){in.c, in.h / k, in.w / k};
		if (lat_rows_add(rows, sp->kind, k, k, *out, &o0, &o1, &r0, &r1, err))
			return NULL;
		if (sp->kind == LAT_L_RELU)
			return lat_relu_alloc((lat_shape){in.c, r1 - r0, in.w}, max_batch, err);
		if (sp->kind == LAT_L_BN) /* its channel statistics summed over the strips (lat_net_set_sum) */
			return lat_bn_alloc((lat_shape){in.c, r1 - r0, in.w}, e->bn_momentum, e->bn_eps, max_batch, err);
		return lat_maxpool_alloc((lat_shape){in.c, r1 - r0, in.w}, k, max_batch, err);
	default:
		break;
	}
	lat_err_set(err, LAT_EINVAL, "a %s layer has no strips of rows", lat_layer_kind_name(sp->kind));
	return NULL;
}

/* An lc layer that holds some of its positions, not all (lat_lc_alloc_part). */
static int is_part(const lat_layer *l)
{
	lat_lc_geom g;

	return !lat_lc_geometry(l, &g) && !g.shared && g.q1 - g.q0 < g.h_out * g.w_out;
}

/* Points every layer at its views of the parameter, gradient and buffer arrays. */
static void bind_layers(lat_net *n)
{
	size_t pos = 0, bpos = 0;

	for (size_t i = 0; i < n->n_layers; i++) {
		lat_layer *l = n->layers[i];
		lat_layer_bind(l, n->params + pos, n->grads + pos, n->buffers + bpos);
		pos += l->n_params;
		bpos += l->n_buffers;
	}
}

/* One scratch for every layer's per-call workspace, as large as the largest: the lc layers'
 * transposed inputs and outputs then take the memory of the largest layer's instead of the sum (the
 * layers' own workspaces were allocated untouched, so they never counted towards the resident set).
 * LAT_ENOMEM when it cannot be allocated. */
static int share_scratch(lat_net *n)
{
	size_t most = 0;

	for (size_t i = 0; i < n->n_layers; i++) {
		size_t f = lat_layer_scratch_floats(n->layers[i]);
		most = f > most ? f : most;
	}
	if (most == 0)
		return LAT_OK;
	n->scratch = lat_floats_alloc(most);
	if (!n->scratch)
		return LAT_ENOMEM;
	for (size_t i = 0; i < n->n_layers; i++)
		lat_layer_use_scratch(n->layers[i], n->scratch);
	return LAT_OK;
}

lat_net *lat_net_alloc(const lat_net_opts *e, lat_shape in, size_t n_classes, size_t max_batch, char *err)
{
	budget b = {.planned = 0};
	lat_net *n = calloc(1, sizeof *n);
	char msg[LAT_ERRLEN];
	size_t biggest = lat_shape_size(in), floats, bytes;
	lat_shape shape = in, whole = in;
	int seen_conv = 0, rows_here = 0;

	if (!n)
		goto nomem;
	n->max_batch = max_batch;
	/* read once: the machine's available memory is the same budget for every layer */
	b.limit = lat_mem_limit(e->max_memory, &b.what);
	n->layers = calloc(e->n_layers, sizeof *n->layers);
	n->act = calloc(e->n_layers, sizeof *n->act);
	n->split = calloc(e->n_layers + 1, 1);
	if (!n->layers || !n->act || !n->split)
		goto nomem;
	if (e->shard_rows && e->shard_parts > 1) {
		n->rows = lat_rows_alloc(e->shard_part, e->shard_parts, e->n_layers, in, 0);
		n->in = calloc(e->n_layers, sizeof *n->in);
		if (!n->rows || !n->in)
			goto nomem;
	}
	for (size_t i = 0; i < e->n_layers; i++) {
		const lat_layer_spec *sp = &e->layers[i];
		int first = (sp->kind == LAT_L_CONV || sp->kind == LAT_L_RESBLOCK) && !seen_conv;
		lat_layer *l;
		if (sp->kind == LAT_L_CONV || sp->kind == LAT_L_LC || sp->kind == LAT_L_RESBLOCK)
			seen_conv = 1;
		if (check_budget(e, sp, i, sp->kind == LAT_L_LC || conv_is_lc(e, first), shape, max_batch, &b, err))
			goto fail;
		/* with rows: the layers before the first avgpool or linear one on strips, shape the whole output */
		rows_here = n->rows && sp->kind != LAT_L_LINEAR && sp->kind != LAT_L_AVGPOOL && (i == 0 || rows_here);
		if (rows_here)
			l = build_rows(e, sp, sp->kind == LAT_L_LC || conv_is_lc(e, first), n->rows, shape, max_batch,
				       &whole, msg);
		else
			l = build(e, sp, i, first, shape, max_batch, msg);
		if (!l) {
			lat_err_set(err, LAT_ECONFIG, "%s:%d: network.layers[%zu] (%s) on input %zux%zux%zu: %s",
				    e->source, sp->line, i,
				    lat_layer_kind_name(sp->kind), shape.c, shape.h, shape.w, msg);
			goto fail;
		}
		n->split[n->n_layers] = is_part(l) ? (sp->bias && e->lc_bias == LAT_LC_BIAS_CHANNEL ? SPLIT_LC_CHANNEL
												      : SPLIT_LC)
				      : l->type->set_sum && lat_layer_params_whole(l) > l->n_params ? SPLIT_INSIDE
												       : SPLIT_NONE;
		n->layers[n->n_layers++] = l;
		shape = rows_here ? whole : l->out;
		if (lat_shape_size(l->in) > biggest)
			biggest = lat_shape_size(l->in);
		if (lat_size_add(n->n_params, l->n_params, &n->n_params) ||
		    lat_size_add(n->n_buffers, l->n_buffers, &n->n_buffers) ||
		    lat_size_mul(max_batch, lat_shape_size(l->out), &floats) ||
		    lat_size_mul(floats, sizeof **n->act, &bytes) ||
		    lat_size_add(n->act_floats, floats, &n->act_floats))
			goto nomem;
		if (lat_shape_size(l->out) > biggest)
			biggest = lat_shape_size(l->out);
		n->act[i] = malloc(bytes);
		if (!n->act[i])
			goto nomem;
	}
	if (lat_shape_size(shape) != n_classes) {
		lat_err_set(err, LAT_ECONFIG, "%s: the network ends with %zu outputs but the data has %zu classes",
			    e->source, lat_shape_size(shape), n_classes);
		goto fail;
	}
	if (n->rows && (lat_rows_count(n->rows) == 0 || lat_rows_count(n->rows) == n->n_layers)) {
		lat_err_set(err, LAT_ECONFIG,
			    "%s: a network split into strips of rows needs lc, conv, relu, maxpool, bn or resblock layers "
			    "first, then an avgpool or linear one",
			    e->source);
		goto fail;
	}
	if (n->rows && lat_rows_ready(n->rows, max_batch, 1, &n->act_floats))
		goto nomem;
	if (n->rows && lat_shape_size(lat_net_layer(n, lat_rows_count(n->rows))->in) > biggest)
		biggest = lat_shape_size(lat_net_layer(n, lat_rows_count(n->rows))->in);
	/* the gradient ping-pong buffers; calloc checks its own product */
	if (n->n_params == SIZE_MAX || n->n_buffers == SIZE_MAX ||
	    lat_size_mul(max_batch, biggest, &floats) || lat_size_mul(floats, sizeof *n->dbuf[0], &bytes) ||
	    lat_size_add(n->act_floats, floats, &n->act_floats) ||
	    lat_size_add(n->act_floats, floats, &n->act_floats))
		goto nomem;
	n->params = calloc(n->n_params + 1, sizeof *n->params);
	n->grads = calloc(n->n_params + 1, sizeof *n->grads);
	n->buffers = calloc(n->n_buffers + 1, sizeof *n->buffers);
	n->dbuf[0] = malloc(bytes);
	n->dbuf[1] = malloc(bytes);
	if (!n->params || !n->grads || !n->buffers || !n->dbuf[0] || !n->dbuf[1])
		goto nomem;
	bind_layers(n);
	if (share_scratch(n))
		goto nomem;
	return n;
nomem:
	lat_err_set(err, LAT_ENOMEM, "out of memory building the network (batch %zu)", max_batch);
fail:
	lat_net_free(n);
	return NULL;
}

void lat_net_free(lat_net *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_layers; i++)
		lat_layer_free(n->layers[i]);
	if (n->act)
		for (size_t i = 0; i < n->n_layers; i++)
			free(n->act[i]);
	free(n->act);
	free(n->split);
	free(n->layers);
	if (!n->params_borrowed)
		free(n->params);
	if (!n->grads_borrowed)
		free(n->grads);
	free(n->buffers);
	free(n->dbuf[0]);
	free(n->dbuf[1]);
	free(n->scratch);
	lat_rows_free(n->rows);
	free(n->in);
	free(n);
}

int lat_net_init(lat_net *n, unsigned long seed, char *err)
{
	gsl_rng *r = lat_gsl_rng_alloc();
	if (!r)
		return lat_err_set(err, LAT_ENOMEM, "out of memory for the initialisation's random generator");
	gsl_rng_set(r, seed);
	for (size_t i = 0; i < n->n_layers; i++)
		if (n->layers[i]->type->init)
			n->layers[i]->type->init(n->layers[i], r);
	gsl_rng_free(r);
	return LAT_OK;
}

/* Adds v over the parts' processes after layer i (what names v in messages). */
static int sum_parts(lat_net *n, float *v, size_t count, size_t i, const char *what, char *err)
{
	const char *kind = n->layers[i]->type->name;

	if (!n->comm.sum)
		return lat_err_set(err, LAT_EINVAL, "layer %zu (%s, split by location): no sum over the parts was set",
				   i + 1, kind);
	if (n->comm.sum(n->comm.sum_ctx, v, count))
		return lat_err_set(err, LAT_EIO, "layer %zu (%s, split by location): summing its %s over the "
				   "parts failed", i + 1, kind, what);
	return LAT_OK;
}

void lat_net_set_sum(lat_net *n, lat_net_sum_fn sum, void *ctx)
{
	n->comm.sum = sum;
	n->comm.sum_ctx = ctx;
	for (size_t i = 0; i < n->n_layers; i++)
		if (n->split[i] == SPLIT_INSIDE || (n->rows && i < lat_rows_count(n->rows) && n->layers[i]->type->set_sum))
			n->layers[i]->type->set_sum(n->layers[i], sum, ctx);
}

void lat_net_set_exchange(lat_net *n, lat_net_exchange_fn exchange, void *ctx)
{
	n->comm.exchange = exchange;
	n->comm.exchange_ctx = ctx;
	for (size_t i = 0; n->rows && i < lat_rows_count(n->rows); i++)
		if (n->layers[i]->type->set_exchange)
			n->layers[i]->type->set_exchange(n->layers[i], exchange, ctx);
}

/* Layer i's input in a network split into strips of rows: its window of the previous strip (halos
 * exchanged), or the strips put together for the first layer after them (rows.h). */
static const float *rows_input(lat_net *n, size_t i, const float *x, size_t batch, char *err)
{
	char msg[LAT_ERRLEN];
	const float *in;

	if (i > lat_rows_count(n->rows))
		return n->act[i - 1];
	if (!n->comm.sum) {
		lat_err_set(err, LAT_EINVAL, "layer %zu: no sum over the strips' parts was set", i + 1);
		return NULL;
	}
	in = lat_rows_input(n->rows, i, x, i ? n->act[i - 1] : NULL, batch, &n->comm, msg);
	if (!in)
		lat_err_set(err, LAT_EIO, "%s", msg);
	return in;
}

const float *lat_net_forward(lat_net *n, const float *x, size_t batch, int training, char *err)
{
	const float *in = x;
	if (batch == 0 || batch > n->max_batch) {
		lat_err_set(err, LAT_EINVAL, "batch of %zu samples (the network holds 1..%zu)", batch, n->max_batch);
		return NULL;
	}
	n->input = x;
	for (size_t i = 0; i < n->n_layers; i++) {
		lat_layer *l = n->layers[i];
		int rc;
		if (n->rows && !(in = n->in[i] = rows_input(n, i, x, batch, err)))
			return NULL;
		rc = l->type->forward(l, in, n->act[i], batch, training);
		if (rc) {
			lat_err_set(err, rc, "layer %zu (%s): forward failed", i + 1, l->type->name);
			return NULL;
		}
		if ((n->split[i] == SPLIT_LC || n->split[i] == SPLIT_LC_CHANNEL) && !n->rows &&
		    sum_parts(n, n->act[i], batch * lat_shape_size(l->out), i, "outputs", err))
			return NULL;
		in = n->act[i];
	}
	return n->act[n->n_layers - 1];
}

/* Whether layer i is a conv layer on a strip of rows: a replica whose weight gradient covers its rows. */
static int strip_conv(const lat_net *n, size_t i)
{
	lat_lc_geom g;

	return i < lat_rows_count(n->rows) && !lat_lc_geometry(n->layers[i], &g) && g.shared;
}

/* Back-propagation through a network split into strips of rows: each layer's input gradient (its
 * window's, or the whole head input's) becomes its previous strip's (rows.h), in whichever of the two
 * gradient buffers the layer's own dout does not occupy. */
static int backward_rows(lat_net *n, const float *dlogits, size_t batch, char *err)
{
	const float *dout = dlogits;
	char msg[LAT_ERRLEN];

	for (size_t i = n->n_layers; i-- > 0;) {
		lat_layer *l = n->layers[i];
		float *din = !i ? NULL : dout == n->dbuf[0] ? n->dbuf[1] : n->dbuf[0], *dprev;
		int rc = l->type->backward(l, n->in[i], n->act[i], dout, din, batch), same = 1;
		if (rc)
			return lat_err_set(err, rc, "layer %zu (%s): backward failed", i + 1, l->type->name);
		if (n->split[i] == SPLIT_LC_CHANNEL && (rc = sum_parts(n, l->g + l->n_params - l->out.c, l->out.c, i,
							"channel-bias gradient", err)))
			return rc;
		if (strip_conv(n, i) && (rc = sum_parts(n, l->g, l->n_params, i, "weight gradient", err)))
			return rc;
		if (!din)
			break;
		dprev = din == n->dbuf[0] ? n->dbuf[1] : n->dbuf[0];
		if (i <= lat_rows_count(n->rows) &&
		    lat_rows_return(n->rows, i, din, dprev, batch, &n->comm, &same, msg))
			return lat_err_set(err, LAT_EIO, "%s", msg);
		dout = same ? din : dprev;
	}
	return LAT_OK;
}

int lat_net_backward(lat_net *n, const float *dlogits, size_t batch, char *err)
{
	const float *dout = dlogits;
	memset(n->grads, 0, n->n_params * sizeof *n->grads);
	if (n->rows)
		return backward_rows(n, dlogits, batch, err);
	for (size_t i = n->n_layers; i-- > 0;) {
		lat_layer *l = n->layers[i];
		const float *in = i ? n->act[i - 1] : n->input;
		float *din = i ? n->dbuf[i % 2] : NULL; /* the input's gradient is never needed */
		int rc = l->type->backward(l, in, n->act[i], dout, din, batch);
		if (rc)
			return lat_err_set(err, rc, "layer %zu (%s): backward failed", i + 1, l->type->name);
		if ((n->split[i] == SPLIT_LC || n->split[i] == SPLIT_LC_CHANNEL) && din &&
		    (rc = sum_parts(n, din, batch * lat_shape_size(l->in), i, "input gradient", err)))
			return rc;
		if (n->split[i] == SPLIT_LC_CHANNEL && (rc = sum_parts(n, l->g + l->n_params - l->out.c, l->out.c, i,
							"channel-bias gradient", err)))
			return rc;
		dout = din;
	}
	return LAT_OK;
}

size_t lat_net_n_layers(const lat_net *n)
{
	return n->n_layers;
}

lat_layer *lat_net_layer(const lat_net *n, size_t i)
{
	return i < n->n_layers ? n->layers[i] : NULL;
}

size_t lat_net_n_params(const lat_net *n)
{
	return n->n_params;
}

size_t lat_net_n_buffers(const lat_net *n)
{
	return n->n_buffers;
}

float *lat_net_params(lat_net *n)
{
	return n->params;
}

float *lat_net_grads(lat_net *n)
{
	return n->grads;
}

/* *array (params or grads) becomes the caller's storage (*borrowed set), the layers rebound to it. */
static void use_array(lat_net *n, float **array, int *borrowed, float *storage)
{
	if (!*borrowed)
		free(*array);
	*array = storage;
	*borrowed = 1;
	bind_layers(n);
}

void lat_net_use_params(lat_net *n, float *storage)
{
	use_array(n, &n->params, &n->params_borrowed, storage);
}

void lat_net_use_grads(lat_net *n, float *storage)
{
	use_array(n, &n->grads, &n->grads_borrowed, storage);
}

float *lat_net_buffers(lat_net *n)
{
	return n->buffers;
}

size_t lat_net_activation_floats(const lat_net *n)
{
	return n->act_floats;
}

int lat_net_layer_split(const lat_net *n, size_t i)
{
	return i < n->n_layers ? n->split[i] : 0;
}

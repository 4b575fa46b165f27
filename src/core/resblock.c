/* resblock.c: residual basic block y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the
 * shortcut is x or bn(proj(x)) with a 1x1 strided projection when the shape changes. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "layer_impl.h"
#include "rows.h"
#include "size.h"

/* Below this many floats per call a parallel region costs more than it saves. */
#define PAR_MIN 32768

/* Sub-layers in parameter/buffer order (layer.h); PROJ and PROJ_BN are NULL for an identity block. */
enum { CONV1, BN1, RELU1, CONV2, BN2, PROJ, PROJ_BN, RELU2, N_SUB };

typedef struct {
	lat_layer *sub[N_SUB];
	int part[N_SUB]; /* sub j is a part of an lc layer split by location */
	/* Forward activations (max_batch x out size each), kept for backward. */
	float *a1, *b1, *r1, *a2, *b2, *p, *pb, *s;
	/* Backward scratch: two out-sized gradients, ds = dLoss/ds, and one in-sized gradient. */
	float *ds, *ga, *gb, *gin;
	/* In strips of rows (lat_resblock_alloc_rows): the rows each 3 x 3 layer reads, exchanged with the
	 * other strips (rows.h); the windows of the last forward (conv1's, which the projection reads too,
	 * and conv2's); the gradients of the two windows; which sub-layers are conv replicas whose weight
	 * gradient is summed over the strips. gin is then window-sized. */
	lat_rows *rows;
	const float *in1, *in4;
	float *gw1, *gw2;
	int replica[N_SUB];
	/* the sum over the other parts' processes (of a part's output or input gradient; in strips, of the
	 * rows too unless an exchange is set, and of bn statistics and conv replicas' gradients) */
	lat_rows_comm comm;
} resblock_priv;

/* Adds v (n floats) over the processes when sub-layer j is a part; LAT_EIO when the sum fails, LAT_EINVAL
 * when no sum was set. */
static int part_sum(const resblock_priv *p, int j, float *v, size_t n)
{
	if (!p->part[j] || !v)
		return LAT_OK;
	if (!p->comm.sum)
		return LAT_EINVAL;
	return p->comm.sum(p->comm.sum_ctx, v, n) ? LAT_EIO : LAT_OK;
}

/* v += w, n floats. */
static void add_into(float *v, const float *w, size_t n)
{
#pragma omp parallel for if (n > PAR_MIN)
	for (size_t i = 0; i < n; i++)
		v[i] += w[i];
}

/* The block's output: relu(bn2's output + shortcut), n floats (through p->s, kept for backward). */
static int add_shortcut(resblock_priv *p, const float *shortcut, float *out, size_t n, size_t batch, int training)
{
	lat_layer *relu2 = p->sub[RELU2];

#pragma omp parallel for if (n > PAR_MIN)
	for (size_t i = 0; i < n; i++)
		p->s[i] = p->b2[i] + shortcut[i];
	return relu2->type->forward(relu2, p->s, out, batch, training);
}

/* In strips of rows: the weight gradient of sub-layer j summed over the strips when it is a conv
 * replica (each strip's covers its rows). */
static int replica_sum(const resblock_priv *p, int j)
{
	lat_layer *s = p->sub[j];

	if (!p->replica[j] || !s || s->n_params == 0)
		return LAT_OK;
	return p->comm.sum(p->comm.sum_ctx, s->g, s->n_params) ? LAT_EIO : LAT_OK;
}

/* The block on a strip of rows: conv1 (and the projection) on the input's rows its outputs reach,
 * conv2 on the rows of relu1's output its outputs reach, both exchanged with the other strips. */
static int forward_rows(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	resblock_priv *p = l->priv;
	lat_layer **sub = p->sub;
	size_t n = batch * lat_shape_size(l->out);
	const float *shortcut = in;
	char msg[LAT_ERRLEN];
	int rc;

	if (!(p->in1 = lat_rows_input(p->rows, 0, in, NULL, batch, &p->comm, msg)))
		return LAT_EIO;
	if ((rc = sub[CONV1]->type->forward(sub[CONV1], p->in1, p->a1, batch, training)) ||
	    (rc = sub[BN1]->type->forward(sub[BN1], p->a1, p->b1, batch, training)) ||
	    (rc = sub[RELU1]->type->forward(sub[RELU1], p->b1, p->r1, batch, training)))
		return rc;
	if (!(p->in4 = lat_rows_input(p->rows, CONV2, NULL, p->r1, batch, &p->comm, msg)))
		return LAT_EIO;
	if ((rc = sub[CONV2]->type->forward(sub[CONV2], p->in4, p->a2, batch, training)) ||
	    (rc = sub[BN2]->type->forward(sub[BN2], p->a2, p->b2, batch, training)))
		return rc;
	if (sub[PROJ]) {
		if ((rc = sub[PROJ]->type->forward(sub[PROJ], p->in1, p->p, batch, training)) ||
		    (rc = sub[PROJ_BN]->type->forward(sub[PROJ_BN], p->p, p->pb, batch, training)))
			return rc;
		shortcut = p->pb;
	}
	return add_shortcut(p, shortcut, out, n, batch, training);
}

static int backward_rows(lat_layer *l, const float *out, const float *dout, float *din, size_t batch)
{
	resblock_priv *p = l->priv;
	lat_layer **sub = p->sub;
	size_t n_in = batch * lat_shape_size(l->in), n_w1 = batch * lat_shape_size(sub[CONV1]->in);
	const float *g = p->gb;
	char msg[LAT_ERRLEN];
	int rc, same = 0;

	if ((rc = sub[RELU2]->type->backward(sub[RELU2], p->s, out, dout, p->ds, batch)) ||
	    (rc = sub[BN2]->type->backward(sub[BN2], p->a2, p->b2, p->ds, p->ga, batch)) ||
	    (rc = sub[CONV2]->type->backward(sub[CONV2], p->in4, p->a2, p->ga, p->gw2, batch)) ||
	    (rc = replica_sum(p, CONV2)))
		return rc;
	/* conv2's input gradient over its window becomes relu1's strip's */
	if (lat_rows_return(p->rows, CONV2, p->gw2, p->gb, batch, &p->comm, &same, msg))
		return LAT_EIO;
	if (same)
		g = p->gw2;
	if ((rc = sub[RELU1]->type->backward(sub[RELU1], p->b1, p->r1, g, p->ga, batch)) ||
	    (rc = sub[BN1]->type->backward(sub[BN1], p->a1, p->b1, p->ga, p->gb, batch)) ||
	    (rc = sub[CONV1]->type->backward(sub[CONV1], p->in1, p->a1, p->gb, din ? p->gw1 : NULL, batch)) ||
	    (rc = replica_sum(p, CONV1)))
		return rc;
	if (sub[PROJ]) {
		if ((rc = sub[PROJ_BN]->type->backward(sub[PROJ_BN], p->p, p->pb, p->ds, p->ga, batch)) ||
		    (rc = sub[PROJ]->type->backward(sub[PROJ], p->in1, p->p, p->ga, din ? p->gin : NULL, batch)) ||
		    (rc = replica_sum(p, PROJ)))
			return rc;
		if (din)
			add_into(p->gw1, p->gin, n_w1);
	}
	if (!din)
		return LAT_OK;
	/* conv1's (and the projection's) input gradient over its window becomes the block input strip's */
	if (lat_rows_return(p->rows, 0, p->gw1, din, batch, &p->comm, &same, msg))
		return LAT_EIO;
	if (same)
		memcpy(din, p->gw1, n_in * sizeof *din);
	if (!sub[PROJ])
		add_into(din, p->ds, n_in);
	return LAT_OK;
}

static int resblock_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	resblock_priv *p = l->priv;
	lat_layer **sub = p->sub;
	size_t n = batch * lat_shape_size(l->out);
	const float *shortcut = in;
	int rc;

	if (batch > l->max_batch || (p->rows && !p->comm.sum)) {
		rc = LAT_EINVAL;
		goto out;
	}
	if (p->rows) {
		rc = forward_rows(l, in, out, batch, training);
		goto out;
	}
	/* a part's output holds its positions and zeros: the sum over the parts is the whole output */
	if ((rc = sub[CONV1]->type->forward(sub[CONV1], in, p->a1, batch, training)) ||
	    (rc = part_sum(p, CONV1, p->a1, n)) ||
	    (rc = sub[BN1]->type->forward(sub[BN1], p->a1, p->b1, batch, training)) ||
	    (rc = sub[RELU1]->type->forward(sub[RELU1], p->b1, p->r1, batch, training)) ||
	    (rc = sub[CONV2]->type->forward(sub[CONV2], p->r1, p->a2, batch, training)) ||
	    (rc = part_sum(p, CONV2, p->a2, n)) ||
	    (rc = sub[BN2]->type->forward(sub[BN2], p->a2, p->b2, batch, training)))
		goto out;
	if (sub[PROJ]) {
		if ((rc = sub[PROJ]->type->forward(sub[PROJ], in, p->p, batch, training)) ||
		    (rc = part_sum(p, PROJ, p->p, n)) ||
		    (rc = sub[PROJ_BN]->type->forward(sub[PROJ_BN], p->p, p->pb, batch, training)))
			goto out;
		shortcut = p->pb;
	}
	rc = add_shortcut(p, shortcut, out, n, batch, training);
out:
	return rc;
}

static int resblock_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			     size_t batch)
{
	resblock_priv *p = l->priv;
	lat_layer **sub = p->sub;
	size_t n_in = batch * lat_shape_size(l->in), n_mid = batch * lat_shape_size(l->out);
	int rc;

	if (batch > l->max_batch || (p->rows && !p->comm.sum)) {
		rc = LAT_EINVAL;
		goto out;
	}
	if (p->rows) {
		rc = backward_rows(l, out, dout, din, batch);
		goto out;
	}
	/* Main path, writing din through conv1; a part's input gradient covers its positions alone, so it
	 * is summed over the parts (before the shortcut, which every process adds alike). */
	if ((rc = sub[RELU2]->type->backward(sub[RELU2], p->s, out, dout, p->ds, batch)) ||
	    (rc = sub[BN2]->type->backward(sub[BN2], p->a2, p->b2, p->ds, p->ga, batch)) ||
	    (rc = sub[CONV2]->type->backward(sub[CONV2], p->r1, p->a2, p->ga, p->gb, batch)) ||
	    (rc = part_sum(p, CONV2, p->gb, n_mid)) ||
	    (rc = sub[RELU1]->type->backward(sub[RELU1], p->b1, p->r1, p->gb, p->ga, batch)) ||
	    (rc = sub[BN1]->type->backward(sub[BN1], p->a1, p->b1, p->ga, p->gb, batch)) ||
	    (rc = sub[CONV1]->type->backward(sub[CONV1], in, p->a1, p->gb, din, batch)) ||
	    (rc = part_sum(p, CONV1, din, n_in)))
		goto out;
	/* Shortcut, added into din. */
	if (sub[PROJ]) {
		if ((rc = sub[PROJ_BN]->type->backward(sub[PROJ_BN], p->p, p->pb, p->ds, p->ga, batch)) ||
		    (rc = sub[PROJ]->type->backward(sub[PROJ], in, p->p, p->ga, din ? p->gin : NULL, batch)) ||
		    (rc = part_sum(p, PROJ, din ? p->gin : NULL, n_in)))
			goto out;
		if (din)
			add_into(din, p->gin, n_in);
	} else if (din) {
		add_into(din, p->ds, n_in);
	}
out:
	return rc;
}

static void resblock_init(lat_layer *l, gsl_rng *r)
{
	resblock_priv *p = l->priv;

	for (int j = 0; j < N_SUB; j++)
		if (p->sub[j] && p->sub[j]->type->init)
			p->sub[j]->type->init(p->sub[j], r);
}

/* Splits the views among the sub-layers in the documented order (relus hold nothing). */
static void resblock_bind(lat_layer *l, float *w, float *g, float *buf)
{
	resblock_priv *p = l->priv;
	size_t off = 0, boff = 0;

	l->w = w;
	l->g = g;
	l->buf = buf;
	for (int j = 0; j < N_SUB; j++) {
		lat_layer *s = p->sub[j];
		if (!s)
			continue;
		lat_layer_bind(s, w ? w + off : NULL, g ? g + off : NULL, buf ? buf + boff : NULL);
		off += s->n_params;
		boff += s->n_buffers;
	}
}

static void priv_free(resblock_priv *p)
{
	if (!p)
		return;
	for (int j = 0; j < N_SUB; j++)
		lat_layer_free(p->sub[j]);
	free(p->a1);
	free(p->b1);
	free(p->r1);
	free(p->a2);
	free(p->b2);
	free(p->p);
	free(p->pb);
	free(p->s);
	free(p->ds);
	free(p->ga);
	free(p->gb);
	free(p->gin);
	free(p->gw1);
	free(p->gw2);
	lat_rows_free(p->rows);
	free(p);
}

static void resblock_free(lat_layer *l)
{
	priv_free(l->priv);
}

/* Allocates the activation and gradient workspaces for max_batch samples; LAT_ENOMEM on failure. */
static int priv_workspaces(resblock_priv *p, size_t n_in, size_t n_out, size_t max_batch)
{
	float **ws[] = {&p->a1, &p->b1, &p->r1, &p->a2, &p->b2, &p->s, &p->ds, &p->ga, &p->gb};
	size_t f_in, f_out;

	if (lat_size_mul(max_batch, n_in, &f_in) || lat_size_mul(max_batch, n_out, &f_out))
		return LAT_ENOMEM;
	for (size_t j = 0; j < sizeof ws / sizeof ws[0]; j++)
		if (!(*ws[j] = lat_floats_alloc(f_out)))
			return LAT_ENOMEM;
	if (p->sub[PROJ] && (!(p->p = lat_floats_alloc(f_out)) || !(p->pb = lat_floats_alloc(f_out)) ||
			     !(p->gin = lat_floats_alloc(f_in))))
		return LAT_ENOMEM;
	return LAT_OK;
}

/* The sub-layers' buffers, in the order of resblock_bind. */
static int resblock_check_buffers(const lat_layer *l, const float *buf, size_t *bad)
{
	const resblock_priv *p = l->priv;
	size_t boff = 0;

	for (int j = 0; j < N_SUB; j++) {
		const lat_layer *s = p->sub[j];
		if (!s)
			continue;
		if (s->type->check_buffers && !s->type->check_buffers(s, buf + boff, bad)) {
			*bad += boff;
			return 0;
		}
		boff += s->n_buffers;
	}
	return 1;
}

/* The sub-layers run one after another, so they share one scratch: the largest of theirs. */
static size_t resblock_scratch_floats(const lat_layer *l)
{
	const resblock_priv *p = l->priv;
	size_t most = 0;

	for (int j = 0; j < N_SUB; j++) {
		size_t f = p->sub[j] ? lat_layer_scratch_floats(p->sub[j]) : 0;
		most = f > most ? f : most;
	}
	return most;
}

static void resblock_use_scratch(lat_layer *l, float *scratch)
{
	resblock_priv *p = l->priv;

	for (int j = 0; j < N_SUB; j++)
		if (p->sub[j])
			lat_layer_use_scratch(p->sub[j], scratch);
}

static void resblock_set_sum(lat_layer *l, lat_layer_sum_fn sum, void *ctx)
{
	resblock_priv *p = l->priv;
	const int bns[] = {BN1, BN2, PROJ_BN};

	p->comm.sum = sum;
	p->comm.sum_ctx = ctx;
	for (size_t j = 0; j < sizeof bns / sizeof bns[0] && p->rows; j++)
		if (p->sub[bns[j]]) /* in strips: the batch statistics over every strip */
			p->sub[bns[j]]->type->set_sum(p->sub[bns[j]], sum, ctx);
}

static void resblock_set_exchange(lat_layer *l, lat_layer_exchange_fn exchange, void *ctx)
{
	resblock_priv *p = l->priv;

	p->comm.exchange = exchange;
	p->comm.exchange_ctx = ctx;
}

static size_t resblock_params_whole(const lat_layer *l)
{
	const resblock_priv *p = l->priv;
	size_t n = 0;

	for (int j = 0; j < N_SUB; j++)
		n += p->sub[j] ? lat_layer_params_whole(p->sub[j]) : 0;
	return n;
}

/* The sub-layers in the order of resblock_bind. */
static void resblock_map_whole(const lat_layer *l, const lat_whole_map *m, size_t lpos, size_t wpos)
{
	const resblock_priv *p = l->priv;

	for (int j = 0; j < N_SUB; j++)
		if (p->sub[j]) {
			lat_layer_map_whole(p->sub[j], m, lpos, wpos);
			lpos += p->sub[j]->n_params;
			wpos += lat_layer_params_whole(p->sub[j]);
		}
}

static const lat_layer_type resblock_type = {
    .name = "resblock",
    .forward = resblock_forward,
    .backward = resblock_backward,
    .init = resblock_init,
    .bind = resblock_bind,
    .free = resblock_free,
    .check_buffers = resblock_check_buffers,
    .scratch_floats = resblock_scratch_floats,
    .use_scratch = resblock_use_scratch,
    .set_sum = resblock_set_sum,
    .set_exchange = resblock_set_exchange,
    .params_whole = resblock_params_whole,
    .map_whole = resblock_map_whole,
};

/* The block layer of p's sub-layers (their parameters and buffers counted), or NULL with err. */
static lat_layer *block_new(resblock_priv *p, lat_shape in, lat_shape out, size_t max_batch, char *err)
{
	size_t n_params = 0, n_buffers = 0;
	lat_layer *l;

	for (int j = 0; j < N_SUB; j++) {
		if (p->sub[j]) {
			n_params += p->sub[j]->n_params;
			n_buffers += p->sub[j]->n_buffers;
		}
	}
	l = lat_layer_new(&resblock_type, in, out, max_batch, n_params, n_buffers, err);
	if (l)
		l->priv = p;
	return l;
}

/* Sub-layer j: an lc layer (a part of it when parts > 1) or a conv layer. */
static lat_layer *sub_alloc(resblock_priv *p, int j, int lc, lat_shape in, size_t c_out, size_t k, size_t stride,
			    size_t max_batch, size_t part, size_t parts, char *err)
{
	if (!lc)
		return lat_conv_alloc(in, c_out, k, stride, 0, max_batch, err);
	p->part[j] = parts > 1;
	return parts > 1 ? lat_lc_alloc_part(in, c_out, k, stride, 0, max_batch, part, parts, err)
			 : lat_lc_alloc(in, c_out, k, stride, 0, max_batch, err);
}

lat_layer *lat_resblock_alloc(lat_shape in, size_t c_out, size_t stride, int lc, double bn_momentum,
			      double bn_eps, size_t max_batch, char *err)
{
	return lat_resblock_alloc_part(in, c_out, stride, lc, bn_momentum, bn_eps, max_batch, 0, 1, err);
}

lat_layer *lat_resblock_alloc_part(lat_shape in, size_t c_out, size_t stride, int lc, double bn_momentum,
				   double bn_eps, size_t max_batch, size_t part, size_t parts, char *err)
{
	lat_layer *l = NULL;
	resblock_priv *p = NULL;
	lat_layer **sub;
	lat_shape mid;

	if (c_out == 0 || stride == 0 || max_batch == 0 || lc < 0 || lc > 2) {
		lat_err_set(err, LAT_EINVAL,
			    "resblock: c_out %zu, stride %zu, max_batch %zu must be > 0, lc %d in {0, 1, 2}",
			    c_out, stride, max_batch, lc);
		goto out;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		lat_err_set(err, LAT_ENOMEM, "resblock layer: out of memory");
		goto out;
	}
	sub = p->sub;
	/* No conv biases: each conv feeds a batch norm, whose beta makes a bias redundant (as in ResNet). */
	sub[CONV1] = sub_alloc(p, CONV1, lc, in, c_out, 3, stride, max_batch, part, parts, err);
	if (!sub[CONV1])
		goto out;
	mid = sub[CONV1]->out;
	if (!(sub[BN1] = lat_bn_alloc(mid, bn_momentum, bn_eps, max_batch, err)) ||
	    !(sub[RELU1] = lat_relu_alloc(mid, max_batch, err)))
		goto out;
	sub[CONV2] = sub_alloc(p, CONV2, lc, mid, c_out, 3, 1, max_batch, part, parts, err);
	if (!sub[CONV2] || !(sub[BN2] = lat_bn_alloc(mid, bn_momentum, bn_eps, max_batch, err)) ||
	    !(sub[RELU2] = lat_relu_alloc(mid, max_batch, err)))
		goto out;
	if (stride != 1 || c_out != in.c) {
		sub[PROJ] = sub_alloc(p, PROJ, lc == 2, in, c_out, 1, stride, max_batch, part, parts, err);
		if (!sub[PROJ] || !(sub[PROJ_BN] = lat_bn_alloc(mid, bn_momentum, bn_eps, max_batch, err)))
			goto out;
	}
	if (priv_workspaces(p, lat_shape_size(in), lat_shape_size(mid), max_batch)) {
		lat_err_set(err, LAT_ENOMEM, "resblock layer: out of memory");
		goto out;
	}
	l = block_new(p, in, mid, max_batch, err);
	if (l)
		p = NULL;
out:
	priv_free(p);
	return l;
}

/* An lc or conv window of a block in strips of rows (lat_rows_add's rows); j's conv is a replica. */
static lat_layer *sub_window(resblock_priv *p, int j, int lc, lat_shape in, size_t c_out, size_t k, size_t stride,
			     size_t max_batch, size_t o0, size_t o1, size_t r0, size_t r1, char *err)
{
	p->replica[j] = !lc;
	return lc ? lat_lc_alloc_window(in, c_out, k, stride, 0, max_batch, o0, o1, r0, r1, err)
		  : lat_conv_alloc_window(in, c_out, k, stride, 0, max_batch, o0, o1, r0, r1, err);
}

lat_layer *lat_resblock_alloc_rows(lat_shape in, size_t c_out, size_t stride, int lc, double bn_momentum,
				   double bn_eps, size_t max_batch, size_t part, size_t parts, char *err)
{
	lat_layer *l = NULL, **sub;
	resblock_priv *p = NULL;
	lat_shape out, mid, strip;
	size_t o0, o1, r0, r1, q0, q1, f1, f2, floats = 0;

	if (c_out == 0 || stride == 0 || max_batch == 0 || lc < 0 || lc > 2 || parts < 2 || part >= parts ||
	    in.h < parts || in.h + 2 < 3 || in.w + 2 < 3) {
		lat_err_set(err, LAT_EINVAL,
			    "resblock: c_out %zu, stride %zu, max_batch %zu must be > 0, lc %d in {0, 1, 2}, part %zu "
			    "of 2 <= %zu <= %zu rows",
			    c_out, stride, max_batch, lc, part, parts, in.h);
		goto out;
	}
	p = calloc(1, sizeof *p);
	if (!p || !(p->rows = lat_rows_alloc(part, parts, N_SUB, in, 1))) {
		lat_err_set(err, LAT_ENOMEM, "resblock layer: out of memory");
		goto out;
	}
	sub = p->sub;
	out = (lat_shape){c_out, (in.h - 1) / stride + 1, (in.w - 1) / stride + 1}; /* 3 x 3, padding 1 */
	/* the plan's layers are the sub-layers CONV1 .. BN2 in order (each adds its rows) */
	if (lat_rows_add(p->rows, lc ? LAT_L_LC : LAT_L_CONV, 3, stride, out, &o0, &o1, &r0, &r1, err) ||
	    !(sub[CONV1] = sub_window(p, CONV1, lc, in, c_out, 3, stride, max_batch, o0, o1, r0, r1, err)))
		goto out;
	mid = sub[CONV1]->out;
	if (lat_rows_add(p->rows, LAT_L_BN, 1, 1, out, &o0, &o1, &q0, &q1, err) ||
	    !(sub[BN1] = lat_bn_alloc(mid, bn_momentum, bn_eps, max_batch, err)) ||
	    lat_rows_add(p->rows, LAT_L_RELU, 1, 1, out, &o0, &o1, &q0, &q1, err) ||
	    !(sub[RELU1] = lat_relu_alloc(mid, max_batch, err)) ||
	    lat_rows_add(p->rows, lc ? LAT_L_LC : LAT_L_CONV, 3, 1, out, &o0, &o1, &q0, &q1, err) ||
	    !(sub[CONV2] = sub_window(p, CONV2, lc, out, c_out, 3, 1, max_batch, o0, o1, q0, q1, err)) ||
	    lat_rows_add(p->rows, LAT_L_BN, 1, 1, out, &o0, &o1, &q0, &q1, err) ||
	    !(sub[BN2] = lat_bn_alloc(mid, bn_momentum, bn_eps, max_batch, err)) ||
	    !(sub[RELU2] = lat_relu_alloc(mid, max_batch, err)))
		goto out;
	/* the projection reads conv1's window (its 1 x 1 kernels reach the middle rows of conv1's) */
	if ((stride != 1 || c_out != in.c) &&
	    (!(sub[PROJ] = sub_window(p, PROJ, lc == 2, in, c_out, 1, stride, max_batch, o0, o1, r0, r1, err)) ||
	     !(sub[PROJ_BN] = lat_bn_alloc(mid, bn_momentum, bn_eps, max_batch, err))))
		goto out;
	strip = (lat_shape){in.c, (part + 1) * in.h / parts - part * in.h / parts, in.w};
	f1 = lat_shape_size(sub[CONV1]->in);
	f2 = lat_shape_size(sub[CONV2]->in);
	if (lat_rows_ready(p->rows, max_batch, 0, &floats) || priv_workspaces(p, f1, lat_shape_size(mid), max_batch) ||
	    !(p->gw1 = lat_floats_alloc(max_batch * f1)) || !(p->gw2 = lat_floats_alloc(max_batch * f2))) {
		lat_err_set(err, LAT_ENOMEM, "resblock layer: out of memory");
		goto out;
	}
	l = block_new(p, strip, mid, max_batch, err);
	if (l)
		p = NULL;
out:
	priv_free(p);
	return l;
}

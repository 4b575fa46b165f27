/* rows.c: a network split into strips of rows: the strips, the windows, and the halo exchanges. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "rows.h"
#include "size.h"

struct lat_rows {
	size_t part, parts, n, cap;
	int in_split;	/* the input is in strips too (a residual block's), else whole on every part */
	lat_shape in;	/* the network's input */
	lat_shape *out; /* cap: each spatial layer's whole output */
	size_t *own;	/* cap x (parts + 1): part q owns rows [own[i][q], own[i][q + 1]) of output i */
	size_t *w0, *w1; /* cap x parts: layer i's part q reads rows [w0, w1) of its input */
	float **win;	/* cap + 1: layer i's input buffer (NULL: it reads x or the strip itself); [n]: the head's */
	float *xv;	/* the exchange vector (with a point-to-point exchange: what is sent, then received) */
	size_t n_xv;
	size_t *sn, *rn; /* parts: the floats sent to and received from each part */
	float *gs, *gx;	 /* the head's input put together by the exchange: this strip sent to each other
			    part, and the other strips received */
};

lat_rows *lat_rows_alloc(size_t part, size_t parts, size_t n_layers, lat_shape in, int in_split)
{
	lat_rows *r = calloc(1, sizeof *r);
	size_t cap = n_layers ? n_layers : 1;

	if (!r)
		return NULL;
	r->part = part;
	r->parts = parts;
	r->cap = cap;
	r->in = in;
	r->in_split = in_split;
	r->out = calloc(cap, sizeof *r->out);
	r->own = calloc(cap * (parts + 1), sizeof *r->own);
	r->w0 = calloc(cap * parts, sizeof *r->w0);
	r->w1 = calloc(cap * parts, sizeof *r->w1);
	r->win = calloc(cap + 1, sizeof *r->win);
	r->sn = calloc(2 * parts, sizeof *r->sn);
	r->rn = r->sn ? r->sn + parts : NULL;
	if (!r->out || !r->own || !r->w0 || !r->w1 || !r->win || !r->sn) {
		lat_rows_free(r);
		return NULL;
	}
	return r;
}

void lat_rows_free(lat_rows *r)
{
	if (!r)
		return;
	if (r->win)
		for (size_t i = 0; i <= r->cap; i++)
			free(r->win[i]);
	free(r->win);
	free(r->out);
	free(r->own);
	free(r->w0);
	free(r->w1);
	free(r->xv);
	free(r->sn);
	free(r->gs);
	free(r->gx);
	free(r);
}

size_t lat_rows_count(const lat_rows *r)
{
	return r->n;
}

/* Layer i's input shape (whole). */
static lat_shape in_shape(const lat_rows *r, size_t i)
{
	return i ? r->out[i - 1] : r->in;
}

/* The rows [*a, *b) part q owns of layer i's input: all of them for a network's input (held whole). */
static void in_own(const lat_rows *r, size_t i, size_t q, size_t *a, size_t *b)
{
	if (i) {
		*a = r->own[(i - 1) * (r->parts + 1) + q];
		*b = r->own[(i - 1) * (r->parts + 1) + q + 1];
	} else {
		*a = r->in_split ? q * r->in.h / r->parts : 0;
		*b = r->in_split ? (q + 1) * r->in.h / r->parts : r->in.h;
	}
}

int lat_rows_add(lat_rows *r, lat_layer_kind kind, size_t k, size_t stride, lat_shape out, size_t *o0,
		 size_t *o1, size_t *r0, size_t *r1, char *err)
{
	size_t i = r->n, h_in = in_shape(r, i).h, *own;

	if (i >= r->cap || out.h < r->parts)
		return lat_err_set(err, LAT_EINVAL,
				   "its output's %zu rows cannot be split into strips for %zu processes (at most %zu)",
				   out.h, r->parts, out.h);
	own = r->own + i * (r->parts + 1);
	for (size_t q = 0; q <= r->parts; q++)
		own[q] = q * out.h / r->parts; /* q out.h <= parts out.h: a layer's size, which fits */
	for (size_t q = 0; q < r->parts; q++) {
		size_t a = own[q], b = own[q + 1], *lo = r->w0 + i * r->parts + q, *hi = r->w1 + i * r->parts + q;
		if (kind == LAT_L_LC || kind == LAT_L_CONV) {
			lat_lc_window_rows(h_in, k, stride, a, b, lo, hi);
		} else if (kind == LAT_L_RESBLOCK) { /* its strip of the input (it exchanges rows itself) */
			*lo = q * h_in / r->parts;
			*hi = (q + 1) * h_in / r->parts;
		} else { /* relu and bn (k = 1) and maxpool: rows [a k, b k) */
			*lo = a * k;
			*hi = b * k;
		}
	}
	r->out[i] = out;
	r->n++;
	*o0 = own[r->part];
	*o1 = own[r->part + 1];
	*r0 = r->w0[i * r->parts + r->part];
	*r1 = r->w1[i * r->parts + r->part];
	return LAT_OK;
}

/* The halo of part q in layer i's input: rows [*a0, *a1) above its strip and [*b0, *b1) below it that
 * its window reads (none for an input every part holds whole). */
static void halo(const lat_rows *r, size_t i, size_t q, size_t *a0, size_t *a1, size_t *b0, size_t *b1)
{
	size_t lo = r->w0[i * r->parts + q], hi = r->w1[i * r->parts + q], a, b;
	int split = i || r->in_split;

	in_own(r, i, q, &a, &b);
	*a0 = lo;
	*a1 = split && lo < a ? (hi < a ? hi : a) : lo;
	*b0 = split && hi > b ? (lo > b ? lo : b) : hi;
	*b1 = hi;
}

/* The rows of part q's halo in layer i. */
static size_t halo_rows(const lat_rows *r, size_t i, size_t q)
{
	size_t a0, a1, b0, b1;

	halo(r, i, q, &a0, &a1, &b0, &b1);
	return (a1 - a0) + (b1 - b0);
}

/* Where part q's slot starts in the vector the sum carries (every part's halo rows one after another,
 * for a batch); q = parts: its length. */
static size_t slot_at(const lat_rows *r, size_t i, size_t q, size_t batch)
{
	lat_shape s = in_shape(r, i);
	size_t at = 0;

	for (size_t p = 0; p < q; p++)
		at += batch * s.c * s.w * halo_rows(r, i, p);
	return at;
}

int lat_rows_ready(lat_rows *r, size_t max_batch, int head, size_t *floats)
{
	size_t most = 0;

	for (size_t i = 0; i < r->n + (head != 0); i++) {
		lat_shape s = in_shape(r, i);
		size_t a, b, rows = r->w1[i * r->parts + r->part] - r->w0[i * r->parts + r->part], per = 0;
		if (i == r->n) { /* the head: the last output, whole */
			rows = s.h;
		} else {
			in_own(r, i, r->part, &a, &b);
			if (r->w0[i * r->parts + r->part] == a && r->w1[i * r->parts + r->part] == b)
				rows = 0; /* it reads its strip itself */
			for (size_t q = 0; q < r->parts; q++)
				per += halo_rows(r, i, q);
			most = per * s.c * s.w > most ? per * s.c * s.w : most;
		}
		if (rows) {
			r->win[i] = malloc(max_batch * s.c * rows * s.w * sizeof *r->win[i] + 1);
			if (!r->win[i])
				return LAT_ENOMEM;
			*floats += max_batch * s.c * rows * s.w;
		}
	}
	r->n_xv = most * max_batch;
	r->xv = malloc(2 * r->n_xv * sizeof *r->xv + 1); /* a point-to-point exchange: sent, received */
	*floats += 2 * r->n_xv;
	if (head) { /* the head's input by the exchange: this strip to P - 1 parts, the other strips */
		lat_shape s = in_shape(r, r->n);
		size_t a, b, whole = max_batch * s.c * s.h * s.w;
		in_own(r, r->n, r->part, &a, &b);
		r->gs = malloc((r->parts - 1) * max_batch * s.c * (b - a) * s.w * sizeof *r->gs + 1);
		r->gx = malloc(whole * sizeof *r->gx + 1);
		*floats += (r->parts - 1) * max_batch * s.c * (b - a) * s.w + whole;
		if (!r->gs || !r->gx)
			return LAT_ENOMEM;
	}
	return r->xv ? LAT_OK : LAT_ENOMEM;
}

/* dst rows [y0, y1) = (or +=) src's, for bc planes of w floats; src holds rows [s0, s0 + s_rows) of
 * each plane and dst rows [d0, d0 + d_rows) (an origin below a block's first row maps a later block). */
static void copy_rows(const float *src, size_t s0, size_t s_rows, float *dst, size_t d0, size_t d_rows,
		      size_t y0, size_t y1, size_t bc, size_t w, int add)
{
	if (y1 <= y0)
		return;
	for (size_t t = 0; t < bc; t++) {
		const float *s = src + (t * s_rows + y0 - s0) * w;
		float *d = dst + (t * d_rows + y0 - d0) * w;
		if (!add) {
			memcpy(d, s, (y1 - y0) * w * sizeof *d);
			continue;
		}
		for (size_t j = 0; j < (y1 - y0) * w; j++)
			d[j] += s[j];
	}
}

/* The rows [lo, hi) of part q's halo in layer i as blocks of its slot in the exchange vector (its halo
 * rows, above then below: slot row j is row a0 + j above, row b0 + j - na below): *n rows in the slot;
 * block k covers rows [y0[k], y1[k]) with the slot's row origin org[k]. */
static void slot_blocks(const lat_rows *r, size_t i, size_t q, size_t lo, size_t hi, size_t *n, size_t y0[2],
			size_t y1[2], size_t org[2])
{
	size_t a0, a1, b0, b1;

	halo(r, i, q, &a0, &a1, &b0, &b1);
	*n = (a1 - a0) + (b1 - b0);
	org[0] = a0;
	org[1] = b0 - (a1 - a0);
	y0[0] = a0 > lo ? a0 : lo;
	y1[0] = a1 < hi ? a1 : hi;
	y0[1] = b0 > lo ? b0 : lo;
	y1[1] = b1 < hi ? b1 : hi;
}

/* Part q's slot gets rows [lo, hi) of its halo from src, which holds rows [s0, s0 + s_rows). */
static void slot_put(const lat_rows *r, size_t i, size_t q, const float *src, size_t s0, size_t s_rows,
		     size_t lo, size_t hi, size_t batch)
{
	lat_shape s = in_shape(r, i);
	size_t n, y0[2], y1[2], org[2];
	float *slot = r->xv + slot_at(r, i, q, batch);

	slot_blocks(r, i, q, lo, hi, &n, y0, y1, org);
	for (int k = 0; k < 2; k++)
		copy_rows(src, s0, s_rows, slot, org[k], n, y0[k], y1[k], batch * s.c, s.w, 0);
}

/* dst, holding rows [d0, d0 + d_rows), gets (add: adds) rows [lo, hi) of part q's halo from its slot. */
static void slot_get(const lat_rows *r, size_t i, size_t q, float *dst, size_t d0, size_t d_rows, size_t lo,
		     size_t hi, size_t batch, int add)
{
	lat_shape s = in_shape(r, i);
	size_t n, y0[2], y1[2], org[2];
	const float *slot = r->xv + slot_at(r, i, q, batch);

	slot_blocks(r, i, q, lo, hi, &n, y0, y1, org);
	for (int k = 0; k < 2; k++)
		copy_rows(slot, org[k], n, dst, d0, d_rows, y0[k], y1[k], batch * s.c, s.w, add);
}

/* The rows part `to` reads of part `from`'s strip in layer i: to's halo clipped to that strip (two
 * blocks, above and below to's own strip: rows [y0[k], y1[k]), empty when y1[k] <= y0[k]), and their
 * floats for a batch. */
static size_t meet(const lat_rows *r, size_t i, size_t to, size_t from, size_t batch, size_t y0[2], size_t y1[2])
{
	lat_shape s = in_shape(r, i);
	size_t a, b, n, org[2], rows = 0;

	in_own(r, i, from, &a, &b);
	slot_blocks(r, i, to, a, b, &n, y0, y1, org);
	for (int k = 0; k < 2; k++)
		rows += y1[k] > y0[k] ? y1[k] - y0[k] : 0;
	return batch * s.c * rows * s.w;
}

/* The rows of meet's blocks y0, y1 of buf (rows [s0, s0 + s_rows)) packed one block after another,
 * each [b][c][row][x]; returns the floats packed. */
static size_t pack(const lat_rows *r, size_t i, const float *buf, size_t s0, size_t s_rows, const size_t y0[2],
		   const size_t y1[2], size_t batch, float *packed)
{
	lat_shape s = in_shape(r, i);
	size_t off = 0, bc = batch * s.c;

	for (int k = 0; k < 2; k++)
		if (y1[k] > y0[k]) {
			copy_rows(buf, s0, s_rows, packed + off, y0[k], y1[k] - y0[k], y0[k], y1[k], bc, s.w, 0);
			off += bc * (y1[k] - y0[k]) * s.w;
		}
	return off;
}

/* The inverse of pack: the packed rows copied (add: added) into buf (rows [d0, d0 + d_rows)). */
static size_t unpack(const lat_rows *r, size_t i, const float *packed, const size_t y0[2], const size_t y1[2],
		     size_t batch, float *buf, size_t d0, size_t d_rows, int add)
{
	lat_shape s = in_shape(r, i);
	size_t off = 0, bc = batch * s.c;

	for (int k = 0; k < 2; k++)
		if (y1[k] > y0[k]) {
			copy_rows(packed + off, y0[k], y1[k] - y0[k], buf, d0, d_rows, y0[k], y1[k], bc, s.w, add);
			off += bc * (y1[k] - y0[k]) * s.w;
		}
	return off;
}

/* The exchange of layer i: forward (grad = 0), every part sends the rows of its strip src (rows [s0,
 * s0 + s_rows)) that the others' windows read, and receives into its window dst (rows [d0, d0 +
 * d_rows)) the rows of its halo; backward (grad = 1), it sends the gradients of its window src's rows
 * that others own, and adds those of its strip dst's rows from the others' windows, in part order. Through c's exchange when set, else
 * through the sum of every part's halos. */
static int trade(lat_rows *r, size_t i, const float *src, size_t s0, size_t s_rows, float *dst, size_t d0,
		 size_t d_rows, size_t batch, int grad, const lat_rows_comm *c, char *err)
{
	size_t me = r->part, y0[2], y1[2], len = slot_at(r, i, r->parts, batch), sent = 0, got = 0, a, b, lo, hi;
	float *send = r->xv, *recv = r->xv + r->n_xv;

	if (!len)
		return LAT_OK;
	in_own(r, i, me, &a, &b);
	lo = r->w0[i * r->parts + me];
	hi = r->w1[i * r->parts + me];
	if (!c->exchange) { /* every part's halo in one vector, summed */
		memset(r->xv, 0, len * sizeof *r->xv);
		for (size_t q = 0; q < r->parts; q++)
			if (grad ? q == me : q != me)
				slot_put(r, i, q, src, s0, s_rows, grad ? lo : a, grad ? hi : b, batch);
		if (c->sum(c->sum_ctx, r->xv, len))
			return lat_err_set(err, LAT_EIO, "layer %zu: summing the %s of the strips' edges failed", i + 1,
					   grad ? "gradients" : "rows");
		for (size_t q = 0; q < r->parts; q++)
			if (grad ? q != me : q == me)
				slot_get(r, i, q, dst, d0, d_rows, grad ? a : lo, grad ? b : hi, batch, grad);
		return LAT_OK;
	}
	/* to q: forward, the rows of q's halo in my strip; backward, the gradients of my halo's rows in q's */
	for (size_t q = 0; q < r->parts; q++) {
		r->sn[q] = r->rn[q] = 0;
		if (q == me)
			continue;
		r->rn[q] = meet(r, i, grad ? q : me, grad ? me : q, batch, y0, y1);
		meet(r, i, grad ? me : q, grad ? q : me, batch, y0, y1);
		r->sn[q] = pack(r, i, src, s0, s_rows, y0, y1, batch, send + sent);
		sent += r->sn[q];
	}
	if (c->exchange(c->exchange_ctx, send, r->sn, recv, r->rn))
		return lat_err_set(err, LAT_EIO, "layer %zu: exchanging the %s of the strips' edges failed", i + 1,
				   grad ? "gradients" : "rows");
	for (size_t q = 0; q < r->parts; q++)
		if (q != me) {
			meet(r, i, grad ? q : me, grad ? me : q, batch, y0, y1);
			got += unpack(r, i, recv + got, y0, y1, batch, dst, d0, d_rows, grad);
		}
	return LAT_OK;
}

/* The last strips put together in the head's input buffer: with the exchange, each part sends its
 * strip to every other (an allgather: P - 1 strips received); else every strip summed into a zeroed
 * whole. */
static int gather(lat_rows *r, size_t i, const float *strip, size_t batch, const lat_rows_comm *c, char *err)
{
	lat_shape s = in_shape(r, i);
	size_t me = r->part, a, b, bc = batch * s.c, at = 0;
	float *win = r->win[i], *recv;

	if (!win)
		return lat_err_set(err, LAT_EINVAL, "layer %zu: no layers after the strips", i + 1);
	in_own(r, i, me, &a, &b);
	if (!c->exchange) {
		memset(win, 0, bc * s.h * s.w * sizeof *win);
		copy_rows(strip, a, b - a, win, 0, s.h, a, b, bc, s.w, 0);
		if (c->sum(c->sum_ctx, win, bc * s.h * s.w))
			return lat_err_set(err, LAT_EIO, "layer %zu: putting the strips together failed", i + 1);
		return LAT_OK;
	}
	/* the other parts' strips arrive one after another in gx, and are then copied to their rows */
	recv = r->gx;
	for (size_t q = 0; q < r->parts; q++) {
		size_t qa, qb;
		in_own(r, i, q, &qa, &qb);
		r->sn[q] = q == me ? 0 : bc * (b - a) * s.w;
		r->rn[q] = q == me ? 0 : bc * (qb - qa) * s.w;
	}
	for (size_t q = 0; q < r->parts; q++) /* the same strip to every other part */
		if (q != me) {
			memcpy(r->gs + at, strip, r->sn[q] * sizeof *strip);
			at += r->sn[q];
		}
	if (c->exchange(c->exchange_ctx, r->gs, r->sn, recv, r->rn))
		return lat_err_set(err, LAT_EIO, "layer %zu: putting the strips together failed", i + 1);
	copy_rows(strip, a, b - a, win, 0, s.h, a, b, bc, s.w, 0);
	at = 0;
	for (size_t q = 0; q < r->parts; q++) {
		size_t qa, qb;
		if (q == me)
			continue;
		in_own(r, i, q, &qa, &qb);
		copy_rows(recv + at, qa, qb - qa, win, 0, s.h, qa, qb, bc, s.w, 0);
		at += r->rn[q];
	}
	return LAT_OK;
}

const float *lat_rows_input(lat_rows *r, size_t i, const float *x, const float *prev, size_t batch,
			    const lat_rows_comm *c, char *err)
{
	lat_shape s = in_shape(r, i);
	size_t me = r->part, a, b, lo, hi, rows, bc = batch * s.c;
	float *win = r->win[i];

	if (i == r->n) /* the head's input: every part's strip put together */
		return gather(r, i, prev, batch, c, err) ? NULL : win;
	lo = r->w0[i * r->parts + me];
	hi = r->w1[i * r->parts + me];
	rows = hi - lo;
	if (i == 0 && !r->in_split) { /* the network's input: every part holds it whole */
		if (!win)
			return x;
		copy_rows(x, 0, s.h, win, lo, rows, lo, hi, bc, s.w, 0);
		return win;
	}
	if (i == 0) /* an input in strips: x is this part's */
		prev = x;
	in_own(r, i, me, &a, &b);
	if (win) /* its own rows first, then the halo's (a window that is the strip itself has none) */
		copy_rows(prev, a, b - a, win, lo, rows, lo > a ? lo : a, hi < b ? hi : b, bc, s.w, 0);
	if (trade(r, i, prev, a, b - a, win, lo, rows, batch, 0, c, err))
		return NULL;
	return win ? win : prev;
}

int lat_rows_return(lat_rows *r, size_t i, const float *din, float *dprev, size_t batch, const lat_rows_comm *c,
		    int *same, char *err)
{
	lat_shape s = in_shape(r, i);
	size_t me = r->part, a, b, lo, hi, bc = batch * s.c;

	in_own(r, i, me, &a, &b);
	*same = 0;
	if (i == r->n) { /* the head's input gradient is whole on every part: this part's rows of it */
		copy_rows(din, 0, s.h, dprev, a, b - a, a, b, bc, s.w, 0);
		return LAT_OK;
	}
	lo = r->w0[i * r->parts + me];
	hi = r->w1[i * r->parts + me];
	if (!r->win[i] && !slot_at(r, i, r->parts, batch)) {
		*same = 1;
		return LAT_OK;
	}
	/* this part's rows: its own window's gradient where it read them (0 elsewhere), then the others' */
	if (r->win[i]) {
		memset(dprev, 0, bc * (b - a) * s.w * sizeof *dprev);
		copy_rows(din, lo, hi - lo, dprev, a, b - a, lo > a ? lo : a, hi < b ? hi : b, bc, s.w, 0);
	} else {
		memcpy(dprev, din, bc * (b - a) * s.w * sizeof *dprev);
	}
	return trade(r, i, din, lo, hi - lo, dprev, a, b - a, batch, 1, c, err);
}

/* whole.c: the flat layout of the whole network that a network split by location is one part of. */
#include <config.h>

#include <string.h>

#include "lateral/net.h"

/* The shape of a split layer's parameters: c_out rows of n_own (local) or n_loc (whole) positions of n_k
 * weights each, then the bias: c_out x positions (position bias), c_out (channel bias) or none. */
typedef struct {
	size_t c_out, n_k, n_loc, n_own, q0;
	int bias;    /* 0 none, 1 per position, 2 per channel (a replica) */
	size_t n_wl; /* local weights before the bias */
	size_t n_ww; /* whole weights before the bias */
} part_shape;

static int part_of(const lat_net *n, size_t i, part_shape *p)
{
	const lat_layer *l = lat_net_layer(n, i);
	int split = lat_net_layer_split(n, i);
	lat_lc_geom g;

	if (!split || lat_lc_geometry(l, &g))
		return 0;
	p->c_out = g.c_out;
	p->n_k = g.c_in * g.k * g.k;
	p->n_loc = g.h_out * g.w_out;
	p->n_own = g.q1 - g.q0;
	p->q0 = g.q0;
	p->n_wl = p->c_out * p->n_own * p->n_k;
	p->n_ww = p->c_out * p->n_loc * p->n_k;
	p->bias = split == 2 ? 2 : l->n_params > p->n_wl ? 1 : 0;
	return 1;
}

size_t lat_net_layer_params_whole(const lat_net *n, size_t i)
{
	part_shape p;

	if (!part_of(n, i, &p))
		return i < lat_net_n_layers(n) ? lat_net_layer(n, i)->n_params : 0;
	return p.n_ww + (p.bias == 1 ? p.c_out * p.n_loc : p.bias == 2 ? p.c_out : 0);
}

size_t lat_net_n_params_whole(const lat_net *n)
{
	size_t total = 0;

	for (size_t i = 0; i < lat_net_n_layers(n); i++)
		total += lat_net_layer_params_whole(n, i);
	return total;
}

/* One run of cnt floats at local[l0] and whole index w0, clipped to the window [lo, lo + len). */
static void run(float *local, float *window, size_t lo, size_t len, size_t l0, size_t w0, size_t cnt,
		int to_whole)
{
	size_t a = w0 > lo ? w0 : lo, b = w0 + cnt < lo + len ? w0 + cnt : lo + len;

	if (a >= b)
		return;
	if (to_whole)
		memcpy(window + (a - lo), local + l0 + (a - w0), (b - a) * sizeof *local);
	else
		memcpy(local + l0 + (a - w0), window + (a - lo), (b - a) * sizeof *local);
}

void lat_net_map_whole(const lat_net *n, float *local, float *window, size_t lo, size_t len, int to_whole,
		       int replicas)
{
	int copy_replicas = !to_whole || replicas;
	size_t lpos = 0, wpos = 0;

	for (size_t i = 0; i < lat_net_n_layers(n); i++) {
		size_t n_local = lat_net_layer(n, i)->n_params;
		part_shape p;
		if (!part_of(n, i, &p)) {
			if (copy_replicas)
				run(local, window, lo, len, lpos, wpos, n_local, to_whole);
		} else {
			/* W[c_out][q][n_k]: the part's rows of positions [q0, q0 + n_own) */
			for (size_t o = 0; o < p.c_out; o++)
				run(local, window, lo, len, lpos + o * p.n_own * p.n_k, wpos + (o * p.n_loc + p.q0) * p.n_k,
				    p.n_own * p.n_k, to_whole);
			if (p.bias == 1)
				for (size_t o = 0; o < p.c_out; o++)
					run(local, window, lo, len, lpos + p.n_wl + o * p.n_own,
					    wpos + p.n_ww + o * p.n_loc + p.q0, p.n_own, to_whole);
			else if (p.bias == 2 && copy_replicas)
				run(local, window, lo, len, lpos + p.n_wl, wpos + p.n_ww, p.c_out, to_whole);
		}
		lpos += n_local;
		wpos += lat_net_layer_params_whole(n, i);
	}
}

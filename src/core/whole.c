/* whole.c: the flat layout of the whole network that a network split by location is one part of. */
#include <config.h>

#include <string.h>

#include "lateral/net.h"
#include "layer_impl.h"

void lat_whole_run(const lat_whole_map *m, size_t l0, size_t w0, size_t cnt, int replica)
{
	size_t a = w0 > m->lo ? w0 : m->lo, b = w0 + cnt < m->lo + m->len ? w0 + cnt : m->lo + m->len;

	if (a >= b || (replica && m->to_whole && !m->replicas))
		return;
	if (m->to_whole)
		memcpy(m->window + (a - m->lo), m->local + l0 + (a - w0), (b - a) * sizeof *m->local);
	else
		memcpy(m->local + l0 + (a - w0), m->window + (a - m->lo), (b - a) * sizeof *m->local);
}

size_t lat_layer_params_whole(const lat_layer *l)
{
	return l->type->params_whole ? l->type->params_whole(l) : l->n_params;
}

void lat_layer_map_whole(const lat_layer *l, const lat_whole_map *m, size_t lpos, size_t wpos)
{
	if (l->type->map_whole)
		l->type->map_whole(l, m, lpos, wpos);
	else
		lat_whole_run(m, lpos, wpos, l->n_params, 1);
}

size_t lat_net_layer_params_whole(const lat_net *n, size_t i)
{
	return i < lat_net_n_layers(n) ? lat_layer_params_whole(lat_net_layer(n, i)) : 0;
}

size_t lat_net_n_params_whole(const lat_net *n)
{
	size_t total = 0;

	for (size_t i = 0; i < lat_net_n_layers(n); i++)
		total += lat_net_layer_params_whole(n, i);
	return total;
}

void lat_net_map_whole(const lat_net *n, float *local, float *window, size_t lo, size_t len, int to_whole,
		       int replicas)
{
	const lat_whole_map m = {local, window, lo, len, to_whole, replicas};
	size_t lpos = 0, wpos = 0;

	for (size_t i = 0; i < lat_net_n_layers(n); i++) {
		const lat_layer *l = lat_net_layer(n, i);
		lat_layer_map_whole(l, &m, lpos, wpos);
		lpos += l->n_params;
		wpos += lat_layer_params_whole(l);
	}
}

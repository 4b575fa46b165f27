/* share.c: sharing phases of an lc layer's pools, setup and the phase driver (data flow: share_impl.h). */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <gsl/gsl_rng.h>

#include "gslguard.h"
#include "lateral/circuit.h"
#include "lateral/err.h"
#include "lateral/ode.h"
#include "lateral/share.h"
#include "share_impl.h"
#include "size.h"
#include "transfer.h"

const char *const lat_share_mode_names[] = {[LAT_SHARE_NONE] = "none",	      [LAT_SHARE_INSTANT] = "instant",
					     [LAT_SHARE_HEBBIAN] = "hebbian",	      [LAT_SHARE_CIRCUIT] = "circuit",
					     [LAT_SHARE_EXPECTED] = "expected", NULL};
const char *const lat_border_names[] = {[LAT_BORDER_EXCLUDE] = "exclude", [LAT_BORDER_INCLUDE] = "include", NULL};
#define N_MODES (sizeof lat_share_mode_names / sizeof lat_share_mode_names[0] - 1)
#define N_BORDERS (sizeof lat_border_names / sizeof lat_border_names[0] - 1)

static int parse_name(const char *s, const char *const *names, size_t n, int *v)
{
	if (!s)
		return LAT_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*v = (int)i;
			return LAT_OK;
		}
	}
	return LAT_EINVAL;
}

int lat_share_mode_parse(const char *s, lat_share_mode *m)
{
	int v;
	int status = parse_name(s, lat_share_mode_names, N_MODES, &v);

	if (!status)
		*m = (lat_share_mode)v;
	return status;
}

const char *lat_share_mode_name(lat_share_mode m)
{
	return (unsigned)m < N_MODES ? lat_share_mode_names[m] : "unknown";
}

int lat_border_parse(const char *s, lat_border *b)
{
	int v;
	int status = parse_name(s, lat_border_names, N_BORDERS, &v);

	if (!status)
		*b = (lat_border)v;
	return status;
}

const char *lat_border_name(lat_border b)
{
	return (unsigned)b < N_BORDERS ? lat_border_names[b] : "unknown";
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int iterative(lat_share_mode m)
{
	return m == LAT_SHARE_HEBBIAN || m == LAT_SHARE_CIRCUIT || m == LAT_SHARE_EXPECTED;
}

/* Modes that draw noise patches (expected takes their expectation instead). */
static int sampled(lat_share_mode m)
{
	return m == LAT_SHARE_HEBBIAN || m == LAT_SHARE_CIRCUIT;
}

static int check_geometry(const lat_lc_geom *g, char *err)
{
	if (g->shared)
		return lat_err_set(err, LAT_EINVAL,
				   "share: the layer shares its kernel already (conv); "
				   "sharing phases need an lc layer (shared = 0)");
	if (!g->c_in || !g->h_in || !g->w_in || !g->c_out || !g->h_out || !g->w_out || !g->stride)
		return lat_err_set(err, LAT_EINVAL, "share: empty lc geometry or stride 0");
	if (g->k % 2 == 0)
		return lat_err_set(err, LAT_EINVAL, "share: kernel k = %zu must be odd", g->k);
	if (g->h_in + 2 * g->pad < g->k || g->w_in + 2 * g->pad < g->k ||
	    g->h_out != (g->h_in + 2 * g->pad - g->k) / g->stride + 1 ||
	    g->w_out != (g->w_in + 2 * g->pad - g->k) / g->stride + 1)
		return lat_err_set(
		    err, LAT_EINVAL,
		    "share: output %zu x %zu does not match input %zu x %zu, k %zu, stride %zu, "
		    "pad %zu",
		    g->h_out, g->w_out, g->h_in, g->w_in, g->k, g->stride, g->pad);
	return LAT_OK;
}

static int check_opts(const lat_share_opts *o, char *err)
{
	lat_circuit c;

	if ((unsigned)o->mode > LAT_SHARE_EXPECTED)
		return lat_err_set(err, LAT_EINVAL, "share: unknown mode %d", (int)o->mode);
	if ((unsigned)o->border > LAT_BORDER_INCLUDE)
		return lat_err_set(err, LAT_EINVAL, "share: unknown border option %d", (int)o->border);
	if (!iterative(o->mode))
		return LAT_OK;
	if (o->presentations < 1 || o->iterations < 1)
		return lat_err_set(err, LAT_EINVAL,
				   "share: presentations and iterations must be >= 1 "
				   "(got %zu and %zu)",
				   o->presentations, o->iterations);
	if (!(isfinite(o->eta) && o->eta > 0))
		return lat_err_set(err, LAT_EINVAL, "share: eta must be finite and > 0 (got %g)", o->eta);
	if (!(isfinite(o->gamma) && o->gamma >= 0))
		return lat_err_set(err, LAT_EINVAL, "share: gamma must be finite and >= 0 (got %g)",
				   o->gamma);
	if (o->circuit.relu || o->circuit.bias_dynamic)
		return lat_err_set(err, LAT_EINVAL,
				   "share: the sharing circuit needs linear units and a constant bias");
	c = o->circuit;
	c.n = 1;
	return lat_circuit_check(&c, err);
}

/* Borders, receptive-field maps and pools (members in row-major order). */
static int build_pools(lat_share *s, char *err)
{
	const lat_lc_geom *g = &s->g;
	size_t k = g->k, kk = k * k, n_cls = 0, *cnt = NULL, *cls = NULL, pos, j;
	int status = LAT_OK;

	cnt = calloc(kk, sizeof *cnt);
	cls = malloc(s->n_pos * sizeof *cls);
	s->border = malloc(s->n_pos);
	s->active = malloc(s->n_pos * sizeof *s->active);
	s->src = malloc(s->n_pos * s->d * sizeof *s->src);
	if (!cnt || !cls || !s->border || !s->active || !s->src) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the pool tables");
		goto out;
	}
	for (pos = 0; pos < s->n_pos; pos++) {
		size_t y = pos / g->w_out, x = pos % g->w_out;
		/* top-left input coordinate of the receptive field, shifted by pad to stay unsigned */
		size_t iy0 = y * g->stride, ix0 = x * g->stride;
		size_t *src = s->src + pos * s->d;
		s->border[pos] =
		    iy0 < g->pad || ix0 < g->pad || iy0 + k > g->h_in + g->pad || ix0 + k > g->w_in + g->pad;
		cls[pos] = (iy0 % k) * k + ix0 % k;
		for (size_t ci = 0; ci < g->c_in; ci++)
			for (size_t u = 0; u < k; u++)
				for (size_t v = 0; v < k; v++) {
					size_t iy = iy0 + u, ix = ix0 + v; /* + pad */
					int in = iy >= g->pad && ix >= g->pad && iy - g->pad < g->h_in &&
						 ix - g->pad < g->w_in;
					*src++ = in ? ci * kk + ((iy - g->pad) % k) * k + (ix - g->pad) % k
						    : SRC_PAD;
				}
		if (!s->border[pos] || s->o.border == LAT_BORDER_INCLUDE) {
			s->active[s->n_active++] = pos;
			cnt[cls[pos]]++;
		}
	}
	s->interior = 1;
	for (size_t a = 0; a < s->n_active; a++)
		if (s->border[s->active[a]])
			s->interior = 0;
	for (j = 0; j < kk; j++)
		if (cnt[j]) {
			n_cls++;
			if (cnt[j] > s->max_pool)
				s->max_pool = cnt[j];
		}
	s->n_pools = g->c_out * n_cls;
	s->n_neurons = g->c_out * s->n_active;
	s->pool_start = malloc((s->n_pools + 1) * sizeof *s->pool_start);
	s->members = malloc((s->n_neurons ? s->n_neurons : 1) * sizeof *s->members);
	if (!s->pool_start || !s->members) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the pool tables");
		goto out;
	}
	{
		size_t p = 0, m = 0;
		for (size_t c = 0; c < g->c_out; c++)
			for (j = 0; j < kk; j++) {
				if (!cnt[j])
					continue;
				s->pool_start[p++] = m;
				for (size_t a = 0; a < s->n_active; a++)
					if (cls[s->active[a]] == j)
						s->members[m++] = c * s->n_pos + s->active[a];
			}
		s->pool_start[p] = m;
	}
	/* the held members: positions ascend in every member list and in active */
	s->own_at = malloc((s->n_pools ? s->n_pools : 1) * sizeof *s->own_at);
	s->own_n = malloc((s->n_pools ? s->n_pools : 1) * sizeof *s->own_n);
	if (!s->own_at || !s->own_n) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the pool tables");
		goto out;
	}
	for (j = 0; j < s->n_pools; j++) {
		size_t i = s->pool_start[j], end = s->pool_start[j + 1];
		for (; i < end && s->members[i] % s->n_pos < s->q0; i++)
			;
		s->own_at[j] = i - s->pool_start[j];
		for (; i < end && s->members[i] % s->n_pos < s->q0 + s->n_own; i++)
			;
		s->own_n[j] = i - s->pool_start[j] - s->own_at[j];
	}
	for (s->a0 = 0; s->a0 < s->n_active && s->active[s->a0] < s->q0; s->a0++)
		;
	for (s->a1 = s->a0; s->a1 < s->n_active && s->active[s->a1] < s->q0 + s->n_own; s->a1++)
		;
out:
	free(cnt);
	free(cls);
	return status;
}

/* 1 when a phase goes through transfer matrices: interior-only pools whose steady state is known in
 * closed form, i.e. hebbian, or circuit with the exact method (auto picks it for these linear
 * circuits); an integrator (rk8pd, adams, bdf) asked for by name settles every circuit. */
static int use_transfer(const lat_share *s)
{
	return s->interior && s->n_pools && !s->o.iterate &&
	       (s->o.mode == LAT_SHARE_HEBBIAN ||
		(s->o.mode == LAT_SHARE_CIRCUIT &&
		 (s->o.ode.method == LAT_METHOD_EXACT || s->o.ode.method == LAT_METHOD_AUTO)));
}

/* Groups pools by size; in circuit mode allocates each group's batch and ODE engine. */
static int build_groups(lat_share *s, char *err)
{
	size_t P = s->o.presentations, j, gi, at = 0;
	int status = LAT_OK;

	s->groups = calloc(s->max_pool + 1, sizeof *s->groups); /* at most one group per size */
	s->group_pools = malloc((s->n_pools ? s->n_pools : 1) * sizeof *s->group_pools);
	if (!s->groups || !s->group_pools) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the pool groups");
		goto out;
	}
	for (j = 0; j < s->n_pools; j++) {
		size_t n = s->pool_start[j + 1] - s->pool_start[j];
		for (gi = 0; gi < s->n_groups && s->groups[gi].n != n; gi++)
			;
		if (gi == s->n_groups)
			s->groups[s->n_groups++].n = n;
		s->groups[gi].n_pools++;
	}
	for (gi = 0; gi < s->n_groups; gi++) {
		share_group *gr = s->groups + gi;
		size_t n = gr->n;
		gr->pools = s->group_pools + at;
		at += gr->n_pools;
		gr->n_pools = 0;
		for (j = 0; j < s->n_pools; j++)
			if (s->pool_start[j + 1] - s->pool_start[j] == n)
				gr->pools[gr->n_pools++] = j;
		gr->c = s->o.circuit;
		gr->c.n = n;
		if (s->o.mode != LAT_SHARE_CIRCUIT || use_transfer(s))
			continue;
		{
			size_t n_z;
			if (lat_size_mul(gr->n_pools, P, &n_z) || lat_size_mul(n_z, n + 1, &n_z) ||
			    lat_size_mul(n_z, sizeof *gr->z, &n_z)) {
				status = lat_err_set(err, LAT_ENOMEM, "share: circuit batch too large");
				goto out;
			}
			gr->z = malloc(n_z);
			if (!gr->z) {
				status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for %zu circuits of %zu neurons",
						     gr->n_pools * P, n);
				goto out;
			}
		}
	}
out:
	return status;
}

/* The transfer shortcut's workspace when it applies. */
static int alloc_transfer(lat_share *s, char *err)
{
	size_t rows, cd;
	int circuit = s->o.mode == LAT_SHARE_CIRCUIT;

	if (!use_transfer(s))
		return LAT_OK;
	if (lat_size_mul(s->g.c_out, s->max_pool, &rows) || rows > INT_MAX || lat_size_mul(s->g.c_out, s->d, &cd))
		return lat_err_set(err, LAT_EINVAL, "share: layer too large");
	s->tr = lat_transfer_alloc(s->d, s->o.presentations, circuit);
	s->rows = malloc(rows * s->d * sizeof *s->rows);
	s->rows_out = malloc(rows * s->d * sizeof *s->rows_out);
	s->aj = malloc(s->d * s->d * sizeof *s->aj);
	s->cmeans = malloc(cd * sizeof *s->cmeans);
	if (circuit) {
		s->bj = malloc(s->d * s->d * sizeof *s->bj);
		s->fmeans = malloc(cd * sizeof *s->fmeans);
		s->fmeans_out = malloc(cd * sizeof *s->fmeans_out);
	}
	if (!s->tr || !s->rows || !s->rows_out || !s->aj || !s->cmeans ||
	    (circuit && (!s->bj || !s->fmeans || !s->fmeans_out)))
		return lat_err_set(err, LAT_ENOMEM, "share: out of memory for the transfer matrix (d = %zu)", s->d);
	return LAT_OK;
}

lat_share *lat_share_alloc(const lat_lc_geom *g, const lat_share_opts *o, char *err)
{
	lat_share *s = NULL;
	size_t P, n_chan, kk, ld_d, ld_p, n_patch, n_stat, n_zsum, bytes;
	int status;

	if (!g || !o) {
		status = lat_err_set(err, LAT_EINVAL, "share: missing geometry or options");
		goto out;
	}
	status = check_geometry(g, err);
	if (!status)
		status = check_opts(o, err);
	if (status)
		goto out;
	s = calloc(1, sizeof *s);
	if (!s) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory");
		goto out;
	}
	s->g = *g;
	s->o = *o;
	P = iterative(o->mode) ? o->presentations : 1;
	if (lat_size_mul(g->h_out, g->w_out, &s->n_pos)) {
		status = lat_err_set(err, LAT_EINVAL, "share: layer too large");
		goto out;
	}
	if (g->q0 || g->q1) {
		if (g->q0 >= g->q1 || g->q1 > s->n_pos) {
			status = lat_err_set(err, LAT_EINVAL, "share: positions [%zu, %zu) are no part of the %zu outputs",
					     g->q0, g->q1, s->n_pos);
			goto out;
		}
		s->q0 = g->q0;
		s->n_own = g->q1 - g->q0;
	} else {
		s->n_own = s->n_pos;
	}
	s->parts = 1;
	/* every array below fits a size_t in bytes, and the BLAS takes int sizes and leading dimensions
	 * (n_own d, n_own P) */
	if (g->c_out > INT_MAX || lat_size_mul(g->k, g->k, &kk) || lat_size_mul(g->c_in, kk, &s->d) ||
	    lat_size_mul(g->c_out, s->n_own, &n_chan) || lat_size_mul(n_chan, s->d, &s->n_kernel) ||
	    lat_size_mul(n_chan, P, &s->n_zeta) || lat_size_mul(s->n_kernel, sizeof(double), &bytes) ||
	    lat_size_mul(s->n_zeta, sizeof(double), &bytes) || lat_size_mul(s->n_pos, s->d, &ld_d) ||
	    lat_size_mul(ld_d, sizeof(size_t), &bytes) || lat_size_mul(s->n_own, P, &ld_p) ||
	    lat_size_mul(P, s->d, &n_patch) || lat_size_mul(n_patch, sizeof(double), &bytes) ||
	    lat_size_mul(4 * g->c_out + 1, s->d, &n_stat) || lat_size_mul(n_stat, sizeof(double), &bytes) ||
	    lat_size_mul(g->c_out, kk, &n_zsum) || lat_size_mul(n_zsum, P, &n_zsum) ||
	    lat_size_mul(n_zsum, sizeof(double), &bytes) || ld_d > INT_MAX || ld_p > INT_MAX) {
		status = lat_err_set(err, LAT_EINVAL, "share: layer too large");
		goto out;
	}
	/* one iteration maps the deviations D to D (I - eta S), E S = I: the mean-square contraction
	 * (1 - eta)^2 + eta^2 (d + 1) / P is smallest at eta = P / (P + d + 1), so no step beyond it helps */
	s->eta_eff = fmin(o->eta, (double)o->presentations / ((double)o->presentations + (double)s->d + 1));
	status = build_pools(s, err);
	if (!status)
		status = build_groups(s, err);
	if (!status)
		status = lat_share_alloc_settles(s, err);
	if (status)
		goto out;
	s->wd = malloc((s->n_kernel ? s->n_kernel : 1) * sizeof *s->wd);
	s->w0 = malloc((s->n_kernel ? s->n_kernel : 1) * sizeof *s->w0);
	s->ystar = malloc((s->max_pool + 2) * sizeof *s->ystar);
	s->stat = malloc(n_stat * sizeof *s->stat);
	if (o->mode == LAT_SHARE_HEBBIAN)
		s->zsum = malloc(n_zsum * sizeof *s->zsum);
	if (!s->wd || !s->w0 || !s->ystar || !s->stat || (o->mode == LAT_SHARE_HEBBIAN && !s->zsum)) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the workspaces");
		goto out;
	}
	if (sampled(o->mode)) {
		s->r = lat_gsl_rng_alloc();
		s->grad = malloc(s->n_kernel * sizeof *s->grad);
		s->patch = malloc(P * s->d * sizeof *s->patch);
#ifdef _OPENMP
		s->n_thr = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
#else
		s->n_thr = 1;
#endif
		s->xpos = lat_size_mul(n_patch, (size_t)s->n_thr, &bytes) ? NULL : calloc(bytes, sizeof *s->xpos);
		s->zeta = malloc(s->n_zeta * sizeof *s->zeta);
		s->act = malloc(s->n_zeta * sizeof *s->act);
		if (!s->r || !s->grad || !s->patch || !s->xpos || !s->zeta || !s->act) {
			status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the workspaces");
			goto out;
		}
		gsl_rng_set(s->r, o->seed);
	}
	status = alloc_transfer(s, err);
out:
	if (status) {
		lat_share_free(s);
		s = NULL;
	}
	return s;
}

void lat_share_reseed(lat_share *s, unsigned long seed)
{
	if (s->r)
		gsl_rng_set(s->r, seed);
}

void lat_share_free(lat_share *s)
{
	if (!s)
		return;
	for (size_t gi = 0; s->groups && gi < s->n_groups; gi++) {
		lat_ode_free(s->groups[gi].ode);
		free(s->groups[gi].z);
		free(s->groups[gi].y);
	}
	free(s->groups);
	free(s->group_pools);
	gsl_rng_free(s->r);
	lat_transfer_free(s->tr);
	free(s->fmeans_out);
	free(s->fmeans);
	free(s->bj);
	free(s->cmeans);
	free(s->aj);
	free(s->rows_out);
	free(s->rows);
	free(s->maxv);
	free(s->zsum);
	free(s->stat);
	free(s->ystar);
	free(s->act);
	free(s->zeta);
	free(s->xpos);
	free(s->patch);
	free(s->grad);
	free(s->w0);
	free(s->wd);
	free(s->own_n);
	free(s->own_at);
	free(s->members);
	free(s->pool_start);
	free(s->src);
	free(s->active);
	free(s->border);
	free(s);
}

int lat_share_set_sum(lat_share *s, lat_share_sum_fn sum, void *ctx, int part, int parts, char *err)
{
	if (!sum || parts < 2 || part < 0 || part >= parts)
		return lat_err_set(err, LAT_EINVAL, "share: a sum over %d parts for part %d (need 0 <= part < parts, parts >= 2)",
				   parts, part);
	free(s->maxv);
	s->maxv = malloc((size_t)parts * sizeof *s->maxv);
	if (!s->maxv)
		return lat_err_set(err, LAT_ENOMEM, "share: out of memory");
	s->sum = sum;
	s->sum_ctx = ctx;
	s->part = part;
	s->parts = parts;
	return lat_share_alloc_settles(s, err); /* each part settles its share of the circuits */
}

size_t lat_share_n_pools(const lat_share *s)
{
	return s->n_pools;
}

const size_t *lat_share_pool(const lat_share *s, size_t j, size_t *n)
{
	*n = s->pool_start[j + 1] - s->pool_start[j];
	return s->members + s->pool_start[j];
}

int lat_share_is_border(const lat_share *s, size_t y, size_t x)
{
	return s->border[y * s->g.w_out + x];
}

void lat_share_input(const lat_share *s, const double *patch, size_t y, size_t x, double *xv)
{
	gather(s, patch, y * s->g.w_out + x, xv);
}

int lat_share_phase(lat_share *s, float *w, lat_share_stats *st, char *err)
{
	lat_share_stats sv = {.max_steady_error = NAN};
	lat_share_pools before, after;
	double t0 = now_seconds();
	size_t it;
	double big0, big;
	int bad = 0;
	int status = lat_share_check_sum(s, err);

	sv.n_pools = s->n_pools;
	sv.n_neurons = s->n_neurons;
	if (!status)
		status = lat_share_measure_buf(s, w, s->stat, &before, err);
	if (status)
		goto out;
	sv.snr_before = before.snr;
	sv.mos_before = before.mean_over_std;
	for (size_t i = 0; i < s->n_kernel; i++)
		s->wd[i] = w[i];
	memcpy(s->w0, s->wd, s->n_kernel * sizeof *s->wd);
	big0 = lat_share_max_abs(s, s->w0);
	if ((status = lat_share_max_parts(s, &big0, err)))
		goto out;
	if (s->o.mode == LAT_SHARE_CIRCUIT && !s->tr) /* the shortcut settles no circuit */
		sv.max_steady_error = 0;
	if (s->o.mode == LAT_SHARE_INSTANT && (status = lat_share_instant(s, err)))
		goto out;
	/* a shortcut does the whole phase at once: its one check covers every iteration */
	for (it = lat_share_shortcut(s) ? s->o.iterations - 1 : 0; iterative(s->o.mode) && it < s->o.iterations;
	     it++) {
		if ((status = lat_share_iterate(s, &sv, &bad, err)))
			goto out;
		big = bad ? NAN : lat_share_max_abs(s, s->wd);
		if ((status = lat_share_max_parts(s, &big, err))) /* every part decides alike */
			goto out;
		if (!isfinite(big) || big > LAT_SHARE_GROWTH_LIMIT * big0) {
			/* a shortcut computes every iteration at once: it can only say "within" them */
			char when[64];
			if (lat_share_shortcut(s))
				snprintf(when, sizeof when, "within the phase's %zu iterations", s->o.iterations);
			else
				snprintf(when, sizeof when, "at iteration %zu", it + 1);
			if (!isfinite(big))
				status = lat_err_set(err, LAT_EDIVERGE, "share: non-finite weights %s (eta_eff = %g too large?)",
						     when, s->eta_eff);
			else
				status = lat_err_set(err, LAT_EDIVERGE,
						     "share: the largest pooled weight grew from %g to %g %s, more than %g "
						     "times: the update diverges (eta_eff = %g too large)",
						     big0, big, when, LAT_SHARE_GROWTH_LIMIT, s->eta_eff);
			goto out;
		}
	}
	if ((status = lat_share_cos_mean(s, &sv.cos_mean, err)))
		goto out;
	/* write back the held pooled kernels only: excluded border kernels stay bit-identical */
	for (size_t a = s->a0; a < s->a1; a++)
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t off = (c * s->n_own + s->active[a] - s->q0) * s->d;
			for (size_t j = 0; j < s->d; j++)
				w[off + j] = (float)s->wd[off + j];
		}
	if ((status = lat_share_measure_buf(s, w, s->stat, &after, err)))
		goto out;
	sv.snr_after = after.snr;
	sv.mos_after = after.mean_over_std;
	sv.dev_ratio = sqrt(after.dev2 / before.dev2);
	sv.mean_ratio = sqrt(after.mean2 / before.mean2);
out:
	sv.seconds = now_seconds() - t0;
	if (st)
		*st = sv;
	return status;
}

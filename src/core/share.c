/* share.c: sharing phases of an lc layer's pools: w_i -= eta [ mean(act_i x_i) + gamma (w_i - w_i^init) ].
 *
 * Data flow of one iteration (hebbian and circuit modes), P = presentations:
 *   patches (P x d)  --gather per position-->  X_pos (P x d)          (tiled map seen by position pos)
 *   Z[c][pos][m]  = W[c][pos] . X_pos[m]          one dgemm per position over all channels
 *   act[c][pos][m] = r* - b of the pool circuit    (analytic steady state, or ODE-settled batch)
 *   G[c][pos]     = (1/P) sum_m act[c][pos][m] X_pos[m]   one dgemm per position
 *   W            -= eta_eff (G + gamma (W - W^init))
 * Neuron (c, pos) has index c n_pos + pos; Z and act are (c_out n_pos) x P row-major.
 * A phase whose pools hold interior neurons only (sharing.border = "exclude") takes a shortcut when its
 * circuit's steady state is known in closed form: hebbian, and circuit with the exact (or auto) method,
 * use transfer.h (the same draws, d x d matrices A and, for a finite alpha, B for the pool means, then
 * D <- D A_class and wbar <- wbar B_class with one sgemm each per residue class); expected applies its
 * scalar recursion to the deviations at once. */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cblas.h> /* declarations only: cblas_dgemm comes from OpenBLAS at link time */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "gslguard.h"
#include "lateral/circuit.h"
#include "lateral/err.h"
#include "lateral/metrics.h"
#include "lateral/rule.h"
#include "lateral/ode.h"
#include "lateral/share.h"
#include "size.h"
#include "transfer.h"

/* marks a receptive-field entry in the zero padding */
#define SRC_PAD SIZE_MAX

/* All pools of one size N: in circuit mode their K = n_pools * P circuits are one ODE system. */
typedef struct {
	size_t n;	/* members per pool */
	size_t n_pools; /* pools of this size */
	size_t *pools;	/* their indices (view into lat_share.group_pools) */
	size_t q_lo, q_hi; /* the pools [q_lo, q_hi) of the group this object settles (a part: its share) */
	lat_circuit c;	/* the options' circuit with n = N */
	lat_circuit_batch b; /* the circuits of pools [q_lo, q_hi) */
	lat_ode_system sys;
	lat_ode *ode;  /* circuit mode with an integrator, when q_lo < q_hi */
	double *z;     /* K x N drives (K = n_pools P, circuit k = pool * P + m), then the rates r - b */
	double *y;     /* (q_hi - q_lo) P x (N + 1) states of the circuits settled here */
} share_group;

struct lat_share {
	lat_lc_geom g;
	lat_share_opts o;
	size_t d;	 /* c_in k k */
	size_t n_pos;	 /* h_out w_out */
	size_t q0, n_own; /* the positions whose kernels it holds: [q0, q0 + n_own) (all unless a part) */
	size_t n_kernel; /* c_out n_own d */
	size_t n_zeta;	 /* c_out n_own P */
	double eta_eff;
	/* pools */
	size_t n_pools, n_neurons, max_pool;
	size_t *pool_start;    /* n_pools + 1 offsets into members */
	size_t *members;       /* n_neurons neuron indices */
	unsigned char *border; /* n_pos flags */
	size_t n_active;       /* positions whose neurons are pooled */
	size_t *active;	       /* their indices, ascending */
	size_t a0, a1;	       /* active[a0 .. a1): the pooled positions held */
	size_t *own_at, *own_n; /* per pool: where its held members start in its member list, and how many */
	/* a part: the sum over the processes that hold the layer's other parts (lat_share_set_sum) */
	lat_share_sum_fn sum;
	void *sum_ctx;
	int part, parts;
	double *maxv; /* parts: each part's largest weight, summed */
	size_t *src;	       /* n_pos x d: index into a patch, or SRC_PAD */
	/* circuit groups */
	size_t n_groups;
	share_group *groups;
	size_t *group_pools; /* n_pools pool indices, grouped */
	gsl_rng *r;
	/* the shortcuts of interior-only pools: transfer matrices (hebbian, circuit with exact steady
	 * states; NULL otherwise) and the expected mode's scalar recursion */
	int interior;		     /* every pooled neuron's receptive field lies inside the input */
	lat_transfer *tr;
	float *rows, *rows_out, *aj; /* c_out max_pool x d twice, d x d */
	float *bj, *fmeans, *fmeans_out; /* d x d, c_out x d twice (circuit: the means through B) */
	double *cmeans;		     /* c_out x d pool means of one residue class */
	/* workspaces */
	double *wd, *w0, *grad; /* n_kernel each */
	double *patch;		/* P x d */
	double *xpos;		/* n_thr x P x d: each thread's gathered patches */
	int n_thr;		/* threads the iterative path may use (OpenMP's maximum at alloc) */
	double *zeta, *act;	/* n_zeta each */
	double *ystar;		/* max_pool + 2 */
	double *stat;		/* (4 c_out + 1) d: one class's pool sums and moments, the channels', one kernel */
	double *zsum;		/* n_pools x P: the pools' summed drives (hebbian mode only) */
};

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

/* Each group's ODE engine for the circuits this object settles: all of them in a whole layer, the
 * part's share of each group's pools in a part (pools [part n / parts, (part + 1) n / parts)); the
 * drives of every circuit stay in gr->z. Frees what an earlier call made. */
static int alloc_settles(lat_share *s, char *err)
{
	size_t P = s->o.presentations;

	for (size_t gi = 0; gi < s->n_groups; gi++) {
		share_group *gr = s->groups + gi;
		size_t n = gr->n, n_c;
		lat_ode_free(gr->ode);
		gr->ode = NULL;
		free(gr->y);
		gr->y = NULL;
		if (!gr->z)
			continue;
		gr->q_lo = (size_t)s->part * gr->n_pools / (size_t)s->parts;
		gr->q_hi = (size_t)(s->part + 1) * gr->n_pools / (size_t)s->parts;
		if (gr->q_lo == gr->q_hi)
			continue;
		n_c = (gr->q_hi - gr->q_lo) * P; /* within the size checked for gr->z */
		gr->y = malloc(n_c * (n + 1) * sizeof *gr->y);
		if (!gr->y)
			return lat_err_set(err, LAT_ENOMEM, "share: out of memory for %zu circuits of %zu neurons", n_c, n);
		gr->b.c = &gr->c;
		gr->b.n_circuits = n_c;
		gr->b.z = gr->z + gr->q_lo * P * n;
		lat_circuit_batch_system(&gr->b, &gr->sys);
		gr->ode = lat_ode_alloc(&gr->sys, &s->o.ode, err);
		if (!gr->ode)
			return LAT_EINVAL; /* lat_ode_alloc reports bad options or memory in err */
	}
	return LAT_OK;
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
		status = alloc_settles(s, err);
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
	return alloc_settles(s, err); /* each part settles its share of the circuits */
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

/* receptive-field vector of position pos under one patch */
static void gather(const lat_share *s, const double *patch, size_t pos, double *xv)
{
	const size_t *src = s->src + pos * s->d;

	for (size_t j = 0; j < s->d; j++)
		xv[j] = src[j] == SRC_PAD ? 0.0 : patch[src[j]];
}

void lat_share_input(const lat_share *s, const double *patch, size_t y, size_t x, double *xv)
{
	gather(s, patch, y * s->g.w_out + x, xv);
}

static size_t pool_size(const lat_share *s, size_t p)
{
	return s->pool_start[p + 1] - s->pool_start[p];
}

/* The members of pool p whose kernels this object holds (*n of them). */
static const size_t *held(const lat_share *s, size_t p, size_t *n)
{
	*n = s->own_n[p];
	return s->members + s->pool_start[p] + s->own_at[p];
}

/* Where a held neuron (c, pos) sits among the held ones: its kernel starts at index d times this. */
static size_t at(const lat_share *s, size_t neuron)
{
	return (neuron / s->n_pos) * s->n_own + neuron % s->n_pos - s->q0;
}

static int holds(const lat_share *s, size_t neuron)
{
	return neuron % s->n_pos - s->q0 < s->n_own; /* wraps below q0 */
}

/* A part without the sum over the others would compute its pools' statistics from its members alone. */
static int check_sum(const lat_share *s, char *err)
{
	if (s->n_own < s->n_pos && !s->sum)
		return lat_err_set(err, LAT_EINVAL,
				   "share: positions [%zu, %zu) are a part of the layer, and its phases and statistics "
				   "need the sum over the other parts (lat_share_set_sum)",
				   s->q0, s->q0 + s->n_own);
	return LAT_OK;
}

/* v (n values) summed over the parts, in place; nothing to do in a whole layer. */
static int sum_parts(const lat_share *s, double *v, size_t n, char *err)
{
	if (s->parts > 1 && s->sum(s->sum_ctx, v, n))
		return lat_err_set(err, LAT_EIO, "share: the sum over the layer's %d parts failed", s->parts);
	return LAT_OK;
}

/* *x = the largest of every part's *x, NaN when one of them is NaN. */
static int max_parts(lat_share *s, double *x, char *err)
{
	double big = 0;
	int status;

	if (s->parts < 2)
		return LAT_OK;
	memset(s->maxv, 0, (size_t)s->parts * sizeof *s->maxv);
	s->maxv[s->part] = *x; /* the others add zeros: the sum is exact, NaN and inf included */
	status = sum_parts(s, s->maxv, (size_t)s->parts, err);
	for (int r = 0; r < s->parts; r++)
		if (!(s->maxv[r] <= big)) /* NaN-propagating max */
			big = isnan(big) ? big : s->maxv[r];
	*x = big;
	return status;
}

/* Residue classes: pool c n_cls + j is class j's pool in channel c, and every channel has the same
 * classes and holds the same positions of each; the pool statistics go class by class, so that no
 * buffer spans more than c_out pools. */
static size_t n_classes(const lat_share *s)
{
	return s->n_pools / s->g.c_out;
}

/* sums (c_out x d) = for each channel, the held members' kernels of its class-j pool summed in member
 * order (w double kernels, or float when wf is given; masked: entries in the padding count as 0) */
static void class_sums(const lat_share *s, const double *w, const float *wf, int masked, size_t j, double *sums)
{
	size_t d = s->d;

	memset(sums, 0, s->g.c_out * d * sizeof *sums);
	for (size_t c = 0; c < s->g.c_out; c++) {
		size_t n;
		const size_t *mem = held(s, c * n_classes(s) + j, &n);
		double *sc = sums + c * d;
		for (size_t i = 0; i < n; i++) {
			size_t off = at(s, mem[i]) * d;
			const size_t *src = s->src + (mem[i] % s->n_pos) * d;
			if (wf)
				for (size_t k = 0; k < d; k++)
					sc[k] += masked && src[k] == SRC_PAD ? 0 : (double)wf[off + k];
			else
				for (size_t k = 0; k < d; k++)
					sc[k] += masked && src[k] == SRC_PAD ? 0 : w[off + k];
		}
	}
}

/* sums (n_sets times c_out x d, class j's pools), summed over the parts, divided by the pools' sizes */
static int class_divide(const lat_share *s, size_t j, double *sums, size_t n_sets, char *err)
{
	size_t cd = s->g.c_out * s->d;
	int status = sum_parts(s, sums, n_sets * cd, err);

	for (size_t k = 0; k < n_sets * cd; k++)
		sums[k] /= (double)pool_size(s, (k % cd) / s->d * n_classes(s) + j);
	return status;
}

/* means (c_out x d) = the mean kernels of class j's pools, over every part */
static int class_means(const lat_share *s, const double *w, int masked, size_t j, double *means, char *err)
{
	class_sums(s, w, NULL, masked, j, means);
	return class_divide(s, j, means, 1, err);
}

/* Pool and channel statistics of the float kernels w (the held ones), with buf (4 c_out d) as scratch;
 * in a part, a collective call. Two passes (means, then squared deviations), each summed over the
 * parts: the deviations are tiny next to the mean once a pool has converged. */
static int measure(const lat_share *s, const float *w, double *buf, lat_share_pools *r, char *err)
{
	size_t d = s->d, C = s->g.c_out, n_in = 0, pos;
	double *m = buf, *v = m + C * d, *cm = v + C * d, *cv = cm + C * d;
	double snr = 0, mos = 0, channel = 0;
	int status = LAT_OK;

	r->n_pools = 0;
	r->dev2 = r->mean2 = 0;
	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		class_sums(s, NULL, w, 0, j, m);
		status = class_divide(s, j, m, 1, err);
		memset(v, 0, C * d * sizeof *v);
		for (size_t c = 0; c < C; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			for (size_t i = 0; i < n; i++) {
				const float *wi = w + at(s, mem[i]) * d;
				for (size_t k = 0; k < d; k++) {
					double e = wi[k] - m[c * d + k];
					v[c * d + k] += e * e;
				}
			}
		}
		if (!status)
			status = sum_parts(s, v, C * d, err);
		for (size_t c = 0; c < C; c++) {
			size_t n = pool_size(s, c * n_classes(s) + j);
			double ps = 0, pm = 0;
			if (n < 2)
				continue;
			for (size_t k = 0; k < d; k++) {
				double mk = m[c * d + k], vk = v[c * d + k] / (double)n;
				ps += vk > 0 ? mk * mk / vk : (mk != 0 ? INFINITY : 0);
				pm += vk > 0 ? fabs(mk) / sqrt(vk) : (mk != 0 ? INFINITY : 0);
				r->dev2 += v[c * d + k];
				r->mean2 += mk * mk;
			}
			snr += ps / (double)d;
			mos += pm / (double)d;
			r->n_pools++;
		}
	}
	/* snr_channel: per channel and tap over the interior positions, the same two passes */
	for (pos = 0; pos < s->n_pos; pos++)
		n_in += !s->border[pos];
	memset(cm, 0, 2 * C * d * sizeof *cm);
	for (int pass = 0; pass < 2 && !status; pass++) {
		double *sum = pass ? cv : cm;
		for (size_t c = 0; c < C; c++)
			for (pos = s->q0; pos < s->q0 + s->n_own; pos++) {
				const float *wi = w + (c * s->n_own + pos - s->q0) * d;
				if (s->border[pos])
					continue;
				for (size_t k = 0; k < d; k++) {
					double e = pass ? wi[k] - cm[c * d + k] : wi[k];
					sum[c * d + k] += pass ? e * e : e;
				}
			}
		status = sum_parts(s, sum, C * d, err);
		for (size_t k = 0; !pass && n_in && k < C * d; k++)
			cm[k] /= (double)n_in;
	}
	if (status)
		return status;
	for (size_t k = 0; k < C * d; k++) {
		double vk = n_in > 1 ? cv[k] / (double)(n_in - 1) : 0;
		channel += vk > 0 ? fabs(cm[k]) / sqrt(vk) : (cm[k] != 0 ? INFINITY : 0);
	}
	r->snr = r->n_pools ? snr / (double)r->n_pools : NAN;
	r->snr_channel = n_in < 2 ? NAN : channel / (double)(C * d);
	r->inv_snr = 1.0 / r->snr;
	r->mean_over_std = r->n_pools ? mos / (double)r->n_pools : NAN;
	return LAT_OK;
}

/* The doubles measure needs as scratch. */
static size_t measure_doubles(const lat_share *s)
{
	return 4 * s->g.c_out * s->d;
}

int lat_share_measure(const lat_share *s, const float *w, lat_share_pools *r, char *err)
{
	double *buf = NULL;
	int status = check_sum(s, err);

	if (status)
		goto out;
	buf = malloc(measure_doubles(s) * sizeof *buf);
	if (s->parts > 1) { /* all parts go on to the sums, or none */
		double short_of = !buf;
		status = sum_parts(s, &short_of, 1, err);
		if (!status && short_of && (status = LAT_ENOMEM))
			lat_err_set(err, status, "share: out of memory for the pool statistics (on %g of the %d parts)",
				    short_of, s->parts);
	} else if (!buf) {
		status = lat_err_set(err, LAT_ENOMEM, "share: out of memory for the pool statistics");
	}
	if (!status)
		status = measure(s, w, buf, r, err);
out:
	free(buf);
	return status;
}

double lat_share_snr(const lat_share *s, const float *w)
{
	lat_share_pools r;

	if (lat_share_measure(s, w, &r, NULL))
		return NAN;
	return r.snr;
}

/* every held member's kernel becomes its pool's mean */
static int share_instant(lat_share *s, char *err)
{
	int status = LAT_OK;

	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		status = class_means(s, s->wd, 0, j, s->stat, err);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			for (size_t i = 0; i < n; i++)
				memcpy(s->wd + at(s, mem[i]) * s->d, s->stat + c * s->d, s->d * sizeof *s->stat);
		}
	}
	return status;
}

/* The calling thread's P x d gather buffer. */
static double *thread_xpos(const lat_share *s)
{
#ifdef _OPENMP
	return s->xpos + (size_t)omp_get_thread_num() * s->o.presentations * s->d;
#else
	return s->xpos;
#endif
}

/* zeta = W X_pos^T for every held pooled position (after drawing the patches into s->patch); positions
 * are independent (each writes its own columns of zeta), so threads split them without changing a bit */
static void drives(lat_share *s)
{
	int P = (int)s->o.presentations, d = (int)s->d, n_own = (int)s->n_own;

#pragma omp parallel for schedule(dynamic) num_threads(s->n_thr)
	for (size_t a = s->a0; a < s->a1; a++) {
		size_t pos = s->active[a], q = pos - s->q0;
		double *xpos = thread_xpos(s);
		for (int m = 0; m < P; m++)
			gather(s, s->patch + (size_t)m * s->d, pos, xpos + (size_t)m * s->d);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->g.c_out, P, d, 1.0, s->wd + q * s->d,
			    n_own * d, xpos, d, 0.0, s->zeta + q * (size_t)P, n_own * P);
	}
}

/* grad = (1/P) act X_pos, then the rule's step for every held pooled kernel (docs/science.md section 6);
 * nonzero when a weight became non-finite. Positions are independent, as in drives. */
static int update(lat_share *s)
{
	int P = (int)s->o.presentations, d = (int)s->d, n_own = (int)s->n_own, bad = 0;
	double eta = s->eta_eff, gamma = s->o.gamma;

#pragma omp parallel for schedule(dynamic) num_threads(s->n_thr) reduction(| : bad)
	for (size_t a = s->a0; a < s->a1; a++) {
		size_t pos = s->active[a], q = pos - s->q0;
		double *xpos = thread_xpos(s);
		for (int m = 0; m < P; m++)
			gather(s, s->patch + (size_t)m * s->d, pos, xpos + (size_t)m * s->d);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->g.c_out, d, P, 1.0 / P,
			    s->act + q * (size_t)P, n_own * P, xpos, d, 0.0, s->grad + q * s->d, n_own * d);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t off = (c * s->n_own + q) * s->d;
			bad |= lat_rule_step_row(s->d, s->wd + off, s->wd + off, s->w0 + off, NULL, s->grad + off, 1.0,
						 0, eta, gamma);
		}
	}
	return bad;
}

/* act = z_i - zbar, the circuit's r* - b at alpha = infinity (the paper's idealised phase), pool by pool
 * and presentation by presentation; zbar sums the held members' drives in member order, then the parts */
static int act_hebbian(lat_share *s, char *err)
{
	size_t P = s->o.presentations;
	int status;

	memset(s->zsum, 0, s->n_pools * P * sizeof *s->zsum);
	for (size_t p = 0; p < s->n_pools; p++) {
		size_t n;
		const size_t *mem = held(s, p, &n);
		for (size_t i = 0; i < n; i++)
			for (size_t m = 0; m < P; m++)
				s->zsum[p * P + m] += s->zeta[at(s, mem[i]) * P + m];
	}
	status = sum_parts(s, s->zsum, s->n_pools * P, err);
	for (size_t p = 0; !status && p < s->n_pools; p++) {
		size_t n;
		const size_t *mem = held(s, p, &n);
		for (size_t m = 0; m < P; m++) {
			double zbar = s->zsum[p * P + m] / (double)pool_size(s, p);
			for (size_t i = 0; i < n; i++)
				s->act[at(s, mem[i]) * P + m] = s->zeta[at(s, mem[i]) * P + m] - zbar;
		}
	}
	return status;
}

/* One iteration of the hebbian phase in expectation over the noise (E x x^T = I): with M_i the mask of
 * neuron i's receptive field (0 on the padding), its step is
 *   w_i -= eta [ M_i (M_i w_i - (1/n) sum_j M_j w_j) + gamma (w_i - w_i^start) ].
 * *bad nonzero when a weight became non-finite. */
static int update_expected(lat_share *s, int *bad, char *err)
{
	size_t d = s->d;
	double *g = s->stat + s->g.c_out * d;
	int status = LAT_OK;

	/* every g_i uses the pool's mean before the step: the members update simultaneously (a class's
	 * means depend on its own members alone) */
	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		status = class_means(s, s->wd, 1, j, s->stat, err);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			const double *mbar = s->stat + c * d;
			for (size_t i = 0; i < n; i++) {
				const size_t *src = s->src + (mem[i] % s->n_pos) * d;
				double *wi = s->wd + at(s, mem[i]) * d;
				for (size_t k = 0; k < d; k++)
					g[k] = src[k] == SRC_PAD ? 0 : wi[k] - mbar[k];
				*bad |= lat_rule_step_row(d, wi, wi, s->w0 + at(s, mem[i]) * d, NULL, g, 1.0, 0,
							  s->eta_eff, s->o.gamma);
			}
		}
	}
	return status;
}

/* The parts' settles of one group, settled together: *status (the part's own, or the failing part's
 * code with a message that says so), the solver counters summed and the steady-state error, the largest
 * part's. Nothing to combine in a whole layer. */
static int settle_agree(lat_share *s, int *status, lat_ode_stats *os, double *e, char *err)
{
	double v[3] = {(double)os->steps, (double)os->rhs_evals, *status != 0};
	int rc = sum_parts(s, v, 3, err);

	if (rc || s->parts < 2)
		return rc;
	os->steps = (long)v[0];
	os->rhs_evals = (long)v[1];
	if (v[2] > 0) { /* every part takes part in finding the first failing part's code */
		int code = LAT_ESOLVER;
		memset(s->maxv, 0, (size_t)s->parts * sizeof *s->maxv);
		s->maxv[s->part] = *status;
		if ((rc = sum_parts(s, s->maxv, (size_t)s->parts, err)))
			return rc;
		for (int r = s->parts - 1; r >= 0; r--)
			code = s->maxv[r] != 0 ? (int)s->maxv[r] : code;
		if (!*status)
			*status = lat_err_set(err, code, "share: a circuit batch did not settle on another part of the "
							 "layer (its message says why)");
		return LAT_OK;
	}
	return max_parts(s, e, err);
}

/* act = r - b from one settle per group of every pool's circuit times every presentation; the first
 * pool of each group is checked against the analytic steady state. A part sums the drives of its
 * members into every group's batch (the others' are zero there, so the sum is exact), settles its share
 * of the group's pools (alloc_settles), and the rates are summed back the same way, so each part holds
 * every rate and keeps its members'. */
static int act_circuit(lat_share *s, lat_share_stats *st, char *err)
{
	size_t P = s->o.presentations;
	int status = LAT_OK;

	for (size_t gi = 0; gi < s->n_groups && !status; gi++) {
		share_group *gr = s->groups + gi;
		size_t n = gr->n, dim = n + 1, K = gr->n_pools * P, k0 = gr->q_lo * P, n_c = (gr->q_hi - gr->q_lo) * P;
		lat_ode_stats os = {0};
		double e = -1; /* no circuit checked here */
		int rc;
		for (size_t q = 0; q < gr->n_pools; q++) {
			const size_t *mem = s->members + s->pool_start[gr->pools[q]];
			for (size_t m = 0; m < P; m++)
				for (size_t i = 0; i < n; i++)
					gr->z[(q * P + m) * n + i] = holds(s, mem[i]) ? s->zeta[at(s, mem[i]) * P + m] : 0;
		}
		if ((status = sum_parts(s, gr->z, K * n, err)))
			break;
		for (size_t kc = 0; kc < n_c; kc++) { /* at rest: r = b, r_inh = 0 */
			for (size_t i = 0; i < n; i++)
				gr->y[kc * dim + i] = gr->c.bias;
			gr->y[kc * dim + n] = 0;
		}
		if (n_c)
			status = lat_ode_settle(gr->ode, gr->y, &os, err);
		st->circuits += n_c;
		/* the group's first pool, settled by the part that holds pool 0 */
		for (size_t m = 0; m < P && !status && gr->q_lo == 0 && n_c; m++) {
			status = lat_circuit_steady(&gr->c, gr->z + m * n, s->ystar, err);
			for (size_t i = 0; i < dim && !status; i++) {
				double d = fabs(gr->y[m * dim + i] - s->ystar[i]);
				if (!(d <= e)) /* NaN-propagating max */
					e = d;
			}
		}
		if ((rc = settle_agree(s, &status, &os, &e, err)))
			return rc;
		st->ode_steps += os.steps;
		st->rhs_evals += os.rhs_evals;
		if (status)
			break;
		if (e >= 0 || isnan(e))
			st->max_steady_error = isnan(e) || !(e <= st->max_steady_error) ? e : st->max_steady_error;
		/* the rates, summed over the parts like the drives */
		memset(gr->z, 0, K * n * sizeof *gr->z);
		for (size_t kc = 0; kc < n_c; kc++)
			for (size_t i = 0; i < n; i++)
				gr->z[(k0 + kc) * n + i] = gr->y[kc * dim + i] - gr->c.bias;
		if ((status = sum_parts(s, gr->z, K * n, err)))
			break;
		for (size_t q = 0; q < gr->n_pools; q++) {
			const size_t *mem = s->members + s->pool_start[gr->pools[q]];
			for (size_t m = 0; m < P; m++)
				for (size_t i = 0; i < n; i++)
					if (holds(s, mem[i]))
						s->act[at(s, mem[i]) * P + m] = gr->z[(q * P + m) * n + i];
		}
	}
	return status;
}

/* m (d x d floats): rows [i0, i1) this part's, the others' summed in, through s->stat in blocks of
 * rows (the other parts' rows are zero in each part's block, so the sum is exact); nothing to do in a
 * whole layer. */
static int gather_rows(lat_share *s, float *m, size_t i0, size_t i1, char *err)
{
	size_t d = s->d, block = 4 * s->g.c_out + 1; /* rows s->stat holds */
	int status = LAT_OK;

	for (size_t r0 = 0; s->parts > 1 && r0 < d && !status; r0 += block) {
		size_t r1 = r0 + block < d ? r0 + block : d;
		memset(s->stat, 0, (r1 - r0) * d * sizeof *s->stat);
		for (size_t k = (i0 > r0 ? i0 : r0) * d; k < (i1 < r1 ? i1 : r1) * d; k++)
			s->stat[k - r0 * d] = m[k];
		status = sum_parts(s, s->stat, (r1 - r0) * d, err);
		for (size_t k = r0 * d; k < r1 * d; k++)
			m[k] = (float)s->stat[k - r0 * d];
	}
	return status;
}

/* The phase by its transfer matrices (transfer.h; all pooled neurons are interior): per residue class,
 * the deviations of every channel's pool from its mean go through A_class[u][v] = A[src u][src v] in one
 * sgemm (src, the class's receptive-field map, is a permutation of the patch), and in circuit mode the
 * means through B_class likewise (hebbian keeps them). *bad nonzero when A or B is not finite. A part
 * builds its block of rows of A and B (rows evolve independently; every part draws the same patches),
 * the blocks are put together, and it transforms its held members; the pool means are summed over the
 * parts. */
static int share_transfer(lat_share *s, int *bad, char *err)
{
	size_t d = s->d, C = s->g.c_out, n_cls = s->n_pools / C;
	double a_circ = s->o.circuit.alpha / (1.0 + s->o.circuit.alpha);
	size_t i0 = (size_t)s->part * d / (size_t)s->parts, i1 = (size_t)(s->part + 1) * d / (size_t)s->parts;
	float *a, *b;
	int status;

	/* a part builds its rows of A (and B), and the parts' rows are put together */
	*bad = lat_transfer_build(s->tr, s->r, s->o.iterations, s->eta_eff, s->o.gamma, 1.0 - a_circ, i0, i1, &a, &b);
	if ((status = gather_rows(s, a, i0, i1, err)) || (b && (status = gather_rows(s, b, i0, i1, err))))
		return status;
	if (s->parts > 1) /* every part checks the whole matrices: all decide alike */
		*bad = !lat_transfer_finite(a, d * d) || (b && !lat_transfer_finite(b, d * d));
	if (*bad)
		return LAT_OK;
	for (size_t j = 0; j < n_cls; j++) {
		size_t n = s->own_n[j], rows = C * n; /* every channel holds the same positions */
		const size_t *src = s->src + (s->members[s->pool_start[j]] % s->n_pos) * d;
		if ((status = class_means(s, s->wd, 0, j, s->cmeans, err)))
			return status;
		if (!n)
			continue;
		for (size_t u = 0; u < d; u++)
			for (size_t v = 0; v < d; v++)
				s->aj[u * d + v] = a[src[u] * d + src[v]];
		if (b)
			for (size_t u = 0; u < d; u++)
				for (size_t v = 0; v < d; v++)
					s->bj[u * d + v] = b[src[u] * d + src[v]];
		for (size_t c = 0; c < C; c++) {
			const size_t *mem = held(s, c * n_cls + j, &n);
			const double *mean = s->cmeans + c * d;
			for (size_t i = 0; i < n; i++)
				for (size_t v = 0; v < d; v++)
					s->rows[(c * n + i) * d + v] = (float)(s->wd[at(s, mem[i]) * d + v] - mean[v]);
			if (b)
				for (size_t v = 0; v < d; v++)
					s->fmeans[c * d + v] = (float)mean[v];
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d, (int)d, 1.0f, s->rows,
			    (int)d, s->aj, (int)d, 0.0f, s->rows_out, (int)d);
		if (b) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)C, (int)d, (int)d, 1.0f, s->fmeans,
				    (int)d, s->bj, (int)d, 0.0f, s->fmeans_out, (int)d);
			for (size_t k = 0; k < C * d; k++)
				s->cmeans[k] = s->fmeans_out[k];
		}
		for (size_t c = 0; c < C; c++) {
			const size_t *mem = held(s, c * n_cls + j, &n);
			const double *mean = s->cmeans + c * d;
			for (size_t i = 0; i < n; i++)
				for (size_t v = 0; v < d; v++)
					s->wd[at(s, mem[i]) * d + v] = mean[v] + s->rows_out[(c * n + i) * d + v];
		}
	}
	return status;
}

/* The expected phase of interior-only pools at once: with E S = I every iteration maps each deviation
 * from the pool mean to (1 - eta - eta gamma) D + eta gamma D_0 and keeps the mean, so after T
 * iterations D = f_T D_0 with f_0 = 1, f_{t+1} = (1 - eta - eta gamma) f_t + eta gamma. *bad nonzero when
 * a weight became non-finite. */
static int share_expected_interior(lat_share *s, int *bad, char *err)
{
	double f = 1, eta = s->eta_eff, gamma = s->o.gamma;
	size_t d = s->d;
	int status = LAT_OK;

	for (size_t it = 0; it < s->o.iterations; it++)
		f = (1 - eta - eta * gamma) * f + eta * gamma;
	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		status = class_means(s, s->wd, 0, j, s->stat, err);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			const double *mean = s->stat + c * d;
			for (size_t i = 0; i < n; i++) {
				double *wi = s->wd + at(s, mem[i]) * d;
				for (size_t k = 0; k < d; k++) {
					wi[k] = mean[k] + f * (wi[k] - mean[k]);
					*bad |= !isfinite(wi[k]);
				}
			}
		}
	}
	return status;
}

/* max |w| over the held pooled kernels; NaN or inf when one of them is not finite */
static double max_abs(const lat_share *s, const double *w)
{
	double big = 0;

	for (size_t a = s->a0; a < s->a1; a++)
		for (size_t c = 0; c < s->g.c_out; c++) {
			const double *k = w + (c * s->n_own + s->active[a] - s->q0) * s->d;
			for (size_t j = 0; j < s->d; j++)
				if (!(fabs(k[j]) <= big)) /* NaN-propagating max */
					big = isnan(big) ? big : fabs(k[j]);
		}
	return big;
}

/* *cos = the mean over pools of cos(wbar of wd, wbar of w0) */
static int cos_mean(lat_share *s, double *cos, char *err)
{
	size_t d = s->d, C = s->g.c_out, n = 0;
	double *m = s->stat, *m0 = s->stat + C * d, sum = 0;
	int status = LAT_OK;

	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		class_sums(s, s->wd, NULL, 0, j, m);
		class_sums(s, s->w0, NULL, 0, j, m0);
		status = class_divide(s, j, m, 2, err);
		for (size_t c = 0; c < C; c++) {
			double dot = 0, a = 0, b = 0;
			for (size_t k = 0; k < d; k++) {
				dot += m[c * d + k] * m0[c * d + k];
				a += m[c * d + k] * m[c * d + k];
				b += m0[c * d + k] * m0[c * d + k];
			}
			if (a > 0 && b > 0) {
				sum += dot / sqrt(a * b);
				n++;
			}
		}
	}
	*cos = n ? sum / (double)n : NAN;
	return status;
}

/* 1 when the expected phase is its scalar recursion (interior pools, not told to iterate) */
static int expected_at_once(const lat_share *s)
{
	return s->o.mode == LAT_SHARE_EXPECTED && s->interior && !s->o.iterate;
}

/* 1 when the phase is done in one go (transfer matrices, or the expected mode's recursion) */
static int shortcut(const lat_share *s)
{
	return s->tr || expected_at_once(s);
}

/* One iteration of an iterative mode (or the whole phase by a shortcut); *bad as update's. */
static int iterate(lat_share *s, lat_share_stats *sv, int *bad, char *err)
{
	int status;

	if (s->tr)
		return share_transfer(s, bad, err);
	if (expected_at_once(s))
		return share_expected_interior(s, bad, err);
	if (s->o.mode == LAT_SHARE_EXPECTED)
		return update_expected(s, bad, err);
	for (size_t i = 0; i < s->o.presentations * s->d; i++)
		s->patch[i] = gsl_ran_gaussian_ziggurat(s->r, 1.0);
	drives(s);
	status = s->o.mode == LAT_SHARE_HEBBIAN ? act_hebbian(s, err) : act_circuit(s, sv, err);
	if (!status)
		*bad = update(s);
	return status;
}

int lat_share_phase(lat_share *s, float *w, lat_share_stats *st, char *err)
{
	lat_share_stats sv = {.max_steady_error = NAN};
	lat_share_pools before, after;
	double t0 = now_seconds();
	size_t it;
	double big0, big;
	int bad = 0;
	int status = check_sum(s, err);

	sv.n_pools = s->n_pools;
	sv.n_neurons = s->n_neurons;
	if (!status)
		status = measure(s, w, s->stat, &before, err);
	if (status)
		goto out;
	sv.snr_before = before.snr;
	sv.mos_before = before.mean_over_std;
	for (size_t i = 0; i < s->n_kernel; i++)
		s->wd[i] = w[i];
	memcpy(s->w0, s->wd, s->n_kernel * sizeof *s->wd);
	big0 = max_abs(s, s->w0);
	if ((status = max_parts(s, &big0, err)))
		goto out;
	if (s->o.mode == LAT_SHARE_CIRCUIT && !s->tr) /* the shortcut settles no circuit */
		sv.max_steady_error = 0;
	if (s->o.mode == LAT_SHARE_INSTANT && (status = share_instant(s, err)))
		goto out;
	/* a shortcut does the whole phase at once: its one check covers every iteration */
	for (it = shortcut(s) ? s->o.iterations - 1 : 0; iterative(s->o.mode) && it < s->o.iterations; it++) {
		if ((status = iterate(s, &sv, &bad, err)))
			goto out;
		big = bad ? NAN : max_abs(s, s->wd);
		if ((status = max_parts(s, &big, err))) /* every part decides alike */
			goto out;
		if (!isfinite(big) || big > LAT_SHARE_GROWTH_LIMIT * big0) {
			/* a shortcut computes every iteration at once: it can only say "within" them */
			char when[64];
			if (shortcut(s))
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
	if ((status = cos_mean(s, &sv.cos_mean, err)))
		goto out;
	/* write back the held pooled kernels only: excluded border kernels stay bit-identical */
	for (size_t a = s->a0; a < s->a1; a++)
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t off = (c * s->n_own + s->active[a] - s->q0) * s->d;
			for (size_t j = 0; j < s->d; j++)
				w[off + j] = (float)s->wd[off + j];
		}
	if ((status = measure(s, w, s->stat, &after, err)))
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

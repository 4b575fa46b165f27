/* share_impl.h: what the sharing phases' files share (share.c: setup and the phase driver; share_stats.c:
 * the pool statistics; share_modes.c: the phase's modes). Internal: not installed.
 * A phase of an lc layer's pools: w_i -= eta [ mean(act_i x_i) + gamma (w_i - w_i^init) ].
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
#ifndef LATERAL_SHARE_IMPL_H
#define LATERAL_SHARE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "lateral/circuit.h"
#include "lateral/ode.h"
#include "lateral/share.h"
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

/* receptive-field vector of position pos under one patch */
static inline void gather(const lat_share *s, const double *patch, size_t pos, double *xv)
{
	const size_t *src = s->src + pos * s->d;

	for (size_t j = 0; j < s->d; j++)
		xv[j] = src[j] == SRC_PAD ? 0.0 : patch[src[j]];
}

static inline size_t pool_size(const lat_share *s, size_t p)
{
	return s->pool_start[p + 1] - s->pool_start[p];
}

/* The members of pool p whose kernels this object holds (*n of them). */
static inline const size_t *held(const lat_share *s, size_t p, size_t *n)
{
	*n = s->own_n[p];
	return s->members + s->pool_start[p] + s->own_at[p];
}

/* Where a held neuron (c, pos) sits among the held ones: its kernel starts at index d times this. */
static inline size_t at(const lat_share *s, size_t neuron)
{
	return (neuron / s->n_pos) * s->n_own + neuron % s->n_pos - s->q0;
}

static inline int holds(const lat_share *s, size_t neuron)
{
	return neuron % s->n_pos - s->q0 < s->n_own; /* wraps below q0 */
}

/* Residue classes: pool c n_cls + j is class j's pool in channel c, and every channel has the same
 * classes and holds the same positions of each; the pool statistics go class by class, so that no
 * buffer spans more than c_out pools. */
static inline size_t n_classes(const lat_share *s)
{
	return s->n_pools / s->g.c_out;
}

/* share_stats.c */

/* LAT_OK, or LAT_EINVAL (err set) when s is a part of a layer that has no lat_share_set_sum. */
int lat_share_check_sum(const lat_share *s, char *err);
/* Sums v (n values, borrowed) over the parts in place; LAT_OK, or LAT_EIO (err set). */
int lat_share_sum_parts(const lat_share *s, double *v, size_t n, char *err);
/* *x = the largest of the parts' *x (NaN-propagating, s->maxv as scratch); as lat_share_sum_parts. */
int lat_share_max_parts(lat_share *s, double *x, char *err);
/* means (c_out x d) = class j's pool means of the kernels w (borrowed); as lat_share_sum_parts. */
int lat_share_class_means(const lat_share *s, const double *w, int masked, size_t j, double *means,
			  char *err);
/* *r = the pool statistics of the float kernels w (borrowed), buf (4 c_out d) scratch; as sum_parts. */
int lat_share_measure_buf(const lat_share *s, const float *w, double *buf, lat_share_pools *r, char *err);
/* The largest |w| over the held pooled kernels of w (borrowed); NaN or inf when one is not finite. */
double lat_share_max_abs(const lat_share *s, const double *w);
/* *cos = the pools' mean cos(wbar of s->wd, wbar of s->w0), s->stat as scratch; as lat_share_sum_parts. */
int lat_share_cos_mean(lat_share *s, double *cos, char *err);

/* share_modes.c */

/* The instant mode on s->wd: every held kernel becomes its pool's mean; as lat_share_sum_parts. */
int lat_share_instant(lat_share *s, char *err);
/* (Re)makes the groups' ODE engines for the circuits s settles; LAT_OK, or LAT_ENOMEM / LAT_EINVAL. */
int lat_share_alloc_settles(lat_share *s, char *err);
/* 1 when the phase is done in one go (transfer matrices, or the expected mode's recursion), else 0. */
int lat_share_shortcut(const lat_share *s);
/* One iteration on s->wd (or a shortcut's whole phase); *bad nonzero on non-finite weights; LAT_OK or err. */
int lat_share_iterate(lat_share *s, lat_share_stats *sv, int *bad, char *err);

#endif

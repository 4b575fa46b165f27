/* share.h: dynamic weight sharing in an lc layer: pools, noise phases and the anti-Hebbian rule.
 *
 * Pools (docs/science.md section 6). For an lc layer with kernel k, stride s and padding pad, output position
 * (y, x) of channel c belongs to pool (c, p, q) with p = (y s) mod k and q = (x s) mod k: when the input
 * map is one k x k x c_in noise patch P tiled periodically, its receptive field holds
 *   x[ci][u][v] = P[ci][(y s - pad + u) mod k][(x s - pad + v) mod k],
 * which depends on (y, x) only through (p, q). So every interior member of a pool sees the same vector,
 * the patch cyclically shifted by ((p - pad) mod k, (q - pad) mod k), and pools differ only by that shift.
 * A neuron is a border neuron when its receptive field overlaps the zero padding; it then sees the
 * tiled pattern with the out-of-map entries zeroed. lat_border says what happens to it:
 *   LAT_BORDER_EXCLUDE  border neurons belong to no pool; a phase leaves their weights untouched;
 *   LAT_BORDER_INCLUDE  they join their pool (c, p, q) with their own truncated input vector.
 * Residue classes no position falls in (when gcd(s, k) > 1, or on maps too small) are not pools. A 1x1
 * layer has one pool per channel: the whole map. d = c_in k k inputs per neuron.
 *
 * Modes (a phase changes kernels only, never biases; docs/science.md section 6):
 *   none      nothing;
 *   instant   every member's kernel becomes the pool mean (the alpha -> inf, gamma -> 0 limit);
 *   hebbian   the paper's idealised sleep phase: `iterations` updates, each averaged over a batch of
 *             `presentations` noise patches,
 *               z_i = w_i . x_i,  act_i = z_i - zbar  (the circuit's r_i* - b at alpha = infinity),
 *               w_i -= eta_eff [ mean_batch(act_i x_i) + gamma (w_i - w_i^start) ],
 *             w^start the kernels when the phase began, zbar the pool mean of z;
 *   circuit   the same rule with act_i = r_i - b read from every pool's rate circuit with a finite
 *             alpha, settled by the ODE engine (started at rest, r = b, r_inh = 0, per presentation);
 *   expected  the hebbian phase in expectation over the noise (E x x^T = I), deterministic:
 *               w_i -= eta_eff [ M_i (M_i w_i - (1/n) sum_j M_j w_j) + gamma (w_i - w_i^start) ],
 *             M_i the mask of neuron i's receptive field (0 on the padding).
 * eta_eff = min(eta, P / (P + d + 1)): one iteration maps a pool's deviations D to D (I - eta S) (plus
 * the gamma term) with S = (1/P) sum_m x_m x_m^T and E S = I, so the mean-square contraction per
 * iteration is (1 - eta)^2 + eta^2 (d + 1) / P, smallest at eta = P / (P + d + 1); a larger step is never
 * faster and soon unstable. The paper's eta = 0.1 with P = 128 is below the bound for d <= 1151. Noise
 * patches have i.i.d. N(0, 1) entries from an mt19937 generator owned by the object and seeded from the
 * options; successive phases continue its stream. */
#ifndef LATERAL_SHARE_H
#define LATERAL_SHARE_H

#include <stddef.h>

#include "lateral/circuit.h"
#include "lateral/layer.h"
#include "lateral/ode.h"

/* Thread safety: lat_share_measure may run concurrently on one whole layer's object; a phase needs the
 * object to itself. */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LAT_SHARE_NONE, LAT_SHARE_INSTANT, LAT_SHARE_HEBBIAN, LAT_SHARE_CIRCUIT, LAT_SHARE_EXPECTED } lat_share_mode;
typedef enum { LAT_BORDER_EXCLUDE, LAT_BORDER_INCLUDE } lat_border;
/* The names in enum order, NULL-terminated: "none", "instant", "hebbian", "circuit", "expected";
 * "exclude", "include". */
extern const char *const lat_share_mode_names[], *const lat_border_names[];

/* "none", "instant", "hebbian", "circuit", "expected"; LAT_EINVAL (m untouched) for anything else or NULL. */
int lat_share_mode_parse(const char *s, lat_share_mode *m);
/* Static string; "unknown" for a value outside the enum. */
const char *lat_share_mode_name(lat_share_mode m);
/* "exclude", "include"; LAT_EINVAL (b untouched) for anything else or NULL. */
int lat_border_parse(const char *s, lat_border *b);
const char *lat_border_name(lat_border b);

typedef struct {
	lat_share_mode mode;
	lat_border border;
	size_t presentations, iterations; /* per phase (>= 1) in the hebbian, circuit and expected modes */
	double eta;			  /* learning rate (finite, > 0); the step is eta_eff (above) */
	double gamma;			  /* pull towards w^start (finite, >= 0) */
	lat_circuit circuit; /* tau, tau_inh, alpha, bias; n is ignored (the module sets it per pool
			      * size); linear units and a constant bias are required */
	lat_ode_opts ode;    /* method and tolerances of the circuit mode (ignored otherwise) */
	unsigned long seed;  /* noise generator seed */
	/* 0: interior-only pools take the shortcuts of docs/science.md section 6 where they apply (transfer
	 * matrices for hebbian and for circuit with the exact or auto method, the expected recursion in
	 * one go); 1: iterate presentation batch by presentation batch even there (tests, benchmarks) */
	int iterate;
} lat_share_opts;

typedef struct {
	size_t n_pools, n_neurons;    /* pools, and pooled neurons (excluded borders are not counted) */
	double snr_before, snr_after; /* mean over pools (of >= 2 members) of the kernels' pool SNR */
	double mos_before, mos_after; /* the same for the mean over coordinates of |mean| / std */
	double cos_mean;	      /* mean over pools of cos(wbar after, wbar before) */
	double dev_ratio;	      /* sqrt(dev2 after / dev2 before): how far the deviations shrank */
	double mean_ratio;	      /* sqrt(mean2 after / mean2 before): how far the pool means shrank */
	double max_steady_error;      /* circuit: max |y - y*| of the cross-checked circuits; else (and
				       * when the transfer shortcut settled none) NaN */
	long ode_steps, rhs_evals;    /* summed over the phase's settles (circuit mode; a part's: over the parts) */
	size_t circuits;	      /* circuits settled by this object over the phase (a part: its share) */
	double seconds;		      /* wall-clock time of the phase */
} lat_share_stats;

/* How convolutional the pools of a weight set are (docs/science.md section 5). Pools with one member have
 * no spread and are skipped. A coordinate with zero spread gives +inf (0 when its mean is 0 too), so
 * perfectly shared kernels report snr = mos = +inf. */
typedef struct {
	size_t n_pools;	      /* pools that entered the means */
	double snr;	      /* snr_pool: mean over pools of (1/d) sum_j m_j^2 / v_j (v_j with 1/N normalisation) */
	double inv_snr;	      /* 1 / snr */
	double mean_over_std; /* mean over pools and coordinates of |m_j| / sqrt(v_j) */
	/* snr_channel, the paper's network figure: for each output channel and kernel tap, |mean| / std
	 * (unbiased) over the output positions whose receptive field does not overlap the padding, averaged
	 * over channels and taps (NaN with fewer than two such positions) */
	double snr_channel;
	double dev2;  /* sum over pooled kernels of |w_i - wbar|^2 */
	double mean2; /* sum over pools of |wbar|^2 */
} lat_share_pools;

typedef struct lat_share lat_share;

/* Creates the sharing module for one lc layer: copies g and o, builds the pools, allocates every
 * workspace a phase needs and, in circuit mode, one ODE engine per distinct pool size (all pools of
 * that size times the presentations form one lat_circuit_batch). g->shared must be 0 and g must be a
 * consistent lc geometry (odd k, out = (in + 2 pad - k) / stride + 1). g->q0, g->q1 name the output
 * positions whose kernels the object works on: all of them (0 and h_out w_out, or 0 and 0), or one part
 * of a layer split by location (lat_lc_alloc_part), which then needs lat_share_set_sum. Returns a new
 * object (free with lat_share_free) or NULL with err set: LAT_EINVAL for a bad geometry or option
 * (message names it), LAT_ENOMEM. */
lat_share *lat_share_alloc(const lat_lc_geom *g, const lat_share_opts *o, char *err);

/* Adds v[0..n-1] elementwise over the processes that hold the parts of one lc layer, in place, leaving
 * the same values on every one (MPI_Allreduce with MPI_SUM does); 0, or nonzero when the exchange failed. */
typedef int (*lat_share_sum_fn)(void *ctx, double *v, size_t n);

/* Makes s, built for part `part` of `parts` of an lc layer (g->q0, g->q1: the output positions it holds),
 * combine its pool statistics with the other parts' through sum (ctx borrowed): pool means and drives,
 * the moments of lat_share_measure and the largest weight of the growth check. Where a phase goes through
 * transfer matrices, each part builds its block of their rows and the blocks are summed together. In
 * circuit mode with settled circuits every group's drives are summed, each part settles its share of
 * the group's pools (pools [part n / parts, (part + 1) n / parts)) and the rates are summed back. Each
 * part's phase leaves its kernels as the whole layer's phase would (to rounding: the pool sums add in
 * another order; with an integrator, to its tolerance: the batches differ) and returns the same status
 * and stats on every part, but circuits (the part's own) and, with an integrator, the solver counters
 * and steady error, which are the parts' (not the whole batch's). A message is the same on every part,
 * but after a failed settle, where the other parts say that one failed. Its workspaces hold its kernels
 * and its share of the circuits only. Phases and measures of a part are collective: every part calls
 * them together. Until this is called a part's phase and measure return LAT_EINVAL. LAT_EINVAL for
 * parts < 2, a part outside [0, parts) or a NULL sum (or bad solver options), LAT_ENOMEM. */
int lat_share_set_sum(lat_share *s, lat_share_sum_fn sum, void *ctx, int part, int parts, char *err);

/* Frees s and everything it owns; NULL is a no-op. */
void lat_share_free(lat_share *s);

/* Restarts the noise stream from seed (the trainer reseeds before every phase so that a resumed run
 * draws the same patches as an uninterrupted one). */
void lat_share_reseed(lat_share *s, unsigned long seed);

/* A sharing phase that multiplies the largest pooled weight by more than this has diverged: a stable
 * rule pulls the kernels of a pool towards their mean and never grows them by orders of magnitude. */
#define LAT_SHARE_GROWTH_LIMIT 1000.0

/* Runs one sharing phase on w, the layer's parameters (float, W[c_out][y][x][c_in][u][v] then
 * bias[c_out][y][x]; only the kernels are read or written), or a part's (W[c_out][q - q0][c_in][u][v]
 * first). The phase works on a double copy of the kernels held and writes back only on success, so on
 * any error w is unchanged: LAT_ENOTSTEADY or LAT_ESOLVER from the ODE engine (message from it),
 * LAT_EDIVERGE when a weight became non-finite or the largest pooled weight grew more than
 * LAT_SHARE_GROWTH_LIMIT times, LAT_EINVAL for a part without its sum, LAT_EIO when a sum over the
 * parts failed (if it is the last one, the statistics after the write-back, w holds the new kernels).
 * st (may be NULL) is filled on error too (seconds and solver counters so far). */
int lat_share_phase(lat_share *s, float *w, lat_share_stats *st, char *err);

/* Mean over pools of the pool SNR of w's kernels (see lat_share_pools); w is not changed. NaN when no
 * pool has two members or the scratch buffer cannot be allocated. */
double lat_share_snr(const lat_share *s, const float *w);

/* Fills r with the pool statistics of w's kernels (a part's: then the whole layer's figures, summed over
 * the parts in another order, and the call is collective). Allocates a 2 (n_pools + c_out) d scratch
 * buffer per call, so concurrent calls on one whole layer's object are safe. LAT_ENOMEM on allocation
 * failure (in a part, on any part: all return it), LAT_EINVAL for a part without its sum, LAT_EIO when
 * a sum failed. */
int lat_share_measure(const lat_share *s, const float *w, lat_share_pools *r, char *err);

/* Pool structure of the whole layer, for tests and reports. Pools are numbered channel by channel, then
 * by p, then q; neuron (c, y, x) has index (c h_out + y) w_out + x (in a whole layer its kernel starts at
 * w + index d). */
size_t lat_share_n_pools(const lat_share *s);
/* Members of pool j in row-major (y, x) order; *n receives their count. Borrowed from s. */
const size_t *lat_share_pool(const lat_share *s, size_t j, size_t *n);
/* 1 if output position (y, x) sees the zero padding. */
int lat_share_is_border(const lat_share *s, size_t y, size_t x);
/* The receptive-field vector (d values) of output position (y, x) under the patch (d values,
 * [c_in][k][k]) tiled over the input map, with zeros outside it. Borrows patch, writes xv. */
void lat_share_input(const lat_share *s, const double *patch, size_t y, size_t x, double *xv);

#ifdef __cplusplus
}
#endif

#endif

/* test_share.c: pools, their noise inputs and the sharing modes against hand counts and closed forms. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/metrics.h"
#include "lateral/share.h"
#include "runner.h"
#include "threads.h"

/* lc geometry with padding (k - 1) / 2 */
static lat_lc_geom geom(size_t c_in, size_t h, size_t w, size_t c_out, size_t k, size_t stride)
{
	lat_lc_geom g = {.c_in = c_in,
			 .h_in = h,
			 .w_in = w,
			 .c_out = c_out,
			 .k = k,
			 .stride = stride,
			 .pad = (k - 1) / 2,
			 .bias = 1,
			 .shared = 0};
	g.h_out = (h + 2 * g.pad - k) / stride + 1;
	g.w_out = (w + 2 * g.pad - k) / stride + 1;
	return g;
}

static lat_share_opts opts(lat_share_mode mode, lat_border border)
{
	lat_share_opts o = {.mode = mode,
			    .border = border,
			    .presentations = 4,
			    .iterations = 3,
			    .eta = 0.5,
			    .gamma = 0.1,
			    .circuit = {.n = 1, .tau = 1, .tau_inh = 0.5, .alpha = 5, .bias = 1},
			    .ode = {.method = LAT_METHOD_RK8PD,
				    .rtol = 1e-10,
				    .atol = 1e-12,
				    .steady_tol = 1e-11,
				    .t_max = 1e3,
				    .max_steps = 1000000},
			    .seed = 42};
	return o;
}

static size_t kernel_size(const lat_lc_geom *g)
{
	return g->c_in * g->k * g->k;
}

static size_t n_neurons(const lat_lc_geom *g)
{
	return g->c_out * g->h_out * g->w_out;
}

/* kernels then biases, uniform in (-1, 1) */
static float *random_weights(const lat_lc_geom *g, unsigned long seed)
{
	size_t n = n_neurons(g) * (kernel_size(g) + 1);
	float *w = malloc(n * sizeof *w);
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);

	gsl_rng_set(r, seed);
	for (size_t i = 0; w && i < n; i++)
		w[i] = (float)(2 * gsl_rng_uniform(r) - 1);
	gsl_rng_free(r);
	return w;
}

static void test_names(void)
{
	lat_share_mode m = LAT_SHARE_NONE;
	lat_border b = LAT_BORDER_EXCLUDE;

	CU_ASSERT_EQUAL(lat_share_mode_parse("circuit", &m), LAT_OK);
	CU_ASSERT_EQUAL(m, LAT_SHARE_CIRCUIT);
	CU_ASSERT_EQUAL(lat_share_mode_parse("hebbian", &m), LAT_OK);
	CU_ASSERT_EQUAL(m, LAT_SHARE_HEBBIAN);
	CU_ASSERT_EQUAL(lat_share_mode_parse("expected", &m), LAT_OK);
	CU_ASSERT_EQUAL(m, LAT_SHARE_EXPECTED);
	CU_ASSERT_EQUAL(lat_share_mode_parse("fixedpoint", &m), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_share_mode_parse("Instant", &m), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_share_mode_parse(NULL, &m), LAT_EINVAL);
	CU_ASSERT_EQUAL(m, LAT_SHARE_EXPECTED);
	CU_ASSERT_STRING_EQUAL(lat_share_mode_name(LAT_SHARE_INSTANT), "instant");
	CU_ASSERT_STRING_EQUAL(lat_share_mode_name((lat_share_mode)9), "unknown");
	CU_ASSERT_EQUAL(lat_border_parse("include", &b), LAT_OK);
	CU_ASSERT_EQUAL(b, LAT_BORDER_INCLUDE);
	CU_ASSERT_EQUAL(lat_border_parse("none", &b), LAT_EINVAL);
	CU_ASSERT_STRING_EQUAL(lat_border_name(LAT_BORDER_EXCLUDE), "exclude");
}

static int same_members(const size_t *got, size_t n_got, const size_t *want, size_t n_want)
{
	return n_got == n_want && memcmp(got, want, n_want * sizeof *want) == 0;
}

static void test_pools_by_hand(void)
{
	/* c_in = 1, 7 x 7, k = 3, stride 1, pad 1, two channels. Interior rows/cols are 1..5, residues
	 * y mod 3: p = 0 {3}, 1 {1, 4}, 2 {2, 5}; with borders: 0 {0, 3, 6}, 1 {1, 4}, 2 {2, 5}. */
	lat_lc_geom g = geom(1, 7, 7, 2, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_INSTANT, LAT_BORDER_EXCLUDE);
	char err[LAT_ERRLEN];
	lat_share *s = lat_share_alloc(&g, &o, err);
	const size_t *mem;
	size_t n, total = 0;
	static const size_t sizes[9] = {1, 2, 2, 2, 4, 4, 2, 4, 4};
	static const size_t p00[] = {24}, p11[] = {8, 11, 29, 32},
			    p12c1[] = {49 + 9, 49 + 12, 49 + 30, 49 + 33};
	static const size_t inc00[] = {0, 3, 6, 21, 24, 27, 42, 45, 48};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lat_share_n_pools(s), 18);
	for (size_t j = 0; j < 18; j++) {
		lat_share_pool(s, j, &n);
		CU_ASSERT_EQUAL(n, sizes[j % 9]);
		total += n;
	}
	CU_ASSERT_EQUAL(total, 2 * 25);
	mem = lat_share_pool(s, 0, &n);
	CU_ASSERT(same_members(mem, n, p00, 1));
	mem = lat_share_pool(s, 4, &n); /* channel 0, (p, q) = (1, 1) */
	CU_ASSERT(same_members(mem, n, p11, 4));
	mem = lat_share_pool(s, 9 + 5, &n); /* channel 1, (1, 2) */
	CU_ASSERT(same_members(mem, n, p12c1, 4));
	for (size_t y = 0; y < 7; y++)
		for (size_t x = 0; x < 7; x++)
			CU_ASSERT_EQUAL(lat_share_is_border(s, y, x), y == 0 || y == 6 || x == 0 || x == 6);
	lat_share_free(s);

	o.border = LAT_BORDER_INCLUDE;
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lat_share_n_pools(s), 18);
	mem = lat_share_pool(s, 9, &n); /* channel 1, (0, 0) */
	{
		size_t want[9];
		for (size_t i = 0; i < 9; i++)
			want[i] = 49 + inc00[i];
		CU_ASSERT(same_members(mem, n, want, 9));
	}
	lat_share_pool(s, 4, &n);
	CU_ASSERT_EQUAL(n, 4);
	lat_share_pool(s, 3, &n); /* (1, 0): rows {1, 4} x cols {0, 3, 6} */
	CU_ASSERT_EQUAL(n, 6);
	lat_share_free(s);

	/* 1x1 layer: one pool per channel holding the whole map, no borders */
	g = geom(3, 5, 4, 2, 1, 1);
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lat_share_n_pools(s), 2);
	for (size_t c = 0; c < 2; c++) {
		mem = lat_share_pool(s, c, &n);
		CU_ASSERT_EQUAL_FATAL(n, 20);
		for (size_t i = 0; i < 20; i++)
			CU_ASSERT_EQUAL(mem[i], c * 20 + i);
	}
	CU_ASSERT_EQUAL(lat_share_is_border(s, 0, 0), 0);
	lat_share_free(s);

	/* stride = k: every position has residue 0, one pool per channel (interior 2 x 2 of 3 x 3) */
	g = geom(1, 9, 9, 1, 3, 3);
	o.border = LAT_BORDER_EXCLUDE;
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lat_share_n_pools(s), 1);
	mem = lat_share_pool(s, 0, &n);
	{
		static const size_t want[] = {4, 5, 7, 8};
		CU_ASSERT(same_members(mem, n, want, 4));
	}
	lat_share_free(s);
}

/* The receptive field of (y, x), read from an explicitly tiled, zero-padded input map. */
static void field_from_map(const lat_lc_geom *g, const double *map, size_t y, size_t x, double *xv)
{
	long pad = (long)g->pad, k = (long)g->k;

	for (long ci = 0; ci < (long)g->c_in; ci++)
		for (long u = 0; u < k; u++)
			for (long v = 0; v < k; v++) {
				long iy = (long)(y * g->stride) - pad + u,
				     ix = (long)(x * g->stride) - pad + v;
				int in = iy >= 0 && ix >= 0 && iy < (long)g->h_in && ix < (long)g->w_in;
				*xv++ = in ? map[(ci * (long)g->h_in + iy) * (long)g->w_in + ix] : 0.0;
			}
}

static void check_fields(size_t stride)
{
	lat_lc_geom g = geom(2, 8, 7, 1, 3, stride);
	lat_share_opts o = opts(LAT_SHARE_INSTANT, LAT_BORDER_INCLUDE);
	size_t k = g.k, d = kernel_size(&g);
	double patch[18], *map = malloc(g.c_in * g.h_in * g.w_in * sizeof *map), xa[18], xb[18];
	double pattern[9][18]; /* the interior vector of residue class (p, q), once seen */
	int seen[9] = {0};
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	lat_share *s = lat_share_alloc(&g, &o, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);
	for (size_t j = 0; j < d; j++)
		patch[j] = gsl_rng_uniform(r) - 0.5;
	for (size_t ci = 0; ci < g.c_in; ci++)
		for (size_t iy = 0; iy < g.h_in; iy++)
			for (size_t ix = 0; ix < g.w_in; ix++)
				map[(ci * g.h_in + iy) * g.w_in + ix] = patch[(ci * k + iy % k) * k + ix % k];
	for (size_t y = 0; y < g.h_out; y++)
		for (size_t x = 0; x < g.w_out; x++) {
			size_t p = (y * stride) % k, q = (x * stride) % k;
			field_from_map(&g, map, y, x, xa);
			lat_share_input(s, patch, y, x, xb);
			CU_ASSERT(memcmp(xa, xb, sizeof xa) == 0);
			if (lat_share_is_border(s, y, x))
				continue;
			if (!seen[p * k + q]) {
				memcpy(pattern[p * k + q], xa, sizeof xa);
				seen[p * k + q] = 1;
			}
			/* every interior member of a pool sees the same vector */
			CU_ASSERT(memcmp(pattern[p * k + q], xa, sizeof xa) == 0);
			/* ... the patch cyclically shifted by (p - pad, q - pad) */
			for (size_t ci = 0; ci < g.c_in; ci++)
				for (size_t u = 0; u < k; u++)
					for (size_t v = 0; v < k; v++)
						CU_ASSERT_EQUAL(xa[(ci * k + u) * k + v],
								patch[(ci * k + (u + p + k - g.pad) % k) * k +
								      (v + q + k - g.pad) % k]);
		}
	/* pools differ only by the shift: class (p, q) is class (0, 0) shifted by (p, q) */
	if (seen[0])
		for (size_t c = 1; c < 9; c++) {
			size_t p = c / 3, q = c % 3;
			if (!seen[c])
				continue;
			CU_ASSERT(memcmp(pattern[c], pattern[0], sizeof pattern[0]) != 0);
			for (size_t ci = 0; ci < g.c_in; ci++)
				for (size_t u = 0; u < k; u++)
					for (size_t v = 0; v < k; v++)
						CU_ASSERT_EQUAL(
						    pattern[c][(ci * k + u) * k + v],
						    pattern[0][(ci * k + (u + p) % k) * k + (v + q) % k]);
		}
	/* a border neuron sees zeros in the padding: (0, 0) has its first row and column zero */
	lat_share_input(s, patch, 0, 0, xb);
	CU_ASSERT_EQUAL(xb[0], 0.0);
	CU_ASSERT_EQUAL(xb[1], 0.0);
	CU_ASSERT_EQUAL(xb[3], 0.0);
	CU_ASSERT_NOT_EQUAL(xb[4], 0.0);
	lat_share_free(s);
	gsl_rng_free(r);
	free(map);
}

static void test_fields(void)
{
	check_fields(1);
	check_fields(2);
}

/* INSTANT on channel-mixed weights: uniform pools at the pool means, borders and biases untouched. */
static void test_instant(void)
{
	lat_lc_geom g = geom(2, 9, 9, 3, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_INSTANT, LAT_BORDER_EXCLUDE);
	size_t d = kernel_size(&g), nn = n_neurons(&g), n_pos = g.h_out * g.w_out, n;
	float *w = random_weights(&g, 7), *w_orig = random_weights(&g, 7), *w2 = random_weights(&g, 7);
	double mean[18];
	lat_share_stats st;
	char err[LAT_ERRLEN];
	lat_share *s = lat_share_alloc(&g, &o, err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w2);
	CU_ASSERT(lat_share_snr(s, w) < 10);
	CU_ASSERT_EQUAL_FATAL(lat_share_phase(s, w, &st, err), LAT_OK);
	CU_ASSERT_EQUAL(st.n_pools, 27);
	CU_ASSERT_EQUAL(st.n_neurons, 3 * 49);
	CU_ASSERT(isinf(st.snr_after) && st.snr_after > 0);
	CU_ASSERT(isinf(lat_share_snr(s, w)));
	CU_ASSERT(isnan(st.max_steady_error));
	for (size_t j = 0; j < lat_share_n_pools(s); j++) {
		const size_t *mem = lat_share_pool(s, j, &n);
		memset(mean, 0, sizeof mean);
		for (size_t i = 0; i < n; i++)
			for (size_t a = 0; a < d; a++)
				mean[a] += w_orig[mem[i] * d + a] / (double)n;
		for (size_t i = 0; i < n; i++) {
			CU_ASSERT(memcmp(w + mem[i] * d, w + mem[0] * d, d * sizeof *w) == 0);
			CU_ASSERT(mem[i] / n_pos == j / 9); /* members from the pool's own channel */
		}
		for (size_t a = 0; a < d; a++)
			CU_ASSERT_DOUBLE_EQUAL(w[mem[0] * d + a], mean[a], 1e-6);
	}
	for (size_t c = 0; c < g.c_out; c++)
		for (size_t y = 0; y < g.h_out; y++)
			for (size_t x = 0; x < g.w_out; x++) {
				size_t id = (c * g.h_out + y) * g.w_out + x;
				if (lat_share_is_border(s, y, x))
					CU_ASSERT(memcmp(w + id * d, w_orig + id * d, d * sizeof *w) == 0);
			}
	CU_ASSERT(memcmp(w + nn * d, w_orig + nn * d, nn * sizeof *w) == 0); /* biases */

	/* channels are independent: changing channel 1 changes nothing in channels 0 and 2 */
	for (size_t i = n_pos * d; i < 2 * n_pos * d; i++)
		w2[i] = 3 * w2[i] + 1;
	CU_ASSERT_EQUAL(lat_share_phase(s, w2, NULL, err), LAT_OK);
	CU_ASSERT(memcmp(w2, w, n_pos * d * sizeof *w) == 0);
	CU_ASSERT(memcmp(w2 + 2 * n_pos * d, w + 2 * n_pos * d, n_pos * d * sizeof *w) == 0);
	CU_ASSERT(memcmp(w2 + n_pos * d, w + n_pos * d, n_pos * d * sizeof *w) != 0);
	lat_share_free(s);

	/* include: borders join (every kernel in its pool's mean), biases still untouched */
	o.border = LAT_BORDER_INCLUDE;
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(w, w_orig, nn * (d + 1) * sizeof *w);
	CU_ASSERT_EQUAL(lat_share_phase(s, w, &st, err), LAT_OK);
	CU_ASSERT_EQUAL(st.n_neurons, nn);
	{
		const size_t *mem = lat_share_pool(s, 0, &n); /* (0, 0) of channel 0 holds corner (0, 0) */
		CU_ASSERT_EQUAL(mem[0], 0);
		CU_ASSERT(memcmp(w, w + mem[n - 1] * d, d * sizeof *w) == 0);
		CU_ASSERT(memcmp(w, w_orig, d * sizeof *w) != 0);
	}
	CU_ASSERT(memcmp(w + nn * d, w_orig + nn * d, nn * sizeof *w) == 0);
	lat_share_free(s);

	/* none: nothing moves */
	o.mode = LAT_SHARE_NONE;
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(w, w_orig, nn * (d + 1) * sizeof *w);
	CU_ASSERT_EQUAL(lat_share_phase(s, w, &st, err), LAT_OK);
	CU_ASSERT(memcmp(w, w_orig, nn * (d + 1) * sizeof *w) == 0);
	CU_ASSERT_DOUBLE_EQUAL(st.snr_after, st.snr_before, 0);
	lat_share_free(s);
	free(w);
	free(w_orig);
	free(w2);
}

/* Runs one phase with mode/method on a copy of w0 and returns it (NULL on failure). */
static float *run_phase(const lat_lc_geom *g, lat_share_opts o, const float *w0, lat_share_stats *st)
{
	size_t n = n_neurons(g) * (kernel_size(g) + 1);
	float *w = malloc(n * sizeof *w);
	char err[LAT_ERRLEN];
	lat_share *s = lat_share_alloc(g, &o, err);
	int status;

	if (!s || !w) {
		free(w);
		lat_share_free(s);
		return NULL;
	}
	memcpy(w, w0, n * sizeof *w);
	status = lat_share_phase(s, w, st, err);
	lat_share_free(s);
	if (status) {
		fprintf(stderr, "phase failed: %s\n", err);
		free(w);
		return NULL;
	}
	return w;
}

static double max_rel_float(size_t n, const float *a, const float *b)
{
	double worst = 0;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), 1e-3);
		worst = e > worst ? e : worst;
	}
	return worst;
}

/* Sum over pooled neurons of |w_i - wbar|^2 (the deviations) and |wbar|^2 summed over pools, from the
 * float kernels of a layer whose pools are the mod-k classes of an interior (exclude) layout. */
typedef struct {
	double dev2, mean2;
} pool_norms;

static pool_norms norms_of(const lat_lc_geom *g, const float *w)
{
	size_t d = kernel_size(g), k = g->k;
	pool_norms pn = {0, 0};
	double *mean = calloc(d, sizeof *mean);

	for (size_t c = 0; c < g->c_out; c++)
		for (size_t p = 0; p < k; p++)
			for (size_t q = 0; q < k; q++) {
				size_t n = 0;
				memset(mean, 0, d * sizeof *mean);
				for (size_t y = 1; y + 1 < g->h_out; y++)
					for (size_t x = 1; x + 1 < g->w_out; x++)
						if (y % k == p && x % k == q) {
							const float *wi = w + ((c * g->h_out + y) * g->w_out + x) * d;
							for (size_t j = 0; j < d; j++)
								mean[j] += wi[j];
							n++;
						}
				if (n < 2)
					continue;
				for (size_t j = 0; j < d; j++)
					mean[j] /= (double)n;
				for (size_t y = 1; y + 1 < g->h_out; y++)
					for (size_t x = 1; x + 1 < g->w_out; x++)
						if (y % k == p && x % k == q) {
							const float *wi = w + ((c * g->h_out + y) * g->w_out + x) * d;
							for (size_t j = 0; j < d; j++)
								pn.dev2 += (wi[j] - mean[j]) * (wi[j] - mean[j]);
						}
				for (size_t j = 0; j < d; j++)
					pn.mean2 += mean[j] * mean[j];
			}
	free(mean);
	return pn;
}

/* The hebbian phase with gamma = 0 shrinks the pools' deviations, in expectation, by exactly
 * ((1 - eta)^2 + eta^2 (d + 1) / P)^T (docs/science.md section 6), keeps every pool mean, and leaves
 * the excluded border kernels alone. Averaged over 40 phases of a layer with 36 pools, the measured
 * mean-square factor must lie within 5 % of the prediction. */
static void test_hebbian_shrink(void)
{
	lat_lc_geom g = geom(2, 14, 14, 4, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_HEBBIAN, LAT_BORDER_EXCLUDE);
	size_t d = kernel_size(&g), n = n_neurons(&g) * (d + 1), T = 4, P = 32;
	float *w0 = random_weights(&g, 21), *w;
	pool_norms before = norms_of(&g, w0), after;
	double eta = 0.2, f = pow((1 - eta) * (1 - eta) + eta * eta * ((double)d + 1) / (double)P, (double)T);
	double sum = 0, worst_mean = 0;
	lat_share_stats st;
	int runs = 40;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	o.eta = eta;
	o.gamma = 0;
	o.presentations = P;
	o.iterations = T;
	for (int r = 0; r < runs; r++) {
		o.seed = 100 + (unsigned long)r;
		w = run_phase(&g, o, w0, &st);
		CU_ASSERT_PTR_NOT_NULL_FATAL(w);
		after = norms_of(&g, w);
		sum += after.dev2 / before.dev2;
		worst_mean = fmax(worst_mean, fabs(after.mean2 - before.mean2) / before.mean2);
		/* border kernels (and every bias) unchanged, bit for bit */
		for (size_t c = 0; c < g.c_out; c++)
			for (size_t x = 0; x < g.w_out; x++) {
				size_t top = (c * g.h_out + 0) * g.w_out + x;
				CU_ASSERT(memcmp(w + top * d, w0 + top * d, d * sizeof *w) == 0);
			}
		CU_ASSERT(memcmp(w + n_neurons(&g) * d, w0 + n_neurons(&g) * d, n_neurons(&g) * sizeof *w) == 0);
		free(w);
	}
	(void)n;
	CU_ASSERT_DOUBLE_EQUAL(sum / runs / f, 1, 0.05);
	CU_ASSERT(worst_mean < 1e-6);
	free(w0);
}

/* expected is the mean of sampled hebbian phases (the recursion is linear in W and each iteration's
 * S is independent of W): the average of 400 phases with different noise agrees with it within a few
 * standard errors, with gamma > 0 and the borders included (masks). */
static void test_expected_is_mean_of_phases(void)
{
	lat_lc_geom g = geom(1, 6, 6, 2, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_HEBBIAN, LAT_BORDER_INCLUDE);
	size_t d = kernel_size(&g), nk = n_neurons(&g) * d;
	float *w0 = random_weights(&g, 31), *w, *we;
	double *sum = calloc(nk, sizeof *sum), *sum2 = calloc(nk, sizeof *sum2), worst = 0;
	lat_share_stats st;
	int runs = 400;

	CU_ASSERT_FATAL(w0 && sum && sum2);
	o.eta = 0.3;
	o.gamma = 0.2;
	o.presentations = 8;
	o.iterations = 5;
	for (int r = 0; r < runs; r++) {
		o.seed = 1000 + (unsigned long)r;
		w = run_phase(&g, o, w0, &st);
		CU_ASSERT_PTR_NOT_NULL_FATAL(w);
		for (size_t k = 0; k < nk; k++) {
			sum[k] += w[k];
			sum2[k] += (double)w[k] * w[k];
		}
		free(w);
	}
	o.mode = LAT_SHARE_EXPECTED;
	we = run_phase(&g, o, w0, &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(we);
	for (size_t k = 0; k < nk; k++) {
		double mean = sum[k] / runs, var = sum2[k] / runs - mean * mean;
		double se = sqrt(fmax(var, 0) / runs) + 1e-6;
		worst = fmax(worst, fabs(mean - we[k]) / se);
	}
	/* nk = 648 coordinates: the largest of them stays within 5 standard errors */
	CU_ASSERT(worst < 5);
	/* expected moved the weights, deterministically */
	CU_ASSERT(max_rel_float(nk, we, w0) > 1e-2);
	free(we);
	free(w0);
	free(sum);
	free(sum2);
}

/* The circuit at alpha = 1e8 is the hebbian phase to solver tolerance (the same noise: the same seed),
 * with every engine method; 7 x 7 with borders included gives pools of 9, 6 and 4 neurons. */
static void test_circuit_large_alpha_is_hebbian(void)
{
	lat_lc_geom g = geom(2, 7, 7, 2, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_HEBBIAN, LAT_BORDER_INCLUDE);
	size_t n = n_neurons(&g) * (kernel_size(&g) + 1);
	float *w0 = random_weights(&g, 3), *wh, *wc;
	static const lat_method methods[] = {LAT_METHOD_EXACT, LAT_METHOD_AUTO};
	lat_share_stats st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	wh = run_phase(&g, o, w0, &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wh);
	CU_ASSERT(max_rel_float(n, wh, w0) > 1e-2); /* the phase did move the weights */
	CU_ASSERT(st.snr_after > st.snr_before);
	CU_ASSERT_EQUAL(st.ode_steps, 0);
	for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
		o.mode = LAT_SHARE_CIRCUIT;
		o.circuit.alpha = 1e8;
		o.ode.method = methods[m];
		wc = run_phase(&g, o, w0, &st);
		CU_ASSERT_PTR_NOT_NULL_FATAL(wc);
		/* a = alpha / (1 + alpha) differs from 1 by 1e-8; the engine adds its tolerance */
		CU_ASSERT(max_rel_float(n, wc, wh) < 1e-5);
		CU_ASSERT(st.max_steady_error < 1e-9);
		CU_ASSERT(st.ode_steps > 0);
		free(wc);
	}
	/* at alpha = 5 the integrators agree with the exact flow (the same noise) */
	o.circuit.alpha = 5;
	o.ode.method = LAT_METHOD_EXACT;
	free(wh);
	wh = run_phase(&g, o, w0, &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wh);
	{
		static const lat_method integrators[] = {LAT_METHOD_RK8PD, LAT_METHOD_BDF};
		for (size_t m = 0; m < 2; m++) {
			o.ode.method = integrators[m];
			wc = run_phase(&g, o, w0, &st);
			CU_ASSERT_PTR_NOT_NULL_FATAL(wc);
			CU_ASSERT(max_rel_float(n, wc, wh) < 1e-5);
			CU_ASSERT(st.max_steady_error < 1e-9);
			free(wc);
		}
	}
	free(wh);
	free(w0);
}

/* With the borders excluded, the shortcuts (src/core/transfer.h for hebbian and for the circuit with
 * the exact method, whose pool means go through B at a finite alpha; the expected mode's recursion in
 * one go) equal the same phase run iteration by iteration in double precision (iterate = 1, the same
 * draws) to float rounding, with gamma > 0 (the anchor term) and for strides 1 and 2 (other class maps). */
static void test_shortcuts_are_iterative(void)
{
	for (size_t stride = 1; stride <= 2; stride++) {
		static const lat_share_mode modes[] = {LAT_SHARE_HEBBIAN, LAT_SHARE_CIRCUIT, LAT_SHARE_EXPECTED};
		lat_lc_geom g = geom(3, 15, 15, 4, 3, stride);
		size_t n = n_neurons(&g) * (kernel_size(&g) + 1);
		float *w0 = random_weights(&g, 17), *ws, *wi;
		lat_share_stats st, sti;

		CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
		for (size_t m = 0; m < 3; m++) {
			lat_share_opts o = opts(modes[m], LAT_BORDER_EXCLUDE);
			o.presentations = 16;
			o.iterations = 20;
			o.eta = 0.1;
			o.gamma = 0.05;
			o.circuit.alpha = 2; /* the mean shrinks: B is far from I */
			o.ode.method = LAT_METHOD_EXACT;
			ws = run_phase(&g, o, w0, &st);
			CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
			CU_ASSERT(max_rel_float(n, ws, w0) > 1e-2);
			CU_ASSERT_EQUAL(st.ode_steps, 0); /* no circuit was integrated */
			o.iterate = 1;
			wi = run_phase(&g, o, w0, &sti);
			CU_ASSERT_PTR_NOT_NULL_FATAL(wi);
			/* float matrices over 20 iterations against doubles: about 1e-4 of max(|w|, 1e-3) */
			CU_ASSERT(max_rel_float(n, ws, wi) < 5e-4);
			CU_ASSERT_DOUBLE_EQUAL(st.mean_ratio, sti.mean_ratio, 1e-4);
			CU_ASSERT_DOUBLE_EQUAL(st.dev_ratio, sti.dev_ratio, 1e-4 * sti.dev_ratio);
			if (modes[m] == LAT_SHARE_CIRCUIT) {
				CU_ASSERT(sti.ode_steps > 0);
				CU_ASSERT(st.mean_ratio < 0.9); /* alpha = 2 shrinks the means */
			} else {
				CU_ASSERT_DOUBLE_EQUAL(st.mean_ratio, 1, 1e-6);
			}
			free(wi);
			free(ws);
		}
		free(w0);
	}
}

/* A 1x1 layer with many presentations: C = (1/M) sum x x^T is near I, so the circuit's phase at a finite
 * alpha ends near the closed form of docs/science.md section 4 for C = I (the mean shrinks to g / (1 + g),
 * g = gamma (1 + alpha)); expected, at alpha = infinity, keeps the mean and lands on the ridge value
 * D* = gamma / (1 + gamma) D^start, so 1/SNR falls by (gamma / (1 + gamma))^2. */
static void test_closed_form(void)
{
	lat_lc_geom g = geom(4, 6, 6, 3, 1, 1);
	lat_share_opts o = opts(LAT_SHARE_CIRCUIT, LAT_BORDER_EXCLUDE);
	size_t d = 4, n = 36;
	double eye[16] = {0}, win[36 * 4], wstar[36 * 4], wgot[36 * 4];
	float *w0 = random_weights(&g, 5), *w;
	lat_share_stats st;
	char err[LAT_ERRLEN];

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	for (size_t j = 0; j < d; j++)
		eye[j * d + j] = 1;
	o.presentations = 512;
	o.iterations = 600;
	o.eta = 0.02;
	o.gamma = 1;
	o.circuit.alpha = 1;
	o.ode.method = LAT_METHOD_EXACT;
	w = run_phase(&g, o, w0, &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (size_t c = 0; c < g.c_out; c++) {
		for (size_t i = 0; i < n * d; i++) {
			win[i] = w0[c * n * d + i];
			wgot[i] = w[c * n * d + i];
		}
		CU_ASSERT_EQUAL(
		    lat_closedform_wstar_cov(n, d, eye, win, o.circuit.alpha, o.gamma, wstar, err), LAT_OK);
		CU_ASSERT(lat_metrics_rel_dist(n * d, wgot, wstar) < 0.02);
	}
	CU_ASSERT_DOUBLE_EQUAL(st.cos_mean, 1, 1e-3);
	free(w);

	o.mode = LAT_SHARE_EXPECTED;
	w = run_phase(&g, o, w0, &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_DOUBLE_EQUAL(st.snr_after / st.snr_before, 4, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(st.cos_mean, 1, 1e-9);
	free(w);
	free(w0);
}

/* The step: eta_eff = min(eta, P / (P + d + 1)), so even eta = 1e3 contracts (expected: the deviations
 * shrink by exactly |1 - eta_eff (1 + gamma)| per iteration with gamma = 0 and no borders). */
static void test_step_bound(void)
{
	lat_lc_geom g = geom(1, 9, 9, 1, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_EXPECTED, LAT_BORDER_EXCLUDE);
	size_t d = kernel_size(&g);
	float *w0 = random_weights(&g, 41), *w;
	pool_norms before = norms_of(&g, w0), after;
	double eta_eff = 4.0 / (4.0 + (double)d + 1);
	lat_share_stats st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	o.eta = 1e3;
	o.gamma = 0;
	o.iterations = 3;
	w = run_phase(&g, o, w0, &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	after = norms_of(&g, w);
	CU_ASSERT_DOUBLE_EQUAL(sqrt(after.dev2 / before.dev2), pow(1 - eta_eff, 3), 1e-5);
	CU_ASSERT_DOUBLE_EQUAL(after.mean2 / before.mean2, 1, 1e-6);
	free(w);
	free(w0);
}

/* snr_pool and snr_channel by hand on an 8 x 8 map (k 3, pad 1): the interior is 6 x 6, so each of the
 * 9 pools of a channel holds 4 interior neurons (borders excluded); snr_channel averages |mean| / std
 * (unbiased) over the 36 interior positions per channel and tap. */
static void test_snr_figures(void)
{
	lat_lc_geom g = geom(2, 8, 8, 3, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_NONE, LAT_BORDER_EXCLUDE);
	size_t d = kernel_size(&g), H = g.h_out, W = g.w_out;
	float *w = random_weights(&g, 51);
	double pool_sum = 0, chan_sum = 0;
	size_t n_pools = 0;
	lat_share_pools r;
	char err[LAT_ERRLEN];
	lat_share *sh;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (size_t k = 0; k < n_neurons(&g) * d; k++) /* a common part so that the means are not 0 */
		w[k] += 0.5f;
	for (size_t c = 0; c < g.c_out; c++) {
		for (size_t p = 0; p < 3; p++)
			for (size_t q = 0; q < 3; q++) {
				double snr = 0;
				for (size_t j = 0; j < d; j++) {
					double m = 0, v = 0, n = 0;
					for (size_t y = 1; y + 1 < H; y++)
						for (size_t x = 1; x + 1 < W; x++)
							if (y % 3 == p && x % 3 == q) {
								m += w[((c * H + y) * W + x) * d + j];
								n++;
							}
					m /= n;
					for (size_t y = 1; y + 1 < H; y++)
						for (size_t x = 1; x + 1 < W; x++)
							if (y % 3 == p && x % 3 == q) {
								double e = w[((c * H + y) * W + x) * d + j] - m;
								v += e * e / n;
							}
					snr += m * m / v / (double)d;
				}
				pool_sum += snr;
				n_pools++;
			}
		for (size_t j = 0; j < d; j++) {
			double m = 0, v = 0;
			for (size_t y = 1; y + 1 < H; y++)
				for (size_t x = 1; x + 1 < W; x++)
					m += w[((c * H + y) * W + x) * d + j] / 36.0;
			for (size_t y = 1; y + 1 < H; y++)
				for (size_t x = 1; x + 1 < W; x++) {
					double e = w[((c * H + y) * W + x) * d + j] - m;
					v += e * e / 35.0;
				}
			chan_sum += fabs(m) / sqrt(v);
		}
	}
	sh = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sh);
	CU_ASSERT_EQUAL(lat_share_measure(sh, w, &r, err), LAT_OK);
	CU_ASSERT_EQUAL(r.n_pools, 27);
	CU_ASSERT_EQUAL(n_pools, 27);
	CU_ASSERT_DOUBLE_EQUAL(r.snr, pool_sum / 27, 1e-9 * pool_sum);
	CU_ASSERT_DOUBLE_EQUAL(r.snr_channel, chan_sum / (double)(g.c_out * d), 1e-9 * chan_sum);
	lat_share_free(sh);
	free(w);
}

static void test_errors(void)
{
	lat_lc_geom g = geom(1, 7, 7, 2, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_CIRCUIT, LAT_BORDER_EXCLUDE);
	size_t n = n_neurons(&g) * (kernel_size(&g) + 1);
	float *w = random_weights(&g, 9), *w_orig = random_weights(&g, 9);
	char err[LAT_ERRLEN];
	lat_share *s;
	lat_share_stats st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w_orig);
	g.shared = 1;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "conv"));
	g.shared = 0;
	g.h_out = 6;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	g = geom(1, 7, 7, 2, 3, 1);
	g.k = 2;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "odd"));
	g = geom(1, 7, 7, 2, 3, 1);
	o.presentations = 0;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "presentations"));
	o.presentations = 4;
	o.eta = 0;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	o.eta = 0.5;
	o.circuit.relu = 1;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	o.circuit.relu = 0;
	o.circuit.alpha = -2;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "alpha"));
	o.circuit.alpha = 5;
	o.ode.t_max = 0;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	o.mode = (lat_share_mode)7;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));

	/* a circuit that cannot settle: the phase fails and leaves w exactly as it was */
	o.mode = LAT_SHARE_CIRCUIT;
	o.ode.t_max = 1e-6;
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lat_share_phase(s, w, &st, err), LAT_ENOTSTEADY);
	CU_ASSERT(memcmp(w, w_orig, n * sizeof *w) == 0);
	lat_share_free(s);

	lat_share_free(NULL);
	free(w);
	free(w_orig);
}


/* ---- a layer split by location: threads stand in for the processes that hold its parts ---- */

typedef struct {
	tw_world *w;
	int rank;
	lat_share *s;
	float *kernels; /* the part's parameters: W[c_out][q - q0][c_in][u][v], then its biases */
	lat_share_stats st;
	lat_share_pools before;
	int rc, rc_measure;
	char err[LAT_ERRLEN];
} part_proc;

static int part_sum(void *ctx, double *v, size_t n)
{
	part_proc *p = ctx;

	return tw_sum(p->w, p->rank, v, n, 1);
}

static void *part_run(void *arg)
{
	part_proc *p = arg;

	p->rc_measure = lat_share_measure(p->s, p->kernels, &p->before, p->err);
	p->rc = lat_share_phase(p->s, p->kernels, &p->st, p->err);
	return NULL;
}

static int close_to(double a, double b, double rel)
{
	return isnan(b) ? isnan(a) : (a == b || fabs(a - b) <= rel * fabs(b));
}

/* The phase of o on g's layer split by location into `parts` (part r holds positions [r n / parts,
 * (r + 1) n / parts)) against the phase of the whole layer: every part returns the whole phase's status
 * (want) and message, its statistics, and its kernels are the whole phase's slice to float rounding (the
 * pool sums add in another order); on an error they are untouched. */
static void check_parts(const lat_lc_geom *g0, const lat_share_opts *o, int parts, int want)
{
	lat_lc_geom g = *g0;
	size_t d = kernel_size(&g), n_pos = g.h_out * g.w_out, C = g.c_out, settled = 0;
	float *w = random_weights(&g, 11), *w_orig = random_weights(&g, 11);
	double big = 0;
	part_proc p[TW_MAX];
	tw_world world = {.size = parts};
	lat_share_stats st;
	lat_share_pools before;
	char err[LAT_ERRLEN] = "";
	lat_share *s = lat_share_alloc(&g, o, err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w_orig);
	CU_ASSERT_EQUAL_FATAL(lat_share_measure(s, w, &before, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_share_phase(s, w, &st, err), want);
	for (size_t k = 0; k < C * n_pos * d; k++)
		big = fmax(big, fabs(w[k]));
	pthread_barrier_init(&world.bar, NULL, (unsigned)parts);
	for (int r = 0; r < parts; r++) {
		size_t q0 = (size_t)r * n_pos / (size_t)parts, n = (size_t)(r + 1) * n_pos / (size_t)parts - q0;
		char e2[LAT_ERRLEN];
		g.q0 = q0;
		g.q1 = q0 + n;
		p[r] = (part_proc){.w = &world, .rank = r};
		p[r].s = lat_share_alloc(&g, o, e2);
		p[r].kernels = malloc(C * n * (d + 1) * sizeof *p[r].kernels);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].kernels);
		for (size_t c = 0; c < C; c++) {
			memcpy(p[r].kernels + c * n * d, w_orig + (c * n_pos + q0) * d, n * d * sizeof *w);
			memcpy(p[r].kernels + C * n * d + c * n, w_orig + C * n_pos * d + c * n_pos + q0, n * sizeof *w);
		}
		/* a part without the sum over the others refuses to run */
		CU_ASSERT_EQUAL(lat_share_phase(p[r].s, p[r].kernels, NULL, e2), LAT_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(e2, "lat_share_set_sum"));
		CU_ASSERT_EQUAL(lat_share_set_sum(p[r].s, part_sum, &p[r], r, parts, e2), LAT_OK);
	}
	tw_each(parts, part_run, p, sizeof *p);
	for (int r = 0; r < parts; r++) {
		size_t q0 = (size_t)r * n_pos / (size_t)parts, n = (size_t)(r + 1) * n_pos / (size_t)parts - q0;
		double worst = 0;
		CU_ASSERT_EQUAL(p[r].rc_measure, LAT_OK);
		CU_ASSERT(close_to(p[r].before.snr, before.snr, 1e-12));
		CU_ASSERT(close_to(p[r].before.snr_channel, before.snr_channel, 1e-12));
		CU_ASSERT(close_to(p[r].before.mean_over_std, before.mean_over_std, 1e-12));
		CU_ASSERT(close_to(p[r].before.dev2, before.dev2, 1e-12));
		CU_ASSERT(close_to(p[r].before.mean2, before.mean2, 1e-12));
		CU_ASSERT_EQUAL(p[r].before.n_pools, before.n_pools);
		CU_ASSERT_EQUAL(p[r].rc, want);
		if (want) {
			/* a failed settle is each part's own (its batch's figures), or says another part failed */
			if (want == LAT_ENOTSTEADY) {
				CU_ASSERT(strstr(p[r].err, "steady") || strstr(p[r].err, "another part"));
			} else {
				CU_ASSERT_STRING_EQUAL(p[r].err, err);
			}
			for (size_t c = 0; c < C; c++)
				CU_ASSERT(memcmp(p[r].kernels + c * n * d, w_orig + (c * n_pos + q0) * d, n * d * sizeof *w) == 0);
		} else {
			for (size_t c = 0; c < C; c++)
				for (size_t k = 0; k < n * d; k++)
					worst = fmax(worst, fabs(p[r].kernels[c * n * d + k] - w[(c * n_pos + q0) * d + k]));
			CU_ASSERT(worst <= 1e-6 * big);
			CU_ASSERT(close_to(p[r].st.snr_after, st.snr_after, 1e-9));
			CU_ASSERT(close_to(p[r].st.dev_ratio, st.dev_ratio, 1e-9));
			CU_ASSERT(close_to(p[r].st.mean_ratio, st.mean_ratio, 1e-9));
			CU_ASSERT(close_to(p[r].st.cos_mean, st.cos_mean, 1e-9));
			CU_ASSERT_EQUAL(p[r].st.n_pools, st.n_pools);
			if (st.ode_steps > 0) {
				/* settled circuits: each part settles its share of the pools, so the counters (summed
				 * over the parts) and the checked circuits' error are the parts' own, the same on every
				 * part, the error within the solver's tolerance as the whole layer's is */
				CU_ASSERT(p[r].st.ode_steps > 0 && p[r].st.ode_steps == p[0].st.ode_steps);
				CU_ASSERT(p[r].st.max_steady_error == p[0].st.max_steady_error);
				CU_ASSERT(p[r].st.max_steady_error <= fmax(1e-9, 10 * st.max_steady_error));
				/* each part settled its share of the circuits, not all of them */
				CU_ASSERT(p[r].st.circuits > 0 && p[r].st.circuits < st.circuits);
				settled += p[r].st.circuits;
			} else {
				CU_ASSERT(close_to(p[r].st.max_steady_error, st.max_steady_error, 1e-6));
				CU_ASSERT_EQUAL(p[r].st.ode_steps, 0);
			}
		}
		lat_share_free(p[r].s);
		free(p[r].kernels);
	}
	CU_ASSERT(want || st.ode_steps == 0 || settled == st.circuits);
	pthread_barrier_destroy(&world.bar);
	lat_share_free(s);
	free(w);
	free(w_orig);
}

/* Every mode and border option, split in 2 and in 3 (parts of 21 and 22 positions: pools cut across
 * parts, some parts holding no member of a residue class), against the whole layer. */
static void test_parts(void)
{
	lat_lc_geom g = geom(2, 8, 8, 3, 3, 1);
	static const struct {
		lat_share_mode mode;
		lat_border border;
		lat_method method;
		int iterate;
	} cases[] = {
	    {LAT_SHARE_INSTANT, LAT_BORDER_EXCLUDE, LAT_METHOD_RK8PD, 0},
	    {LAT_SHARE_INSTANT, LAT_BORDER_INCLUDE, LAT_METHOD_RK8PD, 0},
	    {LAT_SHARE_HEBBIAN, LAT_BORDER_EXCLUDE, LAT_METHOD_RK8PD, 0}, /* transfer matrices */
	    {LAT_SHARE_HEBBIAN, LAT_BORDER_EXCLUDE, LAT_METHOD_RK8PD, 1}, /* pool means of the drives */
	    {LAT_SHARE_HEBBIAN, LAT_BORDER_INCLUDE, LAT_METHOD_RK8PD, 0},
	    {LAT_SHARE_CIRCUIT, LAT_BORDER_EXCLUDE, LAT_METHOD_EXACT, 0}, /* transfer, means through B */
	    {LAT_SHARE_CIRCUIT, LAT_BORDER_INCLUDE, LAT_METHOD_RK8PD, 0}, /* the whole batch settled */
	    {LAT_SHARE_CIRCUIT, LAT_BORDER_EXCLUDE, LAT_METHOD_EXACT, 1},
	    {LAT_SHARE_EXPECTED, LAT_BORDER_EXCLUDE, LAT_METHOD_RK8PD, 0}, /* the scalar recursion */
	    {LAT_SHARE_EXPECTED, LAT_BORDER_INCLUDE, LAT_METHOD_RK8PD, 0}, /* masked means */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (int parts = 2; parts <= 3; parts++) {
			lat_share_opts o = opts(cases[i].mode, cases[i].border);
			o.ode.method = cases[i].method;
			o.iterate = cases[i].iterate;
			check_parts(&g, &o, parts, LAT_OK);
		}
	/* a phase that diverges: every part says so, with the whole layer's message, and keeps its kernels */
	{
		lat_share_opts o = opts(LAT_SHARE_HEBBIAN, LAT_BORDER_INCLUDE);
		o.gamma = 300;
		o.iterations = 8;
		check_parts(&g, &o, 3, LAT_EDIVERGE);
	}
	/* circuits that cannot settle in time: every part fails alike and keeps its kernels */
	{
		lat_share_opts o = opts(LAT_SHARE_CIRCUIT, LAT_BORDER_INCLUDE);
		o.ode.t_max = 1e-6;
		check_parts(&g, &o, 3, LAT_ENOTSTEADY);
	}
}

/* Parts that are none, and sums that cannot work. */
static void test_part_errors(void)
{
	lat_lc_geom g = geom(1, 7, 7, 2, 3, 1);
	lat_share_opts o = opts(LAT_SHARE_HEBBIAN, LAT_BORDER_EXCLUDE);
	char err[LAT_ERRLEN];
	lat_share *s;

	g.q0 = 10;
	g.q1 = 10;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "[10, 10)"));
	g.q1 = 50;
	CU_ASSERT_PTR_NULL(lat_share_alloc(&g, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "49 outputs"));
	g.q1 = 49;
	s = lat_share_alloc(&g, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lat_share_set_sum(s, part_sum, NULL, 0, 1, err), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_share_set_sum(s, part_sum, NULL, 2, 2, err), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_share_set_sum(s, NULL, NULL, 0, 2, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0 <= part < parts"));
	lat_share_free(s);
}

static CU_TestInfo tests[] = {{"mode and border names", test_names},
			      {"pool membership by hand", test_pools_by_hand},
			      {"receptive fields of a tiled patch", test_fields},
			      {"instant: uniform pools, borders and biases untouched", test_instant},
			      {"hebbian shrinks deviations by the predicted factor, keeps means", test_hebbian_shrink},
			      {"expected = the mean of 400 sampled phases", test_expected_is_mean_of_phases},
			      {"circuit at alpha 1e8 = hebbian (exact, auto)", test_circuit_large_alpha_is_hebbian},
			      {"shortcuts (hebbian, circuit exact, expected) = iteration by iteration", test_shortcuts_are_iterative},
			      {"1x1 layer ends at the closed form (circuit, expected)", test_closed_form},
			      {"the step is bounded by P / (P + d + 1)", test_step_bound},
			      {"snr_pool and snr_channel by hand, borders excluded", test_snr_figures},
			      {"errors leave w unchanged", test_errors},
			      {"a layer split by location = the whole layer, every mode", test_parts},
			      {"parts and sums refused", test_part_errors},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "share", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}

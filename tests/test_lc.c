/* test_lc.c: lc, conv and linear layers: lc with one shared kernel equals conv (outputs and gradients),
 * finite-difference gradients, a hand-computed convolution, thread-count independence, init bounds,
 * parts and windows of a split layer against the whole one, and every constructor error. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_rng.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gradcheck.h"
#include "lateral/err.h"
#include "lateral/layer.h"
#include "runner.h"

#define SEED 20240612UL
#include "rng.h" /* uses SEED */
#define GC_STEP 1e-2 /* finite-difference step (float32 tensors, double accumulation) */
#define GC_TOL 1e-3  /* largest gradient-check error accepted: correct code gives ~1e-5, a 5% error 5e-2 */
#define EQ_TOL 1e-4  /* lc vs conv: the same sums in a different order (relative to max(1, |x|)) */

/* max |a - b| / max(1, |b|) */
static double max_err(const float *a, const float *b, size_t n)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs((double)a[i] - b[i]) / fmax(1, fabs((double)b[i])));
	return worst;
}

/* One (lc, conv) pair, sized for more than batch samples, with the conv kernel copied to every lc
 * position: outputs, din and the position-summed lc gradients must equal conv's. din starts as
 * garbage (backward writes it) and the gradients start non-zero (backward adds to them). */
static void check_lc_equals_conv(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t batch)
{
	char err[LAT_ERRLEN] = "";
	lat_layer *lc = lat_lc_alloc(in, c_out, k, stride, bias, batch + 3, err);
	lat_layer *cv = lat_conv_alloc(in, c_out, k, stride, bias, batch + 5, err);
	gc_arrays a_lc = {0}, a_cv = {0};
	lat_lc_geom g;
	size_t n_in, n_out, n_k, n_loc;
	float *x = NULL, *dout = NULL, *y_lc = NULL, *y_cv = NULL, *d_lc = NULL, *d_cv = NULL, *sum = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(lc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cv);
	CU_ASSERT_EQUAL_FATAL(gc_bind(cv, rng, &a_cv), 0);
	CU_ASSERT_EQUAL_FATAL(gc_bind(lc, rng, &a_lc), 0);
	CU_ASSERT_EQUAL_FATAL(lat_lc_geometry(lc, &g), LAT_OK);
	n_in = batch * lat_shape_size(in);
	n_out = batch * lat_shape_size(lc->out);
	n_k = in.c * k * k;
	n_loc = g.h_out * g.w_out;
	/* bias: 1 one per output neuron, 2 (LAT_LC_BIAS_CHANNEL) one per channel, as conv's */
	CU_ASSERT_EQUAL(lc->n_params, c_out * n_loc * n_k + (bias == 1 ? c_out * n_loc : bias ? c_out : 0));
	CU_ASSERT_EQUAL(cv->n_params, c_out * n_k + (bias ? c_out : 0));
	for (size_t o = 0; o < c_out; o++) {
		for (size_t q = 0; q < n_loc; q++) {
			memcpy(a_lc.w + (o * n_loc + q) * n_k, a_cv.w + o * n_k, n_k * sizeof(float));
			if (bias == 1)
				a_lc.w[c_out * n_loc * n_k + o * n_loc + q] = a_cv.w[c_out * n_k + o];
		}
		if (bias == 2)
			a_lc.w[c_out * n_loc * n_k + o] = a_cv.w[c_out * n_k + o];
	}
	x = random_floats(n_in);
	dout = random_floats(n_out);
	y_lc = malloc(n_out * sizeof *y_lc);
	y_cv = malloc(n_out * sizeof *y_cv);
	d_lc = malloc(n_in * sizeof *d_lc);
	d_cv = malloc(n_in * sizeof *d_cv);
	sum = calloc(cv->n_params, sizeof *sum);
	CU_ASSERT_FATAL(x && dout && y_lc && y_cv && d_lc && d_cv && sum);
	for (size_t i = 0; i < n_in; i++)
		d_lc[i] = d_cv[i] = 123;
	for (size_t i = 0; i < lc->n_params; i++)
		a_lc.g[i] = 0.25f;
	for (size_t i = 0; i < cv->n_params; i++)
		a_cv.g[i] = 0.25f * (float)n_loc;

	CU_ASSERT_EQUAL(lc->type->forward(lc, x, y_lc, batch, 1), LAT_OK);
	CU_ASSERT_EQUAL(cv->type->forward(cv, x, y_cv, batch, 1), LAT_OK);
	CU_ASSERT(max_err(y_lc, y_cv, n_out) < EQ_TOL);
	CU_ASSERT_EQUAL(lc->type->backward(lc, x, y_lc, dout, d_lc, batch), LAT_OK);
	CU_ASSERT_EQUAL(cv->type->backward(cv, x, y_cv, dout, d_cv, batch), LAT_OK);
	CU_ASSERT(max_err(d_lc, d_cv, n_in) < EQ_TOL);
	for (size_t o = 0; o < c_out; o++) {
		for (size_t q = 0; q < n_loc; q++) {
			for (size_t j = 0; j < n_k; j++)
				sum[o * n_k + j] += a_lc.g[(o * n_loc + q) * n_k + j];
			if (bias == 1)
				sum[c_out * n_k + o] += a_lc.g[c_out * n_loc * n_k + o * n_loc + q];
		}
		/* one bias for the channel: it started at 0.25 once, conv's at 0.25 n_loc */
		if (bias == 2)
			sum[c_out * n_k + o] += a_lc.g[c_out * n_loc * n_k + o] + 0.25f * (float)(n_loc - 1);
	}
	CU_ASSERT(max_err(sum, a_cv.g, cv->n_params) < EQ_TOL);

	free(x);
	free(dout);
	free(y_lc);
	free(y_cv);
	free(d_lc);
	free(d_cv);
	free(sum);
	gc_release(&a_lc);
	gc_release(&a_cv);
	lat_layer_free(lc);
	lat_layer_free(cv);
}

static void test_lc_equals_conv(void)
{
	static const size_t ks[] = {1, 3, 5}, strides[] = {1, 2}, chans[] = {1, 3};
	static const lat_shape sizes[] = {{1, 5, 5}, {1, 7, 6}};

	for (size_t a = 0; a < 3; a++)
		for (size_t b = 0; b < 2; b++)
			for (size_t ci = 0; ci < 2; ci++)
				for (size_t co = 0; co < 2; co++)
					for (size_t sz = 0; sz < 2; sz++) {
						lat_shape in = sizes[sz];
						in.c = chans[ci];
						/* batch 6 crosses conv's chunks of samples */
						check_lc_equals_conv(in, chans[co], ks[a], strides[b], 1, 6);
					}
	check_lc_equals_conv((lat_shape){2, 6, 7}, 4, 3, 3, 0, 5);
	check_lc_equals_conv((lat_shape){2, 2, 3}, 2, 5, 1, 1, 2); /* kernel wider than the input */
	check_lc_equals_conv((lat_shape){2, 6, 7}, 3, 3, 1, LAT_LC_BIAS_CHANNEL, 5);
	check_lc_equals_conv((lat_shape){1, 7, 6}, 2, 5, 2, LAT_LC_BIAS_CHANNEL, 6);
}

static void gradcheck(lat_layer *l, size_t batch)
{
	gc_arrays a = {0};
	float *x;
	double e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, rng, &a), 0);
	x = random_floats(batch * lat_shape_size(l->in));
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	e = gc_check(l, x, batch, rng, GC_STEP);
	CU_ASSERT(e < GC_TOL);
	if (e >= GC_TOL)
		fprintf(stderr, "\n  %s: gradient check error %g\n", l->type->name, e);
	free(x);
	gc_release(&a);
	lat_layer_free(l);
}

static void test_gradcheck_lc(void)
{
	gradcheck(lat_lc_alloc((lat_shape){2, 5, 4}, 3, 3, 1, 1, 2, NULL), 2);
	gradcheck(lat_lc_alloc((lat_shape){2, 5, 4}, 3, 3, 2, 1, 3, NULL), 3);
	gradcheck(lat_lc_alloc((lat_shape){1, 6, 5}, 2, 5, 2, 0, 2, NULL), 2);
	gradcheck(lat_lc_alloc((lat_shape){3, 4, 4}, 2, 1, 1, 1, 2, NULL), 2);
	gradcheck(lat_lc_alloc((lat_shape){2, 5, 4}, 3, 3, 1, LAT_LC_BIAS_CHANNEL, 3, NULL), 3);
}

static void test_gradcheck_conv(void)
{
	gradcheck(lat_conv_alloc((lat_shape){2, 5, 4}, 3, 3, 1, 1, 5, NULL), 5);
	gradcheck(lat_conv_alloc((lat_shape){2, 5, 4}, 3, 3, 2, 1, 3, NULL), 3);
	gradcheck(lat_conv_alloc((lat_shape){1, 6, 5}, 2, 5, 2, 0, 2, NULL), 2);
	gradcheck(lat_conv_alloc((lat_shape){3, 4, 4}, 2, 1, 1, 1, 2, NULL), 2);
}

static void test_gradcheck_linear(void)
{
	gradcheck(lat_linear_alloc((lat_shape){2, 3, 2}, 4, 1, 3, NULL), 3);
	gradcheck(lat_linear_alloc((lat_shape){5, 1, 1}, 3, 0, 2, NULL), 2);
	gradcheck(lat_linear_alloc((lat_shape){7, 1, 1}, 1, 1, 1, NULL), 1);
}

/* in = 1..9, W = [[1,2,0],[0,1,0],[0,0,3]], bias 0.5, padding 1, worked out by hand (cross-correlation:
 * out[y][x] = x[y-1][x-1] + 2 x[y-1][x] + x[y][x] + 3 x[y+1][x+1] + 0.5); dout = 1 everywhere. */
static void hand_conv(lat_layer *l)
{
	static const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, kern[9] = {1, 2, 0, 0, 1, 0, 0, 0, 3};
	static const float want[9] = {16.5, 20.5, 3.5, 30.5, 37.5, 14.5, 15.5, 22.5, 26.5};
	static const float want_din[9] = {4, 4, 3, 4, 7, 6, 1, 4, 4};
	/* dW[u][v] = sum of the inputs the tap sees: e.g. dW[0][0] = 1+2+4+5, dW[1][1] = 45 */
	static const float want_dw[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
	size_t n_loc = 9, shared = l->n_params == 10;
	float w[91] = {0}, g[91] = {0}, out[9], din[9], ones[9];

	CU_ASSERT_FATAL(l->n_params == (shared ? 10 : 90));
	for (size_t q = 0; q < (shared ? 1 : n_loc); q++)
		memcpy(w + 9 * q, kern, sizeof kern);
	for (size_t q = 0; q < (shared ? 1 : n_loc); q++)
		w[(shared ? 9 : 81) + q] = 0.5f;
	for (size_t i = 0; i < 9; i++)
		ones[i] = 1;
	lat_layer_bind(l, w, g, NULL);
	CU_ASSERT_EQUAL(l->type->forward(l, x, out, 1, 1), LAT_OK);
	for (size_t i = 0; i < 9; i++)
		CU_ASSERT_DOUBLE_EQUAL(out[i], want[i], 1e-6);
	CU_ASSERT_EQUAL(l->type->backward(l, x, out, ones, din, 1), LAT_OK);
	for (size_t i = 0; i < 9; i++)
		CU_ASSERT_DOUBLE_EQUAL(din[i], want_din[i], 1e-6);
	if (shared) {
		for (size_t i = 0; i < 9; i++)
			CU_ASSERT_DOUBLE_EQUAL(g[i], want_dw[i], 1e-5);
		CU_ASSERT_DOUBLE_EQUAL(g[9], 9, 1e-6);
	} else {
		/* position (0, 0) sees the padded window [[0,0,0],[0,1,2],[0,4,5]] */
		static const float want_g0[9] = {0, 0, 0, 0, 1, 2, 0, 4, 5};
		for (size_t i = 0; i < 9; i++)
			CU_ASSERT_DOUBLE_EQUAL(g[i], want_g0[i], 1e-6);
		for (size_t q = 0; q < n_loc; q++)
			CU_ASSERT_DOUBLE_EQUAL(g[81 + q], 1, 1e-6);
	}
	lat_layer_free(l);
}

static void test_hand_computed(void)
{
	lat_layer *cv = lat_conv_alloc((lat_shape){1, 3, 3}, 1, 3, 1, 1, 1, NULL);
	lat_layer *lc = lat_lc_alloc((lat_shape){1, 3, 3}, 1, 3, 1, 1, 1, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(lc);
	hand_conv(cv);
	hand_conv(lc);
}

static void test_linear_values(void)
{
	/* W = [[1,2,3],[0,-1,1]], b = [0.5,-1]; in = [1,1,2], [0,3,-1] */
	float w[8] = {1, 2, 3, 0, -1, 1, 0.5f, -1}, g[8] = {0};
	const float x[6] = {1, 1, 2, 0, 3, -1}, dout[4] = {1, 0, 2, -1};
	const float want[4] = {9.5f, 0, 3.5f, -5}, want_din[6] = {1, 2, 3, 2, 5, 5};
	const float want_g[8] = {1, 7, 0, 0, -3, 1, 3, -1};
	float out[4], din[6];
	lat_layer *l = lat_linear_alloc((lat_shape){3, 1, 1}, 2, 1, 2, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->n_params, 8);
	CU_ASSERT(l->out.c == 2 && l->out.h == 1 && l->out.w == 1);
	lat_layer_bind(l, w, g, NULL);
	CU_ASSERT_EQUAL(l->type->forward(l, x, out, 2, 0), LAT_OK);
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT_DOUBLE_EQUAL(out[i], want[i], 1e-6);
	CU_ASSERT_EQUAL(l->type->backward(l, x, out, dout, din, 2), LAT_OK);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT_DOUBLE_EQUAL(din[i], want_din[i], 1e-6);
	for (size_t i = 0; i < 8; i++)
		CU_ASSERT_DOUBLE_EQUAL(g[i], want_g[i], 1e-6);
	/* gradients accumulate; din may be skipped */
	CU_ASSERT_EQUAL(l->type->backward(l, x, out, dout, NULL, 2), LAT_OK);
	for (size_t i = 0; i < 8; i++)
		CU_ASSERT_DOUBLE_EQUAL(g[i], 2 * want_g[i], 1e-6);
	CU_ASSERT_EQUAL(l->type->forward(l, x, out, 3, 0), LAT_EINVAL);
	lat_layer_free(l);
}

/* Runs forward and backward of l (bound to a) with n threads into out, din and a->g (zeroed first). */
static void run_threads(lat_layer *l, gc_arrays *a, const float *x, const float *dout, float *out, float *din,
			size_t batch, int n)
{
#ifdef _OPENMP
	omp_set_num_threads(n);
#else
	(void)n;
#endif
	memset(a->g, 0, l->n_params * sizeof *a->g);
	CU_ASSERT_EQUAL(l->type->forward(l, x, out, batch, 1), LAT_OK);
	CU_ASSERT_EQUAL(l->type->backward(l, x, out, dout, din, batch), LAT_OK);
}

/* Outputs and gradients are bit-identical for 1, 2 and 3 threads. */
static void check_threads(lat_layer *l, size_t batch)
{
	gc_arrays a = {0};
	size_t n_in = batch * lat_shape_size(l->in), n_out = batch * lat_shape_size(l->out);
	float *x = random_floats(n_in), *dout = random_floats(n_out), *out[2], *din[2], *g1;

	out[0] = malloc(n_out * sizeof(float));
	out[1] = malloc(n_out * sizeof(float));
	din[0] = malloc(n_in * sizeof(float));
	din[1] = malloc(n_in * sizeof(float));
	g1 = malloc(l->n_params * sizeof *g1);
	CU_ASSERT_FATAL(x && dout && out[0] && out[1] && din[0] && din[1] && g1);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, rng, &a), 0);
	run_threads(l, &a, x, dout, out[0], din[0], batch, 1);
	memcpy(g1, a.g, l->n_params * sizeof *g1);
	for (int n = 2; n <= 3; n++) {
		run_threads(l, &a, x, dout, out[1], din[1], batch, n);
		CU_ASSERT(memcmp(out[0], out[1], n_out * sizeof(float)) == 0);
		CU_ASSERT(memcmp(din[0], din[1], n_in * sizeof(float)) == 0);
		CU_ASSERT(memcmp(g1, a.g, l->n_params * sizeof *g1) == 0);
	}
	/* In a shared scratch that other layers fill with their values between our calls (NaN here), the
	 * results are the same bits: each call writes all it reads, the zero padding included. */
	if (lat_layer_scratch_floats(l) > 0) {
		size_t n_s = lat_layer_scratch_floats(l);
		float *scratch = malloc(n_s * sizeof *scratch);
		CU_ASSERT_FATAL(scratch != NULL);
		for (size_t i = 0; i < n_s; i++)
			scratch[i] = NAN;
		lat_layer_use_scratch(l, scratch);
		memset(a.g, 0, l->n_params * sizeof *a.g);
		CU_ASSERT_EQUAL(l->type->forward(l, x, out[1], batch, 1), LAT_OK);
		for (size_t i = 0; i < n_s; i++)
			scratch[i] = NAN;
		CU_ASSERT_EQUAL(l->type->backward(l, x, out[1], dout, din[1], batch), LAT_OK);
		CU_ASSERT(memcmp(out[0], out[1], n_out * sizeof(float)) == 0);
		CU_ASSERT(memcmp(din[0], din[1], n_in * sizeof(float)) == 0);
		CU_ASSERT(memcmp(g1, a.g, l->n_params * sizeof *g1) == 0);
		lat_layer_free(l);
		l = NULL;
		free(scratch);
	}
	free(x);
	free(dout);
	free(out[0]);
	free(out[1]);
	free(din[0]);
	free(din[1]);
	free(g1);
	gc_release(&a);
	lat_layer_free(l);
}

static void test_threads(void)
{
#ifdef _OPENMP
	int keep = omp_get_max_threads();
	omp_set_num_threads(3); /* the constructors size their workspaces for this many threads */
#endif
	check_threads(lat_lc_alloc((lat_shape){3, 9, 8}, 4, 3, 1, 1, 9, NULL), 9);
	check_threads(lat_lc_alloc((lat_shape){2, 9, 8}, 3, 5, 2, 1, 7, NULL), 7);
	check_threads(lat_conv_alloc((lat_shape){3, 9, 8}, 4, 3, 1, 1, 9, NULL), 9);
	check_threads(lat_conv_alloc((lat_shape){2, 9, 8}, 3, 5, 2, 1, 7, NULL), 7);
	check_threads(lat_linear_alloc((lat_shape){3, 4, 5}, 6, 1, 9, NULL), 9);
#ifdef _OPENMP
	omp_set_num_threads(keep);
#endif
}

/* PyTorch defaults: weights and bias uniform(+-1/sqrt(fan_in)); the sample variance is bound^2 / 3. */
static void check_init(lat_layer *l, size_t fan_in, size_t n_w)
{
	gc_arrays a = {0};
	double bound = 1 / sqrt((double)fan_in), s2 = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, rng, &a), 0);
	for (size_t i = 0; i < l->n_params; i++) {
		CU_ASSERT(fabs(a.w[i]) <= bound);
		if (i < n_w)
			s2 += (double)a.w[i] * a.w[i];
	}
	CU_ASSERT_DOUBLE_EQUAL(s2 / (double)n_w, bound * bound / 3, 0.1 * bound * bound / 3);
	for (size_t i = n_w; i < l->n_params; i++)
		CU_ASSERT(a.w[i] != 0);
	gc_release(&a);
	lat_layer_free(l);
}

static void test_init(void)
{
	check_init(lat_lc_alloc((lat_shape){3, 10, 10}, 8, 5, 1, 1, 1, NULL), 75, 8 * 100 * 75);
	check_init(lat_conv_alloc((lat_shape){8, 10, 10}, 16, 3, 1, 1, 1, NULL), 72, 16 * 72);
	check_init(lat_linear_alloc((lat_shape){4, 5, 5}, 50, 1, 1, NULL), 100, 5000);
}

static void test_geometry(void)
{
	lat_lc_geom g;
	lat_layer *lc = lat_lc_alloc((lat_shape){3, 7, 6}, 5, 3, 2, 1, 4, NULL);
	lat_layer *cv = lat_conv_alloc((lat_shape){1, 28, 28}, 32, 5, 1, 0, 4, NULL);
	lat_layer *lin = lat_linear_alloc((lat_shape){3, 7, 6}, 5, 1, 4, NULL);

	CU_ASSERT_FATAL(lc && cv && lin);
	CU_ASSERT_EQUAL(lat_lc_geometry(lc, &g), LAT_OK);
	CU_ASSERT(g.c_in == 3 && g.h_in == 7 && g.w_in == 6 && g.c_out == 5 && g.h_out == 4 && g.w_out == 3);
	CU_ASSERT(g.k == 3 && g.stride == 2 && g.pad == 1 && g.bias == 1 && g.shared == 0);
	CU_ASSERT(lc->out.c == 5 && lc->out.h == 4 && lc->out.w == 3);
	CU_ASSERT_STRING_EQUAL(lc->type->name, "lc");
	CU_ASSERT_EQUAL(lat_lc_geometry(cv, &g), LAT_OK);
	CU_ASSERT(g.h_out == 28 && g.w_out == 28 && g.pad == 2 && g.bias == 0 && g.shared == 1);
	CU_ASSERT_EQUAL(cv->n_params, 32 * 25);
	CU_ASSERT_STRING_EQUAL(cv->type->name, "conv");
	CU_ASSERT_EQUAL(lat_lc_geometry(lin, &g), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_lc_geometry(NULL, &g), LAT_EINVAL);
	CU_ASSERT_STRING_EQUAL(lin->type->name, "linear");
	lat_layer_free(lc);
	lat_layer_free(cv);
	lat_layer_free(lin);
}

/* The constructor returns NULL and a message mentioning what. */
static void expect_fail(lat_layer *l, const char *err, const char *what)
{
	CU_ASSERT_PTR_NULL(l);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	lat_layer_free(l);
}

static void test_errors(void)
{
	char err[LAT_ERRLEN];
	lat_shape in = {2, 5, 5};
	float x[50] = {0}, y[50];
	lat_layer *l;

	for (int shared = 0; shared < 2; shared++) {
		lat_layer *(*ctor)(lat_shape, size_t, size_t, size_t, int, size_t, char *) =
		    shared ? lat_conv_alloc : lat_lc_alloc;
		err[0] = 0;
		expect_fail(ctor(in, 3, 4, 1, 1, 2, err), err, "odd");
		expect_fail(ctor(in, 3, 2, 2, 1, 2, err), err, "odd");
		expect_fail(ctor((lat_shape){0, 5, 5}, 3, 3, 1, 1, 2, err), err, "> 0");
		expect_fail(ctor((lat_shape){2, 0, 5}, 3, 3, 1, 1, 2, err), err, "> 0");
		expect_fail(ctor((lat_shape){2, 5, 0}, 3, 3, 1, 1, 2, err), err, "> 0");
		expect_fail(ctor(in, 0, 3, 1, 1, 2, err), err, "> 0");
		expect_fail(ctor(in, 3, 0, 1, 1, 2, err), err, "> 0");
		expect_fail(ctor(in, 3, 3, 0, 1, 2, err), err, "> 0");
		expect_fail(ctor(in, 3, 3, 1, 1, 0, err), err, "> 0");
		expect_fail(ctor(in, 3, 4, 1, 1, 2, NULL), "odd", "odd"); /* NULL err is allowed */
		/* with padding (k - 1) / 2 the padded input always holds the window: 7x7 on 1x1 gives 1x1 */
		l = ctor((lat_shape){1, 1, 1}, 1, 7, 1, 1, 1, err);
		CU_ASSERT_PTR_NOT_NULL(l);
		CU_ASSERT(l && l->out.h == 1 && l->out.w == 1);
		lat_layer_free(l);
		/* a batch larger than max_batch */
		l = ctor((lat_shape){2, 5, 5}, 1, 3, 1, 1, 1, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		CU_ASSERT_EQUAL(l->type->forward(l, x, y, 2, 1), LAT_EINVAL);
		CU_ASSERT_EQUAL(l->type->backward(l, x, y, y, x, 2), LAT_EINVAL);
		lat_layer_free(l);
	}
	expect_fail(lat_linear_alloc((lat_shape){0, 1, 1}, 3, 1, 2, err), err, "> 0");
	expect_fail(lat_linear_alloc(in, 0, 1, 2, err), err, "> 0");
	expect_fail(lat_linear_alloc(in, 3, 1, 0, err), err, "> 0");
	lat_layer_free(NULL);
}

/* The whole layer's reference pass of the split tests: x (random), the parameters drawn from seed
 * (gc_bind into a), dout (random), and out and din from one forward and one backward; all new arrays
 * (whole_pass_free). */
typedef struct {
	float *x, *dout, *out, *din;
} whole_pass;

static void whole_pass_run(lat_layer *whole, size_t batch, unsigned long seed, gc_arrays *a, whole_pass *p)
{
	size_t n_in = batch * lat_shape_size(whole->in), n_out = batch * lat_shape_size(whole->out);

	p->x = random_floats(n_in);
	gsl_rng_set(rng, seed);
	CU_ASSERT_EQUAL_FATAL(gc_bind(whole, rng, a), 0);
	p->dout = random_floats(n_out);
	p->out = malloc(n_out * sizeof *p->out);
	p->din = malloc(n_in * sizeof *p->din);
	CU_ASSERT_FATAL(p->x && p->dout && p->out && p->din);
	CU_ASSERT_EQUAL(whole->type->forward(whole, p->x, p->out, batch, 1), LAT_OK);
	CU_ASSERT_EQUAL(whole->type->backward(whole, p->x, p->out, p->dout, p->din, batch), LAT_OK);
}

static void whole_pass_free(whole_pass *p)
{
	free(p->x);
	free(p->dout);
	free(p->out);
	free(p->din);
}

/* The gradients pg of an lc part or window holding positions [q0, q0 + n_own) against the whole layer's
 * wg (n_loc positions, n_k weights per kernel): 1 when its weight gradients, and a per-position bias's,
 * are the whole layer's bits; a channel bias's are added into sum_bias. */
static int same_part_grads(const float *pg, const float *wg, size_t c_out, size_t n_k, size_t n_loc, size_t q0,
			   size_t n_own, int bias, float *sum_bias)
{
	int same = 1;

	for (size_t o = 0; o < c_out; o++) {
		same &= memcmp(pg + o * n_own * n_k, wg + (o * n_loc + q0) * n_k, n_own * n_k * sizeof *pg) == 0;
		if (bias == LAT_LC_BIAS_CHANNEL)
			sum_bias[o] += pg[c_out * n_own * n_k + o];
		else if (bias)
			same &= memcmp(pg + c_out * n_own * n_k + o * n_own, wg + c_out * n_loc * n_k + o * n_loc + q0,
				       n_own * sizeof *pg) == 0;
	}
	return same;
}

/* Parts of an lc layer split by location against the whole layer, for 1 to 4 parts: the parts of one
 * seed hold the whole layer's weights (same bits); their outputs summed are the whole output (same
 * values: one term of each sum is not zero); their weight gradients are the whole layer's (same GEMM per
 * position) and their input gradients and channel-bias gradients summed are the whole layer's to float
 * rounding. */
static void check_parts(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t batch)
{
	enum { MAX_PARTS = 4 };
	lat_layer *whole = lat_lc_alloc(in, c_out, k, stride, bias, batch, NULL);
	gc_arrays a = {0};
	unsigned long seed = gsl_rng_get(rng);
	size_t n_in = batch * lat_shape_size(in), n_out, n_loc, n_k = in.c * k * k;
	float *x, *dout, *out, *din, *sum_out, *sum_din, *part_out, *part_din, *sum_bias;
	whole_pass wp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
	n_out = batch * lat_shape_size(whole->out);
	n_loc = whole->out.h * whole->out.w;
	whole_pass_run(whole, batch, seed, &a, &wp);
	x = wp.x, dout = wp.dout, out = wp.out, din = wp.din;
	sum_out = malloc(n_out * sizeof *sum_out);
	part_out = malloc(n_out * sizeof *part_out);
	sum_din = malloc(n_in * sizeof *sum_din);
	part_din = malloc(n_in * sizeof *part_din);
	sum_bias = calloc(c_out, sizeof *sum_bias);
	CU_ASSERT_FATAL(sum_out && part_out && sum_din && part_din && sum_bias);
	for (size_t parts = 1; parts <= MAX_PARTS; parts++) {
		double e_din = 0, e_bias = 0;
		int w_same = 1, g_same = 1, out_same = 1;
		memset(sum_out, 0, n_out * sizeof *sum_out);
		memset(sum_din, 0, n_in * sizeof *sum_din);
		memset(sum_bias, 0, c_out * sizeof *sum_bias);
		for (size_t r = 0; r < parts; r++) {
			lat_layer *pl = lat_lc_alloc_part(in, c_out, k, stride, bias, batch, r, parts, NULL);
			gc_arrays b = {0};
			lat_lc_geom g;
			size_t n_own;
			CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
			gsl_rng_set(rng, seed);
			CU_ASSERT_EQUAL_FATAL(gc_bind(pl, rng, &b), 0);
			CU_ASSERT_EQUAL(lat_lc_geometry(pl, &g), LAT_OK);
			CU_ASSERT(g.q0 == r * n_loc / parts && g.q1 == (r + 1) * n_loc / parts);
			n_own = g.q1 - g.q0;
			CU_ASSERT_EQUAL(pl->n_params, c_out * n_own * n_k +
							  (bias == LAT_LC_BIAS_CHANNEL ? c_out : bias ? c_out * n_own : 0));
			for (size_t o = 0; o < c_out; o++) {
				w_same &= memcmp(b.w + o * n_own * n_k, a.w + (o * n_loc + g.q0) * n_k,
						 n_own * n_k * sizeof *b.w) == 0;
				if (bias == LAT_LC_BIAS_POSITION)
					w_same &= memcmp(b.w + c_out * n_own * n_k + o * n_own,
							 a.w + c_out * n_loc * n_k + o * n_loc + g.q0, n_own * sizeof *b.w) == 0;
			}
			CU_ASSERT_EQUAL(pl->type->forward(pl, x, part_out, batch, 1), LAT_OK);
			CU_ASSERT_EQUAL(pl->type->backward(pl, x, part_out, dout, part_din, batch), LAT_OK);
			for (size_t i = 0; i < n_out; i++)
				sum_out[i] += part_out[i];
			for (size_t i = 0; i < n_in; i++)
				sum_din[i] += part_din[i];
			g_same &= same_part_grads(b.g, a.g, c_out, n_k, n_loc, g.q0, n_own, bias, sum_bias);
			gc_release(&b);
			lat_layer_free(pl);
		}
		for (size_t i = 0; i < n_out; i++)
			out_same &= sum_out[i] == out[i];
		e_din = max_err(sum_din, din, n_in);
		if (bias == LAT_LC_BIAS_CHANNEL)
			e_bias = max_err(sum_bias, a.g + c_out * n_loc * n_k, c_out);
		CU_ASSERT(w_same);
		CU_ASSERT(out_same);
		CU_ASSERT(g_same);
		CU_ASSERT(e_din < 1e-5);
		CU_ASSERT(e_bias < 1e-5);
	}
	/* parts beyond the positions, a part out of range, a split conv: refused */
	{
		char err[LAT_ERRLEN] = "", want[96];
		CU_ASSERT_PTR_NULL(lat_lc_alloc_part(in, c_out, k, stride, bias, batch, 0, n_loc + 1, err));
		snprintf(want, sizeof want, "cannot be split into %zu parts", n_loc + 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	}
	CU_ASSERT_PTR_NULL(lat_lc_alloc_part(in, c_out, k, stride, bias, batch, 2, 2, NULL));
	CU_ASSERT_PTR_NULL(lat_lc_alloc_part(in, c_out, k, stride, bias, batch, 0, 0, NULL));
	whole_pass_free(&wp);
	free(sum_out);
	free(part_out);
	free(sum_din);
	free(part_din);
	free(sum_bias);
	gc_release(&a);
	lat_layer_free(whole);
}

static void test_parts(void)
{
	check_parts((lat_shape){3, 9, 8}, 4, 3, 1, LAT_LC_BIAS_POSITION, 7);
	check_parts((lat_shape){2, 9, 8}, 3, 5, 2, LAT_LC_BIAS_CHANNEL, 5);
	check_parts((lat_shape){1, 5, 5}, 2, 3, 1, LAT_LC_BIAS_NONE, 3);
}

/* Windows of an lc (shared = 0) or conv layer (strips of output rows, each reading input rows [r0, r1),
 * `margin` rows more than it needs on each side where the input has them) against the whole layer,
 * for 1 to 4 strips: the same weights (bits); the whole output's rows (lc: bits, the same GEMM per
 * position on the same patch; conv: to float rounding); lc: the same weight gradients (bits), conv: the
 * strips' weight gradients added the whole layer's (rounding); and the input gradients added at their
 * rows the whole layer's din to float rounding, exactly 0 in the margin rows; a window short of a row
 * is refused. */
static void check_windows(int shared, lat_shape in, size_t c_out, size_t k, size_t stride, int bias,
			  size_t batch, size_t margin)
{
	enum { MAX_STRIPS = 4 };
	lat_layer *(*win_alloc)(lat_shape, size_t, size_t, size_t, int, size_t, size_t, size_t, size_t, size_t,
				char *) = shared ? lat_conv_alloc_window : lat_lc_alloc_window;
	lat_layer *whole = shared ? lat_conv_alloc(in, c_out, k, stride, bias, batch, NULL)
				  : lat_lc_alloc(in, c_out, k, stride, bias, batch, NULL);
	gc_arrays a = {0};
	unsigned long seed = gsl_rng_get(rng);
	size_t n_in = batch * lat_shape_size(in), n_out, n_loc, n_k = in.c * k * k, h_out, w_out;
	size_t plane = in.h * in.w;
	float *x, *dout, *out, *din, *sum_din, *wx, *wout, *wdout, *wdin, *sum_bias, *sum_g;
	whole_pass wp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
	h_out = whole->out.h;
	w_out = whole->out.w;
	n_loc = h_out * w_out;
	n_out = batch * lat_shape_size(whole->out);
	whole_pass_run(whole, batch, seed, &a, &wp);
	x = wp.x, dout = wp.dout, out = wp.out, din = wp.din;
	sum_din = malloc(n_in * sizeof *sum_din);
	wx = malloc(n_in * sizeof *wx);
	wout = malloc(n_out * sizeof *wout);
	wdout = malloc(n_out * sizeof *wdout);
	wdin = malloc(n_in * sizeof *wdin);
	sum_bias = calloc(c_out, sizeof *sum_bias);
	sum_g = calloc(whole->n_params, sizeof *sum_g);
	CU_ASSERT_FATAL(sum_din && wx && wout && wdout && wdin && sum_bias && sum_g);
	for (size_t strips = 1; strips <= MAX_STRIPS && strips <= h_out; strips++) {
		int w_same = 1, g_same = 1, out_same = 1, margin_zero = 1;
		double e_out = 0;
		memset(sum_din, 0, n_in * sizeof *sum_din);
		memset(sum_bias, 0, c_out * sizeof *sum_bias);
		memset(sum_g, 0, whole->n_params * sizeof *sum_g);
		for (size_t r = 0; r < strips; r++) {
			size_t o0 = r * h_out / strips, o1 = (r + 1) * h_out / strips, n0, n1, r0, r1, rows, n_own;
			size_t wplane;
			gc_arrays b = {0};
			lat_layer *wl;
			lat_lc_geom g;
			char err[LAT_ERRLEN] = "";
			lat_lc_window_rows(in.h, k, stride, o0, o1, &n0, &n1);
			r0 = n0 > margin ? n0 - margin : 0;
			r1 = n1 + margin < in.h ? n1 + margin : in.h;
			rows = r1 - r0;
			/* one row short on either side is refused, naming the rows */
			err[0] = 0;
			if (n0 > 0 && n0 + 2 <= in.h)
				CU_ASSERT_PTR_NULL(win_alloc(in, c_out, k, stride, bias, batch, o0, o1, n0 + 1,
							     r1 > n0 + 1 ? r1 : n0 + 2, err));
			CU_ASSERT(n0 == 0 || n0 + 2 > in.h || strstr(err, "more than the window's") != NULL);
			if (n1 > 1)
				CU_ASSERT_PTR_NULL(win_alloc(in, c_out, k, stride, bias, batch, o0, o1, r0 < n1 - 1 ? r0 : 0,
							     n1 - 1, NULL));
			wl = win_alloc(in, c_out, k, stride, bias, batch, o0, o1, r0, r1, err);
			CU_ASSERT_PTR_NOT_NULL_FATAL(wl);
			CU_ASSERT(wl->in.c == in.c && wl->in.h == rows && wl->in.w == in.w);
			CU_ASSERT(wl->out.c == c_out && wl->out.h == o1 - o0 && wl->out.w == w_out);
			CU_ASSERT_EQUAL(lat_lc_geometry(wl, &g), LAT_OK);
			CU_ASSERT(g.q0 == o0 * w_out && g.q1 == o1 * w_out && g.r0 == r0 && g.r1 == r1);
			CU_ASSERT(g.h_in == in.h && g.h_out == h_out);
			n_own = (o1 - o0) * w_out;
			gsl_rng_set(rng, seed);
			CU_ASSERT_EQUAL_FATAL(gc_bind(wl, rng, &b), 0);
			if (shared) /* a replica: the whole layer's weights */
				w_same &= wl->n_params == whole->n_params &&
					  memcmp(b.w, a.w, whole->n_params * sizeof *b.w) == 0;
			for (size_t o = 0; o < c_out && !shared; o++) {
				w_same &= memcmp(b.w + o * n_own * n_k, a.w + (o * n_loc + g.q0) * n_k,
						 n_own * n_k * sizeof *b.w) == 0;
				if (bias == LAT_LC_BIAS_POSITION)
					w_same &= memcmp(b.w + c_out * n_own * n_k + o * n_own,
							 a.w + c_out * n_loc * n_k + o * n_loc + g.q0, n_own * sizeof *b.w) == 0;
			}
			/* the window's input: rows [r0, r1) of every sample and channel */
			wplane = rows * in.w;
			for (size_t bc = 0; bc < batch * in.c; bc++)
				memcpy(wx + bc * wplane, x + bc * plane + r0 * in.w, wplane * sizeof *wx);
			/* its output gradient: rows [o0, o1) of dout */
			for (size_t bo = 0; bo < batch * c_out; bo++)
				memcpy(wdout + bo * n_own, dout + bo * n_loc + g.q0, n_own * sizeof *wdout);
			CU_ASSERT_EQUAL(wl->type->forward(wl, wx, wout, batch, 1), LAT_OK);
			for (size_t bo = 0; bo < batch * c_out; bo++) {
				out_same &= memcmp(wout + bo * n_own, out + bo * n_loc + g.q0, n_own * sizeof *out) == 0;
				e_out = fmax(e_out, max_err(wout + bo * n_own, out + bo * n_loc + g.q0, n_own));
			}
			memset(wdin, 0x7f, n_in * sizeof *wdin); /* garbage: backward writes every value */
			CU_ASSERT_EQUAL(wl->type->backward(wl, wx, wout, wdout, wdin, batch), LAT_OK);
			for (size_t bc = 0; bc < batch * in.c; bc++)
				for (size_t i = 0; i < wplane; i++) {
					size_t y = r0 + i / in.w;
					if (y < n0 || y >= n1)
						margin_zero &= wdin[bc * wplane + i] == 0;
					sum_din[bc * plane + r0 * in.w + i] += wdin[bc * wplane + i];
				}
			for (size_t j = 0; j < wl->n_params && shared; j++)
				sum_g[j] += b.g[j];
			if (!shared)
				g_same &= same_part_grads(b.g, a.g, c_out, n_k, n_loc, g.q0, n_own, bias, sum_bias);
			gc_release(&b);
			lat_layer_free(wl);
		}
		CU_ASSERT(w_same);
		CU_ASSERT(shared ? e_out < 1e-5 : out_same);
		CU_ASSERT(g_same);
		CU_ASSERT(!shared || max_err(sum_g, a.g, whole->n_params) < 1e-5);
		CU_ASSERT(margin_zero);
		CU_ASSERT(max_err(sum_din, din, n_in) < 1e-5);
		if (bias == LAT_LC_BIAS_CHANNEL && !shared)
			CU_ASSERT(max_err(sum_bias, a.g + c_out * n_loc * n_k, c_out) < 1e-5);
	}
	/* rows out of range */
	CU_ASSERT_PTR_NULL(win_alloc(in, c_out, k, stride, bias, batch, 0, h_out + 1, 0, in.h, NULL));
	CU_ASSERT_PTR_NULL(win_alloc(in, c_out, k, stride, bias, batch, 1, 1, 0, in.h, NULL));
	CU_ASSERT_PTR_NULL(win_alloc(in, c_out, k, stride, bias, batch, 0, 1, 0, in.h + 1, NULL));
	whole_pass_free(&wp);
	free(sum_din);
	free(wx);
	free(wout);
	free(wdout);
	free(wdin);
	free(sum_bias);
	free(sum_g);
	gc_release(&a);
	lat_layer_free(whole);
}

static void test_windows(void)
{
	size_t r0, r1;

	/* hand-computed rows: k 5 (pad 2), stride 1, 14 rows: outputs [3, 7) read [1, 9); [0, 2) read
	 * [0, 4); stride 2, k 5 on 9 rows: outputs [2, 5) read [2, 9) */
	lat_lc_window_rows(14, 5, 1, 3, 7, &r0, &r1);
	CU_ASSERT(r0 == 1 && r1 == 9);
	lat_lc_window_rows(14, 5, 1, 0, 2, &r0, &r1);
	CU_ASSERT(r0 == 0 && r1 == 4);
	lat_lc_window_rows(9, 5, 2, 2, 5, &r0, &r1);
	CU_ASSERT(r0 == 2 && r1 == 9);
	for (int shared = 0; shared < 2; shared++) {
		check_windows(shared, (lat_shape){3, 9, 8}, 4, 3, 1, LAT_LC_BIAS_POSITION, 7, 0);
		check_windows(shared, (lat_shape){3, 9, 8}, 4, 3, 1, LAT_LC_BIAS_CHANNEL, 5, 1);
		check_windows(shared, (lat_shape){2, 9, 8}, 3, 5, 2, LAT_LC_BIAS_CHANNEL, 5, 2);
		check_windows(shared, (lat_shape){1, 6, 5}, 2, 5, 1, LAT_LC_BIAS_NONE, 3, 1);
		check_windows(shared, (lat_shape){2, 7, 6}, 3, 1, 2, LAT_LC_BIAS_POSITION, 4, 1);
	}
}

static CU_TestInfo tests[] = {
    {"lc with one kernel everywhere equals conv (outputs, din, dW, bias)", test_lc_equals_conv},
    {"lc: finite-difference gradients", test_gradcheck_lc},
    {"conv: finite-difference gradients", test_gradcheck_conv},
    {"linear: finite-difference gradients", test_gradcheck_linear},
    {"conv and lc: hand-computed 3x3 on 3x3 with padding", test_hand_computed},
    {"linear: hand-computed values, accumulation", test_linear_values},
    {"bit-identical results for 1, 2 and 3 threads, and in a shared scratch", test_threads},
    {"init: PyTorch uniform bounds", test_init},
    {"geometry and shapes", test_geometry},
    {"lc split by location: parts equal the whole layer", test_parts},
    {"lc and conv windows of rows: the whole layer's rows, gradients added", test_windows},
    {"constructor and batch errors", test_errors},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "lc", .pInitFunc = suite_init, .pCleanupFunc = suite_clean, .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	openblas_set_num_threads(1);
	return test_run(suites);
}

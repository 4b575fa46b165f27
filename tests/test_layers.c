/* test_layers.c: relu, maxpool, bn, avgpool, resblock and softmax cross-entropy against hand-computed
 * values and finite-difference gradients (tests/gradcheck.h), plus their error paths. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lateral/err.h"
#include "lateral/layer.h"
#include "lateral/loss.h"
#include "gradcheck.h"
#include "runner.h"

/* lat_loss_softmax_xent for labels known to be valid: the loss, asserting success */
static double xent(const float *z, const int *y, size_t batch, size_t k, float *d, size_t *n_correct)
{
	double loss = NAN;
	CU_ASSERT_EQUAL(lat_loss_softmax_xent(z, y, batch, k, d, &loss, n_correct, NULL), LAT_OK);
	return loss;
}

#define SEED 20240612UL
#define GC_STEP 1e-2 /* finite-difference step in float32 */
/* Largest accepted gradient error (relative, see gradcheck.h) away from kinks: passing checks stay
 * below 1e-4, while scaling one gradient by 0.98 (tried on purpose) gives 2e-2. */
#define GC_TOL 1e-3
#define EPS_BN 1e-5

static gsl_rng *rng_new(void)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	if (r)
		gsl_rng_set(r, SEED);
	return r;
}

static void fill_uniform(float *x, size_t n, double lo, double hi, gsl_rng *r)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(lo + (hi - lo) * gsl_rng_uniform(r));
}

/* Distinct values 0.1 apart in random order, centred on 0: no ties or near-ties within GC_STEP. */
static void fill_distinct(float *x, size_t n, gsl_rng *r)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.1 * ((double)i - (double)n / 2));
	for (size_t i = n; i > 1; i--) {
		size_t j = gsl_rng_uniform_int(r, i);
		float t = x[i - 1];
		x[i - 1] = x[j];
		x[j] = t;
	}
}

/* Sets the OpenMP team size for the following calls and returns the previous one. Finite-difference
 * loops run thousands of tiny forwards; with a thread team per call they crawl on a loaded machine
 * (make -j check), so they run on one thread and test_threads covers the threaded paths. */
static int set_threads(int n)
{
#ifdef _OPENMP
	int old = omp_get_max_threads();
	omp_set_num_threads(n);
	return old;
#else
	(void)n;
	return 1;
#endif
}

/* Gradient check of l (bound and initialised here) at input x of batch samples; returns the error. */
static double gc_layer(lat_layer *l, float *x, size_t batch, gsl_rng *r)
{
	gc_arrays a = {0};
	double e = INFINITY;

	int n_thr = set_threads(1);

	if (gc_bind(l, r, &a) == 0)
		e = gc_check(l, x, batch, r, GC_STEP);
	gc_release(&a);
	set_threads(n_thr);
	return e;
}

/* ---- relu ---- */

static void test_relu_values(void)
{
	char err[LAT_ERRLEN];
	lat_layer *l = lat_relu_alloc((lat_shape){1, 2, 2}, 1, err);
	float x[4] = {-1, 0, 2, -0.5f}, y[4], dy[4] = {1, 2, 3, 4}, dx[4];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_STRING_EQUAL(l->type->name, "relu");
	CU_ASSERT_EQUAL(l->n_params, 0);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, 1, 1), 0);
	CU_ASSERT(y[0] == 0 && y[1] == 0 && y[2] == 2 && y[3] == 0);
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx, 1), 0);
	CU_ASSERT(dx[0] == 0 && dx[1] == 0 && dx[2] == 3 && dx[3] == 0);
	lat_layer_free(l);
}

static void test_relu_grad(void)
{
	gsl_rng *r = rng_new();
	lat_layer *l = lat_relu_alloc((lat_shape){2, 3, 4}, 3, NULL);
	float x[3 * 24];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	/* |x| >= 0.1, so x +- GC_STEP never crosses the kink. */
	for (size_t i = 0; i < 3 * 24; i++)
		x[i] = (float)((i % 2 ? -1 : 1) * (0.1 + gsl_rng_uniform(r)));
	CU_ASSERT(gc_layer(l, x, 3, r) < GC_TOL);
	lat_layer_free(l);
	gsl_rng_free(r);
}

/* ---- max pooling ---- */

static void test_maxpool_values(void)
{
	/* Channel 0 has distinct maxima; channel 1 has a tie in every window (the first one wins). */
	const float x[2 * 16] = {1, 3, 2, 0, 4, 2, 1, 5, 0, 1, 7, 6, 2, 9, 3, 8,
				 2, 2, 0, 1, 2, 2, 1, 0, 3, 1, 4, 4, 0, 3, 4, 4};
	const float want[8] = {4, 5, 9, 8, 2, 1, 3, 4};
	const float dy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	float y[8], dx[32], want_dx[32] = {0};
	lat_layer *l = lat_maxpool_alloc((lat_shape){2, 4, 4}, 2, 1, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT(l->out.c == 2 && l->out.h == 2 && l->out.w == 2);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, 1, 1), 0);
	CU_ASSERT(memcmp(y, want, sizeof y) == 0);
	want_dx[4] = 1;	      /* 4 at (1, 0) */
	want_dx[7] = 2;	      /* 5 at (1, 3) */
	want_dx[13] = 3;      /* 9 at (3, 1) */
	want_dx[15] = 4;      /* 8 at (3, 3) */
	want_dx[16 + 0] = 5;  /* 2 2 / 2 2: first */
	want_dx[16 + 3] = 6;  /* 0 1 / 1 0: (0, 3) before (1, 2) */
	want_dx[16 + 8] = 7;  /* 3 1 / 0 3: (2, 0) before (3, 1) */
	want_dx[16 + 10] = 8; /* 4 4 / 4 4: first */
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx, 1), 0);
	CU_ASSERT(memcmp(dx, want_dx, sizeof dx) == 0);
	lat_layer_free(l);

	/* Floor division: 5x7 with k = 2 gives 2x3; the last row and column are dropped. */
	l = lat_maxpool_alloc((lat_shape){1, 5, 7}, 2, 1, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT(l->out.h == 2 && l->out.w == 3);
	lat_layer_free(l);
}

static void test_maxpool_grad(void)
{
	gsl_rng *r = rng_new();
	lat_layer *l = lat_maxpool_alloc((lat_shape){2, 6, 5}, 2, 3, NULL);
	float x[3 * 60];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	fill_distinct(x, 3 * 60, r);
	CU_ASSERT(gc_layer(l, x, 3, r) < GC_TOL);
	lat_layer_free(l);
	l = lat_maxpool_alloc((lat_shape){2, 6, 5}, 3, 3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT(gc_layer(l, x, 3, r) < GC_TOL);
	lat_layer_free(l);
	gsl_rng_free(r);
}

/* ---- batch normalisation ---- */

static void test_bn_normalises(void)
{
	gsl_rng *r = rng_new();
	lat_layer *l = lat_bn_alloc((lat_shape){3, 2, 3}, 0.1, EPS_BN, 4, NULL);
	gc_arrays a = {0};
	float x[4 * 18], y[4 * 18];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->n_params, 6);
	CU_ASSERT_EQUAL(l->n_buffers, 6);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	for (size_t c = 0; c < 3; c++) {
		CU_ASSERT(a.w[c] == 1 && a.w[3 + c] == 0);     /* gamma, beta */
		CU_ASSERT(a.buf[c] == 0 && a.buf[3 + c] == 1); /* running mean, var */
	}
	/* Channel c has mean ~5c and scale ~c + 1, so normalisation has real work to do. */
	for (size_t b = 0; b < 4; b++)
		for (size_t c = 0; c < 3; c++)
			fill_uniform(x + b * 18 + c * 6, 6, 5.0 * c - (c + 1), 5.0 * c + (c + 1), r);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, 4, 1), 0);
	for (size_t c = 0; c < 3; c++) {
		double m = 0, v = 0;
		for (size_t b = 0; b < 4; b++)
			for (size_t i = 0; i < 6; i++)
				m += y[b * 18 + c * 6 + i];
		m /= 24;
		for (size_t b = 0; b < 4; b++)
			for (size_t i = 0; i < 6; i++)
				v += (y[b * 18 + c * 6 + i] - m) * (y[b * 18 + c * 6 + i] - m);
		v /= 24;
		CU_ASSERT_DOUBLE_EQUAL(m, 0, 1e-6);
		/* v = var / (var + eps) with var >= 0.1 here */
		CU_ASSERT_DOUBLE_EQUAL(v, 1, 2e-4);
	}
	gc_release(&a);
	lat_layer_free(l);
	gsl_rng_free(r);
}

/* Three training batches update the running statistics (momentum 0.1); eval then uses them. */
static void test_bn_running(void)
{
	/* 2 channels x 1 x 2, batch 2: channel 0 of a batch is {1, 2, 3, 4} etc., channel 1 is 10x. */
	const float batches[3][8] = {
	    {1, 2, 10, 20, 3, 4, 30, 40}, {0, 0, 0, 0, 0, 4, 0, 40}, {-2, 2, -20, 20, -2, 2, -20, 20}};
	/* By hand: means 2.5, 1, 0 and unbiased variances 5/3, 4, 16/3 (x100 for channel 1):
	 * mean 0 -> 0.25 -> 0.325 -> 0.2925, var 1 -> 1.0666.. -> 1.36 -> 1.757333.. */
	const double rm[2] = {0.2925, 2.925}, rv[2] = {1.7573333333333334, 103.56233333333336};
	const float x[8] = {1, -1, 5, 50, 0, 3, -7, 0}, dy[8] = {1, -2, 3, 0.5f, 2, 1, -1, 4};
	float y[8], dx[8];
	gsl_rng *r = rng_new();
	lat_layer *l = lat_bn_alloc((lat_shape){2, 1, 2}, 0.1, EPS_BN, 2, NULL);
	gc_arrays a = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	for (int k = 0; k < 3; k++)
		CU_ASSERT_EQUAL(l->type->forward(l, batches[k], y, 2, 1), 0);
	for (int c = 0; c < 2; c++) {
		CU_ASSERT_DOUBLE_EQUAL(a.buf[c], rm[c], 1e-6 * (1 + rm[c]));
		CU_ASSERT_DOUBLE_EQUAL(a.buf[2 + c], rv[c], 1e-6 * rv[c]);
	}
	a.w[0] = 2; /* gamma */
	a.w[1] = -1;
	a.w[2] = 0.5f; /* beta */
	a.w[3] = 3;
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, 2, 0), 0);
	for (size_t b = 0; b < 2; b++) {
		for (size_t c = 0; c < 2; c++) {
			for (size_t i = 0; i < 2; i++) {
				size_t j = b * 4 + c * 2 + i;
				double want = a.w[c] * (x[j] - rm[c]) / sqrt(rv[c] + EPS_BN) + a.w[2 + c];
				CU_ASSERT_DOUBLE_EQUAL(y[j], want, 1e-5 * (1 + fabs(want)));
			}
		}
	}
	/* Eval mode leaves the running statistics alone and is affine per channel. */
	CU_ASSERT_DOUBLE_EQUAL(a.buf[0], rm[0], 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(a.buf[3], rv[1], 1e-4);
	memset(a.g, 0, 4 * sizeof *a.g);
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx, 2), 0);
	for (size_t c = 0; c < 2; c++) {
		double sdy = 0, sdyx = 0;
		for (size_t b = 0; b < 2; b++) {
			for (size_t i = 0; i < 2; i++) {
				size_t j = b * 4 + c * 2 + i;
				double xhat = (x[j] - rm[c]) / sqrt(rv[c] + EPS_BN);
				CU_ASSERT_DOUBLE_EQUAL(dx[j], a.w[c] * dy[j] / sqrt(rv[c] + EPS_BN), 1e-5);
				sdy += dy[j];
				sdyx += dy[j] * xhat;
			}
		}
		CU_ASSERT_DOUBLE_EQUAL(a.g[c], sdyx, 1e-5 * (1 + fabs(sdyx)));
		CU_ASSERT_DOUBLE_EQUAL(a.g[2 + c], sdy, 1e-6);
	}
	gc_release(&a);
	lat_layer_free(l);
	gsl_rng_free(r);
}

static void test_bn_grad(void)
{
	gsl_rng *r = rng_new();
	lat_layer *l = lat_bn_alloc((lat_shape){3, 2, 2}, 0.1, EPS_BN, 3, NULL);
	gc_arrays a = {0};
	float x[3 * 12];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	fill_uniform(x, 3 * 12, -1, 2, r);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	/* Non-trivial gamma and beta so that both enter the gradients. */
	fill_uniform(a.w, 6, 0.5, 1.5, r);
	CU_ASSERT(gc_check(l, x, 3, r, GC_STEP) < GC_TOL); /* small: threads never start (PAR_MIN) */
	gc_release(&a);
	lat_layer_free(l);
	/* One value per channel and sample (1x1 maps), batch 3: statistics over the batch only. Values
	 * at least 1 apart keep each channel's standard deviation >> GC_STEP (the loss is not flat). */
	l = lat_bn_alloc((lat_shape){4, 1, 1}, 0.1, EPS_BN, 3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	fill_distinct(x, 12, r);
	for (size_t i = 0; i < 12; i++)
		x[i] *= 10;
	CU_ASSERT(gc_layer(l, x, 3, r) < GC_TOL);
	lat_layer_free(l);
	gsl_rng_free(r);
}

/* ---- global average pooling ---- */

static void test_avgpool(void)
{
	gsl_rng *r = rng_new();
	lat_layer *l = lat_avgpool_alloc((lat_shape){2, 2, 2}, 3, NULL);
	const float x[8] = {1, 2, 3, 4, -1, 0, 0, 5}, dy[2] = {4, -8};
	float y[2], dx[8], xr[3 * 30];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT(l->out.c == 2 && l->out.h == 1 && l->out.w == 1);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, 1, 1), 0);
	CU_ASSERT(y[0] == 2.5f && y[1] == 1);
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx, 1), 0);
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT(dx[i] == 1 && dx[4 + i] == -2);
	lat_layer_free(l);
	l = lat_avgpool_alloc((lat_shape){2, 3, 5}, 3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	fill_uniform(xr, 3 * 30, -1, 1, r);
	CU_ASSERT(gc_layer(l, xr, 3, r) < GC_TOL);
	lat_layer_free(l);
	gsl_rng_free(r);
}

/* ---- softmax cross-entropy ---- */

static void test_xent_values(void)
{
	/* Sample 0: probabilities 1/6, 2/6, 3/6, label 2. Sample 1: huge logits (stability), label 1. */
	const float z[6] = {0, (float)log(2.0), (float)log(3.0), 1005, 1001, 1001};
	const int y[2] = {2, 1};
	const double p1[3] = {1 / (1 + 2 * exp(-4.0)), exp(-4.0) / (1 + 2 * exp(-4.0)),
			      exp(-4.0) / (1 + 2 * exp(-4.0))};
	const double want_d[6] = {1.0 / 12, 2.0 / 12, -0.25, p1[0] / 2, (p1[1] - 1) / 2, p1[2] / 2};
	const float tie[3] = {1, 1, 0};
	const int y_tie[2] = {0, 1};
	float d[6];
	size_t n_correct = 99;
	double loss = xent(z, y, 2, 3, d, &n_correct);

	CU_ASSERT_DOUBLE_EQUAL(loss, (log(2.0) + 4 + log(1 + 2 * exp(-4.0))) / 2, 1e-6);
	CU_ASSERT_EQUAL(n_correct, 1); /* sample 0 right, sample 1 predicts class 0 */
	for (int j = 0; j < 6; j++)
		CU_ASSERT_DOUBLE_EQUAL(d[j], want_d[j], 1e-7);
	/* One sample: the loss is -log p_y. */
	CU_ASSERT_DOUBLE_EQUAL(xent(z, y, 1, 3, NULL, NULL), log(2.0), 1e-6);
	CU_ASSERT(isfinite(xent(z + 3, y + 1, 1, 3, NULL, NULL)));
	/* Ties: the first maximum is the prediction. */
	xent(tie, y_tie, 1, 3, NULL, &n_correct);
	CU_ASSERT_EQUAL(n_correct, 1);
	xent(tie, y_tie + 1, 1, 3, NULL, &n_correct);
	CU_ASSERT_EQUAL(n_correct, 0);
	/* A label outside [0, n_classes) is an input error with a message, not an assertion. */
	{
		const int bad[2] = {3, -1};
		char err[LAT_ERRLEN] = "";
		CU_ASSERT_EQUAL(lat_loss_softmax_xent(z, bad, 1, 3, NULL, &loss, NULL, err), LAT_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "sample 1 of the batch has label 3, outside [0, 3)"));
		CU_ASSERT_EQUAL(lat_loss_softmax_xent(z, bad + 1, 1, 3, NULL, &loss, NULL, err), LAT_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "label -1"));
	}
}

static void test_xent_grad(void)
{
	enum { B = 4, K = 5 };
	gsl_rng *r = rng_new();
	float z[B * K], d[B * K];
	int y[B] = {0, 4, 2, 2};
	double worst = 0;

	fill_uniform(z, B * K, -3, 3, r);
	xent(z, y, B, K, d, NULL);
	for (size_t k = 0; k < B * K; k++) {
		float keep = z[k];
		double lp, lm, num;
		z[k] = keep + (float)GC_STEP;
		lp = xent(z, y, B, K, NULL, NULL);
		z[k] = keep - (float)GC_STEP;
		lm = xent(z, y, B, K, NULL, NULL);
		z[k] = keep;
		num = (lp - lm) / (2 * GC_STEP);
		worst = fmax(worst, fabs(d[k] - num));
	}
	/* Gradients are O(1 / B); the central difference error is O(h^2) = 1e-4 relative. */
	CU_ASSERT(worst < 1e-4);
	gsl_rng_free(r);
}

/* ---- kink-aware finite differences ----
 * Behind a batch norm, one parameter moves every pre-activation of its channel, so even a small step
 * often carries some relu input across its kink, and the central difference is then off by O(1)
 * whatever the step. Such an element is recognised by its one-sided differences disagreeing: a kink
 * at distance d < h on one side, with slope change D, shifts that one-sided difference by
 * D (h - d) / h and the central one by half as much. Elements whose one-sided differences differ by
 * more than KINK_TOL are skipped (strong curvature can trip this too); the others must match within
 * FD_TOL, and at most two thirds may be skipped (up to 8% are with SEED; over 40 other seeds at most
 * 57%). Kinks on both sides that cancel go unnoticed; they hit 1 of 40 seeds at h = 1e-3, none at
 * FD_STEP. */
#define KINK_TOL 1e-2
#define FD_STEP 5e-4 /* float32 noise in the differences stays ~1e-3 */
#define FD_TOL 1e-2  /* KINK_TOL / 2 from undetected kinks plus noise; passing checks stay below 6e-3 */

typedef double (*loss_fn)(void *ctx);

typedef struct {
	double worst; /* largest error among the smooth elements */
	size_t n, n_skip;
} fd_stats;

/* Compares analytic with the differences of f at v +- h (f at v is l0); updates st. */
static void fd_entry(float *v, double analytic, loss_fn f, void *ctx, double l0, double h, fd_stats *st)
{
	float keep = *v;
	double lp, lm, num, scale;

	*v = keep + (float)h;
	lp = f(ctx);
	*v = keep - (float)h;
	lm = f(ctx);
	*v = keep;
	num = (lp - lm) / (2 * h);
	scale = fmax(1, fabs(num));
	st->n++;
	if (fabs((lp - l0) - (l0 - lm)) / h / scale > KINK_TOL) {
		st->n_skip++;
		return;
	}
	st->worst = fmax(st->worst, fabs(analytic - num) / scale);
}

static int fd_ok(const fd_stats *st)
{
	return st->worst < FD_TOL && 3 * st->n_skip <= 2 * st->n;
}

typedef struct {
	lat_layer *l;
	const float *in, *proj;
	float *out;
	size_t batch;
} layer_ctx;

static double layer_loss(void *ctx)
{
	layer_ctx *c = ctx;
	return gc_loss(c->l, c->in, c->out, c->proj, c->batch);
}

/* gc_check of a bound layer l at x, skipping elements at kinks. */
static fd_stats fd_layer(lat_layer *l, float *x, size_t batch, gsl_rng *r, double h)
{
	size_t n_in = batch * lat_shape_size(l->in), n_out = batch * lat_shape_size(l->out);
	float *out = malloc(n_out * sizeof *out), *proj = malloc(n_out * sizeof *proj);
	float *din = malloc(n_in * sizeof *din);
	layer_ctx c = {l, x, proj, out, batch};
	fd_stats st = {INFINITY, 0, 0};
	int n_thr = set_threads(1);
	double l0;

	if (!out || !proj || !din)
		goto out;
	st.worst = 0;
	for (size_t k = 0; k < n_out; k++)
		proj[k] = (float)(2 * gsl_rng_uniform(r) - 1);
	memset(l->g, 0, l->n_params * sizeof *l->g);
	l0 = layer_loss(&c);
	l->type->backward(l, x, out, proj, din, batch);
	for (size_t k = 0; k < n_in; k++)
		fd_entry(x + k, din[k], layer_loss, &c, l0, h, &st);
	for (size_t k = 0; k < l->n_params; k++)
		fd_entry(l->w + k, l->g[k], layer_loss, &c, l0, h, &st);
out:
	set_threads(n_thr);
	free(out);
	free(proj);
	free(din);
	return st;
}

/* ---- residual block ---- */

/* Gradient check of a residual block at a random input. */
static void resblock_grad(lat_shape in, size_t c_out, size_t stride, int lc)
{
	gsl_rng *r = rng_new();
	lat_layer *l = lat_resblock_alloc(in, c_out, stride, lc, 0.1, EPS_BN, 3, NULL);
	float *x = malloc(3 * lat_shape_size(in) * sizeof *x);
	gc_arrays a = {0};
	fd_stats st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	fill_uniform(x, 3 * lat_shape_size(in), -1, 1, r);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	st = fd_layer(l, x, 3, r, FD_STEP);
	CU_ASSERT(fd_ok(&st));
	if (getenv("FD_VERBOSE") || !fd_ok(&st))
		fprintf(stderr, "resblock lc=%d stride=%zu: error %g, %zu of %zu skipped\n", lc, stride,
			st.worst, st.n_skip, st.n);
	gc_release(&a);
	free(x);
	lat_layer_free(l);
	gsl_rng_free(r);
}

static void test_resblock_grad_conv(void)
{
	resblock_grad((lat_shape){3, 4, 5}, 3, 1, 0); /* identity shortcut */
	resblock_grad((lat_shape){2, 5, 5}, 3, 2, 0); /* projection: stride 2 and more channels */
	resblock_grad((lat_shape){2, 4, 4}, 3, 1, 0); /* projection: channels only */
}

static void test_resblock_grad_lc(void)
{
	resblock_grad((lat_shape){2, 4, 4}, 2, 1, 1); /* identity shortcut */
	resblock_grad((lat_shape){2, 5, 4}, 3, 2, 1); /* lc 3x3, conv projection */
	resblock_grad((lat_shape){2, 5, 4}, 3, 2, 2); /* lc 3x3, lc projection */
}

/* Parameter counts, binding order (layer.h) and the forward of the block against its parts. */
static void test_resblock_parts(void)
{
	enum { B = 2 };
	const lat_shape in = {2, 5, 5};
	gsl_rng *r = rng_new();
	lat_layer *l = lat_resblock_alloc(in, 3, 2, 0, 0.1, EPS_BN, B, NULL);
	lat_layer *part[6] = {NULL};
	gc_arrays a = {0};
	float x[B * 50], y[B * 27], t[4][B * 27], sc[B * 27];
	size_t off = 0, boff = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_STRING_EQUAL(l->type->name, "resblock");
	CU_ASSERT(l->out.c == 3 && l->out.h == 3 && l->out.w == 3);
	/* conv1 3x2x3x3, bn1 2x3, conv2 3x3x3x3, bn2 2x3, proj 3x2, proj bn 2x3 */
	CU_ASSERT_EQUAL(l->n_params, 54 + 6 + 81 + 6 + 6 + 6);
	CU_ASSERT_EQUAL(l->n_buffers, 3 * 6);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	/* Each bn's gamma is 1 and beta 0 at the documented offsets; running mean 0, var 1. */
	for (size_t c = 0; c < 3; c++) {
		CU_ASSERT(a.w[54 + c] == 1 && a.w[57 + c] == 0);
		CU_ASSERT(a.w[141 + c] == 1 && a.w[144 + c] == 0);
		CU_ASSERT(a.w[153 + c] == 1 && a.w[156 + c] == 0);
		for (size_t k = 0; k < 3; k++)
			CU_ASSERT(a.buf[6 * k + c] == 0 && a.buf[6 * k + 3 + c] == 1);
	}
	/* Perturb gammas and betas so that a wrong binding would show in the output. */
	fill_uniform(a.w + 54, 6, 0.5, 1.5, r);
	fill_uniform(a.w + 141, 6, 0.5, 1.5, r);
	fill_uniform(a.w + 153, 6, 0.5, 1.5, r);
	part[0] = lat_conv_alloc(in, 3, 3, 2, 0, B, NULL);
	part[1] = lat_bn_alloc((lat_shape){3, 3, 3}, 0.1, EPS_BN, B, NULL);
	part[2] = lat_conv_alloc((lat_shape){3, 3, 3}, 3, 3, 1, 0, B, NULL);
	part[3] = lat_bn_alloc((lat_shape){3, 3, 3}, 0.1, EPS_BN, B, NULL);
	part[4] = lat_conv_alloc(in, 3, 1, 2, 0, B, NULL);
	part[5] = lat_bn_alloc((lat_shape){3, 3, 3}, 0.1, EPS_BN, B, NULL);
	for (int k = 0; k < 6; k++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(part[k]);
		lat_layer_bind(part[k], a.w + off, a.g + off, a.buf + boff);
		off += part[k]->n_params;
		boff += part[k]->n_buffers;
	}
	CU_ASSERT_EQUAL(off, l->n_params);
	fill_uniform(x, B * 50, -1, 1, r);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, B, 0), 0);
	/* By hand, in eval mode (the parts must not move the running statistics first). */
	part[0]->type->forward(part[0], x, t[0], B, 0);
	part[1]->type->forward(part[1], t[0], t[1], B, 0);
	for (size_t i = 0; i < B * 27; i++)
		t[1][i] = t[1][i] > 0 ? t[1][i] : 0;
	part[2]->type->forward(part[2], t[1], t[2], B, 0);
	part[3]->type->forward(part[3], t[2], t[3], B, 0);
	part[4]->type->forward(part[4], x, t[0], B, 0);
	part[5]->type->forward(part[5], t[0], sc, B, 0);
	for (size_t i = 0; i < B * 27; i++) {
		float s = t[3][i] + sc[i];
		CU_ASSERT_DOUBLE_EQUAL(y[i], s > 0 ? s : 0, 1e-6);
	}
	/* Training mode moves every running statistic. */
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, B, 1), 0);
	for (size_t k = 0; k < 3; k++)
		CU_ASSERT(a.buf[6 * k + 3] != 1);
	for (int k = 0; k < 6; k++)
		lat_layer_free(part[k]);
	gc_release(&a);
	lat_layer_free(l);
	gsl_rng_free(r);
}

static void test_resblock_lc_counts(void)
{
	lat_layer *l = lat_resblock_alloc((lat_shape){2, 4, 4}, 2, 1, 1, 0.1, EPS_BN, 1, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	/* Two lc 3x3 layers with 16 positions each, two bns, identity shortcut. */
	CU_ASSERT_EQUAL(l->n_params, 2 * (16 * 2 * 2 * 9) + 2 * 4);
	CU_ASSERT_EQUAL(l->n_buffers, 2 * 4);
	lat_layer_free(l);
	/* lc = 2: the 1x1 projection is locally connected too (4 positions of 3x2 weights). */
	l = lat_resblock_alloc((lat_shape){2, 4, 4}, 3, 2, 2, 0.1, EPS_BN, 1, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->n_params, 4 * 3 * 2 * 9 + 6 + 4 * 3 * 3 * 9 + 6 + 4 * 3 * 2 + 6);
	CU_ASSERT_EQUAL(l->n_buffers, 3 * 6);
	lat_layer_free(l);
}

/* backward adds into g (gradients accumulate over calls) and writes din (it does not add). */
static void accumulates(lat_layer *l, size_t batch)
{
	gsl_rng *r = rng_new();
	size_t n_in = batch * lat_shape_size(l->in), n_out = batch * lat_shape_size(l->out);
	float *x = malloc(n_in * sizeof *x), *y = malloc(n_out * sizeof *y), *dy = malloc(n_out * sizeof *dy);
	float *dx = malloc(n_in * sizeof *dx), *dx2 = malloc(n_in * sizeof *dx2), *g1 = NULL;
	gc_arrays a = {0};

	CU_ASSERT_FATAL(r && x && y && dy && dx && dx2);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	g1 = malloc((l->n_params + 1) * sizeof *g1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g1);
	fill_uniform(x, n_in, -1, 1, r);
	fill_uniform(dy, n_out, -1, 1, r);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, batch, 1), 0);
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx, batch), 0);
	memcpy(g1, a.g, l->n_params * sizeof *g1);
	for (size_t i = 0; i < n_in; i++)
		dx2[i] = 1e6f; /* garbage that a write overwrites */
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx2, batch), 0);
	CU_ASSERT(memcmp(dx, dx2, n_in * sizeof *dx) == 0);
	for (size_t k = 0; k < l->n_params; k++)
		CU_ASSERT_DOUBLE_EQUAL(a.g[k], 2 * g1[k], 1e-6 * (1 + fabs(g1[k])));
	/* din = NULL still accumulates the parameter gradients. */
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, NULL, batch), 0);
	for (size_t k = 0; k < l->n_params; k++)
		CU_ASSERT_DOUBLE_EQUAL(a.g[k], 3 * g1[k], 1e-6 * (1 + fabs(g1[k])));
	free(g1);
	free(x);
	free(y);
	free(dy);
	free(dx);
	free(dx2);
	gc_release(&a);
	gsl_rng_free(r);
}

static void test_accumulate(void)
{
	lat_layer *l[6] = {
	    lat_relu_alloc((lat_shape){2, 3, 3}, 2, NULL),
	    lat_maxpool_alloc((lat_shape){2, 4, 4}, 2, 2, NULL),
	    lat_bn_alloc((lat_shape){2, 3, 3}, 0.1, EPS_BN, 2, NULL),
	    lat_avgpool_alloc((lat_shape){2, 3, 3}, 2, NULL),
	    lat_resblock_alloc((lat_shape){2, 4, 4}, 2, 1, 0, 0.1, EPS_BN, 2, NULL),
	    lat_resblock_alloc((lat_shape){2, 5, 5}, 3, 2, 2, 0.1, EPS_BN, 2, NULL),
	};

	for (int k = 0; k < 6; k++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(l[k]);
		accumulates(l[k], 2);
		lat_layer_free(l[k]);
	}
}

/* ---- a tiny network: conv -> relu -> maxpool -> bn -> avgpool -> linear -> softmax xent ---- */

enum { NET_B = 3, NET_N = 6 };

typedef struct {
	lat_layer *l[NET_N];
	float *act[NET_N + 1];
} tiny_net;

static double tiny_loss(tiny_net *n, const int *labels, float *dlogits)
{
	for (int k = 0; k < NET_N; k++)
		n->l[k]->type->forward(n->l[k], n->act[k], n->act[k + 1], NET_B, 1);
	return xent(n->act[NET_N], labels, NET_B, 4, dlogits, NULL);
}

static const int tiny_labels[NET_B] = {3, 0, 1};

static double tiny_fd_loss(void *ctx)
{
	return tiny_loss(ctx, tiny_labels, NULL);
}

static void test_tiny_net(void)
{
	gsl_rng *r = rng_new();
	tiny_net n = {{NULL}, {NULL}};
	float *w = NULL, *g = NULL, *buf = NULL, *d[2] = {NULL, NULL};
	size_t n_params = 0, n_buffers = 0, off = 0, boff = 0, n_max = 0;
	fd_stats st = {0, 0, 0};
	int n_thr = set_threads(1);
	double l0;

	n.l[0] = lat_conv_alloc((lat_shape){1, 6, 6}, 2, 3, 1, 1, NET_B, NULL);
	n.l[1] = lat_relu_alloc((lat_shape){2, 6, 6}, NET_B, NULL);
	n.l[2] = lat_maxpool_alloc((lat_shape){2, 6, 6}, 2, NET_B, NULL);
	n.l[3] = lat_bn_alloc((lat_shape){2, 3, 3}, 0.1, EPS_BN, NET_B, NULL);
	n.l[4] = lat_avgpool_alloc((lat_shape){2, 3, 3}, NET_B, NULL);
	n.l[5] = lat_linear_alloc((lat_shape){2, 1, 1}, 4, 1, NET_B, NULL);
	for (int k = 0; k < NET_N; k++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(n.l[k]);
		n_params += n.l[k]->n_params;
		n_buffers += n.l[k]->n_buffers;
		if (lat_shape_size(n.l[k]->in) > n_max)
			n_max = lat_shape_size(n.l[k]->in);
	}
	w = calloc(n_params, sizeof *w);
	g = calloc(n_params, sizeof *g);
	buf = calloc(n_buffers, sizeof *buf);
	d[0] = calloc(NET_B * n_max, sizeof *d[0]);
	d[1] = calloc(NET_B * n_max, sizeof *d[1]);
	CU_ASSERT_FATAL(w && g && buf && d[0] && d[1]);
	for (int k = 0; k < NET_N; k++) {
		lat_layer_bind(n.l[k], w + off, g + off, buf + boff);
		n.l[k]->type->init(n.l[k], r);
		off += n.l[k]->n_params;
		boff += n.l[k]->n_buffers;
		n.act[k] = malloc(NET_B * lat_shape_size(n.l[k]->in) * sizeof *n.act[k]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(n.act[k]);
	}
	n.act[NET_N] = malloc(NET_B * 4 * sizeof *n.act[NET_N]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n.act[NET_N]);
	fill_uniform(n.act[0], NET_B * 36, -1, 1, r);
	/* Backward through every layer; d[k % 2] holds the gradient at layer k's output. */
	l0 = tiny_loss(&n, tiny_labels, d[(NET_N - 1) % 2]);
	for (int k = NET_N - 1; k >= 0; k--)
		n.l[k]->type->backward(n.l[k], n.act[k], n.act[k + 1], d[k % 2], k ? d[(k + 1) % 2] : NULL,
				       NET_B);
	for (size_t k = 0; k < n_params; k++)
		fd_entry(w + k, g[k], tiny_fd_loss, &n, l0, FD_STEP, &st);
	set_threads(n_thr);
	CU_ASSERT(fd_ok(&st));
	if (getenv("FD_VERBOSE") || !fd_ok(&st))
		fprintf(stderr, "tiny network: error %g, %zu of %zu skipped\n", st.worst, st.n_skip, st.n);
	for (int k = 0; k < NET_N; k++) {
		lat_layer_free(n.l[k]);
		free(n.act[k]);
	}
	free(n.act[NET_N]);
	free(w);
	free(g);
	free(buf);
	free(d[0]);
	free(d[1]);
	gsl_rng_free(r);
}

/* ---- threads ---- */

/* One forward and backward of l with n_thr threads from fixed data; y, dx and g receive the results. */
static void run_with(lat_layer *l, int n_thr, size_t batch, float *y, float *dx, float *g)
{
	gsl_rng *r = rng_new();
	size_t n_in = batch * lat_shape_size(l->in), n_out = batch * lat_shape_size(l->out);
	float *x = malloc(n_in * sizeof *x), *dy = malloc(n_out * sizeof *dy);
	gc_arrays a = {0};
	int old = set_threads(n_thr);

	CU_ASSERT_FATAL(r && x && dy);
	CU_ASSERT_EQUAL_FATAL(gc_bind(l, r, &a), 0);
	fill_uniform(x, n_in, -1, 1, r);
	fill_uniform(dy, n_out, -1, 1, r);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, batch, 1), 0);
	CU_ASSERT_EQUAL(l->type->backward(l, x, y, dy, dx, batch), 0);
	memcpy(g, a.g, l->n_params * sizeof *g);
	set_threads(old);
	gc_release(&a);
	free(x);
	free(dy);
	gsl_rng_free(r);
}

/* Results do not depend on the number of threads; the sizes exceed PAR_MIN so that every layer here
 * (and the lc and conv layers inside the blocks) runs its parallel path. */
static void test_threads(void)
{
	enum { B = 8 };
	lat_layer *l[5] = {
	    lat_relu_alloc((lat_shape){16, 32, 32}, B, NULL),
	    lat_maxpool_alloc((lat_shape){16, 32, 32}, 2, B, NULL),
	    lat_bn_alloc((lat_shape){16, 32, 32}, 0.1, EPS_BN, B, NULL),
	    lat_avgpool_alloc((lat_shape){16, 32, 32}, B, NULL),
	    lat_resblock_alloc((lat_shape){4, 8, 8}, 6, 2, 1, 0.1, EPS_BN, B, NULL),
	};

	for (int k = 0; k < 5; k++) {
		size_t n_in = B * lat_shape_size(l[k]->in), n_out = B * lat_shape_size(l[k]->out);
		float *y[2], *dx[2], *g[2];
		CU_ASSERT_PTR_NOT_NULL_FATAL(l[k]);
		for (int t = 0; t < 2; t++) {
			y[t] = malloc(n_out * sizeof *y[t]);
			dx[t] = malloc(n_in * sizeof *dx[t]);
			g[t] = malloc((l[k]->n_params + 1) * sizeof *g[t]);
			CU_ASSERT_FATAL(y[t] && dx[t] && g[t]);
			run_with(l[k], t ? 3 : 1, B, y[t], dx[t], g[t]);
		}
		CU_ASSERT(memcmp(y[0], y[1], n_out * sizeof *y[0]) == 0);
		CU_ASSERT(memcmp(dx[0], dx[1], n_in * sizeof *dx[0]) == 0);
		CU_ASSERT(memcmp(g[0], g[1], l[k]->n_params * sizeof *g[0]) == 0);
		for (int t = 0; t < 2; t++) {
			free(y[t]);
			free(dx[t]);
			free(g[t]);
		}
		lat_layer_free(l[k]);
	}
}

/* ---- error paths ---- */

static void test_errors(void)
{
	char err[LAT_ERRLEN] = "";
	float x[4] = {1, 2, 3, 4}, y[4];
	lat_layer *l;

	lat_layer_free(NULL);
	CU_ASSERT_PTR_NULL(lat_maxpool_alloc((lat_shape){1, 4, 4}, 5, 1, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "window"));
	CU_ASSERT_PTR_NULL(lat_maxpool_alloc((lat_shape){1, 8, 4}, 5, 1, NULL)); /* too wide */
	CU_ASSERT_PTR_NULL(lat_maxpool_alloc((lat_shape){1, 4, 4}, 0, 1, NULL));
	err[0] = '\0';
	CU_ASSERT_PTR_NULL(lat_bn_alloc((lat_shape){1, 2, 2}, 0.1, 0, 1, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "eps"));
	CU_ASSERT_PTR_NULL(lat_bn_alloc((lat_shape){1, 2, 2}, 0.1, -1e-5, 1, NULL));
	CU_ASSERT_PTR_NULL(lat_bn_alloc((lat_shape){1, 2, 2}, 0.1, NAN, 1, NULL));
	CU_ASSERT_PTR_NULL(lat_bn_alloc((lat_shape){1, 2, 2}, 1.5, EPS_BN, 1, NULL));
	CU_ASSERT_PTR_NULL(lat_relu_alloc((lat_shape){0, 2, 2}, 1, NULL));
	CU_ASSERT_PTR_NULL(lat_avgpool_alloc((lat_shape){1, 2, 2}, 0, NULL));
	CU_ASSERT_PTR_NULL(lat_resblock_alloc((lat_shape){2, 4, 4}, 2, 1, 3, 0.1, EPS_BN, 1, NULL));
	CU_ASSERT_PTR_NULL(lat_resblock_alloc((lat_shape){2, 4, 4}, 0, 1, 0, 0.1, EPS_BN, 1, NULL));
	err[0] = '\0';
	CU_ASSERT_PTR_NULL(lat_resblock_alloc((lat_shape){2, 4, 4}, 2, 1, 0, 0.1, 0, 1, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "eps")); /* from the sub-layer; nothing leaks (ASan) */
	/* More samples than max_batch. */
	l = lat_relu_alloc((lat_shape){1, 1, 2}, 1, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(l->type->forward(l, x, y, 2, 1), LAT_EINVAL);
	lat_layer_free(l);
	/* Training bn needs two values per channel for the unbiased variance. */
	l = lat_bn_alloc((lat_shape){2, 1, 1}, 0.1, EPS_BN, 2, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	{
		float w[4] = {1, 1, 0, 0}, gr[4], buf[4] = {0, 0, 1, 1};
		lat_layer_bind(l, w, gr, buf);
		CU_ASSERT_EQUAL(l->type->forward(l, x, y, 1, 1), LAT_EINVAL);
		CU_ASSERT_EQUAL(l->type->forward(l, x, y, 1, 0), 0);
		CU_ASSERT_EQUAL(l->type->forward(l, x, y, 2, 1), 0);
	}
	lat_layer_free(l);
}

static CU_TestInfo tests[] = {
    {"relu: values and backward", test_relu_values},
    {"relu: finite-difference gradient", test_relu_grad},
    {"maxpool: 2x2 on 4x4 by hand, ties to the first maximum", test_maxpool_values},
    {"maxpool: finite-difference gradient (k = 2, 3)", test_maxpool_grad},
    {"bn: training output has mean 0, variance 1 per channel", test_bn_normalises},
    {"bn: running statistics by hand, eval forward and backward", test_bn_running},
    {"bn: finite-difference gradient through batch statistics", test_bn_grad},
    {"avgpool: values and finite-difference gradient", test_avgpool},
    {"softmax xent: known logits, stability, n_correct and ties", test_xent_values},
    {"softmax xent: finite-difference gradient", test_xent_grad},
    {"resblock: counts, binding order, equals its parts", test_resblock_parts},
    {"resblock: lc parameter counts", test_resblock_lc_counts},
    {"resblock: finite-difference gradient (conv)", test_resblock_grad_conv},
    {"resblock: finite-difference gradient (lc)", test_resblock_grad_lc},
    {"backward adds parameter gradients, writes din", test_accumulate},
    {"tiny network: parameter gradients of the loss", test_tiny_net},
    {"threads: 1 and 3 threads give identical results", test_threads},
    {"errors: bad shapes and options, free(NULL), batch limits", test_errors},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "layers", .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}

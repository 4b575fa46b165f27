/* test_gemm.c: lat_gemm and lat_gemm_gather against products summed in double. Built twice: against the
 * library (the AVX-512 kernel where the processor has it) and as test_gemm_blas, with gemm.c compiled in
 * without the kernel (LAT_NO_NATIVE_GEMM), so the OpenBLAS path is checked on every machine. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_rng.h>

#include "gemm.h"
#include "runner.h"

#define SEED 20261202UL
#include "rng.h" /* uses SEED */

/* The path this build must take: the kernel exactly where the processor has AVX-512F. */
static int expect_native(void)
{
#if defined(LAT_NO_NATIVE_GEMM) || !defined(__x86_64__) || !defined(__GNUC__)
	return 0;
#else
	return __builtin_cpu_supports("avx512f") != 0;
#endif
}


/* C (m x n, ldc) after one product against the same product summed in double from c0 (C before):
 * every element within a bound of float rounding (k + 2 roundings of terms at most sum |a| |b| +
 * |beta c|; NaN, an element not written, fails) and C's other columns (ldc > n) untouched. */
static void compare_gemm(const char *what, int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda,
			 const float *b, size_t ldb, float beta, const float *c0, const float *c, size_t ldc)
{
	double worst = 0;
	size_t bad_pad = 0;

	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			double sum = beta == 0 ? 0 : (double)beta * c0[i * ldc + j], mag = fabs(sum), e;
			for (size_t p = 0; p < k; p++) {
				double t = (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
					   (tb ? b[j * ldb + p] : b[p * ldb + j]);
				sum += t;
				mag += fabs(t);
			}
			e = fabs(c[i * ldc + j] - sum) / ((double)(k + 2) * FLT_EPSILON * mag + 1e-30);
			worst = isnan(e) ? INFINITY : fmax(worst, e);
		}
		for (size_t j = n; j < ldc; j++)
			bad_pad += memcmp(&c[i * ldc + j], &c0[i * ldc + j], sizeof *c) != 0;
	}
	if (!(worst <= 1))
		fprintf(stderr, "%s %c%c %zu x %zu x %zu beta %g: error %g of the bound\n", what, ta ? 'T' : 'N',
			tb ? 'T' : 'N', m, n, k, beta, worst);
	CU_ASSERT(worst <= 1);
	CU_ASSERT_EQUAL(bad_pad, 0);
}

/* A, and C (with ldc = n + 5) for one product; with beta = 0, C's m x n elements are NaN (never read). */
static void gemm_operands(int ta, size_t m, size_t n, size_t k, float beta, float **a, size_t *lda, float **c,
			  float **c0)
{
	*lda = (ta ? m : k) + 3;
	*a = random_floats((ta ? k : m) * *lda);
	*c = random_floats(m * (n + 5));
	*c0 = malloc((m * (n + 5) > 0 ? m * (n + 5) : 1) * sizeof **c0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*c0);
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n && beta == 0; j++)
			(*c)[i * (n + 5) + j] = NAN;
	memcpy(*c0, *c, m * (n + 5) * sizeof **c);
}

static void check_gemm(int ta, int tb, size_t m, size_t n, size_t k, float beta)
{
	size_t lda, ldb = (tb ? k : n) + 2;
	float *a, *c, *c0, *b = random_floats((tb ? n : k) * ldb), *ws = malloc(lat_gemm_ws_floats() * sizeof *ws);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
	gemm_operands(ta, m, n, k, beta, &a, &lda, &c, &c0);
	lat_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, n + 5, ws);
	compare_gemm("lat_gemm", ta, tb, m, n, k, a, lda, b, ldb, beta, c0, c, n + 5);
	free(a);
	free(b);
	free(c);
	free(c0);
	free(ws);
}

/* lat_gemm_gather with B[p][j] = x[rows[p] + cols[j]] against B formed whole. cols by kind: 0, runs of
 * 7 consecutive offsets (a conv output row: loaded by runs); 1, random (gathered); 2, runs of 2 (more
 * runs per vector than loads pay for); 3, offsets below their lane (cols[j] = j / 2). */
static void check_gather(int ta, size_t m, size_t n, size_t k, float beta, int kind)
{
	size_t lda, nx = 4 * (n + k) + 64;
	float *a, *c, *c0, *x = random_floats(nx), *b = malloc((k * n > 0 ? k * n : 1) * sizeof *b);
	float *ws = malloc(lat_gemm_ws_floats() * sizeof *ws);
	int32_t *rows = malloc((k ? k : 1) * sizeof *rows), *cols = malloc((n ? n : 1) * sizeof *cols);

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cols);
	for (size_t p = 0; p < k; p++)
		rows[p] = (int32_t)gsl_rng_uniform_int(rng, 2 * (n + k));
	for (size_t j = 0; j < n; j++)
		cols[j] = (int32_t)(kind == 0	? j / 7 * 10 + j % 7
				    : kind == 1 ? gsl_rng_uniform_int(rng, 2 * (n + k))
				    : kind == 2 ? j / 2 * 3 + j % 2
						: j / 2);
	for (size_t p = 0; p < k; p++)
		for (size_t j = 0; j < n; j++)
			b[p * n + j] = x[rows[p] + cols[j]];
	gemm_operands(ta, m, n, k, beta, &a, &lda, &c, &c0);
	lat_gemm_gather(ta, m, n, k, a, lda, x, rows, cols, beta, c, n + 5, ws);
	compare_gemm("lat_gemm_gather", ta, 0, m, n, k, a, lda, b, n, beta, c0, c, n + 5);
	free(a);
	free(b);
	free(c);
	free(c0);
	free(x);
	free(ws);
	free(rows);
	free(cols);
}

/* Every transposition, with sizes off the kernel's tile (8 x 32, 16 and 16 x 16 blocks), k over
 * several blocks (256) and n over several (512): the conv layer's three products and edge cases. */
static void test_gemm(void)
{
	static const size_t shapes[][3] = {{64, 196, 800}, {64, 800, 196}, {800, 196, 64}, {1, 1, 1},
					   {7, 17, 3},	   {9, 33, 257},   {17, 15, 513},  {33, 49, 31},
					   {16, 16, 16},   {5, 600, 2},	   {3, 1100, 40}};

	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		for (int t = 0; t < 4; t++) {
			float beta = (float)(t % 3) * 0.5f;
			check_gemm(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], beta);
			check_gather(t & 1, shapes[s][0], shapes[s][1], shapes[s][2], beta, t);
		}
	}
	check_gemm(0, 0, 6, 5, 0, 0);
	check_gemm(1, 0, 6, 5, 0, 0.5f);
	check_gather(0, 6, 5, 0, 0, 0);
	fprintf(stderr, "lat_gemm: %s\n", lat_gemm_native() ? "AVX-512 kernel" : "OpenBLAS");
	CU_ASSERT_EQUAL(lat_gemm_native(), expect_native());
}

static CU_TestInfo tests[] = {
    {"lat_gemm and lat_gemm_gather against the product summed in double", test_gemm},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "gemm", .pInitFunc = suite_init, .pCleanupFunc = suite_clean, .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	openblas_set_num_threads(1);
	return test_run(suites);
}

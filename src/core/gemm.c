/* gemm.c: C = op(A) op(B) + beta C in float for the conv layer: a packed-panel AVX-512 kernel, OpenBLAS elsewhere. */
#include <config.h>

#include <stddef.h>
#include <stdint.h>

#include <cblas.h>

#include "gemm.h"

/* The blocking of the packed path (Goto's): B is packed in blocks of KC x NC, A in blocks of MC x KC;
 * a micro-panel of B (KC x NR, 32 KiB) stays in L1 while the MR-row panels of A stream past it, and
 * the kernel keeps an MR x NR tile of C in 16 vector registers. */
#define MR 8
#define NR 32
#define KC 256
#define MC 128
#define NC 512

size_t lat_gemm_ws_floats(void)
{
	return (size_t)KC * NC + (size_t)MC * KC;
}

static void gemm_blas(int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
		      size_t ldb, float beta, float *c, size_t ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
		    (int)k, 1, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* C = beta C (0 where beta = 0, never reading C): the whole product when k = 0. */
static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++)
			c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
}

/* Where op(B) comes from: a matrix (b, ldb, transposed when tb), or, when x is set, the gathered
 * B[p][j] = x[rows[p] + cols[j]]. */
typedef struct {
	int tb;
	const float *b;
	size_t ldb;
	const float *x;
	const int32_t *rows, *cols;
} bsrc;

/* The OpenBLAS path of a gathered B: each KC x NC block of B is formed in ws and multiplied there. */
static void gather_blas(int ta, size_t m, size_t n, size_t k, const float *a, size_t lda, const bsrc *bs,
			float beta, float *c, size_t ldc, float *ws)
{
	if (k == 0) {
		scale_c(m, n, beta, c, ldc);
		return;
	}
	for (size_t jc = 0; jc < n; jc += NC) {
		size_t nc = n - jc < NC ? n - jc : NC;
		for (size_t pc = 0; pc < k; pc += KC) {
			size_t kc = k - pc < KC ? k - pc : KC;
			for (size_t p = 0; p < kc; p++)
				for (size_t j = 0; j < nc; j++)
					ws[p * nc + j] = bs->x[bs->rows[pc + p] + bs->cols[jc + j]];
			gemm_blas(ta, 0, m, nc, kc, ta ? a + pc * lda : a + pc, lda, ws, nc, pc ? 1 : beta, c + jc, ldc);
		}
	}
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(LAT_NO_NATIVE_GEMM)
#define LAT_GEMM_KERNEL 1
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

int lat_gemm_native(void)
{
	return __builtin_cpu_supports("avx512f") != 0;
}

/* The mask of the first n lanes of a vector of 16 (all of them for n >= 16). */
static inline __mmask16 lanes(size_t n)
{
	return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* t[j][i] = s[i][j] for the 16 x 16 block of rows s[i] = src + i ld, of which the first rows rows and
 * cols columns are read; the rest of the block is 0. */
AVX512 static void transpose16(const float *src, size_t ld, size_t rows, size_t cols, __m512 t[16])
{
	__mmask16 mk = lanes(cols);
	__m512 r[16], u[16];

	for (size_t i = 0; i < 16; i++)
		r[i] = i < rows ? _mm512_maskz_loadu_ps(mk, src + i * ld) : _mm512_setzero_ps();
	/* pairs of rows interleaved, then pairs of pairs: u[4 g + m] holds columns m, m + 4, m + 8, m + 12
	 * of rows 4 g .. 4 g + 3, one column per 128-bit lane */
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int g = 0; g < 4; g++) {
		__m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
		__m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
		u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
		u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
		u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
		u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
	}
	/* then the lanes: 0x88 takes lanes 0 and 2 of each operand, 0xDD lanes 1 and 3 */
	for (int m = 0; m < 4; m++) {
		__m512 v = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), w = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
		__m512 v2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
		__m512 w2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
		t[m] = _mm512_shuffle_f32x4(v, v2, 0x88);
		t[m + 8] = _mm512_shuffle_f32x4(v, v2, 0xDD);
		t[m + 4] = _mm512_shuffle_f32x4(w, w2, 0x88);
		t[m + 12] = _mm512_shuffle_f32x4(w, w2, 0xDD);
	}
}

/* ap[(r / MR) kc MR + p MR + r % MR] = op(A)[i0 + r][p0 + p] for r < mc, p < kc; the rows of the last
 * panel past mc are 0. */
AVX512 static void pack_a(int ta, const float *a, size_t lda, size_t i0, size_t p0, size_t mc, size_t kc,
			  float *ap)
{
	if (ta) {
		for (size_t r0 = 0; r0 < mc; r0 += MR, ap += kc * MR) {
			size_t mr = mc - r0 < MR ? mc - r0 : MR;
			__mmask16 mk = lanes(mr);
			for (size_t p = 0; p < kc; p++)
				_mm256_storeu_ps(ap + p * MR, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(
								      mk, a + (p0 + p) * lda + i0 + r0)));
		}
		return;
	}
	/* two panels (16 rows) at a time, transposed in blocks of 16 x 16 */
	for (size_t r0 = 0; r0 < mc; r0 += 2 * MR, ap += 2 * kc * MR) {
		size_t rows = mc - r0 < 2 * MR ? mc - r0 : 2 * MR;
		for (size_t p = 0; p < kc; p += 16) {
			size_t cols = kc - p < 16 ? kc - p : 16;
			__m512 t[16];
			transpose16(a + (i0 + r0) * lda + p0 + p, lda, rows, cols, t);
			for (size_t q = 0; q < cols; q++) {
				_mm256_storeu_ps(ap + (p + q) * MR, _mm512_castps512_ps256(t[q]));
				if (rows > MR)
					_mm256_storeu_ps(ap + kc * MR + (p + q) * MR,
							 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t[q]), 1)));
			}
		}
	}
}

/* One vector (16 lanes) of a gathered panel: lane l of row p is x[rows[p] + cols[l]], lanes l >= n are 0.
 * Where cols runs through consecutive offsets (a conv's output row, a kernel row), a run of lanes is one
 * masked load; with more than RUNS_MAX runs, or offsets that would put a load's base before x, it is
 * one gather. */
#define RUNS_MAX 4

AVX512 static void pack_gather16(const bsrc *bs, size_t p0, const int32_t *cols, size_t n, size_t kc, float *bp)
{
	__mmask16 mk[RUNS_MAX], all = lanes(n);
	int32_t base[RUNS_MAX];
	int runs = 0;

	for (size_t l = 0, e; l < n && runs <= RUNS_MAX; l = e) {
		for (e = l + 1; e < n && cols[e] == cols[e - 1] + 1; e++)
			;
		if (runs == RUNS_MAX || cols[l] < (int32_t)l) {
			runs = RUNS_MAX + 1;
			break;
		}
		mk[runs] = (__mmask16)(lanes(e) & ~lanes(l));
		base[runs++] = cols[l] - (int32_t)l;
	}
	if (runs > RUNS_MAX) {
		__m512i idx = _mm512_maskz_loadu_epi32(all, cols);
		for (size_t p = 0; p < kc; p++)
			_mm512_storeu_ps(bp + p * NR, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), all, idx,
										 bs->x + bs->rows[p0 + p], 4));
		return;
	}
	for (size_t p = 0; p < kc; p++) {
		const float *row = bs->x + bs->rows[p0 + p];
		__m512 v = _mm512_setzero_ps();
		for (int r = 0; r < runs; r++)
			v = _mm512_mask_loadu_ps(v, mk[r], row + base[r]);
		_mm512_storeu_ps(bp + p * NR, v);
	}
}

/* A gathered panel: bp[p NR + j] = x[rows[p0 + p] + cols[j0 + j]] for p < kc, j < nr, 0 for j >= nr. */
AVX512 static void pack_gather(const bsrc *bs, size_t p0, size_t j0, size_t kc, size_t nr, float *bp)
{
	pack_gather16(bs, p0, bs->cols + j0, nr < 16 ? nr : 16, kc, bp);
	pack_gather16(bs, p0, bs->cols + j0 + 16, nr > 16 ? nr - 16 : 0, kc, bp + 16);
}

/* bp[(j / NR) kc NR + p NR + j % NR] = op(B)[p0 + p][j0 + j] for p < kc, j < nc; the columns of the last
 * panel past nc are 0. */
AVX512 static void pack_b(const bsrc *bs, size_t p0, size_t j0, size_t kc, size_t nc, float *bp)
{
	const float *b = bs->b;
	size_t ldb = bs->ldb;

	for (size_t c0 = 0; c0 < nc; c0 += NR, bp += kc * NR) {
		size_t nr = nc - c0 < NR ? nc - c0 : NR;
		if (bs->x) {
			pack_gather(bs, p0, j0 + c0, kc, nr, bp);
			continue;
		}
		if (!bs->tb) {
			__mmask16 m0 = lanes(nr), m1 = lanes(nr > 16 ? nr - 16 : 0);
			for (size_t p = 0; p < kc; p++) {
				const float *src = b + (p0 + p) * ldb + j0 + c0;
				_mm512_storeu_ps(bp + p * NR, _mm512_maskz_loadu_ps(m0, src));
				_mm512_storeu_ps(bp + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
			}
			continue;
		}
		for (size_t h = 0; h < NR; h += 16) {
			size_t rows = nr > h ? (nr - h < 16 ? nr - h : 16) : 0;
			for (size_t p = 0; p < kc; p += 16) {
				size_t cols = kc - p < 16 ? kc - p : 16;
				__m512 t[16];
				transpose16(b + (j0 + c0 + h) * ldb + p0 + p, ldb, rows, cols, t);
				for (size_t q = 0; q < cols; q++)
					_mm512_storeu_ps(bp + (p + q) * NR + h, t[q]);
			}
		}
	}
}

/* The mr x nr tile at c = beta c + (A panel) (B panel) over kc, with nv vectors of 16 columns (nv = 1
 * when nr <= 16). Each element is one chain of fused multiply-adds in the order of p, then one add. */
AVX512 static inline __attribute__((always_inline)) void kernel(size_t kc, const float *restrict ap,
								 const float *restrict bp, float *c, size_t ldc,
								 size_t mr, size_t nr, float beta, const int nv)
{
	__m512 acc[MR][2];
	__mmask16 m0 = lanes(nr), m1 = lanes(nr > 16 ? nr - 16 : 0);

#pragma GCC unroll 16
	for (int r = 0; r < MR; r++)
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
	for (size_t p = 0; p < kc; p++, ap += MR, bp += NR) {
		__m512 b0 = _mm512_loadu_ps(bp), b1 = nv > 1 ? _mm512_loadu_ps(bp + 16) : b0;
#pragma GCC unroll 16
		for (int r = 0; r < MR; r++) {
			__m512 av = _mm512_set1_ps(ap[r]);
			acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
			if (nv > 1)
				acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
		}
	}
#pragma GCC unroll 16
	for (int r = 0; r < MR; r++) {
		float *cr = c + (size_t)r * ldc;
		if ((size_t)r >= mr)
			break;
		if (beta != 0) {
			__m512 bv = _mm512_set1_ps(beta);
			acc[r][0] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m0, cr), acc[r][0]);
			if (nv > 1)
				acc[r][1] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m1, cr + 16), acc[r][1]);
		}
		_mm512_mask_storeu_ps(cr, m0, acc[r][0]);
		if (nv > 1)
			_mm512_mask_storeu_ps(cr + 16, m1, acc[r][1]);
	}
}

AVX512 static void kernel_wide(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t mr,
			       size_t nr, float beta)
{
	kernel(kc, ap, bp, c, ldc, mr, nr, beta, 2);
}

AVX512 static void kernel_narrow(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t mr,
				 size_t nr, float beta)
{
	kernel(kc, ap, bp, c, ldc, mr, nr, beta, 1);
}

/* The packed path. The k blocks add to C in order, so an element's sum is the same for any m and n. */
static void gemm_packed(int ta, size_t m, size_t n, size_t k, const float *a, size_t lda, const bsrc *bs,
			float beta, float *c, size_t ldc, float *ws)
{
	float *bpk = ws, *apk = ws + (size_t)KC * NC;
	size_t kb, kb_len;

	if (k == 0) {
		scale_c(m, n, beta, c, ldc);
		return;
	}
	kb = (k + KC - 1) / KC;
	kb_len = (k + kb - 1) / kb; /* k in kb blocks of equal length */
	for (size_t jc = 0; jc < n; jc += NC) {
		size_t nc = n - jc < NC ? n - jc : NC;
		for (size_t pc = 0; pc < k; pc += kb_len) {
			size_t kc = k - pc < kb_len ? k - pc : kb_len;
			float bt = pc ? 1 : beta;
			pack_b(bs, pc, jc, kc, nc, bpk);
			for (size_t ic = 0; ic < m; ic += MC) {
				size_t mc = m - ic < MC ? m - ic : MC;
				pack_a(ta, a, lda, ic, pc, mc, kc, apk);
				for (size_t jr = 0; jr < nc; jr += NR) {
					size_t nr = nc - jr < NR ? nc - jr : NR;
					const float *bp = bpk + (jr / NR) * kc * NR;
					for (size_t ir = 0; ir < mc; ir += MR) {
						size_t mr = mc - ir < MR ? mc - ir : MR;
						float *cc = c + (ic + ir) * ldc + jc + jr;
						if (nr > 16)
							kernel_wide(kc, apk + (ir / MR) * kc * MR, bp, cc, ldc, mr, nr, bt);
						else
							kernel_narrow(kc, apk + (ir / MR) * kc * MR, bp, cc, ldc, mr, nr, bt);
					}
				}
			}
		}
	}
}

#else

int lat_gemm_native(void)
{
	return 0;
}

#endif

void lat_gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
	      size_t ldb, float beta, float *c, size_t ldc, float *ws)
{
#ifdef LAT_GEMM_KERNEL
	bsrc bs = {.tb = tb, .b = b, .ldb = ldb};

	if (lat_gemm_native()) {
		gemm_packed(ta, m, n, k, a, lda, &bs, beta, c, ldc, ws);
		return;
	}
#else
	(void)ws;
#endif
	gemm_blas(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void lat_gemm_gather(int ta, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *x,
		     const int32_t *rows, const int32_t *cols, float beta, float *c, size_t ldc, float *ws)
{
	bsrc bs = {.x = x, .rows = rows, .cols = cols};

#ifdef LAT_GEMM_KERNEL
	if (lat_gemm_native()) {
		gemm_packed(ta, m, n, k, a, lda, &bs, beta, c, ldc, ws);
		return;
	}
#endif
	gather_blas(ta, m, n, k, a, lda, &bs, beta, c, ldc, ws);
}

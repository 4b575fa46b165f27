/* gemm.h: the conv layer's single-precision matrix product (internal). */
#ifndef LATERAL_GEMM_H
#define LATERAL_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Floats of workspace one lat_gemm call needs, whatever its sizes. */
size_t lat_gemm_ws_floats(void);

/* C = op(A) op(B) + beta C, row-major: op(A) is m x k (A itself, lda per row, or A^T when ta), op(B)
 * k x n (likewise with tb), C m x n with ldc. beta = 0 never reads C (it may hold NaN). Borrows a, b
 * and ws (lat_gemm_ws_floats() floats, any alignment, overwritten); writes only C's m x n elements.
 * On a processor with AVX-512 a packed-panel kernel of this file runs, elsewhere OpenBLAS's
 * cblas_sgemm: the sums are ordered differently, so the two agree to rounding, not bit for bit. Each
 * path's result depends only on its inputs (no threads inside), and every dimension and leading
 * dimension must fit an int. */
void lat_gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
	      size_t ldb, float beta, float *c, size_t ldc, float *ws);

/* C = op(A) B + beta C with B gathered: B[p][j] = x[rows[p] + cols[j]] for p < k, j < n (an implicit
 * im2col: B is never formed whole). Borrows x, rows (k offsets) and cols (n offsets), which must index
 * inside x; otherwise as lat_gemm, of which it has the two paths (the OpenBLAS one forms B block by
 * block in ws). */
void lat_gemm_gather(int ta, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *x,
		     const int32_t *rows, const int32_t *cols, float beta, float *c, size_t ldc, float *ws);

/* 1 when lat_gemm runs this file's AVX-512 kernel on this processor, 0 when it calls OpenBLAS. */
int lat_gemm_native(void);

#endif

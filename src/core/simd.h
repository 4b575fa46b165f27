/* simd.h: vectorisation hints shared by the core's hot loops, and one small reduction (internal). */
#ifndef LATERAL_SIMD_H
#define LATERAL_SIMD_H

/* OpenMP simd loops, with and without a sum s or a maximum m (reductions in any order). */
#ifdef _OPENMP
#define LAT_SIMD _Pragma("omp simd")
#define LAT_SIMD_SUM_S _Pragma("omp simd reduction(+ : s)")
#define LAT_SIMD_MAX_M _Pragma("omp simd reduction(max : m)")
#else
#define LAT_SIMD
#define LAT_SIMD_SUM_S
#define LAT_SIMD_MAX_M
#endif

#include <math.h>
#include <stddef.h>

/* max_i |v_i|, NaN if any v_i is NaN (0 for n = 0). Four running maxima (no chain of one comparison
 * after another) and a sum of v_i * 0, which is 0 unless some v_i is infinite or NaN; only then does a
 * scalar loop decide. */
static inline double lat_max_abs_nan(const double *v, size_t n)
{
	double m0 = 0, m1 = 0, m2 = 0, m3 = 0, s = 0;
	size_t i, n4 = n - n % 4;

	for (i = 0; i < n4; i += 4) {
		double a0 = fabs(v[i]), a1 = fabs(v[i + 1]), a2 = fabs(v[i + 2]), a3 = fabs(v[i + 3]);
		m0 = a0 > m0 ? a0 : m0;
		m1 = a1 > m1 ? a1 : m1;
		m2 = a2 > m2 ? a2 : m2;
		m3 = a3 > m3 ? a3 : m3;
		s += (v[i] * 0 + v[i + 1] * 0) + (v[i + 2] * 0 + v[i + 3] * 0);
	}
	for (; i < n; i++) {
		double a = fabs(v[i]);
		m0 = a > m0 ? a : m0;
		s += v[i] * 0;
	}
	if (s != 0) {
		m0 = 0;
		for (i = 0; i < n; i++) {
			double a = fabs(v[i]);
			if (isnan(a))
				return a;
			m0 = a > m0 ? a : m0;
		}
		return m0;
	}
	m0 = m1 > m0 ? m1 : m0;
	m2 = m3 > m2 ? m3 : m2;
	return m2 > m0 ? m2 : m0;
}

/* On x86-64 a function marked LAT_CLONES is also built for AVX2 and chosen when the program starts
 * (GCC's target_clones): four doubles per instruction instead of two. Each element's arithmetic is the
 * same expression in both builds (ISO C mode contracts no multiply-add), so results are bit-identical
 * as long as the function's own order of operations does not depend on the vector width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LAT_NO_CLONES)
#define LAT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LAT_CLONES
#endif

#endif

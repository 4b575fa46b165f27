/* simd.h: vectorisation hints shared by the core's hot loops (internal). */
#ifndef LATERAL_SIMD_H
#define LATERAL_SIMD_H

/* OpenMP simd loops, with and without a sum s (a reduction in any order). */
#ifdef _OPENMP
#define LAT_SIMD _Pragma("omp simd")
#define LAT_SIMD_SUM_S _Pragma("omp simd reduction(+ : s)")
#else
#define LAT_SIMD
#define LAT_SIMD_SUM_S
#endif

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

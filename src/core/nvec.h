/* nvec.h: compiled-with-our-flags serial N_Vector kernels for CVODE (internal, not installed). */
#ifndef LATERAL_NVEC_H
#define LATERAL_NVEC_H

#include <sundials/sundials_nvector.h>

/* Replaces the arithmetic operations of serial vector v (and of every vector later cloned from it,
 * since N_VClone copies the ops table) with this module's loops, and enables the fused and
 * vector-array operations. Each replacement computes the same floating-point operations in the same
 * order as the SUNDIALS 6.x serial implementation (and as the generic fallbacks used when a fused op is
 * NULL), so results are bit-identical; only the per-element overhead of Debian's unoptimised build goes.
 * Borrows v. Returns 0, or LAT_EINVAL if v is NULL or not a SUNDIALS_NVEC_SERIAL vector. */
int lat_nvec_install(N_Vector v);

#endif

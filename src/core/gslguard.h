/* gslguard.h: GSL's error handler kept off while the library calls GSL (internal).
 *
 * GSL reports errors (a matrix that is not positive definite, an allocation that fails, a step size that
 * underflows) through a process-wide handler whose default calls abort(). The library never lets that
 * happen to its host: every call that can report goes between lat_gsl_enter and lat_gsl_leave, which
 * switch the handler off for the time of the call (nested and concurrent uses are counted under a mutex;
 * the host's own handler is back once the last one leaves) so that the call returns its error code, which
 * the library turns into its own. While a library call is inside, a host thread's GSL errors are not
 * reported through its handler either. */
#ifndef LATERAL_GSLGUARD_H
#define LATERAL_GSLGUARD_H

#include <gsl/gsl_rng.h>

void lat_gsl_enter(void);
void lat_gsl_leave(void);

/* gsl_rng_alloc(gsl_rng_mt19937) under the guard: NULL when out of memory. */
gsl_rng *lat_gsl_rng_alloc(void);

#endif

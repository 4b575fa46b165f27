/* gslguard.c: GSL's error handler switched off around the library's GSL calls (see gslguard.h). */
#include <config.h>

#include <pthread.h>

#include <gsl/gsl_errno.h>

#include "gslguard.h"

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long guard_depth;
static gsl_error_handler_t *host_handler;

void lat_gsl_enter(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_depth++ == 0)
		host_handler = gsl_set_error_handler_off();
	pthread_mutex_unlock(&guard_lock);
}

void lat_gsl_leave(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_depth && --guard_depth == 0)
		gsl_set_error_handler(host_handler);
	pthread_mutex_unlock(&guard_lock);
}

gsl_rng *lat_gsl_rng_alloc(void)
{
	gsl_rng *r;

	lat_gsl_enter();
	r = gsl_rng_alloc(gsl_rng_mt19937);
	lat_gsl_leave();
	return r;
}

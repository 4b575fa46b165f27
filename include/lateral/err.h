/* err.h: status codes and error-message buffers shared by every lateral module. */
#ifndef LATERAL_ERR_H
#define LATERAL_ERR_H

#include <stddef.h>

/* Thread safety: reentrant: messages go to the caller's buffer, lat_strerror returns static strings. */

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: 0 is success, every failure is negative (SUNDIALS' sign, GSL's model). */
enum {
	LAT_OK = 0,
	LAT_ENOMEM = -1,     /* allocation failed or a size would overflow */
	LAT_EINVAL = -2,     /* invalid argument or parameter combination */
	LAT_EIO = -3,        /* file could not be read or written */
	LAT_ECONFIG = -4,    /* model file or override is malformed */
	LAT_ESOLVER = -5,    /* the ODE solver reported a failure */
	LAT_ENOTSTEADY = -6, /* no steady state within solver.t_max */
	LAT_EDIVERGE = -7    /* a non-finite value appeared (weights or rates blew up) */
};

/* Every function that can fail takes `char *err`: NULL, or a buffer of at least LAT_ERRLEN bytes
 * that receives a one-line message (no trailing newline) such as "models/x.cfg:12: circuit.tau: must be > 0". */
#define LAT_ERRLEN 512

/* Returns a static, never-NULL description of a status code. */
const char *lat_strerror(int code);

/* Formats a message into err (if non-NULL, truncated to LAT_ERRLEN) and returns code, so callers can
 * write `return lat_err_set(err, LAT_EINVAL, "n must be > 0")`. */
int lat_err_set(char *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* For a failed system or stdio call (write, fsync, close, rename, open, ...): formats
 * "PATH: cannot WHAT: REASON" into err, REASON being strerror(errno) as errno was on entry (or that of
 * EIO when errno is 0), and returns LAT_EIO. Call it right after the failing call, before anything that
 * may change errno. */
int lat_err_sys(char *err, const char *path, const char *what);

#ifdef __cplusplus
}
#endif

#endif
